/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-load"
#include "config.h"

#include "tether-test-load.h"

/* One load client: what it writes and reads in turn until the deadline,
 * and what it makes of the answers, whichever way they came
 * (tether-test-load-wire.c sends and receives). */

#define PULL_BATCH 100

const char * const load_kind_names[N_KINDS] = { "HTTP push", "HTTP pull", "WS push", "WS pull" };

static void client_send (LoadClient *c);

static void
attach_timeout (Load        *load,
                guint        ms,
                GSourceFunc  func,
                gpointer     data)
{
  g_autoptr(GSource) source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, load->f->context);
}

/* ---------------------------------------------------------------- clients */

LoadClient *
load_client_new (Load     *load,
                 guint     user,
                 guint     index,
                 gboolean  ws)
{
  LoadClient *c = g_new0 (LoadClient, 1);

  c->load = load;
  c->user = user;
  c->ws = ws;
  c->name = g_strdup_printf ("u%u-%c%u", user, ws ? 'w' : 'h', index);
  c->rand = g_rand_new_with_seed (user * 1000 + index * 2 + ws);
  c->revs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  c->records = g_ptr_array_new ();
  c->subscribed = ws ? -1 : 0;
  c->seen = g_byte_array_new ();
  /* As a real client: its own connection, used again for every request. */
  if (!ws)
    c->session = soup_session_new_with_options ("max-conns", 1, "max-conns-per-host", 1, NULL);
  return c;
}

void
load_client_free (LoadClient *c)
{
  if (c->conn != NULL)
    g_signal_handlers_disconnect_by_data (c->conn, c);
  g_clear_object (&c->conn);
  g_clear_object (&c->msg);
  g_clear_object (&c->session);
  g_clear_pointer (&c->batch, g_hash_table_unref);
  g_hash_table_unref (c->revs);
  g_ptr_array_unref (c->records);
  g_byte_array_unref (c->seen);
  g_rand_free (c->rand);
  g_free (c->cursor);
  g_free (c->body);
  g_free (c->request_id);
  g_free (c->name);
  g_free (c);
}

void
load_client_finish (LoadClient *c)
{
  g_assert_false (c->done);
  c->done = TRUE;
  c->load->n_running--;
}

static void
mark_seen (LoadClient *c,
           gint64      rev)
{
  if (rev < 0 || rev > G_MAXINT32)
    return;
  if ((guint) rev >= c->seen->len)
    g_byte_array_set_size (c->seen, MAX ((guint) rev + 1, c->seen->len * 2));
  c->seen->data[rev] = 1;
}

gboolean
load_client_was_seen (LoadClient *c,
                      gint64      rev)
{
  return rev >= 0 && rev < c->seen->len && c->seen->data[rev];
}


static void
add_change (LoadClient *c,
            GString    *body,
            const char *record_id,
            gint64      base_rev)
{
  guint index = g_hash_table_size (c->batch);
  g_autofree char *id = g_strdup_printf ("%s-b%u-%u", c->name, c->n_batches, index);
  g_autofree char *key = g_strdup_printf ("\"%s\"", record_id);
  g_autofree char *data = g_strdup_printf ("{\"by\":\"%s\",\"batch\":%u,\"text\":\"load test note\"}",
                                           c->name, c->n_batches);
  g_autofree char *change = change_new (id, "notes", key, base_rev ? "update" : "create", data, base_rev, NULL);

  g_string_append_printf (body, "%s%s", index ? "," : "", change);
  g_hash_table_insert (c->batch, g_steal_pointer (&id), g_strdup (record_id));
}

/* A small batch: one new record and updates of two of its own records, on
 * top of the revs it was given (only it writes them: nothing can conflict). */
