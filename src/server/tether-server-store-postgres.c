/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-postgres"
#include "config.h"

#include <string.h>

#include "tether-server-postgres-private.h"

/* Storage shared by several tether-server processes. Every statement is
 * prepared once per connection; a push batch costs one round trip per
 * call, its rows passed as arrays and expanded with unnest() on the
 * server. The user row's FOR UPDATE lock serialises one user's pushes
 * across processes. */

#define PURGE_LOCK_KEY 7415161803
#define RECORD_COLUMNS "collection, key, rev, type, data, server_ms, hlc, change_id, client_id"
#define PULL_SQL(filter) \
  "SELECT u.last_rev, u.purged_rev, r.* FROM users u LEFT JOIN LATERAL (" \
  " SELECT " RECORD_COLUMNS " FROM records WHERE user_id = u.id AND rev > $2" \
  " AND ($4::text IS NULL OR client_id IS DISTINCT FROM $4::text)" filter \
  " ORDER BY rev LIMIT $3) r ON TRUE WHERE u.id = $1 ORDER BY r.rev"

static const char * const sql[N_STMTS] = {
  [USER_ADD] = "INSERT INTO users (name, token_hash, created) VALUES ($1, $2, $3)",
  [USER_SET_TOKEN] = "UPDATE users SET token_hash = $2 WHERE name = $1",
  [USER_DEL] = "DELETE FROM users WHERE name = $1 RETURNING id",
  [USER_DEL_RECORDS] = "DELETE FROM records WHERE user_id = $1",
  [USER_DEL_APPLIED] = "DELETE FROM applied WHERE user_id = $1",
  [USER_LIST] = "SELECT id, name, created FROM users ORDER BY name COLLATE \"C\"",
  [USER_BY_TOKEN] = "SELECT id, name, created, token_hash FROM users WHERE token_hash = $1",
  [LOCK_USER] = "SELECT last_rev FROM users WHERE id = $1 FOR UPDATE",
  [SET_LAST_REV] = "UPDATE users SET last_rev = $2 WHERE id = $1",
  [FIND_APPLIED] = "SELECT change_id, rev, server_ms, hlc FROM applied"
                   " WHERE user_id = $1 AND change_id = ANY ($2::text[])",
  [REMEMBER_APPLIED] = "INSERT INTO applied (user_id, change_id, rev, server_ms, hlc)"
                       " SELECT $1, * FROM unnest ($2::text[], $3::int8[], $4::int8[], $5::text[])"
                       " ON CONFLICT (user_id, change_id) DO UPDATE SET rev = EXCLUDED.rev,"
                       " server_ms = EXCLUDED.server_ms, hlc = EXCLUDED.hlc",
  /* One primary key probe per key, whatever the statistics say: a plan
   * made while the table was small (a new server; generic plans live as
   * long as the connection) would read the user's whole feed instead. The
   * LIMIT keeps the subquery from being flattened into a join. */
  [GET_RECORDS] = "SELECT r.* FROM unnest ($2::text[], $3::text[]) AS q (c, k),"
                  " LATERAL (SELECT " RECORD_COLUMNS " FROM records WHERE user_id = $1"
                  "  AND collection = q.c AND key = q.k LIMIT 1) r",
  /* The same without the data and the ids (RECORD_COLUMNS' places kept):
   * what deciding a push needs; the data of the few that conflict is read
   * with GET_RECORDS. A batch's stored data would otherwise cross the
   * connection and be copied for nothing. */
  [GET_STATES] = "SELECT q.c, q.k, r.rev, r.type, NULL::text, r.server_ms, r.hlc, NULL::text, NULL::text"
                 " FROM unnest ($2::text[], $3::text[]) AS q (c, k),"
                 " LATERAL (SELECT rev, type, server_ms, hlc FROM records WHERE user_id = $1"
                 "  AND collection = q.c AND key = q.k LIMIT 1) r",
  [PUT_RECORDS] = "INSERT INTO records (user_id, " RECORD_COLUMNS ")"
                  " SELECT $1, * FROM unnest ($2::text[], $3::text[], $4::int8[], $5::int4[],"
                  " $6::text[], $7::int8[], $8::text[], $9::text[], $10::text[])"
                  " ON CONFLICT (user_id, collection, key) DO UPDATE SET rev = EXCLUDED.rev,"
                  " type = EXCLUDED.type, data = EXCLUDED.data, server_ms = EXCLUDED.server_ms,"
                  " hlc = EXCLUDED.hlc, change_id = EXCLUDED.change_id,"
                  " client_id = EXCLUDED.client_id",
  [PULL_ALL] = PULL_SQL (""),
  [PULL_SOME] = PULL_SQL (" AND collection = ANY ($5::text[])"),
  /* One process purges at a time; the others skip their turn. */
  [PURGE_TRY_LOCK] = "SELECT pg_try_advisory_lock (" G_STRINGIFY (PURGE_LOCK_KEY) ")",
  [PURGE_UNLOCK] = "SELECT pg_advisory_unlock (" G_STRINGIFY (PURGE_LOCK_KEY) ")",
  [PURGE_USERS] = "SELECT DISTINCT user_id FROM records WHERE data IS NULL AND server_ms < $1"
                  " ORDER BY user_id",
  /* After LOCK_USER, in the same transaction, as a push would. */
  [PURGE_USER] = "WITH gone AS (DELETE FROM records WHERE user_id = $1 AND data IS NULL"
                 "  AND server_ms < $2 RETURNING rev),"
                 " top AS (SELECT max (rev) AS rev, count (*) AS n FROM gone),"
                 " raised AS (UPDATE users SET purged_rev = greatest (purged_rev, top.rev)"
                 "  FROM top WHERE id = $1 AND top.n > 0)"
                 " SELECT n FROM top",
  [PURGE_APPLIED] = "DELETE FROM applied WHERE server_ms < $1",
  [NOTIFY] = "SELECT pg_notify ('" TETHER_SERVER_POSTGRES_CHANNEL "', $1)",
};

