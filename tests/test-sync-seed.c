/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-seed"
#include "config.h"

#include <libsoup/soup.h>
#include <sqlite3.h>

#include "tether-test-util.h"

/* The sync engine against servers that are not tether-server: one of the
 * seed's design (no rev, no baseRev), and one whose answers are not
 * protocol JSON. A fake server in the test process answers with canned
 * bodies, or, as the seed's server, from what was pushed to it; the
 * engine runs on the same main context. */

#define SYNC_TIMEOUT_MS 20000

typedef struct _SeedStore SeedStore;

typedef struct {
  SoupServer *server;
  SeedStore  *seed;          /* non-NULL: answer as the seed's server from it */
  char       *base;
  char       *push_answer;   /* body of the next POST /push answers */
  guint       push_status;   /* 0: 200 */
  const char *push_type;     /* NULL: application/json */
  const char *push_retry_after;
  char       *pull_answer;
  gboolean    bad_cursor;    /* a pull with a cursor gets 400 bad-cursor */
  guint       pushes;
  guint       pulls;
  char       *dir;
  TetherDatabase   *db;
  TetherSyncEngine *engine;
  TetherDatabase   *other_db;    /* a second device, when a test makes one */
  TetherSyncEngine *other;
  void            (*during_pull) (gpointer data);   /* once, as a pull reaches the seed's server */
  gpointer          during_pull_data;
} Fixture;

static void seed_handle (Fixture           *f,
                         SoupServerMessage *msg,
                         const char        *path);

/* Whether a pull request names a cursor (null is none). */
static gboolean
has_cursor (SoupServerMessage *msg)
{
  g_autoptr(GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) request = json_from_string (text, &error);
  JsonNode *cursor;

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (request));
  cursor = json_object_get_member (json_node_get_object (request), "cursor");
  return cursor != NULL && !JSON_NODE_HOLDS_NULL (cursor);
}

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

  if (f->seed != NULL)
    {
      seed_handle (f, msg, path);
      return;
    }
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
      if (f->bad_cursor && has_cursor (msg))
        {
          status = 400;
          body = "{\"error\":\"The cursor is past the end of this user's changes\",\"code\":\"bad-cursor\"}";
        }
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

static void seed_store_free (SeedStore *store);

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->other);
  g_clear_object (&f->other_db);
  g_clear_object (&f->engine);
  g_clear_object (&f->db);
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  g_free (f->base);
  g_free (f->push_answer);
  g_free (f->pull_answer);
  g_clear_pointer (&f->seed, seed_store_free);
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
sync_engine (TetherSyncEngine *engine,
             Outcome          *outcome)
{
  guint timeout = g_timeout_add (SYNC_TIMEOUT_MS, time_out, NULL);

  tether_sync_engine_sync_async (engine, NULL, on_synced, outcome);
  while (!outcome->done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
}

static void
sync_once (Fixture *f,
           Outcome *outcome)
{
  sync_engine (f->engine, outcome);
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

/* A Tether server at a wrong path answers 404 with its protocol's body:
 * that is no refusal of what the batch holds either. Halved down to
 * single changes, each failed with "not-found"; now the sync fails at
 * once, saying where it went, and every change waits. */
static void
test_not_found_push (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TetherRecord) one = tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"mine\"}");
  g_autoptr(TetherRecord) two = tether_test_create (notes (f), "{\"id\":\"n2\",\"title\":\"also mine\"}");
  g_autoptr(GPtrArray) changes = NULL;
  Outcome outcome = { FALSE };

  f->push_status = 404;
  f->push_answer = g_strdup ("{\"error\": \"no such path\", \"code\": \"not-found\"}");
  f->pull_answer = g_strdup (PULL_N2);
  sync_once (f, &outcome);
  g_assert_false (outcome.ok);
  g_assert_error (outcome.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (outcome.error->message, f->base));
  g_assert_nonnull (strstr (outcome.error->message, "404"));
  g_assert_cmpuint (f->pushes, ==, 1);
  g_assert_cmpuint (f->pulls, ==, 0);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 2);
  for (guint i = 0; i < changes->len; i++)
    g_assert_cmpint (tether_sync_change_get_status (changes->pdata[i]), ==, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (f->engine), ==, 0);
  g_clear_error (&outcome.error);
}

