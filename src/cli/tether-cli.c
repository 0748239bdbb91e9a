/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tether-cli-private.h"

G_DEFINE_QUARK (tether-cli-error-quark, _tether_cli_error)

#define USAGE_LINE "Usage: tether [--db FILE] [--schema FILE] [COMMAND [ARGS...]]"

static void
print_usage (FILE *out)
{
  guint n_commands;
  const TetherCliCommand *commands = _tether_cli_get_commands (&n_commands);

  fprintf (out, "%s\n\n"
           "Without a command, prints a summary of the database.\n\n"
           "Commands:\n", USAGE_LINE);
  for (guint i = 0; i < n_commands; i++)
    fprintf (out, "  %s\n      %s\n", commands[i].synopsis, commands[i].summary);
  fputs ("\nConditions are \"FIELD OP VALUE\" with OP one of\n"
         "  == != < <= > >= in contains prefix\n"
         "VALUE is read as JSON when it parses, as a string otherwise.\n"
         "--where conditions must all hold; at least one --or condition must hold.\n"
         "\nGlobal options (before the command):\n"
         "  --db FILE       the database (default: $TETHER_DB, else\n"
         "                  $XDG_DATA_HOME/tether/tether.db)\n"
         "  --schema FILE   the schema to open the database with (default: the\n"
         "                  stored schema, or the app's schema for a new database)\n"
         "  --help          show this help\n"
         "  --version       show the version\n"
         "\nOutput is JSON on standard output, except that the sync commands (remote,\n"
         "sync, inspect, retry-failed, discard, compact, conflicts) print lines for\n"
         "people, or JSON with --json where they take it. `remote set` sets a database\n"
         "up for sync; until then the others change nothing and fail (inspect --json\n"
         "prints \"setUp\": false), and they refuse a database file that does not exist\n"
         "rather than create it. Errors go to standard error with exit status 1, or 2\n"
         "for a wrong command line.\n", out);
}

static int
report_error (const GError           *error,
              const TetherCliCommand *command)
{
  fprintf (stderr, "tether: %s\n", error->message);
  if (!g_error_matches (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE))
    return 1;
  if (command != NULL)
    fprintf (stderr, "Usage: tether %s\n", command->synopsis);
  fputs ("Try 'tether --help' for more information.\n", stderr);
  return 2;
}

/* The database ------------------------------------------------------------- */

static char *
default_db_path (GError **error)
{
  const char *env = g_getenv ("TETHER_DB");
  g_autofree char *dir = NULL;

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  dir = g_build_filename (g_get_user_data_dir (), "tether", NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                   "cannot create the folder %s: %s", dir, g_strerror (saved_errno));
      return NULL;
    }
  return g_build_filename (dir, "tether.db", NULL);
}

static TetherSchema *
load_schema (const char  *path,
             GError     **error)
{
  TetherSchema *schema = tether_schema_new_from_file (path, error);

  /* GLib's file errors name the file already; the schema's own do not. */
  if (schema == NULL && error != NULL && (*error)->domain == TETHER_SCHEMA_ERROR)
    g_prefix_error (error, "%s: ", path);
  return schema;
}

/* Set for the sync commands but `remote set`: they read or change a database
 * set up for sync, so a missing file is a mistyped --db, not a new database. */
static gboolean open_existing_only;

static gboolean
check_exists (const char  *path,
              GError     **error)
{
  if (!open_existing_only || g_str_equal (path, ":memory:") ||
      g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "%s does not exist (check --db and $TETHER_DB: sync commands never create "
               "a database); " TETHER_CLI_NOT_SET_UP, path);
  return FALSE;
}

TetherDatabase *
_tether_cli_open (TetherCli  *cli,
                  GError    **error)
{
  g_autoptr(TetherSchema) schema = NULL;

  if (cli->db != NULL)
    return cli->db;
  if (cli->db_path == NULL && (cli->db_path = default_db_path (error)) == NULL)
    return NULL;
  if (!check_exists (cli->db_path, error))
    return NULL;
  if (cli->schema_path != NULL && (schema = load_schema (cli->schema_path, error)) == NULL)
    return NULL;
  cli->db = tether_database_open (cli->db_path, schema, error);
  return cli->db;
}

TetherCollection *
_tether_cli_get_collection (TetherCli   *cli,
                            const char  *name,
                            GError     **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);

  if (db == NULL)
    return NULL;
  return tether_database_get_collection (db, name, error);
}

