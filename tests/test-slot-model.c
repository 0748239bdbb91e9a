/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "tether-slot-model.h"

/* The list view's model (src/app/tether-slot-model.c): replaced records
 * go into the slots in place, and only a change of length is an
 * items-changed, at the end of the replaced range. */

typedef struct {
  GListStore      *source;
  TetherSlotModel *slots;
  GArray          *changes;   /* guint triples: position, removed, added */
} Fixture;

static TetherRecord *
note (const char *id)
{
  g_autoptr(JsonObject) data = json_object_new ();

  json_object_set_string_member (data, "id", id);
  json_object_set_string_member (data, "title", id);
  return tether_record_new ("notes", data, 1, 1);
}

static void
add_notes (GListStore *store,
           guint       position,
           const char *prefix,
           guint       n)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = g_strdup_printf ("%s%u", prefix, i);

      g_ptr_array_add (records, note (id));
    }
  g_list_store_splice (store, position, 0, records->pdata, n);
}

static void
on_changed (GListModel *model,
            guint       position,
            guint       removed,
            guint       added,
            Fixture    *f)
{
  guint triple[] = { position, removed, added };

  g_array_append_vals (f->changes, triple, 3);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->source = g_list_store_new (TETHER_TYPE_RECORD);
  add_notes (f->source, 0, "a", 5);
  f->slots = tether_slot_model_new (G_LIST_MODEL (f->source));
  f->changes = g_array_new (FALSE, FALSE, sizeof (guint));
  g_signal_connect (f->slots, "items-changed", G_CALLBACK (on_changed), f);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->slots);
  g_clear_object (&f->source);
  g_array_unref (f->changes);
}

static const char *
id_at (Fixture *f,
       guint    position)
{
  g_autoptr(TetherItemSlot) slot = g_list_model_get_item (G_LIST_MODEL (f->slots), position);

  g_assert_nonnull (slot);
  return tether_record_get_id (tether_item_slot_get_record (slot));
}

static void
assert_change (Fixture *f,
               guint    index,
               guint    position,
               guint    removed,
               guint    added)
{
  g_assert_cmpuint (f->changes->len, >, index * 3 + 2);
  g_assert_cmpuint (g_array_index (f->changes, guint, index * 3), ==, position);
  g_assert_cmpuint (g_array_index (f->changes, guint, index * 3 + 1), ==, removed);
  g_assert_cmpuint (g_array_index (f->changes, guint, index * 3 + 2), ==, added);
}

static void
test_mirrors_source (Fixture       *f,
                     gconstpointer  data)
{
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->slots)), ==, 5);
  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (f->slots)) == TETHER_TYPE_ITEM_SLOT);
  g_assert_cmpstr (id_at (f, 0), ==, "a0");
  g_assert_cmpstr (id_at (f, 4), ==, "a4");
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (f->slots), 5));
}

static void
on_record (TetherItemSlot *slot,
           GParamSpec     *pspec,
           guint          *count)
{
  (*count)++;
}

/* A search that swaps every record: the same slot objects, the new records,
 * a notify on each slot, no items-changed. */
static void
test_replace_in_place (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(TetherItemSlot) first = g_list_model_get_item (G_LIST_MODEL (f->slots), 0);
  g_autoptr(TetherItemSlot) again = NULL;
  guint notified = 0;

  g_signal_connect (first, "notify::record", G_CALLBACK (on_record), &notified);
  g_list_store_remove_all (f->source);
  add_notes (f->source, 0, "b", 5);
  /* GListStore says it in two steps: all removed, then all added. */
  assert_change (f, 0, 0, 5, 0);
  assert_change (f, 1, 0, 0, 5);
  again = g_list_model_get_item (G_LIST_MODEL (f->slots), 0);
  g_assert_cmpstr (id_at (f, 0), ==, "b0");

  g_array_set_size (f->changes, 0);
  {
    g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);

    for (guint i = 0; i < 5; i++)
      g_ptr_array_add (records, note (i % 2 ? "odd" : "even"));
    g_list_store_splice (f->source, 0, 5, records->pdata, 5);
  }
  g_assert_cmpuint (f->changes->len, ==, 0);
  g_assert_cmpstr (id_at (f, 0), ==, "even");
  g_assert_cmpstr (id_at (f, 1), ==, "odd");
  g_assert_true (again == g_list_model_get_item (G_LIST_MODEL (f->slots), 0));
  g_object_unref (again);
}

/* Longer or shorter: the replaced part stays, the rest is the change. */
static void
test_length_changes (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < 2; i++)
    g_ptr_array_add (records, note (i ? "y" : "x"));
  g_list_store_splice (f->source, 1, 4, records->pdata, 2);
  assert_change (f, 0, 3, 2, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->slots)), ==, 3);
  g_assert_cmpstr (id_at (f, 0), ==, "a0");
  g_assert_cmpstr (id_at (f, 1), ==, "x");
  g_assert_cmpstr (id_at (f, 2), ==, "y");

  add_notes (f->source, 1, "c", 3);
  assert_change (f, 1, 1, 0, 3);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->slots)), ==, 6);
  g_assert_cmpstr (id_at (f, 1), ==, "c0");
  g_assert_cmpstr (id_at (f, 4), ==, "x");
  g_assert_cmpstr (id_at (f, 5), ==, "y");

  g_list_store_remove (f->source, 0);
  assert_change (f, 2, 0, 1, 0);
  g_assert_cmpstr (id_at (f, 0), ==, "c0");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/slot-model/mirrors-source", Fixture, NULL, setup, test_mirrors_source, teardown);
  g_test_add ("/slot-model/replace-in-place", Fixture, NULL, setup, test_replace_in_place, teardown);
  g_test_add ("/slot-model/length-changes", Fixture, NULL, setup, test_length_changes, teardown);
  return g_test_run ();
}
