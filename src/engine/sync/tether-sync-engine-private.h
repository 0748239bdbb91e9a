/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the files of TetherSyncEngine share (tether-sync-engine.c, -push.c,
 * -pull.c, -resolve.c, -auto.c, -devtools.c, -protocol.c). */

#include "tether-sync-private.h"

G_BEGIN_DECLS

struct _TetherSyncEngine
{
  GObject                 parent_instance;

  TetherDatabase         *db;
  TetherChangeTracker    *tracker;     /* owned by the database (object data) */
  TetherHlc              *hlc;         /* owned by the database (object data) */
  char                   *client_id;
  TetherTransport        *transport;
  gulong                  server_push_id;
  gulong                  changed_id;
  gulong                  external_id;
  gulong                  appended_id;
  guint                   appended;    /* rows appended since the last "changed" */

  TetherConflictStrategy  strategy;
  TetherConflictResolver  resolver;
  gpointer                resolver_data;
  GDestroyNotify          resolver_destroy;
  guint                   batch_size;
  guint                   max_retries;

  TetherSyncState         state;
  guint                   pending_count;
  guint                   failed_count;
  guint                   conflict_count;
  gint64                  last_sync_at;
  char                   *last_error;
  gboolean                seed_compat;

  TetherSyncScheduler    *scheduler;
  gboolean                auto_sync;
  guint                   interval;
  GTask                  *running;     /* the sync in progress, borrowed */
  guint                   credentials; /* bumped by every new transport or token */
  GPtrArray              *parked_push; /* JsonArray* server_push payloads met while syncing */
  GHashTable             *unannounced; /* conflict id → its queued Announce (borrowed) */
};

/* One sync in progress (the GTask's data). */
typedef struct {
  TetherSyncEngine *engine;
  TetherSyncReport  report;
  gint64            started_us;
  guint             push_rounds;
  guint             pull_pages;
  guint             cycles;        /* push+pull rounds (merges may leave new changes) */
  gboolean          cursor_reset;  /* a 410 was answered with a pull from null */
  gboolean          cursor_unknown; /* a bad-cursor was answered with a resync from null */
  TetherTransport  *transport;     /* the one it started with (a ref): every request goes there */
  guint             credentials;   /* the engine's credentials when it started */
  GPtrArray        *sent;          /* TetherPushGroup* claimed, not yet sent */
  guint             in_flight;     /* push requests awaiting their answer */
  guint             landed;        /* push answers received */
  GHashTable       *busy;          /* "collection\x1fid" of the groups in flight */
  GError           *push_error;    /* the first failure while others were in flight */
  GError           *push_failed;   /* the push's failure, the pull going on (ends the sync) */
  guint             pending_at_start;
  guint             batch_limit;   /* lowered when the server finds a batch too large */
  gint64            counted_us;    /* when a batch last refreshed the counts */
  GHashTable       *seen;          /* in a resync: "collection\x1fid" of every record pulled */
  char             *resync_cursor; /* in a resync: its cursor, stored at its end */
  char             *pull_cursor;   /* the cursor of the pull request in flight */
  GError           *pull_error;    /* a page failed while the next one was on its way */
  GSource          *renew;         /* keeps the cross-process lock from expiring */
  gint64            retry_after_ms; /* the longest Retry-After of a refusal met, kept as it came */
  char             *identity;      /* the remote's (_tether_transport_identity), or NULL */
  gboolean          retarget;      /* the cursor's feed is not the server's: a full resync */
} TetherSyncOp;

/* A record's pending changes, sent as one change (docs/sync.md, "Push"). */
typedef struct {
  char             *push_id;
  char             *collection;
  char             *record_id;
  GPtrArray        *rows;          /* TetherChangeRow*, log order */
  TetherChangeType  type;
  gint64            base_rev;
  gboolean          skip;          /* create … delete: nothing to send */
  gboolean          integer_id;    /* the server keys the record by a number */
  char             *data;          /* the data as sent, when not the last row's */
} TetherPushGroup;

void _tether_push_group_free (TetherPushGroup *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherPushGroup, _tether_push_group_free)

static inline TetherChangeRow *
_tether_push_group_first (TetherPushGroup *group)
{
  return g_ptr_array_index (group->rows, 0);
}

static inline TetherChangeRow *
_tether_push_group_last (TetherPushGroup *group)
{
  return g_ptr_array_index (group->rows, group->rows->len - 1);
}

/* tether-sync-push-claim.c: batches read and claimed from the outbox. */
gboolean _tether_push_mark_rows        (TetherSyncEngine    *self,
                                        TetherPushGroup     *group,
                                        TetherChangeStatus   status,
                                        const char          *message,
                                        gboolean             count_retry,
                                        GError             **error);
/* Claims the next batch into op->sent (records in op->busy left out) in
 * the open transaction and commits it; on failure nothing is claimed and
 * the transaction is over. *@only_skipped: the batch had groups, none of
 * which needs sending. */
gboolean _tether_push_claim_and_commit (TetherSyncEngine    *self,
                                        TetherSyncOp        *op,
                                        gboolean            *only_skipped,
                                        GError             **error);
