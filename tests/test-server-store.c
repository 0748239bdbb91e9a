/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-server-store"
#include "config.h"

#include <string.h>
#include <sqlite3.h>
#include <glib/gstdio.h>
#include <libpq-fe.h>

#include "tether-server-postgres-private.h"
#include "tether-server-store.h"
#include "tether-test-pg.h"
#include "tether-test-util.h"

/* One suite against the TetherServerStore interface, run once per storage:
 * SQLite always, PostgreSQL when a throwaway cluster starts (and then it
 * must start when TETHER_TEST_PG_REQUIRED=1, as in CI). */

static TetherTestPg *pg;

typedef struct {
  char              *dir;
  TetherServerStore *store;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  if (g_str_equal (data, "sqlite"))
    {
      g_autofree char *path = NULL;

      f->dir = tether_test_dir_new ();
      path = g_build_filename (f->dir, "server.db", NULL);
      f->store = tether_server_store_sqlite_new (path, &error);
    }
  else
    {
      g_autofree char *conninfo = tether_test_pg_new_database (pg, &error);

      g_assert_no_error (error);
      f->store = tether_server_store_postgres_new (conninfo, &error);
    }
  g_assert_no_error (error);
  g_assert_nonnull (f->store);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->store);
  tether_test_dir_free (f->dir);
}

static void
hash_of (const char *token,
         guint8      hash[32])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size = 32;

  g_checksum_update (checksum, (const guchar *) token, -1);
  g_checksum_get_digest (checksum, hash, &size);
}

/* Adds a user and returns its id. */
static gint64
add_user (TetherServerStore *store,
          const char        *name)
{
  g_auto(TetherServerUser) user = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *token = g_strconcat ("token-", name, NULL);
  guint8 hash[32];

  hash_of (token, hash);
  g_assert_true (tether_server_store_user_add (store, name, hash, &error));
  g_assert_no_error (error);
  g_assert_true (tether_server_store_user_by_token (store, hash, &user, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (user.name, ==, name);
  g_assert_cmpmem (user.token_hash, 32, hash, 32);
  return user.id;
}

static TetherServerRecord *
record_new (const char *collection,
            const char *key,
            gint64      rev,
            const char *data,
            gint64      server_ms)
{
  TetherServerRecord *record = g_new0 (TetherServerRecord, 1);

  record->collection = g_strdup (collection);
  record->key = g_strdup (key);
  record->data = g_strdup (data);
  record->type = data != NULL ? TETHER_CHANGE_CREATE : TETHER_CHANGE_DELETE;
  record->rev = rev;
  record->server_ms = server_ms;
  record->hlc = g_strdup_printf ("%013" G_GINT64_FORMAT "-0000-client", server_ms);
  record->change_id = g_strdup_printf ("change-%s-%s-%" G_GINT64_FORMAT, collection, key, rev);
  record->client_id = g_strdup ("client");
  return record;
}

/* Writes @records (revs ascending) and moves the feed to the last one, in
 * one transaction, as a push does. */
static void
put (TetherServerStore *store,
     gint64             user_id,
     GPtrArray         *records)
{
  g_autoptr(GError) error = NULL;
  gint64 last;

  g_assert_true (tether_server_store_begin (store, &error));
  last = tether_server_store_lock_user (store, user_id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (last, >=, 0);
  g_assert_true (tether_server_store_put_records (store, user_id,
                                                  (TetherServerRecord * const *) records->pdata,
                                                  records->len, &error));
  if (records->len > 0)
    last = ((TetherServerRecord *) g_ptr_array_index (records, records->len - 1))->rev;
  g_assert_true (tether_server_store_set_last_rev (store, user_id, last, &error));
  g_assert_true (tether_server_store_commit (store, &error));
  g_assert_no_error (error);
}

static GPtrArray *
records_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) tether_server_record_free);
}

static GHashTable *
get_full (TetherServerStore  *store,
          gint64              user_id,
          const char * const *collections,
          const char * const *keys,
          guint               n,
          gboolean            with_data)
{
  g_autoptr(GError) error = NULL;
  GHashTable *found;

  g_assert_true (tether_server_store_begin (store, &error));
  found = tether_server_store_get_records (store, user_id, collections, keys, n, with_data, &error);
  g_assert_no_error (error);
  g_assert_nonnull (found);
  g_assert_true (tether_server_store_commit (store, &error));
  return found;
}

static GHashTable *
get (TetherServerStore  *store,
     gint64              user_id,
     const char * const *collections,
     const char * const *keys,
     guint               n)
{
  return get_full (store, user_id, collections, keys, n, TRUE);
}

static GPtrArray *
pull (TetherServerStore  *store,
      gint64              user_id,
      gint64              after,
      const char * const *collections,
      guint               limit,
      gint64             *last_rev,
      gint64             *purged_rev)
{
  g_autoptr(GError) error = NULL;
  gint64 last = -1, purged = -1;
  GPtrArray *rows = tether_server_store_pull (store, user_id, after, collections, NULL, limit,
                                              &last, &purged, &error);

  g_assert_no_error (error);
  g_assert_nonnull (rows);
  if (last_rev != NULL)
    *last_rev = last;
  if (purged_rev != NULL)
    *purged_rev = purged;
  return rows;
}

static gint64
row_rev (GPtrArray *rows,
         guint      i)
{
  return ((TetherServerRecord *) g_ptr_array_index (rows, i))->rev;
}

static void
test_users_add_list (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GError) error = NULL;
  const char *names[] = { "carol", "alice", "bob.b@example-1_x" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    add_user (f->store, names[i]);
  users = tether_server_store_user_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 3);
  g_assert_cmpstr (((TetherServerUser *) users->pdata[0])->name, ==, "alice");
  g_assert_cmpstr (((TetherServerUser *) users->pdata[1])->name, ==, "bob.b@example-1_x");
  g_assert_cmpstr (((TetherServerUser *) users->pdata[2])->name, ==, "carol");
  for (guint i = 0; i < users->len; i++)
    g_assert_cmpint (((TetherServerUser *) users->pdata[i])->created_ms, >, 0);
}

static void
test_users_duplicate (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  guint8 hash[32];

  add_user (f->store, "alice");
  hash_of ("another token", hash);
  g_assert_false (tether_server_store_user_add (f->store, "alice", hash, &error));
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_EXISTS);
}

static void
test_users_rotate (Fixture       *f,
                   gconstpointer  data)
{
  g_auto(TetherServerUser) user = { 0 };
  g_autoptr(GError) error = NULL;
  gint64 id = add_user (f->store, "alice");
  guint8 old_hash[32], new_hash[32];

  hash_of ("token-alice", old_hash);
  hash_of ("rotated", new_hash);
  g_assert_true (tether_server_store_user_set_token (f->store, "alice", new_hash, &error));
  g_assert_no_error (error);
  g_assert_false (tether_server_store_user_by_token (f->store, old_hash, &user, &error));
  g_assert_no_error (error);
  g_assert_true (tether_server_store_user_by_token (f->store, new_hash, &user, &error));
  g_assert_cmpint (user.id, ==, id);
  g_assert_cmpmem (user.token_hash, 32, new_hash, 32);
  g_assert_false (tether_server_store_user_set_token (f->store, "nobody", new_hash, &error));
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND);
}

