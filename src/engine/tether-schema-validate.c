/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-schema"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-schema-private.h"

/* Checking records and values against the parsed field specs. This runs on
 * every write, so it allocates nothing unless it fails or normalises, and all
 * lookups go through tables built by the parser. */

#define ID_MAX_BYTES 256

static const TetherFieldSpec id_spec = {
  .name = (char *) TETHER_FIELD_ID, .type = TETHER_FIELD_STRING,
  .min_length = -1, .max_length = -1,
};
static const TetherFieldSpec created_spec = {
  .name = (char *) TETHER_FIELD_CREATED_AT, .type = TETHER_FIELD_DATETIME,
  .min_length = -1, .max_length = -1,
};
static const TetherFieldSpec updated_spec = {
  .name = (char *) TETHER_FIELD_UPDATED_AT, .type = TETHER_FIELD_DATETIME,
  .min_length = -1, .max_length = -1,
};

const TetherFieldSpec *
_tether_builtin_field_spec (const char *field)
{
  if (g_str_equal (field, TETHER_FIELD_ID))
    return &id_spec;
  if (g_str_equal (field, TETHER_FIELD_CREATED_AT))
    return &created_spec;
  if (g_str_equal (field, TETHER_FIELD_UPDATED_AT))
    return &updated_spec;
  return NULL;
}

gboolean
_tether_field_is_builtin (const char *field)
{
  return _tether_builtin_field_spec (field) != NULL;
}

gboolean
_tether_json_get_integer (JsonNode *node,
                          gint64   *out)
{
  GType type;
  double value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (type != G_TYPE_DOUBLE)
    return FALSE;
  /* 2^63 bounds the range where the cast is defined; NaN fails both tests. */
  value = json_node_get_double (node);
  if (!(value >= -9223372036854775808.0 && value < 9223372036854775808.0) ||
      (double) (gint64) value != value)
    return FALSE;
  *out = (gint64) value;
  return TRUE;
}

static JsonNode *
copy_scalar (JsonNode *node)
{
  JsonNode *copy = json_node_alloc ();
  GType type;

  if (JSON_NODE_HOLDS_NULL (node))
    return json_node_init_null (copy);
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return json_node_init_int (copy, json_node_get_int (node));
  if (type == G_TYPE_DOUBLE)
    return json_node_init_double (copy, json_node_get_double (node));
  if (type == G_TYPE_BOOLEAN)
    return json_node_init_boolean (copy, json_node_get_boolean (node));
  return json_node_init_string (copy, json_node_get_string (node));
}

/* json_node_copy() shares arrays and objects and keeps a sealed node sealed;
 * a default put into a record, or a record handed to a write, must share
 * nothing. Member order is kept. Declared in tether-private.h. */
JsonNode *
_tether_json_deep_copy (JsonNode *node)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);
      g_autoptr(JsonArray) copy = json_array_sized_new (n);

      for (guint i = 0; i < n; i++)
        json_array_add_element (copy, _tether_json_deep_copy (json_array_get_element (array, i)));
      return json_node_init_array (json_node_alloc (), copy);
    }
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      g_autoptr(JsonObject) copy = json_object_new ();
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init_ordered (&iter, json_node_get_object (node));
      while (json_object_iter_next_ordered (&iter, &name, &member))
        json_object_set_member (copy, name, _tether_json_deep_copy (member));
      return json_node_init_object (json_node_alloc (), copy);
    }
  return copy_scalar (node);
}

/* Records */

static TetherCollectionSpec *
lookup_collection (TetherSchema  *self,
                   const char    *collection,
                   GError       **error)
{
  TetherCollectionSpec *spec = _tether_schema_lookup_collection (self, collection);

  if (spec == NULL)
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION,
                 "no collection '%s' in the schema", collection);
  return spec;
}

static gboolean
check_id (JsonNode     *node,
          const char   *collection,
          GError      **error)
{
  TetherValuePath path = { collection, TETHER_FIELD_ID, NULL, -1 };
  const char *id;
  gsize length;

  if (!_tether_json_is_string (node) || json_node_get_string (node)[0] == '\0')
    return _tether_schema_fail (error, &path, "must be a non-empty string");
  id = json_node_get_string (node);
  length = strlen (id);
  if (length > ID_MAX_BYTES)
    return _tether_schema_fail (error, &path,
                                "must be at most %d bytes long, not %" G_GSIZE_FORMAT,
                                ID_MAX_BYTES, length);
  for (gsize i = 0; i < length; i++)
    if ((guchar) id[i] < ' ' || id[i] == 0x7f)
      return _tether_schema_fail (error, &path, "must not contain control characters");
  return TRUE;
}

