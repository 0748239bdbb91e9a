/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-database.h"
#include "tether-transport.h"
#include "tether-conflict.h"
#include "tether-sync-change.h"

G_BEGIN_DECLS

typedef enum {
  TETHER_SYNC_STATE_IDLE,           /* in sync as far as we know */
  TETHER_SYNC_STATE_SYNCING,
  TETHER_SYNC_STATE_OFFLINE,        /* the server could not be reached; retrying with backoff */
  TETHER_SYNC_STATE_ERROR,          /* the last sync failed (last-error says why) */
  TETHER_SYNC_STATE_AUTH_REQUIRED,  /* the token was refused; auto-sync stops until it changes */
} TetherSyncState;

#define TETHER_TYPE_SYNC_STATE (tether_sync_state_get_type ())
GType       tether_sync_state_get_type  (void);
const char *tether_sync_state_to_string (TetherSyncState state);  /* "idle", "syncing", "offline", "error", "auth-required" */

typedef enum {
  TETHER_SYNC_PHASE_START,
  TETHER_SYNC_PHASE_PUSH,      /* done = changes sent so far, total = pending at start */
  TETHER_SYNC_PHASE_PULL,      /* done = changes received so far, total = 0 (unknown) */
  TETHER_SYNC_PHASE_RESOLVE,   /* a conflict is being resolved */
  TETHER_SYNC_PHASE_DONE,
  TETHER_SYNC_PHASE_FAILED,
} TetherSyncPhase;

#define TETHER_TYPE_SYNC_PHASE (tether_sync_phase_get_type ())
GType       tether_sync_phase_get_type  (void);
const char *tether_sync_phase_to_string (TetherSyncPhase phase);

/* What one sync did. */
typedef struct {
  guint  pushed;      /* changes sent (after coalescing a record's changes) */
  guint  accepted;
  guint  conflicts;   /* conflicts met while pushing or pulling */
  guint  rejected;    /* changes the server refused (now failed) */
  guint  pulled;      /* changes received */
  guint  applied;     /* pulled changes written locally */
  guint  skipped;     /* pulled changes already known (our own echoes) */
  guint  merged;      /* pulled changes merged with pending local edits */
  gint64 duration_ms;
} TetherSyncReport;

typedef struct {
  guint total, pending, syncing, committed, failed;
  guint conflicts_open;
} TetherSyncStats;

/* One entry of the event log (a ring of the last TETHER_SYNC_EVENT_LOG_SIZE
 * syncs, stored in the database so every process sees it). */
#define TETHER_SYNC_EVENT_LOG_SIZE 200
typedef struct {
  gint64            at_ms;
  TetherSyncPhase   phase;      /* DONE or FAILED */
  TetherSyncReport  report;
  char             *error;      /* NULL when it succeeded */
} TetherSyncEvent;

#define TETHER_TYPE_SYNC_EVENT (tether_sync_event_get_type ())
GType            tether_sync_event_get_type (void);
TetherSyncEvent *tether_sync_event_copy     (const TetherSyncEvent *event);
void             tether_sync_event_free     (TetherSyncEvent       *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherSyncEvent, tether_sync_event_free)

/* custom strategy: return the record to keep (a new object; NULL deletes
 * it). @conflict has local, remote and base set. */
typedef JsonObject *(*TetherConflictResolver) (TetherConflict *conflict,
                                               gpointer        user_data);

#define TETHER_TYPE_SYNC_ENGINE (tether_sync_engine_get_type ())
G_DECLARE_FINAL_TYPE (TetherSyncEngine, tether_sync_engine, TETHER, SYNC_ENGINE, GObject)

/* The sync client of @db (docs/sync.md). Creates the sync tables on first
 * use, installs the change tracker (from now on every local write is logged
 * in its transaction), puts changes a crashed process left `syncing` back
 * to `pending`, and loads the remote saved in the database, if any.
 *
 * Properties: "database", "transport", "state" (TetherSyncState), "pending-count",
 * "failed-count", "conflict-count" (open), "last-sync-at" (ms, 0 = never),
 * "last-error" (string or NULL), "seed-compat" (the server sends no rev:
 * the seed's rules apply), "client-id", "strategy", "auto-sync",
 * "interval" (seconds), "batch-size", "max-retries".
 * Signals: "phase" (TetherSyncPhase, guint done, guint total),
 * "conflict" (TetherConflict*): a conflict was met and decided or kept,
 * "queue-changed": the change log or the conflict log changed (also for
 * writes by another process). */
TetherSyncEngine *tether_sync_engine_new          (TetherDatabase  *db,
                                                   GError         **error);
TetherDatabase   *tether_sync_engine_get_database (TetherSyncEngine *self);
const char       *tether_sync_engine_get_client_id (TetherSyncEngine *self);

/* The remote, stored in the database (the CLI's `remote set`). @token may
 * be NULL (the app keeps its token in the keyring and calls set_token). */
gboolean          tether_sync_engine_save_remote  (TetherSyncEngine *self,
                                                   const char       *url,
                                                   const char       *token,
                                                   GError          **error);
/* The stored remote URL and token (either may come back NULL). */
void              tether_sync_engine_load_remote  (TetherSyncEngine *self,
                                                   char            **url,
                                                   char            **token);
/* Use an HTTP transport to @url with @token (NULL url: no remote). */
void              tether_sync_engine_set_remote   (TetherSyncEngine *self,
                                                   const char       *url,
                                                   const char       *token);
/* A new token clears auth-required and lets auto-sync run again. */
void              tether_sync_engine_set_token    (TetherSyncEngine *self,
                                                   const char       *token);
