/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TETHER_SCHEMA_ERROR (tether_schema_error_quark ())

typedef enum {
  TETHER_SCHEMA_ERROR_PARSE,              /* the schema file is not valid JSON */
  TETHER_SCHEMA_ERROR_INVALID,            /* valid JSON, but not a valid schema */
  TETHER_SCHEMA_ERROR_UNKNOWN_COLLECTION, /* a record or query names no declared collection */
  TETHER_SCHEMA_ERROR_VALIDATION,         /* a record breaks a rule */
} TetherSchemaError;

typedef enum {
  TETHER_FIELD_STRING,
  TETHER_FIELD_NUMBER,
  TETHER_FIELD_INTEGER,
  TETHER_FIELD_BOOLEAN,
  TETHER_FIELD_ARRAY,
  TETHER_FIELD_OBJECT,
  TETHER_FIELD_DATETIME,
} TetherFieldType;

/* Field names every record has besides its schema fields. They are answered by
 * queries (filter and sort) but are not part of user data except `id`. */
#define TETHER_FIELD_ID         "id"
#define TETHER_FIELD_CREATED_AT "createdAt"
#define TETHER_FIELD_UPDATED_AT "updatedAt"

#define TETHER_TYPE_SCHEMA (tether_schema_get_type ())
G_DECLARE_FINAL_TYPE (TetherSchema, tether_schema, TETHER, SCHEMA, GObject)

GQuark        tether_schema_error_quark          (void);

/* Parse a schema document. Errors name the JSON path of the problem,
 * e.g. "collections.tasks.fields.priority.max: must be a number". */
TetherSchema *tether_schema_new_from_json        (const char    *json,
                                                  gssize         length,
                                                  GError       **error);
TetherSchema *tether_schema_new_from_file        (const char    *path,
                                                  GError       **error);
/* The app's schema (data/tether-schema.json, compiled into the library). */
TetherSchema *tether_schema_new_default          (void);

gint64        tether_schema_get_version          (TetherSchema  *self);
/* The canonical JSON text of the schema (what a database stores). */
const char   *tether_schema_get_json             (TetherSchema  *self);
/* NULL-terminated, in declaration order; owned by the schema. */
const char * const *tether_schema_get_collections (TetherSchema *self);
gboolean      tether_schema_has_collection       (TetherSchema  *self,
                                                  const char    *collection);

/* Field introspection. Built-in fields (id, createdAt, updatedAt) are reported:
 * id and the timestamps as STRING / DATETIME. */
gboolean      tether_schema_has_field            (TetherSchema  *self,
                                                  const char    *collection,
                                                  const char    *field);
TetherFieldType tether_schema_get_field_type     (TetherSchema  *self,
                                                  const char    *collection,
                                                  const char    *field);
/* For array fields with an `items` spec: its type. FALSE otherwise. */
gboolean      tether_schema_get_item_type        (TetherSchema    *self,
                                                  const char      *collection,
                                                  const char      *field,
                                                  TetherFieldType *type);
/* TRUE for fields marked `merge: "text"`. */
gboolean      tether_schema_field_is_text_merge  (TetherSchema  *self,
                                                  const char    *collection,
                                                  const char    *field);
gboolean      tether_schema_get_additional_fields (TetherSchema *self,
                                                  const char    *collection);
/* Declared schema fields (not the built-ins), NULL-terminated, owned by the schema. */
const char * const *tether_schema_get_fields      (TetherSchema *self,
                                                  const char    *collection);
/* Declared indexes. Each has one or more fields (schema fields or the
 * built-ins createdAt/updatedAt/id), in order, and may be unique. */
guint         tether_schema_get_n_indexes        (TetherSchema  *self,
                                                  const char    *collection);
const char * const *tether_schema_get_index_fields (TetherSchema *self,
                                                  const char    *collection,
                                                  guint          index);
gboolean      tether_schema_get_index_unique     (TetherSchema  *self,
                                                  const char    *collection,
                                                  guint          index);
/* Searchable (full-text) fields, NULL-terminated; empty when none. */
const char * const *tether_schema_get_searchable  (TetherSchema *self,
                                                  const char    *collection);
/* The default value of a field, or NULL when it has none. */
JsonNode     *tether_schema_get_default          (TetherSchema  *self,
                                                  const char    *collection,
                                                  const char    *field);

/* Validate a whole record (without id / timestamps), in place: defaults are
 * added for absent fields and datetimes are normalised to UTC
 * (YYYY-MM-DDTHH:MM:SS.mmmZ). An "id" member is allowed and must be a
 * non-empty string. Errors are TETHER_SCHEMA_ERROR_VALIDATION with messages
 * "notes.title: required", "tasks.priority: 7 is above max 3". */
gboolean      tether_schema_validate             (TetherSchema  *self,
                                                  const char    *collection,
                                                  JsonObject    *record,
                                                  GError       **error);

/* Check one value against one field's rules (used for query values);
 * does not apply defaults. A mutable @value is normalised in place like a
 * record's; an immutable one is checked as it is and left alone. */
gboolean      tether_schema_validate_value       (TetherSchema  *self,
                                                  const char    *collection,
                                                  const char    *field,
                                                  JsonNode      *value,
                                                  GError       **error);

G_END_DECLS
