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

void
_tether_push_group_free (TetherPushGroup *group)
{
  if (group == NULL)
    return;   /* stolen from its array */
  g_free (group->push_id);
  g_free (group->collection);
  g_free (group->record_id);
  g_ptr_array_unref (group->rows);
  g_free (group);
}

static TetherChangeRow *
group_first (TetherPushGroup *group)
{
  return g_ptr_array_index (group->rows, 0);
}

static TetherChangeRow *
group_last (TetherPushGroup *group)
{
  return g_ptr_array_index (group->rows, group->rows->len - 1);
}

static TetherPushGroup *
group_new (TetherChangeRow *row)
{
  TetherPushGroup *group = g_new0 (TetherPushGroup, 1);

  group->collection = g_strdup (row->collection);
  group->record_id = g_strdup (row->record_id);
  group->push_id = g_strdup (row->push_id);
  group->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_change_row_free);
  return group;
}

/* Type and base of what is sent. A group sent before keeps the base it
 * was sent with; a new one is based on the shadow. */
static gboolean
group_settle (TetherSyncEngine *self,
              TetherPushGroup  *group,
              GError          **error)
{
  TetherChangeRow *first = group_first (group);
  TetherChangeRow *last = group_last (group);

  if (group->push_id != NULL)
    group->base_rev = first->base_rev;
  else
    {
      g_free (group->push_id);
      group->push_id = g_strdup (last->id);
      if (!_tether_sync_store_shadow_get (self->db, group->collection, group->record_id,
                                          &group->base_rev, NULL, NULL, error))
        return FALSE;
    }
  if (last->type == TETHER_CHANGE_DELETE)
    group->type = TETHER_CHANGE_DELETE;
  else if (first->type == TETHER_CHANGE_CREATE && group->base_rev == 0)
    group->type = TETHER_CHANGE_CREATE;
  else
    group->type = TETHER_CHANGE_UPDATE;
  /* Created and deleted offline: the server never needs to hear of it. */
  group->skip = first->type == TETHER_CHANGE_CREATE && last->type == TETHER_CHANGE_DELETE &&
                group->base_rev == 0 && first->push_id == NULL;
  return TRUE;
}

/* Whether @row joins the record's group: rows sent under one id stay
 * together, and newer rows wait until that id is answered. */
static gboolean
row_joins (TetherPushGroup *group,
           TetherChangeRow *row)
{
  if (group->push_id != NULL || row->push_id != NULL)
    return g_strcmp0 (group->push_id, row->push_id) == 0;
  return TRUE;
}

static GPtrArray *
build_groups (TetherSyncEngine *self,
              guint             limit,
              GHashTable       *busy,
              GError          **error)
{
  g_autoptr(GPtrArray) rows = _tether_sync_store_outbox (self->db, limit, busy, error);
  g_autoptr(GHashTable) by_record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_push_group_free);

  if (rows == NULL)
    return NULL;
  for (guint i = 0; i < rows->len; i++)
    {
      TetherChangeRow *row = g_ptr_array_index (rows, i);
      g_autofree char *key = _tether_sync_record_key (row->collection, row->record_id);
      TetherPushGroup *group = g_hash_table_lookup (by_record, key);

      if (group == NULL && !g_hash_table_contains (by_record, key) && groups->len < limit)
        {
          group = group_new (row);
          g_ptr_array_add (groups, group);
          g_hash_table_insert (by_record, g_steal_pointer (&key), group);
        }
      else if (group == NULL || !row_joins (group, row))
        {
          /* full batch, or waiting behind rows already sent: later rows of
           * this record wait too, so the order of its changes holds */
          g_hash_table_replace (by_record, g_steal_pointer (&key), NULL);
          continue;
        }
      g_ptr_array_add (group->rows, g_steal_pointer (&g_ptr_array_index (rows, i)));
    }
  for (guint i = 0; i < groups->len; i++)
    if (!group_settle (self, g_ptr_array_index (groups, i), error))
      return NULL;
  return g_steal_pointer (&groups);
}

static gboolean
mark_rows (TetherSyncEngine   *self,
           TetherPushGroup    *group,
           TetherChangeStatus  status,
           const char         *message,
           gboolean            count_retry,
           GError            **error)
{
  for (guint i = 0; i < group->rows->len; i++)
    {
      TetherChangeRow *row = g_ptr_array_index (group->rows, i);

      row->status = status;
      if (message != NULL)
        {
          g_free (row->error);
          row->error = g_strdup (message);
        }
      if (count_retry)
        row->retries++;
      if (!_tether_sync_store_update_state (self->db, row, error))
        return FALSE;
    }
  return TRUE;
}

