/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-transport"
#include "config.h"

#include <string.h>
#include <sys/socket.h>

#include "tether-faulty-transport.h"
#include "tether-gzip-private.h"
#include "tether-http-transport.h"
#include "tether-ws-transport-private.h"
#include "tether-test-cut.h"
#include "tether-test-server.h"

/* The transports against a real tether-server, and against a small
 * SoupServer of the test's own for the answers a Tether server never gives. */

#define CLIENT_ID  "7d4ac1f0-3f9e-4a8e-9c52-6f0e1c2b9a10"
#define PULL_NOTES "{\"cursor\":null,\"collections\":[\"notes\"],\"batchSize\":100}"
#define RECONNECT_TIMEOUT_MS 20000

/* ------------------------------------------------------------ transport calls */

typedef JsonObject *(*FinishFunc) (TetherTransport *, GAsyncResult *, GError **);

typedef struct {
  gboolean    done;
  FinishFunc  finish;
  JsonObject *answer;
  GError     *error;
} Result;

static void
on_done (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Result *r = data;

  r->answer = r->finish (TETHER_TRANSPORT (source), result, &r->error);
  r->done = TRUE;
}

static void
call_async (TetherTransport *t,
            const char      *kind,
            const char      *body,
            GCancellable    *cancellable,
            Result          *r)
{
  g_autoptr(JsonObject) request = body != NULL ? tether_test_object (body) : NULL;

  if (g_str_equal (kind, "push"))
    {
      r->finish = tether_transport_push_finish;
      tether_transport_push_async (t, request, cancellable, on_done, r);
    }
  else if (g_str_equal (kind, "pull"))
    {
      r->finish = tether_transport_pull_finish;
      tether_transport_pull_async (t, request, cancellable, on_done, r);
    }
  else
    {
      r->finish = tether_transport_info_finish;
      tether_transport_info_async (t, cancellable, on_done, r);
    }
}

static JsonObject *
result_wait (Fixture  *f,
             Result   *r,
             GError  **error)
{
  if (!wait_until (f, flag_ready, &r->done, REQUEST_TIMEOUT_MS))
    g_error ("the transport did not answer within %d ms", REQUEST_TIMEOUT_MS);
  if (r->error != NULL)
    g_propagate_error (error, r->error);
  return r->answer;
}

/* @kind: "push", "pull" or "info" (@body NULL). */
static JsonObject *
call (Fixture         *f,
      TetherTransport *t,
      const char      *kind,
      const char      *body,
      GError         **error)
{
  Result r = { 0 };

  call_async (t, kind, body, NULL, &r);
  return result_wait (f, &r, error);
}

static JsonObject *
call_ok (Fixture         *f,
         TetherTransport *t,
         const char      *kind,
         const char      *body)
{
  g_autoptr(GError) error = NULL;
  JsonObject *answer = call (f, t, kind, body, &error);

  g_assert_no_error (error);
  g_assert_nonnull (answer);
  return answer;
}

/* Asserts the failure's code and that its message names @server. */
static void
call_fails (Fixture         *f,
            TetherTransport *t,
            const char      *kind,
            const char      *body,
            TetherSyncError  code,
            const char      *server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = call (f, t, kind, body, &error);

  g_assert_null (answer);
  g_assert_error (error, TETHER_SYNC_ERROR, (gint) code);
  g_test_message ("%s: %s", kind, error->message);
  if (server != NULL && strstr (error->message, server) == NULL)
    g_error ("the message does not name %s: %s", server, error->message);
}

/* A cancelled request is the caller's doing, not a network failure. */
static void
assert_cancels (Fixture         *f,
                TetherTransport *t)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Result r = { 0 };

  call_async (t, "pull", PULL_NOTES, cancellable, &r);
  g_cancellable_cancel (cancellable);
  g_assert_null (result_wait (f, &r, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static char *
iso_now (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *seconds = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%03dZ", seconds, g_date_time_get_microsecond (now) / 1000);
}

/* A push of one note, as the sync engine sends it. */
static char *
note_push (const char *change_id,
           const char *record_id,
           const char *title)
{
  g_autofree char *data = g_strdup_printf ("{\"id\":\"%s\",\"title\":\"%s\"}", record_id, title);
  g_autofree char *record = g_strdup_printf ("\"%s\"", record_id);
  g_autofree char *timestamp = iso_now ();
  g_autofree char *extra = g_strdup_printf ("\"timestamp\":\"%s\",\"hlc\":\"%013" G_GINT64_FORMAT "-0000-%s\"",
                                            timestamp, now_ms (), CLIENT_ID);

  return push_body (CLIENT_ID, change_new (change_id, "notes", record, "create", data, 0, extra), NULL);
}

/* A push of about @size bytes. */
static char *
big_push (const char *change_id,
          gsize       size)
{
  g_autofree char *title = g_strnfill (size, 'x');

  return note_push (change_id, change_id, title);
}

static JsonArray *
pulled_changes (JsonObject *answer)
{
  return json_object_get_array_member (answer, "changes");
}

/* --------------------------------------------------------------- the fake */

/* A SoupServer on 127.0.0.1 answering under /fake/MODE: "html", "json"
 * (an object that is not a Tether answer), "hang" (never), "429-first" (a
 * 429 with Retry-After: 7 to the first request, "json" to the others), or
 * a status ("503", "429", "429-date"); /fake/silent/ws accepts WebSockets
 * and never answers on them; /fake/busy-once/ws refuses the first upgrade
 * with a 429, then does the same; /fake/chatty/ws and /fake/pinging/ws
 * answer slowly (see slow_tick). */
typedef struct {
  SoupServer *server;
  char       *url;       /* http://127.0.0.1:PORT */
  guint       requests;  /* seen by "429-first" */
  GPtrArray  *paused;    /* SoupServerMessage */
  GPtrArray  *sockets;   /* SoupWebsocketConnection */
  guint       resets;    /* upgrades reset under /fake/reset/ws */
} Fake;

static void
fake_status (SoupServerMessage *msg,
             const char        *mode)
{
  guint status = (guint) g_ascii_strtoull (mode, NULL, 10);
  g_autofree char *body = g_strdup_printf ("{\"error\":\"fake refusal %u\",\"code\":\"fake\"}", status);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  if (g_str_equal (mode, "429"))
    soup_message_headers_replace (headers, "Retry-After", "7");
  else if (g_str_equal (mode, "429-date"))
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) later = g_date_time_add_seconds (now, 120);
      g_autofree char *date = soup_date_time_to_string (later, SOUP_DATE_HTTP);

      soup_message_headers_replace (headers, "Retry-After", date);
    }
  soup_server_message_set_status (msg, status, status == 429 ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

static gboolean
fake_unpause (gpointer data)
{
  soup_server_message_unpause (data);
  return G_SOURCE_REMOVE;
}

static void
fake_handle (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           data)
{
  static const char html[] = "<!doctype html><title>Router</title><p>Welcome</p>";
  static const char json[] = "{\"hello\":\"world\"}";
  Fake *fake = data;
  g_auto(GStrv) parts = g_strsplit (path, "/", 4);   /* "", "fake", MODE, rest */
  const char *mode = g_strv_length (parts) > 2 ? parts[2] : "";

  if (g_str_equal (mode, "hang"))
    {
      soup_server_message_pause (msg);
      g_ptr_array_add (fake->paused, g_object_ref (msg));
      return;
    }
  if (g_str_equal (mode, "429-first") && fake->requests++ > 0)
    {
      /* answered after the 429, whichever request that went to */
      g_autoptr(GSource) timer = g_timeout_source_new (100);

      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, json, strlen (json));
      soup_server_message_pause (msg);
      g_source_set_callback (timer, fake_unpause, g_object_ref (msg), g_object_unref);
      g_source_attach (timer, g_main_context_get_thread_default ());
      return;
    }
  if (g_str_equal (mode, "429-first"))
    mode = "429";
  if (g_str_equal (mode, "html") || g_str_equal (mode, "json"))
    {
      const char *body = g_str_equal (mode, "html") ? html : json;

      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, g_str_equal (mode, "html") ? "text/html" : "application/json",
                                        SOUP_MEMORY_STATIC, body, strlen (body));
      return;
    }
  fake_status (msg, mode);
}

