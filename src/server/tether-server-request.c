/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-request"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"

/* Push bodies are read once by a small strict JSON scanner rather than
 * json-glib: building a json-glib tree costs several microseconds per record,
 * more than the whole storage write. The scanner works on a copy of the body,
 * decodes the change fields in place and keeps each record's data as its raw
 * text, so a compact record is stored without being parsed at all. */

gboolean
_tether_server_fail (GError     **error,
                     int          code,
                     const char  *format,
                     ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TETHER_SERVER_ERROR, code, message);
  return FALSE;
}

/* Done before any parsing, so a hostile body cannot make a parser recurse
 * deeply; brackets inside strings do not count. */
gboolean
_tether_server_check_depth (const char  *body,
                            gsize        length,
                            guint        max_depth,
                            GError     **error)
{
  guint depth = 0;
  gboolean in_string = FALSE;

  for (gsize i = 0; i < length; i++)
    {
      char c = body[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if ((c == '{' || c == '[') && ++depth > max_depth)
        return _tether_server_fail (error, TETHER_SERVER_ERROR_TOO_DEEP,
                                    "The JSON body is nested deeper than %u levels", max_depth);
      else if ((c == '}' || c == ']') && depth > 0)
        depth--;
    }
  return TRUE;
}

gboolean
_tether_server_check_body (const char  *body,
                           gsize        length,
                           GError     **error)
{
  if (body == NULL || length == 0)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body is empty; send a JSON object");
  if (!g_utf8_validate_len (body, length, NULL))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body is not valid UTF-8");
  return _tether_server_check_depth (body, length, TETHER_SERVER_MAX_DEPTH, error);
}

/* TRUE when it skipped something: whitespace inside a record makes it non-compact. */
static gboolean
skip_space (TetherServerScanner *s)
{
  const char *start = s->p;

  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    s->p++;
  return s->p != start;
}

static gboolean
scan_error (TetherServerScanner *s,
            const char          *what)
{
  if (!s->failed)
    _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                         "The request body is not valid JSON: %s at byte %" G_GSIZE_FORMAT,
                         what, (gsize) (s->p - s->start));
  s->failed = TRUE;
  return FALSE;
}

static gboolean
expect (TetherServerScanner *s,
        char                 c,
        const char          *what)
{
  if (s->p >= s->end || *s->p != c)
    return scan_error (s, what);
  s->p++;
  return TRUE;
}

static gboolean
scan_string (TetherServerScanner *s,
             TetherServerValue   *v)
{
  v->kind = TETHER_JSON_STRING;
  v->canonical = TRUE;
  for (s->p++; s->p < s->end && *s->p != '"'; s->p++)
    {
      guchar c = *s->p;

      if (c < 0x20)
        return scan_error (s, "a control character in a string");
      v->canonical &= c != 0x7f;   /* json-glib writes it as \u007f */
      if (c != '\\')
        continue;
      v->canonical = FALSE;
      v->escaped = TRUE;
      if (++s->p >= s->end)
        break;
      if (*s->p == 'u')
        {
          for (guint i = 0; i < 4; i++)
            if (++s->p >= s->end || !g_ascii_isxdigit (*s->p))
              return scan_error (s, "a bad \\u escape");
        }
      else if (*s->p == '\0' || strchr ("\"\\/bfnrt", *s->p) == NULL)
        return scan_error (s, "a bad escape");
    }
  return expect (s, '"', "an unterminated string");
}

static gboolean
scan_digits (TetherServerScanner *s)
{
  const char *start = s->p;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++;
  return s->p != start || scan_error (s, "a bad number");
}

static gboolean
scan_number (TetherServerScanner *s,
             TetherServerValue   *v)
{
  gboolean negative = *s->p == '-';
  const char *digits = s->p + negative;
  guint64 value = 0;
  gboolean overflow = FALSE;

  s->p = (char *) digits;
  if (!scan_digits (s) || (*digits == '0' && s->p - digits > 1))
    return scan_error (s, "a bad number");
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
  /* json-glib writes -0 as 0 and reformats every double. */
  v->canonical = v->kind == TETHER_JSON_INT && !(negative && value == 0);
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
          v->canonical = TRUE;
          return TRUE;
        }
    }
  return scan_error (s, "an unexpected character");
}

#define MAX_NAMES 64