static void
test_users_unknown_token (Fixture       *f,
                          gconstpointer  data)
{
  g_auto(TetherServerUser) user = { 0 };
  g_autoptr(GError) error = NULL;
  guint8 hash[32];

  add_user (f->store, "alice");
  hash_of ("not a token anyone has", hash);
  g_assert_false (tether_server_store_user_by_token (f->store, hash, &user, &error));
  g_assert_no_error (error);
}

static void
test_users_remove (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied entry = { 1, 1000, NULL };
  TetherServerApplied *entries[] = { &entry };
  const char *ids[] = { "c1" }, *collections[] = { "notes" }, *keys[] = { "\"a\"" };
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");

  g_ptr_array_add (records, record_new ("notes", "\"a\"", 1, "{\"t\":1}", 1000));
  put (f->store, alice, records);
  put (f->store, bob, records);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, ids, entries, 1, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));

  g_assert_true (tether_server_store_user_remove (f->store, "alice", &error));
  g_assert_no_error (error);
  users = tether_server_store_user_list (f->store, &error);
  g_assert_cmpuint (users->len, ==, 1);
  found = get (f->store, alice, collections, keys, 1);
  g_assert_cmpuint (g_hash_table_size (found), ==, 0);
  g_assert_true (tether_server_store_begin (f->store, &error));
  applied = tether_server_store_find_applied (f->store, alice, ids, 1, &error);
  g_assert_cmpuint (g_hash_table_size (applied), ==, 0);
  tether_server_store_rollback (f->store);
  g_clear_pointer (&found, g_hash_table_unref);
  found = get (f->store, bob, collections, keys, 1);
  g_assert_cmpuint (g_hash_table_size (found), ==, 1);   /* bob keeps his */
  g_assert_false (tether_server_store_user_remove (f->store, "alice", &error));
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND);
}

/* A running server keeps state per user id (the rate limiter's bucket,
 * what it announced to WebSockets): a new user must never get the id of
 * a removed one, the newest included. */
static void
test_users_ids_not_reused (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");
  gint64 carol;

  g_assert_cmpint (bob, >, alice);
  g_assert_true (tether_server_store_user_remove (f->store, "bob", &error));
  g_assert_no_error (error);
  carol = add_user (f->store, "carol");
  g_assert_cmpint (carol, >, bob);
  g_assert_true (tether_server_store_user_remove (f->store, "carol", &error));
  g_assert_true (tether_server_store_user_remove (f->store, "alice", &error));
  g_assert_no_error (error);
  /* no user left at all */
  g_assert_cmpint (add_user (f->store, "bob"), >, carol);
}

static void
test_transaction_rollback (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied entry = { 1, 1000, NULL };
  TetherServerApplied *entries[] = { &entry };
  const char *ids[] = { "c1" }, *collections[] = { "notes" }, *keys[] = { "\"a\"" };
  gint64 alice = add_user (f->store, "alice");
  gint64 last;

  g_ptr_array_add (records, record_new ("notes", "\"a\"", 1, "{}", 1000));
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  g_assert_true (tether_server_store_put_records (f->store, alice,
                                                  (TetherServerRecord * const *) records->pdata, 1, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, ids, entries, 1, &error));
  g_assert_true (tether_server_store_set_last_rev (f->store, alice, 1, &error));
  g_assert_no_error (error);
  tether_server_store_rollback (f->store);

  found = get (f->store, alice, collections, keys, 1);
  g_assert_cmpuint (g_hash_table_size (found), ==, 0);
  rows = pull (f->store, alice, 0, NULL, 10, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_cmpint (last, ==, 0);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  applied = tether_server_store_find_applied (f->store, alice, ids, 1, &error);
  g_assert_cmpuint (g_hash_table_size (applied), ==, 0);
  tether_server_store_rollback (f->store);
}

static void
test_transaction_last_rev (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");

  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  g_assert_true (tether_server_store_set_last_rev (f->store, alice, 41, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 41);
  g_assert_cmpint (tether_server_store_lock_user (f->store, bob, &error), ==, 0);
  g_assert_no_error (error);
  tether_server_store_rollback (f->store);
}

static void
test_applied_batches (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied a = { 1, 1000, (char *) "1700000000000-0000-x" }, b = { 2, 1001, NULL };
  TetherServerApplied c = { 3, 1002, (char *) "1700000000002-0001-y" };
  TetherServerApplied *entries[] = { &a, &b, &c };
  const char *ids[] = { "id-a", "id-b", "id-c" };
  const char *query[] = { "id-x", "id-c", "id-a", "id-b", "id-y" };
  TetherServerApplied *hit;
  gint64 alice = add_user (f->store, "alice");

  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, ids, entries, 3, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));
  g_assert_true (tether_server_store_begin (f->store, &error));
  found = tether_server_store_find_applied (f->store, alice, query, G_N_ELEMENTS (query), &error);
  g_assert_no_error (error);
  tether_server_store_rollback (f->store);
  g_assert_cmpuint (g_hash_table_size (found), ==, 3);
  hit = g_hash_table_lookup (found, "id-a");
  g_assert_cmpint (hit->rev, ==, 1);
  g_assert_cmpint (hit->server_ms, ==, 1000);
  g_assert_cmpstr (hit->hlc, ==, "1700000000000-0000-x");
  hit = g_hash_table_lookup (found, "id-b");
  g_assert_cmpint (hit->rev, ==, 2);
  g_assert_null (hit->hlc);
  hit = g_hash_table_lookup (found, "id-c");
  g_assert_cmpint (hit->server_ms, ==, 1002);
  g_assert_false (g_hash_table_contains (found, "id-x"));
}

static void
assert_record (GHashTable *found,
               const char *collection,
               const char *key,
               gint64      rev,
               const char *data)
{
  g_autofree char *ref = tether_server_record_ref (collection, key);
  TetherServerRecord *record = g_hash_table_lookup (found, ref);

  g_assert_nonnull (record);
  g_assert_cmpstr (record->collection, ==, collection);
  g_assert_cmpstr (record->key, ==, key);
  g_assert_cmpint (record->rev, ==, rev);
  g_assert_cmpstr (record->data, ==, data);
  g_assert_cmpint (record->type, ==, data != NULL ? TETHER_CHANGE_CREATE : TETHER_CHANGE_DELETE);
  g_assert_cmpint (record->server_ms, ==, 1000 + rev);
  g_assert_cmpstr (record->client_id, ==, "client");
  g_assert_true (g_str_has_prefix (record->change_id, "change-"));
  g_assert_true (g_str_has_suffix (record->hlc, "-0000-client"));
}

static void
assert_state (GHashTable       *found,
              const char       *collection,
              const char       *key,
              gint64            rev,
              gint64            server_ms,
              TetherChangeType  type)
{
  g_autofree char *ref = tether_server_record_ref (collection, key);
  TetherServerRecord *record = g_hash_table_lookup (found, ref);

  g_assert_nonnull (record);
  g_assert_cmpint (record->rev, ==, rev);
  g_assert_cmpint (record->server_ms, ==, server_ms);
  g_assert_cmpint (record->type, ==, type);
}

