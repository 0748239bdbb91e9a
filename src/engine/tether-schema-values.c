/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-schema"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-schema-private.h"

/* Checking one value against its field spec: type, bounds, lengths, string
 * formats, datetimes (normalised in place), enums and array items. */

#define QUOTE_MAX_CHARS 60

static const char * const type_names[] = {
  [TETHER_FIELD_STRING] = "string",
  [TETHER_FIELD_NUMBER] = "number",
  [TETHER_FIELD_INTEGER] = "integer",
  [TETHER_FIELD_BOOLEAN] = "boolean",
  [TETHER_FIELD_ARRAY] = "array",
  [TETHER_FIELD_OBJECT] = "object",
  [TETHER_FIELD_DATETIME] = "datetime",
};

static const char * const format_names[] = {
  [TETHER_FORMAT_NONE] = "",
  [TETHER_FORMAT_EMAIL] = "email",
  [TETHER_FORMAT_URL] = "url",
  [TETHER_FORMAT_UUID] = "uuid",
};

const char *
_tether_field_type_to_string (TetherFieldType type)
{
  g_assert (type <= TETHER_FIELD_DATETIME);
  return type_names[type];
}

static void
append_path (GString               *out,
             const TetherValuePath *path)
{
  if (path->parent != NULL)
    {
      append_path (out, path->parent);
      g_string_append_printf (out, "[%d]", path->index);
    }
  else
    g_string_append_printf (out, "%s.%s", path->collection, path->field);
}

gboolean
_tether_schema_fail (GError                **error,
                     const TetherValuePath  *path,
                     const char             *format,
                     ...)
{
  g_autoptr(GString) message = NULL;
  va_list args;

  if (error == NULL)
    return FALSE;
  message = g_string_new (NULL);
  append_path (message, path);
  g_string_append (message, ": ");
  va_start (args, format);
  g_string_append_vprintf (message, format, args);
  va_end (args);
  g_set_error_literal (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION, message->str);
  return FALSE;
}

gboolean
_tether_json_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

/* The value as JSON for a message; long strings are cut so that a failing
 * megabyte of text gives a readable error. */
static char *
quote (JsonNode *node)
{
  const char *text, *end;
  g_autofree char *cut = NULL;
  g_autoptr(JsonNode) shown = NULL;

  if (!_tether_json_is_string (node))
    return _tether_json_to_string (node);
  text = end = json_node_get_string (node);
  for (guint i = 0; i < QUOTE_MAX_CHARS && *end != '\0'; i++)
    end = g_utf8_next_char (end);
  if (*end == '\0')
    return _tether_json_to_string (node);
  cut = g_strdup_printf ("%.*s…", (int) (end - text), text);
  shown = json_node_init_string (json_node_alloc (), cut);
  return _tether_json_to_string (shown);
}

/* %.15g shows 0.1 as "0.1" and 3.0 as "3", as the person wrote them. */
static char *
format_double (double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup (g_ascii_formatd (buffer, sizeof buffer, "%.15g", value));
}

static char *
format_number (JsonNode *node)
{
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  return format_double (json_node_get_double (node));
}

static const char *
node_type_name (JsonNode *node)
{
  GType type;

  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "array";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "object";
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return "integer";
  if (type == G_TYPE_DOUBLE)
    return "number";
  if (type == G_TYPE_BOOLEAN)
    return "boolean";
  return "string";
}

static gboolean
type_matches (TetherFieldType  type,
              JsonNode        *node)
{
  GType value_type;
  gint64 integer;

  if (type == TETHER_FIELD_ARRAY)
    return JSON_NODE_HOLDS_ARRAY (node);
  if (type == TETHER_FIELD_OBJECT)
    return JSON_NODE_HOLDS_OBJECT (node);
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;

  value_type = json_node_get_value_type (node);
  switch (type)
    {
    case TETHER_FIELD_STRING:
    case TETHER_FIELD_DATETIME:
      return value_type == G_TYPE_STRING;
    case TETHER_FIELD_NUMBER:
      return value_type == G_TYPE_INT64 || value_type == G_TYPE_DOUBLE;
    case TETHER_FIELD_INTEGER:
      return _tether_json_get_integer (node, &integer);
    case TETHER_FIELD_BOOLEAN:
      return value_type == G_TYPE_BOOLEAN;
    case TETHER_FIELD_ARRAY:
    case TETHER_FIELD_OBJECT:
    default:
      g_assert_not_reached ();
    }
}

