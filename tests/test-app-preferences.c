/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-app-preferences"
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <adwaita.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tether-application.h"
#include "tether-preferences.h"
#include "tether-secret.h"
#include "tether-sync-status.h"
#include "tether-test-app.h"
#include "tether-test-util.h"

/* Preferences, the keyring and the sync status, for real: a
 * gnome-keyring-daemon on a private session bus (dbus-run-session), a
 * tether-server process, and a small HTTP server that is not a Tether server.
 * Screenshots land in G_TEST_BUILDDIR. */

#define WAIT_MS 20000
#define SCHEMA "{\"version\": 1, \"collections\": {\"notes\": {\"fields\": " \
               "{\"title\": {\"type\": \"string\"}}}}}"

typedef struct {
  char              *root;          /* what the app and the server write */
  char              *keyring_home;  /* the keyring daemon's files, outside root */
  GSubprocess       *keyring;
  GSubprocess       *server;
  char              *server_url;
  char              *alice;         /* a token the server knows */
  SoupServer        *html;
  char              *html_url;      /* answers HTML to everything */
  char              *closed_url;    /* nothing listens there */
  TetherApplication *app;
} World;

static World world;

/* ------------------------------------------------------------- the world */

static G_GNUC_NORETURN void
skip_all (const char *why)
{
  if (g_strcmp0 (g_getenv ("TETHER_TEST_DISPLAY_REQUIRED"), "1") == 0)
    {
      g_printerr ("test-app-preferences: %s, and TETHER_TEST_DISPLAY_REQUIRED=1\n", why);
      exit (1);
    }
  g_printerr ("test-app-preferences: skipped: %s\n", why);
  exit (77);
}

/* Always on a bus of our own: the test must never store tokens in the
 * keyring of the person running it. */
static void
reexec_on_private_bus (char **argv)
{
  g_autofree char *runner = g_find_program_in_path ("dbus-run-session");
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();

  if (runner == NULL)
    skip_all ("dbus-run-session is not installed (Debian package dbus)");
  g_setenv ("TETHER_TEST_PRIVATE_BUS", "1", TRUE);
  g_ptr_array_add (args, runner);
  g_ptr_array_add (args, (gpointer) "--");
  g_ptr_array_add (args, self != NULL ? self : argv[0]);
  for (guint i = 1; argv[i] != NULL; i++)
    g_ptr_array_add (args, argv[i]);
  g_ptr_array_add (args, NULL);
  execv (runner, (char **) args->pdata);
  g_error ("cannot run %s: %s", runner, g_strerror (errno));
}

static void
child_setup (gpointer data)
{
  /* A test that aborts must not leave its daemons running. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
secrets_on_bus (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  if (bus == NULL)
    return FALSE;
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", "org.freedesktop.secrets"),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static void
keyring_start (void)
{
  g_autofree char *daemon = g_find_program_in_path ("gnome-keyring-daemon");
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *run = NULL;
  g_autofree char *log = NULL;
  GOutputStream *input;

  if (daemon == NULL)
    skip_all ("gnome-keyring-daemon is not installed (Debian package gnome-keyring); "
              "these tests need a real keyring");
  world.keyring_home = tether_test_dir_new ();
  data = g_build_filename (world.keyring_home, "data", NULL);
  run = g_build_filename (world.keyring_home, "run", NULL);
  g_assert_cmpint (g_mkdir (run, 0700), ==, 0);
  log = g_build_filename (world.keyring_home, "daemon.log", NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_setenv (launcher, "HOME", world.keyring_home, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", run, TRUE);
  /* Its own warnings are not this test's failures. */
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  world.keyring = g_subprocess_launcher_spawn (launcher, &error, daemon, "--foreground",
                                               "--unlock", "--components=secrets", NULL);
  g_assert_no_error (error);
  /* The password of the new login keyring, on stdin: empty. */
  input = g_subprocess_get_stdin_pipe (world.keyring);
  g_output_stream_write_all (input, "\n", 1, NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (input, NULL, &error);
  g_assert_no_error (error);
  for (guint waited = 0; !secrets_on_bus (); waited += 50)
    {
      if (waited > WAIT_MS || g_subprocess_get_identifier (world.keyring) == NULL)
        {
          g_autofree char *said = NULL;

          g_file_get_contents (log, &said, NULL, NULL);
          g_error ("gnome-keyring-daemon did not provide org.freedesktop.secrets:\n%s", said);
        }
      g_usleep (50 * 1000);
    }
}

static void
stop (GSubprocess **process)
{
  if (*process == NULL)
    return;
  g_subprocess_send_signal (*process, SIGTERM);
  g_subprocess_wait (*process, NULL, NULL);
  g_clear_object (process);
}

/* The one word of 43 base64url characters that `user add` prints. */
static char *
server_user_add (const char *server,
                 const char *db,
                 const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) words = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              server, "--db", db, "user", "add", name, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  words = g_regex_split_simple ("\\s+", out, 0, 0);
  for (guint i = 0; words[i] != NULL; i++)
    if (g_regex_match_simple ("^[A-Za-z0-9_-]{43}$", words[i], 0, 0))
      return g_strdup (words[i]);
  g_error ("no token in the output of tether-server user add: %s", out);
}

