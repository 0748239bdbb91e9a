/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-resolve"
#include "config.h"

#include "tether-schema-private.h"
#include "tether-sync-engine-private.h"

/* Conflicts: a remote version met local edits of the same record. The
 * strategy picks what is kept; whatever loses goes to the conflict log so
 * it can be restored (docs/sync.md, "Conflicts"). */

/* ---------------------------------------------------------- local rows */

JsonObject *
_tether_sync_read_local (TetherSyncEngine *self,
                         const char       *collection,
                         const char       *record_id,
                         GError          **error)
{
  TetherCollection *c = tether_database_get_collection (self->db, collection, error);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(TetherRecord) record = NULL;

  if (c == NULL)
    return NULL;
  record = tether_collection_get (c, record_id, &local_error);
  if (record == NULL && !g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    g_propagate_error (error, g_steal_pointer (&local_error));
  return record != NULL ? tether_record_dup_data (record) : NULL;
}

static TetherRecord *
write_record (TetherCollection *c,
              TetherRecord     *old_record,
              JsonObject       *data,
              TetherWriteFlags  flags,
              GError          **error)
{
  if (old_record != NULL)
    return _tether_collection_replace (c, old_record, data, flags, error);
  return _tether_collection_insert (c, data, flags, error);
}

/* A new object over the same member nodes: what a pull receives is
 * immutable (tether-transport.c parses it so), so sharing its nodes is safe
 * and a deep copy of every pulled record was 3% of a pull. */
static JsonObject *
copy_members (JsonObject *data)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init_ordered (&iter, data);
  while (json_object_iter_next_ordered (&iter, &name, &node))
    json_object_set_member (copy, name, json_node_is_immutable (node) ? json_node_ref (node)
                                                                      : _tether_json_deep_copy (node));
  return copy;
}

JsonObject *
_tether_sync_local_data (TetherSyncEngine *self,
                         const char       *collection,
                         const char       *record_id,
                         JsonObject       *data)
{
  JsonObject *copy = copy_members (data);
  JsonNode *id = json_object_get_member (copy, "id");
  g_autoptr(GError) error = NULL;

  /* An "id" already right keeps its node (see same_nodes(), tether-sync-pull.c);
   * a server may send anything as "id". */
  if (id == NULL || !_tether_json_is_string (id) || g_strcmp0 (json_node_get_string (id), record_id) != 0)
    json_object_set_string_member (copy, "id", record_id);
  /* Written by a client with another schema: the server's copy is the
   * truth, keep it as it is rather than stop syncing. */
  if (!tether_schema_validate (tether_database_get_schema (self->db), collection, copy, &error))
    g_debug ("%s/%s does not pass this schema (%s); stored as received", collection, record_id,
             error->message);
  return copy;
}