/* Whether every table and index exists: then no DDL runs at all, since
 * CREATE INDEX IF NOT EXISTS takes its table's ShareLock before it looks,
 * and would hold every push of every user behind a purge or a long push
 * (and them behind it) until COMMIT. to_regclass() takes no lock. */
static const char schema_present_sql[] =
  "SELECT to_regclass ('users') IS NOT NULL AND to_regclass ('records') IS NOT NULL"
  " AND to_regclass ('records_rev') IS NOT NULL AND to_regclass ('records_tombstones') IS NOT NULL"
  " AND to_regclass ('applied') IS NOT NULL";

/* Two processes may start on an empty database at once. A lock held
 * elsewhere makes the start fail rather than wait for ever. */
static const char schema_sql[] =
  "SET client_min_messages = warning;"   /* no "already exists, skipping" */
  "SET lock_timeout = '5s';"
  "BEGIN;"
  "SELECT pg_advisory_xact_lock (7415161802);"
  "CREATE TABLE IF NOT EXISTS users ("
  " id BIGSERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL, token_hash BYTEA UNIQUE NOT NULL,"
  " created BIGINT NOT NULL, last_rev BIGINT NOT NULL DEFAULT 0,"
  " purged_rev BIGINT NOT NULL DEFAULT 0);"
  "CREATE TABLE IF NOT EXISTS records ("
  " user_id BIGINT NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL,"
  " rev BIGINT NOT NULL, type INTEGER NOT NULL, data TEXT, server_ms BIGINT NOT NULL,"
  " hlc TEXT, change_id TEXT NOT NULL, client_id TEXT,"
  " PRIMARY KEY (user_id, collection, key));"
  "CREATE UNIQUE INDEX IF NOT EXISTS records_rev ON records (user_id, rev);"
  "CREATE INDEX IF NOT EXISTS records_tombstones ON records (server_ms) WHERE data IS NULL;"
  "CREATE TABLE IF NOT EXISTS applied ("
  " user_id BIGINT NOT NULL, change_id TEXT NOT NULL, rev BIGINT NOT NULL,"
  " server_ms BIGINT NOT NULL, hlc TEXT,"
  " PRIMARY KEY (user_id, change_id));"
  "COMMIT;";

