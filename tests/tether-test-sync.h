/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-test-server.h"

G_BEGIN_DECLS

/* Sync clients for the end-to-end suites: a database file with the default
 * schema, a TetherSyncEngine and a transport to a real tether-server
 * (tether-test-server.h), plus dumps that compare clients and the server. */

#define SYNC_TIMEOUT_MS  30000   /* one sync, however slow the machine */
#define SETTLE_TIMEOUT_MS 20000  /* auto-sync, server_push, backoff */

typedef enum {
  CLIENT_HTTP   = 0,
  CLIENT_FAULTY = 1 << 0,   /* wrap the transport in a TetherFaultyTransport */
  CLIENT_WS     = 1 << 1,   /* WebSocket instead of HTTP */
  CLIENT_REMOTE = 1 << 2,   /* tether_sync_engine_set_remote: the engine makes its HTTP transport */
} ClientFlags;

typedef struct {
  Fixture               *f;
  Server                *s;
  char                  *name;
  char                  *path;
  char                  *token;
  char                  *url;      /* the server's base when the client was made or retargeted */
  ClientFlags            flags;
  guint32                seed;
  TetherDatabase        *db;
  TetherSyncEngine      *engine;
  TetherTransport       *inner;    /* HTTP or WebSocket; NULL with CLIENT_REMOTE */
  TetherFaultyTransport *faulty;   /* NULL without CLIENT_FAULTY */
  TetherCollection      *notes;
  TetherCollection      *tasks;
} Client;

/* Clients are freed with the test (g_test_queue_destroy). */
Client     *client_new        (Fixture     *f,
                               Server      *s,
                               const char  *name,
                               const char  *token);
Client     *client_new_full   (Fixture     *f,
                               Server      *s,
                               const char  *name,
                               const char  *token,
                               ClientFlags  flags,
                               guint32      seed);
/* Close the file and open it again with a new engine (as after a restart). */
void        client_reopen     (Client      *c);
/* A new transport to c->s->base (after the server moved). Faults are off. */
void        client_retarget   (Client      *c);
/* Reopen with @schema instead of the default (c->tasks NULL without tasks). */
void        client_reopen_schema (Client       *c,
                                  TetherSchema *schema);
void        client_set_faults (Client      *c,
                               guint        drop_every,
                               guint        lose_every,
                               guint        duplicate_every,
                               guint        max_delay_ms);
void        client_set_offline (Client     *c,
                                gboolean    offline);

/* One sync through the async API on the fixture's context, bounded by
 * SYNC_TIMEOUT_MS; FALSE with the engine's error. */
gboolean    client_try_sync   (Client           *c,
                               TetherSyncReport *report,
                               GError          **error);
/* The same, asserting success. */
TetherSyncReport client_sync  (Client      *c);
/* A sync during which @write runs once, as soon as a change of @c is on
 * its way to the server (the answer is not stored yet). */
typedef void (*ClientWrite) (Client *c, gpointer data);
TetherSyncReport client_sync_writing (Client      *c,
                                      ClientWrite  write,
                                      gpointer     data);
/* tether_sync_engine_sync(): the blocking API on a private context. */
TetherSyncReport client_sync_blocking (Client *c);
void        client_sync_error (Client      *c,
                               int          code);

/* Writes; abort the test on error. JSON text in, id out. */
char       *client_create     (Client      *c,
                               const char  *collection,
                               const char  *json);
char       *client_create_unchecked (Client      *c,
                                     const char  *collection,
                                     const char  *json);
void        client_put        (Client      *c,
                               const char  *collection,
                               const char  *json);
void        client_update     (Client      *c,
                               const char  *collection,
                               const char  *id,
                               const char  *patch);
void        client_delete     (Client      *c,
                               const char  *collection,
                               const char  *id);
/* The record's data (a new reference), NULL when it does not exist. */
JsonObject *client_get        (Client      *c,
                               const char  *collection,
                               const char  *id);
/* A string member of a record, NULL when the record or member is absent. */
char       *client_string     (Client      *c,
                               const char  *collection,
                               const char  *id,
                               const char  *field);

/* Every record of both collections as canonical JSON text: {"notes": [...],
 * "tasks": [...]}, records sorted by id, members sorted by name. */
char       *client_dump       (Client      *c);
/* The same from the server's feed (pull_all from null); @feed_end: the
 * final cursor as a number (the user's last rev). */
char       *server_dump       (Fixture     *f,
                               Server      *s,
                               const char  *token,
                               gint64      *feed_end);
/* All clients and the server hold the same records. */
void        assert_converged  (Fixture     *f,
                               Server      *s,
                               const char  *token,
                               Client     **clients,
                               guint        n_clients);

GPtrArray  *client_changes    (Client      *c,
                               int          status);   /* TetherSyncChange*, status < 0: all */
GPtrArray  *client_conflicts  (Client      *c,
                               gboolean     open_only); /* TetherConflict* */

/* JSON with object members sorted, compact. */
char       *canonical_node    (JsonNode    *node);
char       *canonical_object  (JsonObject  *object);
/* A string member of @object (NULL-safe), or NULL. */
const char *object_string     (JsonObject  *object,
                               const char  *member);

/* Make restarts of @s listen on the port it has now, so clients keep
 * their URL across server_kill/server_spawn/server_restart. */
void        server_pin_port   (Server      *s);
/* Replace the serve options (the pinned port is kept); takes effect at the
 * next spawn. */
void        server_set_extra  (Server      *s,
                               const char * const *extra);
/* Start again after server_kill(). */
void        server_revive     (Fixture     *f,
                               Server      *s);

/* The CLI: $TETHER_CLI with @args (NULL-terminated), stdin closed; the
 * fixture's context keeps running while it does. */
Command    *cli_run           (Fixture            *f,
                               const char * const *args);
/* The same in two steps: started, then waited for (the context runs
 * meanwhile); cli_wait() frees @run. */
typedef struct _CliRun CliRun;
CliRun     *cli_start         (Fixture            *f,
                               const char * const *args);
Command    *cli_wait          (Fixture            *f,
                               CliRun             *run);
/* Whether `tether --help` lists @command. */
gboolean    cli_has_command   (Fixture     *f,
                               const char  *command);
const char *cli_path          (void);

/* The file of the default schema in the source tree, changed by @edit
 * (a function on the parsed schema object) and written to @dir. */
char       *schema_file_new   (const char  *dir,
                               void       (*edit) (JsonObject *schema));

G_END_DECLS