static void
fake_socket (SoupServer              *server,
             SoupServerMessage       *msg,
             const char              *path,
             SoupWebsocketConnection *conn,
             gpointer                 data)
{
  g_ptr_array_add (((Fake *) data)->sockets, g_object_ref (conn));
}

/* Accepts the upgrade, then resets the connection (RST): the client's
 * first frame on it fails as it is written. */
static void
fake_reset_socket (SoupServer              *server,
                   SoupServerMessage       *msg,
                   const char              *path,
                   SoupWebsocketConnection *conn,
                   gpointer                 data)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  struct linger linger = { 1, 0 };

  ((Fake *) data)->resets++;
  g_assert_nonnull (socket);
  g_assert_cmpint (setsockopt (g_socket_get_fd (socket), SOL_SOCKET, SO_LINGER, &linger, sizeof linger), ==, 0);
  g_socket_close (socket, NULL);
}

/* Accepts the upgrade and closes at once, normally. */
static void
fake_close_socket (SoupServer              *server,
                   SoupServerMessage       *msg,
                   const char              *path,
                   SoupWebsocketConnection *conn,
                   gpointer                 data)
{
  g_ptr_array_add (((Fake *) data)->sockets, g_object_ref (conn));
  soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

/* The first upgrade under /fake/busy-once/ws gets a 429 with Retry-After:
 * 7 (a status set this early skips the WebSocket handler); later ones are
 * accepted. */
static void
fake_busy_once (SoupServer        *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           data)
{
  Fake *fake = data;

  if (fake->requests++ == 0)
    fake_status (msg, "429");
}

/* A request under /fake/chatty/ws or /fake/pinging/ws is answered (an
 * empty pull page) after ticks of 300 ms; on the chatty one a frame that
 * answers nothing comes at each tick, on the pinging one only the
 * server's pings (every second) show it is there. */
typedef struct {
  SoupWebsocketConnection *conn;
  char                    *id;
  guint                    ticks;
  gboolean                 chatty;
} Slow;

static void
slow_free (gpointer data)
{
  Slow *slow = data;

  g_object_unref (slow->conn);
  g_free (slow->id);
  g_free (slow);
}

static gboolean
slow_tick (gpointer data)
{
  Slow *slow = data;
  g_autofree char *answer = NULL;

  if (soup_websocket_connection_get_state (slow->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_REMOVE;
  if (--slow->ticks > 0)
    {
      if (slow->chatty)
        soup_websocket_connection_send_text (slow->conn, "{\"type\":\"still-working\"}");
      return G_SOURCE_CONTINUE;
    }
  answer = g_strdup_printf ("{\"type\":\"pull_result\",\"requestId\":\"%s\",\"payload\":"
                            "{\"changes\":[],\"cursor\":null,\"hasMore\":false}}", slow->id);
  soup_websocket_connection_send_text (slow->conn, answer);
  return G_SOURCE_REMOVE;
}

static void
slow_message (SoupWebsocketConnection *conn,
              int                      type,
              GBytes                  *message,
              gpointer                 data)
{
  g_autoptr(JsonNode) node = json_from_string (g_bytes_get_data (message, NULL), NULL);
  g_autoptr(GSource) timer = g_timeout_source_new (300);
  Slow *slow = g_new0 (Slow, 1);

  g_assert_nonnull (node);
  slow->conn = g_object_ref (conn);
  slow->id = g_strdup (json_object_get_string_member (json_node_get_object (node), "requestId"));
  slow->chatty = GPOINTER_TO_INT (data);
  slow->ticks = slow->chatty ? 10 : 15;
  g_source_set_callback (timer, slow_tick, slow, slow_free);
  g_source_attach (timer, g_main_context_get_thread_default ());
}

static void
fake_slow_socket (SoupServer              *server,
                  SoupServerMessage       *msg,
                  const char              *path,
                  SoupWebsocketConnection *conn,
                  gpointer                 data)
{
  gboolean chatty = strstr (path, "/chatty/") != NULL;

  g_ptr_array_add (((Fake *) data)->sockets, g_object_ref (conn));
  if (!chatty)
    soup_websocket_connection_set_keepalive_interval (conn, 1);
  g_signal_connect (conn, "message", G_CALLBACK (slow_message), GINT_TO_POINTER (chatty));
}

/* As tether-server does: the upgrade answer says how large a frame may be. */
static void
fake_announce_max (SoupServer        *server,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           data)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Tether-Max-Body", "5000");
}

static Fake *
fake_start (void)
{
  Fake *fake = g_new0 (Fake, 1);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  fake->server = soup_server_new (NULL, NULL);
  fake->paused = g_ptr_array_new_with_free_func (g_object_unref);
  fake->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  soup_server_add_handler (fake->server, "/fake", fake_handle, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/silent/ws", NULL, NULL, fake_socket, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/reset/ws", NULL, NULL, fake_reset_socket, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/closing/ws", NULL, NULL, fake_close_socket, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/chatty/ws", NULL, NULL, fake_slow_socket, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/pinging/ws", NULL, NULL, fake_slow_socket, fake, NULL);
  soup_server_add_early_handler (fake->server, "/fake/busy-once/ws", fake_busy_once, fake, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/busy-once/ws", NULL, NULL, fake_socket, fake, NULL);
  soup_server_add_early_handler (fake->server, "/fake/limited/ws", fake_announce_max, NULL, NULL);
  soup_server_add_websocket_handler (fake->server, "/fake/limited/ws", NULL, NULL, fake_socket, fake, NULL);
  soup_server_listen_local (fake->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fake->server);
  fake->url = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return fake;
}

static char *
fake_base (Fake       *fake,
           const char *mode)
{
  return g_strdup_printf ("%s/fake/%s", fake->url, mode);
}

static void
fake_free (Fake *fake)
{
  for (guint i = 0; i < fake->paused->len; i++)
    {
      SoupServerMessage *msg = g_ptr_array_index (fake->paused, i);

      soup_server_message_set_status (msg, 503, NULL);
      soup_server_message_unpause (msg);
    }
  for (guint i = 0; i < fake->sockets->len; i++)
    if (soup_websocket_connection_get_state (g_ptr_array_index (fake->sockets, i)) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (g_ptr_array_index (fake->sockets, i), SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
    ;
  soup_server_disconnect (fake->server);
  g_ptr_array_unref (fake->paused);
  g_ptr_array_unref (fake->sockets);
  g_object_unref (fake->server);
  g_free (fake->url);
  g_free (fake);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fake, fake_free)

/* The base URL of a port nobody listens on. The port stays bound (not
 * listening, so connections to it are refused) until the test ends: let
 * go at once, another suite running meanwhile could listen on it. */
static char *
closed_base (void)
{
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (socket);
  g_test_queue_unref (socket);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("http://127.0.0.1:%u/sync", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
}

/* ------------------------------------------------------------------- HTTP */

static void
test_http_round_trip (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (s->base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (http);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) info = call_ok (f, t, "info", NULL);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  JsonObject *change;

  g_assert_cmpstr (json_object_get_string_member (info, "server"), ==, "tether-server");
  g_assert_true (tether_transport_is_connected (t));
  pushed = call_ok (f, t, "push", body);
  pulled = call_ok (f, t, "pull", PULL_NOTES);
  change = find_change (pulled_changes (pulled), "notes", "\"n1\"");
  g_assert_nonnull (change);
  g_assert_cmpint (json_object_get_int_member (change, "rev"), ==, accepted_rev (pushed, "c1"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (change, "data"), "title"), ==, "Hello");
  g_assert_cmpuint (tether_http_transport_get_bytes_sent (http), >=, strlen (body));
  g_assert_cmpuint (tether_http_transport_get_bytes_received (http), >, 0);
  g_assert_cmpint (tether_transport_get_retry_after_ms (t), ==, 0);
}

static void
test_http_unauthorized (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (s->base, "not-a-token");
  g_autofree char *body = note_push ("c1", "n1", "Hello");

  call_fails (f, TETHER_TRANSPORT (http), "push", body, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);
  /* GET base needs no token: "test connection" must still tell. */
  call_fails (f, TETHER_TRANSPORT (http), "info", NULL, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);
  tether_http_transport_set_token (http, f->alice);
  json_object_unref (call_ok (f, TETHER_TRANSPORT (http), "info", NULL));
}

static void
test_http_unreachable (Fixture *f)
{
  g_autofree char *base = closed_base ();
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (base, f->alice);

  call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_NETWORK, base);
  call_fails (f, TETHER_TRANSPORT (http), "info", NULL, TETHER_SYNC_ERROR_NETWORK, base);
  g_assert_false (tether_transport_is_connected (TETHER_TRANSPORT (http)));
}

static void
test_http_not_tether (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *html = fake_base (fake, "html");
  g_autofree char *json = fake_base (fake, "json");
  g_autofree char *missing = g_strconcat (s->base, "/nowhere", NULL);
  const char *bases[] = { html, json, missing };

  for (guint i = 0; i < G_N_ELEMENTS (bases); i++)
    {
      g_autoptr(TetherHttpTransport) http = tether_http_transport_new (bases[i], f->alice);

      call_fails (f, TETHER_TRANSPORT (http), "info", NULL, TETHER_SYNC_ERROR_PROTOCOL, bases[i]);
    }
}

static void
test_http_not_json (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "html");
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (base, f->alice);
  g_autofree char *body = note_push ("c1", "n1", "Hello");

  call_fails (f, TETHER_TRANSPORT (http), "push", body, TETHER_SYNC_ERROR_PROTOCOL, base);
  call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_PROTOCOL, base);
}

/* A server killed between its headers and the end of its body: libsoup
 * reads the body up to the closed connection without an error, so the
 * transport must compare it with the Content-Length itself. Each way of
 * being cut off is a network failure, to be retried; none is taken for
 * the answer of a server that is not Tether. */
static void
test_http_cut_off (Fixture *f)
{
  const gsize sent[] = { 0, 20 };

  for (guint i = 0; i < G_N_ELEMENTS (sent); i++)
    {
      g_autoptr(TetherTestCut) cut = tether_test_cut_start (SOUP_STATUS_OK, sent[i]);
      g_autoptr(TetherHttpTransport) http = tether_http_transport_new (tether_test_cut_url (cut), f->alice);
      g_autofree char *body = note_push ("c1", "n1", "Hello");
      g_autofree char *said = g_strdup_printf ("closed the connection after %" G_GSIZE_FORMAT " of the %"
                                               G_GSIZE_FORMAT " bytes", sent[i], tether_test_cut_size (cut));

      call_fails (f, TETHER_TRANSPORT (http), "push", body, TETHER_SYNC_ERROR_NETWORK, said);
      call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_NETWORK, said);
      call_fails (f, TETHER_TRANSPORT (http), "info", NULL, TETHER_SYNC_ERROR_NETWORK, tether_test_cut_url (cut));
    }
  /* A refusal cut short still refuses: the token is what is wrong. */
  {
    g_autoptr(TetherTestCut) cut = tether_test_cut_start (SOUP_STATUS_UNAUTHORIZED, 10);
    g_autoptr(TetherHttpTransport) http = tether_http_transport_new (tether_test_cut_url (cut), f->alice);

    call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_UNAUTHORIZED, NULL);
  }
}

static void
test_http_statuses (Fixture *f)
{
  static const struct {
    const char      *mode;
    TetherSyncError  code;
  } statuses[] = {
    { "400", TETHER_SYNC_ERROR_REJECTED },
    { "401", TETHER_SYNC_ERROR_UNAUTHORIZED },
    { "409", TETHER_SYNC_ERROR_SCHEMA },
    { "410", TETHER_SYNC_ERROR_CURSOR_EXPIRED },
    { "413", TETHER_SYNC_ERROR_TOO_LARGE },
    { "429", TETHER_SYNC_ERROR_RATE_LIMITED },
    { "500", TETHER_SYNC_ERROR_SERVER },
    { "503", TETHER_SYNC_ERROR_SERVER },
  };
  g_autoptr(Fake) fake = fake_start ();

  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    {
      g_autofree char *base = fake_base (fake, statuses[i].mode);
      g_autofree char *said = g_strdup_printf ("fake refusal %s", statuses[i].mode);
      g_autoptr(TetherHttpTransport) http = tether_http_transport_new (base, f->alice);

      call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, statuses[i].code, base);
      /* The server's own words are part of the message. */
      call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, statuses[i].code, said);
    }
}

