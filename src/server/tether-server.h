/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "tether-server-core.h"

G_BEGIN_DECLS

/* The HTTP and WebSocket face of tether-server: a SoupServer in front of a
 * TetherServerCore, with the routes of docs/protocol.md, per-user rate
 * limits, a body size limit and one log line per request on stderr. */

#define TETHER_SERVER_DEFAULT_ADDRESS   "127.0.0.1"
#define TETHER_SERVER_DEFAULT_PORT      8787
#define TETHER_SERVER_DEFAULT_BASE_PATH "/sync"
#define TETHER_SERVER_DEFAULT_MAX_BODY  (16 * 1024 * 1024)
/* The largest max_body: a body is collected in a GByteArray (a 32-bit
 * length, plus its NUL) and a WebSocket message may be twice max_body in
 * libsoup's own such buffer. */
#define TETHER_SERVER_MAX_MAX_BODY      ((gsize) 1 << 30)
#define TETHER_SERVER_DEFAULT_RATE      50.0   /* requests per second per user */
#define TETHER_SERVER_DEFAULT_BURST     100
#define TETHER_SERVER_DEFAULT_READ_TIMEOUT 30  /* seconds */

typedef struct {
  const char *address;     /* an IP address or a host name; only this address is listened on */
  guint16     port;        /* 0: pick a free port (see tether_server_get_port) */
  const char *base_path;   /* "/sync"; "" or "/" for the root */
  gsize       max_body;    /* request bodies and WebSocket messages, in bytes */
  double      rate;        /* token refill per second per user; 0 turns the limits off */
  guint       burst;       /* bucket size */
  gboolean    trust_proxy; /* a loopback peer's X-Real-IP names the client (a proxy on this machine) */
  guint       read_timeout; /* seconds a request may go without a byte before its headers and
                             * body are in; then its connection is closed. 0: never */
} TetherServerOptions;

/* Fills @options with the defaults above. */
void          tether_server_options_init     (TetherServerOptions *options);

#define TETHER_TYPE_SERVER (tether_server_get_type ())
G_DECLARE_FINAL_TYPE (TetherServer, tether_server, TETHER, SERVER, GObject)

TetherServer *tether_server_new              (TetherServerCore          *core,
                                              const TetherServerOptions *options);
/* Starts listening on the options' address and port. */
gboolean      tether_server_listen           (TetherServer  *self,
                                              GError       **error);
/* The port listened on (useful with port 0); 0 before listen. */
guint16       tether_server_get_port         (TetherServer  *self);
/* "http://127.0.0.1:8787/sync" */
char         *tether_server_get_url          (TetherServer  *self);
TetherServerCore *tether_server_get_core     (TetherServer  *self);

/* Stops accepting requests, closes WebSockets (going away), lets responses
 * in progress finish (at most a few seconds), then disconnects everyone. */
void          tether_server_shutdown_async   (TetherServer        *self,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean      tether_server_shutdown_finish  (TetherServer  *self,
                                              GAsyncResult  *result,
                                              GError       **error);

G_END_DECLS
