/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-live-query"
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tether-test-util.h"
#include "tether-private.h"

/* `note` is never filtered, sorted or searched: changing it must never move
 * a record. */
#define SCHEMA \
  "{\"version\": 1, \"collections\": {\"items\": {\"fields\": {" \
  "   \"title\": {\"type\": \"string\", \"required\": true}," \
  "   \"body\":  {\"type\": \"string\", \"default\": \"\"}," \
  "   \"rank\":  {\"type\": \"integer\"}," \
  "   \"score\": {\"type\": \"number\"}," \
  "   \"grp\":   {\"type\": \"string\"}," \
  "   \"done\":  {\"type\": \"boolean\", \"default\": false}," \
  "   \"due\":   {\"type\": \"datetime\"}," \
  "   \"note\":  {\"type\": \"string\"}}," \
  "  \"indexes\": [{\"field\": \"rank\"}, {\"fields\": [\"done\", \"rank\"]}, {\"field\": \"updatedAt\"}]," \
  "  \"searchable\": [\"title\", \"body\"]}}}"

typedef struct {
  TetherDatabase   *db;
  TetherCollection *items;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;

  f->db = tether_test_open (NULL, schema);
  f->items = tether_database_get_collection (f->db, "items", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->db);
}

/* Writes -------------------------------------------------------------------------- */

static TetherRecord *
create (Fixture *f, const char *json)
{
  return tether_test_create (f->items, json);
}

/* The id of a new record (the record itself is not kept). */
static char *
create_id (Fixture *f, const char *json)
{
  g_autoptr(TetherRecord) record = create (f, json);

  return g_strdup (tether_record_get_id (record));
}

static void
update (Fixture *f, const char *id, const char *patch_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) patch = tether_test_object (patch_json);
  g_autoptr(TetherRecord) record = tether_collection_update (f->items, id, patch, &error);

  g_assert_no_error (error);
  g_assert_nonnull (record);
}

static void
delete (Fixture *f, const char *id)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_collection_delete (f->items, id, &error));
  g_assert_no_error (error);
}

/* Watching a model ------------------------------------------------------------------- */

typedef struct {
  guint position, removed, added;
} Change;

typedef struct {
  GListModel *model;
  GArray     *changes;   /* Change, since the last reset */
  guint       n_items;   /* the count the signals so far imply */
  guint       n_notify;  /* notify::n-items */
} Recorder;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Recorder   *rec)
{
  Change change = { position, removed, added };

  /* the model already holds its new state, and it is the one the signal says */
  g_assert_cmpuint (position + removed, <=, rec->n_items);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, rec->n_items - removed + added);
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      g_assert_true (TETHER_IS_RECORD (record));
    }
  rec->n_items = g_list_model_get_n_items (model);
  g_array_append_val (rec->changes, change);
}

static void
on_notify_n_items (GObject *object, GParamSpec *pspec, Recorder *rec)
{
  rec->n_notify++;
}

static void
recorder_init (Recorder *rec, TetherLiveQuery *live)
{
  *rec = (Recorder) { 0 };
  rec->model = G_LIST_MODEL (live);
  rec->changes = g_array_new (FALSE, FALSE, sizeof (Change));
  rec->n_items = g_list_model_get_n_items (rec->model);
  g_signal_connect (live, "items-changed", G_CALLBACK (on_items_changed), rec);
  g_signal_connect (live, "notify::n-items", G_CALLBACK (on_notify_n_items), rec);
}

static void
recorder_clear (Recorder *rec)
{
  g_signal_handlers_disconnect_by_data (rec->model, rec);
  g_clear_pointer (&rec->changes, g_array_unref);
}

static char *
changes_string (Recorder *rec)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < rec->changes->len; i++)
    {
      Change *c = &g_array_index (rec->changes, Change, i);
      g_string_append_printf (out, "(%u,%u,%u)", c->position, c->removed, c->added);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* The signals since the last call, as "(pos,removed,added)…", then forget them. */
static void
assert_changes (Recorder *rec, const char *expected)
{
  g_autofree char *got = changes_string (rec);

  g_assert_cmpstr (got, ==, expected);
  g_array_set_size (rec->changes, 0);
}

static char *
model_titles (GListModel *model)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      g_string_append_printf (out, "%s%s", i ? "," : "", tether_record_get_string (record, "title", "?"));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_titles (TetherLiveQuery *live, const char *expected)
{
  g_autofree char *titles = model_titles (G_LIST_MODEL (live));

  g_assert_cmpstr (titles, ==, expected);
}

/* A line per record, "id updated json", so stale records show as well as misplaced ones. */
static char *
describe_records (GPtrArray *records)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (records, i);
      g_autofree char *json = tether_record_to_json (record);

      g_string_append_printf (out, "%s %" G_GINT64_FORMAT " %s\n", tether_record_get_id (record),
                              tether_record_get_updated_at (record), json);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static GPtrArray *
model_records (GListModel *model)
{
  GPtrArray *records = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    g_ptr_array_add (records, g_list_model_get_item (model, i));
  return records;
}

/* The live model equals a fresh run of its query: same records, same order, same data. */
static void
assert_matches_fresh (TetherLiveQuery *live)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fresh = tether_query_run (tether_live_query_get_query (live), &error);
  g_autoptr(GPtrArray) model = model_records (G_LIST_MODEL (live));
  g_autofree char *want = NULL;
  g_autofree char *got = NULL;

  g_assert_no_error (error);
  want = describe_records (fresh);
  got = describe_records (model);
  g_assert_cmpstr (got, ==, want);
}

static TetherLiveQuery *
live_new (TetherQuery *query)
{
  g_autoptr(GError) error = NULL;
  TetherLiveQuery *live = tether_live_query_new (query, &error);

  g_assert_no_error (error);
  g_assert_nonnull (live);
  return live;
}

/* Open items sorted by rank: the query most small tests watch. */
static TetherQuery *
open_by_rank (Fixture *f)
{
  TetherQuery *query = tether_query_new (f->items);

  tether_query_where_text (query, "done == false");
  tether_query_sort (query, "rank", FALSE);
  return query;
}