static void
test_records_batches (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GPtrArray) again = records_new ();
  g_autoptr(GHashTable) found = NULL;
  const char *collections[] = { "notes", "notes", "tasks", "notes" };
  const char *keys[] = { "\"a\"", "42", "\"a\"", "\"missing\"" };
  gint64 alice = add_user (f->store, "alice");

  g_ptr_array_add (records, record_new ("notes", "\"a\"", 1, "{\"title\":\"x\",\"n\":1}", 1001));
  g_ptr_array_add (records, record_new ("notes", "42", 2, "{\"id\":42}", 1002));
  g_ptr_array_add (records, record_new ("tasks", "\"a\"", 3, NULL, 1003));
  put (f->store, alice, records);
  found = get (f->store, alice, collections, keys, G_N_ELEMENTS (keys));
  g_assert_cmpuint (g_hash_table_size (found), ==, 3);
  assert_record (found, "notes", "\"a\"", 1, "{\"title\":\"x\",\"n\":1}");
  assert_record (found, "notes", "42", 2, "{\"id\":42}");
  assert_record (found, "tasks", "\"a\"", 3, NULL);

  /* A later state replaces the record, tombstone or not. */
  g_ptr_array_add (again, record_new ("tasks", "\"a\"", 4, "{\"back\":true}", 1004));
  g_ptr_array_add (again, record_new ("notes", "\"a\"", 5, NULL, 1005));
  put (f->store, alice, again);
  g_clear_pointer (&found, g_hash_table_unref);
  found = get (f->store, alice, collections, keys, G_N_ELEMENTS (keys));
  assert_record (found, "tasks", "\"a\"", 4, "{\"back\":true}");
  assert_record (found, "notes", "\"a\"", 5, NULL);
  assert_record (found, "notes", "42", 2, "{\"id\":42}");

  /* States alone still tell rev, time and a tombstone. */
  g_clear_pointer (&found, g_hash_table_unref);
  found = get_full (f->store, alice, collections, keys, G_N_ELEMENTS (keys), FALSE);
  g_assert_cmpuint (g_hash_table_size (found), ==, 3);
  assert_state (found, "tasks", "\"a\"", 4, 1004, TETHER_CHANGE_CREATE);
  assert_state (found, "notes", "\"a\"", 5, 1005, TETHER_CHANGE_DELETE);
  assert_state (found, "notes", "42", 2, 1002, TETHER_CHANGE_CREATE);
}

static void
test_pull (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GPtrArray) rows = NULL;
  const char *only_b[] = { "b", NULL };
  const char *a_and_c[] = { "a", "c", NULL };
  gint64 alice = add_user (f->store, "alice");
  gint64 last, purged;

  for (guint i = 1; i <= 6; i++)
    {
      g_autofree char *key = g_strdup_printf ("%u", i);

      g_ptr_array_add (records, record_new (i % 3 == 0 ? "b" : i % 2 ? "a" : "c", key, i, "{}", 1000));
    }
  put (f->store, alice, records);

  rows = pull (f->store, alice, 0, NULL, 100, &last, &purged);
  g_assert_cmpuint (rows->len, ==, 6);
  for (guint i = 0; i < rows->len; i++)
    g_assert_cmpint (row_rev (rows, i), ==, i + 1);
  g_assert_cmpint (last, ==, 6);
  g_assert_cmpint (purged, ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);

  rows = pull (f->store, alice, 2, NULL, 2, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (row_rev (rows, 0), ==, 3);
  g_assert_cmpint (row_rev (rows, 1), ==, 4);
  g_assert_cmpint (last, ==, 6);
  g_clear_pointer (&rows, g_ptr_array_unref);

  rows = pull (f->store, alice, 0, only_b, 100, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (row_rev (rows, 0), ==, 3);
  g_assert_cmpint (row_rev (rows, 1), ==, 6);
  g_assert_cmpstr (((TetherServerRecord *) rows->pdata[1])->collection, ==, "b");
  g_clear_pointer (&rows, g_ptr_array_unref);

  rows = pull (f->store, alice, 1, a_and_c, 2, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (row_rev (rows, 0), ==, 2);
  g_assert_cmpint (row_rev (rows, 1), ==, 4);
  g_clear_pointer (&rows, g_ptr_array_unref);

  rows = pull (f->store, alice, 6, NULL, 100, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 0);
  g_assert_cmpint (last, ==, 6);
}

static void
test_purge (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied old_entry = { 2, 1000, NULL }, new_entry = { 4, 900000, NULL };
  TetherServerApplied *entries[] = { &old_entry, &new_entry };
  const char *ids[] = { "old", "new" };
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");
  gint64 purged;

  g_ptr_array_add (records, record_new ("notes", "\"live-old\"", 1, "{}", 1000));
  g_ptr_array_add (records, record_new ("notes", "\"gone-old\"", 2, NULL, 1000));
  g_ptr_array_add (records, record_new ("notes", "\"gone-old-2\"", 3, NULL, 2000));
  g_ptr_array_add (records, record_new ("notes", "\"gone-new\"", 4, NULL, 900000));
  put (f->store, alice, records);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, ids, entries, 2, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));

  g_assert_cmpint (tether_server_store_purge (f->store, 500000, &error), ==, 2);
  g_assert_no_error (error);
  rows = pull (f->store, alice, 0, NULL, 100, NULL, &purged);
  g_assert_cmpint (purged, ==, 3);
  g_assert_cmpuint (rows->len, ==, 2);
  g_assert_cmpint (row_rev (rows, 0), ==, 1);
  g_assert_cmpint (row_rev (rows, 1), ==, 4);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = pull (f->store, bob, 0, NULL, 100, NULL, &purged);
  g_assert_cmpint (purged, ==, 0);

  g_assert_true (tether_server_store_begin (f->store, &error));
  applied = tether_server_store_find_applied (f->store, alice, ids, 2, &error);
  tether_server_store_rollback (f->store);
  g_assert_cmpuint (g_hash_table_size (applied), ==, 1);
  g_assert_true (g_hash_table_contains (applied, "new"));

  /* Nothing older left: purged_rev stays where it is. */
  g_assert_cmpint (tether_server_store_purge (f->store, 500000, &error), ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = pull (f->store, alice, 0, NULL, 100, NULL, &purged);
  g_assert_cmpint (purged, ==, 3);
}

static void
test_isolation (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GPtrArray) mine = records_new ();
  g_autoptr(GPtrArray) theirs = records_new ();
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied entry = { 1, 1000, NULL };
  TetherServerApplied *entries[] = { &entry };
  const char *ids[] = { "same-change" }, *collections[] = { "notes" }, *keys[] = { "\"same\"" };
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");
  gint64 last;
  g_autofree char *ref = tether_server_record_ref ("notes", "\"same\"");

  g_ptr_array_add (mine, record_new ("notes", "\"same\"", 1, "{\"owner\":\"alice\"}", 1001));
  g_ptr_array_add (theirs, record_new ("notes", "\"same\"", 1, "{\"owner\":\"bob\"}", 1001));
  g_ptr_array_add (theirs, record_new ("notes", "\"other\"", 2, "{\"owner\":\"bob\"}", 1002));
  put (f->store, alice, mine);
  put (f->store, bob, theirs);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, bob, ids, entries, 1, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));

  found = get (f->store, alice, collections, keys, 1);
  g_assert_cmpstr (((TetherServerRecord *) g_hash_table_lookup (found, ref))->data, ==,
                   "{\"owner\":\"alice\"}");
  rows = pull (f->store, alice, 0, NULL, 100, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpint (last, ==, 1);
  g_assert_cmpstr (((TetherServerRecord *) rows->pdata[0])->data, ==, "{\"owner\":\"alice\"}");
  g_assert_true (tether_server_store_begin (f->store, &error));
  applied = tether_server_store_find_applied (f->store, alice, ids, 1, &error);
  tether_server_store_rollback (f->store);
  g_assert_cmpuint (g_hash_table_size (applied), ==, 0);
}

