/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-query-preview"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-test-util.h"

/* tether_query_preview(): records that carry only some fields, texts cut
 * short, from plain runs, live queries (loaded, then kept current by
 * writes) and ranked searches alike. */

#define SCHEMA \
  "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": {" \
  "   \"title\":  {\"type\": \"string\", \"required\": true}," \
  "   \"body\":   {\"type\": \"string\", \"default\": \"\"}," \
  "   \"rank\":   {\"type\": \"integer\"}," \
  "   \"due\":    {\"type\": \"datetime\"}," \
  "   \"tags\":   {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}," \
  "  \"searchable\": [\"title\", \"body\"]}}}"

static const char * const shown[] = { "title", "rank", "due", "tags", NULL };

typedef struct {
  TetherDatabase   *db;
  TetherCollection *notes;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;

  f->db = tether_test_open (NULL, schema);
  f->notes = tether_database_get_collection (f->db, "notes", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->db);
}

static char *
create (Fixture *f, const char *json)
{
  g_autoptr(TetherRecord) record = tether_test_create (f->notes, json);

  return g_strdup (tether_record_get_id (record));
}

static TetherQuery *
preview_query (Fixture *f)
{
  TetherQuery *query = tether_query_new (f->notes);

  tether_query_preview (query, shown, 4);
  g_assert_no_error (tether_query_get_error (query));
  return query;
}

/* Only the fields asked for; strings cut to 4 characters (not bytes: "é"
 * is two); other types whole; absent fields read as absent. */
static void
assert_preview (TetherRecord *record,
                const char   *title,
                gint64        rank)
{
  g_auto(GStrv) tags = tether_record_dup_strv (record, "tags");

  g_assert_cmpstr (tether_record_get_string (record, "title", NULL), ==, title);
  g_assert_cmpint (tether_record_get_int (record, "rank", -1), ==, rank);
  g_assert_false (tether_record_has_field (record, "body"));
  g_assert_null (tether_record_get_string (record, "due", NULL));
  g_assert_cmpuint (g_strv_length (tags), ==, 2);
  g_assert_cmpstr (tags[1], ==, "a long tag stays whole");
  g_assert_nonnull (tether_record_get_id (record));
}

static void
test_run (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = preview_query (f);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) whole = NULL;
  g_autofree char *id = create (f, "{\"title\": \"éclair recipe\", \"body\": \"flour, butter\", \"rank\": 2,"
                                   " \"tags\": [\"x\", \"a long tag stays whole\"]}");

  records = tether_query_run (query, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (records->len, ==, 1);
  assert_preview (records->pdata[0], "écla", 2);
  /* the stored record is whole */
  whole = tether_collection_get (f->notes, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (whole, "body", NULL), ==, "flour, butter");
}

/* Loaded, inserted, moved and replaced items of a live query all stay previews. */
static void
test_live (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = preview_query (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherRecord) first = NULL;
  g_autoptr(TetherRecord) moved = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = create (f, "{\"title\": \"alpha\", \"body\": \"long text\", \"rank\": 1,"
                                  " \"tags\": [\"x\", \"a long tag stays whole\"]}");
  g_autofree char *b = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"rank\": 9, \"body\": \"changed\"}");
  g_autoptr(TetherRecord) updated = NULL;

  tether_query_sort (query, "rank", FALSE);
  live = tether_live_query_new (query, &error);
  g_assert_no_error (error);
  b = create (f, "{\"title\": \"bravo\", \"body\": \"more text\", \"rank\": 5,"
                 " \"tags\": [\"y\", \"a long tag stays whole\"]}");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (live)), ==, 2);
  first = g_list_model_get_item (G_LIST_MODEL (live), 0);
  assert_preview (first, "alph", 1);
  g_clear_object (&first);
  first = g_list_model_get_item (G_LIST_MODEL (live), 1);
  assert_preview (first, "brav", 5);

  updated = tether_collection_update (f->notes, a, patch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tether_live_query_find (live, a), ==, 1);
  moved = g_list_model_get_item (G_LIST_MODEL (live), 1);
  assert_preview (moved, "alph", 9);
}

