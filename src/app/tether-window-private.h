/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-editor.h"
#include "tether-inspector.h"
#include "tether-item-model.h"
#include "tether-sync-status.h"
#include "tether-window.h"

G_BEGIN_DECLS

/* Shared by tether-window.c (widgets, list, selection) and
 * tether-window-actions.c (the win.* actions). */
struct _TetherWindow
{
  AdwApplicationWindow  parent_instance;

  /* template */
  AdwToastOverlay      *toast_overlay;
  GtkWidget            *back_button;
  GtkWidget            *kind_switcher;
  GtkMenuButton        *tag_button;
  GtkLabel             *tag_label;
  GtkWidget            *search_button;
  TetherSyncStatus     *sync_status;
  AdwFlap              *flap;
  GtkStack             *main_stack;
  AdwLeaflet           *leaflet;
  GtkWidget            *list_pane;
  GtkSearchBar         *search_bar;
  GtkSearchEntry       *search_entry;
  GtkStack             *list_stack;
  GtkGridView          *list_view;
  AdwStatusPage        *no_results_page;
  GtkStack             *editor_stack;
  TetherEditor         *editor;
  TetherInspector      *inspector;

  TetherDatabase       *db;
  TetherSyncEngine     *engine;
  GSettings            *settings;
  TetherItemModel      *model;
  GtkSingleSelection   *selection;
  GMenu                *tag_menu;
  GHashTable           *tag_counts;   /* tag → records carrying it */
  gboolean              tags_counted;

  /* What the editor shows; the selection follows it through list changes. */
  char                 *open_collection;
  char                 *open_id;
  guint                 model_changing;
  gboolean              syncing_selection;
  guint                 navigation_idle;

  /* Filters, for the empty states. */
  char                 *search_text;
  char                 *kind;
  char                 *tag;

  /* The last delete, until its toast goes. */
  char                 *deleted_collection;
  JsonObject           *deleted_data;
  AdwToast             *undo_toast;

  GCancellable         *sync_cancellable;

  /* An edit that could not be saved: the toast that says so on switching,
   * the dialog that asks on closing, and whether a quit waits for it. */
  AdwToast             *refusal_toast;  /* held until "dismissed" */
  GtkWindow            *close_dialog;
  gboolean              quit_after_close;
};

void          _tether_window_add_actions     (TetherWindow *self);
void          _tether_window_update_actions  (TetherWindow *self);
/* Show @id (NULL: nothing) in the editor and select it in the list.
 * FALSE when the open record could not be saved: it stays open, and a
 * toast says why and offers to discard the changes. */
gboolean      _tether_window_open            (TetherWindow *self,
                                              const char   *collection,
                                              const char   *id);
/* Take back the toast that said the open record could not be left. */
void          _tether_window_dismiss_refusal (TetherWindow *self);
/* Whether the open record can be left: its edit saved, or nothing open.
 * FALSE shows the toast _tether_window_open() shows. */
gboolean      _tether_window_can_leave       (TetherWindow *self);
/* tether-window-leave.c: the refusal toast, and the dialog before closing */
void          _tether_window_refuse_to_leave (TetherWindow *self,
                                              const GError *error);
void          _tether_window_ask_before_closing (TetherWindow *self,
                                                 const GError *error);
/* The record the editor shows, or NULL. */
TetherRecord *_tether_window_dup_open_record (TetherWindow *self);
/* Show the editor pane (when folded) and put the focus on the title. */
void          _tether_window_focus_editor    (TetherWindow *self);
/* Show the list pane (when folded) and put the focus on the list. */
void          _tether_window_focus_list      (TetherWindow *self);
/* The filters changed: the empty state may have to change too. */
void          _tether_window_update_empty    (TetherWindow *self);
/* Save what the editor holds (on quit). */
void          _tether_window_save            (TetherWindow *self);
/* Close as app.quit does: if a dialog asks first, its "Discard Changes
 * and Close" quits too. */
void          _tether_window_close_for_quit  (TetherWindow *self);
/* Cancel work in flight (sync now). */
void          _tether_window_cancel          (TetherWindow *self);

G_END_DECLS
