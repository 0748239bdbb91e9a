/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-inspector"
#include "config.h"

#include <signal.h>
#include <string.h>

#include <adwaita.h>

#include "tether-app-resources.h"
#include "tether-change-model.h"
#include "tether-inspector.h"
#include "tether-sync-private.h"
#include "tether-test-app.h"
#include "tether-test-server.h"
#include "tether-test-util.h"

/* The change model answers the engine with the smallest items-changed, and
 * the inspector follows a real engine on a real database file through its
 * signals alone: the tests only write, sync and iterate the main loop.
 * Syncs go to a real tether-server (tether-test-server.h) whose schema
 * refuses a title that starts with "Bad", so such changes fail; a second
 * engine on a file of its own plays another device of the same user, for
 * real conflicts. */

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}}}}}"
/* The server's: the same, but stricter than the app about titles. */
#define SERVER_SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"notes\": {\"fields\": {\"title\": {\"type\": \"string\", \"pattern\": \"^(?!Bad)\"}," \
  " \"body\": {\"type\": \"string\"}}}}}"

/* What the server says of such a title (the rule it breaks). */
#define REFUSED "does not match pattern ^(?!Bad)"

#define WAIT_MS 5000
#define SYNC_WAIT_MS 30000   /* a sync, however slow the machine */

/* What one test works with ------------------------------------------------- */

typedef struct {
  Fixture          *server_fixture;  /* tether-test-server.h: dir, users, servers */
  Server           *server;          /* started at the first sync */
  TetherTransport  *transport;       /* HTTP to it, as alice */
  gboolean          held;            /* the server is stopped: see hold_server() */
  TetherDatabase   *db;
  TetherSyncEngine *engine;
  TetherCollection *notes;
  TetherDatabase   *other_db;        /* another device of alice's */
  TetherSyncEngine *other;
  TetherDatabase   *cli_db;          /* this file, as another process opens it */
  TetherSyncEngine *cli;
  GtkWidget        *window;
  TetherInspector  *inspector;
  GSocket          *closed;          /* bound, not listening: see closed_url() */
} Inspect;

static void resume_server (Inspect *f);

static void
inspect_free (gpointer data)
{
  Inspect *f = data;

  if (f->held)
    resume_server (f);
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  tether_test_app_drain ();
  if (f->transport != NULL)
    tether_transport_disconnect (f->transport);
  /* Neither the inspector nor its model keeps the engine alive. */
  g_assert_finalize_object (g_steal_pointer (&f->engine));
  g_clear_object (&f->transport);
  g_clear_object (&f->other);
  if (f->other_db != NULL)
    tether_database_close (f->other_db);
  g_clear_object (&f->other_db);
  g_clear_object (&f->cli);
  if (f->cli_db != NULL)
    tether_database_close (f->cli_db);
  g_clear_object (&f->cli_db);
  if (f->closed != NULL)
    g_socket_close (f->closed, NULL);
  g_clear_object (&f->closed);
  tether_database_close (f->db);
  g_clear_object (&f->db);
  g_main_context_push_thread_default (f->server_fixture->context);
  g_free (f);
}

/* The widgets and the engines live on the default main context, which
 * tether_test_app_wait() iterates, not on the fixture's. Freed with the
 * test, before the fixture stops its servers. */
static Inspect *
inspect_new (Fixture *server_fixture)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autofree char *path = g_build_filename (server_fixture->dir, "tether.db", NULL);
  g_autoptr(GError) error = NULL;
  Inspect *f = g_new0 (Inspect, 1);

  g_main_context_pop_thread_default (server_fixture->context);
  f->server_fixture = server_fixture;
  f->db = tether_test_open (path, schema);
  f->engine = tether_sync_engine_new (f->db, &error);
  g_assert_no_error (error);
  f->notes = tether_database_get_collection (f->db, "notes", &error);
  g_assert_no_error (error);
  g_test_queue_destroy (inspect_free, f);
  return f;
}

/* The server, started at the first use. */
static TetherTransport *
server_transport (Inspect *f)
{
  g_autofree char *schema = NULL;
  g_autoptr(GError) error = NULL;

  if (f->transport != NULL)
    return f->transport;
  schema = g_build_filename (f->server_fixture->dir, "server-schema.json", NULL);
  g_file_set_contents (schema, SERVER_SCHEMA, -1, &error);
  g_assert_no_error (error);
  f->server = server_start (f->server_fixture, (const char * const[]) { "--schema", schema, NULL });
  f->transport = TETHER_TRANSPORT (tether_http_transport_new (f->server->base, f->server_fixture->alice));
  return f->transport;
}

/* kill() at once: g_subprocess_send_signal() leaves it to GLib's worker
 * thread, and a request sent meanwhile could still be answered. */
static void
signal_server (Inspect *f,
               int      signum)
{
  const char *pid = g_subprocess_get_identifier (f->server->process);

  g_assert_nonnull (pid);
  g_assert_cmpint (kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), signum), ==, 0);
}

/* Whether the kernel shows the server stopped ('T' in /proc/PID/stat). */
static gboolean
server_is_stopped (Inspect *f)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", g_subprocess_get_identifier (f->server->process));
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || (end = strrchr (stat, ')')) == NULL)
    return FALSE;
  return end[1] == ' ' && end[2] == 'T';
}

/* A server that takes requests and does not answer them yet, as a slow one
 * would: the process is stopped (SIGSTOP), and the kernel still accepts its
 * connections and takes the request bytes. resume_server() lets it go on. */
static void
hold_server (Inspect *f)
{
  server_transport (f);
  g_assert_false (f->held);
  signal_server (f, SIGSTOP);
  f->held = TRUE;
  for (guint waited_ms = 0; !server_is_stopped (f); waited_ms++)
    {
      if (waited_ms >= WAIT_MS)
        g_error ("tether-server did not stop on SIGSTOP");
      g_usleep (1000);
    }
}

static void
resume_server (Inspect *f)
{
  g_assert_true (f->held);
  signal_server (f, SIGCONT);
  f->held = FALSE;
}

/* The other device: alice's too, on a database file of its own. */
static TetherSyncEngine *
other_device (Inspect *f)
{
  g_autoptr(TetherSchema) schema = NULL;
  g_autoptr(TetherHttpTransport) transport = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (f->other != NULL)
    return f->other;
  schema = tether_test_schema (SCHEMA);
  path = g_build_filename (f->server_fixture->dir, "other.db", NULL);
  f->other_db = tether_test_open (path, schema);
  f->other = tether_sync_engine_new (f->other_db, &error);
  g_assert_no_error (error);
  server_transport (f);
  transport = tether_http_transport_new (f->server->base, f->server_fixture->alice);
  tether_sync_engine_set_transport (f->other, TETHER_TRANSPORT (transport));
  return f->other;
}

