/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-e2e"
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sqlite3.h>
#include <glib/gstdio.h>

#include "tether-test-sync.h"

/* The sync client end to end: two or three clients (database files with
 * the default schema) against one real tether-server (SQLite), through the
 * public API only. Each scenario is something a user would notice. */

#define NOTE_BASE "{\"title\":\"base\",\"body\":\"one\\ntwo\\nthree\\n\"}"

/* Separate writes by a few ms so the second one's hlc is greater. */
static void
later (void)
{
  g_usleep (5 * 1000);
}

/* A record created on @a and synced to @b. */
static char *
shared_record (Client     *a,
               Client     *b,
               const char *collection,
               const char *json)
{
  char *id = client_create (a, collection, json);
  g_autoptr(JsonObject) on_b = NULL;

  client_sync (a);
  client_sync (b);
  on_b = client_get (b, collection, id);
  g_assert_nonnull (on_b);
  return id;
}

static void
assert_string (Client     *c,
               const char *collection,
               const char *id,
               const char *field,
               const char *expected)
{
  g_autofree char *value = client_string (c, collection, id, field);

  if (g_strcmp0 (value, expected) != 0)
    g_test_message ("client %s, %s %s: %s", c->name, collection, id, field);
  g_assert_cmpstr (value, ==, expected);
}

static void
assert_absent (Client     *c,
               const char *collection,
               const char *id)
{
  g_autoptr(JsonObject) data = client_get (c, collection, id);

  g_assert_null (data);
}

static gboolean server_has (Client *c, const char *text);
static void     push_from_elsewhere (Client *c, const char *collection, const char *type,
                                     const char *record_id, const char *data, gint64 rev);

static guint
count_changes (Client *c,
               int     status)
{
  g_autoptr(GPtrArray) changes = client_changes (c, status);

  return changes->len;
}

/* The only conflict of @c's log. */
static TetherConflict *
only_conflict (Client *c)
{
  g_autoptr(GPtrArray) conflicts = client_conflicts (c, FALSE);

  g_assert_cmpuint (conflicts->len, ==, 1);
  return g_object_ref (conflicts->pdata[0]);
}

static gboolean
strv_has (const char * const *strv,
          const char         *item)
{
  return strv != NULL && g_strv_contains (strv, item);
}

/* ---------------------------------------------------------------- records */

static void
test_create_pull (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *other = client_new (f, s, "bob", f->bob);
  Client *clients[] = { a, b };
  g_autofree char *note = client_create (a, "notes",
    "{\"title\":\"Groceries\",\"body\":\"milk\\neggs\\n\",\"tags\":[\"home\",\"errand\"],\"pinned\":true}");
  g_autofree char *task = client_create (a, "tasks",
    "{\"title\":\"Call Ann\",\"notes\":\"about Sunday\",\"done\":false,"
    "\"due\":\"2026-11-22T10:04:05.123Z\",\"priority\":2,\"tags\":[\"family\"]}");
  g_autoptr(JsonObject) on_a = NULL;
  g_autoptr(JsonObject) on_b = NULL;
  g_autofree char *dump_other = NULL;
  TetherSyncReport report;

  report = client_sync (a);
  g_assert_cmpuint (report.pushed, ==, 2);
  g_assert_cmpuint (report.accepted, ==, 2);
  g_assert_cmpuint (report.conflicts, ==, 0);
  /* our own writes come back in the pull: skipped by rev, never rewritten */
  g_assert_cmpuint (report.applied, ==, 0);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  g_assert_cmpuint (count_changes (a, -1), ==, 0);

  report = client_sync (b);
  g_assert_cmpuint (report.pushed, ==, 0);
  g_assert_cmpuint (report.pulled, ==, 2);
  g_assert_cmpuint (report.applied, ==, 2);
  g_assert_cmpuint (count_changes (b, -1), ==, 0);

  on_a = client_get (a, "tasks", task);
  on_b = client_get (b, "tasks", task);
  g_assert_nonnull (on_b);
  for (const char * const *field = (const char * const[]) { "id", "title", "notes", "done", "due",
                                                            "priority", "tags", NULL }; *field; field++)
    {
      g_autofree char *want = canonical_node (json_object_get_member (on_a, *field));
      g_autofree char *got = canonical_node (json_object_get_member (on_b, *field));

      g_assert_cmpstr (got, ==, want);
    }
  assert_string (b, "notes", note, "body", "milk\neggs\n");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));

  /* another user sees none of it */
  client_sync (other);
  dump_other = client_dump (other);
  g_assert_cmpstr (dump_other, ==, "{\"notes\":[],\"tasks\":[]}");
}

/* Another client may write 2.0 for an integer or a datetime without
 * milliseconds: the pulled record is stored in this schema's normal form,
 * as a local write would be, although the parsed answer it comes from is
 * immutable. */
static void
test_pull_normalises (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  g_autoptr(JsonObject) task = NULL;
  JsonNode *priority;

  push_from_elsewhere (a, "tasks", "create", "t-1",
                       "{\"id\":\"t-1\",\"title\":\"Call Ann\",\"priority\":2.0,"
                       "\"due\":\"2026-11-22T11:04:05+01:00\",\"tags\":[\"family\"]}", 0);
  client_sync (b);
  task = client_get (b, "tasks", "t-1");
  g_assert_nonnull (task);
  priority = json_object_get_member (task, "priority");
  g_assert_cmpint (json_node_get_value_type (priority), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (priority), ==, 2);
  assert_string (b, "tasks", "t-1", "due", "2026-11-22T10:04:05.000Z");
  assert_string (b, "tasks", "t-1", "title", "Call Ann");
}

static guint
search_count (Client     *c,
              const char *text)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *notes = tether_database_get_collection (c->db, "notes", &error);
  g_autoptr(TetherQuery) query = tether_query_search (tether_query_new (notes), text);
  g_autoptr(GPtrArray) found = tether_query_run (query, &error);

  g_assert_no_error (error);
  return found->len;
}

static void
count_change (TetherCollection *collection,
              TetherChangeType  type,
              const char       *id,
              TetherRecord     *old_record,
              TetherRecord     *new_record,
              guint            *counts)
{
  counts[type]++;
}

/* Pulled records are written a page at a time: each still gets its
 * "changed" signal, and search sees the page. */
static void
test_pull_page_writes (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *one = client_create (a, "notes", "{\"title\":\"alpha\"}");
  g_autofree char *two = client_create (a, "notes", "{\"title\":\"beta\"}");
  g_autofree char *three = client_create (a, "notes", "{\"title\":\"gamma\"}");
  g_autoptr(GError) error = NULL;
  TetherCollection *notes_b = tether_database_get_collection (b->db, "notes", &error);
  guint counts[3] = { 0, };

  g_assert_no_error (error);
  g_signal_connect (notes_b, "changed", G_CALLBACK (count_change), counts);
  client_sync (a);
  client_sync (b);
  g_assert_cmpuint (counts[TETHER_CHANGE_CREATE], ==, 3);
  g_assert_cmpuint (search_count (b, "beta"), ==, 1);

  client_update (a, "notes", one, "{\"title\":\"delta\"}");
  client_delete (a, "notes", two);
  client_sync (a);
  client_sync (b);
  g_assert_cmpuint (counts[TETHER_CHANGE_UPDATE], ==, 1);
  g_assert_cmpuint (counts[TETHER_CHANGE_DELETE], ==, 1);
  g_assert_cmpuint (search_count (b, "alpha"), ==, 0);
  g_assert_cmpuint (search_count (b, "delta"), ==, 1);
  g_assert_cmpuint (search_count (b, "beta"), ==, 0);
  assert_string (b, "notes", three, "title", "gamma");
  g_signal_handlers_disconnect_by_data (notes_b, counts);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

static void
test_update_delete (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autofree char *task = shared_record (a, b, "tasks", "{\"title\":\"task\"}");
  g_autoptr(JsonObject) on_b = NULL;
  TetherSyncReport report;

  client_update (a, "notes", note, "{\"title\":\"renamed\",\"tags\":[\"x\"]}");
  client_update (a, "tasks", task, "{\"done\":true}");
  client_update (a, "tasks", task, "{\"priority\":3}");
  report = client_sync (a);
  /* a record's pending changes go out as one */
  g_assert_cmpuint (report.pushed, ==, 2);
  client_sync (b);
  assert_string (b, "notes", note, "title", "renamed");
  on_b = client_get (b, "tasks", task);
  g_assert_true (json_object_get_boolean_member (on_b, "done"));
  g_assert_cmpint (json_object_get_int_member (on_b, "priority"), ==, 3);

  client_delete (b, "notes", note);
  client_sync (b);
  client_sync (a);
  assert_absent (a, "notes", note);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* create then delete before a sync: nothing reaches the server */
static void
test_create_delete_unsent (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"gone\"}");
  g_autofree char *dump = NULL;
  TetherSyncReport report;
  gint64 feed_end = -1;

  client_update (a, "notes", note, "{\"title\":\"still gone\"}");
  client_delete (a, "notes", note);
  report = client_sync (a);
  g_assert_cmpuint (report.pushed, ==, 0);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 0);
  g_assert_cmpuint (count_changes (a, -1), ==, 0);

  /* Many of them in batches of one, then a note that is sent: the push
   * looks again after each batch with nothing to send, in a loop. */
  tether_sync_engine_set_batch_size (a->engine, 1);
  for (guint i = 0; i < 200; i++)
    {
      g_autofree char *id = client_create (a, "notes", "{\"title\":\"brief\"}");

      client_delete (a, "notes", id);
    }
  g_free (client_create (a, "notes", "{\"title\":\"kept\"}"));
  report = client_sync (a);
  g_assert_cmpuint (report.pushed, ==, 1);
  g_assert_cmpuint (report.accepted, ==, 1);
  g_assert_cmpuint (count_changes (a, -1), ==, 0);
}

/* A record's pending changes go out as one, even when other records'
 * changes between them fill several batches. */
static void
test_coalesce_across_batches (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autofree char *kept = client_create (a, "notes", "{\"title\":\"first\"}");
  g_autofree char *dropped = client_create (a, "notes", "{\"title\":\"never sent\"}");
  g_autofree char *dump = NULL;
  TetherSyncReport report;
  gint64 feed_end = 0;

  tether_sync_engine_set_batch_size (a->engine, 4);
  for (guint i = 0; i < 10; i++)
    g_free (client_create (a, "tasks", "{\"title\":\"filler\"}"));
  client_update (a, "notes", kept, "{\"title\":\"last\"}");
  client_delete (a, "notes", dropped);
  report = client_sync (a);
  g_test_message ("pushed %u changes", report.pushed);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 11);
  g_assert_cmpuint (report.pushed, ==, 11);
  assert_converged (f, s, f->alice, clients, 1);
}

/* Records written before sync was set up are sent as creates. */
static void
test_existing_records (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *path = g_build_filename (f->dir, "client-a.db", NULL);
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = tether_database_open (path, schema, &error);
  g_autoptr(TetherRecord) record = NULL;
  Client *a, *b;
  Client *clients[2];
  TetherSyncReport report;

  g_assert_no_error (error);
  record = tether_test_create (tether_database_get_collection (db, "notes", NULL),
                               "{\"title\":\"from before sync\"}");
  tether_database_close (db);

  a = client_new (f, s, "a", f->alice);
  b = client_new (f, s, "b", f->alice);
  clients[0] = a;
  clients[1] = b;
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);
  report = client_sync (a);
  g_assert_cmpuint (report.accepted, ==, 1);
  client_sync (b);
  assert_string (b, "notes", tether_record_get_id (record), "title", "from before sync");
  assert_converged (f, s, f->alice, clients, 2);
}

/* The seed's story: a title edited on one device and the body on another,
 * both offline; after syncing, both edits are on every device. */
static void
test_seed_offline_edits (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  TetherSyncReport report;

  client_update (a, "notes", note, "{\"title\":\"title from A\"}");
  later ();
  client_update (b, "notes", note, "{\"body\":\"body from B\\n\"}");
  report = client_sync (a);
  g_assert_cmpuint (report.conflicts, ==, 0);
  /* B's push is based on the version before A's: one conflict, merged */
  report = client_sync (b);
  g_assert_cmpuint (report.conflicts, ==, 1);
  report = client_sync (a);
  g_assert_cmpuint (report.conflicts, ==, 0);
  report = client_sync (b);
  g_assert_cmpuint (report.conflicts, ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      g_autoptr(GPtrArray) conflicts = client_conflicts (clients[i], FALSE);

      assert_string (clients[i], "notes", note, "title", "title from A");
      assert_string (clients[i], "notes", note, "body", "body from B\n");
      /* nothing lost, so nothing logged to restore */
      g_assert_cmpuint (conflicts->len, ==, 0);
    }
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The same story through tether_sync_engine_sync() (a private main context). */
static void
test_blocking_sync (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = client_create (a, "notes", NOTE_BASE);
  TetherSyncReport report;

  report = client_sync_blocking (a);
  g_assert_cmpuint (report.accepted, ==, 1);
  report = client_sync_blocking (b);
  g_assert_cmpuint (report.applied, ==, 1);
  client_update (a, "notes", note, "{\"title\":\"A\"}");
  client_update (b, "notes", note, "{\"pinned\":true}");
  client_sync_blocking (a);
  client_sync_blocking (b);
  client_sync_blocking (a);
  assert_string (a, "notes", note, "title", "A");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* ------------------------------------------------------------------ merge */

static void
test_text_merge_lines (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes",
    "{\"title\":\"t\",\"body\":\"one\\ntwo\\nthree\\nfour\\nfive\\n\"}");
  g_autofree char *task = shared_record (a, b, "tasks",
    "{\"title\":\"t\",\"notes\":\"one\\ntwo\\nthree\\n\"}");

  client_update (a, "notes", note, "{\"body\":\"ONE by A\\ntwo\\nthree\\nfour\\nfive\\n\"}");
  client_update (a, "tasks", task, "{\"notes\":\"zero\\none\\ntwo\\nthree\\n\"}");
  later ();
  client_update (b, "notes", note, "{\"body\":\"one\\ntwo\\nthree\\nfour\\nFIVE by B\\n\"}");
  client_update (b, "tasks", task, "{\"notes\":\"one\\ntwo\\nthree\\nfour\\n\"}");
  client_sync (a);
  client_sync (b);
  client_sync (a);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      assert_string (clients[i], "notes", note, "body", "ONE by A\ntwo\nthree\nfour\nFIVE by B\n");
      assert_string (clients[i], "tasks", task, "notes", "zero\none\ntwo\nthree\nfour\n");
    }
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

typedef struct {
  guint       count;
  char       *record_id;
} ConflictSeen;

static void
on_conflict (TetherSyncEngine *engine,
             TetherConflict   *conflict,
             gpointer          data)
{
  ConflictSeen *seen = data;

  g_assert_true (TETHER_IS_CONFLICT (conflict));
  seen->count++;
  g_free (seen->record_id);
  seen->record_id = g_strdup (tether_conflict_get_record_id (conflict));
}

/* Both change the same line: the later hlc wins, the other version is in
 * the conflict log, and restoring it brings it back everywhere. */
static void
test_text_same_line (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(TetherConflict) restored = NULL;
  g_autoptr(GError) error = NULL;
  ConflictSeen seen = { 0, };
  gulong handler;

  client_update (a, "notes", note, "{\"body\":\"one\\ntwo by A\\nthree\\n\"}");
  later ();
  client_update (b, "notes", note, "{\"body\":\"one\\ntwo by B\\nthree\\n\"}");
  client_sync (b);
  handler = g_signal_connect (a->engine, "conflict", G_CALLBACK (on_conflict), &seen);
  client_sync (a);
  g_signal_handler_disconnect (a->engine, handler);

  /* B wrote last: its line wins on A too */
  assert_string (a, "notes", note, "body", "one\ntwo by B\nthree\n");
  g_assert_cmpuint (seen.count, ==, 1);
  g_assert_cmpstr (seen.record_id, ==, note);
  conflict = only_conflict (a);
  g_assert_cmpstr (tether_conflict_get_collection (conflict), ==, "notes");
  g_assert_cmpstr (tether_conflict_get_record_id (conflict), ==, note);
  g_assert_true (tether_conflict_get_status (conflict) == TETHER_CONFLICT_RESOLVED);
  g_assert_true (strv_has (tether_conflict_get_fields (conflict), "body"));
  g_assert_cmpstr (object_string (tether_conflict_get_loser (conflict), "body"), ==, "one\ntwo by A\nthree\n");
  g_assert_cmpstr (object_string (tether_conflict_get_result (conflict), "body"), ==, "one\ntwo by B\nthree\n");
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));

  g_assert_true (tether_sync_engine_restore_conflict (a->engine, tether_conflict_get_id (conflict), &error));
  g_assert_no_error (error);
  assert_string (a, "notes", note, "body", "one\ntwo by A\nthree\n");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);
  restored = tether_sync_engine_get_conflict (a->engine, tether_conflict_get_id (conflict), &error);
  g_assert_no_error (error);
  g_assert_true (tether_conflict_get_status (restored) == TETHER_CONFLICT_RESTORED);
  client_sync (a);
  client_sync (b);
  assert_string (b, "notes", note, "body", "one\ntwo by A\nthree\n");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
  g_free (seen.record_id);
}