/* Absent fields get their default; so do required fields set to null, since
 * the default is what "no value" means for them. */
static gboolean
check_field (const TetherFieldSpec  *spec,
             JsonObject             *record,
             const TetherValuePath  *path,
             gboolean               *present,
             GError                **error)
{
  JsonNode *node = json_object_get_member (record, spec->name);

  *present = node != NULL;
  if (node != NULL && json_node_is_immutable (node) && _tether_field_spec_normalises (spec, node))
    {
      node = _tether_json_deep_copy (node);
      json_object_set_member (record, spec->name, node);
    }
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    return _tether_field_spec_check (spec, node, path, error);

  if (spec->default_value != NULL && (node == NULL || spec->required))
    {
      json_object_set_member (record, spec->name, _tether_json_deep_copy (spec->default_value));
      *present = TRUE;
      return TRUE;
    }
  if (spec->required)
    return _tether_schema_fail (error, path, "required");
  return TRUE;
}

static gboolean
check_unknown_members (TetherCollectionSpec  *spec,
                       JsonObject            *record,
                       GError               **error)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, record);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      TetherValuePath path = { spec->name, name, NULL, -1 };

      if (g_str_equal (name, TETHER_FIELD_ID) || g_hash_table_contains (spec->by_name, name))
        continue;
      if (!g_utf8_validate (name, -1, NULL))   /* not to be quoted in a message */
        {
          g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
                       "%s: a member name is not valid UTF-8", spec->name);
          return FALSE;
        }
      if (_tether_field_is_builtin (name))
        return _tether_schema_fail (error, &path, "is set by the database and cannot be written");
      if (!spec->additional_fields)
        return _tether_schema_fail (error, &path, "unknown field (not in the schema; "
                                    "set additionalFields to allow)");
    }
  return TRUE;
}

gboolean
tether_schema_validate (TetherSchema  *self,
                        const char    *collection,
                        JsonObject    *record,
                        GError       **error)
{
  TetherCollectionSpec *spec;
  JsonNode *id;
  guint known = 0;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);
  g_return_val_if_fail (collection != NULL, FALSE);
  g_return_val_if_fail (record != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  spec = lookup_collection (self, collection, error);
  if (spec == NULL)
    return FALSE;
  id = json_object_get_member (record, TETHER_FIELD_ID);
  if (id != NULL)
    {
      if (!check_id (id, collection, error))
        return FALSE;
      known++;
    }
  for (guint i = 0; i < spec->fields->len; i++)
    {
      const TetherFieldSpec *field = g_ptr_array_index (spec->fields, i);
      TetherValuePath path = { collection, field->name, NULL, -1 };
      gboolean present;

      if (!check_field (field, record, &path, &present, error))
        return FALSE;
      known += present;
    }
  /* Only a record with members beyond the declared ones needs the walk. */
  if (json_object_get_size (record) > known)
    return check_unknown_members (spec, record, error);
  return TRUE;
}

gboolean
tether_schema_validate_value (TetherSchema  *self,
                              const char    *collection,
                              const char    *field,
                              JsonNode      *value,
                              GError       **error)
{
  TetherCollectionSpec *spec;
  const TetherFieldSpec *field_spec;
  TetherValuePath path = { collection, field, NULL, -1 };

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);
  g_return_val_if_fail (collection != NULL, FALSE);
  g_return_val_if_fail (field != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  spec = lookup_collection (self, collection, error);
  if (spec == NULL)
    return FALSE;
  field_spec = g_hash_table_lookup (spec->by_name, field);
  if (field_spec == NULL)
    field_spec = _tether_builtin_field_spec (field);
  if (field_spec == NULL && !spec->additional_fields)
    return _tether_schema_fail (error, &path, "unknown field (not in the schema; "
                                "set additionalFields to allow)");
  if (field_spec == NULL || JSON_NODE_HOLDS_NULL (value))
    return TRUE;
  if (json_node_is_immutable (value) && _tether_field_spec_normalises (field_spec, value))
    {
      g_autoptr(JsonNode) copy = _tether_json_deep_copy (value);

      return _tether_field_spec_check (field_spec, copy, &path, error);
    }
  return _tether_field_spec_check (field_spec, value, &path, error);
}
