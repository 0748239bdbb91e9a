/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-editor"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-editor-private.h"

const char *
_tether_editor_field_name (TetherEditor *self,
                           EditorField   field)
{
  switch (field)
    {
    case FIELD_TITLE:    return "title";
    case FIELD_BODY:     return self->is_task ? "notes" : "body";
    case FIELD_DONE:     return "done";
    case FIELD_DUE:      return "due";
    case FIELD_PRIORITY: return "priority";
    case FIELD_TAGS:     return "tags";
    case FIELD_PINNED:   return "pinned";
    default:             g_assert_not_reached ();
    }
}

guint
_tether_editor_shown_fields (TetherEditor *self)
{
  return self->is_task ? TASK_FIELDS : NOTE_FIELDS;
}

static char *
dup_body_text (TetherEditor *self)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->body_view);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

/* "work, home ,, work" → ["work", "home"] */
static JsonNode *
parse_tags (const char *text)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *tag = g_strstrip (parts[i]);

      if (*tag != '\0' && g_hash_table_add (seen, tag))
        json_array_add_string_element (array, tag);
    }
  return json_node_init_array (json_node_alloc (), array);
}

/* The value the widget of @field holds now, as the record would store it. */
JsonNode *
_tether_editor_read_field (TetherEditor *self,
                           EditorField   field)
{
  g_autofree char *body = NULL;

  switch (field)
    {
    case FIELD_TITLE:
      return json_node_init_string (json_node_alloc (), gtk_editable_get_text (GTK_EDITABLE (self->title_text)));
    case FIELD_BODY:
      body = dup_body_text (self);
      return json_node_init_string (json_node_alloc (), body);
    case FIELD_DONE:
      return json_node_init_boolean (json_node_alloc (), gtk_check_button_get_active (self->done_check));
    case FIELD_DUE:
      return self->due ? json_node_init_string (json_node_alloc (), self->due) : json_node_init_null (json_node_alloc ());
    case FIELD_PRIORITY:
      return json_node_init_int (json_node_alloc (), MIN (gtk_drop_down_get_selected (self->priority_dropdown), 3));
    case FIELD_TAGS:
      return parse_tags (gtk_editable_get_text (GTK_EDITABLE (self->tags_entry)));
    case FIELD_PINNED:
      return json_node_init_boolean (json_node_alloc (), gtk_toggle_button_get_active (self->pinned_toggle));
    default:
      g_assert_not_reached ();
    }
}

gboolean
_tether_editor_same_value (JsonNode *stored,
                           JsonNode *shown)
{
  if (stored == NULL || JSON_NODE_HOLDS_NULL (stored))
    return JSON_NODE_HOLDS_NULL (shown);
  return json_node_equal (stored, shown);
}

