/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-schema"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"

/* Every rule once, in collections that need nothing else from a record. */
static const char *rules_schema =
  "{ \"version\": 2, \"collections\": {"
  "  \"rules\": { \"fields\": {"
  "    \"title\": { \"type\": \"string\", \"minLength\": 1, \"maxLength\": 5 },"
  "    \"count\": { \"type\": \"integer\", \"min\": 0, \"max\": 3 },"
  "    \"ratio\": { \"type\": \"number\", \"min\": -1.5, \"max\": 2.5 },"
  "    \"flag\": { \"type\": \"boolean\" },"
  "    \"list\": { \"type\": \"array\", \"minLength\": 1, \"maxLength\": 2 },"
  "    \"meta\": { \"type\": \"object\" },"
  "    \"when\": { \"type\": \"datetime\" },"
  "    \"email\": { \"type\": \"string\", \"format\": \"email\" },"
  "    \"url\": { \"type\": \"string\", \"format\": \"url\" },"
  "    \"uuid\": { \"type\": \"string\", \"format\": \"uuid\" },"
  "    \"code\": { \"type\": \"string\", \"pattern\": \"^[0-9]+$\" },"
  "    \"word\": { \"type\": \"string\", \"pattern\": \"ab\" },"
  "    \"kind\": { \"type\": \"string\", \"enum\": [\"a\", \"b\"] },"
  "    \"level\": { \"type\": \"integer\", \"enum\": [1, 2] },"
  "    \"tags\": { \"type\": \"array\", \"items\": { \"type\": \"string\", \"minLength\": 1 } },"
  "    \"grid\": { \"type\": \"array\", \"items\": { \"type\": \"array\","
  "                \"items\": { \"type\": \"integer\" } } },"
  "    \"times\": { \"type\": \"array\", \"items\": { \"type\": \"datetime\" } }"
  "  } },"
  "  \"required\": { \"fields\": {"
  "    \"title\": { \"type\": \"string\", \"required\": true },"
  "    \"state\": { \"type\": \"string\", \"required\": true, \"default\": \"open\" },"
  "    \"tags\": { \"type\": \"array\", \"default\": [\"x\", { \"deep\": [1] }] },"
  "    \"meta\": { \"type\": \"object\", \"default\": { \"a\": { \"b\": 1 } } },"
  "    \"since\": { \"type\": \"datetime\", \"default\": \"2026-11-22\" },"
  "    \"note\": { \"type\": \"string\" }"
  "  } },"
  "  \"open\": { \"fields\": { \"name\": { \"type\": \"string\" } },"
  "            \"additionalFields\": true }"
  "} }";

static TetherSchema *
rules_new (void)
{
  return tether_test_schema (rules_schema);
}

static JsonObject *
assert_valid (TetherSchema *schema,
              const char   *collection,
              const char   *json)
{
  g_autoptr(JsonObject) record = tether_test_object (json);
  g_autoptr(GError) error = NULL;

  if (!tether_schema_validate (schema, collection, record, &error))
    g_error ("%s should be valid: %s", json, error->message);
  return g_steal_pointer (&record);
}

static void
assert_invalid (TetherSchema *schema,
                const char   *collection,
                const char   *json,
                const char   *message)
{
  g_autoptr(JsonObject) record = tether_test_object (json);
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_schema_validate (schema, collection, record, &error));
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  g_assert_cmpstr (error->message, ==, message);
}

static void
assert_schema_error (const char *json,
                     int         code,
                     const char *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSchema) schema = tether_schema_new_from_json (json, -1, &error);

  g_assert_null (schema);
  g_assert_error (error, TETHER_SCHEMA_ERROR, code);
  if (!g_str_equal (error->message, message))
    g_error ("schema %s\n  gave: %s\n  want: %s", json, error->message, message);
}

/* A one-collection schema "c" around a field spec, for schema errors. */
static void
assert_field_error (const char *fields,
                    const char *message)
{
  g_autofree char *json = g_strdup_printf ("{\"version\":1,\"collections\":{\"c\":"
                                           "{\"fields\":{%s}}}}", fields);

  assert_schema_error (json, TETHER_SCHEMA_ERROR_INVALID, message);
}

static const char *
member_string (JsonObject *record,
               const char *name)
{
  return json_object_get_string_member (record, name);
}

/* Parsing */

static void
test_parse_default (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  const char *notes_fields[] = { "title", "body", "tags", "pinned", NULL };
  const char *collections[] = { "notes", "tasks", NULL };
  const char *pinned_updated[] = { "pinned", "updatedAt", NULL };
  const char *done_due[] = { "done", "due", NULL };
  const char *notes_search[] = { "title", "body", NULL };
  const char *tasks_search[] = { "title", "notes", NULL };
  TetherFieldType type;

  g_assert_cmpint (tether_schema_get_version (schema), ==, 1);
  g_assert_cmpstrv (tether_schema_get_collections (schema), collections);
  g_assert_cmpstrv (tether_schema_get_fields (schema, "notes"), notes_fields);
  g_assert_true (tether_schema_has_field (schema, "tasks", "due"));
  g_assert_cmpint (tether_schema_get_field_type (schema, "tasks", "due"), ==, TETHER_FIELD_DATETIME);
  g_assert_cmpint (tether_schema_get_field_type (schema, "tasks", "priority"), ==, TETHER_FIELD_INTEGER);
  g_assert_cmpint (tether_schema_get_field_type (schema, "notes", "pinned"), ==, TETHER_FIELD_BOOLEAN);
  g_assert_true (tether_schema_get_item_type (schema, "notes", "tags", &type));
  g_assert_cmpint (type, ==, TETHER_FIELD_STRING);
  g_assert_false (tether_schema_get_item_type (schema, "notes", "title", &type));
  g_assert_true (tether_schema_field_is_text_merge (schema, "notes", "body"));
  g_assert_true (tether_schema_field_is_text_merge (schema, "tasks", "notes"));
  g_assert_false (tether_schema_field_is_text_merge (schema, "notes", "title"));
  g_assert_false (tether_schema_get_additional_fields (schema, "notes"));

  g_assert_cmpuint (tether_schema_get_n_indexes (schema, "notes"), ==, 3);
  g_assert_cmpstrv (tether_schema_get_index_fields (schema, "notes", 0), pinned_updated);
  g_assert_false (tether_schema_get_index_unique (schema, "notes", 0));
  g_assert_cmpuint (tether_schema_get_n_indexes (schema, "tasks"), ==, 4);
  g_assert_cmpstrv (tether_schema_get_index_fields (schema, "tasks", 0), done_due);
  g_assert_cmpstrv (tether_schema_get_searchable (schema, "notes"), notes_search);
  g_assert_cmpstrv (tether_schema_get_searchable (schema, "tasks"), tasks_search);

  g_assert_cmpint (json_node_get_int (tether_schema_get_default (schema, "tasks", "priority")), ==, 0);
  g_assert_cmpstr (json_node_get_string (tether_schema_get_default (schema, "notes", "body")), ==, "");
  g_assert_null (tether_schema_get_default (schema, "notes", "title"));
}

