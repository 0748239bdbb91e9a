/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-auto"
#include "config.h"

#include "tether-sync-engine-private.h"

/* Auto-sync: the scheduler decides when, this file starts the sync and
 * tells it how it went. server_push pages are applied here too. */

static void
on_auto_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The outcome already reached the scheduler and the state (op_end). */
  if (!tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, &error))
    g_debug ("auto-sync: %s", error->message);
}

/* The scheduler knows of every sync (_tether_sync_auto_started), so it
 * fires only when none runs; a refused token stops it until the
 * credentials change, which it hears of too. */
static void
on_fire (TetherSyncScheduler *scheduler,
         TetherSyncEngine    *self)
{
  if (self->transport == NULL)
    {
      _tether_sync_scheduler_done (scheduler, TETHER_SYNC_OUTCOME_AUTH, 0);
      return;
    }
  if (self->running != NULL)
    return;   /* its end is reported */
  tether_sync_engine_sync_async (self, NULL, on_auto_done, NULL);
  if (self->running == NULL && _tether_sync_scheduler_is_running (scheduler))
    _tether_sync_scheduler_done (scheduler, TETHER_SYNC_OUTCOME_FAILED, 0);   /* refused: busy elsewhere */
}

void
_tether_sync_auto_init (TetherSyncEngine *self)
{
  self->scheduler = _tether_sync_scheduler_new ();
  g_signal_connect (self->scheduler, "fire", G_CALLBACK (on_fire), self);
}

void
_tether_sync_auto_dispose (TetherSyncEngine *self)
{
  if (self->scheduler != NULL)
    g_signal_handlers_disconnect_by_data (self->scheduler, self);
  g_clear_object (&self->scheduler);
}

static TetherSyncOutcome
outcome_of (const GError *error)
{
  if (error == NULL)
    return TETHER_SYNC_OUTCOME_OK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return TETHER_SYNC_OUTCOME_CANCELLED;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK))
    return TETHER_SYNC_OUTCOME_OFFLINE;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED))
    return TETHER_SYNC_OUTCOME_AUTH;
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_RATE_LIMITED))
    return TETHER_SYNC_OUTCOME_RATE_LIMITED;
  return TETHER_SYNC_OUTCOME_FAILED;
}

void
_tether_sync_auto_started (TetherSyncEngine *self)
{
  if (self->scheduler != NULL)
    _tether_sync_scheduler_started (self->scheduler);
}

/* Every sync's end, whoever started it: a success clears the backoff and
 * an auth stop, a failure plans the retry. @stale: a failure on
 * credentials replaced since, which says nothing of the new ones (their
 * sync is asked for already): counted like a cancellation. */
void
_tether_sync_auto_report (TetherSyncEngine *self,
                          const GError     *error,
                          gboolean          stale,
                          gint64            retry_after_ms)
{
  TetherSyncOutcome outcome = stale ? TETHER_SYNC_OUTCOME_CANCELLED : outcome_of (error);

  if (self->scheduler != NULL)
    _tether_sync_scheduler_done (self->scheduler, outcome, retry_after_ms);
}

void
_tether_sync_auto_local_write (TetherSyncEngine *self)
{
  if (self->scheduler != NULL)
    _tether_sync_scheduler_local_write (self->scheduler);
}

void
tether_sync_engine_set_auto_sync (TetherSyncEngine *self,
                                  gboolean          enabled)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  enabled = !!enabled;
  if (self->auto_sync == enabled)
    return;
  self->auto_sync = enabled;
  _tether_sync_scheduler_set_enabled (self->scheduler, enabled);
  if (self->transport != NULL)
    {
      if (enabled)
        tether_transport_connect (self->transport);
      else
        tether_transport_disconnect (self->transport);
    }
  if (enabled && self->pending_count > 0)
    _tether_sync_scheduler_local_write (self->scheduler);
  g_object_notify (G_OBJECT (self), "auto-sync");
}

