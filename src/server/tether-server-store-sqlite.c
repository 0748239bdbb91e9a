/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-sqlite"
#include "config.h"

#include <string.h>
#include <sqlite3.h>

#include "tether-private.h"
#include "tether-server-store-sqlite-private.h"

/* The default storage: one SQLite file owned by one tether-server process.
 * Every statement is prepared once and kept; a push batch costs one
 * bind/step/reset per change and table, and one fsync at commit. */

#define RECORD_COLUMNS "collection, key, rev, type, data, server_ms, hlc, change_id, client_id"

/* Rows a push writes go in statements of MANY_ROWS rows: each statement
 * run has a fixed cost (binding, reset, opening cursors) that one row at a
 * time paid per row. The rows go in in order, as one at a time did. */
#define MANY_ROWS 16
#define RECORD_ROW "(?,?,?,?,?,?,?,?,?,?)"
#define APPLIED_ROW "(?,?,?,?,?)"
#define FOUR(row) row "," row "," row "," row
#define MANY(row) FOUR (row) "," FOUR (row) "," FOUR (row) "," FOUR (row)
#define RECORD_PARAMS 10
#define APPLIED_PARAMS 5

static const char * const sql[N_STMTS] = {
  [BEGIN_WRITE] = "BEGIN IMMEDIATE",
  [BEGIN_READ] = "BEGIN",
  [COMMIT] = "COMMIT",
  [ROLLBACK] = "ROLLBACK",
  [USER_ADD] = "INSERT INTO users (name, token_hash, created) VALUES (?1, ?2, ?3)",
  [USER_SET_TOKEN] = "UPDATE users SET token_hash = ?2 WHERE name = ?1",
  [USER_ID] = "SELECT id FROM users WHERE name = ?1",
  [USER_DEL_RECORDS] = "DELETE FROM records WHERE user_id = ?1",
  [USER_DEL_APPLIED] = "DELETE FROM applied WHERE user_id = ?1",
  [USER_DEL] = "DELETE FROM users WHERE id = ?1",
  [USER_LIST] = "SELECT id, name, created FROM users ORDER BY name",
  [USER_BY_TOKEN] = "SELECT id, name, created, token_hash FROM users WHERE token_hash = ?1",
  [USER_REVS] = "SELECT last_rev, purged_rev FROM users WHERE id = ?1",
  [SET_LAST_REV] = "UPDATE users SET last_rev = ?2 WHERE id = ?1",
  [FIND_APPLIED] = "SELECT rev, server_ms, hlc FROM applied WHERE user_id = ?1 AND change_id = ?2",
  [REMEMBER_APPLIED] = "INSERT OR REPLACE INTO applied (user_id, change_id, rev, server_ms, hlc)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
  [REMEMBER_APPLIED_MANY] = "INSERT OR REPLACE INTO applied (user_id, change_id, rev, server_ms, hlc)"
                            " VALUES " MANY (APPLIED_ROW),
  [GET_RECORD] = "SELECT " RECORD_COLUMNS " FROM records"
                 " WHERE user_id = ?1 AND collection = ?2 AND key = ?3",
  /* The writer's time without copying the hlc: see tether_server_hlc_writer_ms(). */
  [GET_STATE] = "SELECT rev, type, server_ms,"
                " coalesce (CAST (substr (hlc, 1, 13) AS INTEGER), server_ms) FROM records"
                " WHERE user_id = ?1 AND collection = ?2 AND key = ?3",
  [PUT_RECORD] = "INSERT OR REPLACE INTO records (user_id, " RECORD_COLUMNS ")"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
  [PUT_RECORDS_MANY] = "INSERT OR REPLACE INTO records (user_id, " RECORD_COLUMNS ")"
                       " VALUES " MANY (RECORD_ROW),
  [PULL_ALL] = "SELECT " RECORD_COLUMNS " FROM records"
               " WHERE user_id = ?1 AND rev > ?2 AND (?5 IS NULL OR client_id IS NOT ?5)"
               " ORDER BY rev LIMIT ?3",
  [PULL_SOME] = "SELECT " RECORD_COLUMNS " FROM records"
                " WHERE user_id = ?1 AND rev > ?2 AND (?5 IS NULL OR client_id IS NOT ?5)"
                " AND collection IN (SELECT value FROM json_each (?4)) ORDER BY rev LIMIT ?3",
  /* max (x, NULL) is NULL in SQLite, hence the coalesce. */
  [PURGE_REVS] = "UPDATE users SET purged_rev = max (purged_rev, coalesce ("
                 " (SELECT max (rev) FROM records r WHERE r.user_id = users.id"
                 "  AND r.data IS NULL AND r.server_ms < ?1), 0))",
  [PURGE_RECORDS] = "DELETE FROM records WHERE data IS NULL AND server_ms < ?1",
  [PURGE_APPLIED] = "DELETE FROM applied WHERE server_ms < ?1",
};

