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

static void
restore (GtkWidget  *widget,
         const char *action,
         GVariant   *param)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = tether_sync_engine_restore_conflict (self->engine, tether_conflict_get_id (self->shown), &error);
  settled (self, ok, _("Restored the version that lost"), error);
}

void
_tether_conflict_inbox_install_actions (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "inbox.keep-mine", NULL, keep_mine);
  gtk_widget_class_install_action (widget_class, "inbox.keep-theirs", NULL, keep_theirs);
  gtk_widget_class_install_action (widget_class, "inbox.keep-selected", NULL, keep_selected);
  gtk_widget_class_install_action (widget_class, "inbox.restore", NULL, restore);
}
