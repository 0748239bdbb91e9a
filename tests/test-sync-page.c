/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-page"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"
#include "tether-sync-engine-private.h"

/* Pulled pages applied through the engine's private entry point, with
 * shapes our server never sends but docs/protocol.md allows (several
 * versions of one record in one page), and inside callers' transactions. */

typedef struct {
  char             *dir;
  TetherDatabase   *db;
  TetherSyncEngine *engine;
  GPtrArray        *announced;   /* TetherConflict* as the signal gave them */
} Fixture;

static void
on_conflict (TetherSyncEngine *engine,
             TetherConflict   *conflict,
             Fixture          *f)
{
  g_ptr_array_add (f->announced, g_object_ref (conflict));
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  f->dir = tether_test_dir_new ();
  path = g_build_filename (f->dir, "page.db", NULL);
  f->db = tether_test_open (path, schema);
  f->engine = tether_sync_engine_new (f->db, &error);
  g_assert_no_error (error);
  f->announced = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (f->engine, "conflict", G_CALLBACK (on_conflict), f);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_pointer (&f->announced, g_ptr_array_unref);
  g_assert_finalize_object (f->engine);
  g_assert_finalize_object (f->db);
  g_clear_pointer (&f->dir, tether_test_dir_free);
}

static void
create_note (Fixture    *f,
             const char *json)
{
  g_autoptr(TetherRecord) record = tether_test_create (tether_database_get_collection (f->db, "notes", NULL),
                                                       json);
}

/* Applies @json as a page in the open transaction. */
static void
apply_changes (Fixture    *f,
               const char *json)
{
  g_autoptr(JsonObject) object = tether_test_object (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherPullResponse) page = _tether_sync_parse_pull (object, &error);
  TetherSyncReport report = { 0 };

  g_assert_no_error (error);
  g_assert_true (_tether_sync_apply_changes (f->engine, page->changes, &report, &error));
  g_assert_no_error (error);
}

/* Applies @json as one page in its own transaction level. */
static void
apply_page (Fixture    *f,
            const char *json)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_database_begin (f->db, &error));
  apply_changes (f, json);
  g_assert_true (tether_database_commit (f->db, &error));
  g_assert_no_error (error);
}

#define TWO_VERSIONS \
  "{\"changes\":[" \
  "{\"id\":\"c1\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"create\"," \
  " \"data\":{\"title\":\"theirs\",\"body\":\"theirs\"},\"timestamp\":\"2026-01-01T00:00:00.000Z\"," \
  " \"rev\":1,\"hlc\":\"0000000000001-0000-other\"}," \
  "{\"id\":\"c2\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"update\"," \
  " \"data\":{\"title\":\"mine\",\"body\":\"mine\",\"tags\":[],\"pinned\":false}," \
  " \"timestamp\":\"2026-01-01T00:00:01.000Z\",\"rev\":2,\"hlc\":\"0000000000002-0000-other\"}]," \
  " \"cursor\":\"2\",\"hasMore\":false}"

/* The first version opens a manual conflict, the second settles it: one
 * announcement, of the conflict as committed. */
static void
test_one_announcement_per_conflict (Fixture       *f,
                                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherConflict) stored = NULL;
  TetherConflict *announced;

  tether_sync_engine_set_strategy (f->engine, TETHER_CONFLICT_STRATEGY_MANUAL);
  create_note (f, "{\"id\":\"n1\",\"title\":\"mine\",\"body\":\"mine\"}");
  apply_page (f, TWO_VERSIONS);
  g_assert_cmpuint (f->announced->len, ==, 1);
  announced = f->announced->pdata[0];
  stored = tether_sync_engine_get_conflict (f->engine, tether_conflict_get_id (announced), &error);
  g_assert_no_error (error);
  g_assert_true (tether_conflict_get_status (stored) == TETHER_CONFLICT_RESOLVED);
  g_assert_true (tether_conflict_get_status (announced) == TETHER_CONFLICT_RESOLVED);
  g_assert_cmpint (tether_conflict_get_remote_rev (announced), ==, 2);
}

/* A page applied inside a savepoint that rolls back announces nothing,
 * even when the outer transaction commits. */
static void
test_rolled_back_level (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  create_note (f, "{\"id\":\"n1\",\"title\":\"mine\",\"body\":\"mine\"}");
  g_assert_true (tether_database_begin (f->db, &error));
  g_assert_true (tether_database_begin (f->db, &error));
  apply_changes (f, TWO_VERSIONS);
  tether_database_rollback (f->db);
  g_assert_true (tether_database_commit (f->db, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->announced->len, ==, 0);
}

/* json-glib reads 1e999 as infinity, which JSON cannot write: the record
 * was stored with null there, silently. Like any change a Tether server
 * would not send, it fails the page, naming the record and the member;
 * so does one whose record is edited here (merged, not written). */
static void
test_non_finite_refused (Fixture       *f,
                         gconstpointer  data)
{
  static const char * const pages[] = {
    "{\"changes\":[{\"id\":\"c1\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"create\","
    " \"data\":{\"id\":\"n1\",\"title\":\"far\",\"body\":\"\",\"tags\":[],\"pinned\":false,\"far\":1e999},\"rev\":1,\"hlc\":\"0000000000001-0000-other\"}],"
    " \"cursor\":\"1\",\"hasMore\":false}",
    "{\"changes\":[{\"id\":\"c1\",\"collection\":\"notes\",\"recordId\":\"n2\",\"type\":\"update\","
    " \"data\":{\"title\":\"far\",\"far\":-1e999},\"rev\":1,\"hlc\":\"0000000000001-0000-other\"}],"
    " \"cursor\":\"1\",\"hasMore\":false}",
  };
  TetherCollection *notes = tether_database_get_collection (f->db, "notes", NULL);

  create_note (f, "{\"id\":\"n2\",\"title\":\"mine\"}");
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      /* immutable, as the transport parses it: the record shares its nodes */
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherPullResponse) page = NULL;
      TetherSyncReport report = { 0 };

      g_assert_true (json_parser_load_from_data (parser, pages[i], -1, &error));
      page = _tether_sync_parse_pull (json_node_get_object (json_parser_get_root (parser)), &error);
      g_assert_no_error (error);
      g_assert_true (tether_database_begin (f->db, &error));
      g_assert_false (_tether_sync_apply_changes (f->engine, page->changes, &report, &error));
      g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
      g_assert_nonnull (strstr (error->message, i == 0 ? "notes/n1: far is a number" : "notes/n2: far"));
      tether_database_rollback (f->db);
    }
  g_assert_cmpint (tether_collection_count (notes, NULL, NULL), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/tether/sync/page/" path, Fixture, NULL, setup, func, teardown)
  ADD ("one-announcement", test_one_announcement_per_conflict);
  ADD ("rolled-back-level", test_rolled_back_level);
  ADD ("non-finite-refused", test_non_finite_refused);
#undef ADD

  return g_test_run ();
}
