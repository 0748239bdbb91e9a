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

static gboolean
remote_set (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autofree char *url = normalize_url (ARG (args, 1), error);
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autofree char *token = NULL;
  g_autofree char *line = NULL;

  if (url == NULL || (engine = _tether_cli_open_sync (cli, error)) == NULL ||
      !tether_sync_engine_save_remote (engine, url, args->token, error))
    return FALSE;
  tether_sync_engine_load_remote (engine, NULL, &token);
  line = g_strdup_printf ("remote set to %s (%s)", url, token ? "token stored" : "no token");
  _tether_cli_print_text (line);
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
  fprintf (stdout, "url: %s\ntoken: %s\n", url, token ? "stored" : "none");
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
  if (g_str_equal (verb, "show") && args->positional->len == 1 && args->token == NULL)
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
