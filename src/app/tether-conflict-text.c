/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-conflict-inbox"
#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "tether-conflict-text.h"

/* The conflict inbox's words for people: labels of fields, kinds,
 * statuses and strategies, values and times as text, and the summary of
 * a conflict (tether-conflict-inbox.c shows them). */

const char *
_tether_conflict_field_label (const char *field)
{
  static const struct { const char *field, *label; } labels[] = {
    { "title", N_("Title") }, { "body", N_("Body") }, { "notes", N_("Notes") },
    { "tags", N_("Tags") }, { "pinned", N_("Pinned") }, { "done", N_("Done") },
    { "due", N_("Due Date") }, { "priority", N_("Priority") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_str_equal (field, labels[i].field))
      return _(labels[i].label);
  return field;
}

const char *
_tether_conflict_kind_label (const char *collection)
{
  if (g_str_equal (collection, "notes"))
    return _("Note");
  if (g_str_equal (collection, "tasks"))
    return _("Task");
  return collection;
}

const char *
_tether_conflict_status_label (TetherConflictStatus status)
{
  switch (status)
    {
    case TETHER_CONFLICT_OPEN:     return _("Open");
    case TETHER_CONFLICT_RESOLVED: return _("Resolved");
    case TETHER_CONFLICT_RESTORED: return _("Restored");
    default:                       return "";
    }
}

const char *
_tether_conflict_strategy_label (TetherConflictStrategy strategy)
{
  switch (strategy)
    {
    case TETHER_CONFLICT_STRATEGY_MERGE:       return _("Merge");
    case TETHER_CONFLICT_STRATEGY_LWW:         return _("Latest Edit Wins");
    case TETHER_CONFLICT_STRATEGY_CLIENT_WINS: return _("This Device Wins");
    case TETHER_CONFLICT_STRATEGY_SERVER_WINS: return _("Server Wins");
    case TETHER_CONFLICT_STRATEGY_CUSTOM:      return _("Custom");
    case TETHER_CONFLICT_STRATEGY_MANUAL:      return _("Manual");
    default:                                   return "";
    }
}

char *
_tether_conflict_format_time (gint64 ms)
{
  g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (ms / 1000);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  if (when == NULL)
    return g_strdup ("");
  if (g_date_time_get_year (when) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (when) == g_date_time_get_day_of_year (now))
    /* Translators: a time today; see g_date_time_format() */
    return g_date_time_format (when, _("%H:%M"));
  /* Translators: a date and time; see g_date_time_format() */
  return g_date_time_format (when, _("%-d %b %Y, %H:%M"));
}

/* A record from the server need not follow the schema: its title may be
 * a number or a list, which is no title to show. */
const char *
_tether_conflict_side_title (JsonObject *side)
{
  JsonNode *node = side != NULL ? json_object_get_member (side, "title") : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
      *json_node_get_string (node) == '\0')
    return NULL;
  return json_node_get_string (node);
}

const char *
_tether_conflict_title (TetherConflict *conflict)
{
  /* What the record is called now, when decided. */
  JsonObject *sides[] = { tether_conflict_get_result (conflict), tether_conflict_get_local (conflict),
                          tether_conflict_get_remote (conflict) };

  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    if (_tether_conflict_side_title (sides[i]) != NULL)
      return _tether_conflict_side_title (sides[i]);
  return _("Untitled");
}

/* A field's value as text; NULL when the field is not set. */
char *
_tether_conflict_format_value (JsonNode *node)
{
  GString *text;
  JsonArray *array;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (JSON_NODE_HOLDS_VALUE (node))
    switch (json_node_get_value_type (node))
      {
      case G_TYPE_STRING:
        /* A text's final newline would only show as an empty line. */
        if (*json_node_get_string (node) != '\0')
          {
            char *shown = g_strdup (json_node_get_string (node));
            gsize len = strlen (shown);

            if (len > 1 && shown[len - 1] == '\n')
              shown[len - 1] = '\0';
            return shown;
          }
        return g_strdup (_("Empty"));
      case G_TYPE_BOOLEAN:
        return g_strdup (json_node_get_boolean (node) ? _("Yes") : _("No"));
      default:
        return json_to_string (node, FALSE);
      }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return json_to_string (node, TRUE);
  array = json_node_get_array (node);
  if (json_array_get_length (array) == 0)
    return g_strdup (_("None"));
  text = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autofree char *shown = JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING
        ? g_strdup (json_node_get_string (item)) : json_to_string (item, FALSE);

      g_string_append_printf (text, "%s%s", i ? ", " : "", shown);
    }
  return g_string_free (text, FALSE);
}

