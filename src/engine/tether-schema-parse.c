/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-schema"
#include "config.h"

#include "tether-private.h"
#include "tether-schema-private.h"

/* Parsing. Every error names the JSON path of the mistake so that a person
 * editing the schema file can find it. */

static const char * const root_keys[] = { "version", "collections", NULL };
static const char * const collection_keys[] = {
  "fields", "indexes", "searchable", "additionalFields", NULL
};
static const char * const index_keys[] = { "field", "fields", "unique", NULL };

void
_tether_collection_spec_free (TetherCollectionSpec *spec)
{
  g_clear_pointer (&spec->by_name, g_hash_table_unref);
  g_clear_pointer (&spec->fields, g_ptr_array_unref);
  g_clear_pointer (&spec->indexes, g_ptr_array_unref);
  g_strfreev (spec->field_names);
  g_strfreev (spec->searchable);
  g_free (spec->name);
  g_free (spec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherCollectionSpec, _tether_collection_spec_free)

static void
index_spec_free (TetherIndexSpec *spec)
{
  g_strfreev (spec->fields);
  g_free (spec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherIndexSpec, index_spec_free)

/* Helpers for "path.key: message" errors. */

char *
_tether_schema_path_join (const char *path,
                          const char *key)
{
  if (path == NULL || path[0] == '\0')
    return g_strdup (key);
  return g_strconcat (path, ".", key, NULL);
}

/* Returns FALSE so that parsers can `return _tether_schema_invalid (…)`. */
gboolean
_tether_schema_invalid (GError     **error,
                        const char  *path,
                        const char  *format,
                        ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (path == NULL)
    g_set_error_literal (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_INVALID, message);
  else
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_INVALID,
                 "%s: %s", path, message);
  return FALSE;
}

/* Unknown keys are errors so that a typo ("requird") is not silently ignored. */
gboolean
_tether_schema_check_keys (JsonObject          *object,
                           const char          *path,
                           const char * const  *allowed,
                           GError             **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    if (!g_strv_contains (allowed, name))
      {
        g_autofree char *key_path = _tether_schema_path_join (path, name);
        g_autofree char *expected = g_strjoinv (", ", (char **) allowed);

        return _tether_schema_invalid (error, key_path,
                                       "unknown key (expected one of %s)", expected);
      }
  return TRUE;
}

gboolean
_tether_schema_get_boolean (JsonObject  *object,
                            const char  *path,
                            const char  *key,
                            gboolean    *out,
                            GError     **error)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    {
      g_autofree char *key_path = _tether_schema_path_join (path, key);

      return _tether_schema_invalid (error, key_path, "must be true or false");
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
collection_name_is_valid (const char *name)
{
  gsize len;

  if (!g_ascii_islower (name[0]))
    return FALSE;
  for (len = 1; name[len] != '\0'; len++)
    if (!g_ascii_islower (name[len]) && !g_ascii_isdigit (name[len]) && name[len] != '_')
      return FALSE;
  return len <= 63;
}

static gboolean
has_field (TetherCollectionSpec *spec,
           const char           *name)
{
  return _tether_field_is_builtin (name) || g_hash_table_contains (spec->by_name, name);
}

static gboolean
parse_field_list (JsonNode              *node,
                  const char            *path,
                  GPtrArray             *names,
                  GError               **error)
{
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) == 0)
    return _tether_schema_invalid (error, path, "must be a non-empty array of field names");
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!_tether_json_is_string (element))
        {
          g_autofree char *item_path = g_strdup_printf ("%s[%u]", path, i);

          return _tether_schema_invalid (error, item_path, "must be a field name");
        }
      g_ptr_array_add (names, g_strdup (json_node_get_string (element)));
    }
  return TRUE;
}

static gboolean
check_index_fields (TetherCollectionSpec  *spec,
                    GPtrArray             *names,
                    const char            *path,
                    GError               **error)
{
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      if (!has_field (spec, name))
        return _tether_schema_invalid (error, path, "no field '%s' in collection '%s'",
                                       name, spec->name);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (name, g_ptr_array_index (names, j)))
          return _tether_schema_invalid (error, path, "'%s' appears twice", name);
    }
  return TRUE;
}