static void
test_parse_builtins (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();

  g_assert_true (tether_schema_has_field (schema, "notes", "id"));
  g_assert_true (tether_schema_has_field (schema, "notes", "createdAt"));
  g_assert_true (tether_schema_has_field (schema, "notes", "updatedAt"));
  g_assert_cmpint (tether_schema_get_field_type (schema, "notes", "id"), ==, TETHER_FIELD_STRING);
  g_assert_cmpint (tether_schema_get_field_type (schema, "notes", "createdAt"), ==, TETHER_FIELD_DATETIME);
  g_assert_cmpint (tether_schema_get_field_type (schema, "notes", "updatedAt"), ==, TETHER_FIELD_DATETIME);
  g_assert_false (tether_schema_field_is_text_merge (schema, "notes", "id"));
  g_assert_null (tether_schema_get_default (schema, "notes", "createdAt"));
}

/* Callers probe names freely; unknown ones answer quietly (fatal-warnings
 * would abort the test on any critical). */
static void
test_parse_unknown_names (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  TetherFieldType type;

  g_assert_false (tether_schema_has_collection (schema, "nope"));
  g_assert_false (tether_schema_has_field (schema, "nope", "title"));
  g_assert_false (tether_schema_has_field (schema, "notes", "colour"));
  g_assert_false (tether_schema_has_field (schema, "nope", "id"));
  g_assert_cmpint (tether_schema_get_field_type (schema, "notes", "colour"), ==, TETHER_FIELD_STRING);
  g_assert_false (tether_schema_get_item_type (schema, "nope", "tags", &type));
  g_assert_false (tether_schema_field_is_text_merge (schema, "nope", "body"));
  g_assert_false (tether_schema_get_additional_fields (schema, "nope"));
  g_assert_null (tether_schema_get_fields (schema, "nope"));
  g_assert_cmpuint (tether_schema_get_n_indexes (schema, "nope"), ==, 0);
  g_assert_null (tether_schema_get_index_fields (schema, "notes", 99));
  g_assert_false (tether_schema_get_index_unique (schema, "notes", 99));
  g_assert_null (tether_schema_get_searchable (schema, "nope"));
  g_assert_null (tether_schema_get_default (schema, "notes", "colour"));
}

static void
test_parse_indexes (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (
    "{\"version\":1,\"collections\":{\"users\":{"
    " \"fields\":{\"email\":{\"type\":\"string\",\"format\":\"email\"},"
    "            \"team\":{\"type\":\"string\"}},"
    " \"indexes\":[{\"field\":\"email\",\"unique\":true},"
    "              {\"fields\":[\"team\",\"createdAt\",\"id\"]}]}}}");
  const char *email[] = { "email", NULL };
  const char *team[] = { "team", "createdAt", "id", NULL };
  const char *none[] = { NULL };

  g_assert_cmpuint (tether_schema_get_n_indexes (schema, "users"), ==, 2);
  g_assert_cmpstrv (tether_schema_get_index_fields (schema, "users", 0), email);
  g_assert_true (tether_schema_get_index_unique (schema, "users", 0));
  g_assert_cmpstrv (tether_schema_get_index_fields (schema, "users", 1), team);
  g_assert_false (tether_schema_get_index_unique (schema, "users", 1));
  g_assert_cmpstrv (tether_schema_get_searchable (schema, "users"), none);
}

static void
test_parse_order (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (
    "{\"version\":3,\"collections\":{\"zebra\":{\"fields\":{\"b\":{\"type\":\"string\"},"
    "\"a\":{\"type\":\"number\"}}},\"apple\":{},\"mango\":{\"fields\":{}}}}");
  const char *collections[] = { "zebra", "apple", "mango", NULL };
  const char *fields[] = { "b", "a", NULL };
  const char *none[] = { NULL };

  g_assert_cmpint (tether_schema_get_version (schema), ==, 3);
  g_assert_cmpstrv (tether_schema_get_collections (schema), collections);
  g_assert_cmpstrv (tether_schema_get_fields (schema, "zebra"), fields);
  g_assert_cmpstrv (tether_schema_get_fields (schema, "apple"), none);
}

static void
test_parse_canonical (void)
{
  g_autoptr(TetherSchema) compact = tether_test_schema (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{\"n\":{\"type\":\"integer\",\"max\":3}}}}}");
  g_autoptr(TetherSchema) spaced = tether_test_schema (
    "{\n  \"version\" : 1,\n  \"collections\": { \"c\": { \"fields\": {\n"
    "    \"n\": { \"type\": \"integer\",   \"max\": 3 } } } }\n}\n");
  g_autoptr(TetherSchema) other = tether_test_schema (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{\"n\":{\"type\":\"integer\",\"max\":4}}}}}");
  g_autoptr(TetherSchema) reparsed = tether_test_schema (tether_schema_get_json (spaced));
  g_autoptr(TetherSchema) builtin = tether_schema_new_default ();
  g_autoptr(TetherSchema) builtin_again = tether_test_schema (tether_schema_get_json (builtin));

  g_assert_cmpstr (tether_schema_get_json (compact), ==, tether_schema_get_json (spaced));
  g_assert_cmpstr (tether_schema_get_json (compact), !=, tether_schema_get_json (other));
  g_assert_cmpstr (tether_schema_get_json (reparsed), ==, tether_schema_get_json (compact));
  g_assert_cmpstr (tether_schema_get_json (builtin_again), ==, tether_schema_get_json (builtin));
  g_assert_null (strchr (tether_schema_get_json (builtin), '\n'));
}

static void
test_parse_from_file (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "schema.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  g_autoptr(TetherSchema) builtin = tether_schema_new_default ();
  g_autoptr(TetherSchema) schema = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, tether_schema_get_json (builtin), -1, NULL));
  schema = tether_schema_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_schema_get_json (schema), ==, tether_schema_get_json (builtin));

  g_assert_null (tether_schema_new_from_file (missing, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  tether_test_dir_free (g_steal_pointer (&dir));
}

static void
test_parse_bad_json (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSchema) schema =
    tether_schema_new_from_json ("{\"version\": 1,\n \"collections\" {}}", -1, &error);

  g_assert_null (schema);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_PARSE);
  /* json-glib's "<data>:line:column" tells the person where to look. */
  g_assert_nonnull (strstr (error->message, ":2:"));
  g_assert_true (g_str_has_prefix (error->message, "schema is not valid JSON: "));

  assert_schema_error ("", TETHER_SCHEMA_ERROR_PARSE,
                       "schema is not valid JSON: the document is empty");
}

