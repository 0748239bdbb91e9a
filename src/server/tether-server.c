/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-server-private.h"

#define SHUTDOWN_GRACE_US   (5 * G_USEC_PER_SEC)
#define SHUTDOWN_POLL_MS    20
#define LINGER_SECONDS      2
/* Clients come back all at once after a restart: GSocket's default backlog
 * of 10 would turn some of them away while the first requests run. */
#define LISTEN_BACKLOG      1024
/* Failed authentications refill ten times slower than a user's requests. */
#define STRANGER_RATE_SHARE 0.1

struct _TetherServer
{
  GObject            parent_instance;
  SoupServer        *soup;
  TetherServerState  state;
  char              *address;
  guint16            port;        /* asked for */
  guint16            bound_port;  /* listened on */
  char              *host;        /* the address listened on, for the URL */
};

G_DEFINE_FINAL_TYPE (TetherServer, tether_server, G_TYPE_OBJECT)

void
tether_server_options_init (TetherServerOptions *options)
{
  g_return_if_fail (options != NULL);

  options->address = TETHER_SERVER_DEFAULT_ADDRESS;
  options->port = TETHER_SERVER_DEFAULT_PORT;
  options->base_path = TETHER_SERVER_DEFAULT_BASE_PATH;
  options->max_body = TETHER_SERVER_DEFAULT_MAX_BODY;
  options->rate = TETHER_SERVER_DEFAULT_RATE;
  options->burst = TETHER_SERVER_DEFAULT_BURST;
}

static void
tether_server_dispose (GObject *object)
{
  TetherServer *self = TETHER_SERVER (object);

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_object (&self->soup);
  g_clear_pointer (&self->state.hub, _tether_server_hub_free);
  g_clear_object (&self->state.core);
  G_OBJECT_CLASS (tether_server_parent_class)->dispose (object);
}

static void
tether_server_finalize (GObject *object)
{
  TetherServer *self = TETHER_SERVER (object);

  _tether_server_limiter_free (self->state.users);
  _tether_server_limiter_free (self->state.strangers);
  g_free (self->state.base);
  g_free (self->address);
  g_free (self->host);
  G_OBJECT_CLASS (tether_server_parent_class)->finalize (object);
}

static void
tether_server_class_init (TetherServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_server_dispose;
  object_class->finalize = tether_server_finalize;
}

static void
tether_server_init (TetherServer *self)
{
}

/* "sync/", "/sync//" → "/sync"; "/" → "" */
static char *
normalize_base (const char *base_path)
{
  g_autofree char *trimmed = g_strdup (base_path != NULL ? base_path : "");
  gsize len = strlen (trimmed);

  while (len > 0 && trimmed[len - 1] == '/')
    trimmed[--len] = '\0';
  if (len == 0)
    return g_strdup ("");
  return trimmed[0] == '/' ? g_steal_pointer (&trimmed) : g_strconcat ("/", trimmed, NULL);
}

TetherServer *
tether_server_new (TetherServerCore          *core,
                   const TetherServerOptions *options)
{
  TetherServer *self;

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (core), NULL);
  g_return_val_if_fail (options != NULL && options->max_body > 0 && options->burst > 0, NULL);

  self = g_object_new (TETHER_TYPE_SERVER, NULL);
  self->address = g_strdup (options->address);
  self->port = options->port;
  self->state.core = g_object_ref (core);
  self->state.base = normalize_base (options->base_path);
  self->state.max_body = options->max_body;
  self->state.users = _tether_server_limiter_new (options->rate, options->burst);
  self->state.strangers = _tether_server_limiter_new (options->rate * STRANGER_RATE_SHARE,
                                                      options->burst);
  self->state.hub = _tether_server_hub_new (&self->state);
  self->soup = soup_server_new ("server-header", "tether-server/" PACKAGE_VERSION " ", NULL);
  _tether_server_routes_install (self->soup, &self->state);
  return self;
}

TetherServerCore *
tether_server_get_core (TetherServer *self)
{
  g_return_val_if_fail (TETHER_IS_SERVER (self), NULL);

  return self->state.core;
}

static GInetAddress *
resolve (const char  *address,
         GError     **error)
{
  g_autoptr(GResolver) resolver = NULL;
  GList *addresses;
  GInetAddress *first;

  first = g_inet_address_new_from_string (address);
  if (first != NULL)
    return first;
  /* A host name ("localhost"): its first address, and that one only. */
  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, address, NULL, error);
  if (addresses == NULL)
    {
      g_prefix_error (error, "cannot listen on %s: ", address);
      return NULL;
    }
  first = g_object_ref (addresses->data);
  g_resolver_free_addresses (addresses);
  return first;
}

