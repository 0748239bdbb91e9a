/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-ws-transport"
#include "config.h"

#include "tether-ws-transport-private.h"

/* ------------------------------------------------------------------ requests */

/* Keeps a refused token's error: asking again with it would only feed the
 * server's failed-authentication limiter, so requests fail at once with it
 * and nothing reconnects until set_token(). */
void
_tether_ws_refuse (TetherWsTransport *self,
                   const GError      *error)
{
  if (!g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED))
    return;
  g_clear_error (&self->refusal);
  self->refusal = g_error_copy (error);
}

void
_tether_ws_source_clear (GSource **source)
{
  if (*source != NULL)
    g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

void
_tether_ws_pending_free (gpointer data)
{
  Pending *p = data;

  _tether_ws_source_clear (&p->timeout);
  _tether_ws_source_clear (&p->cancelled);
  g_clear_object (&p->task);
  g_clear_pointer (&p->frame, g_bytes_unref);
  g_free (p->id);
  g_free (p);
}

/* Forgets @p and hands back its task, to be answered. */
static GTask *
pending_take (TetherWsTransport *self,
              Pending           *p)
{
  GTask *task = g_steal_pointer (&p->task);

  g_queue_remove (&self->waiting, p);
  g_hash_table_remove (self->pending, p->id);
  return task;
}

static void
pending_fail (TetherWsTransport *self,
              Pending           *p,
              const GError      *error)
{
  g_autoptr(GTask) task = pending_take (self, p);

  g_task_return_error (task, g_error_copy (error));
}

static gboolean
is_sent (TetherWsTransport *self,
         Pending           *p)
{
  return g_queue_find (&self->waiting, p) == NULL;
}

/* Fails the requests already sent (@sent) or those still waiting. */
void
_tether_ws_fail_requests (TetherWsTransport *self,
                          gboolean           sent,
                          const GError      *error)
{
  g_autoptr(GPtrArray) doomed = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer p;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &p))
    if (is_sent (self, p) == sent)
      g_ptr_array_add (doomed, p);
  for (guint i = 0; i < doomed->len; i++)
    pending_fail (self, g_ptr_array_index (doomed, i), error);
}

/* The sent request that @first puts before all others, or NULL. */
static Pending *
first_sent (TetherWsTransport *self,
            gboolean         (*first) (Pending *a, Pending *b))
{
  Pending *found = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (is_sent (self, value) && (found == NULL || first (value, found)))
      found = value;
  return found;
}

static gboolean
larger (Pending *a,
        Pending *b)
{
  return g_bytes_get_size (a->frame) > g_bytes_get_size (b->frame);
}

static gboolean
older (Pending *a,
       Pending *b)
{
  return a->number < b->number;
}

/* The server closed with 1009 for one frame it found too large, which it
 * does not name: the largest frame sent is the one, and only it gets
 * @too_large (a batch is then halved, a single change fails). The others
 * were fine and are sent again, as after any lost connection. */
void
_tether_ws_fail_too_big (TetherWsTransport *self,
                         const GError      *too_large)
{
  g_autoptr(GError) lost = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                                        "the connection closed over another request that was too large; "
                                        "sync sends this one again");
  Pending *largest = first_sent (self, larger);

  if (largest != NULL)
    pending_fail (self, largest, too_large);
  _tether_ws_fail_requests (self, TRUE, lost);
}

/* The sent request that waited longest for its answer, or NULL. */
static Pending *
oldest_sent (TetherWsTransport *self)
{
  return first_sent (self, older);
}

static void arm_timeout (TetherWsTransport *self,
                         Pending           *p);