gboolean
_tether_sync_write_local (TetherSyncEngine *self,
                          const char       *collection,
                          const char       *record_id,
                          JsonObject       *data,
                          GError          **error)
{
  TetherCollection *c = tether_database_get_collection (self->db, collection, error);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(TetherRecord) old_record = NULL;
  g_autoptr(TetherRecord) written = NULL;
  g_autoptr(JsonObject) copy = NULL;

  if (c == NULL)
    return FALSE;
  old_record = tether_collection_get (c, record_id, &local_error);
  if (old_record == NULL && !g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    return g_propagate_error (error, g_steal_pointer (&local_error)), FALSE;
  g_clear_error (&local_error);
  if (data == NULL)
    return old_record == NULL || _tether_collection_remove (c, old_record, TETHER_WRITE_SKIP_HOOKS, error);
  copy = _tether_json_object_deep_copy (data);
  json_object_set_string_member (copy, "id", record_id);
  written = write_record (c, old_record, copy, TETHER_WRITE_SKIP_HOOKS, &local_error);
  if (written == NULL && g_error_matches (local_error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION))
    {
      /* Written by a client with another schema: the server's copy is
       * the truth, keep it as it is rather than stop syncing. */
      g_debug ("%s/%s does not pass this schema (%s); stored as received",
               collection, record_id, local_error->message);
      g_clear_error (&local_error);
      written = write_record (c, old_record, copy, TETHER_WRITE_SKIP_HOOKS | TETHER_WRITE_NO_VALIDATE,
                              &local_error);
    }
  if (written == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return written != NULL;
}

/* ------------------------------------------------------------ deciding */

static JsonObject *
copy_or_null (JsonObject *object)
{
  return object != NULL ? _tether_json_object_deep_copy (object) : NULL;
}

static const char * const *
strv_of (GPtrArray *fields)
{
  g_ptr_array_add (fields, NULL);   /* NULL-terminated view for the setters */
  return (const char * const *) fields->pdata;
}

typedef struct {
  JsonObject *result;
  gboolean    lost;        /* something of one side did not survive */
} Decision;

static void
decide_merge (TetherSyncEngine *self,
              TetherConflict   *conflict,
              Decision         *out)
{
  JsonObject *local = tether_conflict_get_local (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);
  g_autoptr(TetherMergeResult) merge = tether_merge_records (tether_database_get_schema (self->db),
                                                             tether_conflict_get_collection (conflict),
                                                             tether_conflict_get_base (conflict),
                                                             local, tether_conflict_get_local_hlc (conflict),
                                                             remote, tether_conflict_get_remote_hlc (conflict));
  TetherConflictWinner winner = TETHER_CONFLICT_WINNER_MERGED;

  out->result = merge->result != NULL ? json_object_ref (merge->result) : NULL;
  out->lost = merge->local_lost->len > 0 || merge->remote_lost->len > 0 ||
              merge->local_lost_record || merge->remote_lost_record;
  if (_tether_json_object_equal (out->result, local))
    winner = TETHER_CONFLICT_WINNER_LOCAL;
  else if (_tether_json_object_equal (out->result, remote))
    winner = TETHER_CONFLICT_WINNER_REMOTE;
  tether_conflict_set_fields (conflict, strv_of (merge->both_changed), strv_of (merge->local_lost),
                              strv_of (merge->remote_lost));
  tether_conflict_set_result (conflict, out->result, winner);
}

static void
decide_side (TetherConflict       *conflict,
             TetherConflictWinner  winner,
             Decision             *out)
{
  JsonObject *local = tether_conflict_get_local (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);

  out->result = copy_or_null (winner == TETHER_CONFLICT_WINNER_LOCAL ? local : remote);
  out->lost = !_tether_json_object_equal (local, remote);
  /* a reopened conflict may carry an earlier merge's field lists */
  tether_conflict_set_fields (conflict, NULL, NULL, NULL);
  tether_conflict_set_result (conflict, out->result, winner);
}

static TetherConflictWinner
lww_winner (TetherConflict *conflict)
{
  return tether_hlc_compare (tether_conflict_get_local_hlc (conflict),
                             tether_conflict_get_remote_hlc (conflict)) > 0
    ? TETHER_CONFLICT_WINNER_LOCAL : TETHER_CONFLICT_WINNER_REMOTE;
}

static void
decide_custom (TetherSyncEngine *self,
               TetherConflict   *conflict,
               Decision         *out)
{
  JsonObject *local = tether_conflict_get_local (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);
  TetherConflictWinner winner = TETHER_CONFLICT_WINNER_MERGED;

  out->result = self->resolver (conflict, self->resolver_data);
  out->lost = !_tether_json_object_equal (out->result, local) || !_tether_json_object_equal (out->result, remote);
  if (_tether_json_object_equal (out->result, local))
    winner = TETHER_CONFLICT_WINNER_LOCAL;
  else if (_tether_json_object_equal (out->result, remote))
    winner = TETHER_CONFLICT_WINNER_REMOTE;
  tether_conflict_set_fields (conflict, NULL, NULL, NULL);
  tether_conflict_set_result (conflict, out->result, winner);
}

static void
decide (TetherSyncEngine *self,
        TetherConflict   *conflict,
        Decision         *out)
{
  switch (self->strategy)
    {
    case TETHER_CONFLICT_STRATEGY_LWW:
      decide_side (conflict, lww_winner (conflict), out);
      break;
    case TETHER_CONFLICT_STRATEGY_CLIENT_WINS:
      decide_side (conflict, TETHER_CONFLICT_WINNER_LOCAL, out);
      break;
    case TETHER_CONFLICT_STRATEGY_SERVER_WINS:
      decide_side (conflict, TETHER_CONFLICT_WINNER_REMOTE, out);
      break;
    case TETHER_CONFLICT_STRATEGY_CUSTOM:
      if (self->resolver != NULL)
        {
          decide_custom (self, conflict, out);
          break;
        }
      G_GNUC_FALLTHROUGH;   /* no callback set: the default */
    case TETHER_CONFLICT_STRATEGY_MERGE:
    case TETHER_CONFLICT_STRATEGY_MANUAL:
    default:
      decide_merge (self, conflict, out);
      break;
    }
}

/* ------------------------------------------------------------ rebasing */

static char *
text_or_null (JsonObject *object)
{
  return object != NULL ? _tether_json_object_to_string (object) : NULL;
}

/* The record's pending changes become one change carrying @result, based
 * on the server's version; none when the server already has @result.
 * @held: the local edits wait for the user, and are not a new write. */
static gboolean
rebase_rows (TetherSyncEngine *self,
             TetherConflict   *conflict,
             JsonObject       *result,
             guint             carry_retries,
             gboolean          held,
             GError          **error)
{
  const char *collection = tether_conflict_get_collection (conflict);
  const char *record_id = tether_conflict_get_record_id (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);
  g_autoptr(GPtrArray) rows = _tether_sync_store_record_changes (self->db, collection, record_id, error);
  g_autoptr(TetherChangeRow) fresh = NULL;
  TetherChangeRow *keep;
  guint retries = carry_retries;
  gboolean sent = FALSE;

  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    {
      TetherChangeRow *row = g_ptr_array_index (rows, i);

      retries = MAX (retries, row->retries);
      sent |= row->push_id != NULL;
    }
  for (guint i = 0; i + (_tether_json_object_equal (result, remote) ? 0 : 1) < rows->len; i++)
    if (!_tether_sync_store_delete_change (self->db, ((TetherChangeRow *) g_ptr_array_index (rows, i))->seq, error))
      return FALSE;
  if (_tether_json_object_equal (result, remote))
    return TRUE;
  if (rows->len > 0 && !sent)
    keep = g_ptr_array_index (rows, rows->len - 1);
  else if (rows->len > 0)
    {
      /* Rows sent under an id the server may have applied (the answer was
       * lost): this is another change now. Resent under that id, the
       * server would replay its first answer and never get this one. */
      keep = fresh = g_ptr_array_steal_index (rows, rows->len - 1);
      if (!_tether_sync_store_delete_change (self->db, keep->seq, error))
        return FALSE;
      g_free (keep->id);
      keep->id = tether_uuid_v7_new ();
    }
  else
    {
      keep = fresh = g_new0 (TetherChangeRow, 1);
      keep->id = tether_uuid_v7_new ();
      keep->collection = g_strdup (collection);
      keep->record_id = g_strdup (record_id);
      keep->timestamp = keep->created = keep->updated = tether_time_now_ms ();
    }
  /* A decision is written now and holds the remote version, whose hlc the
   * clock has observed: stamped with the old local edit's, it would lose
   * under lww to edits older than what it holds. */
  if (keep->hlc == NULL || !held)
    {
      g_free (keep->hlc);
      keep->hlc = tether_hlc_tick (self->hlc);
    }
  keep->type = result == NULL ? TETHER_CHANGE_DELETE
             : remote == NULL && tether_conflict_get_remote_rev (conflict) == 0 ? TETHER_CHANGE_CREATE
             : TETHER_CHANGE_UPDATE;
  g_free (keep->data);
  keep->data = text_or_null (result);
  g_free (keep->prev_data);
  keep->prev_data = text_or_null (remote);
  keep->base_rev = tether_conflict_get_remote_rev (conflict);
  g_clear_pointer (&keep->push_id, g_free);
  g_clear_pointer (&keep->error, g_free);
  keep->status = TETHER_CHANGE_PENDING;
  keep->retries = retries;
  if (keep->retries >= self->max_retries)
    {
      /* The record keeps moving under us: stop pushing, keep it visible. */
      keep->status = TETHER_CHANGE_FAILED;
      keep->error = g_strdup_printf ("%s/%s changed on the server again on each of %u attempts; "
                                     "the merged version is kept here: retry it when the record is quiet",
                                     collection, record_id, keep->retries);
    }
  return fresh != NULL ? _tether_sync_store_append (self->db, fresh, error)
                       : _tether_sync_store_update_change (self->db, keep, error);
}

static char *
newest_hlc (TetherSyncEngine *self,
            const char       *collection,
            const char       *record_id)
{
  g_autoptr(GPtrArray) rows = _tether_sync_store_record_changes (self->db, collection, record_id, NULL);

  if (rows == NULL || rows->len == 0)
    return NULL;
  return g_strdup (((TetherChangeRow *) g_ptr_array_index (rows, rows->len - 1))->hlc);
}

/* A record's first conflict takes the stored server copy as its base,
 * unless it is newer than the server's version: the server's revs only
 * grow, so that copy is from a history the server has lost (restored
 * from an older backup); its older values would pass for its edits, and
 * without a base each differing field goes by hlc. */
static TetherConflict *
conflict_fresh (TetherSyncEngine *self,
                const char       *collection,
                const char       *record_id,
                gint64            remote_rev,
                GError          **error)
{
  g_autofree char *id = tether_uuid_v7_new ();
  g_autoptr(TetherConflict) conflict = tether_conflict_new (id, collection, record_id);
  g_autoptr(JsonObject) base = NULL;
  g_autofree char *base_text = NULL;
  gint64 base_rev;

  if (!_tether_sync_store_shadow_get (self->db, collection, record_id, &base_rev, &base_text, NULL, error) ||
      (base_text != NULL && (base = _tether_json_parse_object (base_text, -1, error)) == NULL))
    return NULL;
  if (base_rev <= remote_rev)
    tether_conflict_set_base (conflict, base);
  tether_conflict_set_created (conflict, tether_time_now_ms ());
  return g_steal_pointer (&conflict);
}

/* A record with an open conflict keeps that conflict and its base, with
 * the new remote version in it: the stored copy has already moved on to
 * the remote version the conflict holds, which the local edits never saw,
 * so merging on it would take the server's changes for local ones and
 * revert them. */
static TetherConflict *
conflict_for (TetherSyncEngine *self,
              const char       *collection,
              const char       *record_id,
              const char       *local_hlc,
              JsonObject       *remote,
              gint64            remote_rev,
              const char       *remote_hlc,
              gboolean         *reopened,
              GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(TetherConflict) conflict = _tether_sync_store_open_conflict (self->db, collection, record_id,
                                                                         &local_error);
  g_autoptr(JsonObject) local = NULL;
  g_autofree char *hlc = NULL;

  *reopened = conflict != NULL;
  if (local_error == NULL && conflict == NULL)
    conflict = conflict_fresh (self, collection, record_id, remote_rev, &local_error);
  if (conflict != NULL)
    local = _tether_sync_read_local (self, collection, record_id, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  /* The local side is the record as it is now: edits made while the sent
   * change was on its way are in it, and their entries are newer. */
  hlc = newest_hlc (self, collection, record_id);
  if (local_hlc != NULL && (hlc == NULL || tether_hlc_compare (local_hlc, hlc) > 0))
    {
      g_free (hlc);
      hlc = g_strdup (local_hlc);
    }
  tether_conflict_set_local (conflict, local, hlc);
  tether_conflict_set_remote (conflict, remote, remote_hlc, remote_rev);
  tether_conflict_set_strategy (conflict, self->strategy);
  tether_conflict_set_deleted (conflict, local == NULL, remote == NULL);
  return g_steal_pointer (&conflict);
}

static gboolean
keep_for_user (TetherSyncEngine *self,
               TetherConflict   *conflict,
               GError          **error)
{
  JsonObject *local = tether_conflict_get_local (conflict);

  tether_conflict_set_result (conflict, NULL, TETHER_CONFLICT_WINNER_NONE);
  tether_conflict_set_status (conflict, TETHER_CONFLICT_OPEN, 0);
  if (!_tether_sync_store_save_conflict (self->db, conflict, error))
    return FALSE;
  /* Local edits wait in the log (the outbox leaves the record out) until
   * the user decides; keep at least one so the decision has a base. */
  return rebase_rows (self, conflict, local, 0, TRUE, error);
}

gboolean
_tether_sync_resolve (TetherSyncEngine *self,
                      const char       *collection,
                      const char       *record_id,
                      const char       *local_hlc,
                      JsonObject       *remote,
                      gint64            remote_rev,
                      const char       *remote_hlc,
                      guint             carry_retries,
                      TetherSyncReport *report,
                      GError          **error)
{
  gboolean reopened = FALSE;
  g_autoptr(TetherConflict) conflict = conflict_for (self, collection, record_id, local_hlc,
                                                     remote, remote_rev, remote_hlc, &reopened, error);
  g_autofree char *remote_text = text_or_null (remote);
  Decision decision = { NULL, FALSE };
  gboolean ok;

  if (conflict == NULL ||
      !_tether_sync_store_shadow_set (self->db, collection, record_id, remote_rev, remote_text, remote_hlc, error))
    return FALSE;
  _tether_sync_engine_emit_phase (self, TETHER_SYNC_PHASE_RESOLVE, report->conflicts, 0);
  decide (self, conflict, &decision);
  report->conflicts++;
  if (self->strategy == TETHER_CONFLICT_STRATEGY_MANUAL && decision.lost)
    {
      g_clear_pointer (&decision.result, json_object_unref);
      ok = keep_for_user (self, conflict, error);
      if (ok)
        _tether_sync_engine_note_conflict (self, conflict);
      return ok;
    }
  ok = (_tether_json_object_equal (decision.result, tether_conflict_get_local (conflict)) ||
        _tether_sync_write_local (self, collection, record_id, decision.result, error)) &&
       rebase_rows (self, conflict, decision.result, carry_retries, FALSE, error);
  /* An open conflict that the new version settles is closed too. */
  if (ok && (decision.lost || reopened))
    {
      tether_conflict_set_status (conflict, TETHER_CONFLICT_RESOLVED, tether_time_now_ms ());
      ok = _tether_sync_store_save_conflict (self->db, conflict, error);
      if (ok)
        _tether_sync_engine_note_conflict (self, conflict);
    }
  g_clear_pointer (&decision.result, json_object_unref);
  return ok;
}

/* An open conflict's local side becomes @local (the record as it is now),
 * with the newest pending change's hlc; saved and announced. */
gboolean
_tether_sync_conflict_refresh_local (TetherSyncEngine *self,
                                     TetherConflict   *conflict,
                                     JsonObject       *local,
                                     GError          **error)
{
  g_autofree char *hlc = newest_hlc (self, tether_conflict_get_collection (conflict),
                                     tether_conflict_get_record_id (conflict));

  tether_conflict_set_local (conflict, local, hlc);
  tether_conflict_set_deleted (conflict, local == NULL, tether_conflict_get_remote (conflict) == NULL);
  if (!tether_database_begin (self->db, error))
    return FALSE;
  if (!_tether_sync_store_save_conflict (self->db, conflict, error))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  _tether_sync_engine_note_conflict (self, conflict);
  return tether_database_commit (self->db, error);
}

/* Open conflicts wait for the user under `manual` only. After a switch to
 * another strategy the next sync decides them by it, before pushing: their
 * held-back edits then go out instead of waiting for the server to change
 * the record again. One transaction for all of them; each counts in this
 * sync's report, and a custom resolver is called from within
 * tether_sync_engine_sync_async(). The strategy is the database's
 * (_tether_meta), so another process syncing the file decides alike. */
gboolean
_tether_sync_decide_open (TetherSyncEngine *self,
                          TetherSyncReport *report,
                          GError          **error)
{
  g_autoptr(GPtrArray) open = NULL;

  if (self->strategy == TETHER_CONFLICT_STRATEGY_MANUAL)
    return TRUE;
  if ((open = _tether_sync_store_list_conflicts (self->db, TRUE, error)) == NULL)
    return FALSE;
  if (open->len == 0)
    return TRUE;
  if (!tether_database_begin (self->db, error))
    return FALSE;
  for (guint i = 0; i < open->len; i++)
    {
      TetherConflict *c = g_ptr_array_index (open, i);

      /* a collection the schema has dropped: nothing to write it to */
      if (!tether_schema_has_collection (tether_database_get_schema (self->db), tether_conflict_get_collection (c)))
        continue;
      if (!_tether_sync_resolve (self, tether_conflict_get_collection (c), tether_conflict_get_record_id (c),
                                 NULL, tether_conflict_get_remote (c), tether_conflict_get_remote_rev (c),
                                 tether_conflict_get_remote_hlc (c), 0, report, error))
        {
          tether_database_rollback (self->db);
          return FALSE;
        }
    }
  return tether_database_commit (self->db, error);
}
