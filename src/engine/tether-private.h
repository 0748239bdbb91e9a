/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal API shared by the files of libtether. Not installed. */

#include <sqlite3.h>

#include "tether.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* tether-sql.c: naming and SQL helpers. Collection and field names are
 * checked by the schema parser (identifiers only), so they may appear in SQL
 * text; values never do, they are always bound. */
char       *_tether_sql_table       (const char *collection);   /* "t_notes" */
char       *_tether_sql_fts_table   (const char *collection);   /* "f_notes" */
char       *_tether_sql_index_name  (const char *collection,
                                     const char * const *fields); /* "i_notes_pinned_updatedAt" */
/* The SQL expression of a field: id, created, updated columns for the built-ins,
 * json_extract(data,'$.field') for schema fields. Expression indexes use the
 * same text so the planner matches them. */
char       *_tether_sql_field_expr  (const char *field);
/* Bind a JSON scalar (null, boolean as 0/1, integer, double, string);
 * arrays/objects are bound as their JSON text. */
void        _tether_sql_bind_node   (sqlite3_stmt *stmt,
                                     int           index,
                                     JsonNode     *node);
/* Column @col as JSON node (NULL → JSON null). */
JsonNode   *_tether_sql_column_node (sqlite3_stmt *stmt,
                                     int           col);
gboolean    _tether_identifier_is_valid (const char *name);

/* JSON helpers */
JsonObject *_tether_json_parse_object (const char  *text,
                                       gssize       length,
                                       GError     **error);
/* Compact JSON text (tether-json-write.c): not json-glib's generator,
 * whose 1.6 output is not always JSON. */
char       *_tether_json_to_string    (JsonNode    *node);
void        _tether_json_append_node  (GString     *out,
                                       JsonNode    *node);
/* @text (UTF-8) as a JSON string literal, quotes included. */
void        _tether_json_append_string (GString    *out,
                                        const char *text);
/* The same; FALSE when @text is not UTF-8 (it is written all the same). */
gboolean    _tether_json_append_string_checked (GString    *out,
                                                const char *text);
char       *_tether_json_object_to_string (JsonObject *object);
/* NULL with a TETHER_SCHEMA_ERROR_VALIDATION "@context: …" naming the
 * member when @object holds what JSON text cannot: a number that is an
 * infinity or NaN (json-glib's parser reads 1e999 as one), or a string or
 * member name that is not UTF-8. */
char       *_tether_json_object_to_string_checked (JsonObject  *object,
                                                   const char  *context,
                                                   GError     **error);
JsonNode   *_tether_json_deep_copy    (JsonNode    *node);
JsonObject *_tether_json_object_deep_copy (JsonObject *object);
gboolean    _tether_json_equal        (JsonNode    *a,
                                       JsonNode    *b);
gboolean    _tether_json_object_equal (JsonObject  *a,
                                       JsonObject  *b);
/* <0, 0, >0 as @i is below, equal to or above @d, exactly, as SQLite
 * compares them (a double cannot hold every int64). Not for NaN. */
int         _tether_compare_int_double (gint64 i,
                                        double d);
/* Whether @text nests objects and arrays deeper than @max_depth. */
gboolean    _tether_json_nested_deeper (const char *text,
                                        gsize       length,
                                        guint       max_depth);
/* The member of @object whose value takes it deeper than @max_depth levels
 * of objects and arrays (@object itself is the first), or NULL. */
const char *_tether_json_object_deeper (JsonObject *object,
                                        guint       max_depth);

/* tether-record.c: a record over stored JSON text, parsed on first use. */
TetherRecord *_tether_record_new_from_text (const char *collection,
                                            const char *id,
                                            const char *text,
                                            gsize       length,
                                            gint64      created_at_ms,
                                            gint64      updated_at_ms);

/* tether-fts-rank.c: tether_bm25(), bm25 with cached document lengths. */
typedef struct _TetherRank TetherRank;
/* Registers tether_bm25 on @db; the connection owns the result. NULL when
 * FTS5 is missing. */
TetherRank   *_tether_rank_register        (sqlite3    *db);
/* Forget all cached lengths (rollback). */
void          _tether_rank_invalidate      (TetherRank *rank);
/* Forget the length of one row this connection wrote. */
void          _tether_rank_forget          (TetherRank *rank,
                                            gint64      rowid);

/* tether-database.c */
TetherRank   *_tether_database_get_rank    (TetherDatabase *self);
sqlite3      *_tether_database_get_handle  (TetherDatabase *self);
/* A statement from the database's cache, reset and with bindings cleared.
 * Borrowed: call sqlite3_reset() when done. NULL with error on failure. */
sqlite3_stmt *_tether_database_prepare_cached (TetherDatabase *self,
                                               const char     *sql,
                                               GError        **error);
