/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-status"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-sync-status.h"

#define MS_PER_MINUTE (60 * 1000)

struct _TetherSyncStatus
{
  GtkWidget         parent_instance;

  TetherSyncEngine *engine;
  char             *text;
  guint             minute_timer;

  GtkMenuButton    *button;
  GtkImage         *icon;
  GtkLabel         *label;
  GtkPopover       *popover;
  GtkLabel         *title_label;
  GtkLabel         *description_label;
  GtkLabel         *last_sync_value;
  GtkLabel         *pending_value;
  GtkLabel         *failed_value;
  GtkLabel         *error_label;
  GtkWidget        *details;
  GtkWidget        *sync_button;
  GtkWidget        *preferences_button;
  GtkWidget        *conflicts_button;
};

G_DEFINE_FINAL_TYPE (TetherSyncStatus, tether_sync_status, GTK_TYPE_WIDGET)

/* What the header bar and the popover say for one state of the engine. */
typedef struct {
  const char *icon;
  char       *label;        /* the short text in the header bar */
  const char *title;        /* the popover's heading */
  const char *description;  /* what it means, and what to do */
} View;

static char *
synced_ago (gint64 last_sync_at)
{
  gint64 minutes = MAX (0, g_get_real_time () / 1000 - last_sync_at) / MS_PER_MINUTE;
  gulong n;

  if (minutes < 1)
    return g_strdup (_("Synced just now"));
  if (minutes < 60)
    {
      n = (gulong) minutes;
      return g_strdup_printf (ngettext ("Synced %lu min ago", "Synced %lu min ago", n), n);
    }
  if (minutes < 24 * 60)
    {
      n = (gulong) (minutes / 60);
      return g_strdup_printf (ngettext ("Synced %lu hour ago", "Synced %lu hours ago", n), n);
    }
  n = (gulong) (minutes / (24 * 60));
  return g_strdup_printf (ngettext ("Synced %lu day ago", "Synced %lu days ago", n), n);
}

static View
idle_view (TetherSyncStatus *self)
{
  guint pending = tether_sync_engine_get_pending_count (self->engine);
  guint failed = tether_sync_engine_get_failed_count (self->engine);
  guint conflicts = tether_sync_engine_get_conflict_count (self->engine);
  gint64 last = tether_sync_engine_get_last_sync_at (self->engine);

  /* Under "Ask me", nothing else brings these up: they come first. */
  if (conflicts > 0)
    return (View) { "dialog-warning-symbolic",
                    g_strdup_printf (ngettext ("%u conflict", "%u conflicts", conflicts), conflicts),
                    ngettext ("A conflict needs your decision", "Conflicts need your decision", conflicts),
                    _("Changes made here and on another device clash. Choose what to keep in the conflict inbox.") };
  if (pending > 0)
    return (View) { "emblem-synchronizing-symbolic",
                    g_strdup_printf (ngettext ("%u pending", "%u pending", pending), pending),
                    _("Changes to send"),
                    _("Your latest changes are saved here and go to the server with the next sync.") };
  if (failed > 0)
    return (View) { "dialog-warning-symbolic",
                    g_strdup_printf (ngettext ("%u not synced", "%u not synced", failed), failed),
                    _("Some changes were refused"),
                    _("The server refused some changes. The sync inspector shows why and can retry them.") };
  if (last == 0)
    return (View) { "emblem-synchronizing-symbolic", g_strdup (_("Not synced yet")),
                    _("Not synced yet"),
                    _("The first sync sends your notes and tasks to the server.") };
  return (View) { "emblem-ok-symbolic", synced_ago (last), _("Up to date"),
                  _("Everything you wrote is on the server.") };
}

