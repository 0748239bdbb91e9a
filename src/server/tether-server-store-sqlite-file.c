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

/* Whether @table's definition holds @word (upper case); -1 when that
 * cannot be read. */
static int
table_sql_has (sqlite3    *db,
               const char *table,
               const char *word)
{
  sqlite3_stmt *s = NULL;
  int found = -1;

  if (sqlite3_prepare_v2 (db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
                          -1, &s, NULL) == SQLITE_OK &&
      sqlite3_bind_text (s, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step (s) == SQLITE_ROW)
    {
      g_autofree char *sql = g_ascii_strup ((const char *) sqlite3_column_text (s, 0), -1);

      found = strstr (sql, word) != NULL;
    }
  sqlite3_finalize (s);
  return found;
}

/* Runs @upgrade_sql, which rebuilds @table, when an older server made the
 * table with @word in its definition (@word_is_old) or without it. All in
 * one transaction: a crash leaves the old table whole, and another process
 * opening the file at the same time finds the check made again under the
 * write lock. */
gboolean
_tether_sqlite_upgrade_table (sqlite3     *db,
                              const char  *path,
                              const char  *table,
                              const char  *word,
                              gboolean     word_is_old,
                              const char  *upgrade_sql,
                              GError     **error)
{
  int found = table_sql_has (db, table, word);
  int rc;

  if (found == !word_is_old)
    return TRUE;
  rc = sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc == SQLITE_OK && (found = table_sql_has (db, table, word)) == word_is_old)
    rc = sqlite3_exec (db, upgrade_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK && found >= 0)
    rc = sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
  if (rc == SQLITE_OK && found >= 0)
    return TRUE;
  g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
               "Cannot upgrade the %s table of “%s”: %s", table, path,
               rc != SQLITE_OK ? sqlite3_errmsg (db) : "its definition cannot be read");
  if (sqlite3_get_autocommit (db) == 0)
    sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
  return FALSE;
}

/* A records table made WITHOUT ROWID (by an older server) held whole rows
 * in its key's b-tree: record ids that do not grow with time (UUIDv4, a
 * seed client's) made each push rewrite pages all over it, and pushes got
 * slower as the table grew. Rows are copied in feed order. */
gboolean
_tether_sqlite_upgrade_records (sqlite3     *db,
                                const char  *path,
                                GError     **error)
{
  static const char upgrade_sql[] =
    "CREATE TABLE records_upgrade " TETHER_SQLITE_RECORDS_COLUMNS ";"
    "INSERT INTO records_upgrade (" TETHER_SQLITE_RECORDS_COLUMN_NAMES ")"
    " SELECT " TETHER_SQLITE_RECORDS_COLUMN_NAMES " FROM records ORDER BY user_id, rev;"
    "DROP TABLE records;"
    "ALTER TABLE records_upgrade RENAME TO records;"
    TETHER_SQLITE_RECORDS_INDEXES;

  return _tether_sqlite_upgrade_table (db, path, "records", "WITHOUT ROWID", TRUE, upgrade_sql, error);
}
