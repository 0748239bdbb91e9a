/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-live-query"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-live-query-private.h"

/* A live query answers each committed change with the smallest
 * items-changed. For plain filtered/sorted queries it works incrementally:
 * it asks SQLite whether the changed record matches and for its sort keys
 * (so ordering is SQLite's own), then binary-searches the position. Queries
 * with limit/offset or bm25 ranking are re-run and diffed instead; for an
 * offset or a ranking, a change to any record may reorder the result (bm25
 * weighs each match against the whole collection), so they re-run on every
 * change, and other matches trading places are moved one by one. */

struct _TetherLiveQuery
{
  GObject           parent_instance;
  TetherQuery      *query;
  TetherCollection *collection;
  gulong            changed_id;
  TetherDatabase   *db;           /* weak: for "external-change" */
  gulong            external_id;
  GPtrArray        *items;        /* TetherLiveItem*, in query order */
  GHashTable       *by_id;        /* id → TetherLiveItem* (borrowed) */
  TetherCompiledQuery *match;     /* MATCH_ONE, for incremental updates */
  sqlite3_stmt     *match_stmt;
  gboolean         *descending;   /* per key, including the rowid tie-break */
  guint             n_keys;
  gboolean          incremental;
  gboolean          refresh_at_end; /* loaded inside a transaction */
  GSource          *retry;        /* a read failed: re-run until one succeeds */
};

/* A read fails while another process runs WAL recovery (BUSY) or the disk
 * has a moment; nothing else would show the change it missed until the
 * next commit, so the query re-runs on its own. */
#define RETRY_INTERVAL_MS 500

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherLiveQuery, tether_live_query, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_QUERY,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
get_item_type (GListModel *model)
{
  return TETHER_TYPE_RECORD;
}