static gboolean
on_request_timeout (gpointer data)
{
  Pending *p = data;
  /* the task's reference goes with it */
  g_autoptr(TetherWsTransport) self = g_object_ref (g_task_get_source_object (p->task));
  g_autoptr(GError) error = NULL;
  gboolean sent = is_sent (self, p);

  /* A large frame going up or coming down a slow link shows no message
   * for a long while, yet the link moves: only silence fails. */
  if (sent && _tether_ws_link_active (self, self->timeout_s * 1000))
    {
      arm_timeout (self, p);
      return G_SOURCE_REMOVE;
    }
  error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK,
                       "the server at %s did not answer within %u s: check the network "
                       "or try again later", tether_http_transport_get_base_url (self->http),
                       self->timeout_s);
  pending_fail (self, p, error);
  if (sent)
    _tether_ws_abandon (self);
  return G_SOURCE_REMOVE;
}

/* The timeout counts time without a sign of life, as libsoup's HTTP
 * timeout counts time without I/O: it starts again when the request is
 * sent and whenever the socket brings something (_tether_ws_heard). */
static void
arm_timeout (TetherWsTransport *self,
             Pending           *p)
{
  _tether_ws_source_clear (&p->timeout);
  if (self->timeout_s == 0)
    return;
  p->timeout = g_timeout_source_new_seconds (self->timeout_s);
  g_source_set_callback (p->timeout, on_request_timeout, p, NULL);
  g_source_attach (p->timeout, self->context);
}

void
_tether_ws_heard (TetherWsTransport *self)
{
  GHashTableIter iter;
  gpointer p;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &p))
    if (is_sent (self, p))
      arm_timeout (self, p);
}

/* A GCancellableSource dispatches in our context whatever thread cancels. */
static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Pending *p = data;
  TetherWsTransport *self = g_task_get_source_object (p->task);
  g_autoptr(GTask) task = pending_take (self, p);

  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

static void
pending_watch (TetherWsTransport *self,
               Pending           *p,
               GCancellable      *cancellable)
{
  arm_timeout (self, p);
  if (cancellable != NULL)
    {
      p->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancelled, G_SOURCE_FUNC (on_cancelled), p, NULL);
      g_source_attach (p->cancelled, self->context);
    }
}

static Pending *
pending_new (TetherWsTransport *self,
             const char        *type,
             JsonObject        *payload,
             GTask             *task)
{
  g_autoptr(JsonObject) frame = json_object_new ();
  Pending *p = g_new0 (Pending, 1);

  p->task = task;
  p->number = ++self->last_id;
  p->id = g_strdup_printf ("%" G_GUINT64_FORMAT, p->number);
  p->answer_type = g_str_equal (type, "push") ? "push_result" : "pull_result";
  json_object_set_string_member (frame, "type", type);
  json_object_set_string_member (frame, "requestId", p->id);
  json_object_set_object_member (frame, "payload", json_object_ref (payload));
  p->frame = _tether_transport_to_bytes (frame);
  return p;
}

