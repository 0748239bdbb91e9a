/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-query"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"
#include "tether-private.h"

/* Records are named by their title, so a query's result reads as "a,b,c". */
#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"tasks\": {\"fields\": {" \
  "   \"title\":    {\"type\": \"string\", \"required\": true}," \
  "   \"priority\": {\"type\": \"integer\"}," \
  "   \"score\":    {\"type\": \"number\"}," \
  "   \"done\":     {\"type\": \"boolean\", \"default\": false}," \
  "   \"due\":      {\"type\": \"datetime\"}," \
  "   \"tags\":     {\"type\": \"array\", \"items\": {\"type\": \"string\"}}," \
  "   \"meta\":     {\"type\": \"object\"}}," \
  "  \"indexes\": [{\"field\": \"priority\"}, {\"fields\": [\"done\", \"due\"]}," \
  "              {\"field\": \"title\"}, {\"field\": \"createdAt\"}]}," \
  " \"notes\": {\"fields\": {" \
  "   \"title\":  {\"type\": \"string\", \"required\": true}," \
  "   \"pinned\": {\"type\": \"boolean\", \"default\": false}}," \
  "  \"indexes\": [{\"fields\": [\"pinned\", \"updatedAt\"]}, {\"field\": \"updatedAt\"}]}}}"

typedef struct {
  TetherDatabase   *db;
  TetherCollection *tasks;
  TetherCollection *notes;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;

  f->db = tether_test_open (NULL, schema);
  f->tasks = tether_database_get_collection (f->db, "tasks", &error);
  g_assert_no_error (error);
  f->notes = tether_database_get_collection (f->db, "notes", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->db);
}

static TetherQuery *
where (TetherQuery *query, const char *field, TetherOp op, const char *json)
{
  g_autoptr(JsonNode) value = tether_test_node (json);

  return tether_query_where (query, field, op, value);
}

static TetherQuery *
or_where (TetherQuery *query, guint group, const char *field, TetherOp op, const char *json)
{
  g_autoptr(JsonNode) value = tether_test_node (json);

  return tether_query_or_where (query, group, field, op, value);
}

static char *
join_titles (GPtrArray *records)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    g_string_append_printf (out, "%s%s", i ? "," : "",
                            tether_record_get_string (g_ptr_array_index (records, i), "title", "?"));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_titles (TetherQuery *query, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = tether_query_run (query, &error);
  g_autofree char *titles = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (records);
  titles = join_titles (records);
  g_assert_cmpstr (titles, ==, expected);
}

/* The query's stored error: also reported by every call that runs it. */
static void
assert_query_error (TetherQuery *query, int code, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(TetherRecord) first = NULL;
  g_autofree char *plan = NULL;

  g_assert_nonnull (tether_query_get_error (query));
  g_assert_error ((GError *) tether_query_get_error (query), TETHER_QUERY_ERROR, code);
  g_assert_cmpstr (tether_query_get_error (query)->message, ==, message);

  records = tether_query_run (query, &error);
  g_assert_null (records);
  g_assert_error (error, TETHER_QUERY_ERROR, code);
  g_clear_error (&error);
  first = tether_query_first (query, &error);
  g_assert_null (first);
  g_assert_error (error, TETHER_QUERY_ERROR, code);
  g_clear_error (&error);
  g_assert_cmpint (tether_query_count (query, &error), ==, -1);
  g_assert_error (error, TETHER_QUERY_ERROR, code);
  g_clear_error (&error);
  plan = tether_query_explain (query, &error);
  g_assert_null (plan);
  g_assert_error (error, TETHER_QUERY_ERROR, code);
}

static void
seed_tasks (Fixture *f)
{
  static const char * const tasks[] = {
    "{\"id\": \"t5\", \"title\": \"a\", \"priority\": 2, \"score\": 1.5, \"tags\": [\"work\", \"home\"]}",
    "{\"id\": \"t4\", \"title\": \"b\", \"priority\": 1, \"score\": 3, \"done\": true, \"tags\": [\"home\"]}",
    "{\"id\": \"t3\", \"title\": \"c\", \"priority\": 3, \"tags\": []}",
    "{\"id\": \"t2\", \"title\": \"d\", \"score\": 0.5, \"done\": true}",
    "{\"id\": \"t1\", \"title\": \"e\", \"priority\": 2, \"tags\": [\"work\"]}",
    NULL
  };

  /* ids run against insertion order, so an id order cannot pass for it */
  tether_test_create_all (f->tasks, tasks);
}

/* Conditions ----------------------------------------------------------------- */

