/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-editor"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-app-resources.h"
#include "tether-editor-private.h"

#define SAVE_DELAY_MS 500
#define RETRY_DELAY_MS 3000

G_DEFINE_FINAL_TYPE (TetherEditor, tether_editor, GTK_TYPE_WIDGET)

static void
show_error (TetherEditor *self,
            const GError *error)
{
  const char *message = error ? error->message : NULL;
  g_autofree char *prefix = g_strdup_printf ("%s.", tether_collection_get_name (self->collection));
  gboolean on_title = FALSE, on_tags = FALSE;

  /* "notes.title: …" names the field: mark its widget too. */
  if (message != NULL && g_str_has_prefix (message, prefix))
    {
      on_title = g_str_has_prefix (message + strlen (prefix), "title");
      on_tags = g_str_has_prefix (message + strlen (prefix), "tags");
    }
  if (message != NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Not saved: %s"), message);

      gtk_label_set_label (self->error_label, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
  if (on_title)
    gtk_widget_add_css_class (GTK_WIDGET (self->title_text), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->title_text), "error");
  if (on_tags)
    gtk_widget_add_css_class (GTK_WIDGET (self->tags_entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->tags_entry), "error");
}

/* Deleted elsewhere: what is on screen, typed or not, stays readable and
 * can be copied or restored, but is no longer saved. */
static void
show_deleted (TetherEditor *self)
{
  g_clear_handle_id (&self->save_source, g_source_remove);
  self->deleted = TRUE;
  /* self->dirty stays: what was not stored yet must not be left silently. */
  gtk_label_set_label (self->deleted_label,
                       self->is_task ? _("This task was deleted elsewhere. Restore it to keep what is shown.")
                                     : _("This note was deleted elsewhere. Restore it to keep what is shown."));
  gtk_widget_set_visible (self->deleted_bar, TRUE);
  _tether_editor_set_read_only (self, TRUE);
}

/* One update of the fields in @patch; FALSE leaves them dirty. */
static gboolean
write_patch (TetherEditor  *self,
             JsonObject    *patch,
             GError       **error)
{
  g_autoptr(TetherRecord) stored = NULL;

  self->writing = TRUE;
  stored = tether_collection_update (self->collection, self->id, patch, error);
  self->writing = FALSE;
  if (stored == NULL)
    return FALSE;
  g_set_object (&self->record, stored);
  return TRUE;
}

/* The dirty fields that differ from the stored record; @fields gets their bits. */
static JsonObject *
build_patch (TetherEditor *self,
             guint        *fields)
{
  JsonObject *patch = json_object_new ();

  *fields = 0;
  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    {
      g_autoptr(JsonNode) value = NULL;
      const char *name = _tether_editor_field_name (self, field);

      if (!(self->dirty & field))
        continue;
      value = _tether_editor_read_field (self, field);
      if (_tether_editor_same_value (tether_record_get_member (self->record, name), value))
        continue;
      json_object_set_member (patch, name, g_steal_pointer (&value));
      *fields |= field;
    }
  return patch;
}

/* A refused field must not take the others down: store each alone. */
static gboolean
save_one_by_one (TetherEditor  *self,
                 JsonObject    *patch,
                 guint          fields,
                 GError       **error)
{
  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    {
      g_autoptr(JsonObject) single = json_object_new ();
      g_autoptr(GError) local_error = NULL;
      const char *name = _tether_editor_field_name (self, field);

      if (!(fields & field))
        continue;
      json_object_set_member (single, name, json_node_copy (json_object_get_member (patch, name)));
      if (write_patch (self, single, &local_error))
        self->dirty &= ~field;
      else if (error != NULL && *error == NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return self->dirty == 0;
}

static gboolean on_save_timeout (gpointer data);

/* A widget showing a member the record lacks: empty, unticked, zero. */
static gboolean
shows_nothing (JsonNode *shown)
{
  if (JSON_NODE_HOLDS_ARRAY (shown))
    return json_array_get_length (json_node_get_array (shown)) == 0;
  if (!JSON_NODE_HOLDS_VALUE (shown))
    return JSON_NODE_HOLDS_NULL (shown);
  switch (json_node_get_value_type (shown))
    {
    case G_TYPE_STRING:  return *json_node_get_string (shown) == '\0';
    case G_TYPE_BOOLEAN: return !json_node_get_boolean (shown);
    case G_TYPE_INT64:   return json_node_get_int (shown) == 0;
    default:             return FALSE;
    }
}

/* Deleted elsewhere: nothing can be stored any more, but an edit not
 * stored yet (typed within the debounce, or refused) must not go without
 * a word, so leaving is refused as for any unsaved edit. */
static gboolean
check_deleted (TetherEditor  *self,
               GError       **error)
{
  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    {
      g_autoptr(JsonNode) value = NULL;
      const char *name = _tether_editor_field_name (self, field);
      JsonNode *stored;
      gboolean same;

      if (!(self->dirty & field))
        continue;
      value = _tether_editor_read_field (self, field);
      stored = tether_record_get_member (self->record, name);
      if (stored == NULL || JSON_NODE_HOLDS_NULL (stored))
        same = shows_nothing (value);
      else
        same = json_node_equal (stored, value);
      if (!same)
        {
          g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND,
                       "%s %s was deleted elsewhere; its %s as shown was never stored",
                       tether_collection_get_name (self->collection), self->id, name);
          return FALSE;
        }
    }
  return TRUE;
}

/* Busy, read-only or I/O: the same write may go through later. A record
 * too large or a refused field fails the same way until it is edited. */
static gboolean
may_succeed_later (const GError *error)
{
  return g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_BUSY) ||
         g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_READ_ONLY) ||
         g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_IO);
}

