/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-http-transport"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"
#include "tether-http-transport.h"
#include "tether-transport-private.h"

#define DEFAULT_TIMEOUT_S 30

struct _TetherHttpTransport
{
  GObject      parent_instance;
  SoupSession *session;          /* keeps the timeout and the user agent */
  char        *base_url;         /* without a trailing slash */
  char        *token;
  GHashTable  *headers;          /* name → value, sent with every request */
  gint64       retry_after_ms;
  guint64      bytes_sent;
  guint64      bytes_received;   /* as on the wire: gzip bodies count compressed */
  gboolean     connected;
  gboolean     gzip_bodies;      /* the server said it takes gzip request bodies */
};

static void transport_iface_init (TetherTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherHttpTransport, tether_http_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_TRANSPORT, transport_iface_init))

enum {
  PROP_0,
  PROP_BASE_URL,
  PROP_TOKEN,
  PROP_TIMEOUT,
  PROP_USER_AGENT,
  N_PROPS,
  PROP_CONNECTED = N_PROPS,
};

static GParamSpec *properties[N_PROPS];

typedef struct {
  SoupMessage *msg;
  gboolean     probe;      /* GET base: any refusal but 401, 429 and 5xx means "not Tether" */
  gboolean     threaded;   /* sent and parsed in a worker thread (pulls) */
  SoupSession *session;    /* threaded: the transport's, borrowed */
  GBytes      *response;   /* threaded: the body as read */
  JsonObject  *answer;     /* threaded: the body parsed, when it is a JSON object */
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_clear_object (&request->msg);
  g_clear_pointer (&request->response, g_bytes_unref);
  g_clear_pointer (&request->answer, json_object_unref);
  g_free (request);
}

static void
set_connected (TetherHttpTransport *self,
               gboolean             connected)
{
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_object_notify (G_OBJECT (self), "connected");
}

/* ------------------------------------------------------------------ messages */

static void
on_wrote_body_data (SoupMessage         *msg,
                    guint                chunk_size,
                    TetherHttpTransport *self)
{
  self->bytes_sent += chunk_size;
}

static GUri *
parse_url (TetherHttpTransport  *self,
           const char           *path,
           gboolean              websocket,
           GError              **error)
{
  g_autofree char *url = g_strconcat (self->base_url, path, NULL);
  g_autoptr(GUri) uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;

  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "“%s” is not an http:// or https:// address: check the server in the preferences",
                   self->base_url);
      return NULL;
    }
  if (!websocket)
    return g_steal_pointer (&uri);
  return g_uri_build (SOUP_HTTP_URI_FLAGS, g_str_equal (scheme, "https") ? "wss" : "ws",
                      g_uri_get_userinfo (uri), g_uri_get_host (uri), g_uri_get_port (uri),
                      g_uri_get_path (uri), g_uri_get_query (uri), NULL);
}

SoupMessage *
_tether_http_transport_new_message (TetherHttpTransport  *self,
                                    const char           *method,
                                    const char           *path,
                                    gboolean              websocket,
                                    GError              **error)
{
  g_autoptr(GUri) uri = parse_url (self, path, websocket, error);
  SoupMessageHeaders *headers;
  SoupMessage *msg;
  GHashTableIter iter;
  gpointer name, value;

  if (uri == NULL)
    return NULL;
  msg = soup_message_new_from_uri (method, uri);
  headers = soup_message_get_request_headers (msg);
  if (self->token != NULL && *self->token != '\0')
    {
      g_autofree char *authorization = g_strconcat ("Bearer ", self->token, NULL);

      soup_message_headers_replace (headers, "Authorization", authorization);
    }
  soup_message_headers_replace (headers, "Accept", "application/json");
  g_hash_table_iter_init (&iter, self->headers);
  while (g_hash_table_iter_next (&iter, &name, &value))
    soup_message_headers_replace (headers, name, value);
  g_signal_connect_object (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), self, 0);
  /* The metrics count the response body as it came, before decoding: the
   * wire figures, and how cut_short() tells an answer cut off midway. */
  soup_message_add_flags (msg, SOUP_MESSAGE_COLLECT_METRICS);
  return msg;
}