/* sync.hlc as another process reads it from the file now. */
static char *
stored_clock (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "client.db", NULL);
  sqlite3 *other = NULL;
  sqlite3_stmt *stmt = NULL;
  char *hlc = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &other, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (other, "SELECT value FROM _tether_meta WHERE key = 'sync.hlc'",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    hlc = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (other);
  return hlc;
}

typedef struct {
  Fixture *f;
  char    *stored;   /* sync.hlc once the page was stored */
} ClockWatch;

static void
on_phase (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          ClockWatch       *watch)
{
  if (phase != TETHER_SYNC_PHASE_PULL)
    return;
  g_free (watch->stored);
  watch->stored = stored_clock (watch->f);
}

static char *
pull_page (const char *record_id,
           gint64      rev,
           const char *hlc)
{
  return g_strdup_printf ("{\"changes\": [{\"collection\":\"notes\",\"recordId\":\"%s\",\"type\":\"create\","
                          "\"data\":{\"id\":\"%s\",\"title\":\"from elsewhere\"},\"rev\":%" G_GINT64_FORMAT
                          ",\"hlc\":\"%s\"}], \"cursor\": \"%" G_GINT64_FORMAT "\", \"hasMore\": false}",
                          record_id, record_id, rev, hlc, rev);
}

/* The clock is stored with the page that moved it, and never lowered:
 * saved only as a sync ended, a kill before that lost it, and another
 * process's engine, opened earlier, wrote its older clock over it. A
 * local edit made after the page was then stamped before the version it
 * was made on. */
