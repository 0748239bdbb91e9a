/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-collection"
#include "config.h"

#include <string.h>

#include "tether-private.h"

/* The write path: one row write, the hooks, and the queued change signal.
 * These run inside a write scope the caller opened, and leave the rollback
 * of a failure to that scope, so a failure anywhere leaves nothing. */

static TetherDatabase *
db_of (TetherCollection *self)
{
  return tether_collection_get_database (self);
}

/* Turn SQLite's "UNIQUE constraint failed: index 'i_notes_slug'" into a
 * message naming the field and the value a person typed. */
static gboolean
set_constraint_error (TetherCollection *self,
                      JsonObject       *data,
                      int               rc,
                      GError          **error)
{
  TetherSchema *schema = tether_database_get_schema (db_of (self));
  const char *name = tether_collection_get_name (self);
  const char *message = sqlite3_errmsg (_tether_database_get_handle (db_of (self)));
  const char *id = json_object_get_string_member_with_default (data, "id", "");

  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || strstr (message, ".id") != NULL)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_EXISTS,
                   "%s: a record with id '%s' already exists", name, id);
      return FALSE;
    }
  for (guint i = 0; i < tether_schema_get_n_indexes (schema, name); i++)
    {
      const char * const *fields = tether_schema_get_index_fields (schema, name, i);
      g_autofree char *index = _tether_sql_index_name (name, fields);
      g_autofree char *quoted = g_strdup_printf ("'%s'", index);
      g_autoptr(GString) values = g_string_new (NULL);
      g_autofree char *joined = NULL;

      if (strstr (message, quoted) == NULL)
        continue;
      for (guint f = 0; fields[f] != NULL; f++)
        {
          JsonNode *node = json_object_get_member (data, fields[f]);
          g_autofree char *text = node ? _tether_json_to_string (node) : g_strdup ("null");
          g_string_append_printf (values, "%s%s", f ? ", " : "", text);
        }
      joined = g_strjoinv (",", (char **) fields);
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_UNIQUE,
                   "%s.%s: %s is already used by another record (the index is unique)",
                   name, joined, values->str);
      return FALSE;
    }
  return _tether_database_set_error (db_of (self), rc, error, name);
}

static gboolean
check_size (TetherCollection *self,
            JsonObject       *data,
            const char       *text,
            GError          **error)
{
  gsize len = strlen (text);

  if (len <= TETHER_MAX_RECORD_BYTES)
    return TRUE;
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_TOO_LARGE,
               "%s/%s: the record is %.2f MiB, over the 1 MiB limit",
               tether_collection_get_name (self),
               json_object_get_string_member_with_default (data, "id", "?"),
               len / (1024.0 * 1024.0));
  return FALSE;
}

static char *
serialize_checked (TetherCollection *self,
                   JsonObject       *data,
                   GError          **error)
{
  g_autofree char *text = _tether_json_object_to_string_checked (data, tether_collection_get_name (self),
                                                                 error);

  if (text == NULL)
    return NULL;
  return check_size (self, data, text, error) ? g_steal_pointer (&text) : NULL;
}

/* Before any copy or walk that recurses as deep as @data goes: a server
 * would refuse the record, SQLite's JSON functions fail past 2,000 levels
 * and the recursive writers overflow the stack long before 100,000. */
gboolean
_tether_collection_check_depth (TetherCollection  *self,
                                JsonObject        *data,
                                GError           **error)
{
  const char *member = _tether_json_object_deeper (data, TETHER_MAX_RECORD_DEPTH);

  if (member == NULL)
    return TRUE;
  g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
               "%s.%s: nested deeper than a record may be (%d levels of objects and arrays, "
               "counting the record)", tether_collection_get_name (self), member, TETHER_MAX_RECORD_DEPTH);
  return FALSE;
}

/* Copy @data (unless the caller hands it over with TAKE_DATA), give it @id
 * (or keep its own, or a new UUIDv7), apply defaults and checks. A caller's
 * object is never modified. */
