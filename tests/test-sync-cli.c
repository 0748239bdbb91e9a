/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-cli"
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tether-test-server.h"

/* The sync commands of the real `tether` binary against a real
 * tether-server, as a user at a terminal or a script would run them. */

/* Runs `tether --db DIR/DB ARGS…` (NULL-terminated) with @input, if any,
 * on standard input. */
/* Root may change any file's mode: a CLI that must fail to runs as nobody. */
static void
drop_to_nobody (gpointer data)
{
  if (setgid (65534) != 0 || setuid (65534) != 0)
    _exit (3);
}

static Command *
cli_valist (Fixture    *f,
            const char *db,
            const char *input,
            gboolean    as_nobody,
            va_list     ap)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Command *command = g_new0 (Command, 1);
  const char *arg;

  g_assert_nonnull (g_getenv ("TETHER_CLI"));
  g_ptr_array_add (argv, g_strdup (g_getenv ("TETHER_CLI")));
  g_ptr_array_add (argv, g_strdup ("--db"));
  g_ptr_array_add (argv, g_build_filename (f->dir, db, NULL));
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  g_ptr_array_add (argv, NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
                                        (input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0));
  g_subprocess_launcher_unsetenv (launcher, "TETHER_DB");
  if (as_nobody)
    g_subprocess_launcher_set_child_setup (launcher, drop_to_nobody, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, &command->out, &command->err, &error);
  g_assert_no_error (error);
  /* A crash (or a warning made fatal by G_DEBUG) is never a pass. */
  g_assert_true (g_subprocess_get_if_exited (process));
  command->status = g_subprocess_get_exit_status (process);
  return command;
}

static G_GNUC_NULL_TERMINATED Command *
cli (Fixture    *f,
     const char *db,
     ...)
{
  Command *command;
  va_list ap;

  va_start (ap, db);
  command = cli_valist (f, db, NULL, FALSE, ap);
  va_end (ap);
  return command;
}

static G_GNUC_NULL_TERMINATED Command *
cli_nobody (Fixture    *f,
            const char *db,
            ...)
{
  Command *command;
  va_list ap;

  va_start (ap, db);
  command = cli_valist (f, db, NULL, TRUE, ap);
  va_end (ap);
  return command;
}

static G_GNUC_NULL_TERMINATED Command *
cli_input (Fixture    *f,
           const char *db,
           const char *input,
           ...)
{
  Command *command;
  va_list ap;

  va_start (ap, input);
  command = cli_valist (f, db, input, FALSE, ap);
  va_end (ap);
  return command;
}

/* Runs it to success; its standard output. */
static G_GNUC_NULL_TERMINATED char *
cli_ok (Fixture    *f,
        const char *db,
        ...)
{
  g_autoptr(Command) command = NULL;
  va_list ap;

  va_start (ap, db);
  command = cli_valist (f, db, NULL, FALSE, ap);
  va_end (ap);
  if (command->status != 0)
    g_error ("tether failed (%d): %s", command->status, command->err);
  g_assert_cmpstr (command->err, ==, "");
  return g_steal_pointer (&command->out);
}

/* The failure a user sees: the exit status, "tether: MESSAGE" on stderr
 * (MESSAGE containing @message), nothing on stdout. */
static void
assert_fails (Command    *command,
              int         status,
              const char *message)
{
  g_assert_cmpint (command->status, ==, status);
  g_assert_cmpstr (command->out, ==, "");
  g_assert_true (g_str_has_prefix (command->err, "tether: "));
  if (strstr (command->err, message) == NULL)
    g_error ("stderr \"%s\" does not say \"%s\"", command->err, message);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonNode) node = tether_test_node (text);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static JsonObject *
inspect (Fixture *f, const char *db)
{
  g_autofree char *out = cli_ok (f, db, "inspect", "--json", NULL);

  return parse_object (out);
}

static JsonArray *
conflicts (Fixture *f, const char *db)
{
  g_autofree char *out = cli_ok (f, db, "conflicts", "--json", NULL);
  g_autoptr(JsonNode) node = tether_test_node (out);

  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_array_ref (json_node_get_array (node));
}

static gint64
stat_of (JsonObject *inspected, const char *name)
{
  return json_object_get_int_member (json_object_get_object_member (inspected, "stats"), name);
}

/* The @i-th change of the queue. */
static JsonObject *
change_at (JsonObject *inspected, guint i)
{
  return json_array_get_object_element (json_object_get_array_member (inspected, "changes"), i);
}

/* The queued change of @record_id, or NULL. */
static JsonObject *
change_of (JsonObject *inspected, const char *record_id)
{
  JsonArray *changes = json_object_get_array_member (inspected, "changes");

  for (guint i = 0; i < json_array_get_length (changes); i++)
    if (g_str_equal (json_object_get_string_member (json_array_get_object_element (changes, i), "recordId"),
                     record_id))
      return json_array_get_object_element (changes, i);
  return NULL;
}

static void
set_remote (Fixture *f, const char *db, Server *s)
{
  g_autofree char *out = cli_ok (f, db, "remote", "set", s->base, "--token", f->alice, NULL);
}

