/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-hub"
#include "config.h"

#include <string.h>

#include "tether-server-private.h"

/* WebSocket connections: push and pull messages through the core, and
 * server_push when a user's feed moves. The core's "feed-changed" only marks
 * connections; they are brought up to date from an idle callback, so a push
 * through a connection has been answered (and its revs noted as its own)
 * before any server_push is built for it. */

#define PING_SECONDS 30

typedef struct {
  TetherServerHub         *hub;
  SoupWebsocketConnection *conn;
  TetherServerUser         user;
  char                    *authorization; /* checked again before each use: rotate and remove act at once */
  char                    *path;
  char                    *hlc_suffix;  /* "-<clientId>": the hlc of this client's own writes */
  gint64                   last_rev;    /* the last rev this connection was sent or told about */
  gint64                   feed_rev;    /* the user's last rev as announced by feed-changed */
  GHashTable              *own_revs;    /* revs above last_rev written through this connection */
  gint64                   opened_us;
  guint                    n_sent;      /* changes sent by server_push */
  gboolean                 closed;
} Connection;

struct _TetherServerHub
{
  TetherServerState *state;
  GPtrArray         *connections;   /* Connection* */
  gulong             feed_handler;
  guint              flush_id;
};

static void
connection_free (Connection *connection)
{
  g_signal_handlers_disconnect_by_data (connection->conn, connection);
  g_object_unref (connection->conn);
  tether_server_user_clear (&connection->user);
  if (connection->authorization != NULL)
    memset (connection->authorization, 0, strlen (connection->authorization));
  g_free (connection->authorization);
  g_hash_table_unref (connection->own_revs);
  g_free (connection->path);
  g_free (connection->hlc_suffix);
  g_free (connection);
}

/* Sending ------------------------------------------------------------------------- */

/* {type, requestId, payload} around a payload that is JSON text already;
 * @request_id may be NULL (null, or absent for server_push). */
