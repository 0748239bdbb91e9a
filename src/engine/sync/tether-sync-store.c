/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-store"
#include "config.h"

#include "tether-sync-store-private.h"

/* The sync tables and the change log. The log lives in the database file so
 * that a local write and its entry commit or roll back together; see the
 * table layouts in tether-sync-private.h. */

#define CHANGE_COLUMNS \
  "seq, id, collection, record_id, type, data, prev_data, base_rev, hlc," \
  " timestamp, status, retries, error, push_id, created, updated"
/* An entry with its payload (c is the entry). */
#define CHANGE_ROWS "_tether_changes c JOIN _tether_change_data USING (seq)"

/* One string per record, for hash tables keyed by record. */
char *
_tether_sync_record_key (const char *collection,
                         const char *record_id)
{
  return g_strdup_printf ("%s\x1f%s", collection, record_id);
}

gboolean
_tether_sync_store_step (TetherDatabase  *db,
                         sqlite3_stmt    *stmt,
                         const char      *context,
                         GError         **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    _tether_database_set_error (db, rc, error, context);
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE;
}

/* Tables and client id ------------------------------------------------------ */

/* The stored id in *@id, NULL when there is none yet. */
static gboolean
read_client_id (TetherDatabase  *db,
                char           **id,
                GError         **error)
{
  g_autoptr(GError) local_error = NULL;

  *id = _tether_database_meta_get (db, "sync.client_id", &local_error);
  if (local_error == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
client_id_in_transaction (TetherDatabase  *db,
                          gpointer         user_data,
                          GError         **error)
{
  char **id = user_data;

  if (!read_client_id (db, id, error))
    return FALSE;
  if (*id != NULL)
    return TRUE;
  *id = tether_uuid_v4_new ();
  return _tether_database_meta_set (db, "sync.client_id", *id, error);
}

/* Made once per database file and never changed: the server and the HLC
 * node name use it to tell our changes from everyone else's. Read first:
 * the transaction takes the write lock, which only the first call needs. */
char *
_tether_sync_store_client_id (TetherDatabase  *db,
                              GError         **error)
{
  g_autofree char *id = NULL;

  if (!read_client_id (db, &id, error))
    return NULL;
  if (id == NULL && !tether_database_transaction (db, client_id_in_transaction, &id, error))
    return NULL;
  return g_steal_pointer (&id);
}

/* hlcs sort as text (tether-hlc.h), as SQLite compares them. */
gboolean
_tether_sync_store_keep_hlc (TetherDatabase  *db,
                             const char      *hlc,
                             GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT INTO _tether_meta (key, value) VALUES ('sync.hlc', ?1) ON CONFLICT (key)"
    " DO UPDATE SET value = excluded.value WHERE excluded.value > _tether_meta.value", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, hlc, -1, SQLITE_STATIC);
  return _tether_sync_store_step (db, stmt, "storing the sync clock", error);
}

static gboolean
ensure_in_transaction (TetherDatabase  *db,
                       gpointer         user_data,
                       GError         **error)
{
  g_autofree char *id = NULL;

  return _tether_sync_store_create_tables (db, error) &&
         client_id_in_transaction (db, &id, error);
}

gboolean
_tether_sync_store_ensure (TetherDatabase  *db,
                           GError         **error)
{
  return tether_database_transaction (db, ensure_in_transaction, NULL, error);
}

/* Reading rows --------------------------------------------------------------- */

static char *
dup_column_text (sqlite3_stmt *stmt,
                 int           col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

static gpointer
row_from_stmt (sqlite3_stmt *stmt)
{
  TetherChangeRow *row = g_new0 (TetherChangeRow, 1);

  row->seq = sqlite3_column_int64 (stmt, 0);
  row->id = dup_column_text (stmt, 1);
  row->collection = dup_column_text (stmt, 2);
  row->record_id = dup_column_text (stmt, 3);
  row->type = sqlite3_column_int (stmt, 4);
  row->data = dup_column_text (stmt, 5);
  row->prev_data = dup_column_text (stmt, 6);
  row->base_rev = sqlite3_column_int64 (stmt, 7);
  row->hlc = dup_column_text (stmt, 8);
  row->timestamp = sqlite3_column_int64 (stmt, 9);
  row->status = sqlite3_column_int (stmt, 10);
  row->retries = sqlite3_column_int (stmt, 11);
  row->error = dup_column_text (stmt, 12);
  row->push_id = dup_column_text (stmt, 13);
  row->created = sqlite3_column_int64 (stmt, 14);
  row->updated = sqlite3_column_int64 (stmt, 15);
  return row;
}

GPtrArray *
_tether_sync_store_collect (TetherDatabase     *db,
                            sqlite3_stmt       *stmt,
                            TetherSyncRowFunc   read,
                            GDestroyNotify      free_func,
                            const char         *context,
                            GError            **error)
{
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (free_func);
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (items, read (stmt));
  if (rc != SQLITE_DONE)
    _tether_database_set_error (db, rc, error, context);
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE ? g_steal_pointer (&items) : NULL;
}

gpointer
_tether_sync_store_get_by_id (TetherDatabase     *db,
                              const char         *sql,
                              const char         *id,
                              TetherSyncRowFunc   read,
                              GDestroyNotify      free_func,
                              const char         *what,
                              GError            **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db, sql, error);
  g_autoptr(GPtrArray) items = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  items = _tether_sync_store_collect (db, stmt, read, free_func, "reading the sync state", error);
  if (items == NULL)
    return NULL;
  if (items->len == 0)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND,
                   "no %s with id '%s' in the %s log", what, id, what);
      return NULL;
    }
  return g_ptr_array_steal_index (items, 0);
}