/* A waiting push gives up after 1 s and is retried by the core, within
 * its time budget: the process serves nothing while it waits. Generic
 * plans: a custom plan for 1,000 keys hash-joins a whole feed. A statement
 * or a transaction left hanging is ended by the database, unless its
 * administrator chose other limits (for the role, the database or in the
 * conninfo's options). */
static const char session_sql[] =
  "SELECT set_config ('statement_timeout', '30s', false)"
  " WHERE current_setting ('statement_timeout') = '0';"
  "SELECT set_config ('idle_in_transaction_session_timeout', '30s', false)"
  " WHERE current_setting ('idle_in_transaction_session_timeout') = '0';"
  "SET lock_timeout = '1s'; SET plan_cache_mode = force_generic_plan";

/* After a failed connection attempt, calls fail at once for a while (1 s,
 * doubling to 10 s while attempts keep failing): each attempt at an
 * unreachable database blocks the process for up to connect_timeout. */
#define RECONNECT_PAUSE_MIN_MS 1000
#define RECONNECT_PAUSE_MAX_MS 10000

struct _TetherServerStorePostgres
{
  GObject                     parent_instance;
  char                       *conninfo;
  PGconn                     *conn;
  gboolean                    prepared;        /* on this connection */
  gboolean                    in_transaction;
  gint64                      reconnect_at_us; /* no attempt before, after one failed */
  guint                       pause_ms;        /* until the next attempt, after a failure */
  char                       *connect_error;   /* the last failed attempt's */
  char                       *instance_id;     /* tells our notifications from others' */
  TetherServerPostgresListen *listen;
  GMutex                      revs_lock;
  GHashTable                 *known_revs;      /* user id → highest rev announced */
};

static void store_iface_init (TetherServerStoreInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherServerStorePostgres, tether_server_store_postgres,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_SERVER_STORE, store_iface_init))

void
_tether_pg_params_clear (Params *p)
{
  for (int i = 0; i < p->n; i++)
    g_free (p->owned[i]);
}

void
_tether_pg_param_text (Params     *p,
                       const char *text)
{
  g_assert (p->n < (int) G_N_ELEMENTS (p->values));
  p->values[p->n++] = text;
}

void
_tether_pg_param_take (Params *p,
                       char   *text)
{
  p->owned[p->n] = text;
  _tether_pg_param_text (p, text);
}

void
_tether_pg_param_int (Params *p,
                      gint64  value)
{
  _tether_pg_param_take (p, g_strdup_printf ("%" G_GINT64_FORMAT, value));
}

void
_tether_pg_param_bytes (Params       *p,
                        const guint8 *bytes,
                        int           length)
{
  p->lengths[p->n] = length;
  p->formats[p->n] = 1;
  _tether_pg_param_text (p, (const char *) bytes);
}


static gboolean
sqlstate_is (const PGresult *res,
             const char     *state)
{
  const char *got = res != NULL ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;

  return got != NULL && strcmp (got, state) == 0;
}

/* Serialization failures, deadlocks and lock timeouts: retry the
 * transaction. A lost connection is FAILED; the next call reconnects. */
