/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliability-converge"
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "tether-test-converge.h"
#include "tether-test-seed.h"

/* Five client processes (this binary in its --client mode) write at
 * random over faulty links with offline spells, while the parent kills
 * the tether-server with SIGKILL twice and starts it again on the same
 * port. Each client journals every write its database acknowledged. Then
 * the parent opens the clients' files, syncs until quiet and accounts for
 * every journaled write (tether-test-converge.h). Odd seeds resolve
 * conflicts by last writer wins, even ones merge. A seed fixes each
 * client's writes and faults, not how five processes interleave: a failure
 * that hangs on timing may need its replay run a few times.
 *
 *   test-reliability-converge                     the fixed seeds of CI
 *   test-reliability-converge --seed N            replay one world
 *   test-reliability-converge --soak MIN --seed N worlds N, N+1, … for MIN minutes
 */

#define N_CLIENTS         5
#define N_SHARED          8
#define DEFAULT_ROUNDS    600
#define KILL_SPELL        3         /* rounds of the slowest client the server stays dead */
#define WORLD_TIMEOUT_MS  (20 * 60 * 1000)
#define FIRST_SYNC_TRIES  20
/* below the default 5, so records run out of retries in every world and
 * their retry when quiet is part of what is checked */
#define MAX_RETRIES       2

/* two merging worlds and one of last writer wins */
static const guint32 ci_seeds[] = { 20261202, 20261203, 20261204 };

static struct {
  guint32  seed;
  gboolean seed_given;
  guint    rounds;
  guint    soak_minutes;
  int      client;       /* -1: not a client process */
  char    *dir;
  char    *url;
  char    *token;
  char    *journal;
} opt = { .rounds = DEFAULT_ROUNDS, .client = -1 };

static TetherConflictStrategy
seed_strategy (guint32 seed)
{
  return seed % 2 ? TETHER_CONFLICT_STRATEGY_LWW : TETHER_CONFLICT_STRATEGY_MERGE;
}

static void
engine_setup (Client  *c,
              guint32  seed)
{
  tether_sync_engine_set_strategy (c->engine, seed_strategy (seed));
  tether_sync_engine_set_max_retries (c->engine, MAX_RETRIES);
}

static char *
journal_path (const char *dir,
              guint       client)
{
  g_autofree char *name = g_strdup_printf ("journal-c%u.txt", client);

  return g_build_filename (dir, name, NULL);
}

/* This binary, by its real name (it names the process in messages). */
static const char *
self_path (void)
{
  static char *path;

  if (path == NULL && (path = g_file_read_link ("/proc/self/exe", NULL)) == NULL)
    path = g_strdup ("/proc/self/exe");
  return path;
}

static void
die_with_parent (gpointer data)
{
  /* a world that aborts must not leave its clients running */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* ------------------------------------------------------- client process */

static void
child_fixture_free (gpointer data)
{
  Fixture *f = data;

  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
  g_free (f);
}

static Client *
child_client (void)
{
  Fixture *f = g_new0 (Fixture, 1);
  static Server s;
  g_autofree char *name = g_strdup_printf ("c%d", opt.client);
  Client *c;

  f->dir = opt.dir;
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  /* queued first, so freed after the client */
  g_test_queue_destroy (child_fixture_free, f);
  s.base = opt.url;
  c = client_new_full (f, &s, name, opt.token, CLIENT_FAULTY, opt.seed ^ (0x9e3779b9u * (opt.client + 1)));
  engine_setup (c, opt.seed);
  return c;
}

/* The shared records, before faults and kills begin. */
static void
child_first_sync (Client *c)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < FIRST_SYNC_TRIES; i++)
    {
      g_clear_error (&error);
      if (client_try_sync (c, NULL, &error))
        return;
      g_usleep (100 * 1000);
    }
  converge_fail ("client %s: no first sync in %d tries: %s", c->name, FIRST_SYNC_TRIES, error->message);
}

