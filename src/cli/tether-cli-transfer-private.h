/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* tether-cli-transfer.c: members of an import or apply line. A missing
 * member, or one of the wrong type, fails with a message that names it. */
gboolean _tether_cli_get_string_member (JsonObject   *object,
                                        const char   *name,
                                        const char  **value,
                                        GError      **error);
gboolean _tether_cli_get_object_member (JsonObject   *object,
                                        const char   *name,
                                        JsonObject  **value,
                                        GError      **error);

G_END_DECLS