static char *
batch_new (LoadClient *c)
{
  g_autoptr(GString) body = g_string_new (NULL);
  g_autofree char *created = g_strdup_printf ("%s-r%u", c->name, c->n_batches);
  guint n = c->records->len;

  g_clear_pointer (&c->batch, g_hash_table_unref);
  c->batch = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_string_append_printf (body, "{\"clientId\":\"%s\",\"changes\":[", c->name);
  add_change (c, body, created, 0);
  if (n >= 2)
    {
      guint first = g_rand_int_range (c->rand, 0, n);
      guint second = g_rand_int_range (c->rand, 0, n - 1);
      const char *ids[2];

      second += second >= first;
      ids[0] = g_ptr_array_index (c->records, first);
      ids[1] = g_ptr_array_index (c->records, second);
      for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
        add_change (c, body, ids[i], *(gint64 *) g_hash_table_lookup (c->revs, ids[i]));
    }
  c->n_batches++;
  g_string_append (body, "]}");
  return g_string_free (g_steal_pointer (&body), FALSE);
}

static char *
pull_body (LoadClient *c)
{
  g_autofree char *cursor = c->cursor ? g_strdup_printf ("\"%s\"", c->cursor) : g_strdup ("null");

  /* Catching up before subscribing takes big pages. */
  return g_strdup_printf ("{\"cursor\":%s,\"batchSize\":%u}", cursor, c->subscribed < 0 ? 1000 : PULL_BATCH);
}

static guint
length_of (JsonObject *object,
           const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_array_get_length (json_node_get_array (node)) : 0;
}

static void
take_accepted (LoadClient *c,
               JsonObject *entry)
{
  const char *record_id = g_hash_table_lookup (c->batch, json_object_get_string_member_with_default (entry, "id", ""));
  gint64 rev = json_object_get_int_member_with_default (entry, "rev", 0);
  gint64 *known;

  if (record_id == NULL || rev <= 0)
    {
      load_fail (c->load, "%s: accepted entry for no change it sent, or without a rev", c->name);
      return;
    }
  known = g_hash_table_lookup (c->revs, record_id);
  if (known == NULL)
    {
      char *key = g_strdup (record_id);

      known = g_new0 (gint64, 1);
      g_hash_table_insert (c->revs, key, known);
      g_ptr_array_add (c->records, key);
    }
  *known = rev;
  if (c->ws)
    mark_seen (c, rev);
}

static void
take_push_result (LoadClient *c,
                  JsonObject *result)
{
  guint n_accepted = length_of (result, "accepted");
  guint n_conflicts = length_of (result, "conflicts");
  guint n_errors = length_of (result, "errors");
  JsonArray *accepted;

  if (n_conflicts + n_errors > 0 || n_accepted != g_hash_table_size (c->batch))
    load_fail (c->load, "%s: batch %u of %u changes got %u accepted, %u conflicts, %u errors",
               c->name, c->n_batches, g_hash_table_size (c->batch), n_accepted, n_conflicts, n_errors);
  if (n_accepted == 0)
    return;
  accepted = json_object_get_array_member (result, "accepted");
  for (guint i = 0; i < n_accepted; i++)
    take_accepted (c, json_array_get_object_element (accepted, i));
  c->load->n_changes += n_accepted;
}

/* Pulled changes must be the user's own: record ids start with "u<user>-". */
static void
check_changes (LoadClient *c,
               JsonArray  *changes)
{
  g_autofree char *prefix = g_strdup_printf ("u%u-", c->user);

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      const char *record_id = json_object_get_string_member_with_default (change, "recordId", "");

      if (!g_str_has_prefix (record_id, prefix))
        load_fail (c->load, "%s was sent record %s of another user", c->name, record_id);
    }
}

static void
take_pull_result (LoadClient *c,
                  JsonObject *result)
{
  const char *cursor = json_object_get_string_member_with_default (result, "cursor", NULL);
  JsonNode *changes = json_object_get_member (result, "changes");

  if (cursor == NULL || changes == NULL || !JSON_NODE_HOLDS_ARRAY (changes))
    {
      load_fail (c->load, "%s: a pull answer without changes or cursor", c->name);
      return;
    }
  check_changes (c, json_node_get_array (changes));
  c->load->n_pulled += json_array_get_length (json_node_get_array (changes));
  g_free (c->cursor);
  c->cursor = g_strdup (cursor);
  if (c->subscribed < 0 && !json_object_get_boolean_member_with_default (result, "hasMore", TRUE))
    c->subscribed = g_ascii_strtoll (cursor, NULL, 10);
}

