/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_APP_ID "app.tether.Tether"

#define TETHER_TYPE_APPLICATION (tether_application_get_type ())
G_DECLARE_FINAL_TYPE (TetherApplication, tether_application, TETHER, APPLICATION, AdwApplication)

/* The app: one database (the user's, in $XDG_DATA_HOME/tether/tether.db, or
 * the file given with --db, which also makes the instance non-unique so two
 * windows on two databases can run side by side), its sync engine, and the
 * GSettings of TETHER_APP_ID. The token of the server is kept in the keyring
 * (tether-secret.h), never in GSettings or a file.
 *
 * Actions: app.quit (Ctrl+Q), app.preferences (Ctrl+,), app.about,
 * app.shortcuts (Ctrl+?), app.conflicts (the conflict inbox). */
TetherApplication *tether_application_new              (void);
TetherDatabase    *tether_application_get_database     (TetherApplication *self);
TetherSyncEngine  *tether_application_get_sync_engine  (TetherApplication *self);
GSettings         *tether_application_get_settings     (TetherApplication *self);
/* Read server-url and the keyring's token for it and hand them to the
 * engine (no URL: no remote); sets auto-sync, interval and strategy from
 * the settings. Called at startup and when preferences change. */
void               tether_application_reload_remote    (TetherApplication *self);

G_END_DECLS
