/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-test-server.h"

G_BEGIN_DECLS

/* The pieces of test-security: what every attack shares (a snapshot of
 * what the server holds, requests written byte by byte on a socket) in
 * tether-test-attack.c, and the attacks by kind in tether-test-attack-*.c. */

#define SECRET     "alice-secret"
#define ALICE_DATA "{\"title\":\"" SECRET "\"}"
#define DEEP       10000
#define SMALL_PUSH "{\"changes\":[{\"id\":\"x1\",\"collection\":\"n\",\"recordId\":\"x\",\"type\":\"create\",\"data\":{}}]}"

/* Everything the server holds for alice and for bob, as text. */
char       *snapshot          (Fixture    *f,
                               Server     *s);
void        assert_unchanged  (Fixture    *f,
                               Server     *s,
                               const char *before);
/* @text as a JSON string, quoted and escaped. */
char       *json_text         (const char *text);
char       *object_text       (JsonObject *object);
/* Aborts when @text holds alice's secret or her client id. */
void        assert_no_secret  (const char *text);
/* @open @depth times, @inner, then @close @depth times. */
char       *nested            (const char *open,
                               const char *inner,
                               const char *close,
                               guint       depth);
/* Alice's three changes (her secret in two collections), asserted accepted. */
JsonObject *alice_writes      (Fixture    *f,
                               Server     *s);
/* The next WebSocket message, whatever it is; NULL when the connection closed. */
JsonObject *ws_next           (Ws         *ws);

/* Raw requests: @data written on a new connection, and the answer read up
 * to its end (or to the close; "" when the server closed without one). */
char       *raw_exchange      (Server     *s,
                               const char *data,
                               gsize       length);
/* The answer has @status and, unless @code is NULL, a JSON error naming it. */
void        assert_raw        (const char *response,
                               guint       status,
                               const char *code);
/* An upgrade to /ws@query with @headers ("Name: value\r\n"…), followed at
 * once by the text frame @frame when not NULL. */
char       *raw_upgrade       (Server     *s,
                               const char *query,
                               const char *headers,
                               const char *frame);
/* POST /push as alice, with @headers after the Authorization, then @body. */
char       *raw_push          (Fixture    *f,
                               Server     *s,
                               const char *headers,
                               const char *body,
                               gsize       length);

/* The attacks, each a test of test-security on both storages. */
void        test_isolation        (Fixture *f);   /* tether-test-attack-users.c */
void        test_ws_request_ids   (Fixture *f);
void        test_injection        (Fixture *f);   /* tether-test-attack-sql.c */
void        test_client_injection (Fixture *f);
void        test_oversized        (Fixture *f);   /* tether-test-attack-input.c */
void        test_read_timeout     (Fixture *f);
void        test_ws_frames        (Fixture *f);

G_END_DECLS
