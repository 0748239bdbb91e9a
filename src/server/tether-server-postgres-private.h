/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* Shared by the PostgreSQL store and its LISTEN connection. */

#define TETHER_SERVER_POSTGRES_CHANNEL "tether_feed"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

/* Connection parameters for @conninfo (a libpq string or URI): the
 * client encoding is forced to UTF-8 (records are JSON text), the rest is
 * the caller's. Blocking when @async is FALSE; else PQconnectStartParams. */
PGconn *_tether_server_postgres_connect (const char *conninfo,
                                         const char *application_name,
                                         gboolean    async);

/* libpq's messages span lines; logs want one. Rewrites @text in place. */
char   *_tether_server_postgres_one_line (char *text);

/* Called on the listener's main context for every feed notification sent
 * by another store instance, and, after a reconnection, for every user's
 * current last rev (notifications may have been missed meanwhile). */
typedef void (*TetherServerPostgresFeedFunc) (gint64   user_id,
                                              gint64   rev,
                                              gpointer user_data);

typedef struct _TetherServerPostgresListen TetherServerPostgresListen;

/* Connects and LISTENs before returning, so that no notification sent
 * after this call is missed; then runs on the thread-default main context,
 * reconnecting with backoff when the connection drops. @own_id: the
 * payload prefix of the notifications this process sends, ignored. */
TetherServerPostgresListen *
     _tether_server_postgres_listen_new  (const char                    *conninfo,
                                          const char                    *own_id,
                                          TetherServerPostgresFeedFunc   func,
                                          gpointer                       user_data,
                                          GError                       **error);
void _tether_server_postgres_listen_free (TetherServerPostgresListen    *self);

/* The NOTIFY payload: "<own id>:<user id>:<rev>". */
char    *_tether_server_postgres_payload_new   (const char *own_id,
                                                gint64      user_id,
                                                gint64      rev);
gboolean _tether_server_postgres_payload_parse (const char *payload,
                                                const char *own_id,
                                                gint64     *user_id,
                                                gint64     *rev);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherServerPostgresListen, _tether_server_postgres_listen_free)

G_END_DECLS
