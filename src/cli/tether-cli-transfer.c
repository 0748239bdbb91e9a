/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-cli-private.h"
#include "tether-private.h"

/* The commands that stream JSON lines: export, import and apply. */

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

static gboolean
get_string_member (JsonObject   *object,
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

static gboolean
get_object_member (JsonObject   *object,
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
      (!get_string_member (object, "collection", &name, error) ||
       !get_object_member (object, "record", &data, error) ||
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

/* Apply --------------------------------------------------------------------- */

typedef enum { OP_CREATE, OP_UPDATE, OP_PUT, OP_DELETE } OperationKind;

static const char * const operation_names[] = { "create", "update", "put", "delete" };

static gboolean
get_operation_kind (JsonObject     *operation,
                    OperationKind  *kind,
                    GError        **error)
{
  const char *name;

  if (!get_string_member (operation, "op", &name, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (operation_names); i++)
    if (g_str_equal (name, operation_names[i]))
      {
        *kind = (OperationKind) i;
        return TRUE;
      }
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "unknown op \"%s\" (expected create, update, put or delete)", name);
  return FALSE;
}

/* A typo such as "dta" must not go unnoticed: the operation would run
 * without what the user meant it to carry. */
static gboolean
check_members (JsonObject     *operation,
               OperationKind   kind,
               GError        **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, operation);
  while (json_object_iter_next (&iter, &name, &node))
    {
      if (g_str_equal (name, "op") || g_str_equal (name, "collection") || g_str_equal (name, "id") ||
          (kind != OP_DELETE && g_str_equal (name, "data")))
        continue;
      if (g_str_equal (name, "data"))
        g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                             "a delete takes no \"data\" (only \"op\", \"collection\" and \"id\")");
      else
        g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                     "unknown member \"%s\" (an operation has \"op\", \"collection\", \"id\" "
                     "and \"data\")", name);
      return FALSE;
    }
  return TRUE;
}

/* A create or put given "id" beside "data": the record's id, which
 * "data" may repeat but not contradict. */
static gboolean
take_id (JsonObject  *data,
         const char  *id,
         GError     **error)
{
  JsonNode *inner = json_object_get_member (data, "id");

  if (inner == NULL)
    {
      json_object_set_string_member (data, "id", id);
      return TRUE;
    }
  if (JSON_NODE_HOLDS_VALUE (inner) && json_node_get_value_type (inner) == G_TYPE_STRING &&
      g_str_equal (json_node_get_string (inner), id))
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "\"id\" is \"%s\" but \"data\" has another \"id\": give the id once, or the same in both",
               id);
  return FALSE;
}

/* The members of @operation its kind needs, checked. */
static gboolean
read_operation (JsonObject     *operation,
                OperationKind  *kind,
                const char    **name,
                const char    **id,
                JsonObject    **data,
                GError        **error)
{
  gboolean needs_id, takes_data;

  if (!get_operation_kind (operation, kind, error) ||
      !check_members (operation, *kind, error) ||
      !get_string_member (operation, "collection", name, error))
    return FALSE;
  needs_id = *kind == OP_UPDATE || *kind == OP_DELETE || json_object_has_member (operation, "id");
  takes_data = *kind != OP_DELETE;
  if ((needs_id && !get_string_member (operation, "id", id, error)) ||
      (takes_data && !get_object_member (operation, "data", data, error)))
    return FALSE;
  return *kind == OP_UPDATE || *kind == OP_DELETE || *id == NULL || take_id (*data, *id, error);
}

/* Runs one operation and adds "op", "id" and "record" to @result. */
static gboolean
run_operation (TetherCli   *cli,
               JsonObject  *operation,
               JsonObject  *result,
               GError     **error)
{
  g_autoptr(TetherRecord) record = NULL;
  TetherCollection *collection;
  const char *name, *id = NULL;
  JsonObject *data = NULL;
  OperationKind kind;

  if (!read_operation (operation, &kind, &name, &id, &data, error) ||
      !(collection = _tether_cli_get_collection (cli, name, error)))
    return FALSE;
  if (kind == OP_CREATE)
    record = tether_collection_create (collection, data, error);
  else if (kind == OP_UPDATE)
    record = tether_collection_update (collection, id, data, error);
  else if (kind == OP_PUT)
    record = tether_collection_put (collection, data, error);
  else if (!tether_collection_delete (collection, id, error))
    return FALSE;
  if (kind != OP_DELETE && record == NULL)
    return FALSE;
  json_object_set_string_member (result, "op", operation_names[kind]);
  json_object_set_string_member (result, "id", record ? tether_record_get_id (record) : id);
  if (record != NULL)
    json_object_set_object_member (result, "record", tether_record_dup_data (record));
  return TRUE;
}

/* In its own transaction unless @db is NULL (the caller then holds one
 * transaction for every line). */
static gboolean
apply_operation (TetherCli       *cli,
                 TetherDatabase  *db,
                 JsonObject      *operation,
                 JsonObject      *result,
                 GError         **error)
{
  if (db == NULL)
    return run_operation (cli, operation, result, error);
  if (!tether_database_begin (db, error))
    return FALSE;
  if (!run_operation (cli, operation, result, error))
    {
      tether_database_rollback (db);
      return FALSE;
    }
  return tether_database_commit (db, error);
}

