/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-crash"
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include "tether-test-seed.h"
#include "tether-test-sync.h"

/* `tether --db FILE sync` killed with SIGKILL over and over, with more
 * local writes after each kill (and another device writing meanwhile, so
 * pulls are cut short too). The kills come in turn: at a random moment
 * (every other one with the server stopped by SIGSTOP); once the CLI has
 * claimed changes for a push; once the server applied the push but before
 * the CLI stored its answer (the CLI is stopped, then killed); and with the
 * push's transaction open on the server, which is stopped, so that it
 * commits after its sender died. A targeted kill that missed its moment
 * (the sync was quicker) is tried again after one more write.
 *
 * The test keeps its own record of every acknowledged write: each record's
 * last title (or its deletion) and the change id of each write. After each
 * kill the file passes integrity_check and holds the CLI's device's own
 * records as written. At the end, after one sync that completes on each
 * device, the server and both files hold exactly those records, and the
 * server applied each change id once (its last rev is the number of change
 * ids it knows as applied), only ids of writes that a push could carry,
 * in each record's order, and the last write of every record; for the
 * device that is never killed, exactly the ids its syncs pushed.
 * Seeded: `--seed N --kills N` (or TETHER_SEED) replays a run; `--soak`
 * makes it 100 kills. */

#define DEFAULT_SEED   20261122
#define DEFAULT_KILLS  20
#define SOAK_KILLS     100
#define MAX_DELAY_MS   50
#define N_INITIAL      40
#define MAX_ATTEMPTS   10   /* CLI runs for one targeted kill */

static guint32 seed = DEFAULT_SEED;
static guint   kills = DEFAULT_KILLS;

/* How a kill is aimed, in turn. */
enum { KILL_MOMENT, KILL_CLAIMED, KILL_ANSWER_LOST, KILL_STOPPED_MOMENT, KILL_AFTER_DEATH, N_KINDS };
static const char * const kind_names[] = {
  "at a random moment", "once changes were claimed", "with the answer lost",
  "at a random moment, the server stopped", "with the push applied after the CLI died",
};

/* One acknowledged write. */
typedef struct {
  char    *key;     /* "collection/id" */
  Client  *c;
  guint    epoch;   /* syncs of its device that had started before it */
  guint    index;   /* among its record's writes */
  char     op;
} Write;

/* A record as its writes left it. */
typedef struct {
  char      *title;   /* NULL once deleted */
  GPtrArray *ids;     /* change ids of its writes, in order */
} Expect;

typedef struct {
  Fixture    *f;
  Server     *s;
  Client     *a;        /* the file the CLI syncs; written in this process */
  Client     *b;        /* another device, syncing in this process */
  GRand      *rand;
  GPtrArray  *own_a;    /* "collection/id" each client writes: no conflicts by design */
  GPtrArray  *own_b;
  GHashTable *expect;   /* key → Expect */
  GHashTable *writes;   /* change id → Write */
  char       *shm;      /* the server's WAL index */
  guint       runs;     /* CLI runs started: a's epochs */
  guint       syncs_b;  /* b's syncs started: b's epochs */
  guint       counter;
  guint       n_writes;
  guint       killed;   /* runs killed while running */
  guint       landed[N_KINDS];
  guint       answer_lost;   /* kills that left a push applied and its answer unstored */
  guint       attempts;
  guint       lost;
  guint       duplicated;
} Crash;

/* ------------------------------------------------------------- the model */

static void
write_free (gpointer data)
{
  Write *w = data;

  g_free (w->key);
  g_free (w);
}

static void
expect_free (gpointer data)
{
  Expect *e = data;

  g_free (e->title);
  g_ptr_array_unref (e->ids);
  g_free (e);
}

