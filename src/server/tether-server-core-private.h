/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-server-core.h"

G_BEGIN_DECLS

#define TETHER_SERVER_MAX_CHANGE_ID    256
#define TETHER_SERVER_MAX_COLLECTION   128
/* Bytes of a string recordId. Its JSON text (six bytes for an escaped
 * control character) and the collection must fit one entry of
 * PostgreSQL's btree index (about 2,700 bytes), with room to spare. */
#define TETHER_SERVER_MAX_RECORD_ID    256
#define TETHER_SERVER_PUSH_TRIES       5
/* Bytes of remote records in one push answer's conflicts. */
#define TETHER_SERVER_MAX_CONFLICT_BYTES (8 * 1024 * 1024)

typedef enum {
  TETHER_JSON_ABSENT,
  TETHER_JSON_NULL,
  TETHER_JSON_TRUE,
  TETHER_JSON_FALSE,
  TETHER_JSON_INT,
  TETHER_JSON_DOUBLE,
  TETHER_JSON_STRING,
  TETHER_JSON_OBJECT,
  TETHER_JSON_ARRAY,
} TetherServerJsonKind;

/* A value found by the scanner: where its text is and what it is. */
typedef struct {
  TetherServerJsonKind  kind;
  char                 *start;
  gsize                 length;
  gboolean              compact;     /* no whitespace between tokens: stored as it is */
  gboolean              escaped;     /* a string with backslash escapes */
  gboolean              broken;      /* holds \u0000, a lone surrogate or an infinite number */
  gint64                integer;
  const char           *string;      /* decoded string, once decoded */
} TetherServerValue;

typedef struct {
  char      *start;
  char      *p;
  char      *end;
  guint      depth;
  gboolean   failed;
  GError   **error;
} TetherServerScanner;

/* One change of a push request. Strings point into the request's buffer,
 * which outlives every use; data and base_data are raw JSON text there.
 * error_code is NULL for a change that passed every check. */
typedef struct {
  const char       *id;
  const char       *collection;
  char             *key;          /* canonical JSON text of recordId */
  char             *ref;          /* tether_server_record_ref (collection, key) */
  TetherChangeType  type;
  const char       *data;         /* the "data" member as sent, NULL when absent */
  gsize             data_length;
  gboolean          data_is_object;
  char             *data_json;    /* compact data for create/update, else NULL */
  const char       *base_data;    /* an object "baseData", else NULL */
  gsize             base_data_length;
  const char       *timestamp;    /* may be NULL */
  gint64            timestamp_ms;
  gint64            base_rev;     /* -1 without baseRev (seed rules) */
  const char       *hlc;          /* may be NULL */
  const char       *error_code;   /* "bad-change", "validation", … */
  char             *error;
} TetherServerChange;

/* The conflicts of a push answer, written as they are judged. */
typedef struct {
  GString    *out;            /* JSON array members */
  gsize       remote_bytes;   /* of the remote records written so far */
  GHashTable *remotes;        /* const TetherServerRecord* → its size and tree */
} TetherServerConflicts;

typedef struct {
  char               *buffer;     /* the body, decoded in place */
  const char         *client_id;
  gboolean            has_schema_version;
  gint64              schema_version;
  TetherServerChange *changes;
  guint               n_changes;
} TetherServerPushRequest;


/* tether-server-core.c */
gboolean      _tether_server_fail                 (GError    **error,
                                                   int         code,
                                                   const char *format,
                                                   ...) G_GNUC_PRINTF (3, 4);
TetherSchema *_tether_server_core_get_schema      (TetherServerCore *self);
guint         _tether_server_core_get_max_changes (TetherServerCore *self);
void          _tether_server_core_feed_changed    (TetherServerCore *self,
                                                   gint64            user_id,
                                                   gint64            rev);
/* Takes @store_error and sets @error to the TETHER_SERVER_ERROR answer. */
void          _tether_server_store_failed         (GError          **error,
                                                   GError           *store_error);