static void
test_compare (Fixture *f, gconstpointer data)
{
  struct { const char *field; TetherOp op; const char *value; const char *titles; } cases[] = {
    { "priority", TETHER_OP_EQ, "2", "a,e" },
    { "priority", TETHER_OP_LT, "2", "b" },
    { "priority", TETHER_OP_LE, "2", "a,b,e" },
    { "priority", TETHER_OP_GT, "2", "c" },
    { "priority", TETHER_OP_GE, "2", "a,c,e" },
    { "score", TETHER_OP_GT, "1", "a,b" },
    { "score", TETHER_OP_LT, "1.5", "d" },
    { "score", TETHER_OP_EQ, "3.0", "b" },
    { "done", TETHER_OP_EQ, "true", "b,d" },
    { "done", TETHER_OP_EQ, "false", "a,c,e" },
    { "title", TETHER_OP_GE, "\"c\"", "c,d,e" },
    { "title", TETHER_OP_IN, "[\"b\", \"e\", \"zz\"]", "b,e" },
    { "priority", TETHER_OP_IN, "[1, 3]", "b,c" },
    { "priority", TETHER_OP_IN, "[]", "" },
    { "title", TETHER_OP_IN, "[]", "" },
  };

  seed_tasks (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("%s %s %s", cases[i].field, tether_op_to_string (cases[i].op), cases[i].value);
      where (query, cases[i].field, cases[i].op, cases[i].value);
      assert_titles (query, cases[i].titles);
    }
}

static void
test_absent_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) ne = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) eq_null = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) ne_null = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) lt = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) tags_null = tether_query_new (f->tasks);

  seed_tasks (f);
  /* "not 2" includes the task that has no priority at all */
  assert_titles (where (ne, "priority", TETHER_OP_NE, "2"), "b,c,d");
  assert_titles (where (eq_null, "priority", TETHER_OP_EQ, "null"), "d");
  assert_titles (where (ne_null, "priority", TETHER_OP_NE, "null"), "a,b,c,e");
  /* an absent value is not "less than" anything */
  assert_titles (where (lt, "priority", TETHER_OP_LT, "3"), "a,b,e");
  assert_titles (where (tags_null, "tags", TETHER_OP_EQ, "null"), "d");
}

static void
test_contains (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) work = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) none = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) substring = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) partial_item = tether_query_new (f->tasks);
  static const char * const tasks[] = {
    "{\"title\": \"Call the bank\", \"tags\": [\"work\", \"phone\"]}",
    "{\"title\": \"Bankrupt\", \"tags\": [\"homework\"]}",
    "{\"title\": \"Water plants\", \"tags\": [\"home\"]}",
    "{\"title\": \"call back\"}",
    NULL
  };

  tether_test_create_all (f->tasks, tasks);
  assert_titles (where (work, "tags", TETHER_OP_CONTAINS, "\"work\""), "Call the bank");
  assert_titles (where (none, "tags", TETHER_OP_CONTAINS, "\"garden\""), "");
  /* on a string, contains is a substring test */
  assert_titles (where (substring, "title", TETHER_OP_CONTAINS, "\"ank\""), "Call the bank,Bankrupt");
  /* on an array, an item must equal the value; "hom" is no item */
  assert_titles (where (partial_item, "tags", TETHER_OP_CONTAINS, "\"hom\""), "");
}

static void
test_prefix (Fixture *f, gconstpointer data)
{
  static const char * const tasks[] = {
    "{\"title\": \"Éclair\"}",
    "{\"title\": \"Eclipse\"}",
    "{\"title\": \"École\"}",
    "{\"title\": \"Ém\"}",
    "{\"title\": \"É\"}",
    "{\"title\": \"ÿes\"}",
    "{\"title\": \"日本語\"}",
    "{\"title\": \"50% off\"}",
    "{\"title\": \"500 words\"}",
    "{\"title\": \"ab\"}",
    "{\"title\": \"abc\"}",
    "{\"title\": \"a\"}",
    NULL
  };
  struct { const char *prefix; const char *titles; } cases[] = {
    { "\"É\"", "Éclair,École,Ém,É" },
    { "\"Éc\"", "Éclair,École" },
    { "\"E\"", "Eclipse" },
    { "\"ÿ\"", "ÿes" },
    { "\"日\"", "日本語" },
    { "\"50%\"", "50% off" },        /* no LIKE wildcards */
    { "\"ab\"", "ab,abc" },
    { "\"abcd\"", "" },
    { "\"\"", "Éclair,Eclipse,École,Ém,É,ÿes,日本語,50% off,500 words,ab,abc,a" },
  };

  tether_test_create_all (f->tasks, tasks);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("prefix %s", cases[i].prefix);
      assert_titles (where (query, "title", TETHER_OP_PREFIX, cases[i].prefix), cases[i].titles);
    }
}

/* An empty prefix matches every string, but not an absent value. */
static void
test_prefix_empty_skips_absent (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"c\": {\"fields\": {"
    " \"title\": {\"type\": \"string\"}, \"label\": {\"type\": \"string\"}}}}}");
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, schema);
  TetherCollection *c = tether_database_get_collection (db, "c", NULL);
  g_autoptr(TetherQuery) query = tether_query_new (c);
  static const char * const records[] = {
    "{\"title\": \"with\", \"label\": \"x\"}",
    "{\"title\": \"empty\", \"label\": \"\"}",
    "{\"title\": \"without\"}",
    NULL
  };

  tether_test_create_all (c, records);
  assert_titles (where (query, "label", TETHER_OP_PREFIX, "\"\""), "with,empty");
}