/* One change at a time ---------------------------------------------------------------- */

static void
test_create (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 3}");
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  assert_titles (live, "a,c");

  g_object_unref (create (f, "{\"title\": \"b\", \"rank\": 2}"));
  assert_changes (&rec, "(1,0,1)");
  g_object_unref (create (f, "{\"title\": \"d\", \"rank\": 9}"));
  assert_changes (&rec, "(3,0,1)");
  /* no rank sorts first, as in the query */
  g_object_unref (create (f, "{\"title\": \"none\"}"));
  assert_changes (&rec, "(0,0,1)");
  /* equal ranks keep insertion order: the newer one goes after */
  g_object_unref (create (f, "{\"title\": \"b2\", \"rank\": 2}"));
  assert_changes (&rec, "(3,0,1)");
  assert_titles (live, "none,a,b,b2,c,d");
  /* outside the filter: nothing */
  g_object_unref (create (f, "{\"title\": \"finished\", \"rank\": 2, \"done\": true}"));
  assert_changes (&rec, "");
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 2}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 3}");
  g_autofree char *done = create_id (f, "{\"title\": \"done\", \"rank\": 2, \"done\": true}");
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  delete (f, b);
  assert_changes (&rec, "(1,1,0)");
  delete (f, done);
  assert_changes (&rec, "");
  delete (f, c);
  assert_changes (&rec, "(1,1,0)");
  delete (f, a);
  assert_changes (&rec, "(0,1,0)");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (live)), ==, 0);
  recorder_clear (&rec);
}

static void
test_update_in_place (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherRecord) item = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 3}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 5}");
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  update (f, b, "{\"title\": \"b renamed\"}");
  assert_changes (&rec, "(1,1,1)");
  /* the model hands out the new record */
  item = g_list_model_get_item (G_LIST_MODEL (live), 1);
  g_assert_cmpstr (tether_record_get_string (item, "title", NULL), ==, "b renamed");
  /* a new sort key that keeps the place is still one in-place change */
  update (f, b, "{\"rank\": 4}");
  assert_changes (&rec, "(1,1,1)");
  update (f, a, "{\"note\": \"x\"}");
  assert_changes (&rec, "(0,1,1)");
  update (f, c, "{\"rank\": 6, \"note\": \"y\"}");
  assert_changes (&rec, "(2,1,1)");
  g_assert_cmpuint (rec.n_notify, ==, 0);
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

static void
test_update_moves (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 2}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 3}");
  g_autofree char *d = create_id (f, "{\"title\": \"d\", \"rank\": 4}");
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  update (f, a, "{\"rank\": 5}");
  assert_changes (&rec, "(0,1,0)(3,0,1)");
  assert_titles (live, "b,c,d,a");
  update (f, d, "{\"rank\": 0}");
  assert_changes (&rec, "(2,1,0)(0,0,1)");
  assert_titles (live, "d,b,c,a");
  /* to a tie: insertion order decides (b was created before c) */
  update (f, c, "{\"rank\": 2}");
  assert_changes (&rec, "(2,1,1)");
  update (f, b, "{\"rank\": 3}");
  assert_changes (&rec, "(1,1,0)(2,0,1)");
  assert_titles (live, "d,c,b,a");
  /* removing the sort field sorts the record first */
  update (f, a, "{\"rank\": null}");
  assert_changes (&rec, "(3,1,0)(0,0,1)");
  assert_titles (live, "a,d,c,b");
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

/* Whether long double tells 2^53 + 1 from 2^53: on x86-64 hardware it does,
 * under valgrind it has double's precision, and SQLite compares an integer
 * with a real through it. */
static gboolean
long_double_is_exact (void)
{
  volatile gint64 i = G_GINT64_CONSTANT (9007199254740993);
  /* volatile: the compiler would otherwise fold the test into i != i - 1 */
  volatile long double above = (long double) i;
  volatile long double below = (long double) (i - 1);

  return above != below;
}

/* SQLite compares an integer with a real exactly; as doubles, 2^53 + 1
 * equals 2^53 and the tie-break (insertion order) put the records the
 * other way round. Where SQLite itself cannot (valgrind), the live model
 * must still agree with it. */
static void
test_exact_numbers (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->items);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *above = create_id (f, "{\"title\": \"above\", \"score\": 9007199254740993}");
  g_autofree char *below = NULL;

  live = live_new (tether_query_sort (query, "score", FALSE));
  below = create_id (f, "{\"title\": \"below\", \"score\": 9007199254740992.0}");
  if (long_double_is_exact ())
    assert_titles (live, "below,above");
  assert_matches_fresh (live);
  update (f, below, "{\"score\": -9007199254740992.0}");
  g_free (create_id (f, "{\"title\": \"lowest\", \"score\": -9007199254740993}"));
  if (long_double_is_exact ())
    assert_titles (live, "lowest,below,above");
  else
    g_test_message ("long double is no wider than double here: only checking that the model agrees with SQLite");
  assert_matches_fresh (live);
}

static void
test_update_filter (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 2}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 3}");
  g_autofree char *x = create_id (f, "{\"title\": \"x\", \"rank\": 2, \"done\": true}");
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  update (f, b, "{\"done\": true}");
  assert_changes (&rec, "(1,1,0)");
  /* leaves, then comes back at the place its rank gives it */
  update (f, b, "{\"done\": false, \"rank\": 7}");
  assert_changes (&rec, "(2,0,1)");
  /* x enters between a and c */
  update (f, x, "{\"done\": false}");
  assert_changes (&rec, "(1,0,1)");
  assert_titles (live, "a,x,c,b");
  /* records that neither matched nor match: nothing at all */
  update (f, b, "{\"done\": true}");
  assert_changes (&rec, "(3,1,0)");
  update (f, b, "{\"title\": \"still done\", \"rank\": 0}");
  assert_changes (&rec, "");
  delete (f, b);
  assert_changes (&rec, "");
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

