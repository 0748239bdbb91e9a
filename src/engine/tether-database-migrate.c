/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-migrate"
#include "config.h"

#include <string.h>

#include "tether-private.h"

/* Creating and migrating the tables of a schema. Every function here runs
 * inside the transaction that opens the database, so a failed migration
 * leaves the file exactly as it was. */

static gboolean
exec_printf (TetherDatabase  *db,
             GError         **error,
             const char      *format,
             ...) G_GNUC_PRINTF (3, 4);

static gboolean
exec_printf (TetherDatabase  *db,
             GError         **error,
             const char      *format,
             ...)
{
  g_autofree char *sql = NULL;
  va_list args;

  va_start (args, format);
  sql = g_strdup_vprintf (format, args);
  va_end (args);
  return _tether_database_exec (db, sql, error);
}

static gboolean
create_table (TetherDatabase  *db,
              const char      *collection,
              GError         **error)
{
  g_autofree char *table = _tether_sql_table (collection);

  return exec_printf (db, error,
                      "CREATE TABLE IF NOT EXISTS %s ("
                      " id TEXT PRIMARY KEY NOT NULL,"
                      " data TEXT NOT NULL,"
                      " created INTEGER NOT NULL,"
                      " updated INTEGER NOT NULL)", table);
}

static gboolean
strv_equal0 (const char * const *a,
             const char * const *b)
{
  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);
  return g_strv_equal ((const char **) a, (const char **) b);
}

/* Indexes ------------------------------------------------------------------ */

static char *
index_sql (TetherSchema *schema,
           const char   *collection,
           guint         i)
{
  const char * const *fields = tether_schema_get_index_fields (schema, collection, i);
  g_autofree char *name = _tether_sql_index_name (collection, fields);
  g_autofree char *table = _tether_sql_table (collection);
  g_autoptr(GString) sql = g_string_new (NULL);

  g_string_append_printf (sql, "CREATE %sINDEX %s ON %s (",
                          tether_schema_get_index_unique (schema, collection, i) ? "UNIQUE " : "",
                          name, table);
  for (guint f = 0; fields[f] != NULL; f++)
    {
      g_autofree char *expr = _tether_sql_field_expr (fields[f]);
      g_string_append_printf (sql, "%s%s", f ? ", " : "", expr);
    }
  g_string_append (sql, ")");
  return g_string_free (g_steal_pointer (&sql), FALSE);
}

/* name → CREATE INDEX statement, for every index @schema declares. */
static GHashTable *
wanted_indexes (TetherSchema *schema,
                const char   *collection)
{
  GHashTable *wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < tether_schema_get_n_indexes (schema, collection); i++)
    {
      const char * const *fields = tether_schema_get_index_fields (schema, collection, i);
      g_hash_table_insert (wanted, _tether_sql_index_name (collection, fields),
                           index_sql (schema, collection, i));
    }
  return wanted;
}

/* name → the SQL SQLite stored, for every index on @collection's table. */
static GHashTable *
existing_indexes (TetherDatabase  *db,
                  const char      *collection,
                  GError         **error)
{
  g_autoptr(GHashTable) existing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *table = _tether_sql_table (collection);
  int rc;

  stmt = _tether_database_prepare (db,
    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, table, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_hash_table_insert (existing, g_strdup ((const char *) sqlite3_column_text (stmt, 0)),
                         g_strdup ((const char *) sqlite3_column_text (stmt, 1)));
  if (rc != SQLITE_DONE)
    {
      _tether_database_set_error (db, rc, error, "listing indexes");
      return NULL;
    }
  return g_steal_pointer (&existing);
}

/* Drop the indexes the schema no longer declares (or declares differently),
 * comparing the SQL SQLite stored for each. This runs before the records
 * are migrated: an old unique index must not judge records rewritten for
 * the new schema. */
static gboolean
drop_stale_indexes (TetherDatabase  *db,
                    TetherSchema    *schema,
                    const char      *collection,
                    GError         **error)
{
  g_autoptr(GHashTable) wanted = wanted_indexes (schema, collection);
  g_autoptr(GHashTable) existing = existing_indexes (db, collection, error);
  GHashTableIter iter;
  gpointer key, value;

  if (existing == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, existing);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_strcmp0 (g_hash_table_lookup (wanted, key), value) != 0 &&
        !exec_printf (db, error, "DROP INDEX %s", (const char *) key))
      return FALSE;
  return TRUE;
}

