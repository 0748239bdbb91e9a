/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-store"
#include "config.h"

#include <sys/wait.h>
#include <unistd.h>

#include "tether-test-util.h"
#include "tether-sync-private.h"

/* The storage of the sync state on a real database file: the change log the
 * tracker writes in each write's transaction, the shadow, the conflict and
 * event logs, and the cross-process sync lock. */

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}}}}}"

/* Refuses any write whose title is "forbidden", after the tracker ran. */
#define TEST_TYPE_REFUSING_HOOK (test_refusing_hook_get_type ())
G_DECLARE_FINAL_TYPE (TestRefusingHook, test_refusing_hook, TEST, REFUSING_HOOK, GObject)

struct _TestRefusingHook { GObject parent_instance; };

static gboolean
refuse_forbidden (TetherWriteHook *hook, TetherCollection *c, TetherRecord *record, GError **error)
{
  if (g_strcmp0 (tether_record_get_string (record, "title", NULL), "forbidden") != 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "the title 'forbidden' is not allowed");
  return FALSE;
}

static void
test_refusing_hook_iface_init (TetherWriteHookInterface *iface)
{
  iface->after_create = refuse_forbidden;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestRefusingHook, test_refusing_hook, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_WRITE_HOOK, test_refusing_hook_iface_init))

static void test_refusing_hook_class_init (TestRefusingHookClass *klass) { }
static void test_refusing_hook_init (TestRefusingHook *self) { }

typedef struct {
  char                *dir;
  char                *path;
  TetherDatabase      *db;
  TetherCollection    *notes;
  TetherHlc           *hlc;
  TetherChangeTracker *tracker;
  guint                appended;
} Fixture;

static void
on_appended (TetherChangeTracker *tracker, Fixture *f)
{
  f->appended++;
}

static void
open_store (Fixture *f)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = NULL;

  f->db = tether_test_open (f->path, schema);
  g_assert_true (_tether_sync_store_ensure (f->db, &error));
  g_assert_no_error (error);
  client_id = _tether_sync_store_client_id (f->db, &error);
  g_assert_no_error (error);
  f->notes = tether_database_get_collection (f->db, "notes", NULL);
  f->hlc = tether_hlc_new (client_id);
  f->tracker = _tether_change_tracker_new (f->db, f->hlc);
  g_signal_connect (f->tracker, "appended", G_CALLBACK (on_appended), f);
  tether_database_add_hook (f->db, TETHER_WRITE_HOOK (f->tracker));
}

static void
close_store (Fixture *f)
{
  tether_database_remove_hook (f->db, TETHER_WRITE_HOOK (f->tracker));
  g_assert_finalize_object (f->tracker);
  g_assert_finalize_object (f->db);
  g_clear_pointer (&f->hlc, tether_hlc_free);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = tether_test_dir_new ();
  f->path = g_build_filename (f->dir, "store.db", NULL);
  open_store (f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  close_store (f);
  g_free (f->path);
  tether_test_dir_free (f->dir);
}

/* Helpers ------------------------------------------------------------------- */

static GPtrArray *
list (Fixture *f, int status)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *rows = _tether_sync_store_list (f->db, status, 0, &error);

  g_assert_no_error (error);
  return rows;
}

static TetherChangeRow *
row_at (GPtrArray *rows, guint i)
{
  return g_ptr_array_index (rows, i);
}

/* Appends a change of notes/@record_id, as the tracker would, with @status. */
static TetherChangeRow *
append (Fixture *f, const char *record_id, TetherChangeType type,
        const char *prev_data, const char *data, TetherChangeStatus status)
{
  g_autoptr(GError) error = NULL;
  TetherChangeRow *row = g_new0 (TetherChangeRow, 1);

  row->id = tether_uuid_v7_new ();
  row->collection = g_strdup ("notes");
  row->record_id = g_strdup (record_id);
  row->type = type;
  row->data = g_strdup (data);
  row->prev_data = g_strdup (prev_data);
  row->hlc = tether_hlc_tick (f->hlc);
  row->timestamp = row->created = row->updated = tether_time_now_ms ();
  row->status = status;
  g_assert_true (_tether_sync_store_append (f->db, row, &error));
  g_assert_no_error (error);
  g_assert_cmpint (row->seq, >, 0);
  return row;
}

static void
append_drop (Fixture *f, const char *record_id, TetherChangeType type,
             const char *prev_data, const char *data, TetherChangeStatus status)
{
  _tether_change_row_free (append (f, record_id, type, prev_data, data, status));
}

static void
save_open_conflict (Fixture *f, const char *id, const char *record_id)
{
  g_autoptr(TetherConflict) conflict = tether_conflict_new (id, "notes", record_id);
  g_autoptr(GError) error = NULL;

  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  g_assert_true (_tether_sync_store_save_conflict (f->db, conflict, &error));
  g_assert_no_error (error);
}

/* The tracker ---------------------------------------------------------------- */

