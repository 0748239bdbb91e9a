/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test"
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "tether-test-util.h"

/* These tests run the real `tether` binary, as a user or a script would. */

typedef struct {
  char *dir;
  char *db;
} Fixture;

typedef struct {
  int   status;
  char *out;
  char *err;
} Result;

static void
result_free (Result *result)
{
  g_free (result->out);
  g_free (result->err);
  g_free (result);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Result, result_free)

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->dir = tether_test_dir_new ();
  f->db = g_build_filename (f->dir, "test.db", NULL);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_free (f->db);
  tether_test_dir_free (f->dir);
}

/* @env: "KEY=VALUE" to set, "KEY" to unset; TETHER_DB is always unset first
 * so the tests never touch the user's own database. Standard input is
 * @input, or the file @input_file: a command that stops reading early
 * leaves a pipe's writer with EPIPE, a file's with nothing. */
static Result *
run_argv_full (const char * const *env,
               const char         *input,
               const char         *input_file,
               GPtrArray          *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Result *result = g_new0 (Result, 1);

  launcher = g_subprocess_launcher_new ((input_file == NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0) |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (input_file != NULL)
    g_subprocess_launcher_set_stdin_file_path (launcher, input_file);
  g_subprocess_launcher_unsetenv (launcher, "TETHER_DB");
  for (guint i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) pair = g_strsplit (env[i], "=", 2);

      if (pair[1] != NULL)
        g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
      else
        g_subprocess_launcher_unsetenv (launcher, pair[0]);
    }
  g_ptr_array_insert (args, 0, (gpointer) g_getenv ("TETHER_CLI"));
  g_ptr_array_add (args, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, input, NULL, &result->out, &result->err, &error);
  g_assert_no_error (error);
  /* A crash (or a g_warning made fatal by G_DEBUG) is never a pass. */
  g_assert_true (g_subprocess_get_if_exited (process));
  result->status = g_subprocess_get_exit_status (process);
  return result;
}

static Result *
run_argv (const char * const *env,
          const char         *input,
          GPtrArray          *args)
{
  return run_argv_full (env, input, NULL, args);
}

/* Runs `tether --db f->db ARGS…` (NULL-terminated) with @input on stdin. */
static Result *
run_input (Fixture    *f,
           const char *input,
           ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (args, (gpointer) "--db");
  g_ptr_array_add (args, f->db);
  va_start (ap, input);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  return run_argv (NULL, input, args);
}

#define run(f, ...) run_input (f, NULL, ##__VA_ARGS__, NULL)
#define run_with_input(f, input, ...) run_input (f, input, __VA_ARGS__, NULL)

static void
assert_ok (Result *result)
{
  if (result->status != 0)
    g_error ("tether failed (%d): %s", result->status, result->err);
  g_assert_cmpstr (result->err, ==, "");
}

/* The failure a user sees: exit status, exact stderr, nothing on stdout. */
static void
assert_fails (Result     *result,
              int         status,
              const char *message)
{
  g_assert_cmpint (result->status, ==, status);
  g_assert_cmpstr (result->out, ==, "");
  if (!g_str_has_prefix (result->err, message))
    g_error ("expected stderr to start with '%s', got '%s'", message, result->err);
}

/* The output as one line of JSON; these helpers take @result. */
static JsonObject *
output_object (Result *result)
{
  g_autoptr(Result) owned = result;
  const char *newline;

  assert_ok (result);
  newline = strchr (result->out, '\n');
  g_assert_true (newline != NULL && newline[1] == '\0');
  return tether_test_object (result->out);
}

static JsonArray *
output_array (Result *result)
{
  g_autoptr(Result) owned = result;
  g_autoptr(JsonNode) node = NULL;
  const char *newline;

  assert_ok (result);
  newline = strchr (result->out, '\n');
  g_assert_true (newline != NULL && newline[1] == '\0');
  node = tether_test_node (result->out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  return json_array_ref (json_node_get_array (node));
}

static gint64
count (Fixture    *f,
       const char *collection)
{
  g_autoptr(Result) result = run (f, "count", collection);

  assert_ok (result);
  return g_ascii_strtoll (result->out, NULL, 10);
}

/* The titles of a JSON array of records, joined by ",". */
static char *
titles_of (Result *result)
{
  g_autoptr(JsonArray) array = output_array (result);
  g_autoptr(GString) titles = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *record = json_array_get_object_element (array, i);

      g_string_append_printf (titles, "%s%s", i ? "," : "",
                              json_object_get_string_member (record, "title"));
    }
  return g_string_free (g_steal_pointer (&titles), FALSE);
}

/* create, get, update, put, delete, count ----------------------------------- */

