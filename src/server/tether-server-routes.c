/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-routes"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"
#include "tether-server-private.h"

/* The routes below the base path. Everything that can be decided from the
 * request line and headers (method, auth, rate, declared size) is decided in
 * the early handler, before the body is read; the handler then runs the
 * request through the core. */

typedef enum {
  ROUTE_NONE,
  ROUTE_INFO,
  ROUTE_PUSH,
  ROUTE_PULL,
  ROUTE_WS,
} Route;

typedef struct {
  TetherServerState *state;
  gint64             start_us;
  Route              route;
  TetherServerUser   user;       /* name NULL until authenticated */
  char              *limited;    /* the user of a good token refused with 429, for the log */
  GByteArray        *body;       /* collected here, not by libsoup: one buffer, sized once */
  gsize              received;
  guint              n_changes;
  gboolean           busy;       /* counted in state->n_busy */
} Request;

#define REQUEST_KEY "tether-request"

static void
request_done (Request *request)
{
  if (request->busy)
    request->state->n_busy--;
  request->busy = FALSE;
}

static void
request_free (Request *request)
{
  request_done (request);
  tether_server_user_clear (&request->user);
  g_free (request->limited);
  g_clear_pointer (&request->body, g_byte_array_unref);
  g_free (request);
}

static Request *
get_request (SoupServerMessage *msg)
{
  return g_object_get_data (G_OBJECT (msg), REQUEST_KEY);
}

const TetherServerUser *
_tether_server_routes_get_user (SoupServerMessage *msg)
{
  Request *request = get_request (msg);

  return request != NULL && request->user.name != NULL ? &request->user : NULL;
}

gint64
_tether_server_routes_get_start (SoupServerMessage *msg)
{
  Request *request = get_request (msg);

  return request != NULL ? request->start_us : 0;
}

static Route
route_of (const char *base,
          const char *path)
{
  gsize n = strlen (base);
  const char *rest;

  if (path == NULL || strncmp (path, base, n) != 0)
    return ROUTE_NONE;
  rest = path + n;
  if (rest[0] == '\0' || strcmp (rest, "/") == 0)
    return ROUTE_INFO;
  if (strcmp (rest, "/push") == 0)
    return ROUTE_PUSH;
  if (strcmp (rest, "/pull") == 0)
    return ROUTE_PULL;
  if (strcmp (rest, "/ws") == 0)
    return ROUTE_WS;
  return ROUTE_NONE;
}

/* The methods a route answers, for 405 and its Allow header. */
static const char *
allowed_methods (Route route)
{
  switch (route)
    {
    case ROUTE_INFO: return "GET, HEAD";
    case ROUTE_PUSH: return "POST";
    case ROUTE_PULL: return "GET, POST";
    case ROUTE_WS:   return "GET";
    case ROUTE_NONE:
    default:         return NULL;
    }
}

static gboolean
method_allowed (Route       route,
                const char *method)
{
  const char *allowed = allowed_methods (route);
  g_auto(GStrv) methods = allowed != NULL ? g_strsplit (allowed, ", ", -1) : NULL;

  return methods != NULL && g_strv_contains ((const char * const *) methods, method);
}

/* Errors that are not the core's (404, 405) in the same JSON shape. */
static void
set_plain_error (SoupServerMessage *msg,
                 guint              status,
                 const char        *code,
                 const char        *message)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "error");
  json_builder_add_string_value (builder, message);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, code);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);
  _tether_server_set_json (msg, status, body);
}

/* Behind a reverse proxy on this machine every peer is the proxy: then the
 * client's address is the proxy's X-Real-IP header. Only with
 * --trust-proxy: otherwise any local process could name a new address on
 * every request and guess tokens without limit. */
static const char *
client_address (TetherServerState *state,
                SoupServerMessage *msg)
{
  GSocketAddress *peer = soup_server_message_get_remote_address (msg);
  const char *real_ip;

  if (state->trust_proxy && G_IS_INET_SOCKET_ADDRESS (peer) &&
      g_inet_address_get_is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer))))
    {
      real_ip = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "X-Real-IP");
      if (real_ip != NULL && real_ip[0] != '\0' && strlen (real_ip) <= 64)
        return real_ip;
    }
  return soup_server_message_get_remote_host (msg);
}

