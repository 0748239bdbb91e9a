/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-server-protocol"
#include "config.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tether-test-server.h"

/* The sync protocol (docs/protocol.md) as a client meets it: every test
 * starts real tether-server processes on 127.0.0.1 and talks HTTP to them,
 * once on SQLite and once on PostgreSQL. Here: push, pull, conflicts,
 * idempotency, restarts and kills. */

/* ---------------------------------------------------------------- tests */

static void
test_base (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(Reply) head = request (f, s, "HEAD", "", NULL, NULL);
  g_autoptr(Reply) get = request (f, s, "GET", "", NULL, NULL);
  JsonObject *info;
  JsonArray *features;
  const char *wanted[] = { "baseRev", "hlc", "idempotency", "tombstones", "fieldConflicts", "websocket" };

  /* A reachability check needs no token. */
  assert_status (head, 200);
  assert_status (get, 200);
  info = reply_object (get);
  g_assert_cmpstr (json_object_get_string_member (info, "server"), ==, "tether-server");
  g_assert_cmpint (json_object_get_int_member (info, "protocol"), ==, 1);
  g_assert_true (json_object_get_null_member (info, "schemaVersion"));
  features = json_object_get_array_member (info, "features");
  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    {
      gboolean found = FALSE;

      for (guint j = 0; j < json_array_get_length (features); j++)
        found |= g_str_equal (json_array_get_string_element (features, j), wanted[i]);
      if (!found)
        g_error ("feature %s is not announced: %s", wanted[i], get->text);
    }
}

static gboolean
log_has_line (Server     *s,
              const char *const *words)
{
  g_autofree char *log = read_log (s);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      gboolean all = TRUE;

      for (guint j = 0; words[j] != NULL && all; j++)
        all = strstr (lines[i], words[j]) != NULL;
      if (all)
        return TRUE;
    }
  return FALSE;
}

static void
test_push_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  const char *note = "{\"title\":\"h\\u00e9llo \\u2713\",\"tags\":[\"a\",{\"b\":null}],\"n\":42,\"z\":true,\"a\":-7}";
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) page = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autoptr(JsonArray) later = NULL;
  g_autofree char *cursor = NULL;
  g_autofree char *sent = compact (note);
  g_autofree char *got = NULL;
  JsonObject *change;
  const char *log_words[] = { "POST", "/push", "alice", "200", NULL };

  first = push (f, s, f->alice, "client-1",
                change_new ("c1", "notes", "\"n1\"", "create", note, 0, NULL),
                change_new ("c2", "notes", "42", "create", "{\"x\":1}", 0, NULL),
                change_new ("c3", "tasks", "\"t1\"", "create", "{\"done\":false}", 0, NULL),
                NULL);
  assert_counts (first, 3, 0, 0);
  g_assert_cmpint (accepted_rev (first, "c1"), <, accepted_rev (first, "c2"));
  g_assert_cmpint (accepted_rev (first, "c2"), <, accepted_rev (first, "c3"));
  assert_iso_time (json_object_get_string_member (assert_accepted (first, "c1"), "serverTimestamp"));

  changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_assert_cmpuint (json_array_get_length (changes), ==, 3);
  g_assert_cmpstr (cursor, ==, "3");
  change = find_change (changes, "notes", "\"n1\"");
  g_assert_nonnull (change);
  /* Stored exactly as sent: same members, same order, nothing added. */
  got = change_data (change);
  g_assert_cmpstr (got, ==, sent);
  g_assert_cmpstr (json_object_get_string_member (change, "id"), ==, "c1");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "create");
  g_assert_cmpint (json_object_get_int_member (change, "rev"), ==, accepted_rev (first, "c1"));
  g_assert_cmpstr (json_object_get_string_member (change, "timestamp"), ==,
                   json_object_get_string_member (assert_accepted (first, "c1"), "serverTimestamp"));
  /* A numeric record id comes back as a number. */
  change = find_change (changes, "notes", "42");
  g_assert_nonnull (change);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (change, "recordId")), ==, G_TYPE_INT64);
  for (guint i = 1; i < json_array_get_length (changes); i++)
    g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (changes, i - 1), "rev"), <,
                     json_object_get_int_member (json_array_get_object_element (changes, i), "rev"));

  second = push (f, s, f->alice, "client-1",
                 change_new ("c4", "notes", "\"n1\"", "update", "{\"title\":\"new\"}", 1, NULL),
                 change_new ("c5", "tasks", "\"t1\"", "delete", NULL, 3, NULL),
                 NULL);
  assert_counts (second, 2, 0, 0);
  page = pull (f, s, f->alice, "{\"cursor\":\"3\"}");
  later = json_array_ref (json_object_get_array_member (page, "changes"));
  g_assert_cmpuint (json_array_get_length (later), ==, 2);
  change = find_change (later, "notes", "\"n1\"");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "update");
  g_clear_pointer (&got, g_free);
  got = change_data (change);
  g_assert_cmpstr (got, ==, "{\"title\":\"new\"}");
  /* A delete leaves a tombstone that other clients learn of. */
  change = find_change (later, "tasks", "\"t1\"");
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, "delete");
  g_assert_true (json_object_get_null_member (change, "data"));

  /* One log line per request: method, path, user, status. */
  if (!log_has_line (s, log_words))
    {
      g_autofree char *log = read_log (s);

      g_error ("no log line with POST /push alice 200:\n%s", log);
    }
}

