/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-screenshots"
#include "config.h"

#include <string.h>

#include "tether-application.h"
#include "tether-preferences.h"
#include "tether-test-app.h"
#include "tether-test-util.h"
#include "tether-window-private.h"

/* What a person sees, as PNG files in G_TEST_BUILDDIR: the main window
 * with notes and tasks, the preferences, the sync inspector, and the
 * empty, no-results and narrow states. Each test checks the state it
 * renders, so a picture of the wrong thing fails. */

static TetherApplication *app;
static gboolean have_display;

typedef struct {
  TetherWindow     *window;
  TetherCollection *notes;
  TetherCollection *tasks;
} Fixture;

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
skip_without_display (void)
{
  if (!have_display)
    g_test_skip ("no display (run under Xvfb: xvfb-run -a)");
  return !have_display;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  TetherDatabase *db;

  if (!have_display)
    return;
  db = tether_application_get_database (app);
  f->notes = tether_database_get_collection (db, "notes", NULL);
  f->tasks = tether_database_get_collection (db, "tasks", NULL);
  tether_collection_delete_many (f->notes, NULL, NULL);
  tether_collection_delete_many (f->tasks, NULL, NULL);
  g_settings_reset (tether_application_get_settings (app), "inspector-visible");
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  if (have_display)
    tether_test_app_settle (20);
}

static void
open_window (Fixture *f,
             int      width,
             int      height)
{
  f->window = tether_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (f->window), width, height);
  gtk_window_present (GTK_WINDOW (f->window));
  g_assert_true (tether_test_app_wait (is_mapped, f->window, 5000));
  tether_test_app_settle (300);
}

static char *
iso_in_days (int days)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) then = g_date_time_add_days (now, days);

  return g_date_time_format_iso8601 (then);
}

/* A small, plausible collection; returns the note to open. */
static TetherRecord *
fill (Fixture *f)
{
  g_autofree char *tomorrow = iso_in_days (1);
  g_autofree char *last_week = iso_in_days (-6);
  g_autofree char *next_month = iso_in_days (30);
  g_autofree char *task1 = g_strdup_printf ("{\"title\": \"Renew the passport\", \"due\": \"%s\", \"priority\": 2, \"tags\": [\"admin\"]}", last_week);
  g_autofree char *task2 = g_strdup_printf ("{\"title\": \"Book the train to Lyon\", \"due\": \"%s\", \"tags\": [\"travel\"]}", tomorrow);
  g_autofree char *task3 = g_strdup_printf ("{\"title\": \"Plan the garden\", \"due\": \"%s\", \"notes\": \"Tomatoes along the south wall\"}", next_month);
  struct { TetherCollection *collection; const char *json; } older[] = {
    { f->tasks, task3 },
    { f->tasks, "{\"title\": \"Water the plants\", \"done\": true}" },
    { f->notes, "{\"title\": \"Reading list\", \"body\": \"The Dispossessed\\nPiranesi\\nThe Left Hand of Darkness\", \"tags\": [\"books\"]}" },
    { f->tasks, task1 },
    { f->notes, "{\"title\": \"Wi-Fi at the cabin\", \"body\": \"Network: Birch\\nAsk Marta for the password\", \"pinned\": true}" },
    { f->tasks, task2 },
  };
  TetherRecord *open;

  /* Oldest first, each a clock tick after the one before: the list's order. */
  for (guint i = 0; i < G_N_ELEMENTS (older); i++)
    {
      g_autoptr(TetherRecord) record = tether_test_create (older[i].collection, older[i].json);

      tether_test_app_tick_past (record);
    }
  open = tether_test_create (f->notes,
                             "{\"title\": \"Trip to Lyon\", \"body\": \"Arrive Friday 18:40, Part-Dieu.\\n\\n"
                             "- Dinner at the bouchon Marta liked\\n- Musée des Confluences on Saturday\\n"
                             "- Back on Sunday, the 16:04 train\\n\", \"tags\": [\"travel\", \"family\"]}");
  return open;
}

static void
test_main_window (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TetherRecord) open = NULL;

  if (skip_without_display ())
    return;
  open = fill (f);
  open_window (f, 1100, 720);
  tether_window_select (f->window, "notes", tether_record_get_id (open));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (f->window->model)), ==, 7);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (f->window->main_stack), ==, "items");
  gtk_widget_grab_focus (GTK_WIDGET (f->window->list_view));
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "main-window.png");
}

static void
test_inspector (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(TetherRecord) open = NULL;

  if (skip_without_display ())
    return;
  open = fill (f);
  open_window (f, 1280, 760);
  tether_window_select (f->window, "notes", tether_record_get_id (open));
  g_action_group_activate_action (G_ACTION_GROUP (f->window), "inspector", NULL);
  g_assert_true (adw_flap_get_reveal_flap (f->window->flap));
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "inspector.png");
}