static gboolean
fail (TetherServerStorePostgres  *self,
      const PGresult             *res,
      const char                 *what,
      GError                    **error)
{
  int code = TETHER_SERVER_STORE_ERROR_FAILED;
  g_autofree char *message = NULL;

  if (sqlstate_is (res, "40001") || sqlstate_is (res, "40P01") || sqlstate_is (res, "55P03"))
    code = TETHER_SERVER_STORE_ERROR_BUSY;
  else if (sqlstate_is (res, "23505") &&
           g_strcmp0 (PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME), "users_name_key") == 0)
    code = TETHER_SERVER_STORE_ERROR_EXISTS;
  message = g_strdup (res != NULL && *PQresultErrorMessage (res) != '\0' ?
                      PQresultErrorMessage (res) : PQerrorMessage (self->conn));
  g_set_error (error, TETHER_SERVER_STORE_ERROR, code, "PostgreSQL store: %s failed: %s",
               what, _tether_server_postgres_one_line (message));
  return FALSE;
}

/* A statement that failed to prepare (a lock wait past lock_timeout, a
 * cancelled query) leaves the connection up with the earlier ones
 * prepared: start over from none, or "s0" would exist for ever. */
static gboolean
prepare_all (TetherServerStorePostgres  *self,
             GError                    **error)
{
  g_autoptr(PGresult) res = PQexec (self->conn, "DEALLOCATE ALL");

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    return fail (self, res, "forgetting prepared statements", error);
  g_clear_pointer (&res, PQclear);
  res = PQexec (self->conn, session_sql);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    return fail (self, res, "setting up the session", error);
  for (guint i = 0; i < N_STMTS; i++)
    {
      char name[16];

      g_snprintf (name, sizeof name, "s%u", i);
      g_clear_pointer (&res, PQclear);
      res = PQprepare (self->conn, name, sql[i], 0, NULL);
      if (PQresultStatus (res) != PGRES_COMMAND_OK)
        return fail (self, res, sql[i], error);
    }
  self->prepared = TRUE;
  return TRUE;
}

static gboolean
connect_failed (TetherServerStorePostgres  *self,
                GError                    **error)
{
  g_free (self->connect_error);
  self->connect_error = _tether_server_postgres_one_line (g_strdup (PQerrorMessage (self->conn)));
  self->pause_ms = CLAMP (self->pause_ms * 2, RECONNECT_PAUSE_MIN_MS, RECONNECT_PAUSE_MAX_MS);
  self->reconnect_at_us = g_get_monotonic_time () + self->pause_ms * G_GINT64_CONSTANT (1000);
  g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
               "Cannot connect to PostgreSQL: %s", self->connect_error);
  return FALSE;
}

/* (Re)connects when the connection was lost, outside transactions only: a
 * transaction that lost its connection has failed as a whole. */
static gboolean
ensure_connected (TetherServerStorePostgres  *self,
                  GError                    **error)
{
  if (self->in_transaction)
    return TRUE;
  if (self->conn == NULL || PQstatus (self->conn) != CONNECTION_OK)
    {
      self->prepared = FALSE;
      if (g_get_monotonic_time () < self->reconnect_at_us)
        {
          g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                       "Cannot connect to PostgreSQL: %s (trying again within %u s)",
                       self->connect_error, self->pause_ms / 1000);
          return FALSE;
        }
      if (self->conn == NULL)
        self->conn = _tether_server_postgres_connect (self->conninfo, "tether-server", FALSE);
      else
        PQreset (self->conn);
      if (PQstatus (self->conn) != CONNECTION_OK)
        return connect_failed (self, error);
      self->pause_ms = 0;
      self->reconnect_at_us = 0;
    }
  return self->prepared || prepare_all (self, error);
}

/* Reads outside a transaction that met a dead connection (say, after the
 * database restarted) run again once on a new one: nothing was changed.
 * So does a notification: one sent twice costs nothing. */
static gboolean
may_retry (TetherServerStorePostgres *self,
           Stmt                       which)
{
  return !self->in_transaction && PQstatus (self->conn) == CONNECTION_BAD &&
         (which == USER_LIST || which == USER_BY_TOKEN || which == PULL_ALL || which == PULL_SOME ||
          which == NOTIFY);
}

/* Runs a prepared statement; NULL with an error unless it returned
 * @expected. */
