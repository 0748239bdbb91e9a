/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-security"
#include "config.h"

#include "tether-test-attack.h"

/* Attacks on tether-server and on the local database, as an attacker would
 * make them: each must get a clear refusal and change nothing. What the
 * server suites prove already (one bad token, one deep body) is not repeated
 * here. "Nothing changed" is the whole feed of every user, pulled from null,
 * before and after (tether-test-attack.c). This file holds the token
 * attacks; the others are in tether-test-attack-*.c. */

#define MAX_GUESSES 2000   /* bounds a guessing loop, whatever the machine's speed */
#define CHURN_CONNECTIONS 200

/* A pull that names @address in X-Real-IP: a server started with
 * --trust-proxy takes it for the client's (a proxy on this machine). */
static Reply *
pull_from (Fixture    *f,
           Server     *s,
           const char *address,
           const char *token)
{
  g_autofree char *authorization = bearer (token);
  SoupMessage *msg = message_new (s, "POST", "/pull", authorization);
  g_autoptr(GBytes) bytes = g_bytes_new_static ("{}", 2);

  if (address != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "X-Real-IP", address);
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  return call_finish (f, call_send (f, msg));
}

/* ------------------------------------------------------------ token guessing */

/* A random token, or (@near) alice's with one character changed, in turn
 * at every position. */
static char *
guessed_token (const char *real,
               guint       i,
               gboolean    near)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *token = g_strdup (real);

  for (guint at = 0; at < 43 && !near; at++)
    token[at] = alphabet[g_random_int_range (0, 64)];
  if (near)
    token[i % 43] = token[i % 43] == 'A' ? 'B' : 'A';
  return token;
}

/* Strangers get a tenth of --rate, and --burst tries at once. */
#define GUESS_RATE  0.1
#define GUESS_BURST 8

/* Guesses from @address (NULL: a new X-Real-IP each time) until 20 are
 * refused with 429: the guesses that reach token checking stay within what
 * the limit lets through. */
static void
guess_from (Fixture    *f,
            Server     *s,
            const char *address,
            gboolean    near)
{
  gint64 start_us = g_get_monotonic_time ();
  guint reached = 0, limited = 0;
  double seconds;

  for (guint i = 0; i < MAX_GUESSES && limited < 20; i++)
    {
      g_autofree char *token = guessed_token (f->alice, i, near);
      g_autofree char *forged = g_strdup_printf ("192.0.2.%u", i % 250);
      g_autoptr(Reply) reply = pull_from (f, s, address != NULL ? address : forged, token);
      gboolean refused = reply->status == 429;

      assert_error (reply, refused ? 429 : 401, refused ? "rate-limited" : "unauthorized");
      g_assert_true (!refused || reply->retry_after != NULL);
      limited += refused;
      reached += !refused;
    }
  seconds = (g_get_monotonic_time () - start_us) / (double) G_USEC_PER_SEC;
  g_test_message ("%u guesses reached token checking, %u were refused with 429, in %.1f s",
                  reached, limited, seconds);
  g_assert_cmpuint (limited, ==, 20);
  g_assert_cmpfloat (reached, <=, GUESS_BURST + GUESS_RATE * seconds + 1);
}

static void
test_token_guessing (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "8", "--trust-proxy", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(JsonObject) pushed = push (f, s, f->alice, "A",
                                       change_new ("g1", "notes", "\"n\"", "create", "{}", 0, NULL), NULL);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *header = g_strdup_printf ("Authorization: Bearer %s\r\nX-Real-IP: 203.0.113.7\r\n", f->alice);
  g_autofree char *upgrade = NULL;
  g_autoptr(Reply) right = NULL;
  g_autoptr(Reply) elsewhere = NULL;
  g_autoptr(Reply) local = NULL;

  guess_from (f, s, "203.0.113.7", FALSE);
  /* once the address is slowed, a right guess is refused like a wrong one */
  right = pull_from (f, s, "203.0.113.7", f->alice);
  assert_error (right, 429, "rate-limited");
  upgrade = raw_upgrade (s, "", header, NULL);
  assert_raw (upgrade, 429, "rate-limited");
  guess_from (f, s, "203.0.113.8", TRUE);

  /* the limit is per address: alice elsewhere is not locked out */
  elsewhere = pull_from (f, s, "198.51.100.1", f->alice);
  assert_status (elsewhere, 200);
  local = pull_from (f, s, "127.0.0.1", f->alice);
  assert_status (local, 200);
  assert_unchanged (f, s, before);
}

/* Without --trust-proxy, X-Real-IP is only a header: a local process that
 * names a new address on every guess is still one address, slowed. (The
 * guesses only pull; the feeds are not compared after, this machine's own
 * address being the one slowed.) */
static void
test_forged_address (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "8", NULL };
  Server *s = server_start (f, extra);
  g_autoptr(Reply) right = NULL;

  guess_from (f, s, NULL, FALSE);
  right = pull_from (f, s, "198.51.100.1", f->alice);
  assert_error (right, 429, "rate-limited");
}

