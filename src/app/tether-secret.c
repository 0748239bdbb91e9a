/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-secret"
#include "config.h"

#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <string.h>

#include "tether-secret.h"

/* The token of a server lives in the Secret Service (gnome-keyring, KWallet…)
 * under this schema; the URL is the only attribute, so one token per server. */
static const SecretSchema *
token_schema (void)
{
  static const SecretSchema schema = {
    "app.tether.Tether.Token", SECRET_SCHEMA_NONE,
    {
      { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

/* "https://h/sync/" and " https://h/sync" name the same server: the HTTP
 * transport drops trailing slashes too. */
static char *
server_key (const char *server_url)
{
  char *key = g_strstrip (g_strdup (server_url));
  gsize len = strlen (key);

  while (len > 0 && key[len - 1] == '/')
    key[--len] = '\0';
  return key;
}

/* libsecret's own messages ("The name org.freedesktop.secrets was not
 * provided by any .service files") do not say what failed for the user. */
static GError *
keyring_error (GError *error)
{
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&error, _("Could not reach the keyring: "));
  return error;
}

static void
cleared (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  /* FALSE without an error: there was nothing to clear, which is fine. */
  secret_password_clear_finish (result, &error);
  if (error != NULL)
    g_task_return_error (task, keyring_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
stored (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, keyring_error (error));
  else
    g_task_return_boolean (task, TRUE);
}

void
tether_secret_store_async (const char          *server_url,
                           const char          *token,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (server_url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_secret_store_async);
  key = server_key (server_url);
  if (token == NULL || *token == '\0')
    {
      secret_password_clear (token_schema (), cancellable, cleared, g_steal_pointer (&task),
                             "server", key, NULL);
      return;
    }
  /* Translators: the name of the token in the keyring (Seahorse shows it). */
  label = g_strdup_printf (_("Tether token for %s"), key);
  secret_password_store (token_schema (), SECRET_COLLECTION_DEFAULT, label, token,
                         cancellable, stored, g_steal_pointer (&task),
                         "server", key, NULL);
}

gboolean
tether_secret_store_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_secret_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
looked_up (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *secret = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    {
      g_task_return_error (task, keyring_error (error));
      return;
    }
  /* Hand out a plain string (g_free) and wipe libsecret's copy. */
  g_task_return_pointer (task, g_strdup (secret), g_free);
  secret_password_free (secret);
}

void
tether_secret_lookup_async (const char          *server_url,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *key = NULL;

  g_return_if_fail (server_url != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_secret_lookup_async);
  key = server_key (server_url);
  secret_password_lookup (token_schema (), cancellable, looked_up, g_steal_pointer (&task),
                          "server", key, NULL);
}

char *
tether_secret_lookup_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_secret_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
