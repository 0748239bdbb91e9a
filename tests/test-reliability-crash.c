/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliability-crash"
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "tether-test-sync.h"

/* Crash safety (docs/reliability.md): SIGKILL at random moments of
 *
 * - client-write: a writer process (this binary with --writer) doing local
 *   creates, updates and deletes with the sync engine attached, as the app
 *   has it. After each kill the file passes integrity_check, holds every
 *   acknowledged write (or the one in flight after it), and its change log
 *   replays to exactly its data; a final sync gives the server that data.
 * - server-push: tether-server, while a client pushes thousands of changes
 *   in batches of 100-500. After the restart and one more sync the server
 *   holds every change exactly once: each took one rev, none took two.
 *
 * Seeded: `--seed N` replays the random choices, `--kills N` or `--soak`
 * (100 kills) sets the count (the sync CLI's kills: test-sync-crash.c). */

#define DEFAULT_SEED      20261206
#define DEFAULT_KILLS     20
#define SOAK_KILLS        100
#define WRITER_MAX_WRITES 100000   /* the writer stops by itself */
#define WRITE_WINDOW_MS   60       /* kills land this long after "ready" */
#define STARTUP_WINDOW_MS 40       /* or this long after the exec */
#define ROUND_MIN         300      /* changes written between server kills */
#define ROUND_MAX         800
#define BATCH_MIN         100
#define BATCH_MAX         500
#define RESYNC_TRIES      5

static guint32  seed = DEFAULT_SEED;
static guint    kills = DEFAULT_KILLS;
static gboolean writer_mode;
static char    *writer_db;
static char     seed_line[200];

static void
print_seed (int signum)
{
  ssize_t ignored = write (STDERR_FILENO, seed_line, strlen (seed_line));

  (void) ignored;
  signal (signum, SIG_DFL);
  raise (signum);
}