static View
current_view (TetherSyncStatus *self)
{
  if (self->engine == NULL || tether_sync_engine_get_transport (self->engine) == NULL)
    return (View) { "computer-symbolic", g_strdup (_("Not syncing")), _("Not syncing"),
                    _("Your notes stay on this computer. Add a server in the preferences to sync them.") };

  switch (tether_sync_engine_get_state (self->engine))
    {
    case TETHER_SYNC_STATE_SYNCING:
      return (View) { "emblem-synchronizing-symbolic", g_strdup (_("Syncing…")), _("Syncing…"),
                      _("Sending your changes and receiving the server’s.") };
    case TETHER_SYNC_STATE_OFFLINE:
      return (View) { "network-offline-symbolic", g_strdup (_("Offline")), _("Offline"),
                      _("The server cannot be reached. Your changes are kept and sent when it is back.") };
    case TETHER_SYNC_STATE_AUTH_REQUIRED:
      return (View) { "dialog-password-symbolic", g_strdup (_("Sign in needed")), _("Sign in needed"),
                      _("The server refused the token. Enter a new one in the preferences.") };
    case TETHER_SYNC_STATE_ERROR:
      return (View) { "dialog-warning-symbolic", g_strdup (_("Sync error")), _("Sync error"),
                      _("The last sync failed. Your changes are kept; the reason is below.") };
    case TETHER_SYNC_STATE_IDLE:
    default:
      return idle_view (self);
    }
}

static char *
format_last_sync (gint64 last_sync_at)
{
  g_autoptr(GDateTime) when = NULL;

  if (last_sync_at <= 0)
    return g_strdup (_("Never"));
  when = g_date_time_new_from_unix_local (last_sync_at / 1000);
  /* Translators: the date and time of the last sync, a g_date_time_format() format. */
  /* xgettext:no-c-format */
  return g_date_time_format (when, _("%b %-d, %H:%M"));
}

/* The engine's messages start in lower case ("the server at … refused"). */
static char *
capitalized (const char *text)
{
  g_autofree char *first = NULL;
  const char *rest;

  if (text == NULL || *text == '\0')
    return g_strdup ("");
  rest = g_utf8_next_char (text);
  first = g_utf8_strup (text, rest - text);
  return g_strconcat (first, rest, NULL);
}

static void
render_details (TetherSyncStatus *self)
{
  g_autofree char *last = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *failed = NULL;
  const char *error = NULL;
  g_autofree char *sentence = NULL;

  last = format_last_sync (self->engine ? tether_sync_engine_get_last_sync_at (self->engine) : 0);
  pending = g_strdup_printf ("%u", self->engine ? tether_sync_engine_get_pending_count (self->engine) : 0);
  failed = g_strdup_printf ("%u", self->engine ? tether_sync_engine_get_failed_count (self->engine) : 0);
  if (self->engine != NULL && tether_sync_engine_get_state (self->engine) != TETHER_SYNC_STATE_IDLE &&
      tether_sync_engine_get_state (self->engine) != TETHER_SYNC_STATE_SYNCING)
    error = tether_sync_engine_get_last_error (self->engine);
  sentence = capitalized (error);

  gtk_label_set_label (self->last_sync_value, last);
  gtk_label_set_label (self->pending_value, pending);
  gtk_label_set_label (self->failed_value, failed);
  gtk_label_set_label (self->error_label, sentence);
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), *sentence != '\0');
}

/* Without a server there is nothing to show or sync; without a valid token
 * the way out is the preferences. */
static void
render_buttons (TetherSyncStatus *self)
{
  gboolean remote = self->engine != NULL && tether_sync_engine_get_transport (self->engine) != NULL;
  gboolean needs_preferences = !remote ||
                               tether_sync_engine_get_state (self->engine) == TETHER_SYNC_STATE_AUTH_REQUIRED;
  gboolean conflicts = self->engine != NULL && tether_sync_engine_get_conflict_count (self->engine) > 0;
  GtkWidget *suggested = needs_preferences ? self->preferences_button
                       : conflicts ? self->conflicts_button
                       : self->sync_button;
  GtkWidget *buttons[] = { self->preferences_button, self->sync_button, self->conflicts_button };

  gtk_widget_set_visible (self->details, remote);
  gtk_widget_set_visible (self->sync_button, remote);
  gtk_widget_set_visible (self->conflicts_button, conflicts);
  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++)
    if (buttons[i] == suggested)
      gtk_widget_add_css_class (buttons[i], "suggested-action");
    else
      gtk_widget_remove_css_class (buttons[i], "suggested-action");
}

