/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-inspector-private.h"
#include "tether-window.h"

/* The inspector.* actions (the header's buttons, Try Again, Discard) and
 * the queue's row menu, which a right click, Menu or Shift+F10 opens. */

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(TetherInspector) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, &error))
    {
      if (self->banner != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _tether_inspector_show_error (self, _("Sync failed"), error);
      return;
    }
  if (self->banner != NULL)
    gtk_revealer_set_reveal_child (self->banner, FALSE);
}

static void
sync_now_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  /* In the window, its Sync Now first saves the edit waiting in the
   * editor, and says how the sync went; alone, the inspector syncs. */
  if (gtk_widget_activate_action (widget, "win.sync-now", NULL))
    return;
  tether_sync_engine_sync_async (self->engine, self->cancellable, sync_done, g_object_ref (self));
}

static void
retry_failed_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  g_autoptr(GError) error = NULL;

  if (tether_sync_engine_retry_failed (self->engine, &error) < 0)
    _tether_inspector_show_error (self, _("Could not retry failed changes"), error);
}

static void
compact_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  guint counts[TETHER_CHANGE_FAILED + 1] = { 0 };
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GError) error = NULL;
  gint removed = tether_sync_engine_compact (self->engine, &error);

  if (removed < 0)
    _tether_inspector_show_error (self, _("Could not compact the queue"), error);
  if (removed != 0 || self->changes == NULL)
    return;
  records = _tether_inspector_count_queue (G_LIST_MODEL (self->changes), counts);
  _tether_inspector_hold_back (self->held_back, records);
  /* Short: the toast is as wide as the inspector. */
  adw_toast_overlay_add_toast (self->toasts, tether_toast_new_plain (_("Nothing to compact: already sent")));
  _tether_inspector_queue_refresh (self, REFRESH_QUEUE);
}

/* Try Again, after a log could not be read. */
static void
reload_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  if (self->changes != NULL)
    tether_change_model_reload (self->changes);
  _tether_inspector_queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
discard_response (AdwMessageDialog *dialog,
                  const char       *response,
                  TetherInspector  *self)
{
  const char *change_id = g_object_get_data (G_OBJECT (dialog), "change-id");
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "discard") != 0 || self->engine == NULL)
    return;
  if (!tether_sync_engine_discard (self->engine, change_id, &error))
    _tether_inspector_show_error (self, _("Could not discard the change"), error);
}

static TetherSyncChange *
find_change (TetherInspector *self,
             const char      *change_id)
{
  GListModel *model = G_LIST_MODEL (self->changes);

  for (guint i = 0; model != NULL && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherSyncChange) change = g_list_model_get_item (model, i);

      if (g_str_equal (tether_sync_change_get_id (change), change_id))
        return g_steal_pointer (&change);
    }
  return NULL;
}

/* Dropping an edit from the queue means the server never hears of it:
 * ask first. */
static void
discard_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  const char *change_id = g_variant_get_string (parameter, NULL);
  g_autoptr(TetherSyncChange) change = find_change (self, change_id);
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog;

  if (change != NULL && tether_sync_change_get_status (change) == TETHER_CHANGE_SYNCING)
    {
      gtk_label_set_text (self->banner_label, _("This change is being sent; it can be discarded once the server has answered"));
      gtk_revealer_set_reveal_child (self->banner, TRUE);
      return;
    }
  dialog = _tether_inspector_discard_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, change);
  g_object_set_data_full (G_OBJECT (dialog), "change-id", g_strdup (change_id), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (discard_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The row menu: for @item, pointing at @at (in the inspector's
 * coordinates); it offers to discard the change. */
static gboolean
popup_row_menu (TetherInspector    *self,
                GtkListItem        *item,
                const GdkRectangle *at)
{
  TetherSyncChange *change = gtk_list_item_get_item (item);
  g_autoptr(GMenuModel) menu = NULL;

  if (change == NULL)
    return FALSE;
  gtk_selection_model_select_item (gtk_column_view_get_model (self->queue_view),
                                   gtk_list_item_get_position (item), TRUE);
  menu = _tether_inspector_row_menu_new (change);
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->row_menu), menu);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->row_menu), at);
  gtk_popover_popup (GTK_POPOVER (self->row_menu));
  return TRUE;
}

