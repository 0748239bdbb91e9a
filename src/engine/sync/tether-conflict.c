/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-conflict"
#include "config.h"

#include "tether-sync-store-private.h"

/* One entry of the conflict log. It holds copies of everything it is given
 * so that the engine may keep working on its own objects. */

struct _TetherConflict
{
  GObject                 parent_instance;
  char                   *id;
  char                   *collection;
  char                   *record_id;
  JsonObject             *local;
  JsonObject             *remote;
  JsonObject             *base;
  JsonObject             *result;
  char                   *local_hlc;
  char                   *remote_hlc;
  gint64                  remote_rev;
  TetherConflictStrategy  strategy;
  TetherConflictStatus    status;
  TetherConflictWinner    winner;
  GStrv                   fields;
  GStrv                   local_lost;
  GStrv                   remote_lost;
  gboolean                local_deleted;
  gboolean                remote_deleted;
  gint64                  created;
  gint64                  resolved;
};

G_DEFINE_FINAL_TYPE (TetherConflict, tether_conflict, G_TYPE_OBJECT)

G_DEFINE_ENUM_TYPE (TetherConflictStrategy, tether_conflict_strategy,
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_MERGE, "merge"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_LWW, "lww"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_CLIENT_WINS, "client-wins"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_SERVER_WINS, "server-wins"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_CUSTOM, "custom"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_STRATEGY_MANUAL, "manual"))

G_DEFINE_ENUM_TYPE (TetherConflictStatus, tether_conflict_status,
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_OPEN, "open"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_RESOLVED, "resolved"),
  G_DEFINE_ENUM_VALUE (TETHER_CONFLICT_RESTORED, "restored"))

static const char * const strategy_names[] = {
  "merge", "lww", "client-wins", "server-wins", "custom", "manual",
};
static const char * const status_names[] = { "open", "resolved", "restored" };
static const char * const winner_names[] = { "none", "local", "remote", "merged" };

static const char *
name_of (const char * const *names,
         guint               n_names,
         guint               value)
{
  g_return_val_if_fail (value < n_names, "unknown");
  return names[value];
}

const char *
tether_conflict_strategy_to_string (TetherConflictStrategy strategy)
{
  return name_of (strategy_names, G_N_ELEMENTS (strategy_names), strategy);
}

gboolean
tether_conflict_strategy_from_string (const char             *text,
                                      TetherConflictStrategy *strategy)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (strategy_names); i++)
    if (g_str_equal (text, strategy_names[i]))
      {
        if (strategy != NULL)
          *strategy = i;
        return TRUE;
      }
  return FALSE;
}

const char *
tether_conflict_status_to_string (TetherConflictStatus status)
{
  return name_of (status_names, G_N_ELEMENTS (status_names), status);
}

static void
tether_conflict_finalize (GObject *object)
{
  TetherConflict *self = TETHER_CONFLICT (object);

  g_free (self->id);
  g_free (self->collection);
  g_free (self->record_id);
  g_clear_pointer (&self->local, json_object_unref);
  g_clear_pointer (&self->remote, json_object_unref);
  g_clear_pointer (&self->base, json_object_unref);
  g_clear_pointer (&self->result, json_object_unref);
  g_free (self->local_hlc);
  g_free (self->remote_hlc);
  g_strfreev (self->fields);
  g_strfreev (self->local_lost);
  g_strfreev (self->remote_lost);
  G_OBJECT_CLASS (tether_conflict_parent_class)->finalize (object);
}

static void
tether_conflict_class_init (TetherConflictClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_conflict_finalize;
}

static void
tether_conflict_init (TetherConflict *self)
{
  self->fields = g_new0 (char *, 1);
  self->local_lost = g_new0 (char *, 1);
  self->remote_lost = g_new0 (char *, 1);
}

TetherConflict *
tether_conflict_new (const char *id,
                     const char *collection,
                     const char *record_id)
{
  TetherConflict *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (collection != NULL, NULL);
  g_return_val_if_fail (record_id != NULL, NULL);

  self = g_object_new (TETHER_TYPE_CONFLICT, NULL);
  self->id = g_strdup (id);
  self->collection = g_strdup (collection);
  self->record_id = g_strdup (record_id);
  self->created = tether_time_now_ms ();
  return self;
}

