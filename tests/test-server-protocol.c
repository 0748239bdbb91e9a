/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server-protocol"
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <libsoup/soup.h>

#include "tether-test-pg.h"
#include "tether-test-util.h"

/* The sync protocol (docs/protocol.md) as a client meets it: every test
 * starts real tether-server processes on 127.0.0.1 and talks HTTP and
 * WebSocket to them, once on SQLite and once on PostgreSQL. */

#define START_TIMEOUT_MS   10000
#define STOP_TIMEOUT_MS    10000
#define REQUEST_TIMEOUT_MS 60000
#define PUSH_TIMEOUT_MS    10000   /* waiting for a server_push */
#define QUIET_MS           300     /* how long "nothing arrives" is watched */
#define MANY_CLIENTS       64      /* connecting at once, as after a server restart */

/* ---------------------------------------------------------------- fixture */

typedef struct {
  GSubprocess *process;
  GStrv        extra;   /* serve options after the storage, kept for restarts */
  char        *log;     /* its stdout and stderr */
  char        *base;    /* http://127.0.0.1:PORT/BASE, no trailing slash */
} Server;

typedef struct {
  gboolean      postgres;
  gboolean      skipped;
  char         *dir;
  char         *storage[2];   /* "--db" FILE or "--postgres" CONNINFO */
  GMainContext *context;
  SoupSession  *session;
  GPtrArray    *sockets;      /* Ws, closed in teardown */
  GPtrArray    *servers;      /* Server, stopped in teardown */
  guint         n_logs;
  char         *alice;        /* tokens */
  char         *bob;
} Fixture;

typedef void (*TestFunc) (Fixture *f);

typedef struct {
  gboolean postgres;
  TestFunc func;
} TestCase;

static TetherTestPg *pg_cluster;
static gboolean      pg_tried;
static char         *pg_failure;

static void server_free (Server *s);
static void ws_free (gpointer data);
static char *user_add (Fixture *f, const char *name);

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

typedef gboolean (*ReadyFunc) (gpointer data);

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the test's context until @ready says so; FALSE on timeout. */
static gboolean
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

static gboolean
flag_ready (gpointer data)
{
  return *(gboolean *) data;
}

static void
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

typedef struct {
  int   status;
  char *out;
  char *err;
} Command;

static void
command_free (Command *command)
{
  g_free (command->out);
  g_free (command->err);
  g_free (command);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Command, command_free)

/* `tether-server <storage> user VERB NAME` */
static Command *
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

static char *
user_token (Fixture    *f,
            const char *verb,
            const char *name)
{
  g_autoptr(Command) command = user_command (f, verb, name);

  if (command->status != 0)
    g_error ("tether-server user %s %s failed (%d): %s", verb, name, command->status, command->err);
  return token_from (command->out);
}

static char *
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

static char *
read_log (Server *s)
{
  char *text = NULL;

  if (!g_file_get_contents (s->log, &text, NULL, NULL))
    return g_strdup ("");
  return text;
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

static void
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
static Server *
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

static void
server_kill (Server *s)
{
  g_subprocess_force_exit (s->process);
  g_assert_true (wait_gone (s->process, STOP_TIMEOUT_MS));
  g_clear_object (&s->process);
  g_clear_pointer (&s->base, g_free);
}

static void
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

typedef struct {
  SoupMessage *msg;
  GBytes      *body;
  GError      *error;
  gboolean     done;
  gboolean     wrote_body;
  gint64       wrote_at;   /* monotonic µs */
  gint64       done_at;
} Call;

typedef struct {
  guint     status;
  char     *text;
  JsonNode *json;   /* NULL when the body is not JSON */
  char     *retry_after;
} Reply;

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->body, g_bytes_unref);
  g_clear_error (&call->error);
  g_free (call);
}

static void
reply_free (Reply *reply)
{
  g_free (reply->text);
  g_clear_pointer (&reply->json, json_node_unref);
  g_free (reply->retry_after);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

static SoupMessage *
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

static Call *
call_send (Fixture     *f,
           SoupMessage *msg)
{
  Call *call = g_new0 (Call, 1);

  call->msg = msg;
  g_signal_connect (msg, "wrote-body", G_CALLBACK (call_wrote_body), call);
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL, call_done, call);
  return call;
}

static char *
bearer (const char *token)
{
  return token ? g_strconcat ("Bearer ", token, NULL) : NULL;
}

/* @body may be NULL (no body). */
static Call *
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

static gboolean
call_ready (gpointer data)
{
  return ((Call *) data)->done;
}

static Reply *
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

static Reply *
call_finish (Fixture *f,
             Call    *call)
{
  g_autoptr(Call) owned = call;

  if (!wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS))
    g_error ("no answer from tether-server within %d ms", REQUEST_TIMEOUT_MS);
  return call_reply (call);
}

static Reply *
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

static Reply *
request (Fixture    *f,
         Server     *s,
         const char *method,
         const char *path,
         const char *token,
         const char *body)
{
  return call_finish (f, call_start (f, s, method, path, token, body));
}

static void
assert_status (Reply *reply,
               guint  status)
{
  if (reply->status != status)
    g_test_message ("unexpected reply %u: %s", reply->status, reply->text);
  g_assert_cmpuint (reply->status, ==, status);
}

static JsonObject *
reply_object (Reply *reply)
{
  if (reply->json == NULL || !JSON_NODE_HOLDS_OBJECT (reply->json))
    g_error ("expected a JSON object, got: %s", reply->text);
  return json_node_get_object (reply->json);
}

/* A whole-request error: its status and {"error": "<message>", "code": "<code>"}. */
static void
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

static JsonObject *
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

/* ---------------------------------------------------------- push and pull */

static gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* One change as JSON text. @record_id is JSON ("\"r1\"" or "42"); @data
 * JSON or NULL; @base_rev < 0 sends none; @extra: more members or NULL. */
static char *
change_new (const char *id,
            const char *collection,
            const char *record_id,
            const char *type,
            const char *data,
            gint64      base_rev,
            const char *extra)
{
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "{\"id\":\"%s\",\"collection\":\"%s\",\"recordId\":%s,"
                          "\"type\":\"%s\",\"data\":%s",
                          id, collection, record_id, type, data ? data : "null");
  if (base_rev >= 0)
    g_string_append_printf (text, ",\"baseRev\":%" G_GINT64_FORMAT, base_rev);
  if (extra != NULL)
    g_string_append_printf (text, ",%s", extra);
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

/* Takes the changes (owned char *, NULL-terminated); @client_id NULL omits it. */
static char *
push_body_va (const char *client_id,
              va_list     ap)
{
  GString *text = g_string_new ("{");
  char *change;
  gboolean first = TRUE;

  if (client_id != NULL)
    g_string_append_printf (text, "\"clientId\":\"%s\",", client_id);
  g_string_append (text, "\"changes\":[");
  while ((change = va_arg (ap, char *)) != NULL)
    {
      g_string_append_printf (text, "%s%s", first ? "" : ",", change);
      first = FALSE;
      g_free (change);
    }
  g_string_append (text, "]}");
  return g_string_free (text, FALSE);
}

static G_GNUC_NULL_TERMINATED char *
push_body (const char *client_id,
           ...)
{
  va_list ap;
  char *body;

  va_start (ap, client_id);
  body = push_body_va (client_id, ap);
  va_end (ap);
  return body;
}

/* POST /push, asserting 200. */
static G_GNUC_NULL_TERMINATED JsonObject *
push (Fixture    *f,
      Server     *s,
      const char *token,
      const char *client_id,
      ...)
{
  g_autofree char *body = NULL;
  va_list ap;

  va_start (ap, client_id);
  body = push_body_va (client_id, ap);
  va_end (ap);
  return post_ok (f, s, "/push", token, body);
}

static char *
object_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static JsonObject *
find_in (JsonObject *response,
         const char *array,
         const char *member,
         const char *value)
{
  JsonArray *items = json_object_get_array_member (response, array);

  g_assert_nonnull (items);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (item, member, NULL), value) == 0)
        return item;
    }
  return NULL;
}

static guint
count_of (JsonObject *response,
          const char *array)
{
  JsonArray *items = json_object_get_array_member (response, array);

  g_assert_nonnull (items);
  return json_array_get_length (items);
}

static JsonObject *
assert_accepted (JsonObject *response,
                 const char *id)
{
  JsonObject *entry = find_in (response, "accepted", "id", id);

  if (entry == NULL)
    {
      g_autofree char *text = object_text (response);

      g_error ("change %s not accepted: %s", id, text);
    }
  return entry;
}

static gint64
accepted_rev (JsonObject *response,
              const char *id)
{
  return json_object_get_int_member (assert_accepted (response, id), "rev");
}

static JsonObject *
assert_conflict (JsonObject *response,
                 const char *id)
{
  JsonObject *entry = find_in (response, "conflicts", "changeId", id);

  if (entry == NULL)
    g_error ("change %s did not conflict", id);
  return entry;
}

/* An `errors` entry for @id with @code and a message. */
static JsonObject *
assert_change_error (JsonObject *response,
                     const char *id,
                     const char *code)
{
  JsonObject *entry = find_in (response, "errors", "id", id);

  if (entry == NULL)
    g_error ("change %s got no errors entry", id);
  g_assert_cmpstr (json_object_get_string_member (entry, "code"), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member (entry, "error")), >, 0);
  return entry;
}

static void
assert_counts (JsonObject *response,
               guint       accepted,
               guint       conflicts,
               guint       errors)
{
  g_assert_cmpuint (count_of (response, "accepted"), ==, accepted);
  g_assert_cmpuint (count_of (response, "conflicts"), ==, conflicts);
  if (json_object_has_member (response, "errors"))
    g_assert_cmpuint (count_of (response, "errors"), ==, errors);
  else
    g_assert_cmpuint (errors, ==, 0);
}

static JsonObject *
pull (Fixture    *f,
      Server     *s,
      const char *token,
      const char *body)
{
  return post_ok (f, s, "/pull", token, body);
}

