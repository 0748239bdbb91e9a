/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-engine"
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tether.h"

/* Measures the engine on an on-disk database and prints the figures beside
 * their goals. A benchmark: it never fails on time, only on engine errors. */

#define N_CREATES 10000
#define N_UPDATES 2000
#define N_DELETES 500
#define N_QUERY_RUNS 50
#define N_LIVE_UPDATES 200
#define YEAR_START_MS G_GINT64_CONSTANT (1735689600000) /* 2025-01-01T00:00:00Z */
#define YEAR_MS (G_GINT64_CONSTANT (365) * 24 * 3600 * 1000)
#define RANGE_FROM "2025-07-01T00:00:00.000Z"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

static const char * const words[] = {
  "buy", "milk", "call", "review", "plan", "report", "fix", "meeting", "draft",
  "email", "garden", "budget", "travel", "book", "invoice", "team", "weekly",
  "project", "design", "client", "follow", "update", "release", "bug", "deploy",
  "paint", "kitchen", "doctor", "renew", "passport", "order", "parts", "clean",
  "garage", "read", "chapter", "write", "letter", "prepare", "slides", "check",
  "backup", "server", "water", "plants", "pay", "rent", "dentist", "music", "bike",
};

static const char * const tags[] = {
  "work", "home", "errand", "urgent", "later", "ideas", "family", "money",
};

/* Where the databases live; removed by cleanup(). */
static char *work_dir;
static gboolean own_dir;

/* ---- output ---------------------------------------------------------- */

static void
heading (const char *title)
{
  g_print ("\n%s\n", title);
}

/* One figure a line: label, value, unit, and the goal when there is one.
 * Plain ASCII so the columns line up in any locale. */
static void
figure (const char *label,
        double      value,
        int         decimals,
        const char *unit,
        const char *goal)
{
  if (goal != NULL)
    g_print ("  %-44s %12.*f %-6s  goal %s\n", label, decimals, value, unit, goal);
  else
    g_print ("  %-44s %12.*f %s\n", label, decimals, value, unit);
}

static void
print_indented (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_print ("      | %s\n", lines[i]);
}

/* ---- setup and failure ----------------------------------------------- */

static const char * const db_names[] = { "engine.db", "floor.db", "bare.db", "big.db" };

static void
remove_db_files (void)
{
  static const char * const suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (guint i = 0; i < G_N_ELEMENTS (db_names); i++)
    for (guint s = 0; s < G_N_ELEMENTS (suffixes); s++)
      {
        g_autofree char *name = g_strconcat (db_names[i], suffixes[s], NULL);
        g_autofree char *path = g_build_filename (work_dir, name, NULL);

        g_unlink (path);
      }
}

static void
cleanup (void)
{
  if (work_dir == NULL)
    return;
  remove_db_files ();
  if (own_dir)
    g_rmdir (work_dir);
  g_clear_pointer (&work_dir, g_free);
}

G_GNUC_NORETURN static void
die (const char *what,
     const char *message)
{
  g_printerr ("bench-engine: %s: %s\n", what, message);
  cleanup ();
  exit (EXIT_FAILURE);
}

static void
check (gboolean      ok,
       const char   *what,
       const GError *error)
{
  if (!ok)
    die (what, error ? error->message : "failed");
}

static void
check_sqlite (sqlite3    *db,
              int         rc,
              int         expected,
              const char *what)
{
  if (rc != expected)
    die (what, sqlite3_errmsg (db));
}

static char *
db_path (const char *name)
{
  return g_build_filename (work_dir, name, NULL);
}

static TetherDatabase *
open_fresh (const char *name)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autofree char *path = db_path (name);
  g_autoptr(GError) error = NULL;
  TetherDatabase *db;

  db = tether_database_open (path, schema, &error);
  check (db != NULL, path, error);
  return db;
}

static TetherCollection *
tasks_of (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *tasks = tether_database_get_collection (db, "tasks", &error);

  check (tasks != NULL, "tasks collection", error);
  return tasks;
}

static void
close_db (TetherDatabase *db)
{
  tether_database_close (db);
  g_object_unref (db);
}

/* ---- statistics ------------------------------------------------------ */

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of @samples, sorted in place. */
static gint64
percentile (gint64 *samples,
            guint   n,
            double  p)
{
  guint rank;

  qsort (samples, n, sizeof (gint64), compare_gint64);
  rank = (guint) (p * n + 0.999999);
  return samples[CLAMP (rank, 1, n) - 1];
}

