/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server-input"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"
#include "tether-test-server.h"

/* What tether-server answers to bad input, missing or wrong tokens, users,
 * rate limits and schema errors, once on SQLite and once on PostgreSQL. */

/* ---------------------------------------------------------------- tests */

/* Whole requests that cannot be answered change by change. */
static void
test_bad_push (Fixture *f)
{
  static const char *bodies[] = {
    "",
    "{",
    "{\"changes\":[}",
    "[]",
    "{}",
    "{\"changes\":{}}",
    "{\"changes\":null}",
    "{\"clientId\":5,\"changes\":[]}",
    "{\"schemaVersion\":\"2\",\"changes\":[]}",
    "{\"changes\":[5]}",
    "{\"changes\":[{\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
    "{\"changes\":[{\"id\":\"\",\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
    "{\"changes\":[{\"id\":7,\"collection\":\"n\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}]}",
  };
  Server *s = server_start (f, NULL);
  g_autofree char *long_id = g_strnfill (300, 'i');
  g_autofree char *long_body = push_body ("A", change_new (long_id, "n", "\"r\"", "create", "{}", 0, NULL), NULL);
  g_autoptr(Reply) long_reply = request (f, s, "POST", "/push", f->alice, long_body);
  g_autoptr(JsonObject) empty = post_ok (f, s, "/push", f->alice, "{\"changes\":[]}");

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/push", f->alice, bodies[i]);

      g_test_message ("push body: %s", bodies[i]);
      assert_error (reply, 400, "bad-request");
    }
  assert_error (long_reply, 400, "bad-request");
  assert_counts (empty, 0, 0, 0);
}

/* Bad changes inside a good batch become `errors`; the rest are applied. */
static void
test_bad_change (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *long_collection = g_strnfill (200, 'c');
  g_autofree char *huge = g_strnfill (1100 * 1024, 'h');
  g_autofree char *huge_data = g_strdup_printf ("{\"text\":\"%s\"}", huge);
  g_autoptr(JsonObject) response = NULL;
  g_autoptr(JsonArray) changes = NULL;
  static const char *bad_change_ids[] = {
    "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "e10", "e11", "e12", "e13", "e14", "e15", "e16",
  };

  response = push (f, s, f->alice, "A",
                   change_new ("g1", "notes", "\"ok1\"", "create", "{}", 0, NULL),
                   change_new ("e1", "notes", "\"r\"", "upsert", "{}", 0, NULL),
                   g_strdup ("{\"id\":\"e2\",\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}"),
                   g_strdup ("{\"id\":\"e3\",\"collection\":5,\"recordId\":\"r\",\"type\":\"create\",\"data\":{}}"),
                   change_new ("e4", "", "\"r\"", "create", "{}", 0, NULL),
                   change_new ("e5", long_collection, "\"r\"", "create", "{}", 0, NULL),
                   change_new ("e6", "no\\u0001te", "\"r\"", "create", "{}", 0, NULL),
                   g_strdup ("{\"id\":\"e7\",\"collection\":\"notes\",\"type\":\"create\",\"data\":{}}"),
                   change_new ("e8", "notes", "true", "create", "{}", 0, NULL),
                   change_new ("e9", "notes", "{}", "create", "{}", 0, NULL),
                   change_new ("e10", "notes", "\"r\"", "create", "\"text\"", 0, NULL),
                   g_strdup ("{\"id\":\"e11\",\"collection\":\"notes\",\"recordId\":\"r\",\"type\":\"update\"}"),
                   change_new ("e12", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":-1"),
                   change_new ("e13", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":\"3\""),
                   change_new ("e14", "notes", "\"r\"", "create", "{}", -1, "\"baseRev\":1.5"),
                   change_new ("e15", "notes", "\"r\"", "create", "{}", 0, "\"timestamp\":\"yesterday\""),
                   change_new ("e16", "notes", "\"r\"", "create", "{}", 0, "\"hlc\":42"),
                   change_new ("e17", "notes", "\"big\"", "create", huge_data, 0, NULL),
                   change_new ("g2", "notes", "\"ok2\"", "create", "{}", 0, NULL),
                   NULL);
  assert_counts (response, 2, 0, G_N_ELEMENTS (bad_change_ids) + 1);
  assert_accepted (response, "g1");
  assert_accepted (response, "g2");
  for (guint i = 0; i < G_N_ELEMENTS (bad_change_ids); i++)
    {
      g_test_message ("bad change %s", bad_change_ids[i]);
      assert_change_error (response, bad_change_ids[i], "bad-change");
    }
  assert_change_error (response, "e17", "too-large");

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  g_assert_nonnull (find_change (changes, "notes", "\"ok1\""));
  g_assert_nonnull (find_change (changes, "notes", "\"ok2\""));
}