/* A note created with the CLI; its id. */
static char *
create_note (Fixture *f, const char *db, const char *title)
{
  g_autofree char *json = g_strdup_printf ("{\"title\": \"%s\"}", title);
  g_autofree char *out = cli_ok (f, db, "create", "notes", json, NULL);
  g_autoptr(JsonObject) record = parse_object (out);

  return g_strdup (json_object_get_string_member (record, "id"));
}

static char *
title_of (Fixture *f, const char *db, const char *id)
{
  g_autofree char *out = cli_ok (f, db, "get", "notes", id, NULL);
  g_autoptr(JsonObject) record = parse_object (out);

  return g_strdup (json_object_get_string_member (record, "title"));
}

static void
assert_has (const char *text, const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("\"%s\" does not contain \"%s\"", text, part);
}

static void
sync_ok (Fixture *f, const char *db, const char *expected_start)
{
  g_autofree char *out = cli_ok (f, db, "sync", NULL);

  if (!g_str_has_prefix (out, expected_start))
    g_error ("sync printed \"%s\", expected it to start with \"%s\"", out, expected_start);
}

static guint
mode_of (const char *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 0777;
}

/* What every sync command says on a database never set up for sync. */
#define NOT_SET_UP "sync is not set up for this database: run `tether remote set URL --token-file FILE` " \
                   "first (safer than --token TOKEN, which ps and the shell history can see)\n"

/* A server that forgets: it answers every push without a word about its
 * changes, which the client must send again within its retry bounds, and
 * every pull with nothing. */

/* The path of the request on @input, read to its end so that closing the
 * connection sends the answer, not a reset. */
static char *
read_request (GInputStream *input)
{
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (input);
  g_autofree char *request_line = NULL;
  g_auto(GStrv) parts = NULL;
  guint64 length = 0;
  char *line;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (data), FALSE);
  g_data_input_stream_set_newline_type (data, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  if ((request_line = g_data_input_stream_read_line (data, NULL, NULL, NULL)) == NULL)
    return NULL;
  while ((line = g_data_input_stream_read_line (data, NULL, NULL, NULL)) != NULL && *line != '\0')
    {
      if (g_ascii_strncasecmp (line, "Content-Length:", 15) == 0)
        length = g_ascii_strtoull (line + 15, NULL, 10);
      g_free (line);
    }
  g_free (line);
  while (length > 0)
    {
      char buffer[4096];
      gssize n = g_input_stream_read (G_INPUT_STREAM (data), buffer, MIN (length, sizeof buffer), NULL, NULL);

      if (n <= 0)
        return NULL;
      length -= (guint64) n;
    }
  parts = g_strsplit (request_line, " ", 3);
  return g_strv_length (parts) == 3 ? g_strdup (parts[1]) : NULL;
}

