/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-schema"
#include "config.h"

#include <gio/gio.h>

#include "tether-engine-resources.h"
#include "tether-private.h"
#include "tether-schema-private.h"

#define DEFAULT_SCHEMA_PATH "/org/tether/Engine/tether-schema.json"

struct _TetherSchema
{
  GObject     parent_instance;

  gint64      version;
  char       *json;
  GPtrArray  *collections;   /* TetherCollectionSpec*, in declaration order */
  GHashTable *by_name;       /* name → TetherCollectionSpec* (borrowed) */
  char      **collection_names;
};

G_DEFINE_FINAL_TYPE (TetherSchema, tether_schema, G_TYPE_OBJECT)

G_DEFINE_QUARK (tether-schema-error-quark, tether_schema_error)

static void
tether_schema_finalize (GObject *object)
{
  TetherSchema *self = TETHER_SCHEMA (object);

  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->collections, g_ptr_array_unref);
  g_clear_pointer (&self->collection_names, g_strfreev);
  g_clear_pointer (&self->json, g_free);

  G_OBJECT_CLASS (tether_schema_parent_class)->finalize (object);
}

static void
tether_schema_class_init (TetherSchemaClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_schema_finalize;
}

static void
tether_schema_init (TetherSchema *self)
{
  self->collections = g_ptr_array_new_with_free_func ((GDestroyNotify) _tether_collection_spec_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
}

static void
add_collection (TetherSchema         *self,
                TetherCollectionSpec *spec)
{
  g_ptr_array_add (self->collections, spec);
  g_hash_table_insert (self->by_name, spec->name, spec);
}

static gboolean
load_document (TetherSchema  *self,
               JsonNode      *root,
               gboolean       check_names,
               GError       **error)
{
  JsonObject *collections;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (!_tether_schema_parse_root (root, &self->version, error))
    return FALSE;

  collections = json_object_get_object_member (json_node_get_object (root), "collections");
  json_object_iter_init_ordered (&iter, collections);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      TetherCollectionSpec *spec = _tether_schema_parse_collection (name, member, error);

      if (spec == NULL)
        return FALSE;
      add_collection (self, spec);
      g_ptr_array_add (names, g_strdup (name));
    }
  if (check_names && !_tether_schema_check_sql_names (self->collections, error))
    return FALSE;
  g_ptr_array_add (names, NULL);
  self->collection_names = (char **) g_ptr_array_steal (names, NULL);
  self->json = _tether_json_to_string (root);
  return TRUE;
}

