/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-merge"
#include "config.h"

#include <string.h>

#include "tether-private.h"
#include "tether-hlc.h"
#include "tether-merge.h"

typedef struct {
  TetherSchema      *schema;
  const char        *collection;
  JsonObject        *base;
  JsonObject        *local;
  JsonObject        *remote;
  gboolean           local_wins;   /* by hlc, for fields both sides changed */
  TetherMergeResult *result;
} RecordMerge;

void
tether_merge_result_free (TetherMergeResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->result, json_object_unref);
  g_clear_pointer (&result->both_changed, g_ptr_array_unref);
  g_clear_pointer (&result->local_lost, g_ptr_array_unref);
  g_clear_pointer (&result->remote_lost, g_ptr_array_unref);
  g_free (result);
}

static TetherMergeResult *
merge_result_new (void)
{
  TetherMergeResult *result = g_new0 (TetherMergeResult, 1);

  result->both_changed = g_ptr_array_new_with_free_func (g_free);
  result->local_lost = g_ptr_array_new_with_free_func (g_free);
  result->remote_lost = g_ptr_array_new_with_free_func (g_free);
  return result;
}

static JsonNode *
member_or_absent (JsonObject *object,
                  const char *field)
{
  return object != NULL ? json_object_get_member (object, field) : NULL;
}

static void
set_copy (JsonObject *object,
          const char *field,
          JsonNode   *value)
{
  if (value != NULL)
    json_object_set_member (object, field, _tether_json_deep_copy (value));
}

static gboolean
is_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING;
}

/* A clean line merge of a text field, or NULL when the field is not a
 * text-merge string on both sides or the lines conflict. */
static char *
try_text_merge (RecordMerge *merge,
                const char  *field,
                JsonNode    *base,
                JsonNode    *local,
                JsonNode    *remote)
{
  const char *base_text = NULL;
  g_autofree char *merged = NULL;
  gboolean clean = FALSE;

  if (merge->schema == NULL || merge->collection == NULL ||
      !tether_schema_field_is_text_merge (merge->schema, merge->collection, field))
    return NULL;
  if (!is_string (local) || !is_string (remote))
    return NULL;
  /* A text that did not exist before merges against an empty one. */
  if (is_string (base))
    base_text = json_node_get_string (base);

  merged = tether_merge_text (base_text, json_node_get_string (local),
                              json_node_get_string (remote), merge->local_wins, &clean);
  return clean ? g_steal_pointer (&merged) : NULL;
}

static void
merge_both_changed (RecordMerge *merge,
                    const char  *field,
                    JsonNode    *base,
                    JsonNode    *local,
                    JsonNode    *remote)
{
  g_autofree char *text = try_text_merge (merge, field, base, local, remote);

  g_ptr_array_add (merge->result->both_changed, g_strdup (field));
  if (text != NULL)
    {
      json_object_set_string_member (merge->result->result, field, text);
      return;
    }
  set_copy (merge->result->result, field, merge->local_wins ? local : remote);
  g_ptr_array_add (merge->local_wins ? merge->result->remote_lost : merge->result->local_lost,
                   g_strdup (field));
}

/* An absent member is a value of its own: removing a field is a change. */
static void
merge_field (RecordMerge *merge,
             const char  *field)
{
  JsonNode *base = member_or_absent (merge->base, field);
  JsonNode *local = member_or_absent (merge->local, field);
  JsonNode *remote = member_or_absent (merge->remote, field);
  gboolean local_changed, remote_changed;

  if (_tether_json_equal (local, remote))
    {
      set_copy (merge->result->result, field, local);
      return;
    }

  /* Without a base nothing tells which side kept the old value. */
  local_changed = merge->base == NULL || !_tether_json_equal (base, local);
  remote_changed = merge->base == NULL || !_tether_json_equal (base, remote);
  if (local_changed && remote_changed)
    merge_both_changed (merge, field, base, local, remote);
  else
    set_copy (merge->result->result, field, local_changed ? local : remote);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
merge_fields (RecordMerge *merge)
{
  JsonObject *out = merge->result->result;
  JsonObject *sides[2] = { merge->local, merge->remote };
  JsonNode *id = json_object_get_member (merge->local, TETHER_FIELD_ID);

  /* The id names the record, it is never merged: both sides share it. */
  if (id == NULL)
    id = json_object_get_member (merge->remote, TETHER_FIELD_ID);
  set_copy (out, TETHER_FIELD_ID, id);

  /* Fields only the base has are absent on both sides: nothing to emit. */
  for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
    {
      g_autoptr(GList) members = json_object_get_members (sides[s]);

      for (const GList *l = members; l != NULL; l = l->next)
        {
          const char *field = l->data;

          if (strcmp (field, TETHER_FIELD_ID) == 0 ||
              (s == 1 && json_object_has_member (merge->local, field)))
            continue;
          merge_field (merge, field);
        }
    }

  g_ptr_array_sort (merge->result->both_changed, compare_strings);
  g_ptr_array_sort (merge->result->local_lost, compare_strings);
  g_ptr_array_sort (merge->result->remote_lost, compare_strings);
}

/* One side deleted the record. A delete against an unchanged record is a
 * one-sided change and stands; against an edit the edit survives whole. */
static void
merge_delete (RecordMerge *merge)
{
  JsonObject *kept = merge->local != NULL ? merge->local : merge->remote;

  if (kept == NULL)
    return;
  if (merge->base != NULL && _tether_json_object_equal (merge->base, kept))
    return;

  merge->result->result = _tether_json_object_deep_copy (kept);
  if (kept == merge->local)
    merge->result->remote_lost_record = TRUE;
  else
    merge->result->local_lost_record = TRUE;
}

TetherMergeResult *
tether_merge_records (TetherSchema *schema,
                      const char   *collection,
                      JsonObject   *base,
                      JsonObject   *local,
                      const char   *local_hlc,
                      JsonObject   *remote,
                      const char   *remote_hlc)
{
  RecordMerge merge = {
    .schema = schema,
    .collection = collection,
    .base = base,
    .local = local,
    .remote = remote,
    /* A tie goes to the server's copy, which both clients already share. */
    .local_wins = tether_hlc_compare (local_hlc, remote_hlc) > 0,
  };

  g_return_val_if_fail (schema == NULL || TETHER_IS_SCHEMA (schema), NULL);

  merge.result = merge_result_new ();
  if (local == NULL || remote == NULL)
    {
      merge_delete (&merge);
      return merge.result;
    }

  merge.result->result = json_object_new ();
  merge_fields (&merge);
  return merge.result;
}