static GPtrArray *
collect_rows (TetherDatabase  *db,
              sqlite3_stmt    *stmt,
              GError         **error)
{
  return _tether_sync_store_collect (db, stmt, row_from_stmt,
                                     (GDestroyNotify) _tether_change_row_free,
                                     "reading the change log", error);
}

static sqlite3_int64
limit_value (guint limit)
{
  return limit > 0 ? (sqlite3_int64) limit : -1;
}

GPtrArray *
_tether_sync_store_list (TetherDatabase  *db,
                         int              status,
                         guint            limit,
                         GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT " CHANGE_COLUMNS " FROM " CHANGE_ROWS
    " WHERE ?1 < 0 OR status = ?1 ORDER BY seq LIMIT ?2", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int (stmt, 1, status);
  sqlite3_bind_int64 (stmt, 2, limit_value (limit));
  return collect_rows (db, stmt, error);
}

/* The first @limit records (0: all) with entries to send, in the order of
 * their first entry, as a JSON array of [collection, record_id]. The scan
 * walks the outbox index in log order and stops there, so a batch reads
 * about as many entries as it sends, not the whole log. */
static char *
outbox_records (TetherDatabase  *db,
                guint            limit,
                GHashTable      *busy,
                guint           *n_records,
                GError         **error)
{
  G_STATIC_ASSERT (TETHER_CHANGE_PENDING == 0 && TETHER_CHANGE_SYNCING == 1);
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT collection, record_id FROM _tether_changes c WHERE status IN (0, 1)"
    " AND NOT EXISTS (SELECT 1 FROM _tether_conflicts k"
    "   WHERE k.collection = c.collection AND k.record_id = c.record_id AND k.status = ?1)"
    " ORDER BY seq", error);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GString) keys = g_string_new ("[");
  int rc = SQLITE_DONE;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int (stmt, 1, TETHER_CONFLICT_OPEN);
  while ((limit == 0 || g_hash_table_size (seen) < limit) && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *collection = (const char *) sqlite3_column_text (stmt, 0);
      const char *record_id = (const char *) sqlite3_column_text (stmt, 1);
      char *key = _tether_sync_record_key (collection, record_id);

      if (busy != NULL && g_hash_table_contains (busy, key))
        {
          g_free (key);
          continue;
        }
      if (!g_hash_table_add (seen, key))
        continue;
      g_string_append (keys, keys->len > 1 ? ",[" : "[");
      _tether_json_append_string (keys, collection);
      g_string_append_c (keys, ',');
      _tether_json_append_string (keys, record_id);
      g_string_append_c (keys, ']');
    }
  if (limit > 0 && g_hash_table_size (seen) == limit)
    rc = SQLITE_DONE;
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return _tether_database_set_error (db, rc, error, "reading the change log"), NULL;
  g_string_append_c (keys, ']');
  *n_records = g_hash_table_size (seen);
  return g_string_free (g_steal_pointer (&keys), FALSE);
}

