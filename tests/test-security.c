/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "tether-gzip-private.h"
#include "tether-test-server.h"

/* Attacks on tether-server and on the local database, as an attacker would
 * make them: each must get a clear refusal and change nothing. What the
 * server suites prove already (one bad token, one deep body) is not repeated
 * here. "Nothing changed" is the whole feed of every user, pulled from null,
 * before and after. */

#define SECRET "alice-secret"
#define MAX_GUESSES 2000   /* bounds a guessing loop, whatever the machine's speed */
#define DEEP 10000

/* ----------------------------------------------------------------- helpers */

/* Everything the server holds for alice and for bob. */
static char *
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

static void
assert_unchanged (Fixture    *f,
                  Server     *s,
                  const char *before)
{
  g_autofree char *after = snapshot (f, s);

  g_assert_cmpstr (after, ==, before);
}

static char *
json_text (const char *text)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), text);

  return node_text (node);
}

static char *
object_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return node_text (node);
}

static void
assert_no_secret (const char *text)
{
  if (strstr (text, SECRET) != NULL || strstr (text, "alice-phone") != NULL)
    g_error ("bob was shown alice's data: %s", text);
}

/* A pull from @address: behind a proxy on this machine the server takes
 * the client's address from X-Real-IP. */
static Reply *
pull_from (Fixture    *f,
           Server     *s,
           const char *address,
           const char *token)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, "POST", "/pull", authorization);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("{}", 2);

  if (address != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "X-Real-IP", address);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  return call_finish (f, call_send (f, msg));
}

static char *
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

/* Writes @data on a new connection and reads one answer (or up to the close). */
static char *
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

/* The status and, for a JSON error, its code. */
static void
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

/* An upgrade to /ws@query with @headers ("Name: value\r\n"…), followed at
 * once by @frame when not NULL, as a client that does not wait would send it. */
static char *
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

/* ------------------------------------------------------------ token guessing */

/* A random token, or (@near) alice's with one character changed, in turn
 * at every position. */
static char *
guessed_token (const char *real,
               guint       i,
               gboolean    near)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *token = g_strdup (real);

  for (guint at = 0; at < 43 && !near; at++)
    token[at] = alphabet[g_random_int_range (0, 64)];
  if (near)
    token[i % 43] = token[i % 43] == 'A' ? 'B' : 'A';
  return token;
}

/* Strangers get a tenth of --rate, and --burst tries at once. */
#define GUESS_RATE  0.1
#define GUESS_BURST 8

/* Guesses from @address until 20 are refused with 429: the guesses that
 * reach token checking stay within what the limit lets through. */
static void
guess_from (Fixture    *f,
            Server     *s,
            const char *address,
            gboolean    near)
{
  gint64 start_us = g_get_monotonic_time ();
  guint reached = 0, limited = 0;
  double seconds;

  for (guint i = 0; i < MAX_GUESSES && limited < 20; i++)
    {
      g_autofree char *token = guessed_token (f->alice, i, near);
      g_autoptr(Reply) reply = pull_from (f, s, address, token);
      gboolean refused = reply->status == 429;

      assert_error (reply, refused ? 429 : 401, refused ? "rate-limited" : "unauthorized");
      g_assert_true (!refused || reply->retry_after != NULL);
      limited += refused;
      reached += !refused;
    }
  seconds = (g_get_monotonic_time () - start_us) / (double) G_USEC_PER_SEC;
  g_test_message ("%u guesses reached token checking, %u were refused with 429, in %.1f s",
                  reached, limited, seconds);
  g_assert_cmpuint (limited, ==, 20);
  g_assert_cmpfloat (reached, <=, GUESS_BURST + GUESS_RATE * seconds + 1);
}

static void
test_token_guessing (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "8", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) pushed = push (f, s, f->alice, "A",
                                       change_new ("g1", "notes", "\"n\"", "create", "{}", 0, NULL), NULL);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *header = g_strdup_printf ("Authorization: Bearer %s\r\nX-Real-IP: 203.0.113.7\r\n", f->alice);
  g_autofree char *upgrade = NULL;
  g_autoptr(Reply) right = NULL;
  g_autoptr(Reply) elsewhere = NULL;
  g_autoptr(Reply) local = NULL;

  guess_from (f, s, "203.0.113.7", FALSE);
  /* once the address is slowed, a right guess is refused like a wrong one */
  right = pull_from (f, s, "203.0.113.7", f->alice);
  assert_error (right, 429, "rate-limited");
  upgrade = raw_upgrade (s, "", header, NULL);
  assert_raw (upgrade, 429, "rate-limited");
  guess_from (f, s, "203.0.113.8", TRUE);

  /* the limit is per address: alice elsewhere is not locked out */
  elsewhere = pull_from (f, s, "198.51.100.1", f->alice);
  assert_status (elsewhere, 200);
  local = pull_from (f, s, NULL, f->alice);
  assert_status (local, 200);
  assert_unchanged (f, s, before);
}

