/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-window"
#include "config.h"

#include <signal.h>

#include "tether-application.h"
#include "tether-editor-private.h"
#include "tether-item-model.h"
#include "tether-test-app.h"
#include "tether-test-util.h"
#include "tether-window-private.h"

/* The main window, driven as a person would through its actions, checked
 * in the list and in the database; and the list model under it. One
 * application (on a temporary database) serves every test. */

static TetherApplication *app;
static gboolean have_display;

typedef struct {
  TetherWindow     *window;
  TetherDatabase   *db;
  TetherCollection *notes;
  TetherCollection *tasks;
} Fixture;

static gboolean
skip_without_display (void)
{
  if (!have_display)
    g_test_skip ("no display (run under Xvfb: xvfb-run -a)");
  return !have_display;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GSettings *settings;

  if (!have_display)
    return;
  f->db = tether_application_get_database (app);
  f->notes = tether_database_get_collection (f->db, "notes", NULL);
  f->tasks = tether_database_get_collection (f->db, "tasks", NULL);
  /* Every test starts from no records (one database serves them all). */
  tether_collection_delete_many (f->notes, NULL, &error);
  g_assert_no_error (error);
  tether_collection_delete_many (f->tasks, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
  g_assert_cmpint (tether_collection_count (f->tasks, NULL, NULL), ==, 0);
  settings = tether_application_get_settings (app);
  g_settings_reset (settings, "inspector-visible");
  g_settings_reset (settings, "window-width");
  g_settings_reset (settings, "window-height");
  g_settings_reset (settings, "window-maximized");

  f->window = tether_window_new (app);
  gtk_window_present (GTK_WINDOW (f->window));
  g_assert_true (tether_test_app_wait (is_mapped, f->window, 5000));
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  if (f->window != NULL)
    gtk_window_destroy (GTK_WINDOW (f->window));
  tether_test_app_settle (20);
}

static void
activate (Fixture    *f,
          const char *action,
          GVariant   *param)
{
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), action));
  g_action_group_activate_action (G_ACTION_GROUP (f->window), action, param);
}

static guint
n_listed (Fixture *f)
{
  return g_list_model_get_n_items (G_LIST_MODEL (f->window->model));
}

static TetherRecord *last_listed;

/* The record at @position, valid until the next call. */
static TetherRecord *
listed (Fixture *f,
        guint    position)
{
  TetherRecord **last = &last_listed;

  g_clear_object (last);
  *last = g_list_model_get_item (G_LIST_MODEL (f->window->model), position);
  g_assert_nonnull (*last);
  return *last;
}

static const char *
visible_page (GtkStack *stack)
{
  return gtk_stack_get_visible_child_name (stack);
}

static TetherRecord *
create (TetherCollection *collection,
        const char       *json)
{
  return tether_test_create (collection, json);
}

/* A real key press, through the display (tether_test_app_press_key());
 * FALSE, the test skipped, only where the display need not be there. */
static gboolean
type_key (Fixture         *f,
          guint            keyval,
          GdkModifierType  modifiers)
{
  if (tether_test_app_press_key (GTK_WINDOW (f->window), keyval, modifiers))
    return TRUE;
  g_test_skip ("no XTEST: keys cannot be pressed on this display");
  return FALSE;
}

static GtkTextBuffer *
body_buffer (Fixture *f)
{
  return gtk_text_view_get_buffer (f->window->editor->body_view);
}

/* The editor's body text, valid until the next call. */
static const char *
body (Fixture *f)
{
  static char *last;
  GtkTextIter start, end;

  g_free (last);
  gtk_text_buffer_get_bounds (body_buffer (f), &start, &end);
  last = gtk_text_buffer_get_text (body_buffer (f), &start, &end, FALSE);
  return last;
}

static gboolean
focus_is_in (Fixture   *f,
             GtkWidget *widget)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (f->window));

  return focus != NULL && (focus == widget || gtk_widget_is_ancestor (focus, widget));
}

/* 550,000 "é" in lines of 100: within the body's maxLength in characters,
 * but over the 1 MiB a record may take, so every save of it fails. */
#define PASTED_CHARS (550000 + 5500)

static void
paste_too_much (Fixture *f)
{
  g_autoptr(GString) text = g_string_sized_new (1200000);
  GtkTextIter end;

  for (guint i = 0; i < 550000; i++)
    g_string_append (text, i % 100 == 99 ? "é\n" : "é");
  gtk_text_buffer_get_end_iter (body_buffer (f), &end);
  gtk_text_buffer_insert (body_buffer (f), &end, text->str, (int) text->len);
}

/* Window ------------------------------------------------------------------------- */

static void
test_empty_state (Fixture       *f,
                  gconstpointer  data)
{
  if (skip_without_display ())
    return;
  g_assert_cmpstr (visible_page (f->window->main_stack), ==, "empty");
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "delete"));

  activate (f, "new-note", NULL);
  g_assert_cmpstr (visible_page (f->window->main_stack), ==, "items");
  g_assert_cmpstr (visible_page (f->window->list_stack), ==, "list");

  activate (f, "delete", NULL);
  g_assert_cmpstr (visible_page (f->window->main_stack), ==, "empty");
  g_assert_cmpstr (visible_page (f->window->editor_stack), ==, "none");

  /* No tags yet: the tag menu says so. */
  gtk_menu_button_popup (f->window->tag_button);
  tether_test_app_settle (50);
  g_assert_cmpint (g_menu_model_get_n_items (G_MENU_MODEL (f->window->tag_menu)), ==, 2);
  gtk_menu_button_popdown (f->window->tag_button);
}

static void
test_new_note_and_task (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  GtkWidget *focus;

  if (skip_without_display ())
    return;
  activate (f, "new-note", NULL);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  note = g_object_ref (listed (f, 0));
  g_assert_cmpstr (tether_record_get_string (note, "title", NULL), ==, "New note");
  /* Open in the editor, selected in the list, the title ready for typing. */
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (note));
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 0);
  focus = gtk_root_get_focus (GTK_ROOT (f->window));
  g_assert_true (GTK_IS_EDITABLE (focus));
  g_assert_true (gtk_widget_is_ancestor (focus, GTK_WIDGET (f->window->editor)));

  activate (f, "new-task", NULL);
  g_assert_cmpint (tether_collection_count (f->tasks, NULL, NULL), ==, 1);
  g_assert_cmpuint (n_listed (f), ==, 2);
  g_assert_cmpstr (tether_record_get_collection (listed (f, 0)), ==, "tasks");
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (listed (f, 0)));
}

static void
test_edit_in_editor (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TetherRecord) stored = NULL;
  g_autoptr(GError) error = NULL;
  GtkWidget *title;
  const char *id;

  if (skip_without_display ())
    return;
  activate (f, "new-note", NULL);
  id = tether_editor_get_record_id (f->window->editor);
  title = gtk_root_get_focus (GTK_ROOT (f->window));
  gtk_editable_set_text (GTK_EDITABLE (title), "Groceries");
  g_assert_true (tether_editor_save_now (f->window->editor, &error));
  g_assert_no_error (error);
  stored = tether_collection_get (f->notes, id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_string (stored, "title", NULL), ==, "Groceries");
  /* The list shows the new title, and the selection stayed on the note. */
  g_assert_cmpstr (tether_record_get_string (listed (f, 0), "title", NULL), ==, "Groceries");
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 0);
}

