/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-ws-transport"
#include "config.h"

#include "tether-ws-transport-private.h"

#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

static void transport_iface_init (TetherTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherWsTransport, tether_ws_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_TRANSPORT, transport_iface_init))

enum {
  PROP_0,
  PROP_CONNECTED,
};

static void
notify_connected (TetherWsTransport *self)
{
  g_object_notify (G_OBJECT (self), "connected");
}

/* ---------------------------------------------------------------- connection */

static gboolean
on_reconnect_due (gpointer data)
{
  TetherWsTransport *self = data;

  g_clear_pointer (&self->reconnect, g_source_unref);
  _tether_ws_open_now (self);
  return G_SOURCE_REMOVE;
}

/* 1 s doubling up to 60 s, each wait drawn in [¾ d, d] so that clients
 * dropped together by a restart do not come back together; never shorter
 * than the server's Retry-After, which may be longer than that cap (it is
 * bounded as the HTTP side bounds it). */
static void
schedule_reconnect (TetherWsTransport *self)
{
  guint delay_ms = BACKOFF_MAX_MS;

  if ((!self->wanted && self->waiting.length == 0) || self->refusal != NULL || self->conn != NULL ||
      self->connecting != NULL || self->reconnect != NULL)
    return;
  if (self->attempts < 6)
    delay_ms = MIN (BACKOFF_MAX_MS, BACKOFF_FIRST_MS << self->attempts);
  delay_ms -= g_rand_int_range (self->rand, 0, delay_ms / 4 + 1);
  delay_ms = MAX (delay_ms, (guint) CLAMP (self->retry_after_ms, 0, TETHER_RETRY_AFTER_MAX_MS));
  self->attempts++;
  g_debug ("reconnecting in %u ms", delay_ms);
  self->reconnect = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->reconnect, on_reconnect_due, self, NULL);
  g_source_attach (self->reconnect, self->context);
}

static void lost (TetherWsTransport *self,
                  const GError      *error);

static void
on_closed (SoupWebsocketConnection *conn,
           TetherWsTransport       *self)
{
  const char *base = tether_http_transport_get_base_url (self->http);
  g_autoptr(GError) error = NULL;

  /* tether-server closes with 1008 when the token was rotated or removed. */
  if (soup_websocket_connection_get_close_code (conn) == SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION)
    {
      error = _tether_transport_refusal_new (TETHER_SYNC_ERROR_UNAUTHORIZED, base, "closed with 1008",
                                             soup_websocket_connection_get_close_data (conn));
      _tether_ws_refuse (self, error);
    }
  else if (soup_websocket_connection_get_close_code (conn) == SOUP_WEBSOCKET_CLOSE_TOO_BIG)
    error = _tether_transport_refusal_new (TETHER_SYNC_ERROR_TOO_LARGE, base, "closed with 1009",
                                           soup_websocket_connection_get_close_data (conn));
  else if (soup_websocket_connection_get_close_code (conn) == 0)
    error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                         "the connection to %s was lost: sync retries when it is back", base);
  else
    error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                         "the server at %s closed the connection (%u: %s): sync retries when it is back",
                         base, soup_websocket_connection_get_close_code (conn),
                         soup_websocket_connection_get_close_data (conn));
  g_debug ("closed: %s", error->message);
  g_signal_handlers_disconnect_by_data (conn, self);
  g_clear_object (&self->conn);
  notify_connected (self);
  lost (self, error);
}

/* The socket is gone with @error: the requests sent on it fail, and
 * another is opened, at once for requests waiting if it had worked. */
static void
lost (TetherWsTransport *self,
      const GError      *error)
{
  gboolean worked = self->healthy || g_get_monotonic_time () - self->opened_us >= HEALTHY_S * G_USEC_PER_SEC;

  if (worked)
    self->attempts = 0;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE))
    _tether_ws_fail_too_big (self, error);
  else
    _tether_ws_fail_requests (self, TRUE, error);
  if (self->refusal != NULL)
    _tether_ws_fail_requests (self, FALSE, self->refusal);
  else if (self->waiting.length > 0 && worked)
    _tether_ws_open_now (self);   /* a working socket dropped: requests wait for the next */
  else
    schedule_reconnect (self);
}