/* A token anywhere but the Authorization header is no token. */
static void
test_token_elsewhere (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *frame = g_strdup_printf ("{\"type\":\"push\",\"requestId\":\"x\",\"payload\":"
                                            "{\"changes\":[{\"id\":\"w\",\"collection\":\"notes\","
                                            "\"recordId\":\"pwned\",\"type\":\"create\",\"data\":{}}]}}");
  g_autofree char *query = g_strdup_printf ("?token=%s&access_token=%s", f->alice, f->alice);
  g_autofree char *protocol = g_strdup_printf ("Sec-WebSocket-Protocol: %s\r\nCookie: token=%s\r\n",
                                               f->alice, f->alice);
  g_autofree char *wrong = g_strdup_printf ("Authorization: Bearer %s\r\n", f->alice + 1);
  g_autofree char *twice = g_strdup_printf ("Authorization: Bearer %s\r\nAuthorization: Bearer nope\r\n",
                                            f->alice);
  g_autofree char *pull_path = g_strdup_printf ("/pull%s", query);
  const char *headers[] = { "", protocol, wrong, twice, "Authorization: Bearer\r\n" };
  g_autoptr(Reply) get = request (f, s, "GET", pull_path, NULL, NULL);

  assert_error (get, 401, "unauthorized");
  for (guint i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      g_autofree char *plain = raw_upgrade (s, query, headers[i], NULL);
      /* frames sent before the upgrade was answered are never run */
      g_autofree char *eager = raw_upgrade (s, query, headers[i], frame);

      assert_raw (plain, 401, "unauthorized");
      assert_raw (eager, 401, "unauthorized");
    }
  assert_unchanged (f, s, before);
}

/* ------------------------------------------------------------ user isolation */

#define ALICE_DATA "{\"title\":\"" SECRET "\"}"

static JsonObject *
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

/* Bob's pushes of alice's ids, change ids and revs: none is his to change
 * (over WebSocket too, see test_ws_request_ids). */
static char *
bob_forgeries (void)
{
  return push_body ("alice-phone",
                    change_new ("a-1", "notes", "\"n1\"", "update", "{\"title\":\"bob\"}", 1, NULL),
                    change_new ("a-2", "alice-private", "\"p1\"", "delete", NULL, 2, NULL),
                    change_new ("a-3", "notes", "\"n1\"", "update", "{\"title\":\"forged\"}", 1, NULL),
                    change_new ("b-1", "notes", "\"n1\"", "delete", NULL, 3, NULL),
                    NULL);
}

static const char * const bob_pulls[] = {
  "{\"cursor\":\"2\"}",
  "{\"cursor\":\"3\",\"collections\":[\"alice-private\"]}",
  "{\"cursor\":null,\"collections\":[\"alice-private\",\"notes\"]}",
  "{\"cursor\":\"0\",\"clientId\":\"alice-phone\"}",
};

static void
assert_refused_forgeries (JsonObject *response)
{
  static const char * const ids[] = { "a-1", "a-2", "a-3", "b-1" };
  g_autofree char *text = object_text (response);

  assert_no_secret (text);
  assert_counts (response, 0, G_N_ELEMENTS (ids), 0);
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      JsonObject *conflict = assert_conflict (response, ids[i]);

      g_assert_true (json_object_get_null_member (conflict, "remote"));
      g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, 0);
    }
}

static void
assert_empty_pull (JsonObject *response)
{
  g_autofree char *text = object_text (response);

  assert_no_secret (text);
  g_assert_cmpuint (count_of (response, "changes"), ==, 0);
}