void
tether_sync_engine_set_interval (TetherSyncEngine *self,
                                 guint             seconds)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  seconds = CLAMP (seconds, 1, 24 * 3600);
  if (self->interval == seconds)
    return;
  self->interval = seconds;
  _tether_sync_scheduler_set_interval (self->scheduler, seconds);
  g_object_notify (G_OBJECT (self), "interval");
}

void
tether_sync_engine_set_debounce (TetherSyncEngine *self,
                                 guint             ms)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));
  _tether_sync_scheduler_set_debounce (self->scheduler, ms);
}

/* ---------------------------------------------------------- server_push */

/* Changes sent and not yet answered would race a pushed page. Sent and
 * not answered is syncing, or pending with a push_id (its answer was
 * lost): failed and committed entries keep their push_id, and one refused
 * change would otherwise turn every server_push into a full sync. */
static gboolean
in_flight (TetherSyncEngine *self)
{
  sqlite3_stmt *stmt;
  gboolean found;

  stmt = _tether_database_prepare_cached (self->db,
    "SELECT 1 FROM _tether_changes WHERE status = 1 OR (status = 0 AND push_id IS NOT NULL) LIMIT 1", NULL);
  if (stmt == NULL)
    return TRUE;
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_reset (stmt);
  return found;
}

G_STATIC_ASSERT (TETHER_CHANGE_PENDING == 0 && TETHER_CHANGE_SYNCING == 1);

/* The cursor moves only when the page continues it without a gap (our
 * cursors are revs, docs/protocol.md); otherwise a pull fills the gap. */
static char *
continued_cursor (TetherSyncEngine *self,
                  GPtrArray        *changes)
{
  g_autofree char *cursor = _tether_sync_engine_get_cursor (self);
  gint64 at = cursor != NULL ? g_ascii_strtoll (cursor, NULL, 10) : 0;

  for (guint i = 0; i < changes->len; i++)
    {
      TetherPullChange *change = g_ptr_array_index (changes, i);

      if (change->rev != at + 1)
        return NULL;
      at = change->rev;
    }
  return g_strdup_printf ("%" G_GINT64_FORMAT, at);
}

/* TRUE when the page was applied with its cursor. A sync in progress,
 * here or in another process (the CLI), would race it: its claimed
 * entries could be rebased under it, its pull move the cursor past the
 * page or back. Then, as for a gap, the page is left to a sync. */
static gboolean
apply_pushed (TetherSyncEngine *self,
              GPtrArray        *changes)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report = { 0 };
  g_autofree char *cursor = NULL;

  if (self->running != NULL || !tether_database_begin (self->db, &error))
    return FALSE;
  /* Checked in the write transaction (BEGIN IMMEDIATE), which no other
   * process can enter until the page is committed: none can take the
   * lock, claim entries or move the cursor after these checks. */
  if (in_flight (self) || _tether_sync_store_lock_held_elsewhere (self->db) ||
      (cursor = continued_cursor (self, changes)) == NULL)
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  if (!_tether_sync_apply_changes (self, changes, &report, &error) ||
      !_tether_sync_engine_set_cursor (self, cursor, &error))
    {
      tether_database_rollback (self->db);
      g_warning ("applying a server_push: %s", error->message);
      return FALSE;
    }
  if (!tether_database_commit (self->db, &error))
    {
      g_warning ("applying a server_push: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

void
_tether_sync_auto_server_push (TetherSyncEngine *self,
                               JsonArray        *payload)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = _tether_sync_parse_push_payload (payload, &error);
  gboolean applied = FALSE;

  if (changes == NULL)
    g_warning ("ignoring a server_push: %s", error->message);
  else
    applied = apply_pushed (self, changes);
  _tether_sync_engine_queue_changed (self);
  /* Not applied (gap, sync in flight, bad page) or local changes waiting:
   * a sync pulls and pushes what is needed. */
  if (!applied || self->pending_count > 0)
    _tether_sync_scheduler_server_push (self->scheduler);
}
