/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Storage behind tether-server. Two implementations (SQLite, PostgreSQL)
 * pass one test suite. Every call is synchronous. Feed calls run between
 * begin() and commit()/rollback(); the push algorithm (tether-server-core.c)
 * is written once on top of this interface. */

#define TETHER_SERVER_STORE_ERROR (tether_server_store_error_quark ())

typedef enum {
  TETHER_SERVER_STORE_ERROR_FAILED,     /* the database failed (I/O, connection lost) */
  TETHER_SERVER_STORE_ERROR_NOT_FOUND,  /* no such user */
  TETHER_SERVER_STORE_ERROR_EXISTS,     /* a user with that name already exists */
  TETHER_SERVER_STORE_ERROR_BUSY,       /* serialization failure / lock timeout: retry the transaction */
} TetherServerStoreError;

typedef struct {
  gint64  id;
  char   *name;
  gint64  created_ms;
  guint8  token_hash[32];   /* filled by user_by_token, for a constant-time check */
} TetherServerUser;

/* The state of one record in a user's feed (the feed keeps only the latest
 * state of each record; a delete leaves a tombstone). */
typedef struct {
  char   *collection;
  char   *key;          /* the record id as canonical JSON text: "\"abc\"" or "42" */
  char   *data;         /* JSON text of the record as the client sent it; NULL for a tombstone */
  int     type;         /* TetherChangeType of the write that left this state */
  gint64  rev;          /* position in the user's feed, strictly increasing per user */
  gint64  server_ms;    /* server time of the write */
  char   *hlc;          /* the writer's hybrid logical clock, may be NULL; or a writer time
                         * (see tether_server_writer_time_new) */
  gint64  writer_ms;    /* the writer's time: its hlc's ms, else server_ms (set by get_records) */
  char   *change_id;    /* the change that wrote this state */
  char   *client_id;    /* the client that wrote it, may be NULL */
} TetherServerRecord;

/* An applied change, remembered for idempotency. */
typedef struct {
  gint64  rev;
  gint64  server_ms;
  char   *hlc;          /* the stored hlc when the server clamped it, else NULL */
} TetherServerApplied;

#define TETHER_TYPE_SERVER_STORE (tether_server_store_get_type ())
G_DECLARE_INTERFACE (TetherServerStore, tether_server_store, TETHER, SERVER_STORE, GObject)

struct _TetherServerStoreInterface
{
  GTypeInterface parent_iface;

  /* Transactions (not nested). */
  gboolean   (*begin)            (TetherServerStore *self, GError **error);
  gboolean   (*commit)           (TetherServerStore *self, GError **error);
  void       (*rollback)         (TetherServerStore *self);

  /* Users (each call is its own transaction). Tokens are stored only as
   * SHA-256 hashes (32 bytes). */
  gboolean   (*user_add)         (TetherServerStore *self, const char *name,
                                  const guint8 token_hash[32], GError **error);
  gboolean   (*user_set_token)   (TetherServerStore *self, const char *name,
                                  const guint8 token_hash[32], GError **error);
  gboolean   (*user_remove)      (TetherServerStore *self, const char *name, GError **error);
  GPtrArray *(*user_list)        (TetherServerStore *self, GError **error);   /* TetherServerUser* by name */
  /* FALSE with no error when no user has that token. */
  gboolean   (*user_by_token)    (TetherServerStore *self, const guint8 token_hash[32],
                                  TetherServerUser *out, GError **error);

  /* Feed, inside a transaction. Batch calls: one push batch costs a handful
   * of round trips, not several per change.
   *
   * lock_user serialises all pushes of one user (SQLite: the write lock;
   * PostgreSQL: SELECT … FOR UPDATE on the user row) and returns the user's
   * last rev, or -1 with an error. */
  gint64     (*lock_user)        (TetherServerStore *self, gint64 user_id, GError **error);
  gboolean   (*set_last_rev)     (TetherServerStore *self, gint64 user_id, gint64 rev, GError **error);
  /* Those of @change_ids applied before for this user:
   * change id (char*) → TetherServerApplied*. NULL on error. */
  GHashTable *(*find_applied)    (TetherServerStore *self, gint64 user_id,
                                  const char * const *change_ids, guint n, GError **error);
  gboolean   (*remember_applied) (TetherServerStore *self, gint64 user_id,
                                  const char * const *change_ids,
                                  TetherServerApplied * const *applied, guint n, GError **error);
  /* Current states (tombstones included) of the records named by
   * @collections[i]/@keys[i] that exist: tether_server_record_ref (c, k) →
   * TetherServerRecord*. NULL on error. Without @with_data the store may
   * leave collection, key, data, hlc, change_id and client_id NULL (type
   * still tells a tombstone): all a push needs to judge a change. */
  GHashTable *(*get_records)     (TetherServerStore *self, gint64 user_id,
                                  const char * const *collections, const char * const *keys,
                                  guint n, gboolean with_data, GError **error);
  /* Insert or replace these states (revs already assigned, ascending). */
  gboolean   (*put_records)      (TetherServerStore *self, gint64 user_id,
                                  TetherServerRecord * const *records, guint n, GError **error);