/* Every change from a null cursor (@collections: JSON array or NULL), paging. */
static JsonArray *
pull_all (Fixture    *f,
          Server     *s,
          const char *token,
          const char *collections,
          char      **cursor_out)
{
  JsonArray *all = json_array_new ();
  g_autofree char *cursor = NULL;
  gboolean more = TRUE;

  for (guint page = 0; more; page++)
    {
      g_autofree char *cursor_json = cursor ? g_strdup_printf ("\"%s\"", cursor) : g_strdup ("null");
      g_autofree char *body = g_strdup_printf ("{\"cursor\":%s,\"collections\":%s,\"batchSize\":5000}",
                                               cursor_json, collections ? collections : "null");
      g_autoptr(JsonObject) response = pull (f, s, token, body);
      JsonArray *changes = json_object_get_array_member (response, "changes");

      g_assert_cmpuint (page, <, 1000);
      /* batchSize is capped at 1000 */
      g_assert_cmpuint (json_array_get_length (changes), <=, 1000);
      for (guint i = 0; i < json_array_get_length (changes); i++)
        json_array_add_element (all, json_node_copy (json_array_get_element (changes, i)));
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (response, "cursor"));
      more = json_object_get_boolean_member (response, "hasMore");
    }
  if (cursor_out != NULL)
    *cursor_out = g_steal_pointer (&cursor);
  return all;
}

static char *
node_text (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* The pulled change of @collection/@record_id (JSON text), or NULL. */
static JsonObject *
find_change (JsonArray  *changes,
             const char *collection,
             const char *record_id)
{
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      g_autofree char *key = node_text (json_object_get_member (change, "recordId"));

      if (g_str_equal (json_object_get_string_member (change, "collection"), collection) &&
          g_str_equal (key, record_id))
        return change;
    }
  return NULL;
}

/* The data of a pulled change as compact JSON ("null" for none). */
static char *
change_data (JsonObject *change)
{
  return node_text (json_object_get_member (change, "data"));
}

/* JSON text as json-glib writes it compactly (member order kept). */
static char *
compact (const char *json)
{
  g_autoptr(JsonNode) node = tether_test_node (json);

  return node_text (node);
}

static void
assert_iso_time (const char *text)
{
  g_assert_nonnull (text);
  if (!g_regex_match_simple ("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$", text, 0, 0))
    g_error ("not an ISO time with milliseconds: %s", text);
}

/* -------------------------------------------------------------- WebSocket */

typedef struct {
  Fixture                 *f;
  SoupWebsocketConnection *conn;
  GQueue                   inbox;   /* JsonObject: messages not taken yet */
  gboolean                 closed;
} Ws;

typedef struct {
  gboolean                 done;
  SoupWebsocketConnection *conn;
  GError                  *error;
} Connect;

static void
ws_free (gpointer data)
{
  Ws *ws = data;

  if (ws->conn != NULL &&
      soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      wait_until (ws->f, flag_ready, &ws->closed, STOP_TIMEOUT_MS);
    }
  if (ws->conn != NULL)
    g_signal_handlers_disconnect_by_data (ws->conn, ws);
  g_clear_object (&ws->conn);
  g_queue_clear_full (&ws->inbox, (GDestroyNotify) json_object_unref);
  g_free (ws);
}

static void
ws_message (SoupWebsocketConnection *conn,
            int                      type,
            GBytes                  *message,
            gpointer                 data)
{
  Ws *ws = data;
  gsize length;
  const char *bytes = g_bytes_get_data (message, &length);
  g_autofree char *text = g_strndup (bytes, length);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_queue_push_tail (&ws->inbox, tether_test_object (text));
}

static void
ws_closed (SoupWebsocketConnection *conn,
           gpointer                 data)
{
  ((Ws *) data)->closed = TRUE;
}

static void
ws_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connect *connect = data;

  connect->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &connect->error);
  connect->done = TRUE;
}

/* Connects to /ws; NULL when refused, with the HTTP status in @status. */
static Ws *
ws_connect (Fixture    *f,
            Server     *s,
            const char *token,
            guint      *status)
{
  g_autofree char *authorization = bearer (token);
  g_autoptr(SoupMessage) msg = message_new (s, "GET", "/ws", authorization);
  Connect connect = { 0 };
  Ws *ws;

  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, ws_connected, &connect);
  if (!wait_until (f, flag_ready, &connect.done, REQUEST_TIMEOUT_MS))
    g_error ("no WebSocket handshake within %d ms", REQUEST_TIMEOUT_MS);
  if (status != NULL)
    *status = soup_message_get_status (msg);
  if (connect.conn == NULL)
    {
      g_test_message ("WebSocket refused: %s", connect.error->message);
      g_clear_error (&connect.error);
      return NULL;
    }
  ws = g_new0 (Ws, 1);
  ws->f = f;
  ws->conn = connect.conn;
  g_queue_init (&ws->inbox);
  g_signal_connect (ws->conn, "message", G_CALLBACK (ws_message), ws);
  g_signal_connect (ws->conn, "closed", G_CALLBACK (ws_closed), ws);
  g_ptr_array_add (f->sockets, ws);
  return ws;
}

static Ws *
ws_open (Fixture    *f,
         Server     *s,
         const char *token)
{
  guint status = 0;
  Ws *ws = ws_connect (f, s, token, &status);

  if (ws == NULL)
    g_error ("WebSocket upgrade refused with %u", status);
  return ws;
}

typedef struct {
  Ws         *ws;
  const char *type;        /* NULL: any */
  const char *request_id;  /* NULL: any */
} Wanted;

static GList *
ws_find (Wanted *wanted)
{
  for (GList *l = wanted->ws->inbox.head; l != NULL; l = l->next)
    {
      JsonObject *message = l->data;

      if (wanted->type != NULL &&
          g_strcmp0 (json_object_get_string_member_with_default (message, "type", NULL), wanted->type) != 0)
        continue;
      if (wanted->request_id != NULL &&
          g_strcmp0 (json_object_get_string_member_with_default (message, "requestId", NULL),
                     wanted->request_id) != 0)
        continue;
      return l;
    }
  return NULL;
}

static gboolean
ws_found (gpointer data)
{
  return ws_find (data) != NULL || ((Wanted *) data)->ws->closed;
}

/* The first message matching (removed from the inbox), or NULL on timeout. */
static JsonObject *
ws_take (Ws         *ws,
         const char *type,
         const char *request_id,
         guint       timeout_ms)
{
  Wanted wanted = { ws, type, request_id };
  GList *link;
  JsonObject *message;

  wait_until (ws->f, ws_found, &wanted, timeout_ms);
  link = ws_find (&wanted);
  if (link == NULL)
    return NULL;
  message = link->data;
  g_queue_delete_link (&ws->inbox, link);
  return message;
}

/* Sends {type, requestId, payload} and returns the answer with that requestId. */
static JsonObject *
ws_request (Ws         *ws,
            const char *type,
            const char *request_id,
            const char *payload)
{
  g_autofree char *text = g_strdup_printf ("{\"type\":\"%s\",\"requestId\":\"%s\",\"payload\":%s}",
                                           type, request_id, payload);
  JsonObject *answer;

  soup_websocket_connection_send_text (ws->conn, text);
  answer = ws_take (ws, NULL, request_id, REQUEST_TIMEOUT_MS);
  if (answer == NULL)
    g_error ("no answer to WebSocket request %s", request_id);
  return answer;
}

/* The payload (changes) of the next server_push, or NULL if none comes. */
static JsonArray *
ws_server_push (Ws    *ws,
                guint  timeout_ms)
{
  g_autoptr(JsonObject) message = ws_take (ws, "server_push", NULL, timeout_ms);

  if (message == NULL)
    return NULL;
  return json_array_ref (json_object_get_array_member (message, "payload"));
}

static void
assert_no_server_push (Ws *ws)
{
  g_autoptr(JsonArray) changes = ws_server_push (ws, 0);

  g_assert_null (changes);
}

/* ---------------------------------------------------------------- tests */

static void
test_base (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(Reply) head = request (f, s, "HEAD", "", NULL, NULL);
  g_autoptr(Reply) get = request (f, s, "GET", "", NULL, NULL);
  JsonObject *info;
  JsonArray *features;
  const char *wanted[] = { "baseRev", "hlc", "idempotency", "tombstones", "fieldConflicts", "websocket" };

  /* A reachability check needs no token. */
  assert_status (head, 200);
  assert_status (get, 200);
  info = reply_object (get);
  g_assert_cmpstr (json_object_get_string_member (info, "server"), ==, "tether-server");
  g_assert_cmpint (json_object_get_int_member (info, "protocol"), ==, 1);
  g_assert_true (json_object_get_null_member (info, "schemaVersion"));
  features = json_object_get_array_member (info, "features");
  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    {
      gboolean found = FALSE;

      for (guint j = 0; j < json_array_get_length (features); j++)
        found |= g_str_equal (json_array_get_string_element (features, j), wanted[i]);
      if (!found)
        g_error ("feature %s is not announced: %s", wanted[i], get->text);
    }
}

static gboolean
log_has_line (Server     *s,
              const char *const *words)
{
  g_autofree char *log = read_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gboolean all = TRUE;

      for (guint j = 0; words[j] != NULL && all; j++)
        all = strstr (lines[i], words[j]) != NULL;
      if (all)
        return TRUE;
    }
  return FALSE;
}

static void
test_push_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  const char *note = "{\"title\":\"h\\u00e9llo \\u2713\",\"tags\":[\"a\",{\"b\":null}],\"n\":42,\"z\":true,\"a\":-7}";
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) page = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autoptr(JsonArray) later = NULL;
  g_autofree char *cursor = NULL;
  g_autofree char *sent = compact (note);
  g_autofree char *got = NULL;
  JsonObject *change;
  const char *log_words[] = { "POST", "/push", "alice", "200", NULL };

  first = push (f, s, f->alice, "client-1",
                change_new ("c1", "notes", "\"n1\"", "create", note, 0, NULL),
                change_new ("c2", "notes", "42", "create", "{\"x\":1}", 0, NULL),
                change_new ("c3", "tasks", "\"t1\"", "create", "{\"done\":false}", 0, NULL),
                NULL);
  assert_counts (first, 3, 0, 0);
  g_assert_cmpint (accepted_rev (first, "c1"), <, accepted_rev (first, "c2"));
  g_assert_cmpint (accepted_rev (first, "c2"), <, accepted_rev (first, "c3"));
  assert_iso_time (json_object_get_string_member (assert_accepted (first, "c1"), "serverTimestamp"));

  changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_assert_cmpuint (json_array_get_length (changes), ==, 3);
  g_assert_cmpstr (cursor, ==, "3");
  change = find_change (changes, "notes", "\"n1\"");
  g_assert_nonnull (change);
  /* Stored exactly as sent: same members, same order, nothing added. */
  got = change_data (change);
  g_assert_cmpstr (got, ==, sent);
  g_assert_cmpstr (json_object_get_string_member (change, "id"), ==, "c1");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "create");
  g_assert_cmpint (json_object_get_int_member (change, "rev"), ==, accepted_rev (first, "c1"));
  g_assert_cmpstr (json_object_get_string_member (change, "timestamp"), ==,
                   json_object_get_string_member (assert_accepted (first, "c1"), "serverTimestamp"));
  /* A numeric record id comes back as a number. */
  change = find_change (changes, "notes", "42");
  g_assert_nonnull (change);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (change, "recordId")), ==, G_TYPE_INT64);
  for (guint i = 1; i < json_array_get_length (changes); i++)
    g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (changes, i - 1), "rev"), <,
                     json_object_get_int_member (json_array_get_object_element (changes, i), "rev"));

  second = push (f, s, f->alice, "client-1",
                 change_new ("c4", "notes", "\"n1\"", "update", "{\"title\":\"new\"}", 1, NULL),
                 change_new ("c5", "tasks", "\"t1\"", "delete", NULL, 3, NULL),
                 NULL);
  assert_counts (second, 2, 0, 0);
  page = pull (f, s, f->alice, "{\"cursor\":\"3\"}");
  later = json_array_ref (json_object_get_array_member (page, "changes"));
  g_assert_cmpuint (json_array_get_length (later), ==, 2);
  change = find_change (later, "notes", "\"n1\"");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "update");
  g_clear_pointer (&got, g_free);
  got = change_data (change);
  g_assert_cmpstr (got, ==, "{\"title\":\"new\"}");
  /* A delete leaves a tombstone that other clients learn of. */
  change = find_change (later, "tasks", "\"t1\"");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "delete");
  g_assert_true (json_object_get_null_member (change, "data"));

  /* One log line per request: method, path, user, status. */
  if (!log_has_line (s, log_words))
    {
      g_autofree char *log = read_log (s);

      g_error ("no log line with POST /push alice 200:\n%s", log);
    }
}