void              tether_sync_engine_set_transport (TetherSyncEngine *self,
                                                   TetherTransport  *transport);
TetherTransport  *tether_sync_engine_get_transport (TetherSyncEngine *self);

void              tether_sync_engine_set_strategy (TetherSyncEngine       *self,
                                                   TetherConflictStrategy  strategy);
TetherConflictStrategy tether_sync_engine_get_strategy (TetherSyncEngine *self);
void              tether_sync_engine_set_resolver (TetherSyncEngine       *self,
                                                   TetherConflictResolver  resolver,
                                                   gpointer                user_data,
                                                   GDestroyNotify          destroy);
void              tether_sync_engine_set_batch_size  (TetherSyncEngine *self,
                                                      guint             size);   /* default 500 */
void              tether_sync_engine_set_max_retries (TetherSyncEngine *self,
                                                      guint             retries); /* default 5 */

/* One sync: push every pending change (batches until none is left), then
 * pull until hasMore is false. Only one sync runs at a time per database,
 * across processes (BUSY otherwise). Errors are TETHER_SYNC_ERROR. */
void              tether_sync_engine_sync_async   (TetherSyncEngine    *self,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean          tether_sync_engine_sync_finish  (TetherSyncEngine    *self,
                                                   GAsyncResult        *result,
                                                   TetherSyncReport    *report,
                                                   GError             **error);
/* Run a sync on a private main context until it ends (CLI, tests). Not
 * with a WebSocket transport, whose socket runs on the main context it
 * was made on: that fails at once with TETHER_SYNC_ERROR_INVALID. */
gboolean          tether_sync_engine_sync         (TetherSyncEngine    *self,
                                                   TetherSyncReport    *report,
                                                   GError             **error);

/* Auto-sync on the thread-default main context of the caller: interval
 * timer, debounce after local writes, backoff with jitter up to 5 minutes,
 * Retry-After, a circuit breaker, GNetworkMonitor, server_push. */
void              tether_sync_engine_set_auto_sync (TetherSyncEngine *self,
                                                    gboolean          enabled);
void              tether_sync_engine_set_interval  (TetherSyncEngine *self,
                                                    guint             seconds);  /* default 60 */
void              tether_sync_engine_set_debounce  (TetherSyncEngine *self,
                                                    guint             ms);       /* default 1000 */

TetherSyncState   tether_sync_engine_get_state        (TetherSyncEngine *self);
guint             tether_sync_engine_get_pending_count (TetherSyncEngine *self);
guint             tether_sync_engine_get_failed_count  (TetherSyncEngine *self);
guint             tether_sync_engine_get_conflict_count (TetherSyncEngine *self);
gint64            tether_sync_engine_get_last_sync_at  (TetherSyncEngine *self);
const char       *tether_sync_engine_get_last_error    (TetherSyncEngine *self);
gboolean          tether_sync_engine_get_seed_compat   (TetherSyncEngine *self);

/* Devtools. */
/* Changes in log order; @status < 0 for all. TetherSyncChange*. */
GPtrArray        *tether_sync_engine_list_changes  (TetherSyncEngine *self,
                                                    int               status,
                                                    GError          **error);
gboolean          tether_sync_engine_get_stats     (TetherSyncEngine *self,
                                                    TetherSyncStats  *stats,
                                                    GError          **error);
/* Failed changes back to pending with their retries reset; the count. */
gint              tether_sync_engine_retry_failed  (TetherSyncEngine *self,
                                                    GError          **error);
/* Drop one pending or failed change from the log (the local record keeps its
 * data; the next change of that record carries it). SYNCING ones: BUSY. */
gboolean          tether_sync_engine_discard       (TetherSyncEngine *self,
                                                    const char       *change_id,
                                                    GError          **error);
/* Squash each record's pending changes into one (create+updates → create,
 * create+…+delete → nothing, update+updates → update, …+delete → delete);
 * returns how many entries were removed. */
gint              tether_sync_engine_compact       (TetherSyncEngine *self,
                                                    GError          **error);
/* Newest last; TetherSyncEvent*. */
GPtrArray        *tether_sync_engine_list_events   (TetherSyncEngine *self,
                                                    GError          **error);
/* TetherConflict*, newest last. */
GPtrArray        *tether_sync_engine_list_conflicts (TetherSyncEngine *self,
                                                     gboolean          open_only,
                                                     GError          **error);
TetherConflict   *tether_sync_engine_get_conflict   (TetherSyncEngine *self,
                                                     const char       *conflict_id,
                                                     GError          **error);
/* Decide an open conflict: write @chosen (NULL: delete) as a local change
 * based on the server's version, so the next sync pushes it. @seen is the
 * conflict as the caller read it (from the list, the signal or
 * tether_sync_engine_get_conflict()) and picked @chosen from. When it no
 * longer is the conflict as it stands (a pull brought a newer server
 * version, or the record was edited here since), nothing is written, the
 * stored conflict is brought up to date (and announced), and the error is
 * TETHER_SYNC_ERROR_CHANGED: a choice never overwrites a version its maker
 * has not seen. Inside a caller's transaction, rolling it back undoes that
 * update too. */
gboolean          tether_sync_engine_resolve_conflict (TetherSyncEngine *self,
                                                       TetherConflict   *seen,
                                                       JsonObject       *chosen,
                                                       GError          **error);
/* Write the version that lost back as a new local change (it syncs like an
 * edit), and mark the conflict restored. */
gboolean          tether_sync_engine_restore_conflict (TetherSyncEngine *self,
                                                       const char       *conflict_id,
                                                       GError          **error);

G_END_DECLS