static void
on_pong (SoupWebsocketConnection *conn,
         GBytes                  *message,
         TetherWsTransport       *self)
{
  _tether_ws_heard (self);
}

static void
attach (TetherWsTransport       *self,
        SoupWebsocketConnection *conn)
{
  Pending *p;

  /* The backoff starts over once the socket has proved it works (on_closed). */
  self->conn = conn;
  self->opened_us = g_get_monotonic_time ();
  self->healthy = FALSE;
  soup_websocket_connection_set_keepalive_interval (conn, KEEPALIVE_S);
  /* Pull pages are far larger than libsoup's 128 KiB default. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, 0);
  g_signal_connect_object (conn, "message", G_CALLBACK (_tether_ws_on_message), self, 0);
  g_signal_connect_object (conn, "pong", G_CALLBACK (on_pong), self, 0);
  g_signal_connect_object (conn, "closing", G_CALLBACK (notify_connected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (conn, "closed", G_CALLBACK (on_closed), self, 0);
  notify_connected (self);
  /* A frame that fails as it is written leaves the socket closing: the
   * rest wait for the next one (popped here, they would go back to the
   * queue's tail and round again for ever). */
  while (_tether_ws_is_open (self) && (p = g_queue_pop_head (&self->waiting)) != NULL)
    _tether_ws_send_or_wait (self, p);
}

static GError *
upgrade_error (TetherWsTransport *self,
               SoupMessage       *msg,
               const GError      *cause)
{
  const char *base = tether_http_transport_get_base_url (self->http);
  guint status = soup_message_get_status (msg);
  TetherSyncError code = _tether_transport_code_for_status (status);
  g_autofree char *status_text = _tether_transport_describe_status (msg);
  g_autofree char *what = NULL;

  if (status == 0)
    return _tether_transport_network_error_new (base, self->timeout_s, cause);
  if (code == TETHER_SYNC_ERROR_RATE_LIMITED)
    self->retry_after_ms = MAX (0, tether_transport_parse_retry_after (
      soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After")));
  /* A refusal of the upgrade itself means there is no Tether WebSocket here. */
  if (code == TETHER_SYNC_ERROR_REJECTED || code == TETHER_SYNC_ERROR_PROTOCOL ||
      code == TETHER_SYNC_ERROR_TOO_LARGE)
    {
      what = g_strdup_printf ("GET /ws answered %s instead of a WebSocket (%s)", status_text, cause->message);
      return _tether_transport_refusal_new (TETHER_SYNC_ERROR_PROTOCOL, base, what, NULL);
    }
  return _tether_transport_refusal_new (code, base, status_text, NULL);
}

typedef struct {
  TetherWsTransport *self;
  SoupMessage       *msg;
  GCancellable      *cancellable;
} Upgrade;

static void
upgrade_free (Upgrade *upgrade)
{
  g_object_unref (upgrade->self);
  g_object_unref (upgrade->msg);
  g_object_unref (upgrade->cancellable);
  g_free (upgrade);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Upgrade, upgrade_free)

static gsize
announced_max (SoupMessage *msg)
{
  const char *text = soup_message_headers_get_one (soup_message_get_response_headers (msg),
                                                   TETHER_WS_MAX_BODY_HEADER);
  guint64 value = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, G_MAXSIZE, &value, NULL))
    return 0;
  return (gsize) value;
}

