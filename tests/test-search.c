/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-search"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"
#include "tether-private.h"

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"docs\": {\"fields\": {" \
  "   \"title\": {\"type\": \"string\", \"required\": true}," \
  "   \"body\":  {\"type\": \"string\", \"default\": \"\"}," \
  "   \"kind\":  {\"type\": \"string\"}," \
  "   \"rank\":  {\"type\": \"integer\"}}," \
  "  \"indexes\": [{\"field\": \"kind\"}, {\"field\": \"rank\"}]," \
  "  \"searchable\": [\"title\", \"body\"]}," \
  " \"plain\": {\"fields\": {\"title\": {\"type\": \"string\"}}}}}"

typedef struct {
  TetherDatabase   *db;
  TetherCollection *docs;
  TetherCollection *plain;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;

  f->db = tether_test_open (NULL, schema);
  f->docs = tether_database_get_collection (f->db, "docs", &error);
  g_assert_no_error (error);
  f->plain = tether_database_get_collection (f->db, "plain", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->db);
}

static void
update (TetherCollection *collection, TetherRecord *record, const char *patch_json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) patch = tether_test_object (patch_json);
  g_autoptr(TetherRecord) updated = tether_collection_update (collection, tether_record_get_id (record),
                                                              patch, &error);

  g_assert_no_error (error);
  g_assert_nonnull (updated);
}

static char *
run_titles (TetherQuery *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = tether_query_run (query, &error);
  g_autoptr(GString) out = g_string_new (NULL);

  g_assert_no_error (error);
  g_assert_nonnull (records);
  for (guint i = 0; i < records->len; i++)
    g_string_append_printf (out, "%s%s", i ? "," : "",
                            tether_record_get_string (g_ptr_array_index (records, i), "title", "?"));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
assert_titles (TetherQuery *query, const char *expected)
{
  g_autofree char *titles = run_titles (query);

  g_assert_cmpstr (titles, ==, expected);
}

/* A search in rank order of the `rank` field, so the expected list is exact
 * whatever bm25 thinks. */
static void
assert_search (TetherCollection *collection, const char *text, const char *expected)
{
  g_autoptr(TetherQuery) query = tether_query_new (collection);

  g_test_message ("search \"%s\"", text);
  tether_query_sort (tether_query_search (query, text), "rank", FALSE);
  assert_titles (query, expected);
}

/* Ranked by bm25 (no explicit sort). */
static void
assert_ranked (TetherCollection *collection, const char *text, const char *expected)
{
  g_autoptr(TetherQuery) query = tether_query_new (collection);

  g_test_message ("ranked search \"%s\"", text);
  assert_titles (tether_query_search (query, text), expected);
}

static void
seed (Fixture *f)
{
  static const char * const docs[] = {
    "{\"title\": \"Sync settings\", \"body\": \"Choose what to sync between devices.\", \"kind\": \"task\", \"rank\": 3}",
    "{\"title\": \"Phone backup\", \"body\": \"Sync photos from the phone every night.\", \"kind\": \"note\", \"rank\": 1}",
    "{\"title\": \"Café crème\", \"body\": \"Order at the counter.\", \"kind\": \"note\", \"rank\": 2}",
    "{\"title\": \"cafe menu\", \"kind\": \"task\", \"rank\": 5}",
    "{\"title\": \"Async runtime\", \"body\": \"Event loops and futures.\", \"kind\": \"task\", \"rank\": 4}",
    "{\"title\": \"Title page\", \"body\": \"How sync works in detail.\", \"kind\": \"note\", \"rank\": 0}",
    "{\"title\": \"Nearby école\", \"kind\": \"synonym\", \"rank\": 6}",
    NULL
  };

  tether_test_create_all (f->docs, docs);
}

/* Matching ------------------------------------------------------------------- */

static void
test_prefix_words (Fixture *f, gconstpointer data)
{
  seed (f);
  /* every word is a prefix; "syn" is no prefix of "Async"; kind is not searchable */
  assert_search (f->docs, "syn", "Title page,Phone backup,Sync settings");
  assert_search (f->docs, "sync", "Title page,Phone backup,Sync settings");
  assert_search (f->docs, "synchronise", "");
  assert_search (f->docs, "async", "Async runtime");
  assert_search (f->docs, "fut", "Async runtime");
  assert_search (f->docs, "p", "Title page,Phone backup");
}

static void
test_every_word (Fixture *f, gconstpointer data)
{
  seed (f);
  /* words may come from different fields of one record */
  assert_search (f->docs, "sync phone", "Phone backup");
  assert_search (f->docs, "phone sync", "Phone backup");
  assert_search (f->docs, "sync devices", "Sync settings");
  assert_search (f->docs, "sync zebra", "");
  assert_search (f->docs, "title sync", "Title page");
}

/* Text pasted into search as you type: each word was one more term for
 * FTS5 and tether_bm25 to go over. A word typed again adds nothing, and
 * words past the first 32 different ones are left out. */
static void
test_many_words (Fixture *f, gconstpointer data)
{
  static const char * const words[] = { "photos", "phone", "backup", "sync", "every", "night", "from" };
  g_autoptr(TetherQuery) repeated = tether_query_new (f->docs);
  g_autoptr(TetherQuery) pasted = tether_query_new (f->docs);
  g_autoptr(GString) prefixes = g_string_new (NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GHashTable) distinct = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) terms = NULL;

  seed (f);
  tether_query_search (repeated, "Sync phone SYNC sync PHONE sÿnc");
  g_assert_cmpstr (_tether_query_get_match (repeated), ==, "\"Sync\"* \"phone\"*");

  /* 32 different prefixes of the words of "Phone backup", then one that
   * matches nothing: left out, the record is found */
  for (guint w = 0; w < G_N_ELEMENTS (words); w++)
    for (gsize n = 1; n <= strlen (words[w]); n++)
      if (g_hash_table_size (distinct) < 32 && g_hash_table_add (distinct, g_strndup (words[w], n)))
        g_string_append_printf (prefixes, "%.*s ", (int) n, words[w]);
  g_assert_cmpuint (g_hash_table_size (distinct), ==, 32);
  g_string_append (prefixes, "zebra");
  assert_search (f->docs, prefixes->str, "Phone backup");

  for (guint i = 0; text->len < 50 * 1024; i++)
    g_string_append_printf (text, "word%u ", i);
  tether_query_search (pasted, text->str);
  terms = g_strsplit (_tether_query_get_match (pasted), " ", -1);
  g_assert_cmpuint (g_strv_length (terms), ==, 32);
  g_assert_cmpstr (terms[31], ==, "\"word31\"*");
  assert_titles (pasted, "");
}