/* ------------------------------------------------------------------- answers */

/* tether-server closes its connection after every answer, and libsoup 3.2
 * then reads a body up to the end of the connection even when its
 * Content-Length promised more ("servers that send wrong lengths",
 * soup-client-message-io-http1.c). So a server killed between its headers
 * and the end of its body hands us a short or empty body and no error.
 * A success cut off like that is a network error, retried later (a push is
 * idempotent by change id), never "not a Tether server". Refusals keep
 * their status: a cut 401 still means the token. */
static GError *
cut_short (TetherHttpTransport *self,
           SoupMessage         *msg)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  SoupMessageMetrics *metrics = soup_message_get_metrics (msg);
  guint status = soup_message_get_status (msg);
  goffset promised;
  guint64 received;

  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || status == SOUP_STATUS_NO_CONTENT ||
      soup_message_get_method (msg) == SOUP_METHOD_HEAD || metrics == NULL ||
      soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    return NULL;
  promised = soup_message_headers_get_content_length (headers);
  received = soup_message_metrics_get_response_body_bytes_received (metrics);
  if (received >= (guint64) promised)
    return NULL;
  return g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                      "the server at %s closed the connection after %" G_GUINT64_FORMAT " of the %"
                      G_GOFFSET_FORMAT " bytes of its answer to %s %s: check the network or try again later",
                      self->base_url, received, promised,
                      soup_message_get_method (msg), g_uri_get_path (soup_message_get_uri (msg)));
}

static GError *
not_an_object (TetherHttpTransport *self,
               SoupMessage         *msg,
               GBytes              *body)
{
  const char *type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);
  g_autofree char *what = NULL;

  what = g_strdup_printf ("%s %s answered %s instead of a JSON object",
                          soup_message_get_method (msg), g_uri_get_path (soup_message_get_uri (msg)),
                          g_bytes_get_size (body) == 0 ? "nothing" : type != NULL ? type : "a body");
  return _tether_transport_refusal_new (TETHER_SYNC_ERROR_PROTOCOL, self->base_url, what, NULL);
}

/* The answer's JSON object, or the refusal it stands for. */
static JsonObject *
answer_object (TetherHttpTransport  *self,
               Request              *request,
               GBytes               *body,
               GError              **error)
{
  guint status = soup_message_get_status (request->msg);
  g_autoptr(JsonObject) object = _tether_transport_parse_object (body);
  g_autofree char *what = NULL;
  TetherSyncError code;

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      if (object == NULL)
        g_propagate_error (error, not_an_object (self, request->msg, body));
      return g_steal_pointer (&object);
    }
  code = _tether_transport_code_for_status (status);
  if (code == TETHER_SYNC_ERROR_RATE_LIMITED)
    {
      SoupMessageHeaders *headers = soup_message_get_response_headers (request->msg);

      self->retry_after_ms = MAX (0, tether_transport_parse_retry_after (
                                       soup_message_headers_get_one (headers, "Retry-After")));
    }
  if (request->probe && code == TETHER_SYNC_ERROR_REJECTED)
    code = TETHER_SYNC_ERROR_PROTOCOL;
  what = _tether_transport_describe_status (request->msg);
  g_propagate_error (error, _tether_transport_refusal_new (code, self->base_url, what,
                                                           _tether_transport_string_member (object, "error")));
  return NULL;
}

/* A page of a thousand records takes some 10 ms to parse: in a worker
 * thread, while the engine stores the page before it (pulls ask for the
 * next page before storing one). Smaller answers are not worth a thread. */
#define THREAD_PARSE_MIN (64 * 1024)

static void
parse_in_thread (GTask        *parse,
                 gpointer      source,
                 gpointer      data,
                 GCancellable *cancellable)
{
  JsonObject *object = _tether_transport_parse_object (data);

  g_task_return_pointer (parse, object, object != NULL ? (GDestroyNotify) json_object_unref : NULL);
}