GPtrArray *
_tether_sync_store_outbox (TetherDatabase  *db,
                           guint            limit,
                           GHashTable      *busy,
                           GError         **error)
{
  /* Whole records, so that all of a record's changes go out as one even
   * when a long log holds its create and its edits far apart. */
  g_autofree char *records = NULL;
  sqlite3_stmt *stmt;
  guint n = 0;

  if ((records = outbox_records (db, limit, busy, &n, error)) == NULL)
    return NULL;
  if (n == 0)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_change_row_free);
  stmt = _tether_database_prepare_cached (db,
    "SELECT " CHANGE_COLUMNS " FROM " CHANGE_ROWS " WHERE status IN (?2, ?3)"
    " AND (collection, record_id) IN (SELECT json_extract (value, '$[0]'), json_extract (value, '$[1]')"
    "   FROM json_each (?1)) ORDER BY seq", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, records, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, TETHER_CHANGE_PENDING);
  sqlite3_bind_int (stmt, 3, TETHER_CHANGE_SYNCING);
  return collect_rows (db, stmt, error);
}

GPtrArray *
_tether_sync_store_record_changes (TetherDatabase  *db,
                                   const char      *collection,
                                   const char      *record_id,
                                   GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT " CHANGE_COLUMNS " FROM " CHANGE_ROWS
    " WHERE collection = ?1 AND record_id = ?2 AND status IN (?3, ?4, ?5) ORDER BY seq", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, TETHER_CHANGE_PENDING);
  sqlite3_bind_int (stmt, 4, TETHER_CHANGE_SYNCING);
  sqlite3_bind_int (stmt, 5, TETHER_CHANGE_FAILED);
  return collect_rows (db, stmt, error);
}

TetherChangeRow *
_tether_sync_store_get_change (TetherDatabase  *db,
                               const char      *change_id,
                               GError         **error)
{
  return _tether_sync_store_get_by_id (db, "SELECT " CHANGE_COLUMNS " FROM " CHANGE_ROWS " WHERE id = ?1",
                                       change_id, row_from_stmt,
                                       (GDestroyNotify) _tether_change_row_free, "change", error);
}

/* Writing rows --------------------------------------------------------------- */

/* The columns of an entry update_change writes, bound from ?@first on in
 * this order. */
#define MUTABLE_COLUMNS \
  "type, base_rev, hlc, timestamp, status, retries, error, push_id, updated"

static void
bind_mutable (sqlite3_stmt    *stmt,
              int              first,
              TetherChangeRow *row)
{
  sqlite3_bind_int (stmt, first, row->type);
  sqlite3_bind_int64 (stmt, first + 1, row->base_rev);
  sqlite3_bind_text (stmt, first + 2, row->hlc, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, first + 3, row->timestamp);
  sqlite3_bind_int (stmt, first + 4, row->status);
  sqlite3_bind_int (stmt, first + 5, row->retries);
  sqlite3_bind_text (stmt, first + 6, row->error, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, first + 7, row->push_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, first + 8, row->updated);
}

/* The entry's payload, inserted or replaced. */
static gboolean
write_payload (TetherDatabase   *db,
               TetherChangeRow  *row,
               const char       *context,
               GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT OR REPLACE INTO _tether_change_data (seq, data, prev_data) VALUES (?1, ?2, ?3)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, row->seq);
  sqlite3_bind_text (stmt, 2, row->data, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, row->prev_data, -1, SQLITE_STATIC);
  return _tether_sync_store_step (db, stmt, context, error);
}

/* Runs once per local write, inside its transaction: two cached INSERTs. */
gboolean
_tether_sync_store_append (TetherDatabase   *db,
                           TetherChangeRow  *row,
                           GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT INTO _tether_changes (id, collection, record_id, created, " MUTABLE_COLUMNS ")"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, row->id, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, row->collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, row->record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 4, row->created);
  bind_mutable (stmt, 5, row);
  if (!_tether_sync_store_step (db, stmt, "appending to the change log", error))
    return FALSE;
  row->seq = sqlite3_last_insert_rowid (_tether_database_get_handle (db));
  return write_payload (db, row, "appending to the change log", error);
}

/* The row was updated; another process may have discarded or compacted
 * it meanwhile. */
