/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether the machine can only offer software GL: no GPU device node
 * under @dev_dir ("/dev"; another directory in tests), or mesa told to
 * render in software (LIBGL_ALWAYS_SOFTWARE). */
gboolean tether_renderer_is_software_only (const char *dev_dir);

/* Turns GL off (GTK then draws with cairo) when GTK @gtk_major.@gtk_minor
 * would draw with GL on llvmpipe and the user set neither GSK_RENDERER nor
 * GDK_DEBUG. Sets environment variables: call before any thread and before
 * GTK starts. TRUE when it turned GL off. */
gboolean tether_renderer_choose_for       (const char *dev_dir,
                                           guint       gtk_major,
                                           guint       gtk_minor);

/* tether_renderer_choose_for() on /dev and the GTK the app runs with;
 * main() calls it first. */
gboolean tether_renderer_choose           (void);

G_END_DECLS