static void
on_parsed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherHttpTransport *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  JsonObject *answer = g_task_propagate_pointer (G_TASK (result), NULL);

  if (answer == NULL)
    g_task_return_error (task, not_an_object (self, request->msg, g_task_get_task_data (G_TASK (result))));
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) json_object_unref);
}

static void
parse_answer (GTask  *task,
              GBytes *body)
{
  TetherHttpTransport *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) parse = NULL;
  JsonObject *answer;

  if (request->answer != NULL)
    {
      g_task_return_pointer (task, g_steal_pointer (&request->answer), (GDestroyNotify) json_object_unref);
      g_object_unref (task);
      return;
    }
  if (!request->threaded && SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (request->msg)) &&
      g_bytes_get_size (body) >= THREAD_PARSE_MIN)
    {
      /* No source object: the worker drops its task last at times, and
       * the transport must never be finalized there. */
      parse = g_task_new (NULL, NULL, on_parsed, task);
      g_task_set_task_data (parse, g_bytes_ref (body), (GDestroyNotify) g_bytes_unref);
      g_task_run_in_thread (parse, parse_in_thread);
      return;
    }
  answer = answer_object (self, request, body, &error);
  if (answer == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, answer, (GDestroyNotify) json_object_unref);
  g_object_unref (task);
}

/* Takes @task and @error. */
static void
finish_request (GTask  *taken,
                GBytes *body,
                GError *read_error)
{
  g_autoptr(GTask) task = taken;
  TetherHttpTransport *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = read_error;

  if (request->threaded)
    self->bytes_sent += soup_message_metrics_get_request_body_bytes_sent (
                          soup_message_get_metrics (request->msg));
  if (body == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_connected (self, FALSE);
      g_task_return_error (task, _tether_transport_network_error_new (
                                   self->base_url, soup_session_get_timeout (self->session), error));
      return;
    }
  self->bytes_received += soup_message_metrics_get_response_body_bytes_received (
                            soup_message_get_metrics (request->msg));
  error = cut_short (self, request->msg);
  if (error != NULL)
    {
      set_connected (self, FALSE);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* RFC 7694: a server that lists gzip in Accept-Encoding takes gzip bodies */
  self->gzip_bodies = _tether_gzip_listed (soup_message_headers_get_list (
                        soup_message_get_response_headers (request->msg), "Accept-Encoding"));
  set_connected (self, TRUE);
  parse_answer (g_steal_pointer (&task), body);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GError *error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

  finish_request (user_data, body, error);
}

/* A pull is sent, read and parsed in a worker thread (libsoup 3.2 sends
 * from any thread): the main loop is busy storing the page before while
 * the next one comes in, and an answer read on it would wait for that. The
 * answer is then handled on the main loop like any other. */
static void
send_in_thread (GTask        *sent,
                gpointer      source,
                gpointer      data,
                GCancellable *cancellable)
{
  Request *request = data;
  GError *error = NULL;

  request->response = soup_session_send_and_read (request->session, request->msg, cancellable, &error);
  if (request->response == NULL)
    {
      g_task_return_error (sent, error);
      return;
    }
  if (SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (request->msg)))
    request->answer = _tether_transport_parse_object (request->response);
  g_task_return_boolean (sent, TRUE);
}

static void
on_sent_in_thread (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  Request *request = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr(GBytes) body = NULL;

  if (g_task_propagate_boolean (G_TASK (result), &error))
    body = g_steal_pointer (&request->response);
  finish_request (task, body, error);
}

static void
send_threaded (GTask        *task,
               GCancellable *cancellable)
{
  TetherHttpTransport *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  /* No source object: the worker drops its task last at times, and the
   * transport (or its session) must never be finalized there. The
   * session is the outer task's source's, alive until its callback. */
  g_autoptr(GTask) sent = g_task_new (NULL, cancellable, on_sent_in_thread, task);

  request->session = self->session;
  /* counted from the metrics once sent: the signal would come from the thread */
  g_signal_handlers_disconnect_by_func (request->msg, on_wrote_body_data, self);
  g_task_set_task_data (sent, request, NULL);   /* the outer task keeps it */
  g_task_set_return_on_cancel (sent, FALSE);
  g_task_run_in_thread (sent, send_in_thread);
}