static void
figure_distribution (const char *label,
                     gint64     *samples,
                     guint       n,
                     const char *goal)
{
  g_autofree char *min = g_strdup_printf ("%s, min", label);
  g_autofree char *median = g_strdup_printf ("%s, median", label);
  g_autofree char *p95 = g_strdup_printf ("%s, p95", label);

  figure (min, percentile (samples, n, 0.0), 1, "us", NULL);
  figure (median, percentile (samples, n, 0.5), 1, "us", goal);
  figure (p95, percentile (samples, n, 0.95), 1, "us", NULL);
}

static double
ms_of (gint64 usec)
{
  return usec / 1000.0;
}

static double
rate_of (guint  ops,
         gint64 usec)
{
  return usec > 0 ? ops / (usec / 1e6) : 0.0;
}

/* ---- data ------------------------------------------------------------ */

static char *
make_text (GRand    *rand,
           gsize     target,
           gboolean  with_sync)
{
  GString *text = g_string_new (NULL);
  guint sync_at = with_sync ? (guint) g_rand_int_range (rand, 0, 3) : G_MAXUINT;

  for (guint w = 0; text->len < target; w++)
    {
      const char *word = w == sync_at ? "sync" : words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];

      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, word);
    }
  return g_string_free (text, FALSE);
}

static JsonArray *
make_tags (GRand *rand)
{
  JsonArray *array = json_array_new ();
  guint first = g_rand_int_range (rand, 0, G_N_ELEMENTS (tags));
  guint second = (first + g_rand_int_range (rand, 1, G_N_ELEMENTS (tags))) % G_N_ELEMENTS (tags);

  json_array_add_string_element (array, tags[first]);
  json_array_add_string_element (array, tags[second]);
  return array;
}

static char *
random_due (GRand *rand)
{
  gint64 offset = (gint64) (g_rand_double (rand) * YEAR_MS);

  return tether_time_format_ms (YEAR_START_MS + offset / 1000 * 1000);
}


/* The write-job shape: {title ~30 chars, notes ~200 chars, done, tags[2]}. */
static JsonObject *
make_job_record (GRand *rand)
{
  JsonObject *object = json_object_new ();
  g_autofree char *title = make_text (rand, 28, FALSE);
  g_autofree char *notes = make_text (rand, 198, FALSE);

  json_object_set_string_member (object, "title", title);
  json_object_set_string_member (object, "notes", notes);
  json_object_set_boolean_member (object, "done", FALSE);
  json_object_set_array_member (object, "tags", make_tags (rand));
  return object;
}

/* The big-set shape: common words, "sync" in ~10% of titles, done 25%,
 * priority 0-3, due spread over 2025. */
static JsonObject *
make_big_record (GRand *rand)
{
  JsonObject *object = json_object_new ();
  gboolean with_sync = g_rand_int_range (rand, 0, 10) == 0;
  g_autofree char *title = make_text (rand, 28, with_sync);
  g_autofree char *notes = make_text (rand, 150, FALSE);
  g_autofree char *due = random_due (rand);

  json_object_set_string_member (object, "title", title);
  json_object_set_string_member (object, "notes", notes);
  json_object_set_boolean_member (object, "done", g_rand_int_range (rand, 0, 4) == 0);
  json_object_set_string_member (object, "due", due);
  json_object_set_int_member (object, "priority", g_rand_int_range (rand, 0, 4));
  json_object_set_array_member (object, "tags", make_tags (rand));
  return object;
}

