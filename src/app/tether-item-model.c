/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-item-model"
#include "config.h"

#include <string.h>

#include "tether-item-model.h"

/* Two live queries (notes, tasks) merged into one sorted list. Each source
 * keeps a mirror of its live query, so that on items-changed the records
 * that left are still at hand; each of them is found in the merged list by
 * binary search on cached keys, so a change costs O(log n) compares plus
 * one memmove, never a pass over the list. Replacing the queries (search,
 * kind, tag) rebuilds the list once and emits one items-changed. */

/* A source change larger than this is cheaper to answer with one rebuild. */
#define REBUILD_THRESHOLD 256

typedef struct {
  TetherRecord *record;
  gint64        updated_at;
  gboolean      pinned;
} Entry;

typedef struct {
  TetherItemModel *self;
  const char      *collection;
  TetherLiveQuery *live;     /* NULL when the kind filter leaves it out */
  GPtrArray       *mirror;   /* TetherRecord, as the live query last told us */
  gulong           handler;
} Source;

struct _TetherItemModel
{
  GObject         parent_instance;
  TetherDatabase *db;
  Source          sources[2];
  GArray         *entries;   /* Entry, merged and sorted */
  char           *search;     /* NULL: no search */
  char           *tag;        /* NULL: every tag */
  TetherItemKind  kind;
  guint           busy;       /* inside our own items-changed */
  gboolean        needs_rebuild;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherItemModel, tether_item_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return TETHER_TYPE_RECORD;
}