/* The other device writes a note with @id, and syncs it. */
static void
other_write (Inspect    *f,
             const char *id,
             const char *title,
             const char *body)
{
  TetherSyncEngine *other = other_device (f);
  g_autofree char *json = g_strdup_printf ("{\"id\": \"%s\", \"title\": \"%s\", \"body\": \"%s\"}", id, title, body);
  g_autoptr(GError) error = NULL;

  g_object_unref (tether_test_create (tether_database_get_collection (f->other_db, "notes", NULL), json));
  g_assert_true (tether_sync_engine_sync (other, NULL, &error));
  g_assert_no_error (error);
}

static guint
count_conflicts (Inspect *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = tether_sync_engine_list_conflicts (f->engine, FALSE, &error);

  g_assert_no_error (error);
  return conflicts->len;
}

static char *
write_note (Inspect    *f,
            const char *title)
{
  g_autofree char *json = g_strdup_printf ("{\"title\": \"%s\", \"body\": \"Some text\"}", title);
  g_autoptr(TetherRecord) record = tether_test_create (f->notes, json);

  return g_strdup (tether_record_get_id (record));
}

static void
update_note (Inspect    *f,
             const char *id,
             const char *title)
{
  g_autofree char *json = g_strdup_printf ("{\"title\": \"%s\"}", title);
  g_autoptr(JsonObject) patch = tether_test_object (json);
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) error = NULL;

  record = tether_collection_update (f->notes, id, patch, &error);
  g_assert_no_error (error);
}

/* A sync on a private context: the signals it emits only queue work on the
 * default context, which the tests then let run. */
static void
sync_blocking (Inspect *f)
{
  g_autoptr(GError) error = NULL;

  tether_sync_engine_set_transport (f->engine, server_transport (f));
  tether_sync_engine_sync (f->engine, NULL, &error);
  g_assert_no_error (error);
}

/* The change model ---------------------------------------------------------- */

typedef struct {
  guint position, removed, added;
} Change;

typedef struct {
  GListModel *model;
  GArray     *changes;   /* Change */
} Recorder;

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Recorder   *recorder)
{
  Change change = { position, removed, added };

  g_array_append_val (recorder->changes, change);
}

static Recorder *
recorder_new (TetherChangeModel *model)
{
  Recorder *recorder = g_new0 (Recorder, 1);

  recorder->model = G_LIST_MODEL (model);
  recorder->changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_signal_connect (model, "items-changed", G_CALLBACK (on_items_changed), recorder);
  return recorder;
}

static void
recorder_free (Recorder *recorder)
{
  g_signal_handlers_disconnect_by_data (recorder->model, recorder);
  g_array_unref (recorder->changes);
  g_free (recorder);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Recorder, recorder_free)

/* Let the model's idle reload run, then expect exactly @expected. */
static void
assert_changes (Recorder     *recorder,
                const Change *expected,
                guint         n_expected)
{
  tether_test_app_drain ();
  g_assert_cmpuint (recorder->changes->len, ==, n_expected);
  for (guint i = 0; i < n_expected; i++)
    {
      Change *got = &g_array_index (recorder->changes, Change, i);

      g_assert_cmpuint (got->position, ==, expected[i].position);
      g_assert_cmpuint (got->removed, ==, expected[i].removed);
      g_assert_cmpuint (got->added, ==, expected[i].added);
    }
  g_array_set_size (recorder->changes, 0);
}

static TetherSyncChange *
item (TetherChangeModel *model,
      guint              position)
{
  TetherSyncChange *change = g_list_model_get_item (G_LIST_MODEL (model), position);

  g_assert_nonnull (change);
  g_object_unref (change);   /* the model keeps it */
  return change;
}

static void
test_model_append (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autoptr(TetherChangeModel) model = NULL;
  g_autoptr(Recorder) recorder = NULL;
  g_autofree char *first = write_note (f, "First");
  TetherSyncChange *kept;

  model = tether_change_model_new (f->engine);
  recorder = recorder_new (model);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 1);
  kept = item (model, 0);

  /* Three writes in one burst: one reload, one range at the end. */
  g_free (write_note (f, "Second"));
  g_free (write_note (f, "Third"));
  g_free (write_note (f, "Fourth"));
  assert_changes (recorder, (Change[]) { { 1, 0, 3 } }, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 4);
  g_assert_true (item (model, 0) == kept);
  g_assert_cmpstr (tether_sync_change_get_title (item (model, 3)), ==, "Fourth");

  /* Nothing moved: nothing said. */
  g_signal_emit_by_name (f->engine, "queue-changed");
  assert_changes (recorder, NULL, 0);
}

static void
test_model_status (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autoptr(TetherChangeModel) model = tether_change_model_new (f->engine);
  g_autoptr(Recorder) recorder = recorder_new (model);
  g_autoptr(GError) error = NULL;
  TetherSyncChange *bad;

  g_free (write_note (f, "Alpha"));
  g_free (write_note (f, "Bad idea"));
  g_free (write_note (f, "Gamma"));
  assert_changes (recorder, (Change[]) { { 0, 0, 3 } }, 1);

  /* Alpha and Gamma are accepted and leave; Bad idea fails in place. */
  sync_blocking (f);
  assert_changes (recorder, (Change[]) { { 0, 1, 0 }, { 0, 1, 1 }, { 1, 1, 0 } }, 3);
  bad = item (model, 0);
  g_assert_cmpint (tether_sync_change_get_status (bad), ==, TETHER_CHANGE_FAILED);
  g_assert_nonnull (tether_sync_change_get_error (bad));

  /* Retry: one status change is one replacement. */
  g_free (write_note (f, "Delta"));
  assert_changes (recorder, (Change[]) { { 1, 0, 1 } }, 1);
  g_assert_cmpint (tether_sync_engine_retry_failed (f->engine, &error), ==, 1);
  g_assert_no_error (error);
  assert_changes (recorder, (Change[]) { { 0, 1, 1 } }, 1);
  g_assert_cmpint (tether_sync_change_get_status (item (model, 0)), ==, TETHER_CHANGE_PENDING);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 2);
}

static void
test_model_compact_discard (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autofree char *a = write_note (f, "Draft");
  g_autofree char *b = write_note (f, "Other");
  g_autoptr(TetherChangeModel) model = NULL;
  g_autoptr(Recorder) recorder = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncChange *other;

  update_note (f, a, "Draft 2");
  update_note (f, a, "Draft 3");
  model = tether_change_model_new (f->engine);
  recorder = recorder_new (model);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 4);
  other = item (model, 1);

  /* Draft: create, update, update → one create (the newest entry). */
  g_assert_cmpint (tether_sync_engine_compact (f->engine, &error), ==, 2);
  g_assert_no_error (error);
  assert_changes (recorder, (Change[]) { { 0, 1, 0 }, { 1, 1, 0 }, { 1, 1, 1 } }, 3);
  g_assert_true (item (model, 0) == other);
  g_assert_cmpint (tether_sync_change_get_change_type (item (model, 1)), ==, TETHER_CHANGE_CREATE);
  g_assert_cmpstr (tether_sync_change_get_title (item (model, 1)), ==, "Draft 3");

  g_assert_true (tether_sync_engine_discard (f->engine, tether_sync_change_get_id (other), &error));
  g_assert_no_error (error);
  assert_changes (recorder, (Change[]) { { 0, 1, 0 } }, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 1);
}

