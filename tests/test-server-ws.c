/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server-ws"
#include "config.h"

#include <string.h>
#include <libpq-fe.h>

#include "tether-test-server.h"

/* WebSocket clients, many clients at once, and several server processes
 * on one PostgreSQL database. */

/* ------------------------------------------------------------- WebSocket */

static void
test_ws_auth (Fixture *f)
{
  Server *s = server_start (f, NULL);
  guint status = 0;

  g_assert_null (ws_connect (f, s, NULL, &status));
  g_assert_cmpuint (status, ==, 401);
  g_assert_null (ws_connect (f, s, "nope", &status));
  g_assert_cmpuint (status, ==, 401);
  g_assert_nonnull (ws_connect (f, s, f->alice, &status));
  g_assert_cmpuint (status, ==, 101);
}

static void
test_ws_requests (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  g_autoptr(JsonObject) bad_cursor = NULL;
  g_autoptr(JsonObject) bad_push = NULL;
  g_autoptr(JsonObject) after = NULL;
  JsonObject *payload;

  pushed = ws_request (ws, "push", "r-1",
                       "{\"clientId\":\"ws\",\"changes\":[{\"id\":\"w1\",\"collection\":\"notes\","
                       "\"recordId\":\"r\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0}]}");
  g_assert_cmpstr (json_object_get_string_member (pushed, "type"), ==, "push_result");
  payload = json_object_get_object_member (pushed, "payload");
  assert_counts (payload, 1, 0, 0);
  g_assert_cmpint (accepted_rev (payload, "w1"), ==, 1);

  pulled = ws_request (ws, "pull", "r-2", "{\"cursor\":null}");
  g_assert_cmpstr (json_object_get_string_member (pulled, "type"), ==, "pull_result");
  payload = json_object_get_object_member (pulled, "payload");
  g_assert_cmpuint (count_of (payload, "changes"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (payload, "cursor"), ==, "1");

  /* errors carry the requestId and the JSON error body; the socket stays usable */
  bad_cursor = ws_request (ws, "pull", "r-3", "{\"cursor\":\"abc\"}");
  g_assert_cmpstr (json_object_get_string_member (bad_cursor, "type"), ==, "error");
  payload = json_object_get_object_member (bad_cursor, "payload");
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, "bad-cursor");
  bad_push = ws_request (ws, "push", "r-4", "{}");
  g_assert_cmpstr (json_object_get_string_member (bad_push, "type"), ==, "error");
  payload = json_object_get_object_member (bad_push, "payload");
  g_assert_cmpstr (json_object_get_string_member (payload, "code"), ==, "bad-request");
  after = ws_request (ws, "pull", "r-5", "{\"cursor\":\"1\"}");
  g_assert_cmpstr (json_object_get_string_member (after, "type"), ==, "pull_result");
  g_assert_false (ws->closed);
}

static void
assert_pushed (JsonArray  *changes,
               const char *id,
               const char *data)
{
  g_autofree char *got = NULL;

  g_assert_nonnull (changes);
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, id);
  got = change_data (json_array_get_object_element (changes, 0));
  g_assert_cmpstr (got, ==, data);
}

