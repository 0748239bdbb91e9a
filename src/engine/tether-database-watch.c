/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-database"
#include "config.h"

#include "tether-private.h"

/* Commits by other connections to the same file (the app and the CLI side
 * by side). PRAGMA data_version moves only for those, so it is the test; the
 * file monitors and the poll only decide when to run it. A commit appends to
 * the "-wal" file (the main file changes at checkpoints and without WAL), so
 * inotify usually answers at once; inotify may be missing, or its event may
 * arrive before the writer has published the commit in the shared index, so
 * a check every 500 ms runs too, but only while someone listens. */

#define POLL_INTERVAL_MS 500

struct _TetherDatabaseWatch
{
  TetherDatabase *db;         /* the owner; not a reference */
  GMainContext   *context;    /* thread-default at open: where we emit */
  GFileMonitor   *monitors[2]; /* "-wal" and the main file; either may be NULL */
  GSource        *poll;       /* while "external-change" has handlers */
  gint64          version;    /* data_version at the last check */
};

enum {
  SIGNAL_EXTERNAL_CHANGE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
_tether_database_watch_class_init (GObjectClass *klass)
{
  /* (): another connection committed; see tether_database_check_external(). */
  signals[SIGNAL_EXTERNAL_CHANGE] =
    g_signal_new ("external-change", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

/* -1 when it cannot be read (closed, I/O error). */
static gint64
read_version (TetherDatabase *db)
{
  sqlite3_stmt *stmt;
  gint64 version = -1;

  if (_tether_database_get_handle (db) == NULL ||
      (stmt = _tether_database_prepare_cached (db, "PRAGMA data_version", NULL)) == NULL)
    return -1;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  return version;
}

static gboolean
on_poll (gpointer data)
{
  TetherDatabaseWatch *watch = data;

  /* Nobody listens: stop waking up; _tether_database_watch_poll() restarts. */
  if (!g_signal_has_handler_pending (watch->db, signals[SIGNAL_EXTERNAL_CHANGE], 0, TRUE))
    {
      g_clear_pointer (&watch->poll, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  tether_database_check_external (watch->db);
  return G_SOURCE_CONTINUE;
}

void
_tether_database_watch_poll (TetherDatabaseWatch *watch)
{
  if (watch == NULL || watch->poll != NULL)
    return;
  watch->poll = g_timeout_source_new (POLL_INTERVAL_MS);
  g_source_set_static_name (watch->poll, "[tether] external changes");
  g_source_set_callback (watch->poll, on_poll, watch, NULL);
  g_source_attach (watch->poll, watch->context);
}

static void
on_file_changed (GFileMonitor        *monitor,
                 GFile               *file,
                 GFile               *other_file,
                 GFileMonitorEvent    event,
                 TetherDatabaseWatch *watch)
{
  /* A handler connected after the poll stopped still gets its fallback. */
  _tether_database_watch_poll (watch);
  tether_database_check_external (watch->db);
}

static GFileMonitor *
monitor_file (TetherDatabaseWatch *watch,
              const char          *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GError) error = NULL;
  GFileMonitor *monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, &error);

  if (monitor == NULL)
    {
      g_debug ("not watching %s (%s): polling only", path, error->message);
      return NULL;
    }
  /* Coalesced events come at most this late; the default is 800 ms. */
  g_file_monitor_set_rate_limit (monitor, 100);
  g_signal_connect (monitor, "changed", G_CALLBACK (on_file_changed), watch);
  return monitor;
}

TetherDatabaseWatch *
_tether_database_watch_new (TetherDatabase *db)
{
  const char *name = sqlite3_db_filename (_tether_database_get_handle (db), "main");
  TetherDatabaseWatch *watch;

  /* ":memory:" and temporary databases have no file: nobody else can write. */
  if (name == NULL || name[0] == '\0')
    return NULL;
  watch = g_new0 (TetherDatabaseWatch, 1);
  watch->db = db;
  watch->context = g_main_context_ref_thread_default ();
  watch->version = read_version (db);
  watch->monitors[0] = monitor_file (watch, sqlite3_filename_wal (name));
  watch->monitors[1] = monitor_file (watch, name);
  _tether_database_watch_poll (watch);
  return watch;
}

void
_tether_database_watch_free (TetherDatabaseWatch *watch)
{
  if (watch == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (watch->monitors); i++)
    if (watch->monitors[i] != NULL)
      {
        g_signal_handlers_disconnect_by_data (watch->monitors[i], watch);
        g_file_monitor_cancel (watch->monitors[i]);
        g_clear_object (&watch->monitors[i]);
      }
  if (watch->poll != NULL)
    g_source_destroy (watch->poll);
  g_clear_pointer (&watch->poll, g_source_unref);
  g_main_context_unref (watch->context);
  g_free (watch);
}

gboolean
tether_database_check_external (TetherDatabase *self)
{
  TetherDatabaseWatch *watch;
  gint64 version;

  g_return_val_if_fail (TETHER_IS_DATABASE (self), FALSE);

  watch = _tether_database_get_watch (self);
  /* Inside our own transaction a reload would show uncommitted rows; the
   * next event or poll after it ends reports the commit instead. */
  if (watch == NULL || tether_database_get_transaction_depth (self) > 0)
    return FALSE;
  _tether_database_watch_poll (watch);
  version = read_version (self);
  if (version < 0 || version == watch->version)
    return FALSE;
  watch->version = version;
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_EXTERNAL_CHANGE], 0);
  g_object_unref (self);
  return TRUE;
}