static void
count_signal (guint *count)
{
  (*count)++;
}

/* "phase" handler, swapped: counts the starts of syncs. */
static void
count_start (guint           *count,
             TetherSyncPhase  phase)
{
  if (phase == TETHER_SYNC_PHASE_START)
    (*count)++;
}

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

/* A sync reads the log when it says the queue moved (ten times a second at
 * most, and at its end) and when it starts, not after every batch or page:
 * with the inspector open, a large first push is not slowed down by it.
 * Reads are counted, not items-changed: one read may report two ranges
 * (rows that left and rows that moved), depending on where the sync was. */
static void
test_model_sync_reads (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autoptr(TetherChangeModel) model = NULL;
  guint queue_changed = 0, starts = 0, reads_before;
  gboolean done = FALSE;

  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *title = g_strdup_printf ("Note %u", i);

      g_free (write_note (f, title));
    }
  model = tether_change_model_new (f->engine);
  tether_test_app_drain ();
  reads_before = tether_change_model_get_n_reads (model);

  /* One change a batch: forty answers on the main loop. */
  tether_sync_engine_set_batch_size (f->engine, 1);
  tether_sync_engine_set_transport (f->engine, server_transport (f));
  g_signal_connect_swapped (f->engine, "queue-changed", G_CALLBACK (count_signal), &queue_changed);
  g_signal_connect_swapped (f->engine, "phase", G_CALLBACK (count_start), &starts);
  tether_sync_engine_sync_async (f->engine, NULL, sync_done, &done);
  g_assert_true (tether_test_app_wait (flag_set, &done, WAIT_MS));
  g_assert_null (tether_sync_engine_get_last_error (f->engine));
  tether_test_app_drain ();
  g_signal_handlers_disconnect_by_data (f->engine, &queue_changed);
  g_signal_handlers_disconnect_by_data (f->engine, &starts);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 0);
  g_test_message ("%u queue-changed, %u starts, %u reads", queue_changed, starts,
                  tether_change_model_get_n_reads (model) - reads_before);
  g_assert_cmpuint (starts, >=, 1);
  g_assert_cmpuint (tether_change_model_get_n_reads (model) - reads_before, <=, queue_changed + starts);
}

/* The inspector ------------------------------------------------------------- */

/* Up, and laid out. */
static gboolean
is_shown (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0;
}

/* On screen, and done with what its first showing set off. */
static void
show_inspector (Inspect *f)
{
  f->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (f->window), 480, 720);
  f->inspector = TETHER_INSPECTOR (tether_inspector_new ());
  gtk_window_set_child (GTK_WINDOW (f->window), GTK_WIDGET (f->inspector));
  tether_inspector_set_engine (f->inspector, f->engine);
  gtk_window_present (GTK_WINDOW (f->window));
  g_assert_true (tether_test_app_wait (is_shown, f->inspector, WAIT_MS));
  tether_test_app_drain ();
}

static gpointer
child (Inspect    *f,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (f->inspector), TETHER_TYPE_INSPECTOR, name);

  g_assert_nonnull (object);
  return object;
}

typedef struct {
  Inspect    *f;
  const char *name;
  const char *text;
} LabelIs;

static gboolean
label_is (gpointer data)
{
  LabelIs *check = data;

  return g_strcmp0 (gtk_label_get_text (child (check->f, check->name)), check->text) == 0;
}

static void
wait_label (Inspect    *f,
            const char *name,
            const char *text)
{
  LabelIs check = { f, name, text };

  if (!tether_test_app_wait (label_is, &check, WAIT_MS))
    g_error ("%s shows “%s”, expected “%s”", name, gtk_label_get_text (child (f, name)), text);
}

/* Every label text under @widget, one per line: what a person can read. */
static void
collect_text (GtkWidget *widget,
              GString   *out)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget))
    g_string_append_printf (out, "%s\n", gtk_label_get_text (GTK_LABEL (widget)));
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    collect_text (c, out);
}

static char *
visible_text (GtkWidget *widget)
{
  GString *out = g_string_new (NULL);

  collect_text (widget, out);
  return g_string_free (out, FALSE);
}

static GtkLabel *
find_label (GtkWidget  *widget,
            const char *text)
{
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return GTK_LABEL (widget);
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkLabel *found = find_label (c, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

typedef struct {
  GtkWidget  *widget;
  const char *text;
} Shows;

static gboolean
shows (gpointer data)
{
  Shows *check = data;
  g_autofree char *text = visible_text (check->widget);

  return strstr (text, check->text) != NULL;
}

static void
wait_shows (GtkWidget  *widget,
            const char *text)
{
  Shows check = { widget, text };

  if (!tether_test_app_wait (shows, &check, WAIT_MS))
    {
      g_autofree char *seen = visible_text (widget);

      g_error ("“%s” never showed; the widget shows:\n%s", text, seen);
    }
}

static GtkWidget *
find_button (GtkWidget  *widget,
             const char *action)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_button (c, action);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Whether the header's button for @action can be clicked. */
static gboolean
can_click (Inspect    *f,
           const char *action)
{
  GtkWidget *button = find_button (GTK_WIDGET (f->inspector), action);

  g_assert_nonnull (button);
  return gtk_widget_is_sensitive (button);
}

static void
save_png (GtkWidget  *widget,
          const char *file)
{
  g_autofree char *path = g_build_filename (g_getenv ("G_TEST_BUILDDIR") ? g_getenv ("G_TEST_BUILDDIR") : ".",
                                            file, NULL);

  tether_test_app_snapshot (widget, path);
  g_test_message ("wrote %s", path);
}

static void
test_inspector_live (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  GtkColumnView *view;
  g_autofree char *groceries = NULL;

  show_inspector (f);
  view = child (f, "queue_view");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (child (f, "queue_stack")), ==, "empty");
  save_png (GTK_WIDGET (f->inspector), "inspector-empty.png");
  wait_label (f, "state_label", "No Server");
  g_assert_false (can_click (f, "inspector.sync-now"));

  /* Writes show up with no refresh call: the engine's signals carry them. */
  groceries = write_note (f, "Groceries");
  g_free (write_note (f, "Bad habit"));
  g_free (write_note (f, ""));
  wait_label (f, "pending_label", "3");
  wait_label (f, "total_label", "3");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (gtk_column_view_get_model (view))), ==, 3);
  wait_shows (GTK_WIDGET (view), "Groceries");
  wait_shows (GTK_WIDGET (view), "Untitled");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (child (f, "queue_stack")), ==, "list");

  /* A refused change fails; the others leave the queue. */
  sync_blocking (f);
  wait_label (f, "failed_label", "1");
  wait_label (f, "total_label", "1");
  wait_label (f, "pending_label", "0");
  wait_shows (GTK_WIDGET (view), REFUSED);
  wait_shows (GTK_WIDGET (view), "Failed");
  wait_label (f, "state_label", "Idle");

  /* Hidden (the flap closed), it reads nothing: it let go of the queue,
   * and what the write set off has run without reaching it. Shown again,
   * it catches up. */
  gtk_widget_set_visible (f->window, FALSE);
  g_free (write_note (f, "Written while hidden"));
  tether_test_app_drain ();
  g_assert_null (gtk_column_view_get_model (view));
  g_assert_cmpstr (gtk_label_get_text (child (f, "total_label")), ==, "1");
  gtk_window_present (GTK_WINDOW (f->window));
  wait_label (f, "total_label", "2");
  wait_shows (GTK_WIDGET (view), "Written while hidden");
}

