/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-json"
#include "config.h"

#include <math.h>
#include <string.h>

#include "tether-private.h"
#include "tether-server-core-private.h"

/* A small strict JSON scanner for push bodies. json-glib builds a tree that
 * costs more per record than the storage write; this one only finds where
 * each value is, decodes the strings the server reads in place, and tells
 * whether a value's text is compact already, so such a record is stored
 * without being copied twice. User data is never written by json-glib:
 * json-glib 1.6 writes 1e20 as "1e+20.0", leaves U+001F raw in strings and
 * wraps integers past 64 bits, so its text is not what the client sent. */

/* Done before any parsing, so a hostile body cannot make a parser recurse
 * deeply. */
gboolean
_tether_server_check_depth (const char  *body,
                            gsize        length,
                            guint        max_depth,
                            GError     **error)
{
  if (_tether_json_nested_deeper (body, length, max_depth))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_TOO_DEEP,
                                "The JSON body is nested deeper than %u levels", max_depth);
  return TRUE;
}

/* Most bodies are ASCII: skip that prefix eight bytes at a time and leave
 * only the rest to the full UTF-8 check (a non-ASCII byte after ASCII
 * starts a character). */
static gboolean
is_utf8 (const char *body,
         gsize       length)
{
  gsize i = 0;

  for (guint64 word; i + 8 <= length; i += 8)
    {
      memcpy (&word, body + i, 8);
      if (word & G_GUINT64_CONSTANT (0x8080808080808080))
        break;
    }
  while (i < length && (guchar) body[i] < 0x80)
    i++;
  return g_utf8_validate_len (body + i, length - i, NULL);
}

gboolean
_tether_server_check_text (const char  *body,
                           gsize        length,
                           GError     **error)
{
  if (body == NULL || length == 0)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body is empty; send a JSON object");
  if (!is_utf8 (body, length))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body is not valid UTF-8");
  return TRUE;
}

gboolean
_tether_server_check_body (const char  *body,
                           gsize        length,
                           GError     **error)
{
  return _tether_server_check_text (body, length, error) &&
         _tether_server_check_depth (body, length, TETHER_SERVER_MAX_DEPTH, error);
}

/* TRUE when it skipped something: whitespace inside a record makes it non-compact. */
gboolean
_tether_server_skip_space (TetherServerScanner *s)
{
  const char *start = s->p;

  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
  return s->p != start;
}

gboolean
_tether_server_scan_error (TetherServerScanner *s,
            const char          *what)
{
  if (!s->failed)
    _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                         "The request body is not valid JSON: %s at byte %" G_GSIZE_FORMAT,
                         what, (gsize) (s->p - s->start));
  s->failed = TRUE;
  return FALSE;
}

gboolean
_tether_server_expect (TetherServerScanner *s,
        char                 c,
        const char          *what)
{
  if (s->p >= s->end || *s->p != c)
    return _tether_server_scan_error (s, what);
  s->p++;
  return TRUE;
}

static gboolean
is_hex4 (const char *p,
         const char *end)
{
  if (end - p < 4)
    return FALSE;
  for (guint i = 0; i < 4; i++)
    if (!g_ascii_isxdigit (p[i]))
      return FALSE;
  return TRUE;
}

static guint
hex4 (const char *p)
{
  return g_ascii_xdigit_value (p[0]) << 12 | g_ascii_xdigit_value (p[1]) << 8 |
         g_ascii_xdigit_value (p[2]) << 4 | g_ascii_xdigit_value (p[3]);
}

/* At the "u" of a \u escape: clients read records with json-glib, which
 * cannot keep \u0000 or a lone surrogate, so a value holding one is marked
 * broken. */
static gboolean
scan_unicode_escape (TetherServerScanner *s,
                     TetherServerValue   *v)
{
  guint c;

  if (!is_hex4 (s->p + 1, s->end))
    return _tether_server_scan_error (s, "a bad \\u escape");
  c = hex4 (s->p + 1);
  s->p += 4;
  if (c >= 0xd800 && c < 0xdc00 && s->end - s->p >= 7 && s->p[1] == '\\' && s->p[2] == 'u' &&
      is_hex4 (s->p + 3, s->end) && hex4 (s->p + 3) >= 0xdc00 && hex4 (s->p + 3) < 0xe000)
    s->p += 6;
  else if (c == 0 || (c >= 0xd800 && c < 0xe000))
    v->broken = TRUE;
  return TRUE;
}

