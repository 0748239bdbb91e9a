/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-converge"
#include "config.h"

#include "tether-test-converge.h"
#include "tether-test-seed.h"

/* Three clients write at random over misbehaving links (dropped requests,
 * lost answers, duplicates, delays, offline spells) while the server is
 * killed and restarted; then everyone syncs until quiet. They must end
 * with the server's data, and no write may vanish without a trace: each is
 * in the final state, knowingly overwritten by a later write, or kept as a
 * loser in some conflict log (tether-test-converge.h). Seeded: `--seed N
 * --rounds N` (or TETHER_SEED) replays a run. test-reliability-converge
 * does the same with client processes. */

#define N_CLIENTS       3
#define DEFAULT_SEED    20261122
#define DEFAULT_ROUNDS  150
#define N_SHARED        6

static guint32 seed = DEFAULT_SEED;
static guint   rounds = DEFAULT_ROUNDS;

typedef struct {
  Fixture        *f;
  Server         *s;
  Client         *clients[N_CLIENTS];
  ConvergeWriter  writers[N_CLIENTS];
  GRand          *rand;
  ConvergeModel  *model;
} World;

static void
world_setup (World                  *w,
             Fixture                *f,
             TetherConflictStrategy  strategy)
{
  w->f = f;
  w->s = server_start (f, NULL);
  server_pin_port (w->s);
  w->rand = g_rand_new_with_seed (seed);
  w->model = converge_model_new (N_CLIENTS, NULL);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", i);

      w->clients[i] = client_new_full (f, w->s, name, f->alice, CLIENT_FAULTY, seed + i);
      tether_sync_engine_set_strategy (w->clients[i]->engine, strategy);
      w->writers[i] = (ConvergeWriter) { .model = w->model, .client = w->clients[i], .index = i,
                                         .rand = w->rand };
    }
  /* records everyone shares from the start */
  for (guint r = 0; r < N_SHARED; r++)
    converge_create (&w->writers[0]);
  for (guint i = 0; i < N_CLIENTS; i++)
    client_sync (w->clients[i]);
}

static void
world_clear (World *w)
{
  g_rand_free (w->rand);
  converge_model_free (w->model);
}

/* The world of CI (no --seed, --rounds or TETHER_SEED) must show that
 * its faults happened; a replay only reports them. */
static gboolean
ci_world (void)
{
  return seed == DEFAULT_SEED && rounds == DEFAULT_ROUNDS;
}

static void
report_faults (World *w)
{
  guint ok = 0, failed = 0;

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      TetherFaultyTransport *faulty = w->clients[i]->faulty;
      ConvergeFaults seen = {
        .index = i,
        .dropped = tether_faulty_transport_get_dropped (faulty),
        .lost = tether_faulty_transport_get_lost (faulty),
        .duplicated = tether_faulty_transport_get_duplicated (faulty),
        .offline_spells = w->writers[i].offline_spells,
        .syncs_ok = w->writers[i].syncs_ok,
        .syncs_failed = w->writers[i].syncs_failed,
      };

      ok += w->writers[i].syncs_ok;
      failed += w->writers[i].syncs_failed;
      g_test_message ("client %s: dropped %u, lost %u, duplicated %u, %u offline spells, %u syncs failed",
                      w->clients[i]->name, seen.dropped, seen.lost, seen.duplicated, seen.offline_spells,
                      seen.syncs_failed);
      if (ci_world ())
        converge_assert_faults (&seen);
    }
  g_test_message ("%u syncs went through, %u failed on purpose", ok, failed);
}

static void
random_writes (Fixture                *f,
               TetherConflictStrategy  strategy)
{
  World w = { 0, };
  ConvergeFigures figures;
  guint kill_at = rounds / 3, restart_at = 2 * rounds / 3;
  guint passes, retried;

  g_test_message ("seed %u, rounds %u (replay with --seed %u --rounds %u)", seed, rounds, seed, rounds);
  world_setup (&w, f, strategy);
  for (guint i = 0; i < N_CLIENTS; i++)
    converge_faults_on (&w.writers[i]);
  for (guint round = 0; round < rounds; round++)
    {
      if (round == kill_at)
        server_kill (w.s);
      if (round == kill_at + 2)
        server_revive (f, w.s);
      if (round == restart_at)
        server_restart (f, w.s);
      for (guint i = 0; i < N_CLIENTS; i++)
        converge_round (&w.writers[i], round);
    }
  report_faults (&w);
  passes = converge_settle (w.clients, N_CLIENTS, &retried);
  g_test_message ("quiet after %u passes; %u changes out of retries retried", passes, retried);
  converge_check (w.model, f, w.s, f->alice, w.clients, N_CLIENTS, &figures);
  if (ci_world ())
    converge_assert_eventful (&figures, strategy);
  world_clear (&w);
}

static void
test_random_writes (Fixture *f)
{
  random_writes (f, TETHER_CONFLICT_STRATEGY_MERGE);
}

/* Whole records by hlc: more losers, each of them logged. */
static void
test_random_writes_lww (Fixture *f)
{
  random_writes (f, TETHER_CONFLICT_STRATEGY_LWW);
}

/* --seed N and --rounds N, taken out of argv before GTest sees it. */
static void
parse_options (int    *argc,
               char ***argv)
{
  int out = 1;

  if (g_getenv ("TETHER_SEED") != NULL)
    seed = (guint32) g_ascii_strtoull (g_getenv ("TETHER_SEED"), NULL, 10);
  for (int i = 1; i < *argc; i++)
    {
      if (g_str_equal ((*argv)[i], "--seed") && i + 1 < *argc)
        seed = (guint32) g_ascii_strtoull ((*argv)[++i], NULL, 10);
      else if (g_str_equal ((*argv)[i], "--rounds") && i + 1 < *argc)
        rounds = (guint) g_ascii_strtoull ((*argv)[++i], NULL, 10);
      else
        (*argv)[out++] = (*argv)[i];
    }
  (*argv)[out] = NULL;
  *argc = out;
  rounds = MAX (rounds, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *replay = NULL;

  parse_options (&argc, &argv);
  replay = g_strdup_printf ("test-sync-converge: failed with seed %u; replay: test-sync-converge --seed %u --rounds %u",
                            seed, seed, rounds);
  seed_replay_on_abort ("%s", replay);
  tether_test_server_set_prefix ("/tether/sync/converge");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add ("random-writes", test_random_writes, FALSE);
  tether_test_server_add ("random-writes-lww", test_random_writes_lww, FALSE);
  return tether_test_server_run ();
}