static gboolean
has_message_dialog (gpointer data)
{
  AdwMessageDialog **dialog = data;
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        {
          *dialog = ADW_MESSAGE_DIALOG (window);
          return TRUE;
        }
    }
  return FALSE;
}

static AdwMessageDialog *
wait_dialog (void)
{
  AdwMessageDialog *dialog = NULL;

  g_assert_true (tether_test_app_wait (has_message_dialog, &dialog, WAIT_MS));
  return dialog;
}

static void
test_inspector_actions (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autofree char *draft = NULL;
  g_autofree char *keep = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  AdwMessageDialog *dialog;
  GtkWidget *widget;

  g_free (write_note (f, "Bad title"));
  sync_blocking (f);
  show_inspector (f);
  widget = GTK_WIDGET (f->inspector);
  wait_label (f, "failed_label", "1");
  g_assert_true (can_click (f, "inspector.retry-failed"));
  g_assert_false (can_click (f, "inspector.compact"));

  /* Retry Failed: only while something failed. */
  g_assert_true (gtk_widget_activate_action (widget, "inspector.retry-failed", NULL));
  wait_label (f, "failed_label", "0");
  wait_label (f, "pending_label", "1");
  g_assert_false (can_click (f, "inspector.retry-failed"));

  /* Compact: a record edited three times leaves as one change. */
  draft = write_note (f, "Draft");
  update_note (f, draft, "Draft 2");
  update_note (f, draft, "Draft 3");
  wait_label (f, "total_label", "4");
  g_assert_true (can_click (f, "inspector.compact"));
  g_assert_true (gtk_widget_activate_action (widget, "inspector.compact", NULL));
  wait_label (f, "total_label", "2");
  g_assert_false (can_click (f, "inspector.compact"));
  wait_shows (GTK_WIDGET (child (f, "queue_view")), "Draft 3");

  /* Discard asks first; Cancel keeps the change, Discard drops it. */
  keep = write_note (f, "Keep me");
  wait_label (f, "total_label", "3");
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_true (gtk_widget_activate_action (widget, "inspector.discard", "s",
                                             tether_sync_change_get_id (g_ptr_array_index (changes, 2))));
  dialog = wait_dialog ();
  adw_message_dialog_response (dialog, "cancel");
  tether_test_app_drain ();
  g_assert_cmpstr (gtk_label_get_text (child (f, "total_label")), ==, "3");
  g_assert_true (gtk_widget_activate_action (widget, "inspector.discard", "s",
                                             tether_sync_change_get_id (g_ptr_array_index (changes, 2))));
  dialog = wait_dialog ();
  adw_message_dialog_response (dialog, "discard");
  wait_label (f, "total_label", "2");
  g_ptr_array_unref (g_steal_pointer (&changes));
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  g_assert_cmpuint (changes->len, ==, 2);
}

/* A change sent before whose answer was lost goes again as it was sent
 * (the server may have applied it): Compact cannot squash its record.
 * Nothing in the queue tells it apart, so the first try says so, and the
 * button stays off until that record can be compacted. The answer is lost
 * on the way back from the real server, which did apply the change. */
static void
test_inspector_compact_sent_before (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autofree char *draft = write_note (f, "Draft");
  g_autofree char *other = NULL;
  g_autoptr(TetherFaultyTransport) lossy = tether_faulty_transport_new (server_transport (f), 1);
  g_autoptr(GError) error = NULL;
  GtkWidget *widget;

  tether_faulty_transport_set_lose_every (lossy, 1);
  tether_sync_engine_set_transport (f->engine, TETHER_TRANSPORT (lossy));
  g_assert_false (tether_sync_engine_sync (f->engine, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
  g_assert_cmpuint (tether_faulty_transport_get_lost (lossy), ==, 1);
  update_note (f, draft, "Draft 2");
  show_inspector (f);
  widget = GTK_WIDGET (f->inspector);
  wait_label (f, "pending_label", "2");

  g_assert_true (can_click (f, "inspector.compact"));
  g_assert_true (gtk_widget_activate_action (widget, "inspector.compact", NULL));
  wait_shows (widget, "Nothing to compact");
  tether_test_app_snapshot_drawn (widget, "inspector-nothing-to-compact.png");
  g_assert_false (can_click (f, "inspector.compact"));
  g_assert_cmpstr (gtk_label_get_text (child (f, "total_label")), ==, "2");

  /* More edits of it queue up behind the one sent: still nothing to do. */
  update_note (f, draft, "Draft 3");
  wait_label (f, "total_label", "3");
  tether_test_app_drain ();
  g_assert_false (can_click (f, "inspector.compact"));

  /* Another record edited twice can be compacted. */
  other = write_note (f, "Other");
  update_note (f, other, "Other 2");
  wait_label (f, "total_label", "5");
  g_assert_true (can_click (f, "inspector.compact"));
  g_assert_true (gtk_widget_activate_action (widget, "inspector.compact", NULL));
  wait_label (f, "total_label", "4");
  tether_test_app_drain ();
  g_assert_false (can_click (f, "inspector.compact"));

  /* Once the sent change is answered, the queue empties. */
  sync_blocking (f);
  wait_label (f, "total_label", "0");
  g_assert_false (can_click (f, "inspector.compact"));
}

static GtkGesture *
secondary_click (GtkWidget *widget)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_GESTURE_CLICK (controller) &&
          gtk_gesture_single_get_button (GTK_GESTURE_SINGLE (controller)) == GDK_BUTTON_SECONDARY)
        return GTK_GESTURE (controller);
    }
  g_error ("the queue has no context menu");
}

