/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-sync"
#include "config.h"

#include <string.h>

#include "tether-application.h"
#include "tether-conflict-inbox.h"
#include "tether-test-app.h"
#include "tether-test-server.h"
#include "tether-test-util.h"
#include "tether-window-private.h"

/* The app against a real tether-server: an edit waits in the queue, Sync
 * Now sends it, and an edit that crossed one from another device shows up
 * in the conflict inbox and is settled there. The other device is a second
 * database file in this process, synced with the blocking API. */

#define SYNC_WAIT_MS 30000

static TetherApplication *app;
static gboolean have_display;

typedef struct {
  Fixture          *f;
  TetherWindow     *window;
  TetherSyncEngine *engine;
  TetherCollection *notes;
  /* the other device */
  TetherDatabase   *other_db;
  TetherSyncEngine *other;
} World;

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
sync_finished (gpointer data)
{
  World *w = data;

  return g_action_group_get_action_enabled (G_ACTION_GROUP (w->window), "sync-now") &&
         tether_sync_engine_get_state (w->engine) != TETHER_SYNC_STATE_SYNCING;
}

/* Sync Now, as the button does, and wait until it is done. */
static void
sync_now (World *w)
{
  g_action_group_activate_action (G_ACTION_GROUP (w->window), "sync-now", NULL);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (w->window), "sync-now"));
  g_assert_true (tether_test_app_wait (sync_finished, w, SYNC_WAIT_MS));
  g_assert_cmpstr (tether_sync_engine_get_last_error (w->engine), ==, NULL);
}

static void
other_sync (World *w)
{
  TetherSyncReport report = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_sync_engine_sync (w->other, &report, &error));
  g_assert_no_error (error);
}

static TetherRecord *
other_get (World      *w,
           const char *id)
{
  TetherCollection *notes = tether_database_get_collection (w->other_db, "notes", NULL);
  g_autoptr(GError) error = NULL;
  TetherRecord *record = tether_collection_get (notes, id, &error);

  g_assert_no_error (error);
  return record;
}

static void
type_title (World      *w,
            const char *title)
{
  g_autoptr(GError) error = NULL;
  GtkWidget *focus;

  tether_editor_focus_title (w->window->editor);
  focus = gtk_root_get_focus (GTK_ROOT (w->window));
  g_assert_true (GTK_IS_EDITABLE (focus));
  gtk_editable_set_text (GTK_EDITABLE (focus), title);
  g_assert_true (tether_editor_save_now (w->window->editor, &error));
  g_assert_no_error (error);
}