/* A new statement owned by the caller (use for rarely run SQL). */
sqlite3_stmt *_tether_database_prepare     (TetherDatabase *self,
                                            const char     *sql,
                                            GError        **error);
/* Run SQL without results (may hold several statements). */
gboolean      _tether_database_exec        (TetherDatabase *self,
                                            const char     *sql,
                                            GError        **error);
/* Set @error from the connection's last error (or @rc), mapped to a
 * TETHER_DATABASE_ERROR code, message prefixed with @context. Returns FALSE. */
gboolean      _tether_database_set_error   (TetherDatabase *self,
                                            int             rc,
                                            GError        **error,
                                            const char     *context);
/* Queue a change for emission when the outermost transaction commits.
 * Dropped if the savepoint it belongs to is rolled back. Must be called
 * within a transaction. */
void          _tether_database_queue_change (TetherDatabase   *self,
                                             TetherCollection *collection,
                                             TetherChangeType  type,
                                             const char       *id,
                                             TetherRecord     *old_record,
                                             TetherRecord     *new_record);
/* Call @call (@target, @data) when the outermost transaction commits, or
 * now outside one; dropped (only @destroy runs) if the level it was
 * queued in rolls back. For signals that must not announce what a
 * rollback undoes. */
typedef void (*TetherDatabaseCall) (GObject *target,
                                    gpointer data);
void          _tether_database_queue_call  (TetherDatabase     *self,
                                            GObject            *target,
                                            TetherDatabaseCall  call,
                                            gpointer            data,
                                            GDestroyNotify      destroy);
/* Call @call (@target, @data) when the outermost transaction ends, whether
 * it commits (after its signals) or rolls back, or now outside one. */
void          _tether_database_call_at_end (TetherDatabase     *self,
                                            GObject            *target,
                                            TetherDatabaseCall  call,
                                            gpointer            data,
                                            GDestroyNotify      destroy);
/* The hooks, in order (borrowed array of TetherWriteHook*). */
GPtrArray    *_tether_database_get_hooks   (TetherDatabase *self);

/* tether-database-watch.c: commits by other connections ("external-change"). */
typedef struct _TetherDatabaseWatch TetherDatabaseWatch;
void          _tether_database_watch_class_init (GObjectClass *klass);
/* NULL for a database without a file. Emits on the thread-default context. */
TetherDatabaseWatch *_tether_database_watch_new  (TetherDatabase      *db);
void          _tether_database_watch_free  (TetherDatabaseWatch *watch);
/* (Re)start the 500 ms fallback check; it stops when nobody listens. */
void          _tether_database_watch_poll  (TetherDatabaseWatch *watch);
TetherDatabaseWatch *_tether_database_get_watch (TetherDatabase *self);

/* tether-checkpointer.c: WAL checkpoints on a thread of their own. */
typedef struct _TetherCheckpointer TetherCheckpointer;
/* NULL when @main has no file or no WAL: SQLite's own checkpoints stay. */
TetherCheckpointer *_tether_checkpointer_new      (sqlite3            *main);
void                _tether_checkpointer_free     (TetherCheckpointer *self);
/* Checkpoints run so far (tests). */
guint               _tether_checkpointer_get_runs (TetherCheckpointer *self);
guint               _tether_database_get_checkpoints (TetherDatabase *self);

/* tether-database-meta.c: file checks and the _tether_meta table. */
#define TETHER_FORMAT "1"
gboolean      _tether_database_check_file  (const char     *path,
                                            GError        **error);
/* After sqlite3_open_v2(), before any statement: the file is SQLite's. */
gboolean      _tether_database_check_header (TetherDatabase *self,
                                             GError        **error);
/* 1 when the file holds a Tether database, 0 when it is empty, -1 on error
 * (including an SQLite file of another program). */
int           _tether_database_probe       (TetherDatabase *self,
                                            GError        **error);
char         *_tether_database_meta_get    (TetherDatabase *self,
                                            const char     *key,
                                            GError        **error);
gboolean      _tether_database_meta_set    (TetherDatabase *self,
                                            const char     *key,
                                            const char     *value,
                                            GError        **error);
/* tether-schema.c: the schema a file was written with, parsed without
 * the checks added since (clashing SQL names), so that the file opens. */
TetherSchema *_tether_schema_new_stored    (const char     *json,
                                            GError        **error);
/* @wanted (or NULL: the stored one is wanted) tells a newer file from a
 * damaged one when the stored schema cannot be parsed. */
TetherSchema *_tether_database_read_schema (TetherDatabase *self,
                                            TetherSchema   *wanted,
                                            GError        **error);