static void
test_clock_stored_with_page (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *path = g_build_filename (f->dir, "client.db", NULL);
  gint64 now = tether_time_now_ms ();
  g_autofree char *before = tether_hlc_format (now, 0, "otherdevice");
  g_autofree char *ahead = tether_hlc_format (now + 30 * 60 * 1000, 0, "otherdevice");
  g_autoptr(TetherDatabase) second_db = NULL;
  g_autoptr(TetherSyncEngine) second = NULL;
  g_autoptr(TetherRecord) edited = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *stored = NULL;
  ClockWatch watch = { f, NULL };
  Outcome outcome = { FALSE };

  f->push_answer = g_strdup ("{\"accepted\": [], \"conflicts\": [], \"errors\": []}");
  f->pull_answer = pull_page ("n1", 1, before);
  sync_once (f, &outcome);
  g_assert_no_error (outcome.error);

  /* another process on the file, its clock at the first page's */
  second_db = tether_test_open (path, NULL);
  second = tether_sync_engine_new (second_db, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_remote (second, f->base, "token");

  g_free (f->pull_answer);
  f->pull_answer = pull_page ("n2", 2, ahead);
  g_signal_connect (f->engine, "phase", G_CALLBACK (on_phase), &watch);
  outcome = (Outcome) { FALSE };
  sync_once (f, &outcome);
  g_assert_no_error (outcome.error);
  g_signal_handlers_disconnect_by_data (f->engine, &watch);
  g_assert_nonnull (watch.stored);
  g_assert_cmpint (tether_hlc_compare (watch.stored, ahead), >=, 0);

  g_free (f->pull_answer);
  f->pull_answer = g_strdup ("{\"changes\": [], \"cursor\": \"2\", \"hasMore\": false}");
  outcome = (Outcome) { FALSE };
  sync_engine (second, &outcome);
  g_assert_no_error (outcome.error);
  stored = stored_clock (f);
  g_assert_cmpint (tether_hlc_compare (stored, ahead), >=, 0);

  /* opened again, the file's next edit comes after what it has seen */
  g_clear_object (&second);
  g_clear_object (&second_db);
  g_clear_object (&f->engine);
  g_clear_object (&f->db);
  f->db = tether_test_open (path, NULL);
  edited = tether_test_create (notes (f), "{\"id\":\"n3\",\"title\":\"written after\"}");
  f->engine = tether_sync_engine_new (f->db, &error);
  g_assert_no_error (error);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 1);
  g_assert_cmpint (tether_hlc_compare (tether_sync_change_get_hlc (changes->pdata[0]), ahead), >, 0);
  g_free (watch.stored);
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

/* The server does not know the cursor of this sync's own pull from the
 * start either (its storage keeps changing): the sync resyncs once, then
 * fails with BAD_CURSOR and says so; nothing local is deleted. */
static void
test_bad_cursor_twice (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *title = NULL;
  Outcome first = { FALSE };
  Outcome second = { FALSE };

  f->pull_answer = g_strdup (PULL_N2);
  sync_once (f, &first);
  g_assert_no_error (first.error);
  title = title_of (f, "n2");
  g_assert_cmpstr (title, ==, "from elsewhere");

  f->bad_cursor = TRUE;
  g_free (f->pull_answer);
  f->pull_answer = g_strdup ("{\"changes\": [], \"cursor\": \"3\", \"hasMore\": true}");
  f->pulls = 0;
  sync_once (f, &second);
  g_assert_error (second.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_BAD_CURSOR);
  g_assert_nonnull (strstr (second.error->message, "from the start once already"));
  g_assert_nonnull (strstr (second.error->message, "past the end"));
  g_assert_cmpuint (f->pulls, ==, 3);   /* from "1", from null, from "3" */
  g_clear_pointer (&title, g_free);
  title = title_of (f, "n2");
  g_assert_cmpstr (title, ==, "from elsewhere");
  g_clear_error (&second.error);
}

/* A resync for a cursor the server did not know, cut off halfway, starts
 * over at the next sync: the record the server lost, which the first pull
 * had brought, goes up to it as a create. */
static void
test_bad_cursor_interrupted (Fixture       *f,
                             gconstpointer  data)
{
  Outcome first = { FALSE };
  Outcome cut = { FALSE };
  Outcome again = { FALSE };
  g_autoptr(GPtrArray) changes = NULL;

  f->pull_answer = g_strdup (PULL_N2);
  sync_once (f, &first);
  g_assert_no_error (first.error);

  f->bad_cursor = TRUE;
  g_free (f->pull_answer);
  f->pull_answer = g_strdup ("{\"changes\": 5, \"cursor\": \"1\", \"hasMore\": false}");
  sync_once (f, &cut);
  g_assert_error (cut.error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL);
  g_clear_error (&cut.error);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 0);
  g_clear_pointer (&changes, g_ptr_array_unref);

  f->bad_cursor = FALSE;
  g_free (f->pull_answer);
  f->pull_answer = g_strdup ("{\"changes\": [], \"cursor\": \"1\", \"hasMore\": false}");
  f->push_answer = g_strdup ("{\"accepted\": [], \"conflicts\": [], \"errors\": []}");
  sync_once (f, &again);
  g_assert_no_error (again.error);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 1);
  g_assert_cmpstr (tether_sync_change_get_record_id (changes->pdata[0]), ==, "n2");
  g_assert_cmpint (tether_sync_change_get_change_type (changes->pdata[0]), ==, TETHER_CHANGE_CREATE);
  g_assert_cmpuint (f->pushes, >, 0);
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

/* ------------------------------------------------------ the seed's server */

/* What the seed's server keeps of a record: its last write, no revision. */
typedef struct {
  char       *key;         /* "collection/recordId" */
  char       *collection;
  char       *record_id;
  char       *type;        /* of the last write */
  JsonObject *data;        /* NULL once deleted */
  char       *timestamp;   /* the last write's, as its client sent it */
  gint64      ms;
} SeedRecord;

