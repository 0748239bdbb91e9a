/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliability-crash"
#include "config.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include "tether-test-crash.h"
#include "tether-test-seed.h"

/* Crash safety (docs/reliability.md): SIGKILL at random and at chosen
 * moments of
 *
 * - client-write: a writer process (this binary with --writer) doing local
 *   creates, updates and deletes with the sync engine attached, as the app
 *   has it. After each kill the file passes integrity_check, holds every
 *   acknowledged write (or the one in flight after it), and its change log
 *   replays to exactly its data; a final sync gives the server that data.
 * - server-push: tether-server, while a client pushes thousands of changes
 *   in batches of 100-500. Right after the restart the server holds whole
 *   batches, every one the client had an answer for; after one more sync
 *   it holds every change exactly once (one rev and one applied change id
 *   each) and every record as the test wrote it.
 *
 * The writer lives in tether-test-crash-writer.c, the client-write checks
 * in tether-test-crash-writes.c; this file holds server-push.
 *
 * Seeded: `--seed N` replays the random choices, `--kills N` or `--soak`
 * (100 kills) sets the count (the sync CLI's kills: test-sync-crash.c). */

#define DEFAULT_SEED      20261206
#define DEFAULT_KILLS     20
#define SOAK_KILLS        100
#define ROUND_MIN         300      /* changes written between server kills */
#define ROUND_MAX         800
#define BATCH_MIN         100
#define BATCH_MAX         500
#define RESYNC_TRIES      5

guint32 crash_seed = DEFAULT_SEED;
guint   crash_kills = DEFAULT_KILLS;

/* =========================================================== server-push */

enum { AT_NOTHING, AT_BATCHES, AT_ANSWER, AT_AFTER, N_ATS };
static const char * const at_names[] = {
  "before any batch was applied", "between batches", "after the last batch was applied",
  "after the sync ended",
};

/* Where a round's kill aims, in turn: at a random moment within the span a
 * push takes; once the client stored its j-th answer (then at most one more
 * batch is out, so the kill lands between batches); inside a batch's
 * transaction (SQLite: seen from outside with the server stopped;
 * PostgreSQL: held there by a row the test locked); just after the server
 * committed up to a chosen change, before its answer is stored. */
enum { AIM_MOMENT, AIM_ANSWER, AIM_OPEN, AIM_COMMIT, N_AIMS };
static const char * const aim_names[] = {
  "at a random moment", "once an answer was stored", "inside a transaction", "just after a commit",
};

/* The server's store as the test looks at it beside the server. */
typedef struct {
  PGconn     *pg;          /* PostgreSQL: a session of the test's own */
  const char *shm;         /* SQLite: the server's WAL index */
} Store;

typedef struct {
  Fixture    *f;
  Server     *s;
  Client     *c;
  GRand      *rand;
  Store       store;
  Store       watch;       /* the same, for the thread of AIM_OPEN */
  GPtrArray  *live;        /* "collection/id" of the records on the server */
  GHashTable *titles;      /* the same keys → the title each holds */
  guint       counter;
  gint64      revs;        /* changes written: each takes one rev, once */
  double      ms_per_change;  /* of a whole sync: random kills land in its span */
  guint       at[N_ATS];
  guint       aimed[N_AIMS];
  guint       inside;      /* kills that landed in an open transaction */
  guint       lost;        /* records the server does not hold as written */
  guint       extra;       /* records on the server that should not be */
  /* the round being killed */
  guint       aim;
  gint        answers;     /* answers the client stored in this sync (atomic) */
  guint       kill_after;  /* AIM_ANSWER: kill at this answer; AIM_OPEN: look from it on */
  gint64      kill_at_rev; /* AIM_COMMIT */
  gboolean    killed;
} Pushes;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

/* ------------------------------------------------------ the server's store */

/* The first column of @sql's first row, with "alice" bound to $1, read from
 * the server's store beside the server. */
static gint64
store_integer (Pushes     *p,
               const char *sql)
{
  const char *values[] = { "alice" };
  g_autoptr(PGresult) res = NULL;

  if (p->store.pg == NULL)
    return crash_sqlite_integer (p->f->storage[1], sql, "alice");
  res = PQexecParams (p->store.pg, sql, 1, NULL, values, NULL, NULL, 0);
  if (PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1)
    g_error ("%s: %s", sql, PQerrorMessage (p->store.pg));
  return g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10);
}