static void
test_crud (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(JsonObject) created = NULL, got = NULL, updated = NULL, again = NULL;
  g_autoptr(JsonObject) put = NULL, deleted = NULL;
  g_autoptr(Result) missing = NULL;
  g_autofree char *id = NULL;

  created = output_object (run (f, "create", "notes", "{\"title\": \"Groceries\", \"tags\": [\"home\"]}"));
  id = g_strdup (json_object_get_string_member (created, "id"));
  g_assert_true (tether_uuid_is_valid (id));
  g_assert_cmpstr (json_object_get_string_member (created, "title"), ==, "Groceries");
  g_assert_false (json_object_get_boolean_member (created, "pinned"));

  got = output_object (run (f, "get", "notes", id));
  g_assert_true (json_object_equal (got, created));

  updated = output_object (run (f, "update", "notes", id, "{\"pinned\": true, \"tags\": null}"));
  g_assert_true (json_object_get_boolean_member (updated, "pinned"));
  g_assert_cmpstr (json_object_get_string_member (updated, "title"), ==, "Groceries");
  again = output_object (run (f, "get", "notes", id));
  g_assert_true (json_object_equal (again, updated));

  put = output_object (run (f, "put", "notes", "{\"id\": \"n-2\", \"title\": \"Second\"}"));
  g_assert_cmpstr (json_object_get_string_member (put, "id"), ==, "n-2");
  g_clear_pointer (&put, json_object_unref);
  put = output_object (run (f, "put", "notes", "{\"id\": \"n-2\", \"title\": \"Second, replaced\"}"));
  g_assert_cmpstr (json_object_get_string_member (put, "title"), ==, "Second, replaced");
  g_assert_cmpint (count (f, "notes"), ==, 2);

  deleted = output_object (run (f, "delete", "notes", id));
  g_assert_cmpstr (json_object_get_string_member (deleted, "deleted"), ==, id);
  g_assert_cmpint (count (f, "notes"), ==, 1);
  missing = run (f, "get", "notes", id);
  assert_fails (missing, 1, "tether: ");
  g_assert_nonnull (strstr (missing->err, id));
}

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(Result) required = NULL, above = NULL, bad_json = NULL, array = NULL;
  g_autoptr(Result) bad_patch = NULL, collection = NULL, missing = NULL, empty = NULL, bad_line = NULL;
  g_autoptr(Result) latin1 = NULL, latin1_patch = NULL, latin1_id = NULL, latin1_where = NULL;
  g_autoptr(JsonObject) ok = NULL;

  ok = output_object (run (f, "create", "tasks", "{\"title\": \"kept\"}"));

  required = run (f, "create", "notes", "{\"body\": \"no title\"}");
  assert_fails (required, 1, "tether: notes.title: required\n");
  above = run (f, "create", "tasks", "{\"title\": \"t\", \"priority\": 7}");
  assert_fails (above, 1, "tether: tasks.priority:");
  /* Cut-off JSON is not valid, and the column says where. */
  bad_json = run (f, "create", "notes", "{\"title\": \"x\"");
  assert_fails (bad_json, 1, "tether: create: the record is not valid JSON: column 13: ");
  g_assert_null (strstr (bad_json->err, "<data>"));
  bad_line = run (f, "create", "notes", "{\n  \"title\": x}");
  assert_fails (bad_line, 1, "tether: create: the record is not valid JSON: line 2, column 12: "
                             "unexpected identifier `x', expected value\n");
  /* bad bytes in a record are bad data, as in import; elsewhere on the
   * command line they are a usage error */
  latin1 = run (f, "create", "notes", "{\"title\": \"caf\xe9\"}");
  assert_fails (latin1, 1, "tether: create: the record is not valid JSON: the text is not valid UTF-8\n");
  latin1_patch = run (f, "update", "notes", "some-id", "{\"title\": \"\xff\"}");
  assert_fails (latin1_patch, 1, "tether: update: the record is not valid JSON: the text is not valid UTF-8\n");
  latin1_id = run (f, "get", "notes", "caf\xe9");
  assert_fails (latin1_id, 2, "tether: get: argument 2 is not valid UTF-8\nUsage: tether get ");
  latin1_where = run (f, "count", "notes", "--where", "title == caf\xe9");
  assert_fails (latin1_where, 2, "tether: count: argument 3 is not valid UTF-8\nUsage: tether count ");
  empty = run (f, "create", "notes", "");
  assert_fails (empty, 1, "tether: create: the record is not valid JSON: the text is empty\n");
  array = run (f, "put", "notes", "[1, 2]");
  assert_fails (array, 1, "tether: put: the record must be a JSON object: found an array\n");
  bad_patch = run (f, "update", "tasks", json_object_get_string_member (ok, "id"), "true");
  assert_fails (bad_patch, 1, "tether: update: the record must be a JSON object: found a boolean\n");
  collection = run (f, "create", "books", "{\"title\": \"x\"}");
  assert_fails (collection, 1, "tether: no collection 'books'");
  missing = run (f, "update", "tasks", "no-such-id", "{\"done\": true}");
  assert_fails (missing, 1, "tether: tasks: no record with id 'no-such-id'");

  /* Nothing of the failed writes was stored. */
  g_assert_cmpint (count (f, "notes"), ==, 0);
  g_assert_cmpint (count (f, "tasks"), ==, 1);
}

static void
test_usage (Fixture       *f,
            gconstpointer  data)
{
  const char *commands[] = { "create", "get", "update", "put", "delete", "count",
                             "query", "search", "export", "import", "apply" };
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(Result) help = NULL, unknown = NULL, missing = NULL, extra = NULL;
  g_autoptr(Result) option = NULL, late = NULL, limit = NULL, sort = NULL, global = NULL;
  g_autoptr(Result) op = NULL, bare = NULL, no_value = NULL, no_field = NULL, no_op = NULL;

  g_ptr_array_add (args, (gpointer) "--help");
  help = run_argv (NULL, NULL, args);
  assert_ok (help);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *line = g_strdup_printf ("\n  %s", commands[i]);
      g_assert_nonnull (strstr (help->out, line));
    }

  unknown = run (f, "frobnicate");
  assert_fails (unknown, 2, "tether: unknown command 'frobnicate'\n");
  missing = run (f, "create", "notes");
  assert_fails (missing, 2, "tether: create: missing arguments\nUsage: tether create COLLECTION JSON\n");
  extra = run (f, "get", "notes", "a", "b");
  assert_fails (extra, 2, "tether: get: too many arguments\n");
  option = run (f, "get", "notes", "a", "--where", "title == x");
  assert_fails (option, 2, "tether: get: unknown option '--where'\n");
  late = run (f, "count", "notes", "--db", "other.db");
  assert_fails (late, 2, "tether: count: unknown option '--db'\n");
  limit = run (f, "query", "notes", "--limit", "ten");
  assert_fails (limit, 2, "tether: --limit needs a whole number of 0 or more, not 'ten'\n");
  sort = run (f, "query", "notes", "--sort", "title:up");
  assert_fails (sort, 2, "tether: --sort title:up: the direction must be asc or desc\n");
  global = run (f, "--frob");
  assert_fails (global, 2, "tether: unknown option '--frob'");

  /* A condition that does not read as FIELD OP VALUE is a wrong command
   * line too, in every command that takes one. */
  op = run (f, "query", "notes", "--where", "title ~~ x");
  assert_fails (op, 2, "tether: --where \"title ~~ x\": unknown operator '~~' "
                       "(use == != < <= > >= in contains prefix)\nUsage: tether query ");
  bare = run (f, "count", "tasks", "--where", "done");
  assert_fails (bare, 2, "tether: --where \"done\": the operator and the value are missing "
                         "(write FIELD OP VALUE, e.g. \"priority >= 2\")\nUsage: tether count ");
  no_value = run (f, "search", "notes", "milk", "--or", "title prefix ");
  assert_fails (no_value, 2, "tether: --or \"title prefix \": the value is missing "
                             "(write FIELD OP VALUE, e.g. \"priority >= 2\")\nUsage: tether search ");
  no_field = run (f, "query", "notes", "--or=== x");
  assert_fails (no_field, 2, "tether: --or \"== x\": it does not start with a field name "
                             "(write FIELD OP VALUE, e.g. \"priority >= 2\")\n");
  no_op = run (f, "count", "notes", "--where", "title 'x'");
  assert_fails (no_op, 2, "tether: --where \"title 'x'\": an operator is missing after 'title' "
                          "(write FIELD OP VALUE, e.g. \"priority >= 2\")\n");

  /* A wrong command line never creates the database. */
  g_assert_false (g_file_test (f->db, G_FILE_TEST_EXISTS));
}

