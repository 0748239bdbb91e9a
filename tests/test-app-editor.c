/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-editor"
#include "config.h"

#include <adwaita.h>

#include "tether-application.h"
#include "tether-conflict-inbox.h"
#include "tether-editor-private.h"
#include "tether-sync-private.h"
#include "tether-test-app.h"
#include "tether-test-util.h"

/* The editor and the conflict inbox, as a person uses them: typing is
 * stored without a save button, nothing typed is lost on switching or
 * closing, writes from elsewhere show up, and conflicts can be decided and
 * undone. Real widgets in a real window on a real database file. */

static gboolean have_display;
/* The real application, on a temporary database, for the inbox it opens. */
static TetherApplication *app;

typedef struct {
  char             *dir;
  char             *path;
  TetherDatabase   *db;
  TetherCollection *notes;
  TetherCollection *tasks;
  GtkWindow        *window;
  TetherEditor     *editor;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  if (!have_display)
    return;
  f->dir = tether_test_dir_new ();
  f->path = g_build_filename (f->dir, "tether.db", NULL);
  f->db = tether_test_open (f->path, NULL);
  f->notes = tether_database_get_collection (f->db, "notes", &error);
  g_assert_no_error (error);
  f->tasks = tether_database_get_collection (f->db, "tasks", &error);
  g_assert_no_error (error);

  f->window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (f->window, 760, 560);
  f->editor = TETHER_EDITOR (tether_editor_new ());
  gtk_window_set_child (f->window, GTK_WIDGET (f->editor));
  gtk_window_present (f->window);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  if (!have_display)
    return;
  if (f->window != NULL)
    gtk_window_destroy (f->window);
  tether_test_app_settle (50);
  g_clear_object (&f->db);
  g_free (f->path);
  tether_test_dir_free (f->dir);
}

static gboolean
skip_without_display (void)
{
  if (!have_display)
    g_test_skip ("no display (set DISPLAY, or run under xvfb-run)");
  return !have_display;
}

/* Helpers --------------------------------------------------------------- */

static GtkWidget *
find_named (GtkWidget  *root,
            const char *name)
{
  if (g_strcmp0 (gtk_widget_get_name (root), name) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_named (child, name);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_by_tooltip (GtkWidget  *root,
                 const char *tooltip)
{
  if (g_strcmp0 (gtk_widget_get_tooltip_text (root), tooltip) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_tooltip (child, tooltip);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_type (GtkWidget *root,
           GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_type (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
find_button (GtkWidget  *root,
             const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static GtkWidget *
editor_part (Fixture *f, const char *name)
{
  GtkWidget *widget = find_named (GTK_WIDGET (f->editor), name);

  g_assert_nonnull (widget);
  return widget;
}

static GtkEditable *
title_of (Fixture *f)
{
  return GTK_EDITABLE (editor_part (f, "title"));
}

static GtkTextBuffer *
body_of (Fixture *f)
{
  return gtk_text_view_get_buffer (GTK_TEXT_VIEW (editor_part (f, "body")));
}

static char *
body_text (Fixture *f)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (body_of (f), &start, &end);
  return gtk_text_buffer_get_text (body_of (f), &start, &end, FALSE);
}

/* What typing does: the text changes where the cursor is. */
static void
type_body (Fixture *f, const char *text)
{
  gtk_text_buffer_insert_at_cursor (body_of (f), text, -1);
}

static void
type_title (Fixture *f, const char *text)
{
  int position = gtk_editable_get_position (title_of (f));

  gtk_editable_insert_text (title_of (f), text, -1, &position);
  gtk_editable_set_position (title_of (f), position);
}

static TetherRecord *
stored (TetherCollection *c, const char *id)
{
  g_autoptr(GError) error = NULL;
  TetherRecord *record = tether_collection_get (c, id, &error);

  g_assert_no_error (error);
  return record;
}

static const char *
stored_string (TetherCollection *c, const char *id, const char *field)
{
  g_autoptr(TetherRecord) record = stored (c, id);
  static char *last;

  g_free (last);
  last = g_strdup (tether_record_get_string (record, field, NULL));
  return last;
}

typedef struct {
  TetherCollection *collection;
  const char       *id, *field, *expected;
} StoredWait;

static gboolean
is_stored (gpointer data)
{
  StoredWait *w = data;

  return g_strcmp0 (stored_string (w->collection, w->id, w->field), w->expected) == 0;
}

/* The debounced save lands: wait for it (a loaded machine fires late). */
static gboolean
wait_stored (TetherCollection *c, const char *id, const char *field, const char *expected)
{
  StoredWait w = { c, id, field, expected };

  return tether_test_app_wait (is_stored, &w, 5000);
}

static void
update (TetherCollection *c, const char *id, const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) patch = tether_test_object (json);
  g_autoptr(TetherRecord) record = tether_collection_update (c, id, patch, &error);

  g_assert_no_error (error);
}

static char *
open_note (Fixture *f, const char *json)
{
  g_autoptr(TetherRecord) record = tether_test_create (f->notes, json);
  char *id = g_strdup (tether_record_get_id (record));

  tether_editor_set_record (f->editor, f->db, "notes", id, NULL);
  g_assert_cmpstr (tether_editor_get_record_id (f->editor), ==, id);
  return id;
}

static char *
screenshot_path (const char *name)
{
  return g_test_build_filename (G_TEST_BUILT, name, NULL);
}

/* Saving ---------------------------------------------------------------- */

static void
test_saves_after_typing_stops (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autoptr(TetherRecord) before = NULL;
  g_autoptr(TetherRecord) after = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Groceries\", \"tags\": [\"home\"]}");
  gtk_editable_set_position (title_of (f), -1);
  type_title (f, " for Sunday");
  type_body (f, "eggs\nflour\n");

  /* Not yet: typing goes on for a while. */
  before = stored (f->notes, id);
  g_assert_cmpstr (tether_record_get_string (before, "title", NULL), ==, "Groceries");

  g_assert_true (wait_stored (f->notes, id, "body", "eggs\nflour\n"));
  after = stored (f->notes, id);
  g_assert_cmpstr (tether_record_get_string (after, "title", NULL), ==, "Groceries for Sunday");
  g_assert_cmpstr (tether_record_get_string (after, "body", NULL), ==, "eggs\nflour\n");
  g_assert_true (json_node_equal (tether_record_get_member (before, "tags"),
                                  tether_record_get_member (after, "tags")));
}

static void
test_save_now (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Plan\"}");
  type_body (f, "step one");
  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "step one");
  /* Nothing waiting: saving again is a no-op that succeeds. */
  g_assert_true (tether_editor_save_now (f->editor, &error));
}

static void
test_switching_saves_the_old_record (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) second = NULL;
  g_autofree char *first = NULL;
  g_autofree char *shown = NULL;

  if (skip_without_display ())
    return;
  second = tether_test_create (f->notes, "{\"title\": \"Second\", \"body\": \"two\"}");
  first = open_note (f, "{\"title\": \"First\"}");
  type_body (f, "typed just before switching");
  tether_editor_set_record (f->editor, f->db, "notes", tether_record_get_id (second), NULL);

  g_assert_cmpstr (stored_string (f->notes, first, "body"), ==, "typed just before switching");
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, "Second");
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "two");
  /* Nothing is open: no editor fields to type into. */
  tether_editor_set_record (f->editor, NULL, NULL, NULL, NULL);
  g_assert_null (tether_editor_get_record_id (f->editor));
}

