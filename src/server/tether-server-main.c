/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-main"
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tether-server.h"

/* tether-server serve | user add|list|remove|rotate. Exit status: 0 done,
 * 1 the operation failed, 2 a wrong command line. */

#define PURGE_EVERY_SECONDS (60 * 60)
#define DEFAULT_TOMBSTONE_DAYS 30.0
#define MS_PER_DAY (24.0 * 60 * 60 * 1000)

GQuark usage_error_quark (void);
G_DEFINE_QUARK (tether-server-usage-error-quark, usage_error)
#define USAGE_ERROR (usage_error_quark ())

typedef struct {
  /* as given */
  char     *listen;
  char     *base_path;
  char     *db;
  char     *postgres;
  char     *schema;
  char     *max_body;
  char     *rate;
  char     *burst;
  char     *tombstone_days;
  char     *read_timeout;
  gboolean  trust_proxy;
  gboolean  version;
  /* parsed */
  TetherServerOptions server;
  char     *host;
  double    retention_days;
} Args;

static void
args_clear (Args *args)
{
  g_free (args->listen);
  g_free (args->base_path);
  g_free (args->db);
  g_free (args->postgres);
  g_free (args->schema);
  g_free (args->max_body);
  g_free (args->rate);
  g_free (args->burst);
  g_free (args->tombstone_days);
  g_free (args->read_timeout);
  g_free (args->host);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Args, args_clear)

static const char summary[] =
  "Commands:\n"
  "  serve              run the sync server until SIGINT or SIGTERM\n"
  "  user add NAME      add a user and print their token (shown only once)\n"
  "  user list          list users and when they were added\n"
  "  user remove NAME   remove a user and all their data\n"
  "  user rotate NAME   give a user a new token (the old one stops working)";

static const char description[] =
  "The storage is an SQLite file (default $XDG_DATA_HOME/tether-server/tether-server.db)\n"
  "or, with --postgres, a PostgreSQL database shared by several servers.\n"
  "serve logs one line per request on standard error:\n"
  "  METHOD PATH user=NAME status=N changes=N ms=F\n"
  "Exit status: 0 success, 1 failure, 2 wrong command line. See docs/server.md.";

static GOptionContext *
option_context (Args *args)
{
  const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &args->listen,
      "Address and port to listen on (default 127.0.0.1:8787; port 0 picks a free one)", "HOST:PORT" },
    { "base-path", 0, 0, G_OPTION_ARG_STRING, &args->base_path,
      "Path of the sync API (default /sync)", "PATH" },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &args->db, "SQLite database file", "FILE" },
    { "postgres", 0, 0, G_OPTION_ARG_STRING, &args->postgres,
      "PostgreSQL connection string instead of SQLite", "CONNINFO" },
    { "schema", 0, 0, G_OPTION_ARG_FILENAME, &args->schema,
      "Validate pushed records against this schema", "FILE" },
    { "max-body", 0, 0, G_OPTION_ARG_STRING, &args->max_body,
      "Largest request body or WebSocket message (default 16M)", "BYTES" },
    { "rate", 0, 0, G_OPTION_ARG_STRING, &args->rate,
      "Requests per second per user, sustained (default 50/s; 0 turns limits off)", "N/s" },
    { "burst", 0, 0, G_OPTION_ARG_STRING, &args->burst,
      "Requests per user allowed in a burst (default 100)", "N" },
    { "tombstone-days", 0, 0, G_OPTION_ARG_STRING, &args->tombstone_days,
      "Keep deletes this many days for clients to learn of them (default 30)", "N" },
    { "read-timeout", 0, 0, G_OPTION_ARG_STRING, &args->read_timeout,
      "Close a connection whose request sends nothing for this long (default 30; 0 never)", "SECONDS" },
    { "trust-proxy", 0, 0, G_OPTION_ARG_NONE, &args->trust_proxy,
      "Behind a reverse proxy on this machine: take the client's address from X-Real-IP", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &args->version, "Show the version", NULL },
    { NULL }
  };
  GOptionContext *context = g_option_context_new ("serve | user add|list|remove|rotate [NAME]");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, description);
  return context;
}

/* Option values ------------------------------------------------------------------ */

