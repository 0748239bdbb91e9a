/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-database"
#include "config.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tether-test-util.h"
#include "tether-private.h"

#define SCHEMA_V1 \
  "{\"version\": 1, \"collections\": {\"notes\": {" \
  "  \"fields\": {\"title\": {\"type\": \"string\", \"required\": true}}," \
  "  \"indexes\": [{\"field\": \"title\"}], \"searchable\": [\"title\"]}}}"

/* v2 adds a field with a default, an index, a searchable field and a collection. */
#define SCHEMA_V2 \
  "{\"version\": 2, \"collections\": {\"notes\": {" \
  "  \"fields\": {\"title\": {\"type\": \"string\", \"required\": true}," \
  "             \"body\": {\"type\": \"string\", \"default\": \"\"}," \
  "             \"pinned\": {\"type\": \"boolean\", \"default\": false}}," \
  "  \"indexes\": [{\"field\": \"title\"}, {\"field\": \"pinned\"}]," \
  "  \"searchable\": [\"title\", \"body\"]}," \
  " \"tags\": {\"fields\": {\"name\": {\"type\": \"string\"}}}}}"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = tether_test_dir_new ();
  f->path = g_build_filename (f->dir, "test.db", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_free (f->path);
  tether_test_dir_free (f->dir);
}

static TetherRecord *
create (TetherDatabase *db, const char *collection, const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = tether_test_object (json);
  TetherCollection *c = tether_database_get_collection (db, collection, &error);
  TetherRecord *record;

  g_assert_no_error (error);
  record = tether_collection_create (c, object, &error);
  g_assert_no_error (error);
  return record;
}

static gint64
count (TetherDatabase *db, const char *collection)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *c = tether_database_get_collection (db, collection, &error);
  gint64 n;

  g_assert_no_error (error);
  n = tether_collection_count (c, NULL, &error);
  g_assert_no_error (error);
  return n;
}

static void
test_open_memory (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"in memory\"}");

  g_assert_cmpuint (_tether_database_get_checkpoints (db), ==, 0);
  /* No schema given: a new database takes the app's default schema. */
  g_assert_true (tether_schema_has_collection (tether_database_get_schema (db), "tasks"));
  g_assert_cmpint (count (db, "notes"), ==, 1);
}

static void
test_reopen_keeps_schema_and_data (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"kept\"}");
  g_autoptr(TetherDatabase) again = NULL;

  g_clear_object (&db);
  /* Opened without a schema, the database uses the one it remembers. */
  again = tether_test_open (f->path, NULL);
  g_assert_cmpint (tether_schema_get_version (tether_database_get_schema (again)), ==, 1);
  g_assert_false (tether_schema_has_collection (tether_database_get_schema (again), "tasks"));
  g_assert_cmpint (count (again, "notes"), ==, 1);
}

static void
test_wal_mode (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"wal\"}");
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);

  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
}

/* A commit that takes the log past 1,000 pages wakes the checkpoint
 * thread; the main connection does not copy pages back in its COMMIT. */
static void
test_background_checkpoint (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) body = g_string_new (NULL);
  TetherCollection *notes = tether_database_get_collection (db, "notes", &error);
  GStatBuf before, after;
  gint64 deadline;

  g_assert_no_error (error);
  for (guint i = 0; i < 200; i++)
    g_string_append_printf (body, "line %u ", i);
  g_assert_cmpint (g_stat (f->path, &before), ==, 0);
  g_assert_true (tether_database_begin (db, &error));
  for (guint i = 0; i < 2500; i++)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autoptr(TetherRecord) r = NULL;

      json_object_set_string_member (object, "title", "checkpointed");
      json_object_set_string_member (object, "body", body->str);
      r = tether_collection_create (notes, object, &error);
      g_assert_no_error (error);
    }
  g_assert_true (tether_database_commit (db, &error));
  g_assert_cmpuint (_tether_database_get_checkpoints (db), <=, 1);
  /* from the commit: the writes alone take seconds under valgrind */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (_tether_database_get_checkpoints (db) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_cmpuint (_tether_database_get_checkpoints (db), ==, 1);
  /* the pages are in the database file now */
  g_assert_cmpint (g_stat (f->path, &after), ==, 0);
  g_assert_cmpint (after.st_size, >, before.st_size + 4 * 1024 * 1024);
  g_assert_cmpint (count (db, "notes"), ==, 2500);
  g_clear_object (&db);
  db = tether_test_open (f->path, NULL);
  g_assert_cmpint (count (db, "notes"), ==, 2500);
}