static void
test_client (void)
{
  Client *c = child_client ();
  g_autoptr(ConvergeModel) model = converge_model_new (N_CLIENTS, opt.journal);
  guint32 rand_seed[] = { opt.seed, (guint32) opt.client };
  g_autoptr(GRand) rand = g_rand_new_with_seed_array (rand_seed, G_N_ELEMENTS (rand_seed));
  ConvergeWriter w = { .model = model, .client = c, .index = opt.client, .rand = rand };

  child_first_sync (c);
  converge_faults_on (&w);
  for (guint round = 0; round < opt.rounds; round++)
    {
      converge_round (&w, round);
      printf ("progress %u\n", round + 1);
      fflush (stdout);
    }
  printf ("report writes=%u syncs-ok=%u syncs-failed=%u dropped=%u lost=%u duplicated=%u "
          "failed-changes=%u offline-spells=%u\n", w.counter, w.syncs_ok, w.syncs_failed,
          tether_faulty_transport_get_dropped (c->faulty),
          tether_faulty_transport_get_lost (c->faulty),
          tether_faulty_transport_get_duplicated (c->faulty),
          tether_sync_engine_get_failed_count (c->engine), w.offline_spells);
  fflush (stdout);
}

static int
client_main (int    argc,
             char **argv)
{
  g_autofree char *replay = g_strdup_printf ("client c%d of the world with seed %u failed; replay: "
                                             "test-reliability-converge --seed %u --rounds %u",
                                             opt.client, opt.seed, opt.seed, opt.rounds);

  if (opt.dir == NULL || opt.url == NULL || opt.token == NULL || opt.journal == NULL)
    g_error ("--client needs --dir, --url, --token and --journal");
  seed_replay_on_abort ("%s", replay);
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tether/reliability/converge/client", test_client);
  return g_test_run ();
}

/* -------------------------------------------------------------- a world */

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
  GString          *text;      /* what it printed, for failures */
  char             *report;
  guint             progress;  /* rounds done */
  gboolean          eof;
  gboolean          exited;
} Child;

typedef struct {
  Fixture       *f;
  Server        *s;
  guint32        seed;
  ConvergeModel *model;
  Child          children[N_CLIENTS];
  gboolean       changed;
  guint          kills;
  guint          killed_at;
} World;

static void read_next (World *w, Child *child);

static void
line_read (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  World *w = data;
  Child *child = g_object_get_data (source, "child");
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, NULL);

  w->changed = TRUE;
  if (line == NULL)
    {
      child->eof = TRUE;
      return;
    }
  g_string_append_printf (child->text, "%s\n", line);
  if (g_str_has_prefix (line, "progress "))
    child->progress = (guint) g_ascii_strtoull (line + 9, NULL, 10);
  else if (g_str_has_prefix (line, "report "))
    child->report = g_strdup (line + 7);
  read_next (w, child);
}

static void
read_next (World *w,
           Child *child)
{
  g_data_input_stream_read_line_async (child->out, G_PRIORITY_DEFAULT, NULL, line_read, w);
}

static void
child_exited (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  World *w = data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  ((Child *) g_object_get_data (source, "child"))->exited = TRUE;
  w->changed = TRUE;
}

static void
child_spawn (World *w,
             guint  i)
{
  Child *child = &w->children[i];
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GError) error = NULL;
  g_autofree char *index = g_strdup_printf ("%u", i);
  g_autofree char *seed = g_strdup_printf ("%u", w->seed);
  g_autofree char *rounds = g_strdup_printf ("%u", opt.rounds);
  g_autofree char *journal = journal_path (w->f->dir, i);
  const char *argv[] = { self_path (), "--client", index, "--dir", w->f->dir, "--url", w->s->base,
                         "--token", w->f->alice, "--seed", seed, "--rounds", rounds,
                         "--journal", journal, "-q", NULL };

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  child->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  child->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child->process));
  child->text = g_string_new (NULL);
  g_object_set_data (G_OBJECT (child->out), "child", child);
  g_object_set_data (G_OBJECT (child->process), "child", child);
  read_next (w, child);
  g_subprocess_wait_async (child->process, NULL, child_exited, w);
}

