/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store-postgres"
#include "config.h"

#include <string.h>

#include "tether-server-postgres-private.h"

/* Records, changes already applied and the pull feed of the PostgreSQL
 * store, in the caller's transaction. Many rows travel as one array
 * parameter each, so a batch is one statement, not one per change. */

/* Text array literals ({"a","b\"c",NULL}): every element quoted, so no
 * content (commas, braces, spaces, the word NULL) is ever misread. */
static GString *
array_new (void)
{
  return g_string_new ("{");
}

static void
array_add_text (GString    *array,
                const char *text)
{
  if (array->len > 1)
    g_string_append_c (array, ',');
  if (text == NULL)
    {
      g_string_append (array, "NULL");
      return;
    }
  g_string_append_c (array, '"');
  while (*text != '\0')
    {
      size_t plain = strcspn (text, "\"\\");

      g_string_append_len (array, text, plain);
      text += plain;
      if (*text == '\0')
        break;
      g_string_append_c (array, '\\');
      g_string_append_c (array, *text++);
    }
  g_string_append_c (array, '"');
}

static void
array_add_int (GString *array,
               gint64   value)
{
  if (array->len > 1)
    g_string_append_c (array, ',');
  g_string_append_printf (array, "%" G_GINT64_FORMAT, value);
}

static char *
array_end (GString *array)
{
  g_string_append_c (array, '}');
  return g_string_free (array, FALSE);
}

static GHashTable *
store_find_applied (TetherServerStore   *store,
                    gint64               user_id,
                    const char * const  *change_ids,
                    guint                n,
                    GError             **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autoptr(GHashTable) found = g_hash_table_new_full (_tether_server_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) tether_server_applied_free);
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  GString *ids;

  if (n == 0)
    return g_steal_pointer (&found);
  ids = array_new ();
  for (guint i = 0; i < n; i++)
    array_add_text (ids, change_ids[i]);
  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_take (&p, array_end (ids));
  res = _tether_pg_exec (self, FIND_APPLIED, &p, PGRES_TUPLES_OK, "finding applied changes", error);
  if (res == NULL)
    return NULL;
  for (int row = 0; row < PQntuples (res); row++)
    {
      TetherServerApplied *applied = g_new0 (TetherServerApplied, 1);

      applied->rev = _tether_pg_value_int (res, row, 1);
      applied->server_ms = _tether_pg_value_int (res, row, 2);
      applied->hlc = _tether_pg_value_dup (res, row, 3);
      g_hash_table_replace (found, _tether_pg_value_dup (res, row, 0), applied);
    }
  return g_steal_pointer (&found);
}

/* ON CONFLICT DO UPDATE cannot touch one row twice in a statement: of
 * entries with the same key, only the last is kept, as if each were
 * written after the one before. */
static gboolean *
keep_last (const char * const *keys,
           guint               n)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (_tether_server_str_hash, g_str_equal);
  gboolean *keep = g_new (gboolean, n);

  for (guint i = n; i-- > 0;)
    keep[i] = g_hash_table_add (seen, (gpointer) keys[i]);
  return keep;
}

static gboolean
store_remember_applied (TetherServerStore          *store,
                        gint64                      user_id,
                        const char * const         *change_ids,
                        TetherServerApplied * const *applied,
                        guint                       n,
                        GError                    **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autofree gboolean *keep = NULL;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  GString *ids, *revs, *times, *hlcs;

  if (n == 0)
    return TRUE;
  keep = keep_last (change_ids, n);
  ids = array_new (), revs = array_new (), times = array_new (), hlcs = array_new ();
  for (guint i = 0; i < n; i++)
    {
      if (!keep[i])
        continue;
      array_add_text (ids, change_ids[i]);
      array_add_int (revs, applied[i]->rev);
      array_add_int (times, applied[i]->server_ms);
      array_add_text (hlcs, applied[i]->hlc);
    }
  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_take (&p, array_end (ids));
  _tether_pg_param_take (&p, array_end (revs));
  _tether_pg_param_take (&p, array_end (times));
  _tether_pg_param_take (&p, array_end (hlcs));
  res = _tether_pg_exec (self, REMEMBER_APPLIED, &p, PGRES_COMMAND_OK,
                         "remembering applied changes", error);
  return res != NULL;
}

/* A row of RECORD_COLUMNS starting at @column. */
static TetherServerRecord *
read_record (const PGresult *res,
             int             row,
             int             column)
{
  TetherServerRecord *record = g_new (TetherServerRecord, 1);

  record->collection = _tether_pg_value_dup (res, row, column);
  record->key = _tether_pg_value_dup (res, row, column + 1);
  record->rev = _tether_pg_value_int (res, row, column + 2);
  record->type = (int) _tether_pg_value_int (res, row, column + 3);
  record->data = _tether_pg_value_dup (res, row, column + 4);
  record->server_ms = _tether_pg_value_int (res, row, column + 5);
  record->hlc = _tether_pg_value_dup (res, row, column + 6);
  record->writer_ms = tether_server_hlc_writer_ms (record->hlc, record->server_ms);
  record->change_id = _tether_pg_value_dup (res, row, column + 7);
  record->client_id = _tether_pg_value_dup (res, row, column + 8);
  return record;
}

