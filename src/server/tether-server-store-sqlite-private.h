/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <sqlite3.h>

#include "tether-server-store.h"

G_BEGIN_DECLS

/* Shared between the files of the SQLite store. */

#define TETHER_TYPE_SERVER_STORE_SQLITE (tether_server_store_sqlite_get_type ())
G_DECLARE_FINAL_TYPE (TetherServerStoreSqlite, tether_server_store_sqlite,
                      TETHER, SERVER_STORE_SQLITE, GObject)

typedef enum {
  BEGIN_WRITE, BEGIN_READ, COMMIT, ROLLBACK,
  USER_ADD, USER_SET_TOKEN, USER_ID, USER_DEL_RECORDS, USER_DEL_APPLIED, USER_DEL,
  USER_LIST, USER_BY_TOKEN, USER_REVS, SET_LAST_REV,
  FIND_APPLIED, REMEMBER_APPLIED, REMEMBER_APPLIED_MANY, GET_RECORD, GET_STATE, PUT_RECORD,
  PUT_RECORDS_MANY, PULL_ALL, PULL_SOME,
  PURGE_REVS, PURGE_RECORDS, PURGE_APPLIED,
  N_STMTS
} Stmt;


struct _TetherServerStoreSqlite
{
  GObject       parent_instance;
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];
  gboolean      in_transaction;
};

/* tether-server-store-sqlite.c */
gboolean      _tether_sqlite_fail          (TetherServerStoreSqlite  *self,
                                            int                       rc,
                                            const char               *what,
                                            GError                  **error);
sqlite3_stmt *_tether_sqlite_stmt          (TetherServerStoreSqlite  *self,
                                            Stmt                      which);
gboolean      _tether_sqlite_run           (TetherServerStoreSqlite  *self,
                                            sqlite3_stmt             *s,
                                            GError                  **error);
char         *_tether_sqlite_column_dup    (sqlite3_stmt             *s,
                                            int                       column);
void          _tether_sqlite_bind_text     (sqlite3_stmt             *s,
                                            int                       index,
                                            const char               *text);
gboolean      _tether_sqlite_begin         (TetherServerStore        *store,
                                            GError                  **error);
gboolean      _tether_sqlite_commit        (TetherServerStore        *store,
                                            GError                  **error);
void          _tether_sqlite_rollback      (TetherServerStore        *store);

/* tether-server-store-sqlite-file.c */
gboolean      _tether_sqlite_prepare_file  (const char               *path,
                                            GError                  **error);
gboolean      _tether_sqlite_check_tables  (sqlite3                  *db,
                                            const char               *path,
                                            GError                  **error);
gboolean      _tether_sqlite_upgrade_table (sqlite3                  *db,
                                            const char               *path,
                                            const char               *table,
                                            const char               *word,
                                            gboolean                  word_is_old,
                                            const char               *upgrade_sql,
                                            GError                  **error);
/* Rebuilds a records table made WITHOUT ROWID (by an older server). */
gboolean      _tether_sqlite_upgrade_records (sqlite3                *db,
                                              const char             *path,
                                              GError                **error);

/* The records: a rowid table, so rows are appended in feed order, with the
 * key in an index of its own. The key's index leads with the text that
 * tells rows apart, not user_id (the same for a whole batch): SQLite then
 * settles most comparisons on the first column. */
#define TETHER_SQLITE_RECORDS_COLUMN_NAMES \
  "user_id, collection, key, rev, type, data, server_ms, hlc, change_id, client_id"
#define TETHER_SQLITE_RECORDS_COLUMNS \
  "(user_id INTEGER NOT NULL, collection TEXT NOT NULL, key TEXT NOT NULL," \
  " rev INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT, server_ms INTEGER NOT NULL," \
  " hlc TEXT, change_id TEXT NOT NULL, client_id TEXT)"
#define TETHER_SQLITE_RECORDS_INDEXES \
  "CREATE UNIQUE INDEX IF NOT EXISTS records_key ON records (key, collection, user_id);" \
  "CREATE UNIQUE INDEX IF NOT EXISTS records_rev ON records (user_id, rev);"

/* tether-server-store-sqlite-log.c */
gboolean      _tether_sqlite_prepare_log   (TetherServerStore        *store,
                                            GError                  **error);

/* tether-server-store-sqlite-users.c */
/* AUTOINCREMENT: a running server keeps state per user id, so the id of a
 * removed user, the newest included, must never be given again. */
#define TETHER_SQLITE_USERS_COLUMNS \
  "(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL," \
  " token_hash BLOB UNIQUE NOT NULL, created INTEGER NOT NULL," \
  " last_rev INTEGER NOT NULL DEFAULT 0, purged_rev INTEGER NOT NULL DEFAULT 0)"

void          _tether_sqlite_users_iface_init (TetherServerStoreInterface *iface);
/* Rebuilds a users table made without AUTOINCREMENT (by an older server). */
gboolean      _tether_sqlite_upgrade_users (sqlite3                  *db,
                                            const char               *path,
                                            GError                  **error);

G_END_DECLS