static char *
object_to_json (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

/* ---- 1. the local write job through the engine ----------------------- */

typedef enum { PHASE_CREATE, PHASE_UPDATE, PHASE_DELETE, N_PHASES } Phase;

static const char * const phase_names[N_PHASES] = { "create", "update", "delete" };
static const guint phase_ops[N_PHASES] = { N_CREATES, N_UPDATES, N_DELETES };

typedef struct {
  char   *ids[N_CREATES];
  char   *created_json[N_CREATES];  /* the records as the engine stored them */
  char   *updated_json[N_CREATES];  /* the same with done = true */
  guint   update_at[N_UPDATES];     /* indexes into ids, may repeat */
  guint   delete_at[N_DELETES];     /* distinct indexes into ids */
  gint64  engine_usec[N_PHASES];
  gint64  floor_usec[N_PHASES];
  gint64  bare_usec[N_PHASES];
} WriteJob;

static void
write_job_init (WriteJob *job,
                GRand    *rand)
{
  guint order[N_CREATES];

  for (guint i = 0; i < N_UPDATES; i++)
    job->update_at[i] = g_rand_int_range (rand, 0, N_CREATES);
  for (guint i = 0; i < N_CREATES; i++)
    order[i] = i;
  for (guint i = 0; i < N_DELETES; i++)
    {
      guint j = g_rand_int_range (rand, i, N_CREATES);
      guint tmp = order[i];

      order[i] = order[j];
      order[j] = tmp;
      job->delete_at[i] = order[i];
    }
}

static void
write_job_clear (WriteJob *job)
{
  for (guint i = 0; i < N_CREATES; i++)
    {
      g_free (job->ids[i]);
      g_free (job->created_json[i]);
      g_free (job->updated_json[i]);
    }
}

/* Keep what the floor needs: the stored texts, and the updated ones. */
static void
write_job_keep (WriteJob     *job,
                guint         i,
                TetherRecord *record)
{
  g_autoptr(JsonObject) updated = tether_record_dup_data (record);

  job->ids[i] = g_strdup (tether_record_get_id (record));
  job->created_json[i] = tether_record_to_json (record);
  json_object_set_boolean_member (updated, "done", TRUE);
  job->updated_json[i] = object_to_json (updated);
}

static gint64
engine_creates (TetherCollection *tasks,
                WriteJob         *job,
                GRand            *rand)
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 start, usec;

  for (guint i = 0; i < N_CREATES; i++)
    g_ptr_array_add (inputs, make_job_record (rand));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_CREATES; i++)
    {
      g_autoptr(GError) error = NULL;
      TetherRecord *record = tether_collection_create (tasks, inputs->pdata[i], &error);

      check (record != NULL, "create", error);
      g_ptr_array_add (records, record);
    }
  usec = g_get_monotonic_time () - start;

  for (guint i = 0; i < N_CREATES; i++)
    write_job_keep (job, i, records->pdata[i]);
  return usec;
}

static gint64
engine_updates (TetherCollection *tasks,
                WriteJob         *job)
{
  g_autoptr(GPtrArray) patches = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  gint64 start;

  for (guint i = 0; i < N_UPDATES; i++)
    {
      JsonObject *patch = json_object_new ();

      json_object_set_boolean_member (patch, "done", TRUE);
      g_ptr_array_add (patches, patch);
    }

  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_UPDATES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherRecord) record = NULL;

      record = tether_collection_update (tasks, job->ids[job->update_at[i]],
                                         patches->pdata[i], &error);
      check (record != NULL, "update", error);
    }
  return g_get_monotonic_time () - start;
}

static gint64
engine_deletes (TetherCollection *tasks,
                WriteJob         *job)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_DELETES; i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok = tether_collection_delete (tasks, job->ids[job->delete_at[i]], &error);

      check (ok, "delete", error);
    }
  return g_get_monotonic_time () - start;
}

static void
run_engine_job (WriteJob *job,
                GRand    *rand)
{
  TetherDatabase *db = open_fresh ("engine.db");
  TetherCollection *tasks = tasks_of (db);

  job->engine_usec[PHASE_CREATE] = engine_creates (tasks, job, rand);
  job->engine_usec[PHASE_UPDATE] = engine_updates (tasks, job);
  job->engine_usec[PHASE_DELETE] = engine_deletes (tasks, job);
  close_db (db);
}

/* ---- 2. the raw SQLite floor ------------------------------------------ */

typedef struct {
  sqlite3      *db;
  sqlite3_stmt *begin;
  sqlite3_stmt *commit;
  const char   *table;
} Floor;

static sqlite3_stmt *
floor_prepare (Floor      *floor_,
               const char *sql)
{
  sqlite3_stmt *stmt = NULL;

  check_sqlite (floor_->db, sqlite3_prepare_v3 (floor_->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                                &stmt, NULL), SQLITE_OK, sql);
  return stmt;
}

/* Run @stmt (already bound) in its own BEGIN IMMEDIATE/COMMIT, as the
 * engine does for a lone write. */
