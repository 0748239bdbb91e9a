/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-reliability-crash"
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "tether-test-crash.h"

/* The writer process of the client-write test: what it does in the file
 * (the child) and how the test starts it and knows it is writing. */

#define WRITER_MAX_WRITES 100000   /* the writer stops by itself */
#define WRITER_STOP_TIMEOUT_MS 60000

char *
crash_key_new (const char *collection,
               const char *id)
{
  return g_strdup_printf ("%s/%s", collection, id);
}

/* Every record of the file, keyed "collection/id", canonical data. */
GHashTable *
crash_file_records (TetherDatabase *db)
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
        g_hash_table_insert (records, crash_key_new (collections[i], tether_record_get_id (all->pdata[r])),
                             canonical_object (tether_record_get_data (all->pdata[r])));
    }
  return records;
}

/* ========================================================== the child */

/* The child: random writes on the file, one "W op collection id mark" line
 * before each and one "A data" line after it returned (acknowledged). */

typedef struct {
  TetherDatabase *db;
  GPtrArray      *keys;   /* "collection/id" of the records in the file */
  GRand          *rand;
  gboolean        stopping;  /* the write under way is the one to stop in */
  CrashStop       stop_in;
} Writer;

/* Stops this process where the test wants its kill to land; the test
 * waits until it is stopped, then kills it. */
static void
writer_stop_here (Writer    *w,
                  CrashStop  where)
{
  if (w->stopping && w->stop_in == where)
    raise (SIGSTOP);
}

/* A write hook after the change tracker's: it runs inside the write's own
 * transaction, once the record and its change log entry are written. */
#define WRITER_TYPE_STOP (writer_stop_get_type ())
G_DECLARE_FINAL_TYPE (WriterStop, writer_stop, WRITER, STOP, GObject)

struct _WriterStop
{
  GObject  parent_instance;
  Writer  *writer;
};

static void writer_stop_hook_init (TetherWriteHookInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WriterStop, writer_stop, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_WRITE_HOOK, writer_stop_hook_init))

static gboolean
stop_after_create (TetherWriteHook   *hook,
                   TetherCollection  *collection,
                   TetherRecord      *record,
                   GError           **error)
{
  writer_stop_here (WRITER_STOP (hook)->writer, CRASH_STOP_IN_TRANSACTION);
  return TRUE;
}

static gboolean
stop_after_update (TetherWriteHook   *hook,
                   TetherCollection  *collection,
                   TetherRecord      *old_record,
                   TetherRecord      *new_record,
                   GError           **error)
{
  writer_stop_here (WRITER_STOP (hook)->writer, CRASH_STOP_IN_TRANSACTION);
  return TRUE;
}

static gboolean
stop_after_delete (TetherWriteHook   *hook,
                   TetherCollection  *collection,
                   TetherRecord      *old_record,
                   GError           **error)
{
  writer_stop_here (WRITER_STOP (hook)->writer, CRASH_STOP_IN_TRANSACTION);
  return TRUE;
}

static void
writer_stop_hook_init (TetherWriteHookInterface *iface)
{
  iface->after_create = stop_after_create;
  iface->after_update = stop_after_update;
  iface->after_delete = stop_after_delete;
}

static void
writer_stop_class_init (WriterStopClass *klass)
{
}

static void
writer_stop_init (WriterStop *self)
{
}

/* The database's "changed" comes once the write's transaction committed,
 * before the write call returns. */
static void
on_changed (TetherDatabase   *db,
            const char       *collection,
            TetherChangeType  type,
            const char       *id,
            TetherRecord     *old_record,
            TetherRecord     *new_record,
            gpointer          data)
{
  writer_stop_here (data, CRASH_STOP_COMMITTED);
}

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
             guint    n,
             int      stop_at)
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
  w->stopping = stop_at >= 0 && n == (guint) stop_at;
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