static void
assert_sqlite_intact (const char *path)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (s), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (s, 0), ==, "ok");
  sqlite3_finalize (s);
  sqlite3_close (db);
}

/* Before serving, SQLite's log is written out to the size it checkpoints
 * at; what it held and what is written after stays, across a reopen. */
static void
test_prepare (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GPtrArray) before = records_new ();
  g_autoptr(GPtrArray) after = records_new ();
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GError) error = NULL;
  const char *collections[] = { "notes", "notes" };
  const char *keys[] = { "\"before\"", "\"after\"" };
  gint64 alice = add_user (f->store, "alice");

  g_ptr_array_add (before, record_new ("notes", "\"before\"", 1, "{\"n\":1}", 1001));
  put (f->store, alice, before);
  g_assert_true (tether_server_store_prepare (f->store, &error));
  g_assert_no_error (error);
  g_assert_true (tether_server_store_prepare (f->store, &error));   /* twice: nothing more */
  g_assert_no_error (error);
  g_ptr_array_add (after, record_new ("notes", "\"after\"", 2, "{\"n\":2}", 1002));
  put (f->store, alice, after);

  if (f->dir != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, "server.db", NULL);
      g_autofree char *wal = g_strconcat (path, "-wal", NULL);
      GStatBuf st;

      g_assert_cmpint (g_stat (wal, &st), ==, 0);
      g_assert_cmpint (st.st_size, >=, 32 + 1000 * (24 + 16384));
      g_assert_finalize_object (f->store);
      assert_sqlite_intact (path);
      f->store = tether_server_store_sqlite_new (path, &error);
      g_assert_no_error (error);
    }
  found = get (f->store, alice, collections, keys, 2);
  assert_record (found, "notes", "\"before\"", 1, "{\"n\":1}");
  assert_record (found, "notes", "\"after\"", 2, "{\"n\":2}");
}

/* The file of a SQLite store: a new one is its owner's only, a missing
 * folder is named, and a file with other tables (a client's notes) or no
 * SQLite at all is refused and left as it was. */
static void
test_sqlite_file (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *fresh = g_build_filename (dir, "server.db", NULL);
  g_autofree char *missing = g_build_filename (dir, "no", "such", "server.db", NULL);
  g_autofree char *notes = g_build_filename (dir, "notes.db", NULL);
  g_autofree char *text = g_build_filename (dir, "text.db", NULL);
  g_autoptr(TetherServerStore) store = NULL;
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;
  GStatBuf st;

  store = tether_server_store_sqlite_new (fresh, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (fresh, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_clear_object (&store);

  store = tether_server_store_sqlite_new (missing, &error);
  g_assert_null (store);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);

  g_assert_cmpint (sqlite3_open (notes, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE t_notes (id TEXT); CREATE TABLE _tether_meta (k TEXT)",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  store = tether_server_store_sqlite_new (notes, &error);
  g_assert_null (store);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "not a tether-server database"));
  g_assert_nonnull (strstr (error->message, "_tether_meta, t_notes"));
  g_clear_error (&error);
  g_assert_cmpint (sqlite3_open (notes, &db), ==, SQLITE_OK);
  {
    sqlite3_stmt *stmt = NULL;

    g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT count(*) FROM sqlite_master WHERE name = 'users'",
                                         -1, &stmt, NULL), ==, SQLITE_OK);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 0);
    sqlite3_finalize (stmt);
  }
  sqlite3_close (db);

  g_assert_true (g_file_set_contents (text, "not a database, just some text that is long enough",
                                      -1, NULL));
  store = tether_server_store_sqlite_new (text, &error);
  g_assert_null (store);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "not an SQLite database"));
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* A file whose users table was made before ids were kept from being
 * reused: it is rebuilt at open, its users, tokens, feeds and records kept,
 * and from then on no id comes back. */
static void
test_sqlite_old_users (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "old.db", NULL);
  g_autoptr(TetherServerStore) store = NULL;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(TetherServerUser) alice = { 0 };
  gint64 last_rev = -1, purged_rev = -1;
  guint8 hash[32];
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
    "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " token_hash BLOB UNIQUE NOT NULL, created INTEGER NOT NULL, last_rev INTEGER NOT NULL DEFAULT 0,"
    " purged_rev INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE records (user_id INTEGER NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL,"
    " rev INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT, server_ms INTEGER NOT NULL,"
    " hlc TEXT, change_id TEXT NOT NULL, client_id TEXT,"
    " PRIMARY KEY (key, collection, user_id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX records_rev ON records (user_id, rev);"
    "CREATE TABLE applied (user_id INTEGER NOT NULL, change_id TEXT NOT NULL, rev INTEGER NOT NULL,"
    " server_ms INTEGER NOT NULL, hlc TEXT, PRIMARY KEY (change_id, user_id)) WITHOUT ROWID;"
    "INSERT INTO users VALUES (1, 'alice', x'" "0101010101010101010101010101010101010101010101010101010101010101"
    "', 1000, 7, 2), (2, 'bob', x'0202020202020202020202020202020202020202020202020202020202020202', 2000, 0, 0);"
    "INSERT INTO records VALUES (1, 'notes', '\"a\"', 7, 0, '{}', 1000, NULL, 'c7', NULL);",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = tether_server_store_sqlite_new (path, &error);
  g_assert_no_error (error);
  memset (hash, 1, sizeof hash);
  g_assert_true (tether_server_store_user_by_token (store, hash, &alice, &error));
  g_assert_cmpint (alice.id, ==, 1);
  g_assert_cmpint (alice.created_ms, ==, 1000);
  rows = tether_server_store_pull (store, 1, 0, NULL, NULL, 10, &last_rev, &purged_rev, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpint (last_rev, ==, 7);
  g_assert_cmpint (purged_rev, ==, 2);
  g_assert_true (tether_server_store_user_remove (store, "bob", &error));
  g_assert_cmpint (add_user (store, "carol"), ==, 3);
  /* once more, on a file that has the new table already */
  g_clear_object (&store);
  store = tether_server_store_sqlite_new (path, &error);
  g_assert_no_error (error);
  g_assert_true (tether_server_store_user_remove (store, "carol", &error));
  g_assert_cmpint (add_user (store, "dave"), ==, 4);
  users = tether_server_store_user_list (store, &error);
  g_assert_cmpuint (users->len, ==, 2);
  g_clear_object (&store);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* The definition SQLite keeps of @table in the file at @path. */
static char *
table_sql (const char *path,
           const char *table)
{
  g_autofree char *query = g_strdup_printf ("SELECT sql FROM sqlite_master WHERE name = '%s'", table);
  sqlite3_stmt *s = NULL;
  sqlite3 *db = NULL;
  char *sql = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, query, -1, &s, NULL), ==, SQLITE_OK);
  if (sqlite3_step (s) == SQLITE_ROW)
    sql = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_finalize (s);
  sqlite3_close (db);
  return sql;
}