JsonNode *
_tether_conflict_member (JsonObject *object,
                         const char *field)
{
  return object ? json_object_get_member (object, field) : NULL;
}

gboolean
_tether_conflict_same_member (JsonObject *a,
                              JsonObject *b,
                              const char *field)
{
  JsonNode *na = _tether_conflict_member (a, field), *nb = _tether_conflict_member (b, field);

  if (na == NULL || nb == NULL)
    return na == nb;
  return json_node_equal (na, nb);
}

/* The fields of both sides, title first, then mine in order, then theirs. */
GPtrArray *
_tether_conflict_list_fields (TetherConflict *conflict)
{
  JsonObject *sides[] = { tether_conflict_get_local (conflict), tether_conflict_get_remote (conflict) };
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (fields, g_strdup ("title"));
  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      g_autoptr(GList) names = sides[i] ? json_object_get_members (sides[i]) : NULL;

      for (GList *l = names; l != NULL; l = l->next)
        if (!g_str_equal (l->data, "id") &&
            !g_ptr_array_find_with_equal_func (fields, l->data, g_str_equal, NULL))
          g_ptr_array_add (fields, g_strdup (l->data));
    }
  return fields;
}

gboolean
_tether_conflict_strv_has (const char * const *strv,
                           const char         *field)
{
  return strv != NULL && g_strv_contains (strv, field);
}

gboolean
_tether_conflict_field_lost (TetherConflict *conflict,
                             const char     *field,
                             gboolean        mine)
{
  JsonObject *side = mine ? tether_conflict_get_local (conflict) : tether_conflict_get_remote (conflict);

  if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
    return FALSE;
  if (side != NULL && tether_conflict_lost_by_fields (conflict))
    return _tether_conflict_strv_has (mine ? tether_conflict_get_local_lost (conflict)
                                           : tether_conflict_get_remote_lost (conflict), field);
  /* A whole version was kept (or a delete lost): what differs from it lost. */
  return !_tether_conflict_same_member (tether_conflict_get_result (conflict), side, field);
}

/* The fields of one side that lost, as a list for a sentence; NULL when
 * none did, or when the side was a delete (the sentence says so). */
static char *
lost_fields_text (TetherConflict *conflict,
                  gboolean        mine)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GPtrArray) fields = _tether_conflict_list_fields (conflict);

  if ((mine ? tether_conflict_get_local (conflict) : tether_conflict_get_remote (conflict)) == NULL)
    return NULL;
  for (guint i = 0; i < fields->len; i++)
    if (_tether_conflict_field_lost (conflict, fields->pdata[i], mine))
      g_string_append_printf (text, "%s%s", text->len ? ", " : "", _tether_conflict_field_label (fields->pdata[i]));
  return text->len ? g_strdup (text->str) : NULL;
}

static const char *
open_text (TetherConflict *conflict)
{
  if (tether_conflict_get_local (conflict) == NULL)
    return _("Deleted on this device and changed on the server. Keep Mine deletes it, Keep Theirs keeps the server’s version.");
  if (tether_conflict_get_remote (conflict) == NULL)
    return _("Changed on this device and deleted on the server. Keep Mine keeps your version, Keep Theirs deletes it.");
  return _("Changed on this device and on the server. Choose what to keep for each field, or keep one version whole.");
}

