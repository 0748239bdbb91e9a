/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "tether-application.h"

G_BEGIN_DECLS

/* What the GUI tests share: real widgets in a real display (Xvfb in CI). */

/* After g_test_init(): a private session bus (GtkApplication wants one;
 * DISPLAY is kept), GTK and libadwaita, the pointer parked out of the way,
 * no animations or cursor blinking, and a registered TetherApplication on a
 * fresh database in *@app. FALSE (and *@app NULL) without a display, which
 * is fatal when TETHER_TEST_DISPLAY_REQUIRED=1. */
gboolean tether_test_app_start     (TetherApplication **app);
/* Undo tether_test_app_start(): the application, its database, the bus. */
void     tether_test_app_stop      (TetherApplication **app);

/* Iterate the default main context until @ready returns TRUE or
 * @timeout_ms passes; FALSE on timeout. */
gboolean tether_test_app_wait      (gboolean (*ready) (gpointer data),
                                    gpointer   data,
                                    guint      timeout_ms);
/* The engine stamps a write with the wall clock's millisecond, and a test
 * cannot set it: return once that clock has moved past @record's
 * updatedAt, so that the next write sorts after it. */
void     tether_test_app_tick_past (TetherRecord *record);
/* Run what the default main context has ready, idles included, so that a
 * check that something did not happen is not a race with it. */
void     tether_test_app_drain     (void);
/* Let pending events, layout and drawing happen (about @ms of iterations). */
void     tether_test_app_settle    (guint      ms);
/* Press and release @keyval with @modifiers (Control, Shift) as a person
 * would, on the X display, with @window focused; returns once @window has
 * handled the keys. Where that cannot be done (no X11 or no libXtst) it is
 * fatal with TETHER_TEST_DISPLAY_REQUIRED=1, else FALSE and the test
 * should skip. */
gboolean tether_test_app_press_key (GtkWindow       *window,
                                    guint            keyval,
                                    GdkModifierType  modifiers);
/* Click @widget's middle with the first mouse button as a person would,
 * through the X display (XTEST); returns once @widget's window has seen
 * the button come up. Like tether_test_app_press_key() where it cannot. */
gboolean tether_test_app_click     (GtkWidget       *widget);
/* Render @widget (mapped, in a realized window) to a PNG file; aborts the
 * test with the reason when it cannot. */
void     tether_test_app_snapshot  (GtkWidget  *widget,
                                    const char *png_path);
/* The same once @widget has drawn a few frames (a window just mapped or
 * changed may not have drawn yet), to @name in the build's test folder. */
void     tether_test_app_snapshot_drawn (GtkWidget  *widget,
                                         const char *name);

G_END_DECLS