static GtkPopover *
find_popover (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_POPOVER_MENU (c))
      return GTK_POPOVER (c);
  g_error ("the inspector has no row menu");
}

/* @menu is up, and offers to discard @change_id, saying the shortcut
 * that does it from the queue. */
static void
assert_discard_menu (GtkPopover *menu,
                     const char *change_id)
{
  GMenuModel *model;
  GVariant *value;
  g_autofree char *accel = NULL;

  g_assert_true (tether_test_app_wait (is_shown, menu, WAIT_MS));
  model = gtk_popover_menu_get_menu_model (GTK_POPOVER_MENU (menu));
  g_assert_cmpint (g_menu_model_get_n_items (model), ==, 1);
  value = g_menu_model_get_item_attribute_value (model, 0, G_MENU_ATTRIBUTE_ACTION, G_VARIANT_TYPE_STRING);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "inspector.discard");
  g_variant_unref (value);
  value = g_menu_model_get_item_attribute_value (model, 0, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, change_id);
  g_variant_unref (value);
  g_assert_true (g_menu_model_get_item_attribute (model, 0, "accel", "s", &accel));
  g_assert_cmpstr (accel, ==, "Delete");
  wait_shows (GTK_WIDGET (menu), "Delete");
}

static void
test_inspector_row_menu (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autofree char *second = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  GtkWidget *view;
  GtkPopover *menu;
  graphene_point_t point;

  g_free (write_note (f, "First"));
  second = write_note (f, "Second");
  show_inspector (f);
  view = child (f, "queue_view");
  wait_shows (view, "Second");
  g_assert_true (tether_test_app_wait (is_shown, find_label (view, "Second"), WAIT_MS));
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);

  /* A right click on the second row offers to discard that change. */
  g_assert_true (gtk_widget_compute_point (GTK_WIDGET (find_label (view, "Second")), view,
                                           &GRAPHENE_POINT_INIT (4, 4), &point));
  g_signal_emit_by_name (secondary_click (view), "pressed", 1, (double) point.x, (double) point.y);
  menu = find_popover (GTK_WIDGET (f->inspector));
  assert_discard_menu (menu, tether_sync_change_get_id (g_ptr_array_index (changes, 1)));
  save_png (GTK_WIDGET (menu), "inspector-row-menu.png");
  gtk_popover_popdown (menu);
}

/* The row of the queue that shows @text, as the keyboard focuses it. */
static GtkWidget *
focusable_row (GtkWidget  *view,
               const char *text)
{
  GtkWidget *row = GTK_WIDGET (find_label (view, text));

  while (row != NULL && row != view && !gtk_widget_get_focusable (row))
    row = gtk_widget_get_parent (row);
  g_assert_true (row != NULL && row != view);
  return row;
}

static gboolean
is_hidden (gpointer data)
{
  return !gtk_widget_get_mapped (data);
}

static gboolean
trigger_has (GtkShortcutTrigger *trigger,
             GtkShortcutTrigger *key)
{
  if (GTK_IS_ALTERNATIVE_TRIGGER (trigger))
    return trigger_has (gtk_alternative_trigger_get_first (GTK_ALTERNATIVE_TRIGGER (trigger)), key) ||
           trigger_has (gtk_alternative_trigger_get_second (GTK_ALTERNATIVE_TRIGGER (trigger)), key);
  return gtk_shortcut_trigger_equal (trigger, key);
}

/* What @keyval with @modifiers does on @widget, done. A real key cannot be
 * used: the menu it opens takes the keyboard, and its release with it, so
 * tether_test_app_press_key() would wait for ever. */
static void
press_shortcut (GtkWidget       *widget,
                guint            keyval,
                GdkModifierType  modifiers)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);
  g_autoptr(GtkShortcutTrigger) key = gtk_keyval_trigger_new (keyval, modifiers);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      for (guint j = 0; GTK_IS_SHORTCUT_CONTROLLER (controller) &&
                        j < g_list_model_get_n_items (G_LIST_MODEL (controller)); j++)
        {
          g_autoptr(GtkShortcut) shortcut = g_list_model_get_item (G_LIST_MODEL (controller), j);

          if (trigger_has (gtk_shortcut_get_trigger (shortcut), key))
            {
              g_assert_true (gtk_shortcut_action_activate (gtk_shortcut_get_action (shortcut), 0, widget, NULL));
              return;
            }
        }
    }
  g_error ("%s does nothing here", gtk_shortcut_trigger_to_string (key));
}

/* The menu keys open the focused row's menu, where the row is. */
static void
test_inspector_row_menu_keys (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  const struct { guint keyval; GdkModifierType modifiers; } keys[] = {
    { GDK_KEY_Menu, 0 }, { GDK_KEY_F10, GDK_SHIFT_MASK },
  };
  g_autoptr(GPtrArray) changes = NULL;
  GtkWidget *view;
  GtkPopover *menu;

  g_free (write_note (f, "First"));
  g_free (write_note (f, "Second"));
  show_inspector (f);
  view = child (f, "queue_view");
  wait_shows (view, "Second");
  g_assert_true (tether_test_app_wait (is_shown, find_label (view, "Second"), WAIT_MS));
  tether_test_app_settle (100);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);
  menu = find_popover (GTK_WIDGET (f->inspector));
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      GtkWidget *row = focusable_row (view, "Second");
      graphene_rect_t bounds;
      GdkRectangle at;

      g_assert_true (gtk_widget_grab_focus (row));
      press_shortcut (view, keys[i].keyval, keys[i].modifiers);
      assert_discard_menu (menu, tether_sync_change_get_id (g_ptr_array_index (changes, 1)));
      /* It points at the row, not somewhere a pointer happens to be. */
      g_assert_true (gtk_popover_get_pointing_to (menu, &at));
      g_assert_true (gtk_widget_compute_bounds (row, GTK_WIDGET (f->inspector), &bounds));
      g_assert_cmpint (at.y, ==, (int) bounds.origin.y);
      if (i == 0)
        {
          tether_test_app_settle (100);
          save_png (GTK_WIDGET (menu), "inspector-row-menu-keys.png");
        }
      gtk_popover_popdown (menu);
      g_assert_true (tether_test_app_wait (is_hidden, menu, WAIT_MS));
    }
}

