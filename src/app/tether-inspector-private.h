/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tether.h"
#include "tether-change-model.h"
#include "tether-inspector.h"

G_BEGIN_DECLS

/* What tether-inspector.c shares with tether-inspector-actions.c (the
 * inspector.* actions and the row menu), tether-inspector-rows.c, which
 * makes the text and widgets it shows, tether-inspector-queue.c and
 * tether-inspector-conflicts.c. */

typedef enum {
  REFRESH_QUEUE     = 1 << 0,
  REFRESH_CONFLICTS = 1 << 1,
  REFRESH_EVENTS    = 1 << 2,
} TetherInspectorRefresh;

struct _TetherInspector
{
  GtkWidget          parent_instance;

  TetherSyncEngine  *engine;
  TetherChangeModel *changes;
  GListStore        *conflicts;      /* TetherConflict, newest first */
  GCancellable      *cancellable;    /* Sync Now */
  guint              refresh_id;
  TetherInspectorRefresh refresh_due;
  gint64             newest_event_at; /* the event shown first, 0: none */
  guint              n_events;
  TetherSyncPhase    phase;
  guint              phase_done;
  guint              phase_total;
  char              *selected_id;     /* the change in the details pane */
  GHashTable        *held_back;       /* records Compact cannot squash */

  AdwToastOverlay   *toasts;
  GtkWidget         *row_menu;        /* the queue's context menu */

  GtkImage          *state_icon;
  GtkLabel          *state_label;
  GtkLabel          *state_detail;
  GtkSpinner        *spinner;
  GtkRevealer       *banner;
  GtkLabel          *banner_label;
  GtkLabel          *total_label;
  GtkLabel          *pending_label;
  GtkLabel          *syncing_label;
  GtkLabel          *committed_label;
  GtkLabel          *failed_label;
  AdwViewStack      *pages;
  AdwViewStackPage  *queue_page;
  AdwViewStackPage  *conflicts_page;
  AdwViewStackPage  *events_page;
  GtkStack          *queue_stack;
  GtkStack          *conflict_stack;
  GtkStack          *event_stack;
  AdwStatusPage     *queue_error;
  AdwStatusPage     *conflict_error;
  AdwStatusPage     *event_error;
  GtkColumnView     *queue_view;
  GtkRevealer       *details;
  GtkLabel          *details_title;
  GtkLabel          *details_meta;
  GtkLabel          *details_error;
  GtkLabel          *details_data;
  GtkListBox        *conflict_list;
  GtkListBox        *event_list;
};

/* Read @what again once the main loop is idle (and the inspector shown). */
void              _tether_inspector_queue_refresh       (TetherInspector       *self,
                                                         TetherInspectorRefresh what);
/* The banner: "@what: <the error's message>". */
void              _tether_inspector_show_error          (TetherInspector       *self,
                                                         const char            *what,
                                                         const GError          *error);

/* tether-inspector-actions.c: install the inspector.* actions. */
void              _tether_inspector_install_actions     (GtkWidgetClass        *widget_class);
/* The queue's row menu, and the click and keys that open it or discard. */
void              _tether_inspector_add_row_menu        (TetherInspector       *self);

/* Object data on each cell of the queue: its GtkListItem, so the row menu
 * finds the change under the pointer or in the focused row. */
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
 * in @store (newest first), splicing only the conflicts that changed, came
 * or went; returns how many conflicts are open. */
guint             _tether_inspector_update_conflicts    (GListStore            *store,
                                                         GPtrArray             *log);

/* A GtkListBoxCreateWidgetFunc for TetherConflict items. */
GtkWidget        *_tether_inspector_conflict_row_new    (gpointer               item,
                                                         gpointer               user_data);
GtkWidget        *_tether_inspector_event_row_new       (const TetherSyncEvent *event);

G_END_DECLS