/* json-glib merges duplicate names, so such an object is not reproduced
 * byte for byte; neither is one with more members than we compare. */
static gboolean
name_is_new (const TetherServerValue *names,
             guint                    n,
             const TetherServerValue *name)
{
  if (n >= MAX_NAMES)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (names[i].length == name->length && memcmp (names[i].start, name->start, name->length) == 0)
      return FALSE;
  return TRUE;
}

static gboolean
scan_member_name (TetherServerScanner *s,
                  TetherServerValue   *name)
{
  if (s->p >= s->end || *s->p != '"')
    return scan_error (s, "expected a member name");
  name->start = s->p;
  if (!scan_string (s, name))
    return FALSE;
  name->length = s->p - name->start;
  name->canonical &= !skip_space (s);
  if (!expect (s, ':', "expected “:”"))
    return FALSE;
  name->canonical &= !skip_space (s);
  return TRUE;
}

static gboolean
scan_container (TetherServerScanner *s,
                TetherServerValue   *v)
{
  gboolean object = *s->p == '{';
  char close = object ? '}' : ']';
  TetherServerValue names[MAX_NAMES];

  v->kind = object ? TETHER_JSON_OBJECT : TETHER_JSON_ARRAY;
  if (++s->depth > TETHER_SERVER_MAX_DEPTH)
    return scan_error (s, "nesting too deep");
  s->p++;
  v->canonical = !skip_space (s);
  for (guint n = 0; !(n == 0 && s->p < s->end && *s->p == close); n++)
    {
      TetherServerValue name = { 0 }, item = { 0 };
      gboolean spaced;

      if (object && !scan_member_name (s, &name))
        return FALSE;
      /* Once not canonical, names are no longer kept or compared. */
      v->canonical = v->canonical && (!object || (name.canonical && name_is_new (names, n, &name)));
      if (object && v->canonical)
        names[n] = name;
      if (!_tether_server_scan_value (s, &item))
        return FALSE;
      spaced = skip_space (s);
      v->canonical = v->canonical && item.canonical && !spaced;
      if (s->p < s->end && *s->p == close)
        break;
      if (!expect (s, ',', object ? "expected “,” or “}”" : "expected “,” or “]”"))
        return FALSE;
      v->canonical &= !skip_space (s);
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
    return scan_error (s, "unexpected end");
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

static guint
hex4 (const char *p)
{
  return g_ascii_xdigit_value (p[0]) << 12 | g_ascii_xdigit_value (p[1]) << 8 |
         g_ascii_xdigit_value (p[2]) << 4 | g_ascii_xdigit_value (p[3]);
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

  skip_space (s);
  if (index == 0 && !expect (s, '{', "expected an object"))
    return FALSE;
  skip_space (s);
  if (index > 0 && s->p < s->end && *s->p == ',')
    s->p++, skip_space (s);
  else if (s->p < s->end && *s->p == '}')
    return s->p++, FALSE;
  else if (index > 0)
    return scan_error (s, "expected “,” or “}”");
  if (!scan_member_name (s, &key))
    return FALSE;
  if ((*name = _tether_server_value_decode (&key)) == NULL)
    return scan_error (s, "\\u0000 in a member name");
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

JsonNode *
_tether_server_parse_slice (const char *text,
                            gsize       length)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (parser, text, length, &error))
    {
      g_warning ("Cannot parse JSON the scanner accepted: %s", error->message);
      return json_node_new (JSON_NODE_NULL);
    }
  return json_parser_steal_root (parser);
}

/* The members of one change that the server reads. */
typedef struct {
  TetherServerValue id, collection, record_id, type, data, base_rev, hlc, timestamp, base_data;
} ChangeFields;

static gboolean
reject (TetherServerChange *change,
        const char         *code,
        char               *message)
{
  change->error_code = code;
  change->error = message;
  return FALSE;
}

static gboolean
has_control_chars (const char *text)
{
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if (*p < 0x20 || *p == 0x7f)
      return TRUE;
  return FALSE;
}

/* The canonical JSON text of a string record id. */
static char *
string_key (const char *text)
{
  GString *key = g_string_sized_new (strlen (text) + 2);

  _tether_server_append_string (key, text);
  return g_string_free (key, FALSE);
}

static gboolean
read_target (TetherServerChange *change,
             ChangeFields       *f)
{
  gsize length;

  change->collection = f->collection.kind == TETHER_JSON_STRING ? f->collection.string : NULL;
  length = change->collection != NULL ? strlen (change->collection) : 0;
  if (length == 0 || length > TETHER_SERVER_MAX_COLLECTION || has_control_chars (change->collection))
    return reject (change, "bad-change",
                   g_strdup_printf ("\"collection\" must be a string of 1 to %d bytes "
                                    "without control characters", TETHER_SERVER_MAX_COLLECTION));
  if (f->record_id.kind == TETHER_JSON_STRING && f->record_id.string != NULL)
    change->key = string_key (f->record_id.string);
  else if (f->record_id.kind == TETHER_JSON_INT)
    change->key = g_strdup_printf ("%" G_GINT64_FORMAT, f->record_id.integer);
  else
    return reject (change, "bad-change", g_strdup ("\"recordId\" must be a string or an integer"));
  change->ref = tether_server_record_ref (change->collection, change->key);
  return TRUE;
}

static gboolean
read_type (TetherServerChange *change,
           ChangeFields       *f)
{
  static const char * const names[] = { "create", "update", "delete" };
  const char *name = f->type.kind == TETHER_JSON_STRING && f->type.string ? f->type.string : "";

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i]))
      {
        change->type = (TetherChangeType) i;
        change->data = f->data.kind != TETHER_JSON_ABSENT ? f->data.start : NULL;
        change->data_length = f->data.length;
        change->data_is_object = f->data.kind == TETHER_JSON_OBJECT;
        if (change->type != TETHER_CHANGE_DELETE && !change->data_is_object)
          return reject (change, "bad-change",
                         g_strdup_printf ("a %s needs \"data\" to be an object", name));
        return TRUE;
      }
  return reject (change, "bad-change",
                 g_strdup ("\"type\" must be \"create\", \"update\" or \"delete\""));
}

