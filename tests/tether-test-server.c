/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server"
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "tether-test-pg.h"
#include "tether-test-server.h"

/* The fixture, the test's main loop, tether-server processes and HTTP calls. */

/* ---------------------------------------------------------------- fixture */

typedef struct {
  gboolean postgres;
  TestFunc func;
} TestCase;

static TetherTestPg *pg_cluster;
static gboolean      pg_tried;
static char         *pg_failure;

static void server_free (Server *s);

static gboolean
pg_available (void)
{
  g_autoptr(GError) error = NULL;

  if (!pg_tried)
    {
      pg_tried = TRUE;
      pg_cluster = tether_test_pg_start (&error);
      if (pg_cluster == NULL)
        pg_failure = g_strdup (error->message);
    }
  return pg_cluster != NULL;
}

static gboolean
storage_setup (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  if (!f->postgres)
    {
      f->storage[0] = g_strdup ("--db");
      f->storage[1] = g_build_filename (f->dir, "server.db", NULL);
      return TRUE;
    }
  if (!pg_available ())
    {
      if (g_strcmp0 (g_getenv ("TETHER_TEST_PG_REQUIRED"), "1") == 0)
        g_test_fail_printf ("TETHER_TEST_PG_REQUIRED=1 but PostgreSQL did not start: %s", pg_failure);
      else
        g_test_skip_printf ("PostgreSQL is not available: %s", pg_failure);
      return FALSE;
    }
  f->storage[0] = g_strdup ("--postgres");
  f->storage[1] = tether_test_pg_new_database (pg_cluster, &error);
  g_assert_no_error (error);
  return TRUE;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  const TestCase *test = data;

  f->postgres = test->postgres;
  f->dir = tether_test_dir_new ();
  f->servers = g_ptr_array_new_with_free_func ((GDestroyNotify) server_free);
  f->sockets = g_ptr_array_new_with_free_func (ws_free);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->session = soup_session_new_with_options ("max-conns", 2 * MANY_CLIENTS,
                                               "max-conns-per-host", 2 * MANY_CLIENTS, NULL);
  if (!storage_setup (f))
    {
      f->skipped = TRUE;
      return;
    }
  f->alice = user_add (f, "alice");
  f->bob = user_add (f, "bob");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_pointer (&f->sockets, g_ptr_array_unref);
  g_clear_pointer (&f->servers, g_ptr_array_unref);
  g_clear_object (&f->session);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_clear_pointer (&f->context, g_main_context_unref);
  g_free (f->storage[0]);
  g_free (f->storage[1]);
  g_free (f->alice);
  g_free (f->bob);
  tether_test_dir_free (f->dir);
}

static void
run_test (Fixture       *f,
          gconstpointer  data)
{
  const TestCase *test = data;

  if (!f->skipped)
    test->func (f);
}

/* ------------------------------------------------------------ main loop */


static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the test's context until @ready says so; FALSE on timeout. */
gboolean
wait_until (Fixture   *f,
            ReadyFunc  ready,
            gpointer   data,
            guint      timeout_ms)
{
  g_autoptr(GSource) timeout = g_timeout_source_new (timeout_ms);
  gboolean timed_out = FALSE;

  g_source_set_callback (timeout, set_flag, &timed_out, NULL);
  g_source_attach (timeout, f->context);
  while (!ready (data) && !timed_out)
    g_main_context_iteration (f->context, TRUE);
  g_source_destroy (timeout);
  return ready (data);
}

gboolean
flag_ready (gpointer data)
{
  return *(gboolean *) data;
}

void
run_for (Fixture *f,
         guint    ms)
{
  gboolean never = FALSE;

  wait_until (f, flag_ready, &never, ms);
}

/* -------------------------------------------------------------- processes */

