/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-preferences"
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "tether-preferences.h"
#include "tether-secret.h"

#define TEST_TIMEOUT_S 15

/* The interval choices, in seconds, in the order of the .ui's list. */
static const guint intervals[] = { 60, 5 * 60, 15 * 60, 60 * 60 };
/* The conflict-strategy nicks, in the order of the .ui's list. */
static const char * const strategies[] = { "merge", "lww", "client-wins", "server-wins", "manual" };

struct _TetherPreferences
{
  AdwPreferencesWindow  parent_instance;

  TetherApplication    *app;
  GSettings            *settings;
  GCancellable         *lookup;   /* the keyring lookup behind "Stored in the keyring" */
  GCancellable         *test;     /* the connection test running */
  char                 *test_url;
  gboolean              close_refused;  /* the next close goes through */

  AdwEntryRow          *url_row;
  AdwEntryRow          *token_row;
  GtkLabel             *token_state;
  GtkWidget            *forget_button;
  AdwActionRow         *test_row;
  GtkImage             *test_icon;
  GtkSpinner           *test_spinner;
  GtkWidget            *test_button;
  GtkLabel             *server_message;
  GtkWidget            *http_warning;
  GtkSwitch            *auto_sync_switch;
  AdwComboRow          *interval_row;
  AdwComboRow          *strategy_row;
};

G_DEFINE_FINAL_TYPE (TetherPreferences, tether_preferences, ADW_TYPE_PREFERENCES_WINDOW)

static gboolean
disposed (TetherPreferences *self)
{
  return self->url_row == NULL;
}

/* --------------------------------------------------------------- messages */

static void
show_message (TetherPreferences *self,
              const char        *message)
{
  gtk_label_set_label (self->server_message, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->server_message), message != NULL);
}

static void
set_token_stored (TetherPreferences *self,
                  gboolean           stored)
{
  gtk_label_set_label (self->token_state, stored ? _("Stored in the keyring") : "");
  gtk_widget_set_visible (GTK_WIDGET (self->token_state), stored);
  gtk_widget_set_visible (self->forget_button, stored);
}

/* A keyring failure says what to do in the group and stays until the next
 * keyring operation works. */
static void
show_keyring_error (TetherPreferences *self,
                    const GError      *error)
{
  gtk_label_set_label (self->token_state, _("Keyring unavailable"));
  gtk_widget_set_visible (GTK_WIDGET (self->token_state), TRUE);
  show_message (self, error->message);
}

/* Hide the apply button after applying from code (focus leaving the row):
 * AdwEntryRow only hides it itself when the button or Enter applies. */
static void
settle_row (AdwEntryRow *row)
{
  adw_entry_row_set_show_apply_button (row, FALSE);
  adw_entry_row_set_show_apply_button (row, TRUE);
}

/* ---------------------------------------------------------------- the URL */

/* The address as the settings keep it ("" for none), or NULL with a
 * message when it is not an http(s) address with a host. */
static char *
parse_url (const char  *text,
           char       **message)
{
  g_autofree char *typed = g_strstrip (g_strdup (text));
  g_autofree char *url = g_strdup (typed);
  g_autoptr(GUri) uri = NULL;
  gsize len = strlen (url);
  const char *scheme;

  while (len > 0 && url[len - 1] == '/')
    url[--len] = '\0';
  if (len == 0)
    return g_steal_pointer (&url);
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  scheme = uri ? g_uri_get_scheme (uri) : NULL;
  if ((g_strcmp0 (scheme, "http") == 0 || g_strcmp0 (scheme, "https") == 0) &&
      g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0')
    return g_steal_pointer (&url);
  *message = g_strdup_printf (_("“%s” is not a server address. Enter one that starts with "
                                "http:// or https://, like https://example.org/sync."), typed);
  return NULL;
}

/* A host on this computer: what goes to it never crosses a network. */
static gboolean
is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);

  if (address != NULL)
    return g_inet_address_get_is_loopback (address);
  return g_ascii_strcasecmp (host, "localhost") == 0 ||
         g_str_has_suffix (host, ".localhost");   /* RFC 6761 */
}

/* http:// to another computer sends the bearer token and every record as
 * they are. Allowed (a server on a trusted network), but said, as typed. */