static gint64
parse_timestamp (const char *text)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) time = text != NULL ? g_date_time_new_from_iso8601 (text, utc) : NULL;

  if (time == NULL)
    return -1;
  return g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000;
}

gboolean
_tether_server_hlc_is_valid (const char *hlc)
{
  if (hlc == NULL || strlen (hlc) < 20 || hlc[13] != '-' || hlc[18] != '-')
    return FALSE;
  for (guint i = 0; i < 13; i++)
    if (!g_ascii_isdigit (hlc[i]))
      return FALSE;
  for (guint i = 14; i < 18; i++)
    if (!g_ascii_isdigit (hlc[i]) && (hlc[i] < 'a' || hlc[i] > 'f'))
      return FALSE;
  return TRUE;
}

static gboolean
is_absent (const TetherServerValue *v)
{
  return v->kind == TETHER_JSON_ABSENT || v->kind == TETHER_JSON_NULL;
}

static gboolean
read_extras (TetherServerChange *change,
             ChangeFields       *f)
{
  change->base_rev = is_absent (&f->base_rev) ? -1 : f->base_rev.integer;
  if (!is_absent (&f->base_rev) && (f->base_rev.kind != TETHER_JSON_INT || change->base_rev < 0))
    return reject (change, "bad-change", g_strdup ("\"baseRev\" must be a non-negative integer"));
  change->hlc = is_absent (&f->hlc) ? NULL : f->hlc.string;
  if (!is_absent (&f->hlc) && !_tether_server_hlc_is_valid (change->hlc))
    return reject (change, "bad-change",
                   g_strdup ("\"hlc\" must look like <13-digit ms>-<4 hex digits>-<client id>"));
  change->timestamp = is_absent (&f->timestamp) ? NULL : f->timestamp.string;
  if (!is_absent (&f->timestamp) && (change->timestamp_ms = parse_timestamp (change->timestamp)) < 0)
    return reject (change, "bad-change", g_strdup ("\"timestamp\" must be an ISO 8601 time"));
  if (f->base_data.kind == TETHER_JSON_OBJECT)
    {
      change->base_data = f->base_data.start;
      change->base_data_length = f->base_data.length;
    }
  return TRUE;
}

/* Validation adds defaults, so it works on a tree of its own: the stored
 * data stays exactly as sent. */