static void
tether_cli_clear (TetherCli *cli)
{
  if (cli->db != NULL)
    tether_database_close (cli->db);
  g_clear_object (&cli->db);
  g_clear_pointer (&cli->db_path, g_free);
  g_clear_pointer (&cli->schema_path, g_free);
}

/* Command options ----------------------------------------------------------- */

typedef enum {
  OPT_WHERE, OPT_OR, OPT_SORT, OPT_LIMIT, OPT_OFFSET, OPT_FIRST, OPT_SINGLE, OPT_TOKEN, OPT_TOKEN_FILE,
  OPT_NO_TOKEN, OPT_JSON
} OptionId;

static const struct {
  const char       *name;
  OptionId          id;
  TetherCliOptions  flag;
  gboolean          has_value;
} command_options[] = {
  { "--where", OPT_WHERE, TETHER_CLI_OPT_FILTER, TRUE },
  { "--or", OPT_OR, TETHER_CLI_OPT_FILTER, TRUE },
  { "--sort", OPT_SORT, TETHER_CLI_OPT_SORT, TRUE },
  { "--limit", OPT_LIMIT, TETHER_CLI_OPT_PAGE, TRUE },
  { "--offset", OPT_OFFSET, TETHER_CLI_OPT_PAGE, TRUE },
  { "--first", OPT_FIRST, TETHER_CLI_OPT_FIRST, FALSE },
  { "--single-transaction", OPT_SINGLE, TETHER_CLI_OPT_SINGLE_TRANSACTION, FALSE },
  { "--token", OPT_TOKEN, TETHER_CLI_OPT_TOKEN, TRUE },
  { "--token-file", OPT_TOKEN_FILE, TETHER_CLI_OPT_TOKEN, TRUE },
  { "--no-token", OPT_NO_TOKEN, TETHER_CLI_OPT_TOKEN, FALSE },
  { "--json", OPT_JSON, TETHER_CLI_OPT_JSON, FALSE },
};

static void
tether_cli_args_clear (TetherCliArgs *args)
{
  g_clear_pointer (&args->positional, g_ptr_array_unref);
  g_clear_pointer (&args->where, g_ptr_array_unref);
  g_clear_pointer (&args->or_where, g_ptr_array_unref);
  g_clear_pointer (&args->sort, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TetherCliArgs, tether_cli_args_clear)

static gboolean
parse_count (const char  *option,
             const char  *value,
             gint64      *out,
             GError     **error)
{
  guint64 number;

  if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &number, NULL))
    {
      *out = (gint64) number;
      return TRUE;
    }
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "%s needs a whole number of 0 or more, not '%s'", option, value);
  return FALSE;
}

/* "FIELD[:asc|:desc]"; checked here so a typo fails before the database opens. */
static gboolean
check_sort (const char  *value,
            GError     **error)
{
  const char *colon = strrchr (value, ':');

  if (colon == NULL || g_ascii_strcasecmp (colon + 1, "asc") == 0 ||
      g_ascii_strcasecmp (colon + 1, "desc") == 0)
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "--sort %s: the direction must be asc or desc", value);
  return FALSE;
}

/* The engine's reading of "FIELD OP VALUE" (tether_query_where_text), up to
 * the schema: an operator is a run of symbols, or a word; symbols that may
 * start a value are not part of it. */
static gboolean
is_operator_char (char c)
{
  return c != '\0' && g_ascii_ispunct (c) && strchr ("\"'[{(-+._", c) == NULL;
}

static gboolean
condition_error (GError     **error,
                 const char  *option,
                 const char  *condition,
                 const char  *problem)
{
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "%s \"%s\": %s (write FIELD OP VALUE, e.g. \"priority >= 2\")",
               option, condition, problem);
  return FALSE;
}

/* A condition that does not read as FIELD OP VALUE is a wrong command line,
 * found before the database opens; whether the schema has the field and
 * the value fits it is the engine's to say. */
static gboolean
check_condition (const char  *option,
                 const char  *condition,
                 GError     **error)
{
  const char *p = condition, *field, *op;
  g_autofree char *op_text = NULL;
  g_autofree char *problem = NULL;
  TetherOp parsed;

  while (g_ascii_isspace (*p)) p++;
  for (field = p; g_ascii_isalnum (*p) || *p == '_'; p++);
  if (p == field)
    return condition_error (error, option, condition, "it does not start with a field name");
  problem = g_strdup_printf ("an operator is missing after '%.*s'", (int) (p - field), field);
  while (g_ascii_isspace (*p)) p++;
  if (*p == '\0')
    return condition_error (error, option, condition, "the operator and the value are missing");
  for (op = p; is_operator_char (op[0]) ? is_operator_char (*p) : g_ascii_isalpha (*p); p++);
  if (p == op)
    return condition_error (error, option, condition, problem);
  op_text = g_strndup (op, p - op);
  if (!tether_op_from_string (op_text, &parsed))
    {
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                   "%s \"%s\": unknown operator '%s' (use == != < <= > >= in contains prefix)",
                   option, condition, op_text);
      return FALSE;
    }
  while (g_ascii_isspace (*p)) p++;
  if (*p == '\0')
    return condition_error (error, option, condition, "the value is missing");
  return TRUE;
}

