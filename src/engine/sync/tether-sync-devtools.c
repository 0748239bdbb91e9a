/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-devtools"
#include "config.h"

#include "tether-sync-engine-private.h"

/* What the inspector and `tether inspect` show and do: the queue, stats,
 * retry, discard, compact, the event log and the conflict log. */

GPtrArray *
tether_sync_engine_list_changes (TetherSyncEngine *self,
                                 int               status,
                                 GError          **error)
{
  g_autoptr(GPtrArray) rows = NULL;
  GPtrArray *changes;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);

  rows = _tether_sync_store_list (self->db, status, 0, error);
  if (rows == NULL)
    return NULL;
  changes = g_ptr_array_new_full (rows->len, g_object_unref);
  for (guint i = 0; i < rows->len; i++)
    g_ptr_array_add (changes, _tether_sync_change_new (g_ptr_array_index (rows, i)));
  return changes;
}

gboolean
tether_sync_engine_get_stats (TetherSyncEngine *self,
                              TetherSyncStats  *stats,
                              GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (stats != NULL, FALSE);

  return _tether_sync_store_stats (self->db, stats, error);
}

gint
tether_sync_engine_retry_failed (TetherSyncEngine *self,
                                 GError          **error)
{
  gint count;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), -1);

  count = _tether_sync_store_retry_failed (self->db, error);
  if (count > 0)
    {
      _tether_sync_engine_queue_changed (self);
      _tether_sync_auto_local_write (self);
    }
  return count;
}

gboolean
tether_sync_engine_discard (TetherSyncEngine *self,
                            const char       *change_id,
                            GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (change_id != NULL, FALSE);

  if (!_tether_sync_store_discard (self->db, change_id, error))
    return FALSE;
  _tether_sync_engine_queue_changed (self);
  return TRUE;
}

gint
tether_sync_engine_compact (TetherSyncEngine *self,
                            GError          **error)
{
  gint removed;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), -1);

  removed = _tether_sync_store_compact (self->db, error);
  if (removed > 0)
    _tether_sync_engine_queue_changed (self);
  return removed;
}

GPtrArray *
tether_sync_engine_list_events (TetherSyncEngine *self,
                                GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return _tether_sync_store_list_events (self->db, error);
}

GPtrArray *
tether_sync_engine_list_conflicts (TetherSyncEngine *self,
                                   gboolean          open_only,
                                   GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return _tether_sync_store_list_conflicts (self->db, open_only, error);
}

TetherConflict *
tether_sync_engine_get_conflict (TetherSyncEngine *self,
                                 const char       *conflict_id,
                                 GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  g_return_val_if_fail (conflict_id != NULL, NULL);
  return _tether_sync_store_get_conflict (self->db, conflict_id, error);
}

