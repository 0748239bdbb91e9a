/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-window"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-item-row.h"
#include "tether-slot-model.h"
#include "tether-window-private.h"

G_DEFINE_FINAL_TYPE (TetherWindow, tether_window, ADW_TYPE_APPLICATION_WINDOW)

/* Opening and selecting ------------------------------------------------------ */

/* Keep the selection on the open record, wherever the list moved it. */
static void
sync_selection (TetherWindow *self)
{
  guint want = GTK_INVALID_LIST_POSITION;

  if (self->open_id != NULL)
    {
      gint pos = tether_item_model_find (self->model, self->open_collection, self->open_id);

      if (pos >= 0)
        want = pos;
    }
  if (gtk_single_selection_get_selected (self->selection) == want)
    return;
  self->syncing_selection = TRUE;
  gtk_single_selection_set_selected (self->selection, want);
  self->syncing_selection = FALSE;
}

gboolean
_tether_window_open (TetherWindow *self,
                     const char   *collection,
                     const char   *id)
{
  if (g_strcmp0 (id, self->open_id) != 0 || g_strcmp0 (collection, self->open_collection) != 0)
    {
      g_autoptr(GError) error = NULL;

      if (!tether_editor_set_record (self->editor, self->db, id != NULL ? collection : NULL, id, &error))
        {
          _tether_window_refuse_to_leave (self, error);
          sync_selection (self);
          return FALSE;
        }
      g_free (self->open_collection);
      g_free (self->open_id);
      self->open_collection = id != NULL ? g_strdup (collection) : NULL;
      self->open_id = g_strdup (id);
      gtk_stack_set_visible_child_name (self->editor_stack, id != NULL ? "editor" : "none");
      _tether_window_update_actions (self);
      /* Whatever the toast said could not be saved now is. */
      _tether_window_dismiss_refusal (self);
    }
  sync_selection (self);
  return TRUE;
}

TetherRecord *
_tether_window_dup_open_record (TetherWindow *self)
{
  TetherCollection *collection;

  if (self->open_id == NULL)
    return NULL;
  collection = tether_database_get_collection (self->db, self->open_collection, NULL);
  return collection != NULL ? tether_collection_get (collection, self->open_id, NULL) : NULL;
}

void
_tether_window_focus_editor (TetherWindow *self)
{
  if (self->open_id == NULL)
    return;
  adw_leaflet_set_visible_child (self->leaflet, GTK_WIDGET (self->editor_stack));
  tether_editor_focus_title (self->editor);
}

void
_tether_window_focus_list (TetherWindow *self)
{
  adw_leaflet_set_visible_child (self->leaflet, self->list_pane);
  if (g_list_model_get_n_items (G_LIST_MODEL (self->model)) > 0)
    gtk_widget_grab_focus (GTK_WIDGET (self->list_view));
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

/* The selection holds slots (tether-slot-model.c): the record in one. */
static TetherRecord *
selected_record (TetherWindow *self)
{
  TetherItemSlot *slot = gtk_single_selection_get_selected_item (self->selection);

  return slot != NULL ? tether_item_slot_get_record (slot) : NULL;
}

static void
selection_changed (TetherWindow *self)
{
  TetherRecord *record;

  /* Moves of the list are not the user's choice: sync_selection() follows. */
  if (self->model_changing > 0 || self->syncing_selection)
    return;
  record = selected_record (self);
  if (record != NULL)
    _tether_window_open (self, tether_record_get_collection (record), tether_record_get_id (record));
}

static void
list_activated (TetherWindow *self,
                guint         position)
{
  g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (self->model), position);

  if (record == NULL)
    return;
  if (_tether_window_open (self, tether_record_get_collection (record), tether_record_get_id (record)))
    _tether_window_focus_editor (self);
}

/* Empty states ---------------------------------------------------------------- */

void
_tether_window_update_empty (TetherWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->model));
  gboolean searching = self->search_text != NULL;
  gboolean filtered = searching || self->tag != NULL || g_strcmp0 (self->kind, "all") != 0;
  g_autofree char *description = NULL;
  const char *title;

  gtk_stack_set_visible_child_name (self->main_stack, n == 0 && !filtered ? "empty" : "items");
  gtk_stack_set_visible_child_name (self->list_stack, n == 0 ? "no-results" : "list");
  if (n > 0 || !filtered)
    return;

  if (searching)
    {
      title = _("No Results");
      /* Translators: %s is what was searched for */
      description = g_strdup_printf (_("Nothing matches “%s”"), self->search_text);
    }
  else if (self->tag != NULL)
    {
      title = _("Nothing Tagged");
      /* Translators: %s is a tag */
      description = g_strdup_printf (_("No notes or tasks are tagged “%s”"), self->tag);
    }
  else if (g_strcmp0 (self->kind, "notes") == 0)
    {
      title = _("No Notes");
      description = g_strdup (_("Press Ctrl+N for a note"));
    }
  else
    {
      title = _("No Tasks");
      description = g_strdup (_("Press Ctrl+T for a task"));
    }
  adw_status_page_set_title (self->no_results_page, title);
  adw_status_page_set_description (self->no_results_page, description);
}

