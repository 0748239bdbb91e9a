/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-window"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-window-private.h"

/* Leaving the open record (docs/app.md, "Edits that cannot be saved"):
 * while its edit cannot be stored, switching or creating is refused with
 * a toast, and closing or quitting asks first. */

/* Why a save failed, short enough for a toast; the editor shows the
 * database's own message in full. */
static const char *
save_error_reason (const GError *error)
{
  if (error->domain == TETHER_DATABASE_ERROR)
    switch ((TetherDatabaseError) error->code)
      {
      case TETHER_DATABASE_ERROR_TOO_LARGE:
        return _("it is over the 1 MiB a note or task may take");
      case TETHER_DATABASE_ERROR_BUSY:
        return _("another program is writing to the database");
      case TETHER_DATABASE_ERROR_READ_ONLY:
        return _("the database cannot be written");
      case TETHER_DATABASE_ERROR_IO:
        return _("the disk is full or failing");
      case TETHER_DATABASE_ERROR_NOT_FOUND:
        return _("it was deleted elsewhere");
      default:
        break;
      }
  return error->message;
}

/* The title of the open record, for messages about it; as last stored
 * when it was deleted elsewhere. */
static char *
open_title (TetherWindow *self)
{
  TetherRecord *record = tether_editor_get_record (self->editor);
  const char *title = record != NULL ? tether_record_get_string (record, "title", "") : "";

  return g_strdup (*title != '\0' ? title : _("Untitled"));
}

static void
refusal_dismissed (AdwToast     *toast,
                   TetherWindow *self)
{
  if (toast == self->refusal_toast)
    g_clear_object (&self->refusal_toast);
}

void
_tether_window_dismiss_refusal (TetherWindow *self)
{
  g_autoptr(AdwToast) toast = g_steal_pointer (&self->refusal_toast);

  if (toast == NULL)
    return;
  g_signal_handlers_disconnect_by_data (toast, self);
  adw_toast_dismiss (toast);
}

/* The open record could not be saved, so it stays open: say why. */
void
_tether_window_refuse_to_leave (TetherWindow *self,
                                const GError *error)
{
  g_autofree char *title = open_title (self);
  /* Translators: %s is a title, then why it could not be saved */
  g_autofree char *plain = g_strdup_printf (_("“%s” is not saved: %s"), title, save_error_reason (error));
  /* a toast title is Pango markup in libadwaita 1.2: "Q&A" would show nothing */
  g_autofree char *text = g_markup_escape_text (plain, -1);
  g_autoptr(GVariant) target = g_variant_ref_sink (g_variant_new ("(ss)", self->open_collection, self->open_id));
  AdwToast *toast;

  /* One at a time, however often the user clicks: a double click or
   * Enter on a row tries twice. */
  if (self->refusal_toast != NULL && g_str_equal (adw_toast_get_title (self->refusal_toast), text) &&
      g_variant_equal (adw_toast_get_action_target_value (self->refusal_toast), target))
    return;
  _tether_window_dismiss_refusal (self);
  /* Held until it is dismissed: a replaced toast lingers in the overlay
   * for its animation, and must not clear the field after that. */
  toast = adw_toast_new (text);
  self->refusal_toast = g_object_ref (toast);
  adw_toast_set_button_label (toast, _("_Discard Changes"));
  /* The changes of this record: another may be open when it is clicked. */
  adw_toast_set_action_name (toast, "win.discard-changes");
  adw_toast_set_action_target_value (toast, target);
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_timeout (toast, 10);
  g_signal_connect (toast, "dismissed", G_CALLBACK (refusal_dismissed), self);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

gboolean
_tether_window_can_leave (TetherWindow *self)
{
  g_autoptr(GError) error = NULL;

  if (tether_editor_save_now (self->editor, &error))
    return TRUE;
  _tether_window_refuse_to_leave (self, error);
  return FALSE;
}

static gboolean
discard_and_close (gpointer data)
{
  TetherWindow *self = data;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  gboolean quit = self->quit_after_close && app != NULL;

  self->quit_after_close = FALSE;
  tether_editor_discard_changes (self->editor);
  if (quit)
    g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  else
    gtk_window_close (GTK_WINDOW (self));
  return G_SOURCE_REMOVE;
}

static void
close_dialog_response (AdwMessageDialog *dialog,
                       const char       *response,
                       TetherWindow     *self)
{
  if (!g_str_equal (response, "discard"))
    {
      self->quit_after_close = FALSE;
      return;
    }
  /* Once the dialog is gone: it goes with the window it belongs to. */
  g_idle_add_full (G_PRIORITY_DEFAULT, discard_and_close, g_object_ref (self), g_object_unref);
}

/* The open record cannot be saved: closing would lose the edit, so ask. */
void
_tether_window_ask_before_closing (TetherWindow *self,
                                   const GError *error)
{
  g_autofree char *title = open_title (self);
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (self->close_dialog != NULL)
    {
      gtk_window_present (self->close_dialog);
      return;
    }
  /* Translators: the first %s is a title, the second why it could not be saved */
  body = g_strdup_printf (_("Your changes to “%s” could not be saved: %s. Closing now loses them."),
                          title, save_error_reason (error));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Discard Unsaved Changes?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Editing"),
                                    "discard", _("_Discard Changes and Close"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "discard",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_signal_connect_object (dialog, "response", G_CALLBACK (close_dialog_response), self, 0);
  self->close_dialog = GTK_WINDOW (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->close_dialog);
  gtk_window_present (self->close_dialog);
}