/* The applied table's key leads with the change id, not user_id (the same
 * for a whole batch): SQLite then settles most key comparisons on the first
 * column. Records: see TETHER_SQLITE_RECORDS_COLUMNS. */
static const char schema_sql[] =
  "CREATE TABLE IF NOT EXISTS users " TETHER_SQLITE_USERS_COLUMNS ";"
  "CREATE TABLE IF NOT EXISTS records " TETHER_SQLITE_RECORDS_COLUMNS ";"
  "CREATE TABLE IF NOT EXISTS applied ("
  " user_id INTEGER NOT NULL, change_id TEXT NOT NULL, rev INTEGER NOT NULL,"
  " server_ms INTEGER NOT NULL, hlc TEXT,"
  " PRIMARY KEY (change_id, user_id)) WITHOUT ROWID;";

static void store_iface_init (TetherServerStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherServerStoreSqlite, tether_server_store_sqlite, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_SERVER_STORE, store_iface_init))

gboolean
_tether_sqlite_fail (TetherServerStoreSqlite  *self,
      int                       rc,
      const char               *what,
      GError                  **error)
{
  int code = TETHER_SERVER_STORE_ERROR_FAILED;
  int primary = rc & 0xff;

  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    code = TETHER_SERVER_STORE_ERROR_BUSY;
  g_set_error (error, TETHER_SERVER_STORE_ERROR, code, "SQLite store: %s failed: %s",
               what, self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
  return FALSE;
}

/* The cached statement, reset and with its bindings cleared. */
sqlite3_stmt *
_tether_sqlite_stmt (TetherServerStoreSqlite *self,
      Stmt                     which)
{
  sqlite3_stmt *s = self->stmts[which];

  sqlite3_reset (s);
  sqlite3_clear_bindings (s);
  return s;
}

/* Steps a statement that returns no rows. */
gboolean
_tether_sqlite_run (TetherServerStoreSqlite  *self,
     sqlite3_stmt             *s,
     GError                  **error)
{
  int rc = sqlite3_step (s);

  sqlite3_reset (s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return _tether_sqlite_fail (self, rc, sqlite3_sql (s), error);
  return TRUE;
}

char *
_tether_sqlite_column_dup (sqlite3_stmt *s,
            int           column)
{
  const char *text = (const char *) sqlite3_column_text (s, column);

  return text != NULL ? g_strndup (text, sqlite3_column_bytes (s, column)) : NULL;
}

void
_tether_sqlite_bind_text (sqlite3_stmt *s,
           int           index,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (s, index);
  else
    sqlite3_bind_text (s, index, text, -1, SQLITE_STATIC);
}

gboolean
_tether_sqlite_begin (TetherServerStore  *store,
             GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;

  g_return_val_if_fail (!self->in_transaction, FALSE);
  if (!_tether_sqlite_run (self, _tether_sqlite_stmt (self, BEGIN_WRITE), error))
    return FALSE;
  self->in_transaction = TRUE;
  return TRUE;
}

gboolean
_tether_sqlite_commit (TetherServerStore  *store,
              GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;

  g_return_val_if_fail (self->in_transaction, FALSE);
  if (!_tether_sqlite_run (self, _tether_sqlite_stmt (self, COMMIT), error))
    return FALSE;   /* still open: the caller rolls back */
  self->in_transaction = FALSE;
  return TRUE;
}

void
_tether_sqlite_rollback (TetherServerStore *store)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;

  if (sqlite3_get_autocommit (self->db) == 0)
    _tether_sqlite_run (self, _tether_sqlite_stmt (self, ROLLBACK), NULL);
  self->in_transaction = FALSE;
}

/* last_rev and purged_rev of a user; FALSE with NOT_FOUND for an unknown id. */
static gboolean
user_revs (TetherServerStoreSqlite  *self,
           gint64                    user_id,
           gint64                   *last_rev,
           gint64                   *purged_rev,
           GError                  **error)
{
  sqlite3_stmt *s = _tether_sqlite_stmt (self, USER_REVS);
  int rc;

  sqlite3_bind_int64 (s, 1, user_id);
  rc = sqlite3_step (s);
  if (rc == SQLITE_ROW)
    {
      *last_rev = sqlite3_column_int64 (s, 0);
      *purged_rev = sqlite3_column_int64 (s, 1);
    }
  sqlite3_reset (s);
  if (rc == SQLITE_DONE)
    g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND,
                 "No user with id %" G_GINT64_FORMAT, user_id);
  else if (rc != SQLITE_ROW)
    return _tether_sqlite_fail (self, rc, "reading a user's revs", error);
  return rc == SQLITE_ROW;
}