static gboolean
step_row_update (TetherDatabase   *db,
                 sqlite3_stmt     *stmt,
                 TetherChangeRow  *row,
                 GError          **error)
{
  if (!_tether_sync_store_step (db, stmt, "updating the change log", error))
    return FALSE;
  if (sqlite3_changes (_tether_database_get_handle (db)) == 0)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND,
                   "change '%s' is no longer in the change log", row->id);
      return FALSE;
    }
  return TRUE;
}

gboolean
_tether_sync_store_update_change (TetherDatabase   *db,
                                  TetherChangeRow  *row,
                                  GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "UPDATE _tether_changes SET (" MUTABLE_COLUMNS ")"
    " = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) WHERE seq = ?10", error);

  if (stmt == NULL)
    return FALSE;
  row->updated = tether_time_now_ms ();
  bind_mutable (stmt, 1, row);
  sqlite3_bind_int64 (stmt, 10, row->seq);
  return step_row_update (db, stmt, row, error) &&
         write_payload (db, row, "updating the change log", error);
}

/* A push marks every row two or three times: the state alone, never the
 * payload beside it. */
gboolean
_tether_sync_store_update_state (TetherDatabase   *db,
                                 TetherChangeRow  *row,
                                 GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "UPDATE _tether_changes SET (status, retries, error, push_id, base_rev, updated)"
    " = (?1, ?2, ?3, ?4, ?5, ?6) WHERE seq = ?7", error);

  if (stmt == NULL)
    return FALSE;
  row->updated = tether_time_now_ms ();
  sqlite3_bind_int (stmt, 1, row->status);
  sqlite3_bind_int (stmt, 2, row->retries);
  sqlite3_bind_text (stmt, 3, row->error, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, row->push_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, row->base_rev);
  sqlite3_bind_int64 (stmt, 6, row->updated);
  sqlite3_bind_int64 (stmt, 7, row->seq);
  return step_row_update (db, stmt, row, error);
}

gboolean
_tether_sync_store_delete_change (TetherDatabase  *db,
                                  gint64           seq,
                                  GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "DELETE FROM _tether_changes WHERE seq = ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, seq);
  return _tether_sync_store_step (db, stmt, "removing a change from the change log", error);
}

/* Runs @sql with ?1 = @status and ?2 (if used) = now; the number of rows it
 * changed, -1 on error. */
static gint
run_on_status (TetherDatabase      *db,
               const char          *sql,
               TetherChangeStatus   status,
               GError             **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db, sql, error);

  if (stmt == NULL)
    return -1;
  sqlite3_bind_int (stmt, 1, status);
  if (sqlite3_bind_parameter_count (stmt) > 1)
    sqlite3_bind_int64 (stmt, 2, tether_time_now_ms ());
  if (!_tether_sync_store_step (db, stmt, "updating the change log", error))
    return -1;
  return sqlite3_changes (_tether_database_get_handle (db));
}

gboolean
_tether_sync_store_delete_committed (TetherDatabase  *db,
                                     GError         **error)
{
  return run_on_status (db, "DELETE FROM _tether_changes WHERE status = ?1",
                        TETHER_CHANGE_COMMITTED, error) >= 0;
}

/* One statement on the record's index: no row is read into memory, which
 * matters as every accepted change of a push runs it. */
gboolean
_tether_sync_store_commit_failed_before (TetherDatabase  *db,
                                         const char      *collection,
                                         const char      *record_id,
                                         gint64           seq,
                                         GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "UPDATE _tether_changes SET status = ?4, updated = ?5"
    " WHERE collection = ?1 AND record_id = ?2 AND status = 3 AND seq < ?6", error);

  G_STATIC_ASSERT (TETHER_CHANGE_FAILED == 3);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 4, TETHER_CHANGE_COMMITTED);
  sqlite3_bind_int64 (stmt, 5, tether_time_now_ms ());
  sqlite3_bind_int64 (stmt, 6, seq);
  return _tether_sync_store_step (db, stmt, "updating the change log", error);
}

