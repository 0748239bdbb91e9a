/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-seed"
#include "config.h"

#include <libsoup/soup.h>

#include "tether-test-util.h"

/* The sync engine against servers that are not tether-server: one of the
 * seed's design (no rev, no baseRev), and one whose answers are not
 * protocol JSON. A fake server in the test process answers with canned
 * bodies; the engine runs on the same main context. */

#define SYNC_TIMEOUT_MS 20000

typedef struct {
  SoupServer *server;
  char       *base;
  char       *push_answer;   /* body of the next POST /push answers */
  guint       push_status;   /* 0: 200 */
  const char *push_type;     /* NULL: application/json */
  const char *push_retry_after;
  char       *pull_answer;
  guint       pushes;
  guint       pulls;
  char       *dir;
  TetherDatabase   *db;
  TetherSyncEngine *engine;
} Fixture;

static void
handle (SoupServer        *server,
        SoupServerMessage *msg,
        const char        *path,
        GHashTable        *query,
        gpointer           data)
{
  Fixture *f = data;
  const char *body = "{}";
  const char *type = "application/json";
  guint status = 200;

  if (g_str_has_suffix (path, "/push"))
    {
      f->pushes++;
      body = f->push_answer;
      status = f->push_status != 0 ? f->push_status : 200;
      type = f->push_type != NULL ? f->push_type : type;
      if (f->push_retry_after != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                      f->push_retry_after);
    }
  else if (g_str_has_suffix (path, "/pull"))
    {
      f->pulls++;
      body = f->pull_answer;
    }
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, strlen (body));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;
  g_autofree char *path = NULL;
  g_autofree char *uri = NULL;

  f->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (f->server, NULL, handle, f, NULL);
  soup_server_listen_local (f->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (f->server);
  uri = g_uri_to_string (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  f->base = g_strconcat (uri, "sync", NULL);
  f->dir = tether_test_dir_new ();
  path = g_build_filename (f->dir, "client.db", NULL);
  f->db = tether_test_open (path, NULL);
  f->engine = tether_sync_engine_new (f->db, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_remote (f->engine, f->base, "token");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->engine);
  g_clear_object (&f->db);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_free (f->base);
  g_free (f->push_answer);
  g_free (f->pull_answer);
  tether_test_dir_free (f->dir);
}

typedef struct {
  gboolean          done;
  gboolean          ok;
  GError           *error;
  TetherSyncReport  report;
} Outcome;

static void
on_synced (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Outcome *outcome = data;

  outcome->ok = tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result,
                                                &outcome->report, &outcome->error);
  outcome->done = TRUE;
}

static gboolean
time_out (gpointer data)
{
  g_error ("a sync against the fake server did not end within %d ms", SYNC_TIMEOUT_MS);
  return G_SOURCE_REMOVE;
}

/* Sync on the default context, which also runs the fake server. */
static void
sync_once (Fixture *f,
           Outcome *outcome)
{
  guint timeout = g_timeout_add (SYNC_TIMEOUT_MS, time_out, NULL);

  tether_sync_engine_sync_async (f->engine, NULL, on_synced, outcome);
  while (!outcome->done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
}

static TetherCollection *
notes (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *collection = tether_database_get_collection (f->db, "notes", &error);

  g_assert_no_error (error);
  return collection;
}

static char *
title_of (Fixture    *f,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_get (notes (f), id, &error);

  g_assert_no_error (error);
  return g_strdup (tether_record_get_string (record, "title", NULL));
}

/* An answer that is not protocol JSON: the sync fails with PROTOCOL and
 * nothing changes locally, the pending change included. */
static void
test_malformed_push (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  Outcome outcome = { FALSE };
  g_autoptr(GPtrArray) changes = NULL;

  f->push_answer = g_strdup ("{\"accepted\": 5, \"conflicts\": []}");
  f->pull_answer = g_strdup ("{\"changes\": [], \"cursor\": null, \"hasMore\": false}");
  sync_once (f, &outcome);
  g_assert_false (outcome.ok);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (outcome.error->message, "accepted"));
  g_assert_cmpuint (tether_sync_engine_get_state (f->engine), ==, TETHER_SYNC_STATE_ERROR);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 1);
  g_assert_cmpint (tether_sync_change_get_status (changes->pdata[0]), ==, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (f->engine), ==, 1);
  g_assert_cmpuint (f->pulls, ==, 0);
  g_clear_error (&outcome.error);
}

