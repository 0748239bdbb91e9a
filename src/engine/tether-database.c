/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-database"
#include "config.h"

#include "tether-private.h"

/* A change to announce, or (collection NULL) a call to make, once the
 * outermost transaction commits. */
typedef struct {
  TetherCollection   *collection;
  TetherChangeType    type;
  char               *id;
  TetherRecord       *old_record;
  TetherRecord       *new_record;
  GObject            *target;
  TetherDatabaseCall  call;
  gpointer            data;
  GDestroyNotify      destroy;
} PendingChange;

struct _TetherDatabase
{
  GObject       parent_instance;
  char         *path;
  sqlite3      *handle;
  TetherSchema *schema;
  GHashTable   *collections;  /* name → TetherCollection */
  GHashTable   *statements;   /* sql → sqlite3_stmt */
  GPtrArray    *hooks;
  GArray       *pending;      /* PendingChange, emitted on outermost commit */
  GArray       *savepoints;   /* guint: pending->len when each level began */
  GArray       *at_end;       /* PendingChange calls, when the outermost level ends */
  gboolean      lost;         /* SQLite rolled the transaction back by itself */
  gboolean      opened;       /* a Tether database, set up: ours to checkpoint */
  TetherRank   *rank;         /* owned by the connection */
  TetherDatabaseWatch *watch; /* other connections' commits; NULL for ":memory:" */
  TetherCheckpointer  *checkpointer; /* NULL: SQLite checkpoints in COMMIT */
};

G_DEFINE_FINAL_TYPE (TetherDatabase, tether_database, G_TYPE_OBJECT)
G_DEFINE_QUARK (tether-database-error-quark, tether_database_error)
G_DEFINE_ENUM_TYPE (TetherChangeType, tether_change_type,
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_CREATE, "create"),
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_UPDATE, "update"),
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_DELETE, "delete"))