static void
server_start (void)
{
  const char *server = g_getenv ("TETHER_SERVER");
  g_autofree char *dir = g_build_filename (world.root, "server", NULL);
  g_autofree char *db = g_build_filename (dir, "server.db", NULL);
  g_autofree char *log = g_build_filename (dir, "server.log", NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GRegex) listening = g_regex_new ("tether-server listening on (http://\\S+?)/?\n", 0, 0, NULL);
  g_autoptr(GError) error = NULL;

  if (server == NULL)
    g_error ("TETHER_SERVER is not set; run the tests with meson test");
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  world.alice = server_user_add (server, db, "alice");
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  world.server = g_subprocess_launcher_spawn (launcher, &error, server, "serve",
                                              "--listen", "127.0.0.1:0", "--db", db, NULL);
  g_assert_no_error (error);
  for (guint waited = 0; world.server_url == NULL; waited += 20)
    {
      g_autofree char *text = NULL;
      g_autoptr(GMatchInfo) match = NULL;

      g_file_get_contents (log, &text, NULL, NULL);
      if (text != NULL && g_regex_match (listening, text, 0, &match))
        world.server_url = g_match_info_fetch (match, 1);
      else if (waited > WAIT_MS || g_subprocess_get_identifier (world.server) == NULL)
        g_error ("tether-server did not start:\n%s", text ? text : "");
      else
        g_usleep (20 * 1000);
    }
}

static void
html_page (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  static const char page[] = "<!DOCTYPE html><html><body><h1>It works!</h1></body></html>\n";

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, page, strlen (page));
}

static void
other_servers_start (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  GSList *uris;

  world.html = g_object_new (SOUP_TYPE_SERVER, NULL);
  soup_server_add_handler (world.html, NULL, html_page, NULL, NULL);
  soup_server_listen_local (world.html, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (world.html);
  world.html_url = g_strdup_printf ("http://127.0.0.1:%d/site", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* A port that was free a moment ago: connections to it are refused. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_socket_bind (socket, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  world.closed_url = g_strdup_printf ("http://127.0.0.1:%u/sync",
                                      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);
}

/* ------------------------------------------------------------- waiting */

typedef struct {
  gboolean      done;
  GAsyncResult *result;
} Wait;

static void
got_result (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Wait *wait = data;

  wait->result = g_object_ref (result);
  wait->done = TRUE;
}

static gboolean
wait_done (gpointer data)
{
  return ((Wait *) data)->done;
}

static GAsyncResult *
wait_result (Wait *wait)
{
  if (!tether_test_app_wait (wait_done, wait, WAIT_MS))
    g_error ("no answer within %d ms", WAIT_MS);
  return wait->result;
}

typedef gboolean (*Check) (gpointer data);

static void
wait_for (Check       check,
          gpointer    data,
          const char *what)
{
  if (!tether_test_app_wait (check, data, WAIT_MS))
    g_error ("still not %s after %d ms", what, WAIT_MS);
}

/* Laid out and drawn first: a widget whose size changed has no picture yet. */
static void
snapshot (gpointer    widget,
          const char *name)
{
  tether_test_app_settle (200);
  tether_test_app_snapshot (GTK_WIDGET (widget), g_test_get_filename (G_TEST_BUILT, name, NULL));
}

/* -------------------------------------------------------------- keyring */

static void
secret_store (const char *url,
              const char *token)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  Wait wait = { 0 };

  tether_secret_store_async (url, token, NULL, got_result, &wait);
  result = wait_result (&wait);
  g_assert_true (tether_secret_store_finish (result, &error));
  g_assert_no_error (error);
}

static char *
secret_lookup (const char  *url,
               GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  Wait wait = { 0 };

  tether_secret_lookup_async (url, NULL, got_result, &wait);
  result = wait_result (&wait);
  return tether_secret_lookup_finish (result, error);
}

static char *
stored_token (const char *url)
{
  g_autoptr(GError) error = NULL;
  char *token = secret_lookup (url, &error);

  g_assert_no_error (error);
  return token;
}

static void
test_keyring_round_trip (void)
{
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *other = NULL;
  g_autofree char *gone = NULL;

  secret_store ("https://round.example/sync/", "first-token");
  first = stored_token ("https://round.example/sync");
  g_assert_cmpstr (first, ==, "first-token");

  secret_store ("https://round.example/sync", "second-token");
  second = stored_token ("https://round.example/sync/");
  g_assert_cmpstr (second, ==, "second-token");
  other = stored_token ("https://other.example/sync");
  g_assert_null (other);

  secret_store ("https://round.example/sync", NULL);
  gone = stored_token ("https://round.example/sync");
  g_assert_null (gone);
  /* Clearing what is not there is not an error. */
  secret_store ("https://round.example/sync", "");
}

static void
test_keyring_unreachable (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  Wait wait = { 0 };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  /* No Secret Service on this bus address. */
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/tether-test-bus", TRUE);
  token = secret_lookup ("https://example.org/sync", &error);
  g_assert_null (token);
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, "Could not reach the keyring: "));
  g_clear_error (&error);

  tether_secret_store_async ("https://example.org/sync", "t", NULL, got_result, &wait);
  result = wait_result (&wait);
  g_assert_false (tether_secret_store_finish (result, &error));
  g_assert_true (g_str_has_prefix (error->message, "Could not reach the keyring: "));
}

