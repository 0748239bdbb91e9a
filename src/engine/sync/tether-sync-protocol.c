/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-protocol"
#include "config.h"

#include "tether-sync-engine-private.h"

/* The protocol's JSON (docs/protocol.md). Answers are checked member by
 * member before anything is written, so a server that sends something else
 * changes nothing locally and the error says what was wrong. */

static gboolean
protocol_error (GError    **error,
                const char *what)
{
  g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL,
               "the server's answer is not Tether sync protocol: %s", what);
  return FALSE;
}

/* ------------------------------------------------------------ requests */

/* Whether a change's stored data is a JSON object, by SQLite's parser:
 * the text is sent as it is, so a damaged log stops here, with its id. */
static gboolean
is_json_object (TetherSyncEngine *self,
                const char       *text,
                GError          **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (self->db,
    "SELECT json_valid (?1) AND json_type (?1) = 'object'", error);
  gboolean ok;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
  ok = sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_int (stmt, 0) == 1;
  sqlite3_reset (stmt);
  return ok;
}

/* @data (a JSON object's text) with its "id" the integer @record_id: the
 * record goes back to the server, and to the client that made it, keyed
 * as they have it (locally every id is a string). NULL when json-glib
 * cannot read @data (nested past its depth): it then goes as it is. */
static char *
with_integer_id (const char *data,
                 const char *record_id)
{
  g_autoptr(JsonObject) object = _tether_json_parse_object (data, -1, NULL);

  if (object == NULL)
    return NULL;
  json_object_set_int_member (object, "id", g_ascii_strtoll (record_id, NULL, 10));
  return _tether_json_object_to_string (object);
}

static gboolean
append_change (TetherSyncEngine *self,
               GString          *out,
               TetherPushGroup  *group,
               GError          **error)
{
  TetherChangeRow *last = g_ptr_array_index (group->rows, group->rows->len - 1);
  gboolean has_data = group->type != TETHER_CHANGE_DELETE && last->data != NULL;
  g_autofree char *timestamp = tether_time_format_ms (last->timestamp);

  if (has_data && !is_json_object (self, last->data, NULL))
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "change %s in the log is damaged: its data is not a JSON object", last->id);
      return FALSE;
    }
  if (has_data && group->integer_id && group->data == NULL)
    group->data = with_integer_id (last->data, group->record_id);
  g_string_append (out, "{\"id\":");
  _tether_json_append_string (out, group->push_id);
  g_string_append (out, ",\"collection\":");
  _tether_json_append_string (out, group->collection);
  g_string_append (out, ",\"recordId\":");
  if (group->integer_id)
    g_string_append (out, group->record_id);   /* an integer's decimal text */
  else
    _tether_json_append_string (out, group->record_id);
  g_string_append_printf (out, ",\"type\":\"%s\",\"data\":", tether_change_type_to_string (group->type));
  g_string_append (out, !has_data ? "null" : group->data != NULL ? group->data : last->data);
  g_string_append (out, ",\"timestamp\":");
  _tether_json_append_string (out, timestamp);
  g_string_append_printf (out, ",\"baseRev\":%" G_GINT64_FORMAT ",\"hlc\":", group->base_rev);
  _tether_json_append_string (out, last->hlc);
  g_string_append_c (out, '}');
  return TRUE;
}

/* The push request as JSON text, each change's data spliced in as stored
 * (the log holds compact JSON the engine wrote): no objects to build. */
GBytes *
_tether_sync_push_request_bytes (TetherSyncEngine *self,
                                 GPtrArray        *groups,
                                 GError          **error)
{
  GString *out = g_string_sized_new (256 + groups->len * 512);

  g_string_append (out, "{\"clientId\":");
  _tether_json_append_string (out, self->client_id);
  g_string_append_printf (out, ",\"schemaVersion\":%" G_GINT64_FORMAT ",\"changes\":[",
                          tether_schema_get_version (tether_database_get_schema (self->db)));
  for (guint i = 0; i < groups->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      if (!append_change (self, out, g_ptr_array_index (groups, i), error))
        {
          g_string_free (out, TRUE);
          return NULL;
        }
    }
  g_string_append (out, "]}");
  return g_string_free_to_bytes (out);
}