static guint
get_n_items (GListModel *model)
{
  return TETHER_LIVE_QUERY (model)->items->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  TetherLiveQuery *self = TETHER_LIVE_QUERY (model);

  if (position >= self->items->len)
    return NULL;
  return g_object_ref (((TetherLiveItem *) g_ptr_array_index (self->items, position))->record);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

static void
emit (TetherLiveQuery *self,
      guint            position,
      guint            removed,
      guint            added)
{
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
  if (removed != added)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

/* Items ---------------------------------------------------------------------- */

static void
remove_at (TetherLiveQuery *self,
           guint            position)
{
  TetherLiveItem *item = g_ptr_array_index (self->items, position);

  g_hash_table_remove (self->by_id, tether_record_get_id (item->record));
  g_ptr_array_remove_index (self->items, position);
  emit (self, position, 1, 0);
}

static void
insert_at (TetherLiveQuery *self,
           guint            position,
           TetherLiveItem  *item)
{
  g_hash_table_insert (self->by_id, (gpointer) tether_record_get_id (item->record), item);
  g_ptr_array_insert (self->items, position, item);
  emit (self, position, 0, 1);
}

static void
replace_at (TetherLiveQuery *self,
            guint            position,
            TetherLiveItem  *item)
{
  TetherLiveItem *old = g_ptr_array_index (self->items, position);

  g_hash_table_remove (self->by_id, tether_record_get_id (old->record));
  g_hash_table_insert (self->by_id, (gpointer) tether_record_get_id (item->record), item);
  g_ptr_array_index (self->items, position) = item;
  _tether_live_item_free (old);
  emit (self, position, 1, 1);
}

/* Where @item sits (exact) or would go: keys end with rowid, so the order is total. */
static guint
search (TetherLiveQuery *self,
        TetherLiveItem  *item)
{
  guint lo = 0, hi = self->items->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (_tether_live_item_compare (g_ptr_array_index (self->items, mid), item,
                                     self->descending, self->n_keys) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Loading --------------------------------------------------------------------- */

/* Run the query with its sort keys; NULL on error. */
static GPtrArray *
fetch (TetherLiveQuery  *self,
       GError          **error)
{
  TetherDatabase *db = tether_collection_get_database (self->collection);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (_tether_live_item_free);
  g_autoptr(TetherCompiledQuery) compiled = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  if (tether_query_get_error (self->query) != NULL)
    {
      g_propagate_error (error, g_error_copy (tether_query_get_error (self->query)));
      return NULL;
    }
  compiled = _tether_query_compile (self->query, TETHER_COMPILE_SELECT_KEYS, error);
  if (compiled == NULL || (stmt = _tether_database_prepare (db, compiled->sql->str, error)) == NULL ||
      !_tether_compiled_query_bind (compiled, stmt, error))
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(TetherRecord) record = _tether_query_record_from_row (self->query, stmt);

      g_ptr_array_add (items, _tether_live_item_new (record, stmt, 4, self->n_keys));
    }
  if (rc != SQLITE_DONE)
    {
      _tether_database_set_error (db, rc, error, tether_collection_get_name (self->collection));
      return NULL;
    }
  return g_steal_pointer (&items);
}

static gboolean
prepare_match (TetherLiveQuery  *self,
               GError          **error)
{
  TetherDatabase *db = tether_collection_get_database (self->collection);

  g_clear_pointer (&self->match_stmt, sqlite3_finalize);
  g_clear_pointer (&self->match, _tether_compiled_query_free);
  self->match = _tether_query_compile (self->query, TETHER_COMPILE_MATCH_ONE, error);
  if (self->match == NULL)
    return FALSE;
  self->match_stmt = _tether_database_prepare (db, self->match->sql->str, error);
  return self->match_stmt != NULL && _tether_compiled_query_bind (self->match, self->match_stmt, error);
}

static gboolean refresh (TetherLiveQuery *self,
                         const char      *changed_id,
                         TetherRecord    *new_record);

static void
cancel_retry (TetherLiveQuery *self)
{
  if (self->retry != NULL)
    g_source_destroy (self->retry);
  g_clear_pointer (&self->retry, g_source_unref);
}

static gboolean
on_retry (gpointer data)
{
  TetherLiveQuery *self = data;
  TetherDatabase *db = tether_collection_get_database (self->collection);

  if (_tether_database_get_handle (db) == NULL)   /* closed: nothing will change */
    {
      g_clear_pointer (&self->retry, g_source_unref);
      return G_SOURCE_REMOVE;
    }
  /* inside a transaction a re-run would show uncommitted rows */
  if (tether_database_get_transaction_depth (db) == 0)
    refresh (self, NULL, NULL);   /* cancels the retry when it succeeds */
  return G_SOURCE_CONTINUE;
}

/* The result may be stale: re-run the whole query soon, and again until
 * it succeeds. Only the first failure in a row warns, and BUSY (another
 * process holds the file a moment) not even that. */
static void
read_failed (TetherLiveQuery *self,
             GError          *error)
{
  const char *name = tether_collection_get_name (self->collection);

  if (self->retry != NULL || g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_BUSY))
    g_debug ("live query on %s: %s; trying again", name, error->message);
  else
    g_warning ("live query on %s: %s; trying again", name, error->message);
  if (self->retry != NULL)
    return;
  self->retry = g_timeout_source_new (RETRY_INTERVAL_MS);
  g_source_set_static_name (self->retry, "[tether] live query retry");
  g_source_set_callback (self->retry, on_retry, self, NULL);
  g_source_attach (self->retry, g_main_context_get_thread_default ());
}

/* The changed record's item if it matches the query now, else NULL. */
static TetherLiveItem *
match_one (TetherLiveQuery *self,
           TetherRecord    *record)
{
  TetherLiveItem *item = NULL;
  int rc;

  sqlite3_reset (self->match_stmt);
  sqlite3_bind_text (self->match_stmt, self->match->bindings->len + 1,
                     tether_record_get_id (record), -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (self->match_stmt);
  if (rc == SQLITE_ROW)
    {
      g_autoptr(TetherRecord) shown = _tether_query_shown_record (self->query, record);

      item = _tether_live_item_new (shown, self->match_stmt, 0, self->n_keys);
    }
  else if (rc != SQLITE_DONE)
    {
      TetherDatabase *db = tether_collection_get_database (self->collection);
      g_autoptr(GError) error = NULL;

      _tether_database_set_error (db, rc, &error, tether_collection_get_name (self->collection));
      read_failed (self, error);
    }
  sqlite3_reset (self->match_stmt);
  return item;
}

static gint
position_of (TetherLiveQuery *self,
             const char      *id)
{
  TetherLiveItem *item = g_hash_table_lookup (self->by_id, id);
  guint position;

  if (item == NULL)
    return -1;
  if (self->incremental)
    return search (self, item);
  return g_ptr_array_find (self->items, item, &position) ? (gint) position : -1;
}

/* Incremental update --------------------------------------------------------- */

static void
apply_change (TetherLiveQuery *self,
              const char      *id,
              TetherRecord    *new_record)
{
  gint old_pos = position_of (self, id);
  TetherLiveItem *fresh = new_record ? match_one (self, new_record) : NULL;
  guint new_pos;

  if (old_pos < 0 && fresh == NULL)
    return;
  if (old_pos >= 0 && fresh != NULL &&
      _tether_live_item_compare (g_ptr_array_index (self->items, old_pos), fresh,
                                 self->descending, self->n_keys) == 0)
    {
      replace_at (self, old_pos, fresh);
      return;
    }
  if (old_pos >= 0 && fresh != NULL)
    {
      /* Moved: if it lands where it was, one (i,1,1) says it all. */
      TetherLiveItem *old = g_ptr_array_steal_index (self->items, old_pos);

      g_hash_table_remove (self->by_id, tether_record_get_id (old->record));
      _tether_live_item_free (old);
      new_pos = search (self, fresh);
      g_hash_table_insert (self->by_id, (gpointer) tether_record_get_id (fresh->record), fresh);
      g_ptr_array_insert (self->items, new_pos, fresh);
      if (new_pos == (guint) old_pos)
        {
          emit (self, new_pos, 1, 1);
          return;
        }
      g_ptr_array_steal_index (self->items, new_pos);
      emit (self, old_pos, 1, 0);
      g_ptr_array_insert (self->items, new_pos, fresh);
      emit (self, new_pos, 0, 1);
      return;
    }
  if (old_pos >= 0)
    remove_at (self, old_pos);
  else
    insert_at (self, search (self, fresh), fresh);
}

/* Re-run and diff (limit/offset, ranked search) -------------------------------- */

static const char *
item_id (GPtrArray *items,
         guint      i)
{
  return tether_record_get_id (((TetherLiveItem *) g_ptr_array_index (items, i))->record);
}

/* Which entries of @positions to keep: a longest increasing run (entries
 * below 0 never take part), found in O(n log n) by patience sorting so a
 * live search over thousands of matches stays cheap. Everything else moves. */
static gboolean *
longest_run (const gint *positions,
             guint       n)
{
  g_autofree guint *tails = g_new (guint, n + 1);     /* index of the smallest tail of each length */
  g_autofree gint *previous = g_new (gint, n);
  gboolean *keep = g_new0 (gboolean, n);
  guint length = 0;

  for (guint i = 0; i < n; i++)
    {
      guint lo = 0, hi = length;

      previous[i] = -1;
      if (positions[i] < 0)
        continue;
      while (lo < hi)
        {
          guint mid = lo + (hi - lo) / 2;

          if (positions[tails[mid]] < positions[i])
            lo = mid + 1;
          else
            hi = mid;
        }
      previous[i] = lo > 0 ? (gint) tails[lo - 1] : -1;
      tails[lo] = i;
      if (lo == length)
        length++;
    }
  for (gint i = length > 0 ? (gint) tails[length - 1] : -1; i >= 0; i = previous[i])
    keep[i] = TRUE;
  return keep;
}

/* In an incremental query the sort keys place records by binary search, so
 * they must be the fresh ones too. */
static gboolean
is_stale (TetherLiveQuery *self,
          guint            position,
          TetherLiveItem  *fresh,
          const char      *changed_id)
{
  if (changed_id != NULL)
    return g_str_equal (tether_record_get_id (fresh->record), changed_id);
  return !_tether_live_item_same (g_ptr_array_index (self->items, position), fresh,
                                  self->descending, self->incremental ? self->n_keys : 0);
}

/* Which records keep their place: the longest run of unchanged ones still in
 * order, then each changed one that still sits between its kept neighbours
 * (it needs a signal anyway, and one in place is cheaper than a move). */
static gboolean *
choose_kept (const gint     *positions,
             const gboolean *stale,
             guint           n)
{
  g_autofree gint *unchanged = g_new (gint, n);
  g_autofree gint *next = g_new (gint, n + 1);   /* fresh position of the next kept one */
  gboolean *keep;
  gint last = -1;

  for (guint k = 0; k < n; k++)
    unchanged[k] = stale[positions[k]] ? -1 : positions[k];
  keep = longest_run (unchanged, n);
  next[n] = G_MAXINT;
  for (guint k = n; k-- > 0;)
    next[k] = keep[k] ? positions[k] : next[k + 1];
  for (guint k = 0; k < n; k++)
    {
      if (stale[positions[k]])
        keep[k] = last < positions[k] && positions[k] < next[k + 1];
      if (keep[k])
        last = positions[k];
    }
  return keep;
}

/* Turn the current list into @fresh with single-item signals: drop what left,
 * move the fewest records (choose_kept), insert what arrived, and replace in
 * place what changed. A local change touches @changed_id only, so this is
 * two or three signals, never a reset; without it (another connection
 * committed) every record still shown is compared with its fresh copy. */
static void
diff_into (TetherLiveQuery *self,
           GPtrArray       *fresh,
           const char      *changed_id)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gboolean *stale = g_new0 (gboolean, fresh->len + 1);  /* by fresh position */
  g_autofree gint *positions = NULL;
  g_autofree gboolean *keep = NULL;
  guint n;

  for (guint k = 0; k < fresh->len; k++)
    g_hash_table_insert (wanted, (gpointer) item_id (fresh, k), GUINT_TO_POINTER (k + 1));
  for (guint k = self->items->len; k-- > 0;)
    if (!g_hash_table_contains (wanted, item_id (self->items, k)))
      remove_at (self, k);

  n = self->items->len;
  positions = g_new (gint, n);
  for (guint k = 0; k < n; k++)
    {
      positions[k] = GPOINTER_TO_UINT (g_hash_table_lookup (wanted, item_id (self->items, k))) - 1;
      stale[positions[k]] = is_stale (self, k, g_ptr_array_index (fresh, positions[k]), changed_id);
    }
  keep = choose_kept (positions, stale, n);
  for (guint k = n; k-- > 0;)
    if (!keep[k])
      remove_at (self, k);

  for (guint i = 0; i < fresh->len; i++)
    {
      TetherLiveItem *item = g_ptr_array_index (fresh, i);

      g_ptr_array_index (fresh, i) = NULL;
      if (i >= self->items->len || !g_str_equal (item_id (self->items, i), tether_record_get_id (item->record)))
        insert_at (self, i, item);
      else if (stale[i])
        replace_at (self, i, item);
      else
        _tether_live_item_free (item);
    }
}

/* Whether a change to a record outside the result may still change it: an
 * offset window shifts when a record before it goes, and bm25 weighs every
 * match against statistics of the whole collection. */
static gboolean
changes_reach_everything (TetherLiveQuery *self)
{
  return _tether_query_get_offset (self->query) > 0 ||
         (_tether_query_get_sorts (self->query)->len == 0 && _tether_query_get_match (self->query) != NULL);
}

static gboolean
refresh (TetherLiveQuery *self,
         const char      *changed_id,
         TetherRecord    *new_record)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fresh = NULL;

  /* after a failed read any record may have changed unseen */
  if (self->retry != NULL)
    changed_id = NULL;
  if (changed_id != NULL && !g_hash_table_contains (self->by_id, changed_id) &&
      !changes_reach_everything (self))
    {
      TetherLiveItem *probe = new_record ? match_one (self, new_record) : NULL;

      if (probe == NULL)
        return TRUE;   /* neither in the result before nor matching now */
      _tether_live_item_free (probe);
    }
  fresh = fetch (self, &error);
  if (fresh == NULL)
    {
      read_failed (self, error);
      return FALSE;
    }
  cancel_retry (self);
  diff_into (self, fresh, changed_id);
  return TRUE;
}

static void
on_changed (TetherCollection *collection,
            TetherChangeType  type,
            const char       *id,
            TetherRecord     *old_record,
            TetherRecord     *new_record,
            TetherLiveQuery  *self)
{
  if (self->incremental)
    apply_change (self, id, new_record);
  else
    refresh (self, id, new_record);
}

/* Another connection committed: which records changed is unknown, so
 * re-run and diff, whatever the kind of query. */
static void
on_external_change (TetherDatabase  *db,
                    TetherLiveQuery *self)
{
  refresh (self, NULL, NULL);
}

/* Setting up -------------------------------------------------------------------- */

static void
configure_keys (TetherLiveQuery *self)
{
  GArray *sorts = _tether_query_get_sorts (self->query);
  gboolean last_desc = FALSE;

  g_free (self->descending);
  self->n_keys = sorts->len + 1;
  self->descending = g_new0 (gboolean, self->n_keys);
  for (guint i = 0; i < sorts->len; i++)
    self->descending[i] = last_desc = g_array_index (sorts, TetherSort, i).descending;
  self->descending[sorts->len] = last_desc;   /* the rowid tie-break, as compiled */
  self->incremental = _tether_query_get_limit (self->query) < 0 &&
                      _tether_query_get_offset (self->query) == 0 &&
                      !(sorts->len == 0 && _tether_query_get_match (self->query) != NULL);
}

/* A new query over many of the same records (a search as you type): keep
 * the objects of records that did not change, so that views which know
 * them (rows bound to them) can keep them. */
static void
reuse_records (TetherLiveQuery *self,
               GPtrArray       *fresh)
{
  for (guint i = 0; i < fresh->len && g_hash_table_size (self->by_id) > 0; i++)
    {
      TetherLiveItem *item = g_ptr_array_index (fresh, i);
      TetherLiveItem *old = g_hash_table_lookup (self->by_id, tether_record_get_id (item->record));

      if (old != NULL && _tether_live_item_same (old, item, NULL, 0))
        {
          g_object_unref (item->record);
          item->record = g_object_ref (old->record);
        }
    }
}

/* Loaded inside a transaction, the result holds what the transaction wrote
 * so far; if it rolls back no signal says so. When it ends, either way,
 * re-run and diff. */
static void
refresh_after_transaction (GObject  *target,
                           gpointer  data)
{
  TetherLiveQuery *self = TETHER_LIVE_QUERY (target);

  self->refresh_at_end = FALSE;
  if (self->query != NULL)   /* not disposed meanwhile */
    refresh (self, NULL, NULL);
}

static void
check_transaction (TetherLiveQuery *self)
{
  TetherDatabase *db = tether_collection_get_database (self->collection);

  if (self->refresh_at_end || tether_database_get_transaction_depth (db) == 0)
    return;
  self->refresh_at_end = TRUE;
  _tether_database_call_at_end (db, G_OBJECT (self), refresh_after_transaction, NULL, NULL);
}

/* Load @query's result; on success it replaces the current one. */
static gboolean
load (TetherLiveQuery  *self,
      TetherQuery      *query,
      GError          **error)
{
  g_autoptr(TetherQuery) previous = self->query;
  g_autoptr(GPtrArray) items = NULL;
  guint removed = self->items->len;

  self->query = _tether_query_copy (query);
  configure_keys (self);
  if (!prepare_match (self, error) || (items = fetch (self, error)) == NULL)
    {
      g_clear_object (&self->query);
      self->query = g_steal_pointer (&previous);
      if (self->query != NULL)
        {
          configure_keys (self);
          prepare_match (self, NULL);
        }
      return FALSE;
    }
  cancel_retry (self);   /* the new result is fresh */
  reuse_records (self, items);
  g_hash_table_remove_all (self->by_id);
  g_ptr_array_unref (self->items);
  self->items = g_steal_pointer (&items);
  for (guint i = 0; i < self->items->len; i++)
    g_hash_table_insert (self->by_id, (gpointer) item_id (self->items, i), g_ptr_array_index (self->items, i));
  if (removed > 0 || self->items->len > 0)
    emit (self, 0, removed, self->items->len);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUERY]);
  check_transaction (self);
  return TRUE;
}