static gboolean
parse_listen (Args     *args,
              GError  **error)
{
  const char *text = args->listen != NULL ? args->listen : "127.0.0.1:8787";
  const char *colon = strrchr (text, ':');
  guint64 port;

  if (colon == NULL || colon == text ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT16, &port, NULL))
    {
      g_set_error (error, USAGE_ERROR, 0, "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8787", text);
      return FALSE;
    }
  if (text[0] == '[' && colon[-1] == ']')
    args->host = g_strndup (text + 1, colon - text - 2);   /* [::1]:8787 */
  else if (memchr (text, ':', colon - text) == NULL)
    args->host = g_strndup (text, colon - text);
  else
    {
      g_set_error (error, USAGE_ERROR, 0, "--listen %s: write an IPv6 address in brackets, e.g. [::1]:8787", text);
      return FALSE;
    }
  args->server.address = args->host;
  args->server.port = (guint16) port;
  return TRUE;
}

/* "16777216", "64K", "16M", "1G" (powers of 1024). */
static gboolean
parse_size (const char  *text,
            gsize       *out,
            GError     **error)
{
  char *end = NULL;
  guint64 value;
  guint shift = 0;

  errno = 0;
  value = g_ascii_strtoull (text, &end, 10);
  if (end != text && g_ascii_strcasecmp (end, "K") == 0)
    shift = 10;
  else if (end != text && g_ascii_strcasecmp (end, "M") == 0)
    shift = 20;
  else if (end != text && g_ascii_strcasecmp (end, "G") == 0)
    shift = 30;
  else if (end == text || *end != '\0')
    errno = EINVAL;
  if (errno != 0 || value == 0 || value > (G_MAXSIZE >> shift) || text[0] == '-')
    {
      g_set_error (error, USAGE_ERROR, 0, "--max-body %s: expected a number of bytes, e.g. 1048576 or 16M", text);
      return FALSE;
    }
  if (value > (TETHER_SERVER_MAX_MAX_BODY >> shift))
    {
      g_set_error (error, USAGE_ERROR, 0, "--max-body %s: the limit is 1G (%" G_GSIZE_FORMAT " bytes): "
                   "a request body is held in one buffer", text, TETHER_SERVER_MAX_MAX_BODY);
      return FALSE;
    }
  *out = (gsize) (value << shift);
  return TRUE;
}

static gboolean
parse_number (const char  *option,
              const char  *text,
              const char  *suffix,
              double       min,
              double      *out,
              GError     **error)
{
  char *end = NULL;
  double value = g_ascii_strtod (text, &end);

  if (end != text && suffix != NULL && strcmp (end, suffix) == 0)
    end += strlen (suffix);
  if (end == text || *end != '\0' || !(value >= min) || value > 1e9)
    {
      g_set_error (error, USAGE_ERROR, 0, "%s %s: expected a number of at least %g", option, text, min);
      return FALSE;
    }
  *out = value;
  return TRUE;
}

static gboolean
parse_base_path (Args     *args,
                 GError  **error)
{
  const char *path = args->base_path != NULL ? args->base_path : TETHER_SERVER_DEFAULT_BASE_PATH;

  if (path[0] != '/' || strpbrk (path, "?#%\\ \t\r\n") != NULL)
    {
      g_set_error (error, USAGE_ERROR, 0, "--base-path %s: expected a path like /sync", path);
      return FALSE;
    }
  args->server.base_path = path;
  return TRUE;
}

static gboolean
parse_serve_options (Args     *args,
                     GError  **error)
{
  double rate = TETHER_SERVER_DEFAULT_RATE, burst = TETHER_SERVER_DEFAULT_BURST;

  tether_server_options_init (&args->server);
  args->retention_days = DEFAULT_TOMBSTONE_DAYS;
  if (!parse_listen (args, error) || !parse_base_path (args, error))
    return FALSE;
  if (args->max_body != NULL && !parse_size (args->max_body, &args->server.max_body, error))
    return FALSE;
  if (args->rate != NULL && !parse_number ("--rate", args->rate, "/s", 0, &rate, error))
    return FALSE;
  if (args->burst != NULL && !parse_number ("--burst", args->burst, NULL, 1, &burst, error))
    return FALSE;
  if (args->tombstone_days != NULL &&
      !parse_number ("--tombstone-days", args->tombstone_days, NULL, 0, &args->retention_days, error))
    return FALSE;
  if (args->read_timeout != NULL)
    {
      guint64 seconds;

      /* Whole seconds: 0.5 would truncate to 0, which means never. */
      if (!g_ascii_string_to_unsigned (args->read_timeout, 10, 0, 1000000000, &seconds, NULL))
        {
          g_set_error (error, USAGE_ERROR, 0, "--read-timeout %s: expected a whole number of "
                       "seconds, e.g. 30 (0: never)", args->read_timeout);
          return FALSE;
        }
      args->server.read_timeout = (guint) MIN (seconds, 86400);
    }
  args->server.rate = rate;
  args->server.burst = (guint) burst;
  args->server.trust_proxy = args->trust_proxy;
  return TRUE;
}

