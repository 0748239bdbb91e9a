/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-search"
#include "config.h"

#include <math.h>
#include <string.h>

#include "tether-private.h"

/* tether_bm25(fts, 'fts_table'): the same score as FTS5's bm25() (k1 = 1.2,
 * b = 0.75, every column weight 1), with the documents' lengths cached.
 * bm25() looks each matching document's length up in the FTS table's docsize
 * table, one statement per row: 90% of the cost of ranking 10k matches. Here
 * a length is looked up once and kept: a write on this connection forgets
 * its own row, a commit by another connection or a rollback forgets them all.
 * The row count and average length are read per query, so scores are exact. */

#define BM25_K1 1.2
#define BM25_B  0.75

struct _TetherRank
{
  GHashTable   *tables;   /* fts table name → GHashTable (rowid → length + 1) */
  sqlite3      *db;
  gint64        version;  /* PRAGMA data_version when the cache was filled */
  gboolean      valid;
};

typedef struct {
  double     *idf;       /* per phrase */
  int         n_phrases;
  double      avgdl;
  GHashTable *lengths;   /* borrowed from the TetherRank */
} QueryData;

static void
query_data_free (void *data)
{
  QueryData *q = data;

  g_free (q->idf);
  g_free (q);
}

static int
count_hit (const Fts5ExtensionApi *api,
           Fts5Context            *fts,
           void                   *user_data)
{
  (*(sqlite3_int64 *) user_data)++;
  return SQLITE_OK;
}

/* Our own writes forget their rows (_tether_rank_forget); PRAGMA
 * data_version moves only for commits by other connections, which may have
 * changed any row, so then everything goes. */