/* Of the 400s, bad-cursor alone has its own code: the engine answers it
 * with a pull from the start. The others stay refusals. */
static void
test_http_bad_cursor (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (s->base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (http);

  call_fails (f, t, "pull", "{\"cursor\":\"99\",\"collections\":[\"notes\"],\"batchSize\":5}",
              TETHER_SYNC_ERROR_BAD_CURSOR, "past the end");
  call_fails (f, t, "pull", "{\"cursor\":\"99\",\"collections\":[\"notes\"],\"batchSize\":5}",
              TETHER_SYNC_ERROR_BAD_CURSOR, s->base);
  call_fails (f, t, "pull", "{\"cursor\":null,\"collections\":[\"notes\"],\"batchSize\":0}",
              TETHER_SYNC_ERROR_REJECTED, s->base);
}

static void
test_http_rate_limited (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *seconds = fake_base (fake, "429");
  g_autofree char *date = fake_base (fake, "429-date");
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (seconds, f->alice);
  g_autoptr(TetherHttpTransport) http_date = tether_http_transport_new (date, f->alice);
  gint64 wait_ms;

  call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_RATE_LIMITED, seconds);
  g_assert_cmpint (tether_transport_get_retry_after_ms (TETHER_TRANSPORT (http)), ==, 7000);
  call_fails (f, TETHER_TRANSPORT (http_date), "pull", PULL_NOTES, TETHER_SYNC_ERROR_RATE_LIMITED, date);
  wait_ms = tether_transport_get_retry_after_ms (TETHER_TRANSPORT (http_date));
  g_assert_cmpint (wait_ms, >, 100 * 1000);
  g_assert_cmpint (wait_ms, <=, 120 * 1000);
}