static void
child_setup (gpointer data)
{
  /* A test that aborts must not leave its servers running. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static const char *
server_path (void)
{
  const char *path = g_getenv ("TETHER_SERVER");

  if (path == NULL)
    g_error ("TETHER_SERVER is not set; run the tests with meson test");
  return path;
}

void
command_free (Command *command)
{
  g_free (command->out);
  g_free (command->err);
  g_free (command);
}


/* `tether-server <storage> user VERB NAME` */
Command *
user_command (Fixture    *f,
              const char *verb,
              const char *name)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Command *command = g_new0 (Command, 1);
  const char *argv[] = { server_path (), f->storage[0], f->storage[1], "user", verb, name, NULL };

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &command->out, &command->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  command->status = g_subprocess_get_exit_status (process);
  return command;
}

/* The token is the one word of 43 base64url characters in the output. */
static char *
token_from (const char *out)
{
  g_auto(GStrv) words = g_regex_split_simple ("\\s+", out, 0, 0);

  for (guint i = 0; words[i] != NULL; i++)
    if (g_regex_match_simple ("^[A-Za-z0-9_-]{43}$", words[i], 0, 0))
      return g_strdup (words[i]);
  g_error ("no token in the output of user add/rotate: %s", out);
}

char *
user_token (Fixture    *f,
            const char *verb,
            const char *name)
{
  g_autoptr(Command) command = user_command (f, verb, name);

  if (command->status != 0)
    g_error ("tether-server user %s %s failed (%d): %s", verb, name, command->status, command->err);
  return token_from (command->out);
}

char *
user_add (Fixture    *f,
          const char *name)
{
  return user_token (f, "add", name);
}

static gboolean
process_gone (GSubprocess *process)
{
  /* GSubprocess reaps the child on the GLib worker thread. */
  return g_subprocess_get_identifier (process) == NULL;
}

static gboolean
wait_gone (GSubprocess *process,
           guint        timeout_ms)
{
  for (guint waited = 0; waited < timeout_ms && !process_gone (process); waited += 10)
    g_usleep (10 * 1000);
  return process_gone (process);
}

