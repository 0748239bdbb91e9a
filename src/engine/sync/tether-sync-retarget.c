/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-retarget"
#include "config.h"

#include "tether-sync-engine-private.h"
#include "tether-transport-private.h"

/* The cursor and the shadows belong to one server and one account: a
 * cursor from another feed skips the new one's records up to its rev, and
 * a shadow's rev is another server's. When the remote the database syncs
 * with is not the one they came from, or the server does not know the
 * cursor (400 bad-cursor: its storage went back, or another server took
 * the address), the sync is a full resync from null (docs/sync.md,
 * "Another server or account"). */

#define IDENTITY_KEY "sync.remote_identity"
/* Stored for the identity when a resync for a cursor the server did not
 * know begins: no remote has it, so a resync cut off halfway starts over. */
#define IDENTITY_OWED "resync"

/* The records with local edits keep their shadow: on the same data under
 * another address it is the right base for their merge; on another
 * server the record is most likely unknown there, and the base unused. */
static const char reset_sql[] =
  "DELETE FROM _tether_meta WHERE key = 'sync.cursor';"
  "DELETE FROM _tether_shadow WHERE NOT EXISTS ("
  "  SELECT 1 FROM _tether_changes c"
  "  WHERE c.collection = _tether_shadow.collection AND c.record_id = _tether_shadow.record_id"
  "    AND c.status IN (0, 1, 3))"   /* pending, syncing, failed */
  " AND NOT EXISTS ("
  "  SELECT 1 FROM _tether_conflicts k"
  "  WHERE k.collection = _tether_shadow.collection AND k.record_id = _tether_shadow.record_id"
  "    AND k.status = 0);";          /* open */

G_STATIC_ASSERT (TETHER_CHANGE_PENDING == 0 && TETHER_CHANGE_SYNCING == 1 && TETHER_CHANGE_FAILED == 3);
G_STATIC_ASSERT (TETHER_CONFLICT_OPEN == 0);

static gboolean
reset (TetherSyncEngine  *self,
       gboolean           owed,
       GError           **error)
{
  if (!tether_database_begin (self->db, error))
    return FALSE;
  if (!_tether_database_exec (self->db, reset_sql, error) ||
      (owed && !_tether_database_meta_set (self->db, IDENTITY_KEY, IDENTITY_OWED, error)))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  return tether_database_commit (self->db, error);
}

/* Drops the cursor and the shadows in one transaction and makes this
 * sync's pull a resync from null that ends with upload_unseen. */
static gboolean
resync (TetherSyncEngine  *self,
        TetherSyncOp      *op,
        gboolean           owed,
        GError           **error)
{
  if (!reset (self, owed, error))
    return FALSE;
  op->retarget = TRUE;
  _tether_sync_pull_from_start (op);
  return TRUE;
}

gboolean
_tether_sync_retarget_check (TetherSyncEngine  *self,
                             TetherSyncOp      *op,
                             GError           **error)
{
  g_autofree char *stored = NULL;

  op->identity = _tether_transport_identity (self->transport);
  if (op->identity == NULL)
    return TRUE;   /* a transport that does not say where it goes */
  stored = _tether_database_meta_get (self->db, IDENTITY_KEY, NULL);
  /* Kept before anything is sent, not at the pull's end: a first sync
   * cut short (its server or token replaced meanwhile) leaves shadows
   * of this remote, which the next sync, to another, must not take for
   * its own. */
  if (stored == NULL)
    return _tether_database_meta_set (self->db, IDENTITY_KEY, op->identity, error);
  if (g_str_equal (stored, op->identity))
    return TRUE;
  g_debug ("the remote changed: pulling everything again");
  return resync (self, op, FALSE, error);
}

/* The server answered a pull with 400 bad-cursor: the cursor and the
 * shadows belong to a feed it no longer has, as with another server.
 * The identity stays "owed" until the resync reaches the end. */
gboolean
_tether_sync_retarget_unknown_cursor (TetherSyncEngine  *self,
                                      TetherSyncOp      *op,
                                      GError           **error)
{
  g_debug ("the server does not know the cursor: pulling everything again");
  return resync (self, op, TRUE, error);
}

static gboolean
has_local_edits (TetherSyncEngine  *self,
                 const char        *collection,
                 const char        *record_id,
                 gboolean          *edits,
                 GError           **error)
{
  g_autoptr(GPtrArray) rows = _tether_sync_store_record_changes (self->db, collection, record_id, error);

  if (rows == NULL)
    return FALSE;
  *edits = rows->len > 0 || _tether_sync_store_has_open_conflict (self->db, collection, record_id);
  return TRUE;
}

/* Records of this device that the new remote does not have (the full pull
 * did not bring them) are logged as creates, as when sync was first set
 * up: left alone they would stay on this device only, for ever. */
static gboolean
upload_unseen (TetherSyncEngine  *self,
               TetherSyncOp      *op,
               GError           **error)
{
  TetherSchema *schema = tether_database_get_schema (self->db);

  for (const char * const *name = tether_schema_get_collections (schema); *name != NULL; name++)
    {
      TetherCollection *collection = tether_database_get_collection (self->db, *name, error);
      g_autoptr(GPtrArray) records = collection != NULL ? tether_collection_get_all (collection, error) : NULL;

      if (records == NULL)
        return FALSE;
      for (guint i = 0; i < records->len; i++)
        {
          TetherRecord *record = g_ptr_array_index (records, i);
          g_autofree char *key = _tether_sync_record_key (*name, tether_record_get_id (record));
          gboolean edits = FALSE;

          if (g_hash_table_contains (op->seen, key))
            continue;
          if (!has_local_edits (self, *name, tether_record_get_id (record), &edits, error))
            return FALSE;
          if (!edits && !tether_write_hook_after_create (TETHER_WRITE_HOOK (self->tracker), collection,
                                                         record, error))
            return FALSE;
        }
    }
  self->appended = 0;   /* counted at the end of the sync */
  return TRUE;
}

/* The pull reached the end of the feed: the cursor and the shadows are
 * now this remote's. In the last page's transaction. */
gboolean
_tether_sync_retarget_finish (TetherSyncEngine  *self,
                              TetherSyncOp      *op,
                              GError           **error)
{
  g_autofree char *stored = NULL;

  if (op->retarget && !upload_unseen (self, op, error))
    return FALSE;
  if (op->identity == NULL)
    return TRUE;
  stored = _tether_database_meta_get (self->db, IDENTITY_KEY, NULL);
  if (g_strcmp0 (stored, op->identity) == 0)
    return TRUE;
  return _tether_database_meta_set (self->db, IDENTITY_KEY, op->identity, error);
}
