/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A hybrid logical clock (docs/protocol.md, "Hybrid logical clock"): the
 * text form "<ms, 13 digits>-<counter, 4 hex digits>-<node>" sorts in clock
 * order with strcmp(), and the node (the clientId) breaks ties. */
typedef struct _TetherHlc TetherHlc;

#define TETHER_HLC_MAX_COUNTER 0xffff
/* How far past the wall clock an observed hlc may move the clock (the
 * server clamps at the same distance). */
#define TETHER_HLC_MAX_AHEAD_MS (60 * 60 * 1000)

TetherHlc  *tether_hlc_new       (const char *node);
void        tether_hlc_free      (TetherHlc  *self);
const char *tether_hlc_get_node  (TetherHlc  *self);
/* A timestamp for a local event: max(wall ms, last ms), counter bumped when
 * the ms did not move (a full counter moves to the next ms). Strictly
 * greater than every value returned or observed before, except at the
 * end of the format (year 2286), where it stays. */
char       *tether_hlc_tick      (TetherHlc  *self);
/* Advance past @remote (received from the server or another client), but
 * no further than TETHER_HLC_MAX_AHEAD_MS past the wall clock; a malformed
 * @remote is ignored and FALSE returned. */
gboolean    tether_hlc_observe   (TetherHlc  *self,
                                  const char *remote);
/* The last value handed out or observed (NULL before any), for storing. */
char       *tether_hlc_dup_last  (TetherHlc  *self);
/* Injectable wall clock for tests (NULL: real time). */
void        tether_hlc_set_clock (TetherHlc  *self,
                                  gint64    (*now_ms) (gpointer data),
                                  gpointer    data);

gboolean    tether_hlc_parse     (const char *text,
                                  gint64     *ms,
                                  guint      *counter,
                                  const char **node);
char       *tether_hlc_format    (gint64      ms,
                                  guint       counter,
                                  const char *node);
/* strcmp order with NULL first. */
int         tether_hlc_compare   (const char *a,
                                  const char *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherHlc, tether_hlc_free)

G_END_DECLS