struct _SeedStore {
  GHashTable *records;     /* key → SeedRecord */
  GPtrArray  *feed;        /* SeedRecord (borrowed) by position; NULL where a later write moved it on */
  guint       conflicts;   /* answered so far */
};

static void
seed_record_free (gpointer data)
{
  SeedRecord *record = data;

  g_free (record->key);
  g_free (record->collection);
  g_free (record->record_id);
  g_free (record->type);
  g_clear_pointer (&record->data, json_object_unref);
  g_free (record->timestamp);
  g_free (record);
}

static SeedStore *
seed_store_new (void)
{
  SeedStore *store = g_new0 (SeedStore, 1);

  store->records = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, seed_record_free);
  store->feed = g_ptr_array_new ();
  return store;
}

static void
seed_store_free (SeedStore *store)
{
  g_ptr_array_unref (store->feed);
  g_hash_table_unref (store->records);
  g_free (store);
}

static gint64
seed_ms (const char *timestamp)
{
  g_autoptr(GDateTime) time = timestamp != NULL ? g_date_time_new_from_iso8601 (timestamp, NULL) : NULL;

  if (time == NULL)
    g_error ("the seed server got a change without a timestamp it can read: %s",
             timestamp ? timestamp : "none");
  return g_date_time_to_unix (time) * 1000 + g_date_time_get_microsecond (time) / 1000;
}

/* The seed's rule: a create of a live record conflicts, and so does an
 * update or delete older than the record's last write. */
static gboolean
seed_conflicts (SeedRecord *stored,
                const char *type,
                gint64      ms)
{
  if (stored == NULL)
    return FALSE;
  if (g_str_equal (type, "create"))
    return stored->data != NULL;
  return stored->ms > ms;
}

static void
seed_write (SeedStore  *store,
            JsonObject *change,
            const char *key)
{
  SeedRecord *record = g_hash_table_lookup (store->records, key);
  JsonNode *data = json_object_get_member (change, "data");
  const char *type = json_object_get_string_member (change, "type");

  if (record == NULL)
    {
      record = g_new0 (SeedRecord, 1);
      record->key = g_strdup (key);
      record->collection = g_strdup (json_object_get_string_member (change, "collection"));
      record->record_id = g_strdup (json_object_get_string_member (change, "recordId"));
      g_hash_table_insert (store->records, record->key, record);
    }
  else
    {
      guint old;

      /* the feed holds a record's last write only */
      g_assert_true (g_ptr_array_find (store->feed, record, &old));
      store->feed->pdata[old] = NULL;
    }
  g_free (record->type);
  record->type = g_strdup (type);
  g_clear_pointer (&record->data, json_object_unref);
  if (!g_str_equal (type, "delete") && data != NULL && JSON_NODE_HOLDS_OBJECT (data))
    record->data = json_object_ref (json_node_get_object (data));
  g_free (record->timestamp);
  record->timestamp = g_strdup (json_object_get_string_member (change, "timestamp"));
  record->ms = seed_ms (record->timestamp);
  g_ptr_array_add (store->feed, record);
}

static JsonArray *
differing_fields (JsonObject *local,
                  JsonObject *remote)
{
  JsonArray *fields = json_array_new ();
  JsonObject *sides[] = { local, remote };

  for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
    {
      g_autoptr(GList) names = sides[s] ? json_object_get_members (sides[s]) : NULL;

      /* every member of the local side, and the remote's others */
      for (GList *l = names; l != NULL; l = l->next)
        {
          JsonNode *a = local ? json_object_get_member (local, l->data) : NULL;
          JsonNode *b = remote ? json_object_get_member (remote, l->data) : NULL;

          if ((s == 0 || a == NULL) && (a == NULL || b == NULL || !json_node_equal (a, b)))
            json_array_add_string_element (fields, l->data);
        }
    }
  return fields;
}

