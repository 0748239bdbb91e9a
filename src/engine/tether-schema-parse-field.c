/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-schema"
#include "config.h"

#include "tether-private.h"
#include "tether-schema-private.h"

/* Field specs. Each rule is checked against the field's type here, once, so
 * that validation never meets a rule it cannot apply. */

#define ANY_TYPE 0x7fu
#define TYPE_BIT(t) (1u << TETHER_FIELD_##t)

static const struct {
  const char *key;
  guint       types;
} rules[] = {
  { "type", ANY_TYPE },
  { "required", ANY_TYPE },
  { "default", ANY_TYPE },
  { "enum", ANY_TYPE },
  { "min", TYPE_BIT (NUMBER) | TYPE_BIT (INTEGER) },
  { "max", TYPE_BIT (NUMBER) | TYPE_BIT (INTEGER) },
  { "minLength", TYPE_BIT (STRING) | TYPE_BIT (ARRAY) },
  { "maxLength", TYPE_BIT (STRING) | TYPE_BIT (ARRAY) },
  { "pattern", TYPE_BIT (STRING) },
  { "format", TYPE_BIT (STRING) },
  { "merge", TYPE_BIT (STRING) },
  { "items", TYPE_BIT (ARRAY) },
};

static const char * const field_keys[] = {
  "type", "required", "default", "enum", "min", "max", "minLength", "maxLength",
  "pattern", "format", "merge", "items", NULL
};

void
_tether_field_spec_free (TetherFieldSpec *spec)
{
  g_clear_pointer (&spec->pattern, g_regex_unref);
  g_clear_pointer (&spec->enum_values, g_ptr_array_unref);
  g_clear_pointer (&spec->default_value, json_node_unref);
  g_clear_pointer (&spec->items, _tether_field_spec_free);
  g_free (spec->enum_text);
  g_free (spec->name);
  g_free (spec);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherFieldSpec, _tether_field_spec_free)

static gboolean
is_number (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) &&
         (json_node_get_value_type (node) == G_TYPE_INT64 ||
          json_node_get_value_type (node) == G_TYPE_DOUBLE);
}

static gboolean
check_rule_types (JsonObject       *object,
                  const char       *path,
                  TetherFieldType   type,
                  gboolean          is_items,
                  GError          **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      g_autofree char *key_path = NULL;

      if (!json_object_has_member (object, rules[i].key))
        continue;
      key_path = _tether_schema_path_join (path, rules[i].key);
      if (is_items && (g_str_equal (rules[i].key, "required") ||
                       g_str_equal (rules[i].key, "default")))
        return _tether_schema_invalid (error, key_path, "not allowed inside items");
      if ((rules[i].types & (1u << type)) == 0)
        return _tether_schema_invalid (error, key_path, "not allowed on %s fields",
                                       _tether_field_type_to_string (type));
    }
  return TRUE;
}

static gboolean
parse_type (JsonObject       *object,
            const char       *path,
            TetherFieldType  *type,
            GError          **error)
{
  g_autofree char *type_path = _tether_schema_path_join (path, "type");
  JsonNode *node = json_object_get_member (object, "type");
  const char *name;

  if (node == NULL)
    return _tether_schema_invalid (error, type_path, "required");
  if (!_tether_json_is_string (node))
    return _tether_schema_invalid (error, type_path, "must be a string");
  name = json_node_get_string (node);
  for (TetherFieldType t = TETHER_FIELD_STRING; t <= TETHER_FIELD_DATETIME; t++)
    if (g_str_equal (name, _tether_field_type_to_string (t)))
      {
        *type = t;
        return TRUE;
      }
  return _tether_schema_invalid (error, type_path,
                                 "unknown type '%s' (expected string, number, integer, "
                                 "boolean, array, object or datetime)", name);
}

static gboolean
parse_bound (JsonObject  *object,
             const char  *path,
             const char  *key,
             gboolean    *has,
             double      *out,
             gboolean    *is_int,
             gint64      *out_int,
             GError     **error)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *key_path = NULL;

  if (node == NULL)
    return TRUE;
  if (!is_number (node))
    {
      key_path = _tether_schema_path_join (path, key);
      return _tether_schema_invalid (error, key_path, "must be a number");
    }
  *has = TRUE;
  *out = json_node_get_double (node);
  *is_int = json_node_get_value_type (node) == G_TYPE_INT64;
  *out_int = *is_int ? json_node_get_int (node) : 0;
  return TRUE;
}

