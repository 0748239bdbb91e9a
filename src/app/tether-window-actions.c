/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-window"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-window-private.h"

static void
show_error (TetherWindow *self,
            const char   *what,
            const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);

  tether_window_toast (self, text, NULL, NULL, NULL);
}

/* New ------------------------------------------------------------------------- */

static void
create_record (TetherWindow *self,
               const char   *collection_name,
               const char   *title)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  TetherCollection *collection;
  const char *id;

  /* Before anything changes: a new record the editor cannot move on to
   * would only clutter the list, with the filters cleared for nothing. */
  if (!_tether_window_can_leave (self))
    return;
  json_object_set_string_member (data, "title", title);
  collection = tether_database_get_collection (self->db, collection_name, &error);
  if (collection != NULL)
    record = tether_collection_create (collection, data, &error);
  if (record == NULL)
    {
      show_error (self, _("Could not create it"), error);
      return;
    }
  id = tether_record_get_id (record);
  /* A filter that hides the new record would leave the user wondering. */
  if (tether_item_model_find (self->model, collection_name, id) < 0)
    {
      gtk_search_bar_set_search_mode (self->search_bar, FALSE);
      g_action_group_change_action_state (G_ACTION_GROUP (self), "kind", g_variant_new_string ("all"));
      g_action_group_change_action_state (G_ACTION_GROUP (self), "tag", g_variant_new_string (""));
    }
  if (!tether_window_select (self, collection_name, id))
    {
      /* Saved a moment ago, refused now: take the new one back. */
      if (!tether_collection_delete (collection, id, &error))
        g_message ("Could not delete the new %s %s: %s", collection_name, id, error->message);
      return;
    }
  _tether_window_focus_editor (self);
}

static void
new_note_activated (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  create_record (TETHER_WINDOW (data), "notes", _("New note"));
}

static void
new_task_activated (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  create_record (TETHER_WINDOW (data), "tasks", _("New task"));
}

/* Delete and undo --------------------------------------------------------------- */

static void
undo_toast_dismissed (AdwToast     *toast,
                      TetherWindow *self)
{
  if (toast != self->undo_toast)
    return;
  g_clear_object (&self->undo_toast);
  g_clear_pointer (&self->deleted_collection, g_free);
  g_clear_pointer (&self->deleted_data, json_object_unref);
  _tether_window_update_actions (self);
}

static void
offer_undo (TetherWindow *self,
            TetherRecord *record)
{
  const char *title = tether_record_get_string (record, "title", "");
  g_autofree char *text = NULL;
  AdwToast *old = g_steal_pointer (&self->undo_toast);

  /* One undo at a time: the previous delete stays done. */
  if (old != NULL)
    {
      g_signal_handlers_disconnect_by_data (old, self);
      adw_toast_dismiss (old);
      g_object_unref (old);
    }
  g_free (self->deleted_collection);
  g_clear_pointer (&self->deleted_data, json_object_unref);
  self->deleted_collection = g_strdup (tether_record_get_collection (record));
  self->deleted_data = tether_record_dup_data (record);

  /* Translators: %s is the title of what was deleted */
  text = g_strdup_printf (_("Deleted “%s”"), *title != '\0' ? title : _("Untitled"));
  /* Ours until "dismissed"; the overlay takes a reference of its own. */
  self->undo_toast = tether_toast_new_plain (text);
  adw_toast_set_button_label (self->undo_toast, _("_Undo"));
  adw_toast_set_action_name (self->undo_toast, "win.undo-delete");
  adw_toast_set_priority (self->undo_toast, ADW_TOAST_PRIORITY_HIGH);
  g_signal_connect (self->undo_toast, "dismissed", G_CALLBACK (undo_toast_dismissed), self);
  adw_toast_overlay_add_toast (self->toast_overlay, g_object_ref (self->undo_toast));
  _tether_window_update_actions (self);
}

