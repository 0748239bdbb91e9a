/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include "tether-inspector-private.h"

/* The conflicts page's list, kept in step with the conflict log. A row is
 * a widget a person may have focused or scrolled to: a read of the log
 * replaces only the rows whose conflicts changed, by conflict id, as
 * TetherChangeModel does for the queue; new conflicts come in on top and
 * the rows of the others stay as they were. */

static gboolean
same_id (TetherConflict *a,
         TetherConflict *b)
{
  return g_str_equal (tether_conflict_get_id (a), tether_conflict_get_id (b));
}

/* Which shown conflicts keep their rows: those still in @fresh, in the
 * same order (the log's order does not change, so that is all of them). */
static gboolean *
match_shown (GPtrArray *shown,
             GPtrArray *fresh)
{
  g_autoptr(GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean *kept = g_new0 (gboolean, shown->len + 1);
  guint last = 0;   /* 1 + the position in @fresh of the previous kept one */

  for (guint j = 0; j < fresh->len; j++)
    g_hash_table_insert (index, (gpointer) tether_conflict_get_id (g_ptr_array_index (fresh, j)),
                         GUINT_TO_POINTER (j + 1));
  for (guint i = 0; i < shown->len; i++)
    {
      guint at = GPOINTER_TO_UINT (g_hash_table_lookup (index, tether_conflict_get_id (g_ptr_array_index (shown, i))));

      kept[i] = at > last;
      if (kept[i])
        last = at;
    }
  return kept;
}

static GPtrArray *
snapshot (GListModel *model)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    g_ptr_array_add (items, g_list_model_get_item (model, i));
  return items;
}

/* Walk both lists side by side: a kept conflict that changed is replaced
 * in place; the ones gone and the new ones between two kept ones go out
 * and in as one range. */
static void
apply_fresh (GListStore *store,
             GPtrArray  *fresh)
{
  g_autoptr(GPtrArray) shown = snapshot (G_LIST_MODEL (store));
  g_autofree gboolean *kept = match_shown (shown, fresh);
  guint i = 0, j = 0, pos = 0;

  while (i < shown->len || j < fresh->len)
    {
      guint removed = 0, added = 0;

      if (i < shown->len && kept[i] && same_id (g_ptr_array_index (shown, i), g_ptr_array_index (fresh, j)))
        {
          if (!tether_conflict_equal (g_ptr_array_index (shown, i), g_ptr_array_index (fresh, j)))
            g_list_store_splice (store, pos, 1, fresh->pdata + j, 1);
          i++, j++, pos++;
          continue;
        }
      while (i + removed < shown->len && !kept[i + removed])
        removed++;
      while (j + added < fresh->len &&
             !(i + removed < shown->len && same_id (g_ptr_array_index (shown, i + removed),
                                                     g_ptr_array_index (fresh, j + added))))
        added++;
      g_list_store_splice (store, pos, removed, fresh->pdata + j, added);
      i += removed, j += added, pos += added;
    }
}

guint
_tether_inspector_update_conflicts (GListStore *store,
                                    GPtrArray  *log)
{
  g_autoptr(GPtrArray) fresh = g_ptr_array_sized_new (log->len);
  guint open = 0;

  for (guint i = log->len; i > 0; i--)
    g_ptr_array_add (fresh, g_ptr_array_index (log, i - 1));
  apply_fresh (store, fresh);
  for (guint i = 0; i < fresh->len; i++)
    open += tether_conflict_get_status (g_ptr_array_index (fresh, i)) == TETHER_CONFLICT_OPEN;
  return open;
}
