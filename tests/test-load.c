/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-load"
#include "config.h"

#include <string.h>

#include "tether-test-server.h"

/* Load: 100 HTTP and 100 WebSocket clients push and pull against one
 * tether-server process for TETHER_LOAD_SECONDS (default 60), all on the
 * test's main context. No request may fail but rate-limited ones, every
 * WebSocket client must hear of every write of its user by server_push, the
 * server must end up with exactly what the clients wrote, and its memory
 * must not grow without bound. Latencies are printed, never asserted. */

#define N_USERS            10
#define HTTP_PER_USER      10
#define WS_PER_USER        10
#define N_CLIENTS          (N_USERS * (HTTP_PER_USER + WS_PER_USER))
#define DEFAULT_SECONDS    60
#define MAX_SECONDS        3600
#define RSS_EVERY_MS       5000
#define DRAIN_TIMEOUT_MS   120000   /* answers still due after the deadline */
#define PUSH_DRAIN_MS      30000    /* server_push still due after the last answer */
#define PULL_BATCH         100
#define MAX_FAILURES_SHOWN 20
/* The server's defaults, per user and shared by its 20 clients: a fast
 * machine meets the limit (its clients then wait Retry-After). */
#define RATE               "50/s"
#define BURST              "100"
#define REFILL_MS          2500     /* an empty bucket of BURST at RATE, and a margin */
#define STATUS_RATE_LIMITED 429

typedef enum {
  HTTP_PUSH,
  HTTP_PULL,
  WS_PUSH,
  WS_PULL,
  N_KINDS
} Kind;

static const char * const kind_names[N_KINDS] = { "HTTP push", "HTTP pull", "WS push", "WS pull" };

typedef struct _Load Load;

typedef struct {
  Load                    *load;
  guint                    user;
  char                    *name;        /* "u3-w7": prefix of its record and change ids */
  gboolean                 ws;
  GRand                   *rand;
  GHashTable              *revs;        /* record id → gint64 *: rev of its last accepted write */
  GPtrArray               *records;     /* the same record ids, to pick updates from */
  GHashTable              *batch;       /* change id → record id of the push in flight */
  guint                    n_batches;
  char                    *cursor;      /* pull position; NULL: the start */
  char                    *body;        /* request in flight, kept to resend after a 429 */
  gboolean                 pushing;
  gint64                   sent_us;
  gboolean                 done;
  guint                    n_429;
  SoupSession             *session;     /* HTTP clients only: one connection, kept alive */
  SoupMessage             *msg;         /* HTTP request or WebSocket upgrade in flight */
  /* WebSocket clients only */
  SoupWebsocketConnection *conn;
  guint                    n_requests;
  char                    *request_id;
  gint64                   subscribed;  /* feed end once caught up (-1 before): later revs must be pushed */
  GByteArray              *seen;        /* seen[rev]: heard of by server_push or its own push */
  guint                    n_checked;   /* feed revs known to be seen, in feed order */
} Client;

struct _Load {
  Fixture   *f;
  Server    *s;
  char      *tokens[N_USERS];
  char      *authorization[N_USERS];
  GPtrArray *clients;
  gint64     started_us;
  gint64     deadline_us;
  gint64     ended_us;
  guint      n_running;
  guint      n_open;             /* WebSocket connections */
  gboolean   closing;
  guint      n_requests[N_KINDS];
  GArray    *latency[N_KINDS];   /* gint64 µs of each 200 answer */
  guint      n_429;
  guint      n_changes;          /* accepted */
  guint      n_pulled;
  guint      n_server_push;      /* messages */
  guint      n_server_push_live; /* messages before the deadline */
  guint      n_server_pushed;    /* changes in them */
  GArray    *feed_revs[N_USERS]; /* gint64: the final feed's revs, ascending */
  GArray    *rss;                /* guint64 kB, every RSS_EVERY_MS */
  GSource   *rss_source;
  guint64    rss_start;          /* after the warm-up */
  guint64    rss_peak;
  guint      n_failures;
};