/* The same in a transaction of its own. */
gboolean _tether_push_next_batch       (TetherSyncEngine    *self,
                                        TetherSyncOp        *op,
                                        gboolean            *only_skipped,
                                        GError             **error);

/* tether-sync-push-answer.c */
/* Stores the answer to @sent and, with @claim, claims the next batch, in
 * one transaction. */
gboolean _tether_push_store_answer     (TetherSyncEngine    *self,
                                        TetherSyncOp        *op,
                                        GPtrArray           *sent,
                                        JsonObject          *answer,
                                        gboolean             claim,
                                        gboolean            *only_skipped,
                                        GError             **error);
/* @sent was refused as a whole (too large, bad request): its rows go back
 * to pending (a single change fails) and later batches are half as large. */
gboolean _tether_push_shrink_batch     (TetherSyncEngine    *self,
                                        TetherSyncOp        *op,
                                        GPtrArray           *sent,
                                        const GError        *refusal,
                                        GError             **error);

/* tether-sync-protocol.c: requests out, answers checked in full before
 * anything is written (a malformed answer changes nothing locally). */
typedef struct {
  char   *id;
  gint64  rev;             /* -1 when the server sent none (seed server) */
  char   *hlc;             /* the stored hlc when clamped, else NULL */
} TetherPushAccepted;

typedef struct {
  char       *change_id;
  JsonObject *remote;      /* NULL when deleted or absent */
  gint64      remote_rev;  /* -1 when none */
  char       *remote_hlc;
  gint64      remote_ms;   /* remoteTimestamp, 0 when none */
} TetherPushConflict;

typedef struct {
  char *id;
  char *error;
  char *code;
} TetherPushError;

typedef struct {
  GPtrArray *accepted;     /* TetherPushAccepted* */
  GPtrArray *conflicts;    /* TetherPushConflict* */
  GPtrArray *errors;       /* TetherPushError* */
} TetherPushResponse;

typedef struct {
  char             *collection;
  char             *record_id;
  TetherChangeType  type;
  JsonObject       *data;  /* NULL for delete */
  gint64            rev;   /* -1 when none (seed server) */
  char             *hlc;
  gint64            timestamp_ms;
} TetherPullChange;

typedef struct {
  GPtrArray *changes;      /* TetherPullChange* */
  char      *cursor;
  gboolean   has_more;
} TetherPullResponse;

void                _tether_push_response_free (TetherPushResponse *response);
void                _tether_pull_response_free (TetherPullResponse *response);
void                _tether_pull_change_free   (TetherPullChange   *change);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherPushResponse, _tether_push_response_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherPullResponse, _tether_pull_response_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherPullChange, _tether_pull_change_free)

GBytes             *_tether_sync_push_request_bytes (TetherSyncEngine *self,
                                                     GPtrArray        *groups,
                                                     GError          **error);
/* @resync: a pull from null after a 410, going on (docs/protocol.md). */
JsonObject         *_tether_sync_pull_request   (const char       *cursor,
                                                 guint             batch_size,
                                                 const char       *skip_client,
                                                 gboolean          resync);
TetherPushResponse *_tether_sync_parse_push     (JsonObject       *object,
                                                 GError          **error);
TetherPullResponse *_tether_sync_parse_pull     (JsonObject       *object,
                                                 GError          **error);
/* The payload of server_push: TetherPullChange*. */
GPtrArray          *_tether_sync_parse_push_payload (JsonArray *payload,
                                                     GError   **error);
/* One change object of a pull page or a server_push payload. */
TetherPullChange   *_tether_sync_parse_change   (JsonNode         *node,
                                                 guint             index,
                                                 GError          **error);

/* tether-sync-engine.c */
void     _tether_sync_engine_set_state   (TetherSyncEngine *self,
                                          TetherSyncState   state,
                                          const char       *error);
void     _tether_sync_engine_refresh_counts (TetherSyncEngine *self);
void     _tether_sync_engine_set_seed_compat (TetherSyncEngine *self,
                                              gboolean          seed_compat);
void     _tether_sync_engine_emit_phase  (TetherSyncEngine *self,
                                          TetherSyncPhase   phase,
                                          guint             done,
                                          guint             total);
void     _tether_sync_engine_note_conflict (TetherSyncEngine *self,
                                            TetherConflict   *conflict);
void     _tether_sync_engine_queue_changed (TetherSyncEngine *self);
/* tether-sync-run.c: NULL while the engine's transport and credentials
 * are those the sync started with; else why the sync must stop. */
GError  *_tether_sync_remote_changed     (TetherSyncOp     *op);
void     _tether_sync_engine_mark_synced (TetherSyncEngine *self,
                                          gint64            at_ms);
char    *_tether_sync_engine_get_cursor  (TetherSyncEngine *self);
gboolean _tether_sync_engine_set_cursor  (TetherSyncEngine *self,
                                          const char       *cursor,
                                          GError          **error);

/* tether-sync-push.c / -pull.c: the steps of one sync; each ends by
 * calling the next step or _tether_sync_op_fail / _tether_sync_op_finish. */
