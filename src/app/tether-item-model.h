/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"

G_BEGIN_DECLS

typedef enum {
  TETHER_ITEM_KIND_ALL,
  TETHER_ITEM_KIND_NOTES,
  TETHER_ITEM_KIND_TASKS,
} TetherItemKind;

#define TETHER_TYPE_ITEM_MODEL (tether_item_model_get_type ())
G_DECLARE_FINAL_TYPE (TetherItemModel, tether_item_model, TETHER, ITEM_MODEL, GObject)

/* A GListModel of TetherRecord: the notes and the tasks of @db in one list,
 * pinned notes first, then by updatedAt, newest first; kept current by two
 * TetherLiveQuery (so also for writes by other processes and by sync) with
 * the smallest items-changed. Search is full-text (prefix) in both
 * collections and shows the best 200 matches of each by relevance, a note
 * and a task in turn; kind and tag filter in SQL, not in the view. */
TetherItemModel *tether_item_model_new        (TetherDatabase  *db,
                                               GError         **error);
void             tether_item_model_set_search (TetherItemModel *self,
                                               const char      *text);
void             tether_item_model_set_kind   (TetherItemModel *self,
                                               TetherItemKind   kind);
void             tether_item_model_set_tag    (TetherItemModel *self,
                                               const char      *tag);
/* Position of a record, or -1. */
gint             tether_item_model_find       (TetherItemModel *self,
                                               const char      *collection,
                                               const char      *id);

G_END_DECLS
