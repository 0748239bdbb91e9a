/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server"
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tether-server-private.h"

/* The access log, JSON and error responses, and refusing a request
 * without reading its body. */

#define LINGER_SECONDS 2

/* Keep one request on one line, with space-separated fields. */
static char *
loggable (const char *text)
{
  char *copy = g_strdup (text != NULL && text[0] != '\0' ? text : "-");

  for (char *p = copy; *p != '\0'; p++)
    if ((guchar) *p <= ' ' || (guchar) *p == 0x7f)
      *p = '_';
  return copy;
}

void
_tether_server_log (const char *method,
                    const char *path,
                    const char *user,
                    guint       status,
                    guint       changes,
                    gint64      start_us)
{
  g_autofree char *safe_method = loggable (method);
  g_autofree char *safe_path = loggable (path);
  double ms = start_us > 0 ? (double) (g_get_monotonic_time () - start_us) / 1000.0 : 0.0;
  g_autofree char *line = g_strdup_printf ("%s %s user=%s status=%u changes=%u ms=%.3f\n",
                                           safe_method, safe_path, user != NULL ? user : "-",
                                           status, changes, ms);

  /* One write per line, so lines of a busy server never interleave. */
  fputs (line, stderr);
  fflush (stderr);
}

void
_tether_server_set_json (SoupServerMessage *msg,
                         guint              status,
                         JsonNode          *body)
{
  char *text = tether_json_node_to_string (body);   /* json-glib 1.6 leaves U+001F raw */

  /* libsoup 3.2 has no phrase for 429. */
  soup_server_message_set_status (msg, status, status == 429 ? "Too Many Requests" : NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, strlen (text));
}

void
_tether_server_set_error (SoupServerMessage *msg,
                          const GError      *error,
                          guint              retry_after)
{
  g_autoptr(JsonNode) body = tether_server_error_to_json (error);
  guint status = tether_server_error_status (error);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  _tether_server_set_json (msg, status, body);
  if (status == 429 && retry_after > 0)
    {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);

      soup_message_headers_replace (headers, "Retry-After", seconds);
    }
  else if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"tether\"");
}

/* Answering without reading the body ---------------------------------------- */

typedef struct {
  GIOStream      *stream;
  GCancellable   *cancellable;
  char           *response;
  guint           timeout_id;
  GDestroyNotify  on_done;
  gpointer        data;
  guint8          sink[16384];
} Rejection;

static void
rejection_closed (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Rejection *rejection = user_data;

  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_clear_handle_id (&rejection->timeout_id, g_source_remove);
  if (rejection->on_done != NULL)
    rejection->on_done (rejection->data);
  g_object_unref (rejection->stream);
  g_object_unref (rejection->cancellable);
  g_free (rejection->response);
  g_free (rejection);
}

static gboolean
rejection_timeout (gpointer user_data)
{
  Rejection *rejection = user_data;

  rejection->timeout_id = 0;
  g_cancellable_cancel (rejection->cancellable);
  return G_SOURCE_REMOVE;
}

static void rejection_drained (GObject *source, GAsyncResult *result, gpointer user_data);

static void
rejection_drain (Rejection *rejection)
{
  GInputStream *input = g_io_stream_get_input_stream (rejection->stream);

  g_input_stream_read_async (input, rejection->sink, sizeof rejection->sink, G_PRIORITY_DEFAULT,
                             rejection->cancellable, rejection_drained, rejection);
}

/* Read and drop what the client still sends until it closes (bounded in
 * time): closing with unread data would reset the connection, and the
 * client could lose our answer. */
static void
rejection_drained (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Rejection *rejection = user_data;

  if (g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL) > 0)
    {
      rejection_drain (rejection);
      return;
    }
  g_io_stream_close_async (rejection->stream, G_PRIORITY_DEFAULT, NULL, rejection_closed, rejection);
}

static void
rejection_written (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  Rejection *rejection = user_data;
  GSocket *socket = g_object_get_data (G_OBJECT (rejection->stream), "GSocket");

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL))
    {
      g_io_stream_close_async (rejection->stream, G_PRIORITY_DEFAULT, NULL, rejection_closed,
                               rejection);
      return;
    }
  /* Our side is done: the client sees the end of the response at once. */
  if (G_IS_SOCKET (socket))
    g_socket_shutdown (socket, FALSE, TRUE, NULL);
  rejection->timeout_id = g_timeout_add_seconds (LINGER_SECONDS, rejection_timeout, rejection);
  rejection_drain (rejection);
}

static void
append_header (const char *name,
               const char *value,
               gpointer    user_data)
{
  if (g_ascii_strcasecmp (name, "Content-Length") != 0 && g_ascii_strcasecmp (name, "Connection") != 0)
    g_string_append_printf (user_data, "%s: %s\r\n", name, value);
}

/* The response already set on @msg, as HTTP/1.1 text. */
static char *
response_text (SoupServerMessage *msg,
               gsize             *length)
{
  guint status = soup_server_message_get_status (msg);
  const char *phrase = soup_server_message_get_reason_phrase (msg);
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_response_body (msg));
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "HTTP/1.1 %u %s\r\n", status,
                          phrase != NULL ? phrase : soup_status_get_phrase (status));
  soup_message_headers_foreach (soup_server_message_get_response_headers (msg), append_header, text);
  g_string_append_printf (text, "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          g_bytes_get_size (body));
  g_string_append_len (text, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  *length = text->len;
  return g_string_free (text, FALSE);
}

void
_tether_server_reject_now (SoupServerMessage *msg,
                           GDestroyNotify     on_done,
                           gpointer           data)
{
  gsize length = 0;
  g_autofree char *response = response_text (msg, &length);
  GIOStream *stream = soup_server_message_steal_connection (msg);
  Rejection *rejection;

  if (stream == NULL)
    {
      if (on_done != NULL)
        on_done (data);
      return;
    }
  rejection = g_new0 (Rejection, 1);
  rejection->stream = stream;
  rejection->cancellable = g_cancellable_new ();
  rejection->on_done = on_done;
  rejection->data = data;
  rejection->response = g_steal_pointer (&response);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream), rejection->response,
                                   length, G_PRIORITY_DEFAULT, rejection->cancellable,
                                   rejection_written, rejection);
}