/* Sent groups become SYNCING under their push id before the request leaves,
 * so a crash from here on resends the same change. Skipped groups are done.
 * In the caller's transaction. */
static GPtrArray *
claim_groups (TetherSyncEngine *self,
              GPtrArray        *groups,
              GError          **error)
{
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_push_group_free);

  for (guint i = 0; i < groups->len; i++)
    {
      TetherPushGroup *group = g_ptr_array_index (groups, i);
      gboolean ok;

      for (guint j = 0; j < group->rows->len && !group->skip; j++)
        {
          TetherChangeRow *row = g_ptr_array_index (group->rows, j);

          g_free (row->push_id);
          row->push_id = g_strdup (group->push_id);
          row->base_rev = group->base_rev;
        }
      ok = mark_rows (self, group, group->skip ? TETHER_CHANGE_COMMITTED : TETHER_CHANGE_SYNCING,
                      NULL, FALSE, error);
      if (!ok)
        return NULL;
      if (!group->skip)
        g_ptr_array_add (sent, g_steal_pointer (&g_ptr_array_index (groups, i)));
    }
  return g_steal_pointer (&sent);
}

/* The next batch, read and claimed in the caller's transaction: its reads
 * (the outbox, a shadow per record) share one snapshot and one lock, and
 * nothing can change the rows between reading and claiming them.
 * op->sent is then the groups to send; *@only_skipped tells that the
 * batch had groups, none of which needs sending. */
static gboolean
claim_next (TetherSyncEngine *self,
            TetherSyncOp     *op,
            gboolean         *only_skipped,
            GError          **error)
{
  g_autoptr(GPtrArray) groups = build_groups (self, op->batch_limit, op->busy, error);

  if (groups == NULL || (op->sent = claim_groups (self, groups, error)) == NULL)
    return FALSE;
  *only_skipped = groups->len > 0 && op->sent->len == 0;
  return TRUE;
}

/* Claims the next batch in the open transaction and commits it; on any
 * failure the transaction is over and nothing is claimed. */
static gboolean
claim_and_commit (TetherSyncEngine *self,
                  TetherSyncOp     *op,
                  gboolean         *only_skipped,
                  GError          **error)
{
  if (!claim_next (self, op, only_skipped, error))
    tether_database_rollback (self->db);
  else if (tether_database_commit (self->db, error))
    return TRUE;
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  return FALSE;
}

static gboolean
next_batch (TetherSyncEngine *self,
            TetherSyncOp     *op,
            gboolean         *only_skipped,
            GError          **error)
{
  return tether_database_begin (self->db, error) && claim_and_commit (self, op, only_skipped, error);
}

/* ------------------------------------------------------------ answers */

static TetherPushGroup *
take_group (GHashTable *by_id,
            const char *id)
{
  TetherPushGroup *group = g_hash_table_lookup (by_id, id);

  if (group != NULL)
    g_hash_table_remove (by_id, id);   /* a second answer for one id is ignored */
  return group;
}

/* An accepted change carries the record's whole state, newer than its
 * failed entries: retried later, they would put older data on the server
 * than this device shows, and it would never hear of it. */
static gboolean
commit_older_failed (TetherSyncEngine *self,
                     TetherPushGroup  *group,
                     gboolean          any_failed,
                     GError          **error)
{
  if (!any_failed)
    return TRUE;
  return _tether_sync_store_commit_failed_before (self->db, group->collection, group->record_id,
                                                  group_first (group)->seq, error);
}

static gboolean
apply_accepted (TetherSyncEngine   *self,
                TetherPushGroup    *group,
                TetherPushAccepted *accepted,
                gboolean            any_failed,
                GError            **error)
{
  TetherChangeRow *last = group_last (group);
  const char *data = group->type == TETHER_CHANGE_DELETE ? NULL : last->data;

  if (!mark_rows (self, group, TETHER_CHANGE_COMMITTED, NULL, FALSE, error) ||
      !commit_older_failed (self, group, any_failed, error))
    return FALSE;
  if (accepted->rev < 0)
    {
      /* a seed server: no revisions, so no shadow to keep */
      _tether_sync_engine_set_seed_compat (self, TRUE);
      return TRUE;
    }
  return _tether_sync_store_shadow_set (self->db, group->collection, group->record_id, accepted->rev,
                                        data, accepted->hlc != NULL ? accepted->hlc : last->hlc, error);
}

static guint
group_retries (TetherPushGroup *group)
{
  guint retries = 0;

  for (guint i = 0; i < group->rows->len; i++)
    retries = MAX (retries, ((TetherChangeRow *) g_ptr_array_index (group->rows, i))->retries);
  return retries;
}

/* The sent change lost to a newer server version: its rows are folded into
 * the resolution, which may push back a new change based on remoteRev. */
