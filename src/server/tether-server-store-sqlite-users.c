/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-sqlite"
#include "config.h"

#include <string.h>

#include "tether-server-store-sqlite-private.h"

/* Users of the SQLite store: each call is its own transaction. */

static gboolean
store_user_add (TetherServerStore  *store,
                const char         *name,
                const guint8        token_hash[32],
                GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_ADD);
  int rc;

  sqlite3_bind_text (s, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob (s, 2, token_hash, 32, SQLITE_STATIC);
  sqlite3_bind_int64 (s, 3, g_get_real_time () / 1000);
  rc = sqlite3_step (s);
  sqlite3_reset (s);
  if (rc == SQLITE_CONSTRAINT || (rc & 0xff) == SQLITE_CONSTRAINT)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_EXISTS,
                   "A user named “%s” already exists", name);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return _tether_sqlite_fail (self, rc, "adding a user", error);
  return TRUE;
}

static gboolean
not_found (const char  *name,
           GError     **error)
{
  g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND,
               "No user named “%s”", name);
  return FALSE;
}

static gboolean
store_user_set_token (TetherServerStore  *store,
                      const char         *name,
                      const guint8        token_hash[32],
                      GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_SET_TOKEN);

  sqlite3_bind_text (s, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob (s, 2, token_hash, 32, SQLITE_STATIC);
  if (!_tether_sqlite_run (self, s, error))
    return FALSE;
  if (sqlite3_changes (self->db) == 0)
    return not_found (name, error);
  return TRUE;
}

static gboolean
delete_user (TetherServerStoreSqlite  *self,
             const char               *name,
             GError                  **error)
{
  static const Stmt deletes[] = { USER_DEL_RECORDS, USER_DEL_APPLIED, USER_DEL };
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_ID);
  gint64 id;
  int rc;

  sqlite3_bind_text (s, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc != SQLITE_ROW)
    {
      sqlite3_reset (s);
      return rc == SQLITE_DONE ? not_found (name, error) : _tether_sqlite_fail (self, rc, "finding a user", error);
    }
  id = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  for (guint i = 0; i < G_N_ELEMENTS (deletes); i++)
    {
      s = _tether_sqlite_stmt (self, deletes[i]);
      sqlite3_bind_int64 (s, 1, id);
      if (!_tether_sqlite_run (self, s, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
store_user_remove (TetherServerStore  *store,
                   const char         *name,
                   GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;

  if (!_tether_sqlite_begin (store, error))
    return FALSE;
  if (!delete_user (self, name, error) || !_tether_sqlite_commit (store, error))
    {
      _tether_sqlite_rollback (store);
      return FALSE;
    }
  return TRUE;
}

static void
read_user (sqlite3_stmt     *s,
           TetherServerUser *user)
{
  user->id = sqlite3_column_int64 (s, 0);
  user->name = _tether_sqlite_column_dup (s, 1);
  user->created_ms = sqlite3_column_int64 (s, 2);
}

static void
user_free (gpointer user)
{
  tether_server_user_clear (user);
  g_free (user);
}

/* The array owns its users: g_ptr_array_unref() frees them. */
static GPtrArray *
store_user_list (TetherServerStore  *store,
                 GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func (user_free);
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_LIST);
  int rc;

  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      TetherServerUser *user = g_new0 (TetherServerUser, 1);

      read_user (s, user);
      g_ptr_array_add (users, user);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      _tether_sqlite_fail (self, rc, "listing users", error);
      return NULL;
    }
  return g_steal_pointer (&users);
}

static gboolean
store_user_by_token (TetherServerStore  *store,
                     const guint8        token_hash[32],
                     TetherServerUser   *out,
                     GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_BY_TOKEN);
  int rc;

  sqlite3_bind_blob (s, 1, token_hash, 32, SQLITE_STATIC);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW && sqlite3_column_bytes (s, 3) == 32)
    {
      read_user (s, out);
      memcpy (out->token_hash, sqlite3_column_blob (s, 3), 32);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return _tether_sqlite_fail (self, rc, "looking up a token", error);
  return rc == SQLITE_ROW && out->name != NULL;
}

/* SQLite cannot add AUTOINCREMENT to a table: it is copied into a new one,
 * ids and all. The sequence starts at the highest id left; an id removed
 * before this ran cannot be known. */
gboolean
_tether_sqlite_upgrade_users (sqlite3     *db,
                              const char  *path,
                              GError     **error)
{
  static const char upgrade_sql[] =
    "CREATE TABLE users_upgrade " TETHER_SQLITE_USERS_COLUMNS ";"
    "INSERT INTO users_upgrade (id, name, token_hash, created, last_rev, purged_rev)"
    " SELECT id, name, token_hash, created, last_rev, purged_rev FROM users ORDER BY id;"
    "DROP TABLE users;"
    "ALTER TABLE users_upgrade RENAME TO users;";

  return _tether_sqlite_upgrade_table (db, path, "users", "AUTOINCREMENT", FALSE, upgrade_sql, error);
}

void
_tether_sqlite_users_iface_init (TetherServerStoreInterface *iface)
{
  iface->user_add = store_user_add;
  iface->user_set_token = store_user_set_token;
  iface->user_remove = store_user_remove;
  iface->user_list = store_user_list;
  iface->user_by_token = store_user_by_token;
}