static void
test_isolation (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) alice = alice_writes (f, s);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *forgeries = bob_forgeries ();
  g_autoptr(JsonObject) http = post_ok (f, s, "/push", f->bob, forgeries);
  g_autoptr(Reply) get = request (f, s, "GET", "/pull?cursor=1&collections=alice-private,notes",
                                  f->bob, NULL);

  assert_refused_forgeries (http);
  assert_status (get, 200);
  assert_empty_pull (reply_object (get));
  for (guint i = 0; i < G_N_ELEMENTS (bob_pulls); i++)
    {
      g_autoptr(JsonObject) pulled = pull (f, s, f->bob, bob_pulls[i]);

      g_test_message ("bob pulls %s", bob_pulls[i]);
      assert_empty_pull (pulled);
    }
  assert_unchanged (f, s, before);
}

/* ------------------------------------------------------------ SQL injection */

static const char * const evil_names[] = {
  "'", "\"", "`", "\\", "%", "_", "?", "?1", "$1", ":name", "@p", "--", "/*", ";", "a,b",
  "notes'; DROP TABLE records; --", "' OR 1=1 --", "\" OR \"\"=\"", "Robert'); DROP TABLE users;--",
  "notes'); DELETE FROM applied WHERE ('1'='1", "{\"$gt\":\"\"}", "ノート 📝 é", "\xe2\x80\xae" "seton",
  "records", "users", "applied", "sqlite_master", "pg_catalog.pg_user",
};

/* Keys of record data that a query builder could take for syntax. */
#define EVIL_DATA "{\"a'b\":1,\"a\\\"b\":2,\"a.b\":3,\"$where\":4,\"[0]\":5,\"a]b[\":6," \
                  "\"$.x')--\":7,\"; DROP TABLE records\":8,\"\\\\\":9,\"\":10}"

/* Every evil name as a collection and a record id, with evil keys, ids and
 * client id; @extra: one more change or NULL. */
static char *
evil_push (const char *extra)
{
  g_autoptr(GString) body = g_string_new ("{\"clientId\":\"x' OR '1'='1\",\"changes\":[");

  for (guint i = 0; i < G_N_ELEMENTS (evil_names); i++)
    {
      g_autofree char *id = g_strdup_printf ("'; DROP TABLE applied; -- %u", i);
      g_autofree char *id_json = json_text (id);
      g_autofree char *name = json_text (evil_names[i]);

      g_string_append_printf (body, "%s{\"id\":%s,\"collection\":%s,\"recordId\":%s,\"type\":\"create\","
                              "\"data\":" EVIL_DATA ",\"baseRev\":0}", i ? "," : "", id_json, name, name);
    }
  if (extra != NULL)
    g_string_append_printf (body, ",%s", extra);
  g_string_append (body, "]}");
  return g_strdup (body->str);
}

static void
assert_stored_verbatim (Fixture *f,
                        Server  *s)
{
  g_autoptr(JsonArray) all = pull_all (f, s, f->alice, NULL, NULL);
  g_autofree char *expected = compact (EVIL_DATA);

  g_assert_cmpuint (json_array_get_length (all), ==, G_N_ELEMENTS (evil_names) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (evil_names); i++)
    {
      g_autofree char *key = json_text (evil_names[i]);
      g_autofree char *filter = g_strdup_printf ("[%s]", key);
      g_autoptr(JsonArray) one = pull_all (f, s, f->alice, filter, NULL);
      JsonObject *change = find_change (all, evil_names[i], key);
      g_autofree char *data = NULL;

      g_test_message ("collection %s", evil_names[i]);
      g_assert_nonnull (change);
      data = change_data (change);
      g_assert_cmpstr (data, ==, expected);
      /* a filter on one name matches that collection only */
      g_assert_cmpuint (json_array_get_length (one), ==, 1);
    }
}

static const char * const evil_cursors[] = {
  "abc", "1 OR 1=1", "1; DROP TABLE records", "1'--", "-1", "-9223372036854775808",
  "9223372036854775808", "99999999999999999999999999", "0x10", "1e3", "+1", " 1", "1 ",
  "eyJyZXYiOjF9", "MTIz", "\xef\xbc\x91", "\xd9\xa1", "1\\u0000", "NaN",
};