static gboolean
resume (gpointer data)
{
  LoadClient *c = data;

  if (g_get_monotonic_time () >= c->load->deadline_us)
    load_client_finish (c);
  else if (c->ws && c->conn == NULL)
    load_client_step (c);
  else
    client_send (c);
  return G_SOURCE_REMOVE;
}

/* A 429: the same request again after Retry-After (at least one second). */
void
load_client_retry (LoadClient *c,
                   const char *retry_after)
{
  guint64 seconds = 1;

  c->load->n_429++;
  c->n_429++;
  if (retry_after == NULL || !g_ascii_string_to_unsigned (retry_after, 10, 1, 60, &seconds, NULL))
    load_fail (c->load, "%s: 429 with Retry-After '%s', not 1 to 60 seconds", c->name, retry_after);
  attach_timeout (c->load, seconds * 1000, resume, c);
}

/* An answer over HTTP or WebSocket: @result is its JSON when it is a 200. */
void
load_client_answer (LoadClient *c,
                    Kind        kind,
                    guint       status,
                    JsonObject *result,
                    const char *retry_after,
                    const char *text)
{
  gint64 took = g_get_monotonic_time () - c->sent_us;

  c->load->n_requests[kind]++;
  if (status == STATUS_RATE_LIMITED)
    {
      load_client_retry (c, retry_after);
      return;
    }
  if (status != SOUP_STATUS_OK || result == NULL)
    {
      load_fail (c->load, "%s: %s answered %u: %.200s", c->name, load_kind_names[kind], status, text);
      load_client_finish (c);
      return;
    }
  g_array_append_val (c->load->latency[kind], took);
  if (c->pushing)
    take_push_result (c, result);
  else
    take_pull_result (c, result);
  load_client_step (c);
}

void
load_client_server_push (LoadClient *c,
                         JsonObject *message)
{
  JsonNode *payload = json_object_get_member (message, "payload");
  JsonArray *changes;

  if (payload == NULL || !JSON_NODE_HOLDS_ARRAY (payload))
    {
      load_fail (c->load, "%s: a server_push without an array payload", c->name);
      return;
    }
  changes = json_node_get_array (payload);
  check_changes (c, changes);
  for (guint i = 0; i < json_array_get_length (changes); i++)
    mark_seen (c, json_object_get_int_member_with_default (json_array_get_object_element (changes, i), "rev", -1));
  c->load->n_server_push++;
  c->load->n_server_push_live += g_get_monotonic_time () < c->load->deadline_us;
  c->load->n_server_pushed += json_array_get_length (changes);
}

/* ------------------------------------------------------------- the loop */

static void
client_send (LoadClient *c)
{
  c->sent_us = g_get_monotonic_time ();
  if (c->ws)
    load_ws_send (c);
  else
    load_http_send (c);
}

/* Push and pull in turn until the deadline; a WebSocket client first pulls
 * to the feed's end, from where every write of others must reach it, and
 * waits there until every WebSocket client has: nobody writes before, so
 * none of them chases a feed that grows faster than a slow build reads. */
void
load_client_step (LoadClient *c)
{
  if (!c->load->started && c->subscribed >= 0)
    {
      c->load->n_subscribed++;
      return;
    }
  if (g_get_monotonic_time () >= c->load->deadline_us)
    {
      load_client_finish (c);
      return;
    }
  if (c->ws && c->conn == NULL)
    {
      load_ws_connect (c);
      return;
    }
  c->pushing = c->subscribed >= 0 && !c->pushing;
  g_free (c->body);
  c->body = c->pushing ? batch_new (c) : pull_body (c);
  client_send (c);
}