/* Another process (the CLI) reading the file while the app quits: the
 * checkpoint at close cannot fold the log in, and must not wait the busy
 * timeout for it. The log keeps the data until the next close. */
static void
test_close_beside_reader (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"kept\"}");
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  sqlite3 *reader = NULL;
  sqlite3_stmt *stmt = NULL;
  GStatBuf log;
  gint64 start;

  g_assert_cmpint (sqlite3_open (f->path, &reader), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (reader, "SELECT count(*) FROM t_notes", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);   /* a read transaction on the log */
  start = g_get_monotonic_time ();
  tether_database_close (db);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (g_stat (wal, &log), ==, 0);
  g_assert_cmpint (log.st_size, >, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (reader);
  g_clear_object (&db);
  db = tether_test_open (f->path, NULL);
  g_assert_cmpint (count (db, "notes"), ==, 1);
}

static void
expect_open_error (const char *path, TetherSchema *schema, int code, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = tether_database_open (path, schema, &error);

  g_assert_null (db);
  g_assert_error (error, TETHER_DATABASE_ERROR, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("expected \"%s\" in \"%s\"", fragment, error->message);
}

static void
test_not_sqlite (Fixture *f, gconstpointer data)
{
  g_assert_true (g_file_set_contents (f->path, "hello, I am a text file\n", -1, NULL));
  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_NOT_TETHER, "not an SQLite file");
}

/* A folder given as the database file is named as one, not blamed on the disk. */
static void
test_folder_given (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_IO, "that is a folder");
}

static void
test_foreign_sqlite (Fixture *f, gconstpointer data)
{
  sqlite3 *handle = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  gsize len;

  g_assert_cmpint (sqlite3_open (f->path, &handle), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (handle, "CREATE TABLE customers (name TEXT)", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (handle);
  g_assert_true (g_file_get_contents (f->path, &before, &len, NULL));

  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_NOT_TETHER, "customers");
  /* Refusing must not touch the other program's file. */
  g_assert_true (g_file_get_contents (f->path, &after, NULL, NULL));
  g_assert_cmpmem (before, len, after, len);
}

/* Another program's database in WAL mode, open in that program with pages
 * still in its log: refusing it must change neither file. */
static void
test_foreign_wal_untouched (Fixture *f, gconstpointer data)
{
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *before = NULL, *wal_before = NULL, *after = NULL, *wal_after = NULL;
  gsize len, wal_len, after_len, wal_after_len;
  sqlite3 *handle = NULL;

  g_assert_cmpint (sqlite3_open (f->path, &handle), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (handle,
    "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
    "CREATE TABLE customers (name TEXT);"
    "INSERT INTO customers VALUES ('Ada'), ('Grace');", NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_true (g_file_get_contents (f->path, &before, &len, NULL));
  g_assert_true (g_file_get_contents (wal, &wal_before, &wal_len, NULL));
  g_assert_cmpuint (wal_len, >, 0);

  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_NOT_TETHER, "customers");
  g_assert_true (g_file_get_contents (f->path, &after, &after_len, NULL));
  g_assert_true (g_file_get_contents (wal, &wal_after, &wal_after_len, NULL));
  g_assert_cmpmem (before, len, after, after_len);
  g_assert_cmpmem (wal_before, wal_len, wal_after, wal_after_len);

  /* and after that program is gone, its log left behind (as after a crash) */
  g_assert_cmpint (sqlite3_db_config (handle, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (handle), ==, SQLITE_OK);
  g_clear_pointer (&after, g_free);
  g_clear_pointer (&wal_after, g_free);
  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_NOT_TETHER, "customers");
  g_assert_true (g_file_get_contents (f->path, &after, &after_len, NULL));
  g_assert_true (g_file_get_contents (wal, &wal_after, &wal_after_len, NULL));
  g_assert_cmpmem (before, len, after, after_len);
  g_assert_cmpmem (wal_before, wal_len, wal_after, wal_after_len);
}

static void
test_corrupt (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;
  int i;

  for (i = 0; i < 300; i++)
    g_object_unref (create (db, "notes", "{\"title\": \"a note with some text in it to fill pages\"}"));
  tether_database_close (db);
  g_clear_object (&db);

  /* Scribble over every page but the first (the header stays valid). */
  g_assert_true (g_file_get_contents (f->path, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 8192);
  for (gsize p = 4096; p + 4096 <= len; p += 4096)
    memset (contents + p + 100, 0xA5, 2000);
  g_assert_true (g_file_set_contents (f->path, contents, len, NULL));

  db = tether_database_open (f->path, NULL, &error);
  if (db != NULL)
    {
      TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
      g_autoptr(GPtrArray) all = tether_collection_get_all (notes, &error);
      g_assert_null (all);
    }
  g_assert_nonnull (error);
  g_assert_true (g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_CORRUPT) ||
                 g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_TETHER));
  g_assert_nonnull (strstr (error->message, f->path));
}

/* Root ignores file modes, so the check runs in a child that drops to nobody. */
static void
test_read_only (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  pid_t pid;
  int status;

  g_clear_object (&db);
  g_assert_cmpint (g_chmod (f->path, 0444), ==, 0);
  g_assert_cmpint (g_chmod (f->dir, 0755), ==, 0);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherDatabase) ro = NULL;

      if (geteuid () == 0 && (setgid (65534) != 0 || setuid (65534) != 0))
        _exit (3);
      ro = tether_database_open (f->path, NULL, &error);
      _exit (ro == NULL && g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_READ_ONLY) &&
             strstr (error->message, "read-only") != NULL ? 0 : 1);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_chmod (f->path, 0644);
}

