/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-push"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"

/* The push algorithm, once for every store: one transaction per batch, a
 * handful of batch calls, and every decision made in memory so that later
 * changes of a batch see the earlier ones. */

typedef struct {
  TetherServerCore        *core;
  TetherServerStore       *store;
  const TetherServerUser  *user;
  TetherServerPushRequest *request;
  const char             **ids;           /* every change id, for find_applied */
  gint64                   now_ms;
  GString                 *now_text;      /* quoted, ready to append */
  gint64                   last_rev;
  guint                    n_new;         /* changes accepted by this attempt */
  GHashTable              *applied;       /* store: change id → TetherServerApplied* */
  GHashTable              *stored;        /* store: ref → TetherServerRecord* */
  GHashTable              *current;       /* ref → this batch's latest state (borrowed) */
  GHashTable              *batch_applied; /* change id → TetherServerApplied* (borrowed) */
  GPtrArray               *puts;          /* TetherServerRecord*, strings borrowed */
  GPtrArray               *put_ids;
  GPtrArray               *put_applied;   /* TetherServerApplied*, hlc borrowed */
  GPtrArray               *owned;         /* clamped hlc texts, writer times */
  GArray                  *conflicted;    /* Conflicted, in change order */
  GString                 *accepted, *errors;   /* JSON array members */
  TetherServerConflicts    conflicts;
} Push;

/* A change that met another version: described once the batch is judged,
 * with one read of the stored versions' data for all of them. */
typedef struct {
  const TetherServerChange *change;
  const TetherServerRecord *current;   /* a batch or stored state, or NULL */
  gboolean                  stored;    /* current is the stored state, without its data */
} Conflicted;

static void
push_reset (Push *push)
{
  g_clear_pointer (&push->applied, g_hash_table_unref);
  g_clear_pointer (&push->stored, g_hash_table_unref);
  g_clear_pointer (&push->current, g_hash_table_unref);
  g_clear_pointer (&push->batch_applied, g_hash_table_unref);
  g_clear_pointer (&push->puts, g_ptr_array_unref);
  g_clear_pointer (&push->put_ids, g_ptr_array_unref);
  g_clear_pointer (&push->put_applied, g_ptr_array_unref);
  g_clear_pointer (&push->owned, g_ptr_array_unref);
  g_clear_pointer (&push->conflicted, g_array_unref);
  if (push->accepted != NULL)
    g_string_free (g_steal_pointer (&push->accepted), TRUE);
  _tether_server_conflicts_clear (&push->conflicts);
  if (push->errors != NULL)
    g_string_free (g_steal_pointer (&push->errors), TRUE);
  if (push->now_text != NULL)
    g_string_free (g_steal_pointer (&push->now_text), TRUE);
  push->n_new = 0;
}

static void
push_start (Push *push)
{
  guint n = push->request->n_changes;

  push_reset (push);
  push->now_text = g_string_new (NULL);
  push->current = g_hash_table_new (_tether_server_str_hash, g_str_equal);
  push->batch_applied = g_hash_table_new (_tether_server_str_hash, g_str_equal);
  push->puts = g_ptr_array_new_full (n, g_free);
  push->put_ids = g_ptr_array_new_full (n, NULL);
  push->put_applied = g_ptr_array_new_full (n, g_free);
  push->owned = g_ptr_array_new_with_free_func (g_free);
  push->conflicted = g_array_new (FALSE, FALSE, sizeof (Conflicted));
  push->accepted = g_string_sized_new (n * 128);
  _tether_server_conflicts_init (&push->conflicts);
  push->errors = g_string_new (NULL);
}

/* Opens the next member of a JSON array being written. */
static GString *
open_entry (GString *array)
{
  g_string_append (array, array->len == 0 ? "{" : ",{");
  return array;
}

static void
add_accepted (Push                      *push,
              const char                *id,
              const TetherServerApplied *applied,
              gboolean                   clamped)
{
  GString *out = open_entry (push->accepted);

  g_string_append (out, "\"id\":");
  _tether_server_append_string (out, id);
  g_string_append (out, ",\"serverTimestamp\":");
  if (applied->server_ms == push->now_ms)
    g_string_append_len (out, push->now_text->str, push->now_text->len);
  else
    _tether_server_append_time (out, applied->server_ms);
  g_string_append (out, ",\"rev\":");
  _tether_server_append_int (out, applied->rev);
  /* The client's own hlc needs no echo: only a clamped one is news. */
  if (clamped)
    {
      g_string_append (out, ",\"hlc\":");
      _tether_server_append_string (out, applied->hlc);
      g_string_append (out, ",\"hlcClamped\":true");
    }
  g_string_append_c (out, '}');
}