static gboolean
store_option (TetherCliArgs  *args,
              OptionId        id,
              const char     *name,
              const char     *value,
              GError        **error)
{
  switch (id)
    {
    case OPT_WHERE:
      g_ptr_array_add (args->where, (gpointer) value);
      return check_condition (name, value, error);
    case OPT_OR:
      g_ptr_array_add (args->or_where, (gpointer) value);
      return check_condition (name, value, error);
    case OPT_SORT:
      g_ptr_array_add (args->sort, (gpointer) value);
      return check_sort (value, error);
    case OPT_LIMIT:
      return parse_count (name, value, &args->limit, error);
    case OPT_OFFSET:
      return parse_count (name, value, &args->offset, error);
    case OPT_FIRST:
      args->first = TRUE;
      return TRUE;
    case OPT_TOKEN:
      args->token = value;
      return TRUE;
    case OPT_TOKEN_FILE:
      args->token_file = value;
      return TRUE;
    case OPT_NO_TOKEN:
      args->no_token = TRUE;
      return TRUE;
    case OPT_JSON:
      args->json = TRUE;
      return TRUE;
    case OPT_SINGLE:
    default:
      args->single_transaction = TRUE;
      return TRUE;
    }
}

/* Arguments are quoted in messages and JSON output, which must stay UTF-8. */
static gboolean
check_utf8 (char    **argv,
            int       i,
            GError  **error)
{
  if (g_utf8_validate (argv[i], -1, NULL))
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "%s: argument %d is not valid UTF-8", argv[0], i);
  return FALSE;
}

/* One option at argv[*i], as "--name VALUE" or "--name=VALUE". */
static gboolean
parse_option (TetherCliArgs     *args,
              TetherCliOptions  allowed,
              int               argc,
              char            **argv,
              int              *i,
              GError          **error)
{
  const char *arg = argv[*i];
  gsize name_len = strcspn (arg, "=");

  for (guint o = 0; o < G_N_ELEMENTS (command_options); o++)
    {
      const char *name = command_options[o].name;
      const char *value = NULL;

      if (strlen (name) != name_len || strncmp (arg, name, name_len) != 0 ||
          !(allowed & command_options[o].flag))
        continue;
      if (arg[name_len] == '=')
        value = arg + name_len + 1;
      else if (command_options[o].has_value && *i + 1 < argc)
        value = argv[++*i];
      if (command_options[o].has_value != (value != NULL))
        {
          g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                       command_options[o].has_value ? "%s needs a value" : "%s takes no value",
                       name);
          return FALSE;
        }
      if (!check_utf8 (argv, *i, error))
        return FALSE;
      return store_option (args, command_options[o].id, name, value, error);
    }
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "%s: unknown option '%.*s'", argv[0], (int) name_len, arg);
  return FALSE;
}

static gboolean
parse_command_args (const TetherCliCommand  *command,
                    int                      argc,
                    char                   **argv,
                    TetherCliArgs           *args,
                    GError                 **error)
{
  gboolean options_done = FALSE;

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];

      if (!options_done && g_str_equal (arg, "--"))
        options_done = TRUE;
      else if (!options_done && arg[0] == '-' && arg[1] != '\0')
        {
          if (!check_utf8 (argv, i, error) ||
              !parse_option (args, command->options, argc, argv, &i, error))
            return FALSE;
        }
      /* A record's bad bytes are bad data, as in import (status 1): the
       * command checks them as it reads the JSON. */
      else if (args->positional->len + 1 != command->json_arg && !check_utf8 (argv, i, error))
        return FALSE;
      else
        g_ptr_array_add (args->positional, (gpointer) arg);
    }
  if (args->positional->len >= command->min_args && args->positional->len <= command->max_args)
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "%s: %s arguments", command->name,
               args->positional->len < command->min_args ? "missing" : "too many");
  return FALSE;
}

/* Dispatch ----------------------------------------------------------------- */