static void client_step (Client *c);
static void client_send (Client *c);

/* ---------------------------------------------------------------- helpers */

static void G_GNUC_PRINTF (2, 3)
load_fail (Load       *load,
           const char *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (load->n_failures++ < MAX_FAILURES_SHOWN)
    g_test_message ("load failure: %s", message);
}

static guint
load_seconds (void)
{
  const char *text = g_getenv ("TETHER_LOAD_SECONDS");
  g_autoptr(GError) error = NULL;
  guint64 seconds = DEFAULT_SECONDS;

  if (text != NULL && !g_ascii_string_to_unsigned (text, 10, 1, MAX_SECONDS, &seconds, &error))
    g_error ("TETHER_LOAD_SECONDS: %s", error->message);
  return seconds;
}

static void
attach_timeout (Load        *load,
                guint        ms,
                GSourceFunc  func,
                gpointer     data)
{
  g_autoptr(GSource) source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, load->f->context);
}

static JsonObject *
parse_object (const char *text,
              gssize      length)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_dup_object (node) : NULL;
}

/* ---------------------------------------------------------------- clients */

static Client *
client_new (Load     *load,
            guint     user,
            guint     index,
            gboolean  ws)
{
  Client *c = g_new0 (Client, 1);

  c->load = load;
  c->user = user;
  c->ws = ws;
  c->name = g_strdup_printf ("u%u-%c%u", user, ws ? 'w' : 'h', index);
  c->rand = g_rand_new_with_seed (user * 1000 + index * 2 + ws);
  c->revs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->records = g_ptr_array_new ();
  c->subscribed = ws ? -1 : 0;
  c->seen = g_byte_array_new ();
  /* As a real client: its own connection, used again for every request. */
  if (!ws)
    c->session = soup_session_new_with_options ("max-conns", 1, "max-conns-per-host", 1, NULL);
  return c;
}

static void
client_free (Client *c)
{
  if (c->conn != NULL)
    g_signal_handlers_disconnect_by_data (c->conn, c);
  g_clear_object (&c->conn);
  g_clear_object (&c->msg);
  g_clear_object (&c->session);
  g_clear_pointer (&c->batch, g_hash_table_unref);
  g_hash_table_unref (c->revs);
  g_ptr_array_unref (c->records);
  g_byte_array_unref (c->seen);
  g_rand_free (c->rand);
  g_free (c->cursor);
  g_free (c->body);
  g_free (c->request_id);
  g_free (c->name);
  g_free (c);
}

static void
client_finish (Client *c)
{
  g_assert_false (c->done);
  c->done = TRUE;
  c->load->n_running--;
}

static void
mark_seen (Client *c,
           gint64  rev)
{
  if (rev < 0 || rev > G_MAXINT32)
    return;
  if ((guint) rev >= c->seen->len)
    g_byte_array_set_size (c->seen, MAX ((guint) rev + 1, c->seen->len * 2));
  c->seen->data[rev] = 1;
}

static gboolean
was_seen (Client *c,
          gint64  rev)
{
  return rev >= 0 && rev < c->seen->len && c->seen->data[rev];
}


static void
add_change (Client     *c,
            GString    *body,
            const char *record_id,
            gint64      base_rev)
{
  guint index = g_hash_table_size (c->batch);
  g_autofree char *id = g_strdup_printf ("%s-b%u-%u", c->name, c->n_batches, index);
  g_autofree char *key = g_strdup_printf ("\"%s\"", record_id);
  g_autofree char *data = g_strdup_printf ("{\"by\":\"%s\",\"batch\":%u,\"text\":\"load test note\"}",
                                           c->name, c->n_batches);
  g_autofree char *change = change_new (id, "notes", key, base_rev ? "update" : "create", data, base_rev, NULL);

  g_string_append_printf (body, "%s%s", index ? "," : "", change);
  g_hash_table_insert (c->batch, g_steal_pointer (&id), g_strdup (record_id));
}

/* A small batch: one new record and updates of two of its own records, on
 * top of the revs it was given (only it writes them: nothing can conflict). */
