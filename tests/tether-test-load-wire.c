/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-load"
#include "config.h"

#include "tether-test-load.h"

/* The load clients' two ways to the server: an HTTP session of one kept
 * connection, or one WebSocket; both hand answers to load_client_answer(). */

static JsonObject *
parse_object (const char *text,
              gssize      length)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_dup_object (node) : NULL;
}

/* ------------------------------------------------------------------- HTTP */

static void
http_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  LoadClient *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autoptr(SoupMessage) msg = g_steal_pointer (&c->msg);
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) answer = NULL;

  if (body == NULL)
    {
      load_fail (c->load, "%s: HTTP request failed: %s", c->name, error->message);
      load_client_finish (c);
      return;
    }
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  answer = parse_object (text, -1);
  load_client_answer (c, c->pushing ? HTTP_PUSH : HTTP_PULL, soup_message_get_status (msg), answer,
               soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After"), text);
}

void
load_http_send (LoadClient *c)
{
  g_autoptr(GBytes) bytes = g_bytes_new (c->body, strlen (c->body));

  g_assert_null (c->msg);
  c->msg = message_new (c->load->s, "POST", c->pushing ? "/push" : "/pull", c->load->authorization[c->user]);
  soup_message_set_request_body_from_bytes (c->msg, "application/json", bytes);
  /* Pushes are idempotent by change id: without this libsoup opens a new
   * connection for every POST. */
  soup_message_add_flags (c->msg, SOUP_MESSAGE_IDEMPOTENT);
  soup_session_send_and_read_async (c->session, c->msg, G_PRIORITY_DEFAULT, NULL, http_done, c);
}

/* -------------------------------------------------------------- WebSocket */


/* {type, requestId, payload}: a push_result or pull_result is a 200; an
 * error carries the status its code stands for (only 429 is expected). */
static void
take_ws_answer (LoadClient *c,
                JsonObject *message,
                const char *text)
{
  const char *type = json_object_get_string_member_with_default (message, "type", "");
  JsonNode *payload = json_object_get_member (message, "payload");
  JsonObject *object = payload != NULL && JSON_NODE_HOLDS_OBJECT (payload) ? json_node_get_object (payload) : NULL;
  gboolean answered = g_str_equal (type, c->pushing ? "push_result" : "pull_result");
  gboolean limited = object != NULL && g_str_equal (type, "error") &&
                     g_strcmp0 (json_object_get_string_member_with_default (object, "code", NULL), "rate-limited") == 0;
  g_autofree char *retry_after = limited ? g_strdup_printf ("%" G_GINT64_FORMAT,
                                                            json_object_get_int_member_with_default (object, "retryAfter", 0))
                                         : NULL;

  load_client_answer (c, c->pushing ? WS_PUSH : WS_PULL, answered ? SOUP_STATUS_OK : limited ? STATUS_RATE_LIMITED : 0,
               answered ? object : NULL, retry_after, text);
}

static void
ws_on_message (SoupWebsocketConnection *conn,
               int                      type,
               GBytes                  *message,
               gpointer                 data)
{
  LoadClient *c = data;
  g_autofree char *text = g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  g_autoptr(JsonObject) object = parse_object (text, -1);
  const char *kind = object ? json_object_get_string_member_with_default (object, "type", "") : "";
  const char *request_id = object ? json_object_get_string_member_with_default (object, "requestId", NULL) : NULL;

  if (g_str_equal (kind, "server_push"))
    load_client_server_push (c, object);
  else if (!c->done && request_id != NULL && g_strcmp0 (request_id, c->request_id) == 0)
    take_ws_answer (c, object, text);
  else
    load_fail (c->load, "%s: unexpected WebSocket message: %.200s", c->name, text);
}

static void
ws_on_closed (SoupWebsocketConnection *conn,
              gpointer                 data)
{
  LoadClient *c = data;

  c->load->n_open--;
  if (!c->load->closing)
    load_fail (c->load, "%s: the server closed the WebSocket (code %u)", c->name,
               soup_websocket_connection_get_close_code (conn));
  if (!c->done)
    load_client_finish (c);
}

void
load_ws_send (LoadClient *c)
{
  g_autofree char *text = NULL;

  g_free (c->request_id);
  c->request_id = g_strdup_printf ("%s-q%u", c->name, c->n_requests++);
  text = g_strdup_printf ("{\"type\":\"%s\",\"requestId\":\"%s\",\"payload\":%s}",
                          c->pushing ? "push" : "pull", c->request_id, c->body);
  soup_websocket_connection_send_text (c->conn, text);
}

static void
ws_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  LoadClient *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupMessage) msg = g_steal_pointer (&c->msg);

  c->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (c->conn == NULL && soup_message_get_status (msg) == STATUS_RATE_LIMITED)
    {
      load_client_retry (c, soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After"));
      return;
    }
  if (c->conn == NULL)
    {
      load_fail (c->load, "%s: WebSocket upgrade failed (%u): %s", c->name, soup_message_get_status (msg), error->message);
      load_client_finish (c);
      return;
    }
  c->load->n_open++;
  g_signal_connect (c->conn, "message", G_CALLBACK (ws_on_message), c);
  g_signal_connect (c->conn, "closed", G_CALLBACK (ws_on_closed), c);
  load_client_step (c);
}

void
load_ws_connect (LoadClient *c)
{
  c->msg = message_new (c->load->s, "GET", "/ws", c->load->authorization[c->user]);
  soup_session_websocket_connect_async (c->load->f->session, c->msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, ws_connected, c);
}