static void
child_clear (Child *child)
{
  g_clear_object (&child->out);
  g_clear_object (&child->process);
  if (child->text != NULL)
    g_string_free (child->text, TRUE);
  g_free (child->report);
}

static gboolean
children_done (World *w)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!w->children[i].eof || !w->children[i].exited)
      return FALSE;
  return TRUE;
}

static guint
slowest (World *w)
{
  guint progress = G_MAXUINT;

  for (guint i = 0; i < N_CLIENTS; i++)
    progress = MIN (progress, w->children[i].progress);
  return progress;
}

/* SIGKILL at a quarter and at three fifths of the slowest client's rounds;
 * back after KILL_SPELL more of its rounds (or once all are done). */
static void
kill_or_revive (World *w)
{
  guint kill_points[] = { opt.rounds / 4, 3 * opt.rounds / 5 };
  guint progress = slowest (w);

  if (w->s->process == NULL && (progress >= w->killed_at + KILL_SPELL || children_done (w)))
    {
      server_revive (w->f, w->s);
      g_test_message ("tether-server back at round %u", progress);
    }
  else if (w->s->process != NULL && w->kills < G_N_ELEMENTS (kill_points) &&
           (progress >= kill_points[w->kills] || children_done (w)))
    {
      server_kill (w->s);
      w->killed_at = progress;
      w->kills++;
      g_test_message ("tether-server killed (SIGKILL) at round %u", progress);
    }
}

static void
fail_children (World      *w,
               const char *why)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      if (!w->children[i].exited)
        g_subprocess_force_exit (w->children[i].process);
      g_test_message ("client c%u printed:\n%s", i, w->children[i].text->str);
    }
  converge_fail ("%s", why);
}

static void
run_children (World *w)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) WORLD_TIMEOUT_MS * 1000;

  for (guint i = 0; i < N_CLIENTS; i++)
    child_spawn (w, i);
  while (!children_done (w) || w->kills < 2 || w->s->process == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        fail_children (w, "the clients did not finish in time");
      w->changed = FALSE;
      wait_until (w->f, flag_ready, &w->changed, 1000);
      kill_or_revive (w);
    }
  for (guint i = 0; i < N_CLIENTS; i++)
    if (!g_subprocess_get_successful (w->children[i].process))
      fail_children (w, "a client process failed");
}

/* ---------------------------------------------------------- the parent */

/* The worlds of CI, at their length, must show that their faults
 * happened; a replay or a soak only reports them. */
static gboolean
ci_world (guint32 seed)
{
  for (guint i = 0; i < G_N_ELEMENTS (ci_seeds); i++)
    if (ci_seeds[i] == seed)
      return opt.rounds == DEFAULT_ROUNDS;
  return FALSE;
}

/* "name=N" of a client's report line. */
static guint
report_figure (World      *w,
               const char *report,
               const char *name)
{
  g_auto(GStrv) words = g_strsplit (report, " ", -1);
  gsize length = strlen (name);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], name, length) == 0 && words[i][length] == '=')
      return (guint) g_ascii_strtoull (words[i] + length + 1, NULL, 10);
  fail_children (w, "a client's report lacks a figure");
  g_assert_not_reached ();
}

static void
report_children (World *w)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *journal = journal_path (w->f->dir, i);
      const char *report = w->children[i].report;

      if (report == NULL)
        fail_children (w, "a client ended without its report");
      g_test_message ("client c%u: %s", i, report);
      if (ci_world (w->seed))
        {
          ConvergeFaults seen = {
            .index = i,
            .dropped = report_figure (w, report, "dropped"),
            .lost = report_figure (w, report, "lost"),
            .duplicated = report_figure (w, report, "duplicated"),
            .offline_spells = report_figure (w, report, "offline-spells"),
            .syncs_ok = report_figure (w, report, "syncs-ok"),
            .syncs_failed = report_figure (w, report, "syncs-failed"),
          };

          converge_assert_faults (&seen);
        }
      converge_model_load (w->model, journal);
    }
}