static char *
batch_new (Client *c)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_autofree char *created = g_strdup_printf ("%s-r%u", c->name, c->n_batches);
  guint n = c->records->len;

  g_clear_pointer (&c->batch, g_hash_table_unref);
  c->batch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_string_append_printf (body, "{\"clientId\":\"%s\",\"changes\":[", c->name);
  add_change (c, body, created, 0);
  if (n >= 2)
    {
      guint first = g_rand_int_range (c->rand, 0, n);
      guint second = g_rand_int_range (c->rand, 0, n - 1);
      const char *ids[2];

      second += second >= first;
      ids[0] = g_ptr_array_index (c->records, first);
      ids[1] = g_ptr_array_index (c->records, second);
      for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
        add_change (c, body, ids[i], *(gint64 *) g_hash_table_lookup (c->revs, ids[i]));
    }
  c->n_batches++;
  g_string_append (body, "]}");
  return g_string_free (g_steal_pointer (&body), FALSE);
}

static char *
pull_body (Client *c)
{
  g_autofree char *cursor = c->cursor ? g_strdup_printf ("\"%s\"", c->cursor) : g_strdup ("null");

  /* Catching up before subscribing takes big pages. */
  return g_strdup_printf ("{\"cursor\":%s,\"batchSize\":%u}", cursor, c->subscribed < 0 ? 1000 : PULL_BATCH);
}

static guint
length_of (JsonObject *object,
           const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_array_get_length (json_node_get_array (node)) : 0;
}

static void
take_accepted (Client     *c,
               JsonObject *entry)
{
  const char *record_id = g_hash_table_lookup (c->batch, json_object_get_string_member_with_default (entry, "id", ""));
  gint64 rev = json_object_get_int_member_with_default (entry, "rev", 0);
  gint64 *known;

  if (record_id == NULL || rev <= 0)
    {
      load_fail (c->load, "%s: accepted entry for no change it sent, or without a rev", c->name);
      return;
    }
  known = g_hash_table_lookup (c->revs, record_id);
  if (known == NULL)
    {
      char *key = g_strdup (record_id);

      known = g_new0 (gint64, 1);
      g_hash_table_insert (c->revs, key, known);
      g_ptr_array_add (c->records, key);
    }
  *known = rev;
  if (c->ws)
    mark_seen (c, rev);
}

static void
take_push_result (Client     *c,
                  JsonObject *result)
{
  guint n_accepted = length_of (result, "accepted");
  guint n_conflicts = length_of (result, "conflicts");
  guint n_errors = length_of (result, "errors");
  JsonArray *accepted;

  if (n_conflicts + n_errors > 0 || n_accepted != g_hash_table_size (c->batch))
    load_fail (c->load, "%s: batch %u of %u changes got %u accepted, %u conflicts, %u errors",
               c->name, c->n_batches, g_hash_table_size (c->batch), n_accepted, n_conflicts, n_errors);
  if (n_accepted == 0)
    return;
  accepted = json_object_get_array_member (result, "accepted");
  for (guint i = 0; i < n_accepted; i++)
    take_accepted (c, json_array_get_object_element (accepted, i));
  c->load->n_changes += n_accepted;
}

/* Pulled changes must be the user's own: record ids start with "u<user>-". */
static void
check_changes (Client    *c,
               JsonArray *changes)
{
  g_autofree char *prefix = g_strdup_printf ("u%u-", c->user);

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      const char *record_id = json_object_get_string_member_with_default (change, "recordId", "");

      if (!g_str_has_prefix (record_id, prefix))
        load_fail (c->load, "%s was sent record %s of another user", c->name, record_id);
    }
}