static void
test_tracker_logs_writes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) created = tether_test_create (f->notes, "{\"id\": \"n1\", \"title\": \"one\"}");
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"two\"}");
  g_autoptr(TetherRecord) updated = tether_collection_update (f->notes, "n1", patch, &error);
  g_autoptr(GPtrArray) rows = NULL;

  g_assert_no_error (error);
  g_assert_true (tether_collection_delete (f->notes, "n1", &error));
  rows = list (f, -1);
  g_assert_cmpuint (rows->len, ==, 3);
  g_assert_cmpuint (f->appended, ==, 3);

  g_assert_cmpint (row_at (rows, 0)->type, ==, TETHER_CHANGE_CREATE);
  g_assert_null (row_at (rows, 0)->prev_data);
  g_assert_nonnull (strstr (row_at (rows, 0)->data, "\"one\""));
  g_assert_cmpint (row_at (rows, 1)->type, ==, TETHER_CHANGE_UPDATE);
  g_assert_nonnull (strstr (row_at (rows, 1)->prev_data, "\"one\""));
  g_assert_nonnull (strstr (row_at (rows, 1)->data, "\"two\""));
  g_assert_cmpint (row_at (rows, 2)->type, ==, TETHER_CHANGE_DELETE);
  g_assert_null (row_at (rows, 2)->data);
  g_assert_nonnull (strstr (row_at (rows, 2)->prev_data, "\"two\""));
  for (guint i = 0; i < rows->len; i++)
    {
      TetherChangeRow *row = row_at (rows, i);

      g_assert_cmpstr (row->collection, ==, "notes");
      g_assert_cmpstr (row->record_id, ==, "n1");
      g_assert_true (tether_uuid_is_valid (row->id));
      g_assert_cmpint (row->status, ==, TETHER_CHANGE_PENDING);
      g_assert_cmpint (row->base_rev, ==, 0);
      g_assert_cmpint (row->created, ==, row->timestamp);
      g_assert_cmpint (row->updated, ==, row->timestamp);
      g_assert_null (row->push_id);
      if (i > 0)
        {
          g_assert_cmpint (tether_hlc_compare (row_at (rows, i - 1)->hlc, row->hlc), <, 0);
          g_assert_cmpint (row_at (rows, i - 1)->seq, <, row->seq);
        }
    }
}

static void
test_tracker_rollback_leaves_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) draft = NULL;
  g_autoptr(GPtrArray) rows = NULL;

  g_assert_true (tether_database_begin (f->db, &error));
  draft = tether_test_create (f->notes, "{\"title\": \"draft\"}");
  tether_database_rollback (f->db);

  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
  rows = list (f, -1);
  g_assert_cmpuint (rows->len, ==, 0);
}

static void
test_tracker_refused_write_leaves_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(TestRefusingHook) hook = g_object_new (TEST_TYPE_REFUSING_HOOK, NULL);
  g_autoptr(JsonObject) object = tether_test_object ("{\"title\": \"forbidden\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) refused = NULL;
  g_autoptr(GPtrArray) rows = NULL;

  tether_database_add_hook (f->db, TETHER_WRITE_HOOK (hook));
  refused = tether_collection_create (f->notes, object, &error);
  tether_database_remove_hook (f->db, TETHER_WRITE_HOOK (hook));
  g_assert_null (refused);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);

  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
  rows = list (f, -1);
  g_assert_cmpuint (rows->len, ==, 0);
}

/* The change log ------------------------------------------------------------- */

