/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-http-transport"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"
#include "tether-http-transport-private.h"

typedef struct {
  SoupMessage *msg;
  gboolean     probe;      /* GET base: any refusal but 401, 429 and 5xx means "not Tether" */
  gboolean     threaded;   /* sent and parsed in a worker thread (pushes and pulls) */
  GBytes      *body;       /* the request body, before any gzip */
  gboolean     gzip;       /* send @body gzipped */
  SoupSession *session;    /* threaded: the transport's when sent (it may get a new one meanwhile) */
  GBytes      *response;   /* threaded: the body as read */
  JsonObject  *answer;     /* threaded: the body parsed, when it is a JSON object */
  guint        timeout_s;  /* the session's when sent, for the error message */
} Request;

static void
request_free (gpointer data)
{
  Request *request = data;

  g_clear_object (&request->msg);
  g_clear_object (&request->session);
  g_clear_pointer (&request->body, g_bytes_unref);
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
                   "“%s” is not an http:// or https:// address: check the server in Preferences → Sync, "
                   "or set it with `tether remote set URL`",
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
  /* A refusal without the protocol's error body is not a Tether server's
   * (a web server's 404 at a wrong address): the engine fails a change
   * the server refuses, and must not fail them all for that. */
  if (code == TETHER_SYNC_ERROR_REJECTED &&
      (request->probe || _tether_transport_string_member (object, "code") == NULL))
    code = TETHER_SYNC_ERROR_PROTOCOL;
  /* The one 400 the engine acts on by its code: it pulls again from null. */
  else if (code == TETHER_SYNC_ERROR_REJECTED &&
           g_strcmp0 (_tether_transport_string_member (object, "code"), "bad-cursor") == 0)
    code = TETHER_SYNC_ERROR_BAD_CURSOR;
  what = _tether_transport_describe_status (request->msg);
  if (code == TETHER_SYNC_ERROR_PROTOCOL)
    {
      /* say which request: a wrong path shows in it */
      g_autofree char *status_text = g_steal_pointer (&what);

      what = g_strdup_printf ("%s %s answered %s", soup_message_get_method (request->msg),
                              g_uri_get_path (soup_message_get_uri (request->msg)), status_text);
    }
  g_propagate_error (error, _tether_transport_refusal_new (code, self->base_url, what,
                                                           _tether_transport_string_member (object, "error")));
  return NULL;
}

/* Answers @task (taken) with the object of @body, parsed already when the
 * request was threaded. */
static void
parse_answer (GTask  *task,
              GBytes *body)
{
  TetherHttpTransport *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  JsonObject *answer = g_steal_pointer (&request->answer);

  if (answer == NULL)
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
                                   self->base_url, request->timeout_s, error));
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

/* Gives the message its body, gzipped when the server takes that: in the
 * worker thread for a threaded request, as packing a push batch takes a few
 * milliseconds. */
static void
attach_body (Request *request)
{
  g_autoptr(GBytes) bytes = NULL;

  if (request->body == NULL)
    return;
  bytes = g_steal_pointer (&request->body);
  if (request->gzip)
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

/* Pushes and pulls are packed, sent, read and parsed in a worker thread
 * (libsoup 3.2 sends from any thread): the main loop is busy storing one
 * answer while the other request in flight goes out and comes back, and
 * on the main loop that request would wait for it, as would its gzip and
 * its parse. The answer is then handled on the main loop like any other. */
static void
send_in_thread (GTask        *sent,
                gpointer      source,
                gpointer      data,
                GCancellable *cancellable)
{
  Request *request = data;
  GError *error = NULL;

  attach_body (request);
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
   * transport (or a session) must never be finalized there. The session
   * is held by the request, which the outer task frees on this thread. */
  g_autoptr(GTask) sent = g_task_new (NULL, cancellable, on_sent_in_thread, task);

  request->session = g_object_ref (self->session);
  /* counted from the metrics once sent: the signal would come from the thread */
  g_signal_handlers_disconnect_by_func (request->msg, on_wrote_body_data, self);
  g_task_set_task_data (sent, request, NULL);   /* the outer task keeps it */
  g_task_set_return_on_cancel (sent, FALSE);
  g_task_run_in_thread (sent, send_in_thread);
}

void
_tether_http_request_start (TetherHttpTransport *self,
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
  request->timeout_s = soup_session_get_timeout (self->session);
  request->threaded = body != NULL;   /* see send_in_thread() */
  request->msg = _tether_http_transport_new_message (self, method, path, FALSE, &error);
  if (request->msg == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (body != NULL)
    {
      request->body = g_bytes_ref (body);
      request->gzip = self->gzip_bodies && g_bytes_get_size (body) >= TETHER_GZIP_MIN_SIZE;
    }
  if (request->threaded)
    {
      send_threaded (g_steal_pointer (&task), cancellable);
      return;
    }
  attach_body (request);
  soup_session_send_and_read_async (self->session, request->msg, G_PRIORITY_DEFAULT, cancellable,
                                      on_read, g_steal_pointer (&task));
}