/* The id of the newest change of @key in @c's log: the write just made. */
static char *
newest_change (Client     *c,
               const char *key)
{
  g_autoptr(GPtrArray) log = client_changes (c, -1);

  for (guint i = log->len; i > 0; i--)
    {
      TetherSyncChange *change = log->pdata[i - 1];
      g_autofree char *k = g_strdup_printf ("%s/%s", tether_sync_change_get_collection (change),
                                            tether_sync_change_get_record_id (change));

      if (g_str_equal (k, key))
        return g_strdup (tether_sync_change_get_id (change));
    }
  g_error ("seed %u: no change in the log for the write of %s", seed, key);
}

static void
model_write (Crash      *crash,
             Client     *c,
             const char *key,
             char        op,
             const char *title)
{
  Expect *e = g_hash_table_lookup (crash->expect, key);
  Write *w = g_new0 (Write, 1);
  char *id = newest_change (c, key);

  if (e == NULL)
    {
      e = g_new0 (Expect, 1);
      e->ids = g_ptr_array_new ();
      g_hash_table_insert (crash->expect, g_strdup (key), e);
    }
  g_free (e->title);
  e->title = op == 'd' ? NULL : g_strdup (title);
  w->key = g_strdup (key);
  w->c = c;
  w->epoch = c == crash->a ? crash->runs : crash->syncs_b;
  w->index = e->ids->len;
  w->op = op;
  g_assert_true (g_hash_table_insert (crash->writes, id, w));
  g_ptr_array_add (e->ids, id);
}

/* ---------------------------------------------------------------- writes */

/* One of @c's own records, removed from @own when @take. */
static char *
random_own (Crash      *crash,
            GPtrArray  *own,
            gboolean    take)
{
  guint at;

  if (own->len == 0)
    return NULL;
  at = g_rand_int_range (crash->rand, 0, own->len);
  return take ? g_ptr_array_steal_index_fast (own, at) : g_strdup (own->pdata[at]);
}

static void
random_write (Crash  *crash,
              Client *c)
{
  GPtrArray *own = c == crash->a ? crash->own_a : crash->own_b;
  guint dice = g_rand_int_range (crash->rand, 0, 10);
  g_autofree char *title = g_strdup_printf ("%s write %u", c->name, ++crash->counter);
  g_autofree char *json = g_strdup_printf ("{\"title\":\"%s\"}", title);
  g_autofree char *key = random_own (crash, own, dice == 9);
  g_auto(GStrv) parts = key ? g_strsplit (key, "/", 2) : NULL;

  crash->n_writes++;
  if (dice < 4 || key == NULL)
    {
      const char *collection = g_rand_boolean (crash->rand) ? "notes" : "tasks";
      g_autofree char *id = client_create (c, collection, json);
      char *created = g_strdup_printf ("%s/%s", collection, id);

      g_ptr_array_add (own, created);
      model_write (crash, c, created, 'c', title);
    }
  else if (dice < 9)
    {
      client_update (c, parts[0], parts[1], json);
      model_write (crash, c, key, 'u', title);
    }
  else
    {
      client_delete (c, parts[0], parts[1]);
      model_write (crash, c, key, 'd', NULL);
    }
}

static void
sync_b (Crash *crash)
{
  crash->syncs_b++;
  client_sync (crash->b);
}

/* ---------------------------------------------------------- the server */

static sqlite3 *
server_db (Crash *crash)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (crash->f->storage[1], &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  return db;
}

static gint64
server_last_rev (Crash *crash)
{
  sqlite3 *db = server_db (crash);
  sqlite3_stmt *s = NULL;
  gint64 rev;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT last_rev FROM users WHERE name = 'alice'", -1, &s, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  rev = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return rev;
}

