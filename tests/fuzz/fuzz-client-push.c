/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include "fuzz-common.h"
#include "tether-sync-engine-private.h"
#include "tether-transport-private.h"

/* Push answers from a server the client cannot trust, read as the HTTP and
 * WebSocket transports read any answer, then checked in full by the
 * protocol code before the sync writes anything. */

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new_static (data, size);
  g_autoptr(JsonObject) object = _tether_transport_parse_object (bytes);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherPushResponse) response = NULL;

  if (object == NULL)
    return 0;
  response = _tether_sync_parse_push (object, &error);
  fuzz_check ((response == NULL) == (error != NULL), "a push answer must be read or refused with an error");
  return 0;
}
