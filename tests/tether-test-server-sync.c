/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server"
#include "config.h"

#include <string.h>

#include "tether-test-server.h"

/* Push and pull bodies and answers, and WebSocket clients. */

/* ---------------------------------------------------------- push and pull */

gint64
now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* One change as JSON text. @record_id is JSON ("\"r1\"" or "42"); @data
 * JSON or NULL; @base_rev < 0 sends none; @extra: more members or NULL. */
char *
change_new (const char *id,
            const char *collection,
            const char *record_id,
            const char *type,
            const char *data,
            gint64      base_rev,
            const char *extra)
{
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "{\"id\":\"%s\",\"collection\":\"%s\",\"recordId\":%s,"
                          "\"type\":\"%s\",\"data\":%s",
                          id, collection, record_id, type, data ? data : "null");
  if (base_rev >= 0)
    g_string_append_printf (text, ",\"baseRev\":%" G_GINT64_FORMAT, base_rev);
  if (extra != NULL)
    g_string_append_printf (text, ",%s", extra);
  g_string_append_c (text, '}');
  return g_string_free (text, FALSE);
}

/* Takes the changes (owned char *, NULL-terminated); @client_id NULL omits it. */
static char *
push_body_va (const char *client_id,
              va_list     ap)
{
  GString *text = g_string_new ("{");
  char *change;
  gboolean first = TRUE;

  if (client_id != NULL)
    g_string_append_printf (text, "\"clientId\":\"%s\",", client_id);
  g_string_append (text, "\"changes\":[");
  while ((change = va_arg (ap, char *)) != NULL)
    {
      g_string_append_printf (text, "%s%s", first ? "" : ",", change);
      first = FALSE;
      g_free (change);
    }
  g_string_append (text, "]}");
  return g_string_free (text, FALSE);
}

G_GNUC_NULL_TERMINATED char *
push_body (const char *client_id,
           ...)
{
  va_list ap;
  char *body;

  va_start (ap, client_id);
  body = push_body_va (client_id, ap);
  va_end (ap);
  return body;
}

/* POST /push, asserting 200. */
G_GNUC_NULL_TERMINATED JsonObject *
push (Fixture    *f,
      Server     *s,
      const char *token,
      const char *client_id,
      ...)
{
  g_autofree char *body = NULL;
  va_list ap;

  va_start (ap, client_id);
  body = push_body_va (client_id, ap);
  va_end (ap);
  return post_ok (f, s, "/push", token, body);
}

static char *
object_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

static JsonObject *
find_in (JsonObject *response,
         const char *array,
         const char *member,
         const char *value)
{
  JsonArray *items = json_object_get_array_member (response, array);

  g_assert_nonnull (items);
  for (guint i = 0; i < json_array_get_length (items); i++)
    {
      JsonObject *item = json_array_get_object_element (items, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (item, member, NULL), value) == 0)
        return item;
    }
  return NULL;
}

guint
count_of (JsonObject *response,
          const char *array)
{
  JsonArray *items = json_object_get_array_member (response, array);

  g_assert_nonnull (items);
  return json_array_get_length (items);
}

JsonObject *
assert_accepted (JsonObject *response,
                 const char *id)
{
  JsonObject *entry = find_in (response, "accepted", "id", id);

  if (entry == NULL)
    {
      g_autofree char *text = object_text (response);

      g_error ("change %s not accepted: %s", id, text);
    }
  return entry;
}

gint64
accepted_rev (JsonObject *response,
              const char *id)
{
  return json_object_get_int_member (assert_accepted (response, id), "rev");
}

JsonObject *
assert_conflict (JsonObject *response,
                 const char *id)
{
  JsonObject *entry = find_in (response, "conflicts", "changeId", id);

  if (entry == NULL)
    g_error ("change %s did not conflict", id);
  return entry;
}

/* An `errors` entry for @id with @code and a message. */
JsonObject *
assert_change_error (JsonObject *response,
                     const char *id,
                     const char *code)
{
  JsonObject *entry = find_in (response, "errors", "id", id);

  if (entry == NULL)
    g_error ("change %s got no errors entry", id);
  g_assert_cmpstr (json_object_get_string_member (entry, "code"), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member (entry, "error")), >, 0);
  return entry;
}

void
assert_counts (JsonObject *response,
               guint       accepted,
               guint       conflicts,
               guint       errors)
{
  g_assert_cmpuint (count_of (response, "accepted"), ==, accepted);
  g_assert_cmpuint (count_of (response, "conflicts"), ==, conflicts);
  if (json_object_has_member (response, "errors"))
    g_assert_cmpuint (count_of (response, "errors"), ==, errors);
  else
    g_assert_cmpuint (errors, ==, 0);
}