static void
test_parse_document_errors (void)
{
  const int invalid = TETHER_SCHEMA_ERROR_INVALID;

  assert_schema_error ("[]", invalid, "the schema must be a JSON object");
  assert_schema_error ("{\"collections\":{}}", invalid, "version: required (a positive integer)");
  assert_schema_error ("{\"version\":0,\"collections\":{}}", invalid,
                       "version: must be a positive integer");
  assert_schema_error ("{\"version\":\"1\",\"collections\":{}}", invalid,
                       "version: must be a positive integer");
  assert_schema_error ("{\"version\":1.5,\"collections\":{}}", invalid,
                       "version: must be a positive integer");
  assert_schema_error ("{\"version\":1}", invalid, "collections: required");
  assert_schema_error ("{\"version\":1,\"collections\":[]}", invalid,
                       "collections: must be an object");
  assert_schema_error ("{\"version\":1,\"collections\":{},\"extra\":1}", invalid,
                       "extra: unknown key (expected one of version, collections)");
}

static void
test_parse_collection_errors (void)
{
  const int invalid = TETHER_SCHEMA_ERROR_INVALID;
  const char *name_rule = "invalid collection name (lowercase letters, digits and _, "
                          "starting with a letter, at most 63 characters)";
  g_autofree char *long_name = g_strnfill (64, 'a');
  g_autofree char *longest = g_strnfill (63, 'a');
  g_autofree char *json = NULL;
  g_autofree char *message = NULL;
  g_autoptr(TetherSchema) schema = NULL;

  for (guint i = 0; i < 4; i++)
    {
      const char *names[] = { "Notes", "1notes", "my-notes", "_notes" };
      g_autofree char *doc = g_strdup_printf ("{\"version\":1,\"collections\":{\"%s\":{}}}", names[i]);
      g_autofree char *want = g_strdup_printf ("collections.%s: %s", names[i], name_rule);

      assert_schema_error (doc, invalid, want);
    }
  json = g_strdup_printf ("{\"version\":1,\"collections\":{\"%s\":{}}}", long_name);
  message = g_strdup_printf ("collections.%s: %s", long_name, name_rule);
  assert_schema_error (json, invalid, message);
  g_free (json);
  json = g_strdup_printf ("{\"version\":1,\"collections\":{\"%s\":{}}}", longest);
  schema = tether_test_schema (json);

  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":[]}}", invalid,
                       "collections.notes: must be an object");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"searchble\":[]}}}", invalid,
                       "collections.notes.searchble: unknown key (expected one of fields, "
                       "indexes, searchable, additionalFields)");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"fields\":[]}}}", invalid,
                       "collections.notes.fields: must be an object");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"additionalFields\":1}}}",
                       invalid, "collections.notes.additionalFields: must be true or false");
}

static void
test_parse_field_errors (void)
{
  assert_field_error ("\"id\":{\"type\":\"string\"}",
                      "collections.c.fields.id: 'id' is a built-in field and cannot be declared");
  assert_field_error ("\"createdAt\":{\"type\":\"datetime\"}",
                      "collections.c.fields.createdAt: 'createdAt' is a built-in field and "
                      "cannot be declared");
  assert_field_error ("\"bad-name\":{\"type\":\"string\"}",
                      "collections.c.fields.bad-name: invalid field name (letters, digits and _, "
                      "not starting with a digit, at most 63 characters)");
  assert_field_error ("\"f\":\"string\"", "collections.c.fields.f: must be an object with a \"type\"");
  assert_field_error ("\"f\":{}", "collections.c.fields.f.type: required");
  assert_field_error ("\"f\":{\"type\":1}", "collections.c.fields.f.type: must be a string");
  assert_field_error ("\"f\":{\"type\":\"strng\"}",
                      "collections.c.fields.f.type: unknown type 'strng' (expected string, number, "
                      "integer, boolean, array, object or datetime)");
  assert_field_error ("\"f\":{\"type\":\"string\",\"requird\":true}",
                      "collections.c.fields.f.requird: unknown key (expected one of type, "
                      "required, default, enum, min, max, minLength, maxLength, pattern, format, "
                      "merge, items)");
  assert_field_error ("\"f\":{\"type\":\"string\",\"required\":\"yes\"}",
                      "collections.c.fields.f.required: must be true or false");
}

static void
test_parse_rule_errors (void)
{
  assert_field_error ("\"priority\":{\"type\":\"integer\",\"max\":\"3\"}",
                      "collections.c.fields.priority.max: must be a number");
  assert_field_error ("\"f\":{\"type\":\"string\",\"min\":1}",
                      "collections.c.fields.f.min: not allowed on string fields");
  assert_field_error ("\"f\":{\"type\":\"number\",\"min\":4,\"max\":3}",
                      "collections.c.fields.f.min: is above max");
  assert_field_error ("\"f\":{\"type\":\"number\",\"maxLength\":3}",
                      "collections.c.fields.f.maxLength: not allowed on number fields");
  assert_field_error ("\"f\":{\"type\":\"string\",\"minLength\":-1}",
                      "collections.c.fields.f.minLength: must be a non-negative integer");
  assert_field_error ("\"f\":{\"type\":\"array\",\"maxLength\":1.5}",
                      "collections.c.fields.f.maxLength: must be a non-negative integer");
  assert_field_error ("\"f\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}",
                      "collections.c.fields.f.minLength: is above maxLength");
  assert_field_error ("\"f\":{\"type\":\"boolean\",\"pattern\":\"x\"}",
                      "collections.c.fields.f.pattern: not allowed on boolean fields");
  assert_field_error ("\"f\":{\"type\":\"string\",\"pattern\":[]}",
                      "collections.c.fields.f.pattern: must be a string");
  assert_field_error ("\"f\":{\"type\":\"string\",\"format\":\"phone\"}",
                      "collections.c.fields.f.format: must be one of email, url, uuid");
  assert_field_error ("\"f\":{\"type\":\"string\",\"merge\":\"lines\"}",
                      "collections.c.fields.f.merge: must be \"text\"");
  assert_field_error ("\"f\":{\"type\":\"array\",\"merge\":\"text\"}",
                      "collections.c.fields.f.merge: not allowed on array fields");
  assert_field_error ("\"f\":{\"type\":\"string\",\"items\":{\"type\":\"string\"}}",
                      "collections.c.fields.f.items: not allowed on string fields");
  assert_field_error ("\"f\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"required\":true}}",
                      "collections.c.fields.f.items.required: not allowed inside items");
  assert_field_error ("\"f\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"default\":\"\"}}",
                      "collections.c.fields.f.items.default: not allowed inside items");
  assert_field_error ("\"f\":{\"type\":\"array\",\"items\":{\"type\":\"text\"}}",
                      "collections.c.fields.f.items.type: unknown type 'text' (expected string, "
                      "number, integer, boolean, array, object or datetime)");
  assert_field_error ("\"f\":{\"type\":\"string\",\"enum\":[]}",
                      "collections.c.fields.f.enum: must be a non-empty array");
  assert_field_error ("\"f\":{\"type\":\"string\",\"enum\":[\"a\",3]}",
                      "collections.c.fields.f.enum[1]: expected string, got integer");
}

