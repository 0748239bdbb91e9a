/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-query"
#include "config.h"

#include <string.h>

#include "tether-private.h"

/* Every part of a query is checked against the schema before it can reach
 * SQL: an unknown field or a value of the wrong type is an error that names
 * the field, never a silently empty result. */

static const char *
type_name (TetherFieldType type)
{
  static const char *names[] = { "string", "number", "integer", "boolean", "array", "object", "datetime" };

  return names[type];
}

static const char *
node_kind (JsonNode *node)
{
  GType type;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "array";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "object";
  type = json_node_get_value_type (node);
  if (type == G_TYPE_BOOLEAN)
    return "boolean";
  if (type == G_TYPE_STRING)
    return "string";
  return "number";
}

static gboolean
parse_datetime_ms (const char *text,
                   gint64     *ms)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (text, utc);

  if (dt == NULL && strlen (text) == 10)
    {
      g_autofree char *midnight = g_strconcat (text, "T00:00:00Z", NULL);
      dt = g_date_time_new_from_iso8601 (midnight, utc);
    }
  if (dt == NULL)
    return FALSE;
  *ms = g_date_time_to_unix (dt) * 1000 + g_date_time_get_microsecond (dt) / 1000;
  return TRUE;
}

static gboolean
is_builtin_time (const char *field)
{
  return g_str_equal (field, TETHER_FIELD_CREATED_AT) || g_str_equal (field, TETHER_FIELD_UPDATED_AT);
}

static JsonNode *
normalise_datetime (const char  *where,
                    const char  *field,
                    JsonNode    *value,
                    GError     **error)
{
  gint64 ms;

  if (is_builtin_time (field) && g_str_equal (node_kind (value), "number"))
    return json_node_init_int (json_node_alloc (), json_node_get_int (value));
  if (g_str_equal (node_kind (value), "string") && parse_datetime_ms (json_node_get_string (value), &ms))
    {
      g_autofree char *text = NULL;

      /* Built-in times are stored as ms; datetime fields as normalised text. */
      if (is_builtin_time (field))
        return json_node_init_int (json_node_alloc (), ms);
      text = tether_time_format_ms (ms);
      return json_node_init_string (json_node_alloc (), text);
    }
  g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
               "%s: expected an ISO 8601 datetime such as 2026-11-22T10:00:00Z, got %s",
               where, node_kind (value));
  return NULL;
}

/* A copy of @value fit to compare with a field of @type, or NULL. */
static JsonNode *
normalise_scalar (const char       *where,
                  const char       *field,
                  TetherFieldType   type,
                  JsonNode         *value,
                  GError          **error)
{
  const char *kind = node_kind (value);
  gboolean ok;

  switch (type)
    {
    case TETHER_FIELD_DATETIME:
      return normalise_datetime (where, field, value, error);
    case TETHER_FIELD_STRING:
      ok = g_str_equal (kind, "string");
      break;
    case TETHER_FIELD_NUMBER:
    case TETHER_FIELD_INTEGER:
      ok = g_str_equal (kind, "number");
      break;
    case TETHER_FIELD_BOOLEAN:
      ok = g_str_equal (kind, "boolean");
      break;
    default:
      ok = FALSE;
    }
  if (ok)
    return json_node_copy (value);
  g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
               "%s: expected %s %s value, got %s", where,
               type == TETHER_FIELD_INTEGER ? "an" : "a", type_name (type), kind);
  return NULL;
}

static JsonNode *
check_in (const char       *where,
          const char       *field,
          TetherFieldType   type,
          JsonNode         *value,
          GError          **error)
{
  g_autoptr(JsonArray) out = json_array_new ();
  JsonArray *in;

  if (value == NULL || !JSON_NODE_HOLDS_ARRAY (value))
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                   "%s: 'in' needs a JSON array such as [1, 2], got %s", where, node_kind (value));
      return NULL;
    }
  in = json_node_get_array (value);
  for (guint i = 0; i < json_array_get_length (in); i++)
    {
      JsonNode *item = normalise_scalar (where, field, type, json_array_get_element (in, i), error);

      if (item == NULL)
        return NULL;
      json_array_add_element (out, item);
    }
  return json_node_init_array (json_node_alloc (), out);
}