static void
test_conflict (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonObject) updated = NULL;
  g_autoptr(JsonObject) stale = NULL;
  g_autoptr(JsonObject) batch = NULL;
  g_autoptr(JsonObject) unseen = NULL;
  g_autoptr(JsonObject) deleted = NULL;
  g_autoptr(JsonObject) recreated = NULL;
  g_autoptr(JsonObject) revived = NULL;
  g_autofree char *text = NULL;
  JsonObject *conflict;
  gint64 rev1, rev2, rev3, rev_del;

  created = push (f, s, f->alice, "A",
                  change_new ("k1", "notes", "\"r1\"", "create", "{\"v\":1}", 0, NULL), NULL);
  rev1 = accepted_rev (created, "k1");
  updated = push (f, s, f->alice, "A",
                  change_new ("k2", "notes", "\"r1\"", "update", "{\"v\":2}", rev1,
                              "\"hlc\":\"1700000000000-0000-A\""), NULL);
  rev2 = accepted_rev (updated, "k2");

  /* Made on top of rev1, but the record moved on: a conflict, nothing applied. */
  stale = push (f, s, f->alice, "B",
                change_new ("k3", "notes", "\"r1\"", "update", "{\"v\":3}", rev1,
                            "\"timestamp\":\"2026-01-02T03:04:05.678Z\""), NULL);
  assert_counts (stale, 0, 1, 0);
  conflict = assert_conflict (stale, "k3");
  g_assert_cmpstr (json_object_get_string_member (conflict, "collection"), ==, "notes");
  g_assert_cmpstr (json_object_get_string_member (conflict, "recordId"), ==, "r1");
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, rev2);
  g_assert_false (json_object_get_boolean_member (conflict, "remoteDeleted"));
  g_assert_cmpstr (json_object_get_string_member (conflict, "remoteHlc"), ==, "1700000000000-0000-A");
  g_assert_cmpstr (json_object_get_string_member (conflict, "localTimestamp"), ==, "2026-01-02T03:04:05.678Z");
  assert_iso_time (json_object_get_string_member (conflict, "remoteTimestamp"));
  text = node_text (json_object_get_member (conflict, "remote"));
  g_assert_cmpstr (text, ==, "{\"v\":2}");
  g_clear_pointer (&text, g_free);
  text = node_text (json_object_get_member (conflict, "local"));
  g_assert_cmpstr (text, ==, "{\"v\":3}");

  /* Later changes of a batch see the earlier ones; a conflict takes no rev. */
  batch = push (f, s, f->alice, "A",
                change_new ("k4", "notes", "\"r1\"", "update", "{\"v\":4}", rev2, NULL),
                change_new ("k5", "notes", "\"r1\"", "update", "{\"v\":5}", rev2, NULL),
                NULL);
  assert_counts (batch, 1, 1, 0);
  rev3 = accepted_rev (batch, "k4");
  g_assert_cmpint (rev3, ==, rev2 + 1);
  g_assert_cmpint (json_object_get_int_member (assert_conflict (batch, "k5"), "remoteRev"), ==, rev3);

  /* baseRev 0 on a record the server never had: accepted, a delete too. */
  unseen = push (f, s, f->alice, "A",
                 change_new ("k6", "notes", "\"r9\"", "update", "{\"v\":9}", 0, NULL),
                 change_new ("k7", "notes", "\"r8\"", "delete", NULL, 0, NULL),
                 NULL);
  assert_counts (unseen, 2, 0, 0);
  g_assert_cmpint (accepted_rev (unseen, "k6"), ==, rev3 + 1);

  /* A tombstone counts: a create with baseRev 0 over it conflicts. */
  deleted = push (f, s, f->alice, "A", change_new ("k8", "notes", "\"r1\"", "delete", NULL, rev3, NULL), NULL);
  rev_del = accepted_rev (deleted, "k8");
  recreated = push (f, s, f->alice, "B",
                    change_new ("k9", "notes", "\"r1\"", "create", "{\"v\":10}", 0, NULL), NULL);
  conflict = assert_conflict (recreated, "k9");
  g_assert_true (json_object_get_boolean_member (conflict, "remoteDeleted"));
  g_assert_true (json_object_get_null_member (conflict, "remote"));
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, rev_del);
  /* The resolution, based on the tombstone's rev, is accepted. */
  revived = push (f, s, f->alice, "B",
                  change_new ("k10", "notes", "\"r1\"", "create", "{\"v\":11}", rev_del, NULL), NULL);
  g_assert_cmpint (accepted_rev (revived, "k10"), ==, rev_del + 1);
}

static char *
timestamp_at (gint64 ms)
{
  g_autofree char *text = tether_time_format_ms (ms);

  return g_strdup_printf ("\"timestamp\":\"%s\"", text);
}

/* A client of the seed's design: no baseRev, no clientId. */
static void
test_seed (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *past = timestamp_at (946684800000);           /* 2000-01-01 */
  g_autofree char *future = timestamp_at (now_ms () + 60 * 1000);
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) own = NULL;
  g_autoptr(JsonObject) later = NULL;
  g_autoptr(JsonObject) retry = NULL;
  g_autoptr(JsonObject) gone = NULL;
  g_autoptr(JsonObject) revived = NULL;
  g_autoptr(JsonArray) changes = NULL;
  g_autofree char *data = NULL;

  first = push (f, s, f->alice, NULL,
                change_new ("s1", "notes", "\"a\"", "create", "{\"v\":1}", -1, future), NULL);
  assert_counts (first, 1, 0, 0);
  assert_iso_time (json_object_get_string_member (assert_accepted (first, "s1"), "serverTimestamp"));

  /* create of an existing record; update/delete older than the stored write */
  again = push (f, s, f->alice, NULL,
                change_new ("s2", "notes", "\"a\"", "create", "{\"v\":2}", -1, NULL),
                change_new ("s3", "notes", "\"a\"", "update", "{\"v\":3}", -1, past),
                change_new ("s4", "notes", "\"a\"", "delete", NULL, -1, past),
                NULL);
  assert_counts (again, 0, 3, 0);
  assert_conflict (again, "s2");
  assert_conflict (again, "s3");
  assert_conflict (again, "s4");

  /* a create and an edit of the client's own in one batch: its write
   * times are older than the create's server time, yet nothing is stale */
  own = push (f, s, f->alice, NULL,
              change_new ("s20", "notes", "\"b\"", "create", "{\"v\":1}", -1, past),
              change_new ("s21", "notes", "\"b\"", "update", "{\"v\":2}", -1, past),
              NULL);
  assert_counts (own, 2, 0, 0);

  /* newer than the stored write, or no timestamp at all: applied */
  later = push (f, s, f->alice, NULL,
                change_new ("s5", "notes", "\"a\"", "update", "{\"v\":5}", -1, future),
                change_new ("s6", "notes", "\"a\"", "update", "{\"v\":6}", -1, NULL),
                NULL);
  assert_counts (later, 2, 0, 0);

  /* still idempotent by change id */
  retry = push (f, s, f->alice, NULL,
                change_new ("s1", "notes", "\"a\"", "create", "{\"v\":1}", -1, future), NULL);
  assert_counts (retry, 1, 0, 0);
  g_assert_cmpint (accepted_rev (retry, "s1"), ==, accepted_rev (first, "s1"));

  /* a create over a tombstone is a new life for the record */
  gone = push (f, s, f->alice, NULL, change_new ("s7", "notes", "\"a\"", "delete", NULL, -1, NULL), NULL);
  assert_counts (gone, 1, 0, 0);
  revived = push (f, s, f->alice, NULL,
                  change_new ("s8", "notes", "\"a\"", "create", "{\"v\":8}", -1, NULL), NULL);
  assert_counts (revived, 1, 0, 0);

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  data = change_data (find_change (changes, "notes", "\"a\""));
  g_assert_cmpstr (data, ==, "{\"v\":8}");
  g_clear_pointer (&data, g_free);
  data = change_data (find_change (changes, "notes", "\"b\""));
  g_assert_cmpstr (data, ==, "{\"v\":2}");
}