static void
test_parse_bad_regex (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherSchema) schema = tether_schema_new_from_json (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":"
    "{\"code\":{\"type\":\"string\",\"pattern\":\"([0-9]\"}}}}}", -1, &error);

  g_assert_null (schema);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_INVALID);
  g_assert_true (g_str_has_prefix (error->message,
                                   "collections.c.fields.code.pattern: invalid regular expression: "));
}

static void
test_parse_bad_default (void)
{
  assert_field_error ("\"title\":{\"type\":\"string\",\"maxLength\":3,\"default\":\"long\"}",
                      "collections.c.fields.title.default: length 4 is above maxLength 3");
  assert_field_error ("\"n\":{\"type\":\"integer\",\"max\":3,\"default\":7}",
                      "collections.c.fields.n.default: 7 is above max 3");
  assert_field_error ("\"n\":{\"type\":\"integer\",\"default\":1.5}",
                      "collections.c.fields.n.default: expected integer, got number");
  assert_field_error ("\"k\":{\"type\":\"string\",\"enum\":[\"a\"],\"default\":\"b\"}",
                      "collections.c.fields.k.default: \"b\" is not one of [\"a\"]");
  assert_field_error ("\"t\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"default\":[\"a\",1]}",
                      "collections.c.fields.t.default[1]: expected string, got integer");
  assert_field_error ("\"d\":{\"type\":\"datetime\",\"default\":\"soon\"}",
                      "collections.c.fields.d.default: \"soon\" is not an ISO 8601 datetime");
  assert_field_error ("\"s\":{\"type\":\"string\",\"default\":null}",
                      "collections.c.fields.s.default: expected string, got null");
}

static void
test_parse_searchable_errors (void)
{
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"fields\":"
                       "{\"tags\":{\"type\":\"array\"}},\"searchable\":[\"tags\"]}}}",
                       TETHER_SCHEMA_ERROR_INVALID,
                       "collections.notes.searchable: 'tags' is not a string field");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"searchable\":[\"body\"]}}}",
                       TETHER_SCHEMA_ERROR_INVALID,
                       "collections.notes.searchable: no field 'body' in collection 'notes'");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"searchable\":\"body\"}}}",
                       TETHER_SCHEMA_ERROR_INVALID,
                       "collections.notes.searchable: must be an array of field names");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"searchable\":[true]}}}",
                       TETHER_SCHEMA_ERROR_INVALID,
                       "collections.notes.searchable[0]: must be a field name");
  assert_schema_error ("{\"version\":1,\"collections\":{\"notes\":{\"fields\":"
                       "{\"b\":{\"type\":\"string\"}},\"searchable\":[\"b\",\"b\"]}}}",
                       TETHER_SCHEMA_ERROR_INVALID,
                       "collections.notes.searchable: 'b' appears twice");
}

static void
assert_index_error (const char *indexes,
                    const char *message)
{
  g_autofree char *json = g_strdup_printf ("{\"version\":1,\"collections\":{\"c\":{\"fields\":"
                                           "{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"number\"}},"
                                           "\"indexes\":%s}}}", indexes);

  assert_schema_error (json, TETHER_SCHEMA_ERROR_INVALID, message);
}

static void
test_parse_index_errors (void)
{
  assert_index_error ("{}", "collections.c.indexes: must be an array");
  assert_index_error ("[{\"field\":\"colour\"}]",
                      "collections.c.indexes[0].field: no field 'colour' in collection 'c'");
  assert_index_error ("[{\"field\":\"a\"},{\"fields\":[\"b\",\"nope\"]}]",
                      "collections.c.indexes[1].fields: no field 'nope' in collection 'c'");
  assert_index_error ("[{\"field\":\"a\",\"fields\":[\"b\"]}]",
                      "collections.c.indexes[0]: needs either \"field\" or \"fields\"");
  assert_index_error ("[{\"unique\":true}]",
                      "collections.c.indexes[0]: needs either \"field\" or \"fields\"");
  assert_index_error ("[{\"fields\":[]}]",
                      "collections.c.indexes[0].fields: must be a non-empty array of field names");
  assert_index_error ("[{\"fields\":[\"a\",1]}]",
                      "collections.c.indexes[0].fields[1]: must be a field name");
  assert_index_error ("[{\"field\":[\"a\"]}]",
                      "collections.c.indexes[0].field: must be a field name");
  assert_index_error ("[{\"fields\":[\"a\",\"a\"]}]",
                      "collections.c.indexes[0].fields: 'a' appears twice");
  assert_index_error ("[{\"field\":\"a\"},{\"fields\":[\"a\"],\"unique\":true}]",
                      "collections.c.indexes[1]: same fields as indexes[0]");
  assert_index_error ("[{\"field\":\"a\",\"unique\":\"yes\"}]",
                      "collections.c.indexes[0].unique: must be true or false");
  assert_index_error ("[{\"field\":\"a\",\"uniq\":true}]",
                      "collections.c.indexes[0].uniq: unknown key (expected one of field, "
                      "fields, unique)");
}

/* SQL names join the collection and field names with '_', and SQLite
 * ignores their case: two objects that would get one name are refused. */
