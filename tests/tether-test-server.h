/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

#include "tether-test-util.h"

G_BEGIN_DECLS

/* Real tether-server processes on 127.0.0.1, and an HTTP and a WebSocket
 * client for them: what the server suites share (docs/protocol.md). */

#define START_TIMEOUT_MS   10000
#define STOP_TIMEOUT_MS    10000
#define REQUEST_TIMEOUT_MS 60000
#define PUSH_TIMEOUT_MS    10000   /* waiting for a server_push */
#define QUIET_MS           300     /* how long "nothing arrives" is watched */
#define MANY_CLIENTS       64      /* connecting at once, as after a server restart */

typedef struct {
  GSubprocess *process;
  GStrv        extra;   /* serve options after the storage, kept for restarts */
  char        *log;     /* its stdout and stderr */
  char        *base;    /* http://127.0.0.1:PORT/BASE, no trailing slash */
} Server;

typedef struct {
  gboolean      postgres;
  gboolean      skipped;
  char         *dir;
  char         *storage[2];   /* "--db" FILE or "--postgres" CONNINFO */
  GMainContext *context;
  SoupSession  *session;
  GPtrArray    *sockets;      /* Ws, closed in teardown */
  GPtrArray    *servers;      /* Server, stopped in teardown */
  guint         n_logs;
  char         *alice;        /* tokens */
  char         *bob;
} Fixture;

typedef void (*TestFunc) (Fixture *f);

typedef gboolean (*ReadyFunc) (gpointer data);

typedef struct {
  int   status;
  char *out;
  char *err;
} Command;

typedef struct {
  SoupMessage *msg;
  GBytes      *body;
  GError      *error;
  gboolean     done;
  gboolean     wrote_body;
  gint64       wrote_at;   /* monotonic µs */
  gint64       done_at;
} Call;

typedef struct {
  guint     status;
  char     *text;
  JsonNode *json;   /* NULL when the body is not JSON */
  char     *retry_after;
} Reply;

typedef struct {
  Fixture                 *f;
  SoupWebsocketConnection *conn;
  GQueue                   inbox;   /* JsonObject: messages not taken yet */
  GQueue                   texts;   /* char*: the same messages as sent, to check bytes */
  gboolean                 closed;
} Ws;

typedef struct {
  const char *name;
  TestFunc    func;
} NamedTest;

/* main: tests are added once per storage, under /tether/server/protocol/. */
void     tether_test_server_init     (int              *argc,
                                     char           ***argv);
void     tether_test_server_add      (const char       *name,
                                     TestFunc          func,
                                     gboolean          postgres);
void     tether_test_server_add_both (const NamedTest  *tests,
                                     guint             n_tests);
int      tether_test_server_run      (void);
/* Test paths are <prefix>/<storage>/<name>; default "/tether/server/protocol". */
void     tether_test_server_set_prefix (const char *prefix);

/* main loop */
gboolean wait_until (Fixture *f, ReadyFunc ready, gpointer data, guint timeout_ms);
gboolean flag_ready (gpointer data);
void run_for (Fixture *f, guint ms);

/* processes */
Command *user_command (Fixture *f, const char *verb, const char *name);
char *user_token (Fixture *f, const char *verb, const char *name);
char *user_add (Fixture *f, const char *name);
char *read_log (Server *s);
gboolean log_waits_for (Server     *s,
                        const char *needle);
void server_spawn (Fixture *f, Server *s);
Server *server_start (Fixture *f, const char * const *extra);
void server_kill (Server *s);
void server_restart (Fixture *f, Server *s);
void command_free (Command *command);

/* HTTP */
void call_free (Call *call);
SoupMessage *message_new (Server *s,
                          const char *method,
                          const char *path,
                          const char *authorization);
Call *call_send (Fixture *f, SoupMessage *msg);
char *bearer (const char *token);
Call *call_start (Fixture *f,
                  Server *s,
                  const char *method,
                  const char *path,
                  const char *token,
                  const char *body);
gboolean call_ready (gpointer data);
Reply *call_reply (Call *call);
Reply *call_finish (Fixture *f, Call *call);
Reply *request_auth (Fixture *f,
                     Server *s,
                     const char *method,
                     const char *path,
                     const char *authorization,
                     const char *body);
Reply *request (Fixture *f,
                Server *s,
                const char *method,
                const char *path,
                const char *token,
                const char *body);
void assert_status (Reply *reply, guint status);
JsonObject *reply_object (Reply *reply);
void assert_error (Reply *reply, guint status, const char *code);
JsonObject *post_ok (Fixture *f, Server *s, const char *path, const char *token, const char *body);
void reply_free (Reply *reply);

/* push and pull */
gint64 now_ms (void);
char *change_new (const char *id,
                  const char *collection,
                  const char *record_id,
                  const char *type,
                  const char *data,
                  gint64 base_rev,
                  const char *extra);
G_GNUC_NULL_TERMINATED char *push_body (const char *client_id, ...);
G_GNUC_NULL_TERMINATED JsonObject *push (Fixture *f,
                                         Server *s,
                                         const char *token,
                                         const char *client_id,
                                         ...);
guint count_of (JsonObject *response, const char *array);
JsonObject *assert_accepted (JsonObject *response, const char *id);
gint64 accepted_rev (JsonObject *response, const char *id);
JsonObject *assert_conflict (JsonObject *response, const char *id);
JsonObject *assert_change_error (JsonObject *response, const char *id, const char *code);
void assert_counts (JsonObject *response, guint accepted, guint conflicts, guint errors);
JsonObject *pull (Fixture *f, Server *s, const char *token, const char *body);
JsonArray *pull_all (Fixture *f,
                     Server *s,
                     const char *token,
                     const char *collections,
                     char **cursor_out);
char *node_text (JsonNode *node);
JsonObject *find_change (JsonArray *changes, const char *collection, const char *record_id);
char *change_data (JsonObject *change);
char *compact (const char *json);
void assert_iso_time (const char *text);

/* WebSocket */
void ws_free (gpointer data);
Ws *ws_connect (Fixture *f, Server *s, const char *token, guint *status);
Ws *ws_open (Fixture *f, Server *s, const char *token);
JsonObject *ws_request (Ws *ws, const char *type, const char *request_id, const char *payload);
JsonArray *ws_server_push (Ws *ws, guint timeout_ms);
/* The text of the next server_push message, as the server sent it. */
char *ws_server_push_text (Ws *ws, guint timeout_ms);
/* The head of the inbox, with its text in @text if not NULL. */
JsonObject *ws_pop (Ws *ws, char **text);
void assert_no_server_push (Ws *ws);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Command, command_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

G_END_DECLS