/* A file whose records table an older server made WITHOUT ROWID: rebuilt
 * at open, every user's records and feed kept in order, the key still
 * unique, and the rebuilt file opened again as it is. */
static void
test_sqlite_old_records (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "old.db", NULL);
  g_autoptr(TetherServerStore) store = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) update = records_new ();
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sql = NULL;
  const char *collections[] = { "notes" }, *keys[] = { "\"a\"" };
  gint64 last = -1;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db,
    "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,"
    " token_hash BLOB UNIQUE NOT NULL, created INTEGER NOT NULL, last_rev INTEGER NOT NULL DEFAULT 0,"
    " purged_rev INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE records (user_id INTEGER NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL,"
    " rev INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT, server_ms INTEGER NOT NULL,"
    " hlc TEXT, change_id TEXT NOT NULL, client_id TEXT,"
    " PRIMARY KEY (key, collection, user_id)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX records_rev ON records (user_id, rev);"
    "CREATE TABLE applied (user_id INTEGER NOT NULL, change_id TEXT NOT NULL, rev INTEGER NOT NULL,"
    " server_ms INTEGER NOT NULL, hlc TEXT, PRIMARY KEY (change_id, user_id)) WITHOUT ROWID;"
    "INSERT INTO users VALUES (1, 'alice', x'" "0101010101010101010101010101010101010101010101010101010101010101"
    "', 1000, 3, 0), (2, 'bob', x'0202020202020202020202020202020202020202020202020202020202020202', 2000, 1, 0);"
    "INSERT INTO records VALUES (1, 'notes', '\"c\"', 3, 2, NULL, 1003, NULL, 'c3', NULL),"
    " (1, 'notes', '\"a\"', 1, 0, '{\"n\":1}', 1001, NULL, 'c1', 'x'),"
    " (1, 'notes', '\"b\"', 2, 0, '{\"n\":2}', 1002, NULL, 'c2', 'x'),"
    " (2, 'notes', '\"a\"', 1, 0, '{\"bob\":1}', 2001, NULL, 'd1', 'y');",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  store = tether_server_store_sqlite_new (path, &error);
  g_assert_no_error (error);
  sql = table_sql (path, "records");
  g_assert_null (strstr (sql, "WITHOUT ROWID"));
  rows = pull (store, 1, 0, NULL, 10, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 3);
  g_assert_cmpint (last, ==, 3);
  g_assert_cmpstr (((TetherServerRecord *) rows->pdata[0])->key, ==, "\"a\"");
  g_assert_cmpstr (((TetherServerRecord *) rows->pdata[1])->data, ==, "{\"n\":2}");
  g_assert_null (((TetherServerRecord *) rows->pdata[2])->data);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = pull (store, 2, 0, NULL, 10, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (((TetherServerRecord *) rows->pdata[0])->data, ==, "{\"bob\":1}");
  g_clear_pointer (&rows, g_ptr_array_unref);
  /* the key is still one row: a new version replaces the old */
  g_ptr_array_add (update, record_new ("notes", "\"a\"", 4, "{\"n\":4}", 1004));
  put (store, 1, update);
  rows = pull (store, 1, 0, NULL, 10, &last, NULL);
  g_assert_cmpuint (rows->len, ==, 3);
  g_assert_cmpint (((TetherServerRecord *) rows->pdata[2])->rev, ==, 4);
  g_clear_object (&store);

  store = tether_server_store_sqlite_new (path, &error);
  g_assert_no_error (error);
  found = get (store, 1, collections, keys, 1);
  g_assert_cmpuint (g_hash_table_size (found), ==, 1);
  g_clear_object (&store);
  tether_test_dir_free (g_steal_pointer (&dir));
}

static void
add_tests (const char *kind)
{
  static const struct {
    const char *path;
    void (*func) (Fixture *, gconstpointer);
  } tests[] = {
    { "users/add-list", test_users_add_list },
    { "users/duplicate", test_users_duplicate },
    { "users/rotate", test_users_rotate },
    { "users/unknown-token", test_users_unknown_token },
    { "users/remove", test_users_remove },
    { "users/ids-not-reused", test_users_ids_not_reused },
    { "transaction/rollback", test_transaction_rollback },
    { "transaction/last-rev", test_transaction_last_rev },
    { "applied/batches", test_applied_batches },
    { "records/batches", test_records_batches },
    { "pull", test_pull },
    { "purge", test_purge },
    { "isolation", test_isolation },
    { "prepare", test_prepare },
  };

  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    {
      g_autofree char *path = g_strdup_printf ("/tether/server/store/%s/%s", kind, tests[i].path);

      g_test_add (path, Fixture, kind, fixture_setup, tests[i].func, fixture_teardown);
    }
}

/* ------------------------------------------------------------------------
 * PostgreSQL only (written by the "pg" helper): several tether-server
 * processes on one database, each stood for by one store object.
 * ------------------------------------------------------------------------ */
typedef struct {
  char              *conninfo;
  TetherServerStore *store;   /* "this process" */
  TetherServerStore *other;   /* "another process" on the same database */
} PgFixture;

static void
pg_fixture_setup (PgFixture     *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->conninfo = tether_test_pg_new_database (pg, &error);
  g_assert_no_error (error);
  f->store = tether_server_store_postgres_new (f->conninfo, &error);
  g_assert_no_error (error);
  f->other = tether_server_store_postgres_new (f->conninfo, &error);
  g_assert_no_error (error);
}

static void
pg_fixture_teardown (PgFixture     *f,
                     gconstpointer  data)
{
  g_assert_finalize_object (f->other);
  g_assert_finalize_object (f->store);
  g_free (f->conninfo);
}

/* Runs @sql on a connection of its own; returns the first value. */
static char *
pg_query (PgFixture  *f,
          const char *sql)
{
  PGconn *conn = PQconnectdb (f->conninfo);
  PGresult *res = PQexec (conn, sql);
  char *value;

  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  value = g_strdup (PQntuples (res) > 0 ? PQgetvalue (res, 0, 0) : "");
  PQclear (res);
  PQfinish (conn);
  return value;
}

static void
count_feed_changed (TetherServerStore *store,
                    gint64             user_id,
                    gint64             rev,
                    gpointer           user_data)
{
  gint64 *seen = user_data;   /* {count, user id, rev} */

  seen[0]++;
  seen[1] = user_id;
  seen[2] = rev;
}

