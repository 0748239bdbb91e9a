/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include "tether-inspector-private.h"

/* The queue as the inspector's counters and its Compact button see it. The
 * store squashes the pending changes of a record unless one is being sent,
 * or one was sent before (its answer lost: it must go again as it was
 * sent). The queue does not show the second, so a Compact that removes
 * nothing holds those records back until their changes move. */

typedef struct {
  gboolean   busy;          /* a change of it is being sent */
  GPtrArray *pending_ids;
} RecordQueue;

static void
record_queue_free (RecordQueue *record)
{
  g_ptr_array_unref (record->pending_ids);
  g_free (record);
}

GHashTable *
_tether_inspector_count_queue (GListModel *model,
                               guint      *counts)
{
  GHashTable *records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) record_queue_free);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherSyncChange) change = g_list_model_get_item (model, i);
      TetherChangeStatus status = tether_sync_change_get_status (change);
      g_autofree char *key = NULL;
      RecordQueue *record;

      counts[MIN (status, TETHER_CHANGE_FAILED)]++;
      if (status != TETHER_CHANGE_PENDING && status != TETHER_CHANGE_SYNCING)
        continue;
      key = g_strconcat (tether_sync_change_get_collection (change), "\n",
                         tether_sync_change_get_record_id (change), NULL);
      if ((record = g_hash_table_lookup (records, key)) == NULL)
        {
          record = g_new0 (RecordQueue, 1);
          record->pending_ids = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (records, g_steal_pointer (&key), record);
        }
      if (status == TETHER_CHANGE_SYNCING)
        record->busy = TRUE;
      else
        g_ptr_array_add (record->pending_ids, g_strdup (tether_sync_change_get_id (change)));
    }
  return records;
}

GHashTable *
_tether_inspector_held_back_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
}

/* A record stays held back while all the changes it had then are still
 * pending: the one sent before is among them. */
static gboolean
still_held (GHashTable  *held,
            RecordQueue *record)
{
  guint found = 0;

  for (guint i = 0; record != NULL && i < record->pending_ids->len; i++)
    found += g_hash_table_contains (held, g_ptr_array_index (record->pending_ids, i));
  return found == g_hash_table_size (held);
}

static gboolean
looks_compactable (RecordQueue *record)
{
  return record->pending_ids->len > 1 && !record->busy;
}

gboolean
_tether_inspector_find_compactable (GHashTable *held_back,
                                    GHashTable *records)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, held_back);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!still_held (value, g_hash_table_lookup (records, key)))
      g_hash_table_iter_remove (&iter);
  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (looks_compactable (value) && !g_hash_table_contains (held_back, key))
      return TRUE;
  return FALSE;
}

void
_tether_inspector_hold_back (GHashTable *held_back,
                             GHashTable *records)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, records);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      RecordQueue *record = value;
      GHashTable *held;

      if (!looks_compactable (record) || g_hash_table_contains (held_back, key))
        continue;
      held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      for (guint i = 0; i < record->pending_ids->len; i++)
        g_hash_table_add (held, g_strdup (g_ptr_array_index (record->pending_ids, i)));
      g_hash_table_insert (held_back, g_strdup (key), held);
    }
}
