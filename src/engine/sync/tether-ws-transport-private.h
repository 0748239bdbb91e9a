/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-ws-transport.h"
#include "tether-transport-private.h"

G_BEGIN_DECLS

/* The WebSocket transport's parts: the object and its connection
 * (tether-ws-transport.c), its requests and the messages that answer them
 * (tether-ws-requests.c). */

#define DEFAULT_TIMEOUT_S   30
#define KEEPALIVE_S         30
#define BACKOFF_FIRST_MS    1000
#define BACKOFF_MAX_MS      60000
/* A socket open this long, or that brought a message, was a working one:
 * its loss starts the backoff over. One that closes sooner counts as a
 * failed connection (a server that accepts and closes at once). */
#define HEALTHY_S           10

struct _TetherWsTransport
{
  GObject                  parent_instance;
  TetherHttpTransport     *http;        /* the session, address and token; info */
  GMainContext            *context;     /* where the timers run */
  SoupWebsocketConnection *conn;        /* open, or NULL */
  GCancellable            *connecting;  /* while an upgrade is under way */
  GSource                 *reconnect;   /* the backoff timer */
  GHashTable              *pending;     /* request id → Pending, sent or waiting */
  GQueue                   waiting;     /* Pending not sent yet, oldest first */
  GRand                   *rand;        /* backoff jitter */
  GError                  *refusal;     /* the 401 that stops reconnecting */
  guint64                  last_id;
  guint                    timeout_s;
  guint                    attempts;    /* failed connections since the last healthy one */
  gint64                   opened_us;   /* when conn was attached (monotonic) */
  gboolean                 healthy;     /* conn brought a message */
  gint64                   retry_after_ms;
  gboolean                 wanted;      /* connect() called, no disconnect() since */
  gsize                    max_frame;   /* the server's Tether-Max-Body, 0 when it did not say */
};

/* The upgrade answer's header with the largest frame the server reads:
 * past twice that, libsoup resets the connection unread, which a client
 * cannot tell from a network failure and would resend for ever. */
#define TETHER_WS_MAX_BODY_HEADER "Tether-Max-Body"

typedef struct {
  GTask      *task;
  char       *id;
  guint64     number;        /* the order of sending */
  const char *answer_type;   /* "push_result" or "pull_result" */
  GBytes     *frame;
  GSource    *timeout;
  GSource    *cancelled;
} Pending;

/* tether-ws-transport.c */
void     _tether_ws_open_now      (TetherWsTransport *self);
void     _tether_ws_abandon       (TetherWsTransport *self);
/* For tests: ms until the planned reconnect, -1 when none is planned. */
gint64   _tether_ws_reconnect_delay_ms (TetherWsTransport *self);
/* Whether the socket's peer acknowledged or sent anything in the last
 * @within_ms (FALSE when that cannot be told). */
gboolean _tether_ws_link_active   (TetherWsTransport *self,
                                   guint              within_ms);

/* tether-ws-requests.c */
void     _tether_ws_refuse        (TetherWsTransport *self,
                                   const GError      *error);
/* The socket brought something (a message, a pong): the requests sent
 * on it wait a whole timeout again. */
void     _tether_ws_heard         (TetherWsTransport *self);
void     _tether_ws_source_clear  (GSource          **source);
void     _tether_ws_pending_free  (gpointer           data);
void     _tether_ws_fail_too_big  (TetherWsTransport *self,
                                   const GError      *too_large);
void     _tether_ws_fail_requests (TetherWsTransport *self,
                                   gboolean           sent,
                                   const GError      *error);
gboolean _tether_ws_is_open       (TetherWsTransport *self);
void     _tether_ws_send_or_wait  (TetherWsTransport *self,
                                   Pending           *p);
void     _tether_ws_request_async (TetherWsTransport   *self,
                                   const char          *type,
                                   JsonObject          *payload,
                                   GCancellable        *cancellable,
                                   gpointer             source_tag,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
void     _tether_ws_on_message    (SoupWebsocketConnection *conn,
                                   int                      data_type,
                                   GBytes                  *message,
                                   TetherWsTransport       *self);

G_END_DECLS