static TetherSchema *
schema_new (const char  *json,
            gssize       length,
            gboolean     check_names,
            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(TetherSchema) self = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, json, length, &local_error))
    {
      g_set_error (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_PARSE,
                   "schema is not valid JSON: %s", local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, TETHER_SCHEMA_ERROR, TETHER_SCHEMA_ERROR_PARSE,
                           "schema is not valid JSON: the document is empty");
      return NULL;
    }

  self = g_object_new (TETHER_TYPE_SCHEMA, NULL);
  if (!load_document (self, root, check_names, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * tether_schema_new_from_json:
 *
 * Parses and checks a schema document; see tether-schema.h.
 */
TetherSchema *
tether_schema_new_from_json (const char  *json,
                             gssize       length,
                             GError     **error)
{
  g_return_val_if_fail (json != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return schema_new (json, length, TRUE, error);
}

/* The schema a file was written with. Clashing SQL names were accepted
 * before they were checked; such a file must still open (its indexes are
 * what they are), and a new version can then fix the schema. */
TetherSchema *
_tether_schema_new_stored (const char  *json,
                           GError     **error)
{
  return schema_new (json, -1, FALSE, error);
}

TetherSchema *
tether_schema_new_from_file (const char  *path,
                             GError     **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;
  return tether_schema_new_from_json (contents, length, error);
}

TetherSchema *
tether_schema_new_default (void)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  TetherSchema *self;
  gsize size;
  const char *data;

  /* The schema ships inside the library: failing here is a build bug. Going
   * through the resource's own getter also keeps the linker from dropping it
   * out of the static library. */
  bytes = g_resource_lookup_data (tether_engine_get_resource (), DEFAULT_SCHEMA_PATH,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  if (bytes == NULL)
    g_error ("Cannot load the built-in schema: %s", error->message);

  data = g_bytes_get_data (bytes, &size);
  self = tether_schema_new_from_json (data, size, &error);
  if (self == NULL)
    g_error ("The built-in schema is invalid: %s", error->message);
  return self;
}

gint64
tether_schema_get_version (TetherSchema *self)
{
  g_return_val_if_fail (TETHER_IS_SCHEMA (self), 0);

  return self->version;
}

const char *
tether_schema_get_json (TetherSchema *self)
{
  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  return self->json;
}

const char * const *
tether_schema_get_collections (TetherSchema *self)
{
  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  return (const char * const *) self->collection_names;
}

TetherCollectionSpec *
_tether_schema_lookup_collection (TetherSchema *self,
                                  const char   *collection)
{
  if (collection == NULL)
    return NULL;
  return g_hash_table_lookup (self->by_name, collection);
}

gboolean
tether_schema_has_collection (TetherSchema *self,
                              const char   *collection)
{
  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  return _tether_schema_lookup_collection (self, collection) != NULL;
}

/* Introspection. Callers probe names freely (a query may name any field), so
 * unknown collections and fields answer quietly instead of warning. */

static TetherFieldSpec *
lookup_field (TetherSchema *self,
              const char   *collection,
              const char   *field)
{
  TetherCollectionSpec *spec = _tether_schema_lookup_collection (self, collection);

  if (spec == NULL || field == NULL)
    return NULL;
  return g_hash_table_lookup (spec->by_name, field);
}

gboolean
tether_schema_has_field (TetherSchema *self,
                         const char   *collection,
                         const char   *field)
{
  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  if (!tether_schema_has_collection (self, collection) || field == NULL)
    return FALSE;
  return _tether_field_is_builtin (field) || lookup_field (self, collection, field) != NULL;
}

TetherFieldType
tether_schema_get_field_type (TetherSchema *self,
                              const char   *collection,
                              const char   *field)
{
  const TetherFieldSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), TETHER_FIELD_STRING);

  spec = lookup_field (self, collection, field);
  if (spec == NULL && field != NULL)
    spec = _tether_builtin_field_spec (field);
  return spec != NULL ? spec->type : TETHER_FIELD_STRING;
}

gboolean
tether_schema_get_item_type (TetherSchema    *self,
                             const char      *collection,
                             const char      *field,
                             TetherFieldType *type)
{
  TetherFieldSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  spec = lookup_field (self, collection, field);
  if (spec == NULL || spec->items == NULL)
    return FALSE;
  if (type != NULL)
    *type = spec->items->type;
  return TRUE;
}

gboolean
tether_schema_field_is_text_merge (TetherSchema *self,
                                   const char   *collection,
                                   const char   *field)
{
  TetherFieldSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  spec = lookup_field (self, collection, field);
  return spec != NULL && spec->text_merge;
}

gboolean
tether_schema_get_additional_fields (TetherSchema *self,
                                     const char   *collection)
{
  TetherCollectionSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  spec = _tether_schema_lookup_collection (self, collection);
  return spec != NULL && spec->additional_fields;
}

const char * const *
tether_schema_get_fields (TetherSchema *self,
                          const char   *collection)
{
  TetherCollectionSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  spec = _tether_schema_lookup_collection (self, collection);
  return spec != NULL ? (const char * const *) spec->field_names : NULL;
}

static TetherIndexSpec *
lookup_index (TetherSchema *self,
              const char   *collection,
              guint         index)
{
  TetherCollectionSpec *spec = _tether_schema_lookup_collection (self, collection);

  if (spec == NULL || index >= spec->indexes->len)
    return NULL;
  return g_ptr_array_index (spec->indexes, index);
}

guint
tether_schema_get_n_indexes (TetherSchema *self,
                             const char   *collection)
{
  TetherCollectionSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), 0);

  spec = _tether_schema_lookup_collection (self, collection);
  return spec != NULL ? spec->indexes->len : 0;
}

const char * const *
tether_schema_get_index_fields (TetherSchema *self,
                                const char   *collection,
                                guint         index)
{
  TetherIndexSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  spec = lookup_index (self, collection, index);
  return spec != NULL ? (const char * const *) spec->fields : NULL;
}

gboolean
tether_schema_get_index_unique (TetherSchema *self,
                                const char   *collection,
                                guint         index)
{
  TetherIndexSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), FALSE);

  spec = lookup_index (self, collection, index);
  return spec != NULL && spec->unique;
}

const char * const *
tether_schema_get_searchable (TetherSchema *self,
                              const char   *collection)
{
  TetherCollectionSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  spec = _tether_schema_lookup_collection (self, collection);
  return spec != NULL ? (const char * const *) spec->searchable : NULL;
}

/* The node is owned by the schema; validation inserts deep copies. */
JsonNode *
tether_schema_get_default (TetherSchema *self,
                           const char   *collection,
                           const char   *field)
{
  TetherFieldSpec *spec;

  g_return_val_if_fail (TETHER_IS_SCHEMA (self), NULL);

  spec = lookup_field (self, collection, field);
  return spec != NULL ? spec->default_value : NULL;
}
