/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-sync"
#include "config.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "tether.h"
#include "bench-util.h"

/* The sync job end to end: client A makes 10,000 creates, 2,000 one-field
 * updates and 500 deletes (one transaction each, change tracking on, on
 * disk), pushes them to a real tether-server (SQLite) on 127.0.0.1, and a
 * fresh client B pulls everything; B must equal A field by field. The
 * local writes are set beside a raw SQLite floor of the same shape (the
 * record table with its indexes and FTS triggers plus the change-log
 * insert). A benchmark: it prints figures beside goals and never fails on
 * time, only when the data is wrong. */

#define N_CREATES          10000
#define N_UPDATES          2000
#define N_DELETES          500
#define START_TIMEOUT_MS   10000
#define STOP_TIMEOUT_MS    10000
#define SEED               42
#define SLICE              1000      /* creates compared at the start and the end of the job */
#define PULL_PAGE          1000      /* records per pull page, the server's cap */

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

typedef enum { PHASE_CREATE, PHASE_UPDATE, PHASE_DELETE, N_PHASES } Phase;

static const char * const phase_names[N_PHASES] = { "create", "update", "delete" };
static const guint phase_ops[N_PHASES] = { N_CREATES, N_UPDATES, N_DELETES };

/* What the floor replays: the texts the engine stored, op by op. */
typedef struct {
  char   *ids[N_CREATES];
  char   *current[N_CREATES];         /* the record's text as it is now */
  char   *created_json[N_CREATES];
  guint   update_at[N_UPDATES];       /* indexes into ids, may repeat */
  char   *update_prev[N_UPDATES];
  char   *update_json[N_UPDATES];
  guint   delete_at[N_DELETES];       /* distinct */
  char   *delete_prev[N_DELETES];
  gint64  engine_usec[N_PHASES];
  gint64  floor_usec[N_PHASES];
  gint64  first_slice_usec;           /* the first and the last SLICE creates */
  gint64  last_slice_usec;
  gint64  floor_first_slice_usec;
  gint64  floor_last_slice_usec;
} Job;

typedef struct {
  char        *dir;
  char        *server_db;
  GSubprocess *server;
  char        *log;
  char        *base;
  char        *token;
} Bench;

static Bench bench;

/* ---- output and failure ------------------------------------------------ */

static void
heading (const char *title)
{
  g_print ("\n%s\n", title);
}

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

static double
ms_of (gint64 usec)
{
  return usec / 1000.0;
}

static void bench_cleanup (void);

static G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) void
die (const char *format,
     ...)
{
  g_autofree char *message = NULL;
  g_autofree char *log = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("bench-sync: %s\n", message);
  if (bench.log != NULL && g_file_get_contents (bench.log, &log, NULL, NULL))
    g_printerr ("server log (last lines):\n%s\n", strlen (log) > 4000 ? log + strlen (log) - 4000 : log);
  bench_cleanup ();
  exit (EXIT_FAILURE);
}

static void
check (gboolean      ok,
       const char   *what,
       const GError *error)
{
  if (!ok)
    die ("%s: %s", what, error ? error->message : "failed");
}

static void
check_sqlite (sqlite3    *db,
              int         rc,
              int         expected,
              const char *what)
{
  if (rc != expected)
    die ("%s: %s", what, sqlite3_errmsg (db));
}

static char *
path_in (const char *name)
{
  return g_build_filename (bench.dir, name, NULL);
}

/* ---- memory ------------------------------------------------------------- */

/* A line of /proc/PID/status in MiB (VmHWM: peak resident set). */
static double
status_mib (const char *pid,
            const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree char *status = NULL;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) || (line = strstr (status, key)) == NULL)
    return -1;
  return g_ascii_strtod (line + strlen (key), NULL) / 1024.0;
}

/* Peak RSS so far, then start over (Linux: writing 5 to clear_refs), so
 * each part of the job gets its own peak. */
static double
client_peak_mib (gboolean reset)
{
  double peak = status_mib ("self", "VmHWM");
  FILE *file;

  if (peak < 0)
    {
      struct rusage usage;

      getrusage (RUSAGE_SELF, &usage);
      peak = usage.ru_maxrss / 1024.0;
    }
  /* The next phase's peak starts from what is resident now: give back
   * what earlier phases freed first. Written in place: g_file_set_contents
   * would write a new file and rename it over, which /proc refuses. */
  if (reset)
    malloc_trim (0);
  if (reset && (file = fopen ("/proc/self/clear_refs", "w")) != NULL)
    {
      fputs ("5", file);
      fclose (file);
    }
  return peak;
}

