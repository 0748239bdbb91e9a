/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether-schema.h"
#include "tether-record.h"

G_BEGIN_DECLS

#define TETHER_DATABASE_ERROR (tether_database_error_quark ())

typedef enum {
  TETHER_DATABASE_ERROR_NOT_TETHER,     /* an SQLite file that is not a Tether database, or not SQLite at all */
  TETHER_DATABASE_ERROR_READ_ONLY,      /* the file or its folder cannot be written */
  TETHER_DATABASE_ERROR_CORRUPT,        /* SQLite reports the file damaged */
  TETHER_DATABASE_ERROR_SCHEMA_TOO_OLD, /* the database was written with a newer schema version */
  TETHER_DATABASE_ERROR_SCHEMA_CHANGED, /* same version number, different schema */
  TETHER_DATABASE_ERROR_MIGRATION,      /* a newer schema cannot be applied to the stored records */
  TETHER_DATABASE_ERROR_NOT_FOUND,      /* no record with that id */
  TETHER_DATABASE_ERROR_EXISTS,         /* create with an id already in use */
  TETHER_DATABASE_ERROR_UNIQUE,         /* a unique index would be violated */
  TETHER_DATABASE_ERROR_TOO_LARGE,      /* a record over TETHER_MAX_RECORD_BYTES */
  TETHER_DATABASE_ERROR_INVALID,        /* bad argument: malformed id, bad JSON, misuse of transactions */
  TETHER_DATABASE_ERROR_BUSY,           /* another process holds the write lock for too long */
  TETHER_DATABASE_ERROR_IO,             /* disk full, I/O error, anything else from SQLite */
  TETHER_DATABASE_ERROR_HOOK,           /* a write hook refused the write (its own error is kept if it has one) */
} TetherDatabaseError;

typedef enum {
  TETHER_CHANGE_CREATE,
  TETHER_CHANGE_UPDATE,
  TETHER_CHANGE_DELETE,
} TetherChangeType;

/* A serialised record may not exceed 1 MiB. */
#define TETHER_MAX_RECORD_BYTES (1024 * 1024)
/* A record may nest objects and arrays this deep, counting itself: a
 * server reads JSON 64 levels deep, and a push puts three around a record. */
#define TETHER_MAX_RECORD_DEPTH 61

#define TETHER_TYPE_CHANGE_TYPE (tether_change_type_get_type ())
GType tether_change_type_get_type (void);

typedef struct _TetherCollection TetherCollection;
typedef struct _TetherWriteHook  TetherWriteHook;

#define TETHER_TYPE_DATABASE (tether_database_get_type ())
G_DECLARE_FINAL_TYPE (TetherDatabase, tether_database, TETHER, DATABASE, GObject)

GQuark          tether_database_error_quark    (void);
const char     *tether_change_type_to_string   (TetherChangeType type);

/* Open (creating if needed) the database at @path, or ":memory:".
 *
 * @schema: the schema the program expects, or NULL to use the one stored in
 * the database (a new database then gets tether_schema_new_default()).
 * A newer schema version than the stored one migrates the database in one
 * transaction; an older one is refused with SCHEMA_TOO_OLD. */
TetherDatabase *tether_database_open           (const char      *path,
                                                TetherSchema    *schema,
                                                GError         **error);
/* Checkpoints the WAL and closes the connection; later calls fail with INVALID.
 * Also done on finalize. */
void            tether_database_close          (TetherDatabase  *self);

const char     *tether_database_get_path       (TetherDatabase  *self);
TetherSchema   *tether_database_get_schema     (TetherDatabase  *self);

/* The collection named @name, owned by the database, or NULL with
 * TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION. */
TetherCollection *tether_database_get_collection (TetherDatabase *self,
                                                  const char     *name,
                                                  GError        **error);

/* Transactions nest: the outermost is BEGIN IMMEDIATE/COMMIT, inner ones are
 * savepoints. `changed` signals are emitted when the outermost commits, and
 * never for writes that were rolled back. */
gboolean        tether_database_begin          (TetherDatabase  *self,
                                                GError         **error);
gboolean        tether_database_commit         (TetherDatabase  *self,
                                                GError         **error);
void            tether_database_rollback       (TetherDatabase  *self);
guint           tether_database_get_transaction_depth (TetherDatabase *self);

typedef gboolean (*TetherTransactionFunc) (TetherDatabase *db,
                                           gpointer        user_data,
                                           GError        **error);
/* Run @func in a (nested) transaction; commit when it returns TRUE, roll
 * back when it returns FALSE. */
gboolean        tether_database_transaction    (TetherDatabase        *self,
                                                TetherTransactionFunc  func,
                                                gpointer               user_data,
                                                GError               **error);

/* Write hooks run inside every write's transaction, in the order added. */
void            tether_database_add_hook       (TetherDatabase  *self,
                                                TetherWriteHook *hook);
void            tether_database_remove_hook    (TetherDatabase  *self,
                                                TetherWriteHook *hook);

/* Signal "changed" (const char *collection, TetherChangeType type,
 * const char *id, TetherRecord *old_or_null, TetherRecord *new_or_null). */

/* Signal "external-change" (no arguments): another connection (the CLI
 * beside the app, or a second TetherDatabase on the same file) committed to
 * the file. Which records changed is not known; live queries reload and
 * diff. Emitted on the thread-default main context of tether_database_open(),
 * usually at once (a file monitor on the WAL), otherwise within 500 ms: a
 * fallback check runs from open until it finds no handler connected; a
 * handler connected after that restarts it with one call of
 * tether_database_check_external() (live queries do so themselves). Never
 * for this connection's own writes, never inside its transactions, never
 * for ":memory:". */

/* Check now (by PRAGMA data_version) whether another connection committed
 * since the last check; if so, emit "external-change" and return TRUE.
 * FALSE inside a transaction, for ":memory:" and once closed. */
gboolean        tether_database_check_external (TetherDatabase  *self);

G_END_DECLS