/* A title with control characters (pasted text can hold U+001F) goes to
 * the server and to B as it was typed: json-glib 1.6 wrote U+001F raw,
 * which is not JSON, and the push failed at every sync. */
static void
test_control_characters (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"unit\\u001fsep\\u0001\\r\"}");

  client_sync (a);
  client_sync (b);
  assert_string (b, "notes", note, "title", "unit\x1fsep\x01\r");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A merge keeps B's one-sided body edit and loses A's title to B's newer
 * one. Restoring brings A's title back and keeps B's body: only what lost
 * comes back, and what nobody lost stays. */
static void
test_restore_merged (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(GError) error = NULL;

  client_update (a, "notes", note, "{\"title\":\"title from A\"}");
  later ();
  client_update (b, "notes", note, "{\"title\":\"title from B\",\"body\":\"body from B\\n\"}");
  client_sync (b);
  client_sync (a);
  conflict = only_conflict (a);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_REMOTE ||
                 tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_MERGED);
  g_assert_true (strv_has (tether_conflict_get_local_lost (conflict), "title"));
  assert_string (a, "notes", note, "title", "title from B");
  /* an edit after the merge stays too */
  client_update (a, "notes", note, "{\"pinned\":true}");

  g_assert_true (tether_sync_engine_restore_conflict (a->engine, tether_conflict_get_id (conflict), &error));
  g_assert_no_error (error);
  assert_string (a, "notes", note, "title", "title from A");
  assert_string (a, "notes", note, "body", "body from B\n");
  client_sync (a);
  client_sync (b);
  assert_string (b, "notes", note, "title", "title from A");
  assert_string (b, "notes", note, "body", "body from B\n");
  stored = client_get (b, "notes", note);
  g_assert_true (json_object_get_boolean_member (stored, "pinned"));
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A deletes and syncs first; B's offline edit wins and brings it back. */
static void
test_delete_then_edit (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;

  client_delete (a, "notes", note);
  client_sync (a);
  client_update (b, "notes", note, "{\"title\":\"edited on B\"}");
  client_sync (b);
  client_sync (a);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    {
      assert_string (clients[i], "notes", note, "title", "edited on B");
      assert_string (clients[i], "notes", note, "body", "one\ntwo\nthree\n");
    }
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_remote_deleted (conflict));
  g_assert_false (tether_conflict_get_local_deleted (conflict));
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_LOCAL);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A edits and syncs first; B's offline delete loses to it. */
static void
test_edit_then_delete (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;

  client_update (a, "notes", note, "{\"title\":\"edited on A\"}");
  client_sync (a);
  later ();
  client_delete (b, "notes", note);
  client_sync (b);
  client_sync (a);

  for (guint i = 0; i < G_N_ELEMENTS (clients); i++)
    assert_string (clients[i], "notes", note, "title", "edited on A");
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_local_deleted (conflict));
  g_assert_false (tether_conflict_get_remote_deleted (conflict));
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_REMOTE);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

#define SAME_ID "0190a000-0000-7000-8000-000000000001"

static void
test_create_same_id (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(JsonObject) on_a = NULL;

  g_free (client_create (a, "notes", "{\"id\":\"" SAME_ID "\",\"title\":\"from A\",\"body\":\"same\\n\",\"tags\":[\"a\"]}"));
  later ();
  g_free (client_create (b, "notes", "{\"id\":\"" SAME_ID "\",\"title\":\"from B\",\"body\":\"same\\n\",\"pinned\":true}"));
  client_sync (a);
  client_sync (b);
  client_sync (a);

  /* no base: each differing field by hlc, and B wrote last */
  on_a = client_get (a, "notes", SAME_ID);
  g_assert_cmpstr (object_string (on_a, "title"), ==, "from B");
  g_assert_true (json_object_get_boolean_member (on_a, "pinned"));
  g_assert_cmpstr (object_string (on_a, "body"), ==, "same\n");
  conflict = only_conflict (b);
  g_assert_cmpstr (object_string (tether_conflict_get_remote (conflict), "title"), ==, "from A");
  g_assert_cmpstr (object_string (tether_conflict_get_local (conflict), "title"), ==, "from B");
  g_assert_null (tether_conflict_get_base (conflict));
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* ------------------------------------------------------------- strategies */

#define A_BODY "one\ntwo\nthree\nfour by A\n"

/* B changes the title, then A (later) changes title and body and syncs
 * first; B then syncs under @strategy. */
static void
strategy_setup (Fixture                 *f,
                TetherConflictStrategy   strategy,
                Client                 **a_out,
                Client                 **b_out,
                char                   **note_out)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  char *note = shared_record (a, b, "notes", NOTE_BASE);

  client_update (b, "notes", note, "{\"title\":\"title from B\"}");
  later ();
  client_update (a, "notes", note, "{\"title\":\"title from A\",\"body\":\"" "one\\ntwo\\nthree\\nfour by A\\n" "\"}");
  client_sync (a);
  tether_sync_engine_set_strategy (b->engine, strategy);
  g_assert_true (tether_sync_engine_get_strategy (b->engine) == strategy);
  *a_out = a;
  *b_out = b;
  *note_out = note;
}

static void
strategy_finish (Fixture *f,
                 Client  *a,
                 Client  *b)
{
  Client *clients[] = { a, b };

  client_sync (b);
  client_sync (a);
  assert_converged (f, a->s, f->alice, clients, G_N_ELEMENTS (clients));
}

static void
test_strategy_lww (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) conflict = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_LWW, &a, &b, &note);
  client_sync (b);
  /* A wrote last: its whole record wins, B's title is the loser */
  assert_string (b, "notes", note, "title", "title from A");
  assert_string (b, "notes", note, "body", A_BODY);
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_strategy (conflict) == TETHER_CONFLICT_STRATEGY_LWW);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_REMOTE);
  g_assert_cmpstr (object_string (tether_conflict_get_loser (conflict), "title"), ==, "title from B");
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from A");
}

static void
type_title (Client   *c,
            gpointer  data)
{
  later ();
  client_update (c, "notes", data, "{\"title\":\"typed while A synced\"}");
}

/* A's title edit goes out and meets B's newer one; meanwhile A types a
 * title newer than B's. Under lww that newest edit wins: the conflict
 * judges the record as it is now by its newest entry, not by the older
 * one that was sent. */
static void
test_strategy_lww_typing (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;

  client_update (a, "notes", note, "{\"title\":\"first try by A\"}");
  later ();
  client_update (b, "notes", note, "{\"title\":\"title from B\"}");
  client_sync (b);
  tether_sync_engine_set_strategy (a->engine, TETHER_CONFLICT_STRATEGY_LWW);
  client_sync_writing (a, type_title, note);
  assert_string (a, "notes", note, "title", "typed while A synced");
  conflict = only_conflict (a);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_LOCAL);
  g_assert_cmpstr (object_string (tether_conflict_get_loser (conflict), "title"), ==, "title from B");
  client_sync (a);
  client_sync (b);
  assert_string (b, "notes", note, "title", "typed while A synced");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

static void
test_strategy_client_wins (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) conflict = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_CLIENT_WINS, &a, &b, &note);
  client_sync (b);
  assert_string (b, "notes", note, "title", "title from B");
  assert_string (b, "notes", note, "body", "one\ntwo\nthree\n");
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_LOCAL);
  g_assert_cmpstr (object_string (tether_conflict_get_loser (conflict), "title"), ==, "title from A");
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from B");
  assert_string (a, "notes", note, "body", "one\ntwo\nthree\n");
}

static void
test_strategy_server_wins (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) conflict = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_SERVER_WINS, &a, &b, &note);
  client_sync (b);
  assert_string (b, "notes", note, "title", "title from A");
  assert_string (b, "notes", note, "body", A_BODY);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (b->engine), ==, 0);
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_REMOTE);
  g_assert_cmpstr (object_string (tether_conflict_get_loser (conflict), "title"), ==, "title from B");
  strategy_finish (f, a, b);
}

/* Switched away from manual while a conflict is open: the next version
 * decides it by the new strategy, without the old merge's field lists. */
static void
test_strategy_manual_switched (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) decided = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  g_object_unref (only_conflict (b));
  tether_sync_engine_set_strategy (b->engine, TETHER_CONFLICT_STRATEGY_SERVER_WINS);
  client_update (a, "notes", note, "{\"pinned\":true}");
  client_sync (a);
  client_sync (b);
  decided = only_conflict (b);
  g_assert_true (tether_conflict_get_status (decided) == TETHER_CONFLICT_RESOLVED);
  g_assert_true (tether_conflict_get_winner (decided) == TETHER_CONFLICT_WINNER_REMOTE);
  g_assert_cmpuint (g_strv_length ((GStrv) tether_conflict_get_fields (decided)), ==, 0);
  g_assert_cmpuint (g_strv_length ((GStrv) tether_conflict_get_local_lost (decided)), ==, 0);
  assert_string (b, "notes", note, "title", "title from A");
  strategy_finish (f, a, b);
}

/* The note is edited here while its conflict waits: a choice made from
 * the conflict as first shown would write the older local side over the
 * edit, so it is refused and the conflict shows the edit from then on. */
static void
test_strategy_manual_edited (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) shown = NULL;
  g_autoptr(TetherConflict) now = NULL;
  g_autoptr(GError) error = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  shown = only_conflict (b);
  later ();
  client_update (b, "notes", note, "{\"title\":\"title from B, edited\"}");

  g_assert_false (tether_sync_engine_resolve_conflict (b->engine, shown, tether_conflict_get_local (shown),
                                                       &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED);
  g_assert_nonnull (strstr (error->message, "edited since"));
  g_clear_error (&error);
  assert_string (b, "notes", note, "title", "title from B, edited");
  now = only_conflict (b);
  g_assert_true (tether_conflict_get_status (now) == TETHER_CONFLICT_OPEN);
  g_assert_cmpstr (object_string (tether_conflict_get_local (now), "title"), ==, "title from B, edited");
  g_assert_cmpstr (tether_conflict_get_local_hlc (now), !=, tether_conflict_get_local_hlc (shown));

  g_assert_true (tether_sync_engine_resolve_conflict (b->engine, now, tether_conflict_get_local (now), &error));
  g_assert_no_error (error);
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from B, edited");
}

/* The strategy is the database's: another engine on the file (the CLI
 * beside the app) keeps the conflicts the app keeps for the user. */
static void
test_strategy_stored (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = NULL;
  g_autoptr(TetherSyncEngine) other = NULL;
  g_autoptr(TetherConflict) conflict = NULL;
  TetherSyncReport report = { 0 };

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  g_object_unref (only_conflict (b));

  db = tether_database_open (b->path, NULL, &error);
  g_assert_no_error (error);
  other = tether_sync_engine_new (db, &error);
  g_assert_no_error (error);
  g_assert_true (tether_sync_engine_get_strategy (other) == TETHER_CONFLICT_STRATEGY_MANUAL);
  tether_sync_engine_set_transport (other, tether_sync_engine_get_transport (b->engine));
  tether_sync_engine_sync (other, &report, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (report.conflicts, ==, 0);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (other), ==, 1);
  g_clear_object (&other);
  g_clear_object (&db);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (b->engine), ==, 1);
  /* the app's user decides it */
  conflict = only_conflict (b);
  g_assert_true (tether_sync_engine_resolve_conflict (b->engine, conflict, tether_conflict_get_remote (conflict),
                                                      &error));
  g_assert_no_error (error);
  strategy_finish (f, a, b);
}

/* Switched away from manual, the open conflict is decided by the new
 * strategy at the next sync, with no new server version needed: the held
 * local edit is pushed instead of waiting. */
static void
test_strategy_manual_left (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) decided = NULL;
  TetherSyncReport report;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  g_object_unref (only_conflict (b));
  client_sync (b);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (b->engine), ==, 1);

  tether_sync_engine_set_strategy (b->engine, TETHER_CONFLICT_STRATEGY_CLIENT_WINS);
  report = client_sync (b);
  g_assert_cmpuint (report.conflicts, ==, 1);
  g_assert_cmpuint (report.accepted, ==, 1);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (b->engine), ==, 0);
  decided = only_conflict (b);
  g_assert_true (tether_conflict_get_status (decided) == TETHER_CONFLICT_RESOLVED);
  g_assert_true (tether_conflict_get_winner (decided) == TETHER_CONFLICT_WINNER_LOCAL);
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from B");
}

/* Another process reads the conflict log: a handler of "conflict" must
 * find the conflict already committed there. */
typedef struct {
  Client *client;
  guint   seen;
} Watch;

static void
count_committed (TetherSyncEngine *engine,
                 TetherConflict   *conflict,
                 gpointer          data)
{
  Watch *watch = data;
  Client *c = watch->client;
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM _tether_conflicts WHERE id = '%s'",
                                          tether_conflict_get_id (conflict));
  sqlite3 *other = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (c->path, &other, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (other, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 1);
  sqlite3_finalize (stmt);
  sqlite3_close (other);
  watch->seen++;
}

static void
test_conflict_signal_after_commit (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  Watch watch = { NULL, 0 };

  g_autoptr(GPtrArray) logged = NULL;
  g_autoptr(GError) error = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_LWW, &a, &b, &note);
  watch.client = b;
  g_signal_connect (b->engine, "conflict", G_CALLBACK (count_committed), &watch);

  /* inside a caller's transaction: nothing is announced until it commits,
   * and nothing at all when it rolls back */
  g_assert_true (tether_database_begin (b->db, &error));
  g_assert_no_error (error);
  client_sync (b);
  g_assert_cmpuint (watch.seen, ==, 0);
  tether_database_rollback (b->db);
  g_assert_cmpuint (watch.seen, ==, 0);
  logged = client_conflicts (b, FALSE);
  g_assert_cmpuint (logged->len, ==, 0);

  client_sync (b);
  g_assert_cmpuint (watch.seen, ==, 1);
  g_signal_handlers_disconnect_by_func (b->engine, count_committed, &watch);
  strategy_finish (f, a, b);
}

static JsonObject *
join_titles (TetherConflict *conflict,
             gpointer        data)
{
  guint *calls = data;
  JsonObject *local = tether_conflict_get_local (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);
  g_autofree char *remote_text = canonical_object (remote);
  g_autofree char *title = NULL;
  JsonObject *result;

  (*calls)++;
  g_assert_nonnull (local);
  g_assert_nonnull (remote);
  g_assert_cmpstr (object_string (tether_conflict_get_base (conflict), "title"), ==, "base");
  title = g_strdup_printf ("%s + %s", object_string (local, "title"), object_string (remote, "title"));
  result = tether_test_object (remote_text);
  json_object_set_string_member (result, "title", title);
  return result;
}

static void
test_strategy_custom (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  guint calls = 0;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_CUSTOM, &a, &b, &note);
  tether_sync_engine_set_resolver (b->engine, join_titles, &calls, NULL);
  client_sync (b);
  g_assert_cmpuint (calls, ==, 1);
  assert_string (b, "notes", note, "title", "title from B + title from A");
  assert_string (b, "notes", note, "body", A_BODY);
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from B + title from A");
}

static void
test_strategy_manual (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autofree char *server = NULL;
  g_autoptr(GPtrArray) open = NULL;
  g_autoptr(TetherConflict) decided = NULL;
  g_autoptr(JsonObject) chosen = NULL;
  g_autoptr(GError) error = NULL;
  TetherConflict *conflict;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  /* kept for the user: local stays, nothing pushed */
  assert_string (b, "notes", note, "title", "title from B");
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (b->engine), ==, 1);
  open = client_conflicts (b, TRUE);
  g_assert_cmpuint (open->len, ==, 1);
  conflict = open->pdata[0];
  g_assert_true (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN);
  g_assert_true (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_NONE);
  g_assert_cmpstr (object_string (tether_conflict_get_remote (conflict), "title"), ==, "title from A");
  client_sync (b);
  server = server_dump (f, b->s, f->alice, NULL);
  g_assert_nonnull (strstr (server, "title from A"));
  g_assert_null (strstr (server, "title from B"));

  chosen = client_get (b, "notes", note);
  json_object_set_string_member (chosen, "title", "chosen by hand");
  g_assert_true (tether_sync_engine_resolve_conflict (b->engine, conflict, chosen, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (b->engine), ==, 0);
  decided = tether_sync_engine_get_conflict (b->engine, tether_conflict_get_id (conflict), &error);
  g_assert_no_error (error);
  g_assert_true (tether_conflict_get_status (decided) == TETHER_CONFLICT_RESOLVED);
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "chosen by hand");
}