static void
test_n_items_notify (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = live_new (query);
  g_autofree char *a = NULL;
  guint n_items = 0;
  Recorder rec;

  recorder_init (&rec, live);
  a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_assert_cmpuint (rec.n_notify, ==, 1);
  g_object_get (live, "n-items", &n_items, NULL);
  g_assert_cmpuint (n_items, ==, 1);
  update (f, a, "{\"title\": \"b\"}");
  g_assert_cmpuint (rec.n_notify, ==, 1);
  delete (f, a);
  g_assert_cmpuint (rec.n_notify, ==, 2);
  g_object_get (live, "n-items", &n_items, NULL);
  g_assert_cmpuint (n_items, ==, 0);
  recorder_clear (&rec);
}

/* Transactions ---------------------------------------------------------------------------- */

static void
test_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 2}");
  g_autoptr(GError) error = NULL;
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  g_assert_true (tether_database_begin (f->db, &error));
  g_assert_no_error (error);
  g_object_unref (create (f, "{\"title\": \"ghost\", \"rank\": 0}"));
  update (f, a, "{\"rank\": 9}");
  delete (f, b);
  /* nothing is announced before commit */
  assert_changes (&rec, "");
  tether_database_rollback (f->db);
  assert_changes (&rec, "");
  assert_titles (live, "a,b");
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

/* A live query made inside a transaction shows what the transaction wrote
 * (as any query there does); when it ends, the result is what it left. */
static void
test_loaded_in_transaction (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherLiveQuery) kept = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autoptr(GError) error = NULL;
  Recorder rec;

  g_assert_true (tether_database_begin (f->db, &error));
  g_object_unref (create (f, "{\"title\": \"ghost\", \"rank\": 0}"));
  update (f, a, "{\"rank\": 9}");
  live = live_new (query);
  assert_titles (live, "ghost,a");
  recorder_init (&rec, live);
  tether_database_rollback (f->db);
  assert_titles (live, "a");
  assert_matches_fresh (live);
  recorder_clear (&rec);

  /* committed, it keeps what it showed */
  g_assert_true (tether_database_begin (f->db, &error));
  g_object_unref (create (f, "{\"title\": \"real\", \"rank\": 0}"));
  kept = live_new (query);
  assert_titles (kept, "real,a");
  g_assert_true (tether_database_commit (f->db, &error));
  g_assert_no_error (error);
  assert_titles (kept, "real,a");
  assert_matches_fresh (kept);
  assert_titles (live, "real,a");
}

static gboolean
several_writes (TetherDatabase *db, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  g_autoptr(TetherRecord) one = create (f, "{\"title\": \"n1\", \"rank\": 5}");
  g_autoptr(TetherRecord) two = create (f, "{\"title\": \"n2\", \"rank\": 0}");

  update (f, tether_record_get_id (one), "{\"rank\": -1, \"title\": \"n1 moved\"}");
  update (f, tether_record_get_id (two), "{\"done\": true}");
  g_object_unref (create (f, "{\"title\": \"n3\", \"rank\": 3}"));
  return TRUE;
}

static gboolean
failing_writes (TetherDatabase *db, gpointer user_data, GError **error)
{
  Fixture *f = user_data;

  g_object_unref (create (f, "{\"title\": \"never\", \"rank\": 1}"));
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "changed my mind");
  return FALSE;
}

static void
test_transaction (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 4}");
  g_autoptr(GError) error = NULL;
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  /* a record created and changed in one transaction lands where its final state says */
  g_assert_true (tether_database_transaction (f->db, several_writes, f, &error));
  g_assert_no_error (error);
  assert_titles (live, "n1 moved,a,n3,b");
  assert_matches_fresh (live);
  g_assert_cmpuint (rec.changes->len, <=, 6);
  g_array_set_size (rec.changes, 0);

  g_assert_false (tether_database_transaction (f->db, failing_writes, f, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  assert_changes (&rec, "");
  assert_matches_fresh (live);
  recorder_clear (&rec);
}

/* Replacing the query, finding, lifetime --------------------------------------------------- */

static void
on_notify_query (GObject *object, GParamSpec *pspec, guint *count)
{
  (*count)++;
}

static void
test_set_query (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherQuery) other = tether_query_new (f->items);
  g_autoptr(TetherQuery) bad = tether_query_new (f->items);
  g_autoptr(TetherQuery) empty = tether_query_new (f->items);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 1}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 2, \"done\": true}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 3}");
  guint notified = 0;
  Recorder rec;

  live = live_new (query);
  recorder_init (&rec, live);
  g_signal_connect (live, "notify::query", G_CALLBACK (on_notify_query), &notified);

  /* one reload: everything out, everything in */
  tether_query_sort (other, "title", TRUE);
  g_assert_true (tether_live_query_set_query (live, other, &error));
  g_assert_no_error (error);
  assert_changes (&rec, "(0,2,3)");
  g_assert_cmpuint (notified, ==, 1);
  assert_titles (live, "c,b,a");
  assert_matches_fresh (live);

  /* the live query took a copy: later builder calls on @other change nothing */
  tether_query_where_text (other, "rank > 100");
  tether_query_limit (other, 0);
  g_object_unref (create (f, "{\"title\": \"d\", \"rank\": 4}"));
  assert_changes (&rec, "(0,0,1)");
  assert_titles (live, "d,c,b,a");
  g_assert_true (tether_live_query_get_query (live) != other);

  /* a broken query is refused, and the model keeps its content */
  tether_query_where_text (bad, "colour == red");
  g_assert_false (tether_live_query_set_query (live, bad, &error));
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_UNKNOWN_FIELD);
  g_clear_error (&error);
  assert_changes (&rec, "");
  g_assert_cmpuint (notified, ==, 1);
  assert_titles (live, "d,c,b,a");
  /* ... and keeps following its own query */
  update (f, a, "{\"title\": \"e\"}");
  assert_changes (&rec, "(3,1,0)(0,0,1)");
  assert_titles (live, "e,d,c,b");

  tether_query_where_text (empty, "rank > 100");
  g_assert_true (tether_live_query_set_query (live, empty, &error));
  assert_changes (&rec, "(0,4,0)");
  g_assert_cmpuint (notified, ==, 2);
  recorder_clear (&rec);
}

