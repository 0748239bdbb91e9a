/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-collection"
#include "config.h"

#include "tether-private.h"

struct _TetherCollection
{
  GObject         parent_instance;
  TetherDatabase *db;      /* not a reference: the database owns its collections */
  char           *name;
  char           *sql[TETHER_N_SQL];
};

G_DEFINE_FINAL_TYPE (TetherCollection, tether_collection, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
tether_collection_finalize (GObject *object)
{
  TetherCollection *self = TETHER_COLLECTION (object);

  g_free (self->name);
  for (guint i = 0; i < TETHER_N_SQL; i++)
    g_free (self->sql[i]);
  G_OBJECT_CLASS (tether_collection_parent_class)->finalize (object);
}

static void
tether_collection_class_init (TetherCollectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_collection_finalize;

  /* (type, id, old, new), emitted after the write's transaction commits. */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  TETHER_TYPE_CHANGE_TYPE, G_TYPE_STRING,
                  TETHER_TYPE_RECORD, TETHER_TYPE_RECORD);
}

static void
tether_collection_init (TetherCollection *self)
{
}

TetherCollection *
_tether_collection_new (TetherDatabase *db,
                        const char     *name)
{
  TetherCollection *self = g_object_new (TETHER_TYPE_COLLECTION, NULL);
  g_autofree char *t = _tether_sql_table (name);

  self->db = db;
  self->name = g_strdup (name);
  self->sql[TETHER_SQL_INSERT] =
    g_strdup_printf ("INSERT INTO %s (id, data, created, updated) VALUES (?, ?, ?, ?)", t);
  /* RETURNING rowid: the search ranking forgets the cached length of that row. */
  self->sql[TETHER_SQL_UPDATE] =
    g_strdup_printf ("UPDATE %s SET data = ?, updated = ? WHERE id = ? RETURNING rowid", t);
  self->sql[TETHER_SQL_DELETE] = g_strdup_printf ("DELETE FROM %s WHERE id = ? RETURNING rowid", t);
  self->sql[TETHER_SQL_SELECT_ONE] =
    g_strdup_printf ("SELECT id, data, created, updated FROM %s WHERE id = ?", t);
  self->sql[TETHER_SQL_SELECT_ALL] =
    g_strdup_printf ("SELECT id, data, created, updated FROM %s ORDER BY id", t);
  self->sql[TETHER_SQL_COUNT] = g_strdup_printf ("SELECT count(*) FROM %s", t);
  return self;
}

const char *
_tether_collection_sql (TetherCollection    *self,
                        TetherCollectionSql  which)
{
  return self->sql[which];
}

void
_tether_collection_emit_changed (TetherCollection *self,
                                 TetherChangeType  type,
                                 const char       *id,
                                 TetherRecord     *old_record,
                                 TetherRecord     *new_record)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, type, id, old_record, new_record);
}

const char *
tether_collection_get_name (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);
  return self->name;
}

TetherDatabase *
tether_collection_get_database (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);
  return self->db;
}

TetherRecord *
_tether_collection_record_from_row (TetherCollection *self,
                                    sqlite3_stmt     *stmt,
                                    GError          **error)
{
  return _tether_record_new_from_text (self->name, (const char *) sqlite3_column_text (stmt, 0),
                                       (const char *) sqlite3_column_text (stmt, 1),
                                       sqlite3_column_bytes (stmt, 1),
                                       sqlite3_column_int64 (stmt, 2), sqlite3_column_int64 (stmt, 3));
}

/* Reading ------------------------------------------------------------------- */

static gboolean
check_id (TetherCollection  *self,
          const char        *id,
          GError           **error)
{
  if (id != NULL && id[0] != '\0')
    return TRUE;
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID,
               "%s: a record id must be a non-empty string", self->name);
  return FALSE;
}