/* Two requests in flight (a push keeps two batches out): the 429 of the
 * first keeps its Retry-After when the other's answer lands after it. */
static void
test_http_rate_limited_in_flight (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "429-first");
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (base, f->alice);
  g_autoptr(GError) first_error = NULL;
  g_autoptr(GError) second_error = NULL;
  g_autoptr(JsonObject) first_answer = NULL;
  g_autoptr(JsonObject) second_answer = NULL;
  Result first = { 0 }, second = { 0 };

  call_async (TETHER_TRANSPORT (http), "pull", PULL_NOTES, NULL, &first);
  call_async (TETHER_TRANSPORT (http), "pull", PULL_NOTES, NULL, &second);
  first_answer = result_wait (f, &first, &first_error);
  second_answer = result_wait (f, &second, &second_error);
  g_assert_true ((first_error != NULL) != (second_error != NULL));
  g_assert_cmpint (tether_transport_get_retry_after_ms (TETHER_TRANSPORT (http)), ==, 7000);
}

static void
test_http_timeout (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "hang");
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (base, f->alice);

  tether_http_transport_set_timeout (http, 1);
  call_fails (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES, TETHER_SYNC_ERROR_NETWORK, "within 1 s");
  assert_cancels (f, TETHER_TRANSPORT (http));
}

static void
test_retry_after (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) later = g_date_time_add_seconds (now, 90);
  g_autoptr(GDateTime) earlier = g_date_time_add_seconds (now, -90);
  g_autofree char *later_text = soup_date_time_to_string (later, SOUP_DATE_HTTP);
  g_autofree char *earlier_text = soup_date_time_to_string (earlier, SOUP_DATE_HTTP);
  g_autoptr(GDateTime) far = g_date_time_add_days (now, 30);
  g_autofree char *far_text = soup_date_time_to_string (far, SOUP_DATE_HTTP);
  gint64 ms;

  g_assert_cmpint (tether_transport_parse_retry_after ("120"), ==, 120000);
  g_assert_cmpint (tether_transport_parse_retry_after (" 0 "), ==, 0);
  g_assert_cmpint (tether_transport_parse_retry_after ("soon"), ==, -1);
  g_assert_cmpint (tether_transport_parse_retry_after ("-5"), ==, -1);
  g_assert_cmpint (tether_transport_parse_retry_after (""), ==, -1);
  g_assert_cmpint (tether_transport_parse_retry_after (NULL), ==, -1);
  ms = tether_transport_parse_retry_after (later_text);
  g_assert_cmpint (ms, >, 85000);
  g_assert_cmpint (ms, <=, 90000);
  g_assert_cmpint (tether_transport_parse_retry_after (earlier_text), ==, 0);

  /* At most an hour, however far the server says, without overflowing. */
  g_assert_cmpint (tether_transport_parse_retry_after ("3600"), ==, 3600000);
  g_assert_cmpint (tether_transport_parse_retry_after ("86400"), ==, TETHER_RETRY_AFTER_MAX_MS);
  g_assert_cmpint (tether_transport_parse_retry_after ("9223372036854775807"), ==, TETHER_RETRY_AFTER_MAX_MS);
  g_assert_cmpint (tether_transport_parse_retry_after ("99999999999999999999999"), ==, TETHER_RETRY_AFTER_MAX_MS);
  g_assert_cmpint (tether_transport_parse_retry_after (far_text), ==, TETHER_RETRY_AFTER_MAX_MS);
}

/* Accept-Encoding as RFC 9110 reads it: a weight of 0 refuses, in any
 * spelling; a weight that is no qvalue is not taken for a yes. */