/* Change id → the rev it took, for every change the server applied. */
static GHashTable *
server_applied (Crash *crash)
{
  GHashTable *applied = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sqlite3 *db = server_db (crash);
  sqlite3_stmt *s = NULL;
  int rc;

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT a.change_id, a.rev FROM applied a JOIN users u"
                                           " ON a.user_id = u.id WHERE u.name = 'alice'", -1, &s, NULL),
                   ==, SQLITE_OK);
  while ((rc = sqlite3_step (s)) == SQLITE_ROW)
    g_hash_table_insert (applied, g_strdup ((const char *) sqlite3_column_text (s, 0)),
                         GINT_TO_POINTER ((int) sqlite3_column_int64 (s, 1)));
  g_assert_cmpint (rc, ==, SQLITE_DONE);
  sqlite3_finalize (s);
  sqlite3_close (db);
  return applied;
}

/* The server holds the WAL write lock: a push transaction is open. */
static gboolean
server_writing (Crash *crash)
{
  return tether_test_sqlite_write_locked (crash->shm);
}

static void
server_signal (Server *s,
               int     signum)
{
  g_subprocess_send_signal (s->process, signum);
}

/* ------------------------------------------------------------------- CLI */

static GSubprocess *
cli_sync_start (Crash *crash)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                           &error, cli_path (), "--db", crash->a->path, "sync", NULL);

  g_assert_no_error (error);
  crash->runs++;
  return process;
}

static gboolean
cli_running (GSubprocess *process)
{
  return g_subprocess_get_identifier (process) != NULL;
}

/* The push ids of the groups a's log holds as sent and not answered: the
 * newest claimed change of each record. */
static GHashTable *
claimed_push_ids (Crash *crash)
{
  g_autoptr(GPtrArray) log = client_changes (crash->a, TETHER_CHANGE_SYNCING);
  g_autoptr(GHashTable) by_record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer id;

  for (guint i = 0; i < log->len; i++)
    g_hash_table_insert (by_record,
                         g_strdup_printf ("%s/%s", tether_sync_change_get_collection (log->pdata[i]),
                                          tether_sync_change_get_record_id (log->pdata[i])),
                         g_strdup (tether_sync_change_get_id (log->pdata[i])));
  g_hash_table_iter_init (&iter, by_record);
  while (g_hash_table_iter_next (&iter, NULL, &id))
    g_hash_table_add (ids, g_strdup (id));
  return ids;
}

static gboolean
claimed (Crash *crash)
{
  g_autoptr(GPtrArray) log = client_changes (crash->a, TETHER_CHANGE_SYNCING);

  return log->len > 0;
}

/* Claimed groups the server applied: their answers were never stored. */
static guint
answers_lost (Crash *crash)
{
  g_autoptr(GHashTable) ids = claimed_push_ids (crash);
  g_autoptr(GHashTable) applied = server_applied (crash);
  GHashTableIter iter;
  gpointer id;
  guint n = 0;

  g_hash_table_iter_init (&iter, ids);
  while (g_hash_table_iter_next (&iter, &id, NULL))
    n += g_hash_table_contains (applied, id);
  return n;
}

typedef gboolean (*Moment) (Crash *crash, gint64 before);

static gboolean
moment_claimed (Crash  *crash,
                gint64  before)
{
  return claimed (crash);
}

static gboolean
moment_applied (Crash  *crash,
                gint64  before)
{
  return server_last_rev (crash) > before;
}

static gboolean
moment_writing (Crash  *crash,
                gint64  before)
{
  return server_writing (crash);
}

/* Polls for @moment while the CLI runs: FALSE when it ended first. */
static gboolean
wait_moment (Crash       *crash,
             GSubprocess *process,
             Moment       moment,
             gint64       before)
{
  for (guint waited = 0; waited < SYNC_TIMEOUT_MS; waited++)
    {
      if (moment (crash, before))
        return TRUE;
      if (!cli_running (process))
        return FALSE;
      g_usleep (1000);
    }
  g_error ("seed %u: the CLI's sync neither reached its moment nor ended within %d ms", seed, SYNC_TIMEOUT_MS);
}