static void
url_changed (TetherPreferences *self)
{
  g_autofree char *typed = NULL;
  g_autoptr(GUri) uri = NULL;
  const char *host;

  if (disposed (self) || self->http_warning == NULL)
    return;
  typed = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->url_row))));
  uri = g_uri_parse (typed, G_URI_FLAGS_NONE, NULL);
  host = uri != NULL ? g_uri_get_host (uri) : NULL;
  gtk_widget_set_visible (self->http_warning,
                          uri != NULL && g_ascii_strcasecmp (g_uri_get_scheme (uri), "http") == 0 &&
                          host != NULL && *host != '\0' && !is_loopback (host));
}

static void token_looked_up (GObject *source, GAsyncResult *result, gpointer user_data);
static void store_token (TetherPreferences *self, const char *url, const char *token);

static void
refresh_token_state (TetherPreferences *self,
                     const char        *url)
{
  /* An answer for the address before this one must not count. */
  g_cancellable_cancel (self->lookup);
  g_set_object (&self->lookup, g_cancellable_new ());
  set_token_stored (self, FALSE);
  if (*url != '\0')
    tether_secret_lookup_async (url, self->lookup, token_looked_up, g_object_ref (self));
}

/* FALSE, with the reason shown, when the typed address is refused. */
static gboolean
apply_url (TetherPreferences *self)
{
  g_autofree char *message = NULL;
  g_autofree char *url = parse_url (gtk_editable_get_text (GTK_EDITABLE (self->url_row)), &message);
  g_autofree char *current = g_settings_get_string (self->settings, "server-url");
  const char *typed_token = gtk_editable_get_text (GTK_EDITABLE (self->token_row));

  if (url == NULL)
    {
      gtk_widget_add_css_class (GTK_WIDGET (self->url_row), "error");
      show_message (self, message);
      return FALSE;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->url_row), "error");
  show_message (self, NULL);
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->url_row)), url) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->url_row), url);
  if (g_str_equal (url, current))
    return TRUE;

  g_settings_set_string (self->settings, "server-url", url);
  /* A token typed before the address belongs to this address. */
  if (*url != '\0' && *typed_token != '\0')
    {
      store_token (self, url, typed_token);
      return TRUE;
    }
  refresh_token_state (self, url);
  tether_application_reload_remote (self->app);
  return TRUE;
}

static void
url_applied (TetherPreferences *self)
{
  apply_url (self);
  /* Writing back the tidied address counts as an edit for the row. */
  settle_row (self->url_row);
}

/* The address typed and not applied yet, applied; FALSE if refused. */
static gboolean
apply_typed_url (TetherPreferences *self)
{
  g_autofree char *current = g_settings_get_string (self->settings, "server-url");
  gboolean applied;

  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->url_row)), current) == 0)
    return TRUE;
  applied = apply_url (self);
  settle_row (self->url_row);
  return applied;
}

static void
url_left (TetherPreferences *self)
{
  /* Focus also leaves while the window is being destroyed. */
  if (!disposed (self))
    apply_typed_url (self);
}

/* -------------------------------------------------------------- the token */

static void
token_looked_up (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(TetherPreferences) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = tether_secret_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  if (error != NULL)
    show_keyring_error (self, error);
  else
    set_token_stored (self, token != NULL);
}

static void
token_saved (TetherPreferences *self,
             GAsyncResult      *result,
             gboolean           cleared)
{
  g_autoptr(GError) error = NULL;
  gboolean saved = tether_secret_store_finish (result, &error);

  g_application_release (G_APPLICATION (self->app));

  /* The engine takes the new token even when the window is already gone;
   * without it, still the address saved before it (apply_url()). */
  tether_application_reload_remote (self->app);
  if (!saved)
    {
      if (!disposed (self))
        show_keyring_error (self, error);
      return;
    }
  if (disposed (self))
    return;
  show_message (self, NULL);
  set_token_stored (self, !cleared);
  if (!cleared)
    gtk_editable_set_text (GTK_EDITABLE (self->token_row), "");
}

static void
token_stored (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(TetherPreferences) self = user_data;

  token_saved (self, result, FALSE);
}