/* query, count and search --------------------------------------------------- */

static void
add_tasks (Fixture *f)
{
  const char *tasks[] = {
    "{\"id\": \"t1\", \"title\": \"Alpha\", \"priority\": 1, \"tags\": [\"work\"]}",
    "{\"id\": \"t2\", \"title\": \"Bravo\", \"priority\": 3, \"tags\": [\"home\"]}",
    "{\"id\": \"t3\", \"title\": \"Charlie\", \"priority\": 2, \"tags\": [\"work\", \"urgent\"]}",
    "{\"id\": \"t4\", \"title\": \"Delta\", \"priority\": 0, \"done\": true}",
    "{\"id\": \"t5\", \"title\": \"Alpine\", \"priority\": 3}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (tasks); i++)
    {
      g_autoptr(Result) result = run (f, "put", "tasks", tasks[i]);
      assert_ok (result);
    }
}

static void
assert_titles (Result     *result,
               const char *expected)
{
  g_autofree char *titles = titles_of (result);

  g_assert_cmpstr (titles, ==, expected);
}

static void
test_query (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(Result) first = NULL, none = NULL, unknown = NULL, bad_value = NULL, counted = NULL;
  g_autoptr(JsonObject) first_record = NULL;

  add_tasks (f);
  assert_titles (run (f, "query", "tasks", "--sort", "title"), "Alpha,Alpine,Bravo,Charlie,Delta");
  assert_titles (run (f, "query", "tasks", "--where", "priority >= 2", "--sort", "priority:desc",
                      "--sort", "title:asc"),
                 "Alpine,Bravo,Charlie");
  assert_titles (run (f, "query", "tasks", "--where", "done == false", "--or", "title == Alpha",
                      "--or=title == Delta", "--sort", "title"),
                 "Alpha");
  assert_titles (run (f, "query", "tasks", "--or", "title == Alpha", "--or", "title == Delta",
                      "--sort", "title:desc"),
                 "Delta,Alpha");
  assert_titles (run (f, "query", "tasks", "--sort", "title", "--limit", "2", "--offset", "1"),
                 "Alpine,Bravo");
  assert_titles (run (f, "query", "tasks", "--where", "priority in [0, 1]", "--sort", "title"),
                 "Alpha,Delta");
  assert_titles (run (f, "query", "tasks", "--where", "tags contains work", "--sort", "title"),
                 "Alpha,Charlie");
  assert_titles (run (f, "query", "tasks", "--where", "title prefix Alp", "--sort", "title"),
                 "Alpha,Alpine");
  assert_titles (run (f, "query", "tasks", "--where", "title == Nobody"), "");

  first_record = output_object (run (f, "query", "tasks", "--sort", "priority", "--first"));
  g_assert_cmpstr (json_object_get_string_member (first_record, "id"), ==, "t4");
  none = run (f, "query", "tasks", "--where", "priority > 3", "--first");
  assert_ok (none);
  g_assert_cmpstr (none->out, ==, "null\n");

  counted = run (f, "count", "tasks", "--where", "tags contains work", "--or", "priority == 2",
                 "--or", "priority == 1");
  assert_ok (counted);
  g_assert_cmpstr (counted->out, ==, "2\n");

  unknown = run (f, "query", "tasks", "--where", "colour == red");
  assert_fails (unknown, 1, "tether: ");
  g_assert_nonnull (strstr (unknown->err, "colour"));
  bad_value = run (f, "count", "tasks", "--where", "priority == high");
  assert_fails (bad_value, 1, "tether: ");
  g_assert_nonnull (strstr (bad_value->err, "priority"));
}

static void
test_search (Fixture       *f,
             gconstpointer  data)
{
  const char *notes[] = {
    "{\"title\": \"Café au lait\", \"body\": \"with oat milk\"}",
    "{\"title\": \"Cafeteria menu\", \"body\": \"soup on monday\", \"pinned\": true}",
    "{\"title\": \"Tea\", \"body\": \"green, no cafe\"}",
    "{\"title\": \"Shopping\", \"body\": \"bread, milk\"}",
  };
  g_autoptr(JsonArray) found = NULL;
  g_autoptr(Result) unknown = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (notes); i++)
    {
      g_autoptr(Result) result = run (f, "create", "notes", notes[i]);
      assert_ok (result);
    }
  found = output_array (run (f, "search", "notes", "cafe"));
  g_assert_cmpuint (json_array_get_length (found), ==, 3);
  assert_titles (run (f, "search", "notes", "café", "--where", "pinned == true"), "Cafeteria menu");
  assert_titles (run (f, "search", "notes", "CAFE MILK"), "Café au lait");
  assert_titles (run (f, "search", "notes", "caf milk"), "Café au lait");
  assert_titles (run (f, "search", "notes", "soup"), "Cafeteria menu");
  assert_titles (run (f, "search", "notes", "coffee"), "");
  g_clear_pointer (&found, json_array_unref);
  found = output_array (run (f, "search", "notes", "cafe", "--limit", "1"));
  g_assert_cmpuint (json_array_get_length (found), ==, 1);
  /* --or and --offset, as README and --help say */
  assert_titles (run (f, "search", "notes", "cafe", "--or", "pinned == true", "--or", "title == Tea"),
                 "Tea,Cafeteria menu");
  assert_titles (run (f, "search", "notes", "cafe", "--offset", "1", "--limit", "1"), "Cafeteria menu");
  unknown = run (f, "search", "notes", "cafe", "--where", "colour == red");
  assert_fails (unknown, 1, "tether: ");
}

/* export and import --------------------------------------------------------- */

/* Each line of @text parsed, for comparisons that ignore member order. */
static GPtrArray *
parse_lines (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      g_ptr_array_add (nodes, tether_test_node (lines[i]));
  return nodes;
}

static void
assert_same_lines (const char *a,
                   const char *b)
{
  g_autoptr(GPtrArray) first = parse_lines (a);
  g_autoptr(GPtrArray) second = parse_lines (b);

  g_assert_cmpuint (first->len, ==, second->len);
  for (guint i = 0; i < first->len; i++)
    g_assert_true (json_node_equal (g_ptr_array_index (first, i), g_ptr_array_index (second, i)));
}

