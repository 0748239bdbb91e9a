/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-inspector"
#include "config.h"

#include <adwaita.h>

#include "tether-app-resources.h"
#include "tether-change-model.h"
#include "tether-inspector.h"
#include "tether-sync-private.h"
#include "tether-test-app.h"
#include "tether-test-util.h"

/* The change model answers the engine with the smallest items-changed, and
 * the inspector follows a real engine on a real database file through its
 * signals alone: the tests only write, sync and iterate the main loop. */

#define SCHEMA \
  "{\"version\": 1, \"collections\": {" \
  " \"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}}}}}"

#define WAIT_MS 5000

/* A fake server ------------------------------------------------------------ */

/* Accepts every change except those whose title starts with "Bad" (refused
 * for good, so they fail) and the first push of a record whose title starts
 * with "Clash" (a conflict with another device's version); with @hold set a
 * push waits until released, so its changes stay "syncing". Pulls are
 * always empty. */
#define FAKE_TYPE_TRANSPORT (fake_transport_get_type ())
G_DECLARE_FINAL_TYPE (FakeTransport, fake_transport, FAKE, TRANSPORT, GObject)

struct _FakeTransport
{
  GObject  parent_instance;
  gint64      rev;
  gboolean    hold;
  gboolean    fail;      /* every push fails as if the answer were lost */
  GTask      *held;
  GHashTable *clashed;   /* record ids that conflicted once */
};

static void fake_transport_iface_init (TetherTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeTransport, fake_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TETHER_TYPE_TRANSPORT, fake_transport_iface_init))

/* The other device's version: another title and body, written long ago
 * (its hlc is older, so this device's edits win where both changed). */
static void
add_clash (JsonBuilder *builder,
           JsonObject  *change,
           gint64       rev)
{
  const char *record_id = json_object_get_string_member (change, "recordId");

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "changeId");
  json_builder_add_string_value (builder, json_object_get_string_member (change, "id"));
  json_builder_set_member_name (builder, "collection");
  json_builder_add_string_value (builder, json_object_get_string_member (change, "collection"));
  json_builder_set_member_name (builder, "recordId");
  json_builder_add_string_value (builder, record_id);
  json_builder_set_member_name (builder, "remote");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  json_builder_add_string_value (builder, record_id);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, "Their title");
  json_builder_set_member_name (builder, "body");
  json_builder_add_string_value (builder, "Their text");
  json_builder_end_object (builder);
  json_builder_set_member_name (builder, "remoteRev");
  json_builder_add_int_value (builder, rev);
  json_builder_set_member_name (builder, "remoteHlc");
  json_builder_add_string_value (builder, "1000000000000-0000-other-device");
  json_builder_end_object (builder);
}

static JsonObject *
fake_answer (FakeTransport *self,
             JsonObject    *request)
{
  JsonArray *changes = json_object_get_array_member (request, "changes");
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) refused = g_ptr_array_new ();
  g_autoptr(GPtrArray) clashes = g_ptr_array_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accepted");
  json_builder_begin_array (builder);
  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      JsonObject *data = json_object_get_null_member (change, "data") ? NULL
                       : json_object_get_object_member (change, "data");

      if (data != NULL && g_str_has_prefix (json_object_get_string_member_with_default (data, "title", ""), "Bad"))
        {
          g_ptr_array_add (refused, (gpointer) json_object_get_string_member (change, "id"));
          continue;
        }
      if (data != NULL && g_str_has_prefix (json_object_get_string_member_with_default (data, "title", ""), "Clash") &&
          g_hash_table_add (self->clashed, g_strdup (json_object_get_string_member (change, "recordId"))))
        {
          g_ptr_array_add (clashes, change);
          continue;
        }
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, json_object_get_string_member (change, "id"));
      json_builder_set_member_name (builder, "rev");
      json_builder_add_int_value (builder, ++self->rev);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "errors");
  json_builder_begin_array (builder);
  for (guint i = 0; i < refused->len; i++)
    {
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "id");
      json_builder_add_string_value (builder, g_ptr_array_index (refused, i));
      json_builder_set_member_name (builder, "error");
      json_builder_add_string_value (builder, "title: a title may not start with “Bad” on this server");
      json_builder_set_member_name (builder, "code");
      json_builder_add_string_value (builder, "validation");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "conflicts");
  json_builder_begin_array (builder);
  for (guint i = 0; i < clashes->len; i++)
    add_clash (builder, g_ptr_array_index (clashes, i), ++self->rev);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_object_ref (json_node_get_object (root));
}

