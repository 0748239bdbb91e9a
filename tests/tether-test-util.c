/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test"
#include "config.h"

#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "tether-test-util.h"

char *
tether_test_dir_new (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("tether-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children = NULL;
  GFileInfo *info;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  while (children != NULL &&
         (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
    {
      g_autoptr(GFile) child = g_file_get_child (file, g_file_info_get_name (info));

      if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        remove_tree (child);
      else
        g_file_delete (child, NULL, NULL);
      g_object_unref (info);
    }
  g_file_delete (file, NULL, NULL);
}

void
tether_test_dir_free (char *path)
{
  g_autoptr(GFile) dir = NULL;

  if (path == NULL)
    return;
  dir = g_file_new_for_path (path);
  remove_tree (dir);
  g_free (path);
}

JsonNode *
tether_test_node (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

JsonObject *
tether_test_object (const char *json)
{
  g_autoptr(JsonNode) node = tether_test_node (json);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

TetherSchema *
tether_test_schema (const char *json)
{
  g_autoptr(GError) error = NULL;
  TetherSchema *schema = tether_schema_new_from_json (json, -1, &error);

  g_assert_no_error (error);
  return schema;
}

TetherDatabase *
tether_test_open (const char   *path,
                  TetherSchema *schema)
{
  g_autoptr(GError) error = NULL;
  TetherDatabase *db = tether_database_open (path ? path : ":memory:", schema, &error);

  g_assert_no_error (error);
  return db;
}

TetherRecord *
tether_test_create (TetherCollection *collection,
                    const char       *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = tether_test_object (json);
  TetherRecord *record = tether_collection_create (collection, object, &error);

  g_assert_no_error (error);
  return record;
}

void
tether_test_create_all (TetherCollection   *collection,
                        const char * const *json)
{
  for (guint i = 0; json[i] != NULL; i++)
    g_object_unref (tether_test_create (collection, json[i]));
}

/* The WAL write lock is byte 120 of the -shm file (SQLite's WAL format);
 * F_GETLK reports a lock held by another process, never our own. */
gboolean
tether_test_sqlite_write_locked (const char *shm)
{
  struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 120, .l_len = 1 };
  int fd = open (shm, O_RDONLY | O_CLOEXEC);
  int rc;

  if (fd < 0)
    return FALSE;   /* no WAL index yet */
  rc = fcntl (fd, F_GETLK, &lock);
  close (fd);
  g_assert_cmpint (rc, ==, 0);
  return lock.l_type != F_UNLCK;
}