/* The user's last rev on the server: every rev it handed out. */
static gint64
server_revs (Pushes *p)
{
  return store_integer (p, "SELECT last_rev FROM users WHERE name = $1");
}

/* The state of the server's PostgreSQL session in a transaction that took
 * an id (locked or wrote rows); "" with none. */
static char *
pg_writing (Store *store)
{
  g_autoptr(PGresult) res = PQexec (store->pg, "SELECT state || CASE WHEN wait_event_type = 'Client' THEN ' blocked' ELSE '' END"
                                           " FROM pg_stat_activity WHERE datname = current_database ()"
                                           " AND pid <> pg_backend_pid () AND backend_xid IS NOT NULL");

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("looking at the server's sessions: %s", PQerrorMessage (store->pg));
  return g_strdup (PQntuples (res) > 0 ? PQgetvalue (res, 0, 0) : "");
}

static gboolean
store_writing (Store *store)
{
  g_autofree char *state = NULL;

  if (store->pg == NULL)
    return tether_test_sqlite_write_locked (store->shm);
  state = pg_writing (store);
  return state[0] != '\0';
}

/* With the server stopped: its transaction is open and stays so. The
 * PostgreSQL session is looked at once the statement it runs is done. */
static gboolean
store_stopped_writing (Store *store)
{
  if (store->pg == NULL)
    return tether_test_sqlite_write_locked (store->shm);
  for (guint waited = 0; waited < REQUEST_TIMEOUT_MS; waited++)
    {
      g_autofree char *state = pg_writing (store);

      /* idle in it, or blocked on the stopped server (reading the rest of a
       * statement from it, or sending it rows) */
      if (g_str_equal (state, "idle in transaction") || g_str_equal (state, "active blocked"))
        return TRUE;
      if (!g_str_equal (state, "active"))
        return FALSE;
      g_usleep (1000);
    }
  g_error ("seed %u: the stopped server's session kept running a statement", crash_seed);
}

/* PostgreSQL ends a killed server's session once it sees the connection
 * closed; until then its transaction holds the user's lock. */
static void
store_wait_ended (Store *store)
{
  for (guint waited = 0; store->pg != NULL && waited < REQUEST_TIMEOUT_MS; waited++)
    {
      g_autofree char *state = pg_writing (store);

      if (state[0] == '\0')
        return;
      g_usleep (1000);
    }
  if (store->pg != NULL)
    g_error ("seed %u: the killed server's session lived on", crash_seed);
}

/* ---------------------------------------------------------------- kills */

static void
kill_now (Pushes *p)
{
  server_kill (p->s);
  store_wait_ended (&p->store);
  p->killed = TRUE;
}

static gboolean
kill_at_moment (gpointer data)
{
  kill_now (data);
  return G_SOURCE_REMOVE;
}

/* The engine's progress: a "push" phase follows each answer it stored,
 * before the next batch goes out. */
static void
on_phase (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          gpointer          data)
{
  Pushes *p = data;

  if (phase != TETHER_SYNC_PHASE_PUSH || p->killed)
    return;
  g_atomic_int_inc (&p->answers);
  if (p->aim == AIM_ANSWER && (guint) g_atomic_int_get (&p->answers) == p->kill_after)
    kill_now (p);
}