static gboolean
parse_index_fields (JsonObject   *object,
                    const char   *path,
                    GPtrArray    *names,
                    char        **list_path,
                    GError      **error)
{
  JsonNode *field = json_object_get_member (object, "field");
  JsonNode *fields = json_object_get_member (object, "fields");

  if ((field == NULL) == (fields == NULL))
    return _tether_schema_invalid (error, path, "needs either \"field\" or \"fields\"");
  *list_path = _tether_schema_path_join (path, field ? "field" : "fields");
  if (fields != NULL)
    return parse_field_list (fields, *list_path, names, error);
  if (!_tether_json_is_string (field))
    return _tether_schema_invalid (error, *list_path, "must be a field name");
  g_ptr_array_add (names, g_strdup (json_node_get_string (field)));
  return TRUE;
}

static gboolean
parse_index (TetherCollectionSpec  *spec,
             JsonNode              *node,
             const char            *path,
             GError               **error)
{
  g_autoptr(TetherIndexSpec) index = g_new0 (TetherIndexSpec, 1);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *list_path = NULL;
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return _tether_schema_invalid (error, path, "must be an object");
  object = json_node_get_object (node);
  if (!_tether_schema_check_keys (object, path, index_keys, error) ||
      !parse_index_fields (object, path, names, &list_path, error) ||
      !check_index_fields (spec, names, list_path, error) ||
      !_tether_schema_get_boolean (object, path, "unique", &index->unique, error))
    return FALSE;

  g_ptr_array_add (names, NULL);
  index->fields = (char **) g_ptr_array_steal (names, NULL);
  g_ptr_array_add (spec->indexes, g_steal_pointer (&index));
  return TRUE;
}

static gboolean
parse_indexes (TetherCollectionSpec  *spec,
               JsonNode              *node,
               const char            *path,
               GError               **error)
{
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    return _tether_schema_invalid (error, path, "must be an array");
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autofree char *index_path = g_strdup_printf ("%s[%u]", path, i);
      TetherIndexSpec *index;

      if (!parse_index (spec, json_array_get_element (array, i), index_path, error))
        return FALSE;
      index = g_ptr_array_index (spec->indexes, i);
      /* Equal field lists would give two indexes the same SQL name. */
      for (guint j = 0; j < i; j++)
        {
          TetherIndexSpec *other = g_ptr_array_index (spec->indexes, j);

          if (g_strv_equal ((const char * const *) other->fields,
                            (const char * const *) index->fields))
            return _tether_schema_invalid (error, index_path,
                                           "same fields as indexes[%u]", j);
        }
    }
  return TRUE;
}

static gboolean
check_searchable (TetherCollectionSpec  *spec,
                  GPtrArray             *names,
                  const char            *path,
                  GError               **error)
{
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      TetherFieldSpec *field = g_hash_table_lookup (spec->by_name, name);

      if (field == NULL)
        return _tether_schema_invalid (error, path, "no field '%s' in collection '%s'",
                                       name, spec->name);
      if (field->type != TETHER_FIELD_STRING)
        return _tether_schema_invalid (error, path, "'%s' is not a string field", name);
      for (guint j = 0; j < i; j++)
        if (g_str_equal (name, g_ptr_array_index (names, j)))
          return _tether_schema_invalid (error, path, "'%s' appears twice", name);
    }
  return TRUE;
}

static gboolean
parse_searchable (TetherCollectionSpec  *spec,
                  JsonNode              *node,
                  const char            *path,
                  GError               **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_ARRAY (node))
        return _tether_schema_invalid (error, path, "must be an array of field names");
      if (json_array_get_length (json_node_get_array (node)) > 0 &&
          !parse_field_list (node, path, names, error))
        return FALSE;
      if (!check_searchable (spec, names, path, error))
        return FALSE;
    }
  g_ptr_array_add (names, NULL);
  spec->searchable = (char **) g_ptr_array_steal (names, NULL);
  return TRUE;
}

