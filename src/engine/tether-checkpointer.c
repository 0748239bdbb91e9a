/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-database"
#include "config.h"


#include "tether-private.h"

/* Checkpoints off the main thread. SQLite's automatic checkpoint runs
 * inside the COMMIT that takes the write-ahead log past 1,000 pages, on the
 * thread that commits: here the GTK main loop, which then copies up to 4 MB
 * back into the database while a frame waits (8% of a 9,500-record pull).
 * A thread with a connection of its own runs them instead, woken by the
 * main connection's WAL hook at the same mark. PASSIVE checkpoints never
 * wait for a reader or a writer; one that cannot finish (another process
 * reads an old snapshot) runs again at the next commit past the mark, as
 * SQLite's own would. The log is folded in at close as before. */

#define CHECKPOINT_PAGES 1000   /* SQLite's default mark */
#define LIMIT_PAGES      4000

struct _TetherCheckpointer
{
  sqlite3  *main;       /* the database's connection, not ours */
  sqlite3  *own;        /* used by the thread alone once it runs */
  GThread  *thread;
  GMutex    lock;
  GCond     wake;
  gboolean  wanted;     /* a commit passed the mark since the last run */
  gboolean  stopping;
  guint     runs;
};

static gpointer
run (gpointer data)
{
  TetherCheckpointer *self = data;

  g_mutex_lock (&self->lock);
  while (!self->stopping)
    {
      int rc;

      if (!self->wanted)
        {
          g_cond_wait (&self->wake, &self->lock);
          continue;
        }
      self->wanted = FALSE;
      g_mutex_unlock (&self->lock);
      rc = sqlite3_wal_checkpoint_v2 (self->own, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      /* BUSY: another connection is checkpointing; it does the work. */
      if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        g_debug ("background checkpoint: %s", sqlite3_errmsg (self->own));
      g_mutex_lock (&self->lock);
      self->runs++;
    }
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Called by SQLite on the main connection after each commit. */
static int
on_wal (void       *data,
        sqlite3    *db,
        const char *schema,
        int         pages)
{
  TetherCheckpointer *self = data;

  if (pages < CHECKPOINT_PAGES)
    return SQLITE_OK;
  /* A steady stream of commits (a bulk import, a first pull) keeps adding
   * frames while the thread copies, so the log is never all copied when a
   * transaction begins, which is when SQLite starts it over; it would grow
   * without end. Past this mark this connection finishes the copy itself,
   * as SQLite would have at CHECKPOINT_PAGES: most frames are copied
   * already. BUSY (the thread is at it): the next commit tries again. */
  if (pages >= LIMIT_PAGES)
    {
      sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      return SQLITE_OK;
    }
  g_mutex_lock (&self->lock);
  self->wanted = TRUE;
  g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);
  return SQLITE_OK;
}

static gboolean
in_wal_mode (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;
  gboolean wal = FALSE;

  if (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") == 0;
  sqlite3_finalize (stmt);
  return wal;
}

TetherCheckpointer *
_tether_checkpointer_new (sqlite3 *main)
{
  const char *path = sqlite3_db_filename (main, "main");
  g_autoptr(GError) error = NULL;
  TetherCheckpointer *self;

  /* Without a file or a log there is nothing to fold in; when the second
   * connection cannot be had, SQLite's own checkpoints stay. */
  if (path == NULL || path[0] == '\0' || !in_wal_mode (main) ||
      sqlite3_threadsafe () == 0)   /* an SQLite built without threads */
    return NULL;
  self = g_new0 (TetherCheckpointer, 1);
  self->main = main;
  /* Asking for the mode reads the file: a connection that has not would
   * not know of the log, and its checkpoints would do nothing. */
  if (sqlite3_open_v2 (path, &self->own, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      !in_wal_mode (self->own))
    {
      g_debug ("no background checkpoints for %s: %s", path, sqlite3_errmsg (self->own));
      sqlite3_close (self->own);
      g_free (self);
      return NULL;
    }
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  self->thread = g_thread_try_new ("tether-checkpoint", run, self, &error);
  if (self->thread == NULL)
    {
      g_debug ("no background checkpoints for %s: %s", path, error->message);
      _tether_checkpointer_free (self);
      return NULL;
    }
  /* Replaces SQLite's automatic checkpoints (they are a WAL hook too). */
  sqlite3_wal_hook (main, on_wal, self);
  return self;
}

guint
_tether_checkpointer_get_runs (TetherCheckpointer *self)
{
  guint runs;

  if (self == NULL)
    return 0;
  g_mutex_lock (&self->lock);
  runs = self->runs;
  g_mutex_unlock (&self->lock);
  return runs;
}

/* Waits for a checkpoint under way; the main connection goes back to
 * SQLite's automatic ones. */
void
_tether_checkpointer_free (TetherCheckpointer *self)
{
  if (self == NULL)
    return;
  if (self->thread != NULL)
    {
      sqlite3_wal_autocheckpoint (self->main, CHECKPOINT_PAGES);
      g_mutex_lock (&self->lock);
      self->stopping = TRUE;
      g_cond_signal (&self->wake);
      g_mutex_unlock (&self->lock);
      g_thread_join (self->thread);
    }
  sqlite3_close (self->own);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_free (self);
}