static void
floor_step (Floor        *floor_,
            sqlite3_stmt *stmt)
{
  check_sqlite (floor_->db, sqlite3_step (floor_->begin), SQLITE_DONE, "BEGIN");
  sqlite3_reset (floor_->begin);
  check_sqlite (floor_->db, sqlite3_step (stmt), SQLITE_DONE, "write");
  sqlite3_reset (stmt);
  check_sqlite (floor_->db, sqlite3_step (floor_->commit), SQLITE_DONE, "COMMIT");
  sqlite3_reset (floor_->commit);
}

/* The floor does the storage work the engine asks of SQLite: with
 * @same_storage the file gets the engine's own tables, expression indexes
 * and FTS triggers (created by opening it once with the same schema);
 * without, a bare table, to show what the indexes and search cost. */
static void
floor_open (Floor    *floor_,
            gboolean  same_storage)
{
  g_autofree char *path = db_path (same_storage ? "floor.db" : "bare.db");
  const char *setup =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY NOT NULL, data TEXT NOT NULL,"
    "                created INTEGER NOT NULL, updated INTEGER NOT NULL);";

  if (same_storage)
    {
      g_autoptr(TetherSchema) schema = tether_schema_new_default ();
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherDatabase) db = tether_database_open (path, schema, &error);

      g_assert_no_error (error);
      tether_database_close (db);
    }
  floor_->table = same_storage ? "t_tasks" : "t";
  check_sqlite (NULL, sqlite3_open_v2 (path, &floor_->db,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                SQLITE_OK, path);
  check_sqlite (floor_->db, sqlite3_exec (floor_->db, setup, NULL, NULL, NULL), SQLITE_OK, "setup");
  floor_->begin = floor_prepare (floor_, "BEGIN IMMEDIATE");
  floor_->commit = floor_prepare (floor_, "COMMIT");
}

static void
floor_close (Floor *floor_)
{
  sqlite3_finalize (floor_->begin);
  sqlite3_finalize (floor_->commit);
  sqlite3_close (floor_->db);
}

static gint64
floor_creates (Floor    *floor_,
               WriteJob *job)
{
  g_autofree char *sql =
    g_strdup_printf ("INSERT INTO %s (id, data, created, updated) VALUES (?1, ?2, ?3, ?4)", floor_->table);
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_, sql);
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_CREATES; i++)
    {
      gint64 now = g_get_real_time () / 1000;

      sqlite3_bind_text (stmt, 1, job->ids[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, job->created_json[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, now);
      sqlite3_bind_int64 (stmt, 4, now);
      floor_step (floor_, stmt);
    }
  return g_get_monotonic_time () - start;
}

static gint64
floor_updates (Floor    *floor_,
               WriteJob *job)
{
  g_autofree char *sql =
    g_strdup_printf ("UPDATE %s SET data = ?1, updated = ?2 WHERE id = ?3", floor_->table);
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_, sql);
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_UPDATES; i++)
    {
      guint at = job->update_at[i];

      sqlite3_bind_text (stmt, 1, job->updated_json[at], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, g_get_real_time () / 1000);
      sqlite3_bind_text (stmt, 3, job->ids[at], -1, SQLITE_STATIC);
      floor_step (floor_, stmt);
    }
  return g_get_monotonic_time () - start;
}

static gint64
floor_deletes (Floor    *floor_,
               WriteJob *job)
{
  g_autofree char *sql = g_strdup_printf ("DELETE FROM %s WHERE id = ?1", floor_->table);
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_, sql);
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_DELETES; i++)
    {
      sqlite3_bind_text (stmt, 1, job->ids[job->delete_at[i]], -1, SQLITE_STATIC);
      floor_step (floor_, stmt);
    }
  return g_get_monotonic_time () - start;
}

static void
run_floor_job (WriteJob *job,
               gboolean  same_storage,
               gint64   *usec)
{
  Floor floor_ = { NULL, };

  floor_open (&floor_, same_storage);
  usec[PHASE_CREATE] = floor_creates (&floor_, job);
  usec[PHASE_UPDATE] = floor_updates (&floor_, job);
  usec[PHASE_DELETE] = floor_deletes (&floor_, job);
  floor_close (&floor_);
}

