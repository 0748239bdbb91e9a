/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "tether.h"

/* What `tether query COLLECTION --where … --or … --sort … --limit …
 * --offset …` (and `tether search`) build and run, on an in-memory
 * database with the app's schema and a few records. An input is one
 * argument a line: the collection, then options as "--where COND" lines
 * ("--search WORDS" for tether search). The query is built as
 * src/cli/tether-cli-commands.c builds it, then run and counted. */

static TetherDatabase *db;

static const char * const notes[] = {
  "{\"title\":\"Groceries\",\"body\":\"milk, eggs\",\"tags\":[\"home\"],\"pinned\":true}",
  "{\"title\":\"Café notes\",\"body\":\"naïve résumé\",\"tags\":[\"work\",\"fr\"]}",
  "{\"title\":\"x' OR 1=1 --\",\"body\":\"\\\"quoted\\\"\"}",
};
static const char * const tasks[] = {
  "{\"title\":\"Call Bob\",\"priority\":3,\"due\":\"2026-05-01T09:00:00.000Z\",\"tags\":[\"phone\"]}",
  "{\"title\":\"File taxes\",\"done\":true,\"priority\":1}",
  "{\"title\":\"Plan trip\",\"notes\":\"book hotel\",\"priority\":0}",
};

static void
add_records (const char         *collection,
             const char * const *records,
             guint               n)
{
  TetherCollection *target = tether_database_get_collection (db, collection, NULL);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonNode) node = json_from_string (records[i], NULL);
      g_autoptr(TetherRecord) record = tether_collection_create (target, json_node_get_object (node), NULL);

      fuzz_check (record != NULL, "a seed record was refused");
    }
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;

  fuzz_setup ();
  db = tether_database_open (":memory:", NULL, &error);
  fuzz_check (db != NULL, "no in-memory database");
  add_records ("notes", notes, G_N_ELEMENTS (notes));
  add_records ("tasks", tasks, G_N_ELEMENTS (tasks));
  return 0;
}

/* The CLI's add_sort: "FIELD[:asc|:desc]". */
static void
add_sort (TetherQuery *query,
          const char  *spec)
{
  const char *colon = strrchr (spec, ':');
  g_autofree char *field = colon != NULL ? g_strndup (spec, colon - spec) : g_strdup (spec);

  tether_query_sort (query, field, colon != NULL && g_ascii_strcasecmp (colon + 1, "desc") == 0);
}

/* The CLI's option parser takes whole numbers of 0 or more only. */
static void
add_count (TetherQuery *query,
           const char  *text,
           gboolean     limit)
{
  guint64 number;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &number, NULL))
    return;
  if (limit)
    tether_query_limit (query, (gint64) number);
  else
    tether_query_offset (query, (gint64) number);
}

static void
add_option (TetherQuery *query,
            const char  *line)
{
  if (g_str_has_prefix (line, "--where "))
    tether_query_where_text (query, line + strlen ("--where "));
  else if (g_str_has_prefix (line, "--or "))
    tether_query_or_where_text (query, 0, line + strlen ("--or "));
  else if (g_str_has_prefix (line, "--sort "))
    add_sort (query, line + strlen ("--sort "));
  else if (g_str_has_prefix (line, "--limit "))
    add_count (query, line + strlen ("--limit "), TRUE);
  else if (g_str_has_prefix (line, "--offset "))
    add_count (query, line + strlen ("--offset "), FALSE);
  else if (g_str_has_prefix (line, "--search "))
    tether_query_search (query, line + strlen ("--search "));
}

static void
run (TetherQuery *query)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) count_error = NULL;
  g_autoptr(GPtrArray) records = tether_query_run (query, &error);
  gint64 count = tether_query_count (query, &count_error);

  fuzz_check ((records == NULL) == (error != NULL), "a query must run or fail with an error");
  fuzz_check ((count < 0) == (count_error != NULL), "a count must run or fail with an error");
  fuzz_check (records == NULL || count < 0 || records->len <= count, "a query found more than it counts");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = fuzz_text (data, size);
  g_auto(GStrv) lines = NULL;
  g_autoptr(TetherQuery) query = NULL;
  TetherCollection *collection;

  /* Arguments are strings of the command line: UTF-8 without NULs. */
  if (strlen (text) != size || !g_utf8_validate (text, size, NULL))
    return 0;
  lines = g_strsplit (text, "\n", 64);
  collection = tether_database_get_collection (db, lines[0] != NULL ? lines[0] : "", NULL);
  if (collection == NULL)
    return 0;
  query = tether_query_new (collection);
  for (guint i = 1; lines[i] != NULL; i++)
    add_option (query, lines[i]);
  run (query);
  return 0;
}