/* ---- the server process ------------------------------------------------ */

static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* $TETHER_SERVER, else the one built beside this benchmark. */
static const char *
server_path (void)
{
  static char *path;
  g_autofree char *self = NULL;
  g_autofree char *dir = NULL;

  if (path != NULL)
    return path;
  if (g_getenv ("TETHER_SERVER") != NULL)
    return path = g_strdup (g_getenv ("TETHER_SERVER"));
  self = g_file_read_link ("/proc/self/exe", NULL);
  dir = self ? g_path_get_dirname (self) : g_strdup (".");
  path = g_build_filename (dir, "..", "..", "src", "server", "tether-server", NULL);
  return path;
}

static char *
user_add (const char *name)
{
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) words_out = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              server_path (), "--db", bench.server_db, "user", "add", name, NULL);
  if (process == NULL || !g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error))
    die ("cannot run %s: %s", server_path (), error->message);
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    die ("user add %s failed: %s", name, err);
  words_out = g_regex_split_simple ("\\s+", out, 0, 0);
  for (guint i = 0; words_out[i] != NULL; i++)
    if (g_regex_match_simple ("^[A-Za-z0-9_-]{43}$", words_out[i], 0, 0))
      return g_strdup (words_out[i]);
  die ("no token in the output of user add: %s", out);
}

static char *
listening_url (const char *log)
{
  g_autoptr(GRegex) regex = g_regex_new ("tether-server listening on (http://\\S+)\n", 0, 0, NULL);
  g_autoptr(GMatchInfo) match = NULL;
  char *url;

  if (!g_regex_match (regex, log, 0, &match))
    return NULL;
  url = g_match_info_fetch (match, 1);
  if (g_str_has_suffix (url, "/"))
    url[strlen (url) - 1] = '\0';
  return url;
}

static void
server_start (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GError) error = NULL;
  /* limits far above the load, so the limiter never answers 429 */
  const char *argv[] = { server_path (), "serve", "--listen", "127.0.0.1:0", "--db", bench.server_db,
                         "--rate", "1000000/s", "--burst", "1000000", NULL };

  bench.log = path_in ("server.log");
  g_subprocess_launcher_set_stdout_file_path (launcher, bench.log);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  bench.server = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (bench.server == NULL)
    die ("cannot start %s: %s", argv[0], error->message);
  for (guint waited = 0; bench.base == NULL; waited += 10)
    {
      g_autofree char *log = NULL;

      g_file_get_contents (bench.log, &log, NULL, NULL);
      bench.base = log ? listening_url (log) : NULL;
      if (bench.base == NULL && g_subprocess_get_identifier (bench.server) == NULL)
        die ("tether-server exited before listening");
      if (bench.base == NULL && waited >= START_TIMEOUT_MS)
        die ("tether-server did not listen within %d ms", START_TIMEOUT_MS);
      if (bench.base == NULL)
        g_usleep (10 * 1000);
    }
}

static void
server_stop (void)
{
  if (bench.server == NULL)
    return;
  g_subprocess_send_signal (bench.server, SIGTERM);
  for (guint waited = 0; g_subprocess_get_identifier (bench.server) != NULL; waited += 10)
    {
      if (waited >= STOP_TIMEOUT_MS)
        {
          g_printerr ("bench-sync: tether-server ignored SIGTERM; killing it\n");
          g_subprocess_force_exit (bench.server);
          break;
        }
      g_usleep (10 * 1000);
    }
  g_clear_object (&bench.server);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      g_unlink (child);
    }
  g_rmdir (path);
}

static void
bench_cleanup (void)
{
  server_stop ();
  if (bench.dir != NULL)
    remove_tree (bench.dir);
  g_clear_pointer (&bench.dir, g_free);
}

/* ---- data ------------------------------------------------------------- */

static char *
make_text (GRand *rand,
           gsize  target)
{
  GString *text = g_string_new (NULL);

  while (text->len < target)
    {
      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    }
  return g_string_free (text, FALSE);
}