static void
take_pull_result (Client     *c,
                  JsonObject *result)
{
  const char *cursor = json_object_get_string_member_with_default (result, "cursor", NULL);
  JsonNode *changes = json_object_get_member (result, "changes");

  if (cursor == NULL || changes == NULL || !JSON_NODE_HOLDS_ARRAY (changes))
    {
      load_fail (c->load, "%s: a pull answer without changes or cursor", c->name);
      return;
    }
  check_changes (c, json_node_get_array (changes));
  c->load->n_pulled += json_array_get_length (json_node_get_array (changes));
  g_free (c->cursor);
  c->cursor = g_strdup (cursor);
  if (c->subscribed < 0 && !json_object_get_boolean_member_with_default (result, "hasMore", TRUE))
    c->subscribed = g_ascii_strtoll (cursor, NULL, 10);
}

static gboolean
resume (gpointer data)
{
  Client *c = data;

  if (g_get_monotonic_time () >= c->load->deadline_us)
    client_finish (c);
  else if (c->ws && c->conn == NULL)
    client_step (c);
  else
    client_send (c);
  return G_SOURCE_REMOVE;
}

/* A 429: the same request again after Retry-After (at least one second). */
static void
client_retry (Client     *c,
              const char *retry_after)
{
  guint64 seconds = 1;

  c->load->n_429++;
  c->n_429++;
  if (retry_after == NULL || !g_ascii_string_to_unsigned (retry_after, 10, 1, 60, &seconds, NULL))
    load_fail (c->load, "%s: 429 with Retry-After '%s', not 1 to 60 seconds", c->name, retry_after);
  attach_timeout (c->load, seconds * 1000, resume, c);
}

/* An answer over HTTP or WebSocket: @result is its JSON when it is a 200. */
static void
take_answer (Client     *c,
             Kind        kind,
             guint       status,
             JsonObject *result,
             const char *retry_after,
             const char *text)
{
  gint64 took = g_get_monotonic_time () - c->sent_us;

  c->load->n_requests[kind]++;
  if (status == STATUS_RATE_LIMITED)
    {
      client_retry (c, retry_after);
      return;
    }
  if (status != SOUP_STATUS_OK || result == NULL)
    {
      load_fail (c->load, "%s: %s answered %u: %.200s", c->name, kind_names[kind], status, text);
      client_finish (c);
      return;
    }
  g_array_append_val (c->load->latency[kind], took);
  if (c->pushing)
    take_push_result (c, result);
  else
    take_pull_result (c, result);
  client_step (c);
}

/* ------------------------------------------------------------------- HTTP */

static void
http_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Client *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autoptr(SoupMessage) msg = g_steal_pointer (&c->msg);
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) answer = NULL;

  if (body == NULL)
    {
      load_fail (c->load, "%s: HTTP request failed: %s", c->name, error->message);
      client_finish (c);
      return;
    }
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  answer = parse_object (text, -1);
  take_answer (c, c->pushing ? HTTP_PUSH : HTTP_PULL, soup_message_get_status (msg), answer,
               soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After"), text);
}

static void
http_send (Client *c)
{
  g_autoptr(GBytes) bytes = g_bytes_new (c->body, strlen (c->body));

  g_assert_null (c->msg);
  c->msg = message_new (c->load->s, "POST", c->pushing ? "/push" : "/pull", c->load->authorization[c->user]);
  soup_message_set_request_body_from_bytes (c->msg, "application/json", bytes);
  /* Pushes are idempotent by change id: without this libsoup opens a new
   * connection for every POST. */
  soup_message_add_flags (c->msg, SOUP_MESSAGE_IDEMPOTENT);
  soup_session_send_and_read_async (c->session, c->msg, G_PRIORITY_DEFAULT, NULL, http_done, c);
}

/* -------------------------------------------------------------- WebSocket */

static void
take_server_push (Client     *c,
                  JsonObject *message)
{
  JsonNode *payload = json_object_get_member (message, "payload");
  JsonArray *changes;

  if (payload == NULL || !JSON_NODE_HOLDS_ARRAY (payload))
    {
      load_fail (c->load, "%s: a server_push without an array payload", c->name);
      return;
    }
  changes = json_node_get_array (payload);
  check_changes (c, changes);
  for (guint i = 0; i < json_array_get_length (changes); i++)
    mark_seen (c, json_object_get_int_member_with_default (json_array_get_object_element (changes, i), "rev", -1));
  c->load->n_server_push++;
  c->load->n_server_push_live += g_get_monotonic_time () < c->load->deadline_us;
  c->load->n_server_pushed += json_array_get_length (changes);
}

