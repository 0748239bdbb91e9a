/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-pull"
#include "config.h"

#include <string.h>

#include "tether-sync-engine-private.h"

/* The pull half of a sync, and applying pulled changes (also those that
 * arrive as server_push). Each page is applied with its cursor in one
 * transaction; a change for a record with local edits not yet pushed is
 * merged, never applied blindly (docs/sync.md, "Pull"). */

#define PULL_BATCH     500      /* one page in flight while one is stored: the memory of one 1,000-page */
#define MAX_PULL_PAGES 100000   /* bounded loop */
#define MAX_CYCLES     4        /* push → pull rounds when merges leave new changes */

/* Pulled records without local edits are written together when the page
 * is done (_tether_collection_write_many); the shadow at once, so a later
 * change of the same record in the page sees it. */
typedef struct {
  GHashTable *by_record;       /* "collection\x1fid" → TetherBulkWrite*, borrowed */
  GHashTable *by_collection;   /* name → GPtrArray of TetherBulkWrite* */
  gboolean    any_edits;       /* some record had local edits when the page began */
} PageWrites;

static void
page_writes_clear (PageWrites *writes)
{
  g_clear_pointer (&writes->by_record, g_hash_table_unref);
  g_clear_pointer (&writes->by_collection, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PageWrites, page_writes_clear)

/* The record's write in @writes; its old record is read once, before the
 * page writes anything, so it is the one the page's writes replace. */
static TetherBulkWrite *
page_write_for (TetherSyncEngine *self,
                PageWrites       *writes,
                TetherPullChange *change,
                GError          **error)
{
  g_autofree char *key = _tether_sync_record_key (change->collection, change->record_id);
  TetherBulkWrite *write = g_hash_table_lookup (writes->by_record, key);
  g_autoptr(GError) local_error = NULL;
  TetherCollection *c;
  GPtrArray *list;

  if (write != NULL)
    return write;
  if ((c = tether_database_get_collection (self->db, change->collection, error)) == NULL)
    return NULL;
  write = g_new0 (TetherBulkWrite, 1);
  write->old_record = tether_collection_get (c, change->record_id, &local_error);
  if (write->old_record == NULL &&
      !g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    {
      _tether_bulk_write_free (write);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if ((list = g_hash_table_lookup (writes->by_collection, change->collection)) == NULL)
    {
      list = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_bulk_write_free);
      g_hash_table_insert (writes->by_collection, g_strdup (change->collection), list);
    }
  g_ptr_array_add (list, write);
  g_hash_table_insert (writes->by_record, g_steal_pointer (&key), write);
  return write;
}

/* Whether @local holds @remote's own member nodes in @remote's order: its
 * text is then @remote's. The local copy shares the pulled nodes and
 * validation replaces any node it changes (they are immutable). */
static gboolean
same_nodes (JsonObject *local,
            JsonObject *remote)
{
  JsonObjectIter a, b;
  const char *name_a, *name_b;
  JsonNode *node_a, *node_b;

  if (json_object_get_size (local) != json_object_get_size (remote))
    return FALSE;
  json_object_iter_init_ordered (&a, local);
  json_object_iter_init_ordered (&b, remote);
  while (json_object_iter_next_ordered (&a, &name_a, &node_a))
    if (!json_object_iter_next_ordered (&b, &name_b, &node_b) || node_a != node_b ||
        strcmp (name_a, name_b) != 0)
      return FALSE;
  return TRUE;
}

/* The text of a pulled record (NULL for a delete). A number JSON cannot
 * write (json-glib reads 1e999 as infinity) or text that is not UTF-8 was
 * stored as null or as it came: like any change a Tether server would not
 * send, it fails the page. */
static gboolean
pulled_text (TetherPullChange  *change,
             char             **text,
             GError           **error)
{
  g_autofree char *record = NULL;
  g_autoptr(GError) local_error = NULL;

  *text = NULL;
  if (change->data == NULL)
    return TRUE;
  record = g_strdup_printf ("%s/%s", change->collection, change->record_id);
  *text = _tether_json_object_to_string_checked (change->data, record, &local_error);
  if (*text != NULL)
    return TRUE;
  g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL,
               "the server's answer is not Tether sync protocol: %s", local_error->message);
  return FALSE;
}

/* The record and its shadow get the same text (@text, taken) when the
 * local copy adds nothing (its "id" was there, no default was missing):
 * one serialisation instead of two, 5% of a pull. */
static gboolean
write_remote (TetherSyncEngine *self,
              PageWrites       *writes,
              TetherPullChange *change,
              char             *text_in,
              GError          **error)
{
  g_autofree char *text = text_in;
  TetherBulkWrite *write = page_write_for (self, writes, change, error);

  if (write == NULL)
    return FALSE;
  g_clear_pointer (&write->data, json_object_unref);
  g_clear_pointer (&write->text, g_free);
  if (change->data != NULL)
    write->data = _tether_sync_local_data (self, change->collection, change->record_id, change->data);
  if (!_tether_sync_store_shadow_set (self->db, change->collection, change->record_id,
                                      MAX (change->rev, 0), text, change->hlc, error))
    return FALSE;
  if (write->data != NULL && same_nodes (write->data, change->data))
    write->text = g_steal_pointer (&text);
  return TRUE;
}

static gboolean
write_page (TetherSyncEngine *self,
            PageWrites       *writes,
            GError          **error)
{
  GHashTableIter iter;
  gpointer name, list;

  g_hash_table_iter_init (&iter, writes->by_collection);
  while (g_hash_table_iter_next (&iter, &name, &list))
    {
      TetherCollection *c = tether_database_get_collection (self->db, name, error);

      if (c == NULL || !_tether_collection_write_many (c, list, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
has_local_edits (TetherSyncEngine *self,
                 TetherPullChange *change,
                 gboolean         *edits,
                 GError          **error)
{
  g_autoptr(GPtrArray) rows = _tether_sync_store_record_changes (self->db, change->collection,
                                                                 change->record_id, error);

  if (rows == NULL)
    return FALSE;
  *edits = rows->len > 0 ||
           _tether_sync_store_has_open_conflict (self->db, change->collection, change->record_id);
  return TRUE;
}

/* Our own accepted push comes back in the feed: the shadow already has it. */
static gboolean
is_known (TetherSyncEngine *self,
          TetherPullChange *change,
          gboolean         *known,
          GError          **error)
{
  gint64 rev = 0;

  *known = FALSE;
  if (change->rev < 0)
    {
      _tether_sync_engine_set_seed_compat (self, TRUE);
      return TRUE;
    }
  if (!_tether_sync_store_shadow_get (self->db, change->collection, change->record_id,
                                      &rev, NULL, NULL, error))
    return FALSE;
  *known = change->rev <= rev;
  return TRUE;
}

static gboolean
apply_one (TetherSyncEngine *self,
           PageWrites       *writes,
           TetherPullChange *change,
           TetherSyncReport *report,
           GError          **error)
{
  g_autofree char *text = NULL;
  gboolean known, edits;

  if (change->hlc != NULL)
    tether_hlc_observe (self->hlc, change->hlc);
  if (!tether_schema_has_collection (tether_database_get_schema (self->db), change->collection))
    {
      g_debug ("skipping a change to %s: not a collection of this schema", change->collection);
      report->skipped++;
      return TRUE;
    }
  if (!is_known (self, change, &known, error))
    return FALSE;
  if (known)
    {
      report->skipped++;
      return TRUE;
    }
  if (!pulled_text (change, &text, error))
    return FALSE;
  /* No record had edits when the page began, so none has now: merging,
   * the only way a page adds entries, needs a record with edits. */
  edits = FALSE;
  if (writes->any_edits && !has_local_edits (self, change, &edits, error))
    return FALSE;
  report->applied++;
  if (!edits)
    return write_remote (self, writes, change, g_steal_pointer (&text), error);
  report->merged++;
  return _tether_sync_resolve (self, change->collection, change->record_id, NULL, change->data,
                               MAX (change->rev, 0), change->hlc, 0, report, error);
}

gboolean
_tether_sync_apply_changes (TetherSyncEngine *self,
                            GPtrArray        *changes,
                            TetherSyncReport *report,
                            GError          **error)
{
  g_auto(PageWrites) writes = {
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref),
    FALSE,
  };

  if (!_tether_sync_store_any_local_edits (self->db, &writes.any_edits, error))
    return FALSE;
  for (guint i = 0; i < changes->len; i++)
    if (!apply_one (self, &writes, g_ptr_array_index (changes, i), report, error))
      return FALSE;
  return write_page (self, &writes, error) && _tether_sync_save_clock (self, error);
}

static void
remember_seen (TetherSyncOp       *op,
               TetherPullResponse *page)
{
  for (guint i = 0; op->seen != NULL && i < page->changes->len; i++)
    {
      TetherPullChange *change = g_ptr_array_index (page->changes, i);

      g_hash_table_add (op->seen, _tether_sync_record_key (change->collection, change->record_id));
    }
}

/* After a 410 the server purged tombstones we never pulled: a record we
 * had from the server that the full pull did not mention was deleted
 * there. Local edits of it survive (an edit wins over a delete). In a
 * resync from another feed (op->retarget) the server never had the record:
 * only the shadows of edited records are left, and they go. */
static gboolean
forget_purged (TetherSyncEngine *self,
               TetherSyncOp     *op,
               GError          **error)
{
  g_autoptr(sqlite3_stmt) stmt = _tether_database_prepare (self->db,
    "SELECT collection, record_id FROM _tether_shadow WHERE data IS NOT NULL", error);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  int rc;

  if (stmt == NULL)
    return FALSE;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *collection = (const char *) sqlite3_column_text (stmt, 0);
      const char *record_id = (const char *) sqlite3_column_text (stmt, 1);
      g_autofree char *key = _tether_sync_record_key (collection, record_id);

      if (!g_hash_table_contains (op->seen, key))
        {
          g_ptr_array_add (gone, g_strdup (collection));
          g_ptr_array_add (gone, g_strdup (record_id));
        }
    }
  if (rc != SQLITE_DONE)
    return _tether_database_set_error (self->db, rc, error, "reading the shadow copies");
  for (guint i = 0; i < gone->len; i += 2)
    {
      g_autoptr(GPtrArray) rows = _tether_sync_store_record_changes (self->db, gone->pdata[i],
                                                                     gone->pdata[i + 1], error);
      /* a collection the schema dropped has no local record to delete */
      gboolean known = tether_schema_has_collection (tether_database_get_schema (self->db), gone->pdata[i]);

      if (rows == NULL ||
          (rows->len == 0 && known && !op->retarget &&
           !_tether_sync_write_local (self, gone->pdata[i], gone->pdata[i + 1], NULL, error)) ||
          !_tether_sync_store_shadow_set (self->db, gone->pdata[i], gone->pdata[i + 1], 0, NULL, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* The page's cursor, in its transaction. A resync after a 410 keeps its
 * cursor in memory until its last page, stored there with forget_purged:
 * a crash or a lost connection halfway leaves the expired cursor stored,
 * so the next sync starts the resync over instead of going on from the
 * middle and never forgetting what the server purged. */
static gboolean
store_cursor (TetherSyncEngine   *self,
              TetherSyncOp       *op,
              TetherPullResponse *page,
              GError            **error)
{
  if (op->seen == NULL)
    return (page->cursor == NULL || _tether_sync_engine_set_cursor (self, page->cursor, error)) &&
           (page->has_more || _tether_sync_retarget_finish (self, op, error));
  if (page->cursor != NULL)
    {
      g_free (op->resync_cursor);
      op->resync_cursor = g_strdup (page->cursor);
    }
  if (page->has_more)
    return TRUE;
  return _tether_sync_engine_set_cursor (self, op->resync_cursor, error) && forget_purged (self, op, error) &&
         _tether_sync_retarget_finish (self, op, error);
}

static gboolean
store_page (TetherSyncEngine   *self,
            TetherSyncOp       *op,
            TetherPullResponse *page,
            GError            **error)
{
  remember_seen (op, page);
  if (!tether_database_begin (self->db, error))
    return FALSE;
  if (!_tether_sync_apply_changes (self, page->changes, &op->report, error) ||
      !store_cursor (self, op, page, error))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  return tether_database_commit (self->db, error);
}

static gboolean
outbox_empty (TetherSyncEngine *self)
{
  g_autoptr(GPtrArray) rows = _tether_sync_store_outbox (self->db, 1, NULL, NULL);

  return rows == NULL || rows->len == 0;
}

/* Pulled to the end. Merges may have left changes to push back; local
 * writes may have arrived meanwhile: go round again, a bounded number of times. */
static void
pull_done (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);

  if (op->push_failed != NULL)
    _tether_sync_op_fail (task, g_steal_pointer (&op->push_failed));
  else if (!outbox_empty (op->engine) && ++op->cycles < MAX_CYCLES)
    _tether_sync_push_next (task);
  else
    _tether_sync_op_finish (task);
}

static void request_page (GTask      *task,
                          const char *cursor);

/* A page with more to come must end past where it started: asked again
 * from the same place, a server would answer the same page for ever. */
static gboolean
cursor_moves (TetherSyncOp        *op,
              TetherPullResponse  *page,
              GError             **error)
{
  g_autofree char *where = NULL;

  if (!page->has_more || (page->cursor != NULL && g_strcmp0 (page->cursor, op->pull_cursor) != 0))
    return TRUE;
  where = op->pull_cursor != NULL ? g_strdup_printf ("cursor %s", op->pull_cursor) : g_strdup ("the start");
  g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL,
               "the server said there was more to pull after %s but gave no cursor past it", where);
  return FALSE;
}

/* Whether the pull starts over from null, each at most once a sync: after
 * a 410 (tombstones we never saw were purged; pending changes stay), and
 * after a bad-cursor, as from another server (tether-sync-retarget.c).
 * FALSE with @error, which fails the sync. */
void
_tether_sync_pull_from_start (TetherSyncOp *op)
{
  g_clear_pointer (&op->seen, g_hash_table_unref);
  op->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_clear_pointer (&op->resync_cursor, g_free);
}

static gboolean
pull_again (TetherSyncOp  *op,
            GError       **error)
{
  if (g_error_matches (*error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CURSOR_EXPIRED) && !op->cursor_reset)
    {
      g_clear_error (error);
      op->cursor_reset = TRUE;
      _tether_sync_pull_from_start (op);
      return TRUE;
    }
  if (!g_error_matches (*error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BAD_CURSOR) || op->pull_cursor == NULL)
    return FALSE;
  if (op->cursor_unknown)
    {
      /* the cursor of this very resync: the server changes under it */
      g_prefix_error (error, "this sync pulled from the start once already and stops; the next one "
                      "starts over: ");
      return FALSE;
    }
  g_clear_error (error);
  op->cursor_unknown = TRUE;
  return _tether_sync_retarget_unknown_cursor (op->engine, op, error);
}

static void
on_pulled (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) answer = tether_transport_pull_finish (TETHER_TRANSPORT (source), result, &error);
  g_autoptr(TetherPullResponse) page = NULL;
  g_autofree char *next = NULL;
  gboolean more;

  _tether_sync_op_note_error (op, TETHER_TRANSPORT (source), error);
  if (op->pull_error != NULL)
    {
      /* the page before this one failed to store: this one is moot */
      _tether_sync_op_fail (g_steal_pointer (&task), g_steal_pointer (&op->pull_error));
      return;
    }
  if (answer == NULL && pull_again (op, &error))
    {
      _tether_sync_pull_next (g_steal_pointer (&task));
      return;
    }
  if (answer == NULL || (page = _tether_sync_parse_pull (answer, &error)) == NULL ||
      !cursor_moves (op, page, &error))
    {
      _tether_sync_op_fail (g_steal_pointer (&task), g_steal_pointer (&error));
      return;
    }
  /* The next page is asked for before this one is stored, with the cursor
   * this page ends at: the server reads it out and the transport parses it
   * while this side writes this one. */
  more = page->has_more && op->pull_pages < MAX_PULL_PAGES;
  next = g_strdup (page->cursor != NULL ? page->cursor : op->pull_cursor);
  if (more)
    request_page (g_object_ref (task), next);
  if (!store_page (self, op, page, &error))
    {
      if (more)
        {
          g_clear_error (&op->pull_error);
          op->pull_error = g_steal_pointer (&error);   /* failed when the next page lands */
        }
      else
        _tether_sync_op_fail (g_steal_pointer (&task), g_steal_pointer (&error));
      return;
    }
  op->report.pulled += page->changes->len;
  _tether_sync_engine_emit_phase (self, TETHER_SYNC_PHASE_PULL, op->report.pulled, 0);
  if (more)
    return;
  if (page->has_more)
    {
      /* What was pulled is kept; the next sync goes on from there. */
      _tether_sync_op_fail (g_steal_pointer (&task),
                            g_error_new (TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SERVER,
                                         "the pull did not reach the end after %d pages: sync again to go on",
                                         MAX_PULL_PAGES));
      return;
    }
  pull_done (g_steal_pointer (&task));
}

/* The sync ends with op->pull_error. Takes @data (the task). */
static gboolean
fail_later (gpointer data)
{
  GTask *task = data;
  TetherSyncOp *op = g_task_get_task_data (task);

  _tether_sync_op_fail (task, g_steal_pointer (&op->pull_error));
  return G_SOURCE_REMOVE;
}

/* Asks for the page after @cursor. Takes @task. */
static void
request_page (GTask      *task,
              const char *cursor)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  TetherSyncEngine *self = op->engine;
  /* A resync after a 410 must see every record the server has, ours too:
   * forget_purged takes a record it did not see for deleted. */
  g_autoptr(JsonObject) request = _tether_sync_pull_request (cursor, PULL_BATCH,
                                                             op->seen == NULL ? self->client_id : NULL,
                                                             op->seen != NULL);
  GError *gone = _tether_sync_remote_changed (op);

  if (gone != NULL)
    {
      if (op->pull_error == NULL)
        op->pull_error = gone;   /* a page is being stored: it fails the sync */
      else
        g_error_free (gone);
      {
        g_autoptr(GSource) idle = g_idle_source_new ();

        /* the sync's own context: a blocking sync iterates only that one */
        g_source_set_priority (idle, G_PRIORITY_DEFAULT_IDLE);
        g_source_set_callback (idle, fail_later, task, NULL);
        g_source_attach (idle, g_task_get_context (task));
      }
      return;
    }
  g_free (op->pull_cursor);
  op->pull_cursor = g_strdup (cursor);
  op->pull_pages++;
  tether_transport_pull_async (op->transport, request, g_task_get_cancellable (task), on_pulled, task);
}

void
_tether_sync_pull_next (GTask *task)
{
  TetherSyncOp *op = g_task_get_task_data (task);
  g_autofree char *cursor = op->seen != NULL ? g_strdup (op->resync_cursor)
                                              : _tether_sync_engine_get_cursor (op->engine);

  request_page (task, cursor);
}