/* Polled on the fixture's context while the sync runs on it. */
static gboolean
watch_store (gpointer data)
{
  Pushes *p = data;

  if (p->killed)
    return G_SOURCE_REMOVE;
  if (server_revs (p) >= p->kill_at_rev)
    kill_now (p);
  return p->killed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* AIM_OPEN looks from a thread of its own: the sync's main loop is busy
 * storing one answer while the server applies the next batch. */
typedef struct {
  Store  *store;
  GPid    pid;
  gint   *answers;
  guint   kill_after;
  gint    stop;     /* atomic */
  gint    killed;   /* atomic */
} Watch;

/* PostgreSQL: the server's session waits for the row the test locked, in
 * the middle of writing its batch's records. */
static gboolean
pg_waiting (Store *store)
{
  g_autoptr(PGresult) res = PQexec (store->pg, "SELECT count (*) FROM pg_stat_activity"
                                               " WHERE datname = current_database () AND pid <> pg_backend_pid ()"
                                               " AND backend_xid IS NOT NULL AND wait_event_type = 'Lock'");

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    g_error ("looking at the server's sessions: %s", PQerrorMessage (store->pg));
  return g_ascii_strtoll (PQgetvalue (res, 0, 0), NULL, 10) > 0;
}

static gpointer
watch_thread (gpointer data)
{
  Watch *w = data;

  for (guint waited = 0; !g_atomic_int_get (&w->stop) && waited < 10 * SYNC_TIMEOUT_MS; waited++)
    {
      if (w->store->pg != NULL)
        {
          /* blocked, it cannot go on to commit: no need to stop it */
          if (pg_waiting (w->store))
            {
              kill (w->pid, SIGKILL);
              g_atomic_int_set (&w->killed, TRUE);
              return NULL;
            }
        }
      else if ((guint) g_atomic_int_get (w->answers) >= w->kill_after && store_writing (w->store))
        {
          kill (w->pid, SIGSTOP);
          if (store_stopped_writing (w->store))
            {
              kill (w->pid, SIGKILL);
              g_atomic_int_set (&w->killed, TRUE);
              return NULL;
            }
          kill (w->pid, SIGCONT);
        }
      g_usleep (200);
    }
  return NULL;
}

/* The kill of a round of @n changes in batches of @batch, aimed by p->aim. */
static GSource *
aim_kill (Pushes *p,
          guint   n,
          guint   batch)
{
  guint batches = (n + batch - 1) / batch;
  GSource *source;

  p->kill_after = 0;
  switch (p->aim)
    {
    case AIM_MOMENT:
      source = g_timeout_source_new (g_rand_int_range (p->rand, 0, (gint32) (p->ms_per_change * n) + 2));
      g_source_set_callback (source, kill_at_moment, p, NULL);
      return source;
    case AIM_ANSWER:
      /* one batch goes out until the first answer, two at a time after
       * it: at answer j, batch j + 1 at most is out, and more are left */
      g_assert_cmpuint (batches, >=, 2);
      p->kill_after = g_rand_int_range (p->rand, 1, MAX (batches - 2, 1) + 1);
      return NULL;
    case AIM_OPEN:
      p->kill_after = g_rand_int_range (p->rand, 0, batches);
      return NULL;
    default:
      p->kill_at_rev = p->revs - n + g_rand_int_range (p->rand, 1, n + 1);
      break;
    }
  source = g_timeout_source_new (1);
  g_source_set_callback (source, watch_store, p, NULL);
  return source;
}

/* ------------------------------------------------------------- the rounds */

static void
push_write (Pushes *p,
            char    op,
            char   *key)
{
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);
  g_autofree char *title = g_strdup_printf ("write %u", ++p->counter);
  g_autofree char *json = NULL;

  if (op == 'd')
    {
      client_delete (p->c, parts[0], parts[1]);
      g_hash_table_remove (p->titles, key);
      return;
    }
  g_hash_table_insert (p->titles, g_strdup (key), g_strdup (title));
  if (op == 'u')
    {
      json = g_strdup_printf ("{\"title\":\"%s\"}", title);
      client_update (p->c, parts[0], parts[1], json);
      return;
    }
  json = g_strdup_printf ("{\"id\":\"%s\",\"title\":\"%s\"}", parts[1], title);
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
      char *key = g_strdup_printf ("%s/p%u-%u", g_rand_boolean (p->rand) ? "notes" : "tasks", crash_seed, p->counter);

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
                     crash_seed, report.conflicts);
          if (n > 0)
            p->ms_per_change = (double) report.duration_ms / n;
          return;
        }
      if (!g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK))
        g_error ("seed %u: the sync after the restart failed: %s", crash_seed, error->message);
    }
  g_error ("seed %u: no sync completed in %d tries after the restart", crash_seed, RESYNC_TRIES);
}

/* The server's records against the test's: every key in p->titles with its
 * title, no other record alive. Counts and names what differs. */
