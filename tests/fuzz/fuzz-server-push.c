/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include <json-glib/json-glib.h>

#include "fuzz-common.h"
#include "fuzz-server.h"

/* POST /push bodies. Each input is parsed with the app's schema (the
 * validation of a server started with --schema), then pushed as alice into
 * a schema-less core (the default server, which stores any object) with
 * seeded records, so the conflict, idempotency and hlc paths run too. */

static FuzzServer *server;
static TetherSchema *schema;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_setup ();
  schema = tether_schema_new_default ();
  server = fuzz_server_new (NULL);
  return 0;
}

static void
parse_with_schema (const char *body,
                   gsize       length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherServerPushRequest) request = NULL;

  request = _tether_server_push_request_parse (body, length, schema,
                                               TETHER_SERVER_DEFAULT_MAX_CHANGES, &error);
  fuzz_check ((request == NULL) == (error != NULL), "a push parse must fail with an error or succeed without one");
}

/* A 200 answer must be JSON the client can read. */
static void
check_answer (const char *answer)
{
  g_autoptr(JsonNode) node = json_from_string (answer, NULL);

  fuzz_check (node != NULL && JSON_NODE_HOLDS_OBJECT (node), "the push answer is not a JSON object");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = fuzz_server_body (data, size, &error);
  g_autofree char *answer = NULL;
  const char *text;
  gsize length;

  if (body == NULL)
    return 0;
  text = g_bytes_get_data (body, &length);
  parse_with_schema (text, length);
  answer = tether_server_core_push_text (server->core, &server->alice, text, length, NULL, &error);
  fuzz_check ((answer == NULL) == (error != NULL), "a push must fail with an error or answer without one");
  if (answer != NULL)
    check_answer (answer);
  fuzz_server_restore (server);
  return 0;
}