static void
test_gzip_listed (void)
{
  static const struct {
    const char *header;
    gboolean    listed;
  } cases[] = {
    { "gzip", TRUE },
    { "deflate, GZIP", TRUE },
    { "x-gzip", TRUE },
    { "gzip;q=0.5", TRUE },
    { "gzip ; q=1.000", TRUE },
    { "gzip;q=0.001", TRUE },
    { "gzip;Q=0.5", TRUE },
    { "gzip;q=0", FALSE },
    { "gzip;q=0.0", FALSE },
    { "gzip;q=0.000", FALSE },
    { "gzip; Q=0.00", FALSE },
    { "gzip;q=2", FALSE },
    { "gzip;q=0.0001", FALSE },
    { "gzip;q=abc", FALSE },
    { "gzip;level=1;q=0", FALSE },
    { "gzip;q=0, *", FALSE },
    { "identity", FALSE },
    { "", FALSE },
    { NULL, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("Accept-Encoding: %s", cases[i].header);
      g_assert_cmpint (_tether_gzip_listed (cases[i].header), ==, cases[i].listed);
    }
}

/* 413: the engine halves its batch on TOO_LARGE. */
static void
test_http_too_large (Fixture *f)
{
  const char *extra[] = { "--max-body", "2000", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (s->base, f->alice);
  g_autofree char *big = big_push ("c1", 3000);
  g_autofree char *small = big_push ("c2", 100);

  call_fails (f, TETHER_TRANSPORT (http), "push", big, TETHER_SYNC_ERROR_TOO_LARGE, s->base);
  json_object_unref (call_ok (f, TETHER_TRANSPORT (http), "push", small));
}

/* -------------------------------------------------------------- WebSocket */

static gboolean
is_connected (gpointer data)
{
  return tether_transport_is_connected (data);
}

static gboolean
is_disconnected (gpointer data)
{
  return !tether_transport_is_connected (data);
}

static void
wait_connected (Fixture         *f,
                TetherTransport *t,
                gboolean         connected,
                guint            timeout_ms)
{
  if (!wait_until (f, connected ? is_connected : is_disconnected, t, timeout_ms))
    g_error ("the transport did not %s within %u ms", connected ? "connect" : "disconnect", timeout_ms);
}

/* Lets the close handshake finish, so that nothing is left behind. */
static void
ws_close (Fixture         *f,
          TetherTransport *t)
{
  tether_transport_disconnect (t);
  g_assert_false (tether_transport_is_connected (t));
  run_for (f, 200);
}

static void
link_up (Fixture         *f,
         TetherTransport *t)
{
  tether_transport_connect (t);
  wait_connected (f, t, TRUE, REQUEST_TIMEOUT_MS);
}

/* The link works, and is closed. */
static void
pull_then_close (Fixture         *f,
                 TetherTransport *t)
{
  json_object_unref (call_ok (f, t, "pull", PULL_NOTES));
  ws_close (f, t);
}

static TetherTransport *
ws_new (const char *base,
        const char *token)
{
  return TETHER_TRANSPORT (tether_ws_transport_new (base, token));
}

static void
test_ws_round_trip (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherTransport) t = ws_new (s->base, f->alice);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  g_autoptr(JsonObject) info = NULL;
  Result pushing = { 0 };
  Result pulling = { 0 };
  JsonObject *change;

  /* Both under way at once: each answer must find its own request. */
  call_async (t, "push", body, NULL, &pushing);
  call_async (t, "pull", PULL_NOTES, NULL, &pulling);
  pushed = result_wait (f, &pushing, &error);
  g_assert_no_error (error);
  first = result_wait (f, &pulling, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_has_member (first, "changes"));
  g_assert_true (tether_transport_is_connected (t));

  pulled = call_ok (f, t, "pull", PULL_NOTES);
  change = find_change (pulled_changes (pulled), "notes", "\"n1\"");
  g_assert_nonnull (change);
  g_assert_cmpint (json_object_get_int_member (change, "rev"), ==, accepted_rev (pushed, "c1"));
  info = call_ok (f, t, "info", NULL);
  g_assert_cmpstr (json_object_get_string_member (info, "server"), ==, "tether-server");
  ws_close (f, t);
}

/* The session's timeout is for requests: an idle socket stays open. */
static void
test_ws_idle (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (s->base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);

  tether_ws_transport_set_timeout (ws, 1);
  link_up (f, t);
  run_for (f, 2500);
  g_assert_true (tether_transport_is_connected (t));
  pull_then_close (f, t);
}

/* An "error" message answers its request with the code an HTTP status would give. */
static void
test_ws_error_message (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherTransport) t = ws_new (s->base, f->alice);

  call_fails (f, t, "pull", "{\"cursor\":null,\"collections\":[\"notes\"],\"batchSize\":0}",
              TETHER_SYNC_ERROR_REJECTED, s->base);
  call_fails (f, t, "pull", "{\"cursor\":\"not a cursor\",\"collections\":[\"notes\"],\"batchSize\":5}",
              TETHER_SYNC_ERROR_BAD_CURSOR, "bad-cursor");
  g_assert_true (tether_transport_is_connected (t));
  pull_then_close (f, t);
}

/* A frame over --max-body gets an error without a request id, which
 * answers the oldest request still waiting. */
static void
test_ws_too_large (Fixture *f)
{
  const char *extra[] = { "--max-body", "2000", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(TetherTransport) t = ws_new (s->base, f->alice);
  g_autofree char *big = big_push ("c1", 3000);
  g_autofree char *small = big_push ("c2", 100);
  g_autofree char *huge = big_push ("c3", 10000);

  json_object_unref (call_ok (f, t, "pull", PULL_NOTES));
  call_fails (f, t, "push", big, TETHER_SYNC_ERROR_TOO_LARGE, s->base);
  g_assert_true (tether_transport_is_connected (t));
  json_object_unref (call_ok (f, t, "push", small));
  /* past twice the limit libsoup would reset the connection: the client
   * knows the limit from the upgrade and refuses the frame itself */
  call_fails (f, t, "push", huge, TETHER_SYNC_ERROR_TOO_LARGE, "2000 at most");
  g_assert_true (tether_transport_is_connected (t));
  json_object_unref (call_ok (f, t, "push", small));
  ws_close (f, t);
}

static void
test_ws_rate_limited (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "2", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(TetherTransport) t = ws_new (s->base, f->alice);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 10 && error == NULL; i++)
    {
      g_autoptr(JsonObject) answer = call (f, t, "pull", PULL_NOTES, &error);
    }
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_RATE_LIMITED);
  g_assert_cmpint (tether_transport_get_retry_after_ms (t), >=, 1000);
  ws_close (f, t);
}