static void
model_changing (TetherWindow *self)
{
  self->model_changing++;
}

static void
model_changed (TetherWindow *self)
{
  self->model_changing--;
  if (self->model_changing > 0)
    return;
  /* A record deleted elsewhere stays open: the editor says so and keeps the text. */
  sync_selection (self);
  _tether_window_update_empty (self);
}

/* Template callbacks ------------------------------------------------------------ */

static void
search_changed (TetherWindow *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  g_free (self->search_text);
  self->search_text = *stripped != '\0' ? g_steal_pointer (&stripped) : NULL;
  tether_item_model_set_search (self->model, self->search_text);
  _tether_window_update_empty (self);
}

/* Enter in the search entry: on to the results. */
static void
search_activated (TetherWindow *self)
{
  if (g_list_model_get_n_items (G_LIST_MODEL (self->model)) == 0)
    return;
  if (gtk_single_selection_get_selected (self->selection) == GTK_INVALID_LIST_POSITION)
    list_activated (self, 0);
  gtk_widget_grab_focus (GTK_WIDGET (self->list_view));
}

static void
search_mode_changed (TetherWindow *self)
{
  if (!gtk_search_bar_get_search_mode (self->search_bar))
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
}

static void
back_clicked (TetherWindow *self)
{
  _tether_window_focus_list (self);
}

static gboolean
update_navigation_now (gpointer data)
{
  TetherWindow *self = data;
  gboolean folded = adw_leaflet_get_folded (self->leaflet);
  gboolean on_editor = adw_leaflet_get_visible_child (self->leaflet) == GTK_WIDGET (self->editor_stack);

  self->navigation_idle = 0;
  gtk_widget_set_visible (self->back_button, folded && on_editor);
  /* Folded, a click on a row is the only way on to the editor. */
  gtk_grid_view_set_single_click_activate (self->list_view, folded);
  return G_SOURCE_REMOVE;
}

/* The leaflet folds while it is allocated: change the header bar after. */
static void
update_navigation (TetherWindow *self)
{
  if (self->navigation_idle == 0)
    self->navigation_idle = g_idle_add (update_navigation_now, self);
}

static gboolean
escape_pressed (GtkWidget *widget,
                GVariant  *args,
                gpointer   data)
{
  _tether_window_focus_list (TETHER_WINDOW (data));
  return TRUE;
}

/* List items ------------------------------------------------------------------- */

static void
setup_row (GtkSignalListItemFactory *factory,
           GtkListItem              *item)
{
  gtk_list_item_set_child (item, tether_item_row_new ());
}

static void
bind_row (GtkSignalListItemFactory *factory,
          GtkListItem              *item)
{
  tether_item_row_set_slot (TETHER_ITEM_ROW (gtk_list_item_get_child (item)),
                            gtk_list_item_get_item (item));
}

static void
unbind_row (GtkSignalListItemFactory *factory,
            GtkListItem              *item)
{
  tether_item_row_set_slot (TETHER_ITEM_ROW (gtk_list_item_get_child (item)), NULL);
}

static void
setup_list (TetherWindow *self)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

  /* Connected before the selection model exists, so it runs first. */
  g_signal_connect_swapped (self->model, "items-changed", G_CALLBACK (model_changing), self);
  /* The list view sees slots: a search that swaps records rebinds rows in
   * place instead of making new ones. */
  self->selection = gtk_single_selection_new (G_LIST_MODEL (tether_slot_model_new (G_LIST_MODEL (self->model))));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->model, "items-changed", G_CALLBACK (model_changed), self);
  g_signal_connect_swapped (self->selection, "notify::selected", G_CALLBACK (selection_changed), self);

  g_signal_connect (factory, "setup", G_CALLBACK (setup_row), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row), NULL);
  gtk_grid_view_set_factory (self->list_view, factory);
  gtk_grid_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));
}

/* Window ----------------------------------------------------------------------- */

static void
load_size (TetherWindow *self)
{
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
}