static GtkWidget *
find_type (GtkWidget *widget,
           GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_label (GtkWidget  *widget,
            const char *text)
{
  if (GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The number the inspector shows beside its "Pending" caption. */
static guint
inspector_pending (World *w)
{
  GtkWidget *caption = find_label (GTK_WIDGET (w->window->inspector), "Pending");

  g_assert_nonnull (caption);
  for (GtkWidget *child = gtk_widget_get_first_child (gtk_widget_get_parent (caption)); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (child != caption && GTK_IS_LABEL (child))
      return g_ascii_strtoull (gtk_label_get_text (GTK_LABEL (child)), NULL, 10);
  g_assert_not_reached ();
}

static gboolean
inspector_counts_pending (gpointer data)
{
  return inspector_pending (data) > 0;
}

static gboolean
inspector_counts_nothing (gpointer data)
{
  return inspector_pending (data) == 0;
}

static GtkWindow *
find_inbox (void)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (TETHER_IS_CONFLICT_INBOX (l->data))
      return l->data;
  return NULL;
}

static gboolean
shows_text (GtkWidget  *widget,
            const char *text)
{
  if (GTK_IS_LABEL (widget) && strstr (gtk_label_get_label (GTK_LABEL (widget)), text) != NULL)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (shows_text (child, text))
      return TRUE;
  return FALSE;
}

/* The inbox shows the server's newer version of the open conflict. */
static gboolean
inbox_shows_rev (gpointer data)
{
  GtkWindow *inbox = find_inbox ();

  return inbox != NULL && shows_text (GTK_WIDGET (inbox), "Dinner on Sunday");
}

static GtkMenuButton *
status_button (World *w)
{
  return GTK_MENU_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (w->window->sync_status),
                                                         TETHER_TYPE_SYNC_STATUS, "button"));
}

static void
status_popup (World    *w,
              gboolean  up)
{
  if (up)
    gtk_menu_button_popup (status_button (w));
  else
    gtk_menu_button_popdown (status_button (w));
  tether_test_app_settle (200);
}

static GtkWidget *
find_action_button (GtkWidget  *widget,
                    const char *action)
{
  if (GTK_IS_BUTTON (widget) && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), action) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_action_button (child, action);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
world_set_up (World   *w,
              Fixture *f,
              Server  *s)
{
  g_autofree char *other_path = g_build_filename (f->dir, "other.db", NULL);
  GSettings *settings = tether_application_get_settings (app);
  g_autoptr(GError) error = NULL;

  w->f = f;
  w->engine = tether_application_get_sync_engine (app);
  w->notes = tether_database_get_collection (tether_application_get_database (app), "notes", NULL);
  /* Syncs happen when the test says so; conflicts wait for the user. */
  g_settings_set_boolean (settings, "auto-sync", FALSE);
  g_settings_set_enum (settings, "conflict-strategy", TETHER_CONFLICT_STRATEGY_MANUAL);
  g_assert_cmpint (tether_sync_engine_get_strategy (w->engine), ==, TETHER_CONFLICT_STRATEGY_MANUAL);
  /* The token straight to the engine: the keyring is the preferences' test. */
  tether_sync_engine_set_remote (w->engine, s->base, f->alice);

  w->other_db = tether_test_open (other_path, NULL);
  w->other = tether_sync_engine_new (w->other_db, &error);
  g_assert_no_error (error);
  tether_sync_engine_set_remote (w->other, s->base, f->alice);
  tether_sync_engine_set_strategy (w->other, TETHER_CONFLICT_STRATEGY_MANUAL);

  w->window = tether_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (w->window), 1280, 760);
  gtk_window_present (GTK_WINDOW (w->window));
  g_assert_true (tether_test_app_wait (is_mapped, w->window, 5000));
  g_action_group_activate_action (G_ACTION_GROUP (w->window), "inspector", NULL);
}

static void
world_tear_down (World *w)
{
  GtkWindow *inbox = find_inbox ();

  if (inbox != NULL)
    gtk_window_destroy (inbox);
  gtk_window_destroy (GTK_WINDOW (w->window));
  tether_sync_engine_set_remote (w->engine, NULL, NULL);
  g_clear_object (&w->other);
  tether_database_close (w->other_db);
  g_clear_object (&w->other_db);
  tether_test_app_settle (50);
}

