/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-postgres"
#include "config.h"

#include <string.h>

#include "tether-server-postgres-private.h"

/* Users of the PostgreSQL store: each call is its own transaction. */

static gboolean
not_found (const char  *name,
           GError     **error)
{
  g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND,
               "No user named “%s”", name);
  return FALSE;
}

static gboolean
store_user_add (TetherServerStore  *store,
                const char         *name,
                const guint8        token_hash[32],
                GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_text (&p, name);
  _tether_pg_param_bytes (&p, token_hash, 32);
  _tether_pg_param_int (&p, g_get_real_time () / 1000);
  res = _tether_pg_exec (self, USER_ADD, &p, PGRES_COMMAND_OK, "adding a user", &local_error);
  if (res != NULL)
    return TRUE;
  if (g_error_matches (local_error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_EXISTS))
    g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_EXISTS,
                 "A user named “%s” already exists", name);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

static gboolean
store_user_set_token (TetherServerStore  *store,
                      const char         *name,
                      const guint8        token_hash[32],
                      GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_text (&p, name);
  _tether_pg_param_bytes (&p, token_hash, 32);
  res = _tether_pg_exec (self, USER_SET_TOKEN, &p, PGRES_COMMAND_OK, "changing a token", error);
  if (res == NULL)
    return FALSE;
  if (g_str_equal (PQcmdTuples (res), "0"))
    return not_found (name, error);
  return TRUE;
}

/* The user row goes first: its lock makes a concurrent push wait, then
 * find no user; the later deletes then see every row that push wrote. */
static gboolean
delete_user (TetherServerStorePostgres  *self,
             const char                 *name,
             GError                    **error)
{
  static const Stmt deletes[] = { USER_DEL_RECORDS, USER_DEL_APPLIED };
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_text (&p, name);
  res = _tether_pg_exec (self, USER_DEL, &p, PGRES_TUPLES_OK, "removing a user", error);
  if (res == NULL)
    return FALSE;
  if (PQntuples (res) == 0)
    return not_found (name, error);
  for (guint i = 0; i < G_N_ELEMENTS (deletes); i++)
    {
      g_auto(Params) by_id = { 0 };
      g_autoptr(PGresult) done = NULL;

      _tether_pg_param_text (&by_id, PQgetvalue (res, 0, 0));
      done = _tether_pg_exec (self, deletes[i], &by_id, PGRES_COMMAND_OK, "removing a user's data",
                              error);
      if (done == NULL)
        return FALSE;
    }
  return TRUE;
}

static gboolean
store_user_remove (TetherServerStore  *store,
                   const char         *name,
                   GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;

  if (!_tether_pg_begin (store, error))
    return FALSE;
  if (!delete_user (self, name, error) || !_tether_pg_commit (store, error))
    {
      _tether_pg_rollback (store);
      return FALSE;
    }
  return TRUE;
}

static void
read_user (const PGresult   *res,
           int               row,
           TetherServerUser *user)
{
  user->id = _tether_pg_value_int (res, row, 0);
  user->name = _tether_pg_value_dup (res, row, 1);
  user->created_ms = _tether_pg_value_int (res, row, 2);
}

static void
user_free (gpointer user)
{
  tether_server_user_clear (user);
  g_free (user);
}

/* The array owns its users: g_ptr_array_unref() frees them. */
static GPtrArray *
store_user_list (TetherServerStore  *store,
                 GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  GPtrArray *users;

  res = _tether_pg_exec (self, USER_LIST, &p, PGRES_TUPLES_OK, "listing users", error);
  if (res == NULL)
    return NULL;
  users = g_ptr_array_new_full (PQntuples (res), user_free);
  for (int row = 0; row < PQntuples (res); row++)
    {
      TetherServerUser *user = g_new0 (TetherServerUser, 1);

      read_user (res, row, user);
      g_ptr_array_add (users, user);
    }
  return users;
}

/* bytea comes back in hex: \x0123… */
static gboolean
read_hash (const char *text,
           guint8      hash[32])
{
  if (strlen (text) != 2 + 64 || text[0] != '\\' || text[1] != 'x')
    return FALSE;
  for (guint i = 0; i < 32; i++)
    {
      int high = g_ascii_xdigit_value (text[2 + 2 * i]);
      int low = g_ascii_xdigit_value (text[3 + 2 * i]);

      if (high < 0 || low < 0)
        return FALSE;
      hash[i] = high << 4 | low;
    }
  return TRUE;
}

static gboolean
store_user_by_token (TetherServerStore  *store,
                     const guint8        token_hash[32],
                     TetherServerUser   *out,
                     GError            **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  _tether_pg_param_bytes (&p, token_hash, 32);
  res = _tether_pg_exec (self, USER_BY_TOKEN, &p, PGRES_TUPLES_OK, "looking up a token", error);
  if (res == NULL || PQntuples (res) == 0 || !read_hash (PQgetvalue (res, 0, 3), out->token_hash))
    return FALSE;
  read_user (res, 0, out);
  return TRUE;
}

void
_tether_pg_users_iface_init (TetherServerStoreInterface *iface)
{
  iface->user_add = store_user_add;
  iface->user_set_token = store_user_set_token;
  iface->user_remove = store_user_remove;
  iface->user_list = store_user_list;
  iface->user_by_token = store_user_by_token;
}