static void
test_export_import (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *second_db = g_build_filename (f->dir, "second.db", NULL);
  g_autoptr(Result) exported = NULL, imported = NULL, reexported = NULL, again = NULL;
  g_autoptr(Result) notes = NULL, notes_imported = NULL;
  g_autoptr(Result) created = NULL;
  g_autoptr(GPtrArray) lines = NULL;

  add_tasks (f);
  created = run (f, "create", "notes", "{\"title\": \"Ünïcode ✓\", \"body\": \"line\\nbreak\"}");
  assert_ok (created);
  exported = run (f, "export");
  assert_ok (exported);
  lines = parse_lines (exported->out);
  g_assert_cmpuint (lines->len, ==, 6);
  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *line = json_node_get_object (g_ptr_array_index (lines, i));

      g_assert_true (json_object_has_member (line, "collection"));
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (line, "record")));
    }

  {
    Fixture second = { f->dir, second_db };

    imported = run_with_input (&second, exported->out, "import");
    assert_ok (imported);
    g_assert_cmpstr (imported->out, ==, "{\"imported\":6}\n");
    reexported = run (&second, "export");
    assert_ok (reexported);
    assert_same_lines (exported->out, reexported->out);

    /* Importing again changes nothing: records are put by id. */
    again = run_with_input (&second, exported->out, "import");
    assert_ok (again);
    g_assert_cmpint (count (&second, "tasks"), ==, 5);
    g_assert_cmpint (count (&second, "notes"), ==, 1);

    notes = run (f, "export", "notes");
    assert_ok (notes);
    {
      g_autoptr(JsonObject) note = tether_test_object (notes->out);
      g_autoptr(JsonObject) original = tether_test_object (created->out);

      /* the record, and its times after its own members */
      g_assert_true (json_object_has_member (note, "createdAt"));
      g_assert_true (json_object_has_member (note, "updatedAt"));
      json_object_remove_member (note, "createdAt");
      json_object_remove_member (note, "updatedAt");
      g_assert_true (json_object_equal (note, original));
    }
    notes_imported = run_with_input (&second, notes->out, "import", "notes");
    assert_ok (notes_imported);
    g_assert_cmpstr (notes_imported->out, ==, "{\"imported\":1}\n");
    g_assert_cmpint (count (&second, "notes"), ==, 1);
  }
}

/* The stored times of every record of @collection in the file @path. */
static char *
times_of (const char *path,
          const char *collection)
{
  g_autoptr(TetherDatabase) db = tether_test_open (path, NULL);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GString) times = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  records = tether_collection_get_all (tether_database_get_collection (db, collection, NULL), &error);
  g_assert_no_error (error);
  for (guint i = 0; i < records->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (records, i);

      g_string_append_printf (times, "%s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                              tether_record_get_id (record), tether_record_get_created_at (record),
                              tether_record_get_updated_at (record));
    }
  tether_database_close (db);
  return g_string_free (g_steal_pointer (&times), FALSE);
}

/* A record exported and imported keeps when it was made and last changed,
 * in both forms; an export of an older version, without times, still
 * imports, stamped with the time of the import. */
static void
test_export_import_times (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *all_db = g_build_filename (f->dir, "all.db", NULL);
  g_autofree char *one_db = g_build_filename (f->dir, "one.db", NULL);
  Fixture all = { f->dir, all_db }, one = { f->dir, one_db };
  g_autoptr(Result) updated = NULL, exported = NULL, imported = NULL, bare = NULL, bare_imported = NULL;
  g_autoptr(Result) old_tagged = NULL, old_bare = NULL;
  g_autofree char *original_tasks = NULL, *tasks = NULL, *bare_times = NULL;

  add_tasks (f);
  updated = run (f, "update", "tasks", "t2", "{\"done\": true}");
  assert_ok (updated);
  original_tasks = times_of (f->db, "tasks");
  g_usleep (20 * 1000);   /* an import now would stamp other times */

  exported = run (f, "export");
  assert_ok (exported);
  imported = run_with_input (&all, exported->out, "import");
  assert_ok (imported);
  tasks = times_of (all_db, "tasks");
  g_assert_cmpstr (tasks, ==, original_tasks);

  bare = run (f, "export", "tasks");
  assert_ok (bare);
  bare_imported = run_with_input (&one, bare->out, "import", "tasks");
  assert_ok (bare_imported);
  bare_times = times_of (one_db, "tasks");
  g_assert_cmpstr (bare_times, ==, original_tasks);

  old_tagged = run_with_input (&all, "{\"collection\": \"notes\", \"record\": {\"id\": \"n\", \"title\": \"old\"}}\n",
                               "import");
  assert_ok (old_tagged);
  old_bare = run_with_input (&one, "{\"id\": \"n\", \"title\": \"old\"}\n", "import", "notes");
  assert_ok (old_bare);
  g_assert_cmpint (count (&all, "notes"), ==, 1);
  g_assert_cmpint (count (&one, "notes"), ==, 1);
}

/* `tether export | less`: while the reader is slow, the export blocks on a
 * full pipe, and the app's saves must still go through. */
static void
test_export_slow_reader (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(Result) imported = NULL, created = NULL;
  g_autoptr(GSubprocess) export = NULL;
  g_autoptr(GBytes) rest = NULL;
  g_autoptr(GError) error = NULL;
  char first;

  /* far more than a pipe and stdio's buffer hold */
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (input, "{\"id\": \"task-%04u\", \"title\": \"%0200u\"}\n", i, i);
  imported = run_with_input (f, input->str, "import", "tasks");
  assert_ok (imported);

  export = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             g_getenv ("TETHER_CLI"), "--db", f->db, "export", NULL);
  g_assert_no_error (error);
  /* the export has started writing, and now waits for the reader */
  g_assert_cmpint (g_input_stream_read (g_subprocess_get_stdout_pipe (export), &first, 1, NULL, &error),
                   ==, 1);
  g_assert_no_error (error);
  created = run (f, "create", "notes", "{\"title\": \"saved during an export\"}");
  assert_ok (created);

  g_subprocess_communicate (export, NULL, NULL, &rest, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (export));
  g_assert_cmpint (g_subprocess_get_exit_status (export), ==, 0);
  /* a snapshot from before the note */
  g_assert_cmpuint (g_bytes_get_size (rest), >, 2000 * 200);
  g_assert_null (g_strstr_len (g_bytes_get_data (rest, NULL), g_bytes_get_size (rest), "during an export"));
}

/* `tether --db f->db ARGS…` (NULL-terminated) with @first written to its
 * standard input, which stays open: a producer that is slow to finish. */
static GSubprocess *
start_slow_producer (Fixture    *f,
                     const char *first,
                     ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TETHER_CLI"));
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, f->db);
  va_start (ap, first);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (process), first, strlen (first),
                             NULL, NULL, &error);
  g_assert_no_error (error);
  return process;
}

/* Gives @process a second to take the write lock, as it did before it
 * read its whole input first; then a write beside it must go through at
 * once rather than fail after the busy timeout. */
