/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliability-crash"
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "tether-test-crash.h"

/* client-write: the writer process (tether-test-crash-writer.c) killed at
 * random moments, or where it stopped itself inside a write, over and over
 * on one file. The test keeps a model of every write the writer
 * acknowledged; after each kill the file must pass integrity_check, hold
 * each of them (and the write in flight wholly or not at all), and its
 * change log must replay to exactly its data. */

#define WRITE_WINDOW_MS   60       /* kills land this long after "ready" */
#define STARTUP_WINDOW_MS 40       /* or this long after the exec */
#define STOP_WRITES_MAX   60       /* a stopping writer stops within its first writes */

char *
crash_sqlite_text (const char *path,
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

gint64
crash_sqlite_integer (const char *path,
                      const char *sql,
                      const char *text)
{
  g_autofree char *value = crash_sqlite_text (path, sql, text);

  return g_ascii_strtoll (value, NULL, 10);
}

/* ------------------------------------------------------------- the model */

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


/* The complete lines the writer printed: acknowledged writes go into the
 * model, the write it was in leaves an intent. */
static int
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
          g_autofree char *key = crash_key_new (ws->intent[1], ws->intent[2]);

          expect_write (ws, key, lines[i] + 2);
          g_clear_pointer (&ws->intent, g_strfreev);
          ws->acked++;
          land = LAND_BETWEEN;
        }
      else
        g_error ("seed %u: the writer printed %s", crash_seed, lines[i]);
    }
  ws->landed[land]++;
  return land;
}

/* The write in flight when the kill came: it may or may not have been
 * made, but wholly or not at all; the model takes what the file has. */
static gboolean
settle_in_flight (Writes     *ws,
                  GHashTable *records)
{
  g_autofree char *key = NULL;
  g_autofree char *title = NULL;
  const char *data;
  gboolean made;

  if (ws->intent == NULL)
    return FALSE;
  key = crash_key_new (ws->intent[1], ws->intent[2]);
  data = g_hash_table_lookup (records, key);
  title = g_strdup_printf ("\"title\":\"%s\"", ws->intent[3]);
  made = ws->intent[0][0] == 'd' ? data == NULL : data != NULL && strstr (data, title) != NULL;
  if (made)
    expect_write (ws, key, data ? data : "null");
  *(made ? &ws->in_flight_kept : &ws->in_flight_gone) += 1;
  g_clear_pointer (&ws->intent, g_strfreev);
  return made;
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
      char *key = crash_key_new (tether_sync_change_get_collection (log->pdata[i]),
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

/* The file after a kill, against every acknowledged write; TRUE when the
 * write in flight was made. */
static gboolean
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
  gboolean made;

  integrity = crash_sqlite_text (ws->path, "PRAGMA integrity_check", NULL);
  if (!g_str_equal (integrity, "ok"))
    g_error ("seed %u: %s fails integrity_check: %s", crash_seed, ws->path, integrity);
  db = tether_database_open (ws->path, schema, &error);
  g_assert_no_error (error);
  engine = tether_sync_engine_new (db, &error);
  g_assert_no_error (error);
  records = crash_file_records (db);
  made = settle_in_flight (ws, records);
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
  return made;
}

/* How a writer run ends, in turn: at a random moment (one in four of
 * those during its start-up), or stopped by itself inside write number m
 * (its transaction open, or committed but the call not returned) and then
 * killed, so that both outcomes of a write in flight are met whatever the
 * machine's speed. */
enum { KILL_MOMENT, KILL_IN_TRANSACTION, KILL_COMMITTED, KILL_MOMENT_TOO, N_KILL_KINDS };

static void
kill_writer (Writes *ws,
             guint   k)
{
  g_autofree char *out = g_strdup_printf ("%s/writer-%u.out", ws->f->dir, k);
  g_autoptr(GSubprocess) process = NULL;
  guint kind = k % N_KILL_KINDS;
  gboolean stops = kind == KILL_IN_TRANSACTION || kind == KILL_COMMITTED;
  gboolean early = !stops && g_rand_int_range (ws->rand, 0, 4) == 0;
  guint delay_ms = g_rand_int_range (ws->rand, 0, (early ? STARTUP_WINDOW_MS : WRITE_WINDOW_MS) + 1);
  int stop_at = stops ? g_rand_int_range (ws->rand, 0, STOP_WRITES_MAX) : -1;
  g_autoptr(GError) error = NULL;
  gboolean made;
  int land;

  process = crash_writer_spawn (ws->path, crash_seed + k, out, stop_at,
                                kind == KILL_COMMITTED ? CRASH_STOP_COMMITTED : CRASH_STOP_IN_TRANSACTION);
  if (stops)
    crash_writer_wait_stopped (process);
  else
    {
      if (!early)
        crash_writer_wait_ready (process, out);
      g_usleep (delay_ms * 1000);
    }
  g_subprocess_send_signal (process, SIGKILL);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_if_signaled (process))
    g_error ("seed %u: the writer ended before the kill (status %d)", crash_seed, g_subprocess_get_status (process));
  land = read_writer_lines (ws, out);
  made = check_file (ws);
  /* a stop is inside a write, which the file has wholly or not at all */
  if (stops && (land != LAND_WRITE || made != (kind == KILL_COMMITTED)))
    g_error ("seed %u: the writer stopped in write %d (%s) and was killed: the kill landed %s, the write "
             "is %s the file", crash_seed, stop_at, kind == KILL_COMMITTED ? "committed" : "in its transaction",
             land_names[land], made ? "in" : "not in");
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
  records = crash_file_records (c->db);
  /* one push of a fresh file: each record's writes went as one create */
  g_test_message ("final sync: %u records, %" G_GINT64_FORMAT " revs on the server",
                  g_hash_table_size (records), revs);
  g_assert_cmpint (revs, ==, g_hash_table_size (records));
}

void
test_client_write (Fixture *f)
{
  Writes ws = { f, NULL, };

  ws.rand = g_rand_new_with_seed (crash_seed);
  ws.path = g_build_filename (f->dir, "client-writer.db", NULL);
  ws.expect = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, expect_free);
  for (guint k = 0; k < crash_kills; k++)
    kill_writer (&ws, k);
  g_test_message ("client-write: %u kills (%u %s, %u %s, %u %s), %u writes acknowledged, "
                  "in flight: %u made, %u not; lost %u, duplicated %u",
                  crash_kills, ws.landed[LAND_STARTUP], land_names[LAND_STARTUP],
                  ws.landed[LAND_WRITE], land_names[LAND_WRITE],
                  ws.landed[LAND_BETWEEN], land_names[LAND_BETWEEN], ws.acked,
                  ws.in_flight_kept, ws.in_flight_gone, ws.lost, ws.duplicated);
  g_assert_cmpuint (ws.lost, ==, 0);
  g_assert_cmpuint (ws.duplicated, ==, 0);
  /* every kind of kill came round: kills inside writes, both outcomes */
  if (crash_kills >= N_KILL_KINDS)
    {
      g_assert_cmpuint (ws.landed[LAND_WRITE], >, 0);
      g_assert_cmpuint (ws.in_flight_kept, >, 0);
      g_assert_cmpuint (ws.in_flight_gone, >, 0);
    }
  writes_sync_end (&ws);
  g_rand_free (ws.rand);
  g_free (ws.path);
  g_hash_table_unref (ws.expect);
}