static void
test_missing_folder (void)
{
  expect_open_error ("/nonexistent-tether-folder/x.db", NULL, TETHER_DATABASE_ERROR_IO, "does not exist");
}

/* Schema versions ------------------------------------------------------------- */

static void
test_migrate (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  g_autoptr(TetherSchema) v2 = tether_test_schema (SCHEMA_V2);
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) old = create (db, "notes", "{\"title\": \"written by v1\"}");
  g_autoptr(TetherRecord) migrated = NULL;
  g_autoptr(TetherQuery) query = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *plan = NULL;
  TetherCollection *notes;

  g_clear_object (&db);
  db = tether_test_open (f->path, v2);
  notes = tether_database_get_collection (db, "notes", &error);
  g_assert_no_error (error);

  /* New fields got their defaults, the timestamps stayed. */
  migrated = tether_collection_get (notes, tether_record_get_id (old), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (migrated, "body", NULL), ==, "");
  g_assert_true (tether_record_has_field (migrated, "pinned"));
  g_assert_cmpint (tether_record_get_updated_at (migrated), ==, tether_record_get_updated_at (old));

  /* The new index exists and the new collection is usable. */
  query = tether_query_new (notes);
  {
    g_autoptr(JsonNode) no = tether_test_node ("false");
    tether_query_where (query, "pinned", TETHER_OP_EQ, no);
  }
  plan = tether_query_explain (query, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (plan, "i_notes_pinned"));
  g_assert_cmpint (count (db, "tags"), ==, 0);

  /* The new searchable field was indexed for records written before it. */
  {
    g_autoptr(JsonObject) patch = tether_test_object ("{\"body\": \"zebra crossing\"}");
    g_autoptr(TetherRecord) r = tether_collection_update (notes, tether_record_get_id (old), patch, &error);
    g_autoptr(TetherQuery) search = tether_query_new (notes);

    g_assert_no_error (error);
    tether_query_search (search, "zebra");
    found = tether_query_run (search, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (found->len, ==, 1);
  }
}

static void
test_migrate_reindexes_existing (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}}, \"searchable\": [\"title\"]}}}");
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}}, \"searchable\": [\"title\", \"body\"]}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"t\", \"body\": \"giraffe\"}");
  g_autoptr(TetherQuery) search = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_object (&db);
  db = tether_test_open (f->path, v2);
  search = tether_query_new (tether_database_get_collection (db, "notes", NULL));
  tether_query_search (search, "gira");
  g_assert_cmpint (tether_query_count (search, &error), ==, 1);
  g_assert_no_error (error);
}