static void
test_conflict (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonObject) updated = NULL;
  g_autoptr(JsonObject) stale = NULL;
  g_autoptr(JsonObject) batch = NULL;
  g_autoptr(JsonObject) unseen = NULL;
  g_autoptr(JsonObject) deleted = NULL;
  g_autoptr(JsonObject) recreated = NULL;
  g_autoptr(JsonObject) revived = NULL;
  g_autofree char *text = NULL;
  JsonObject *conflict;
  gint64 rev1, rev2, rev3, rev_del;

  created = push (f, s, f->alice, "A",
                  change_new ("k1", "notes", "\"r1\"", "create", "{\"v\":1}", 0, NULL), NULL);
  rev1 = accepted_rev (created, "k1");
  updated = push (f, s, f->alice, "A",
                  change_new ("k2", "notes", "\"r1\"", "update", "{\"v\":2}", rev1,
                              "\"hlc\":\"1700000000000-0000-A\""), NULL);
  rev2 = accepted_rev (updated, "k2");

  /* Made on top of rev1, but the record moved on: a conflict, nothing applied. */
  stale = push (f, s, f->alice, "B",
                change_new ("k3", "notes", "\"r1\"", "update", "{\"v\":3}", rev1,
                            "\"timestamp\":\"2026-01-02T03:04:05.678Z\""), NULL);
  assert_counts (stale, 0, 1, 0);
  conflict = assert_conflict (stale, "k3");
  g_assert_cmpstr (json_object_get_string_member (conflict, "collection"), ==, "notes");
  g_assert_cmpstr (json_object_get_string_member (conflict, "recordId"), ==, "r1");
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, rev2);
  g_assert_false (json_object_get_boolean_member (conflict, "remoteDeleted"));
  g_assert_cmpstr (json_object_get_string_member (conflict, "remoteHlc"), ==, "1700000000000-0000-A");
  g_assert_cmpstr (json_object_get_string_member (conflict, "localTimestamp"), ==, "2026-01-02T03:04:05.678Z");
  assert_iso_time (json_object_get_string_member (conflict, "remoteTimestamp"));
  text = node_text (json_object_get_member (conflict, "remote"));
  g_assert_cmpstr (text, ==, "{\"v\":2}");
  g_clear_pointer (&text, g_free);
  text = node_text (json_object_get_member (conflict, "local"));
  g_assert_cmpstr (text, ==, "{\"v\":3}");

  /* Later changes of a batch see the earlier ones; a conflict takes no rev. */
  batch = push (f, s, f->alice, "A",
                change_new ("k4", "notes", "\"r1\"", "update", "{\"v\":4}", rev2, NULL),
                change_new ("k5", "notes", "\"r1\"", "update", "{\"v\":5}", rev2, NULL),
                NULL);
  assert_counts (batch, 1, 1, 0);
  rev3 = accepted_rev (batch, "k4");
  g_assert_cmpint (rev3, ==, rev2 + 1);
  g_assert_cmpint (json_object_get_int_member (assert_conflict (batch, "k5"), "remoteRev"), ==, rev3);

  /* baseRev 0 on a record the server never had: accepted, a delete too. */
  unseen = push (f, s, f->alice, "A",
                 change_new ("k6", "notes", "\"r9\"", "update", "{\"v\":9}", 0, NULL),
                 change_new ("k7", "notes", "\"r8\"", "delete", NULL, 0, NULL),
                 NULL);
  assert_counts (unseen, 2, 0, 0);
  g_assert_cmpint (accepted_rev (unseen, "k6"), ==, rev3 + 1);

  /* A tombstone counts: a create with baseRev 0 over it conflicts. */
  deleted = push (f, s, f->alice, "A", change_new ("k8", "notes", "\"r1\"", "delete", NULL, rev3, NULL), NULL);
  rev_del = accepted_rev (deleted, "k8");
  recreated = push (f, s, f->alice, "B",
                    change_new ("k9", "notes", "\"r1\"", "create", "{\"v\":10}", 0, NULL), NULL);
  conflict = assert_conflict (recreated, "k9");
  g_assert_true (json_object_get_boolean_member (conflict, "remoteDeleted"));
  g_assert_true (json_object_get_null_member (conflict, "remote"));
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, rev_del);
  /* The resolution, based on the tombstone's rev, is accepted. */
  revived = push (f, s, f->alice, "B",
                  change_new ("k10", "notes", "\"r1\"", "create", "{\"v\":11}", rev_del, NULL), NULL);
  g_assert_cmpint (accepted_rev (revived, "k10"), ==, rev_del + 1);
}

static char *
timestamp_at (gint64 ms)
{
  g_autofree char *text = tether_time_format_ms (ms);

  return g_strdup_printf ("\"timestamp\":\"%s\"", text);
}

/* A client of the seed's design: no baseRev, no clientId. */
static void
test_seed (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *past = timestamp_at (946684800000);           /* 2000-01-01 */
  g_autofree char *future = timestamp_at (now_ms () + 60 * 1000);
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) later = NULL;
  g_autoptr(JsonObject) retry = NULL;
  g_autoptr(JsonObject) gone = NULL;
  g_autoptr(JsonObject) revived = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autofree char *data = NULL;

  first = push (f, s, f->alice, NULL,
                change_new ("s1", "notes", "\"a\"", "create", "{\"v\":1}", -1, future), NULL);
  assert_counts (first, 1, 0, 0);
  assert_iso_time (json_object_get_string_member (assert_accepted (first, "s1"), "serverTimestamp"));

  /* create of an existing record; update/delete older than the stored write */
  again = push (f, s, f->alice, NULL,
                change_new ("s2", "notes", "\"a\"", "create", "{\"v\":2}", -1, NULL),
                change_new ("s3", "notes", "\"a\"", "update", "{\"v\":3}", -1, past),
                change_new ("s4", "notes", "\"a\"", "delete", NULL, -1, past),
                NULL);
  assert_counts (again, 0, 3, 0);
  assert_conflict (again, "s2");
  assert_conflict (again, "s3");
  assert_conflict (again, "s4");

  /* newer than the stored write, or no timestamp at all: applied */
  later = push (f, s, f->alice, NULL,
                change_new ("s5", "notes", "\"a\"", "update", "{\"v\":5}", -1, future),
                change_new ("s6", "notes", "\"a\"", "update", "{\"v\":6}", -1, NULL),
                NULL);
  assert_counts (later, 2, 0, 0);

  /* still idempotent by change id */
  retry = push (f, s, f->alice, NULL,
                change_new ("s1", "notes", "\"a\"", "create", "{\"v\":1}", -1, future), NULL);
  assert_counts (retry, 1, 0, 0);
  g_assert_cmpint (accepted_rev (retry, "s1"), ==, accepted_rev (first, "s1"));

  /* a create over a tombstone is a new life for the record */
  gone = push (f, s, f->alice, NULL, change_new ("s7", "notes", "\"a\"", "delete", NULL, -1, NULL), NULL);
  assert_counts (gone, 1, 0, 0);
  revived = push (f, s, f->alice, NULL,
                  change_new ("s8", "notes", "\"a\"", "create", "{\"v\":8}", -1, NULL), NULL);
  assert_counts (revived, 1, 0, 0);

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  data = change_data (json_array_get_object_element (changes, 0));
  g_assert_cmpstr (data, ==, "{\"v\":8}");
}

static const char *retry_body =
  "{\"clientId\":\"phone\",\"changes\":["
  "{\"id\":\"i1\",\"collection\":\"notes\",\"recordId\":\"a\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0},"
  "{\"id\":\"i2\",\"collection\":\"notes\",\"recordId\":\"b\",\"type\":\"create\",\"data\":{\"v\":2},\"baseRev\":0},"
  "{\"id\":\"i3\",\"collection\":\"notes\",\"recordId\":\"a\",\"type\":\"update\",\"data\":{\"v\":3},\"baseRev\":1}"
  "]}";

/* The same answer for a retried push, nothing applied twice, no self-conflict. */
static void
assert_same_answer (JsonObject *first,
                    JsonObject *retry)
{
  g_autofree char *first_accepted = node_text (json_object_get_member (first, "accepted"));
  g_autofree char *retry_accepted = node_text (json_object_get_member (retry, "accepted"));

  assert_counts (retry, 3, 0, 0);
  g_assert_cmpstr (retry_accepted, ==, first_accepted);
}

static void
assert_feed_once (Fixture *f,
                  Server  *s)
{
  g_autofree char *cursor = NULL;
  g_autoptr(JsonArray) changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_autofree char *a = NULL;

  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  a = change_data (find_change (changes, "notes", "\"a\""));
  g_assert_cmpstr (a, ==, "{\"v\":3}");
  /* every rev taken once: three changes, three revs */
  g_assert_cmpstr (cursor, ==, "3");
}

