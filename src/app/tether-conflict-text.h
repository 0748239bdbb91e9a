/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"

G_BEGIN_DECLS

/* The conflict inbox's words for people (tether-conflict-text.c). */

const char *_tether_conflict_field_label    (const char             *field);
const char *_tether_conflict_kind_label     (const char             *collection);
const char *_tether_conflict_status_label   (TetherConflictStatus    status);
const char *_tether_conflict_strategy_label (TetherConflictStrategy  strategy);
/* a time today as its hour, another as its date and hour */
char       *_tether_conflict_format_time    (gint64                  ms);
/* @side's "title" when it is a text that is not empty; NULL otherwise */
const char *_tether_conflict_side_title     (JsonObject             *side);
/* what the record is called now: the result's title, else a side's */
const char *_tether_conflict_title          (TetherConflict         *conflict);
/* a field's value as text; NULL when the field is not set */
char       *_tether_conflict_format_value   (JsonNode               *node);
/* a member of @object; NULL when @object is NULL or lacks it */
JsonNode   *_tether_conflict_member         (JsonObject             *object,
                                             const char             *field);
gboolean    _tether_conflict_same_member    (JsonObject             *a,
                                             JsonObject             *b,
                                             const char             *field);
/* the fields of both sides, title first, then mine in order, then theirs */
GPtrArray  *_tether_conflict_list_fields    (TetherConflict         *conflict);
gboolean    _tether_conflict_strv_has       (const char * const     *strv,
                                             const char             *field);
/* whether the lost lists tell what lost (a merge, a choice field by
 * field), as the engine's restore reads them */
/* whether one side's value of @field lost, in a decided conflict: by the
 * lists after a merge, otherwise where it differs from the result */
gboolean    _tether_conflict_field_lost     (TetherConflict      *conflict,
                                             const char          *field,
                                             gboolean             mine);
/* what happened to the conflict, in a sentence or two */
char       *_tether_conflict_summary_text   (TetherConflict         *conflict);

/* whether @entry holds what restoring @restored replaced */
gboolean    _tether_conflict_replaced_by    (TetherConflict      *entry,
                                             TetherConflict      *restored);
/* what restoring @conflict will do to the record, for the dialog that asks */
char       *_tether_conflict_restore_text   (TetherConflict      *conflict);

G_END_DECLS