static void
test_ws_server_push (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *phone = ws_open (f, s, f->alice);
  Ws *laptop = ws_open (f, s, f->alice);
  Ws *other = ws_open (f, s, f->bob);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) http = NULL;
  g_autoptr(JsonObject) bob = NULL;
  g_autoptr(JsonArray) on_laptop = NULL;
  g_autoptr(JsonArray) on_phone = NULL;
  g_autoptr(JsonArray) on_laptop_2 = NULL;
  g_autoptr(JsonArray) on_other = NULL;

  /* a push on one connection reaches the user's other connections */
  pushed = ws_request (phone, "push", "p-1",
                       "{\"clientId\":\"phone\",\"changes\":[{\"id\":\"sp1\",\"collection\":\"notes\","
                       "\"recordId\":\"r\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0}]}");
  g_assert_cmpstr (json_object_get_string_member (pushed, "type"), ==, "push_result");
  on_laptop = ws_server_push (laptop, PUSH_TIMEOUT_MS);
  assert_pushed (on_laptop, "sp1", "{\"v\":1}");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (on_laptop, 0), "rev"), ==, 1);
  run_for (f, QUIET_MS);
  /* not back to the writer, never to another user */
  assert_no_server_push (phone);
  assert_no_server_push (other);

  /* a write by another client over HTTP reaches every connection of the user */
  http = push (f, s, f->alice, "desktop",
               change_new ("sp2", "notes", "\"r\"", "update", "{\"v\":2}", 1, NULL), NULL);
  assert_counts (http, 1, 0, 0);
  on_phone = ws_server_push (phone, PUSH_TIMEOUT_MS);
  on_laptop_2 = ws_server_push (laptop, PUSH_TIMEOUT_MS);
  assert_pushed (on_phone, "sp2", "{\"v\":2}");
  assert_pushed (on_laptop_2, "sp2", "{\"v\":2}");

  /* bob's write (same collection and record id) goes to bob only */
  bob = push (f, s, f->bob, "bob-desktop",
              change_new ("sp3", "notes", "\"r\"", "create", "{\"v\":3}", 0, NULL), NULL);
  on_other = ws_server_push (other, PUSH_TIMEOUT_MS);
  assert_pushed (on_other, "sp3", "{\"v\":3}");
  run_for (f, QUIET_MS);
  assert_no_server_push (phone);
  assert_no_server_push (laptop);
}

/* Numbers and escapes json-glib 1.6 would rewrite (1e+20.0, a raw U+001F,
 * a wrapped integer): user data stored and sent exactly as pushed. */
#define UNUSUAL_DATA "{\"big\":1e20,\"huge\":12345678901234567890,\"s\":\"a\\u001fb\",\"neg\":-0}"

static void
assert_holds (const char *text,
              const char *expected)
{
  g_assert_nonnull (text);
  if (strstr (text, expected) == NULL)
    g_error ("%s does not hold %s", text, expected);
}

static void
test_ws_server_push_as_sent (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *laptop = ws_open (f, s, f->alice);
  g_autoptr(JsonObject) http = NULL;
  g_autofree char *text = NULL;

  http = push (f, s, f->alice, "desktop",
               change_new ("u1", "notes", "\"r\"", "create", "{ \"big\" : 1e20 , \"huge\" : 12345678901234567890 ,"
                           " \"s\" : \"a\\u001fb\" , \"neg\" : -0 }", 0, NULL), NULL);
  assert_counts (http, 1, 0, 0);
  text = ws_server_push_text (laptop, PUSH_TIMEOUT_MS);
  assert_holds (text, "\"data\":" UNUSUAL_DATA);
}

static gboolean
inbox_ready (gpointer data)
{
  Ws *ws = data;

  return ws->inbox.length > 0 || ws->closed;
}

/* The next message's text, as the server sent it; @message its parse. */
static char *
ws_next_text (Ws          *ws,
              JsonObject **message)
{
  char *text = NULL;

  if (!wait_until (ws->f, inbox_ready, ws, REQUEST_TIMEOUT_MS))
    g_error ("no WebSocket message within %d ms", REQUEST_TIMEOUT_MS);
  *message = ws_pop (ws, &text);
  return text;
}

/* A WebSocket push is read as an HTTP push is: its payload's text, not a
 * JSON library's rewriting of it. requestIds come back as sent. */