JsonObject *
pull (Fixture    *f,
      Server     *s,
      const char *token,
      const char *body)
{
  return post_ok (f, s, "/pull", token, body);
}

/* Every change from a null cursor (@collections: JSON array or NULL), paging. */
JsonArray *
pull_all (Fixture    *f,
          Server     *s,
          const char *token,
          const char *collections,
          char      **cursor_out)
{
  JsonArray *all = json_array_new ();
  g_autofree char *cursor = NULL;
  gboolean more = TRUE;

  for (guint page = 0; more; page++)
    {
      g_autofree char *cursor_json = cursor ? g_strdup_printf ("\"%s\"", cursor) : g_strdup ("null");
      g_autofree char *body = g_strdup_printf ("{\"cursor\":%s,\"collections\":%s,\"batchSize\":5000}",
                                               cursor_json, collections ? collections : "null");
      g_autoptr(JsonObject) response = pull (f, s, token, body);
      JsonArray *changes = json_object_get_array_member (response, "changes");

      g_assert_cmpuint (page, <, 1000);
      /* batchSize is capped at 1000 */
      g_assert_cmpuint (json_array_get_length (changes), <=, 1000);
      for (guint i = 0; i < json_array_get_length (changes); i++)
        json_array_add_element (all, json_node_copy (json_array_get_element (changes, i)));
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (response, "cursor"));
      more = json_object_get_boolean_member (response, "hasMore");
    }
  if (cursor_out != NULL)
    *cursor_out = g_steal_pointer (&cursor);
  return all;
}

char *
node_text (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

/* The pulled change of @collection/@record_id (JSON text), or NULL. */
JsonObject *
find_change (JsonArray  *changes,
             const char *collection,
             const char *record_id)
{
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      g_autofree char *key = node_text (json_object_get_member (change, "recordId"));

      if (g_str_equal (json_object_get_string_member (change, "collection"), collection) &&
          g_str_equal (key, record_id))
        return change;
    }
  return NULL;
}

/* The data of a pulled change as compact JSON ("null" for none). */
char *
change_data (JsonObject *change)
{
  return node_text (json_object_get_member (change, "data"));
}

/* JSON text as json-glib writes it compactly (member order kept). */
char *
compact (const char *json)
{
  g_autoptr(JsonNode) node = tether_test_node (json);

  return node_text (node);
}

void
assert_iso_time (const char *text)
{
  g_assert_nonnull (text);
  if (!g_regex_match_simple ("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$", text, 0, 0))
    g_error ("not an ISO time with milliseconds: %s", text);
}

/* -------------------------------------------------------------- WebSocket */

typedef struct {
  gboolean                 done;
  SoupWebsocketConnection *conn;
  GError                  *error;
} Connect;

void
ws_free (gpointer data)
{
  Ws *ws = data;

  if (ws->conn != NULL &&
      soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    {
      soup_websocket_connection_close (ws->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      wait_until (ws->f, flag_ready, &ws->closed, STOP_TIMEOUT_MS);
    }
  if (ws->conn != NULL)
    g_signal_handlers_disconnect_by_data (ws->conn, ws);
  g_clear_object (&ws->conn);
  g_queue_clear_full (&ws->inbox, (GDestroyNotify) json_object_unref);
  g_queue_clear_full (&ws->texts, g_free);
  g_free (ws);
}

static void
ws_message (SoupWebsocketConnection *conn,
            int                      type,
            GBytes                  *message,
            gpointer                 data)
{
  Ws *ws = data;
  gsize length;
  const char *bytes = g_bytes_get_data (message, &length);
  char *text = g_strndup (bytes, length);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_queue_push_tail (&ws->inbox, tether_test_object (text));
  g_queue_push_tail (&ws->texts, text);
}

static void
ws_closed (SoupWebsocketConnection *conn,
           gpointer                 data)
{
  ((Ws *) data)->closed = TRUE;
}

static void
ws_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connect *connect = data;

  connect->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &connect->error);
  connect->done = TRUE;
}