/* The clients' files, opened here once their processes are gone, and the
 * client that pushed the shared records. */
static guint
settle (World   *w,
        Client **clients,
        Client  *first,
        guint   *retried)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", i);

      clients[i] = client_new (w->f, w->s, name, w->f->alice);
      engine_setup (clients[i], w->seed);
    }
  clients[N_CLIENTS] = first;
  return converge_settle (clients, N_CLIENTS + 1, retried);
}

static Client *
push_shared (World *w)
{
  Client *first = client_new (w->f, w->s, "shared", w->f->alice);
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->seed);
  ConvergeWriter writer = { .model = w->model, .client = first, .index = N_CLIENTS, .rand = rand };

  engine_setup (first, w->seed);
  for (guint r = 0; r < N_SHARED; r++)
    converge_create (&writer);
  client_sync (first);
  return first;
}

static void
run_world (Fixture *f,
           guint32  seed)
{
  World w = { .f = f, .seed = seed };
  Client *clients[N_CLIENTS + 1];
  ConvergeFigures figures;
  gint64 start = g_get_monotonic_time ();
  g_autofree char *replay = g_strdup_printf ("test-reliability-converge: failed with seed %u; replay: "
                                             "test-reliability-converge --seed %u --rounds %u",
                                             seed, seed, opt.rounds);
  guint passes, retried;

  seed_replay_on_abort ("%s", replay);
  g_test_message ("seed %u (%s), rounds %u", seed, tether_conflict_strategy_to_string (seed_strategy (seed)),
                  opt.rounds);
  w.s = server_start (f, NULL);
  server_pin_port (w.s);
  w.model = converge_model_new (N_CLIENTS, NULL);
  clients[N_CLIENTS] = push_shared (&w);
  run_children (&w);
  report_children (&w);
  passes = settle (&w, clients, clients[N_CLIENTS], &retried);
  converge_check (w.model, f, w.s, f->alice, clients, N_CLIENTS + 1, &figures);
  if (ci_world (seed))
    converge_assert_eventful (&figures, seed_strategy (seed));
  g_test_message ("summary: seed %u %s: %u writes, %u conflicts logged, %u records, settled in %u passes "
                  "(%u changes out of retries retried), %.1f s", seed,
                  tether_conflict_strategy_to_string (seed_strategy (seed)), figures.writes, figures.conflicts,
                  figures.records, passes, retried, (g_get_monotonic_time () - start) / 1e6);
  for (guint i = 0; i < N_CLIENTS; i++)
    child_clear (&w.children[i]);
  converge_model_free (w.model);
}

/* The seed is the last part of the test's path: "…/seed-N". */
static void
test_world (Fixture *f)
{
  const char *name = strrchr (g_test_get_path (), '/') + 1;

  g_assert_true (g_str_has_prefix (name, "seed-"));
  run_world (f, (guint32) g_ascii_strtoull (name + 5, NULL, 10));
}

static void
add_world (guint32 seed)
{
  g_autofree char *name = g_strdup_printf ("seed-%u", seed);

  tether_test_server_add (name, test_world, FALSE);
}

/* ---------------------------------------------------------------- soak */

static const char *
summary_of (const char *output)
{
  const char *summary = g_strrstr (output, "# summary: ");

  return summary ? summary + 11 : "no summary";
}

/* One world in a process of its own: a fresh fixture, and a crash is a
 * failed world, not a dead soak. */