static void
push_check_data (Pushes *p)
{
  g_autoptr(JsonArray) changes = pull_all (p->f, p->s, p->f->alice, NULL, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, title;

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      char *record = crash_key_new (json_object_get_string_member (change, "collection"),
                                    json_object_get_string_member (change, "recordId"));
      JsonNode *data = json_object_get_member (change, "data");
      const char *expected = g_hash_table_lookup (p->titles, record);
      const char *found = NULL;

      if (!g_hash_table_add (seen, record))
        g_error ("seed %u: the server's feed holds %s twice", crash_seed, record);
      if (!g_str_equal (json_object_get_string_member (change, "type"), "delete") &&
          data != NULL && JSON_NODE_HOLDS_OBJECT (data))
        found = object_string (json_node_get_object (data), "title");
      if (g_strcmp0 (found, expected) == 0)
        continue;
      g_test_message ("%s on the server: %s, written: %s", record, found ? found : "(deleted)",
                      expected ? expected : "(deleted)");
      *(expected != NULL ? &p->lost : &p->extra) += 1;
    }
  g_hash_table_iter_init (&iter, p->titles);
  while (g_hash_table_iter_next (&iter, &key, &title))
    if (!g_hash_table_contains (seen, key))
      {
        g_test_message ("%s, written as %s, is not on the server", (char *) key, (char *) title);
        p->lost++;
      }
  if (p->lost + p->extra > 0)
    g_error ("seed %u: the server lost %u records and holds %u it should not", crash_seed, p->lost, p->extra);
}

/* The server holds each change once: exactly one rev and one applied
 * change id per change written, and the records as written. */
static void
push_check_round (Pushes *p)
{
  g_autoptr(GPtrArray) left = client_changes (p->c, -1);
  g_autoptr(GPtrArray) conflicts = client_conflicts (p->c, FALSE);
  gint64 revs = server_revs (p);
  gint64 applied = store_integer (p, "SELECT count (*) FROM applied a JOIN users u ON a.user_id = u.id"
                                     " WHERE u.name = $1");

  if (revs != p->revs)
    g_error ("seed %u: the server handed out %" G_GINT64_FORMAT " revs for %" G_GINT64_FORMAT
             " changes: %s", crash_seed, revs, p->revs, revs > p->revs ? "some applied twice" : "some lost");
  if (applied != p->revs)
    g_error ("seed %u: the server knows %" G_GINT64_FORMAT " change ids as applied for %" G_GINT64_FORMAT
             " changes", crash_seed, applied, p->revs);
  g_assert_cmpuint (left->len, ==, 0);
  /* one writer: a conflict would be with its own change, sent again */
  if (conflicts->len > 0)
    g_error ("seed %u: %u conflicts with one writer: a change was applied and then met again",
             crash_seed, conflicts->len);
  push_check_data (p);
}

/* What a kill may leave of a round of @n changes in batches of @batch:
 * whole batches (all of @batch changes but maybe the last), in any order
 * since two are out at a time, and at least every batch the client has an
 * answer for (@answered changes). */
static void
check_applied (Pushes *p,
               gint64  applied,
               guint   n,
               guint   batch,
               guint   answered)
{
  guint rest = n % batch;
  gboolean whole = FALSE;

  for (guint k = 0; k <= n / batch && !whole; k++)
    whole = applied == (gint64) k * batch || (rest > 0 && applied == (gint64) k * batch + rest);
  if (!whole)
    g_error ("seed %u: %" G_GINT64_FORMAT " of %u changes applied in batches of %u: part of a batch",
             crash_seed, applied, n, batch);
  if (applied < answered)
    g_error ("seed %u: %" G_GINT64_FORMAT " changes applied after the restart, yet the client had "
             "answers for %u", crash_seed, applied, answered);
}

/* PostgreSQL, AIM_OPEN: holds the row of a record that batch j of the
 * round updates (the round's updates come first, in p->live's order), so
 * that batch's transaction waits there with its earlier records written. */