static void
test_datetime_time_zones (Fixture *f, gconstpointer data)
{
  static const char * const tasks[] = {
    "{\"title\": \"nine utc\", \"due\": \"2024-03-10T09:00:00Z\"}",
    "{\"title\": \"eight utc\", \"due\": \"2024-03-10T10:00:00+02:00\"}",
    "{\"title\": \"ten utc\", \"due\": \"2024-03-10T05:00:00-05:00\"}",
    "{\"title\": \"next day\", \"due\": \"2024-03-11T00:30:00+01:00\"}",
    "{\"title\": \"no due\"}",
    NULL
  };
  struct { TetherOp op; const char *value; const char *titles; } cases[] = {
    { TETHER_OP_EQ, "\"2024-03-10T08:00:00Z\"", "eight utc" },
    { TETHER_OP_EQ, "\"2024-03-10T04:00:00.000-05:00\"", "nine utc" },
    { TETHER_OP_LT, "\"2024-03-10T04:30:00-04:00\"", "eight utc" },
    { TETHER_OP_GE, "\"2024-03-10T11:00:00+02:00\"", "nine utc,ten utc,next day" },
    { TETHER_OP_GE, "\"2024-03-10\"", "nine utc,eight utc,ten utc,next day" },
    { TETHER_OP_GE, "\"2024-03-10T23:30:00Z\"", "next day" },
    { TETHER_OP_IN, "[\"2024-03-10T11:00:00+02:00\", \"2024-03-10T10:00:00Z\"]", "nine utc,ten utc" },
    { TETHER_OP_NE, "\"2024-03-10T09:00:00+00:00\"", "eight utc,ten utc,next day,no due" },
  };
  g_autoptr(TetherQuery) sorted = tether_query_new (f->tasks);

  tether_test_create_all (f->tasks, tasks);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("due %s %s", tether_op_to_string (cases[i].op), cases[i].value);
      assert_titles (where (query, "due", cases[i].op, cases[i].value), cases[i].titles);
    }
  /* instants order as instants, not as the text someone typed */
  tether_query_sort (where (sorted, "due", TETHER_OP_NE, "null"), "due", FALSE);
  assert_titles (sorted, "eight utc,nine utc,ten utc,next day");
}

static void
test_or_groups (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) one = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) two = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) with_where = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) text = tether_query_new (f->tasks);

  seed_tasks (f);
  /* priority 3 OR tagged home */
  or_where (one, 0, "priority", TETHER_OP_EQ, "3");
  or_where (one, 0, "tags", TETHER_OP_CONTAINS, "\"home\"");
  assert_titles (one, "a,b,c");

  /* (priority 3 OR tagged home) AND (done OR score > 1) */
  or_where (two, 0, "priority", TETHER_OP_EQ, "3");
  or_where (two, 0, "tags", TETHER_OP_CONTAINS, "\"home\"");
  or_where (two, 1, "done", TETHER_OP_EQ, "true");
  or_where (two, 1, "score", TETHER_OP_GT, "1");
  assert_titles (two, "a,b");

  /* not done AND (priority 1 OR priority 2) */
  where (with_where, "done", TETHER_OP_EQ, "false");
  or_where (with_where, 0, "priority", TETHER_OP_EQ, "1");
  or_where (with_where, 0, "priority", TETHER_OP_EQ, "2");
  assert_titles (with_where, "a,e");
  g_assert_cmpint (tether_query_count (with_where, NULL), ==, 2);

  /* groups may be numbered with gaps; empty groups constrain nothing */
  tether_query_or_where_text (text, 3, "title == d");
  tether_query_or_where_text (text, 3, "priority >= 3");
  assert_titles (text, "c,d");
}

/* Sorting and windows ---------------------------------------------------------- */

static void
test_sort (Fixture *f, gconstpointer data)
{
  struct { const char *first; gboolean first_desc; const char *second; gboolean second_desc; const char *titles; } cases[] = {
    { "priority", FALSE, NULL, FALSE, "d,b,a,e,c" },      /* absent first, ties in insertion order */
    { "priority", TRUE, NULL, FALSE, "c,e,a,b,d" },       /* ties in reverse insertion order */
    { "done", FALSE, "priority", TRUE, "c,e,a,b,d" },
    { "done", TRUE, "priority", FALSE, "d,b,a,e,c" },
    { "done", FALSE, "title", TRUE, "e,c,a,d,b" },
    { "score", TRUE, "title", FALSE, "b,a,d,c,e" },
    { "title", TRUE, NULL, FALSE, "e,d,c,b,a" },
    { "id", FALSE, NULL, FALSE, "e,d,c,b,a" },
    { "createdAt", FALSE, NULL, FALSE, "a,b,c,d,e" },
    { "createdAt", TRUE, NULL, FALSE, "e,d,c,b,a" },
  };

  seed_tasks (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("sort %s %s", cases[i].first, cases[i].second ? cases[i].second : "");
      tether_query_sort (query, cases[i].first, cases[i].first_desc);
      if (cases[i].second != NULL)
        tether_query_sort (query, cases[i].second, cases[i].second_desc);
      assert_titles (query, cases[i].titles);
    }
}