static void
test_find (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherQuery) windowed = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherLiveQuery) window = NULL;
  g_autofree char *a = create_id (f, "{\"title\": \"a\", \"rank\": 3}");
  g_autofree char *b = create_id (f, "{\"title\": \"b\", \"rank\": 1}");
  g_autofree char *c = create_id (f, "{\"title\": \"c\", \"rank\": 2}");
  g_autofree char *d = create_id (f, "{\"title\": \"d\", \"rank\": 2, \"done\": true}");

  live = live_new (query);
  g_assert_cmpint (tether_live_query_find (live, b), ==, 0);
  g_assert_cmpint (tether_live_query_find (live, c), ==, 1);
  g_assert_cmpint (tether_live_query_find (live, a), ==, 2);
  g_assert_cmpint (tether_live_query_find (live, d), ==, -1);
  g_assert_cmpint (tether_live_query_find (live, "no-such-id"), ==, -1);
  update (f, b, "{\"rank\": 9}");
  g_assert_cmpint (tether_live_query_find (live, b), ==, 2);
  g_assert_cmpint (tether_live_query_find (live, c), ==, 0);
  delete (f, c);
  g_assert_cmpint (tether_live_query_find (live, c), ==, -1);
  g_assert_cmpint (tether_live_query_find (live, a), ==, 0);

  tether_query_offset (tether_query_limit (windowed, 1), 1);
  window = live_new (windowed);
  assert_titles (window, "b");
  g_assert_cmpint (tether_live_query_find (window, b), ==, 0);
  g_assert_cmpint (tether_live_query_find (window, a), ==, -1);
}

static void
test_new_with_bad_query (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->items);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(GError) error = NULL;

  tether_query_sort (query, "colour", FALSE);
  live = tether_live_query_new (query, &error);
  g_assert_null (live);
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_UNKNOWN_FIELD);
}

static void
test_finalize (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherQuery) search = tether_query_new (f->items);
  g_autoptr(TetherQuery) window = open_by_rank (f);
  g_autofree char *a = create_id (f, "{\"title\": \"a sync\", \"rank\": 1}");
  TetherLiveQuery *live = live_new (query);
  TetherLiveQuery *ranked = live_new (tether_query_search (search, "sync"));
  TetherLiveQuery *windowed = live_new (tether_query_limit (window, 1));
  g_autoptr(TetherRecord) item = g_list_model_get_item (G_LIST_MODEL (live), 0);
  g_autoptr(GError) error = NULL;

  update (f, a, "{\"rank\": 2}");
  g_assert_true (tether_live_query_set_query (live, search, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (live);
  g_assert_finalize_object (ranked);
  g_assert_finalize_object (windowed);
  /* a record handed out survives its model; later writes reach no dead model */
  g_assert_cmpstr (tether_record_get_string (item, "title", NULL), ==, "a sync");
  update (f, a, "{\"rank\": 3}");
  delete (f, a);
  g_assert_finalize_object (g_steal_pointer (&item));
}

/* Windows and ranked searches ---------------------------------------------------------------- */

static void
test_window (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = open_by_rank (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  Recorder rec;

  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"title\": \"r%u\", \"rank\": %u}", i, i * 10);
      g_ptr_array_add (ids, create_id (f, json));
    }
  tether_query_offset (tether_query_limit (query, 3), 2);
  live = live_new (query);
  recorder_init (&rec, live);
  assert_titles (live, "r2,r3,r4");

  /* a record after the window: nothing */
  update (f, g_ptr_array_index (ids, 6), "{\"title\": \"r6 renamed\"}");
  assert_changes (&rec, "");
  /* inside the window: in place */
  update (f, g_ptr_array_index (ids, 3), "{\"note\": \"x\"}");
  assert_changes (&rec, "(1,1,1)");
  /* a new record before the window pushes it on by one */
  g_object_unref (create (f, "{\"title\": \"new first\", \"rank\": 5}"));
  assert_titles (live, "r1,r2,r3");
  assert_matches_fresh (live);
  assert_changes (&rec, "(2,1,0)(0,0,1)");
  /* deleting a record before the window pulls it back */
  delete (f, g_ptr_array_index (ids, 0));
  assert_titles (live, "r2,r3,r4");
  assert_matches_fresh (live);
  assert_changes (&rec, "(0,1,0)(2,0,1)");
  /* a record before the window leaving the filter pulls it back too */
  update (f, g_ptr_array_index (ids, 1), "{\"done\": true}");
  assert_titles (live, "r3,r4,r5");
  assert_matches_fresh (live);
  assert_changes (&rec, "(0,1,0)(2,0,1)");
  /* a record before the window that moves after it */
  update (f, g_ptr_array_index (ids, 2), "{\"rank\": 100}");
  assert_titles (live, "r4,r5,r6 renamed");
  assert_matches_fresh (live);
  assert_changes (&rec, "(0,1,0)(2,0,1)");
  /* a record inside the window leaving pulls the next one in */
  delete (f, g_ptr_array_index (ids, 5));
  assert_titles (live, "r4,r6 renamed,r7");
  assert_matches_fresh (live);
  assert_changes (&rec, "(1,1,0)(2,0,1)");
  recorder_clear (&rec);
}

static void
test_ranked_search (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->items);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autofree char *long_one = create_id (f, "{\"title\": \"a long title that mentions sync only once in passing\"}");
  g_autofree char *other = create_id (f, "{\"title\": \"unrelated\"}");
  g_autofree char *best = NULL;
  Recorder rec;

  live = live_new (tether_query_search (query, "sync"));
  recorder_init (&rec, live);
  best = create_id (f, "{\"title\": \"sync sync\"}");
  assert_changes (&rec, "(0,0,1)");
  assert_titles (live, "sync sync,a long title that mentions sync only once in passing");
  update (f, other, "{\"title\": \"sync too\"}");
  assert_changes (&rec, "(1,0,1)");
  update (f, best, "{\"note\": \"not searchable\"}");
  assert_changes (&rec, "(0,1,1)");
  update (f, best, "{\"title\": \"no longer\"}");
  assert_changes (&rec, "(0,1,0)");
  assert_matches_fresh (live);
  delete (f, long_one);
  assert_changes (&rec, "(1,1,0)");
  assert_titles (live, "sync too");
  recorder_clear (&rec);
}

