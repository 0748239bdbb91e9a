/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-json"
#include "config.h"

#include <math.h>
#include <string.h>

#include "tether-private.h"

/* JSON text from json-glib nodes, written here rather than by
 * JsonGenerator: json-glib 1.6 (Debian 12) leaves U+001F unescaped and
 * writes 1e20 as "1e+20.0", neither of which is JSON. SQLite's JSON
 * functions then refused the record ("malformed JSON") and a note whose
 * title held a pasted U+001F could not be saved at all. Compact, members
 * in their order. */

static void append_node (GString  *out,
                         JsonNode *node);

/* "%.17g" round-trips every double; a value with neither a point nor an
 * exponent gets ".0", so that it is read back as a double. */
static void
append_double (GString *out,
               gdouble  value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append (out, "null");   /* JSON has no infinities; parsed JSON never holds one */
      return;
    }
  g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  g_string_append (out, buffer);
  if (strpbrk (buffer, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
append_value (GString  *out,
              JsonNode *node)
{
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      append_double (out, json_node_get_double (node));
      break;
    case G_TYPE_BOOLEAN:
      g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      break;
    case G_TYPE_STRING:
      _tether_json_append_string (out, json_node_get_string (node));
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

static void
append_object (GString    *out,
               JsonObject *object)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  gboolean first = TRUE;

  g_string_append_c (out, '{');
  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;
      _tether_json_append_string (out, name);
      g_string_append_c (out, ':');
      append_node (out, member);
    }
  g_string_append_c (out, '}');
}

static void
append_array (GString   *out,
              JsonArray *array)
{
  guint n = json_array_get_length (array);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_node (out, json_array_get_element (array, i));
    }
  g_string_append_c (out, ']');
}

static void
append_node (GString  *out,
             JsonNode *node)
{
  if (node == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      append_object (out, json_node_get_object (node));
      break;
    case JSON_NODE_ARRAY:
      append_array (out, json_node_get_array (node));
      break;
    case JSON_NODE_VALUE:
      append_value (out, node);
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      break;
    }
}

void
_tether_json_append_node (GString  *out,
                          JsonNode *node)
{
  append_node (out, node);
}

char *
_tether_json_to_string (JsonNode *node)
{
  GString *out = g_string_sized_new (256);

  append_node (out, node);
  return g_string_free (out, FALSE);
}

char *
_tether_json_object_to_string (JsonObject *object)
{
  GString *out = g_string_sized_new (256);

  append_object (out, object);
  return g_string_free (out, FALSE);
}

char *
tether_json_node_to_string (JsonNode *node)
{
  return _tether_json_to_string (node);
}
