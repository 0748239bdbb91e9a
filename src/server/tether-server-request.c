/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-request"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"

/* Push requests, read once by the scanner of tether-server-json.c from a
 * copy of the body: the change fields are decoded in place, each record's
 * data is kept as its raw text. A problem that makes the request unanswerable
 * is a GError; a problem with one change stays on that change and becomes an
 * `errors` entry while the rest of the batch is applied. */

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

/* A string holding \u0000 or a lone surrogate: decoding cut it at the NUL
 * or made the surrogate U+FFFD, so "\ud800" and "\udbff" would be one
 * collection, record or hlc. */
static gboolean
reject_broken (TetherServerChange *change,
               const char         *field)
{
  return reject (change, "bad-change",
                 g_strdup_printf ("\"%s\" holds \\u0000 or a lone surrogate, which the server "
                                  "cannot store", field));
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

  if (f->collection.kind == TETHER_JSON_STRING && f->collection.broken)
    return reject_broken (change, "collection");
  if (f->record_id.kind == TETHER_JSON_STRING && f->record_id.broken)
    return reject_broken (change, "recordId");
  change->collection = f->collection.kind == TETHER_JSON_STRING ? f->collection.string : NULL;
  length = change->collection != NULL ? strlen (change->collection) : 0;
  if (length == 0 || length > TETHER_SERVER_MAX_COLLECTION || has_control_chars (change->collection))
    return reject (change, "bad-change",
                   g_strdup_printf ("\"collection\" must be a string of 1 to %d bytes "
                                    "without control characters", TETHER_SERVER_MAX_COLLECTION));
  if (f->record_id.kind == TETHER_JSON_STRING && f->record_id.string != NULL &&
      strlen (f->record_id.string) <= TETHER_SERVER_MAX_RECORD_ID)
    change->key = string_key (f->record_id.string);
  else if (f->record_id.kind == TETHER_JSON_INT)
    change->key = g_strdup_printf ("%" G_GINT64_FORMAT, f->record_id.integer);
  else
    return reject (change, "bad-change",
                   g_strdup_printf ("\"recordId\" must be an integer or a string of at most %d bytes",
                                    TETHER_SERVER_MAX_RECORD_ID));
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

/* A time before 1970 is a negative @ms like any other, so success is
 * told apart from it. */
static gboolean
parse_timestamp (const char *text,
                 gint64     *ms)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) time = text != NULL ? g_date_time_new_from_iso8601 (text, utc) : NULL;

  if (time == NULL)
    return FALSE;
  *ms = g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000;
  return TRUE;
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
  if (f->hlc.kind == TETHER_JSON_STRING && f->hlc.broken)
    return reject_broken (change, "hlc");
  if (f->timestamp.kind == TETHER_JSON_STRING && f->timestamp.broken)
    return reject_broken (change, "timestamp");
  change->hlc = is_absent (&f->hlc) ? NULL : f->hlc.string;
  if (!is_absent (&f->hlc) && !_tether_server_hlc_is_valid (change->hlc))
    return reject (change, "bad-change",
                   g_strdup ("\"hlc\" must look like <13-digit ms>-<4 hex digits>-<client id>"));
  change->timestamp = is_absent (&f->timestamp) ? NULL : f->timestamp.string;
  if (!is_absent (&f->timestamp) && !parse_timestamp (change->timestamp, &change->timestamp_ms))
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
static gboolean
unreadable (TetherServerChange *change)
{
  return reject (change, "bad-change", g_strdup ("\"data\" holds JSON the server cannot read"));
}

static void
validate (TetherServerChange *change,
          TetherSchema       *schema)
{
  g_autoptr(JsonNode) copy = _tether_server_parse_slice (change->data, change->data_length);
  g_autoptr(GError) error = NULL;
  JsonObject *record;
  JsonNode *id;

  if (copy == NULL)
    {
      unreadable (change);
      return;
    }
  record = json_node_get_object (copy);
  id = json_object_get_member (record, "id");

  /* The record's identity is recordId; a numeric "id" is the protocol's, not a schema error. */
  if (id != NULL && !(JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING))
    json_object_remove_member (record, "id");
  if (!tether_schema_validate (schema, change->collection, record, &error))
    reject (change, "validation", g_strdup (error->message));
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
  if (f->data.broken)
    {
      reject (change, "bad-change", g_strdup ("\"data\" holds \\u0000, a lone surrogate or a number "
                                              "out of range, which the server cannot store"));
      return;
    }
  /* As sent: the text itself, never json-glib's rewriting of it. */
  change->data_json = f->data.compact ? g_strndup (change->data, length)
                                      : _tether_server_compact (change->data, length, &length);
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

  _tether_server_skip_space (s);
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
  /* A lone surrogate cannot be echoed in an answer a client can read. */
  if (f.id.kind == TETHER_JSON_STRING && f.id.broken)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "changes[%u] has an \"id\" holding \\u0000 or a lone surrogate; "
                                "send ids of plain UTF-8 text", index);
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
      _tether_server_skip_space (s);
      if (!_tether_server_scan_value (s, &value))
        return FALSE;
      _tether_server_skip_space (s);
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
  _tether_server_skip_space (s);
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
      _tether_server_skip_space (s);
      if (s->p < s->end && *s->p == ']')
        return s->p++, TRUE;
      if (!_tether_server_expect (s, ',', "expected “,” or “]”"))
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

  _tether_server_skip_space (s);
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
  _tether_server_skip_space (s);
  if (s->failed)
    return FALSE;
  if (s->p < s->end)
    return _tether_server_scan_error (s, "unexpected text after the object");
  if (!has_changes)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "A push needs a \"changes\" array");
  if (!is_absent (&client_id) && client_id.kind != TETHER_JSON_STRING)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"clientId\" must be a string");
  if (client_id.kind == TETHER_JSON_STRING && client_id.broken)
    return _tether_server_fail (s->error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"clientId\" holds \\u0000 or a lone surrogate; send plain UTF-8 text");
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
  g_autoptr(GError) local_error = NULL;
  gboolean ok;

  /* No pass for the depth: the scanner stops at it, counting the body's
   * object, its changes array and the change around every value below. */
  if (!_tether_server_check_text (body, length, error))
    return NULL;
  request->buffer = g_strndup (body, length);
  s = (TetherServerScanner) { request->buffer, request->buffer, request->buffer + length, 3, FALSE, &local_error };
  ok = read_push (&s, request, changes, schema, max_changes);
  /* the request owns the changes read so far, whatever comes next */
  request->n_changes = changes->len;
  request->changes = (TetherServerChange *) (gpointer) g_array_free (g_steal_pointer (&changes), FALSE);
  if (ok)
    return g_steal_pointer (&request);
  /* A body both malformed and too deep is told it is too deep, whichever
   * the scanner met first. */
  if (g_error_matches (local_error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_TOO_DEEP) ||
      _tether_server_check_depth (body, length, TETHER_SERVER_MAX_DEPTH, error))
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}