static gboolean
save (TetherEditor  *self,
      GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(JsonObject) patch = NULL;
  guint fields;

  g_clear_handle_id (&self->save_source, g_source_remove);
  if (self->record == NULL)
    return TRUE;
  if (self->deleted)
    return check_deleted (self, error);
  if (self->dirty == 0)
    return TRUE;
  /* Refused and not edited since: say so again without copying and
   * serialising the whole text (over 1 MiB) for nothing. */
  if (self->refused != NULL)
    {
      g_propagate_error (error, g_error_copy (self->refused));
      return FALSE;
    }

  patch = build_patch (self, &fields);
  self->dirty = fields;
  if (fields == 0 || write_patch (self, patch, &local_error))
    self->dirty = 0;
  else if (g_error_matches (local_error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    {
      show_deleted (self);
      show_error (self, NULL);
      return check_deleted (self, error);
    }
  else if (g_error_matches (local_error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_VALIDATION))
    {
      g_clear_error (&local_error);
      save_one_by_one (self, patch, fields, &local_error);
    }
  if (local_error != NULL)
    {
      /* Tried again even if no key is pressed; the rest on the next edit. */
      if (may_succeed_later (local_error))
        self->save_source = g_timeout_add (RETRY_DELAY_MS, on_save_timeout, self);
      else
        self->refused = g_error_copy (local_error);
    }

  show_error (self, local_error);
  if (local_error != NULL)
    {
      g_debug ("could not save %s: %s", self->id, local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_save_timeout (gpointer data)
{
  TetherEditor *self = data;

  self->save_source = 0;
  save (self, NULL);
  return G_SOURCE_REMOVE;
}

static void
field_edited (TetherEditor *self,
              EditorField   field,
              gboolean      at_once)
{
  if (self->loading || self->record == NULL || self->deleted)
    return;
  self->dirty |= field;
  g_clear_error (&self->refused);
  g_clear_handle_id (&self->save_source, g_source_remove);
  if (at_once)
    save (self, NULL);
  else
    self->save_source = g_timeout_add (SAVE_DELAY_MS, on_save_timeout, self);
}

static void on_title_changed     (TetherEditor *self) { field_edited (self, FIELD_TITLE, FALSE); }
static void on_tags_changed      (TetherEditor *self) { field_edited (self, FIELD_TAGS, FALSE); }
static void on_body_changed      (TetherEditor *self) { field_edited (self, FIELD_BODY, FALSE); }
static void on_done_toggled      (TetherEditor *self) { field_edited (self, FIELD_DONE, TRUE); }
static void on_pinned_toggled    (TetherEditor *self) { field_edited (self, FIELD_PINNED, TRUE); }
static void on_priority_selected (TetherEditor *self) { field_edited (self, FIELD_PRIORITY, TRUE); }

static void
on_title_activate (TetherEditor *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self->body_view));
}

static void
on_due_popover_show (TetherEditor *self)
{
  g_autoptr(GDateTime) due = self->due ? g_date_time_new_from_iso8601 (self->due, NULL) : NULL;
  g_autoptr(GDateTime) today = g_date_time_new_now_local ();
  g_autoptr(GDateTime) shown = NULL;

  /* The calendar works in local time; a due day is a UTC date. */
  shown = due ? g_date_time_new_local (g_date_time_get_year (due), g_date_time_get_month (due),
                                       g_date_time_get_day_of_month (due), 0, 0, 0)
              : g_date_time_ref (today);
  self->loading = TRUE;
  gtk_calendar_select_day (self->calendar, shown);
  self->loading = FALSE;
}

static void
set_due (TetherEditor *self,
         GDateTime    *day)
{
  g_free (self->due);
  self->due = day ? g_strdup_printf ("%04d-%02d-%02dT00:00:00.000Z", g_date_time_get_year (day),
                                     g_date_time_get_month (day), g_date_time_get_day_of_month (day))
                  : NULL;
  _tether_editor_update_due_label (self);
  gtk_popover_popdown (self->due_popover);
  field_edited (self, FIELD_DUE, TRUE);
}

static void
on_day_selected (TetherEditor *self)
{
  g_autoptr(GDateTime) day = NULL;

  if (self->loading)
    return;
  day = gtk_calendar_get_date (self->calendar);
  set_due (self, day);
}

/* GtkCalendar says nothing when the day clicked is the one already
 * selected, as today is when there is no due date yet: that click is a
 * choice too. Seen before the calendar handles it (capture phase). */
static void
on_calendar_pressed (GtkGestureClick *gesture,
                     int              n_press,
                     double           x,
                     double           y,
                     TetherEditor    *self)
{
  GtkWidget *day = gtk_widget_pick (GTK_WIDGET (self->calendar), x, y, GTK_PICK_DEFAULT);
  g_autoptr(GDateTime) selected = NULL;

  if (n_press != 1 || gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture)) != GDK_BUTTON_PRIMARY ||
      !GTK_IS_LABEL (day) || !gtk_widget_has_css_class (day, "day-number") ||
      gtk_widget_has_css_class (day, "other-month"))
    return;
  selected = gtk_calendar_get_date (self->calendar);
  if (g_ascii_strtoll (gtk_label_get_text (GTK_LABEL (day)), NULL, 10) == g_date_time_get_day_of_month (selected))
    set_due (self, selected);
}

static void
on_clear_due_clicked (TetherEditor *self)
{
  set_due (self, NULL);
}

static void reset_widgets (TetherEditor *self);

static gboolean
same_data (TetherRecord *a,
           TetherRecord *b)
{
  g_autoptr(JsonNode) na = json_node_init_object (json_node_alloc (), tether_record_get_data (a));
  g_autoptr(JsonNode) nb = json_node_init_object (json_node_alloc (), tether_record_get_data (b));

  return json_node_equal (na, nb);
}

/* A text changed elsewhere while it may be in the user's hands: both
 * sides' lines are kept (diff3 against what was stored), the user's where
 * they touch the same lines, so saving the widget never undoes the other. */
static void
merge_text_field (TetherEditor *self,
                  EditorField   field,
                  TetherRecord *base,
                  TetherRecord *record)
{
  const char *name = _tether_editor_field_name (self, field);
  const char *was = tether_record_get_string (base, name, "");
  const char *now = tether_record_get_string (record, name, "");
  g_autoptr(JsonNode) shown = _tether_editor_read_field (self, field);
  const char *ours = json_node_get_string (shown);
  g_autofree char *merged = NULL;
  gboolean clean;

  if (g_str_equal (was, now) || g_str_equal (ours, now))
    return;
  if (g_str_equal (ours, was))
    {
      _tether_editor_load_field (self, field, record);
      return;
    }
  merged = tether_merge_text (was, ours, now, TRUE, &clean);
  if (!clean)
    g_debug ("%s of %s changed on the same lines here and elsewhere: kept ours there", name, self->id);
  self->loading = TRUE;
  if (field == FIELD_TITLE)
    _tether_editor_set_title_text (self, merged);
  else
    _tether_editor_set_body_text (self, merged);
  self->loading = FALSE;
  field_edited (self, field, FALSE);
}

static void
apply_outside_change (TetherEditor *self,
                      TetherRecord *record)
{
  g_autoptr(TetherRecord) base = NULL;

  /* The stored record changed: a refused edit may fit now. */
  g_clear_error (&self->refused);
  if (record == NULL)
    {
      if (!self->deleted)
        show_deleted (self);
      return;
    }
  if (self->deleted)
    {
      /* Back again (an undone delete): edit it as freshly opened. */
      self->deleted = FALSE;
      self->dirty = 0;
      g_set_object (&self->record, record);
      reset_widgets (self);
      return;
    }
  if (self->record != NULL && same_data (self->record, record))
    return;
  base = g_steal_pointer (&self->record);
  self->record = g_object_ref (record);
  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    {
      if (!(_tether_editor_shown_fields (self) & field))
        continue;
      if (field == FIELD_TITLE || field == FIELD_BODY)
        merge_text_field (self, field, base, record);
      else if (!_tether_editor_field_is_busy (self, field))
        _tether_editor_load_field (self, field, record);
    }
}

static void
on_collection_changed (TetherEditor     *self,
                       TetherChangeType  type,
                       const char       *id,
                       TetherRecord     *old_record,
                       TetherRecord     *new_record)
{
  if (self->writing || g_strcmp0 (id, self->id) != 0)
    return;
  apply_outside_change (self, type == TETHER_CHANGE_DELETE ? NULL : new_record);
}

/* Another process wrote to the file: which records is not known. */
static void
on_external_change (TetherEditor *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;

  if (self->id == NULL)
    return;
  record = tether_collection_get (self->collection, self->id, &error);
  if (record == NULL && !g_error_matches (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND))
    {
      g_debug ("could not read %s: %s", self->id, error->message);
      return;
    }
  apply_outside_change (self, record);
}

static gboolean
catch_up (gpointer data)
{
  TetherEditor *self = data;

  if (self->record != NULL && !self->deleted)
    _tether_editor_load_fields (self, FALSE);
  return G_SOURCE_REMOVE;
}

/* Catch up with what arrived while a field had the focus, once the focus
 * has moved on. */
static void
on_focus_leave (TetherEditor *self)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, catch_up, g_object_ref (self), g_object_unref);
}