static void
test_selection_follows_moves (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(TetherRecord) old = NULL;
  g_autoptr(TetherRecord) newest = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"body\": \"edited\"}");

  if (skip_without_display ())
    return;
  old = create (f->notes, "{\"title\": \"Old\"}");
  tether_test_app_tick_past (old);
  g_object_unref (create (f->notes, "{\"title\": \"Newer\"}"));
  newest = create (f->tasks, "{\"title\": \"Newest\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (old));
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 2);

  /* An edit moves the note to the top: the selection and the editor follow. */
  tether_test_app_tick_past (newest);
  updated = tether_collection_update (f->notes, tether_record_get_id (old), patch, NULL);
  g_assert_nonnull (updated);
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 0);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (old));

  /* Choosing another row opens it. */
  gtk_single_selection_set_selected (f->window->selection, 1);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==,
                   tether_record_get_id (listed (f, 1)));
}

static gboolean
listed_is (gpointer data)
{
  gpointer *args = data;

  return n_listed (args[0]) == GPOINTER_TO_UINT (args[1]);
}

static void
wait_listed (Fixture *f,
             guint    n)
{
  gpointer args[] = { f, GUINT_TO_POINTER (n) };

  g_assert_true (tether_test_app_wait (listed_is, args, 3000));
}

static void
test_search (Fixture       *f,
             gconstpointer  data)
{
  if (skip_without_display ())
    return;
  g_object_unref (create (f->notes, "{\"title\": \"Groceries\", \"body\": \"milk and bread\"}"));
  g_object_unref (create (f->notes, "{\"title\": \"Meeting\", \"body\": \"agenda\"}"));
  g_object_unref (create (f->tasks, "{\"title\": \"Buy milk\"}"));
  g_assert_cmpuint (n_listed (f), ==, 3);

  activate (f, "search", NULL);
  g_assert_true (gtk_search_bar_get_search_mode (f->window->search_bar));
  g_assert_true (gtk_widget_is_ancestor (gtk_root_get_focus (GTK_ROOT (f->window)),
                                         GTK_WIDGET (f->window->search_entry)));
  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "mil");
  wait_listed (f, 2);
  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "agen");
  wait_listed (f, 1);
  g_assert_cmpstr (tether_record_get_string (listed (f, 0), "title", NULL), ==, "Meeting");

  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "zebra");
  wait_listed (f, 0);
  g_assert_cmpstr (visible_page (f->window->main_stack), ==, "items");
  g_assert_cmpstr (visible_page (f->window->list_stack), ==, "no-results");
  g_assert_cmpstr (adw_status_page_get_title (f->window->no_results_page), ==, "No Results");

  /* Live while searching: a new match shows up. */
  g_object_unref (create (f->notes, "{\"title\": \"Zebra crossing\"}"));
  g_assert_cmpuint (n_listed (f), ==, 1);
  g_assert_cmpstr (visible_page (f->window->list_stack), ==, "list");

  gtk_search_bar_set_search_mode (f->window->search_bar, FALSE);
  wait_listed (f, 4);
}

static void
test_kind_filter (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GVariant) state = NULL;

  if (skip_without_display ())
    return;
  g_object_unref (create (f->notes, "{\"title\": \"a\"}"));
  g_object_unref (create (f->notes, "{\"title\": \"b\"}"));
  g_object_unref (create (f->tasks, "{\"title\": \"c\"}"));

  activate (f, "kind", g_variant_new_string ("tasks"));
  state = g_action_group_get_action_state (G_ACTION_GROUP (f->window), "kind");
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, "tasks");
  g_assert_cmpuint (n_listed (f), ==, 1);
  activate (f, "kind", g_variant_new_string ("notes"));
  g_assert_cmpuint (n_listed (f), ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (tether_record_get_collection (listed (f, i)), ==, "notes");

  /* A new task while only notes show: the filter makes way for it. */
  activate (f, "new-task", NULL);
  g_clear_pointer (&state, g_variant_unref);
  state = g_action_group_get_action_state (G_ACTION_GROUP (f->window), "kind");
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, "all");
  g_assert_cmpuint (n_listed (f), ==, 4);

  g_clear_pointer (&state, g_variant_unref);
  tether_collection_delete_many (f->tasks, NULL, NULL);
  activate (f, "kind", g_variant_new_string ("tasks"));
  g_assert_cmpstr (visible_page (f->window->list_stack), ==, "no-results");
  g_assert_cmpstr (adw_status_page_get_title (f->window->no_results_page), ==, "No Tasks");
}

static void
test_tag_filter (Fixture       *f,
                 gconstpointer  data)
{
  if (skip_without_display ())
    return;
  g_object_unref (create (f->notes, "{\"title\": \"a\", \"tags\": [\"work\"]}"));
  g_object_unref (create (f->notes, "{\"title\": \"b\", \"tags\": [\"home\"]}"));
  g_object_unref (create (f->tasks, "{\"title\": \"c\", \"tags\": [\"work\", \"urgent\"]}"));

  activate (f, "tag", g_variant_new_string ("work"));
  g_assert_cmpuint (n_listed (f), ==, 2);
  /* Filtered, the menu still offers the other tags. */
  gtk_menu_button_popup (f->window->tag_button);
  tether_test_app_settle (50);
  {
    GMenuModel *section = g_menu_model_get_item_link (G_MENU_MODEL (f->window->tag_menu), 1, G_MENU_LINK_SECTION);

    g_assert_cmpint (g_menu_model_get_n_items (section), ==, 3);
    g_object_unref (section);
  }
  gtk_menu_button_popdown (f->window->tag_button);
  g_assert_cmpstr (gtk_label_get_text (f->window->tag_label), ==, "work");
  activate (f, "tag", g_variant_new_string ("urgent"));
  g_assert_cmpuint (n_listed (f), ==, 1);
  activate (f, "tag", g_variant_new_string (""));
  g_assert_cmpuint (n_listed (f), ==, 3);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (f->window->tag_label)));

  /* The menu offers every tag in use, sorted, after "All Tags". */
  gtk_menu_button_popup (f->window->tag_button);
  tether_test_app_settle (50);
  {
    GMenuModel *section = g_menu_model_get_item_link (G_MENU_MODEL (f->window->tag_menu), 1, G_MENU_LINK_SECTION);
    const char *expected[] = { "home", "urgent", "work" };

    g_assert_nonnull (section);
    g_assert_cmpint (g_menu_model_get_n_items (section), ==, 3);
    for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
      {
        g_autofree char *label = NULL;

        g_menu_model_get_item_attribute (section, i, G_MENU_ATTRIBUTE_LABEL, "s", &label);
        g_assert_cmpstr (label, ==, expected[i]);
      }
    g_object_unref (section);
  }
  gtk_menu_button_popdown (f->window->tag_button);

  /* The menu follows writes: the last "home" gone, so is the tag. */
  g_assert_cmpint (tether_collection_delete_many (f->notes, NULL, NULL), ==, 2);
  gtk_menu_button_popup (f->window->tag_button);
  tether_test_app_settle (50);
  {
    GMenuModel *section = g_menu_model_get_item_link (G_MENU_MODEL (f->window->tag_menu), 1, G_MENU_LINK_SECTION);

    g_assert_cmpint (g_menu_model_get_n_items (section), ==, 2);
    g_object_unref (section);
  }
  gtk_menu_button_popdown (f->window->tag_button);
}