static gboolean
parse_field (TetherCollectionSpec  *spec,
             const char            *name,
             JsonNode              *node,
             const char            *path,
             GError               **error)
{
  g_autofree char *field_path = _tether_schema_path_join (path, name);
  TetherFieldSpec *field;

  if (_tether_field_is_builtin (name))
    return _tether_schema_invalid (error, field_path,
                                   "'%s' is a built-in field and cannot be declared", name);
  if (!_tether_identifier_is_valid (name))
    return _tether_schema_invalid (error, field_path,
                                   "invalid field name (letters, digits and _, not "
                                   "starting with a digit, at most 63 characters)");
  field = _tether_field_spec_parse (name, node, field_path, FALSE, error);
  if (field == NULL)
    return FALSE;
  g_ptr_array_add (spec->fields, field);
  g_hash_table_insert (spec->by_name, field->name, field);
  return TRUE;
}

static gboolean
parse_fields (TetherCollectionSpec  *spec,
              JsonNode              *node,
              const char            *path,
              GError               **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (node != NULL)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return _tether_schema_invalid (error, path, "must be an object");
      json_object_iter_init_ordered (&iter, json_node_get_object (node));
      while (json_object_iter_next_ordered (&iter, &name, &member))
        {
          if (!parse_field (spec, name, member, path, error))
            return FALSE;
          g_ptr_array_add (names, g_strdup (name));
        }
    }
  g_ptr_array_add (names, NULL);
  spec->field_names = (char **) g_ptr_array_steal (names, NULL);
  return TRUE;
}

static TetherCollectionSpec *
collection_spec_new (const char *name)
{
  TetherCollectionSpec *spec = g_new0 (TetherCollectionSpec, 1);

  spec->name = g_strdup (name);
  spec->fields = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_field_spec_free);
  spec->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  spec->indexes = g_ptr_array_new_with_free_func ((GDestroyNotify) index_spec_free);
  return spec;
}

static gboolean
check_collection_node (const char  *name,
                       JsonNode    *node,
                       const char  *path,
                       GError     **error)
{
  if (!collection_name_is_valid (name))
    return _tether_schema_invalid (error, path,
                                   "invalid collection name (lowercase letters, digits "
                                   "and _, starting with a letter, at most 63 characters)");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return _tether_schema_invalid (error, path, "must be an object");
  return _tether_schema_check_keys (json_node_get_object (node), path, collection_keys, error);
}

TetherCollectionSpec *
_tether_schema_parse_collection (const char  *name,
                                 JsonNode    *node,
                                 GError     **error)
{
  g_autofree char *path = g_strconcat ("collections.", name, NULL);
  g_autofree char *fields_path = g_strconcat (path, ".fields", NULL);
  g_autofree char *indexes_path = g_strconcat (path, ".indexes", NULL);
  g_autofree char *searchable_path = g_strconcat (path, ".searchable", NULL);
  g_autoptr(TetherCollectionSpec) spec = NULL;
  JsonObject *object;
  JsonNode *indexes;

  if (!check_collection_node (name, node, path, error))
    return NULL;
  object = json_node_get_object (node);
  spec = collection_spec_new (name);
  if (!parse_fields (spec, json_object_get_member (object, "fields"), fields_path, error) ||
      !_tether_schema_get_boolean (object, path, "additionalFields",
                                   &spec->additional_fields, error) ||
      !parse_searchable (spec, json_object_get_member (object, "searchable"),
                         searchable_path, error))
    return NULL;
  indexes = json_object_get_member (object, "indexes");
  if (indexes != NULL && !parse_indexes (spec, indexes, indexes_path, error))
    return NULL;
  return g_steal_pointer (&spec);
}

/* SQL names ------------------------------------------------------------------ */