/* Storage ---------------------------------------------------------------------- */

static char *
default_db_path (GError **error)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "tether-server", NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "cannot create the folder %s: %s (give --db FILE)", dir, g_strerror (saved_errno));
      return NULL;
    }
  return g_build_filename (dir, "tether-server.db", NULL);
}

static TetherServerCore *
open_core (Args     *args,
           GError  **error)
{
  g_autoptr(TetherServerStore) store = NULL;
  g_autoptr(TetherSchema) schema = NULL;
  g_autofree char *path = NULL;
  double retention_ms = args->retention_days * MS_PER_DAY;

  if (args->schema != NULL && (schema = tether_schema_new_from_file (args->schema, error)) == NULL)
    {
      if ((*error)->domain == TETHER_SCHEMA_ERROR)
        g_prefix_error (error, "%s: ", args->schema);
      return NULL;
    }
  if (args->postgres != NULL)
    store = tether_server_store_postgres_new (args->postgres, error);
  else if ((path = args->db != NULL ? g_strdup (args->db) : default_db_path (error)) != NULL)
    store = tether_server_store_sqlite_new (path, error);
  if (store == NULL)
    return NULL;
  return tether_server_core_new (store, schema, TETHER_SERVER_DEFAULT_MAX_CHANGES,
                                 (gint64) MIN (retention_ms, (double) G_MAXINT64 / 2));
}

/* serve ---------------------------------------------------------------------------- */

typedef struct {
  GMainLoop    *loop;
  TetherServer *server;
  gboolean      stopping;
} Serve;

static gboolean
purge (gpointer user_data)
{
  TetherServerCore *core = user_data;
  g_autoptr(GError) error = NULL;
  gint64 n = tether_server_core_purge (core, &error);

  if (n < 0)
    g_printerr ("tether-server: cannot purge old tombstones: %s\n", error->message);
  else if (n > 0)
    g_printerr ("tether-server: purged %" G_GINT64_FORMAT " tombstones past their retention\n", n);
  return G_SOURCE_CONTINUE;
}

static void
shut_down (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Serve *serve = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_server_shutdown_finish (TETHER_SERVER (source), result, &error))
    g_printerr ("tether-server: %s\n", error->message);
  g_main_loop_quit (serve->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  Serve *serve = user_data;

  if (!serve->stopping)
    {
      serve->stopping = TRUE;
      g_printerr ("tether-server: stopping\n");
      tether_server_shutdown_async (serve->server, NULL, shut_down, serve);
    }
  return G_SOURCE_CONTINUE;
}

static int
run_serve (Args     *args,
           GError  **error)
{
  g_autoptr(TetherServerCore) core = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *url = NULL;
  Serve serve = { loop, NULL, FALSE };
  guint sigint_id, sigterm_id, purge_id;

  if (!parse_serve_options (args, error))
    return 2;
  if ((core = open_core (args, error)) == NULL ||
      !tether_server_store_prepare (tether_server_core_get_store (core), error))
    return 1;
  purge (core);
  serve.server = tether_server_new (core, &args->server);
  if (!tether_server_listen (serve.server, error))
    {
      g_clear_object (&serve.server);
      return 1;
    }
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &serve);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &serve);
  purge_id = g_timeout_add_seconds (PURGE_EVERY_SECONDS, purge, core);
  url = tether_server_get_url (serve.server);
  g_printerr ("tether-server listening on %s\n", url);

  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (purge_id);
  g_clear_object (&serve.server);
  return 0;
}

/* user -------------------------------------------------------------------------------- */

