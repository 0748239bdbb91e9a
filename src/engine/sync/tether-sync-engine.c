/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-engine"
#include "config.h"

#include "tether-sync-engine-private.h"
#include "tether-transport-private.h"

/* The sync client's object: configuration, state properties and signals.
 * The sync itself is in tether-sync-push.c and tether-sync-pull.c. */

G_DEFINE_FINAL_TYPE (TetherSyncEngine, tether_sync_engine, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_DATABASE,
  PROP_TRANSPORT,
  PROP_STATE,
  PROP_PENDING_COUNT,
  PROP_FAILED_COUNT,
  PROP_CONFLICT_COUNT,
  PROP_LAST_SYNC_AT,
  PROP_LAST_ERROR,
  PROP_SEED_COMPAT,
  PROP_CLIENT_ID,
  PROP_STRATEGY,
  PROP_AUTO_SYNC,
  PROP_INTERVAL,
  PROP_BATCH_SIZE,
  PROP_MAX_RETRIES,
  N_PROPS
};

enum { PHASE, CONFLICT, QUEUE_CHANGED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_ENUM_TYPE (TetherSyncState, tether_sync_state,
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_STATE_IDLE, "idle"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_STATE_SYNCING, "syncing"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_STATE_OFFLINE, "offline"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_STATE_ERROR, "error"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_STATE_AUTH_REQUIRED, "auth-required"))

G_DEFINE_ENUM_TYPE (TetherSyncPhase, tether_sync_phase,
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_START, "start"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_PUSH, "push"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_PULL, "pull"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_RESOLVE, "resolve"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_DONE, "done"),
  G_DEFINE_ENUM_VALUE (TETHER_SYNC_PHASE_FAILED, "failed"))

G_DEFINE_BOXED_TYPE (TetherSyncEvent, tether_sync_event, tether_sync_event_copy, tether_sync_event_free)

static const char *
enum_nick (GType type,
           int   value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *found = g_enum_get_value (klass, value);

  g_type_class_unref (klass);   /* static types: the class stays */
  return found != NULL ? found->value_nick : "unknown";
}

const char *
tether_sync_state_to_string (TetherSyncState state)
{
  return enum_nick (TETHER_TYPE_SYNC_STATE, state);
}

const char *
tether_sync_phase_to_string (TetherSyncPhase phase)
{
  return enum_nick (TETHER_TYPE_SYNC_PHASE, phase);
}

TetherSyncEvent *
tether_sync_event_copy (const TetherSyncEvent *event)
{
  TetherSyncEvent *copy = g_new (TetherSyncEvent, 1);

  *copy = *event;
  copy->error = g_strdup (event->error);
  return copy;
}

void
tether_sync_event_free (TetherSyncEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->error);
  g_free (event);
}

/* ------------------------------------------------------------- state */

static void
notify (TetherSyncEngine *self,
        guint             prop)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

void
_tether_sync_engine_set_state (TetherSyncEngine *self,
                               TetherSyncState   state,
                               const char       *error)
{
  if (g_strcmp0 (self->last_error, error) != 0 && (error != NULL || state != TETHER_SYNC_STATE_SYNCING))
    {
      g_free (self->last_error);
      self->last_error = g_strdup (error);
      notify (self, PROP_LAST_ERROR);
    }
  if (self->state != state)
    {
      self->state = state;
      notify (self, PROP_STATE);
    }
}

static void
set_count (TetherSyncEngine *self,
           guint            *field,
           guint             value,
           guint             prop)
{
  if (*field == value)
    return;
  *field = value;
  notify (self, prop);
}

void
_tether_sync_engine_refresh_counts (TetherSyncEngine *self)
{
  g_autoptr(GError) error = NULL;
  TetherSyncStats stats;

  if (!_tether_sync_store_stats (self->db, &stats, &error))
    {
      g_warning ("counting changes: %s", error->message);
      return;
    }
  set_count (self, &self->pending_count, stats.pending + stats.syncing, PROP_PENDING_COUNT);
  set_count (self, &self->failed_count, stats.failed, PROP_FAILED_COUNT);
  set_count (self, &self->conflict_count, stats.conflicts_open, PROP_CONFLICT_COUNT);
}

