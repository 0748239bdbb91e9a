/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-collection"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"people\": {\"fields\": {" \
  "   \"name\": {\"type\": \"string\", \"required\": true}," \
  "   \"email\": {\"type\": \"string\", \"format\": \"email\"}," \
  "   \"age\": {\"type\": \"integer\", \"min\": 0}," \
  "   \"address\": {\"type\": \"object\"}," \
  "   \"tags\": {\"type\": \"array\", \"default\": []}," \
  "   \"bio\": {\"type\": \"string\"}}," \
  "  \"indexes\": [{\"field\": \"email\", \"unique\": true}, {\"field\": \"age\"}]}}}"

typedef struct {
  TetherDatabase   *db;
  TetherCollection *people;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);

  f->db = tether_test_open (NULL, schema);
  f->people = tether_database_get_collection (f->db, "people", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->db);
}

static TetherRecord *
create_ok (Fixture *f, const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = tether_test_object (json);
  TetherRecord *record = tether_collection_create (f->people, object, &error);

  g_assert_no_error (error);
  g_assert_nonnull (record);
  return record;
}

static void
assert_error_message (GError *error, const char *fragment)
{
  g_assert_nonnull (error);
  if (strstr (error->message, fragment) == NULL)
    g_error ("expected \"%s\" in \"%s\"", fragment, error->message);
}

static void
test_create_get (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) input = tether_test_object ("{\"name\": \"Ada\", \"age\": 36}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) created = tether_collection_create (f->people, input, &error);
  g_autoptr(TetherRecord) fetched = NULL;
  gint64 now = tether_time_now_ms ();

  g_assert_no_error (error);
  /* A UUIDv7 id was assigned, defaults applied, the input left alone. */
  g_assert_true (tether_uuid_is_valid (tether_record_get_id (created)));
  g_assert_cmpint (tether_record_get_id (created)[14], ==, '7');
  g_assert_false (json_object_has_member (input, "id"));
  g_assert_false (json_object_has_member (input, "tags"));
  g_assert_true (tether_record_has_field (created, "tags"));
  /* Timestamps live beside the data, not in it. */
  g_assert_false (tether_record_has_field (created, "createdAt"));
  g_assert_cmpint (ABS (tether_record_get_created_at (created) - now), <, 5000);

  fetched = tether_collection_get (f->people, tether_record_get_id (created), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (fetched, "name", NULL), ==, "Ada");
  g_assert_cmpint (tether_record_get_int (fetched, "age", -1), ==, 36);
  g_assert_cmpint (tether_record_get_created_at (fetched), ==, tether_record_get_created_at (created));
}

static void
test_ids_sort_by_creation (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) made = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 50; i++)
    g_ptr_array_add (made, create_ok (f, "{\"name\": \"n\"}"));
  all = tether_collection_get_all (f->people, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 50);
  for (guint i = 0; i < all->len; i++)
    g_assert_cmpstr (tether_record_get_id (g_ptr_array_index (all, i)), ==,
                     tether_record_get_id (g_ptr_array_index (made, i)));
}

static void
test_given_id_and_duplicate (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = create_ok (f, "{\"id\": \"ada\", \"name\": \"Ada\"}");
  g_autoptr(JsonObject) again = tether_test_object ("{\"id\": \"ada\", \"name\": \"Other\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) b = tether_collection_create (f->people, again, &error);

  g_assert_cmpstr (tether_record_get_id (a), ==, "ada");
  g_assert_null (b);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_EXISTS);
  assert_error_message (error, "people: a record with id 'ada' already exists");
}

static void
test_validation_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) bad = tether_test_object ("{\"name\": \"Kid\", \"age\": -3}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) r = tether_collection_create (f->people, bad, &error);

  g_assert_null (r);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  assert_error_message (error, "people.age");
  g_assert_cmpint (tether_collection_count (f->people, NULL, NULL), ==, 0);
}