static void
test_bad_pull (Fixture *f)
{
  static const struct { const char *body; const char *code; } posts[] = {
    { "{", "bad-request" },
    { "[]", "bad-request" },
    { "{\"cursor\":\"abc\"}", "bad-cursor" },
    { "{\"cursor\":\"-1\"}", "bad-cursor" },
    { "{\"cursor\":\"1.5\"}", "bad-cursor" },
    { "{\"cursor\":\"\"}", "bad-cursor" },
    { "{\"batchSize\":0}", "bad-request" },
    { "{\"batchSize\":\"5\"}", "bad-request" },
    { "{\"collections\":\"notes\"}", "bad-request" },
    { "{\"collections\":[5]}", "bad-request" },
    /* json-glib would read these as "n" and "A" */
    { "{\"collections\":[\"n\\u0000x\"]}", "bad-request" },
    { "{\"clientId\":\"A\\u0000x\"}", "bad-request" },
    { "{\"collections\":[\"n\x01\"]}", "bad-request" },
  };
  static const struct { const char *path; const char *code; } gets[] = {
    { "/pull?cursor=abc", "bad-cursor" },
    { "/pull?cursor=-3", "bad-cursor" },
    { "/pull?batchSize=0", "bad-request" },
    { "/pull?batchSize=many", "bad-request" },
    /* libsoup would hand these on as "notes" and "A" */
    { "/pull?collections=notes%00x", "bad-request" },
    { "/pull?clientId=A%00x", "bad-request" },
    /* not UTF-8: PostgreSQL refused it (503 for ever), SQLite matched nothing */
    { "/pull?collections=%FF", "bad-request" },
    { "/pull?clientId=%C3", "bad-request" },
    /* the error names the parameter, U+001F and all, in valid JSON */
    { "/pull?a%1Fb=%FF", "bad-request" },
  };
  Server *s = server_start (f, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (posts); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->alice, posts[i].body);

      g_test_message ("pull body: %s", posts[i].body);
      assert_error (reply, 400, posts[i].code);
    }
  for (guint i = 0; i < G_N_ELEMENTS (gets); i++)
    {
      g_autoptr(Reply) reply = request (f, s, "GET", gets[i].path, f->alice, NULL);

      g_test_message ("GET %s", gets[i].path);
      assert_error (reply, 400, gets[i].code);
    }
}

/* A collection name no push can store (a control character in it) is a
 * filter that matches nothing, on every storage: not a storage failure. */
static void
test_odd_collection_filter (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) pushed = push (f, s, f->alice, "A",
                                       change_new ("o1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  g_autoptr(Reply) posted = request (f, s, "POST", "/pull", f->alice, "{\"collections\":[\"a\\u001fb\"]}");
  g_autoptr(Reply) both = request (f, s, "POST", "/pull", f->alice,
                                   "{\"collections\":[\"a\\u001fb\",\"notes\",\"q\\\"\\\\\"]}");
  g_autoptr(Reply) got = request (f, s, "GET", "/pull?collections=a%1Fb", f->alice, NULL);
  Reply *nothing[] = { posted, got };

  assert_counts (pushed, 1, 0, 0);
  for (guint i = 0; i < G_N_ELEMENTS (nothing); i++)
    {
      assert_status (nothing[i], 200);
      g_assert_cmpuint (count_of (reply_object (nothing[i]), "changes"), ==, 0);
      g_assert_cmpstr (json_object_get_string_member (reply_object (nothing[i]), "cursor"), ==, "1");
    }
  assert_status (both, 200);
  g_assert_cmpuint (count_of (reply_object (both), "changes"), ==, 1);
}

static char *
small_changes (guint n)
{
  GString *body = g_string_new ("{\"clientId\":\"A\",\"changes\":[");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (body, "%s{\"id\":\"m%u\",\"collection\":\"m\",\"recordId\":%u,"
                            "\"type\":\"create\",\"data\":{},\"baseRev\":0}", i ? "," : "", i, i);
  g_string_append (body, "]}");
  return g_string_free (body, FALSE);
}

static char *
nested_data (guint depth)
{
  g_autofree char *open = g_strnfill (depth, '[');
  g_autofree char *close = g_strnfill (depth, ']');

  return g_strdup_printf ("{\"deep\":%s%s}", open, close);
}

/* A body with no Content-Length (chunked), so the server must count. */
static Reply *
request_chunked (Fixture    *f,
                 Server     *s,
                 const char *token,
                 const char *body)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, "POST", "/push", authorization);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_data (g_strdup (body), strlen (body), g_free);

  soup_message_set_request_body (msg, "application/json", stream, -1);
  return call_finish (f, call_send (f, msg));
}

