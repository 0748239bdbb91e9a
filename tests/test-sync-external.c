/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-external"
#include "config.h"

#include "tether-test-util.h"

/* Two processes on one file (the app and the `tether` CLI): a write by one
 * reaches the other's live queries, and the signals they emit say exactly
 * what changed. The second process is played by a second TetherDatabase
 * (its own SQLite connection) and by the real CLI binary. The goal is a
 * second from write to live query; each wait measures and prints how long
 * it took, and only a generous bound on it fails a test, so a loaded
 * machine does not. Nothing else here depends on timing. */

#define ARRIVAL_GOAL_MS    1000
#define ARRIVAL_TIMEOUT_MS 20000

typedef struct {
  char             *dir;
  char             *path;
  GMainContext     *context;  /* where the watching connection emits */
  TetherDatabase   *app;      /* the connection whose live queries watch */
  TetherDatabase   *other;    /* another connection to the same file */
  TetherCollection *notes;    /* of app */
  TetherCollection *other_notes;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = tether_test_dir_new ();
  f->path = g_build_filename (f->dir, "notes.db", NULL);
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->app = tether_test_open (f->path, NULL);
  f->other = tether_test_open (f->path, NULL);
  f->notes = tether_database_get_collection (f->app, "notes", NULL);
  f->other_notes = tether_database_get_collection (f->other, "notes", NULL);
  g_assert_nonnull (f->notes);
  g_assert_nonnull (f->other_notes);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->other);
  g_assert_finalize_object (f->app);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_free (f->path);
  tether_test_dir_free (f->dir);
}

/* Writes by the other connection ----------------------------------------------------- */

static char *
other_create (Fixture *f, const char *json)
{
  g_autoptr(TetherRecord) record = tether_test_create (f->other_notes, json);

  return g_strdup (tether_record_get_id (record));
}

static void
other_update (Fixture *f, const char *id, const char *patch_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) patch = tether_test_object (patch_json);
  g_autoptr(TetherRecord) record = tether_collection_update (f->other_notes, id, patch, &error);

  g_assert_no_error (error);
}

/* Runs `tether --db PATH ARGS…` to success; its standard output. */
static char *
run_cli (Fixture *f, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  char *out = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TETHER_CLI"));
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, f->path);
  va_start (ap, f);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_assert_nonnull (argv->pdata[0]);
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    g_error ("tether %s failed: %s", (char *) argv->pdata[3], err);
  return out;
}

/* Watching ---------------------------------------------------------------------------- */

/* Builds the watched query for a collection of either connection. */
typedef TetherQuery *(*QueryFunc) (TetherCollection *notes);

typedef struct {
  TetherLiveQuery *live;
  QueryFunc        make;
  GString         *changes;   /* "(position,removed,added)…" since the last check */
} Watch;

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, Watch *watch)
{
  g_string_append_printf (watch->changes, "(%u,%u,%u)", position, removed, added);
}

static void
watch_init (Fixture *f, Watch *watch, QueryFunc make)
{
  g_autoptr(TetherQuery) query = make (f->notes);
  g_autoptr(GError) error = NULL;

  watch->make = make;
  watch->live = tether_live_query_new (query, &error);
  g_assert_no_error (error);
  watch->changes = g_string_new (NULL);
  g_signal_connect (watch->live, "items-changed", G_CALLBACK (on_items_changed), watch);
}

static void
watch_clear (Watch *watch)
{
  g_assert_finalize_object (watch->live);
  g_string_free (watch->changes, TRUE);
}

/* "title:body,…" in model order: shows records that moved and records that changed. */
static char *
describe (TetherLiveQuery *live)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (live)); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (live), i);

      g_string_append_printf (out, "%s%s:%s", i ? "," : "", tether_record_get_string (record, "title", "?"),
                              tether_record_get_string (record, "body", "?"));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef gboolean (*DoneFunc) (gpointer data);

/* Iterate the app's main context until @done holds, for
 * ARRIVAL_TIMEOUT_MS at most; prints how long it took. */
static gboolean
iterate_until (Fixture *f, DoneFunc done, gpointer data)
{
  g_autoptr(GSource) deadline = g_timeout_source_new (ARRIVAL_TIMEOUT_MS);
  gint64 start = g_get_monotonic_time ();
  gint64 took_ms;
  gboolean late = FALSE;

  g_source_set_callback (deadline, on_deadline, &late, NULL);
  g_source_attach (deadline, f->context);
  while (!done (data) && !late)
    g_main_context_iteration (f->context, TRUE);
  g_source_destroy (deadline);
  took_ms = (g_get_monotonic_time () - start) / 1000;
  g_test_message ("arrived after %" G_GINT64_FORMAT " ms%s", took_ms,
                  took_ms > ARRIVAL_GOAL_MS ? ", past the goal of a second" : "");
  return done (data);
}

/* The signals since the last call, then forget them. */
static void
assert_changes (Watch *watch, const char *expected)
{
  g_assert_cmpstr (watch->changes->str, ==, expected);
  g_string_truncate (watch->changes, 0);
}