static void
assert_writable_beside (Fixture     *f,
                        GSubprocess *process)
{
  g_autofree char *shm = g_strconcat (f->db, "-shm", NULL);
  g_autoptr(Result) created = NULL;
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  while (!tether_test_sqlite_write_locked (shm) && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  created = run (f, "create", "tasks", "{\"title\": \"saved beside a slow producer\"}");
  assert_ok (created);
}

/* The rest of @process's input, then its result. */
static Result *
finish_slow_producer (GSubprocess *process,
                      const char  *rest)
{
  Result *result = g_new0 (Result, 1);
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8 (process, rest, NULL, &result->out, &result->err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (process));
  result->status = g_subprocess_get_exit_status (process);
  return result;
}

/* `producer | tether import`: the import writes nothing, so it holds no
 * lock, until its input has ended. */
static void
test_import_slow_producer (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(Result) created = run (f, "create", "notes", "{\"title\": \"before\"}");
  g_autoptr(GSubprocess) import = NULL;
  g_autoptr(Result) imported = NULL;

  assert_ok (created);
  import = start_slow_producer (f, "{\"title\": \"one\"}\n", "import", "notes", NULL);
  assert_writable_beside (f, import);
  imported = finish_slow_producer (import, "{\"title\": \"two\"}\n");
  assert_ok (imported);
  g_assert_cmpstr (imported->out, ==, "{\"imported\":2}\n");
  g_assert_cmpint (count (f, "notes"), ==, 3);
  g_assert_cmpint (count (f, "tasks"), ==, 1);
}

static void
test_apply_slow_producer (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(Result) created = run (f, "create", "notes", "{\"title\": \"before\"}");
  g_autoptr(GSubprocess) apply = NULL;
  g_autoptr(Result) applied = NULL;

  assert_ok (created);
  apply = start_slow_producer (f, "{\"op\": \"create\", \"collection\": \"notes\", "
                                  "\"data\": {\"title\": \"one\"}}\n",
                               "apply", "--single-transaction", NULL);
  assert_writable_beside (f, apply);
  applied = finish_slow_producer (apply, "{\"op\": \"create\", \"collection\": \"notes\", "
                                         "\"data\": {\"title\": \"two\"}}\n");
  assert_ok (applied);
  g_assert_nonnull (strstr (applied->out, "{\"ok\":true,\"applied\":2}\n"));
  g_assert_cmpint (count (f, "notes"), ==, 3);
  g_assert_cmpint (count (f, "tasks"), ==, 1);
}

static void
test_import_bad_line (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(Result) invalid = NULL, bad_json = NULL, tagged = NULL, not_object = NULL;
  g_autoptr(Result) blank = NULL, bad_time = NULL, one_time = NULL;

  invalid = run_with_input (f, "{\"title\": \"one\"}\n{\"title\": \"two\"}\n{\"body\": \"three\"}\n",
                            "import", "notes");
  assert_fails (invalid, 1, "tether: line 3: notes.title: required\n");
  /* where json-glib broke, as line and column of the input */
  bad_json = run_with_input (f, "{\"title\": \"one\"}\n{\"title\": x}\n", "import", "notes");
  assert_fails (bad_json, 1, "tether: line 2, column 11: unexpected identifier `x', expected value\n");
  not_object = run_with_input (f, "{\"title\": \"one\"}\n\n[1]\n", "import", "notes");
  assert_fails (not_object, 1, "tether: line 3: expected a JSON object, found an array\n");
  tagged = run_with_input (f, "{\"collection\": \"notes\", \"record\": {\"title\": \"ok\"}}\n"
                              "{\"record\": {\"title\": \"no collection\"}}\n", "import");
  assert_fails (tagged, 1, "tether: line 2: missing \"collection\"\n");
  bad_time = run_with_input (f, "{\"title\": \"one\"}\n"
                                "{\"title\": \"two\", \"createdAt\": \"yesterday\", "
                                "\"updatedAt\": \"2026-01-31T09:30:00.000Z\"}\n", "import", "notes");
  assert_fails (bad_time, 1, "tether: line 2: \"createdAt\" must be a time such as "
                             "\"2026-01-31T09:30:00.000Z\" (as export writes it)\n");
  one_time = run_with_input (f, "{\"collection\": \"notes\", \"record\": {\"title\": \"one\"}, "
                                "\"updatedAt\": \"2026-01-31T09:30:00.000Z\"}\n", "import");
  assert_fails (one_time, 1, "tether: line 1: give both \"createdAt\" and \"updatedAt\", or neither "
                             "(the record then gets the time of the import)\n");
  g_assert_cmpint (count (f, "notes"), ==, 0);

  blank = run_with_input (f, "\n{\"title\": \"one\"}\n   \r\n{\"title\": \"two\"}\r\n", "import", "notes");
  assert_ok (blank);
  g_assert_cmpstr (blank->out, ==, "{\"imported\":2}\n");
  g_assert_cmpint (count (f, "notes"), ==, 2);
}

/* Runs `tether --db f->db ARGS…` (NULL-terminated) on a file holding @input. */
static Result *
run_input_file (Fixture    *f,
                const char *input,
                ...)
{
  g_autofree char *path = g_build_filename (f->dir, "input.jsonl", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *arg;
  va_list ap;

  g_file_set_contents (path, input, -1, &error);
  g_assert_no_error (error);
  g_ptr_array_add (args, (gpointer) "--db");
  g_ptr_array_add (args, f->db);
  va_start (ap, input);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  return run_argv_full (NULL, NULL, path, args);
}

/* A line longer than any record could make is refused by its number
 * rather than read into memory without end. */
static void
test_import_long_line (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GString) input = g_string_new ("{\"title\": \"short\"}\n{\"title\": \"");
  g_autoptr(GString) operations = g_string_new (NULL);
  g_autoptr(Result) imported = NULL, applied = NULL, fits = NULL;
  g_autofree char *xs = g_strnfill (3 * 1024 * 1024, 'x');
  const char *expected = "tether: line 2: longer than 2 MiB (a record may take at most 1 MiB): "
                         "split it, or leave out what makes it so large\n";

  g_string_append (input, xs);
  g_string_append (input, "\"}\n{\"title\": \"third\"}\n");
  imported = run_input_file (f, input->str, "import", "notes", NULL);
  assert_fails (imported, 1, expected);
  g_assert_cmpstr (imported->err, ==, expected);
  g_assert_cmpint (count (f, "notes"), ==, 0);

  g_string_append (operations, "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"title\": \"x\"}}\n");
  g_string_append (operations, input->str + strlen ("{\"title\": \"short\"}\n"));
  applied = run_input_file (f, operations->str, "apply", "--single-transaction", NULL);
  assert_fails (applied, 1, expected);
  g_assert_cmpint (count (f, "notes"), ==, 0);

  /* a line just under the limit is read, and judged by the record's rules */
  g_string_truncate (input, 0);
  g_string_append (input, "{\"title\": \"");
  g_string_append_len (input, xs, 2 * 1024 * 1024 - 20);
  g_string_append (input, "\"}");
  fits = run_input_file (f, input->str, "import", "notes", NULL);
  assert_fails (fits, 1, "tether: line 1: notes");
}

static void
test_import_large (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(Result) imported = NULL;
  guint n = 20000;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (input, "{\"id\": \"task-%06u\", \"title\": \"Task %u\", \"priority\": %u}\n",
                            i, i, i % 4);
  imported = run_with_input (f, input->str, "import", "tasks");
  assert_ok (imported);
  g_assert_cmpstr (imported->out, ==, "{\"imported\":20000}\n");
  g_assert_cmpint (count (f, "tasks"), ==, n);
}

/* apply --------------------------------------------------------------------- */

static const char apply_input[] =
  "{\"op\": \"put\", \"collection\": \"notes\", \"data\": {\"id\": \"a\", \"title\": \"A\"}}\n"
  "{\"op\": \"frob\", \"collection\": \"notes\"}\n"
  "\n"
  "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"body\": \"untitled\"}}\n"
  "{\"op\": \"update\", \"collection\": \"notes\", \"id\": \"a\", \"data\": {\"pinned\": true}}\n"
  "{\"collection\": \"notes\"}\n"
  "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"id\": \"b\", \"title\": \"B\"}}\n"
  "{\"op\": \"delete\", \"collection\": \"notes\", \"id\": \"b\"}\n"
  "not json\n";

static void
test_apply (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(Result) applied = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  g_autoptr(JsonObject) a = NULL;
  JsonObject *line;

  applied = run_with_input (f, apply_input, "apply");
  g_assert_cmpint (applied->status, ==, 1);
  g_assert_cmpstr (applied->err, ==, "tether: apply: 4 of 8 operations failed\n");
  lines = parse_lines (applied->out);
  g_assert_cmpuint (lines->len, ==, 8);

  line = json_node_get_object (g_ptr_array_index (lines, 0));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 1);
  g_assert_true (json_object_get_boolean_member (line, "ok"));
  g_assert_cmpstr (json_object_get_string_member (line, "op"), ==, "put");
  g_assert_cmpstr (json_object_get_string_member (line, "id"), ==, "a");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (line, "record"),
                                                  "title"), ==, "A");
  line = json_node_get_object (g_ptr_array_index (lines, 1));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 2);
  g_assert_false (json_object_get_boolean_member (line, "ok"));
  g_assert_cmpstr (json_object_get_string_member (line, "error"), ==,
                   "unknown op \"frob\" (expected create, update, put or delete)");
  line = json_node_get_object (g_ptr_array_index (lines, 2));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (line, "error"), ==, "notes.title: required");
  line = json_node_get_object (g_ptr_array_index (lines, 3));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 5);
  g_assert_true (json_object_get_boolean_member (line, "ok"));
  line = json_node_get_object (g_ptr_array_index (lines, 4));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 6);
  g_assert_cmpstr (json_object_get_string_member (line, "error"), ==, "missing \"op\"");
  line = json_node_get_object (g_ptr_array_index (lines, 6));
  g_assert_cmpstr (json_object_get_string_member (line, "op"), ==, "delete");
  g_assert_false (json_object_has_member (line, "record"));
  line = json_node_get_object (g_ptr_array_index (lines, 7));
  g_assert_cmpint (json_object_get_int_member (line, "line"), ==, 9);
  g_assert_false (json_object_get_boolean_member (line, "ok"));
  g_assert_cmpstr (json_object_get_string_member (line, "error"), ==,
                   "column 3: unexpected identifier `not', expected value");

  /* The good lines were applied despite the bad ones between them. */
  g_assert_cmpint (count (f, "notes"), ==, 1);
  a = output_object (run (f, "get", "notes", "a"));
  g_assert_true (json_object_get_boolean_member (a, "pinned"));
}