typedef struct {
  gboolean   got;
  JsonArray *changes;
} Pushed;

static void
on_server_push (TetherTransport *t,
                JsonArray       *changes,
                Pushed          *pushed)
{
  g_clear_pointer (&pushed->changes, json_array_unref);
  pushed->changes = json_array_ref (changes);
  pushed->got = TRUE;
}

/* The reader listens through a faulty transport, which passes the signal on. */
static void
test_ws_server_push (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherTransport) writer = ws_new (s->base, f->alice);
  g_autoptr(TetherTransport) inner = ws_new (s->base, f->alice);
  g_autoptr(TetherFaultyTransport) reader = tether_faulty_transport_new (inner, 1);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) pushed = NULL;
  Pushed got = { 0 };
  JsonObject *change;

  g_signal_connect (reader, "server-push", G_CALLBACK (on_server_push), &got);
  link_up (f, TETHER_TRANSPORT (reader));
  pushed = call_ok (f, writer, "push", body);
  if (!wait_until (f, flag_ready, &got.got, PUSH_TIMEOUT_MS))
    g_error ("no server_push within %d ms", PUSH_TIMEOUT_MS);
  change = find_change (got.changes, "notes", "\"n1\"");
  g_assert_nonnull (change);
  g_assert_cmpint (json_object_get_int_member (change, "rev"), ==, accepted_rev (pushed, "c1"));
  g_signal_handlers_disconnect_by_data (reader, &got);
  g_clear_pointer (&got.changes, json_array_unref);
  ws_close (f, writer);
  ws_close (f, TETHER_TRANSPORT (reader));
}

static void
test_ws_reconnect (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *base = g_strdup (s->base);
  g_autoptr(GUri) uri = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);
  g_autofree char *listen = g_strdup_printf ("127.0.0.1:%d", g_uri_get_port (uri));
  const char *extra[] = { "--listen", listen, NULL };
  g_autoptr(TetherTransport) t = ws_new (base, f->alice);
  g_autofree char *body = note_push ("c1", "n1", "Hello");

  link_up (f, t);
  server_kill (s);
  wait_connected (f, t, FALSE, REQUEST_TIMEOUT_MS);
  call_fails (f, t, "push", body, TETHER_SYNC_ERROR_NETWORK, base);

  /* The same address again: the transport finds it on its own. */
  g_strfreev (s->extra);
  s->extra = g_strdupv ((char **) extra);
  server_spawn (f, s);
  g_assert_cmpstr (s->base, ==, base);
  wait_connected (f, t, TRUE, RECONNECT_TIMEOUT_MS);
  json_object_unref (call_ok (f, t, "push", body));
  ws_close (f, t);
}

static guint
refused_upgrades (Server *s)
{
  g_autofree char *log = read_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "/ws ") != NULL && strstr (lines[i], "status=401") != NULL)
      n++;
  return n;
}

static void
test_ws_unauthorized (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (s->base, "not-a-token");
  TetherTransport *t = TETHER_TRANSPORT (ws);

  tether_transport_connect (t);
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);
  /* Past the first backoff: a refused token is not tried again. */
  run_for (f, 2500);
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);
  g_assert_cmpuint (refused_upgrades (s), ==, 1);
  g_assert_false (tether_transport_is_connected (t));

  tether_ws_transport_set_token (ws, f->alice);
  wait_connected (f, t, TRUE, REQUEST_TIMEOUT_MS);
  pull_then_close (f, t);
}

/* The server closes with 1008 when the token is rotated. */
static void
test_ws_token_rotated (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (s->base, f->bob);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  g_autofree char *token = NULL;

  link_up (f, t);
  token = user_token (f, "rotate", "bob");
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);
  wait_connected (f, t, FALSE, REQUEST_TIMEOUT_MS);
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_UNAUTHORIZED, s->base);

  tether_ws_transport_set_token (ws, token);
  wait_connected (f, t, TRUE, REQUEST_TIMEOUT_MS);
  pull_then_close (f, t);
}

static void
test_ws_unreachable (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *closed = closed_base ();
  g_autofree char *html = fake_base (fake, "html");
  g_autoptr(TetherTransport) nobody = ws_new (closed, f->alice);
  g_autoptr(TetherTransport) router = ws_new (html, f->alice);

  call_fails (f, nobody, "pull", PULL_NOTES, TETHER_SYNC_ERROR_NETWORK, closed);
  call_fails (f, router, "pull", PULL_NOTES, TETHER_SYNC_ERROR_PROTOCOL, html);
}

static gboolean
has_two_sockets (gpointer data)
{
  return ((Fake *) data)->sockets->len >= 2;
}

static void
test_ws_timeout (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "silent");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);

  tether_ws_transport_set_timeout (ws, 1);
  tether_transport_connect (TETHER_TRANSPORT (ws));
  call_fails (f, TETHER_TRANSPORT (ws), "pull", PULL_NOTES, TETHER_SYNC_ERROR_NETWORK, "within 1 s");
  /* A socket that leaves a request unanswered may be half open, which TCP
   * can take many minutes to notice: it is let go and another opened. */
  g_assert_true (wait_until (f, has_two_sockets, fake, RECONNECT_TIMEOUT_MS));
  wait_connected (f, TETHER_TRANSPORT (ws), TRUE, REQUEST_TIMEOUT_MS);
  assert_cancels (f, TETHER_TRANSPORT (ws));
  ws_close (f, TETHER_TRANSPORT (ws));
}

static gboolean
has_socket (gpointer data)
{
  return ((Fake *) data)->sockets->len > 0;
}

/* The timeout counts silence, not the time an answer takes: a server
 * that sends other frames meanwhile (3 s for an answer, a frame every
 * 300 ms), or whose link shows it is there (its pings, every second, for
 * 4.5 s), is waited for past a timeout of 1 or 2 s. */