static gboolean
soak_world (guint32 seed)
{
  g_autofree char *seed_text = g_strdup_printf ("%u", seed);
  g_autofree char *rounds = g_strdup_printf ("%u", opt.rounds);
  const char *argv[] = { self_path (), "--seed", seed_text, "--rounds", rounds, NULL };
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  g_autofree char *line = NULL;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (process == NULL || !g_subprocess_communicate_utf8 (process, NULL, NULL, &output, NULL, &error))
    g_error ("cannot run a world: %s", error->message);
  if (g_subprocess_get_successful (process))
    {
      line = g_strndup (summary_of (output), strcspn (summary_of (output), "\n"));
      printf ("ok   %s\n", line);
      return TRUE;
    }
  printf ("%s\nFAILED: the world with seed %u failed; replay it with:\n"
          "  test-reliability-converge --seed %u --rounds %u\n", output, seed, seed, opt.rounds);
  return FALSE;
}

static int
soak (void)
{
  gint64 end = g_get_monotonic_time () + (gint64) opt.soak_minutes * 60 * G_USEC_PER_SEC;
  guint worlds = 0;

  if (g_getenv ("TETHER_SERVER") == NULL || g_getenv ("TETHER_CLI") == NULL)
    g_error ("set TETHER_SERVER and TETHER_CLI (meson devenv does), or run the soak through meson test");
  /* the clock is read between worlds only: a world is never cut short */
  for (guint32 seed = opt.seed; worlds == 0 || g_get_monotonic_time () < end; seed++, worlds++)
    {
      if (!soak_world (seed))
        return 1;
      fflush (stdout);
    }
  printf ("soak: %u worlds from seed %u passed in %u minutes\n", worlds, opt.seed, opt.soak_minutes);
  return 0;
}

/* ---------------------------------------------------------------- main */

static gboolean
take_option (char     **argv,
             int       *i,
             int        argc,
             const char *name,
             char     **value)
{
  if (!g_str_equal (argv[*i], name) || *i + 1 >= argc)
    return FALSE;
  *value = argv[++*i];
  return TRUE;
}

/* Our options, taken out of argv before GTest sees it. */
static void
parse_options (int    *argc,
               char ***argv)
{
  char *value = NULL;
  int out = 1;

  for (int i = 1; i < *argc; i++)
    {
      if (take_option (*argv, &i, *argc, "--seed", &value))
        {
          opt.seed = (guint32) g_ascii_strtoull (value, NULL, 10);
          opt.seed_given = TRUE;
        }
      else if (take_option (*argv, &i, *argc, "--rounds", &value))
        opt.rounds = MAX ((guint) g_ascii_strtoull (value, NULL, 10), 1);
      else if (take_option (*argv, &i, *argc, "--soak", &value))
        opt.soak_minutes = (guint) g_ascii_strtoull (value, NULL, 10);
      else if (take_option (*argv, &i, *argc, "--client", &value))
        opt.client = (int) g_ascii_strtoll (value, NULL, 10);
      else if (!take_option (*argv, &i, *argc, "--dir", &opt.dir) &&
               !take_option (*argv, &i, *argc, "--url", &opt.url) &&
               !take_option (*argv, &i, *argc, "--token", &opt.token) &&
               !take_option (*argv, &i, *argc, "--journal", &opt.journal))
        (*argv)[out++] = (*argv)[i];
    }
  (*argv)[out] = NULL;
  *argc = out;
}

int
main (int   argc,
      char *argv[])
{
  parse_options (&argc, &argv);
  if (opt.client >= 0)
    return client_main (argc, argv);
  if (opt.soak_minutes > 0)
    {
      if (!opt.seed_given)
        g_error ("--soak MINUTES needs --seed N (the first world's seed)");
      return soak ();
    }
  tether_test_server_set_prefix ("/tether/reliability/converge");
  tether_test_server_init (&argc, &argv);
  if (opt.seed_given)
    add_world (opt.seed);
  for (guint i = 0; !opt.seed_given && i < G_N_ELEMENTS (ci_seeds); i++)
    add_world (ci_seeds[i]);
  return tether_test_server_run ();
}
