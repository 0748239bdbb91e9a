/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-application"
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <errno.h>
#include <signal.h>

#include "tether-application.h"
#include "tether-conflict-inbox.h"
#include "tether-preferences.h"
#include "tether-secret.h"
#include "tether-window-private.h"

struct _TetherApplication
{
  AdwApplication    parent_instance;

  char             *db_path;    /* NULL: the default one */
  TetherDatabase   *db;
  TetherSyncEngine *engine;
  GSettings        *settings;
  GError           *open_error; /* why the database could not be opened */
  GCancellable     *lookup;     /* the keyring lookup of reload_remote() */
  GtkWindow        *preferences;
  GtkWindow        *conflicts;
  guint             sigterm_source;
  guint             sigint_source;
  gboolean          terminating;  /* a signal asked to quit */
};

G_DEFINE_FINAL_TYPE (TetherApplication, tether_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_DATABASE_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Database --------------------------------------------------------------------- */

static char *
default_database_path (GError **error)
{
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "tether", NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   _("Could not create the folder %s: %s"), dir, g_strerror (saved));
      return NULL;
    }
  return g_build_filename (dir, "tether.db", NULL);
}

/* What the dialog says when the database cannot be opened. */
static char *
describe_open_error (const char   *path,
                     const GError *error)
{
  if (error->domain == TETHER_DATABASE_ERROR)
    switch ((TetherDatabaseError) error->code)
      {
      case TETHER_DATABASE_ERROR_NOT_TETHER:
        /* Translators: %s is a file name */
        return g_strdup_printf (_("%s is not a Tether database."), path);
      case TETHER_DATABASE_ERROR_READ_ONLY:
        return g_strdup_printf (_("%s cannot be written. Check the permissions of the file and its folder."), path);
      case TETHER_DATABASE_ERROR_CORRUPT:
        return g_strdup_printf (_("%s is damaged. Restore it from a backup, or sync into a new database."), path);
      case TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD:
        return g_strdup_printf (_("%s was written by a newer version of Tether. Update Tether to open it."), path);
      default:
        break;
      }
  /* Translators: %s is a file name, then an error message */
  return g_strdup_printf (_("Could not open %s: %s"), path, error->message);
}

/* What the window lists and the editor writes (tether-item-model.c,
 * tether-editor-fields.c). */
static const struct {
  const char *collection;
  const char *fields[7];
} shown[] = {
  { "notes", { "title", "body", "tags", "pinned", NULL } },
  { "tasks", { "title", "notes", "done", "due", "priority", "tags", NULL } },
};

/* A database keeps the schema it was made with (another program's, or
 * one given to `tether`); without these the window cannot list it. */
static gboolean
check_schema (TetherDatabase  *db,
              const char      *path,
              GError         **error)
{
  TetherSchema *schema = tether_database_get_schema (db);

  for (guint i = 0; i < G_N_ELEMENTS (shown); i++)
    if (!tether_schema_has_collection (schema, shown[i].collection))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     /* Translators: %s is a file name, then a collection name ("tasks") */
                     _("%s has no “%s” collection, where Tether keeps its notes and tasks. "
                       "It may belong to another program: open a Tether database instead."),
                     path, shown[i].collection);
        return FALSE;
      }
  for (guint i = 0; i < G_N_ELEMENTS (shown); i++)
    for (guint f = 0; shown[i].fields[f] != NULL; f++)
      if (!tether_schema_has_field (schema, shown[i].collection, shown[i].fields[f]))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       /* Translators: %s is a file name, a collection name ("tasks"), then a field name */
                       _("In %s, the “%s” collection has no “%s” field, which Tether needs. "
                         "It may belong to another program: open a Tether database instead."),
                       path, shown[i].collection, shown[i].fields[f]);
          return FALSE;
        }
  return TRUE;
}

/* The schema stored in the file is used (NULL), not the app's: passing
 * tether_schema_new_default() would migrate an older or custom file to
 * it on opening, or refuse one of the same version that differs. */
static gboolean
open_database (TetherApplication  *self,
               GError            **error)
{
  g_autofree char *path = self->db_path != NULL ? g_strdup (self->db_path) : default_database_path (error);

  if (path == NULL)
    return FALSE;
  self->db = tether_database_open (path, NULL, error);
  if (self->db != NULL && !check_schema (self->db, path, error))
    {
      g_clear_object (&self->db);
      return FALSE;
    }
  if (self->db != NULL)
    self->engine = tether_sync_engine_new (self->db, error);
  if (self->engine == NULL)
    {
      g_autofree char *message = describe_open_error (path, *error);

      g_clear_object (&self->db);
      g_clear_error (error);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, message);
      return FALSE;
    }
  return TRUE;
}