static gboolean
check_type (const TetherFieldSpec  *spec,
            JsonNode               *node,
            const TetherValuePath  *path,
            GError                **error)
{
  gint64 integer;

  if (!type_matches (spec->type, node))
    return _tether_schema_fail (error, path, "expected %s, got %s",
                                type_names[spec->type], node_type_name (node));
  /* Store 2.0 as 2 so typed getters and sorting see an integer. */
  if (spec->type == TETHER_FIELD_INTEGER &&
      json_node_get_value_type (node) == G_TYPE_DOUBLE &&
      _tether_json_get_integer (node, &integer))
    json_node_set_int (node, integer);
  return TRUE;
}

/* <0, 0, >0 as @i is below, equal to or above @d, exactly: a double cannot
 * hold every int64 (2^53 + 1 rounds to 2^53). Declared in tether-private.h. */
int
_tether_compare_int_double (gint64 i,
                            double d)
{
  gint64 whole;
  double fraction;

  if (d >= 9223372036854775808.0)
    return -1;
  if (d < -9223372036854775808.0)
    return 1;
  whole = (gint64) d;               /* toward zero, exact in this range */
  if (i != whole)
    return i < whole ? -1 : 1;
  fraction = d - (double) whole;    /* exact */
  return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

/* @node against a bound, as integers when both are. */
static int
compare_to_bound (JsonNode *node,
                  double    bound,
                  gboolean  bound_is_int,
                  gint64    bound_int)
{
  double value;

  if (json_node_get_value_type (node) == G_TYPE_INT64)
    {
      gint64 integer = json_node_get_int (node);

      if (bound_is_int)
        return (integer > bound_int) - (integer < bound_int);
      return _tether_compare_int_double (integer, bound);
    }
  value = json_node_get_double (node);
  if (bound_is_int)
    return -_tether_compare_int_double (bound_int, value);
  return (value > bound) - (value < bound);
}

static char *
format_bound (double   bound,
              gboolean is_int,
              gint64   bound_int)
{
  if (is_int)
    return g_strdup_printf ("%" G_GINT64_FORMAT, bound_int);
  return format_double (bound);
}

static gboolean
check_bounds (const TetherFieldSpec  *spec,
              JsonNode               *node,
              const TetherValuePath  *path,
              GError                **error)
{
  if (spec->has_min && compare_to_bound (node, spec->min, spec->min_is_int, spec->min_int) < 0)
    {
      g_autofree char *shown = format_number (node);
      g_autofree char *bound = format_bound (spec->min, spec->min_is_int, spec->min_int);

      return _tether_schema_fail (error, path, "%s is below min %s", shown, bound);
    }
  if (spec->has_max && compare_to_bound (node, spec->max, spec->max_is_int, spec->max_int) > 0)
    {
      g_autofree char *shown = format_number (node);
      g_autofree char *bound = format_bound (spec->max, spec->max_is_int, spec->max_int);

      return _tether_schema_fail (error, path, "%s is above max %s", shown, bound);
    }
  return TRUE;
}

static gboolean
length_error (gboolean                is_array,
              gint64                  length,
              const char             *rule,
              gint64                  limit,
              const TetherValuePath  *path,
              GError                **error)
{
  if (is_array)
    return _tether_schema_fail (error, path, "%" G_GINT64_FORMAT " %s is %s %" G_GINT64_FORMAT,
                                length, length == 1 ? "item" : "items", rule, limit);
  return _tether_schema_fail (error, path, "length %" G_GINT64_FORMAT " is %s %" G_GINT64_FORMAT,
                              length, rule, limit);
}

/* Strings count Unicode characters, arrays their items. */
static gboolean
check_length (const TetherFieldSpec  *spec,
              JsonNode               *node,
              const TetherValuePath  *path,
              GError                **error)
{
  gboolean is_array = spec->type == TETHER_FIELD_ARRAY;
  gint64 length;

  if (spec->min_length < 0 && spec->max_length < 0)
    return TRUE;
  if (is_array)
    length = json_array_get_length (json_node_get_array (node));
  else
    length = g_utf8_strlen (json_node_get_string (node), -1);

  if (spec->max_length >= 0 && length > spec->max_length)
    return length_error (is_array, length, "above maxLength", spec->max_length, path, error);
  if (spec->min_length >= 0 && length < spec->min_length)
    return length_error (is_array, length, "below minLength", spec->min_length, path, error);
  return TRUE;
}

static gboolean
has_space_or_control (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || *p == 0x7f)
      return TRUE;
  return FALSE;
}

/* Dot-separated labels of letters, digits, '-' or non-ASCII (IDN), at least two. */
static gboolean
is_domain (const char *text)
{
  guint labels = 0, length = 0;

  for (const char *p = text; ; p++)
    {
      if (*p == '.' || *p == '\0')
        {
          if (length == 0)
            return FALSE;
          labels++;
          length = 0;
          if (*p == '\0')
            return labels >= 2;
        }
      else if (g_ascii_isalnum (*p) || *p == '-' || (guchar) *p >= 0x80)
        length++;
      else
        return FALSE;
    }
}