PGresult *
_tether_pg_exec (TetherServerStorePostgres  *self,
                 Stmt                        which,
                 const Params               *p,
                 ExecStatusType              expected,
                 const char                 *what,
                 GError                    **error)
{
  char name[16];

  g_snprintf (name, sizeof name, "s%u", (guint) which);
  for (guint attempt = 0; ; attempt++)
    {
      g_autoptr(PGresult) res = NULL;

      if (!ensure_connected (self, error))
        return NULL;
      res = PQexecPrepared (self->conn, name, p->n, p->values, p->lengths, p->formats, 0);
      if (PQresultStatus (res) == expected)
        return g_steal_pointer (&res);
      if (attempt > 0 || !may_retry (self, which))
        return fail (self, res, what, error), NULL;
    }
}

static gboolean
exec_simple (TetherServerStorePostgres  *self,
             const char                 *command,
             GError                    **error)
{
  g_autoptr(PGresult) res = PQexec (self->conn, command);

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    return fail (self, res, command, error);
  /* COMMIT of a failed transaction rolls back and still says OK. */
  if (g_str_equal (command, "COMMIT") && g_str_equal (PQcmdStatus (res), "ROLLBACK"))
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "PostgreSQL store: the transaction failed earlier and was rolled back");
      return FALSE;
    }
  return TRUE;
}

gint64
_tether_pg_value_int (const PGresult *res,
                      int             row,
                      int             column)
{
  return g_ascii_strtoll (PQgetvalue (res, row, column), NULL, 10);
}

char *
_tether_pg_value_dup (const PGresult *res,
                      int             row,
                      int             column)
{
  if (PQgetisnull (res, row, column))
    return NULL;
  return g_strndup (PQgetvalue (res, row, column), PQgetlength (res, row, column));
}

#define BEGIN_SQL "BEGIN ISOLATION LEVEL READ COMMITTED"

gboolean
_tether_pg_begin (TetherServerStore  *store,
                  GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autoptr(GError) first = NULL;

  g_return_val_if_fail (!self->in_transaction, FALSE);
  if (!ensure_connected (self, error))
    return FALSE;
  /* A dead connection is only found out by using it: begin again once. */
  if (!exec_simple (self, BEGIN_SQL, &first))
    {
      if (PQstatus (self->conn) != CONNECTION_BAD)
        {
          g_propagate_error (error, g_steal_pointer (&first));
          return FALSE;
        }
      if (!ensure_connected (self, error) || !exec_simple (self, BEGIN_SQL, error))
        return FALSE;
    }
  self->in_transaction = TRUE;
  return TRUE;
}

gboolean
_tether_pg_commit (TetherServerStore  *store,
                   GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;

  g_return_val_if_fail (self->in_transaction, FALSE);
  if (!exec_simple (self, "COMMIT", error))
    return FALSE;   /* the caller rolls back */
  self->in_transaction = FALSE;
  return TRUE;
}

void
_tether_pg_rollback (TetherServerStore *store)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  PGTransactionStatusType status = PQtransactionStatus (self->conn);

  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
    exec_simple (self, "ROLLBACK", NULL);
  self->in_transaction = FALSE;
}

static gint64
store_lock_user (TetherServerStore  *store,
                 gint64              user_id,
                 GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_int (&p, user_id);
  res = _tether_pg_exec (self, LOCK_USER, &p, PGRES_TUPLES_OK, "locking a user", error);
  if (res == NULL)
    return -1;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND,
                   "No user with id %" G_GINT64_FORMAT, user_id);
      return -1;
    }
  return _tether_pg_value_int (res, 0, 0);
}

static gboolean
store_set_last_rev (TetherServerStore  *store,
                    gint64              user_id,
                    gint64              rev,
                    GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_int (&p, rev);
  res = _tether_pg_exec (self, SET_LAST_REV, &p, PGRES_COMMAND_OK, "setting the last rev", error);
  return res != NULL;
}