/* The shortcuts window lists the queue's keys. */
static void
test_inspector_shortcuts_listed (Fixture *server_fixture)
{
  g_autoptr(GtkBuilder) builder = gtk_builder_new_from_resource ("/app/tether/Tether/gtk/help-overlay.ui");
  g_autoptr(GSList) objects = gtk_builder_get_objects (builder);
  const char *wanted[][2] = {
    { "Discard the selected change", "Delete" },
    { "Open the menu of the focused change", "Menu <Shift>F10" },
  };
  guint found = 0;

  for (GSList *l = objects; l != NULL; l = l->next)
    for (guint i = 0; GTK_IS_SHORTCUTS_SHORTCUT (l->data) && i < G_N_ELEMENTS (wanted); i++)
      {
        g_autofree char *title = NULL;
        g_autofree char *accelerator = NULL;

        g_object_get (l->data, "title", &title, "accelerator", &accelerator, NULL);
        if (g_strcmp0 (title, wanted[i][0]) == 0)
          {
            g_assert_cmpstr (accelerator, ==, wanted[i][1]);
            found++;
          }
      }
  g_assert_cmpuint (found, ==, G_N_ELEMENTS (wanted));
  gtk_window_destroy (GTK_WINDOW (gtk_builder_get_object (builder, "help_overlay")));
}

/* A port nothing listens on: syncs fail at once with a network error. The
 * socket stays bound, without listening, until the test ends, so no other
 * process can take the port and answer (the kernel refuses connections). */
static char *
closed_url (Inspect *f)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (f->closed);
  f->closed = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (f->closed, any_port, FALSE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (f->closed, &error);
  g_assert_no_error (error);
  return g_strdup_printf ("http://127.0.0.1:%u/sync",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
}

static void
test_inspector_events (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autofree char *url = closed_url (f);
  AdwViewStack *pages;
  GtkWidget *events;

  show_inspector (f);
  pages = child (f, "pages");
  events = child (f, "event_list");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (child (f, "event_stack")), ==, "empty");
  g_assert_false (can_click (f, "inspector.sync-now"));
  tether_sync_engine_set_remote (f->engine, url, "token");
  g_assert_true (can_click (f, "inspector.sync-now"));
  g_free (write_note (f, "Offline edit"));
  adw_view_stack_set_visible_child_name (pages, "events");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inspector), "inspector.sync-now", NULL));
  wait_shows (events, "FAILED");
  wait_label (f, "state_label", "Offline");
  g_assert_true (gtk_revealer_get_reveal_child (child (f, "banner")));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (child (f, "banner_label")), "Sync failed: "));
  /* The error of the event is the engine's. */
  wait_shows (events, tether_sync_engine_get_last_error (f->engine));

  /* A sync that works comes on top. */
  sync_blocking (f);
  wait_shows (events, "DONE");
  {
    GtkWidget *first = gtk_widget_get_first_child (events);
    g_autofree char *text = visible_text (first);

    g_assert_nonnull (strstr (text, "DONE"));
  }
}

static GtkWidget *
find_tooltip (GtkWidget  *widget,
              const char *tooltip)
{
  if (g_strcmp0 (gtk_widget_get_tooltip_text (widget), tooltip) == 0)
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_tooltip (c, tooltip);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Buttons that show only an icon still have a name for a screen reader. */
static void
test_inspector_icon_buttons_named (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  const char *names[] = { "Dismiss", "Close Details" };

  show_inspector (f);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      GtkWidget *button = find_tooltip (GTK_WIDGET (f->inspector), names[i]);

      g_assert_nonnull (button);
      g_assert_null (gtk_button_get_label (GTK_BUTTON (button)));
      gtk_test_accessible_assert_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, names[i]);
    }
}

/* A screen reader names each counter by its caption, and each list by
 * what it lists. */
static void
test_inspector_accessible_names (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  const char *counters[][2] = {
    { "total_label", "Total" }, { "pending_label", "Pending" }, { "syncing_label", "Syncing" },
    { "committed_label", "Committed" }, { "failed_label", "Failed" },
  };
  const char *lists[][2] = {
    { "queue_view", "Change queue" }, { "conflict_list", "Conflicts" }, { "event_list", "Sync events" },
  };

  show_inspector (f);
  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      GtkLabel *caption = find_label (GTK_WIDGET (f->inspector), counters[i][1]);

      g_assert_nonnull (caption);
      gtk_test_accessible_assert_relation (GTK_ACCESSIBLE (child (f, counters[i][0])),
                                           GTK_ACCESSIBLE_RELATION_LABELLED_BY, caption, NULL);
    }
  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    gtk_test_accessible_assert_property (GTK_ACCESSIBLE (child (f, lists[i][0])),
                                         GTK_ACCESSIBLE_PROPERTY_LABEL, lists[i][1]);
}

static void
save_conflict (Inspect    *f,
               const char *id,
               const char *local,
               const char *remote)
{
  g_autoptr(TetherConflict) conflict = tether_conflict_new (id, "notes", id);
  g_autoptr(JsonObject) mine = tether_test_object (local);
  g_autoptr(JsonObject) theirs = tether_test_object (remote);
  g_autoptr(GError) error = NULL;

  tether_conflict_set_local (conflict, mine, "1700000000000-0000-aaaa");
  tether_conflict_set_remote (conflict, theirs, "1700000000001-0000-bbbb", 3);
  tether_conflict_set_base (conflict, mine);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  g_assert_true (_tether_sync_store_save_conflict (f->db, conflict, &error));
  g_assert_no_error (error);
}

/* A server's record need not follow the schema: a title that is a number,
 * a yes/no or a list is no title, and the next side's shows instead. */
