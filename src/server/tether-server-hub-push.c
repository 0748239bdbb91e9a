/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-hub"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"
#include "tether-server-private.h"

/* server_push: the core's "feed-changed" only marks connections; they are
 * brought up to date from an idle callback, so a push through a connection
 * has been answered (and its revs noted as its own) before any server_push
 * is built for it. */

/* This connection's own writes are not echoed: those it pushed itself (by
 * rev) and, left out by the read, those of its client through any other
 * route (by the clientId stored with them). */
static gboolean
is_own_change (TetherServerHubConnection *connection,
               const TetherServerRecord  *row)
{
  return g_hash_table_contains (connection->own_revs, &row->rev);
}

static gboolean
forget_old_rev (gpointer key,
                gpointer value,
                gpointer user_data)
{
  return *(gint64 *) key <= *(gint64 *) user_data;
}

static void
advance (TetherServerHubConnection *connection,
         gint64                     rev)
{
  connection->last_rev = MAX (connection->last_rev, rev);
  g_hash_table_foreach_remove (connection->own_revs, forget_old_rev, &connection->last_rev);
}

/* Whether every rev after last_rev up to the feed's end is this connection's
 * own: then there is nothing to send, and no need to read the feed. */
static gboolean
only_own_revs (TetherServerHubConnection *connection)
{
  GHashTableIter iter;
  gint64 *rev;
  gint64 n = 0;

  g_hash_table_iter_init (&iter, connection->own_revs);
  while (g_hash_table_iter_next (&iter, (gpointer *) &rev, NULL))
    if (*rev <= connection->feed_rev)
      n++;
  return n == connection->feed_rev - connection->last_rev;
}

/* Bytes of server_push a connection may be sent before its client answers
 * a ping (libsoup pings every 30 s): a client that stops reading would
 * otherwise pile up frames in this process's memory. Past it, server_push
 * waits for the next pong, and then says what is new. */
#define UNCONFIRMED_BUDGET(max_body) ((max_body) * 4)

/* About the bytes a stored row takes in a payload. */
static gsize
row_size (const TetherServerRecord *row)
{
  return 160 + strlen (row->collection) + strlen (row->key) + strlen (row->change_id) +
         (row->data != NULL ? strlen (row->data) : 0) + (row->hlc != NULL ? strlen (row->hlc) : 0);
}

/* At most one pull page: TETHER_SERVER_MAX_BATCH changes and about
 * --max-body bytes. When more is waiting, only the newest change read is
 * sent: it does not continue the client's cursor, so the client pulls
 * (docs/protocol.md) rather than being sent the lot in one frame. */
static void
keep_one_page (TetherServerHubConnection *connection,
               GPtrArray                 *others,
               gboolean                   more)
{
  gsize bytes = 0;

  for (guint i = 0; i < others->len && !more; i++)
    more = (bytes += row_size (g_ptr_array_index (others, i))) > connection->hub->state->max_body;
  if (more && others->len > 1)
    g_ptr_array_remove_range (others, 0, others->len - 1);
}

/* The payload is written as text from the stored rows, like a pull page:
 * records go out exactly as they were stored. */
