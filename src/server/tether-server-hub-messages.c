/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-hub"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"
#include "tether-server-private.h"

/* Messages from a WebSocket client: push and pull through the core. */

/* A message's members, found by the server's own scanner in a copy of the
 * frame: the payload goes on to push or pull as its text, exactly as an
 * HTTP body would, never rewritten by a JSON library. */
typedef struct {
  char              *buffer;
  TetherServerValue  type, request_id, payload;
} Frame;

static void
frame_clear (Frame *frame)
{
  g_clear_pointer (&frame->buffer, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Frame, frame_clear)

static gboolean
check_frame (gint          type,
             const char   *text,
             gsize         length,
             gsize         max_body,
             GError      **error)
{
  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "messages must be JSON text frames, not binary ones");
  if (length > max_body)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_TOO_LARGE,
                                "the message is larger than the server's limit of %zu bytes", max_body);
  if (!g_utf8_validate_len (text, length, NULL))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST, "the message is not valid UTF-8");
  /* The frame adds one level around the payload. */
  return _tether_server_check_depth (text, length, TETHER_SERVER_MAX_DEPTH + 1, error);
}

static gboolean
parse_frame (gint      type,
             GBytes   *message,
             gsize     max_body,
             Frame    *frame,
             GError  **error)
{
  gsize length;
  const char *text = g_bytes_get_data (message, &length);
  TetherServerScanner s;
  TetherServerValue value;
  char *name;

  if (!check_frame (type, text, length, max_body, error))
    return FALSE;
  frame->buffer = g_strndup (text, length);
  s = (TetherServerScanner) { frame->buffer, frame->buffer, frame->buffer + length, 0, FALSE, error };
  _tether_server_skip_space (&s);
  if (s.p < s.end && *s.p != '{')
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "a message must be a JSON object {type, requestId, payload}");
  for (guint i = 0; _tether_server_scan_member (&s, i, &name, &value); i++)
    {
      if (strcmp (name, "type") == 0)
        frame->type = value;
      else if (strcmp (name, "requestId") == 0)
        frame->request_id = value;
      else if (strcmp (name, "payload") == 0)
        frame->payload = value;
    }
  _tether_server_skip_space (&s);
  if (!s.failed && s.p < s.end)
    _tether_server_scan_error (&s, "unexpected text after the object");
  return !s.failed;
}

/* A string or a number, echoed as sent: its text, NUL-terminated. */
static char *
frame_request_id (Frame   *frame,
                  GError **error)
{
  TetherServerJsonKind kind = frame->request_id.kind;

  if (kind == TETHER_JSON_STRING || kind == TETHER_JSON_INT || kind == TETHER_JSON_DOUBLE)
    return g_strndup (frame->request_id.start, frame->request_id.length);
  _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                       "the message has no requestId (a string or a number)");
  return NULL;
}

static const char *
frame_type (Frame   *frame,
            GError **error)
{
  const char *type = frame->type.kind == TETHER_JSON_STRING ? _tether_server_value_decode (&frame->type) : NULL;

  if (g_strcmp0 (type, "push") == 0 || g_strcmp0 (type, "pull") == 0)
    return type;
  _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                       "\"type\" must be \"push\" or \"pull\"");
  return NULL;
}

/* The clientId of a push or pull payload the core accepted (so valid
 * JSON), decoded in place: the payload's text is not needed any more. */
static const char *
payload_client_id (Frame *frame)
{
  TetherServerScanner s = { frame->payload.start, frame->payload.start,
                            frame->payload.start + frame->payload.length, 0, FALSE, NULL };
  TetherServerValue value;
  char *name;

  if (frame->payload.kind != TETHER_JSON_OBJECT)
    return NULL;
  for (guint i = 0; _tether_server_scan_member (&s, i, &name, &value); i++)
    if (strcmp (name, "clientId") == 0)
      return value.kind == TETHER_JSON_STRING ? _tether_server_value_decode (&value) : NULL;
  return NULL;
}

static gboolean
admit (TetherServerHubConnection  *connection,
       guint                      *retry_after,
       GError                    **error)
{
  TetherServerState *state = connection->hub->state;
  g_autofree char *key = g_strdup_printf ("%" G_GINT64_FORMAT, connection->user.id);

  if (state->stopping)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_UNAVAILABLE,
                                "the server is shutting down; reconnect in a moment");
  if ((*retry_after = _tether_server_limiter_take (state->users, key)) > 0)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_RATE_LIMITED,
                                "too many requests for user %s; retry in %u s",
                                connection->user.name, *retry_after);
  return _tether_server_hub_still_valid (connection, error);
}

/* The answer's payload as JSON text, or NULL with an error. */
static char *
run_frame (TetherServerHubConnection  *connection,
           const char                 *type,
           Frame                      *frame,
           guint                      *n_changes,
           guint                      *retry_after,
           GError                    **error)
{
  TetherServerCore *core = connection->hub->state->core;
  gboolean push = strcmp (type, "push") == 0;
  const char *body = frame->payload.start;
  gsize length = frame->payload.length;
  char *result;

  if (!admit (connection, retry_after, error))
    return NULL;
  /* A pull without a payload is a pull from the start with the defaults. */
  if (frame->payload.kind == TETHER_JSON_ABSENT || (frame->payload.kind == TETHER_JSON_NULL && !push))
    body = push ? "null" : "{}", length = strlen (body);
  if (push)
    result = tether_server_core_push_text (core, &connection->user, body, length, n_changes, error);
  else
    result = tether_server_core_pull_text (core, &connection->user, body, length, n_changes, error);
  if (result == NULL)
    return NULL;
  if (push)
    _tether_server_hub_note_own_push (connection, result);
  _tether_server_hub_note_client_id (connection, payload_client_id (frame));
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
  g_auto(Frame) frame = { 0 };
  gboolean parsed = parse_frame (type, message, connection->hub->state->max_body, &frame, &error);
  g_autofree char *request_id = parsed ? frame_request_id (&frame, &error) : NULL;
  const char *kind = request_id != NULL ? frame_type (&frame, &error) : NULL;
  g_autofree char *result = NULL;
  guint n_changes = 0, retry_after = 0;

  if (kind != NULL)
    result = run_frame (connection, kind, &frame, &n_changes, &retry_after, &error);
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