/* The tables FTS5 makes beside f_<collection> (tether-database-migrate.c). */
static const char * const fts_shadow_suffixes[] = {
  "_data", "_idx", "_docsize", "_config", "_content", NULL
};

static TetherCollectionSpec *
find_collection (GPtrArray  *collections,
                 const char *name)
{
  for (guint i = 0; i < collections->len; i++)
    {
      TetherCollectionSpec *spec = g_ptr_array_index (collections, i);

      if (g_str_equal (spec->name, name))
        return spec;
    }
  return NULL;
}

/* A collection named like a search table of another would share its SQL
 * names (f_notes_data is both notes' index data and notes_data's search
 * table), and dropping one would break the other. */
static gboolean
check_search_tables (GPtrArray  *collections,
                     GError    **error)
{
  for (guint i = 0; i < collections->len; i++)
    {
      TetherCollectionSpec *spec = g_ptr_array_index (collections, i);

      if (spec->searchable == NULL || spec->searchable[0] == NULL)
        continue;
      for (guint s = 0; fts_shadow_suffixes[s] != NULL; s++)
        {
          g_autofree char *name = g_strconcat (spec->name, fts_shadow_suffixes[s], NULL);
          g_autofree char *path = NULL;

          if (find_collection (collections, name) == NULL)
            continue;
          path = g_strconcat ("collections.", name, NULL);
          return _tether_schema_invalid (error, path,
                                         "the collection's tables would clash with the search "
                                         "index of collection '%s' (SQLite's table f_%s); "
                                         "rename the collection", spec->name, name);
        }
    }
  return TRUE;
}

/* Index names are global to the file and SQLite ignores their case, so
 * "a_b" and ["a", "b"], "Tag" and "tag", or index b_c of collection a and
 * index c of collection a_b would share one name, and one index would
 * silently replace the other. */
static gboolean
check_index_names (GPtrArray  *collections,
                   GError    **error)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint c = 0; c < collections->len; c++)
    {
      TetherCollectionSpec *spec = g_ptr_array_index (collections, c);

      for (guint i = 0; i < spec->indexes->len; i++)
        {
          TetherIndexSpec *index = g_ptr_array_index (spec->indexes, i);
          g_autofree char *name = _tether_sql_index_name (spec->name, (const char * const *) index->fields);
          g_autofree char *key = g_ascii_strdown (name, -1);
          g_autofree char *path = g_strdup_printf ("collections.%s.indexes[%u]", spec->name, i);
          const char *other = g_hash_table_lookup (seen, key);

          if (other != NULL)
            return _tether_schema_invalid (error, path,
                                           "its SQL name %s is also that of %s (index names join "
                                           "the collection and field names with '_' and ignore "
                                           "case); rename a field or drop one of the indexes",
                                           name, other);
          g_hash_table_insert (seen, g_steal_pointer (&key), g_steal_pointer (&path));
        }
    }
  return TRUE;
}

gboolean
_tether_schema_check_sql_names (GPtrArray  *collections,
                                GError    **error)
{
  return check_index_names (collections, error) &&
         check_search_tables (collections, error);
}

gboolean
_tether_schema_parse_root (JsonNode  *root,
                           gint64    *version,
                           GError   **error)
{
  JsonObject *object;
  JsonNode *node;

  if (!JSON_NODE_HOLDS_OBJECT (root))
    return _tether_schema_invalid (error, NULL, "the schema must be a JSON object");
  object = json_node_get_object (root);
  if (!_tether_schema_check_keys (object, NULL, root_keys, error))
    return FALSE;

  node = json_object_get_member (object, "version");
  if (node == NULL)
    return _tether_schema_invalid (error, "version", "required (a positive integer)");
  if (!_tether_json_get_integer (node, version) || *version < 1)
    return _tether_schema_invalid (error, "version", "must be a positive integer");

  node = json_object_get_member (object, "collections");
  if (node == NULL)
    return _tether_schema_invalid (error, "collections", "required");
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return _tether_schema_invalid (error, "collections", "must be an object");
  return TRUE;
}