static void
test_switching_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) paste = g_string_new (NULL);
  g_autofree char *first = NULL;
  g_autofree char *shown = NULL;

  if (skip_without_display ())
    return;
  second = tether_test_create (f->notes, "{\"title\": \"Second\"}");
  first = open_note (f, "{\"title\": \"First\"}");
  /* Within maxLength in characters, over the 1 MiB of a record in bytes. */
  for (guint i = 0; i < 550000; i++)
    g_string_append (paste, i % 100 == 99 ? "é\n" : "é");
  type_body (f, paste->str);
  g_assert_false (tether_editor_set_record (f->editor, f->db, "notes", tether_record_get_id (second), &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_TOO_LARGE);
  g_assert_cmpstr (tether_editor_get_record_id (f->editor), ==, first);
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, paste->str);
  g_assert_true (gtk_widget_get_visible (editor_part (f, "error")));

  /* Too large stays too large: no retry every few seconds (a copy of the
   * whole text and the write lock each time), the same answer again. */
  g_assert_cmpuint (f->editor->save_source, ==, 0);
  g_clear_error (&error);
  g_assert_false (tether_editor_save_now (f->editor, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_TOO_LARGE);
  g_assert_cmpuint (f->editor->save_source, ==, 0);
  /* The next edit is saved again, after the usual pause. */
  type_body (f, "!");
  g_assert_cmpuint (f->editor->save_source, !=, 0);
  g_assert_true (gtk_widget_get_visible (editor_part (f, "error")));
  g_clear_error (&error);
  g_assert_false (tether_editor_save_now (f->editor, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_TOO_LARGE);
  g_assert_cmpuint (f->editor->save_source, ==, 0);

  /* Discarded, the switch goes ahead. */
  tether_editor_discard_changes (f->editor);
  g_clear_pointer (&shown, g_free);
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "");
  g_assert_true (tether_editor_set_record (f->editor, f->db, "notes", tether_record_get_id (second), NULL));
  g_assert_cmpstr (tether_editor_get_record_id (f->editor), ==, tether_record_get_id (second));
}

static void
test_closing_saves (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Draft\"}");
  type_body (f, "the last sentence");
  gtk_window_destroy (g_steal_pointer (&f->window));
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "the last sentence");
}

static void
test_hiding_saves (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) note = NULL;
  g_autofree char *id = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Side\"}");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (editor_part (f, "pinned")), TRUE);
  type_body (f, "typed before the list came back");
  /* A folded window shows the list instead: the editor is unmapped. */
  gtk_widget_set_visible (GTK_WIDGET (f->editor), FALSE);
  note = stored (f->notes, id);
  g_assert_cmpstr (tether_record_get_string (note, "body", NULL), ==, "typed before the list came back");
  g_assert_true (tether_record_get_boolean (note, "pinned", FALSE));
}

/* Writes from elsewhere --------------------------------------------------- */

static void
test_outside_write_updates_unfocused_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *shown = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Trip\", \"body\": \"\"}");
  gtk_widget_grab_focus (editor_part (f, "body"));
  type_body (f, "passport");
  gtk_editable_set_position (title_of (f), 2);

  /* As sync writes: on the same database, not through the editor. */
  update (f->notes, id, "{\"title\": \"Trip to Lisbon\", \"body\": \"from the other device\"}");
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, "Trip to Lisbon");
  g_assert_cmpint (gtk_editable_get_position (title_of (f)), ==, 2);
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "passport");

  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_cmpstr (stored_string (f->notes, id, "title"), ==, "Trip to Lisbon");
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "passport");

  /* A title in the user's hands but not changed by them follows along. */
  gtk_widget_grab_focus (GTK_WIDGET (title_of (f)));
  gtk_editable_set_position (title_of (f), 4);
  update (f->notes, id, "{\"title\": \"Trip to Porto\"}");
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, "Trip to Porto");
  g_assert_cmpint (gtk_editable_get_position (title_of (f)), ==, 4);
}

static void
test_outside_write_merges_with_typing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *shown = NULL;
  GtkTextIter end, cursor;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"List\", \"body\": \"line one\nline two\n\"}");
  gtk_widget_grab_focus (editor_part (f, "body"));
  gtk_text_buffer_get_end_iter (body_of (f), &end);
  gtk_text_buffer_place_cursor (body_of (f), &end);
  type_body (f, "line three\n");
  gtk_editable_set_position (title_of (f), -1);
  type_title (f, " (mine)");

  /* Another device changed other lines of the body, and the title too. */
  update (f->notes, id, "{\"title\": \"Their list\", \"body\": \"LINE ONE\nline two\n\"}");
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "LINE ONE\nline two\nline three\n");
  gtk_text_buffer_get_iter_at_mark (body_of (f), &cursor, gtk_text_buffer_get_insert (body_of (f)));
  g_assert_true (gtk_text_iter_is_end (&cursor));
  /* Both changed the one line of the title: the typing wins here. */
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, "List (mine)");

  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "LINE ONE\nline two\nline three\n");
  g_assert_cmpstr (stored_string (f->notes, id, "title"), ==, "List (mine)");
}

static gboolean
body_is_from_cli (gpointer data)
{
  g_autofree char *text = body_text (data);

  return g_strcmp0 (text, "From the CLI") == 0;
}

static void
test_other_process_write_shows_up (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherDatabase) other = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  TetherCollection *notes;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Shared\"}");
  /* A second connection on the file is what the CLI beside the app is. */
  other = tether_test_open (f->path, NULL);
  notes = tether_database_get_collection (other, "notes", &error);
  g_assert_no_error (error);
  /* The window put the focus on the title: the body is free to change. */
  update (notes, id, "{\"body\": \"From the CLI\"}");
  g_assert_true (tether_test_app_wait (body_is_from_cli, f, 3000));
}

static void
test_deleted_elsewhere (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) note = NULL;
  g_autofree char *id = NULL;
  g_autofree char *created_json = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *png = screenshot_path ("editor-deleted.png");
  GtkWidget *deleted;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Doomed\"}");
  created_json = g_strdup_printf ("{\"id\": \"%s\", \"title\": \"Back\"}", id);
  type_body (f, "unsaved words");
  g_assert_true (tether_collection_delete (f->notes, id, &error));
  deleted = editor_part (f, "deleted");
  g_assert_true (gtk_widget_get_visible (deleted));
  /* What was typed stays readable and can be selected and copied. */
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "unsaved words");
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (title_of (f))));
  g_assert_true (gtk_widget_is_sensitive (editor_part (f, "body")));
  g_assert_false (gtk_editable_get_editable (title_of (f)));
  g_assert_false (gtk_text_view_get_editable (GTK_TEXT_VIEW (editor_part (f, "body"))));
  tether_test_app_settle (300);
  tether_test_app_snapshot (GTK_WIDGET (f->window), png);
  /* Nothing to save into, and no resurrection; but the typing was never
   * stored, so leaving it is refused as for any edit that cannot be saved. */
  g_assert_false (tether_editor_save_now (f->editor, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tether_editor_set_record (f->editor, f->db, NULL, NULL, &error));
  g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_cmpstr (tether_editor_get_record_id (f->editor), ==, id);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);
  /* Discarded, it shows the note as last stored, and can be left. */
  tether_editor_discard_changes (f->editor);
  g_clear_pointer (&shown, g_free);
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "");
  g_assert_false (gtk_editable_get_editable (title_of (f)));
  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tether_collection_count (f->notes, NULL, NULL), ==, 0);

  /* Undo brings it back (same id): editable again, with its text. */
  g_clear_object (&note);
  note = tether_test_create (f->notes, created_json);
  g_assert_false (gtk_widget_get_visible (deleted));
  g_assert_true (gtk_editable_get_editable (title_of (f)));
  g_assert_true (gtk_text_view_get_editable (GTK_TEXT_VIEW (editor_part (f, "body"))));
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, "Back");
}