/* Sends <base><path> with @body (JSON text, may be NULL); the task answers
 * a JsonObject. */
static void
request_start (TetherHttpTransport *self,
               const char          *method,
               const char          *path,
               GBytes              *body,
               gboolean             probe,
               GCancellable        *cancellable,
               gpointer             source_tag,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  Request *request = g_new0 (Request, 1);

  /* A Retry-After counts until the next request starts, not until the
   * next answer: with two pushes in flight, the other one's answer must
   * not erase the 429's. */
  self->retry_after_ms = 0;
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, request, request_free);
  request->probe = probe;
  request->threaded = g_str_equal (path, "/pull");   /* see send_in_thread() */
  request->msg = _tether_http_transport_new_message (self, method, path, FALSE, &error);
  if (request->msg == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_ref (body);

      if (self->gzip_bodies && g_bytes_get_size (bytes) >= TETHER_GZIP_MIN_SIZE)
        {
          gsize size;
          const void *data = g_bytes_get_data (bytes, &size);
          GBytes *packed = _tether_gzip (data, size);

          g_bytes_unref (bytes);
          bytes = packed;
          soup_message_headers_replace (soup_message_get_request_headers (request->msg),
                                        "Content-Encoding", "gzip");
        }
      soup_message_set_request_body_from_bytes (request->msg, "application/json", bytes);
    }
  if (request->threaded)
    send_threaded (g_steal_pointer (&task), cancellable);
  else
    soup_session_send_and_read_async (self->session, request->msg, G_PRIORITY_DEFAULT, cancellable,
                                      on_read, g_steal_pointer (&task));
}

/* --------------------------------------------------------------- push, pull */

static void tether_http_transport_push_async (TetherTransport     *transport,
                                              JsonObject          *request,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);

static void
tether_http_transport_push_bytes_async (TetherTransport     *transport,
                                        GBytes              *request,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  request_start (TETHER_HTTP_TRANSPORT (transport), "POST", "/push", request, FALSE, cancellable,
                 tether_http_transport_push_async, callback, user_data);
}

static void
tether_http_transport_push_async (TetherTransport     *transport,
                                  JsonObject          *request,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GBytes) bytes = _tether_transport_to_bytes (request);

  tether_http_transport_push_bytes_async (transport, bytes, cancellable, callback, user_data);
}

static JsonObject *
tether_http_transport_push_finish (TetherTransport  *transport,
                                   GAsyncResult     *result,
                                   GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_http_transport_push_async, error);
}

static void
tether_http_transport_pull_async (TetherTransport     *transport,
                                  JsonObject          *request,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GBytes) bytes = _tether_transport_to_bytes (request);

  request_start (TETHER_HTTP_TRANSPORT (transport), "POST", "/pull", bytes, FALSE, cancellable,
                 tether_http_transport_pull_async, callback, user_data);
}

static JsonObject *
tether_http_transport_pull_finish (TetherTransport  *transport,
                                   GAsyncResult     *result,
                                   GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_http_transport_pull_async, error);
}

/* ---------------------------------------------------------------------- info */

static gboolean
looks_like_tether (JsonObject *info)
{
  return g_strcmp0 (_tether_transport_string_member (info, "server"), "tether-server") == 0 ||
         json_object_has_member (info, "protocol");
}

static void
info_checked_token (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = _tether_transport_task_finish (source, result, request_start, &error);

  if (answer == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, json_object_ref (g_task_get_task_data (task)),
                           (GDestroyNotify) json_object_unref);
}

/* GET base answers without a token, so the token is checked with a pull
 * that asks for nothing: it only moves a cursor the caller throws away. */