static void
fake_push_async (TetherTransport     *transport,
                 JsonObject          *request,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  FakeTransport *self = FAKE_TRANSPORT (transport);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_task_data (task, json_object_ref (request), (GDestroyNotify) json_object_unref);
  if (self->fail)
    {
      g_task_return_new_error (task, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK, "the connection was lost");
      return;
    }
  if (self->hold)
    {
      g_assert_null (self->held);
      self->held = g_steal_pointer (&task);
      return;
    }
  g_task_return_pointer (task, fake_answer (self, request), (GDestroyNotify) json_object_unref);
}

static void
fake_release (FakeTransport *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->held);

  self->hold = FALSE;
  if (task != NULL)
    g_task_return_pointer (task, fake_answer (self, g_task_get_task_data (task)),
                           (GDestroyNotify) json_object_unref);
}

static void
fake_pull_async (TetherTransport     *transport,
                 JsonObject          *request,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (transport, cancellable, callback, user_data);

  g_task_return_pointer (task, tether_test_object ("{\"changes\": [], \"cursor\": \"1\", \"hasMore\": false}"),
                         (GDestroyNotify) json_object_unref);
}

static void
fake_info_async (TetherTransport     *transport,
                 GCancellable        *cancellable,
                 GAsyncReadyCallback  callback,
                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (transport, cancellable, callback, user_data);

  g_task_return_pointer (task, tether_test_object ("{\"server\": \"tether-server\", \"protocol\": 1}"),
                         (GDestroyNotify) json_object_unref);
}

static JsonObject *
fake_finish (TetherTransport  *transport,
             GAsyncResult     *result,
             GError          **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gboolean
fake_is_connected (TetherTransport *transport)
{
  return TRUE;
}

static void
fake_transport_iface_init (TetherTransportInterface *iface)
{
  iface->push_async = fake_push_async;
  iface->push_finish = fake_finish;
  iface->pull_async = fake_pull_async;
  iface->pull_finish = fake_finish;
  iface->info_async = fake_info_async;
  iface->info_finish = fake_finish;
  iface->is_connected = fake_is_connected;
}

static void
fake_transport_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  g_value_set_boolean (value, TRUE);
}

static void
fake_transport_dispose (GObject *object)
{
  FakeTransport *self = FAKE_TRANSPORT (object);

  if (self->held != NULL)
    fake_release (self);
  g_clear_pointer (&self->clashed, g_hash_table_unref);
  G_OBJECT_CLASS (fake_transport_parent_class)->dispose (object);
}

static void
fake_transport_class_init (FakeTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = fake_transport_get_property;
  object_class->dispose = fake_transport_dispose;
  g_object_class_override_property (object_class, 1, "connected");
}

static void
fake_transport_init (FakeTransport *self)
{
  self->clashed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* Fixture ------------------------------------------------------------------- */

typedef struct {
  char             *dir;
  TetherDatabase   *db;
  TetherSyncEngine *engine;
  TetherCollection *notes;
  FakeTransport    *fake;
  GtkWidget        *window;
  TetherInspector  *inspector;
  GSocket          *closed;     /* bound, not listening: see closed_url() */
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  f->dir = tether_test_dir_new ();
  path = g_build_filename (f->dir, "tether.db", NULL);
  f->db = tether_test_open (path, schema);
  f->engine = tether_sync_engine_new (f->db, &error);
  g_assert_no_error (error);
  f->notes = tether_database_get_collection (f->db, "notes", &error);
  g_assert_no_error (error);
  f->fake = g_object_new (FAKE_TYPE_TRANSPORT, NULL);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  tether_test_app_settle (50);
  /* Neither the inspector nor its model keeps the engine alive. */
  g_assert_finalize_object (g_steal_pointer (&f->engine));
  g_clear_object (&f->fake);
  if (f->closed != NULL)
    g_socket_close (f->closed, NULL);
  g_clear_object (&f->closed);
  tether_database_close (f->db);
  g_clear_object (&f->db);
  tether_test_dir_free (f->dir);
}

static char *
write_note (Fixture    *f,
            const char *title)
{
  g_autofree char *json = g_strdup_printf ("{\"title\": \"%s\", \"body\": \"Some text\"}", title);
  g_autoptr(TetherRecord) record = tether_test_create (f->notes, json);

  return g_strdup (tether_record_get_id (record));
}

static void
update_note (Fixture    *f,
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
sync_blocking (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  tether_sync_engine_set_transport (f->engine, TETHER_TRANSPORT (f->fake));
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
  tether_test_app_settle (30);
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
test_model_append (Fixture       *f,
                   gconstpointer  data)
{
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
test_model_status (Fixture       *f,
                   gconstpointer  data)
{
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
test_model_compact_discard (Fixture       *f,
                            gconstpointer  data)
{
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
 * most, and at its end), not after every batch or page: with the
 * inspector open, a large first push is not slowed down by it. */
static void
test_model_sync_reads (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(TetherChangeModel) model = NULL;
  g_autoptr(Recorder) recorder = NULL;
  guint queue_changed = 0;
  gboolean done = FALSE;

  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *title = g_strdup_printf ("Note %u", i);

      g_free (write_note (f, title));
    }
  model = tether_change_model_new (f->engine);
  recorder = recorder_new (model);
  tether_test_app_settle (30);
  g_array_set_size (recorder->changes, 0);

  /* One change a batch: forty answers on the main loop. */
  tether_sync_engine_set_batch_size (f->engine, 1);
  tether_sync_engine_set_transport (f->engine, TETHER_TRANSPORT (f->fake));
  g_signal_connect_swapped (f->engine, "queue-changed", G_CALLBACK (count_signal), &queue_changed);
  tether_sync_engine_sync_async (f->engine, NULL, sync_done, &done);
  g_assert_true (tether_test_app_wait (flag_set, &done, WAIT_MS));
  g_assert_null (tether_sync_engine_get_last_error (f->engine));
  tether_test_app_settle (30);
  g_signal_handlers_disconnect_by_data (f->engine, &queue_changed);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (model)), ==, 0);
  /* One range per read (the rows that moved are next to each other), and
   * one read more for the start, which shows the first batch as sent. */
  g_test_message ("%u queue-changed, %u items-changed", queue_changed, recorder->changes->len);
  g_assert_cmpuint (recorder->changes->len, <=, queue_changed + 1);
}

/* The inspector ------------------------------------------------------------- */

static void
show_inspector (Fixture *f)
{
  f->window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (f->window), 480, 720);
  f->inspector = TETHER_INSPECTOR (tether_inspector_new ());
  gtk_window_set_child (GTK_WINDOW (f->window), GTK_WIDGET (f->inspector));
  tether_inspector_set_engine (f->inspector, f->engine);
  gtk_window_present (GTK_WINDOW (f->window));
  tether_test_app_settle (200);
}

static gpointer
child (Fixture    *f,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (f->inspector), TETHER_TYPE_INSPECTOR, name);

  g_assert_nonnull (object);
  return object;
}