/* Deleted elsewhere with nothing typed since the last save: nothing to
 * lose, so it is left without a word, the empty fields it never stored
 * (tags, pinned, body) included. */
static void
test_deleted_elsewhere_untouched (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Old\"}");
  type_body (f, "typed and stored");
  g_assert_true (tether_editor_save_now (f->editor, &error));
  type_title (f, "x");
  gtk_editable_delete_text (title_of (f), 3, -1);
  gtk_editable_set_text (GTK_EDITABLE (editor_part (f, "tags")), "");
  g_assert_true (tether_collection_delete (f->notes, id, &error));
  g_assert_true (gtk_widget_get_visible (editor_part (f, "deleted")));
  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_no_error (error);
  g_assert_true (tether_editor_set_record (f->editor, f->db, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (tether_editor_get_record_id (f->editor));
}

static void
test_deleted_elsewhere_restore (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  GtkWidget *restore;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Letter\", \"tags\": [\"post\"], \"body\": \"Dear Ada,\\n\"}");
  type_body (f, "typed just before the delete");
  g_assert_true (tether_collection_delete (f->notes, id, &error));
  restore = editor_part (f, "restore");
  g_assert_true (gtk_widget_get_mapped (restore));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (restore)), ==, "editor.restore");

  /* Restore: the note again, as shown, the unsaved typing included. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->editor), "editor.restore", NULL));
  g_assert_cmpstr (stored_string (f->notes, id, "title"), ==, "Letter");
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "typed just before the deleteDear Ada,\n");
  g_assert_false (gtk_widget_get_visible (editor_part (f, "deleted")));
  g_assert_true (gtk_text_view_get_editable (GTK_TEXT_VIEW (editor_part (f, "body"))));
  /* And it is edited and saved as before. */
  type_body (f, "! ");
  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "typed just before the delete! Dear Ada,\n");
}

/* Refused saves --------------------------------------------------------------- */

static void
test_refused_save_keeps_text (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *long_title = g_strnfill (1001, 'x');
  g_autofree char *png = screenshot_path ("editor-refused.png");
  GtkWidget *message;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Short\"}");
  gtk_editable_set_text (title_of (f), long_title);
  type_body (f, "body survives");

  g_assert_false (tether_editor_save_now (f->editor, &error));
  g_assert_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION);
  g_assert_nonnull (strstr (error->message, "title"));
  message = editor_part (f, "error");
  g_assert_true (gtk_widget_get_visible (message));
  g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (message)), error->message));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (title_of (f)), "error"));
  /* The text stays in the editor; the fields that are fine are stored. */
  g_assert_cmpstr (gtk_editable_get_text (title_of (f)), ==, long_title);
  g_assert_cmpstr (stored_string (f->notes, id, "title"), ==, "Short");
  g_assert_cmpstr (stored_string (f->notes, id, "body"), ==, "body survives");

  tether_test_app_settle (400);
  tether_test_app_snapshot (GTK_WIDGET (f->window), png);

  /* The next change is tried again. */
  g_clear_error (&error);
  gtk_editable_delete_text (title_of (f), 10, -1);
  g_assert_true (tether_editor_save_now (f->editor, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (stored_string (f->notes, id, "title"), ==, "xxxxxxxxxx");
  g_assert_false (gtk_widget_get_visible (message));
  g_assert_false (gtk_widget_has_css_class (GTK_WIDGET (title_of (f)), "error"));
}

/* Tasks ------------------------------------------------------------------------ */

static void
test_task_fields (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) task = NULL;
  g_autoptr(TetherRecord) saved = NULL;
  g_autoptr(GDateTime) day = g_date_time_new_local (2026, 4, 15, 0, 0, 0);
  g_auto(GStrv) tags = NULL;
  const char *id;
  GtkWidget *calendar;
  GtkTextIter end;
  g_autofree char *shown = NULL;

  if (skip_without_display ())
    return;
  task = tether_test_create (f->tasks, "{\"title\": \"File taxes\", \"notes\": \"receipts\"}");
  id = tether_record_get_id (task);
  tether_editor_set_record (f->editor, f->db, "tasks", id, NULL);
  shown = body_text (f);
  g_assert_cmpstr (shown, ==, "receipts");
  g_assert_false (gtk_widget_get_visible (editor_part (f, "pinned")));
  g_assert_true (gtk_widget_get_visible (editor_part (f, "done")));

  /* Clicks are stored at once. */
  gtk_check_button_set_active (GTK_CHECK_BUTTON (editor_part (f, "done")), TRUE);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (editor_part (f, "priority")), 2);
  calendar = find_type (editor_part (f, "due"), GTK_TYPE_CALENDAR);
  g_assert_nonnull (calendar);
  gtk_calendar_select_day (GTK_CALENDAR (calendar), day);
  saved = stored (f->tasks, id);
  g_assert_true (tether_record_get_boolean (saved, "done", FALSE));
  g_assert_cmpint (tether_record_get_int (saved, "priority", 0), ==, 2);
  g_assert_cmpstr (tether_record_get_string (saved, "due", NULL), ==, "2026-04-15T00:00:00.000Z");

  gtk_editable_set_text (GTK_EDITABLE (editor_part (f, "tags")), "money, home,, money ");
  gtk_text_buffer_get_end_iter (body_of (f), &end);
  gtk_text_buffer_place_cursor (body_of (f), &end);
  type_body (f, " and forms");
  g_assert_true (wait_stored (f->tasks, id, "notes", "receipts and forms"));
  g_clear_object (&saved);
  saved = stored (f->tasks, id);
  tags = tether_record_dup_strv (saved, "tags");
  g_assert_cmpstrv (tags, ((const char *[]) { "money", "home", NULL }));
  g_assert_cmpstr (tether_record_get_string (saved, "notes", NULL), ==, "receipts and forms");

  /* Clearing the due date removes the field. */
  g_signal_emit_by_name (find_button (editor_part (f, "due"), "_Clear Due Date"), "clicked");
  g_clear_object (&saved);
  saved = stored (f->tasks, id);
  g_assert_false (tether_record_has_field (saved, "due"));
}

