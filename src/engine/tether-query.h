/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-collection.h"

G_BEGIN_DECLS

#define TETHER_QUERY_ERROR (tether_query_error_quark ())

typedef enum {
  TETHER_QUERY_ERROR_UNKNOWN_FIELD, /* the field is not declared in the schema */
  TETHER_QUERY_ERROR_BAD_VALUE,     /* the value does not fit the field or the operator */
  TETHER_QUERY_ERROR_BAD_OPERATOR,  /* operator not applicable to the field (or unknown) */
  TETHER_QUERY_ERROR_PARSE,         /* a textual condition could not be parsed */
} TetherQueryError;

typedef enum {
  TETHER_OP_EQ,        /* ==  (null matches absent fields) */
  TETHER_OP_NE,        /* !=  (absent fields are != any non-null value) */
  TETHER_OP_LT,        /* <   */
  TETHER_OP_LE,        /* <=  */
  TETHER_OP_GT,        /* >   */
  TETHER_OP_GE,        /* >=  */
  TETHER_OP_IN,        /* in: value is a JSON array */
  TETHER_OP_CONTAINS,  /* contains: array field holds the value, or string field holds the substring */
  TETHER_OP_PREFIX,    /* prefix: string field starts with the value */
} TetherOp;

#define TETHER_TYPE_QUERY (tether_query_get_type ())
G_DECLARE_FINAL_TYPE (TetherQuery, tether_query, TETHER, QUERY, GObject)

GQuark        tether_query_error_quark   (void);

/* "==" → TETHER_OP_EQ …; FALSE for an unknown operator. */
gboolean      tether_op_from_string      (const char  *text,
                                          TetherOp    *op);
const char   *tether_op_to_string        (TetherOp     op);

TetherQuery  *tether_query_new           (TetherCollection *collection);
TetherCollection *tether_query_get_collection (TetherQuery *self);

/* Builders return @self for chaining. A bad field, operator or value is kept
 * as the query's error and reported by every call that runs it. */
TetherQuery  *tether_query_where         (TetherQuery *self,
                                          const char  *field,
                                          TetherOp     op,
                                          JsonNode    *value);
/* Adds a condition to or-group @group (0, 1, …). The conditions of one group
 * are ORed; each group is ANDed with the where conditions and other groups. */
TetherQuery  *tether_query_or_where      (TetherQuery *self,
                                          guint        group,
                                          const char  *field,
                                          TetherOp     op,
                                          JsonNode    *value);
/* Convenience for where/or_where from text "FIELD OP VALUE" (as the CLI takes
 * it): VALUE is read as JSON when it parses, and as a bare string otherwise
 * (for string and datetime fields a bare word is always a string). */
TetherQuery  *tether_query_where_text    (TetherQuery *self,
                                          const char  *condition);
TetherQuery  *tether_query_or_where_text (TetherQuery *self,
                                          guint        group,
                                          const char  *condition);
TetherQuery  *tether_query_sort          (TetherQuery *self,
                                          const char  *field,
                                          gboolean     descending);
TetherQuery  *tether_query_limit         (TetherQuery *self,
                                          gint64       limit);
TetherQuery  *tether_query_offset        (TetherQuery *self,
                                          gint64       offset);
/* Full-text search over the collection's searchable fields: every word must
 * match as a prefix, diacritics-insensitively; results are ranked by bm25
 * unless a sort is given. */
TetherQuery  *tether_query_search        (TetherQuery *self,
                                          const char  *text);
/* A search with no other condition and no sort ranks only the @newest most
 * recently created matches (0, the default: every match). Ranking is a pass
 * over the matches: a one- or two-letter prefix matches most of a large
 * collection, and a list that shows the best 200 as you type is better
 * served by the best among the latest thousands. */
TetherQuery  *tether_query_rank_within   (TetherQuery *self,
                                          guint        newest);

/* Records of this query carry only @fields (NULL-terminated schema fields;
 * the id always) with string fields cut to @max_chars characters: a list
 * that shows a title and a line of text then holds a fraction of each
 * record. Such records are previews: read the whole record with
 * tether_collection_get() before editing or copying it. */
TetherQuery  *tether_query_preview       (TetherQuery        *self,
                                          const char * const *fields,
                                          guint               max_chars);

/* The first error a builder met, or NULL. */
const GError *tether_query_get_error     (TetherQuery *self);

/* Run. Results are TetherRecord objects in query order; ties are broken by
 * insertion order (in the direction of the last sort), so the last declared
 * index can serve the whole ORDER BY. */
GPtrArray    *tether_query_run           (TetherQuery *self,
                                          GError     **error);
/* The first result, or NULL (with no error when nothing matches). */
TetherRecord *tether_query_first         (TetherQuery *self,
                                          GError     **error);
/* The number of matching records (ignores limit/offset), -1 on error. */
gint64        tether_query_count         (TetherQuery *self,
                                          GError     **error);
/* The SQLite query plan (EXPLAIN QUERY PLAN), one step a line. */
char         *tether_query_explain       (TetherQuery *self,
                                          GError     **error);

G_END_DECLS
