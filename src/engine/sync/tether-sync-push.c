/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-push"
#include "config.h"

#include "tether-sync-engine-private.h"

/* The push half of a sync (docs/sync.md, "Push"). A record's pending
 * changes go out as one change under the id of the newest of them; once
 * sent, that id and the rows behind it are fixed (push_id), so a retry after
 * a lost answer or a crash repeats exactly the same change and the server's
 * idempotency answers it like the first time. */

#define MAX_PUSH_ROUNDS   10000              /* bounded loop: batches per sync */
#define COUNT_INTERVAL_US (G_USEC_PER_SEC / 10)

/* ------------------------------------------------------------ flights */

/* Two batches are in flight at a time, so that the server stores one while
 * this side stores the answer to the other and claims the next. They never
 * share a record (op->busy), so the order in which the server applies them
 * does not matter. */
#define MAX_IN_FLIGHT 2

typedef struct {
  GTask     *task;
  GPtrArray *groups;   /* TetherPushGroup* sent */
  GPtrArray *keys;     /* their record keys, lent to op->busy while in flight */
} TetherPushFlight;

static void
flight_free (TetherPushFlight *flight)
{
  g_ptr_array_unref (flight->groups);
  g_ptr_array_unref (flight->keys);
  g_object_unref (flight->task);
  g_free (flight);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherPushFlight, flight_free)

static TetherPushFlight *
take_off (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherPushFlight *flight = g_new0 (TetherPushFlight, 1);

  flight->task = g_object_ref (task);
  flight->groups = g_steal_pointer (&op->sent);
  flight->keys = g_ptr_array_new_full (flight->groups->len, g_free);
  for (guint i = 0; i < flight->groups->len; i++)
    {
      TetherPushGroup *group = g_ptr_array_index (flight->groups, i);
      char *key = _tether_sync_record_key (group->collection, group->record_id);

      g_ptr_array_add (flight->keys, key);
      g_hash_table_add (op->busy, key);
    }
  op->in_flight++;
  return flight;
}

static void
land (TetherPushFlight *flight)
{
  TetherSyncOp *op = g_task_get_task_data (flight->task);

  for (guint i = 0; i < flight->keys->len; i++)
    g_hash_table_remove (op->busy, g_ptr_array_index (flight->keys, i));
  op->in_flight--;
  op->landed++;
}

/* A refusal need not keep this device from the others' changes: the pull
 * runs, and the sync fails with the push's error at its end. Not after a
 * network, auth or rate-limit failure (the pull would fail alike), nor
 * after a 5xx or a malformed answer: the server may have applied that
 * batch, and a client that cannot send it again must not pull past it
 * (protocol.md, "Pull without one's own echoes"). */
static gboolean
pull_after (const GError *error)
{
  return g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_REJECTED) ||
         g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SCHEMA) ||
         g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE);
}

/* Every answer has landed and the push failed with @error (taken). */
static void
push_failed (GTask  *task,
             GError *error)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  g_autoptr(GError) local_error = NULL;

  if (!pull_after (error) || tether_database_get_transaction_depth (op->engine->db) > 0)
    {
      _tether_sync_op_fail (task, error);
      return;
    }
  /* What was sent keeps its push id and goes again next time. */
  if (_tether_sync_store_reset_syncing (op->engine->db, &local_error) < 0)
    {
      g_error_free (error);
      _tether_sync_op_fail (task, g_steal_pointer (&local_error));
      return;
    }
  g_debug ("push failed, pulling all the same: %s", error->message);
  op->push_failed = error;
  _tether_sync_pull_next (task);
}

/* The push stops with @error (NULL: with the one kept before). The last
 * answer to land fails the sync: answers still in flight are stored first,
 * as the server has applied those changes. Takes @task and @error. */
static void
stop (GTask  *task,
      GError *error)
{
  TetherSyncOp *op = g_task_get_task_data (task);

  /* A refused token outranks whatever else failed: it stops auto-sync
   * until the user acts, where a network error would retry in vain. */
  if (op->push_error == NULL ||
      (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED) &&
       !g_error_matches (op->push_error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED)))
    {
      g_clear_error (&op->push_error);
      op->push_error = error;
    }
  else if (error != NULL)
    g_error_free (error);
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  if (op->in_flight > 0)
    {
      g_object_unref (task);
      return;
    }
  push_failed (task, g_steal_pointer (&op->push_error));
}

static void send_claimed (GTask    *task,
                          gboolean  only_skipped);

/* A refused batch was put back: claim again once nothing is in flight. */
static void
after_shrink (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);

  if (op->in_flight > 0)
    g_object_unref (task);
  else
    _tether_sync_push_next (task);
}

/* An answer that landed, kept for a moment. */
typedef struct {
  TetherPushFlight *flight;
  JsonObject       *answer;
  GError           *error;
} TetherPushLanding;

static void
landing_free (TetherPushLanding *landing)
{
  g_clear_pointer (&landing->flight, flight_free);
  g_clear_pointer (&landing->answer, json_object_unref);
  g_clear_error (&landing->error);
  g_free (landing);
}