/* A choice taken field by field (B's title, A's body) is restored field
 * by field: each side's losing value comes back, and a field edited since
 * stays. Restoring it a second time is refused: it would write back what
 * the first restore replaced. */
static void
test_strategy_manual_restore_fields (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(GPtrArray) open = NULL;
  g_autoptr(JsonObject) chosen = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(GError) error = NULL;
  TetherConflict *conflict;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  open = client_conflicts (b, TRUE);
  g_assert_cmpuint (open->len, ==, 1);
  conflict = open->pdata[0];
  chosen = client_get (b, "notes", note);
  json_object_set_string_member (chosen, "body", A_BODY);
  g_assert_true (tether_sync_engine_resolve_conflict (b->engine, conflict, chosen, &error));
  g_assert_no_error (error);
  assert_string (b, "notes", note, "title", "title from B");
  assert_string (b, "notes", note, "body", A_BODY);
  client_update (b, "notes", note, "{\"pinned\":true}");

  g_assert_true (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (conflict), &error));
  g_assert_no_error (error);
  assert_string (b, "notes", note, "title", "title from A");
  assert_string (b, "notes", note, "body", "one\ntwo\nthree\n");
  stored = client_get (b, "notes", note);
  g_assert_true (json_object_get_boolean_member (stored, "pinned"));

  g_assert_false (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (conflict), &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "already restored"));
  assert_string (b, "notes", note, "title", "title from A");
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "title", "title from A");
  assert_string (a, "notes", note, "body", "one\ntwo\nthree\n");
}

/* The entry of @c's log for @note that a restore made at @at: the
 * version it replaced. */
static TetherConflict *
replaced_entry (Client     *c,
                const char *note,
                gint64      at)
{
  g_autoptr(GPtrArray) all = client_conflicts (c, FALSE);

  for (guint i = 0; i < all->len; i++)
    if (g_str_equal (tether_conflict_get_record_id (all->pdata[i]), note) &&
        tether_conflict_get_created (all->pdata[i]) == at &&
        tether_conflict_get_status (all->pdata[i]) == TETHER_CONFLICT_RESOLVED)
      return g_object_ref (all->pdata[i]);
  return NULL;
}

/* Restoring B's losing title writes B's whole version over the note, and
 * B edited the body since: that version is kept as an entry of its own,
 * decided, and restoring it (the undo) brings the edits back. */
static void
test_restore_keeps_replaced (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(TetherConflict) restored = NULL;
  g_autoptr(TetherConflict) replaced = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(GError) error = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_LWW, &a, &b, &note);
  client_sync (b);
  conflict = only_conflict (b);
  client_update (b, "notes", note, "{\"body\":\"edited on B since\\n\",\"pinned\":true}");

  g_assert_true (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (conflict), &error));
  g_assert_no_error (error);
  assert_string (b, "notes", note, "title", "title from B");
  assert_string (b, "notes", note, "body", "one\ntwo\nthree\n");
  restored = tether_sync_engine_get_conflict (b->engine, tether_conflict_get_id (conflict), &error);
  g_assert_no_error (error);
  g_assert_true (tether_conflict_get_status (restored) == TETHER_CONFLICT_RESTORED);
  replaced = replaced_entry (b, note, tether_conflict_get_resolved (restored));
  g_assert_nonnull (replaced);
  g_assert_cmpstr (object_string (tether_conflict_get_loser (replaced), "body"), ==, "edited on B since\n");
  g_assert_cmpstr (object_string (tether_conflict_get_result (replaced), "title"), ==, "title from B");

  /* The undo: the version before the restore comes back, whole. */
  g_assert_true (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (replaced), &error));
  g_assert_no_error (error);
  assert_string (b, "notes", note, "title", "title from A");
  assert_string (b, "notes", note, "body", "edited on B since\n");
  stored = client_get (b, "notes", note);
  g_assert_true (json_object_get_boolean_member (stored, "pinned"));
  strategy_finish (f, a, b);
  assert_string (a, "notes", note, "body", "edited on B since\n");
}

/* B's delete lost to A's edit; restoring it deletes the note again. The
 * note as it was is kept, and restoring that brings it back. */
static void
test_restore_delete_keeps_replaced (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(TetherConflict) restored = NULL;
  g_autoptr(TetherConflict) replaced = NULL;
  g_autoptr(GError) error = NULL;

  client_update (a, "notes", note, "{\"title\":\"edited on A\"}");
  client_sync (a);
  later ();
  client_delete (b, "notes", note);
  client_sync (b);
  conflict = only_conflict (b);
  g_assert_true (tether_conflict_get_local_deleted (conflict));

  g_assert_true (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (conflict), &error));
  g_assert_no_error (error);
  assert_absent (b, "notes", note);
  restored = tether_sync_engine_get_conflict (b->engine, tether_conflict_get_id (conflict), &error);
  g_assert_no_error (error);
  replaced = replaced_entry (b, note, tether_conflict_get_resolved (restored));
  g_assert_nonnull (replaced);
  g_assert_null (tether_conflict_get_result (replaced));
  g_assert_cmpstr (object_string (tether_conflict_get_loser (replaced), "title"), ==, "edited on A");

  g_assert_true (tether_sync_engine_restore_conflict (b->engine, tether_conflict_get_id (replaced), &error));
  g_assert_no_error (error);
  assert_string (b, "notes", note, "title", "edited on A");
  client_sync (b);
  client_sync (a);
  assert_string (a, "notes", note, "title", "edited on A");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The server's copy moves on while a conflict waits for the user: the
 * one conflict follows it, on the base the local edits were made on, so
 * a field only the server changed is neither reverted nor a second
 * conflict. */
static void
test_strategy_manual_moves (Fixture *f)
{
  Client *a, *b;
  g_autofree char *note = NULL;
  g_autoptr(TetherConflict) first = NULL;
  g_autoptr(TetherConflict) moved = NULL;
  g_autoptr(TetherConflict) again = NULL;
  g_autoptr(JsonObject) chosen = NULL;
  g_autofree char *remote_text = NULL;
  g_autoptr(JsonObject) on_a = NULL;
  g_autoptr(GError) error = NULL;

  strategy_setup (f, TETHER_CONFLICT_STRATEGY_MANUAL, &a, &b, &note);
  client_sync (b);
  first = only_conflict (b);

  client_update (a, "notes", note, "{\"pinned\":true}");
  client_sync (a);
  client_sync (b);
  moved = only_conflict (b);
  g_assert_cmpstr (tether_conflict_get_id (moved), ==, tether_conflict_get_id (first));
  g_assert_cmpint (tether_conflict_get_remote_rev (moved), >, tether_conflict_get_remote_rev (first));
  g_assert_true (json_object_get_boolean_member (tether_conflict_get_remote (moved), "pinned"));
  g_assert_cmpstr (object_string (tether_conflict_get_base (moved), "title"), ==, "base");
  assert_string (b, "notes", note, "title", "title from B");

  later ();
  client_update (a, "notes", note, "{\"title\":\"title from A again\"}");
  client_sync (a);
  client_sync (b);
  again = only_conflict (b);
  g_assert_cmpstr (tether_conflict_get_id (again), ==, tether_conflict_get_id (first));
  g_assert_cmpstr (object_string (tether_conflict_get_remote (again), "title"), ==, "title from A again");
  g_assert_cmpstr (object_string (tether_conflict_get_base (again), "title"), ==, "base");
  g_assert_cmpstr (object_string (tether_conflict_get_local (again), "title"), ==, "title from B");
  g_assert_true (tether_conflict_get_status (again) == TETHER_CONFLICT_OPEN);

  /* a new object: the conflict's own are not the caller's to change */
  remote_text = canonical_object (tether_conflict_get_remote (again));
  chosen = tether_test_object (remote_text);
  json_object_set_string_member (chosen, "title", "chosen by hand");
  /* A choice made from the first server version it showed is refused:
   * it would overwrite "title from A again" unseen. Nothing is written. */
  g_assert_false (tether_sync_engine_resolve_conflict (b->engine, first, chosen, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED);
  g_assert_nonnull (strstr (error->message, tether_conflict_get_id (again)));
  g_clear_error (&error);
  g_object_unref (only_conflict (b));
  assert_string (b, "notes", note, "title", "title from B");
  g_assert_true (tether_sync_engine_resolve_conflict (b->engine, again, chosen, &error));
  g_assert_no_error (error);
  strategy_finish (f, a, b);
  on_a = client_get (a, "notes", note);
  g_assert_cmpstr (object_string (on_a, "title"), ==, "chosen by hand");
  g_assert_cmpstr (object_string (on_a, "body"), ==, A_BODY);
  g_assert_true (json_object_get_boolean_member (on_a, "pinned"));
  g_object_unref (only_conflict (b));
}

/* ----------------------------------------------------------------- errors */

static void
short_titles (JsonObject *schema)
{
  JsonObject *collections = json_object_get_object_member (schema, "collections");
  JsonObject *notes = json_object_get_object_member (collections, "notes");
  JsonObject *title = json_object_get_object_member (json_object_get_object_member (notes, "fields"), "title");

  json_object_set_int_member (title, "maxLength", 10);
}

typedef struct {
  guint pending;
  guint failed;
  guint last_sync;
  guint conflict_count;
  guint queue;
  GArray *states;
} Notes;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    data)
{
  Notes *notes = data;
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "pending-count"))
    notes->pending++;
  else if (g_str_equal (name, "failed-count"))
    notes->failed++;
  else if (g_str_equal (name, "last-sync-at"))
    notes->last_sync++;
  else if (g_str_equal (name, "conflict-count"))
    notes->conflict_count++;
  else if (g_str_equal (name, "state"))
    {
      TetherSyncState state = tether_sync_engine_get_state (TETHER_SYNC_ENGINE (object));

      g_array_append_val (notes->states, state);
    }
}

static void
on_queue_changed (TetherSyncEngine *engine,
                  gpointer          data)
{
  ((Notes *) data)->queue++;
}

static void
notes_free (Notes *notes)
{
  g_array_unref (notes->states);
  g_free (notes);
}

/* Counts notifications until the test ends. */
static Notes *
notes_watch (Client *c)
{
  Notes *notes = g_new0 (Notes, 1);

  notes->states = g_array_new (FALSE, FALSE, sizeof (TetherSyncState));
  g_signal_connect (c->engine, "notify", G_CALLBACK (on_notify), notes);
  g_signal_connect (c->engine, "queue-changed", G_CALLBACK (on_queue_changed), notes);
  return notes;
}

static void
notes_unwatch (Client *c,
               Notes  *notes)
{
  g_signal_handlers_disconnect_by_data (c->engine, notes);
  notes_free (notes);
}

static gboolean
states_contain (Notes           *notes,
                TetherSyncState  state)
{
  for (guint i = 0; i < notes->states->len; i++)
    if (g_array_index (notes->states, TetherSyncState, i) == state)
      return TRUE;
  return FALSE;
}

/* The server refuses a record its schema forbids: that change fails with
 * the server's message, later ones still sync, and retry pushes it once
 * the server accepts it. */
static void
test_rejected_change (Fixture *f)
{
  g_autofree char *schema = schema_file_new (f->dir, short_titles);
  const char *extra[] = { "--schema", schema, NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autofree char *long_note = client_create (a, "notes", "{\"title\":\"a title far too long\"}");
  g_autofree char *short_note = client_create (a, "notes", "{\"title\":\"short\"}");
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *server = NULL;
  TetherSyncChange *change;
  TetherSyncReport report;
  Notes *notes = notes_watch (a);

  server_pin_port (s);
  report = client_sync (a);
  g_assert_cmpuint (report.rejected, ==, 1);
  g_assert_cmpuint (report.accepted, ==, 1);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (a->engine), ==, 1);
  g_assert_cmpuint (notes->failed, >=, 1);
  failed = client_changes (a, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  change = failed->pdata[0];
  g_assert_cmpstr (tether_sync_change_get_record_id (change), ==, long_note);
  g_assert_nonnull (tether_sync_change_get_error (change));
  g_test_message ("the server said: %s", tether_sync_change_get_error (change));
  g_assert_nonnull (strstr (tether_sync_change_get_error (change), "title"));

  /* later writes are not blocked by it */
  client_update (a, "notes", short_note, "{\"pinned\":true}");
  report = client_sync (a);
  g_assert_cmpuint (report.accepted, ==, 1);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (a->engine), ==, 1);
  server = server_dump (f, s, f->alice, NULL);
  g_assert_null (strstr (server, long_note));

  /* the server relaxes its schema; retrying pushes it */
  server_set_extra (s, NULL);
  server_restart (f, s);
  g_assert_cmpint (tether_sync_engine_retry_failed (a->engine, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (a->engine), ==, 0);
  report = client_sync (a);
  g_assert_cmpuint (report.accepted, ==, 1);
  g_assert_cmpuint (count_changes (a, -1), ==, 0);
  assert_converged (f, s, f->alice, clients, 1);
  notes_unwatch (a, notes);
}

typedef struct {
  Client *c;
  guint   calls;
  guint   bumps_left;
} Mover;

/* Another device pushes one change straight to the server, the way any
 * client may word it (blocking is fine here, the server is another
 * process). */
static void
push_from_elsewhere (Client     *c,
                     const char *collection,
                     const char *type,
                     const char *record_id,
                     const char *data,
                     gint64      rev)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree char *change_id = g_uuid_string_random ();
  g_autofree char *key = g_strdup_printf ("\"%s\"", record_id);
  g_autofree char *body = push_body (NULL, change_new (change_id, collection, key, type, data, rev, NULL), NULL);
  g_autofree char *url = g_strconcat (c->url, "/push", NULL);
  g_autofree char *authorization = bearer (c->token);
  g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr(GBytes) request = g_bytes_new (body, strlen (body));
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) response = NULL;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", authorization);
  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  answer = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  response = tether_test_object (g_bytes_get_data (answer, NULL));
  assert_counts (response, 1, 0, 0);
}

/* The hlc the server's feed holds for @record_id. */
static char *
server_hlc (Client     *c,
            const char *record_id)
{
  g_autoptr(JsonArray) changes = pull_all (c->f, c->s, c->token, NULL, NULL);

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      JsonNode *id = json_object_get_member (change, "recordId");

      if (JSON_NODE_HOLDS_VALUE (id) && g_strcmp0 (json_node_get_string (id), record_id) == 0)
        return g_strdup (json_object_get_string_member (change, "hlc"));
    }
  g_error ("%s is not in the server's feed", record_id);
}

/* A device whose clock runs 30 minutes fast (within the server's clamp)
 * changes the title; A's body edit meets it as a push conflict, and the
 * merge A pushes back is stamped after the fast device's edit: the clock
 * moves past the hlcs of push answers too, not only of pulls. */
static void
test_hlc_from_push_answer (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *note = client_create (a, "notes", NOTE_BASE);
  g_autofree char *change_id = g_uuid_string_random ();
  g_autofree char *ahead = g_strdup_printf ("%013" G_GINT64_FORMAT "-0000-fastdevice",
                                            g_get_real_time () / 1000 + 30 * 60 * 1000);
  g_autofree char *key = g_strdup_printf ("\"%s\"", note);
  g_autofree char *data = g_strdup_printf ("{\"id\":\"%s\",\"title\":\"fast title\",\"body\":\"one\\ntwo\\nthree\\n\"}", note);
  g_autofree char *extra = g_strdup_printf ("\"hlc\":\"%s\"", ahead);
  g_autoptr(JsonObject) answer = NULL;
  g_autofree char *merged_hlc = NULL;
  gint64 rev = 0;

  client_sync (a);
  g_free (server_dump (f, s, f->alice, &rev));
  answer = push (f, s, f->alice, NULL, change_new (change_id, "notes", key, "update", data, rev, extra), NULL);
  assert_counts (answer, 1, 0, 0);
  client_update (a, "notes", note, "{\"body\":\"one\\ntwo\\nthree by A\\n\"}");
  client_sync (a);
  assert_string (a, "notes", note, "title", "fast title");
  assert_string (a, "notes", note, "body", "one\ntwo\nthree by A\n");
  merged_hlc = server_hlc (a, note);
  g_test_message ("fast device %s, merge pushed back %s", ahead, merged_hlc);
  g_assert_cmpint (tether_hlc_compare (merged_hlc, ahead), >, 0);
}