/* The old schema's unique index must not judge records rewritten for the
 * new one: v2 fills every missing slug with "" and drops the index. */
static void
test_migrate_drops_index_first (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}, \"slug\": {\"type\": \"string\"}},"
    "  \"indexes\": [{\"field\": \"slug\", \"unique\": true}]}}}");
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}, \"slug\": {\"type\": \"string\", \"default\": \"\"}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);

  for (guint i = 0; i < 3; i++)
    g_object_unref (create (db, "notes", "{\"title\": \"no slug\"}"));
  g_clear_object (&db);
  db = tether_test_open (f->path, v2);
  g_assert_cmpint (count (db, "notes"), ==, 3);
}

/* Replace the stored schema of a closed file, as another version wrote it. */
static void
store_schema (const char *path, const char *json)
{
  sqlite3 *handle = NULL;
  sqlite3_stmt *stmt = NULL;

  g_assert_cmpint (sqlite3_open (path, &handle), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (handle, "UPDATE _tether_meta SET value = ? WHERE key = 'schema'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, json, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_DONE);
  sqlite3_finalize (stmt);
  g_assert_cmpint (sqlite3_close (handle), ==, SQLITE_OK);
}

#define CLASH_FIELDS \
  "\"fields\": {\"a\": {\"type\": \"string\"}, \"b\": {\"type\": \"string\"}, \"a_b\": {\"type\": \"string\"}}"

/* Index names that clash are refused now, but a file written before that
 * (one index silently replaced the other) still opens and migrates. */
static void
test_stored_name_clash_opens (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"c\": {" CLASH_FIELDS ","
    " \"indexes\": [{\"fields\": [\"a\", \"b\"]}]}}}");
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"c\": {" CLASH_FIELDS ","
    " \"indexes\": [{\"field\": \"a_b\", \"unique\": true}]}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "c", "{\"a_b\": \"x\"}");
  g_autoptr(JsonObject) same = tether_test_object ("{\"a_b\": \"x\"}");
  g_autoptr(TetherRecord) refused = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_object (&db);
  store_schema (f->path,
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{\"a\":{\"type\":\"string\"},"
    "\"b\":{\"type\":\"string\"},\"a_b\":{\"type\":\"string\"}},"
    "\"indexes\":[{\"field\":\"a_b\",\"unique\":true},{\"fields\":[\"a\",\"b\"]}]}}}");
  db = tether_test_open (f->path, NULL);
  g_assert_cmpint (count (db, "c"), ==, 1);
  g_clear_object (&db);

  db = tether_test_open (f->path, v2);
  refused = tether_collection_create (tether_database_get_collection (db, "c", NULL), same, &error);
  g_assert_null (refused);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_UNIQUE);
}

/* A new version may remove a field: its values go, unless the collection
 * takes additional fields, in which case they stay. */
static void
test_migrate_removes_field (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}, \"colour\": {\"type\": \"string\"}}}}}");
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}}, \"additionalFields\": true}}}");
  g_autoptr(TetherSchema) v3 = tether_test_schema (
    "{\"version\": 3, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\"}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"t\", \"colour\": \"red\"}");
  g_autoptr(TetherRecord) kept = NULL;
  g_autoptr(TetherRecord) dropped = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_object (&db);
  db = tether_test_open (f->path, v2);
  kept = tether_collection_get (tether_database_get_collection (db, "notes", NULL),
                                tether_record_get_id (r), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (kept, "colour", NULL), ==, "red");
  g_clear_object (&db);

  db = tether_test_open (f->path, v3);
  dropped = tether_collection_get (tether_database_get_collection (db, "notes", NULL),
                                   tether_record_get_id (r), &error);
  g_assert_no_error (error);
  g_assert_false (tether_record_has_field (dropped, "colour"));
  g_assert_cmpstr (tether_record_get_string (dropped, "title", NULL), ==, "t");
}

/* A collection a version dropped (its table kept) and a later one brings
 * back: the records it kept meet the new rules too. */