/* BEGIN IMMEDIATE in begin() already holds the write lock. */
static gint64
store_lock_user (TetherServerStore  *store,
                 gint64              user_id,
                 GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  gint64 last_rev, purged_rev;

  if (!user_revs (self, user_id, &last_rev, &purged_rev, error))
    return -1;
  return last_rev;
}

static gboolean
store_set_last_rev (TetherServerStore  *store,
                    gint64              user_id,
                    gint64              rev,
                    GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  sqlite3_stmt *s = _tether_sqlite_stmt (self, SET_LAST_REV);

  sqlite3_bind_int64 (s, 1, user_id);
  sqlite3_bind_int64 (s, 2, rev);
  return _tether_sqlite_run (self, s, error);
}

static GHashTable *
store_find_applied (TetherServerStore   *store,
                    gint64               user_id,
                    const char * const  *change_ids,
                    guint                n,
                    GError             **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  g_autoptr(GHashTable) found = g_hash_table_new_full (_tether_server_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) tether_server_applied_free);
  sqlite3_stmt *s = _tether_sqlite_stmt (self, FIND_APPLIED);

  sqlite3_bind_int64 (s, 1, user_id);
  for (guint i = 0; i < n; i++)
    {
      TetherServerApplied *applied;
      int rc;

      sqlite3_bind_text (s, 2, change_ids[i], -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW && !g_hash_table_contains (found, change_ids[i]))
        {
          applied = g_new0 (TetherServerApplied, 1);
          applied->rev = sqlite3_column_int64 (s, 0);
          applied->server_ms = sqlite3_column_int64 (s, 1);
          applied->hlc = _tether_sqlite_column_dup (s, 2);
          g_hash_table_insert (found, g_strdup (change_ids[i]), applied);
        }
      sqlite3_reset (s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return _tether_sqlite_fail (self, rc, "finding applied changes", error), NULL;
    }
  return g_steal_pointer (&found);
}

static void
bind_applied (sqlite3_stmt              *s,
              int                        first,
              gint64                     user_id,
              const char                *change_id,
              const TetherServerApplied *applied)
{
  sqlite3_bind_int64 (s, first + 1, user_id);
  sqlite3_bind_text (s, first + 2, change_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, first + 3, applied->rev);
  sqlite3_bind_int64 (s, first + 4, applied->server_ms);
  _tether_sqlite_bind_text (s, first + 5, applied->hlc);
}