static void
render (TetherSyncStatus *self)
{
  View view = current_view (self);
  g_autofree char *accessible = NULL;

  g_free (self->text);
  self->text = view.label;
  gtk_image_set_from_icon_name (self->icon, view.icon);
  gtk_label_set_label (self->label, self->text);
  gtk_label_set_label (self->title_label, view.title);
  gtk_label_set_label (self->description_label, view.description);
  render_details (self);
  render_buttons (self);

  /* Translators: the accessible name of the sync status button, e.g. "Sync status: 3 pending". */
  accessible = g_strdup_printf (_("Sync status: %s"), self->text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

/* Re-renders the relative time ("Synced 2 min ago"); the engine's state
 * itself arrives by notifications. */
static gboolean
minute_passed (gpointer user_data)
{
  render (TETHER_SYNC_STATUS (user_data));
  return G_SOURCE_CONTINUE;
}

static void
tether_sync_status_map (GtkWidget *widget)
{
  TetherSyncStatus *self = TETHER_SYNC_STATUS (widget);

  GTK_WIDGET_CLASS (tether_sync_status_parent_class)->map (widget);
  render (self);
  if (self->minute_timer == 0)
    self->minute_timer = g_timeout_add_seconds (60, minute_passed, self);
}

static void
tether_sync_status_unmap (GtkWidget *widget)
{
  TetherSyncStatus *self = TETHER_SYNC_STATUS (widget);

  g_clear_handle_id (&self->minute_timer, g_source_remove);
  GTK_WIDGET_CLASS (tether_sync_status_parent_class)->unmap (widget);
}

static void
tether_sync_status_dispose (GObject *object)
{
  TetherSyncStatus *self = TETHER_SYNC_STATUS (object);

  g_clear_handle_id (&self->minute_timer, g_source_remove);
  tether_sync_status_set_engine (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_SYNC_STATUS);
  G_OBJECT_CLASS (tether_sync_status_parent_class)->dispose (object);
}

static void
tether_sync_status_finalize (GObject *object)
{
  TetherSyncStatus *self = TETHER_SYNC_STATUS (object);

  g_free (self->text);
  G_OBJECT_CLASS (tether_sync_status_parent_class)->finalize (object);
}

static void
tether_sync_status_class_init (TetherSyncStatusClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_sync_status_dispose;
  object_class->finalize = tether_sync_status_finalize;
  widget_class->map = tether_sync_status_map;
  widget_class->unmap = tether_sync_status_unmap;

  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-sync-status.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, button);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, icon);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, label);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, popover);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, title_label);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, description_label);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, last_sync_value);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, pending_value);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, failed_value);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, error_label);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, details);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, sync_button);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, preferences_button);
  gtk_widget_class_bind_template_child (widget_class, TetherSyncStatus, conflicts_button);
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tethersyncstatus");
}

static void
tether_sync_status_init (TetherSyncStatus *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  render (self);
}

GtkWidget *
tether_sync_status_new (void)
{
  return g_object_new (TETHER_TYPE_SYNC_STATUS, NULL);
}

static void
engine_changed (TetherSyncStatus *self)
{
  render (self);
}

void
tether_sync_status_set_engine (TetherSyncStatus *self,
                               TetherSyncEngine *engine)
{
  static const char * const notifications[] = {
    "notify::state", "notify::pending-count", "notify::failed-count",
    "notify::last-sync-at", "notify::last-error", "notify::transport",
    "notify::conflict-count",
  };

  g_return_if_fail (TETHER_IS_SYNC_STATUS (self));
  g_return_if_fail (engine == NULL || TETHER_IS_SYNC_ENGINE (engine));

  if (self->engine == engine)
    return;
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_func (self->engine, engine_changed, self);
  g_set_object (&self->engine, engine);
  if (engine != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (notifications); i++)
      g_signal_connect_object (engine, notifications[i], G_CALLBACK (engine_changed),
                               self, G_CONNECT_SWAPPED);
  render (self);
}

const char *
tether_sync_status_get_text (TetherSyncStatus *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_STATUS (self), NULL);

  return self->text;
}
