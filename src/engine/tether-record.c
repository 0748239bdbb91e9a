/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-record"
#include "config.h"

#include "tether-private.h"

struct _TetherRecord
{
  GObject     parent_instance;
  const char *collection;  /* interned: 100k records share a few names */
  char       *id;
  JsonObject *data;        /* parsed on first use when made from stored text */
  char       *text;
  gint64      created_at;
  gint64      updated_at;
};

G_DEFINE_FINAL_TYPE (TetherRecord, tether_record, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_COLLECTION,
  PROP_CREATED_AT,
  PROP_UPDATED_AT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
tether_record_finalize (GObject *object)
{
  TetherRecord *self = TETHER_RECORD (object);

  g_free (self->id);
  g_free (self->text);
  g_clear_pointer (&self->data, json_object_unref);
  G_OBJECT_CLASS (tether_record_parent_class)->finalize (object);
}

static void
tether_record_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherRecord *self = TETHER_RECORD (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, tether_record_get_id (self));
      break;
    case PROP_COLLECTION:
      g_value_set_string (value, self->collection);
      break;
    case PROP_CREATED_AT:
      g_value_set_int64 (value, self->created_at);
      break;
    case PROP_UPDATED_AT:
      g_value_set_int64 (value, self->updated_at);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_class_init (TetherRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_record_finalize;
  object_class->get_property = tether_record_get_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_COLLECTION] =
    g_param_spec_string ("collection", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CREATED_AT] =
    g_param_spec_int64 ("created-at", NULL, NULL, G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_UPDATED_AT] =
    g_param_spec_int64 ("updated-at", NULL, NULL, G_MININT64, G_MAXINT64, 0,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_record_init (TetherRecord *self)
{
}

/* Takes a reference on @data: the caller must not modify it afterwards. */
TetherRecord *
tether_record_new (const char *collection,
                   JsonObject *data,
                   gint64      created_at_ms,
                   gint64      updated_at_ms)
{
  TetherRecord *self;

  g_return_val_if_fail (collection != NULL, NULL);
  g_return_val_if_fail (data != NULL, NULL);

  self = g_object_new (TETHER_TYPE_RECORD, NULL);
  self->collection = g_intern_string (collection);
  self->id = g_strdup (json_object_get_string_member_with_default (data, "id", NULL));
  self->data = json_object_ref (data);
  self->created_at = created_at_ms;
  self->updated_at = updated_at_ms;
  return self;
}

/* Records read from the database keep their JSON text and parse it when a
 * field is first asked for: a list of 100k notes shows a few dozen rows, so
 * most records are never parsed at all. */
TetherRecord *
_tether_record_new_from_text (const char *collection,
                              const char *id,
                              const char *text,
                              gsize       length,
                              gint64      created_at_ms,
                              gint64      updated_at_ms)
{
  TetherRecord *self = g_object_new (TETHER_TYPE_RECORD, NULL);

  self->collection = g_intern_string (collection);
  self->id = g_strdup (id);
  self->text = g_strndup (text, length);
  self->created_at = created_at_ms;
  self->updated_at = updated_at_ms;
  return self;
}

static JsonObject *
ensure_data (TetherRecord *self)
{
  g_autoptr(GError) error = NULL;

  if (self->data != NULL)
    return self->data;
  self->data = _tether_json_parse_object (self->text, -1, &error);
  if (self->data == NULL)
    {
      /* SQLite checks its pages, not our JSON: say so, and stay usable. */
      g_warning ("%s/%s: stored JSON is damaged (%s); showing it as empty",
                 self->collection, self->id, error->message);
      self->data = json_object_new ();
    }
  g_clear_pointer (&self->text, g_free);
  return self->data;
}

const char *
tether_record_get_id (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  return self->id;
}

const char *
tether_record_get_collection (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  return self->collection;
}

gint64
tether_record_get_created_at (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), 0);
  return self->created_at;
}

gint64
tether_record_get_updated_at (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), 0);
  return self->updated_at;
}

JsonObject *
tether_record_get_data (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  return ensure_data (self);
}

JsonNode *
tether_record_get_member (TetherRecord *self,
                          const char   *field)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  g_return_val_if_fail (field != NULL, NULL);
  return json_object_get_member (ensure_data (self), field);
}

gboolean
tether_record_has_field (TetherRecord *self,
                         const char   *field)
{
  return tether_record_get_member (self, field) != NULL;
}

static JsonNode *
get_value (TetherRecord *self,
           const char   *field,
           GType         type)
{
  JsonNode *node = tether_record_get_member (self, field);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (type == G_TYPE_DOUBLE && json_node_get_value_type (node) == G_TYPE_INT64)
    return node;
  return json_node_get_value_type (node) == type ? node : NULL;
}

const char *
tether_record_get_string (TetherRecord *self,
                          const char   *field,
                          const char   *fallback)
{
  JsonNode *node = get_value (self, field, G_TYPE_STRING);

  return node ? json_node_get_string (node) : fallback;
}

gint64
tether_record_get_int (TetherRecord *self,
                       const char   *field,
                       gint64        fallback)
{
  JsonNode *node = tether_record_get_member (self, field);

  /* integers may arrive as 2.0 from other JSON writers */
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_DOUBLE)
    return (gint64) json_node_get_double (node);
  node = get_value (self, field, G_TYPE_INT64);
  return node ? json_node_get_int (node) : fallback;
}

double
tether_record_get_double (TetherRecord *self,
                          const char   *field,
                          double        fallback)
{
  JsonNode *node = get_value (self, field, G_TYPE_DOUBLE);

  return node ? json_node_get_double (node) : fallback;
}

gboolean
tether_record_get_boolean (TetherRecord *self,
                           const char   *field,
                           gboolean      fallback)
{
  JsonNode *node = get_value (self, field, G_TYPE_BOOLEAN);

  return node ? json_node_get_boolean (node) : fallback;
}

GDateTime *
tether_record_get_datetime (TetherRecord *self,
                            const char   *field)
{
  const char *text = tether_record_get_string (self, field, NULL);

  return text ? g_date_time_new_from_iso8601 (text, NULL) : NULL;
}

char **
tether_record_dup_strv (TetherRecord *self,
                        const char   *field)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonNode *node = tether_record_get_member (self, field);

  if (node != NULL && JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *item = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_VALUE (item) &&
              json_node_get_value_type (item) == G_TYPE_STRING)
            g_strv_builder_add (builder, json_node_get_string (item));
        }
    }
  return g_strv_builder_end (builder);
}

char *
tether_record_to_json (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  if (self->data == NULL)
    return g_strdup (self->text);
  return _tether_json_object_to_string (self->data);
}

JsonObject *
tether_record_dup_data (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  return _tether_json_object_deep_copy (ensure_data (self));
}