static void
assert_cursors_refused (Fixture *f,
                        Server  *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (evil_cursors); i++)
    {
      g_autofree char *cursor = json_text (evil_cursors[i]);
      g_autofree char *body = g_strdup_printf ("{\"cursor\":%s}", cursor);
      g_autofree char *escaped = g_uri_escape_string (evil_cursors[i], NULL, FALSE);
      g_autofree char *path = g_strdup_printf ("/pull?cursor=%s", escaped);
      g_autoptr(Reply) posted = request (f, s, "POST", "/pull", f->alice, body);
      g_autoptr(Reply) got = request (f, s, "GET", path, f->alice, NULL);

      g_test_message ("cursor %s", body);
      assert_error (posted, 400, "bad-cursor");
      assert_error (got, 400, "bad-cursor");
    }
}

/* Every row of every table of a SQLite file, after its integrity check. */
static char *
sqlite_dump (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *tables = NULL;
  GString *out = g_string_new (NULL);

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &tables, NULL);
  g_assert_cmpint (sqlite3_step (tables), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (tables, 0), ==, "ok");
  sqlite3_finalize (tables);
  sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &tables, NULL);
  while (sqlite3_step (tables) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (tables, 0);
      g_autofree char *sql = g_strdup_printf ("SELECT * FROM \"%s\" ORDER BY rowid", name);
      sqlite3_stmt *rows = NULL;

      g_string_append_printf (out, "[%s]\n", name);
      /* WITHOUT ROWID tables (FTS shadows) are left out: they mirror the others. */
      if (sqlite3_prepare_v2 (db, sql, -1, &rows, NULL) != SQLITE_OK)
        continue;
      while (sqlite3_step (rows) == SQLITE_ROW)
        for (int c = 0; c < sqlite3_column_count (rows); c++)
          g_string_append_printf (out, "%s%c", (const char *) sqlite3_column_text (rows, c),
                                  c + 1 < sqlite3_column_count (rows) ? '|' : '\n');
      sqlite3_finalize (rows);
    }
  sqlite3_finalize (tables);
  sqlite3_close (db);
  return g_string_free (out, FALSE);
}

static void
test_injection (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *longest = g_strnfill (128, '\'');
  g_autofree char *too_long = g_strnfill (129, '\'');
  g_autofree char *fits = change_new ("long-ok", longest, "\"l\"", "create", "{}", 0, NULL);
  g_autofree char *over = change_new ("long-no", too_long, "\"l\"", "create", "{}", 0, NULL);
  g_autofree char *body = evil_push (fits);
  g_autofree char *refused = push_body ("A", g_strdup (over), NULL);
  g_autoptr(JsonObject) first = post_ok (f, s, "/push", f->alice, body);
  g_autoptr(JsonObject) retry = post_ok (f, s, "/push", f->alice, body);
  g_autoptr(JsonObject) too_long_reply = post_ok (f, s, "/push", f->alice, refused);
  g_autoptr(JsonObject) own = pull (f, s, f->alice, "{\"clientId\":\"x' OR '1'='1\"}");
  g_autoptr(JsonObject) none = pull (f, s, f->alice, "{\"collections\":[\"x' OR '1'='1\",\"notes') OR 1=1 --\"]}");
  g_autoptr(Reply) get = request (f, s, "GET", "/pull?collections=%27%20OR%201%3D1%20--", f->alice, NULL);
  g_autofree char *first_accepted = node_text (json_object_get_member (first, "accepted"));
  g_autofree char *retry_accepted = node_text (json_object_get_member (retry, "accepted"));
  g_autofree char *before = NULL;
  g_autofree char *file_before = NULL;
  g_autofree char *file_after = NULL;

  assert_counts (first, G_N_ELEMENTS (evil_names) + 1, 0, 0);
  /* the evil change ids were found again: the same answer, nothing twice */
  g_assert_cmpstr (retry_accepted, ==, first_accepted);
  assert_change_error (too_long_reply, "long-no", "bad-change");
  /* the evil clientId leaves out exactly its own writes */
  g_assert_cmpuint (count_of (own, "changes"), ==, 0);
  g_assert_cmpuint (count_of (none, "changes"), ==, 0);
  assert_status (get, 200);
  g_assert_cmpuint (count_of (reply_object (get), "changes"), ==, 1);
  assert_stored_verbatim (f, s);

  before = snapshot (f, s);
  file_before = f->postgres ? NULL : sqlite_dump (f->storage[1]);
  assert_cursors_refused (f, s);
  assert_unchanged (f, s, before);
  file_after = f->postgres ? NULL : sqlite_dump (f->storage[1]);
  g_assert_cmpstr (file_after, ==, file_before);
}

