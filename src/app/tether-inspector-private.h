/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tether.h"

G_BEGIN_DECLS

/* What tether-inspector.c shares with tether-inspector-rows.c, which makes
 * the text and widgets it shows, and with tether-inspector-queue.c and
 * tether-inspector-conflicts.c. */

/* Object data on each cell of the queue: its GtkListItem, so a right click
 * can find the change under the pointer. */
#define TETHER_INSPECTOR_LIST_ITEM "tether-inspector-list-item"

/* Local time of @ms: HH:MM:SS today, with the date on other days. */
char             *_tether_inspector_format_when         (gint64                 ms);
/* Replace the style classes of @label by @base and @extra (either NULL). */
void              _tether_inspector_set_label_style     (GtkWidget             *label,
                                                         const char            *base,
                                                         const char            *extra);

/* How the header shows @state: an icon, a translated title, a style class;
 * without a remote, "No Server". */
void              _tether_inspector_state_look          (TetherSyncState        state,
                                                         gboolean               remote,
                                                         const char           **icon,
                                                         const char           **title,
                                                         const char           **style);
/* The line under it: the sync's progress (@phase, @done and @total of the
 * last "phase" signal), the last error, or when the last sync ended. */
char             *_tether_inspector_state_detail        (TetherSyncEngine      *engine,
                                                         TetherSyncPhase        phase,
                                                         guint                  done,
                                                         guint                  total);

/* The template callbacks of the queue's columns (setup_*_cell, bind_*_cell). */
void              _tether_inspector_bind_cell_callbacks (GtkWidgetClass        *widget_class);
/* The context menu of a row of the queue. */
GMenuModel       *_tether_inspector_row_menu_new        (TetherSyncChange      *change);
/* "Discard Change?" with the responses "cancel" and "discard". */
AdwMessageDialog *_tether_inspector_discard_dialog_new  (GtkWindow             *parent,
                                                         TetherSyncChange      *change);
/* The details pane's text: ids, times, rev and hlc; the record's JSON
 * (before the change, for a delete). */
void              _tether_inspector_describe_change     (TetherSyncChange      *change,
                                                         char                 **meta,
                                                         char                 **data);

/* tether-inspector-queue.c: the queue counted by status into @counts
 * (TETHER_CHANGE_FAILED + 1 of them), and by record (an opaque table). */
GHashTable       *_tether_inspector_count_queue         (GListModel            *model,
                                                         guint                 *counts);
/* The records a Compact left as they were though they looked compactable
 * (one of their changes was sent before): record key → its pending ids. */
GHashTable       *_tether_inspector_held_back_new       (void);
/* Whether Compact can do anything for @records (the held back aside);
 * forgets the held back records whose changes moved since. */
gboolean          _tether_inspector_find_compactable    (GHashTable            *held_back,
                                                         GHashTable            *records);
/* After a Compact that removed nothing: hold back every record of
 * @records that looked compactable. */
void              _tether_inspector_hold_back           (GHashTable            *held_back,
                                                         GHashTable            *records);

/* tether-inspector-conflicts.c: show @log (the conflict log, newest last)
 * in @store (newest first) by replacing only the range that differs;
 * returns how many conflicts are open. */
guint             _tether_inspector_update_conflicts    (GListStore            *store,
                                                         GPtrArray             *log);

/* A GtkListBoxCreateWidgetFunc for TetherConflict items. */
GtkWidget        *_tether_inspector_conflict_row_new    (gpointer               item,
                                                         gpointer               user_data);
GtkWidget        *_tether_inspector_event_row_new       (const TetherSyncEvent *event);

G_END_DECLS