/* The calendar's label of @day in the month it shows. */
static GtkWidget *
find_day_label (GtkWidget *root,
                int        day)
{
  g_autofree char *text = g_strdup_printf ("%d", day);

  if (GTK_IS_LABEL (root) && gtk_widget_has_css_class (root, "day-number") &&
      !gtk_widget_has_css_class (root, "other-month") &&
      g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_day_label (child, day);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
is_unmapped (gpointer data)
{
  return !gtk_widget_get_mapped (data);
}

/* With no due date the calendar opens on today, already selected: a
 * click on it must still set it, though the calendar sees no change. */
static void
test_due_today_by_click (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) task = NULL;
  g_autoptr(TetherRecord) saved = NULL;
  g_autoptr(GDateTime) today = g_date_time_new_now_local ();
  g_autofree char *expected = g_strdup_printf ("%04d-%02d-%02dT00:00:00.000Z", g_date_time_get_year (today),
                                               g_date_time_get_month (today),
                                               g_date_time_get_day_of_month (today));
  GtkMenuButton *due;
  GtkWidget *popover, *calendar, *label;

  if (skip_without_display ())
    return;
  task = tether_test_create (f->tasks, "{\"title\": \"Call the bank\"}");
  tether_editor_set_record (f->editor, f->db, "tasks", tether_record_get_id (task), NULL);
  g_assert_true (tether_test_app_wait (is_mapped, editor_part (f, "due"), 5000));
  due = GTK_MENU_BUTTON (editor_part (f, "due"));
  popover = GTK_WIDGET (gtk_menu_button_get_popover (due));
  gtk_menu_button_popup (due);
  g_assert_true (tether_test_app_wait (is_mapped, popover, 5000));
  calendar = find_type (popover, GTK_TYPE_CALENDAR);
  label = find_day_label (calendar, g_date_time_get_day_of_month (today));
  g_assert_nonnull (label);
  g_assert_true (tether_test_app_wait (is_mapped, label, 5000));

  if (!tether_test_app_click (label))
    {
      g_test_skip ("no XTEST: the calendar cannot be clicked on this display");
      return;
    }
  g_assert_true (tether_test_app_wait (is_unmapped, popover, 5000));
  saved = stored (f->tasks, tether_record_get_id (task));
  g_assert_cmpstr (tether_record_get_string (saved, "due", NULL), ==, expected);
}

/* A screen reader hears the date on the due button, not just "Due Date". */
static void
test_due_accessible_label (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) task = NULL;
  GtkWidget *due;

  if (skip_without_display ())
    return;
  task = tether_test_create (f->tasks, "{\"title\": \"Renew passport\", \"due\": \"2026-12-03T00:00:00Z\"}");
  tether_editor_set_record (f->editor, f->db, "tasks", tether_record_get_id (task), NULL);
  due = editor_part (f, "due");
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (due), GTK_ACCESSIBLE_PROPERTY_LABEL, "Due: 3 Dec 2026");

  g_signal_emit_by_name (find_button (due, "_Clear Due Date"), "clicked");
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (due), GTK_ACCESSIBLE_PROPERTY_LABEL, "Due Date: None");
}

static void
test_snapshots (Fixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) task = NULL;
  g_autofree char *note_png = screenshot_path ("editor-note.png");
  g_autofree char *task_png = screenshot_path ("editor-task.png");
  g_autofree char *id = NULL;

  if (skip_without_display ())
    return;
  id = open_note (f, "{\"title\": \"Weekend in Lisbon\", \"tags\": [\"travel\", \"family\"], \"pinned\": true,"
                     " \"body\": \"Book the tram tour on Saturday morning.\\n\\nPack:\\n- passport\\n- charger\\n"
                     "- the good walking shoes\\n\\nAsk Ana about the restaurant near Alfama.\"}");
  tether_test_app_settle (300);
  tether_test_app_snapshot (GTK_WIDGET (f->window), note_png);

  task = tether_test_create (f->tasks, "{\"title\": \"Renew the passport\", \"priority\": 3,"
                                       " \"due\": \"2026-05-02\", \"tags\": [\"admin\"],"
                                       " \"notes\": \"Photos from the shop on the corner. Bring the old one.\"}");
  tether_editor_set_record (f->editor, f->db, "tasks", tether_record_get_id (task), NULL);
  tether_test_app_settle (300);
  tether_test_app_snapshot (GTK_WIDGET (f->window), task_png);
  g_test_message ("screenshots: %s %s", note_png, task_png);
}

/* The conflict inbox ------------------------------------------------------------ */

typedef struct {
  Fixture              base;
  TetherSyncEngine    *engine;
  TetherConflictInbox *inbox;
} InboxFixture;

static void
inbox_set_up (InboxFixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture_set_up (&f->base, data);
  if (!have_display)
    return;
  f->engine = tether_sync_engine_new (f->base.db, &error);
  g_assert_no_error (error);
}

static void
inbox_tear_down (InboxFixture *f, gconstpointer data)
{
  if (f->inbox != NULL)
    gtk_window_destroy (GTK_WINDOW (f->inbox));
  g_clear_object (&f->engine);
  fixture_tear_down (&f->base, data);
}

static void
open_inbox (InboxFixture *f)
{
  f->inbox = g_object_new (TETHER_TYPE_CONFLICT_INBOX, "sync-engine", f->engine, NULL);
  gtk_window_set_default_size (GTK_WINDOW (f->inbox), 980, 640);
  gtk_window_present (GTK_WINDOW (f->inbox));
  tether_test_app_settle (200);
}

/* A conflict as sync leaves it: the record holds @stored_json. */
static TetherConflict *
add_conflict (InboxFixture *f, const char *conflict_id, const char *record_id,
              const char *local, const char *remote, gint64 created)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) l = tether_test_object (local);
  g_autoptr(JsonObject) r = tether_test_object (remote);
  TetherConflict *conflict = tether_conflict_new (conflict_id, "notes", record_id);

  tether_conflict_set_local (conflict, l, "1700000000000-0000-aaaa");
  tether_conflict_set_remote (conflict, r, "1700000000001-0000-bbbb", 3);
  tether_conflict_set_base (conflict, l);
  tether_conflict_set_created (conflict, created);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  g_assert_true (_tether_sync_store_save_conflict (f->base.db, conflict, &error));
  g_assert_no_error (error);
  return conflict;
}

static void
save (InboxFixture *f, TetherConflict *conflict)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (_tether_sync_store_save_conflict (f->base.db, conflict, &error));
  g_assert_no_error (error);
}

static TetherConflictStatus
status_of (InboxFixture *f, const char *conflict_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherConflict) conflict = tether_sync_engine_get_conflict (f->engine, conflict_id, &error);

  g_assert_no_error (error);
  return tether_conflict_get_status (conflict);
}

static GtkListBox *
inbox_list (InboxFixture *f)
{
  GtkWidget *list = find_type (GTK_WIDGET (f->inbox), GTK_TYPE_LIST_BOX);

  g_assert_nonnull (list);
  return GTK_LIST_BOX (list);
}

static guint
count_rows (GtkListBox *list)
{
  guint n = 0;

  while (gtk_list_box_get_row_at_index (list, n) != NULL)
    n++;
  return n;
}

static void
select_row (InboxFixture *f, guint index)
{
  GtkListBox *list = inbox_list (f);

  gtk_list_box_select_row (list, gtk_list_box_get_row_at_index (list, index));
}

