/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>

#include "tether-cli-private.h"

/* `tether inspect` and the conflict list: the sync state as lines for
 * people, or as one JSON object with --json. */

#define TEXT_EVENTS 10   /* the newest events shown as text; --json has all */

/* Local time to the second: for people reading a terminal. */
static char *
format_time (gint64 ms)
{
  g_autoptr(GDateTime) utc = NULL;
  g_autoptr(GDateTime) local = NULL;

  if (ms <= 0)
    return g_strdup ("-");
  utc = g_date_time_new_from_unix_utc (ms / 1000);
  local = g_date_time_to_local (utc);
  return g_date_time_format (local, "%Y-%m-%d %H:%M:%S");
}

/* Text ------------------------------------------------------------------------- */

static void
print_change (TetherSyncChange *change)
{
  g_autofree char *time = format_time (tether_sync_change_get_created (change));
  g_autofree char *title = _tether_cli_json_string (tether_sync_change_get_title (change));
  const char *error = tether_sync_change_get_error (change);

  fprintf (stdout, "  %s  %s  %s/%s  %s  %s  retries %u  %s\n",
           tether_sync_change_get_id (change), time,
           tether_sync_change_get_collection (change), tether_sync_change_get_record_id (change),
           tether_change_type_to_string (tether_sync_change_get_change_type (change)),
           tether_change_status_to_string (tether_sync_change_get_status (change)),
           tether_sync_change_get_retries (change), title);
  if (error != NULL)
    fprintf (stdout, "      error: %s\n", error);
}

static void
print_event (const TetherSyncEvent *event)
{
  g_autofree char *time = format_time (event->at_ms);
  g_autofree char *report = _tether_cli_describe_report (&event->report);

  fprintf (stdout, "  %s  %s  %s\n", time, tether_sync_phase_to_string (event->phase),
           event->error ? event->error : report);
}


static const char *
winner_name (TetherConflictWinner winner)
{
  switch (winner)
    {
    case TETHER_CONFLICT_WINNER_LOCAL:  return "local";
    case TETHER_CONFLICT_WINNER_REMOTE: return "remote";
    case TETHER_CONFLICT_WINNER_MERGED: return "merged";
    case TETHER_CONFLICT_WINNER_NONE:
    default:                            return "none";
    }
}

static void
print_conflict (TetherConflict *conflict)
{
  g_autofree char *time = format_time (tether_conflict_get_created (conflict));
  g_autofree char *fields = g_strjoinv (",", (char **) tether_conflict_get_fields (conflict));

  fprintf (stdout, "  %s  %s  %s/%s  %s  %s  winner %s  fields %s\n",
           tether_conflict_get_id (conflict), time,
           tether_conflict_get_collection (conflict), tether_conflict_get_record_id (conflict),
           tether_conflict_strategy_to_string (tether_conflict_get_strategy (conflict)),
           tether_conflict_status_to_string (tether_conflict_get_status (conflict)),
           winner_name (tether_conflict_get_winner (conflict)), fields[0] ? fields : "-");
}

static void
print_text (const char      *url,
            gboolean         has_token,
            TetherSyncStats *stats,
            GPtrArray       *changes,
            GPtrArray       *conflicts,
            GPtrArray       *events)
{
  if (url != NULL)
    fprintf (stdout, "remote     %s (%s)\n", url, has_token ? "token stored" : "no token");
  else
    fputs ("remote     none (tether remote set URL --token-file FILE)\n", stdout);
  fprintf (stdout, "changes    %u: %u pending, %u syncing, %u committed, %u failed\n",
           stats->total, stats->pending, stats->syncing, stats->committed, stats->failed);
  fprintf (stdout, "conflicts  %u open (tether conflicts lists them all)\n", stats->conflicts_open);
  fputs (changes->len > 0 ? "\nqueue, oldest first (id, written, record, type, status, retries, title):\n"
                          : "\nqueue: empty\n", stdout);
  for (guint i = 0; i < changes->len; i++)
    print_change (g_ptr_array_index (changes, i));
  if (conflicts->len > 0)
    fputs ("\nopen conflicts, oldest first (id, met, record, strategy, status, winner, fields):\n", stdout);
  for (guint i = 0; i < conflicts->len; i++)
    print_conflict (g_ptr_array_index (conflicts, i));
  fputs (events->len > 0 ? "\nlast syncs, newest last:\n" : "\nlast syncs: none yet\n", stdout);
  for (guint i = events->len > TEXT_EVENTS ? events->len - TEXT_EVENTS : 0; i < events->len; i++)
    print_event (g_ptr_array_index (events, i));
}