/* A write the user asked for: logged like any edit, so it syncs. */
static gboolean
write_tracked (TetherSyncEngine *self,
               TetherConflict   *conflict,
               JsonObject       *data,
               GError          **error)
{
  TetherCollection *c = tether_database_get_collection (self->db, tether_conflict_get_collection (conflict), error);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) copy = NULL;
  g_autoptr(TetherRecord) record = NULL;

  if (c == NULL)
    return FALSE;
  if (data == NULL)
    {
      if (tether_collection_delete (c, tether_conflict_get_record_id (conflict), &local_error) ||
          g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  copy = _tether_json_object_deep_copy (data);
  json_object_set_string_member (copy, "id", tether_conflict_get_record_id (conflict));
  record = tether_collection_put (c, copy, error);
  return record != NULL;
}

/* @data as the record will be stored: with its id and the schema's
 * defaults, so that a restore of what is there already replaces nothing. */
static JsonObject *
as_stored (TetherSyncEngine *self,
           TetherConflict   *conflict,
           JsonObject       *data)
{
  JsonObject *copy;

  if (data == NULL)
    return NULL;
  copy = _tether_json_object_deep_copy (data);
  json_object_set_string_member (copy, "id", tether_conflict_get_record_id (conflict));
  tether_schema_validate (tether_database_get_schema (self->db), tether_conflict_get_collection (conflict),
                          copy, NULL);
  return copy;
}

/* The entry a restore of @restored adds to the log: the record as it was
 * (@replaced, NULL when absent) lost to the restored version (@data, NULL
 * for a delete), decided by hand, made when @restored was restored. */
static TetherConflict *
replaced_entry (TetherConflict *restored,
                JsonObject     *replaced,
                JsonObject     *data)
{
  g_autofree char *id = tether_uuid_v7_new ();
  TetherConflict *entry = tether_conflict_new (id, tether_conflict_get_collection (restored),
                                               tether_conflict_get_record_id (restored));

  tether_conflict_set_local (entry, replaced, NULL);
  tether_conflict_set_remote (entry, data, NULL, tether_conflict_get_remote_rev (restored));
  tether_conflict_set_deleted (entry, replaced == NULL, data == NULL);
  tether_conflict_set_strategy (entry, TETHER_CONFLICT_STRATEGY_MANUAL);
  tether_conflict_set_result (entry, data, TETHER_CONFLICT_WINNER_REMOTE);
  tether_conflict_set_created (entry, tether_conflict_get_resolved (restored));
  tether_conflict_set_status (entry, TETHER_CONFLICT_RESOLVED, tether_conflict_get_resolved (restored));
  return entry;
}

/* A restore writes over the record as it is now, edits made since the
 * conflict included: that version is kept in the log as an entry of its
 * own, so that nothing the restore replaces is lost and restoring that
 * entry undoes the restore. */
static gboolean
keep_replaced (TetherSyncEngine  *self,
               TetherConflict    *restored,
               JsonObject        *data,
               GError           **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) replaced = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(TetherConflict) entry = NULL;

  replaced = _tether_sync_read_local (self, tether_conflict_get_collection (restored),
                                      tether_conflict_get_record_id (restored), &local_error);
  if (local_error != NULL)
    return g_propagate_error (error, g_steal_pointer (&local_error)), FALSE;
  stored = as_stored (self, restored, data);
  if (_tether_json_object_equal (replaced, stored))
    return TRUE;   /* nothing is replaced */
  entry = replaced_entry (restored, replaced, stored);
  if (!_tether_sync_store_save_conflict (self->db, entry, error))
    return FALSE;
  _tether_sync_engine_note_conflict (self, entry);
  return TRUE;
}

static gboolean
settle (TetherSyncEngine     *self,
        TetherConflict       *conflict,
        JsonObject           *data,
        TetherConflictWinner  winner,
        TetherConflictStatus  status,
        GError              **error)
{
  if (!tether_database_begin (self->db, error))
    return FALSE;
  tether_conflict_set_result (conflict, data, winner);
  tether_conflict_set_status (conflict, status, tether_time_now_ms ());
  if ((status == TETHER_CONFLICT_RESTORED && !keep_replaced (self, conflict, data, error)) ||
      !write_tracked (self, conflict, data, error) ||
      !_tether_sync_store_save_conflict (self->db, conflict, error))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  if (!tether_database_commit (self->db, error))
    return FALSE;
  _tether_sync_engine_queue_changed (self);
  _tether_sync_auto_local_write (self);
  return TRUE;
}

/* @seen's local side as the schema stores it now: a migration since may
 * have added defaults to the record without anyone editing it. */
static JsonObject *
local_as_stored (TetherSyncEngine *self,
                 TetherConflict   *seen)
{
  JsonObject *local = tether_conflict_get_local (seen);
  JsonObject *copy;

  if (local == NULL)
    return NULL;
  copy = _tether_json_object_deep_copy (local);
  tether_schema_validate (tether_database_get_schema (self->db), tether_conflict_get_collection (seen), copy, NULL);
  return copy;
}

/* Whether @seen is @stored as it stands: the same server version, and the
 * record here still the local side it shows. A local side behind the
 * record is brought up to date in the log. */