/* bm25 weighs a match against the whole collection: a long record that does
 * not match still changes how a short match ranks against a repetitive one. */
static void
test_ranked_search_statistics (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->items);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(GString) long_body = g_string_new (NULL);
  g_autofree char *short_one = create_id (f, "{\"title\": \"sync\"}");
  g_autofree char *repetitive = create_id (f, "{\"title\": \"sync sync sync\","
                                              " \"body\": \"one two three four five six seven eight\"}");
  g_autofree char *unrelated = NULL;
  g_autofree char *json = NULL;
  g_autofree char *got = NULL;
  Recorder rec;

  live = live_new (tether_query_search (query, "sync"));
  recorder_init (&rec, live);
  assert_titles (live, "sync,sync sync sync");

  for (guint i = 0; i < 400; i++)
    g_string_append_printf (long_body, "%sword%u", i ? " " : "", i);
  json = g_strdup_printf ("{\"title\": \"minutes\", \"body\": \"%s\"}", long_body->str);
  unrelated = create_id (f, json);
  /* the model follows, with a single move */
  assert_titles (live, "sync sync sync,sync");
  assert_matches_fresh (live);
  got = changes_string (&rec);
  g_assert_true (g_str_equal (got, "(0,1,0)(1,0,1)") || g_str_equal (got, "(1,1,0)(0,0,1)"));
  g_array_set_size (rec.changes, 0);

  delete (f, unrelated);
  assert_titles (live, "sync,sync sync sync");
  assert_matches_fresh (live);
  g_assert_cmpuint (rec.changes->len, ==, 2);
  recorder_clear (&rec);
}

/* The app's note list on the shipped schema: pinned first, then the most
 * recently edited. */
static void
test_default_schema_note_list (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  g_autoptr(TetherQuery) query = tether_query_new (notes);
  TetherLiveQuery *live = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Recorder rec;

  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"title\": \"n%u\"}", i);
      g_autoptr(JsonObject) object = tether_test_object (json);
      g_autoptr(TetherRecord) record = tether_collection_create (notes, object, &error);

      g_assert_no_error (error);
      g_ptr_array_add (ids, g_strdup (tether_record_get_id (record)));
    }
  tether_query_sort (tether_query_sort (query, "pinned", TRUE), "updatedAt", TRUE);
  live = live_new (query);
  recorder_init (&rec, live);
  assert_titles (live, "n3,n2,n1");

  {
    g_autoptr(JsonObject) pin = tether_test_object ("{\"pinned\": true}");
    g_autoptr(TetherRecord) pinned = tether_collection_update (notes, g_ptr_array_index (ids, 0), pin, &error);

    g_assert_no_error (error);
    assert_changes (&rec, "(2,1,0)(0,0,1)");
    assert_titles (live, "n1,n3,n2");
  }
  {
    g_autoptr(JsonObject) edit = tether_test_object ("{\"body\": \"more words\"}");
    g_autoptr(TetherRecord) edited = NULL;

    g_usleep (2000);   /* a later edit time than n3's creation */
    edited = tether_collection_update (notes, g_ptr_array_index (ids, 1), edit, &error);
    g_assert_no_error (error);
    assert_changes (&rec, "(2,1,0)(1,0,1)");
    assert_titles (live, "n1,n2,n3");
  }
  assert_matches_fresh (live);
  recorder_clear (&rec);
  g_assert_finalize_object (live);
}

/* Random changes against fresh queries ------------------------------------------------------- */

typedef struct {
  const char      *name;
  TetherLiveQuery *live;
  Recorder         rec;
  gboolean         incremental;   /* no window, no bm25: the exact signals are known */
  gboolean         ranked;        /* bm25: other matches may trade places */
  gboolean         note_in_place; /* a change of `note` alone never moves a record */
  GPtrArray       *before;        /* ids before the operation */
} Watched;

static const char *words[] = {
  "sync", "synchro", "async", "alpha", "beta", "gamma", "syntax", "phone", "café", "note", "delta",
};
static const char *groups[] = { "a", "b", "c" };
static const int zones[] = { 0, 2 * 3600, -5 * 3600, 5 * 3600 + 1800 };

