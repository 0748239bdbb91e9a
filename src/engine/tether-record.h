/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TETHER_TYPE_RECORD (tether_record_get_type ())
G_DECLARE_FINAL_TYPE (TetherRecord, tether_record, TETHER, RECORD, GObject)

/* A record is immutable: a write produces a new TetherRecord. Its data is the
 * user's JSON object including "id"; created/updated times live beside it. */
TetherRecord *tether_record_new              (const char  *collection,
                                              JsonObject  *data,
                                              gint64       created_at_ms,
                                              gint64       updated_at_ms);

const char   *tether_record_get_id           (TetherRecord *self);
const char   *tether_record_get_collection   (TetherRecord *self);
/* Milliseconds since the Unix epoch, UTC. */
gint64        tether_record_get_created_at   (TetherRecord *self);
gint64        tether_record_get_updated_at   (TetherRecord *self);
/* The record's JSON object. Owned by the record; do not modify. */
JsonObject   *tether_record_get_data         (TetherRecord *self);

gboolean      tether_record_has_field        (TetherRecord *self,
                                              const char   *field);
/* Typed getters: return the fallback when the field is absent, null or of
 * another type. */
const char   *tether_record_get_string       (TetherRecord *self,
                                              const char   *field,
                                              const char   *fallback);
gint64        tether_record_get_int          (TetherRecord *self,
                                              const char   *field,
                                              gint64        fallback);
double        tether_record_get_double       (TetherRecord *self,
                                              const char   *field,
                                              double        fallback);
gboolean      tether_record_get_boolean      (TetherRecord *self,
                                              const char   *field,
                                              gboolean      fallback);
/* A new GDateTime for a datetime field, or NULL. */
GDateTime    *tether_record_get_datetime     (TetherRecord *self,
                                              const char   *field);
/* A new NULL-terminated array of the string items of an array field
 * (non-string items are skipped), never NULL. */
char        **tether_record_dup_strv         (TetherRecord *self,
                                              const char   *field);
/* The raw member, or NULL when absent. Owned by the record. */
JsonNode     *tether_record_get_member       (TetherRecord *self,
                                              const char   *field);

/* The record as a JSON text (compact), user data only. */
char         *tether_record_to_json          (TetherRecord *self);
/* @node as compact JSON text with every control character escaped; use it
 * instead of json_to_string(), whose json-glib 1.6 output is not always
 * JSON (U+001F left raw, 1e20 written as 1e+20.0). */
char         *tether_json_node_to_string     (JsonNode     *node);
/* A deep copy of the record's object, safe to modify. */
JsonObject   *tether_record_dup_data         (TetherRecord *self);

G_END_DECLS