char *
read_log (Server *s)
{
  char *text = NULL;

  if (!g_file_get_contents (s->log, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

/* Whether the log shows @needle within 5 s: the server writes a request's
 * line once the answer is sent, which may be after the client read it. */
gboolean
log_waits_for (Server     *s,
               const char *needle)
{
  for (guint waited = 0; waited <= 5000; waited += 10)
    {
      g_autofree char *log = read_log (s);

      if (strstr (log, needle) != NULL)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

/* "tether-server listening on http://HOST:PORT/BASE" → the URL; NULL until then. */
static char *
listening_url (const char *log)
{
  g_autoptr(GRegex) regex = g_regex_new ("tether-server listening on (http://\\S+)\n", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  char *url;

  if (!g_regex_match (regex, log, 0, &match))
    return NULL;
  url = g_match_info_fetch (match, 1);
  if (g_str_has_suffix (url, "/"))
    url[strlen (url) - 1] = '\0';
  return url;
}

void
server_spawn (Fixture *f,
              Server  *s)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_free (s->log);
  s->log = g_strdup_printf ("%s/server-%u.log", f->dir, f->n_logs++);
  g_subprocess_launcher_set_stdout_file_path (launcher, s->log);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  g_ptr_array_add (argv, (gpointer) server_path ());
  g_ptr_array_add (argv, (gpointer) "serve");
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  g_ptr_array_add (argv, f->storage[0]);
  g_ptr_array_add (argv, f->storage[1]);
  /* Only the rate-limit test meets the limiter. */
  if (!g_strv_contains ((const char * const *) s->extra, "--rate"))
    {
      g_ptr_array_add (argv, (gpointer) "--rate");
      g_ptr_array_add (argv, (gpointer) "100000/s");
      g_ptr_array_add (argv, (gpointer) "--burst");
      g_ptr_array_add (argv, (gpointer) "100000");
    }
  for (guint i = 0; s->extra[i] != NULL; i++)
    g_ptr_array_add (argv, s->extra[i]);
  g_ptr_array_add (argv, NULL);
  s->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  for (guint waited = 0; s->base == NULL; waited += 10)
    {
      g_autofree char *log = read_log (s);

      g_clear_pointer (&s->base, g_free);
      s->base = listening_url (log);
      if (s->base != NULL)
        break;
      if (process_gone (s->process))
        g_error ("tether-server exited before listening:\n%s", log);
      if (waited >= START_TIMEOUT_MS)
        g_error ("tether-server did not listen within %d ms:\n%s", START_TIMEOUT_MS, log);
      g_usleep (10 * 1000);
    }
}

/* @extra: serve options (NULL-terminated, may be NULL). */
Server *
server_start (Fixture            *f,
              const char * const *extra)
{
  static const char * const none[] = { NULL };
  Server *s = g_new0 (Server, 1);

  s->extra = g_strdupv ((char **) (extra ? extra : none));
  server_spawn (f, s);
  g_ptr_array_add (f->servers, s);
  return s;
}

/* SIGTERM, as a service manager stops it: the server must exit cleanly. */
static void
server_stop (Server *s)
{
  g_autofree char *log = NULL;

  if (s->process == NULL)
    return;
  g_subprocess_send_signal (s->process, SIGTERM);
  if (!wait_gone (s->process, STOP_TIMEOUT_MS))
    {
      g_subprocess_force_exit (s->process);
      wait_gone (s->process, STOP_TIMEOUT_MS);
      g_clear_object (&s->process);
      log = read_log (s);
      g_error ("tether-server did not stop within %d ms of SIGTERM:\n%s", STOP_TIMEOUT_MS, log);
    }
  g_subprocess_wait (s->process, NULL, NULL);
  if (!g_subprocess_get_if_exited (s->process) || g_subprocess_get_exit_status (s->process) != 0)
    {
      log = read_log (s);
      g_test_message ("tether-server log:\n%s", log);
      g_test_fail_printf ("tether-server did not exit with status 0 on SIGTERM (wait status %d)",
                          g_subprocess_get_status (s->process));
    }
  g_clear_object (&s->process);
  g_clear_pointer (&s->base, g_free);
}

void
server_kill (Server *s)
{
  g_subprocess_force_exit (s->process);
  g_assert_true (wait_gone (s->process, STOP_TIMEOUT_MS));
  g_clear_object (&s->process);
  g_clear_pointer (&s->base, g_free);
}

void
server_restart (Fixture *f,
                Server  *s)
{
  server_stop (s);
  server_spawn (f, s);
}

static void
server_free (Server *s)
{
  server_stop (s);
  g_strfreev (s->extra);
  g_free (s->log);
  g_free (s);
}

/* ------------------------------------------------------------------- HTTP */

void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_error (&call->error);
  g_free (call);
}

void
reply_free (Reply *reply)
{
  g_free (reply->text);
  g_clear_pointer (&reply->json, json_node_unref);
  g_free (reply->retry_after);
  g_free (reply);
}


SoupMessage *
message_new (Server     *s,
             const char *method,
             const char *path,
             const char *authorization)
{
  g_autofree char *url = g_strconcat (s->base, path, NULL);
  SoupMessage *msg = soup_message_new (method, url);

  g_assert_nonnull (msg);
  if (authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", authorization);
  return msg;
}

static void
call_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Call *call = data;

  call->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &call->error);
  call->done = TRUE;
  call->done_at = g_get_monotonic_time ();
}

static void
call_wrote_body (SoupMessage *msg,
                 gpointer     data)
{
  Call *call = data;

  call->wrote_body = TRUE;
  call->wrote_at = g_get_monotonic_time ();
}

Call *
call_send (Fixture     *f,
           SoupMessage *msg)
{
  Call *call = g_new0 (Call, 1);

  call->msg = msg;
  g_signal_connect (msg, "wrote-body", G_CALLBACK (call_wrote_body), call);
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, call_done, call);
  return call;
}

char *
bearer (const char *token)
{
  return token ? g_strconcat ("Bearer ", token, NULL) : NULL;
}

/* @body may be NULL (no body). */
Call *
call_start (Fixture    *f,
            Server     *s,
            const char *method,
            const char *path,
            const char *token,
            const char *body)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, method, path, authorization);

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  return call_send (f, msg);
}

gboolean
call_ready (gpointer data)
{
  return ((Call *) data)->done;
}