static JsonObject *
seed_conflict (JsonObject *change,
               SeedRecord *stored)
{
  JsonObject *conflict = json_object_new ();
  JsonNode *local = json_object_get_member (change, "data");
  JsonObject *local_data = local != NULL && JSON_NODE_HOLDS_OBJECT (local) ? json_node_get_object (local) : NULL;

  json_object_set_string_member (conflict, "changeId", json_object_get_string_member (change, "id"));
  json_object_set_string_member (conflict, "collection", stored->collection);
  json_object_set_string_member (conflict, "recordId", stored->record_id);
  if (local_data != NULL)
    json_object_set_object_member (conflict, "local", json_object_ref (local_data));
  else
    json_object_set_null_member (conflict, "local");
  if (stored->data != NULL)
    json_object_set_object_member (conflict, "remote", json_object_ref (stored->data));
  else
    json_object_set_null_member (conflict, "remote");
  json_object_set_string_member (conflict, "localTimestamp", json_object_get_string_member (change, "timestamp"));
  json_object_set_string_member (conflict, "remoteTimestamp", stored->timestamp);
  json_object_set_array_member (conflict, "fieldConflicts", differing_fields (local_data, stored->data));
  return conflict;
}

static char *
object_text (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);

  return json_to_string (node, FALSE);
}

/* Accepted entries carry no rev: the seed's answer. */
static char *
seed_push (SeedStore  *store,
           JsonObject *request)
{
  JsonArray *changes = json_object_get_array_member (request, "changes");
  g_autoptr(JsonObject) answer = json_object_new ();
  JsonArray *accepted = json_array_new ();
  JsonArray *conflicts = json_array_new ();

  json_object_set_array_member (answer, "accepted", accepted);
  json_object_set_array_member (answer, "conflicts", conflicts);
  json_object_set_array_member (answer, "errors", json_array_new ());
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      const char *id = json_object_get_string_member (change, "id");
      g_autofree char *key = g_strdup_printf ("%s/%s", json_object_get_string_member (change, "collection"),
                                              json_object_get_string_member (change, "recordId"));
      SeedRecord *stored = g_hash_table_lookup (store->records, key);
      g_autofree char *now = NULL;
      JsonObject *entry;

      if (seed_conflicts (stored, json_object_get_string_member (change, "type"),
                          seed_ms (json_object_get_string_member (change, "timestamp"))))
        {
          json_array_add_object_element (conflicts, seed_conflict (change, stored));
          store->conflicts++;
          continue;
        }
      seed_write (store, change, key);
      now = tether_time_format_ms (tether_time_now_ms ());
      entry = json_object_new ();
      json_object_set_string_member (entry, "id", id);
      json_object_set_string_member (entry, "serverTimestamp", now);
      json_array_add_object_element (accepted, entry);
    }
  return object_text (answer);
}

static gboolean
seed_wanted (JsonArray  *collections,
             SeedRecord *record)
{
  if (record == NULL)
    return FALSE;
  for (guint i = 0; collections != NULL && i < json_array_get_length (collections); i++)
    if (g_str_equal (json_array_get_string_element (collections, i), record->collection))
      return TRUE;
  return collections == NULL;
}

static JsonObject *
seed_change (SeedRecord *record,
             guint       position)
{
  JsonObject *change = json_object_new ();
  g_autofree char *id = g_strdup_printf ("seed-%u", position);

  json_object_set_string_member (change, "id", id);
  json_object_set_string_member (change, "collection", record->collection);
  json_object_set_string_member (change, "recordId", record->record_id);
  json_object_set_string_member (change, "type", record->type);
  if (record->data != NULL)
    json_object_set_object_member (change, "data", json_object_ref (record->data));
  else
    json_object_set_null_member (change, "data");
  json_object_set_string_member (change, "timestamp", record->timestamp);
  return change;
}

/* The feed from a cursor "p<position>": every record's last write once,
 * no rev, no hlc. */
