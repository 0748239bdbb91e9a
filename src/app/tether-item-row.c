/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-item-row"
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "tether-item-row.h"

/* How much of the body is looked at for the snippet line. */
#define SNIPPET_MAX_CHARS 200

struct _TetherItemRow
{
  GtkWidget  parent_instance;

  GtkStack  *kind_stack;
  GtkWidget *done_check;
  GtkLabel  *title_label;
  GtkWidget *pin_icon;
  GtkLabel  *snippet_label;
  GtkLabel  *due_label;
  GtkLabel  *tags_label;

  TetherItemSlot *slot;
  gulong          slot_handler;
};

G_DEFINE_FINAL_TYPE (TetherItemRow, tether_item_row, GTK_TYPE_WIDGET)

/* The first line of @text with something in it, shortened. */
static char *
first_line (const char *text)
{
  const char *p = text;

  while (*p != '\0')
    {
      const char *end = strchr (p, '\n');
      gsize len = end != NULL ? (gsize) (end - p) : strlen (p);
      g_autofree char *line = g_strstrip (g_strndup (p, len));

      if (*line != '\0')
        {
          if (g_utf8_strlen (line, -1) > SNIPPET_MAX_CHARS)
            return g_utf8_substring (line, 0, SNIPPET_MAX_CHARS);
          return g_steal_pointer (&line);
        }
      if (end == NULL)
        break;
      p = end + 1;
    }
  return g_strdup ("");
}

static int
days_between (GDateTime *from,
              GDateTime *to)
{
  g_autoptr(GDate) a = g_date_new_dmy (g_date_time_get_day_of_month (from),
                                       g_date_time_get_month (from),
                                       g_date_time_get_year (from));
  g_autoptr(GDate) b = g_date_new_dmy (g_date_time_get_day_of_month (to),
                                       g_date_time_get_month (to),
                                       g_date_time_get_year (to));

  return g_date_days_between (a, b);
}

/* "Due today", "Due tomorrow", "Due 3 Dec", "Overdue since 1 Dec".
 * A due date is a day, stored as UTC midnight: its UTC date is the day,
 * as the editor shows it, compared with today's date here. In local time
 * west of UTC it would be the evening before. */
static char *
format_due (GDateTime *due,
            gboolean   done,
            gboolean  *overdue)
{
  g_autoptr(GDateTime) day = g_date_time_to_utc (due);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  int days = days_between (now, day);
  g_autofree char *date = NULL;

  *overdue = !done && days < 0;
  if (days == 0)
    return g_strdup (_("Due today"));
  if (days == 1)
    return g_strdup (_("Due tomorrow"));
  if (g_date_time_get_year (day) == g_date_time_get_year (now))
    /* Translators: a due date in the list, see strftime(3) */
    date = g_date_time_format (day, _("%e %b"));
  else
    /* Translators: a due date in another year, see strftime(3) */
    date = g_date_time_format (day, _("%e %b %Y"));
  g_strstrip (date);
  if (*overdue)
    /* Translators: %s is a date */
    return g_strdup_printf (_("Overdue since %s"), date);
  /* Translators: %s is a date */
  return g_strdup_printf (_("Due %s"), date);
}

static void
set_due (TetherItemRow *self,
         TetherRecord  *record,
         gboolean       done)
{
  g_autoptr(GDateTime) due = tether_record_get_datetime (record, "due");
  g_autofree char *text = NULL;
  gboolean overdue = FALSE;

  gtk_widget_set_visible (GTK_WIDGET (self->due_label), due != NULL);
  if (due == NULL)
    return;
  text = format_due (due, done, &overdue);
  gtk_label_set_text (self->due_label, text);
  if (overdue)
    gtk_widget_add_css_class (GTK_WIDGET (self->due_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->due_label), "error");
}

