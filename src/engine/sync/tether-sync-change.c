/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-change"
#include "config.h"

#include "tether-sync-store-private.h"

/* A snapshot of one change-log row for the devtools and the inspector; it
 * never changes after it is made, so its properties are read-only. */

struct _TetherSyncChange
{
  GObject          parent_instance;
  TetherChangeRow  row;
  char            *title;   /* computed on first use */
};

G_DEFINE_FINAL_TYPE (TetherSyncChange, tether_sync_change, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ID,
  PROP_COLLECTION,
  PROP_RECORD_ID,
  PROP_CHANGE_TYPE,
  PROP_STATUS,
  PROP_RETRIES,
  PROP_ERROR,
  PROP_BASE_REV,
  PROP_HLC,
  PROP_TIMESTAMP,
  PROP_CREATED,
  PROP_UPDATED,
  PROP_DATA,
  PROP_PREV_DATA,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_ENUM_TYPE (TetherChangeStatus, tether_change_status,
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_PENDING, "pending"),
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_SYNCING, "syncing"),
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_COMMITTED, "committed"),
  G_DEFINE_ENUM_VALUE (TETHER_CHANGE_FAILED, "failed"))

const char *
tether_change_status_to_string (TetherChangeStatus status)
{
  switch (status)
    {
    case TETHER_CHANGE_PENDING: return "pending";
    case TETHER_CHANGE_SYNCING: return "syncing";
    case TETHER_CHANGE_COMMITTED: return "committed";
    case TETHER_CHANGE_FAILED: return "failed";
    default: g_return_val_if_reached ("unknown");
    }
}

static void
row_clear (TetherChangeRow *row)
{
  g_clear_pointer (&row->id, g_free);
  g_clear_pointer (&row->collection, g_free);
  g_clear_pointer (&row->record_id, g_free);
  g_clear_pointer (&row->data, g_free);
  g_clear_pointer (&row->prev_data, g_free);
  g_clear_pointer (&row->hlc, g_free);
  g_clear_pointer (&row->error, g_free);
  g_clear_pointer (&row->push_id, g_free);
}

void
_tether_change_row_free (TetherChangeRow *row)
{
  if (row == NULL)
    return;
  row_clear (row);
  g_free (row);
}

static void
tether_sync_change_finalize (GObject *object)
{
  TetherSyncChange *self = TETHER_SYNC_CHANGE (object);

  row_clear (&self->row);
  g_free (self->title);
  G_OBJECT_CLASS (tether_sync_change_parent_class)->finalize (object);
}