static void
wait_applied (Crash  *crash,
              gint64  before)
{
  for (guint waited = 0; waited < SYNC_TIMEOUT_MS; waited++)
    {
      if (!server_writing (crash) && server_last_rev (crash) > before)
        return;
      g_usleep (1000);
    }
  g_error ("seed %u: the server did not commit the push it was applying within %d ms", seed, SYNC_TIMEOUT_MS);
}

/* Runs the CLI and kills it as @kind aims; TRUE when the kill landed so. */
static gboolean
run_and_kill (Crash *crash,
              guint  kind)
{
  gint64 before = server_last_rev (crash);
  gboolean stopped = kind == KILL_STOPPED_MOMENT;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gboolean landed = TRUE;

  if (stopped)
    server_signal (crash->s, SIGSTOP);
  process = cli_sync_start (crash);
  switch (kind)
    {
    case KILL_CLAIMED:
      landed = wait_moment (crash, process, moment_claimed, before);
      break;
    case KILL_ANSWER_LOST:
      /* stopped once the server committed: the answer is not stored yet
       * if a claim is still open and applied */
      if ((landed = wait_moment (crash, process, moment_applied, before)))
        g_subprocess_send_signal (process, SIGSTOP);
      break;
    case KILL_AFTER_DEATH:
      if ((landed = wait_moment (crash, process, moment_writing, before)))
        server_signal (crash->s, SIGSTOP);
      stopped = landed;
      break;
    default:
      g_usleep (g_rand_int_range (crash->rand, 0, MAX_DELAY_MS + 1) * 1000);
      break;
    }
  g_subprocess_send_signal (process, SIGKILL);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  if (stopped)
    server_signal (crash->s, SIGCONT);
  if (kind == KILL_AFTER_DEATH && landed)
    wait_applied (crash, before);
  if (g_subprocess_get_if_signaled (process))
    crash->killed++;
  if (kind == KILL_ANSWER_LOST || kind == KILL_AFTER_DEATH)
    landed = landed && answers_lost (crash) > 0;
  return landed && g_subprocess_get_if_signaled (process);
}

static void
cli_sync_to_end (Crash *crash)
{
  const char *args[] = { "--db", crash->a->path, "sync", NULL };
  g_autoptr(Command) sync = NULL;

  crash->runs++;
  sync = cli_run (crash->f, args);
  if (sync->status != 0)
    g_error ("seed %u: the final tether sync failed (%d): %s%s", seed, sync->status, sync->out, sync->err);
  g_test_message ("final sync: %s", sync->out);
}

/* ------------------------------------------------------------ the checks */

static char *
file_integrity (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char *result;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 10000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  result = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_finalize (s);
  sqlite3_close (db);
  return result;
}

/* @c's title of @key, NULL when it has no such record. */
static char *
client_title (Client     *c,
              const char *key)
{
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);

  return client_string (c, parts[0], parts[1], "title");
}

/* The records @c's writes made, as @c holds them; with @all, every record
 * of the model. Counts what differs as lost. */
static void
check_client (Crash      *crash,
              Client     *c,
              gboolean    all,
              const char *when)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, crash->expect);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Expect *e = value;
      Write *first = g_hash_table_lookup (crash->writes, e->ids->pdata[0]);
      g_autofree char *title = NULL;

      if (!all && first->c != c)
        continue;
      title = client_title (c, key);
      if (g_strcmp0 (title, e->title) == 0)
        continue;
      g_test_message ("%s: %s holds %s as %s, written as %s", when, c->name, (char *) key,
                      title ? title : "(none)", e->title ? e->title : "(deleted)");
      crash->lost++;
    }
}

/* After a kill: the file is sound and holds a's own writes. */
static void
check_after_kill (Crash *crash,
                  guint  k)
{
  g_autofree char *integrity = file_integrity (crash->a->path);
  g_autofree char *when = g_strdup_printf ("after kill %u", k);

  if (!g_str_equal (integrity, "ok"))
    g_error ("seed %u: %s fails integrity_check after kill %u: %s", seed, crash->a->path, k, integrity);
  check_client (crash, crash->a, FALSE, when);
  if (crash->lost > 0)
    g_error ("seed %u: a killed sync lost %u of the file's own writes", seed, crash->lost);
}