/* A right click: the menu of the row under the pointer, where it is. */
static void
on_queue_pressed (GtkGestureClick *gesture,
                  int              n_press,
                  double           x,
                  double           y,
                  TetherInspector *self)
{
  GtkWidget *view = GTK_WIDGET (self->queue_view);
  GtkWidget *target = gtk_widget_pick (view, x, y, GTK_PICK_DEFAULT);
  GtkListItem *item = NULL;
  graphene_point_t at;

  for (; target != NULL && target != view && item == NULL; target = gtk_widget_get_parent (target))
    item = g_object_get_data (G_OBJECT (target), TETHER_INSPECTOR_LIST_ITEM);
  if (item == NULL || !gtk_widget_compute_point (view, GTK_WIDGET (self), &GRAPHENE_POINT_INIT (x, y), &at))
    return;
  if (popup_row_menu (self, item, &(GdkRectangle) { at.x, at.y, 1, 1 }))
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

/* The list item shown by @row, a row of the queue: its cells carry it. */
static GtkListItem *
row_list_item (GtkWidget *row)
{
  GtkListItem *item = g_object_get_data (G_OBJECT (row), TETHER_INSPECTOR_LIST_ITEM);

  for (GtkWidget *c = gtk_widget_get_first_child (row); c != NULL && item == NULL; c = gtk_widget_get_next_sibling (c))
    item = row_list_item (c);
  return item;
}

/* Menu or Shift+F10: the menu of the focused row, under its start, as a
 * right click would open it (the keyboard has no pointer to point at). */
static gboolean
popup_focused_row_menu (GtkWidget *widget,
                        GVariant  *args,
                        gpointer   user_data)
{
  TetherInspector *self = user_data;
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *row = root != NULL ? gtk_root_get_focus (root) : NULL;
  GtkListItem *item;
  graphene_rect_t bounds;

  if (row == NULL || !gtk_widget_is_ancestor (row, widget) ||
      (item = row_list_item (row)) == NULL ||
      !gtk_widget_compute_bounds (row, GTK_WIDGET (self), &bounds))
    return FALSE;
  return popup_row_menu (self, item, &(GdkRectangle) { bounds.origin.x + 12, bounds.origin.y,
                                                      1, bounds.size.height });
}

/* Delete in the queue: discard the selected change (after asking). */
static gboolean
discard_selected (GtkWidget *widget,
                  GVariant  *args,
                  gpointer   user_data)
{
  TetherInspector *self = user_data;
  GtkSelectionModel *selection = gtk_column_view_get_model (self->queue_view);
  TetherSyncChange *change = NULL;

  if (GTK_IS_SINGLE_SELECTION (selection))
    change = gtk_single_selection_get_selected_item (GTK_SINGLE_SELECTION (selection));
  if (change == NULL)
    return FALSE;
  return gtk_widget_activate_action (GTK_WIDGET (self), "inspector.discard", "s", tether_sync_change_get_id (change));
}

void
_tether_inspector_install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "inspector.sync-now", NULL, sync_now_activated);
  gtk_widget_class_install_action (widget_class, "inspector.retry-failed", NULL, retry_failed_activated);
  gtk_widget_class_install_action (widget_class, "inspector.compact", NULL, compact_activated);
  gtk_widget_class_install_action (widget_class, "inspector.discard", "s", discard_activated);
  gtk_widget_class_install_action (widget_class, "inspector.reload", NULL, reload_activated);
}

void
_tether_inspector_add_row_menu (TetherInspector *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *keys = gtk_shortcut_controller_new ();

  self->row_menu = gtk_popover_menu_new_from_model (NULL);
  gtk_popover_set_has_arrow (GTK_POPOVER (self->row_menu), FALSE);
  gtk_widget_set_halign (self->row_menu, GTK_ALIGN_START);
  gtk_widget_set_parent (self->row_menu, GTK_WIDGET (self));
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_queue_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self->queue_view), GTK_EVENT_CONTROLLER (click));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Delete, 0),
                      gtk_callback_action_new (discard_selected, self, NULL)));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
    gtk_shortcut_new (gtk_shortcut_trigger_parse_string ("Menu|<Shift>F10"),
                      gtk_callback_action_new (popup_focused_row_menu, self, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self->queue_view), keys);
}
