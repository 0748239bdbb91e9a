/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include "tether-inspector-private.h"

/* The conflicts page's list, kept in step with the conflict log. A row is
 * a widget a person may have focused or scrolled to: a read of the log
 * replaces only the rows whose conflicts changed, so a new conflict comes
 * in on top and everything below it stays as it was. */

static gboolean
same_object (JsonObject *a,
             JsonObject *b)
{
  return a == NULL || b == NULL ? a == b : json_object_equal (a, b);
}

/* What a row shows of a conflict, and what moves it in place: a decision,
 * a restore, a newer server version or a newer local side. */
static gboolean
same_state (TetherConflict *a,
            TetherConflict *b)
{
  return g_str_equal (tether_conflict_get_id (a), tether_conflict_get_id (b)) &&
         tether_conflict_get_status (a) == tether_conflict_get_status (b) &&
         tether_conflict_get_winner (a) == tether_conflict_get_winner (b) &&
         tether_conflict_get_resolved (a) == tether_conflict_get_resolved (b) &&
         tether_conflict_get_remote_rev (a) == tether_conflict_get_remote_rev (b) &&
         g_strcmp0 (tether_conflict_get_remote_hlc (a), tether_conflict_get_remote_hlc (b)) == 0 &&
         g_strcmp0 (tether_conflict_get_local_hlc (a), tether_conflict_get_local_hlc (b)) == 0 &&
         same_object (tether_conflict_get_local (a), tether_conflict_get_local (b)) &&
         same_object (tether_conflict_get_remote (a), tether_conflict_get_remote (b));
}

static gboolean
shows (GListModel     *model,
       guint           position,
       TetherConflict *conflict)
{
  g_autoptr(TetherConflict) shown = g_list_model_get_item (model, position);

  return same_state (shown, conflict);
}

guint
_tether_inspector_update_conflicts (GListStore *store,
                                    GPtrArray  *log)
{
  GListModel *model = G_LIST_MODEL (store);
  guint n_shown = g_list_model_get_n_items (model);
  g_autoptr(GPtrArray) fresh = g_ptr_array_sized_new (log->len);
  guint head = 0, tail = 0, open = 0;

  for (guint i = log->len; i > 0; i--)
    g_ptr_array_add (fresh, g_ptr_array_index (log, i - 1));
  while (head < MIN (n_shown, fresh->len) && shows (model, head, g_ptr_array_index (fresh, head)))
    head++;
  while (tail < MIN (n_shown, fresh->len) - head &&
         shows (model, n_shown - 1 - tail, g_ptr_array_index (fresh, fresh->len - 1 - tail)))
    tail++;
  if (head + tail < MAX (n_shown, fresh->len))
    g_list_store_splice (store, head, n_shown - head - tail, fresh->pdata + head, fresh->len - head - tail);
  for (guint i = 0; i < fresh->len; i++)
    open += tether_conflict_get_status (g_ptr_array_index (fresh, i)) == TETHER_CONFLICT_OPEN;
  return open;
}