typedef struct {
  Watch      *watch;
  const char *shown;
} Expected;

static gboolean
shows_expected (gpointer data)
{
  Expected *expected = data;
  g_autofree char *shown = describe (expected->watch->live);

  return g_str_equal (shown, expected->shown);
}

/* The live query comes to show @shown, and it took exactly the signals
 * @changes to get there. */
static void
expect (Fixture *f, Watch *watch, const char *shown, const char *changes)
{
  Expected expected = { watch, shown };

  if (!iterate_until (f, shows_expected, &expected))
    {
      g_autofree char *got = describe (watch->live);

      g_error ("after %d ms the live query shows \"%s\", not \"%s\"", ARRIVAL_TIMEOUT_MS, got, shown);
    }
  assert_changes (watch, changes);
}

static char *
ids_of (GListModel *model)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      g_string_append_printf (out, "%s ", tether_record_get_id (record));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
ids_of_run (TetherQuery *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = tether_query_run (query, &error);
  g_autoptr(GListStore) store = g_list_store_new (TETHER_TYPE_RECORD);

  g_assert_no_error (error);
  g_list_store_splice (store, 0, 0, records->pdata, records->len);
  return ids_of (G_LIST_MODEL (store));
}

/* The live query holds what its query gives now on either connection (the
 * other one's search ranking has no cache filled by earlier runs). */
static void
assert_current (Fixture *f, Watch *watch)
{
  g_autoptr(TetherQuery) other_query = watch->make (f->other_notes);
  g_autofree char *shown = ids_of (G_LIST_MODEL (watch->live));
  g_autofree char *mine = ids_of_run (tether_live_query_get_query (watch->live));
  g_autofree char *theirs = ids_of_run (other_query);

  g_assert_cmpstr (shown, ==, mine);
  g_assert_cmpstr (mine, ==, theirs);
}

static TetherQuery *
by_title (TetherCollection *notes)
{
  TetherQuery *query = tether_query_new (notes);

  tether_query_sort (query, "title", FALSE);
  return query;
}

/* Re-run and diffed on every change, never incremental. */
static TetherQuery *
first_two (TetherCollection *notes)
{
  TetherQuery *query = by_title (notes);

  tether_query_limit (query, 2);
  return query;
}

/* Ranked by bm25: the order depends on every matching document's length. */
static TetherQuery *
apple_search (TetherCollection *notes)
{
  TetherQuery *query = tether_query_new (notes);

  tether_query_search (query, "apple");
  return query;
}

/* Tests ------------------------------------------------------------------------------------ */

static void
test_connection (Fixture *f, gconstpointer data)
{
  Watch sorted, window;
  g_autofree char *a = NULL, *c = NULL;
  g_autoptr(TetherRecord) b = tether_test_create (f->notes, "{\"title\": \"b\"}");
  g_autoptr(GError) error = NULL;

  watch_init (f, &sorted, by_title);
  watch_init (f, &window, first_two);
  a = other_create (f, "{\"title\": \"a\"}");
  expect (f, &sorted, "a:,b:", "(0,0,1)");

  /* one transaction of two records: two inserts, wherever they belong */
  g_assert_true (tether_database_begin (f->other, &error));
  c = other_create (f, "{\"title\": \"c\"}");
  g_free (other_create (f, "{\"title\": \"d\"}"));
  g_assert_true (tether_database_commit (f->other, &error));
  expect (f, &sorted, "a:,b:,c:,d:", "(2,0,1)(3,0,1)");

  /* a change that keeps the record's place replaces it there */
  other_update (f, c, "{\"body\": \"ripe\"}");
  expect (f, &sorted, "a:,b:,c:ripe,d:", "(2,1,1)");

  /* a change that moves it: out from its place, in at the new one */
  other_update (f, a, "{\"title\": \"e\"}");
  expect (f, &sorted, "b:,c:ripe,d:,e:", "(0,1,0)(3,0,1)");

  g_assert_true (tether_collection_delete (f->other_notes, tether_record_get_id (b), &error));
  g_assert_no_error (error);
  expect (f, &sorted, "c:ripe,d:,e:", "(0,1,0)");

  /* the window re-runs on each of the same commits: what left it, what came */
  expect (f, &window, "c:ripe,d:", "(0,0,1)(0,1,0)(1,0,1)(0,1,0)(1,0,1)");
  assert_current (f, &sorted);
  assert_current (f, &window);
  watch_clear (&window);
  watch_clear (&sorted);
}

/* Local writes still arrive through "changed", at once and only once. */
static void
test_local_and_external (Fixture *f, gconstpointer data)
{
  Watch sorted;

  watch_init (f, &sorted, by_title);
  g_free (other_create (f, "{\"title\": \"b\"}"));
  g_object_unref (tether_test_create (f->notes, "{\"title\": \"a\"}"));
  assert_changes (&sorted, "(0,0,1)");
  expect (f, &sorted, "a:,b:", "(1,0,1)");
  g_assert_false (tether_database_check_external (f->app));
  assert_changes (&sorted, "");
  watch_clear (&sorted);
}

