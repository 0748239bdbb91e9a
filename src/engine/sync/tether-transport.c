/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-transport"
#include "config.h"

#include <string.h>

#include "tether-transport.h"
#include "tether-faulty-transport.h"
#include "tether-private.h"
#include "tether-transport-private.h"

/* json-glib parses recursively: an answer nested some 100,000 levels deep
 * (a hostile or broken server) overflowed the stack. The server refuses
 * requests deeper than 64 levels, so its answers stay far below this. */
#define TETHER_TRANSPORT_MAX_DEPTH 256

G_DEFINE_QUARK (tether-sync-error-quark, tether_sync_error)

G_DEFINE_INTERFACE (TetherTransport, tether_transport, G_TYPE_OBJECT)

enum {
  SIGNAL_SERVER_PUSH,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
tether_transport_default_init (TetherTransportInterface *iface)
{
  g_object_interface_install_property (iface,
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /* (JsonArray *changes): pull change objects the server sent unasked. */
  signals[SIGNAL_SERVER_PUSH] =
    g_signal_new ("server-push", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JSON_TYPE_ARRAY);
}

/* ------------------------------------------------------------- the wrappers */

void
tether_transport_push_async (TetherTransport     *self,
                             JsonObject          *request,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));
  g_return_if_fail (request != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  TETHER_TRANSPORT_GET_IFACE (self)->push_async (self, request, cancellable, callback, user_data);
}

void
tether_transport_push_bytes_async (TetherTransport     *self,
                                   GBytes              *request,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  TetherTransportInterface *iface;
  g_autoptr(JsonObject) object = NULL;

  g_return_if_fail (TETHER_IS_TRANSPORT (self));
  g_return_if_fail (request != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  iface = TETHER_TRANSPORT_GET_IFACE (self);
  if (iface->push_bytes_async != NULL)
    {
      iface->push_bytes_async (self, request, cancellable, callback, user_data);
      return;
    }
  object = _tether_transport_parse_object (request);
  if (object == NULL)
    {
      /* Text that json-glib would not read back (nested past the depth
       * below; the engine's own text is valid JSON): no server reads it
       * either. A refusal of this batch, which the engine halves down to
       * the change that fails; the sync goes on. */
      g_task_report_new_error (self, callback, user_data, tether_transport_push_bytes_async,
                               TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_REJECTED,
                               "the push is JSON nested deeper than %d levels, which no Tether server reads",
                               TETHER_TRANSPORT_MAX_DEPTH);
      return;
    }
  iface->push_async (self, object, cancellable, callback, user_data);
}

JsonObject *
tether_transport_push_finish (TetherTransport  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  if (g_async_result_is_tagged (result, tether_transport_push_bytes_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return TETHER_TRANSPORT_GET_IFACE (self)->push_finish (self, result, error);
}

void
tether_transport_pull_async (TetherTransport     *self,
                             JsonObject          *request,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));
  g_return_if_fail (request != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  TETHER_TRANSPORT_GET_IFACE (self)->pull_async (self, request, cancellable, callback, user_data);
}

JsonObject *
tether_transport_pull_finish (TetherTransport  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return TETHER_TRANSPORT_GET_IFACE (self)->pull_finish (self, result, error);
}

void
tether_transport_info_async (TetherTransport     *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  TETHER_TRANSPORT_GET_IFACE (self)->info_async (self, cancellable, callback, user_data);
}

JsonObject *
tether_transport_info_finish (TetherTransport  *self,
                              GAsyncResult     *result,
                              GError          **error)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (self), NULL);
  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);

  return TETHER_TRANSPORT_GET_IFACE (self)->info_finish (self, result, error);
}

/* A transport without a persistent link leaves connect and disconnect unset. */
void
tether_transport_connect (TetherTransport *self)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));

  if (TETHER_TRANSPORT_GET_IFACE (self)->connect != NULL)
    TETHER_TRANSPORT_GET_IFACE (self)->connect (self);
}

void
tether_transport_disconnect (TetherTransport *self)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));

  if (TETHER_TRANSPORT_GET_IFACE (self)->disconnect != NULL)
    TETHER_TRANSPORT_GET_IFACE (self)->disconnect (self);
}

gboolean
tether_transport_is_connected (TetherTransport *self)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (self), FALSE);

  if (TETHER_TRANSPORT_GET_IFACE (self)->is_connected == NULL)
    return FALSE;
  return TETHER_TRANSPORT_GET_IFACE (self)->is_connected (self);
}

gint64
tether_transport_get_retry_after_ms (TetherTransport *self)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (self), 0);

  if (TETHER_TRANSPORT_GET_IFACE (self)->get_retry_after_ms == NULL)
    return 0;
  return TETHER_TRANSPORT_GET_IFACE (self)->get_retry_after_ms (self);
}