enum {
  SIGNAL_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

const char *
tether_change_type_to_string (TetherChangeType type)
{
  switch (type)
    {
    case TETHER_CHANGE_CREATE: return "create";
    case TETHER_CHANGE_UPDATE: return "update";
    case TETHER_CHANGE_DELETE: return "delete";
    default: g_return_val_if_reached ("unknown");
    }
}

static void
pending_change_clear (gpointer data)
{
  PendingChange *change = data;

  g_clear_object (&change->collection);
  g_clear_pointer (&change->id, g_free);
  g_clear_object (&change->old_record);
  g_clear_object (&change->new_record);
  if (change->destroy != NULL)
    g_clear_pointer (&change->data, change->destroy);
  g_clear_object (&change->target);
}

void
tether_database_close (TetherDatabase *self)
{
  g_return_if_fail (TETHER_IS_DATABASE (self));

  if (self->handle == NULL)
    return;
  if (self->savepoints->len > 0)
    {
      g_warning ("closing %s inside a transaction: rolling it back", self->path);
      sqlite3_exec (self->handle, "ROLLBACK", NULL, NULL, NULL);
      g_array_set_size (self->savepoints, 0);
      g_array_set_size (self->pending, 0);
      g_array_set_size (self->at_end, 0);
    }
  self->lost = FALSE;
  g_clear_pointer (&self->watch, _tether_database_watch_free);
  g_clear_pointer (&self->checkpointer, _tether_checkpointer_free);
  g_hash_table_remove_all (self->statements);
  /* Fold the WAL back so the file is self-contained when the program exits;
   * never in a file we refused (another program's, maybe open in it). With
   * another process reading or writing it cannot finish: it copies what it
   * can without waiting (the busy timeout would hold the quitting app up to
   * 5 s) and the log keeps the rest for whoever closes last. */
  if (self->opened)
    {
      sqlite3_busy_timeout (self->handle, 0);
      sqlite3_exec (self->handle, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    }
  else   /* the last connection to close would copy the log back and delete it */
    sqlite3_db_config (self->handle, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_close_v2 (self->handle);   /* frees the rank cache too */
  self->handle = NULL;
  self->rank = NULL;
}

guint
_tether_database_get_checkpoints (TetherDatabase *self)
{
  return _tether_checkpointer_get_runs (self->checkpointer);
}

static void
tether_database_dispose (GObject *object)
{
  TetherDatabase *self = TETHER_DATABASE (object);

  tether_database_close (self);
  g_clear_pointer (&self->collections, g_hash_table_unref);
  g_clear_pointer (&self->hooks, g_ptr_array_unref);
  G_OBJECT_CLASS (tether_database_parent_class)->dispose (object);
}

static void
tether_database_finalize (GObject *object)
{
  TetherDatabase *self = TETHER_DATABASE (object);

  g_free (self->path);
  g_clear_object (&self->schema);
  g_clear_pointer (&self->statements, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_array_unref);
  g_clear_pointer (&self->savepoints, g_array_unref);
  g_clear_pointer (&self->at_end, g_array_unref);
  G_OBJECT_CLASS (tether_database_parent_class)->finalize (object);
}

static void
tether_database_class_init (TetherDatabaseClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_database_dispose;
  object_class->finalize = tether_database_finalize;

  /* (collection, type, id, old, new): after commit, for every write. */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 5,
                  G_TYPE_STRING, TETHER_TYPE_CHANGE_TYPE, G_TYPE_STRING,
                  TETHER_TYPE_RECORD, TETHER_TYPE_RECORD);
  _tether_database_watch_class_init (object_class);
}

static void
finalize_statement (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
tether_database_init (TetherDatabase *self)
{
  self->collections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_statement);
  self->hooks = g_ptr_array_new_with_free_func (g_object_unref);
  self->pending = g_array_new (FALSE, TRUE, sizeof (PendingChange));
  g_array_set_clear_func (self->pending, pending_change_clear);
  self->savepoints = g_array_new (FALSE, FALSE, sizeof (guint));
  self->at_end = g_array_new (FALSE, TRUE, sizeof (PendingChange));
  g_array_set_clear_func (self->at_end, pending_change_clear);
}

/* On some errors (disk full, I/O, out of memory; always when FTS5 was
 * writing) SQLite rolls the whole transaction back, not just the statement.
 * Our levels are then gone: what they queued never happened, and until the
 * caller ends the outermost level nothing may run, or its writes would
 * commit on their own. */
static void
note_lost_transaction (TetherDatabase *self)
{
  if (self->lost || self->handle == NULL || self->savepoints->len == 0 ||
      !sqlite3_get_autocommit (self->handle))
    return;
  self->lost = TRUE;
  g_array_set_size (self->pending, 0);
  for (guint i = 0; i < self->savepoints->len; i++)
    g_array_index (self->savepoints, guint, i) = 0;
  _tether_rank_invalidate (self->rank);
}

/* Error mapping ------------------------------------------------------------ */

static TetherDatabaseError
error_code_for (int rc)
{
  switch (rc & 0xff)
    {
    case SQLITE_CORRUPT:    return TETHER_DATABASE_ERROR_CORRUPT;
    case SQLITE_NOTADB:     return TETHER_DATABASE_ERROR_NOT_TETHER;
    case SQLITE_READONLY:
    case SQLITE_PERM:       return TETHER_DATABASE_ERROR_READ_ONLY;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:     return TETHER_DATABASE_ERROR_BUSY;
    case SQLITE_TOOBIG:     return TETHER_DATABASE_ERROR_TOO_LARGE;
    case SQLITE_CONSTRAINT: return TETHER_DATABASE_ERROR_UNIQUE;
    case SQLITE_MISUSE:
    case SQLITE_RANGE:      return TETHER_DATABASE_ERROR_INVALID;
    default:                return TETHER_DATABASE_ERROR_IO;
    }
}

static const char *
advice_for (TetherDatabaseError code)
{
  switch (code)
    {
    case TETHER_DATABASE_ERROR_CORRUPT:
      return " (the file is damaged; restore it from a backup, or export what can still be read)";
    case TETHER_DATABASE_ERROR_NOT_TETHER:
      return " (this is not an SQLite file)";
    case TETHER_DATABASE_ERROR_READ_ONLY:
      return " (check the permissions of the file and its folder)";
    case TETHER_DATABASE_ERROR_BUSY:
      return " (another program holds the database; try again)";
    case TETHER_DATABASE_ERROR_IO:
      return " (is the disk full or failing?)";
    default:
      return "";
    }
}

gboolean
_tether_database_set_error (TetherDatabase *self,
                            int             rc,
                            GError        **error,
                            const char     *context)
{
  TetherDatabaseError code = error_code_for (rc);
  const char *message = self->handle ? sqlite3_errmsg (self->handle) : sqlite3_errstr (rc);
  const char *advice = advice_for (code);

  /* Not the disk: a folder given as the file, a missing folder, a file or
   * folder this user may not open. */
  if ((rc & 0xff) == SQLITE_CANTOPEN)
    advice = g_file_test (self->path, G_FILE_TEST_IS_DIR)
             ? " (that is a folder: give the path of a database file)"
             : " (check that its folder exists and that you may read and write it)";
  g_set_error (error, TETHER_DATABASE_ERROR, code, "%s: %s: %s%s",
               self->path, context, message, advice);
  note_lost_transaction (self);
  return FALSE;
}

/* Statements ---------------------------------------------------------------- */

sqlite3 *
_tether_database_get_handle (TetherDatabase *self)
{
  return self->handle;
}

static gboolean
check_open (TetherDatabase  *self,
            GError         **error)
{
  if (self->handle == NULL)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID,
                   "%s: the database is closed", self->path);
      return FALSE;
    }
  note_lost_transaction (self);
  if (self->lost)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID,
                   "%s: SQLite rolled the transaction back after an error (disk full or "
                   "I/O); nothing it wrote was kept: roll it back, then try again", self->path);
      return FALSE;
    }
  return TRUE;
}