static void
test_cli (Fixture *f, gconstpointer data)
{
  Watch sorted;
  g_autofree char *created = NULL;
  g_autoptr(JsonObject) record = NULL;
  const char *id;

  watch_init (f, &sorted, by_title);
  g_object_unref (tether_test_create (f->notes, "{\"title\": \"m\"}"));
  assert_changes (&sorted, "(0,0,1)");

  created = run_cli (f, "create", "notes", "{\"title\": \"x\"}", NULL);
  record = tether_test_object (created);
  id = json_object_get_string_member (record, "id");
  expect (f, &sorted, "m:,x:", "(1,0,1)");

  g_free (run_cli (f, "update", "notes", id, "{\"body\": \"from the shell\"}", NULL));
  expect (f, &sorted, "m:,x:from the shell", "(1,1,1)");

  g_free (run_cli (f, "update", "notes", id, "{\"title\": \"a\"}", NULL));
  expect (f, &sorted, "a:from the shell,m:", "(1,1,0)(0,0,1)");

  g_free (run_cli (f, "delete", "notes", id, NULL));
  expect (f, &sorted, "m:", "(0,1,0)");
  assert_current (f, &sorted);
  watch_clear (&sorted);
}

/* A ranked search: the other connection changes which records match and how
 * long they are, so the ranking cache of this one must not survive it. */
static void
test_search (Fixture *f, gconstpointer data)
{
  Watch search;
  g_autofree char *short_one = NULL, *long_one = NULL, *banana = NULL;

  short_one = other_create (f, "{\"title\": \"apple\", \"body\": \"x\"}");
  long_one = other_create (f, "{\"title\": \"apple\", \"body\": \"y z w\"}");
  banana = other_create (f, "{\"title\": \"banana\"}");
  watch_init (f, &search, apple_search);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (search.live)), ==, 2);
  assert_current (f, &search);

  /* the short one grows past the other: they trade places */
  other_update (f, short_one, "{\"body\": \"a b c d e f g\"}");
  expect (f, &search, "apple:y z w,apple:a b c d e f g", "(0,1,0)(1,0,1)");
  assert_current (f, &search);

  g_free (run_cli (f, "update", "notes", banana, "{\"title\": \"apple banana\"}", NULL));
  expect (f, &search, "apple banana:,apple:y z w,apple:a b c d e f g", "(0,0,1)");
  assert_current (f, &search);

  g_free (run_cli (f, "delete", "notes", long_one, NULL));
  expect (f, &search, "apple banana:,apple:a b c d e f g", "(1,1,0)");
  assert_current (f, &search);
  watch_clear (&search);
}

static void
on_external_change (TetherDatabase *db, guint *count)
{
  (*count)++;
}

/* The signal itself, and the explicit check. */
static void
test_check (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) memory = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;
  guint count = 0;

  g_signal_connect (f->app, "external-change", G_CALLBACK (on_external_change), &count);
  g_assert_false (tether_database_check_external (memory));
  g_assert_false (tether_database_check_external (f->app));
  g_object_unref (tether_test_create (f->notes, "{\"title\": \"mine\"}"));
  g_assert_false (tether_database_check_external (f->app));
  g_assert_cmpuint (count, ==, 0);

  g_free (other_create (f, "{\"title\": \"theirs\"}"));
  g_assert_true (tether_database_check_external (f->app));
  g_assert_cmpuint (count, ==, 1);
  g_assert_false (tether_database_check_external (f->app));

  /* inside a transaction of ours, the news waits until it ends */
  g_free (other_create (f, "{\"title\": \"later\"}"));
  g_assert_true (tether_database_begin (f->app, &error));
  g_assert_false (tether_database_check_external (f->app));
  tether_database_rollback (f->app);
  g_assert_true (tether_database_check_external (f->app));
  g_assert_cmpuint (count, ==, 2);

  g_signal_handlers_disconnect_by_data (f->app, &count);
  /* "mine" was the app's own write, and is the other connection's news */
  g_assert_true (tether_database_check_external (f->other));
  g_assert_false (tether_database_check_external (f->other));
  tether_database_close (f->app);
  g_assert_false (tether_database_check_external (f->app));
}

static gboolean
counted (gpointer data)
{
  return *(guint *) data > 0;
}

/* Without a live query and without an explicit check, the main loop brings it. */
static void
test_signal (Fixture *f, gconstpointer data)
{
  guint count = 0;

  g_signal_connect (f->app, "external-change", G_CALLBACK (on_external_change), &count);
  g_free (other_create (f, "{\"title\": \"theirs\"}"));
  g_assert_true (iterate_until (f, counted, &count));
  g_assert_cmpuint (count, ==, 1);
  g_signal_handlers_disconnect_by_data (f->app, &count);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/tether/sync/external/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("connection", test_connection);
  ADD ("local-and-external", test_local_and_external);
  ADD ("cli", test_cli);
  ADD ("search", test_search);
  ADD ("check", test_check);
  ADD ("signal", test_signal);
#undef ADD
  return g_test_run ();
}
