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

int
crash_writer_main (const char *path,
                   guint32     seed)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GHashTable) records = NULL;
  GHashTableIter iter;
  gpointer key;
  Writer w = { NULL, };

  w.db = tether_database_open (path, schema, &error);
  g_assert_no_error (error);
  /* the engine attaches the change tracker, as in the app */
  engine = tether_sync_engine_new (w.db, &error);
  g_assert_no_error (error);
  w.keys = g_ptr_array_new_with_free_func (g_free);
  w.rand = g_rand_new_with_seed (seed);
  records = crash_file_records (w.db);
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
                    const char *out)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *seed_text = g_strdup_printf ("%u", seed);
  const char *argv[] = { self, "--writer", "--db", path, "--seed", seed_text, NULL };
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