void
tether_transport_emit_server_push (TetherTransport *self,
                                   JsonArray       *changes)
{
  g_return_if_fail (TETHER_IS_TRANSPORT (self));
  g_return_if_fail (changes != NULL);

  g_signal_emit (self, signals[SIGNAL_SERVER_PUSH], 0, changes);
}

gint64
tether_transport_parse_retry_after (const char *value)
{
  g_autofree char *text = NULL;
  g_autoptr(GDateTime) date = NULL;
  g_autoptr(GDateTime) now = NULL;
  guint64 seconds;

  if (value == NULL)
    return -1;
  text = g_strstrip (g_strdup (value));
  /* Digits past the limit, even past 64 bits, are the limit. */
  if (*text != '\0' && strspn (text, "0123456789") == strlen (text))
    {
      seconds = g_ascii_strtoull (text, NULL, 10);   /* G_MAXUINT64 when too long */
      return (gint64) MIN (seconds, TETHER_RETRY_AFTER_MAX_MS / 1000) * 1000;
    }
  /* A date already past means "now", not an error. */
  date = soup_date_time_new_from_http_string (text);
  if (date == NULL)
    return -1;
  now = g_date_time_new_now_utc ();
  return CLAMP (g_date_time_difference (date, now) / 1000, 0, TETHER_RETRY_AFTER_MAX_MS);
}

/* ----------------------------------------------------- shared with the transports */

static TetherHttpTransport *
http_of (TetherTransport *transport)
{
  while (TETHER_IS_FAULTY_TRANSPORT (transport))
    transport = tether_faulty_transport_get_inner (TETHER_FAULTY_TRANSPORT (transport));
  if (TETHER_IS_HTTP_TRANSPORT (transport))
    return TETHER_HTTP_TRANSPORT (transport);
  if (TETHER_IS_WS_TRANSPORT (transport))
    return _tether_ws_transport_get_http (TETHER_WS_TRANSPORT (transport));
  return NULL;
}

char *
_tether_transport_address (TetherTransport *transport)
{
  TetherHttpTransport *http = http_of (transport);
  g_autoptr(GUri) uri = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  int port;

  if (http == NULL)
    return NULL;
  uri = g_uri_parse (tether_http_transport_get_base_url (http), SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : g_str_equal (scheme, "https") ? 443 : 80;
  path = g_strdup (g_uri_get_path (uri));
  while (g_str_has_suffix (path, "/"))
    path[strlen (path) - 1] = '\0';
  return g_strdup_printf ("%s://%s:%d%s", scheme, host, port, path);
}

gboolean
_tether_transport_same_address (TetherTransport *a,
                                TetherTransport *b)
{
  g_autofree char *first = a != NULL ? _tether_transport_address (a) : NULL;
  g_autofree char *second = b != NULL ? _tether_transport_address (b) : NULL;

  return first != NULL && g_strcmp0 (first, second) == 0;
}

char *
_tether_transport_identity (TetherTransport *transport)
{
  g_autofree char *address = _tether_transport_address (transport);
  g_autofree char *fingerprint = NULL;
  const char *token;

  if (address == NULL)
    return NULL;
  token = _tether_http_transport_get_token (http_of (transport));
  if (token != NULL && *token != '\0')
    fingerprint = g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
  return g_strdup_printf ("%s token:%.16s", address, fingerprint != NULL ? fingerprint : "none");
}

TetherSyncError
_tether_transport_code_for_status (guint status)
{
  switch (status)
    {
    case SOUP_STATUS_UNAUTHORIZED:
      return TETHER_SYNC_ERROR_UNAUTHORIZED;
    case SOUP_STATUS_CONFLICT:
      return TETHER_SYNC_ERROR_SCHEMA;
    case SOUP_STATUS_GONE:
      return TETHER_SYNC_ERROR_CURSOR_EXPIRED;
    case 429:   /* Too Many Requests: libsoup 3.2 has no name for it */
      return TETHER_SYNC_ERROR_RATE_LIMITED;
    case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
      return TETHER_SYNC_ERROR_TOO_LARGE;
    default:
      break;
    }
  if (SOUP_STATUS_IS_SERVER_ERROR (status))
    return TETHER_SYNC_ERROR_SERVER;
  /* Only a 400 refuses what the request holds (a push is then halved down
   * to the change that fails). Any other 4xx (a 404 at a wrong path, with
   * the protocol's body or not) says this address is no Tether sync: it
   * must not fail every change one by one. 1xx and 3xx: nothing a Tether
   * server answers. */
  if (status == SOUP_STATUS_BAD_REQUEST)
    return TETHER_SYNC_ERROR_REJECTED;
  return TETHER_SYNC_ERROR_PROTOCOL;
}

/* Codes as docs/protocol.md lists them; any other refusal is REJECTED. */
TetherSyncError
_tether_transport_code_for_name (const char *name)
{
  static const struct {
    const char      *name;
    TetherSyncError  code;
  } codes[] = {
    { "unauthorized", TETHER_SYNC_ERROR_UNAUTHORIZED },
    { "rate-limited", TETHER_SYNC_ERROR_RATE_LIMITED },
    { "cursor-expired", TETHER_SYNC_ERROR_CURSOR_EXPIRED },
    { "schema-too-new", TETHER_SYNC_ERROR_SCHEMA },
    { "schema-too-old", TETHER_SYNC_ERROR_SCHEMA },
    { "unavailable", TETHER_SYNC_ERROR_SERVER },
    { "internal", TETHER_SYNC_ERROR_SERVER },
    { "too-large", TETHER_SYNC_ERROR_TOO_LARGE },
    { "too-many-changes", TETHER_SYNC_ERROR_TOO_LARGE },
    { "bad-cursor", TETHER_SYNC_ERROR_BAD_CURSOR },
  };

  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (codes); i++)
    if (g_str_equal (name, codes[i].name))
      return codes[i].code;
  return TETHER_SYNC_ERROR_REJECTED;
}

