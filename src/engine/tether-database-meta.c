/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-database"
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "tether-private.h"

/* What opening a file checks before and after SQLite sees it, and the
 * database's own metadata table (storage format and schema). */

gboolean
_tether_database_check_file (const char  *path,
            GError     **error)
{
  g_autofree char *dir = NULL;

  if (g_str_equal (path, ":memory:"))
    return TRUE;

  dir = g_path_get_dirname (path);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_IO,
                   "%s: the folder %s does not exist", path, dir);
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS) && access (path, W_OK) != 0)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_READ_ONLY,
                   "%s is read-only: Tether needs to write to it (check its permissions)", path);
      return FALSE;
    }
  if (access (dir, W_OK) != 0)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_READ_ONLY,
                   "%s: the folder %s is read-only, and SQLite must create its journal "
                   "files beside the database", path, dir);
      return FALSE;
    }
  return TRUE;
}

/* The first bytes are read through SQLite's own descriptor, before SQLite
 * reads or writes anything: opening and closing a descriptor of ours would
 * drop the POSIX locks that other connections of this process hold on the
 * file (fcntl locks belong to the process), and a connection without them
 * can be taken for gone, its WAL and shared memory deleted under it. */
gboolean
_tether_database_check_header (TetherDatabase  *self,
                               GError         **error)
{
  sqlite3_file *file = NULL;
  sqlite3_int64 size = 0;
  char header[16] = { 0 };

  if (sqlite3_file_control (_tether_database_get_handle (self), "main",
                            SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == NULL || file->pMethods == NULL ||
      file->pMethods->xFileSize (file, &size) != SQLITE_OK || size == 0)
    return TRUE;   /* a new database, or one in memory */
  /* A short file reads as SQLITE_IOERR_SHORT_READ, zero-filled: not SQLite. */
  file->pMethods->xRead (file, header, sizeof header, 0);
  if (size >= (sqlite3_int64) sizeof header && memcmp (header, "SQLite format 3", 16) == 0)
    return TRUE;
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_TETHER,
               "%s is not a Tether database (it is not an SQLite file)",
               tether_database_get_path (self));
  return FALSE;
}

char *
_tether_database_meta_get (TetherDatabase  *self,
          const char      *key,
          GError         **error)
{
  sqlite3_stmt *stmt;
  char *value = NULL;
  int rc;

  stmt = _tether_database_prepare_cached (self, "SELECT value FROM _tether_meta WHERE key = ?", error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    value = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  else if (rc != SQLITE_DONE)
    _tether_database_set_error (self, rc, error, "reading the database's metadata");
  sqlite3_reset (stmt);
  return value;
}

gboolean
_tether_database_meta_set (TetherDatabase  *self,
          const char      *key,
          const char      *value,
          GError         **error)
{
  sqlite3_stmt *stmt;
  int rc;

  stmt = _tether_database_prepare_cached (self,
    "INSERT INTO _tether_meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, value, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return _tether_database_set_error (self, rc, error, "writing the database's metadata");
  return TRUE;
}

/* Returns 1 when _tether_meta exists, 0 for an empty database, -1 on error
 * (including an SQLite file that holds other tables). */
int
_tether_database_probe (TetherDatabase  *self,
              GError         **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GString) others = g_string_new (NULL);
  gboolean has_meta = FALSE;
  int rc;

  stmt = _tether_database_prepare (self,
    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", error);
  if (stmt == NULL)
    return -1;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (stmt, 0);

      if (g_str_equal (name, "_tether_meta"))
        has_meta = TRUE;
      else if (others->len < 200)
        g_string_append_printf (others, "%s%s", others->len ? ", " : "", name);
    }
  if (rc != SQLITE_DONE)
    {
      _tether_database_set_error (self, rc, error, "reading the table list");
      return -1;
    }
  if (!has_meta && others->len > 0)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_TETHER,
                   "%s is an SQLite database but not a Tether database (it has tables %s)",
                   tether_database_get_path (self), others->str);
      return -1;
    }
  return has_meta ? 1 : 0;
}

static void
set_too_old (TetherDatabase  *self,
             gint64           have,
             gint64           want,
             GError         **error)
{
  g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD,
               "%s was written with schema version %" G_GINT64_FORMAT
               ", newer than this program's version %" G_GINT64_FORMAT
               "; refusing to open it so no data is lost (use a newer Tether)",
               tether_database_get_path (self), have, want);
}

/* The "version" of schema text, whatever else it holds. */
static gboolean
read_version (const char *text,
              gint64     *version)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonNode *node;

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  node = json_object_get_member (json_node_get_object (root), "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *version = json_node_get_int (node);
  return TRUE;
}

/* A stored schema this program cannot parse: written by a newer Tether
 * (with rules this one does not know) when its version is above ours (the
 * caller's schema, or the one we ship when opening with the stored one),
 * else damaged. */
static void
set_unreadable (TetherDatabase  *self,
                const char      *text,
                TetherSchema    *wanted,
                GError          *parse_error,
                GError         **error)
{
  g_autoptr(TetherSchema) builtin = wanted ? NULL : tether_schema_new_default ();
  gint64 want = tether_schema_get_version (wanted ? wanted : builtin);
  gint64 have;

  if (read_version (text, &have) && have > want)
    set_too_old (self, have, want, error);
  else
    g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_CORRUPT,
                 "%s: the stored schema is damaged: %s", tether_database_get_path (self),
                 parse_error->message);
}

TetherSchema *
_tether_database_read_schema (TetherDatabase  *self,
                              TetherSchema    *wanted,
                              GError         **error)
{
  g_autofree char *format = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) local_error = NULL;
  TetherSchema *stored;

  format = _tether_database_meta_get (self, "format", error);
  if (format == NULL || !g_str_equal (format, TETHER_FORMAT))
    {
      if (format != NULL || (error != NULL && *error == NULL))
        g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_TETHER,
                     "%s was written by a newer Tether (storage format %s); "
                     "this version reads format %s", tether_database_get_path (self),
                     format ? format : "unknown", TETHER_FORMAT);
      return NULL;
    }
  text = _tether_database_meta_get (self, "schema", &local_error);
  if (text == NULL)
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_CORRUPT,
                     "%s: no stored schema (the database's metadata is incomplete)",
                     tether_database_get_path (self));
      return NULL;
    }
  stored = _tether_schema_new_stored (text, &local_error);
  if (stored == NULL)
    set_unreadable (self, text, wanted, local_error, error);
  return stored;
}

gboolean
_tether_database_check_versions (TetherDatabase  *self,
                TetherSchema    *stored,
                TetherSchema    *wanted,
                GError         **error)
{
  gint64 have = tether_schema_get_version (stored);
  gint64 want = tether_schema_get_version (wanted);

  if (want < have)
    {
      set_too_old (self, have, want, error);
      return FALSE;
    }
  if (want == have && g_strcmp0 (tether_schema_get_json (stored),
                                 tether_schema_get_json (wanted)) != 0)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_SCHEMA_CHANGED,
                   "%s: the schema differs from the one stored with the same version %"
                   G_GINT64_FORMAT "; raise \"version\" to migrate the database",
                   tether_database_get_path (self), want);
      return FALSE;
    }
  return TRUE;
}

