/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-postgres"
#include "config.h"

#include <glib-unix.h>
#include <gio/gio.h>

#include "tether-server-postgres-private.h"
#include "tether-server-store.h"

/* A second connection that LISTENs for other processes' feed changes,
 * driven by the main loop: never blocks it, except for the first connect.
 * After a reconnection every user's last rev is read once, since
 * notifications sent while it was away are lost. A connection that only
 * listens never notices it died silently (TCP keepalives do not see past
 * a proxy), so an idle one is asked "SELECT 1" every PING_SECONDS, and
 * one that does not answer a query or finish connecting within
 * ANSWER_SECONDS is given up. */

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define PING_SECONDS   30
#define ANSWER_SECONDS 10

typedef enum {
  QUERY_NONE,
  QUERY_LISTEN,
  QUERY_CATCH_UP,   /* every user's last rev */
  QUERY_PING,
} Query;

struct _TetherServerPostgresListen
{
  char                         *conninfo;
  char                         *own_id;
  TetherServerPostgresFeedFunc  func;
  gpointer                      user_data;
  GMainContext                 *context;
  PGconn                       *conn;
  GSource                      *watch;     /* on the connection's socket */
  GSource                      *retry;     /* the reconnect timer */
  GSource                      *timer;     /* the next ping, or the answer's deadline */
  guint                         backoff_ms;
  gboolean                      connecting;
  Query                         query;     /* the one in progress */
};

static void start_connect (TetherServerPostgresListen *self);
static void lose_connection (TetherServerPostgresListen *self, const char *why);
static void send_query (TetherServerPostgresListen *self, Query query, const char *sql);
static gboolean on_socket (int fd, GIOCondition condition, gpointer user_data);

char *
_tether_server_postgres_one_line (char *text)
{
  char *out = text;

  for (const char *in = text; *in != '\0'; in++)
    {
      if (!g_ascii_isspace (*in))
        *out++ = *in;
      else if (out > text && out[-1] != ' ')
        *out++ = ' ';
    }
  while (out > text && out[-1] == ' ')
    out--;
  *out = '\0';
  return text;
}

/* A server's notices and warnings go to the log, not to stderr. */
static void
log_notice (void       *user_data,
            const char *message)
{
  g_autofree char *text = _tether_server_postgres_one_line (g_strdup (message));

  g_debug ("PostgreSQL: %s", text);
}

/* A database that stops answering (a host gone, a cable pulled) must cost
 * seconds, not the kernel's minutes: connect, keepalive and unacknowledged
 * data limits, which the caller's conninfo may override. */
static const char * const timeout_keys[] = {
  "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
  "keepalives_count", "tcp_user_timeout",
};
static const char * const timeout_values[] = {
  TETHER_SERVER_POSTGRES_CONNECT_TIMEOUT, "1", "15", "5", "3", "30000",
};

PGconn *
_tether_server_postgres_connect (const char *conninfo,
                                 const char *application_name,
                                 gboolean    async)
{
  const char *keys[G_N_ELEMENTS (timeout_keys) + 4];
  const char *values[G_N_ELEMENTS (timeout_keys) + 4];
  guint n = 0;
  PGconn *conn;

  for (guint i = 0; i < G_N_ELEMENTS (timeout_keys); i++)
    {
      /* libpq reads PGCONNECT_TIMEOUT only when no value is given. */
      if (i == 0 && g_getenv ("PGCONNECT_TIMEOUT") != NULL)
        continue;
      keys[n] = timeout_keys[i];
      values[n++] = timeout_values[i];
    }
  /* Later keywords win: the caller's conninfo may set application_name
   * and the timeouts, but records are JSON text, so the encoding must be
   * UTF-8. */
  keys[n] = "application_name";
  values[n++] = application_name;
  keys[n] = "dbname";
  values[n++] = conninfo;
  keys[n] = "client_encoding";
  values[n++] = "UTF8";
  keys[n] = values[n] = NULL;
  if (async)
    conn = PQconnectStartParams (keys, values, 1);
  else
    conn = PQconnectdbParams (keys, values, 1);
  if (conn != NULL)
    PQsetNoticeProcessor (conn, log_notice, NULL);
  return conn;
}

