/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-renderer"
#include "config.h"

#include <gtk/gtk.h>

#include "tether-renderer.h"

/* GTK before 4.14 draws with its GL renderer even when the only GL is
 * mesa's llvmpipe, which rasterizes on the CPU and keeps LLVM and its
 * compiled shaders in memory; GTK 4.14 picks cairo there itself (commit
 * 6c4739a2f16), after loading the driver to find out. Without a GPU the
 * app turns GL off before GTK starts: less memory and faster frames,
 * measured in docs/app.md ("Drawing without a GPU"). */

/* Device nodes a GPU driver opens: DRM render nodes, WSL's d3d12 bridge,
 * NVIDIA's own driver, and vendor drivers of ARM boards. A DRM card0
 * without a render node is a display-only driver (simpledrm, bochs, a
 * VM's), which leaves mesa with llvmpipe. */
static const char * const gpu_nodes[] = {
  "dxg", "nvidiactl", "nvidia0", "mali0", "galcore", "kgsl-3d0",
};

/* mesa's reading of a boolean variable (env_var_as_boolean) */
static gboolean
env_true (const char *name)
{
  const char *value = g_getenv (name);

  return value != NULL && (g_ascii_strcasecmp (value, "1") == 0 || g_ascii_strcasecmp (value, "true") == 0 ||
                           g_ascii_strcasecmp (value, "y") == 0 || g_ascii_strcasecmp (value, "yes") == 0);
}

static gboolean
has_render_node (const char *dev_dir)
{
  g_autofree char *dri = g_build_filename (dev_dir, "dri", NULL);
  g_autoptr(GDir) dir = g_dir_open (dri, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "renderD"))
      return TRUE;
  return FALSE;
}

gboolean
tether_renderer_is_software_only (const char *dev_dir)
{
  if (env_true ("LIBGL_ALWAYS_SOFTWARE"))
    return TRUE;
  if (has_render_node (dev_dir))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (gpu_nodes); i++)
    {
      g_autofree char *path = g_build_filename (dev_dir, gpu_nodes[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return FALSE;
    }
  return TRUE;
}

gboolean
tether_renderer_choose_for (const char *dev_dir,
                            guint       gtk_major,
                            guint       gtk_minor)
{
  if (gtk_major > 4 || gtk_minor >= 14)
    return FALSE;
  /* someone chose already: a person debugging GTK gets GTK as it is */
  if (g_getenv ("GSK_RENDERER") != NULL || g_getenv ("GDK_DEBUG") != NULL)
    return FALSE;
  if (!tether_renderer_is_software_only (dev_dir))
    return FALSE;
  /* gl-disable keeps GDK from loading the GL driver at all; naming cairo
   * spares GSK a failed attempt at GL, and its message. */
  g_setenv ("GDK_DEBUG", "gl-disable", TRUE);
  g_setenv ("GSK_RENDERER", "cairo", TRUE);
  g_debug ("no GPU device and GTK %u.%u: drawing with cairo, GL off", gtk_major, gtk_minor);
  return TRUE;
}

gboolean
tether_renderer_choose (void)
{
  return tether_renderer_choose_for ("/dev", gtk_get_major_version (), gtk_get_minor_version ());
}
