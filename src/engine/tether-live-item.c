/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-live-query"
#include "config.h"

#include <string.h>

#include "tether-live-query-private.h"

TetherLiveItem *
_tether_live_item_new (TetherRecord *record,
                       sqlite3_stmt *stmt,
                       int           first_col,
                       guint         n_keys)
{
  TetherLiveItem *item = g_malloc0 (sizeof (TetherLiveItem) + n_keys * sizeof (TetherLiveKey));

  item->record = g_object_ref (record);
  item->n_keys = n_keys;
  for (guint k = 0; k < n_keys; k++)
    {
      TetherLiveKey *key = &item->keys[k];
      int col = first_col + k;

      key->type = sqlite3_column_type (stmt, col);
      if (key->type == SQLITE_INTEGER)
        key->i = sqlite3_column_int64 (stmt, col);
      else if (key->type == SQLITE_FLOAT)
        key->d = sqlite3_column_double (stmt, col);
      else if (key->type == SQLITE_TEXT || key->type == SQLITE_BLOB)
        {
          key->type = SQLITE_TEXT;
          key->len = sqlite3_column_bytes (stmt, col);
          key->s = g_memdup2 (sqlite3_column_text (stmt, col), key->len + 1);
        }
      else
        key->type = SQLITE_NULL;
    }
  return item;
}

void
_tether_live_item_free (gpointer data)
{
  TetherLiveItem *item = data;

  if (item == NULL)
    return;
  for (guint k = 0; k < item->n_keys; k++)
    if (item->keys[k].type == SQLITE_TEXT)
      g_free (item->keys[k].s);
  g_object_unref (item->record);
  g_free (item);
}

static int
type_class (int type)
{
  switch (type)
    {
    case SQLITE_NULL:    return 0;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:   return 1;
    default:             return 2;
    }
}

/* An INTEGER against a REAL the way SQLite's sqlite3IntFloatCompare() does:
 * through long double where that is wider than double, which is exact on
 * x86-64 hardware; under valgrind long double has only double's precision
 * and SQLite's ORDER BY then ties 2^53 + 1 with 2^53, so the live model must
 * tie them too or it would disagree with a fresh run of its own query. */
static int
compare_int_real (gint64 i,
                  double d)
{
  if (sizeof (long double) > sizeof (double))
    {
      long double x = (long double) i;

      return x < d ? -1 : x > d;
    }
  return _tether_compare_int_double (i, d);
}

static int
compare_key (const TetherLiveKey *a,
             const TetherLiveKey *b)
{
  int ca = type_class (a->type), cb = type_class (b->type);

  if (ca != cb)
    return ca < cb ? -1 : 1;
  if (ca == 0)
    return 0;
  if (ca == 1)
    {
      /* as SQLite does: as doubles 2^53 + 1 would equal 2^53 */
      if (a->type == SQLITE_INTEGER && b->type == SQLITE_INTEGER)
        return a->i < b->i ? -1 : a->i > b->i;
      if (a->type == SQLITE_INTEGER)
        return compare_int_real (a->i, b->d);
      if (b->type == SQLITE_INTEGER)
        return -compare_int_real (b->i, a->d);
      return a->d < b->d ? -1 : a->d > b->d;
    }
  else
    {
      int c = memcmp (a->s, b->s, MIN (a->len, b->len));

      if (c != 0)
        return c < 0 ? -1 : 1;
      return a->len < b->len ? -1 : a->len > b->len;
    }
}

int
_tether_live_item_compare (const TetherLiveItem *a,
                           const TetherLiveItem *b,
                           const gboolean       *descending,
                           guint                 n_keys)
{
  for (guint k = 0; k < n_keys; k++)
    {
      int c = compare_key (&a->keys[k], &b->keys[k]);

      if (c != 0)
        return descending[k] ? -c : c;
    }
  return 0;
}

/* Whether @fresh, read again after another connection's commit, still shows
 * what @old shows: same times and JSON text, and (for the first @n_keys
 * keys) the same position. */
gboolean
_tether_live_item_same (const TetherLiveItem *old,
                        const TetherLiveItem *fresh,
                        const gboolean       *descending,
                        guint                 n_keys)
{
  g_autofree char *old_text = NULL;
  g_autofree char *fresh_text = NULL;

  if (old->record == fresh->record)
    return TRUE;
  if (tether_record_get_updated_at (old->record) != tether_record_get_updated_at (fresh->record) ||
      tether_record_get_created_at (old->record) != tether_record_get_created_at (fresh->record) ||
      _tether_live_item_compare (old, fresh, descending, n_keys) != 0)
    return FALSE;
  /* Two writes in one millisecond keep the time: the text tells. */
  old_text = tether_record_to_json (old->record);
  fresh_text = tether_record_to_json (fresh->record);
  return g_strcmp0 (old_text, fresh_text) == 0;
}