/* Whether any entry failed (the partial index: no pass over the log). */
gboolean
_tether_sync_store_any_failed (TetherDatabase  *db,
                               gboolean        *any,
                               GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT EXISTS (SELECT 1 FROM _tether_changes INDEXED BY _tether_changes_failed WHERE status = 3)",
    error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *any = sqlite3_column_int (stmt, 0) != 0;
  else
    _tether_database_set_error (db, rc, error, "reading the change log");
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

/* A crashed sync may or may not have reached the server: the push_id stays
 * so that the next push reuses it and the server's idempotency applies. */
gint
_tether_sync_store_reset_syncing (TetherDatabase  *db,
                                  GError         **error)
{
  G_STATIC_ASSERT (TETHER_CHANGE_PENDING == 0);
  return run_on_status (db, "UPDATE _tether_changes SET status = 0, updated = ?2 WHERE status = ?1",
                        TETHER_CHANGE_SYNCING, error);
}

typedef struct {
  gint revived;
} RetryFailed;

static gboolean
retry_failed_in_transaction (TetherDatabase  *db,
                             gpointer         user_data,
                             GError         **error)
{
  RetryFailed *retry = user_data;

  G_STATIC_ASSERT (TETHER_CHANGE_SYNCING == 1 && TETHER_CHANGE_COMMITTED == 2);
  /* A newer entry of the record on the wire (a sync here or in another
   * process), or sent and back to pending after a lost answer (it goes
   * again first, under its push_id), carries its whole state: the answer
   * to it commits the older failed ones, and revived now they would go
   * out after it, older data over newer on a server that does not check
   * bases. */
  if (run_on_status (db,
        "UPDATE _tether_changes AS c SET status = 2, updated = ?2 WHERE status = ?1"
        " AND EXISTS (SELECT 1 FROM _tether_changes n WHERE n.collection = c.collection"
        "   AND n.record_id = c.record_id AND n.seq > c.seq"
        "   AND (n.status = 1 OR (n.status = 0 AND n.push_id IS NOT NULL)))",
        TETHER_CHANGE_FAILED, error) < 0)
    return FALSE;
  retry->revived = run_on_status (db,
    "UPDATE _tether_changes SET status = 0, retries = 0, error = NULL, updated = ?2"
    " WHERE status = ?1", TETHER_CHANGE_FAILED, error);
  return retry->revived >= 0;
}

/* push_id is kept for the same reason as in reset_syncing: a change that ran
 * out of retries may still have been applied by the server. */
gint
_tether_sync_store_retry_failed (TetherDatabase  *db,
                                 GError         **error)
{
  RetryFailed retry = { 0 };

  if (!tether_database_transaction (db, retry_failed_in_transaction, &retry, error))
    return -1;
  return retry.revived;
}

gboolean
_tether_sync_store_stats (TetherDatabase   *db,
                          TetherSyncStats  *stats,
                          GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT count(*), total(status = ?1), total(status = ?2), total(status = ?3),"
    " total(status = ?4), (SELECT count(*) FROM _tether_conflicts WHERE status = ?5)"
    " FROM _tether_changes", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, TETHER_CHANGE_PENDING);
  sqlite3_bind_int (stmt, 2, TETHER_CHANGE_SYNCING);
  sqlite3_bind_int (stmt, 3, TETHER_CHANGE_COMMITTED);
  sqlite3_bind_int (stmt, 4, TETHER_CHANGE_FAILED);
  sqlite3_bind_int (stmt, 5, TETHER_CONFLICT_OPEN);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    {
      stats->total = sqlite3_column_int (stmt, 0);
      stats->pending = sqlite3_column_int (stmt, 1);
      stats->syncing = sqlite3_column_int (stmt, 2);
      stats->committed = sqlite3_column_int (stmt, 3);
      stats->failed = sqlite3_column_int (stmt, 4);
      stats->conflicts_open = sqlite3_column_int (stmt, 5);
    }
  else
    _tether_database_set_error (db, rc, error, "counting the change log");
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

/* Discard and compact -------------------------------------------------------- */

/* The rows sent under @push_id, less one, are no longer the change the
 * server may have applied under that id: resent under it, the server
 * would answer with the first version's rev and the shadow would take
 * data the server does not hold. Sent under a new id instead, they are
 * judged by their base like any edit: a conflict, decided by the
 * strategy, when the first version did reach the server. */
static gboolean
forget_push_id (TetherDatabase  *db,
                const char      *push_id,
                GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "UPDATE _tether_changes SET push_id = NULL, updated = ?2 WHERE push_id = ?1", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, push_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, tether_time_now_ms ());
  return _tether_sync_store_step (db, stmt, "updating the change log", error);
}

