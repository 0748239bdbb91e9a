/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-query"
#include "config.h"

#include <string.h>

#include "tether-private.h"

/* Previews (tether_query_preview) are cut from the stored JSON text in one
 * pass, without building a tree: a list of 100,000 notes makes 100,000 of
 * them at start-up. SQLite's json_object over `data ->> '$.f'` did the same
 * in SQL but parsed each record once per field, twice as slow in all.
 * The text was written by the engine (valid JSON, an object at the top);
 * anything else makes the caller keep the whole text. */

typedef struct {
  const char *p;
  const char *end;
} Scanner;

static void
skip_space (Scanner *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

/* A \uDC00-\uDFFF escape: the second half of a pair, never cut from its first. */
static gboolean
is_low_surrogate (const char *p,
                  const char *end)
{
  return end - p >= 6 && p[1] == 'u' && g_ascii_tolower (p[2]) == 'd' &&
         strchr ("cdefCDEF", p[3]) != NULL;
}

/* Past the closing quote of the string that starts at s->p. With @cut_at,
 * counts its characters (an escape or a UTF-8 sequence is one) and sets
 * @cut_at to where character @max begins when the string is longer. It
 * runs over every record at start-up, so past the count it jumps from
 * quote to quote. */
/* The closing quote at or after @p: memchr to each quote, which is the
 * end unless an odd run of backslashes escapes it. */
static const char *
closing_quote (const char *p,
               const char *end)
{
  while ((p = memchr (p, '"', end - p)) != NULL)
    {
      const char *b = p;

      while (b[-1] == '\\')
        b--;
      if ((p - b) % 2 == 0)
        return p;
      p++;
    }
  return NULL;
}

static gboolean
skip_string (Scanner     *s,
             guint        max,
             const char **cut_at)
{
  const char *p = s->p + 1;
  guint chars = 0;

  if (cut_at != NULL)
    *cut_at = NULL;
  /* Count up to @max characters; the rest is found by closing_quote. */
  while (cut_at != NULL && p < s->end && *p != '"')
    {
      char c = *p;

      if (((guchar) c & 0xC0) != 0x80)
        {
          if (chars >= max && !(c == '\\' && is_low_surrogate (p, s->end)))
            {
              *cut_at = p;
              break;
            }
          chars++;
        }
      p += c != '\\' ? 1 : p + 1 < s->end && p[1] == 'u' ? 6 : 2;
    }
  if (p >= s->end || (p = closing_quote (p, s->end)) == NULL)
    return FALSE;
  s->p = p + 1;
  return TRUE;
}

/* Past any value: strings, nested objects and arrays, numbers, literals. */
static gboolean
skip_value (Scanner *s)
{
  guint depth = 0;

  do
    {
      skip_space (s);
      if (s->p >= s->end)
        return FALSE;
      if (*s->p == '"')
        {
          if (!skip_string (s, 0, NULL))
            return FALSE;
        }
      else if (*s->p == '{' || *s->p == '[')
        depth++, s->p++;
      else if (*s->p == '}' || *s->p == ']')
        {
          if (depth == 0)
            return FALSE;
          depth--, s->p++;
        }
      else if (*s->p == ',' || *s->p == ':')
        {
          if (depth == 0)
            return FALSE;
          s->p++;
        }
      else
        while (s->p < s->end && strchr (",:]} \t\n\r", *s->p) == NULL)
          s->p++;
    }
  while (depth > 0);
  return TRUE;
}

static gint
field_index (const char * const *fields,
             const char         *key,
             gsize               length)
{
  for (guint i = 0; fields[i] != NULL; i++)
    if (strlen (fields[i]) == length && memcmp (fields[i], key, length) == 0)
      return i;
  return -1;
}

/* Appends `"key":value` for a kept member, the string cut when asked. */
static void
append_member (GString    *out,
               const char *key,
               gsize       key_length,
               const char *value,
               const char *value_end,
               gboolean    cut,
               guint       max_chars)
{
  const char *cut_at = NULL;

  if (out->len > 1)
    g_string_append_c (out, ',');
  g_string_append_c (out, '"');
  g_string_append_len (out, key, key_length);
  g_string_append (out, "\":");
  if (cut && *value == '"')
    {
      Scanner s = { value, value_end };

      skip_string (&s, max_chars, &cut_at);
    }
  if (cut_at == NULL)
    g_string_append_len (out, value, value_end - value);
  else
    {
      g_string_append_len (out, value, cut_at - value);
      g_string_append_c (out, '"');
    }
}

char *
_tether_json_preview (const char         *text,
                      gsize               length,
                      const char * const *fields,
                      const gboolean     *cut,
                      guint               max_chars)
{
  Scanner s = { text, text + length };
  g_autoptr(GString) out = g_string_sized_new (MIN (length, 64 + 2 * (gsize) max_chars));

  skip_space (&s);
  if (s.p >= s.end || *s.p != '{')
    return NULL;
  s.p++;
  g_string_append_c (out, '{');
  for (gboolean first = TRUE;; first = FALSE)
    {
      const char *key, *value;
      gsize key_length;
      gint index;

      skip_space (&s);
      if (first && s.p < s.end && *s.p == '}')
        break;
      if (s.p >= s.end || *s.p != '"')
        return NULL;
      key = s.p + 1;
      if (!skip_string (&s, 0, NULL))
        return NULL;
      key_length = s.p - 1 - key;
      index = field_index (fields, key, key_length);
      skip_space (&s);
      if (s.p >= s.end || *s.p != ':')
        return NULL;
      s.p++;
      skip_space (&s);
      value = s.p;
      if (!skip_value (&s))
        return NULL;
      if (index >= 0)
        append_member (out, key, key_length, value, s.p, cut[index], max_chars);
      skip_space (&s);
      if (s.p < s.end && *s.p == ',')
        {
          s.p++;
          continue;
        }
      if (s.p < s.end && *s.p == '}')
        break;
      return NULL;
    }
  g_string_append_c (out, '}');
  return g_string_free (g_steal_pointer (&out), FALSE);
}