#define GETTER(type, name)                             \
  type                                                 \
  tether_conflict_get_##name (TetherConflict *self)    \
  {                                                    \
    g_return_val_if_fail (TETHER_IS_CONFLICT (self), 0); \
    return self->name;                                 \
  }

GETTER (const char *, id)
GETTER (const char *, collection)
GETTER (const char *, record_id)
GETTER (JsonObject *, local)
GETTER (JsonObject *, remote)
GETTER (JsonObject *, base)
GETTER (JsonObject *, result)
GETTER (const char *, local_hlc)
GETTER (const char *, remote_hlc)
GETTER (gint64, remote_rev)
GETTER (TetherConflictStrategy, strategy)
GETTER (TetherConflictStatus, status)
GETTER (TetherConflictWinner, winner)
GETTER (gboolean, local_deleted)
GETTER (gboolean, remote_deleted)
GETTER (gint64, created)
GETTER (gint64, resolved)

#undef GETTER

const char * const *
tether_conflict_get_fields (TetherConflict *self)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (self), NULL);
  return (const char * const *) self->fields;
}

const char * const *
tether_conflict_get_local_lost (TetherConflict *self)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (self), NULL);
  return (const char * const *) self->local_lost;
}

const char * const *
tether_conflict_get_remote_lost (TetherConflict *self)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (self), NULL);
  return (const char * const *) self->remote_lost;
}

gboolean
tether_conflict_lost_by_fields (TetherConflict *self)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (self), FALSE);

  /* CUSTOM without a callback merges too */
  return (self->strategy != TETHER_CONFLICT_STRATEGY_MANUAL ||
          self->winner == TETHER_CONFLICT_WINNER_MERGED) &&
         self->result != NULL &&
         ((self->local_lost != NULL && self->local_lost[0] != NULL) ||
          (self->remote_lost != NULL && self->remote_lost[0] != NULL));
}

static gboolean
same_object (JsonObject *a,
             JsonObject *b)
{
  return a == NULL || b == NULL ? a == b : json_object_equal (a, b);
}

/* A server that sends no revs changes its side with the same rev and hlc:
 * the data tells. */
gboolean
tether_conflict_equal (TetherConflict *a,
                       TetherConflict *b)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (a) && TETHER_IS_CONFLICT (b), FALSE);

  return g_str_equal (a->id, b->id) &&
         a->status == b->status &&
         a->winner == b->winner &&
         a->resolved == b->resolved &&
         a->remote_rev == b->remote_rev &&
         g_strcmp0 (a->remote_hlc, b->remote_hlc) == 0 &&
         g_strcmp0 (a->local_hlc, b->local_hlc) == 0 &&
         same_object (a->local, b->local) &&
         same_object (a->remote, b->remote);
}

static void
replace_object (JsonObject **slot,
                JsonObject  *object)
{
  JsonObject *copy = object ? _tether_json_object_deep_copy (object) : NULL;

  g_clear_pointer (slot, json_object_unref);
  *slot = copy;
}

static void
replace_string (char       **slot,
                const char  *value)
{
  char *copy = g_strdup (value);

  g_free (*slot);
  *slot = copy;
}

static void
replace_strv (GStrv              *slot,
              const char * const *value)
{
  GStrv copy = value ? g_strdupv ((char **) value) : g_new0 (char *, 1);

  g_strfreev (*slot);
  *slot = copy;
}

void
tether_conflict_set_local (TetherConflict *self,
                           JsonObject     *local,
                           const char     *hlc)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  replace_object (&self->local, local);
  replace_string (&self->local_hlc, hlc);
}

void
tether_conflict_set_remote (TetherConflict *self,
                            JsonObject     *remote,
                            const char     *hlc,
                            gint64          rev)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  replace_object (&self->remote, remote);
  replace_string (&self->remote_hlc, hlc);
  self->remote_rev = rev;
}

