/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-schema.h"

G_BEGIN_DECLS

/* Conflict merging (docs/sync.md). Records are JSON objects; NULL stands for
 * "deleted" (or, for @base, "no common version known"). */

/* Line-based three-way merge of text (diff3). Returns the merged text and
 * sets @clean FALSE when both sides changed the same lines (the result then
 * holds the side given by @prefer_local at those places). */
char       *tether_merge_text       (const char *base,
                                     const char *local,
                                     const char *remote,
                                     gboolean    prefer_local,
                                     gboolean   *clean);

typedef struct {
  JsonObject *result;         /* merged record; NULL when the merge deletes it */
  GPtrArray  *both_changed;   /* char*: top-level fields changed on both sides (sorted) */
  GPtrArray  *local_lost;     /* char*: fields where the local value lost */
  GPtrArray  *remote_lost;    /* char*: fields where the remote value lost */
  gboolean    local_lost_record;  /* a local delete or edit lost as a whole */
  gboolean    remote_lost_record; /* a remote delete or edit lost as a whole */
} TetherMergeResult;

void        tether_merge_result_free (TetherMergeResult *result);

/* Three-way merge per top-level field against @base:
 * - a field changed on one side only takes that side;
 * - a field changed on both sides: for `merge: "text"` string fields a clean
 *   tether_merge_text() result, else the side with the greater hlc;
 * - @base NULL (both sides created the record): every differing field counts
 *   as changed on both sides;
 * - delete against edit: the edit wins (the record survives, the delete is
 *   reported lost); delete against delete: NULL.
 * @schema/@collection select text-merge fields (@schema may be NULL). The
 * "id" member is kept. */
TetherMergeResult *tether_merge_records (TetherSchema *schema,
                                         const char   *collection,
                                         JsonObject   *base,
                                         JsonObject   *local,
                                         const char   *local_hlc,
                                         JsonObject   *remote,
                                         const char   *remote_hlc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherMergeResult, tether_merge_result_free)

G_END_DECLS
