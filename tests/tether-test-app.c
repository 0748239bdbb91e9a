/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-app"
#include "config.h"

#include <dlfcn.h>

#include <adwaita.h>

#include "tether-renderer.h"
#include "tether-test-app.h"
#include "tether-test-util.h"

static GTestDBus *bus;
static char      *app_dir;

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
tether_test_app_wait (gboolean (*ready) (gpointer data),
                      gpointer   data,
                      guint      timeout_ms)
{
  gboolean timed_out = FALSE;
  guint source = g_timeout_add (timeout_ms, set_flag, &timed_out);

  while (!ready (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (source);
  return ready (data);
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* A G_PRIORITY_LOW idle runs only once no source of a higher priority
 * (events, redraws, the app's own idles and what they add) is ready.
 * The bound catches a loop that never rests, not a slow one: laying out
 * the tests' 1 MiB paste takes over 10 s under ASan on a busy machine. */
#define DRAIN_LIMIT_S 60

void
tether_test_app_drain (void)
{
  gboolean ran = FALSE;

  g_idle_add_full (G_PRIORITY_LOW, set_flag, &ran, NULL);
  if (!tether_test_app_wait (flag_is_set, &ran, DRAIN_LIMIT_S * 1000))
    g_error ("the main loop never ran out of work for %d s", DRAIN_LIMIT_S);
}

/* A sleep, but only as long as the clock needs to tick: the order of
 * records is all the tests need, and the engine takes no timestamp. */
void
tether_test_app_tick_past (TetherRecord *record)
{
  while (tether_time_now_ms () <= tether_record_get_updated_at (record))
    g_usleep (100);
}

static gboolean
never (gpointer data)
{
  return FALSE;
}

void
tether_test_app_settle (guint ms)
{
  tether_test_app_wait (never, NULL, ms);
}

static gboolean
laid_out (gpointer data)
{
  GtkWidget *widget = data;

  return gtk_widget_get_mapped (widget) && gtk_widget_get_width (widget) > 0 &&
         gtk_widget_get_height (widget) > 0;
}

static void
painted (GdkFrameClock *clock,
         gpointer       data)
{
  *(gboolean *) data = TRUE;
}

/* Until @widget is laid out and then drawn once more (at most 10 s each):
 * a window just presented has no size until the X server has mapped it,
 * which under ASan takes longer than what a test does before its
 * snapshot, and a widget paintable shows the widget's last drawing. */
static void
wait_drawn (GtkWidget *widget)
{
  GdkFrameClock *clock;
  gboolean drawn = FALSE;
  gulong handler;

  tether_test_app_wait (laid_out, widget, 10000);
  clock = gtk_widget_get_frame_clock (widget);
  g_assert_nonnull (clock);
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (painted), &drawn);
  gtk_widget_queue_draw (widget);
  tether_test_app_wait (flag_is_set, &drawn, 10000);
  g_signal_handler_disconnect (clock, handler);
  g_assert_true (drawn);
}

void
tether_test_app_snapshot (GtkWidget  *widget,
                          const char *png_path)
{
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  GtkNative *native = gtk_widget_get_native (widget);
  int width, height;

  g_assert_nonnull (native);
  wait_drawn (widget);
  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  g_assert_cmpint (width, >, 0);
  g_assert_cmpint (height, >, 0);
  /* made only now: it holds the drawing its widget had when it was made */
  paintable = gtk_widget_paintable_new (widget);
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), width, height);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (native), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!gdk_texture_save_to_png (texture, png_path))
    g_error ("could not write %s", png_path);
}

/* Xvfb starts the pointer mid-screen, under the windows the tests open;
 * GTK 4.8 then starts tooltip timeouts that may fire after a test has
 * destroyed the window (a critical in gdk_surface_get_device_position).
 * Park the pointer in the screen's far corner (X clamps it; 16-bit
 * coordinates), through the X11 functions GTK has already loaded. */