static void
test_ws_push_as_http (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autofree char *nul = change_new ("z1", "notes", "\"nul\"", "create", "{\"s\":\"a\\u0000b\"}", 0, NULL);
  g_autofree char *unusual = change_new ("z2", "notes", "\"r\"", "create", "{ \"big\" : 1e20 , \"huge\" : "
                                         "12345678901234567890 , \"s\" : \"a\\u001fb\" , \"neg\" : -0 }", 0, NULL);
  g_autofree char *push_frame = g_strdup_printf ("{\"type\":\"push\",\"requestId\":1e20,\"payload\":"
                                                 "{\"clientId\":\"ws\",\"changes\":[%s,%s]}}", nul, unusual);
  g_autofree char *pushed_text = NULL, *pulled_text = NULL;
  g_autoptr(JsonObject) pushed = NULL, pulled = NULL;
  g_autoptr(Reply) page = NULL;
  JsonObject *payload;

  soup_websocket_connection_send_text (ws->conn, push_frame);
  pushed_text = ws_next_text (ws, &pushed);
  g_assert_true (g_str_has_prefix (pushed_text, "{\"type\":\"push_result\",\"requestId\":1e20,"));
  payload = json_object_get_object_member (pushed, "payload");
  assert_counts (payload, 1, 0, 1);
  assert_accepted (payload, "z2");
  assert_change_error (payload, "z1", "bad-change");
  page = request (f, s, "POST", "/pull", f->alice, "{}");
  assert_status (page, 200);
  assert_holds (page->text, "\"data\":" UNUSUAL_DATA);

  soup_websocket_connection_send_text (ws->conn, "{\"type\":\"pull\",\"requestId\":\"p\\u001f\",\"payload\":null}");
  pulled_text = ws_next_text (ws, &pulled);
  g_assert_true (g_str_has_prefix (pulled_text, "{\"type\":\"pull_result\",\"requestId\":\"p\\u001f\","));
  assert_holds (pulled_text, "\"data\":" UNUSUAL_DATA);
}

typedef struct {
  Call **calls;
  guint  n;
} Calls;

static gboolean
calls_ready (gpointer data)
{
  Calls *calls = data;

  for (guint i = 0; i < calls->n; i++)
    if (!calls->calls[i]->done)
      return FALSE;
  return TRUE;
}

/* Many clients connect at the same moment (as they do when the server comes
 * back after a restart): every one of them is served. */
static void
test_many_clients (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Call *calls[MANY_CLIENTS];
  Calls all = { calls, MANY_CLIENTS };
  guint failed = 0;

  for (guint i = 0; i < MANY_CLIENTS; i++)
    calls[i] = call_start (f, s, "POST", "/pull", i % 2 ? f->alice : f->bob, "{}");
  if (!wait_until (f, calls_ready, &all, REQUEST_TIMEOUT_MS))
    g_error ("%d clients connecting at once got no answer within %d ms", MANY_CLIENTS, REQUEST_TIMEOUT_MS);
  for (guint i = 0; i < MANY_CLIENTS; i++)
    {
      if (calls[i]->error != NULL)
        {
          g_test_message ("client %u: %s", i, calls[i]->error->message);
          failed++;
        }
      else if (soup_message_get_status (calls[i]->msg) != 200)
        {
          g_test_message ("client %u: HTTP %u", i, soup_message_get_status (calls[i]->msg));
          failed++;
        }
      call_free (calls[i]);
    }
  g_assert_cmpuint (failed, ==, 0);
}

/* A connection's own writes are told by the clientId its pushes and pulls
 * carry, compared whole: a write of that client through HTTP is not
 * echoed, a client whose id merely ends like it ("x-phone") is. */
static void
test_ws_own_client (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autoptr(JsonObject) pulled = NULL;
  g_autoptr(JsonObject) mine = NULL;
  g_autoptr(JsonObject) theirs = NULL;
  g_autoptr(JsonArray) changes = NULL;

  pulled = ws_request (ws, "pull", "p-1", "{\"cursor\":null,\"clientId\":\"phone\"}");
  g_assert_cmpstr (json_object_get_string_member (pulled, "type"), ==, "pull_result");
  mine = push (f, s, f->alice, "phone",
               change_new ("o1", "notes", "\"a\"", "create", "{}", 0,
                           "\"hlc\":\"1700000000000-0000-phone\""), NULL);
  assert_counts (mine, 1, 0, 0);
  run_for (f, QUIET_MS);
  assert_no_server_push (ws);

  theirs = push (f, s, f->alice, "x-phone",
                 change_new ("o2", "notes", "\"b\"", "create", "{}", 0,
                             "\"hlc\":\"1700000000001-0000-x-phone\""), NULL);
  assert_counts (theirs, 1, 0, 0);
  changes = ws_server_push (ws, PUSH_TIMEOUT_MS);
  assert_pushed (changes, "o2", "{}");
}

/* --------------------------------------------------- several server processes */

