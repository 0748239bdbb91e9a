/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-cli-private.h"

/* `remote set` and `remote show`. The remote and its token are stored in
 * the database, so the app and the CLI share them. */

/* Checked before the database opens, so a typo creates no file. GUri reads
 * the scheme in any case; it comes back in lower case, as the engine and
 * the server expect it. */
static char *
normalize_url (const char  *url,
               GError     **error)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri ? g_uri_get_host (uri) : NULL;

  if (scheme != NULL && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https")) &&
      host != NULL && host[0] != '\0')
    return g_strconcat (scheme, url + strlen (scheme), NULL);
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
               "remote set: '%s' is not a server address: give http://HOST[:PORT][/PATH] "
               "or https://HOST[:PORT][/PATH]", url);
  return NULL;
}

/* The stored token "" is how --no-token removes one (the engine only ever
 * writes a token it is given). */
static gboolean
has_token (const char *token)
{
  return token != NULL && token[0] != '\0';
}

static int
effective_port (GUri *uri)
{
  if (g_uri_get_port (uri) != -1)
    return g_uri_get_port (uri);
  return g_str_equal (g_uri_get_scheme (uri), "https") ? 443 : 80;
}

/* Same scheme, host and port: where a token may still be sent. */
static gboolean
same_server (const char *old_url,
             const char *url)
{
  g_autoptr(GUri) a = old_url ? g_uri_parse (old_url, G_URI_FLAGS_NONE, NULL) : NULL;
  g_autoptr(GUri) b = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return a != NULL && b != NULL &&
         g_str_equal (g_uri_get_scheme (a), g_uri_get_scheme (b)) &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         effective_port (a) == effective_port (b);
}

/* Before the database opens, so a wrong command line creates no file. */
static gboolean
check_token_options (TetherCliArgs  *args,
                     GError        **error)
{
  if (args->token != NULL && args->no_token)
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: give --token or --no-token, not both");
  else if (args->token != NULL && args->token[0] == '\0')
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: --token is empty (--no-token removes the stored token)");
  else
    return TRUE;
  return FALSE;
}

static void
print_set (const char *url,
           gboolean    stored,
           gboolean    dropped)
{
  g_autofree char *line = NULL;

  if (dropped)
    line = g_strdup_printf ("remote set to %s (no token: the token of the previous server was "
                            "dropped; give this server's with --token)", url);
  else
    line = g_strdup_printf ("remote set to %s (%s)", url, stored ? "token stored" : "no token");
  _tether_cli_print_text (line);
}

static gboolean
remote_set (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autofree char *url = normalize_url (ARG (args, 1), error);
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autofree char *old_url = NULL;
  g_autofree char *old_token = NULL;
  const char *token = args->no_token ? "" : args->token;
  gboolean dropped = FALSE;

  if (url == NULL || !check_token_options (args, error) ||
      (engine = _tether_cli_open_sync (cli, error)) == NULL)
    return FALSE;
  tether_sync_engine_load_remote (engine, &old_url, &old_token);
  /* A token is a password for one server: never send it to another. */
  if (token == NULL && has_token (old_token) && !same_server (old_url, url))
    {
      token = "";
      dropped = TRUE;
    }
  if (!tether_sync_engine_save_remote (engine, url, token, error))
    return FALSE;
  print_set (url, has_token (token != NULL ? token : old_token), dropped);
  return TRUE;
}

static gboolean
remote_show (TetherCli  *cli,
             GError    **error)
{
  g_autoptr(TetherSyncEngine) engine = _tether_cli_open_sync (cli, error);
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;

  if (engine == NULL || !_tether_cli_load_remote (engine, &url, &token, error))
    return FALSE;
  /* The token is a password: say only whether there is one. */
  fprintf (stdout, "url: %s\ntoken: %s\n", url, has_token (token) ? "stored" : "none");
  return TRUE;
}

gboolean
_tether_cli_remote (TetherCli      *cli,
                    TetherCliArgs  *args,
                    GError        **error)
{
  const char *verb = ARG (args, 0);

  if (g_str_equal (verb, "set") && args->positional->len == 2)
    return remote_set (cli, args, error);
  if (g_str_equal (verb, "show") && args->positional->len == 1 &&
      args->token == NULL && !args->no_token)
    return remote_show (cli, error);
  if (g_str_equal (verb, "set"))
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE, "remote set: give one URL");
  else if (g_str_equal (verb, "show"))
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote show takes no arguments or options");
  else
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                 "remote: unknown action '%s' (use set or show)", verb);
  return FALSE;
}