/* {type, requestId, payload}: a push_result or pull_result is a 200; an
 * error carries the status its code stands for (only 429 is expected). */
static void
take_ws_answer (Client     *c,
                JsonObject *message,
                const char *text)
{
  const char *type = json_object_get_string_member_with_default (message, "type", "");
  JsonNode *payload = json_object_get_member (message, "payload");
  JsonObject *object = payload != NULL && JSON_NODE_HOLDS_OBJECT (payload) ? json_node_get_object (payload) : NULL;
  gboolean answered = g_str_equal (type, c->pushing ? "push_result" : "pull_result");
  gboolean limited = object != NULL && g_str_equal (type, "error") &&
                     g_strcmp0 (json_object_get_string_member_with_default (object, "code", NULL), "rate-limited") == 0;
  g_autofree char *retry_after = limited ? g_strdup_printf ("%" G_GINT64_FORMAT,
                                                            json_object_get_int_member_with_default (object, "retryAfter", 0))
                                         : NULL;

  take_answer (c, c->pushing ? WS_PUSH : WS_PULL, answered ? SOUP_STATUS_OK : limited ? STATUS_RATE_LIMITED : 0,
               answered ? object : NULL, retry_after, text);
}

static void
ws_on_message (SoupWebsocketConnection *conn,
               int                      type,
               GBytes                  *message,
               gpointer                 data)
{
  Client *c = data;
  g_autofree char *text = g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  g_autoptr(JsonObject) object = parse_object (text, -1);
  const char *kind = object ? json_object_get_string_member_with_default (object, "type", "") : "";
  const char *request_id = object ? json_object_get_string_member_with_default (object, "requestId", NULL) : NULL;

  if (g_str_equal (kind, "server_push"))
    take_server_push (c, object);
  else if (!c->done && request_id != NULL && g_strcmp0 (request_id, c->request_id) == 0)
    take_ws_answer (c, object, text);
  else
    load_fail (c->load, "%s: unexpected WebSocket message: %.200s", c->name, text);
}

static void
ws_on_closed (SoupWebsocketConnection *conn,
              gpointer                 data)
{
  Client *c = data;

  c->load->n_open--;
  if (!c->load->closing)
    load_fail (c->load, "%s: the server closed the WebSocket (code %u)", c->name,
               soup_websocket_connection_get_close_code (conn));
  if (!c->done)
    client_finish (c);
}

static void
ws_send (Client *c)
{
  g_autofree char *text = NULL;

  g_free (c->request_id);
  c->request_id = g_strdup_printf ("%s-q%u", c->name, c->n_requests++);
  text = g_strdup_printf ("{\"type\":\"%s\",\"requestId\":\"%s\",\"payload\":%s}",
                          c->pushing ? "push" : "pull", c->request_id, c->body);
  soup_websocket_connection_send_text (c->conn, text);
}

static void
ws_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Client *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupMessage) msg = g_steal_pointer (&c->msg);

  c->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (c->conn == NULL && soup_message_get_status (msg) == STATUS_RATE_LIMITED)
    {
      client_retry (c, soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After"));
      return;
    }
  if (c->conn == NULL)
    {
      load_fail (c->load, "%s: WebSocket upgrade failed (%u): %s", c->name, soup_message_get_status (msg), error->message);
      client_finish (c);
      return;
    }
  c->load->n_open++;
  g_signal_connect (c->conn, "message", G_CALLBACK (ws_on_message), c);
  g_signal_connect (c->conn, "closed", G_CALLBACK (ws_on_closed), c);
  client_step (c);
}

static void
ws_connect_client (Client *c)
{
  c->msg = message_new (c->load->s, "GET", "/ws", c->load->authorization[c->user]);
  soup_session_websocket_connect_async (c->load->f->session, c->msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, ws_connected, c);
}