static gboolean
apply_conflict (TetherSyncEngine   *self,
                TetherSyncOp       *op,
                TetherPushGroup    *group,
                TetherPushConflict *conflict,
                GError            **error)
{
  g_autofree char *local_hlc = g_strdup (group_last (group)->hlc);

  if (!mark_rows (self, group, TETHER_CHANGE_COMMITTED, NULL, FALSE, error))
    return FALSE;
  return _tether_sync_resolve (self, group->collection, group->record_id, local_hlc,
                               conflict->remote, MAX (conflict->remote_rev, 0), conflict->remote_hlc,
                               group_retries (group) + 1, &op->report, error);
}

static gboolean
apply_error (TetherSyncEngine *self,
             TetherPushGroup  *group,
             TetherPushError  *entry,
             GError          **error)
{
  g_autofree char *message = entry->code != NULL
    ? g_strdup_printf ("%s (%s)", entry->error, entry->code)
    : g_strdup (entry->error);

  return mark_rows (self, group, TETHER_CHANGE_FAILED, message, TRUE, error);
}

/* A sent change the answer did not mention: try again later, within bounds. */
static gboolean
apply_unanswered (TetherSyncEngine *self,
                  TetherPushGroup  *group,
                  GError          **error)
{
  gboolean out_of_retries = group_retries (group) + 1 >= self->max_retries;

  return mark_rows (self, group, out_of_retries ? TETHER_CHANGE_FAILED : TETHER_CHANGE_PENDING,
                    "the server's answer did not mention this change", TRUE, error);
}

static gboolean
apply_answer (TetherSyncEngine   *self,
              TetherSyncOp       *op,
              GPtrArray          *sent,
              TetherPushResponse *response,
              GError            **error)
{
  g_autoptr(GHashTable) by_id = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  gpointer group;
  gboolean any_failed = FALSE;

  if (!_tether_sync_store_any_failed (self->db, &any_failed, error))
    return FALSE;
  for (guint i = 0; i < sent->len; i++)
    g_hash_table_insert (by_id, ((TetherPushGroup *) g_ptr_array_index (sent, i))->push_id,
                         g_ptr_array_index (sent, i));
  for (guint i = 0; i < response->accepted->len; i++)
    {
      TetherPushAccepted *accepted = g_ptr_array_index (response->accepted, i);

      if ((group = take_group (by_id, accepted->id)) != NULL)
        {
          if (!apply_accepted (self, group, accepted, any_failed, error))
            return FALSE;
          op->report.accepted++;
        }
    }
  for (guint i = 0; i < response->errors->len; i++)
    {
      TetherPushError *entry = g_ptr_array_index (response->errors, i);

      if ((group = take_group (by_id, entry->id)) != NULL)
        {
          if (!apply_error (self, group, entry, error))
            return FALSE;
          op->report.rejected++;
        }
    }
  for (guint i = 0; i < response->conflicts->len; i++)
    {
      TetherPushConflict *conflict = g_ptr_array_index (response->conflicts, i);

      if ((group = take_group (by_id, conflict->change_id)) != NULL &&
          !apply_conflict (self, op, group, conflict, error))
        return FALSE;
    }
  g_hash_table_iter_init (&iter, by_id);
  while (g_hash_table_iter_next (&iter, NULL, &group))
    if (!apply_unanswered (self, group, error))
      return FALSE;
  return TRUE;
}

/* The answer and the claim of the next batch share one transaction: one
 * commit per round trip instead of two. Either both are stored or
 * neither, and then the batch sent keeps its push id for the next sync.
 * Without @claim (the push is stopping) only the answer is stored. */
static gboolean
store_answer (TetherSyncEngine *self,
              TetherSyncOp     *op,
              GPtrArray        *sent,
              JsonObject       *answer,
              gboolean          claim,
              gboolean         *only_skipped,
              GError          **error)
{
  g_autoptr(TetherPushResponse) response = _tether_sync_parse_push (answer, error);

  if (response == NULL || !tether_database_begin (self->db, error))
    return FALSE;
  if (!apply_answer (self, op, sent, response, error))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  if (!claim)
    return tether_database_commit (self->db, error);
  return claim_and_commit (self, op, only_skipped, error);
}

/* The server refused the batch as too large: send half as many changes,
 * down to one; a single change it refuses fails on its own. */