static void
print_phases (const gint64 *usec)
{
  guint ops = N_CREATES + N_UPDATES + N_DELETES;
  g_autofree char *total_time = g_strdup_printf ("total x%u, time", ops);
  g_autofree char *total_rate = g_strdup_printf ("total x%u, rate", ops);
  gint64 total = 0;

  for (guint p = 0; p < N_PHASES; p++)
    {
      g_autofree char *time_label = g_strdup_printf ("%s x%u, time", phase_names[p], phase_ops[p]);
      g_autofree char *rate_label = g_strdup_printf ("%s x%u, rate", phase_names[p], phase_ops[p]);

      figure (time_label, ms_of (usec[p]), 1, "ms", NULL);
      figure (rate_label, rate_of (phase_ops[p], usec[p]), 0, "ops/s", NULL);
      total += usec[p];
    }
  figure (total_time, ms_of (total), 1, "ms", NULL);
  figure (total_rate, rate_of (ops, total), 0, "ops/s", NULL);
}

static void
print_ratios (const WriteJob *job,
              const gint64   *floor_usec,
              const char     *goal)
{
  gint64 engine = 0, floor_ = 0;

  for (guint p = 0; p < N_PHASES; p++)
    {
      g_autofree char *label = g_strdup_printf ("%s, engine / floor", phase_names[p]);

      figure (label, (double) job->engine_usec[p] / MAX (floor_usec[p], 1), 2, "x", NULL);
      engine += job->engine_usec[p];
      floor_ += floor_usec[p];
    }
  figure ("total, engine / floor", (double) engine / MAX (floor_, 1), 2, "x", goal);
}

static void
bench_write_job (GRand *rand)
{
  WriteJob *job = g_new0 (WriteJob, 1);

  write_job_init (job, rand);
  run_engine_job (job, rand);
  run_floor_job (job, TRUE, job->floor_usec);
  run_floor_job (job, FALSE, job->bare_usec);

  heading ("1. Local write job through the engine (tasks, one transaction per call)");
  print_phases (job->engine_usec);
  heading ("2. Raw SQLite floor: same tables, indexes and FTS triggers, same JSON texts,\n"
           "   prepared statements, BEGIN IMMEDIATE/COMMIT per op");
  print_phases (job->floor_usec);
  print_ratios (job, job->floor_usec, "<= 1.30 x");
  heading ("2b. For reference: a bare table (no indexes, no full-text search)");
  print_phases (job->bare_usec);
  print_ratios (job, job->bare_usec, NULL);

  write_job_clear (job);
  g_free (job);
}

/* ---- 3. the big set in one transaction -------------------------------- */

static void
bench_big_insert (TetherDatabase *db,
                  guint           n_records,
                  GRand          *rand)
{
  TetherCollection *tasks = tasks_of (db);
  g_autoptr(GError) error = NULL;
  gint64 usec, start, commit;

  start = g_get_monotonic_time ();
  check (tether_database_begin (db, &error), "begin", error);
  usec = g_get_monotonic_time () - start;

  /* Records are made one at a time (not all up front, to keep the peak RSS
   * honest); only the engine calls are timed. */
  for (guint i = 0; i < n_records; i++)
    {
      g_autoptr(JsonObject) data = make_big_record (rand);
      g_autoptr(TetherRecord) record = NULL;

      start = g_get_monotonic_time ();
      record = tether_collection_create (tasks, data, &error);
      usec += g_get_monotonic_time () - start;
      check (record != NULL, "create", error);
    }

  start = g_get_monotonic_time ();
  check (tether_database_commit (db, &error), "commit", error);
  commit = g_get_monotonic_time () - start;
  usec += commit;

  heading ("3. Big set: tasks created in one transaction");
  figure ("records", n_records, 0, "", NULL);
  figure ("time (begin + creates + commit)", ms_of (usec), 1, "ms", NULL);
  figure ("of which commit (and its change signals)", ms_of (commit), 1, "ms", NULL);
  figure ("rate", rate_of (n_records, usec), 0, "rec/s", NULL);
}

/* ---- 4. queries over the big set -------------------------------------- */

static TetherQuery *
query_new (TetherDatabase *db,
           const char     *condition)
{
  TetherQuery *query = tether_query_new (tasks_of (db));

  if (condition != NULL)
    tether_query_where_text (query, condition);
  check (tether_query_get_error (query) == NULL, condition ? condition : "query",
         tether_query_get_error (query));
  return query;
}

