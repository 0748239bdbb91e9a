/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"
#include "tether-test-attack.h"

/* Hostile framing: bodies over the limit or nested too deep, lengths that
 * lie, smuggled chunks, huge headers, and WebSocket frames that are no
 * protocol message. Each gets a clear refusal; the server stays up. */

/* ------------------------------------------------------------------ HTTP */

static void
assert_framing_refused (Fixture *f,
                        Server  *s)
{
  static const struct { const char *headers; const char *body; guint status; const char *code; } cases[] = {
    /* Headers libsoup refuses itself ("Content-Length: 1e3", "Transfer-Encoding:
     * gzip, chunked") are left out: libsoup 3.2 leaks the request path then. */
    /* declared over the limit: answered before the body */
    { "Content-Length: 65537\r\n", SMALL_PUSH, 413, "too-large" },
    /* a length that is not one number of bytes */
    { "Content-Length: 99999999999999999999999\r\n", SMALL_PUSH, 400, "bad-request" },
    { "Content-Length: -1\r\n", SMALL_PUSH, 400, "bad-request" },
    { "Content-Length: 10\r\nContent-Length: 3000\r\n", SMALL_PUSH, 400, "bad-request" },
    /* a body cut short by its length is not JSON */
    { "Content-Length: 20\r\n", SMALL_PUSH, 400, "bad-request" },
    /* smuggling: chunked wins over Content-Length, and "{}{}{" is no JSON */
    { "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "5\r\n{}{}{\r\n0\r\n\r\n", 400, "bad-request" },
    { "Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFF\r\n{\r\n0\r\n\r\n", 400, "bad-request" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *answer = raw_push (f, s, cases[i].headers, cases[i].body, strlen (cases[i].body));

      g_test_message ("headers %s", cases[i].headers);
      assert_raw (answer, cases[i].status, cases[i].code);
    }
}

static void
assert_deep_refused (Fixture *f,
                     Server  *s)
{
  g_autofree char *objects = nested ("{\"a\":", "1", "}", DEEP);
  g_autofree char *arrays = nested ("[", "", "]", DEEP);
  g_autofree char *in_data = g_strdup_printf ("{\"changes\":[{\"id\":\"d\",\"collection\":\"n\",\"recordId\":\"d\","
                                              "\"type\":\"create\",\"data\":%s}]}", objects);
  g_autofree char *in_collections = g_strdup_printf ("{\"collections\":%s}", arrays);
  g_autofree char *in_cursor = g_strdup_printf ("{\"cursor\":%s}", objects);
  g_autoptr(GBytes) packed = _tether_gzip (in_data, strlen (in_data));
  g_autofree char *length = g_strdup_printf ("Content-Encoding: gzip\r\nContent-Length: %zu\r\n",
                                             g_bytes_get_size (packed));
  g_autofree char *gzipped = raw_push (f, s, length, g_bytes_get_data (packed, NULL), g_bytes_get_size (packed));
  const char *pushes[] = { objects, arrays, in_data };
  const char *pulls[] = { in_collections, in_cursor, objects };

  for (guint i = 0; i < G_N_ELEMENTS (pushes); i++)
    {
      g_autoptr(Reply) pushed = request (f, s, "POST", "/push", f->alice, pushes[i]);
      g_autoptr(Reply) pulled = request (f, s, "POST", "/pull", f->alice, pulls[i]);

      assert_error (pushed, 400, "too-deep");
      assert_error (pulled, 400, "too-deep");
    }
  /* inside gzip, the depth is checked after decoding */
  assert_raw (gzipped, 400, "too-deep");
}

/* Headers past libsoup's 64 KiB are not answered: the connection is closed. */
static void
assert_huge_headers_dropped (Fixture *f,
                             Server  *s)
{
  g_autofree char *filler = g_strnfill (1 << 20, 'h');
  g_autofree char *header = g_strdup_printf ("X-Filler: %s\r\n", filler);
  g_autofree char *request_line = g_strdup_printf ("GET /pull?collections=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                                   filler);
  g_autofree char *dropped_header = raw_push (f, s, header, SMALL_PUSH, strlen (SMALL_PUSH));
  g_autofree char *dropped_url = raw_exchange (s, request_line, strlen (request_line));

  g_assert_cmpstr (dropped_header, ==, "");
  g_assert_cmpstr (dropped_url, ==, "");
}

void
test_oversized (Fixture *f)
{
  const char *extra[] = { "--max-body", "65536", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) alice = alice_writes (f, s);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *long_token = g_strnfill (60000, 'A');
  g_autofree char *names = g_strnfill (60000, ',');
  g_autofree char *long_url = g_strdup_printf ("/pull?collections=%s", names);
  g_autoptr(Reply) token_reply = NULL;
  g_autoptr(Reply) url_reply = NULL;

  assert_framing_refused (f, s);
  assert_deep_refused (f, s);
  assert_huge_headers_dropped (f, s);
  token_reply = request (f, s, "POST", "/pull", long_token, "{}");
  assert_error (token_reply, 401, "unauthorized");
  /* 60,001 empty collection names: a long filter, not a slow one */
  url_reply = request (f, s, "GET", long_url, f->alice, NULL);
  assert_status (url_reply, 200);
  g_assert_cmpuint (count_of (reply_object (url_reply), "changes"), ==, 0);
  assert_unchanged (f, s, before);
}

/* Connections that send nothing, bytes that never make a request (a TLS
 * hello to this plain-HTTP server) or half a body are closed after the read
 * timeout, each logged with 408; a request that arrives is answered. */
void
test_read_timeout (Fixture *f)
{
  const char *extra[] = { "--read-timeout", "1", NULL };
  Server *s = server_start (f, extra);
  static const char tls_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  g_autofree char *silent = raw_exchange (s, "", 0);
  g_autofree char *hello = raw_exchange (s, tls_hello, sizeof tls_hello - 1);
  g_autofree char *half = raw_push (f, s, "Content-Length: 100\r\n", "{\"changes\":", 11);
  g_autoptr(Reply) whole = request (f, s, "POST", "/pull", f->alice, "{}");
  g_autofree char *log = NULL;
  guint timeouts = 0;

  g_assert_cmpstr (silent, ==, "");
  g_assert_cmpstr (hello, ==, "");
  g_assert_cmpstr (half, ==, "");
  assert_status (whole, 200);
  log = read_log (s);
  for (const char *p = log; (p = strstr (p, " status=408 ")) != NULL; p++)
    timeouts++;
  g_assert_cmpuint (timeouts, ==, 3);
  /* the half push had authenticated: its line names the user */
  g_assert_nonnull (strstr (log, "/push user=alice status=408 "));
}

/* ---------------------------------------------------------------- WebSocket */

/* An error answer naming @code, for the frame's requestId or null. */
static void
assert_ws_error (Ws         *ws,
                 const char *request_id,
                 const char *code)
{
  g_autoptr(JsonObject) message = ws_next (ws);
  JsonObject *payload;

  g_assert_nonnull (message);
  g_assert_cmpstr (json_object_get_string_member (message, "type"), ==, "error");
  g_assert_cmpstr (json_object_get_string_member_with_default (message, "requestId", NULL), ==, request_id);
  payload = json_object_get_object_member (message, "payload");
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, code);
  g_assert_cmpuint (strlen (json_object_get_string_member (payload, "error")), >, 0);
}

void
test_ws_frames (Fixture *f)
{
  static const struct { const char *text; const char *request_id; const char *code; } frames[] = {
    { "{", NULL, "bad-request" },
    { "", NULL, "bad-request" },
    { " \n ", NULL, "bad-request" },
    { "[\"push\",\"x\",{}]", NULL, "bad-request" },
    { "{\"type\":\"push\",\"payload\":{\"changes\":[]}}", NULL, "bad-request" },
    { "{\"type\":\"push\",\"requestId\":{\"$ne\":1},\"payload\":{\"changes\":[]}}", NULL, "bad-request" },
    { "{\"type\":\"admin\",\"requestId\":\"x\",\"payload\":{}}", "x", "bad-request" },
    /* a type that is no string is a bad frame, not a crash */
    { "{\"type\":{\"push\":1},\"requestId\":\"t1\",\"payload\":{}}", "t1", "bad-request" },
    { "{\"type\":[\"push\"],\"requestId\":\"t2\",\"payload\":{}}", "t2", "bad-request" },
    { "{\"type\":5,\"requestId\":\"t3\",\"payload\":{}}", "t3", "bad-request" },
    { "{\"type\":null,\"requestId\":\"t4\",\"payload\":{}}", "t4", "bad-request" },
    { "{\"requestId\":\"t5\",\"payload\":{}}", "t5", "bad-request" },
    { "{\"type\":\"pu\\u0000sh\",\"requestId\":\"t6\",\"payload\":{}}", "t6", "bad-request" },
    { "{\"type\":\"push\",\"requestId\":\"t7\",\"payload\":{\"changes\":[]}} x", NULL, "bad-request" },
    { "{\"type\":\"pull\",\"requestId\":\"c\",\"payload\":{\"cursor\":\"1 OR 1=1\"}}", "c", "bad-cursor" },
    { "{\"type\":\"push\",\"requestId\":\"p\",\"payload\":\"changes\"}", "p", "bad-request" },
  };
  const char *extra[] = { "--max-body", "65536", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) alice = alice_writes (f, s);
  g_autofree char *before = snapshot (f, s);
  Ws *ws = ws_open (f, s, f->alice);
  g_autofree char *deep = nested ("[", "", "]", DEEP);
  g_autofree char *deep_frame = g_strdup_printf ("{\"type\":\"pull\",\"requestId\":\"d\",\"payload\":%s}", deep);
  g_autofree char *filler = g_strnfill (100 * 1024, 'x');
  g_autofree char *large = g_strdup_printf ("{\"type\":\"pull\",\"requestId\":\"l\",\"payload\":\"%s\"}", filler);
  g_autofree char *huge = g_strnfill (200 * 1024, ' ');
  g_autoptr(JsonObject) still = NULL;

  soup_websocket_connection_send_binary (ws->conn, SMALL_PUSH, strlen (SMALL_PUSH));
  assert_ws_error (ws, NULL, "bad-request");
  for (guint i = 0; i < G_N_ELEMENTS (frames); i++)
    {
      g_test_message ("frame %s", frames[i].text);
      soup_websocket_connection_send_text (ws->conn, frames[i].text);
      assert_ws_error (ws, frames[i].request_id, frames[i].code);
    }
  soup_websocket_connection_send_text (ws->conn, deep_frame);
  assert_ws_error (ws, NULL, "too-deep");
  soup_websocket_connection_send_text (ws->conn, large);
  assert_ws_error (ws, NULL, "too-large");
  still = ws_request (ws, "pull", "after", "{\"cursor\":null}");
  g_assert_cmpstr (json_object_get_string_member (still, "type"), ==, "pull_result");

  /* past twice the limit the server stops reading and closes */
  soup_websocket_connection_send_text (ws->conn, huge);
  g_assert_null (ws_next (ws));
  /* 1009, unless the close frame was lost in the reset of a half-sent frame */
  g_test_message ("close code %u", soup_websocket_connection_get_close_code (ws->conn));
  g_assert_true (soup_websocket_connection_get_close_code (ws->conn) == SOUP_WEBSOCKET_CLOSE_TOO_BIG ||
                 soup_websocket_connection_get_close_code (ws->conn) == 0);
  g_clear_pointer (&still, json_object_unref);
  still = ws_request (ws_open (f, s, f->alice), "pull", "again", "{\"cursor\":null}");
  g_assert_cmpstr (json_object_get_string_member (still, "type"), ==, "pull_result");
  assert_unchanged (f, s, before);
}