static JsonObject *
prepare (TetherCollection *self,
         JsonObject       *data,
         const char       *id,
         TetherWriteFlags  flags,
         GError          **error)
{
  g_autoptr(JsonObject) object = NULL;

  if (!(flags & TETHER_WRITE_NO_VALIDATE) && !_tether_collection_check_depth (self, data, error))
    return NULL;
  object = (flags & TETHER_WRITE_TAKE_DATA) ? json_object_ref (data) : _tether_json_object_deep_copy (data);
  if (id != NULL)
    json_object_set_string_member (object, "id", id);
  else if (!json_object_has_member (object, "id"))
    {
      g_autofree char *uuid = tether_uuid_v7_new ();
      json_object_set_string_member (object, "id", uuid);
    }
  if (!(flags & TETHER_WRITE_NO_VALIDATE) &&
      !tether_schema_validate (tether_database_get_schema (db_of (self)),
                               tether_collection_get_name (self), object, error))
    return NULL;
  return g_steal_pointer (&object);
}

static gboolean
run_hooks (TetherCollection *self,
           TetherChangeType  type,
           TetherRecord     *old_record,
           TetherRecord     *new_record,
           TetherWriteFlags  flags,
           GError          **error)
{
  GPtrArray *hooks = _tether_database_get_hooks (db_of (self));

  if (flags & TETHER_WRITE_SKIP_HOOKS)
    return TRUE;
  for (guint i = 0; i < hooks->len; i++)
    {
      TetherWriteHook *hook = g_ptr_array_index (hooks, i);
      g_autoptr(GError) local_error = NULL;
      gboolean ok;

      if (type == TETHER_CHANGE_CREATE)
        ok = tether_write_hook_after_create (hook, self, new_record, &local_error);
      else if (type == TETHER_CHANGE_UPDATE)
        ok = tether_write_hook_after_update (hook, self, old_record, new_record, &local_error);
      else
        ok = tether_write_hook_after_delete (hook, self, old_record, &local_error);
      if (!ok)
        {
          if (local_error != NULL)
            g_propagate_error (error, g_steal_pointer (&local_error));
          else
            g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_HOOK,
                         "%s: the write was refused by %s", tether_collection_get_name (self),
                         G_OBJECT_TYPE_NAME (hook));
          return FALSE;
        }
    }
  return TRUE;
}

/* Finish a write whose row is already written: hooks, then the queued signal. */
static gboolean
finish (TetherCollection *self,
        TetherChangeType  type,
        const char       *id,
        TetherRecord     *old_record,
        TetherRecord     *new_record,
        TetherWriteFlags  flags,
        GError          **error)
{
  if (!run_hooks (self, type, old_record, new_record, flags, error))
    return FALSE;
  _tether_database_queue_change (db_of (self), self, type, id, old_record, new_record);
  return TRUE;
}

/* One transaction level per write: a transaction at depth 0; inside the
 * caller's transaction a savepoint only when hooks will run, since a row
 * write alone is one statement that SQLite already makes atomic. Savepoints
 * are not free: FTS5 flushes its pending index data at each one. */
gboolean
_tether_write_scope_begin (TetherCollection  *self,
                           TetherWriteFlags   flags,
                           TetherWriteScope  *scope,
                           GError           **error)
{
  TetherDatabase *db = db_of (self);
  gboolean hooks = !(flags & TETHER_WRITE_SKIP_HOOKS) && _tether_database_get_hooks (db)->len > 0;

  scope->db = db;
  scope->opened = tether_database_get_transaction_depth (db) == 0 || hooks;
  return !scope->opened || tether_database_begin (db, error);
}

gboolean
_tether_write_scope_end (TetherWriteScope  *scope,
                         gboolean           ok,
                         GError           **error)
{
  if (!scope->opened)
    return ok;
  if (!ok)
    {
      tether_database_rollback (scope->db);
      return FALSE;
    }
  return tether_database_commit (scope->db, error);
}

static gboolean
step_write (TetherCollection *self,
            sqlite3_stmt     *stmt,
            JsonObject       *data,
            GError          **error)
{
  TetherRank *rank = _tether_database_get_rank (db_of (self));
  int rc = sqlite3_step (stmt);

  /* UPDATE and DELETE return the row id; an INSERT may reuse a deleted one. */
  if (rc == SQLITE_ROW)
    {
      _tether_rank_forget (rank, sqlite3_column_int64 (stmt, 0));
      rc = sqlite3_step (stmt);
    }
  else if (rc == SQLITE_DONE)
    _tether_rank_forget (rank, sqlite3_last_insert_rowid (_tether_database_get_handle (db_of (self))));
  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  if ((rc & 0xff) == SQLITE_CONSTRAINT)
    return set_constraint_error (self, data, rc, error);
  return _tether_database_set_error (db_of (self), rc, error, tether_collection_get_name (self));
}