static int
run_user (Args    *args,
          int      argc,
          char   **argv,
          GError **error)
{
  g_autoptr(TetherServerCore) core = NULL;
  const char *verb = argc > 2 ? argv[2] : "";
  gboolean list = strcmp (verb, "list") == 0;
  g_autofree char *token = NULL;

  if (!list && strcmp (verb, "add") != 0 && strcmp (verb, "remove") != 0 && strcmp (verb, "rotate") != 0)
    {
      g_set_error (error, USAGE_ERROR, 0, "user needs add, list, remove or rotate, not '%s'", verb);
      return 2;
    }
  if (argc != (list ? 3 : 4))
    {
      g_set_error (error, USAGE_ERROR, 0, list ? "user list takes no name" : "user %s needs one NAME", verb);
      return 2;
    }
  args->retention_days = DEFAULT_TOMBSTONE_DAYS;
  if ((core = open_core (args, error)) == NULL)
    return 1;
  if (list)
    {
      g_autoptr(GPtrArray) users = tether_server_core_user_list (core, error);

      for (guint i = 0; users != NULL && i < users->len; i++)
        {
          TetherServerUser *user = g_ptr_array_index (users, i);
          g_autofree char *created = tether_time_format_ms (user->created_ms);

          printf ("%s\t%s\n", user->name, created);
        }
      return users != NULL ? 0 : 1;
    }
  if (strcmp (verb, "remove") == 0)
    return tether_server_core_user_remove (core, argv[3], error) ? 0 : 1;
  token = strcmp (verb, "add") == 0 ? tether_server_core_user_add (core, argv[3], error)
                                    : tether_server_core_user_rotate (core, argv[3], error);
  if (token == NULL)
    /* A name the server cannot take is a wrong command line. */
    return g_error_matches (*error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST) ? 2 : 1;
  printf ("%s\n", token);
  if (isatty (STDOUT_FILENO))
    g_printerr ("This token is shown once: give it to %s's clients now.\n", argv[3]);
  return 0;
}

/* main ----------------------------------------------------------------------------------- */

static gboolean
check_options (Args        *args,
               const char  *command,
               GError     **error)
{
  gboolean serve_only = args->listen != NULL || args->base_path != NULL || args->max_body != NULL ||
                        args->rate != NULL || args->burst != NULL || args->tombstone_days != NULL ||
                        args->read_timeout != NULL ||
                        args->schema != NULL || args->trust_proxy;

  if (args->db != NULL && args->postgres != NULL)
    g_set_error_literal (error, USAGE_ERROR, 0, "give --db or --postgres, not both");
  else if (strcmp (command, "user") == 0 && serve_only)
    g_set_error_literal (error, USAGE_ERROR, 0, "user commands take only --db or --postgres");
  else
    return TRUE;
  return FALSE;
}

static int
run (int      argc,
     char   **argv,
     GError **error)
{
  g_auto(Args) args = { 0 };
  g_autoptr(GOptionContext) context = option_context (&args);
  const char *command;

  if (!g_option_context_parse (context, &argc, &argv, error))
    return 2;
  if (args.version)
    {
      printf ("tether-server %s\n", PACKAGE_VERSION);
      return 0;
    }
  command = argc > 1 ? argv[1] : "";
  if (strcmp (command, "serve") != 0 && strcmp (command, "user") != 0)
    {
      if (command[0] == '\0')
        g_set_error_literal (error, USAGE_ERROR, 0, "no command given: serve or user");
      else
        g_set_error (error, USAGE_ERROR, 0, "unknown command '%s': serve or user", command);
      return 2;
    }
  if (!check_options (&args, command, error))
    return 2;
  if (strcmp (command, "user") == 0)
    return run_user (&args, argc, argv, error);
  if (argc > 2)
    {
      g_set_error (error, USAGE_ERROR, 0, "serve takes options only, not '%s'", argv[2]);
      return 2;
    }
  return run_serve (&args, error);
}

/* Messages are UTF-8 whatever the locale: never turned into "?" on the way out. */
static void
print_raw (const char *text)
{
  fputs (text, stdout);
}

static void
printerr_raw (const char *text)
{
  fputs (text, stderr);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  /* A client or log reader that goes away must not kill the server. */
  signal (SIGPIPE, SIG_IGN);
  /* SQLite's allocation statistics cost a global mutex per malloc; the
   * server never reads them. Off, a push of 1,000 updates spends ~5% less
   * in SQLite. Only possible before SQLite's first use. */
  sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
  g_set_print_handler (print_raw);
  g_set_printerr_handler (printerr_raw);
  status = run (argc, argv, &error);
  if (error != NULL)
    {
      g_printerr ("tether-server: %s\n", error->message);
      if (status == 2)
        g_printerr ("Try 'tether-server --help' for more information.\n");
    }
  return error != NULL && status == 0 ? 1 : status;
}
