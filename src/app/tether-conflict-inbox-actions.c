/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-conflict-inbox"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-conflict-inbox-private.h"
#include "tether-conflict-text.h"
#include "tether-window.h"

/* The conflict inbox's actions: keep a version (or the values chosen field
 * by field) of an open conflict, restore the version that lost of a
 * decided one. */

static void
settled (TetherConflictInbox *self,
         gboolean             ok,
         const char          *done,
         GError              *error)
{
  const char *message = ok ? done : error->message;

  /* The reload below shows the conflict as it is now. */
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_CHANGED))
    message = _("This conflict changed meanwhile: look at it again and choose");
  adw_toast_overlay_add_toast (self->toasts, tether_toast_new_plain (message));
  _tether_conflict_inbox_reload (self);
}

static void
resolve (TetherConflictInbox *self,
         JsonObject          *chosen,
         const char          *done)
{
  /* The call reloads the inbox when it announces a change: keep ours. */
  g_autoptr(TetherConflict) seen = g_object_ref (self->seen);
  g_autoptr(JsonObject) kept = chosen != NULL ? json_object_ref (chosen) : NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = tether_sync_engine_resolve_conflict (self->engine, seen, kept, &error);
  settled (self, ok, done, error);
}

static void
keep_mine (GtkWidget  *widget,
           const char *action,
           GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);

  resolve (self, tether_conflict_get_local (self->seen), _("Kept your version"));
}

static void
keep_theirs (GtkWidget  *widget,
             const char *action,
             GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);

  resolve (self, tether_conflict_get_remote (self->seen), _("Kept the server’s version"));
}

static void
keep_selected (GtkWidget  *widget,
               const char *action,
               GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);
  JsonObject *local = tether_conflict_get_local (self->seen);
  JsonObject *remote = tether_conflict_get_remote (self->seen);
  g_autoptr(JsonObject) chosen = json_object_new ();
  g_autoptr(GPtrArray) fields = _tether_conflict_list_fields (self->seen);

  /* Field by field; a field absent on the chosen side stays absent. */
  for (guint i = 0; i < fields->len; i++)
    {
      const char *field = fields->pdata[i];
      GtkCheckButton *mine = g_hash_table_lookup (self->choices, field);
      JsonObject *side = mine == NULL || gtk_check_button_get_active (mine) ? local : remote;
      JsonNode *value = _tether_conflict_member (side, field);

      if (value != NULL)
        json_object_set_member (chosen, field, json_node_copy (value));
    }
  resolve (self, chosen, _("Kept the chosen values"));
}

/* The entry in which the engine kept what restoring @conflict_id
 * replaced; NULL when it replaced nothing. */
static TetherConflict *
replaced_entry (TetherConflictInbox *self,
                const char          *conflict_id)
{
  g_autoptr(TetherConflict) restored = tether_sync_engine_get_conflict (self->engine, conflict_id, NULL);
  GListModel *model = G_LIST_MODEL (self->conflicts);

  for (guint i = 0; restored != NULL && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherConflict) entry = g_list_model_get_item (model, i);

      if (_tether_conflict_replaced_by (entry, restored))
        return g_steal_pointer (&entry);
    }
  return NULL;
}

/* Restores, and offers to undo it by restoring what it replaced. */
static void
restore_now (TetherConflictInbox *self,
             const char          *conflict_id,
             const char          *done)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherConflict) replaced = NULL;
  AdwToast *toast;

  if (!tether_sync_engine_restore_conflict (self->engine, conflict_id, &error))
    {
      settled (self, FALSE, NULL, error);
      return;
    }
  _tether_conflict_inbox_reload (self);
  toast = tether_toast_new_plain (done);
  if ((replaced = replaced_entry (self, conflict_id)) != NULL)
    {
      adw_toast_set_button_label (toast, _("_Undo"));
      adw_toast_set_action_name (toast, "inbox.undo-restore");
      adw_toast_set_action_target_value (toast, g_variant_new_string (tether_conflict_get_id (replaced)));
    }
  adw_toast_overlay_add_toast (self->toasts, toast);
}

static void
on_restore_response (AdwMessageDialog    *dialog,
                     const char          *response,
                     TetherConflictInbox *self)
{
  if (g_str_equal (response, "restore"))
    restore_now (self, g_object_get_data (G_OBJECT (dialog), "conflict-id"), _("Restored the version that lost"));
}

/* A restore writes over the record as it is now (or deletes it): ask
 * first, and say what happens to the current version. */
static void
restore (GtkWidget  *widget,
         const char *action,
         GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);
  g_autofree char *body = _tether_conflict_restore_text (self->shown);
  GtkWidget *dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Restore the Version That Lost?"), body);

  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "restore", _("_Restore"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "restore", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  /* The conflict asked about, whatever the inbox shows by the answer. */
  g_object_set_data_full (G_OBJECT (dialog), "conflict-id", g_strdup (tether_conflict_get_id (self->shown)), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_restore_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The toast's Undo: restoring the entry that holds what the restore
 * replaced (which keeps what this replaces in turn). */
static void
undo_restore (GtkWidget  *widget,
              const char *action,
              GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);

  restore_now (self, g_variant_get_string (param, NULL), _("Undid the restore"));
}

void
_tether_conflict_inbox_install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "inbox.keep-mine", NULL, keep_mine);
  gtk_widget_class_install_action (widget_class, "inbox.keep-theirs", NULL, keep_theirs);
  gtk_widget_class_install_action (widget_class, "inbox.keep-selected", NULL, keep_selected);
  gtk_widget_class_install_action (widget_class, "inbox.restore", NULL, restore);
  gtk_widget_class_install_action (widget_class, "inbox.undo-restore", "s", undo_restore);
}