static guint
get_n_items (GListModel *model)
{
  return TETHER_ITEM_MODEL (model)->entries->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (model);

  if (position >= self->entries->len)
    return NULL;
  return g_object_ref (g_array_index (self->entries, Entry, position).record);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* Entries -------------------------------------------------------------------- */

static Entry
entry_new_pinned (TetherRecord *record,
                  gboolean      pinned)
{
  Entry entry;

  entry.record = g_object_ref (record);
  entry.updated_at = tether_record_get_updated_at (record);
  entry.pinned = pinned;
  return entry;
}

/* Asking for "pinned" parses the record's JSON: fine for one record. */
static Entry
entry_new (TetherRecord *record)
{
  return entry_new_pinned (record, tether_record_get_boolean (record, "pinned", FALSE));
}

static void
entry_clear (gpointer data)
{
  Entry *entry = data;

  g_clear_object (&entry->record);
}

/* Pinned first, newest first; collection and id make the order total. */
static int
entry_compare (const Entry *a,
               const Entry *b)
{
  int c;

  if (a->pinned != b->pinned)
    return a->pinned ? -1 : 1;
  if (a->updated_at != b->updated_at)
    return a->updated_at > b->updated_at ? -1 : 1;
  c = strcmp (tether_record_get_collection (a->record), tether_record_get_collection (b->record));
  if (c != 0)
    return c;
  return -strcmp (tether_record_get_id (a->record), tether_record_get_id (b->record));
}

static int
entry_compare_func (gconstpointer a,
                    gconstpointer b)
{
  return entry_compare (a, b);
}

/* Where @entry is, or would go. */
static guint
entries_search (TetherItemModel *self,
                const Entry     *entry)
{
  guint lo = 0, hi = self->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (entry_compare (&g_array_index (self->entries, Entry, mid), entry) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Position of @record (the very object, so with its old keys), or -1. */
static gint
entries_find (TetherItemModel *self,
              TetherRecord    *record)
{
  Entry key = { record, tether_record_get_updated_at (record),
                tether_record_get_boolean (record, "pinned", FALSE) };
  guint pos = entries_search (self, &key);

  if (pos < self->entries->len && g_array_index (self->entries, Entry, pos).record == record)
    return pos;
  return -1;
}

/* Sources -------------------------------------------------------------------- */

static gboolean
source_included (TetherItemModel *self,
                 guint            index)
{
  return self->kind == TETHER_ITEM_KIND_ALL ||
         (self->kind == TETHER_ITEM_KIND_NOTES && index == 0) ||
         (self->kind == TETHER_ITEM_KIND_TASKS && index == 1);
}

/* How many records of @source are pinned. Its query puts pinned notes
 * first, so a binary search finds out parsing a few records' JSON, not all
 * 100,000 (which took a second and 250 MB). Tasks are never pinned. */
static guint
source_n_pinned (Source *source)
{
  guint lo = 0, hi = source->mirror->len;

  if (!g_str_equal (source->collection, "notes"))
    return 0;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (tether_record_get_boolean (g_ptr_array_index (source->mirror, mid), "pinned", FALSE))
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The whole list again from the mirrors, as one items-changed trimmed to
 * the part that differs. */
static void
rebuild (TetherItemModel *self)
{
  g_autoptr(GArray) old = g_steal_pointer (&self->entries);
  guint prefix = 0, suffix = 0;

  self->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (self->entries, entry_clear);
  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      guint n_pinned = source_n_pinned (&self->sources[s]);

      for (guint i = 0; i < self->sources[s].mirror->len; i++)
        {
          Entry entry = entry_new_pinned (g_ptr_array_index (self->sources[s].mirror, i), i < n_pinned);
          g_array_append_val (self->entries, entry);
        }
    }
  g_array_sort (self->entries, entry_compare_func);

  while (prefix < old->len && prefix < self->entries->len &&
         g_array_index (old, Entry, prefix).record == g_array_index (self->entries, Entry, prefix).record)
    prefix++;
  while (suffix < old->len - prefix && suffix < self->entries->len - prefix &&
         g_array_index (old, Entry, old->len - 1 - suffix).record ==
         g_array_index (self->entries, Entry, self->entries->len - 1 - suffix).record)
    suffix++;
  if (old->len != prefix + suffix || self->entries->len != prefix + suffix)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix,
                                old->len - prefix - suffix,
                                self->entries->len - prefix - suffix);
}

static void
remove_record (TetherItemModel *self,
               TetherRecord    *record)
{
  gint pos = entries_find (self, record);

  g_return_if_fail (pos >= 0);
  g_array_remove_index (self->entries, pos);
  g_list_model_items_changed (G_LIST_MODEL (self), pos, 1, 0);
}

static void
insert_record (TetherItemModel *self,
               TetherRecord    *record)
{
  Entry entry = entry_new (record);
  guint pos = entries_search (self, &entry);

  g_array_insert_val (self->entries, pos, entry);
  g_list_model_items_changed (G_LIST_MODEL (self), pos, 0, 1);
}

/* One record replaced by its new version: (i,1,1) when it stays put,
 * otherwise a remove and an insert. */
static void
replace_record (TetherItemModel *self,
                TetherRecord    *old_record,
                TetherRecord    *new_record)
{
  gint old_pos = entries_find (self, old_record);
  Entry entry = entry_new (new_record);
  guint new_pos;

  if (old_pos < 0)
    {
      entry_clear (&entry);
      g_return_if_reached ();
    }
  g_array_remove_index (self->entries, old_pos);
  new_pos = entries_search (self, &entry);
  if ((guint) old_pos != new_pos)
    g_list_model_items_changed (G_LIST_MODEL (self), old_pos, 1, 0);
  g_array_insert_val (self->entries, new_pos, entry);
  if ((guint) old_pos == new_pos)
    g_list_model_items_changed (G_LIST_MODEL (self), new_pos, 1, 1);
  else
    g_list_model_items_changed (G_LIST_MODEL (self), new_pos, 0, 1);
}

/* Rebuild until no handler of ours wrote to the database meanwhile. */
static void
settle (TetherItemModel *self)
{
  while (self->needs_rebuild && self->busy == 0)
    {
      self->needs_rebuild = FALSE;
      self->busy++;
      rebuild (self);
      self->busy--;
    }
}

static void
source_items_changed (GListModel *live,
                      guint       position,
                      guint       removed,
                      guint       added,
                      Source     *source)
{
  TetherItemModel *self = source->self;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) came = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < removed; i++)
    g_ptr_array_add (gone, g_object_ref (g_ptr_array_index (source->mirror, position + i)));
  g_ptr_array_remove_range (source->mirror, position, removed);
  for (guint i = 0; i < added; i++)
    {
      TetherRecord *record = g_list_model_get_item (live, position + i);

      g_ptr_array_insert (source->mirror, position + i, g_object_ref (record));
      g_ptr_array_add (came, record);
    }

  /* A handler of our own items-changed wrote to the database: the list is
   * half updated, so settle it with a rebuild once the outer change is done. */
  if (self->busy > 0 || removed + added > REBUILD_THRESHOLD)
    {
      self->needs_rebuild = TRUE;
      if (self->busy > 0)
        return;
    }

  self->busy++;
  if (self->needs_rebuild)
    ;
  else if (removed == 1 && added == 1)
    replace_record (self, g_ptr_array_index (gone, 0), g_ptr_array_index (came, 0));
  else
    {
      for (guint i = 0; i < gone->len; i++)
        remove_record (self, g_ptr_array_index (gone, i));
      for (guint i = 0; i < came->len; i++)
        insert_record (self, g_ptr_array_index (came, i));
    }
  self->busy--;
  settle (self);
}

static void
source_clear (Source *source)
{
  if (source->live != NULL)
    g_clear_signal_handler (&source->handler, source->live);
  g_clear_object (&source->live);
  g_ptr_array_set_size (source->mirror, 0);
}

static TetherQuery *
build_query (TetherItemModel  *self,
             Source           *source,
             GError          **error)
{
  TetherCollection *collection = tether_database_get_collection (self->db, source->collection, error);
  g_autoptr(TetherQuery) query = NULL;

  if (collection == NULL)
    return NULL;
  query = tether_query_new (collection);
  if (self->search != NULL)
    tether_query_search (query, self->search);
  if (self->tag != NULL)
    {
      g_autoptr(JsonNode) tag = json_node_init_string (json_node_alloc (), self->tag);

      tether_query_where (query, "tags", TETHER_OP_CONTAINS, tag);
    }
  /* Sorted, a search is not ranked: the list keeps its order as you type. */
  if (g_str_equal (source->collection, "notes"))
    tether_query_sort (query, "pinned", TRUE);
  tether_query_sort (query, "updatedAt", TRUE);
  return g_steal_pointer (&query);
}