TetherRecord *
tether_collection_get (TetherCollection  *self,
                       const char        *id,
                       GError           **error)
{
  TetherRecord *record = NULL;
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  if (!check_id (self, id, error))
    return NULL;
  stmt = _tether_database_prepare_cached (self->db, self->sql[TETHER_SQL_SELECT_ONE], error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    record = _tether_collection_record_from_row (self, stmt, error);
  else if (rc == SQLITE_DONE)
    g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND,
                 "%s: no record with id '%s'", self->name, id);
  else
    _tether_database_set_error (self->db, rc, error, self->name);
  sqlite3_reset (stmt);
  return record;
}

GPtrArray *
tether_collection_get_all (TetherCollection  *self,
                           GError           **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  /* Not cached: a handler may read the collection while we iterate. */
  stmt = _tether_database_prepare (self->db, self->sql[TETHER_SQL_SELECT_ALL], error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      TetherRecord *record = _tether_collection_record_from_row (self, stmt, error);

      if (record == NULL)
        return NULL;
      g_ptr_array_add (records, record);
    }
  if (rc != SQLITE_DONE)
    {
      _tether_database_set_error (self->db, rc, error, self->name);
      return NULL;
    }
  return g_steal_pointer (&records);
}

gint64
tether_collection_count (TetherCollection  *self,
                         TetherQuery       *query,
                         GError           **error)
{
  sqlite3_stmt *stmt;
  gint64 count = -1;
  int rc;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), -1);

  if (query != NULL)
    return tether_query_count (query, error);
  stmt = _tether_database_prepare_cached (self->db, self->sql[TETHER_SQL_COUNT], error);
  if (stmt == NULL)
    return -1;
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  else
    _tether_database_set_error (self->db, rc, error, self->name);
  sqlite3_reset (stmt);
  return count;
}

/* Writing ------------------------------------------------------------------- */

TetherRecord *
tether_collection_create (TetherCollection  *self,
                          JsonObject        *data,
                          GError           **error)
{
  g_autoptr(TetherRecord) record = NULL;
  TetherWriteScope scope;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);
  g_return_val_if_fail (data != NULL, NULL);

  if (!_tether_write_scope_begin (self, TETHER_WRITE_DEFAULT, &scope, error))
    return NULL;
  record = _tether_collection_insert (self, data, TETHER_WRITE_DEFAULT, error);
  if (!_tether_write_scope_end (&scope, record != NULL, error))
    return NULL;
  return g_steal_pointer (&record);
}

/* RFC 7386 JSON merge patch of @patch onto @target (modified in place). */
static void
merge_patch (JsonObject *target,
             JsonObject *patch)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  json_object_iter_init (&iter, patch);
  while (json_object_iter_next (&iter, &name, &value))
    {
      JsonNode *current = json_object_get_member (target, name);

      if (JSON_NODE_HOLDS_NULL (value))
        json_object_remove_member (target, name);
      else if (JSON_NODE_HOLDS_OBJECT (value) && current != NULL && JSON_NODE_HOLDS_OBJECT (current))
        merge_patch (json_node_get_object (current), json_node_get_object (value));
      else
        json_object_set_member (target, name, _tether_json_deep_copy (value));
    }
}

static gboolean
check_patch_id (TetherCollection  *self,
                const char        *id,
                JsonObject        *patch,
                GError           **error)
{
  JsonNode *node = json_object_get_member (patch, "id");

  if (node == NULL || (JSON_NODE_HOLDS_VALUE (node) &&
                       json_node_get_value_type (node) == G_TYPE_STRING &&
                       g_str_equal (json_node_get_string (node), id)))
    return TRUE;
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID,
               "%s/%s: an update cannot change a record's id", self->name, id);
  return FALSE;
}