/* Connects to /ws; NULL when refused, with the HTTP status in @status. */
Ws *
ws_connect (Fixture    *f,
            Server     *s,
            const char *token,
            guint      *status)
{
  g_autofree char *authorization = bearer (token);
  g_autoptr(SoupMessage) msg = message_new (s, "GET", "/ws", authorization);
  Connect connect = { 0 };
  Ws *ws;

  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, ws_connected, &connect);
  if (!wait_until (f, flag_ready, &connect.done, REQUEST_TIMEOUT_MS))
    g_error ("no WebSocket handshake within %d ms", REQUEST_TIMEOUT_MS);
  if (status != NULL)
    *status = soup_message_get_status (msg);
  if (connect.conn == NULL)
    {
      g_test_message ("WebSocket refused: %s", connect.error->message);
      g_clear_error (&connect.error);
      return NULL;
    }
  ws = g_new0 (Ws, 1);
  ws->f = f;
  ws->conn = connect.conn;
  g_queue_init (&ws->inbox);
  g_queue_init (&ws->texts);
  g_signal_connect (ws->conn, "message", G_CALLBACK (ws_message), ws);
  g_signal_connect (ws->conn, "closed", G_CALLBACK (ws_closed), ws);
  g_ptr_array_add (f->sockets, ws);
  return ws;
}

Ws *
ws_open (Fixture    *f,
         Server     *s,
         const char *token)
{
  guint status = 0;
  Ws *ws = ws_connect (f, s, token, &status);

  if (ws == NULL)
    g_error ("WebSocket upgrade refused with %u", status);
  return ws;
}

typedef struct {
  Ws         *ws;
  const char *type;        /* NULL: any */
  const char *request_id;  /* NULL: any */
} Wanted;

static GList *
ws_find (Wanted *wanted)
{
  for (GList *l = wanted->ws->inbox.head; l != NULL; l = l->next)
    {
      JsonObject *message = l->data;

      if (wanted->type != NULL &&
          g_strcmp0 (json_object_get_string_member_with_default (message, "type", NULL), wanted->type) != 0)
        continue;
      if (wanted->request_id != NULL &&
          g_strcmp0 (json_object_get_string_member_with_default (message, "requestId", NULL),
                     wanted->request_id) != 0)
        continue;
      return l;
    }
  return NULL;
}

static gboolean
ws_found (gpointer data)
{
  return ws_find (data) != NULL || ((Wanted *) data)->ws->closed;
}

/* The first message matching (removed from the inbox), or NULL on timeout;
 * its text in @text if not NULL. */
static JsonObject *
ws_take_text (Ws         *ws,
              const char *type,
              const char *request_id,
              guint       timeout_ms,
              char      **text)
{
  Wanted wanted = { ws, type, request_id };
  GList *link;
  JsonObject *message;
  char *sent;

  wait_until (ws->f, ws_found, &wanted, timeout_ms);
  link = ws_find (&wanted);
  if (link == NULL)
    return NULL;
  sent = g_queue_pop_nth (&ws->texts, g_queue_link_index (&ws->inbox, link));
  message = link->data;
  g_queue_delete_link (&ws->inbox, link);
  if (text != NULL)
    *text = sent;
  else
    g_free (sent);
  return message;
}

static JsonObject *
ws_take (Ws         *ws,
         const char *type,
         const char *request_id,
         guint       timeout_ms)
{
  return ws_take_text (ws, type, request_id, timeout_ms, NULL);
}

JsonObject *
ws_pop (Ws    *ws,
        char **text)
{
  char *sent = g_queue_pop_head (&ws->texts);

  if (text != NULL)
    *text = sent;
  else
    g_free (sent);
  return g_queue_pop_head (&ws->inbox);
}

/* Sends {type, requestId, payload} and returns the answer with that requestId. */
JsonObject *
ws_request (Ws         *ws,
            const char *type,
            const char *request_id,
            const char *payload)
{
  g_autofree char *text = g_strdup_printf ("{\"type\":\"%s\",\"requestId\":\"%s\",\"payload\":%s}",
                                           type, request_id, payload);
  JsonObject *answer;

  soup_websocket_connection_send_text (ws->conn, text);
  answer = ws_take (ws, NULL, request_id, REQUEST_TIMEOUT_MS);
  if (answer == NULL)
    g_error ("no answer to WebSocket request %s", request_id);
  return answer;
}

/* The payload (changes) of the next server_push, or NULL if none comes. */
JsonArray *
ws_server_push (Ws    *ws,
                guint  timeout_ms)
{
  g_autoptr(JsonObject) message = ws_take (ws, "server_push", NULL, timeout_ms);

  if (message == NULL)
    return NULL;
  return json_array_ref (json_object_get_array_member (message, "payload"));
}

char *
ws_server_push_text (Ws    *ws,
                     guint  timeout_ms)
{
  char *text = NULL;
  g_autoptr(JsonObject) message = ws_take_text (ws, "server_push", NULL, timeout_ms, &text);

  return text;
}

void
assert_no_server_push (Ws *ws)
{
  g_autoptr(JsonArray) changes = ws_server_push (ws, 0);

  g_assert_null (changes);
}
