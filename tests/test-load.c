/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-load"
#include "config.h"

#include <string.h>

#include "tether-test-load.h"

/* Load: 100 HTTP and 100 WebSocket clients push and pull against one
 * tether-server process for TETHER_LOAD_SECONDS (default 60), all on the
 * test's main context. No request may fail but rate-limited ones, every
 * WebSocket client must hear of every write of its user by server_push, the
 * server must end up with exactly what the clients wrote, and its memory
 * must not grow without bound. Latencies are printed, never asserted.
 * This file runs the clients (tether-test-load-client.c) and checks the end. */

#define HTTP_PER_USER      10
#define WS_PER_USER        10
#define N_CLIENTS          (N_USERS * (HTTP_PER_USER + WS_PER_USER))
#define DEFAULT_SECONDS    60
#define MAX_SECONDS        3600
#define RSS_EVERY_MS       5000
#define DRAIN_TIMEOUT_MS   120000   /* answers still due after the deadline */
#define PUSH_DRAIN_MS      30000    /* server_push still due after the last answer */
#define SUBSCRIBE_TIMEOUT_MS 60000  /* every WebSocket client connected and at the feed's end */
#define MAX_FAILURES_SHOWN 20
/* The server's defaults, per user and shared by its 20 clients: a fast
 * machine meets the limit (its clients then wait Retry-After). */
#define RATE               "50/s"
#define BURST              "100"
#define REFILL_MS          2500     /* an empty bucket of BURST at RATE, and a margin */

/* ---------------------------------------------------------------- helpers */

void
load_fail (Load       *load,
           const char *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (load->n_failures++ < MAX_FAILURES_SHOWN)
    g_test_message ("load failure: %s", message);
}

static guint
load_seconds (void)
{
  const char *text = g_getenv ("TETHER_LOAD_SECONDS");
  g_autoptr(GError) error = NULL;
  guint64 seconds = DEFAULT_SECONDS;

  if (text != NULL && !g_ascii_string_to_unsigned (text, 10, 1, MAX_SECONDS, &seconds, &error))
    g_error ("TETHER_LOAD_SECONDS: %s", error->message);
  return seconds;
}

/* ----------------------------------------------------------------- memory */

static guint64
server_rss_kb (Server *s)
{
  g_autofree char *path = g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (s->process));
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "\nVmRSS:")) == NULL)
    g_error ("cannot read the server's VmRSS from %s", path);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

static gboolean
rss_sample (gpointer data)
{
  Load *load = data;
  guint64 kb = server_rss_kb (load->s);

  g_array_append_val (load->rss, kb);
  load->rss_peak = MAX (load->rss_peak, kb);
  /* Caches fill and the allocator grows its arenas in the first seconds:
   * the sample after them is the start. */
  if (load->rss->len <= 2)
    load->rss_start = kb;
  return G_SOURCE_CONTINUE;
}

static void
rss_watch (Load *load)
{
  rss_sample (load);
  load->rss_source = g_timeout_source_new (RSS_EVERY_MS);
  g_source_set_callback (load->rss_source, rss_sample, load, NULL);
  g_source_attach (load->rss_source, load->f->context);
}

/* SQLite's page cache, libpq's buffers and malloc's arenas grow with the data
 * for a while, so only growth past twice the warm size plus 64 MiB fails:
 * what keeps state per request or per connection crosses it in a 60 s run;
 * small leaks are for ASan and valgrind to find. */
static void
check_memory (Load    *load,
              guint64  end_kb)
{
#if defined(__SANITIZE_ADDRESS__)
  /* The server is built as this test is: ASan keeps freed memory in its
   * quarantine (256 MiB), so RSS says nothing there; LeakSanitizer judges. */
  return;
#endif
  if (end_kb > 2 * load->rss_start + 64 * 1024)
    load_fail (load, "the server grew from %" G_GUINT64_FORMAT " kB after warm-up to %" G_GUINT64_FORMAT " kB",
               load->rss_start, end_kb);
}

/* ----------------------------------------------------------------- checks */

static gboolean
load_drained (gpointer data)
{
  return ((Load *) data)->n_running == 0;
}

/* The server holds exactly the records the user's clients wrote, each at the
 * rev of its last accepted write. */