static void
test_window (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) offset_only = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) beyond = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) nothing = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) zero = tether_query_new (f->tasks);
  g_autoptr(TetherRecord) first = NULL;
  g_autoptr(GError) error = NULL;

  seed_tasks (f);
  tether_query_sort (query, "title", TRUE);
  tether_query_limit (query, 2);
  tether_query_offset (query, 1);
  assert_titles (query, "d,c");
  /* count ignores the window */
  g_assert_cmpint (tether_query_count (query, &error), ==, 5);
  g_assert_no_error (error);
  /* first respects the sort and the offset */
  first = tether_query_first (query, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (first, "title", NULL), ==, "d");

  assert_titles (tether_query_offset (offset_only, 3), "d,e");
  assert_titles (tether_query_offset (beyond, 10), "");
  assert_titles (tether_query_limit (zero, 0), "");
  g_assert_cmpint (tether_query_count (zero, NULL), ==, 5);

  g_clear_object (&first);
  first = tether_query_first (where (nothing, "priority", TETHER_OP_GT, "3"), &error);
  g_assert_null (first);
  g_assert_no_error (error);
  g_assert_cmpint (tether_query_count (nothing, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_bad_window (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) limit = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) offset = tether_query_new (f->tasks);

  assert_query_error (tether_query_limit (limit, -5), TETHER_QUERY_ERROR_BAD_VALUE,
                      "limit must be 0 or more, not -5");
  assert_query_error (tether_query_offset (offset, -1), TETHER_QUERY_ERROR_BAD_VALUE,
                      "offset must be 0 or more, not -1");
}

/* Built-in fields --------------------------------------------------------------- */

static char *
iso_ms (gint64 ms, int offset_seconds)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (ms / 1000);
  g_autoptr(GDateTime) exact = g_date_time_add (utc, (ms % 1000) * 1000);
  g_autoptr(GTimeZone) zone = g_time_zone_new_offset (offset_seconds);
  g_autoptr(GDateTime) local = g_date_time_to_timezone (exact, zone);

  return g_date_time_format (local, "%Y-%m-%dT%H:%M:%S.%f%:z");
}

static void
test_builtin_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(TetherQuery) by_id = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) ids_in = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) since = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) until = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) recent = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) touched = tether_query_new (f->tasks);
  g_autoptr(JsonObject) patch = tether_test_object ("{\"priority\": 3}");
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id_json = NULL;
  g_autofree char *ids_json = NULL;
  g_autofree char *since_json = NULL;
  g_autofree char *until_json = NULL;
  g_autofree char *touched_json = NULL;
  g_autofree char *since_iso = NULL;
  g_autofree char *until_iso = NULL;
  g_autofree char *touched_iso = NULL;

  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"title\": \"r%u\"}", i);

      g_ptr_array_add (records, tether_test_create (f->tasks, json));
      g_usleep (3000);   /* distinct creation times */
    }
#define REC(i) ((TetherRecord *) g_ptr_array_index (records, i))
  id_json = g_strdup_printf ("\"%s\"", tether_record_get_id (REC (2)));
  assert_titles (where (by_id, "id", TETHER_OP_EQ, id_json), "r2");
  ids_json = g_strdup_printf ("[\"%s\", \"%s\"]", tether_record_get_id (REC (3)), tether_record_get_id (REC (0)));
  assert_titles (where (ids_in, "id", TETHER_OP_IN, ids_json), "r0,r3");

  /* ISO datetimes in any zone, to the millisecond */
  since_iso = iso_ms (tether_record_get_created_at (REC (1)), 0);
  since_json = g_strdup_printf ("\"%s\"", since_iso);
  assert_titles (where (since, "createdAt", TETHER_OP_GE, since_json), "r1,r2,r3");
  until_iso = iso_ms (tether_record_get_created_at (REC (2)), -7 * 3600);
  until_json = g_strdup_printf ("\"%s\"", until_iso);
  assert_titles (where (until, "createdAt", TETHER_OP_LT, until_json), "r0,r1");

  updated = tether_collection_update (f->tasks, tether_record_get_id (REC (1)), patch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tether_record_get_updated_at (updated), >, tether_record_get_created_at (REC (3)));
  assert_titles (tether_query_sort (recent, "updatedAt", TRUE), "r1,r3,r2,r0");
  touched_iso = iso_ms (tether_record_get_updated_at (updated), 5 * 3600 + 1800);
  touched_json = g_strdup_printf ("\"%s\"", touched_iso);
  assert_titles (where (touched, "updatedAt", TETHER_OP_GE, touched_json), "r1");
#undef REC
}

/* Errors -------------------------------------------------------------------------- */

#define TASK_FIELDS "(fields: id, createdAt, updatedAt, title, priority, score, done, due, tags, meta)"

