/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-conflict-inbox.h"

G_BEGIN_DECLS

/* Shared by tether-conflict-inbox.c (the list and the detail) and
 * tether-conflict-inbox-actions.c (the inbox.* actions). */
struct _TetherConflictInbox
{
  AdwWindow         parent_instance;

  AdwToastOverlay  *toasts;
  AdwWindowTitle   *window_title;
  GtkStack         *stack;
  AdwStatusPage    *error_page;
  GtkListBox       *list;
  GtkLabel         *detail_title;
  GtkLabel         *detail_summary;
  GtkBox           *fields_box;
  GtkWidget        *open_bar;
  GtkWidget        *decided_bar;

  TetherSyncEngine *engine;
  GListStore       *conflicts;   /* TetherConflict: open first, then newest decided */
  TetherConflict   *shown;       /* in the detail */
  gboolean          shown_replaced; /* shown holds what a restore replaced */
  TetherConflict   *seen;        /* what a choice is made from (show_update()) */
  guint             seen_tick;   /* waiting for the update's first frame */
  guint             seen_timeout;
  GHashTable       *choices;     /* field → the "mine" GtkCheckButton of an open conflict */
  gboolean          reloading;
  gboolean          read_failed; /* the last reload could not read the log */
};

/* Reads the conflict log again and shows it as it is now. */
void _tether_conflict_inbox_reload          (TetherConflictInbox *self);
/* inbox.keep-mine, -theirs, -selected, inbox.restore, inbox.undo-restore */
void _tether_conflict_inbox_install_actions (GtkWidgetClass      *widget_class);

G_END_DECLS