static void
test_inspector_conflict_titles (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  GtkWidget *list;
  guint untitled = 0;

  save_conflict (f, "c-number", "{\"title\": 42}", "{\"title\": \"Server title\"}");
  save_conflict (f, "c-flag", "{\"title\": false}", "{\"title\": 1.5}");
  save_conflict (f, "c-list", "{\"title\": [\"a\"]}", "{\"title\": {\"b\": 1}}");
  show_inspector (f);
  list = child (f, "conflict_list");
  adw_view_stack_set_visible_child_name (child (f, "pages"), "conflicts");
  wait_shows (list, "Server title");
  /* Created at the same time, they may come in any order. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *text = visible_text (GTK_WIDGET (gtk_list_box_get_row_at_index (GTK_LIST_BOX (list), i)));

      untitled += g_str_has_prefix (text, "Untitled\n");
    }
  g_assert_cmpuint (untitled, ==, 2);
}

/* A conflict in the log at @created: this device deleted the note, the
 * server's version is titled @title. */
static TetherConflict *
log_conflict (Inspect    *f,
              const char *id,
              gint64      created,
              const char *title)
{
  g_autoptr(TetherConflict) conflict = tether_conflict_new (id, "notes", id);
  g_autofree char *json = g_strdup_printf ("{\"title\": \"%s\"}", title);
  g_autoptr(JsonObject) theirs = tether_test_object (json);
  g_autoptr(GError) error = NULL;

  tether_conflict_set_local (conflict, NULL, "1700000000000-0000-aaaa");
  tether_conflict_set_remote (conflict, theirs, "1700000000001-0000-bbbb", 3);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  tether_conflict_set_created (conflict, created);
  g_assert_true (_tether_sync_store_save_conflict (f->db, conflict, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&conflict);
}

/* The database file as another process (the CLI) has it open. */
static TetherSyncEngine *
cli_engine (Inspect *f)
{
  g_autoptr(TetherSchema) schema = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  if (f->cli != NULL)
    return f->cli;
  schema = tether_test_schema (SCHEMA);
  path = g_build_filename (f->server_fixture->dir, "tether.db", NULL);
  f->cli_db = tether_test_open (path, schema);
  f->cli = tether_sync_engine_new (f->cli_db, &error);
  g_assert_no_error (error);
  return f->cli;
}

typedef struct {
  GtkListBox *list;
  guint       index;
  const char *text;
} RowShows;

static gboolean
row_shows (gpointer data)
{
  RowShows *check = data;
  GtkListBoxRow *row = gtk_list_box_get_row_at_index (check->list, check->index);
  g_autofree char *text = row != NULL ? visible_text (GTK_WIDGET (row)) : NULL;

  return text != NULL && strstr (text, check->text) != NULL;
}

static void
wait_row_shows (GtkListBox *list,
                guint       index,
                const char *text)
{
  RowShows check = { list, index, text };

  if (!tether_test_app_wait (row_shows, &check, WAIT_MS))
    {
      g_autofree char *seen = visible_text (GTK_WIDGET (list));

      g_error ("row %u never showed “%s”; the list shows:\n%s", index, text, seen);
    }
}

/* The row at @index is still @row: the same widget, in the list. */
static void
assert_row (GtkListBox *list,
            guint       index,
            GtkWidget  *row)
{
  g_assert_true (gtk_widget_get_parent (row) == GTK_WIDGET (list));
  g_assert_true (GTK_WIDGET (gtk_list_box_get_row_at_index (list, index)) == row);
}

/* The conflict log is read when conflicts change, not on every write, and
 * only the rows of the conflicts that changed are replaced: the focused
 * row keeps the focus through autosaves, new conflicts and decisions. */
static void
test_inspector_conflicts_kept (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  g_autoptr(TetherConflict) first = log_conflict (f, "c-first", 1700000001000, "First clash");
  g_autoptr(TetherConflict) second = log_conflict (f, "c-second", 1700000002000, "Second clash");
  g_autoptr(TetherConflict) third = NULL;
  g_autoptr(GtkWidget) top = NULL;
  g_autoptr(GtkWidget) bottom = NULL;
  g_autoptr(GError) error = NULL;
  GtkListBox *list;

  show_inspector (f);
  list = child (f, "conflict_list");
  adw_view_stack_set_visible_child_name (child (f, "pages"), "conflicts");
  wait_row_shows (list, 0, "Second clash");
  wait_row_shows (list, 1, "First clash");
  top = g_object_ref (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 0)));
  bottom = g_object_ref (GTK_WIDGET (gtk_list_box_get_row_at_index (list, 1)));
  g_assert_true (gtk_widget_grab_focus (top));

  /* Edits save as they are typed: the rows, and the focus, stay. */
  g_free (write_note (f, "Typed"));
  g_free (write_note (f, "Typed more"));
  tether_test_app_drain ();
  assert_row (list, 0, top);
  assert_row (list, 1, bottom);
  g_assert_true (gtk_root_get_focus (GTK_ROOT (f->window)) == top);

  /* A new conflict comes in on top of them. */
  third = log_conflict (f, "c-third", 1700000003000, "Third clash");
  g_signal_emit_by_name (f->engine, "conflict", third);
  wait_row_shows (list, 0, "Third clash");
  assert_row (list, 1, top);
  assert_row (list, 2, bottom);
  g_assert_true (gtk_root_get_focus (GTK_ROOT (f->window)) == top);

  /* Another process decides the first conflict, then restores it: only
   * its row is replaced, and the restore's own entry (the version it
   * replaced) comes in on top. Neither moves the open count, and that
   * process's engine announces them to itself: the commit tells. */
  g_assert_true (tether_sync_engine_resolve_conflict (cli_engine (f), first, tether_conflict_get_remote (first), &error));
  g_assert_no_error (error);
  tether_database_check_external (f->db);
  wait_row_shows (list, 2, "Resolved");
  assert_row (list, 1, top);
  g_assert_true (tether_sync_engine_restore_conflict (cli_engine (f), "c-first", &error));
  g_assert_no_error (error);
  tether_database_check_external (f->db);
  wait_row_shows (list, 3, "Restored");
  wait_row_shows (list, 0, "First clash");
  assert_row (list, 2, top);
  g_assert_true (gtk_root_get_focus (GTK_ROOT (f->window)) == top);
}

/* As a damaged file would, the table answers no read. */
static void
rename_table (Inspect    *f,
              const char *from,
              const char *to)
{
  g_autofree char *sql = g_strdup_printf ("ALTER TABLE %s RENAME TO %s", from, to);

  g_assert_cmpint (sqlite3_exec (_tether_database_get_handle (f->db), sql, NULL, NULL, NULL), ==, SQLITE_OK);
}

typedef struct {
  GtkStack   *stack;
  const char *name;
} StackShows;

static gboolean
stack_shows (gpointer data)
{
  StackShows *check = data;

  return g_strcmp0 (gtk_stack_get_visible_child_name (check->stack), check->name) == 0;
}

static void
wait_stack (Inspect    *f,
            const char *stack,
            const char *name)
{
  StackShows check = { child (f, stack), name };

  if (!tether_test_app_wait (stack_shows, &check, WAIT_MS))
    g_error ("%s shows “%s”, expected “%s”", stack, gtk_stack_get_visible_child_name (check.stack), name);
}

/* What a page says when its log cannot be read: that, and why, never an
 * empty state ("Every local edit has reached the server") that may be
 * false. Try Again reads them once they can be read. */