/* ------------------------------------------------------------- the loop */

static void
client_send (Client *c)
{
  c->sent_us = g_get_monotonic_time ();
  if (c->ws)
    ws_send (c);
  else
    http_send (c);
}

/* Push and pull in turn until the deadline; a WebSocket client first pulls
 * to the feed's end, from where every write of others must reach it. */
static void
client_step (Client *c)
{
  if (g_get_monotonic_time () >= c->load->deadline_us)
    {
      client_finish (c);
      return;
    }
  if (c->ws && c->conn == NULL)
    {
      ws_connect_client (c);
      return;
    }
  c->pushing = c->subscribed >= 0 && !c->pushing;
  g_free (c->body);
  c->body = c->pushing ? batch_new (c) : pull_body (c);
  client_send (c);
}

/* ----------------------------------------------------------------- memory */

static guint64
server_rss_kb (Server *s)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (s->process));
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "\nVmRSS:")) == NULL)
    g_error ("cannot read the server's VmRSS from %s", path);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

static gboolean
rss_sample (gpointer data)
{
  Load *load = data;
  guint64 kb = server_rss_kb (load->s);

  g_array_append_val (load->rss, kb);
  load->rss_peak = MAX (load->rss_peak, kb);
  /* Caches fill and the allocator grows its arenas in the first seconds:
   * the sample after them is the start. */
  if (load->rss->len <= 2)
    load->rss_start = kb;
  return G_SOURCE_CONTINUE;
}

static void
rss_watch (Load *load)
{
  rss_sample (load);
  load->rss_source = g_timeout_source_new (RSS_EVERY_MS);
  g_source_set_callback (load->rss_source, rss_sample, load, NULL);
  g_source_attach (load->rss_source, load->f->context);
}

/* SQLite's page cache, libpq's buffers and malloc's arenas grow with the data
 * for a while, so only growth past twice the warm size plus 64 MiB fails:
 * what keeps state per request or per connection crosses it in a 60 s run;
 * small leaks are for ASan and valgrind to find. */
static void
check_memory (Load    *load,
              guint64  end_kb)
{
#if defined(__SANITIZE_ADDRESS__)
  /* The server is built as this test is: ASan keeps freed memory in its
   * quarantine (256 MiB), so RSS says nothing there; LeakSanitizer judges. */
  return;
#endif
  if (end_kb > 2 * load->rss_start + 64 * 1024)
    load_fail (load, "the server grew from %" G_GUINT64_FORMAT " kB after warm-up to %" G_GUINT64_FORMAT " kB",
               load->rss_start, end_kb);
}

/* ----------------------------------------------------------------- checks */

static gboolean
load_drained (gpointer data)
{
  return ((Load *) data)->n_running == 0;
}

/* The server holds exactly the records the user's clients wrote, each at the
 * rev of its last accepted write. */
static void
check_user_data (Load  *load,
                 guint  user)
{
  g_autoptr(JsonArray) feed = pull_all (load->f, load->s, load->tokens[user], NULL, NULL);
  g_autoptr(GHashTable) expected = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_written;

  for (guint i = 0; i < load->clients->len; i++)
    {
      Client *c = g_ptr_array_index (load->clients, i);

      if (c->user == user)
        for (guint r = 0; r < c->records->len; r++)
          g_hash_table_insert (expected, c->records->pdata[r], g_hash_table_lookup (c->revs, c->records->pdata[r]));
    }
  n_written = g_hash_table_size (expected);
  load->feed_revs[user] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < json_array_get_length (feed); i++)
    {
      JsonObject *change = json_array_get_object_element (feed, i);
      const char *record_id = json_object_get_string_member_with_default (change, "recordId", "");
      gint64 rev = json_object_get_int_member_with_default (change, "rev", 0);
      gint64 *written = g_hash_table_lookup (expected, record_id);

      g_array_append_val (load->feed_revs[user], rev);
      if (written == NULL)
        load_fail (load, "user %u: the server has record %s, which none of its clients wrote (or twice)", user, record_id);
      else if (*written != rev)
        load_fail (load, "user %u: record %s is at rev %" G_GINT64_FORMAT " on the server, its client wrote rev %"
                   G_GINT64_FORMAT, user, record_id, rev, *written);
      g_hash_table_remove (expected, record_id);
    }
  if (g_hash_table_size (expected) > 0)
    load_fail (load, "user %u: %u of the %u records its clients wrote are not on the server",
               user, g_hash_table_size (expected), n_written);
}