static void
test_preferences (Fixture       *f,
                  gconstpointer  data)
{
  TetherPreferences *preferences;

  if (skip_without_display ())
    return;
  open_window (f, 1000, 700);
  preferences = tether_preferences_new (app);
  gtk_window_set_transient_for (GTK_WINDOW (preferences), GTK_WINDOW (f->window));
  gtk_window_present (GTK_WINDOW (preferences));
  g_assert_true (tether_test_app_wait (is_mapped, preferences, 5000));
  tether_test_app_snapshot_drawn (GTK_WIDGET (preferences), "preferences.png");
  gtk_window_destroy (GTK_WINDOW (preferences));
}

static void
test_empty (Fixture       *f,
            gconstpointer  data)
{
  if (skip_without_display ())
    return;
  open_window (f, 1000, 640);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (f->window->main_stack), ==, "empty");
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "empty.png");
}

static gboolean
no_results (gpointer data)
{
  Fixture *f = data;

  return g_list_model_get_n_items (G_LIST_MODEL (f->window->model)) == 0;
}

static void
test_no_results (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(TetherRecord) open = NULL;

  if (skip_without_display ())
    return;
  open = fill (f);
  open_window (f, 1000, 640);
  g_action_group_activate_action (G_ACTION_GROUP (f->window), "search", NULL);
  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "zeppelin");
  g_assert_true (tether_test_app_wait (no_results, f, 3000));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (f->window->list_stack), ==, "no-results");
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "no-results.png");
}

static void
test_narrow (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(TetherRecord) open = NULL;

  if (skip_without_display ())
    return;
  open = fill (f);
  open_window (f, 400, 700);
  g_assert_true (adw_leaflet_get_folded (f->window->leaflet));
  tether_test_app_settle (500);
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "narrow-list.png");
  g_signal_emit_by_name (f->window->list_view, "activate", 0);
  tether_test_app_settle (500);
  g_assert_true (gtk_widget_get_visible (f->window->back_button));
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "narrow-editor.png");
}

static gboolean
shortcuts_shown (gpointer data)
{
  GtkShortcutsWindow *shortcuts = gtk_application_window_get_help_overlay (data);

  return shortcuts != NULL && gtk_widget_get_mapped (GTK_WIDGET (shortcuts));
}

/* app.shortcuts opens the window GTK loads from gtk/help-overlay.ui. */
static void
test_shortcuts (Fixture       *f,
                gconstpointer  data)
{
  GtkShortcutsWindow *shortcuts;

  if (skip_without_display ())
    return;
  open_window (f, 1000, 700);
  g_action_group_activate_action (G_ACTION_GROUP (app), "shortcuts", NULL);
  g_assert_true (tether_test_app_wait (shortcuts_shown, f->window, 5000));
  shortcuts = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (f->window));
  tether_test_app_snapshot_drawn (GTK_WIDGET (shortcuts), "shortcuts.png");
  gtk_window_close (GTK_WINDOW (shortcuts));
}

static gboolean
has_window (gpointer data)
{
  return gtk_application_get_windows (data) != NULL;
}

/* A file that is not a Tether database: a dialog says so, and nothing else opens. */
static void
test_open_error (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *png = NULL;
  g_autoptr(TetherApplication) broken = NULL;
  g_autoptr(GError) error = NULL;
  GtkWindow *dialog;

  if (skip_without_display ())
    return;
  dir = tether_test_dir_new ();
  path = g_build_filename (dir, "shopping.txt", NULL);
  g_assert_true (g_file_set_contents (path, "eggs\nflour\nbutter\n", -1, NULL));
  broken = tether_application_new ();
  /* Its own id: one process cannot export two applications on one path. */
  g_object_set (broken, "database-path", path, "application-id", "app.tether.Tether.Test", NULL);
  g_application_register (G_APPLICATION (broken), NULL, &error);
  g_assert_no_error (error);
  g_assert_null (tether_application_get_database (broken));
  g_application_activate (G_APPLICATION (broken));
  g_assert_true (tether_test_app_wait (has_window, broken, 5000));
  dialog = gtk_application_get_windows (GTK_APPLICATION (broken))->data;
  g_assert_true (ADW_IS_MESSAGE_DIALOG (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)), "is not a Tether database"));
  g_assert_true (tether_test_app_wait (is_mapped, dialog, 5000));
  tether_test_app_snapshot_drawn (GTK_WIDGET (dialog), "open-error.png");
  adw_message_dialog_response (ADW_MESSAGE_DIALOG (dialog), "close");
  tether_test_app_settle (50);
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (broken)));
  tether_test_dir_free (g_steal_pointer (&dir));
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GTK_A11Y", "none", TRUE);
  g_test_init (&argc, &argv, NULL);

  have_display = tether_test_app_start (&app);

#define SHOT(path, func) \
  g_test_add ("/tether/app/screenshots/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  SHOT ("main-window", test_main_window);
  SHOT ("inspector", test_inspector);
  SHOT ("preferences", test_preferences);
  SHOT ("empty", test_empty);
  SHOT ("no-results", test_no_results);
  SHOT ("narrow", test_narrow);
  SHOT ("shortcuts", test_shortcuts);
  g_test_add_func ("/tether/app/screenshots/open-error", test_open_error);

  status = g_test_run ();

  tether_test_app_stop (&app);
  return status;
}