/* ---------------------------------------------------------- preferences */

static gpointer
part (TetherPreferences *prefs,
      const char        *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (prefs), TETHER_TYPE_PREFERENCES, name);

  g_assert_nonnull (object);
  return object;
}

static TetherPreferences *
preferences_open (void)
{
  TetherPreferences *prefs = tether_preferences_new (world.app);

  gtk_window_present (GTK_WINDOW (prefs));
  tether_test_app_settle (200);
  return prefs;
}

static void
preferences_close (TetherPreferences *prefs)
{
  gtk_window_destroy (GTK_WINDOW (prefs));
  tether_test_app_settle (50);
}

static void
type_and_apply (TetherPreferences *prefs,
                const char        *row,
                const char        *text)
{
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, row)), text);
  g_signal_emit_by_name (part (prefs, row), "apply");
}

static gboolean
token_shown_stored (gpointer data)
{
  GtkLabel *state = part (data, "token_state");

  return gtk_widget_get_visible (GTK_WIDGET (state)) &&
         g_strcmp0 (gtk_label_get_label (state), "Stored in the keyring") == 0;
}

static gboolean
token_shown_absent (gpointer data)
{
  return !gtk_widget_get_visible (part (data, "token_state")) &&
         !gtk_widget_get_visible (part (data, "forget_button"));
}

static gboolean
contains (const char *haystack,
          gsize       length,
          const char *needle)
{
  gsize n = strlen (needle);

  /* Database files hold NUL bytes: no str* function here. */
  for (gsize i = 0; i + n <= length; i++)
    if (memcmp (haystack + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_not_in_files (const char *path,
                     const char *token)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_autofree char *text = NULL;
      gsize length = 0;

      if (g_file_get_contents (path, &text, &length, NULL) && contains (text, length, token))
        g_error ("the token was written to %s", path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      assert_not_in_files (child, token);
    }
}

static void
assert_token_only_in_keyring (const char *token)
{
  GSettings *settings = tether_application_get_settings (world.app);
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;
  TetherDatabase *db = tether_application_get_database (world.app);

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (settings, keys[i]);
      g_autofree char *text = g_variant_print (value, FALSE);

      g_assert_null (strstr (text, token));
    }
  g_assert_nonnull (db);
  g_assert_true (g_str_has_prefix (tether_database_get_path (db), world.root));
  assert_not_in_files (world.root, token);
}

static gboolean
engine_has_transport (gpointer data)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (world.app);

  return engine != NULL && tether_sync_engine_get_transport (engine) != NULL;
}

static void
test_token_in_keyring (void)
{
  GSettings *settings = tether_application_get_settings (world.app);
  TetherPreferences *prefs = preferences_open ();
  g_autofree char *with_slash = g_strconcat (world.server_url, "/", NULL);
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;
  g_autofree char *gone = NULL;

  type_and_apply (prefs, "url_row", with_slash);
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, world.server_url);
  type_and_apply (prefs, "token_row", world.alice);
  wait_for (token_shown_stored, prefs, "shown as stored");
  g_assert_cmpstr (gtk_editable_get_text (part (prefs, "token_row")), ==, "");
  token = stored_token (world.server_url);
  g_assert_cmpstr (token, ==, world.alice);
  wait_for (engine_has_transport, NULL, "syncing with the server");
  assert_token_only_in_keyring (world.alice);
  preferences_close (prefs);

  /* A new window finds it in the keyring, and can remove it. */
  prefs = preferences_open ();
  wait_for (token_shown_stored, prefs, "shown as stored");
  g_assert_cmpstr (gtk_editable_get_text (part (prefs, "url_row")), ==, world.server_url);
  g_signal_emit_by_name (part (prefs, "forget_button"), "clicked");
  wait_for (token_shown_absent, prefs, "shown as removed");
  gone = stored_token (world.server_url);
  g_assert_null (gone);
  preferences_close (prefs);
}

static void
assert_refused_url (TetherPreferences *prefs,
                    const char        *text,
                    const char        *kept)
{
  GSettings *settings = tether_application_get_settings (world.app);
  GtkLabel *message = part (prefs, "server_message");
  g_autofree char *quoted = g_strdup_printf ("“%s” is not a server address", text);
  g_autofree char *url = NULL;

  type_and_apply (prefs, "url_row", text);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (message)));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (message), quoted));
  g_assert_true (gtk_widget_has_css_class (part (prefs, "url_row"), "error"));
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, kept);
}