/* {title ~30 chars, body ~200 chars, tags[2], pinned} */
static JsonObject *
make_note (GRand *rand)
{
  JsonObject *object = json_object_new ();
  JsonArray *array = json_array_new ();
  g_autofree char *title = make_text (rand, 28);
  g_autofree char *body = make_text (rand, 198);
  guint first = g_rand_int_range (rand, 0, G_N_ELEMENTS (tags));

  json_array_add_string_element (array, tags[first]);
  json_array_add_string_element (array, tags[(first + 1 + g_rand_int_range (rand, 0, 7)) % G_N_ELEMENTS (tags)]);
  json_object_set_string_member (object, "title", title);
  json_object_set_string_member (object, "body", body);
  json_object_set_array_member (object, "tags", array);
  json_object_set_boolean_member (object, "pinned", FALSE);
  return object;
}

static void
job_init (Job   *job,
          GRand *rand)
{
  guint *order = g_new (guint, N_CREATES);

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
  g_free (order);
}

static void
job_clear (Job *job)
{
  for (guint i = 0; i < N_CREATES; i++)
    {
      g_free (job->ids[i]);
      g_free (job->current[i]);
      g_free (job->created_json[i]);
    }
  for (guint i = 0; i < N_UPDATES; i++)
    {
      g_free (job->update_prev[i]);
      g_free (job->update_json[i]);
    }
  for (guint i = 0; i < N_DELETES; i++)
    g_free (job->delete_prev[i]);
}

/* ---- 1. the write job through the engine --------------------------------- */

static TetherDatabase *
open_db (const char *name)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autofree char *path = path_in (name);
  g_autoptr(GError) error = NULL;
  TetherDatabase *db = tether_database_open (path, schema, &error);

  check (db != NULL, path, error);
  return db;
}

static TetherCollection *
notes_of (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *notes = tether_database_get_collection (db, "notes", &error);

  check (notes != NULL, "notes", error);
  return notes;
}

/* Inputs are made and results kept outside the timed calls, one at a time,
 * so the peak RSS is the engine's and not the benchmark's bookkeeping. */
static gint64
engine_creates (TetherCollection *notes,
                Job              *job,
                GRand            *rand)
{
  gint64 usec = 0;

  for (guint i = 0; i < N_CREATES; i++)
    {
      g_autoptr(JsonObject) input = make_note (rand);
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherRecord) record = NULL;
      gint64 start = g_get_monotonic_time ();

      record = tether_collection_create (notes, input, &error);
      usec += g_get_monotonic_time () - start;
      check (record != NULL, "create", error);
      if (i == SLICE - 1)
        job->first_slice_usec = usec;
      if (i == N_CREATES - SLICE)
        job->last_slice_usec = -usec;
      job->ids[i] = g_strdup (tether_record_get_id (record));
      job->created_json[i] = tether_record_to_json (record);
      job->current[i] = g_strdup (job->created_json[i]);
    }
  job->last_slice_usec += usec;
  return usec;
}

/* One field each: a new title (so every update really changes the record). */
static gint64
engine_updates (TetherCollection *notes,
                Job              *job)
{
  gint64 usec = 0;

  for (guint i = 0; i < N_UPDATES; i++)
    {
      guint at = job->update_at[i];
      g_autoptr(JsonObject) patch = json_object_new ();
      g_autofree char *title = g_strdup_printf ("renamed %u", i);
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherRecord) record = NULL;
      gint64 start;

      json_object_set_string_member (patch, "title", title);
      start = g_get_monotonic_time ();
      record = tether_collection_update (notes, job->ids[at], patch, &error);
      usec += g_get_monotonic_time () - start;
      check (record != NULL, "update", error);
      job->update_prev[i] = g_strdup (job->current[at]);
      job->update_json[i] = tether_record_to_json (record);
      g_free (job->current[at]);
      job->current[at] = g_strdup (job->update_json[i]);
    }
  return usec;
}

static gint64
engine_deletes (TetherCollection *notes,
                Job              *job)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_DELETES; i++)
    {
      g_autoptr(GError) error = NULL;

      check (tether_collection_delete (notes, job->ids[job->delete_at[i]], &error), "delete", error);
    }
  for (guint i = 0; i < N_DELETES; i++)
    job->delete_prev[i] = g_strdup (job->current[job->delete_at[i]]);
  return g_get_monotonic_time () - start;
}