static char *
seed_pull (SeedStore  *store,
           JsonObject *request)
{
  JsonNode *cursor = json_object_get_member (request, "cursor");
  JsonArray *collections = json_object_has_member (request, "collections")
    ? json_object_get_array_member (request, "collections") : NULL;
  gint64 batch = json_object_get_int_member_with_default (request, "batchSize", 100);
  g_autoptr(JsonObject) answer = json_object_new ();
  JsonArray *changes = json_array_new ();
  g_autofree char *next = NULL;
  gboolean more = FALSE;
  guint at = 0;

  if (cursor != NULL && JSON_NODE_HOLDS_VALUE (cursor))
    {
      const char *text = json_node_get_string (cursor);

      g_assert_true (text != NULL && text[0] == 'p');
      at = (guint) g_ascii_strtoull (text + 1, NULL, 10);
    }
  json_object_set_array_member (answer, "changes", changes);
  for (; at < store->feed->len && json_array_get_length (changes) < (guint) batch; at++)
    if (seed_wanted (collections, store->feed->pdata[at]))
      json_array_add_object_element (changes, seed_change (store->feed->pdata[at], at));
  for (guint i = at; i < store->feed->len && !more; i++)
    more = seed_wanted (collections, store->feed->pdata[i]);
  next = g_strdup_printf ("p%u", at);
  json_object_set_string_member (answer, "cursor", next);
  json_object_set_boolean_member (answer, "hasMore", more);
  return object_text (answer);
}

static void
seed_handle (Fixture           *f,
             SoupServerMessage *msg,
             const char        *path)
{
  g_autoptr(GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_autofree char *answer = NULL;
  g_autoptr(JsonNode) request = NULL;
  g_autoptr(GError) error = NULL;
  gboolean push = g_str_has_suffix (path, "/push");

  if (push || g_str_has_suffix (path, "/pull"))
    {
      /* the seed's server never offered gzip, so nothing comes compressed */
      g_assert_null (soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Content-Encoding"));
      request = json_from_string (text, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (request));
      if (push)
        f->pushes++;
      else
        f->pulls++;
      if (!push && f->during_pull != NULL)
        {
          void (*write) (gpointer) = f->during_pull;

          f->during_pull = NULL;
          write (f->during_pull_data);
        }
      answer = (push ? seed_push : seed_pull) (f->seed, json_node_get_object (request));
    }
  else
    answer = g_strdup ("{}");
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, answer, strlen (answer));
}

/* A second device on the fake server. */
static TetherSyncEngine *
other_device (Fixture *f)
{
  g_autofree char *path = g_build_filename (f->dir, "other.db", NULL);
  g_autoptr(GError) error = NULL;

  f->other_db = tether_test_open (path, NULL);
  f->other = tether_sync_engine_new (f->other_db, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_remote (f->other, f->base, "token");
  return f->other;
}

static TetherSyncReport
seed_sync (TetherSyncEngine *engine)
{
  Outcome outcome = { FALSE };

  sync_engine (engine, &outcome);
  g_assert_no_error (outcome.error);
  g_assert_true (outcome.ok);
  g_assert_true (tether_sync_engine_get_seed_compat (engine));
  return outcome.report;
}

/* Until the wall clock, which stamps every change, is past @ms. */
static void
tick_past (gint64 ms)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (tether_time_now_ms () <= ms)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("the wall clock did not move past %" G_GINT64_FORMAT " ms", ms);
      g_usleep (100);
    }
}

static TetherCollection *
notes_of (TetherDatabase *db)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *collection = tether_database_get_collection (db, "notes", &error);

  g_assert_no_error (error);
  return collection;
}

static void
edit (TetherDatabase *db,
      const char     *id,
      const char     *patch)
{
  g_autoptr(JsonObject) data = tether_test_object (patch);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_update (notes_of (db), id, data, &error);

  g_assert_no_error (error);
}

/* @db holds exactly the live records of the seed's server, and nothing
 * waits to be pushed or failed. */