/* Another device writes @record_id on the server right now, on top of @rev. */
static void
bump_on_server (Client     *c,
                const char *record_id,
                gint64      rev,
                guint       n)
{
  g_autofree char *data = g_strdup_printf ("{\"id\":\"%s\",\"title\":\"moved %u\"}", record_id, n);

  push_from_elsewhere (c, "notes", "update", record_id, data, rev);
}

/* custom: keep ours, while the record moves on the server each time */
static JsonObject *
keep_local_while_moving (TetherConflict *conflict,
                         gpointer        data)
{
  Mover *mover = data;
  g_autofree char *local = canonical_object (tether_conflict_get_local (conflict));

  mover->calls++;
  if (mover->bumps_left > 0)
    {
      mover->bumps_left--;
      bump_on_server (mover->c, tether_conflict_get_record_id (conflict),
                      tether_conflict_get_remote_rev (conflict), mover->calls);
    }
  return tether_test_object (local);
}

/* A record that changes on the server again before each resolution lands:
 * after max-retries attempts the change is failed (kept, visible), later
 * changes still sync, and retry-failed pushes it once things are quiet. */
static void
test_max_retries (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autofree char *other = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dump = NULL;
  Mover mover = { b, 0, 20 };
  gint64 rev = 0;

  tether_sync_engine_set_max_retries (b->engine, 3);
  tether_sync_engine_set_strategy (b->engine, TETHER_CONFLICT_STRATEGY_CUSTOM);
  tether_sync_engine_set_resolver (b->engine, keep_local_while_moving, &mover, NULL);
  client_update (b, "notes", note, "{\"title\":\"B insists\"}");
  other = client_create (b, "notes", "{\"title\":\"unrelated\"}");
  dump = server_dump (f, s, f->alice, &rev);
  bump_on_server (b, note, rev, 0);

  client_try_sync (b, NULL, &error);
  g_test_message ("resolver called %u times; sync: %s", mover.calls, error ? error->message : "ok");
  g_assert_no_error (error);
  g_assert_cmpuint (mover.calls, <=, 4);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (b->engine), ==, 1);
  failed = client_changes (b, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (tether_sync_change_get_record_id (failed->pdata[0]), ==, note);
  g_assert_cmpuint (tether_sync_change_get_retries (failed->pdata[0]), >=, 3);
  g_assert_nonnull (tether_sync_change_get_error (failed->pdata[0]));
  g_assert_true (server_has (b, other));
  assert_string (b, "notes", note, "title", "B insists");

  mover.bumps_left = 0;
  g_assert_cmpint (tether_sync_engine_retry_failed (b->engine, &error), ==, 1);
  g_assert_no_error (error);
  client_sync (b);
  client_sync (a);
  assert_string (a, "notes", note, "title", "B insists");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

static char *
big_note (guint size)
{
  g_autofree char *body = g_strnfill (size, 'x');

  return g_strdup_printf ("{\"title\":\"big\",\"body\":\"%s\"}", body);
}

/* Changes that each fit the server's body limit but not together: a
 * refused batch is split, and everything arrives. */
static void
test_too_large_batch (Fixture *f)
{
  const char *extra[] = { "--max-body", "8192", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autofree char *json = big_note (5000);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 3; i++)
    g_free (client_create (a, "notes", json));
  for (guint attempt = 0; attempt < 3 && !client_try_sync (a, NULL, &error); attempt++)
    {
      g_test_message ("attempt %u: %s", attempt, error->message);
      g_clear_error (&error);
    }
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (a->engine), ==, 0);
  assert_converged (f, s, f->alice, clients, 1);
}

/* A change the server can never take (over its body limit on its own) is
 * failed with the server's message instead of blocking every later one. */
static void
test_too_large_change (Fixture *f)
{
  const char *extra[] = { "--max-body", "8192", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *json = big_note (10000);
  g_autofree char *big = client_create (a, "notes", json);
  g_autofree char *small = client_create (a, "notes", "{\"title\":\"small\"}");
  g_autoptr(GPtrArray) failed = NULL;
  guint attempts = 0;

  tether_sync_engine_set_max_retries (a->engine, 2);
  while (!server_has (a, small))
    {
      g_autoptr(GError) error = NULL;

      if (attempts++ >= 5)
        g_error ("after %u syncs the small note is still not on the server: the big one blocks it "
                 "(failed-count %u)", attempts - 1, tether_sync_engine_get_failed_count (a->engine));
      if (!client_try_sync (a, NULL, &error))
        g_test_message ("attempt %u: %s", attempts, error->message);
    }
  failed = client_changes (a, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (tether_sync_change_get_record_id (failed->pdata[0]), ==, big);
  g_assert_nonnull (tether_sync_change_get_error (failed->pdata[0]));
  g_assert_false (server_has (a, big));
}

static void
notes_take_any_field (JsonObject *schema)
{
  JsonObject *notes = json_object_get_object_member (json_object_get_object_member (schema, "collections"),
                                                     "notes");

  json_object_set_boolean_member (notes, "additionalFields", TRUE);
  json_object_set_int_member (schema, "version", 2);
}

/* A note with a member nested @depth arrays deep. */
static char *
deep_note (guint depth)
{
  g_autofree char *open = g_strnfill (depth, '[');
  g_autofree char *close = g_strnfill (depth, ']');

  return g_strdup_printf ("{\"title\":\"deep\",\"extra\":%s%s}", open, close);
}

/* A note nested deeper than the server reads makes its whole push a 400
 * (too-deep): the batch is halved down to that change, which fails with
 * the server's words; the changes around it reach the server, and the
 * pull still brings the other device's notes. */
static void
test_too_deep_change (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  g_autofree char *json = deep_note (64);
  g_autofree char *from_b = client_create (b, "notes", "{\"title\":\"from b\"}");
  g_autofree char *before = NULL;
  g_autofree char *deep = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(JsonObject) pulled = NULL;
  g_autofree char *schema_path = schema_file_new (f->dir, notes_take_any_field);
  g_autoptr(TetherSchema) schema = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  schema = tether_schema_new_from_file (schema_path, &error);
  g_assert_no_error (error);
  client_reopen_schema (a, schema);
  client_sync (b);
  before = client_create (a, "notes", "{\"title\":\"before the deep one\"}");
  deep = client_create_unchecked (a, "notes", json);
  after = client_create (a, "notes", "{\"title\":\"after the deep one\"}");
  report = client_sync (a);
  g_assert_cmpuint (report.rejected, ==, 1);
  failed = client_changes (a, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (tether_sync_change_get_record_id (failed->pdata[0]), ==, deep);
  g_assert_nonnull (strstr (tether_sync_change_get_error (failed->pdata[0]), "deep"));
  g_assert_true (server_has (a, before));
  g_assert_true (server_has (a, after));
  g_assert_false (server_has (a, deep));
  pulled = client_get (a, "notes", from_b);
  g_assert_nonnull (pulled);
  /* the next sync does not send it again */
  report = client_sync (a);
  g_assert_cmpuint (report.pushed, ==, 0);
}

/* Over WebSocket the push is parsed before it is framed, and a record
 * nested past what the client parses (256 levels) cannot be: that change
 * fails like one the server refuses, and the sync goes on. */
static void
test_too_deep_websocket (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_WS, 0);
  g_autofree char *json = deep_note (300);
  g_autofree char *schema_path = schema_file_new (f->dir, notes_take_any_field);
  g_autoptr(TetherSchema) schema = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autofree char *deep = NULL;
  g_autofree char *plain = NULL;
  TetherSyncReport report;

  schema = tether_schema_new_from_file (schema_path, &error);
  g_assert_no_error (error);
  client_reopen_schema (a, schema);
  deep = client_create_unchecked (a, "notes", json);
  plain = client_create (a, "notes", "{\"title\":\"plain\"}");
  report = client_sync (a);
  g_assert_cmpuint (report.rejected, ==, 1);
  failed = client_changes (a, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (tether_sync_change_get_record_id (failed->pdata[0]), ==, deep);
  g_test_message ("%s", tether_sync_change_get_error (failed->pdata[0]));
  g_assert_true (server_has (a, plain));
}

static gboolean
server_has (Client     *c,
            const char *text)
{
  g_autofree char *dump = server_dump (c->f, c->s, c->token, NULL);

  return strstr (dump, text) != NULL;
}

/* Sync with every response lost until the server holds @text (the push
 * went through, the client never heard), then sync cleanly. */
static void
sync_losing_answers (Client     *a,
                     const char *text)
{
  guint attempts = 0;

  client_set_faults (a, 0, 1, 0, 0);
  while (!server_has (a, text))
    {
      g_autoptr(GError) error = NULL;

      g_assert_cmpuint (attempts++, <, 5);
      g_assert_false (client_try_sync (a, NULL, &error));
      g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
    }
  g_assert_cmpuint (tether_faulty_transport_get_lost (a->faulty), >=, 1);
  client_set_faults (a, 0, 0, 0, 0);
  client_sync (a);
}

/* The data of @c's shadow copy of note @id, read from its file. */
static char *
shadow_data (Client     *c,
             const char *id)
{
  sqlite3 *other = NULL;
  sqlite3_stmt *stmt = NULL;
  char *data;

  g_assert_cmpint (sqlite3_open_v2 (c->path, &other, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (other, "SELECT data FROM _tether_shadow WHERE record_id = ?1",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  data = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (other);
  return data;
}

/* Two edits pushed as one change whose answer was lost, then the newer
 * one discarded: what is left is not what the server may hold under that
 * change's id, so it goes out as a new change and is judged by its base.
 * Before, the server replayed its answer to the first version and the
 * client took its own older data for the server's. */
static void
test_discard_after_lost_response (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_FAULTY, 1);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"first\"}");
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *shadow = NULL;
  guint attempts = 0;

  client_sync (a);
  client_update (a, "notes", note, "{\"title\":\"second\"}");
  later ();
  client_update (a, "notes", note, "{\"body\":\"typed on A\\n\"}");
  client_set_faults (a, 0, 1, 0, 0);
  while (!server_has (a, "typed on A"))
    {
      g_clear_error (&error);
      g_assert_cmpuint (attempts++, <, 5);
      g_assert_false (client_try_sync (a, NULL, &error));
    }
  g_clear_error (&error);
  client_set_faults (a, 0, 0, 0, 0);
  pending = client_changes (a, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (pending->len, ==, 2);
  g_assert_true (tether_sync_engine_discard (a->engine,
                                                    tether_sync_change_get_id (pending->pdata[1]),
                                                    &error));
  g_assert_no_error (error);
  client_sync (a);
  client_sync (b);
  /* the body reached the server before the discard: it stays, on both */
  assert_string (b, "notes", note, "body", "typed on A\n");
  assert_string (b, "notes", note, "title", "second");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
  /* the base of A's next merge is the server's version */
  shadow = shadow_data (a, note);
  g_assert_nonnull (strstr (shadow, "typed on A"));
}

/* The server's only change of notes, with an integer recordId @id and,
 * unless deleted, the title @title and data.id the same integer. */
static void
assert_server_integer_note (Client     *c,
                            gint64      id,
                            const char *type,
                            const char *title)
{
  g_autoptr(JsonArray) changes = pull_all (c->f, c->s, c->token, NULL, NULL);
  JsonObject *change;
  JsonNode *record_id;
  JsonNode *data;

  g_assert_cmpuint (json_array_get_length (changes), ==, 1);
  change = json_array_get_object_element (changes, 0);
  record_id = json_object_get_member (change, "recordId");
  g_assert_true (JSON_NODE_HOLDS_VALUE (record_id));
  g_assert_true (json_node_get_value_type (record_id) == G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (record_id), ==, id);
  g_assert_cmpstr (json_object_get_string_member (change, "type"), ==, type);
  data = json_object_get_member (change, "data");
  if (title == NULL)
    return;
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (data), "title"), ==, title);
  record_id = json_object_get_member (json_node_get_object (data), "id");
  g_assert_true (json_node_get_value_type (record_id) == G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (record_id), ==, id);
}

/* A client of the seed's design keys a note by the number 5; the server
 * keeps 5 and "5" apart. Edits and the delete made here go to that note,
 * with its id a number again, where they went to a new note "5" and the
 * seed client never saw them. */
static void
test_integer_record_id (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *change_id = g_uuid_string_random ();
  g_autoptr(JsonObject) answer = NULL;

  answer = push (f, s, f->alice, NULL,
                 change_new (change_id, "notes", "5", "create", "{\"id\":5,\"title\":\"from a seed client\"}", 0, NULL),
                 NULL);
  assert_counts (answer, 1, 0, 0);
  client_sync (a);
  assert_string (a, "notes", "5", "title", "from a seed client");

  client_update (a, "notes", "5", "{\"title\":\"edited here\"}");
  client_sync (a);
  assert_server_integer_note (a, 5, "update", "edited here");
  client_update (a, "notes", "5", "{\"title\":\"edited again\"}");
  client_sync (a);
  assert_server_integer_note (a, 5, "update", "edited again");
  client_delete (a, "notes", "5");
  client_sync (a);
  assert_server_integer_note (a, 5, "delete", NULL);
}

/* A's title edit reaches the server but its answer is lost; B then
 * retitles the note. A's next push is refused for its schema (409), the
 * pull still runs and merges B's version into A's edit, which client-wins
 * keeps. That merge is not the change the server holds under the first
 * change's id: it must go out under a new one. Resent under the old id,
 * the server replayed its first answer, A took its title for the server's
 * and B's title stayed there. */
static void
test_rebase_after_lost_answer (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_FAULTY, 1);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *newer_path = schema_file_new (f->dir, notes_take_any_field);
  g_autoptr(TetherSchema) newer = NULL;
  g_autofree char *older_path = NULL;
  g_autofree char *note = NULL;
  g_autoptr(GError) error = NULL;
  guint attempts = 0;

  server_pin_port (s);
  newer = tether_schema_new_from_file (newer_path, &error);
  g_assert_no_error (error);
  older_path = schema_file_new (f->dir, NULL);
  client_reopen_schema (a, newer);
  note = shared_record (a, b, "notes", NOTE_BASE);
  tether_sync_engine_set_strategy (a->engine, TETHER_CONFLICT_STRATEGY_CLIENT_WINS);

  client_update (a, "notes", note, "{\"title\":\"title from A\"}");
  client_set_faults (a, 0, 1, 0, 0);
  while (!server_has (a, "title from A"))
    {
      g_clear_error (&error);
      g_assert_cmpuint (attempts++, <, 5);
      g_assert_false (client_try_sync (a, NULL, &error));
    }
  g_clear_error (&error);
  client_set_faults (a, 0, 0, 0, 0);
  client_sync (b);
  client_update (b, "notes", note, "{\"title\":\"title from B\"}");
  client_sync (b);

  {
    const char *extra[] = { "--schema", older_path, NULL };

    server_set_extra (s, extra);
    server_restart (f, s);
  }
  g_assert_false (client_try_sync (a, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SCHEMA);
  assert_string (a, "notes", note, "title", "title from A");

  server_set_extra (s, NULL);
  server_restart (f, s);
  client_sync (a);
  client_sync (b);
  assert_string (b, "notes", note, "title", "title from A");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* Under lww a merge pushed back is a write of the time it was made: it
 * holds B's title, newer than C's, and must beat C's edit as a whole. A's
 * push is refused for its schema, so B's version is merged into A's
 * pending body edit by the pull; the entry kept its hlc from before C's
 * edit, and C's older title then won over B's newer one, and took A's
 * body with it. */
static void
test_merge_pushed_back_stamped (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *c = client_new (f, s, "c", f->alice);
  Client *clients[] = { a, b, c };
  g_autofree char *newer_path = schema_file_new (f->dir, notes_take_any_field);
  g_autoptr(TetherSchema) newer = NULL;
  g_autofree char *older_path = NULL;
  g_autofree char *note = NULL;
  g_autoptr(GError) error = NULL;
  const char *extra[] = { "--schema", NULL, NULL };

  server_pin_port (s);
  newer = tether_schema_new_from_file (newer_path, &error);
  g_assert_no_error (error);
  older_path = schema_file_new (f->dir, NULL);
  extra[1] = older_path;
  client_reopen_schema (a, newer);
  note = shared_record (a, b, "notes", NOTE_BASE);
  client_sync (c);
  tether_sync_engine_set_strategy (c->engine, TETHER_CONFLICT_STRATEGY_LWW);

  client_update (a, "notes", note, "{\"body\":\"body from A\\n\"}");
  later ();
  client_update (c, "notes", note, "{\"title\":\"title from C\"}");
  later ();
  client_update (b, "notes", note, "{\"title\":\"title from B\"}");
  client_sync (b);

  server_set_extra (s, extra);
  server_restart (f, s);
  g_assert_false (client_try_sync (a, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SCHEMA);
  assert_string (a, "notes", note, "title", "title from B");
  assert_string (a, "notes", note, "body", "body from A\n");
  server_set_extra (s, NULL);
  server_restart (f, s);
  client_sync (a);

  client_sync (c);
  assert_string (c, "notes", note, "title", "title from B");
  assert_string (c, "notes", note, "body", "body from A\n");
  client_sync (a);
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A push applied by the server whose answer was lost: the retry neither
 * duplicates the write nor conflicts with itself. */
static void
test_lost_response (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_FAULTY, 1);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *n1 = client_create (a, "notes", "{\"title\":\"first\"}");
  g_autofree char *n2 = client_create (a, "notes", "{\"title\":\"second\"}");
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *dump = NULL;
  gint64 feed_end = 0;

  sync_losing_answers (a, n2);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 2);

  client_update (a, "notes", n1, "{\"title\":\"first, renamed\"}");
  sync_losing_answers (a, "first, renamed");
  g_clear_pointer (&dump, g_free);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 3);

  client_delete (a, "notes", n2);
  client_set_faults (a, 0, 1, 0, 0);
  for (guint i = 0; i < 5 && server_has (a, n2); i++)
    g_assert_false (client_try_sync (a, NULL, NULL));
  client_set_faults (a, 0, 0, 0, 0);
  client_sync (a);
  g_clear_pointer (&dump, g_free);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 4);

  conflicts = client_conflicts (a, FALSE);
  g_assert_cmpuint (conflicts->len, ==, 0);
  g_assert_cmpuint (count_changes (a, -1), ==, 0);
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The POST /push lines in the server's log, once @expected are there or
 * 5 s have passed: a request's line is written once the answer is sent,
 * which may be after the client read it. */
static guint
logged_pushes (Server *s,
               guint   expected)
{
  guint n = 0;

  for (guint waited = 0; waited <= 5000; waited += 10)
    {
      g_autofree char *log = read_log (s);
      g_auto(GStrv) lines = g_strsplit (log, "\n", -1);

      n = 0;
      for (guint i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (lines[i], "POST ") && strstr (lines[i], "/push user=") != NULL)
          n++;
      if (n >= expected)
        break;
      g_usleep (10 * 1000);
    }
  return n;
}

/* Every request sent twice: still one write each, no conflicts. */
static void
test_duplicate_requests (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_FAULTY, 2);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *n1 = client_create (a, "notes", "{\"title\":\"first\"}");
  g_autofree char *n2 = client_create (a, "tasks", "{\"title\":\"second\"}");
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *dump = NULL;
  gint64 feed_end = 0;

  client_set_faults (a, 0, 0, 1, 3);
  client_sync (a);
  client_update (a, "notes", n1, "{\"body\":\"more\"}");
  client_delete (a, "tasks", n2);
  client_sync (a);
  g_assert_cmpuint (tether_faulty_transport_get_duplicated (a->faulty), >=, 2);
  /* one batch a sync, each met twice by the server */
  g_assert_cmpuint (logged_pushes (s, 4), ==, 4);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 4);
  conflicts = client_conflicts (a, FALSE);
  g_assert_cmpuint (conflicts->len, ==, 0);
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A refused token: auth-required, nothing lost; a new token recovers. */
static void
test_auth_required (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", "not-a-token-of-this-server-at-all-000000000", CLIENT_REMOTE, 0);
  Client *clients[] = { a };
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"kept\"}");
  Notes *notes = notes_watch (a);

  client_sync_error (a, TETHER_SYNC_ERROR_UNAUTHORIZED);
  g_assert_true (tether_sync_engine_get_state (a->engine) == TETHER_SYNC_STATE_AUTH_REQUIRED);
  g_assert_true (states_contain (notes, TETHER_SYNC_STATE_AUTH_REQUIRED));
  g_assert_nonnull (tether_sync_engine_get_last_error (a->engine));
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);

  tether_sync_engine_set_token (a->engine, f->alice);
  g_assert_true (tether_sync_engine_get_state (a->engine) != TETHER_SYNC_STATE_AUTH_REQUIRED);
  client_sync (a);
  g_assert_true (tether_sync_engine_get_state (a->engine) == TETHER_SYNC_STATE_IDLE);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  assert_converged (f, s, f->alice, clients, 1);
  notes_unwatch (a, notes);
}