/* The server's records against the model: every record once, as written. */
static void
check_server (Crash *crash)
{
  g_autoptr(JsonArray) changes = pull_all (crash->f, crash->s, crash->f->alice, NULL, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);   /* Expect* met */
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      g_autofree char *record = g_strdup_printf ("%s/%s", json_object_get_string_member (change, "collection"),
                                                 json_object_get_string_member (change, "recordId"));
      JsonNode *data = json_object_get_member (change, "data");
      Expect *e = g_hash_table_lookup (crash->expect, record);
      const char *title = NULL;

      if (!g_str_equal (json_object_get_string_member (change, "type"), "delete") &&
          data != NULL && JSON_NODE_HOLDS_OBJECT (data))
        title = object_string (json_node_get_object (data), "title");
      if (e == NULL || !g_hash_table_add (seen, e))
        {
          g_test_message ("the server holds %s %s", record, e ? "twice" : "which no one wrote");
          crash->duplicated++;
        }
      else if (g_strcmp0 (title, e->title) != 0)
        {
          g_test_message ("the server holds %s as %s, written as %s", record, title ? title : "(deleted)",
                          e->title ? e->title : "(deleted)");
          crash->lost++;
        }
    }
  g_hash_table_iter_init (&iter, crash->expect);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (((Expect *) value)->title != NULL && !g_hash_table_contains (seen, value))
      {
        g_test_message ("the server lacks %s", (char *) key);
        crash->lost++;
      }
}

/* A change id a push can carry: the last write of its record in its epoch
 * (a push sends a record's pending writes as one change, under the newest
 * one's id, and no write lands during a sync of its device). */
static gboolean
pushable (Crash *crash,
          Write *w)
{
  Expect *e = g_hash_table_lookup (crash->expect, w->key);
  Write *next;

  if (w->index + 1 == e->ids->len)
    return TRUE;
  next = g_hash_table_lookup (crash->writes, e->ids->pdata[w->index + 1]);
  return next->epoch != w->epoch;
}

/* b never dies: each of its syncs pushed every record it had written since
 * the one before, once, unless created and deleted in between. */
static gboolean
b_pushed (Crash *crash,
          Write *w)
{
  Expect *e = g_hash_table_lookup (crash->expect, w->key);
  Write *first = w;

  if (!pushable (crash, w))
    return FALSE;
  while (first->index > 0)
    {
      Write *before = g_hash_table_lookup (crash->writes, e->ids->pdata[first->index - 1]);

      if (before->epoch != w->epoch)
        break;
      first = before;
    }
  return !(first->op == 'c' && w->op == 'd');
}

/* Each applied change id once (one rev each), only ids a push could carry,
 * in each record's order, the last write of each record that reached the
 * server, and for b exactly the ids its syncs pushed. */
