/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-query.h"

G_BEGIN_DECLS

#define TETHER_TYPE_LIVE_QUERY (tether_live_query_get_type ())
G_DECLARE_FINAL_TYPE (TetherLiveQuery, tether_live_query, TETHER, LIVE_QUERY, GObject)

/* A GListModel of TetherRecord over @query, kept up to date from the
 * collection's `changed` signal, and from the database's `external-change`
 * (another process's commit: the query re-runs, and records that left, came,
 * moved or changed get the same single-item signals, a changed record in
 * place an (i,1,1)). Each change is answered with the smallest
 * items-changed: (i,0,1) insert, (i,1,0) remove, (i,1,1) in-place update, and a
 * remove followed by an insert for a move, never a reset. In a search ranked
 * by bm25 one write may legitimately reorder several results (the scores
 * depend on the whole collection); each moved record is still one remove and
 * one insert. The query is copied: later builder calls on @query do not
 * affect the live query. */
TetherLiveQuery *tether_live_query_new       (TetherQuery     *query,
                                              GError         **error);
TetherQuery     *tether_live_query_get_query (TetherLiveQuery *self);
/* Replace the query (e.g. a new search text) and reload: one items-changed. */
gboolean         tether_live_query_set_query (TetherLiveQuery *self,
                                              TetherQuery     *query,
                                              GError         **error);
/* Position of the record with @id, or -1. */
gint             tether_live_query_find      (TetherLiveQuery *self,
                                              const char      *id);

G_END_DECLS