static void
test_toggle_done (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TetherRecord) task = NULL;
  g_autoptr(TetherRecord) after = NULL;
  const char *id;

  if (skip_without_display ())
    return;
  task = create (f->tasks, "{\"title\": \"Water the plants\"}");
  id = tether_record_get_id (task);
  activate (f, "toggle-done", g_variant_new_string (id));
  after = tether_collection_get (f->tasks, id, NULL);
  g_assert_true (tether_record_get_boolean (after, "done", FALSE));
  g_assert_true (tether_record_get_boolean (listed (f, 0), "done", FALSE));
  activate (f, "toggle-done", g_variant_new_string (id));
  g_clear_object (&after);
  after = tether_collection_get (f->tasks, id, NULL);
  g_assert_false (tether_record_get_boolean (after, "done", TRUE));

  /* From the keyboard: Ctrl+D on the selected task. */
  tether_window_select (f->window, "tasks", id);
  gtk_widget_grab_focus (GTK_WIDGET (f->window->list_view));
  if (!type_key (f, GDK_KEY_d, GDK_CONTROL_MASK))
    return;
  g_clear_object (&after);
  after = tether_collection_get (f->tasks, id, NULL);
  g_assert_true (tether_record_get_boolean (after, "done", FALSE));

  /* And while typing in the task's notes: the text stays as it was. */
  gtk_widget_grab_focus (GTK_WIDGET (f->window->editor->body_view));
  gtk_text_buffer_set_text (body_buffer (f), "water the ficus", -1);
  g_assert_true (type_key (f, GDK_KEY_d, GDK_CONTROL_MASK));
  g_clear_object (&after);
  after = tether_collection_get (f->tasks, id, NULL);
  g_assert_false (tether_record_get_boolean (after, "done", TRUE));
  g_assert_true (gtk_check_button_get_active (f->window->editor->done_check) == FALSE);
  g_assert_cmpstr (body (f), ==, "water the ficus");
  g_assert_true (gtk_widget_has_focus (GTK_WIDGET (f->window->editor->body_view)));
}

static gboolean
pointer_cleared (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static void
test_delete_and_undo (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(TetherRecord) keep = NULL;
  g_autoptr(TetherRecord) note = NULL;
  g_autoptr(TetherRecord) back = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  AdwToast *toast;

  if (skip_without_display ())
    return;
  keep = create (f->notes, "{\"title\": \"Keep\"}");
  tether_test_app_tick_past (keep);
  note = create (f->notes, "{\"title\": \"Letter\", \"body\": \"Dear Ada,\\nthank you\", \"tags\": [\"post\"], \"pinned\": true}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "undo-delete"));

  activate (f, "delete", NULL);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  g_assert_cmpuint (n_listed (f), ==, 1);
  /* The neighbour is open now, and the delete can be undone. */
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (keep));
  g_assert_nonnull (f->window->undo_toast);
  g_assert_cmpstr (adw_toast_get_title (f->window->undo_toast), ==, "Deleted “Letter”");
  toast = f->window->undo_toast;
  g_object_add_weak_pointer (G_OBJECT (toast), (gpointer *) &toast);

  activate (f, "undo-delete", NULL);
  /* Its toast goes, and is freed once the overlay lets go of it. */
  g_assert_null (f->window->undo_toast);
  g_assert_true (tether_test_app_wait (pointer_cleared, &toast, 5000));
  back = tether_collection_get (f->notes, tether_record_get_id (note), NULL);
  g_assert_nonnull (back);
  before = tether_record_to_json (note);
  after = tether_record_to_json (back);
  g_assert_cmpstr (after, ==, before);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (note));
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "undo-delete"));
}

static void
test_open_and_back (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  GtkWidget *focus;

  if (skip_without_display ())
    return;
  note = create (f->notes, "{\"title\": \"Keys\"}");
  /* Enter on a row: open it and type in the editor. */
  gtk_widget_grab_focus (GTK_WIDGET (f->window->list_view));
  g_signal_emit_by_name (f->window->list_view, "activate", 0);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (note));
  focus = gtk_root_get_focus (GTK_ROOT (f->window));
  g_assert_true (gtk_widget_is_ancestor (focus, GTK_WIDGET (f->window->editor)));

  /* Escape, typed in the editor: back to the list, the note still selected. */
  if (!type_key (f, GDK_KEY_Escape, 0))
    return;
  g_assert_true (focus_is_in (f, GTK_WIDGET (f->window->list_view)));
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 0);

  /* Delete in the list deletes it. */
  g_assert_true (type_key (f, GDK_KEY_Delete, 0));
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
}

static void
test_inspector_and_size (Fixture       *f,
                         gconstpointer  data)
{
  GSettings *settings;
  g_autoptr(GVariant) state = NULL;

  if (skip_without_display ())
    return;
  settings = tether_application_get_settings (app);
  g_assert_false (adw_flap_get_reveal_flap (f->window->flap));
  activate (f, "inspector", NULL);
  g_assert_true (adw_flap_get_reveal_flap (f->window->flap));
  g_assert_true (g_settings_get_boolean (settings, "inspector-visible"));
  state = g_action_group_get_action_state (G_ACTION_GROUP (f->window), "inspector");
  g_assert_true (g_variant_get_boolean (state));

  gtk_window_set_default_size (GTK_WINDOW (f->window), 800, 600);
  gtk_window_close (GTK_WINDOW (f->window));
  f->window = NULL;
  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 800);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 600);
}

/* Due dates ------------------------------------------------------------------------ */

/* Every label under @widget whose text starts with @prefix, joined by "|". */
static void
collect_labels (GtkWidget  *widget,
                const char *prefix,
                GString    *out)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_visible (widget) &&
      g_str_has_prefix (gtk_label_get_text (GTK_LABEL (widget)), prefix))
    g_string_append_printf (out, "%s%s", out->len > 0 ? "|" : "", gtk_label_get_text (GTK_LABEL (widget)));
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_labels (child, prefix, out);
}

/* The due labels the list shows, top to bottom. */
static char *
due_labels (Fixture *f)
{
  GString *shown = g_string_new (NULL);

  collect_labels (GTK_WIDGET (f->window->list_view), "Due", shown);
  collect_labels (GTK_WIDGET (f->window->list_view), "Overdue", shown);
  return g_string_free (shown, FALSE);
}

static gboolean
shows_two_due_labels (gpointer data)
{
  g_autofree char *shown = due_labels (data);

  return strchr (shown, '|') != NULL;
}

/* A due date as the editor stores it: the day, at UTC midnight. */
static char *
due_json (const char *title,
          GDateTime  *day)
{
  return g_strdup_printf ("{\"title\": \"%s\", \"due\": \"%04d-%02d-%02dT00:00:00.000Z\"}", title,
                          g_date_time_get_year (day), g_date_time_get_month (day),
                          g_date_time_get_day_of_month (day));
}