static gboolean
store_remember_applied (TetherServerStore          *store,
                        gint64                      user_id,
                        const char * const         *change_ids,
                        TetherServerApplied * const *applied,
                        guint                       n,
                        GError                    **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  guint i = 0;

  for (; n - i >= MANY_ROWS; i += MANY_ROWS)
    {
      sqlite3_stmt *s = _tether_sqlite_stmt (self, REMEMBER_APPLIED_MANY);

      for (guint k = 0; k < MANY_ROWS; k++)
        bind_applied (s, k * APPLIED_PARAMS, user_id, change_ids[i + k], applied[i + k]);
      if (!_tether_sqlite_run (self, s, error))
        return FALSE;
    }
  for (; i < n; i++)
    {
      sqlite3_stmt *s = _tether_sqlite_stmt (self, REMEMBER_APPLIED);

      bind_applied (s, 0, user_id, change_ids[i], applied[i]);
      if (!_tether_sqlite_run (self, s, error))
        return FALSE;
    }
  return TRUE;
}

/* A row of RECORD_COLUMNS. */
static TetherServerRecord *
read_record (sqlite3_stmt *s)
{
  TetherServerRecord *record = g_new (TetherServerRecord, 1);

  record->collection = _tether_sqlite_column_dup (s, 0);
  record->key = _tether_sqlite_column_dup (s, 1);
  record->rev = sqlite3_column_int64 (s, 2);
  record->type = sqlite3_column_int (s, 3);
  record->data = _tether_sqlite_column_dup (s, 4);
  record->server_ms = sqlite3_column_int64 (s, 5);
  record->hlc = _tether_sqlite_column_dup (s, 6);
  record->writer_ms = tether_server_hlc_writer_ms (record->hlc, record->server_ms);
  record->change_id = _tether_sqlite_column_dup (s, 7);
  record->client_id = _tether_sqlite_column_dup (s, 8);
  return record;
}

/* A row of GET_STATE: copying the texts was 40% of loading a batch's
 * records when it updates them. */
static TetherServerRecord *
read_state (sqlite3_stmt *s)
{
  TetherServerRecord *record = g_new0 (TetherServerRecord, 1);

  record->rev = sqlite3_column_int64 (s, 0);
  record->type = sqlite3_column_int (s, 1);
  record->server_ms = sqlite3_column_int64 (s, 2);
  record->writer_ms = sqlite3_column_int64 (s, 3);
  return record;
}