gboolean      _tether_database_check_versions (TetherDatabase *self,
                                               TetherSchema   *stored,
                                               TetherSchema   *wanted,
                                               GError        **error);

/* tether-database-migrate.c: create or migrate tables for @schema, inside
 * a transaction the caller holds. @stored is the previously stored schema
 * or NULL for a new database. */
/* Search indexes of an older layout made again; in the opening transaction. */
gboolean      _tether_database_upgrade_fts  (TetherDatabase *self,
                                             GError        **error);
gboolean      _tether_database_apply_schema (TetherDatabase *self,
                                             TetherSchema   *stored,
                                             TetherSchema   *schema,
                                             GError        **error);

/* sync/tether-sync-engine.c: log this connection's writes when the
 * database has sync tables. */
gboolean      _tether_sync_attach_if_enabled (TetherDatabase *db,
                                              GError        **error);

/* tether-collection.c */
TetherCollection *_tether_collection_new   (TetherDatabase *db,
                                            const char     *name);
typedef enum {
  TETHER_SQL_INSERT,      /* (id, data, created, updated) */
  TETHER_SQL_UPDATE,      /* SET data = ?1, updated = ?2 WHERE id = ?3 */
  TETHER_SQL_DELETE,      /* WHERE id = ?1 */
  TETHER_SQL_SELECT_ONE,  /* id, data, created, updated WHERE id = ?1 */
  TETHER_SQL_SELECT_ALL,  /* id, data, created, updated ORDER BY id */
  TETHER_SQL_COUNT,       /* count(*) */
  TETHER_N_SQL
} TetherCollectionSql;
/* Precomputed statement text of the collection's table. */
const char   *_tether_collection_sql       (TetherCollection    *self,
                                            TetherCollectionSql  which);
/* Read a record row "id, data, created, updated" at column 0..3. */
TetherRecord *_tether_collection_record_from_row (TetherCollection *self,
                                                  sqlite3_stmt     *stmt,
                                                  GError          **error);
/* Emit "changed" on the collection (the database calls this after commit). */
void          _tether_collection_emit_changed (TetherCollection *self,
                                               TetherChangeType  type,
                                               const char       *id,
                                               TetherRecord     *old_record,
                                               TetherRecord     *new_record);

/* tether-collection-write.c: the write path shared by the public calls and
 * by sync. Flags select what the write does besides the row. */
typedef enum {
  TETHER_WRITE_DEFAULT    = 0,
  TETHER_WRITE_SKIP_HOOKS = 1 << 0, /* pulled changes: no change-log entry */
  TETHER_WRITE_NO_VALIDATE = 1 << 1, /* data already validated by the caller */
  TETHER_WRITE_TAKE_DATA  = 1 << 3, /* @data is a fresh object of the caller's: use it, don't copy it */
} TetherWriteFlags;

typedef struct {
  TetherDatabase *db;
  gboolean        opened;
} TetherWriteScope;

gboolean      _tether_write_scope_begin    (TetherCollection  *self,
                                            TetherWriteFlags   flags,
                                            TetherWriteScope  *scope,
                                            GError           **error);
/* Commit when @ok, else roll back; returns @ok and the commit's success. */
gboolean      _tether_write_scope_end      (TetherWriteScope  *scope,
                                            gboolean           ok,
                                            GError           **error);
/* FALSE with a validation error naming the member when @data nests
 * deeper than TETHER_MAX_RECORD_DEPTH. */
gboolean      _tether_collection_check_depth (TetherCollection  *self,
                                              JsonObject        *data,
                                              GError           **error);
/* Must run inside a write scope. */
TetherRecord *_tether_collection_insert    (TetherCollection *self,
                                            JsonObject       *data,
                                            TetherWriteFlags  flags,
                                            GError          **error);
TetherRecord *_tether_collection_replace   (TetherCollection *self,
                                            TetherRecord     *old_record,
                                            JsonObject       *data,
                                            TetherWriteFlags  flags,
                                            GError          **error);
gboolean      _tether_collection_remove    (TetherCollection *self,
                                            TetherRecord     *old_record,
                                            TetherWriteFlags  flags,
                                            GError          **error);
/* Restore a record's stored created/updated times (an import of an
 * export); NOT_FOUND when there is no such record. */
gboolean      _tether_collection_set_times (TetherCollection *self,
                                            const char       *id,
                                            gint64            created_at_ms,
                                            gint64            updated_at_ms,
                                            GError          **error);

/* One record's write in _tether_collection_write_many. */
typedef struct {
  TetherRecord *old_record;   /* as stored now; NULL when there is none */
  JsonObject   *data;         /* the new data with its "id"; NULL deletes */
  char         *text;         /* @data as JSON text when the caller has it; else NULL */
} TetherBulkWrite;