/* A due date is a day: stored as UTC midnight, shown by its UTC date. */
void
_tether_editor_update_due_label (TetherEditor *self)
{
  g_autoptr(GDateTime) due = self->due ? g_date_time_new_from_iso8601 (self->due, NULL) : NULL;
  g_autofree char *text = NULL;

  g_autofree char *accessible = NULL;

  /* Translators: a due date; see the strftime-like codes of g_date_time_format() */
  text = due ? g_date_time_format (due, _("%-d %b %Y")) : NULL;
  gtk_label_set_label (self->due_label, text ? text : _("No Due Date"));
  /* The button's name carries the date: its label child is not read. */
  /* Translators: the due date button's name for screen readers; %s is a date */
  accessible = text ? g_strdup_printf (_("Due: %s"), text) : g_strdup (_("Due Date: None"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->due_button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

/* Where the cursor goes when @before becomes @after: it stays put when the
 * change is after it, and moves with the text when the change is before. */
static int
moved_cursor (const char *before,
              const char *after,
              int         cursor)
{
  int prefix = 0;
  int shift = (int) g_utf8_strlen (after, -1) - (int) g_utf8_strlen (before, -1);
  const char *a = before, *b = after;

  while (*a != '\0' && g_utf8_get_char (a) == g_utf8_get_char (b))
    {
      a = g_utf8_next_char (a);
      b = g_utf8_next_char (b);
      prefix++;
    }
  if (cursor <= prefix)
    return cursor;
  return CLAMP (cursor + shift, prefix, (int) g_utf8_strlen (after, -1));
}

void
_tether_editor_set_title_text (TetherEditor *self,
                               const char   *text)
{
  GtkEditable *editable = GTK_EDITABLE (self->title_text);
  g_autofree char *shown = g_strdup (gtk_editable_get_text (editable));
  int position = gtk_editable_get_position (editable);

  if (g_strcmp0 (shown, text) == 0)
    return;
  gtk_editable_set_text (editable, text);
  gtk_editable_set_position (editable, moved_cursor (shown, text, position));
}

void
_tether_editor_set_body_text (TetherEditor *self,
                              const char   *text)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->body_view);
  g_autofree char *shown = dup_body_text (self);
  GtkTextIter iter;
  int offset;

  if (g_strcmp0 (shown, text) == 0)
    return;
  gtk_text_buffer_get_iter_at_mark (buffer, &iter, gtk_text_buffer_get_insert (buffer));
  offset = moved_cursor (shown, text, gtk_text_iter_get_offset (&iter));
  gtk_text_buffer_set_text (buffer, text, -1);
  gtk_text_buffer_get_iter_at_offset (buffer, &iter, offset);
  gtk_text_buffer_place_cursor (buffer, &iter);
}

/* Show @field of @record in its widget, leaving the cursor where it was. */
void
_tether_editor_load_field (TetherEditor *self,
                           EditorField   field,
                           TetherRecord *record)
{
  g_auto(GStrv) tags = NULL;
  g_autofree char *joined = NULL;
  g_autoptr(JsonNode) shown = NULL;

  self->loading = TRUE;
  switch (field)
    {
    case FIELD_TITLE:
      _tether_editor_set_title_text (self, tether_record_get_string (record, "title", ""));
      break;
    case FIELD_BODY:
      _tether_editor_set_body_text (self, tether_record_get_string (record, _tether_editor_field_name (self, field), ""));
      break;
    case FIELD_DONE:
      gtk_check_button_set_active (self->done_check, tether_record_get_boolean (record, "done", FALSE));
      break;
    case FIELD_DUE:
      g_free (self->due);
      self->due = g_strdup (tether_record_get_string (record, "due", NULL));
      _tether_editor_update_due_label (self);
      break;
    case FIELD_PRIORITY:
      gtk_drop_down_set_selected (self->priority_dropdown, CLAMP (tether_record_get_int (record, "priority", 0), 0, 3));
      break;
    case FIELD_TAGS:
      /* "a, b," stays as typed while it means the stored tags. */
      shown = _tether_editor_read_field (self, field);
      if (!_tether_editor_same_value (tether_record_get_member (record, "tags"), shown))
        {
          tags = tether_record_dup_strv (record, "tags");
          joined = g_strjoinv (", ", tags);
          gtk_editable_set_text (GTK_EDITABLE (self->tags_entry), joined);
        }
      break;
    case FIELD_PINNED:
      gtk_toggle_button_set_active (self->pinned_toggle, tether_record_get_boolean (record, "pinned", FALSE));
      break;
    default:
      g_assert_not_reached ();
    }
  self->loading = FALSE;
}

static gboolean
contains_focus (GtkWidget *widget)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;

  return focus != NULL && (focus == widget || gtk_widget_is_ancestor (focus, widget));
}

/* Edited and not stored, or in the user's hands right now. */
gboolean
_tether_editor_field_is_busy (TetherEditor *self,
                              EditorField   field)
{
  if (self->dirty & field)
    return TRUE;
  switch (field)
    {
    case FIELD_TITLE: return contains_focus (GTK_WIDGET (self->title_text));
    case FIELD_BODY:  return contains_focus (GTK_WIDGET (self->body_view));
    case FIELD_TAGS:  return contains_focus (GTK_WIDGET (self->tags_entry));
    case FIELD_DUE:   return gtk_widget_get_visible (GTK_WIDGET (self->due_popover));
    default:          return FALSE;
    }
}

void
_tether_editor_load_fields (TetherEditor *self,
                            gboolean      all)
{
  guint fields = _tether_editor_shown_fields (self);

  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    if ((fields & field) && (all || !_tether_editor_field_is_busy (self, field)))
      _tether_editor_load_field (self, field, self->record);
}

/* Read-only, not insensitive: the text can still be selected and copied. */
void
_tether_editor_set_read_only (TetherEditor *self,
                              gboolean      read_only)
{
  gtk_editable_set_editable (GTK_EDITABLE (self->title_text), !read_only);
  gtk_editable_set_editable (GTK_EDITABLE (self->tags_entry), !read_only);
  gtk_text_view_set_editable (self->body_view, !read_only);
  gtk_text_view_set_cursor_visible (self->body_view, !read_only);
  gtk_widget_set_sensitive (self->task_box, !read_only);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pinned_toggle), !read_only);
}

/* The record as it is on screen: the stored one with the shown fields. */
JsonObject *
_tether_editor_dup_shown_data (TetherEditor *self)
{
  JsonObject *data = tether_record_dup_data (self->record);
  guint fields = _tether_editor_shown_fields (self);

  for (guint field = 1; field <= FIELD_PINNED; field <<= 1)
    {
      g_autoptr(JsonNode) value = NULL;
      const char *name = _tether_editor_field_name (self, field);

      if (!(fields & field))
        continue;
      value = _tether_editor_read_field (self, field);
      if (JSON_NODE_HOLDS_NULL (value))
        json_object_remove_member (data, name);
      else
        json_object_set_member (data, name, g_steal_pointer (&value));
    }
  return data;
}
