/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_TYPE_CHANGE_MODEL (tether_change_model_get_type ())
G_DECLARE_FINAL_TYPE (TetherChangeModel, tether_change_model, TETHER, CHANGE_MODEL, GObject)

/* A GListModel of TetherSyncChange: the engine's change log in log order,
 * reloaded on "queue-changed" with the smallest items-changed (by change
 * id; a change whose status, retries or error moved is replaced in place). */
TetherChangeModel *tether_change_model_new (TetherSyncEngine *engine);

/* How many times the whole log was read, the first read included: what
 * the model costs while a sync runs (for diagnostics and tests). */
guint tether_change_model_get_n_reads (TetherChangeModel *self);

/* Why the last read of the log failed, or NULL when it worked ("error"
 * notifies when this changes). Until a read works again, the items are
 * what the last good one read, not the log. */
const GError *tether_change_model_get_error (TetherChangeModel *self);

/* Read the log again soon, as after "queue-changed" (Try Again). */
void tether_change_model_reload (TetherChangeModel *self);

G_END_DECLS