static const char *retry_body =
  "{\"clientId\":\"phone\",\"changes\":["
  "{\"id\":\"i1\",\"collection\":\"notes\",\"recordId\":\"a\",\"type\":\"create\",\"data\":{\"v\":1},\"baseRev\":0},"
  "{\"id\":\"i2\",\"collection\":\"notes\",\"recordId\":\"b\",\"type\":\"create\",\"data\":{\"v\":2},\"baseRev\":0},"
  "{\"id\":\"i3\",\"collection\":\"notes\",\"recordId\":\"a\",\"type\":\"update\",\"data\":{\"v\":3},\"baseRev\":1}"
  "]}";

/* The same answer for a retried push, nothing applied twice, no self-conflict. */
static void
assert_same_answer (JsonObject *first,
                    JsonObject *retry)
{
  g_autofree char *first_accepted = node_text (json_object_get_member (first, "accepted"));
  g_autofree char *retry_accepted = node_text (json_object_get_member (retry, "accepted"));

  assert_counts (retry, 3, 0, 0);
  g_assert_cmpstr (retry_accepted, ==, first_accepted);
}

static void
assert_feed_once (Fixture *f,
                  Server  *s)
{
  g_autofree char *cursor = NULL;
  g_autoptr(JsonArray) changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_autofree char *a = NULL;

  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  a = change_data (find_change (changes, "notes", "\"a\""));
  g_assert_cmpstr (a, ==, "{\"v\":3}");
  /* every rev taken once: three changes, three revs */
  g_assert_cmpstr (cursor, ==, "3");
}

/* The response of a push is lost; the client sends the same push again. */
static void
test_idempotent (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) first = post_ok (f, s, "/push", f->alice, retry_body);
  g_autoptr(JsonObject) retry = NULL;
  g_autoptr(JsonObject) twice = NULL;
  g_autoptr(JsonObject) mixed = NULL;
  g_autofree char *cursor = NULL;
  g_autoptr(JsonArray) changes = NULL;

  assert_counts (first, 3, 0, 0);
  g_assert_cmpint (accepted_rev (first, "i1"), ==, 1);
  g_assert_cmpint (accepted_rev (first, "i3"), ==, 3);
  retry = post_ok (f, s, "/push", f->alice, retry_body);
  assert_same_answer (first, retry);
  assert_feed_once (f, s);

  /* the same change twice in one batch is applied once */
  twice = push (f, s, f->alice, "phone",
                change_new ("d1", "notes", "\"c\"", "create", "{\"v\":4}", 0, NULL),
                change_new ("d1", "notes", "\"c\"", "create", "{\"v\":4}", 0, NULL),
                NULL);
  g_assert_cmpuint (count_of (twice, "conflicts"), ==, 0);
  g_assert_cmpint (accepted_rev (twice, "d1"), ==, 4);

  /* an old change retried beside a new one */
  mixed = push (f, s, f->alice, "phone",
                change_new ("i2", "notes", "\"b\"", "create", "{\"v\":2}", 0, NULL),
                change_new ("e1", "notes", "\"e\"", "create", "{\"v\":5}", 0, NULL),
                NULL);
  assert_counts (mixed, 2, 0, 0);
  g_assert_cmpint (accepted_rev (mixed, "i2"), ==, accepted_rev (first, "i2"));
  g_assert_cmpint (accepted_rev (mixed, "e1"), ==, 5);
  changes = pull_all (f, s, f->alice, NULL, &cursor);
  g_assert_cmpuint (json_array_get_length (changes), ==, 4);
  g_assert_cmpstr (cursor, ==, "5");
}

/* The server restarts between the push and its retry. */
static void
test_restart_retry (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) first = post_ok (f, s, "/push", f->alice, retry_body);
  g_autoptr(JsonObject) retry = NULL;

  assert_counts (first, 3, 0, 0);
  server_restart (f, s);
  retry = post_ok (f, s, "/push", f->alice, retry_body);
  assert_same_answer (first, retry);
  assert_feed_once (f, s);
}

#define BIG_CHANGES 1000