static void
answer_forgetfully (GSocketConnection *connection)
{
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autofree char *path = read_request (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_autofree char *head = NULL;
  const char *body = "{\"server\":\"tether-server\",\"protocol\":1}";

  if (path == NULL)
    return;
  if (strstr (path, "/push") != NULL)
    body = "{\"accepted\":[],\"conflicts\":[],\"errors\":[]}";
  else if (strstr (path, "/pull") != NULL)
    body = "{\"changes\":[],\"cursor\":null,\"hasMore\":false}";
  head = g_strdup_printf ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n", strlen (body));
  if (g_output_stream_write_all (output, head, strlen (head), NULL, NULL, NULL))
    g_output_stream_write_all (output, body, strlen (body), NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
}

typedef struct {
  GSocketListener *listener;
  GCancellable    *cancellable;
  GThread         *thread;
  char            *url;
} Forgetful;

/* Blocking accepts on a thread of its own: the test's thread waits for
 * the CLI without running a main context. One request at a time is
 * enough for one client. */
static gpointer
forgetful_run (gpointer data)
{
  Forgetful *server = data;

  for (;;)
    {
      g_autoptr(GSocketConnection) connection =
        g_socket_listener_accept (server->listener, NULL, server->cancellable, NULL);

      if (connection == NULL)
        return NULL;
      answer_forgetfully (connection);
    }
}

static Forgetful *
forgetful_start (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  Forgetful *server = g_new0 (Forgetful, 1);

  server->listener = g_socket_listener_new ();
  server->cancellable = g_cancellable_new ();
  g_socket_listener_add_address (server->listener, any_port, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  server->url = g_strdup_printf ("http://127.0.0.1:%u/sync",
                                 g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  server->thread = g_thread_new ("forgetful", forgetful_run, server);
  return server;
}

static void
forgetful_stop (Forgetful *server)
{
  g_cancellable_cancel (server->cancellable);
  g_thread_join (server->thread);
  g_socket_listener_close (server->listener);
  g_object_unref (server->listener);
  g_object_unref (server->cancellable);
  g_free (server->url);
  g_free (server);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Forgetful, forgetful_stop)

/* Tests ------------------------------------------------------------------------------ */

static void
test_remote (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *db_path = g_build_filename (f->dir, "a.db", NULL);
  g_autoptr(Command) bad = cli (f, "a.db", "remote", "set", "notaurl", NULL);
  g_autoptr(Command) no_host = cli (f, "a.db", "remote", "set", "https://", "--token", "x", NULL);
  g_autoptr(Command) password = cli (f, "a.db", "remote", "set", "https://me:s3cret@sync.example.org/sync", NULL);
  g_autoptr(Command) user = cli (f, "a.db", "remote", "set", "https://me@sync.example.org/sync", NULL);
  g_autoptr(Command) query = cli (f, "a.db", "remote", "set", "https://sync.example.org/sync?x=1", NULL);
  g_autoptr(Command) fragment = cli (f, "a.db", "remote", "set", "https://sync.example.org/sync#top", NULL);
  g_autoptr(Command) show_none = NULL;
  g_autoptr(Command) sync_none = NULL;
  g_autoptr(JsonObject) inspected = NULL;
  g_autofree char *set = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *text = NULL;
  g_autofree char *expected = NULL;

  /* a wrong address is a usage error, found before the file is made */
  assert_fails (bad, 2, "'notaurl' is not a server address");
  assert_fails (no_host, 2, "is not a server address");
  /* what the requests cannot carry, and a password never echoed */
  assert_fails (password, 2, "tether: remote set: the address holds a user name or password "
                             "(USER:PASSWORD@): leave it out, and give the token with --token-file\n");
  g_assert_null (strstr (password->err, "s3cret"));
  assert_fails (user, 2, "the address holds a user name or password");
  assert_fails (query, 2, "tether: remote set: 'https://sync.example.org/sync?x=1' has a query (?…): give "
                          "the server's address without one, as http://HOST[:PORT][/PATH] or "
                          "https://HOST[:PORT][/PATH]\n");
  assert_fails (fragment, 2, "has a fragment (#…)");
  g_assert_false (g_file_test (db_path, G_FILE_TEST_EXISTS));

  show_none = cli (f, "a.db", "remote", "show", NULL);
  assert_fails (show_none, 1, NOT_SET_UP);
  sync_none = cli (f, "a.db", "sync", NULL);
  assert_fails (sync_none, 1, NOT_SET_UP);

  set = cli_ok (f, "a.db", "remote", "set", s->base, "--token", f->alice, NULL);
  expected = g_strdup_printf ("remote set to %s (token stored)\n", s->base);
  g_assert_cmpstr (set, ==, expected);
  g_clear_pointer (&expected, g_free);
  /* the token is a password: the file is its owner's alone */
  g_assert_cmpuint (mode_of (db_path), ==, 0600);

  /* the token never shows */
  shown = cli_ok (f, "a.db", "remote", "show", NULL);
  expected = g_strdup_printf ("url: %s\ntoken: stored\n", s->base);
  g_assert_cmpstr (shown, ==, expected);
  text = cli_ok (f, "a.db", "inspect", NULL);
  assert_has (text, s->base);
  g_assert_null (strstr (text, f->alice));
  inspected = inspect (f, "a.db");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (inspected, "remote"), "url"),
                   ==, s->base);
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (inspected, "remote"), "token"));
}

/* The scheme is read in any case and stored in lower case, as the engine
 * and the server expect it, rather than failing after the file was made. */
static void
test_remote_scheme_case (Fixture *f)
{
  g_autofree char *set = cli_ok (f, "a.db", "remote", "set", "HTTP://Sync.Example.org:8080/sync", NULL);
  g_autofree char *shown = cli_ok (f, "a.db", "remote", "show", NULL);
  g_autofree char *secure = cli_ok (f, "a.db", "remote", "set", "hTTpS://sync.example.org", NULL);

  g_assert_cmpstr (set, ==, "remote set to http://Sync.Example.org:8080/sync (no token)\n");
  g_assert_cmpstr (shown, ==, "url: http://Sync.Example.org:8080/sync\ntoken: none\n");
  g_assert_cmpstr (secure, ==, "remote set to https://sync.example.org (no token)\n");
}

/* A token is a password for one server: moving the remote to another
 * server without --token drops it rather than sending it there. */