/* Create the declared indexes that do not exist yet, after the records
 * have been migrated. */
static gboolean
create_indexes (TetherDatabase  *db,
                TetherSchema    *schema,
                const char      *collection,
                GError         **error)
{
  g_autoptr(GHashTable) wanted = wanted_indexes (schema, collection);
  g_autoptr(GHashTable) existing = existing_indexes (db, collection, error);
  GHashTableIter iter;
  gpointer key, value;

  if (existing == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(GError) local_error = NULL;

      if (g_hash_table_contains (existing, key))
        continue;
      if (!_tether_database_exec (db, value, &local_error))
        {
          g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_MIGRATION,
                       "cannot create index %s on %s: %s", (const char *) key, collection,
                       local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* Full-text search ---------------------------------------------------------- */

static gboolean
drop_fts (TetherDatabase  *db,
          const char      *collection,
          GError         **error)
{
  g_autofree char *fts = _tether_sql_fts_table (collection);

  return exec_printf (db, error,
                      "DROP TRIGGER IF EXISTS %1$s_ai; DROP TRIGGER IF EXISTS %1$s_ad;"
                      "DROP TRIGGER IF EXISTS %1$s_au; DROP TABLE IF EXISTS %1$s;"
                      "DROP VIEW IF EXISTS v_%2$s;", fts, collection);
}

/* "json_extract(PREFIX.data,'$.a'), json_extract(PREFIX.data,'$.b')" */
static char *
fts_values (const char * const *fields,
            const char         *prefix)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; fields[i] != NULL; i++)
    g_string_append_printf (out, "%sjson_extract(%s.data,'$.%s')", i ? ", " : "", prefix, fields[i]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Prefix indexes of one to three characters: search as you type starts at
 * the first letter, and without its own index FTS5 merges every term that
 * starts with it (50 ms on 100,000 notes; 1 ms with it, for ~20% more
 * index). */
#define FTS_PREFIXES "prefix='1 2 3'"

/* "c0, c1, …": the columns of the view and the FTS table are named by
 * position, never after the fields, so a field may be called order, rank,
 * rowid or rid (the view's rowid alias), or differ from another only in
 * case. The field names appear only inside the JSON path strings. */
static char *
fts_columns (const char * const *fields)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; fields[i] != NULL; i++)
    g_string_append_printf (out, "%sc%u", i ? ", " : "", i);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* An external-content FTS5 table over a view of the searchable fields, kept
 * in step by triggers: the text is stored once, in the records. */
static gboolean
create_fts (TetherDatabase  *db,
            TetherSchema    *schema,
            const char      *collection,
            GError         **error)
{
  const char * const *fields = tether_schema_get_searchable (schema, collection);
  g_autofree char *fts = _tether_sql_fts_table (collection);
  g_autofree char *table = _tether_sql_table (collection);
  g_autofree char *columns = NULL;
  g_autofree char *new_values = NULL;
  g_autofree char *old_values = NULL;
  g_autoptr(GString) view_cols = g_string_new (NULL);

  if (fields == NULL || fields[0] == NULL)
    return TRUE;
  columns = fts_columns (fields);
  new_values = fts_values (fields, "new");
  old_values = fts_values (fields, "old");
  for (guint i = 0; fields[i] != NULL; i++)
    g_string_append_printf (view_cols, ", json_extract(data,'$.%s') AS c%u", fields[i], i);

  return exec_printf (db, error,
    "CREATE VIEW v_%1$s AS SELECT rowid AS rid%2$s FROM %3$s;"
    "CREATE VIRTUAL TABLE %4$s USING fts5(%5$s, content='v_%1$s', content_rowid='rid',"
    " tokenize='unicode61 remove_diacritics 2', " FTS_PREFIXES ");"
    "CREATE TRIGGER %4$s_ai AFTER INSERT ON %3$s BEGIN"
    " INSERT INTO %4$s(rowid, %5$s) VALUES (new.rowid, %6$s); END;"
    "CREATE TRIGGER %4$s_ad AFTER DELETE ON %3$s BEGIN"
    " INSERT INTO %4$s(%4$s, rowid, %5$s) VALUES ('delete', old.rowid, %7$s); END;"
    "CREATE TRIGGER %4$s_au AFTER UPDATE OF data ON %3$s BEGIN"
    " INSERT INTO %4$s(%4$s, rowid, %5$s) VALUES ('delete', old.rowid, %7$s);"
    " INSERT INTO %4$s(rowid, %5$s) VALUES (new.rowid, %6$s); END;"
    "INSERT INTO %4$s(%4$s) VALUES ('rebuild');",
    collection, view_cols->str, table, fts, columns, new_values, old_values);
}

/* Records ------------------------------------------------------------------- */

/* A field the new schema no longer declares is removed from the records,
 * or no record holding it could be written again; a collection that takes
 * additional fields keeps it. @dropped counts the records per field. */
static JsonObject *
drop_undeclared (TetherSchema *schema,
                 const char   *collection,
                 JsonObject   *data,
                 GHashTable   *dropped)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  JsonObject *copy;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  if (tether_schema_get_additional_fields (schema, collection))
    return json_object_ref (data);
  json_object_iter_init (&iter, data);
  while (json_object_iter_next (&iter, &name, &member))
    if (!tether_schema_has_field (schema, collection, name))
      g_ptr_array_add (names, (gpointer) name);
  if (names->len == 0)
    return json_object_ref (data);

  copy = _tether_json_object_deep_copy (data);   /* the parsed one is sealed */
  for (guint i = 0; i < names->len; i++)
    {
      const char *field = g_ptr_array_index (names, i);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (dropped, field));

      g_hash_table_insert (dropped, g_strdup (field), GUINT_TO_POINTER (n + 1));
      json_object_remove_member (copy, field);
    }
  return copy;
}