static gboolean
parse_length (JsonObject  *object,
              const char  *path,
              const char  *key,
              gint64      *out,
              GError     **error)
{
  JsonNode *node = json_object_get_member (object, key);
  g_autofree char *key_path = NULL;

  if (node == NULL)
    return TRUE;
  if (!_tether_json_get_integer (node, out) || *out < 0)
    {
      key_path = _tether_schema_path_join (path, key);
      return _tether_schema_invalid (error, key_path, "must be a non-negative integer");
    }
  return TRUE;
}

static gboolean
parse_limits (TetherFieldSpec  *spec,
              JsonObject       *object,
              const char       *path,
              GError          **error)
{
  g_autofree char *min_path = _tether_schema_path_join (path, "min");
  g_autofree char *min_length_path = _tether_schema_path_join (path, "minLength");

  if (!parse_bound (object, path, "min", &spec->has_min, &spec->min,
                    &spec->min_is_int, &spec->min_int, error) ||
      !parse_bound (object, path, "max", &spec->has_max, &spec->max,
                    &spec->max_is_int, &spec->max_int, error) ||
      !parse_length (object, path, "minLength", &spec->min_length, error) ||
      !parse_length (object, path, "maxLength", &spec->max_length, error))
    return FALSE;
  if (spec->has_min && spec->has_max &&
      (spec->min_is_int && spec->max_is_int ? spec->min_int > spec->max_int : spec->min > spec->max))
    return _tether_schema_invalid (error, min_path, "is above max");
  if (spec->min_length >= 0 && spec->max_length >= 0 && spec->min_length > spec->max_length)
    return _tether_schema_invalid (error, min_length_path, "is above maxLength");
  return TRUE;
}

static gboolean
parse_pattern (TetherFieldSpec  *spec,
               JsonObject       *object,
               const char       *path,
               GError          **error)
{
  JsonNode *node = json_object_get_member (object, "pattern");
  g_autofree char *key_path = NULL;
  g_autoptr(GError) regex_error = NULL;

  if (node == NULL)
    return TRUE;
  key_path = _tether_schema_path_join (path, "pattern");
  if (!_tether_json_is_string (node))
    return _tether_schema_invalid (error, key_path, "must be a string");
  spec->pattern = g_regex_new (json_node_get_string (node), G_REGEX_OPTIMIZE, 0, &regex_error);
  if (spec->pattern == NULL)
    return _tether_schema_invalid (error, key_path, "invalid regular expression: %s",
                                   regex_error->message);
  return TRUE;
}

static gboolean
parse_format (TetherFieldSpec  *spec,
              JsonObject       *object,
              const char       *path,
              GError          **error)
{
  static const char * const names[] = { NULL, "email", "url", "uuid" };
  JsonNode *node = json_object_get_member (object, "format");
  g_autofree char *key_path = NULL;

  if (node == NULL)
    return TRUE;
  for (TetherFieldFormat f = TETHER_FORMAT_EMAIL; f <= TETHER_FORMAT_UUID && _tether_json_is_string (node); f++)
    if (g_str_equal (json_node_get_string (node), names[f]))
      {
        spec->format = f;
        return TRUE;
      }
  key_path = _tether_schema_path_join (path, "format");
  return _tether_schema_invalid (error, key_path, "must be one of email, url, uuid");
}

static gboolean
parse_merge (TetherFieldSpec  *spec,
             JsonObject       *object,
             const char       *path,
             GError          **error)
{
  JsonNode *node = json_object_get_member (object, "merge");
  g_autofree char *key_path = NULL;

  if (node == NULL)
    return TRUE;
  if (_tether_json_is_string (node) && g_str_equal (json_node_get_string (node), "text"))
    {
      spec->text_merge = TRUE;
      return TRUE;
    }
  key_path = _tether_schema_path_join (path, "merge");
  return _tether_schema_invalid (error, key_path, "must be \"text\"");
}