static void
test_migrate_readded_collection (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}}},"
    " \"tasks\": {\"fields\": {\"title\": {\"type\": \"string\"}}}}}");
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}}}}}");
  g_autoptr(TetherSchema) v3 = tether_test_schema (
    "{\"version\": 3, \"collections\": {\"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}}},"
    " \"tasks\": {\"fields\": {\"title\": {\"type\": \"string\"},"
    "   \"state\": {\"type\": \"string\", \"required\": true, \"default\": \"open\"}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "tasks", "{\"title\": \"kept\"}");
  g_autoptr(TetherRecord) back = NULL;
  g_autoptr(GError) error = NULL;

  g_clear_object (&db);
  db = tether_test_open (f->path, v2);
  g_clear_object (&db);
  db = tether_test_open (f->path, v3);
  back = tether_collection_get (tether_database_get_collection (db, "tasks", NULL),
                                tether_record_get_id (r), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (back, "state", NULL), ==, "open");
}

/* A schema written by a newer Tether may use rules this one does not know:
 * that is a newer file, not a damaged one. */
static void
test_newer_stored_schema_is_too_old (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);

  g_clear_object (&db);
  store_schema (f->path,
    "{\"version\":2,\"collections\":{\"notes\":{\"fields\":{"
    "\"title\":{\"type\":\"string\",\"required\":true,\"collation\":\"fr\"}}}}}");
  expect_open_error (f->path, v1, TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD, "schema version 2");
  /* opened with its own schema, against the one this program ships */
  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD, "schema version 2");
  /* the same at a version this program knows is damage */
  store_schema (f->path,
    "{\"version\":1,\"collections\":{\"notes\":{\"fields\":{"
    "\"title\":{\"type\":\"string\",\"required\":true,\"collation\":\"fr\"}}}}}");
  expect_open_error (f->path, v1, TETHER_DATABASE_ERROR_CORRUPT, "the stored schema is damaged");
}

static void
test_missing_stored_schema (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  sqlite3 *handle = NULL;

  g_clear_object (&db);
  g_assert_cmpint (sqlite3_open (f->path, &handle), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (handle, "DELETE FROM _tether_meta WHERE key = 'schema'",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_close (handle), ==, SQLITE_OK);
  expect_open_error (f->path, NULL, TETHER_DATABASE_ERROR_CORRUPT, "no stored schema");
}

static void
test_older_schema_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  g_autoptr(TetherSchema) v2 = tether_test_schema (SCHEMA_V2);
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v2);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"v2 data\", \"pinned\": true}");

  g_clear_object (&db);
  expect_open_error (f->path, v1, TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD, "schema version 2");
  /* Nothing was rewritten: v2 still opens with its data. */
  db = tether_test_open (f->path, v2);
  g_assert_cmpint (count (db, "notes"), ==, 1);
}

static void
test_same_version_changed_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  g_autoptr(TetherSchema) v1b = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {\"title\": {\"type\": \"number\"}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);

  g_clear_object (&db);
  expect_open_error (f->path, v1b, TETHER_DATABASE_ERROR_SCHEMA_CHANGED, "raise \"version\"");
}

static void
test_failed_migration_changes_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) v1 = tether_test_schema (SCHEMA_V1);
  /* v2 adds a required field without a default: old records cannot meet it. */
  g_autoptr(TetherSchema) v2 = tether_test_schema (
    "{\"version\": 2, \"collections\": {\"notes\": {\"fields\": {"
    "  \"title\": {\"type\": \"string\", \"required\": true},"
    "  \"owner\": {\"type\": \"string\", \"required\": true}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, v1);
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"orphan\"}");

  g_clear_object (&db);
  expect_open_error (f->path, v2, TETHER_DATABASE_ERROR_MIGRATION, "notes.owner: required");
  db = tether_test_open (f->path, NULL);
  g_assert_cmpint (tether_schema_get_version (tether_database_get_schema (db)), ==, 1);
  g_assert_cmpint (count (db, "notes"), ==, 1);
}

/* Transactions and signals ----------------------------------------------------- */

typedef struct {
  GPtrArray *events;   /* "collection:type:id" */
  guint      depth_seen;
} Recorder;

