/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A new UUIDv7 (RFC 9562) string: 48-bit ms timestamp, then a counter so ids
 * made in one process sort in creation order even within one millisecond. */
char     *tether_uuid_v7_new    (void);
/* A new random UUIDv4 string. */
char     *tether_uuid_v4_new    (void);
gboolean  tether_uuid_is_valid  (const char *text);
/* The current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
char     *tether_time_format_ms (gint64 ms);
gint64    tether_time_now_ms    (void);

G_END_DECLS
