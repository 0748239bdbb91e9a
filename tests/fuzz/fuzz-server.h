/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sqlite3.h>

#include "tether-server-core-private.h"

G_BEGIN_DECLS

/* A tether-server core on an in-memory SQLite store, made once per fuzzer
 * process: users alice and bob, each with a few records (bob's data all
 * hold FUZZ_BOB_SECRET, so a leak to alice is easy to see). */
typedef struct {
  TetherServerStore *store;
  TetherServerCore  *core;
  TetherServerUser   alice;
  TetherServerUser   bob;
  sqlite3           *snapshot;   /* the seeded database, for fuzz_server_restore */
} FuzzServer;

#define FUZZ_BOB_SECRET "bob-secret-4f1c"

FuzzServer *fuzz_server_new     (TetherSchema  *schema);
/* Puts the store back as it was seeded, so each input meets the same state
 * and a crash replays from its input alone. */
void        fuzz_server_restore (FuzzServer    *self);
/* The body as the routes hand it to the core: gunzipped when it starts
 * with gzip's magic (as with Content-Encoding: gzip), followed by a NUL.
 * NULL with an error when it does not decode. */
GBytes     *fuzz_server_body    (const uint8_t *data,
                                 size_t         size,
                                 GError       **error);

G_END_DECLS
