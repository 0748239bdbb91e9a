/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include <string.h>

#include "tether-test-attack.h"

/* User isolation: bob, with alice's record ids, change ids, revs, cursors,
 * client id and WebSocket requestIds, sees and changes nothing of hers. */

/* ------------------------------------------------------------------ HTTP */

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

/* Bob's feed is empty: alice's cursors are past its end, never given to
 * him, and refused as such. */
static const struct { const char *body; guint status; } bob_pulls[] = {
  { "{\"cursor\":\"2\"}", 400 },
  { "{\"cursor\":\"3\",\"collections\":[\"alice-private\"]}", 400 },
  { "{\"cursor\":null,\"collections\":[\"alice-private\",\"notes\"]}", 200 },
  { "{\"cursor\":\"0\",\"clientId\":\"alice-phone\"}", 200 },
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

void
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
  assert_error (get, 400, "bad-cursor");
  assert_no_secret (get->text);
  for (guint i = 0; i < G_N_ELEMENTS (bob_pulls); i++)
    {
      g_autoptr(Reply) pulled = request (f, s, "POST", "/pull", f->bob, bob_pulls[i].body);

      g_test_message ("bob pulls %s", bob_pulls[i].body);
      assert_no_secret (pulled->text);
      if (bob_pulls[i].status == 200)
        assert_empty_pull (reply_object (pulled));
      else
        assert_error (pulled, bob_pulls[i].status, "bad-cursor");
    }
  assert_unchanged (f, s, before);
}

/* ---------------------------------------------------------------- WebSocket */

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
void
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
      send_frame (bob_ws, "pull", id, bob_pulls[i % G_N_ELEMENTS (bob_pulls)].body);
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