static void
test_parse_name_clashes (void)
{
  assert_schema_error (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{\"a_b\":{\"type\":\"string\"},"
    "\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}},"
    "\"indexes\":[{\"field\":\"a_b\",\"unique\":true},{\"fields\":[\"a\",\"b\"]}]}}}",
    TETHER_SCHEMA_ERROR_INVALID,
    "collections.c.indexes[1]: its SQL name i_c_a_b is also that of collections.c.indexes[0] "
    "(index names join the collection and field names with '_' and ignore case); "
    "rename a field or drop one of the indexes");
  assert_schema_error (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{\"Tag\":{\"type\":\"string\"},"
    "\"tag\":{\"type\":\"string\"}},\"indexes\":[{\"field\":\"Tag\"},{\"field\":\"tag\"}]}}}",
    TETHER_SCHEMA_ERROR_INVALID,
    "collections.c.indexes[1]: its SQL name i_c_tag is also that of collections.c.indexes[0] "
    "(index names join the collection and field names with '_' and ignore case); "
    "rename a field or drop one of the indexes");
  assert_schema_error (
    "{\"version\":1,\"collections\":{"
    "\"a\":{\"fields\":{\"b_c\":{\"type\":\"string\"}},\"indexes\":[{\"field\":\"b_c\"}]},"
    "\"a_b\":{\"fields\":{\"c\":{\"type\":\"string\"}},\"indexes\":[{\"field\":\"c\"}]}}}",
    TETHER_SCHEMA_ERROR_INVALID,
    "collections.a_b.indexes[0]: its SQL name i_a_b_c is also that of collections.a.indexes[0] "
    "(index names join the collection and field names with '_' and ignore case); "
    "rename a field or drop one of the indexes");
  assert_schema_error (
    "{\"version\":1,\"collections\":{"
    "\"notes_data\":{\"fields\":{\"x\":{\"type\":\"string\"}}},"
    "\"notes\":{\"fields\":{\"title\":{\"type\":\"string\"}},\"searchable\":[\"title\"]}}}",
    TETHER_SCHEMA_ERROR_INVALID,
    "collections.notes_data: the collection's tables would clash with the search index "
    "of collection 'notes' (SQLite's table f_notes_data); rename the collection");
  /* Without search on notes there are no such tables. */
  g_object_unref (tether_test_schema (
    "{\"version\":1,\"collections\":{"
    "\"notes_data\":{\"fields\":{\"x\":{\"type\":\"string\"}},\"searchable\":[\"x\"]},"
    "\"notes\":{\"fields\":{\"title\":{\"type\":\"string\"}}}}}"));
}

/* Validation */

static void
test_validate_required (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(TetherSchema) builtin = tether_schema_new_default ();
  g_autoptr(JsonObject) record = NULL;

  assert_invalid (schema, "required", "{}", "required.title: required");
  assert_invalid (schema, "required", "{\"title\":null}", "required.title: required");
  assert_invalid (builtin, "notes", "{\"body\":\"x\"}", "notes.title: required");
  record = assert_valid (schema, "required", "{\"title\":\"t\",\"state\":null,\"note\":null}");
  /* A required field with a default takes the default for null too. */
  g_assert_cmpstr (member_string (record, "state"), ==, "open");
  /* A null for an optional field is kept as it is. */
  g_assert_true (json_object_get_null_member (record, "note"));
}

static void
test_validate_defaults (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = assert_valid (schema, "required", "{\"title\":\"t\"}");
  g_autoptr(JsonObject) second = NULL;
  g_autofree char *second_tags = NULL;
  g_autofree char *default_tags = NULL;
  JsonArray *tags;
  JsonObject *meta;

  g_assert_cmpstr (member_string (record, "state"), ==, "open");
  g_assert_cmpstr (member_string (record, "since"), ==, "2026-11-22T00:00:00.000Z");
  g_assert_false (json_object_has_member (record, "note"));

  /* Change the record's copies, deep down: the schema's defaults stay. */
  tags = json_object_get_array_member (record, "tags");
  json_array_add_string_element (tags, "added");
  json_array_add_int_element (json_object_get_array_member (
                                json_array_get_object_element (tags, 1), "deep"), 2);
  meta = json_object_get_object_member (record, "meta");
  json_object_set_int_member (json_object_get_object_member (meta, "a"), "b", 99);
  json_node_set_string (json_object_get_member (record, "state"), "changed");

  second = assert_valid (schema, "required", "{\"title\":\"t\"}");
  second_tags = json_to_string (json_object_get_member (second, "tags"), FALSE);
  default_tags = json_to_string (tether_schema_get_default (schema, "required", "tags"), FALSE);
  g_assert_cmpstr (second_tags, ==, "[\"x\",{\"deep\":[1]}]");
  g_assert_cmpstr (default_tags, ==, "[\"x\",{\"deep\":[1]}]");
  meta = json_object_get_object_member (second, "meta");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (meta, "a"), "b"), ==, 1);
  g_assert_cmpstr (member_string (second, "state"), ==, "open");
}

static void
test_validate_default_schema (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(JsonObject) note = assert_valid (schema, "notes", "{\"title\":\"Hello\"}");
  g_autoptr(JsonObject) task = assert_valid (schema, "tasks",
                                             "{\"title\":\"Call\",\"due\":\"2026-11-22T10:00:00+02:00\"}");

  g_assert_cmpstr (member_string (note, "body"), ==, "");
  g_assert_false (json_object_get_boolean_member (note, "pinned"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (note, "tags")), ==, 0);
  g_assert_cmpstr (member_string (task, "due"), ==, "2026-11-22T08:00:00.000Z");
  g_assert_cmpint (json_object_get_int_member (task, "priority"), ==, 0);

  assert_invalid (schema, "tasks", "{\"title\":\"x\",\"priority\":7}", "tasks.priority: 7 is above max 3");
  assert_invalid (schema, "tasks", "{\"title\":\"x\",\"priority\":-1}", "tasks.priority: -1 is below min 0");
  assert_invalid (schema, "tasks", "{\"title\":\"x\",\"priority\":\"high\"}",
                  "tasks.priority: expected integer, got string");
  assert_invalid (schema, "tasks", "{\"title\":\"x\",\"due\":\"tomorrow\"}",
                  "tasks.due: \"tomorrow\" is not an ISO 8601 datetime");
  assert_invalid (schema, "notes", "{\"title\":\"x\",\"tags\":[\"a\",\"b\",3]}",
                  "notes.tags[2]: expected string, got integer");
  assert_invalid (schema, "notes", "{\"title\":\"x\",\"tags\":[\"a\",\"\"]}",
                  "notes.tags[1]: length 0 is below minLength 1");
  assert_invalid (schema, "notes", "{\"title\":\"x\",\"colour\":\"red\"}",
                  "notes.colour: unknown field (not in the schema; set additionalFields to allow)");
}

static void
test_validate_types (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = NULL;
  JsonNode *count;

  record = assert_valid (schema, "rules", "{\"title\":\"a\",\"count\":2.0,\"ratio\":1,\"flag\":true,"
                         "\"list\":[1],\"meta\":{\"k\":[]},\"when\":\"2026-01-01T00:00:00Z\"}");
  /* 2.0 is an integer, stored as one. */
  count = json_object_get_member (record, "count");
  g_assert_cmpint (json_node_get_value_type (count), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (count), ==, 2);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (record, "ratio")), ==, G_TYPE_INT64);

  assert_invalid (schema, "rules", "{\"title\":1}", "rules.title: expected string, got integer");
  assert_invalid (schema, "rules", "{\"count\":2.5}", "rules.count: expected integer, got number");
  assert_invalid (schema, "rules", "{\"count\":true}", "rules.count: expected integer, got boolean");
  assert_invalid (schema, "rules", "{\"ratio\":\"1\"}", "rules.ratio: expected number, got string");
  assert_invalid (schema, "rules", "{\"flag\":0}", "rules.flag: expected boolean, got integer");
  assert_invalid (schema, "rules", "{\"list\":{}}", "rules.list: expected array, got object");
  assert_invalid (schema, "rules", "{\"meta\":[]}", "rules.meta: expected object, got array");
  assert_invalid (schema, "rules", "{\"when\":12}", "rules.when: expected datetime, got integer");
  assert_invalid (schema, "rules", "{\"tags\":[null]}", "rules.tags[0]: expected string, got null");
}