static gboolean
store_landing (gpointer data)
{
  TetherPushLanding *landing = data;
  TetherPushFlight *flight = landing->flight;
  GTask *task = flight->task;
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  g_autoptr(GError) error = g_steal_pointer (&landing->error);
  JsonObject *answer = landing->answer;
  gboolean only_skipped = FALSE;

  land (flight);
  if (answer == NULL && op->push_error == NULL &&
      (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE) ||
       g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_REJECTED)))
    {
      g_autoptr(GError) refusal = g_steal_pointer (&error);

      if (_tether_push_shrink_batch (self, op, flight->groups, refusal, &error))
        {
          after_shrink (g_object_ref (task));
          return G_SOURCE_REMOVE;
        }
    }
  if (answer == NULL ||
      !_tether_push_store_answer (self, op, flight->groups, answer, op->push_error == NULL, &only_skipped, &error) ||
      op->push_error != NULL)
    {
      stop (g_object_ref (task), g_steal_pointer (&error));
      return G_SOURCE_REMOVE;
    }
  /* Counting is a scan of the log and each "queue-changed" makes the
   * inspector read the queue: ten times a second is live enough, and the
   * end of the sync always counts. */
  if (g_get_monotonic_time () - op->counted_us >= COUNT_INTERVAL_US)
    {
      op->counted_us = g_get_monotonic_time ();
      _tether_sync_engine_queue_changed (self);
    }
  _tether_sync_engine_emit_phase (self, TETHER_SYNC_PHASE_PUSH, op->report.pushed,
                                  MAX (op->pending_at_start, op->report.pushed));
  send_claimed (g_object_ref (task), only_skipped);
  return G_SOURCE_REMOVE;
}

/* Storing an answer holds the main loop for a while; the other batch in
 * flight may not be on the wire yet (its connection, its proxy lookup and
 * its body each need the loop), and the server would wait for it. So the
 * answer is stored once the loop has nothing more urgent. */
static void
on_pushed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  TetherPushLanding *landing = g_new0 (TetherPushLanding, 1);
  g_autoptr(GSource) idle = g_idle_source_new ();

  landing->flight = user_data;
  landing->answer = tether_transport_push_finish (TETHER_TRANSPORT (source), result, &landing->error);
  _tether_sync_op_note_error (g_task_get_task_data (landing->flight->task), TETHER_TRANSPORT (source),
                              landing->error);
  g_source_set_priority (idle, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (idle, store_landing, landing, (GDestroyNotify) landing_free);
  g_source_attach (idle, g_task_get_context (landing->flight->task));
}

static GError *
too_many_rounds (void)
{
  return g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SERVER,
                      "push did not finish after %d batches", MAX_PUSH_ROUNDS);
}

/* Sends op->sent (claimed). Returns FALSE, with the push stopped, when it
 * cannot. */
static gboolean
send_one (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  GError *error = NULL;
  g_autoptr(GBytes) request = NULL;

  if (op->push_rounds++ >= MAX_PUSH_ROUNDS)
    error = too_many_rounds ();
  else if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "sync cancelled");
  else if ((error = _tether_sync_remote_changed (op)) == NULL)
    request = _tether_sync_push_request_bytes (self, op->sent, &error);
  if (request == NULL)
    {
      stop (task, error);
      return FALSE;
    }
  op->report.pushed += op->sent->len;
  tether_transport_push_bytes_async (op->transport, request, g_task_get_cancellable (task),
                                     on_pushed, take_off (task));
  return TRUE;
}

/* op->sent is claimed: send it and claim more until MAX_IN_FLIGHT batches
 * are in flight. A batch whose groups all needed no sending (created and
 * deleted offline) is done already: look again, in this loop and within
 * MAX_PUSH_ROUNDS. With nothing left to send, the last answer to land goes
 * on to the pull. Takes @task. */
static void
send_claimed (GTask    *task,
              gboolean  only_skipped)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  GError *error = NULL;

  for (;;)
    {
      if (op->sent->len > 0)
        {
          if (!send_one (task))
            return;
          /* One until the first answer: it tells the transport whether
           * the server takes gzip bodies, which the second then gets. */
          if (op->in_flight >= (op->landed > 0 ? MAX_IN_FLIGHT : 1))
            {
              g_object_unref (task);
              return;
            }
        }
      else if (op->in_flight > 0 || !only_skipped)
        break;
      else if (op->push_rounds++ >= MAX_PUSH_ROUNDS)
        {
          stop (task, too_many_rounds ());
          return;
        }
      g_clear_pointer (&op->sent, g_ptr_array_unref);
      if (!_tether_push_next_batch (op->engine, op, &only_skipped, &error))
        {
          stop (task, error);
          return;
        }
    }
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  if (op->in_flight > 0)
    g_object_unref (task);   /* an answer in flight goes on */
  else
    _tether_sync_pull_next (task);
}

void
_tether_sync_push_next (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean only_skipped = FALSE;

  if (op->batch_limit == 0)
    op->batch_limit = op->engine->batch_size;
  if (op->busy == NULL)
    op->busy = g_hash_table_new (g_str_hash, g_str_equal);   /* keys owned by the flights */
  if (!_tether_push_next_batch (op->engine, op, &only_skipped, &error))
    {
      stop (task, error);
      return;
    }
  send_claimed (task, only_skipped);
}

