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

/* Where the writer is: the output, and the member that held the first
 * number JSON cannot write (an infinity or NaN, which json-glib's parser
 * makes of 1e999), for the caller that must refuse it. */
typedef struct {
  GString    *out;
  const char *member;      /* the member being written */
  const char *non_finite;  /* the member of the first such number, or NULL */
} Writer;

static void append_node (Writer   *w,
                         JsonNode *node);

/* "%.17g" round-trips every double; a value with neither a point nor an
 * exponent gets ".0", so that it is read back as a double. */
static void
append_double (Writer  *w,
               gdouble  value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      if (w->non_finite == NULL)
        w->non_finite = w->member != NULL ? w->member : "(a value)";
      g_string_append (w->out, "null");   /* JSON has no infinities */
      return;
    }
  g_ascii_formatd (buffer, sizeof buffer, "%.17g", value);
  g_string_append (w->out, buffer);
  if (strpbrk (buffer, ".eE") == NULL)
    g_string_append (w->out, ".0");
}

static void
append_value (Writer   *w,
              JsonNode *node)
{
  GString *out = w->out;

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case G_TYPE_DOUBLE:
      append_double (w, json_node_get_double (node));
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
append_object (Writer     *w,
               JsonObject *object)
{
  GString *out = w->out;
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
      w->member = name;
      append_node (w, member);
    }
  g_string_append_c (out, '}');
}

static void
append_array (Writer    *w,
              JsonArray *array)
{
  GString *out = w->out;
  guint n = json_array_get_length (array);

  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_node (w, json_array_get_element (array, i));
    }
  g_string_append_c (out, ']');
}

static void
append_node (Writer   *w,
             JsonNode *node)
{
  if (node == NULL)
    {
      g_string_append (w->out, "null");
      return;
    }
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      append_object (w, json_node_get_object (node));
      break;
    case JSON_NODE_ARRAY:
      append_array (w, json_node_get_array (node));
      break;
    case JSON_NODE_VALUE:
      append_value (w, node);
      break;
    case JSON_NODE_NULL:
    default:
      g_string_append (w->out, "null");
      break;
    }
}

void
_tether_json_append_node (GString  *out,
                          JsonNode *node)
{
  Writer w = { out, NULL, NULL };

  append_node (&w, node);
}

char *
_tether_json_to_string (JsonNode *node)
{
  Writer w = { g_string_sized_new (256), NULL, NULL };

  append_node (&w, node);
  return g_string_free (w.out, FALSE);
}

char *
_tether_json_object_to_string (JsonObject *object)
{
  Writer w = { g_string_sized_new (256), NULL, NULL };

  append_object (&w, object);
  return g_string_free (w.out, FALSE);
}

char *
_tether_json_object_to_string_finite (JsonObject  *object,
                                      const char **non_finite)
{
  Writer w = { g_string_sized_new (256), NULL, NULL };

  append_object (&w, object);
  *non_finite = w.non_finite;
  if (w.non_finite != NULL)
    {
      g_string_free (w.out, TRUE);
      return NULL;
    }
  return g_string_free (w.out, FALSE);
}

char *
tether_json_node_to_string (JsonNode *node)
{
  return _tether_json_to_string (node);
}