static void
on_upgraded (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(Upgrade) upgrade = user_data;
  TetherWsTransport *self = upgrade->self;
  g_autoptr(GError) cause = NULL;
  g_autoptr(GError) error = NULL;
  SoupWebsocketConnection *conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &cause);

  /* Dropped meanwhile: drop() answered the requests and forgot this attempt. */
  if (g_cancellable_is_cancelled (upgrade->cancellable))
    {
      g_clear_object (&conn);
      return;
    }
  g_clear_object (&self->connecting);
  if (conn != NULL)
    {
      /* The server takes us again: an older Retry-After must not stretch
       * the wait after this socket's loss. */
      self->retry_after_ms = 0;
      self->max_frame = announced_max (upgrade->msg);
      attach (self, conn);
      return;
    }
  self->retry_after_ms = 0;
  error = upgrade_error (self, upgrade->msg, cause);
  _tether_ws_refuse (self, error);
  g_debug ("no WebSocket: %s", error->message);
  _tether_ws_fail_requests (self, FALSE, error);
  schedule_reconnect (self);
}

/* Starts an upgrade unless one is open or under way. */
void
_tether_ws_open_now (TetherWsTransport *self)
{
  g_autoptr(GError) error = NULL;
  Upgrade *upgrade;
  SoupMessage *msg;

  if (self->conn != NULL || self->connecting != NULL)
    return;
  _tether_ws_source_clear (&self->reconnect);
  msg = _tether_http_transport_new_message (self->http, "GET", "/ws", TRUE, &error);
  if (msg == NULL)
    {
      _tether_ws_fail_requests (self, FALSE, error);
      return;
    }
  self->connecting = g_cancellable_new ();
  upgrade = g_new0 (Upgrade, 1);
  upgrade->self = g_object_ref (self);
  upgrade->msg = msg;
  upgrade->cancellable = g_object_ref (self->connecting);
  soup_session_websocket_connect_async (_tether_http_transport_get_session (self->http), msg,
                                        NULL, NULL, G_PRIORITY_DEFAULT, self->connecting,
                                        on_upgraded, upgrade);
}

static void
on_closed_after_drop (SoupWebsocketConnection *conn,
                      gpointer                 data)
{
  g_object_unref (conn);
}

/* A request sent on the socket went unanswered past its timeout: the
 * socket is as good as half open (a peer gone without a FIN or RST, which
 * TCP may not notice for many minutes). It is let go, the other requests
 * sent on it fail, and another is opened. */
void
_tether_ws_abandon (TetherWsTransport *self)
{
  SoupWebsocketConnection *conn = g_steal_pointer (&self->conn);
  g_autoptr(GError) error = NULL;

  if (conn == NULL)
    return;
  g_debug ("a request timed out: opening another socket");
  g_signal_handlers_disconnect_by_data (conn, self);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed_after_drop), NULL);
  if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
  notify_connected (self);
  error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                       "the connection to %s stopped answering: sync retries when it is back",
                       tether_http_transport_get_base_url (self->http));
  lost (self, error);
}

/* Closes the socket and stops trying; requests under way fail with @error. */
static void
drop (TetherWsTransport *self,
      const GError      *error)
{
  _tether_ws_source_clear (&self->reconnect);
  if (self->connecting != NULL)
    g_cancellable_cancel (self->connecting);
  g_clear_object (&self->connecting);
  if (self->conn != NULL)
    {
      SoupWebsocketConnection *conn = g_steal_pointer (&self->conn);

      g_signal_handlers_disconnect_by_data (conn, self);
      /* The socket lives on until the server has acknowledged the close. */
      g_signal_connect (conn, "closed", G_CALLBACK (on_closed_after_drop), NULL);
      if (soup_websocket_connection_get_state (conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      notify_connected (self);
    }
  _tether_ws_fail_requests (self, TRUE, error);
  _tether_ws_fail_requests (self, FALSE, error);
}

/* ----------------------------------------------------------------- interface */

static void
tether_ws_transport_push_async (TetherTransport     *transport,
                                JsonObject          *request,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  _tether_ws_request_async (TETHER_WS_TRANSPORT (transport), "push", request, cancellable,
                            tether_ws_transport_push_async, callback, user_data);
}

static JsonObject *
tether_ws_transport_push_finish (TetherTransport  *transport,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_ws_transport_push_async, error);
}

static void
tether_ws_transport_pull_async (TetherTransport     *transport,
                                JsonObject          *request,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  _tether_ws_request_async (TETHER_WS_TRANSPORT (transport), "pull", request, cancellable,
                            tether_ws_transport_pull_async, callback, user_data);
}

static JsonObject *
tether_ws_transport_pull_finish (TetherTransport  *transport,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_ws_transport_pull_async, error);
}

