/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-cli-private.h"

/* Summary ------------------------------------------------------------------ */

gboolean
_tether_cli_summary (TetherCli  *cli,
                     GError    **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);
  g_autoptr(JsonObject) summary = json_object_new ();
  g_autoptr(JsonObject) counts = json_object_new ();
  g_autofree char *path = NULL;
  TetherSchema *schema;
  const char * const *names;

  if (db == NULL)
    return FALSE;
  schema = tether_database_get_schema (db);
  names = tether_schema_get_collections (schema);
  for (guint i = 0; names[i] != NULL; i++)
    {
      TetherCollection *collection = tether_database_get_collection (db, names[i], error);
      gint64 count = collection ? tether_collection_count (collection, NULL, error) : -1;

      if (count < 0)
        return FALSE;
      json_object_set_int_member (counts, names[i], count);
    }
  /* The JSON must stay UTF-8 whatever bytes the file name holds. */
  path = g_filename_display_name (tether_database_get_path (db));
  json_object_set_string_member (summary, "database", path);
  json_object_set_int_member (summary, "schemaVersion", tether_schema_get_version (schema));
  json_object_set_object_member (summary, "collections", g_steal_pointer (&counts));
  _tether_cli_print_object (summary);
  return TRUE;
}

/* One record ---------------------------------------------------------------- */

/* Takes @record, NULL when the write or read failed. */
static gboolean
print_if_stored (TetherRecord *record)
{
  g_autoptr(TetherRecord) owned = record;

  if (owned == NULL)
    return FALSE;
  _tether_cli_print_record (owned);
  return TRUE;
}

static gboolean
cmd_create (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autoptr(JsonObject) data = _tether_cli_parse_argument ("create", ARG (args, 1), error);
  TetherCollection *collection;

  if (data == NULL || !(collection = _tether_cli_get_collection (cli, ARG (args, 0), error)))
    return FALSE;
  return print_if_stored (tether_collection_create (collection, data, error));
}

static gboolean
cmd_get (TetherCli      *cli,
         TetherCliArgs  *args,
         GError        **error)
{
  TetherCollection *collection = _tether_cli_get_collection (cli, ARG (args, 0), error);

  if (collection == NULL)
    return FALSE;
  return print_if_stored (tether_collection_get (collection, ARG (args, 1), error));
}

static gboolean
cmd_update (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autoptr(JsonObject) patch = _tether_cli_parse_argument ("update", ARG (args, 2), error);
  TetherCollection *collection;

  if (patch == NULL || !(collection = _tether_cli_get_collection (cli, ARG (args, 0), error)))
    return FALSE;
  return print_if_stored (tether_collection_update (collection, ARG (args, 1), patch, error));
}

static gboolean
cmd_put (TetherCli      *cli,
         TetherCliArgs  *args,
         GError        **error)
{
  g_autoptr(JsonObject) data = _tether_cli_parse_argument ("put", ARG (args, 1), error);
  TetherCollection *collection;

  if (data == NULL || !(collection = _tether_cli_get_collection (cli, ARG (args, 0), error)))
    return FALSE;
  return print_if_stored (tether_collection_put (collection, data, error));
}

static gboolean
cmd_delete (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  TetherCollection *collection = _tether_cli_get_collection (cli, ARG (args, 0), error);
  g_autoptr(JsonObject) result = json_object_new ();

  if (collection == NULL || !tether_collection_delete (collection, ARG (args, 1), error))
    return FALSE;
  json_object_set_string_member (result, "deleted", ARG (args, 1));
  _tether_cli_print_object (result);
  return TRUE;
}

/* Queries ------------------------------------------------------------------- */

/* @spec was checked by the option parser. */
static void
add_sort (TetherQuery *query,
          const char  *spec)
{
  const char *colon = strrchr (spec, ':');
  g_autofree char *field = NULL;

  if (colon == NULL)
    {
      tether_query_sort (query, spec, FALSE);
      return;
    }
  field = g_strndup (spec, colon - spec);
  tether_query_sort (query, field, g_ascii_strcasecmp (colon + 1, "desc") == 0);
}

/* The conditions parse in the engine (tether_query_where_text), so the CLI
 * and the library agree on what "FIELD OP VALUE" means. */
static TetherQuery *
build_query (TetherCli      *cli,
             TetherCliArgs  *args,
             GError        **error)
{
  TetherCollection *collection = _tether_cli_get_collection (cli, ARG (args, 0), error);
  g_autoptr(TetherQuery) query = NULL;

  if (collection == NULL)
    return NULL;
  query = tether_query_new (collection);
  for (guint i = 0; i < args->where->len; i++)
    tether_query_where_text (query, g_ptr_array_index (args->where, i));
  for (guint i = 0; i < args->or_where->len; i++)
    tether_query_or_where_text (query, 0, g_ptr_array_index (args->or_where, i));
  for (guint i = 0; i < args->sort->len; i++)
    add_sort (query, g_ptr_array_index (args->sort, i));
  if (args->limit >= 0)
    tether_query_limit (query, args->limit);
  if (args->offset >= 0)
    tether_query_offset (query, args->offset);
  return g_steal_pointer (&query);
}

static gboolean
run_and_print (TetherQuery  *query,
               gboolean      first,
               GError      **error)
{
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!first)
    {
      if ((records = tether_query_run (query, error)) == NULL)
        return FALSE;
      _tether_cli_print_records (records);
      return TRUE;
    }
  record = tether_query_first (query, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (record != NULL)
    _tether_cli_print_record (record);
  else
    _tether_cli_print_text ("null");
  return TRUE;
}