int
crash_writer_main (const char *path,
                   guint32     seed,
                   int         stop_at,
                   CrashStop   stop_in)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(WriterStop) stop = NULL;
  GHashTableIter iter;
  gpointer key;
  Writer w = { NULL, };

  w.db = tether_database_open (path, schema, &error);
  g_assert_no_error (error);
  /* the engine attaches the change tracker, as in the app */
  engine = tether_sync_engine_new (w.db, &error);
  g_assert_no_error (error);
  stop = g_object_new (WRITER_TYPE_STOP, NULL);
  stop->writer = &w;
  w.stop_in = stop_in;
  tether_database_add_hook (w.db, TETHER_WRITE_HOOK (stop));
  g_signal_connect (w.db, "changed", G_CALLBACK (on_changed), &w);
  w.keys = g_ptr_array_new_with_free_func (g_free);
  w.rand = g_rand_new_with_seed (seed);
  records = crash_file_records (w.db);
  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (w.keys, g_strdup (key));
  printf ("ready\n");
  fflush (stdout);
  for (guint n = 0; n < WRITER_MAX_WRITES; n++)
    writer_step (&w, seed, n, stop_at);
  g_rand_free (w.rand);
  g_ptr_array_unref (w.keys);
  tether_database_remove_hook (w.db, TETHER_WRITE_HOOK (stop));
  g_clear_object (&engine);
  tether_database_close (w.db);
  g_object_unref (w.db);
  return 0;
}

/* ====================================================== the test's side */

static void
child_setup (gpointer data)
{
  /* a test that aborts must not leave its writer running */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

GSubprocess *
crash_writer_spawn (const char *path,
                    guint32     seed,
                    const char *out,
                    int         stop_at,
                    CrashStop   stop_in)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *seed_text = g_strdup_printf ("%u", seed);
  g_autofree char *stop_text = g_strdup_printf ("%d", stop_at);
  const char *where = stop_in == CRASH_STOP_IN_TRANSACTION ? "--stop-in-transaction" : "--stop-committed";
  const char *argv[] = { self, "--writer", "--db", path, "--seed", seed_text,
                         stop_at >= 0 ? "--stop-at" : NULL, stop_text, where, NULL };
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_assert_nonnull (self);
  g_subprocess_launcher_set_stdout_file_path (launcher, out);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

void
crash_writer_wait_ready (GSubprocess *process,
                         const char  *out)
{
  for (guint waited = 0; waited < START_TIMEOUT_MS; waited += 2)
    {
      g_autofree char *text = NULL;

      if (g_file_get_contents (out, &text, NULL, NULL) && g_str_has_prefix (text, "ready\n"))
        return;
      if (g_subprocess_get_identifier (process) == NULL)
        g_error ("seed %u: the writer exited before it was ready", crash_seed);
      g_usleep (2 * 1000);
    }
  g_error ("seed %u: the writer was not ready within %d ms", crash_seed, START_TIMEOUT_MS);
}

/* Returns once the writer stopped itself (state T in /proc). */
void
crash_writer_wait_stopped (GSubprocess *process)
{
  for (guint waited = 0; waited < WRITER_STOP_TIMEOUT_MS; waited += 1)
    {
      const char *pid = g_subprocess_get_identifier (process);
      g_autofree char *stat_path = NULL;
      g_autofree char *stat = NULL;
      const char *end;

      if (pid == NULL)
        g_error ("seed %u: the writer exited before it stopped", crash_seed);
      stat_path = g_strdup_printf ("/proc/%s/stat", pid);
      /* "pid (comm) state ...": the state follows the last parenthesis */
      if (g_file_get_contents (stat_path, &stat, NULL, NULL) && (end = strrchr (stat, ')')) != NULL &&
          end[1] == ' ' && end[2] == 'T')
        return;
      g_usleep (1000);
    }
  g_error ("seed %u: the writer did not stop within %d ms", crash_seed, WRITER_STOP_TIMEOUT_MS);
}