/* JSON --------------------------------------------------------------------------- */

typedef JsonNode *(*ToJsonFunc) (gpointer item);

static JsonArray *
array_of (GPtrArray  *items,
          ToJsonFunc  to_json)
{
  JsonArray *array = json_array_sized_new (items->len);

  for (guint i = 0; i < items->len; i++)
    json_array_add_element (array, to_json (g_ptr_array_index (items, i)));
  return array;
}

static JsonNode *
event_to_json (gpointer item)
{
  const TetherSyncEvent *event = item;
  const TetherSyncReport *r = &event->report;
  g_autoptr(JsonObject) object = json_object_new ();
  g_autofree char *at = tether_time_format_ms (event->at_ms);

  json_object_set_string_member (object, "at", at);
  json_object_set_string_member (object, "phase", tether_sync_phase_to_string (event->phase));
  json_object_set_int_member (object, "pushed", r->pushed);
  json_object_set_int_member (object, "accepted", r->accepted);
  json_object_set_int_member (object, "conflicts", r->conflicts);
  json_object_set_int_member (object, "rejected", r->rejected);
  json_object_set_int_member (object, "pulled", r->pulled);
  json_object_set_int_member (object, "applied", r->applied);
  json_object_set_int_member (object, "skipped", r->skipped);
  json_object_set_int_member (object, "merged", r->merged);
  json_object_set_int_member (object, "durationMs", r->duration_ms);
  if (event->error != NULL)
    json_object_set_string_member (object, "error", event->error);
  else
    json_object_set_null_member (object, "error");
  return json_node_init_object (json_node_alloc (), object);
}

/* The engine's JSON, and the title the text shows: a person reading
 * --json output looks for the note, not its id. */
static JsonNode *
change_to_json (gpointer item)
{
  TetherSyncChange *change = item;
  JsonNode *node = tether_sync_change_to_json (change);

  json_object_set_string_member (json_node_get_object (node), "title", tether_sync_change_get_title (change));
  return node;
}

static JsonObject *
stats_to_json (TetherSyncStats *stats)
{
  JsonObject *object = json_object_new ();

  json_object_set_int_member (object, "total", stats->total);
  json_object_set_int_member (object, "pending", stats->pending);
  json_object_set_int_member (object, "syncing", stats->syncing);
  json_object_set_int_member (object, "committed", stats->committed);
  json_object_set_int_member (object, "failed", stats->failed);
  json_object_set_int_member (object, "conflictsOpen", stats->conflicts_open);
  return object;
}

/* {"url": …, "token": true|false}, or null: never the token itself. */
static void
set_remote_member (JsonObject *object,
                   const char *url,
                   gboolean    has_token)
{
  g_autoptr(JsonObject) remote = NULL;

  if (url == NULL)
    {
      json_object_set_null_member (object, "remote");
      return;
    }
  remote = json_object_new ();
  json_object_set_string_member (remote, "url", url);
  json_object_set_boolean_member (remote, "token", has_token);
  json_object_set_object_member (object, "remote", g_steal_pointer (&remote));
}

