/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server"
#include "config.h"

#include <string.h>

#include "tether-server-private.h"

#define SHUTDOWN_GRACE_US   (5 * G_USEC_PER_SEC)
#define SHUTDOWN_POLL_MS    20
/* Clients come back all at once after a restart: GSocket's default backlog
 * of 10 would turn some of them away while the first requests run. */
#define LISTEN_BACKLOG      1024
/* Failed authentications refill ten times slower than a user's requests. */
#define STRANGER_RATE_SHARE 0.1

struct _TetherServer
{
  GObject            parent_instance;
  SoupServer        *soup;
  GSocketService    *service;     /* accepts the connections it hands to soup */
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
  options->read_timeout = TETHER_SERVER_DEFAULT_READ_TIMEOUT;
}

static void
stop_listening (TetherServer *self)
{
  if (self->service == NULL)
    return;
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  g_clear_object (&self->service);
}

static void
tether_server_dispose (GObject *object)
{
  TetherServer *self = TETHER_SERVER (object);

  stop_listening (self);
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
  g_return_val_if_fail (options->max_body <= TETHER_SERVER_MAX_MAX_BODY, NULL);

  self = g_object_new (TETHER_TYPE_SERVER, NULL);
  self->address = g_strdup (options->address);
  self->port = options->port;
  self->state.core = g_object_ref (core);
  self->state.base = normalize_base (options->base_path);
  self->state.max_body = options->max_body;
  self->state.trust_proxy = options->trust_proxy;
  self->state.read_timeout = options->read_timeout;
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
bound_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  return G_IS_INET_SOCKET_ADDRESS (local) ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

/* Connections are accepted here and handed to libsoup: libsoup 3.2's own
 * listener loses the GSocket of every connection it accepts (about 340
 * bytes each, for good: the server's memory grew with every request), while
 * a stream given to soup_server_accept_iostream() is freed with its
 * connection (docs/reliability.md, "Load"). */
static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  TetherServer *self = user_data;
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr(GError) error = NULL;

  if (self->soup != NULL &&
      !soup_server_accept_iostream (self->soup, G_IO_STREAM (connection), local, remote, &error))
    g_printerr ("tether-server: could not take a connection: %s\n", error->message);
  return TRUE;
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
  self->service = g_socket_service_new ();
  if ((socket = listening_socket (inet, self->port, error)) == NULL ||
      !g_socket_listener_add_socket (G_SOCKET_LISTENER (self->service), socket, NULL, error))
    {
      g_clear_object (&self->service);
      g_prefix_error (error, "cannot listen on %s port %u: ", self->address, self->port);
      return FALSE;
    }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  self->bound_port = bound_port (socket);
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
  stop_listening (self);
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
