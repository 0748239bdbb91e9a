/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-database.h"

G_BEGIN_DECLS

typedef struct _TetherQuery TetherQuery;

#define TETHER_TYPE_COLLECTION (tether_collection_get_type ())
G_DECLARE_FINAL_TYPE (TetherCollection, tether_collection, TETHER, COLLECTION, GObject)

const char     *tether_collection_get_name     (TetherCollection *self);
/* The database, not a new reference. */
TetherDatabase *tether_collection_get_database (TetherCollection *self);

/* Create a record from @data (not modified). Without an "id" member a
 * UUIDv7 is assigned. Returns the stored record. */
TetherRecord   *tether_collection_create       (TetherCollection *self,
                                                JsonObject       *data,
                                                GError          **error);
/* NULL with TETHER_DATABASE_ERROR_NOT_FOUND when there is no such record. */
TetherRecord   *tether_collection_get          (TetherCollection *self,
                                                const char       *id,
                                                GError          **error);
/* All records, ordered by id (so by creation time for UUIDv7 ids). */
GPtrArray      *tether_collection_get_all      (TetherCollection *self,
                                                GError          **error);
/* Partial update: @patch is merged into the record as a JSON merge patch
 * (RFC 7386: members replace, null removes, objects merge recursively). */
TetherRecord   *tether_collection_update       (TetherCollection *self,
                                                const char       *id,
                                                JsonObject       *patch,
                                                GError          **error);
/* Upsert: replace the whole record with @data ("id" required) or create it. */
TetherRecord   *tether_collection_put          (TetherCollection *self,
                                                JsonObject       *data,
                                                GError          **error);
/* Delete; NOT_FOUND when there is no such record. */
gboolean        tether_collection_delete       (TetherCollection *self,
                                                const char       *id,
                                                GError          **error);
/* Delete every record @query matches (NULL: all) in one transaction; returns
 * the number deleted, or -1 on error. */
gint64          tether_collection_delete_many  (TetherCollection *self,
                                                TetherQuery      *query,
                                                GError          **error);
/* The number of records (@query NULL: all), -1 on error. */
gint64          tether_collection_count        (TetherCollection *self,
                                                TetherQuery      *query,
                                                GError          **error);

/* Signal "changed" (TetherChangeType type, const char *id,
 * TetherRecord *old_or_null, TetherRecord *new_or_null), after commit. */

G_END_DECLS