static void
test_inspector_read_errors (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  const char *tables[] = { "_tether_change_data", "_tether_conflicts", "_tether_sync_events" };
  const char *stacks[] = { "queue_stack", "conflict_stack", "event_stack" };
  const char *pages[] = { "queue", "conflicts", "events" };
  const char *titles[] = { "Cannot Read the Change Queue", "Cannot Read the Conflict Log",
                           "Cannot Read the Sync Events" };
  const char *empty[] = { "Queue Empty", "No Conflicts", "No Syncs Yet" };
  GtkWidget *widget;

  g_free (write_note (f, "Not sent yet"));
  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *broken = g_strconcat ("broken", tables[i], NULL);

      rename_table (f, tables[i], broken);
    }
  show_inspector (f);
  widget = GTK_WIDGET (f->inspector);
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    {
      g_autofree char *text = NULL;
      g_autofree char *png = g_strdup_printf ("inspector-read-error-%s.png", pages[i]);

      adw_view_stack_set_visible_child_name (child (f, "pages"), pages[i]);
      wait_stack (f, stacks[i], "error");
      wait_shows (widget, titles[i]);
      text = visible_text (widget);
      g_assert_null (strstr (text, empty[i]));
      /* The reason, as SQLite gave it. */
      g_assert_nonnull (strstr (text, tables[i]));
      g_assert_true (can_click (f, "inspector.reload"));
      tether_test_app_settle (100);
      save_png (widget, png);
    }
  /* No count is known either. */
  g_assert_cmpstr (gtk_label_get_text (child (f, "total_label")), ==, "–");
  g_assert_cmpstr (gtk_label_get_text (child (f, "pending_label")), ==, "–");
  g_assert_false (can_click (f, "inspector.compact"));

  for (guint i = 0; i < G_N_ELEMENTS (tables); i++)
    {
      g_autofree char *broken = g_strconcat ("broken", tables[i], NULL);

      rename_table (f, broken, tables[i]);
    }
  g_assert_true (gtk_widget_activate_action (widget, "inspector.reload", NULL));
  wait_stack (f, "queue_stack", "list");
  wait_stack (f, "conflict_stack", "empty");
  wait_stack (f, "event_stack", "empty");
  wait_label (f, "total_label", "1");
  wait_label (f, "pending_label", "1");
}

/* Screenshots --------------------------------------------------------------- */

static void
snapshot_page (Inspect    *f,
               const char *page,
               const char *file)
{
  adw_view_stack_set_visible_child_name (child (f, "pages"), page);
  tether_test_app_settle (300);
  save_png (GTK_WIDGET (f->inspector), file);
}

static void
test_inspector_snapshot (Fixture *server_fixture)
{
  Inspect *f = inspect_new (server_fixture);
  const char *titles[] = { "Weekly groceries", "Trip to Lisbon", "Reading list" };
  const char *later[] = { "Call the plumber", "Meeting notes: sync design", "Ideas for the garden" };
  g_autofree char *url = closed_url (f);
  g_autofree char *clash = tether_uuid_v7_new ();
  g_autofree char *clash_json = g_strdup_printf ("{\"id\": \"%s\", \"title\": \"Clash of edits\", \"body\": \"Some text\"}", clash);
  gboolean done = FALSE;
  g_autofree char *renamed = NULL;

  /* A history: a sync that failed offline, one that worked, with a
   * conflict, and one refused. The conflict: the other device wrote the
   * same note first (so this device's edit is the newer) and synced it. */
  tether_sync_engine_set_remote (f->engine, url, NULL);
  g_free (write_note (f, "Bad characters in title"));
  tether_sync_engine_sync (f->engine, NULL, NULL);
  renamed = write_note (f, "Draft");
  other_write (f, clash, "Their title", "Their text");
  g_object_unref (tether_test_create (f->notes, clash_json));
  sync_blocking (f);
  g_assert_cmpuint (count_conflicts (f), ==, 1);
  g_free (write_note (f, "Bad date format"));
  sync_blocking (f);

  /* Now: three changes on the wire, three more waiting behind them. */
  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    g_free (write_note (f, titles[i]));
  update_note (f, renamed, "Project plan");
  show_inspector (f);
  hold_server (f);
  tether_sync_engine_sync_async (f->engine, NULL, sync_done, &done);
  wait_label (f, "syncing_label", "4");
  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    g_free (write_note (f, later[i]));
  g_free (write_note (f, ""));
  wait_label (f, "pending_label", "4");
  g_assert_cmpstr (gtk_label_get_text (child (f, "syncing_label")), ==, "4");
  snapshot_page (f, "queue", "inspector-queue.png");

  /* The failed change in full, in the details pane. */
  gtk_selection_model_select_item (gtk_column_view_get_model (child (f, "queue_view")), 1, TRUE);
  g_assert_true (gtk_revealer_get_reveal_child (child (f, "details")));
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "details_error")), REFUSED));
  snapshot_page (f, "queue", "inspector-details.png");
  snapshot_page (f, "conflicts", "inspector-conflicts.png");
  snapshot_page (f, "events", "inspector-events.png");

  /* Answered at last, every change goes. */
  resume_server (f);
  g_assert_true (tether_test_app_wait (flag_set, &done, SYNC_WAIT_MS));
  g_assert_null (tether_sync_engine_get_last_error (f->engine));
  wait_label (f, "pending_label", "0");
  wait_label (f, "syncing_label", "0");
}

static void
skip_gui (void)
{
  g_test_skip ("no display: the inspector's GUI tests need one (Xvfb)");
}

int
main (int   argc,
      char *argv[])
{
  const NamedTest model_tests[] = {
    { "model/append", test_model_append },
    { "model/status", test_model_status },
    { "model/compact-discard", test_model_compact_discard },
    { "model/sync-reads", test_model_sync_reads },
  };
  const NamedTest gui_tests[] = {
    { "live", test_inspector_live },
    { "actions", test_inspector_actions },
    { "compact-sent-before", test_inspector_compact_sent_before },
    { "events", test_inspector_events },
    { "row-menu", test_inspector_row_menu },
    { "row-menu-keys", test_inspector_row_menu_keys },
    { "shortcuts-listed", test_inspector_shortcuts_listed },
    { "snapshot", test_inspector_snapshot },
    { "icon-buttons-named", test_inspector_icon_buttons_named },
    { "accessible-names", test_inspector_accessible_names },
    { "conflict-titles", test_inspector_conflict_titles },
    { "conflicts-kept", test_inspector_conflicts_kept },
    { "read-errors", test_inspector_read_errors },
  };
  gboolean display;

  tether_test_server_init (&argc, &argv);
  tether_test_server_set_prefix ("/tether/app/inspector");
  /* Without a session bus GTK warns that it cannot reach the accessibility
   * bus, and warnings are fatal here; GTK's test backend keeps the
   * accessible properties the tests read, without a bus. */
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    g_setenv ("GTK_A11Y", "test", TRUE);
  display = gtk_init_check ();
  if (display)
    adw_init ();
  else if (g_strcmp0 (g_getenv ("TETHER_TEST_DISPLAY_REQUIRED"), "1") == 0)
    g_error ("no display: run the GUI tests under Xvfb");
  g_resources_register (tether_app_get_resource ());

  for (guint i = 0; i < G_N_ELEMENTS (model_tests); i++)
    tether_test_server_add (model_tests[i].name, model_tests[i].func, FALSE);
  for (guint i = 0; display && i < G_N_ELEMENTS (gui_tests); i++)
    tether_test_server_add (gui_tests[i].name, gui_tests[i].func, FALSE);
  if (!display)
    g_test_add_func ("/tether/app/inspector/gui", skip_gui);
  return tether_test_server_run ();
}