/* Both sides of one open conflict, and one that merged by itself. */
static void
add_two_conflicts (InboxFixture *f)
{
  g_autoptr(TetherRecord) open_note = tether_test_create (f->base.notes,
    "{\"id\": \"n-open\", \"title\": \"Shopping\", \"body\": \"milk\\nbread\\n\", \"tags\": [\"home\"]}");
  g_autoptr(TetherRecord) merged_note = tether_test_create (f->base.notes,
    "{\"id\": \"n-merged\", \"title\": \"Reading list\", \"body\": \"Dune\\nEmma\\nUlysses\\n\"}");
  g_autoptr(TetherConflict) open = NULL;
  g_autoptr(TetherConflict) merged = NULL;
  g_autoptr(JsonObject) result = tether_test_object ("{\"id\": \"n-merged\", \"title\": \"Reading list\", \"body\": \"Dune\\nEmma\\nUlysses\\n\"}");
  const char * const lost[] = { "title", NULL };
  const char * const none[] = { NULL };

  open = add_conflict (f, "c-open", "n-open",
                       "{\"id\": \"n-open\", \"title\": \"Shopping\", \"body\": \"milk\\nbread\\n\", \"tags\": [\"home\"]}",
                       "{\"id\": \"n-open\", \"title\": \"Shopping for the party\", \"body\": \"milk\\nbread\\ncake\\n\", \"tags\": [\"home\"]}",
                       g_get_real_time () / 1000 - 60000);
  /* An open conflict's local side is the record as stored (with its
   * defaults), as the engine writes it: a choice from another is refused. */
  tether_conflict_set_local (open, tether_record_get_data (open_note), "1700000000000-0000-aaaa");
  save (f, open);
  merged = add_conflict (f, "c-merged", "n-merged",
                         "{\"id\": \"n-merged\", \"title\": \"Books\", \"body\": \"Dune\\nEmma\\n\"}",
                         "{\"id\": \"n-merged\", \"title\": \"Reading list\", \"body\": \"Dune\\nUlysses\\n\"}",
                         g_get_real_time () / 1000 - 120000);
  tether_conflict_set_strategy (merged, TETHER_CONFLICT_STRATEGY_MERGE);
  tether_conflict_set_result (merged, result, TETHER_CONFLICT_WINNER_MERGED);
  tether_conflict_set_fields (merged, lost, lost, none);
  tether_conflict_set_status (merged, TETHER_CONFLICT_RESOLVED, g_get_real_time () / 1000 - 30000);
  save (f, merged);
}

static void
test_inbox_empty (InboxFixture *f, gconstpointer data)
{
  g_autofree char *png = screenshot_path ("conflict-inbox-empty.png");
  GtkWidget *status;

  if (skip_without_display ())
    return;
  open_inbox (f);
  status = find_type (GTK_WIDGET (f->inbox), ADW_TYPE_STATUS_PAGE);
  g_assert_nonnull (status);
  g_assert_true (gtk_widget_get_mapped (status));
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (status)), ==, "No Conflicts");
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
}

/* A log that cannot be read is not an empty one: the inbox says what
 * failed, where "No Conflicts … nothing is lost" would be a claim. */
static void
test_inbox_read_error (InboxFixture *f, gconstpointer data)
{
  g_autofree char *png = screenshot_path ("conflict-inbox-read-error.png");
  g_autoptr(GError) error = NULL;
  GtkWidget *status;

  if (skip_without_display ())
    return;
  g_assert_true (_tether_database_exec (f->base.db, "ALTER TABLE _tether_conflicts RENAME TO _tether_conflicts_gone",
                                        &error));
  g_assert_no_error (error);
  open_inbox (f);
  status = find_type (GTK_WIDGET (gtk_stack_get_visible_child (GTK_STACK (find_type (GTK_WIDGET (f->inbox),
                                                                                      GTK_TYPE_STACK)))),
                      ADW_TYPE_STATUS_PAGE);
  g_assert_nonnull (status);
  g_assert_true (gtk_widget_get_mapped (status));
  g_assert_cmpstr (adw_status_page_get_title (ADW_STATUS_PAGE (status)), ==, "Cannot Show the Conflicts");
  g_assert_nonnull (strstr (adw_status_page_get_description (ADW_STATUS_PAGE (status)), "_tether_conflicts"));
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  g_test_message ("screenshot: %s", png);
}

static void
test_inbox_lists_conflicts (InboxFixture *f, gconstpointer data)
{
  g_autofree char *png = screenshot_path ("conflict-inbox-open.png");
  g_autofree char *decided_png = screenshot_path ("conflict-inbox-decided.png");

  if (skip_without_display ())
    return;
  add_two_conflicts (f);
  open_inbox (f);
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, 2);
  /* Open first, already selected, with a choice per differing field. */
  g_assert_nonnull (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep their Title"));
  g_assert_nonnull (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep my Body"));
  g_assert_null (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep my Tags"));
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);

  select_row (f, 1);
  tether_test_app_settle (100);
  g_assert_null (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep their Title"));
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), decided_png);
  g_test_message ("screenshots: %s %s", png, decided_png);
}

/* Changed here, deleted on the server: no field can be chosen, so the
 * detail offers none, and its text says what each button keeps. */
static void
test_inbox_open_delete (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) note = tether_test_create (f->base.notes, "{\"id\": \"n-gone\", \"title\": \"Packing list\"}");
  g_autoptr(TetherConflict) conflict = tether_conflict_new ("c-gone", "notes", "n-gone");
  g_autofree char *png = screenshot_path ("conflict-inbox-open-delete.png");
  GtkLabel *summary;

  if (skip_without_display ())
    return;
  tether_conflict_set_local (conflict, tether_record_get_data (note), NULL);
  tether_conflict_set_remote (conflict, NULL, NULL, 4);
  tether_conflict_set_deleted (conflict, FALSE, TRUE);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  save (f, conflict);
  open_inbox (f);
  g_assert_null (find_type (GTK_WIDGET (f->inbox), GTK_TYPE_CHECK_BUTTON));
  summary = GTK_LABEL (gtk_widget_get_template_child (GTK_WIDGET (f->inbox), TETHER_TYPE_CONFLICT_INBOX,
                                                      "detail_summary"));
  g_assert_nonnull (strstr (gtk_label_get_text (summary), "deleted on the server"));
  g_assert_null (strstr (gtk_label_get_text (summary), "each field"));
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  g_test_message ("screenshot: %s", png);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-theirs", NULL));
  g_assert_cmpint (status_of (f, "c-gone"), ==, TETHER_CONFLICT_RESOLVED);
}

/* The badge of @side's card ("Mine" or "Theirs") under the heading
 * @field of the detail: "Lost", "Kept", or NULL for none. */
static const char *
badge_of (InboxFixture *f, const char *field, const char *side)
{
  GtkWidget *fields = (GtkWidget *) gtk_widget_get_template_child (GTK_WIDGET (f->inbox), TETHER_TYPE_CONFLICT_INBOX, "fields_box");

  for (GtkWidget *block = gtk_widget_get_first_child (fields); block; block = gtk_widget_get_next_sibling (block))
    {
      GtkWidget *heading = gtk_widget_get_first_child (block);
      GtkWidget *sides = gtk_widget_get_next_sibling (heading);

      if (!GTK_IS_BOX (heading) || sides == NULL ||
          g_strcmp0 (gtk_label_get_text (GTK_LABEL (gtk_widget_get_first_child (heading))), field) != 0)
        continue;
      for (GtkWidget *card = gtk_widget_get_first_child (sides); card; card = gtk_widget_get_next_sibling (card))
        {
          GtkWidget *header = gtk_widget_get_first_child (card);
          GtkWidget *name = gtk_widget_get_first_child (header);
          GtkWidget *badge = gtk_widget_get_next_sibling (name);

          if (GTK_IS_LABEL (name) && g_str_equal (gtk_label_get_text (GTK_LABEL (name)), side))
            return badge != NULL ? gtk_label_get_text (GTK_LABEL (badge)) : NULL;
        }
    }
  g_assert_not_reached ();
}