static void
test_due_dates_west_of_utc (Fixture       *f,
                            gconstpointer  data)
{
  g_autofree char *old_tz = g_strdup (g_getenv ("TZ"));
  g_autoptr(GDateTime) today = NULL;
  g_autoptr(GDateTime) tomorrow = NULL;
  g_autoptr(TetherRecord) tomorrows = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *today_json = NULL;
  g_autofree char *tomorrow_json = NULL;

  if (skip_without_display ())
    return;
  /* West of UTC, UTC midnight is the evening before here. */
  g_setenv ("TZ", "America/New_York", TRUE);
  today = g_date_time_new_now_local ();
  g_assert_cmpint (g_date_time_get_utc_offset (today), <, 0);
  tomorrow = g_date_time_add_days (today, 1);
  today_json = due_json ("Today's", today);
  tomorrow_json = due_json ("Tomorrow's", tomorrow);
  tomorrows = create (f->tasks, tomorrow_json);
  tether_test_app_tick_past (tomorrows);
  g_object_unref (create (f->tasks, today_json));
  /* The rows are made when the list lays them out. */
  tether_test_app_wait (shows_two_due_labels, f, 5000);
  shown = due_labels (f);
  if (old_tz != NULL)
    g_setenv ("TZ", old_tz, TRUE);
  else
    g_unsetenv ("TZ");
  g_assert_cmpstr (shown, ==, "Due today|Due tomorrow");
}

/* Edits that cannot be saved ---------------------------------------------------- */

static void
test_switch_refused_when_save_fails (Fixture       *f,
                                     gconstpointer  data)
{
  g_autoptr(TetherRecord) first = NULL;
  g_autoptr(TetherRecord) second = NULL;
  g_autoptr(TetherRecord) stored = NULL;
  g_autoptr(GVariant) first_target = NULL;
  AdwToast *toast;
  const char *id;

  if (skip_without_display ())
    return;
  second = create (f->notes, "{\"title\": \"Second\"}");
  tether_test_app_tick_past (second);
  first = create (f->notes, "{\"title\": \"First\", \"body\": \"kept\"}");
  id = tether_record_get_id (first);
  tether_window_select (f->window, "notes", id);
  paste_too_much (f);

  /* A click on the other note: the edit cannot be stored, so it stays. */
  gtk_single_selection_set_selected (f->window->selection, 1);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, id);
  g_assert_cmpuint (gtk_single_selection_get_selected (f->window->selection), ==, 0);
  g_assert_cmpint (g_utf8_strlen (body (f), -1), ==, 4 + PASTED_CHARS);
  g_assert_nonnull (f->window->refusal_toast);
  g_assert_cmpstr (adw_toast_get_title (f->window->refusal_toast), ==,
                   "“First” is not saved: it is over the 1 MiB a note or task may take");
  g_assert_cmpstr (adw_toast_get_action_name (f->window->refusal_toast), ==, "win.discard-changes");
  toast = f->window->refusal_toast;
  first_target = g_variant_ref (adw_toast_get_action_target_value (toast));
  /* Nor by the window's own way in, which a double click takes right
   * after the selection: still one toast, and it stays known to the
   * window after the overlay has let go of any toast it replaced. */
  tether_window_select (f->window, "notes", tether_record_get_id (second));
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, id);
  g_assert_true (f->window->refusal_toast == toast);
  tether_test_app_settle (600);
  g_assert_true (f->window->refusal_toast == toast);
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "window-switch-refused.png");

  /* Shortened, it is stored and the switch goes ahead; the toast, wrong
   * now, goes. */
  gtk_text_buffer_set_text (body_buffer (f), "kept, and more", -1);
  gtk_single_selection_set_selected (f->window->selection, 1);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (second));
  stored = tether_collection_get (f->notes, id, NULL);
  g_assert_cmpstr (tether_record_get_string (stored, "body", NULL), ==, "kept, and more");
  g_assert_null (f->window->refusal_toast);

  /* Or the toast's Discard Changes lets go of what cannot be stored: of
   * the note the toast names, not of whichever is open when it is
   * clicked. */
  paste_too_much (f);
  tether_window_select (f->window, "notes", id);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (second));
  g_assert_nonnull (f->window->refusal_toast);
  g_assert_cmpstr (adw_toast_get_title (f->window->refusal_toast), ==,
                   "“Second” is not saved: it is over the 1 MiB a note or task may take");
  activate (f, "discard-changes", first_target);
  g_assert_cmpint (g_utf8_strlen (body (f), -1), ==, PASTED_CHARS);
  g_assert_nonnull (f->window->refusal_toast);
  activate (f, "discard-changes", adw_toast_get_action_target_value (f->window->refusal_toast));
  g_assert_cmpstr (body (f), ==, "");
  g_assert_null (f->window->refusal_toast);
  tether_window_select (f->window, "notes", id);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, id);
}

/* Ctrl+N and Ctrl+T leave the open record too: refused before anything
 * is created or a filter cleared, with the same toast. */
static void
test_new_refused_when_save_fails (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  const char *id;

  if (skip_without_display ())
    return;
  note = create (f->notes, "{\"title\": \"Essay\"}");
  id = tether_record_get_id (note);
  activate (f, "search", NULL);
  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "essay");
  wait_listed (f, 1);
  tether_window_select (f->window, "notes", id);
  paste_too_much (f);

  activate (f, "new-note", NULL);
  activate (f, "new-task", NULL);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  g_assert_cmpint (tether_collection_count (f->tasks, NULL, NULL), ==, 0);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, id);
  g_assert_cmpint (g_utf8_strlen (body (f), -1), ==, PASTED_CHARS);
  g_assert_nonnull (f->window->refusal_toast);
  g_assert_cmpstr (adw_toast_get_title (f->window->refusal_toast), ==,
                   "“Essay” is not saved: it is over the 1 MiB a note or task may take");
  g_assert_true (gtk_search_bar_get_search_mode (f->window->search_bar));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (f->window->search_entry)), ==, "essay");
  g_assert_cmpuint (n_listed (f), ==, 1);

  /* Once the edit is let go of, a new note is made and opened. */
  activate (f, "discard-changes", adw_toast_get_action_target_value (f->window->refusal_toast));
  activate (f, "new-note", NULL);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 2);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), !=, id);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (f->window->editor->title_text)), ==, "New note");
  g_assert_true (focus_is_in (f, GTK_WIDGET (f->window->editor)));
}

static AdwMessageDialog *
find_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static void
test_close_asks_when_save_fails (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  g_autoptr(TetherRecord) stored = NULL;
  AdwMessageDialog *dialog;
  TetherWindow *window = f->window;

  if (skip_without_display ())
    return;
  note = create (f->notes, "{\"title\": \"Essay\", \"body\": \"draft\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  paste_too_much (f);
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);

  /* Closing the window: refused, with a dialog that says why. */
  gtk_window_close (GTK_WINDOW (f->window));
  g_assert_nonnull (window);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (f->window)));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "1 MiB"));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "Essay"));
  g_assert_cmpstr (adw_message_dialog_get_default_response (dialog), ==, "keep");
  g_assert_cmpstr (adw_message_dialog_get_close_response (dialog), ==, "keep");
  g_assert_cmpint (adw_message_dialog_get_response_appearance (dialog, "discard"), ==, ADW_RESPONSE_DESTRUCTIVE);
  tether_test_app_snapshot_drawn (GTK_WIDGET (f->window), "window-close-refused.png");
  tether_test_app_snapshot_drawn (GTK_WIDGET (dialog), "window-close-dialog.png");
  adw_message_dialog_response (dialog, "keep");
  tether_test_app_settle (50);
  g_assert_nonnull (window);
  g_assert_cmpint (g_utf8_strlen (body (f), -1), ==, 5 + PASTED_CHARS);

  /* Ctrl+Q likewise; discarding then closes, and the stored note is as it was. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  g_assert_nonnull (window);
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, "discard");
  tether_test_app_settle (50);
  g_assert_null (window);
  f->window = NULL;
  stored = tether_collection_get (f->notes, tether_record_get_id (note), NULL);
  g_assert_cmpstr (tether_record_get_string (stored, "body", NULL), ==, "draft");
}

/* The window writes its size as it closes; after "Keep Editing" the
 * preferences changed later must still be written, not held back. */