Reply *
call_reply (Call *call)
{
  Reply *reply = g_new0 (Reply, 1);
  const char *retry_after;
  gsize length = 0;
  const char *data = call->body ? g_bytes_get_data (call->body, &length) : NULL;

  if (call->error != NULL)
    g_error ("request failed: %s", call->error->message);
  reply->status = soup_message_get_status (call->msg);
  reply->text = g_strndup (data ? data : "", length);
  reply->json = json_from_string (reply->text, NULL);
  retry_after = soup_message_headers_get_one (soup_message_get_response_headers (call->msg), "Retry-After");
  reply->retry_after = g_strdup (retry_after);
  return reply;
}

Reply *
call_finish (Fixture *f,
             Call    *call)
{
  g_autoptr(Call) owned = call;

  if (!wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS))
    g_error ("no answer from tether-server within %d ms", REQUEST_TIMEOUT_MS);
  return call_reply (call);
}

Reply *
request_auth (Fixture    *f,
              Server     *s,
              const char *method,
              const char *path,
              const char *authorization,
              const char *body)
{
  SoupMessage *msg = message_new (s, method, path, authorization);

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  return call_finish (f, call_send (f, msg));
}

Reply *
request (Fixture    *f,
         Server     *s,
         const char *method,
         const char *path,
         const char *token,
         const char *body)
{
  return call_finish (f, call_start (f, s, method, path, token, body));
}

void
assert_status (Reply *reply,
               guint  status)
{
  if (reply->status != status)
    g_test_message ("unexpected reply %u: %s", reply->status, reply->text);
  g_assert_cmpuint (reply->status, ==, status);
}

JsonObject *
reply_object (Reply *reply)
{
  if (reply->json == NULL || !JSON_NODE_HOLDS_OBJECT (reply->json))
    g_error ("expected a JSON object, got: %s", reply->text);
  return json_node_get_object (reply->json);
}

/* A whole-request error: its status and {"error": "<message>", "code": "<code>"}. */
void
assert_error (Reply      *reply,
              guint       status,
              const char *code)
{
  JsonObject *object;

  assert_status (reply, status);
  object = reply_object (reply);
  g_assert_cmpstr (json_object_get_string_member_with_default (object, "code", NULL), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member_with_default (object, "error", "")), >, 0);
}

JsonObject *
post_ok (Fixture    *f,
         Server     *s,
         const char *path,
         const char *token,
         const char *body)
{
  g_autoptr(Reply) reply = request (f, s, "POST", path, token, body);

  assert_status (reply, 200);
  return json_object_ref (reply_object (reply));
}

/* ------------------------------------------------------------------- main */

static GPtrArray *test_cases;
static const char *test_prefix = "/tether/server/protocol";

void
tether_test_server_set_prefix (const char *prefix)
{
  test_prefix = prefix;
}

void
tether_test_server_init (int    *argc,
                         char ***argv)
{
  g_test_init (argc, argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  test_cases = g_ptr_array_new_with_free_func (g_free);
}

void
tether_test_server_add (const char *name,
                        TestFunc    func,
                        gboolean    postgres)
{
  g_autofree char *path = g_strdup_printf ("%s/%s/%s", test_prefix,
                                           postgres ? "postgres" : "sqlite", name);
  TestCase *test = g_new0 (TestCase, 1);

  test->postgres = postgres;
  test->func = func;
  g_ptr_array_add (test_cases, test);
  g_test_add (path, Fixture, test, fixture_setup, run_test, fixture_teardown);
}

void
tether_test_server_add_both (const NamedTest *tests,
                             guint            n_tests)
{
  for (guint storage = 0; storage < 2; storage++)
    for (guint i = 0; i < n_tests; i++)
      tether_test_server_add (tests[i].name, tests[i].func, storage == 1);
}

int
tether_test_server_run (void)
{
  int status = g_test_run ();

  g_clear_pointer (&pg_cluster, tether_test_pg_stop);
  g_clear_pointer (&pg_failure, g_free);
  g_clear_pointer (&test_cases, g_ptr_array_unref);
  return status;
}
