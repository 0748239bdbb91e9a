/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <libpq-fe.h>

#include "tether-server-store.h"

G_BEGIN_DECLS

/* Shared by the PostgreSQL store and its LISTEN connection. */

#define TETHER_SERVER_POSTGRES_CHANNEL "tether_feed"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PGresult, PQclear)

/* Seconds a connection attempt may take, unless the conninfo or
 * PGCONNECT_TIMEOUT says otherwise. */
#define TETHER_SERVER_POSTGRES_CONNECT_TIMEOUT "5"

/* Connection parameters for @conninfo (a libpq string or URI): the
 * client encoding is forced to UTF-8 (records are JSON text); timeouts
 * and TCP keepalives have defaults that @conninfo may override; the rest
 * is the caller's. Blocking when @async is FALSE; else
 * PQconnectStartParams. */
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

/* Shared between the files of the PostgreSQL store. */

#define TETHER_TYPE_SERVER_STORE_POSTGRES (tether_server_store_postgres_get_type ())
G_DECLARE_FINAL_TYPE (TetherServerStorePostgres, tether_server_store_postgres,
                      TETHER, SERVER_STORE_POSTGRES, GObject)

typedef enum {
  USER_ADD, USER_SET_TOKEN, USER_DEL, USER_DEL_RECORDS, USER_DEL_APPLIED,
  USER_LIST, USER_BY_TOKEN, LOCK_USER, SET_LAST_REV,
  FIND_APPLIED, REMEMBER_APPLIED, GET_RECORDS, GET_STATES, PUT_RECORDS, PULL_ALL, PULL_SOME,
  PURGE_TRY_LOCK, PURGE_UNLOCK, PURGE_USERS, PURGE_USER, PURGE_APPLIED, NOTIFY,
  N_STMTS
} Stmt;

/* Parameters of one statement call, text format unless told. */
typedef struct {
  const char *values[10];
  int         lengths[10];
  int         formats[10];
  char       *owned[10];
  int         n;
} Params;

/* tether-server-store-postgres.c */
void      _tether_pg_params_clear (Params                     *p);
void      _tether_pg_param_text   (Params                     *p,
                                   const char                 *text);
/* Adds @text and frees it with the parameters. */
void      _tether_pg_param_take   (Params                     *p,
                                   char                       *text);
void      _tether_pg_param_int    (Params                     *p,
                                   gint64                      value);
void      _tether_pg_param_bytes  (Params                     *p,
                                   const guint8               *bytes,
                                   int                         length);
PGresult *_tether_pg_exec         (TetherServerStorePostgres  *self,
                                   Stmt                        which,
                                   const Params               *p,
                                   ExecStatusType              expected,
                                   const char                 *what,
                                   GError                    **error);
gint64    _tether_pg_value_int    (const PGresult             *res,
                                   int                         row,
                                   int                         column);
char     *_tether_pg_value_dup    (const PGresult             *res,
                                   int                         row,
                                   int                         column);
gboolean  _tether_pg_begin        (TetherServerStore          *store,
                                   GError                    **error);
gboolean  _tether_pg_commit       (TetherServerStore          *store,
                                   GError                    **error);
void      _tether_pg_rollback     (TetherServerStore          *store);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Params, _tether_pg_params_clear)

/* tether-server-store-postgres-users.c */
void      _tether_pg_users_iface_init (TetherServerStoreInterface *iface);

/* tether-server-store-postgres-records.c */
void      _tether_pg_records_iface_init (TetherServerStoreInterface *iface);

G_END_DECLS