static void
send_text (Connection *connection,
           const char *type,
           JsonNode   *request_id,
           const char *payload)
{
  g_autoptr(GString) text = g_string_sized_new (strlen (payload) + 64);

  if (connection->closed ||
      soup_websocket_connection_get_state (connection->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  g_string_append_printf (text, "{\"type\":\"%s\"", type);
  if (request_id != NULL)
    {
      g_autofree char *id = json_to_string (request_id, FALSE);

      g_string_append_printf (text, ",\"requestId\":%s", id);
    }
  else if (strcmp (type, "server_push") != 0)
    g_string_append (text, ",\"requestId\":null");
  g_string_append (text, ",\"payload\":");
  g_string_append (text, payload);
  g_string_append_c (text, '}');
  soup_websocket_connection_send_text (connection->conn, text->str);
}

static void
send_message (Connection *connection,
              const char *type,
              JsonNode   *request_id,
              JsonNode   *payload)
{
  g_autofree char *text = json_to_string (payload, FALSE);

  send_text (connection, type, request_id, text);
}

static void
send_error (Connection   *connection,
            JsonNode     *request_id,
            const GError *error,
            guint         retry_after)
{
  g_autoptr(JsonNode) payload = tether_server_error_to_json (error);

  /* The HTTP answer would carry Retry-After; a message carries it inside. */
  if (retry_after > 0)
    json_object_set_int_member (json_node_get_object (payload), "retryAfter", retry_after);
  send_message (connection, "error", request_id, payload);
}

/* The token may have been rotated, or the user removed, since the upgrade:
 * then this fails with UNAUTHORIZED and the connection must be closed. A
 * store failure is not a verdict on the token: only this use fails. */
static gboolean
still_valid (Connection  *connection,
             GError     **error)
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

static void
close_if_unauthorized (Connection   *connection,
                       const GError *error)
{
  if (g_error_matches (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED) &&
      soup_websocket_connection_get_state (connection->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (connection->conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                     "the token is no longer valid");
}

/* server_push ---------------------------------------------------------------------- */

/* This connection's own writes are not echoed: those it pushed itself (by
 * rev) and those of its client through any other route (by the hlc). */
static gboolean
is_own_change (Connection *connection,
               JsonObject *change)
{
  gint64 rev = json_object_get_int_member_with_default (change, "rev", 0);
  const char *hlc = json_object_get_string_member_with_default (change, "hlc", NULL);

  if (g_hash_table_contains (connection->own_revs, &rev))
    return TRUE;
  return connection->hlc_suffix != NULL && hlc != NULL && g_str_has_suffix (hlc, connection->hlc_suffix);
}

static gboolean
forget_old_rev (gpointer key,
                gpointer value,
                gpointer user_data)
{
  return *(gint64 *) key <= *(gint64 *) user_data;
}

static void
advance (Connection *connection,
         gint64      rev)
{
  connection->last_rev = MAX (connection->last_rev, rev);
  g_hash_table_foreach_remove (connection->own_revs, forget_old_rev, &connection->last_rev);
}

/* Whether every rev after last_rev up to the feed's end is this connection's
 * own: then there is nothing to send, and no need to read the feed. */
static gboolean
only_own_revs (Connection *connection)
{
  GHashTableIter iter;
  gint64 *rev;
  gint64 n = 0;

  g_hash_table_iter_init (&iter, connection->own_revs);
  while (g_hash_table_iter_next (&iter, (gpointer *) &rev, NULL))
    if (*rev <= connection->feed_rev)
      n++;
  return n == connection->feed_rev - connection->last_rev;
}

static void
bring_up_to_date (Connection *connection)
{
  TetherServerState *state = connection->hub->state;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) changes = NULL;
  g_autoptr(JsonArray) others = json_array_new ();
  g_autoptr(JsonNode) payload = json_node_new (JSON_NODE_ARRAY);
  gint64 start_us = g_get_monotonic_time ();
  gint64 last_rev = connection->last_rev;
  JsonArray *array;

  if (connection->feed_rev <= connection->last_rev || only_own_revs (connection))
    {
      advance (connection, connection->feed_rev);
      return;
    }
  if (!still_valid (connection, &error))
    {
      if (!g_error_matches (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED))
        g_printerr ("tether-server: server_push for user %s: %s\n", connection->user.name, error->message);
      close_if_unauthorized (connection, error);
      return;
    }
  changes = tether_server_core_changes_since (state->core, connection->user.id, connection->last_rev,
                                              &last_rev, &error);
  if (changes == NULL)
    {
      g_printerr ("tether-server: server_push for user %s: %s\n", connection->user.name, error->message);
      return;
    }
  array = json_node_get_array (changes);
  for (guint i = 0; i < json_array_get_length (array); i++)
    if (!is_own_change (connection, json_array_get_object_element (array, i)))
      json_array_add_element (others, json_node_ref (json_array_get_element (array, i)));
  advance (connection, last_rev);
  if (json_array_get_length (others) == 0)
    return;
  connection->n_sent += json_array_get_length (others);
  json_node_set_array (payload, others);
  send_message (connection, "server_push", NULL, payload);
  _tether_server_log ("WS-SERVER-PUSH", connection->path, connection->user.name, SOUP_STATUS_OK,
                      json_array_get_length (others), start_us);
}

static gboolean
flush (gpointer user_data)
{
  TetherServerHub *self = user_data;

  self->flush_id = 0;
  for (guint i = self->connections->len; i > 0; i--)
    {
      Connection *connection = g_ptr_array_index (self->connections, i - 1);

      if (connection->closed)
        g_ptr_array_remove_index_fast (self->connections, i - 1);
      else if (connection->feed_rev > connection->last_rev)
        bring_up_to_date (connection);
    }
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (TetherServerHub *self)
{
  if (self->flush_id == 0)
    self->flush_id = g_idle_add (flush, self);
}

static void
feed_changed (TetherServerCore *core,
              gint64            user_id,
              gint64            rev,
              TetherServerHub  *self)
{
  gboolean any = FALSE;

  for (guint i = 0; i < self->connections->len; i++)
    {
      Connection *connection = g_ptr_array_index (self->connections, i);

      if (connection->user.id == user_id && !connection->closed && rev > connection->feed_rev)
        {
          connection->feed_rev = rev;
          any = TRUE;
        }
    }
  if (any)
    schedule_flush (self);
}

/* Messages from the client --------------------------------------------------------- */

/* json-glib's parser recurses: a frame nested too deep is refused unparsed.
 * The frame adds one level around the payload. */
static gboolean
depth_within (const char *text,
              gsize       length,
              guint       max)
{
  gboolean in_string = FALSE;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if ((c == '[' || c == '{') && ++depth > max)
        return FALSE;
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

static JsonNode *
parse_frame (gint     type,
             GBytes  *message,
             gsize    max_body,
             GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  gsize length;
  const char *text = g_bytes_get_data (message, &length);
  g_autoptr(GError) parse_error = NULL;

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                           "messages must be JSON text frames, not binary ones");
      return NULL;
    }
  if (length > max_body)
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_TOO_LARGE,
                   "the message is larger than the server's limit of %zu bytes", max_body);
      return NULL;
    }
  if (!depth_within (text, length, TETHER_SERVER_MAX_DEPTH + 1))
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_TOO_DEEP,
                   "the message is nested deeper than %d levels", TETHER_SERVER_MAX_DEPTH);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, length, &parse_error))
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                   "the message is not valid JSON: %s", parse_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                           "a message must be a JSON object {type, requestId, payload}");
      return NULL;
    }
  return json_node_ref (json_parser_get_root (parser));
}

