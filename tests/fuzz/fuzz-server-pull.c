/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "fuzz-common.h"
#include "fuzz-server.h"

/* Pull requests, read by alice from a store seeded for alice and bob: each
 * input is a POST /pull body and, read as a URL query string, a
 * GET /pull?… request. Besides crashes, a page must be JSON and must never
 * hold one of bob's records, whatever cursor or filter alice sends. */

static FuzzServer *server;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_setup ();
  server = fuzz_server_new (NULL);
  return 0;
}

static void
check_page (char   *page,
            GError *error)
{
  g_autofree char *owned = page;
  g_autoptr(JsonNode) node = NULL;

  fuzz_check ((owned == NULL) == (error != NULL), "a pull must fail with an error or answer without one");
  if (owned == NULL)
    return;
  fuzz_check (strstr (owned, FUZZ_BOB_SECRET) == NULL, "alice pulled one of bob's records");
  node = json_from_string (owned, NULL);
  fuzz_check (node != NULL && JSON_NODE_HOLDS_OBJECT (node), "the pull page is not a JSON object");
}

static void
pull_query (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) query = soup_form_decode (text);

  check_page (tether_server_core_pull_query_text (server->core, &server->alice, query, NULL, &error),
              error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = fuzz_server_body (data, size, &error);
  const char *text;
  gsize length;

  if (body == NULL)
    return 0;
  text = g_bytes_get_data (body, &length);
  check_page (tether_server_core_pull_text (server->core, &server->alice, text, length, NULL, &error),
              error);
  /* soup hands the routes a query of valid UTF-8 only */
  if (g_utf8_validate (text, length, NULL))
    pull_query (text);
  return 0;
}
