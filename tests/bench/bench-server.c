/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-server"
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tether.h"
#include "tether-test-pg.h"
#include "bench-util.h"

/* Measures a real tether-server process over HTTP on 127.0.0.1, once per
 * storage, and prints the figures beside their goals. A benchmark: it never
 * fails on time, only when the server answers wrongly. */

#define N_CREATES          10000
#define N_UPDATES          2000
#define N_DELETES          500
#define PUSH_BATCH         1000
#define PULL_BATCH         1000
#define N_CLIENTS          50
#define CLIENT_CHANGES     200
#define CLIENT_BATCH       20
#define START_TIMEOUT_MS   10000
#define STOP_TIMEOUT_MS    10000
#define REQUEST_TIMEOUT_MS 120000

typedef struct {
  const char   *title;
  char         *dir;
  char         *storage[2];   /* "--db" FILE or "--postgres" CONNINFO */
  GSubprocess  *server;
  char         *log;
  char         *base;
  GMainContext *context;
  SoupSession  *session;
  char         *token;
  gint64        revs[N_CREATES];
  char         *record_ids[N_CREATES];   /* UUIDv7, in the order of the creates */
} Bench;

static TetherTestPg *pg_cluster;

/* ---- output ---------------------------------------------------------- */

static void
figure (const char *label,
        double      value,
        int         decimals,
        const char *unit,
        const char *goal)
{
  if (goal != NULL)
    g_print ("  %-56s %10.*f %-10s goal %s\n", label, decimals, value, unit, goal);
  else
    g_print ("  %-56s %10.*f %s\n", label, decimals, value, unit);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
percentile (GArray *latencies,
            double  p)
{
  guint index;

  if (latencies->len == 0)
    return 0;
  g_array_sort (latencies, compare_doubles);
  index = (guint) (p * (latencies->len - 1) + 0.5);
  return g_array_index (latencies, double, index);
}

static void
latency_figures (GArray *latencies)
{
  g_autofree char *label = g_strdup_printf ("  request latency p50 (%u requests)", latencies->len);

  figure (label, percentile (latencies, 0.50), 2, "ms", NULL);
  figure ("  request latency p99", percentile (latencies, 0.99), 2, "ms", NULL);
}

/* ---- the server process ------------------------------------------------ */

static void bench_stop (Bench *bench);

static G_GNUC_NORETURN G_GNUC_PRINTF (2, 3) void
fail (Bench      *bench,
      const char *format,
      ...)
{
  g_autofree char *message = NULL;
  g_autofree char *log = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("bench-server: %s: %s\n", bench->title, message);
  if (bench->log != NULL && g_file_get_contents (bench->log, &log, NULL, NULL))
    g_printerr ("server log (last lines):\n%s\n", strlen (log) > 4000 ? log + strlen (log) - 4000 : log);
  bench_stop (bench);
  if (pg_cluster != NULL)
    tether_test_pg_stop (pg_cluster);
  exit (1);
}

static void
child_setup (gpointer data)
{
  /* The server dies with the benchmark, whatever happens to it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* $TETHER_SERVER, else the one built beside this benchmark. */
static const char *
server_path (void)
{
  static char *path;
  g_autofree char *self = NULL;
  g_autofree char *dir = NULL;

  if (path != NULL)
    return path;
  if (g_getenv ("TETHER_SERVER") != NULL)
    return path = g_strdup (g_getenv ("TETHER_SERVER"));
  self = g_file_read_link ("/proc/self/exe", NULL);
  dir = self ? g_path_get_dirname (self) : g_strdup (".");
  path = g_build_filename (dir, "..", "..", "src", "server", "tether-server", NULL);
  return path;
}

static char *
user_add (Bench      *bench,
          const char *name)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) words = NULL;
  const char *argv[] = { server_path (), bench->storage[0], bench->storage[1], "user", "add", name, NULL };

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (process == NULL || !g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error))
    fail (bench, "cannot run %s: %s", argv[0], error->message);
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    fail (bench, "user add %s failed: %s", name, err);
  words = g_regex_split_simple ("\\s+", out, 0, 0);
  for (guint i = 0; words[i] != NULL; i++)
    if (g_regex_match_simple ("^[A-Za-z0-9_-]{43}$", words[i], 0, 0))
      return g_strdup (words[i]);
  fail (bench, "no token in the output of user add: %s", out);
}

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
bench_start (Bench *bench)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  /* limits far above the load, so the limiter never answers 429 */
  const char *argv[] = { server_path (), "serve", "--listen", "127.0.0.1:0",
                         bench->storage[0], bench->storage[1],
                         "--rate", "1000000/s", "--burst", "1000000", NULL };

  bench->log = g_build_filename (bench->dir, "server.log", NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, bench->log);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  bench->server = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (bench->server == NULL)
    fail (bench, "cannot start %s: %s", argv[0], error->message);
  for (guint waited = 0; bench->base == NULL; waited += 10)
    {
      g_autofree char *log = NULL;

      g_file_get_contents (bench->log, &log, NULL, NULL);
      bench->base = log ? listening_url (log) : NULL;
      if (bench->base == NULL && g_subprocess_get_identifier (bench->server) == NULL)
        fail (bench, "tether-server exited before listening");
      if (bench->base == NULL && waited >= START_TIMEOUT_MS)
        fail (bench, "tether-server did not listen within %d ms", START_TIMEOUT_MS);
      if (bench->base == NULL)
        g_usleep (10 * 1000);
    }
}