/* tether-server-request.c */
TetherServerPushRequest *_tether_server_push_request_parse (const char    *body,
                                                            gsize          length,
                                                            TetherSchema  *schema,
                                                            guint          max_changes,
                                                            GError       **error);
void          _tether_server_push_request_free    (TetherServerPushRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherServerPushRequest, _tether_server_push_request_free)
gboolean      _tether_server_hlc_is_valid         (const char *hlc);

/* tether-server-push-conflicts.c */
void          _tether_server_conflicts_init       (TetherServerConflicts    *self);
void          _tether_server_conflicts_clear      (TetherServerConflicts    *self);
/* Writes the entry of @change, which met @current (NULL: no record); FALSE
 * when the answer has no room left for it and it is left out. */
gboolean      _tether_server_conflicts_add        (TetherServerConflicts    *self,
                                                   const TetherServerChange *change,
                                                   const TetherServerRecord *current);
void          _tether_server_conflicts_forget_records (TetherServerConflicts *self);

/* tether-server-json.c */
gboolean      _tether_server_check_depth          (const char *body,
                                                   gsize       length,
                                                   guint       max_depth,
                                                   GError    **error);
/* Not empty, UTF-8, not nested too deep. */
gboolean      _tether_server_check_body           (const char *body,
                                                   gsize       length,
                                                   GError    **error);
/* Not empty, UTF-8: for a body only the scanner reads, which stops at
 * TETHER_SERVER_MAX_DEPTH itself. */
gboolean      _tether_server_check_text           (const char *body,
                                                   gsize       length,
                                                   GError    **error);
/* Valid by the scanner's rules, without strings or numbers json-glib
 * would change (see tether-server-json.c). */
gboolean      _tether_server_check_strict         (const char *body,
                                                   gsize       length,
                                                   GError    **error);
gboolean      _tether_server_skip_space           (TetherServerScanner *s);
gboolean      _tether_server_scan_error           (TetherServerScanner *s,
                                                   const char          *what);
gboolean      _tether_server_expect               (TetherServerScanner *s,
                                                   char                 c,
                                                   const char          *what);
gboolean      _tether_server_scan_value           (TetherServerScanner *s,
                                                   TetherServerValue   *value);
gboolean      _tether_server_scan_name            (TetherServerScanner  *s,
                                                   guint                 index,
                                                   char                **name);
gboolean      _tether_server_scan_member          (TetherServerScanner  *s,
                                                   guint                 index,
                                                   char                **name,
                                                   TetherServerValue    *value);
char         *_tether_server_value_decode         (TetherServerValue *value);
/* Valid JSON text without whitespace between tokens, every token kept. */
char         *_tether_server_compact              (const char *text,
                                                   gsize       length,
                                                   gsize      *out_length);
/* json-glib's tree of a piece of JSON text known to be valid. */
JsonNode     *_tether_server_parse_slice          (const char *text,
                                                   gsize       length);

/* tether-server-pull.c */
JsonNode     *_tether_server_parse_object         (const char *body,
                                                   gsize       length,
                                                   GError    **error);
void          _tether_server_append_string        (GString    *out,
                                                   const char *text);
void          _tether_server_append_time          (GString    *out,
                                                   gint64      ms);
void          _tether_server_append_int           (GString    *out,
                                                   gint64      value);
/* The pull change objects of @rows[0..n), as a JSON array. */
void          _tether_server_append_changes       (GString    *out,
                                                   GPtrArray  *rows,
                                                   guint       n);
/* Every change of the user's feed after @after_rev (TetherServerRecord*),
 * read in pages; @last_rev is the last one's rev, or @after_rev. */
GPtrArray    *_tether_server_core_feed_since      (TetherServerCore  *self,
                                                   gint64             user_id,
                                                   gint64             after_rev,
                                                   gint64            *last_rev,
                                                   GError           **error);
/* Parses and frees @text (NULL gives NULL). */
JsonNode     *_tether_server_text_to_node         (char       *text,
                                                   GError    **error);

/* tether-server-users.c */
void          _tether_server_token_hash           (const char *token,
                                                   gsize       length,
                                                   guint8      hash[32]);

G_END_DECLS