gboolean
_tether_ws_is_open (TetherWsTransport *self)
{
  return self->conn != NULL &&
         soup_websocket_connection_get_state (self->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* A socket that is closing takes no more frames: the request waits for
 * the next one. */
void
_tether_ws_send_or_wait (TetherWsTransport *self,
                         Pending           *p)
{
  if (_tether_ws_is_open (self) && self->max_frame > 0 && g_bytes_get_size (p->frame) > self->max_frame)
    {
      g_autofree char *what = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes, where it reads %" G_GSIZE_FORMAT
                                               " at most", g_bytes_get_size (p->frame), self->max_frame);
      g_autoptr(GError) error = _tether_transport_refusal_new (TETHER_SYNC_ERROR_TOO_LARGE,
                                                               tether_http_transport_get_base_url (self->http),
                                                               what, NULL);

      pending_fail (self, p, error);   /* before it costs the connection */
    }
  else if (_tether_ws_is_open (self))
    {
      /* the time spent waiting for the socket is not the server's */
      arm_timeout (self, p);
      soup_websocket_connection_send_message (self->conn, SOUP_WEBSOCKET_DATA_TEXT, p->frame);
    }
  else
    {
      g_queue_push_tail (&self->waiting, p);
      _tether_ws_open_now (self);
    }
}

void
_tether_ws_request_async (TetherWsTransport   *self,
                          const char          *type,
                          JsonObject          *payload,
                          GCancellable        *cancellable,
                          gpointer             source_tag,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Pending *p;

  /* Until the next request, not the next answer: see the HTTP transport. */
  self->retry_after_ms = 0;
  g_task_set_source_tag (task, source_tag);
  if (self->refusal != NULL)
    {
      g_task_return_error (task, g_error_copy (self->refusal));
      return;
    }
  p = pending_new (self, type, payload, g_steal_pointer (&task));
  g_hash_table_insert (self->pending, p->id, p);
  pending_watch (self, p, cancellable);
  _tether_ws_send_or_wait (self, p);
}

/* ------------------------------------------------------------------ messages */

static GError *
frame_error (TetherWsTransport *self,
             JsonNode          *payload)
{
  JsonObject *object = payload != NULL && JSON_NODE_HOLDS_OBJECT (payload) ? json_node_get_object (payload) : NULL;
  const char *name = _tether_transport_string_member (object, "code");
  TetherSyncError code = _tether_transport_code_for_name (name);

  /* An HTTP answer would carry Retry-After; a message carries it inside. */
  if (code == TETHER_SYNC_ERROR_RATE_LIMITED && object != NULL)
    self->retry_after_ms = 1000 * CLAMP (json_object_get_int_member_with_default (object, "retryAfter", 0),
                                         0, TETHER_RETRY_AFTER_MAX_MS / 1000);
  return _tether_transport_refusal_new (code, tether_http_transport_get_base_url (self->http),
                                        name != NULL ? name : "an error without a code",
                                        _tether_transport_string_member (object, "error"));
}

static void
answer_pending (TetherWsTransport *self,
                Pending           *p,
                const char        *type,
                JsonNode          *payload)
{
  const char *expected = p->answer_type;
  g_autoptr(GTask) task = pending_take (self, p);
  g_autofree char *what = NULL;

  if (g_strcmp0 (type, "error") == 0)
    {
      GError *error = frame_error (self, payload);

      _tether_ws_refuse (self, error);
      g_task_return_error (task, error);
    }
  else if (g_strcmp0 (type, expected) == 0 && payload != NULL && JSON_NODE_HOLDS_OBJECT (payload))
    g_task_return_pointer (task, json_object_ref (json_node_get_object (payload)),
                           (GDestroyNotify) json_object_unref);
  else
    {
      what = g_strdup_printf ("a \"%s\" message answered a request that expects \"%s\" with an object",
                              type != NULL ? type : "untyped", expected);
      g_task_return_error (task, _tether_transport_refusal_new (TETHER_SYNC_ERROR_PROTOCOL,
                                                                tether_http_transport_get_base_url (self->http),
                                                                what, NULL));
    }
}

void
_tether_ws_on_message (SoupWebsocketConnection *conn,
                       int                      data_type,
                       GBytes                  *message,
                       TetherWsTransport       *self)
{
  g_autoptr(JsonObject) frame = _tether_transport_parse_object (message);
  const char *type = _tether_transport_string_member (frame, "type");
  const char *id = _tether_transport_string_member (frame, "requestId");
  JsonNode *payload = frame != NULL ? json_object_get_member (frame, "payload") : NULL;
  Pending *p = id != NULL ? g_hash_table_lookup (self->pending, id) : NULL;

  if (frame != NULL)
    self->healthy = TRUE;
  _tether_ws_heard (self);
  if (g_strcmp0 (type, "server_push") == 0 && payload != NULL && JSON_NODE_HOLDS_ARRAY (payload))
    {
      tether_transport_emit_server_push (TETHER_TRANSPORT (self), json_node_get_array (payload));
      return;
    }
  /* tether-server answers a connection's frames in order, with a null
   * requestId for a frame it could not read (too large, say): that frame
   * is the oldest one still unanswered. */
  if (id == NULL && g_strcmp0 (type, "error") == 0)
    p = oldest_sent (self);
  if (p != NULL)
    answer_pending (self, p, type, payload);
  else
    g_debug ("ignored a message of type %s for request %s, which is no longer waiting", type, id);
}

