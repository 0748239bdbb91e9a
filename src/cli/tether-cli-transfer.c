/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-cli-private.h"
#include "tether-cli-transfer-private.h"
#include "tether-private.h"

/* The commands that stream JSON lines: export and import here, apply in
 * tether-cli-apply.c. */

#define ARG(args, i) ((const char *) g_ptr_array_index ((args)->positional, (i)))

/* Export and import ---------------------------------------------------------- */

/* An export line carries the record's createdAt and updatedAt, which
 * import puts back: beside "record" in the tagged form, and after the
 * record's own members in the bare one. No schema may declare these names,
 * so they are never the user's data. */
static void
print_record_line (TetherRecord *record,
                   const char   *tag)
{
  g_autofree char *text = tether_record_to_json (record);
  g_autofree char *created = tether_time_format_ms (tether_record_get_created_at (record));
  g_autofree char *updated = tether_time_format_ms (tether_record_get_updated_at (record));
  gsize length = strlen (text);

  if (tag != NULL)
    fprintf (stdout, "{\"collection\":%s,\"record\":%s,", tag, text);
  else   /* the record's object, open: it always has an "id" */
    fprintf (stdout, "%.*s,", (int) (length - 1), text);
  fprintf (stdout, "\"" TETHER_FIELD_CREATED_AT "\":\"%s\",\"" TETHER_FIELD_UPDATED_AT "\":\"%s\"}\n",
           created, updated);
}

/* @tag: the collection's name as a JSON string for the tagged form, or NULL
 * for bare record lines. */
static void
print_records (GPtrArray  *records,
               const char *tag)
{
  for (guint i = 0; i < records->len; i++)
    print_record_line (g_ptr_array_index (records, i), tag);
}

/* Every collection's records and its name as a JSON string (@tags), in
 * schema order; the caller holds the transaction. */
static gboolean
read_all (TetherDatabase  *db,
          GPtrArray       *tags,
          GPtrArray       *batches,
          GError         **error)
{
  const char * const *names = tether_schema_get_collections (tether_database_get_schema (db));

  for (guint i = 0; names[i] != NULL; i++)
    {
      TetherCollection *collection = tether_database_get_collection (db, names[i], error);
      GPtrArray *records = collection ? tether_collection_get_all (collection, error) : NULL;

      if (records == NULL)
        return FALSE;
      g_ptr_array_add (tags, _tether_cli_json_string (names[i]));
      g_ptr_array_add (batches, records);
    }
  return TRUE;
}

/* Every record is read into memory inside one read transaction, a snapshot
 * of all collections at once, and written out after it ends, so a slow
 * reader (`tether export | less`) never holds anything up. The engine's own
 * transactions are BEGIN IMMEDIATE, which takes the write lock: a plain
 * BEGIN takes none, and in WAL mode the app goes on writing beside it. */
static gboolean
export_all (TetherDatabase  *db,
            GError         **error)
{
  g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) batches = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  gboolean ok;

  if (!_tether_database_exec (db, "BEGIN DEFERRED", error))
    return FALSE;
  ok = read_all (db, tags, batches, error);
  _tether_database_exec (db, "ROLLBACK", NULL);
  if (!ok)
    return FALSE;
  for (guint i = 0; i < batches->len; i++)
    print_records (g_ptr_array_index (batches, i), g_ptr_array_index (tags, i));
  return TRUE;
}

gboolean
_tether_cli_export (TetherCli      *cli,
                    TetherCliArgs  *args,
                    GError        **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);
  TetherCollection *collection;
  g_autoptr(GPtrArray) records = NULL;

  if (db == NULL)
    return FALSE;
  if (args->positional->len == 0)
    return export_all (db, error);
  /* One collection is one SELECT, itself a snapshot: no transaction, no lock. */
  if ((collection = tether_database_get_collection (db, ARG (args, 0), error)) == NULL ||
      (records = tether_collection_get_all (collection, error)) == NULL)
    return FALSE;
  print_records (records, NULL);
  return TRUE;
}

static gboolean
lookup_member (JsonObject     *object,
               const char     *name,
               JsonNodeType    type,
               JsonNode      **node,
               GError        **error)
{
  *node = json_object_get_member (object, name);
  if (*node == NULL)
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED, "missing \"%s\"", name);
  else if (JSON_NODE_TYPE (*node) != type ||
           (type == JSON_NODE_VALUE && json_node_get_value_type (*node) != G_TYPE_STRING))
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED, "\"%s\" must be %s", name,
                 type == JSON_NODE_VALUE ? "a string" : "a JSON object");
  else
    return TRUE;
  return FALSE;
}

gboolean
_tether_cli_get_string_member (JsonObject   *object,
                               const char   *name,
                               const char  **value,
                               GError      **error)
{
  JsonNode *node;

  if (!lookup_member (object, name, JSON_NODE_VALUE, &node, error))
    return FALSE;
  *value = json_node_get_string (node);
  return TRUE;
}

gboolean
_tether_cli_get_object_member (JsonObject   *object,
                               const char   *name,
                               JsonObject  **value,
                               GError      **error)
{
  JsonNode *node;

  if (!lookup_member (object, name, JSON_NODE_OBJECT, &node, error))
    return FALSE;
  *value = json_node_get_object (node);
  return TRUE;
}

