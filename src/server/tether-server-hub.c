/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-hub"
#include "config.h"

#include <string.h>

#include "tether-server-private.h"

/* WebSocket connections: each is opened here, answers the client's messages
 * (tether-server-hub-messages.c) and gets server_push when its user's feed
 * moves (tether-server-hub-push.c). */

#define PING_SECONDS 30

static void
connection_free (TetherServerHubConnection *connection)
{
  g_signal_handlers_disconnect_by_data (connection->conn, connection);
  g_object_unref (connection->conn);
  tether_server_user_clear (&connection->user);
  if (connection->authorization != NULL)
    memset (connection->authorization, 0, strlen (connection->authorization));
  g_free (connection->authorization);
  g_hash_table_unref (connection->own_revs);
  g_free (connection->path);
  g_free (connection->client_id);
  g_free (connection);
}

/* Sending ------------------------------------------------------------------------- */

/* {type, requestId, payload} around a payload that is JSON text already;
 * @request_id is the client's JSON text, or NULL (null, or absent for
 * server_push). */
void
_tether_server_hub_send_text (TetherServerHubConnection *connection,
                              const char                *type,
                              const char                *request_id,
                              const char                *payload)
{
  g_autoptr(GString) text = g_string_sized_new (strlen (payload) + 64);

  if (connection->closed ||
      soup_websocket_connection_get_state (connection->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_string_append_printf (text, "{\"type\":\"%s\"", type);
  if (request_id != NULL)
    g_string_append_printf (text, ",\"requestId\":%s", request_id);
  else if (strcmp (type, "server_push") != 0)
    g_string_append (text, ",\"requestId\":null");
  g_string_append (text, ",\"payload\":");
  g_string_append (text, payload);
  g_string_append_c (text, '}');
  soup_websocket_connection_send_text (connection->conn, text->str);
}

void
_tether_server_hub_send_error (TetherServerHubConnection *connection,
                               const char                *request_id,
                               const GError              *error,
                               guint                      retry_after)
{
  g_autoptr(JsonNode) payload = tether_server_error_to_json (error);
  g_autofree char *text = NULL;

  /* The HTTP answer would carry Retry-After; a message carries it inside. */
  if (retry_after > 0)
    json_object_set_int_member (json_node_get_object (payload), "retryAfter", retry_after);
  text = tether_json_node_to_string (payload);
  _tether_server_hub_send_text (connection, "error", request_id, text);
}

/* The token may have been rotated, or the user removed, since the upgrade:
 * then this fails with UNAUTHORIZED and the connection must be closed. A
 * store failure is not a verdict on the token: only this use fails. */
gboolean
_tether_server_hub_still_valid (TetherServerHubConnection  *connection,
                                GError                    **error)
{
  g_auto(TetherServerUser) user = { 0 };
  g_autoptr(GError) local_error = NULL;

  if (tether_server_core_authenticate (connection->hub->state->core, connection->authorization,
                                       &user, &local_error) && user.id == connection->user.id)
    return TRUE;
  if (local_error != NULL &&
      !g_error_matches (local_error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED,
                       "this connection's token is no longer valid; reconnect with a new one");
  return FALSE;
}

void
_tether_server_hub_close_if_unauthorized (TetherServerHubConnection *connection,
                                          const GError              *error)
{
  if (g_error_matches (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED) &&
      soup_websocket_connection_get_state (connection->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (connection->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                     "the token is no longer valid");
}

/* server_push ---------------------------------------------------------------------- */


/* The user's feed position now: server_push starts after it. */
static gboolean
current_rev (TetherServerState *state,
             gint64             user_id,
             gint64            *rev)
{
  TetherServerStore *store = tether_server_core_get_store (state->core);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) none = NULL;
  gint64 purged_rev = 0;

  none = tether_server_store_pull (store, user_id, G_MAXINT64, NULL, NULL, 1, rev, &purged_rev, &error);
  if (none == NULL)
    g_printerr ("tether-server: cannot read the feed position of user %" G_GINT64_FORMAT ": %s\n",
                user_id, error->message);
  return none != NULL;
}

/* A pong answers a ping sent after the frames before it: the client has
 * read them. Frames held back meanwhile go out now. */
static void
on_pong (SoupWebsocketConnection   *conn,
         GBytes                    *message,
         TetherServerHubConnection *connection)
{
  connection->unconfirmed = 0;
  if (connection->feed_rev > connection->last_rev)
    _tether_server_hub_schedule_flush (connection->hub);
}

void
_tether_server_hub_add (TetherServerHub         *self,
                        SoupWebsocketConnection *conn,
                        const TetherServerUser  *user,
                        const char              *authorization,
                        const char              *path)
{
  TetherServerHubConnection *connection = g_new0 (TetherServerHubConnection, 1);
  gboolean positioned;

  connection->hub = self;
  connection->conn = g_object_ref (conn);
  connection->user.id = user->id;
  connection->user.name = g_strdup (user->name);
  connection->authorization = g_strdup (authorization);
  connection->path = g_strdup (path);
  connection->own_revs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  connection->opened_us = g_get_monotonic_time ();
  positioned = current_rev (self->state, user->id, &connection->last_rev);
  connection->feed_rev = connection->last_rev;
  soup_websocket_connection_set_keepalive_interval (conn, PING_SECONDS);
  /* Messages somewhat over the limit get a "too-large" answer; libsoup drops
   * the connection (1009) on anything larger, without reading it. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, self->state->max_body * 2);
  g_signal_connect (conn, "message", G_CALLBACK (_tether_server_hub_on_message), connection);
  g_signal_connect (conn, "closed", G_CALLBACK (_tether_server_hub_on_closed), connection);
  g_signal_connect (conn, "pong", G_CALLBACK (on_pong), connection);
  g_ptr_array_add (self->connections, connection);
  /* Without it server_push would start at the feed's beginning. The
   * upgrade is answered already: close, and the client comes back. */
  if (!positioned)
    soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR,
                                     "the server's storage is unavailable; reconnect in a moment");
}

TetherServerHub *
_tether_server_hub_new (TetherServerState *state)
{
  TetherServerHub *self = g_new0 (TetherServerHub, 1);

  self->state = state;
  self->connections = g_ptr_array_new_with_free_func ((GDestroyNotify) connection_free);
  self->feed_handler = g_signal_connect (state->core, "feed-changed",
                                          G_CALLBACK (_tether_server_hub_feed_changed), self);
  return self;
}

void
_tether_server_hub_free (TetherServerHub *self)
{
  if (self == NULL)
    return;
  g_clear_signal_handler (&self->feed_handler, self->state->core);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_ptr_array_unref (self->connections);
  g_free (self);
}

guint
_tether_server_hub_close_all (TetherServerHub *self)
{
  for (guint i = 0; i < self->connections->len; i++)
    {
      TetherServerHubConnection *connection = g_ptr_array_index (self->connections, i);

      if (!connection->closed &&
          soup_websocket_connection_get_state (connection->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (connection->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                         "the server is shutting down");
    }
  return _tether_server_hub_get_n_open (self);
}

guint
_tether_server_hub_get_n_open (TetherServerHub *self)
{
  guint n = 0;

  for (guint i = 0; i < self->connections->len; i++)
    if (!((TetherServerHubConnection *) g_ptr_array_index (self->connections, i))->closed)
      n++;
  return n;
}