static void
child_setup (gpointer data)
{
  /* a test that aborts must not leave its writer running */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static char *
key_new (const char *collection,
         const char *id)
{
  return g_strdup_printf ("%s/%s", collection, id);
}

/* The first column of the first row of @sql (with @text bound to ?1) on
 * the SQLite file @path; opening it recovers the WAL a killed process left. */
static char *
sqlite_text (const char *path,
             const char *sql,
             const char *text)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char *value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  if (sqlite3_prepare_v2 (db, sql, -1, &s, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  sqlite3_bind_text (s, 1, text, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  value = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_finalize (s);
  sqlite3_close (db);
  return value;
}

static gint64
sqlite_integer (const char *path,
                const char *sql,
                const char *text)
{
  g_autofree char *value = sqlite_text (path, sql, text);

  return g_ascii_strtoll (value, NULL, 10);
}

/* Every record of the file, keyed "collection/id", canonical data. */
static GHashTable *
file_records (TetherDatabase *db)
{
  static const char * const collections[] = { "notes", "tasks" };
  GHashTable *records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < G_N_ELEMENTS (collections); i++)
    {
      g_autoptr(GError) error = NULL;
      TetherCollection *c = tether_database_get_collection (db, collections[i], &error);
      g_autoptr(GPtrArray) all = c ? tether_collection_get_all (c, &error) : NULL;

      g_assert_no_error (error);
      for (guint r = 0; r < all->len; r++)
        g_hash_table_insert (records, key_new (collections[i], tether_record_get_id (all->pdata[r])),
                             canonical_object (tether_record_get_data (all->pdata[r])));
    }
  return records;
}

/* ================================================================ writer */

/* The child: random writes on the file, one "W op collection id mark" line
 * before each and one "A data" line after it returned (acknowledged). */

typedef struct {
  TetherDatabase *db;
  GPtrArray      *keys;   /* "collection/id" of the records in the file */
  GRand          *rand;
} Writer;

/* The record's data after the write as canonical JSON; "null" when deleted. */
static char *
writer_apply (Writer     *w,
              char        op,
              const char *collection,
              const char *id,
              const char *mark)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(JsonObject) data = json_object_new ();
  g_autofree char *filler = g_strnfill (g_rand_int_range (w->rand, 0, 3000), 'x');
  TetherCollection *c = tether_database_get_collection (w->db, collection, &error);

  g_assert_no_error (error);
  json_object_set_string_member (data, "title", mark);
  if (op == 'c')
    json_object_set_string_member (data, "id", id);
  if (op == 'u')   /* records of changing size, so pages split and merge */
    json_object_set_string_member (data, g_str_equal (collection, "notes") ? "body" : "notes",
                                   filler);
  if (op == 'd')
    {
      if (!tether_collection_delete (c, id, &error))
        g_error ("writer: deleting %s/%s: %s", collection, id, error->message);
      return g_strdup ("null");
    }
  record = op == 'c' ? tether_collection_create (c, data, &error)
                     : tether_collection_update (c, id, data, &error);
  if (record == NULL)
    g_error ("writer: writing %s/%s: %s", collection, id, error->message);
  return canonical_object (tether_record_get_data (record));
}

static void
writer_step (Writer  *w,
             guint32  run_seed,
             guint    n)
{
  guint dice = g_rand_int_range (w->rand, 0, 10);
  char op = w->keys->len == 0 || dice < 4 ? 'c' : dice < 8 ? 'u' : 'd';
  g_autofree char *mark = g_strdup_printf ("m%u-%u", run_seed, n);
  g_autofree char *key = NULL;
  g_autofree char *data = NULL;
  char *id;

  if (op == 'c')
    key = g_strdup_printf ("%s/w%u-%u", g_rand_boolean (w->rand) ? "notes" : "tasks", run_seed, n);
  else
    key = g_strdup (w->keys->pdata[g_rand_int_range (w->rand, 0, w->keys->len)]);
  id = strchr (key, '/');
  *id++ = '\0';
  printf ("W %c %s %s %s\n", op, key, id, mark);
  fflush (stdout);
  data = writer_apply (w, op, key, id, mark);
  printf ("A %s\n", data);
  fflush (stdout);
  id[-1] = '/';
  if (op == 'c')
    g_ptr_array_add (w->keys, g_steal_pointer (&key));
  else if (op == 'd')
    for (guint i = 0; i < w->keys->len; i++)
      if (g_str_equal (w->keys->pdata[i], key))
        g_ptr_array_remove_index_fast (w->keys, i--);
}

static int
writer_main (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GHashTable) records = NULL;
  GHashTableIter iter;
  gpointer key;
  Writer w = { NULL, };

  w.db = tether_database_open (writer_db, schema, &error);
  g_assert_no_error (error);
  /* the engine attaches the change tracker, as in the app */
  engine = tether_sync_engine_new (w.db, &error);
  g_assert_no_error (error);
  w.keys = g_ptr_array_new_with_free_func (g_free);
  w.rand = g_rand_new_with_seed (seed);
  records = file_records (w.db);
  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (w.keys, g_strdup (key));
  printf ("ready\n");
  fflush (stdout);
  for (guint n = 0; n < WRITER_MAX_WRITES; n++)
    writer_step (&w, seed, n);
  g_rand_free (w.rand);
  g_ptr_array_unref (w.keys);
  g_clear_object (&engine);
  tether_database_close (w.db);
  g_object_unref (w.db);
  return 0;
}

/* ========================================================== client-write */

typedef struct {
  char  *data;     /* canonical JSON of the record, NULL: absent */
  guint  entries;  /* change log entries its writes made */
} Expect;

enum { LAND_STARTUP, LAND_WRITE, LAND_BETWEEN, N_LANDS };
static const char * const land_names[] = { "starting up", "inside a write", "between writes" };

typedef struct {
  Fixture    *f;
  GRand      *rand;
  char       *path;
  GHashTable *expect;     /* key → Expect: every acknowledged write */
  GStrv       intent;     /* the write in flight: op, collection, id, mark */
  guint       acked;
  guint       in_flight_kept;
  guint       in_flight_gone;
  guint       lost;
  guint       duplicated;
  guint       landed[N_LANDS];
} Writes;

static void
expect_free (gpointer data)
{
  Expect *e = data;

  g_free (e->data);
  g_free (e);
}

static void
expect_write (Writes     *ws,
              const char *key,
              const char *data)
{
  Expect *e = g_hash_table_lookup (ws->expect, key);

  if (e == NULL)
    g_hash_table_insert (ws->expect, g_strdup (key), e = g_new0 (Expect, 1));
  g_free (e->data);
  e->data = g_str_equal (data, "null") ? NULL : g_strdup (data);
  e->entries++;
}

