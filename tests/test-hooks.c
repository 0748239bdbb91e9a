/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-hooks"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"

/* A hook like the sync change log: each write appends an audit record in the
 * same transaction, and a write whose title says "forbidden" is refused. */

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}}}," \
  " \"audit\": {\"fields\": {\"op\": {\"type\": \"string\"}, \"target\": {\"type\": \"string\"}}}}}"

#define TEST_TYPE_AUDIT_HOOK (test_audit_hook_get_type ())
G_DECLARE_FINAL_TYPE (TestAuditHook, test_audit_hook, TEST, AUDIT_HOOK, GObject)

struct _TestAuditHook
{
  GObject parent_instance;
  guint   calls;
  guint   depth_seen;   /* smallest transaction depth seen inside a hook */
};

static void test_audit_hook_iface_init (TetherWriteHookInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestAuditHook, test_audit_hook, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_WRITE_HOOK, test_audit_hook_iface_init))

static gboolean
audit (TestAuditHook *self, TetherCollection *collection, const char *op,
       TetherRecord *record, GError **error)
{
  TetherDatabase *db = tether_collection_get_database (collection);
  TetherCollection *log;
  g_autoptr(JsonObject) entry = json_object_new ();
  g_autoptr(TetherRecord) written = NULL;

  /* The audit log's own writes must not be audited again. */
  if (g_str_equal (tether_collection_get_name (collection), "audit"))
    return TRUE;
  self->calls++;
  self->depth_seen = MIN (self->depth_seen, tether_database_get_transaction_depth (db));
  if (g_strcmp0 (tether_record_get_string (record, "title", NULL), "forbidden") == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "the title 'forbidden' is not allowed");
      return FALSE;
    }
  log = tether_database_get_collection (db, "audit", error);
  json_object_set_string_member (entry, "op", op);
  json_object_set_string_member (entry, "target", tether_record_get_id (record));
  written = tether_collection_create (log, entry, error);
  return written != NULL;
}

static gboolean
after_create (TetherWriteHook *hook, TetherCollection *c, TetherRecord *record, GError **error)
{
  return audit (TEST_AUDIT_HOOK (hook), c, "create", record, error);
}

static gboolean
after_update (TetherWriteHook *hook, TetherCollection *c, TetherRecord *old_record,
              TetherRecord *new_record, GError **error)
{
  return audit (TEST_AUDIT_HOOK (hook), c, "update", new_record, error);
}

static gboolean
after_delete (TetherWriteHook *hook, TetherCollection *c, TetherRecord *old_record, GError **error)
{
  return audit (TEST_AUDIT_HOOK (hook), c, "delete", old_record, error);
}

static void
test_audit_hook_iface_init (TetherWriteHookInterface *iface)
{
  iface->after_create = after_create;
  iface->after_update = after_update;
  iface->after_delete = after_delete;
}

static void test_audit_hook_class_init (TestAuditHookClass *klass) { }
static void test_audit_hook_init (TestAuditHook *self) { self->depth_seen = G_MAXUINT; }

typedef struct {
  TetherDatabase   *db;
  TetherCollection *notes;
  TetherCollection *audit;
  TestAuditHook    *hook;
  guint             signals;
} Fixture;

static void
on_changed (TetherDatabase *db, const char *c, TetherChangeType t, const char *id,
            TetherRecord *o, TetherRecord *n, Fixture *f)
{
  f->signals++;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);

  f->db = tether_test_open (NULL, schema);
  f->notes = tether_database_get_collection (f->db, "notes", NULL);
  f->audit = tether_database_get_collection (f->db, "audit", NULL);
  f->hook = g_object_new (TEST_TYPE_AUDIT_HOOK, NULL);
  tether_database_add_hook (f->db, TETHER_WRITE_HOOK (f->hook));
  g_signal_connect (f->db, "changed", G_CALLBACK (on_changed), f);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_object_unref (f->hook);
  g_assert_finalize_object (f->db);
}

static TetherRecord *
note (Fixture *f, const char *title, GError **error)
{
  g_autoptr(JsonObject) object = json_object_new ();

  json_object_set_string_member (object, "title", title);
  return tether_collection_create (f->notes, object, error);
}

static void
test_hook_writes_in_transaction (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) a = note (f, "hello", &error);
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"hello again\"}");
  g_autoptr(TetherRecord) b = NULL;

  g_assert_no_error (error);
  b = tether_collection_update (f->notes, tether_record_get_id (a), patch, &error);
  g_assert_no_error (error);
  g_assert_true (tether_collection_delete (f->notes, tether_record_get_id (a), &error));
  g_assert_cmpuint (f->hook->calls, ==, 3);
  /* Hooks always run inside the write's transaction. */
  g_assert_cmpuint (f->hook->depth_seen, >=, 1);
  g_assert_cmpint (tether_collection_count (f->audit, NULL, NULL), ==, 3);
  /* 3 notes changes + 3 audit records, each announced after commit. */
  g_assert_cmpuint (f->signals, ==, 6);
}

static void
test_hook_refusal_rolls_back (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) ok = note (f, "fine", &error);
  g_autoptr(TetherRecord) refused = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"forbidden\"}");
  g_autoptr(TetherRecord) still = NULL;
  guint signals_before = f->signals;

  refused = note (f, "forbidden", &error);
  g_assert_null (refused);
  /* The hook's own error reaches the caller. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  g_assert_null (tether_collection_update (f->notes, tether_record_get_id (ok), patch, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  still = tether_collection_get (f->notes, tether_record_get_id (ok), &error);
  g_assert_cmpstr (tether_record_get_string (still, "title", NULL), ==, "fine");
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  g_assert_cmpint (tether_collection_count (f->audit, NULL, NULL), ==, 1);
  g_assert_cmpuint (f->signals, ==, signals_before);
  g_assert_cmpuint (tether_database_get_transaction_depth (f->db), ==, 0);
}

static void
test_outer_rollback_undoes_hook_writes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) a = NULL;

  g_assert_true (tether_database_begin (f->db, &error));
  a = note (f, "draft", &error);
  g_assert_nonnull (a);
  g_assert_cmpint (tether_collection_count (f->audit, NULL, NULL), ==, 1);
  tether_database_rollback (f->db);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
  g_assert_cmpint (tether_collection_count (f->audit, NULL, NULL), ==, 0);
  g_assert_cmpuint (f->signals, ==, 0);
}

static void
test_remove_hook (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = NULL;

  tether_database_remove_hook (f->db, TETHER_WRITE_HOOK (f->hook));
  a = note (f, "forbidden", NULL);
  g_assert_nonnull (a);
  g_assert_cmpuint (f->hook->calls, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/tether/hooks/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("write-in-transaction", test_hook_writes_in_transaction);
  ADD ("refusal-rolls-back", test_hook_refusal_rolls_back);
  ADD ("outer-rollback", test_outer_rollback_undoes_hook_writes);
  ADD ("remove", test_remove_hook);
#undef ADD

  return g_test_run ();
}