  /* Pull (a consistent snapshot; may run outside begin()). Records with
   * rev > @after_rev, in rev order, at most @limit, only @collections when
   * not NULL, leaving out those written by @skip_client when not NULL.
   * @last_rev is set to the user's last rev in the same snapshot,
   * @purged_rev to the highest rev of a purged tombstone. */
  GPtrArray *(*pull)             (TetherServerStore *self, gint64 user_id, gint64 after_rev,
                                  const char * const *collections, const char *skip_client,
                                  guint limit,
                                  gint64 *last_rev, gint64 *purged_rev, GError **error);
  /* Remove tombstones written before @before_ms (and applied-change entries
   * of the same age); returns how many tombstones went, -1 on error. */
  gint64     (*purge)            (TetherServerStore *self, gint64 before_ms, GError **error);

  /* Tell other server processes that @user_id's feed moved to @rev
   * (PostgreSQL: NOTIFY; SQLite: nothing, one process owns the file). Called
   * after commit. The "feed-changed" signal (gint64 user_id, gint64 rev) is
   * emitted on the main context for notifications from other processes. */
  void       (*notify)           (TetherServerStore *self, gint64 user_id, gint64 rev);

  /* Optional: once, before serving (SQLite: writes its log out). */
  gboolean   (*prepare)          (TetherServerStore *self, GError **error);
};

GQuark     tether_server_store_error_quark   (void);

/* Wrappers for each vfunc, same names: tether_server_store_begin (), … */
gboolean   tether_server_store_begin            (TetherServerStore *self, GError **error);
gboolean   tether_server_store_prepare          (TetherServerStore *self, GError **error);
gboolean   tether_server_store_commit           (TetherServerStore *self, GError **error);
void       tether_server_store_rollback         (TetherServerStore *self);
gboolean   tether_server_store_user_add         (TetherServerStore *self, const char *name,
                                                 const guint8 token_hash[32], GError **error);
gboolean   tether_server_store_user_set_token   (TetherServerStore *self, const char *name,
                                                 const guint8 token_hash[32], GError **error);
gboolean   tether_server_store_user_remove      (TetherServerStore *self, const char *name,
                                                 GError **error);
GPtrArray *tether_server_store_user_list        (TetherServerStore *self, GError **error);
gboolean   tether_server_store_user_by_token    (TetherServerStore *self, const guint8 token_hash[32],
                                                 TetherServerUser *out, GError **error);
gint64     tether_server_store_lock_user        (TetherServerStore *self, gint64 user_id, GError **error);
gboolean   tether_server_store_set_last_rev     (TetherServerStore *self, gint64 user_id, gint64 rev,
                                                 GError **error);
GHashTable *tether_server_store_find_applied    (TetherServerStore *self, gint64 user_id,
                                                 const char * const *change_ids, guint n,
                                                 GError **error);
gboolean   tether_server_store_remember_applied (TetherServerStore *self, gint64 user_id,
                                                 const char * const *change_ids,
                                                 TetherServerApplied * const *applied, guint n,
                                                 GError **error);
GHashTable *tether_server_store_get_records     (TetherServerStore *self, gint64 user_id,
                                                 const char * const *collections,
                                                 const char * const *keys, guint n,
                                                 gboolean with_data, GError **error);
gboolean   tether_server_store_put_records      (TetherServerStore *self, gint64 user_id,
                                                 TetherServerRecord * const *records, guint n,
                                                 GError **error);
GPtrArray *tether_server_store_pull             (TetherServerStore *self, gint64 user_id,
                                                 gint64 after_rev, const char * const *collections,
                                                 const char *skip_client, guint limit, gint64 *last_rev, gint64 *purged_rev,
                                                 GError **error);
gint64     tether_server_store_purge            (TetherServerStore *self, gint64 before_ms,
                                                 GError **error);
void       tether_server_store_notify           (TetherServerStore *self, gint64 user_id, gint64 rev);

/* A change sent with a timestamp but no hlc (a seed client's) keeps its
 * writer's time in the hlc column as "<13-digit ms>-0000-": no client hlc
 * looks like that (one has a client id after the second dash), so it is
 * never sent out as an hlc. No schema change was needed for it. */
char       *tether_server_writer_time_new       (gint64 ms);
/* @hlc as clients may see it: NULL for a writer time. */
const char *tether_server_hlc_public            (const char *hlc);
/* The ms of a stored @hlc or writer time, else @server_ms. */
gint64      tether_server_hlc_writer_ms         (const char *hlc,
                                                 gint64      server_ms);

/* The hash key of get_records: collection, U+001F, key. */
char      *tether_server_record_ref             (const char *collection, const char *key);
void       tether_server_user_clear             (TetherServerUser *user);
void       tether_server_record_clear           (TetherServerRecord *record);
void       tether_server_record_free            (TetherServerRecord *record);
void       tether_server_applied_clear          (TetherServerApplied *applied);
void       tether_server_applied_free           (TetherServerApplied *applied);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TetherServerUser, tether_server_user_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TetherServerRecord, tether_server_record_clear)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TetherServerApplied, tether_server_applied_clear)

/* The two implementations. */
TetherServerStore *tether_server_store_sqlite_new   (const char *path, GError **error);
/* @conninfo: a libpq connection string. Creates the tables when missing. */
TetherServerStore *tether_server_store_postgres_new (const char *conninfo, GError **error);

/* A GHashFunc for the ids and keys of a push: eight bytes a step instead
 * of g_str_hash's one (which was 5% of a push's instructions), seeded per
 * process so that ids chosen to collide cannot be worked out. */
guint _tether_server_str_hash (gconstpointer key);

G_END_DECLS