static void
test_settings_written_after_keep_editing (Fixture       *f,
                                          gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  g_autoptr(GSettings) elsewhere = g_settings_new (TETHER_APP_ID);
  GSettings *settings = tether_application_get_settings (app);
  gboolean auto_sync = g_settings_get_boolean (settings, "auto-sync");
  AdwMessageDialog *dialog;

  if (skip_without_display ())
    return;
  note = create (f->notes, "{\"title\": \"Essay\", \"body\": \"draft\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  paste_too_much (f);
  gtk_window_set_default_size (GTK_WINDOW (f->window), 810, 610);
  gtk_window_close (GTK_WINDOW (f->window));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, "keep");
  tether_test_app_drain ();
  g_assert_cmpint (g_settings_get_int (elsewhere, "window-width"), ==, 810);

  g_settings_set_boolean (settings, "auto-sync", !auto_sync);
  g_assert_false (g_settings_get_has_unapplied (settings));
  g_assert_cmpint (g_settings_get_boolean (elsewhere, "auto-sync"), ==, !auto_sync);
  g_settings_reset (settings, "auto-sync");

  tether_editor_discard_changes (f->window->editor);
}

/* Deleted elsewhere while the user was typing: what was shown and never
 * stored is not dropped by a switch or a close without asking. */
static void
test_deleted_elsewhere_asks (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(TetherRecord) letter = NULL;
  g_autoptr(TetherRecord) other = NULL;
  g_autoptr(TetherRecord) stored = NULL;
  AdwMessageDialog *dialog;
  TetherWindow *window = f->window;
  GtkTextIter end;
  const char *id;

  if (skip_without_display ())
    return;
  other = create (f->notes, "{\"title\": \"Other\"}");
  letter = create (f->notes, "{\"title\": \"Letter\", \"body\": \"Dear Ada,\"}");
  id = tether_record_get_id (letter);
  tether_window_select (f->window, "notes", id);
  gtk_text_buffer_get_end_iter (body_buffer (f), &end);
  gtk_text_buffer_insert (body_buffer (f), &end, " typed just now", -1);
  g_assert_true (tether_collection_delete (f->notes, id, NULL));
  g_assert_cmpuint (n_listed (f), ==, 1);

  /* A click on the other note: refused, the text stays, the toast says why. */
  gtk_single_selection_set_selected (f->window->selection, 0);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, id);
  g_assert_cmpstr (body (f), ==, "Dear Ada, typed just now");
  g_assert_nonnull (f->window->refusal_toast);
  g_assert_cmpstr (adw_toast_get_title (f->window->refusal_toast), ==,
                   "“Letter” is not saved: it was deleted elsewhere");

  /* Closing asks too; Keep Editing keeps it. */
  gtk_window_close (GTK_WINDOW (f->window));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "deleted elsewhere"));
  adw_message_dialog_response (dialog, "keep");
  tether_test_app_settle (50);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (f->window)));
  g_assert_cmpstr (body (f), ==, "Dear Ada, typed just now");

  /* Discarded, the note shows as last stored and the switch goes ahead,
   * without bringing it back. */
  activate (f, "discard-changes", adw_toast_get_action_target_value (f->window->refusal_toast));
  g_assert_cmpstr (body (f), ==, "Dear Ada,");
  gtk_single_selection_set_selected (f->window->selection, 0);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (other));
  g_assert_null (f->window->refusal_toast);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);

  /* Deleted elsewhere with nothing typed since: left without a word. */
  g_assert_true (tether_collection_delete (f->notes, tether_record_get_id (other), NULL));
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);
  gtk_window_close (GTK_WINDOW (f->window));
  tether_test_app_settle (50);
  g_assert_null (find_dialog ());
  g_assert_null (window);
  f->window = NULL;
  stored = tether_collection_get (f->notes, id, NULL);
  g_assert_null (stored);
}

/* Keys ------------------------------------------------------------------------------ */

static void
test_ctrl_delete_in_text (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(TetherRecord) keep = NULL;
  g_autoptr(TetherRecord) note = NULL;
  g_auto(GStrv) accels = NULL;
  GtkEditable *title;
  GtkTextIter start;

  if (skip_without_display ())
    return;
  /* Not an application accelerator: those run before the text sees the key. */
  accels = gtk_application_get_actions_for_accel (GTK_APPLICATION (app), "<Control>Delete");
  g_assert_cmpstrv (accels, ((const char *[]) { NULL }));
  keep = create (f->notes, "{\"title\": \"Keep\"}");
  tether_test_app_tick_past (keep);
  note = create (f->notes, "{\"title\": \"Two words\", \"body\": \"one two three\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));

  /* In the body, the title and the search entry it deletes a word. */
  gtk_widget_grab_focus (GTK_WIDGET (f->window->editor->body_view));
  gtk_text_buffer_get_start_iter (body_buffer (f), &start);
  gtk_text_buffer_place_cursor (body_buffer (f), &start);
  if (!type_key (f, GDK_KEY_Delete, GDK_CONTROL_MASK))
    return;
  g_assert_cmpstr (body (f), ==, " two three");
  title = GTK_EDITABLE (f->window->editor->title_text);
  tether_editor_focus_title (f->window->editor);
  gtk_editable_set_position (title, 0);
  g_assert_true (type_key (f, GDK_KEY_Delete, GDK_CONTROL_MASK));
  g_assert_cmpstr (gtk_editable_get_text (title), ==, " words");
  activate (f, "search", NULL);
  gtk_editable_set_text (GTK_EDITABLE (f->window->search_entry), "alpha beta");
  gtk_editable_set_position (GTK_EDITABLE (f->window->search_entry), 0);
  g_assert_true (type_key (f, GDK_KEY_Delete, GDK_CONTROL_MASK));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (f->window->search_entry)), ==, " beta");
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 2);
  gtk_search_bar_set_search_mode (f->window->search_bar, FALSE);
  wait_listed (f, 2);

  /* Outside text it deletes the open note, and the focus goes to the list,
   * not into the neighbour's text. */
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  gtk_widget_grab_focus (GTK_WIDGET (f->window->editor->pinned_toggle));
  g_assert_true (type_key (f, GDK_KEY_Delete, GDK_CONTROL_MASK));
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (keep));
  g_assert_true (focus_is_in (f, GTK_WIDGET (f->window->list_view)));
}

/* Deleting the open note whose edit cannot be stored deletes it: the edit
 * goes with it, and the editor moves on to the neighbour without a
 * refusal. A title with markup characters shows as typed in the toast. */
static void
test_delete_unsaved (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(TetherRecord) keep = NULL;
  g_autoptr(TetherRecord) note = NULL;

  if (skip_without_display ())
    return;
  keep = create (f->notes, "{\"title\": \"Keep\"}");
  tether_test_app_tick_past (keep);
  note = create (f->notes, "{\"title\": \"Q&A <b>\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  paste_too_much (f);
  activate (f, "delete", NULL);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 1);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (keep));
  g_assert_null (f->window->refusal_toast);
  g_assert_nonnull (f->window->undo_toast);
  /* a toast title is Pango markup in libadwaita 1.2 */
  g_assert_cmpstr (adw_toast_get_title (f->window->undo_toast), ==, "Deleted “Q&amp;A &lt;b&gt;”");
}