char *
_tether_server_postgres_payload_new (const char *own_id,
                                     gint64      user_id,
                                     gint64      rev)
{
  return g_strdup_printf ("%s:%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, own_id, user_id, rev);
}

gboolean
_tether_server_postgres_payload_parse (const char *payload,
                                       const char *own_id,
                                       gint64     *user_id,
                                       gint64     *rev)
{
  g_auto(GStrv) parts = g_strsplit (payload, ":", 3);
  gint64 id, value;

  if (g_strv_length (parts) != 3 || g_str_equal (parts[0], own_id) ||
      !g_ascii_string_to_signed (parts[1], 10, 1, G_MAXINT64, &id, NULL) ||
      !g_ascii_string_to_signed (parts[2], 10, 0, G_MAXINT64, &value, NULL))
    return FALSE;
  *user_id = id;
  *rev = value;
  return TRUE;
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
watch_socket (TetherServerPostgresListen *self,
              GIOCondition                condition)
{
  clear_source (&self->watch);
  self->watch = g_unix_fd_source_new (PQsocket (self->conn), condition | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (self->watch, G_SOURCE_FUNC (on_socket), self, NULL);
  g_source_set_static_name (self->watch, "[tether] postgres listen");
  g_source_attach (self->watch, self->context);
}

static gboolean
on_timer (gpointer user_data)
{
  TetherServerPostgresListen *self = user_data;

  g_clear_pointer (&self->timer, g_source_unref);
  if (self->connecting || self->query != QUERY_NONE)
    lose_connection (self, "no answer in " G_STRINGIFY (ANSWER_SECONDS) " s");
  else
    send_query (self, QUERY_PING, "SELECT 1");
  return G_SOURCE_REMOVE;
}

/* While connecting or waiting for an answer: its deadline; else the next
 * ping. */
static void
arm_timer (TetherServerPostgresListen *self)
{
  gboolean waiting = self->connecting || self->query != QUERY_NONE;

  clear_source (&self->timer);
  self->timer = g_timeout_source_new_seconds (waiting ? ANSWER_SECONDS : PING_SECONDS);
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_set_static_name (self->timer, "[tether] postgres listen timer");
  g_source_attach (self->timer, self->context);
}

static gboolean
on_retry (gpointer user_data)
{
  TetherServerPostgresListen *self = user_data;

  g_clear_pointer (&self->retry, g_source_unref);
  start_connect (self);
  return G_SOURCE_REMOVE;
}

static void
lose_connection (TetherServerPostgresListen *self,
                 const char                 *why)
{
  g_autofree char *reason = _tether_server_postgres_one_line (g_strdup (why));

  g_message ("The PostgreSQL notification connection failed (%s); reconnecting in %u ms",
             reason, self->backoff_ms);
  clear_source (&self->watch);
  clear_source (&self->timer);
  g_clear_pointer (&self->conn, PQfinish);
  self->connecting = FALSE;
  self->query = QUERY_NONE;
  clear_source (&self->retry);
  self->retry = g_timeout_source_new (self->backoff_ms);
  g_source_set_callback (self->retry, on_retry, self, NULL);
  g_source_attach (self->retry, self->context);
  self->backoff_ms = MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void
start_connect (TetherServerPostgresListen *self)
{
  self->conn = _tether_server_postgres_connect (self->conninfo, "tether-server-listen", TRUE);
  if (self->conn == NULL || PQstatus (self->conn) == CONNECTION_BAD)
    {
      lose_connection (self, self->conn != NULL ? PQerrorMessage (self->conn) : "out of memory");
      return;
    }
  self->connecting = TRUE;
  watch_socket (self, G_IO_OUT);
  arm_timer (self);
}

static void
send_query (TetherServerPostgresListen *self,
            Query                       query,
            const char                 *sql)
{
  int flushed;

  if (!PQsendQuery (self->conn, sql) || (flushed = PQflush (self->conn)) < 0)
    {
      lose_connection (self, PQerrorMessage (self->conn));
      return;
    }
  self->query = query;
  watch_socket (self, flushed == 1 ? G_IO_IN | G_IO_OUT : G_IO_IN);
  arm_timer (self);
}

/* Listen again, then read every user's last rev to make up for what was
 * missed while disconnected. Not in one transaction: LISTEN takes effect
 * when it commits, so a NOTIFY committed after the SELECT's snapshot but
 * before that commit would be neither read nor delivered. */
static void
send_listen (TetherServerPostgresListen *self)
{
  self->connecting = FALSE;
  if (PQsetnonblocking (self->conn, 1) != 0)
    {
      lose_connection (self, PQerrorMessage (self->conn));
      return;
    }
  send_query (self, QUERY_LISTEN, "LISTEN " TETHER_SERVER_POSTGRES_CHANNEL);
}

static void
poll_connect (TetherServerPostgresListen *self)
{
  switch (PQconnectPoll (self->conn))
    {
    case PGRES_POLLING_READING:
      watch_socket (self, G_IO_IN);
      break;
    case PGRES_POLLING_WRITING:
      watch_socket (self, G_IO_OUT);
      break;
    case PGRES_POLLING_OK:
      send_listen (self);
      break;
    case PGRES_POLLING_FAILED:
    case PGRES_POLLING_ACTIVE:
    default:
      lose_connection (self, PQerrorMessage (self->conn));
      break;
    }
}

/* FALSE when the connection was dropped. */
static gboolean
handle_result (TetherServerPostgresListen *self,
               PGresult                   *res)
{
  switch (PQresultStatus (res))
    {
    case PGRES_COMMAND_OK:      /* LISTEN: from now on nothing is missed */
      self->backoff_ms = BACKOFF_MIN_MS;
      return TRUE;
    case PGRES_TUPLES_OK:
      for (int row = 0; self->query == QUERY_CATCH_UP && row < PQntuples (res); row++)
        self->func (g_ascii_strtoll (PQgetvalue (res, row, 0), NULL, 10),
                    g_ascii_strtoll (PQgetvalue (res, row, 1), NULL, 10), self->user_data);
      return TRUE;
    default:
      lose_connection (self, PQresultErrorMessage (res));
      return FALSE;
    }
}

static void
dispatch_notifications (TetherServerPostgresListen *self)
{
  PGnotify *notify;

  while (self->conn != NULL && (notify = PQnotifies (self->conn)) != NULL)
    {
      gint64 user_id, rev;

      if (_tether_server_postgres_payload_parse (notify->extra, self->own_id, &user_id, &rev))
        self->func (user_id, rev, self->user_data);
      PQfreemem (notify);
    }
}

/* FALSE when the connection was dropped. */
static gboolean
read_results (TetherServerPostgresListen *self,
              GIOCondition                condition)
{
  int flushed = (condition & G_IO_OUT) != 0 ? PQflush (self->conn) : 1;

  if (flushed < 0 || !PQconsumeInput (self->conn))
    {
      lose_connection (self, PQerrorMessage (self->conn));
      return FALSE;
    }
  if (flushed == 0)
    watch_socket (self, G_IO_IN);
  while (!PQisBusy (self->conn))
    {
      g_autoptr(PGresult) res = PQgetResult (self->conn);

      if (res == NULL)
        {
          /* The query is over: the connection takes another. */
          Query done = self->query;

          self->query = QUERY_NONE;
          if (done == QUERY_LISTEN)
            send_query (self, QUERY_CATCH_UP, "SELECT id, last_rev FROM users");
          else if (done != QUERY_NONE)
            arm_timer (self);
          return self->conn != NULL;
        }
      if (!handle_result (self, res))
        return FALSE;
    }
  return TRUE;
}

static void
read_input (TetherServerPostgresListen *self,
            GIOCondition                condition)
{
  if (!read_results (self, condition))
    return;
  dispatch_notifications (self);
  if (self->conn != NULL && PQstatus (self->conn) == CONNECTION_BAD)
    lose_connection (self, PQerrorMessage (self->conn));
}

static gboolean
on_socket (int           fd,
           GIOCondition  condition,
           gpointer      user_data)
{
  TetherServerPostgresListen *self = user_data;

  if (self->connecting)
    poll_connect (self);
  else
    read_input (self, condition);
  return G_SOURCE_CONTINUE;
}

TetherServerPostgresListen *
_tether_server_postgres_listen_new (const char                    *conninfo,
                                    const char                    *own_id,
                                    TetherServerPostgresFeedFunc   func,
                                    gpointer                       user_data,
                                    GError                       **error)
{
  g_autoptr(TetherServerPostgresListen) self = g_new0 (TetherServerPostgresListen, 1);
  g_autoptr(PGresult) res = NULL;

  self->conninfo = g_strdup (conninfo);
  self->own_id = g_strdup (own_id);
  self->func = func;
  self->user_data = user_data;
  self->context = g_main_context_ref_thread_default ();
  self->backoff_ms = BACKOFF_MIN_MS;

  self->conn = _tether_server_postgres_connect (conninfo, "tether-server-listen", FALSE);
  if (PQstatus (self->conn) == CONNECTION_OK)
    res = PQexec (self->conn, "LISTEN " TETHER_SERVER_POSTGRES_CHANNEL);
  if (PQresultStatus (res) != PGRES_COMMAND_OK || PQsetnonblocking (self->conn, 1) != 0)
    {
      g_autofree char *message = g_strdup (PQerrorMessage (self->conn));

      g_set_error (error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_FAILED,
                   "Cannot listen for changes made by other tether-server processes: %s",
                   _tether_server_postgres_one_line (message));
      return NULL;
    }
  watch_socket (self, G_IO_IN);
  arm_timer (self);
  return g_steal_pointer (&self);
}

void
_tether_server_postgres_listen_free (TetherServerPostgresListen *self)
{
  if (self == NULL)
    return;
  clear_source (&self->watch);
  clear_source (&self->retry);
  clear_source (&self->timer);
  g_clear_pointer (&self->conn, PQfinish);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->conninfo);
  g_free (self->own_id);
  g_free (self);
}