static const TetherCliCommand *
lookup_command (const char *name)
{
  guint n_commands;
  const TetherCliCommand *commands = _tether_cli_get_commands (&n_commands);

  for (guint i = 0; i < n_commands; i++)
    if (g_str_equal (commands[i].name, name))
      return &commands[i];
  return NULL;
}

static gboolean
needs_existing_db (const TetherCliCommand *command,
                   TetherCliArgs          *args)
{
  static const char * const sync_commands[] = {
    "remote", "sync", "inspect", "retry-failed", "discard", "compact", "conflicts", NULL
  };

  if (!g_strv_contains (sync_commands, command->name))
    return FALSE;
  return !g_str_equal (command->name, "remote") || !g_str_equal (ARG (args, 0), "set");
}

static gboolean
wants_help (int    argc,
            char **argv)
{
  for (int i = 1; i < argc && !g_str_equal (argv[i], "--"); i++)
    if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
      return TRUE;
  return FALSE;
}

static int
run_command (TetherCli  *cli,
             int         argc,
             char      **argv)
{
  g_auto(TetherCliArgs) args = { NULL };
  g_autoptr(GError) error = NULL;
  const TetherCliCommand *command = lookup_command (argv[0]);

  if (command == NULL)
    {
      g_set_error (&error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                   "unknown command '%s'", argv[0]);
      return report_error (error, NULL);
    }
  if (wants_help (argc, argv))
    {
      print_usage (stdout);
      return 0;
    }
  args.positional = g_ptr_array_new ();
  args.where = g_ptr_array_new ();
  args.or_where = g_ptr_array_new ();
  args.sort = g_ptr_array_new ();
  args.limit = args.offset = -1;
  if (!parse_command_args (command, argc, argv, &args, &error))
    return report_error (error, command);
  open_existing_only = needs_existing_db (command, &args);
  if (!command->func (cli, &args, &error) ||
      !_tether_cli_flush (&error))
    return report_error (error, command);
  return 0;
}

/* Global options ----------------------------------------------------------- */

static gboolean
take_global_value (int          argc,
                   char       **argv,
                   int         *i,
                   const char  *name,
                   char       **out,
                   GError     **error)
{
  const char *arg = argv[*i];
  gsize len = strlen (name);

  const char *value = NULL;

  if (arg[len] == '=')
    value = arg + len + 1;
  else if (*i + 1 < argc)
    value = argv[++*i];
  if (value == NULL || value[0] == '\0')
    {
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE, "%s needs a FILE", name);
      return FALSE;
    }
  g_free (*out);
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
is_option (const char *arg,
           const char *name)
{
  gsize len = strlen (name);

  return strncmp (arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

/* Returns the index of the command in argv (argc when there is none), or -1
 * on a usage error. --help and --version set @info instead. */
static int
parse_global_options (TetherCli   *cli,
                      int          argc,
                      char       **argv,
                      const char **info,
                      GError     **error)
{
  int i;

  for (i = 1; i < argc && argv[i][0] == '-'; i++)
    {
      const char *arg = argv[i];

      if (g_str_equal (arg, "--"))
        return i + 1;
      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h") || g_str_equal (arg, "--version"))
        *info = arg;
      else if (is_option (arg, "--db"))
        {
          if (!take_global_value (argc, argv, &i, "--db", &cli->db_path, error))
            return -1;
        }
      else if (is_option (arg, "--schema"))
        {
          if (!take_global_value (argc, argv, &i, "--schema", &cli->schema_path, error))
            return -1;
        }
      else
        {
          g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                       "unknown option '%s' (options go before the command)", arg);
          return -1;
        }
    }
  return i;
}

static int
run_summary (TetherCli *cli)
{
  g_autoptr(GError) error = NULL;

  if (!_tether_cli_summary (cli, &error) || !_tether_cli_flush (&error))
    return report_error (error, NULL);
  return 0;
}

static int
print_info (const char *option)
{
  if (g_str_equal (option, "--version"))
    printf ("tether %s\n", PACKAGE_VERSION);
  else
    print_usage (stdout);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  TetherCli cli = { NULL };
  g_autoptr(GError) error = NULL;
  const char *info = NULL;
  int command_index;
  int status;

  g_set_prgname ("tether");
  command_index = parse_global_options (&cli, argc, argv, &info, &error);
  if (command_index < 0)
    status = report_error (error, NULL);
  else if (info != NULL)
    status = print_info (info);
  else if (command_index >= argc)
    status = run_summary (&cli);
  else if (g_str_equal (argv[command_index], "help"))
    status = print_info ("--help");
  else
    status = run_command (&cli, argc - command_index, argv + command_index);
  tether_cli_clear (&cli);
  return status;
}