static void
check_user_data (Load  *load,
                 guint  user)
{
  g_autoptr(JsonArray) feed = pull_all (load->f, load->s, load->tokens[user], NULL, NULL);
  g_autoptr(GHashTable) expected = g_hash_table_new (g_str_hash, g_str_equal);
  guint n_written;

  for (guint i = 0; i < load->clients->len; i++)
    {
      LoadClient *c = g_ptr_array_index (load->clients, i);

      if (c->user == user)
        for (guint r = 0; r < c->records->len; r++)
          g_hash_table_insert (expected, c->records->pdata[r], g_hash_table_lookup (c->revs, c->records->pdata[r]));
    }
  n_written = g_hash_table_size (expected);
  load->feed_revs[user] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < json_array_get_length (feed); i++)
    {
      JsonObject *change = json_array_get_object_element (feed, i);
      const char *record_id = json_object_get_string_member_with_default (change, "recordId", "");
      gint64 rev = json_object_get_int_member_with_default (change, "rev", 0);
      gint64 *written = g_hash_table_lookup (expected, record_id);

      g_array_append_val (load->feed_revs[user], rev);
      if (written == NULL)
        load_fail (load, "user %u: the server has record %s, which none of its clients wrote (or twice)", user, record_id);
      else if (*written != rev)
        load_fail (load, "user %u: record %s is at rev %" G_GINT64_FORMAT " on the server, its client wrote rev %"
                   G_GINT64_FORMAT, user, record_id, rev, *written);
      g_hash_table_remove (expected, record_id);
    }
  if (g_hash_table_size (expected) > 0)
    load_fail (load, "user %u: %u of the %u records its clients wrote are not on the server",
               user, g_hash_table_size (expected), n_written);
}

/* Whether @c heard of every rev of its user's final feed past its subscription. */
static gboolean
client_heard_all (LoadClient *c)
{
  GArray *revs = c->load->feed_revs[c->user];

  for (; c->n_checked < revs->len; c->n_checked++)
    {
      gint64 rev = g_array_index (revs, gint64, c->n_checked);

      if (rev > c->subscribed && !load_client_was_seen (c, rev))
        return FALSE;
    }
  return TRUE;
}

static gboolean
all_heard (gpointer data)
{
  Load *load = data;

  for (guint i = 0; i < load->clients->len; i++)
    {
      LoadClient *c = g_ptr_array_index (load->clients, i);

      if (c->ws && c->subscribed >= 0 && !client_heard_all (c))
        return FALSE;
    }
  return TRUE;
}

static void
check_server_push (Load *load)
{
  wait_until (load->f, all_heard, load, PUSH_DRAIN_MS);
  for (guint i = 0; i < load->clients->len; i++)
    {
      LoadClient *c = g_ptr_array_index (load->clients, i);

      if (!c->ws)
        continue;
      if (c->subscribed < 0 && c->n_429 > 0)
        g_test_message ("%s was rate-limited until the deadline before it caught up", c->name);
      else if (c->subscribed < 0)
        load_fail (load, "%s never caught up with its feed", c->name);
      else if (!client_heard_all (c))
        load_fail (load, "%s (subscribed after rev %" G_GINT64_FORMAT ") never heard of rev %" G_GINT64_FORMAT,
                   c->name, c->subscribed, g_array_index (load->feed_revs[c->user], gint64, c->n_checked));
    }
}

static gboolean
all_closed (gpointer data)
{
  return ((Load *) data)->n_open == 0;
}

static void
close_sockets (Load *load)
{
  load->closing = TRUE;
  for (guint i = 0; i < load->clients->len; i++)
    {
      LoadClient *c = g_ptr_array_index (load->clients, i);

      if (c->conn != NULL && soup_websocket_connection_get_state (c->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (c->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    }
  if (!wait_until (load->f, all_closed, load, STOP_TIMEOUT_MS))
    load_fail (load, "WebSocket connections did not close within %d ms", STOP_TIMEOUT_MS);
}

/* ----------------------------------------------------------------- report */

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static double
percentile_ms (GArray *samples,
               guint   percent)
{
  if (samples->len == 0)
    return 0;
  return g_array_index (samples, gint64, MIN (samples->len - 1, (guint64) samples->len * percent / 100)) / 1000.0;
}

static void
print_stats (Load       *load,
             const char *storage,
             guint64     end_kb)
{
  double seconds = (load->ended_us - load->started_us) / (double) G_USEC_PER_SEC;
  g_autoptr(GString) samples = g_string_new (NULL);

  g_test_message ("load on %s: %u users, each %u HTTP and %u WebSocket clients, %.1f s until the last answer",
                  storage, N_USERS, HTTP_PER_USER, WS_PER_USER, seconds);
  for (guint kind = 0; kind < N_KINDS; kind++)
    {
      g_array_sort (load->latency[kind], compare_int64);
      g_test_message ("  %-9s %7u requests, latency p50 %7.2f ms, p99 %7.2f ms", load_kind_names[kind],
                      load->n_requests[kind], percentile_ms (load->latency[kind], 50),
                      percentile_ms (load->latency[kind], 99));
    }
  g_test_message ("  rate-limited (429): %u; changes pushed %u (%.0f/s), pulled %u",
                  load->n_429, load->n_changes, load->n_changes / seconds, load->n_pulled);
  g_test_message ("  server_push: %u messages (%u while the clients wrote), %u changes",
                  load->n_server_push, load->n_server_push_live, load->n_server_pushed);
  for (guint i = 0; i < load->rss->len; i++)
    g_string_append_printf (samples, " %" G_GUINT64_FORMAT, g_array_index (load->rss, guint64, i) / 1024);
  g_test_message ("  server RSS: start %" G_GUINT64_FORMAT " MiB (after warm-up), end %" G_GUINT64_FORMAT
                  " MiB, peak %" G_GUINT64_FORMAT " MiB; every %d s:%s", load->rss_start / 1024, end_kb / 1024,
                  MAX (load->rss_peak, end_kb) / 1024, RSS_EVERY_MS / 1000, samples->str);
}

/* ------------------------------------------------------------------- test */

static Load *
load_new (Fixture *f)
{
  Load *load = g_new0 (Load, 1);

  load->f = f;
  load->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) load_client_free);
  load->rss = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint kind = 0; kind < N_KINDS; kind++)
    load->latency[kind] = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint user = 0; user < N_USERS; user++)
    {
      g_autofree char *name = g_strdup_printf ("load%u", user);

      load->tokens[user] = user_add (f, name);
      load->authorization[user] = bearer (load->tokens[user]);
    }
  return load;
}