static void
test_unique_index (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = create_ok (f, "{\"name\": \"A\", \"email\": \"a@example.org\"}");
  g_autoptr(TetherRecord) b = create_ok (f, "{\"name\": \"B\", \"email\": \"b@example.org\"}");
  g_autoptr(JsonObject) clash = tether_test_object ("{\"name\": \"C\", \"email\": \"a@example.org\"}");
  g_autoptr(JsonObject) patch = tether_test_object ("{\"email\": \"a@example.org\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) c = tether_collection_create (f->people, clash, &error);
  g_autoptr(TetherRecord) b2 = NULL;
  g_autoptr(TetherRecord) still = NULL;

  g_assert_null (c);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_UNIQUE);
  assert_error_message (error, "people.email: \"a@example.org\" is already used");
  g_clear_error (&error);

  b2 = tether_collection_update (f->people, tether_record_get_id (b), patch, &error);
  g_assert_null (b2);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_UNIQUE);
  g_clear_error (&error);
  still = tether_collection_get (f->people, tether_record_get_id (b), &error);
  g_assert_cmpstr (tether_record_get_string (still, "email", NULL), ==, "b@example.org");
  /* Absent values do not clash. */
  g_object_unref (create_ok (f, "{\"name\": \"D\"}"));
  g_object_unref (create_ok (f, "{\"name\": \"E\"}"));
}

static void
test_too_large (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) big = json_object_new ();
  g_autofree char *bio = g_malloc (TETHER_MAX_RECORD_BYTES + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) r = NULL;

  memset (bio, 'x', TETHER_MAX_RECORD_BYTES);
  bio[TETHER_MAX_RECORD_BYTES] = '\0';
  json_object_set_string_member (big, "name", "verbose");
  json_object_set_string_member (big, "bio", bio);
  r = tether_collection_create (f->people, big, &error);
  g_assert_null (r);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_TOO_LARGE);
  assert_error_message (error, "over the 1 MiB limit");

  /* Just under the limit is fine. */
  bio[TETHER_MAX_RECORD_BYTES - 200] = '\0';
  json_object_set_string_member (big, "bio", bio);
  g_clear_error (&error);
  r = tether_collection_create (f->people, big, &error);
  g_assert_no_error (error);
}

static void
test_update_merges (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = create_ok (f,
    "{\"name\": \"Ada\", \"age\": 36, \"bio\": \"math\", \"address\": {\"city\": \"London\", \"zip\": \"N1\"}}");
  g_autoptr(JsonObject) patch = tether_test_object (
    "{\"age\": 37, \"bio\": null, \"address\": {\"zip\": \"W1\"}}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) b = tether_collection_update (f->people, tether_record_get_id (a), patch, &error);
  JsonObject *address;

  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (b, "name", NULL), ==, "Ada");
  g_assert_cmpint (tether_record_get_int (b, "age", 0), ==, 37);
  g_assert_false (tether_record_has_field (b, "bio"));
  address = json_node_get_object (tether_record_get_member (b, "address"));
  g_assert_cmpstr (json_object_get_string_member (address, "city"), ==, "London");
  g_assert_cmpstr (json_object_get_string_member (address, "zip"), ==, "W1");
  /* The old record object is untouched (records are immutable). */
  g_assert_cmpint (tether_record_get_int (a, "age", 0), ==, 36);
  g_assert_cmpint (tether_record_get_updated_at (b), >=, tether_record_get_updated_at (a));
  g_assert_cmpint (tether_record_get_created_at (b), ==, tether_record_get_created_at (a));
}

static void
test_update_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = create_ok (f, "{\"name\": \"Ada\"}");
  g_autoptr(JsonObject) rename = tether_test_object ("{\"id\": \"other\"}");
  g_autoptr(JsonObject) fine = tether_test_object ("{\"age\": 1}");
  g_autoptr(JsonObject) unset = tether_test_object ("{\"name\": null}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) r = NULL;

  r = tether_collection_update (f->people, tether_record_get_id (a), rename, &error);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID);
  g_clear_error (&error);
  r = tether_collection_update (f->people, "missing", fine, &error);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
  assert_error_message (error, "no record with id 'missing'");
  g_clear_error (&error);
  /* Removing a required field is a validation error. */
  r = tether_collection_update (f->people, tether_record_get_id (a), unset, &error);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  assert_error_message (error, "people.name: required");
  g_assert_cmpuint (tether_database_get_transaction_depth (f->db), ==, 0);
}