static void
set_tags (TetherItemRow *self,
          TetherRecord  *record)
{
  g_auto(GStrv) tags = tether_record_dup_strv (record, "tags");
  g_autofree char *text = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->tags_label), tags[0] != NULL);
  if (tags[0] == NULL)
    return;
  text = g_strjoinv (", ", tags);
  gtk_label_set_text (self->tags_label, text);
}

static void
show_record (TetherItemRow *self,
             TetherRecord  *record)
{
  gboolean task, done;
  const char *title;
  g_autofree char *snippet = NULL;

  g_return_if_fail (TETHER_IS_ITEM_ROW (self));
  g_return_if_fail (record == NULL || TETHER_IS_RECORD (record));

  if (record == NULL)
    return;

  task = g_strcmp0 (tether_record_get_collection (record), "tasks") == 0;
  done = task && tether_record_get_boolean (record, "done", FALSE);
  title = tether_record_get_string (record, "title", "");
  snippet = first_line (tether_record_get_string (record, task ? "notes" : "body", ""));

  gtk_stack_set_visible_child_name (self->kind_stack, task ? "task" : "note");
  /* The target first: an action name without its target would not match. */
  gtk_actionable_set_action_target_value (GTK_ACTIONABLE (self->done_check),
                                          g_variant_new_string (tether_record_get_id (record)));
  if (gtk_actionable_get_action_name (GTK_ACTIONABLE (self->done_check)) == NULL)
    gtk_actionable_set_action_name (GTK_ACTIONABLE (self->done_check), "win.toggle-done");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->done_check), done);
  if (*title == '\0')
    title = _("Untitled");
  gtk_label_set_text (self->title_label, title);
  if (task)
    {
      /* Translators: a task's checkbox in the list, for screen readers; %s is its title */
      g_autofree char *name = g_strdup_printf (_("Done: %s"), title);

      gtk_accessible_update_property (GTK_ACCESSIBLE (self->done_check),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
    }
  gtk_label_set_text (self->snippet_label, snippet);
  gtk_widget_set_visible (GTK_WIDGET (self->snippet_label), *snippet != '\0');
  gtk_widget_set_visible (self->pin_icon, !task && tether_record_get_boolean (record, "pinned", FALSE));
  set_due (self, record, done);
  set_tags (self, record);
  if (done)
    gtk_widget_add_css_class (GTK_WIDGET (self), "done");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "done");
}

static void
slot_record_changed (TetherItemSlot *slot,
                     GParamSpec     *pspec,
                     TetherItemRow  *self)
{
  show_record (self, tether_item_slot_get_record (slot));
}

/* The row follows the slot's record until it is given another slot (or
 * NULL, when the list view unbinds it). */
void
tether_item_row_set_slot (TetherItemRow  *self,
                          TetherItemSlot *slot)
{
  g_return_if_fail (TETHER_IS_ITEM_ROW (self));
  g_return_if_fail (slot == NULL || TETHER_IS_ITEM_SLOT (slot));

  if (self->slot != NULL)
    g_clear_signal_handler (&self->slot_handler, self->slot);
  g_set_object (&self->slot, slot);
  if (slot == NULL)
    return;
  self->slot_handler = g_signal_connect (slot, "notify::record", G_CALLBACK (slot_record_changed), self);
  show_record (self, tether_item_slot_get_record (slot));
}

static void
tether_item_row_dispose (GObject *object)
{
  GtkWidget *child;

  tether_item_row_set_slot (TETHER_ITEM_ROW (object), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (object), TETHER_TYPE_ITEM_ROW);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (object))) != NULL)
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (tether_item_row_parent_class)->dispose (object);
}

static void
tether_item_row_class_init (TetherItemRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_item_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-item-row.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, kind_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, done_check);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, pin_icon);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, snippet_label);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, due_label);
  gtk_widget_class_bind_template_child (widget_class, TetherItemRow, tags_label);
  gtk_widget_class_set_css_name (widget_class, "tetheritemrow");
}

static void
tether_item_row_init (TetherItemRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
tether_item_row_new (void)
{
  return g_object_new (TETHER_TYPE_ITEM_ROW, NULL);
}