typedef struct {
  Call *a;
  Call *b;
} Pair;

static gboolean
pair_ready (gpointer data)
{
  Pair *pair = data;

  return pair->a->done && pair->b->done;
}

static JsonObject *
call_object (Call *call)
{
  g_autoptr(Reply) reply = call_reply (call);

  assert_status (reply, 200);
  return json_object_ref (reply_object (reply));
}

/* Two processes on one database take the same record at the same baseRev:
 * one accept, one conflict, every time. */
static void
test_two_servers_conflict (Fixture *f)
{
  Server *a = server_start (f, NULL);
  Server *b = server_start (f, NULL);
  g_autoptr(JsonObject) created = push (f, a, f->alice, "A",
                                        change_new ("t0", "notes", "\"r\"", "create", "{\"v\":0}", 0, NULL),
                                        NULL);
  gint64 rev = accepted_rev (created, "t0");
  g_autofree char *cursor = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *winner_data = NULL;
  g_autofree char *final_data = NULL;
  g_autoptr(JsonArray) changes = NULL;
  guint rounds = 20;

  for (guint round = 1; round <= rounds; round++)
    {
      g_autofree char *id_a = g_strdup_printf ("a%u", round);
      g_autofree char *id_b = g_strdup_printf ("b%u", round);
      g_autofree char *data_a = g_strdup_printf ("{\"by\":\"a\",\"round\":%u}", round);
      g_autofree char *data_b = g_strdup_printf ("{\"by\":\"b\",\"round\":%u}", round);
      g_autofree char *body_a = push_body ("A", change_new (id_a, "notes", "\"r\"", "update", data_a, rev, NULL), NULL);
      g_autofree char *body_b = push_body ("B", change_new (id_b, "notes", "\"r\"", "update", data_b, rev, NULL), NULL);
      g_autoptr(Call) call_a = call_start (f, a, "POST", "/push", f->alice, body_a);
      g_autoptr(Call) call_b = call_start (f, b, "POST", "/push", f->alice, body_b);
      Pair pair = { call_a, call_b };
      g_autoptr(JsonObject) answer_a = NULL;
      g_autoptr(JsonObject) answer_b = NULL;
      JsonObject *winner, *loser;
      const char *winner_id;

      if (!wait_until (f, pair_ready, &pair, REQUEST_TIMEOUT_MS))
        g_error ("concurrent pushes got no answer within %d ms", REQUEST_TIMEOUT_MS);
      answer_a = call_object (call_a);
      answer_b = call_object (call_b);
      g_assert_cmpuint (count_of (answer_a, "accepted") + count_of (answer_b, "accepted"), ==, 1);
      g_assert_cmpuint (count_of (answer_a, "conflicts") + count_of (answer_b, "conflicts"), ==, 1);
      winner = count_of (answer_a, "accepted") ? answer_a : answer_b;
      loser = winner == answer_a ? answer_b : answer_a;
      winner_id = winner == answer_a ? id_a : id_b;
      rev = accepted_rev (winner, winner_id);
      g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (
                         json_object_get_array_member (loser, "conflicts"), 0), "remoteRev"), ==, rev);
      g_free (winner_data);
      winner_data = compact (winner == answer_a ? data_a : data_b);
    }

  changes = pull_all (f, b, f->alice, NULL, &cursor);
  final_data = change_data (find_change (changes, "notes", "\"r\""));
  g_assert_cmpstr (final_data, ==, winner_data);
  expected = g_strdup_printf ("%u", rounds + 1);
  g_assert_cmpstr (cursor, ==, expected);
}