void
_tether_sync_engine_set_seed_compat (TetherSyncEngine *self,
                                     gboolean          seed_compat)
{
  if (self->seed_compat == seed_compat)
    return;
  self->seed_compat = seed_compat;
  notify (self, PROP_SEED_COMPAT);
}

void
_tether_sync_engine_emit_phase (TetherSyncEngine *self,
                                TetherSyncPhase   phase,
                                guint             done,
                                guint             total)
{
  g_signal_emit (self, signals[PHASE], 0, phase, done, total);
}

typedef struct {
  TetherSyncEngine *engine;   /* alive: the queued call holds a reference */
  char             *id;
} Announce;

static void
announce_free (gpointer data)
{
  Announce *announce = data;

  if (g_hash_table_lookup (announce->engine->unannounced, announce->id) == announce)
    g_hash_table_remove (announce->engine->unannounced, announce->id);
  g_free (announce->id);
  g_free (announce);
}

/* The conflict as the commit left it: a record met twice in one
 * transaction is announced once, in its last state. */
static void
announce (GObject  *target,
          gpointer  data)
{
  TetherSyncEngine *self = TETHER_SYNC_ENGINE (target);
  Announce *queued = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherConflict) conflict = NULL;

  g_hash_table_remove (self->unannounced, queued->id);
  if (self->db == NULL)
    return;   /* disposed meanwhile */
  conflict = _tether_sync_store_get_conflict (self->db, queued->id, &error);
  if (conflict == NULL)
    g_warning ("announcing a conflict: %s", error->message);
  else
    g_signal_emit (self, signals[CONFLICT], 0, conflict);
}

/* Conflicts are met inside a page's transaction; they are announced once
 * the outermost transaction commits, so no handler reads a conflict that a
 * rollback undid, and none if it is rolled back. */
void
_tether_sync_engine_note_conflict (TetherSyncEngine *self,
                                   TetherConflict   *conflict)
{
  Announce *queued;

  if (g_hash_table_contains (self->unannounced, tether_conflict_get_id (conflict)))
    return;
  queued = g_new (Announce, 1);
  queued->engine = self;
  queued->id = g_strdup (tether_conflict_get_id (conflict));
  g_hash_table_insert (self->unannounced, g_strdup (queued->id), queued);
  _tether_database_queue_call (self->db, G_OBJECT (self), announce, queued, announce_free);
}

void
_tether_sync_engine_queue_changed (TetherSyncEngine *self)
{
  _tether_sync_engine_refresh_counts (self);
  g_signal_emit (self, signals[QUEUE_CHANGED], 0);
}

void
_tether_sync_engine_mark_synced (TetherSyncEngine *self,
                                 gint64            at_ms)
{
  self->last_sync_at = at_ms;
  notify (self, PROP_LAST_SYNC_AT);
}

char *
_tether_sync_engine_get_cursor (TetherSyncEngine *self)
{
  return _tether_database_meta_get (self->db, "sync.cursor", NULL);
}

gboolean
_tether_sync_engine_set_cursor (TetherSyncEngine *self,
                                const char       *cursor,
                                GError          **error)
{
  if (cursor == NULL)
    {
      sqlite3_stmt *stmt = _tether_database_prepare_cached (self->db,
        "DELETE FROM _tether_meta WHERE key = 'sync.cursor'", error);

      int rc;

      if (stmt == NULL)
        return FALSE;
      rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      if (rc != SQLITE_DONE)
        return _tether_database_set_error (self->db, rc, error, "forgetting the pull cursor"), FALSE;
      return TRUE;
    }
  return _tether_database_meta_set (self->db, "sync.cursor", cursor, error);
}

/* Local writes (ours: the tracker appended rows) and writes by another
 * process (external-change) both move the queue. */
static void
on_database_changed (TetherDatabase   *db,
                     const char       *collection,
                     TetherChangeType  type,
                     const char       *id,
                     TetherRecord     *old_record,
                     TetherRecord     *new_record,
                     TetherSyncEngine *self)
{
  if (self->appended == 0)
    return;   /* a pulled write: not logged */
  /* Counted, not queried: a count over the log on every keystroke would
   * make each write slower as the log grows. */
  set_count (self, &self->pending_count, self->pending_count + self->appended, PROP_PENDING_COUNT);
  self->appended = 0;
  g_signal_emit (self, signals[QUEUE_CHANGED], 0);
  _tether_sync_auto_local_write (self);
}

