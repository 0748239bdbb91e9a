/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-run"
#include "config.h"

#include "tether-sync-engine-private.h"
#include "tether-faulty-transport.h"
#include "tether-transport-private.h"

/* One sync from start to end: the lock, the state, the event log. The
 * steps are in tether-sync-push.c and tether-sync-pull.c. */

#define LOCK_TTL_MS (5 * 60 * 1000)

static void
op_free (TetherSyncOp *op)
{
  g_clear_pointer (&op->sent, g_ptr_array_unref);
  g_clear_pointer (&op->busy, g_hash_table_unref);
  g_clear_error (&op->push_error);
  g_clear_error (&op->push_failed);
  g_clear_pointer (&op->seen, g_hash_table_unref);
  g_free (op->resync_cursor);
  g_free (op->pull_cursor);
  g_free (op->identity);
  g_clear_object (&op->transport);
  g_clear_error (&op->pull_error);
  if (op->renew != NULL)
    g_source_destroy (op->renew);
  g_clear_pointer (&op->renew, g_source_unref);
  g_free (op);
}

static void
log_event (TetherSyncEngine *self,
           TetherSyncOp     *op,
           const GError     *error)
{
  g_autoptr(GError) local_error = NULL;
  TetherSyncEvent event = {
    .at_ms = tether_time_now_ms (),
    .phase = error != NULL ? TETHER_SYNC_PHASE_FAILED : TETHER_SYNC_PHASE_DONE,
    .report = op->report,
    .error = error != NULL ? error->message : NULL,
  };

  if (!_tether_sync_store_add_event (self->db, &event, &local_error))
    g_warning ("sync event log: %s", local_error->message);
}

gboolean
_tether_sync_save_clock (TetherSyncEngine  *self,
                         GError           **error)
{
  g_autofree char *last = tether_hlc_dup_last (self->hlc);

  return last == NULL || _tether_sync_store_keep_hlc (self->db, last, error);
}

/* Once more at the end: the steps stored it with what they wrote, so a
 * failure here (the file busy) loses nothing they saw. */
static void
save_clock (TetherSyncEngine *self)
{
  g_autoptr(GError) error = NULL;

  if (!_tether_sync_save_clock (self, &error))
    g_debug ("storing the sync clock: %s", error->message);
}

static TetherSyncState
state_for (const GError *error)
{
  /* Cancelled (a window closed on its sync): nothing is wrong. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return TETHER_SYNC_STATE_IDLE;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK))
    return TETHER_SYNC_STATE_OFFLINE;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED))
    return TETHER_SYNC_STATE_AUTH_REQUIRED;
  return TETHER_SYNC_STATE_ERROR;
}

/* A sync whose server or token was replaced while it ran (the preferences
 * changed them) fails on the old ones: a 401 to the old token, or the
 * stop before the next request. That says nothing about the new ones,
 * whose own sync the change has asked for. */
static gboolean
stale_failure (TetherSyncOp *op,
               const GError *error)
{
  return error != NULL && op->credentials != op->engine->credentials;
}

/* Common end: the log, the lock, the state, the scheduler. */
static void
op_end (GTask        *task,
        const GError *error)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  gboolean stale = stale_failure (op, error);
  gint64 retry_after_ms = op->retry_after_ms;

  op->report.duration_ms = (g_get_monotonic_time () - op->started_us) / 1000;
  if (op->renew != NULL)
    g_source_destroy (op->renew);
  save_clock (self);
  log_event (self, op, error);
  _tether_sync_store_unlock (self->db);
  self->running = NULL;
  if (error == NULL)
    {
      _tether_sync_engine_set_state (self, TETHER_SYNC_STATE_IDLE, NULL);
      _tether_sync_engine_mark_synced (self, tether_time_now_ms ());
    }
  else if (stale || state_for (error) == TETHER_SYNC_STATE_IDLE)
    _tether_sync_engine_set_state (self, TETHER_SYNC_STATE_IDLE, NULL);
  else
    _tether_sync_engine_set_state (self, state_for (error), error->message);
  _tether_sync_engine_queue_changed (self);
  _tether_sync_engine_emit_phase (self, error != NULL ? TETHER_SYNC_PHASE_FAILED : TETHER_SYNC_PHASE_DONE,
                                  op->report.pushed + op->report.pulled, op->report.pushed + op->report.pulled);
  /* A Retry-After holds new credentials back on the server that sent it
   * only (the preferences may save the same server again mid-sync). */
  if (stale && !_tether_transport_same_address (op->transport, self->transport))
    retry_after_ms = 0;
  _tether_sync_auto_report (self, error, stale, retry_after_ms);
}

void
_tether_sync_op_finish (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  /* The entries deleted may hold the newest hlcs handed out. */
  if (!tether_database_begin (op->engine->db, &error))
    {
      _tether_sync_op_fail (task, g_steal_pointer (&error));
      return;
    }
  if (!_tether_sync_save_clock (op->engine, &error) ||
      !_tether_sync_store_delete_committed (op->engine->db, &error))
    {
      tether_database_rollback (op->engine->db);
      _tether_sync_op_fail (task, g_steal_pointer (&error));
      return;
    }
  if (!tether_database_commit (op->engine->db, &error))
    {
      _tether_sync_op_fail (task, g_steal_pointer (&error));
      return;
    }
  op_end (task, NULL);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

void
_tether_sync_op_note_error (TetherSyncOp    *op,
                            TetherTransport *transport,
                            const GError    *error)
{
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_RATE_LIMITED))
    op->retry_after_ms = MAX (op->retry_after_ms, tether_transport_get_retry_after_ms (transport));
}