/* Whether @c heard of every rev of its user's final feed past its subscription. */
static gboolean
client_heard_all (Client *c)
{
  GArray *revs = c->load->feed_revs[c->user];

  for (; c->n_checked < revs->len; c->n_checked++)
    {
      gint64 rev = g_array_index (revs, gint64, c->n_checked);

      if (rev > c->subscribed && !was_seen (c, rev))
        return FALSE;
    }
  return TRUE;
}

static gboolean
all_heard (gpointer data)
{
  Load *load = data;

  for (guint i = 0; i < load->clients->len; i++)
    {
      Client *c = g_ptr_array_index (load->clients, i);

      if (c->ws && c->subscribed >= 0 && !client_heard_all (c))
        return FALSE;
    }
  return TRUE;
}

static void
check_server_push (Load *load)
{
  wait_until (load->f, all_heard, load, PUSH_DRAIN_MS);
  for (guint i = 0; i < load->clients->len; i++)
    {
      Client *c = g_ptr_array_index (load->clients, i);

      if (!c->ws)
        continue;
      if (c->subscribed < 0 && c->n_429 > 0)
        g_test_message ("%s was rate-limited until the deadline before it caught up", c->name);
      else if (c->subscribed < 0)
        load_fail (load, "%s never caught up with its feed", c->name);
      else if (!client_heard_all (c))
        load_fail (load, "%s (subscribed after rev %" G_GINT64_FORMAT ") never heard of rev %" G_GINT64_FORMAT,
                   c->name, c->subscribed, g_array_index (load->feed_revs[c->user], gint64, c->n_checked));
    }
}

static gboolean
all_closed (gpointer data)
{
  return ((Load *) data)->n_open == 0;
}

