/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-faulty-transport"
#include "config.h"

#include "tether-faulty-transport.h"
#include "tether-transport-private.h"

struct _TetherFaultyTransport
{
  GObject          parent_instance;
  TetherTransport *inner;
  GRand           *rand;      /* the delays, from the seed */
  guint32          seed;
  guint            drop_every;
  guint            lose_every;
  guint            duplicate_every;
  guint            max_delay_ms;
  gboolean         offline;
  guint            n_requests;
  guint            dropped;
  guint            lost;
  guint            duplicated;
};

static void transport_iface_init (TetherTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherFaultyTransport, tether_faulty_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_TRANSPORT, transport_iface_init))

enum {
  PROP_0,
  PROP_INNER,
  PROP_SEED,
  N_PROPS,
  PROP_CONNECTED = N_PROPS,
};

static GParamSpec *properties[N_PROPS];

typedef enum {
  KIND_PUSH,
  KIND_PULL,
  KIND_INFO,
} Kind;

typedef enum {
  FAULT_NONE,
  FAULT_DROP,
  FAULT_LOSE,
  FAULT_DUPLICATE,
} Fault;

typedef struct {
  Kind        kind;
  Fault       fault;
  guint       number;    /* of the request, from 1 */
  gboolean    resent;
  JsonObject *request;   /* NULL for info */
} Call;

static void
call_free (gpointer data)
{
  Call *call = data;

  g_clear_pointer (&call->request, json_object_unref);
  g_free (call);
}

/* One counter for every request, so that "every nth" means the same
 * whatever mix of push, pull and info the engine sends. The fault is
 * counted once it happens, not here: a request cancelled or answered
 * while offline meets none, and a test must not pass on a resend that
 * never went out. */
static Fault
next_fault (TetherFaultyTransport *self,
            guint                  number)
{
  if (self->drop_every > 0 && number % self->drop_every == 0)
    return FAULT_DROP;
  if (self->lose_every > 0 && number % self->lose_every == 0)
    return FAULT_LOSE;
  if (self->duplicate_every > 0 && number % self->duplicate_every == 0)
    return FAULT_DUPLICATE;
  return FAULT_NONE;
}

static void
return_network_error (GTask      *task,
                      const char *what)
{
  Call *call = g_task_get_task_data (task);

  g_task_return_new_error (task, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                           "the faulty transport %s request %u on purpose", what, call->number);
}

/* ------------------------------------------------------------------ sending */

static void send_inner (GTask *task);

static JsonObject *
finish_inner (TetherTransport  *inner,
              Kind              kind,
              GAsyncResult     *result,
              GError          **error)
{
  switch (kind)
    {
    case KIND_PUSH:
      return tether_transport_push_finish (inner, result, error);
    case KIND_PULL:
      return tether_transport_pull_finish (inner, result, error);
    case KIND_INFO:
    default:
      return tether_transport_info_finish (inner, result, error);
    }
}

static void
on_inner_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherFaultyTransport *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = finish_inner (TETHER_TRANSPORT (source), call->kind, result, &error);

  /* The network went away while the request was out: its answer is lost,
   * whether or not the server acted on it. */
  if (self->offline)
    return_network_error (task, "went offline while waiting for the answer to");
  else if (call->fault == FAULT_DUPLICATE && !call->resent)
    {
      call->resent = TRUE;
      self->duplicated++;
      send_inner (g_steal_pointer (&task));
    }
  else if (call->fault == FAULT_LOSE)
    {
      self->lost++;
      return_network_error (task, "lost the answer to");
    }
  else if (answer == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, g_steal_pointer (&answer), (GDestroyNotify) json_object_unref);
}

static void
send_inner (GTask *task)
{
  TetherFaultyTransport *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  switch (call->kind)
    {
    case KIND_PUSH:
      tether_transport_push_async (self->inner, call->request, cancellable, on_inner_done, task);
      break;
    case KIND_PULL:
      tether_transport_pull_async (self->inner, call->request, cancellable, on_inner_done, task);
      break;
    case KIND_INFO:
    default:
      tether_transport_info_async (self->inner, cancellable, on_inner_done, task);
      break;
    }
}

static gboolean
start (gpointer data)
{
  GTask *task = data;
  TetherFaultyTransport *self = g_task_get_source_object (task);
  Call *call = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    g_object_unref (task);
  else if (call->fault == FAULT_DROP)
    {
      self->dropped++;
      return_network_error (task, "dropped");
      g_object_unref (task);
    }
  else
    send_inner (task);
  return G_SOURCE_REMOVE;
}