void
tether_conflict_set_base (TetherConflict *self,
                          JsonObject     *base)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  replace_object (&self->base, base);
}

void
tether_conflict_set_result (TetherConflict       *self,
                            JsonObject           *result,
                            TetherConflictWinner  winner)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  g_return_if_fail (winner <= TETHER_CONFLICT_WINNER_MERGED);
  replace_object (&self->result, result);
  self->winner = winner;
}

void
tether_conflict_set_strategy (TetherConflict         *self,
                              TetherConflictStrategy  strategy)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  g_return_if_fail (strategy <= TETHER_CONFLICT_STRATEGY_MANUAL);
  self->strategy = strategy;
}

void
tether_conflict_set_status (TetherConflict       *self,
                            TetherConflictStatus  status,
                            gint64                resolved_ms)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  g_return_if_fail (status <= TETHER_CONFLICT_RESTORED);
  self->status = status;
  self->resolved = resolved_ms;
}

void
tether_conflict_set_fields (TetherConflict     *self,
                            const char * const *both_changed,
                            const char * const *local_lost,
                            const char * const *remote_lost)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  replace_strv (&self->fields, both_changed);
  replace_strv (&self->local_lost, local_lost);
  replace_strv (&self->remote_lost, remote_lost);
}

void
tether_conflict_set_deleted (TetherConflict *self,
                             gboolean        local_deleted,
                             gboolean        remote_deleted)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  self->local_deleted = !!local_deleted;
  self->remote_deleted = !!remote_deleted;
}

void
tether_conflict_set_created (TetherConflict *self,
                             gint64          ms)
{
  g_return_if_fail (TETHER_IS_CONFLICT (self));
  self->created = ms;
}

/* An open or merged conflict has no single winner: what a user would want
 * back is then their own version. */
JsonObject *
tether_conflict_get_loser (TetherConflict *self)
{
  g_return_val_if_fail (TETHER_IS_CONFLICT (self), NULL);
  return self->winner == TETHER_CONFLICT_WINNER_LOCAL ? self->remote : self->local;
}

/* JSON output ---------------------------------------------------------------- */

static void
add_strv (JsonBuilder *builder,
          const char  *name,
          GStrv        values)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; values[i] != NULL; i++)
    json_builder_add_string_value (builder, values[i]);
  json_builder_end_array (builder);
}

JsonNode *
tether_conflict_to_json (TetherConflict *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (TETHER_IS_CONFLICT (self), NULL);

  json_builder_begin_object (builder);
  _tether_sync_add_string (builder, "id", self->id);
  _tether_sync_add_string (builder, "collection", self->collection);
  _tether_sync_add_string (builder, "recordId", self->record_id);
  _tether_sync_add_object (builder, "local", self->local);
  _tether_sync_add_object (builder, "remote", self->remote);
  _tether_sync_add_object (builder, "base", self->base);
  _tether_sync_add_object (builder, "result", self->result);
  _tether_sync_add_string (builder, "localHlc", self->local_hlc);
  _tether_sync_add_string (builder, "remoteHlc", self->remote_hlc);
  _tether_sync_add_int (builder, "remoteRev", self->remote_rev);
  _tether_sync_add_string (builder, "strategy", tether_conflict_strategy_to_string (self->strategy));
  _tether_sync_add_string (builder, "status", tether_conflict_status_to_string (self->status));
  _tether_sync_add_string (builder, "winner", name_of (winner_names, G_N_ELEMENTS (winner_names), self->winner));
  add_strv (builder, "fields", self->fields);
  add_strv (builder, "localLost", self->local_lost);
  add_strv (builder, "remoteLost", self->remote_lost);
  json_builder_set_member_name (builder, "localDeleted");
  json_builder_add_boolean_value (builder, self->local_deleted);
  json_builder_set_member_name (builder, "remoteDeleted");
  json_builder_add_boolean_value (builder, self->remote_deleted);
  _tether_sync_add_time (builder, "created", self->created);
  _tether_sync_add_time (builder, "resolved", self->resolved);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