static void
time_query (TetherQuery *query,
            const char  *label,
            const char  *goal)
{
  gint64 samples[N_QUERY_RUNS];

  for (guint i = 0; i < N_QUERY_RUNS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) results = NULL;
      gint64 start = g_get_monotonic_time ();

      results = tether_query_run (query, &error);
      samples[i] = g_get_monotonic_time () - start;
      check (results != NULL, label, error);
      if (results->len == 0)
        die (label, "the query matched nothing");
    }
  figure_distribution (label, samples, N_QUERY_RUNS, goal);
}

/* Every write forgets the cached document lengths, so the first search after
 * a write pays for one docsize lookup per match; time that case too. */
static void
time_search_after_write (TetherDatabase *db,
                         TetherQuery    *query,
                         const char     *label,
                         const char     *goal)
{
  g_autoptr(TetherQuery) one = query_new (db, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) target = tether_query_first (tether_query_limit (one, 1), &error);
  gint64 samples[N_QUERY_RUNS];

  check (target != NULL, label, error);
  for (guint i = 0; i < N_QUERY_RUNS; i++)
    {
      g_autoptr(JsonObject) patch = json_object_new ();
      g_autoptr(TetherRecord) written = NULL;
      g_autoptr(GPtrArray) results = NULL;
      gint64 start;

      json_object_set_boolean_member (patch, "done", i % 2 == 0);
      written = tether_collection_update (tasks_of (db), tether_record_get_id (target), patch, &error);
      check (written != NULL, label, error);
      start = g_get_monotonic_time ();
      results = tether_query_run (query, &error);
      samples[i] = g_get_monotonic_time () - start;
      check (results != NULL, label, error);
    }
  figure_distribution (label, samples, N_QUERY_RUNS, goal);
}

static void
print_explain (TetherQuery *query,
               const char  *label)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *plan = tether_query_explain (query, &error);

  check (plan != NULL, "explain", error);
  g_print ("    plan of %s:\n", label);
  print_indented (plan);
}

static void
bench_queries (TetherDatabase *db)
{
  g_autoptr(TetherQuery) equality = query_new (db, "priority == 2");
  g_autoptr(TetherQuery) range = query_new (db, "due >= " RANGE_FROM);
  g_autoptr(TetherQuery) search = query_new (db, NULL);
  g_autoptr(GError) error = NULL;
  gint64 count;

  tether_query_limit (equality, 50);
  tether_query_limit (tether_query_sort (range, "due", FALSE), 50);
  tether_query_limit (tether_query_search (search, "sync"), 50);

  heading ("4. Queries over the big set (50 runs each)");
  count = tether_query_count (equality, &error);
  check (count >= 0, "count", error);
  figure ("priority == 2: matching records", count, 0, "", NULL);
  time_query (equality, "priority == 2 limit 50", "< 1000 us");
  print_explain (equality, "priority == 2 limit 50");
  time_query (range, "due >= 2025-07-01 sort due limit 50", NULL);
  print_explain (range, "due >= 2025-07-01 sort due limit 50");
  count = tether_query_count (search, &error);
  check (count >= 0, "count", error);
  figure ("search \"sync\": matching records", count, 0, "", NULL);
  time_query (search, "search \"sync\" limit 50", "< 10000 us");
  time_search_after_write (db, search, "same, first search after a write", "< 10000 us");
}

/* ---- 5. one live-query update ----------------------------------------- */

typedef struct {
  guint  n_signals;
  gint64 last;
} SignalLog;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  SignalLog  *log)
{
  log->n_signals++;
  log->last = g_get_monotonic_time ();
}

/* The engine emits on commit; if the live query ever defers its
 * items-changed to the main loop, wait for it (up to 2 s). */
