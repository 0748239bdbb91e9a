/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-push"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"

/* The `conflicts` entries of a push answer. Each carries the whole remote
 * record, so a hostile batch (a thousand stale updates of one 1 MiB record)
 * would make a gigabyte answer on the server's only thread: the remote
 * records of one answer are bounded, and a record met by several changes
 * is parsed once for their fieldConflicts. */

/* What one remote record costs an answer, found once per record. */
typedef struct {
  gsize     size;
  gboolean  parsed;
  JsonNode *node;     /* NULL when not parsed yet, or not an object */
} Remote;

static void
remote_free (gpointer data)
{
  Remote *remote = data;

  g_clear_pointer (&remote->node, json_node_unref);
  g_free (remote);
}

void
_tether_server_conflicts_init (TetherServerConflicts *self)
{
  self->out = g_string_new (NULL);
  self->remote_bytes = 0;
  self->remotes = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, remote_free);
}

void
_tether_server_conflicts_clear (TetherServerConflicts *self)
{
  if (self->out != NULL)
    g_string_free (g_steal_pointer (&self->out), TRUE);
  g_clear_pointer (&self->remotes, g_hash_table_unref);
}

static gboolean
same_value (JsonNode *a,
            JsonNode *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return json_node_equal (a, b);
}

static JsonNode *
member (JsonObject *object,
        const char *name)
{
  return object != NULL ? json_object_get_member (object, name) : NULL;
}

/* With a base: the fields both sides changed; without: those that differ. */
static gboolean
field_conflicts (JsonObject *local,
                 JsonObject *remote,
                 JsonObject *base,
                 const char *name)
{
  if (base == NULL)
    return !same_value (member (local, name), member (remote, name));
  return !same_value (member (local, name), member (base, name)) &&
         !same_value (member (remote, name), member (base, name));
}

static JsonObject *
node_object (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonObject *
slice_object (JsonNode  **node,
              const char *text,
              gsize       length)
{
  if (text == NULL)
    return NULL;
  *node = _tether_server_parse_slice (text, length);
  return node_object (*node);
}

static Remote *
remote_of (TetherServerConflicts    *self,
           const TetherServerRecord *current)
{
  Remote *remote = g_hash_table_lookup (self->remotes, current);

  if (remote == NULL)
    {
      remote = g_new0 (Remote, 1);
      remote->size = current->data != NULL ? strlen (current->data) : 0;
      g_hash_table_insert (self->remotes, (gpointer) current, remote);
    }
  return remote;
}

/* The remote record's tree, parsed once per answer; the tree is only read. */
static JsonObject *
remote_object (TetherServerConflicts    *self,
               const TetherServerRecord *current)
{
  Remote *remote;

  if (current == NULL || current->data == NULL)
    return NULL;
  remote = remote_of (self, current);
  if (!remote->parsed)
    {
      remote->node = _tether_server_parse_slice (current->data, remote->size);
      remote->parsed = TRUE;
    }
  return node_object (remote->node);
}

static void
append_field_conflicts (TetherServerConflicts    *self,
                        const TetherServerChange *change,
                        const TetherServerRecord *current)
{
  g_autoptr(JsonNode) local_node = NULL, base_node = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (_tether_server_str_hash, g_str_equal);
  JsonObject *local = slice_object (&local_node, change->data_is_object ? change->data : NULL,
                                    change->data_length);
  JsonObject *remote = remote_object (self, current);
  JsonObject *base = slice_object (&base_node, change->base_data, change->base_data_length);
  JsonObject *sides[] = { local, remote, base };
  guint n = 0;

  g_string_append (self->out, ",\"fieldConflicts\":[");
  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *node;

      if (sides[i] == NULL)
        continue;
      json_object_iter_init_ordered (&iter, sides[i]);
      while (json_object_iter_next_ordered (&iter, &name, &node))
        if (g_hash_table_add (seen, (gpointer) name) && field_conflicts (local, remote, base, name))
          {
            g_string_append (self->out, n++ == 0 ? "" : ",");
            _tether_server_append_string (self->out, name);
          }
    }
  g_string_append_c (self->out, ']');
}

static void
append_or_null (GString    *out,
                const char *name,
                const char *json,
                gsize       length)
{
  g_string_append (out, name);
  if (json != NULL)
    g_string_append_len (out, json, length);
  else
    g_string_append (out, "null");
}

static void
append_entry (TetherServerConflicts    *self,
              const TetherServerChange *change,
              const TetherServerRecord *current)
{
  GString *out = self->out;
  const char *remote = current != NULL ? current->data : NULL;

  g_string_append (out, out->len == 0 ? "{\"changeId\":" : ",{\"changeId\":");
  _tether_server_append_string (out, change->id);
  g_string_append (out, ",\"collection\":");
  _tether_server_append_string (out, change->collection);
  append_or_null (out, ",\"recordId\":", change->key, strlen (change->key));
  append_or_null (out, ",\"local\":", change->data_is_object ? change->data : NULL, change->data_length);
  append_or_null (out, ",\"remote\":", remote, remote != NULL ? strlen (remote) : 0);
  g_string_append (out, ",\"localTimestamp\":");
  if (change->timestamp != NULL)
    _tether_server_append_string (out, change->timestamp);
  else
    g_string_append (out, "null");
  g_string_append (out, ",\"remoteTimestamp\":");
  if (current != NULL)
    _tether_server_append_time (out, current->server_ms);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\"remoteRev\":%" G_GINT64_FORMAT ",\"remoteHlc\":",
                          current != NULL ? current->rev : 0);
  if (current != NULL && tether_server_hlc_public (current->hlc) != NULL)
    _tether_server_append_string (out, current->hlc);
  else
    g_string_append (out, "null");
  g_string_append_printf (out, ",\"remoteDeleted\":%s",
                          current != NULL && current->data == NULL ? "true" : "false");
  append_field_conflicts (self, change, current);
  g_string_append_c (out, '}');
}

/* FALSE when the answer has no room left for this conflict's remote
 * record: the change is then left out of the answer (it was not applied,
 * and the client sends it again). The first conflict always fits. */
gboolean
_tether_server_conflicts_add (TetherServerConflicts    *self,
                              const TetherServerChange *change,
                              const TetherServerRecord *current)
{
  gsize size = current != NULL ? remote_of (self, current)->size : 0;

  if (self->out->len > 0 && self->remote_bytes + size > TETHER_SERVER_MAX_CONFLICT_BYTES)
    return FALSE;
  self->remote_bytes += size;
  append_entry (self, change, current);
  return TRUE;
}

/* The records the entries point to are about to go. */
void
_tether_server_conflicts_forget_records (TetherServerConflicts *self)
{
  g_hash_table_remove_all (self->remotes);
}