static void
test_case_and_diacritics (Fixture *f, gconstpointer data)
{
  seed (f);
  assert_search (f->docs, "cafe", "Café crème,cafe menu");
  assert_search (f->docs, "café", "Café crème,cafe menu");
  assert_search (f->docs, "CAFÉ", "Café crème,cafe menu");
  assert_search (f->docs, "Caf", "Café crème,cafe menu");
  assert_search (f->docs, "creme", "Café crème");
  assert_search (f->docs, "CRÈME", "Café crème");
  assert_search (f->docs, "ecole", "Nearby école");
  assert_search (f->docs, "École", "Nearby école");
  assert_search (f->docs, "SYNC", "Title page,Phone backup,Sync settings");
  /* decomposed accents (NFD, as some keyboards and file names give them) */
  assert_search (f->docs, "Cafe\xcc\x81 cre\xcc\x80" "me", "Café crème");
  assert_search (f->docs, "e\xcc\x81" "cole", "Nearby école");
}

/* Records stored with decomposed accents are found by composed words too. */
static void
test_decomposed_records (Fixture *f, gconstpointer data)
{
  g_object_unref (tether_test_create (f->docs, "{\"title\": \"Re\\u0301sume\\u0301 tips\", \"rank\": 1}"));
  g_object_unref (tether_test_create (f->docs, "{\"title\": \"R\\u00e9sum\\u00e9 draft\", \"rank\": 2}"));
  assert_search (f->docs, "résumé", "Re\xcc\x81sume\xcc\x81 tips,Résumé draft");
  assert_search (f->docs, "resume", "Re\xcc\x81sume\xcc\x81 tips,Résumé draft");
  assert_search (f->docs, "re\xcc\x81sume\xcc\x81", "Re\xcc\x81sume\xcc\x81 tips,Résumé draft");
}

/* Ranking, filters, sorts, windows ------------------------------------------------ */

static void
test_rank (Fixture *f, gconstpointer data)
{
  static const char * const docs[] = {
    "{\"title\": \"Meeting notes\", \"body\": \"Notes from the planning meeting: budgets, hiring, travel,"
    " the office move, the holiday rota, the new coffee machine and, at the very end, sync.\"}",
    "{\"title\": \"Unrelated\", \"body\": \"Nothing to see here.\"}",
    "{\"title\": \"Sync sync sync\"}",
    "{\"title\": \"Sync once\", \"body\": \"A short note.\"}",
    NULL
  };
  g_autoptr(TetherQuery) best = tether_query_new (f->docs);
  g_autoptr(TetherQuery) counted = tether_query_new (f->docs);
  g_autoptr(TetherRecord) first = NULL;
  g_autoptr(GError) error = NULL;

  tether_test_create_all (f->docs, docs);
  /* the short, repeated mention first, the passing one in a long body last */
  assert_ranked (f->docs, "sync", "Sync sync sync,Sync once,Meeting notes");
  assert_titles (tether_query_limit (tether_query_search (best, "sync"), 1), "Sync sync sync");
  first = tether_query_first (best, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (first, "title", NULL), ==, "Sync sync sync");
  g_assert_cmpint (tether_query_count (tether_query_limit (tether_query_search (counted, "sync"), 1), &error), ==, 3);
  g_assert_no_error (error);
}