/* ---- 2. the raw SQLite floor ------------------------------------------- */

typedef struct {
  sqlite3      *db;
  sqlite3_stmt *begin;
  sqlite3_stmt *commit;
  sqlite3_stmt *change;
  sqlite3_stmt *payload;
  char         *client_id;
  guint         tick;
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

/* The file gets the engine's own tables (records, expression indexes, FTS
 * and its triggers, the sync tables) by opening it once with the default
 * schema and a sync engine; then raw SQL does the same writes. */
static void
floor_open (Floor      *floor_,
            const char *name)
{
  g_autofree char *path = path_in (name);
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(TetherDatabase) db = open_db (name);
    g_autoptr(TetherSyncEngine) engine = tether_sync_engine_new (db, &error);

    check (engine != NULL, "sync tables of the floor", error);
    floor_->client_id = g_strdup (tether_sync_engine_get_client_id (engine));
    g_clear_object (&engine);
    tether_database_close (db);
  }
  check_sqlite (NULL, sqlite3_open_v2 (path, &floor_->db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK, path);
  check_sqlite (floor_->db, sqlite3_exec (floor_->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                                          NULL, NULL, NULL), SQLITE_OK, "setup");
  floor_->begin = floor_prepare (floor_, "BEGIN IMMEDIATE");
  floor_->commit = floor_prepare (floor_, "COMMIT");
  floor_->change = floor_prepare (floor_,
    "INSERT INTO _tether_changes (id, collection, record_id, created, type, base_rev,"
    " hlc, timestamp, status, retries, error, push_id, updated)"
    " VALUES (?1, 'notes', ?2, ?3, ?4, 0, ?5, ?3, 0, 0, NULL, NULL, ?3)");
  floor_->payload = floor_prepare (floor_,
    "INSERT INTO _tether_change_data (seq, data, prev_data) VALUES (last_insert_rowid (), ?1, ?2)");
}

static void
floor_close (Floor *floor_)
{
  sqlite3_finalize (floor_->begin);
  sqlite3_finalize (floor_->commit);
  sqlite3_finalize (floor_->change);
  sqlite3_finalize (floor_->payload);
  sqlite3_close (floor_->db);
  g_free (floor_->client_id);
}

/* The record write and its change-log row in one BEGIN IMMEDIATE/COMMIT,
 * as the engine does for a lone write with tracking on. Change ids and
 * clocks are made inside the timing too: the engine makes them per write. */
static void
floor_step (Floor            *floor_,
            sqlite3_stmt     *stmt,
            TetherChangeType  type,
            const char       *id,
            const char       *data,
            const char       *prev)
{
  g_autofree char *change_id = g_uuid_string_random ();
  gint64 now = g_get_real_time () / 1000;
  g_autofree char *hlc = g_strdup_printf ("%013" G_GINT64_FORMAT "-%04x-%s", now, ++floor_->tick & 0xffff,
                                          floor_->client_id);

  check_sqlite (floor_->db, sqlite3_step (floor_->begin), SQLITE_DONE, "BEGIN");
  sqlite3_reset (floor_->begin);
  check_sqlite (floor_->db, sqlite3_step (stmt), SQLITE_DONE, "write");
  sqlite3_reset (stmt);
  sqlite3_bind_text (floor_->change, 1, change_id, -1, SQLITE_STATIC);
  sqlite3_bind_text (floor_->change, 2, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (floor_->change, 3, now);
  sqlite3_bind_int (floor_->change, 4, type);
  sqlite3_bind_text (floor_->change, 5, hlc, -1, SQLITE_STATIC);
  check_sqlite (floor_->db, sqlite3_step (floor_->change), SQLITE_DONE, "change log");
  sqlite3_reset (floor_->change);
  sqlite3_bind_text (floor_->payload, 1, data, -1, SQLITE_STATIC);
  sqlite3_bind_text (floor_->payload, 2, prev, -1, SQLITE_STATIC);
  check_sqlite (floor_->db, sqlite3_step (floor_->payload), SQLITE_DONE, "change payload");
  sqlite3_reset (floor_->payload);
  check_sqlite (floor_->db, sqlite3_step (floor_->commit), SQLITE_DONE, "COMMIT");
  sqlite3_reset (floor_->commit);
}

static gint64
floor_creates (Floor *floor_,
               Job   *job)
{
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_,
    "INSERT INTO t_notes (id, data, created, updated) VALUES (?1, ?2, ?3, ?3)");
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_CREATES; i++)
    {
      if (i == SLICE)
        job->floor_first_slice_usec = g_get_monotonic_time () - start;
      if (i == N_CREATES - SLICE)
        job->floor_last_slice_usec = -(g_get_monotonic_time () - start);
      sqlite3_bind_text (stmt, 1, job->ids[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 2, job->created_json[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 3, g_get_real_time () / 1000);
      floor_step (floor_, stmt, TETHER_CHANGE_CREATE, job->ids[i], job->created_json[i], NULL);
    }
  job->floor_last_slice_usec += g_get_monotonic_time () - start;
  return g_get_monotonic_time () - start;
}

static gint64
floor_updates (Floor *floor_,
               Job   *job)
{
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_, "UPDATE t_notes SET data = ?1, updated = ?2 WHERE id = ?3");
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_UPDATES; i++)
    {
      const char *id = job->ids[job->update_at[i]];

      sqlite3_bind_text (stmt, 1, job->update_json[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (stmt, 2, g_get_real_time () / 1000);
      sqlite3_bind_text (stmt, 3, id, -1, SQLITE_STATIC);
      floor_step (floor_, stmt, TETHER_CHANGE_UPDATE, id, job->update_json[i], job->update_prev[i]);
    }
  return g_get_monotonic_time () - start;
}

static gint64
floor_deletes (Floor *floor_,
               Job   *job)
{
  g_autoptr(sqlite3_stmt) stmt = floor_prepare (floor_, "DELETE FROM t_notes WHERE id = ?1");
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < N_DELETES; i++)
    {
      const char *id = job->ids[job->delete_at[i]];

      sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
      floor_step (floor_, stmt, TETHER_CHANGE_DELETE, id, NULL, job->delete_prev[i]);
    }
  return g_get_monotonic_time () - start;
}

static void
run_floor (Job *job)
{
  Floor floor_ = { NULL, };

  floor_open (&floor_, "floor.db");
  job->floor_usec[PHASE_CREATE] = floor_creates (&floor_, job);
  job->floor_usec[PHASE_UPDATE] = floor_updates (&floor_, job);
  job->floor_usec[PHASE_DELETE] = floor_deletes (&floor_, job);
  floor_close (&floor_);
}

/* The page's records in one statement, as the engine writes them: FTS5
 * flushes its pending terms at every statement, so a row per statement
 * would cost more than the engine does. */
static void
pull_floor_commit (Floor        *floor_,
                   sqlite3_stmt *records,
                   GString      *page,
                   sqlite3_stmt *cursor,
                   guint         rev)
{
  g_autofree char *text = g_strdup_printf ("%u", rev);

  g_string_append_c (page, ']');
  sqlite3_bind_text (records, 1, page->str, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (records, 2, g_get_real_time () / 1000);
  check_sqlite (floor_->db, sqlite3_step (records), SQLITE_DONE, "records");
  sqlite3_reset (records);
  g_string_assign (page, "[");
  sqlite3_bind_text (cursor, 1, text, -1, SQLITE_STATIC);
  check_sqlite (floor_->db, sqlite3_step (cursor), SQLITE_DONE, "cursor");
  sqlite3_reset (cursor);
  check_sqlite (floor_->db, sqlite3_step (floor_->commit), SQLITE_DONE, "COMMIT");
  sqlite3_reset (floor_->commit);
}

/* What a pull must write at least, in raw SQL on a file with the engine's
 * tables: A's records with their shadow copies and the cursor, a page of
 * PULL_PAGE records per transaction. No network, no JSON parsing. */
static gint64
run_pull_floor (Job *job)
{
  Floor floor_ = { NULL, };
  g_autofree gboolean *deleted = g_new0 (gboolean, N_CREATES);
  g_autoptr(GString) page = g_string_new ("[");
  sqlite3_stmt *records, *shadow, *cursor;
  gint64 start;
  guint in_page = 0;

  floor_open (&floor_, "pullfloor.db");
  records = floor_prepare (&floor_, "INSERT INTO t_notes (id, data, created, updated)"
                                    " SELECT json_extract (value, '$.id'), value, ?2, ?2 FROM json_each (?1)");
  shadow = floor_prepare (&floor_, "INSERT INTO _tether_shadow (collection, record_id, rev, data, hlc)"
                                   " VALUES ('notes', ?1, ?2, ?3, ?4)");
  cursor = floor_prepare (&floor_, "INSERT OR REPLACE INTO _tether_meta (key, value) VALUES ('sync.cursor', ?1)");
  for (guint i = 0; i < N_DELETES; i++)
    deleted[job->delete_at[i]] = TRUE;
  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_CREATES; i++)
    {
      g_autofree char *hlc = g_strdup_printf ("%013" G_GINT64_FORMAT "-%04x-%s", g_get_real_time () / 1000,
                                              i & 0xffff, floor_.client_id);

      if (deleted[i])
        continue;
      if (in_page++ == 0)
        {
          check_sqlite (floor_.db, sqlite3_step (floor_.begin), SQLITE_DONE, "BEGIN");
          sqlite3_reset (floor_.begin);
        }
      if (page->len > 1)
        g_string_append_c (page, ',');
      g_string_append (page, job->current[i]);
      sqlite3_bind_text (shadow, 1, job->ids[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64 (shadow, 2, i + 1);
      sqlite3_bind_text (shadow, 3, job->current[i], -1, SQLITE_STATIC);
      sqlite3_bind_text (shadow, 4, hlc, -1, SQLITE_STATIC);
      check_sqlite (floor_.db, sqlite3_step (shadow), SQLITE_DONE, "shadow");
      sqlite3_reset (shadow);
      if (in_page == PULL_PAGE)
        {
          pull_floor_commit (&floor_, records, page, cursor, i + 1);
          in_page = 0;
        }
    }
  if (in_page > 0)
    pull_floor_commit (&floor_, records, page, cursor, N_CREATES);
  sqlite3_finalize (records);
  sqlite3_finalize (shadow);
  sqlite3_finalize (cursor);
  floor_close (&floor_);
  return g_get_monotonic_time () - start;
}

static void
print_pair (const char *label,
            gint64      first_usec,
            gint64      last_usec)
{
  g_autofree char *times = g_strdup_printf ("%.1f / %.1f ms", ms_of (first_usec), ms_of (last_usec));

  g_print ("  %-44s %12s\n", label, times);
}

static void
print_writes (Job *job)
{
  gint64 engine = 0, floor_ = 0;

  heading ("1. Local writes on A: notes, one transaction per call, change tracking on, on disk");
  for (guint p = 0; p < N_PHASES; p++)
    {
      g_autofree char *label = g_strdup_printf ("%s x%u: engine / floor", phase_names[p], phase_ops[p]);
      g_autofree char *times = g_strdup_printf ("%.1f / %.1f ms", ms_of (job->engine_usec[p]),
                                                ms_of (job->floor_usec[p]));

      g_print ("  %-44s %12s  (%.2f x)\n", label, times,
               (double) job->engine_usec[p] / MAX (job->floor_usec[p], 1));
      engine += job->engine_usec[p];
      floor_ += job->floor_usec[p];
    }
  figure ("engine, 12,500 writes", ms_of (engine), 1, "ms", NULL);
  figure ("raw SQLite floor (record + change log)", ms_of (floor_), 1, "ms", NULL);
  figure ("engine / floor", (double) engine / MAX (floor_, 1), 2, "x", "<= 1.50 x");
  /* flat for a write whose cost does not grow with the queue */
  print_pair ("creates 1-1000 vs 9001-10000, engine", job->first_slice_usec, job->last_slice_usec);
  print_pair ("creates 1-1000 vs 9001-10000, floor", job->floor_first_slice_usec, job->floor_last_slice_usec);
}

/* ---- 3. push and pull ---------------------------------------------------- */

/* bench_perf_control for one sync: TETHER_BENCH_PERF_SYNC=push or pull
 * picks it, else both are sampled. */
static void
perf_control (const char *sync,
              const char *command)
{
  bench_perf_phase ("TETHER_BENCH_PERF_SYNC", sync, command);
}

typedef struct {
  gint64 start;
  gint64 last_push;   /* the last PUSH phase: the last batch was answered and stored */
  gint64 end;
} Timing;

static void
on_phase (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          gpointer          data)
{
  Timing *timing = data;

  if (phase == TETHER_SYNC_PHASE_PUSH)
    timing->last_push = g_get_monotonic_time ();
}

static TetherHttpTransport *
sync_once (const char       *sync,
           TetherSyncEngine *engine,
           Timing           *timing,
           TetherSyncReport *report)
{
  g_autoptr(TetherHttpTransport) http = tether_http_transport_new (bench.base, bench.token);
  g_autoptr(GError) error = NULL;
  gulong handler = g_signal_connect (engine, "phase", G_CALLBACK (on_phase), timing);
  gboolean ok;

  tether_sync_engine_set_transport (engine, TETHER_TRANSPORT (http));
  perf_control (sync, "enable");
  timing->start = g_get_monotonic_time ();
  ok = tether_sync_engine_sync (engine, report, &error);
  timing->end = g_get_monotonic_time ();
  perf_control (sync, "disable");
  g_signal_handler_disconnect (engine, handler);
  check (ok, "sync", error);
  return g_steal_pointer (&http);
}

/* ---- 4. B equals A -------------------------------------------------------- */

static char *
node_text (JsonNode *node)
{
  return node ? json_to_string (node, FALSE) : g_strdup ("(absent)");
}

static void
compare_records (TetherRecord *a,
                 TetherRecord *b)
{
  JsonObject *da = tether_record_get_data (a);
  JsonObject *db = tether_record_get_data (b);
  g_autoptr(GList) members = json_object_get_members (da);

  if (json_object_get_size (da) != json_object_get_size (db))
    die ("record %s: A has %u fields, B %u", tether_record_get_id (a),
         json_object_get_size (da), json_object_get_size (db));
  for (GList *l = members; l != NULL; l = l->next)
    {
      g_autofree char *va = node_text (json_object_get_member (da, l->data));
      g_autofree char *vb = node_text (json_object_get_member (db, l->data));

      if (!g_str_equal (va, vb))
        die ("record %s, field %s: A has %s, B %s", tether_record_get_id (a), (char *) l->data, va, vb);
    }
}

static guint
verify (TetherDatabase *a,
        TetherDatabase *b)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all_a = tether_collection_get_all (notes_of (a), &error);
  g_autoptr(GPtrArray) all_b = NULL;

  check (all_a != NULL, "reading A", error);
  all_b = tether_collection_get_all (notes_of (b), &error);
  check (all_b != NULL, "reading B", error);
  if (all_a->len != all_b->len)
    die ("A has %u notes, B %u", all_a->len, all_b->len);
  for (guint i = 0; i < all_a->len; i++)
    {
      if (!g_str_equal (tether_record_get_id (all_a->pdata[i]), tether_record_get_id (all_b->pdata[i])))
        die ("note %u: A has %s, B %s", i, tether_record_get_id (all_a->pdata[i]),
             tether_record_get_id (all_b->pdata[i]));
      compare_records (all_a->pdata[i], all_b->pdata[i]);
    }
  return all_a->len;
}

/* ---- main ------------------------------------------------------------- */

static void
print_sync (const char             *title,
            const Timing           *timing,
            const TetherSyncReport *report)
{
  heading (title);
  g_print ("  pushed %u (accepted %u), pulled %u (applied %u, skipped %u), conflicts %u\n",
           report->pushed, report->accepted, report->pulled, report->applied, report->skipped,
           report->conflicts);
}

static void
print_wire (const char          *who,
            TetherHttpTransport *http,
            guint64             *total)
{
  g_autofree char *sent = g_strdup_printf ("%s: bytes sent", who);
  g_autofree char *received = g_strdup_printf ("%s: bytes received", who);

  figure (sent, tether_http_transport_get_bytes_sent (http) / 1e6, 3, "MB", NULL);
  figure (received, tether_http_transport_get_bytes_received (http) / 1e6, 3, "MB", NULL);
  *total += tether_http_transport_get_bytes_sent (http) + tether_http_transport_get_bytes_received (http);
}

/* A writes and pushes, then is closed, so B's pull is measured alone;
 * A is opened again only to compare. */
static void
run (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (SEED);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) a = open_db ("a.db");
  g_autoptr(TetherDatabase) b = NULL;
  g_autoptr(TetherSyncEngine) engine_a = tether_sync_engine_new (a, &error);
  g_autoptr(TetherSyncEngine) engine_b = NULL;
  g_autoptr(TetherHttpTransport) http_a = NULL;
  g_autoptr(TetherHttpTransport) http_b = NULL;
  TetherSyncReport push_report = { 0, }, pull_report = { 0, };
  Timing push = { 0, }, pull = { 0, };
  Job *job = g_new0 (Job, 1);
  double rss_writes, rss_floor, rss_push, rss_pull;
  gint64 pull_floor_usec;
  gsize log_offset;
  guint64 wire = 0;
  guint verified;

  check (engine_a != NULL, "sync engine of A", error);
  client_peak_mib (TRUE);
  job_init (job, rand);
  job->engine_usec[PHASE_CREATE] = engine_creates (notes_of (a), job, rand);
  job->engine_usec[PHASE_UPDATE] = engine_updates (notes_of (a), job);
  job->engine_usec[PHASE_DELETE] = engine_deletes (notes_of (a), job);
  rss_writes = client_peak_mib (TRUE);
  run_floor (job);
  print_writes (job);
  pull_floor_usec = run_pull_floor (job);
  job_clear (job);
  g_free (job);
  rss_floor = client_peak_mib (TRUE);

  log_offset = bench_log_size (bench.log);
  http_a = sync_once ("push", engine_a, &push, &push_report);
  rss_push = client_peak_mib (TRUE);
  print_sync ("2. A pushes to tether-server (SQLite, 127.0.0.1), one sync", &push, &push_report);
  figure ("push (until the last batch is stored)", ms_of (push.last_push - push.start), 1, "ms", "< 150 ms");
  figure ("whole sync of A (push + pull of its echoes)", ms_of (push.end - push.start), 1, "ms", NULL);
  figure ("  the server's own time in its pushes", bench_log_ms (bench.log, log_offset, "/push "), 1, "ms", NULL);
  g_clear_object (&engine_a);
  tether_database_close (a);
  g_clear_object (&a);

  b = open_db ("b.db");
  engine_b = tether_sync_engine_new (b, &error);
  check (engine_b != NULL, "sync engine of B", error);
  client_peak_mib (TRUE);
  log_offset = bench_log_size (bench.log);
  http_b = sync_once ("pull", engine_b, &pull, &pull_report);
  rss_pull = client_peak_mib (TRUE);
  print_sync ("3. A fresh client B pulls everything, one sync", &pull, &pull_report);
  figure ("pull (whole sync of B)", ms_of (pull.end - pull.start), 1, "ms", "< 100 ms");
  figure ("  the server's own time in its pulls", bench_log_ms (bench.log, log_offset, "/pull "), 1, "ms", NULL);
  figure ("  raw SQLite floor of B's writes (no network)", ms_of (pull_floor_usec), 1, "ms", NULL);

  a = open_db ("a.db");
  verified = verify (a, b);
  heading ("4. B equals A");
  g_print ("  %u notes compared field by field: equal\n", verified);

  heading ("5. Wire (HTTP bodies) and memory");
  print_wire ("A", http_a, &wire);
  print_wire ("B", http_b, &wire);
  figure ("total on the wire", wire / 1e6, 3, "MB", "< 5 MB");
  figure ("client A peak RSS, write job", rss_writes, 1, "MiB", "< 25 MB");
  figure ("client peak RSS, floor (for reference)", rss_floor, 1, "MiB", NULL);
  figure ("client A peak RSS, push", rss_push, 1, "MiB", "< 25 MB");
  figure ("client B peak RSS, pull (A closed)", rss_pull, 1, "MiB", "< 25 MB");
  figure ("server peak RSS (VmHWM)", status_mib (g_subprocess_get_identifier (bench.server), "VmHWM"),
          1, "MiB", "< 30 MB");
  tether_database_close (a);
  tether_database_close (b);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;

  signal (SIGPIPE, SIG_IGN);
  bench.dir = g_dir_make_tmp ("bench-sync-XXXXXX", &error);
  check (bench.dir != NULL, "temporary folder", error);
  bench.server_db = path_in ("server.db");
  bench.token = user_add ("bench");
  server_start ();
  g_print ("bench-sync: %u creates, %u updates, %u deletes; tether-server at %s\n",
           N_CREATES, N_UPDATES, N_DELETES, bench.base);
  run ();
  bench_cleanup ();
  g_free (bench.server_db);
  g_free (bench.log);
  g_free (bench.base);
  g_free (bench.token);
  return 0;
}