static void
test_unknown_field (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) condition = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) sort = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) or_group = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) other_collection = tether_query_new (f->notes);
  g_autoptr(TetherQuery) first_wins = tether_query_new (f->tasks);

  seed_tasks (f);
  assert_query_error (where (condition, "colour", TETHER_OP_EQ, "\"red\""), TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "tasks.colour: no such field in the schema " TASK_FIELDS);
  assert_query_error (tether_query_sort (sort, "Priority", FALSE), TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "tasks.Priority: no such field in the schema " TASK_FIELDS);
  assert_query_error (or_where (or_group, 2, "owner", TETHER_OP_EQ, "1"), TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "tasks.owner: no such field in the schema " TASK_FIELDS);
  /* a field of another collection is no field of this one */
  assert_query_error (where (other_collection, "priority", TETHER_OP_EQ, "1"), TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "notes.priority: no such field in the schema (fields: id, createdAt, updatedAt, title, pinned)");

  /* the first mistake is the one reported; later builder calls do not hide it */
  where (first_wins, "colour", TETHER_OP_EQ, "\"red\"");
  where (first_wins, "priority", TETHER_OP_EQ, "\"high\"");
  where (first_wins, "title", TETHER_OP_EQ, "\"a\"");
  assert_query_error (first_wins, TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "tasks.colour: no such field in the schema " TASK_FIELDS);
}

static void
test_bad_value (Fixture *f, gconstpointer data)
{
  struct { const char *field; TetherOp op; const char *value; const char *message; } cases[] = {
    { "priority", TETHER_OP_EQ, "\"2\"", "tasks.priority: expected an integer value, got string" },
    { "priority", TETHER_OP_GT, "true", "tasks.priority: expected an integer value, got boolean" },
    { "score", TETHER_OP_LT, "\"1.5\"", "tasks.score: expected a number value, got string" },
    { "title", TETHER_OP_EQ, "42", "tasks.title: expected a string value, got number" },
    { "done", TETHER_OP_EQ, "\"yes\"", "tasks.done: expected a boolean value, got string" },
    { "priority", TETHER_OP_IN, "2", "tasks.priority: 'in' needs a JSON array such as [1, 2], got number" },
    { "priority", TETHER_OP_IN, "[1, \"2\"]", "tasks.priority: expected an integer value, got string" },
    { "tags", TETHER_OP_CONTAINS, "3", "tasks.tags: expected a string value, got number" },
    { "title", TETHER_OP_PREFIX, "7", "tasks.title: expected a string value, got number" },
    { "due", TETHER_OP_GT, "\"tomorrow\"",
      "tasks.due: expected an ISO 8601 datetime such as 2026-11-22T10:00:00Z, got string" },
    { "createdAt", TETHER_OP_GT, "\"last week\"",
      "tasks.createdAt: expected an ISO 8601 datetime such as 2026-11-22T10:00:00Z, got string" },
    { "title", TETHER_OP_LT, "null", "tasks.title: expected a string value, got null" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("%s %s %s", cases[i].field, tether_op_to_string (cases[i].op), cases[i].value);
      assert_query_error (where (query, cases[i].field, cases[i].op, cases[i].value),
                          TETHER_QUERY_ERROR_BAD_VALUE, cases[i].message);
    }
}

static void
test_bad_operator (Fixture *f, gconstpointer data)
{
  struct { const char *field; TetherOp op; const char *value; const char *message; } cases[] = {
    { "done", TETHER_OP_CONTAINS, "true", "tasks.done: 'contains' works on array and string fields, not boolean" },
    { "priority", TETHER_OP_CONTAINS, "1", "tasks.priority: 'contains' works on array and string fields, not integer" },
    { "tags", TETHER_OP_LT, "\"work\"", "tasks.tags: '<' cannot compare array fields; use 'contains'" },
    { "tags", TETHER_OP_EQ, "[\"work\"]", "tasks.tags: '==' cannot compare array fields; use 'contains'" },
    { "meta", TETHER_OP_GE, "{}", "tasks.meta: '>=' cannot compare object fields" },
    { "priority", TETHER_OP_PREFIX, "\"1\"", "tasks.priority: 'prefix' works on string fields, not integer" },
    { "done", TETHER_OP_PREFIX, "\"t\"", "tasks.done: 'prefix' works on string fields, not boolean" },
    { "createdAt", TETHER_OP_PREFIX, "\"2024\"",
      "tasks.createdAt: 'prefix' does not apply to the record's timestamps; use >= and <" },
  };
  g_autoptr(TetherQuery) sort_array = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) sort_object = tether_query_new (f->tasks);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("%s %s %s", cases[i].field, tether_op_to_string (cases[i].op), cases[i].value);
      assert_query_error (where (query, cases[i].field, cases[i].op, cases[i].value),
                          TETHER_QUERY_ERROR_BAD_OPERATOR, cases[i].message);
    }
  assert_query_error (tether_query_sort (sort_array, "tags", FALSE), TETHER_QUERY_ERROR_BAD_OPERATOR,
                      "tasks.tags: cannot sort by an array field");
  assert_query_error (tether_query_sort (sort_object, "meta", TRUE), TETHER_QUERY_ERROR_BAD_OPERATOR,
                      "tasks.meta: cannot sort by an object field");
}

/* Text conditions ------------------------------------------------------------------ */