static void
close_sockets (Load *load)
{
  load->closing = TRUE;
  for (guint i = 0; i < load->clients->len; i++)
    {
      Client *c = g_ptr_array_index (load->clients, i);

      if (c->conn != NULL && soup_websocket_connection_get_state (c->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (c->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  if (!wait_until (load->f, all_closed, load, STOP_TIMEOUT_MS))
    load_fail (load, "WebSocket connections did not close within %d ms", STOP_TIMEOUT_MS);
}

/* ----------------------------------------------------------------- report */

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static double
percentile_ms (GArray *samples,
               guint   percent)
{
  if (samples->len == 0)
    return 0;
  return g_array_index (samples, gint64, MIN (samples->len - 1, (guint64) samples->len * percent / 100)) / 1000.0;
}

static void
print_stats (Load       *load,
             const char *storage,
             guint64     end_kb)
{
  double seconds = (load->ended_us - load->started_us) / (double) G_USEC_PER_SEC;
  g_autoptr(GString) samples = g_string_new (NULL);

  g_test_message ("load on %s: %u users, each %u HTTP and %u WebSocket clients, %.1f s until the last answer",
                  storage, N_USERS, HTTP_PER_USER, WS_PER_USER, seconds);
  for (guint kind = 0; kind < N_KINDS; kind++)
    {
      g_array_sort (load->latency[kind], compare_int64);
      g_test_message ("  %-9s %7u requests, latency p50 %7.2f ms, p99 %7.2f ms", kind_names[kind],
                      load->n_requests[kind], percentile_ms (load->latency[kind], 50),
                      percentile_ms (load->latency[kind], 99));
    }
  g_test_message ("  rate-limited (429): %u; changes pushed %u (%.0f/s), pulled %u",
                  load->n_429, load->n_changes, load->n_changes / seconds, load->n_pulled);
  g_test_message ("  server_push: %u messages (%u while the clients wrote), %u changes",
                  load->n_server_push, load->n_server_push_live, load->n_server_pushed);
  for (guint i = 0; i < load->rss->len; i++)
    g_string_append_printf (samples, " %" G_GUINT64_FORMAT, g_array_index (load->rss, guint64, i) / 1024);
  g_test_message ("  server RSS: start %" G_GUINT64_FORMAT " MiB (after warm-up), end %" G_GUINT64_FORMAT
                  " MiB, peak %" G_GUINT64_FORMAT " MiB; every %d s:%s", load->rss_start / 1024, end_kb / 1024,
                  MAX (load->rss_peak, end_kb) / 1024, RSS_EVERY_MS / 1000, samples->str);
}

/* ------------------------------------------------------------------- test */

static Load *
load_new (Fixture *f)
{
  Load *load = g_new0 (Load, 1);

  load->f = f;
  load->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  load->rss = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint kind = 0; kind < N_KINDS; kind++)
    load->latency[kind] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint user = 0; user < N_USERS; user++)
    {
      g_autofree char *name = g_strdup_printf ("load%u", user);

      load->tokens[user] = user_add (f, name);
      load->authorization[user] = bearer (load->tokens[user]);
    }
  return load;
}

static void
load_free (Load *load)
{
  if (load->rss_source != NULL)
    g_source_destroy (load->rss_source);
  g_clear_pointer (&load->rss_source, g_source_unref);
  g_ptr_array_unref (load->clients);
  g_array_unref (load->rss);
  for (guint kind = 0; kind < N_KINDS; kind++)
    g_array_unref (load->latency[kind]);
  for (guint user = 0; user < N_USERS; user++)
    {
      g_clear_pointer (&load->feed_revs[user], g_array_unref);
      g_free (load->tokens[user]);
      g_free (load->authorization[user]);
    }
  g_free (load);
}

static void
start_clients (Load *load)
{
  for (guint user = 0; user < N_USERS; user++)
    for (guint i = 0; i < HTTP_PER_USER + WS_PER_USER; i++)
      {
        Client *c = client_new (load, user, i % HTTP_PER_USER, i >= HTTP_PER_USER);

        g_ptr_array_add (load->clients, c);
        load->n_running++;
        client_step (c);
      }
}

static void
test_load (Fixture *f)
{
  static const char * const extra[] = { "--rate", RATE, "--burst", BURST, NULL };
  Load *load = load_new (f);
  guint seconds = load_seconds ();
  guint64 end_kb;

  load->s = server_start (f, extra);
  rss_watch (load);
  load->started_us = g_get_monotonic_time ();
  load->deadline_us = load->started_us + seconds * G_USEC_PER_SEC;
  start_clients (load);
  if (!wait_until (f, load_drained, load, seconds * 1000 + DRAIN_TIMEOUT_MS))
    g_error ("%u of %u clients still wait for an answer %d ms after the deadline",
             load->n_running, N_CLIENTS, DRAIN_TIMEOUT_MS);
  load->ended_us = g_get_monotonic_time ();
  /* The final pulls must not meet the limiter the clients emptied. */
  run_for (f, REFILL_MS);
  for (guint user = 0; user < N_USERS; user++)
    check_user_data (load, user);
  check_server_push (load);
  end_kb = server_rss_kb (load->s);
  print_stats (load, f->postgres ? "PostgreSQL" : "SQLite", end_kb);
  check_memory (load, end_kb);
  if (load->n_server_push_live == 0)
    load_fail (load, "no server_push reached a client while the clients wrote, only after they stopped");
  close_sockets (load);
  if (load->n_failures > 0)
    g_test_fail_printf ("%u load failures (the first %d are in the test log)", load->n_failures, MAX_FAILURES_SHOWN);
  load_free (load);
}

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "http-and-websocket", test_load },
  };

  tether_test_server_set_prefix ("/tether/reliability/load");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
