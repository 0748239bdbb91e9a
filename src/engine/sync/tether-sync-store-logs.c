/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-store"
#include "config.h"

#include <errno.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "tether-sync-store-private.h"

/* The conflict log, the event log and the cross-process sync lock: sync state
 * that every process using the database file must see. */

/* Conflicts ------------------------------------------------------------------ */

#define CONFLICT_COLUMNS \
  "id, collection, record_id, local, remote, base, result, local_hlc, remote_hlc," \
  " remote_rev, strategy, status, winner, fields, local_lost, remote_lost," \
  " local_deleted, remote_deleted, created, resolved"

static char *
object_text (JsonObject *object)
{
  return object ? _tether_json_object_to_string (object) : NULL;
}

static char *
strv_text (const char * const *values)
{
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_array_add_string_element (array, values[i]);
  json_node_set_array (node, array);
  return _tether_json_to_string (node);
}

static void
bind_owned_text (sqlite3_stmt *stmt,
                 int           index,
                 char         *text)
{
  sqlite3_bind_text (stmt, index, text, -1, g_free);
}

gboolean
_tether_sync_store_save_conflict (TetherDatabase  *db,
                                  TetherConflict  *conflict,
                                  GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT OR REPLACE INTO _tether_conflicts (" CONFLICT_COLUMNS ") VALUES"
    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)", error);
  TetherConflict *c = conflict;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, tether_conflict_get_id (c), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, tether_conflict_get_collection (c), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, tether_conflict_get_record_id (c), -1, SQLITE_STATIC);
  bind_owned_text (stmt, 4, object_text (tether_conflict_get_local (c)));
  bind_owned_text (stmt, 5, object_text (tether_conflict_get_remote (c)));
  bind_owned_text (stmt, 6, object_text (tether_conflict_get_base (c)));
  bind_owned_text (stmt, 7, object_text (tether_conflict_get_result (c)));
  sqlite3_bind_text (stmt, 8, tether_conflict_get_local_hlc (c), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 9, tether_conflict_get_remote_hlc (c), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 10, tether_conflict_get_remote_rev (c));
  sqlite3_bind_int (stmt, 11, tether_conflict_get_strategy (c));
  sqlite3_bind_int (stmt, 12, tether_conflict_get_status (c));
  sqlite3_bind_int (stmt, 13, tether_conflict_get_winner (c));
  bind_owned_text (stmt, 14, strv_text (tether_conflict_get_fields (c)));
  bind_owned_text (stmt, 15, strv_text (tether_conflict_get_local_lost (c)));
  bind_owned_text (stmt, 16, strv_text (tether_conflict_get_remote_lost (c)));
  sqlite3_bind_int (stmt, 17, tether_conflict_get_local_deleted (c));
  sqlite3_bind_int (stmt, 18, tether_conflict_get_remote_deleted (c));
  sqlite3_bind_int64 (stmt, 19, tether_conflict_get_created (c));
  sqlite3_bind_int64 (stmt, 20, tether_conflict_get_resolved (c));
  return _tether_sync_store_step (db, stmt, "saving a conflict", error);
}

static JsonObject *
column_object (sqlite3_stmt *stmt,
               int           col)
{
  return _tether_sync_parse_object ((const char *) sqlite3_column_text (stmt, col));
}

static GStrv
column_strv (sqlite3_stmt *stmt,
             int           col)
{
  const char *text = (const char *) sqlite3_column_text (stmt, col);
  g_autoptr(JsonNode) node = text ? json_from_string (text, NULL) : NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);

      if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING)
        g_strv_builder_add (builder, json_node_get_string (item));
    }
  return g_strv_builder_end (builder);
}

static gpointer
conflict_from_stmt (sqlite3_stmt *stmt)
{
  TetherConflict *c = tether_conflict_new ((const char *) sqlite3_column_text (stmt, 0),
                                           (const char *) sqlite3_column_text (stmt, 1),
                                           (const char *) sqlite3_column_text (stmt, 2));
  g_autoptr(JsonObject) local = column_object (stmt, 3);
  g_autoptr(JsonObject) remote = column_object (stmt, 4);
  g_autoptr(JsonObject) base = column_object (stmt, 5);
  g_autoptr(JsonObject) result = column_object (stmt, 6);
  g_auto(GStrv) fields = column_strv (stmt, 13);
  g_auto(GStrv) local_lost = column_strv (stmt, 14);
  g_auto(GStrv) remote_lost = column_strv (stmt, 15);

  tether_conflict_set_local (c, local, (const char *) sqlite3_column_text (stmt, 7));
  tether_conflict_set_remote (c, remote, (const char *) sqlite3_column_text (stmt, 8),
                              sqlite3_column_int64 (stmt, 9));
  tether_conflict_set_base (c, base);
  tether_conflict_set_result (c, result, sqlite3_column_int (stmt, 12));
  tether_conflict_set_strategy (c, sqlite3_column_int (stmt, 10));
  tether_conflict_set_status (c, sqlite3_column_int (stmt, 11), sqlite3_column_int64 (stmt, 19));
  tether_conflict_set_fields (c, (const char * const *) fields,
                              (const char * const *) local_lost,
                              (const char * const *) remote_lost);
  tether_conflict_set_deleted (c, sqlite3_column_int (stmt, 16), sqlite3_column_int (stmt, 17));
  tether_conflict_set_created (c, sqlite3_column_int64 (stmt, 18));
  return c;
}