static void
test_put (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) first = tether_test_object ("{\"id\": \"p1\", \"name\": \"One\", \"age\": 5}");
  g_autoptr(JsonObject) second = tether_test_object ("{\"id\": \"p1\", \"name\": \"Uno\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) a = tether_collection_put (f->people, first, &error);
  g_autoptr(TetherRecord) b = NULL;

  g_assert_no_error (error);
  b = tether_collection_put (f->people, second, &error);
  g_assert_no_error (error);
  /* put replaces the whole record: age is gone. */
  g_assert_false (tether_record_has_field (b, "age"));
  g_assert_cmpstr (tether_record_get_string (b, "name", NULL), ==, "Uno");
  g_assert_cmpint (tether_record_get_created_at (b), ==, tether_record_get_created_at (a));
  g_assert_cmpint (tether_collection_count (f->people, NULL, NULL), ==, 1);
}

static void
test_delete (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) a = create_ok (f, "{\"name\": \"Ada\"}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) gone = NULL;

  g_assert_true (tether_collection_delete (f->people, tether_record_get_id (a), &error));
  gone = tether_collection_get (f->people, tether_record_get_id (a), &error);
  g_assert_null (gone);
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tether_collection_delete (f->people, tether_record_get_id (a), &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
}

static void
test_delete_many_and_count (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherQuery) young = tether_query_new (f->people);
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 10; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"name\": \"p%d\", \"age\": %d}", i, i * 10);
      g_object_unref (create_ok (f, json));
    }
  tether_query_where_text (young, "age < 30");
  g_assert_cmpint (tether_collection_count (f->people, young, &error), ==, 3);
  g_assert_cmpint (tether_collection_delete_many (f->people, young, &error), ==, 3);
  g_assert_no_error (error);
  g_assert_cmpint (tether_collection_count (f->people, NULL, &error), ==, 7);
  g_assert_cmpint (tether_collection_delete_many (f->people, NULL, &error), ==, 7);
  g_assert_cmpint (tether_collection_count (f->people, NULL, &error), ==, 0);
}

static void
on_deleted_keep_old (TetherCollection *c, TetherChangeType type, const char *id,
                     TetherRecord *old_record, TetherRecord *new_record, GPtrArray *olds)
{
  g_ptr_array_add (olds, g_object_ref (old_record));
}

/* A query that shows previews still deletes, and announces, whole records. */
static void
test_delete_many_preview (Fixture *f, gconstpointer data)
{
  static const char * const fields[] = { "name", NULL };
  g_autoptr(TetherQuery) query = tether_query_new (f->people);
  g_autoptr(GPtrArray) olds = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(TetherRecord) r = create_ok (f, "{\"name\": \"Ada Lovelace\", \"age\": 36, \"bio\": \"wrote the first program\"}");
  g_autoptr(GError) error = NULL;
  TetherRecord *old;

  g_signal_connect (f->people, "changed", G_CALLBACK (on_deleted_keep_old), olds);
  tether_query_preview (query, fields, 3);
  g_assert_cmpint (tether_collection_delete_many (f->people, query, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (olds->len, ==, 1);
  old = g_ptr_array_index (olds, 0);
  g_assert_cmpstr (tether_record_get_string (old, "name", NULL), ==, "Ada Lovelace");
  g_assert_cmpstr (tether_record_get_string (old, "bio", NULL), ==, "wrote the first program");
  g_assert_cmpint (tether_record_get_int (old, "age", 0), ==, 36);
  g_signal_handlers_disconnect_by_data (f->people, olds);
}

typedef struct {
  int              n;
  TetherChangeType type;
  char            *id;
  char            *old_name;
  char            *new_name;
} Seen;

static void
on_changed (TetherCollection *c, TetherChangeType type, const char *id,
            TetherRecord *old_record, TetherRecord *new_record, Seen *seen)
{
  seen->n++;
  seen->type = type;
  g_free (seen->id);
  seen->id = g_strdup (id);
  g_free (seen->old_name);
  g_free (seen->new_name);
  seen->old_name = old_record ? g_strdup (tether_record_get_string (old_record, "name", NULL)) : NULL;
  seen->new_name = new_record ? g_strdup (tether_record_get_string (new_record, "name", NULL)) : NULL;
}

static void
test_changed_signal (Fixture *f, gconstpointer data)
{
  Seen seen = { 0 };
  g_autoptr(TetherRecord) a = NULL;
  g_autoptr(TetherRecord) b = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"name\": \"Grace\"}");

  g_signal_connect (f->people, "changed", G_CALLBACK (on_changed), &seen);
  a = create_ok (f, "{\"name\": \"Ada\"}");
  g_assert_cmpint (seen.n, ==, 1);
  g_assert_cmpint (seen.type, ==, TETHER_CHANGE_CREATE);
  g_assert_cmpstr (seen.id, ==, tether_record_get_id (a));
  g_assert_null (seen.old_name);
  g_assert_cmpstr (seen.new_name, ==, "Ada");

  b = tether_collection_update (f->people, tether_record_get_id (a), patch, NULL);
  g_assert_cmpint (seen.type, ==, TETHER_CHANGE_UPDATE);
  g_assert_cmpstr (seen.old_name, ==, "Ada");
  g_assert_cmpstr (seen.new_name, ==, "Grace");

  g_assert_true (tether_collection_delete (f->people, tether_record_get_id (a), NULL));
  g_assert_cmpint (seen.type, ==, TETHER_CHANGE_DELETE);
  g_assert_cmpstr (seen.old_name, ==, "Grace");
  g_assert_null (seen.new_name);
  g_assert_cmpint (seen.n, ==, 3);
  g_signal_handlers_disconnect_by_data (f->people, &seen);
  g_free (seen.id);
  g_free (seen.old_name);
}

static void
test_typed_getters (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) r = create_ok (f,
    "{\"name\": \"Ada\", \"age\": 36, \"tags\": [\"math\", 3, \"poet\"]}");
  g_auto(GStrv) tags = tether_record_dup_strv (r, "tags");

  g_assert_cmpstr (tether_record_get_string (r, "age", "fallback"), ==, "fallback");
  g_assert_cmpint (tether_record_get_int (r, "name", -1), ==, -1);
  g_assert_cmpfloat (tether_record_get_double (r, "age", 0), ==, 36.0);
  g_assert_false (tether_record_get_boolean (r, "missing", FALSE));
  g_assert_cmpuint (g_strv_length (tags), ==, 2);
  g_assert_cmpstr (tags[1], ==, "poet");
}