/* The bytes scan_string() must look at; it skips all others in a tight loop. */
static const guchar string_stop[256] = {
  [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
};

#define ONES G_GUINT64_CONSTANT (0x0101010101010101)
#define HIGH G_GUINT64_CONSTANT (0x8080808080808080)

/* The high bit of each of the eight bytes of @w that is a string_stop
 * byte: under 0x20, or '"', '\\' or 0x7f (the tricks of "Bit Twiddling
 * Hacks"). A borrow can mark bytes after a marked one too, never before,
 * so the lowest mark is exact. Scanning strings a byte a step was 6% of a
 * push's instructions. */
static inline guint64
stop_mask (guint64 w)
{
  guint64 quote = w ^ (ONES * '"');
  guint64 backslash = w ^ (ONES * '\\');
  guint64 del = w ^ (ONES * 0x7f);

  return (((w - ONES * 0x20) & ~w) | ((quote - ONES) & ~quote) |
          ((backslash - ONES) & ~backslash) | ((del - ONES) & ~del)) & HIGH;
}

/* To the next string_stop byte, or the end. */
static void
skip_plain (TetherServerScanner *s)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  while (s->end - s->p >= 8)
    {
      guint64 w, mask;

      memcpy (&w, s->p, 8);
      mask = stop_mask (w);
      if (mask != 0)
        {
          s->p += __builtin_ctzll (mask) / 8;
          return;
        }
      s->p += 8;
    }
#endif
  while (s->p < s->end && !string_stop[(guchar) *s->p])
    s->p++;
}

static gboolean
scan_string (TetherServerScanner *s,
             TetherServerValue   *v)
{
  v->kind = TETHER_JSON_STRING;
  v->compact = TRUE;
  for (s->p++; s->p < s->end && *s->p != '"'; s->p++)
    {
      guchar c;

      skip_plain (s);
      if (s->p >= s->end || *s->p == '"')
        break;
      c = *s->p;
      if (c < 0x20)
        return _tether_server_scan_error (s, "a control character in a string");
      if (c != '\\')
        continue;
      v->escaped = TRUE;
      if (++s->p >= s->end)
        break;
      if (*s->p == 'u')
        {
          if (!scan_unicode_escape (s, v))
            return FALSE;
        }
      else if (*s->p == '\0' || strchr ("\"\\/bfnrt", *s->p) == NULL)
        return _tether_server_scan_error (s, "a bad escape");
    }
  return _tether_server_expect (s, '"', "an unterminated string");
}

static gboolean
scan_digits (TetherServerScanner *s)
{
  const char *start = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p != start || _tether_server_scan_error (s, "a bad number");
}

static gboolean
scan_number (TetherServerScanner *s,
             TetherServerValue   *v)
{
  const char *start = s->p;
  gboolean negative = *s->p == '-';
  const char *digits = s->p + negative;
  guint64 value = 0;
  gboolean overflow = FALSE;

  s->p = (char *) digits;
  if (!scan_digits (s) || (*digits == '0' && s->p - digits > 1))
    return _tether_server_scan_error (s, "a bad number");
  for (const char *d = digits; d < s->p; d++)
    {
      overflow |= value > (G_MAXUINT64 - 9) / 10;
      value = value * 10 + (*d - '0');
    }
  v->kind = TETHER_JSON_INT;
  if (s->p < s->end && *s->p == '.' && (s->p++, v->kind = TETHER_JSON_DOUBLE, !scan_digits (s)))
    return FALSE;
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      v->kind = TETHER_JSON_DOUBLE;
      s->p += (s->p + 1 < s->end && (s->p[1] == '+' || s->p[1] == '-')) ? 2 : 1;
      if (!scan_digits (s))
        return FALSE;
    }
  if (v->kind == TETHER_JSON_INT && (overflow || value > (guint64) G_MAXINT64 + negative))
    v->kind = TETHER_JSON_DOUBLE;
  v->integer = negative ? (gint64) (0 - value) : (gint64) value;
  /* Kept as sent, but no client could read 1e999 as a number. The buffer
   * is NUL-terminated, so strtod stops at the end of the body. */
  v->broken = v->kind == TETHER_JSON_DOUBLE && !isfinite (g_ascii_strtod (start, NULL));
  v->compact = TRUE;
  return TRUE;
}