sqlite3_stmt *
_tether_database_prepare (TetherDatabase *self,
                          const char     *sql,
                          GError        **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc;

  if (!check_open (self, error))
    return NULL;
  rc = sqlite3_prepare_v2 (self->handle, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      _tether_database_set_error (self, rc, error, "preparing a statement");
      return NULL;
    }
  return stmt;
}

sqlite3_stmt *
_tether_database_prepare_cached (TetherDatabase *self,
                                 const char     *sql,
                                 GError        **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (self->statements, sql);

  if (stmt != NULL)
    {
      if (!check_open (self, error))
        return NULL;
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }
  stmt = _tether_database_prepare (self, sql, error);
  if (stmt != NULL)
    g_hash_table_insert (self->statements, g_strdup (sql), stmt);
  return stmt;
}

gboolean
_tether_database_exec (TetherDatabase *self,
                       const char     *sql,
                       GError        **error)
{
  int rc;

  if (!check_open (self, error))
    return FALSE;
  rc = sqlite3_exec (self->handle, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return _tether_database_set_error (self, rc, error, "running SQL");
  return TRUE;
}

/* Transactions ------------------------------------------------------------- */

/* Transaction control runs on every write: keep it prepared, not re-parsed. */
static gboolean
run_cached (TetherDatabase  *self,
            const char      *sql,
            GError         **error)
{
  sqlite3_stmt *stmt = _tether_database_prepare_cached (self, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return _tether_database_set_error (self, rc, error, sql);
  return TRUE;
}

static const char *
savepoint_sql (const char *verb,
               guint       level,
               char        buf[64])
{
  g_snprintf (buf, 64, "%s sp%u", verb, level);
  return buf;
}

guint
tether_database_get_transaction_depth (TetherDatabase *self)
{
  g_return_val_if_fail (TETHER_IS_DATABASE (self), 0);
  return self->savepoints->len;
}

gboolean
tether_database_begin (TetherDatabase  *self,
                       GError         **error)
{
  guint depth;
  char buf[64];

  g_return_val_if_fail (TETHER_IS_DATABASE (self), FALSE);

  depth = self->savepoints->len;
  /* IMMEDIATE takes the write lock now, so two processes never deadlock
   * upgrading read locks; inner levels are savepoints. */
  if (!check_open (self, error) ||
      !run_cached (self, depth == 0 ? "BEGIN IMMEDIATE" : savepoint_sql ("SAVEPOINT", depth, buf), error))
    return FALSE;
  g_array_append_val (self->savepoints, self->pending->len);
  return TRUE;
}

static void
emit_pending (TetherDatabase *self)
{
  g_autoptr(GArray) pending = self->pending;

  self->pending = g_array_new (FALSE, TRUE, sizeof (PendingChange));
  g_array_set_clear_func (self->pending, pending_change_clear);

  g_object_ref (self);
  for (guint i = 0; i < pending->len; i++)
    {
      PendingChange *c = &g_array_index (pending, PendingChange, i);

      if (c->call != NULL)
        {
          c->call (c->target, c->data);
          continue;
        }
      _tether_collection_emit_changed (c->collection, c->type, c->id,
                                       c->old_record, c->new_record);
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0,
                     tether_collection_get_name (c->collection), c->type, c->id,
                     c->old_record, c->new_record);
    }
  g_object_unref (self);
}

static void
run_at_end (TetherDatabase *self)
{
  g_autoptr(GArray) calls = self->at_end;

  self->at_end = g_array_new (FALSE, TRUE, sizeof (PendingChange));
  g_array_set_clear_func (self->at_end, pending_change_clear);
  for (guint i = 0; i < calls->len; i++)
    {
      PendingChange *c = &g_array_index (calls, PendingChange, i);

      c->call (c->target, c->data);
    }
}

gboolean
tether_database_commit (TetherDatabase  *self,
                        GError         **error)
{
  guint depth;
  char buf[64];

  g_return_val_if_fail (TETHER_IS_DATABASE (self), FALSE);

  depth = self->savepoints->len;
  if (depth == 0)
    {
      g_set_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_INVALID,
                   "%s: commit without a transaction", self->path);
      return FALSE;
    }
  if (!check_open (self, error) ||
      !run_cached (self, depth == 1 ? "COMMIT" : savepoint_sql ("RELEASE", depth - 1, buf), error))
    {
      /* A failed COMMIT leaves nothing applied: end the transaction cleanly. */
      tether_database_rollback (self);
      return FALSE;
    }
  g_array_set_size (self->savepoints, depth - 1);
  if (depth == 1)
    {
      emit_pending (self);
      run_at_end (self);
    }
  return TRUE;
}

