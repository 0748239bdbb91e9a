/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-sqlite"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <glib/gstdio.h>

#include "tether-server-store-sqlite-private.h"

/* The file a SQLite store opens: told apart from files that are not the
 * server's before anything is written to them.
 *
 * The server's file holds every user's notes: a new one is made readable by
 * its owner only (SQLite gives its -wal and -shm files the same mode), as
 * a client's database holding a token is. A file that holds other tables
 * (a client's notes database given by mistake) is refused rather than
 * given the server's tables beside the user's notes. */

static const char * const server_tables[] = { "users", "records", "applied", NULL };

gboolean
_tether_sqlite_prepare_file (const char  *path,
                             GError     **error)
{
  g_autofree char *folder = NULL;
  int fd;

  if (g_str_equal (path, ":memory:") ||
      g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  folder = g_path_get_dirname (path);
  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "Cannot create the database “%s”: the folder %s does not exist; create it first",
                   path, folder);
      return FALSE;
    }
  fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    {
      int saved = errno;

      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "Cannot create the database “%s”: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (fd >= 0)
    g_close (fd, NULL);
  return TRUE;
}

/* Whether @db holds no tables but the server's; otherwise an error naming
 * the others. */
gboolean
_tether_sqlite_check_tables (sqlite3     *db,
                             const char  *path,
                             GError     **error)
{
  g_autoptr(GString) others = g_string_new (NULL);
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT name FROM sqlite_master WHERE type = 'table'"
                                   " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", -1, &s, NULL);

  while (s != NULL && (rc = sqlite3_step (s)) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (s, 0);

      if (name != NULL && !g_strv_contains (server_tables, name) && others->len < 200)
        g_string_append_printf (others, "%s%s", others->len ? ", " : "", name);
    }
  sqlite3_finalize (s);
  if (rc != SQLITE_DONE)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   rc == SQLITE_NOTADB ? "“%s” is not an SQLite database: give tether-server a file of its own"
                                       : "Cannot read the database “%s”: %s",
                   path, sqlite3_errstr (rc));
      return FALSE;
    }
  if (others->len == 0)
    return TRUE;
  g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
               "“%s” is not a tether-server database (it has tables %s; a Tether client's notes file, "
               "perhaps): give tether-server a file of its own", path, others->str);
  return FALSE;
}