static void
test_url_validation (void)
{
  GSettings *settings = tether_application_get_settings (world.app);
  TetherPreferences *prefs = NULL;
  g_autofree char *url = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *token = NULL;

  g_settings_set_string (settings, "server-url", "https://kept.example/sync");
  prefs = preferences_open ();
  assert_refused_url (prefs, "ftp://example.org/sync", "https://kept.example/sync");
  assert_refused_url (prefs, "example.org/sync", "https://kept.example/sync");
  assert_refused_url (prefs, "https://", "https://kept.example/sync");

  type_and_apply (prefs, "url_row", "  https://example.org/sync/ ");
  g_assert_false (gtk_widget_get_visible (part (prefs, "server_message")));
  g_assert_false (gtk_widget_has_css_class (part (prefs, "url_row"), "error"));
  g_assert_cmpstr (gtk_editable_get_text (part (prefs, "url_row")), ==, "https://example.org/sync");
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, "https://example.org/sync");

  /* Empty: no server. A token typed then waits for an address. */
  type_and_apply (prefs, "url_row", "");
  empty = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (empty, ==, "");
  type_and_apply (prefs, "token_row", "typed-before-the-address");
  g_assert_true (gtk_widget_get_visible (part (prefs, "server_message")));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (part (prefs, "server_message")),
                                   "Enter the server address first"));
  type_and_apply (prefs, "url_row", "https://later.example/sync");
  wait_for (token_shown_stored, prefs, "shown as stored");
  token = stored_token ("https://later.example/sync");
  g_assert_cmpstr (token, ==, "typed-before-the-address");
  g_assert_false (gtk_widget_get_visible (part (prefs, "server_message")));

  snapshot (GTK_WIDGET (prefs), "preferences.png");
  type_and_apply (prefs, "url_row", "example.org");
  tether_test_app_settle (100);
  snapshot (GTK_WIDGET (prefs), "preferences-bad-address.png");
  secret_store ("https://later.example/sync", NULL);
  preferences_close (prefs);
}

static gboolean
message_shown (gpointer data)
{
  GtkLabel *message = part (data, "server_message");

  return gtk_widget_get_visible (GTK_WIDGET (message)) &&
         g_str_has_prefix (gtk_label_get_label (message), "Could not reach the keyring: ");
}

static gboolean
engine_on_new_address (gpointer data)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (data);
  TetherTransport *transport = tether_sync_engine_get_transport (engine);

  return TETHER_IS_HTTP_TRANSPORT (transport) &&
         g_strcmp0 (tether_http_transport_get_base_url (TETHER_HTTP_TRANSPORT (transport)),
                    "https://new.example/sync") == 0;
}

static gboolean
engine_on_old_address (gpointer data)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (data);
  TetherTransport *transport = tether_sync_engine_get_transport (engine);

  return TETHER_IS_HTTP_TRANSPORT (transport) &&
         g_strcmp0 (tether_http_transport_get_base_url (TETHER_HTTP_TRANSPORT (transport)),
                    "https://old.example/sync") == 0;
}

/* In a test's own subprocess: an application on a database of its own
 * in a new folder (*@dir), with no session bus, so no keyring either. */
static TetherApplication *
lone_app_new (char **dir)
{
  g_autofree char *db = NULL;
  g_autoptr(GError) error = NULL;
  TetherApplication *app;

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/tether-test-bus", TRUE);
  g_setenv ("GTK_A11Y", "none", TRUE);
  if (!gtk_init_check ())
    skip_all ("no display (run under Xvfb: xvfb-run -a)");
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  *dir = tether_test_dir_new ();
  db = g_build_filename (*dir, "tether.db", NULL);
  app = tether_application_new ();
  g_object_set (app, "database-path", db, NULL);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);
  return app;
}

/* The address is saved before the token goes to the keyring; when the
 * keyring fails, the app must still sync with the address it shows, not
 * the one before. Without a keyring: in a process with no session bus. */
static void
test_keyring_fails_new_address (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(TetherApplication) app = NULL;
  g_autofree char *url = NULL;
  TetherPreferences *prefs;
  GSettings *settings;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  app = lone_app_new (&dir);
  settings = tether_application_get_settings (app);
  g_settings_set_string (settings, "server-url", "https://old.example/sync");
  tether_application_reload_remote (app);
  wait_for (engine_on_old_address, app, "on the old address");

  prefs = tether_preferences_new (app);
  gtk_window_present (GTK_WINDOW (prefs));
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "token_row")), "a-token");
  type_and_apply (prefs, "url_row", "https://new.example/sync");
  wait_for (message_shown, prefs, "saying the keyring failed");
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, "https://new.example/sync");
  wait_for (engine_on_new_address, app, "on the new address");
  gtk_window_destroy (GTK_WINDOW (prefs));
  tether_test_app_settle (50);
  g_clear_object (&app);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* gtk_window_close(), as the close button does; TRUE once the window is
 * gone (hidden, and freed once pending keyring calls let go of it). */
static gboolean
close_window (TetherPreferences *prefs)
{
  gpointer alive = prefs;
  gboolean closed;

  g_object_add_weak_pointer (G_OBJECT (prefs), &alive);
  gtk_window_close (GTK_WINDOW (prefs));
  tether_test_app_drain ();
  closed = alive == NULL || !gtk_widget_get_visible (alive);
  if (alive != NULL)
    g_object_remove_weak_pointer (G_OBJECT (prefs), &alive);
  return closed;
}

/* Closing applies what was typed; what cannot be applied keeps the
 * window open with the reason, once: a second close lets it go. */
static void
assert_close_refused_once (TetherPreferences *prefs,
                           const char        *reason)
{
  GtkLabel *message = part (prefs, "server_message");

  g_assert_false (close_window (prefs));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (prefs)));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (message)));
  g_assert_true (g_str_has_prefix (gtk_label_get_label (message), reason));
  g_assert_true (close_window (prefs));
}