static void
bench_stop (Bench *bench)
{
  if (bench->server == NULL)
    return;
  g_subprocess_send_signal (bench->server, SIGTERM);
  for (guint waited = 0; g_subprocess_get_identifier (bench->server) != NULL; waited += 10)
    {
      if (waited >= STOP_TIMEOUT_MS)
        {
          g_printerr ("bench-server: tether-server ignored SIGTERM; killing it\n");
          g_subprocess_force_exit (bench->server);
          break;
        }
      g_usleep (10 * 1000);
    }
  g_clear_object (&bench->server);
}

/* A line of /proc/PID/status in MiB (VmRSS, VmHWM). */
static double
server_memory (Bench      *bench,
               const char *field)
{
  const char *pid = g_subprocess_get_identifier (bench->server);
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", pid ? pid : "0");
  g_autofree char *status = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (pid == NULL || !g_file_get_contents (path, &status, NULL, NULL) ||
      (line = strstr (status, key)) == NULL)
    fail (bench, "cannot read %s of the server", field);
  return g_ascii_strtod (line + strlen (key), NULL) / 1024.0;
}

/* ---- requests ---------------------------------------------------------- */

typedef struct {
  Bench       *bench;
  SoupMessage *msg;
  GBytes      *reply;
  GError      *error;
  gint64       started;
  double       ms;
  gboolean     done;
} Call;

static void
call_free (Call *call)
{
  g_clear_object (&call->msg);
  g_clear_pointer (&call->reply, g_bytes_unref);
  g_clear_error (&call->error);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

typedef void (*CallDone) (Call *call, gpointer data);

typedef struct {
  Call     *call;
  CallDone  callback;
  gpointer  data;
} Pending;

static void
call_finished (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Pending *pending = user_data;
  Call *call = pending->call;

  call->reply = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &call->error);
  call->ms = (g_get_monotonic_time () - call->started) / 1000.0;
  call->done = TRUE;
  if (pending->callback != NULL)
    pending->callback (call, pending->data);
  g_free (pending);
}

static Call *
call_start (Bench      *bench,
            const char *path,
            const char *token,
            GBytes     *body,
            CallDone    callback,
            gpointer    data)
{
  g_autofree char *url = g_strconcat (bench->base, path, NULL);
  g_autofree char *authorization = g_strconcat ("Bearer ", token, NULL);
  Call *call = g_new0 (Call, 1);
  Pending *pending = g_new0 (Pending, 1);

  call->bench = bench;
  call->msg = soup_message_new ("POST", url);
  soup_message_headers_replace (soup_message_get_request_headers (call->msg), "Authorization", authorization);
  soup_message_set_request_body_from_bytes (call->msg, "application/json", body);
  pending->call = call;
  pending->callback = callback;
  pending->data = data;
  call->started = g_get_monotonic_time ();
  soup_session_send_and_read_async (bench->session, call->msg, G_PRIORITY_DEFAULT, NULL,
                                    call_finished, pending);
  return call;
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_for (Bench          *bench,
          const gboolean *done)
{
  g_autoptr(GSource) timeout = g_timeout_source_new (REQUEST_TIMEOUT_MS);
  gboolean timed_out = FALSE;

  g_source_set_callback (timeout, set_flag, &timed_out, NULL);
  g_source_attach (timeout, bench->context);
  while (!*done && !timed_out)
    g_main_context_iteration (bench->context, TRUE);
  g_source_destroy (timeout);
  if (!*done)
    fail (bench, "no answer within %d ms", REQUEST_TIMEOUT_MS);
}

/* The JSON object of a 200 answer; fails the benchmark on anything else. */
static JsonObject *
call_object (Call *call)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *copy = NULL;
  gsize length = 0;
  const char *text;
  guint status;

  if (call->error != NULL)
    fail (call->bench, "request failed: %s", call->error->message);
  text = g_bytes_get_data (call->reply, &length);
  status = soup_message_get_status (call->msg);
  if (status != 200)
    fail (call->bench, "HTTP %u: %.*s", status, (int) MIN (length, 500), text ? text : "");
  copy = g_strndup (text, length);
  node = json_from_string (copy, NULL);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    fail (call->bench, "the answer is not a JSON object");
  return json_object_ref (json_node_get_object (node));
}