static void
park_pointer (void)
{
  GdkDisplay *display = gdk_display_get_default ();
  void *(*xdisplay_of) (GdkDisplay *) = dlsym (RTLD_DEFAULT, "gdk_x11_display_get_xdisplay");
  unsigned long (*root_of) (void *) = dlsym (RTLD_DEFAULT, "XDefaultRootWindow");
  int (*warp) (void *, unsigned long, unsigned long, int, int, unsigned, unsigned, int, int) =
    dlsym (RTLD_DEFAULT, "XWarpPointer");
  int (*flush) (void *) = dlsym (RTLD_DEFAULT, "XFlush");
  void *xdisplay;

  if (display == NULL || g_strcmp0 (G_OBJECT_TYPE_NAME (display), "GdkX11Display") != 0 ||
      xdisplay_of == NULL || root_of == NULL || warp == NULL || flush == NULL)
    return;
  xdisplay = xdisplay_of (display);
  warp (xdisplay, 0, root_of (xdisplay), 0, 0, 0, 0, 30000, 30000);
  flush (xdisplay);
}

/* Keys go to the focus widget, and GTK drops those of one not on screen
 * (say, the editor of a folded window before it slid in). */
static gboolean
ready_for_keys (gpointer data)
{
  GtkWidget *focus = gtk_root_get_focus (data);

  return gtk_window_is_active (data) && (focus == NULL || gtk_widget_get_mapped (focus));
}

typedef struct {
  guint    keycode;
  gboolean released;
} KeyWait;

static void
on_key_released (GtkEventControllerKey *controller,
                 guint                  keyval,
                 guint                  keycode,
                 GdkModifierType        state,
                 KeyWait               *wait)
{
  if (keycode == wait->keycode)
    wait->released = TRUE;
}

static gboolean
key_released (gpointer data)
{
  return ((KeyWait *) data)->released;
}

/* Without XTEST no key can be pressed: a skip, unless the run needs the
 * display (then nothing that claims keyboard behaviour may go unchecked). */
static gboolean
cannot_press_keys (const char *why)
{
  if (g_strcmp0 (g_getenv ("TETHER_TEST_DISPLAY_REQUIRED"), "1") == 0)
    g_error ("keys cannot be pressed (%s), and TETHER_TEST_DISPLAY_REQUIRED=1", why);
  return FALSE;
}

/* A real key press and release through the XTEST extension, so that the
 * event goes where GTK sends it (capture, target, bubble) as when a person
 * types: GTK 4 has no API to synthesize one. The X input focus is put on
 * @window first (Xvfb has no window manager to do it); it returns once the
 * window has seen the last key come up, so the press has been handled. */
gboolean
tether_test_app_press_key (GtkWindow       *window,
                           guint            keyval,
                           GdkModifierType  modifiers)
{
  static void *xtst;
  GdkDisplay *display = gtk_widget_get_display (GTK_WIDGET (window));
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (window));
  void *(*xdisplay_of) (GdkDisplay *) = dlsym (RTLD_DEFAULT, "gdk_x11_display_get_xdisplay");
  unsigned long (*xid_of) (GdkSurface *) = dlsym (RTLD_DEFAULT, "gdk_x11_surface_get_xid");
  unsigned char (*keycode_of) (void *, unsigned long) = dlsym (RTLD_DEFAULT, "XKeysymToKeycode");
  int (*set_focus) (void *, unsigned long, int, unsigned long) = dlsym (RTLD_DEFAULT, "XSetInputFocus");
  int (*flush) (void *) = dlsym (RTLD_DEFAULT, "XFlush");
  int (*fake_key) (void *, unsigned, int, unsigned long);
  GtkEventController *watch;
  KeyWait wait = { 0 };
  unsigned codes[3];
  guint n = 0;
  void *xdisplay;

  if (xtst == NULL)
    xtst = dlopen ("libXtst.so.6", RTLD_NOW | RTLD_GLOBAL);
  fake_key = xtst != NULL ? dlsym (xtst, "XTestFakeKeyEvent") : NULL;
  if (g_strcmp0 (G_OBJECT_TYPE_NAME (display), "GdkX11Display") != 0 || surface == NULL ||
      xdisplay_of == NULL || xid_of == NULL || keycode_of == NULL || set_focus == NULL || flush == NULL)
    return cannot_press_keys ("not an X11 display");
  if (fake_key == NULL)
    return cannot_press_keys ("no libXtst");
  xdisplay = xdisplay_of (display);
  /* RevertToParent, CurrentTime */
  set_focus (xdisplay, xid_of (surface), 2, 0);
  flush (xdisplay);
  if (!tether_test_app_wait (ready_for_keys, window, 5000))
    g_error ("keys cannot reach the window: it is not active, or its focus widget is not mapped");

  if (modifiers & GDK_CONTROL_MASK)
    codes[n++] = keycode_of (xdisplay, GDK_KEY_Control_L);
  if (modifiers & GDK_SHIFT_MASK)
    codes[n++] = keycode_of (xdisplay, GDK_KEY_Shift_L);
  codes[n++] = keycode_of (xdisplay, keyval);
  for (guint i = 0; i < n; i++)
    if (codes[i] == 0)
      g_error ("no key on this display's keyboard makes %s", gdk_keyval_name (keyval));

  /* The first key pressed comes up last: once the window saw it, every
   * event of the press went through GTK. */
  wait.keycode = codes[0];
  watch = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (watch, GTK_PHASE_CAPTURE);
  g_signal_connect (watch, "key-released", G_CALLBACK (on_key_released), &wait);
  gtk_widget_add_controller (GTK_WIDGET (window), watch);
  for (guint i = 0; i < n; i++)
    fake_key (xdisplay, codes[i], TRUE, 0);
  for (guint i = n; i > 0; i--)
    fake_key (xdisplay, codes[i - 1], FALSE, 0);
  flush (xdisplay);
  if (!tether_test_app_wait (key_released, &wait, 5000))
    g_error ("the window never saw %s come up", gdk_keyval_name (keyval));
  gtk_widget_remove_controller (GTK_WIDGET (window), watch);
  return TRUE;
}