/* 1000 creates of 4 KiB records each in collection big-@round. */
static char *
big_push_body (guint round)
{
  GString *body = g_string_new ("{\"clientId\":\"big\",\"changes\":[");
  g_autofree char *filler = g_strnfill (4096, 'x');

  for (guint i = 0; i < BIG_CHANGES; i++)
    g_string_append_printf (body,
                            "%s{\"id\":\"big-%u-%u\",\"collection\":\"big-%u\",\"recordId\":%u,"
                            "\"type\":\"create\",\"data\":{\"n\":%u,\"text\":\"%s\"},\"baseRev\":0}",
                            i ? "," : "", round, i, round, i, i, filler);
  g_string_append (body, "]}");
  return g_string_free (body, FALSE);
}

static guint
count_collection (JsonArray  *changes,
                  const char *collection)
{
  guint n = 0;

  for (guint i = 0; i < json_array_get_length (changes); i++)
    n += g_str_equal (json_object_get_string_member (json_array_get_object_element (changes, i),
                                                     "collection"), collection);
  return n;
}

static gboolean
call_wrote_or_done (gpointer data)
{
  Call *call = data;

  return call->wrote_body || call->done;
}

/* How long the server works on a big push after its body arrived. */
static guint
big_push_ms (Fixture *f,
             Server  *s)
{
  g_autofree char *body = big_push_body (99);
  Call *call = call_start (f, s, "POST", "/push", f->alice, body);
  gint64 work = 0;
  g_autoptr(Reply) reply = NULL;

  if (wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS) && call->wrote_body)
    work = call->done_at - call->wrote_at;
  reply = call_finish (f, call);
  assert_status (reply, 200);
  assert_counts (reply_object (reply), BIG_CHANGES, 0, 0);
  return (guint) MAX (work / 1000, 4);
}

/* Whether the server's push transaction is open, looked at from outside:
 * on SQLite the WAL write lock (byte 120 of the -shm file, per SQLite's
 * WAL format) is held by another process; on PostgreSQL a session other
 * than ours has a transaction with an id, that is one that locked or wrote
 * rows. */
typedef struct {
  Fixture *f;
  Server  *s;
  PGconn  *pg;
  char    *shm;
} Kill9;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

/* Bytes that @from sent to @to on a loopback connection and @to has not
 * read yet (in either socket's queue), from /proc/net/tcp. */
static guint64
loopback_queued (guint from,
                 guint to)
{
  g_autofree char *table = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  guint64 queued = 0;

  if (!g_file_get_contents ("/proc/net/tcp", &table, NULL, &error))
    g_error ("reading /proc/net/tcp: %s", error->message);
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      guint local_port, remote_port;
      guint64 tx, rx;

      if (sscanf (lines[i], " %*u: %*8x:%4x %*8x:%4x %*2x %" G_GINT64_MODIFIER "x:%" G_GINT64_MODIFIER "x",
                  &local_port, &remote_port, &tx, &rx) != 4)
        continue;
      if (local_port == from && remote_port == to)
        queued += tx;
      else if (local_port == to && remote_port == from)
        queued += rx;
    }
  return queued;
}

/* The state of the server's session in its transaction, "" with none;
 * with a "+" after it while bytes the server sent (the next statement,
 * maybe its COMMIT) wait on the connection, unread by PostgreSQL. */
static char *
kill9_pg_writing (Kill9 *k)
{
  g_autoptr(PGresult) res = PQexec (k->pg, "SELECT state || CASE WHEN wait_event_type = 'Client' THEN ' blocked' ELSE '' END,"
                                           " client_port, inet_server_port ()"
                                           " FROM pg_stat_activity WHERE datname = current_database ()"
                                           " AND pid <> pg_backend_pid () AND backend_xid IS NOT NULL");
  guint client_port, server_port;

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("looking at the server's sessions: %s", PQerrorMessage (k->pg));
  g_assert_cmpint (PQntuples (res), <=, 1);
  if (PQntuples (res) == 0)
    return g_strdup ("");
  client_port = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 1), NULL, 10);
  server_port = (guint) g_ascii_strtoull (PQgetvalue (res, 0, 2), NULL, 10);
  return g_strconcat (PQgetvalue (res, 0, 0),
                      loopback_queued (client_port, server_port) > 0 ? "+" : "", NULL);
}

static gboolean
kill9_writing (Kill9 *k)
{
  g_autofree char *state = NULL;

  if (k->pg == NULL)
    return tether_test_sqlite_write_locked (k->shm);
  state = kill9_pg_writing (k);
  return state[0] != '\0';
}

/* With the server stopped: its transaction is open, and stays so until the
 * kill. PostgreSQL may still be running the statement it was sent, or not
 * have read it yet (either may be the COMMIT): its session is looked at
 * once that is done and nothing waits on the connection. */
static gboolean
kill9_stopped_writing (Kill9 *k)
{
  if (k->pg == NULL)
    return tether_test_sqlite_write_locked (k->shm);
  for (guint waited = 0; waited < REQUEST_TIMEOUT_MS; waited++)
    {
      g_autofree char *state = kill9_pg_writing (k);

      /* what it sent last not yet read: maybe the COMMIT */
      if (g_str_has_suffix (state, "+"))
        {
          g_usleep (1000);
          continue;
        }
      /* idle in it (waiting for the stopped server's next statement), or
       * blocked on the stopped server (reading the rest of a statement
       * from it, or sending it rows) */
      if (g_str_has_prefix (state, "idle in transaction") || g_str_equal (state, "active blocked"))
        return TRUE;
      if (!g_str_equal (state, "active"))
        return FALSE;
      g_usleep (1000);
    }
  g_error ("the stopped server's session kept running a statement for %d ms", REQUEST_TIMEOUT_MS);
}

/* PostgreSQL ends the killed server's session once it sees the connection
 * closed; until then the session holds the user's lock. */
static void
kill9_wait_ended (Kill9 *k)
{
  for (guint waited = 0; k->pg != NULL && waited < REQUEST_TIMEOUT_MS; waited++)
    {
      g_autofree char *state = kill9_pg_writing (k);

      if (state[0] == '\0')
        return;
      g_usleep (1000);
    }
  if (k->pg != NULL)
    g_error ("the killed server's PostgreSQL session lived on for %d ms", REQUEST_TIMEOUT_MS);
}

