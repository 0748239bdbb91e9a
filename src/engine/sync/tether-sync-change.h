/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-database.h"

G_BEGIN_DECLS

typedef enum {
  TETHER_CHANGE_PENDING,    /* written locally, not yet sent */
  TETHER_CHANGE_SYNCING,    /* sent, answer not yet stored */
  TETHER_CHANGE_COMMITTED,  /* accepted by the server; removed at the end of a sync */
  TETHER_CHANGE_FAILED,     /* refused by the server or out of retries; kept until retried or discarded */
} TetherChangeStatus;

#define TETHER_TYPE_CHANGE_STATUS (tether_change_status_get_type ())
GType       tether_change_status_get_type  (void);
const char *tether_change_status_to_string (TetherChangeStatus status);  /* "pending", … */

#define TETHER_TYPE_SYNC_CHANGE (tether_sync_change_get_type ())
G_DECLARE_FINAL_TYPE (TetherSyncChange, tether_sync_change, TETHER, SYNC_CHANGE, GObject)

/* A snapshot of one entry of the change log (read-only properties of the
 * same names: "id", "collection", "record-id", "change-type", "status",
 * "retries", "error", "base-rev", "hlc", "timestamp", "created", "updated",
 * "data", "prev-data"). Times are ms since the epoch. */
const char        *tether_sync_change_get_id         (TetherSyncChange *self);
gint64             tether_sync_change_get_seq        (TetherSyncChange *self);
const char        *tether_sync_change_get_collection (TetherSyncChange *self);
const char        *tether_sync_change_get_record_id  (TetherSyncChange *self);
TetherChangeType   tether_sync_change_get_change_type (TetherSyncChange *self);
TetherChangeStatus tether_sync_change_get_status     (TetherSyncChange *self);
guint              tether_sync_change_get_retries    (TetherSyncChange *self);
const char        *tether_sync_change_get_error      (TetherSyncChange *self);
gint64             tether_sync_change_get_base_rev   (TetherSyncChange *self);
const char        *tether_sync_change_get_hlc        (TetherSyncChange *self);
gint64             tether_sync_change_get_timestamp  (TetherSyncChange *self);
gint64             tether_sync_change_get_created    (TetherSyncChange *self);
gint64             tether_sync_change_get_updated    (TetherSyncChange *self);
/* JSON text of the record after / before the change; NULL for none. */
const char        *tether_sync_change_get_data       (TetherSyncChange *self);
const char        *tether_sync_change_get_prev_data  (TetherSyncChange *self);
/* The record's "title" (or "name") from data/prev-data, for lists; may be "". */
const char        *tether_sync_change_get_title      (TetherSyncChange *self);
/* The change as JSON (for `tether inspect --json`). */
JsonNode          *tether_sync_change_to_json        (TetherSyncChange *self);

G_END_DECLS