static void
test_delete_from_editor_focus (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(TetherRecord) keep = NULL;
  g_autoptr(TetherRecord) note = NULL;

  if (skip_without_display ())
    return;
  keep = create (f->notes, "{\"title\": \"Neighbour\"}");
  tether_test_app_tick_past (keep);
  note = create (f->notes, "{\"title\": \"Doomed\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  _tether_window_focus_editor (f->window);
  g_assert_true (focus_is_in (f, GTK_WIDGET (f->window->editor)));
  activate (f, "delete", NULL);
  g_assert_cmpstr (tether_editor_get_record_id (f->window->editor), ==, tether_record_get_id (keep));
  /* The next keystroke must not edit the neighbour. */
  g_assert_false (focus_is_in (f, GTK_WIDGET (f->window->editor)));
  g_assert_true (focus_is_in (f, GTK_WIDGET (f->window->list_view)));
}

/* Item model --------------------------------------------------------------------- */

typedef struct {
  guint calls;
  guint removed;
  guint added;
} Changes;

static void
count_changes (GListModel *model,
               guint       position,
               guint       removed,
               guint       added,
               Changes    *changes)
{
  changes->calls++;
  changes->removed += removed;
  changes->added += added;
}

/* The model holds exactly the database's records, in order. */
static void
assert_sorted (TetherItemModel *model,
               guint            expected)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (model));

  g_assert_cmpuint (n, ==, expected);
  for (guint i = 1; i < n; i++)
    {
      g_autoptr(TetherRecord) a = g_list_model_get_item (G_LIST_MODEL (model), i - 1);
      g_autoptr(TetherRecord) b = g_list_model_get_item (G_LIST_MODEL (model), i);
      gboolean pa = tether_record_get_boolean (a, "pinned", FALSE);
      gboolean pb = tether_record_get_boolean (b, "pinned", FALSE);

      g_assert_true (pa >= pb);
      if (pa == pb)
        g_assert_cmpint (tether_record_get_updated_at (a), >=, tether_record_get_updated_at (b));
    }
}

static void
test_model_order_and_changes (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  TetherCollection *tasks = tether_database_get_collection (db, "tasks", NULL);
  g_autoptr(TetherItemModel) model = tether_item_model_new (db, NULL);
  g_autoptr(TetherRecord) pinned = NULL;
  g_autoptr(TetherRecord) note = NULL;
  g_autoptr(TetherRecord) task = NULL;
  g_autoptr(TetherRecord) later = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"renamed\"}");
  Changes changes = { 0 };

  g_signal_connect (model, "items-changed", G_CALLBACK (count_changes), &changes);
  /* Pinned comes first whatever its time; the task after the note. */
  pinned = tether_test_create (notes, "{\"title\": \"pinned\", \"pinned\": true}");
  note = tether_test_create (notes, "{\"title\": \"note\"}");
  tether_test_app_tick_past (note);
  task = tether_test_create (tasks, "{\"title\": \"task\"}");
  g_assert_cmpuint (changes.calls, ==, 3);
  g_assert_cmpuint (changes.added, ==, 3);
  assert_sorted (model, 3);
  g_assert_cmpint (tether_item_model_find (model, "notes", tether_record_get_id (pinned)), ==, 0);
  g_assert_cmpint (tether_item_model_find (model, "tasks", tether_record_get_id (task)), ==, 1);

  /* An edit in place of the top record is one (i,1,1). */
  changes = (Changes) { 0 };
  updated = tether_collection_update (notes, tether_record_get_id (pinned), patch, NULL);
  g_assert_cmpuint (changes.calls, ==, 1);
  g_assert_cmpuint (changes.removed, ==, 1);
  g_assert_cmpuint (changes.added, ==, 1);

  /* A task edit moves it only past the note: one remove, one insert. */
  changes = (Changes) { 0 };
  tether_test_app_tick_past (updated);
  g_clear_object (&updated);
  later = tether_test_create (notes, "{\"title\": \"later\"}");
  tether_test_app_tick_past (later);
  updated = tether_collection_update (tasks, tether_record_get_id (task), patch, NULL);
  g_assert_cmpuint (changes.removed + changes.added, <=, 3);
  assert_sorted (model, 4);

  tether_item_model_set_kind (model, TETHER_ITEM_KIND_TASKS);
  assert_sorted (model, 1);
  tether_item_model_set_kind (model, TETHER_ITEM_KIND_ALL);
  tether_item_model_set_search (model, "renam");
  assert_sorted (model, 2);
  tether_item_model_set_search (model, "  ");
  assert_sorted (model, 4);
}

/* Random writes, checked against the database after each. */
static void
test_model_random (void)
{
  g_autoptr(TetherDatabase) db = tether_test_open (NULL, NULL);
  TetherCollection *collections[] = {
    tether_database_get_collection (db, "notes", NULL),
    tether_database_get_collection (db, "tasks", NULL),
  };
  g_autoptr(TetherItemModel) model = tether_item_model_new (db, NULL);
  g_autoptr(GPtrArray) note_ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) task_ids = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *ids[2] = { note_ids, task_ids };
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);

  for (guint step = 0; step < 400; step++)
    {
      guint c = g_rand_int_range (rand, 0, 2);
      guint op = g_rand_int_range (rand, 0, 3);
      gint64 total;

      if (op == 0 || ids[c]->len == 0)
        {
          g_autofree char *json = g_strdup_printf ("{\"title\": \"r%u\"%s}", step,
                                                   c == 0 && g_rand_boolean (rand) ? ", \"pinned\": true" : "");
          g_autoptr(TetherRecord) record = tether_test_create (collections[c], json);

          g_ptr_array_add (ids[c], g_strdup (tether_record_get_id (record)));
        }
      else if (op == 1)
        {
          guint i = g_rand_int_range (rand, 0, ids[c]->len);
          g_autofree char *json = g_strdup_printf ("{\"title\": \"u%u\"%s}", step,
                                                   c == 0 ? (g_rand_boolean (rand) ? ", \"pinned\": true" : ", \"pinned\": false") : "");
          g_autoptr(JsonObject) patch = tether_test_object (json);
          g_autoptr(TetherRecord) record = tether_collection_update (collections[c], g_ptr_array_index (ids[c], i), patch, NULL);

          g_assert_nonnull (record);
        }
      else
        {
          guint i = g_rand_int_range (rand, 0, ids[c]->len);

          g_assert_true (tether_collection_delete (collections[c], g_ptr_array_index (ids[c], i), NULL));
          g_ptr_array_remove_index (ids[c], i);
        }
      total = ids[0]->len + ids[1]->len;
      assert_sorted (model, total);
    }
  for (guint c = 0; c < 2; c++)
    for (guint i = 0; i < ids[c]->len; i++)
      g_assert_cmpint (tether_item_model_find (model, c == 0 ? "notes" : "tasks", g_ptr_array_index (ids[c], i)), >=, 0);
}