static GHashTable *
store_get_records (TetherServerStore   *store,
                   gint64               user_id,
                   const char * const  *collections,
                   const char * const  *keys,
                   guint                n,
                   gboolean             with_data,
                   GError             **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  g_autoptr(GHashTable) found = g_hash_table_new_full (_tether_server_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) tether_server_record_free);
  sqlite3_stmt *s = _tether_sqlite_stmt (self, with_data ? GET_RECORD : GET_STATE);

  sqlite3_bind_int64 (s, 1, user_id);
  for (guint i = 0; i < n; i++)
    {
      int rc;

      sqlite3_bind_text (s, 2, collections[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (s, 3, keys[i], -1, SQLITE_STATIC);
      rc = sqlite3_step (s);
      if (rc == SQLITE_ROW)
        g_hash_table_replace (found, tether_server_record_ref (collections[i], keys[i]),
                              with_data ? read_record (s) : read_state (s));
      sqlite3_reset (s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return _tether_sqlite_fail (self, rc, "reading records", error), NULL;
    }
  return g_steal_pointer (&found);
}

static void
bind_record (sqlite3_stmt             *s,
             int                       first,
             gint64                    user_id,
             const TetherServerRecord *r)
{
  sqlite3_bind_int64 (s, first + 1, user_id);
  sqlite3_bind_text (s, first + 2, r->collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (s, first + 3, r->key, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (s, first + 4, r->rev);
  sqlite3_bind_int (s, first + 5, r->type);
  _tether_sqlite_bind_text (s, first + 6, r->data);
  sqlite3_bind_int64 (s, first + 7, r->server_ms);
  _tether_sqlite_bind_text (s, first + 8, r->hlc);
  sqlite3_bind_text (s, first + 9, r->change_id, -1, SQLITE_STATIC);
  _tether_sqlite_bind_text (s, first + 10, r->client_id);
}

static gboolean
store_put_records (TetherServerStore          *store,
                   gint64                      user_id,
                   TetherServerRecord * const *records,
                   guint                       n,
                   GError                    **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  guint i = 0;

  for (; n - i >= MANY_ROWS; i += MANY_ROWS)
    {
      sqlite3_stmt *s = _tether_sqlite_stmt (self, PUT_RECORDS_MANY);

      for (guint k = 0; k < MANY_ROWS; k++)
        bind_record (s, k * RECORD_PARAMS, user_id, records[i + k]);
      if (!_tether_sqlite_run (self, s, error))
        return FALSE;
    }
  for (; i < n; i++)
    {
      sqlite3_stmt *s = _tether_sqlite_stmt (self, PUT_RECORD);

      bind_record (s, 0, user_id, records[i]);
      if (!_tether_sqlite_run (self, s, error))
        return FALSE;
    }
  return TRUE;
}

/* For json_each: written by the engine's writer, which escapes every
 * control character (json-glib 1.6 leaves U+001F raw, which SQLite's JSON
 * refuses, so such a filter failed instead of matching nothing). */
static char *
collections_json (const char * const *collections)
{
  GString *out = g_string_new ("[");

  for (guint i = 0; collections[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      _tether_json_append_string (out, collections[i]);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static GPtrArray *
read_feed (TetherServerStoreSqlite  *self,
           gint64                    user_id,
           gint64                    after_rev,
           const char * const       *collections,
           const char               *skip_client,
           guint                     limit,
           GError                  **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_full (MIN (limit, 1024),
                                                    (GDestroyNotify) tether_server_record_free);
  g_autofree char *filter = collections != NULL ? collections_json (collections) : NULL;
  sqlite3_stmt *s = _tether_sqlite_stmt (self, filter != NULL ? PULL_SOME : PULL_ALL);
  int rc;

  sqlite3_bind_int64 (s, 1, user_id);
  sqlite3_bind_int64 (s, 2, after_rev);
  sqlite3_bind_int64 (s, 3, limit);
  if (filter != NULL)
    sqlite3_bind_text (s, 4, filter, -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 5, skip_client, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    g_ptr_array_add (rows, read_record (s));
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    return _tether_sqlite_fail (self, rc, "reading the feed", error), NULL;
  return g_steal_pointer (&rows);
}

static GPtrArray *
store_pull (TetherServerStore   *store,
            gint64               user_id,
            gint64               after_rev,
            const char * const  *collections,
            const char          *skip_client,
            guint                limit,
            gint64              *last_rev,
            gint64              *purged_rev,
            GError             **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  gboolean own = !self->in_transaction;
  g_autoptr(GPtrArray) rows = NULL;

  /* One read transaction makes last_rev and the rows one snapshot. */
  if (own && !_tether_sqlite_run (self, _tether_sqlite_stmt (self, BEGIN_READ), error))
    return NULL;
  if (user_revs (self, user_id, last_rev, purged_rev, error))
    rows = read_feed (self, user_id, after_rev, collections, skip_client, limit, error);
  if (own && rows != NULL && !_tether_sqlite_run (self, _tether_sqlite_stmt (self, COMMIT), error))
    g_clear_pointer (&rows, g_ptr_array_unref);
  if (own && sqlite3_get_autocommit (self->db) == 0)
    _tether_sqlite_run (self, _tether_sqlite_stmt (self, ROLLBACK), NULL);
  return g_steal_pointer (&rows);
}

static gint64
store_purge (TetherServerStore  *store,
             gint64              before_ms,
             GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  static const Stmt steps[] = { PURGE_REVS, PURGE_RECORDS, PURGE_APPLIED };
  gint64 purged = 0;

  if (!_tether_sqlite_begin (store, error))
    return -1;
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      sqlite3_stmt *s = _tether_sqlite_stmt (self, steps[i]);

      sqlite3_bind_int64 (s, 1, before_ms);
      if (!_tether_sqlite_run (self, s, error))
        {
          _tether_sqlite_rollback (store);
          return -1;
        }
      if (steps[i] == PURGE_RECORDS)
        purged = sqlite3_changes64 (self->db);
    }
  if (!_tether_sqlite_commit (store, error))
    {
      _tether_sqlite_rollback (store);
      return -1;
    }
  return purged;
}

static void
store_iface_init (TetherServerStoreInterface *iface)
{
  iface->begin = _tether_sqlite_begin;
  iface->commit = _tether_sqlite_commit;
  iface->rollback = _tether_sqlite_rollback;
  _tether_sqlite_users_iface_init (iface);
  iface->lock_user = store_lock_user;
  iface->set_last_rev = store_set_last_rev;
  iface->find_applied = store_find_applied;
  iface->remember_applied = store_remember_applied;
  iface->get_records = store_get_records;
  iface->put_records = store_put_records;
  iface->pull = store_pull;
  iface->purge = store_purge;
  iface->notify = NULL;   /* one process owns the file: nobody to tell */
  iface->prepare = _tether_sqlite_prepare_log;
}

static void
tether_server_store_sqlite_finalize (GObject *object)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) object;

  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close);
  G_OBJECT_CLASS (tether_server_store_sqlite_parent_class)->finalize (object);
}

static void
tether_server_store_sqlite_class_init (TetherServerStoreSqliteClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_server_store_sqlite_finalize;
}

static void
tether_server_store_sqlite_init (TetherServerStoreSqlite *self)
{
}

/* WAL with synchronous=FULL: an acknowledged push survives power loss, and
 * a kill -9 mid-push leaves the whole batch or none of it. */
static gboolean
open_db (TetherServerStoreSqlite  *self,
         const char               *path,
         GError                  **error)
{
  /* One thread uses a store, as its in_transaction flag already assumes. */
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc;

  if (!_tether_sqlite_prepare_file (path, error))
    return FALSE;
  rc = sqlite3_open_v2 (path, &self->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "Cannot open the database “%s”: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
      return FALSE;
    }
  sqlite3_busy_timeout (self->db, 5000);
  if (!_tether_sqlite_check_tables (self->db, path, error))
    return FALSE;
  /* 16 KiB pages (only for a new file) fit a record row several times over:
   * pushes run ~20% faster than with 4 KiB ones. */
  rc = sqlite3_exec (self->db, "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL;"
                     " PRAGMA synchronous = FULL; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
                     NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (self->db, schema_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK &&
      (!_tether_sqlite_upgrade_users (self->db, path, error) ||
       !_tether_sqlite_upgrade_records (self->db, path, error)))
    return FALSE;
  /* after the upgrade: an older file has records_rev on its old table */
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (self->db, TETHER_SQLITE_RECORDS_INDEXES, NULL, NULL, NULL);
  for (guint i = 0; rc == SQLITE_OK && i < N_STMTS; i++)
    rc = sqlite3_prepare_v3 (self->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                             &self->stmts[i], NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "Cannot set up the database “%s”: %s", path, sqlite3_errmsg (self->db));
      return FALSE;
    }
  return TRUE;
}

TetherServerStore *
tether_server_store_sqlite_new (const char  *path,
                                GError     **error)
{
  g_autoptr(TetherServerStoreSqlite) self = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (TETHER_TYPE_SERVER_STORE_SQLITE, NULL);
  if (!open_db (self, path, error))
    return NULL;
  return TETHER_SERVER_STORE (g_steal_pointer (&self));
}