static void
test_text_conditions (Fixture *f, gconstpointer data)
{
  struct { const char *condition; const char *titles; } cases[] = {
    { "priority >= 2", "a,c,e" },
    { "priority>=2", "a,c,e" },
    { "  priority   <   2  ", "b" },
    { "priority != 2", "b,c,d" },
    { "priority == null", "d" },
    { "priority in [1, 3]", "b,c" },
    { "tags contains work", "a,e" },
    { "tags contains \"home\"", "a,b" },
    { "title == b", "b" },
    { "title == \"quoted\"", "quoted" },
    { "title == two words", "two words" },
    { "title == 42", "42" },
    { "title prefix tw", "two words" },
    { "done == true", "b,d" },
    { "score > 1", "a,b" },
  };
  static const char * const extra[] = {
    "{\"title\": \"quoted\", \"done\": true, \"priority\": 0}",
    "{\"title\": \"two words\", \"done\": true, \"priority\": 0}",
    "{\"title\": \"42\", \"done\": true, \"priority\": 0}",
    NULL
  };

  seed_tasks (f);
  tether_test_create_all (f->tasks, extra);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("%s", cases[i].condition);
      /* the extra records are done and priority 0: keep them out unless asked for */
      if (strstr (cases[i].condition, "title") == NULL)
        where (query, "priority", TETHER_OP_NE, "0");
      tether_query_where_text (query, cases[i].condition);
      assert_titles (query, cases[i].titles);
    }
}

static void
test_text_condition_errors (Fixture *f, gconstpointer data)
{
  struct { const char *condition; int code; const char *message; } cases[] = {
    { "priority >=", TETHER_QUERY_ERROR_PARSE,
      "condition \"priority >=\": the value is missing (write FIELD OP VALUE, e.g. \"priority >= 2\")" },
    { "priority", TETHER_QUERY_ERROR_PARSE,
      "condition \"priority\": an operator is missing (write FIELD OP VALUE, e.g. \"priority >= 2\")" },
    { "", TETHER_QUERY_ERROR_PARSE,
      "condition \"\": it does not start with a field name (write FIELD OP VALUE, e.g. \"priority >= 2\")" },
    { "== 2", TETHER_QUERY_ERROR_PARSE,
      "condition \"== 2\": it does not start with a field name (write FIELD OP VALUE, e.g. \"priority >= 2\")" },
    { "priority ~= 2", TETHER_QUERY_ERROR_BAD_OPERATOR,
      "condition \"priority ~= 2\": unknown operator '~=' (use == != < <= > >= in contains prefix)" },
    { "priority => 2", TETHER_QUERY_ERROR_BAD_OPERATOR,
      "condition \"priority => 2\": unknown operator '=>' (use == != < <= > >= in contains prefix)" },
    { "title like a%", TETHER_QUERY_ERROR_BAD_OPERATOR,
      "condition \"title like a%\": unknown operator 'like' (use == != < <= > >= in contains prefix)" },
    { "colour == red", TETHER_QUERY_ERROR_UNKNOWN_FIELD,
      "tasks.colour: no such field in the schema " TASK_FIELDS },
    { "priority == high", TETHER_QUERY_ERROR_BAD_VALUE,
      "tasks.priority: expected an integer value, got string" },
    { "priority in 2", TETHER_QUERY_ERROR_BAD_VALUE,
      "tasks.priority: 'in' needs a JSON array such as [1, 2], got number" },
    { "done contains true", TETHER_QUERY_ERROR_BAD_OPERATOR,
      "tasks.done: 'contains' works on array and string fields, not boolean" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->tasks);

      g_test_message ("%s", cases[i].condition);
      assert_query_error (tether_query_where_text (query, cases[i].condition), cases[i].code, cases[i].message);
    }
}

/* SQL injection ---------------------------------------------------------------------- */

static void
test_injection_field_names (Fixture *f, gconstpointer data)
{
  const char *fields[] = {
    "title') OR 1=1 --",
    "title' OR '1'='1",
    "title\"",
    "title.x",
    "data",
    "rowid",
    "title,'$.x')",
  };

  seed_tasks (f);
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autoptr(TetherQuery) condition = tether_query_new (f->tasks);
      g_autoptr(TetherQuery) sort = tether_query_new (f->tasks);
      g_autofree char *message = g_strdup_printf ("tasks.%s: no such field in the schema " TASK_FIELDS, fields[i]);

      g_test_message ("field %s", fields[i]);
      assert_query_error (where (condition, fields[i], TETHER_OP_EQ, "\"a\""),
                          TETHER_QUERY_ERROR_UNKNOWN_FIELD, message);
      assert_query_error (tether_query_sort (sort, fields[i], FALSE), TETHER_QUERY_ERROR_UNKNOWN_FIELD, message);
    }
  g_assert_cmpint (tether_collection_count (f->tasks, NULL, NULL), ==, 5);
}