static Reply *
request_gzip (Fixture    *f,
              Server     *s,
              const char *token,
              const char *encoding,
              GBytes     *body)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, "POST", "/push", authorization);

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Content-Encoding", encoding);
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  return call_finish (f, call_send (f, msg));
}

/* @packed with its trailer's size (ISIZE) replaced by @isize, and @extra
 * bytes after it. */
static GBytes *
gzip_retrailed (GBytes     *packed,
                guint32     isize,
                const char *extra)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (packed, &size);
  GByteArray *out = g_byte_array_new ();

  g_byte_array_append (out, data, size - 4);
  for (guint i = 0; i < 4; i++)
    {
      guint8 byte = (isize >> (8 * i)) & 0xff;

      g_byte_array_append (out, &byte, 1);
    }
  g_byte_array_append (out, (const guint8 *) extra, strlen (extra));
  return g_byte_array_free_to_bytes (out);
}

/* gzip bodies are decoded before any check, and the decoded size is held
 * to --max-body: a decompression bomb gets a 413, even when its trailer
 * claims a small size (the fast path sizes its buffer by the trailer). */
static void
test_gzip (Fixture *f)
{
  const char *extra[] = { "--max-body", "262144", NULL };
  Server *s = server_start (f, extra);
  g_autofree char *small = small_changes (3);
  g_autofree char *filler = g_strnfill (4 * 1000 * 1000, 'x');
  g_autofree char *bomb = g_strdup_printf ("{\"changes\":[{\"id\":\"b1\",\"collection\":\"n\","
                                           "\"recordId\":\"r\",\"type\":\"create\",\"data\":{\"t\":\"%s\"}}]}",
                                           filler);
  g_autoptr(GBytes) packed = _tether_gzip (small, strlen (small));
  g_autoptr(GBytes) packed_bomb = _tether_gzip (bomb, strlen (bomb));
  g_autoptr(GBytes) plain = g_bytes_new (small, strlen (small));
  g_autoptr(Reply) ok = NULL;
  g_autoptr(Reply) over = NULL;
  g_autoptr(Reply) broken = NULL;
  g_autoptr(Reply) unknown = NULL;
  g_autoptr(Reply) lying_bomb = NULL;
  g_autoptr(Reply) lying_small = NULL;
  g_autoptr(Reply) trailing = NULL;
  g_autoptr(Reply) cut = NULL;
  g_autoptr(GBytes) bomb_says_small = gzip_retrailed (packed_bomb, 100, "");
  g_autoptr(GBytes) small_says_big = gzip_retrailed (packed, 200000, "");
  g_autoptr(GBytes) with_trailing = gzip_retrailed (packed, strlen (small), "junk after the member");
  g_autoptr(GBytes) truncated = g_bytes_new_from_bytes (packed, 0, g_bytes_get_size (packed) - 9);

  g_assert_cmpuint (g_bytes_get_size (packed_bomb), <, 262144);
  ok = request_gzip (f, s, f->alice, "gzip", packed);
  assert_status (ok, 200);
  assert_counts (reply_object (ok), 3, 0, 0);
  over = request_gzip (f, s, f->alice, "gzip", packed_bomb);
  assert_error (over, 413, "too-large");
  broken = request_gzip (f, s, f->alice, "gzip", plain);
  assert_error (broken, 400, "bad-request");
  unknown = request_gzip (f, s, f->alice, "br", packed);
  assert_error (unknown, 400, "bad-request");
  lying_bomb = request_gzip (f, s, f->alice, "gzip", bomb_says_small);
  assert_error (lying_bomb, 413, "too-large");
  /* a wrong size in the trailer is a corrupt member: gzip's check refuses it */
  lying_small = request_gzip (f, s, f->alice, "gzip", small_says_big);
  assert_error (lying_small, 400, "bad-request");
  /* bytes after the member are ignored, as zlib always did */
  trailing = request_gzip (f, s, f->alice, "gzip", with_trailing);
  assert_status (trailing, 200);
  cut = request_gzip (f, s, f->alice, "gzip", truncated);
  assert_error (cut, 400, "bad-request");
}