static gboolean
purge_lock (TetherServerStorePostgres  *self,
            Stmt                        which,
            gboolean                   *got,
            GError                    **error)
{
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = _tether_pg_exec (self, which, &p, PGRES_TUPLES_OK,
                                             "taking the purge's turn", error);

  if (res != NULL && got != NULL)
    *got = g_str_equal (PQgetvalue (res, 0, 0), "t");
  return res != NULL;
}

/* The number of tombstones purged, 0 when a push holds the user (it is
 * purged next time), -1 on another error. */
static gint64
purge_user (TetherServerStorePostgres  *self,
            gint64                      user_id,
            gint64                      before_ms,
            GError                    **error)
{
  TetherServerStore *store = TETHER_SERVER_STORE (self);
  g_autoptr(GError) local_error = NULL;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  if (!_tether_pg_begin (store, error))
    return -1;
  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_int (&p, before_ms);
  if (store_lock_user (store, user_id, &local_error) >= 0)
    res = _tether_pg_exec (self, PURGE_USER, &p, PGRES_TUPLES_OK, "purging tombstones",
                           &local_error);
  if (res == NULL || !_tether_pg_commit (store, &local_error))
    {
      _tether_pg_rollback (store);
      if (g_error_matches (local_error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_BUSY) ||
          g_error_matches (local_error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND))
        return 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  return _tether_pg_value_int (res, 0, 0);
}

static gint64
purge_users (TetherServerStorePostgres  *self,
             gint64                      before_ms,
             GError                    **error)
{
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) users = NULL;
  gint64 total = 0;

  _tether_pg_param_int (&p, before_ms);
  users = _tether_pg_exec (self, PURGE_USERS, &p, PGRES_TUPLES_OK, "purging tombstones", error);
  if (users == NULL)
    return -1;
  for (int row = 0; row < PQntuples (users); row++)
    {
      gint64 n = purge_user (self, _tether_pg_value_int (users, row, 0), before_ms, error);

      if (n < 0)
        return -1;
      total += n;
    }
  return total;
}

/* One user per transaction, so a purge holds one user's pushes at a
 * time, and briefly; and one process at a time, so that purges do not
 * queue behind each other on the same users. */
static gint64
store_purge (TetherServerStore  *store,
             gint64              before_ms,
             GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  gboolean mine = FALSE;
  gint64 purged;

  if (!purge_lock (self, PURGE_TRY_LOCK, &mine, error))
    return -1;
  if (!mine)
    return 0;
  purged = purge_users (self, before_ms, error);
  _tether_pg_param_int (&p, before_ms);
  if (purged >= 0)
    res = _tether_pg_exec (self, PURGE_APPLIED, &p, PGRES_COMMAND_OK, "purging applied ids", error);
  /* A connection lost meanwhile took the lock with it. */
  purge_lock (self, PURGE_UNLOCK, NULL, NULL);
  return res != NULL ? purged : -1;
}

/* TRUE when @rev is news for @user_id; remembers it. */
static gboolean
announce (TetherServerStorePostgres *self,
          gint64                     user_id,
          gint64                     rev)
{
  /* unused but for its cleanup, which clang would warn of */
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->revs_lock);
  gint64 *known = g_hash_table_lookup (self->known_revs, &user_id);

  if (known != NULL && *known >= rev)
    return FALSE;
  if (known == NULL)
    {
      known = g_new (gint64, 2);
      known[0] = user_id;   /* the key */
      g_hash_table_add (self->known_revs, known);
    }
  known[1] = rev;
  return TRUE;
}

/* Whether a notification of @rev or later for @user_id went out, from
 * this process or another. */
static gboolean
announced (TetherServerStorePostgres *self,
           gint64                     user_id,
           gint64                     rev)
{
  G_GNUC_UNUSED g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->revs_lock);
  gint64 *known = g_hash_table_lookup (self->known_revs, &user_id);

  return known != NULL && known[1] >= rev;
}