static void
request_async (TetherFaultyTransport *self,
               Kind                   kind,
               JsonObject            *request,
               GCancellable          *cancellable,
               gpointer               source_tag,
               GAsyncReadyCallback    callback,
               gpointer               user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GSource) delay = NULL;
  Call *call = g_new0 (Call, 1);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, call, call_free);
  call->kind = kind;
  call->request = request != NULL ? json_object_ref (request) : NULL;
  if (self->offline)
    {
      g_task_return_new_error (task, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                               "the faulty transport is offline");
      return;
    }
  call->number = ++self->n_requests;
  call->fault = next_fault (self, call->number);
  if (self->max_delay_ms == 0)
    {
      start (g_steal_pointer (&task));
      return;
    }
  delay = g_timeout_source_new (g_rand_int_range (self->rand, 0, self->max_delay_ms + 1));
  g_source_set_callback (delay, start, g_steal_pointer (&task), NULL);
  g_source_attach (delay, g_main_context_get_thread_default ());
}

/* ---------------------------------------------------------------- interface */

static void
tether_faulty_transport_push_async (TetherTransport     *transport,
                                    JsonObject          *request,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  request_async (TETHER_FAULTY_TRANSPORT (transport), KIND_PUSH, request, cancellable,
                 tether_faulty_transport_push_async, callback, user_data);
}

static JsonObject *
tether_faulty_transport_push_finish (TetherTransport  *transport,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_faulty_transport_push_async, error);
}

static void
tether_faulty_transport_pull_async (TetherTransport     *transport,
                                    JsonObject          *request,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  request_async (TETHER_FAULTY_TRANSPORT (transport), KIND_PULL, request, cancellable,
                 tether_faulty_transport_pull_async, callback, user_data);
}

static JsonObject *
tether_faulty_transport_pull_finish (TetherTransport  *transport,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_faulty_transport_pull_async, error);
}

static void
tether_faulty_transport_info_async (TetherTransport     *transport,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  request_async (TETHER_FAULTY_TRANSPORT (transport), KIND_INFO, NULL, cancellable,
                 tether_faulty_transport_info_async, callback, user_data);
}

static JsonObject *
tether_faulty_transport_info_finish (TetherTransport  *transport,
                                     GAsyncResult     *result,
                                     GError          **error)
{
  return _tether_transport_task_finish (transport, result, tether_faulty_transport_info_async, error);
}

static void
tether_faulty_transport_connect (TetherTransport *transport)
{
  tether_transport_connect (TETHER_FAULTY_TRANSPORT (transport)->inner);
}

static void
tether_faulty_transport_disconnect (TetherTransport *transport)
{
  tether_transport_disconnect (TETHER_FAULTY_TRANSPORT (transport)->inner);
}

static gboolean
tether_faulty_transport_is_connected (TetherTransport *transport)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (transport);

  return !self->offline && tether_transport_is_connected (self->inner);
}

static gint64
tether_faulty_transport_get_retry_after_ms (TetherTransport *transport)
{
  return tether_transport_get_retry_after_ms (TETHER_FAULTY_TRANSPORT (transport)->inner);
}

static void
transport_iface_init (TetherTransportInterface *iface)
{
  iface->push_async = tether_faulty_transport_push_async;
  iface->push_finish = tether_faulty_transport_push_finish;
  iface->pull_async = tether_faulty_transport_pull_async;
  iface->pull_finish = tether_faulty_transport_pull_finish;
  iface->info_async = tether_faulty_transport_info_async;
  iface->info_finish = tether_faulty_transport_info_finish;
  iface->connect = tether_faulty_transport_connect;
  iface->disconnect = tether_faulty_transport_disconnect;
  iface->is_connected = tether_faulty_transport_is_connected;
  iface->get_retry_after_ms = tether_faulty_transport_get_retry_after_ms;
}

/* ------------------------------------------------------------------- object */

static void
on_inner_server_push (TetherTransport       *inner,
                      JsonArray             *changes,
                      TetherFaultyTransport *self)
{
  tether_transport_emit_server_push (TETHER_TRANSPORT (self), changes);
}

static void
on_inner_connected (TetherTransport       *inner,
                    GParamSpec            *pspec,
                    TetherFaultyTransport *self)
{
  g_object_notify (G_OBJECT (self), "connected");
}

static void
tether_faulty_transport_constructed (GObject *object)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (object);

  G_OBJECT_CLASS (tether_faulty_transport_parent_class)->constructed (object);

  self->rand = g_rand_new_with_seed (self->seed);
  g_signal_connect_object (self->inner, "server-push", G_CALLBACK (on_inner_server_push), self, 0);
  g_signal_connect_object (self->inner, "notify::connected", G_CALLBACK (on_inner_connected), self, 0);
}