void          _tether_bulk_write_free      (TetherBulkWrite  *write);
/* Writes of pulled records (no hooks, no validation: the caller decided),
 * one record at most once, in three statements: FTS5 flushes its pending
 * index data at each statement's savepoint, which done once per record is
 * most of the cost of a pulled page. Must run inside a write scope. */
gboolean      _tether_collection_write_many (TetherCollection *self,
                                             GPtrArray        *writes,   /* TetherBulkWrite* */
                                             GError          **error);

/* tether-query-compile.c: SQL text and bindings of a query. */
typedef struct {
  GString   *sql;       /* full SELECT */
  GPtrArray *bindings;  /* JsonNode*, bound in order to ?1..?n */
} TetherCompiledQuery;

typedef enum {
  TETHER_COMPILE_SELECT,     /* SELECT id, data, created, updated … ORDER/LIMIT */
  TETHER_COMPILE_COUNT,      /* SELECT count(*) … (no order/limit) */
  TETHER_COMPILE_IDS,        /* SELECT id … (no order/limit), for delete_many */
  TETHER_COMPILE_MATCH_ONE,  /* SELECT <sort keys>, rowid … AND id = ?last (live query) */
  TETHER_COMPILE_SELECT_KEYS, /* SELECT as SELECT, then <sort keys>, rowid (live query) */
} TetherCompileMode;

TetherCompiledQuery *_tether_query_compile (TetherQuery       *self,
                                            TetherCompileMode  mode,
                                            GError           **error);
void          _tether_compiled_query_free  (TetherCompiledQuery *compiled);
gboolean      _tether_compiled_query_bind  (TetherCompiledQuery *compiled,
                                            sqlite3_stmt        *stmt,
                                            GError             **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherCompiledQuery, _tether_compiled_query_free)

/* tether-query.c: what the compiler and the live query read. */
typedef struct {
  char     *field;
  TetherOp  op;
  JsonNode *value;   /* normalised: datetimes in UTC ms text, built-in times as ms */
} TetherCondition;

typedef struct {
  char     *field;
  gboolean  descending;
} TetherSort;

GPtrArray    *_tether_query_get_where      (TetherQuery *self);  /* TetherCondition* */
GPtrArray    *_tether_query_get_or_groups  (TetherQuery *self);  /* GPtrArray* of TetherCondition* */
GArray       *_tether_query_get_sorts      (TetherQuery *self);  /* TetherSort */
gint64        _tether_query_get_limit      (TetherQuery *self);  /* -1: none */
gint64        _tether_query_get_offset     (TetherQuery *self);
/* The FTS5 MATCH expression, or NULL when the query has no search words. */
const char   *_tether_query_get_match      (TetherQuery *self);
guint         _tether_query_get_rank_within (TetherQuery *self);  /* 0: all */
TetherQuery  *_tether_query_copy           (TetherQuery *self);
TetherQuery  *_tether_query_copy_whole     (TetherQuery *self);  /* without its preview */
/* A record of the query from a row (id, data, created, updated), as a
 * preview when the query asks for one. */
TetherRecord *_tether_query_record_from_row (TetherQuery  *self,
                                             sqlite3_stmt *stmt);
/* @record as the query shows it: itself, or its preview (a new record). */
TetherRecord *_tether_query_shown_record   (TetherQuery  *self,
                                            TetherRecord *record);
/* tether-json-preview.c: the members @fields of the JSON object @text, the
 * strings of those with @cut set cut to @max_chars characters; NULL when
 * @text is not a JSON object. */
char         *_tether_json_preview         (const char         *text,
                                            gsize               length,
                                            const char * const *fields,
                                            const gboolean     *cut,
                                            guint               max_chars);
/* tether-query-check.c: validation of query parts against the schema. */
/* A normalised copy of @value for @field/@op, or NULL with a
 * TETHER_QUERY_ERROR naming the field and the problem. */
JsonNode     *_tether_query_check_condition (TetherCollection *collection,
                                             const char       *field,
                                             TetherOp          op,
                                             JsonNode         *value,
                                             GError          **error);
gboolean      _tether_query_check_sort      (TetherCollection *collection,
                                             const char       *field,
                                             GError          **error);
gboolean      _tether_query_check_preview   (TetherCollection *collection,
                                             const char       *field,
                                             GError          **error);
/* Parse "FIELD OP VALUE". */
gboolean      _tether_query_parse_condition (TetherCollection *collection,
                                             const char       *text,
                                             char            **field,
                                             TetherOp         *op,
                                             JsonNode        **value,
                                             GError          **error);
/* Field expression qualified with the table, for query SQL. */
char         *_tether_sql_field_expr_in    (const char *table,
                                            const char *field);

G_END_DECLS