static void
on_db_changed (TetherDatabase *db, const char *collection, TetherChangeType type,
               const char *id, TetherRecord *old_record, TetherRecord *new_record, Recorder *rec)
{
  /* Emitted after commit: never inside a transaction. */
  rec->depth_seen = MAX (rec->depth_seen, tether_database_get_transaction_depth (db));
  g_assert_true (type == TETHER_CHANGE_DELETE ? old_record != NULL && new_record == NULL
                 : new_record != NULL);
  g_ptr_array_add (rec->events, g_strdup_printf ("%s:%s:%s", collection,
                                                 tether_change_type_to_string (type), id));
}

static void
test_nested_transactions (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;
  Recorder rec = { g_ptr_array_new_with_free_func (g_free), 0 };
  g_autoptr(TetherRecord) a = NULL;
  g_autoptr(TetherRecord) b = NULL;
  g_autoptr(TetherRecord) c = NULL;

  g_signal_connect (db, "changed", G_CALLBACK (on_db_changed), &rec);

  g_assert_true (tether_database_begin (db, &error));
  a = create (db, "notes", "{\"title\": \"outer\"}");
  g_assert_true (tether_database_begin (db, &error));
  b = create (db, "notes", "{\"title\": \"inner, rolled back\"}");
  tether_database_rollback (db);
  g_assert_true (tether_database_begin (db, &error));
  c = create (db, "notes", "{\"title\": \"inner, kept\"}");
  g_assert_true (tether_database_commit (db, &error));
  g_assert_cmpuint (tether_database_get_transaction_depth (db), ==, 1);
  /* Nothing is announced before the outermost commit. */
  g_assert_cmpuint (rec.events->len, ==, 0);
  g_assert_true (tether_database_commit (db, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (rec.events->len, ==, 2);
  g_assert_true (g_str_has_suffix (g_ptr_array_index (rec.events, 0), tether_record_get_id (a)));
  g_assert_true (g_str_has_suffix (g_ptr_array_index (rec.events, 1), tether_record_get_id (c)));
  g_assert_cmpuint (rec.depth_seen, ==, 0);
  g_assert_cmpint (count (db, "notes"), ==, 2);
  g_ptr_array_unref (rec.events);
}

static void
test_rollback_emits_nothing (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;
  Recorder rec = { g_ptr_array_new_with_free_func (g_free), 0 };
  g_autoptr(TetherRecord) a = NULL;

  g_signal_connect (db, "changed", G_CALLBACK (on_db_changed), &rec);
  g_assert_true (tether_database_begin (db, &error));
  a = create (db, "notes", "{\"title\": \"never\"}");
  tether_database_rollback (db);
  g_assert_cmpuint (rec.events->len, ==, 0);
  g_assert_cmpint (count (db, "notes"), ==, 0);
  g_ptr_array_unref (rec.events);
}

static gboolean
failing_body (TetherDatabase *db, gpointer user_data, GError **error)
{
  g_autoptr(TetherRecord) r = create (db, "notes", "{\"title\": \"doomed\"}");

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "changed my mind");
  return FALSE;
}

static void
test_transaction_func (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_database_transaction (db, failing_body, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (count (db, "notes"), ==, 0);
  g_assert_cmpuint (tether_database_get_transaction_depth (db), ==, 0);
}

/* Disk full inside a caller's transaction: FTS5 cannot undo one statement,
 * so SQLite rolls the whole transaction back. Until the caller ends it,
 * nothing may be written outside it, and nothing it did is announced. */
static void
test_transaction_lost_to_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) body = g_string_new (NULL);
  g_autoptr(JsonObject) small = tether_test_object ("{\"title\": \"after the failure\"}");
  g_autoptr(TetherRecord) late = NULL;
  Recorder rec = { g_ptr_array_new_with_free_func (g_free), 0 };
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  sqlite3 *handle = _tether_database_get_handle (db);
  g_autofree char *limit = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 pages;

  g_signal_connect (db, "changed", G_CALLBACK (on_db_changed), &rec);
  g_assert_cmpint (sqlite3_prepare_v2 (handle, "PRAGMA page_count", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  pages = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  limit = g_strdup_printf ("PRAGMA max_page_count = %" G_GINT64_FORMAT, pages + 40);
  g_assert_cmpint (sqlite3_exec (handle, limit, NULL, NULL, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < 300; i++)
    g_string_append_printf (body, "word%u ", i);

  g_assert_true (tether_database_begin (db, &error));
  for (guint i = 0; i < 1000 && error == NULL; i++)
    {
      g_autoptr(JsonObject) object = json_object_new ();

      json_object_set_string_member (object, "title", "filling the disk");
      json_object_set_string_member (object, "body", body->str);
      g_clear_object (&late);
      late = tether_collection_create (notes, object, &error);
    }
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_IO);
  g_clear_error (&error);
  g_assert_cmpuint (tether_database_get_transaction_depth (db), ==, 1);

  /* a write now would commit on its own, outside the caller's transaction */
  g_clear_object (&late);
  late = tether_collection_create (notes, small, &error);
  g_assert_null (late);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tether_database_begin (db, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (tether_database_commit (db, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (tether_database_get_transaction_depth (db), ==, 0);
  g_assert_cmpuint (rec.events->len, ==, 0);

  /* the transaction over, the database works again */
  g_assert_cmpint (count (db, "notes"), ==, 0);
  g_clear_object (&late);
  late = create (db, "notes", "{\"title\": \"a new start\"}");
  g_assert_cmpuint (rec.events->len, ==, 1);
  g_assert_cmpint (count (db, "notes"), ==, 1);
  g_ptr_array_unref (rec.events);
}

static void
test_commit_without_begin (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_database_commit (db, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
}

static void
test_unknown_collection (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null (tether_database_get_collection (db, "recipes", &error));
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION);
  g_assert_nonnull (strstr (error->message, "recipes"));
  g_assert_nonnull (strstr (error->message, "notes"));
}

static void
test_closed (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) db = tether_test_open (f->path, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = tether_test_object ("{\"title\": \"late\"}");
  g_autoptr(TetherRecord) r = NULL;

  tether_database_close (db);
  r = tether_collection_create (tether_database_get_collection (db, "notes", NULL), object, &error);
  g_assert_null (r);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/tether/database/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  g_test_add_func ("/tether/database/open/memory", test_open_memory);
  ADD ("open/reopen-keeps-schema", test_reopen_keeps_schema_and_data);
  ADD ("open/wal", test_wal_mode);
  ADD ("open/background-checkpoint", test_background_checkpoint);
  ADD ("open/not-sqlite", test_not_sqlite);
  ADD ("open/folder-given", test_folder_given);
  ADD ("open/foreign-sqlite", test_foreign_sqlite);
  ADD ("open/foreign-wal", test_foreign_wal_untouched);
  ADD ("open/corrupt", test_corrupt);
  ADD ("open/read-only", test_read_only);
  ADD ("open/closed", test_closed);
  ADD ("close/beside-reader", test_close_beside_reader);
  g_test_add_func ("/tether/database/open/missing-folder", test_missing_folder);
  ADD ("schema/migrate", test_migrate);
  ADD ("schema/migrate-reindexes", test_migrate_reindexes_existing);
  ADD ("schema/migrate-drops-index-first", test_migrate_drops_index_first);
  ADD ("schema/stored-name-clash", test_stored_name_clash_opens);
  ADD ("schema/migrate-removes-field", test_migrate_removes_field);
  ADD ("schema/migrate-readded-collection", test_migrate_readded_collection);
  ADD ("schema/newer-stored-schema", test_newer_stored_schema_is_too_old);
  ADD ("schema/missing-stored-schema", test_missing_stored_schema);
  ADD ("schema/older-refused", test_older_schema_refused);
  ADD ("schema/same-version-changed", test_same_version_changed_refused);
  ADD ("schema/failed-migration", test_failed_migration_changes_nothing);
  g_test_add_func ("/tether/database/transaction/nested", test_nested_transactions);
  g_test_add_func ("/tether/database/transaction/rollback-silent", test_rollback_emits_nothing);
  g_test_add_func ("/tether/database/transaction/func", test_transaction_func);
  ADD ("transaction/lost-to-disk-full", test_transaction_lost_to_disk_full);
  g_test_add_func ("/tether/database/transaction/commit-without-begin", test_commit_without_begin);
  g_test_add_func ("/tether/database/collection/unknown", test_unknown_collection);
#undef ADD

  return g_test_run ();
}