static void
test_ranked_search (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = preview_query (f);
  g_autoptr(TetherLiveQuery) live = NULL;
  g_autoptr(TetherRecord) hit = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *a = create (f, "{\"title\": \"zeppelin ride\", \"rank\": 3,"
                                  " \"tags\": [\"z\", \"a long tag stays whole\"]}");
  g_autofree char *b = create (f, "{\"title\": \"nothing\", \"body\": \"zeppelin\"}");

  tether_query_search (query, "zepp");
  tether_query_limit (query, 1);
  live = tether_live_query_new (query, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (live)), ==, 1);
  hit = g_list_model_get_item (G_LIST_MODEL (live), 0);
  assert_preview (hit, "zepp", 3);
}

static void
test_bad_fields (Fixture *f, gconstpointer data)
{
  static const char * const unknown[] = { "title", "colour", NULL };
  static const char * const injected[] = { "title') FROM t_notes; --", NULL };
  g_autoptr(TetherQuery) query = tether_query_new (f->notes);
  g_autoptr(TetherQuery) sql = tether_query_new (f->notes);
  g_autoptr(TetherQuery) empty = tether_query_new (f->notes);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;

  tether_query_preview (query, unknown, 10);
  g_assert_error ((GError *) tether_query_get_error (query), TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_UNKNOWN_FIELD);
  g_assert_nonnull (strstr (tether_query_get_error (query)->message, "notes.colour"));
  tether_query_preview (sql, injected, 10);
  records = tether_query_run (sql, &error);
  g_assert_null (records);
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_UNKNOWN_FIELD);
  tether_query_preview (empty, shown, 0);
  g_assert_error ((GError *) tether_query_get_error (empty), TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE);
}

/* The scanner on text no engine write produces, but JSON allows. */
static void
test_scanner (void)
{
  static const char * const fields[] = { "t", "n", NULL };
  static const gboolean cut[] = { TRUE, FALSE };
  static const struct { const char *in, *out; } cases[] = {
    { "{}", "{}" },
    { " { \"x\" : [1, {\"t\": \"no\"}], \"t\" : \"abcdef\" } ", "{\"t\":\"abc\"}" },
    { "{\"t\": \"a\\\"bcd\", \"n\": -1.5e3}", "{\"t\":\"a\\\"b\",\"n\":-1.5e3}" },
    { "{\"t\": \"\\\\\\\\x\"}", "{\"t\":\"\\\\\\\\x\"}" },
    { "{\"t\": \"ab\\ud83d\\ude00c\"}", "{\"t\":\"ab\\ud83d\\ude00\"}" },
    { "{\"t\": \"€€€€\"}", "{\"t\":\"€€€\"}" },
    { "{\"n\": {\"t\": \"deep string\"}, \"z\": null}", "{\"n\":{\"t\": \"deep string\"}}" },
  };
  static const char * const bad[] = { "", "[1]", "{\"t\": \"open", "{\"t\" 1}", "{\"t\": 1,", "{\"a\": ]}" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = _tether_json_preview (cases[i].in, strlen (cases[i].in), fields, cut, 3);
      g_autoptr(JsonNode) parsed = tether_test_node (out);

      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_nonnull (parsed);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_null (_tether_json_preview (bad[i], strlen (bad[i]), fields, cut, 3));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tether/query/preview/run", test_run);
  ADD ("/tether/query/preview/live", test_live);
  ADD ("/tether/query/preview/ranked-search", test_ranked_search);
  ADD ("/tether/query/preview/bad-fields", test_bad_fields);
#undef ADD
  g_test_add_func ("/tether/query/preview/scanner", test_scanner);
  return g_test_run ();
}