static void
test_limits (Fixture *f)
{
  const char *extra[] = { "--max-body", "262144", NULL };
  Server *s = server_start (f, extra);
  g_autofree char *filler = g_strnfill (300 * 1000, 'x');
  g_autofree char *fits_filler = g_strnfill (200 * 1000, 'x');
  g_autofree char *over = NULL;
  g_autofree char *fits = NULL;
  g_autofree char *many = small_changes (1001);
  g_autofree char *most = small_changes (1000);
  g_autofree char *deep = nested_data (70);
  g_autofree char *shallow = nested_data (50);
  g_autofree char *brackets = g_strnfill (200 * 1000, '[');
  g_autoptr(Reply) over_reply = NULL;
  g_autoptr(Reply) chunked_reply = NULL;
  g_autoptr(Reply) many_reply = NULL;
  g_autoptr(Reply) deep_reply = NULL;
  g_autoptr(Reply) deep_pull = NULL;
  g_autoptr(Reply) brackets_reply = NULL;
  g_autoptr(JsonObject) fits_response = NULL;
  g_autoptr(JsonObject) most_response = NULL;
  g_autoptr(JsonObject) shallow_response = NULL;
  g_autofree char *deep_body = NULL;
  g_autofree char *shallow_body = NULL;
  g_autofree char *deep_cursor = NULL;

  over = g_strdup_printf ("{\"changes\":[{\"id\":\"l1\",\"collection\":\"n\",\"recordId\":\"r\","
                          "\"type\":\"create\",\"data\":{\"t\":\"%s\"}}]}", filler);
  fits = g_strdup_printf ("{\"changes\":[{\"id\":\"l2\",\"collection\":\"n\",\"recordId\":\"r\","
                          "\"type\":\"create\",\"data\":{\"t\":\"%s\"}}]}", fits_filler);

  over_reply = request (f, s, "POST", "/push", f->alice, over);
  assert_error (over_reply, 413, "too-large");
  chunked_reply = request_chunked (f, s, f->alice, over);
  assert_error (chunked_reply, 413, "too-large");
  fits_response = post_ok (f, s, "/push", f->alice, fits);
  assert_counts (fits_response, 1, 0, 0);

  many_reply = request (f, s, "POST", "/push", f->alice, many);
  assert_error (many_reply, 413, "too-many-changes");
  most_response = post_ok (f, s, "/push", f->alice, most);
  assert_counts (most_response, 1000, 0, 0);

  deep_body = push_body ("A", change_new ("d1", "n", "\"deep\"", "create", deep, 0, NULL), NULL);
  deep_reply = request (f, s, "POST", "/push", f->alice, deep_body);
  assert_error (deep_reply, 400, "too-deep");
  shallow_body = push_body ("A", change_new ("d2", "n", "\"shallow\"", "create", shallow, 0, NULL), NULL);
  shallow_response = post_ok (f, s, "/push", f->alice, shallow_body);
  assert_counts (shallow_response, 1, 0, 0);
  deep_cursor = g_strdup_printf ("{\"cursor\":%s}", deep);
  deep_pull = request (f, s, "POST", "/pull", f->alice, deep_cursor);
  assert_error (deep_pull, 400, "too-deep");
  /* nesting that would exhaust a recursive parser's stack */
  brackets_reply = request (f, s, "POST", "/push", f->alice, brackets);
  assert_error (brackets_reply, 400, "too-deep");
}

typedef struct {
  gboolean  done;
  char     *output;
} Exited;