/* One record of an import, read and checked before the write lock is taken. */
typedef struct {
  guint             line;
  TetherCollection *collection;
  JsonObject       *data;
  gboolean          has_times;    /* older exports have none */
  gint64            created_at;
  gint64            updated_at;
} ImportItem;

static void
import_item_free (ImportItem *item)
{
  g_clear_pointer (&item->data, json_object_unref);
  g_free (item);
}

static gboolean
parse_time (JsonObject  *object,
            const char  *name,
            gint64      *ms,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) time = NULL;

  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    time = g_date_time_new_from_iso8601 (json_node_get_string (node), utc);
  if (time == NULL)
    {
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                   "\"%s\" must be a time such as \"2026-01-31T09:30:00.000Z\" (as export writes it)",
                   name);
      return FALSE;
    }
  *ms = g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000;
  return TRUE;
}

/* The times an export line carries, taken out of @object. */
static gboolean
take_times (JsonObject  *object,
            ImportItem  *item,
            GError     **error)
{
  gboolean created = json_object_has_member (object, TETHER_FIELD_CREATED_AT);
  gboolean updated = json_object_has_member (object, TETHER_FIELD_UPDATED_AT);

  if (!created && !updated)
    return TRUE;
  if (created != updated)
    {
      g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                           "give both \"" TETHER_FIELD_CREATED_AT "\" and \"" TETHER_FIELD_UPDATED_AT
                           "\", or neither (the record then gets the time of the import)");
      return FALSE;
    }
  if (!parse_time (object, TETHER_FIELD_CREATED_AT, &item->created_at, error) ||
      !parse_time (object, TETHER_FIELD_UPDATED_AT, &item->updated_at, error))
    return FALSE;
  json_object_remove_member (object, TETHER_FIELD_CREATED_AT);
  json_object_remove_member (object, TETHER_FIELD_UPDATED_AT);
  item->has_times = TRUE;
  return TRUE;
}

/* One import line: a record of @only, or {"collection": …, "record": {…}},
 * with or without its times. */
static ImportItem *
import_line (TetherCli         *cli,
             TetherCollection  *only,
             JsonParser        *parser,
             const char        *line,
             gsize              length,
             GError           **error)
{
  g_autoptr(JsonObject) object = _tether_cli_parse_object (parser, line, length, error);
  g_autofree ImportItem *item = g_new0 (ImportItem, 1);
  JsonObject *data = object;
  const char *name;

  if (object == NULL)
    return NULL;
  item->collection = only;
  if (only == NULL &&
      (!_tether_cli_get_string_member (object, "collection", &name, error) ||
       !_tether_cli_get_object_member (object, "record", &data, error) ||
       !(item->collection = _tether_cli_get_collection (cli, name, error))))
    return NULL;
  if (!take_times (object, item, error))
    return NULL;
  item->data = json_object_ref (data);
  return g_steal_pointer (&item);
}

/* The record of @item, with the times it had when it was exported. */
static gboolean
import_item (ImportItem  *item,
             GError     **error)
{
  g_autoptr(TetherRecord) record = tether_collection_put (item->collection, item->data, error);

  return record != NULL &&
         (!item->has_times ||
          _tether_collection_set_times (item->collection, tether_record_get_id (record),
                                        item->created_at, item->updated_at, error));
}

/* All of standard input, parsed: a slow producer must not hold the write
 * lock, which would make the app's saves fail after the busy timeout. */
static GPtrArray *
import_read (TetherCli         *cli,
             TetherCollection  *only,
             GError           **error)
{
  g_autoptr(TetherCliLines) lines = _tether_cli_lines_new_stdin ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) import_item_free);
  g_autoptr(GError) read_error = NULL;
  const char *line;
  gsize length;

  while ((line = _tether_cli_lines_next (lines, &length, &read_error)) != NULL)
    {
      ImportItem *item = import_line (cli, only, parser, line, length, error);

      if (item == NULL)
        {
          _tether_cli_prefix_line (error, _tether_cli_lines_get_number (lines));
          return NULL;
        }
      item->line = _tether_cli_lines_get_number (lines);
      g_ptr_array_add (items, item);
    }
  if (read_error == NULL)
    return g_steal_pointer (&items);
  g_propagate_error (error, g_steal_pointer (&read_error));
  return NULL;
}

/* All or nothing, and one commit instead of one per record. */
static gboolean
import_write (TetherDatabase  *db,
              GPtrArray       *items,
              GError         **error)
{
  if (!tether_database_begin (db, error))
    return FALSE;
  for (guint i = 0; i < items->len; i++)
    {
      ImportItem *item = g_ptr_array_index (items, i);

      if (!import_item (item, error))
        {
          tether_database_rollback (db);
          _tether_cli_prefix_line (error, item->line);
          return FALSE;
        }
    }
  return tether_database_commit (db, error);
}

gboolean
_tether_cli_import (TetherCli      *cli,
                    TetherCliArgs  *args,
                    GError        **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);
  TetherCollection *only = NULL;
  g_autoptr(JsonObject) result = json_object_new ();
  g_autoptr(GPtrArray) items = NULL;

  if (db == NULL)
    return FALSE;
  if (args->positional->len > 0 &&
      (only = tether_database_get_collection (db, ARG (args, 0), error)) == NULL)
    return FALSE;
  if ((items = import_read (cli, only, error)) == NULL ||
      !import_write (db, items, error))
    return FALSE;
  json_object_set_int_member (result, "imported", items->len);
  _tether_cli_print_object (result);
  return TRUE;
}