static void
test_remote_token (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *other = g_strdup_printf ("%s/other/path", s->base);
  g_autofree char *kept = NULL, *moved = NULL, *shown = NULL, *back = NULL, *cleared = NULL;
  g_autofree char *shown_cleared = NULL, *expected = NULL;
  g_autofree char *b_path = g_build_filename (f->dir, "b.db", NULL);
  g_autoptr(Command) unauthorized = NULL;
  g_autoptr(Command) both = cli (f, "b.db", "remote", "set", s->base, "--token", "x", "--no-token", NULL);
  g_autoptr(Command) empty = cli (f, "b.db", "remote", "set", s->base, "--token", "", NULL);
  g_autoptr(Command) show_option = cli (f, "b.db", "remote", "show", "--no-token", NULL);
  g_autoptr(Command) spaced = cli (f, "b.db", "remote", "set", s->base, "--token", "two words", NULL);
  g_autoptr(Command) newline = cli (f, "b.db", "remote", "set", s->base, "--token", "tok\nen", NULL);

  set_remote (f, "a.db", s);
  /* another path on the same server keeps the token */
  kept = cli_ok (f, "a.db", "remote", "set", other, NULL);
  expected = g_strdup_printf ("remote set to %s (token stored)\n", other);
  g_assert_cmpstr (kept, ==, expected);

  moved = cli_ok (f, "a.db", "remote", "set", "https://elsewhere.example.org/sync", NULL);
  g_assert_cmpstr (moved, ==, "remote set to https://elsewhere.example.org/sync (no token: the token of "
                              "the previous server was dropped; give this server's with --token)\n");
  shown = cli_ok (f, "a.db", "remote", "show", NULL);
  g_assert_cmpstr (shown, ==, "url: https://elsewhere.example.org/sync\ntoken: none\n");
  /* and it is gone for good, not only hidden */
  back = cli_ok (f, "a.db", "remote", "set", s->base, NULL);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("remote set to %s (no token)\n", s->base);
  g_assert_cmpstr (back, ==, expected);
  unauthorized = cli (f, "a.db", "sync", NULL);
  assert_fails (unauthorized, 1, "sync with");

  set_remote (f, "a.db", s);
  cleared = cli_ok (f, "a.db", "remote", "set", s->base, "--no-token", NULL);
  g_assert_cmpstr (cleared, ==, expected);
  shown_cleared = cli_ok (f, "a.db", "remote", "show", NULL);
  assert_has (shown_cleared, "token: none\n");

  assert_fails (both, 2, "give one of --token, --token-file and --no-token");
  assert_fails (empty, 2, "--token is empty");
  assert_fails (show_option, 2, "remote show takes no arguments or options");
  /* --token follows --token-file's rule: one word */
  assert_fails (spaced, 2, "tether: remote set: --token must be one word of at most 4096 bytes, without "
                           "spaces or control characters\nUsage: tether remote ");
  assert_fails (newline, 2, "--token must be one word");
  g_assert_false (g_file_test (b_path, G_FILE_TEST_EXISTS));
}

/* The token can come from a file or standard input, never seen by ps or
 * the shell's history, and the database holding it is private. */
static void
test_remote_token_file (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *db_path = g_build_filename (f->dir, "a.db", NULL);
  g_autofree char *wal_path = g_strconcat (db_path, "-wal", NULL);
  g_autofree char *shm_path = g_strconcat (db_path, "-shm", NULL);
  g_autoptr(TetherDatabase) app = NULL;
  g_autofree char *file = g_build_filename (f->dir, "token", NULL);
  g_autofree char *empty = g_build_filename (f->dir, "empty", NULL);
  g_autofree char *contents = g_strdup_printf ("  %s \r\nsecond line\n", f->alice);
  g_autofree char *line = g_strdup_printf ("%s\n", f->alice);
  g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
  g_autofree char *set = NULL, *expected = NULL, *id = NULL;
  g_autoptr(Command) from_stdin = NULL, unreadable = NULL, blank = NULL, two = NULL, spaced = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (file, contents, -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (empty, "\n", -1, &error);
  g_assert_no_error (error);

  /* a wrong file is found before the database is made */
  unreadable = cli (f, "a.db", "remote", "set", s->base, "--token-file", missing, NULL);
  assert_fails (unreadable, 1, "--token-file ");
  blank = cli (f, "a.db", "remote", "set", s->base, "--token-file", empty, NULL);
  assert_fails (blank, 1, "holds no token");
  two = cli (f, "a.db", "remote", "set", s->base, "--token-file", file, "--token", "x", NULL);
  assert_fails (two, 2, "give one of --token, --token-file and --no-token");
  spaced = cli_input (f, "a.db", "two words\n", "remote", "set", s->base, "--token-file", "-", NULL);
  assert_fails (spaced, 1, "one word");
  g_assert_false (g_file_test (db_path, G_FILE_TEST_EXISTS));

  /* made by a command that stores no token, with the umask's mode; the
   * log files stay while another program (the app) has the file open, and
   * the token is written into the log before it reaches the file */
  id = create_note (f, "a.db", "private");
  g_assert_cmpint (g_chmod (db_path, 0644), ==, 0);
  app = tether_database_open (db_path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mode_of (wal_path), ==, 0644);
  g_assert_cmpuint (mode_of (shm_path), ==, 0644);
  set = cli_ok (f, "a.db", "remote", "set", s->base, "--token-file", file, NULL);
  expected = g_strdup_printf ("remote set to %s (token stored)\n", s->base);
  g_assert_cmpstr (set, ==, expected);
  g_assert_cmpuint (mode_of (db_path), ==, 0600);
  g_assert_cmpuint (mode_of (wal_path), ==, 0600);
  g_assert_cmpuint (mode_of (shm_path), ==, 0600);
  tether_database_close (app);
  /* the right token: the server takes the note */
  sync_ok (f, "a.db", "pushed 1 change (1 accepted, ");

  from_stdin = cli_input (f, "b.db", line, "remote", "set", s->base, "--token-file", "-", NULL);
  g_assert_cmpint (from_stdin->status, ==, 0);
  g_assert_cmpstr (from_stdin->out, ==, expected);
  sync_ok (f, "b.db", "pushed 0 changes (0 accepted, 0 conflicts, 0 rejected), pulled 1 (1 applied");
}

/* Whether the file has the sync tables, read beside the CLI. */
static gboolean
has_sync_tables (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gboolean found;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE name = '_tether_changes'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return found;
}

/* A database that cannot be made private is refused a token before sync
 * is set up: it is left as it was, not tracking every change with no
 * remote to send it to. */
static void
test_remote_not_private (Fixture *f)
{
  g_autofree char *db_path = g_build_filename (f->dir, "a.db", NULL);
  g_autofree char *expected = NULL, *id = NULL;
  g_autoptr(Command) refused = NULL;
  g_autoptr(JsonObject) inspected = NULL;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root, to run the CLI as a user who does not own the database");
      return;
    }
  id = create_note (f, "a.db", "shared with others");
  /* a database others may write, which only its owner may chmod */
  g_assert_cmpint (g_chmod (f->dir, 0777), ==, 0);
  g_assert_cmpint (g_chmod (db_path, 0666), ==, 0);
  refused = cli_nobody (f, "a.db", "remote", "set", "http://127.0.0.1:1/sync", "--token", "secret", NULL);
  expected = g_strdup_printf ("tether: cannot make %s readable by its owner only (Operation not permitted), "
                              "so the token was not stored\n", db_path);
  g_assert_cmpint (refused->status, ==, 1);
  g_assert_cmpstr (refused->err, ==, expected);
  g_assert_false (has_sync_tables (db_path));
  inspected = inspect (f, "a.db");
  g_assert_false (json_object_get_boolean_member (inspected, "setUp"));
}

