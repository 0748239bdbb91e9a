/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-app"
#include "config.h"

#include <gtk/gtk.h>

#include "tether-renderer.h"

/* GTK before 4.14 draws with its GL renderer even when the only GL is
 * mesa's llvmpipe, which rasterizes on the CPU and keeps LLVM and its
 * compiled shaders in memory. GTK 4.14 stopped using GL renderers on
 * llvmpipe (commit 6c4739a2f16, "gsk: Don't use gpu renderers with
 * llvmpipe"). Measured with bench-app on 100,000 notes under Xvfb (no GPU):
 * GL on llvmpipe 249 MiB and a 59 ms worst keystroke, cairo with GL off
 * 109 MiB and 33 ms. So where no GPU device exists there is no GL to gain
 * and the app turns it off before GTK starts, as newer GTK would. */

/* TRUE when the machine offers no GL but a software one: no device node
 * under @dev_dir ("/dev" but in tests) that a GPU driver opens, or mesa
 * told to render in software. */
gboolean
tether_renderer_is_software_only (const char *dev_dir)
{
  static const char * const gpu_nodes[] = { "dri", "nvidiactl", "nvidia0" };
  const char *software = g_getenv ("LIBGL_ALWAYS_SOFTWARE");

  if (software != NULL && *software != '\0' && !g_str_equal (software, "0"))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (gpu_nodes); i++)
    {
      g_autofree char *path = g_build_filename (dev_dir, gpu_nodes[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return FALSE;
    }
  return TRUE;
}

/* Call first thing in main(), before any thread and before GTK starts: it
 * sets environment variables GTK reads once. A renderer or GDK debug flags
 * the user chose win. TRUE when it turned GL off. */
gboolean
tether_renderer_choose (void)
{
  if (gtk_get_major_version () > 4 || gtk_get_minor_version () >= 14)
    return FALSE;
  if (g_getenv ("GSK_RENDERER") != NULL || g_getenv ("GDK_DEBUG") != NULL)
    return FALSE;
  if (!tether_renderer_is_software_only ("/dev"))
    return FALSE;
  /* gl-disable keeps GDK from loading the GL driver at all; naming cairo
   * spares GSK a failed attempt at GL, and its message. */
  g_setenv ("GDK_DEBUG", "gl-disable", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", TRUE);
  g_debug ("no GPU device and GTK %u.%u: drawing with cairo, GL off", gtk_get_major_version (), gtk_get_minor_version ());
  return TRUE;
}
