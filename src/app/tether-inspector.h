/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_TYPE_INSPECTOR (tether_inspector_get_type ())
G_DECLARE_FINAL_TYPE (TetherInspector, tether_inspector, TETHER, INSPECTOR, GtkWidget)

/* The sync inspector (ui/tether-inspector.ui), for people debugging sync:
 * stats counters (total, pending, syncing, committed, failed), the change
 * queue as a GtkColumnView over a TetherChangeModel (time, collection,
 * record title, type, status, retries, error; a row menu with "Discard"),
 * the conflicts (TetherConflict list with status and fields), the event
 * log (newest first), and buttons Sync Now, Retry Failed, Compact. Every
 * part updates from the engine's signals (queue-changed, phase, conflict,
 * notify::state), never by polling.
 * Actions: inspector.sync-now, inspector.retry-failed, inspector.compact,
 * inspector.discard (string: change id). */
GtkWidget *tether_inspector_new        (void);
void       tether_inspector_set_engine (TetherInspector  *self,
                                        TetherSyncEngine *engine);

G_END_DECLS