static gboolean
scan_literal (TetherServerScanner *s,
              TetherServerValue   *v)
{
  static const struct { const char *text; TetherServerJsonKind kind; } literals[] = {
    { "true", TETHER_JSON_TRUE }, { "false", TETHER_JSON_FALSE }, { "null", TETHER_JSON_NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (literals); i++)
    {
      gsize n = strlen (literals[i].text);

      if ((gsize) (s->end - s->p) >= n && memcmp (s->p, literals[i].text, n) == 0)
        {
          s->p += n;
          v->kind = literals[i].kind;
          v->compact = TRUE;
          return TRUE;
        }
    }
  return _tether_server_scan_error (s, "an unexpected character");
}

static gboolean
scan_member_name (TetherServerScanner *s,
                  TetherServerValue   *name)
{
  if (s->p >= s->end || *s->p != '"')
    return _tether_server_scan_error (s, "expected a member name");
  name->start = s->p;
  if (!scan_string (s, name))
    return FALSE;
  name->length = s->p - name->start;
  name->compact &= !_tether_server_skip_space (s);
  if (!_tether_server_expect (s, ':', "expected “:”"))
    return FALSE;
  name->compact &= !_tether_server_skip_space (s);
  return TRUE;
}

static gboolean
scan_container (TetherServerScanner *s,
                TetherServerValue   *v)
{
  gboolean object = *s->p == '{';
  char close = object ? '}' : ']';

  v->kind = object ? TETHER_JSON_OBJECT : TETHER_JSON_ARRAY;
  if (++s->depth > TETHER_SERVER_MAX_DEPTH)
    {
      /* the scanner is the first to read a push: it stops before json-glib
       * would ever recurse that deep */
      s->p = s->end;
      if (!s->failed)
        _tether_server_fail (s->error, TETHER_SERVER_ERROR_TOO_DEEP,
                             "The JSON body is nested deeper than %u levels", TETHER_SERVER_MAX_DEPTH);
      s->failed = TRUE;
      return FALSE;
    }
  s->p++;
  v->compact = !_tether_server_skip_space (s);
  for (guint n = 0; !(n == 0 && s->p < s->end && *s->p == close); n++)
    {
      TetherServerValue name = { 0 }, item = { 0 };
      gboolean spaced;

      if (object && !scan_member_name (s, &name))
        return FALSE;
      v->compact &= !object || name.compact;
      if (!_tether_server_scan_value (s, &item))
        return FALSE;
      spaced = _tether_server_skip_space (s);
      v->compact = v->compact && item.compact && !spaced;
      v->broken |= item.broken || name.broken;
      if (s->p < s->end && *s->p == close)
        break;
      if (!_tether_server_expect (s, ',', object ? "expected “,” or “}”" : "expected “,” or “]”"))
        return FALSE;
      v->compact &= !_tether_server_skip_space (s);
    }
  s->p++;
  s->depth--;
  return TRUE;
}

/* Checks one value at s->p (no leading space) and records where it is. */
gboolean
_tether_server_scan_value (TetherServerScanner *s,
                           TetherServerValue   *v)
{
  gboolean ok;

  if (s->p >= s->end)
    return _tether_server_scan_error (s, "unexpected end");
  v->start = s->p;
  if (*s->p == '"')
    ok = scan_string (s, v);
  else if (*s->p == '{' || *s->p == '[')
    ok = scan_container (s, v);
  else if (*s->p == '-' || g_ascii_isdigit (*s->p))
    ok = scan_number (s, v);
  else
    ok = scan_literal (s, v);
  v->length = s->p - v->start;
  return ok;
}

static void
put_utf8 (char     **out,
          gunichar   c)
{
  *out += g_unichar_to_utf8 (c, *out);
}

/* Decodes a scanned string in place (the decoded text is never longer) and
 * returns it NUL-terminated; NULL when it holds \u0000. */
char *
_tether_server_value_decode (TetherServerValue *v)
{
  char *in = v->start + 1, *end = v->start + v->length - 1, *out = v->start;

  if (!v->escaped)
    {
      *end = '\0';
      return in;
    }
  while (in < end)
    {
      guint c;

      if (*in != '\\')
        {
          *out++ = *in++;
          continue;
        }
      in++;
      if (*in != 'u')
        {
          *out++ = *in == 'b' ? '\b' : *in == 'f' ? '\f' : *in == 'n' ? '\n' :
                   *in == 'r' ? '\r' : *in == 't' ? '\t' : *in;
          in++;
          continue;
        }
      c = hex4 (in + 1);
      in += 5;
      if (c >= 0xd800 && c < 0xdc00 && end - in >= 6 && in[0] == '\\' && in[1] == 'u' &&
          hex4 (in + 2) >= 0xdc00 && hex4 (in + 2) < 0xe000)
        {
          c = 0x10000 + ((c - 0xd800) << 10) + (hex4 (in + 2) - 0xdc00);
          in += 6;
        }
      if (c == 0)
        return NULL;
      put_utf8 (&out, c >= 0xd800 && c < 0xe000 ? 0xfffd : c);
    }
  *out = '\0';
  return v->start;
}

/* Steps through the members of an object: call with index 0, 1, … until it
 * returns FALSE (the end of the object, or an error with s->failed set).
 * On TRUE, @name is the member's decoded name and s->p is at its value. */
gboolean
_tether_server_scan_name (TetherServerScanner  *s,
                          guint                 index,
                          char                **name)
{
  TetherServerValue key = { 0 };

  _tether_server_skip_space (s);
  if (index == 0 && !_tether_server_expect (s, '{', "expected an object"))
    return FALSE;
  _tether_server_skip_space (s);
  if (index > 0 && s->p < s->end && *s->p == ',')
    s->p++, _tether_server_skip_space (s);
  else if (s->p < s->end && *s->p == '}')
    return s->p++, FALSE;
  else if (index > 0)
    return _tether_server_scan_error (s, "expected “,” or “}”");
  if (!scan_member_name (s, &key))
    return FALSE;
  if ((*name = _tether_server_value_decode (&key)) == NULL)
    return _tether_server_scan_error (s, "\\u0000 in a member name");
  return TRUE;
}

/* The same, scanning the member's value into @value. */
gboolean
_tether_server_scan_member (TetherServerScanner  *s,
                            guint                 index,
                            char                **name,
                            TetherServerValue    *value)
{
  *value = (TetherServerValue) { 0 };
  return _tether_server_scan_name (s, index, name) && _tether_server_scan_value (s, value);
}

/* For a body json-glib reads: json-glib 1.6 cuts a string at \u0000 (a
 * pull for collection "a\u0000b" would get collection "a") and takes raw
 * control characters in strings, so the body is held to the scanner's
 * rules first. */
gboolean
_tether_server_check_strict (const char  *body,
                             gsize        length,
                             GError     **error)
{
  g_autofree char *copy = g_strndup (body, length);
  TetherServerScanner s = { copy, copy, copy + length, 0, FALSE, error };
  TetherServerValue value = { 0 };

  _tether_server_skip_space (&s);
  if (!_tether_server_scan_value (&s, &value))
    return FALSE;
  _tether_server_skip_space (&s);
  if (s.p < s.end)
    return _tether_server_scan_error (&s, "unexpected text after the value");
  if (value.broken)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body holds \\u0000, a lone surrogate or a number "
                                "out of range, which the server cannot read");
  return TRUE;
}

/* @text (scanned, so valid JSON) without the whitespace between its
 * tokens: strings and numbers are copied byte for byte, escapes, exponents
 * and integers past 64 bits included. */
char *
_tether_server_compact (const char *text,
                        gsize       length,
                        gsize      *out_length)
{
  char *out = g_malloc (length + 1), *q = out;
  gboolean in_string = FALSE;

  for (const char *p = text, *end = text + length; p < end; p++)
    {
      if (in_string && *p == '\\')
        *q++ = *p++;
      else if (*p == '"')
        in_string = !in_string;
      else if (!in_string && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        continue;
      *q++ = *p;
    }
  *q = '\0';
  *out_length = q - out;
  return out;
}

/* NULL in the rare case json-glib refuses what the scanner accepted
 * (a lone surrogate escape, say). */
JsonNode *
_tether_server_parse_slice (const char *text,
                            gsize       length)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, text, length, NULL))
    return NULL;
  return json_parser_steal_root (parser);
}

