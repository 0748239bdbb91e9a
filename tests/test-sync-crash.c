/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-crash"
#include "config.h"

#include <signal.h>

#include "tether-test-seed.h"
#include "tether-test-sync.h"

/* `tether --db FILE sync` killed with SIGKILL at random points, over and
 * over, with more local writes after each kill (and another device writing
 * meanwhile, so pulls are cut short too); some kills land while the server
 * is stopped with SIGSTOP, so the push is applied after its sender died.
 * One sync that completes must then leave the server with every record
 * exactly once and the file's final data, and an empty change log.
 * Seeded: `--seed N --kills N` (or TETHER_SEED) replays a run; `--soak`
 * makes it 100 kills. */

#define DEFAULT_SEED   20261122
#define DEFAULT_KILLS  20
#define SOAK_KILLS     100
#define MAX_DELAY_MS   50
#define N_INITIAL      40

static guint32 seed = DEFAULT_SEED;
static guint   kills = DEFAULT_KILLS;

typedef struct {
  Fixture *f;
  Server  *s;
  Client  *a;        /* the file the CLI syncs; written in this process */
  Client  *b;        /* another device, syncing in this process */
  GRand   *rand;
  GPtrArray *own_a;  /* "collection/id" each client writes: no conflicts by design */
  GPtrArray *own_b;
  guint    writes;   /* every write of a and b: the most the server may apply */
  guint    counter;
  guint    killed;   /* kills that met a running sync, of which ... */
  guint    slowed;   /* ... while the server was stopped */
} Crash;

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
  g_autofree char *json = g_strdup_printf ("{\"title\":\"%s write %u\"}", c->name, ++crash->counter);
  g_autofree char *key = random_own (crash, own, dice == 9);
  g_auto(GStrv) parts = key ? g_strsplit (key, "/", 2) : NULL;

  crash->writes++;
  if (dice < 4 || key == NULL)
    {
      const char *collection = g_rand_boolean (crash->rand) ? "notes" : "tasks";
      g_autofree char *id = client_create (c, collection, json);

      g_ptr_array_add (own, g_strdup_printf ("%s/%s", collection, id));
    }
  else if (dice < 9)
    client_update (c, parts[0], parts[1], json);
  else
    client_delete (c, parts[0], parts[1]);
}

/* ------------------------------------------------------------------- CLI */

static GSubprocess *
cli_sync_start (Crash *crash)
{
  g_autoptr(GError) error = NULL;
  GSubprocess *process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                           &error, cli_path (), "--db", crash->a->path, "sync", NULL);

  g_assert_no_error (error);
  return process;
}

static void
cli_kill (GSubprocess *process)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (process, SIGKILL);
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
}

static void
server_signal (Server *s,
               int     signum)
{
  g_subprocess_send_signal (s->process, signum);
}

/* One CLI sync, killed after a random delay; with @slowed, while the
 * server is stopped, so it applies the push after its sender died. */
static void
kill_one (Crash    *crash,
          gboolean  slowed)
{
  g_autoptr(GSubprocess) process = NULL;
  guint delay_ms = g_rand_int_range (crash->rand, 0, MAX_DELAY_MS + 1);

  if (slowed)
    server_signal (crash->s, SIGSTOP);
  process = cli_sync_start (crash);
  g_usleep (delay_ms * 1000);
  cli_kill (process);
  if (slowed)
    server_signal (crash->s, SIGCONT);
  g_test_message ("kill after %u ms%s: %s", delay_ms, slowed ? " (server stopped)" : "",
                  g_subprocess_get_if_signaled (process) ? "killed" : "it had finished");
  if (g_subprocess_get_if_signaled (process))
    {
      crash->killed++;
      crash->slowed += slowed;
    }
}

static void
cli_sync_to_end (Crash *crash)
{
  const char *args[] = { "--db", crash->a->path, "sync", NULL };
  g_autoptr(Command) sync = cli_run (crash->f, args);

  if (sync->status != 0)
    g_error ("seed %u: the final tether sync failed (%d): %s%s", seed, sync->status, sync->out, sync->err);
  g_test_message ("final sync: %s", sync->out);
}

/* ------------------------------------------------------------------ test */

static void
check_end (Crash *crash)
{
  Client *clients[] = { crash->a, crash->b };
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *server = NULL;
  gint64 feed_end = 0;

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

  client_sync (crash->b);
  server = server_dump (crash->f, crash->s, crash->f->alice, &feed_end);
  g_test_message ("%u local writes, %" G_GINT64_FORMAT " applied by the server", crash->writes, feed_end);
  g_assert_cmpint (feed_end, <=, crash->writes);
  assert_converged (crash->f, crash->s, crash->f->alice, clients, G_N_ELEMENTS (clients));
  g_test_message ("kill-sync: %u kills (%u mid-sync, %u of them with the server stopped; %u after the sync "
                  "ended), %u writes acknowledged, %" G_GINT64_FORMAT " applied; lost 0, duplicated 0",
                  kills, crash->killed, crash->slowed, kills - crash->killed, crash->writes, feed_end);
}

static void
test_kill_sync (Fixture *f)
{
  Crash crash = { f, NULL, };
  g_autoptr(GError) error = NULL;

  g_test_message ("seed %u, kills %u (replay with --seed %u --kills %u)", seed, kills, seed, kills);
  if (!cli_has_command (f, "sync"))
    {
      g_test_skip ("the CLI has no `sync` command");
      return;
    }
  crash.s = server_start (f, NULL);
  server_pin_port (crash.s);
  crash.rand = g_rand_new_with_seed (seed);
  crash.own_a = g_ptr_array_new_with_free_func (g_free);
  crash.own_b = g_ptr_array_new_with_free_func (g_free);
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
      client_sync (crash.b);
      kill_one (&crash, k % 4 == 3);
      for (guint i = 0, n = g_rand_int_range (crash.rand, 1, 6); i < n; i++)
        random_write (&crash, crash.a);
    }
  cli_sync_to_end (&crash);
  check_end (&crash);
  g_rand_free (crash.rand);
  g_ptr_array_unref (crash.own_a);
  g_ptr_array_unref (crash.own_b);
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