/* Iterates the main context until *@counter reaches @target (10 s at most). */
static void
pg_wait_for (gint64 *counter,
             gint64  target)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*counter < target && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
  g_assert_cmpint (*counter, ==, target);
}

static void
test_pg_notify (PgFixture     *f,
                gconstpointer  data)
{
  TetherServerStore *other = f->other;
  gint64 mine[3] = { 0 }, theirs[3] = { 0 };

  g_signal_connect (f->store, "feed-changed", G_CALLBACK (count_feed_changed), mine);
  g_signal_connect (other, "feed-changed", G_CALLBACK (count_feed_changed), theirs);
  tether_server_store_notify (f->store, 7, 42);
  pg_wait_for (&theirs[0], 1);
  g_assert_cmpint (theirs[1], ==, 7);
  g_assert_cmpint (theirs[2], ==, 42);

  /* The other way round; by the time it arrives, our own notification has
   * long been delivered to us too, and ignored. */
  tether_server_store_notify (other, 8, 3);
  pg_wait_for (&mine[0], 1);
  g_assert_cmpint (mine[1], ==, 8);
  g_assert_cmpint (mine[2], ==, 3);
  g_assert_cmpint (theirs[0], ==, 1);
  g_signal_handlers_disconnect_by_data (f->store, mine);
  g_signal_handlers_disconnect_by_data (other, theirs);
}

typedef struct {
  TetherServerStore *store;
  gint64             user_id;
  gint64             second_user_id;   /* locked next, when not 0 */
  gint64             last_rev;
  GError            *error;
} Locker;

static gpointer
lock_in_thread (gpointer user_data)
{
  Locker *locker = user_data;

  if (!tether_server_store_begin (locker->store, &locker->error))
    return NULL;
  locker->last_rev = tether_server_store_lock_user (locker->store, locker->user_id,
                                                    &locker->error);
  if (locker->last_rev >= 0 && locker->second_user_id != 0)
    tether_server_store_lock_user (locker->store, locker->second_user_id, &locker->error);
  if (locker->error == NULL)
    tether_server_store_commit (locker->store, &locker->error);
  else
    tether_server_store_rollback (locker->store);
  return NULL;
}

/* Waits until @n connections of this database wait for a lock. */
static void
pg_wait_for_lock_waiters (PgFixture *f,
                          guint    n)
{
  g_autofree char *expected = g_strdup_printf ("%u", n);

  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *waiting = pg_query (f, "SELECT count (*) FROM pg_stat_activity"
                                              " WHERE wait_event_type = 'Lock'"
                                              " AND datname = current_database ()");

      if (g_str_equal (waiting, expected))
        return;
      g_usleep (10000);
    }
  g_assert_not_reached ();
}

static void
test_pg_lock_serialises (PgFixture     *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  TetherServerStore *other = f->other;
  gint64 alice = add_user (f->store, "alice");
  Locker locker = { other, alice, 0, -1, NULL };
  GThread *thread;

  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  thread = g_thread_new ("second-process", lock_in_thread, &locker);
  pg_wait_for_lock_waiters (f, 1);
  g_assert_true (tether_server_store_set_last_rev (f->store, alice, 5, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  g_assert_no_error (locker.error);
  g_assert_cmpint (locker.last_rev, ==, 5);   /* it waited, then saw the commit */
}

static void
test_pg_deadlock_is_busy (PgFixture     *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  TetherServerStore *other = f->other;
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");
  Locker locker = { other, bob, alice, -1, NULL };
  GThread *thread;
  GError *busy;

  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  thread = g_thread_new ("second-process", lock_in_thread, &locker);
  pg_wait_for_lock_waiters (f, 1);
  /* alice then bob here, bob then alice there: PostgreSQL breaks the cycle. */
  if (tether_server_store_lock_user (f->store, bob, &error) < 0)
    tether_server_store_rollback (f->store);
  else
    g_assert_true (tether_server_store_commit (f->store, NULL));
  g_thread_join (thread);
  g_assert_true ((error == NULL) != (locker.error == NULL));
  busy = error != NULL ? error : locker.error;
  g_assert_error (busy, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_BUSY);
  g_clear_error (&locker.error);
}

/* Text array literals: ids and data with every character that means
 * something in them. */
static const char * const awkward[] = {
  "plain", "with \"quotes\"", "com,ma", "{braces}", "back\\slash", "\\\"", "NULL", "",
  " spaces ", "ünïcødé ✓ 🙂", "new\nline", "tab\there", "'single'", NULL,
};

static void
test_pg_awkward_text (PgFixture     *f,
                      gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  guint n = g_strv_length ((char **) awkward);
  const char *keys[G_N_ELEMENTS (awkward)];
  gint64 alice = add_user (f->store, "alice");

  for (guint i = 0; i < n; i++)
    {
      TetherServerRecord *record = record_new (awkward[i], awkward[n - 1 - i], i + 1,
                                               i == 3 ? NULL : awkward[i], 1001 + i);
      TetherServerApplied *entry = g_new0 (TetherServerApplied, 1);

      g_free (record->hlc);
      record->hlc = g_strdup (awkward[i]);
      entry->rev = i + 1;
      entry->hlc = (char *) awkward[i];
      g_ptr_array_add (entries, entry);
      g_ptr_array_add (records, record);
      keys[i] = awkward[n - 1 - i];
    }
  put (f->store, alice, records);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, awkward,
                                                       (TetherServerApplied * const *) entries->pdata,
                                                       n, &error));
  applied = tether_server_store_find_applied (f->store, alice, awkward, n, &error);
  g_assert_true (tether_server_store_commit (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (applied), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (((TetherServerApplied *) g_hash_table_lookup (applied, awkward[i]))->hlc,
                     ==, awkward[i]);

  found = get (f->store, alice, awkward, keys, n);
  g_assert_cmpuint (g_hash_table_size (found), ==, n);
  rows = pull (f->store, alice, 0, awkward, 100, NULL, NULL);
  g_assert_cmpuint (rows->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *ref = tether_server_record_ref (awkward[i], keys[i]);
      TetherServerRecord *record = g_hash_table_lookup (found, ref);
      TetherServerRecord *row = g_ptr_array_index (rows, i);

      g_assert_nonnull (record);
      g_assert_cmpstr (record->data, ==, i == 3 ? NULL : awkward[i]);
      g_assert_cmpstr (record->hlc, ==, awkward[i]);
      g_assert_cmpstr (row->collection, ==, awkward[i]);
      g_assert_cmpstr (row->key, ==, keys[i]);
    }
}

/* One statement cannot write a row twice: the last state of a record, the
 * last entry of a change id, win, as if written one by one. */
static void
test_pg_repeats_in_batch (PgFixture     *f,
                          gconstpointer  data)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autoptr(GHashTable) found = NULL;
  g_autoptr(GHashTable) applied = NULL;
  g_autoptr(GError) error = NULL;
  TetherServerApplied first = { 1, 1000, NULL }, second = { 2, 1001, NULL };
  TetherServerApplied *entries[] = { &first, &second };
  const char *ids[] = { "same", "same" }, *collections[] = { "notes" }, *keys[] = { "\"a\"" };
  gint64 alice = add_user (f->store, "alice");

  g_ptr_array_add (records, record_new ("notes", "\"a\"", 1, "{\"v\":1}", 1001));
  g_ptr_array_add (records, record_new ("notes", "\"a\"", 2, "{\"v\":2}", 1002));
  put (f->store, alice, records);
  found = get (f->store, alice, collections, keys, 1);
  assert_record (found, "notes", "\"a\"", 2, "{\"v\":2}");

  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_true (tether_server_store_remember_applied (f->store, alice, ids, entries, 2, &error));
  applied = tether_server_store_find_applied (f->store, alice, ids, 1, &error);
  g_assert_true (tether_server_store_commit (f->store, &error));
  g_assert_no_error (error);
  g_assert_cmpint (((TetherServerApplied *) g_hash_table_lookup (applied, "same"))->rev, ==, 2);
}

static void
pg_terminate_store_connections (PgFixture *f)
{
  g_autofree char *n = pg_query (f, "SELECT count (pg_terminate_backend (pid, 5000))"
                                    " FROM pg_stat_activity WHERE pid <> pg_backend_pid ()"
                                    " AND datname = current_database ()");

  g_assert_cmpstr (n, !=, "0");
}

/* A restarted database (here: every connection killed) costs at most the
 * transaction in flight; the listener comes back and reports what it
 * missed meanwhile. */
static void
test_pg_reconnect (PgFixture     *f,
                   gconstpointer  data)
{
  TetherServerStore *other = f->other;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  gint64 alice = add_user (f->store, "alice");
  gint64 theirs[3] = { 0 };
  gint64 last;

  g_signal_connect (other, "feed-changed", G_CALLBACK (count_feed_changed), theirs);
  pg_terminate_store_connections (f);
  rows = pull (f->store, alice, 0, NULL, 10, &last, NULL);   /* reads retry once */
  g_assert_cmpint (last, ==, 0);

  /* Written while the other's listener is away: no NOTIFY reaches it. */
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 0);
  g_assert_true (tether_server_store_set_last_rev (f->store, alice, 3, &error));
  g_assert_true (tether_server_store_commit (f->store, &error));
  pg_wait_for (&theirs[0], 1);
  g_assert_cmpint (theirs[1], ==, alice);
  g_assert_cmpint (theirs[2], ==, 3);
  tether_server_store_notify (f->store, alice, 4);
  pg_wait_for (&theirs[0], 2);
  g_assert_cmpint (theirs[2], ==, 4);
  g_signal_handlers_disconnect_by_data (other, theirs);

  g_assert_true (tether_server_store_begin (f->store, &error));
  pg_terminate_store_connections (f);
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, -1);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_clear_error (&error);
  tether_server_store_rollback (f->store);
  g_assert_true (tether_server_store_begin (f->store, &error));
  g_assert_cmpint (tether_server_store_lock_user (f->store, alice, &error), ==, 3);
  g_assert_no_error (error);
  tether_server_store_rollback (f->store);
}