/* The response of a push is lost; the client sends the same push again. */
static void
test_idempotent (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) first = post_ok (f, s, "/push", f->alice, retry_body);
  g_autoptr(JsonObject) retry = NULL;
  g_autoptr(JsonObject) twice = NULL;
  g_autoptr(JsonObject) mixed = NULL;
  g_autofree char *cursor = NULL;
  g_autoptr(JsonArray) changes = NULL;

  assert_counts (first, 3, 0, 0);
  g_assert_cmpint (accepted_rev (first, "i1"), ==, 1);
  g_assert_cmpint (accepted_rev (first, "i3"), ==, 3);
  retry = post_ok (f, s, "/push", f->alice, retry_body);
  assert_same_answer (first, retry);
  assert_feed_once (f, s);

  /* the same change twice in one batch is applied once */
  twice = push (f, s, f->alice, "phone",
                change_new ("d1", "notes", "\"c\"", "create", "{\"v\":4}", 0, NULL),
                change_new ("d1", "notes", "\"c\"", "create", "{\"v\":4}", 0, NULL),
                NULL);
  g_assert_cmpuint (count_of (twice, "conflicts"), ==, 0);
  g_assert_cmpint (accepted_rev (twice, "d1"), ==, 4);

  /* an old change retried beside a new one */
  mixed = push (f, s, f->alice, "phone",
                change_new ("i2", "notes", "\"b\"", "create", "{\"v\":2}", 0, NULL),
                change_new ("e1", "notes", "\"e\"", "create", "{\"v\":5}", 0, NULL),
                NULL);
  assert_counts (mixed, 2, 0, 0);
  g_assert_cmpint (accepted_rev (mixed, "i2"), ==, accepted_rev (first, "i2"));
  g_assert_cmpint (accepted_rev (mixed, "e1"), ==, 5);
  changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_assert_cmpuint (json_array_get_length (changes), ==, 4);
  g_assert_cmpstr (cursor, ==, "5");
}

/* The server restarts between the push and its retry. */
static void
test_restart_retry (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) first = post_ok (f, s, "/push", f->alice, retry_body);
  g_autoptr(JsonObject) retry = NULL;

  assert_counts (first, 3, 0, 0);
  server_restart (f, s);
  retry = post_ok (f, s, "/push", f->alice, retry_body);
  assert_same_answer (first, retry);
  assert_feed_once (f, s);
}

#define BIG_CHANGES 1000

/* 1000 creates of 4 KiB records each in collection big-@round. */
static char *
big_push_body (guint round)
{
  GString *body = g_string_new ("{\"clientId\":\"big\",\"changes\":[");
  g_autofree char *filler = g_strnfill (4096, 'x');

  for (guint i = 0; i < BIG_CHANGES; i++)
    g_string_append_printf (body,
                            "%s{\"id\":\"big-%u-%u\",\"collection\":\"big-%u\",\"recordId\":%u,"
                            "\"type\":\"create\",\"data\":{\"n\":%u,\"text\":\"%s\"},\"baseRev\":0}",
                            i ? "," : "", round, i, round, i, i, filler);
  g_string_append (body, "]}");
  return g_string_free (body, FALSE);
}

static guint
count_collection (JsonArray  *changes,
                  const char *collection)
{
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (changes); i++)
    n += g_str_equal (json_object_get_string_member (json_array_get_object_element (changes, i),
                                                     "collection"), collection);
  return n;
}

static gboolean
call_wrote_or_done (gpointer data)
{
  Call *call = data;

  return call->wrote_body || call->done;
}

/* How long the server works on a big push after its body arrived. */
static guint
big_push_ms (Fixture *f,
             Server  *s)
{
  g_autofree char *body = big_push_body (99);
  Call *call = call_start (f, s, "POST", "/push", f->alice, body);
  gint64 work = 0;
  g_autoptr(Reply) reply = NULL;

  if (wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS) && call->wrote_body)
    work = call->done_at - call->wrote_at;
  reply = call_finish (f, call);
  assert_status (reply, 200);
  assert_counts (reply_object (reply), BIG_CHANGES, 0, 0);
  return (guint) MAX (work / 1000, 4);
}

/* kill -9 while a push of 1000 large changes is in flight: after a restart
 * either the whole batch is there or none of it, and the client's retry is
 * then applied exactly once. The kills aim at a quarter, a half and three
 * quarters of the time the server takes for such a push. */
static void
test_kill9 (Fixture *f)
{
  Server *s = server_start (f, NULL);
  guint work_ms = big_push_ms (f, s);
  guint total = BIG_CHANGES;

  for (guint round = 0; round < 3; round++)
    {
      guint delay_ms = work_ms * (round + 1) / 4;
      g_autofree char *body = big_push_body (round);
      g_autofree char *collection = g_strdup_printf ("big-%u", round);
      g_autofree char *first_id = g_strdup_printf ("big-%u-0", round);
      g_autofree char *cursor = NULL;
      g_autofree char *expected = NULL;
      g_autoptr(Call) call = call_start (f, s, "POST", "/push", f->alice, body);
      g_autoptr(JsonArray) after_kill = NULL;
      g_autoptr(JsonArray) after_retry = NULL;
      g_autoptr(JsonObject) retry = NULL;
      guint found;

      if (!wait_until (f, call_wrote_or_done, call, REQUEST_TIMEOUT_MS))
        g_error ("the big push was not sent within %d ms", REQUEST_TIMEOUT_MS);
      g_usleep (delay_ms * 1000);
      server_kill (s);
      if (!wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS))
        g_error ("the big push neither failed nor finished after kill -9");
      server_spawn (f, s);

      after_kill = pull_all (f, s, f->alice, NULL, NULL);
      found = count_collection (after_kill, collection);
      g_test_message ("round %u (kill %u ms after the body, a push takes %u ms): %u of %u changes survived, reply: %s",
                      round, delay_ms, work_ms, found, BIG_CHANGES,
                      call->error ? call->error->message : "received");
      g_assert_true (found == 0 || found == BIG_CHANGES);
      /* an acknowledged push is durable */
      if (call->error == NULL && soup_message_get_status (call->msg) == 200)
        g_assert_cmpuint (found, ==, BIG_CHANGES);

      retry = post_ok (f, s, "/push", f->alice, body);
      assert_counts (retry, BIG_CHANGES, 0, 0);
      total += BIG_CHANGES;
      after_retry = pull_all (f, s, f->alice, NULL, &cursor);
      g_assert_cmpuint (count_collection (after_retry, collection), ==, BIG_CHANGES);
      /* each change took exactly one rev */
      expected = g_strdup_printf ("%u", total);
      g_assert_cmpstr (cursor, ==, expected);
      /* answered from what was applied before the kill, not applied again */
      if (found == BIG_CHANGES)
        g_assert_cmpint (accepted_rev (retry, first_id), ==,
                         json_object_get_int_member (find_change (after_kill, collection, "0"), "rev"));
    }
}

/* Tombstones past the retention are purged (here at the restart, with a
 * retention of 0 days); a cursor from before them gets 410. */
static void
test_purge (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) fresh = NULL;
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(Reply) old = NULL;
  g_autoptr(Reply) older = NULL;
  JsonArray *changes;

  pushed = push (f, s, f->alice, "A",
                 change_new ("p1", "notes", "\"gone\"", "create", "{\"v\":1}", 0, NULL),
                 change_new ("p2", "notes", "\"kept\"", "create", "{\"v\":2}", 0, NULL),
                 change_new ("p3", "notes", "\"gone\"", "delete", NULL, 1, NULL),
                 NULL);
  assert_counts (pushed, 3, 0, 0);
  g_usleep (20 * 1000);
  server_restart (f, s);

  old = request (f, s, "POST", "/pull", f->alice, "{\"cursor\":\"2\"}");
  assert_error (old, 410, "cursor-expired");
  older = request (f, s, "GET", "/pull?cursor=1", f->alice, NULL);
  assert_error (older, 410, "cursor-expired");

  /* The way back: pull again from null. */
  fresh = pull (f, s, f->alice, "{\"cursor\":null}");
  changes = json_object_get_array_member (fresh, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_nonnull (find_change (changes, "notes", "\"kept\""));
  g_assert_cmpstr (json_object_get_string_member (fresh, "cursor"), ==, "3");
  current = pull (f, s, f->alice, "{\"cursor\":\"3\"}");
  g_assert_cmpuint (count_of (current, "changes"), ==, 0);
}

/* A collection filter whose records are far apart in the feed: every page
 * moves the cursor on, and the last one ends at the feed's end. */