/* Ranked within the newest matches: the best of the last two created,
 * not of all three; the window still applies to what is ranked. */
static void
test_rank_within (Fixture *f, gconstpointer data)
{
  static const char * const docs[] = {
    "{\"title\": \"Sync sync sync\"}",
    "{\"title\": \"Sync once\", \"body\": \"A short note.\"}",
    "{\"title\": \"Meeting notes\", \"body\": \"Budgets, hiring, travel and, at the end, sync.\"}",
    NULL
  };
  g_autoptr(TetherQuery) newest = tether_query_new (f->docs);
  g_autoptr(TetherQuery) one = tether_query_new (f->docs);
  g_autoptr(TetherQuery) all = tether_query_new (f->docs);

  tether_test_create_all (f->docs, docs);
  assert_titles (tether_query_rank_within (tether_query_search (newest, "sync"), 2),
                 "Sync once,Meeting notes");
  assert_titles (tether_query_limit (tether_query_rank_within (tether_query_search (one, "sync"), 2), 1),
                 "Sync once");
  assert_titles (tether_query_rank_within (tether_query_search (all, "sync"), 0),
                 "Sync sync sync,Sync once,Meeting notes");
}

/* With other conditions too: the newest matches that meet them are ranked. */
static void
test_rank_within_filtered (Fixture *f, gconstpointer data)
{
  static const char * const docs[] = {
    "{\"title\": \"Sync sync sync\", \"kind\": \"note\"}",
    "{\"title\": \"Sync once\", \"body\": \"A short note.\", \"kind\": \"note\"}",
    "{\"title\": \"Sync sync, a task\", \"kind\": \"task\"}",
    "{\"title\": \"Meeting notes\", \"body\": \"Budgets, hiring, travel and, at the end, sync.\", \"kind\": \"note\"}",
    NULL
  };
  g_autoptr(TetherQuery) newest = tether_query_new (f->docs);
  g_autoptr(TetherQuery) one = tether_query_new (f->docs);
  g_autoptr(TetherQuery) either = tether_query_new (f->docs);

  tether_test_create_all (f->docs, docs);
  tether_query_where_text (tether_query_search (newest, "sync"), "kind == note");
  assert_titles (tether_query_rank_within (newest, 2), "Sync once,Meeting notes");
  tether_query_where_text (tether_query_search (one, "sync"), "kind == note");
  assert_titles (tether_query_limit (tether_query_rank_within (one, 2), 1), "Sync once");
  tether_query_or_where_text (tether_query_search (either, "sync"), 0, "kind == note");
  tether_query_or_where_text (either, 0, "kind == task");
  assert_titles (tether_query_rank_within (either, 2), "Sync sync, a task,Meeting notes");
}

static void
test_with_filters (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) notes = tether_query_new (f->docs);
  g_autoptr(TetherQuery) either = tether_query_new (f->docs);
  g_autoptr(TetherQuery) windowed = tether_query_new (f->docs);
  g_autoptr(GError) error = NULL;

  seed (f);
  tether_query_where_text (tether_query_search (notes, "sync"), "kind == note");
  tether_query_sort (notes, "rank", TRUE);
  assert_titles (notes, "Phone backup,Title page");
  g_assert_cmpint (tether_query_count (notes, &error), ==, 2);
  g_assert_no_error (error);

  tether_query_search (either, "sync");
  tether_query_or_where_text (either, 0, "rank >= 3");
  tether_query_or_where_text (either, 0, "rank == 0");
  tether_query_sort (either, "rank", FALSE);
  assert_titles (either, "Title page,Sync settings");

  tether_query_sort (tether_query_search (windowed, "sync"), "title", FALSE);
  tether_query_offset (tether_query_limit (windowed, 1), 1);
  assert_titles (windowed, "Sync settings");
  g_assert_cmpint (tether_query_count (windowed, &error), ==, 3);
}

