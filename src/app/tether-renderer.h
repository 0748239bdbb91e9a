/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean tether_renderer_is_software_only (const char *dev_dir);
gboolean tether_renderer_choose           (void);

G_END_DECLS
