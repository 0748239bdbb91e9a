/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"
#include "tether-server-store.h"

G_BEGIN_DECLS

/* The sync core of tether-server: request parsing and validation, the push
 * and pull algorithms of docs/protocol.md over a TetherServerStore, users and
 * tokens. No HTTP here: the HTTP/WebSocket layer (tether-server.c) calls these
 * and maps errors to status codes with tether_server_error_status(). */

#define TETHER_SERVER_ERROR (tether_server_error_quark ())

typedef enum {
  TETHER_SERVER_ERROR_BAD_REQUEST,     /* 400 "bad-request": malformed JSON, wrong types, missing fields */
  TETHER_SERVER_ERROR_TOO_DEEP,        /* 400 "too-deep": JSON nested deeper than the limit */
  TETHER_SERVER_ERROR_BAD_CURSOR,      /* 400 "bad-cursor" */
  TETHER_SERVER_ERROR_UNAUTHORIZED,    /* 401 "unauthorized" */
  TETHER_SERVER_ERROR_SCHEMA_TOO_NEW,  /* 409 "schema-too-new": the client's schema is newer than the server's */
  TETHER_SERVER_ERROR_SCHEMA_TOO_OLD,  /* 409 "schema-too-old" */
  TETHER_SERVER_ERROR_CURSOR_EXPIRED,  /* 410 "cursor-expired" */
  TETHER_SERVER_ERROR_TOO_LARGE,       /* 413 "too-large": body over --max-body */
  TETHER_SERVER_ERROR_TOO_MANY,        /* 413 "too-many-changes": more changes than allowed in one push */
  TETHER_SERVER_ERROR_RATE_LIMITED,    /* 429 "rate-limited" (Retry-After set by the HTTP layer) */
  TETHER_SERVER_ERROR_UNAVAILABLE,     /* 503 "unavailable": storage busy or down; retry */
  TETHER_SERVER_ERROR_INTERNAL,        /* 500 "internal" */
} TetherServerError;

#define TETHER_SERVER_MAX_DEPTH        64     /* JSON nesting limit of a request */
#define TETHER_SERVER_DEFAULT_MAX_CHANGES 1000
#define TETHER_SERVER_DEFAULT_BATCH    100    /* pull batchSize default */
#define TETHER_SERVER_MAX_BATCH        1000   /* pull batchSize cap */
#define TETHER_SERVER_HLC_MAX_AHEAD_MS (60 * 60 * 1000)

GQuark      tether_server_error_quark   (void);
guint       tether_server_error_status  (const GError *error);   /* HTTP status for any GError (500 for foreign ones) */
const char *tether_server_error_code    (const GError *error);   /* "bad-request", … ("internal" for foreign ones) */
/* {"error": "<message>", "code": "<code>"} */
JsonNode   *tether_server_error_to_json (const GError *error);

#define TETHER_TYPE_SERVER_CORE (tether_server_core_get_type ())
G_DECLARE_FINAL_TYPE (TetherServerCore, tether_server_core, TETHER, SERVER_CORE, GObject)

/* @schema: when not NULL, pushed records are validated against it and a
 * record that breaks it becomes an `errors` entry naming field and rule. */
TetherServerCore *tether_server_core_new         (TetherServerStore *store,
                                                  TetherSchema      *schema,
                                                  guint              max_changes,
                                                  gint64             tombstone_retention_ms);
TetherServerStore *tether_server_core_get_store  (TetherServerCore *self);

/* Authorization header value ("Bearer <token>") → user. FALSE with
 * TETHER_SERVER_ERROR_UNAUTHORIZED for a missing, malformed or unknown token. */
gboolean   tether_server_core_authenticate      (TetherServerCore  *self,
                                                 const char        *authorization,
                                                 TetherServerUser  *out,
                                                 GError           **error);

/* POST /push: @body is the raw request body. Returns the response object;
 * @n_changes (may be NULL) is set to the number of changes in the request.
 * After a commit that accepted changes, "feed-changed" is emitted. */
JsonNode  *tether_server_core_push              (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 const char             *body,
                                                 gsize                   length,
                                                 guint                  *n_changes,
                                                 GError                **error);
/* POST /pull with a JSON body, or GET /pull with the query parameters
 * cursor, collections (comma separated), batchSize (@query may be NULL). */
JsonNode  *tether_server_core_pull              (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 const char             *body,
                                                 gsize                   length,
                                                 guint                  *n_changes,
                                                 GError                **error);
JsonNode  *tether_server_core_pull_query        (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 GHashTable             *query,
                                                 guint                  *n_changes,
                                                 GError                **error);
/* The same three answers as JSON text, which is what the HTTP layer sends.
 * Stored record data goes into it as stored, without being parsed and
 * written again (the JsonNode calls above parse this text): use these on
 * the hot paths, they are several times faster. */
char      *tether_server_core_push_text         (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 const char             *body,
                                                 gsize                   length,
                                                 guint                  *n_changes,
                                                 GError                **error);
char      *tether_server_core_pull_text         (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 const char             *body,
                                                 gsize                   length,
                                                 guint                  *n_changes,
                                                 GError                **error);
char      *tether_server_core_pull_query_text   (TetherServerCore       *self,
                                                 const TetherServerUser *user,
                                                 GHashTable             *query,
                                                 guint                  *n_changes,
                                                 GError                **error);
/* Pull change objects (as in a pull response) with rev > @after_rev, up to
 * the feed's end, for server_push; @last_rev is set to the last rev returned. */
JsonNode  *tether_server_core_changes_since     (TetherServerCore  *self,
                                                 gint64             user_id,
                                                 gint64             after_rev,
                                                 gint64            *last_rev,
                                                 GError           **error);
/* GET <base>: {"server": "tether-server", "protocol": 1, "schemaVersion": N, "features": [...]} */
JsonNode  *tether_server_core_info              (TetherServerCore *self);

/* Users. add and rotate return the new token (shown once; only its SHA-256
 * is stored): 32 random bytes, base64url without padding. */
char      *tether_server_core_user_add          (TetherServerCore *self, const char *name, GError **error);
char      *tether_server_core_user_rotate       (TetherServerCore *self, const char *name, GError **error);
gboolean   tether_server_core_user_remove       (TetherServerCore *self, const char *name, GError **error);
GPtrArray *tether_server_core_user_list         (TetherServerCore *self, GError **error);

/* Purge tombstones older than the retention; -1 on error. */
gint64     tether_server_core_purge             (TetherServerCore *self, GError **error);

/* Signal "feed-changed" (gint64 user_id, gint64 rev): a user's feed moved,
 * by this process (after commit) or another one (via the store's notify). */

G_END_DECLS
