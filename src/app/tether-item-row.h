/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tether.h"
#include "tether-item-slot.h"

G_BEGIN_DECLS

#define TETHER_TYPE_ITEM_ROW (tether_item_row_get_type ())
G_DECLARE_FINAL_TYPE (TetherItemRow, tether_item_row, TETHER, ITEM_ROW, GtkWidget)

/* One row of the list (ui/tether-item-row.ui): a done check button for
 * tasks (activates win.toggle-done), the title (or "Untitled"), the first
 * line of the body/notes, a pin icon, the due date and tags. Binding reads
 * only the record in memory: no SQL. */
GtkWidget *tether_item_row_new        (void);
/* Shows the slot's record, and the next one the slot takes. */
void       tether_item_row_set_slot   (TetherItemRow  *self,
                                       TetherItemSlot *slot);

G_END_DECLS