/* The banner's Restore: the record again, as it is on screen, typing
 * that had not been saved yet included. */
static void
restore_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  TetherEditor *self = TETHER_EDITOR (widget);
  g_autoptr(JsonObject) data = NULL;
  g_autoptr(TetherRecord) restored = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->deleted || self->record == NULL)
    return;
  data = _tether_editor_dup_shown_data (self);
  self->writing = TRUE;
  restored = tether_collection_create (self->collection, data, &error);
  self->writing = FALSE;
  if (restored == NULL)
    {
      show_error (self, error);
      return;
    }
  self->deleted = FALSE;
  self->dirty = 0;
  g_set_object (&self->record, restored);
  gtk_widget_set_visible (self->deleted_bar, FALSE);
  _tether_editor_set_read_only (self, FALSE);
  show_error (self, NULL);
}

static void
close_record (TetherEditor *self)
{
  g_clear_signal_handler (&self->changed_handler, self->collection);
  g_clear_signal_handler (&self->external_handler, self->db);
  g_clear_handle_id (&self->save_source, g_source_remove);
  g_clear_object (&self->record);
  g_clear_object (&self->db);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->due, g_free);
  self->collection = NULL;
  self->dirty = 0;
  g_clear_error (&self->refused);
  self->deleted = FALSE;
}