static void
test_log_order_and_outbox (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) two = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GPtrArray) failed = NULL;
  g_autoptr(GPtrArray) of_b = NULL;

  append_drop (f, "a", TETHER_CHANGE_CREATE, NULL, "{\"id\":\"a\"}", TETHER_CHANGE_PENDING);
  append_drop (f, "b", TETHER_CHANGE_CREATE, NULL, "{\"id\":\"b\"}", TETHER_CHANGE_SYNCING);
  append_drop (f, "c", TETHER_CHANGE_CREATE, NULL, "{\"id\":\"c\"}", TETHER_CHANGE_FAILED);
  append_drop (f, "b", TETHER_CHANGE_UPDATE, "{\"id\":\"b\"}", "{\"id\":\"b\",\"x\":1}", TETHER_CHANGE_PENDING);
  append_drop (f, "d", TETHER_CHANGE_CREATE, NULL, "{\"id\":\"d\"}", TETHER_CHANGE_PENDING);

  all = list (f, -1);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 1; i < all->len; i++)
    g_assert_cmpint (row_at (all, i - 1)->seq, <, row_at (all, i)->seq);
  two = _tether_sync_store_list (f->db, -1, 2, &error);
  g_assert_cmpuint (two->len, ==, 2);
  failed = list (f, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (failed->len, ==, 1);
  g_assert_cmpstr (row_at (failed, 0)->record_id, ==, "c");
  of_b = _tether_sync_store_record_changes (f->db, "notes", "b", &error);
  g_assert_cmpuint (of_b->len, ==, 2);

  /* Pending and syncing, log order, without the record in conflict. */
  save_open_conflict (f, "k1", "d");
  outbox = _tether_sync_store_outbox (f->db, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_assert_cmpstr (row_at (outbox, 0)->record_id, ==, "a");
  g_assert_cmpstr (row_at (outbox, 1)->record_id, ==, "b");
  g_assert_cmpint (row_at (outbox, 1)->status, ==, TETHER_CHANGE_SYNCING);
  g_assert_cmpstr (row_at (outbox, 2)->record_id, ==, "b");
  g_clear_pointer (&outbox, g_ptr_array_unref);
  outbox = _tether_sync_store_outbox (f->db, 1, NULL, &error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_clear_pointer (&outbox, g_ptr_array_unref);
  /* the limit counts records: both of b's rows come with it */
  outbox = _tether_sync_store_outbox (f->db, 2, NULL, &error);
  g_assert_cmpuint (outbox->len, ==, 3);
  g_assert_true (_tether_sync_store_has_open_conflict (f->db, "notes", "d"));
  g_assert_false (_tether_sync_store_has_open_conflict (f->db, "notes", "a"));
}

static void
test_update_and_delete_change (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) row = append (f, "a", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  g_autoptr(TetherChangeRow) read = NULL;
  g_autoptr(TetherChangeRow) missing = NULL;

  row->status = TETHER_CHANGE_FAILED;
  row->retries = 3;
  row->error = g_strdup ("title is required");
  row->push_id = g_strdup ("p-1");
  row->base_rev = 41;
  row->updated = 0;
  g_assert_true (_tether_sync_store_update_change (f->db, row, &error));
  g_assert_no_error (error);
  g_assert_cmpint (row->updated, >, 0);

  read = _tether_sync_store_get_change (f->db, row->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_FAILED);
  g_assert_cmpuint (read->retries, ==, 3);
  g_assert_cmpstr (read->error, ==, "title is required");
  g_assert_cmpstr (read->push_id, ==, "p-1");
  g_assert_cmpint (read->base_rev, ==, 41);
  g_assert_cmpint (read->updated, ==, row->updated);

  g_assert_true (_tether_sync_store_delete_change (f->db, row->seq, &error));
  missing = _tether_sync_store_get_change (f->db, row->id, &error);
  g_assert_null (missing);
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  /* An update of a row that is gone says so. */
  g_assert_false (_tether_sync_store_update_change (f->db, row, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND);
}

static void
test_reset_syncing_keeps_push_id (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) row = append (f, "a", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_SYNCING);
  g_autoptr(TetherChangeRow) read = NULL;

  append_drop (f, "b", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  row->push_id = g_strdup ("push-7");
  g_assert_true (_tether_sync_store_update_change (f->db, row, &error));
  g_assert_cmpint (_tether_sync_store_reset_syncing (f->db, &error), ==, 1);
  g_assert_no_error (error);
  read = _tether_sync_store_get_change (f->db, row->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_PENDING);
  g_assert_cmpstr (read->push_id, ==, "push-7");
  g_assert_cmpint (_tether_sync_store_reset_syncing (f->db, &error), ==, 0);
}

static void
test_stats_and_committed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  TetherSyncStats stats = { 0, };
  g_autoptr(GPtrArray) rows = NULL;

  append_drop (f, "a", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  append_drop (f, "b", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  append_drop (f, "c", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_SYNCING);
  append_drop (f, "d", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_COMMITTED);
  append_drop (f, "e", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_FAILED);
  save_open_conflict (f, "k1", "a");
  save_open_conflict (f, "k2", "b");

  g_assert_true (_tether_sync_store_stats (f->db, &stats, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.total, ==, 5);
  g_assert_cmpuint (stats.pending, ==, 2);
  g_assert_cmpuint (stats.syncing, ==, 1);
  g_assert_cmpuint (stats.committed, ==, 1);
  g_assert_cmpuint (stats.failed, ==, 1);
  g_assert_cmpuint (stats.conflicts_open, ==, 2);

  g_assert_true (_tether_sync_store_delete_committed (f->db, &error));
  rows = list (f, TETHER_CHANGE_COMMITTED);
  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_true (_tether_sync_store_stats (f->db, &stats, &error));
  g_assert_cmpuint (stats.total, ==, 4);
}

static void
test_retry_failed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) row = append (f, "a", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_FAILED);
  g_autoptr(TetherChangeRow) read = NULL;

  append_drop (f, "b", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  row->retries = 5;
  row->error = g_strdup ("out of retries");
  g_assert_true (_tether_sync_store_update_change (f->db, row, &error));
  g_assert_cmpint (_tether_sync_store_retry_failed (f->db, &error), ==, 1);
  g_assert_no_error (error);
  read = _tether_sync_store_get_change (f->db, row->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (read->retries, ==, 0);
  g_assert_null (read->error);
  g_assert_cmpint (_tether_sync_store_retry_failed (f->db, &error), ==, 0);
}

/* A failed entry whose record has a newer entry on the wire (a sync in
 * another process) is not revived: the answer to the newer one commits
 * it, and sent after it, its older data would replace the newer on a
 * server that does not check bases. One with nothing newer, or only a
 * newer pending entry, is revived. */
static void
test_retry_failed_superseded (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) old = append (f, "a", TETHER_CHANGE_UPDATE, "{}", "{\"v\":1}", TETHER_CHANGE_FAILED);
  g_autoptr(TetherChangeRow) lone = append (f, "b", TETHER_CHANGE_UPDATE, "{}", "{\"v\":1}", TETHER_CHANGE_FAILED);
  g_autoptr(TetherChangeRow) read = NULL;

  append_drop (f, "a", TETHER_CHANGE_UPDATE, "{\"v\":1}", "{\"v\":2}", TETHER_CHANGE_SYNCING);
  append_drop (f, "b", TETHER_CHANGE_UPDATE, "{\"v\":1}", "{\"v\":2}", TETHER_CHANGE_PENDING);
  g_assert_cmpint (_tether_sync_store_retry_failed (f->db, &error), ==, 1);
  g_assert_no_error (error);
  read = _tether_sync_store_get_change (f->db, old->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_COMMITTED);
  g_clear_pointer (&read, _tether_change_row_free);
  read = _tether_sync_store_get_change (f->db, lone->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_PENDING);
}

/* A newer entry sent under a push_id whose answer was lost is back to
 * pending, and goes out again before anything else of its record: it
 * may be on the server already, and carries the record's whole state. A
 * failed older entry revived now would be sent after it, alone (rows
 * behind a push_id wait for its answer), older data over newer on a
 * server that does not check bases. It is committed instead. */
static void
test_retry_failed_sent_pending (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) old = append (f, "a", TETHER_CHANGE_UPDATE, "{}", "{\"v\":1}", TETHER_CHANGE_FAILED);
  g_autoptr(TetherChangeRow) sent = append (f, "a", TETHER_CHANGE_UPDATE, "{\"v\":1}", "{\"v\":2}",
                                            TETHER_CHANGE_PENDING);
  g_autoptr(TetherChangeRow) read = NULL;

  sent->push_id = g_strdup (sent->id);
  g_assert_true (_tether_sync_store_update_state (f->db, sent, &error));
  g_assert_no_error (error);
  g_assert_cmpint (_tether_sync_store_retry_failed (f->db, &error), ==, 0);
  g_assert_no_error (error);
  read = _tether_sync_store_get_change (f->db, old->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_COMMITTED);
  g_clear_pointer (&read, _tether_change_row_free);
  read = _tether_sync_store_get_change (f->db, sent->id, &error);
  g_assert_cmpint (read->status, ==, TETHER_CHANGE_PENDING);
  g_assert_cmpstr (read->push_id, ==, sent->id);
}

static void
test_discard (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) pending = append (f, "a", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_PENDING);
  g_autoptr(TetherChangeRow) failed = append (f, "b", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_FAILED);
  g_autoptr(TetherChangeRow) syncing = append (f, "c", TETHER_CHANGE_CREATE, NULL, "{}", TETHER_CHANGE_SYNCING);
  g_autoptr(GPtrArray) rows = NULL;

  g_assert_true (_tether_sync_store_discard (f->db, pending->id, &error));
  g_assert_true (_tether_sync_store_discard (f->db, failed->id, &error));
  g_assert_no_error (error);

  g_assert_false (_tether_sync_store_discard (f->db, syncing->id, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, syncing->id));
  g_clear_error (&error);

  g_assert_false (_tether_sync_store_discard (f->db, "no-such-change", &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-change"));

  rows = list (f, -1);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (row_at (rows, 0)->id, ==, syncing->id);
  g_assert_cmpuint (tether_database_get_transaction_depth (f->db), ==, 0);
}

/* Compaction ----------------------------------------------------------------- */

static GPtrArray *
record_rows (Fixture *f, const char *record_id)
{
  g_autoptr(GPtrArray) all = list (f, -1);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_change_row_free);

  for (guint i = 0; i < all->len; i++)
    if (g_str_equal (row_at (all, i)->record_id, record_id))
      g_ptr_array_add (rows, g_ptr_array_steal_index (all, i--));
  return rows;
}

static void
test_compact (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherChangeRow) last_create = NULL;
  g_autoptr(TetherChangeRow) pushed = NULL;
  g_autoptr(GPtrArray) r1 = NULL, r2 = NULL, r3 = NULL, r4 = NULL;
  g_autoptr(GPtrArray) r5 = NULL, r6 = NULL, r7 = NULL, r8 = NULL;
  const TetherChangeType C = TETHER_CHANGE_CREATE, U = TETHER_CHANGE_UPDATE, D = TETHER_CHANGE_DELETE;
  const TetherChangeStatus P = TETHER_CHANGE_PENDING;

  /* r1: create + updates → one create; r2: create … delete → nothing. */
  append_drop (f, "r1", C, NULL, "{\"v\":1}", P);
  append_drop (f, "r2", C, NULL, "{\"v\":1}", P);
  append_drop (f, "r1", U, "{\"v\":1}", "{\"v\":2}", P);
  append_drop (f, "r2", U, "{\"v\":1}", "{\"v\":2}", P);
  last_create = append (f, "r1", U, "{\"v\":2}", "{\"v\":3}", P);
  append_drop (f, "r2", D, "{\"v\":2}", NULL, P);
  /* r3: updates → one update; r4: update + delete → one delete. */
  append_drop (f, "r3", U, "{\"v\":0}", "{\"v\":1}", P);
  append_drop (f, "r3", U, "{\"v\":1}", "{\"v\":2}", P);
  append_drop (f, "r4", U, "{\"v\":0}", "{\"v\":1}", P);
  append_drop (f, "r4", D, "{\"v\":1}", NULL, P);
  /* r5: a failed row is left alone, the pending ones around it squash. */
  append_drop (f, "r5", U, "{\"v\":0}", "{\"v\":1}", P);
  append_drop (f, "r5", U, "{\"v\":1}", "{\"v\":2}", TETHER_CHANGE_FAILED);
  append_drop (f, "r5", U, "{\"v\":2}", "{\"v\":3}", P);
  /* r6: being sent; r7: sent once already (push_id): both untouched. */
  append_drop (f, "r6", U, "{\"v\":0}", "{\"v\":1}", TETHER_CHANGE_SYNCING);
  append_drop (f, "r6", U, "{\"v\":1}", "{\"v\":2}", P);
  append_drop (f, "r6", U, "{\"v\":2}", "{\"v\":3}", P);
  pushed = append (f, "r7", U, "{\"v\":0}", "{\"v\":1}", P);
  pushed->push_id = g_strdup ("push-1");
  g_assert_true (_tether_sync_store_update_change (f->db, pushed, &error));
  append_drop (f, "r7", U, "{\"v\":1}", "{\"v\":2}", P);
  /* r8: a single change stays as it is. */
  append_drop (f, "r8", C, NULL, "{\"v\":1}", P);

  g_assert_cmpint (_tether_sync_store_compact (f->db, &error), ==, 2 + 3 + 1 + 1 + 1);
  g_assert_no_error (error);

  r1 = record_rows (f, "r1");
  g_assert_cmpuint (r1->len, ==, 1);
  g_assert_cmpint (row_at (r1, 0)->type, ==, C);
  g_assert_cmpstr (row_at (r1, 0)->data, ==, "{\"v\":3}");
  g_assert_null (row_at (r1, 0)->prev_data);
  g_assert_cmpstr (row_at (r1, 0)->id, ==, last_create->id);
  g_assert_cmpstr (row_at (r1, 0)->hlc, ==, last_create->hlc);
  g_assert_cmpint (row_at (r1, 0)->timestamp, ==, last_create->timestamp);
  r2 = record_rows (f, "r2");
  g_assert_cmpuint (r2->len, ==, 0);
  r3 = record_rows (f, "r3");
  g_assert_cmpuint (r3->len, ==, 1);
  g_assert_cmpint (row_at (r3, 0)->type, ==, U);
  g_assert_cmpstr (row_at (r3, 0)->prev_data, ==, "{\"v\":0}");
  g_assert_cmpstr (row_at (r3, 0)->data, ==, "{\"v\":2}");
  r4 = record_rows (f, "r4");
  g_assert_cmpuint (r4->len, ==, 1);
  g_assert_cmpint (row_at (r4, 0)->type, ==, D);
  g_assert_cmpstr (row_at (r4, 0)->prev_data, ==, "{\"v\":0}");
  g_assert_null (row_at (r4, 0)->data);
  r5 = record_rows (f, "r5");
  g_assert_cmpuint (r5->len, ==, 2);
  g_assert_cmpint (row_at (r5, 0)->status, ==, TETHER_CHANGE_FAILED);
  g_assert_cmpstr (row_at (r5, 0)->data, ==, "{\"v\":2}");
  g_assert_cmpstr (row_at (r5, 1)->prev_data, ==, "{\"v\":0}");
  g_assert_cmpstr (row_at (r5, 1)->data, ==, "{\"v\":3}");
  r6 = record_rows (f, "r6");
  g_assert_cmpuint (r6->len, ==, 3);
  r7 = record_rows (f, "r7");
  g_assert_cmpuint (r7->len, ==, 2);
  r8 = record_rows (f, "r8");
  g_assert_cmpuint (r8->len, ==, 1);

  g_assert_cmpint (_tether_sync_store_compact (f->db, &error), ==, 0);
}

/* Shadow --------------------------------------------------------------------- */

static void
test_shadow (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *hlc = NULL;
  gint64 rev = -1;

  g_assert_true (_tether_sync_store_shadow_get (f->db, "notes", "a", &rev, &text, &hlc, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rev, ==, 0);
  g_assert_null (text);
  g_assert_null (hlc);

  g_assert_true (_tether_sync_store_shadow_set (f->db, "notes", "a", 3, "{\"v\":1}", "h1", &error));
  g_assert_true (_tether_sync_store_shadow_get (f->db, "notes", "a", &rev, &text, &hlc, &error));
  g_assert_cmpint (rev, ==, 3);
  g_assert_cmpstr (text, ==, "{\"v\":1}");
  g_assert_cmpstr (hlc, ==, "h1");
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&hlc, g_free);

  /* A tombstone keeps the rev of the delete. */
  g_assert_true (_tether_sync_store_shadow_set (f->db, "notes", "a", 4, NULL, "h2", &error));
  g_assert_true (_tether_sync_store_shadow_get (f->db, "notes", "a", &rev, &text, &hlc, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rev, ==, 4);
  g_assert_null (text);
  g_assert_cmpstr (hlc, ==, "h2");
  g_assert_true (_tether_sync_store_shadow_get (f->db, "notes", "a", NULL, NULL, NULL, &error));
}

/* Conflicts ------------------------------------------------------------------ */

static TetherConflict *
full_conflict (void)
{
  TetherConflict *c = tether_conflict_new ("k-full", "notes", "n1");
  g_autoptr(JsonObject) local = tether_test_object ("{\"id\":\"n1\",\"title\":\"mine\",\"tags\":[\"a\"]}");
  g_autoptr(JsonObject) remote = tether_test_object ("{\"id\":\"n1\",\"title\":\"theirs\"}");
  g_autoptr(JsonObject) base = tether_test_object ("{\"id\":\"n1\",\"title\":\"base\"}");
  g_autoptr(JsonObject) result = tether_test_object ("{\"id\":\"n1\",\"title\":\"theirs\",\"tags\":[\"a\"]}");
  const char *fields[] = { "title", NULL };
  const char *local_lost[] = { "title", NULL };
  const char *remote_lost[] = { NULL };

  tether_conflict_set_local (c, local, "0001700000000000-0000-a");
  tether_conflict_set_remote (c, remote, "0001700000000001-0000-b", 42);
  tether_conflict_set_base (c, base);
  tether_conflict_set_result (c, result, TETHER_CONFLICT_WINNER_MERGED);
  tether_conflict_set_strategy (c, TETHER_CONFLICT_STRATEGY_MERGE);
  tether_conflict_set_status (c, TETHER_CONFLICT_RESOLVED, 1700000005000);
  tether_conflict_set_fields (c, fields, local_lost, remote_lost);
  tether_conflict_set_deleted (c, FALSE, TRUE);
  tether_conflict_set_created (c, 1700000004000);
  return c;
}

static void
assert_same_conflict (TetherConflict *a, TetherConflict *b)
{
  g_autoptr(JsonNode) ja = tether_conflict_to_json (a);
  g_autoptr(JsonNode) jb = tether_conflict_to_json (b);
  g_autofree char *ta = json_to_string (ja, FALSE);
  g_autofree char *tb = json_to_string (jb, FALSE);

  /* to_json carries every field, so equal JSON is an equal conflict. */
  g_assert_cmpstr (ta, ==, tb);
  g_assert_cmpint (tether_conflict_get_created (a), ==, tether_conflict_get_created (b));
  g_assert_cmpint (tether_conflict_get_resolved (a), ==, tether_conflict_get_resolved (b));
}

static void
test_conflict_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherConflict) saved = full_conflict ();
  g_autoptr(TetherConflict) read = NULL;
  g_autoptr(TetherConflict) missing = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) open = NULL;
  g_autoptr(JsonNode) json = NULL;
  JsonObject *object;

  g_assert_true (_tether_sync_store_save_conflict (f->db, saved, &error));
  g_assert_no_error (error);
  read = _tether_sync_store_get_conflict (f->db, "k-full", &error);
  g_assert_no_error (error);
  assert_same_conflict (saved, read);
  g_assert_cmpstr (tether_conflict_get_remote_lost (read)[0], ==, NULL);
  g_assert_true (tether_conflict_get_remote_deleted (read));
  g_assert_cmpint (tether_conflict_get_remote_rev (read), ==, 42);

  json = tether_conflict_to_json (read);
  object = json_node_get_object (json);
  g_assert_cmpstr (json_object_get_string_member (object, "winner"), ==, "merged");
  g_assert_cmpstr (json_object_get_string_member (object, "strategy"), ==, "merge");
  g_assert_cmpstr (json_object_get_string_member (object, "created"), ==, "2023-11-14T22:13:24.000Z");

  /* Saving again replaces; open ones list apart. */
  tether_conflict_set_status (saved, TETHER_CONFLICT_OPEN, 0);
  tether_conflict_set_result (saved, NULL, TETHER_CONFLICT_WINNER_NONE);
  g_assert_true (_tether_sync_store_save_conflict (f->db, saved, &error));
  save_open_conflict (f, "k-other", "n2");
  all = _tether_sync_store_list_conflicts (f->db, FALSE, &error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpstr (tether_conflict_get_id (g_ptr_array_index (all, 0)), ==, "k-full");
  open = _tether_sync_store_list_conflicts (f->db, TRUE, &error);
  g_assert_cmpuint (open->len, ==, 2);
  assert_same_conflict (saved, g_ptr_array_index (open, 0));

  missing = _tether_sync_store_get_conflict (f->db, "k-none", &error);
  g_assert_null (missing);
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_FOUND);
}

