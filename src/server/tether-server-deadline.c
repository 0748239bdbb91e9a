/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server"
#include "config.h"

#include "tether-server-private.h"

/* A deadline for reading a request. libsoup 3.2 has none: a client that
 * opens a connection and sends nothing, bytes that never make a header
 * (a TLS hello to this plain-HTTP server), or a body that stops half-way,
 * held its connection and descriptor for as long as the client liked. The
 * clock starts with the request and starts over at each part of it that
 * arrives (the headers, each piece of the body), so a large body on a slow
 * link is fine while it moves; once the body is in, the server's own work
 * and the answer are not timed. At the deadline the connection is closed
 * and the request logged with status 408. */

#define DEADLINE_KEY "tether-server-deadline"

typedef struct {
  SoupServerMessage *msg;      /* not a reference: this lives in its data */
  GSource           *source;   /* fires at last_us + seconds; -1 once the body is in */
  guint              seconds;
  gint64             started_us;
  gint64             last_us;  /* when the latest part of the request arrived */
} Deadline;

static void
deadline_free (Deadline *deadline)
{
  if (deadline->source != NULL)
    {
      g_source_destroy (deadline->source);
      g_clear_pointer (&deadline->source, g_source_unref);
    }
  g_free (deadline);
}

/* The request's log line: libsoup announces no end for a connection taken
 * from it. */
static void
log_timeout (Deadline *deadline)
{
  GUri *uri = soup_server_message_get_uri (deadline->msg);
  const TetherServerUser *user = _tether_server_routes_get_user (deadline->msg);

  /* A body that stops after headers with a good token: whose it was. */
  _tether_server_log (soup_server_message_get_method (deadline->msg),
                      uri != NULL ? g_uri_get_path (uri) : NULL,
                      user != NULL ? user->name : NULL, SOUP_STATUS_REQUEST_TIMEOUT, 0, deadline->started_us);
}

/* One source per request, moved on only when it fires: a part that arrives
 * just notes the time, so the many chunks of a large body cost a store
 * each, not a source made and destroyed each. */
static gboolean
deadline_check (gpointer data)
{
  Deadline *deadline = data;
  gint64 due = deadline->last_us + (gint64) deadline->seconds * G_USEC_PER_SEC;
  g_autoptr(GIOStream) stream = NULL;

  if (g_get_monotonic_time () < due)
    {
      g_source_set_ready_time (deadline->source, due);
      return G_SOURCE_CONTINUE;
    }
  g_clear_pointer (&deadline->source, g_source_unref);
  log_timeout (deadline);
  /* libsoup 3.2 gives no socket here (soup_server_message_get_socket is
   * NULL while a request is read); taking the connection closes it at once,
   * whatever state the request is in. */
  stream = soup_server_message_steal_connection (deadline->msg);
  if (stream != NULL)
    g_io_stream_close (stream, NULL, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
dispatch_ready (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs ready_time_funcs = { NULL, NULL, dispatch_ready, NULL, NULL, NULL };

static void
on_progress (SoupServerMessage *msg,
             gpointer           user_data)
{
  ((Deadline *) user_data)->last_us = g_get_monotonic_time ();
}

static void
on_got_chunk (SoupServerMessage *msg,
              GBytes            *chunk,
              gpointer           user_data)
{
  on_progress (msg, user_data);
}

static void
on_got_body (SoupServerMessage *msg,
             gpointer           user_data)
{
  Deadline *deadline = user_data;

  if (deadline->source != NULL)
    g_source_set_ready_time (deadline->source, -1);
}

void
_tether_server_deadline_watch (SoupServerMessage *msg,
                               guint              seconds)
{
  Deadline *deadline;

  if (seconds == 0)
    return;
  deadline = g_new0 (Deadline, 1);
  deadline->msg = msg;
  deadline->seconds = seconds;
  deadline->started_us = deadline->last_us = g_get_monotonic_time ();
  deadline->source = g_source_new (&ready_time_funcs, sizeof (GSource));
  g_source_set_callback (deadline->source, deadline_check, deadline, NULL);
  g_source_set_ready_time (deadline->source, deadline->started_us + (gint64) seconds * G_USEC_PER_SEC);
  g_source_attach (deadline->source, g_main_context_get_thread_default ());
  g_object_set_data_full (G_OBJECT (msg), DEADLINE_KEY, deadline, (GDestroyNotify) deadline_free);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_progress), deadline);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), deadline);
  g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), deadline);
}
