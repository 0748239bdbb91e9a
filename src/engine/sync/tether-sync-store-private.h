/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Helpers shared by the files that store the sync state: tether-sync-store.c,
 * tether-sync-store-logs.c, tether-sync-change.c and tether-conflict.c. */

#include "tether-sync-private.h"

G_BEGIN_DECLS

/* tether-sync-store-schema.c: creates the sync tables and brings an older
 * file's up to date, in the caller's transaction. */
gboolean    _tether_sync_store_create_tables (TetherDatabase  *db,
                                              GError         **error);

/* tether-sync-store.c */
/* Step @stmt (bound by the caller) once, expecting no row; resets it. */
gboolean    _tether_sync_store_step    (TetherDatabase  *db,
                                        sqlite3_stmt    *stmt,
                                        const char      *context,
                                        GError         **error);
/* One item made by @read from each row of @stmt (bound by the caller), in
 * order; resets it. NULL with a database error. */
typedef gpointer (*TetherSyncRowFunc) (sqlite3_stmt *stmt);
GPtrArray  *_tether_sync_store_collect (TetherDatabase     *db,
                                        sqlite3_stmt       *stmt,
                                        TetherSyncRowFunc   read,
                                        GDestroyNotify      free_func,
                                        const char         *context,
                                        GError            **error);
/* The item of the row whose id is @id (?1 of @sql), or NULL with
 * TETHER_SYNC_ERROR_NOT_FOUND naming @what ("change", "conflict") and @id. */
gpointer    _tether_sync_store_get_by_id (TetherDatabase     *db,
                                          const char         *sql,
                                          const char         *id,
                                          TetherSyncRowFunc   read,
                                          GDestroyNotify      free_func,
                                          const char         *what,
                                          GError            **error);

/* tether-sync-change.c: stored JSON text and JSON output. */
/* The object in @text, NULL for NULL or damaged text (a damaged column
 * must not hide the rest of its row). */
JsonObject *_tether_sync_parse_object  (const char  *text);
/* Members that are JSON null when the value is NULL (or @ms is 0). */
void        _tether_sync_add_string    (JsonBuilder *builder,
                                        const char  *name,
                                        const char  *value);
void        _tether_sync_add_time      (JsonBuilder *builder,
                                        const char  *name,
                                        gint64       ms);
void        _tether_sync_add_object    (JsonBuilder *builder,
                                        const char  *name,
                                        JsonObject  *object);
void        _tether_sync_add_int       (JsonBuilder *builder,
                                        const char  *name,
                                        gint64       value);

G_END_DECLS
