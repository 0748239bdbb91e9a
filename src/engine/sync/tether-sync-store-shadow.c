/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-store"
#include "config.h"

#include "tether-sync-store-private.h"

/* The shadow: the last server version of each synced record (rev, data,
 * hlc), the base of three-way merges and the baseRev of pushes. */

gboolean
_tether_sync_store_shadow_get (TetherDatabase  *db,
                               const char      *collection,
                               const char      *record_id,
                               gint64          *rev,
                               char           **data,
                               char           **hlc,
                               GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT rev, data, hlc FROM _tether_shadow WHERE collection = ?1 AND record_id = ?2", error);
  gboolean found;
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  found = rc == SQLITE_ROW;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    _tether_database_set_error (db, rc, error, "reading the shadow copy");
  if (rev != NULL)
    *rev = found ? sqlite3_column_int64 (stmt, 0) : 0;
  if (data != NULL)
    *data = found ? g_strdup ((const char *) sqlite3_column_text (stmt, 1)) : NULL;
  if (hlc != NULL)
    *hlc = found ? g_strdup ((const char *) sqlite3_column_text (stmt, 2)) : NULL;
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

gboolean
_tether_sync_store_shadow_set (TetherDatabase  *db,
                               const char      *collection,
                               const char      *record_id,
                               gint64           rev,
                               const char      *data,
                               const char      *hlc,
                               GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT INTO _tether_shadow (collection, record_id, rev, data, hlc)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (collection, record_id)"
    " DO UPDATE SET rev = excluded.rev, data = excluded.data, hlc = excluded.hlc", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, rev);
  sqlite3_bind_text (stmt, 4, data, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 5, hlc, -1, SQLITE_STATIC);
  return _tether_sync_store_step (db, stmt, "writing the shadow copy", error);
}

gboolean
_tether_sync_store_shadow_integer_id (TetherDatabase  *db,
                                      const char      *collection,
                                      const char      *record_id,
                                      gboolean        *integer,
                                      GError         **error)
{
  g_autofree char *canonical = NULL;
  sqlite3_stmt *stmt;
  gint64 value;
  int rc;

  *integer = FALSE;
  /* no lookup for the ids this client makes (UUIDs) */
  if (!g_ascii_string_to_signed (record_id, 10, G_MININT64, G_MAXINT64, &value, NULL) ||
      !g_str_equal ((canonical = g_strdup_printf ("%" G_GINT64_FORMAT, value)), record_id))
    return TRUE;
  stmt = _tether_database_prepare_cached (db,
    "SELECT json_type (data, '$.id') = 'integer' AND json_extract (data, '$.id') = ?3"
    " FROM _tether_shadow WHERE collection = ?1 AND record_id = ?2 AND json_valid (data)", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, value);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *integer = sqlite3_column_int (stmt, 0) != 0;
  else if (rc != SQLITE_DONE)
    _tether_database_set_error (db, rc, error, "reading the shadow copy");
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}
