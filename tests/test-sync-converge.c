/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-converge"
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-test-sync.h"

/* Three clients write at random over misbehaving links (dropped requests,
 * lost answers, duplicates, delays, offline spells) while the server is
 * killed and restarted; then everyone syncs until quiet. They must end
 * with the server's data, and no write may vanish without a trace: each is
 * in the final state, knowingly overwritten by a later write, or kept as a
 * loser in some conflict log. Seeded: `--seed N --rounds N` (or
 * TETHER_SEED) replays a run. */

#define N_CLIENTS       3
#define DEFAULT_SEED    20261122
#define DEFAULT_ROUNDS  150
#define N_SHARED        6
#define MAX_QUIET_PASSES 15
#define TEXT_LINES      N_CLIENTS   /* client i owns line i of every text field */

static guint32 seed = DEFAULT_SEED;
static guint   rounds = DEFAULT_ROUNDS;

typedef struct {
  char *key;      /* "collection/id" */
  char *field;    /* "title" or "text#<line>" */
  char *token;    /* unique value written */
} Write;

typedef struct {
  Fixture    *f;
  Server     *s;
  Client     *clients[N_CLIENTS];
  GRand      *rand;
  guint       counter;
  guint       offline_until[N_CLIENTS];
  GPtrArray  *writes;       /* Write */
  GHashTable *superseded;   /* "key|field|token": seen and overwritten by a writer */
  GHashTable *created;      /* key → creator name */
  GHashTable *deleted;      /* key: some client deleted it */
  guint       syncs_ok;
  guint       syncs_failed;
} World;

/* ------------------------------------------------------------ failures */

static char seed_line[160];

static void
print_seed (int signum)
{
  ssize_t ignored = write (STDERR_FILENO, seed_line, strlen (seed_line));

  (void) ignored;
  signal (signum, SIG_DFL);
  raise (signum);
}

static void G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN
fail (const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_error ("seed %u, rounds %u: %s", seed, rounds, message);
}

/* ----------------------------------------------------------------- model */

static void
write_free (gpointer data)
{
  Write *w = data;

  g_free (w->key);
  g_free (w->field);
  g_free (w->token);
  g_free (w);
}

static const char *
text_field (const char *collection)
{
  return g_str_equal (collection, "notes") ? "body" : "notes";
}

static char *
record_key (const char *collection,
            const char *id)
{
  return g_strdup_printf ("%s/%s", collection, id);
}

static char *
mark_key (const char *key,
          const char *field,
          const char *token)
{
  return g_strdup_printf ("%s|%s|%s", key, field, token);
}

/* Line @line of a text field laid out as "L0\n~\nL1\n~\nL2\n": the
 * separators keep the clients' lines apart, so line merges stay clean. */
static char *
text_line (const char *text,
           guint       line)
{
  g_auto(GStrv) lines = g_strsplit (text ? text : "", "\n", -1);

  if (g_strv_length (lines) <= 2 * line)
    return NULL;
  return g_strdup (lines[2 * line]);
}

static char *
text_with_line (const char *text,
                guint       line,
                const char *token)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < TEXT_LINES; i++)
    {
      g_autofree char *old = text_line (text, i);

      g_string_append_printf (out, "%s%s\n", i ? "~\n" : "",
                              i == line ? token : old ? old : "-");
    }
  return g_string_free (out, FALSE);
}

static char *
field_value (JsonObject *record,
             const char *collection,
             const char *field)
{
  if (record == NULL)
    return NULL;
  if (g_str_has_prefix (field, "text#"))
    return text_line (object_string (record, text_field (collection)), atoi (field + 5));
  return g_strdup (object_string (record, field));
}

static char *
next_token (World *w,
            guint  client)
{
  return g_strdup_printf ("c%uw%u", client, ++w->counter);
}

/* ---------------------------------------------------------------- writes */

static Client *
pick_record (World       *w,
             Client      *c,
             char       **collection,
             char       **id)
{
  const char *name = g_rand_boolean (w->rand) ? "notes" : "tasks";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = tether_collection_get_all (g_str_equal (name, "notes") ? c->notes : c->tasks,
                                                        &error);
  TetherRecord *record;

  g_assert_no_error (error);
  if (all->len == 0)
    return NULL;
  record = all->pdata[g_rand_int_range (w->rand, 0, all->len)];
  *collection = g_strdup (name);
  *id = g_strdup (tether_record_get_id (record));
  return c;
}

static void
note_write (World      *w,
            Client     *c,
            const char *collection,
            const char *id,
            const char *field,
            const char *token)
{
  g_autoptr(JsonObject) before = client_get (c, collection, id);
  g_autofree char *seen = field_value (before, collection, field);
  Write *entry = g_new0 (Write, 1);

  entry->key = record_key (collection, id);
  entry->field = g_strdup (field);
  entry->token = g_strdup (token);
  if (seen != NULL && seen[0] == 'c')
    g_hash_table_add (w->superseded, mark_key (entry->key, field, seen));
  g_ptr_array_add (w->writes, entry);
}