static void
test_close_keeps_what_cannot_be_applied (void)
{
  GSettings *settings = tether_application_get_settings (world.app);
  TetherPreferences *prefs;
  g_autofree char *url = NULL;

  g_settings_set_string (settings, "server-url", "https://kept.example/sync");
  prefs = preferences_open ();
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "url_row")), "example.org/sync");
  assert_close_refused_once (prefs, "“example.org/sync” is not a server address");
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, "https://kept.example/sync");

  /* A token before any address: nothing to store it for yet. */
  g_settings_set_string (settings, "server-url", "");
  prefs = preferences_open ();
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "token_row")), "typed-before-the-address");
  assert_close_refused_once (prefs, "Enter the server address first");

  /* What can be applied still closes at once. */
  prefs = preferences_open ();
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "url_row")), "https://closed.example/sync");
  g_assert_true (close_window (prefs));
  g_clear_pointer (&url, g_free);
  url = g_settings_get_string (settings, "server-url");
  g_assert_cmpstr (url, ==, "https://closed.example/sync");
  g_settings_reset (settings, "server-url");
}

static const char *
server_description (TetherPreferences *prefs)
{
  GtkWidget *group = gtk_widget_get_ancestor (part (prefs, "url_row"), ADW_TYPE_PREFERENCES_GROUP);

  g_assert_nonnull (group);
  return adw_preferences_group_get_description (ADW_PREFERENCES_GROUP (group));
}

/* With no address here the app syncs with the server `tether remote set`
 * stored in the database: the preferences must say so, not "this
 * computer only". */
static void
test_shows_remote_of_database (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(TetherApplication) app = NULL;
  g_autoptr(GError) error = NULL;
  TetherPreferences *prefs;
  const char *text;

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }
  app = lone_app_new (&dir);
  prefs = tether_preferences_new (app);
  text = server_description (prefs);
  g_assert_nonnull (strstr (text, "this computer only"));
  gtk_window_destroy (GTK_WINDOW (prefs));

  tether_sync_engine_save_remote (tether_application_get_sync_engine (app),
                                  "https://cli.example/sync", "cli-token", &error);
  g_assert_no_error (error);
  tether_application_reload_remote (app);
  prefs = tether_preferences_new (app);
  text = server_description (prefs);
  g_assert_null (strstr (text, "this computer only"));
  g_assert_nonnull (strstr (text, "https://cli.example/sync"));
  g_assert_null (strstr (text, "cli-token"));
  g_assert_cmpstr (gtk_editable_get_text (part (prefs, "url_row")), ==, "");
  gtk_window_present (GTK_WINDOW (prefs));
  tether_test_app_snapshot_drawn (GTK_WIDGET (prefs), "preferences-database-remote.png");
  gtk_window_destroy (GTK_WINDOW (prefs));
  tether_test_app_settle (50);
  g_clear_object (&app);
  tether_test_dir_free (g_steal_pointer (&dir));
}

static gboolean
store_and_quit (gpointer data)
{
  TetherApplication *app = data;
  TetherPreferences *prefs = tether_preferences_new (app);

  gtk_window_present (GTK_WINDOW (prefs));
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "token_row")), "stored-while-quitting");
  type_and_apply (prefs, "url_row", "https://quitting.example/sync");
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  return G_SOURCE_REMOVE;
}

/* Ctrl+Q right after a token was entered: the process must not end
 * before the keyring has it. The app runs in a subprocess, which exits
 * as soon as g_application_run() returns. */
static void
test_quit_keeps_token_being_stored (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *db = NULL;
  g_autofree char *token = NULL;
  g_autoptr(TetherApplication) app = NULL;
  char *argv[] = { (char *) "tether-app", NULL };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      token = stored_token ("https://quitting.example/sync");
      g_assert_cmpstr (token, ==, "stored-while-quitting");
      secret_store ("https://quitting.example/sync", NULL);
      return;
    }
  /* The keyring of the parent's private bus; a database of its own, so
   * the parent's application (same id, same bus) does not take over. */
  if (!gtk_init_check ())
    skip_all ("no display (run under Xvfb: xvfb-run -a)");
  adw_init ();
  dir = tether_test_dir_new ();
  db = g_build_filename (dir, "tether.db", NULL);
  app = tether_application_new ();
  g_object_set (app, "database-path", db, NULL);
  g_idle_add (store_and_quit, app);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
  /* Nothing runs past this point in the real app: the process ends. */
  exit (0);
}

static gboolean
warns_clear_text (TetherPreferences *prefs,
                  const char        *typed)
{
  GtkLabel *warning = part (prefs, "http_warning");

  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "url_row")), typed);
  if (!gtk_widget_get_visible (GTK_WIDGET (warning)))
    return FALSE;
  g_assert_nonnull (strstr (gtk_label_get_label (warning), "unencrypted"));
  return TRUE;
}

/* http:// sends the token as it is: said before anything is applied,
 * but not refused, and not for a server on this computer. */