static void
test_pagination (Fixture *f)
{
  Server *s = server_start (f, NULL);
  GString *body = g_string_new ("{\"clientId\":\"A\",\"changes\":[");
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) none = NULL;
  g_autoptr(JsonObject) everything = NULL;
  g_autofree char *cursor = NULL;
  g_autofree char *text = NULL;
  guint n = 0, seen = 0;
  gint64 previous = 0;
  gboolean more = TRUE;

  /* a0-a4, 100 b, a5-a9, 200 b: revs 1-5 and 106-110 are "a" */
  for (guint block = 0; block < 4; block++)
    for (guint i = 0; i < (block % 2 ? (block == 1 ? 100 : 200) : 5); i++, n++)
      g_string_append_printf (body, "%s{\"id\":\"g%u\",\"collection\":\"%s\",\"recordId\":%u,"
                              "\"type\":\"create\",\"data\":{\"n\":%u},\"baseRev\":0}",
                              n ? "," : "", n, block % 2 ? "b" : "a", n, n);
  g_string_append (body, "]}");
  text = g_string_free (body, FALSE);
  pushed = post_ok (f, s, "/push", f->alice, text);
  assert_counts (pushed, 310, 0, 0);

  for (guint page = 0; more; page++)
    {
      g_autofree char *cursor_json = cursor ? g_strdup_printf ("\"%s\"", cursor) : g_strdup ("null");
      g_autofree char *request_body = g_strdup_printf ("{\"cursor\":%s,\"collections\":[\"a\"],\"batchSize\":3}",
                                                       cursor_json);
      g_autoptr(JsonObject) response = pull (f, s, f->alice, request_body);
      JsonArray *changes = json_object_get_array_member (response, "changes");
      gint64 position;

      g_assert_cmpuint (page, <, 10);
      g_assert_cmpuint (json_array_get_length (changes), <=, 3);
      for (guint i = 0; i < json_array_get_length (changes); i++, seen++)
        {
          JsonObject *change = json_array_get_object_element (changes, i);

          g_assert_cmpstr (json_object_get_string_member (change, "collection"), ==, "a");
          g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (change, "data"), "n"),
                           ==, seen < 5 ? seen : seen + 100);
        }
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (response, "cursor"));
      position = g_ascii_strtoll (cursor, NULL, 10);
      g_assert_cmpint (position, >, previous);
      previous = position;
      more = json_object_get_boolean_member (response, "hasMore");
    }
  g_assert_cmpuint (seen, ==, 10);
  g_assert_cmpstr (cursor, ==, "310");

  again = pull (f, s, f->alice, "{\"cursor\":\"310\",\"collections\":[\"a\"],\"batchSize\":3}");
  g_assert_cmpuint (count_of (again, "changes"), ==, 0);
  g_assert_false (json_object_get_boolean_member (again, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (again, "cursor"), ==, "310");
  /* a filter nothing matches still reaches the end at once */
  none = pull (f, s, f->alice, "{\"cursor\":null,\"collections\":[\"nothing\"],\"batchSize\":3}");
  g_assert_cmpuint (count_of (none, "changes"), ==, 0);
  g_assert_false (json_object_get_boolean_member (none, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (none, "cursor"), ==, "310");
  /* the default batch is 100 */
  everything = pull (f, s, f->alice, "{\"cursor\":null}");
  g_assert_cmpuint (count_of (everything, "changes"), ==, 100);
  g_assert_true (json_object_get_boolean_member (everything, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (everything, "cursor"), ==, "100");
}

static void
test_get_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(Reply) first = NULL;
  g_autoptr(Reply) second = NULL;
  g_autoptr(Reply) plain = NULL;
  JsonObject *page;
  JsonArray *changes;

  pushed = push (f, s, f->alice, "A",
                 change_new ("q1", "a", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q2", "b", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q3", "c", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q4", "a", "\"2\"", "create", "{}", 0, NULL),
                 change_new ("q5", "b", "\"2\"", "create", "{}", 0, NULL),
                 change_new ("q6", "a", "\"3\"", "create", "{}", 0, NULL),
                 NULL);
  assert_counts (pushed, 6, 0, 0);

  first = request (f, s, "GET", "/pull?cursor=2&collections=a,b&batchSize=2", f->alice, NULL);
  assert_status (first, 200);
  page = reply_object (first);
  changes = json_object_get_array_member (page, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, "q4");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 1), "id"), ==, "q5");
  g_assert_cmpstr (json_object_get_string_member (page, "cursor"), ==, "5");
  g_assert_true (json_object_get_boolean_member (page, "hasMore"));

  second = request (f, s, "GET", "/pull?cursor=5&collections=a,b&batchSize=2", f->alice, NULL);
  assert_status (second, 200);
  page = reply_object (second);
  changes = json_object_get_array_member (page, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, "q6");
  g_assert_cmpstr (json_object_get_string_member (page, "cursor"), ==, "6");
  g_assert_false (json_object_get_boolean_member (page, "hasMore"));

  plain = request (f, s, "GET", "/pull", f->alice, NULL);
  assert_status (plain, 200);
  g_assert_cmpuint (count_of (reply_object (plain), "changes"), ==, 6);
}

static gint64
hlc_ms (const char *hlc)
{
  g_assert_true (g_regex_match_simple ("^[0-9]{13}-[0-9a-f]{4}-.+$", hlc, 0, 0));
  return g_ascii_strtoll (hlc, NULL, 10);
}

static void
test_hlc (Fixture *f)
{
  Server *s = server_start (f, NULL);
  gint64 before = now_ms ();
  g_autofree char *ahead = g_strdup_printf ("\"hlc\":\"%013" G_GINT64_FORMAT "-0001-phone\"", before + 2 * 3600 * 1000);
  g_autofree char *near = g_strdup_printf ("%013" G_GINT64_FORMAT "-0002-phone", before + 60 * 1000);
  g_autofree char *near_member = g_strdup_printf ("\"hlc\":\"%s\"", near);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) stale = NULL;
  g_autoptr(JsonArray) changes = NULL;
  JsonObject *entry;
  const char *clamped;
  gint64 after;

  pushed = push (f, s, f->alice, "phone",
                 change_new ("h1", "notes", "\"x\"", "create", "{}", 0, ahead),
                 change_new ("h2", "notes", "\"y\"", "create", "{}", 0, near_member),
                 change_new ("h3", "notes", "\"z\"", "create", "{}", 0, "\"hlc\":\"yesterday\""),
                 change_new ("h4", "notes", "\"w\"", "create", "{}", 0, "\"hlc\":\"123-0001-phone\""),
                 NULL);
  after = now_ms ();
  assert_counts (pushed, 2, 0, 2);
  assert_change_error (pushed, "h3", "bad-change");
  assert_change_error (pushed, "h4", "bad-change");

  /* More than an hour ahead: clamped to the server's now + 1 h, same counter and client. */
  entry = assert_accepted (pushed, "h1");
  g_assert_true (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));
  clamped = json_object_get_string_member (entry, "hlc");
  g_assert_cmpint (hlc_ms (clamped), >=, before + 3600 * 1000);
  g_assert_cmpint (hlc_ms (clamped), <=, after + 3600 * 1000);
  g_assert_true (g_str_has_suffix (clamped, "-0001-phone"));
  /* within the hour: kept as sent */
  entry = assert_accepted (pushed, "h2");
  g_assert_false (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpstr (json_object_get_string_member (find_change (changes, "notes", "\"x\""), "hlc"), ==, clamped);
  g_assert_cmpstr (json_object_get_string_member (find_change (changes, "notes", "\"y\""), "hlc"), ==, near);
  stale = push (f, s, f->alice, "tablet",
                change_new ("h5", "notes", "\"x\"", "update", "{}", 0, NULL), NULL);
  g_assert_cmpstr (json_object_get_string_member (assert_conflict (stale, "h5"), "remoteHlc"), ==, clamped);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
assert_fields (JsonObject *conflict,
               const char *expected)
{
  JsonArray *fields = json_object_get_array_member (conflict, "fieldConflicts");
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree char *joined = NULL;

  g_assert_nonnull (fields);
  for (guint i = 0; i < json_array_get_length (fields); i++)
    g_ptr_array_add (names, (gpointer) json_array_get_string_element (fields, i));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  joined = g_strjoinv (",", (char **) names->pdata);
  g_assert_cmpstr (joined, ==, expected);
}

static void
test_field_conflicts (Fixture *f)
{
  Server *s = server_start (f, NULL);
  const char *base = "{\"title\":\"a\",\"body\":\"b\",\"n\":1}";
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonObject) remote = NULL;
  g_autoptr(JsonObject) with_base = NULL;
  g_autoptr(JsonObject) without = NULL;
  g_autofree char *base_member = g_strdup_printf ("\"baseData\":%s", base);
  gint64 rev;

  created = push (f, s, f->alice, "A", change_new ("f1", "notes", "\"r\"", "create", base, 0, NULL), NULL);
  rev = accepted_rev (created, "f1");
  remote = push (f, s, f->alice, "A",
                 change_new ("f2", "notes", "\"r\"", "update", "{\"title\":\"x\",\"body\":\"b\",\"n\":1}", rev, NULL),
                 NULL);
  assert_counts (remote, 1, 0, 0);

  /* Against the base the client sent: only title changed on both sides. */
  with_base = push (f, s, f->alice, "B",
                    change_new ("f3", "notes", "\"r\"", "update", "{\"title\":\"y\",\"body\":\"c\",\"n\":1}",
                                rev, base_member),
                    NULL);
  assert_fields (assert_conflict (with_base, "f3"), "title");
  /* Without one: the fields whose values differ, either side's keys. */
  without = push (f, s, f->alice, "B",
                  change_new ("f4", "notes", "\"r\"", "update",
                              "{\"title\":\"y\",\"body\":\"c\",\"extra\":true}", rev, NULL),
                  NULL);
  assert_fields (assert_conflict (without, "f4"), "body,extra,n,title");
}

/* Two users with the same collection and record ids never see each other. */
static void
test_isolation (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) alice = NULL;
  g_autoptr(JsonObject) bob = NULL;
  g_autoptr(JsonObject) bob_delete = NULL;
  g_autoptr(JsonObject) bob_late = NULL;
  g_autoptr(JsonArray) alice_sees = NULL;
  g_autoptr(JsonArray) bob_sees = NULL;
  g_autofree char *alice_cursor = NULL;
  g_autofree char *data = NULL;
  JsonObject *conflict;

  alice = push (f, s, f->alice, "same-client",
                change_new ("shared", "notes", "\"same\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                change_new ("alice-2", "notes", "\"a2\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                change_new ("alice-3", "notes", "\"a3\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                NULL);
  assert_counts (alice, 3, 0, 0);
  /* Alice's change id is no answer for Bob: his change is his own. */
  bob = push (f, s, f->bob, "same-client",
              change_new ("shared", "notes", "\"same\"", "create", "{\"owner\":\"bob\"}", 0, NULL), NULL);
  assert_counts (bob, 1, 0, 0);
  g_assert_cmpint (accepted_rev (bob, "shared"), ==, 1);

  bob_sees = pull_all (f, s, f->bob, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (bob_sees), ==, 1);
  data = change_data (find_change (bob_sees, "notes", "\"same\""));
  g_assert_cmpstr (data, ==, "{\"owner\":\"bob\"}");

  /* Alice's record id and rev mean nothing to Bob's feed. */
  bob_delete = push (f, s, f->bob, "B", change_new ("b2", "notes", "\"a2\"", "delete", NULL, 2, NULL), NULL);
  conflict = assert_conflict (bob_delete, "b2");
  g_assert_true (json_object_get_null_member (conflict, "remote"));
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, 0);

  alice_sees = pull_all (f, s, f->alice, NULL, &alice_cursor);
  g_assert_cmpuint (json_array_get_length (alice_sees), ==, 3);
  g_clear_pointer (&data, g_free);
  data = change_data (find_change (alice_sees, "notes", "\"same\""));
  g_assert_cmpstr (data, ==, "{\"owner\":\"alice\"}");
  g_assert_cmpstr (json_object_get_string_member (find_change (alice_sees, "notes", "\"a2\""), "type"), ==, "create");

  /* Alice's cursor used by Bob returns nothing of hers. */
  bob_late = pull (f, s, f->bob, "{\"cursor\":\"1\"}");
  g_assert_cmpuint (count_of (bob_late, "changes"), ==, 0);
  {
    g_autofree char *body = g_strdup_printf ("{\"cursor\":\"%s\"}", alice_cursor);
    g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->bob, body);

    if (reply->status == 200)
      g_assert_cmpuint (count_of (reply_object (reply), "changes"), ==, 0);
    else
      assert_error (reply, 400, "bad-cursor");
  }
}