static void
assert_same_as_seed (Fixture          *f,
                     TetherDatabase   *db,
                     TetherSyncEngine *engine)
{
  g_autoptr(GPtrArray) all = tether_collection_get_all (notes_of (db), NULL);
  GHashTableIter iter;
  SeedRecord *stored;
  guint live = 0;

  g_assert_cmpuint (tether_sync_engine_get_pending_count (engine), ==, 0);
  g_assert_cmpuint (tether_sync_engine_get_failed_count (engine), ==, 0);
  g_hash_table_iter_init (&iter, f->seed->records);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &stored))
    {
      g_autoptr(TetherRecord) record = NULL;
      g_autofree char *server = NULL;
      g_autofree char *local = NULL;

      if (stored->data == NULL)
        continue;
      live++;
      record = tether_collection_get (notes_of (db), stored->record_id, NULL);
      g_assert_nonnull (record);
      server = object_text (stored->data);
      local = object_text (tether_record_get_data (record));
      if (!json_object_equal (stored->data, tether_record_get_data (record)))
        g_assert_cmpstr (local, ==, server);
    }
  g_assert_cmpuint (all->len, ==, live);
}

static void
assert_note (TetherDatabase *db,
             const char     *id,
             const char     *field,
             const char     *value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_get (notes_of (db), id, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (record, field, NULL), ==, value);
}

/* Two devices through the seed's server: records without rev, pushes
 * judged by their timestamps (protocol.md, "Compatibility"). Offline
 * edits on both reach both; the one older than the server's copy meets a
 * conflict, is merged and pushed again, and no pending edit is lost. */
static void
test_seed_server (Fixture       *f,
                  gconstpointer  data)
{
  TetherSyncEngine *a = f->engine;
  TetherSyncEngine *b = other_device (f);
  TetherDatabase *devices[] = { f->db, f->other_db };
  TetherSyncEngine *engines[] = { a, b };
  TetherSyncReport report;

  f->seed = seed_store_new ();
  g_object_unref (tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"first\",\"body\":\"line one\\n\"}"));
  g_object_unref (tether_test_create (notes (f), "{\"id\":\"n2\",\"title\":\"second\"}"));
  report = seed_sync (a);
  g_assert_cmpuint (report.accepted, ==, 2);
  report = seed_sync (b);
  g_assert_cmpuint (report.applied, ==, 2);

  /* offline: A's title edit, then B's body edit a clock tick later */
  edit (f->db, "n1", "{\"title\":\"title from A\"}");
  g_object_unref (tether_test_create (notes (f), "{\"id\":\"a1\",\"title\":\"only A wrote this\"}"));
  tick_past (tether_time_now_ms ());
  edit (f->other_db, "n1", "{\"body\":\"body from B\\n\"}");
  g_object_unref (tether_test_create (notes_of (f->other_db), "{\"id\":\"b1\",\"title\":\"only B wrote this\"}"));
  g_assert_true (tether_collection_delete (notes_of (f->other_db), "n2", NULL));

  /* B first: the server takes its edits as they are */
  report = seed_sync (b);
  g_assert_cmpuint (report.accepted, ==, 3);
  g_assert_cmpuint (report.conflicts, ==, 0);
  /* A's edit is older than B's write of n1: a conflict, merged field by
   * field on the copy A had pulled, and the merge pushed in the same sync */
  report = seed_sync (a);
  g_assert_cmpuint (report.conflicts, ==, 1);
  g_assert_cmpuint (f->seed->conflicts, ==, 1);
  report = seed_sync (b);
  g_assert_cmpuint (report.conflicts, ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (devices); i++)
    {
      g_autoptr(GPtrArray) conflicts = tether_sync_engine_list_conflicts (engines[i], FALSE, NULL);

      assert_note (devices[i], "n1", "title", "title from A");
      assert_note (devices[i], "n1", "body", "body from B\n");
      assert_note (devices[i], "a1", "title", "only A wrote this");
      assert_note (devices[i], "b1", "title", "only B wrote this");
      g_assert_null (tether_collection_get (notes_of (devices[i]), "n2", NULL));
      assert_same_as_seed (f, devices[i], engines[i]);
      /* both edits survived, so nothing is kept as a loser */
      g_assert_cmpuint (conflicts->len, ==, 0);
    }
}