static JsonNode *
check_contains (TetherSchema     *schema,
                const char       *collection,
                const char       *where,
                const char       *field,
                TetherFieldType   type,
                JsonNode         *value,
                GError          **error)
{
  TetherFieldType item_type;

  if (type == TETHER_FIELD_STRING)
    return normalise_scalar (where, field, type, value, error);
  if (type != TETHER_FIELD_ARRAY)
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "%s: 'contains' works on array and string fields, not %s", where, type_name (type));
      return NULL;
    }
  if (tether_schema_get_item_type (schema, collection, field, &item_type) &&
      item_type != TETHER_FIELD_ARRAY && item_type != TETHER_FIELD_OBJECT)
    return normalise_scalar (where, field, item_type, value, error);
  if (value == NULL || JSON_NODE_HOLDS_NULL (value) || !JSON_NODE_HOLDS_VALUE (value))
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                   "%s: 'contains' needs a single value, got %s", where, node_kind (value));
      return NULL;
    }
  return json_node_copy (value);
}

static gboolean
check_field (TetherSchema  *schema,
             const char    *collection,
             const char    *field,
             GError       **error)
{
  g_autofree char *known = NULL;

  if (_tether_identifier_is_valid (field) && tether_schema_has_field (schema, collection, field))
    return TRUE;
  known = g_strjoinv (", ", (char **) tether_schema_get_fields (schema, collection));
  g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_UNKNOWN_FIELD,
               "%s.%s: no such field in the schema (fields: id, createdAt, updatedAt%s%s)",
               collection, field, known[0] ? ", " : "", known);
  return FALSE;
}

static JsonNode *
check_ordered (const char       *where,
               const char       *field,
               TetherOp          op,
               TetherFieldType   type,
               JsonNode         *value,
               GError          **error)
{
  gboolean is_null = value == NULL || JSON_NODE_HOLDS_NULL (value);

  if (type == TETHER_FIELD_ARRAY || type == TETHER_FIELD_OBJECT)
    {
      if ((op == TETHER_OP_EQ || op == TETHER_OP_NE) && is_null)
        return json_node_init_null (json_node_alloc ());
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "%s: '%s' cannot compare %s fields%s", where, tether_op_to_string (op),
                   type_name (type), type == TETHER_FIELD_ARRAY ? "; use 'contains'" : "");
      return NULL;
    }
  if (is_null && (op == TETHER_OP_EQ || op == TETHER_OP_NE))
    return json_node_init_null (json_node_alloc ());
  if (op == TETHER_OP_PREFIX && type != TETHER_FIELD_STRING && type != TETHER_FIELD_DATETIME)
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "%s: 'prefix' works on string fields, not %s", where, type_name (type));
      return NULL;
    }
  if (op == TETHER_OP_PREFIX)   /* a prefix of a datetime is text, not a datetime */
    return normalise_scalar (where, field, TETHER_FIELD_STRING, value, error);
  return normalise_scalar (where, field, type, value, error);
}

JsonNode *
_tether_query_check_condition (TetherCollection  *collection,
                               const char        *field,
                               TetherOp           op,
                               JsonNode          *value,
                               GError           **error)
{
  TetherSchema *schema = tether_database_get_schema (tether_collection_get_database (collection));
  const char *name = tether_collection_get_name (collection);
  g_autofree char *where = g_strdup_printf ("%s.%s", name, field);
  TetherFieldType type;

  if (!check_field (schema, name, field, error))
    return NULL;
  type = tether_schema_get_field_type (schema, name, field);
  if (is_builtin_time (field) && op == TETHER_OP_PREFIX)
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "%s: 'prefix' does not apply to the record's timestamps; use >= and <", where);
      return NULL;
    }
  if (op == TETHER_OP_IN)
    return check_in (where, field, type, value, error);
  if (op == TETHER_OP_CONTAINS)
    return check_contains (schema, name, where, field, type, value, error);
  return check_ordered (where, field, op, type, value, error);
}