static void
on_serve_exited (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Exited *exited = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &exited->output, NULL, NULL);
  exited->done = TRUE;
}

/* `tether-server serve` with @option @value: its output once it exited, or
 * a failure when it went on serving. */
static char *
serve_refused (Fixture    *f,
               const char *option,
               const char *value)
{
  const char *argv[] = { g_getenv ("TETHER_SERVER"), "serve", "--listen", "127.0.0.1:0",
                         f->storage[0], f->storage[1], option, value, NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Exited exited = { FALSE, NULL };

  process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_serve_exited, &exited);
  if (!wait_until (f, flag_ready, &exited.done, 5000))
    {
      g_subprocess_force_exit (process);
      wait_until (f, flag_ready, &exited.done, 5000);
      g_error ("tether-server serve %s %s was not refused:\n%s", option, value,
               exited.output ? exited.output : "");
    }
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 2);
  return exited.output;
}

/* Bodies are collected in one buffer whose length is 32 bits, and a
 * WebSocket message may be twice --max-body: the option is held below
 * both, with a message that names the limit. */
static void
test_max_body_limit (Fixture *f)
{
  static const char * const too_big[] = { "5G", "4G", "2G", "1025M", "1073741825" };
  const char *extra[] = { "--max-body", "1G", NULL };
  Server *s = NULL;
  g_autoptr(JsonObject) pushed = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (too_big); i++)
    {
      g_autofree char *output = serve_refused (f, "--max-body", too_big[i]);

      g_test_message ("--max-body %s: %s", too_big[i], output);
      g_assert_nonnull (strstr (output, "--max-body"));
      g_assert_nonnull (strstr (output, "1G"));
    }
  s = server_start (f, extra);
  pushed = push (f, s, f->alice, "A", change_new ("m1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
}

/* --read-timeout is whole seconds: 0.5 used to become 0, which never times
 * out, the opposite of what was asked. */
static void
test_read_timeout_whole (Fixture *f)
{
  static const char * const refused[] = { "0.5", "1.5", "-1", "1e3", "30s", "" };
  const char *extra[] = { "--read-timeout", "2", NULL };
  Server *s = NULL;
  g_autoptr(JsonObject) pushed = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *output = serve_refused (f, "--read-timeout", refused[i]);
      g_autofree char *expected = g_strdup_printf ("--read-timeout %s: expected a whole number of seconds",
                                                   refused[i]);

      g_test_message ("--read-timeout %s: %s", refused[i], output);
      g_assert_nonnull (strstr (output, expected));
    }
  s = server_start (f, extra);
  pushed = push (f, s, f->alice, "A", change_new ("t1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
}

static void
assert_unauthorized (Fixture    *f,
                     Server     *s,
                     const char *authorization)
{
  g_autoptr(Reply) push_reply = request_auth (f, s, "POST", "/push", authorization, "{\"changes\":[]}");
  g_autoptr(Reply) pull_reply = request_auth (f, s, "POST", "/pull", authorization, "{}");
  g_autoptr(Reply) get_reply = request_auth (f, s, "GET", "/pull", authorization, NULL);

  g_test_message ("Authorization: %s", authorization ? authorization : "(none)");
  assert_error (push_reply, 401, "unauthorized");
  assert_error (pull_reply, 401, "unauthorized");
  assert_error (get_reply, 401, "unauthorized");
}

static void
test_auth (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *basic = g_strconcat ("Basic ", f->alice, NULL);
  g_autofree char *lower = g_strconcat ("bearer ", f->alice, NULL);
  g_autofree char *letters = g_strnfill (43, 'A');
  g_autofree char *wrong = g_strconcat ("Bearer ", letters, NULL);
  g_autofree char *truncated = g_strndup (f->alice, 42);
  g_autofree char *short_token = g_strconcat ("Bearer ", truncated, NULL);
  g_autoptr(Reply) ok = request_auth (f, s, "POST", "/pull", lower, "{}");

  assert_unauthorized (f, s, NULL);
  assert_unauthorized (f, s, "Bearer");
  assert_unauthorized (f, s, "Bearer ");
  assert_unauthorized (f, s, "Bearer nope");
  assert_unauthorized (f, s, wrong);
  assert_unauthorized (f, s, short_token);
  assert_unauthorized (f, s, basic);
  /* the scheme is case-insensitive */
  assert_status (ok, 200);
}

static void
assert_token (Fixture    *f,
              Server     *s,
              const char *token,
              guint       status)
{
  g_autoptr(Reply) reply = request (f, s, "POST", "/pull", token, "{}");

  assert_status (reply, status);
}

/* `tether-server user …` while a server is running on the same storage. */
static void
test_users (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(Command) list = user_command (f, "list", NULL);
  g_autoptr(Command) duplicate = user_command (f, "add", "alice");
  g_autoptr(Command) bad_name = user_command (f, "add", "no spaces!");
  g_autoptr(Command) nobody = user_command (f, "remove", "nobody");
  g_autoptr(Command) removed = NULL;
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) empty = NULL;
  g_autofree char *rotated = NULL;
  g_autofree char *bob_again = NULL;

  g_assert_cmpint (list->status, ==, 0);
  g_assert_nonnull (strstr (list->out, "alice"));
  g_assert_nonnull (strstr (list->out, "bob"));
  g_assert_null (strstr (list->out, f->alice));
  g_assert_cmpint (duplicate->status, !=, 0);
  g_assert_cmpuint (strlen (duplicate->err), >, 0);
  g_assert_cmpint (bad_name->status, !=, 0);
  g_assert_cmpint (nobody->status, !=, 0);

  rotated = user_token (f, "rotate", "alice");
  g_assert_cmpstr (rotated, !=, f->alice);
  assert_token (f, s, f->alice, 401);
  assert_token (f, s, rotated, 200);

  pushed = push (f, s, f->bob, "B", change_new ("b1", "notes", "\"r\"", "create", "{}", 0, NULL), NULL);
  assert_counts (pushed, 1, 0, 0);
  removed = user_command (f, "remove", "bob");
  g_assert_cmpint (removed->status, ==, 0);
  assert_token (f, s, f->bob, 401);
  /* a new bob starts empty */
  bob_again = user_add (f, "bob");
  empty = pull (f, s, bob_again, "{}");
  g_assert_cmpuint (count_of (empty, "changes"), ==, 0);
}

static void
test_rate_limit (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "3", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(Reply) limited = NULL;
  g_autoptr(Reply) other = NULL;
  g_autoptr(Reply) later = NULL;
  guint64 seconds = 1;
  guint sent;

  for (sent = 0; sent < 20 && limited == NULL; sent++)
    {
      g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->alice, "{}");

      if (reply->status == 429)
        limited = g_steal_pointer (&reply);
      else
        assert_status (reply, 200);
    }
  g_assert_nonnull (limited);
  /* the burst goes through */
  g_assert_cmpuint (sent, >, 3);
  assert_error (limited, 429, "rate-limited");
  /* the token was good: the log names whose requests were limited */
  g_assert_true (log_waits_for (s, "/pull user=alice status=429 "));
  g_assert_nonnull (limited->retry_after);
  if (g_ascii_isdigit (limited->retry_after[0]))
    {
      g_assert_true (g_ascii_string_to_unsigned (limited->retry_after, 10, 1, 60, &seconds, NULL));
      g_assert_cmpuint (seconds, <=, 2);
    }

  /* per user: bob is not held back by alice */
  other = request (f, s, "POST", "/pull", f->bob, "{}");
  assert_status (other, 200);
  /* after Retry-After, alice may go on */
  run_for (f, seconds * 1000 + 100);
  later = request (f, s, "POST", "/pull", f->alice, "{}");
  assert_status (later, 200);
}

