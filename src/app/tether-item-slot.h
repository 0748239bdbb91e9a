/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_TYPE_ITEM_SLOT (tether_item_slot_get_type ())
G_DECLARE_FINAL_TYPE (TetherItemSlot, tether_item_slot, TETHER, ITEM_SLOT, GObject)

/* One position of the list as the list view sees it (tether-slot-model.c):
 * the record there now, which changes in place ("notify::record") when a
 * search or a reload puts another record at that position. */
TetherItemSlot *tether_item_slot_new        (TetherRecord   *record);
TetherRecord   *tether_item_slot_get_record (TetherItemSlot *self);
void            tether_item_slot_set_record (TetherItemSlot *self,
                                             TetherRecord   *record);

G_END_DECLS