static void
on_info (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  JsonObject *info = tether_transport_info_finish (TETHER_TRANSPORT (source), result, &error);

  if (info == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, info, (GDestroyNotify) json_object_unref);
}

/* Plain HTTP, so that "test connection" tells a wrong address from a
 * server without WebSockets. */
static void
tether_ws_transport_info_async (TetherTransport     *transport,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  TetherWsTransport *self = TETHER_WS_TRANSPORT (transport);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_ws_transport_info_async);
  tether_transport_info_async (TETHER_TRANSPORT (self->http), cancellable, on_info, g_steal_pointer (&task));
}

static JsonObject *
tether_ws_transport_info_finish (TetherTransport  *transport,
                                 GAsyncResult     *result,
                                 GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_ws_transport_info_async, error);
}

static void
tether_ws_transport_connect (TetherTransport *transport)
{
  TetherWsTransport *self = TETHER_WS_TRANSPORT (transport);

  self->wanted = TRUE;
  if (self->refusal == NULL)
    _tether_ws_open_now (self);
}

static void
tether_ws_transport_disconnect (TetherTransport *transport)
{
  TetherWsTransport *self = TETHER_WS_TRANSPORT (transport);
  g_autoptr(GError) error = NULL;

  self->wanted = FALSE;
  error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                       "the connection to %s was closed before the server answered",
                       tether_http_transport_get_base_url (self->http));
  drop (self, error);
}

static gboolean
tether_ws_transport_is_connected (TetherTransport *transport)
{
  return _tether_ws_is_open (TETHER_WS_TRANSPORT (transport));
}

static gint64
tether_ws_transport_get_retry_after_ms (TetherTransport *transport)
{
  return TETHER_WS_TRANSPORT (transport)->retry_after_ms;
}

static void
transport_iface_init (TetherTransportInterface *iface)
{
  iface->push_async = tether_ws_transport_push_async;
  iface->push_finish = tether_ws_transport_push_finish;
  iface->pull_async = tether_ws_transport_pull_async;
  iface->pull_finish = tether_ws_transport_pull_finish;
  iface->info_async = tether_ws_transport_info_async;
  iface->info_finish = tether_ws_transport_info_finish;
  iface->connect = tether_ws_transport_connect;
  iface->disconnect = tether_ws_transport_disconnect;
  iface->is_connected = tether_ws_transport_is_connected;
  iface->get_retry_after_ms = tether_ws_transport_get_retry_after_ms;
}

/* -------------------------------------------------------------------- object */

static void
tether_ws_transport_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, _tether_ws_is_open (TETHER_WS_TRANSPORT (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Requests hold a reference, so none is pending here. */
static void
tether_ws_transport_dispose (GObject *object)
{
  TetherWsTransport *self = TETHER_WS_TRANSPORT (object);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "disposed");

  self->wanted = FALSE;
  drop (self, error);
  G_OBJECT_CLASS (tether_ws_transport_parent_class)->dispose (object);
}

static void
tether_ws_transport_finalize (GObject *object)
{
  TetherWsTransport *self = TETHER_WS_TRANSPORT (object);

  g_clear_object (&self->http);
  g_hash_table_unref (self->pending);
  g_main_context_unref (self->context);
  g_rand_free (self->rand);
  g_clear_error (&self->refusal);
  G_OBJECT_CLASS (tether_ws_transport_parent_class)->finalize (object);
}

static void
tether_ws_transport_class_init (TetherWsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = tether_ws_transport_get_property;
  object_class->dispose = tether_ws_transport_dispose;
  object_class->finalize = tether_ws_transport_finalize;
  g_object_class_override_property (object_class, PROP_CONNECTED, "connected");
}

static void
tether_ws_transport_init (TetherWsTransport *self)
{
  self->pending = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, _tether_ws_pending_free);
  g_queue_init (&self->waiting);
  self->context = g_main_context_ref_thread_default ();
  self->rand = g_rand_new ();
  self->timeout_s = DEFAULT_TIMEOUT_S;
}

