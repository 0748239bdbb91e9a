/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-push"
#include "config.h"

#include "tether-sync-engine-private.h"

/* The batches of a push (docs/sync.md, "Push"): a record's pending changes
 * go out as one change under the id of the newest of them; once claimed,
 * that id and the rows behind it are fixed (push_id), so a retry after a
 * lost answer or a crash repeats exactly the same change and the server's
 * idempotency answers it like the first time. */

void
_tether_push_group_free (TetherPushGroup *group)
{
  if (group == NULL)
    return;   /* stolen from its array */
  g_free (group->push_id);
  g_free (group->collection);
  g_free (group->record_id);
  g_free (group->data);
  g_ptr_array_unref (group->rows);
  g_free (group);
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
  TetherChangeRow *first = _tether_push_group_first (group);
  TetherChangeRow *last = _tether_push_group_last (group);

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
  return _tether_sync_store_shadow_integer_id (self->db, group->collection, group->record_id,
                                               &group->integer_id, error);
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

gboolean
_tether_push_mark_rows (TetherSyncEngine   *self,
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
      ok = _tether_push_mark_rows (self, group, group->skip ? TETHER_CHANGE_COMMITTED : TETHER_CHANGE_SYNCING,
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
gboolean
_tether_push_claim_and_commit (TetherSyncEngine *self,
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

gboolean
_tether_push_next_batch (TetherSyncEngine *self,
            TetherSyncOp     *op,
            gboolean         *only_skipped,
            GError          **error)
{
  return tether_database_begin (self->db, error) && _tether_push_claim_and_commit (self, op, only_skipped, error);
}