static guint16
bound_port (SoupServer *soup)
{
  GSList *listeners = soup_server_get_listeners (soup);
  guint16 port = 0;

  if (listeners != NULL)
    {
      g_autoptr(GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);

      if (G_IS_INET_SOCKET_ADDRESS (local))
        port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
    }
  g_slist_free (listeners);
  return port;
}

static GSocket *
listening_socket (GInetAddress  *inet,
                  guint16        port,
                  GError       **error)
{
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
  g_autoptr(GSocket) socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

gboolean
tether_server_listen (TetherServer  *self,
                      GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocket) socket = NULL;

  g_return_val_if_fail (TETHER_IS_SERVER (self), FALSE);
  g_return_val_if_fail (self->bound_port == 0, FALSE);

  if ((inet = resolve (self->address, error)) == NULL)
    return FALSE;
  if ((socket = listening_socket (inet, self->port, error)) == NULL ||
      !soup_server_listen_socket (self->soup, socket, 0, error))
    {
      g_prefix_error (error, "cannot listen on %s port %u: ", self->address, self->port);
      return FALSE;
    }
  self->bound_port = bound_port (self->soup);
  self->host = g_inet_address_to_string (inet);
  return TRUE;
}

guint16
tether_server_get_port (TetherServer *self)
{
  g_return_val_if_fail (TETHER_IS_SERVER (self), 0);

  return self->bound_port;
}

char *
tether_server_get_url (TetherServer *self)
{
  gboolean v6;

  g_return_val_if_fail (TETHER_IS_SERVER (self), NULL);
  g_return_val_if_fail (self->host != NULL, NULL);

  v6 = strchr (self->host, ':') != NULL;
  return g_strdup_printf ("http://%s%s%s:%u%s", v6 ? "[" : "", self->host, v6 ? "]" : "",
                          self->bound_port, self->state.base[0] != '\0' ? self->state.base : "/");
}

/* Logging and responses ------------------------------------------------------ */

/* Keep one request on one line, with space-separated fields. */
static char *
loggable (const char *text)
{
  char *copy = g_strdup (text != NULL && text[0] != '\0' ? text : "-");

  for (char *p = copy; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || (guchar) *p == 0x7f)
      *p = '_';
  return copy;
}

void
_tether_server_log (const char *method,
                    const char *path,
                    const char *user,
                    guint       status,
                    guint       changes,
                    gint64      start_us)
{
  g_autofree char *safe_method = loggable (method);
  g_autofree char *safe_path = loggable (path);
  double ms = start_us > 0 ? (double) (g_get_monotonic_time () - start_us) / 1000.0 : 0.0;
  g_autofree char *line = g_strdup_printf ("%s %s user=%s status=%u changes=%u ms=%.3f\n",
                                           safe_method, safe_path, user != NULL ? user : "-",
                                           status, changes, ms);

  /* One write per line, so lines of a busy server never interleave. */
  fputs (line, stderr);
  fflush (stderr);
}

void
_tether_server_set_json (SoupServerMessage *msg,
                         guint              status,
                         JsonNode          *body)
{
  char *text = json_to_string (body, FALSE);

  /* libsoup 3.2 has no phrase for 429. */
  soup_server_message_set_status (msg, status, status == 429 ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, strlen (text));
}

void
_tether_server_set_error (SoupServerMessage *msg,
                          const GError      *error,
                          guint              retry_after)
{
  g_autoptr(JsonNode) body = tether_server_error_to_json (error);
  guint status = tether_server_error_status (error);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  _tether_server_set_json (msg, status, body);
  if (status == 429 && retry_after > 0)
    {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);

      soup_message_headers_replace (headers, "Retry-After", seconds);
    }
  else if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"tether\"");
}

/* Answering without reading the body ---------------------------------------- */

typedef struct {
  GIOStream      *stream;
  GCancellable   *cancellable;
  char           *response;
  guint           timeout_id;
  GDestroyNotify  on_done;
  gpointer        data;
  guint8          sink[16384];
} Rejection;

static void
rejection_closed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Rejection *rejection = user_data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_clear_handle_id (&rejection->timeout_id, g_source_remove);
  if (rejection->on_done != NULL)
    rejection->on_done (rejection->data);
  g_object_unref (rejection->stream);
  g_object_unref (rejection->cancellable);
  g_free (rejection->response);
  g_free (rejection);
}

static gboolean
rejection_timeout (gpointer user_data)
{
  Rejection *rejection = user_data;

  rejection->timeout_id = 0;
  g_cancellable_cancel (rejection->cancellable);
  return G_SOURCE_REMOVE;
}

static void rejection_drained (GObject *source, GAsyncResult *result, gpointer user_data);