/* A string or a number, echoed as sent. */
static JsonNode *
frame_request_id (JsonObject  *frame,
                  GError     **error)
{
  JsonNode *id = json_object_get_member (frame, "requestId");
  GType type = id != NULL && JSON_NODE_HOLDS_VALUE (id) ? json_node_get_value_type (id) : G_TYPE_INVALID;

  if (type == G_TYPE_STRING || type == G_TYPE_INT64 || type == G_TYPE_DOUBLE)
    return id;
  g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                       "the message has no requestId (a string or a number)");
  return NULL;
}

static const char *
frame_type (JsonObject  *frame,
            GError     **error)
{
  const char *type = json_object_get_string_member_with_default (frame, "type", NULL);

  if (g_strcmp0 (type, "push") == 0 || g_strcmp0 (type, "pull") == 0)
    return type;
  g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
               "unknown message type '%s': expected \"push\" or \"pull\"", type != NULL ? type : "");
  return NULL;
}

/* Remember what this connection wrote, so server_push does not echo it. */
static void
note_own_push (Connection *connection,
               JsonNode   *payload,
               const char *result)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *request = payload != NULL && JSON_NODE_HOLDS_OBJECT (payload) ? json_node_get_object (payload) : NULL;
  const char *client_id = request != NULL ? json_object_get_string_member_with_default (request, "clientId", NULL) : NULL;
  JsonArray *accepted;

  if (client_id != NULL && client_id[0] != '\0' && connection->hlc_suffix == NULL)
    connection->hlc_suffix = g_strconcat ("-", client_id, NULL);
  if (!json_parser_load_from_data (parser, result, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  accepted = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "accepted");
  for (guint i = 0; accepted != NULL && i < json_array_get_length (accepted); i++)
    {
      gint64 rev = json_object_get_int_member_with_default (json_array_get_object_element (accepted, i), "rev", 0);

      if (rev > connection->last_rev)
        g_hash_table_add (connection->own_revs, g_memdup2 (&rev, sizeof rev));
    }
}

/* The answer's payload as JSON text, or NULL with an error. */
static char *
run_frame (Connection  *connection,
           const char  *type,
           JsonObject  *frame,
           guint       *n_changes,
           guint       *retry_after,
           GError     **error)
{
  TetherServerState *state = connection->hub->state;
  JsonNode *payload = json_object_get_member (frame, "payload");
  gboolean push = strcmp (type, "push") == 0;
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, connection->user.id);
  g_autofree char *body = NULL;
  char *result;

  if (state->stopping)
    {
      g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAVAILABLE,
                           "the server is shutting down; reconnect in a moment");
      return NULL;
    }
  if ((*retry_after = _tether_server_limiter_take (state->users, key)) > 0)
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_RATE_LIMITED,
                   "too many requests for user %s; retry in %u s", connection->user.name, *retry_after);
      return NULL;
    }
  if (!still_valid (connection, error))
    return NULL;
  /* A pull without a payload is a pull from the start with the defaults. */
  body = payload != NULL && !(JSON_NODE_HOLDS_NULL (payload) && !push) ? json_to_string (payload, FALSE)
                                                                       : g_strdup (push ? "null" : "{}");
  if (!push)
    return tether_server_core_pull_text (state->core, &connection->user, body, strlen (body), n_changes, error);
  result = tether_server_core_push_text (state->core, &connection->user, body, strlen (body), n_changes, error);
  if (result != NULL)
    note_own_push (connection, payload, result);
  return result;
}