GError *
_tether_transport_refusal_new (TetherSyncError  code,
                               const char      *server,
                               const char      *what,
                               const char      *server_text)
{
  g_autofree char *said = server_text != NULL && *server_text != '\0'
                          ? g_strdup_printf (". The server said: %s", server_text)
                          : g_strdup ("");

  switch (code)
    {
    case TETHER_SYNC_ERROR_UNAUTHORIZED:
      /* Read by app and CLI users alike: name both places a token is set. */
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s refused the token (%s): "
                          "check it in Preferences → Sync, or with `tether remote set URL "
                          "--token-file FILE`%s", server, what, said);
    case TETHER_SYNC_ERROR_RATE_LIMITED:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s is limiting this client's "
                          "requests (%s): sync resumes when it allows%s", server, what, said);
    case TETHER_SYNC_ERROR_SERVER:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s failed (%s): "
                          "try again later%s", server, what, said);
    case TETHER_SYNC_ERROR_CURSOR_EXPIRED:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s no longer has the changes "
                          "since the last sync (%s): pull again from the start%s", server, what, said);
    case TETHER_SYNC_ERROR_SCHEMA:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s uses another schema version "
                          "(%s): update the app or the server's schema%s", server, what, said);
    case TETHER_SYNC_ERROR_TOO_LARGE:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s refused a request over its "
                          "size limit (%s): send fewer changes at once%s", server, what, said);
    case TETHER_SYNC_ERROR_BAD_CURSOR:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s does not know where this "
                          "database's last sync ended (%s): its storage went back to an older copy, "
                          "or another server answers there%s", server, what, said);
    case TETHER_SYNC_ERROR_PROTOCOL:
      return g_error_new (TETHER_SYNC_ERROR, code, "%s did not answer like a Tether server: %s%s",
                          server, what, said);
    default:
      return g_error_new (TETHER_SYNC_ERROR, code, "the server at %s refused the request (%s)%s",
                          server, what, said);
    }
}

GError *
_tether_transport_network_error_new (const char   *server,
                                     guint         timeout_s,
                                     const GError *cause)
{
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (cause);
  /* 0: no timeout of ours; the system's connect timeout ran out */
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) && timeout_s == 0)
    return g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                        "the server at %s did not answer in time: check the network "
                        "or try again later", server);
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                        "the server at %s did not answer within %u s: check the network "
                        "or try again later", server, timeout_s);
  return g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                      "cannot reach %s: %s", server, cause->message);
}

JsonObject *
_tether_transport_task_finish (gpointer       source,
                               GAsyncResult  *result,
                               gpointer       source_tag,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, source), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
_tether_transport_describe_status (SoupMessage *msg)
{
  const char *phrase = soup_message_get_reason_phrase (msg);

  if (phrase == NULL || *phrase == '\0')
    return g_strdup_printf ("%u", soup_message_get_status (msg));
  return g_strdup_printf ("%u %s", soup_message_get_status (msg), phrase);
}

const char *
_tether_transport_string_member (JsonObject *object,
                                 const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

JsonObject *
_tether_transport_parse_object (GBytes *bytes)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  gsize length = 0;
  const char *data = g_bytes_get_data (bytes, &length);
  JsonNode *root;

  /* An empty body may have NULL data, which json-glib refuses with a critical. */
  if (length == 0 || _tether_json_nested_deeper (data, length, TETHER_TRANSPORT_MAX_DEPTH) ||
      !json_parser_load_from_data (parser, data, length, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

GBytes *
_tether_transport_to_bytes (JsonObject *object)
{
  GString *text = g_string_sized_new (1024);
  g_autoptr(JsonNode) root = json_node_init_object (json_node_alloc (), object);

  _tether_json_append_node (text, root);
  return g_string_free_to_bytes (text);
}