TetherLiveQuery *
tether_live_query_new (TetherQuery  *query,
                       GError      **error)
{
  g_autoptr(TetherLiveQuery) self = NULL;

  g_return_val_if_fail (TETHER_IS_QUERY (query), NULL);

  self = g_object_new (TETHER_TYPE_LIVE_QUERY, NULL);
  self->collection = g_object_ref (tether_query_get_collection (query));
  if (!load (self, query, error))
    return NULL;
  self->changed_id = g_signal_connect (self->collection, "changed", G_CALLBACK (on_changed), self);
  g_set_weak_pointer (&self->db, tether_collection_get_database (self->collection));
  self->external_id = g_signal_connect (self->db, "external-change",
                                        G_CALLBACK (on_external_change), self);
  _tether_database_watch_poll (_tether_database_get_watch (self->db));
  return g_steal_pointer (&self);
}

TetherQuery *
tether_live_query_get_query (TetherLiveQuery *self)
{
  g_return_val_if_fail (TETHER_IS_LIVE_QUERY (self), NULL);
  return self->query;
}

gboolean
tether_live_query_set_query (TetherLiveQuery  *self,
                             TetherQuery      *query,
                             GError          **error)
{
  g_return_val_if_fail (TETHER_IS_LIVE_QUERY (self), FALSE);
  g_return_val_if_fail (TETHER_IS_QUERY (query), FALSE);
  g_return_val_if_fail (tether_query_get_collection (query) == self->collection, FALSE);

  return load (self, query, error);
}