/* Events --------------------------------------------------------------------- */

static void
test_event_ring (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = NULL;
  TetherSyncEvent *first, *last;

  for (guint i = 1; i <= TETHER_SYNC_EVENT_LOG_SIZE + 5; i++)
    {
      TetherSyncEvent event = {
        .at_ms = i,
        .phase = i % 2 ? TETHER_SYNC_PHASE_DONE : TETHER_SYNC_PHASE_FAILED,
        .report = { .pushed = i, .merged = 2 * i, .duration_ms = 10 * i },
        .error = i % 2 ? NULL : (char *) "offline",
      };

      g_assert_true (_tether_sync_store_add_event (f->db, &event, &error));
      g_assert_no_error (error);
    }
  events = _tether_sync_store_list_events (f->db, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (events->len, ==, TETHER_SYNC_EVENT_LOG_SIZE);
  first = g_ptr_array_index (events, 0);
  last = g_ptr_array_index (events, events->len - 1);
  g_assert_cmpint (first->at_ms, ==, 6);
  g_assert_cmpint (first->phase, ==, TETHER_SYNC_PHASE_FAILED);
  g_assert_cmpstr (first->error, ==, "offline");
  g_assert_cmpint (last->at_ms, ==, TETHER_SYNC_EVENT_LOG_SIZE + 5);
  g_assert_cmpint (last->phase, ==, TETHER_SYNC_PHASE_DONE);
  g_assert_null (last->error);
  g_assert_cmpuint (last->report.pushed, ==, TETHER_SYNC_EVENT_LOG_SIZE + 5);
  g_assert_cmpuint (last->report.merged, ==, 2 * (TETHER_SYNC_EVENT_LOG_SIZE + 5));
  g_assert_cmpint (last->report.duration_ms, ==, 10 * (TETHER_SYNC_EVENT_LOG_SIZE + 5));
}

/* The sync lock -------------------------------------------------------------- */

/* Field 22 of /proc/<pid>/stat: the start time the store compares. */
static guint64
start_ticks (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  guint64 ticks = 0;
  char *p;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  p = strrchr (contents, ')') + 2;
  for (guint field = 3; field < 22; field++)
    p = strchr (p, ' ') + 1;
  ticks = g_ascii_strtoull (p, NULL, 10);
  g_assert_cmpuint (ticks, >, 0);
  return ticks;
}

static void
set_lock (Fixture *f, const char *host, pid_t pid, guint64 start, gint64 expiry)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_strdup_printf ("%s:%d:%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT,
                                            host, (int) pid, start, expiry);

  g_assert_true (_tether_database_meta_set (f->db, "sync.lock", value, &error));
  g_assert_no_error (error);
}