static void
test_http_warning (void)
{
  TetherPreferences *prefs = preferences_open ();
  g_autofree char *url = NULL;

  g_assert_false (gtk_widget_get_visible (part (prefs, "http_warning")));
  g_assert_true (warns_clear_text (prefs, "http://sync.example.org/sync"));
  g_assert_true (warns_clear_text (prefs, " HTTP://192.168.1.20:8080/sync"));
  snapshot (GTK_WIDGET (prefs), "preferences-http-warning.png");
  g_assert_false (warns_clear_text (prefs, "https://sync.example.org/sync"));
  g_assert_false (warns_clear_text (prefs, "http://127.0.0.1:8080/sync"));
  g_assert_false (warns_clear_text (prefs, "http://localhost:8080/sync"));
  g_assert_false (warns_clear_text (prefs, "http://[::1]:8080/sync"));
  g_assert_false (warns_clear_text (prefs, "not an address"));
  g_assert_false (warns_clear_text (prefs, ""));

  type_and_apply (prefs, "url_row", "http://sync.example.org/sync");
  url = g_settings_get_string (tether_application_get_settings (world.app), "server-url");
  g_assert_cmpstr (url, ==, "http://sync.example.org/sync");
  g_assert_true (gtk_widget_get_visible (part (prefs, "http_warning")));
  g_assert_false (gtk_widget_get_visible (part (prefs, "server_message")));
  preferences_close (prefs);
  g_settings_reset (tether_application_get_settings (world.app), "server-url");
}

static gboolean
test_finished (gpointer data)
{
  return gtk_widget_get_sensitive (part (data, "test_button"));
}

/* Test Connection with what is typed in the rows (not applied). */
static const char *
test_connection (TetherPreferences *prefs,
                 const char        *url,
                 const char        *token)
{
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "url_row")), url);
  gtk_editable_set_text (GTK_EDITABLE (part (prefs, "token_row")), token);
  g_signal_emit_by_name (part (prefs, "test_button"), "clicked");
  wait_for (test_finished, prefs, "done testing");
  return adw_action_row_get_subtitle (part (prefs, "test_row"));
}

static void
test_connection_outcomes (void)
{
  TetherPreferences *prefs = preferences_open ();
  const char *result;

  result = test_connection (prefs, world.server_url, world.alice);
  g_assert_cmpstr (result, ==, "Connected to tether-server (protocol 1)");
  g_assert_true (gtk_widget_has_css_class (part (prefs, "test_icon"), "success"));

  result = test_connection (prefs, world.server_url, "not-the-token");
  g_assert_cmpstr (result, ==, "The server refused the token");
  g_assert_true (gtk_widget_has_css_class (part (prefs, "test_icon"), "error"));

  result = test_connection (prefs, world.html_url, world.alice);
  g_assert_cmpstr (result, ==, "This address is not a Tether server");

  result = test_connection (prefs, world.closed_url, world.alice);
  g_assert_true (g_str_has_prefix (result, "Could not reach the server: "));

  result = test_connection (prefs, "nonsense", world.alice);
  g_assert_true (g_str_has_prefix (result, "“nonsense” is not a server address"));

  /* Nothing typed: the token in the keyring, or none. */
  secret_store (world.server_url, world.alice);
  result = test_connection (prefs, world.server_url, "");
  g_assert_cmpstr (result, ==, "Connected to tether-server (protocol 1)");
  g_settings_set_string (tether_application_get_settings (world.app), "server-url", world.server_url);
  preferences_close (prefs);

  prefs = preferences_open ();
  wait_for (token_shown_stored, prefs, "shown as stored");
  result = test_connection (prefs, world.server_url, "");
  g_assert_cmpstr (result, ==, "Connected to tether-server (protocol 1)");
  snapshot (GTK_WIDGET (prefs), "preferences-connected.png");
  secret_store (world.server_url, NULL);
  result = test_connection (prefs, world.server_url, "");
  g_assert_true (g_str_has_prefix (result, "The server needs a token"));
  preferences_close (prefs);
}

static gboolean
engine_strategy_manual (gpointer data)
{
  TetherSyncEngine *engine = tether_application_get_sync_engine (world.app);

  return engine != NULL && tether_sync_engine_get_strategy (engine) == TETHER_CONFLICT_STRATEGY_MANUAL;
}

static void
test_automatic_sync (void)
{
  GSettings *settings = tether_application_get_settings (world.app);
  TetherPreferences *prefs = preferences_open ();
  AdwComboRow *interval = part (prefs, "interval_row");
  AdwComboRow *strategy = part (prefs, "strategy_row");
  GtkSwitch *auto_sync = part (prefs, "auto_sync_switch");
  g_autofree char *nick = NULL;

  gtk_switch_set_active (auto_sync, FALSE);
  g_assert_false (g_settings_get_boolean (settings, "auto-sync"));
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (interval)));
  g_settings_set_boolean (settings, "auto-sync", TRUE);
  g_assert_true (gtk_switch_get_active (auto_sync));
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (interval)));

  adw_combo_row_set_selected (interval, 3);
  g_assert_cmpuint (g_settings_get_uint (settings, "sync-interval"), ==, 3600);
  g_settings_set_uint (settings, "sync-interval", 900);
  g_assert_cmpuint (adw_combo_row_get_selected (interval), ==, 2);
  g_settings_set_uint (settings, "sync-interval", 120);   /* set elsewhere: the nearest */
  g_assert_cmpuint (adw_combo_row_get_selected (interval), ==, 0);

  adw_combo_row_set_selected (strategy, 4);
  nick = g_settings_get_string (settings, "conflict-strategy");
  g_assert_cmpstr (nick, ==, "manual");
  wait_for (engine_strategy_manual, NULL, "applied to the engine");
  g_settings_set_string (settings, "conflict-strategy", "lww");
  g_assert_cmpuint (adw_combo_row_get_selected (strategy), ==, 1);
  g_settings_reset (settings, "conflict-strategy");
  g_assert_cmpuint (adw_combo_row_get_selected (strategy), ==, 0);
  g_settings_reset (settings, "sync-interval");
  g_assert_cmpuint (adw_combo_row_get_selected (interval), ==, 1);
  preferences_close (prefs);
}