static void
on_appended (TetherChangeTracker *tracker,
             TetherSyncEngine    *self)
{
  self->appended++;
}

static void
on_external_change (TetherDatabase   *db,
                    TetherSyncEngine *self)
{
  guint before = self->pending_count;

  _tether_sync_engine_queue_changed (self);
  if (self->pending_count > before)
    _tether_sync_auto_local_write (self);
}

/* ------------------------------------------------------------ GObject */

static void
on_server_push (TetherTransport  *transport,
                JsonArray        *changes,
                TetherSyncEngine *self)
{
  _tether_sync_auto_server_push (self, changes);
}

static void
tether_sync_engine_dispose (GObject *object)
{
  TetherSyncEngine *self = TETHER_SYNC_ENGINE (object);

  _tether_sync_auto_dispose (self);
  tether_sync_engine_set_transport (self, NULL);
  if (self->tracker != NULL)
    g_clear_signal_handler (&self->appended_id, self->tracker);
  if (self->db != NULL)
    {
      g_clear_signal_handler (&self->changed_id, self->db);
      g_clear_signal_handler (&self->external_id, self->db);
    }
  g_clear_object (&self->db);
  if (self->resolver_destroy != NULL)
    g_clear_pointer (&self->resolver_data, self->resolver_destroy);
  g_clear_pointer (&self->parked_push, g_ptr_array_unref);
  G_OBJECT_CLASS (tether_sync_engine_parent_class)->dispose (object);
}

static void
tether_sync_engine_finalize (GObject *object)
{
  TetherSyncEngine *self = TETHER_SYNC_ENGINE (object);

  g_free (self->client_id);
  g_free (self->last_error);
  g_hash_table_unref (self->unannounced);
  G_OBJECT_CLASS (tether_sync_engine_parent_class)->finalize (object);
}