static char *
get_lock (Fixture *f)
{
  return _tether_database_meta_get (f->db, "sync.lock", NULL);
}

static gboolean
try_lock (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  gboolean taken = _tether_sync_store_lock (f->db, 60000, &error);

  g_assert_no_error (error);
  return taken;
}

static pid_t
dead_pid (void)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return pid;
}

static void
test_lock_ours (Fixture *f, gconstpointer data)
{
  g_autofree char *prefix = g_strdup_printf ("%s:%d:", g_get_host_name (), (int) getpid ());
  g_autofree char *value = NULL;
  g_autofree char *after = NULL;

  g_assert_true (try_lock (f));
  value = get_lock (f);
  g_assert_true (g_str_has_prefix (value, prefix));
  g_assert_false (_tether_sync_store_lock_held_elsewhere (f->db));
  /* Ours again: renewed. */
  g_assert_true (try_lock (f));
  _tether_sync_store_unlock (f->db);
  after = get_lock (f);
  g_assert_null (after);
  g_assert_cmpuint (tether_database_get_transaction_depth (f->db), ==, 0);
}

static void
test_lock_live_other (Fixture *f, gconstpointer data)
{
  pid_t parent = getppid ();
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  set_lock (f, g_get_host_name (), parent, start_ticks (parent), tether_time_now_ms () + 60000);
  before = get_lock (f);
  g_assert_false (try_lock (f));
  g_assert_true (_tether_sync_store_lock_held_elsewhere (f->db));
  /* Not ours to release. */
  _tether_sync_store_unlock (f->db);
  after = get_lock (f);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpuint (tether_database_get_transaction_depth (f->db), ==, 0);

  /* Past its expiry, a live process on this host still holds it: its
   * sync may simply be long. */
  set_lock (f, g_get_host_name (), parent, start_ticks (parent), tether_time_now_ms () - 1);
  g_assert_true (_tether_sync_store_lock_held_elsewhere (f->db));
  g_assert_false (try_lock (f));

  /* A live pid with another start time is a reused pid: the owner is gone. */
  set_lock (f, g_get_host_name (), parent, start_ticks (parent) + 1, tether_time_now_ms () + 60000);
  g_assert_false (_tether_sync_store_lock_held_elsewhere (f->db));
  g_assert_true (try_lock (f));
}

