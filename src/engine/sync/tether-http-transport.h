/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-transport.h"

G_BEGIN_DECLS

#define TETHER_TYPE_HTTP_TRANSPORT (tether_http_transport_get_type ())
G_DECLARE_FINAL_TYPE (TetherHttpTransport, tether_http_transport, TETHER, HTTP_TRANSPORT, GObject)

/* HTTP over libsoup3: POST <base>/push and <base>/pull with
 * "Authorization: Bearer <token>". Status mapping: 401 UNAUTHORIZED, 409
 * SCHEMA, 410 CURSOR_EXPIRED, 413 TOO_LARGE, 429 RATE_LIMITED (Retry-After
 * kept), 5xx SERVER, 400 REJECTED with the protocol's {"error", "code"}
 * body (BAD_CURSOR for code "bad-cursor"; PROTOCOL without that body),
 * any other 4xx PROTOCOL (not a Tether sync address), transport failures,
 * timeouts and a 2xx cut short NETWORK, a 2xx whose body is not a JSON
 * object PROTOCOL. Properties: "base-url", "token" (write-only), "timeout"
 * (seconds, default 30), "user-agent". Extra headers with
 * tether_http_transport_set_header(). Bytes sent and received are counted. */
TetherHttpTransport *tether_http_transport_new        (const char *base_url,
                                                       const char *token);
void                 tether_http_transport_set_token  (TetherHttpTransport *self,
                                                       const char          *token);
void                 tether_http_transport_set_timeout (TetherHttpTransport *self,
                                                        guint               seconds);
void                 tether_http_transport_set_header (TetherHttpTransport *self,
                                                       const char          *name,
                                                       const char          *value);
const char          *tether_http_transport_get_base_url (TetherHttpTransport *self);
/* Body bytes moved so far (request bodies sent, response bodies received). */
guint64              tether_http_transport_get_bytes_sent     (TetherHttpTransport *self);
guint64              tether_http_transport_get_bytes_received (TetherHttpTransport *self);

G_END_DECLS