static gboolean
still_current (TetherSyncEngine *self,
               TetherConflict   *seen,
               TetherConflict   *stored,
               GError          **error)
{
  const char *id = tether_conflict_get_id (stored);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) local = NULL;
  g_autoptr(JsonObject) seen_local = NULL;

  /* A rev names one server version; a seed-style server sends none (all
   * are rev 0 here), so then the data tells. */
  if (tether_conflict_get_remote_rev (stored) != tether_conflict_get_remote_rev (seen) ||
      g_strcmp0 (tether_conflict_get_remote_hlc (stored), tether_conflict_get_remote_hlc (seen)) != 0 ||
      (tether_conflict_get_remote_rev (stored) <= 0 &&
       !_tether_json_object_equal (tether_conflict_get_remote (stored), tether_conflict_get_remote (seen))))
    return g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED,
                        "conflict %s changed: the server has sent a newer version (rev %" G_GINT64_FORMAT
                        ") since the one this choice was made from (rev %" G_GINT64_FORMAT "); "
                        "look at it again", id, tether_conflict_get_remote_rev (stored),
                        tether_conflict_get_remote_rev (seen)), FALSE;
  local = _tether_sync_read_local (self, tether_conflict_get_collection (stored),
                                   tether_conflict_get_record_id (stored), &local_error);
  if (local_error != NULL)
    return g_propagate_error (error, g_steal_pointer (&local_error)), FALSE;
  seen_local = local_as_stored (self, seen);
  if (_tether_json_object_equal (local, seen_local))
    return TRUE;
  if (!_tether_json_object_equal (local, tether_conflict_get_local (stored)) &&
      !_tether_sync_conflict_refresh_local (self, stored, local, error))
    return FALSE;
  return g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED,
                      "conflict %s changed: the record here is no longer the version this choice "
                      "was made from (it was edited since); look at it again", id), FALSE;
}

/* The fields of @side whose value is not @chosen's (the id aside), added
 * to @names. */
static void
add_lost_fields (GPtrArray  *names,
                 JsonObject *side,
                 JsonObject *chosen)
{
  JsonObject *objects[] = { side, chosen };

  for (guint o = 0; o < G_N_ELEMENTS (objects); o++)
    {
      g_autoptr(GList) members = json_object_get_members (objects[o]);

      for (GList *l = members; l != NULL; l = l->next)
        {
          const char *name = l->data;

          if (g_str_equal (name, "id") ||
              (o == 1 && json_object_has_member (side, name)) ||
              _tether_json_equal (json_object_get_member (side, name),
                                  json_object_get_member (chosen, name)))
            continue;
          g_ptr_array_add (names, g_strdup (name));
        }
    }
  g_ptr_array_add (names, NULL);
}

/* A choice taken field by field in the inbox is a merge: the fields where
 * each side lost are noted, so that a restore brings back those, and
 * not the whole of one side over the fields the user took from the other. */
static void
note_chosen_fields (TetherConflict *conflict,
                    JsonObject     *chosen)
{
  JsonObject *local = tether_conflict_get_local (conflict);
  JsonObject *remote = tether_conflict_get_remote (conflict);
  g_autoptr(GPtrArray) local_lost = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) remote_lost = g_ptr_array_new_with_free_func (g_free);

  if (local == NULL || remote == NULL || chosen == NULL)
    return;   /* a delete against an edit: whole versions */
  add_lost_fields (local_lost, local, chosen);
  add_lost_fields (remote_lost, remote, chosen);
  tether_conflict_set_fields (conflict, tether_conflict_get_fields (conflict),
                              (const char * const *) local_lost->pdata,
                              (const char * const *) remote_lost->pdata);
}