static void
test_injection_values (Fixture *f, gconstpointer data)
{
  static const char * const evil[] = {
    "'; DROP TABLE t_tasks; --",
    "a' OR '1'='1",
    "\"); DELETE FROM t_tasks; --",
    "?1",
    "%",
  };

  seed_tasks (f);
  for (guint i = 0; i < G_N_ELEMENTS (evil); i++)
    {
      g_autoptr(JsonObject) data_obj = json_object_new ();
      g_autoptr(JsonNode) value = json_node_init_string (json_node_alloc (), evil[i]);
      g_autoptr(JsonNode) array = tether_test_node ("[]");
      g_autoptr(TetherQuery) eq = tether_query_new (f->tasks);
      g_autoptr(TetherQuery) prefix = tether_query_new (f->tasks);
      g_autoptr(TetherQuery) in = tether_query_new (f->tasks);
      g_autoptr(TetherQuery) text = tether_query_new (f->tasks);
      g_autoptr(TetherRecord) stored = NULL;
      g_autofree char *condition = g_strdup_printf ("title == %s", evil[i]);
      g_autoptr(GError) error = NULL;

      g_test_message ("value %s", evil[i]);
      json_object_set_string_member (data_obj, "title", evil[i]);
      json_array_add_string_element (json_node_get_array (array), evil[i]);
      stored = tether_collection_create (f->tasks, data_obj, &error);
      g_assert_no_error (error);

      assert_titles (tether_query_where (eq, "title", TETHER_OP_EQ, value), evil[i]);
      assert_titles (tether_query_where (prefix, "title", TETHER_OP_PREFIX, value), evil[i]);
      assert_titles (tether_query_where (in, "title", TETHER_OP_IN, array), evil[i]);
      /* the CLI's text form takes a bare value as text, whatever it contains */
      assert_titles (tether_query_where_text (text, condition), evil[i]);
      g_assert_cmpint (tether_collection_count (f->tasks, NULL, &error), ==, 5 + i + 1);
      g_assert_no_error (error);
    }
}

/* Query plans ------------------------------------------------------------------------ */

static char *
explain (TetherQuery *query)
{
  g_autoptr(GError) error = NULL;
  char *plan = tether_query_explain (query, &error);

  g_assert_no_error (error);
  g_assert_nonnull (plan);
  g_test_message ("plan:\n%s", plan);
  return plan;
}

static void
assert_plan_uses (TetherQuery *query, const char *index, gboolean sorted_by_index)
{
  g_autofree char *plan = explain (query);
  g_autofree char *using = g_strdup_printf ("USING INDEX %s", index);

  if (strstr (plan, using) == NULL)
    g_error ("expected the plan to use %s, got:\n%s", index, plan);
  if (sorted_by_index && strstr (plan, "USE TEMP B-TREE FOR ORDER BY") != NULL)
    g_error ("expected %s to give the order, but the plan sorts:\n%s", index, plan);
}

static void
test_plan_uses_indexes (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) eq = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) sorted = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) sorted_desc = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) composite_eq = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) pinned_recent = tether_query_new (f->notes);
  g_autoptr(TetherQuery) pinned_first = tether_query_new (f->notes);
  g_autoptr(TetherQuery) recent = tether_query_new (f->notes);
  g_autoptr(TetherQuery) created = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) by_id = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) range_sorted = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) range_only = tether_query_new (f->tasks);
  g_autoptr(TetherQuery) prefix_only = tether_query_new (f->tasks);

  seed_tasks (f);
  assert_plan_uses (where (eq, "priority", TETHER_OP_EQ, "2"), "i_tasks_priority", FALSE);
  assert_plan_uses (tether_query_limit (tether_query_sort (sorted, "title", FALSE), 10), "i_tasks_title", TRUE);
  assert_plan_uses (tether_query_limit (tether_query_sort (sorted_desc, "priority", TRUE), 10), "i_tasks_priority", TRUE);
  /* equality on the first field of a composite index, sort by the second */
  tether_query_sort (where (composite_eq, "done", TETHER_OP_EQ, "false"), "due", FALSE);
  assert_plan_uses (tether_query_limit (composite_eq, 20), "i_tasks_done_due", TRUE);
  tether_query_sort (where (pinned_recent, "pinned", TETHER_OP_EQ, "true"), "updatedAt", TRUE);
  assert_plan_uses (tether_query_limit (pinned_recent, 20), "i_notes_pinned_updatedAt", TRUE);
  tether_query_sort (tether_query_sort (pinned_first, "pinned", TRUE), "updatedAt", TRUE);
  assert_plan_uses (tether_query_limit (pinned_first, 20), "i_notes_pinned_updatedAt", TRUE);
  assert_plan_uses (tether_query_limit (tether_query_sort (recent, "updatedAt", TRUE), 50),
                    "i_notes_updatedAt", TRUE);
  assert_plan_uses (tether_query_limit (tether_query_sort (created, "createdAt", FALSE), 5),
                    "i_tasks_createdAt", TRUE);
  assert_plan_uses (where (by_id, "id", TETHER_OP_EQ, "\"t1\""), "sqlite_autoindex_t_tasks_1", FALSE);
  tether_query_sort (where (range_sorted, "priority", TETHER_OP_GE, "2"), "priority", FALSE);
  assert_plan_uses (tether_query_limit (range_sorted, 10), "i_tasks_priority", TRUE);
  /* a range with no sort must not fall back to a full scan in insertion order */
  assert_plan_uses (where (range_only, "priority", TETHER_OP_GT, "1"), "i_tasks_priority", FALSE);
  assert_plan_uses (where (prefix_only, "title", TETHER_OP_PREFIX, "\"Wa\""), "i_tasks_title", FALSE);
}

/* The live query's one-record check looks the record up by its key: the
 * range hint of a plain query would make it scan the range per change. */