static JsonObject *
post (Bench      *bench,
      const char *path,
      const char *token,
      GBytes     *body,
      GArray     *latencies)
{
  g_autoptr(Call) call = call_start (bench, path, token, body, NULL, NULL);

  wait_for (bench, &call->done);
  if (latencies != NULL)
    g_array_append_val (latencies, call->ms);
  return call_object (call);
}

static void
expect_accepted (Bench      *bench,
                 JsonObject *response,
                 guint       n)
{
  guint accepted = json_array_get_length (json_object_get_array_member (response, "accepted"));

  if (accepted != n)
    fail (bench, "%u of %u changes accepted", accepted, n);
}

/* ---- bodies -------------------------------------------------------------- */

static const char * const words[] = {
  "buy", "milk", "call", "review", "plan", "report", "fix", "meeting", "draft",
  "email", "garden", "budget", "travel", "book", "invoice", "team", "weekly",
};

/* A note of about 200 bytes, as a person writes one. */
static void
append_note (GString *body,
             guint    n,
             guint    version)
{
  g_string_append_printf (body, "{\"title\":\"%s %s %u\",\"body\":\"",
                          words[n % G_N_ELEMENTS (words)], words[(n / 7) % G_N_ELEMENTS (words)], n);
  for (guint i = 0; i < 16; i++)
    g_string_append_printf (body, "%s%s", i ? " " : "", words[(n + i * 3) % G_N_ELEMENTS (words)]);
  g_string_append_printf (body, "\",\"done\":%s,\"tags\":[\"work\",\"v%u\"],\"n\":%u}",
                          version % 2 ? "true" : "false", version, n);
}

/* Record and change ids are UUIDv7, as the Tether client makes them: a
 * client's new ids sort in the order it made them. */
static void
append_change (GString    *body,
               const char *record_id,
               guint       n,
               const char *type,
               gint64      base_rev,
               guint       version)
{
  g_autofree char *change_id = tether_uuid_v7_new ();
  gint64 ms = tether_time_now_ms ();

  if (body->str[body->len - 1] != '[')
    g_string_append_c (body, ',');
  g_string_append_printf (body, "{\"id\":\"%s\",\"collection\":\"notes\",\"recordId\":\"%s\","
                          "\"type\":\"%s\",\"baseRev\":%" G_GINT64_FORMAT ","
                          "\"hlc\":\"%013" G_GINT64_FORMAT "-%04x-bench\",\"data\":",
                          change_id, record_id, type, base_rev, ms, n & 0xffff);
  if (g_str_equal (type, "delete"))
    g_string_append (body, "null");
  else
    append_note (body, n, version);
  g_string_append_c (body, '}');
}

static GBytes *
finish_body (GString *body)
{
  g_string_append (body, "]}");
  return g_string_free_to_bytes (body);
}

static GString *
start_body (const char *client_id)
{
  GString *body = g_string_new (NULL);

  g_string_append_printf (body, "{\"clientId\":\"%s\",\"changes\":[", client_id);
  return body;
}

/* ---- the server's own request log ---------------------------------------- */

static gsize
log_size (Bench *bench)
{
  return bench_log_size (bench->log);
}

static void
server_figure (Bench      *bench,
               gsize       offset,
               guint       n,
               const char *unit)
{
  double seconds = bench_log_ms (bench->log, offset, NULL) / 1000.0;

  if (seconds > 0)
    figure ("  by the server's own request log", n / seconds, 0, unit, NULL);
}

/* ---- phases -------------------------------------------------------------- */

/* Seconds spent inside requests: the server's time plus the loopback,
 * without the client's JSON work between requests. */
static double
request_seconds (GArray *latencies)
{
  double ms = 0;

  for (guint i = 0; i < latencies->len; i++)
    ms += g_array_index (latencies, double, i);
  return ms / 1000.0;
}

