/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sql"
#include "config.h"

#include <string.h>

#include "tether-private.h"

gboolean
_tether_identifier_is_valid (const char *name)
{
  gsize len;

  if (name == NULL || name[0] == '\0')
    return FALSE;
  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (len = 0; name[len] != '\0'; len++)
    if (!g_ascii_isalnum (name[len]) && name[len] != '_')
      return FALSE;
  return len <= 63;
}

char *
_tether_sql_table (const char *collection)
{
  g_assert (_tether_identifier_is_valid (collection));
  return g_strconcat ("t_", collection, NULL);
}

char *
_tether_sql_fts_table (const char *collection)
{
  g_assert (_tether_identifier_is_valid (collection));
  return g_strconcat ("f_", collection, NULL);
}

char *
_tether_sql_index_name (const char         *collection,
                        const char * const *fields)
{
  GString *name = g_string_new ("i_");

  g_string_append (name, collection);
  for (guint i = 0; fields[i] != NULL; i++)
    g_string_append_printf (name, "_%s", fields[i]);
  return g_string_free (name, FALSE);
}

char *
_tether_sql_field_expr (const char *field)
{
  g_assert (_tether_identifier_is_valid (field));

  if (g_str_equal (field, TETHER_FIELD_ID))
    return g_strdup ("id");
  if (g_str_equal (field, TETHER_FIELD_CREATED_AT))
    return g_strdup ("created");
  if (g_str_equal (field, TETHER_FIELD_UPDATED_AT))
    return g_strdup ("updated");
  return g_strdup_printf ("json_extract(data,'$.%s')", field);
}

void
_tether_sql_bind_node (sqlite3_stmt *stmt,
                       int           index,
                       JsonNode     *node)
{
  GType type;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      sqlite3_bind_null (stmt, index);
      return;
    }
  if (!JSON_NODE_HOLDS_VALUE (node))
    {
      g_autofree char *text = _tether_json_to_string (node);
      sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
      return;
    }

  type = json_node_get_value_type (node);
  if (type == G_TYPE_BOOLEAN)
    sqlite3_bind_int (stmt, index, json_node_get_boolean (node) ? 1 : 0);
  else if (type == G_TYPE_INT64)
    sqlite3_bind_int64 (stmt, index, json_node_get_int (node));
  else if (type == G_TYPE_DOUBLE)
    sqlite3_bind_double (stmt, index, json_node_get_double (node));
  else
    sqlite3_bind_text (stmt, index, json_node_get_string (node), -1, SQLITE_TRANSIENT);
}

JsonNode *
_tether_sql_column_node (sqlite3_stmt *stmt,
                         int           col)
{
  JsonNode *node = json_node_alloc ();

  switch (sqlite3_column_type (stmt, col))
    {
    case SQLITE_INTEGER:
      return json_node_init_int (node, sqlite3_column_int64 (stmt, col));
    case SQLITE_FLOAT:
      return json_node_init_double (node, sqlite3_column_double (stmt, col));
    case SQLITE_TEXT:
      return json_node_init_string (node, (const char *) sqlite3_column_text (stmt, col));
    default:
      return json_node_init_null (node);
    }
}

JsonObject *
_tether_json_parse_object (const char  *text,
                           gssize       length,
                           GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, length, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                   "expected a JSON object");
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

gboolean
_tether_json_append_string_checked (GString    *out,
                                    const char *text)
{
  const char *run = text;
  guchar high = 0;   /* any byte past ASCII: only then is UTF-8 checked */

  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;

      high |= c;
      if (c >= 0x20 && c != '"' && c != '\\')
        continue;
      g_string_append_len (out, run, p - run);
      run = p + 1;
      if (c == '"' || c == '\\')
        g_string_append_c (out, '\\'), g_string_append_c (out, c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else
        g_string_append_printf (out, "\\u%04x", c);
    }
  g_string_append (out, run);
  g_string_append_c (out, '"');
  return high < 0x80 || g_utf8_validate (text, -1, NULL);
}

void
_tether_json_append_string (GString    *out,
                            const char *text)
{
  _tether_json_append_string_checked (out, text);
}

static gboolean
numbers_equal (JsonNode *a,
               JsonNode *b)
{
  GType ta = json_node_get_value_type (a);
  GType tb = json_node_get_value_type (b);

  if (ta == G_TYPE_INT64 && tb == G_TYPE_INT64)
    return json_node_get_int (a) == json_node_get_int (b);
  return json_node_get_double (a) == json_node_get_double (b);
}