/* A WebSocket client of server A hears of a write accepted by server B. */
static void
test_two_servers_server_push (Fixture *f)
{
  Server *a = server_start (f, NULL);
  Server *b = server_start (f, NULL);
  Ws *ws = ws_open (f, a, f->alice);
  Ws *other = ws_open (f, a, f->bob);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonArray) changes = NULL;

  pushed = push (f, b, f->alice, "B",
                 change_new ("x1", "notes", "\"r\"", "create", "{\"via\":\"b\"}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
  changes = ws_server_push (ws, PUSH_TIMEOUT_MS);
  assert_pushed (changes, "x1", "{\"via\":\"b\"}");
  run_for (f, QUIET_MS);
  assert_no_server_push (other);
}

/* A push that cannot get its user's lock (another process's transaction
 * holds it) is answered 503 within a few seconds, not after five lock
 * timeouts; the process goes on answering meanwhile and afterwards. */
static void
test_locked_user_push (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *body = push_body ("A", change_new ("l1", "notes", "\"r\"", "create", "{}", 0, NULL),
                                     NULL);
  g_autoptr(Reply) refused = NULL;
  g_autoptr(Reply) answered = NULL;
  g_autoptr(JsonObject) pushed = NULL;
  PGconn *holder = PQconnectdb (f->storage[1]);
  PGresult *res;
  gint64 start;

  g_assert_cmpint (PQstatus (holder), ==, CONNECTION_OK);
  res = PQexec (holder, "BEGIN; SELECT last_rev FROM users WHERE name = 'alice' FOR UPDATE");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);

  start = g_get_monotonic_time ();
  refused = request (f, s, "POST", "/push", f->alice, body);
  assert_error (refused, 503, "unavailable");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 6 * G_USEC_PER_SEC);

  res = PQexec (holder, "COMMIT");
  PQclear (res);
  PQfinish (holder);
  pushed = push (f, s, f->alice, "A", change_new ("l1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
}

/* Runs @sql on the fixture's PostgreSQL database. */
static void
pg_run (Fixture    *f,
        PGconn     *conn,
        const char *sql)
{
  PGresult *res = PQexec (conn, sql);

  if (PQresultStatus (res) != PGRES_COMMAND_OK && PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("%s: %s", sql, PQresultErrorMessage (res));
  PQclear (res);
}

/* A connection whose feed position cannot be read at the upgrade would get
 * the user's whole feed at the next change: it is closed instead. */
static void
test_ws_unknown_position (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) first = push (f, s, f->alice, "A",
                                      change_new ("u1", "notes", "\"a\"", "create", "{}", 0, NULL), NULL);
  g_autoptr(JsonObject) second = NULL;
  PGconn *holder = PQconnectdb (f->storage[1]);
  Ws *ws;

  pg_run (f, holder, "BEGIN; LOCK TABLE records IN ACCESS EXCLUSIVE MODE");
  ws = ws_open (f, s, f->alice);
  run_for (f, 1500);   /* past lock_timeout, while the server reads its position */
  pg_run (f, holder, "COMMIT");
  PQfinish (holder);
  wait_until (f, flag_ready, &ws->closed, PUSH_TIMEOUT_MS);
  if (!ws->closed)
    {
      g_autofree char *log = read_log (s);
      g_error ("still open; the server's log:\n%s", log);
    }
  g_assert_cmpuint (soup_websocket_connection_get_close_code (ws->conn), ==,
                    SOUP_WEBSOCKET_CLOSE_SERVER_ERROR);
  second = push (f, s, f->alice, "A",
                 change_new ("u2", "notes", "\"b\"", "create", "{}", 0, NULL), NULL);
  assert_counts (second, 1, 0, 0);
}

/* More than a page of changes waiting (here written behind the server's
 * back, then announced): server_push carries the newest one only, and
 * the client pulls for the rest. */
static void
test_ws_server_push_page (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autoptr(JsonArray) changes = NULL;
  PGconn *writer = PQconnectdb (f->storage[1]);

  pg_run (f, writer, "INSERT INTO records (user_id, collection, key, rev, type, data, server_ms,"
                     " hlc, change_id, client_id) SELECT u.id, 'notes', '\"r' || g || '\"', g, 0,"
                     " '{}', 1000, NULL, 'w' || g, 'writer' FROM users u, generate_series (1, 1001) g"
                     " WHERE u.name = 'alice'");
  pg_run (f, writer, "UPDATE users SET last_rev = 1001 WHERE name = 'alice'");
  pg_run (f, writer, "SELECT pg_notify ('tether_feed', 'test:' || id || ':1001') FROM users"
                     " WHERE name = 'alice'");
  PQfinish (writer);
  changes = ws_server_push (ws, PUSH_TIMEOUT_MS);
  g_assert_nonnull (changes);
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  /* not rev 1: the client, at 0, sees a gap */
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (changes, 0), "rev"), >, 1);
}