/* A delete knowingly drops every value its writer sees; if an edit brings
 * the record back, those values need not come back with it. */
static void
supersede_all (World      *w,
               Client     *c,
               const char *collection,
               const char *id)
{
  g_autoptr(JsonObject) record = client_get (c, collection, id);
  g_autofree char *key = record_key (collection, id);

  for (guint i = 0; i <= TEXT_LINES; i++)
    {
      g_autofree char *field = i < TEXT_LINES ? g_strdup_printf ("text#%u", i) : g_strdup ("title");
      g_autofree char *seen = field_value (record, collection, field);

      if (seen != NULL && seen[0] == 'c')
        g_hash_table_add (w->superseded, mark_key (key, field, seen));
    }
}

static void
op_create (World *w,
           guint  i)
{
  Client *c = w->clients[i];
  const char *collection = g_rand_boolean (w->rand) ? "notes" : "tasks";
  g_autofree char *title = next_token (w, i);
  g_autofree char *text = text_with_line (NULL, TEXT_LINES, NULL);
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  Write *entry = g_new0 (Write, 1);

  json_object_set_string_member (data, "title", title);
  json_object_set_string_member (data, text_field (collection), text);
  record = tether_collection_create (g_str_equal (collection, "notes") ? c->notes : c->tasks, data, &error);
  g_assert_no_error (error);
  entry->key = record_key (collection, tether_record_get_id (record));
  entry->field = g_strdup ("title");
  entry->token = g_strdup (title);
  g_hash_table_insert (w->created, g_strdup (entry->key), g_strdup (c->name));
  g_ptr_array_add (w->writes, entry);
}

static void
op_title (World *w,
          guint  i)
{
  Client *c = w->clients[i];
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *patch = NULL;

  if (pick_record (w, c, &collection, &id) == NULL)
    return;
  token = next_token (w, i);
  note_write (w, c, collection, id, "title", token);
  patch = g_strdup_printf ("{\"title\":\"%s\"}", token);
  client_update (c, collection, id, patch);
}

static void
op_text (World *w,
         guint  i)
{
  Client *c = w->clients[i];
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *field = g_strdup_printf ("text#%u", i);
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) patch = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autofree char *text = NULL;

  if (pick_record (w, c, &collection, &id) == NULL)
    return;
  token = next_token (w, i);
  note_write (w, c, collection, id, field, token);
  record = client_get (c, collection, id);
  text = text_with_line (object_string (record, text_field (collection)), i, token);
  json_object_set_string_member (patch, text_field (collection), text);
  updated = tether_collection_update (g_str_equal (collection, "notes") ? c->notes : c->tasks, id, patch, &error);
  g_assert_no_error (error);
}

/* Noise that merges field by field: not tracked (values repeat). */
static void
op_flag (World *w,
         guint  i)
{
  Client *c = w->clients[i];
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *patch = NULL;

  if (pick_record (w, c, &collection, &id) == NULL)
    return;
  if (g_str_equal (collection, "notes"))
    patch = g_strdup_printf ("{\"pinned\":%s}", g_rand_boolean (w->rand) ? "true" : "false");
  else
    patch = g_strdup_printf ("{\"priority\":%d}", g_rand_int_range (w->rand, 0, 4));
  client_update (c, collection, id, patch);
}

static void
op_delete (World *w,
           guint  i)
{
  Client *c = w->clients[i];
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;

  if (tether_collection_count (c->notes, NULL, NULL) + tether_collection_count (c->tasks, NULL, NULL) <= 4 ||
      pick_record (w, c, &collection, &id) == NULL)
    return;
  supersede_all (w, c, collection, id);
  client_delete (c, collection, id);
  g_hash_table_add (w->deleted, record_key (collection, id));
}

static void
random_op (World *w,
           guint  i)
{
  guint dice = g_rand_int_range (w->rand, 0, 100);

  if (dice < 15)
    op_create (w, i);
  else if (dice < 57)
    op_title (w, i);
  else if (dice < 85)
    op_text (w, i);
  else if (dice < 95)
    op_flag (w, i);
  else
    op_delete (w, i);
}

/* ------------------------------------------------------------------ sync */

static gboolean
expected_failure (const GError *error)
{
  return g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK) ||
         g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SERVER);
}

static void
try_sync (World *w,
          guint  i)
{
  g_autoptr(GError) error = NULL;

  if (client_try_sync (w->clients[i], NULL, &error))
    w->syncs_ok++;
  else if (expected_failure (error))
    w->syncs_failed++;
  else
    fail ("client %s: unexpected sync error: %s", w->clients[i]->name, error->message);
}