/* ---------------------------------------------------------- sync status */

typedef struct {
  TetherSyncStatus *status;
  GPtrArray        *seen;   /* every text shown while the engine's state changed */
} Watch;

static void
state_changed (TetherSyncEngine *engine,
               GParamSpec       *pspec,
               Watch            *watch)
{
  g_ptr_array_add (watch->seen, g_strdup (tether_sync_status_get_text (watch->status)));
}

static void
engine_sync (TetherSyncEngine *engine)
{
  g_autoptr(GAsyncResult) result = NULL;
  Wait wait = { 0 };

  tether_sync_engine_sync_async (engine, NULL, got_result, &wait);
  result = wait_result (&wait);
  tether_sync_engine_sync_finish (engine, result, NULL, NULL);
}

static gboolean
engine_pending_3 (gpointer data)
{
  return tether_sync_engine_get_pending_count (data) == 3;
}

static gboolean
engine_pending_1 (gpointer data)
{
  return tether_sync_engine_get_pending_count (data) == 1;
}

static void
assert_status (TetherSyncStatus *status,
               const char       *text)
{
  g_autofree char *accessible = g_strdup_printf ("Sync status: %s", text);
  GtkWidget *button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (status),
                                                                 TETHER_TYPE_SYNC_STATUS, "button"));

  g_assert_cmpstr (tether_sync_status_get_text (status), ==, text);
  gtk_test_accessible_assert_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible);
}

static void
snapshot_popover (TetherSyncStatus *status,
                  const char       *name)
{
  GtkMenuButton *button = GTK_MENU_BUTTON (gtk_widget_get_template_child (GTK_WIDGET (status),
                                                                          TETHER_TYPE_SYNC_STATUS, "button"));
  GtkWidget *popover = GTK_WIDGET (gtk_menu_button_get_popover (button));

  gtk_menu_button_popup (button);
  tether_test_app_settle (300);
  g_assert_true (gtk_widget_get_mapped (popover));
  snapshot (popover, name);
  gtk_menu_button_popdown (button);
  tether_test_app_settle (100);
}

static GtkWidget *
status_window (TetherSyncStatus **status)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *header = gtk_header_bar_new ();
  g_autoptr(GSimpleActionGroup) win = g_simple_action_group_new ();
  g_autoptr(GSimpleActionGroup) app = g_simple_action_group_new ();
  g_autoptr(GSimpleAction) sync_now = g_simple_action_new ("sync-now", NULL);
  g_autoptr(GSimpleAction) preferences = g_simple_action_new ("preferences", NULL);

  /* The actions the popover's buttons name, as the window and app have them. */
  g_action_map_add_action (G_ACTION_MAP (win), G_ACTION (sync_now));
  g_action_map_add_action (G_ACTION_MAP (app), G_ACTION (preferences));
  gtk_widget_insert_action_group (window, "win", G_ACTION_GROUP (win));
  gtk_widget_insert_action_group (window, "app", G_ACTION_GROUP (app));
  *status = TETHER_SYNC_STATUS (tether_sync_status_new ());
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), GTK_WIDGET (*status));
  gtk_window_set_titlebar (GTK_WINDOW (window), header);
  gtk_window_set_title (GTK_WINDOW (window), "Tether");
  gtk_window_set_default_size (GTK_WINDOW (window), 520, 120);
  gtk_window_present (GTK_WINDOW (window));
  tether_test_app_settle (200);
  return window;
}

static void
create_notes (TetherDatabase *db,
              guint           n)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *notes = tether_database_get_collection (db, "notes", &error);

  g_assert_no_error (error);

  for (guint i = 0; i < n; i++)
    g_object_unref (tether_test_create (notes, "{\"title\": \"A note\"}"));
}