/* The error of each result line of @result, "" for a line that went
 * through, joined by newlines. */
static char *
errors_of (Result *result)
{
  g_autoptr(GPtrArray) lines = parse_lines (result->out);
  g_autoptr(GString) errors = g_string_new (NULL);

  for (guint i = 0; i < lines->len; i++)
    {
      JsonObject *line = json_node_get_object (g_ptr_array_index (lines, i));

      g_string_append_printf (errors, "%" G_GINT64_FORMAT ": %s\n", json_object_get_int_member (line, "line"),
                              json_object_get_string_member_with_default (line, "error", ""));
    }
  return g_string_free (g_steal_pointer (&errors), FALSE);
}

/* An operation's "id" is the record's for put and create too, and a
 * member apply does not know is refused rather than left out. */
static void
test_apply_members (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(Result) applied = NULL;
  g_autoptr(JsonObject) a = NULL, c = NULL;
  g_autofree char *errors = NULL;

  applied = run_with_input (f,
    "{\"op\": \"put\", \"collection\": \"notes\", \"data\": {\"id\": \"a\", \"title\": \"old\"}}\n"
    "{\"op\": \"put\", \"collection\": \"notes\", \"id\": \"a\", \"data\": {\"title\": \"new\"}}\n"
    "{\"op\": \"create\", \"collection\": \"notes\", \"id\": \"c\", \"data\": {\"title\": \"C\"}}\n"
    "{\"op\": \"put\", \"collection\": \"notes\", \"id\": \"a\", \"data\": {\"id\": \"a\", \"title\": \"same\"}}\n"
    "{\"op\": \"put\", \"collection\": \"notes\", \"id\": \"a\", \"data\": {\"id\": \"b\", \"title\": \"B\"}}\n"
    "{\"op\": \"create\", \"collection\": \"notes\", \"dta\": {\"title\": \"typo\"}}\n"
    "{\"op\": \"delete\", \"collection\": \"notes\", \"id\": \"c\", \"data\": {}}\n"
    "{\"op\": \"put\", \"collection\": \"notes\", \"id\": 7, \"data\": {\"title\": \"seven\"}}\n",
    "apply");
  g_assert_cmpint (applied->status, ==, 1);
  g_assert_cmpstr (applied->err, ==, "tether: apply: 4 of 8 operations failed\n");
  errors = errors_of (applied);
  g_assert_cmpstr (errors, ==,
                   "1: \n"
                   "2: \n"
                   "3: \n"
                   "4: \n"
                   "5: \"id\" is \"a\" but \"data\" has another \"id\": give the id once, or the same in both\n"
                   "6: unknown member \"dta\" (an operation has \"op\", \"collection\", \"id\" and \"data\")\n"
                   "7: a delete takes no \"data\" (only \"op\", \"collection\" and \"id\")\n"
                   "8: \"id\" must be a string\n");

  /* put replaced "a" rather than making another record */
  g_assert_cmpint (count (f, "notes"), ==, 2);
  a = output_object (run (f, "get", "notes", "a"));
  g_assert_cmpstr (json_object_get_string_member (a, "title"), ==, "same");
  c = output_object (run (f, "get", "notes", "c"));
  g_assert_cmpstr (json_object_get_string_member (c, "title"), ==, "C");
}