/* Waits @delay_ms after the body went, then stops the server whenever its
 * transaction is open and kills it if it still is: TRUE then, FALSE when the
 * push was answered first. */
static gboolean
kill9_in_transaction (Kill9 *k,
                      Call  *call,
                      guint  delay_ms)
{
  g_usleep (delay_ms * 1000);
  for (guint waited = 0; waited < REQUEST_TIMEOUT_MS; waited++)
    {
      g_main_context_iteration (k->f->context, FALSE);
      if (call->done)
        return FALSE;
      if (kill9_writing (k))
        {
          g_subprocess_send_signal (k->s->process, SIGSTOP);
          if (kill9_stopped_writing (k))
            {
              server_kill (k->s);
              kill9_wait_ended (k);
              return TRUE;
            }
          g_subprocess_send_signal (k->s->process, SIGCONT);
        }
      g_usleep (1000);
    }
  g_error ("the big push was neither caught in its transaction nor answered within %d ms", REQUEST_TIMEOUT_MS);
}

/* One big push killed in its transaction. FALSE when the push was answered
 * before a kill could land (it is then checked as applied); @total counts
 * the changes the server holds. */
static gboolean
kill9_round (Kill9 *k,
             guint  round,
             guint  delay_ms,
             guint  work_ms,
             guint *total)
{
  Fixture *f = k->f;
  Server *s = k->s;
  g_autofree char *body = big_push_body (round);
  g_autofree char *collection = g_strdup_printf ("big-%u", round);
  g_autofree char *first_id = g_strdup_printf ("big-%u-0", round);
  g_autofree char *cursor = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(Call) call = call_start (f, s, "POST", "/push", f->alice, body);
  g_autoptr(JsonArray) after_kill = NULL;
  g_autoptr(JsonArray) after_retry = NULL;
  g_autoptr(JsonObject) retry = NULL;
  guint found;

  if (!wait_until (f, call_wrote_or_done, call, REQUEST_TIMEOUT_MS))
    g_error ("the big push was not sent within %d ms", REQUEST_TIMEOUT_MS);
  if (!kill9_in_transaction (k, call, delay_ms))
    {
      g_autoptr(Reply) reply = call_finish (f, g_steal_pointer (&call));

      g_test_message ("push %u (looking from %u ms after the body, a push takes %u ms): answered before a "
                      "kill landed in its transaction; again", round, delay_ms, work_ms);
      assert_status (reply, 200);
      assert_counts (reply_object (reply), BIG_CHANGES, 0, 0);
      *total += BIG_CHANGES;
      return FALSE;
    }
  if (!wait_until (f, call_ready, call, REQUEST_TIMEOUT_MS))
    g_error ("the big push neither failed nor finished after kill -9");
  server_spawn (f, s);

  after_kill = pull_all (f, s, f->alice, NULL, NULL);
  found = count_collection (after_kill, collection);
  g_test_message ("push %u (killed in its transaction, looking from %u ms after the body, a push takes %u ms): "
                  "%u of %u changes survived, reply: %s", round, delay_ms, work_ms, found, BIG_CHANGES,
                  call->error ? call->error->message : "received");
  /* all or nothing; PostgreSQL's transaction was seen open and idle with
   * the server stopped, so it cannot have committed */
  if (k->pg != NULL)
    g_assert_cmpuint (found, ==, 0);
  g_assert_true (found == 0 || found == BIG_CHANGES);
  /* an acknowledged push is durable */
  if (call->error == NULL && soup_message_get_status (call->msg) == 200)
    g_assert_cmpuint (found, ==, BIG_CHANGES);

  retry = post_ok (f, s, "/push", f->alice, body);
  assert_counts (retry, BIG_CHANGES, 0, 0);
  *total += BIG_CHANGES;
  after_retry = pull_all (f, s, f->alice, NULL, &cursor);
  g_assert_cmpuint (count_collection (after_retry, collection), ==, BIG_CHANGES);
  /* each change took exactly one rev */
  expected = g_strdup_printf ("%u", *total);
  g_assert_cmpstr (cursor, ==, expected);
  /* answered from what was applied before the kill, not applied again */
  if (found == BIG_CHANGES)
    g_assert_cmpint (accepted_rev (retry, first_id), ==,
                     json_object_get_int_member (find_change (after_kill, collection, "0"), "rev"));
  return TRUE;
}

#define KILL9_ROUNDS   3
#define KILL9_ATTEMPTS 4   /* per round; the last one looks from the start */

/* kill -9 while the server's transaction for a push of 1000 large changes
 * is open (seen with the server stopped): after a restart either the whole
 * batch is there or none of it (on PostgreSQL: none), and the client's retry
 * is then applied exactly once. The rounds start looking at a quarter, a
 * half and three quarters of the time the server takes for such a push; a
 * push answered before then is sent again, looking earlier. */
static void
test_kill9 (Fixture *f)
{
  Kill9 k = { f, server_start (f, NULL), NULL, NULL };
  guint work_ms = big_push_ms (f, k.s);
  guint total = BIG_CHANGES;
  guint push = 0;

  if (f->postgres)
    {
      k.pg = PQconnectdb (f->storage[1]);
      if (PQstatus (k.pg) != CONNECTION_OK)
        g_error ("connecting to the server's PostgreSQL: %s", PQerrorMessage (k.pg));
    }
  else
    k.shm = g_strconcat (f->storage[1], "-shm", NULL);
  for (guint round = 0; round < KILL9_ROUNDS; round++)
    {
      gboolean landed = FALSE;

      for (guint attempt = 0; attempt < KILL9_ATTEMPTS && !landed; attempt++)
        {
          guint delay_ms = attempt + 1 < KILL9_ATTEMPTS ? (work_ms * (round + 1) / 4) >> attempt : 0;

          landed = kill9_round (&k, push++, delay_ms, work_ms, &total);
        }
      if (!landed)
        g_error ("round %u: no kill landed in the push's transaction in %u pushes", round, KILL9_ATTEMPTS);
    }
  g_clear_pointer (&k.pg, PQfinish);
  g_free (k.shm);
}