static void
check_version (TetherRank *rank)
{
  sqlite3_stmt *stmt = NULL;
  gint64 version = -1;

  /* Prepared per query, not kept: a statement held here would keep the
   * connection from closing, and the connection owns us. */
  if (sqlite3_prepare_v2 (rank->db, "PRAGMA data_version", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  if (!rank->valid || version < 0 || version != rank->version)
    {
      g_hash_table_remove_all (rank->tables);
      rank->version = version;
      rank->valid = TRUE;
    }
}

static GHashTable *
lengths_for (TetherRank *rank,
             const char *table)
{
  GHashTable *lengths = g_hash_table_lookup (rank->tables, table);

  if (lengths == NULL)
    {
      lengths = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_hash_table_insert (rank->tables, g_strdup (table), lengths);
    }
  return lengths;
}

/* Per query, as FTS5's bm25 does: idf of each phrase and the average length. */
static QueryData *
query_data_new (const Fts5ExtensionApi *api,
                Fts5Context            *fts,
                TetherRank             *rank,
                const char             *table,
                int                    *rc)
{
  QueryData *q = g_new0 (QueryData, 1);
  sqlite3_int64 n_rows = 0, n_tokens = 0;

  q->n_phrases = api->xPhraseCount (fts);
  q->idf = g_new0 (double, MAX (q->n_phrases, 1));
  *rc = api->xRowCount (fts, &n_rows);
  if (*rc == SQLITE_OK)
    *rc = api->xColumnTotalSize (fts, -1, &n_tokens);
  q->avgdl = n_rows > 0 ? (double) n_tokens / (double) n_rows : 1.0;
  for (int i = 0; *rc == SQLITE_OK && i < q->n_phrases; i++)
    {
      sqlite3_int64 hits = 0;

      *rc = api->xQueryPhrase (fts, i, &hits, count_hit);
      q->idf[i] = log ((n_rows - hits + 0.5) / (hits + 0.5));
      if (q->idf[i] <= 0.0)
        q->idf[i] = 1e-6;
    }
  check_version (rank);
  q->lengths = lengths_for (rank, table);
  return q;
}

static int
document_length (const Fts5ExtensionApi *api,
                 Fts5Context            *fts,
                 QueryData              *q,
                 int                    *length)
{
  gpointer key = GSIZE_TO_POINTER ((gsize) api->xRowid (fts));
  gpointer cached = g_hash_table_lookup (q->lengths, key);
  int rc;

  if (cached != NULL)
    {
      *length = GPOINTER_TO_INT (cached) - 1;
      return SQLITE_OK;
    }
  rc = api->xColumnSize (fts, -1, length);
  if (rc == SQLITE_OK)
    g_hash_table_insert (q->lengths, key, GINT_TO_POINTER (*length + 1));
  return rc;
}

static void
tether_bm25 (const Fts5ExtensionApi *api,
             Fts5Context            *fts,
             sqlite3_context        *ctx,
             int                     n_args,
             sqlite3_value         **args)
{
  TetherRank *rank = api->xUserData (fts);
  QueryData *q = api->xGetAuxdata (fts, 0);
  g_autofree double *freq = NULL;
  double score = 0.0;
  int n_inst = 0, length = 0;
  int rc = SQLITE_OK;

  if (q == NULL)
    {
      const char *table = n_args > 0 ? (const char *) sqlite3_value_text (args[0]) : NULL;

      q = query_data_new (api, fts, rank, table ? table : "", &rc);
      if (rc != SQLITE_OK)
        query_data_free (q);
      else
        rc = api->xSetAuxdata (fts, q, query_data_free);   /* frees q on failure */
      if (rc != SQLITE_OK)
        {
          sqlite3_result_error_code (ctx, rc);
          return;
        }
    }
  freq = g_new0 (double, MAX (q->n_phrases, 1));
  if (rc == SQLITE_OK)
    rc = api->xInstCount (fts, &n_inst);
  for (int i = 0; rc == SQLITE_OK && i < n_inst; i++)
    {
      int phrase, column, offset;

      rc = api->xInst (fts, i, &phrase, &column, &offset);
      if (rc == SQLITE_OK)
        freq[phrase] += 1.0;
    }
  if (rc == SQLITE_OK)
    rc = document_length (api, fts, q, &length);
  for (int i = 0; rc == SQLITE_OK && i < q->n_phrases; i++)
    score += q->idf[i] * (freq[i] * (BM25_K1 + 1.0)) /
             (freq[i] + BM25_K1 * (1.0 - BM25_B + BM25_B * length / q->avgdl));
  if (rc == SQLITE_OK)
    sqlite3_result_double (ctx, -1.0 * score);
  else
    sqlite3_result_error_code (ctx, rc);
}

static void
rank_destroy (void *data)
{
  TetherRank *rank = data;

  g_hash_table_unref (rank->tables);
  g_free (rank);
}

static fts5_api *
get_fts5_api (sqlite3 *db)
{
  fts5_api *api = NULL;
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, "SELECT fts5(?1)", -1, &stmt, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_pointer (stmt, 1, (void *) &api, "fts5_api_ptr", NULL);
  sqlite3_step (stmt);
  sqlite3_finalize (stmt);
  return api;
}

TetherRank *
_tether_rank_register (sqlite3 *db)
{
  fts5_api *api = get_fts5_api (db);
  TetherRank *rank;

  if (api == NULL)
    return NULL;
  rank = g_new0 (TetherRank, 1);
  rank->db = db;
  rank->tables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_hash_table_unref);
  /* SQLite owns @rank from here and frees it when the connection closes. */
  if (api->xCreateFunction (api, "tether_bm25", rank, tether_bm25, rank_destroy) != SQLITE_OK)
    {
      rank_destroy (rank);
      return NULL;
    }
  return rank;
}

void
_tether_rank_invalidate (TetherRank *rank)
{
  if (rank != NULL)
    rank->valid = FALSE;
}

void
_tether_rank_forget (TetherRank *rank,
                     gint64      rowid)
{
  GHashTableIter iter;
  gpointer lengths;

  if (rank == NULL)
    return;
  /* Row ids are per table; forgetting it in every table is cheap and safe. */
  g_hash_table_iter_init (&iter, rank->tables);
  while (g_hash_table_iter_next (&iter, NULL, &lengths))
    g_hash_table_remove (lengths, GSIZE_TO_POINTER ((gsize) rowid));
}