/* The local database through the `tether` CLI: names and values crafted as
 * SQL are refused or matched as plain text; the file does not change. */

#define CLI(db, ...) cli_run (g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, \
                                                NULL, g_getenv ("TETHER_CLI"), "--db", db, __VA_ARGS__, NULL))

static Command *
cli_run (GSubprocess *process)
{
  g_autoptr(GSubprocess) owned = process;
  g_autoptr(GError) error = NULL;
  Command *command = g_new0 (Command, 1);

  g_assert_nonnull (process);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &command->out, &command->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  command->status = g_subprocess_get_exit_status (process);
  return command;
}

/* Refused (status 1, an error naming @what) or, for @what NULL, answered
 * (@out, unless NULL). */
static void
assert_cli (Command    *command,
            const char *what,
            const char *out)
{
  g_autoptr(Command) owned = command;

  g_test_message ("tether → %d: %s%s", command->status, command->out, command->err);
  g_assert_cmpint (command->status, ==, what != NULL ? 1 : 0);
  if (what != NULL)
    g_assert_true (command->out[0] == '\0' && g_str_has_prefix (command->err, "tether: ") &&
                   strstr (command->err, what) != NULL);
  else if (out != NULL)
    g_assert_cmpstr (command->out, ==, out);
}

static void
test_client_injection (Fixture *f)
{
  g_autofree char *db = g_build_filename (f->dir, "local.db", NULL);
  const char *name = "tasks'; DROP TABLE t_tasks; --";
  const char *field = "title') OR 1=1 --";
  const char *value = "title == x' OR '1'='1";
  const char *id = "' OR '1'='1";
  g_autofree char *sort = g_strdup_printf ("%s:desc", field);
  g_autofree char *where = g_strdup_printf ("%s == x", field);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  assert_cli (CLI (db, "put", "tasks", "{\"id\":\"t1\",\"title\":\"Alpha\"}"), NULL, NULL);
  assert_cli (CLI (db, "put", "notes", "{\"id\":\"n1\",\"title\":\"Beta\"}"), NULL, NULL);
  before = sqlite_dump (db);
  assert_cli (CLI (db, "query", name), name, NULL);
  assert_cli (CLI (db, "count", name), name, NULL);
  assert_cli (CLI (db, "export", name), name, NULL);
  assert_cli (CLI (db, "query", "tasks", "--sort", sort), field, NULL);
  assert_cli (CLI (db, "count", "tasks", "--where", where), field, NULL);
  assert_cli (CLI (db, "delete", "tasks", id), id, NULL);
  assert_cli (CLI (db, "update", "tasks", id, "{\"title\":\"pwned\"}"), id, NULL);
  assert_cli (CLI (db, "get", "tasks", id), id, NULL);
  assert_cli (CLI (db, "query", "tasks", "--where", value), NULL, "[]\n");
  assert_cli (CLI (db, "count", "tasks", "--where", "title in [\"a'); DROP TABLE t_tasks; --\"]"), NULL, "0\n");
  assert_cli (CLI (db, "query", "tasks", "--or", value, "--or", "title prefix %"), NULL, "[]\n");
  assert_cli (CLI (db, "search", "tasks", "\"; DROP TABLE t_tasks; -- OR * NEAR"), NULL, "[]\n");
  after = sqlite_dump (db);
  g_assert_cmpstr (after, ==, before);
}

/* ------------------------------------------------- oversized and deep bodies */

/* A raw POST /push: @headers after the Authorization, then @body. */
static char *
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

#define SMALL_PUSH "{\"changes\":[{\"id\":\"x1\",\"collection\":\"n\",\"recordId\":\"x\",\"type\":\"create\",\"data\":{}}]}"

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

static void
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

/* ---------------------------------------------------------------- WebSocket */

static gboolean
inbox_ready (gpointer data)
{
  Ws *ws = data;

  return ws->inbox.length > 0 || ws->closed;
}

/* The next message, whatever it is; NULL when the connection closed. */
static JsonObject *
ws_next (Ws *ws)
{
  if (!wait_until (ws->f, inbox_ready, ws, REQUEST_TIMEOUT_MS))
    g_error ("no WebSocket message within %d ms", REQUEST_TIMEOUT_MS);
  return g_queue_pop_head (&ws->inbox);
}

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

static void
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

#define N_IDS 10