GPtrArray *
_tether_sync_store_list_conflicts (TetherDatabase  *db,
                                   gboolean         open_only,
                                   GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT " CONFLICT_COLUMNS " FROM _tether_conflicts"
    " WHERE NOT ?1 OR status = ?2 ORDER BY created, id", error);

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int (stmt, 1, open_only);
  sqlite3_bind_int (stmt, 2, TETHER_CONFLICT_OPEN);
  return _tether_sync_store_collect (db, stmt, conflict_from_stmt, g_object_unref,
                                     "reading the conflict log", error);
}

TetherConflict *
_tether_sync_store_get_conflict (TetherDatabase  *db,
                                 const char      *conflict_id,
                                 GError         **error)
{
  return _tether_sync_store_get_by_id (db, "SELECT " CONFLICT_COLUMNS " FROM _tether_conflicts WHERE id = ?1",
                                       conflict_id, conflict_from_stmt, g_object_unref, "conflict", error);
}

/* The record's open conflict, or NULL without an error when it has none:
 * a record has at most one, updated by each later pull of the record. */
TetherConflict *
_tether_sync_store_open_conflict (TetherDatabase  *db,
                                  const char      *collection,
                                  const char      *record_id,
                                  GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT " CONFLICT_COLUMNS " FROM _tether_conflicts"
    " WHERE collection = ?1 AND record_id = ?2 AND status = ?3 ORDER BY created, id LIMIT 1", error);
  g_autoptr(GPtrArray) items = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, TETHER_CONFLICT_OPEN);
  items = _tether_sync_store_collect (db, stmt, conflict_from_stmt, g_object_unref,
                                      "reading the conflict log", error);
  return items != NULL && items->len > 0 ? g_ptr_array_steal_index (items, 0) : NULL;
}

/* Used to hold a record's changes back from a push; a read error counts as
 * "no conflict" (with a warning) since the push itself will report it. */
gboolean
_tether_sync_store_any_local_edits (TetherDatabase  *db,
                                    gboolean        *any,
                                    GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT EXISTS (SELECT 1 FROM _tether_changes WHERE status IN (?1, ?2, ?3))"
    " OR EXISTS (SELECT 1 FROM _tether_conflicts WHERE status = ?4)", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, TETHER_CHANGE_PENDING);
  sqlite3_bind_int (stmt, 2, TETHER_CHANGE_SYNCING);
  sqlite3_bind_int (stmt, 3, TETHER_CHANGE_FAILED);
  sqlite3_bind_int (stmt, 4, TETHER_CONFLICT_OPEN);
  rc = sqlite3_step (stmt);
  *any = rc == SQLITE_ROW && sqlite3_column_int (stmt, 0) != 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    return _tether_database_set_error (db, rc, error, "reading the change log");
  return TRUE;
}