/* The devtools on a database never set up for sync say so, and leave it
 * as it was: no sync tables, no change tracking, no records queued. */
static void
test_not_set_up (Fixture *f)
{
  const char *commands[][3] = {
    { "inspect", NULL, NULL },
    { "conflicts", NULL, NULL },
    { "conflicts", "--json", NULL },
    { "conflicts", "restore", "some-conflict" },
    { "compact", NULL, NULL },
    { "retry-failed", NULL, NULL },
    { "discard", "some-change", NULL },
    { "remote", "show", NULL },
    { "sync", NULL, NULL },
  };
  g_autofree char *db_path = g_build_filename (f->dir, "a.db", NULL);
  g_autofree char *id = create_note (f, "a.db", "local only");
  g_autoptr(JsonObject) inspected = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autoptr(Command) command = cli (f, "a.db", commands[i][0], commands[i][1], commands[i][2], NULL);

      assert_fails (command, 1, NOT_SET_UP);
    }
  inspected = inspect (f, "a.db");
  g_assert_false (json_object_get_boolean_member (inspected, "setUp"));
  g_assert_cmpint (stat_of (inspected, "total"), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (inspected, "changes")), ==, 0);
  g_assert_true (json_object_get_null_member (inspected, "remote"));
  g_assert_false (has_sync_tables (db_path));

  /* setting a remote up is what switches tracking on */
  g_free (cli_ok (f, "a.db", "remote", "set", "http://127.0.0.1:1/sync", NULL));
  g_assert_true (has_sync_tables (db_path));
  json_object_unref (inspected);
  inspected = inspect (f, "a.db");
  g_assert_true (json_object_get_boolean_member (inspected, "setUp"));
  g_assert_cmpint (stat_of (inspected, "pending"), ==, 1);
}

/* Records made with the CLI wait in the queue, a sync pushes them, and a
 * second database pulls them. */
static void
test_push_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *first = NULL, *second = NULL, *text = NULL, *listed = NULL;
  g_autoptr(JsonObject) before = NULL;
  g_autoptr(JsonObject) after = NULL;
  JsonObject *event;

  set_remote (f, "a.db", s);
  first = create_note (f, "a.db", "first note");
  second = create_note (f, "a.db", "second note");

  text = cli_ok (f, "a.db", "inspect", NULL);
  assert_has (text, "changes    2: 2 pending, 0 syncing, 0 committed, 0 failed");
  assert_has (text, "\"first note\"");
  assert_has (text, "\"second note\"");
  assert_has (text, "last syncs: none yet");
  before = inspect (f, "a.db");
  g_assert_cmpint (stat_of (before, "pending"), ==, 2);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (before, "changes")), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (change_at (before, 0), "recordId"), ==, first);
  g_assert_cmpstr (json_object_get_string_member (change_at (before, 0), "status"), ==, "pending");
  g_assert_cmpstr (json_object_get_string_member (change_at (before, 0), "type"), ==, "create");
  g_assert_cmpstr (json_object_get_string_member (change_at (before, 1), "recordId"), ==, second);

  sync_ok (f, "a.db", "pushed 2 changes (2 accepted, 0 conflicts, 0 rejected), pulled ");
  after = inspect (f, "a.db");
  g_assert_cmpint (stat_of (after, "pending"), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (after, "events")), ==, 1);
  event = json_array_get_object_element (json_object_get_array_member (after, "events"), 0);
  g_assert_cmpstr (json_object_get_string_member (event, "phase"), ==, "done");
  g_assert_cmpint (json_object_get_int_member (event, "pushed"), ==, 2);

  set_remote (f, "b.db", s);
  sync_ok (f, "b.db", "pushed 0 changes (0 accepted, 0 conflicts, 0 rejected), pulled 2 (2 applied, 0 skipped, 0 merged) in ");
  listed = cli_ok (f, "b.db", "query", "notes", "--sort", "title", NULL);
  assert_has (listed, first);
  assert_has (listed, second);
}

