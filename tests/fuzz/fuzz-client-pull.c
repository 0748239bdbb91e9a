/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include "fuzz-common.h"
#include "tether-sync-engine-private.h"
#include "tether-transport-private.h"

/* Pull answers from a server the client cannot trust, read as the
 * transports read any answer, then applied as a pull applies a page: to an
 * in-memory database with the app's schema where notes "n1" has a pending
 * local edit (so merges and the conflict log run too), inside a
 * transaction that is rolled back, so every input meets the same records.
 * The same object is also read as a WebSocket server_push frame when it
 * has a "payload" array. */

static TetherDatabase *db;
static TetherSyncEngine *engine;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) note = json_from_string ("{\"id\":\"n1\",\"title\":\"local\",\"body\":\"mine\"}", NULL);
  g_autoptr(TetherRecord) record = NULL;

  fuzz_setup ();
  db = tether_database_open (":memory:", NULL, &error);
  fuzz_check (db != NULL, "no in-memory database");
  engine = tether_sync_engine_new (db, &error);
  fuzz_check (engine != NULL, "no sync engine");
  record = tether_collection_create (tether_database_get_collection (db, "notes", NULL),
                                     json_node_get_object (note), &error);
  fuzz_check (record != NULL, "the local note was refused");
  return 0;
}

static void
apply (TetherPullResponse *page)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report = { 0 };
  gboolean ok;

  fuzz_check (tether_database_begin (db, NULL), "no transaction");
  ok = _tether_sync_apply_changes (engine, page->changes, &report, &error) &&
       (page->cursor == NULL || _tether_sync_engine_set_cursor (engine, page->cursor, &error));
  fuzz_check (ok == (error == NULL), "a page must apply or fail with an error");
  tether_database_rollback (db);
}

static void
parse_payload (JsonObject *frame)
{
  JsonNode *payload = json_object_get_member (frame, "payload");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = NULL;

  if (payload == NULL || !JSON_NODE_HOLDS_ARRAY (payload))
    return;
  changes = _tether_sync_parse_push_payload (json_node_get_array (payload), &error);
  fuzz_check ((changes == NULL) == (error != NULL), "a server_push payload must be read or refused with an error");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr(JsonObject) object = _tether_transport_parse_object (bytes);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherPullResponse) page = NULL;

  if (object == NULL)
    return 0;
  page = _tether_sync_parse_pull (object, &error);
  fuzz_check ((page == NULL) == (error != NULL), "a pull answer must be read or refused with an error");
  if (page != NULL)
    apply (page);
  parse_payload (object);
  return 0;
}
