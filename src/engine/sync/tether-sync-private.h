/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal API of the sync client (src/engine/sync). Not installed. */

#include "tether-private.h"
#include "tether-hlc.h"
#include "tether-merge.h"
#include "tether-sync-engine.h"

G_BEGIN_DECLS

/* tether-sync-store.c: the sync tables, in the database file itself so a
 * local write and its change entry share one transaction.
 *
 *   _tether_changes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
 *       collection TEXT NOT NULL, record_id TEXT NOT NULL, type INTEGER NOT NULL,
 *       base_rev INTEGER NOT NULL DEFAULT 0,
 *       hlc TEXT NOT NULL, timestamp INTEGER NOT NULL, status INTEGER NOT NULL,
 *       retries INTEGER NOT NULL DEFAULT 0, error TEXT, push_id TEXT,
 *       created INTEGER NOT NULL, updated INTEGER NOT NULL)
 *     index (collection, record_id); partial indexes for failed entries and
 *     the outbox (status 0 or 1) in log order
 *   _tether_change_data (seq INTEGER PRIMARY KEY, data TEXT, prev_data TEXT):
 *       each entry's payload, apart so that changing an entry's state
 *       rewrites small rows; deleted with its entry by a trigger
 *   _tether_shadow (collection, record_id, rev, data /- NULL: tombstone -/, hlc,
 *       PRIMARY KEY (collection, record_id)) WITHOUT ROWID
 *   _tether_conflicts (id TEXT PRIMARY KEY, collection, record_id, local, remote,
 *       base, result, local_hlc, remote_hlc, remote_rev, strategy, status, winner,
 *       fields, local_lost, remote_lost (JSON arrays), local_deleted,
 *       remote_deleted, created, resolved)
 *   _tether_sync_events (seq INTEGER PRIMARY KEY, at, phase, pushed, accepted,
 *       conflicts, rejected, pulled, applied, skipped, merged, duration, error):
 *       the newest TETHER_SYNC_EVENT_LOG_SIZE are kept.
 *   _tether_meta keys: sync.client_id, sync.hlc, sync.cursor, sync.remote_url,
 *       sync.remote_token, sync.remote_identity (where the cursor came from),
 *       sync.lock (owner "host:pid:start", expiry ms).
 * Times are ms since the epoch; type is TetherChangeType, status
 * TetherChangeStatus. All functions run in the caller's transaction (or in
 * autocommit); those that write several rows open their own (nested) one. */

typedef struct {
  gint64              seq;
  char               *id;
  char               *collection;
  char               *record_id;
  TetherChangeType    type;
  char               *data;        /* record JSON after; NULL for delete */
  char               *prev_data;   /* record JSON before; NULL for create */
  gint64              base_rev;
  char               *hlc;
  gint64              timestamp;
  TetherChangeStatus  status;
  guint               retries;
  char               *error;
  char               *push_id;     /* the id it was last sent under, or NULL */
  gint64              created;
  gint64              updated;
} TetherChangeRow;

/* "collection\x1fid": one string per record, for hash tables keyed by record. */
char             *_tether_sync_record_key      (const char *collection,
                                                const char *record_id);
void              _tether_change_row_free      (TetherChangeRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherChangeRow, _tether_change_row_free)
TetherSyncChange *_tether_sync_change_new      (const TetherChangeRow *row);

/* Tables (idempotent) and the client id (made once). */
/* Whether the sync tables have this version's layout (read only: no write
 * lock taken when they do). */
gboolean    _tether_sync_store_is_current      (TetherDatabase *db,
                                                gboolean       *current,
                                                GError        **error);
gboolean    _tether_sync_store_ensure          (TetherDatabase *db,
                                                GError        **error);
char       *_tether_sync_store_client_id       (TetherDatabase *db,
                                                GError        **error);
/* Stores @hlc as sync.hlc unless the stored one is greater: the clock
 * only moves forward, whichever process on the file saves it. */
gboolean    _tether_sync_store_keep_hlc        (TetherDatabase *db,
                                                const char     *hlc,
                                                GError        **error);

/* Change log */
gboolean    _tether_sync_store_append          (TetherDatabase  *db,
                                                TetherChangeRow *row,   /* seq set on return */
                                                GError         **error);
/* Rows with @status (< 0: all), log order, at most @limit (0: no limit). */
GPtrArray  *_tether_sync_store_list            (TetherDatabase *db,
                                                int             status,
                                                guint           limit,
                                                GError        **error);
/* The PENDING and SYNCING rows, in log order, of the first @limit records
 * (by their oldest such row), leaving out records with an open conflict
 * and those whose key (_tether_sync_record_key()) is in @busy, if given. */
GPtrArray  *_tether_sync_store_outbox          (TetherDatabase *db,
                                                guint           limit,
                                                GHashTable     *busy,
                                                GError        **error);