/* Keep Mine leaves the merge preview's lists in the log (the preview lost
 * my title): the badges and the summary go by what was kept instead, and
 * everything of theirs that differs lost. */
static void
test_inbox_whole_choice_badges (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherConflict) conflict = NULL;
  g_autoptr(JsonObject) mine = tether_test_object ("{\"id\": \"n-mine\", \"title\": \"My title\", \"body\": \"same\\n\"}");
  const char * const title[] = { "title", NULL };
  const char * const body[] = { "body", NULL };
  g_autofree char *png = screenshot_path ("conflict-inbox-kept-mine.png");
  GtkLabel *summary;

  if (skip_without_display ())
    return;
  conflict = add_conflict (f, "c-mine", "n-mine",
                           "{\"id\": \"n-mine\", \"title\": \"My title\", \"body\": \"same\\n\"}",
                           "{\"id\": \"n-mine\", \"title\": \"Their title\", \"body\": \"their body\\n\"}",
                           g_get_real_time () / 1000 - 60000);
  tether_conflict_set_fields (conflict, title, title, body);
  tether_conflict_set_result (conflict, mine, TETHER_CONFLICT_WINNER_LOCAL);
  tether_conflict_set_status (conflict, TETHER_CONFLICT_RESOLVED, g_get_real_time () / 1000 - 30000);
  save (f, conflict);
  open_inbox (f);
  g_assert_cmpstr (badge_of (f, "Title", "Mine"), ==, "Kept");
  g_assert_cmpstr (badge_of (f, "Title", "Theirs"), ==, "Lost");
  g_assert_cmpstr (badge_of (f, "Body", "Mine"), ==, "Kept");
  g_assert_cmpstr (badge_of (f, "Body", "Theirs"), ==, "Lost");
  summary = GTK_LABEL (gtk_widget_get_template_child (GTK_WIDGET (f->inbox), TETHER_TYPE_CONFLICT_INBOX,
                                                      "detail_summary"));
  g_assert_null (strstr (gtk_label_get_text (summary), "Lost from your version"));
  g_assert_nonnull (strstr (gtk_label_get_text (summary), "Lost from the server’s version: Title, Body."));
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  g_test_message ("screenshot: %s", png);
}

static void
test_inbox_keep_theirs (InboxFixture *f, gconstpointer data)
{
  if (skip_without_display ())
    return;
  add_two_conflicts (f);
  open_inbox (f);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-theirs", NULL));
  g_assert_cmpint (status_of (f, "c-open"), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "title"), ==, "Shopping for the party");
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "body"), ==, "milk\nbread\ncake\n");
  /* Still listed, now as decided: nothing open is left. */
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, 2);
  gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-mine", NULL);
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "title"), ==, "Shopping for the party");
}

static void
test_inbox_keep_selected (InboxFixture *f, gconstpointer data)
{
  GtkWidget *their_title;

  if (skip_without_display ())
    return;
  add_two_conflicts (f);
  open_inbox (f);
  their_title = find_by_tooltip (GTK_WIDGET (f->inbox), "Keep their Title");
  g_assert_nonnull (their_title);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (their_title), TRUE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-selected", NULL));
  g_assert_cmpint (status_of (f, "c-open"), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "title"), ==, "Shopping for the party");
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "body"), ==, "milk\nbread\n");
}

static GtkWidget *find_label (GtkWidget *root, const char *text);

/* The server's version of the open conflict moves on while the user
 * chooses: the choice made for a field that still differs stays, and
 * Keep Selected takes it once the new version has been seen. */