static void
tether_sync_engine_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TetherSyncEngine *self = TETHER_SYNC_ENGINE (object);

  switch (prop_id)
    {
    case PROP_DATABASE: g_value_set_object (value, self->db); break;
    case PROP_TRANSPORT: g_value_set_object (value, self->transport); break;
    case PROP_STATE: g_value_set_enum (value, self->state); break;
    case PROP_PENDING_COUNT: g_value_set_uint (value, self->pending_count); break;
    case PROP_FAILED_COUNT: g_value_set_uint (value, self->failed_count); break;
    case PROP_CONFLICT_COUNT: g_value_set_uint (value, self->conflict_count); break;
    case PROP_LAST_SYNC_AT: g_value_set_int64 (value, self->last_sync_at); break;
    case PROP_LAST_ERROR: g_value_set_string (value, self->last_error); break;
    case PROP_SEED_COMPAT: g_value_set_boolean (value, self->seed_compat); break;
    case PROP_CLIENT_ID: g_value_set_string (value, self->client_id); break;
    case PROP_STRATEGY: g_value_set_enum (value, self->strategy); break;
    case PROP_AUTO_SYNC: g_value_set_boolean (value, self->auto_sync); break;
    case PROP_INTERVAL: g_value_set_uint (value, self->interval); break;
    case PROP_BATCH_SIZE: g_value_set_uint (value, self->batch_size); break;
    case PROP_MAX_RETRIES: g_value_set_uint (value, self->max_retries); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_sync_engine_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  TetherSyncEngine *self = TETHER_SYNC_ENGINE (object);

  switch (prop_id)
    {
    case PROP_DATABASE: self->db = g_value_dup_object (value); break;
    case PROP_TRANSPORT: tether_sync_engine_set_transport (self, g_value_get_object (value)); break;
    case PROP_STRATEGY: tether_sync_engine_set_strategy (self, g_value_get_enum (value)); break;
    case PROP_AUTO_SYNC: tether_sync_engine_set_auto_sync (self, g_value_get_boolean (value)); break;
    case PROP_INTERVAL: tether_sync_engine_set_interval (self, g_value_get_uint (value)); break;
    case PROP_BATCH_SIZE: tether_sync_engine_set_batch_size (self, g_value_get_uint (value)); break;
    case PROP_MAX_RETRIES: tether_sync_engine_set_max_retries (self, g_value_get_uint (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

#define RW (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)
#define RO (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
install_properties (GObjectClass *object_class)
{
  properties[PROP_DATABASE] = g_param_spec_object ("database", NULL, NULL, TETHER_TYPE_DATABASE,
    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TRANSPORT] = g_param_spec_object ("transport", NULL, NULL, TETHER_TYPE_TRANSPORT, RW);
  properties[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, TETHER_TYPE_SYNC_STATE,
                                              TETHER_SYNC_STATE_IDLE, RO);
  properties[PROP_PENDING_COUNT] = g_param_spec_uint ("pending-count", NULL, NULL, 0, G_MAXUINT, 0, RO);
  properties[PROP_FAILED_COUNT] = g_param_spec_uint ("failed-count", NULL, NULL, 0, G_MAXUINT, 0, RO);
  properties[PROP_CONFLICT_COUNT] = g_param_spec_uint ("conflict-count", NULL, NULL, 0, G_MAXUINT, 0, RO);
  properties[PROP_LAST_SYNC_AT] = g_param_spec_int64 ("last-sync-at", NULL, NULL, 0, G_MAXINT64, 0, RO);
  properties[PROP_LAST_ERROR] = g_param_spec_string ("last-error", NULL, NULL, NULL, RO);
  properties[PROP_SEED_COMPAT] = g_param_spec_boolean ("seed-compat", NULL, NULL, FALSE, RO);
  properties[PROP_CLIENT_ID] = g_param_spec_string ("client-id", NULL, NULL, NULL, RO);
  properties[PROP_STRATEGY] = g_param_spec_enum ("strategy", NULL, NULL, TETHER_TYPE_CONFLICT_STRATEGY,
                                                 TETHER_CONFLICT_STRATEGY_MERGE, RW);
  properties[PROP_AUTO_SYNC] = g_param_spec_boolean ("auto-sync", NULL, NULL, FALSE, RW);
  properties[PROP_INTERVAL] = g_param_spec_uint ("interval", NULL, NULL, 1, 24 * 3600, 60, RW);
  properties[PROP_BATCH_SIZE] = g_param_spec_uint ("batch-size", NULL, NULL, 1, 1000, 500, RW);
  properties[PROP_MAX_RETRIES] = g_param_spec_uint ("max-retries", NULL, NULL, 1, 1000, 5, RW);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_sync_engine_class_init (TetherSyncEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_sync_engine_dispose;
  object_class->finalize = tether_sync_engine_finalize;
  object_class->get_property = tether_sync_engine_get_property;
  object_class->set_property = tether_sync_engine_set_property;
  install_properties (object_class);

  signals[PHASE] = g_signal_new ("phase", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                 NULL, NULL, NULL, G_TYPE_NONE, 3,
                                 TETHER_TYPE_SYNC_PHASE, G_TYPE_UINT, G_TYPE_UINT);
  signals[CONFLICT] = g_signal_new ("conflict", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 1, TETHER_TYPE_CONFLICT);
  signals[QUEUE_CHANGED] = g_signal_new ("queue-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_sync_engine_init (TetherSyncEngine *self)
{
  self->strategy = TETHER_CONFLICT_STRATEGY_MERGE;
  self->batch_size = 500;
  self->max_retries = 5;
  self->interval = 60;
  self->unannounced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

/* The strategy is kept in the database, like its server, so every process
 * syncing the file decides alike: the CLI beside the app must not merge
 * conflicts the app keeps for its user. The app sets it from its
 * preference in each database it opens. */
static void
save_strategy (TetherSyncEngine *self)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (TETHER_TYPE_CONFLICT_STRATEGY);
  GEnumValue *value = g_enum_get_value (klass, self->strategy);
  g_autoptr(GError) error = NULL;

  if (value != NULL && !_tether_database_meta_set (self->db, "sync.strategy", value->value_nick, &error))
    g_warning ("cannot save the conflict strategy (%s): other programs syncing this file "
               "keep deciding conflicts by the previous one", error->message);
}

static void
load_strategy (TetherSyncEngine *self)
{
  g_autofree char *nick = _tether_database_meta_get (self->db, "sync.strategy", NULL);
  g_autoptr(GEnumClass) klass = g_type_class_ref (TETHER_TYPE_CONFLICT_STRATEGY);
  GEnumValue *value = nick != NULL ? g_enum_get_value_by_nick (klass, nick) : NULL;

  if (value != NULL)
    self->strategy = value->value;
}

static gboolean
recover_in_transaction (TetherDatabase  *db,
                        gpointer         user_data,
                        GError         **error)
{
  if (_tether_sync_store_lock_held_elsewhere (db))
    return TRUE;
  return _tether_sync_store_reset_syncing (db, error) >= 0;
}

/* A crashed process may have left changes `syncing`; when no live process
 * holds the sync lock, nobody is sending them, so they go back to pending.
 * Read and reset in one write transaction: between the two, another
 * process could take the lock and claim rows this would put back. */
static gboolean
recover (TetherSyncEngine *self,
         GError          **error)
{
  return tether_database_transaction (self->db, recover_in_transaction, NULL, error);
}

static void
connect_database (TetherSyncEngine *self)
{
  self->changed_id = g_signal_connect_after (self->db, "changed", G_CALLBACK (on_database_changed), self);
  self->appended_id = g_signal_connect (self->tracker, "appended", G_CALLBACK (on_appended), self);
  if (g_signal_lookup ("external-change", TETHER_TYPE_DATABASE) != 0)
    self->external_id = g_signal_connect (self->db, "external-change", G_CALLBACK (on_external_change), self);
}

TetherSyncEngine *
tether_sync_engine_new (TetherDatabase  *db,
                        GError         **error)
{
  g_autoptr(TetherSyncEngine) self = NULL;
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;

  g_return_val_if_fail (TETHER_IS_DATABASE (db), NULL);

  self = g_object_new (TETHER_TYPE_SYNC_ENGINE, "database", db, NULL);
  if (!_tether_sync_set_up_tracking (db, error) || !recover (self, error))
    return NULL;
  self->tracker = _tether_sync_get_tracker (db);
  self->hlc = _tether_sync_get_hlc (db);
  self->client_id = g_strdup (tether_hlc_get_node (self->hlc));
  connect_database (self);
  _tether_sync_auto_init (self);
  _tether_sync_engine_refresh_counts (self);
  load_strategy (self);
  tether_sync_engine_load_remote (self, &url, &token);
  if (url != NULL)
    tether_sync_engine_set_remote (self, url, token);
  return g_steal_pointer (&self);
}

/* ---------------------------------------------------------- accessors */

TetherDatabase *
tether_sync_engine_get_database (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return self->db;
}

const char *
tether_sync_engine_get_client_id (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return self->client_id;
}

gboolean
tether_sync_engine_save_remote (TetherSyncEngine *self,
                                const char       *url,
                                const char       *token,
                                GError          **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  g_return_val_if_fail (url != NULL, FALSE);

  if (!g_str_has_prefix (url, "http://") && !g_str_has_prefix (url, "https://"))
    {
      g_set_error (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_INVALID,
                   "\"%s\" is not a server address: it must start with http:// or https://", url);
      return FALSE;
    }
  if (!tether_database_begin (self->db, error))
    return FALSE;
  if (!_tether_database_meta_set (self->db, "sync.remote_url", url, error) ||
      (token != NULL && !_tether_database_meta_set (self->db, "sync.remote_token", token, error)))
    {
      tether_database_rollback (self->db);
      return FALSE;
    }
  return tether_database_commit (self->db, error);
}

void
tether_sync_engine_load_remote (TetherSyncEngine *self,
                                char            **url,
                                char            **token)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  if (url != NULL)
    *url = _tether_database_meta_get (self->db, "sync.remote_url", NULL);
  if (token != NULL)
    *token = _tether_database_meta_get (self->db, "sync.remote_token", NULL);
}

void
tether_sync_engine_set_remote (TetherSyncEngine *self,
                               const char       *url,
                               const char       *token)
{
  g_autoptr(TetherHttpTransport) http = NULL;

  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  if (url != NULL)
    http = tether_http_transport_new (url, token);
  tether_sync_engine_set_transport (self, TETHER_TRANSPORT (http));
}

/* New credentials: a refused token no longer stops auto-sync, and a 401
 * still on its way for the old ones is ignored (tether-sync-run.c).
 * @new_server: another server's Retry-After says nothing of this one. */
static void
credentials_changed (TetherSyncEngine *self,
                     gboolean          new_server)
{
  self->credentials++;
  if (self->state == TETHER_SYNC_STATE_AUTH_REQUIRED)
    _tether_sync_engine_set_state (self, TETHER_SYNC_STATE_IDLE, NULL);
  if (self->scheduler == NULL)
    return;
  if (new_server)
    _tether_sync_scheduler_server_changed (self->scheduler);
  _tether_sync_scheduler_credentials_changed (self->scheduler);
}


void
tether_sync_engine_set_token (TetherSyncEngine *self,
                              const char       *token)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  if (TETHER_IS_HTTP_TRANSPORT (self->transport))
    tether_http_transport_set_token (TETHER_HTTP_TRANSPORT (self->transport), token);
  else if (TETHER_IS_WS_TRANSPORT (self->transport))
    tether_ws_transport_set_token (TETHER_WS_TRANSPORT (self->transport), token);
  credentials_changed (self, FALSE);
}

void
tether_sync_engine_set_transport (TetherSyncEngine *self,
                                  TetherTransport  *transport)
{
  gboolean new_server;

  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));
  g_return_if_fail (transport == NULL || TETHER_IS_TRANSPORT (transport));

  if (self->transport == transport)
    return;
  new_server = !_tether_transport_same_address (self->transport, transport);
  if (self->transport != NULL)
    {
      g_clear_signal_handler (&self->server_push_id, self->transport);
      tether_transport_disconnect (self->transport);
    }
  g_set_object (&self->transport, transport);
  if (transport != NULL)
    {
      self->server_push_id = g_signal_connect (transport, "server-push", G_CALLBACK (on_server_push), self);
      if (self->auto_sync)
        tether_transport_connect (transport);
    }
  credentials_changed (self, new_server);
  notify (self, PROP_TRANSPORT);
}

TetherTransport *
tether_sync_engine_get_transport (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return self->transport;
}

void
tether_sync_engine_set_strategy (TetherSyncEngine       *self,
                                 TetherConflictStrategy  strategy)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  if (self->strategy == strategy)
    return;
  self->strategy = strategy;
  save_strategy (self);
  notify (self, PROP_STRATEGY);
}

TetherConflictStrategy
tether_sync_engine_get_strategy (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), TETHER_CONFLICT_STRATEGY_MERGE);
  return self->strategy;
}