static void
test_sync_status_states (void)
{
  g_autofree char *dir = tether_test_dir_new ();
  g_autofree char *path = g_build_filename (dir, "status.db", NULL);
  g_autoptr(TetherSchema) schema = tether_test_schema (SCHEMA);
  g_autoptr(TetherDatabase) db = tether_test_open (path, schema);
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  TetherSyncStatus *status;
  GtkWidget *window = status_window (&status);
  GtkLabel *error_label = GTK_LABEL (gtk_widget_get_template_child (GTK_WIDGET (status),
                                                                    TETHER_TYPE_SYNC_STATUS, "error_label"));
  Watch watch = { status, seen };

  assert_status (status, "Not syncing");
  engine = tether_sync_engine_new (db, &error);
  g_assert_no_error (error);
  tether_sync_status_set_engine (status, engine);
  g_signal_connect (engine, "notify::state", G_CALLBACK (state_changed), &watch);
  assert_status (status, "Not syncing");
  snapshot_popover (status, "sync-status-not-syncing.png");

  create_notes (db, 3);
  wait_for (engine_pending_3, engine, "3 pending");
  assert_status (status, "Not syncing");
  tether_sync_engine_set_remote (engine, world.closed_url, world.alice);
  assert_status (status, "3 pending");
  snapshot (window, "sync-status-pending.png");

  engine_sync (engine);
  assert_status (status, "Offline");
  g_assert_true (g_ptr_array_find_with_equal_func (seen, "Syncing…", g_str_equal, NULL));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (error_label)));

  tether_sync_engine_set_remote (engine, world.server_url, "not-the-token");
  engine_sync (engine);
  assert_status (status, "Sign in needed");
  g_assert_true (strstr (gtk_label_get_label (error_label), "refused the token") != NULL);
  snapshot_popover (status, "sync-status-sign-in.png");

  tether_sync_engine_set_remote (engine, world.html_url, world.alice);
  engine_sync (engine);
  assert_status (status, "Sync error");

  tether_sync_engine_set_remote (engine, world.server_url, world.alice);
  engine_sync (engine);
  assert_status (status, "Synced just now");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (error_label)));
  snapshot (window, "sync-status-synced.png");
  snapshot_popover (status, "sync-status-synced-popover.png");

  create_notes (db, 1);
  wait_for (engine_pending_1, engine, "1 pending");
  assert_status (status, "1 pending");

  g_signal_handlers_disconnect_by_data (engine, &watch);
  tether_sync_status_set_engine (status, NULL);
  assert_status (status, "Not syncing");
  gtk_window_destroy (GTK_WINDOW (window));
  tether_test_app_settle (50);
  g_clear_object (&engine);
  tether_database_close (db);
  tether_test_dir_free (g_steal_pointer (&dir));
}

/* ------------------------------------------------------------------ main */

static void
world_start (void)
{
  g_autoptr(GError) error = NULL;
  const char *dirs[][2] = {
    { "XDG_DATA_HOME", "data" }, { "XDG_CONFIG_HOME", "config" },
    { "XDG_CACHE_HOME", "cache" }, { "XDG_STATE_HOME", "state" },
  };

  world.root = tether_test_dir_new ();
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *dir = g_build_filename (world.root, "app", dirs[i][1], NULL);

      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      g_setenv (dirs[i][0], dir, TRUE);
    }
  keyring_start ();
  if (!gtk_init_check ())
    skip_all ("no display (run under Xvfb: xvfb-run -a)");
  adw_init ();
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  server_start ();
  other_servers_start ();
  world.app = tether_application_new ();
  g_application_register (G_APPLICATION (world.app), NULL, &error);
  g_assert_no_error (error);
}

static void
world_stop (void)
{
  g_clear_object (&world.app);
  tether_test_app_settle (50);
  stop (&world.server);
  if (world.html != NULL)
    soup_server_disconnect (world.html);
  g_clear_object (&world.html);
  stop (&world.keyring);
  tether_test_dir_free (g_steal_pointer (&world.keyring_home));
  tether_test_dir_free (g_steal_pointer (&world.root));
  g_clear_pointer (&world.server_url, g_free);
  g_clear_pointer (&world.alice, g_free);
  g_clear_pointer (&world.html_url, g_free);
  g_clear_pointer (&world.closed_url, g_free);
}

int
main (int    argc,
      char **argv)
{
  int status;

  if (g_getenv ("TETHER_TEST_PRIVATE_BUS") == NULL)
    reexec_on_private_bus (argv);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tether/app/preferences/keyring/round-trip", test_keyring_round_trip);
  g_test_add_func ("/tether/app/preferences/keyring/unreachable", test_keyring_unreachable);
  g_test_add_func ("/tether/app/preferences/token-in-keyring", test_token_in_keyring);
  g_test_add_func ("/tether/app/preferences/keyring-fails-new-address", test_keyring_fails_new_address);
  g_test_add_func ("/tether/app/preferences/url-validation", test_url_validation);
  g_test_add_func ("/tether/app/preferences/http-warning", test_http_warning);
  g_test_add_func ("/tether/app/preferences/quit-keeps-token-being-stored", test_quit_keeps_token_being_stored);
  g_test_add_func ("/tether/app/preferences/shows-remote-of-database", test_shows_remote_of_database);
  g_test_add_func ("/tether/app/preferences/close-keeps-what-cannot-be-applied",
                   test_close_keeps_what_cannot_be_applied);
  g_test_add_func ("/tether/app/preferences/test-connection", test_connection_outcomes);
  g_test_add_func ("/tether/app/preferences/automatic-sync", test_automatic_sync);
  g_test_add_func ("/tether/app/sync-status/states", test_sync_status_states);

  /* A trapped subprocess runs one test that needs none of the world. */
  if (g_test_subprocess ())
    return g_test_run ();
  world_start ();
  status = g_test_run ();
  world_stop ();
  return status;
}