static void
test_edit_sync_conflict (Fixture *f)
{
  World w = { 0 };
  Server *s;
  g_autoptr(TetherRecord) mine = NULL;
  g_autoptr(TetherRecord) theirs = NULL;
  g_autoptr(TetherRecord) settled = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"Dinner on Saturday\"}");
  g_autoptr(JsonObject) later_patch = tether_test_object ("{\"title\": \"Dinner on Sunday\"}");
  g_autofree char *id = NULL;
  GtkWindow *inbox;
  GtkListBox *conflicts;
  GtkWidget *review;

  if (!have_display)
    {
      g_test_skip ("no display (run under Xvfb: xvfb-run -a)");
      return;
    }
  /* The window and the app's engine live on the default context. */
  g_main_context_pop_thread_default (f->context);
  s = server_start (f, NULL);
  world_set_up (&w, f, s);

  /* An edit waits in the queue: the status and the inspector count it. */
  g_assert_cmpuint (tether_sync_engine_get_pending_count (w.engine), ==, 0);
  g_action_group_activate_action (G_ACTION_GROUP (w.window), "new-note", NULL);
  id = g_strdup (tether_editor_get_record_id (w.window->editor));
  type_title (&w, "Dinner");
  g_assert_cmpuint (tether_sync_engine_get_pending_count (w.engine), >=, 1);
  g_assert_true (tether_test_app_wait (inspector_counts_pending, &w, 5000));
  g_assert_cmpuint (inspector_pending (&w), ==, tether_sync_engine_get_pending_count (w.engine));
  g_assert_true (g_str_has_suffix (tether_sync_status_get_text (w.window->sync_status), "pending"));
  tether_test_app_snapshot_drawn (GTK_WIDGET (w.window), "sync-pending.png");

  /* Sync Now sends it; the other device gets it. */
  sync_now (&w);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (w.engine), ==, 0);
  g_assert_true (tether_test_app_wait (inspector_counts_nothing, &w, 5000));
  other_sync (&w);
  theirs = other_get (&w, id);
  g_assert_cmpstr (tether_record_get_string (theirs, "title", NULL), ==, "Dinner");

  /* The same note edited on both sides: the app's push meets the other's. */
  g_clear_object (&theirs);
  theirs = tether_collection_update (tether_database_get_collection (w.other_db, "notes", NULL), id, patch, NULL);
  other_sync (&w);
  type_title (&w, "Dinner with Ada");
  sync_now (&w);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (w.engine), ==, 1);

  /* The header says a decision is waiting, and its popover leads there. */
  g_assert_cmpstr (tether_sync_status_get_text (w.window->sync_status), ==, "1 conflict");
  status_popup (&w, TRUE);
  g_assert_nonnull (find_label (GTK_WIDGET (w.window->sync_status), "A conflict needs your decision"));
  review = find_action_button (GTK_WIDGET (w.window->sync_status), "app.conflicts");
  g_assert_nonnull (review);
  g_assert_true (gtk_widget_get_mapped (review));
  tether_test_app_snapshot_drawn (GTK_WIDGET (gtk_menu_button_get_popover (status_button (&w))), "sync-status-conflict.png");
  g_signal_emit_by_name (review, "clicked");
  status_popup (&w, FALSE);

  /* The inbox lists it; keeping mine writes it back, and the next sync sends it. */
  inbox = find_inbox ();
  g_assert_nonnull (inbox);
  g_assert_true (tether_test_app_wait (is_mapped, inbox, 5000));
  conflicts = GTK_LIST_BOX (find_type (GTK_WIDGET (inbox), GTK_TYPE_LIST_BOX));
  g_assert_nonnull (conflicts);
  g_assert_nonnull (gtk_list_box_get_row_at_index (conflicts, 0));
  gtk_list_box_select_row (conflicts, gtk_list_box_get_row_at_index (conflicts, 0));
  tether_test_app_snapshot_drawn (GTK_WIDGET (inbox), "sync-conflict.png");

  /* The other device moves on while the inbox is open: the pull updates
   * the conflict and the inbox shows it as it is now. A click at once
   * was made on the older version and is refused; once the new one has
   * been on screen, the choice made there is taken. */
  g_clear_object (&theirs);
  theirs = tether_collection_update (tether_database_get_collection (w.other_db, "notes", NULL), id,
                                     later_patch, NULL);
  other_sync (&w);
  sync_now (&w);
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (w.engine), ==, 1);
  g_assert_true (tether_test_app_wait (inbox_shows_rev, &w, 5000));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (inbox), "inbox.keep-mine", NULL));
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (w.engine), ==, 1);
  tether_test_app_snapshot_drawn (GTK_WIDGET (inbox), "sync-conflict-moved.png");
  tether_test_app_settle (1500);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (inbox), "inbox.keep-mine", NULL));
  g_assert_cmpuint (tether_sync_engine_get_conflict_count (w.engine), ==, 0);
  g_assert_false (gtk_widget_get_visible (review));
  g_assert_null (strstr (tether_sync_status_get_text (w.window->sync_status), "conflict"));

  sync_now (&w);
  g_assert_cmpuint (tether_sync_engine_get_pending_count (w.engine), ==, 0);
  mine = tether_collection_get (w.notes, id, NULL);
  g_assert_cmpstr (tether_record_get_string (mine, "title", NULL), ==, "Dinner with Ada");
  other_sync (&w);
  settled = other_get (&w, id);
  g_assert_cmpstr (tether_record_get_string (settled, "title", NULL), ==, "Dinner with Ada");

  world_tear_down (&w);
  g_main_context_push_thread_default (f->context);
}

