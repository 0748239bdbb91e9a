/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-pull"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-server-core-private.h"

/* Pull pages and server_push payloads. They are written as JSON text with
 * each record's stored data copied in as it is (it was stored compact and
 * valid), so a page costs no JSON parsing at all. */

#define CHANGES_SINCE_MAX_PAGES 100000

typedef struct {
  gint64   cursor;        /* 0 from the beginning */
  char   **collections;   /* NULL for all */
  char    *skip_client;   /* clientId: leave out its own writes; NULL for none */
  guint    batch_size;
  gboolean resync;        /* a pull from null after a 410, going on */
} PullRequest;

static void
pull_request_clear (PullRequest *request)
{
  g_clear_pointer (&request->collections, g_strfreev);
  g_clear_pointer (&request->skip_client, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PullRequest, pull_request_clear)

JsonNode *
_tether_server_parse_object (const char  *body,
                             gsize        length,
                             GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (!_tether_server_check_body (body, length, error) ||
      !_tether_server_check_strict (body, length, error))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, body, length, &local_error))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body is not valid JSON: %s", local_error->message), NULL;
  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "The request body must be a JSON object"), NULL;
  return g_steal_pointer (&root);
}

void
_tether_server_append_string (GString    *out,
                              const char *text)
{
  _tether_json_append_string (out, text);
}

/* printf costs more than the rest of a pulled row's framing. */
void
_tether_server_append_int (GString *out,
                           gint64   value)
{
  char digits[24];
  guint n = 0;
  guint64 magnitude = value < 0 ? 0 - (guint64) value : (guint64) value;

  do
    digits[n++] = '0' + magnitude % 10;
  while ((magnitude /= 10) > 0);
  if (value < 0)
    g_string_append_c (out, '-');
  while (n > 0)
    g_string_append_c (out, digits[--n]);
}

void
_tether_server_append_time (GString *out,
                            gint64   ms)
{
  g_autofree char *text = tether_time_format_ms (ms);

  g_string_append_c (out, '"');
  g_string_append (out, text);
  g_string_append_c (out, '"');
}

/* Rows of one push share their server time: format it once. */
static void
append_row_time (GString *out,
                 gint64   ms,
                 gint64  *last_ms,
                 GString *last_time)
{
  if (last_time->len == 0 || *last_ms != ms)
    {
      g_string_truncate (last_time, 0);
      _tether_server_append_time (last_time, ms);
      *last_ms = ms;
    }
  g_string_append_len (out, last_time->str, last_time->len);
}

void
_tether_server_append_changes (GString   *out,
                               GPtrArray *rows,
                               guint      n)
{
  g_autoptr(GString) last_time = g_string_new (NULL);
  gint64 last_ms = 0;

  g_string_append_c (out, '[');
  for (guint i = 0; i < n; i++)
    {
      const TetherServerRecord *row = g_ptr_array_index (rows, i);

      g_string_append (out, i == 0 ? "{\"id\":" : ",{\"id\":");
      _tether_server_append_string (out, row->change_id);
      g_string_append (out, ",\"collection\":");
      _tether_server_append_string (out, row->collection);
      g_string_append (out, ",\"recordId\":");
      g_string_append (out, row->key);
      g_string_append (out, ",\"type\":\"");
      g_string_append (out, row->data == NULL ? "delete" : tether_change_type_to_string (row->type));
      g_string_append (out, "\",\"data\":");
      g_string_append (out, row->data != NULL ? row->data : "null");
      g_string_append (out, ",\"timestamp\":");
      append_row_time (out, row->server_ms, &last_ms, last_time);
      g_string_append (out, ",\"rev\":");
      _tether_server_append_int (out, row->rev);
      g_string_append (out, ",\"hlc\":");
      if (tether_server_hlc_public (row->hlc) != NULL)
        _tether_server_append_string (out, row->hlc);
      else
        g_string_append (out, "null");
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, ']');
}