static void
token_forgotten (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(TetherPreferences) self = user_data;

  token_saved (self, result, TRUE);
}

/* Not cancelled with the window: closing it right after typing a token must
 * still keep the token. Quitting too: the application is held until the
 * keyring has answered (the quit action then lets it end by itself). */
static void
write_keyring (TetherPreferences   *self,
               const char          *url,
               const char          *token,
               GAsyncReadyCallback  callback)
{
  g_application_hold (G_APPLICATION (self->app));
  tether_secret_store_async (url, token, NULL, callback, g_object_ref (self));
}

static void
store_token (TetherPreferences *self,
             const char        *url,
             const char        *token)
{
  write_keyring (self, url, token, token_stored);
}

/* FALSE, with the reason shown, when there is no address to store the
 * typed token for. */
static gboolean
apply_token (TetherPreferences *self)
{
  g_autofree char *url = g_settings_get_string (self->settings, "server-url");
  const char *token = gtk_editable_get_text (GTK_EDITABLE (self->token_row));

  if (*token == '\0')
    return TRUE;
  if (*url == '\0')
    {
      /* Kept in the entry: applying the address stores it. */
      show_message (self, _("Enter the server address first: the token is stored for that server."));
      return FALSE;
    }
  store_token (self, url, token);
  return TRUE;
}

static void
token_applied (TetherPreferences *self)
{
  apply_token (self);
}

static gboolean
apply_typed_token (TetherPreferences *self)
{
  gboolean applied;

  if (*gtk_editable_get_text (GTK_EDITABLE (self->token_row)) == '\0')
    return TRUE;
  applied = apply_token (self);
  settle_row (self->token_row);
  return applied;
}

static void
token_left (TetherPreferences *self)
{
  if (!disposed (self))
    apply_typed_token (self);
}

static void
forget_clicked (TetherPreferences *self)
{
  g_autofree char *url = g_settings_get_string (self->settings, "server-url");

  if (*url == '\0')
    return;
  write_keyring (self, url, NULL, token_forgotten);
}

/* ---------------------------------------------------- the connection test */

static void
show_test_result (TetherPreferences *self,
                  const char        *text,
                  gboolean           ok)
{
  gtk_spinner_stop (self->test_spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), FALSE);
  gtk_widget_set_sensitive (self->test_button, TRUE);
  adw_action_row_set_subtitle (self->test_row, text);
  gtk_image_set_from_icon_name (self->test_icon, ok ? "emblem-ok-symbolic" : "dialog-error-symbolic");
  gtk_widget_remove_css_class (GTK_WIDGET (self->test_icon), ok ? "error" : "success");
  gtk_widget_add_css_class (GTK_WIDGET (self->test_icon), ok ? "success" : "error");
}

static char *
describe_failure (const GError *error,
                  gboolean      had_token)
{
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK))
    return g_strdup_printf (_("Could not reach the server: %s"), error->message);
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_UNAUTHORIZED))
    return g_strdup (had_token ? _("The server refused the token")
                               : _("The server needs a token: enter the one you were given"));
  if (g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_PROTOCOL) ||
      g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_REJECTED))
    return g_strdup (_("This address is not a Tether server"));
  return g_strdup_printf (_("The server could not answer: %s"), error->message);
}

static void
test_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(TetherPreferences) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) info = tether_transport_info_finish (TETHER_TRANSPORT (source), result, &error);
  gboolean had_token = GPOINTER_TO_INT (g_object_get_data (source, "tether-had-token"));
  g_autofree char *text = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  if (info == NULL)
    {
      text = describe_failure (error, had_token);
      show_test_result (self, text, FALSE);
      return;
    }
  /* Translators: e.g. "Connected to tether-server (protocol 1)". */
  text = g_strdup_printf (_("Connected to %s (protocol %d)"),
                          json_object_get_string_member_with_default (info, "server", "tether-server"),
                          (int) json_object_get_int_member_with_default (info, "protocol", 1));
  show_test_result (self, text, TRUE);
}

