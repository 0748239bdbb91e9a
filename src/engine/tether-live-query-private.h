/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-private.h"

G_BEGIN_DECLS

/* One sort key as SQLite produced it (NULL, integer, real or text). */
typedef struct {
  int     type;     /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT */
  guint   len;      /* of s */
  union {
    gint64  i;
    double  d;
    char   *s;
  };
} TetherLiveKey;

/* One allocation per item, keys inline: a live query may hold 100k. */
typedef struct {
  TetherRecord  *record;
  guint          n_keys;
  TetherLiveKey  keys[];
} TetherLiveItem;

/* Takes a reference on @record; reads @n_keys columns from @first_col. */
TetherLiveItem *_tether_live_item_new      (TetherRecord   *record,
                                            sqlite3_stmt   *stmt,
                                            int             first_col,
                                            guint           n_keys);
void            _tether_live_item_free     (gpointer        item);
/* SQLite's ORDER BY: NULL < numbers < text (bytewise), per-key direction. */
int             _tether_live_item_compare  (const TetherLiveItem *a,
                                            const TetherLiveItem *b,
                                            const gboolean       *descending,
                                            guint                 n_keys);
/* After an external commit: does @fresh show the same as @old (times, JSON
 * text, and the first @n_keys sort keys)? */
gboolean        _tether_live_item_same     (const TetherLiveItem *old,
                                            const TetherLiveItem *fresh,
                                            const gboolean       *descending,
                                            guint                 n_keys);

G_END_DECLS
