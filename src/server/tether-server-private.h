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
  gboolean             trust_proxy; /* see TetherServerOptions */
  guint                read_timeout; /* seconds; see TetherServerOptions */
  TetherServerHub     *hub;
  guint                n_busy;      /* requests between their headers and the end of their response */
  gboolean             stopping;
} TetherServerState;

/* tether-server-deadline.c: closes the connection of a request that sends
 * nothing for @seconds before its body is in (0: never). */
void     _tether_server_deadline_watch        (SoupServerMessage *msg,
                                               guint              seconds);

/* tether-server-response.c */
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
 * wait (for 429) when the request must be refused. A good token refused
 * with 429 leaves @user filled, for the log: the caller clears it. */
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

/* The hub's insides, shared by tether-server-hub*.c. */
typedef struct {
  TetherServerHub         *hub;
  SoupWebsocketConnection *conn;
  TetherServerUser         user;
  char                    *authorization; /* checked again before each use: rotate and remove act at once */
  char                    *path;
  char                    *client_id;   /* its client's, from its pushes and pulls */
  gint64                   last_rev;    /* the last rev this connection was sent or told about */
  gint64                   feed_rev;    /* the user's last rev as announced by feed-changed */
  GHashTable              *own_revs;    /* revs above last_rev written through this connection */
  gint64                   opened_us;
  guint                    n_sent;      /* changes sent by server_push */
  gsize                    unconfirmed; /* server_push bytes sent since the client's last pong */
  gboolean                 closed;
} TetherServerHubConnection;

struct _TetherServerHub
{
  TetherServerState *state;
  GPtrArray         *connections;   /* TetherServerHubConnection* */
  gulong             feed_handler;
  guint              flush_id;
};

/* tether-server-hub.c: sending. {type, requestId, payload} around a payload
 * that is JSON text already; @request_id is the JSON text the client sent,
 * or NULL (null, or absent for server_push). */
void     _tether_server_hub_send_text         (TetherServerHubConnection *connection,
                                               const char                *type,
                                               const char                *request_id,
                                               const char                *payload);
void     _tether_server_hub_send_error        (TetherServerHubConnection *connection,
                                               const char                *request_id,
                                               const GError              *error,
                                               guint                      retry_after);
/* FALSE with UNAUTHORIZED when the token was rotated or the user removed
 * since the upgrade; then the connection must be closed. */
gboolean _tether_server_hub_still_valid       (TetherServerHubConnection  *connection,
                                               GError                    **error);
void     _tether_server_hub_close_if_unauthorized (TetherServerHubConnection *connection,
                                                   const GError              *error);

/* tether-server-hub-push.c: server_push. */
void     _tether_server_hub_schedule_flush    (TetherServerHub  *self);
void     _tether_server_hub_feed_changed      (TetherServerCore *core,
                                               gint64            user_id,
                                               gint64            rev,
                                               TetherServerHub  *self);
/* Remember what this connection wrote, so server_push does not echo it. */
void     _tether_server_hub_note_own_push     (TetherServerHubConnection *connection,
                                               const char                *result);
void     _tether_server_hub_note_client_id    (TetherServerHubConnection *connection,
                                               const char                *client_id);

/* tether-server-hub-messages.c: messages from the client. */
void     _tether_server_hub_on_message        (SoupWebsocketConnection   *conn,
                                               gint                       type,
                                               GBytes                    *message,
                                               TetherServerHubConnection *connection);
void     _tether_server_hub_on_closed         (SoupWebsocketConnection   *conn,
                                               TetherServerHubConnection *connection);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherServerLimiter, _tether_server_limiter_free)

G_END_DECLS
