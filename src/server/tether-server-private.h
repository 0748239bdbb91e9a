/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "tether-server.h"

G_BEGIN_DECLS

typedef struct _TetherServerLimiter TetherServerLimiter;
typedef struct _TetherServerHub     TetherServerHub;

/* What the routes, the hub and the limiters share; owned by TetherServer. */
typedef struct {
  TetherServerCore    *core;
  char                *base;        /* "" (root) or "/sync": no trailing slash */
  gsize                max_body;
  TetherServerLimiter *users;       /* one bucket per user */
  TetherServerLimiter *strangers;   /* one bucket per address, spent by failed auth */
  TetherServerHub     *hub;
  guint                n_busy;      /* requests between their headers and the end of their response */
  gboolean             stopping;
} TetherServerState;

/* tether-server.c */
void     _tether_server_log                   (const char *method,
                                               const char *path,
                                               const char *user,
                                               guint       status,
                                               guint       changes,
                                               gint64      start_us);
void     _tether_server_set_json              (SoupServerMessage *msg,
                                               guint              status,
                                               JsonNode          *body);
void     _tether_server_set_error             (SoupServerMessage *msg,
                                               const GError      *error,
                                               guint              retry_after);
/* Sends the response set on @msg at once on its own connection, without
 * reading the rest of the request, then closes the connection; @on_done
 * runs when it is closed. */
void     _tether_server_reject_now            (SoupServerMessage *msg,
                                               GDestroyNotify     on_done,
                                               gpointer           data);

/* tether-server-routes.c */
void     _tether_server_routes_install        (SoupServer        *soup,
                                               TetherServerState *state);
/* The user of a WebSocket upgrade request admitted by the routes. */
const TetherServerUser *_tether_server_routes_get_user (SoupServerMessage *msg);
gint64   _tether_server_routes_get_start      (SoupServerMessage *msg);
/* Rate limit, then authenticate: FALSE with an error and the seconds to
 * wait (for 429) when the request must be refused. */
gboolean _tether_server_admit                 (TetherServerState *state,
                                               const char        *authorization,
                                               const char        *address,
                                               TetherServerUser  *user,
                                               guint             *retry_after,
                                               GError           **error);

/* tether-server-limiter.c: token buckets. */
TetherServerLimiter *_tether_server_limiter_new   (double rate,
                                                   double burst);
void     _tether_server_limiter_free          (TetherServerLimiter *self);
/* Takes a token for @key: 0 when there was one, else the whole seconds
 * until there is one again (at least 1). */
guint    _tether_server_limiter_take          (TetherServerLimiter *self,
                                               const char          *key);
/* The same without taking the token. */
guint    _tether_server_limiter_peek          (TetherServerLimiter *self,
                                               const char          *key);

/* tether-server-hub.c: WebSocket connections and server_push. */
TetherServerHub *_tether_server_hub_new       (TetherServerState *state);
void     _tether_server_hub_free              (TetherServerHub *self);
void     _tether_server_hub_add               (TetherServerHub         *self,
                                               SoupWebsocketConnection *conn,
                                               const TetherServerUser  *user,
                                               const char              *authorization,
                                               const char              *path);
/* Closes every connection (going away); returns how many are still open. */
guint    _tether_server_hub_close_all         (TetherServerHub *self);
guint    _tether_server_hub_get_n_open        (TetherServerHub *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherServerLimiter, _tether_server_limiter_free)

G_END_DECLS