static void
test_plan_match_one_by_key (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) range = tether_query_new (f->tasks);
  TetherCompiledQuery *compiled = NULL;
  g_autoptr(GString) plan = g_string_new (NULL);
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt = NULL;

  where (range, "priority", TETHER_OP_GT, "1");
  compiled = _tether_query_compile (range, TETHER_COMPILE_MATCH_ONE, NULL);
  sql = g_strconcat ("EXPLAIN QUERY PLAN ", compiled->sql->str, NULL);
  g_assert_cmpint (sqlite3_prepare_v2 (_tether_database_get_handle (f->db), sql, -1, &stmt, NULL), ==, SQLITE_OK);
  _tether_compiled_query_bind (compiled, stmt, NULL);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (plan, "%s\n", (const char *) sqlite3_column_text (stmt, 3));
  sqlite3_finalize (stmt);
  _tether_compiled_query_free (compiled);
  g_test_message ("plan:\n%s", plan->str);
  g_assert_null (strstr (plan->str, "i_tasks_priority"));
  g_assert_nonnull (strstr (plan->str, "(id=?)"));
}

static void
test_plan_default_schema (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, schema);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  TetherCollection *tasks = tether_database_get_collection (db, "tasks", NULL);
  g_autoptr(TetherQuery) note_list = tether_query_new (notes);
  g_autoptr(TetherQuery) title = tether_query_new (notes);
  g_autoptr(TetherQuery) open_tasks = tether_query_new (tasks);
  g_autoptr(TetherQuery) priority = tether_query_new (tasks);

  /* the app's note list: pinned first, then most recently edited */
  tether_query_sort (tether_query_sort (note_list, "pinned", TRUE), "updatedAt", TRUE);
  assert_plan_uses (tether_query_limit (note_list, 50), "i_notes_pinned_updatedAt", TRUE);
  assert_plan_uses (where (title, "title", TETHER_OP_EQ, "\"Groceries\""), "i_notes_title", FALSE);
  tether_query_sort (where (open_tasks, "done", TETHER_OP_EQ, "false"), "due", FALSE);
  assert_plan_uses (open_tasks, "i_tasks_done_due", TRUE);
  assert_plan_uses (where (priority, "priority", TETHER_OP_EQ, "3"), "i_tasks_priority", FALSE);
}

/* Default schema ---------------------------------------------------------------------- */

static void
test_default_schema_queries (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, schema);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  g_autoptr(TetherQuery) pinned = tether_query_new (notes);
  g_autoptr(TetherQuery) tagged = tether_query_new (notes);
  g_autoptr(TetherQuery) unknown = tether_query_new (notes);
  static const char * const records[] = {
    "{\"title\": \"Groceries\", \"tags\": [\"home\"]}",
    "{\"title\": \"Roadmap\", \"pinned\": true, \"tags\": [\"work\"]}",
    "{\"title\": \"Ideas\", \"pinned\": true}",
    NULL
  };

  tether_test_create_all (notes, records);
  /* defaults fill absent fields, so pinned == false finds Groceries */
  tether_query_sort (tether_query_where_text (pinned, "pinned == false"), "title", FALSE);
  assert_titles (pinned, "Groceries");
  assert_titles (tether_query_where_text (tagged, "tags contains work"), "Roadmap");
  assert_query_error (tether_query_where_text (unknown, "colour == red"), TETHER_QUERY_ERROR_UNKNOWN_FIELD,
                      "notes.colour: no such field in the schema "
                      "(fields: id, createdAt, updatedAt, title, body, tags, pinned)");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tether/query/where/compare", test_compare);
  ADD ("/tether/query/where/absent", test_absent_fields);
  ADD ("/tether/query/where/contains", test_contains);
  ADD ("/tether/query/where/prefix", test_prefix);
  ADD ("/tether/query/where/datetime-zones", test_datetime_time_zones);
  ADD ("/tether/query/where/or-groups", test_or_groups);
  ADD ("/tether/query/where/builtin-fields", test_builtin_fields);
  ADD ("/tether/query/where/text", test_text_conditions);
  ADD ("/tether/query/sort/fields", test_sort);
  ADD ("/tether/query/window", test_window);
  ADD ("/tether/query/error/window", test_bad_window);
  ADD ("/tether/query/error/unknown-field", test_unknown_field);
  ADD ("/tether/query/error/bad-value", test_bad_value);
  ADD ("/tether/query/error/bad-operator", test_bad_operator);
  ADD ("/tether/query/error/text", test_text_condition_errors);
  ADD ("/tether/query/injection/field-names", test_injection_field_names);
  ADD ("/tether/query/injection/values", test_injection_values);
  ADD ("/tether/query/plan/indexes", test_plan_uses_indexes);
  ADD ("/tether/query/plan/match-one-by-key", test_plan_match_one_by_key);
#undef ADD
  g_test_add_func ("/tether/query/where/prefix-empty", test_prefix_empty_skips_absent);
  g_test_add_func ("/tether/query/plan/default-schema", test_plan_default_schema);
  g_test_add_func ("/tether/query/default-schema", test_default_schema_queries);

  return g_test_run ();
}