static void
delete_activated (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  g_autoptr(TetherRecord) record = _tether_window_dup_open_record (self);
  g_autoptr(GError) error = NULL;
  TetherCollection *collection;
  guint pos = gtk_single_selection_get_selected (self->selection);
  guint n;

  if (record == NULL)
    return;
  /* Whatever waits for the debounce goes in first, so undo brings it back.
   * An edit that cannot be stored goes with the note the user deletes:
   * kept, it would hold the editor on a note that is gone. */
  if (!tether_editor_save_now (self->editor, &error))
    {
      g_message ("Deleting %s %s with an edit that could not be saved: %s",
                 self->open_collection, self->open_id, error->message);
      g_clear_error (&error);
      tether_editor_discard_changes (self->editor);
    }
  g_clear_object (&record);
  record = _tether_window_dup_open_record (self);
  collection = tether_database_get_collection (self->db, tether_record_get_collection (record), NULL);
  if (!tether_collection_delete (collection, tether_record_get_id (record), &error))
    {
      show_error (self, _("Could not delete it"), error);
      return;
    }
  offer_undo (self, record);

  /* On to the neighbour, as a list of mail does. */
  n = g_list_model_get_n_items (G_LIST_MODEL (self->model));
  if (n > 0 && pos != GTK_INVALID_LIST_POSITION)
    {
      g_autoptr(TetherRecord) next = g_list_model_get_item (G_LIST_MODEL (self->model), MIN (pos, n - 1));

      _tether_window_open (self, tether_record_get_collection (next), tether_record_get_id (next));
    }
  else
    _tether_window_open (self, NULL, NULL);
  /* Never into the neighbour's text: the next keystrokes would edit it. */
  _tether_window_focus_list (self);
}

static void
discard_changes_activated (GSimpleAction *action,
                           GVariant      *param,
                           gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  const char *collection, *id;

  /* A toast of a record no longer open: its changes were saved meanwhile,
   * and the ones open now are not what it offered to discard. */
  g_variant_get (param, "(&s&s)", &collection, &id);
  if (g_strcmp0 (collection, self->open_collection) != 0 || g_strcmp0 (id, self->open_id) != 0)
    return;
  tether_editor_discard_changes (self->editor);
  _tether_window_dismiss_refusal (self);
}

static void
undo_delete_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *collection_name = g_steal_pointer (&self->deleted_collection);
  g_autoptr(JsonObject) deleted = g_steal_pointer (&self->deleted_data);
  TetherCollection *collection;

  if (deleted == NULL)
    return;
  if (self->undo_toast != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->undo_toast, self);
      adw_toast_dismiss (self->undo_toast);
      g_clear_object (&self->undo_toast);
    }
  _tether_window_update_actions (self);
  collection = tether_database_get_collection (self->db, collection_name, &error);
  if (collection != NULL)
    record = tether_collection_create (collection, deleted, &error);
  if (record == NULL)
    {
      show_error (self, _("Could not bring it back"), error);
      return;
    }
  tether_window_select (self, collection_name, tether_record_get_id (record));
}

/* Tasks ------------------------------------------------------------------------- */

static void
toggle_done_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  const char *id = g_variant_get_string (param, NULL);
  TetherCollection *tasks = tether_database_get_collection (self->db, "tasks", NULL);
  g_autoptr(TetherRecord) task = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autoptr(JsonObject) patch = json_object_new ();
  g_autoptr(GError) error = NULL;

  if (tasks == NULL || (task = tether_collection_get (tasks, id, &error)) == NULL)
    {
      if (error != NULL)
        show_error (self, _("Could not change the task"), error);
      return;
    }
  json_object_set_boolean_member (patch, "done", !tether_record_get_boolean (task, "done", FALSE));
  if ((updated = tether_collection_update (tasks, id, patch, &error)) == NULL)
    show_error (self, _("Could not change the task"), error);
}

/* Search and filters ------------------------------------------------------------- */

static void
search_activated (GSimpleAction *action,
                  GVariant      *param,
                  gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);

  gtk_stack_set_visible_child_name (self->main_stack, "items");
  adw_leaflet_set_visible_child (self->leaflet, self->list_pane);
  gtk_search_bar_set_search_mode (self->search_bar, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
kind_change_state (GSimpleAction *action,
                   GVariant      *value,
                   gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  const char *kind = g_variant_get_string (value, NULL);
  TetherItemKind item_kind;

  if (g_str_equal (kind, "all"))
    item_kind = TETHER_ITEM_KIND_ALL;
  else if (g_str_equal (kind, "notes"))
    item_kind = TETHER_ITEM_KIND_NOTES;
  else if (g_str_equal (kind, "tasks"))
    item_kind = TETHER_ITEM_KIND_TASKS;
  else
    return;
  g_simple_action_set_state (action, value);
  g_free (self->kind);
  self->kind = g_strdup (kind);
  tether_item_model_set_kind (self->model, item_kind);
  _tether_window_update_empty (self);
}

static void
tag_change_state (GSimpleAction *action,
                  GVariant      *value,
                  gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  const char *tag = g_variant_get_string (value, NULL);

  g_simple_action_set_state (action, value);
  g_free (self->tag);
  self->tag = *tag != '\0' ? g_strdup (tag) : NULL;
  gtk_label_set_text (self->tag_label, tag);
  gtk_widget_set_visible (GTK_WIDGET (self->tag_label), self->tag != NULL);
  tether_item_model_set_tag (self->model, self->tag);
  _tether_window_update_empty (self);
}

/* Tags in use, counted: the tag menu reads every record's tags once (a
 * record's JSON is parsed on first use, about a second for 100,000
 * notes), then follows each write; a write by another process, which
 * does not say what changed, makes it count again on the next opening. */
static void
count_tags (GHashTable   *counts,
            TetherRecord *record,
            int           delta)
{
  JsonNode *node = record != NULL ? tether_record_get_member (record, "tags") : NULL;
  JsonArray *array = node != NULL && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      const char *tag = json_array_get_string_element (array, i);
      int count;

      if (tag == NULL)
        continue;
      count = GPOINTER_TO_INT (g_hash_table_lookup (counts, tag)) + delta;
      if (count > 0)
        g_hash_table_insert (counts, g_strdup (tag), GINT_TO_POINTER (count));
      else
        g_hash_table_remove (counts, tag);
    }
}