static void
test_lock_dead_and_expired (Fixture *f, gconstpointer data)
{
  pid_t dead = dead_pid ();

  set_lock (f, g_get_host_name (), dead, 0, tether_time_now_ms () + 60000);
  g_assert_false (_tether_sync_store_lock_held_elsewhere (f->db));
  g_assert_true (try_lock (f));

  /* Another host's process cannot be checked: it holds until expiry. */
  set_lock (f, "elsewhere.example", 4242, 1, tether_time_now_ms () + 60000);
  g_assert_true (_tether_sync_store_lock_held_elsewhere (f->db));
  g_assert_false (try_lock (f));
  set_lock (f, "elsewhere.example", 4242, 1, tether_time_now_ms () - 1);
  g_assert_false (_tether_sync_store_lock_held_elsewhere (f->db));
  g_assert_true (try_lock (f));

  /* A damaged value does not block syncing forever. */
  g_assert_true (_tether_database_meta_set (f->db, "sync.lock", "garbage", NULL));
  g_assert_true (try_lock (f));
}

/* Client id ------------------------------------------------------------------ */

static void
test_client_id_stable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *first = _tether_sync_store_client_id (f->db, &error);
  g_autofree char *again = NULL;

  g_assert_no_error (error);
  g_assert_true (tether_uuid_is_valid (first));
  close_store (f);
  open_store (f);
  again = _tether_sync_store_client_id (f->db, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, first);
}