/* Whole requests that cannot be answered change by change. */
static void
test_bad_push (Fixture *f)
{
  static const char *bodies[] = {
    "",
    "{",
    "{\"changes\":[}",
    "[]",
    "{}",
    "{\"changes\":{}}",
    "{\"changes\":null}",
    "{\"clientId\":5,\"changes\":[]}",
    "{\"schemaVersion\":\"2\",\"changes\":[]}",
    "{\"changes\":[5]}",
    "{\"changes\":[{\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
    "{\"changes\":[{\"id\":\"\",\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
    "{\"changes\":[{\"id\":7,\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
  };
  Server *s = server_start (f, NULL);
  g_autofree char *long_id = g_strnfill (300, 'i');
  g_autofree char *long_body = push_body ("A", change_new (long_id, "n", "\"r\"", "create", "{}", 0, NULL), NULL);
  g_autoptr(Reply) long_reply = request (f, s, "POST", "/push", f->alice, long_body);
  g_autoptr(JsonObject) empty = post_ok (f, s, "/push", f->alice, "{\"changes\":[]}");

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/push", f->alice, bodies[i]);

      g_test_message ("push body: %s", bodies[i]);
      assert_error (reply, 400, "bad-request");
    }
  assert_error (long_reply, 400, "bad-request");
  assert_counts (empty, 0, 0, 0);
}

/* Bad changes inside a good batch become `errors`; the rest are applied. */
static void
test_bad_change (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *long_collection = g_strnfill (200, 'c');
  g_autofree char *huge = g_strnfill (1100 * 1024, 'h');
  g_autofree char *huge_data = g_strdup_printf ("{\"text\":\"%s\"}", huge);
  g_autoptr(JsonObject) response = NULL;
  g_autoptr(JsonArray) changes = NULL;
  static const char *bad_change_ids[] = {
    "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11", "e12", "e13", "e14", "e15", "e16",
  };

  response = push (f, s, f->alice, "A",
                   change_new ("g1", "notes", "\"ok1\"", "create", "{}", 0, NULL),
                   change_new ("e1", "notes", "\"r\"", "upsert", "{}", 0, NULL),
                   g_strdup ("{\"id\":\"e2\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}"),
                   g_strdup ("{\"id\":\"e3\",\"collection\":5,\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}"),
                   change_new ("e4", "", "\"r\"", "create", "{}", 0, NULL),
                   change_new ("e5", long_collection, "\"r\"", "create", "{}", 0, NULL),
                   change_new ("e6", "no\\u0001te", "\"r\"", "create", "{}", 0, NULL),
                   g_strdup ("{\"id\":\"e7\",\"collection\":\"notes\",\"type\":\"create\",\"data\":{}}"),
                   change_new ("e8", "notes", "true", "create", "{}", 0, NULL),
                   change_new ("e9", "notes", "{}", "create", "{}", 0, NULL),
                   change_new ("e10", "notes", "\"r\"", "create", "\"text\"", 0, NULL),
                   g_strdup ("{\"id\":\"e11\",\"collection\":\"notes\",\"recordId\":\"r\",\"type\":\"update\"}"),
                   change_new ("e12", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":-1"),
                   change_new ("e13", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":\"3\""),
                   change_new ("e14", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":1.5"),
                   change_new ("e15", "notes", "\"r\"", "create", "{}", 0, "\"timestamp\":\"yesterday\""),
                   change_new ("e16", "notes", "\"r\"", "create", "{}", 0, "\"hlc\":42"),
                   change_new ("e17", "notes", "\"big\"", "create", huge_data, 0, NULL),
                   change_new ("g2", "notes", "\"ok2\"", "create", "{}", 0, NULL),
                   NULL);
  assert_counts (response, 2, 0, G_N_ELEMENTS (bad_change_ids) + 1);
  assert_accepted (response, "g1");
  assert_accepted (response, "g2");
  for (guint i = 0; i < G_N_ELEMENTS (bad_change_ids); i++)
    {
      g_test_message ("bad change %s", bad_change_ids[i]);
      assert_change_error (response, bad_change_ids[i], "bad-change");
    }
  assert_change_error (response, "e17", "too-large");

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  g_assert_nonnull (find_change (changes, "notes", "\"ok1\""));
  g_assert_nonnull (find_change (changes, "notes", "\"ok2\""));
}

static void
test_bad_pull (Fixture *f)
{
  static const struct { const char *body; const char *code; } posts[] = {
    { "{", "bad-request" },
    { "[]", "bad-request" },
    { "{\"cursor\":\"abc\"}", "bad-cursor" },
    { "{\"cursor\":\"-1\"}", "bad-cursor" },
    { "{\"cursor\":\"1.5\"}", "bad-cursor" },
    { "{\"cursor\":\"\"}", "bad-cursor" },
    { "{\"batchSize\":0}", "bad-request" },
    { "{\"batchSize\":\"5\"}", "bad-request" },
    { "{\"collections\":\"notes\"}", "bad-request" },
    { "{\"collections\":[5]}", "bad-request" },
  };
  static const struct { const char *path; const char *code; } gets[] = {
    { "/pull?cursor=abc", "bad-cursor" },
    { "/pull?cursor=-3", "bad-cursor" },
    { "/pull?batchSize=0", "bad-request" },
    { "/pull?batchSize=many", "bad-request" },
  };
  Server *s = server_start (f, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->alice, posts[i].body);

      g_test_message ("pull body: %s", posts[i].body);
      assert_error (reply, 400, posts[i].code);
    }
  for (guint i = 0; i < G_N_ELEMENTS (gets); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "GET", gets[i].path, f->alice, NULL);

      g_test_message ("GET %s", gets[i].path);
      assert_error (reply, 400, gets[i].code);
    }
}

static char *
small_changes (guint n)
{
  GString *body = g_string_new ("{\"clientId\":\"A\",\"changes\":[");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (body, "%s{\"id\":\"m%u\",\"collection\":\"m\",\"recordId\":%u,"
                            "\"type\":\"create\",\"data\":{},\"baseRev\":0}", i ? "," : "", i, i);
  g_string_append (body, "]}");
  return g_string_free (body, FALSE);
}

static char *
nested_data (guint depth)
{
  g_autofree char *open = g_strnfill (depth, '[');
  g_autofree char *close = g_strnfill (depth, ']');

  return g_strdup_printf ("{\"deep\":%s%s}", open, close);
}

/* A body with no Content-Length (chunked), so the server must count. */
static Reply *
request_chunked (Fixture    *f,
                 Server     *s,
                 const char *token,
                 const char *body)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, "POST", "/push", authorization);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_data (g_strdup (body), strlen (body), g_free);

  soup_message_set_request_body (msg, "application/json", stream, -1);
  return call_finish (f, call_send (f, msg));
}

static void
test_limits (Fixture *f)
{
  const char *extra[] = { "--max-body", "262144", NULL };
  Server *s = server_start (f, extra);
  g_autofree char *filler = g_strnfill (300 * 1000, 'x');
  g_autofree char *fits_filler = g_strnfill (200 * 1000, 'x');
  g_autofree char *over = NULL;
  g_autofree char *fits = NULL;
  g_autofree char *many = small_changes (1001);
  g_autofree char *most = small_changes (1000);
  g_autofree char *deep = nested_data (70);
  g_autofree char *shallow = nested_data (50);
  g_autofree char *brackets = g_strnfill (200 * 1000, '[');
  g_autoptr(Reply) over_reply = NULL;
  g_autoptr(Reply) chunked_reply = NULL;
  g_autoptr(Reply) many_reply = NULL;
  g_autoptr(Reply) deep_reply = NULL;
  g_autoptr(Reply) deep_pull = NULL;
  g_autoptr(Reply) brackets_reply = NULL;
  g_autoptr(JsonObject) fits_response = NULL;
  g_autoptr(JsonObject) most_response = NULL;
  g_autoptr(JsonObject) shallow_response = NULL;
  g_autofree char *deep_body = NULL;
  g_autofree char *shallow_body = NULL;
  g_autofree char *deep_cursor = NULL;

  over = g_strdup_printf ("{\"changes\":[{\"id\":\"l1\",\"collection\":\"n\",\"recordId\":\"r\","
                          "\"type\":\"create\",\"data\":{\"t\":\"%s\"}}]}", filler);
  fits = g_strdup_printf ("{\"changes\":[{\"id\":\"l2\",\"collection\":\"n\",\"recordId\":\"r\","
                          "\"type\":\"create\",\"data\":{\"t\":\"%s\"}}]}", fits_filler);

  over_reply = request (f, s, "POST", "/push", f->alice, over);
  assert_error (over_reply, 413, "too-large");
  chunked_reply = request_chunked (f, s, f->alice, over);
  assert_error (chunked_reply, 413, "too-large");
  fits_response = post_ok (f, s, "/push", f->alice, fits);
  assert_counts (fits_response, 1, 0, 0);

  many_reply = request (f, s, "POST", "/push", f->alice, many);
  assert_error (many_reply, 413, "too-many-changes");
  most_response = post_ok (f, s, "/push", f->alice, most);
  assert_counts (most_response, 1000, 0, 0);

  deep_body = push_body ("A", change_new ("d1", "n", "\"deep\"", "create", deep, 0, NULL), NULL);
  deep_reply = request (f, s, "POST", "/push", f->alice, deep_body);
  assert_error (deep_reply, 400, "too-deep");
  shallow_body = push_body ("A", change_new ("d2", "n", "\"shallow\"", "create", shallow, 0, NULL), NULL);
  shallow_response = post_ok (f, s, "/push", f->alice, shallow_body);
  assert_counts (shallow_response, 1, 0, 0);
  deep_cursor = g_strdup_printf ("{\"cursor\":%s}", deep);
  deep_pull = request (f, s, "POST", "/pull", f->alice, deep_cursor);
  assert_error (deep_pull, 400, "too-deep");
  /* nesting that would exhaust a recursive parser's stack */
  brackets_reply = request (f, s, "POST", "/push", f->alice, brackets);
  assert_error (brackets_reply, 400, "too-deep");
}

static void
assert_unauthorized (Fixture    *f,
                     Server     *s,
                     const char *authorization)
{
  g_autoptr(Reply) push_reply = request_auth (f, s, "POST", "/push", authorization, "{\"changes\":[]}");
  g_autoptr(Reply) pull_reply = request_auth (f, s, "POST", "/pull", authorization, "{}");
  g_autoptr(Reply) get_reply = request_auth (f, s, "GET", "/pull", authorization, NULL);

  g_test_message ("Authorization: %s", authorization ? authorization : "(none)");
  assert_error (push_reply, 401, "unauthorized");
  assert_error (pull_reply, 401, "unauthorized");
  assert_error (get_reply, 401, "unauthorized");
}