char *
_tether_conflict_summary_text (TetherConflict *conflict)
{
  g_autofree char *when = _tether_conflict_format_time (tether_conflict_get_resolved (conflict));
  g_autofree char *mine_lost = lost_fields_text (conflict, TRUE);
  g_autofree char *theirs_lost = lost_fields_text (conflict, FALSE);
  GString *text = g_string_new (NULL);

  switch (tether_conflict_get_status (conflict))
    {
    case TETHER_CONFLICT_OPEN:
      g_string_append (text, open_text (conflict));
      return g_string_free (text, FALSE);
    case TETHER_CONFLICT_RESTORED:
      g_string_append_printf (text, _("The version that lost was restored at %s."), when);
      return g_string_free (text, FALSE);
    case TETHER_CONFLICT_RESOLVED:
    default:
      break;
    }
  switch (tether_conflict_get_winner (conflict))
    {
    case TETHER_CONFLICT_WINNER_LOCAL:
      g_string_append_printf (text, _("Decided at %s (%s): your version was kept."), when,
                              _tether_conflict_strategy_label (tether_conflict_get_strategy (conflict)));
      break;
    case TETHER_CONFLICT_WINNER_REMOTE:
      g_string_append_printf (text, _("Decided at %s (%s): the server’s version was kept."), when,
                              _tether_conflict_strategy_label (tether_conflict_get_strategy (conflict)));
      break;
    default:
      g_string_append_printf (text, _("Decided at %s (%s): the versions were merged."), when,
                              _tether_conflict_strategy_label (tether_conflict_get_strategy (conflict)));
      break;
    }
  if (mine_lost != NULL)
    g_string_append_printf (text, " %s %s.", _("Lost from your version:"), mine_lost);
  if (theirs_lost != NULL)
    g_string_append_printf (text, " %s %s.", _("Lost from the server’s version:"), theirs_lost);
  return g_string_free (text, FALSE);
}


/* Whether @entry is the version that restoring @restored replaced: the
 * engine keeps it as a decided entry of the same record, made at the
 * time @restored was restored (docs/sync.md, "A restore keeps what it
 * replaces"). */
gboolean
_tether_conflict_replaced_by (TetherConflict *entry,
                              TetherConflict *restored)
{
  return entry != restored &&
         tether_conflict_get_status (restored) == TETHER_CONFLICT_RESTORED &&
         tether_conflict_get_status (entry) != TETHER_CONFLICT_OPEN &&
         tether_conflict_get_strategy (entry) == TETHER_CONFLICT_STRATEGY_MANUAL &&
         tether_conflict_get_created (entry) == tether_conflict_get_resolved (restored) &&
         g_str_equal (tether_conflict_get_collection (entry), tether_conflict_get_collection (restored)) &&
         g_str_equal (tether_conflict_get_record_id (entry), tether_conflict_get_record_id (restored)) &&
         !g_str_equal (tether_conflict_get_id (entry), tether_conflict_get_id (restored));
}

/* The fields a restore of a merge writes back, as a list for a sentence. */
static char *
restored_fields_text (TetherConflict *conflict)
{
  const char * const *lists[] = { tether_conflict_get_local_lost (conflict),
                                  tether_conflict_get_remote_lost (conflict) };
  g_autoptr(GPtrArray) fields = _tether_conflict_list_fields (conflict);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < fields->len; i++)
    if (_tether_conflict_strv_has (lists[0], fields->pdata[i]) || _tether_conflict_strv_has (lists[1], fields->pdata[i]))
      g_string_append_printf (text, "%s%s", text->len ? ", " : "", _tether_conflict_field_label (fields->pdata[i]));
  return g_strdup (text->str);
}

char *
_tether_conflict_restore_text (TetherConflict *conflict)
{
  const char *title = _tether_conflict_title (conflict);
  g_autofree char *fields = NULL;

  if (tether_conflict_lost_by_fields (conflict))
    {
      fields = restored_fields_text (conflict);
      /* Translators: the first %s is a note's title, the second a list of fields */
      return g_strdup_printf (_("The values that lost will be written over “%s” as it is now: %s. "
                                "What they replace is kept in the conflict log, so this can be undone."),
                              title, fields);
    }
  if (tether_conflict_get_loser (conflict) == NULL)
    return g_strdup_printf (_("“%s” will be deleted: the version that lost was a delete. "
                              "It is kept in the conflict log as it is now, so this can be undone."), title);
  return g_strdup_printf (_("The current version of “%s”, with any edits made since, will be replaced by "
                            "the version that lost. It is kept in the conflict log, so this can be undone."),
                          title);
}