static void
validate (TetherServerChange *change,
          TetherSchema       *schema)
{
  g_autoptr(JsonNode) copy = _tether_server_parse_slice (change->data, change->data_length);
  g_autoptr(GError) error = NULL;
  JsonObject *record = json_node_get_object (copy);
  JsonNode *id = json_object_get_member (record, "id");

  /* The record's identity is recordId; a numeric "id" is the protocol's, not a schema error. */
  if (id != NULL && !(JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING))
    json_object_remove_member (record, "id");
  if (!tether_schema_validate (schema, change->collection, record, &error))
    reject (change, "validation", g_strdup (error->message));
}

static char *
compact (const TetherServerChange *change,
         gsize                    *length)
{
  g_autoptr(JsonNode) node = _tether_server_parse_slice (change->data, change->data_length);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, node);
  return json_generator_to_data (generator, length);
}

static void
check_change (TetherServerChange *change,
              ChangeFields       *f,
              TetherSchema       *schema)
{
  gsize length = f->data.length;

  if (!read_target (change, f) || !read_type (change, f) || !read_extras (change, f))
    return;
  if (schema != NULL && !tether_schema_has_collection (schema, change->collection))
    {
      reject (change, "unknown-collection",
              g_strdup_printf ("The server's schema has no collection “%s”", change->collection));
      return;
    }
  if (change->type == TETHER_CHANGE_DELETE)
    return;
  change->data_json = f->data.canonical ? g_strndup (change->data, length) : compact (change, &length);
  if (length > TETHER_MAX_RECORD_BYTES)
    reject (change, "too-large",
            g_strdup_printf ("The record is %" G_GSIZE_FORMAT " bytes; the limit is %d",
                             length, TETHER_MAX_RECORD_BYTES));
  else if (schema != NULL)
    validate (change, schema);
}

static TetherServerValue *
change_field (ChangeFields *f,
              const char   *name)
{
  static const struct { const char *name; gsize offset; } fields[] = {
    { "id", G_STRUCT_OFFSET (ChangeFields, id) },
    { "collection", G_STRUCT_OFFSET (ChangeFields, collection) },
    { "recordId", G_STRUCT_OFFSET (ChangeFields, record_id) },
    { "type", G_STRUCT_OFFSET (ChangeFields, type) },
    { "data", G_STRUCT_OFFSET (ChangeFields, data) },
    { "baseRev", G_STRUCT_OFFSET (ChangeFields, base_rev) },
    { "hlc", G_STRUCT_OFFSET (ChangeFields, hlc) },
    { "timestamp", G_STRUCT_OFFSET (ChangeFields, timestamp) },
    { "baseData", G_STRUCT_OFFSET (ChangeFields, base_data) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (strcmp (name, fields[i].name) == 0)
      return G_STRUCT_MEMBER_P (f, fields[i].offset);
  return NULL;
}

/* Without a usable id a change cannot be answered on its own, so the whole
 * request is refused. */
static gboolean
read_change (TetherServerScanner *s,
             TetherServerChange  *change,
             guint                index,
             TetherSchema        *schema)
{
  ChangeFields f = { 0 };
  TetherServerValue value;
  char *name;
  gsize length;

  skip_space (s);
  if (s->p < s->end && *s->p != '{')
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "changes[%u] must be an object", index);
  for (guint i = 0; _tether_server_scan_member (s, i, &name, &value); i++)
    {
      TetherServerValue *field = change_field (&f, name);

      if (field == NULL)
        continue;
      *field = value;
      if (value.kind == TETHER_JSON_STRING && field != &f.data && field != &f.base_data)
        field->string = _tether_server_value_decode (field);
    }
  if (s->failed)
    return FALSE;
  length = f.id.kind == TETHER_JSON_STRING && f.id.string ? strlen (f.id.string) : 0;
  if (length == 0 || length > TETHER_SERVER_MAX_CHANGE_ID)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "changes[%u] needs an \"id\": a string of 1 to %d bytes",
                                index, TETHER_SERVER_MAX_CHANGE_ID);
  change->id = f.id.string;
  check_change (change, &f, schema);
  return TRUE;
}

static void
change_clear (TetherServerChange *change)
{
  g_free (change->key);
  g_free (change->ref);
  g_free (change->data_json);
  g_free (change->error);
}

static void
changes_clear (GArray *changes)
{
  for (guint i = 0; i < changes->len; i++)
    change_clear (&g_array_index (changes, TetherServerChange, i));
  g_array_set_size (changes, 0);
}