static void
test_ws_timeout_inactivity (Fixture *f)
{
  const struct {
    const char *mode;
    guint       timeout_s;
  } cases[] = {
    { "chatty", 1 },
    { "pinging", 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(Fake) fake = fake_start ();
      g_autofree char *base = fake_base (fake, cases[i].mode);
      g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
      g_autoptr(JsonObject) answer = NULL;

      g_test_message ("%s", cases[i].mode);
      tether_ws_transport_set_timeout (ws, cases[i].timeout_s);
      answer = call_ok (f, TETHER_TRANSPORT (ws), "pull", PULL_NOTES);
      g_assert_true (json_object_has_member (answer, "changes"));
      ws_close (f, TETHER_TRANSPORT (ws));
    }
}

/* A server that closes with 1009 names no frame: only the largest request
 * sent fails as too large (its batch is halved, or a single change fails
 * for good); a small one in flight beside it gets a network error and is
 * sent again, like after any lost connection. (tether-server's libsoup
 * resets the connection over a frame past twice --max-body, so this one
 * closes by hand.) */
static void
test_ws_closed_too_big (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "silent");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  g_autofree char *big = big_push ("c1", 10000);
  g_autofree char *small = big_push ("c2", 100);
  Result big_r = { 0 }, small_r = { 0 };
  g_autoptr(GError) big_error = NULL;
  g_autoptr(GError) small_error = NULL;

  tether_ws_transport_set_timeout (ws, 5);
  call_async (t, "push", small, NULL, &small_r);
  call_async (t, "push", big, NULL, &big_r);
  g_assert_true (wait_until (f, has_socket, fake, REQUEST_TIMEOUT_MS));
  run_for (f, 200);   /* both frames go out */
  soup_websocket_connection_close (g_ptr_array_index (fake->sockets, 0), SOUP_WEBSOCKET_CLOSE_TOO_BIG,
                                   "message too big");
  g_assert_null (result_wait (f, &big_r, &big_error));
  g_assert_error (big_error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE);
  g_assert_null (result_wait (f, &small_r, &small_error));
  g_assert_error (small_error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
  ws_close (f, t);
}

/* A frame over the size the server announced fails at once as too large
 * (the engine halves its batch), without costing the connection. */
static void
test_ws_announced_max (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "limited");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  g_autofree char *big = big_push ("c1", 10000);
  g_autofree char *small = big_push ("c2", 100);
  Result small_r = { 0 };

  tether_ws_transport_set_timeout (ws, 5);
  call_async (t, "push", small, NULL, &small_r);   /* opens the connection */
  g_assert_true (wait_until (f, has_socket, fake, REQUEST_TIMEOUT_MS));
  call_fails (f, t, "push", big, TETHER_SYNC_ERROR_TOO_LARGE, "5000 at most");
  g_assert_true (tether_transport_is_connected (t));
  g_assert_false (small_r.done);
  ws_close (f, t);
  g_assert_true (small_r.done);
  g_clear_error (&small_r.error);
}

/* Requests waiting for the socket, which fails as the first of them is
 * written: the rest wait for the next socket instead of spinning on the
 * main loop, and all of them end with a network error. */
static void
test_ws_reset_on_open (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "reset");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  Result r[3] = { { 0 } };

  tether_ws_transport_set_timeout (ws, 2);
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    call_async (t, "pull", PULL_NOTES, NULL, &r[i]);
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (result_wait (f, &r[i], &error));
      g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
    }
  g_assert_cmpuint (fake->resets, >=, 1);
  ws_close (f, t);
}

/* A server that accepts the upgrade and closes at once: each such socket
 * counts as a failed connection, so the waits grow (1 s, 2 s, 4 s …)
 * instead of starting over at 1 s after every upgrade. */
static void
test_ws_accept_then_close (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "closing");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);

  tether_transport_connect (t);
  run_for (f, 4500);
  g_test_message ("%u upgrades in 4.5 s", fake->sockets->len);
  g_assert_cmpuint (fake->sockets->len, >=, 2);
  g_assert_cmpuint (fake->sockets->len, <=, 3);
  ws_close (f, t);
}

/* An upgrade refused with a Retry-After longer than the backoff's cap
 * (60 s) is not tried again before it has passed. */
static void
test_ws_retry_after_long (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "429-date");   /* 120 s */
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  gint64 delay_ms;

  tether_transport_connect (t);
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_RATE_LIMITED, base);
  delay_ms = _tether_ws_reconnect_delay_ms (ws);
  g_test_message ("reconnecting in %" G_GINT64_FORMAT " ms", delay_ms);
  g_assert_cmpint (delay_ms, >, 100 * 1000);
  g_assert_cmpint (delay_ms, <=, 121 * 1000);
  ws_close (f, t);
}

static gboolean
reconnect_planned (gpointer data)
{
  return _tether_ws_reconnect_delay_ms (data) >= 0;
}

/* A Retry-After is over once an upgrade is accepted: when that socket,
 * which worked, is lost, the next one is tried after the backoff, not
 * after the old Retry-After again. */
static void
test_ws_retry_after_reset (Fixture *f)
{
  g_autoptr(Fake) fake = fake_start ();
  g_autofree char *base = fake_base (fake, "busy-once");
  g_autoptr(TetherWsTransport) ws = tether_ws_transport_new (base, f->alice);
  TetherTransport *t = TETHER_TRANSPORT (ws);
  SoupWebsocketConnection *conn;
  gint64 delay_ms;

  tether_transport_connect (t);
  call_fails (f, t, "pull", PULL_NOTES, TETHER_SYNC_ERROR_RATE_LIMITED, base);
  g_assert_cmpint (_tether_ws_reconnect_delay_ms (ws), >, 5000);
  tether_transport_connect (t);   /* the user asks again: at once */
  wait_connected (f, t, TRUE, REQUEST_TIMEOUT_MS);
  g_assert_true (wait_until (f, has_socket, fake, REQUEST_TIMEOUT_MS));
  conn = g_ptr_array_index (fake->sockets, 0);
  soup_websocket_connection_send_text (conn, "{\"type\":\"hello\"}");   /* the socket works */
  run_for (f, 200);
  soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  g_assert_true (wait_until (f, reconnect_planned, ws, REQUEST_TIMEOUT_MS));
  delay_ms = _tether_ws_reconnect_delay_ms (ws);
  g_test_message ("reconnecting in %" G_GINT64_FORMAT " ms", delay_ms);
  g_assert_cmpint (delay_ms, <=, 1000);
  ws_close (f, t);
}

/* ------------------------------------------------------------------ faulty */

static TetherFaultyTransport *
faulty_new (Server              *s,
            const char          *token,
            TetherHttpTransport **inner)
{
  *inner = tether_http_transport_new (s->base, token);
  return tether_faulty_transport_new (TETHER_TRANSPORT (*inner), 7);
}

/* The POST /push lines in the server's log. */
static guint
logged_pushes (Server *s)
{
  g_autofree char *log = read_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "POST ") && strstr (lines[i], "/push user=") != NULL)
      n++;
  return n;
}

/* Asserts that the server logged @expected pushes: it writes a request's
 * line once the answer is sent, which may be after the client read it. */
