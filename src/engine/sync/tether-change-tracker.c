/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-change-tracker"
#include "config.h"

#include "tether-sync-private.h"

/* The write hook that logs every local write in the change log. It runs in
 * the write's own transaction, so a rolled-back write leaves no entry and a
 * failed append refuses the write. Pulled changes skip hooks entirely. */

struct _TetherChangeTracker
{
  GObject         parent_instance;
  TetherDatabase *db;    /* weak: the database holds the hook, not the reverse */
  TetherHlc      *hlc;   /* borrowed from the engine */
};

enum {
  SIGNAL_APPENDED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void tether_change_tracker_hook_init (TetherWriteHookInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherChangeTracker, tether_change_tracker, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_WRITE_HOOK,
                                                      tether_change_tracker_hook_init))

/* One INSERT per write: everything else here is in memory. */
static gboolean
append (TetherChangeTracker  *self,
        TetherCollection     *collection,
        TetherChangeType      type,
        TetherRecord         *old_record,
        TetherRecord         *new_record,
        GError              **error)
{
  TetherRecord *record = new_record ? new_record : old_record;
  g_autofree char *id = tether_uuid_v7_new ();
  g_autofree char *data = new_record ? tether_record_to_json (new_record) : NULL;
  g_autofree char *prev_data = old_record ? tether_record_to_json (old_record) : NULL;
  g_autofree char *hlc = tether_hlc_tick (self->hlc);
  gint64 now = tether_time_now_ms ();
  TetherChangeRow row = {
    .id = id,
    .collection = (char *) tether_collection_get_name (collection),
    .record_id = (char *) tether_record_get_id (record),
    .type = type,
    .data = data,
    .prev_data = prev_data,
    .base_rev = 0,   /* filled in from the shadow when the change is pushed */
    .hlc = hlc,
    .timestamp = now,
    .status = TETHER_CHANGE_PENDING,
    .created = now,
    .updated = now,
  };

  g_return_val_if_fail (self->db == tether_collection_get_database (collection), FALSE);

  if (!_tether_sync_store_append (self->db, &row, error))
    return FALSE;
  g_signal_emit (self, signals[SIGNAL_APPENDED], 0);
  return TRUE;
}

static gboolean
after_create (TetherWriteHook   *hook,
              TetherCollection  *collection,
              TetherRecord      *record,
              GError           **error)
{
  return append (TETHER_CHANGE_TRACKER (hook), collection, TETHER_CHANGE_CREATE, NULL, record, error);
}

static gboolean
after_update (TetherWriteHook   *hook,
              TetherCollection  *collection,
              TetherRecord      *old_record,
              TetherRecord      *new_record,
              GError           **error)
{
  return append (TETHER_CHANGE_TRACKER (hook), collection, TETHER_CHANGE_UPDATE,
                 old_record, new_record, error);
}

static gboolean
after_delete (TetherWriteHook   *hook,
              TetherCollection  *collection,
              TetherRecord      *old_record,
              GError           **error)
{
  return append (TETHER_CHANGE_TRACKER (hook), collection, TETHER_CHANGE_DELETE, old_record, NULL, error);
}

static void
tether_change_tracker_hook_init (TetherWriteHookInterface *iface)
{
  iface->after_create = after_create;
  iface->after_update = after_update;
  iface->after_delete = after_delete;
}

static void
tether_change_tracker_dispose (GObject *object)
{
  TetherChangeTracker *self = TETHER_CHANGE_TRACKER (object);

  g_clear_weak_pointer (&self->db);
  G_OBJECT_CLASS (tether_change_tracker_parent_class)->dispose (object);
}

static void
tether_change_tracker_class_init (TetherChangeTrackerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_change_tracker_dispose;

  signals[SIGNAL_APPENDED] =
    g_signal_new ("appended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_change_tracker_init (TetherChangeTracker *self)
{
}

TetherChangeTracker *
_tether_change_tracker_new (TetherDatabase *db,
                            TetherHlc      *hlc)
{
  TetherChangeTracker *self;

  g_return_val_if_fail (TETHER_IS_DATABASE (db), NULL);
  g_return_val_if_fail (hlc != NULL, NULL);

  self = g_object_new (TETHER_TYPE_CHANGE_TRACKER, NULL);
  g_set_weak_pointer (&self->db, db);
  self->hlc = hlc;
  return self;
}