static gboolean
too_many (TetherServerScanner *s,
          guint                max_changes)
{
  TetherServerValue value;
  guint n = max_changes;

  /* Count them, for a message that says how far over the limit it is. */
  for (gboolean more = TRUE; more; n++)
    {
      skip_space (s);
      if (!_tether_server_scan_value (s, &value))
        return FALSE;
      skip_space (s);
      more = s->p < s->end && *s->p == ',';
      s->p += more;
    }
  return _tether_server_fail (s->error, TETHER_SERVER_ERROR_TOO_MANY,
                              "This push has %u changes; the server takes at most %u per request, "
                              "send them in smaller batches", n, max_changes);
}

static gboolean
read_changes (TetherServerScanner *s,
              GArray              *changes,
              TetherSchema        *schema,
              guint                max_changes)
{
  changes_clear (changes);
  s->p++;
  skip_space (s);
  if (s->p < s->end && *s->p == ']')
    return s->p++, TRUE;
  for (guint i = 0;; i++)
    {
      TetherServerChange change = { 0 };

      if (i == max_changes)
        return too_many (s, max_changes);
      if (!read_change (s, &change, i, schema))
        return FALSE;
      g_array_append_val (changes, change);
      skip_space (s);
      if (s->p < s->end && *s->p == ']')
        return s->p++, TRUE;
      if (!expect (s, ',', "expected “,” or “]”"))
        return FALSE;
    }
}

static gboolean
read_push (TetherServerScanner     *s,
           TetherServerPushRequest *request,
           GArray                  *changes,
           TetherSchema            *schema,
           guint                    max_changes)
{
  TetherServerValue client_id = { 0 }, version = { 0 }, value;
  gboolean has_changes = FALSE;
  char *name;

  skip_space (s);
  if (s->p < s->end && *s->p != '{')
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body must be a JSON object");
  for (guint i = 0; _tether_server_scan_name (s, i, &name); i++)
    {
      value = (TetherServerValue) { 0 };
      if (g_str_equal (name, "changes") && s->p < s->end && *s->p == '[')
        {
          if (!read_changes (s, changes, schema, max_changes))
            return FALSE;
          has_changes = TRUE;
          continue;
        }
      if (!_tether_server_scan_value (s, &value))
        return FALSE;
      has_changes &= !g_str_equal (name, "changes");
      if (g_str_equal (name, "clientId"))
        client_id = value;
      else if (g_str_equal (name, "schemaVersion"))
        version = value;
    }
  skip_space (s);
  if (s->failed)
    return FALSE;
  if (s->p < s->end)
    return scan_error (s, "unexpected text after the object");
  if (!has_changes)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "A push needs a \"changes\" array");
  if (!is_absent (&client_id) && client_id.kind != TETHER_JSON_STRING)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"clientId\" must be a string");
  if (!is_absent (&version) && version.kind != TETHER_JSON_INT)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"schemaVersion\" must be an integer");
  request->client_id = client_id.kind == TETHER_JSON_STRING ? _tether_server_value_decode (&client_id) : NULL;
  request->has_schema_version = version.kind == TETHER_JSON_INT;
  request->schema_version = version.integer;
  return TRUE;
}

void
_tether_server_push_request_free (TetherServerPushRequest *request)
{
  for (guint i = 0; i < request->n_changes; i++)
    change_clear (&request->changes[i]);
  g_free (request->changes);
  g_free (request->buffer);
  g_free (request);
}

TetherServerPushRequest *
_tether_server_push_request_parse (const char    *body,
                                   gsize          length,
                                   TetherSchema  *schema,
                                   guint          max_changes,
                                   GError       **error)
{
  g_autoptr(TetherServerPushRequest) request = g_new0 (TetherServerPushRequest, 1);
  g_autoptr(GArray) changes = g_array_new (FALSE, FALSE, sizeof (TetherServerChange));
  TetherServerScanner s = { 0 };
  gboolean ok;

  if (!_tether_server_check_body (body, length, error))
    return NULL;
  request->buffer = g_strndup (body, length);
  s = (TetherServerScanner) { request->buffer, request->buffer, request->buffer + length, 0, FALSE, error };
  ok = read_push (&s, request, changes, schema, max_changes);
  request->n_changes = changes->len;
  request->changes = (TetherServerChange *) (gpointer) g_array_free (g_steal_pointer (&changes), FALSE);
  return ok ? g_steal_pointer (&request) : NULL;
}