static void
add_error (Push                     *push,
           const TetherServerChange *change)
{
  GString *out = open_entry (push->errors);

  g_string_append (out, "\"id\":");
  _tether_server_append_string (out, change->id);
  g_string_append (out, ",\"error\":");
  _tether_server_append_string (out, change->error);
  g_string_append (out, ",\"code\":");
  _tether_server_append_string (out, change->error_code);
  g_string_append_c (out, '}');
}

/* baseRev decides alone; without it, the seed's rules, by the writers'
 * times (the stored write's hlc or timestamp, never the server's clock
 * against the client's). A version written earlier in this batch is the
 * same client's own (a batch comes from one client): it never makes a
 * later change of the batch stale. */
static gboolean
is_conflict (const TetherServerChange *change,
             const TetherServerRecord *current,
             gboolean                  from_batch)
{
  if (change->base_rev >= 0)
    return (current != NULL ? current->rev : 0) != change->base_rev;
  if (current == NULL)
    return FALSE;
  if (change->type == TETHER_CHANGE_CREATE)
    return current->type != TETHER_CHANGE_DELETE;
  return !from_batch && change->timestamp != NULL && current->writer_ms > change->timestamp_ms;
}

/* An hlc more than an hour ahead keeps its counter and client but gets the
 * latest time the server allows, so one bad clock cannot win every race. */
static const char *
clamp_hlc (Push       *push,
           const char *hlc,
           gboolean   *clamped)
{
  gint64 limit = push->now_ms + TETHER_SERVER_HLC_MAX_AHEAD_MS;
  char *text;

  *clamped = FALSE;
  if (hlc == NULL || g_ascii_strtoll (hlc, NULL, 10) <= limit)
    return hlc;
  text = g_strdup_printf ("%013" G_GINT64_FORMAT "%s", limit, hlc + 13);
  g_ptr_array_add (push->owned, text);
  *clamped = TRUE;
  return text;
}

/* What the record keeps of its writer's clock: the hlc, else the time of
 * a change that has a timestamp (a seed client's), held to the same
 * bounds as an hlc, for later changes without baseRev to be judged by. */
static const char *
writer_clock (Push                     *push,
              const TetherServerChange *change,
              gboolean                 *clamped)
{
  gint64 ms;
  char *text;

  if (change->hlc != NULL || change->timestamp == NULL)
    return clamp_hlc (push, change->hlc, clamped);
  *clamped = FALSE;
  ms = CLAMP (change->timestamp_ms, 0, push->now_ms + TETHER_SERVER_HLC_MAX_AHEAD_MS);
  text = tether_server_writer_time_new (ms);
  g_ptr_array_add (push->owned, text);
  return text;
}

static void
accept (Push                     *push,
        const TetherServerChange *change)
{
  TetherServerRecord *record = g_new (TetherServerRecord, 1);
  TetherServerApplied *applied = g_new (TetherServerApplied, 1);
  gboolean clamped;

  record->collection = (char *) change->collection;
  record->key = change->key;
  record->data = change->type == TETHER_CHANGE_DELETE ? NULL : change->data_json;
  record->type = change->type;
  record->rev = ++push->last_rev;
  record->server_ms = push->now_ms;
  record->hlc = (char *) writer_clock (push, change, &clamped);
  record->writer_ms = tether_server_hlc_writer_ms (record->hlc, record->server_ms);
  record->change_id = (char *) change->id;
  record->client_id = (char *) push->request->client_id;
  /* A retry is answered with its own hlc unless this one was clamped:
   * only a clamped hlc needs remembering, which keeps the rows small. */
  *applied = (TetherServerApplied) { record->rev, record->server_ms, clamped ? record->hlc : NULL };
  g_ptr_array_add (push->puts, record);
  g_ptr_array_add (push->put_ids, (gpointer) change->id);
  g_ptr_array_add (push->put_applied, applied);
  g_hash_table_replace (push->current, change->ref, record);
  g_hash_table_replace (push->batch_applied, (gpointer) change->id, applied);
  push->n_new++;
  add_accepted (push, change->id, applied, clamped);
}

/* A new, well-formed change: accepted or a conflict. */
static void
judge (Push                     *push,
       const TetherServerChange *change)
{
  TetherServerRecord *current = g_hash_table_lookup (push->current, change->ref);
  gboolean from_batch = current != NULL;

  if (current == NULL)
    current = g_hash_table_lookup (push->stored, change->ref);
  if (is_conflict (change, current, from_batch))
    g_array_append_val (push->conflicted, ((Conflicted) { change, current, current != NULL && !from_batch }));
  else
    accept (push, change);
}

static void
decide (Push                     *push,
        const TetherServerChange *change)
{
  TetherServerApplied *applied = g_hash_table_lookup (push->applied, change->id);

  if (applied == NULL)
    applied = g_hash_table_lookup (push->batch_applied, change->id);
  if (applied != NULL)
    /* answered as the first time: the stored hlc differs only if clamped */
    add_accepted (push, change->id, applied,
                  change->hlc != NULL && applied->hlc != NULL && strcmp (change->hlc, applied->hlc) != 0);
  else if (change->error_code != NULL)
    add_error (push, change);
  else
    judge (push, change);
}