static void
phase_creates (Bench      *bench,
               const char *goal)
{
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  gsize offset;

  for (guint batch = 0; batch < N_CREATES / PUSH_BATCH; batch++)
    {
      GString *body = start_body ("bench");

      for (guint i = 0; i < PUSH_BATCH; i++)
        {
          guint n = batch * PUSH_BATCH + i;

          bench->record_ids[n] = tether_uuid_v7_new ();
          append_change (body, bench->record_ids[n], n, "create", 0, 0);
        }
      g_ptr_array_add (bodies, finish_body (body));
    }
  offset = log_size (bench);
  for (guint batch = 0; batch < bodies->len; batch++)
    {
      g_autoptr(JsonObject) response = post (bench, "/push", bench->token, bodies->pdata[batch], latencies);
      JsonArray *accepted = json_object_get_array_member (response, "accepted");

      expect_accepted (bench, response, PUSH_BATCH);
      /* accepted in the order sent: each a new rev, one more than the last */
      for (guint i = 0; i < PUSH_BATCH; i++)
        {
          JsonObject *entry = json_array_get_object_element (accepted, i);
          guint n = batch * PUSH_BATCH + i;

          bench->revs[n] = json_object_get_int_member (entry, "rev");
          if (n > 0 && bench->revs[n] != bench->revs[n - 1] + 1)
            fail (bench, "change %u got rev %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT,
                  n, bench->revs[n], bench->revs[n - 1]);
        }
    }
  figure ("push 10,000 creates (batches of 1,000)", N_CREATES / request_seconds (latencies), 0,
          "changes/s", goal);
  server_figure (bench, offset, N_CREATES, "changes/s");
  latency_figures (latencies);
}

static void
phase_updates (Bench      *bench,
               const char *goal)
{
  g_autoptr(GPtrArray) bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  guint total = N_UPDATES + N_DELETES;
  gsize offset;

  for (guint first = 0; first < total; first += PUSH_BATCH)
    {
      GString *body = start_body ("bench");

      for (guint n = first; n < MIN (first + PUSH_BATCH, total); n++)
        append_change (body, bench->record_ids[n], n, n < N_UPDATES ? "update" : "delete", bench->revs[n], 1);
      g_ptr_array_add (bodies, finish_body (body));
    }
  offset = log_size (bench);
  for (guint batch = 0; batch < bodies->len; batch++)
    {
      g_autoptr(JsonObject) response = post (bench, "/push", bench->token, bodies->pdata[batch], latencies);

      expect_accepted (bench, response, MIN (PUSH_BATCH, total - batch * PUSH_BATCH));
    }
  figure ("push 2,000 updates + 500 deletes (batches of 1,000)", total / request_seconds (latencies), 0,
          "changes/s", goal);
  server_figure (bench, offset, total, "changes/s");
  latency_figures (latencies);
}

static void
phase_pull (Bench      *bench,
            const char *goal)
{
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *cursor = NULL;
  gboolean more = TRUE;
  guint pulled = 0;
  gsize offset = log_size (bench);

  for (guint page = 0; more; page++)
    {
      g_autofree char *text = cursor ? g_strdup_printf ("{\"cursor\":\"%s\",\"batchSize\":%d}", cursor, PULL_BATCH)
                                     : g_strdup_printf ("{\"cursor\":null,\"batchSize\":%d}", PULL_BATCH);
      gsize length = strlen (text);
      g_autoptr(GBytes) body = g_bytes_new_take (g_steal_pointer (&text), length);
      g_autoptr(JsonObject) response = post (bench, "/pull", bench->token, body, latencies);

      pulled += json_array_get_length (json_object_get_array_member (response, "changes"));
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (response, "cursor"));
      more = json_object_get_boolean_member (response, "hasMore");
      if (page > 2 * N_CREATES / PULL_BATCH)
        fail (bench, "pull does not end (cursor %s)", cursor);
    }
  if (pulled != N_CREATES)
    fail (bench, "pulled %u changes, expected %d (one per record)", pulled, N_CREATES);
  figure ("pull 10,000 records from a null cursor (pages of 1,000)", pulled / request_seconds (latencies), 0,
          "records/s", goal);
  server_figure (bench, offset, pulled, "records/s");
  latency_figures (latencies);
}

typedef struct {
  Bench     *bench;
  char      *token;
  GPtrArray *bodies;
  guint      next;
  GArray    *latencies;   /* shared */
  GHashTable *failures;   /* shared: status text → count */
  guint     *running;     /* shared */
} Client;