static void
start_test (TetherPreferences *self,
            const char        *url,
            const char        *token)
{
  g_autoptr(TetherHttpTransport) transport = tether_http_transport_new (url, token);

  tether_http_transport_set_timeout (transport, TEST_TIMEOUT_S);
  g_object_set_data (G_OBJECT (transport), "tether-had-token",
                     GINT_TO_POINTER (token != NULL && *token != '\0'));
  tether_transport_info_async (TETHER_TRANSPORT (transport), self->test,
                               test_done, g_object_ref (self));
}

static void
test_token_looked_up (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(TetherPreferences) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = tether_secret_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || disposed (self))
    return;
  if (error != NULL)
    show_test_result (self, error->message, FALSE);
  else
    start_test (self, self->test_url, token);
}

static void
test_clicked (TetherPreferences *self)
{
  g_autofree char *message = NULL;
  g_autofree char *url = parse_url (gtk_editable_get_text (GTK_EDITABLE (self->url_row)), &message);
  const char *typed_token = gtk_editable_get_text (GTK_EDITABLE (self->token_row));

  if (url == NULL || *url == '\0')
    {
      show_test_result (self, message ? message : _("Enter the server address first"), FALSE);
      return;
    }
  g_cancellable_cancel (self->test);
  g_set_object (&self->test, g_cancellable_new ());
  g_free (self->test_url);
  self->test_url = g_strdup (url);
  adw_action_row_set_subtitle (self->test_row, _("Testing…"));
  gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), TRUE);
  gtk_spinner_start (self->test_spinner);
  gtk_widget_set_sensitive (self->test_button, FALSE);
  /* The typed token is what the user wants to try, stored or not. */
  if (*typed_token != '\0')
    start_test (self, url, typed_token);
  else
    tether_secret_lookup_async (url, self->test, test_token_looked_up, g_object_ref (self));
}

/* ----------------------------------------------------- automatic settings */

static gboolean
interval_to_selected (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  guint seconds = g_variant_get_uint32 (variant);
  guint best = 0;

  for (guint i = 1; i < G_N_ELEMENTS (intervals); i++)
    if (ABS ((gint64) intervals[i] - seconds) < ABS ((gint64) intervals[best] - seconds))
      best = i;
  g_value_set_uint (value, best);
  return TRUE;
}

static GVariant *
selected_to_interval (const GValue       *value,
                      const GVariantType *type,
                      gpointer            user_data)
{
  guint selected = MIN (g_value_get_uint (value), G_N_ELEMENTS (intervals) - 1);

  return g_variant_new_uint32 (intervals[selected]);
}

static gboolean
strategy_to_selected (GValue   *value,
                      GVariant *variant,
                      gpointer  user_data)
{
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (strategies); i++)
    if (g_str_equal (nick, strategies[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  g_value_set_uint (value, 0);
  return TRUE;
}

static GVariant *
selected_to_strategy (const GValue       *value,
                      const GVariantType *type,
                      gpointer            user_data)
{
  guint selected = MIN (g_value_get_uint (value), G_N_ELEMENTS (strategies) - 1);

  return g_variant_new_string (strategies[selected]);
}

/* With no address here the app syncs with the remote stored in the
 * database by `tether remote set` (tether_application_reload_remote()):
 * the group says which server, not "on this computer only". Its token
 * stays in the database, never shown. */
static void
describe_server (TetherPreferences *self)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (self->app);
  GtkWidget *group = gtk_widget_get_ancestor (GTK_WIDGET (self->url_row), ADW_TYPE_PREFERENCES_GROUP);
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *text = NULL;

  if (engine == NULL || group == NULL)
    return;
  tether_sync_engine_load_remote (engine, &url, &token);
  if (url == NULL || *url == '\0')
    return;
  /* The description is Pango markup in libadwaita 1.2. */
  escaped = g_markup_escape_text (url, -1);
  /* Translators: %s is a server address; "tether" is the command line program */
  text = g_strdup_printf (_("Your notes and tasks sync through a tether-server. With the address "
                            "empty, this database syncs with %s, the server set for it with the "
                            "tether command."), escaped);
  adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group), text);
}