gboolean
_tether_sync_store_has_open_conflict (TetherDatabase *db,
                                      const char     *collection,
                                      const char     *record_id)
{
  g_autoptr(GError) error = NULL;
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT 1 FROM _tether_conflicts WHERE collection = ?1 AND record_id = ?2 AND status = ?3", &error);
  int rc;

  if (stmt == NULL)
    {
      g_warning ("%s", error->message);
      return FALSE;
    }
  sqlite3_bind_text (stmt, 1, collection, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, record_id, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, TETHER_CONFLICT_OPEN);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    g_warning ("reading the conflict log: %s", sqlite3_errstr (rc));
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

/* Events --------------------------------------------------------------------- */

static gboolean
insert_event (TetherDatabase         *db,
              const TetherSyncEvent  *event,
              GError                **error)
{
  const TetherSyncReport *r = &event->report;
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "INSERT INTO _tether_sync_events (at, phase, pushed, accepted, conflicts, rejected,"
    " pulled, applied, skipped, merged, duration, error)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, event->at_ms);
  sqlite3_bind_int (stmt, 2, event->phase);
  sqlite3_bind_int64 (stmt, 3, r->pushed);
  sqlite3_bind_int64 (stmt, 4, r->accepted);
  sqlite3_bind_int64 (stmt, 5, r->conflicts);
  sqlite3_bind_int64 (stmt, 6, r->rejected);
  sqlite3_bind_int64 (stmt, 7, r->pulled);
  sqlite3_bind_int64 (stmt, 8, r->applied);
  sqlite3_bind_int64 (stmt, 9, r->skipped);
  sqlite3_bind_int64 (stmt, 10, r->merged);
  sqlite3_bind_int64 (stmt, 11, r->duration_ms);
  sqlite3_bind_text (stmt, 12, event->error, -1, SQLITE_STATIC);
  return _tether_sync_store_step (db, stmt, "logging a sync", error);
}

/* The newest row is never removed, so seq keeps growing and stays in order. */
static gboolean
trim_events (TetherDatabase  *db,
             GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "DELETE FROM _tether_sync_events WHERE seq <= (SELECT seq FROM _tether_sync_events"
    " ORDER BY seq DESC LIMIT 1 OFFSET ?1)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, TETHER_SYNC_EVENT_LOG_SIZE);
  return _tether_sync_store_step (db, stmt, "trimming the sync log", error);
}

static gboolean
add_event_in_transaction (TetherDatabase  *db,
                          gpointer         user_data,
                          GError         **error)
{
  return insert_event (db, user_data, error) && trim_events (db, error);
}

gboolean
_tether_sync_store_add_event (TetherDatabase         *db,
                              const TetherSyncEvent  *event,
                              GError                **error)
{
  return tether_database_transaction (db, add_event_in_transaction, (gpointer) event, error);
}

/* Copied through tether_sync_event_copy() so that tether_sync_event_free()
 * always frees what its own file allocated. */
static gpointer
event_from_stmt (sqlite3_stmt *stmt)
{
  TetherSyncEvent event = {
    .at_ms = sqlite3_column_int64 (stmt, 0),
    .phase = sqlite3_column_int (stmt, 1),
    .report = {
      .pushed = sqlite3_column_int64 (stmt, 2),
      .accepted = sqlite3_column_int64 (stmt, 3),
      .conflicts = sqlite3_column_int64 (stmt, 4),
      .rejected = sqlite3_column_int64 (stmt, 5),
      .pulled = sqlite3_column_int64 (stmt, 6),
      .applied = sqlite3_column_int64 (stmt, 7),
      .skipped = sqlite3_column_int64 (stmt, 8),
      .merged = sqlite3_column_int64 (stmt, 9),
      .duration_ms = sqlite3_column_int64 (stmt, 10),
    },
    .error = (char *) sqlite3_column_text (stmt, 11),
  };

  return tether_sync_event_copy (&event);
}

GPtrArray *
_tether_sync_store_list_events (TetherDatabase  *db,
                                GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (db,
    "SELECT at, phase, pushed, accepted, conflicts, rejected, pulled, applied,"
    " skipped, merged, duration, error FROM _tether_sync_events ORDER BY seq", error);

  if (stmt == NULL)
    return NULL;
  return _tether_sync_store_collect (db, stmt, event_from_stmt, (GDestroyNotify) tether_sync_event_free,
                                     "reading the sync log", error);
}

/* The sync lock -------------------------------------------------------------- */

/* "<host>:<pid>:<start>:<expiry ms>". start is the process's start time in
 * clock ticks since boot (field 22 of /proc/<pid>/stat), 0 when unknown: with
 * the pid it names one process even after the pid is reused. */
typedef struct {
  char    *host;
  gint64   pid;
  guint64  start;
  gint64   expiry;
} LockOwner;

static void
lock_owner_clear (LockOwner *owner)
{
  g_clear_pointer (&owner->host, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LockOwner, lock_owner_clear)

static guint64
process_start (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/stat", pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *end;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  /* Field 2, the command name, may itself hold spaces and parentheses. */
  end = strrchr (contents, ')');
  if (end == NULL || end[1] == '\0')
    return 0;
  fields = g_strsplit (end + 2, " ", 0);
  if (g_strv_length (fields) < 20)
    return 0;
  return g_ascii_strtoull (fields[19], NULL, 10);   /* fields[0] is field 3 */
}

static char *
lock_value (gint64 expiry)
{
  return g_strdup_printf ("%s:%d:%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT,
                          g_get_host_name (), (int) getpid (), process_start (getpid ()), expiry);
}

/* Read from the right: the other fields are numbers. */
static gboolean
lock_parse (const char *value,
            LockOwner  *owner)
{
  g_auto(GStrv) parts = g_strsplit (value, ":", -1);
  guint n = g_strv_length (parts);
  char *pid_text;

  if (n < 4 ||
      !g_ascii_string_to_signed (parts[n - 3], 10, 1, G_MAXINT, &owner->pid, NULL) ||
      !g_ascii_string_to_unsigned (parts[n - 2], 10, 0, G_MAXUINT64, &owner->start, NULL) ||
      !g_ascii_string_to_signed (parts[n - 1], 10, 0, G_MAXINT64, &owner->expiry, NULL))
    return FALSE;
  pid_text = parts[n - 3];
  parts[n - 3] = NULL;
  owner->host = g_strjoinv (":", parts);
  parts[n - 3] = pid_text;
  return TRUE;
}

static gboolean
lock_is_ours (const LockOwner *owner)
{
  return g_str_equal (owner->host, g_get_host_name ()) &&
         owner->pid == getpid () &&
         owner->start == process_start (getpid ());
}

/* Its process on this host is gone (or the pid was reused). Only a
 * process we cannot see (another host, or /proc hidden) is judged by the
 * expiry: a live one on this host holds the lock however long its sync
 * takes, since taking it from under a running sync would send its changes
 * twice and put its claimed entries back. */
static gboolean
lock_is_stale (const LockOwner *owner)
{
  gboolean expired = owner->expiry <= tether_time_now_ms ();
  guint64 start;

  if (!g_str_equal (owner->host, g_get_host_name ()))
    return expired;
  if (kill ((pid_t) owner->pid, 0) == -1 && errno == ESRCH)
    return TRUE;
  start = process_start (owner->pid);
  if (owner->start != 0 && start != 0)
    return start != owner->start;
  return expired;
}

/* Whether a live process other than this one holds @value; FALSE when it is
 * free for us (absent, damaged, stale or ours). */
static gboolean
lock_held_by_other (const char *value)
{
  g_auto(LockOwner) owner = { NULL, };

  if (value == NULL || !lock_parse (value, &owner))
    return FALSE;
  return !lock_is_ours (&owner) && !lock_is_stale (&owner);
}

typedef struct {
  gint64   ttl_ms;
  gboolean taken;
} LockAttempt;

static gboolean
lock_in_transaction (TetherDatabase  *db,
                     gpointer         user_data,
                     GError         **error)
{
  LockAttempt *attempt = user_data;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = _tether_database_meta_get (db, "sync.lock", &local_error);
  g_autofree char *mine = NULL;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  attempt->taken = !lock_held_by_other (value);
  if (!attempt->taken)
    return TRUE;
  mine = lock_value (tether_time_now_ms () + attempt->ttl_ms);
  return _tether_database_meta_set (db, "sync.lock", mine, error);
}

/* The outermost transaction is BEGIN IMMEDIATE: reading the owner and
 * writing ours is one step for every process. */
gboolean
_tether_sync_store_lock (TetherDatabase  *db,
                         gint64           ttl_ms,
                         GError         **error)
{
  LockAttempt attempt = { ttl_ms, FALSE };

  g_return_val_if_fail (ttl_ms > 0, FALSE);

  return tether_database_transaction (db, lock_in_transaction, &attempt, error) && attempt.taken;
}

static gboolean
unlock_in_transaction (TetherDatabase  *db,
                       gpointer         user_data,
                       GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *value = _tether_database_meta_get (db, "sync.lock", &local_error);
  g_auto(LockOwner) owner = { NULL, };
  sqlite3_stmt *stmt;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (value == NULL || !lock_parse (value, &owner) || !lock_is_ours (&owner))
    return TRUE;
  stmt = _tether_database_prepare_cached (db, "DELETE FROM _tether_meta WHERE key = 'sync.lock'", error);
  return stmt != NULL && _tether_sync_store_step (db, stmt, "releasing the sync lock", error);
}

/* A lock we fail to release (another process held the write lock past the
 * busy timeout) stays ours until this process syncs again, which releases
 * it, or ends: a live process holds it however old it is. */
void
_tether_sync_store_unlock (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;

  if (!tether_database_transaction (db, unlock_in_transaction, NULL, &error))
    g_message ("the sync lock stays held until the next sync: %s", error->message);
}

gboolean
_tether_sync_store_lock_held_elsewhere (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = _tether_database_meta_get (db, "sync.lock", &error);

  if (error != NULL)
    g_debug ("reading the sync lock: %s", error->message);
  return lock_held_by_other (value);
}