void
_tether_sync_op_fail (GTask  *task,
                      GError *error)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  g_autoptr(GError) local_error = NULL;

  /* What was sent keeps its push id; the next sync sends it again. */
  if (tether_database_get_transaction_depth (op->engine->db) == 0 &&
      _tether_sync_store_reset_syncing (op->engine->db, &local_error) < 0)
    g_warning ("putting sent changes back: %s", local_error->message);
  op_end (task, error);
  g_task_return_error (task, error);
  g_object_unref (task);
}

/* The remote can be taken away or replaced while a sync waits on the
 * main loop (the preferences change it): the next request must not go
 * out on nothing, nor to another server or account with this one's
 * cursor and shadows. */
GError *
_tether_sync_remote_changed (TetherSyncOp *op)
{
  TetherSyncEngine *self = op->engine;

  if (self->transport == NULL)
    return g_error_new_literal (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_CONFIGURED,
                                "the server was removed during the sync; set one to sync again");
  if (self->transport != op->transport || self->credentials != op->credentials)
    return g_error_new_literal (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED,
                                "the server or its token changed during the sync, which stopped; "
                                "the next sync goes to the new one");
  return NULL;
}

static gboolean
check_ready (TetherSyncEngine *self,
             GError          **error)
{
  g_autoptr(GError) local_error = NULL;

  if (self->transport == NULL)
    return g_set_error_literal (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NOT_CONFIGURED,
                                "no server is set: set one in Preferences → Sync, or with "
                                "`tether remote set URL --token-file FILE`"), FALSE;
  if (self->running != NULL)
    return g_set_error_literal (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BUSY,
                                "a sync is already running"), FALSE;
  if (!_tether_sync_store_lock (self->db, LOCK_TTL_MS, &local_error))
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error_literal (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BUSY,
                             "another program is syncing this database; try again when it is done");
      return FALSE;
    }
  return TRUE;
}

/* A sync can outlast the lock's expiry (a first push over a slow link);
 * processes that cannot see ours alive would then take it. Every third
 * of the expiry it is taken again, which moves the expiry on. */
static gboolean
renew_lock (gpointer data)
{
  TetherSyncOp *op = data;
  g_autoptr(GError) error = NULL;

  if (tether_database_get_transaction_depth (op->engine->db) > 0)
    return G_SOURCE_CONTINUE;   /* a step is half done: next time */
  if (!_tether_sync_store_lock (op->engine->db, LOCK_TTL_MS, &error))
    g_warning ("renewing the sync lock: %s", error != NULL ? error->message : "another process holds it");
  return G_SOURCE_CONTINUE;
}

static void
start_renewing (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);

  op->renew = g_timeout_source_new (LOCK_TTL_MS / 3);
  g_source_set_callback (op->renew, renew_lock, op, NULL);
  g_source_attach (op->renew, g_task_get_context (task));
}

void
tether_sync_engine_sync_async (TetherSyncEngine    *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncOp *op;

  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_sync_engine_sync_async);
  if (!check_ready (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  op = g_new0 (TetherSyncOp, 1);
  op->engine = self;
  op->started_us = g_get_monotonic_time ();
  op->pending_at_start = self->pending_count;
  op->transport = g_object_ref (self->transport);
  op->credentials = self->credentials;
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  self->running = task;
  _tether_sync_auto_started (self);
  start_renewing (task);
  _tether_sync_engine_set_state (self, TETHER_SYNC_STATE_SYNCING, NULL);
  _tether_sync_engine_emit_phase (self, TETHER_SYNC_PHASE_START, 0, op->pending_at_start);
  if (!_tether_sync_retarget_check (self, op, &error) ||
      !_tether_sync_decide_open (self, &op->report, &error))
    {
      _tether_sync_op_fail (g_steal_pointer (&task), g_steal_pointer (&error));
      return;
    }
  _tether_sync_push_next (g_steal_pointer (&task));
}

gboolean
tether_sync_engine_sync_finish (TetherSyncEngine  *self,
                                GAsyncResult      *result,
                                TetherSyncReport  *report,
                                GError           **error)
{
  TetherSyncOp *op;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  op = g_task_get_task_data (G_TASK (result));
  if (report != NULL)
    *report = op != NULL ? op->report : (TetherSyncReport) { 0 };
  return g_task_propagate_boolean (G_TASK (result), error);
}

typedef struct {
  GAsyncResult *result;
} SyncWait;

static void
on_sync_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  SyncWait *wait = user_data;

  wait->result = g_object_ref (result);
}

/* A WebSocket's socket, timers and answers belong to the main context it
 * was made on, which the private context below never runs: the sync
 * would wait for ever. */
static gboolean
is_websocket (TetherTransport *transport)
{
  while (TETHER_IS_FAULTY_TRANSPORT (transport))
    transport = tether_faulty_transport_get_inner (TETHER_FAULTY_TRANSPORT (transport));
  return TETHER_IS_WS_TRANSPORT (transport);
}

gboolean
tether_sync_engine_sync (TetherSyncEngine  *self,
                         TetherSyncReport  *report,
                         GError           **error)
{
  g_autoptr(GMainContext) context = NULL;
  SyncWait wait = { NULL };
  gboolean ok;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);

  if (self->transport != NULL && is_websocket (self->transport))
    {
      g_set_error_literal (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                           "a blocking sync cannot use a WebSocket transport, which runs on its main "
                           "loop: use tether_sync_engine_sync_async(), or an HTTP transport");
      return FALSE;
    }
  context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  tether_sync_engine_sync_async (self, NULL, on_sync_done, &wait);
  while (wait.result == NULL)
    g_main_context_iteration (context, TRUE);
  ok = tether_sync_engine_sync_finish (self, wait.result, report, error);
  g_clear_object (&wait.result);
  g_main_context_pop_thread_default (context);
  return ok;
}