static void
test_auth (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *basic = g_strconcat ("Basic ", f->alice, NULL);
  g_autofree char *lower = g_strconcat ("bearer ", f->alice, NULL);
  g_autofree char *letters = g_strnfill (43, 'A');
  g_autofree char *wrong = g_strconcat ("Bearer ", letters, NULL);
  g_autofree char *truncated = g_strndup (f->alice, 42);
  g_autofree char *short_token = g_strconcat ("Bearer ", truncated, NULL);
  g_autoptr(Reply) ok = request_auth (f, s, "POST", "/pull", lower, "{}");

  assert_unauthorized (f, s, NULL);
  assert_unauthorized (f, s, "Bearer");
  assert_unauthorized (f, s, "Bearer ");
  assert_unauthorized (f, s, "Bearer nope");
  assert_unauthorized (f, s, wrong);
  assert_unauthorized (f, s, short_token);
  assert_unauthorized (f, s, basic);
  /* the scheme is case-insensitive */
  assert_status (ok, 200);
}

static void
assert_token (Fixture    *f,
              Server     *s,
              const char *token,
              guint       status)
{
  g_autoptr(Reply) reply = request (f, s, "POST", "/pull", token, "{}");

  assert_status (reply, status);
}

/* `tether-server user …` while a server is running on the same storage. */
static void
test_users (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(Command) list = user_command (f, "list", NULL);
  g_autoptr(Command) duplicate = user_command (f, "add", "alice");
  g_autoptr(Command) bad_name = user_command (f, "add", "no spaces!");
  g_autoptr(Command) nobody = user_command (f, "remove", "nobody");
  g_autoptr(Command) removed = NULL;
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) empty = NULL;
  g_autofree char *rotated = NULL;
  g_autofree char *bob_again = NULL;

  g_assert_cmpint (list->status, ==, 0);
  g_assert_nonnull (strstr (list->out, "alice"));
  g_assert_nonnull (strstr (list->out, "bob"));
  g_assert_null (strstr (list->out, f->alice));
  g_assert_cmpint (duplicate->status, !=, 0);
  g_assert_cmpuint (strlen (duplicate->err), >, 0);
  g_assert_cmpint (bad_name->status, !=, 0);
  g_assert_cmpint (nobody->status, !=, 0);

  rotated = user_token (f, "rotate", "alice");
  g_assert_cmpstr (rotated, !=, f->alice);
  assert_token (f, s, f->alice, 401);
  assert_token (f, s, rotated, 200);

  pushed = push (f, s, f->bob, "B", change_new ("b1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
  removed = user_command (f, "remove", "bob");
  g_assert_cmpint (removed->status, ==, 0);
  assert_token (f, s, f->bob, 401);
  /* a new bob starts empty */
  bob_again = user_add (f, "bob");
  empty = pull (f, s, bob_again, "{}");
  g_assert_cmpuint (count_of (empty, "changes"), ==, 0);
}

static void
test_rate_limit (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "3", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(Reply) limited = NULL;
  g_autoptr(Reply) other = NULL;
  g_autoptr(Reply) later = NULL;
  guint64 seconds = 1;
  guint sent;

  for (sent = 0; sent < 20 && limited == NULL; sent++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->alice, "{}");

      if (reply->status == 429)
        limited = g_steal_pointer (&reply);
      else
        assert_status (reply, 200);
    }
  g_assert_nonnull (limited);
  /* the burst goes through */
  g_assert_cmpuint (sent, >, 3);
  assert_error (limited, 429, "rate-limited");
  g_assert_nonnull (limited->retry_after);
  if (g_ascii_isdigit (limited->retry_after[0]))
    {
      g_assert_true (g_ascii_string_to_unsigned (limited->retry_after, 10, 1, 60, &seconds, NULL));
      g_assert_cmpuint (seconds, <=, 2);
    }

  /* per user: bob is not held back by alice */
  other = request (f, s, "POST", "/pull", f->bob, "{}");
  assert_status (other, 200);
  /* after Retry-After, alice may go on */
  run_for (f, seconds * 1000 + 100);
  later = request (f, s, "POST", "/pull", f->alice, "{}");
  assert_status (later, 200);
}

static const char *server_schema =
  "{\"version\":2,\"collections\":{\"notes\":{\"fields\":{"
  "\"title\":{\"type\":\"string\",\"required\":true,\"maxLength\":10},"
  "\"count\":{\"type\":\"integer\",\"max\":3},"
  "\"state\":{\"type\":\"string\",\"default\":\"open\"}}}}}";

static void
assert_validation (JsonObject *response,
                   const char *id,
                   const char *field,
                   const char *rule)
{
  JsonObject *entry = assert_change_error (response, id, "validation");
  const char *message = json_object_get_string_member (entry, "error");

  if (strstr (message, field) == NULL || strstr (message, rule) == NULL || strstr (message, "notes") == NULL)
    g_error ("validation error for %s should name notes, %s and %s: %s", id, field, rule, message);
}

static void
test_schema (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "schema.json", NULL);
  const char *extra[] = { "--schema", path, NULL };
  Server *s;
  g_autoptr(Reply) info = NULL;
  g_autoptr(Reply) newer = NULL;
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(JsonObject) older = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autofree char *data = NULL;

  g_assert_true (g_file_set_contents (path, server_schema, -1, NULL));
  s = server_start (f, extra);
  info = request (f, s, "GET", "", NULL, NULL);
  g_assert_cmpint (json_object_get_int_member (reply_object (info), "schemaVersion"), ==, 2);

  current = post_ok (f, s, "/push", f->alice,
                     "{\"clientId\":\"A\",\"schemaVersion\":2,\"changes\":["
                     "{\"id\":\"v1\",\"collection\":\"notes\",\"recordId\":\"r1\",\"type\":\"create\",\"data\":{\"title\":\"ok\"},\"baseRev\":0},"
                     "{\"id\":\"v2\",\"collection\":\"notes\",\"recordId\":\"r2\",\"type\":\"create\",\"data\":{},\"baseRev\":0},"
                     "{\"id\":\"v3\",\"collection\":\"notes\",\"recordId\":\"r3\",\"type\":\"create\",\"data\":{\"title\":\"ok\",\"count\":9},\"baseRev\":0},"
                     "{\"id\":\"v4\",\"collection\":\"notes\",\"recordId\":\"r4\",\"type\":\"create\",\"data\":{\"title\":5},\"baseRev\":0},"
                     "{\"id\":\"v5\",\"collection\":\"other\",\"recordId\":\"r5\",\"type\":\"create\",\"data\":{},\"baseRev\":0},"
                     "{\"id\":\"v6\",\"collection\":\"notes\",\"recordId\":\"r1\",\"type\":\"update\",\"data\":{\"title\":\"far too long\"},\"baseRev\":1},"
                     "{\"id\":\"v7\",\"collection\":\"notes\",\"recordId\":\"r8\",\"type\":\"delete\",\"data\":null,\"baseRev\":0}"
                     "]}");
  assert_counts (current, 2, 0, 5);
  assert_accepted (current, "v1");
  assert_accepted (current, "v7");
  assert_validation (current, "v2", "title", "required");
  assert_validation (current, "v3", "count", "max");
  assert_validation (current, "v4", "title", "expected string");
  assert_change_error (current, "v5", "unknown-collection");
  assert_validation (current, "v6", "title", "maxLength");

  /* stored exactly as sent: the schema's default is not added */
  changes = pull_all (f, s, f->alice, NULL, NULL);
  data = change_data (find_change (changes, "notes", "\"r1\""));
  g_assert_cmpstr (data, ==, "{\"title\":\"ok\"}");

  newer = request (f, s, "POST", "/push", f->alice, "{\"schemaVersion\":3,\"changes\":[]}");
  assert_error (newer, 409, "schema-too-new");
  /* an older client is served, its records checked against the server's schema */
  older = post_ok (f, s, "/push", f->alice,
                   "{\"schemaVersion\":1,\"changes\":["
                   "{\"id\":\"o1\",\"collection\":\"notes\",\"recordId\":\"o1\",\"type\":\"create\",\"data\":{\"title\":\"fine\"},\"baseRev\":0},"
                   "{\"id\":\"o2\",\"collection\":\"notes\",\"recordId\":\"o2\",\"type\":\"create\",\"data\":{\"count\":1},\"baseRev\":0}"
                   "]}");
  assert_counts (older, 1, 0, 1);
  assert_validation (older, "o2", "title", "required");
}

/* ------------------------------------------------------------- WebSocket */

static void
test_ws_auth (Fixture *f)
{
  Server *s = server_start (f, NULL);
  guint status = 0;

  g_assert_null (ws_connect (f, s, NULL, &status));
  g_assert_cmpuint (status, ==, 401);
  g_assert_null (ws_connect (f, s, "nope", &status));
  g_assert_cmpuint (status, ==, 401);
  g_assert_nonnull (ws_connect (f, s, f->alice, &status));
  g_assert_cmpuint (status, ==, 101);
}

static void
test_ws_requests (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  g_autoptr(JsonObject) bad_cursor = NULL;
  g_autoptr(JsonObject) bad_push = NULL;
  g_autoptr(JsonObject) after = NULL;
  JsonObject *payload;

  pushed = ws_request (ws, "push", "r-1",
                       "{\"clientId\":\"ws\",\"changes\":[{\"id\":\"w1\",\"collection\":\"notes\","
                       "\"recordId\":\"r\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0}]}");
  g_assert_cmpstr (json_object_get_string_member (pushed, "type"), ==, "push_result");
  payload = json_object_get_object_member (pushed, "payload");
  assert_counts (payload, 1, 0, 0);
  g_assert_cmpint (accepted_rev (payload, "w1"), ==, 1);

  pulled = ws_request (ws, "pull", "r-2", "{\"cursor\":null}");
  g_assert_cmpstr (json_object_get_string_member (pulled, "type"), ==, "pull_result");
  payload = json_object_get_object_member (pulled, "payload");
  g_assert_cmpuint (count_of (payload, "changes"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (payload, "cursor"), ==, "1");

  /* errors carry the requestId and the JSON error body; the socket stays usable */
  bad_cursor = ws_request (ws, "pull", "r-3", "{\"cursor\":\"abc\"}");
  g_assert_cmpstr (json_object_get_string_member (bad_cursor, "type"), ==, "error");
  payload = json_object_get_object_member (bad_cursor, "payload");
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, "bad-cursor");
  bad_push = ws_request (ws, "push", "r-4", "{}");
  g_assert_cmpstr (json_object_get_string_member (bad_push, "type"), ==, "error");
  payload = json_object_get_object_member (bad_push, "payload");
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, "bad-request");
  after = ws_request (ws, "pull", "r-5", "{\"cursor\":\"1\"}");
  g_assert_cmpstr (json_object_get_string_member (after, "type"), ==, "pull_result");
  g_assert_false (ws->closed);
}