static void
lock_record (Pushes *p,
             guint   n,
             guint   batch)
{
  guint updates = MIN (n * 3 / 10, p->live->len);
  guint j = g_rand_int_range (p->rand, 0, (updates - 1) / batch + 1);
  g_auto(GStrv) parts = g_strsplit (p->live->pdata[MIN ((j + 1) * batch, updates) - 1], "/", 2);
  const char *values[] = { parts[0], parts[1] };
  g_autoptr(PGresult) begin = PQexec (p->store.pg, "BEGIN");
  g_autoptr(PGresult) res = PQexecParams (p->store.pg, "SELECT count (*) FROM (SELECT 1 FROM records r JOIN users u"
                                          " ON r.user_id = u.id WHERE u.name = 'alice' AND r.collection = $1"
                                          " AND (r.key = $2 OR r.key = to_json ($2::text)::text) FOR UPDATE OF r) x",
                                          2, NULL, values, NULL, NULL, 0);

  g_assert_cmpint (updates, >, 0);
  if (PQresultStatus (begin) != PGRES_COMMAND_OK || PQresultStatus (res) != PGRES_TUPLES_OK ||
      !g_str_equal (PQgetvalue (res, 0, 0), "1"))
    g_error ("seed %u: locking %s/%s: %s", crash_seed, parts[0], parts[1], PQerrorMessage (p->store.pg));
}

static void
unlock_record (Pushes *p)
{
  g_autoptr(PGresult) res = PQexec (p->store.pg, "ROLLBACK");

  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
}

static void
kill_server (Pushes *p,
             guint   k)
{
  gint64 before = p->revs;
  guint n = push_round_write (p);
  guint batch = g_rand_int_range (p->rand, BATCH_MIN, BATCH_MAX + 1);
  g_autoptr(GSource) source = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) answered = NULL;
  Watch watch = { NULL, };
  GThread *thread = NULL;
  TetherSyncReport report = { 0, };
  gboolean ok;
  gint64 applied;

  p->aim = k % N_AIMS;
  if (p->aim == AIM_ANSWER)
    batch = MIN (batch, n - 1);   /* two batches at least */
  g_atomic_int_set (&p->answers, 0);
  p->killed = FALSE;
  source = aim_kill (p, n, batch);
  tether_sync_engine_set_batch_size (p->c->engine, batch);
  if (source != NULL)
    g_source_attach (source, p->f->context);
  if (p->aim == AIM_OPEN)
    {
      if (p->store.pg != NULL)
        lock_record (p, n, batch);
      watch.store = &p->watch;
      watch.pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (p->s->process), NULL, 10);
      watch.answers = &p->answers;
      watch.kill_after = p->kill_after;
      thread = g_thread_new ("watch-store", watch_thread, &watch);
    }
  ok = client_try_sync (p->c, &report, &error);
  if (source != NULL)
    g_source_destroy (source);
  if (thread != NULL)
    {
      g_atomic_int_set (&watch.stop, TRUE);
      g_thread_join (thread);
      if (p->store.pg != NULL)
        unlock_record (p);
      if (g_atomic_int_get (&watch.killed))
        {
          p->inside++;
          kill_now (p);
        }
    }
  if (!p->killed)   /* the sync was quicker: a whole one, for the next window */
    {
      p->ms_per_change = (double) report.duration_ms / n;
      server_kill (p->s);
      store_wait_ended (&p->store);
    }
  else
    p->aimed[p->aim]++;
  server_revive (p->f, p->s);
  applied = server_revs (p) - before;
  answered = client_changes (p->c, TETHER_CHANGE_COMMITTED);
  p->at[!p->killed ? AT_AFTER : applied == 0 ? AT_NOTHING : applied < n ? AT_BATCHES : AT_ANSWER]++;
  g_test_message ("kill %s: %" G_GINT64_FORMAT " of %u changes applied (batches of %u, %u answered), sync %s",
                  aim_names[p->aim], applied, n, batch, answered->len, ok ? "completed" : error->message);
  check_applied (p, applied, n, batch, answered->len);
  /* the sync cannot end before the answer the kill waits for */
  if (p->aim == AIM_ANSWER)
    g_assert_true (p->killed);
  push_resync (p, 0);
  push_check_round (p);
}