/* Starts the writer; with @wait_ready, returns once it is writing. */
static GSubprocess *
writer_start (Writes     *ws,
              guint32     run_seed,
              const char *out)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *seed_text = g_strdup_printf ("%u", run_seed);
  const char *argv[] = { self, "--writer", "--db", ws->path, "--seed", seed_text, NULL };
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_assert_nonnull (self);
  g_subprocess_launcher_set_stdout_file_path (launcher, out);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

static gboolean
writer_ready (GSubprocess *process,
              const char  *out)
{
  for (guint waited = 0; waited < START_TIMEOUT_MS; waited += 2)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (out, &text, NULL, NULL) && g_str_has_prefix (text, "ready\n"))
        return TRUE;
      if (g_subprocess_get_identifier (process) == NULL)
        g_error ("seed %u: the writer exited before it was ready", seed);
      g_usleep (2 * 1000);
    }
  g_error ("seed %u: the writer was not ready within %d ms", seed, START_TIMEOUT_MS);
}

/* The complete lines the writer printed: acknowledged writes go into the
 * model, the write it was in leaves an intent. */
static void
read_writer_lines (Writes     *ws,
                   const char *out)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n;
  int land = LAND_STARTUP;

  g_assert_true (g_file_get_contents (out, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  /* the last piece has no newline: printed in part, or empty */
  for (guint i = 0; i + 1 < n; i++)
    {
      if (g_str_equal (lines[i], "ready"))
        land = LAND_BETWEEN;
      else if (g_str_has_prefix (lines[i], "W "))
        {
          g_strfreev (ws->intent);
          ws->intent = g_strsplit (lines[i] + 2, " ", 4);
          g_assert_cmpuint (g_strv_length (ws->intent), ==, 4);
          land = LAND_WRITE;
        }
      else if (g_str_has_prefix (lines[i], "A "))
        {
          g_autofree char *key = key_new (ws->intent[1], ws->intent[2]);

          expect_write (ws, key, lines[i] + 2);
          g_clear_pointer (&ws->intent, g_strfreev);
          ws->acked++;
          land = LAND_BETWEEN;
        }
      else
        g_error ("seed %u: the writer printed %s", seed, lines[i]);
    }
  ws->landed[land]++;
}

/* The write in flight when the kill came: it may or may not have been
 * made, but wholly or not at all; the model takes what the file has. */
static void
settle_in_flight (Writes     *ws,
                  GHashTable *records)
{
  g_autofree char *key = NULL;
  g_autofree char *title = NULL;
  const char *data;
  gboolean made;

  if (ws->intent == NULL)
    return;
  key = key_new (ws->intent[1], ws->intent[2]);
  data = g_hash_table_lookup (records, key);
  title = g_strdup_printf ("\"title\":\"%s\"", ws->intent[3]);
  made = ws->intent[0][0] == 'd' ? data == NULL : data != NULL && strstr (data, title) != NULL;
  if (made)
    expect_write (ws, key, data ? data : "null");
  *(made ? &ws->in_flight_kept : &ws->in_flight_gone) += 1;
  g_clear_pointer (&ws->intent, g_strfreev);
}

static char *
change_canonical (const char *json)
{
  g_autoptr(JsonNode) node = NULL;

  if (json == NULL)
    return NULL;
  node = tether_test_node (json);
  return canonical_node (node);
}

/* A record's change log entries replayed from nothing: each starts from the
 * data the one before left, and the last leaves @data. */
static gboolean
replay_matches (GPtrArray  *entries,
                const char *data)
{
  g_autofree char *state = NULL;

  for (guint i = 0; entries != NULL && i < entries->len; i++)
    {
      TetherSyncChange *change = entries->pdata[i];
      g_autofree char *prev = change_canonical (tether_sync_change_get_prev_data (change));
      g_autofree char *next = change_canonical (tether_sync_change_get_data (change));
      TetherChangeType type = tether_sync_change_get_change_type (change);

      if (g_strcmp0 (prev, state) != 0 ||
          (type == TETHER_CHANGE_CREATE) != (prev == NULL) ||
          (type == TETHER_CHANGE_DELETE) != (next == NULL) ||
          tether_sync_change_get_status (change) != TETHER_CHANGE_PENDING)
        return FALSE;
      g_free (state);
      state = g_steal_pointer (&next);
    }
  return g_strcmp0 (state, data) == 0;
}

static GHashTable *
log_by_key (TetherSyncEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) log = tether_sync_engine_list_changes (engine, -1, &error);
  GHashTable *by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);

  g_assert_no_error (error);
  for (guint i = 0; i < log->len; i++)
    {
      char *key = key_new (tether_sync_change_get_collection (log->pdata[i]),
                           tether_sync_change_get_record_id (log->pdata[i]));
      GPtrArray *entries = g_hash_table_lookup (by_key, key);

      if (entries == NULL)
        g_hash_table_insert (by_key, key, entries = g_ptr_array_new_with_free_func (g_object_unref));
      else
        g_free (key);
      g_ptr_array_add (entries, g_object_ref (log->pdata[i]));
    }
  return by_key;
}