/* Not run by default (-m perf): how a big list answers one edit. */
static void
test_model_perf (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "big.db", NULL);
  g_autoptr(TetherDatabase) db = tether_test_open (path, NULL);
  TetherCollection *notes = tether_database_get_collection (db, "notes", NULL);
  g_autoptr(TetherItemModel) model = NULL;
  g_autoptr(TetherRecord) first = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"edited\"}");
  guint n = 100000;
  gint64 start;

  if (!g_test_perf ())
    {
      g_test_skip ("a benchmark: run with -m perf");
      return;
    }
  g_assert_true (tether_database_begin (db, NULL));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *json = g_strdup_printf ("{\"title\": \"note %u\", \"body\": \"text %u\"}", i, i);
      g_autoptr(TetherRecord) record = tether_test_create (notes, json);

      if (i == 0)
        first = g_object_ref (record);
    }
  g_assert_true (tether_database_commit (db, NULL));

  start = g_get_monotonic_time ();
  {
    g_autoptr(TetherQuery) query = tether_query_new (notes);
    g_autoptr(TetherLiveQuery) live = NULL;

    tether_query_sort (query, "pinned", TRUE);
    tether_query_sort (query, "updatedAt", TRUE);
    live = tether_live_query_new (query, NULL);
    g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "the live query alone: %.1f ms",
                             (g_get_monotonic_time () - start) / 1000.0);
    start = g_get_monotonic_time ();
    tether_query_search (query, "note 99");
    g_clear_object (&live);
    live = tether_live_query_new (query, NULL);
    g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "the live search alone: %.1f ms",
                             (g_get_monotonic_time () - start) / 1000.0);
  }
  start = g_get_monotonic_time ();
  model = tether_item_model_new (db, NULL);
  g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "load %u notes: %.1f ms", n,
                           (g_get_monotonic_time () - start) / 1000.0);
  start = g_get_monotonic_time ();
  updated = tether_collection_update (notes, tether_record_get_id (first), patch, NULL);
  g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "edit the oldest (moves to the top): %.2f ms",
                           (g_get_monotonic_time () - start) / 1000.0);
  start = g_get_monotonic_time ();
  tether_item_model_set_search (model, "note 99");
  g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "search (%u results): %.1f ms",
                           g_list_model_get_n_items (G_LIST_MODEL (model)),
                           (g_get_monotonic_time () - start) / 1000.0);
  start = g_get_monotonic_time ();
  tether_item_model_set_search (model, NULL);
  g_test_minimized_result ((g_get_monotonic_time () - start) / 1000.0, "clear the search: %.1f ms",
                           (g_get_monotonic_time () - start) / 1000.0);
  assert_sorted (model, n);
  g_clear_object (&model);
  tether_database_close (db);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* Sync Now while a sync runs -------------------------------------------------------- */

static GtkWidget *
find_label_text (GtkWidget  *root,
                 const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label_text (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A server that takes connections and never answers: a sync to it runs
 * until it is cancelled. */
static gboolean
hold_connection (GSocketService    *service,
                 GSocketConnection *connection,
                 GObject           *source,
                 gpointer           data)
{
  g_ptr_array_add (data, g_object_ref (connection));
  return TRUE;
}

static void
flag_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, NULL);
  *(gboolean *) data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

/* Sync Now during a sync of this process (auto-sync, say) must not say
 * that another program is syncing the database. */
static void
test_sync_now_while_syncing (Fixture       *f,
                             gconstpointer  data)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (app);
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  gboolean done = FALSE;
  guint16 port;

  if (skip_without_display ())
    return;
  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (hold_connection), held);
  url = g_strdup_printf ("http://127.0.0.1:%u/sync", port);
  tether_sync_engine_set_auto_sync (engine, FALSE);
  tether_sync_engine_set_remote (engine, url, NULL);
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "sync-now"));

  tether_sync_engine_sync_async (engine, cancellable, flag_done, &done);
  g_assert_cmpint (tether_sync_engine_get_state (engine), ==, TETHER_SYNC_STATE_SYNCING);
  g_assert_false (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "sync-now"));
  /* Ctrl+R does the same as the button. */
  g_action_group_activate_action (G_ACTION_GROUP (f->window), "sync-now", NULL);
  tether_test_app_drain ();
  g_assert_null (find_label_text (GTK_WIDGET (f->window),
                                  "Another Tether program is syncing this database. Try again in a moment."));

  g_cancellable_cancel (cancellable);
  g_assert_true (tether_test_app_wait (flag_set, &done, 10000));
  g_assert_true (g_action_group_get_action_enabled (G_ACTION_GROUP (f->window), "sync-now"));
  tether_sync_engine_set_remote (engine, NULL, NULL);
  tether_sync_engine_set_auto_sync (engine, g_settings_get_boolean (tether_application_get_settings (app),
                                                                    "auto-sync"));
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

/* A database Tether cannot show ---------------------------------------------------- */

static AdwMessageDialog *
dialog_of (GApplication *application)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (application)); l != NULL; l = l->next)
    if (ADW_IS_MESSAGE_DIALOG (l->data))
      return l->data;
  return NULL;
}

/* Another program's file, or one made with a schema of its own, lacks
 * what the window lists: the app says so instead of aborting. */
static void
assert_cannot_start (const char *schema_json,
                     const char *missing)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "other.db", NULL);
  g_autoptr(TetherSchema) schema = tether_test_schema (schema_json);
  g_autoptr(TetherDatabase) db = tether_test_open (path, schema);
  static guint n;
  g_autofree char *id = g_strdup_printf ("%s.Other%u", TETHER_APP_ID, ++n);
  /* An id of its own: the test's application holds TETHER_APP_ID's
   * object path on the bus. */
  g_autoptr(TetherApplication) other = g_object_new (TETHER_TYPE_APPLICATION,
                                                     "application-id", id,
                                                     "resource-base-path", "/app/tether/Tether",
                                                     NULL);
  g_autoptr(GError) error = NULL;
  AdwMessageDialog *dialog;
  const char *body;

  tether_database_close (db);
  g_object_set (other, "database-path", path, NULL);
  g_application_register (G_APPLICATION (other), NULL, &error);
  g_assert_no_error (error);
  g_assert_null (tether_application_get_database (other));
  g_application_activate (G_APPLICATION (other));
  dialog = dialog_of (G_APPLICATION (other));
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "Tether Cannot Start");
  body = adw_message_dialog_get_body (dialog);
  g_assert_nonnull (strstr (body, path));
  g_assert_nonnull (strstr (body, missing));
  gtk_window_destroy (GTK_WINDOW (dialog));
  tether_test_app_drain ();
  tether_test_dir_free (g_steal_pointer (&dir));
}

static void
test_database_lacks_collection (void)
{
  if (skip_without_display ())
    return;
  assert_cannot_start ("{\"version\": 1, \"collections\": {\"notes\": {\"fields\": "
                       "{\"title\": {\"type\": \"string\"}, \"body\": {\"type\": \"string\"}, "
                       "\"tags\": {\"type\": \"array\"}, \"pinned\": {\"type\": \"boolean\"}}}}}",
                       "“tasks”");
  /* The list sorts notes by "pinned": without it, nothing can be listed. */
  assert_cannot_start ("{\"version\": 1, \"collections\": {"
                       "\"notes\": {\"fields\": {\"title\": {\"type\": \"string\"}, "
                       "\"body\": {\"type\": \"string\"}, \"tags\": {\"type\": \"array\"}}},"
                       "\"tasks\": {\"fields\": {\"title\": {\"type\": \"string\"}}}}}",
                       "“pinned”");
}

static GtkWidget *
find_check_buttons (GtkWidget *root,
                    GPtrArray *found)
{
  if (GTK_IS_CHECK_BUTTON (root) && gtk_widget_get_mapped (root))
    g_ptr_array_add (found, root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    find_check_buttons (child, found);
  return NULL;
}

static gboolean
two_checks_shown (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GPtrArray) checks = g_ptr_array_new ();

  find_check_buttons (GTK_WIDGET (f->window->list_view), checks);
  return checks->len == 2;
}