static char *
pull_page (TetherServerCore        *self,
           const TetherServerUser  *user,
           const PullRequest       *request,
           guint                   *n_changes,
           GError                 **error)
{
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) store_error = NULL;
  GString *out;
  gint64 last_rev = 0, purged_rev = 0;
  gboolean more;
  guint n;

  rows = tether_server_store_pull (tether_server_core_get_store (self), user->id, request->cursor,
                                   (const char * const *) request->collections,
                                   request->skip_client, request->batch_size + 1, &last_rev, &purged_rev, &store_error);
  if (rows == NULL)
    return _tether_server_store_failed (error, g_steal_pointer (&store_error)), NULL;
  /* Past the feed's end: another user's cursor, or one from before this
   * storage was restored from a backup. Answering with the end would hand
   * the client a smaller cursor, and it would skip the new changes up to
   * its old one as already seen. */
  if (request->cursor > last_rev)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_CURSOR,
                                "The cursor %" G_GINT64_FORMAT " is past the end of this user's changes (%"
                                G_GINT64_FORMAT "): it is not one this server gave out; pull again from null",
                                request->cursor, last_rev), NULL;
  /* Cursor 0 has seen nothing, so no purged tombstone can be missing from
   * it. Nor from a resync: it started from null after a 410 and forgets
   * what it does not see, so its pages go on past purged deletions (else
   * a resync longer than one page could never end). */
  if (request->cursor > 0 && request->cursor < purged_rev && !request->resync)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_CURSOR_EXPIRED,
                                "The cursor %" G_GINT64_FORMAT " is older than purged deletions; "
                                "pull again from null", request->cursor), NULL;
  more = rows->len > request->batch_size;
  n = more ? request->batch_size : rows->len;
  out = g_string_sized_new (256 + n * 256);
  g_string_append (out, "{\"changes\":");
  _tether_server_append_changes (out, rows, n);
  /* Without more rows everything up to last_rev was examined: the cursor
   * moves there even when the filter matched nothing. */
  g_string_append_printf (out, ",\"cursor\":\"%" G_GINT64_FORMAT "\",\"hasMore\":%s}",
                          more ? ((TetherServerRecord *) g_ptr_array_index (rows, n - 1))->rev : last_rev,
                          more ? "true" : "false");
  if (n_changes != NULL)
    *n_changes = n;
  return g_string_free (out, FALSE);
}

static gboolean
parse_cursor (const char  *text,
              gint64      *cursor,
              GError     **error)
{
  guint64 value;
  gboolean digits = text[0] != '\0';

  for (const char *p = text; *p != '\0'; p++)
    digits &= g_ascii_isdigit (*p);
  if (!digits || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &value, NULL))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_CURSOR,
                                "The cursor is not one this server gave out; pull again from null");
  *cursor = (gint64) value;
  return TRUE;
}

static gboolean
set_batch_size (PullRequest  *out,
                gint64        size,
                GError      **error)
{
  if (size < 1)
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"batchSize\" must be at least 1");
  out->batch_size = MIN (size, TETHER_SERVER_MAX_BATCH);
  return TRUE;
}

static gboolean
holds_type (JsonNode *node,
            GType     type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

static gboolean
read_collections (JsonNode     *node,
                  PullRequest  *out,
                  GError      **error)
{
  JsonArray *array;
  guint n;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"collections\" must be an array of strings or null");
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  out->collections = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!holds_type (element, G_TYPE_STRING))
        return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                    "\"collections\" must be an array of strings or null");
      out->collections[i] = g_strdup (json_node_get_string (element));
    }
  return TRUE;
}

static gboolean
parse_body (const char   *body,
            gsize         length,
            PullRequest  *out,
            GError      **error)
{
  g_autoptr(JsonNode) root = _tether_server_parse_object (body, length, error);
  JsonNode *cursor, *batch, *client, *resync;

  if (root == NULL)
    return FALSE;
  resync = json_object_get_member (json_node_get_object (root), "resync");
  if (resync != NULL && !JSON_NODE_HOLDS_NULL (resync) && !holds_type (resync, G_TYPE_BOOLEAN))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST, "\"resync\" must be true, false or null");
  out->resync = resync != NULL && !JSON_NODE_HOLDS_NULL (resync) && json_node_get_boolean (resync);
  cursor = json_object_get_member (json_node_get_object (root), "cursor");
  batch = json_object_get_member (json_node_get_object (root), "batchSize");
  client = json_object_get_member (json_node_get_object (root), "clientId");
  if (client != NULL && !JSON_NODE_HOLDS_NULL (client) &&
      (!holds_type (client, G_TYPE_STRING) || json_node_get_string (client)[0] == '\0'))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"clientId\" must be a non-empty string or null");
  if (client != NULL && !JSON_NODE_HOLDS_NULL (client))
    out->skip_client = g_strdup (json_node_get_string (client));
  if (cursor != NULL && !JSON_NODE_HOLDS_NULL (cursor) &&
      (!holds_type (cursor, G_TYPE_STRING) || !parse_cursor (json_node_get_string (cursor), &out->cursor, NULL)))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_CURSOR,
                                "The cursor is not one this server gave out; pull again from null");
  if (batch != NULL && !JSON_NODE_HOLDS_NULL (batch) &&
      (!holds_type (batch, G_TYPE_INT64) || !set_batch_size (out, json_node_get_int (batch), NULL)))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "\"batchSize\" must be an integer of at least 1");
  return read_collections (json_object_get_member (json_node_get_object (root), "collections"),
                           out, error);
}

/* GET /pull?cursor=&collections=a,b&batchSize=: an empty parameter means
 * the same as leaving it out. */
