/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-pg"
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <libpq-fe.h>

#include "tether-test-pg.h"

#define SUPERUSER     "tether"
#define START_TRIES   5

struct _TetherTestPg
{
  char  *bindir;
  char  *dir;        /* temporary folder: data/, log, the socket */
  char  *datadir;
  guint  port;
  guint  n_databases;
  int    watch_fd;   /* write end of the watchdog's pipe */
  uid_t  uid;        /* whom the server runs as */
  gid_t  gid;
  gboolean running;
  gboolean durable;  /* PostgreSQL's defaults: fsync, synchronous commits */
};

/* Clusters still running, stopped by the atexit handler when a test exits
 * without stopping them. */
static GPtrArray *running_clusters;

static char *
find_bindir (GError **error)
{
  const char *env = g_getenv ("TETHER_PG_BINDIR");
  g_autoptr(GDir) dir = NULL;
  g_autofree char *in_path = NULL;
  g_autofree char *best = NULL;
  guint best_version = 0;
  const char *name;

  if (env != NULL && *env != '\0')
    return g_strdup (env);

  /* Debian installs versions side by side; take the highest one. */
  dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      guint64 version;
      g_autofree char *bin = g_build_filename ("/usr/lib/postgresql", name, "bin", NULL);
      g_autofree char *initdb = g_build_filename (bin, "initdb", NULL);

      if (!g_ascii_string_to_unsigned (name, 10, 1, 1000, &version, NULL) ||
          !g_file_test (initdb, G_FILE_TEST_IS_EXECUTABLE) || version <= best_version)
        continue;
      best_version = version;
      g_free (best);
      best = g_steal_pointer (&bin);
    }
  if (best != NULL)
    return g_steal_pointer (&best);

  in_path = g_find_program_in_path ("initdb");
  if (in_path != NULL)
    return g_path_get_dirname (in_path);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "initdb not found in $TETHER_PG_BINDIR, /usr/lib/postgresql/*/bin or $PATH: "
               "install postgresql (Debian: apt-get install postgresql)");
  return NULL;
}

static void
drop_privileges (gpointer user_data)
{
  TetherTestPg *self = user_data;

  /* Runs between fork and exec: async-signal-safe calls only. */
  if (setgid (self->gid) != 0 || setgroups (0, NULL) != 0 || setuid (self->uid) != 0)
    _exit (126);
}

