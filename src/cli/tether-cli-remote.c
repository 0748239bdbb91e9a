/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>

#include "tether-cli-private.h"

/* `remote set` and `remote show`. The remote and its token are stored in
 * the database, so the app and the CLI share them; a database that holds a
 * token is made readable by its owner only. */

#define MAX_TOKEN 4096

/* What the sync requests cannot carry: they go to URL/push and URL/pull,
 * so a query or fragment would end up in the wrong place, and a password
 * in the address would be shown by `remote show` and `inspect`. */
static gboolean
check_url_parts (const char  *url,
                 GUri        *uri,
                 GError     **error)
{
  if (g_uri_get_userinfo (uri) != NULL)
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: the address holds a user name or password (USER:PASSWORD@): "
                         "leave it out, and give the token with --token-file");
  else if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                 "remote set: '%s' has a %s: give the server's address without one, as "
                 "http://HOST[:PORT][/PATH] or https://HOST[:PORT][/PATH]",
                 url, g_uri_get_query (uri) != NULL ? "query (?…)" : "fragment (#…)");
  else
    return TRUE;
  return FALSE;
}

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
    return check_url_parts (url, uri, error) ? g_strconcat (scheme, url + strlen (scheme), NULL) : NULL;
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

  return a != NULL && b != NULL && g_uri_get_host (a) != NULL && g_uri_get_host (b) != NULL &&
         g_str_equal (g_uri_get_scheme (a), g_uri_get_scheme (b)) &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         effective_port (a) == effective_port (b);
}

static gboolean
is_one_word (const char *text,
             gsize       length)
{
  for (gsize i = 0; i < length; i++)
    if (g_ascii_iscntrl (text[i]) || text[i] == ' ')
      return FALSE;
  return length > 0;
}

/* Before the database opens, so a wrong command line creates no file. */
static gboolean
check_token_options (TetherCliArgs  *args,
                     GError        **error)
{
  if ((args->token != NULL) + (args->token_file != NULL) + args->no_token > 1)
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: give one of --token, --token-file and --no-token");
  else if (args->token != NULL && args->token[0] == '\0')
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: --token is empty (--no-token removes the stored token)");
  /* The same rule as --token-file's: a token with a space or a newline in
   * it is a paste gone wrong, and would break the Authorization header. */
  else if (args->token != NULL &&
           (strlen (args->token) > MAX_TOKEN || !is_one_word (args->token, strlen (args->token))))
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE,
                         "remote set: --token must be one word of at most 4096 bytes, without "
                         "spaces or control characters");
  else
    return TRUE;
  return FALSE;
}

static GInputStream *
open_token_file (const char  *path,
                 GError     **error)
{
  g_autoptr(GFile) file = NULL;

  if (g_str_equal (path, "-"))
    return g_unix_input_stream_new (STDIN_FILENO, FALSE);
  file = g_file_new_for_path (path);
  return G_INPUT_STREAM (g_file_read (file, NULL, error));
}

/* Up to @size bytes, stopping after the first newline: a token typed at a
 * terminal ends with Return, not with Ctrl+D. */
static gboolean
read_line (GInputStream  *stream,
           char          *buffer,
           gsize          size,
           gsize         *length,
           GError       **error)
{
  *length = 0;
  while (*length < size && memchr (buffer, '\n', *length) == NULL)
    {
      gssize n = g_input_stream_read (stream, buffer + *length, size - *length, NULL, error);

      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      *length += n;
    }
  return TRUE;
}

/* The first line of @path ("-": standard input) without the whitespace
 * around it; read before the database opens, so a wrong file creates none. */
static char *
read_token_file (const char  *path,
                 GError     **error)
{
  g_autoptr(GInputStream) stream = open_token_file (path, error);
  g_autofree char *buffer = g_malloc0 (MAX_TOKEN + 2);
  gsize length;
  gsize start = 0;
  char *newline;

  if (stream == NULL || !read_line (stream, buffer, MAX_TOKEN + 1, &length, error))
    {
      g_prefix_error (error, "--token-file %s: ", path);
      return NULL;
    }
  if ((newline = memchr (buffer, '\n', length)) != NULL)
    length = newline - buffer;
  while (length > 0 && g_ascii_isspace (buffer[length - 1]))
    length--;
  while (start < length && g_ascii_isspace (buffer[start]))
    start++;
  buffer[length] = '\0';
  if (length <= MAX_TOKEN && is_one_word (buffer + start, length - start))
    return g_strdup (buffer + start);
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               start == length ? "--token-file %s holds no token (--no-token removes the stored token)"
                           : "--token-file %s: the token must be one word of at most 4096 bytes "
                             "on the first line",
               path);
  return NULL;
}

/* The database and its WAL files readable by their owner only: a token is
 * a password. SQLite gives the files it makes later the database's mode. */
static gboolean
make_private (TetherDatabase  *db,
              GError         **error)
{
  const char *path = tether_database_get_path (db);
  const char * const suffixes[] = { "", "-wal", "-shm" };

  if (g_str_equal (path, ":memory:"))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);
      int saved_errno;

      if (g_chmod (file, 0600) == 0 || (errno == ENOENT && i > 0))
        continue;
      saved_errno = errno;
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                   "cannot make %s readable by its owner only (%s), so the token was not stored",
                   file, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
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

/* Sets sync up and stores @url with @token (NULL: keep the stored one if
 * it is for the same server). */
static gboolean
store_remote (TetherCli   *cli,
              const char  *url,
              const char  *token,
              GError     **error)
{
  g_autoptr(TetherSyncEngine) engine = _tether_cli_set_up_sync (cli, error);
  g_autofree char *old_url = NULL;
  g_autofree char *old_token = NULL;
  gboolean dropped = FALSE;

  if (engine == NULL)
    return FALSE;
  tether_sync_engine_load_remote (engine, &old_url, &old_token);
  /* A token is a password for one server: never send it to another. */
  if (token == NULL && has_token (old_token) && !same_server (old_url, url))
    {
      token = "";
      dropped = TRUE;
    }
  /* A kept token was made private when it was stored; the file may have
   * been opened up since. Sync was set up then, so failing leaves it so. */
  if (token == NULL && has_token (old_token) &&
      !make_private (tether_sync_engine_get_database (engine), error))
    return FALSE;
  if (!tether_sync_engine_save_remote (engine, url, token, error))
    return FALSE;
  print_set (url, has_token (token != NULL ? token : old_token), dropped);
  return TRUE;
}

static gboolean
remote_set (TetherCli      *cli,
            TetherCliArgs  *args,
            GError        **error)
{
  g_autofree char *url = normalize_url (ARG (args, 1), error);
  g_autofree char *from_file = NULL;
  const char *token = args->no_token ? "" : args->token;
  TetherDatabase *db;

  if (url == NULL || !check_token_options (args, error) ||
      (args->token_file != NULL && (token = from_file = read_token_file (args->token_file, error)) == NULL) ||
      (db = _tether_cli_open (cli, error)) == NULL)
    return FALSE;
  /* Before sync is set up: a file that cannot be made private must be left
   * as it was, not tracking every change with no remote to send it to. */
  if (has_token (token) && !make_private (db, error))
    return FALSE;
  return store_remote (cli, url, token, error);
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
      args->token == NULL && args->token_file == NULL && !args->no_token)
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
