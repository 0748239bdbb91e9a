/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include "tether-cli-private.h"
#include "tether-cli-transfer-private.h"

/* `tether apply`: create, update, put and delete operations streamed as
 * JSON lines, each answered with a result line. */

typedef enum { OP_CREATE, OP_UPDATE, OP_PUT, OP_DELETE } OperationKind;

static const char * const operation_names[] = { "create", "update", "put", "delete" };

static gboolean
get_operation_kind (JsonObject     *operation,
                    OperationKind  *kind,
                    GError        **error)
{
  const char *name;

  if (!_tether_cli_get_string_member (operation, "op", &name, error))
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
      !_tether_cli_get_string_member (operation, "collection", name, error))
    return FALSE;
  needs_id = *kind == OP_UPDATE || *kind == OP_DELETE || json_object_has_member (operation, "id");
  takes_data = *kind != OP_DELETE;
  if ((needs_id && !_tether_cli_get_string_member (operation, "id", id, error)) ||
      (takes_data && !_tether_cli_get_object_member (operation, "data", data, error)))
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
