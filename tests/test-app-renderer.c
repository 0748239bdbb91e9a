/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-renderer"
#include "config.h"

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include "tether-renderer.h"
#include "tether-test-util.h"

/* How the app picks GTK's renderer (src/app/tether-renderer.c): GL off
 * only where no GPU device exists or mesa is told to render in software,
 * only on a GTK that would use GL on llvmpipe, and never against a
 * renderer or debug flags the user set. */

static void
make_node (const char *dev,
           const char *name,
           gboolean    directory)
{
  g_autofree char *path = g_build_filename (dev, name, NULL);
  g_autoptr(GError) error = NULL;

  if (directory)
    g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  else
    {
      g_file_set_contents (path, "", 0, &error);
      g_assert_no_error (error);
    }
}

static void
remove_node (const char *dev,
             const char *name)
{
  g_autofree char *path = g_build_filename (dev, name, NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
}

static void
clear_environment (void)
{
  g_unsetenv ("GDK_DEBUG");
  g_unsetenv ("GSK_RENDERER");
  g_unsetenv ("LIBGL_ALWAYS_SOFTWARE");
}

static void
test_devices (void)
{
  g_autofree char *dev = tether_test_dir_new ();
  const char *gpu_files[] = { "dxg", "nvidiactl", "mali0" };

  clear_environment ();
  g_assert_true (tether_renderer_is_software_only (dev));
  /* a display-only DRM driver (simpledrm, a VM's) has no render node */
  make_node (dev, "dri", TRUE);
  make_node (dev, "dri/card0", FALSE);
  g_assert_true (tether_renderer_is_software_only (dev));
  make_node (dev, "dri/renderD128", FALSE);
  g_assert_false (tether_renderer_is_software_only (dev));

  /* mesa told to render in software has only llvmpipe to offer */
  g_setenv ("LIBGL_ALWAYS_SOFTWARE", "true", TRUE);
  g_assert_true (tether_renderer_is_software_only (dev));
  g_setenv ("LIBGL_ALWAYS_SOFTWARE", "no", TRUE);
  g_assert_false (tether_renderer_is_software_only (dev));
  g_unsetenv ("LIBGL_ALWAYS_SOFTWARE");
  remove_node (dev, "dri/renderD128");

  for (guint i = 0; i < G_N_ELEMENTS (gpu_files); i++)
    {
      make_node (dev, gpu_files[i], FALSE);
      g_assert_false (tether_renderer_is_software_only (dev));
      remove_node (dev, gpu_files[i]);
    }
  tether_test_dir_free (g_steal_pointer (&dev));
}

static void
test_choice (void)
{
  g_autofree char *dev = tether_test_dir_new ();

  clear_environment ();
  /* newer GTK chooses for itself */
  g_assert_false (tether_renderer_choose_for (dev, 4, 14));
  g_assert_null (g_getenv ("GDK_DEBUG"));

  g_assert_true (tether_renderer_choose_for (dev, 4, 8));
  g_assert_cmpstr (g_getenv ("GDK_DEBUG"), ==, "gl-disable");
  g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, "cairo");
  /* a second call sees that choice and leaves it */
  g_assert_false (tether_renderer_choose_for (dev, 4, 8));

  clear_environment ();
  make_node (dev, "dri", TRUE);
  make_node (dev, "dri/renderD128", FALSE);
  g_assert_false (tether_renderer_choose_for (dev, 4, 8));
  g_assert_null (g_getenv ("GDK_DEBUG"));
  g_assert_null (g_getenv ("GSK_RENDERER"));
  tether_test_dir_free (g_steal_pointer (&dev));
}

static void
test_user_choice_wins (void)
{
  g_autofree char *dev = tether_test_dir_new ();

  clear_environment ();
  g_setenv ("GSK_RENDERER", "gl", TRUE);
  g_assert_false (tether_renderer_choose_for (dev, 4, 8));
  g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, "gl");
  g_assert_null (g_getenv ("GDK_DEBUG"));

  clear_environment ();
  g_setenv ("GDK_DEBUG", "gl-glx", TRUE);
  g_assert_false (tether_renderer_choose_for (dev, 4, 8));
  g_assert_cmpstr (g_getenv ("GDK_DEBUG"), ==, "gl-glx");
  g_assert_null (g_getenv ("GSK_RENDERER"));
  tether_test_dir_free (g_steal_pointer (&dev));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tether/app/renderer/devices", test_devices);
  g_test_add_func ("/tether/app/renderer/choice", test_choice);
  g_test_add_func ("/tether/app/renderer/user-choice-wins", test_user_choice_wins);
  return g_test_run ();
}