/* A copy of the app's schema whose note titles may hold 10 characters. */
static char *
short_titles_schema (Fixture *f)
{
  g_autofree char *source = g_build_filename (g_getenv ("TETHER_SOURCE_ROOT"), "data", "tether-schema.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GString) edited = NULL;
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (f->dir, "short-titles.json", NULL);

  g_file_get_contents (source, &text, NULL, &error);
  g_assert_no_error (error);
  edited = g_string_new (text);
  /* the first title is the notes' one */
  g_assert_cmpuint (g_string_replace (edited, "\"maxLength\": 1000 }", "\"maxLength\": 10 }", 1), ==, 1);
  g_file_set_contents (path, edited->str, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* The server refuses a record: it stays failed with the server's reason
 * until retried or discarded. */
static void
test_failed (Fixture *f)
{
  g_autofree char *schema = short_titles_schema (f);
  const char *extra[] = { "--schema", schema, NULL };
  Server *s = server_start (f, extra);
  g_autofree char *long_one = NULL, *short_one = NULL, *out = NULL, *retried = NULL, *discarded = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(JsonObject) failed = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) gone = NULL;
  g_autoptr(Command) unknown = NULL, rejected = NULL;
  const char *change_id;

  set_remote (f, "a.db", s);
  long_one = create_note (f, "a.db", "a title far too long");
  short_one = create_note (f, "a.db", "short");
  /* a script sees the refusal in the exit status; the counts still print */
  rejected = cli (f, "a.db", "sync", NULL);
  g_assert_cmpint (rejected->status, ==, 1);
  g_assert_true (g_str_has_prefix (rejected->out, "pushed 2 changes (1 accepted, 0 conflicts, 1 rejected)"));
  g_assert_cmpstr (strchr (rejected->out, '\n'), ==, "\n");
  g_assert_cmpstr (rejected->err, ==, "tether: the server rejected 1 change: see tether inspect; "
                                      "tether retry-failed sends it again\n");
  /* a later sync that is refused nothing succeeds, and still mentions it */
  out = cli_ok (f, "a.db", "sync", NULL);
  assert_has (out, "pushed 0 changes (0 accepted, 0 conflicts, 0 rejected)");
  assert_has (out, "\n1 change failed in an earlier sync: see tether inspect; "
                   "tether retry-failed sends it again\n");

  failed = inspect (f, "a.db");
  g_assert_cmpint (stat_of (failed, "failed"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (change_at (failed, 0), "recordId"), ==, long_one);
  g_assert_cmpstr (json_object_get_string_member (change_at (failed, 0), "status"), ==, "failed");
  assert_has (json_object_get_string_member (change_at (failed, 0), "error"), "title");
  change_id = json_object_get_string_member (change_at (failed, 0), "id");

  retried = cli_ok (f, "a.db", "retry-failed", NULL);
  g_assert_cmpstr (retried, ==, "1 failed change back to pending\n");
  again = inspect (f, "a.db");
  g_assert_cmpint (stat_of (again, "pending"), ==, 1);
  g_assert_cmpint (stat_of (again, "failed"), ==, 0);

  discarded = cli_ok (f, "a.db", "discard", change_id, NULL);
  expected = g_strdup_printf ("discarded change %s\n", change_id);
  g_assert_cmpstr (discarded, ==, expected);
  gone = inspect (f, "a.db");
  g_assert_cmpint (stat_of (gone, "total"), ==, 0);

  unknown = cli (f, "a.db", "discard", "no-such-change", NULL);
  assert_fails (unknown, 1, "no-such-change");
}

/* Changes that run out of retries in this sync fail it, as a rejection
 * does: a script must not take them for old news. */
static void
test_out_of_retries (Fixture *f)
{
  g_autoptr(Forgetful) server = forgetful_start ();
  g_autofree char *set = NULL, *id = NULL, *later = NULL;
  g_autoptr(Command) failed = NULL;
  g_autoptr(JsonObject) inspected = NULL;

  set = cli_ok (f, "a.db", "remote", "set", server->url, "--token", "x", NULL);
  id = create_note (f, "a.db", "never answered");
  failed = cli (f, "a.db", "sync", NULL);
  g_assert_cmpint (failed->status, ==, 1);
  g_assert_true (g_str_has_prefix (failed->out, "pushed "));
  g_assert_cmpstr (strchr (failed->out, '\n'), ==, "\n");
  g_assert_cmpstr (failed->err, ==, "tether: 1 change ran out of retries (the server never took it): "
                                    "see tether inspect; tether retry-failed sends it again\n");
  inspected = inspect (f, "a.db");
  g_assert_cmpint (stat_of (inspected, "failed"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (change_at (inspected, 0), "error"), ==,
                   "the server's answer did not mention this change");

  /* the next sync has nothing new to report */
  later = cli_ok (f, "a.db", "sync", NULL);
  assert_has (later, "\n1 change failed in an earlier sync: see tether inspect; "
                     "tether retry-failed sends it again\n");
}

static void
test_compact (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *id = NULL, *out = NULL, *json = NULL;
  g_autoptr(JsonObject) compacted = NULL;
  g_autoptr(JsonObject) data = NULL;

  set_remote (f, "a.db", s);
  id = create_note (f, "a.db", "draft");
  g_free (cli_ok (f, "a.db", "update", "notes", id, "{\"title\": \"better\"}", NULL));
  g_free (cli_ok (f, "a.db", "update", "notes", id, "{\"title\": \"best\"}", NULL));
  out = cli_ok (f, "a.db", "compact", NULL);
  g_assert_cmpstr (out, ==, "removed 2 changes from the queue\n");

  compacted = inspect (f, "a.db");
  g_assert_cmpint (stat_of (compacted, "total"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (change_at (compacted, 0), "type"), ==, "create");
  data = json_object_ref (json_object_get_object_member (change_at (compacted, 0), "data"));
  g_assert_cmpstr (json_object_get_string_member (data, "title"), ==, "best");
  sync_ok (f, "a.db", "pushed 1 change (1 accepted, 0 conflicts, 0 rejected)");
}

/* Both databases retitle the same note: the later edit wins (hlc), the one
 * that lost is in the conflict log, and restoring it makes it a pending
 * change again. */
static void
test_conflict (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *id = NULL, *out = NULL, *listed = NULL, *restored = NULL, *title = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(JsonArray) log = NULL;
  g_autoptr(JsonArray) after = NULL;
  g_autoptr(JsonObject) queue = NULL;
  g_autoptr(Command) unknown = NULL;
  JsonObject *conflict;
  const char *conflict_id;

  set_remote (f, "a.db", s);
  set_remote (f, "b.db", s);
  id = create_note (f, "a.db", "shared");
  sync_ok (f, "a.db", "pushed 1 change");
  sync_ok (f, "b.db", "pushed 0 changes");
  g_free (cli_ok (f, "a.db", "update", "notes", id, "{\"title\": \"from a\"}", NULL));
  g_free (cli_ok (f, "b.db", "update", "notes", id, "{\"title\": \"from b\"}", NULL));
  sync_ok (f, "a.db", "pushed 1 change (1 accepted, 0 conflicts, 0 rejected)");
  out = cli_ok (f, "b.db", "sync", NULL);
  assert_has (out, "1 conflict,");

  log = conflicts (f, "b.db");
  g_assert_cmpuint (json_array_get_length (log), ==, 1);
  conflict = json_array_get_object_element (log, 0);
  conflict_id = json_object_get_string_member (conflict, "id");
  g_assert_cmpstr (json_object_get_string_member (conflict, "recordId"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (conflict, "strategy"), ==, "merge");
  g_assert_cmpstr (json_object_get_string_member (conflict, "status"), ==, "resolved");
  g_assert_cmpstr (json_object_get_string_member (conflict, "winner"), ==, "local");
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (conflict, "fields"), 0), ==, "title");
  listed = cli_ok (f, "b.db", "conflicts", NULL);
  assert_has (listed, conflict_id);
  assert_has (listed, "  merge  resolved  winner local  fields title\n");

  restored = cli_ok (f, "b.db", "conflicts", "restore", conflict_id, NULL);
  expected = g_strdup_printf ("conflict %s: restored the version that lost; notes/%s is a pending change\n",
                              conflict_id, id);
  g_assert_cmpstr (restored, ==, expected);
  title = title_of (f, "b.db", id);
  g_assert_cmpstr (title, ==, "from a");
  queue = inspect (f, "b.db");
  g_assert_cmpint (stat_of (queue, "pending"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (change_at (queue, 0), "recordId"), ==, id);
  after = conflicts (f, "b.db");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (after, 0), "status"), ==, "restored");

  unknown = cli (f, "b.db", "conflicts", "restore", "no-such-conflict", NULL);
  assert_fails (unknown, 1, "no-such-conflict");
}

/* What a database's conflicts are decided by from now on: the app writes
 * it into the file, and `tether sync` beside it follows. */
static void
set_strategy (Fixture                *f,
              const char             *db,
              TetherConflictStrategy  strategy)
{
  g_autofree char *path = g_build_filename (f->dir, db, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) database = tether_database_open (path, NULL, &error);
  g_autoptr(TetherSyncEngine) engine = NULL;

  g_assert_no_error (error);
  engine = tether_sync_engine_new (database, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_strategy (engine, strategy);
  g_clear_object (&engine);
  tether_database_close (database);
}

/* Both databases retitle @id, a first: the sync of b meets a conflict. */
static void
retitle_on_both (Fixture    *f,
                 const char *id,
                 const char *a_title,
                 const char *b_title)
{
  g_autofree char *a_patch = g_strdup_printf ("{\"title\": \"%s\"}", a_title);
  g_autofree char *b_patch = g_strdup_printf ("{\"title\": \"%s\"}", b_title);
  g_autofree char *out = NULL;

  g_free (cli_ok (f, "a.db", "update", "notes", id, a_patch, NULL));
  g_free (cli_ok (f, "b.db", "update", "notes", id, b_patch, NULL));
  sync_ok (f, "a.db", "pushed 1 change (1 accepted, 0 conflicts, 0 rejected)");
  out = cli_ok (f, "b.db", "sync", NULL);
  assert_has (out, "1 conflict,");
}

/* inspect shows what README says: each change's title, and the open
 * conflicts (the log of all of them is `tether conflicts`). */
static void
test_inspect (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *merged = NULL, *waiting = NULL, *text = NULL;
  g_autoptr(JsonObject) inspected = NULL;
  g_autoptr(JsonArray) log = NULL;
  JsonObject *change;
  JsonArray *open;
  const char *open_id;

  set_remote (f, "a.db", s);
  set_remote (f, "b.db", s);
  merged = create_note (f, "a.db", "merged");
  waiting = create_note (f, "a.db", "waiting");
  sync_ok (f, "a.db", "pushed 2 changes");
  sync_ok (f, "b.db", "pushed 0 changes");
  retitle_on_both (f, merged, "merged by a", "merged by b");
  set_strategy (f, "b.db", TETHER_CONFLICT_STRATEGY_MANUAL);
  retitle_on_both (f, waiting, "waiting from a", "waiting from b");
  g_free (cli_ok (f, "b.db", "update", "notes", merged, "{\"body\": \"queued\"}", NULL));

  log = conflicts (f, "b.db");
  g_assert_cmpuint (json_array_get_length (log), ==, 2);
  inspected = inspect (f, "b.db");
  open = json_object_get_array_member (inspected, "conflicts");
  g_assert_cmpuint (json_array_get_length (open), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (open, 0), "recordId"), ==,
                   waiting);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (open, 0), "status"), ==,
                   "open");
  g_assert_cmpint (stat_of (inspected, "conflictsOpen"), ==, 1);
  change = change_of (inspected, merged);
  g_assert_nonnull (change);
  g_assert_cmpstr (json_object_get_string_member (change, "title"), ==, "merged by b");

  open_id = json_object_get_string_member (json_array_get_object_element (open, 0), "id");
  text = cli_ok (f, "b.db", "inspect", NULL);
  assert_has (text, "conflicts  1 open (tether conflicts lists them all)\n");
  assert_has (text, "\nopen conflicts, oldest first (id, met, record, strategy, status, winner, fields):\n");
  assert_has (text, open_id);
}

static void
test_usage (Fixture *f)
{
  /* the command line, and the first line of what it says */
  const char *cases[][5] = {
    { "conflicts", "restore", NULL, NULL, "tether: conflicts: give no argument to list them, or restore ID" },
    { "conflicts", "frob", NULL, NULL, "tether: conflicts: give no argument to list them, or restore ID" },
    { "remote", "frob", NULL, NULL, "tether: remote: unknown action 'frob' (use set or show)" },
    { "remote", "show", "--token", "x", "tether: remote show takes no arguments or options" },
    { "discard", NULL, NULL, NULL, "tether: discard: missing arguments" },
    { "inspect", "--token", "x", NULL, "tether: inspect: unknown option '--token'" },
    { "sync", "now", NULL, NULL, "tether: sync: too many arguments" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Command) command = cli (f, "a.db", cases[i][0], cases[i][1], cases[i][2], cases[i][3], NULL);
      g_auto(GStrv) lines = g_strsplit (command->err, "\n", 3);
      g_autofree char *usage = g_strdup_printf ("Usage: tether %s", cases[i][0]);

      g_assert_cmpint (command->status, ==, 2);
      g_assert_cmpstr (command->out, ==, "");
      g_assert_cmpuint (g_strv_length (lines), ==, 3);
      g_assert_cmpstr (lines[0], ==, cases[i][4]);
      g_assert_true (g_str_has_prefix (lines[1], usage));
    }
}

int
main (int   argc,
      char *argv[])
{
  static const NamedTest tests[] = {
    { "remote", test_remote },
    { "remote/scheme-case", test_remote_scheme_case },
    { "remote/token", test_remote_token },
    { "remote/token-file", test_remote_token_file },
    { "remote/not-private", test_remote_not_private },
    { "not-set-up", test_not_set_up },
    { "push-pull", test_push_pull },
    { "failed", test_failed },
    { "failed/out-of-retries", test_out_of_retries },
    { "compact", test_compact },
    { "conflict", test_conflict },
    { "inspect", test_inspect },
    { "usage", test_usage },
  };

  tether_test_server_set_prefix ("/tether/sync/cli");
  tether_test_server_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    tether_test_server_add (tests[i].name, tests[i].func, FALSE);
  return tether_test_server_run ();
}