/* What a person types as an address, not the whole of RFC 5322. */
static gboolean
is_email (const char *text)
{
  const char *at = strchr (text, '@');

  if (at == NULL || at == text || strchr (at + 1, '@') != NULL)
    return FALSE;
  return !has_space_or_control (text) && is_domain (at + 1);
}

/* An absolute URL with an authority: scheme "://" host … */
static gboolean
is_url (const char *text)
{
  const char *p = text;

  if (!g_ascii_isalpha (*p))
    return FALSE;
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  if (!g_str_has_prefix (p, "://"))
    return FALSE;
  p += 3;
  return *p != '\0' && *p != '/' && *p != '?' && *p != '#' && !has_space_or_control (p);
}

static gboolean
is_uuid (const char *text)
{
  for (guint i = 0; i < 36; i++)
    {
      if (i == 8 || i == 13 || i == 18 || i == 23)
        {
          if (text[i] != '-')
            return FALSE;
        }
      else if (!g_ascii_isxdigit (text[i]))
        return FALSE;
    }
  return text[36] == '\0';
}

static gboolean
check_format (const TetherFieldSpec  *spec,
              JsonNode               *node,
              const TetherValuePath  *path,
              GError                **error)
{
  const char *text = json_node_get_string (node);
  g_autofree char *shown = NULL;
  gboolean valid;

  switch (spec->format)
    {
    case TETHER_FORMAT_EMAIL:
      valid = is_email (text);
      break;
    case TETHER_FORMAT_URL:
      valid = is_url (text);
      break;
    case TETHER_FORMAT_UUID:
      valid = is_uuid (text);
      break;
    case TETHER_FORMAT_NONE:
    default:
      return TRUE;
    }
  if (valid)
    return TRUE;
  shown = quote (node);
  return _tether_schema_fail (error, path, "%s is not a valid %s",
                              shown, format_names[spec->format]);
}

static gboolean
check_string (const TetherFieldSpec  *spec,
              JsonNode               *node,
              const TetherValuePath  *path,
              GError                **error)
{
  if (!check_length (spec, node, path, error) ||
      !check_format (spec, node, path, error))
    return FALSE;
  /* Unanchored, as in JSON Schema: the pattern says where it anchors. */
  if (spec->pattern != NULL &&
      !g_regex_match (spec->pattern, json_node_get_string (node), 0, NULL))
    {
      g_autofree char *shown = quote (node);

      return _tether_schema_fail (error, path, "%s does not match pattern %s",
                                  shown, g_regex_get_pattern (spec->pattern));
    }
  return TRUE;
}

/* Datetimes */

static GTimeZone *
utc_zone (void)
{
  static GTimeZone *utc = NULL;

  if (g_once_init_enter (&utc))
    g_once_init_leave (&utc, g_time_zone_new_utc ());
  return utc;
}

static int
parse_digits (const char *text,
              guint       n)
{
  int value = 0;

  for (guint i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return -1;
      value = value * 10 + g_ascii_digit_value (text[i]);
    }
  return value;
}

/* g_date_time_new_from_iso8601() wants a time; a plain date means midnight UTC. */
static GDateTime *
parse_plain_date (const char *text)
{
  int year, month, day;

  if (strlen (text) != 10 || text[4] != '-' || text[7] != '-')
    return NULL;
  year = parse_digits (text, 4);
  month = parse_digits (text + 5, 2);
  day = parse_digits (text + 8, 2);
  /* g_date_valid_dmy() takes narrow types: keep -1 (not digits) out. */
  if (year < 1 || month < 1 || day < 1 || !g_date_valid_dmy (day, month, year))
    return NULL;
  return g_date_time_new_utc (year, month, day, 0, 0, 0);
}

static GDateTime *
parse_datetime (const char *text)
{
  g_autoptr(GDateTime) parsed = parse_plain_date (text);

  if (parsed != NULL)
    return g_steal_pointer (&parsed);
  /* A time without a zone is taken as UTC. */
  parsed = g_date_time_new_from_iso8601 (text, utc_zone ());
  if (parsed == NULL)
    return NULL;
  /* NULL when the UTC time leaves the years 1 to 9999. */
  return g_date_time_to_utc (parsed);
}

/* Stored datetimes come back on every update and every pull: recognise the
 * normal form without building a GDateTime. */