/* The record's local edits the server does not have: PENDING, SYNCING and
 * FAILED rows (a failed edit is still not to be overwritten), log order. */
GPtrArray  *_tether_sync_store_record_changes  (TetherDatabase *db,
                                                const char     *collection,
                                                const char     *record_id,
                                                GError        **error);
TetherChangeRow *_tether_sync_store_get_change (TetherDatabase *db,
                                                const char     *change_id,
                                                GError        **error);  /* NOT_FOUND */
/* Write every mutable column of @row (by seq): type, data, prev_data,
 * base_rev, hlc, timestamp, status, retries, error, push_id; updated = now. */
gboolean    _tether_sync_store_update_change   (TetherDatabase  *db,
                                                TetherChangeRow *row,
                                                GError         **error);
/* Only what a push changes: status, retries, error, push_id, base_rev;
 * updated = now. Same errors as update_change. */
gboolean    _tether_sync_store_update_state    (TetherDatabase  *db,
                                                TetherChangeRow *row,
                                                GError         **error);
gboolean    _tether_sync_store_delete_change   (TetherDatabase *db,
                                                gint64          seq,
                                                GError        **error);
gboolean    _tether_sync_store_delete_committed (TetherDatabase *db,
                                                 GError        **error);
gboolean    _tether_sync_store_any_failed      (TetherDatabase *db,
                                                gboolean       *any,
                                                GError        **error);
/* The record's FAILED rows older than @seq → COMMITTED. */
gboolean    _tether_sync_store_commit_failed_before (TetherDatabase *db,
                                                     const char     *collection,
                                                     const char     *record_id,
                                                     gint64          seq,
                                                     GError        **error);
/* SYNCING → PENDING (push_id kept); the number of rows. -1 on error. */
gint        _tether_sync_store_reset_syncing   (TetherDatabase *db,
                                                GError        **error);
gboolean    _tether_sync_store_stats           (TetherDatabase  *db,
                                                TetherSyncStats *stats,
                                                GError         **error);
gint        _tether_sync_store_retry_failed    (TetherDatabase *db,
                                                GError        **error);
gboolean    _tether_sync_store_discard         (TetherDatabase *db,
                                                const char     *change_id,
                                                GError        **error);
gint        _tether_sync_store_compact         (TetherDatabase *db,
                                                GError        **error);

/* Shadow: the last server version of a record. */
gboolean    _tether_sync_store_shadow_get      (TetherDatabase *db,
                                                const char     *collection,
                                                const char     *record_id,
                                                gint64         *rev,      /* 0 when unknown */
                                                char          **data,     /* NULL: tombstone or unknown */
                                                char          **hlc,
                                                GError        **error);   /* FALSE only on error */
gboolean    _tether_sync_store_shadow_set      (TetherDatabase *db,
                                                const char     *collection,
                                                const char     *record_id,
                                                gint64          rev,
                                                const char     *data,
                                                const char     *hlc,
                                                GError        **error);

/* Whether the server keys the record by an integer (the id of its copy is
 * one, and @record_id is its decimal text): a client of the seed's design
 * may make records so, and the server keeps 5 and "5" apart. */
gboolean    _tether_sync_store_shadow_integer_id (TetherDatabase *db,
                                                  const char     *collection,
                                                  const char     *record_id,
                                                  gboolean       *integer,
                                                  GError        **error);

/* Conflict log */
gboolean        _tether_sync_store_save_conflict  (TetherDatabase *db,
                                                   TetherConflict *conflict,  /* insert or replace */
                                                   GError        **error);
GPtrArray      *_tether_sync_store_list_conflicts (TetherDatabase *db,
                                                   gboolean        open_only,
                                                   GError        **error);
TetherConflict *_tether_sync_store_get_conflict   (TetherDatabase *db,
                                                   const char     *conflict_id,
                                                   GError        **error);   /* NOT_FOUND */
TetherConflict *_tether_sync_store_open_conflict  (TetherDatabase *db,
                                                   const char     *collection,
                                                   const char     *record_id,
                                                   GError        **error);   /* NULL: none or error */
gboolean        _tether_sync_store_has_open_conflict (TetherDatabase *db,
                                                      const char     *collection,
                                                      const char     *record_id);
/* Whether any record has local edits (pending, syncing or failed entries,
 * or an open conflict): without any, a pulled page needs no per-record
 * look. */
gboolean        _tether_sync_store_any_local_edits (TetherDatabase  *db,
                                                    gboolean        *any,
                                                    GError         **error);

/* Event log */
gboolean    _tether_sync_store_add_event       (TetherDatabase        *db,
                                                const TetherSyncEvent *event,
                                                GError               **error);
GPtrArray  *_tether_sync_store_list_events     (TetherDatabase *db,
                                                GError        **error);

/* The cross-process sync lock: TRUE when this process holds it now (it was
 * free, expired, held by a dead process on this host, or already ours);
 * FALSE without error when another live process holds it. */