typedef struct {
  Fixture    *f;
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
wait_label (Fixture    *f,
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
can_click (Fixture    *f,
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
test_inspector_live (Fixture       *f,
                     gconstpointer  data)
{
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
  wait_shows (GTK_WIDGET (view), "may not start with");
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
test_inspector_actions (Fixture       *f,
                        gconstpointer  data)
{
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
  tether_test_app_settle (100);
  wait_label (f, "total_label", "3");
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
 * button stays off until that record can be compacted. */
static void
test_inspector_compact_sent_before (Fixture       *f,
                                    gconstpointer  data)
{
  g_autofree char *draft = write_note (f, "Draft");
  g_autofree char *other = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *widget;

  f->fake->fail = TRUE;
  tether_sync_engine_set_transport (f->engine, TETHER_TRANSPORT (f->fake));
  g_assert_false (tether_sync_engine_sync (f->engine, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK);
  f->fake->fail = FALSE;
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
  tether_test_app_settle (100);
  g_assert_false (can_click (f, "inspector.compact"));

  /* Another record edited twice can be compacted. */
  other = write_note (f, "Other");
  update_note (f, other, "Other 2");
  wait_label (f, "total_label", "5");
  g_assert_true (can_click (f, "inspector.compact"));
  g_assert_true (gtk_widget_activate_action (widget, "inspector.compact", NULL));
  wait_label (f, "total_label", "4");
  tether_test_app_settle (100);
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

/* Up, and laid out. */
static gboolean
is_shown (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0;
}

static GtkPopover *
find_popover (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_POPOVER_MENU (c))
      return GTK_POPOVER (c);
  g_error ("the inspector has no row menu");
}

static void
test_inspector_row_menu (Fixture       *f,
                         gconstpointer  data)
{
  g_autofree char *second = NULL;
  g_autoptr(GPtrArray) changes = NULL;
  GtkWidget *view;
  GtkPopover *menu;
  GMenuModel *model;
  GVariant *value;
  graphene_point_t point;

  g_free (write_note (f, "First"));
  second = write_note (f, "Second");
  show_inspector (f);
  view = child (f, "queue_view");
  wait_shows (view, "Second");
  tether_test_app_settle (100);
  changes = tether_sync_engine_list_changes (f->engine, -1, NULL);

  /* A right click on the second row offers to discard that change. */
  g_assert_true (gtk_widget_compute_point (GTK_WIDGET (find_label (view, "Second")), view,
                                           &GRAPHENE_POINT_INIT (4, 4), &point));
  g_signal_emit_by_name (secondary_click (view), "pressed", 1, (double) point.x, (double) point.y);
  menu = find_popover (GTK_WIDGET (f->inspector));
  g_assert_true (tether_test_app_wait (is_shown, menu, WAIT_MS));
  model = gtk_popover_menu_get_menu_model (GTK_POPOVER_MENU (menu));
  g_assert_cmpint (g_menu_model_get_n_items (model), ==, 1);
  value = g_menu_model_get_item_attribute_value (model, 0, G_MENU_ATTRIBUTE_ACTION, G_VARIANT_TYPE_STRING);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "inspector.discard");
  g_variant_unref (value);
  value = g_menu_model_get_item_attribute_value (model, 0, G_MENU_ATTRIBUTE_TARGET, G_VARIANT_TYPE_STRING);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==,
                   tether_sync_change_get_id (g_ptr_array_index (changes, 1)));
  g_variant_unref (value);
  save_png (GTK_WIDGET (menu), "inspector-row-menu.png");
  gtk_popover_popdown (menu);
}

/* A port nothing listens on: syncs fail at once with a network error. The
 * socket stays bound, without listening, until the test ends, so no other
 * process can take the port and answer (the kernel refuses connections). */
static char *
closed_url (Fixture *f)
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
test_inspector_events (Fixture       *f,
                       gconstpointer  data)
{
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
test_inspector_icon_buttons_named (Fixture       *f,
                                   gconstpointer  data)
{
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

static void
save_conflict (Fixture    *f,
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
test_inspector_conflict_titles (Fixture       *f,
                                gconstpointer  data)
{
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

/* Screenshots --------------------------------------------------------------- */

static void
snapshot_page (Fixture    *f,
               const char *page,
               const char *file)
{
  adw_view_stack_set_visible_child_name (child (f, "pages"), page);
  tether_test_app_settle (300);
  save_png (GTK_WIDGET (f->inspector), file);
}

static void
test_inspector_snapshot (Fixture       *f,
                         gconstpointer  data)
{
  const char *titles[] = { "Weekly groceries", "Trip to Lisbon", "Reading list" };
  const char *later[] = { "Call the plumber", "Meeting notes: sync design", "Ideas for the garden" };
  g_autofree char *url = closed_url (f);
  gboolean done = FALSE;
  g_autofree char *renamed = NULL;

  /* A history: a sync that failed offline, one that worked, one refused. */
  tether_sync_engine_set_remote (f->engine, url, NULL);
  g_free (write_note (f, "Bad characters in title"));
  tether_sync_engine_sync (f->engine, NULL, NULL);
  renamed = write_note (f, "Draft");
  g_free (write_note (f, "Clash of edits"));
  sync_blocking (f);
  g_free (write_note (f, "Bad date format"));
  sync_blocking (f);

  /* Now: three changes on the wire, three more waiting behind them. */
  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    g_free (write_note (f, titles[i]));
  update_note (f, renamed, "Project plan");
  show_inspector (f);
  f->fake->hold = TRUE;
  tether_sync_engine_sync_async (f->engine, NULL, sync_done, &done);
  tether_test_app_settle (100);
  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    g_free (write_note (f, later[i]));
  g_free (write_note (f, ""));
  wait_label (f, "syncing_label", "4");
  wait_label (f, "pending_label", "4");
  snapshot_page (f, "queue", "inspector-queue.png");

  /* The failed change in full, in the details pane. */
  gtk_selection_model_select_item (gtk_column_view_get_model (child (f, "queue_view")), 1, TRUE);
  g_assert_true (gtk_revealer_get_reveal_child (child (f, "details")));
  g_assert_nonnull (strstr (gtk_label_get_text (child (f, "details_error")), "may not start with"));
  snapshot_page (f, "queue", "inspector-details.png");
  snapshot_page (f, "conflicts", "inspector-conflicts.png");
  snapshot_page (f, "events", "inspector-events.png");

  fake_release (f->fake);
  g_assert_true (tether_test_app_wait (flag_set, &done, WAIT_MS));
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
  gboolean display;

  g_test_init (&argc, &argv, NULL);
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

#define ADD(path, func) g_test_add ("/tether/app/inspector/" path, Fixture, NULL, setup, func, teardown)
  ADD ("model/append", test_model_append);
  ADD ("model/status", test_model_status);
  ADD ("model/compact-discard", test_model_compact_discard);
  ADD ("model/sync-reads", test_model_sync_reads);
  if (display)
    {
      ADD ("live", test_inspector_live);
      ADD ("actions", test_inspector_actions);
      ADD ("compact-sent-before", test_inspector_compact_sent_before);
      ADD ("events", test_inspector_events);
      ADD ("row-menu", test_inspector_row_menu);
      ADD ("snapshot", test_inspector_snapshot);
      ADD ("icon-buttons-named", test_inspector_icon_buttons_named);
      ADD ("conflict-titles", test_inspector_conflict_titles);
    }
  else
    g_test_add_func ("/tether/app/inspector/gui", skip_gui);
#undef ADD
  return g_test_run ();
}