/* A connection of the test's own, for holding locks. */
static PGconn *
pg_connect (PgFixture *f)
{
  PGconn *conn = PQconnectdb (f->conninfo);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  return conn;
}

static void
pg_exec (PGconn     *conn,
         const char *sql)
{
  PGresult *res = PQexec (conn, sql);

  g_assert_cmpint (PQresultStatus (res), ==, PGRES_COMMAND_OK);
  PQclear (res);
}

/* A reconnection whose statements could not all be prepared (here a lock
 * held on records outlasts lock_timeout) leaves some prepared: the next
 * call must still get the connection working, not fail for ever. */
static void
test_pg_prepare_fails_once (PgFixture     *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) users = NULL;
  PGconn *locker;

  add_user (f->store, "alice");
  pg_terminate_store_connections (f);
  locker = pg_connect (f);
  pg_exec (locker, "BEGIN; LOCK TABLE records IN ACCESS EXCLUSIVE MODE");
  users = tether_server_store_user_list (f->store, &error);
  g_assert_null (users);
  g_assert_nonnull (error);
  g_clear_error (&error);
  pg_exec (locker, "COMMIT");
  PQfinish (locker);

  users = tether_server_store_user_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 1);
}

static const char *
conninfo_option (PGconn     *conn,
                 const char *keyword)
{
  static char value[64];
  PQconninfoOption *options = PQconninfo (conn);

  value[0] = '\0';
  for (PQconninfoOption *o = options; o->keyword != NULL; o++)
    if (g_str_equal (o->keyword, keyword) && o->val != NULL)
      g_strlcpy (value, o->val, sizeof value);
  PQconninfoFree (options);
  return value;
}

/* An unreachable database costs seconds: connections have timeouts and
 * keepalives by default, and the conninfo can change them. */
static void
test_pg_connection_timeouts (PgFixture     *f,
                             gconstpointer  data)
{
  g_autofree char *custom = g_strconcat (f->conninfo, " connect_timeout=3 keepalives_idle=7", NULL);
  PGconn *conn = _tether_server_postgres_connect (f->conninfo, "tether-test", FALSE);

  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  g_assert_cmpstr (conninfo_option (conn, "connect_timeout"), ==, "5");
  g_assert_cmpstr (conninfo_option (conn, "keepalives"), ==, "1");
  g_assert_cmpstr (conninfo_option (conn, "keepalives_idle"), ==, "15");
  g_assert_cmpstr (conninfo_option (conn, "tcp_user_timeout"), ==, "30000");
  g_assert_cmpstr (conninfo_option (conn, "client_encoding"), ==, "UTF8");
  PQfinish (conn);

  conn = _tether_server_postgres_connect (custom, "tether-test", FALSE);
  g_assert_cmpint (PQstatus (conn), ==, CONNECTION_OK);
  g_assert_cmpstr (conninfo_option (conn, "connect_timeout"), ==, "3");
  g_assert_cmpstr (conninfo_option (conn, "keepalives_idle"), ==, "7");
  g_assert_cmpstr (conninfo_option (conn, "keepalives_interval"), ==, "5");
  PQfinish (conn);
}

/* After a failed connection attempt the store answers at once for a
 * second instead of blocking on another attempt, then tries again. */
static void
test_pg_reconnect_pause (PgFixture     *f,
                         gconstpointer  data)
{
  g_autofree char *admin_info = g_strconcat (f->conninfo, " dbname=postgres", NULL);
  g_autofree char *name = pg_query (f, "SELECT current_database ()");
  g_autofree char *refuse = g_strdup_printf ("ALTER DATABASE %s ALLOW_CONNECTIONS false", name);
  g_autofree char *allow = g_strdup_printf ("ALTER DATABASE %s ALLOW_CONNECTIONS true", name);
  g_autofree char *terminate = g_strdup_printf ("SELECT pg_terminate_backend (pid, 5000) FROM pg_stat_activity"
                                                " WHERE datname = '%s'", name);
  PGresult *res;
  g_autoptr(GPtrArray) users = NULL;
  g_autoptr(GError) error = NULL;
  PGconn *admin = PQconnectdb (admin_info);

  g_assert_cmpint (PQstatus (admin), ==, CONNECTION_OK);
  add_user (f->store, "alice");
  pg_exec (admin, refuse);
  res = PQexec (admin, terminate);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);
  users = tether_server_store_user_list (f->store, &error);
  g_assert_null (users);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_clear_error (&error);

  pg_exec (admin, allow);
  PQfinish (admin);
  users = tether_server_store_user_list (f->store, &error);
  g_assert_null (users);
  g_assert_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "trying again"));
  g_clear_error (&error);

  g_usleep (1100 * 1000);
  users = tether_server_store_user_list (f->store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (users->len, ==, 1);
}