static void
tags_written (TetherDatabase   *db,
              const char       *collection,
              TetherChangeType  type,
              const char       *id,
              TetherRecord     *old_record,
              TetherRecord     *new_record,
              TetherWindow     *self)
{
  if (!self->tags_counted)
    return;
  count_tags (self->tag_counts, old_record, -1);
  count_tags (self->tag_counts, new_record, +1);
}

static void
tags_written_elsewhere (TetherWindow *self)
{
  self->tags_counted = FALSE;
}

static void
count_all_tags (TetherWindow *self)
{
  static const char *names[] = { "notes", "tasks" };

  g_hash_table_remove_all (self->tag_counts);
  for (guint c = 0; c < G_N_ELEMENTS (names); c++)
    {
      TetherCollection *collection = tether_database_get_collection (self->db, names[c], NULL);
      g_autoptr(GPtrArray) records = collection != NULL ? tether_collection_get_all (collection, NULL) : NULL;

      for (guint i = 0; records != NULL && i < records->len; i++)
        count_tags (self->tag_counts, g_ptr_array_index (records, i), +1);
    }
  self->tags_counted = TRUE;
}

static int
compare_tags (gconstpointer a,
              gconstpointer b)
{
  return g_utf8_collate (*(const char **) a, *(const char **) b);
}

static void
append_choice (GMenu      *menu,
               const char *label,
               const char *action,
               const char *target)
{
  g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

  g_menu_item_set_action_and_target_value (item, action, g_variant_new_string (target));
  g_menu_append_item (menu, item);
}

static void
fill_tag_menu (GtkMenuButton *button,
                  gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);
  g_autofree gpointer *sorted = NULL;
  g_autoptr(GMenu) section = g_menu_new ();
  guint n;

  if (!self->tags_counted)
    count_all_tags (self);
  sorted = g_hash_table_get_keys_as_array (self->tag_counts, &n);
  qsort (sorted, n, sizeof (gpointer), compare_tags);

  g_menu_remove_all (self->tag_menu);
  append_choice (self->tag_menu, _("All Tags"), "win.tag", "");
  /* The tag filtered on stays choosable, even once nothing carries it. */
  if (self->tag != NULL && !g_hash_table_contains (self->tag_counts, self->tag))
    append_choice (section, self->tag, "win.tag", self->tag);
  for (guint i = 0; i < n; i++)
    append_choice (section, sorted[i], "win.tag", sorted[i]);
  if (n == 0 && self->tag == NULL)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (_("No tags yet"), "win.no-tags");

      g_menu_append_item (section, item);
    }
  g_menu_append_section (self->tag_menu, NULL, G_MENU_MODEL (section));
}

/* Sync ------------------------------------------------------------------------------ */