static void
test_validate_null (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = assert_valid (schema, "rules",
                                               "{\"title\":null,\"count\":null,\"when\":null}");

  g_assert_true (json_object_get_null_member (record, "count"));
  g_assert_true (json_object_get_null_member (record, "when"));
}

static void
test_validate_bounds (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = assert_valid (schema, "rules", "{\"count\":0,\"ratio\":-1.5}");
  g_autoptr(JsonObject) upper = assert_valid (schema, "rules", "{\"count\":3,\"ratio\":2.5}");

  assert_invalid (schema, "rules", "{\"count\":4}", "rules.count: 4 is above max 3");
  assert_invalid (schema, "rules", "{\"count\":-1}", "rules.count: -1 is below min 0");
  assert_invalid (schema, "rules", "{\"ratio\":2.75}", "rules.ratio: 2.75 is above max 2.5");
  assert_invalid (schema, "rules", "{\"ratio\":-2}", "rules.ratio: -2 is below min -1.5");
  assert_invalid (schema, "rules", "{\"ratio\":0.1e2}", "rules.ratio: 10 is above max 2.5");
}

/* Integers beyond 2^53 are compared as integers, not as the doubles they
 * round to. */
static void
test_validate_large_bounds (void)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (
    "{\"version\":1,\"collections\":{\"c\":{\"fields\":{"
    "\"big\":{\"type\":\"integer\",\"max\":9007199254740992},"
    "\"low\":{\"type\":\"integer\",\"min\":-9007199254740992},"
    "\"n\":{\"type\":\"number\",\"max\":9007199254740992}}}}}");
  g_autoptr(JsonObject) ok = assert_valid (schema, "c", "{\"big\":9007199254740992,\"low\":-9007199254740992}");
  g_autoptr(JsonObject) ok_n = assert_valid (schema, "c", "{\"n\":9007199254740992}");

  assert_invalid (schema, "c", "{\"big\":9007199254740993}",
                  "c.big: 9007199254740993 is above max 9007199254740992");
  assert_invalid (schema, "c", "{\"low\":-9007199254740993}",
                  "c.low: -9007199254740993 is below min -9007199254740992");
  assert_invalid (schema, "c", "{\"n\":9007199254740993}",
                  "c.n: 9007199254740993 is above max 9007199254740992");
  assert_schema_error ("{\"version\":1,\"collections\":{\"c\":{\"fields\":{"
                       "\"x\":{\"type\":\"integer\",\"min\":9007199254740993,\"max\":9007199254740992}}}}}",
                       TETHER_SCHEMA_ERROR_INVALID, "collections.c.fields.x.min: is above max");
}

static void
test_validate_length (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(TetherSchema) builtin = tether_schema_new_default ();
  g_autoptr(GString) title = g_string_new ("{\"title\":\"");
  g_autoptr(GString) tags = g_string_new ("{\"title\":\"x\",\"tags\":[");
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(TetherSchema) limited = tether_test_schema (
    "{\"version\":1,\"collections\":{\"notes\":{\"fields\":{\"title\":{\"type\":\"string\"},"
    "\"tags\":{\"type\":\"array\",\"maxLength\":64}}}}}");

  /* Five characters, ten bytes: length counts characters. */
  record = assert_valid (schema, "rules", "{\"title\":\"ééééé\",\"list\":[1,2]}");
  assert_invalid (schema, "rules", "{\"title\":\"éééééé\"}", "rules.title: length 6 is above maxLength 5");
  assert_invalid (schema, "rules", "{\"title\":\"\"}", "rules.title: length 0 is below minLength 1");
  assert_invalid (schema, "rules", "{\"list\":[1,2,3]}", "rules.list: 3 items is above maxLength 2");
  assert_invalid (schema, "rules", "{\"list\":[]}", "rules.list: 0 items is below minLength 1");

  for (guint i = 0; i < 1001; i++)
    g_string_append_c (title, 'a');
  g_string_append (title, "\"}");
  assert_invalid (builtin, "notes", title->str, "notes.title: length 1001 is above maxLength 1000");
  for (guint i = 0; i < 70; i++)
    g_string_append_printf (tags, "%s\"t%u\"", i ? "," : "", i);
  g_string_append (tags, "]}");
  assert_invalid (limited, "notes", tags->str, "notes.tags: 70 items is above maxLength 64");
}

static void
test_validate_format (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  const char *emails[] = { "ann@example.org", "a.b+c@mail.example.co.uk", "zoë@exämple.de" };
  const char *bad_emails[] = { "x", "@example.org", "ann@", "ann@example", "a@b@c.d",
                               "ann smith@example.org", "ann@exa mple.org", "ann@example..org" };
  const char *urls[] = { "https://example.org", "http://localhost:8080/a?b#c", "ftp://x.y/z" };
  const char *bad_urls[] = { "example.org", "https://", "https:///path", "http://a b", "://x.org" };
  const char *uuids[] = { "0192ecd9-abf6-7af6-9d1c-0123456789ab", "0192ECD9-ABF6-7AF6-9D1C-0123456789AB" };
  const char *bad_uuids[] = { "abc", "0192ecd9abf67af69d1c0123456789ab",
                              "0192ecd9-abf6-7af6-9d1c-0123456789abc", "0192ecd9-abf6-7af6-9d1c-0123456789ag" };

  for (guint i = 0; i < G_N_ELEMENTS (emails); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"email\":\"%s\"}", emails[i]);
      g_autoptr(JsonObject) record = assert_valid (schema, "rules", json);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_emails); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"email\":\"%s\"}", bad_emails[i]);
      g_autofree char *message = g_strdup_printf ("rules.email: \"%s\" is not a valid email", bad_emails[i]);

      assert_invalid (schema, "rules", json, message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"url\":\"%s\"}", urls[i]);
      g_autoptr(JsonObject) record = assert_valid (schema, "rules", json);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_urls); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"url\":\"%s\"}", bad_urls[i]);
      g_autofree char *message = g_strdup_printf ("rules.url: \"%s\" is not a valid url", bad_urls[i]);

      assert_invalid (schema, "rules", json, message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (uuids); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"uuid\":\"%s\"}", uuids[i]);
      g_autoptr(JsonObject) record = assert_valid (schema, "rules", json);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_uuids); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"uuid\":\"%s\"}", bad_uuids[i]);
      g_autofree char *message = g_strdup_printf ("rules.uuid: \"%s\" is not a valid uuid", bad_uuids[i]);

      assert_invalid (schema, "rules", json, message);
    }
}

