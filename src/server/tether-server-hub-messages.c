/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-hub"
#include "config.h"

#include <string.h>

#include "tether-server-private.h"

/* Messages from a WebSocket client: push and pull through the core. */

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
  /* An empty or blank frame parses to no root at all. */
  if (json_parser_get_root (parser) == NULL || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
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

/* The answer's payload as JSON text, or NULL with an error. */
static char *
run_frame (TetherServerHubConnection  *connection,
           const char                 *type,
           JsonObject                 *frame,
           guint                      *n_changes,
           guint                      *retry_after,
           GError                    **error)
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
  if (!_tether_server_hub_still_valid (connection, error))
    return NULL;
  /* A pull without a payload is a pull from the start with the defaults. */
  body = payload != NULL && !(JSON_NODE_HOLDS_NULL (payload) && !push) ? json_to_string (payload, FALSE)
                                                                       : g_strdup (push ? "null" : "{}");
  if (!push)
    return tether_server_core_pull_text (state->core, &connection->user, body, strlen (body), n_changes, error);
  result = tether_server_core_push_text (state->core, &connection->user, body, strlen (body), n_changes, error);
  if (result != NULL)
    _tether_server_hub_note_own_push (connection, payload, result);
  return result;
}

void
_tether_server_hub_on_message (SoupWebsocketConnection   *conn,
                               gint                       type,
                               GBytes                    *message,
                               TetherServerHubConnection *connection)
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
    _tether_server_hub_send_text (connection, strcmp (kind, "push") == 0 ? "push_result" : "pull_result", request_id, result);
  else
    {
      _tether_server_hub_send_error (connection, request_id, error, retry_after);
      _tether_server_hub_close_if_unauthorized (connection, error);
    }
  _tether_server_log (kind == NULL ? "WS-BAD" : strcmp (kind, "push") == 0 ? "WS-PUSH" : "WS-PULL", connection->path, connection->user.name,
                      result != NULL ? SOUP_STATUS_OK : tether_server_error_status (error),
                      n_changes, start_us);
}

void
_tether_server_hub_on_closed (SoupWebsocketConnection   *conn,
                              TetherServerHubConnection *connection)
{
  connection->closed = TRUE;
  _tether_server_log ("WS-CLOSE", connection->path, connection->user.name,
                      soup_websocket_connection_get_close_code (conn), connection->n_sent,
                      connection->opened_us);
  _tether_server_hub_schedule_flush (connection->hub);
}