gboolean
_tether_server_admit (TetherServerState *state,
                      const char        *authorization,
                      const char        *address,
                      TetherServerUser  *user,
                      guint             *retry_after,
                      GError           **error)
{
  g_autofree char *key = NULL;
  const char *from = address != NULL ? address : "unknown";
  guint wait;

  /* An address that keeps failing is slowed before its token is even looked at. */
  if ((wait = _tether_server_limiter_peek (state->strangers, from)) > 0)
    {
      *retry_after = wait;
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_RATE_LIMITED,
                   "too many failed authentications from %s; retry in %u s", from, wait);
      return FALSE;
    }
  if (!tether_server_core_authenticate (state->core, authorization, user, error))
    {
      if (error == NULL || g_error_matches (*error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED))
        _tether_server_limiter_take (state->strangers, from);
      return FALSE;
    }
  key = g_strdup_printf ("%" G_GINT64_FORMAT, user->id);
  if ((wait = _tether_server_limiter_take (state->users, key)) > 0)
    {
      *retry_after = wait;
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_RATE_LIMITED,
                   "too many requests for user %s; retry in %u s", user->name, wait);
      return FALSE;   /* @user stays filled, for the log */
    }
  return TRUE;
}

/* Early: before the body ------------------------------------------------------ */

static void
log_request (SoupServerMessage *msg,
             Request           *request)
{
  GUri *uri = soup_server_message_get_uri (msg);

  _tether_server_log (soup_server_message_get_method (msg), uri != NULL ? g_uri_get_path (uri) : NULL,
                      request == NULL ? NULL : request->user.name != NULL ? request->user.name : request->limited,
                      soup_server_message_get_status (msg),
                      request != NULL ? request->n_changes : 0,
                      request != NULL ? request->start_us : 0);
}

static void
busy_done (gpointer data)
{
  TetherServerState *state = data;

  state->n_busy--;
}

/* Answer now, without reading (more of) the body: a 413, or any refusal of
 * a request that announces a body over the limit. */
static void
reject_now (SoupServerMessage *msg,
            Request           *request)
{
  TetherServerState *state = request->state;

  if (soup_server_message_get_status (msg) == 0)
    {
      g_autoptr(GError) error = g_error_new (TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_TOO_LARGE,
                                             "the request body is larger than the server's limit of %zu bytes",
                                             state->max_body);

      _tether_server_set_error (msg, error, 0);
    }
  g_clear_pointer (&request->body, g_byte_array_unref);
  log_request (msg, request);
  /* The connection now belongs to the rejection, and so does the busy count. */
  request->busy = FALSE;
  _tether_server_reject_now (msg, busy_done, state);
}

/* Counts the body whatever its encoding; keeps it only for admitted requests. */
static void
got_chunk (SoupServerMessage *msg,
           GBytes            *chunk,
           Request           *request)
{
  gsize size = g_bytes_get_size (chunk);

  request->received += size;
  if (request->received > request->state->max_body)
    reject_now (msg, request);
  else if (request->body != NULL)
    g_byte_array_append (request->body, g_bytes_get_data (chunk, NULL), size);
}

static void
admit_request (SoupServerMessage *msg,
               Request           *request)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  g_autoptr(GError) error = NULL;
  guint retry_after = 0;

  if (!_tether_server_admit (request->state, soup_message_headers_get_one (headers, "Authorization"),
                             client_address (request->state, msg), &request->user, &retry_after, &error))
    {
      /* Not admitted, but the log names whose request it was. */
      request->limited = g_steal_pointer (&request->user.name);
      tether_server_user_clear (&request->user);
      _tether_server_set_error (msg, error, retry_after);
    }
}

/* Sets an error status on @msg when the request is refused before its body. */
static void
decide_early (SoupServerMessage *msg,
              Request           *request)
{
  TetherServerState *state = request->state;

  if (state->stopping)
    {
      g_autoptr(GError) error = g_error_new_literal (TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAVAILABLE,
                                                     "the server is shutting down; retry in a moment");

      _tether_server_set_error (msg, error, 0);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
    }
  else if (request->route == ROUTE_NONE)
    set_plain_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such path on this server");
  else if (!method_allowed (request->route, soup_server_message_get_method (msg)))
    {
      set_plain_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                       "this path does not answer that method");
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                    allowed_methods (request->route));
    }
  else if (request->route != ROUTE_INFO)
    admit_request (msg, request);
}

/* RFC 9112 6.3: a Content-Length that is not one decimal number (negative,
 * past 2^63, or several different ones) leaves the body's end unknown, and
 * libsoup would wait for it until the client gives up. */
static gboolean
content_length_valid (SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_list (headers, "Content-Length");

  return value == NULL || g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, NULL, NULL);
}

static void
reject_framing (SoupServerMessage *msg,
                Request           *request)
{
  if (soup_server_message_get_status (msg) == 0)
    {
      g_autoptr(GError) error = g_error_new_literal (TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                                                     "the Content-Length header must be one number of bytes");

      _tether_server_set_error (msg, error, 0);
    }
  reject_now (msg, request);
}

