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

/* The first value JSON text cannot hold, for the caller that must refuse
 * it: a number that is an infinity or NaN (json-glib's parser makes one
 * of 1e999), text or a member name that is not UTF-8. */
typedef enum {
  PROBLEM_NONE,
  PROBLEM_NON_FINITE,
  PROBLEM_NOT_UTF8,
  PROBLEM_NAME_NOT_UTF8,
} Problem;

/* Where the writer is: the output, and where the first problem was. */
typedef struct {
  GString    *out;
  const char *member;      /* the member being written, or NULL */
  Problem     problem;
  const char *where;       /* the member of the problem (NULL: the record) */
} Writer;

static void append_node (Writer   *w,
                         JsonNode *node);

static void
note_problem (Writer     *w,
              Problem     problem,
              const char *where)
{
  if (w->problem != PROBLEM_NONE)
    return;
  w->problem = problem;
  w->where = where;
}

/* "%.17g" round-trips every double; a value with neither a point nor an
 * exponent gets ".0", so that it is read back as a double. */
static void
append_double (Writer  *w,
               gdouble  value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      note_problem (w, PROBLEM_NON_FINITE, w->member);
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
      if (!_tether_json_append_string_checked (out, json_node_get_string (node)))
        note_problem (w, PROBLEM_NOT_UTF8, w->member);
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
  const char *parent = w->member;
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
      if (!_tether_json_append_string_checked (out, name))
        note_problem (w, PROBLEM_NAME_NOT_UTF8, parent);
      g_string_append_c (out, ':');
      w->member = name;
      append_node (w, member);
    }
  g_string_append_c (out, '}');
  w->member = parent;
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
  Writer w = { out, NULL, PROBLEM_NONE, NULL };

  append_node (&w, node);
}

char *
_tether_json_to_string (JsonNode *node)
{
  Writer w = { g_string_sized_new (256), NULL, PROBLEM_NONE, NULL };

  append_node (&w, node);
  return g_string_free (w.out, FALSE);
}

char *
_tether_json_object_to_string (JsonObject *object)
{
  Writer w = { g_string_sized_new (256), NULL, PROBLEM_NONE, NULL };

  append_object (&w, object);
  return g_string_free (w.out, FALSE);
}

static void
set_problem_error (const Writer  *w,
                   const char    *context,
                   GError       **error)
{
  const char *where = w->where != NULL ? w->where : "(a value)";

  if (w->problem == PROBLEM_NON_FINITE)
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
                 "%s: %s is a number too large to store (beyond ±1.8e308)", context, where);
  else if (w->problem == PROBLEM_NOT_UTF8)
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
                 "%s: %s is text that is not valid UTF-8", context, where);
  else if (w->where != NULL)
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
                 "%s: %s has a member name that is not valid UTF-8", context, w->where);
  else
    g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION,
                 "%s: a member name is not valid UTF-8", context);
}

char *
_tether_json_object_to_string_checked (JsonObject  *object,
                                       const char  *context,
                                       GError     **error)
{
  Writer w = { g_string_sized_new (256), NULL, PROBLEM_NONE, NULL };

  append_object (&w, object);
  if (w.problem == PROBLEM_NONE)
    return g_string_free (w.out, FALSE);
  g_string_free (w.out, TRUE);
  set_problem_error (&w, context, error);
  return NULL;
}

char *
tether_json_node_to_string (JsonNode *node)
{
  return _tether_json_to_string (node);
}