static JsonObject *
new_result (guint    number,
            gboolean ok)
{
  JsonObject *result = json_object_new ();

  json_object_set_int_member (result, "line", number);
  json_object_set_boolean_member (result, "ok", ok);
  return result;
}

/* One line of apply's input: its operation, or why it has none. */
typedef struct {
  guint       number;
  JsonObject *operation;
  GError     *error;
} ApplyLine;

static void
apply_line_free (ApplyLine *line)
{
  g_clear_pointer (&line->operation, json_object_unref);
  g_clear_error (&line->error);
  g_free (line);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ApplyLine, apply_line_free)

/* The next line, parsed; NULL at the end or with @read_error set. */
static ApplyLine *
read_apply_line (TetherCliLines  *lines,
                 JsonParser      *parser,
                 GError         **read_error)
{
  ApplyLine *line;
  const char *text;
  gsize length;

  if ((text = _tether_cli_lines_next (lines, &length, read_error)) == NULL)
    return NULL;
  line = g_new0 (ApplyLine, 1);
  line->number = _tether_cli_lines_get_number (lines);
  line->operation = _tether_cli_parse_object (parser, text, length, &line->error);
  return line;
}

/* Runs one line and prints its result line. */
static gboolean
apply_line (TetherCli       *cli,
            TetherDatabase  *db,
            ApplyLine       *line)
{
  g_autoptr(JsonObject) result = new_result (line->number, TRUE);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (line->operation == NULL)
    error = g_error_copy (line->error);
  ok = line->operation != NULL && apply_operation (cli, db, line->operation, result, &error);
  if (!ok)
    {
      json_object_unref (result);
      result = new_result (line->number, FALSE);
      json_object_set_string_member (result, "error", error->message);
    }
  _tether_cli_print_object (result);
  return ok;
}

/* Commits when no line failed; otherwise rolls every line back. */
static gboolean
finish_single_transaction (TetherDatabase  *db,
                           guint            applied,
                           guint            failed,
                           guint            first_failed,
                           GError         **error)
{
  g_autoptr(JsonObject) summary = json_object_new ();
  gboolean ok = failed == 0;

  if (ok)
    ok = tether_database_commit (db, error);
  else
    {
      tether_database_rollback (db);
      if (failed == 1)
        g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                     "apply: line %u failed; nothing was applied", first_failed);
      else
        g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                     "apply: %u of %u operations failed (the first on line %u); nothing was applied",
                     failed, applied + failed, first_failed);
    }
  json_object_set_boolean_member (summary, "ok", ok);
  if (!ok)
    json_object_set_boolean_member (summary, "rolledBack", TRUE);
  json_object_set_int_member (summary, "applied", ok ? applied : 0);
  _tether_cli_print_object (summary);
  return ok;
}

static gboolean
read_error_out (GError  *read_error,
                GError **error)
{
  g_propagate_error (error, read_error);
  return FALSE;
}

/* Every line is read before the transaction begins: it holds the write
 * lock, and a slow producer would make the app's saves fail meanwhile. */
static gboolean
apply_all (TetherCli       *cli,
           TetherDatabase  *db,
           GError         **error)
{
  g_autoptr(TetherCliLines) lines = _tether_cli_lines_new_stdin ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) apply_line_free);
  GError *read_error = NULL;
  guint applied = 0, failed = 0, first_failed = 0;
  ApplyLine *line;

  while ((line = read_apply_line (lines, parser, &read_error)) != NULL)
    g_ptr_array_add (all, line);
  if (read_error != NULL)
    return read_error_out (read_error, error);
  if (!tether_database_begin (db, error))
    return FALSE;
  /* Lines after a failure run too, so each gets its result as --help
   * promises; a failed write leaves nothing behind, and all roll back. */
  for (guint i = 0; i < all->len; i++)
    {
      line = g_ptr_array_index (all, i);
      if (apply_line (cli, NULL, line))
        applied++;
      else if (failed++ == 0)
        first_failed = line->number;
    }
  return finish_single_transaction (db, applied, failed, first_failed, error);
}

/* Each line in its own transaction, as it comes. */
static gboolean
apply_each (TetherCli       *cli,
            TetherDatabase  *db,
            GError         **error)
{
  g_autoptr(TetherCliLines) lines = _tether_cli_lines_new_stdin ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  GError *read_error = NULL;
  guint applied = 0, failed = 0;
  ApplyLine *next;

  while ((next = read_apply_line (lines, parser, &read_error)) != NULL)
    {
      g_autoptr(ApplyLine) line = next;

      if (apply_line (cli, db, line))
        applied++;
      else
        failed++;
    }
  if (read_error != NULL)
    return read_error_out (read_error, error);
  if (failed == 0)
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "apply: %u of %u operations failed", failed, applied + failed);
  return FALSE;
}

gboolean
_tether_cli_apply (TetherCli      *cli,
                   TetherCliArgs  *args,
                   GError        **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);

  if (db == NULL)
    return FALSE;
  return args->single_transaction ? apply_all (cli, db, error) : apply_each (cli, db, error);
}