gint
tether_live_query_find (TetherLiveQuery *self,
                        const char      *id)
{
  g_return_val_if_fail (TETHER_IS_LIVE_QUERY (self), -1);
  g_return_val_if_fail (id != NULL, -1);
  return position_of (self, id);
}

static void
tether_live_query_dispose (GObject *object)
{
  TetherLiveQuery *self = TETHER_LIVE_QUERY (object);

  g_clear_signal_handler (&self->changed_id, self->collection);
  if (self->db != NULL)
    g_clear_signal_handler (&self->external_id, self->db);
  g_clear_weak_pointer (&self->db);
  cancel_retry (self);
  g_clear_pointer (&self->match_stmt, sqlite3_finalize);
  g_clear_pointer (&self->match, _tether_compiled_query_free);
  g_clear_object (&self->query);
  g_clear_object (&self->collection);
  G_OBJECT_CLASS (tether_live_query_parent_class)->dispose (object);
}

static void
tether_live_query_finalize (GObject *object)
{
  TetherLiveQuery *self = TETHER_LIVE_QUERY (object);

  g_hash_table_unref (self->by_id);
  g_ptr_array_unref (self->items);
  g_free (self->descending);
  G_OBJECT_CLASS (tether_live_query_parent_class)->finalize (object);
}

static void
tether_live_query_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TetherLiveQuery *self = TETHER_LIVE_QUERY (object);

  switch (prop_id)
    {
    case PROP_QUERY:
      g_value_set_object (value, self->query);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_live_query_class_init (TetherLiveQueryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_live_query_dispose;
  object_class->finalize = tether_live_query_finalize;
  object_class->get_property = tether_live_query_get_property;

  properties[PROP_QUERY] =
    g_param_spec_object ("query", NULL, NULL, TETHER_TYPE_QUERY,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_live_query_init (TetherLiveQuery *self)
{
  self->items = g_ptr_array_new_with_free_func (_tether_live_item_free);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
}