static void client_send (Client *client);

static void
client_done (Call     *call,
             gpointer  data)
{
  Client *client = data;
  guint status = soup_message_get_status (call->msg);

  g_array_append_val (client->latencies, call->ms);
  if (call->error != NULL || status != 200)
    {
      char *key = call->error ? g_strdup (call->error->message) : g_strdup_printf ("HTTP %u", status);
      guint count = GPOINTER_TO_UINT (g_hash_table_lookup (client->failures, key));

      g_hash_table_replace (client->failures, key, GUINT_TO_POINTER (count + 1));
    }
  call_free (call);
  if (client->next < client->bodies->len)
    client_send (client);
  else
    (*client->running)--;
}

static void
client_send (Client *client)
{
  GBytes *body = client->bodies->pdata[client->next++];

  call_start (client->bench, "/push", client->token, body, client_done, client);
}

static gboolean
none_running (gpointer data)
{
  return *(guint *) data == 0;
}

static void
client_clear (Client *client)
{
  g_free (client->token);
  g_clear_pointer (&client->bodies, g_ptr_array_unref);
}

/* @users: N_CLIENTS tokens, or NULL for all clients as the bench's user. */
static void
phase_clients (Bench       *bench,
               const char  *label,
               char       **users,
               const char  *goal)
{
  g_autoptr(GArray) latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GHashTable) failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Client clients[N_CLIENTS] = { 0 };
  guint running = N_CLIENTS;
  gint64 start;
  double seconds;
  GHashTableIter iter;
  gpointer key, value;
  static guint round;

  round++;
  for (guint c = 0; c < N_CLIENTS; c++)
    {
      g_autofree char *client_id = g_strdup_printf ("client-%u", c);

      clients[c] = (Client) { bench, g_strdup (users ? users[c] : bench->token),
                              g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref),
                              0, latencies, failures, &running };
      for (guint first = 0; first < CLIENT_CHANGES; first += CLIENT_BATCH)
        {
          GString *body = start_body (client_id);

          for (guint n = first; n < first + CLIENT_BATCH; n++)
            {
              g_autofree char *record_id = tether_uuid_v7_new ();

              append_change (body, record_id, N_CREATES + round * 100000 + c * CLIENT_CHANGES + n, "create", 0, 0);
            }
          g_ptr_array_add (clients[c].bodies, finish_body (body));
        }
    }
  start = g_get_monotonic_time ();
  for (guint c = 0; c < N_CLIENTS; c++)
    client_send (&clients[c]);
  {
    g_autoptr(GSource) timeout = g_timeout_source_new (REQUEST_TIMEOUT_MS);
    gboolean timed_out = FALSE;

    g_source_set_callback (timeout, set_flag, &timed_out, NULL);
    g_source_attach (timeout, bench->context);
    while (!none_running (&running) && !timed_out)
      g_main_context_iteration (bench->context, TRUE);
    g_source_destroy (timeout);
    if (!none_running (&running))
      fail (bench, "%u clients got no answer within %d ms", running, REQUEST_TIMEOUT_MS);
  }
  seconds = (g_get_monotonic_time () - start) / 1e6;
  figure (label, N_CLIENTS * CLIENT_CHANGES / seconds, 0, "changes/s", goal);
  latency_figures (latencies);
  g_hash_table_iter_init (&iter, failures);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_print ("    ! %u requests failed: %s\n", GPOINTER_TO_UINT (value), (const char *) key);
  for (guint c = 0; c < N_CLIENTS; c++)
    client_clear (&clients[c]);
}

/* ---- one storage ----------------------------------------------------------- */

typedef struct {
  const char *push;
  const char *pull;
} Goals;

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_remove (child);
    }
  g_rmdir (path);
}

/* TETHER_BENCH_PERF_PHASE=push (creates), updates or pull samples that
 * phase alone. */
static void
perf_phase (const char *phase,
            const char *command)
{
  bench_perf_phase ("TETHER_BENCH_PERF_PHASE", phase, command);
}

