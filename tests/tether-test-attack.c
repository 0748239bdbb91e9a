/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-test-attack.h"

/* What the attacks of test-security share: "nothing changed" is the whole
 * feed of every user, pulled from null, before and after; requests a
 * client library would refuse to send are written on a socket by hand. */

/* ----------------------------------------------------------------- helpers */

char *
snapshot (Fixture *f,
          Server  *s)
{
  g_autoptr(JsonArray) alice = pull_all (f, s, f->alice, NULL, NULL);
  g_autoptr(JsonArray) bob = pull_all (f, s, f->bob, NULL, NULL);
  g_autoptr(JsonNode) alice_node = json_node_init_array (json_node_alloc (), alice);
  g_autoptr(JsonNode) bob_node = json_node_init_array (json_node_alloc (), bob);
  g_autofree char *alice_text = node_text (alice_node);
  g_autofree char *bob_text = node_text (bob_node);

  return g_strdup_printf ("alice: %s\nbob: %s", alice_text, bob_text);
}

void
assert_unchanged (Fixture    *f,
                  Server     *s,
                  const char *before)
{
  g_autofree char *after = snapshot (f, s);

  g_assert_cmpstr (after, ==, before);
}

char *
json_text (const char *text)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), text);

  return node_text (node);
}

char *
object_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return node_text (node);
}

void
assert_no_secret (const char *text)
{
  if (strstr (text, SECRET) != NULL || strstr (text, "alice-phone") != NULL)
    g_error ("bob was shown alice's data: %s", text);
}

char *
nested (const char *open,
        const char *inner,
        const char *close,
        guint       depth)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < depth; i++)
    g_string_append (text, open);
  g_string_append (text, inner);
  for (guint i = 0; i < depth; i++)
    g_string_append (text, close);
  return g_string_free (text, FALSE);
}

JsonObject *
alice_writes (Fixture *f,
              Server  *s)
{
  JsonObject *pushed = push (f, s, f->alice, "alice-phone",
                             change_new ("a-1", "notes", "\"n1\"", "create", ALICE_DATA, 0, NULL),
                             change_new ("a-2", "alice-private", "\"p1\"", "create", ALICE_DATA, 0, NULL),
                             change_new ("a-3", "notes", "\"n1\"", "update", ALICE_DATA, 1, NULL),
                             NULL);

  assert_counts (pushed, 3, 0, 0);
  g_assert_cmpint (accepted_rev (pushed, "a-3"), ==, 3);
  return pushed;
}

static gboolean
inbox_ready (gpointer data)
{
  Ws *ws = data;

  return ws->inbox.length > 0 || ws->closed;
}

JsonObject *
ws_next (Ws *ws)
{
  if (!wait_until (ws->f, inbox_ready, ws, REQUEST_TIMEOUT_MS))
    g_error ("no WebSocket message within %d ms", REQUEST_TIMEOUT_MS);
  return ws_pop (ws, NULL);
}

/* ------------------------------------------------------------ raw sockets */

/* "/sync" of http://127.0.0.1:PORT/sync */
static char *
base_path (Server *s)
{
  g_autoptr(GUri) uri = g_uri_parse (s->base, G_URI_FLAGS_NONE, NULL);

  return g_strdup (g_uri_get_path (uri));
}

static gboolean
response_complete (GString *in)
{
  g_autofree char *lower = g_ascii_strdown (in->str, in->len);
  const char *end = strstr (lower, "\r\n\r\n");
  const char *length = strstr (lower, "\r\ncontent-length:");
  guint64 size = 0;

  if (end == NULL)
    return FALSE;
  if (g_str_has_prefix (lower, "http/1.1 101"))
    return TRUE;
  if (length == NULL || length > end)
    return FALSE;   /* read to the end of the connection */
  size = g_ascii_strtoull (length + strlen ("\r\ncontent-length:"), NULL, 10);
  return (guint64) (in->len - (end + 4 - lower)) >= size;
}

char *
raw_exchange (Server     *s,
              const char *data,
              gsize       length)
{
  g_autoptr(GUri) uri = g_uri_parse (s->base, G_URI_FLAGS_NONE, NULL);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  GString *in = g_string_new (NULL);
  char buffer[4096];
  gssize n;

  g_socket_client_set_timeout (client, REQUEST_TIMEOUT_MS / 1000);
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", g_uri_get_port (uri), NULL, &error);
  g_assert_no_error (error);
  /* The server may answer and close before taking all of a refused body. */
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                             data, length, NULL, NULL, NULL);
  while (!response_complete (in) &&
         (n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                   buffer, sizeof buffer, NULL, &error)) > 0)
    g_string_append_len (in, buffer, n);
  if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED))
    g_assert_no_error (error);
  return g_string_free (in, FALSE);
}

void
assert_raw (const char *response,
            guint       status,
            const char *code)
{
  const char *body = strstr (response, "\r\n\r\n");
  g_autoptr(JsonNode) node = body != NULL ? json_from_string (body + 4, NULL) : NULL;
  guint got = 0;

  g_test_message ("answer: %.300s", response);
  g_assert_cmpint (sscanf (response, "HTTP/1.%*d %u", &got), ==, 1);
  g_assert_cmpuint (got, ==, status);
  if (code == NULL)
    return;
  g_assert_true (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
  g_assert_cmpstr (json_object_get_string_member_with_default (json_node_get_object (node), "code", NULL),
                   ==, code);
}

/* A masked client text frame (RFC 6455 5.2), up to 64 KiB. */
static void
append_frame (GString    *out,
              const char *text)
{
  static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  gsize n = strlen (text);

  g_assert_cmpuint (n, <, 65536);
  g_string_append_c (out, (char) 0x81);
  if (n < 126)
    g_string_append_c (out, (char) (0x80 | n));
  else
    {
      g_string_append_c (out, (char) (0x80 | 126));
      g_string_append_c (out, (char) (n >> 8));
      g_string_append_c (out, (char) (n & 0xff));
    }
  g_string_append_len (out, (const char *) mask, 4);
  for (gsize i = 0; i < n; i++)
    g_string_append_c (out, (char) (text[i] ^ mask[i % 4]));
}

/* Frames sent at once, as a client that does not wait would send them. */
char *
raw_upgrade (Server     *s,
             const char *query,
             const char *headers,
             const char *frame)
{
  g_autofree char *path = base_path (s);
  g_autoptr(GString) out = g_string_new (NULL);

  g_string_append_printf (out, "GET %s/ws%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n%s\r\n", path, query, headers);
  if (frame != NULL)
    append_frame (out, frame);
  return raw_exchange (s, out->str, out->len);
}

char *
raw_push (Fixture    *f,
          Server     *s,
          const char *headers,
          const char *body,
          gsize       length)
{
  g_autofree char *path = base_path (s);
  g_autoptr(GString) out = g_string_new (NULL);

  g_string_append_printf (out, "POST %s/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                          "Content-Type: application/json\r\nConnection: close\r\n%s\r\n",
                          path, f->alice, headers);
  g_string_append_len (out, body, length);
  return raw_exchange (s, out->str, out->len);
}