static void
load_free (Load *load)
{
  if (load->rss_source != NULL)
    g_source_destroy (load->rss_source);
  g_clear_pointer (&load->rss_source, g_source_unref);
  g_ptr_array_unref (load->clients);
  g_array_unref (load->rss);
  for (guint kind = 0; kind < N_KINDS; kind++)
    g_array_unref (load->latency[kind]);
  for (guint user = 0; user < N_USERS; user++)
    {
      g_clear_pointer (&load->feed_revs[user], g_array_unref);
      g_free (load->tokens[user]);
      g_free (load->authorization[user]);
    }
  g_free (load);
}

static gboolean
all_subscribed (gpointer data)
{
  Load *load = data;

  return load->n_subscribed == N_USERS * WS_PER_USER;
}

/* The WebSocket clients connect and subscribe first; then the clock starts
 * and everyone writes. */
static void
start_clients (Load *load,
               guint seconds)
{
  for (guint user = 0; user < N_USERS; user++)
    for (guint i = 0; i < WS_PER_USER; i++)
      {
        LoadClient *c = load_client_new (load, user, i, TRUE);

        g_ptr_array_add (load->clients, c);
        load->n_running++;
        load_client_step (c);
      }
  if (!wait_until (load->f, all_subscribed, load, SUBSCRIBE_TIMEOUT_MS))
    g_error ("only %u of %u WebSocket clients subscribed within %d ms", load->n_subscribed,
             N_USERS * WS_PER_USER, SUBSCRIBE_TIMEOUT_MS);
  load->started = TRUE;
  load->started_us = g_get_monotonic_time ();
  load->deadline_us = load->started_us + seconds * G_USEC_PER_SEC;
  for (guint user = 0; user < N_USERS; user++)
    for (guint i = 0; i < HTTP_PER_USER; i++)
      {
        LoadClient *c = load_client_new (load, user, i, FALSE);

        g_ptr_array_add (load->clients, c);
        load->n_running++;
      }
  for (guint i = 0; i < load->clients->len; i++)
    load_client_step (g_ptr_array_index (load->clients, i));
}

static void
test_load (Fixture *f)
{
  static const char * const extra[] = { "--rate", RATE, "--burst", BURST, NULL };
  Load *load = load_new (f);
  guint seconds = load_seconds ();
  guint64 end_kb;

  load->s = server_start (f, extra);
  rss_watch (load);
  load->deadline_us = G_MAXINT64;
  start_clients (load, seconds);
  if (!wait_until (f, load_drained, load, seconds * 1000 + DRAIN_TIMEOUT_MS))
    g_error ("%u of %u clients still wait for an answer %d ms after the deadline",
             load->n_running, N_CLIENTS, DRAIN_TIMEOUT_MS);
  load->ended_us = g_get_monotonic_time ();
  /* The final pulls must not meet the limiter the clients emptied. */
  run_for (f, REFILL_MS);
  for (guint user = 0; user < N_USERS; user++)
    check_user_data (load, user);
  check_server_push (load);
  end_kb = server_rss_kb (load->s);
  print_stats (load, f->postgres ? "PostgreSQL" : "SQLite", end_kb);
  check_memory (load, end_kb);
  if (load->n_server_push_live == 0)
    load_fail (load, "no server_push reached a client while the clients wrote, only after they stopped");
  close_sockets (load);
  if (load->n_failures > 0)
    g_test_fail_printf ("%u load failures (the first %d are in the test log)", load->n_failures, MAX_FAILURES_SHOWN);
  load_free (load);
}

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "http-and-websocket", test_load },
  };

  tether_test_server_set_prefix ("/tether/reliability/load");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