static void
tether_sync_change_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TetherChangeRow *row = &TETHER_SYNC_CHANGE (object)->row;

  switch (prop_id)
    {
    case PROP_ID: g_value_set_string (value, row->id); break;
    case PROP_COLLECTION: g_value_set_string (value, row->collection); break;
    case PROP_RECORD_ID: g_value_set_string (value, row->record_id); break;
    case PROP_CHANGE_TYPE: g_value_set_enum (value, row->type); break;
    case PROP_STATUS: g_value_set_enum (value, row->status); break;
    case PROP_RETRIES: g_value_set_uint (value, row->retries); break;
    case PROP_ERROR: g_value_set_string (value, row->error); break;
    case PROP_BASE_REV: g_value_set_int64 (value, row->base_rev); break;
    case PROP_HLC: g_value_set_string (value, row->hlc); break;
    case PROP_TIMESTAMP: g_value_set_int64 (value, row->timestamp); break;
    case PROP_CREATED: g_value_set_int64 (value, row->created); break;
    case PROP_UPDATED: g_value_set_int64 (value, row->updated); break;
    case PROP_DATA: g_value_set_string (value, row->data); break;
    case PROP_PREV_DATA: g_value_set_string (value, row->prev_data); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static GParamSpec *
string_pspec (const char *name)
{
  return g_param_spec_string (name, NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static GParamSpec *
int64_pspec (const char *name)
{
  return g_param_spec_int64 (name, NULL, NULL, G_MININT64, G_MAXINT64, 0,
                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
}

static void
tether_sync_change_class_init (TetherSyncChangeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_sync_change_finalize;
  object_class->get_property = tether_sync_change_get_property;

  properties[PROP_ID] = string_pspec ("id");
  properties[PROP_COLLECTION] = string_pspec ("collection");
  properties[PROP_RECORD_ID] = string_pspec ("record-id");
  properties[PROP_CHANGE_TYPE] =
    g_param_spec_enum ("change-type", NULL, NULL, TETHER_TYPE_CHANGE_TYPE, TETHER_CHANGE_CREATE,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATUS] =
    g_param_spec_enum ("status", NULL, NULL, TETHER_TYPE_CHANGE_STATUS, TETHER_CHANGE_PENDING,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_RETRIES] =
    g_param_spec_uint ("retries", NULL, NULL, 0, G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_ERROR] = string_pspec ("error");
  properties[PROP_BASE_REV] = int64_pspec ("base-rev");
  properties[PROP_HLC] = string_pspec ("hlc");
  properties[PROP_TIMESTAMP] = int64_pspec ("timestamp");
  properties[PROP_CREATED] = int64_pspec ("created");
  properties[PROP_UPDATED] = int64_pspec ("updated");
  properties[PROP_DATA] = string_pspec ("data");
  properties[PROP_PREV_DATA] = string_pspec ("prev-data");
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_sync_change_init (TetherSyncChange *self)
{
}

TetherSyncChange *
_tether_sync_change_new (const TetherChangeRow *row)
{
  TetherSyncChange *self = g_object_new (TETHER_TYPE_SYNC_CHANGE, NULL);

  self->row = *row;
  self->row.id = g_strdup (row->id);
  self->row.collection = g_strdup (row->collection);
  self->row.record_id = g_strdup (row->record_id);
  self->row.data = g_strdup (row->data);
  self->row.prev_data = g_strdup (row->prev_data);
  self->row.hlc = g_strdup (row->hlc);
  self->row.error = g_strdup (row->error);
  self->row.push_id = g_strdup (row->push_id);
  return self;
}

#define GETTER(type, name, member)                       \
  type                                                   \
  tether_sync_change_get_##name (TetherSyncChange *self) \
  {                                                      \
    g_return_val_if_fail (TETHER_IS_SYNC_CHANGE (self), 0); \
    return self->row.member;                             \
  }

GETTER (const char *, id, id)
GETTER (gint64, seq, seq)
GETTER (const char *, collection, collection)
GETTER (const char *, record_id, record_id)
GETTER (TetherChangeType, change_type, type)
GETTER (TetherChangeStatus, status, status)
GETTER (guint, retries, retries)
GETTER (const char *, error, error)
GETTER (gint64, base_rev, base_rev)
GETTER (const char *, hlc, hlc)
GETTER (gint64, timestamp, timestamp)
GETTER (gint64, created, created)
GETTER (gint64, updated, updated)
GETTER (const char *, data, data)
GETTER (const char *, prev_data, prev_data)

#undef GETTER

JsonObject *
_tether_sync_parse_object (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonObject *object;

  if (text == NULL)
    return NULL;
  object = _tether_json_parse_object (text, -1, &error);
  if (object == NULL)
    g_debug ("stored sync state holds damaged JSON: %s", error->message);
  return object;
}

static char *
title_of (const char *text)
{
  g_autoptr(JsonObject) object = _tether_sync_parse_object (text);
  const char *names[] = { "title", "name" };

  for (guint i = 0; object != NULL && i < G_N_ELEMENTS (names); i++)
    {
      JsonNode *node = json_object_get_member (object, names[i]);

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING && *json_node_get_string (node) != '\0')
        return g_strdup (json_node_get_string (node));
    }
  return NULL;
}

/* A deleted record's change has no data, so its title comes from before. */
const char *
tether_sync_change_get_title (TetherSyncChange *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_CHANGE (self), "");

  if (self->title == NULL)
    self->title = title_of (self->row.data);
  if (self->title == NULL)
    self->title = title_of (self->row.prev_data);
  if (self->title == NULL)
    self->title = g_strdup ("");
  return self->title;
}

void
_tether_sync_add_string (JsonBuilder *builder,
                         const char  *name,
                         const char  *value)
{
  json_builder_set_member_name (builder, name);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
_tether_sync_add_time (JsonBuilder *builder,
                       const char  *name,
                       gint64       ms)
{
  g_autofree char *text = ms != 0 ? tether_time_format_ms (ms) : NULL;

  _tether_sync_add_string (builder, name, text);
}

/* A copy, so that the caller may change the output freely. */
void
_tether_sync_add_object (JsonBuilder *builder,
                         const char  *name,
                         JsonObject  *object)
{
  g_autoptr(JsonNode) node = json_node_new (object ? JSON_NODE_OBJECT : JSON_NODE_NULL);

  if (object != NULL)
    json_node_set_object (node, object);
  json_builder_set_member_name (builder, name);
  json_builder_add_value (builder, _tether_json_deep_copy (node));
}

void
_tether_sync_add_int (JsonBuilder *builder,
                      const char  *name,
                      gint64       value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, value);
}

static void
add_json_text (JsonBuilder *builder,
               const char  *name,
               const char  *text)
{
  g_autoptr(JsonObject) object = _tether_sync_parse_object (text);

  _tether_sync_add_object (builder, name, object);
}

JsonNode *
tether_sync_change_to_json (TetherSyncChange *self)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  TetherChangeRow *row;

  g_return_val_if_fail (TETHER_IS_SYNC_CHANGE (self), NULL);

  row = &self->row;
  json_builder_begin_object (builder);
  _tether_sync_add_string (builder, "id", row->id);
  _tether_sync_add_int (builder, "seq", row->seq);
  _tether_sync_add_string (builder, "collection", row->collection);
  _tether_sync_add_string (builder, "recordId", row->record_id);
  _tether_sync_add_string (builder, "type", tether_change_type_to_string (row->type));
  _tether_sync_add_string (builder, "status", tether_change_status_to_string (row->status));
  _tether_sync_add_int (builder, "retries", row->retries);
  _tether_sync_add_string (builder, "error", row->error);
  _tether_sync_add_int (builder, "baseRev", row->base_rev);
  _tether_sync_add_string (builder, "hlc", row->hlc);
  _tether_sync_add_time (builder, "timestamp", row->timestamp);
  _tether_sync_add_time (builder, "created", row->created);
  _tether_sync_add_time (builder, "updated", row->updated);
  add_json_text (builder, "data", row->data);
  add_json_text (builder, "prevData", row->prev_data);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