static void
check_applied (Crash *crash)
{
  g_autoptr(GHashTable) applied = server_applied (crash);
  g_autoptr(GHashTable) last_rev = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 revs = server_last_rev (crash);
  GHashTableIter iter;
  gpointer id, value;

  if (revs != g_hash_table_size (applied))
    {
      g_test_message ("the server took %" G_GINT64_FORMAT " revs for %u change ids", revs, g_hash_table_size (applied));
      crash->duplicated += ABS (revs - (gint64) g_hash_table_size (applied));
    }
  g_hash_table_iter_init (&iter, crash->writes);
  while (g_hash_table_iter_next (&iter, &id, &value))
    {
      Write *w = value;
      Expect *e = g_hash_table_lookup (crash->expect, w->key);
      gboolean is_applied = g_hash_table_contains (applied, id);
      gboolean last = w->index + 1 == e->ids->len;
      gboolean ok = TRUE;

      if (is_applied && !pushable (crash, w))
        ok = FALSE;   /* a change no push could carry */
      else if (w->c == crash->b && is_applied != b_pushed (crash, w))
        ok = FALSE;   /* b pushed it once, or never */
      else if (last && !is_applied && e->title != NULL)
        ok = FALSE;   /* the record's final state never reached the server */
      if (!ok)
        {
          g_test_message ("change %s, write %u of %s by %s: %s on the server", (char *) id, w->index,
                          w->key, w->c->name, is_applied ? "applied" : "not applied");
          *(is_applied ? &crash->duplicated : &crash->lost) += 1;
        }
    }
  /* a record's applied changes took revs in the order they were written */
  g_hash_table_iter_init (&iter, crash->expect);
  while (g_hash_table_iter_next (&iter, &id, &value))
    {
      Expect *e = value;
      int rev = 0;

      for (guint i = 0; i < e->ids->len; i++)
        {
          gpointer found;

          if (!g_hash_table_lookup_extended (applied, e->ids->pdata[i], NULL, &found))
            continue;
          if (GPOINTER_TO_INT (found) <= rev)
            {
              g_test_message ("%s: write %u applied at rev %d, before an older write", (char *) id, i,
                              GPOINTER_TO_INT (found));
              crash->duplicated++;
            }
          rev = GPOINTER_TO_INT (found);
        }
    }
}

static void
check_end (Crash *crash)
{
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  Client *clients[] = { crash->a, crash->b };

  /* the in-process handle reads what the CLI left in the file */
  client_reopen (crash->a);
  log = client_changes (crash->a, -1);
  for (guint i = 0; i < log->len; i++)
    g_test_message ("left in the log: %s %s %s (%s)", tether_sync_change_get_record_id (log->pdata[i]),
                    tether_change_type_to_string (tether_sync_change_get_change_type (log->pdata[i])),
                    tether_change_status_to_string (tether_sync_change_get_status (log->pdata[i])),
                    tether_sync_change_get_error (log->pdata[i]));
  g_assert_cmpuint (log->len, ==, 0);
  /* a and b never write the same record: a conflict would be a self-conflict */
  conflicts = client_conflicts (crash->a, FALSE);
  for (guint i = 0; i < conflicts->len; i++)
    {
      g_autoptr(JsonNode) node = tether_conflict_to_json (conflicts->pdata[i]);
      g_autofree char *text = json_to_string (node, FALSE);

      g_test_message ("conflict: %s", text);
    }
  g_assert_cmpuint (conflicts->len, ==, 0);

  sync_b (crash);
  check_server (crash);
  check_client (crash, crash->a, TRUE, "at the end");
  check_client (crash, crash->b, TRUE, "at the end");
  check_applied (crash);
  g_test_message ("kill-sync: %u kills (%u of the CLI mid-sync; %u %s, %u %s, %u %s, %u %s, %u %s; %u runs), "
                  "%u writes acknowledged, %" G_GINT64_FORMAT " changes applied, %u answers lost; "
                  "lost %u, duplicated %u",
                  kills, crash->killed, crash->landed[KILL_MOMENT], kind_names[KILL_MOMENT],
                  crash->landed[KILL_CLAIMED], kind_names[KILL_CLAIMED],
                  crash->landed[KILL_ANSWER_LOST], kind_names[KILL_ANSWER_LOST],
                  crash->landed[KILL_STOPPED_MOMENT], kind_names[KILL_STOPPED_MOMENT],
                  crash->landed[KILL_AFTER_DEATH], kind_names[KILL_AFTER_DEATH], crash->attempts,
                  crash->n_writes, server_last_rev (crash), crash->answer_lost, crash->lost, crash->duplicated);
  g_assert_cmpuint (crash->lost, ==, 0);
  g_assert_cmpuint (crash->duplicated, ==, 0);
  assert_converged (crash->f, crash->s, crash->f->alice, clients, G_N_ELEMENTS (clients));
}

/* ------------------------------------------------------------------ test */