static gboolean
source_load (TetherItemModel  *self,
             Source           *source,
             GError          **error)
{
  g_autoptr(TetherQuery) query = NULL;
  guint n;

  source_clear (source);
  if (!source_included (self, source - self->sources))
    return TRUE;
  if ((query = build_query (self, source, error)) == NULL ||
      (source->live = tether_live_query_new (query, error)) == NULL)
    return FALSE;
  n = g_list_model_get_n_items (G_LIST_MODEL (source->live));
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (source->mirror, g_list_model_get_item (G_LIST_MODEL (source->live), i));
  source->handler = g_signal_connect (source->live, "items-changed",
                                      G_CALLBACK (source_items_changed), source);
  return TRUE;
}

/* New queries for both sources, then one items-changed. */
static gboolean
reload (TetherItemModel  *self,
        GError          **error)
{
  gboolean ok = TRUE;

  for (guint s = 0; s < G_N_ELEMENTS (self->sources) && ok; s++)
    ok = source_load (self, &self->sources[s], error);
  if (!ok)
    for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
      source_clear (&self->sources[s]);
  self->needs_rebuild = TRUE;
  settle (self);
  return ok;
}

static void
reload_or_log (TetherItemModel *self)
{
  g_autoptr(GError) error = NULL;

  if (!reload (self, &error))
    g_message ("Could not list the notes and tasks: %s", error->message);
}

/* Public --------------------------------------------------------------------- */

static void
tether_item_model_dispose (GObject *object)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (object);

  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    source_clear (&self->sources[s]);
  g_clear_object (&self->db);
  G_OBJECT_CLASS (tether_item_model_parent_class)->dispose (object);
}

static void
tether_item_model_finalize (GObject *object)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (object);

  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    g_ptr_array_unref (self->sources[s].mirror);
  g_array_unref (self->entries);
  g_free (self->search);
  g_free (self->tag);
  G_OBJECT_CLASS (tether_item_model_parent_class)->finalize (object);
}

static void
tether_item_model_class_init (TetherItemModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_item_model_dispose;
  object_class->finalize = tether_item_model_finalize;
}

static void
tether_item_model_init (TetherItemModel *self)
{
  static const char *names[] = { "notes", "tasks" };

  self->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (self->entries, entry_clear);
  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      self->sources[s].self = self;
      self->sources[s].collection = names[s];
      self->sources[s].mirror = g_ptr_array_new_with_free_func (g_object_unref);
    }
}

TetherItemModel *
tether_item_model_new (TetherDatabase  *db,
                       GError         **error)
{
  g_autoptr(TetherItemModel) self = NULL;

  g_return_val_if_fail (TETHER_IS_DATABASE (db), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (TETHER_TYPE_ITEM_MODEL, NULL);
  self->db = g_object_ref (db);
  if (!reload (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* NULL for blank text, otherwise the text stripped. */
static char *
normalize (const char *text)
{
  g_autofree char *copy = g_strstrip (g_strdup (text != NULL ? text : ""));

  return *copy != '\0' ? g_steal_pointer (&copy) : NULL;
}

void
tether_item_model_set_search (TetherItemModel *self,
                              const char      *text)
{
  g_autofree char *search = NULL;

  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));

  search = normalize (text);
  if (g_strcmp0 (search, self->search) == 0)
    return;
  g_free (self->search);
  self->search = g_steal_pointer (&search);
  reload_or_log (self);
}

void
tether_item_model_set_kind (TetherItemModel *self,
                            TetherItemKind   kind)
{
  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));
  g_return_if_fail (kind <= TETHER_ITEM_KIND_TASKS);

  if (kind == self->kind)
    return;
  self->kind = kind;
  reload_or_log (self);
}

void
tether_item_model_set_tag (TetherItemModel *self,
                           const char      *tag)
{
  g_autofree char *normal = NULL;

  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));

  normal = normalize (tag);
  if (g_strcmp0 (normal, self->tag) == 0)
    return;
  g_free (self->tag);
  self->tag = g_steal_pointer (&normal);
  reload_or_log (self);
}

gint
tether_item_model_find (TetherItemModel *self,
                        const char      *collection,
                        const char      *id)
{
  g_return_val_if_fail (TETHER_IS_ITEM_MODEL (self), -1);
  g_return_val_if_fail (collection != NULL, -1);
  g_return_val_if_fail (id != NULL, -1);

  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      Source *source = &self->sources[s];
      gint pos;

      if (source->live == NULL || !g_str_equal (source->collection, collection))
        continue;
      pos = tether_live_query_find (source->live, id);
      return pos < 0 ? -1 : entries_find (self, g_ptr_array_index (source->mirror, pos));
    }
  return -1;
}