static gboolean
discard_in_transaction (TetherDatabase  *db,
                        gpointer         user_data,
                        GError         **error)
{
  const char *change_id = user_data;
  g_autoptr(TetherChangeRow) row = _tether_sync_store_get_change (db, change_id, error);

  if (row == NULL)
    return FALSE;
  if (row->status == TETHER_CHANGE_SYNCING)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BUSY,
                   "change %s is being sent; wait for the sync to finish", change_id);
      return FALSE;
    }
  return _tether_sync_store_delete_change (db, row->seq, error) &&
         (row->push_id == NULL || forget_push_id (db, row->push_id, error));
}

gboolean
_tether_sync_store_discard (TetherDatabase  *db,
                            const char      *change_id,
                            GError         **error)
{
  if (change_id == NULL)
    {
      g_set_error_literal (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                           "no change id given");
      return FALSE;
    }
  return tether_database_transaction (db, discard_in_transaction, (gpointer) change_id, error);
}

/* Pending rows of records that are safe to squash: none of their rows is
 * being sent, and no pending one may already have reached the server. */
static GPtrArray *
compactable_rows (TetherDatabase  *db,
                  GError         **error)
{
  g_autoptr(sqlite3_stmt) stmt = _tether_database_prepare (db,
    "SELECT " CHANGE_COLUMNS " FROM " CHANGE_ROWS " WHERE status = ?1"
    " AND NOT EXISTS (SELECT 1 FROM _tether_changes s"
    "   WHERE s.collection = c.collection AND s.record_id = c.record_id"
    "   AND (s.status = ?2 OR (s.status = ?1 AND s.push_id IS NOT NULL)))"
    " ORDER BY collection, record_id, seq", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int (stmt, 1, TETHER_CHANGE_PENDING);
  sqlite3_bind_int (stmt, 2, TETHER_CHANGE_SYNCING);
  return collect_rows (db, stmt, error);
}

static gboolean
same_record (TetherChangeRow *a,
             TetherChangeRow *b)
{
  return g_str_equal (a->collection, b->collection) && g_str_equal (a->record_id, b->record_id);
}

/* Squash rows[first..last] (one record, log order) into the last row, which
 * keeps its id, hlc and timestamp; what it becomes depends only on whether
 * the record existed before the first change and after the last. Returns
 * the number of rows removed, -1 on error. */
static gint
squash (TetherDatabase  *db,
        GPtrArray       *rows,
        guint            first,
        guint            last,
        GError         **error)
{
  TetherChangeRow *head = g_ptr_array_index (rows, first);
  TetherChangeRow *tail = g_ptr_array_index (rows, last);
  gboolean existed = head->type != TETHER_CHANGE_CREATE;
  gboolean exists = tail->type != TETHER_CHANGE_DELETE;

  for (guint i = first; i < last; i++)
    {
      TetherChangeRow *row = g_ptr_array_index (rows, i);

      if (!_tether_sync_store_delete_change (db, row->seq, error))
        return -1;
    }
  if (!existed && !exists)
    return _tether_sync_store_delete_change (db, tail->seq, error) ? (gint) (last - first + 1) : -1;

  tail->type = !existed ? TETHER_CHANGE_CREATE : exists ? TETHER_CHANGE_UPDATE : TETHER_CHANGE_DELETE;
  g_free (tail->prev_data);
  tail->prev_data = existed ? g_strdup (head->prev_data) : NULL;
  tail->base_rev = head->base_rev;
  return _tether_sync_store_update_change (db, tail, error) ? (gint) (last - first) : -1;
}

static gboolean
compact_in_transaction (TetherDatabase  *db,
                        gpointer         user_data,
                        GError         **error)
{
  g_autoptr(GPtrArray) rows = compactable_rows (db, error);
  gint *removed = user_data;
  guint first = 0;

  if (rows == NULL)
    return FALSE;
  for (guint i = 1; i <= rows->len; i++)
    {
      gint n;

      if (i < rows->len && same_record (g_ptr_array_index (rows, first), g_ptr_array_index (rows, i)))
        continue;
      n = i - first > 1 ? squash (db, rows, first, i - 1, error) : 0;
      if (n < 0)
        return FALSE;
      *removed += n;
      first = i;
    }
  return TRUE;
}

gint
_tether_sync_store_compact (TetherDatabase  *db,
                            GError         **error)
{
  gint removed = 0;

  if (!tether_database_transaction (db, compact_in_transaction, &removed, error))
    return -1;
  return removed;
}