static void
rejection_drain (Rejection *rejection)
{
  GInputStream *input = g_io_stream_get_input_stream (rejection->stream);

  g_input_stream_read_async (input, rejection->sink, sizeof rejection->sink, G_PRIORITY_DEFAULT,
                             rejection->cancellable, rejection_drained, rejection);
}

/* Read and drop what the client still sends until it closes (bounded in
 * time): closing with unread data would reset the connection, and the
 * client could lose our answer. */
static void
rejection_drained (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Rejection *rejection = user_data;

  if (g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL) > 0)
    {
      rejection_drain (rejection);
      return;
    }
  g_io_stream_close_async (rejection->stream, G_PRIORITY_DEFAULT, NULL, rejection_closed, rejection);
}

static void
rejection_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Rejection *rejection = user_data;
  GSocket *socket = g_object_get_data (G_OBJECT (rejection->stream), "GSocket");

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      g_io_stream_close_async (rejection->stream, G_PRIORITY_DEFAULT, NULL, rejection_closed,
                               rejection);
      return;
    }
  /* Our side is done: the client sees the end of the response at once. */
  if (G_IS_SOCKET (socket))
    g_socket_shutdown (socket, FALSE, TRUE, NULL);
  rejection->timeout_id = g_timeout_add_seconds (LINGER_SECONDS, rejection_timeout, rejection);
  rejection_drain (rejection);
}

static void
append_header (const char *name,
               const char *value,
               gpointer    user_data)
{
  if (g_ascii_strcasecmp (name, "Content-Length") != 0 && g_ascii_strcasecmp (name, "Connection") != 0)
    g_string_append_printf (user_data, "%s: %s\r\n", name, value);
}

/* The response already set on @msg, as HTTP/1.1 text. */
static char *
response_text (SoupServerMessage *msg,
               gsize             *length)
{
  guint status = soup_server_message_get_status (msg);
  const char *phrase = soup_server_message_get_reason_phrase (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "HTTP/1.1 %u %s\r\n", status,
                          phrase != NULL ? phrase : soup_status_get_phrase (status));
  soup_message_headers_foreach (soup_server_message_get_response_headers (msg), append_header, text);
  g_string_append_printf (text, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          g_bytes_get_size (body));
  g_string_append_len (text, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  *length = text->len;
  return g_string_free (text, FALSE);
}

void
_tether_server_reject_now (SoupServerMessage *msg,
                           GDestroyNotify     on_done,
                           gpointer           data)
{
  gsize length = 0;
  g_autofree char *response = response_text (msg, &length);
  GIOStream *stream = soup_server_message_steal_connection (msg);
  Rejection *rejection;

  if (stream == NULL)
    {
      if (on_done != NULL)
        on_done (data);
      return;
    }
  rejection = g_new0 (Rejection, 1);
  rejection->stream = stream;
  rejection->cancellable = g_cancellable_new ();
  rejection->on_done = on_done;
  rejection->data = data;
  rejection->response = g_steal_pointer (&response);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), rejection->response,
                                   length, G_PRIORITY_DEFAULT, rejection->cancellable,
                                   rejection_written, rejection);
}

/* Shutdown ------------------------------------------------------------------- */

typedef struct {
  gint64 deadline_us;
} Shutdown;

static gboolean
shutdown_poll (gpointer user_data)
{
  GTask *task = user_data;
  TetherServer *self = g_task_get_source_object (task);
  Shutdown *shutdown = g_task_get_task_data (task);
  gboolean idle = self->state.n_busy == 0 && _tether_server_hub_get_n_open (self->state.hub) == 0;

  if (!idle && g_get_monotonic_time () < shutdown->deadline_us &&
      !g_task_return_error_if_cancelled (task))
    return G_SOURCE_CONTINUE;
  soup_server_disconnect (self->soup);
  if (!g_task_had_error (task))
    g_task_return_boolean (task, TRUE);
  return G_SOURCE_REMOVE;
}

void
tether_server_shutdown_async (TetherServer        *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Shutdown *shutdown;

  g_return_if_fail (TETHER_IS_SERVER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_server_shutdown_async);
  shutdown = g_new0 (Shutdown, 1);
  shutdown->deadline_us = g_get_monotonic_time () + SHUTDOWN_GRACE_US;
  g_task_set_task_data (task, shutdown, g_free);
  /* New requests are refused with 503 from now on; WebSockets are asked to go. */
  self->state.stopping = TRUE;
  _tether_server_hub_close_all (self->state.hub);
  g_timeout_add_full (G_PRIORITY_DEFAULT, SHUTDOWN_POLL_MS, shutdown_poll,
                                          g_steal_pointer (&task), g_object_unref);
}

gboolean
tether_server_shutdown_finish (TetherServer  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