JsonObject *
_tether_sync_pull_request (const char *cursor,
                           guint       batch_size,
                           const char *skip_client,
                           gboolean    resync)
{
  JsonObject *request = json_object_new ();

  if (cursor != NULL)
    json_object_set_string_member (request, "cursor", cursor);
  else
    json_object_set_null_member (request, "cursor");
  json_object_set_int_member (request, "batchSize", batch_size);
  if (skip_client != NULL)
    json_object_set_string_member (request, "clientId", skip_client);
  if (resync)
    json_object_set_boolean_member (request, "resync", TRUE);
  return request;
}

/* ------------------------------------------------------------- members */

static const char *
member_string (JsonObject *object,
               const char *name,
               gboolean    required,
               const char *where,
               GError    **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autofree char *what = NULL;

  if ((node == NULL || JSON_NODE_HOLDS_NULL (node)) && !required)
    return NULL;
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);
  what = g_strdup_printf ("%s.%s must be a string", where, name);
  protocol_error (error, what);
  return NULL;
}

/* An integer member; @fallback when absent or null and not @required. */
static gboolean
member_int (JsonObject *object,
            const char *name,
            gboolean    required,
            gint64      fallback,
            gint64     *out,
            const char *where,
            GError    **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autofree char *what = NULL;

  *out = fallback;
  if ((node == NULL || JSON_NODE_HOLDS_NULL (node)) && !required)
    return TRUE;
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  what = g_strdup_printf ("%s.%s must be an integer", where, name);
  return protocol_error (error, what);
}

/* FALSE unless the member is the boolean true. */
static gboolean
member_true (JsonObject *object,
             const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN && json_node_get_boolean (node);
}

static JsonArray *
member_array (JsonObject *object,
              const char *name,
              GError    **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autofree char *what = NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;   /* an absent list is an empty one */
  if (JSON_NODE_HOLDS_ARRAY (node))
    return json_node_get_array (node);
  what = g_strdup_printf ("\"%s\" must be an array", name);
  protocol_error (error, what);
  return NULL;
}

static JsonObject *
element_object (JsonArray  *array,
                guint       index,
                const char *name,
                GError    **error)
{
  JsonNode *node = json_array_get_element (array, index);
  g_autofree char *what = NULL;

  if (JSON_NODE_HOLDS_OBJECT (node))
    return json_node_get_object (node);
  what = g_strdup_printf ("%s[%u] must be an object", name, index);
  protocol_error (error, what);
  return NULL;
}

/* A record member: an object, or NULL for null/absent. */
static gboolean
member_record (JsonObject  *object,
               const char  *name,
               JsonObject **out,
               const char  *where,
               GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);
  g_autofree char *what = NULL;

  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      *out = json_object_ref (json_node_get_object (node));
      return TRUE;
    }
  what = g_strdup_printf ("%s.%s must be an object or null", where, name);
  return protocol_error (error, what);
}

static gint64
member_time (JsonObject *object,
             const char *name)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *text = node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
                     json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
  g_autoptr(GDateTime) time = text != NULL ? g_date_time_new_from_iso8601 (text, NULL) : NULL;

  return time != NULL ? g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000 : 0;
}

/* --------------------------------------------------------------- push */

static void
push_accepted_free (TetherPushAccepted *accepted)
{
  g_free (accepted->id);
  g_free (accepted->hlc);
  g_free (accepted);
}

static void
push_conflict_free (TetherPushConflict *conflict)
{
  g_free (conflict->change_id);
  g_clear_pointer (&conflict->remote, json_object_unref);
  g_free (conflict->remote_hlc);
  g_free (conflict);
}

static void
push_error_free (TetherPushError *entry)
{
  g_free (entry->id);
  g_free (entry->error);
  g_free (entry->code);
  g_free (entry);
}

void
_tether_push_response_free (TetherPushResponse *response)
{
  g_ptr_array_unref (response->accepted);
  g_ptr_array_unref (response->conflicts);
  g_ptr_array_unref (response->errors);
  g_free (response);
}

