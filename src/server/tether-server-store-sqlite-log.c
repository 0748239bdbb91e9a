/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-sqlite"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tether-server-store-sqlite-private.h"

/* The write-ahead log written out to its working size before serving.
 *
 * A log that grows with each commit makes each commit's fdatasync also
 * write the file's new size and extents: on ext4, a third of a 1,000-change
 * push's commit. Overwriting written blocks does not, which is why
 * PostgreSQL preallocates its WAL segments (fallocate would not do: its
 * unwritten extents cost the same). SQLite never truncates the log
 * (journal_size_limit is -1) and starts over at its beginning after each
 * checkpoint, so a server past its first checkpoint is in this state
 * anyway; this puts a fresh one there.
 *
 * Zeros are appended past the file's end only, under the write lock: no
 * frame lies past the end, no other connection can append one meanwhile,
 * and SQLite reads no further than its last valid frame. The file stays
 * SQLite's own (its name, its mode), and nothing is made when there is no
 * log file (an in-memory database). */

static gint64
pragma_int (sqlite3    *db,
            const char *sql)
{
  sqlite3_stmt *s = NULL;
  gint64 value = -1;

  if (sqlite3_prepare_v2 (db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step (s) == SQLITE_ROW)
    value = sqlite3_column_int64 (s, 0);
  sqlite3_finalize (s);
  return value;
}

static gboolean
is_wal (sqlite3 *db)
{
  sqlite3_stmt *s = NULL;
  gboolean wal = FALSE;

  if (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step (s) == SQLITE_ROW)
    wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (s, 0), "wal") == 0;
  sqlite3_finalize (s);
  return wal;
}

/* What SQLite lets the log reach before it checkpoints: its header, then
 * wal_autocheckpoint frames of a 24-byte header and a page. */
static gint64
working_size (sqlite3 *db)
{
  gint64 page = pragma_int (db, "PRAGMA page_size");
  gint64 frames = pragma_int (db, "PRAGMA wal_autocheckpoint");

  if (page <= 0 || frames <= 0 || pragma_int (db, "PRAGMA journal_size_limit") >= 0)
    return 0;   /* no checkpoints, or a log SQLite truncates: nothing to gain */
  return 32 + frames * (24 + page);
}

static gboolean
append_zeros (int     fd,
              gint64  from,
              gint64  to)
{
  g_autofree char *zeros = g_malloc0 (1 << 20);

  while (from < to)
    {
      gssize n = pwrite (fd, zeros, MIN ((gint64) 1 << 20, to - from), from);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      from += n;
    }
  return fdatasync (fd) == 0;
}

/* Best effort: a log it could not write out only costs speed. */
static void
extend_log (const char *wal,
            gint64      size)
{
  struct stat st;
  int fd = open (wal, O_WRONLY | O_CLOEXEC);

  if (fd < 0)
    return;   /* no log file: nothing to do */
  if (fstat (fd, &st) == 0 && st.st_size < size && !append_zeros (fd, st.st_size, size))
    {
      g_debug ("could not write out %s: %s", wal, g_strerror (errno));
      if (ftruncate (fd, st.st_size) != 0)
        g_debug ("could not give back the space of %s: %s", wal, g_strerror (errno));
    }
  close (fd);
}

gboolean
_tether_sqlite_prepare_log (TetherServerStore  *store,
                            GError            **error)
{
  TetherServerStoreSqlite *self = (TetherServerStoreSqlite *) store;
  const char *path = sqlite3_db_filename (self->db, "main");
  const char *wal = path != NULL && path[0] != '\0' ? sqlite3_filename_wal (path) : NULL;
  gint64 size = working_size (self->db);

  if (wal == NULL || size == 0 || !is_wal (self->db))
    return TRUE;
  if (!_tether_sqlite_begin (store, error))
    return FALSE;
  extend_log (wal, size);
  if (!_tether_sqlite_commit (store, error))
    {
      _tether_sqlite_rollback (store);
      return FALSE;
    }
  return TRUE;
}