static gboolean
tether_window_close_request (GtkWindow *window)
{
  TetherWindow *self = TETHER_WINDOW (window);
  g_autoptr(GError) error = NULL;
  int width, height;

  /* Written key by key: g_settings_delay() on the application's shared
   * object could never be undone, and a window kept open by "Keep
   * Editing" would leave every later preference unwritten. */
  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  if (self->open_id != NULL && !tether_editor_save_now (self->editor, &error))
    {
      _tether_window_ask_before_closing (self, error);
      return TRUE;
    }
  return GTK_WINDOW_CLASS (tether_window_parent_class)->close_request (window);
}

void
_tether_window_close_for_quit (TetherWindow *self)
{
  self->quit_after_close = TRUE;
  gtk_window_close (GTK_WINDOW (self));
}

void
_tether_window_save (TetherWindow *self)
{
  g_autoptr(GError) error = NULL;

  if (self->open_id != NULL && !tether_editor_save_now (self->editor, &error))
    g_message ("Could not save %s %s: %s", self->open_collection, self->open_id, error->message);
}

/* Where the user types text, keys belong to the text first. */
static gboolean
focus_in_text (TetherWindow *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  return focus != NULL && (GTK_IS_EDITABLE (focus) || GTK_IS_TEXT_VIEW (focus));
}

/* Ctrl+Delete: GtkText and GtkTextView delete a word with it, and they see
 * the key first (this runs in the bubble phase); elsewhere it deletes the
 * open note or task. */
static gboolean
delete_pressed (GtkWidget *widget,
                GVariant  *args,
                gpointer   data)
{
  TetherWindow *self = TETHER_WINDOW (data);

  if (focus_in_text (self) || !g_action_group_get_action_enabled (G_ACTION_GROUP (self), "delete"))
    return FALSE;
  g_action_group_activate_action (G_ACTION_GROUP (self), "delete", NULL);
  return TRUE;
}

/* Ctrl+D: the open task (or the selected one) done, or not done again,
 * from the list or the editor; text widgets do not bind Ctrl+D. */
static gboolean
toggle_done_pressed (GtkWidget *widget,
                     GVariant  *args,
                     gpointer   data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  TetherRecord *selected = selected_record (self);
  const char *id = NULL;

  if (g_strcmp0 (self->open_collection, "tasks") == 0)
    id = self->open_id;
  else if (selected != NULL && g_strcmp0 (tether_record_get_collection (selected), "tasks") == 0)
    id = tether_record_get_id (selected);
  if (id == NULL)
    return FALSE;
  g_action_group_activate_action (G_ACTION_GROUP (self), "toggle-done", g_variant_new_string (id));
  return TRUE;
}

static void
add_shortcut (TetherWindow    *self,
              GtkWidget       *widget,
              guint            keyval,
              GdkModifierType  modifiers,
              GtkShortcutFunc  func)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();

  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (controller),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (keyval, modifiers),
                                                          gtk_callback_action_new (func, self, NULL)));
  gtk_widget_add_controller (widget, controller);
}

/* After construction: GtkWindow:application is set only after constructed(). */
static void
setup (TetherWindow      *self,
       TetherApplication *app)
{
  g_autoptr(GError) error = NULL;

  self->db = g_object_ref (tether_application_get_database (app));
  self->engine = g_object_ref (tether_application_get_sync_engine (app));
  self->settings = g_object_ref (tether_application_get_settings (app));
  self->model = tether_item_model_new (self->db, &error);
  if (self->model == NULL)
    g_error ("Could not list the notes and tasks: %s", error->message);

  load_size (self);
  setup_list (self);
  _tether_window_add_actions (self);
  tether_sync_status_set_engine (self->sync_status, self->engine);
  tether_inspector_set_engine (self->inspector, self->engine);
  g_settings_bind (self->settings, "inspector-visible", self->flap, "reveal-flap", G_SETTINGS_BIND_DEFAULT);
  gtk_search_bar_set_key_capture_widget (self->search_bar, self->list_pane);
  g_signal_connect_swapped (self->search_bar, "notify::search-mode-enabled",
                            G_CALLBACK (search_mode_changed), self);
  add_shortcut (self, GTK_WIDGET (self->editor_stack), GDK_KEY_Escape, 0, escape_pressed);
  add_shortcut (self, GTK_WIDGET (self), GDK_KEY_Delete, GDK_CONTROL_MASK, delete_pressed);
  add_shortcut (self, GTK_WIDGET (self), GDK_KEY_d, GDK_CONTROL_MASK, toggle_done_pressed);
  update_navigation_now (self);
  _tether_window_update_empty (self);
  _tether_window_update_actions (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->list_view));
}

void
_tether_window_cancel (TetherWindow *self)
{
  g_cancellable_cancel (self->sync_cancellable);
}