void
tether_database_rollback (TetherDatabase *self)
{
  guint depth;
  guint mark;

  g_return_if_fail (TETHER_IS_DATABASE (self));
  g_return_if_fail (self->savepoints->len > 0);

  depth = self->savepoints->len;
  note_lost_transaction (self);
  mark = g_array_index (self->savepoints, guint, depth - 1);
  if (self->handle != NULL && !self->lost)
    {
      g_autoptr(GError) error = NULL;
      char buf[64];
      gboolean ok;

      if (depth == 1)
        ok = run_cached (self, "ROLLBACK", &error);
      else
        ok = run_cached (self, savepoint_sql ("ROLLBACK TO", depth - 1, buf), &error) &&
             run_cached (self, savepoint_sql ("RELEASE", depth - 1, buf), &error);
      /* SQLite may already have rolled back by itself (disk full, I/O error). */
      if (!ok && sqlite3_get_autocommit (self->handle) == 0)
        g_warning ("rollback failed: %s", error->message);
    }
  g_array_set_size (self->pending, mark);
  g_array_set_size (self->savepoints, depth - 1);
  _tether_rank_invalidate (self->rank);
  if (depth == 1)
    {
      self->lost = FALSE;
      run_at_end (self);
    }
}

TetherRank *
_tether_database_get_rank (TetherDatabase *self)
{
  return self->rank;
}