static void
test_sort_overrides_rank (Fixture *f, gconstpointer data)
{
  static const char * const docs[] = {
    "{\"title\": \"a long note\", \"body\": \"many words before the word sync appears\", \"rank\": 1}",
    "{\"title\": \"sync sync\", \"rank\": 3}",
    "{\"title\": \"sync later\", \"rank\": 2}",
    "{\"title\": \"no rank, sync\"}",
    NULL
  };
  g_autoptr(TetherQuery) by_rank = tether_query_new (f->docs);
  g_autoptr(TetherQuery) by_title = tether_query_new (f->docs);

  tether_test_create_all (f->docs, docs);
  assert_ranked (f->docs, "sync", "sync sync,sync later,no rank, sync,a long note");
  tether_query_sort (tether_query_search (by_rank, "sync"), "rank", TRUE);
  assert_titles (by_rank, "sync sync,sync later,a long note,no rank, sync");
  tether_query_sort (tether_query_search (by_title, "sync"), "title", FALSE);
  assert_titles (by_title, "a long note,no rank, sync,sync later,sync sync");
}

/* Input that looks like FTS5 syntax -------------------------------------------------- */

static void
test_syntax_is_words (Fixture *f, gconstpointer data)
{
  const char *all = "Title page,Phone backup,Café crème,Sync settings,Async runtime,cafe menu,Nearby école";
  struct { const char *text; const char *titles; } cases[] = {
    { "\"", all },
    { "*", all },
    { "-", all },
    { "(", all },
    { ")", all },
    { ":", all },
    { "^", all },
    { "\"sync", "Title page,Phone backup,Sync settings" },
    { "sync\"", "Title page,Phone backup,Sync settings" },
    { "\"sync phone\"", "Phone backup" },
    { "sync*", "Title page,Phone backup,Sync settings" },
    { "-sync", "Title page,Phone backup,Sync settings" },
    { "^sync", "Title page,Phone backup,Sync settings" },
    { "+sync", "Title page,Phone backup,Sync settings" },
    { "NEAR(", "Nearby école" },
    { "NEAR(sync phone)", "" },
    { "NEAR(sync phone", "" },
    { "title:", "Title page" },
    { "title:sync", "Title page" },
    { "body:sync", "" },
    { "{title}: sync", "Title page" },
    { "sync OR zebra", "" },
    { "sync AND phone", "" },
    { "NOT sync", "" },
    { "sync NOT phone", "" },
    { "(sync", "Title page,Phone backup,Sync settings" },
    { "sync)", "Title page,Phone backup,Sync settings" },
    { "'; DROP TABLE t_docs; --", "" },
    { "\"\"\"", all },
    { "sync\\", "Title page,Phone backup,Sync settings" },
  };

  seed (f);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_search (f->docs, cases[i].text, cases[i].titles);
  /* the ranked form compiles the same words */
  assert_ranked (f->docs, "NEAR(", "Nearby école");
  assert_ranked (f->docs, "title:sync", "Title page");
  g_assert_cmpint (tether_collection_count (f->docs, NULL, NULL), ==, 7);
}

static void
test_empty_text (Fixture *f, gconstpointer data)
{
  const char *texts[] = { "", " ", "  \t\n ", "\xc2\xa0" };
  const char *insertion_order = "Sync settings,Phone backup,Café crème,cafe menu,Async runtime,Title page,Nearby école";

  seed (f);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(TetherQuery) query = tether_query_new (f->docs);
      g_autoptr(TetherQuery) filtered = tether_query_new (f->docs);

      g_test_message ("search \"%s\"", texts[i]);
      /* no search filter: every record, in insertion order (no rank to sort by) */
      assert_titles (tether_query_search (query, texts[i]), insertion_order);
      tether_query_where_text (tether_query_search (filtered, texts[i]), "kind == note");
      assert_titles (filtered, "Phone backup,Café crème,Title page");
    }
}

/* Text that is not UTF-8 (from a file, a pipe) is an error, not "no filter". */
static void
test_invalid_utf8 (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->docs);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;

  seed (f);
  records = tether_query_run (tether_query_search (query, "caf\xe9"), &error);
  g_assert_null (records);
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE);
  g_assert_cmpstr (error->message, ==, "docs: the search text is not valid UTF-8");
}

static void
test_search_replaces (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->docs);

  seed (f);
  tether_query_sort (query, "rank", FALSE);
  tether_query_search (query, "sync");
  tether_query_search (query, "cafe");
  assert_titles (query, "Café crème,cafe menu");
  tether_query_search (query, NULL);
  assert_titles (query, "Title page,Phone backup,Café crème,Sync settings,Async runtime,cafe menu,Nearby école");
}

/* Keeping the index in step ----------------------------------------------------------- */