static void
store_notify (TetherServerStore *store,
              gint64             user_id,
              gint64             rev)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autoptr(GError) error = NULL;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  /* A replayed push announces again what may have been lost with its
   * connection; once sent, it need not be sent again. */
  if (announced (self, user_id, rev))
    return;
  _tether_pg_param_take (&p, _tether_server_postgres_payload_new (self->instance_id, user_id, rev));
  res = _tether_pg_exec (self, NOTIFY, &p, PGRES_TUPLES_OK, "notifying other processes", &error);
  /* Not fatal: the write is committed; other processes' WebSocket
   * clients see it at their next pull, or when its client sends it again. */
  if (res == NULL)
    g_message ("%s", error->message);
  else
    announce (self, user_id, rev);
}

static void
on_feed_changed (gint64   user_id,
                 gint64   rev,
                 gpointer user_data)
{
  TetherServerStorePostgres *self = user_data;

  if (rev > 0 && announce (self, user_id, rev))
    g_signal_emit_by_name (self, "feed-changed", user_id, rev);
}

static void
store_iface_init (TetherServerStoreInterface *iface)
{
  iface->begin = _tether_pg_begin;
  iface->commit = _tether_pg_commit;
  iface->rollback = _tether_pg_rollback;
  _tether_pg_users_iface_init (iface);
  iface->lock_user = store_lock_user;
  iface->set_last_rev = store_set_last_rev;
  _tether_pg_records_iface_init (iface);
  iface->purge = store_purge;
  iface->notify = store_notify;
}

static void
tether_server_store_postgres_finalize (GObject *object)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) object;

  g_clear_pointer (&self->listen, _tether_server_postgres_listen_free);
  g_clear_pointer (&self->conn, PQfinish);
  g_clear_pointer (&self->known_revs, g_hash_table_unref);
  g_mutex_clear (&self->revs_lock);
  g_free (self->conninfo);
  g_free (self->instance_id);
  g_free (self->connect_error);
  G_OBJECT_CLASS (tether_server_store_postgres_parent_class)->finalize (object);
}

static void
tether_server_store_postgres_class_init (TetherServerStorePostgresClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_server_store_postgres_finalize;
}

static void
tether_server_store_postgres_init (TetherServerStorePostgres *self)
{
  g_mutex_init (&self->revs_lock);
  /* Entries are gint64[2] {user id, rev}, keyed by their first member. */
  self->known_revs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->instance_id = g_uuid_string_random ();
}

static gboolean
create_tables (TetherServerStorePostgres  *self,
               GError                    **error)
{
  g_autoptr(PGresult) res = PQexec (self->conn, schema_present_sql);

  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    return fail (self, res, "looking for the tables", error);
  if (g_str_equal (PQgetvalue (res, 0, 0), "t"))
    return TRUE;
  g_clear_pointer (&res, PQclear);
  res = PQexec (self->conn, schema_sql);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    {
      fail (self, res, "creating the tables", error);
      g_clear_pointer (&res, PQclear);
      res = PQexec (self->conn, "ROLLBACK");
      return FALSE;
    }
  return TRUE;
}

TetherServerStore *
tether_server_store_postgres_new (const char  *conninfo,
                                  GError     **error)
{
  g_autoptr(TetherServerStorePostgres) self = NULL;

  g_return_val_if_fail (conninfo != NULL, NULL);

  self = g_object_new (TETHER_TYPE_SERVER_STORE_POSTGRES, NULL);
  self->conninfo = g_strdup (conninfo);
  /* Tables first: statements are prepared against them. */
  self->conn = _tether_server_postgres_connect (conninfo, "tether-server", FALSE);
  if (PQstatus (self->conn) != CONNECTION_OK)
    return connect_failed (self, error), NULL;
  if (!create_tables (self, error) || !ensure_connected (self, error))
    return NULL;
  self->listen = _tether_server_postgres_listen_new (conninfo, self->instance_id,
                                                     on_feed_changed, self, error);
  if (self->listen == NULL)
    return NULL;
  return TETHER_SERVER_STORE (g_steal_pointer (&self));
}