static char *
random_words (GRand *rng, guint max)
{
  guint n = g_rand_int_range (rng, 1, max + 1);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (out, "%s%s", i ? " " : "", words[g_rand_int_range (rng, 0, G_N_ELEMENTS (words))]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static JsonNode *
random_due (GRand *rng)
{
  /* 2024, whole minutes, in one of several zones */
  gint64 seconds = 1704067200 + (gint64) g_rand_int_range (rng, 0, 366 * 24 * 60) * 60;
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (seconds);
  g_autoptr(GTimeZone) zone = g_time_zone_new_offset (zones[g_rand_int_range (rng, 0, G_N_ELEMENTS (zones))]);
  g_autoptr(GDateTime) local = g_date_time_to_timezone (utc, zone);
  g_autofree char *text = g_date_time_format (local, "%Y-%m-%dT%H:%M:%S%:z");

  return json_node_init_string (json_node_alloc (), text);
}

/* A value for @field, or NULL for "absent" (a null in a patch removes it). */
static JsonNode *
random_value (GRand *rng, const char *field)
{
  if (!g_str_equal (field, "title") && !g_str_equal (field, "done") && g_rand_int_range (rng, 0, 4) == 0)
    return NULL;
  if (g_str_equal (field, "title") || g_str_equal (field, "body"))
    {
      g_autofree char *text = random_words (rng, g_str_equal (field, "title") ? 3 : 6);
      return json_node_init_string (json_node_alloc (), text);
    }
  if (g_str_equal (field, "rank"))
    return json_node_init_int (json_node_alloc (), g_rand_int_range (rng, 0, 6));
  if (g_str_equal (field, "score"))
    {
      /* integers and fractions mixed, with ties across the two */
      if (g_rand_boolean (rng))
        return json_node_init_int (json_node_alloc (), g_rand_int_range (rng, 0, 4));
      return json_node_init_double (json_node_alloc (), g_rand_int_range (rng, 0, 8) / 2.0);
    }
  if (g_str_equal (field, "grp"))
    return json_node_init_string (json_node_alloc (), groups[g_rand_int_range (rng, 0, G_N_ELEMENTS (groups))]);
  if (g_str_equal (field, "done"))
    return json_node_init_boolean (json_node_alloc (), g_rand_int_range (rng, 0, 3) == 0);
  if (g_str_equal (field, "due"))
    return random_due (rng);
  g_assert_not_reached ();
}

static const char *fields[] = { "title", "body", "rank", "score", "grp", "done", "due" };

static JsonObject *
random_record (GRand *rng)
{
  JsonObject *object = json_object_new ();

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      JsonNode *value = random_value (rng, fields[i]);

      if (value != NULL)
        json_object_set_member (object, fields[i], value);
    }
  return object;
}

static JsonObject *
random_patch (GRand *rng)
{
  JsonObject *patch = json_object_new ();
  guint n = g_rand_int_range (rng, 1, 4);

  for (guint i = 0; i < n; i++)
    {
      const char *field = fields[g_rand_int_range (rng, 0, G_N_ELEMENTS (fields))];
      JsonNode *value = random_value (rng, field);

      json_object_set_member (patch, field, value ? value : json_node_init_null (json_node_alloc ()));
    }
  return patch;
}

static GPtrArray *
model_ids (GListModel *model)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      g_ptr_array_add (ids, g_strdup (tether_record_get_id (record)));
    }
  return ids;
}

static gint
index_of (GPtrArray *ids, const char *id)
{
  guint i;

  if (id == NULL || !g_ptr_array_find_with_equal_func (ids, id, g_str_equal, &i))
    return -1;
  return i;
}

/* The one minimal answer to a change of record @id in an incremental query. */
static char *
expected_changes (GPtrArray *before, GPtrArray *after, const char *id)
{
  gint from = index_of (before, id);
  gint to = index_of (after, id);

  if (from < 0 && to < 0)
    return g_strdup ("");
  if (to < 0)
    return g_strdup_printf ("(%d,1,0)", from);
  if (from < 0)
    return g_strdup_printf ("(%d,0,1)", to);
  if (from == to)
    return g_strdup_printf ("(%d,1,1)", from);
  return g_strdup_printf ("(%d,1,0)(%d,0,1)", from, to);
}

/* How many records other than @id must move to turn @before into @after:
 * the common ones, less the longest run that kept its order. */
static guint
n_displaced (GPtrArray *before, GPtrArray *after, const char *id)
{
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autofree guint *run = NULL;
  guint longest = 0;

  for (guint i = 0; i < after->len; i++)
    {
      gint from = index_of (before, g_ptr_array_index (after, i));

      if (from >= 0 && g_strcmp0 (g_ptr_array_index (after, i), id) != 0)
        g_array_append_val (order, from);
    }
  run = g_new0 (guint, order->len);
  for (guint i = 0; i < order->len; i++)
    {
      run[i] = 1;
      for (guint j = 0; j < i; j++)
        if (g_array_index (order, gint, j) < g_array_index (order, gint, i))
          run[i] = MAX (run[i], run[j] + 1);
      longest = MAX (longest, run[i]);
    }
  return order->len - longest;
}

/* Fail with the seed, the operation and the query named, so a run can be replayed. */
static char *
short_ids (GPtrArray *ids)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = g_ptr_array_index (ids, i);
      g_string_append_printf (out, " %s", id + MAX (0, (int) strlen (id) - 4));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_same (Watched    *w,
             const char *what,
             const char *got,
             const char *want,
             guint       op,
             guint32     seed)
{
  g_autoptr(GPtrArray) after = NULL;
  g_autofree char *before_text = NULL;
  g_autofree char *after_text = NULL;

  if (g_strcmp0 (got, want) == 0)
    return;
  after = model_ids (G_LIST_MODEL (w->live));
  before_text = short_ids (w->before);
  after_text = short_ids (after);
  g_test_message ("seed %u (TETHER_TEST_SEED), operation %u, query %s: %s differ\n"
                  "before:%s\nafter: %s", seed, op, w->name, what, before_text, after_text);
  g_assert_cmpstr (got, ==, want);
}

static void
check_watched (Watched *w, const char *id, gboolean note_only, guint op, guint32 seed)
{
  g_autoptr(GPtrArray) after = model_ids (G_LIST_MODEL (w->live));
  g_autoptr(GPtrArray) fresh = tether_query_run (tether_live_query_get_query (w->live), NULL);
  g_autoptr(GPtrArray) model = model_records (G_LIST_MODEL (w->live));
  g_autofree char *fresh_text = describe_records (fresh);
  g_autofree char *model_text = describe_records (model);
  g_autofree char *got = changes_string (&w->rec);
  guint displaced = n_displaced (w->before, after, id);
  gboolean small = w->rec.changes->len <= 3 + 2 * displaced;

  assert_same (w, "model and fresh query", model_text, fresh_text, op, seed);
  /* one write moves one record; only bm25, which weighs each match against
   * the whole collection, may make other matches trade places */
  if (!w->ranked)
    assert_same (w, "records other than the changed one keep their order", displaced ? "moved" : "kept", "kept", op, seed);
  for (guint i = 0; i < w->rec.changes->len; i++)
    {
      Change *c = &g_array_index (w->rec.changes, Change, i);
      small = small && c->removed + c->added <= 2;
    }
  assert_same (w, "signals (at most 3 and a move per displaced record, each at most 2 items)",
               small ? "small" : got, "small", op, seed);
  if (w->incremental)
    {
      g_autofree char *want = expected_changes (w->before, after, id);
      assert_same (w, "signals", got, want, op, seed);
    }
  if (note_only && w->note_in_place && index_of (w->before, id) >= 0)
    {
      g_autofree char *want = g_strdup_printf ("(%d,1,1)", index_of (w->before, id));
      assert_same (w, "signals for a change of `note`", got, want, op, seed);
    }
  g_array_set_size (w->rec.changes, 0);
}