static void
test_validate_pattern (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) digits = assert_valid (schema, "rules", "{\"code\":\"0123\"}");
  /* Unanchored like JSON Schema: "ab" anywhere matches. */
  g_autoptr(JsonObject) inside = assert_valid (schema, "rules", "{\"word\":\"crabs\"}");

  assert_invalid (schema, "rules", "{\"code\":\"abc\"}", "rules.code: \"abc\" does not match pattern ^[0-9]+$");
  assert_invalid (schema, "rules", "{\"code\":\"12a\"}", "rules.code: \"12a\" does not match pattern ^[0-9]+$");
  assert_invalid (schema, "rules", "{\"word\":\"ba\"}", "rules.word: \"ba\" does not match pattern ab");
}

static void
test_validate_enum (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) a = assert_valid (schema, "rules", "{\"kind\":\"a\"}");
  g_autoptr(JsonObject) two = assert_valid (schema, "rules", "{\"level\":2.0}");

  assert_invalid (schema, "rules", "{\"kind\":\"x\"}", "rules.kind: \"x\" is not one of [\"a\",\"b\"]");
  assert_invalid (schema, "rules", "{\"level\":3}", "rules.level: 3 is not one of [1,2]");
}

static void
test_validate_items (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = assert_valid (schema, "rules",
                                               "{\"grid\":[[1,2],[]],\"times\":[\"2026-11-22\"]}");
  JsonArray *times = json_object_get_array_member (record, "times");

  g_assert_cmpstr (json_array_get_string_element (times, 0), ==, "2026-11-22T00:00:00.000Z");
  assert_invalid (schema, "rules", "{\"grid\":[[1],[2,\"x\"]]}", "rules.grid[1][1]: expected integer, got string");
  assert_invalid (schema, "rules", "{\"tags\":[\"a\",\"\"]}", "rules.tags[1]: length 0 is below minLength 1");
  assert_invalid (schema, "rules", "{\"times\":[\"2026-11-22\",\"later\"]}",
                  "rules.times[1]: \"later\" is not an ISO 8601 datetime");
}

static void
test_validate_datetime (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  const struct { const char *in, *out; } cases[] = {
    { "2026-11-22", "2026-11-22T00:00:00.000Z" },
    { "2026-11-22T10:20:30Z", "2026-11-22T10:20:30.000Z" },
    { "2026-11-22T10:20:30", "2026-11-22T10:20:30.000Z" },
    { "2026-11-22T10:20:30.5+01:00", "2026-11-22T09:20:30.500Z" },
    { "2026-11-22T10:20:30.123456Z", "2026-11-22T10:20:30.123Z" },
    { "2026-11-22T10:20:30.9999Z", "2026-11-22T10:20:30.999Z" },
    { "2026-11-22T23:30:00-01:00", "2026-11-23T00:30:00.000Z" },
    { "2026-11-22T10:20:30.123Z", "2026-11-22T10:20:30.123Z" },
    { "2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999Z" },
    { "9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z" },
  };
  const char *bad[] = { "tomorrow", "2026-13-01", "2026-02-30", "2026-11-22T25:00:00Z", "22/11/2026", "",
                        "2026-02-29T00:00:00.000Z", "2026-11-22T24:00:00.000Z", "0000-01-01T00:00:00.000Z",
                        "0001-01-01T00:00:00+01:00", "2026-11-22T10:20:30.123Z " };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"when\":\"%s\"}", cases[i].in);
      g_autoptr(JsonObject) record = assert_valid (schema, "rules", json);

      g_assert_cmpstr (member_string (record, "when"), ==, cases[i].out);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"when\":\"%s\"}", bad[i]);
      g_autofree char *message = g_strdup_printf ("rules.when: \"%s\" is not an ISO 8601 datetime", bad[i]);

      assert_invalid (schema, "rules", json, message);
    }
}

static void
test_validate_unknown_fields (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) open = assert_valid (schema, "open", "{\"name\":\"n\",\"colour\":\"red\",\"n\":[1]}");

  g_assert_cmpstr (member_string (open, "colour"), ==, "red");
  assert_invalid (schema, "rules", "{\"title\":\"a\",\"colour\":\"red\"}",
                  "rules.colour: unknown field (not in the schema; set additionalFields to allow)");
  /* Declared fields in an open collection still follow their rules. */
  assert_invalid (schema, "open", "{\"name\":1}", "open.name: expected string, got integer");
  assert_invalid (schema, "open", "{\"createdAt\":\"2026-01-01\"}",
                  "open.createdAt: is set by the database and cannot be written");
  assert_invalid (schema, "rules", "{\"updatedAt\":\"2026-01-01\"}",
                  "rules.updatedAt: is set by the database and cannot be written");
}

static void
test_validate_id (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = assert_valid (schema, "rules", "{\"id\":\"0192ecd9-abf6\",\"title\":\"a\"}");
  g_autofree char *long_id = g_strnfill (257, 'x');
  g_autofree char *longest = g_strnfill (256, 'x');
  g_autofree char *json = g_strdup_printf ("{\"id\":\"%s\"}", long_id);
  g_autofree char *ok = g_strdup_printf ("{\"id\":\"%s\"}", longest);
  g_autoptr(JsonObject) longest_record = assert_valid (schema, "rules", ok);

  assert_invalid (schema, "rules", "{\"id\":\"\"}", "rules.id: must be a non-empty string");
  assert_invalid (schema, "rules", "{\"id\":7}", "rules.id: must be a non-empty string");
  assert_invalid (schema, "rules", "{\"id\":null}", "rules.id: must be a non-empty string");
  assert_invalid (schema, "rules", json, "rules.id: must be at most 256 bytes long, not 257");
  assert_invalid (schema, "rules", "{\"id\":\"a\\nb\"}", "rules.id: must not contain control characters");
}

static void
test_validate_unknown_collection (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autoptr(JsonObject) record = tether_test_object ("{}");
  g_autoptr(JsonNode) value = tether_test_node ("1");
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_schema_validate (schema, "foo", record, &error));
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION);
  g_assert_cmpstr (error->message, ==, "no collection 'foo' in the schema");
  g_clear_error (&error);
  g_assert_false (tether_schema_validate_value (schema, "foo", "x", value, &error));
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION);
}

static void
assert_value (TetherSchema *schema,
              const char   *collection,
              const char   *field,
              const char   *json,
              const char   *message_or_normal)
{
  g_autoptr(JsonNode) value = tether_test_node (json);
  g_autoptr(GError) error = NULL;
  gboolean ok = tether_schema_validate_value (schema, collection, field, value, &error);

  if (ok)
    {
      g_autofree char *text = json_to_string (value, FALSE);

      g_assert_cmpstr (text, ==, message_or_normal);
      return;
    }
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  g_assert_cmpstr (error->message, ==, message_or_normal);
}

