/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-users"
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "tether-server-core-private.h"

/* Users and their bearer tokens. A token is shown once; the store keeps
 * only the SHA-256 of its text. */

#define TOKEN_BYTES 32
#define MAX_NAME    64

void
_tether_server_token_hash (const char *token,
                           gsize       length,
                           guint8      hash[32])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize size = 32;

  g_checksum_update (checksum, (const guchar *) token, length);
  g_checksum_get_digest (checksum, hash, &size);
  g_assert (size == 32);
}

static gboolean
fill_random (guint8  *buffer,
             gsize    length,
             GError **error)
{
  gsize done = 0;

  while (done < length)
    {
      gssize n = getrandom (buffer + done, length - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_INTERNAL,
                       "Cannot make a random token: %s", g_strerror (saved));
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

/* base64url without padding: 43 characters for 32 bytes. */
static char *
new_token (guint8    hash[32],
           GError  **error)
{
  guint8 bytes[TOKEN_BYTES];
  char *token;
  gsize length;

  if (!fill_random (bytes, sizeof bytes, error))
    return NULL;
  token = g_base64_encode (bytes, sizeof bytes);
  for (char *p = token; *p != '\0'; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  length = strcspn (token, "=");
  token[length] = '\0';
  _tether_server_token_hash (token, length, hash);
  memset (bytes, 0, sizeof bytes);
  return token;
}

static gboolean
check_name (const char  *name,
            GError     **error)
{
  gsize length = strlen (name);

  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isalnum (name[i]) && strchr ("_.@-", name[i]) == NULL)
      length = 0;
  if (length == 0 || length > MAX_NAME)
    {
      g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_BAD_REQUEST,
                   "“%s” is not a valid user name: use 1 to %d letters, digits, "
                   "“_”, “.”, “@” or “-”", name, MAX_NAME);
      return FALSE;
    }
  return TRUE;
}

char *
tether_server_core_user_add (TetherServerCore  *self,
                             const char        *name,
                             GError           **error)
{
  g_autofree char *token = NULL;
  guint8 hash[32];

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (!check_name (name, error) || (token = new_token (hash, error)) == NULL)
    return NULL;
  if (!tether_server_store_user_add (tether_server_core_get_store (self), name, hash, error))
    return NULL;
  return g_steal_pointer (&token);
}

char *
tether_server_core_user_rotate (TetherServerCore  *self,
                                const char        *name,
                                GError           **error)
{
  g_autofree char *token = NULL;
  guint8 hash[32];

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if ((token = new_token (hash, error)) == NULL)
    return NULL;
  if (!tether_server_store_user_set_token (tether_server_core_get_store (self), name, hash, error))
    return NULL;
  return g_steal_pointer (&token);
}

gboolean
tether_server_core_user_remove (TetherServerCore  *self,
                                const char        *name,
                                GError           **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  return tether_server_store_user_remove (tether_server_core_get_store (self), name, error);
}

GPtrArray *
tether_server_core_user_list (TetherServerCore  *self,
                              GError           **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);

  return tether_server_store_user_list (tether_server_core_get_store (self), error);
}
