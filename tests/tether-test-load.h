/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-test-server.h"

G_BEGIN_DECLS

/* The pieces of test-load: the run and its checks (test-load.c), one load
 * client's writes, reads and answers (tether-test-load-client.c), and its
 * HTTP or WebSocket connection (tether-test-load-wire.c). All of it runs on
 * the fixture's main context. */

#define N_USERS             10
#define STATUS_RATE_LIMITED 429

typedef enum {
  HTTP_PUSH,
  HTTP_PULL,
  WS_PUSH,
  WS_PULL,
  N_KINDS
} Kind;

extern const char * const load_kind_names[N_KINDS];

typedef struct _Load Load;

typedef struct {
  Load                    *load;
  guint                    user;
  char                    *name;        /* "u3-w7": prefix of its record and change ids */
  gboolean                 ws;
  GRand                   *rand;
  GHashTable              *revs;        /* record id → gint64 *: rev of its last accepted write */
  GPtrArray               *records;     /* the same record ids, to pick updates from */
  GHashTable              *batch;       /* change id → record id of the push in flight */
  guint                    n_batches;
  char                    *cursor;      /* pull position; NULL: the start */
  char                    *body;        /* request in flight, kept to resend after a 429 */
  gboolean                 pushing;
  gint64                   sent_us;
  gboolean                 done;
  guint                    n_429;
  SoupSession             *session;     /* HTTP clients only: one connection, kept alive */
  SoupMessage             *msg;         /* HTTP request or WebSocket upgrade in flight */
  /* WebSocket clients only */
  SoupWebsocketConnection *conn;
  guint                    n_requests;
  char                    *request_id;
  gint64                   subscribed;  /* feed end once caught up (-1 before): later revs must be pushed */
  GByteArray              *seen;        /* seen[rev]: heard of by server_push or its own push */
  guint                    n_checked;   /* feed revs known to be seen, in feed order */
} LoadClient;

struct _Load {
  Fixture   *f;
  Server    *s;
  char      *tokens[N_USERS];
  char      *authorization[N_USERS];
  GPtrArray *clients;
  gint64     started_us;
  gint64     deadline_us;
  gboolean   started;            /* every WebSocket client subscribed: the writes begin */
  guint      n_subscribed;       /* WebSocket clients waiting for the start */
  gint64     ended_us;
  guint      n_running;
  guint      n_open;             /* WebSocket connections */
  gboolean   closing;
  guint      n_requests[N_KINDS];
  GArray    *latency[N_KINDS];   /* gint64 µs of each 200 answer */
  guint      n_429;
  guint      n_changes;          /* accepted */
  guint      n_pulled;
  guint      n_server_push;      /* messages */
  guint      n_server_push_live; /* messages before the deadline */
  guint      n_server_pushed;    /* changes in them */
  GArray    *feed_revs[N_USERS]; /* gint64: the final feed's revs, ascending */
  GArray    *rss;                /* guint64 kB, every RSS_EVERY_MS */
  GSource   *rss_source;
  guint64    rss_start;          /* after the warm-up */
  guint64    rss_peak;
  guint      n_failures;
};


/* A load failure: counted, and the first MAX_FAILURES_SHOWN in the log. */
void        load_fail               (Load       *load,
                                     const char *format,
                                     ...) G_GNUC_PRINTF (2, 3);

/* tether-test-load-client.c */
LoadClient *load_client_new         (Load       *load,
                                     guint       user,
                                     guint       index,
                                     gboolean    ws);
void        load_client_free        (LoadClient *c);
/* The next request, or the end once the deadline passed. */
void        load_client_step        (LoadClient *c);
void        load_client_finish      (LoadClient *c);
/* An answer over HTTP or WebSocket: @result is its JSON when it is a 200. */
void        load_client_answer      (LoadClient *c,
                                     Kind        kind,
                                     guint       status,
                                     JsonObject *result,
                                     const char *retry_after,
                                     const char *text);
/* A 429: the same request again after Retry-After. */
void        load_client_retry       (LoadClient *c,
                                     const char *retry_after);
void        load_client_server_push (LoadClient *c,
                                     JsonObject *message);
/* Whether @c heard of @rev, by server_push or as its own push's answer. */
gboolean    load_client_was_seen    (LoadClient *c,
                                     gint64      rev);

/* tether-test-load-wire.c */
void        load_http_send          (LoadClient *c);
void        load_ws_connect         (LoadClient *c);
void        load_ws_send            (LoadClient *c);

G_END_DECLS