gboolean
_tether_query_check_sort (TetherCollection  *collection,
                          const char        *field,
                          GError           **error)
{
  TetherSchema *schema = tether_database_get_schema (tether_collection_get_database (collection));
  const char *name = tether_collection_get_name (collection);
  TetherFieldType type;

  if (!check_field (schema, name, field, error))
    return FALSE;
  type = tether_schema_get_field_type (schema, name, field);
  if (type == TETHER_FIELD_ARRAY || type == TETHER_FIELD_OBJECT)
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "%s.%s: cannot sort by an %s field", name, field, type_name (type));
      return FALSE;
    }
  return TRUE;
}

gboolean
_tether_query_check_preview (TetherCollection  *collection,
                             const char        *field,
                             GError           **error)
{
  TetherSchema *schema = tether_database_get_schema (tether_collection_get_database (collection));

  return check_field (schema, tether_collection_get_name (collection), field, error);
}

/* Text conditions ------------------------------------------------------------ */

static gboolean
value_is_text (TetherSchema *schema,
               const char   *collection,
               const char   *field,
               TetherOp      op)
{
  TetherFieldType type = tether_schema_get_field_type (schema, collection, field);
  TetherFieldType item_type;

  if (op == TETHER_OP_IN)
    return FALSE;
  if (op == TETHER_OP_PREFIX)
    return TRUE;
  if (type == TETHER_FIELD_ARRAY && op == TETHER_OP_CONTAINS)
    return tether_schema_get_item_type (schema, collection, field, &item_type) &&
           (item_type == TETHER_FIELD_STRING || item_type == TETHER_FIELD_DATETIME);
  return type == TETHER_FIELD_STRING || type == TETHER_FIELD_DATETIME;
}

/* VALUE is JSON when it parses; a bare word is a string. For string fields a
 * bare word is always a string, so `title == 42` looks for the text "42". */
static JsonNode *
parse_value (TetherSchema *schema,
             const char   *collection,
             const char   *field,
             TetherOp      op,
             const char   *text)
{
  JsonNode *node = NULL;

  if (!value_is_text (schema, collection, field, op) || text[0] == '"')
    node = json_from_string (text, NULL);
  if (node == NULL)
    node = json_node_init_string (json_node_alloc (), text);
  return node;
}

/* Symbols read as one operator word, so "~=" or "=>" is reported as an unknown
 * operator rather than a missing one; a value's own first character is not. */
static gboolean
is_operator_char (char c)
{
  return c != '\0' && g_ascii_ispunct (c) && strchr ("\"'[{(-+._", c) == NULL;
}

static gboolean
parse_error (GError     **error,
             const char  *text,
             const char  *problem)
{
  g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_PARSE,
               "condition \"%s\": %s (write FIELD OP VALUE, e.g. \"priority >= 2\")", text, problem);
  return FALSE;
}

gboolean
_tether_query_parse_condition (TetherCollection  *collection,
                               const char        *text,
                               char             **field,
                               TetherOp          *op,
                               JsonNode         **value,
                               GError           **error)
{
  TetherSchema *schema = tether_database_get_schema (tether_collection_get_database (collection));
  const char *p = text, *start;
  g_autofree char *name = NULL;
  g_autofree char *op_text = NULL;
  g_autofree char *rest = NULL;

  while (g_ascii_isspace (*p)) p++;
  for (start = p; g_ascii_isalnum (*p) || *p == '_'; p++);
  if (p == start)
    return parse_error (error, text, "it does not start with a field name");
  name = g_strndup (start, p - start);
  while (g_ascii_isspace (*p)) p++;
  start = p;
  if (is_operator_char (*p))
    while (is_operator_char (*p)) p++;
  else
    while (g_ascii_isalpha (*p)) p++;
  op_text = g_strndup (start, p - start);
  if (op_text[0] == '\0')
    return parse_error (error, text, "an operator is missing");
  if (!tether_op_from_string (op_text, op))
    {
      g_set_error (error, TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                   "condition \"%s\": unknown operator '%s' (use == != < <= > >= in contains prefix)",
                   text, op_text);
      return FALSE;
    }
  while (g_ascii_isspace (*p)) p++;
  rest = g_strchomp (g_strdup (p));
  if (rest[0] == '\0')
    return parse_error (error, text, "the value is missing");
  if (!check_field (schema, tether_collection_get_name (collection), name, error))
    return FALSE;
  *value = parse_value (schema, tether_collection_get_name (collection), name, *op, rest);
  *field = g_steal_pointer (&name);
  return TRUE;
}