typedef struct {
  GtkWidget *native;
  gboolean   released;
} ClickWait;

static gboolean
on_button_event (GtkEventControllerLegacy *controller,
                 GdkEvent                 *event,
                 ClickWait                *wait)
{
  if (gdk_event_get_event_type (event) == GDK_BUTTON_RELEASE)
    wait->released = TRUE;
  return FALSE;
}

static gboolean
has_size (gpointer data)
{
  return gtk_widget_get_width (data) > 0 && gtk_widget_get_height (data) > 0;
}

/* A popover the press closed does not get the release. */
static gboolean
click_done (gpointer data)
{
  ClickWait *wait = data;

  return wait->released || !gtk_widget_get_mapped (wait->native);
}

/* As tether_test_app_press_key(), with the pointer: moved onto @widget's
 * middle in root coordinates, pressed and released. Popovers are X windows
 * of their own, so the point is translated from @widget's own surface. */
gboolean
tether_test_app_click (GtkWidget *widget)
{
  static void *xtst;
  GtkNative *native = gtk_widget_get_native (widget);
  GdkSurface *surface = native != NULL ? gtk_native_get_surface (native) : NULL;
  GdkDisplay *display = gtk_widget_get_display (widget);
  void *(*xdisplay_of) (GdkDisplay *) = dlsym (RTLD_DEFAULT, "gdk_x11_display_get_xdisplay");
  unsigned long (*xid_of) (GdkSurface *) = dlsym (RTLD_DEFAULT, "gdk_x11_surface_get_xid");
  unsigned long (*root_of) (void *) = dlsym (RTLD_DEFAULT, "XDefaultRootWindow");
  int (*translate) (void *, unsigned long, unsigned long, int, int, int *, int *, unsigned long *) =
    dlsym (RTLD_DEFAULT, "XTranslateCoordinates");
  int (*flush) (void *) = dlsym (RTLD_DEFAULT, "XFlush");
  int (*fake_motion) (void *, int, int, int, unsigned long);
  int (*fake_button) (void *, unsigned, int, unsigned long);
  GtkEventController *watch;
  ClickWait wait = { GTK_WIDGET (native), FALSE };
  double x, y, sx, sy;
  int rx, ry;
  unsigned long child;
  void *xdisplay;

  g_assert_true (gtk_widget_get_mapped (widget));
  if (xtst == NULL)
    xtst = dlopen ("libXtst.so.6", RTLD_NOW | RTLD_GLOBAL);
  fake_motion = xtst != NULL ? dlsym (xtst, "XTestFakeMotionEvent") : NULL;
  fake_button = xtst != NULL ? dlsym (xtst, "XTestFakeButtonEvent") : NULL;
  if (g_strcmp0 (G_OBJECT_TYPE_NAME (display), "GdkX11Display") != 0 || surface == NULL ||
      xdisplay_of == NULL || xid_of == NULL || root_of == NULL || translate == NULL || flush == NULL)
    return cannot_press_keys ("not an X11 display");
  if (fake_motion == NULL || fake_button == NULL)
    return cannot_press_keys ("no libXtst");
  /* Mapped is not yet laid out. */
  if (!tether_test_app_wait (has_size, widget, 5000))
    g_error ("%s never got a size", G_OBJECT_TYPE_NAME (widget));
  if (!gtk_widget_translate_coordinates (widget, GTK_WIDGET (native),
                                         gtk_widget_get_width (widget) / 2.0,
                                         gtk_widget_get_height (widget) / 2.0, &x, &y))
    g_error ("cannot place %s in its window", G_OBJECT_TYPE_NAME (widget));
  gtk_native_get_surface_transform (native, &sx, &sy);
  xdisplay = xdisplay_of (display);
  translate (xdisplay, xid_of (surface), root_of (xdisplay), (int) (x + sx), (int) (y + sy), &rx, &ry, &child);

  watch = gtk_event_controller_legacy_new ();
  gtk_event_controller_set_propagation_phase (watch, GTK_PHASE_CAPTURE);
  g_signal_connect (watch, "event", G_CALLBACK (on_button_event), &wait);
  gtk_widget_add_controller (GTK_WIDGET (native), g_object_ref (watch));
  /* screen -1: the one the pointer is on; CurrentTime */
  fake_motion (xdisplay, -1, rx, ry, 0);
  fake_button (xdisplay, 1, TRUE, 0);
  fake_button (xdisplay, 1, FALSE, 0);
  flush (xdisplay);
  if (!tether_test_app_wait (click_done, &wait, 5000))
    g_error ("the window never saw the button come up on %s", G_OBJECT_TYPE_NAME (widget));
  /* The window may be gone with what the click did. */
  if (gtk_event_controller_get_widget (watch) != NULL)
    gtk_widget_remove_controller (gtk_event_controller_get_widget (watch), watch);
  g_object_unref (watch);
  park_pointer ();
  return TRUE;
}