/* ---------------------------------------------------------------- public API */

TetherWsTransport *
tether_ws_transport_new (const char *base_url,
                         const char *token)
{
  TetherWsTransport *self;

  g_return_val_if_fail (base_url != NULL, NULL);

  self = g_object_new (TETHER_TYPE_WS_TRANSPORT, NULL);
  self->http = tether_http_transport_new (base_url, token);
  return self;
}

/* A new token is a new identity: the socket opened with the old one is
 * replaced, and a refused token no longer stops reconnecting. */
void
tether_ws_transport_set_token (TetherWsTransport *self,
                               const char        *token)
{
  g_autoptr(GError) error = NULL;
  gboolean was_open;

  g_return_if_fail (TETHER_IS_WS_TRANSPORT (self));

  if (g_strcmp0 (_tether_http_transport_get_token (self->http), token) == 0 && self->refusal == NULL)
    return;
  g_clear_error (&self->refusal);
  was_open = self->conn != NULL || self->connecting != NULL;
  tether_http_transport_set_token (self->http, token);
  error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                       "the connection to %s was reopened with a new token before the server answered",
                       tether_http_transport_get_base_url (self->http));
  drop (self, error);
  self->attempts = 0;
  if (self->wanted || was_open)
    _tether_ws_open_now (self);
}

/* libsoup 3 keeps the socket of a connection it hands to a WebSocket as
 * the stream's "GSocket" data; without it, or off Linux, only messages
 * and pongs count as signs of life. */
static GSocket *
conn_socket (SoupWebsocketConnection *conn)
{
  return G_SOCKET (g_object_get_data (G_OBJECT (soup_websocket_connection_get_io_stream (conn)), "GSocket"));
}

gboolean
_tether_ws_link_active (TetherWsTransport *self,
                        guint              within_ms)
{
#if defined (__linux__) && defined (TCP_INFO)
  GSocket *socket = self->conn != NULL ? conn_socket (self->conn) : NULL;
  struct tcp_info info = { 0 };
  socklen_t size = sizeof info;

  if (socket == NULL || getsockopt (g_socket_get_fd (socket), IPPROTO_TCP, TCP_INFO, &info, &size) != 0)
    return FALSE;
  /* Data coming down, or what we send (a frame going up) being taken.
   * An ACK with nothing of ours in flight says only that the peer's
   * kernel is there, which it is for a server that hangs too. */
  return info.tcpi_last_data_recv < within_ms ||
         (info.tcpi_unacked > 0 && info.tcpi_last_ack_recv < within_ms);
#else
  return FALSE;
#endif
}

gint64
_tether_ws_reconnect_delay_ms (TetherWsTransport *self)
{
  if (self->reconnect == NULL)
    return -1;
  return MAX (0, (g_source_get_ready_time (self->reconnect) - g_get_monotonic_time () + 999) / 1000);
}

TetherHttpTransport *
_tether_ws_transport_get_http (TetherWsTransport *self)
{
  return self->http;
}

void
tether_ws_transport_set_timeout (TetherWsTransport *self,
                                 guint              seconds)
{
  g_return_if_fail (TETHER_IS_WS_TRANSPORT (self));

  self->timeout_s = seconds;
  tether_http_transport_set_timeout (self->http, seconds);
}
