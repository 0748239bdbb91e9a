/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-push"
#include "config.h"

#include "tether-sync-engine-private.h"

/* The server's answer to a push batch, stored with the claim of the next
 * batch in one transaction (docs/sync.md, "Push", "Answers"). */

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
                                                  _tether_push_group_first (group)->seq, error);
}

static gboolean
apply_accepted (TetherSyncEngine   *self,
                TetherPushGroup    *group,
                TetherPushAccepted *accepted,
                gboolean            any_failed,
                GError            **error)
{
  TetherChangeRow *last = _tether_push_group_last (group);
  const char *data = group->type == TETHER_CHANGE_DELETE ? NULL : group->data != NULL ? group->data : last->data;

  if (accepted->hlc != NULL)
    tether_hlc_observe (self->hlc, accepted->hlc);   /* the server clamped ours */
  if (!_tether_push_mark_rows (self, group, TETHER_CHANGE_COMMITTED, NULL, FALSE, error) ||
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
  g_autofree char *local_hlc = g_strdup (_tether_push_group_last (group)->hlc);

  /* The clock moves past every hlc it receives (protocol.md): a push-back
   * made now must come after the version it answers. */
  if (conflict->remote_hlc != NULL)
    tether_hlc_observe (self->hlc, conflict->remote_hlc);
  if (!_tether_push_mark_rows (self, group, TETHER_CHANGE_COMMITTED, NULL, FALSE, error))
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

  return _tether_push_mark_rows (self, group, TETHER_CHANGE_FAILED, message, TRUE, error);
}

/* A sent change the answer did not mention: try again later, within bounds. */
static gboolean
apply_unanswered (TetherSyncEngine *self,
                  TetherPushGroup  *group,
                  GError          **error)
{
  gboolean out_of_retries = group_retries (group) + 1 >= self->max_retries;

  return _tether_push_mark_rows (self, group, out_of_retries ? TETHER_CHANGE_FAILED : TETHER_CHANGE_PENDING,
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
gboolean
_tether_push_store_answer (TetherSyncEngine *self,
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
  if (!apply_answer (self, op, sent, response, error) || !_tether_sync_save_clock (self, error))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  if (!claim)
    return tether_database_commit (self->db, error);
  return _tether_push_claim_and_commit (self, op, only_skipped, error);
}

/* The server refused the batch as a whole, as too large or as a bad
 * request (JSON nested deeper than it reads, say): send half as many
 * changes, down to one; a single change it refuses fails on its own with
 * the server's words, and the changes after it go on. */
gboolean
_tether_push_shrink_batch (TetherSyncEngine *self,
              TetherSyncOp     *op,
              GPtrArray        *sent,
              const GError     *refusal,
              GError          **error)
{
  gboolean single = sent->len == 1;
  g_autofree char *message = g_strdup_printf (
    g_error_matches (refusal, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_TOO_LARGE)
      ? "too large for the server: %s" : "not accepted: %s", refusal->message);

  if (!tether_database_begin (self->db, error))
    return FALSE;
  for (guint i = 0; i < sent->len; i++)
    if (!_tether_push_mark_rows (self, g_ptr_array_index (sent, i),
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