static void
tether_window_dispose (GObject *object)
{
  TetherWindow *self = TETHER_WINDOW (object);

  _tether_window_cancel (self);
  g_clear_handle_id (&self->navigation_idle, g_source_remove);
  if (self->refusal_toast != NULL)
    g_signal_handlers_disconnect_by_data (self->refusal_toast, self);
  g_clear_object (&self->refusal_toast);
  if (self->close_dialog != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->close_dialog), (gpointer *) &self->close_dialog);
  self->close_dialog = NULL;
  if (self->undo_toast != NULL)
    g_signal_handlers_disconnect_by_data (self->undo_toast, self);
  g_clear_object (&self->undo_toast);
  if (self->model != NULL)
    g_signal_handlers_disconnect_by_data (self->model, self);
  if (self->db != NULL)
    g_signal_handlers_disconnect_by_data (self->db, self);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  /* The settings and the inspector action both hold on to the flap. */
  if (self->flap != NULL)
    g_settings_unbind (self->flap, "reveal-flap");
  g_action_map_remove_action (G_ACTION_MAP (self), "inspector");
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_WINDOW);
  g_clear_object (&self->selection);
  g_clear_object (&self->model);
  g_clear_object (&self->tag_menu);
  g_clear_pointer (&self->tag_counts, g_hash_table_unref);
  g_clear_object (&self->settings);
  g_clear_object (&self->engine);
  g_clear_object (&self->db);
  g_clear_object (&self->sync_cancellable);
  G_OBJECT_CLASS (tether_window_parent_class)->dispose (object);
}

static void
tether_window_finalize (GObject *object)
{
  TetherWindow *self = TETHER_WINDOW (object);

  g_free (self->open_collection);
  g_free (self->open_id);
  g_free (self->search_text);
  g_free (self->kind);
  g_free (self->tag);
  g_free (self->deleted_collection);
  g_clear_pointer (&self->deleted_data, json_object_unref);
  G_OBJECT_CLASS (tether_window_parent_class)->finalize (object);
}

static void
tether_window_class_init (TetherWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = tether_window_dispose;
  object_class->finalize = tether_window_finalize;
  window_class->close_request = tether_window_close_request;

  g_type_ensure (TETHER_TYPE_EDITOR);
  g_type_ensure (TETHER_TYPE_INSPECTOR);
  g_type_ensure (TETHER_TYPE_SYNC_STATUS);

  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, back_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, kind_switcher);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, tag_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, tag_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sync_status);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, flap);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, list_pane);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, list_view);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, no_results_page);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, editor_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, editor);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, inspector);
  gtk_widget_class_bind_template_callback (widget_class, back_clicked);
  gtk_widget_class_bind_template_callback (widget_class, update_navigation);
  gtk_widget_class_bind_template_callback (widget_class, search_changed);
  gtk_widget_class_bind_template_callback (widget_class, search_activated);
  gtk_widget_class_bind_template_callback (widget_class, list_activated);
}

static void
tether_window_init (TetherWindow *self)
{
  self->kind = g_strdup ("all");
  self->sync_cancellable = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

TetherWindow *
tether_window_new (TetherApplication *app)
{
  TetherWindow *self;

  g_return_val_if_fail (TETHER_IS_APPLICATION (app), NULL);
  g_return_val_if_fail (tether_application_get_database (app) != NULL, NULL);

  self = g_object_new (TETHER_TYPE_WINDOW, "application", app, NULL);
  setup (self, app);
  return self;
}

AdwToast *
tether_toast_new_plain (const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  return adw_toast_new (escaped);
}

void
tether_window_toast (TetherWindow *self,
                     const char   *title,
                     const char   *button_label,
                     const char   *action_name,
                     GVariant     *target)
{
  AdwToast *toast;

  g_return_if_fail (TETHER_IS_WINDOW (self));
  g_return_if_fail (title != NULL);

  toast = tether_toast_new_plain (title);
  if (action_name != NULL)
    {
      adw_toast_set_button_label (toast, button_label);
      adw_toast_set_action_name (toast, action_name);
      if (target != NULL)
        adw_toast_set_action_target_value (toast, target);
    }
  else if (target != NULL)
    g_variant_unref (g_variant_ref_sink (target));
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

gboolean
tether_window_select (TetherWindow *self,
                      const char   *collection,
                      const char   *id)
{
  gint pos;

  g_return_val_if_fail (TETHER_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (collection != NULL, FALSE);
  g_return_val_if_fail (id != NULL, FALSE);

  if (!_tether_window_open (self, collection, id))
    return FALSE;
  pos = tether_item_model_find (self->model, collection, id);
  if (pos >= 0)
    gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", pos);
  return TRUE;
}