static void
assert_pushed (JsonArray  *changes,
               const char *id,
               const char *data)
{
  g_autofree char *got = NULL;

  g_assert_nonnull (changes);
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, id);
  got = change_data (json_array_get_object_element (changes, 0));
  g_assert_cmpstr (got, ==, data);
}

static void
test_ws_server_push (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *phone = ws_open (f, s, f->alice);
  Ws *laptop = ws_open (f, s, f->alice);
  Ws *other = ws_open (f, s, f->bob);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) http = NULL;
  g_autoptr(JsonObject) bob = NULL;
  g_autoptr(JsonArray) on_laptop = NULL;
  g_autoptr(JsonArray) on_phone = NULL;
  g_autoptr(JsonArray) on_laptop_2 = NULL;
  g_autoptr(JsonArray) on_other = NULL;

  /* a push on one connection reaches the user's other connections */
  pushed = ws_request (phone, "push", "p-1",
                       "{\"clientId\":\"phone\",\"changes\":[{\"id\":\"sp1\",\"collection\":\"notes\","
                       "\"recordId\":\"r\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0}]}");
  g_assert_cmpstr (json_object_get_string_member (pushed, "type"), ==, "push_result");
  on_laptop = ws_server_push (laptop, PUSH_TIMEOUT_MS);
  assert_pushed (on_laptop, "sp1", "{\"v\":1}");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (on_laptop, 0), "rev"), ==, 1);
  run_for (f, QUIET_MS);
  /* not back to the writer, never to another user */
  assert_no_server_push (phone);
  assert_no_server_push (other);

  /* a write by another client over HTTP reaches every connection of the user */
  http = push (f, s, f->alice, "desktop",
               change_new ("sp2", "notes", "\"r\"", "update", "{\"v\":2}", 1, NULL), NULL);
  assert_counts (http, 1, 0, 0);
  on_phone = ws_server_push (phone, PUSH_TIMEOUT_MS);
  on_laptop_2 = ws_server_push (laptop, PUSH_TIMEOUT_MS);
  assert_pushed (on_phone, "sp2", "{\"v\":2}");
  assert_pushed (on_laptop_2, "sp2", "{\"v\":2}");

  /* bob's write (same collection and record id) goes to bob only */
  bob = push (f, s, f->bob, "bob-desktop",
              change_new ("sp3", "notes", "\"r\"", "create", "{\"v\":3}", 0, NULL), NULL);
  on_other = ws_server_push (other, PUSH_TIMEOUT_MS);
  assert_pushed (on_other, "sp3", "{\"v\":3}");
  run_for (f, QUIET_MS);
  assert_no_server_push (phone);
  assert_no_server_push (laptop);
}

typedef struct {
  Call **calls;
  guint  n;
} Calls;

static gboolean
calls_ready (gpointer data)
{
  Calls *calls = data;

  for (guint i = 0; i < calls->n; i++)
    if (!calls->calls[i]->done)
      return FALSE;
  return TRUE;
}

/* Many clients connect at the same moment (as they do when the server comes
 * back after a restart): every one of them is served. */
static void
test_many_clients (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Call *calls[MANY_CLIENTS];
  Calls all = { calls, MANY_CLIENTS };
  guint failed = 0;

  for (guint i = 0; i < MANY_CLIENTS; i++)
    calls[i] = call_start (f, s, "POST", "/pull", i % 2 ? f->alice : f->bob, "{}");
  if (!wait_until (f, calls_ready, &all, REQUEST_TIMEOUT_MS))
    g_error ("%d clients connecting at once got no answer within %d ms", MANY_CLIENTS, REQUEST_TIMEOUT_MS);
  for (guint i = 0; i < MANY_CLIENTS; i++)
    {
      if (calls[i]->error != NULL)
        {
          g_test_message ("client %u: %s", i, calls[i]->error->message);
          failed++;
        }
      else if (soup_message_get_status (calls[i]->msg) != 200)
        {
          g_test_message ("client %u: HTTP %u", i, soup_message_get_status (calls[i]->msg));
          failed++;
        }
      call_free (calls[i]);
    }
  g_assert_cmpuint (failed, ==, 0);
}

/* --------------------------------------------------- several server processes */

typedef struct {
  Call *a;
  Call *b;
} Pair;

static gboolean
pair_ready (gpointer data)
{
  Pair *pair = data;

  return pair->a->done && pair->b->done;
}

static JsonObject *
call_object (Call *call)
{
  g_autoptr(Reply) reply = call_reply (call);

  assert_status (reply, 200);
  return json_object_ref (reply_object (reply));
}

/* Two processes on one database take the same record at the same baseRev:
 * one accept, one conflict, every time. */
static void
test_two_servers_conflict (Fixture *f)
{
  Server *a = server_start (f, NULL);
  Server *b = server_start (f, NULL);
  g_autoptr(JsonObject) created = push (f, a, f->alice, "A",
                                        change_new ("t0", "notes", "\"r\"", "create", "{\"v\":0}", 0, NULL),
                                        NULL);
  gint64 rev = accepted_rev (created, "t0");
  g_autofree char *cursor = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *winner_data = NULL;
  g_autofree char *final_data = NULL;
  g_autoptr(JsonArray) changes = NULL;
  guint rounds = 20;

  for (guint round = 1; round <= rounds; round++)
    {
      g_autofree char *id_a = g_strdup_printf ("a%u", round);
      g_autofree char *id_b = g_strdup_printf ("b%u", round);
      g_autofree char *data_a = g_strdup_printf ("{\"by\":\"a\",\"round\":%u}", round);
      g_autofree char *data_b = g_strdup_printf ("{\"by\":\"b\",\"round\":%u}", round);
      g_autofree char *body_a = push_body ("A", change_new (id_a, "notes", "\"r\"", "update", data_a, rev, NULL), NULL);
      g_autofree char *body_b = push_body ("B", change_new (id_b, "notes", "\"r\"", "update", data_b, rev, NULL), NULL);
      g_autoptr(Call) call_a = call_start (f, a, "POST", "/push", f->alice, body_a);
      g_autoptr(Call) call_b = call_start (f, b, "POST", "/push", f->alice, body_b);
      Pair pair = { call_a, call_b };
      g_autoptr(JsonObject) answer_a = NULL;
      g_autoptr(JsonObject) answer_b = NULL;
      JsonObject *winner, *loser;
      const char *winner_id;

      if (!wait_until (f, pair_ready, &pair, REQUEST_TIMEOUT_MS))
        g_error ("concurrent pushes got no answer within %d ms", REQUEST_TIMEOUT_MS);
      answer_a = call_object (call_a);
      answer_b = call_object (call_b);
      g_assert_cmpuint (count_of (answer_a, "accepted") + count_of (answer_b, "accepted"), ==, 1);
      g_assert_cmpuint (count_of (answer_a, "conflicts") + count_of (answer_b, "conflicts"), ==, 1);
      winner = count_of (answer_a, "accepted") ? answer_a : answer_b;
      loser = winner == answer_a ? answer_b : answer_a;
      winner_id = winner == answer_a ? id_a : id_b;
      rev = accepted_rev (winner, winner_id);
      g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (
                         json_object_get_array_member (loser, "conflicts"), 0), "remoteRev"), ==, rev);
      g_free (winner_data);
      winner_data = compact (winner == answer_a ? data_a : data_b);
    }

  changes = pull_all (f, b, f->alice, NULL, &cursor);
  final_data = change_data (find_change (changes, "notes", "\"r\""));
  g_assert_cmpstr (final_data, ==, winner_data);
  expected = g_strdup_printf ("%u", rounds + 1);
  g_assert_cmpstr (cursor, ==, expected);
}

/* A WebSocket client of server A hears of a write accepted by server B. */
static void
test_two_servers_server_push (Fixture *f)
{
  Server *a = server_start (f, NULL);
  Server *b = server_start (f, NULL);
  Ws *ws = ws_open (f, a, f->alice);
  Ws *other = ws_open (f, a, f->bob);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonArray) changes = NULL;

  pushed = push (f, b, f->alice, "B",
                 change_new ("x1", "notes", "\"r\"", "create", "{\"via\":\"b\"}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
  changes = ws_server_push (ws, PUSH_TIMEOUT_MS);
  assert_pushed (changes, "x1", "{\"via\":\"b\"}");
  run_for (f, QUIET_MS);
  assert_no_server_push (other);
}

/* ------------------------------------------------------------------- main */

static GPtrArray *test_cases;

static void
add_test (const char *name,
          TestFunc    func,
          gboolean    postgres)
{
  g_autofree char *path = g_strdup_printf ("/tether/server/protocol/%s/%s",
                                           postgres ? "postgres" : "sqlite", name);
  TestCase *test = g_new0 (TestCase, 1);

  test->postgres = postgres;
  test->func = func;
  g_ptr_array_add (test_cases, test);
  g_test_add (path, Fixture, test, fixture_setup, run_test, fixture_teardown);
}

int
main (int    argc,
      char **argv)
{
  static const struct { const char *name; TestFunc func; } both[] = {
    { "base", test_base },
    { "push-pull", test_push_pull },
    { "conflict", test_conflict },
    { "seed", test_seed },
    { "idempotent-retry", test_idempotent },
    { "restart-retry", test_restart_retry },
    { "kill-9", test_kill9 },
    { "purge", test_purge },
    { "pagination", test_pagination },
    { "get-pull", test_get_pull },
    { "hlc", test_hlc },
    { "field-conflicts", test_field_conflicts },
    { "isolation", test_isolation },
    { "bad-push", test_bad_push },
    { "bad-change", test_bad_change },
    { "bad-pull", test_bad_pull },
    { "limits", test_limits },
    { "auth", test_auth },
    { "users", test_users },
    { "rate-limit", test_rate_limit },
    { "schema", test_schema },
    { "many-clients", test_many_clients },
    { "ws/auth", test_ws_auth },
    { "ws/requests", test_ws_requests },
    { "ws/server-push", test_ws_server_push },
  };
  int status;

  g_test_init (&argc, &argv, NULL);
  signal (SIGPIPE, SIG_IGN);
  test_cases = g_ptr_array_new_with_free_func (g_free);
  for (guint storage = 0; storage < 2; storage++)
    for (guint i = 0; i < G_N_ELEMENTS (both); i++)
      add_test (both[i].name, both[i].func, storage == 1);
  add_test ("two-servers/conflict", test_two_servers_conflict, TRUE);
  add_test ("two-servers/server-push", test_two_servers_server_push, TRUE);

  status = g_test_run ();
  g_clear_pointer (&pg_cluster, tether_test_pg_stop);
  g_free (pg_failure);
  g_ptr_array_unref (test_cases);
  return status;
}