static void
faults_on (World *w)
{
  /* different periods per client, so faults hit different requests */
  static const guint faults[N_CLIENTS][4] = {
    { 7, 11, 13, 3 },
    { 9, 5, 0, 5 },
    { 0, 7, 4, 2 },
  };

  for (guint i = 0; i < N_CLIENTS; i++)
    client_set_faults (w->clients[i], faults[i][0], faults[i][1], faults[i][2], faults[i][3]);
}

static void
offline_spells (World *w,
                guint  round)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      if (round >= w->offline_until[i] && g_rand_int_range (w->rand, 0, 10) == 0)
        w->offline_until[i] = round + g_rand_int_range (w->rand, 1, 5);
      client_set_offline (w->clients[i], round < w->offline_until[i]);
    }
}

static void
play_round (World *w,
            guint  round)
{
  offline_spells (w, round);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      guint ops = g_rand_int_range (w->rand, 1, 4);

      for (guint op = 0; op < ops; op++)
        random_op (w, i);
      if (g_rand_int_range (w->rand, 0, 4) != 0)
        try_sync (w, i);
    }
}

/* Everyone online, no faults, until a whole pass changes nothing. */
static void
sync_until_quiet (World *w)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      client_set_faults (w->clients[i], 0, 0, 0, 0);
      client_set_offline (w->clients[i], FALSE);
    }
  for (guint pass = 0; pass < MAX_QUIET_PASSES; pass++)
    {
      gboolean quiet = TRUE;

      for (guint i = 0; i < N_CLIENTS; i++)
        {
          g_autoptr(GError) error = NULL;
          TetherSyncReport report = { 0, };

          if (!client_try_sync (w->clients[i], &report, &error))
            fail ("client %s: sync failed with a healthy link: %s", w->clients[i]->name, error->message);
          quiet &= report.pushed == 0 && report.applied == 0 && report.merged == 0 && report.conflicts == 0;
        }
      if (quiet)
        {
          g_test_message ("quiet after %u passes", pass + 1);
          return;
        }
    }
  fail ("still not quiet after %d passes of syncs", MAX_QUIET_PASSES);
}

/* ---------------------------------------------------------------- checks */

static GHashTable *
all_conflicts (World *w)
{
  GHashTable *by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(GPtrArray) conflicts = client_conflicts (w->clients[i], FALSE);

      for (guint c = 0; c < conflicts->len; c++)
        {
          TetherConflict *conflict = conflicts->pdata[c];
          char *key = record_key (tether_conflict_get_collection (conflict),
                                  tether_conflict_get_record_id (conflict));
          GPtrArray *list = g_hash_table_lookup (by_key, key);

          if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
            fail ("client %s has an open conflict on %s under the merge strategy", w->clients[i]->name, key);
          if (list == NULL)
            {
              list = g_ptr_array_new_with_free_func (g_object_unref);
              g_hash_table_insert (by_key, g_strdup (key), list);
            }
          g_ptr_array_add (list, g_object_ref (conflict));
          g_free (key);
        }
    }
  return by_key;
}

static gboolean
kept_in_conflicts (GPtrArray  *conflicts,
                   const char *collection,
                   const char *field,
                   const char *token)
{
  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    {
      TetherConflict *conflict = conflicts->pdata[i];
      JsonObject *sides[] = { tether_conflict_get_local (conflict), tether_conflict_get_remote (conflict),
                              tether_conflict_get_loser (conflict) };

      for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
        {
          g_autofree char *value = field_value (sides[s], collection, field);

          if (g_strcmp0 (value, token) == 0)
            return TRUE;
        }
    }
  return FALSE;
}

static gboolean
delete_lost (GPtrArray *conflicts)
{
  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    if (tether_conflict_get_local_deleted (conflicts->pdata[i]) ||
        tether_conflict_get_remote_deleted (conflicts->pdata[i]))
      return TRUE;
  return FALSE;
}

static JsonObject *
final_record (World      *w,
              const char *key)
{
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);

  return client_get (w->clients[0], parts[0], parts[1]);
}

/* Each record created is alive, or deleted by someone; alive despite a
 * delete only when a conflict log shows the edit that beat it. */
static void
check_records (World      *w,
               GHashTable *conflicts)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, w->created);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(JsonObject) record = final_record (w, key);
      gboolean deleted = g_hash_table_contains (w->deleted, key);

      if (record == NULL && !deleted)
        fail ("%s vanished: nobody deleted it", (char *) key);
      if (record != NULL && deleted && !delete_lost (g_hash_table_lookup (conflicts, key)))
        fail ("%s was deleted, yet lives on without a conflict recording the delete's loss", (char *) key);
    }
}

