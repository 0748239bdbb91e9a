/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_TYPE_SYNC_STATUS (tether_sync_status_get_type ())
G_DECLARE_FINAL_TYPE (TetherSyncStatus, tether_sync_status, TETHER, SYNC_STATUS, GtkWidget)

/* The sync state in the header bar (ui/tether-sync-status.ui): an icon and a
 * short label: "Synced 2 min ago", "2 conflicts" (open, waiting for a
 * decision), "3 pending", "Syncing…", "Offline", "Sign in needed", "Sync
 * error", "Not syncing" (no server). Its popover says more (last sync
 * time, last error with what to do, pending and failed counts) and has
 * "Sync Now" (win.sync-now), "Preferences" (app.preferences) and, while
 * conflicts are open, "Review Conflicts" (app.conflicts). Updated from the
 * engine's property notifications only. */
GtkWidget *tether_sync_status_new        (void);
void       tether_sync_status_set_engine (TetherSyncStatus *self,
                                          TetherSyncEngine *engine);
/* The label shown, for tests. */
const char *tether_sync_status_get_text  (TetherSyncStatus *self);

G_END_DECLS
