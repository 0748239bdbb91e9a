/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-application.h"

G_BEGIN_DECLS

#define TETHER_TYPE_PREFERENCES (tether_preferences_get_type ())
G_DECLARE_FINAL_TYPE (TetherPreferences, tether_preferences, TETHER, PREFERENCES, AdwPreferencesWindow)

/* Preferences (ui/tether-preferences.ui): Sync page with the server URL
 * (AdwEntryRow), the token (AdwPasswordEntryRow, stored with
 * tether_secret_store_async() under the URL, never in GSettings), a "Test
 * Connection" button whose result says what is wrong (unreachable, token
 * refused, not a Tether server) or "Connected to tether-server", auto-sync
 * on/off, the interval, and the conflict strategy (AdwComboRow). Changes
 * are applied with tether_application_reload_remote(). */
TetherPreferences *tether_preferences_new (TetherApplication *app);

G_END_DECLS