/* Tombstones past the retention are purged (here at the restart, with a
 * retention of 0 days); a cursor from before them gets 410. */
static void
test_purge (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) fresh = NULL;
  g_autoptr(JsonObject) current = NULL;
  g_autoptr(Reply) old = NULL;
  g_autoptr(Reply) older = NULL;
  g_autoptr(Reply) not_resync = NULL;
  g_autoptr(Reply) bad_resync = NULL;
  g_autoptr(Reply) resync_query = NULL;
  g_autoptr(JsonObject) resync = NULL;
  JsonArray *changes;

  pushed = push (f, s, f->alice, "A",
                 change_new ("p1", "notes", "\"gone\"", "create", "{\"v\":1}", 0, NULL),
                 change_new ("p2", "notes", "\"kept\"", "create", "{\"v\":2}", 0, NULL),
                 change_new ("p3", "notes", "\"gone\"", "delete", NULL, 1, NULL),
                 NULL);
  assert_counts (pushed, 3, 0, 0);
  g_usleep (20 * 1000);
  server_restart (f, s);

  old = request (f, s, "POST", "/pull", f->alice, "{\"cursor\":\"2\"}");
  assert_error (old, 410, "cursor-expired");
  older = request (f, s, "GET", "/pull?cursor=1", f->alice, NULL);
  assert_error (older, 410, "cursor-expired");
  /* a resync (from null after a 410) goes on from its own older cursors */
  resync = pull (f, s, f->alice, "{\"cursor\":\"2\",\"resync\":true}");
  g_assert_cmpstr (json_object_get_string_member (resync, "cursor"), ==, "3");
  g_clear_pointer (&resync, json_object_unref);
  not_resync = request (f, s, "POST", "/pull", f->alice, "{\"cursor\":\"2\",\"resync\":false}");
  assert_error (not_resync, 410, "cursor-expired");
  bad_resync = request (f, s, "POST", "/pull", f->alice, "{\"cursor\":\"2\",\"resync\":1}");
  assert_error (bad_resync, 400, "bad-request");
  resync_query = request (f, s, "GET", "/pull?cursor=1&resync=true", f->alice, NULL);
  assert_status (resync_query, 200);

  /* The way back: pull again from null. */
  fresh = pull (f, s, f->alice, "{\"cursor\":null}");
  changes = json_object_get_array_member (fresh, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_nonnull (find_change (changes, "notes", "\"kept\""));
  g_assert_cmpstr (json_object_get_string_member (fresh, "cursor"), ==, "3");
  current = pull (f, s, f->alice, "{\"cursor\":\"3\"}");
  g_assert_cmpuint (count_of (current, "changes"), ==, 0);
}

/* A collection filter whose records are far apart in the feed: every page
 * moves the cursor on, and the last one ends at the feed's end. */
static void
test_pagination (Fixture *f)
{
  Server *s = server_start (f, NULL);
  GString *body = g_string_new ("{\"clientId\":\"A\",\"changes\":[");
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(JsonObject) none = NULL;
  g_autoptr(JsonObject) everything = NULL;
  g_autofree char *cursor = NULL;
  g_autofree char *text = NULL;
  guint n = 0, seen = 0;
  gint64 previous = 0;
  gboolean more = TRUE;

  /* a0-a4, 100 b, a5-a9, 200 b: revs 1-5 and 106-110 are "a" */
  for (guint block = 0; block < 4; block++)
    for (guint i = 0; i < (block % 2 ? (block == 1 ? 100 : 200) : 5); i++, n++)
      g_string_append_printf (body, "%s{\"id\":\"g%u\",\"collection\":\"%s\",\"recordId\":%u,"
                              "\"type\":\"create\",\"data\":{\"n\":%u},\"baseRev\":0}",
                              n ? "," : "", n, block % 2 ? "b" : "a", n, n);
  g_string_append (body, "]}");
  text = g_string_free (body, FALSE);
  pushed = post_ok (f, s, "/push", f->alice, text);
  assert_counts (pushed, 310, 0, 0);

  for (guint page = 0; more; page++)
    {
      g_autofree char *cursor_json = cursor ? g_strdup_printf ("\"%s\"", cursor) : g_strdup ("null");
      g_autofree char *request_body = g_strdup_printf ("{\"cursor\":%s,\"collections\":[\"a\"],\"batchSize\":3}",
                                                       cursor_json);
      g_autoptr(JsonObject) response = pull (f, s, f->alice, request_body);
      JsonArray *changes = json_object_get_array_member (response, "changes");
      gint64 position;

      g_assert_cmpuint (page, <, 10);
      g_assert_cmpuint (json_array_get_length (changes), <=, 3);
      for (guint i = 0; i < json_array_get_length (changes); i++, seen++)
        {
          JsonObject *change = json_array_get_object_element (changes, i);

          g_assert_cmpstr (json_object_get_string_member (change, "collection"), ==, "a");
          g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (change, "data"), "n"),
                           ==, seen < 5 ? seen : seen + 100);
        }
      g_free (cursor);
      cursor = g_strdup (json_object_get_string_member (response, "cursor"));
      position = g_ascii_strtoll (cursor, NULL, 10);
      g_assert_cmpint (position, >, previous);
      previous = position;
      more = json_object_get_boolean_member (response, "hasMore");
    }
  g_assert_cmpuint (seen, ==, 10);
  g_assert_cmpstr (cursor, ==, "310");

  again = pull (f, s, f->alice, "{\"cursor\":\"310\",\"collections\":[\"a\"],\"batchSize\":3}");
  g_assert_cmpuint (count_of (again, "changes"), ==, 0);
  g_assert_false (json_object_get_boolean_member (again, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (again, "cursor"), ==, "310");
  /* a filter nothing matches still reaches the end at once */
  none = pull (f, s, f->alice, "{\"cursor\":null,\"collections\":[\"nothing\"],\"batchSize\":3}");
  g_assert_cmpuint (count_of (none, "changes"), ==, 0);
  g_assert_false (json_object_get_boolean_member (none, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (none, "cursor"), ==, "310");
  /* the default batch is 100 */
  everything = pull (f, s, f->alice, "{\"cursor\":null}");
  g_assert_cmpuint (count_of (everything, "changes"), ==, 100);
  g_assert_true (json_object_get_boolean_member (everything, "hasMore"));
  g_assert_cmpstr (json_object_get_string_member (everything, "cursor"), ==, "100");
}

static void
test_get_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(Reply) first = NULL;
  g_autoptr(Reply) second = NULL;
  g_autoptr(Reply) plain = NULL;
  JsonObject *page;
  JsonArray *changes;

  pushed = push (f, s, f->alice, "A",
                 change_new ("q1", "a", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q2", "b", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q3", "c", "\"1\"", "create", "{}", 0, NULL),
                 change_new ("q4", "a", "\"2\"", "create", "{}", 0, NULL),
                 change_new ("q5", "b", "\"2\"", "create", "{}", 0, NULL),
                 change_new ("q6", "a", "\"3\"", "create", "{}", 0, NULL),
                 NULL);
  assert_counts (pushed, 6, 0, 0);

  first = request (f, s, "GET", "/pull?cursor=2&collections=a,b&batchSize=2", f->alice, NULL);
  assert_status (first, 200);
  page = reply_object (first);
  changes = json_object_get_array_member (page, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, "q4");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 1), "id"), ==, "q5");
  g_assert_cmpstr (json_object_get_string_member (page, "cursor"), ==, "5");
  g_assert_true (json_object_get_boolean_member (page, "hasMore"));

  second = request (f, s, "GET", "/pull?cursor=5&collections=a,b&batchSize=2", f->alice, NULL);
  assert_status (second, 200);
  page = reply_object (second);
  changes = json_object_get_array_member (page, "changes");
  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (changes, 0), "id"), ==, "q6");
  g_assert_cmpstr (json_object_get_string_member (page, "cursor"), ==, "6");
  g_assert_false (json_object_get_boolean_member (page, "hasMore"));

  plain = request (f, s, "GET", "/pull", f->alice, NULL);
  assert_status (plain, 200);
  g_assert_cmpuint (count_of (reply_object (plain), "changes"), ==, 6);
}