/* Text json-glib 1.6 would write as something that is not JSON (U+001F
 * left raw, 1e20 as "1e+20.0"): stored, read back and written again. */
static void
test_json_text_round_trip (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) created = create_ok (f, "{\"name\": \"unit\\u001fsep\\u0007\\r\","
                                                  " \"address\": {\"big\": 1e20, \"half\": 0.5,"
                                                  " \"three\": 3.0, \"tiny\": -2.5e-300}}");
  g_autoptr(TetherRecord) fetched = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(JsonObject) again = NULL;
  JsonObject *address;

  fetched = tether_collection_get (f->people, tether_record_get_id (created), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (fetched, "name", NULL), ==, "unit\x1fsep\x07\r");
  text = tether_record_to_json (fetched);
  g_assert_null (strchr (text, 0x1f));
  again = tether_test_object (text);
  address = json_object_get_object_member (again, "address");
  g_assert_cmpfloat (json_object_get_double_member (address, "big"), ==, 1e20);
  g_assert_cmpfloat (json_object_get_double_member (address, "half"), ==, 0.5);
  g_assert_true (json_node_get_value_type (json_object_get_member (address, "three")) == G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_object_get_double_member (address, "tiny"), ==, -2.5e-300);
}

/* json-glib reads 1e999 as infinity, which JSON cannot write: refused,
 * naming the member, where it was stored as null. */
static void
test_non_finite_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) object = tether_test_object ("{\"name\": \"x\", \"address\": {\"far\": 1e999}}");
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_create (f->people, object, &error);

  g_assert_null (record);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  assert_error_message (error, "far");
  g_assert_cmpint (tether_collection_count (f->people, NULL, NULL), ==, 0);
}

/* Text that is not UTF-8, in a value or a member name (JSON has no way to
 * hold it), was stored as it came: refused like an infinity, naming the
 * field, and no message quotes the bad bytes. */
