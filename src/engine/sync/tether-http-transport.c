/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-http-transport"
#include "config.h"

#include <string.h>

#include "tether-http-transport-private.h"

#define DEFAULT_TIMEOUT_S 30

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
  _tether_http_request_start (TETHER_HTTP_TRANSPORT (transport), "POST", "/push", request, FALSE, cancellable,
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

  _tether_http_request_start (TETHER_HTTP_TRANSPORT (transport), "POST", "/pull", bytes, FALSE, cancellable,
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
  g_autoptr(JsonObject) answer = _tether_transport_task_finish (source, result, _tether_http_request_start, &error);

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
  g_autoptr(JsonObject) info = _tether_transport_task_finish (self, result, _tether_http_request_start, &error);
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
  _tether_http_request_start (self, "POST", "/pull", bytes, FALSE, cancellable,
                              _tether_http_request_start, info_checked_token, g_steal_pointer (&task));
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
  _tether_http_request_start (self, "GET", "", NULL, TRUE, cancellable, _tether_http_request_start,
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

/* Pulls use the session from worker threads, and libsoup allows that
 * only for sending: a session is configured once, before its first
 * request. A new timeout or user agent therefore gets a new session;
 * requests already under way finish on the old one, which they hold. */
static SoupSession *
new_session (guint       timeout,
             const char *user_agent)
{
  SoupSession *session = soup_session_new_with_options ("timeout", timeout, "user-agent", user_agent, NULL);

  /* sends Accept-Encoding and decodes gzip answers */
  if (!soup_session_has_feature (session, SOUP_TYPE_CONTENT_DECODER))
    soup_session_add_feature_by_type (session, SOUP_TYPE_CONTENT_DECODER);
  return session;
}

static void
replace_session (TetherHttpTransport *self,
                 guint                timeout,
                 const char          *user_agent)
{
  g_autofree char *agent = g_strdup (user_agent);   /* may be the old session's */

  g_object_unref (self->session);
  self->session = new_session (timeout, agent);
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
      replace_session (self, soup_session_get_timeout (self->session), g_value_get_string (value));
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
  self->session = new_session (DEFAULT_TIMEOUT_S, "tether/" PACKAGE_VERSION " ");
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
  replace_session (self, seconds, soup_session_get_user_agent (self->session));
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