static gint64
hlc_ms (const char *hlc)
{
  g_assert_true (g_regex_match_simple ("^[0-9]{13}-[0-9a-f]{4}-.+$", hlc, 0, 0));
  return g_ascii_strtoll (hlc, NULL, 10);
}

static void
test_hlc (Fixture *f)
{
  Server *s = server_start (f, NULL);
  gint64 before = now_ms ();
  g_autofree char *ahead = g_strdup_printf ("\"hlc\":\"%013" G_GINT64_FORMAT "-0001-phone\"", before + 2 * 3600 * 1000);
  g_autofree char *near = g_strdup_printf ("%013" G_GINT64_FORMAT "-0002-phone", before + 60 * 1000);
  g_autofree char *near_member = g_strdup_printf ("\"hlc\":\"%s\"", near);
  g_autoptr(JsonObject) pushed = NULL;
  g_autoptr(JsonObject) retried = NULL;
  g_autoptr(JsonObject) stale = NULL;
  g_autoptr(JsonArray) changes = NULL;
  JsonObject *entry;
  const char *clamped;
  gint64 after;

  pushed = push (f, s, f->alice, "phone",
                 change_new ("h1", "notes", "\"x\"", "create", "{}", 0, ahead),
                 change_new ("h2", "notes", "\"y\"", "create", "{}", 0, near_member),
                 change_new ("h3", "notes", "\"z\"", "create", "{}", 0, "\"hlc\":\"yesterday\""),
                 change_new ("h4", "notes", "\"w\"", "create", "{}", 0, "\"hlc\":\"123-0001-phone\""),
                 NULL);
  after = now_ms ();
  assert_counts (pushed, 2, 0, 2);
  assert_change_error (pushed, "h3", "bad-change");
  assert_change_error (pushed, "h4", "bad-change");

  /* More than an hour ahead: clamped to the server's now + 1 h, same counter and client. */
  entry = assert_accepted (pushed, "h1");
  g_assert_true (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));
  clamped = json_object_get_string_member (entry, "hlc");
  g_assert_cmpint (hlc_ms (clamped), >=, before + 3600 * 1000);
  g_assert_cmpint (hlc_ms (clamped), <=, after + 3600 * 1000);
  g_assert_true (g_str_has_suffix (clamped, "-0001-phone"));
  /* within the hour: kept as sent */
  entry = assert_accepted (pushed, "h2");
  g_assert_false (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));
  /* a retry gets the first answer, hlcClamped included */
  retried = push (f, s, f->alice, "phone",
                  change_new ("h1", "notes", "\"x\"", "create", "{}", 0, ahead),
                  change_new ("h2", "notes", "\"y\"", "create", "{}", 0, near_member), NULL);
  entry = assert_accepted (retried, "h1");
  g_assert_true (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));
  g_assert_cmpstr (json_object_get_string_member (entry, "hlc"), ==, clamped);
  entry = assert_accepted (retried, "h2");
  g_assert_false (json_object_get_boolean_member_with_default (entry, "hlcClamped", FALSE));

  changes = pull_all (f, s, f->alice, NULL, NULL);
  g_assert_cmpstr (json_object_get_string_member (find_change (changes, "notes", "\"x\""), "hlc"), ==, clamped);
  g_assert_cmpstr (json_object_get_string_member (find_change (changes, "notes", "\"y\""), "hlc"), ==, near);
  stale = push (f, s, f->alice, "tablet",
                change_new ("h5", "notes", "\"x\"", "update", "{}", 0, NULL), NULL);
  g_assert_cmpstr (json_object_get_string_member (assert_conflict (stale, "h5"), "remoteHlc"), ==, clamped);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