static void
test_inbox_update_keeps_choices (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherConflict) open = NULL;
  g_autoptr(JsonObject) newer = tether_test_object ("{\"id\": \"n-open\", \"title\": \"Shopping for the party\","
                                                    " \"body\": \"milk\\nbread\\ncake\\ncandles\\n\", \"tags\": [\"home\"]}");
  g_autoptr(GError) error = NULL;
  g_autofree char *png = screenshot_path ("conflict-inbox-updated.png");
  GtkWidget *their_title;

  if (skip_without_display ())
    return;
  add_two_conflicts (f);
  open_inbox (f);
  their_title = find_by_tooltip (GTK_WIDGET (f->inbox), "Keep their Title");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (their_title), TRUE);

  open = tether_sync_engine_get_conflict (f->engine, "c-open", &error);
  g_assert_no_error (error);
  tether_conflict_set_remote (open, newer, "1700000000002-0000-bbbb", 4);
  save (f, open);
  g_signal_emit_by_name (f->engine, "conflict", open);
  tether_test_app_settle (50);
  g_assert_nonnull (find_label (GTK_WIDGET (f->inbox), "milk\nbread\ncake\ncandles"));
  their_title = find_by_tooltip (GTK_WIDGET (f->inbox), "Keep their Title");
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (their_title)));
  g_assert_false (gtk_check_button_get_active (GTK_CHECK_BUTTON (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep my Title"))));
  g_assert_true (gtk_check_button_get_active (GTK_CHECK_BUTTON (find_by_tooltip (GTK_WIDGET (f->inbox), "Keep my Body"))));
  /* At once: a click on its way from the old detail, refused. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-selected", NULL));
  g_assert_cmpint (status_of (f, "c-open"), ==, TETHER_CONFLICT_OPEN);
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  g_test_message ("screenshot: %s", png);
  tether_test_app_settle (1500);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-selected", NULL));
  g_assert_cmpint (status_of (f, "c-open"), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "title"), ==, "Shopping for the party");
  g_assert_cmpstr (stored_string (f->base.notes, "n-open", "body"), ==, "milk\nbread\n");
}

static gboolean
shows_label_with (GtkWidget *root, const char *text)
{
  if (GTK_IS_LABEL (root) && strstr (gtk_label_get_text (GTK_LABEL (root)), text) != NULL)
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    if (shows_label_with (child, text))
      return TRUE;
  return FALSE;
}

static GtkWidget *
find_by_label (GtkWidget *root, const char *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_by_label (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The dialog a restore asks in. */
static AdwMessageDialog *
restore_dialog (void)
{
  GListModel *windows = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (windows); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (windows, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static GtkWidget *
find_action (GtkWidget *root, const char *action)
{
  if (GTK_IS_ACTIONABLE (root) && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (root)), action) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_action (child, action);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* Clicks the dialog's button for @response, as a person would. */
static void
respond (AdwMessageDialog *dialog, const char *response)
{
  const char *label = adw_message_dialog_get_response_label (dialog, response);
  GtkWidget *button = find_by_label (GTK_WIDGET (dialog), label);

  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  tether_test_app_settle (50);
  g_assert_null (restore_dialog ());
}

/* Asks, restores when told to, and the toast's Undo puts back what the
 * restore replaced. */
static void
answer_restore (InboxFixture *f, const char *answer, const char *png)
{
  AdwMessageDialog *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.restore", NULL));
  dialog = restore_dialog ();
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "undone"));
  if (png != NULL)
    {
      tether_test_app_settle (200);
      tether_test_app_snapshot (GTK_WIDGET (dialog), png);
      g_test_message ("screenshot: %s", png);
    }
  respond (dialog, answer);
}

static void
test_inbox_restore (InboxFixture *f, gconstpointer data)
{
  g_autofree char *dialog_png = screenshot_path ("conflict-inbox-restore-dialog.png");
  g_autofree char *png = screenshot_path ("conflict-inbox-restored.png");
  g_autofree char *replaced_png = screenshot_path ("conflict-inbox-replaced.png");
  GtkWidget *undo;

  if (skip_without_display ())
    return;
  add_two_conflicts (f);
  open_inbox (f);
  /* An open conflict has nothing to restore yet. */
  gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.restore", NULL);
  g_assert_cmpint (status_of (f, "c-open"), ==, TETHER_CONFLICT_OPEN);
  g_assert_null (restore_dialog ());
  select_row (f, 1);

  /* It asks first, and says what is replaced; Cancel writes nothing. */
  answer_restore (f, "cancel", NULL);
  g_assert_cmpint (status_of (f, "c-merged"), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpstr (stored_string (f->base.notes, "n-merged", "title"), ==, "Reading list");
  answer_restore (f, "restore", dialog_png);
  g_assert_cmpint (status_of (f, "c-merged"), ==, TETHER_CONFLICT_RESTORED);
  /* Only the field the merge lost comes back, on top of the merged record. */
  g_assert_cmpstr (stored_string (f->base.notes, "n-merged", "title"), ==, "Books");
  g_assert_cmpstr (stored_string (f->base.notes, "n-merged", "body"), ==, "Dune\nEmma\nUlysses\n");
  /* What it replaced is listed, and the toast's Undo restores it. */
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, 3);
  g_assert_true (shows_label_with (GTK_WIDGET (inbox_list (f)), "Replaced by a Restore"));
  undo = find_action (GTK_WIDGET (f->inbox), "inbox.undo-restore");
  g_assert_nonnull (undo);
  select_row (f, 1);
  tether_test_app_settle (100);
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  select_row (f, 2);
  tether_test_app_settle (100);
  g_assert_cmpstr (badge_of (f, "Title", "Replaced"), ==, "Lost");
  g_assert_cmpstr (badge_of (f, "Title", "Restored"), ==, "Kept");
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), replaced_png);
  g_test_message ("screenshots: %s %s", png, replaced_png);
  g_signal_emit_by_name (undo, "clicked");
  g_assert_cmpstr (stored_string (f->base.notes, "n-merged", "title"), ==, "Reading list");
  g_assert_cmpstr (stored_string (f->base.notes, "n-merged", "body"), ==, "Dune\nEmma\nUlysses\n");
}

/* The version that lost was a delete: the dialog says the note goes,
 * and Undo brings it back. */
static void
test_inbox_restore_delete (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) note = tether_test_create (f->base.notes, "{\"id\": \"n-del\", \"title\": \"Recipes\"}");
  g_autoptr(TetherConflict) conflict = tether_conflict_new ("c-del", "notes", "n-del");
  AdwMessageDialog *dialog;
  GtkWidget *undo;

  if (skip_without_display ())
    return;
  tether_conflict_set_remote (conflict, tether_record_get_data (note), "1700000000001-0000-bbbb", 5);
  tether_conflict_set_deleted (conflict, TRUE, FALSE);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_LWW);
  tether_conflict_set_result (conflict, tether_record_get_data (note), TETHER_CONFLICT_WINNER_REMOTE);
  tether_conflict_set_status (conflict, TETHER_CONFLICT_RESOLVED, g_get_real_time () / 1000 - 1000);
  save (f, conflict);
  open_inbox (f);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.restore", NULL));
  dialog = restore_dialog ();
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "“Recipes” will be deleted"));
  respond (dialog, "restore");
  g_assert_null (tether_collection_get (f->base.notes, "n-del", NULL));
  undo = find_action (GTK_WIDGET (f->inbox), "inbox.undo-restore");
  g_assert_nonnull (undo);
  g_signal_emit_by_name (undo, "clicked");
  g_assert_cmpstr (stored_string (f->base.notes, "n-del", "title"), ==, "Recipes");
}

static void
test_inbox_follows_the_engine (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherConflict) late = NULL;

  if (skip_without_display ())
    return;
  open_inbox (f);
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, 0);
  late = add_conflict (f, "c-late", "n-late", "{\"title\": \"a\"}", "{\"title\": \"b\"}", g_get_real_time () / 1000);
  g_signal_emit_by_name (f->engine, "conflict", late);
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, 1);
}

static GtkWidget *
find_label (GtkWidget  *root,
            const char *text)
{
  if (GTK_IS_LABEL (root) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (root)), text) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_label (child, text);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* A server that sends no revs (seed-style: all are 0, no hlc) can change
 * its version of a record without a new rev: the inbox shows the new
 * "Theirs" and says so. A click at once was made on the old one and is
 * refused; once the new one has been on screen, keeping it works. */
static void
test_inbox_follows_remote_data (InboxFixture *f, gconstpointer data)
{
  g_autoptr(TetherRecord) note = tether_test_create (f->base.notes, "{\"id\": \"n-seed\", \"title\": \"Mine\"}");
  g_autoptr(TetherConflict) conflict = tether_conflict_new ("c-seed", "notes", "n-seed");
  g_autoptr(JsonObject) old_remote = tether_test_object ("{\"id\": \"n-seed\", \"title\": \"Old theirs\"}");
  g_autoptr(JsonObject) new_remote = tether_test_object ("{\"id\": \"n-seed\", \"title\": \"New theirs\"}");

  if (skip_without_display ())
    return;
  tether_conflict_set_local (conflict, tether_record_get_data (note), NULL);
  tether_conflict_set_remote (conflict, old_remote, NULL, 0);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  save (f, conflict);
  open_inbox (f);
  g_assert_nonnull (find_label (GTK_WIDGET (f->inbox), "Old theirs"));

  tether_conflict_set_remote (conflict, new_remote, NULL, 0);
  save (f, conflict);
  g_signal_emit_by_name (f->engine, "conflict", conflict);
  tether_test_app_settle (50);
  g_assert_nonnull (find_label (GTK_WIDGET (f->inbox), "New theirs"));
  g_assert_null (find_label (GTK_WIDGET (f->inbox), "Old theirs"));
  g_assert_nonnull (find_label (GTK_WIDGET (f->inbox),
                                "The server sent a newer version of this conflict: look at it again before choosing"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-theirs", NULL));
  g_assert_cmpint (status_of (f, "c-seed"), ==, TETHER_CONFLICT_OPEN);
  g_assert_cmpstr (stored_string (f->base.notes, "n-seed", "title"), ==, "Mine");

  tether_test_app_settle (1500);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->inbox), "inbox.keep-theirs", NULL));
  g_assert_cmpint (status_of (f, "c-seed"), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpstr (stored_string (f->base.notes, "n-seed", "title"), ==, "New theirs");
}

