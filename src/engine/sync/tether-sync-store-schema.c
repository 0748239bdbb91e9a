/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-store"
#include "config.h"

#include "tether-sync-store-private.h"

/* The sync tables (layouts in tether-sync-private.h), made or brought up to
 * date each time a file is opened, in the caller's transaction. */

static const char schema_sql[] =
  /* An entry's state and its payload live apart: a push rewrites the state
   * of every entry it sends twice and counts the states while it runs, and
   * with the record's data beside them each of those wrote and read ten
   * times the pages (a third of a push's time in bench-sync). */
  "CREATE TABLE IF NOT EXISTS _tether_changes ("
  " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
  " collection TEXT NOT NULL, record_id TEXT NOT NULL, type INTEGER NOT NULL,"
  " base_rev INTEGER NOT NULL DEFAULT 0,"
  " hlc TEXT NOT NULL, timestamp INTEGER NOT NULL, status INTEGER NOT NULL,"
  " retries INTEGER NOT NULL DEFAULT 0, error TEXT, push_id TEXT,"
  " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
  "CREATE TABLE IF NOT EXISTS _tether_change_data ("
  " seq INTEGER PRIMARY KEY, data TEXT, prev_data TEXT);"
  /* Whoever removes an entry (a sync, discard, compact, another process)
   * removes its payload with it. */
  "CREATE TRIGGER IF NOT EXISTS _tether_changes_ad AFTER DELETE ON _tether_changes"
  " BEGIN DELETE FROM _tether_change_data WHERE seq = old.seq; END;"
  /* A record's entries. Not status: a push changes the status of every
   * entry it sends twice, and each change moved the entry in an index that
   * held it (25% of the push's updates); counting reads the rows instead,
   * ten times a second at most while syncing (an older file's index with
   * status goes). */
  "DROP INDEX IF EXISTS _tether_changes_record_status;"
  "CREATE INDEX IF NOT EXISTS _tether_changes_record"
  " ON _tether_changes (collection, record_id);"
  /* Failed entries, rare: a push asks whether there are any at all before
   * it looks for those of each record it got accepted. */
  "CREATE INDEX IF NOT EXISTS _tether_changes_failed"
  " ON _tether_changes (collection, record_id) WHERE status = 3;"
  /* The outbox in log order: only entries to send (0 pending, 1 syncing). */
  "CREATE INDEX IF NOT EXISTS _tether_changes_outbox"
  " ON _tether_changes (seq, collection, record_id, status) WHERE status IN (0, 1);"
  "CREATE TABLE IF NOT EXISTS _tether_shadow ("
  " collection TEXT NOT NULL, record_id TEXT NOT NULL,"
  " rev INTEGER NOT NULL, data TEXT, hlc TEXT,"
  " PRIMARY KEY (collection, record_id)) WITHOUT ROWID;"
  "CREATE TABLE IF NOT EXISTS _tether_conflicts ("
  " id TEXT PRIMARY KEY, collection TEXT NOT NULL, record_id TEXT NOT NULL,"
  " local TEXT, remote TEXT, base TEXT, result TEXT,"
  " local_hlc TEXT, remote_hlc TEXT, remote_rev INTEGER NOT NULL DEFAULT 0,"
  " strategy INTEGER NOT NULL, status INTEGER NOT NULL, winner INTEGER NOT NULL,"
  " fields TEXT NOT NULL, local_lost TEXT NOT NULL, remote_lost TEXT NOT NULL,"
  " local_deleted INTEGER NOT NULL, remote_deleted INTEGER NOT NULL,"
  " created INTEGER NOT NULL, resolved INTEGER NOT NULL DEFAULT 0);"
  "CREATE INDEX IF NOT EXISTS _tether_conflicts_record"
  " ON _tether_conflicts (collection, record_id, status);"
  "CREATE TABLE IF NOT EXISTS _tether_sync_events ("
  " seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, phase INTEGER NOT NULL,"
  " pushed INTEGER NOT NULL, accepted INTEGER NOT NULL,"
  " conflicts INTEGER NOT NULL, rejected INTEGER NOT NULL,"
  " pulled INTEGER NOT NULL, applied INTEGER NOT NULL,"
  " skipped INTEGER NOT NULL, merged INTEGER NOT NULL,"
  " duration INTEGER NOT NULL, error TEXT);";

/* A file written before the payload moved out keeps data and prev_data in
 * _tether_changes: move them, in the same transaction as everything else
 * here, so a crash leaves the old layout or the new one. */
static const char split_sql[] =
  "INSERT INTO _tether_change_data (seq, data, prev_data)"
  " SELECT seq, data, prev_data FROM _tether_changes;"
  "ALTER TABLE _tether_changes DROP COLUMN data;"
  "ALTER TABLE _tether_changes DROP COLUMN prev_data;";

/* Whether @sql (a SELECT about the layout) returns a row. */
static gboolean
any_row (TetherDatabase  *db,
         const char      *sql,
         gboolean        *found,
         GError         **error)
{
  g_autoptr(sqlite3_stmt) stmt = _tether_database_prepare (db, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return _tether_database_set_error (db, rc, error, "reading the sync tables' layout"), FALSE;
  *found = rc == SQLITE_ROW;
  return TRUE;
}

#define OLD_LAYOUT_SQL "SELECT 1 FROM pragma_table_info ('_tether_changes') WHERE name = 'data'"

gboolean
_tether_sync_store_is_current (TetherDatabase  *db,
                               gboolean        *current,
                               GError         **error)
{
  return any_row (db,
                  "SELECT 1 WHERE EXISTS (SELECT 1 FROM sqlite_master"
                  "   WHERE type = 'table' AND name = '_tether_change_data')"
                  " AND NOT EXISTS (" OLD_LAYOUT_SQL ")", current, error);
}

gboolean
_tether_sync_store_create_tables (TetherDatabase  *db,
                                  GError         **error)
{
  gboolean old = FALSE;

  if (!_tether_database_exec (db, schema_sql, error) || !any_row (db, OLD_LAYOUT_SQL, &old, error))
    return FALSE;
  return !old || _tether_database_exec (db, split_sql, error);
}
