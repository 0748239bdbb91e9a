/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  TETHER_CONFLICT_STRATEGY_MERGE,        /* three-way per field; both-changed fields by hlc */
  TETHER_CONFLICT_STRATEGY_LWW,          /* whole record by hlc */
  TETHER_CONFLICT_STRATEGY_CLIENT_WINS,
  TETHER_CONFLICT_STRATEGY_SERVER_WINS,
  TETHER_CONFLICT_STRATEGY_CUSTOM,       /* the engine's resolver callback */
  TETHER_CONFLICT_STRATEGY_MANUAL,       /* kept open in the inbox until the user decides */
} TetherConflictStrategy;

#define TETHER_TYPE_CONFLICT_STRATEGY (tether_conflict_strategy_get_type ())
GType       tether_conflict_strategy_get_type    (void);
const char *tether_conflict_strategy_to_string   (TetherConflictStrategy strategy); /* "merge", "lww", "client-wins", … */
gboolean    tether_conflict_strategy_from_string (const char             *text,
                                                  TetherConflictStrategy *strategy);

typedef enum {
  TETHER_CONFLICT_OPEN,       /* manual: waiting for the user */
  TETHER_CONFLICT_RESOLVED,   /* decided (automatically or by the user) */
  TETHER_CONFLICT_RESTORED,   /* the losing version was written back */
} TetherConflictStatus;

#define TETHER_TYPE_CONFLICT_STATUS (tether_conflict_status_get_type ())
GType       tether_conflict_status_get_type  (void);
const char *tether_conflict_status_to_string (TetherConflictStatus status); /* "open", "resolved", "restored" */

typedef enum {
  TETHER_CONFLICT_WINNER_NONE,    /* open */
  TETHER_CONFLICT_WINNER_LOCAL,
  TETHER_CONFLICT_WINNER_REMOTE,
  TETHER_CONFLICT_WINNER_MERGED,
} TetherConflictWinner;

#define TETHER_TYPE_CONFLICT (tether_conflict_get_type ())
G_DECLARE_FINAL_TYPE (TetherConflict, tether_conflict, TETHER, CONFLICT, GObject)

/* One entry of the conflict log: both sides of a record that was changed
 * locally and on the server, how it was decided, and what lost. Records are
 * owned JSON objects (NULL: deleted / unknown). */
TetherConflict *tether_conflict_new (const char *id,
                                     const char *collection,
                                     const char *record_id);
const char   *tether_conflict_get_id          (TetherConflict *self);
const char   *tether_conflict_get_collection  (TetherConflict *self);
const char   *tether_conflict_get_record_id   (TetherConflict *self);
JsonObject   *tether_conflict_get_local       (TetherConflict *self);
JsonObject   *tether_conflict_get_remote      (TetherConflict *self);
JsonObject   *tether_conflict_get_base        (TetherConflict *self);
JsonObject   *tether_conflict_get_result      (TetherConflict *self);  /* what was kept; NULL when open or deleted */
const char   *tether_conflict_get_local_hlc   (TetherConflict *self);
const char   *tether_conflict_get_remote_hlc  (TetherConflict *self);
gint64        tether_conflict_get_remote_rev  (TetherConflict *self);
TetherConflictStrategy tether_conflict_get_strategy (TetherConflict *self);
TetherConflictStatus   tether_conflict_get_status   (TetherConflict *self);
TetherConflictWinner   tether_conflict_get_winner   (TetherConflict *self);
/* Fields changed on both sides, and the fields whose local/remote value lost. */
const char * const *tether_conflict_get_fields       (TetherConflict *self);
const char * const *tether_conflict_get_local_lost   (TetherConflict *self);
const char * const *tether_conflict_get_remote_lost  (TetherConflict *self);
gboolean      tether_conflict_get_local_deleted  (TetherConflict *self);
gboolean      tether_conflict_get_remote_deleted (TetherConflict *self);
gint64        tether_conflict_get_created     (TetherConflict *self);   /* ms */
gint64        tether_conflict_get_resolved    (TetherConflict *self);   /* ms, 0 when open */

/* Whether the lost-field lists say what lost (a merge, or a choice taken
 * field by field); after a whole version was kept they are only the merge
 * preview's, and lww, client- or server-wins leave none. */
gboolean      tether_conflict_lost_by_fields  (TetherConflict *self);
/* Whether two reads of a conflict show the same state: same entry, same
 * decision, same versions on both sides. */
gboolean      tether_conflict_equal           (TetherConflict *a,
                                               TetherConflict *b);

/* Setters, for the engine and the store (take copies). */
void tether_conflict_set_local      (TetherConflict *self, JsonObject *local, const char *hlc);
void tether_conflict_set_remote     (TetherConflict *self, JsonObject *remote, const char *hlc, gint64 rev);
void tether_conflict_set_base       (TetherConflict *self, JsonObject *base);
void tether_conflict_set_result     (TetherConflict *self, JsonObject *result, TetherConflictWinner winner);
void tether_conflict_set_strategy   (TetherConflict *self, TetherConflictStrategy strategy);
void tether_conflict_set_status     (TetherConflict *self, TetherConflictStatus status, gint64 resolved_ms);
void tether_conflict_set_fields     (TetherConflict *self,
                                     const char * const *both_changed,
                                     const char * const *local_lost,
                                     const char * const *remote_lost);
void tether_conflict_set_deleted    (TetherConflict *self, gboolean local_deleted, gboolean remote_deleted);
void tether_conflict_set_created    (TetherConflict *self, gint64 ms);

/* The version that lost (to restore): the local one unless local won. */
JsonObject   *tether_conflict_get_loser       (TetherConflict *self);
JsonNode     *tether_conflict_to_json         (TetherConflict *self);

G_END_DECLS