static void
show_open_error (TetherApplication *self)
{
  GtkWidget *dialog = adw_message_dialog_new (NULL, _("Tether Cannot Start"), self->open_error->message);

  g_printerr ("tether-app: %s\n", self->open_error->message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_set_application (GTK_WINDOW (dialog), GTK_APPLICATION (self));
  g_signal_connect_swapped (dialog, "response", G_CALLBACK (gtk_window_destroy), dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Settings --------------------------------------------------------------------- */

typedef struct {
  TetherApplication *self;
  char              *url;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  g_object_unref (lookup->self);
  g_free (lookup->url);
  g_free (lookup);
}

static void
token_looked_up (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Lookup *lookup = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = tether_secret_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      lookup_free (lookup);
      return;
    }
  /* Without the keyring, sync without a token: the server says what it thinks. */
  if (error != NULL)
    g_message ("Could not read the token for %s from the keyring: %s", lookup->url, error->message);
  if (lookup->self->engine != NULL)
    tether_sync_engine_set_remote (lookup->self->engine, lookup->url, token);
  lookup_free (lookup);
}

static void
apply_sync_settings (TetherApplication *self)
{
  if (self->engine == NULL)
    return;
  tether_sync_engine_set_strategy (self->engine, g_settings_get_enum (self->settings, "conflict-strategy"));
  tether_sync_engine_set_interval (self->engine, g_settings_get_uint (self->settings, "sync-interval"));
  tether_sync_engine_set_auto_sync (self->engine, g_settings_get_boolean (self->settings, "auto-sync"));
}

void
tether_application_reload_remote (TetherApplication *self)
{
  g_autofree char *url = NULL;
  Lookup *lookup;

  g_return_if_fail (TETHER_IS_APPLICATION (self));

  if (self->engine == NULL)
    return;
  g_cancellable_cancel (self->lookup);
  g_clear_object (&self->lookup);
  url = g_strstrip (g_settings_get_string (self->settings, "server-url"));
  if (*url == '\0')
    {
      g_autofree char *saved_url = NULL;
      g_autofree char *saved_token = NULL;

      /* No server in the preferences: use one set up for this database with
       * `tether remote set` (scripts/demo does), else none. */
      tether_sync_engine_load_remote (self->engine, &saved_url, &saved_token);
      tether_sync_engine_set_remote (self->engine, saved_url, saved_token);
    }
  else
    {
      self->lookup = g_cancellable_new ();
      lookup = g_new0 (Lookup, 1);
      lookup->self = g_object_ref (self);
      lookup->url = g_steal_pointer (&url);
      tether_secret_lookup_async (lookup->url, self->lookup, token_looked_up, lookup);
    }
  apply_sync_settings (self);
}

/* Actions ---------------------------------------------------------------------- */

/* The main window the user was in last, or NULL. */
static GtkWindow *
main_window (TetherApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (TETHER_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static void
quit_activated (GSimpleAction *action,
                GVariant      *param,
                gpointer       data)
{
  TetherApplication *self = TETHER_APPLICATION (data);
  g_autoptr(GList) windows = g_list_copy (gtk_application_get_windows (GTK_APPLICATION (self)));

  /* Closing (not destroying) saves each window's size and its editor. */
  for (GList *l = windows; l != NULL; l = l->next)
    if (TETHER_IS_WINDOW (l->data))
      _tether_window_close_for_quit (l->data);
    else
      gtk_window_close (l->data);
  /* A window whose edit could not be saved stays and asks; its answer
   * quits again. */
  if (main_window (self) != NULL)
    return;
  /* With every window gone the application ends by itself, once nothing
   * holds it: g_application_quit() would not wait for a token on its way
   * to the keyring (tether-preferences.c). */
  if (gtk_application_get_windows (GTK_APPLICATION (self)) == NULL)
    return;
  g_application_quit (G_APPLICATION (self));
}

/* SIGTERM (systemd stopping the session, kill) or SIGINT (Ctrl+C in a
 * terminal): quit as Ctrl+Q does, which saves what the editors hold.
 * No one is there to answer a window that asks about an edit it cannot
 * save, and a second signal must not wait for the keyring: quit then
 * (shutdown still tries to save). */
static gboolean
terminate_requested (gpointer data)
{
  TetherApplication *self = TETHER_APPLICATION (data);

  g_message ("Asked to quit by a signal: saving and quitting");
  if (!self->terminating)
    {
      self->terminating = TRUE;
      quit_activated (NULL, NULL, self);
      if (main_window (self) == NULL)
        return G_SOURCE_CONTINUE;
    }
  g_application_quit (G_APPLICATION (self));
  return G_SOURCE_CONTINUE;
}

/* Logging out: the session manager may end the process before the
 * editors' delayed saves (GtkApplication:register-session). */
static void
session_ending (TetherApplication *self)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (TETHER_IS_WINDOW (l->data))
      _tether_window_save (l->data);
}

/* A window of its own kind, one at a time, over the window it came from. */
static void
present_transient (GtkWindow  **slot,
                   GtkWindow   *parent,
                   GtkWindow *(*create) (TetherApplication *self),
                   TetherApplication *self)
{
  if (*slot == NULL)
    {
      *slot = create (self);
      g_object_add_weak_pointer (G_OBJECT (*slot), (gpointer *) slot);
      gtk_window_set_transient_for (*slot, parent);
    }
  gtk_window_present (*slot);
}

static GtkWindow *
create_preferences (TetherApplication *self)
{
  return GTK_WINDOW (tether_preferences_new (self));
}

static GtkWindow *
create_conflicts (TetherApplication *self)
{
  return GTK_WINDOW (tether_conflict_inbox_new (self));
}

static void
preferences_activated (GSimpleAction *action,
                       GVariant      *param,
                       gpointer       data)
{
  TetherApplication *self = TETHER_APPLICATION (data);

  if (self->engine == NULL)
    return;
  present_transient (&self->preferences, main_window (self), create_preferences, self);
}

static void
conflicts_activated (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       data)
{
  TetherApplication *self = TETHER_APPLICATION (data);

  if (self->engine == NULL)
    return;
  present_transient (&self->conflicts, main_window (self), create_conflicts, self);
}

static void
shortcuts_activated (GSimpleAction *action,
                     GVariant      *param,
                     gpointer       data)
{
  GtkWindow *window = main_window (TETHER_APPLICATION (data));

  if (window != NULL)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL);
}

static void
about_activated (GSimpleAction *action,
                 GVariant      *param,
                 gpointer       data)
{
  GtkWindow *parent = main_window (TETHER_APPLICATION (data));

  adw_show_about_window (parent,
                         "application-name", _("Tether"),
                         "application-icon", TETHER_APP_ID,
                         "version", PACKAGE_VERSION,
                         "developer-name", "The Tether developers",
                         "copyright", "© The Tether developers",
                         "license-type", GTK_LICENSE_GPL_3_0,
                         "translator-credits", _("translator-credits"),
                         "comments", _("Notes and tasks that work offline and sync when you are back"),
                         NULL);
}

static const GActionEntry app_entries[] = {
  { "quit", quit_activated },
  { "preferences", preferences_activated },
  { "conflicts", conflicts_activated },
  { "shortcuts", shortcuts_activated },
  { "about", about_activated },
};

static const struct {
  const char *action;
  const char *accels[3];
} accels[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "app.shortcuts", { "<Control>question", NULL } },
  { "win.show-help-overlay", { NULL } },
  { "win.new-note", { "<Control>n", NULL } },
  { "win.new-task", { "<Control>t", NULL } },
  { "win.search", { "<Control>f", NULL } },
  { "win.sync-now", { "<Control>r", NULL } },
  { "win.inspector", { "<Control><Shift>i", NULL } },
};

/* Life cycle ------------------------------------------------------------------- */

static gint
tether_application_handle_local_options (GApplication *app,
                                         GVariantDict *options)
{
  TetherApplication *self = TETHER_APPLICATION (app);
  g_autofree char *path = NULL;
  const char *env = g_getenv ("TETHER_DB");

  /* Without --db (or a path set already, as tests do), $TETHER_DB as the
   * tether command reads it: both open the same file. */
  if (!g_variant_dict_lookup (options, "db", "^ay", &path) && self->db_path == NULL &&
      env != NULL && env[0] != '\0')
    path = g_strdup (env);
  if (path != NULL)
    {
      g_autofree char *absolute = g_canonicalize_filename (path, NULL);

      g_object_set (self, "database-path", absolute, NULL);
    }
  return G_APPLICATION_CLASS (tether_application_parent_class)->handle_local_options (app, options);
}

static void
tether_application_startup (GApplication *app)
{
  TetherApplication *self = TETHER_APPLICATION (app);
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (tether_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_entries, G_N_ELEMENTS (app_entries), self);
  for (guint i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (self), accels[i].action, accels[i].accels);
  gtk_window_set_default_icon_name (TETHER_APP_ID);
  self->sigterm_source = g_unix_signal_add (SIGTERM, terminate_requested, self);
  self->sigint_source = g_unix_signal_add (SIGINT, terminate_requested, self);
  g_signal_connect (self, "query-end", G_CALLBACK (session_ending), NULL);

  if (!open_database (self, &error))
    {
      self->open_error = g_steal_pointer (&error);
      return;
    }
  g_signal_connect_swapped (self->settings, "changed::auto-sync", G_CALLBACK (apply_sync_settings), self);
  g_signal_connect_swapped (self->settings, "changed::sync-interval", G_CALLBACK (apply_sync_settings), self);
  g_signal_connect_swapped (self->settings, "changed::conflict-strategy", G_CALLBACK (apply_sync_settings), self);
  tether_application_reload_remote (self);
}

static void
tether_application_activate (GApplication *app)
{
  TetherApplication *self = TETHER_APPLICATION (app);
  GtkWindow *window = main_window (self);

  if (self->open_error != NULL)
    {
      GList *dialogs = gtk_application_get_windows (GTK_APPLICATION (app));

      if (dialogs != NULL)
        gtk_window_present (dialogs->data);
      else
        show_open_error (self);
      return;
    }
  if (window == NULL)
    window = GTK_WINDOW (tether_window_new (self));
  gtk_window_present (window);
}

static void
tether_application_shutdown (GApplication *app)
{
  TetherApplication *self = TETHER_APPLICATION (app);

  /* Editors write what they hold before the database goes. */
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (TETHER_IS_WINDOW (l->data))
      {
        _tether_window_save (l->data);
        _tether_window_cancel (l->data);
      }
  g_cancellable_cancel (self->lookup);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_handle_id (&self->sigterm_source, g_source_remove);
  g_clear_handle_id (&self->sigint_source, g_source_remove);

  G_APPLICATION_CLASS (tether_application_parent_class)->shutdown (app);

  g_clear_object (&self->engine);
  if (self->db != NULL)
    tether_database_close (self->db);
  g_clear_object (&self->db);
}

static void
tether_application_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_DATABASE_PATH:
      if (g_strcmp0 (self->db_path, g_value_get_string (value)) == 0)
        return;
      g_free (self->db_path);
      self->db_path = g_value_dup_string (value);
      /* One database per instance: a second file gets its own process. */
      if (self->db_path != NULL)
        g_application_set_flags (G_APPLICATION (self),
                                 g_application_get_flags (G_APPLICATION (self)) | G_APPLICATION_NON_UNIQUE);
      g_object_notify_by_pspec (object, pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_application_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_DATABASE_PATH:
      g_value_set_string (value, self->db_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_application_dispose (GObject *object)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  /* Registered and never run (the tests): no shutdown removed them. */
  g_clear_handle_id (&self->sigterm_source, g_source_remove);
  g_clear_handle_id (&self->sigint_source, g_source_remove);

  g_cancellable_cancel (self->lookup);
  g_clear_object (&self->lookup);
  g_clear_object (&self->engine);
  g_clear_object (&self->db);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (tether_application_parent_class)->dispose (object);
}

static void
tether_application_finalize (GObject *object)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  g_free (self->db_path);
  g_clear_error (&self->open_error);
  G_OBJECT_CLASS (tether_application_parent_class)->finalize (object);
}

static void
tether_application_class_init (TetherApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->set_property = tether_application_set_property;
  object_class->get_property = tether_application_get_property;
  object_class->dispose = tether_application_dispose;
  object_class->finalize = tether_application_finalize;
  app_class->handle_local_options = tether_application_handle_local_options;
  app_class->startup = tether_application_startup;
  app_class->activate = tether_application_activate;
  app_class->shutdown = tether_application_shutdown;

  /* The database file; set before the application is registered (tests set
   * it instead of passing --db; $TETHER_DB sets it too). NULL:
   * $XDG_DATA_HOME/tether/tether.db. */
  properties[PROP_DATABASE_PATH] =
    g_param_spec_string ("database-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_application_init (TetherApplication *self)
{
  static const GOptionEntry options[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, NULL,
      N_("Open this database file instead of the default one"), N_("FILE") },
    { NULL }
  };

  self->settings = g_settings_new (TETHER_APP_ID);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
  /* For "query-end" at logout (session_ending()). */
  g_object_set (self, "register-session", TRUE, NULL);
}

TetherApplication *
tether_application_new (void)
{
  return g_object_new (TETHER_TYPE_APPLICATION,
                       "application-id", TETHER_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/app/tether/Tether",
                       NULL);
}

TetherDatabase *
tether_application_get_database (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  return self->db;
}

TetherSyncEngine *
tether_application_get_sync_engine (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  return self->engine;
}

GSettings *
tether_application_get_settings (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  return self->settings;
}