/* The heading of row @index in the inbox: what its conflict is called. */
static const char *
row_title (InboxFixture *f, guint index)
{
  GtkWidget *row = GTK_WIDGET (gtk_list_box_get_row_at_index (inbox_list (f), index));
  GtkWidget *box, *texts;

  g_assert_nonnull (row);
  box = gtk_list_box_row_get_child (GTK_LIST_BOX_ROW (row));
  texts = gtk_widget_get_next_sibling (gtk_widget_get_first_child (box));
  return gtk_label_get_text (GTK_LABEL (gtk_widget_get_first_child (texts)));
}

/* A server's record need not follow the schema: a title that is a number,
 * a yes/no or a list is no title, and the next side's shows instead. */
static void
test_inbox_title_not_text (InboxFixture *f, gconstpointer data)
{
  gint64 now = g_get_real_time () / 1000;
  g_autoptr(TetherConflict) number = NULL;
  g_autoptr(TetherConflict) flag = NULL;
  g_autoptr(TetherConflict) list = NULL;
  const char *expected[] = { "Theirs", "Untitled", "Untitled" };
  g_autofree char *png = screenshot_path ("conflict-inbox-untitled.png");
  GtkLabel *detail_title;

  if (skip_without_display ())
    return;
  number = add_conflict (f, "c-number", "n-number", "{\"title\": 42}", "{\"title\": \"Theirs\"}", now - 1000);
  flag = add_conflict (f, "c-flag", "n-flag", "{\"title\": true}", "{\"title\": 1.5}", now - 2000);
  list = add_conflict (f, "c-list", "n-list", "{\"title\": [\"a\"]}", "{\"title\": {\"b\": 1}}", now - 3000);
  open_inbox (f);
  detail_title = GTK_LABEL (gtk_widget_get_template_child (GTK_WIDGET (f->inbox), TETHER_TYPE_CONFLICT_INBOX,
                                                           "detail_title"));
  g_assert_cmpuint (count_rows (inbox_list (f)), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_assert_cmpstr (row_title (f, i), ==, expected[i]);
      select_row (f, i);
      tether_test_app_settle (50);
      g_assert_cmpstr (gtk_label_get_text (detail_title), ==, expected[i]);
    }
  tether_test_app_snapshot (GTK_WIDGET (f->inbox), png);
  g_test_message ("screenshot: %s", png);
}

static void
test_inbox_from_the_application (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) remote = tether_test_object ("{\"id\": \"n-app\", \"title\": \"Theirs\"}");
  g_autoptr(TetherConflict) conflict = tether_conflict_new ("c-app", "notes", "n-app");
  g_autoptr(TetherConflict) decided = NULL;
  g_autoptr(TetherRecord) note = NULL;
  TetherDatabase *db;
  TetherConflictInbox *inbox;

  if (skip_without_display ())
    return;
  db = tether_application_get_database (app);
  note = tether_test_create (tether_database_get_collection (db, "notes", NULL), "{\"id\": \"n-app\", \"title\": \"Mine\"}");
  /* the record as stored, with its defaults: what the engine keeps as local */
  tether_conflict_set_local (conflict, tether_record_get_data (note), NULL);
  tether_conflict_set_remote (conflict, remote, NULL, 2);
  tether_conflict_set_strategy (conflict, TETHER_CONFLICT_STRATEGY_MANUAL);
  g_assert_true (_tether_sync_store_save_conflict (db, conflict, &error));
  g_assert_no_error (error);

  /* What app.conflicts opens: the inbox of the application's engine. */
  inbox = tether_conflict_inbox_new (app);
  gtk_window_present (GTK_WINDOW (inbox));
  tether_test_app_settle (100);
  g_assert_nonnull (gtk_list_box_get_row_at_index (GTK_LIST_BOX (find_type (GTK_WIDGET (inbox), GTK_TYPE_LIST_BOX)), 0));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (inbox), "inbox.keep-mine", NULL));
  decided = tether_sync_engine_get_conflict (tether_application_get_sync_engine (app), "c-app", &error);
  g_assert_no_error (error);
  g_assert_cmpint (tether_conflict_get_status (decided), ==, TETHER_CONFLICT_RESOLVED);
  g_assert_cmpint (tether_conflict_get_winner (decided), ==, TETHER_CONFLICT_WINNER_LOCAL);
  gtk_window_destroy (GTK_WINDOW (inbox));
}

int
main (int argc, char **argv)
{
  int status;

  /* Widgets are read directly here, not through AT-SPI; GTK's test
   * backend keeps the accessible properties the tests read. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  g_test_init (&argc, &argv, NULL);

  have_display = tether_test_app_start (&app);

#define EDITOR_TEST(path, func) \
  g_test_add ("/tether/app/editor/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
#define INBOX_TEST(path, func) \
  g_test_add ("/tether/app/inbox/" path, InboxFixture, NULL, inbox_set_up, func, inbox_tear_down)

  EDITOR_TEST ("saves-after-typing-stops", test_saves_after_typing_stops);
  EDITOR_TEST ("save-now", test_save_now);
  EDITOR_TEST ("switching-saves-the-old-record", test_switching_saves_the_old_record);
  EDITOR_TEST ("closing-saves", test_closing_saves);
  EDITOR_TEST ("hiding-saves", test_hiding_saves);
  EDITOR_TEST ("outside-write-updates-unfocused-fields", test_outside_write_updates_unfocused_fields);
  EDITOR_TEST ("outside-write-merges-with-typing", test_outside_write_merges_with_typing);
  EDITOR_TEST ("other-process-write-shows-up", test_other_process_write_shows_up);
  EDITOR_TEST ("deleted-elsewhere", test_deleted_elsewhere);
  EDITOR_TEST ("deleted-elsewhere-untouched", test_deleted_elsewhere_untouched);
  EDITOR_TEST ("deleted-elsewhere-restore", test_deleted_elsewhere_restore);
  EDITOR_TEST ("switching-refused-when-save-fails", test_switching_refused);
  EDITOR_TEST ("refused-save-keeps-text", test_refused_save_keeps_text);
  EDITOR_TEST ("task-fields", test_task_fields);
  EDITOR_TEST ("due-today-by-click", test_due_today_by_click);
  EDITOR_TEST ("due-accessible-label", test_due_accessible_label);
  EDITOR_TEST ("snapshots", test_snapshots);
  INBOX_TEST ("empty", test_inbox_empty);
  INBOX_TEST ("read-error", test_inbox_read_error);
  INBOX_TEST ("lists-conflicts", test_inbox_lists_conflicts);
  INBOX_TEST ("open-delete", test_inbox_open_delete);
  INBOX_TEST ("whole-choice-badges", test_inbox_whole_choice_badges);
  INBOX_TEST ("keep-theirs", test_inbox_keep_theirs);
  INBOX_TEST ("keep-selected", test_inbox_keep_selected);
  INBOX_TEST ("update-keeps-choices", test_inbox_update_keeps_choices);
  INBOX_TEST ("restore", test_inbox_restore);
  INBOX_TEST ("restore-delete", test_inbox_restore_delete);
  INBOX_TEST ("follows-the-engine", test_inbox_follows_the_engine);
  INBOX_TEST ("title-not-text", test_inbox_title_not_text);
  INBOX_TEST ("follows-remote-data", test_inbox_follows_remote_data);
  g_test_add_func ("/tether/app/inbox/from-the-application", test_inbox_from_the_application);

  status = g_test_run ();

  tether_test_app_stop (&app);
  return status;
}