static void
test_update_and_delete (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) groceries = tether_test_create (f->docs, "{\"title\": \"Groceries list\", \"rank\": 1}");
  g_autoptr(TetherRecord) other = tether_test_create (f->docs, "{\"title\": \"Other\", \"body\": \"shopping mall\", \"rank\": 2}");
  g_autoptr(JsonObject) replacement = NULL;
  g_autoptr(TetherRecord) put = NULL;
  g_autoptr(GError) error = NULL;

  assert_search (f->docs, "groceries", "Groceries list");

  update (f->docs, groceries, "{\"title\": \"Shopping list\"}");
  assert_search (f->docs, "groceries", "");
  assert_search (f->docs, "shopping", "Shopping list,Other");
  assert_search (f->docs, "list", "Shopping list");

  /* the body is searchable too */
  update (f->docs, groceries, "{\"body\": \"buy groceries\"}");
  assert_search (f->docs, "groceries", "Shopping list");

  /* an update of a field that is not searchable leaves the words alone */
  update (f->docs, groceries, "{\"kind\": \"errand\"}");
  assert_search (f->docs, "groceries shopping", "Shopping list");

  /* a put replaces the whole record: words of the old body are gone */
  replacement = tether_test_object ("{\"title\": \"Weekly plan\", \"rank\": 1}");
  json_object_set_string_member (replacement, "id", tether_record_get_id (groceries));
  put = tether_collection_put (f->docs, replacement, &error);
  g_assert_no_error (error);
  assert_search (f->docs, "groceries", "");
  assert_search (f->docs, "shopping", "Other");
  assert_search (f->docs, "weekly", "Weekly plan");

  g_assert_true (tether_collection_delete (f->docs, tether_record_get_id (groceries), &error));
  g_assert_no_error (error);
  assert_search (f->docs, "weekly", "");
  assert_search (f->docs, "plan", "");
  assert_ranked (f->docs, "shopping", "Other");
}

static void
test_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) kept = tether_test_create (f->docs, "{\"title\": \"Zebra crossing\", \"rank\": 1}");
  g_autoptr(TetherRecord) created = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_database_begin (f->db, &error));
  g_assert_no_error (error);
  created = tether_test_create (f->docs, "{\"title\": \"Zebra finch\", \"rank\": 2}");
  update (f->docs, kept, "{\"title\": \"Pelican crossing\"}");
  assert_search (f->docs, "zebra", "Zebra finch");
  tether_database_rollback (f->db);

  assert_search (f->docs, "zebra", "Zebra crossing");
  assert_search (f->docs, "pelican", "");
  assert_search (f->docs, "finch", "");
}

static void
test_delete_many (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) doomed = tether_query_new (f->docs);
  g_autoptr(GError) error = NULL;

  seed (f);
  tether_query_search (doomed, "sync");
  g_assert_cmpint (tether_collection_delete_many (f->docs, doomed, &error), ==, 3);
  g_assert_no_error (error);
  assert_search (f->docs, "sync", "");
  assert_search (f->docs, "cafe", "Café crème,cafe menu");
  g_assert_cmpint (tether_collection_count (f->docs, NULL, NULL), ==, 4);
}

static void
test_persists (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "search.db", NULL);
  TetherDatabase *db = tether_test_open (path, schema);
  TetherCollection *docs = tether_database_get_collection (db, "docs", NULL);

  g_object_unref (tether_test_create (docs, "{\"title\": \"Durable words\", \"rank\": 1}"));
  tether_database_close (db);
  g_assert_finalize_object (db);

  db = tether_test_open (path, schema);
  docs = tether_database_get_collection (db, "docs", NULL);
  assert_search (docs, "durable", "Durable words");
  g_assert_finalize_object (db);
  tether_test_dir_free (dir);
}

/* Searchable fields may have any field name: SQL keywords, FTS5's own
 * column names, the view's rowid alias, names equal but for case. */
#define ODD_NAMES_SCHEMA \
  "{\"version\": 1, \"collections\": {\"odd\": {\"fields\": {" \
  "  \"order\": {\"type\": \"string\"}, \"from\": {\"type\": \"string\"}," \
  "  \"group\": {\"type\": \"string\"}, \"rank\": {\"type\": \"string\"}," \
  "  \"rowid\": {\"type\": \"string\"}, \"rid\": {\"type\": \"string\"}," \
  "  \"Title\": {\"type\": \"string\"}, \"title\": {\"type\": \"string\"}}," \
  "  \"searchable\": [\"order\", \"from\", \"group\", \"rank\", \"rowid\", \"rid\", \"Title\", \"title\"]}}}"

static void
assert_found (TetherCollection *collection, const char *text, gint64 expected)
{
  g_autoptr(TetherQuery) query = tether_query_new (collection);
  g_autoptr(GError) error = NULL;

  g_test_message ("search \"%s\"", text);
  g_assert_cmpint (tether_query_count (tether_query_search (query, text), &error), ==, expected);
  g_assert_no_error (error);
}