static gboolean
shrink_batch (TetherSyncEngine *self,
              TetherSyncOp     *op,
              GPtrArray        *sent,
              const GError     *refusal,
              GError          **error)
{
  gboolean single = sent->len == 1;
  g_autofree char *message = g_strdup_printf ("too large for the server: %s", refusal->message);

  if (!tether_database_begin (self->db, error))
    return FALSE;
  for (guint i = 0; i < sent->len; i++)
    if (!mark_rows (self, g_ptr_array_index (sent, i),
                    single ? TETHER_CHANGE_FAILED : TETHER_CHANGE_PENDING,
                    single ? message : NULL, single, error))
      {
        tether_database_rollback (self->db);
        return FALSE;
      }
  if (!tether_database_commit (self->db, error))
    return FALSE;
  if (single)
    op->report.rejected++;
  op->report.pushed -= single ? 0 : sent->len;
  op->batch_limit = MIN (op->batch_limit, MAX (sent->len / 2, 1));
  return TRUE;
}

/* ------------------------------------------------------------ flights */

/* Two batches are in flight at a time, so that the server stores one while
 * this side stores the answer to the other and claims the next. They never
 * share a record (op->busy), so the order in which the server applies them
 * does not matter. */
#define MAX_IN_FLIGHT 2

typedef struct {
  GTask     *task;
  GPtrArray *groups;   /* TetherPushGroup* sent */
} TetherPushFlight;

static void
flight_free (TetherPushFlight *flight)
{
  g_ptr_array_unref (flight->groups);
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
  for (guint i = 0; i < flight->groups->len; i++)
    {
      TetherPushGroup *group = g_ptr_array_index (flight->groups, i);

      g_hash_table_add (op->busy, _tether_sync_record_key (group->collection, group->record_id));
    }
  op->in_flight++;
  return flight;
}

static void
land (TetherPushFlight *flight)
{
  TetherSyncOp *op = g_task_get_task_data (flight->task);

  for (guint i = 0; i < flight->groups->len; i++)
    {
      TetherPushGroup *group = g_ptr_array_index (flight->groups, i);
      g_autofree char *key = _tether_sync_record_key (group->collection, group->record_id);

      g_hash_table_remove (op->busy, key);
    }
  op->in_flight--;
}

/* The push stops with @error (NULL: with the one kept before). The last
 * answer to land fails the sync: answers still in flight are stored first,
 * as the server has applied those changes. Takes @task and @error. */
static void
stop (GTask  *task,
      GError *error)
{
  TetherSyncOp *op = g_task_get_task_data (task);

  if (op->push_error == NULL)
    op->push_error = error;
  else if (error != NULL)
    g_error_free (error);
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  if (op->in_flight > 0)
    {
      g_object_unref (task);
      return;
    }
  _tether_sync_op_fail (task, g_steal_pointer (&op->push_error));
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

static void
on_pushed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(TetherPushFlight) flight = user_data;
  GTask *task = flight->task;
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = tether_transport_push_finish (TETHER_TRANSPORT (source), result, &error);
  gboolean only_skipped = FALSE;

  land (flight);
  if (answer == NULL && op->push_error == NULL &&
      g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE))
    {
      g_autoptr(GError) refusal = g_steal_pointer (&error);

      if (shrink_batch (self, op, flight->groups, refusal, &error))
        {
          after_shrink (g_object_ref (task));
          return;
        }
    }
  if (answer == NULL ||
      !store_answer (self, op, flight->groups, answer, op->push_error == NULL, &only_skipped, &error) ||
      op->push_error != NULL)
    {
      stop (g_object_ref (task), g_steal_pointer (&error));
      return;
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
    error = g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SERVER,
                         "push did not finish after %d batches", MAX_PUSH_ROUNDS);
  else if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "sync cancelled");
  else
    request = _tether_sync_push_request_bytes (self, op->sent, &error);
  if (request == NULL)
    {
      stop (task, error);
      return FALSE;
    }
  op->report.pushed += op->sent->len;
  tether_transport_push_bytes_async (self->transport, request, g_task_get_cancellable (task),
                                     on_pushed, take_off (task));
  return TRUE;
}

/* op->sent is claimed: send it and claim more until MAX_IN_FLIGHT batches
 * are in flight. With nothing left to send, the last answer to land goes
 * on to the pull. Takes @task. */
static void
send_claimed (GTask    *task,
              gboolean  only_skipped)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  GError *error = NULL;

  while (op->sent->len > 0)
    {
      if (!send_one (task))
        return;
      if (op->in_flight >= MAX_IN_FLIGHT)
        {
          g_object_unref (task);
          return;
        }
      if (!next_batch (op->engine, op, &only_skipped, &error))
        {
          stop (task, error);
          return;
        }
    }
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  if (op->in_flight > 0)
    g_object_unref (task);   /* an answer in flight goes on */
  else if (only_skipped)
    _tether_sync_push_next (task);   /* look again */
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
    op->busy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!next_batch (op->engine, op, &only_skipped, &error))
    {
      stop (task, error);
      return;
    }
  send_claimed (task, only_skipped);
}