static void
test_server_push (Fixture *f)
{
  Pushes p = { f, NULL, };
  g_autofree char *shm = NULL;

  p.s = server_start (f, NULL);
  server_pin_port (p.s);
  p.c = client_new (f, p.s, "pusher", f->alice);
  g_signal_connect (p.c->engine, "phase", G_CALLBACK (on_phase), &p);
  p.rand = g_rand_new_with_seed (crash_seed);
  p.live = g_ptr_array_new_with_free_func (g_free);
  p.titles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (f->postgres)
    {
      p.store.pg = PQconnectdb (f->storage[1]);
      p.watch.pg = PQconnectdb (f->storage[1]);
      if (PQstatus (p.store.pg) != CONNECTION_OK || PQstatus (p.watch.pg) != CONNECTION_OK)
        g_error ("connecting to the server's PostgreSQL: %s", PQerrorMessage (p.store.pg));
    }
  else
    p.store.shm = p.watch.shm = shm = g_strconcat (f->storage[1], "-shm", NULL);
  /* the first round sets the window the random kills land in */
  push_resync (&p, push_round_write (&p));
  push_check_round (&p);
  for (guint k = 0; k < crash_kills; k++)
    kill_server (&p, k);
  assert_converged (f, p.s, f->alice, &p.c, 1);
  g_test_message ("server-push: %u kills (%u %s, %u %s, %u %s, %u %s; killed in the sync: %u %s, %u %s, %u %s "
                  "(%u in an open transaction), %u %s), %" G_GINT64_FORMAT " changes acknowledged, %"
                  G_GINT64_FORMAT " revs on the server; lost %u, duplicated %" G_GINT64_FORMAT,
                  crash_kills, p.at[AT_NOTHING], at_names[AT_NOTHING], p.at[AT_BATCHES], at_names[AT_BATCHES],
                  p.at[AT_ANSWER], at_names[AT_ANSWER], p.at[AT_AFTER], at_names[AT_AFTER],
                  p.aimed[AIM_MOMENT], aim_names[AIM_MOMENT], p.aimed[AIM_ANSWER], aim_names[AIM_ANSWER],
                  p.aimed[AIM_OPEN], aim_names[AIM_OPEN], p.inside, p.aimed[AIM_COMMIT], aim_names[AIM_COMMIT],
                  p.revs, server_revs (&p), p.lost, server_revs (&p) - p.revs + p.extra);
  /* each aim comes round at least twice: the kills landed where it matters */
  if (crash_kills >= 2 * N_AIMS)
    {
      g_assert_cmpuint (p.at[AT_BATCHES], >, 0);
      g_assert_cmpuint (p.inside, >, 0);
    }
  g_clear_pointer (&p.store.pg, PQfinish);
  g_clear_pointer (&p.watch.pg, PQfinish);
  g_rand_free (p.rand);
  g_ptr_array_unref (p.live);
  g_hash_table_unref (p.titles);
}

/* ================================================================== main */

int
main (int   argc,
      char *argv[])
{
  gboolean writer = FALSE;
  const char *writer_db = NULL;
  int stop_at = -1;
  gboolean stop_in_transaction = FALSE;
  gboolean stop_committed = FALSE;
  const SeedOption writer_options[] = {
    { "--writer", SEED_OPTION_FLAG, &writer, NULL, NULL },
    { "--db", SEED_OPTION_STRING, &writer_db, NULL, NULL },
    { "--stop-at", SEED_OPTION_INT, &stop_at, NULL, NULL },
    { "--stop-in-transaction", SEED_OPTION_FLAG, &stop_in_transaction, NULL, NULL },
    { "--stop-committed", SEED_OPTION_FLAG, &stop_committed, NULL, NULL },
    { NULL, },
  };

  seed_parse_kills (&argc, &argv, &crash_seed, &crash_kills, SOAK_KILLS, writer_options);
  if (writer)
    return crash_writer_main (writer_db, crash_seed, stop_at,
                              stop_committed ? CRASH_STOP_COMMITTED : CRASH_STOP_IN_TRANSACTION);
  seed_replay_on_abort ("test-reliability-crash: failed with seed %u; replay: test-reliability-crash --seed %u --kills %u",
                        crash_seed, crash_seed, crash_kills);
  tether_test_server_set_prefix ("/tether/reliability/crash");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add ("client-write", test_client_write, FALSE);
  tether_test_server_add ("server-push", test_server_push, FALSE);
  tether_test_server_add ("server-push", test_server_push, TRUE);
  return tether_test_server_run ();
}
