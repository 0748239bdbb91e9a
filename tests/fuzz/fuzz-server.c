/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "fuzz-server.h"
#include "tether-gzip-private.h"
#include "tether-server-store-sqlite-private.h"

/* The decoded-size limit the routes apply; lower than the server's
 * default so a decompression bomb costs the fuzzer little. */
#define FUZZ_MAX_BODY (1024 * 1024)

static const char alice_push[] =
  "{\"clientId\":\"seed-client\",\"schemaVersion\":1,\"changes\":["
  "{\"id\":\"seed-1\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"create\","
  "\"data\":{\"id\":\"n1\",\"title\":\"first\",\"body\":\"hello\",\"tags\":[\"a\"]},"
  "\"timestamp\":\"2026-01-02T03:04:05.678Z\",\"baseRev\":0,\"hlc\":\"1767323045678-0000-seed-client\"},"
  "{\"id\":\"seed-2\",\"collection\":\"notes\",\"recordId\":\"n2\",\"type\":\"create\","
  "\"data\":{\"id\":\"n2\",\"title\":\"second\"},\"baseRev\":0},"
  "{\"id\":\"seed-3\",\"collection\":\"notes\",\"recordId\":\"n2\",\"type\":\"delete\",\"baseRev\":2},"
  "{\"id\":\"seed-4\",\"collection\":\"tasks\",\"recordId\":7,\"type\":\"create\","
  "\"data\":{\"id\":7,\"title\":\"task\",\"priority\":2,\"due\":\"2026-02-01T00:00:00.000Z\"}},"
  "{\"id\":\"seed-5\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"update\","
  "\"data\":{\"id\":\"n1\",\"title\":\"first, edited\",\"body\":\"hello\",\"tags\":[\"a\"]},\"baseRev\":1}]}";

static const char bob_push[] =
  "{\"clientId\":\"bob-client\",\"changes\":["
  "{\"id\":\"seed-1\",\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"create\","
  "\"data\":{\"id\":\"n1\",\"title\":\"" FUZZ_BOB_SECRET "\"},\"baseRev\":0},"
  "{\"id\":\"bob-2\",\"collection\":\"tasks\",\"recordId\":\"t9\",\"type\":\"create\","
  "\"data\":{\"id\":\"t9\",\"title\":\"" FUZZ_BOB_SECRET "\"},\"baseRev\":0}]}";

static void
add_user (FuzzServer       *self,
          const char       *name,
          TetherServerUser *user)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = tether_server_core_user_add (self->core, name, &error);
  g_autofree char *authorization = NULL;

  fuzz_check (token != NULL, "the fuzz users cannot be added");
  authorization = g_strconcat ("Bearer ", token, NULL);
  fuzz_check (tether_server_core_authenticate (self->core, authorization, user, &error),
              "the fuzz users cannot log in");
}

static void
seed (FuzzServer             *self,
      const TetherServerUser *user,
      const char             *body)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *answer = tether_server_core_push_text (self->core, user, body, strlen (body),
                                                          NULL, &error);

  fuzz_check (answer != NULL && strstr (answer, "\"errors\":[]") != NULL,
              "the seed records were not all accepted");
}

static sqlite3 *
store_db (FuzzServer *self)
{
  return TETHER_SERVER_STORE_SQLITE (self->store)->db;
}

/* The whole database from @from into @to (same page size, both in memory). */
static void
copy_db (sqlite3 *to,
         sqlite3 *from)
{
  sqlite3_backup *backup = sqlite3_backup_init (to, "main", from, "main");

  fuzz_check (backup != NULL, "the store cannot be copied");
  fuzz_check (sqlite3_backup_step (backup, -1) == SQLITE_DONE, "the store was not copied whole");
  fuzz_check (sqlite3_backup_finish (backup) == SQLITE_OK, "the store copy failed");
}

static sqlite3 *
snapshot_new (sqlite3 *db)
{
  sqlite3_stmt *stmt = NULL;
  g_autofree char *pragma = NULL;
  sqlite3 *snapshot = NULL;

  fuzz_check (sqlite3_open (":memory:", &snapshot) == SQLITE_OK, "no memory database");
  sqlite3_prepare_v2 (db, "PRAGMA page_size", -1, &stmt, NULL);
  fuzz_check (sqlite3_step (stmt) == SQLITE_ROW, "no page size");
  pragma = g_strdup_printf ("PRAGMA page_size = %d", sqlite3_column_int (stmt, 0));
  sqlite3_finalize (stmt);
  /* An in-memory backup target must have the source's page size. */
  sqlite3_exec (snapshot, pragma, NULL, NULL, NULL);
  copy_db (snapshot, db);
  return snapshot;
}

FuzzServer *
fuzz_server_new (TetherSchema *schema)
{
  g_autoptr(GError) error = NULL;
  FuzzServer *self = g_new0 (FuzzServer, 1);

  self->store = tether_server_store_sqlite_new (":memory:", &error);
  fuzz_check (self->store != NULL, "no in-memory store");
  self->core = tether_server_core_new (self->store, schema, 0, 30 * G_TIME_SPAN_DAY / 1000);
  add_user (self, "alice", &self->alice);
  add_user (self, "bob", &self->bob);
  seed (self, &self->alice, alice_push);
  seed (self, &self->bob, bob_push);
  self->snapshot = snapshot_new (store_db (self));
  return self;
}

void
fuzz_server_restore (FuzzServer *self)
{
  copy_db (store_db (self), self->snapshot);
}

GBytes *
fuzz_server_body (const uint8_t *data,
                  size_t         size,
                  GError       **error)
{
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
    return _tether_gunzip (data, size, FUZZ_MAX_BODY, error);
  return g_bytes_new_take (fuzz_text (data, size), size);
}