/* One random create, delete or update; returns the record's id. */
static char *
random_write (Fixture *f, GRand *rng, GPtrArray *ids, gboolean *note_only)
{
  guint choice = g_rand_int_range (rng, 0, 100);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(JsonObject) object = NULL;
  char *id;

  *note_only = FALSE;
  if (ids->len == 0 || (choice < 40 && ids->len < 80))
    {
      object = random_record (rng);
      record = tether_collection_create (f->items, object, &error);
      g_assert_no_error (error);
      id = g_strdup (tether_record_get_id (record));
      g_ptr_array_add (ids, g_strdup (id));
      return id;
    }
  if (choice < 60)
    {
      guint victim = g_rand_int_range (rng, 0, ids->len);

      id = g_strdup (g_ptr_array_index (ids, victim));
      delete (f, id);
      g_ptr_array_remove_index_fast (ids, victim);
      return id;
    }
  id = g_strdup (g_ptr_array_index (ids, g_rand_int_range (rng, 0, ids->len)));
  *note_only = choice >= 85;
  if (*note_only)
    {
      g_autofree char *text = random_words (rng, 2);

      object = json_object_new ();
      json_object_set_string_member (object, "note", text);
    }
  else
    object = random_patch (rng);
  record = tether_collection_update (f->items, id, object, &error);
  g_assert_no_error (error);
  return id;
}

/* Several writes in one transaction, committed or rolled back. */
static void
run_batch (Fixture *f, GRand *rng, GPtrArray *ids, guint n, gboolean commit)
{
  g_autoptr(GPtrArray) saved = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < ids->len; i++)
    g_ptr_array_add (saved, g_strdup (g_ptr_array_index (ids, i)));
  g_assert_true (tether_database_begin (f->db, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      gboolean note_only;
      g_free (random_write (f, rng, ids, &note_only));
    }
  if (commit)
    {
      g_assert_true (tether_database_commit (f->db, &error));
      g_assert_no_error (error);
      return;
    }
  tether_database_rollback (f->db);
  g_ptr_array_set_size (ids, 0);
  for (guint i = 0; i < saved->len; i++)
    g_ptr_array_add (ids, g_strdup (g_ptr_array_index (saved, i)));
}

static void
check_batch (Watched *w, guint n, gboolean commit, guint op, guint32 seed)
{
  g_autoptr(GPtrArray) after = model_ids (G_LIST_MODEL (w->live));
  g_autoptr(GPtrArray) fresh = tether_query_run (tether_live_query_get_query (w->live), NULL);
  g_autoptr(GPtrArray) model = model_records (G_LIST_MODEL (w->live));
  g_autofree char *fresh_text = describe_records (fresh);
  g_autofree char *model_text = describe_records (model);
  g_autofree char *got = changes_string (&w->rec);
  gboolean small = w->rec.changes->len <= 3 * n + 2 * n_displaced (w->before, after, NULL);

  assert_same (w, "model and fresh query after a transaction", model_text, fresh_text, op, seed);
  if (!commit)
    assert_same (w, "signals for a rolled-back transaction", got, "", op, seed);
  for (guint i = 0; i < w->rec.changes->len; i++)
    {
      Change *c = &g_array_index (w->rec.changes, Change, i);
      small = small && c->removed + c->added <= 2;
    }
  assert_same (w, "signals (at most 3 a write, each at most 2 items)", small ? "small" : got, "small", op, seed);
  g_array_set_size (w->rec.changes, 0);
}

static guint32
random_seed (void)
{
  const char *env = g_getenv ("TETHER_TEST_SEED");

  if (env != NULL)
    return (guint32) strtoul (env, NULL, 10);
  return g_test_rand_int ();
}