gboolean
tether_test_app_start (TetherApplication **app)
{
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  g_autofree char *db_path = NULL;
  g_autoptr(GError) error = NULL;

  *app = NULL;
  /* As main() does; scripts/test's GDK_DEBUG keeps GL on in the plain run. */
  tether_renderer_choose ();
  /* g_test_dbus_up() unsets DISPLAY, against X11 autolaunch: put it back. */
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);

  if (!gtk_init_check ())
    {
      if (g_strcmp0 (g_getenv ("TETHER_TEST_DISPLAY_REQUIRED"), "1") == 0)
        g_error ("no display, and TETHER_TEST_DISPLAY_REQUIRED=1");
      return FALSE;
    }
  adw_init ();
  park_pointer ();
  /* No crossfades half-way in screenshots. */
  g_object_set (gtk_settings_get_default (),
                "gtk-enable-animations", FALSE,
                "gtk-cursor-blink", FALSE,
                NULL);
  app_dir = tether_test_dir_new ();
  db_path = g_build_filename (app_dir, "tether.db", NULL);
  *app = tether_application_new ();
  g_object_set (*app, "database-path", db_path, NULL);
  g_application_register (G_APPLICATION (*app), NULL, &error);
  g_assert_no_error (error);
  return TRUE;
}

void
tether_test_app_stop (TetherApplication **app)
{
  gboolean had_app = *app != NULL;

  g_clear_object (app);
  if (had_app)
    tether_test_app_settle (20);
  tether_test_dir_free (g_steal_pointer (&app_dir));
  /* Stopped and kept: GTK holds the bus connection until exit, and freeing
   * the GTestDBus would wait for that connection to close. */
  g_test_dbus_stop (bus);
}

static gboolean
count_frame (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       data)
{
  guint *frames = data;

  return ++*frames < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
three_frames (gpointer data)
{
  return *(guint *) data >= 3;
}

void
tether_test_app_snapshot_drawn (GtkWidget  *widget,
                                const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  guint frames = 0;

  tether_test_app_settle (200);
  gtk_widget_add_tick_callback (widget, count_frame, &frames, NULL);
  g_assert_true (tether_test_app_wait (three_frames, &frames, 10000));
  tether_test_app_snapshot (widget, path);
  g_test_message ("wrote %s", path);
}