static gboolean
is_normal_datetime (const char *text)
{
  static const char layout[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  int hour, minute, second;

  for (guint i = 0; i < sizeof layout - 1; i++)
    if (layout[i] == 'd' ? !g_ascii_isdigit (text[i]) : text[i] != layout[i])
      return FALSE;
  if (text[sizeof layout - 1] != '\0')
    return FALSE;
  hour = parse_digits (text + 11, 2);
  minute = parse_digits (text + 14, 2);
  second = parse_digits (text + 17, 2);
  return hour < 24 && minute < 60 && second < 60 &&
         g_date_valid_dmy (parse_digits (text + 8, 2), parse_digits (text + 5, 2),
                           parse_digits (text, 4));
}

static gboolean
check_datetime (JsonNode               *node,
                const TetherValuePath  *path,
                GError                **error)
{
  const char *text = json_node_get_string (node);
  g_autoptr(GDateTime) datetime = NULL;
  char normal[32];

  if (is_normal_datetime (text))
    return TRUE;
  datetime = parse_datetime (text);
  if (datetime == NULL)
    {
      g_autofree char *shown = quote (node);

      return _tether_schema_fail (error, path, "%s is not an ISO 8601 datetime", shown);
    }
  /* Millisecond precision, truncated: what JavaScript clients produce too. */
  g_snprintf (normal, sizeof normal, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
              g_date_time_get_year (datetime), g_date_time_get_month (datetime),
              g_date_time_get_day_of_month (datetime), g_date_time_get_hour (datetime),
              g_date_time_get_minute (datetime), g_date_time_get_second (datetime),
              g_date_time_get_microsecond (datetime) / 1000);
  if (!g_str_equal (normal, text))
    json_node_set_string (node, normal);
  return TRUE;
}

static gboolean
check_enum (const TetherFieldSpec  *spec,
            JsonNode               *node,
            const TetherValuePath  *path,
            GError                **error)
{
  g_autofree char *shown = NULL;

  if (spec->enum_values == NULL)
    return TRUE;
  for (guint i = 0; i < spec->enum_values->len; i++)
    if (_tether_json_equal (node, g_ptr_array_index (spec->enum_values, i)))
      return TRUE;
  shown = quote (node);
  return _tether_schema_fail (error, path, "%s is not one of %s", shown, spec->enum_text);
}

static gboolean
check_items (const TetherFieldSpec  *spec,
             JsonNode               *node,
             const TetherValuePath  *path,
             GError                **error)
{
  JsonArray *array = json_node_get_array (node);
  guint n = json_array_get_length (array);

  if (spec->items == NULL)
    return TRUE;
  for (guint i = 0; i < n; i++)
    {
      TetherValuePath item = { .parent = path, .index = (int) i };

      if (!_tether_field_spec_check (spec->items, json_array_get_element (array, i),
                                     &item, error))
        return FALSE;
    }
  return TRUE;
}

/* Whether checking @node would rewrite it in place (2.0 stored as 2, a
 * datetime in its normal form). A record of pulled data shares the parsed
 * answer's nodes, which are immutable: such a member must be copied before
 * it is checked. Mirrors check_type() and check_datetime(). */
gboolean
_tether_field_spec_normalises (const TetherFieldSpec *spec,
                               JsonNode              *node)
{
  gint64 integer;

  if (JSON_NODE_HOLDS_ARRAY (node) && spec->type == TETHER_FIELD_ARRAY && spec->items != NULL)
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (_tether_field_spec_normalises (spec->items, json_array_get_element (array, i)))
          return TRUE;
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (spec->type == TETHER_FIELD_INTEGER)
    return json_node_get_value_type (node) == G_TYPE_DOUBLE && _tether_json_get_integer (node, &integer);
  if (spec->type == TETHER_FIELD_DATETIME)
    return json_node_get_value_type (node) == G_TYPE_STRING &&
           !is_normal_datetime (json_node_get_string (node));
  return FALSE;
}

gboolean
_tether_field_spec_check (const TetherFieldSpec  *spec,
                          JsonNode               *value,
                          const TetherValuePath  *path,
                          GError                **error)
{
  /* before any rule reads it as text, or a message quotes it */
  if (_tether_json_is_string (value) && !g_utf8_validate (json_node_get_string (value), -1, NULL))
    return _tether_schema_fail (error, path, "is text that is not valid UTF-8");
  if (!check_type (spec, value, path, error))
    return FALSE;

  switch (spec->type)
    {
    case TETHER_FIELD_DATETIME:
      if (!check_datetime (value, path, error))
        return FALSE;
      break;
    case TETHER_FIELD_NUMBER:
    case TETHER_FIELD_INTEGER:
      if (!check_bounds (spec, value, path, error))
        return FALSE;
      break;
    case TETHER_FIELD_STRING:
      if (!check_string (spec, value, path, error))
        return FALSE;
      break;
    case TETHER_FIELD_ARRAY:
      if (!check_length (spec, value, path, error) ||
          !check_items (spec, value, path, error))
        return FALSE;
      break;
    case TETHER_FIELD_BOOLEAN:
    case TETHER_FIELD_OBJECT:
    default:
      break;
    }
  return check_enum (spec, value, path, error);
}