static void
check_record (Writes     *ws,
              const char *key,
              const char *data,
              GPtrArray  *entries)
{
  static const Expect never = { NULL, 0 };
  const Expect *e = g_hash_table_lookup (ws->expect, key);
  guint n = entries ? entries->len : 0;

  if (e == NULL)
    e = &never;

  if (g_strcmp0 (e->data, data) != 0 || n < e->entries)
    {
      g_test_message ("lost: %s is %s, acknowledged %s (%u log entries, %u writes)",
                      key, data, e->data, n, e->entries);
      ws->lost++;
    }
  else if (n > e->entries)
    {
      g_test_message ("duplicated: %s has %u log entries for %u writes", key, n, e->entries);
      ws->duplicated++;
    }
  else if (!replay_matches (entries, data))
    {
      g_test_message ("the change log of %s does not replay to its data %s", key, data);
      ws->lost++;
    }
}

/* The file after a kill, against every acknowledged write. */
static void
check_file (Writes *ws)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = NULL;
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GHashTable) log = NULL;
  g_autoptr(GHashTable) keys = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *integrity = NULL;
  GHashTable *sources[3];
  GHashTableIter iter;
  gpointer key;

  integrity = sqlite_text (ws->path, "PRAGMA integrity_check", NULL);
  if (!g_str_equal (integrity, "ok"))
    g_error ("seed %u: %s fails integrity_check: %s", seed, ws->path, integrity);
  db = tether_database_open (ws->path, schema, &error);
  g_assert_no_error (error);
  engine = tether_sync_engine_new (db, &error);
  g_assert_no_error (error);
  records = file_records (db);
  settle_in_flight (ws, records);
  log = log_by_key (engine);
  sources[0] = records;
  sources[1] = log;
  sources[2] = ws->expect;
  /* a record in the file, in the log or in the model: each is checked */
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_hash_table_iter_init (&iter, sources[i]);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        g_hash_table_add (keys, key);
    }
  g_hash_table_iter_init (&iter, keys);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    check_record (ws, key, g_hash_table_lookup (records, key), g_hash_table_lookup (log, key));
  g_clear_object (&engine);
  tether_database_close (db);
}

/* One writer run, killed at a random moment. */
static void
kill_writer (Writes *ws,
             guint   k)
{
  g_autofree char *out = g_strdup_printf ("%s/writer-%u.out", ws->f->dir, k);
  g_autoptr(GSubprocess) process = NULL;
  gboolean early = g_rand_int_range (ws->rand, 0, 5) == 0;
  guint delay_ms = g_rand_int_range (ws->rand, 0, (early ? STARTUP_WINDOW_MS : WRITE_WINDOW_MS) + 1);
  g_autoptr(GError) error = NULL;

  process = writer_start (ws, seed + k, out);
  if (!early)
    writer_ready (process, out);
  g_usleep (delay_ms * 1000);
  g_subprocess_send_signal (process, SIGKILL);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_signaled (process))
    g_error ("seed %u: the writer ended before the kill (status %d)", seed, g_subprocess_get_status (process));
  read_writer_lines (ws, out);
  check_file (ws);
  g_remove (out);
}

/* After the kills, one sync gives the server exactly the file's data. */
static void
writes_sync_end (Writes *ws)
{
  Server *s = server_start (ws->f, NULL);
  Client *c = client_new (ws->f, s, "writer", ws->f->alice);
  g_autoptr(GPtrArray) left = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autofree char *server = NULL;
  gint64 revs = 0;

  client_sync (c);
  left = client_changes (c, -1);
  g_assert_cmpuint (left->len, ==, 0);
  assert_converged (ws->f, s, ws->f->alice, &c, 1);
  server = server_dump (ws->f, s, ws->f->alice, &revs);
  records = file_records (c->db);
  /* one push of a fresh file: each record's writes went as one create */
  g_test_message ("final sync: %u records, %" G_GINT64_FORMAT " revs on the server",
                  g_hash_table_size (records), revs);
  g_assert_cmpint (revs, ==, g_hash_table_size (records));
}