static void
reset_widgets (TetherEditor *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->body_view);
  GtkTextIter start;

  /* A new record: no undo into the previous one, cursor at the start. */
  gtk_editable_set_enable_undo (GTK_EDITABLE (self->title_text), FALSE);
  gtk_editable_set_enable_undo (GTK_EDITABLE (self->title_text), TRUE);
  gtk_text_buffer_begin_irreversible_action (buffer);
  _tether_editor_load_fields (self, TRUE);
  gtk_text_buffer_end_irreversible_action (buffer);
  gtk_text_buffer_get_start_iter (buffer, &start);
  gtk_text_buffer_place_cursor (buffer, &start);
  gtk_editable_set_position (GTK_EDITABLE (self->title_text), -1);

  gtk_widget_set_visible (self->task_box, self->is_task);
  gtk_widget_set_visible (GTK_WIDGET (self->pinned_toggle), !self->is_task);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->body_view),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, self->is_task ? _("Notes") : _("Body"),
                                  -1);
  gtk_widget_set_visible (self->deleted_bar, FALSE);
  _tether_editor_set_read_only (self, FALSE);
  show_error (self, NULL);
}

gboolean
tether_editor_set_record (TetherEditor    *self,
                          TetherDatabase  *db,
                          const char      *collection,
                          const char      *id,
                          GError         **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  TetherCollection *coll;

  g_return_val_if_fail (TETHER_IS_EDITOR (self), FALSE);
  g_return_val_if_fail (id == NULL || TETHER_IS_DATABASE (db), FALSE);
  g_return_val_if_fail (id == NULL || collection != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* An edit that cannot be stored keeps its record open, text and all. */
  if (!save (self, error))
    return FALSE;
  close_record (self);
  coll = id ? tether_database_get_collection (db, collection, &local_error) : NULL;
  record = coll ? tether_collection_get (coll, id, &local_error) : NULL;
  if (record == NULL)
    {
      if (local_error != NULL)
        g_debug ("cannot open %s %s: %s", collection, id, local_error->message);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return TRUE;
    }

  self->db = g_object_ref (db);
  self->collection = coll;
  self->id = g_strdup (id);
  self->record = g_steal_pointer (&record);
  self->is_task = g_str_equal (collection, "tasks");
  reset_widgets (self);
  self->changed_handler = g_signal_connect_object (coll, "changed", G_CALLBACK (on_collection_changed),
                                                   self, G_CONNECT_SWAPPED);
  self->external_handler = g_signal_connect_object (db, "external-change", G_CALLBACK (on_external_change),
                                                    self, G_CONNECT_SWAPPED);
  /* Start the database's watch again if it had stopped for lack of listeners. */
  tether_database_check_external (db);
  gtk_stack_set_visible_child_name (self->stack, "editor");
  return TRUE;
}

const char *
tether_editor_get_record_id (TetherEditor *self)
{
  g_return_val_if_fail (TETHER_IS_EDITOR (self), NULL);
  return self->id;
}

gboolean
tether_editor_save_now (TetherEditor  *self,
                        GError       **error)
{
  g_return_val_if_fail (TETHER_IS_EDITOR (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return save (self, error);
}

void
tether_editor_discard_changes (TetherEditor *self)
{
  g_return_if_fail (TETHER_IS_EDITOR (self));

  g_clear_handle_id (&self->save_source, g_source_remove);
  self->dirty = 0;
  g_clear_error (&self->refused);
  if (self->record == NULL)
    return;
  /* Deleted elsewhere too: the text as last stored, still read-only. */
  _tether_editor_load_fields (self, TRUE);
  show_error (self, NULL);
}

TetherRecord *
tether_editor_get_record (TetherEditor *self)
{
  g_return_val_if_fail (TETHER_IS_EDITOR (self), NULL);
  return self->record;
}

void
tether_editor_focus_title (TetherEditor *self)
{
  g_return_if_fail (TETHER_IS_EDITOR (self));
  /* Selecting all would let the first keystroke replace the title. */
  gtk_text_grab_focus_without_selecting (self->title_text);
}

GtkWidget *
tether_editor_new (void)
{
  return g_object_new (TETHER_TYPE_EDITOR, NULL);
}

static void
tether_editor_unmap (GtkWidget *widget)
{
  save (TETHER_EDITOR (widget), NULL);
  GTK_WIDGET_CLASS (tether_editor_parent_class)->unmap (widget);
}

static void
tether_editor_dispose (GObject *object)
{
  TetherEditor *self = TETHER_EDITOR (object);
  g_autoptr(GError) error = NULL;

  /* Store the text while the widgets still exist. The window asks before
   * it closes over an edit that cannot be stored (tether-window.c). */
  if (!save (self, &error))
    g_message ("Could not save %s: %s", self->id, error->message);
  close_record (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_EDITOR);
  G_OBJECT_CLASS (tether_editor_parent_class)->dispose (object);
}

static void
tether_editor_class_init (TetherEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_editor_dispose;
  widget_class->unmap = tether_editor_unmap;

  /* Asking for the bundle links it in from the static library (it
   * registers itself when loaded). */
  if (tether_app_get_resource () == NULL)
    g_error ("the app's resources are missing");
  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-editor.ui");
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tether-editor");

  gtk_widget_class_bind_template_child (widget_class, TetherEditor, stack);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, deleted_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, deleted_label);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, content);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, title_text);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, error_label);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, task_box);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, done_check);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, due_button);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, due_label);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, due_popover);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, calendar);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, priority_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, pinned_toggle);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, tags_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherEditor, body_view);

  gtk_widget_class_bind_template_callback (widget_class, on_title_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_title_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_tags_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_done_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_pinned_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_priority_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_due_popover_show);
  gtk_widget_class_bind_template_callback (widget_class, on_day_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_clear_due_clicked);

  gtk_widget_class_install_action (widget_class, "editor.restore", NULL, restore_activated);
}

static void
tether_editor_init (TetherEditor *self)
{
  GtkWidget *text_fields[3];
  GtkGesture *click;

  gtk_widget_init_template (GTK_WIDGET (self));
  click = gtk_gesture_click_new ();
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (click), GTK_PHASE_CAPTURE);
  g_signal_connect (click, "pressed", G_CALLBACK (on_calendar_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self->calendar), GTK_EVENT_CONTROLLER (click));
  text_fields[0] = GTK_WIDGET (self->title_text);
  text_fields[1] = GTK_WIDGET (self->body_view);
  text_fields[2] = GTK_WIDGET (self->tags_entry);
  g_signal_connect_swapped (gtk_text_view_get_buffer (self->body_view), "changed",
                            G_CALLBACK (on_body_changed), self);
  for (guint i = 0; i < G_N_ELEMENTS (text_fields); i++)
    {
      GtkEventController *focus = gtk_event_controller_focus_new ();

      g_signal_connect_swapped (focus, "leave", G_CALLBACK (on_focus_leave), self);
      gtk_widget_add_controller (text_fields[i], focus);
    }
}