static gboolean
cmd_query (TetherCli      *cli,
           TetherCliArgs  *args,
           GError        **error)
{
  g_autoptr(TetherQuery) query = build_query (cli, args, error);

  return query != NULL && run_and_print (query, args->first, error);
}

static gboolean
cmd_search (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autoptr(TetherQuery) query = build_query (cli, args, error);

  if (query == NULL)
    return FALSE;
  tether_query_search (query, ARG (args, 1));
  return run_and_print (query, FALSE, error);
}

static gboolean
cmd_count (TetherCli      *cli,
           TetherCliArgs  *args,
           GError        **error)
{
  g_autoptr(TetherQuery) query = build_query (cli, args, error);
  gint64 count;

  if (query == NULL)
    return FALSE;
  count = tether_collection_count (tether_query_get_collection (query), query, error);
  if (count < 0)
    return FALSE;
  _tether_cli_print_int (count);
  return TRUE;
}

/* The table ---------------------------------------------------------------- */

static const TetherCliCommand commands[] = {
  { "create", "create COLLECTION JSON",
    "Create a record from a JSON object and print it.",
    2, 2, 0, cmd_create, 2 },
  { "get", "get COLLECTION ID",
    "Print one record.",
    2, 2, 0, cmd_get },
  { "update", "update COLLECTION ID JSON",
    "Merge a JSON object into a record (a JSON merge patch: null removes a field).",
    3, 3, 0, cmd_update, 3 },
  { "put", "put COLLECTION JSON",
    "Replace the record with the object's \"id\", or create it.",
    2, 2, 0, cmd_put, 2 },
  { "delete", "delete COLLECTION ID",
    "Delete a record.",
    2, 2, 0, cmd_delete },
  { "count", "count COLLECTION [--where COND]... [--or COND]...",
    "Print the number of matching records.",
    1, 1, TETHER_CLI_OPT_FILTER, cmd_count },
  { "query", "query COLLECTION [--where COND]... [--or COND]... [--sort FIELD[:desc]]...\n"
             "        [--limit N] [--offset N] [--first]",
    "Print the matching records as a JSON array (--first: the first one, or null).",
    1, 1, TETHER_CLI_OPT_FILTER | TETHER_CLI_OPT_SORT | TETHER_CLI_OPT_PAGE | TETHER_CLI_OPT_FIRST,
    cmd_query },
  { "search", "search COLLECTION TEXT [--where COND]... [--or COND]... [--limit N] [--offset N]",
    "Full-text search; every word matches as a prefix, accents ignored; best first.",
    2, 2, TETHER_CLI_OPT_FILTER | TETHER_CLI_OPT_PAGE, cmd_search },
  { "export", "export [COLLECTION]",
    "Write records as JSON lines; without COLLECTION, every collection as\n"
    "      {\"collection\": NAME, \"record\": {...}} lines. Each line carries the\n"
    "      record's createdAt and updatedAt, which import puts back.",
    0, 1, 0, _tether_cli_export },
  { "import", "import [COLLECTION]",
    "Read JSON lines (as export writes them) from standard input and put every\n"
    "      record, all in one transaction: one bad line and nothing is written.",
    0, 1, 0, _tether_cli_import },
  { "apply", "apply [--single-transaction]",
    "Run create/update/put/delete operations given as JSON lines on standard input;\n"
    "      prints one result line per operation. --single-transaction runs them all\n"
    "      in one transaction: if any fails, every one is rolled back.",
    0, 0, TETHER_CLI_OPT_SINGLE_TRANSACTION, _tether_cli_apply },
  { "remote", "remote set URL [--token TOKEN | --token-file FILE | --no-token] | remote show",
    "Store the sync server's address (http:// or https://) and token in the database,\n"
    "      or show them (never the token). --token-file reads the token from the first\n"
    "      line of FILE ('-': standard input), out of sight of ps and the shell history.\n"
    "      Without either, the stored token is kept if URL is on the same server (scheme,\n"
    "      host and port) and dropped if not; --no-token removes it. A database that\n"
    "      holds a token is made readable by its owner only.",
    1, 2, TETHER_CLI_OPT_TOKEN, _tether_cli_remote },
  { "sync", "sync",
    "Push every pending change to the remote, then pull; prints what it did. Exits\n"
    "      with status 1 when a change failed in this sync: the server rejected it, or\n"
    "      it ran out of retries (tether inspect says why).",
    0, 0, 0, _tether_cli_sync },
  { "inspect", "inspect [--json]",
    "Show the remote, the change queue (with each change's title), the open conflicts\n"
    "      and the last syncs.",
    0, 0, TETHER_CLI_OPT_JSON, _tether_cli_inspect },
  { "retry-failed", "retry-failed",
    "Put the changes the server refused back in the queue; prints how many.",
    0, 0, 0, _tether_cli_retry_failed },
  { "discard", "discard CHANGE_ID",
    "Drop a pending or failed change from the queue (the record keeps its data).",
    1, 1, 0, _tether_cli_discard },
  { "compact", "compact",
    "Squash each record's pending changes into one; prints how many were removed.",
    0, 0, 0, _tether_cli_compact },
  { "conflicts", "conflicts [--json] | conflicts restore CONFLICT_ID",
    "List the conflict log, or write the version that lost back as a pending change.",
    0, 2, TETHER_CLI_OPT_JSON, _tether_cli_conflicts },
};

const TetherCliCommand *
_tether_cli_get_commands (guint *n_commands)
{
  *n_commands = G_N_ELEMENTS (commands);
  return commands;
}