static gboolean
parse_items (TetherFieldSpec  *spec,
             JsonObject       *object,
             const char       *path,
             GError          **error)
{
  JsonNode *node = json_object_get_member (object, "items");
  g_autofree char *items_path = NULL;

  if (node == NULL)
    return TRUE;
  items_path = _tether_schema_path_join (path, "items");
  spec->items = _tether_field_spec_parse (spec->name, node, items_path, TRUE, error);
  return spec->items != NULL;
}

/* Enum members and defaults must pass the field's own rules; the check runs
 * on a copy since it normalises datetimes in place. */
static JsonNode *
check_in_schema (TetherFieldSpec        *spec,
                 JsonNode               *node,
                 const TetherValuePath  *path,
                 GError                **error)
{
  g_autoptr(JsonNode) copy = _tether_json_deep_copy (node);
  g_autoptr(GError) local_error = NULL;

  if (_tether_field_spec_check (spec, copy, path, &local_error))
    return g_steal_pointer (&copy);
  g_set_error_literal (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_INVALID,
                       local_error->message);
  return NULL;
}

static gboolean
parse_enum (TetherFieldSpec  *spec,
            JsonObject       *object,
            const char       *path,
            GError          **error)
{
  JsonNode *node = json_object_get_member (object, "enum");
  TetherValuePath enum_path = { path, "enum", NULL, -1 };
  g_autoptr(GPtrArray) values = NULL;
  JsonArray *array;

  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) == 0)
    {
      g_autofree char *key_path = _tether_schema_path_join (path, "enum");

      return _tether_schema_invalid (error, key_path, "must be a non-empty array");
    }
  array = json_node_get_array (node);
  values = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      TetherValuePath item_path = { .parent = &enum_path, .index = (int) i };
      JsonNode *value = check_in_schema (spec, json_array_get_element (array, i),
                                         &item_path, error);

      if (value == NULL)
        return FALSE;
      g_ptr_array_add (values, value);
    }
  spec->enum_values = g_steal_pointer (&values);
  spec->enum_text = _tether_json_to_string (node);
  return TRUE;
}

static gboolean
parse_default (TetherFieldSpec  *spec,
               JsonObject       *object,
               const char       *path,
               GError          **error)
{
  JsonNode *node = json_object_get_member (object, "default");
  TetherValuePath default_path = { path, "default", NULL, -1 };

  if (node == NULL)
    return TRUE;
  /* Not sealed: json_node_copy() of a sealed node is sealed too, and a
   * caller copying the default that way would get a value it cannot edit. */
  spec->default_value = check_in_schema (spec, node, &default_path, error);
  return spec->default_value != NULL;
}

static TetherFieldSpec *
field_spec_new (const char *name)
{
  TetherFieldSpec *spec = g_new0 (TetherFieldSpec, 1);

  spec->name = g_strdup (name);
  spec->min_length = -1;
  spec->max_length = -1;
  return spec;
}

TetherFieldSpec *
_tether_field_spec_parse (const char  *name,
                          JsonNode    *node,
                          const char  *path,
                          gboolean     is_items,
                          GError     **error)
{
  g_autoptr(TetherFieldSpec) spec = field_spec_new (name);
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      _tether_schema_invalid (error, path, "must be an object with a \"type\"");
      return NULL;
    }
  object = json_node_get_object (node);
  if (!_tether_schema_check_keys (object, path, field_keys, error) ||
      !parse_type (object, path, &spec->type, error) ||
      !check_rule_types (object, path, spec->type, is_items, error))
    return NULL;

  /* The default is checked last: it must pass every other rule. */
  if (!_tether_schema_get_boolean (object, path, "required", &spec->required, error) ||
      !parse_limits (spec, object, path, error) ||
      !parse_pattern (spec, object, path, error) ||
      !parse_format (spec, object, path, error) ||
      !parse_merge (spec, object, path, error) ||
      !parse_items (spec, object, path, error) ||
      !parse_enum (spec, object, path, error) ||
      !parse_default (spec, object, path, error))
    return NULL;
  return g_steal_pointer (&spec);
}