static gboolean
parse_accepted (JsonObject         *entry,
                TetherPushResponse *response,
                GError            **error)
{
  const char *id = member_string (entry, "id", TRUE, "accepted[]", error);
  const char *hlc = NULL;
  gint64 rev;
  TetherPushAccepted *accepted;

  if (id == NULL || !member_int (entry, "rev", FALSE, -1, &rev, "accepted[]", error))
    return FALSE;
  if (member_true (entry, "hlcClamped"))
    hlc = member_string (entry, "hlc", FALSE, "accepted[]", NULL);
  accepted = g_new0 (TetherPushAccepted, 1);
  accepted->id = g_strdup (id);
  accepted->rev = rev;
  accepted->hlc = g_strdup (hlc);
  g_ptr_array_add (response->accepted, accepted);
  return TRUE;
}

static gboolean
parse_conflict (JsonObject         *entry,
                TetherPushResponse *response,
                GError            **error)
{
  const char *id = member_string (entry, "changeId", TRUE, "conflicts[]", error);
  g_autoptr(JsonObject) remote = NULL;
  gint64 rev;
  TetherPushConflict *conflict;

  if (id == NULL ||
      !member_record (entry, "remote", &remote, "conflicts[]", error) ||
      !member_int (entry, "remoteRev", FALSE, -1, &rev, "conflicts[]", error))
    return FALSE;
  conflict = g_new0 (TetherPushConflict, 1);
  conflict->change_id = g_strdup (id);
  if (!member_true (entry, "remoteDeleted"))
    conflict->remote = g_steal_pointer (&remote);
  conflict->remote_rev = rev;
  conflict->remote_hlc = g_strdup (member_string (entry, "remoteHlc", FALSE, "conflicts[]", NULL));
  conflict->remote_ms = member_time (entry, "remoteTimestamp");
  g_ptr_array_add (response->conflicts, conflict);
  return TRUE;
}

static gboolean
parse_error_entry (JsonObject         *entry,
                   TetherPushResponse *response,
                   GError            **error)
{
  const char *id = member_string (entry, "id", TRUE, "errors[]", error);
  const char *message = id != NULL ? member_string (entry, "error", FALSE, "errors[]", error) : NULL;
  TetherPushError *out;

  if (id == NULL || (message == NULL && error != NULL && *error != NULL))
    return FALSE;
  out = g_new0 (TetherPushError, 1);
  out->id = g_strdup (id);
  out->error = g_strdup (message != NULL ? message : "refused by the server");
  out->code = g_strdup (member_string (entry, "code", FALSE, "errors[]", NULL));
  g_ptr_array_add (response->errors, out);
  return TRUE;
}

typedef gboolean (*EntryParser) (JsonObject *, TetherPushResponse *, GError **);

static gboolean
parse_entries (JsonObject         *object,
               const char         *name,
               EntryParser         parse,
               TetherPushResponse *response,
               GError            **error)
{
  g_autoptr(GError) local_error = NULL;
  JsonArray *array = member_array (object, name, &local_error);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonObject *entry = element_object (array, i, name, error);

      if (entry == NULL || !parse (entry, response, error))
        return FALSE;
    }
  return TRUE;
}

TetherPushResponse *
_tether_sync_parse_push (JsonObject *object,
                         GError    **error)
{
  g_autoptr(TetherPushResponse) response = g_new0 (TetherPushResponse, 1);

  response->accepted = g_ptr_array_new_with_free_func ((GDestroyNotify) push_accepted_free);
  response->conflicts = g_ptr_array_new_with_free_func ((GDestroyNotify) push_conflict_free);
  response->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) push_error_free);
  if (!json_object_has_member (object, "accepted") && !json_object_has_member (object, "conflicts"))
    {
      protocol_error (error, "a push answer needs \"accepted\" or \"conflicts\"");
      return NULL;
    }
  if (!parse_entries (object, "accepted", parse_accepted, response, error) ||
      !parse_entries (object, "conflicts", parse_conflict, response, error) ||
      !parse_entries (object, "errors", parse_error_entry, response, error))
    return NULL;
  return g_steal_pointer (&response);
}

/* --------------------------------------------------------------- pull */

void
_tether_pull_change_free (TetherPullChange *change)
{
  g_free (change->collection);
  g_free (change->record_id);
  g_clear_pointer (&change->data, json_object_unref);
  g_free (change->hlc);
  g_free (change);
}