static gboolean
is_number (JsonNode *node)
{
  GType type = json_node_get_value_type (node);

  return type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
}

/* json_node_equal() treats 1 and 1.0 as different and is strict about
 * member order in no way we rely on; this is the equality a user expects. */
gboolean
_tether_json_equal (JsonNode *a,
                    JsonNode *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  if (JSON_NODE_HOLDS_VALUE (a) && JSON_NODE_HOLDS_VALUE (b) &&
      is_number (a) && is_number (b))
    return numbers_equal (a, b);
  if (JSON_NODE_HOLDS_ARRAY (a) && JSON_NODE_HOLDS_ARRAY (b))
    {
      JsonArray *xa = json_node_get_array (a), *xb = json_node_get_array (b);
      guint n = json_array_get_length (xa);

      if (n != json_array_get_length (xb))
        return FALSE;
      for (guint i = 0; i < n; i++)
        if (!_tether_json_equal (json_array_get_element (xa, i),
                                 json_array_get_element (xb, i)))
          return FALSE;
      return TRUE;
    }
  if (JSON_NODE_HOLDS_OBJECT (a) && JSON_NODE_HOLDS_OBJECT (b))
    return _tether_json_object_equal (json_node_get_object (a), json_node_get_object (b));
  return json_node_equal (a, b);
}

/* The same for two objects; NULL equals only NULL (a deleted record). */
gboolean
_tether_json_object_equal (JsonObject *a,
                           JsonObject *b)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  if (a == NULL || b == NULL)
    return a == b;
  if (json_object_get_size (a) != json_object_get_size (b))
    return FALSE;
  json_object_iter_init (&iter, a);
  while (json_object_iter_next (&iter, &name, &member))
    if (!_tether_json_equal (member, json_object_get_member (b, name)))
      return FALSE;
  return TRUE;
}

/* A write must never modify the caller's object or a stored record. */
JsonObject *
_tether_json_object_deep_copy (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autoptr(JsonNode) copy = _tether_json_deep_copy (node);

  return json_object_ref (json_node_get_object (copy));
}

/* Bytes that end a fast run: in_string[] inside a string (the quote, the
 * backslash), structure[] outside one (quotes and brackets). Skipping the
 * rest a table lookup at a time keeps these whole-body passes cheap. */
static const guchar in_string[256] = { ['"'] = 1, ['\\'] = 1 };
static const guchar structure[256] = { ['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1 };

/* json-glib parses recursively, so text nested deeply enough overflows the
 * stack: server and client check this before any parsing. Brackets inside
 * strings do not count. */
gboolean
_tether_json_nested_deeper (const char *text,
                            gsize       length,
                            guint       max_depth)
{
  const guchar *p = (const guchar *) text;
  guint depth = 0;

  for (gsize i = 0; i < length; i++)
    {
      while (i < length && !structure[p[i]])
        i++;
      if (i == length)
        break;
      if (p[i] == '"')
        {
          for (i++; i < length;)   /* to the closing quote, over escapes */
            {
              while (i < length && !in_string[p[i]])
                i++;
              if (i >= length || p[i] == '"')
                break;
              i += 2;   /* a backslash and the byte it escapes */
            }
        }
      else if ((p[i] == '{' || p[i] == '[') && ++depth > max_depth)
        return TRUE;
      else if ((p[i] == '}' || p[i] == ']') && depth > 0)
        depth--;
    }
  return FALSE;
}

/* Whether @node nests objects and arrays more than @levels deep. The walk
 * goes no further than @levels + 1, so it never recurses deeply itself. */
static gboolean
node_deeper (JsonNode *node,
             guint     levels)
{
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint n = json_array_get_length (array);

      if (levels == 0)
        return TRUE;
      for (guint i = 0; i < n; i++)
        if (node_deeper (json_array_get_element (array, i), levels - 1))
          return TRUE;
    }
  else if (JSON_NODE_HOLDS_OBJECT (node))
    {
      if (levels == 0)
        return TRUE;
      return _tether_json_object_deeper (json_node_get_object (node), levels) != NULL;
    }
  return FALSE;
}

const char *
_tether_json_object_deeper (JsonObject *object,
                            guint       max_depth)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  g_assert (max_depth > 0);
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    if (node_deeper (member, max_depth - 1))
      return name;
  return NULL;
}