/* One kill of kind k % N_KINDS; a targeted kind that missed its moment is
 * run again, after one more write of a, up to MAX_ATTEMPTS times. */
static void
kill_one (Crash *crash,
          guint  k)
{
  guint kind = k % N_KINDS;
  gboolean targeted = kind == KILL_CLAIMED || kind == KILL_ANSWER_LOST || kind == KILL_AFTER_DEATH;

  for (guint attempt = 0; attempt < MAX_ATTEMPTS; attempt++)
    {
      gboolean landed = run_and_kill (crash, kind);
      guint lost = answers_lost (crash);

      crash->attempts++;
      crash->answer_lost += lost > 0;
      g_test_message ("kill %u %s: %s (%u claimed changes applied, answer not stored)", k, kind_names[kind],
                      landed ? "landed" : "missed", lost);
      check_after_kill (crash, k);
      if (landed || !targeted)
        {
          crash->landed[kind] += landed;
          return;
        }
      random_write (crash, crash->a);
    }
  g_error ("seed %u: kill %u (%s) missed its moment in %d runs", seed, k, kind_names[kind], MAX_ATTEMPTS);
}

static void
test_kill_sync (Fixture *f)
{
  Crash crash = { f, NULL, };
  g_autoptr(GError) error = NULL;

  g_test_message ("seed %u, kills %u (replay with --seed %u --kills %u)", seed, kills, seed, kills);
  /* The CLI has `sync`: a help text that no longer shows it must fail
   * here, not switch the test off. */
  g_assert_true (cli_has_command (f, "sync"));
  crash.s = server_start (f, NULL);
  server_pin_port (crash.s);
  crash.shm = g_strconcat (f->storage[1], "-shm", NULL);
  crash.rand = g_rand_new_with_seed (seed);
  crash.own_a = g_ptr_array_new_with_free_func (g_free);
  crash.own_b = g_ptr_array_new_with_free_func (g_free);
  crash.expect = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, expect_free);
  crash.writes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, write_free);
  crash.a = client_new (f, crash.s, "a", f->alice);
  crash.b = client_new (f, crash.s, "b", f->alice);
  tether_sync_engine_save_remote (crash.a->engine, crash.s->base, f->alice, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < N_INITIAL; i++)
    random_write (&crash, crash.a);

  for (guint k = 0; k < kills; k++)
    {
      for (guint i = 0; i < 3; i++)
        random_write (&crash, crash.b);
      sync_b (&crash);
      kill_one (&crash, k);
      for (guint i = 0, n = g_rand_int_range (crash.rand, 1, 6); i < n; i++)
        random_write (&crash, crash.a);
    }
  cli_sync_to_end (&crash);
  check_end (&crash);
  /* each kind came round: kills mid-sync, answers lost, pushes applied
   * after the CLI died */
  if (kills >= N_KINDS)
    {
      g_assert_cmpuint (crash.killed, >, 0);
      g_assert_cmpuint (crash.landed[KILL_CLAIMED], >, 0);
      g_assert_cmpuint (crash.landed[KILL_ANSWER_LOST], >, 0);
      g_assert_cmpuint (crash.landed[KILL_AFTER_DEATH], >, 0);
    }
  g_free (crash.shm);
  g_rand_free (crash.rand);
  g_ptr_array_unref (crash.own_a);
  g_ptr_array_unref (crash.own_b);
  g_hash_table_unref (crash.expect);
  g_hash_table_unref (crash.writes);
}

int
main (int   argc,
      char *argv[])
{
  seed_parse_kills (&argc, &argv, &seed, &kills, SOAK_KILLS, NULL);
  seed_replay_on_abort ("test-sync-crash: failed with seed %u; replay: test-sync-crash --seed %u --kills %u",
                        seed, seed, kills);
  tether_test_server_set_prefix ("/tether/sync/crash");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add ("kill-sync", test_kill_sync, FALSE);
  return tether_test_server_run ();
}