static void
test_not_utf8_refused (Fixture *f, gconstpointer data)
{
  struct { const char *field, *inner, *value; const char *message; } cases[] = {
    { "name", NULL, "caf\xe9", "people.name: is text that is not valid UTF-8" },
    { "bio", NULL, "\xc3", "people.bio: is text that is not valid UTF-8" },
    { "id", NULL, "id-\xff", "people: id is text that is not valid UTF-8" },
    { "address", "city", "M\xfcnchen", "people: city is text that is not valid UTF-8" },
    { "address", "\xff", "x", "people: address has a member name that is not valid UTF-8" },
    { "tags", NULL, "\xed\xa0\x80", "people: tags is text that is not valid UTF-8" },
    { "\xfe", NULL, "x", "people: a member name is not valid UTF-8" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherRecord) record = NULL;

      json_object_set_string_member (object, "name", "ok");
      if (cases[i].inner != NULL)
        {
          JsonObject *inner = json_object_new ();

          json_object_set_string_member (inner, cases[i].inner, cases[i].value);
          json_object_set_object_member (object, cases[i].field, inner);
        }
      else if (g_str_equal (cases[i].field, "tags"))
        {
          JsonArray *tags = json_array_new ();

          json_array_add_string_element (tags, "fine");
          json_array_add_string_element (tags, cases[i].value);
          json_object_set_array_member (object, "tags", tags);
        }
      else
        json_object_set_string_member (object, cases[i].field, cases[i].value);
      record = tether_collection_put (f->people, object, &error);
      g_assert_null (record);
      g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      assert_error_message (error, cases[i].message);
    }
  g_assert_cmpint (tether_collection_count (f->people, NULL, NULL), ==, 0);
}

/* A record whose "address" holds objects and arrays @levels deep (the
 * record itself is one level more). */
static JsonObject *
nested_record (guint levels)
{
  g_autoptr(GString) json = g_string_new ("{\"name\": \"deep\", \"address\": ");

  for (guint i = 1; i < levels; i++)
    g_string_append (json, i % 2 ? "{\"a\": " : "[");
  g_string_append (json, "{}");
  for (guint i = levels; i-- > 1;)
    g_string_append (json, i % 2 ? "}" : "]");
  g_string_append_c (json, '}');
  return tether_test_object (json->str);
}

/* A server reads no JSON deeper than 64 levels, three of them around the
 * record in a push, and SQLite's JSON functions none past 2,000: refused
 * before anything is written, naming the field. */
static void
test_too_deep (Fixture *f, gconstpointer data)
{
  g_autoptr(JsonObject) deepest = nested_record (TETHER_MAX_RECORD_DEPTH - 1);
  g_autoptr(JsonObject) deeper = nested_record (TETHER_MAX_RECORD_DEPTH);
  g_autoptr(JsonObject) far = nested_record (3000);
  g_autoptr(TetherRecord) ok = tether_collection_create (f->people, deepest, NULL);
  g_autoptr(JsonObject) patch = json_object_new ();
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *objects[] = { deeper, far };

  g_assert_nonnull (ok);
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    {
      g_autoptr(TetherRecord) created = tether_collection_create (f->people, objects[i], &error);
      g_autoptr(TetherRecord) put = NULL;

      g_assert_null (created);
      g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
      assert_error_message (error, "people.address: nested deeper than a record may be (61 levels");
      g_clear_error (&error);
      json_object_set_string_member (objects[i], "id", tether_record_get_id (ok));
      put = tether_collection_put (f->people, objects[i], &error);
      g_assert_null (put);
      g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
      g_clear_error (&error);
    }
  json_object_set_member (patch, "address", json_object_dup_member (deeper, "address"));
  updated = tether_collection_update (f->people, tether_record_get_id (ok), patch, &error);
  g_assert_null (updated);
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  assert_error_message (error, "people.address: nested deeper");
  g_assert_cmpint (tether_collection_count (f->people, NULL, NULL), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/tether/collection/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("create-get", test_create_get);
  ADD ("ids-sort-by-creation", test_ids_sort_by_creation);
  ADD ("given-id-duplicate", test_given_id_and_duplicate);
  ADD ("validation-refused", test_validation_refused);
  ADD ("unique-index", test_unique_index);
  ADD ("too-large", test_too_large);
  ADD ("update-merges", test_update_merges);
  ADD ("update-errors", test_update_errors);
  ADD ("put", test_put);
  ADD ("delete", test_delete);
  ADD ("delete-many-count", test_delete_many_and_count);
  ADD ("delete-many-preview", test_delete_many_preview);
  ADD ("changed-signal", test_changed_signal);
  ADD ("typed-getters", test_typed_getters);
  ADD ("json-text-round-trip", test_json_text_round_trip);
  ADD ("non-finite-refused", test_non_finite_refused);
  ADD ("too-deep", test_too_deep);
  ADD ("not-utf8-refused", test_not_utf8_refused);
#undef ADD

  return g_test_run ();
}