TetherRecord *
_tether_collection_insert (TetherCollection *self,
                           JsonObject       *data,
                           TetherWriteFlags  flags,
                           GError          **error)
{
  TetherDatabase *db = db_of (self);
  g_autoptr(JsonObject) object = prepare (self, data, NULL, flags, error);
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *text = NULL;
  sqlite3_stmt *stmt;
  gint64 now = tether_time_now_ms ();

  if (object == NULL || (text = serialize_checked (self, object, error)) == NULL)
    return NULL;
  if ((stmt = _tether_database_prepare_cached (db, _tether_collection_sql (self, TETHER_SQL_INSERT),
                                               error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, json_object_get_string_member (object, "id"), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, now);
  sqlite3_bind_int64 (stmt, 4, now);
  if (!step_write (self, stmt, object, error))
    return NULL;

  record = tether_record_new (tether_collection_get_name (self), object, now, now);
  if (!finish (self, TETHER_CHANGE_CREATE, tether_record_get_id (record), NULL, record, flags, error))
    return NULL;
  return g_steal_pointer (&record);
}

TetherRecord *
_tether_collection_replace (TetherCollection *self,
                            TetherRecord     *old_record,
                            JsonObject       *data,
                            TetherWriteFlags  flags,
                            GError          **error)
{
  TetherDatabase *db = db_of (self);
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *text = NULL;
  const char *id = tether_record_get_id (old_record);
  sqlite3_stmt *stmt;
  /* updated never goes backwards, even if the wall clock does */
  gint64 now = MAX (tether_time_now_ms (), tether_record_get_updated_at (old_record));

  object = prepare (self, data, id, flags, error);
  if (object == NULL || (text = serialize_checked (self, object, error)) == NULL)
    return NULL;
  if ((stmt = _tether_database_prepare_cached (db, _tether_collection_sql (self, TETHER_SQL_UPDATE),
                                               error)) == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, now);
  sqlite3_bind_text (stmt, 3, id, -1, SQLITE_STATIC);
  if (!step_write (self, stmt, object, error))
    return NULL;

  record = tether_record_new (tether_collection_get_name (self), object,
                              tether_record_get_created_at (old_record), now);
  if (!finish (self, TETHER_CHANGE_UPDATE, id, old_record, record, flags, error))
    return NULL;
  return g_steal_pointer (&record);
}

gboolean
_tether_collection_remove (TetherCollection *self,
                           TetherRecord     *old_record,
                           TetherWriteFlags  flags,
                           GError          **error)
{
  TetherDatabase *db = db_of (self);
  const char *id = tether_record_get_id (old_record);
  sqlite3_stmt *stmt;

  if ((stmt = _tether_database_prepare_cached (db, _tether_collection_sql (self, TETHER_SQL_DELETE),
                                               error)) == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  if (!step_write (self, stmt, tether_record_get_data (old_record), error))
    return FALSE;
  return finish (self, TETHER_CHANGE_DELETE, id, old_record, NULL, flags, error);
}

/* Outside the write path: the data does not change, so there is no hook
 * to run and no change to announce; and the times may go back, since
 * they are the ones an export kept. */
gboolean
_tether_collection_set_times (TetherCollection  *self,
                              const char        *id,
                              gint64             created_at_ms,
                              gint64             updated_at_ms,
                              GError           **error)
{
  TetherDatabase *db = db_of (self);
  g_autofree char *table = _tether_sql_table (tether_collection_get_name (self));
  g_autofree char *sql = g_strdup_printf ("UPDATE %s SET created = ?, updated = ? WHERE id = ?", table);
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, created_at_ms);
  sqlite3_bind_int64 (stmt, 2, updated_at_ms);
  sqlite3_bind_text (stmt, 3, id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return _tether_database_set_error (db, rc, error, tether_collection_get_name (self));
  if (sqlite3_changes (_tether_database_get_handle (db)) > 0)
    return TRUE;
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND,
               "%s: no record with id '%s'", tether_collection_get_name (self), id);
  return FALSE;
}

/* ------------------------------------------------------------ bulk writes */

void
_tether_bulk_write_free (TetherBulkWrite *write)
{
  g_clear_object (&write->old_record);
  g_clear_pointer (&write->data, json_object_unref);
  g_free (write->text);
  g_free (write);
}

/* Runs @sql over the JSON array @items (?1) at @now (?2); every row it
 * returns is a rowid the search ranking must forget. */
static gboolean
run_many (TetherCollection *self,
          const char       *sql,
          const char       *items,
          gint64            now,
          GError          **error)
{
  TetherDatabase *db = db_of (self);
  TetherRank *rank = _tether_database_get_rank (db);
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, items, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, now);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    _tether_rank_forget (rank, sqlite3_column_int64 (stmt, 0));
  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE)
    return TRUE;
  return _tether_database_set_error (db, rc, error, tether_collection_get_name (self));
}

