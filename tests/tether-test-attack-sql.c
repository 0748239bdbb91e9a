/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include <string.h>

#include <sqlite3.h>

#include "tether-test-attack.h"
#include "tether-test-sync.h"

/* SQL injection: names, ids, keys, cursors and query values crafted as SQL,
 * against the server and against the local database through the CLI. Each
 * is refused or stored and matched as plain text; nothing else changes. */

/* ---------------------------------------------------------------- server */

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

void
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

/* ------------------------------------------------------------------- CLI */

/* The local database through the `tether` CLI: names and values crafted as
 * SQL are refused or matched as plain text; the file does not change. */

/* `tether --db @db …`, bounded (cli_run of tether-test-sync.c). */
#define CLI(f, db, ...) cli_run (f, (const char * const []) { "--db", db, __VA_ARGS__, NULL })

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

/* Refused as a wrong command line (status 2), naming @what. */
static void
assert_cli_usage (Command    *command,
                  const char *what)
{
  g_autoptr(Command) owned = command;

  g_test_message ("tether → %d: %s%s", command->status, command->out, command->err);
  g_assert_cmpint (command->status, ==, 2);
  g_assert_true (command->out[0] == '\0' && g_str_has_prefix (command->err, "tether: ") &&
                 strstr (command->err, what) != NULL);
}

void
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

  assert_cli (CLI (f, db, "put", "tasks", "{\"id\":\"t1\",\"title\":\"Alpha\"}"), NULL, NULL);
  assert_cli (CLI (f, db, "put", "notes", "{\"id\":\"n1\",\"title\":\"Beta\"}"), NULL, NULL);
  before = sqlite_dump (db);
  assert_cli (CLI (f, db, "query", name), name, NULL);
  assert_cli (CLI (f, db, "count", name), name, NULL);
  assert_cli (CLI (f, db, "export", name), name, NULL);
  assert_cli (CLI (f, db, "query", "tasks", "--sort", sort), field, NULL);
  assert_cli_usage (CLI (f, db, "count", "tasks", "--where", where), field);
  assert_cli (CLI (f, db, "delete", "tasks", id), id, NULL);
  assert_cli (CLI (f, db, "update", "tasks", id, "{\"title\":\"pwned\"}"), id, NULL);
  assert_cli (CLI (f, db, "get", "tasks", id), id, NULL);
  assert_cli (CLI (f, db, "query", "tasks", "--where", value), NULL, "[]\n");
  assert_cli (CLI (f, db, "count", "tasks", "--where", "title in [\"a'); DROP TABLE t_tasks; --\"]"), NULL, "0\n");
  assert_cli (CLI (f, db, "query", "tasks", "--or", value, "--or", "title prefix %"), NULL, "[]\n");
  assert_cli (CLI (f, db, "search", "tasks", "\"; DROP TABLE t_tasks; -- OR * NEAR"), NULL, "[]\n");
  after = sqlite_dump (db);
  g_assert_cmpstr (after, ==, before);
}