void
_tether_pull_response_free (TetherPullResponse *response)
{
  g_clear_pointer (&response->changes, g_ptr_array_unref);
  g_free (response->cursor);
  g_free (response);
}

static gboolean
parse_type (const char       *text,
            TetherChangeType *type)
{
  static const char * const names[] = { "create", "update", "delete" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (text, names[i]) == 0)
      {
        *type = (TetherChangeType) i;
        return TRUE;
      }
  return FALSE;
}

/* recordId may be a string or a number (ids round-trip as sent). */
static char *
record_id_of (JsonObject *object)
{
  JsonNode *node = json_object_get_member (object, "recordId");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  return NULL;
}

TetherPullChange *
_tether_sync_parse_change (JsonNode *node,
                           guint     index,
                           GError  **error)
{
  g_autofree char *where = g_strdup_printf ("changes[%u]", index);
  g_autoptr(TetherPullChange) change = g_new0 (TetherPullChange, 1);
  JsonObject *object = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  const char *collection;

  if (object == NULL)
    {
      g_autofree char *what = g_strdup_printf ("%s must be an object", where);
      protocol_error (error, what);
      return NULL;
    }
  collection = member_string (object, "collection", TRUE, where, error);
  if (collection == NULL)
    return NULL;
  change->collection = g_strdup (collection);
  change->record_id = record_id_of (object);
  if (change->record_id == NULL ||
      !parse_type (member_string (object, "type", FALSE, where, NULL), &change->type))
    {
      g_autofree char *what = g_strdup_printf ("%s needs a recordId and a type create, update or delete", where);
      protocol_error (error, what);
      return NULL;
    }
  if (!member_record (object, "data", &change->data, where, error) ||
      !member_int (object, "rev", FALSE, -1, &change->rev, where, error))
    return NULL;
  if (change->type != TETHER_CHANGE_DELETE && change->data == NULL)
    {
      g_autofree char *what = g_strdup_printf ("%s: a %s without data", where,
                                               tether_change_type_to_string (change->type));
      protocol_error (error, what);
      return NULL;
    }
  if (change->type == TETHER_CHANGE_DELETE)
    g_clear_pointer (&change->data, json_object_unref);
  change->hlc = g_strdup (member_string (object, "hlc", FALSE, where, NULL));
  change->timestamp_ms = member_time (object, "timestamp");
  return g_steal_pointer (&change);
}

/* A page's changes; also the payload of server_push. */
static GPtrArray *
parse_changes (JsonArray *array,
               GError   **error)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_pull_change_free);

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      TetherPullChange *change = _tether_sync_parse_change (json_array_get_element (array, i), i, error);

      if (change == NULL)
        return NULL;
      g_ptr_array_add (changes, change);
    }
  return g_steal_pointer (&changes);
}

TetherPullResponse *
_tether_sync_parse_pull (JsonObject *object,
                         GError    **error)
{
  g_autoptr(TetherPullResponse) response = g_new0 (TetherPullResponse, 1);
  g_autoptr(GError) local_error = NULL;
  JsonArray *array = member_array (object, "changes", &local_error);
  JsonNode *cursor = json_object_get_member (object, "cursor");

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (!json_object_has_member (object, "changes"))
    {
      protocol_error (error, "a pull answer needs \"changes\"");
      return NULL;
    }
  response->changes = parse_changes (array, error);
  if (response->changes == NULL)
    return NULL;
  if (cursor != NULL && JSON_NODE_HOLDS_VALUE (cursor) && json_node_get_value_type (cursor) == G_TYPE_STRING)
    response->cursor = g_strdup (json_node_get_string (cursor));
  else if (cursor != NULL && JSON_NODE_HOLDS_VALUE (cursor) && json_node_get_value_type (cursor) == G_TYPE_INT64)
    response->cursor = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (cursor));
  else if (cursor != NULL && !JSON_NODE_HOLDS_NULL (cursor))
    {
      protocol_error (error, "\"cursor\" must be a string or null");
      return NULL;
    }
  response->has_more = member_true (object, "hasMore");
  return g_steal_pointer (&response);
}

/* server_push payload: an array of pull change objects. */
GPtrArray *
_tether_sync_parse_push_payload (JsonArray *payload,
                                 GError   **error)
{
  return parse_changes (payload, error);
}