assert_fields (JsonObject *conflict,
               const char *expected)
{
  JsonArray *fields = json_object_get_array_member (conflict, "fieldConflicts");
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree char *joined = NULL;

  g_assert_nonnull (fields);
  for (guint i = 0; i < json_array_get_length (fields); i++)
    g_ptr_array_add (names, (gpointer) json_array_get_string_element (fields, i));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  joined = g_strjoinv (",", (char **) names->pdata);
  g_assert_cmpstr (joined, ==, expected);
}

static void
test_field_conflicts (Fixture *f)
{
  Server *s = server_start (f, NULL);
  const char *base = "{\"title\":\"a\",\"body\":\"b\",\"n\":1}";
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonObject) remote = NULL;
  g_autoptr(JsonObject) with_base = NULL;
  g_autoptr(JsonObject) without = NULL;
  g_autofree char *base_member = g_strdup_printf ("\"baseData\":%s", base);
  gint64 rev;

  created = push (f, s, f->alice, "A", change_new ("f1", "notes", "\"r\"", "create", base, 0, NULL), NULL);
  rev = accepted_rev (created, "f1");
  remote = push (f, s, f->alice, "A",
                 change_new ("f2", "notes", "\"r\"", "update", "{\"title\":\"x\",\"body\":\"b\",\"n\":1}", rev, NULL),
                 NULL);
  assert_counts (remote, 1, 0, 0);

  /* Against the base the client sent: only title changed on both sides. */
  with_base = push (f, s, f->alice, "B",
                    change_new ("f3", "notes", "\"r\"", "update", "{\"title\":\"y\",\"body\":\"c\",\"n\":1}",
                                rev, base_member),
                    NULL);
  assert_fields (assert_conflict (with_base, "f3"), "title");
  /* Without one: the fields whose values differ, either side's keys. */
  without = push (f, s, f->alice, "B",
                  change_new ("f4", "notes", "\"r\"", "update",
                              "{\"title\":\"y\",\"body\":\"c\",\"extra\":true}", rev, NULL),
                  NULL);
  assert_fields (assert_conflict (without, "f4"), "body,extra,n,title");
}

/* Two users with the same collection and record ids never see each other. */
static void
test_isolation (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(JsonObject) alice = NULL;
  g_autoptr(JsonObject) bob = NULL;
  g_autoptr(JsonObject) bob_delete = NULL;
  g_autoptr(JsonObject) bob_late = NULL;
  g_autoptr(JsonArray) alice_sees = NULL;
  g_autoptr(JsonArray) bob_sees = NULL;
  g_autofree char *alice_cursor = NULL;
  g_autofree char *data = NULL;
  JsonObject *conflict;

  alice = push (f, s, f->alice, "same-client",
                change_new ("shared", "notes", "\"same\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                change_new ("alice-2", "notes", "\"a2\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                change_new ("alice-3", "notes", "\"a3\"", "create", "{\"owner\":\"alice\"}", 0, NULL),
                NULL);
  assert_counts (alice, 3, 0, 0);
  /* Alice's change id is no answer for Bob: his change is his own. */
  bob = push (f, s, f->bob, "same-client",
              change_new ("shared", "notes", "\"same\"", "create", "{\"owner\":\"bob\"}", 0, NULL), NULL);
  assert_counts (bob, 1, 0, 0);
  g_assert_cmpint (accepted_rev (bob, "shared"), ==, 1);

  bob_sees = pull_all (f, s, f->bob, NULL, NULL);
  g_assert_cmpuint (json_array_get_length (bob_sees), ==, 1);
  data = change_data (find_change (bob_sees, "notes", "\"same\""));
  g_assert_cmpstr (data, ==, "{\"owner\":\"bob\"}");

  /* Alice's record id and rev mean nothing to Bob's feed. */
  bob_delete = push (f, s, f->bob, "B", change_new ("b2", "notes", "\"a2\"", "delete", NULL, 2, NULL), NULL);
  conflict = assert_conflict (bob_delete, "b2");
  g_assert_true (json_object_get_null_member (conflict, "remote"));
  g_assert_cmpint (json_object_get_int_member (conflict, "remoteRev"), ==, 0);

  alice_sees = pull_all (f, s, f->alice, NULL, &alice_cursor);
  g_assert_cmpuint (json_array_get_length (alice_sees), ==, 3);
  g_clear_pointer (&data, g_free);
  data = change_data (find_change (alice_sees, "notes", "\"same\""));
  g_assert_cmpstr (data, ==, "{\"owner\":\"alice\"}");
  g_assert_cmpstr (json_object_get_string_member (find_change (alice_sees, "notes", "\"a2\""), "type"), ==, "create");

  /* Alice's cursor used by Bob returns nothing of hers. */
  bob_late = pull (f, s, f->bob, "{\"cursor\":\"1\"}");
  g_assert_cmpuint (count_of (bob_late, "changes"), ==, 0);
  {
    g_autofree char *body = g_strdup_printf ("{\"cursor\":\"%s\"}", alice_cursor);
    g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->bob, body);

    if (reply->status == 200)
      g_assert_cmpuint (count_of (reply_object (reply), "changes"), ==, 0);
    else
      assert_error (reply, 400, "bad-cursor");
  }
}

/* ------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "base", test_base },
    { "push-pull", test_push_pull },
    { "conflict", test_conflict },
    { "seed", test_seed },
    { "idempotent-retry", test_idempotent },
    { "restart-retry", test_restart_retry },
    { "kill-9", test_kill9 },
    { "purge", test_purge },
    { "pagination", test_pagination },
    { "get-pull", test_get_pull },
    { "hlc", test_hlc },
    { "field-conflicts", test_field_conflicts },
    { "isolation", test_isolation },
  };

  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