static void
on_message (SoupWebsocketConnection *conn,
            gint                     type,
            GBytes                  *message,
            Connection              *connection)
{
  gint64 start_us = g_get_monotonic_time ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = parse_frame (type, message, connection->hub->state->max_body, &error);
  g_autofree char *result = NULL;
  JsonObject *frame = root != NULL ? json_node_get_object (root) : NULL;
  JsonNode *request_id = frame != NULL ? frame_request_id (frame, &error) : NULL;
  const char *kind = request_id != NULL ? frame_type (frame, &error) : NULL;
  guint n_changes = 0, retry_after = 0;

  if (kind != NULL)
    result = run_frame (connection, kind, frame, &n_changes, &retry_after, &error);
  if (result != NULL)
    send_text (connection, strcmp (kind, "push") == 0 ? "push_result" : "pull_result", request_id, result);
  else
    {
      send_error (connection, request_id, error, retry_after);
      close_if_unauthorized (connection, error);
    }
  _tether_server_log (kind == NULL ? "WS-BAD" : strcmp (kind, "push") == 0 ? "WS-PUSH" : "WS-PULL", connection->path, connection->user.name,
                      result != NULL ? SOUP_STATUS_OK : tether_server_error_status (error),
                      n_changes, start_us);
}

static void
on_closed (SoupWebsocketConnection *conn,
           Connection              *connection)
{
  connection->closed = TRUE;
  _tether_server_log ("WS-CLOSE", connection->path, connection->user.name,
                      soup_websocket_connection_get_close_code (conn), connection->n_sent,
                      connection->opened_us);
  schedule_flush (connection->hub);
}

/* The hub ---------------------------------------------------------------------------- */

/* The user's feed position now: server_push starts after it. */
static gint64
current_rev (TetherServerState *state,
             gint64             user_id)
{
  TetherServerStore *store = tether_server_core_get_store (state->core);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) none = NULL;
  gint64 last_rev = 0, purged_rev = 0;

  none = tether_server_store_pull (store, user_id, G_MAXINT64, NULL, 1, &last_rev, &purged_rev, &error);
  if (none == NULL)
    g_printerr ("tether-server: cannot read the feed position of user %" G_GINT64_FORMAT ": %s\n",
                user_id, error->message);
  return last_rev;
}

void
_tether_server_hub_add (TetherServerHub         *self,
                        SoupWebsocketConnection *conn,
                        const TetherServerUser  *user,
                        const char              *authorization,
                        const char              *path)
{
  Connection *connection = g_new0 (Connection, 1);

  connection->hub = self;
  connection->conn = g_object_ref (conn);
  connection->user.id = user->id;
  connection->user.name = g_strdup (user->name);
  connection->authorization = g_strdup (authorization);
  connection->path = g_strdup (path);
  connection->own_revs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  connection->opened_us = g_get_monotonic_time ();
  connection->last_rev = connection->feed_rev = current_rev (self->state, user->id);
  soup_websocket_connection_set_keepalive_interval (conn, PING_SECONDS);
  /* Messages somewhat over the limit get a "too-large" answer; libsoup drops
   * the connection (1009) on anything larger, without reading it. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, self->state->max_body * 2);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), connection);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), connection);
  g_ptr_array_add (self->connections, connection);
}

TetherServerHub *
_tether_server_hub_new (TetherServerState *state)
{
  TetherServerHub *self = g_new0 (TetherServerHub, 1);

  self->state = state;
  self->connections = g_ptr_array_new_with_free_func ((GDestroyNotify) connection_free);
  self->feed_handler = g_signal_connect (state->core, "feed-changed", G_CALLBACK (feed_changed), self);
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
      Connection *connection = g_ptr_array_index (self->connections, i);

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
    if (!((Connection *) g_ptr_array_index (self->connections, i))->closed)
      n++;
  return n;
}