static const char *server_schema =
  "{\"version\":2,\"collections\":{\"notes\":{\"fields\":{"
  "\"title\":{\"type\":\"string\",\"required\":true,\"maxLength\":10},"
  "\"count\":{\"type\":\"integer\",\"max\":3},"
  "\"state\":{\"type\":\"string\",\"default\":\"open\"}}}}}";

static void
assert_validation (JsonObject *response,
                   const char *id,
                   const char *field,
                   const char *rule)
{
  JsonObject *entry = assert_change_error (response, id, "validation");
  const char *message = json_object_get_string_member (entry, "error");

  if (strstr (message, field) == NULL || strstr (message, rule) == NULL || strstr (message, "notes") == NULL)
    g_error ("validation error for %s should name notes, %s and %s: %s", id, field, rule, message);
}

static void
test_schema (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "schema.json", NULL);
  const char *extra[] = { "--schema", path, NULL };
  Server *s;
  g_autoptr(Reply) info = NULL;
  g_autoptr(Reply) newer = NULL;
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(JsonObject) older = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autofree char *data = NULL;

  g_assert_true (g_file_set_contents (path, server_schema, -1, NULL));
  s = server_start (f, extra);
  info = request (f, s, "GET", "", NULL, NULL);
  g_assert_cmpint (json_object_get_int_member (reply_object (info), "schemaVersion"), ==, 2);

  current = post_ok (f, s, "/push", f->alice,
                     "{\"clientId\":\"A\",\"schemaVersion\":2,\"changes\":["
                     "{\"id\":\"v1\",\"collection\":\"notes\",\"recordId\":\"r1\",\"type\":\"create\",\"data\":{\"title\":\"ok\"},\"baseRev\":0},"
                     "{\"id\":\"v2\",\"collection\":\"notes\",\"recordId\":\"r2\",\"type\":\"create\",\"data\":{},\"baseRev\":0},"
                     "{\"id\":\"v3\",\"collection\":\"notes\",\"recordId\":\"r3\",\"type\":\"create\",\"data\":{\"title\":\"ok\",\"count\":9},\"baseRev\":0},"
                     "{\"id\":\"v4\",\"collection\":\"notes\",\"recordId\":\"r4\",\"type\":\"create\",\"data\":{\"title\":5},\"baseRev\":0},"
                     "{\"id\":\"v5\",\"collection\":\"other\",\"recordId\":\"r5\",\"type\":\"create\",\"data\":{},\"baseRev\":0},"
                     "{\"id\":\"v6\",\"collection\":\"notes\",\"recordId\":\"r1\",\"type\":\"update\",\"data\":{\"title\":\"far too long\"},\"baseRev\":1},"
                     "{\"id\":\"v7\",\"collection\":\"notes\",\"recordId\":\"r8\",\"type\":\"delete\",\"data\":null,\"baseRev\":0}"
                     "]}");
  assert_counts (current, 2, 0, 5);
  assert_accepted (current, "v1");
  assert_accepted (current, "v7");
  assert_validation (current, "v2", "title", "required");
  assert_validation (current, "v3", "count", "max");
  assert_validation (current, "v4", "title", "expected string");
  assert_change_error (current, "v5", "unknown-collection");
  assert_validation (current, "v6", "title", "maxLength");

  /* stored exactly as sent: the schema's default is not added */
  changes = pull_all (f, s, f->alice, NULL, NULL);
  data = change_data (find_change (changes, "notes", "\"r1\""));
  g_assert_cmpstr (data, ==, "{\"title\":\"ok\"}");

  newer = request (f, s, "POST", "/push", f->alice, "{\"schemaVersion\":3,\"changes\":[]}");
  assert_error (newer, 409, "schema-too-new");
  /* an older client is served, its records checked against the server's schema */
  older = post_ok (f, s, "/push", f->alice,
                   "{\"schemaVersion\":1,\"changes\":["
                   "{\"id\":\"o1\",\"collection\":\"notes\",\"recordId\":\"o1\",\"type\":\"create\",\"data\":{\"title\":\"fine\"},\"baseRev\":0},"
                   "{\"id\":\"o2\",\"collection\":\"notes\",\"recordId\":\"o2\",\"type\":\"create\",\"data\":{\"count\":1},\"baseRev\":0}"
                   "]}");
  assert_counts (older, 1, 0, 1);
  assert_validation (older, "o2", "title", "required");
}

/* ------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "bad-push", test_bad_push },
    { "bad-change", test_bad_change },
    { "bad-pull", test_bad_pull },
    { "odd-collection-filter", test_odd_collection_filter },
    { "limits", test_limits },
    { "max-body-limit", test_max_body_limit },
    { "read-timeout-whole", test_read_timeout_whole },
    { "gzip", test_gzip },
    { "auth", test_auth },
    { "users", test_users },
    { "rate-limit", test_rate_limit },
    { "schema", test_schema },
  };

  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