static void
test_odd_field_names (void)
{
  static const char * const words[] = { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel" };
  g_autoptr(TetherSchema) schema = tether_test_schema (ODD_NAMES_SCHEMA);
  char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "odd.db", NULL);
  TetherDatabase *db = tether_test_open (path, schema);
  TetherCollection *odd = tether_database_get_collection (db, "odd", NULL);

  g_object_unref (tether_test_create (odd,
    "{\"order\": \"alpha\", \"from\": \"bravo\", \"group\": \"charlie\", \"rank\": \"delta\","
    " \"rowid\": \"echo\", \"rid\": \"foxtrot\", \"Title\": \"golf\", \"title\": \"hotel\"}"));
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    assert_found (odd, words[i], 1);
  tether_database_close (db);
  g_assert_finalize_object (db);

  /* and after the index is made again from the records */
  db = tether_test_open (path, schema);
  odd = tether_database_get_collection (db, "odd", NULL);
  g_assert_cmpint (sqlite3_exec (_tether_database_get_handle (db),
                                 "INSERT INTO f_odd(f_odd) VALUES ('rebuild')", NULL, NULL, NULL), ==, SQLITE_OK);
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    assert_found (odd, words[i], 1);
  g_assert_finalize_object (db);
  tether_test_dir_free (dir);
}

/* A file made when the view's rowid alias took the place of a field named
 * rid: the index is made again on open, so the field can be found. */
static void
test_repairs_rid_field (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (
    "{\"version\": 1, \"collections\": {\"x\": {\"fields\": {"
    "  \"rid\": {\"type\": \"string\"}}, \"searchable\": [\"rid\"]}}}");
  char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "rid.db", NULL);
  TetherDatabase *db = tether_test_open (path, schema);
  TetherCollection *x = tether_database_get_collection (db, "x", NULL);
  sqlite3 *raw = NULL;

  g_object_unref (tether_test_create (x, "{\"rid\": \"quartz\"}"));
  tether_database_close (db);
  g_assert_finalize_object (db);

  /* the earlier layout, named after the fields, by hand */
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw,
    "DROP TABLE f_x; DROP VIEW v_x;"
    "CREATE VIEW v_x AS SELECT rowid AS rid, json_extract(data,'$.rid') AS rid FROM t_x;"
    "CREATE VIRTUAL TABLE f_x USING fts5(rid, content='v_x', content_rowid='rid',"
    " tokenize='unicode61 remove_diacritics 2', prefix='1 2 3');"
    "INSERT INTO f_x(f_x) VALUES ('rebuild');", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  db = tether_test_open (path, schema);
  x = tether_database_get_collection (db, "x", NULL);
  assert_found (x, "quartz", 1);
  g_assert_finalize_object (db);
  tether_test_dir_free (dir);
}

/* Errors -------------------------------------------------------------------------------- */

/* A file whose search index has no one-letter prefixes (made before they
 * came) gets it made again on open, with what it had. */
static void
test_upgrades_old_index (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "old.db", NULL);
  TetherDatabase *db = tether_test_open (path, schema);
  TetherCollection *docs = tether_database_get_collection (db, "docs", NULL);
  sqlite3 *raw = NULL;
  sqlite3_stmt *stmt = NULL;

  g_object_unref (tether_test_create (docs, "{\"title\": \"Old words\", \"rank\": 1}"));
  tether_database_close (db);
  g_assert_finalize_object (db);

  /* the layout of the earlier index, by hand */
  g_assert_cmpint (sqlite3_open (path, &raw), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (raw,
    "DROP TABLE f_docs; DROP VIEW v_docs;"
    "CREATE VIEW v_docs AS SELECT rowid AS rid, json_extract(data,'$.title') AS title,"
    " json_extract(data,'$.body') AS body FROM t_docs;"
    "CREATE VIRTUAL TABLE f_docs USING fts5(title, body, content='v_docs', content_rowid='rid',"
    " tokenize='unicode61 remove_diacritics 2', prefix='2 3');"
    "INSERT INTO f_docs(f_docs) VALUES ('rebuild');", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (raw);

  db = tether_test_open (path, schema);
  docs = tether_database_get_collection (db, "docs", NULL);
  g_assert_cmpint (sqlite3_prepare_v2 (_tether_database_get_handle (db),
                                       "SELECT sql FROM sqlite_master WHERE name = 'f_docs'", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_nonnull (strstr ((const char *) sqlite3_column_text (stmt, 0), "prefix='1 2 3'"));
  sqlite3_finalize (stmt);
  assert_search (docs, "o", "Old words");
  g_object_unref (tether_test_create (docs, "{\"title\": \"New words\", \"rank\": 2}"));
  assert_search (docs, "w", "Old words,New words");
  g_assert_finalize_object (db);
  tether_test_dir_free (dir);
}

static void
test_no_searchable_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->plain);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(TetherRecord) record = tether_test_create (f->plain, "{\"title\": \"sync\"}");

  tether_query_search (query, "sync");
  g_assert_error ((GError *) tether_query_get_error (query), TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR);
  g_assert_cmpstr (tether_query_get_error (query)->message, ==, "plain: the schema declares no searchable fields");
  records = tether_query_run (query, &error);
  g_assert_null (records);
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR);
  g_clear_error (&error);
  g_assert_cmpint (tether_query_count (query, &error), ==, -1);
  g_assert_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR);
}