static void
tether_faulty_transport_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_INNER:
      g_value_set_object (value, self->inner);
      break;
    case PROP_SEED:
      g_value_set_uint (value, self->seed);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, tether_transport_is_connected (TETHER_TRANSPORT (self)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_faulty_transport_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (object);

  switch (prop_id)
    {
    case PROP_INNER:
      self->inner = g_value_dup_object (value);
      break;
    case PROP_SEED:
      self->seed = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_faulty_transport_dispose (GObject *object)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (object);

  g_clear_object (&self->inner);
  G_OBJECT_CLASS (tether_faulty_transport_parent_class)->dispose (object);
}

static void
tether_faulty_transport_finalize (GObject *object)
{
  TetherFaultyTransport *self = TETHER_FAULTY_TRANSPORT (object);

  g_clear_pointer (&self->rand, g_rand_free);
  G_OBJECT_CLASS (tether_faulty_transport_parent_class)->finalize (object);
}

static void
tether_faulty_transport_class_init (TetherFaultyTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = tether_faulty_transport_constructed;
  object_class->get_property = tether_faulty_transport_get_property;
  object_class->set_property = tether_faulty_transport_set_property;
  object_class->dispose = tether_faulty_transport_dispose;
  object_class->finalize = tether_faulty_transport_finalize;

  properties[PROP_INNER] =
    g_param_spec_object ("inner", NULL, NULL, TETHER_TYPE_TRANSPORT, flags);
  properties[PROP_SEED] =
    g_param_spec_uint ("seed", NULL, NULL, 0, G_MAXUINT32, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
  g_object_class_override_property (object_class, PROP_CONNECTED, "connected");
}

static void
tether_faulty_transport_init (TetherFaultyTransport *self)
{
}

/* --------------------------------------------------------------- public API */

TetherFaultyTransport *
tether_faulty_transport_new (TetherTransport *inner,
                             guint32          seed)
{
  g_return_val_if_fail (TETHER_IS_TRANSPORT (inner), NULL);

  return g_object_new (TETHER_TYPE_FAULTY_TRANSPORT, "inner", inner, "seed", seed, NULL);
}

void
tether_faulty_transport_set_drop_every (TetherFaultyTransport *self,
                                        guint                  n)
{
  g_return_if_fail (TETHER_IS_FAULTY_TRANSPORT (self));

  self->drop_every = n;
}

void
tether_faulty_transport_set_lose_every (TetherFaultyTransport *self,
                                        guint                  n)
{
  g_return_if_fail (TETHER_IS_FAULTY_TRANSPORT (self));

  self->lose_every = n;
}

void
tether_faulty_transport_set_duplicate_every (TetherFaultyTransport *self,
                                             guint                  n)
{
  g_return_if_fail (TETHER_IS_FAULTY_TRANSPORT (self));

  self->duplicate_every = n;
}

void
tether_faulty_transport_set_max_delay (TetherFaultyTransport *self,
                                       guint                  ms)
{
  g_return_if_fail (TETHER_IS_FAULTY_TRANSPORT (self));

  self->max_delay_ms = ms;
}

void
tether_faulty_transport_set_offline (TetherFaultyTransport *self,
                                     gboolean               offline)
{
  g_return_if_fail (TETHER_IS_FAULTY_TRANSPORT (self));

  offline = !!offline;
  if (self->offline == offline)
    return;
  self->offline = offline;
  g_object_notify (G_OBJECT (self), "connected");
}

TetherTransport *
tether_faulty_transport_get_inner (TetherFaultyTransport *self)
{
  g_return_val_if_fail (TETHER_IS_FAULTY_TRANSPORT (self), NULL);

  return self->inner;
}

guint
tether_faulty_transport_get_dropped (TetherFaultyTransport *self)
{
  g_return_val_if_fail (TETHER_IS_FAULTY_TRANSPORT (self), 0);

  return self->dropped;
}

guint
tether_faulty_transport_get_lost (TetherFaultyTransport *self)
{
  g_return_val_if_fail (TETHER_IS_FAULTY_TRANSPORT (self), 0);

  return self->lost;
}

guint
tether_faulty_transport_get_duplicated (TetherFaultyTransport *self)
{
  g_return_val_if_fail (TETHER_IS_FAULTY_TRANSPORT (self), 0);

  return self->duplicated;
}