static void
test_malformed_pull (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  g_autofree char *title = NULL;
  Outcome outcome = { FALSE };

  f->push_answer = g_strdup ("{\"accepted\": [], \"conflicts\": [], \"errors\": []}");
  /* the first change is fine, the second has no recordId: none is applied */
  f->pull_answer = g_strdup ("{\"changes\": ["
    "{\"collection\":\"notes\",\"recordId\":\"n2\",\"type\":\"create\",\"data\":{\"id\":\"n2\",\"title\":\"t\"},\"rev\":1},"
    "{\"collection\":\"notes\",\"type\":\"create\",\"data\":{\"title\":\"x\"},\"rev\":2}],"
    "\"cursor\": \"2\", \"hasMore\": false}");
  sync_once (f, &outcome);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (outcome.error->message, "changes[1]"));
  g_assert_cmpint (tether_collection_count (notes (f), NULL, NULL), ==, 1);
  title = title_of (f, "n1");
  g_assert_cmpstr (title, ==, "mine");
  g_clear_error (&outcome.error);
}

static TetherChangeStatus
only_change_status (Fixture *f)
{
  g_autoptr(GPtrArray) changes = tether_sync_engine_list_changes (f->engine, -1, NULL);

  g_assert_cmpuint (changes->len, ==, 1);
  return tether_sync_change_get_status (changes->pdata[0]);
}

#define PULL_N2 "{\"changes\": [{\"collection\":\"notes\",\"recordId\":\"n2\",\"type\":\"create\"," \
                "\"data\":{\"id\":\"n2\",\"title\":\"from elsewhere\"},\"rev\":1}]," \
                "\"cursor\": \"1\", \"hasMore\": false}"

/* A push refused as a whole for the client's schema: the pull still
 * brings the others' changes, the change waits, the sync says why. */
static void
test_schema_refused_push (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  g_autofree char *title = NULL;
  Outcome outcome = { FALSE };

  f->push_status = 409;
  f->push_answer = g_strdup ("{\"error\": \"schema version 2 is newer than the server's 1\", \"code\": \"schema-too-new\"}");
  f->pull_answer = g_strdup (PULL_N2);
  sync_once (f, &outcome);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SCHEMA);
  g_assert_cmpuint (f->pushes, ==, 1);
  g_assert_cmpuint (f->pulls, ==, 1);
  title = title_of (f, "n2");
  g_assert_cmpstr (title, ==, "from elsewhere");
  g_assert_cmpint (only_change_status (f), ==, TETHER_CHANGE_PENDING);
  g_clear_error (&outcome.error);
}

/* A 404 page at a wrong address is no refusal of the change by a Tether
 * server: nothing is failed for it, and nothing is pulled. */
static void
test_not_tether_push (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  Outcome outcome = { FALSE };

  f->push_status = 404;
  f->push_type = "text/html";
  f->push_answer = g_strdup ("<!doctype html><title>Not Found</title>");
  f->pull_answer = g_strdup (PULL_N2);
  sync_once (f, &outcome);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_assert_cmpuint (f->pushes, ==, 1);
  g_assert_cmpuint (f->pulls, ==, 0);
  g_assert_cmpint (only_change_status (f), ==, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (f->engine), ==, 0);
  g_clear_error (&outcome.error);
}

/* A pull answer saying there is more, with no cursor or the one it was
 * asked from: asked again, the server would answer the same for ever.
 * The sync fails with PROTOCOL instead of spinning through its page
 * bound and calling that a success. */
static void
pull_stuck (Fixture    *f,
            const char *answer,
            guint       pulls)
{
  Outcome outcome = { FALSE };

  f->push_answer = g_strdup ("{\"accepted\": [], \"conflicts\": [], \"errors\": []}");
  f->pull_answer = g_strdup (answer);
  sync_once (f, &outcome);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (outcome.error->message, "no cursor past it"));
  g_assert_cmpuint (f->pulls, ==, pulls);
  g_clear_error (&outcome.error);
}

static void
test_pull_no_cursor (Fixture       *f,
                     gconstpointer  data)
{
  pull_stuck (f, "{\"changes\": [], \"cursor\": null, \"hasMore\": true}", 1);
}

static void
test_pull_same_cursor (Fixture       *f,
                       gconstpointer  data)
{
  pull_stuck (f, "{\"changes\": [], \"cursor\": \"5\", \"hasMore\": true}", 2);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  gboolean over = FALSE;

  g_timeout_add (ms, set_flag, &over);
  while (!over)
    g_main_context_iteration (NULL, TRUE);
}

/* A 429's Retry-After holds auto-sync back, also when the engine's
 * transport was replaced while the push was out (the preferences saved
 * the server again): the new transport never saw the 429. */