static void
info_got_base (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (source);
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) info = _tether_transport_task_finish (self, result, request_start, &error);
  g_autoptr(JsonObject) empty_pull = json_object_new ();
  g_autoptr(GBytes) bytes = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);

  if (info != NULL && !looks_like_tether (info))
    error = _tether_transport_refusal_new (TETHER_SYNC_ERROR_PROTOCOL, self->base_url,
                                           "its JSON has no \"server\": \"tether-server\" nor "
                                           "\"protocol\" (not a Tether server)", NULL);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_set_task_data (task, g_steal_pointer (&info), (GDestroyNotify) json_object_unref);
  json_object_set_null_member (empty_pull, "cursor");
  json_object_set_array_member (empty_pull, "collections", json_array_new ());
  json_object_set_int_member (empty_pull, "batchSize", 1);
  bytes = _tether_transport_to_bytes (empty_pull);
  request_start (self, "POST", "/pull", bytes, FALSE, cancellable,
                 request_start, info_checked_token, g_steal_pointer (&task));
}

static void
tether_http_transport_info_async (TetherTransport     *transport,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (transport);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tether_http_transport_info_async);
  request_start (self, "GET", "", NULL, TRUE, cancellable, request_start,
                 info_got_base, g_steal_pointer (&task));
}

static JsonObject *
tether_http_transport_info_finish (TetherTransport  *transport,
                                   GAsyncResult     *result,
                                   GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_http_transport_info_async, error);
}

static gboolean
tether_http_transport_is_connected (TetherTransport *transport)
{
  return TETHER_HTTP_TRANSPORT (transport)->connected;
}

static gint64
tether_http_transport_get_retry_after_ms (TetherTransport *transport)
{
  return TETHER_HTTP_TRANSPORT (transport)->retry_after_ms;
}

static void
transport_iface_init (TetherTransportInterface *iface)
{
  iface->push_async = tether_http_transport_push_async;
  iface->push_finish = tether_http_transport_push_finish;
  iface->push_bytes_async = tether_http_transport_push_bytes_async;
  iface->pull_async = tether_http_transport_pull_async;
  iface->pull_finish = tether_http_transport_pull_finish;
  iface->info_async = tether_http_transport_info_async;
  iface->info_finish = tether_http_transport_info_finish;
  iface->is_connected = tether_http_transport_is_connected;
  iface->get_retry_after_ms = tether_http_transport_get_retry_after_ms;
}

/* -------------------------------------------------------------------- object */

static void
set_base_url (TetherHttpTransport *self,
              const char          *base_url)
{
  char *url = g_strdup (base_url != NULL ? base_url : "");
  gsize length = strlen (url);

  /* "…/sync/" and "…/sync" are the same server: paths are appended. */
  while (length > 0 && url[length - 1] == '/')
    url[--length] = '\0';
  g_free (self->base_url);
  self->base_url = url;
}

static void
tether_http_transport_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      g_value_set_string (value, self->base_url);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, soup_session_get_timeout (self->session));
      break;
    case PROP_USER_AGENT:
      g_value_set_string (value, soup_session_get_user_agent (self->session));
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_http_transport_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_BASE_URL:
      set_base_url (self, g_value_get_string (value));
      break;
    case PROP_TOKEN:
      tether_http_transport_set_token (self, g_value_get_string (value));
      break;
    case PROP_TIMEOUT:
      tether_http_transport_set_timeout (self, g_value_get_uint (value));
      break;
    case PROP_USER_AGENT:
      if (g_strcmp0 (soup_session_get_user_agent (self->session), g_value_get_string (value)) == 0)
        break;
      soup_session_set_user_agent (self->session, g_value_get_string (value));
      g_object_notify_by_pspec (object, properties[PROP_USER_AGENT]);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_http_transport_dispose (GObject *object)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (object);

  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  G_OBJECT_CLASS (tether_http_transport_parent_class)->dispose (object);
}

static void
tether_http_transport_finalize (GObject *object)
{
  TetherHttpTransport *self = TETHER_HTTP_TRANSPORT (object);

  g_free (self->base_url);
  g_free (self->token);
  g_hash_table_unref (self->headers);
  G_OBJECT_CLASS (tether_http_transport_parent_class)->finalize (object);
}