gboolean
tether_sync_engine_resolve_conflict (TetherSyncEngine *self,
                                     TetherConflict   *seen,
                                     JsonObject       *chosen,
                                     GError          **error)
{
  g_autoptr(TetherConflict) conflict = NULL;
  TetherConflictWinner winner = TETHER_CONFLICT_WINNER_MERGED;
  const char *conflict_id;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (TETHER_IS_CONFLICT (seen), FALSE);

  conflict_id = tether_conflict_get_id (seen);
  conflict = _tether_sync_store_get_conflict (self->db, conflict_id, error);
  if (conflict == NULL)
    return FALSE;
  if (tether_conflict_get_status (conflict) != TETHER_CONFLICT_OPEN)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "conflict %s was already decided; restore it instead", conflict_id);
      return FALSE;
    }
  /* A pull updates an open conflict in place (tether-sync-resolve.c), and
   * the record can be edited while the conflict waits. */
  if (!still_current (self, seen, conflict, error))
    return FALSE;
  if (_tether_json_object_equal (chosen, tether_conflict_get_local (conflict)))
    winner = TETHER_CONFLICT_WINNER_LOCAL;
  else if (_tether_json_object_equal (chosen, tether_conflict_get_remote (conflict)))
    winner = TETHER_CONFLICT_WINNER_REMOTE;
  else
    note_chosen_fields (conflict, chosen);
  return settle (self, conflict, chosen, winner, TETHER_CONFLICT_RESOLVED, error);
}

/* Sets @names of @into to their values in @side (removed where @side has
 * none). */
static void
take_fields (JsonObject         *into,
             JsonObject         *side,
             const char * const *names)
{
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      JsonNode *value = side != NULL ? json_object_get_member (side, names[i]) : NULL;

      if (value != NULL)
        json_object_set_member (into, names[i], json_node_copy (value));
      else if (json_object_has_member (into, names[i]))
        json_object_remove_member (into, names[i]);
    }
}

/* What a restore writes back. A side that lost as a whole (lww, client- or
 * server-wins, a choice, a delete) comes back whole. A merge lost only the
 * fields it lists, and kept the one-sided edits of both sides, even when
 * its result equals one of them: those fields come back, each from the
 * side whose value lost, on top of the record as it is now, so that
 * nothing nobody lost is reverted, edits since the merge included (local
 * last: where both sides lost a field, the user's own value is the one
 * they want back). */
static JsonObject *
restored_version (TetherSyncEngine  *self,
                  TetherConflict    *conflict,
                  gboolean           by_fields,
                  GError           **error)
{
  JsonObject *loser = tether_conflict_get_loser (conflict);
  g_autoptr(GError) local_error = NULL;
  JsonObject *restored;

  if (!by_fields)
    return loser != NULL ? json_object_ref (loser) : NULL;
  restored = _tether_sync_read_local (self, tether_conflict_get_collection (conflict),
                                      tether_conflict_get_record_id (conflict), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (restored == NULL)   /* deleted since: the merged record comes back */
    restored = _tether_json_object_deep_copy (tether_conflict_get_result (conflict));
  take_fields (restored, tether_conflict_get_remote (conflict), tether_conflict_get_remote_lost (conflict));
  take_fields (restored, tether_conflict_get_local (conflict), tether_conflict_get_local_lost (conflict));
  return restored;
}

gboolean
tether_sync_engine_restore_conflict (TetherSyncEngine *self,
                                     const char       *conflict_id,
                                     GError          **error)
{
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(JsonObject) loser = NULL;
  g_autoptr(GError) local_error = NULL;
  TetherConflictWinner winner;
  gboolean by_fields;

  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (conflict_id != NULL, FALSE);

  conflict = _tether_sync_store_get_conflict (self->db, conflict_id, error);
  if (conflict == NULL)
    return FALSE;
  if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "conflict %s is still open: choose a version to keep instead", conflict_id);
      return FALSE;
    }
  /* A second restore would write back the version the first one replaced,
   * over every edit since. */
  if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_RESTORED)
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "conflict %s was already restored: edit the record to change it again", conflict_id);
      return FALSE;
    }
  by_fields = tether_conflict_lost_by_fields (conflict);
  loser = restored_version (self, conflict, by_fields, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (by_fields)
    winner = TETHER_CONFLICT_WINNER_MERGED;
  else if (tether_conflict_get_winner (conflict) == TETHER_CONFLICT_WINNER_LOCAL)
    winner = TETHER_CONFLICT_WINNER_REMOTE;
  else
    winner = TETHER_CONFLICT_WINNER_LOCAL;
  return settle (self, conflict, loser, winner, TETHER_CONFLICT_RESTORED, error);
}
