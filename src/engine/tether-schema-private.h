/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal structures of TetherSchema, shared by the parser (tether-schema.c)
 * and the validator (tether-schema-validate.c). Everything here is built once
 * at parse time and read-only afterwards, so validation allocates nothing. */

#include "tether-schema.h"

G_BEGIN_DECLS

typedef enum {
  TETHER_FORMAT_NONE,
  TETHER_FORMAT_EMAIL,
  TETHER_FORMAT_URL,
  TETHER_FORMAT_UUID,
} TetherFieldFormat;

typedef struct _TetherFieldSpec TetherFieldSpec;

struct _TetherFieldSpec {
  char              *name;
  TetherFieldType    type;
  gboolean           required;
  gboolean           text_merge;
  gboolean           has_min;
  gboolean           has_max;
  double             min;
  double             max;
  gboolean           min_is_int;   /* then min_int is the exact bound */
  gboolean           max_is_int;
  gint64             min_int;
  gint64             max_int;
  gint64             min_length;   /* -1 when unset */
  gint64             max_length;   /* -1 when unset */
  GRegex            *pattern;
  TetherFieldFormat  format;
  GPtrArray         *enum_values;  /* JsonNode*, or NULL */
  char              *enum_text;    /* the enum as compact JSON, for messages */
  JsonNode          *default_value; /* datetimes already normalised */
  TetherFieldSpec   *items;
};

typedef struct {
  char     **fields;
  gboolean   unique;
} TetherIndexSpec;

typedef struct {
  char       *name;
  GPtrArray  *fields;      /* TetherFieldSpec*, in declaration order */
  GHashTable *by_name;     /* name → TetherFieldSpec* (borrowed) */
  char      **field_names;
  GPtrArray  *indexes;     /* TetherIndexSpec* */
  char      **searchable;
  gboolean    additional_fields;
} TetherCollectionSpec;

/* Where a value sits, for error messages: "collection.field", or the parent's
 * path and "[index]" for an array item. The parser reuses it with collection
 * "collections.notes.fields.tags" and field "default" to name defaults. */
typedef struct _TetherValuePath TetherValuePath;

struct _TetherValuePath {
  const char            *collection;
  const char            *field;
  const TetherValuePath *parent;
  int                    index;
};

/* tether-schema.c */
TetherCollectionSpec *_tether_schema_lookup_collection (TetherSchema        *self,
                                                        const char          *collection);

/* tether-schema-validate.c */
/* The spec of id, createdAt or updatedAt; NULL for any other name. */
const TetherFieldSpec *_tether_builtin_field_spec (const char *field);
gboolean    _tether_field_is_builtin     (const char            *field);
/* A JSON number as an integer: int64, or a double with an integral value in
 * range. FALSE for anything else. */
gboolean    _tether_json_get_integer     (JsonNode              *node,
                                          gint64                *out);

/* tether-schema-values.c */
const char *_tether_field_type_to_string (TetherFieldType        type);
/* Check @value against @spec (type and every rule). Datetime strings are
 * normalised in place and integral doubles of integer fields become ints.
 * Null is not accepted here; callers decide about it. */
gboolean    _tether_field_spec_check     (const TetherFieldSpec *spec,
                                          JsonNode              *value,
                                          const TetherValuePath *path,
                                          GError               **error);
gboolean    _tether_field_spec_normalises (const TetherFieldSpec *spec,
                                           JsonNode              *node);
/* Sets a validation error "<path>: <message>" (when @error is not NULL);
 * returns FALSE. */
gboolean    _tether_schema_fail          (GError               **error,
                                          const TetherValuePath *path,
                                          const char            *format,
                                          ...) G_GNUC_PRINTF (3, 4);
gboolean    _tether_json_is_string       (JsonNode              *node);


/* tether-schema-parse.c: the schema document, checked part by part. */
gboolean              _tether_schema_parse_root       (JsonNode     *root,
                                                       gint64       *version,
                                                       GError      **error);
TetherCollectionSpec *_tether_schema_parse_collection (const char   *name,
                                                       JsonNode     *node,
                                                       GError      **error);
void                  _tether_collection_spec_free    (TetherCollectionSpec *spec);
/* Refuses collections (TetherCollectionSpec*) whose SQL objects would
 * share a name. */
gboolean              _tether_schema_check_sql_names  (GPtrArray    *collections,
                                                       GError      **error);
/* Helpers for "path.key: message" errors, shared by the parsers. */
char                 *_tether_schema_path_join        (const char   *path,
                                                       const char   *key);
gboolean              _tether_schema_invalid          (GError      **error,
                                                       const char   *path,
                                                       const char   *format,
                                                       ...) G_GNUC_PRINTF (3, 4);
gboolean              _tether_schema_check_keys       (JsonObject          *object,
                                                       const char          *path,
                                                       const char * const  *allowed,
                                                       GError             **error);
gboolean              _tether_schema_get_boolean      (JsonObject   *object,
                                                       const char   *path,
                                                       const char   *key,
                                                       gboolean     *out,
                                                       GError      **error);

/* tether-schema-parse-field.c: one field's spec (is_items: an array's
 * "items", which takes no "required" nor "default"). */
TetherFieldSpec      *_tether_field_spec_parse        (const char   *name,
                                                       JsonNode     *node,
                                                       const char   *path,
                                                       gboolean      is_items,
                                                       GError      **error);
void                  _tether_field_spec_free         (TetherFieldSpec *spec);

G_END_DECLS
