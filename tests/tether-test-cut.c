/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-cut"
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

#include "tether-test-cut.h"

/* What a push answer looks like; the server sends only its first bytes. */
static const char answer[] = "{\"accepted\":[],\"conflicts\":[],\"errors\":[],\"cursor\":null}";

struct _TetherTestCut {
  GSocketService *service;
  char           *url;
};

/* What the workers answer: owned by the "run" handler, so it lives as long
 * as the service, which each running worker holds. */
typedef struct {
  guint status;
  gsize sent;
} Answer;

/* Reads the request's headers and body, so that closing the connection
 * sends a FIN after the partial answer, not a reset before it. */
static gboolean
read_request (GInputStream *input)
{
  g_autoptr(GDataInputStream) data = g_data_input_stream_new (input);
  guint64 length = 0;
  char *line;

  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (data), FALSE);
  g_data_input_stream_set_newline_type (data, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  while ((line = g_data_input_stream_read_line (data, NULL, NULL, NULL)) != NULL && *line != '\0')
    {
      if (g_ascii_strncasecmp (line, "Content-Length:", 15) == 0)
        length = g_ascii_strtoull (line + 15, NULL, 10);
      g_free (line);
    }
  if (line == NULL)
    return FALSE;
  g_free (line);
  while (length > 0)
    {
      char buffer[4096];
      gssize n = g_input_stream_read (G_INPUT_STREAM (data), buffer, MIN (length, sizeof buffer), NULL, NULL);

      if (n <= 0)
        return FALSE;
      length -= (guint64) n;
    }
  return TRUE;
}

static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source,
        gpointer                user_data)
{
  const Answer *cut_answer = user_data;
  GOutputStream *output = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autofree char *head = NULL;

  if (!read_request (g_io_stream_get_input_stream (G_IO_STREAM (connection))))
    return TRUE;
  head = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
                          cut_answer->status, soup_status_get_phrase (cut_answer->status), strlen (answer));
  if (g_output_stream_write_all (output, head, strlen (head), NULL, NULL, NULL))
    g_output_stream_write_all (output, answer, cut_answer->sent, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

static void
answer_free (gpointer  data,
             GClosure *closure)
{
  g_free (data);
}

TetherTestCut *
tether_test_cut_start (guint status,
                       gsize sent)
{
  TetherTestCut *cut = g_new0 (TetherTestCut, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  Answer *cut_answer;

  g_assert_cmpuint (sent, <, strlen (answer));
  /* Threads without limit: with a limit the service stops itself while
   * all are busy and restarts from a worker thread, whose accepts then
   * wait on a main context nobody runs. Workers get an Answer, not @cut,
   * which is gone when the last of them may still be closing. */
  cut->service = g_threaded_socket_service_new (-1);
  g_socket_listener_add_address (G_SOCKET_LISTENER (cut->service), any_port, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  cut->url = g_strdup_printf ("http://127.0.0.1:%u/sync",
                              g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  cut_answer = g_new (Answer, 1);
  *cut_answer = (Answer) { status, sent };
  g_signal_connect_data (cut->service, "run", G_CALLBACK (on_run), cut_answer, answer_free, 0);
  g_socket_service_start (cut->service);
  return cut;
}

const char *
tether_test_cut_url (TetherTestCut *cut)
{
  return cut->url;
}

/* The length the answer's headers promise. */
gsize
tether_test_cut_size (TetherTestCut *cut)
{
  return strlen (answer);
}

void
tether_test_cut_stop (TetherTestCut *cut)
{
  g_socket_service_stop (cut->service);
  g_socket_listener_close (G_SOCKET_LISTENER (cut->service));
  g_object_unref (cut->service);
  g_free (cut->url);
  g_free (cut);
}