/* The inspector's Sync Now sends the edit still waiting for the editor's
 * debounce, as the window's does. */
static void
test_inspector_sync_now_saves_first (Fixture *f)
{
  World w = { 0 };
  Server *s;
  g_autoptr(TetherRecord) theirs = NULL;
  g_autofree char *id = NULL;
  GtkWidget *focus;

  if (!have_display)
    {
      g_test_skip ("no display (run under Xvfb: xvfb-run -a)");
      return;
    }
  g_main_context_pop_thread_default (f->context);
  s = server_start (f, NULL);
  world_set_up (&w, f, s);
  g_action_group_activate_action (G_ACTION_GROUP (w.window), "new-note", NULL);
  id = g_strdup (tether_editor_get_record_id (w.window->editor));
  sync_now (&w);

  /* Typed, and Sync Now in the inspector before the debounce saves it. */
  focus = gtk_root_get_focus (GTK_ROOT (w.window));
  g_assert_true (GTK_IS_EDITABLE (focus));
  gtk_editable_set_text (GTK_EDITABLE (focus), "Typed just before syncing");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (w.window->inspector), "inspector.sync-now", NULL));
  g_assert_true (tether_test_app_wait (sync_finished, &w, SYNC_WAIT_MS));
  g_assert_cmpstr (tether_sync_engine_get_last_error (w.engine), ==, NULL);
  other_sync (&w);
  theirs = other_get (&w, id);
  g_assert_cmpstr (tether_record_get_string (theirs, "title", NULL), ==, "Typed just before syncing");

  world_tear_down (&w);
  g_main_context_push_thread_default (f->context);
}

/* Sync Now without a server says where to set one. */
static void
test_sync_not_configured (Fixture *f)
{
  TetherWindow *window;
  TetherSyncEngine *engine;
  GtkWidget *title;
  GtkWidget *toast;
  GtkWidget *button;

  if (!have_display)
    {
      g_test_skip ("no display (run under Xvfb: xvfb-run -a)");
      return;
    }
  g_main_context_pop_thread_default (f->context);
  engine = tether_application_get_sync_engine (app);
  tether_sync_engine_set_remote (engine, NULL, NULL);
  g_settings_reset (tether_application_get_settings (app), "inspector-visible");
  window = tether_window_new (app);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (tether_test_app_wait (is_mapped, window, 5000));
  g_action_group_activate_action (G_ACTION_GROUP (window), "sync-now", NULL);
  tether_test_app_settle (300);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (window), "sync-now"));
  /* A toast says so, and its button opens Preferences. */
  title = find_label (GTK_WIDGET (window->toast_overlay), "Sync is not set up. Add a server in Preferences.");
  g_assert_nonnull (title);
  g_assert_true (gtk_widget_get_mapped (title));
  for (toast = title; gtk_widget_get_parent (toast) != GTK_WIDGET (window->toast_overlay);
       toast = gtk_widget_get_parent (toast))
    ;
  button = find_action_button (toast, "app.preferences");
  g_assert_nonnull (button);
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (button)), ==, "_Preferences");
  tether_test_app_snapshot_drawn (GTK_WIDGET (window), "sync-not-configured.png");
  gtk_window_destroy (GTK_WINDOW (window));
  tether_test_app_settle (50);
  g_main_context_push_thread_default (f->context);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GTK_A11Y", "none", TRUE);
  tether_test_server_init (&argc, &argv);
  tether_test_server_set_prefix ("/tether/app/sync");

  have_display = tether_test_app_start (&app);

  tether_test_server_add ("edit-sync-conflict", test_edit_sync_conflict, FALSE);
  tether_test_server_add ("inspector-sync-now-saves-first", test_inspector_sync_now_saves_first, FALSE);
  tether_test_server_add ("not-configured", test_sync_not_configured, FALSE);
  status = tether_test_server_run ();

  tether_test_app_stop (&app);
  return status;
}