void
_tether_cli_print_conflicts (GPtrArray *conflicts,
                             gboolean   json)
{
  g_autoptr(JsonArray) array = NULL;
  g_autoptr(JsonNode) node = NULL;

  if (!json)
    {
      fputs (conflicts->len > 0 ? "conflicts, oldest first (id, met, record, strategy, status, winner, fields):\n"
                                : "no conflicts\n", stdout);
      for (guint i = 0; i < conflicts->len; i++)
        print_conflict (g_ptr_array_index (conflicts, i));
      return;
    }
  array = array_of (conflicts, (ToJsonFunc) tether_conflict_to_json);
  node = json_node_init_array (json_node_alloc (), array);
  _tether_cli_print_node (node);
}

/* The command ------------------------------------------------------------------------ */

typedef struct {
  TetherSyncStats stats;
  GPtrArray      *changes;
  GPtrArray      *events;
  GPtrArray      *conflicts;  /* the open ones: `tether conflicts` lists the log */
  char           *url;
  char           *token;
} Snapshot;

static void
snapshot_clear (Snapshot *snapshot)
{
  g_clear_pointer (&snapshot->changes, g_ptr_array_unref);
  g_clear_pointer (&snapshot->events, g_ptr_array_unref);
  g_clear_pointer (&snapshot->conflicts, g_ptr_array_unref);
  g_clear_pointer (&snapshot->url, g_free);
  g_clear_pointer (&snapshot->token, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Snapshot, snapshot_clear)

static gboolean
take_snapshot (TetherSyncEngine  *engine,
               Snapshot          *s,
               GError           **error)
{
  tether_sync_engine_load_remote (engine, &s->url, &s->token);
  /* "" is how `remote set --no-token` removes a token. */
  if (s->token != NULL && s->token[0] == '\0')
    g_clear_pointer (&s->token, g_free);
  return tether_sync_engine_get_stats (engine, &s->stats, error) &&
         (s->changes = tether_sync_engine_list_changes (engine, -1, error)) != NULL &&
         (s->events = tether_sync_engine_list_events (engine, error)) != NULL &&
         (s->conflicts = tether_sync_engine_list_conflicts (engine, TRUE, error)) != NULL;
}

static void
print_json (Snapshot *s,
            gboolean  set_up)
{
  g_autoptr(JsonObject) object = json_object_new ();

  json_object_set_boolean_member (object, "setUp", set_up);
  json_object_set_object_member (object, "stats", stats_to_json (&s->stats));
  json_object_set_array_member (object, "changes", array_of (s->changes, change_to_json));
  json_object_set_array_member (object, "conflicts", array_of (s->conflicts, (ToJsonFunc) tether_conflict_to_json));
  json_object_set_array_member (object, "events", array_of (s->events, event_to_json));
  set_remote_member (object, s->url, s->token != NULL);
  _tether_cli_print_object (object);
}

/* What a database never set up for sync has: nothing. */
static void
empty_snapshot (Snapshot *s)
{
  s->changes = g_ptr_array_new ();
  s->events = g_ptr_array_new ();
  s->conflicts = g_ptr_array_new ();
}

gboolean
_tether_cli_inspect (TetherCli      *cli,
                     TetherCliArgs  *args,
                     GError        **error)
{
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_auto(Snapshot) snapshot = { { 0 } };
  gboolean set_up;

  /* --json answers scripts with "setUp": false rather than an error. */
  if (!_tether_cli_sync_is_set_up (cli, &set_up, error))
    return FALSE;
  if (!set_up && args->json)
    empty_snapshot (&snapshot);
  else if ((engine = _tether_cli_open_sync (cli, error)) == NULL ||
           !take_snapshot (engine, &snapshot, error))
    return FALSE;
  if (args->json)
    print_json (&snapshot, set_up);
  else
    print_text (snapshot.url, snapshot.token != NULL, &snapshot.stats, snapshot.changes, snapshot.conflicts,
                snapshot.events);
  return TRUE;
}