static void
test_client_write (Fixture *f)
{
  Writes ws = { f, NULL, };

  ws.rand = g_rand_new_with_seed (seed);
  ws.path = g_build_filename (f->dir, "client-writer.db", NULL);
  ws.expect = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, expect_free);
  for (guint k = 0; k < kills; k++)
    kill_writer (&ws, k);
  g_test_message ("client-write: %u kills (%u %s, %u %s, %u %s), %u writes acknowledged, "
                  "in flight: %u made, %u not; lost %u, duplicated %u",
                  kills, ws.landed[LAND_STARTUP], land_names[LAND_STARTUP],
                  ws.landed[LAND_WRITE], land_names[LAND_WRITE],
                  ws.landed[LAND_BETWEEN], land_names[LAND_BETWEEN], ws.acked,
                  ws.in_flight_kept, ws.in_flight_gone, ws.lost, ws.duplicated);
  g_assert_cmpuint (ws.lost, ==, 0);
  g_assert_cmpuint (ws.duplicated, ==, 0);
  writes_sync_end (&ws);
  g_rand_free (ws.rand);
  g_free (ws.path);
  g_hash_table_unref (ws.expect);
}

/* =========================================================== server-push */

enum { AT_NOTHING, AT_BATCHES, AT_ANSWER, AT_AFTER, N_ATS };
static const char * const at_names[] = {
  "before any batch was applied", "between batches", "after the last batch was applied",
  "after the sync ended",
};

typedef struct {
  Fixture   *f;
  Server    *s;
  Client    *c;
  GRand     *rand;
  GPtrArray *live;       /* "collection/id" of the records on the server */
  guint      counter;
  gint64     revs;       /* changes written: each takes one rev, once */
  double     ms_per_change;  /* of a whole sync: a round's kills land in its span */
  gboolean   killed;
  guint      at[N_ATS];
  guint      watched;    /* kills at a batch's commit, seen in the server's file */
  sqlite3_stmt *last_rev;
  gint64     kill_at_rev;
} Pushes;

/* Fired on the fixture's context while the sync runs on it. */
static gboolean
kill_now (gpointer data)
{
  Pushes *p = data;

  server_kill (p->s);
  p->killed = TRUE;
  return G_SOURCE_REMOVE;
}

/* Polls the server's file: a kill just after a batch commits, before its
 * answer reaches the client, makes the client send that batch again. */
static gboolean
kill_at_commit (gpointer data)
{
  Pushes *p = data;

  sqlite3_reset (p->last_rev);
  if (sqlite3_step (p->last_rev) != SQLITE_ROW || sqlite3_column_int64 (p->last_rev, 0) < p->kill_at_rev)
    return G_SOURCE_CONTINUE;
  return kill_now (p);
}

static GSource *
kill_source (Pushes *p,
             guint   delay_ms,
             guint   n,
             sqlite3 **db)
{
  const char *sql = "SELECT last_rev FROM users WHERE name = 'alice'";

  if (p->f->postgres || g_rand_boolean (p->rand))
    return g_timeout_source_new (delay_ms);
  g_assert_cmpint (sqlite3_open_v2 (p->f->storage[1], db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (*db, sql, -1, &p->last_rev, NULL), ==, SQLITE_OK);
  p->kill_at_rev = p->revs - n + g_rand_int_range (p->rand, 1, n + 1);
  p->watched++;
  return g_timeout_source_new (1);
}

/* The user's last rev on the server: every rev it handed out. */
static gint64
server_revs (Pushes *p)
{
  gint64 revs = 0;
  g_autofree char *dump = NULL;

  if (!p->f->postgres)
    return sqlite_integer (p->f->storage[1], "SELECT last_rev FROM users WHERE name = ?1", "alice");
  dump = server_dump (p->f, p->s, p->f->alice, &revs);
  return revs;
}

static void
push_write (Pushes *p,
            char    op,
            char   *key)
{
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);
  g_autofree char *json = NULL;

  p->counter++;
  if (op == 'd')
    {
      client_delete (p->c, parts[0], parts[1]);
      return;
    }
  if (op == 'u')
    {
      json = g_strdup_printf ("{\"title\":\"write %u\"}", p->counter);
      client_update (p->c, parts[0], parts[1], json);
      return;
    }
  json = g_strdup_printf ("{\"id\":\"%s\",\"title\":\"write %u\"}", parts[1], p->counter);
  g_free (client_create (p->c, parts[0], json));
}

