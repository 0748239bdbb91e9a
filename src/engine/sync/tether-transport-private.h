/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "tether-http-transport.h"
#include "tether-ws-transport.h"

G_BEGIN_DECLS

/* What the transports share: turning refusals and failures into
 * TETHER_SYNC_ERRORs with messages that name the server, and JSON text. */

/* The code for an HTTP status that is not a success. */
TetherSyncError _tether_transport_code_for_status (guint status);
/* The code for a protocol error code ("unauthorized", "cursor-expired" …). */
TetherSyncError _tether_transport_code_for_name   (const char *name);
/* A refusal by @server: @what is the status or the code, @server_text the
 * "error" of the server's answer (may be NULL). */
GError         *_tether_transport_refusal_new     (TetherSyncError  code,
                                                   const char      *server,
                                                   const char      *what,
                                                   const char      *server_text);
/* NETWORK for a failed exchange; a cancellation stays G_IO_ERROR_CANCELLED. */
GError         *_tether_transport_network_error_new (const char   *server,
                                                     guint         timeout_s,
                                                     const GError *cause);

/* "404 Not Found", or "429" where libsoup knows no phrase. */
char           *_tether_transport_describe_status (SoupMessage *msg);

/* The JsonObject answered by a GTask of @source tagged @source_tag. */
JsonObject     *_tether_transport_task_finish     (gpointer       source,
                                                   GAsyncResult  *result,
                                                   gpointer       source_tag,
                                                   GError       **error);

/* A string member, or NULL when absent or of another type. */
const char     *_tether_transport_string_member   (JsonObject *object,
                                                   const char *name);
/* Where @transport syncs to, as one string: the server's address
 * (scheme, host, port, path) and a fingerprint of the token, which may
 * name another account. Wrappers (faulty) are looked through; NULL for a
 * transport that does not say. */
char           *_tether_transport_identity        (TetherTransport *transport);
/* The server's address alone, as in the identity; NULL likewise. */
char           *_tether_transport_address         (TetherTransport *transport);
/* Whether both go to one server (FALSE when either does not say). */
gboolean        _tether_transport_same_address    (TetherTransport *a,
                                                   TetherTransport *b);
/* The JSON object in @bytes, or NULL when it is not one. */
JsonObject     *_tether_transport_parse_object    (GBytes     *bytes);
/* Compact JSON text of @object. */
GBytes         *_tether_transport_to_bytes        (JsonObject *object);

/* The WebSocket transport shares the HTTP transport's session, address
 * and token: <base><path> with the token and the extra headers, with a
 * "ws:" or "wss:" scheme for @websocket; NULL with INVALID for a bad base. */
SoupSession    *_tether_http_transport_get_session (TetherHttpTransport  *self);
TetherHttpTransport *_tether_ws_transport_get_http (TetherWsTransport   *self);
const char     *_tether_http_transport_get_token   (TetherHttpTransport  *self);
SoupMessage    *_tether_http_transport_new_message (TetherHttpTransport  *self,
                                                    const char           *method,
                                                    const char           *path,
                                                    gboolean              websocket,
                                                    GError              **error);

G_END_DECLS