static GHashTable *
store_get_records (TetherServerStore   *store,
                   gint64               user_id,
                   const char * const  *collections,
                   const char * const  *keys,
                   guint                n,
                   gboolean             with_data,
                   GError             **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autoptr(GHashTable) found = g_hash_table_new_full (_tether_server_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) tether_server_record_free);
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  GString *cs, *ks;

  if (n == 0)
    return g_steal_pointer (&found);
  cs = array_new (), ks = array_new ();
  for (guint i = 0; i < n; i++)
    {
      array_add_text (cs, collections[i]);
      array_add_text (ks, keys[i]);
    }
  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_take (&p, array_end (cs));
  _tether_pg_param_take (&p, array_end (ks));
  res = _tether_pg_exec (self, with_data ? GET_RECORDS : GET_STATES, &p, PGRES_TUPLES_OK,
                         "reading records", error);
  if (res == NULL)
    return NULL;
  for (int row = 0; row < PQntuples (res); row++)
    {
      TetherServerRecord *record = read_record (res, row, 0);

      g_hash_table_replace (found, tether_server_record_ref (record->collection, record->key),
                            record);
    }
  return g_steal_pointer (&found);
}

/* The columns of PUT_RECORDS after the user id, as array literals. */
static void
records_to_params (TetherServerRecord * const *records,
                   const gboolean             *keep,
                   guint                       n,
                   Params                     *p)
{
  GString *arrays[9];

  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    arrays[a] = array_new ();
  for (guint i = 0; i < n; i++)
    {
      const TetherServerRecord *r = records[i];

      if (!keep[i])
        continue;
      array_add_text (arrays[0], r->collection);
      array_add_text (arrays[1], r->key);
      array_add_int (arrays[2], r->rev);
      array_add_int (arrays[3], r->type);
      array_add_text (arrays[4], r->data);
      array_add_int (arrays[5], r->server_ms);
      array_add_text (arrays[6], r->hlc);
      array_add_text (arrays[7], r->change_id);
      array_add_text (arrays[8], r->client_id);
    }
  for (guint a = 0; a < G_N_ELEMENTS (arrays); a++)
    _tether_pg_param_take (p, array_end (arrays[a]));
}

static gboolean
store_put_records (TetherServerStore          *store,
                   gint64                      user_id,
                   TetherServerRecord * const *records,
                   guint                       n,
                   GError                    **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_autoptr(GPtrArray) refs = NULL;
  g_autofree gboolean *keep = NULL;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;

  if (n == 0)
    return TRUE;
  refs = g_ptr_array_new_full (n, g_free);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (refs, tether_server_record_ref (records[i]->collection, records[i]->key));
  keep = keep_last ((const char * const *) refs->pdata, n);
  _tether_pg_param_int (&p, user_id);
  records_to_params (records, keep, n, &p);
  res = _tether_pg_exec (self, PUT_RECORDS, &p, PGRES_COMMAND_OK, "writing records", error);
  return res != NULL;
}

/* One statement reads the user's revs and the rows: one snapshot, even
 * outside a transaction. */
static GPtrArray *
store_pull (TetherServerStore   *store,
            gint64               user_id,
            gint64               after_rev,
            const char * const  *collections,
            const char          *skip_client,
            guint                limit,
            gint64              *last_rev,
            gint64              *purged_rev,
            GError             **error)
{
  TetherServerStorePostgres *self = (TetherServerStorePostgres *) store;
  g_auto(Params) p = { 0 };
  g_autoptr(PGresult) res = NULL;
  GPtrArray *rows;

  _tether_pg_param_int (&p, user_id);
  _tether_pg_param_int (&p, after_rev);
  _tether_pg_param_int (&p, limit);
  _tether_pg_param_text (&p, skip_client);
  if (collections != NULL)
    {
      GString *names = array_new ();

      for (guint i = 0; collections[i] != NULL; i++)
        array_add_text (names, collections[i]);
      _tether_pg_param_take (&p, array_end (names));
    }
  res = _tether_pg_exec (self, collections != NULL ? PULL_SOME : PULL_ALL, &p, PGRES_TUPLES_OK,
                         "reading the feed", error);
  if (res == NULL)
    return NULL;
  if (PQntuples (res) == 0)
    {
      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND,
                   "No user with id %" G_GINT64_FORMAT, user_id);
      return NULL;
    }
  *last_rev = _tether_pg_value_int (res, 0, 0);
  *purged_rev = _tether_pg_value_int (res, 0, 1);
  rows = g_ptr_array_new_full (PQntuples (res), (GDestroyNotify) tether_server_record_free);
  /* No matching record: one row of the user with NULL record columns. */
  for (int row = 0; row < PQntuples (res) && !PQgetisnull (res, row, 2); row++)
    g_ptr_array_add (rows, read_record (res, row, 2));
  return rows;
}

void
_tether_pg_records_iface_init (TetherServerStoreInterface *iface)
{
  iface->find_applied = store_find_applied;
  iface->remember_applied = store_remember_applied;
  iface->get_records = store_get_records;
  iface->put_records = store_put_records;
  iface->pull = store_pull;
}
