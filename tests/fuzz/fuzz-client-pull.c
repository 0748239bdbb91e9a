/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include "fuzz-common.h"
#include "tether-sync-engine-private.h"
#include "tether-transport-private.h"

/* Pull answers from a server the client cannot trust. The same object is
 * also read as a WebSocket server_push frame when it has a "payload"
 * array: both are lists of the change objects of _tether_sync_parse_change. */

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
  parse_payload (object);
  return 0;
}
