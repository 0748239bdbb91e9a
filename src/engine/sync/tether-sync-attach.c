/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-attach"
#include "config.h"

#include "tether-sync-engine-private.h"

/* Change tracking on a database: the tracker and the clock live on the
 * TetherDatabase (object data), so every connection that opens a file with
 * sync tables logs its writes, with or without a sync engine. */

#define TRACKER_KEY "tether-sync-tracker"
#define HLC_KEY     "tether-sync-hlc"

TetherChangeTracker *
_tether_sync_get_tracker (TetherDatabase *db)
{
  return g_object_get_data (G_OBJECT (db), TRACKER_KEY);
}

TetherHlc *
_tether_sync_get_hlc (TetherDatabase *db)
{
  return g_object_get_data (G_OBJECT (db), HLC_KEY);
}

static gboolean
sync_tables_exist (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_tether_changes'", &error);
  gboolean found;

  if (stmt == NULL)
    return FALSE;
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_reset (stmt);
  return found;
}

/* The clock starts past every hlc this database has handed out, even if
 * the wall clock went back since. */
static TetherHlc *
load_hlc (TetherDatabase *db,
          const char     *client_id,
          GError        **error)
{
  g_autoptr(TetherHlc) hlc = tether_hlc_new (client_id);
  g_autofree char *stored = _tether_database_meta_get (db, "sync.hlc", NULL);
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db, "SELECT max(hlc) FROM _tether_changes", error);

  if (stmt == NULL)
    return NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0) != NULL)
    tether_hlc_observe (hlc, (const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  if (stored != NULL)
    tether_hlc_observe (hlc, stored);
  return g_steal_pointer (&hlc);
}

TetherChangeTracker *
_tether_sync_attach (TetherDatabase *db,
                     GError        **error)
{
  TetherChangeTracker *tracker = g_object_get_data (G_OBJECT (db), TRACKER_KEY);
  g_autofree char *client_id = NULL;
  TetherHlc *hlc;

  if (tracker != NULL)
    return tracker;
  client_id = _tether_sync_store_client_id (db, error);
  if (client_id == NULL || (hlc = load_hlc (db, client_id, error)) == NULL)
    return NULL;
  g_object_set_data_full (G_OBJECT (db), HLC_KEY, hlc, (GDestroyNotify) tether_hlc_free);
  tracker = _tether_change_tracker_new (db, hlc);
  /* Set before the hook so the database drops the hook's reference last. */
  g_object_set_data_full (G_OBJECT (db), TRACKER_KEY, tracker, g_object_unref);
  tether_database_add_hook (db, TETHER_WRITE_HOOK (tracker));
  return tracker;
}

/* A file from an older version gets its sync tables brought up to date
 * here, whoever opens it, not only when a sync engine is made: the tracker
 * attached below writes them at the next local write. */
gboolean
_tether_sync_attach_if_enabled (TetherDatabase *db,
                                GError        **error)
{
  gboolean current = TRUE;

  if (!sync_tables_exist (db))
    return TRUE;
  if (!_tether_sync_store_is_current (db, &current, error) ||
      (!current && !_tether_sync_store_ensure (db, error)))
    return FALSE;
  return _tether_sync_attach (db, error) != NULL;
}

/* Records written before sync was set up still have to reach the server. */
static gboolean
log_existing_records (TetherDatabase *db,
                      GError        **error)
{
  TetherChangeTracker *tracker = g_object_get_data (G_OBJECT (db), TRACKER_KEY);

  for (const char * const *c = tether_schema_get_collections (tether_database_get_schema (db)); *c; c++)
    {
      TetherCollection *collection = tether_database_get_collection (db, *c, error);
      g_autoptr(GPtrArray) records = collection ? tether_collection_get_all (collection, error) : NULL;

      if (records == NULL)
        return FALSE;
      for (guint i = 0; i < records->len; i++)
        if (!tether_write_hook_after_create (TETHER_WRITE_HOOK (tracker), collection,
                                             g_ptr_array_index (records, i), error))
          return FALSE;
    }
  return TRUE;
}

gboolean
_tether_sync_set_up_tracking (TetherDatabase *db,
                 GError        **error)
{
  gboolean first = !sync_tables_exist (db);

  if (!tether_database_begin (db, error))
    return FALSE;
  if (!_tether_sync_store_ensure (db, error) ||
      _tether_sync_attach (db, error) == NULL ||
      (first && !log_existing_records (db, error)))
    {
      tether_database_rollback (db);
      return FALSE;
    }
  return tether_database_commit (db, error);
}