static void
retitle_a (gpointer data)
{
  edit (data, "n1", "{\"title\":\"typed during the pull\"}");
}

/* The seed's server sends no rev and no hlc, so a pulled version never
 * takes a field from a pending edit: the edit made while A's pull was out
 * wins over B's title, which is kept as the loser, and goes up in the same
 * sync. */
static void
test_seed_server_edit_during_pull (Fixture       *f,
                                   gconstpointer  data)
{
  TetherSyncEngine *a = f->engine;
  TetherSyncEngine *b = other_device (f);
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autoptr(GPtrArray) others = NULL;
  TetherSyncReport report;

  f->seed = seed_store_new ();
  g_object_unref (tether_test_create (notes (f), "{\"id\":\"n1\",\"title\":\"first\"}"));
  seed_sync (a);
  seed_sync (b);
  edit (f->other_db, "n1", "{\"title\":\"from B\"}");
  seed_sync (b);

  f->during_pull = retitle_a;
  f->during_pull_data = f->db;
  report = seed_sync (a);
  g_assert_null (f->during_pull);
  g_assert_cmpuint (report.merged, ==, 1);
  g_assert_cmpuint (f->seed->conflicts, ==, 0);
  seed_sync (b);

  assert_note (f->db, "n1", "title", "typed during the pull");
  assert_note (f->other_db, "n1", "title", "typed during the pull");
  assert_same_as_seed (f, f->db, a);
  assert_same_as_seed (f, f->other_db, b);
  conflicts = tether_sync_engine_list_conflicts (a, FALSE, NULL);
  g_assert_cmpuint (conflicts->len, ==, 1);
  g_assert_cmpint (tether_conflict_get_winner (conflicts->pdata[0]), ==, TETHER_CONFLICT_WINNER_LOCAL);
  g_assert_cmpstr (json_object_get_string_member (tether_conflict_get_loser (conflicts->pdata[0]), "title"), ==,
                   "from B");
  others = tether_sync_engine_list_conflicts (b, FALSE, NULL);
  g_assert_cmpuint (others->len, ==, 0);
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
  g_test_add ("/tether/sync/seed/not-found-push", Fixture, NULL, fixture_setup, test_not_found_push, fixture_teardown);
  g_test_add ("/tether/sync/seed/clock-stored-with-page", Fixture, NULL, fixture_setup,
              test_clock_stored_with_page, fixture_teardown);
  g_test_add ("/tether/sync/seed/pull-no-cursor", Fixture, NULL, fixture_setup, test_pull_no_cursor, fixture_teardown);
  g_test_add ("/tether/sync/seed/pull-same-cursor", Fixture, NULL, fixture_setup, test_pull_same_cursor, fixture_teardown);
  g_test_add ("/tether/sync/seed/bad-cursor-twice", Fixture, NULL, fixture_setup, test_bad_cursor_twice, fixture_teardown);
  g_test_add ("/tether/sync/seed/bad-cursor-interrupted", Fixture, NULL, fixture_setup,
              test_bad_cursor_interrupted, fixture_teardown);
  g_test_add ("/tether/sync/seed/retry-after-kept", Fixture, NULL, fixture_setup, test_retry_after_kept, fixture_teardown);
  g_test_add ("/tether/sync/seed/seed-server", Fixture, NULL, fixture_setup, test_seed_server, fixture_teardown);
  g_test_add ("/tether/sync/seed/seed-server-edit-during-pull", Fixture, NULL, fixture_setup,
              test_seed_server_edit_during_pull, fixture_teardown);
  return g_test_run ();
}