static void
early_handler (SoupServer        *soup,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  TetherServerState *state = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  Request *request = g_new0 (Request, 1);
  goffset declared = 0;

  request->state = state;
  request->start_us = g_get_monotonic_time ();
  request->route = route_of (state->base, path);
  request->busy = TRUE;
  state->n_busy++;
  g_object_set_data_full (G_OBJECT (msg), REQUEST_KEY, request, (GDestroyNotify) request_free);

  decide_early (msg, request);
  /* Past twice this, libsoup resets a WebSocket unread, which a client
   * cannot tell from a network failure: it is told the limit up front. */
  if (request->route == ROUTE_WS)
    {
      g_autofree char *limit = g_strdup_printf ("%" G_GSIZE_FORMAT, state->max_body);

      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Tether-Max-Body", limit);
    }
  if (!content_length_valid (headers))
    {
      reject_framing (msg, request);
      return;
    }
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
    declared = soup_message_headers_get_content_length (headers);
  if (declared > 0 && (guint64) declared > state->max_body)
    {
      reject_now (msg, request);
      return;
    }
  /* libsoup must still read the body of a refused request; it is not kept. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk), request);
  if (soup_server_message_get_status (msg) == 0)
    request->body = g_byte_array_sized_new (declared > 0 ? (guint) declared : 0);
}

/* After the body ---------------------------------------------------------------- */

/* A gzip body (Content-Encoding: gzip) decoded, under the same limit as
 * a plain one: a decompression bomb stops at --max-body with a 413. */
static GBytes *
decode_body (TetherServerState  *state,
             SoupServerMessage  *msg,
             Request            *request,
             GError            **error)
{
  const char *encoding = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                       "Content-Encoding");
  g_autoptr(GError) local_error = NULL;
  GBytes *decoded;

  if (encoding == NULL || request->body == NULL || g_ascii_strcasecmp (encoding, "identity") == 0)
    return NULL;
  if (strchr (encoding, ',') != NULL || !_tether_gzip_listed (encoding))
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                   "Content-Encoding \"%s\" is not supported; send gzip or none", encoding);
      return NULL;
    }
  decoded = _tether_gunzip (request->body->data, request->body->len, state->max_body, &local_error);
  if (decoded == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_TOO_LARGE,
                 "the decoded request body is larger than the server's limit of %zu bytes", state->max_body);
  else if (decoded == NULL)
    g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST, local_error->message);
  return decoded;
}

/* The name of a parameter of @query that is not UTF-8, or NULL. libsoup
 * decodes %FF as it is; PostgreSQL refuses such text (503 for ever), where
 * SQLite matched nothing. */
static const char *
query_not_utf8 (GHashTable *query)
{
  GHashTableIter iter;
  gpointer name, value;

  if (query == NULL)
    return NULL;
  g_hash_table_iter_init (&iter, query);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (!g_utf8_validate (name, -1, NULL) || (value != NULL && !g_utf8_validate (value, -1, NULL)))
      return g_utf8_validate (name, -1, NULL) ? name : "(a name)";
  return NULL;
}

/* libsoup decodes the query into C strings, which end at a %00: a filter
 * "notes%00x" would read as "notes", so such a query is refused. */
static char *
pull_query (TetherServerState  *state,
            SoupServerMessage  *msg,
            Request            *request,
            GHashTable         *query,
            GError            **error)
{
  const char *raw = g_uri_get_query (soup_server_message_get_uri (msg));
  const char *bad;

  if (raw != NULL && strstr (raw, "%00") != NULL)
    {
      g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                           "The query holds %00 (a NUL character), which no parameter may contain");
      return NULL;
    }
  if ((bad = query_not_utf8 (query)) != NULL)
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                   "The query parameter %s is not valid UTF-8", bad);
      return NULL;
    }
  return tether_server_core_pull_query_text (state->core, &request->user, query,
                                             &request->n_changes, error);
}

/* The core's answers come as JSON text: record data goes out as stored. */
static char *
run_request (TetherServerState  *state,
             SoupServerMessage  *msg,
             Request            *request,
             GHashTable         *query,
             GError            **error)
{
  g_autoptr(GBytes) decoded = decode_body (state, msg, request, error);
  const char *body = "";
  gsize length = 0;

  if (decoded != NULL)
    /* followed by a NUL, as the parser needs */
    body = g_bytes_get_data (decoded, &length);
  else if (error != NULL && *error != NULL)
    return NULL;
  else if (request->body != NULL)
    {
      /* NUL-terminated for the parser; the NUL is not part of the body. */
      length = request->body->len;
      g_byte_array_append (request->body, (const guint8 *) "", 1);
      body = (const char *) request->body->data;
    }
  if (request->route == ROUTE_PUSH)
    return tether_server_core_push_text (state->core, &request->user, body, length,
                                         &request->n_changes, error);
  if (soup_server_message_get_method (msg) == SOUP_METHOD_GET)
    return pull_query (state, msg, request, query, error);
  return tether_server_core_pull_text (state->core, &request->user, body, length,
                                       &request->n_changes, error);
}