static void
assert_logged_pushes (Server *s,
                      guint   expected)
{
  for (guint waited = 0; waited < 5000 && logged_pushes (s) < expected; waited += 10)
    g_usleep (10 * 1000);
  g_assert_cmpuint (logged_pushes (s), ==, expected);
}

static void
test_faulty_drop (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = NULL;
  g_autoptr(TetherFaultyTransport) faulty = faulty_new (s, f->alice, &http);
  TetherTransport *t = TETHER_TRANSPORT (faulty);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) before = NULL;
  g_autoptr(JsonObject) after = NULL;

  tether_faulty_transport_set_drop_every (faulty, 2);
  before = call_ok (f, t, "pull", PULL_NOTES);
  call_fails (f, t, "push", body, TETHER_SYNC_ERROR_NETWORK, "dropped");
  after = call_ok (f, t, "pull", PULL_NOTES);
  /* Dropped before sending: the server never saw it. */
  g_assert_cmpuint (json_array_get_length (pulled_changes (after)), ==, 0);
  g_assert_cmpuint (tether_faulty_transport_get_dropped (faulty), ==, 1);
}

static void
test_faulty_lose (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = NULL;
  g_autoptr(TetherFaultyTransport) faulty = faulty_new (s, f->alice, &http);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) pulled = NULL;
  g_autoptr(JsonObject) retried = NULL;
  JsonObject *change;

  tether_faulty_transport_set_lose_every (faulty, 1);
  call_fails (f, TETHER_TRANSPORT (faulty), "push", body, TETHER_SYNC_ERROR_NETWORK, "lost");
  g_assert_cmpuint (tether_faulty_transport_get_lost (faulty), ==, 1);

  /* The server applied it; the retry is answered as the first time. */
  pulled = call_ok (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES);
  change = find_change (pulled_changes (pulled), "notes", "\"n1\"");
  g_assert_nonnull (change);
  retried = call_ok (f, TETHER_TRANSPORT (http), "push", body);
  g_assert_cmpint (accepted_rev (retried, "c1"), ==, json_object_get_int_member (change, "rev"));
}

static void
test_faulty_duplicate (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = NULL;
  g_autoptr(TetherFaultyTransport) faulty = faulty_new (s, f->alice, &http);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(JsonObject) retried = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  g_autofree char *answer_text = NULL;
  g_autofree char *retried_text = NULL;

  tether_faulty_transport_set_duplicate_every (faulty, 1);
  tether_faulty_transport_set_max_delay (faulty, 20);
  answer = call_ok (f, TETHER_TRANSPORT (faulty), "push", body);
  g_assert_cmpuint (tether_faulty_transport_get_duplicated (faulty), ==, 1);
  assert_logged_pushes (s, 2);   /* the server really met it twice */
  retried = call_ok (f, TETHER_TRANSPORT (http), "push", body);
  answer_text = node_text (json_object_get_member (answer, "accepted"));
  retried_text = node_text (json_object_get_member (retried, "accepted"));
  g_assert_cmpstr (answer_text, ==, retried_text);
  pulled = call_ok (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES);
  g_assert_cmpuint (json_array_get_length (pulled_changes (pulled)), ==, 1);
}

static void
test_faulty_offline (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(TetherHttpTransport) http = NULL;
  g_autoptr(TetherFaultyTransport) faulty = faulty_new (s, f->alice, &http);
  TetherTransport *t = TETHER_TRANSPORT (faulty);
  g_autofree char *body = note_push ("c1", "n1", "Hello");
  g_autoptr(JsonObject) pulled = NULL;

  json_object_unref (call_ok (f, t, "info", NULL));
  g_assert_true (tether_transport_is_connected (t));
  tether_faulty_transport_set_offline (faulty, TRUE);
  g_assert_false (tether_transport_is_connected (t));
  call_fails (f, t, "push", body, TETHER_SYNC_ERROR_NETWORK, "offline");
  pulled = call_ok (f, TETHER_TRANSPORT (http), "pull", PULL_NOTES);
  g_assert_cmpuint (json_array_get_length (pulled_changes (pulled)), ==, 0);
  tether_faulty_transport_set_offline (faulty, FALSE);
  json_object_unref (call_ok (f, t, "push", body));
}

/* -------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest tests[] = {
    { "http/round-trip", test_http_round_trip },
    { "http/unauthorized", test_http_unauthorized },
    { "http/unreachable", test_http_unreachable },
    { "http/not-tether", test_http_not_tether },
    { "http/not-json", test_http_not_json },
    { "http/cut-off", test_http_cut_off },
    { "http/statuses", test_http_statuses },
    { "http/bad-cursor", test_http_bad_cursor },
    { "http/rate-limited", test_http_rate_limited },
    { "http/rate-limited-in-flight", test_http_rate_limited_in_flight },
    { "http/timeout", test_http_timeout },
    { "http/too-large", test_http_too_large },
    { "ws/round-trip", test_ws_round_trip },
    { "ws/idle", test_ws_idle },
    { "ws/error-message", test_ws_error_message },
    { "ws/too-large", test_ws_too_large },
    { "ws/closed-too-big", test_ws_closed_too_big },
    { "ws/announced-max", test_ws_announced_max },
    { "ws/rate-limited", test_ws_rate_limited },
    { "ws/server-push", test_ws_server_push },
    { "ws/reconnect", test_ws_reconnect },
    { "ws/unauthorized", test_ws_unauthorized },
    { "ws/token-rotated", test_ws_token_rotated },
    { "ws/unreachable", test_ws_unreachable },
    { "ws/timeout", test_ws_timeout },
    { "ws/timeout-inactivity", test_ws_timeout_inactivity },
    { "ws/reset-on-open", test_ws_reset_on_open },
    { "ws/accept-then-close", test_ws_accept_then_close },
    { "ws/retry-after-long", test_ws_retry_after_long },
    { "ws/retry-after-reset", test_ws_retry_after_reset },
    { "faulty/drop", test_faulty_drop },
    { "faulty/lose", test_faulty_lose },
    { "faulty/duplicate", test_faulty_duplicate },
    { "faulty/offline", test_faulty_offline },
  };

  tether_test_server_init (&argc, &argv);
  tether_test_server_set_prefix ("/tether/sync/transport");
  g_test_add_func ("/tether/sync/transport/retry-after", test_retry_after);
  g_test_add_func ("/tether/sync/transport/gzip-listed", test_gzip_listed);
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    tether_test_server_add (tests[i].name, tests[i].func, FALSE);
  return tether_test_server_run ();
}