/* A round of writes in one transaction, each record written once, so each
 * write leaves as one change and takes one rev. */
static guint
push_round_write (Pushes *p)
{
  g_autoptr(GError) error = NULL;
  guint n = g_rand_int_range (p->rand, ROUND_MIN, ROUND_MAX + 1);
  guint updates = MIN (n * 3 / 10, p->live->len);
  guint deletes = MIN (n / 10, p->live->len - updates);

  for (guint i = 0; i < updates + deletes; i++)   /* the first ones, shuffled */
    {
      guint j = g_rand_int_range (p->rand, i, p->live->len);
      gpointer t = p->live->pdata[i];

      p->live->pdata[i] = p->live->pdata[j];
      p->live->pdata[j] = t;
    }
  g_assert_true (tether_database_begin (p->c->db, &error));
  for (guint i = 0; i < updates; i++)
    push_write (p, 'u', p->live->pdata[i]);
  for (guint i = 0; i < deletes; i++)
    push_write (p, 'd', p->live->pdata[updates + i]);
  g_ptr_array_remove_range (p->live, updates, deletes);
  for (guint i = updates + deletes; i < n; i++)
    {
      char *key = g_strdup_printf ("%s/p%u-%u", g_rand_boolean (p->rand) ? "notes" : "tasks", seed, p->counter);

      push_write (p, 'c', key);
      g_ptr_array_add (p->live, key);
    }
  g_assert_true (tether_database_commit (p->c->db, &error));
  p->revs += n;
  return n;
}

/* Syncs until one completes; only the network may fail, a few times, while
 * old connections to the killed server are dropped. */
static void
push_resync (Pushes *p,
             guint   n)
{
  for (guint i = 0; i < RESYNC_TRIES; i++)
    {
      TetherSyncReport report = { 0, };
      g_autoptr(GError) error = NULL;

      if (client_try_sync (p->c, &report, &error))
        {
          /* one writer meets no conflict, unless a change it sent again
           * was not recognised and met its own first application */
          if (report.conflicts > 0)
            g_error ("seed %u: %u conflicts with one writer: a change sent again was not known as applied",
                     seed, report.conflicts);
          if (n > 0)
            p->ms_per_change = (double) report.duration_ms / n;
          return;
        }
      if (!g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK))
        g_error ("seed %u: the sync after the restart failed: %s", seed, error->message);
    }
  g_error ("seed %u: no sync completed in %d tries after the restart", seed, RESYNC_TRIES);
}

/* The server holds each change once: exactly one rev per change written. */
static void
push_check_round (Pushes *p)
{
  g_autoptr(GPtrArray) left = client_changes (p->c, -1);
  g_autoptr(GPtrArray) conflicts = client_conflicts (p->c, FALSE);
  gint64 revs = server_revs (p);

  if (revs != p->revs)
    g_error ("seed %u: the server handed out %" G_GINT64_FORMAT " revs for %" G_GINT64_FORMAT
             " changes: %s", seed, revs, p->revs, revs > p->revs ? "some applied twice" : "some lost");
  g_assert_cmpuint (left->len, ==, 0);
  /* one writer: a conflict would be with its own change, sent again */
  if (conflicts->len > 0)
    g_error ("seed %u: %u conflicts with one writer: a change was applied and then met again",
             seed, conflicts->len);
}

static void
kill_server (Pushes *p)
{
  gint64 before = p->revs;
  guint n = push_round_write (p);
  guint delay_ms = g_rand_int_range (p->rand, 0, (gint32) (p->ms_per_change * n) + 2);
  sqlite3 *db = NULL;
  g_autoptr(GSource) timer = kill_source (p, delay_ms, n, &db);
  g_autoptr(GError) error = NULL;
  TetherSyncReport report = { 0, };
  gboolean watched = db != NULL;
  gboolean ok;
  gint64 applied;

  tether_sync_engine_set_batch_size (p->c->engine, g_rand_int_range (p->rand, BATCH_MIN, BATCH_MAX + 1));
  p->killed = FALSE;
  g_source_set_callback (timer, db ? kill_at_commit : kill_now, p, NULL);
  g_source_attach (timer, p->f->context);
  ok = client_try_sync (p->c, &report, &error);
  g_source_destroy (timer);
  g_clear_pointer (&p->last_rev, sqlite3_finalize);
  g_clear_pointer (&db, sqlite3_close);
  if (!p->killed)   /* the sync was quicker: a whole one, for the next window */
    {
      p->ms_per_change = (double) report.duration_ms / n;
      server_kill (p->s);
    }
  server_revive (p->f, p->s);
  applied = server_revs (p) - before;
  p->at[!p->killed ? AT_AFTER : applied == 0 ? AT_NOTHING : applied < n ? AT_BATCHES : AT_ANSWER]++;
  g_test_message ("kill %s: %" G_GINT64_FORMAT " of %u changes applied, sync %s",
                  watched ? "at a commit" : "at a random moment", applied, n, ok ? "completed" : error->message);
  push_resync (p, 0);
  push_check_round (p);
}