void     _tether_sync_push_next          (GTask            *task);
void     _tether_sync_pull_next          (GTask            *task);
/* Makes this sync's pull start over from null, seeing every record. */
void     _tether_sync_pull_from_start    (TetherSyncOp     *op);
void     _tether_sync_op_finish          (GTask            *task);
void     _tether_sync_op_fail            (GTask            *task,
                                          GError           *error);   /* takes it */
/* An answer from @transport came with @error: a rate limit's Retry-After
 * is kept with the sync as it came (another request may reset the
 * transport's before the sync ends). */
void     _tether_sync_op_note_error      (TetherSyncOp     *op,
                                          TetherTransport  *transport,
                                          const GError     *error);
/* The clock as sync.hlc, never lowered, in the caller's transaction: with
 * the page, answer or deletion whose hlcs it has seen, so that a kill
 * after that commit cannot lose them. */
gboolean _tether_sync_save_clock         (TetherSyncEngine *self,
                                          GError          **error);
/* Apply pulled changes (a page or a server_push) in the caller's transaction. */
gboolean _tether_sync_apply_changes      (TetherSyncEngine *self,
                                          GPtrArray        *changes,   /* TetherPullChange* */
                                          TetherSyncReport *report,
                                          GError          **error);

/* tether-sync-resolve.c: a remote version met local edits of the same
 * record. Decides under the strategy, writes the result locally (not
 * logged), stores the remote as the new shadow, rebases or clears the
 * record's pending changes, and logs what lost. In the caller's transaction.
 * @carry_retries: the attempts the rebased change has used at least (a
 * push conflict counts one; a push-back that keeps conflicting fails after
 * max-retries). */
gboolean _tether_sync_resolve            (TetherSyncEngine *self,
                                          const char       *collection,
                                          const char       *record_id,
                                          const char       *local_hlc,   /* NULL: the newest pending change's */
                                          JsonObject       *remote,
                                          gint64            remote_rev,
                                          const char       *remote_hlc,
                                          guint             carry_retries,
                                          TetherSyncReport *report,
                                          GError          **error);
/* Bring an open conflict's local side to @local (NULL: deleted here). */
gboolean _tether_sync_conflict_refresh_local (TetherSyncEngine *self,
                                              TetherConflict   *conflict,
                                              JsonObject       *local,
                                              GError          **error);
/* Decide the open conflicts by the strategy, unless it is `manual`. */
gboolean _tether_sync_decide_open        (TetherSyncEngine *self,
                                          TetherSyncReport *report,
                                          GError          **error);
/* Write @data (NULL: delete) as the local record without logging a change. */
gboolean _tether_sync_write_local        (TetherSyncEngine *self,
                                          const char       *collection,
                                          const char       *record_id,
                                          JsonObject       *data,
                                          GError          **error);
/* @data as it is stored locally: a copy with its "id", the schema's
 * defaults applied, or as received when it does not pass this schema. */
JsonObject *_tether_sync_local_data      (TetherSyncEngine *self,
                                          const char       *collection,
                                          const char       *record_id,
                                          JsonObject       *data);
/* The local record's data (a new object) or NULL when it does not exist. */
JsonObject *_tether_sync_read_local      (TetherSyncEngine *self,
                                          const char       *collection,
                                          const char       *record_id,
                                          GError          **error);

/* tether-sync-retarget.c: a new server or account gets a full resync. */
gboolean _tether_sync_retarget_check     (TetherSyncEngine *self,
                                          TetherSyncOp     *op,
                                          GError          **error);
/* The same when the server does not know the pull's cursor (bad-cursor). */
gboolean _tether_sync_retarget_unknown_cursor (TetherSyncEngine *self,
                                               TetherSyncOp     *op,
                                               GError          **error);
/* In the transaction of the pull's last page. */
gboolean _tether_sync_retarget_finish    (TetherSyncEngine *self,
                                          TetherSyncOp     *op,
                                          GError          **error);

/* tether-sync-auto.c */
void     _tether_sync_auto_init          (TetherSyncEngine *self);
void     _tether_sync_auto_dispose       (TetherSyncEngine *self);
void     _tether_sync_auto_started       (TetherSyncEngine *self);
void     _tether_sync_auto_report        (TetherSyncEngine *self,
                                          const GError     *error,
                                          gboolean          stale,
                                          gint64            retry_after_ms);
void     _tether_sync_auto_local_write   (TetherSyncEngine *self);
void     _tether_sync_auto_server_push   (TetherSyncEngine *self,
                                          JsonArray        *changes);

/* tether-sync-attach.c: attach the tracker to a database whose sync tables
 * exist (_tether_sync_attach_if_enabled, for tether_database_open, is
 * declared in tether-private.h). */
TetherChangeTracker *_tether_sync_attach (TetherDatabase *db,
                                          GError        **error);
/* tether-sync-attach.c: tables, tracker and clock for tether_sync_engine_new. */
gboolean _tether_sync_set_up_tracking    (TetherDatabase *db,
                                          GError        **error);
TetherChangeTracker *_tether_sync_get_tracker (TetherDatabase *db);
TetherHlc *_tether_sync_get_hlc          (TetherDatabase *db);

G_END_DECLS