/* Each task's checkbox in the list is named after its task, not "Done"
 * for all of them; and follows a rename. */
static void
test_done_checkbox_names_task (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(TetherRecord) older = NULL;
  g_autoptr(TetherRecord) newer = NULL;
  g_autoptr(TetherRecord) renamed = NULL;
  g_autoptr(GPtrArray) checks = g_ptr_array_new ();
  g_autoptr(JsonObject) patch = tether_test_object ("{\"title\": \"Water the plants\"}");
  g_autoptr(GError) error = NULL;

  if (skip_without_display ())
    return;
  older = create (f->tasks, "{\"title\": \"Call the bank\"}");
  tether_test_app_tick_past (older);
  newer = create (f->tasks, "{\"title\": \"\"}");
  g_assert_true (tether_test_app_wait (two_checks_shown, f, 5000));
  find_check_buttons (GTK_WIDGET (f->window->list_view), checks);
  /* Newest first. */
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (checks->pdata[0]), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Done: Untitled");
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (checks->pdata[1]), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Done: Call the bank");

  renamed = tether_collection_update (f->tasks, tether_record_get_id (newer), patch, &error);
  g_assert_no_error (error);
  tether_test_app_drain ();
  g_ptr_array_set_size (checks, 0);
  find_check_buttons (GTK_WIDGET (f->window->list_view), checks);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (checks->pdata[0]), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       "Done: Water the plants");
}

/* Logging out: GtkApplication::query-end (register-session) saves what
 * the editor holds at once, without its 500 ms wait. */
static void
test_query_end_saves (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(TetherRecord) note = NULL;
  g_autoptr(TetherRecord) stored = NULL;
  gboolean registers = FALSE;

  if (skip_without_display ())
    return;
  g_object_get (app, "register-session", &registers, NULL);
  g_assert_true (registers);
  note = create (f->notes, "{\"title\": \"Draft\"}");
  tether_window_select (f->window, "notes", tether_record_get_id (note));
  gtk_editable_set_text (GTK_EDITABLE (f->window->editor->title_text), "Saved at logout");
  g_signal_emit_by_name (app, "query-end");
  stored = tether_collection_get (f->notes, tether_record_get_id (note), NULL);
  g_assert_cmpstr (tether_record_get_string (stored, "title", NULL), ==, "Saved at logout");
}

/* Terminated while typing ----------------------------------------------------------- */

static gboolean
type_then_terminate (gpointer data)
{
  GApplication *application = data;
  TetherWindow *window = TETHER_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (application)));

  g_assert_nonnull (window);
  g_action_group_activate_action (G_ACTION_GROUP (window), "new-note", NULL);
  g_assert_nonnull (window->open_id);
  /* Typed, and within the editor's 500 ms before it saves. */
  gtk_editable_set_text (GTK_EDITABLE (window->editor->title_text), "Typed before SIGTERM");
  g_assert_cmpint (raise (SIGTERM), ==, 0);
  return G_SOURCE_REMOVE;
}

/* `systemctl stop`, `kill`, Ctrl+C in a terminal: what was typed is saved
 * and the app quits as with Ctrl+Q, instead of dying with the edit. */
static void
test_sigterm_saves (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  g_autoptr(TetherApplication) other = NULL;
  g_autoptr(TetherDatabase) db = NULL;
  g_autoptr(TetherQuery) query = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;
  char *argv[] = { (char *) "tether-app", NULL };

  if (skip_without_display ())
    return;
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  dir = tether_test_dir_new ();
  path = g_build_filename (dir, "tether.db", NULL);
  /* An id of its own, as in assert_cannot_start(). */
  id = g_strdup_printf ("%s.Terminated", TETHER_APP_ID);
  other = g_object_new (TETHER_TYPE_APPLICATION, "application-id", id,
                        "resource-base-path", "/app/tether/Tether", NULL);
  g_object_set (other, "database-path", path, NULL);
  g_idle_add (type_then_terminate, other);
  g_assert_cmpint (g_application_run (G_APPLICATION (other), 1, argv), ==, 0);
  g_clear_object (&other);

  db = tether_test_open (path, NULL);
  query = tether_query_new (tether_database_get_collection (db, "notes", NULL));
  found = tether_query_run (query, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (tether_record_get_string (g_ptr_array_index (found, 0), "title", NULL), ==,
                   "Typed before SIGTERM");
  tether_database_close (db);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* Main ------------------------------------------------------------------------------ */

int
main (int    argc,
      char **argv)
{
  int status;

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* Widgets are read directly here, not through AT-SPI; GTK's test
   * backend keeps the accessible properties the tests read. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  g_test_init (&argc, &argv, NULL);

  have_display = tether_test_app_start (&app);
  if (have_display)
    g_assert_nonnull (tether_application_get_database (app));

#define WINDOW_TEST(path, func) \
  g_test_add ("/tether/app/window/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  WINDOW_TEST ("empty-state", test_empty_state);
  WINDOW_TEST ("new-note-and-task", test_new_note_and_task);
  WINDOW_TEST ("edit-in-editor", test_edit_in_editor);
  WINDOW_TEST ("selection-follows-moves", test_selection_follows_moves);
  WINDOW_TEST ("search", test_search);
  WINDOW_TEST ("kind-filter", test_kind_filter);
  WINDOW_TEST ("tag-filter", test_tag_filter);
  WINDOW_TEST ("toggle-done", test_toggle_done);
  WINDOW_TEST ("delete-and-undo", test_delete_and_undo);
  WINDOW_TEST ("open-and-back", test_open_and_back);
  WINDOW_TEST ("inspector-and-size", test_inspector_and_size);
  WINDOW_TEST ("due-dates-west-of-utc", test_due_dates_west_of_utc);
  WINDOW_TEST ("switch-refused-when-save-fails", test_switch_refused_when_save_fails);
  WINDOW_TEST ("new-refused-when-save-fails", test_new_refused_when_save_fails);
  WINDOW_TEST ("ctrl-delete-in-text", test_ctrl_delete_in_text);
  WINDOW_TEST ("delete-from-editor-focus", test_delete_from_editor_focus);
  WINDOW_TEST ("delete-unsaved", test_delete_unsaved);
  WINDOW_TEST ("close-asks-when-save-fails", test_close_asks_when_save_fails);
  WINDOW_TEST ("settings-written-after-keep-editing", test_settings_written_after_keep_editing);
  WINDOW_TEST ("deleted-elsewhere-asks", test_deleted_elsewhere_asks);
  WINDOW_TEST ("sync-now-while-syncing", test_sync_now_while_syncing);
  WINDOW_TEST ("query-end-saves", test_query_end_saves);
  WINDOW_TEST ("done-checkbox-names-task", test_done_checkbox_names_task);
  g_test_add_func ("/tether/app/database-lacks-collection", test_database_lacks_collection);
  g_test_add_func ("/tether/app/sigterm-saves", test_sigterm_saves);
  g_test_add_func ("/tether/app/item-model/order-and-changes", test_model_order_and_changes);
  g_test_add_func ("/tether/app/item-model/random", test_model_random);
  g_test_add_func ("/tether/app/item-model/perf", test_model_perf);

  status = g_test_run ();

  g_clear_object (&last_listed);
  tether_test_app_stop (&app);
  return status;
}