/* The shipped schema ------------------------------------------------------------------------ */

static void
test_default_schema (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  TetherCollection *tasks = tether_database_get_collection (db, "tasks", NULL);
  static const char * const note_records[] = {
    "{\"title\": \"Résumé draft\", \"body\": \"Rewrite the summary section.\"}",
    "{\"title\": \"Reading list\", \"body\": \"Naïve set theory; a resume of Halmos.\", \"tags\": [\"resume\"]}",
    "{\"title\": \"Ideas\", \"body\": \"\", \"tags\": [\"resume\"], \"pinned\": true}",
    NULL
  };
  static const char * const task_records[] = {
    "{\"title\": \"Call the bank\", \"notes\": \"about the resume loan\"}",
    "{\"title\": \"Resume gym\", \"done\": true}",
    NULL
  };
  g_autoptr(TetherQuery) pinned = tether_query_new (notes);
  g_autoptr(TetherQuery) open_tasks = tether_query_new (tasks);

  tether_test_create_all (notes, note_records);
  tether_test_create_all (tasks, task_records);
  /* tags are not searchable: "Ideas" only carries the word as a tag */
  assert_ranked (notes, "resume", "Résumé draft,Reading list");
  assert_ranked (notes, "naive", "Reading list");
  tether_query_where_text (tether_query_search (pinned, "resume"), "pinned == true");
  assert_titles (pinned, "");
  tether_query_where_text (tether_query_search (open_tasks, "resum"), "done == false");
  assert_titles (open_tasks, "Call the bank");
}


/* Ranking -------------------------------------------------------------------- */

/* The engine ranks with tether_bm25 (cached document lengths); it must give
 * exactly FTS5's own bm25 order, whatever happened since the cache filled. */
static void
assert_ranked_like_bm25 (TetherDatabase *db, TetherCollection *docs, const char *word,
                         gint64 limit, gint64 offset)
{
  g_autoptr(TetherQuery) query = tether_query_new (docs);
  g_autoptr(GPtrArray) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *match = g_strdup_printf ("\"%s\"*", word);
  sqlite3_stmt *stmt = NULL;
  guint n = 0;

  tether_query_search (query, word);
  if (limit >= 0)
    tether_query_offset (tether_query_limit (query, limit), offset);
  got = tether_query_run (query, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_prepare_v2 (_tether_database_get_handle (db),
    "SELECT t_docs.id FROM f_docs JOIN t_docs ON t_docs.rowid = f_docs.rowid "
    "WHERE f_docs MATCH ?1 ORDER BY bm25(f_docs), t_docs.rowid LIMIT ?2 OFFSET ?3", -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (stmt, 1, match, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, limit);
  sqlite3_bind_int64 (stmt, 3, limit >= 0 ? offset : 0);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      g_assert_cmpuint (n, <, got->len);
      g_assert_cmpstr (tether_record_get_id (g_ptr_array_index (got, n)), ==,
                       (const char *) sqlite3_column_text (stmt, 0));
      n++;
    }
  sqlite3_finalize (stmt);
  g_assert_cmpuint (n, ==, got->len);
  g_assert_cmpuint (n, >, 0);
}

static char *
random_text (GRand *rand, guint words)
{
  static const char *vocabulary[] = { "sync", "synchro", "note", "plan", "task", "draft", "idea", "list" };
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < words; i++)
    g_string_append_printf (text, "%s%s", i ? " " : "",
                            vocabulary[g_rand_int_range (rand, 0, G_N_ELEMENTS (vocabulary))]);
  return g_string_free (text, FALSE);
}

static void
check_all (TetherDatabase *db, TetherCollection *docs)
{
  assert_ranked_like_bm25 (db, docs, "sync", -1, 0);
  assert_ranked_like_bm25 (db, docs, "sync", 10, 5);
  assert_ranked_like_bm25 (db, docs, "plan", 20, 0);
}