static void
tether_http_transport_class_init (TetherHttpTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->get_property = tether_http_transport_get_property;
  object_class->set_property = tether_http_transport_set_property;
  object_class->dispose = tether_http_transport_dispose;
  object_class->finalize = tether_http_transport_finalize;

  properties[PROP_BASE_URL] =
    g_param_spec_string ("base-url", NULL, NULL, NULL, G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | flags);
  properties[PROP_TOKEN] =
    g_param_spec_string ("token", NULL, NULL, NULL, G_PARAM_WRITABLE | flags);
  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL, 0, G_MAXUINT, DEFAULT_TIMEOUT_S, G_PARAM_READWRITE | flags);
  properties[PROP_USER_AGENT] =
    g_param_spec_string ("user-agent", NULL, NULL, NULL, G_PARAM_READWRITE | flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  g_object_class_override_property (object_class, PROP_CONNECTED, "connected");
}

static void
tether_http_transport_init (TetherHttpTransport *self)
{
  /* The trailing space makes libsoup append its own product token. */
  self->session = soup_session_new_with_options ("timeout", DEFAULT_TIMEOUT_S,
                                                 "user-agent", "tether/" PACKAGE_VERSION " ",
                                                 NULL);
  /* sends Accept-Encoding and decodes gzip answers */
  if (!soup_session_has_feature (self->session, SOUP_TYPE_CONTENT_DECODER))
    soup_session_add_feature_by_type (self->session, SOUP_TYPE_CONTENT_DECODER);
  self->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->base_url = g_strdup ("");
}

/* ---------------------------------------------------------------- public API */

TetherHttpTransport *
tether_http_transport_new (const char *base_url,
                           const char *token)
{
  g_return_val_if_fail (base_url != NULL, NULL);

  return g_object_new (TETHER_TYPE_HTTP_TRANSPORT, "base-url", base_url, "token", token, NULL);
}

void
tether_http_transport_set_token (TetherHttpTransport *self,
                                 const char          *token)
{
  g_return_if_fail (TETHER_IS_HTTP_TRANSPORT (self));

  if (g_strcmp0 (self->token, token) == 0)
    return;
  g_free (self->token);
  self->token = g_strdup (token);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOKEN]);
}

void
tether_http_transport_set_timeout (TetherHttpTransport *self,
                                   guint                seconds)
{
  g_return_if_fail (TETHER_IS_HTTP_TRANSPORT (self));

  if (soup_session_get_timeout (self->session) == seconds)
    return;
  g_object_set (self->session, "timeout", seconds, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/* @value NULL removes @name. */
void
tether_http_transport_set_header (TetherHttpTransport *self,
                                  const char          *name,
                                  const char          *value)
{
  g_return_if_fail (TETHER_IS_HTTP_TRANSPORT (self));
  g_return_if_fail (name != NULL);

  if (value == NULL)
    g_hash_table_remove (self->headers, name);
  else
    g_hash_table_replace (self->headers, g_strdup (name), g_strdup (value));
}

const char *
tether_http_transport_get_base_url (TetherHttpTransport *self)
{
  g_return_val_if_fail (TETHER_IS_HTTP_TRANSPORT (self), NULL);

  return self->base_url;
}

guint64
tether_http_transport_get_bytes_sent (TetherHttpTransport *self)
{
  g_return_val_if_fail (TETHER_IS_HTTP_TRANSPORT (self), 0);

  return self->bytes_sent;
}

guint64
tether_http_transport_get_bytes_received (TetherHttpTransport *self)
{
  g_return_val_if_fail (TETHER_IS_HTTP_TRANSPORT (self), 0);

  return self->bytes_received;
}

SoupSession *
_tether_http_transport_get_session (TetherHttpTransport *self)
{
  return self->session;
}

const char *
_tether_http_transport_get_token (TetherHttpTransport *self)
{
  return self->token;
}