static void
report_dropped (TetherSchema *schema,
                const char   *collection,
                GHashTable   *dropped)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, dropped);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_message ("Schema version %" G_GINT64_FORMAT " no longer has %s.%s: removed it from %u record(s)",
               tether_schema_get_version (schema), collection, (const char *) key,
               GPOINTER_TO_UINT (value));
}

/* Apply the new schema's defaults and rules to every stored record; a record
 * that cannot meet them stops the migration with its id in the message. */
static gboolean
migrate_records (TetherDatabase  *db,
                 TetherSchema    *schema,
                 const char      *collection,
                 GError         **error)
{
  g_autofree char *table = _tether_sql_table (collection);
  g_autofree char *select_sql = g_strdup_printf ("SELECT id, data FROM %s", table);
  g_autofree char *update_sql = g_strdup_printf ("UPDATE %s SET data = ? WHERE id = ?", table);
  g_autoptr(sqlite3_stmt) select = _tether_database_prepare (db, select_sql, error);
  g_autoptr(sqlite3_stmt) update = NULL;
  g_autoptr(GHashTable) dropped = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int rc;

  if (select == NULL || (update = _tether_database_prepare (db, update_sql, error)) == NULL)
    return FALSE;
  while ((rc = sqlite3_step (select)) == SQLITE_ROW)
    {
      const char *id = (const char *) sqlite3_column_text (select, 0);
      const char *text = (const char *) sqlite3_column_text (select, 1);
      g_autoptr(JsonObject) parsed = _tether_json_parse_object (text, -1, NULL);
      g_autoptr(JsonObject) data = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *migrated = NULL;

      if (parsed != NULL)
        data = drop_undeclared (schema, collection, parsed, dropped);
      if (data == NULL || !tether_schema_validate (schema, collection, data, &local_error))
        {
          g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_MIGRATION,
                       "cannot migrate %s record %s to schema version %" G_GINT64_FORMAT ": %s",
                       collection, id, tether_schema_get_version (schema),
                       local_error ? local_error->message : "stored data is not a JSON object");
          return FALSE;
        }
      migrated = _tether_json_object_to_string (data);
      if (g_str_equal (migrated, text))
        continue;
      sqlite3_bind_text (update, 1, migrated, -1, SQLITE_STATIC);
      sqlite3_bind_text (update, 2, id, -1, SQLITE_STATIC);
      rc = sqlite3_step (update);
      sqlite3_reset (update);
      if (rc != SQLITE_DONE)
        return _tether_database_set_error (db, rc, error, "migrating a record");
    }
  if (rc != SQLITE_DONE)
    return _tether_database_set_error (db, rc, error, "reading records to migrate");
  report_dropped (schema, collection, dropped);
  return TRUE;
}