static void
string_free (gpointer string)
{
  g_string_free (string, TRUE);
}

static void
append_item (GString    *items,
             const char *text,
             gboolean    quote)
{
  g_string_append_c (items, items->len == 0 ? '[' : ',');
  if (quote)
    _tether_json_append_string (items, text);
  else
    g_string_append (items, text);
}

static void
queue_written (TetherCollection *self,
               TetherBulkWrite  *write,
               gint64            now)
{
  TetherDatabase *db = db_of (self);
  const char *name = tether_collection_get_name (self);
  g_autoptr(TetherRecord) record = NULL;

  if (write->data == NULL)
    {
      _tether_database_queue_change (db, self, TETHER_CHANGE_DELETE,
                                     tether_record_get_id (write->old_record), write->old_record, NULL);
      return;
    }
  if (write->old_record == NULL)
    record = tether_record_new (name, write->data, now, now);
  else
    record = tether_record_new (name, write->data, tether_record_get_created_at (write->old_record),
                                MAX (now, tether_record_get_updated_at (write->old_record)));
  _tether_database_queue_change (db, self, write->old_record ? TETHER_CHANGE_UPDATE : TETHER_CHANGE_CREATE,
                                 tether_record_get_id (record), write->old_record, record);
}

gboolean
_tether_collection_write_many (TetherCollection *self,
                               GPtrArray        *writes,
                               GError          **error)
{
  /* ?1: a JSON array of ids (delete) or of records with their "id"; @t
   * stands for the table */
  static const char * const sql[] = {
    "DELETE FROM @t WHERE id IN (SELECT value FROM json_each (?1)) RETURNING rowid",
    "UPDATE @t SET data = j.value, updated = max (?2, @t.updated) FROM json_each (?1) AS j"
    " WHERE @t.id = json_extract (j.value, '$.id') RETURNING @t.rowid",
    "INSERT INTO @t (id, data, created, updated)"
    " SELECT json_extract (value, '$.id'), value, ?2, ?2 FROM json_each (?1) RETURNING rowid",
  };
  enum { DELETES, UPDATES, INSERTS };
  g_autofree char *table = _tether_sql_table (tether_collection_get_name (self));
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (string_free);
  gint64 now = tether_time_now_ms ();

  for (guint k = 0; k < G_N_ELEMENTS (sql); k++)
    g_ptr_array_add (items, g_string_new (NULL));

  for (guint i = 0; i < writes->len; i++)
    {
      TetherBulkWrite *write = g_ptr_array_index (writes, i);
      g_autofree char *owned = NULL;
      const char *text = write->text;

      if (write->data == NULL && write->old_record != NULL)
        append_item (items->pdata[DELETES], tether_record_get_id (write->old_record), TRUE);
      if (write->data == NULL)
        continue;
      if (text != NULL ? !check_size (self, write->data, text, error)
                       : (text = owned = serialize_checked (self, write->data, error)) == NULL)
        return FALSE;
      append_item (items->pdata[write->old_record != NULL ? UPDATES : INSERTS], text, FALSE);
    }
  for (guint k = 0; k < G_N_ELEMENTS (sql); k++)
    {
      GString *list = items->pdata[k];
      g_autoptr(GString) statement = NULL;

      if (list->len == 0)
        continue;
      g_string_append_c (list, ']');
      statement = g_string_new (sql[k]);
      g_string_replace (statement, "@t", table, 0);
      if (!run_many (self, statement->str, list->str, now, error))
        return FALSE;
    }
  for (guint i = 0; i < writes->len; i++)
    if (((TetherBulkWrite *) g_ptr_array_index (writes, i))->data != NULL ||
        ((TetherBulkWrite *) g_ptr_array_index (writes, i))->old_record != NULL)
      queue_written (self, g_ptr_array_index (writes, i), now);
  return TRUE;
}
