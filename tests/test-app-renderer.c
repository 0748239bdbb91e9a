/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "tether-renderer.h"
#include "tether-test-util.h"

/* How the app picks GTK's renderer (src/app/tether-renderer.c): GL off
 * only where no GPU device exists or mesa is told to render in software,
 * and never against a renderer or debug flags the user set. */

static void
remove_node (const char *dir,
             const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
}

static void
test_devices (void)
{
  g_autofree char *dev = tether_test_dir_new ();
  g_autofree char *dri = g_build_filename (dev, "dri", NULL);
  g_autofree char *nvidia = g_build_filename (dev, "nvidiactl", NULL);
  g_autoptr(GError) error = NULL;

  g_unsetenv ("LIBGL_ALWAYS_SOFTWARE");
  g_assert_true (tether_renderer_is_software_only (dev));

  g_assert_cmpint (g_mkdir (dri, 0700), ==, 0);
  g_assert_false (tether_renderer_is_software_only (dev));
  /* mesa told to render in software has only llvmpipe to offer */
  g_setenv ("LIBGL_ALWAYS_SOFTWARE", "1", TRUE);
  g_assert_true (tether_renderer_is_software_only (dev));
  g_setenv ("LIBGL_ALWAYS_SOFTWARE", "0", TRUE);
  g_assert_false (tether_renderer_is_software_only (dev));
  g_unsetenv ("LIBGL_ALWAYS_SOFTWARE");
  remove_node (dev, "dri");

  /* NVIDIA's own driver opens its nodes, not /dev/dri */
  g_file_set_contents (nvidia, "", 0, &error);
  g_assert_no_error (error);
  g_assert_false (tether_renderer_is_software_only (dev));
  tether_test_dir_free (g_steal_pointer (&dev));
}

static void
test_user_choice_wins (void)
{
  g_unsetenv ("GDK_DEBUG");
  g_setenv ("GSK_RENDERER", "gl", TRUE);
  g_assert_false (tether_renderer_choose ());
  g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, "gl");
  g_assert_null (g_getenv ("GDK_DEBUG"));

  g_unsetenv ("GSK_RENDERER");
  g_setenv ("GDK_DEBUG", "gl-glx", TRUE);
  g_assert_false (tether_renderer_choose ());
  g_assert_cmpstr (g_getenv ("GDK_DEBUG"), ==, "gl-glx");
  g_assert_null (g_getenv ("GSK_RENDERER"));
}

/* With nothing set, the choice follows this machine's devices. */
static void
test_choice (void)
{
  gboolean old_gtk = gtk_get_major_version () == 4 && gtk_get_minor_version () < 14;
  gboolean expected;

  g_unsetenv ("GDK_DEBUG");
  g_unsetenv ("GSK_RENDERER");
  g_unsetenv ("LIBGL_ALWAYS_SOFTWARE");
  expected = old_gtk && tether_renderer_is_software_only ("/dev");
  g_test_message ("this machine: %s", expected ? "no GPU device, GL off" : "GTK's own choice");
  g_assert_cmpint (tether_renderer_choose (), ==, expected);
  if (expected)
    {
      g_assert_cmpstr (g_getenv ("GDK_DEBUG"), ==, "gl-disable");
      g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, "cairo");
      /* a second call sees its own choice and leaves it */
      g_assert_false (tether_renderer_choose ());
    }
  else
    {
      g_assert_null (g_getenv ("GDK_DEBUG"));
      g_assert_null (g_getenv ("GSK_RENDERER"));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tether/app/renderer/devices", test_devices);
  g_test_add_func ("/tether/app/renderer/user-choice-wins", test_user_choice_wins);
  g_test_add_func ("/tether/app/renderer/choice", test_choice);
  return g_test_run ();
}