/* A token anywhere but the Authorization header is no token. */
static void
test_token_elsewhere (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autofree char *before = snapshot (f, s);
  g_autofree char *frame = g_strdup_printf ("{\"type\":\"push\",\"requestId\":\"x\",\"payload\":"
                                            "{\"changes\":[{\"id\":\"w\",\"collection\":\"notes\","
                                            "\"recordId\":\"pwned\",\"type\":\"create\",\"data\":{}}]}}");
  g_autofree char *query = g_strdup_printf ("?token=%s&access_token=%s", f->alice, f->alice);
  g_autofree char *protocol = g_strdup_printf ("Sec-WebSocket-Protocol: %s\r\nCookie: token=%s\r\n",
                                               f->alice, f->alice);
  g_autofree char *wrong = g_strdup_printf ("Authorization: Bearer %s\r\n", f->alice + 1);
  g_autofree char *twice = g_strdup_printf ("Authorization: Bearer %s\r\nAuthorization: Bearer nope\r\n",
                                            f->alice);
  g_autofree char *pull_path = g_strdup_printf ("/pull%s", query);
  const char *headers[] = { "", protocol, wrong, twice, "Authorization: Bearer\r\n" };
  g_autoptr(Reply) get = request (f, s, "GET", pull_path, NULL, NULL);

  assert_error (get, 401, "unauthorized");
  for (guint i = 0; i < G_N_ELEMENTS (headers); i++)
    {
      g_autofree char *plain = raw_upgrade (s, query, headers[i], NULL);
      /* frames sent before the upgrade was answered are never run */
      g_autofree char *eager = raw_upgrade (s, query, headers[i], frame);

      assert_raw (plain, 401, "unauthorized");
      assert_raw (eager, 401, "unauthorized");
    }
  assert_unchanged (f, s, before);
}

/* ------------------------------------------------------- connection churn */

static guint
open_fds (Server *s)
{
  g_autofree char *dir = g_strdup_printf ("/proc/%s/fd", g_subprocess_get_identifier (s->process));
  g_autoptr(GDir) fds = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (fds);
  while (g_dir_read_name (fds) != NULL)
    n++;
  return n;
}

/* Clients that open a connection, make one kept-alive request and go away:
 * the server must keep nothing of a closed connection. (libsoup 3.2 kept
 * the socket, and its file descriptor, of every connection closed while
 * idle: a server would run out of descriptors after a day of syncs.) */
static void
test_connection_churn (Fixture *f)
{
  Server *s = server_start (f, NULL);
  g_autoptr(GUri) uri = g_uri_parse (s->base, G_URI_FLAGS_NONE, NULL);
  g_autofree char *request = g_strdup_printf ("POST %s/pull HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                              "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                                              "Content-Length: 2\r\n\r\n{}", g_uri_get_path (uri), f->alice);
  guint before = open_fds (s), after;

  for (guint i = 0; i < CHURN_CONNECTIONS; i++)
    {
      g_autofree char *answer = raw_exchange (s, request, strlen (request));

      g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200"));
    }
  /* the server notices the last closes on its next turns */
  run_for (f, QUIET_MS);
  after = open_fds (s);
  g_test_message ("open descriptors: %u before, %u after %u connections", before, after, CHURN_CONNECTIONS);
  g_assert_cmpuint (after, <, before + CHURN_CONNECTIONS / 10);
}

/* ------------------------------------------------------- header echoes */

/* @answer is a JSON error that is valid UTF-8 throughout. */
static void
assert_utf8_error (const char *answer,
                   guint       status,
                   const char *code)
{
  const char *body = strstr (answer, "\r\n\r\n");

  g_assert_nonnull (body);
  g_assert_true (g_utf8_validate (body + 4, -1, NULL));
  assert_raw (answer, status, code);
}

/* Error messages that name a header's value (Content-Encoding, X-Real-IP)
 * are written into JSON: a value that is not UTF-8 made the answer
 * invalid JSON, which a client cannot read. */
static void
test_header_echoes (Fixture *f)
{
  const char *extra[] = { "--rate", "1/s", "--burst", "2", "--trust-proxy", NULL };
  Server *s = server_start (f, extra);
  g_autofree char *encoded = raw_push (f, s, "Content-Encoding: gz\xff\xfeip\r\n", SMALL_PUSH, strlen (SMALL_PUSH));
  g_autofree char *limited = NULL;

  assert_utf8_error (encoded, 400, "bad-request");
  for (guint i = 0; i < 10 && limited == NULL; i++)
    {
      g_autofree char *answer = raw_upgrade (s, "", "Authorization: Bearer nope\r\n"
                                                    "X-Real-IP: 203.0.113.\xff\r\n", NULL);

      if (g_str_has_prefix (answer, "HTTP/1.1 429"))
        limited = g_steal_pointer (&answer);
      else
        assert_utf8_error (answer, 401, "unauthorized");
    }
  g_assert_nonnull (limited);
  assert_utf8_error (limited, 429, "rate-limited");
}

/* ------------------------------------------------------------------- main */

int
main (int    argc,
      char **argv)
{
  static const NamedTest both[] = {
    { "token-guessing", test_token_guessing },
    { "forged-address", test_forged_address },
    { "header-echoes", test_header_echoes },
    { "token-elsewhere", test_token_elsewhere },
    { "connection-churn", test_connection_churn },
    { "isolation", test_isolation },
    { "injection", test_injection },
    { "client-injection", test_client_injection },
    { "oversized", test_oversized },
    { "read-timeout", test_read_timeout },
    { "ws-frames", test_ws_frames },
    { "ws-request-ids", test_ws_request_ids },
  };

  tether_test_server_set_prefix ("/tether/reliability/security");
  tether_test_server_init (&argc, &argv);
  tether_test_server_add_both (both, G_N_ELEMENTS (both));
  return tether_test_server_run ();
}