/* Run a server program (initdb, pg_ctl) as the cluster's owner. */
static gboolean
run_tool (TetherTestPg *self, const char * const *args, GError **error)
{
  g_autofree char *program = g_build_filename (self->bindir, args[0], NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) env = g_get_environ ();
  int status;

  if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s not found: install postgresql (Debian: apt-get install postgresql)",
                   program);
      return FALSE;
    }
  g_ptr_array_add (argv, program);
  for (guint i = 1; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  /* The C locale works with any encoding and does not depend on which
   * locales the machine has generated. */
  env = g_environ_setenv (env, "LC_ALL", "C", TRUE);
  env = g_environ_unsetenv (env, "PGDATA");
  if (!g_spawn_sync (self->dir, (char **) argv->pdata, env, G_SPAWN_DEFAULT,
                     geteuid () == 0 ? drop_privileges : NULL, self,
                     &out, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      gboolean no_switch = WIFEXITED (status) && WEXITSTATUS (status) == 126;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed: %s%s",
                   args[0], g_strstrip (err), no_switch ?
                   " (could not switch to the postgres user)" : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
choose_owner (TetherTestPg *self, GError **error)
{
  struct passwd *pw;

  self->uid = geteuid ();
  self->gid = getegid ();
  if (self->uid != 0)
    return TRUE;

  /* initdb refuses to run as root. */
  pw = getpwnam ("postgres");
  if (pw == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "running as root and there is no \"postgres\" user to run PostgreSQL as: "
                   "install postgresql (it creates the user) or run the tests as a normal user");
      return FALSE;
    }
  self->uid = pw->pw_uid;
  self->gid = pw->pw_gid;
  if (chown (self->dir, self->uid, self->gid) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot give %s to the postgres user: %s", self->dir, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static guint
free_port (GError **error)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint port = 0;

  if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0 &&
      getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
    port = ntohs (addr.sin_port);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot find a free port on 127.0.0.1: %s", g_strerror (errno));
  if (fd >= 0)
    close (fd);
  return port;
}

static gboolean
start_server (TetherTestPg *self, GError **error)
{
  g_autofree char *log = g_build_filename (self->dir, "log", NULL);

  /* Another program can take the port between our probe and the server's
   * bind; try a few ports before giving up. */
  for (guint attempt = 1; ; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      g_autofree char *options = NULL;
      g_autofree char *text = NULL;
      guint port = free_port (error);

      if (port == 0)
        return FALSE;
      /* Tests need no durability against power loss, and are faster
       * without; benchmarks measure what a real deployment pays. */
      options = g_strdup_printf ("-c listen_addresses=127.0.0.1 -p %u -k %s%s", port, self->dir,
                                 self->durable ? "" : " -c fsync=off -c synchronous_commit=off"
                                                      " -c full_page_writes=off");
      if (run_tool (self, (const char *[]) { "pg_ctl", "-w", "-t", "60", "-D", self->datadir,
                                             "-l", log, "-o", options, "start", NULL },
                    &local_error))
        {
          self->port = port;
          return TRUE;
        }
      g_file_get_contents (log, &text, NULL, NULL);
      if (attempt == START_TRIES || text == NULL || strstr (text, "could not bind") == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "PostgreSQL did not start (%s); its log says:\n%s",
                       local_error->message, text != NULL ? text : "(nothing)");
          return FALSE;
        }
    }
}

/* A shell that waits for EOF on a socket only this process holds: when
 * the test dies in any way (abort, SIGKILL, a meson timeout), it stops the
 * server and removes the folder. It runs in its own session so a signal to
 * the test's process group does not take it down too. */
static void
new_session (G_GNUC_UNUSED gpointer user_data)
{
  setsid ();
}

static gboolean
start_watchdog (TetherTestPg *self, GError **error)
{
  static const char script[] =
    "read line\n"
    "[ \"$line\" = done ] && exit 0\n"
    "pid=$(head -n 1 \"$1/postmaster.pid\" 2>/dev/null)\n"
    "[ -n \"$pid\" ] && kill -QUIT \"$pid\" 2>/dev/null\n"
    "i=0\n"
    "while [ -n \"$pid\" ] && [ $i -lt 100 ] && kill -0 \"$pid\" 2>/dev/null &&\n"
    "      [ \"$(cut -d ' ' -f 3 /proc/$pid/stat 2>/dev/null)\" != Z ]; do\n"
    "  sleep 0.1; i=$((i + 1))\n"
    "done\n"
    "rm -rf \"$2\"\n";
  const char *argv[] = { "/bin/sh", "-c", script, "tether-test-pg-watchdog",
                         self->datadir, self->dir, NULL };
  int fds[2];
  gboolean ok;

  /* A socket rather than a pipe: send() with MSG_NOSIGNAL cannot raise
   * SIGPIPE if the watchdog is gone. */
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot make a socket pair: %s", g_strerror (saved));
      return FALSE;
    }
  ok = g_spawn_async_with_fds (self->dir, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL, new_session, NULL, NULL,
                               fds[0], -1, -1, error);
  close (fds[0]);
  if (!ok)
    {
      close (fds[1]);
      return FALSE;
    }
  self->watch_fd = fds[1];
  return TRUE;
}

static void
stop_all_at_exit (void)
{
  while (running_clusters != NULL && running_clusters->len > 0)
    tether_test_pg_stop (g_ptr_array_index (running_clusters, running_clusters->len - 1));
}

static void
track (TetherTestPg *self)
{
  if (running_clusters == NULL)
    {
      running_clusters = g_ptr_array_new ();
      atexit (stop_all_at_exit);
    }
  g_ptr_array_add (running_clusters, self);
}

TetherTestPg *
tether_test_pg_start (GError **error)
{
  return tether_test_pg_start_full (FALSE, error);
}

TetherTestPg *
tether_test_pg_start_full (gboolean   durable,
                           GError   **error)
{
  TetherTestPg *self = g_new0 (TetherTestPg, 1);
  g_autoptr(GError) local_error = NULL;

  self->watch_fd = -1;
  self->durable = durable;
  self->bindir = find_bindir (&local_error);
  if (self->bindir != NULL)
    self->dir = g_dir_make_tmp ("tether-pg-XXXXXX", &local_error);
  if (self->dir != NULL)
    self->datadir = g_build_filename (self->dir, "data", NULL);

  if (self->datadir == NULL ||
      !choose_owner (self, &local_error) ||
      !run_tool (self, (const char *[]) { "initdb", "-D", self->datadir, "-A", "trust",
                                          "-U", SUPERUSER, "--no-sync", "-E", "UTF8",
                                          "--locale=C", NULL }, &local_error) ||
      !start_watchdog (self, &local_error) ||
      !start_server (self, &local_error))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Cannot start a test PostgreSQL: ");
      tether_test_pg_stop (self);
      return NULL;
    }
  self->running = TRUE;
  track (self);
  return self;
}

