/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include "fuzz-common.h"
#include "tether.h"

/* Schema documents. One that parses must also survive what a program does
 * next with it: its canonical text (what a database stores) parses again to
 * the same text, a database (in memory) opens with it, which turns its
 * collection, field and index names into SQL, and an empty record of each
 * collection is validated. */

static void
check_round_trip (TetherSchema *schema)
{
  const char *json = tether_schema_get_json (schema);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSchema) again = tether_schema_new_from_json (json, -1, &error);

  fuzz_check (again != NULL, "a schema's canonical text does not parse");
  fuzz_check (g_str_equal (json, tether_schema_get_json (again)), "a schema's canonical text is not stable");
}

static void
check_records (TetherSchema *schema)
{
  const char * const *collections = tether_schema_get_collections (schema);

  for (guint i = 0; collections[i] != NULL; i++)
    {
      g_autoptr(JsonObject) record = json_object_new ();
      g_autoptr(GError) error = NULL;

      if (!tether_schema_validate (schema, collections[i], record, &error))
        fuzz_check (error != NULL, "a refused record has no error");
    }
}

static void
check_database (TetherSchema *schema)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = tether_database_open (":memory:", schema, &error);

  fuzz_check ((db == NULL) == (error != NULL), "a database must open or fail with an error");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSchema) schema = tether_schema_new_from_json ((const char *) data, size, &error);

  fuzz_check ((schema == NULL) == (error != NULL), "a schema must parse or fail with an error");
  if (schema == NULL)
    return 0;
  check_round_trip (schema);
  check_records (schema);
  check_database (schema);
  return 0;
}