static void
test_random (Fixture *f, gconstpointer data)
{
  guint32 seed = random_seed ();
  g_autoptr(GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(TetherQuery) sorted = tether_query_new (f->items);
  g_autoptr(TetherQuery) filtered = tether_query_new (f->items);
  g_autoptr(TetherQuery) window = tether_query_new (f->items);
  g_autoptr(TetherQuery) ranked = tether_query_new (f->items);
  g_autoptr(TetherQuery) search_sorted = tether_query_new (f->items);
  g_autoptr(TetherQuery) recent = tether_query_new (f->items);
  g_autoptr(TetherQuery) either = tether_query_new (f->items);
  g_autoptr(TetherQuery) upcoming = tether_query_new (f->items);
  Watched watched[8];
  guint n_ops = g_test_slow () ? 5000 : 1000;

  g_test_message ("seed %u (set TETHER_TEST_SEED to replay)", seed);

  tether_query_where_text (sorted, "done == false");
  tether_query_sort (tether_query_sort (tether_query_sort (sorted, "rank", FALSE), "score", TRUE), "grp", FALSE);
  tether_query_where_text (filtered, "grp in [\"a\", \"b\"]");
  tether_query_sort (tether_query_sort (window, "grp", TRUE), "rank", FALSE);
  tether_query_offset (tether_query_limit (window, 20), 5);
  tether_query_search (ranked, "sync");
  tether_query_sort (tether_query_sort (tether_query_search (search_sorted, "syn"), "due", TRUE), "title", FALSE);
  tether_query_limit (tether_query_sort (recent, "updatedAt", TRUE), 10);
  tether_query_or_where_text (either, 0, "rank >= 4");
  tether_query_or_where_text (either, 0, "grp == c");
  tether_query_sort (tether_query_sort (either, "title", FALSE), "score", FALSE);
  tether_query_where_text (upcoming, "due >= 2024-07-01T00:00:00+02:00");
  tether_query_sort (upcoming, "due", FALSE);

  watched[0] = (Watched) { "sorted", live_new (sorted), { 0 }, TRUE, FALSE, TRUE, NULL };
  watched[1] = (Watched) { "filtered", live_new (filtered), { 0 }, TRUE, FALSE, TRUE, NULL };
  watched[2] = (Watched) { "window", live_new (window), { 0 }, FALSE, FALSE, TRUE, NULL };
  watched[3] = (Watched) { "ranked", live_new (ranked), { 0 }, FALSE, TRUE, TRUE, NULL };
  watched[4] = (Watched) { "search-sorted", live_new (search_sorted), { 0 }, TRUE, FALSE, TRUE, NULL };
  watched[5] = (Watched) { "recent", live_new (recent), { 0 }, FALSE, FALSE, FALSE, NULL };
  watched[6] = (Watched) { "either", live_new (either), { 0 }, TRUE, FALSE, TRUE, NULL };
  watched[7] = (Watched) { "upcoming", live_new (upcoming), { 0 }, TRUE, FALSE, TRUE, NULL };
  for (guint w = 0; w < G_N_ELEMENTS (watched); w++)
    recorder_init (&watched[w].rec, watched[w].live);

  for (guint op = 0; op < n_ops; op++)
    {
      g_autofree char *id = NULL;
      gboolean note_only = FALSE;
      guint batch = g_rand_int_range (rng, 0, 100) < 5 ? g_rand_int_range (rng, 2, 5) : 0;

      for (guint w = 0; w < G_N_ELEMENTS (watched); w++)
        {
          g_clear_pointer (&watched[w].before, g_ptr_array_unref);
          watched[w].before = model_ids (G_LIST_MODEL (watched[w].live));
        }
      if (batch == 0)
        {
          id = random_write (f, rng, ids, &note_only);
          for (guint w = 0; w < G_N_ELEMENTS (watched); w++)
            check_watched (&watched[w], id, note_only, op, seed);
        }
      else
        {
          gboolean commit = g_rand_boolean (rng);

          run_batch (f, rng, ids, batch, commit);
          for (guint w = 0; w < G_N_ELEMENTS (watched); w++)
            check_batch (&watched[w], batch, commit, op, seed);
        }
    }

  for (guint w = 0; w < G_N_ELEMENTS (watched); w++)
    {
      g_test_message ("%s ends with %u items", watched[w].name,
                      g_list_model_get_n_items (G_LIST_MODEL (watched[w].live)));
      recorder_clear (&watched[w].rec);
      g_clear_pointer (&watched[w].before, g_ptr_array_unref);
      g_assert_finalize_object (watched[w].live);
    }
}

/* Another process commits, and the re-run fails: BUSY while that process
 * recovers the log, say; here a progress handler interrupts it. Nothing
 * else commits after, so only a retry can show the record. */
typedef struct {
  gboolean arm;    /* fail the reads after the next external change */
  gboolean fail;
} ReadFailure;

static int
fail_reads (void *data)
{
  return ((ReadFailure *) data)->fail;
}

static void
on_external_fail_reads (TetherDatabase *db,
                        ReadFailure    *failure)
{
  /* connected before the live query's handler: its re-run fails */
  failure->fail |= failure->arm;
  failure->arm = FALSE;
}

static void
test_external_retry (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "retry.db", NULL);
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(TetherDatabase) app = tether_test_open (path, schema);
  g_autoptr(TetherDatabase) other = tether_test_open (path, schema);
  g_autoptr(TetherQuery) query = tether_query_new (tether_database_get_collection (app, "items", NULL));
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherRecord) record = NULL;
  ReadFailure failure = { FALSE, FALSE };
  gint64 deadline;

  g_signal_connect (app, "external-change", G_CALLBACK (on_external_fail_reads), &failure);
  live = tether_live_query_new (tether_query_sort (query, "title", FALSE), NULL);
  g_assert_nonnull (live);
  sqlite3_progress_handler (_tether_database_get_handle (app), 1, fail_reads, &failure);
  record = tether_test_create (tether_database_get_collection (other, "items", NULL), "{\"title\": \"a\"}");

  failure.arm = TRUE;
  g_test_expect_message ("tether-live-query", G_LOG_LEVEL_WARNING, "live query on items: *");
  g_assert_true (tether_database_check_external (app));
  g_test_assert_expected_messages ();
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (live)), ==, 0);

  failure.fail = FALSE;
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_list_model_get_n_items (G_LIST_MODEL (live)) == 0 && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10 * 1000);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (live)), ==, 1);
  sqlite3_progress_handler (_tether_database_get_handle (app), 0, NULL, NULL);
  g_clear_object (&live);
  g_clear_object (&app);
  g_clear_object (&other);
  tether_test_dir_free (g_steal_pointer (&dir));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tether/live-query/change/create", test_create);
  ADD ("/tether/live-query/change/delete", test_delete);
  ADD ("/tether/live-query/change/update-in-place", test_update_in_place);
  ADD ("/tether/live-query/change/update-moves", test_update_moves);
  ADD ("/tether/live-query/change/update-filter", test_update_filter);
  ADD ("/tether/live-query/change/exact-numbers", test_exact_numbers);
  ADD ("/tether/live-query/change/n-items", test_n_items_notify);
  ADD ("/tether/live-query/transaction/rollback", test_rollback);
  ADD ("/tether/live-query/transaction/several-writes", test_transaction);
  ADD ("/tether/live-query/transaction/loaded-inside", test_loaded_in_transaction);
  ADD ("/tether/live-query/set-query", test_set_query);
  ADD ("/tether/live-query/find", test_find);
  ADD ("/tether/live-query/bad-query", test_new_with_bad_query);
  ADD ("/tether/live-query/finalize", test_finalize);
  ADD ("/tether/live-query/window", test_window);
  ADD ("/tether/live-query/ranked-search", test_ranked_search);
  ADD ("/tether/live-query/ranked-search-statistics", test_ranked_search_statistics);
  ADD ("/tether/live-query/random", test_random);
#undef ADD
  g_test_add_func ("/tether/live-query/default-schema/note-list", test_default_schema_note_list);
  g_test_add_func ("/tether/live-query/external/retry", test_external_retry);

  return g_test_run ();
}
