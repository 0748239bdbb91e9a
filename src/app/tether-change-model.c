/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-change-model"
#include "config.h"

#include "tether-change-model.h"

/* The change log as a list model for the inspector. The engine tells us
 * that the log moved, not what moved, so a reload diffs the new snapshot
 * against the one shown, by change id, and reports only the ranges that
 * differ: rows of unchanged changes keep their objects and their widgets. */

struct _TetherChangeModel
{
  GObject           parent_instance;
  TetherSyncEngine *engine;
  GPtrArray        *items;       /* TetherSyncChange*, log order */
  guint             reload_id;   /* idle that reloads; 0 when none is due */
  guint             n_reads;     /* of the whole log, since made */
  GError           *error;       /* why the last read failed; NULL: it worked */
};

enum { PROP_0, PROP_ERROR, N_PROPS };
static GParamSpec *properties[N_PROPS];

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherChangeModel, tether_change_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return TETHER_TYPE_SYNC_CHANGE;
}

static guint
get_n_items (GListModel *model)
{
  return TETHER_CHANGE_MODEL (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  TetherChangeModel *self = TETHER_CHANGE_MODEL (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* Two snapshots of one change show the same thing. Cheap members first:
 * data is compared last, and only when everything else is equal. */
static gboolean
same_change (TetherSyncChange *a,
             TetherSyncChange *b)
{
  return tether_sync_change_get_status (a) == tether_sync_change_get_status (b) &&
         tether_sync_change_get_retries (a) == tether_sync_change_get_retries (b) &&
         tether_sync_change_get_updated (a) == tether_sync_change_get_updated (b) &&
         tether_sync_change_get_change_type (a) == tether_sync_change_get_change_type (b) &&
         tether_sync_change_get_base_rev (a) == tether_sync_change_get_base_rev (b) &&
         tether_sync_change_get_timestamp (a) == tether_sync_change_get_timestamp (b) &&
         g_strcmp0 (tether_sync_change_get_error (a), tether_sync_change_get_error (b)) == 0 &&
         g_strcmp0 (tether_sync_change_get_hlc (a), tether_sync_change_get_hlc (b)) == 0 &&
         g_strcmp0 (tether_sync_change_get_prev_data (a), tether_sync_change_get_prev_data (b)) == 0 &&
         g_strcmp0 (tether_sync_change_get_data (a), tether_sync_change_get_data (b)) == 0;
}

/* Which old and new items are the same change, kept in place: an old item
 * is kept when its id is in @fresh after the previous kept one (the log is
 * in order, so this is every common id unless a row moved). */
static void
match_items (GPtrArray *old,
             GPtrArray *fresh,
             gboolean  *kept,
             gboolean  *matched)
{
  g_autoptr(GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);
  guint last = 0;   /* 1 + the new position of the previous kept item */

  for (guint j = 0; j < fresh->len; j++)
    g_hash_table_insert (index, (gpointer) tether_sync_change_get_id (g_ptr_array_index (fresh, j)),
                         GUINT_TO_POINTER (j + 1));
  for (guint i = 0; i < old->len; i++)
    {
      guint at = GPOINTER_TO_UINT (g_hash_table_lookup (index,
        tether_sync_change_get_id (g_ptr_array_index (old, i))));

      kept[i] = at > last;
      if (kept[i])
        {
          matched[at - 1] = TRUE;
          last = at;
        }
    }
}

/* Replace items[pos, pos + removed) with fresh[from, from + added). */
static void
splice (TetherChangeModel *self,
        guint              pos,
        guint              removed,
        GPtrArray         *fresh,
        guint              from,
        guint              added)
{
  g_ptr_array_remove_range (self->items, pos, removed);
  for (guint k = 0; k < added; k++)
    g_ptr_array_insert (self->items, pos + k, g_object_ref (g_ptr_array_index (fresh, from + k)));
  g_list_model_items_changed (G_LIST_MODEL (self), pos, removed, added);
}

static gboolean
is_pair (GPtrArray *old,
         GPtrArray *fresh,
         gboolean  *kept,
         gboolean  *matched,
         guint      i,
         guint      j)
{
  return i < old->len && j < fresh->len && kept[i] && matched[j];
}

/* Walk both lists side by side: a kept change that moved is replaced in
 * place (a run of them at once); removed and new changes between two kept
 * ones go out as one range. */
static void
apply_snapshot (TetherChangeModel *self,
                GPtrArray         *fresh)
{
  g_autoptr(GPtrArray) old = g_steal_pointer (&self->items);
  g_autofree gboolean *kept = g_new0 (gboolean, old->len + 1);
  g_autofree gboolean *matched = g_new0 (gboolean, fresh->len + 1);
  guint i = 0, j = 0, pos = 0;

  /* items is edited in place while old keeps the snapshot being compared. */
  self->items = g_ptr_array_new_full (old->len, g_object_unref);
  for (guint k = 0; k < old->len; k++)
    g_ptr_array_add (self->items, g_object_ref (g_ptr_array_index (old, k)));
  match_items (old, fresh, kept, matched);
  while (i < old->len || j < fresh->len)
    {
      guint removed = 0, added = 0;

      if (is_pair (old, fresh, kept, matched, i, j))
        {
          guint moved = 0;

          while (is_pair (old, fresh, kept, matched, i + moved, j + moved) &&
                 !same_change (g_ptr_array_index (old, i + moved), g_ptr_array_index (fresh, j + moved)))
            moved++;
          if (moved > 0)
            splice (self, pos, moved, fresh, j, moved);
          moved = MAX (moved, 1);
          i += moved, j += moved, pos += moved;
          continue;
        }
      while (i + removed < old->len && !kept[i + removed])
        removed++;
      while (j + added < fresh->len && !matched[j + added])
        added++;
      splice (self, pos, removed, fresh, j, added);
      i += removed, j += added, pos += added;
    }
}

static void
set_error (TetherChangeModel *self,
           GError            *error)
{
  if (self->error == NULL && error == NULL)
    return;
  g_clear_error (&self->error);
  self->error = error;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

/* A failed read leaves the items as they were: "error" says that they are
 * not the log, for the view to say so instead of showing them. */
static void
reload (TetherChangeModel *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fresh = tether_sync_engine_list_changes (self->engine, -1, &error);

  self->n_reads++;
  if (fresh == NULL)
    {
      g_debug ("reading the change log: %s", error->message);
      set_error (self, g_steal_pointer (&error));
      return;
    }
  apply_snapshot (self, fresh);
  set_error (self, NULL);
}

static gboolean
reload_idle (gpointer data)
{
  TetherChangeModel *self = data;

  self->reload_id = 0;
  reload (self);
  return G_SOURCE_REMOVE;
}

/* A burst of writes (typing, a sync's batches) reloads once. */
static void
queue_reload (TetherChangeModel *self)
{
  if (self->reload_id == 0)
    self->reload_id = g_idle_add (reload_idle, self);
}

/* A phase comes with every batch, page and conflict of a sync, and a read
 * of the log is a read of all of it: the sync's "queue-changed" (ten times
 * a second at most, and at its end) keeps the list live. The start only
 * shows the first batch as sent, until its answer. */
static void
on_phase (TetherSyncEngine  *engine,
          TetherSyncPhase    phase,
          guint              done,
          guint              total,
          TetherChangeModel *self)
{
  if (phase == TETHER_SYNC_PHASE_START)
    queue_reload (self);
}

static void
tether_change_model_dispose (GObject *object)
{
  TetherChangeModel *self = TETHER_CHANGE_MODEL (object);

  g_clear_handle_id (&self->reload_id, g_source_remove);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (tether_change_model_parent_class)->dispose (object);
}

static void
tether_change_model_finalize (GObject *object)
{
  TetherChangeModel *self = TETHER_CHANGE_MODEL (object);

  g_ptr_array_unref (self->items);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (tether_change_model_parent_class)->finalize (object);
}

static void
tether_change_model_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  TetherChangeModel *self = TETHER_CHANGE_MODEL (object);

  switch (prop_id)
    {
    case PROP_ERROR: g_value_set_boxed (value, self->error); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_change_model_class_init (TetherChangeModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_change_model_dispose;
  object_class->finalize = tether_change_model_finalize;
  object_class->get_property = tether_change_model_get_property;

  properties[PROP_ERROR] = g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR,
                                               G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_change_model_init (TetherChangeModel *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
}

TetherChangeModel *
tether_change_model_new (TetherSyncEngine *engine)
{
  TetherChangeModel *self;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (engine), NULL);

  self = g_object_new (TETHER_TYPE_CHANGE_MODEL, NULL);
  self->engine = g_object_ref (engine);
  g_signal_connect_swapped (engine, "queue-changed", G_CALLBACK (queue_reload), self);
  g_signal_connect (engine, "phase", G_CALLBACK (on_phase), self);
  reload (self);
  return self;
}

guint
tether_change_model_get_n_reads (TetherChangeModel *self)
{
  g_return_val_if_fail (TETHER_IS_CHANGE_MODEL (self), 0);

  return self->n_reads;
}

const GError *
tether_change_model_get_error (TetherChangeModel *self)
{
  g_return_val_if_fail (TETHER_IS_CHANGE_MODEL (self), NULL);

  return self->error;
}

void
tether_change_model_reload (TetherChangeModel *self)
{
  g_return_if_fail (TETHER_IS_CHANGE_MODEL (self));

  queue_reload (self);
}