/* Server down: offline, pending kept (also across a restart of the
 * client); server back: synced. */
static void
test_offline (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autofree char *n1 = client_create (a, "notes", "{\"title\":\"online\"}");
  g_autofree char *n2 = NULL;
  Notes *notes = notes_watch (a);

  server_pin_port (s);
  client_sync (a);
  server_kill (s);
  n2 = client_create (a, "notes", "{\"title\":\"written offline\"}");
  client_sync_error (a, TETHER_SYNC_ERROR_NETWORK);
  g_assert_true (tether_sync_engine_get_state (a->engine) == TETHER_SYNC_STATE_OFFLINE);
  g_assert_true (states_contain (notes, TETHER_SYNC_STATE_OFFLINE));
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);
  notes_unwatch (a, notes);

  client_reopen (a);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);
  server_revive (f, s);
  client_sync (a);
  g_assert_true (tether_sync_engine_get_state (a->engine) == TETHER_SYNC_STATE_IDLE);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  assert_converged (f, s, f->alice, clients, 1);
}

typedef struct {
  Client          *c;
  TetherSyncState  state;
  guint            pending;
} StateWanted;

static gboolean
state_reached (gpointer data)
{
  StateWanted *wanted = data;

  return tether_sync_engine_get_state (wanted->c->engine) == wanted->state &&
         tether_sync_engine_get_pending_count (wanted->c->engine) == wanted->pending;
}

/* The same with auto-sync: it goes offline by itself and catches up by
 * itself once the server is back. */
static void
test_offline_auto_sync (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autofree char *note = NULL;
  StateWanted offline = { a, TETHER_SYNC_STATE_OFFLINE, 1 };
  StateWanted synced = { a, TETHER_SYNC_STATE_IDLE, 0 };

  server_pin_port (s);
  server_kill (s);
  tether_sync_engine_set_debounce (a->engine, 50);
  tether_sync_engine_set_auto_sync (a->engine, TRUE);
  note = client_create (a, "notes", "{\"title\":\"written offline\"}");
  g_assert_true (wait_until (f, state_reached, &offline, SETTLE_TIMEOUT_MS));
  server_revive (f, s);
  g_assert_true (wait_until (f, state_reached, &synced, SETTLE_TIMEOUT_MS));
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  assert_converged (f, s, f->alice, clients, 1);
}

/* A pull from the cursor a client holds after syncing at @feed_end now
 * meets 410: its next sync has to start over. */
static void
assert_cursor_expired (Fixture *f,
                       Server  *s,
                       gint64   feed_end)
{
  g_autofree char *body = g_strdup_printf ("{\"cursor\":\"%" G_GINT64_FORMAT "\",\"collections\":null}", feed_end);
  g_autoptr(Reply) reply = request (f, s, "POST", "/pull", f->alice, body);

  assert_error (reply, 410, "cursor-expired");
}

/* Tombstones purged past the client's cursor: the pull starts over from
 * null and the client ends with the server's records and its own writes. */
static void
test_cursor_expired (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *gone = shared_record (a, b, "notes", "{\"title\":\"to be deleted\"}");
  g_autofree char *kept = NULL;
  g_autofree char *offline = NULL;
  g_autofree char *dump = NULL;
  TetherSyncReport report;
  gint64 b_seen = 0;

  dump = server_dump (f, s, f->alice, &b_seen);
  server_pin_port (s);
  client_delete (a, "notes", gone);
  client_sync (a);
  kept = client_create (a, "notes", "{\"title\":\"written after\"}");
  client_sync (a);
  /* the tombstone is purged at start */
  server_restart (f, s);
  assert_cursor_expired (f, s, b_seen);
  offline = client_create (b, "tasks", "{\"title\":\"written on B meanwhile\"}");
  report = client_sync (b);
  g_assert_cmpuint (report.accepted, ==, 1);
  assert_string (b, "notes", kept, "title", "written after");
  assert_string (b, "tasks", offline, "title", "written on B meanwhile");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (b->engine), ==, 0);
  assert_string (a, "notes", kept, "title", "written after");
  client_sync (a);
  assert_string (a, "tasks", offline, "title", "written on B meanwhile");
  /* the record deleted on A must not live on on B */
  assert_absent (b, "notes", gone);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The app's schema, one version on, without tasks. */
static TetherSchema *
schema_without_tasks (void)
{
  const char *root = g_getenv ("TETHER_SOURCE_ROOT");
  g_autofree char *path = g_build_filename (root, "data", "tether-schema.json", NULL);
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) schema = NULL;
  g_autofree char *changed = NULL;
  g_autoptr(GError) error = NULL;
  TetherSchema *without;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  schema = tether_test_object (text);
  json_object_remove_member (json_object_get_object_member (schema, "collections"), "tasks");
  json_object_set_int_member (schema, "version", json_object_get_int_member (schema, "version") + 1);
  changed = canonical_object (schema);
  without = tether_schema_new_from_json (changed, -1, &error);
  g_assert_no_error (error);
  return without;
}

/* B's app drops tasks while its cursor expires and a task it had synced
 * is deleted and purged: the resync forgets that task's shadow copy and
 * finishes, where it failed on the missing collection at every sync. */
static void
test_cursor_expired_dropped (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  g_autofree char *task = shared_record (a, b, "tasks", "{\"title\":\"to be deleted\"}");
  g_autofree char *kept = NULL;
  g_autoptr(TetherSchema) without = schema_without_tasks ();
  gint64 b_seen = 0;

  g_free (server_dump (f, s, f->alice, &b_seen));
  server_pin_port (s);
  client_delete (a, "tasks", task);
  client_sync (a);
  kept = client_create (a, "notes", "{\"title\":\"written after\"}");
  client_sync (a);
  server_restart (f, s);
  assert_cursor_expired (f, s, b_seen);
  client_reopen_schema (b, without);
  client_sync (b);
  assert_string (b, "notes", kept, "title", "written after");
  client_sync (b);
}

#define N_FILLERS 1100   /* more than a pull page (1,000 records) */

static void
add_fillers (Client *a)
{
  for (guint i = 0; i < N_FILLERS; i++)
    g_free (client_create (a, "notes", "{\"title\":\"filler\"}"));
  client_sync (a);
}

/* After its resync @b has the fillers and not @gone. */
static void
assert_resynced (Client     *b,
                 const char *gone)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = tether_collection_get_all (b->notes, &error);

  g_assert_no_error (error);
  assert_absent (b, "notes", gone);
  g_assert_cmpuint (all->len, ==, N_FILLERS);
}

/* A resync longer than one page, with the purged tombstone past its first
 * page: the server must take its cursors (older than the purge) as the
 * resync's, or it could never end. */
static void
test_cursor_expired_long (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  g_autofree char *gone = shared_record (a, b, "notes", "{\"title\":\"to be deleted\"}");

  server_pin_port (s);
  add_fillers (a);
  client_delete (a, "notes", gone);
  client_sync (a);
  server_restart (f, s);   /* the tombstone, past 1,000 revs, is purged at start */
  client_sync (b);
  assert_resynced (b, gone);
}

/* Goes offline once the first page of a pull is stored. */
static void
offline_after_a_page (TetherSyncEngine *engine,
                      TetherSyncPhase   phase,
                      guint             done,
                      guint             total,
                      gpointer          data)
{
  if (phase == TETHER_SYNC_PHASE_PULL)
    client_set_offline (data, TRUE);
}

/* The resync after a 410 cut off after its first page (a crash or a lost
 * connection would do the same): the next sync must start it over, not go
 * on from the middle without ever forgetting what the server purged. */
static void
test_cursor_expired_interrupted (Fixture *f)
{
  const char *extra[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new_full (f, s, "b", f->alice, CLIENT_FAULTY, 3);
  g_autofree char *gone = shared_record (a, b, "notes", "{\"title\":\"to be deleted\"}");
  g_autoptr(GError) error = NULL;
  gulong handler;

  server_pin_port (s);
  client_delete (a, "notes", gone);
  client_sync (a);
  /* then more than one page, so that the resync's first page already goes
   * past the purged tombstone: the server would not refuse its cursor */
  add_fillers (a);
  server_restart (f, s);   /* the tombstone is purged at start */
  client_set_faults (b, 0, 0, 0, 0);

  handler = g_signal_connect (b->engine, "phase", G_CALLBACK (offline_after_a_page), b);
  g_assert_false (client_try_sync (b, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
  g_clear_error (&error);
  g_signal_handler_disconnect (b->engine, handler);
  client_set_offline (b, FALSE);

  client_sync (b);
  assert_resynced (b, gone);
}

/* The preferences take the server away once the first batch is stored. */
static void
remove_remote (TetherSyncEngine *engine,
               TetherSyncPhase   phase,
               guint             done,
               guint             total,
               gpointer          data)
{
  if (phase == TETHER_SYNC_PHASE_PUSH)
    tether_sync_engine_set_transport (engine, NULL);
}

/* The server removed while a sync is between batches: the sync ends with
 * a clear error instead of sending on nothing, and nothing is lost. */
static void
test_remote_removed_mid_sync (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autoptr(GError) error = NULL;
  gulong handler;

  for (guint i = 0; i < 6; i++)
    g_free (client_create (a, "notes", "{\"title\":\"queued\"}"));
  tether_sync_engine_set_batch_size (a->engine, 2);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (remove_remote), NULL);
  g_assert_false (client_try_sync (a, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_CONFIGURED);
  g_signal_handler_disconnect (a->engine, handler);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), >, 0);
}

/* The preferences give another account's token once the first batch is
 * stored. */
static void
change_token (TetherSyncEngine *engine,
              TetherSyncPhase   phase,
              guint             done,
              guint             total,
              gpointer          data)
{
  if (phase == TETHER_SYNC_PHASE_PUSH)
    tether_sync_engine_set_token (engine, data);
}

/* The token replaced while a sync is between batches: the rest of the
 * sync must not go to the other account with this one's cursor and
 * shadows. It stops, says so without an error to show, and the next
 * sync brings every note to the new account as a new remote's would. */
static void
test_remote_changed_mid_sync (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autoptr(GError) error = NULL;
  g_autofree char *dump = NULL;
  gint64 bob_end = 0;
  gulong handler;

  for (guint i = 0; i < 6; i++)
    g_free (client_create (a, "notes", "{\"title\":\"queued\"}"));
  tether_sync_engine_set_batch_size (a->engine, 2);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (change_token), f->bob);
  g_assert_false (client_try_sync (a, NULL, &error));
  g_signal_handler_disconnect (a->engine, handler);
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED);
  g_assert_cmpint (tether_sync_engine_get_state (a->engine), ==, TETHER_SYNC_STATE_IDLE);
  g_assert_null (tether_sync_engine_get_last_error (a->engine));
  dump = server_dump (f, s, f->bob, &bob_end);
  g_assert_cmpint (bob_end, ==, 0);

  client_sync (a);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  assert_converged (f, s, f->bob, clients, 1);
}

/* An edit the server refused (failed, kept for a retry) of a record that
 * another device deleted, with the tombstone purged before this client
 * pulled it: the resync must not silently drop the record and the edit. */