/* A client that has not answered a ping since it was sent four times
 * --max-body of server_push is sent no more until it does; it is not
 * closed. */
static void
test_ws_server_push_budget (Fixture *f)
{
  static const char * const extra[] = { "--max-body", "16K", NULL };
  Server *s = server_start (f, extra);
  Ws *ws = ws_open (f, s, f->alice);
  g_autofree char *big = g_strdup_printf ("{\"text\":\"%0*d\"}", 12000, 0);
  guint received = 0;

  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *id = g_strdup_printf ("b%u", i);
      g_autofree char *key = g_strdup_printf ("\"b%u\"", i);
      g_autoptr(JsonObject) pushed = push (f, s, f->alice, "other",
                                           change_new (id, "notes", key, "create", big, 0, NULL), NULL);
      g_autoptr(JsonArray) changes = NULL;

      assert_counts (pushed, 1, 0, 0);
      changes = ws_server_push (ws, i < 6 ? PUSH_TIMEOUT_MS : QUIET_MS);
      if (changes != NULL)
        received++;
    }
  /* Frames of about 12 KB: the sixth goes past 4 x 16 KiB, and no more
   * is sent until a pong (the next ping is 30 s away). */
  g_assert_cmpuint (received, ==, 6);
  g_assert_false (ws->closed);
}

/* A push committed whose answer was lost (here: written behind the
 * server's back, never announced) is sent again by its client and
 * answered from the idempotency record: the write is announced then, and
 * the user's WebSocket clients hear of it. */
static void
test_ws_replay_announces (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Ws *ws = ws_open (f, s, f->alice);
  g_autoptr(JsonObject) replayed = NULL;
  g_autoptr(JsonArray) changes = NULL;
  PGconn *writer = PQconnectdb (f->storage[1]);

  pg_run (f, writer, "BEGIN;"
                     "INSERT INTO records (user_id, collection, key, rev, type, data, server_ms,"
                     " hlc, change_id, client_id) SELECT id, 'notes', '\"r\"', 1, 0, '{\"v\":1}',"
                     " 1000, NULL, 'lost1', 'other' FROM users WHERE name = 'alice';"
                     "INSERT INTO applied (user_id, change_id, rev, server_ms, hlc)"
                     " SELECT id, 'lost1', 1, 1000, NULL FROM users WHERE name = 'alice';"
                     "UPDATE users SET last_rev = 1 WHERE name = 'alice';"
                     "COMMIT");
  PQfinish (writer);
  run_for (f, QUIET_MS);
  assert_no_server_push (ws);

  replayed = push (f, s, f->alice, "other",
                   change_new ("lost1", "notes", "\"r\"", "create", "{\"v\":1}", 0, NULL), NULL);
  g_assert_cmpint (accepted_rev (replayed, "lost1"), ==, 1);
  changes = ws_server_push (ws, PUSH_TIMEOUT_MS);
  assert_pushed (changes, "lost1", "{\"v\":1}");
}

/* ------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "many-clients", test_many_clients },
    { "ws/auth", test_ws_auth },
    { "ws/requests", test_ws_requests },
    { "ws/server-push", test_ws_server_push },
    { "ws/server-push-as-sent", test_ws_server_push_as_sent },
    { "ws/push-as-http", test_ws_push_as_http },
    { "ws/server-push-budget", test_ws_server_push_budget },
    { "ws/own-client", test_ws_own_client },
  };

  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  tether_test_server_add ("two-servers/conflict", test_two_servers_conflict, TRUE);
  tether_test_server_add ("two-servers/server-push", test_two_servers_server_push, TRUE);
  tether_test_server_add ("locked-user-push", test_locked_user_push, TRUE);
  tether_test_server_add ("ws/unknown-position", test_ws_unknown_position, TRUE);
  tether_test_server_add ("ws/server-push-page", test_ws_server_push_page, TRUE);
  tether_test_server_add ("ws/replay-announces", test_ws_replay_announces, TRUE);
  return tether_test_server_run ();
}