static gboolean
parse_query (GHashTable   *query,
             PullRequest  *out,
             GError      **error)
{
  const char *cursor = query != NULL ? g_hash_table_lookup (query, "cursor") : NULL;
  const char *collections = query != NULL ? g_hash_table_lookup (query, "collections") : NULL;
  const char *batch = query != NULL ? g_hash_table_lookup (query, "batchSize") : NULL;
  const char *client = query != NULL ? g_hash_table_lookup (query, "clientId") : NULL;
  const char *resync = query != NULL ? g_hash_table_lookup (query, "resync") : NULL;
  gint64 size;

  out->resync = g_strcmp0 (resync, "true") == 0 || g_strcmp0 (resync, "1") == 0;

  if (cursor != NULL && cursor[0] != '\0' && !parse_cursor (cursor, &out->cursor, error))
    return FALSE;
  if (batch != NULL && batch[0] != '\0' &&
      (!g_ascii_string_to_signed (batch, 10, G_MININT64, G_MAXINT64, &size, NULL) ||
       !set_batch_size (out, size, NULL)))
    return _tether_server_fail (error, TETHER_SERVER_ERROR_BAD_REQUEST,
                                "batchSize must be an integer of at least 1");
  if (collections != NULL && collections[0] != '\0')
    out->collections = g_strsplit (collections, ",", -1);
  if (client != NULL && client[0] != '\0')
    out->skip_client = g_strdup (client);
  return TRUE;
}

char *
tether_server_core_pull_text (TetherServerCore        *self,
                              const TetherServerUser  *user,
                              const char              *body,
                              gsize                    length,
                              guint                   *n_changes,
                              GError                 **error)
{
  g_auto(PullRequest) request = { 0, NULL, NULL, TETHER_SERVER_DEFAULT_BATCH };

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  if (n_changes != NULL)
    *n_changes = 0;
  if (!parse_body (body, length, &request, error))
    return NULL;
  return pull_page (self, user, &request, n_changes, error);
}

char *
tether_server_core_pull_query_text (TetherServerCore        *self,
                                    const TetherServerUser  *user,
                                    GHashTable              *query,
                                    guint                   *n_changes,
                                    GError                 **error)
{
  g_auto(PullRequest) request = { 0, NULL, NULL, TETHER_SERVER_DEFAULT_BATCH };

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  if (n_changes != NULL)
    *n_changes = 0;
  if (!parse_query (query, &request, error))
    return NULL;
  return pull_page (self, user, &request, n_changes, error);
}

JsonNode *
_tether_server_text_to_node (char    *text,
                             GError **error)
{
  g_autofree char *owned = text;
  JsonNode *node;

  if (owned == NULL)
    return NULL;
  node = _tether_server_parse_slice (owned, strlen (owned));
  if (node == NULL)
    _tether_server_fail (error, TETHER_SERVER_ERROR_INTERNAL,
                         "The server wrote an answer it cannot read back; is the database damaged?");
  return node;
}

JsonNode *
tether_server_core_pull (TetherServerCore        *self,
                         const TetherServerUser  *user,
                         const char              *body,
                         gsize                    length,
                         guint                   *n_changes,
                         GError                 **error)
{
  return _tether_server_text_to_node (tether_server_core_pull_text (self, user, body, length,
                                                                    n_changes, error), error);
}

JsonNode *
tether_server_core_pull_query (TetherServerCore        *self,
                               const TetherServerUser  *user,
                               GHashTable              *query,
                               guint                   *n_changes,
                               GError                 **error)
{
  return _tether_server_text_to_node (tether_server_core_pull_query_text (self, user, query,
                                                                          n_changes, error), error);
}

GPtrArray *
_tether_server_core_feed_since (TetherServerCore  *self,
                                gint64             user_id,
                                gint64             after_rev,
                                gint64            *last_rev,
                                GError           **error)
{
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_server_record_free);
  gint64 feed_rev = 0, purged_rev = 0;

  /* Each page starts past the last one, so the loop ends at the feed's end. */
  for (guint page = 0; page < CHANGES_SINCE_MAX_PAGES; page++)
    {
      g_autoptr(GError) store_error = NULL;
      GPtrArray *rows;
      guint n;

      rows = tether_server_store_pull (tether_server_core_get_store (self), user_id, after_rev,
                                       NULL, NULL, TETHER_SERVER_MAX_BATCH, &feed_rev, &purged_rev,
                                       &store_error);
      if (rows == NULL)
        return _tether_server_store_failed (error, g_steal_pointer (&store_error)), NULL;
      if ((n = rows->len) > 0)
        after_rev = ((TetherServerRecord *) g_ptr_array_index (rows, n - 1))->rev;
      g_ptr_array_extend_and_steal (all, rows);
      if (n < TETHER_SERVER_MAX_BATCH)
        break;
    }
  if (last_rev != NULL)
    *last_rev = after_rev;
  return g_steal_pointer (&all);
}

JsonNode *
tether_server_core_changes_since (TetherServerCore  *self,
                                  gint64             user_id,
                                  gint64             after_rev,
                                  gint64            *last_rev,
                                  GError           **error)
{
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GString) out = g_string_new (NULL);

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);

  all = _tether_server_core_feed_since (self, user_id, after_rev, last_rev, error);
  if (all == NULL)
    return NULL;
  _tether_server_append_changes (out, all, all->len);
  return _tether_server_text_to_node (g_string_free (g_steal_pointer (&out), FALSE), error);
}