static void
test_retry_after_kept (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  Outcome outcome = { FALSE };
  guint timeout = g_timeout_add (SYNC_TIMEOUT_MS, time_out, NULL);

  f->push_status = 429;
  f->push_retry_after = "30";
  f->push_answer = g_strdup ("{\"error\": \"slow down\", \"code\": \"rate-limited\"}");
  f->pull_answer = g_strdup ("{\"changes\": [], \"cursor\": null, \"hasMore\": false}");
  tether_sync_engine_set_interval (f->engine, 3600);
  tether_sync_engine_set_debounce (f->engine, 10);
  tether_sync_engine_set_auto_sync (f->engine, TRUE);
  tether_sync_engine_sync_async (f->engine, NULL, on_synced, &outcome);
  tether_sync_engine_set_remote (f->engine, f->base, "token");
  while (!outcome.done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_RATE_LIMITED);
  run_for (2500);
  g_assert_cmpuint (f->pushes, ==, 1);
  tether_sync_engine_set_auto_sync (f->engine, FALSE);
  g_clear_error (&outcome.error);
}

/* The seed's server: accepted without rev, pulled changes without rev. The
 * engine says so and never loses a pending edit to a pulled change. */
static void
test_seed_server (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  g_autoptr(GPtrArray) changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_autofree char *first = g_strdup (tether_sync_change_get_id (changes->pdata[0]));
  g_autofree char *title = NULL;
  Outcome outcome = { FALSE };
  Outcome again = { FALSE };

  f->push_answer = g_strdup_printf ("{\"accepted\": [{\"id\": \"%s\", \"serverTimestamp\": \"2026-11-22T10:00:00.000Z\"}],"
                                    " \"conflicts\": []}", first);
  f->pull_answer = g_strdup ("{\"changes\": [{\"collection\":\"notes\",\"recordId\":\"n9\",\"type\":\"create\","
                             "\"data\":{\"id\":\"n9\",\"title\":\"from the seed server\"},"
                             "\"timestamp\":\"2026-11-22T10:00:01.000Z\"}], \"cursor\": \"c1\", \"hasMore\": false}");
  sync_once (f, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_true (tether_sync_engine_get_seed_compat (f->engine));
  g_assert_cmpuint (outcome.report.accepted, ==, 1);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (f->engine), ==, 0);
  title = title_of (f, "n9");
  g_assert_cmpstr (title, ==, "from the seed server");

  /* an unpushed edit meets a pulled version of the same record */
  g_clear_object (&record);
  record = tether_collection_update (notes (f), "n1", tether_test_object ("{\"title\":\"edited offline\"}"), NULL);
  g_free (f->push_answer);
  f->push_answer = g_strdup ("{\"accepted\": [], \"conflicts\": []}");   /* the server drops it */
  g_free (f->pull_answer);
  f->pull_answer = g_strdup ("{\"changes\": [{\"collection\":\"notes\",\"recordId\":\"n1\",\"type\":\"update\","
                             "\"data\":{\"id\":\"n1\",\"title\":\"older on the server\"},"
                             "\"timestamp\":\"2020-01-01T00:00:00.000Z\"}], \"cursor\": \"c2\", \"hasMore\": false}");
  sync_once (f, &again);
  g_clear_pointer (&title, g_free);
  title = title_of (f, "n1");
  g_assert_cmpstr (title, ==, "edited offline");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (f->engine) + tether_sync_engine_get_failed_count (f->engine), >=, 1);
  g_clear_error (&again.error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tether/sync/seed/malformed-push", Fixture, NULL, fixture_setup, test_malformed_push, fixture_teardown);
  g_test_add ("/tether/sync/seed/malformed-pull", Fixture, NULL, fixture_setup, test_malformed_pull, fixture_teardown);
  g_test_add ("/tether/sync/seed/schema-refused-push", Fixture, NULL, fixture_setup, test_schema_refused_push, fixture_teardown);
  g_test_add ("/tether/sync/seed/not-tether-push", Fixture, NULL, fixture_setup, test_not_tether_push, fixture_teardown);
  g_test_add ("/tether/sync/seed/pull-no-cursor", Fixture, NULL, fixture_setup, test_pull_no_cursor, fixture_teardown);
  g_test_add ("/tether/sync/seed/pull-same-cursor", Fixture, NULL, fixture_setup, test_pull_same_cursor, fixture_teardown);
  g_test_add ("/tether/sync/seed/retry-after-kept", Fixture, NULL, fixture_setup, test_retry_after_kept, fixture_teardown);
  g_test_add ("/tether/sync/seed/seed-server", Fixture, NULL, fixture_setup, test_seed_server, fixture_teardown);
  return g_test_run ();
}