TetherDatabaseWatch *
_tether_database_get_watch (TetherDatabase *self)
{
  return self->watch;
}

gboolean
tether_database_transaction (TetherDatabase        *self,
                             TetherTransactionFunc  func,
                             gpointer               user_data,
                             GError               **error)
{
  g_return_val_if_fail (TETHER_IS_DATABASE (self), FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (!tether_database_begin (self, error))
    return FALSE;
  if (!func (self, user_data, error))
    {
      tether_database_rollback (self);
      return FALSE;
    }
  return tether_database_commit (self, error);
}

void
_tether_database_queue_change (TetherDatabase   *self,
                               TetherCollection *collection,
                               TetherChangeType  type,
                               const char       *id,
                               TetherRecord     *old_record,
                               TetherRecord     *new_record)
{
  PendingChange change = {
    .collection = g_object_ref (collection),
    .type = type,
    .id = g_strdup (id),
    .old_record = old_record ? g_object_ref (old_record) : NULL,
    .new_record = new_record ? g_object_ref (new_record) : NULL,
  };

  g_assert (self->savepoints->len > 0);
  g_array_append_val (self->pending, change);
}

/* Runs @call now outside a transaction, or appends it to @calls. */
static void
queue_into (TetherDatabase     *self,
            GArray             *calls,
            GObject            *target,
            TetherDatabaseCall  call,
            gpointer            data,
            GDestroyNotify      destroy)
{
  PendingChange change = {
    .target = g_object_ref (target),
    .call = call,
    .data = data,
    .destroy = destroy,
  };

  if (self->savepoints->len == 0)
    {
      call (target, data);
      pending_change_clear (&change);
      return;
    }
  g_array_append_val (calls, change);
}

void
_tether_database_queue_call (TetherDatabase     *self,
                             GObject            *target,
                             TetherDatabaseCall  call,
                             gpointer            data,
                             GDestroyNotify      destroy)
{
  queue_into (self, self->pending, target, call, data, destroy);
}

void
_tether_database_call_at_end (TetherDatabase     *self,
                              GObject            *target,
                              TetherDatabaseCall  call,
                              gpointer            data,
                              GDestroyNotify      destroy)
{
  queue_into (self, self->at_end, target, call, data, destroy);
}

/* Hooks and collections ----------------------------------------------------- */

void
tether_database_add_hook (TetherDatabase  *self,
                          TetherWriteHook *hook)
{
  g_return_if_fail (TETHER_IS_DATABASE (self));
  g_return_if_fail (TETHER_IS_WRITE_HOOK (hook));
  g_ptr_array_add (self->hooks, g_object_ref (hook));
}

void
tether_database_remove_hook (TetherDatabase  *self,
                             TetherWriteHook *hook)
{
  g_return_if_fail (TETHER_IS_DATABASE (self));
  g_ptr_array_remove (self->hooks, hook);
}

GPtrArray *
_tether_database_get_hooks (TetherDatabase *self)
{
  return self->hooks;
}

const char *
tether_database_get_path (TetherDatabase *self)
{
  g_return_val_if_fail (TETHER_IS_DATABASE (self), NULL);
  return self->path;
}

TetherSchema *
tether_database_get_schema (TetherDatabase *self)
{
  g_return_val_if_fail (TETHER_IS_DATABASE (self), NULL);
  return self->schema;
}

TetherCollection *
tether_database_get_collection (TetherDatabase  *self,
                                const char      *name,
                                GError         **error)
{
  TetherCollection *collection;

  g_return_val_if_fail (TETHER_IS_DATABASE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  collection = g_hash_table_lookup (self->collections, name);
  if (collection == NULL)
    {
      g_autofree char *known = g_strjoinv (", ", (char **) tether_schema_get_collections (self->schema));

      g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION,
                   "no collection '%s' in the schema (it has: %s)", name, known);
    }
  return collection;
}

/* Opening ------------------------------------------------------------------ */

/* Runs inside the opening transaction. */
static gboolean
load_schema (TetherDatabase  *self,
             int              state,
             TetherSchema    *wanted,
             GError         **error)
{
  g_autoptr(TetherSchema) stored = NULL;

  if (state == 0)
    {
      if (!_tether_database_exec (self,
            "CREATE TABLE _tether_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)", error) ||
          !_tether_database_meta_set (self, "format", TETHER_FORMAT, error))
        return FALSE;
    }
  else if ((stored = _tether_database_read_schema (self, wanted, error)) == NULL)
    return FALSE;

  if (wanted == NULL)
    wanted = stored;
  self->schema = wanted ? g_object_ref (wanted) : tether_schema_new_default ();

  if (stored != NULL && !_tether_database_check_versions (self, stored, self->schema, error))
    return FALSE;
  if ((stored == NULL || tether_schema_get_version (stored) != tether_schema_get_version (self->schema)) &&
      (!_tether_database_apply_schema (self, stored, self->schema, error) ||
       !_tether_database_meta_set (self, "schema", tether_schema_get_json (self->schema), error)))
    return FALSE;
  /* After a migration too: it makes only the indexes whose fields changed. */
  return _tether_database_upgrade_fts (self, error);
}

static gboolean
configure (TetherDatabase  *self,
           GError         **error)
{
  sqlite3_extended_result_codes (self->handle, 1);
  self->rank = _tether_rank_register (self->handle);
  /* Another process (the CLI beside the app) may hold the write lock briefly. */
  sqlite3_busy_timeout (self->handle, 5000);
  return _tether_database_exec (self,
                                "PRAGMA journal_mode = WAL;"
                                "PRAGMA synchronous = NORMAL;"
                                "PRAGMA foreign_keys = ON;"
                                /* statement journals and sorts stay off the disk */
                                "PRAGMA temp_store = MEMORY;", error);
}

TetherDatabase *
tether_database_open (const char    *path,
                      TetherSchema  *schema,
                      GError       **error)
{
  g_autoptr(TetherDatabase) self = NULL;
  int state;
  int rc;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (schema == NULL || TETHER_IS_SCHEMA (schema), NULL);

  self = g_object_new (TETHER_TYPE_DATABASE, NULL);
  self->path = g_strdup (path);
  if (!_tether_database_check_file (path, error))
    return NULL;

  rc = sqlite3_open_v2 (path, &self->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK)
    {
      _tether_database_set_error (self, rc, error, "opening");
      return NULL;
    }
  /* Probe before any PRAGMA: switching another program's file to WAL would
   * already have changed it. */
  sqlite3_busy_timeout (self->handle, 5000);
  if (!_tether_database_check_header (self, error) ||
      (state = _tether_database_probe (self, error)) < 0)
    return NULL;
  if (!configure (self, error) || !tether_database_begin (self, error))
    return NULL;
  if (!load_schema (self, state, schema, error))
    {
      tether_database_rollback (self);
      return NULL;
    }
  if (!tether_database_commit (self, error))
    return NULL;

  for (const char * const *c = tether_schema_get_collections (self->schema); *c; c++)
    g_hash_table_insert (self->collections, g_strdup (*c), _tether_collection_new (self, *c));
  self->opened = TRUE;
  self->watch = _tether_database_watch_new (self);
  self->checkpointer = _tether_checkpointer_new (self->handle);
  /* Once sync is set up, every process logs its writes (docs/sync.md). */
  if (!_tether_sync_attach_if_enabled (self, error))
    return NULL;
  return g_steal_pointer (&self);
}