static void
run_storage (Bench       *bench,
             const Goals *goals)
{
  g_auto(GStrv) users = g_new0 (char *, N_CLIENTS + 1);
  double rss_loaded;

  bench->context = g_main_context_new ();
  g_main_context_push_thread_default (bench->context);
  bench->session = soup_session_new_with_options ("max-conns", 2 * N_CLIENTS,
                                                  "max-conns-per-host", 2 * N_CLIENTS, NULL);
  bench->token = user_add (bench, "bench");
  for (guint c = 0; c < N_CLIENTS; c++)
    {
      g_autofree char *name = g_strdup_printf ("client-%02u", c);

      users[c] = user_add (bench, name);
    }
  bench_start (bench);

  g_print ("\n%s\n", bench->title);
  perf_phase ("push", "enable");
  phase_creates (bench, goals->push);
  perf_phase ("push", "disable");
  rss_loaded = server_memory (bench, "VmRSS");
  perf_phase ("updates", "enable");
  phase_updates (bench, goals->push);
  perf_phase ("updates", "disable");
  perf_phase ("pull", "enable");
  phase_pull (bench, goals->pull);
  perf_phase ("pull", "disable");
  phase_clients (bench, "50 clients x 200 changes (batches of 20), 50 users", users, NULL);
  phase_clients (bench, "50 clients x 200 changes (batches of 20), one user", NULL, NULL);
  figure ("server RSS with 10,000 records loaded", rss_loaded, 1, "MiB", "< 30");
  figure ("server peak RSS (VmHWM)", server_memory (bench, "VmHWM"), 1, "MiB", NULL);

  bench_stop (bench);
  g_clear_object (&bench->session);
  while (g_main_context_iteration (bench->context, FALSE))
    ;
  g_main_context_pop_thread_default (bench->context);
  g_clear_pointer (&bench->context, g_main_context_unref);
}

static void
bench_clear (Bench *bench)
{
  if (bench->dir != NULL)
    remove_dir (bench->dir);
  g_free (bench->dir);
  g_free (bench->storage[0]);
  g_free (bench->storage[1]);
  g_free (bench->log);
  g_free (bench->base);
  g_free (bench->token);
  for (guint n = 0; n < N_CREATES; n++)
    g_free (bench->record_ids[n]);
}

static void
bench_sqlite (void)
{
  static const Goals goals = { ">= 100000", ">= 200000" };
  Bench bench = { "tether-server on SQLite (one file, WAL, synchronous=FULL)" };

  bench.dir = g_dir_make_tmp ("bench-server-XXXXXX", NULL);
  bench.storage[0] = g_strdup ("--db");
  bench.storage[1] = g_build_filename (bench.dir, "server.db", NULL);
  run_storage (&bench, &goals);
  bench_clear (&bench);
}

/* FALSE when PostgreSQL cannot be started here. */
static gboolean
bench_postgres (void)
{
  static const Goals goals = { ">= 30000", NULL };
  Bench bench = { "tether-server on PostgreSQL (throwaway cluster on 127.0.0.1, fsync and synchronous_commit on)" };
  g_autoptr(GError) error = NULL;

  /* durable, as the SQLite runs are (synchronous=FULL) */
  pg_cluster = tether_test_pg_start_full (TRUE, &error);
  if (pg_cluster == NULL)
    {
      g_print ("\nPostgreSQL: not run: %s\n", error->message);
      return FALSE;
    }
  bench.dir = g_dir_make_tmp ("bench-server-XXXXXX", NULL);
  bench.storage[0] = g_strdup ("--postgres");
  bench.storage[1] = tether_test_pg_new_database (pg_cluster, &error);
  if (bench.storage[1] == NULL)
    fail (&bench, "cannot create a database: %s", error->message);
  run_storage (&bench, &goals);
  bench_clear (&bench);
  g_clear_pointer (&pg_cluster, tether_test_pg_stop);
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *storage = NULL;
  g_autoptr(GOptionContext) context = g_option_context_new ("- measure tether-server over HTTP");
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "storage", 0, 0, G_OPTION_ARG_STRING, &storage, "sqlite, postgres or both (default)", "STORAGE" },
    { NULL }
  };
  gboolean sqlite, postgres;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("bench-server: %s\n", error->message);
      return 2;
    }
  sqlite = storage == NULL || g_str_equal (storage, "both") || g_str_equal (storage, "sqlite");
  postgres = storage == NULL || g_str_equal (storage, "both") || g_str_equal (storage, "postgres");
  if (!sqlite && !postgres)
    {
      g_printerr ("bench-server: --storage %s: expected sqlite, postgres or both\n", storage);
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  g_print ("bench-server: %s, %u cores; changes/s and records/s count the time inside requests\n",
           server_path (), g_get_num_processors ());
  if (sqlite)
    bench_sqlite ();
  /* asked for PostgreSQL alone and it cannot start: that is a failure */
  if (postgres && !bench_postgres () && !sqlite)
    return 1;
  return 0;
}