static void
wait_for_signal (SignalLog *log)
{
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (log->n_signals == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

static char *
random_item_id (GListModel *model,
                GRand      *rand)
{
  guint n = g_list_model_get_n_items (model);
  g_autoptr(TetherRecord) record = g_list_model_get_item (model, g_rand_int_range (rand, 0, n));

  return g_strdup (tether_record_get_id (record));
}

static TetherLiveQuery *
live_query_load (TetherDatabase *db)
{
  g_autoptr(TetherQuery) query = query_new (db, "done == false");
  g_autoptr(GError) error = NULL;
  TetherLiveQuery *live;
  guint n_items;
  gint64 start;

  tether_query_sort (query, "due", FALSE);
  start = g_get_monotonic_time ();
  live = tether_live_query_new (query, &error);
  check (live != NULL, "live query", error);
  n_items = g_list_model_get_n_items (G_LIST_MODEL (live));
  figure ("initial load (done == false sort due)", ms_of (g_get_monotonic_time () - start),
          1, "ms", NULL);
  figure ("items", n_items, 0, "", NULL);
  if (n_items == 0)
    die ("live query", "no items");
  return live;
}

static void
bench_live_query (TetherDatabase *db,
                  GRand          *rand)
{
  TetherCollection *tasks = tasks_of (db);
  g_autoptr(TetherLiveQuery) live = NULL;
  gint64 to_signal[N_LIVE_UPDATES], call[N_LIVE_UPDATES];
  SignalLog log = { 0, };
  guint n = 0, n_signals = 0;

  heading ("5. Live query: one record moves (update of due)");
  live = live_query_load (db);
  g_signal_connect (live, "items-changed", G_CALLBACK (on_items_changed), &log);

  for (guint i = 0; i < N_LIVE_UPDATES; i++)
    {
      g_autofree char *id = random_item_id (G_LIST_MODEL (live), rand);
      g_autofree char *due = random_due (rand);
      g_autoptr(JsonObject) patch = json_object_new ();
      g_autoptr(TetherRecord) record = NULL;
      g_autoptr(GError) error = NULL;
      gint64 start, end;

      json_object_set_string_member (patch, "due", due);
      log.n_signals = 0;
      start = g_get_monotonic_time ();
      record = tether_collection_update (tasks, id, patch, &error);
      end = g_get_monotonic_time ();
      check (record != NULL, "update", error);
      wait_for_signal (&log);
      if (log.n_signals == 0)
        continue;
      n_signals += log.n_signals;
      to_signal[n] = log.last - start;
      call[n++] = end - start;
    }

  figure ("updates that signalled", n, 0, "", NULL);
  figure ("items-changed per update (mean)", n ? (double) n_signals / n : 0, 2, "", NULL);
  if (n == 0)
    return;
  figure_distribution ("write call -> last items-changed", to_signal, n, "< 1000 us");
  figure_distribution ("whole write call", call, n, NULL);
}

/* ---- main ------------------------------------------------------------- */

static void
print_rss (void)
{
  struct rusage usage;

  heading ("6. Memory");
  if (getrusage (RUSAGE_SELF, &usage) == 0)
    figure ("peak RSS (ru_maxrss)", usage.ru_maxrss / 1024.0, 1, "MiB", NULL);
}

static void
setup_dir (const char *dir)
{
  g_autoptr(GError) error = NULL;

  if (dir == NULL)
    {
      work_dir = g_dir_make_tmp ("tether-bench-XXXXXX", &error);
      check (work_dir != NULL, "temporary directory", error);
      own_dir = TRUE;
      return;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    die (dir, g_strerror (errno));
  work_dir = g_strdup (dir);
  remove_db_files ();
}

int
main (int   argc,
      char *argv[])
{
  int n_records = 100000;
  g_autofree char *dir = NULL;
  GOptionEntry entries[] = {
    { "records", 0, 0, G_OPTION_ARG_INT, &n_records, "Records in the big set (default 100000)", "N" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Directory for the databases (default: a temporary one)", "DIR" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- benchmark the Tether engine");
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (20250101);
  TetherDatabase *db;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error->message);
  if (n_records < 1)
    die ("options", "--records must be at least 1");
  setup_dir (dir);

  g_print ("Tether engine benchmark\n");
  g_print ("  %-44s %s\n", "directory", work_dir);
  g_print ("  %-44s %s\n", "SQLite", sqlite3_libversion ());
  g_print ("  %-44s %s\n", "journal", "WAL, synchronous=NORMAL (engine and floor)");

  bench_write_job (rand);

  db = open_fresh ("big.db");
  bench_big_insert (db, n_records, rand);
  bench_queries (db);
  bench_live_query (db, rand);
  close_db (db);

  print_rss ();
  cleanup ();
  return EXIT_SUCCESS;
}