char *
tether_test_pg_new_database (TetherTestPg *self, GError **error)
{
  g_autofree char *admin = NULL;
  g_autofree char *name = NULL;
  g_autofree char *sql = NULL;
  PGconn *conn;
  PGresult *res;
  gboolean ok;

  g_return_val_if_fail (self != NULL && self->running, NULL);

  admin = g_strdup_printf ("host=127.0.0.1 port=%u dbname=postgres user=" SUPERUSER, self->port);
  name = g_strdup_printf ("tether_%u", ++self->n_databases);
  sql = g_strdup_printf ("CREATE DATABASE %s", name);
  conn = PQconnectdb (admin);
  res = PQstatus (conn) == CONNECTION_OK ? PQexec (conn, sql) : NULL;
  ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot create database %s: %s",
                 name, PQerrorMessage (conn));
  PQclear (res);
  PQfinish (conn);
  if (!ok)
    return NULL;
  return g_strdup_printf ("host=127.0.0.1 port=%u dbname=%s user=" SUPERUSER, self->port, name);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else if (g_unlink (child) != 0)
        g_warning ("Cannot remove %s: %s", child, g_strerror (errno));
    }
  if (g_rmdir (path) != 0 && errno != ENOENT)
    g_warning ("Cannot remove %s: %s", path, g_strerror (errno));
}

void
tether_test_pg_stop (TetherTestPg *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *pidfile = NULL;

  if (self == NULL)
    return;
  if (running_clusters != NULL)
    g_ptr_array_remove (running_clusters, self);
  /* pg_ctl -w can give up on a server that goes on starting. */
  if (self->datadir != NULL)
    pidfile = g_build_filename (self->datadir, "postmaster.pid", NULL);
  if ((self->running || (pidfile != NULL && g_file_test (pidfile, G_FILE_TEST_EXISTS))) &&
      !run_tool (self, (const char *[]) { "pg_ctl", "-D", self->datadir, "-m", "immediate",
                                          "-w", "stop", NULL }, &error))
    {
      /* The watchdog kills it by its pid when the socket closes. */
      g_message ("Cannot stop the test PostgreSQL in %s: %s", self->dir, error->message);
    }
  else
    {
      if (self->dir != NULL)
        remove_tree (self->dir);
      /* Tell the watchdog the work is done; ignore a dead reader. */
      if (self->watch_fd >= 0 && send (self->watch_fd, "done\n", 5, MSG_NOSIGNAL) < 0)
        g_debug ("The test PostgreSQL's watchdog is gone: %s", g_strerror (errno));
    }
  if (self->watch_fd >= 0)
    close (self->watch_fd);
  g_free (self->bindir);
  g_free (self->dir);
  g_free (self->datadir);
  g_free (self);
}
