/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TETHER_SYNC_ERROR (tether_sync_error_quark ())

/* What went wrong talking to a server, as a caller can act on it. */
typedef enum {
  TETHER_SYNC_ERROR_NETWORK,        /* unreachable, connection lost, timeout: retry with backoff */
  TETHER_SYNC_ERROR_UNAUTHORIZED,   /* 401: the token is missing or wrong; stop until it changes */
  TETHER_SYNC_ERROR_RATE_LIMITED,   /* 429: retry after tether_transport_get_retry_after_ms() */
  TETHER_SYNC_ERROR_SERVER,         /* 5xx: retry with backoff */
  TETHER_SYNC_ERROR_PROTOCOL,       /* not a Tether server's answer, or a 4xx not listed here: not a Tether sync address */
  TETHER_SYNC_ERROR_CURSOR_EXPIRED, /* 410: pull again from a null cursor */
  TETHER_SYNC_ERROR_SCHEMA,         /* 409: client and server schemas do not match */
  TETHER_SYNC_ERROR_REJECTED,       /* 400 (a WebSocket error frame of another code): refused for what it holds */
  TETHER_SYNC_ERROR_NOT_CONFIGURED, /* no remote set */
  TETHER_SYNC_ERROR_BUSY,           /* another process is syncing this database */
  TETHER_SYNC_ERROR_NOT_FOUND,      /* no such change or conflict */
  TETHER_SYNC_ERROR_INVALID,        /* bad argument */
  TETHER_SYNC_ERROR_TOO_LARGE,      /* 413: the request is over the server's limit; send less at once */
  TETHER_SYNC_ERROR_CHANGED,        /* a conflict changed since it was read: read it again, then decide;
                                     * or the server or token changed during a sync, which stopped */
  TETHER_SYNC_ERROR_BAD_CURSOR,     /* 400 bad-cursor: the server does not know the pull's cursor; pull from null */
} TetherSyncError;

GQuark tether_sync_error_quark (void);

#define TETHER_TYPE_TRANSPORT (tether_transport_get_type ())
G_DECLARE_INTERFACE (TetherTransport, tether_transport, TETHER, TRANSPORT, GObject)

/* How the sync engine talks to a server (docs/protocol.md). Requests and
 * answers are the protocol's JSON objects; a transport only moves them and
 * maps failures to TETHER_SYNC_ERROR codes. It checks that an answer is a
 * JSON object (else PROTOCOL); the engine checks its members.
 *
 * Properties: "connected" (gboolean, read-only; for HTTP: the last request
 * reached the server).
 * Signals: "server-push" (JsonArray *changes): changes the server sent
 * unsolicited (WebSocket). */
struct _TetherTransportInterface
{
  GTypeInterface parent_iface;

  void        (*push_async)    (TetherTransport     *self,
                                JsonObject          *request,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
  JsonObject *(*push_finish)   (TetherTransport     *self,
                                GAsyncResult        *result,
                                GError             **error);
  void        (*pull_async)    (TetherTransport     *self,
                                JsonObject          *request,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
  JsonObject *(*pull_finish)   (TetherTransport     *self,
                                GAsyncResult        *result,
                                GError             **error);
  /* GET base: {"server": …, "protocol": 1, …} */
  void        (*info_async)    (TetherTransport     *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
  JsonObject *(*info_finish)   (TetherTransport     *self,
                                GAsyncResult        *result,
                                GError             **error);
  void        (*connect)       (TetherTransport     *self);   /* start a persistent link, if any */
  void        (*disconnect)    (TetherTransport     *self);
  gboolean    (*is_connected)  (TetherTransport     *self);
  gint64      (*get_retry_after_ms) (TetherTransport *self);  /* from the last 429, else 0 */
  /* Optional: push_async with the request already JSON text; answered by
   * push_finish. Without it the text is parsed and given to push_async. */
  void        (*push_bytes_async) (TetherTransport     *self,
                                   GBytes              *request,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
};

void        tether_transport_push_async   (TetherTransport     *self,
                                           JsonObject          *request,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
/* A push whose request is compact JSON text (a JSON object), so a caller
 * that has the text need not build objects; answered by push_finish. */
void        tether_transport_push_bytes_async (TetherTransport     *self,
                                               GBytes              *request,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
/* The response object (a new reference), or NULL with a TETHER_SYNC_ERROR. */
JsonObject *tether_transport_push_finish  (TetherTransport     *self,
                                           GAsyncResult        *result,
                                           GError             **error);
void        tether_transport_pull_async   (TetherTransport     *self,
                                           JsonObject          *request,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
JsonObject *tether_transport_pull_finish  (TetherTransport     *self,
                                           GAsyncResult        *result,
                                           GError             **error);
/* Test connection: PROTOCOL when the base does not answer like a
 * tether-server, UNAUTHORIZED when the token is refused (checked with an
 * empty pull), NETWORK when unreachable. */
void        tether_transport_info_async   (TetherTransport     *self,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
JsonObject *tether_transport_info_finish  (TetherTransport     *self,
                                           GAsyncResult        *result,
                                           GError             **error);
void        tether_transport_connect      (TetherTransport     *self);
void        tether_transport_disconnect   (TetherTransport     *self);
gboolean    tether_transport_is_connected (TetherTransport     *self);
gint64      tether_transport_get_retry_after_ms (TetherTransport *self);

/* For implementations: emit "server-push". */
void        tether_transport_emit_server_push (TetherTransport *self,
                                               JsonArray       *changes);
/* The longest wait a server's Retry-After is taken for: past it, a
 * misconfigured or hostile server would stop sync for days (or, with the
 * figure overflowing, not at all). */
#define TETHER_RETRY_AFTER_MAX_MS (60 * 60 * 1000)

/* Parse a Retry-After value (seconds or HTTP date) into ms from now, at
 * most TETHER_RETRY_AFTER_MAX_MS; -1 if bad. */
gint64      tether_transport_parse_retry_after (const char *value);

G_END_DECLS