static void
send_frame (Ws         *ws,
            const char *type,
            const char *request_id,
            const char *payload)
{
  g_autofree char *text = g_strdup_printf ("{\"type\":\"%s\",\"requestId\":\"%s\",\"payload\":%s}",
                                           type, request_id, payload);

  soup_websocket_connection_send_text (ws->conn, text);
}

/* @n answers, in the order sent: alice's pulls see her two records, bob's
 * nothing of hers. Returns the last. */
static JsonObject *
assert_answers (Ws       *ws,
                guint     n,
                gboolean  alice)
{
  JsonObject *message = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *expected = g_strdup_printf ("r-%u", i % N_IDS);
      g_autofree char *text = NULL;

      g_clear_pointer (&message, json_object_unref);
      message = ws_next (ws);
      g_assert_nonnull (message);
      text = object_text (message);
      g_assert_cmpstr (json_object_get_string_member (message, "requestId"), ==, expected);
      if (!alice)
        assert_no_secret (text);
      if (g_str_equal (json_object_get_string_member (message, "type"), "pull_result"))
        g_assert_cmpuint (count_of (json_object_get_object_member (message, "payload"), "changes"), ==,
                          alice ? 2 : 0);
    }
  return message;
}

/* Bob reuses alice's requestIds (and change ids) on his own connection. */
static void
test_ws_request_ids (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) alice = alice_writes (f, s);
  g_autofree char *before = snapshot (f, s);
  Ws *alice_ws = ws_open (f, s, f->alice);
  Ws *bob_ws = ws_open (f, s, f->bob);
  Ws *bob_laptop = ws_open (f, s, f->bob);
  g_autofree char *forgeries = bob_forgeries ();
  g_autoptr(JsonObject) alice_last = NULL;
  g_autoptr(JsonObject) bob_last = NULL;
  g_autoptr(JsonArray) pushed = NULL;
  g_autoptr(JsonObject) bob_write = NULL;
  g_autoptr(JsonArray) alice_after = NULL;
  g_autofree char *alice_feed = NULL;

  for (guint i = 0; i < N_IDS; i++)
    {
      g_autofree char *id = g_strdup_printf ("r-%u", i);

      send_frame (alice_ws, "pull", id, "{\"cursor\":null}");
      send_frame (bob_ws, "pull", id, bob_pulls[i % G_N_ELEMENTS (bob_pulls)]);
    }
  send_frame (bob_ws, "push", "r-0", strchr (forgeries, '{'));
  alice_last = assert_answers (alice_ws, N_IDS, TRUE);
  bob_last = assert_answers (bob_ws, N_IDS + 1, FALSE);
  g_assert_cmpstr (json_object_get_string_member (bob_last, "type"), ==, "push_result");
  assert_refused_forgeries (json_object_get_object_member (bob_last, "payload"));
  assert_unchanged (f, s, before);

  /* bob's own write under alice's requestId and change id reaches bob only */
  bob_write = ws_request (bob_ws, "push", "r-0",
                          "{\"clientId\":\"alice-phone\",\"changes\":[{\"id\":\"a-1\",\"collection\":\"notes\","
                          "\"recordId\":\"n1\",\"type\":\"create\",\"data\":{\"title\":\"bob\"},\"baseRev\":0}]}");
  g_assert_cmpint (accepted_rev (json_object_get_object_member (bob_write, "payload"), "a-1"), ==, 1);
  pushed = ws_server_push (bob_laptop, PUSH_TIMEOUT_MS);
  g_assert_nonnull (pushed);
  run_for (f, QUIET_MS);
  g_assert_cmpuint (alice_ws->inbox.length, ==, 0);
  alice_after = pull_all (f, s, f->alice, NULL, NULL);
  alice_feed = node_text (json_array_get_element (alice_after, 0));
  g_assert_nonnull (strstr (alice_feed, SECRET));
  g_assert_cmpuint (json_array_get_length (alice_after), ==, 2);
}

/* ------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "token-guessing", test_token_guessing },
    { "token-elsewhere", test_token_elsewhere },
    { "isolation", test_isolation },
    { "injection", test_injection },
    { "client-injection", test_client_injection },
    { "oversized", test_oversized },
    { "ws-frames", test_ws_frames },
    { "ws-request-ids", test_ws_request_ids },
  };

  tether_test_server_set_prefix ("/tether/reliability/security");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