static void
bind_settings (TetherPreferences *self)
{
  g_autofree char *url = g_settings_get_string (self->settings, "server-url");

  gtk_editable_set_text (GTK_EDITABLE (self->url_row), url);
  refresh_token_state (self, url);
  describe_server (self);
  g_settings_bind (self->settings, "auto-sync", self->auto_sync_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_object_bind_property (self->auto_sync_switch, "active", self->interval_row, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_settings_bind_with_mapping (self->settings, "sync-interval", self->interval_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, interval_to_selected,
                                selected_to_interval, NULL, NULL);
  g_settings_bind_with_mapping (self->settings, "conflict-strategy", self->strategy_row, "selected",
                                G_SETTINGS_BIND_DEFAULT, strategy_to_selected,
                                selected_to_strategy, NULL, NULL);
  /* The application applies these three keys to the engine as they change;
   * only the address and the token need tether_application_reload_remote(). */
}

/* ------------------------------------------------------------------ type */

/* What was typed and not applied yet is applied on closing, as when the
 * focus leaves a row. What cannot be applied keeps the window open with
 * the reason shown; closing again lets it go. */
static gboolean
tether_preferences_close_request (GtkWindow *window)
{
  TetherPreferences *self = TETHER_PREFERENCES (window);
  /* A token is not stored for the address before a refused one. */
  gboolean applied = apply_typed_url (self) && apply_typed_token (self);

  if (!applied && !self->close_refused)
    {
      self->close_refused = TRUE;
      return TRUE;
    }
  return GTK_WINDOW_CLASS (tether_preferences_parent_class)->close_request (window);
}

/* Keyring calls hold the window past its destruction (so that a token
 * typed just before closing is stored), maybe past its parent's: GTK 4.8
 * would then unhook from the freed parent when this one goes. */
static void
tether_preferences_unrealize (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (tether_preferences_parent_class)->unrealize (widget);
  gtk_window_set_transient_for (GTK_WINDOW (widget), NULL);
}

static void
tether_preferences_dispose (GObject *object)
{
  TetherPreferences *self = TETHER_PREFERENCES (object);

  g_cancellable_cancel (self->lookup);
  g_cancellable_cancel (self->test);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_PREFERENCES);
  G_OBJECT_CLASS (tether_preferences_parent_class)->dispose (object);
}

static void
tether_preferences_finalize (GObject *object)
{
  TetherPreferences *self = TETHER_PREFERENCES (object);

  g_clear_object (&self->lookup);
  g_clear_object (&self->test);
  g_free (self->test_url);
  g_clear_object (&self->settings);
  g_clear_object (&self->app);
  G_OBJECT_CLASS (tether_preferences_parent_class)->finalize (object);
}

static void
tether_preferences_class_init (TetherPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = tether_preferences_dispose;
  object_class->finalize = tether_preferences_finalize;
  window_class->close_request = tether_preferences_close_request;
  widget_class->unrealize = tether_preferences_unrealize;

  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, url_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, token_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, token_state);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, forget_button);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, test_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, test_icon);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, test_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, test_button);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, server_message);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, http_warning);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, auto_sync_switch);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, interval_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferences, strategy_row);
  gtk_widget_class_bind_template_callback (widget_class, url_applied);
  gtk_widget_class_bind_template_callback (widget_class, url_changed);
  gtk_widget_class_bind_template_callback (widget_class, url_left);
  gtk_widget_class_bind_template_callback (widget_class, token_applied);
  gtk_widget_class_bind_template_callback (widget_class, token_left);
  gtk_widget_class_bind_template_callback (widget_class, forget_clicked);
  gtk_widget_class_bind_template_callback (widget_class, test_clicked);
}

static void
tether_preferences_init (TetherPreferences *self)
{
  self->lookup = g_cancellable_new ();
  self->test = g_cancellable_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}

TetherPreferences *
tether_preferences_new (TetherApplication *app)
{
  TetherPreferences *self;

  g_return_val_if_fail (TETHER_IS_APPLICATION (app), NULL);

  /* Not added to @app here: whoever presents it decides (the app.preferences
   * action makes it transient for the window it was opened from). */
  self = g_object_new (TETHER_TYPE_PREFERENCES,
                       "transient-for", gtk_application_get_active_window (GTK_APPLICATION (app)),
                       NULL);
  self->app = g_object_ref (app);
  self->settings = g_object_ref (tether_application_get_settings (app));
  bind_settings (self);
  return self;
}