/* Snapshots ------------------------------------------------------------------ */

static void
test_change_snapshot (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherChangeRow) row = append (f, "a", TETHER_CHANGE_DELETE,
                                           "{\"id\":\"a\",\"name\":\"Groceries\"}", NULL,
                                           TETHER_CHANGE_PENDING);
  g_autoptr(TetherSyncChange) change = _tether_sync_change_new (row);
  g_autoptr(JsonNode) json = tether_sync_change_to_json (change);
  JsonObject *object = json_node_get_object (json);
  g_autofree char *status = NULL;

  g_assert_cmpstr (tether_sync_change_get_title (change), ==, "Groceries");
  g_assert_cmpstr (tether_sync_change_get_id (change), ==, row->id);
  g_assert_cmpint (tether_sync_change_get_seq (change), ==, row->seq);
  g_assert_cmpstr (json_object_get_string_member (object, "recordId"), ==, "a");
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, "delete");
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "pending");
  g_assert_true (json_object_get_null_member (object, "data"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "prevData"),
                                                  "name"), ==, "Groceries");
  g_object_get (change, "hlc", &status, NULL);
  g_assert_cmpstr (status, ==, row->hlc);
}

static gint64
count_sql (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  n = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

/* Turns the fixture's file into one from before the payload moved to
 * _tether_change_data, with two entries. */
static void
make_old_layout (Fixture *f)
{
  sqlite3 *db = NULL;

  close_store (f);
  g_assert_cmpint (sqlite3_open (f->path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
    "DROP TRIGGER _tether_changes_ad; DROP TABLE _tether_change_data; DROP TABLE _tether_changes;"
    "CREATE TABLE _tether_changes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " collection TEXT NOT NULL, record_id TEXT NOT NULL, type INTEGER NOT NULL,"
    " data TEXT, prev_data TEXT, base_rev INTEGER NOT NULL DEFAULT 0,"
    " hlc TEXT NOT NULL, timestamp INTEGER NOT NULL, status INTEGER NOT NULL,"
    " retries INTEGER NOT NULL DEFAULT 0, error TEXT, push_id TEXT,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX _tether_changes_record ON _tether_changes (collection, record_id);"
    "INSERT INTO _tether_changes VALUES (1, 'c-1', 'notes', 'a', 0, '{\"title\":\"one\"}', NULL,"
    " 0, 'h1', 1, 0, 0, NULL, NULL, 1, 1);"
    "INSERT INTO _tether_changes VALUES (2, 'c-2', 'notes', 'a', 1, '{\"title\":\"two\"}',"
    " '{\"title\":\"one\"}', 3, 'h2', 2, 2, 0, NULL, 'c-2', 2, 2);",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* Opening such a file moves every entry's data and prev_data, and the log
 * reads as before. */
static void
test_old_layout (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;

  make_old_layout (f);
  open_store (f);
  rows = list (f, -1);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpstr (row_at (rows, 0)->data, ==, "{\"title\":\"one\"}");
  g_assert_null (row_at (rows, 0)->prev_data);
  g_assert_cmpstr (row_at (rows, 1)->data, ==, "{\"title\":\"two\"}");
  g_assert_cmpstr (row_at (rows, 1)->prev_data, ==, "{\"title\":\"one\"}");
  g_assert_cmpint (row_at (rows, 1)->base_rev, ==, 3);
  g_assert_cmpstr (row_at (rows, 1)->push_id, ==, "c-2");
  g_assert_cmpint (count_sql (f->path, "SELECT count(*) FROM pragma_table_info ('_tether_changes')"
                              " WHERE name IN ('data', 'prev_data')"), ==, 0);

  /* an entry removed takes its payload with it */
  g_assert_true (_tether_sync_store_delete_committed (f->db, &error));
  g_assert_no_error (error);
  g_assert_cmpint (count_sql (f->path, "SELECT count(*) FROM _tether_change_data"), ==, 1);
}

/* The same file opened as the CLI and the app open one, without a sync
 * engine: the tracker is attached on open and its first write must find
 * the new layout. */
static void
test_old_layout_plain_open (Fixture *f, gconstpointer data)
{
  make_old_layout (f);
  {
    g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
    g_autoptr(TetherDatabase) db = tether_test_open (f->path, schema);
    TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
    g_autoptr(TetherRecord) created = tether_test_create (notes, "{\"id\": \"n9\", \"title\": \"new\"}");
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = _tether_sync_store_list (db, -1, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 3);
    g_assert_cmpstr (row_at (rows, 0)->data, ==, "{\"title\":\"one\"}");
    g_assert_nonnull (strstr (row_at (rows, 2)->data, "\"new\""));
    g_assert_finalize_object (g_steal_pointer (&created));
    tether_database_close (db);
  }
  g_assert_cmpint (count_sql (f->path, "SELECT count(*) FROM _tether_change_data"), ==, 3);
  open_store (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/tether/sync/store/" path, Fixture, NULL, setup, func, teardown)
  ADD ("tracker/logs-writes", test_tracker_logs_writes);
  ADD ("tracker/rollback", test_tracker_rollback_leaves_nothing);
  ADD ("tracker/refused", test_tracker_refused_write_leaves_nothing);
  ADD ("log/order-and-outbox", test_log_order_and_outbox);
  ADD ("log/update-delete", test_update_and_delete_change);
  ADD ("log/reset-syncing", test_reset_syncing_keeps_push_id);
  ADD ("log/stats", test_stats_and_committed);
  ADD ("log/retry-failed", test_retry_failed);
  ADD ("log/retry-failed-superseded", test_retry_failed_superseded);
  ADD ("log/retry-failed-sent-pending", test_retry_failed_sent_pending);
  ADD ("log/discard", test_discard);
  ADD ("log/compact", test_compact);
  ADD ("log/snapshot", test_change_snapshot);
  ADD ("log/old-layout", test_old_layout);
  ADD ("log/old-layout-plain-open", test_old_layout_plain_open);
  ADD ("shadow", test_shadow);
  ADD ("conflicts/round-trip", test_conflict_round_trip);
  ADD ("events/ring", test_event_ring);
  ADD ("lock/ours", test_lock_ours);
  ADD ("lock/live-other", test_lock_live_other);
  ADD ("lock/dead-and-expired", test_lock_dead_and_expired);
  ADD ("client-id/stable", test_client_id_stable);
#undef ADD

  return g_test_run ();
}