static void
test_apply_single_transaction (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(Result) failed = NULL, one = NULL, succeeded = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  JsonObject *line;

  /* Every line still gets its result, as --help promises; then all of
   * them roll back. */
  failed = run_with_input (f, apply_input, "apply", "--single-transaction");
  g_assert_cmpint (failed->status, ==, 1);
  g_assert_cmpstr (failed->err, ==, "tether: apply: 4 of 8 operations failed (the first on line 2); "
                                    "nothing was applied\n");
  lines = parse_lines (failed->out);
  g_assert_cmpuint (lines->len, ==, 9);
  for (guint i = 0; i < 8; i++)
    {
      const guint numbers[] = { 1, 2, 4, 5, 6, 7, 8, 9 };
      const gboolean oks[] = { TRUE, FALSE, FALSE, TRUE, FALSE, TRUE, TRUE, FALSE };

      line = json_node_get_object (g_ptr_array_index (lines, i));
      g_assert_cmpint (json_object_get_int_member (line, "line"), ==, numbers[i]);
      g_assert_cmpint (json_object_get_boolean_member (line, "ok"), ==, oks[i]);
    }
  line = json_node_get_object (g_ptr_array_index (lines, 4));
  g_assert_cmpstr (json_object_get_string_member (line, "error"), ==, "missing \"op\"");
  line = json_node_get_object (g_ptr_array_index (lines, 8));
  g_assert_false (json_object_get_boolean_member (line, "ok"));
  g_assert_true (json_object_get_boolean_member (line, "rolledBack"));
  g_assert_cmpint (json_object_get_int_member (line, "applied"), ==, 0);
  g_assert_cmpint (count (f, "notes"), ==, 0);

  one = run_with_input (f,
    "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"title\": \"X\"}}\n"
    "{\"op\": \"delete\", \"collection\": \"notes\", \"id\": \"nope\"}\n"
    "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"title\": \"Y\"}}\n",
    "apply", "--single-transaction");
  g_assert_cmpint (one->status, ==, 1);
  g_assert_cmpstr (one->err, ==, "tether: apply: line 2 failed; nothing was applied\n");
  g_clear_pointer (&lines, g_ptr_array_unref);
  lines = parse_lines (one->out);
  g_assert_cmpuint (lines->len, ==, 4);
  g_assert_cmpint (count (f, "notes"), ==, 0);

  succeeded = run_with_input (f,
    "{\"op\": \"create\", \"collection\": \"notes\", \"data\": {\"id\": \"x\", \"title\": \"X\"}}\n"
    "{\"op\": \"update\", \"collection\": \"notes\", \"id\": \"x\", \"data\": {\"body\": \"b\"}}\n"
    "{\"op\": \"create\", \"collection\": \"tasks\", \"data\": {\"title\": \"T\"}}\n",
    "apply", "--single-transaction");
  assert_ok (succeeded);
  g_clear_pointer (&lines, g_ptr_array_unref);
  lines = parse_lines (succeeded->out);
  g_assert_cmpuint (lines->len, ==, 4);
  line = json_node_get_object (g_ptr_array_index (lines, 3));
  g_assert_true (json_object_get_boolean_member (line, "ok"));
  g_assert_cmpint (json_object_get_int_member (line, "applied"), ==, 3);
  g_assert_cmpint (count (f, "notes"), ==, 1);
  g_assert_cmpint (count (f, "tasks"), ==, 1);
}

/* schema, summary and the database's location -------------------------------- */

static const char books_schema[] =
  "{\"version\": 1, \"collections\": {\"books\": {\"fields\": {"
  "\"name\": {\"type\": \"string\", \"required\": true},"
  "\"pages\": {\"type\": \"integer\", \"min\": 1}},"
  "\"searchable\": [\"name\"]}}}";

static void
test_schema (Fixture       *f,
             gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "books.json", NULL);
  g_autofree char *broken = g_build_filename (f->dir, "broken.json", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(Result) created = NULL, invalid = NULL, bad_schema = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(JsonArray) found = NULL;

  g_assert_true (g_file_set_contents (path, books_schema, -1, NULL));
  g_assert_true (g_file_set_contents (broken, "{\"version\": ", -1, NULL));
  g_ptr_array_add (args, (gpointer) "--schema");
  g_ptr_array_add (args, path);
  g_ptr_array_add (args, (gpointer) "--db");
  g_ptr_array_add (args, f->db);
  g_ptr_array_add (args, (gpointer) "create");
  g_ptr_array_add (args, (gpointer) "books");
  g_ptr_array_add (args, (gpointer) "{\"name\": \"Dune\", \"pages\": 412}");
  created = run_argv (NULL, NULL, args);
  assert_ok (created);

  /* The database keeps its schema: later runs need no --schema. */
  invalid = run (f, "create", "books", "{\"name\": \"Empty\", \"pages\": 0}");
  assert_fails (invalid, 1, "tether: books.pages:");
  object = output_object (run (f));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (object, "collections"),
                                               "books"), ==, 1);
  g_assert_false (json_object_has_member (json_object_get_object_member (object, "collections"),
                                          "notes"));

  g_ptr_array_set_size (args, 0);
  g_ptr_array_add (args, (gpointer) "--schema");
  g_ptr_array_add (args, broken);
  g_ptr_array_add (args, (gpointer) "--db");
  g_ptr_array_add (args, f->db);
  bad_schema = run_argv (NULL, NULL, args);
  assert_fails (bad_schema, 1, "tether: ");
  g_assert_nonnull (strstr (bad_schema->err, "broken.json"));
  found = output_array (run (f, "search", "books", "dun"));
  g_assert_cmpuint (json_array_get_length (found), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (found, 0), "name"),
                   ==, "Dune");
}