static void
test_validate_value (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();

  assert_value (schema, "rules", "count", "2", "2");
  assert_value (schema, "rules", "count", "9", "rules.count: 9 is above max 3");
  assert_value (schema, "rules", "count", "null", "null");
  assert_value (schema, "required", "title", "null", "null");
  assert_value (schema, "rules", "when", "\"2026-11-22\"", "\"2026-11-22T00:00:00.000Z\"");
  assert_value (schema, "rules", "tags", "[\"a\",2]", "rules.tags[1]: expected string, got integer");
  assert_value (schema, "rules", "id", "\"abc\"", "\"abc\"");
  assert_value (schema, "rules", "id", "1", "rules.id: expected string, got integer");
  assert_value (schema, "rules", "createdAt", "\"2026-11-22T01:00:00+01:00\"", "\"2026-11-22T00:00:00.000Z\"");
  assert_value (schema, "rules", "updatedAt", "\"soon\"", "rules.updatedAt: \"soon\" is not an ISO 8601 datetime");
  assert_value (schema, "rules", "colour", "\"red\"",
                "rules.colour: unknown field (not in the schema; set additionalFields to allow)");
  assert_value (schema, "open", "colour", "\"red\"", "\"red\"");

  /* An immutable value is checked as it is and left alone (no critical). */
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    g_autoptr(GError) error = NULL;
    JsonNode *value;

    g_assert_true (json_parser_load_from_data (parser, "\"2026-11-22\"", -1, NULL));
    value = json_parser_get_root (parser);
    g_assert_true (tether_schema_validate_value (schema, "rules", "when", value, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (json_node_get_string (value), ==, "2026-11-22");
    g_assert_true (json_parser_load_from_data (parser, "\"never\"", -1, NULL));
    g_assert_false (tether_schema_validate_value (schema, "rules", "when", json_parser_get_root (parser), &error));
    g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  }
}

/* A failing megabyte of text must still give a message a person can read. */
static void
test_validate_long_value (void)
{
  g_autoptr(TetherSchema) schema = rules_new ();
  g_autofree char *text = g_strnfill (1000, 'x');
  g_autofree char *json = g_strdup_printf ("{\"code\":\"%s\"}", text);
  g_autoptr(JsonObject) record = tether_test_object (json);
  g_autoptr(GError) error = NULL;
  g_autofree char *shown = g_strnfill (60, 'x');
  g_autofree char *message = g_strdup_printf ("rules.code: \"%s…\" does not match pattern ^[0-9]+$", shown);

  g_assert_false (tether_schema_validate (schema, "rules", record, &error));
  g_assert_cmpstr (error->message, ==, message);
}

/* Validation runs on every write; this measures, it does not judge. */
static void
test_validate_throughput (void)
{
  const char *text =
    "{\"id\":\"0192ecd9-abf6-7af6-9d1c-0123456789ab\",\"title\":\"Buy milk\","
    "\"notes\":\"two litres\",\"done\":false,\"due\":\"2026-11-22T10:00:00.000Z\","
    "\"priority\":2,\"tags\":[\"home\",\"shop\"]}";
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GTimer) timer = NULL;

  for (guint i = 0; i < 10000; i++)
    g_ptr_array_add (records, tether_test_object (text));

  timer = g_timer_new ();
  for (guint i = 0; i < records->len; i++)
    g_assert_true (tether_schema_validate (schema, "tasks", g_ptr_array_index (records, i), NULL));
  g_test_message ("validated 10000 tasks in %.1f ms", g_timer_elapsed (timer, NULL) * 1000);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tether/schema/parse/default", test_parse_default);
  g_test_add_func ("/tether/schema/parse/builtins", test_parse_builtins);
  g_test_add_func ("/tether/schema/parse/unknown-names", test_parse_unknown_names);
  g_test_add_func ("/tether/schema/parse/indexes", test_parse_indexes);
  g_test_add_func ("/tether/schema/parse/order", test_parse_order);
  g_test_add_func ("/tether/schema/parse/canonical", test_parse_canonical);
  g_test_add_func ("/tether/schema/parse/from-file", test_parse_from_file);
  g_test_add_func ("/tether/schema/parse/bad-json", test_parse_bad_json);
  g_test_add_func ("/tether/schema/parse/document-errors", test_parse_document_errors);
  g_test_add_func ("/tether/schema/parse/collection-errors", test_parse_collection_errors);
  g_test_add_func ("/tether/schema/parse/field-errors", test_parse_field_errors);
  g_test_add_func ("/tether/schema/parse/rule-errors", test_parse_rule_errors);
  g_test_add_func ("/tether/schema/parse/bad-regex", test_parse_bad_regex);
  g_test_add_func ("/tether/schema/parse/bad-default", test_parse_bad_default);
  g_test_add_func ("/tether/schema/parse/searchable-errors", test_parse_searchable_errors);
  g_test_add_func ("/tether/schema/parse/index-errors", test_parse_index_errors);
  g_test_add_func ("/tether/schema/parse/name-clashes", test_parse_name_clashes);
  g_test_add_func ("/tether/schema/validate/required", test_validate_required);
  g_test_add_func ("/tether/schema/validate/defaults", test_validate_defaults);
  g_test_add_func ("/tether/schema/validate/default-schema", test_validate_default_schema);
  g_test_add_func ("/tether/schema/validate/types", test_validate_types);
  g_test_add_func ("/tether/schema/validate/null", test_validate_null);
  g_test_add_func ("/tether/schema/validate/bounds", test_validate_bounds);
  g_test_add_func ("/tether/schema/validate/large-bounds", test_validate_large_bounds);
  g_test_add_func ("/tether/schema/validate/length", test_validate_length);
  g_test_add_func ("/tether/schema/validate/format", test_validate_format);
  g_test_add_func ("/tether/schema/validate/pattern", test_validate_pattern);
  g_test_add_func ("/tether/schema/validate/enum", test_validate_enum);
  g_test_add_func ("/tether/schema/validate/items", test_validate_items);
  g_test_add_func ("/tether/schema/validate/datetime", test_validate_datetime);
  g_test_add_func ("/tether/schema/validate/unknown-fields", test_validate_unknown_fields);
  g_test_add_func ("/tether/schema/validate/id", test_validate_id);
  g_test_add_func ("/tether/schema/validate/unknown-collection", test_validate_unknown_collection);
  g_test_add_func ("/tether/schema/validate/value", test_validate_value);
  g_test_add_func ("/tether/schema/validate/long-value", test_validate_long_value);
  g_test_add_func ("/tether/schema/validate/throughput", test_validate_throughput);

  return g_test_run ();
}