static void
check_writes (World      *w,
              GHashTable *conflicts)
{
  guint present = 0, overwritten = 0, lost_logged = 0, gone = 0;

  for (guint i = 0; i < w->writes->len; i++)
    {
      Write *entry = w->writes->pdata[i];
      g_autoptr(JsonObject) record = final_record (w, entry->key);
      g_auto(GStrv) parts = g_strsplit (entry->key, "/", 2);
      g_autofree char *value = field_value (record, parts[0], entry->field);
      g_autofree char *mark = mark_key (entry->key, entry->field, entry->token);

      if (record == NULL)
        gone++;
      else if (g_strcmp0 (value, entry->token) == 0)
        present++;
      else if (g_hash_table_contains (w->superseded, mark))
        overwritten++;
      else if (kept_in_conflicts (g_hash_table_lookup (conflicts, entry->key), parts[0], entry->field, entry->token))
        lost_logged++;
      else
        fail ("the write %s = %s on %s is neither in the final state (%s), nor overwritten by a "
              "later write, nor in any conflict log", entry->field, entry->token, entry->key,
              value ? value : "absent");
    }
  g_test_message ("%u writes: %u present, %u overwritten, %u kept in a conflict log, %u on deleted records",
                  w->writes->len, present, overwritten, lost_logged, gone);
}

static void
check_world (World *w)
{
  g_autoptr(GHashTable) conflicts = all_conflicts (w);
  g_autofree char *server = server_dump (w->f, w->s, w->f->alice, NULL);

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *client = client_dump (w->clients[i]);

      if (tether_sync_engine_get_failed_count (w->clients[i]->engine) != 0)
        fail ("client %s has %u failed changes", w->clients[i]->name,
              tether_sync_engine_get_failed_count (w->clients[i]->engine));
      if (!g_str_equal (client, server))
        {
          g_test_message ("client %s:\n%s\nserver:\n%s", w->clients[i]->name, client, server);
          fail ("client %s does not hold the server's data", w->clients[i]->name);
        }
    }
  check_records (w, conflicts);
  check_writes (w, conflicts);
}

/* ------------------------------------------------------------------ test */

static void
world_setup (World                  *w,
             Fixture                *f,
             TetherConflictStrategy  strategy)
{
  w->f = f;
  w->s = server_start (f, NULL);
  server_pin_port (w->s);
  w->rand = g_rand_new_with_seed (seed);
  w->writes = g_ptr_array_new_with_free_func (write_free);
  w->superseded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w->created = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  w->deleted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", i);

      w->clients[i] = client_new_full (f, w->s, name, f->alice, CLIENT_FAULTY, seed + i);
      tether_sync_engine_set_strategy (w->clients[i]->engine, strategy);
    }
  /* records everyone shares from the start */
  for (guint r = 0; r < N_SHARED; r++)
    op_create (w, 0);
  for (guint i = 0; i < N_CLIENTS; i++)
    client_sync (w->clients[i]);
}

static void
world_clear (World *w)
{
  g_rand_free (w->rand);
  g_ptr_array_unref (w->writes);
  g_hash_table_unref (w->superseded);
  g_hash_table_unref (w->created);
  g_hash_table_unref (w->deleted);
}

static void
random_writes (Fixture                *f,
               TetherConflictStrategy  strategy)
{
  World w = { 0, };
  guint kill_at = rounds / 3, restart_at = 2 * rounds / 3;

  g_test_message ("seed %u, rounds %u (replay with --seed %u --rounds %u)", seed, rounds, seed, rounds);
  world_setup (&w, f, strategy);
  faults_on (&w);
  for (guint round = 0; round < rounds; round++)
    {
      if (round == kill_at)
        server_kill (w.s);
      if (round == kill_at + 2)
        server_revive (f, w.s);
      if (round == restart_at)
        server_restart (f, w.s);
      play_round (&w, round);
    }
  g_test_message ("%u syncs went through, %u failed on purpose", w.syncs_ok, w.syncs_failed);
  for (guint i = 0; i < N_CLIENTS; i++)
    g_test_message ("client %s: dropped %u, lost %u, duplicated %u", w.clients[i]->name,
                    tether_faulty_transport_get_dropped (w.clients[i]->faulty),
                    tether_faulty_transport_get_lost (w.clients[i]->faulty),
                    tether_faulty_transport_get_duplicated (w.clients[i]->faulty));
  sync_until_quiet (&w);
  check_world (&w);
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
  parse_options (&argc, &argv);
  g_snprintf (seed_line, sizeof seed_line,
              "test-sync-converge: failed with seed %u; replay: test-sync-converge --seed %u --rounds %u\n",
              seed, seed, rounds);
  signal (SIGABRT, print_seed);
  signal (SIGTRAP, print_seed);
  tether_test_server_set_prefix ("/tether/sync/converge");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add ("random-writes", test_random_writes, FALSE);
  tether_test_server_add ("random-writes-lww", test_random_writes_lww, FALSE);
  return tether_test_server_run ();
}