static gpointer
commit_later (gpointer data)
{
  g_usleep (3 * G_USEC_PER_SEC);
  pg_exec (data, "COMMIT");
  return NULL;
}

/* A process that starts (or a user command) while another one purges or
 * pushes waits for nothing once the tables exist: CREATE INDEX IF NOT
 * EXISTS would lock out every push of every user until it got its lock. */
static void
test_pg_start_beside_writes (PgFixture     *f,
                             gconstpointer  data)
{
  g_autoptr(TetherServerStore) third = NULL;
  g_autoptr(GError) error = NULL;
  PGconn *writer = pg_connect (f);
  GThread *thread;
  gint64 start;

  pg_exec (writer, "BEGIN; DELETE FROM records WHERE data IS NULL AND server_ms < 0");
  thread = g_thread_new ("commit-later", commit_later, writer);
  start = g_get_monotonic_time ();
  third = tether_server_store_postgres_new (f->conninfo, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_thread_join (thread);
  PQfinish (writer);
}

static void
put_tombstone (TetherServerStore *store,
               gint64             user_id,
               gint64             rev)
{
  g_autoptr(GPtrArray) records = records_new ();
  g_autofree char *key = g_strdup_printf ("\"gone-%" G_GINT64_FORMAT "\"", rev);

  g_ptr_array_add (records, record_new ("notes", key, rev, NULL, 1000));
  put (store, user_id, records);
}

/* A purge locks one user at a time: a user whose push holds their lock
 * is left for the next purge, the others are purged; and while one
 * process purges, another's purge does nothing. */
static void
test_pg_purge_per_user (PgFixture     *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *lock_bob = NULL;
  gint64 alice = add_user (f->store, "alice");
  gint64 bob = add_user (f->store, "bob");
  gint64 purged;
  PGconn *pusher = pg_connect (f);
  PGresult *res;

  put_tombstone (f->store, alice, 1);
  put_tombstone (f->store, bob, 1);
  lock_bob = g_strdup_printf ("SELECT last_rev FROM users WHERE id = %" G_GINT64_FORMAT
                              " FOR UPDATE", bob);
  pg_exec (pusher, "BEGIN");
  res = PQexec (pusher, lock_bob);
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);

  g_assert_cmpint (tether_server_store_purge (f->store, 500000, &error), ==, 1);
  g_assert_no_error (error);
  pg_exec (pusher, "COMMIT");

  /* Another process purging: this one leaves it to them. */
  res = PQexec (pusher, "SELECT pg_advisory_lock (7415161803)");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);
  g_assert_cmpint (tether_server_store_purge (f->store, 500000, &error), ==, 0);
  g_assert_no_error (error);
  res = PQexec (pusher, "SELECT pg_advisory_unlock (7415161803)");
  g_assert_cmpint (PQresultStatus (res), ==, PGRES_TUPLES_OK);
  PQclear (res);
  PQfinish (pusher);

  g_assert_cmpint (tether_server_store_purge (f->store, 500000, &error), ==, 1);
  g_assert_no_error (error);
  g_ptr_array_unref (pull (f->store, bob, 0, NULL, 100, NULL, &purged));
  g_assert_cmpint (purged, ==, 1);
}

/* A notification sent just after the connection died (the database
 * restarted between a push's COMMIT and its NOTIFY) is sent again on a
 * new connection: the other processes' clients hear of the write. */
static void
test_pg_notify_after_reconnect (PgFixture     *f,
                                gconstpointer  data)
{
  TetherServerStore *other = f->other;
  gint64 theirs[3] = { 0 };
  g_autofree char *n = NULL;

  g_signal_connect (other, "feed-changed", G_CALLBACK (count_feed_changed), theirs);
  n = pg_query (f, "SELECT count (pg_terminate_backend (pid, 5000)) FROM pg_stat_activity"
                   " WHERE application_name = 'tether-server' AND datname = current_database ()");
  g_assert_cmpstr (n, ==, "2");
  tether_server_store_notify (f->store, 7, 42);
  pg_wait_for (&theirs[0], 1);
  g_assert_cmpint (theirs[2], ==, 42);
  g_signal_handlers_disconnect_by_data (other, theirs);
}

static void
add_postgres_tests (void)
{
  static const struct {
    const char *path;
    void (*func) (PgFixture *, gconstpointer);
  } tests[] = {
    { "notify", test_pg_notify },
    { "lock-serialises", test_pg_lock_serialises },
    { "deadlock-is-busy", test_pg_deadlock_is_busy },
    { "awkward-text", test_pg_awkward_text },
    { "repeats-in-batch", test_pg_repeats_in_batch },
    { "reconnect", test_pg_reconnect },
    { "prepare-fails-once", test_pg_prepare_fails_once },
    { "connection-timeouts", test_pg_connection_timeouts },
    { "reconnect-pause", test_pg_reconnect_pause },
    { "start-beside-writes", test_pg_start_beside_writes },
    { "purge-per-user", test_pg_purge_per_user },
    { "notify-after-reconnect", test_pg_notify_after_reconnect },
  };

  for (guint i = 0; i < G_N_ELEMENTS (tests); i++)
    {
      g_autofree char *path = g_strdup_printf ("/tether/server/store/postgres-only/%s",
                                               tests[i].path);

      g_test_add (path, PgFixture, NULL, pg_fixture_setup, tests[i].func, pg_fixture_teardown);
    }
}

static void
postgres_unavailable (gconstpointer data)
{
  if (g_strcmp0 (g_getenv ("TETHER_TEST_PG_REQUIRED"), "1") == 0)
    g_test_fail_printf ("PostgreSQL is required (TETHER_TEST_PG_REQUIRED=1) but did not start: %s",
                        (const char *) data);
  else
    g_test_skip_printf ("PostgreSQL did not start: %s", (const char *) data);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  add_tests ("sqlite");
  g_test_add_func ("/tether/server/store/sqlite/file", test_sqlite_file);
  g_test_add_func ("/tether/server/store/sqlite/old-users-table", test_sqlite_old_users);
  g_test_add_func ("/tether/server/store/sqlite/old-records-table", test_sqlite_old_records);
  pg = tether_test_pg_start (&error);
  if (pg != NULL)
    {
      add_tests ("postgres");
      add_postgres_tests ();
    }
  else
    g_test_add_data_func ("/tether/server/store/postgres/available", error->message,
                          postgres_unavailable);
  status = g_test_run ();
  g_clear_pointer (&pg, tether_test_pg_stop);
  return status;
}