static void
test_server_push (Fixture *f)
{
  Pushes p = { f, NULL, };

  p.s = server_start (f, NULL);
  server_pin_port (p.s);
  p.c = client_new (f, p.s, "pusher", f->alice);
  p.rand = g_rand_new_with_seed (seed);
  p.live = g_ptr_array_new_with_free_func (g_free);
  /* the first round sets the window the kills land in */
  push_resync (&p, push_round_write (&p));
  push_check_round (&p);
  for (guint k = 0; k < kills; k++)
    kill_server (&p);
  assert_converged (f, p.s, f->alice, &p.c, 1);
  if (!f->postgres)
    {
      /* one row per change id, one rev per row */
      g_assert_cmpint (sqlite_integer (f->storage[1], "SELECT count (*) FROM applied a JOIN users u"
                                       " ON a.user_id = u.id WHERE u.name = ?1", "alice"), ==, p.revs);
    }
  g_test_message ("server-push: %u kills (%u %s, %u %s, %u %s, %u %s; %u aimed at a commit), %" G_GINT64_FORMAT
                  " changes acknowledged, %" G_GINT64_FORMAT " revs on the server; lost 0, duplicated 0",
                  kills, p.at[AT_NOTHING], at_names[AT_NOTHING], p.at[AT_BATCHES], at_names[AT_BATCHES],
                  p.at[AT_ANSWER], at_names[AT_ANSWER], p.at[AT_AFTER], at_names[AT_AFTER],
                  p.watched, p.revs, server_revs (&p));
  g_rand_free (p.rand);
  g_ptr_array_unref (p.live);
}

/* ================================================================== main */

static void
parse_options (int    *argc,
               char ***argv)
{
  gboolean soak = FALSE, counted = FALSE;
  int out = 1;

  if (g_getenv ("TETHER_SEED") != NULL)
    seed = (guint32) g_ascii_strtoull (g_getenv ("TETHER_SEED"), NULL, 10);
  for (int i = 1; i < *argc; i++)
    {
      const char *arg = (*argv)[i];
      const char *value = i + 1 < *argc ? (*argv)[i + 1] : NULL;

      if (g_str_equal (arg, "--seed") && value != NULL)
        seed = (guint32) g_ascii_strtoull ((*argv)[++i], NULL, 10);
      else if (g_str_equal (arg, "--kills") && value != NULL)
        kills = (guint) g_ascii_strtoull ((*argv)[++i], NULL, 10), counted = TRUE;
      else if (g_str_equal (arg, "--db") && value != NULL)
        writer_db = (*argv)[++i];
      else if (g_str_equal (arg, "--soak"))
        soak = TRUE;
      else if (g_str_equal (arg, "--writer"))
        writer_mode = TRUE;
      else
        (*argv)[out++] = (*argv)[i];
    }
  (*argv)[out] = NULL;
  *argc = out;
  if (soak && !counted)
    kills = SOAK_KILLS;
}

int
main (int   argc,
      char *argv[])
{
  parse_options (&argc, &argv);
  if (writer_mode)
    return writer_main ();
  g_snprintf (seed_line, sizeof seed_line,
              "test-reliability-crash: failed with seed %u; replay: test-reliability-crash --seed %u --kills %u\n",
              seed, seed, kills);
  signal (SIGABRT, print_seed);
  signal (SIGTRAP, print_seed);
  tether_test_server_set_prefix ("/tether/reliability/crash");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add ("client-write", test_client_write, FALSE);
  tether_test_server_add ("server-push", test_server_push, FALSE);
  tether_test_server_add ("server-push", test_server_push, TRUE);
  return tether_test_server_run ();
}