static void
bring_up_to_date (TetherServerHubConnection *connection)
{
  TetherServerState *state = connection->hub->state;
  TetherServerStore *store = tether_server_core_get_store (state->core);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  g_autoptr(GString) payload = g_string_new (NULL);
  gint64 start_us = g_get_monotonic_time ();
  gint64 feed_end = 0, purged_rev = 0, page_end;
  gboolean more;

  if (connection->feed_rev <= connection->last_rev || only_own_revs (connection))
    {
      advance (connection, connection->feed_rev);
      return;
    }
  if (connection->unconfirmed >= UNCONFIRMED_BUDGET (state->max_body))
    return;   /* on_pong() flushes again */
  if (!_tether_server_hub_still_valid (connection, &error))
    {
      if (!g_error_matches (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED))
        g_printerr ("tether-server: server_push for user %s: %s\n", connection->user.name, error->message);
      _tether_server_hub_close_if_unauthorized (connection, error);
      return;
    }
  changes = tether_server_store_pull (store, connection->user.id, connection->last_rev, NULL,
                                      connection->client_id, TETHER_SERVER_MAX_BATCH, &feed_end,
                                      &purged_rev, &error);
  if (changes == NULL)
    {
      g_printerr ("tether-server: server_push for user %s: %s\n", connection->user.name, error->message);
      return;
    }
  /* As a pull's cursor: a short page examined the feed up to its end. */
  page_end = feed_end;
  if (changes->len == TETHER_SERVER_MAX_BATCH)
    page_end = ((TetherServerRecord *) g_ptr_array_index (changes, changes->len - 1))->rev;
  more = page_end < feed_end;
  for (guint i = 0; i < changes->len; i++)
    if (!is_own_change (connection, g_ptr_array_index (changes, i)))
      g_ptr_array_add (others, g_ptr_array_index (changes, i));
  keep_one_page (connection, others, more);
  if (others->len == 0)
    {
      advance (connection, page_end);
      if (more)   /* a page of its own writes: on to the next */
        _tether_server_hub_schedule_flush (connection->hub);
      return;
    }
  /* After a gap the client pulls up to the feed's end. */
  advance (connection, more ? feed_end : page_end);
  connection->n_sent += others->len;
  _tether_server_append_changes (payload, others, others->len);
  connection->unconfirmed += payload->len;
  _tether_server_hub_send_text (connection, "server_push", NULL, payload->str);
  _tether_server_log ("WS-SERVER-PUSH", connection->path, connection->user.name, SOUP_STATUS_OK,
                      others->len, start_us);
}

static gboolean
flush (gpointer user_data)
{
  TetherServerHub *self = user_data;

  self->flush_id = 0;
  for (guint i = self->connections->len; i > 0; i--)
    {
      TetherServerHubConnection *connection = g_ptr_array_index (self->connections, i - 1);

      if (connection->closed)
        g_ptr_array_remove_index_fast (self->connections, i - 1);
      else if (connection->feed_rev > connection->last_rev)
        bring_up_to_date (connection);
    }
  return G_SOURCE_REMOVE;
}

void
_tether_server_hub_schedule_flush (TetherServerHub *self)
{
  /* At the priority of socket I/O: an idle one would wait for a moment
   * without requests, which a busy server never has. */
  if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush, self, NULL);
}

void
_tether_server_hub_feed_changed (TetherServerCore *core,
                                 gint64            user_id,
                                 gint64            rev,
                                 TetherServerHub  *self)
{
  gboolean any = FALSE;

  for (guint i = 0; i < self->connections->len; i++)
    {
      TetherServerHubConnection *connection = g_ptr_array_index (self->connections, i);

      if (connection->user.id == user_id && !connection->closed && rev > connection->feed_rev)
        {
          connection->feed_rev = rev;
          any = TRUE;
        }
    }
  if (any)
    _tether_server_hub_schedule_flush (self);
}

/* Messages from the client --------------------------------------------------------- */
/* Remember what this connection wrote, so server_push does not echo it. */
void
_tether_server_hub_note_own_push (TetherServerHubConnection *connection,
                                  const char                *result)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonArray *accepted;

  if (!json_parser_load_from_data (parser, result, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  accepted = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "accepted");
  for (guint i = 0; accepted != NULL && i < json_array_get_length (accepted); i++)
    {
      gint64 rev = json_object_get_int_member_with_default (json_array_get_object_element (accepted, i), "rev", 0);

      if (rev > connection->last_rev)
        g_hash_table_add (connection->own_revs, g_memdup2 (&rev, sizeof rev));
    }
}

/* The clientId a push or pull of this connection carried (docs/protocol.md):
 * writes stored with it are its client's own, however they came. */
void
_tether_server_hub_note_client_id (TetherServerHubConnection *connection,
                                   const char                *client_id)
{
  if (client_id == NULL || client_id[0] == '\0' || g_strcmp0 (client_id, connection->client_id) == 0)
    return;
  g_free (connection->client_id);
  connection->client_id = g_strdup (client_id);
}