/* The states of the records the batch's new, well-formed changes touch. */
static gboolean
load_records (Push    *push,
              GError **error)
{
  guint n = push->request->n_changes;
  g_autofree const char **collections = g_new (const char *, n);
  g_autofree const char **keys = g_new (const char *, n);
  guint count = 0;

  for (guint i = 0; i < n; i++)
    {
      const TetherServerChange *change = &push->request->changes[i];

      if (change->error_code != NULL || g_hash_table_contains (push->applied, change->id))
        continue;
      collections[count] = change->collection;
      keys[count++] = change->key;
    }
  push->stored = tether_server_store_get_records (push->store, push->user->id,
                                                  collections, keys, count, FALSE, error);
  return push->stored != NULL;
}

/* The conflicts' entries, with the data of the stored versions they met
 * (the batch's own versions carry theirs), each read once however many
 * changes met it. */
static gboolean
describe_conflicts (Push    *push,
                    GError **error)
{
  guint n = push->conflicted->len;
  g_autofree const char **collections = g_new (const char *, n);
  g_autofree const char **keys = g_new (const char *, n);
  g_autoptr(GHashTable) wanted = g_hash_table_new (_tether_server_str_hash, g_str_equal);
  g_autoptr(GHashTable) full = NULL;
  guint count = 0;

  for (guint i = 0; i < n; i++)
    {
      Conflicted *c = &g_array_index (push->conflicted, Conflicted, i);

      if (c->stored && g_hash_table_add (wanted, c->change->ref))
        {
          collections[count] = c->change->collection;
          keys[count++] = c->change->key;
        }
    }
  if (count > 0 &&
      (full = tether_server_store_get_records (push->store, push->user->id,
                                               collections, keys, count, TRUE, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      Conflicted *c = &g_array_index (push->conflicted, Conflicted, i);
      const TetherServerRecord *stored = c->stored ? g_hash_table_lookup (full, c->change->ref) : NULL;

      /* One left out was not applied: the client sends it again. */
      _tether_server_conflicts_add (&push->conflicts, c->change, stored != NULL ? stored : c->current);
    }
  _tether_server_conflicts_forget_records (&push->conflicts);
  return TRUE;
}

static gboolean
write_batch (Push    *push,
             GError **error)
{
  gint64 user_id = push->user->id;

  if (push->n_new == 0)
    return TRUE;
  return tether_server_store_put_records (push->store, user_id,
                                          (TetherServerRecord * const *) push->puts->pdata,
                                          push->puts->len, error) &&
         tether_server_store_remember_applied (push->store, user_id,
                                               (const char * const *) push->put_ids->pdata,
                                               (TetherServerApplied * const *) push->put_applied->pdata,
                                               push->put_ids->len, error) &&
         tether_server_store_set_last_rev (push->store, user_id, push->last_rev, error);
}

static gboolean
push_once (Push    *push,
           GError **error)
{
  TetherServerPushRequest *request = push->request;

  push_start (push);
  if (!tether_server_store_begin (push->store, error))
    return FALSE;
  push->last_rev = tether_server_store_lock_user (push->store, push->user->id, error);
  /* Read under the user's lock: a later rev never gets an earlier time,
   * even from another server process on the same PostgreSQL. */
  push->now_ms = tether_time_now_ms ();
  _tether_server_append_time (push->now_text, push->now_ms);
  if (push->last_rev < 0 ||
      (push->applied = tether_server_store_find_applied (push->store, push->user->id, push->ids,
                                                         request->n_changes, error)) == NULL ||
      !load_records (push, error))
    goto failed;
  for (guint i = 0; i < request->n_changes; i++)
    decide (push, &request->changes[i]);
  if (!describe_conflicts (push, error) || !write_batch (push, error) ||
      !tether_server_store_commit (push->store, error))
    goto failed;
  return TRUE;

failed:
  tether_server_store_rollback (push->store);
  return FALSE;
}

/* Put together by copying: printf's %s walked and grew the answer a few
 * bytes at a time, 5% of a 1,000-change push. */
static char *
push_response (Push *push)
{
  GString *out = g_string_sized_new (push->accepted->len + push->conflicts.out->len +
                                     push->errors->len + 48);

  g_string_append (out, "{\"accepted\":[");
  g_string_append_len (out, push->accepted->str, push->accepted->len);
  g_string_append (out, "],\"conflicts\":[");
  g_string_append_len (out, push->conflicts.out->str, push->conflicts.out->len);
  g_string_append (out, "],\"errors\":[");
  g_string_append_len (out, push->errors->str, push->errors->len);
  g_string_append (out, "]}");
  return g_string_free (out, FALSE);
}

static gboolean
check_schema_version (TetherServerCore               *self,
                      const TetherServerPushRequest  *request,
                      GError                        **error)
{
  TetherSchema *schema = _tether_server_core_get_schema (self);

  if (schema == NULL || !request->has_schema_version ||
      request->schema_version <= tether_schema_get_version (schema))
    return TRUE;
  g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_SCHEMA_TOO_NEW,
               "Your schema version %" G_GINT64_FORMAT " is newer than the server's (%" G_GINT64_FORMAT
               "): update the server's schema before pushing", request->schema_version,
               tether_schema_get_version (schema));
  return FALSE;
}

/* Time a push may spend on tries the store found busy before it is
 * answered 503; the process handles nothing else meanwhile. */
#define PUSH_BUDGET_US (3 * G_USEC_PER_SEC)

/* A busy store (lock timeout, serialization failure, deadlock) gets the
 * whole transaction again, a bounded number of times within
 * PUSH_BUDGET_US, after a random pause so that colliding pushes do not
 * collide again. */
static char *
run_push (Push    *push,
          GError **error)
{
  g_autoptr(GError) store_error = NULL;
  gint64 give_up = g_get_monotonic_time () + PUSH_BUDGET_US;

  for (guint attempt = 0; attempt < TETHER_SERVER_PUSH_TRIES; attempt++)
    {
      if (attempt > 0)
        g_usleep (g_random_int_range (5, 25) * 1000 * attempt);
      g_clear_error (&store_error);
      if (push_once (push, &store_error))
        return push_response (push);
      if (!g_error_matches (store_error, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_BUSY) ||
          g_get_monotonic_time () >= give_up)
        break;
    }
  _tether_server_store_failed (error, g_steal_pointer (&store_error));
  return NULL;
}

/* TRUE when no push of this process announced @rev or later for @user_id;
 * remembers it. A push that replays changes may be the retry of one that
 * committed but lost its answer, and its announcement, with its database
 * connection: its rev is announced then, unless this process did already.
 * Kept on the core, per user, beside it rather than in it. */
static gboolean
not_yet_announced (TetherServerCore *self,
                   gint64            user_id,
                   gint64            rev)
{
  static GQuark quark;
  GHashTable *revs;
  gint64 *known;

  if (quark == 0)
    quark = g_quark_from_static_string ("tether-server-push-announced");
  revs = g_object_get_qdata (G_OBJECT (self), quark);
  if (revs == NULL)
    {
      /* Entries are gint64[2] {user id, rev}, keyed by their first member. */
      revs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      g_object_set_qdata_full (G_OBJECT (self), quark, revs, (GDestroyNotify) g_hash_table_unref);
    }
  known = g_hash_table_lookup (revs, &user_id);
  if (known != NULL && known[1] >= rev)
    return FALSE;
  if (known == NULL)
    {
      known = g_new (gint64, 2);
      known[0] = user_id;
      g_hash_table_add (revs, known);
    }
  known[1] = rev;
  return TRUE;
}

char *
tether_server_core_push_text (TetherServerCore        *self,
                         const TetherServerUser  *user,
                         const char              *body,
                         gsize                    length,
                         guint                   *n_changes,
                         GError                 **error)
{
  g_autoptr(TetherServerPushRequest) request = NULL;
  g_autofree const char **ids = NULL;
  Push push = { self, tether_server_core_get_store (self), user };
  char *response;

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  g_return_val_if_fail (user != NULL, NULL);

  if (n_changes != NULL)
    *n_changes = 0;
  request = _tether_server_push_request_parse (body, length, _tether_server_core_get_schema (self),
                                               _tether_server_core_get_max_changes (self), error);
  if (request == NULL)
    return NULL;
  if (n_changes != NULL)
    *n_changes = request->n_changes;
  if (!check_schema_version (self, request, error))
    return NULL;
  ids = g_new (const char *, request->n_changes + 1);
  for (guint i = 0; i < request->n_changes; i++)
    ids[i] = request->changes[i].id;
  push.request = request;
  push.ids = ids;
  response = run_push (&push, error);
  if (response != NULL && (push.n_new > 0 || g_hash_table_size (push.applied) > 0) &&
      not_yet_announced (self, user->id, push.last_rev))
    _tether_server_core_feed_changed (self, user->id, push.last_rev);
  push_reset (&push);
  return response;
}

JsonNode *
tether_server_core_push (TetherServerCore        *self,
                         const TetherServerUser  *user,
                         const char              *body,
                         gsize                    length,
                         guint                   *n_changes,
                         GError                 **error)
{
  return _tether_server_text_to_node (tether_server_core_push_text (self, user, body, length,
                                                                    n_changes, error), error);
}