static void
test_summary (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(JsonObject) empty = NULL, after = NULL;
  g_autoptr(Result) created = NULL;
  JsonObject *collections;

  empty = output_object (run (f));
  g_assert_cmpstr (json_object_get_string_member (empty, "database"), ==, f->db);
  g_assert_cmpint (json_object_get_int_member (empty, "schemaVersion"), ==, 1);
  collections = json_object_get_object_member (empty, "collections");
  g_assert_cmpuint (json_object_get_size (collections), ==, 2);
  g_assert_cmpint (json_object_get_int_member (collections, "notes"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (collections, "tasks"), ==, 0);

  created = run (f, "create", "tasks", "{\"title\": \"one\"}");
  assert_ok (created);
  after = output_object (run (f));
  collections = json_object_get_object_member (after, "collections");
  g_assert_cmpint (json_object_get_int_member (collections, "notes"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (collections, "tasks"), ==, 1);
}

static void
test_database_location (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *env_db = g_build_filename (f->dir, "from-env.db", NULL);
  g_autofree char *tether_db = g_strdup_printf ("TETHER_DB=%s", env_db);
  g_autofree char *xdg = g_build_filename (f->dir, "xdg", NULL);
  g_autofree char *xdg_data = g_strdup_printf ("XDG_DATA_HOME=%s", xdg);
  g_autofree char *default_db = g_build_filename (xdg, "tether", "tether.db", NULL);
  const char *with_env[] = { tether_db, NULL };
  const char *without_env[] = { xdg_data, NULL };
  g_autoptr(GPtrArray) create = g_ptr_array_new ();
  g_autoptr(GPtrArray) summary = g_ptr_array_new ();
  g_autoptr(Result) created = NULL;
  g_autoptr(JsonObject) env_summary = NULL, xdg_summary = NULL;

  g_ptr_array_add (create, (gpointer) "create");
  g_ptr_array_add (create, (gpointer) "notes");
  g_ptr_array_add (create, (gpointer) "{\"title\": \"where am I\"}");
  created = run_argv (with_env, NULL, create);
  assert_ok (created);
  g_assert_true (g_file_test (env_db, G_FILE_TEST_IS_REGULAR));
  env_summary = output_object (run_argv (with_env, NULL, summary));
  g_assert_cmpstr (json_object_get_string_member (env_summary, "database"), ==, env_db);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (env_summary,
                                                                             "collections"),
                                               "notes"), ==, 1);

  g_ptr_array_set_size (summary, 0);
  xdg_summary = output_object (run_argv (without_env, NULL, summary));
  g_assert_cmpstr (json_object_get_string_member (xdg_summary, "database"), ==, default_db);
  g_assert_true (g_file_test (default_db, G_FILE_TEST_IS_REGULAR));
  g_assert_false (g_file_test (f->db, G_FILE_TEST_EXISTS));
}

/* A folder given as the database is named as one, not blamed on the disk,
 * whichever way it came. */
static void
test_database_folder (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *expected = g_strdup_printf ("tether: %s: ", f->dir);
  g_autofree char *tether_db = g_strdup_printf ("TETHER_DB=%s", f->dir);
  const char *with_env[] = { tether_db, NULL };
  g_autoptr(GPtrArray) summary = g_ptr_array_new ();
  g_autoptr(GPtrArray) count = g_ptr_array_new ();
  g_autoptr(Result) from_option = NULL, from_env = NULL;

  g_ptr_array_add (summary, (gpointer) "--db");
  g_ptr_array_add (summary, f->dir);
  from_option = run_argv (NULL, NULL, summary);
  assert_fails (from_option, 1, expected);
  g_assert_nonnull (strstr (from_option->err, "(that is a folder: give the path of a database file)\n"));
  g_assert_null (strstr (from_option->err, "disk"));

  g_ptr_array_add (count, (gpointer) "count");
  g_ptr_array_add (count, (gpointer) "notes");
  from_env = run_argv (with_env, NULL, count);
  assert_fails (from_env, 1, expected);
  g_assert_nonnull (strstr (from_env->err, "(that is a folder: give the path of a database file)\n"));
}

/* A mistyped --db given to a sync command is named, and not created: the
 * file would be an empty database the user never meant to make. Only
 * `remote set`, which sets a database up for sync, makes one. */
static void
test_sync_missing_database (Fixture       *f,
                            gconstpointer  data)
{
  const char *commands[][3] = {
    { "sync", NULL, NULL },
    { "inspect", NULL, NULL },
    { "inspect", "--json", NULL },
    { "remote", "show", NULL },
    { "conflicts", NULL, NULL },
    { "conflicts", "restore", "some-conflict" },
    { "compact", NULL, NULL },
    { "retry-failed", NULL, NULL },
    { "discard", "some-change", NULL },
  };
  g_autofree char *expected = g_strdup_printf ("tether: %s does not exist (check --db and $TETHER_DB: "
                                               "sync commands never create a database)", f->db);
  g_autoptr(Result) set = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autoptr(Result) result = run (f, commands[i][0], commands[i][1], commands[i][2]);

      assert_fails (result, 1, expected);
      g_assert_false (g_file_test (f->db, G_FILE_TEST_EXISTS));
    }

  set = run (f, "remote", "set", "http://127.0.0.1:1/sync", "--no-token");
  assert_ok (set);
  g_assert_true (g_file_test (f->db, G_FILE_TEST_IS_REGULAR));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("TETHER_CLI") == NULL)
    {
      g_test_skip ("TETHER_CLI is not set (run through meson test)");
      return g_test_run ();
    }

#define ADD(path, func) \
  g_test_add ("/tether/cli/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("crud", test_crud);
  ADD ("errors", test_errors);
  ADD ("usage", test_usage);
  ADD ("query", test_query);
  ADD ("search", test_search);
  ADD ("export-import", test_export_import);
  ADD ("export-import/times", test_export_import_times);
  ADD ("export/slow-reader", test_export_slow_reader);
  ADD ("import/bad-line", test_import_bad_line);
  ADD ("import/slow-producer", test_import_slow_producer);
  ADD ("import/large", test_import_large);
  ADD ("import/long-line", test_import_long_line);
  ADD ("apply", test_apply);
  ADD ("apply/members", test_apply_members);
  ADD ("apply/single-transaction", test_apply_single_transaction);
  ADD ("apply/slow-producer", test_apply_slow_producer);
  ADD ("schema", test_schema);
  ADD ("summary", test_summary);
  ADD ("database-location", test_database_location);
  ADD ("database-folder", test_database_folder);
  ADD ("sync/missing-database", test_sync_missing_database);
#undef ADD

  return g_test_run ();
}