gboolean    _tether_sync_store_lock            (TetherDatabase *db,
                                                gint64          ttl_ms,
                                                GError        **error);
void        _tether_sync_store_unlock          (TetherDatabase *db);
/* Whether a live process other than this one holds the lock. */
gboolean    _tether_sync_store_lock_held_elsewhere (TetherDatabase *db);

/* tether-change-tracker.c: the write hook that logs every local write.
 * Signal "appended" (no args) after a row was appended (inside the
 * transaction, which may still roll back). */
#define TETHER_TYPE_CHANGE_TRACKER (tether_change_tracker_get_type ())
G_DECLARE_FINAL_TYPE (TetherChangeTracker, tether_change_tracker, TETHER, CHANGE_TRACKER, GObject)
TetherChangeTracker *_tether_change_tracker_new (TetherDatabase *db,
                                                 TetherHlc      *hlc);  /* borrowed, must outlive it */

/* tether-sync-scheduler.c: when auto-sync runs. */
typedef enum {
  TETHER_SYNC_OUTCOME_OK,
  TETHER_SYNC_OUTCOME_OFFLINE,       /* network error: backoff */
  TETHER_SYNC_OUTCOME_FAILED,        /* server error, protocol error, busy: backoff */
  TETHER_SYNC_OUTCOME_RATE_LIMITED,  /* wait retry_after_ms (at least the backoff) */
  TETHER_SYNC_OUTCOME_AUTH,          /* stop until _credentials_changed() */
  TETHER_SYNC_OUTCOME_CANCELLED,     /* or cut short by new credentials: no failure, sync again soon
                                      * (after retry_after_ms, if given) */
} TetherSyncOutcome;

#define TETHER_TYPE_SYNC_SCHEDULER (tether_sync_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (TetherSyncScheduler, tether_sync_scheduler, TETHER, SYNC_SCHEDULER, GObject)
/* Emits "fire" (no args) on the thread-default main context it was made on
 * when a sync should start; never again until _done() is called. When
 * disabled it never fires except for _request_now(). Backoff after failures:
 * base (1 s) * 2^(n-1) with full jitter, capped at 5 minutes; after 5
 * failures in a row the breaker opens: no attempts for at least 30 bases
 * (30 s; full jitter alone may draw next to nothing), then one trial. GNetworkMonitor "network-changed" from
 * unavailable to available resets backoff and breaker and fires soon, but
 * never before a server's Retry-After has passed. */
TetherSyncScheduler *_tether_sync_scheduler_new (void);
void     _tether_sync_scheduler_set_enabled   (TetherSyncScheduler *self, gboolean enabled);
void     _tether_sync_scheduler_set_interval  (TetherSyncScheduler *self, guint seconds);
void     _tether_sync_scheduler_set_debounce  (TetherSyncScheduler *self, guint ms);
void     _tether_sync_scheduler_set_backoff_base (TetherSyncScheduler *self, guint ms);   /* tests */
/* tests: plans are made on @clock (µs) instead of g_get_monotonic_time(),
 * so a test can read them exactly; the timers still run in real time. */
typedef gint64 (*TetherSyncClock) (gpointer data);
void     _tether_sync_scheduler_set_clock     (TetherSyncScheduler *self,
                                               TetherSyncClock      clock,
                                               gpointer             data);
void     _tether_sync_scheduler_set_network_monitor (TetherSyncScheduler *self,
                                                     GNetworkMonitor     *monitor);    /* tests; default: the system's */
void     _tether_sync_scheduler_local_write   (TetherSyncScheduler *self);  /* debounce */
void     _tether_sync_scheduler_server_push   (TetherSyncScheduler *self);  /* soon (no debounce wait) */
void     _tether_sync_scheduler_request_now   (TetherSyncScheduler *self);  /* also when disabled or backing off */
/* Every sync, also one started by hand, is reported: _started() when it
 * begins (a fire counts as started), _done() when it ends. */
void     _tether_sync_scheduler_started       (TetherSyncScheduler *self);
void     _tether_sync_scheduler_done          (TetherSyncScheduler *self,
                                               TetherSyncOutcome    outcome,
                                               gint64               retry_after_ms);
void     _tether_sync_scheduler_credentials_changed (TetherSyncScheduler *self);
/* Another server: its Retry-After is forgotten (also before credentials_changed). */
void     _tether_sync_scheduler_server_changed (TetherSyncScheduler *self);
gboolean _tether_sync_scheduler_is_running    (TetherSyncScheduler *self);
guint    _tether_sync_scheduler_get_failures  (TetherSyncScheduler *self);
gboolean _tether_sync_scheduler_breaker_open  (TetherSyncScheduler *self);
/* ms until the next planned attempt, -1 when none is planned. */
gint64   _tether_sync_scheduler_get_next_delay (TetherSyncScheduler *self);

G_END_DECLS
