/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tether-item-slot.h"

G_BEGIN_DECLS

#define TETHER_TYPE_SLOT_MODEL (tether_slot_model_get_type ())
G_DECLARE_FINAL_TYPE (TetherSlotModel, tether_slot_model, TETHER, SLOT_MODEL, GObject)

/* The list of @source (TetherRecord) as TetherItemSlot, one per position:
 * where @source replaces records, the slots there take the new records in
 * place, and only a change in length is an items-changed. */
TetherSlotModel *tether_slot_model_new (GListModel *source);

G_END_DECLS