/* Answers in gzip when the client takes it; the Accept-Encoding response
 * header (RFC 7694) tells clients that gzip request bodies are welcome. */
static void
set_answer (SoupServerMessage *msg,
            char              *text)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *accept = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Accept-Encoding");
  gsize length = strlen (text);
  g_autoptr(GBytes) packed = NULL;

  soup_message_headers_replace (headers, "Accept-Encoding", "gzip");
  soup_message_headers_append (headers, "Vary", "Accept-Encoding");
  if (length < TETHER_GZIP_MIN_SIZE || !_tether_gzip_listed (accept))
    {
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, length);
      return;
    }
  packed = _tether_gzip (text, length);
  g_free (text);
  soup_message_headers_replace (headers, "Content-Encoding", "gzip");
  soup_message_headers_set_content_type (headers, "application/json", NULL);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), packed);
}

static void
handler (SoupServer        *soup,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  TetherServerState *state = user_data;
  Request *request = get_request (msg);
  g_autoptr(GError) error = NULL;
  char *result;

  g_assert (request != NULL);

  if (request->route == ROUTE_INFO)
    {
      g_autoptr(JsonNode) info = tether_server_core_info (state->core);

      _tether_server_set_json (msg, SOUP_STATUS_OK, info);
      return;
    }
  if (request->route == ROUTE_WS)
    {
      /* Leave the status unset: libsoup then completes the upgrade, with
       * its own Connection header. */
      if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error))
        set_plain_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", error->message);
      else
        soup_message_headers_remove (soup_server_message_get_response_headers (msg), "Connection");
      return;
    }
  result = run_request (state, msg, request, query, &error);
  /* The body is not needed while the response is written. */
  g_clear_pointer (&request->body, g_byte_array_unref);
  if (result == NULL)
    {
      _tether_server_set_error (msg, error, 0);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  set_answer (msg, result);
}

static void
websocket_handler (SoupServer              *soup,
                   SoupServerMessage       *msg,
                   const char              *path,
                   SoupWebsocketConnection *conn,
                   gpointer                 user_data)
{
  TetherServerState *state = user_data;
  Request *request = get_request (msg);

  g_assert (request != NULL && request->user.name != NULL);

  _tether_server_hub_add (state->hub, conn, &request->user,
                          soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                        "Authorization"),
                          path);
  log_request (msg, request);
  request_done (request);
}

/* libsoup 3.2 never frees a connection the client closes while it waits
 * for the next request (a reference cycle with that request, fixed in 3.3
 * by commit d20c6601): its socket and file descriptor stay open, and a
 * server runs out of descriptors after about a thousand syncs. So every
 * answer closes its connection, which libsoup then frees; a WebSocket
 * upgrade drops this again (handler()). A TCP connect per request costs
 * little on 127.0.0.1 and behind a proxy, which keeps its clients'
 * connections alive itself. */
static void
request_started (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           user_data)
{
  TetherServerState *state = user_data;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  _tether_server_deadline_watch (msg, state->read_timeout);
}

static void
request_finished (SoupServer        *soup,
                  SoupServerMessage *msg,
                  gpointer           user_data)
{
  Request *request = get_request (msg);

  /* Without a request, libsoup refused it before our handlers (a malformed
   * request line): still worth a line, when it answered something. */
  if (request == NULL && soup_server_message_get_status (msg) == 0)
    return;
  log_request (msg, request);
  if (request != NULL)
    request_done (request);
}

void
_tether_server_routes_install (SoupServer        *soup,
                               TetherServerState *state)
{
  g_autofree char *ws_path = g_strconcat (state->base, "/ws", NULL);

  /* The default handler sees every path, so unknown ones get JSON too; the
   * WebSocket path needs its own entry (libsoup picks the longest prefix). */
  soup_server_add_early_handler (soup, NULL, early_handler, state, NULL);
  soup_server_add_handler (soup, NULL, handler, state, NULL);
  soup_server_add_early_handler (soup, ws_path, early_handler, state, NULL);
  soup_server_add_handler (soup, ws_path, handler, state, NULL);
  soup_server_add_websocket_handler (soup, ws_path, NULL, NULL, websocket_handler, state, NULL);
  g_signal_connect (soup, "request-started", G_CALLBACK (request_started), state);
  g_signal_connect (soup, "request-finished", G_CALLBACK (request_finished), state);
  g_signal_connect (soup, "request-aborted", G_CALLBACK (request_finished), state);
}