TetherRecord *
tether_collection_update (TetherCollection  *self,
                          const char        *id,
                          JsonObject        *patch,
                          GError           **error)
{
  g_autoptr(TetherRecord) old_record = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(JsonObject) merged = NULL;
  TetherWriteScope scope;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);
  g_return_val_if_fail (patch != NULL, NULL);

  /* the depth first: merging copies the patch as deep as it goes */
  if (!check_id (self, id, error) || !check_patch_id (self, id, patch, error) ||
      !_tether_collection_check_depth (self, patch, error))
    return NULL;
  /* Read and write in one transaction so another process cannot slip in. */
  if (!_tether_write_scope_begin (self, TETHER_WRITE_DEFAULT, &scope, error))
    return NULL;
  old_record = tether_collection_get (self, id, error);
  if (old_record != NULL)
    {
      /* merged is our own fresh copy: hand it over instead of copying it again */
      merged = tether_record_dup_data (old_record);
      merge_patch (merged, patch);
      record = _tether_collection_replace (self, old_record, merged, TETHER_WRITE_TAKE_DATA, error);
    }
  if (!_tether_write_scope_end (&scope, record != NULL, error))
    return NULL;
  return g_steal_pointer (&record);
}

TetherRecord *
tether_collection_put (TetherCollection  *self,
                       JsonObject        *data,
                       GError           **error)
{
  g_autoptr(TetherRecord) old_record = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) local_error = NULL;
  TetherWriteScope scope;
  const char *id;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);
  g_return_val_if_fail (data != NULL, NULL);

  id = json_object_get_string_member_with_default (data, "id", NULL);
  if (!_tether_write_scope_begin (self, TETHER_WRITE_DEFAULT, &scope, error))
    return NULL;
  if (id != NULL)
    old_record = tether_collection_get (self, id, &local_error);
  if (old_record != NULL)
    record = _tether_collection_replace (self, old_record, data, TETHER_WRITE_DEFAULT, error);
  else if (id == NULL || g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    record = _tether_collection_insert (self, data, TETHER_WRITE_DEFAULT, error);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  if (!_tether_write_scope_end (&scope, record != NULL, error))
    return NULL;
  return g_steal_pointer (&record);
}

gboolean
tether_collection_delete (TetherCollection  *self,
                          const char        *id,
                          GError           **error)
{
  g_autoptr(TetherRecord) old_record = NULL;
  TetherWriteScope scope;
  gboolean ok;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), FALSE);

  if (!_tether_write_scope_begin (self, TETHER_WRITE_DEFAULT, &scope, error))
    return FALSE;
  old_record = tether_collection_get (self, id, error);
  ok = old_record != NULL && _tether_collection_remove (self, old_record, TETHER_WRITE_DEFAULT, error);
  return _tether_write_scope_end (&scope, ok, error);
}

gint64
tether_collection_delete_many (TetherCollection  *self,
                               TetherQuery       *query,
                               GError           **error)
{
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(TetherQuery) whole = NULL;
  gboolean ok;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), -1);
  g_return_val_if_fail (query == NULL || tether_query_get_collection (query) == self, -1);

  /* Hooks, the change log and signals get the deleted records, not the
   * previews the query may show. */
  if (query != NULL)
    whole = _tether_query_copy_whole (query);
  /* All or nothing, so a real (nested) transaction whatever the hooks. */
  if (!tether_database_begin (self->db, error))
    return -1;
  records = whole ? tether_query_run (whole, error) : tether_collection_get_all (self, error);
  ok = records != NULL;
  for (guint i = 0; ok && i < records->len; i++)
    {
      TetherWriteScope scope;

      ok = _tether_write_scope_begin (self, TETHER_WRITE_DEFAULT, &scope, error) &&
           _tether_write_scope_end (&scope,
                                    _tether_collection_remove (self, g_ptr_array_index (records, i),
                                                               TETHER_WRITE_DEFAULT, error),
                                    error);
    }
  if (!ok)
    {
      tether_database_rollback (self->db);
      return -1;
    }
  if (!tether_database_commit (self->db, error))
    return -1;
  return records->len;
}