static void
rewrite_some (TetherCollection *docs, GRand *rand, guint count)
{
  g_autoptr(GPtrArray) all = tether_collection_get_all (docs, NULL);

  for (guint i = 0; i < count; i++)
    {
      TetherRecord *r = g_ptr_array_index (all, g_rand_int_range (rand, 0, all->len));
      g_autoptr(JsonObject) patch = json_object_new ();
      g_autofree char *body = random_text (rand, g_rand_int_range (rand, 1, 40));
      g_autoptr(TetherRecord) updated = NULL;

      json_object_set_string_member (patch, "body", body);
      updated = tether_collection_update (docs, tether_record_get_id (r), patch, NULL);
      g_assert_nonnull (updated);
    }
}

static void
test_rank_matches_bm25 (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "rank.db", NULL);
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(TetherDatabase) db = tether_test_open (path, schema);
  TetherCollection *docs = tether_database_get_collection (db, "docs", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  sqlite3 *other = NULL;

  for (guint i = 0; i < 300; i++)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autofree char *title = random_text (rand, g_rand_int_range (rand, 1, 6));
      g_autofree char *body = random_text (rand, g_rand_int_range (rand, 0, 60));

      json_object_set_string_member (object, "title", title);
      json_object_set_string_member (object, "body", body);
      g_object_unref (tether_collection_create (docs, object, NULL));
    }
  check_all (db, docs);
  check_all (db, docs);                       /* from the warm cache */
  rewrite_some (docs, rand, 30);              /* lengths change */
  check_all (db, docs);

  g_assert_true (tether_database_begin (db, NULL));
  rewrite_some (docs, rand, 30);
  check_all (db, docs);                       /* inside the transaction */
  tether_database_rollback (db);
  check_all (db, docs);                       /* and after it is undone */

  /* another connection (another process) commits a change */
  g_assert_cmpint (sqlite3_open (path, &other), ==, SQLITE_OK);
  sqlite3_busy_timeout (other, 5000);
  g_assert_cmpint (sqlite3_exec (other,
    "UPDATE t_docs SET data = json_set(data, '$.body', 'sync sync sync') "
    "WHERE rowid IN (SELECT rowid FROM t_docs ORDER BY rowid LIMIT 40)", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (other);
  check_all (db, docs);

  g_clear_object (&db);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* When the statistics the ranking reads are unreadable (here the row that
 * holds them is gone), a ranked search fails with an error. */
static void
test_rank_damaged_index (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) query = tether_query_new (f->docs);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(GError) error = NULL;

  seed (f);
  g_assert_cmpint (sqlite3_exec (_tether_database_get_handle (f->db),
                                 "DELETE FROM f_docs_data WHERE id = 1", NULL, NULL, NULL), ==, SQLITE_OK);
  records = tether_query_run (tether_query_search (query, "sync"), &error);
  g_assert_null (records);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_CORRUPT);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/tether/search/match/prefix", test_prefix_words);
  ADD ("/tether/search/match/every-word", test_every_word);
  ADD ("/tether/search/match/many-words", test_many_words);
  ADD ("/tether/search/match/case-and-diacritics", test_case_and_diacritics);
  ADD ("/tether/search/match/decomposed-records", test_decomposed_records);
  ADD ("/tether/search/match/syntax-is-words", test_syntax_is_words);
  ADD ("/tether/search/match/empty-text", test_empty_text);
  ADD ("/tether/search/match/invalid-utf8", test_invalid_utf8);
  ADD ("/tether/search/match/replaced", test_search_replaces);
  ADD ("/tether/search/order/rank", test_rank);
  ADD ("/tether/search/order/rank-within", test_rank_within);
  ADD ("/tether/search/order/rank-within-filtered", test_rank_within_filtered);
  ADD ("/tether/search/order/sort-overrides-rank", test_sort_overrides_rank);
  ADD ("/tether/search/filters", test_with_filters);
  ADD ("/tether/search/index/update-and-delete", test_update_and_delete);
  ADD ("/tether/search/index/rollback", test_rollback);
  ADD ("/tether/search/index/delete-many", test_delete_many);
  ADD ("/tether/search/error/no-searchable-fields", test_no_searchable_fields);
  ADD ("/tether/search/error/damaged-rank-data", test_rank_damaged_index);
#undef ADD
  g_test_add_func ("/tether/search/index/persists", test_persists);
  g_test_add_func ("/tether/search/index/upgrades-old-index", test_upgrades_old_index);
  g_test_add_func ("/tether/search/index/odd-field-names", test_odd_field_names);
  g_test_add_func ("/tether/search/index/repairs-rid-field", test_repairs_rid_field);
  g_test_add_func ("/tether/search/default-schema", test_default_schema);
  g_test_add_func ("/tether/search/rank/matches-bm25", test_rank_matches_bm25);

  return g_test_run ();
}
