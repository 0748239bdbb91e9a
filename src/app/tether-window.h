/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-application.h"

G_BEGIN_DECLS

#define TETHER_TYPE_WINDOW (tether_window_get_type ())
G_DECLARE_FINAL_TYPE (TetherWindow, tether_window, TETHER, WINDOW, AdwApplicationWindow)

/* The main window (ui/tether-window.ui): header bar (new note / new task,
 * search toggle, kind filter, TetherSyncStatus, primary menu), an
 * AdwToastOverlay, an AdwFlap whose content is an AdwLeaflet (the list of
 * notes and tasks | TetherEditor) and whose flap is the TetherInspector
 * (hidden until win.inspector). Empty state: an AdwStatusPage saying how to
 * start. Window size and maximized state are saved in GSettings.
 *
 * Actions (tether-window-actions.c): win.new-note (Ctrl+N), win.new-task
 * (Ctrl+T), win.search (Ctrl+F), win.delete (Delete in the list, Ctrl+Delete
 * anywhere; with an Undo toast), win.undo-delete, win.sync-now (Ctrl+R),
 * win.inspector (Ctrl+Shift+I, stateful boolean), win.kind (stateful string
 * "all" / "notes" / "tasks"), win.tag (stateful string, "" for all),
 * win.toggle-done (string target: task id). */
TetherWindow *tether_window_new    (TetherApplication *app);
/* A toast; with @action_name (and @target) it gets a button @button_label. */
void          tether_window_toast  (TetherWindow      *self,
                                    const char        *title,
                                    const char        *button_label,
                                    const char        *action_name,
                                    GVariant          *target);
/* A toast showing @text as written: a toast title is Pango markup in
 * libadwaita 1.2 (use-markup came in 1.4), where "Q&A" shows nothing. */
AdwToast     *tether_toast_new_plain (const char      *text);
/* Select and open a record in the editor. FALSE when the open record
 * cannot be saved: it stays open, and a toast says why. */
gboolean      tether_window_select (TetherWindow      *self,
                                    const char        *collection,
                                    const char        *id);

G_END_DECLS