/* What went wrong, said so that the user knows what to do. */
static const char *
sync_error_message (const GError *error,
                    gboolean     *offer_preferences)
{
  *offer_preferences = TRUE;
  if (error->domain == TETHER_SYNC_ERROR)
    switch ((TetherSyncError) error->code)
      {
      case TETHER_SYNC_ERROR_NOT_CONFIGURED:
        return _("Sync is not set up. Add a server in Preferences.");
      case TETHER_SYNC_ERROR_NETWORK:
        return _("Could not reach the server. Check the address in Preferences.");
      case TETHER_SYNC_ERROR_UNAUTHORIZED:
        return _("The server refused the token. Enter a new one in Preferences.");
      case TETHER_SYNC_ERROR_PROTOCOL:
        return _("The address does not lead to a Tether server. Check it in Preferences.");
      default:
        break;
      }
  *offer_preferences = FALSE;
  if (error->domain == TETHER_SYNC_ERROR)
    switch ((TetherSyncError) error->code)
      {
      case TETHER_SYNC_ERROR_RATE_LIMITED:
        return _("The server is busy. Tether will try again in a moment.");
      case TETHER_SYNC_ERROR_SERVER:
        return _("The server ran into a problem. Tether will try again later.");
      case TETHER_SYNC_ERROR_SCHEMA:
        return _("The server keeps notes in another format. Update Tether or the server.");
      case TETHER_SYNC_ERROR_BUSY:
        return _("Another Tether program is syncing this database. Try again in a moment.");
      case TETHER_SYNC_ERROR_TOO_LARGE:
        return _("A change is too large for the server. Shorten the note and sync again.");
      case TETHER_SYNC_ERROR_CHANGED:
        /* the server or token was replaced mid-sync: the rest was not sent to the new one */
        return _("The server changed during the sync. Sync again to use the new one.");
      default:
        break;
      }
  return NULL;
}

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  g_autoptr(TetherWindow) self = data;
  TetherSyncReport report = { 0 };
  g_autoptr(GError) error = NULL;
  gboolean offer_preferences = FALSE;
  const char *message;

  if (!tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, &report, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  /* The window closed meanwhile. */
  if (self->db == NULL)
    return;
  if (error == NULL)
    {
      guint open = tether_sync_engine_get_conflict_count (TETHER_SYNC_ENGINE (source));

      if (open > 0)
        {
          g_autofree char *text = g_strdup_printf (ngettext ("%u conflict needs your decision",
                                                             "%u conflicts need your decision", open),
                                                   open);
          tether_window_toast (self, text, _("_Review"), "app.conflicts", NULL);
        }
      return;
    }
  message = sync_error_message (error, &offer_preferences);
  if (message == NULL)
    {
      g_autofree char *text = g_strdup_printf (_("Sync failed: %s"), error->message);

      tether_window_toast (self, text, NULL, NULL, NULL);
      return;
    }
  tether_window_toast (self, message,
                       offer_preferences ? _("_Preferences") : NULL,
                       offer_preferences ? "app.preferences" : NULL, NULL);
}

static void
sync_now_activated (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       data)
{
  TetherWindow *self = TETHER_WINDOW (data);

  /* Disabled then, but a sync started within this activation must not
   * come back as "busy", which blames another program. */
  if (tether_sync_engine_get_state (self->engine) == TETHER_SYNC_STATE_SYNCING)
    return;
  /* Edits waiting for the debounce belong in this sync. */
  _tether_window_save (self);
  tether_sync_engine_sync_async (self->engine, self->sync_cancellable, sync_done, g_object_ref (self));
}

/* While this process syncs (Sync Now or auto-sync) the status says so,
 * and another sync could only fail: TETHER_SYNC_ERROR_BUSY then stands
 * for another program's sync alone. */
static void
update_sync_now (TetherWindow *self)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), "sync-now");

  if (action != NULL && self->engine != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (action),
                                 tether_sync_engine_get_state (self->engine) != TETHER_SYNC_STATE_SYNCING);
}

/* Setup ----------------------------------------------------------------------------- */

static const GActionEntry entries[] = {
  { "new-note", new_note_activated },
  { "new-task", new_task_activated },
  { "search", search_activated },
  { "delete", delete_activated },
  { "undo-delete", undo_delete_activated },
  { "discard-changes", discard_changes_activated, "(ss)" },
  { "sync-now", sync_now_activated },
  { "kind", NULL, "s", "'all'", kind_change_state },
  { "tag", NULL, "s", "''", tag_change_state },
  { "toggle-done", toggle_done_activated, "s" },
};

void
_tether_window_update_actions (TetherWindow *self)
{
  GAction *delete = g_action_map_lookup_action (G_ACTION_MAP (self), "delete");
  GAction *undo = g_action_map_lookup_action (G_ACTION_MAP (self), "undo-delete");

  if (delete != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (delete), self->open_id != NULL);
  if (undo != NULL)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (undo), self->deleted_data != NULL);
}

void
_tether_window_add_actions (TetherWindow *self)
{
  g_autoptr(GPropertyAction) inspector = g_property_action_new ("inspector", self->flap, "reveal-flap");

  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (inspector));

  self->tag_menu = g_menu_new ();
  self->tag_counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_signal_connect (self->db, "changed", G_CALLBACK (tags_written), self);
  g_signal_connect_swapped (self->db, "external-change", G_CALLBACK (tags_written_elsewhere), self);
  gtk_menu_button_set_menu_model (self->tag_button, G_MENU_MODEL (self->tag_menu));
  gtk_menu_button_set_create_popup_func (self->tag_button, fill_tag_menu, self, NULL);
  g_signal_connect_swapped (self->engine, "notify::state", G_CALLBACK (update_sync_now), self);
  update_sync_now (self);
  _tether_window_update_actions (self);
}