void
tether_sync_engine_set_resolver (TetherSyncEngine       *self,
                                 TetherConflictResolver  resolver,
                                 gpointer                user_data,
                                 GDestroyNotify          destroy)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  if (self->resolver_destroy != NULL)
    g_clear_pointer (&self->resolver_data, self->resolver_destroy);
  self->resolver = resolver;
  self->resolver_data = user_data;
  self->resolver_destroy = destroy;
}

void
tether_sync_engine_set_batch_size (TetherSyncEngine *self,
                                   guint             size)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  size = CLAMP (size, 1, 1000);   /* the server refuses pushes over 1,000 */
  if (self->batch_size == size)
    return;
  self->batch_size = size;
  notify (self, PROP_BATCH_SIZE);
}

void
tether_sync_engine_set_max_retries (TetherSyncEngine *self,
                                    guint             retries)
{
  g_return_if_fail (TETHER_IS_SYNC_ENGINE (self));

  retries = MAX (retries, 1);
  if (self->max_retries == retries)
    return;
  self->max_retries = retries;
  notify (self, PROP_MAX_RETRIES);
}

TetherSyncState
tether_sync_engine_get_state (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), TETHER_SYNC_STATE_IDLE);
  return self->state;
}

guint
tether_sync_engine_get_pending_count (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), 0);
  return self->pending_count;
}

guint
tether_sync_engine_get_failed_count (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), 0);
  return self->failed_count;
}

guint
tether_sync_engine_get_conflict_count (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), 0);
  return self->conflict_count;
}

gint64
tether_sync_engine_get_last_sync_at (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), 0);
  return self->last_sync_at;
}

const char *
tether_sync_engine_get_last_error (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), NULL);
  return self->last_error;
}

gboolean
tether_sync_engine_get_seed_compat (TetherSyncEngine *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_ENGINE (self), FALSE);
  return self->seed_compat;
}
