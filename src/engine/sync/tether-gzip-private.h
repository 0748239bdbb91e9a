/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* gzip for HTTP bodies (Content-Encoding: gzip), shared by the HTTP
 * transport and tether-server. Bodies below this size are sent as they
 * are: the header costs more than it saves. */
#define TETHER_GZIP_MIN_SIZE 1024

GBytes   *_tether_gzip   (const void  *data,
                          gsize        length);
/* NULL with G_IO_ERROR_MESSAGE_TOO_LARGE past @max_length decoded bytes
 * (a decompression bomb stops there), G_IO_ERROR_INVALID_DATA when it is
 * not gzip. The result is followed by a NUL not counted in its length. */
GBytes   *_tether_gunzip (const void  *data,
                          gsize        length,
                          gsize        max_length,
                          GError     **error);
/* Whether a header value (Accept-Encoding, Content-Encoding) names gzip. */
gboolean  _tether_gzip_listed (const char *header);

G_END_DECLS