static gboolean
apply_collection (TetherDatabase  *db,
                  TetherSchema    *stored,
                  TetherSchema    *schema,
                  const char      *collection,
                  GError         **error)
{
  gboolean existed = stored != NULL && tether_schema_has_collection (stored, collection);
  gboolean fts_changed = !existed ||
    !strv_equal0 (tether_schema_get_searchable (stored, collection),
                  tether_schema_get_searchable (schema, collection));

  if (!create_table (db, collection, error))
    return FALSE;
  if (!drop_stale_indexes (db, schema, collection, error))
    return FALSE;
  /* Every migration goes over the records, even of a collection the stored
   * schema lacks: one an earlier version dropped kept its table and records,
   * and they must meet the new rules (a new table costs one empty scan). */
  if (stored != NULL && !migrate_records (db, schema, collection, error))
    return FALSE;
  if (!create_indexes (db, schema, collection, error))
    return FALSE;
  if (fts_changed &&
      (!drop_fts (db, collection, error) || !create_fts (db, schema, collection, error)))
    return FALSE;
  return TRUE;
}

/* Whether a field of @fields is named like the view's rowid alias. */
static gboolean
has_rid_field (const char * const *fields)
{
  for (guint i = 0; fields[i] != NULL; i++)
    if (g_ascii_strcasecmp (fields[i], "rid") == 0)
      return TRUE;
  return FALSE;
}

/* Whether @collection's FTS table predates FTS_PREFIXES, or names its
 * columns after the fields while one of them is called rid: the view's
 * rowid alias then hid that field, and its text was never indexed. */
static gboolean
fts_outdated (TetherDatabase     *db,
              const char         *collection,
              const char * const *fields)
{
  g_autofree char *fts = _tether_sql_fts_table (collection);
  g_autoptr(sqlite3_stmt) stmt = _tether_database_prepare (db,
    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", NULL);
  gboolean outdated = FALSE;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, fts, -1, SQLITE_STATIC);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      const char *sql = (const char *) sqlite3_column_text (stmt, 0);

      outdated = strstr (sql, FTS_PREFIXES) == NULL ||
                 (has_rid_field (fields) && strstr (sql, "fts5(c0") == NULL);
    }
  return outdated;
}

/* A file made before the one-letter prefix index, or hiding a field named
 * rid, gets its search index made again, once (a few seconds for 100,000
 * notes). */
gboolean
_tether_database_upgrade_fts (TetherDatabase  *self,
                              GError         **error)
{
  TetherSchema *schema = tether_database_get_schema (self);

  for (const char * const *c = tether_schema_get_collections (schema); *c; c++)
    {
      const char * const *fields = tether_schema_get_searchable (schema, *c);

      if (fields == NULL || fields[0] == NULL || !fts_outdated (self, *c, fields))
        continue;
      g_message ("Rebuilding the search index of %s", *c);
      if (!drop_fts (self, *c, error) || !create_fts (self, schema, *c, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
_tether_database_apply_schema (TetherDatabase  *self,
                               TetherSchema    *stored,
                               TetherSchema    *schema,
                               GError         **error)
{
  /* Collections dropped from the schema keep their tables: never lose data
   * because a schema forgot a collection. */
  for (const char * const *c = tether_schema_get_collections (schema); *c; c++)
    if (!apply_collection (self, stored, schema, *c, error))
      return FALSE;
  return TRUE;
}
