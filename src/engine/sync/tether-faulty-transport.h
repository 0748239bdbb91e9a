/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-transport.h"

G_BEGIN_DECLS

#define TETHER_TYPE_FAULTY_TRANSPORT (tether_faulty_transport_get_type ())
G_DECLARE_FINAL_TYPE (TetherFaultyTransport, tether_faulty_transport, TETHER, FAULTY_TRANSPORT, GObject)

/* A transport for tests that wraps a real one and misbehaves on purpose,
 * deterministically from @seed:
 * - drop every nth request: fail with NETWORK without sending it;
 * - lose every nth response: send it, let the server apply it, then fail
 *   with NETWORK as if the connection broke;
 * - duplicate every nth request: send it twice (the second after the first
 *   completed) and answer with the second answer;
 * - delay every request by a random time in [0, max_delay_ms];
 * - offline: every request fails with NETWORK without being sent, and an
 *   answer that lands while offline is lost (the server may have acted).
 * n = 0 turns a fault off. Counters are shared by push, pull and info.
 * server-push signals of the inner transport are passed on. */
TetherFaultyTransport *tether_faulty_transport_new (TetherTransport *inner,
                                                    guint32          seed);
void tether_faulty_transport_set_drop_every      (TetherFaultyTransport *self, guint n);
void tether_faulty_transport_set_lose_every      (TetherFaultyTransport *self, guint n);
void tether_faulty_transport_set_duplicate_every (TetherFaultyTransport *self, guint n);
void tether_faulty_transport_set_max_delay       (TetherFaultyTransport *self, guint ms);
void tether_faulty_transport_set_offline         (TetherFaultyTransport *self, gboolean offline);
TetherTransport *tether_faulty_transport_get_inner (TetherFaultyTransport *self);
/* How many times each fault happened: a request dropped, an answer lost,
 * a request sent a second time (counted as it goes out). */
guint tether_faulty_transport_get_dropped    (TetherFaultyTransport *self);
guint tether_faulty_transport_get_lost       (TetherFaultyTransport *self);
guint tether_faulty_transport_get_duplicated (TetherFaultyTransport *self);

G_END_DECLS
