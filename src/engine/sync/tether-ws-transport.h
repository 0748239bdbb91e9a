/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-transport.h"

G_BEGIN_DECLS

#define TETHER_TYPE_WS_TRANSPORT (tether_ws_transport_get_type ())
G_DECLARE_FINAL_TYPE (TetherWsTransport, tether_ws_transport, TETHER, WS_TRANSPORT, GObject)

/* WebSocket over libsoup3 (<base>/ws, "ws:" or "wss:" derived from the
 * http(s) base URL): push and pull as {"type", "requestId", "payload"}
 * frames matched to their answers by request id; "server_push" frames are
 * re-emitted as "server-push". connect() opens the socket and keeps it open:
 * after a drop it reconnects with exponential backoff (1 s doubling, capped
 * at 60 s, with jitter) until disconnect(). A request made while not
 * connected connects first; requests pending when the socket drops fail with
 * NETWORK. An upgrade refused with 401 fails with UNAUTHORIZED and stops
 * reconnecting until the token changes. info_async uses plain HTTP GET. */
TetherWsTransport *tether_ws_transport_new       (const char *base_url,
                                                  const char *token);
void               tether_ws_transport_set_token (TetherWsTransport *self,
                                                  const char        *token);
void               tether_ws_transport_set_timeout (TetherWsTransport *self,
                                                    guint              seconds);

G_END_DECLS