static void
test_cursor_expired_failed_edit (Fixture *f)
{
  g_autofree char *schema = schema_file_new (f->dir, short_titles);
  const char *strict[] = { "--tombstone-days", "0", "--schema", schema, NULL };
  const char *relaxed[] = { "--tombstone-days", "0", NULL };
  Server *s = server_start (f, strict);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", "{\"title\":\"short\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *dump = NULL;
  TetherSyncReport report;
  gint64 b_seen = 0;

  server_pin_port (s);
  client_update (b, "notes", note, "{\"title\":\"a title far too long\"}");
  report = client_sync (b);
  g_assert_cmpuint (report.rejected, ==, 1);
  dump = server_dump (f, s, f->alice, &b_seen);
  client_delete (a, "notes", note);
  client_sync (a);
  client_sync (a);
  server_restart (f, s);
  assert_cursor_expired (f, s, b_seen);
  client_sync (b);
  /* the failed edit is kept until retried or discarded: so is its record */
  g_assert_cmpuint (tether_sync_engine_get_failed_count (b->engine), ==, 1);
  assert_string (b, "notes", note, "title", "a title far too long");

  server_set_extra (s, relaxed);
  server_restart (f, s);
  g_assert_cmpint (tether_sync_engine_retry_failed (b->engine, &error), ==, 1);
  g_assert_no_error (error);
  client_sync (b);
  client_sync (a);
  /* an edit wins over a delete */
  assert_string (a, "notes", note, "title", "a title far too long");
  conflicts = client_conflicts (b, FALSE);
  g_test_message ("%u conflicts on B", conflicts->len);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* ------------------------------------------------------------- observing */

static gboolean
pending_is_one (gpointer data)
{
  Client *c = data;

  return tether_sync_engine_get_pending_count (c->engine) == 1;
}

static void
test_properties_notify (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Notes *notes = notes_watch (a);
  gint64 before = now_ms ();
  g_autofree char *note = NULL;
  TetherSyncState last;

  g_assert_cmpint (tether_sync_engine_get_last_sync_at (a->engine), ==, 0);
  g_assert_true (tether_sync_engine_get_state (a->engine) == TETHER_SYNC_STATE_IDLE);
  note = client_create (a, "notes", "{\"title\":\"watched\"}");
  g_assert_true (wait_until (f, pending_is_one, a, SETTLE_TIMEOUT_MS));
  g_assert_cmpuint (notes->pending, >=, 1);
  g_assert_cmpuint (notes->queue, >=, 1);

  notes->pending = 0;
  client_sync (a);
  g_assert_cmpuint (notes->pending, >=, 1);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  g_assert_cmpuint (notes->last_sync, >=, 1);
  g_assert_cmpint (tether_sync_engine_get_last_sync_at (a->engine), >=, before);
  g_assert_cmpint (tether_sync_engine_get_last_sync_at (a->engine), <=, now_ms ());
  g_assert_true (states_contain (notes, TETHER_SYNC_STATE_SYNCING));
  last = g_array_index (notes->states, TetherSyncState, notes->states->len - 1);
  g_assert_true (last == TETHER_SYNC_STATE_IDLE);
  g_assert_null (tether_sync_engine_get_last_error (a->engine));
  g_assert_nonnull (tether_sync_engine_get_client_id (a->engine));
  g_assert_false (tether_sync_engine_get_seed_compat (a->engine));
  notes_unwatch (a, notes);
}

typedef struct {
  TetherSyncPhase phase;
  guint           done;
  guint           total;
} PhaseSeen;

static void
on_phase (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          gpointer          data)
{
  PhaseSeen seen = { phase, done, total };

  g_array_append_val ((GArray *) data, seen);
}

static void
assert_phases (GArray          *phases,
               TetherSyncPhase  last,
               guint            pushed)
{
  guint max_push_done = 0;
  gboolean saw_pull = FALSE;

  g_assert_cmpuint (phases->len, >=, 2);
  g_assert_true (g_array_index (phases, PhaseSeen, 0).phase == TETHER_SYNC_PHASE_START);
  g_assert_true (g_array_index (phases, PhaseSeen, phases->len - 1).phase == last);
  for (guint i = 1; i < phases->len; i++)
    {
      PhaseSeen *seen = &g_array_index (phases, PhaseSeen, i);

      if (seen->phase == TETHER_SYNC_PHASE_PUSH)
        {
          g_assert_false (saw_pull);   /* push, then pull */
          g_assert_cmpuint (seen->total, ==, pushed);
          g_assert_cmpuint (seen->done, <=, seen->total);
          max_push_done = MAX (max_push_done, seen->done);
        }
      saw_pull |= seen->phase == TETHER_SYNC_PHASE_PULL;
      if (i < phases->len - 1)
        g_assert_true (seen->phase != TETHER_SYNC_PHASE_DONE && seen->phase != TETHER_SYNC_PHASE_FAILED);
    }
  if (last == TETHER_SYNC_PHASE_DONE)
    {
      g_assert_cmpuint (max_push_done, ==, pushed);
      g_assert_true (saw_pull);
    }
}

static void
test_phase_signal (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autoptr(GArray) phases = g_array_new (FALSE, FALSE, sizeof (PhaseSeen));
  gulong handler = g_signal_connect (a->engine, "phase", G_CALLBACK (on_phase), phases);

  for (guint i = 0; i < 3; i++)
    g_free (client_create (a, "notes", "{\"title\":\"phase\"}"));
  client_sync (a);
  assert_phases (phases, TETHER_SYNC_PHASE_DONE, 3);

  g_array_set_size (phases, 0);
  server_kill (s);
  g_free (client_create (a, "notes", "{\"title\":\"phase\"}"));
  client_sync_error (a, TETHER_SYNC_ERROR_NETWORK);
  assert_phases (phases, TETHER_SYNC_PHASE_FAILED, 1);
  g_signal_handler_disconnect (a->engine, handler);
}

/* --------------------------------------------------------------- devtools */

static void
test_devtools (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *n1 = client_create (a, "notes", "{\"title\":\"one\"}");
  g_autofree char *n2 = client_create (a, "notes", "{\"title\":\"two\"}");
  g_autofree char *n3 = client_create (a, "notes", "{\"title\":\"three\"}");
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *server = NULL;
  TetherSyncChange *n3_change;
  TetherSyncStats stats = { 0, };

  client_update (a, "notes", n1, "{\"title\":\"one, again\"}");
  client_update (a, "notes", n1, "{\"title\":\"one, final\"}");
  client_delete (a, "notes", n2);
  all = client_changes (a, -1);
  g_assert_cmpuint (all->len, ==, 6);
  for (guint i = 1; i < all->len; i++)
    g_assert_cmpint (tether_sync_change_get_seq (all->pdata[i - 1]), <, tether_sync_change_get_seq (all->pdata[i]));
  g_assert_cmpstr (tether_sync_change_get_record_id (all->pdata[0]), ==, n1);
  g_assert_true (tether_sync_change_get_change_type (all->pdata[0]) == TETHER_CHANGE_CREATE);
  g_assert_true (tether_sync_change_get_change_type (all->pdata[5]) == TETHER_CHANGE_DELETE);
  g_assert_cmpstr (tether_sync_change_get_title (all->pdata[4]), ==, "one, final");
  g_assert_true (tether_sync_engine_get_stats (a->engine, &stats, &error));
  g_assert_cmpuint (stats.total, ==, 6);
  g_assert_cmpuint (stats.pending, ==, 6);
  g_assert_cmpuint (stats.failed, ==, 0);
  g_assert_cmpuint (count_changes (a, TETHER_CHANGE_FAILED), ==, 0);

  /* n1: create+2 updates → 1 create; n2: create+delete → nothing */
  g_assert_cmpint (tether_sync_engine_compact (a->engine, &error), ==, 4);
  g_assert_no_error (error);
  pending = client_changes (a, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (pending->len, ==, 2);
  for (guint i = 0; i < pending->len; i++)
    {
      TetherSyncChange *change = pending->pdata[i];

      g_assert_true (tether_sync_change_get_change_type (change) == TETHER_CHANGE_CREATE);
      if (g_str_equal (tether_sync_change_get_record_id (change), n1))
        g_assert_nonnull (strstr (tether_sync_change_get_data (change), "one, final"));
      else
        g_assert_cmpstr (tether_sync_change_get_record_id (change), ==, n3);
    }

  /* n3's change is dropped; the record stays, and its next change carries it */
  n3_change = g_str_equal (tether_sync_change_get_record_id (pending->pdata[0]), n3) ? pending->pdata[0] : pending->pdata[1];
  g_assert_true (tether_sync_engine_discard (a->engine, tether_sync_change_get_id (n3_change), &error));
  g_assert_no_error (error);
  g_assert_false (tether_sync_engine_discard (a->engine, "no-such-change", &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  assert_string (a, "notes", n3, "title", "three");
  client_sync (a);
  server = server_dump (f, s, f->alice, NULL);
  g_assert_nonnull (strstr (server, "one, final"));
  g_assert_null (strstr (server, n3));
  client_update (a, "notes", n3, "{\"pinned\":true}");
  client_sync (a);
  {
    Client *clients[] = { a };

    assert_converged (f, s, f->alice, clients, 1);
  }
  g_assert_true (tether_sync_engine_get_stats (a->engine, &stats, &error));
  g_assert_cmpuint (stats.total, ==, 0);
}

static void
test_event_log (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncEvent *done, *failed;
  TetherSyncReport report;

  g_free (client_create (a, "notes", "{\"title\":\"one\"}"));
  g_free (client_create (a, "notes", "{\"title\":\"two\"}"));
  report = client_sync (a);
  server_kill (s);
  client_sync_error (a, TETHER_SYNC_ERROR_NETWORK);

  events = tether_sync_engine_list_events (a->engine, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 2);
  done = events->pdata[0];
  failed = events->pdata[1];
  g_assert_true (done->phase == TETHER_SYNC_PHASE_DONE);
  g_assert_null (done->error);
  g_assert_cmpuint (done->report.pushed, ==, 2);
  g_assert_cmpuint (done->report.accepted, ==, 2);
  /* the log holds the report the sync returned, its duration too */
  g_assert_cmpuint (done->report.conflicts, ==, report.conflicts);
  g_assert_cmpuint (done->report.rejected, ==, report.rejected);
  g_assert_cmpuint (done->report.pulled, ==, report.pulled);
  g_assert_cmpuint (done->report.applied, ==, report.applied);
  g_assert_cmpuint (done->report.skipped, ==, report.skipped);
  g_assert_cmpuint (done->report.merged, ==, report.merged);
  g_assert_cmpint (done->report.duration_ms, ==, report.duration_ms);
  g_assert_true (failed->phase == TETHER_SYNC_PHASE_FAILED);
  g_assert_nonnull (failed->error);
  g_assert_cmpint (done->at_ms, <=, failed->at_ms);

  /* every process sees the log: it lives in the file */
  client_reopen (a);
  g_clear_pointer (&events, g_ptr_array_unref);
  events = tether_sync_engine_list_events (a->engine, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 2);
}

/* --------------------------------------------------------- another remote */

/* The database is pointed at another account (a new token) whose feed is
 * shorter than the cursor it holds: the next sync pulls that account's
 * records from the start instead of skipping those up to the old cursor,
 * the records only this device has go up to it, and a pending edit made
 * before the switch is kept and pushed. */
static void
test_other_account (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autofree char *carol = user_add (f, "carol");
  Client *c = client_new (f, s, "c", carol);
  Client *clients[] = { a, c };
  g_autofree char *mine = NULL;
  g_autofree char *theirs = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *dump = NULL;
  gint64 feed_end = 0;

  for (guint i = 0; i < 5; i++)
    g_free (client_create (a, "notes", "{\"title\":\"alice's\"}"));
  mine = client_create (a, "notes", "{\"title\":\"alice's last\"}");
  client_sync (a);
  theirs = client_create (c, "notes", "{\"title\":\"carol's\"}");
  client_sync (c);

  pending = client_create (a, "notes", "{\"title\":\"written before the switch\"}");
  tether_sync_engine_set_remote (a->engine, s->base, carol);
  g_free (a->token);
  a->token = g_strdup (carol);
  client_sync (a);
  assert_string (a, "notes", theirs, "title", "carol's");
  dump = server_dump (f, s, carol, &feed_end);
  g_assert_nonnull (strstr (dump, mine));
  g_assert_nonnull (strstr (dump, pending));
  client_sync (c);
  assert_converged (f, s, carol, clients, G_N_ELEMENTS (clients));
}

/* The same server under another address: the full pull that follows
 * sends nothing again, and an edit made meanwhile is merged with its base
 * (the other device's change to another field survives). */
static void
test_other_address (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_REMOTE, 0);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);
  g_autofree char *other = NULL;
  g_autoptr(GUri) uri = g_uri_parse (s->base, G_URI_FLAGS_NONE, NULL);
  g_autofree char *dump = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  gint64 before = 0, after = 0;

  g_free (server_dump (f, s, f->alice, &before));
  client_update (b, "notes", note, "{\"title\":\"title from b\"}");
  client_sync (b);
  later ();
  client_update (a, "notes", note, "{\"body\":\"body from a\\n\"}");
  other = g_strdup_printf ("http://localhost:%d%s/", g_uri_get_port (uri), g_uri_get_path (uri));
  tether_sync_engine_set_remote (a->engine, other, f->alice);
  client_sync (a);
  assert_string (a, "notes", note, "title", "title from b");
  assert_string (a, "notes", note, "body", "body from a\n");
  dump = server_dump (f, s, f->alice, &after);
  g_assert_cmpint (after, ==, before + 2);   /* b's edit and a's: nothing sent again */
  conflicts = client_conflicts (a, FALSE);
  for (guint i = 0; i < conflicts->len; i++)
    g_assert_cmpuint (tether_conflict_get_winner (conflicts->pdata[i]), ==, TETHER_CONFLICT_WINNER_MERGED);
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The server's SQLite file and its -wal and -shm beside it, copied while
 * the server is stopped: a backup, or one put back over the live file. */
static void
copy_storage (const char *from_dir,
              const char *from_name,
              const char *to_dir,
              const char *to_name)
{
  static const char * const suffixes[] = { "", "-wal", "-shm" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *from_base = g_strconcat (from_name, suffixes[i], NULL);
      g_autofree char *to_base = g_strconcat (to_name, suffixes[i], NULL);
      g_autofree char *from = g_build_filename (from_dir, from_base, NULL);
      g_autofree char *to = g_build_filename (to_dir, to_base, NULL);
      g_autofree char *contents = NULL;
      g_autoptr(GError) error = NULL;
      gsize length = 0;

      if (!g_file_get_contents (from, &contents, &length, NULL))
        {
          g_assert_true (g_unlink (to) == 0 || errno == ENOENT);
          continue;
        }
      g_file_set_contents_full (to, contents, length, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error);
      g_assert_no_error (error);
    }
}

/* Stops @s, copies its storage to the copy @name in the fixture's
 * directory, or with @restore that copy back over it (a server restored
 * from an older backup), and starts it again at the same address. */
static void
server_copy (Fixture    *f,
             Server     *s,
             const char *name,
             gboolean    restore)
{
  g_autofree char *dir = g_path_get_dirname (f->storage[1]);
  g_autofree char *base = g_path_get_basename (f->storage[1]);

  server_kill (s);
  if (restore)
    copy_storage (f->dir, name, dir, base);
  else
    copy_storage (dir, base, f->dir, name);
  server_revive (f, s);
}

/* The server's file is put back to a copy taken before A's last syncs: A's
 * cursor is past the end of the feed there (400 bad-cursor). A's next sync
 * pulls from the start as from a new server: the records and versions the
 * server lost go up again from A, nothing is deleted on A, an edit made
 * since is kept, and a new device gets the union. */
static void
test_bad_cursor_restored (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a;
  Client *b;
  Client *clients[3];
  g_autofree char *kept = NULL;
  g_autofree char *moved = NULL;
  g_autoptr(GPtrArray) lost = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *from_b = NULL;
  g_autofree char *dump = NULL;
  TetherSyncReport report;
  gint64 restored_end = 0, a_end = 0;

  server_pin_port (s);
  a = client_new (f, s, "a", f->alice);
  b = client_new (f, s, "b", f->alice);
  kept = client_create (a, "notes", "{\"title\":\"on the backup\",\"body\":\"one\\n\"}");
  moved = client_create (a, "notes", "{\"title\":\"first title\",\"body\":\"one\\n\"}");
  client_sync (a);
  from_b = client_create (b, "tasks", "{\"title\":\"b's task\"}");
  client_sync (b);
  server_copy (f, s, "backup.db", FALSE);
  g_free (server_dump (f, s, f->alice, &restored_end));

  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (lost, client_create (a, "notes", "{\"title\":\"after the backup\"}"));
  client_update (a, "notes", moved, "{\"title\":\"second title\"}");
  client_sync (a);
  g_free (server_dump (f, s, f->alice, &a_end));
  g_assert_cmpint (a_end, >, restored_end);

  server_copy (f, s, "backup.db", TRUE);
  later ();
  client_update (a, "notes", moved, "{\"body\":\"one\\nedited on a\\n\"}");
  report = client_sync (a);
  g_assert_cmpuint (report.rejected, ==, 0);

  /* nothing of A's went, its edit and its last title included */
  for (guint i = 0; i < lost->len; i++)
    assert_string (a, "notes", lost->pdata[i], "title", "after the backup");
  assert_string (a, "notes", kept, "title", "on the backup");
  assert_string (a, "notes", moved, "title", "second title");
  assert_string (a, "notes", moved, "body", "one\nedited on a\n");
  assert_string (a, "tasks", from_b, "title", "b's task");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (a->engine), ==, 0);

  /* the server has them all again */
  dump = server_dump (f, s, f->alice, NULL);
  for (guint i = 0; i < lost->len; i++)
    g_assert_nonnull (strstr (dump, lost->pdata[i]));
  g_assert_nonnull (strstr (dump, "second title"));
  g_assert_nonnull (strstr (dump, "edited on a"));

  /* a second sync has nothing to do: the cursor is this feed's now */
  report = client_sync (a);
  g_assert_cmpuint (report.pushed, ==, 0);
  g_assert_cmpuint (report.pulled, ==, 0);

  clients[0] = a;
  clients[1] = b;
  clients[2] = client_new (f, s, "c", f->alice);
  client_sync (clients[2]);
  client_sync (b);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* Another, younger server at the same address, to which another device
 * has pushed other records: A's cursor is past its feed's end. A's next
 * sync brings the other device's records, sends all of A's, and deletes
 * nothing; a new device pulls the union. */
static void
test_bad_cursor_younger_server (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a;
  Client *b;
  Client *c;
  Client *clients[3];
  g_autoptr(GPtrArray) mine = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) theirs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dump = NULL;

  server_pin_port (s);
  server_copy (f, s, "empty.db", FALSE);
  a = client_new (f, s, "a", f->alice);
  for (guint i = 0; i < 5; i++)
    g_ptr_array_add (mine, client_create (a, "notes", "{\"title\":\"a's\",\"body\":\"one\\n\"}"));
  client_sync (a);

  server_copy (f, s, "empty.db", TRUE);
  b = client_new (f, s, "b", f->alice);
  for (guint i = 0; i < 2; i++)
    g_ptr_array_add (theirs, client_create (b, "notes", "{\"title\":\"b's\"}"));
  client_sync (b);

  client_update (a, "notes", mine->pdata[0], "{\"body\":\"one\\nedited on a\\n\"}");
  client_sync (a);
  for (guint i = 0; i < mine->len; i++)
    assert_string (a, "notes", mine->pdata[i], "title", "a's");
  for (guint i = 0; i < theirs->len; i++)
    assert_string (a, "notes", theirs->pdata[i], "title", "b's");
  assert_string (a, "notes", mine->pdata[0], "body", "one\nedited on a\n");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  dump = server_dump (f, s, f->alice, NULL);
  for (guint i = 0; i < mine->len; i++)
    g_assert_nonnull (strstr (dump, mine->pdata[i]));
  g_assert_nonnull (strstr (dump, "edited on a"));

  c = client_new (f, s, "c", f->alice);
  client_sync (c);
  client_sync (b);
  clients[0] = a;
  clients[1] = b;
  clients[2] = c;
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* -------------------------------------------------------------- WebSocket */

typedef struct {
  guint started;
  guint done;
} SyncCount;

static void
count_syncs (TetherSyncEngine *engine,
             TetherSyncPhase   phase,
             guint             done,
             guint             total,
             gpointer          data)
{
  SyncCount *count = data;

  count->started += phase == TETHER_SYNC_PHASE_START;
  count->done += phase == TETHER_SYNC_PHASE_DONE || phase == TETHER_SYNC_PHASE_FAILED;
}

static gboolean
transport_connected (gpointer data)
{
  return tether_transport_is_connected (data);
}

static void
test_websocket_sync (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_WS, 0);
  Client *b = client_new_full (f, s, "b", f->alice, CLIENT_WS, 0);
  Client *clients[] = { a, b };
  g_autofree char *note = shared_record (a, b, "notes", NOTE_BASE);

  client_update (a, "notes", note, "{\"title\":\"over the socket\"}");
  client_update (b, "notes", note, "{\"body\":\"one\\ntwo\\nthree\\nfour\\n\"}");
  client_sync (a);
  client_sync (b);
  client_sync (a);
  assert_string (b, "notes", note, "title", "over the socket");
  assert_string (a, "notes", note, "body", "one\ntwo\nthree\nfour\n");
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

typedef struct {
  Client     *c;
  const char *collection;
  const char *id;
} RecordWanted;

static gboolean
record_arrived (gpointer data)
{
  RecordWanted *wanted = data;
  g_autoptr(JsonObject) record = client_get (wanted->c, wanted->collection, wanted->id);

  return record != NULL;
}

/* The pull cursor @c stored, as a number; 0 when it has none. */
static gint64
stored_cursor (Client *c)
{
  sqlite3 *other = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 cursor = 0;

  g_assert_cmpint (sqlite3_open_v2 (c->path, &other, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (other, "SELECT value FROM _tether_meta WHERE key = 'sync.cursor'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    cursor = g_ascii_strtoll ((const char *) sqlite3_column_text (stmt, 0), NULL, 10);
  sqlite3_finalize (stmt);
  sqlite3_close (other);
  return cursor;
}

static gboolean
one_sync_done (gpointer data)
{
  return ((SyncCount *) data)->done >= 1;
}

/* B listens on its socket with auto-sync on: A's write reaches it through
 * server_push, applied as it comes (no sync runs) with B's cursor moved
 * on. A push past a write B missed while its socket was closed does not
 * continue B's cursor: it brings exactly one sync, which fills the gap. */
static void
test_websocket_server_push (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new_full (f, s, "b", f->alice, CLIENT_WS, 0);
  Client *clients[] = { a, b };
  g_autofree char *note = NULL;
  g_autofree char *missed = NULL;
  g_autofree char *after_gap = NULL;
  g_autoptr(JsonObject) record = NULL;
  RecordWanted wanted = { b, "notes", NULL };
  SyncCount count = { 0, };
  gint64 feed_end = 0;
  gulong handler;

  client_sync (b);
  tether_sync_engine_set_interval (b->engine, 3600);
  tether_sync_engine_set_auto_sync (b->engine, TRUE);
  g_assert_true (wait_until (f, transport_connected, b->inner, SYNC_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  handler = g_signal_connect (b->engine, "phase", G_CALLBACK (count_syncs), &count);

  note = client_create (a, "notes", "{\"title\":\"pushed to B\"}");
  client_sync (a);
  wanted.id = note;
  g_assert_true (wait_until (f, record_arrived, &wanted, PUSH_TIMEOUT_MS));
  assert_string (b, "notes", note, "title", "pushed to B");
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 0);
  g_free (server_dump (f, s, f->alice, &feed_end));
  g_assert_cmpint (stored_cursor (b), ==, feed_end);

  tether_sync_engine_set_auto_sync (b->engine, FALSE);
  missed = client_create (a, "notes", "{\"title\":\"while B was away\"}");
  client_sync (a);
  tether_sync_engine_set_auto_sync (b->engine, TRUE);
  g_assert_true (wait_until (f, transport_connected, b->inner, SYNC_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 0);

  after_gap = client_create (a, "notes", "{\"title\":\"after the gap\"}");
  client_sync (a);
  g_assert_true (wait_until (f, one_sync_done, &count, PUSH_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 1);
  record = client_get (b, "notes", missed);
  g_assert_nonnull (record);
  g_free (server_dump (f, s, f->alice, &feed_end));
  g_assert_cmpint (stored_cursor (b), ==, feed_end);
  g_signal_handler_disconnect (b->engine, handler);
  tether_sync_engine_set_auto_sync (b->engine, FALSE);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* A change the server refused keeps the push_id it was sent under, but
 * nothing of it is in flight: a server_push that continues the cursor is
 * applied as it comes, without a sync. */
static void
test_websocket_server_push_failed_entry (Fixture *f)
{
  g_autofree char *schema = schema_file_new (f->dir, short_titles);
  const char *extra[] = { "--schema", schema, NULL };
  Server *s = server_start (f, extra);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new_full (f, s, "b", f->alice, CLIENT_WS, 0);
  g_autofree char *refused = client_create (b, "notes", "{\"title\":\"a title far too long\"}");
  g_autofree char *note = NULL;
  RecordWanted wanted = { b, "notes", NULL };
  SyncCount count = { 0, };
  TetherSyncReport report;
  gint64 feed_end = 0;
  gulong handler;

  report = client_sync (b);
  g_assert_cmpuint (report.rejected, ==, 1);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (b->engine), ==, 1);
  tether_sync_engine_set_interval (b->engine, 3600);
  tether_sync_engine_set_auto_sync (b->engine, TRUE);
  g_assert_true (wait_until (f, transport_connected, b->inner, SYNC_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  handler = g_signal_connect (b->engine, "phase", G_CALLBACK (count_syncs), &count);

  note = client_create (a, "notes", "{\"title\":\"pushed\"}");
  client_sync (a);
  wanted.id = note;
  g_assert_true (wait_until (f, record_arrived, &wanted, PUSH_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 0);
  g_free (server_dump (f, s, f->alice, &feed_end));
  g_assert_cmpint (stored_cursor (b), ==, feed_end);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (b->engine), ==, 1);
  g_signal_handler_disconnect (b->engine, handler);
  tether_sync_engine_set_auto_sync (b->engine, FALSE);
}

/* Field 22 of /proc/<pid>/stat: the start time the sync lock holds. */
static guint64
start_ticks (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  char *p;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  p = strrchr (contents, ')') + 2;
  for (guint field = 3; field < 22; field++)
    p = strchr (p, ' ') + 1;
  return g_ascii_strtoull (p, NULL, 10);
}

/* Writes @c's sync lock from another connection, as another process
 * syncing the file does (@value NULL: it is done). */
static void
write_lock (Client     *c,
            const char *value)
{
  sqlite3 *other = NULL;
  sqlite3_stmt *stmt = NULL;
  const char *sql = value != NULL
    ? "INSERT OR REPLACE INTO _tether_meta (key, value) VALUES ('sync.lock', ?1)"
    : "DELETE FROM _tether_meta WHERE key = 'sync.lock'";

  g_assert_cmpint (sqlite3_open_v2 (c->path, &other, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (other, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (other, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (value != NULL)
    sqlite3_bind_text (stmt, 1, value, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  sqlite3_close (other);
}

/* Another process (the CLI) syncing the file holds the sync lock: a
 * server_push is not applied under it (its pull would move the cursor,
 * its claimed entries could be rebased), but left to a sync, which runs
 * once the other is done. The "other process" here is the server's: a
 * live process on this host that is not this one. */
static void
test_websocket_server_push_locked (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new_full (f, s, "b", f->alice, CLIENT_WS, 0);
  Client *clients[] = { a, b };
  GPid pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (s->process), NULL, 10);
  g_autofree char *lock = g_strdup_printf ("%s:%d:%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT, g_get_host_name (),
                                           (int) pid, start_ticks (pid), g_get_real_time () / 1000 + 600000);
  g_autofree char *note = NULL;
  g_autoptr(JsonObject) record = NULL;
  RecordWanted wanted = { b, "notes", NULL };
  gint64 cursor;

  client_sync (b);
  cursor = stored_cursor (b);
  tether_sync_engine_set_interval (b->engine, 3600);
  tether_sync_engine_set_auto_sync (b->engine, TRUE);
  g_assert_true (wait_until (f, transport_connected, b->inner, SYNC_TIMEOUT_MS));
  run_for (f, QUIET_MS);

  write_lock (b, lock);
  note = client_create (a, "notes", "{\"title\":\"while B's file is busy\"}");
  client_sync (a);
  run_for (f, 1000);
  record = client_get (b, "notes", note);
  g_assert_null (record);
  g_assert_cmpint (stored_cursor (b), ==, cursor);

  write_lock (b, NULL);
  wanted.id = note;
  g_assert_true (wait_until (f, record_arrived, &wanted, SETTLE_TIMEOUT_MS));
  tether_sync_engine_set_auto_sync (b->engine, FALSE);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

/* The blocking sync runs a private main context, which a WebSocket's
 * socket (made on this one) never answers on: it says so at once instead
 * of waiting for ever. */
static void
test_websocket_blocking (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", f->alice, CLIENT_WS, 0);
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"over the socket\"}");
  g_autoptr(GError) error = NULL;

  tether_transport_connect (a->inner);
  g_assert_true (wait_until (f, transport_connected, a->inner, SYNC_TIMEOUT_MS));
  g_assert_false (tether_sync_engine_sync (a->engine, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 1);
  client_sync (a);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
}

/* --------------------------------------------------------------- auto-sync */

static gboolean
settled (gpointer data)
{
  Client *c = data;

  return tether_sync_engine_get_state (c->engine) != TETHER_SYNC_STATE_SYNCING &&
         tether_sync_engine_get_pending_count (c->engine) == 0 &&
         tether_sync_engine_get_last_sync_at (c->engine) > 0;
}

#define DEBOUNCE_MS 1000

/* Writes closer together than the debounce start one sync after the last
 * of them, even when they span more than one debounce: each write starts
 * the wait again. Syncs are counted by the engine's signal and its event
 * log. The gaps are 0.4 debounces: only a stall of 0.6 of one between two
 * writes would let a sync in early. */
static void
test_auto_sync_debounce (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  SyncCount count = { 0, };
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncEvent *event;
  gulong handler;

  /* a sync by hand serves the new transport's wish for one (it would
   * fire as auto-sync comes on): from here on only writes ask */
  client_sync (a);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (count_syncs), &count);
  tether_sync_engine_set_interval (a->engine, 3600);
  tether_sync_engine_set_debounce (a->engine, DEBOUNCE_MS);
  tether_sync_engine_set_auto_sync (a->engine, TRUE);
  /* three writes DEBOUNCE_MS * 0.4 apart, watched for as long again after
   * the last: 1.2 debounces in all, yet no sync */
  for (guint i = 0; i < 3; i++)
    {
      g_free (client_create (a, "notes", "{\"title\":\"typed in bursts\"}"));
      run_for (f, DEBOUNCE_MS * 2 / 5);
      g_assert_cmpuint (count.started, ==, 0);
    }
  g_assert_true (wait_until (f, settled, a, SETTLE_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 1);
  g_assert_cmpuint (count.done, ==, 1);
  g_signal_handler_disconnect (a->engine, handler);
  tether_sync_engine_set_auto_sync (a->engine, FALSE);

  events = tether_sync_engine_list_events (a->engine, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, 2);
  event = events->pdata[1];
  g_assert_true (event->phase == TETHER_SYNC_PHASE_DONE);
  g_assert_cmpuint (event->report.pushed, ==, 3);
  g_assert_cmpuint (event->report.accepted, ==, 3);
  assert_converged (f, s, f->alice, clients, 1);
}

#define REFUSED_TOKEN "not-a-token-of-this-server-at-all-000000000"

/* Auto-sync on with nothing planned but what a test makes happen. */
static void
auto_sync_on (Client *c)
{
  tether_sync_engine_set_interval (c->engine, 3600);
  tether_sync_engine_set_debounce (c->engine, 50);
  tether_sync_engine_set_auto_sync (c->engine, TRUE);
}

/* A refused token stops auto-sync; the server and token set again from
 * the preferences (set_remote) start it again, without a sync by hand. */
static void
test_auto_sync_new_remote (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", REFUSED_TOKEN, CLIENT_REMOTE, 0);
  Client *clients[] = { a };
  StateWanted refused = { a, TETHER_SYNC_STATE_AUTH_REQUIRED, 1 };
  g_autofree char *note = NULL;

  auto_sync_on (a);
  note = client_create (a, "notes", "{\"title\":\"waiting for a token\"}");
  g_assert_true (wait_until (f, state_reached, &refused, SETTLE_TIMEOUT_MS));

  tether_sync_engine_set_remote (a->engine, s->base, f->alice);
  g_assert_true (tether_sync_engine_get_state (a->engine) != TETHER_SYNC_STATE_AUTH_REQUIRED);
  g_assert_true (wait_until (f, settled, a, SETTLE_TIMEOUT_MS));
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  assert_converged (f, s, f->alice, clients, 1);
}

static void
flag_synced (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  GError **error = data;

  g_assert_false (tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, error));
  g_assert_nonnull (*error);
}

static gboolean
error_set (gpointer data)
{
  return *(GError **) data != NULL;
}

/* The 401 to a push sent with the old token lands after the new token was
 * set: it says nothing about the new one, and auto-sync carries on. */
static void
test_auto_sync_stale_refusal (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, s, "a", REFUSED_TOKEN, CLIENT_REMOTE, 0);
  Client *clients[] = { a };
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"sent twice\"}");
  g_autoptr(GError) error = NULL;

  tether_sync_engine_sync_async (a->engine, NULL, flag_synced, &error);   /* the push is out */
  tether_sync_engine_set_token (a->engine, f->alice);
  auto_sync_on (a);
  g_assert_true (wait_until (f, error_set, &error, SYNC_TIMEOUT_MS));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED);
  g_assert_true (tether_sync_engine_get_state (a->engine) != TETHER_SYNC_STATE_AUTH_REQUIRED);
  g_assert_true (wait_until (f, settled, a, SETTLE_TIMEOUT_MS));
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  assert_converged (f, s, f->alice, clients, 1);
}

typedef struct {
  gboolean         done;
  GError          *error;
  gboolean         failed;
  TetherSyncState  state;
  char            *last_error;
} Ended;

static void
on_ended (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  Ended *ended = data;

  g_assert_false (tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, &ended->error));
  ended->done = TRUE;
}

/* The state a sync ended in, as it ended: the next may start at once. */
static void
note_end (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          gpointer          data)
{
  Ended *ended = data;

  if (phase != TETHER_SYNC_PHASE_FAILED || ended->failed)
    return;
  ended->failed = TRUE;
  ended->state = tether_sync_engine_get_state (engine);
  ended->last_error = g_strdup (tether_sync_engine_get_last_error (engine));
}

/* Closing the window or the inspector cancels the sync it started: no
 * failure to show or to back off for. The engine is idle again without
 * an error, and auto-sync runs the sync again soon. */
static void
test_auto_sync_cancelled (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Ended ended = { FALSE, };
  gulong handler;

  client_sync (a);
  for (guint i = 0; i < 3; i++)
    g_free (client_create (a, "notes", "{\"title\":\"cut short\"}"));
  tether_sync_engine_set_interval (a->engine, 3600);
  tether_sync_engine_set_debounce (a->engine, 3600 * 1000);   /* only the cancel asks */
  tether_sync_engine_set_auto_sync (a->engine, TRUE);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (note_end), &ended);
  tether_sync_engine_sync_async (a->engine, cancellable, on_ended, &ended);   /* the push is out */
  g_cancellable_cancel (cancellable);
  g_assert_true (wait_until (f, flag_ready, &ended.done, SYNC_TIMEOUT_MS));
  g_assert_error (ended.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (ended.failed);
  g_assert_cmpint (ended.state, ==, TETHER_SYNC_STATE_IDLE);
  g_assert_null (ended.last_error);
  g_assert_true (wait_until (f, settled, a, SETTLE_TIMEOUT_MS));
  g_signal_handler_disconnect (a->engine, handler);
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  g_clear_error (&ended.error);
  g_free (ended.last_error);
  assert_converged (f, s, f->alice, clients, 1);
}

/* A server's Retry-After (here near an hour) holds auto-sync to that
 * server only: a new token for it still waits, another server set in the
 * preferences syncs at once. */
static void
test_auto_sync_retry_after_new_server (Fixture *f)
{
  const char *stingy[] = { "--rate", "0.0003/s", "--burst", "1", NULL };
  Server *busy = server_start (f, stingy);
  Server *s = server_start (f, NULL);
  Client *a = client_new_full (f, busy, "a", f->alice, CLIENT_REMOTE, 0);
  Client *clients[] = { a };
  g_autofree char *note = client_create (a, "notes", "{\"title\":\"for the other server\"}");
  g_autoptr(GError) error = NULL;
  SyncCount count = { 0, };
  gulong handler;

  g_assert_false (client_try_sync (a, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_RATE_LIMITED);
  auto_sync_on (a);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (count_syncs), &count);
  tether_sync_engine_set_token (a->engine, f->alice);
  run_for (f, 1000);
  g_assert_cmpuint (count.started, ==, 0);

  tether_sync_engine_set_remote (a->engine, s->base, f->alice);
  g_assert_true (wait_until (f, settled, a, SETTLE_TIMEOUT_MS));
  g_assert_cmpuint (count.started, >=, 1);
  g_signal_handler_disconnect (a->engine, handler);
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  assert_converged (f, s, f->alice, clients, 1);
}

/* A sync by hand that fails is retried by auto-sync like its own: the
 * scheduler hears of every sync. */
static void
test_auto_sync_manual_failed (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *b = client_new (f, s, "b", f->alice);
  Client *clients[] = { a, b };
  g_autofree char *note = NULL;
  RecordWanted wanted = { b, "notes", NULL };

  server_pin_port (s);
  client_sync (b);
  auto_sync_on (b);
  run_for (f, QUIET_MS);
  server_kill (s);
  client_sync_error (b, TETHER_SYNC_ERROR_NETWORK);
  server_revive (f, s);
  note = client_create (a, "notes", "{\"title\":\"after the outage\"}");
  client_sync (a);
  wanted.id = note;
  g_assert_true (wait_until (f, record_arrived, &wanted, SETTLE_TIMEOUT_MS));
  tether_sync_engine_set_auto_sync (b->engine, FALSE);
  assert_converged (f, s, f->alice, clients, G_N_ELEMENTS (clients));
}

static gboolean
two_syncs_done (gpointer data)
{
  return ((SyncCount *) data)->done >= 2;
}

/* A server_push while a sync by hand runs asks for one more sync after it
 * (the pushed change may be past what that sync pulled). */
static void
test_auto_sync_push_during_manual (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  g_autoptr(JsonArray) payload = json_array_new ();
  g_autoptr(GError) error = NULL;
  SyncCount count = { 0, };
  gulong handler;

  client_sync (a);
  auto_sync_on (a);
  run_for (f, QUIET_MS);
  json_array_add_element (payload, json_from_string (
    "{\"id\":\"c-far\",\"collection\":\"notes\",\"recordId\":\"far\",\"type\":\"create\","
    "\"data\":{\"id\":\"far\",\"title\":\"far\"},\"rev\":1000}", &error));
  g_assert_no_error (error);
  handler = g_signal_connect (a->engine, "phase", G_CALLBACK (count_syncs), &count);
  tether_sync_engine_sync_async (a->engine, NULL, NULL, NULL);
  tether_transport_emit_server_push (a->inner, payload);
  g_assert_true (wait_until (f, two_syncs_done, &count, SETTLE_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  g_assert_cmpuint (count.started, ==, 2);
  g_signal_handler_disconnect (a->engine, handler);
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
}

typedef struct {
  TetherLiveQuery *live;
  const char      *id;
} LiveWanted;

static gboolean
live_has (gpointer data)
{
  LiveWanted *wanted = data;

  return tether_live_query_find (wanted->live, wanted->id) >= 0;
}

typedef struct {
  Client     *c;
  const char *text;
} ServerWanted;

static gboolean
pushed_and_settled (gpointer data)
{
  ServerWanted *wanted = data;

  return settled (wanted->c) && server_has (wanted->c, wanted->text);
}

/* The CLI writes to the file this process syncs with auto-sync on: the
 * record shows in this process's live query (within a second is the goal:
 * measured and printed, the test waits longer) and reaches the server
 * exactly once. */
static void
test_two_processes (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  g_autoptr(TetherQuery) query = tether_query_new (a->notes);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Command) create = NULL;
  g_autoptr(JsonObject) printed = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *dump = NULL;
  g_autoptr(Command) sync = NULL;
  const char *args[] = { "--db", a->path, "create", "notes", "{\"title\":\"from the CLI\"}", NULL };
  const char *sync_args[] = { "--db", a->path, "sync", NULL };
  LiveWanted in_live = { NULL, NULL };
  ServerWanted on_server = { a, NULL };
  gint64 feed_end = 0;
  gint64 written_at;

  live = tether_live_query_new (query, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_interval (a->engine, 3600);
  tether_sync_engine_set_debounce (a->engine, 100);
  tether_sync_engine_set_auto_sync (a->engine, TRUE);

  create = cli_run (f, args);
  if (create->status != 0)
    g_error ("tether create failed (%d): %s", create->status, create->err);
  printed = tether_test_object (create->out);
  in_live.live = live;
  in_live.id = object_string (printed, "id");
  g_assert_nonnull (in_live.id);
  written_at = g_get_monotonic_time ();
  g_assert_true (wait_until (f, live_has, &in_live, SETTLE_TIMEOUT_MS));
  g_test_message ("the CLI's record was in the live query %" G_GINT64_FORMAT " ms after the CLI ended",
                  (g_get_monotonic_time () - written_at) / 1000);

  on_server.text = in_live.id;
  g_assert_true (wait_until (f, pushed_and_settled, &on_server, SETTLE_TIMEOUT_MS));
  run_for (f, QUIET_MS);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 1);
  conflicts = client_conflicts (a, FALSE);
  g_assert_cmpuint (conflicts->len, ==, 0);

  /* the CLI syncing the same file does not send it again */
  tether_sync_engine_set_auto_sync (a->engine, FALSE);
  tether_sync_engine_save_remote (a->engine, s->base, f->alice, &error);
  g_assert_no_error (error);
  sync = cli_run (f, sync_args);
  if (sync->status != 0)
    g_error ("tether sync failed (%d): %s", sync->status, sync->err);
  g_clear_pointer (&dump, g_free);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 1);
  assert_converged (f, s, f->alice, clients, 1);
}

typedef struct {
  gboolean          done;
  gboolean          ok;
  GError           *error;
} Synced;

static void
on_synced (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Synced *synced = data;

  synced->ok = tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, &synced->error);
  synced->done = TRUE;
}

/* Entries of @c's file are out to the server, sent by any process. */
static gboolean
entries_out (gpointer data)
{
  Client *c = data;
  TetherSyncStats stats = { 0, };
  g_autoptr(GError) error = NULL;

  if (!tether_sync_engine_get_stats (c->engine, &stats, &error))
    g_error ("client %s: stats: %s", c->name, error->message);
  return stats.syncing > 0;
}

static void
assert_backed_off (Command *command)
{
  if (command->status == 0 || strstr (command->err, "another program is syncing this database") == NULL)
    g_error ("tether sync did not back off on the sync lock (%d): %s%s", command->status,
             command->out, command->err);
}

/* This process and `tether sync` sync one file at the same time, each
 * way round: the second to start backs off on the sync lock (BUSY)
 * without touching the first one's entries, and every change reaches the
 * server once. The server is held stopped (SIGSTOP; the kernel still takes
 * connections and requests) so that the first sync's push stays out. */
static void
test_two_processes_at_once (Fixture *f)
{
  Server *s = server_start (f, NULL);
  Client *a = client_new (f, s, "a", f->alice);
  Client *clients[] = { a };
  const char *sync_args[] = { "--db", a->path, "sync", NULL };
  const char *create_args[] = { "--db", a->path, "create", "notes", "{\"title\":\"from the CLI\"}", NULL };
  g_autoptr(Command) created = NULL;
  g_autoptr(Command) busy = NULL;
  g_autoptr(Command) cli_synced = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dump = NULL;
  Synced synced = { FALSE, };
  CliRun *run;
  gint64 feed_end = 0;

  tether_sync_engine_save_remote (a->engine, s->base, f->alice, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    g_free (client_create (a, "notes", "{\"title\":\"from this process\"}"));

  /* this process first: its push is out as the CLI writes and syncs */
  g_subprocess_send_signal (s->process, SIGSTOP);
  tether_sync_engine_sync_async (a->engine, NULL, on_synced, &synced);
  g_assert_true (wait_until (f, entries_out, a, SYNC_TIMEOUT_MS));
  created = cli_run (f, create_args);
  if (created->status != 0)
    g_error ("tether create failed while a sync ran (%d): %s", created->status, created->err);
  busy = cli_run (f, sync_args);
  assert_backed_off (busy);
  g_assert_true (entries_out (a));
  g_assert_false (synced.done);
  g_subprocess_send_signal (s->process, SIGCONT);
  g_assert_true (wait_until (f, flag_ready, &synced.done, SYNC_TIMEOUT_MS));
  g_assert_no_error (synced.error);
  g_assert_true (synced.ok);

  /* the CLI first: its push is out as this process tries */
  g_free (client_create (a, "notes", "{\"title\":\"for the CLI to send\"}"));
  g_subprocess_send_signal (s->process, SIGSTOP);
  run = cli_start (f, sync_args);
  g_assert_true (wait_until (f, entries_out, a, SYNC_TIMEOUT_MS));
  client_sync_error (a, TETHER_SYNC_ERROR_BUSY);
  g_assert_true (entries_out (a));
  g_subprocess_send_signal (s->process, SIGCONT);
  cli_synced = cli_wait (f, run);
  if (cli_synced->status != 0)
    g_error ("tether sync failed (%d): %s", cli_synced->status, cli_synced->err);

  client_sync (a);
  dump = server_dump (f, s, f->alice, &feed_end);
  g_assert_cmpint (feed_end, ==, 5);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (a->engine), ==, 0);
  assert_converged (f, s, f->alice, clients, 1);
}

/* ------------------------------------------------------------------- main */

static const NamedTest tests[] = {
  { "create-pull", test_create_pull },
  { "pull-normalises", test_pull_normalises },
  { "update-delete", test_update_delete },
  { "pull-page-writes", test_pull_page_writes },
  { "create-delete-unsent", test_create_delete_unsent },
  { "coalesce-across-batches", test_coalesce_across_batches },
  { "existing-records", test_existing_records },
  { "seed-offline-edits", test_seed_offline_edits },
  { "blocking-sync", test_blocking_sync },
  { "text-merge-lines", test_text_merge_lines },
  { "text-same-line", test_text_same_line },
  { "delete-then-edit", test_delete_then_edit },
  { "edit-then-delete", test_edit_then_delete },
  { "create-same-id", test_create_same_id },
  { "strategy-lww", test_strategy_lww },
  { "strategy-lww-typing", test_strategy_lww_typing },
  { "hlc-from-push-answer", test_hlc_from_push_answer },
  { "restore-merged", test_restore_merged },
  { "control-characters", test_control_characters },
  { "strategy-client-wins", test_strategy_client_wins },
  { "strategy-server-wins", test_strategy_server_wins },
  { "strategy-custom", test_strategy_custom },
  { "strategy-manual", test_strategy_manual },
  { "strategy-manual-moves", test_strategy_manual_moves },
  { "discard-after-lost-response", test_discard_after_lost_response },
  { "strategy-manual-restore-fields", test_strategy_manual_restore_fields },
  { "restore-keeps-replaced", test_restore_keeps_replaced },
  { "restore-delete-keeps-replaced", test_restore_delete_keeps_replaced },
  { "strategy-manual-switched", test_strategy_manual_switched },
  { "strategy-manual-left", test_strategy_manual_left },
  { "strategy-stored", test_strategy_stored },
  { "strategy-manual-edited", test_strategy_manual_edited },
  { "remote-removed-mid-sync", test_remote_removed_mid_sync },
  { "remote-changed-mid-sync", test_remote_changed_mid_sync },
  { "conflict-signal-after-commit", test_conflict_signal_after_commit },
  { "rejected-change", test_rejected_change },
  { "max-retries", test_max_retries },
  { "too-large-batch", test_too_large_batch },
  { "too-large-change", test_too_large_change },
  { "too-deep-change", test_too_deep_change },
  { "too-deep-websocket", test_too_deep_websocket },
  { "integer-record-id", test_integer_record_id },
  { "rebase-after-lost-answer", test_rebase_after_lost_answer },
  { "merge-pushed-back-stamped", test_merge_pushed_back_stamped },
  { "lost-response", test_lost_response },
  { "duplicate-requests", test_duplicate_requests },
  { "auth-required", test_auth_required },
  { "offline", test_offline },
  { "offline-auto-sync", test_offline_auto_sync },
  { "cursor-expired", test_cursor_expired },
  { "cursor-expired-dropped", test_cursor_expired_dropped },
  { "cursor-expired-failed-edit", test_cursor_expired_failed_edit },
  { "cursor-expired-interrupted", test_cursor_expired_interrupted },
  { "cursor-expired-long", test_cursor_expired_long },
  { "properties-notify", test_properties_notify },
  { "phase-signal", test_phase_signal },
  { "devtools", test_devtools },
  { "event-log", test_event_log },
  { "other-account", test_other_account },
  { "other-address", test_other_address },
  { "bad-cursor-restored", test_bad_cursor_restored },
  { "bad-cursor-younger-server", test_bad_cursor_younger_server },
  { "websocket-sync", test_websocket_sync },
  { "websocket-server-push", test_websocket_server_push },
  { "websocket-server-push-failed-entry", test_websocket_server_push_failed_entry },
  { "websocket-server-push-locked", test_websocket_server_push_locked },
  { "websocket-blocking", test_websocket_blocking },
  { "auto-sync-debounce", test_auto_sync_debounce },
  { "auto-sync-new-remote", test_auto_sync_new_remote },
  { "auto-sync-stale-refusal", test_auto_sync_stale_refusal },
  { "auto-sync-retry-after-new-server", test_auto_sync_retry_after_new_server },
  { "auto-sync-cancelled", test_auto_sync_cancelled },
  { "auto-sync-manual-failed", test_auto_sync_manual_failed },
  { "auto-sync-push-during-manual", test_auto_sync_push_during_manual },
  { "two-processes", test_two_processes },
  { "two-processes-at-once", test_two_processes_at_once },
};

int
main (int   argc,
      char *argv[])
{
  tether_test_server_set_prefix ("/tether/sync/e2e");
  tether_test_server_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    tether_test_server_add (tests[i].name, tests[i].func, FALSE);
  return tether_test_server_run ();
}
