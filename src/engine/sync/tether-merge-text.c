/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-merge-text"
#include "config.h"

#include <string.h>

#include "tether-merge.h"

/* A line keeps its "\n", so a last line without one differs from the same
 * line with one: adding or removing the final newline is an ordinary edit.
 * A Text may be a view into a part of another one. */
typedef struct {
  char **lines;   /* borrowed from the interning table */
  int   *ids;     /* equal lines have equal ids */
  int    n;
} Text;

/* Base line range [s, e) replaced by side line range [ss, se). */
typedef struct {
  int s, e;
  int ss, se;
} Hunk;

/* One line found in each of up to three texts, at these positions. */
typedef struct {
  int pos[3];
} Anchor;

static void
text_split (Text       *text,
            const char *str,
            GHashTable *intern)
{
  /* NULL-terminated, so an empty text gets lines too: text_slice offsets
   * them, and an offset on NULL is undefined (UBSan, fuzz-client-pull). */
  g_autoptr(GPtrArray) lines = g_ptr_array_new_null_terminated (0, NULL, TRUE);
  const char *p = str;

  while (*p != '\0')
    {
      const char *nl = strchr (p, '\n');
      gsize len = nl != NULL ? (gsize) (nl - p + 1) : strlen (p);
      g_autofree char *line = g_strndup (p, len);
      gpointer key, value;

      if (!g_hash_table_lookup_extended (intern, line, &key, &value))
        {
          value = GINT_TO_POINTER (g_hash_table_size (intern));
          key = g_steal_pointer (&line);
          g_hash_table_insert (intern, key, value);
        }
      g_ptr_array_add (lines, key);
      p += len;
    }

  text->n = lines->len;
  text->ids = g_new (int, MAX (text->n, 1));
  for (int i = 0; i < text->n; i++)
    text->ids[i] = GPOINTER_TO_INT (g_hash_table_lookup (intern, lines->pdata[i]));
  text->lines = (char **) g_ptr_array_free (g_steal_pointer (&lines), FALSE);
}

static void
text_clear (Text *text)
{
  g_clear_pointer (&text->lines, g_free);
  g_clear_pointer (&text->ids, g_free);
}

static Text
text_slice (const Text *text,
            int         from,
            int         to)
{
  Text slice = { text->lines + from, text->ids + from, to - from };

  return slice;
}

static gboolean
texts_equal (const Text *a,
             const Text *b)
{
  return a->n == b->n && memcmp (a->ids, b->ids, sizeof (int) * a->n) == 0;
}

/* Anchors -------------------------------------------------------------------------- */

typedef struct {
  int n[3];     /* occurrences in each text */
  int pos[3];   /* position of the last one */
} Occurrences;

/* The longest run of @anchors (in the first text's order) whose positions
 * in text @key increase too. */
static GArray *
longest_increasing (GArray *anchors,
                    int     key)
{
  g_autofree int *tails = g_new (int, MAX (anchors->len, 1));
  g_autofree int *prev = g_new (int, MAX (anchors->len, 1));
  GArray *run = g_array_new (FALSE, FALSE, sizeof (Anchor));
  int len = 0;

  for (int i = 0; i < (int) anchors->len; i++)
    {
      int pos = g_array_index (anchors, Anchor, i).pos[key];
      int lo = 0, hi = len;

      while (lo < hi)
        {
          int mid = (lo + hi) / 2;

          if (g_array_index (anchors, Anchor, tails[mid]).pos[key] < pos)
            lo = mid + 1;
          else
            hi = mid;
        }
      prev[i] = lo > 0 ? tails[lo - 1] : -1;
      tails[lo] = i;
      len = MAX (len, lo + 1);
    }

  g_array_set_size (run, len);
  for (int i = len > 0 ? tails[len - 1] : -1, k = len - 1; i >= 0; i = prev[i], k--)
    g_array_index (run, Anchor, k) = g_array_index (anchors, Anchor, i);
  return run;
}

/* Lines found exactly once in each text, in an order all texts agree on
 * (patience diff). Aligning them first keeps one region's alignment free of
 * edits made elsewhere, so the same edit on two sides is found at one place. */
static GArray *
unique_anchors (const Text *texts,
                int         n_texts)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  GArray *anchors = g_array_new (FALSE, FALSE, sizeof (Anchor));

  for (int t = 0; t < n_texts; t++)
    for (int i = 0; i < texts[t].n; i++)
      {
        gpointer key = GINT_TO_POINTER (texts[t].ids[i]);
        Occurrences *occ = g_hash_table_lookup (seen, key);

        if (occ == NULL)
          g_hash_table_insert (seen, key, occ = g_new0 (Occurrences, 1));
        occ->n[t]++;
        occ->pos[t] = i;
      }

  for (int i = 0; i < texts[0].n; i++)
    {
      Occurrences *occ = g_hash_table_lookup (seen, GINT_TO_POINTER (texts[0].ids[i]));
      gboolean unique = TRUE;
      Anchor anchor;

      for (int t = 0; t < n_texts; t++)
        unique = unique && occ->n[t] == 1;
      memcpy (anchor.pos, occ->pos, sizeof anchor.pos);
      if (unique)
        g_array_append_val (anchors, anchor);
    }

  for (int t = 1; t < n_texts; t++)
    {
      GArray *run = longest_increasing (anchors, t);

      g_array_unref (anchors);
      anchors = run;
    }
  return anchors;
}

/* Two-way diff --------------------------------------------------------------------- */

/* Line matching of @a (base) against @b (a side): match[i] receives the
 * index in b of a's line i, or stays -1. */
typedef struct {
  const Text *a;
  const Text *b;
  int        *match;
  gint64     *budget;   /* LCS cells left for the whole merge */
} Diff;

/* Lines found once let the diff align in linear time; a long text of
 * repeated lines leaves it the quadratic LCS (3.3 s for 30,000 alternating
 * lines, on the main loop). Past this many cells, about 100 ms, the region
 * is not merged line by line: it conflicts, decided by hlc with both sides
 * logged. */
#define LCS_BUDGET_CELLS ((gint64) 100 * 1000 * 1000)

static void diff_range (Diff *d, int a0, int a1, int b0, int b1);

/* row[j] = the fewest line edits turning a[0..n) into b[0..j) (or with
 * @reverse the suffixes a[.. n) into b[m-j .. m)), a line replaced in
 * place counting as one edit like an insertion or a deletion: so "two
 * lines changed in place" (two edits) is never beaten by "one line
 * deleted here, one inserted there" that an LCS prefers when it finds one
 * more equal line that way (a blank one, among paragraphs). Two rows of
 * memory. */
static void
edit_row (const int *a,
          int        n,
          const int *b,
          int        m,
          gboolean   reverse,
          int       *row)
{
  g_autofree int *prev = g_new0 (int, m + 1);

  for (int j = 0; j <= m; j++)
    row[j] = j;
  for (int i = 0; i < n; i++)
    {
      int ai = reverse ? a[n - 1 - i] : a[i];

      memcpy (prev, row, sizeof (int) * (m + 1));
      row[0] = i + 1;
      for (int j = 1; j <= m; j++)
        {
          int bj = reverse ? b[m - j] : b[j - 1];

          row[j] = MIN (prev[j - 1] + (ai == bj ? 0 : 1), MIN (prev[j], row[j - 1]) + 1);
        }
    }
}

/* How far splitting b at @k strays from where a's line @mid falls when a
 * (n lines) and b (m lines) are laid side by side, in units of 1/n line. */
static gint64
off_diagonal (int k,
              int mid,
              int n,
              int m)
{
  gint64 d = (gint64) k * n - (gint64) mid * m;

  return d < 0 ? -d : d;
}

/* Hirschberg's split: O(n·m) time in all, linear memory. */
static void
diff_split (Diff *d,
            int   a0,
            int   a1,
            int   b0,
            int   b1)
{
  int n = a1 - a0, m = b1 - b0, mid = n / 2;
  g_autofree int *fwd = NULL;
  g_autofree int *bwd = NULL;
  int best = 0, best_cost = -1;

  if ((*d->budget -= (gint64) n * m) < 0)
    return;
  fwd = g_new (int, m + 1);
  bwd = g_new (int, m + 1);

  edit_row (d->a->ids + a0, mid, d->b->ids + b0, m, FALSE, fwd);
  edit_row (d->a->ids + a0 + mid, n - mid, d->b->ids + b0, m, TRUE, bwd);
  /* Of the splits with the fewest edits, the one nearest the diagonal:
   * with repeated lines (blank ones) many are as good, and one far off
   * the diagonal reads a line changed in place as deleted here and
   * inserted further on, so that the other side's edit of a line in
   * between lands on the wrong line in a merge that still looks clean. */
  for (int k = 0; k <= m; k++)
    {
      int cost = fwd[k] + bwd[m - k];

      if (best_cost < 0 || cost < best_cost ||
          (cost == best_cost && off_diagonal (k, mid, n, m) < off_diagonal (best, mid, n, m)))
        {
          best_cost = cost;
          best = k;
        }
    }
  g_clear_pointer (&fwd, g_free);
  g_clear_pointer (&bwd, g_free);

  diff_range (d, a0, a0 + mid, b0, b0 + best);
  diff_range (d, a0 + mid, a1, b0 + best, b1);
}

static void
diff_range (Diff *d,
            int   a0,
            int   a1,
            int   b0,
            int   b1)
{
  const int *a = d->a->ids, *b = d->b->ids;
  g_autoptr(GArray) anchors = NULL;
  Text views[2];

  if (*d->budget < 0)
    return;

  /* Notes mostly change in one place: trimming makes that case linear. */
  for (; a0 < a1 && b0 < b1 && a[a0] == b[b0]; a0++, b0++)
    d->match[a0] = b0;
  for (; a0 < a1 && b0 < b1 && a[a1 - 1] == b[b1 - 1]; a1--, b1--)
    d->match[a1 - 1] = b1 - 1;
  if (a0 == a1 || b0 == b1)
    return;

  views[0] = text_slice (d->a, a0, a1);
  views[1] = text_slice (d->b, b0, b1);
  anchors = unique_anchors (views, 2);
  if (anchors->len == 0 && a1 - a0 > 1)
    {
      diff_split (d, a0, a1, b0, b1);
      return;
    }
  if (anchors->len == 0)
    {
      for (int j = b0; j < b1 && d->match[a0] < 0; j++)
        if (b[j] == a[a0])
          d->match[a0] = j;
      return;
    }

  /* Anchor positions are within the slices, which start at a0 and b0 as
   * they are now; the walk below moves a0 and b0 on. */
  {
    int slice_a = a0, slice_b = b0;

    for (guint k = 0; k < anchors->len; k++)
      {
        int ai = slice_a + g_array_index (anchors, Anchor, k).pos[0];
        int bi = slice_b + g_array_index (anchors, Anchor, k).pos[1];

        diff_range (d, a0, ai, b0, bi);
        d->match[ai] = bi;
        a0 = ai + 1;
        b0 = bi + 1;
      }
  }
  diff_range (d, a0, a1, b0, b1);
}

/* An insertion or deletion inside a run of equal lines can sit anywhere in
 * the run; moving each as far down as it goes lets the two sides agree on
 * where the same edit is (else it would be applied twice). */
static void
slide_hunks (GArray     *hunks,
             const Text *base,
             const Text *side)
{
  for (guint k = 0; k < hunks->len; k++)
    {
      Hunk *h = &g_array_index (hunks, Hunk, k);
      int limit = k + 1 < hunks->len ? g_array_index (hunks, Hunk, k + 1).s - 1 : base->n;

      if (h->s < h->e && h->ss < h->se)
        continue;
      while (h->e < limit && base->ids[h->s] == side->ids[h->ss])
        h->s++, h->e++, h->ss++, h->se++;
    }
}

/* The hunks turning @base into @side, in base order; two hunks of one side
 * are always separated by at least one unchanged line. NULL when the
 * alignment would cost more than is left of *@budget. */
static GArray *
diff_hunks (const Text *base,
            const Text *side,
            gint64     *budget)
{
  g_autofree int *match = g_new (int, MAX (base->n, 1));
  Diff diff = { base, side, match, budget };
  GArray *hunks;
  int i = 0, j = 0;

  for (int k = 0; k < base->n; k++)
    match[k] = -1;
  diff_range (&diff, 0, base->n, 0, side->n);
  if (*budget < 0)
    return NULL;
  hunks = g_array_new (FALSE, FALSE, sizeof (Hunk));

  while (i < base->n || j < side->n)
    {
      Hunk hunk;

      if (i < base->n && match[i] == j)
        {
          i++, j++;
          continue;
        }
      hunk.s = i;
      hunk.ss = j;
      while (i < base->n && match[i] < 0)
        i++;
      hunk.e = i;
      hunk.se = j = i < base->n ? match[i] : side->n;
      g_array_append_val (hunks, hunk);
    }
  slide_hunks (hunks, base, side);
  return hunks;
}

/* Three-way walk ------------------------------------------------------------------- */

typedef struct {
  const Text *base;
  const Text *side[2];   /* local, remote */
  GArray     *hunks[2];
  guint       next[2];
  GString    *out;
  gboolean    prefer_local;
  gboolean    clean;
  gint64      budget;    /* LCS cells left */
} Merge;

/* Base lines [cs, ce) changed by one or both sides, with the hunks of
 * each side that fall in it. */
typedef struct {
  int         cs, ce;
  guint       count[2];
  const Hunk *first[2];
  const Hunk *last[2];
} Chunk;

/* Changes touching only at a boundary merge cleanly, except two insertions
 * at one place: their order would be a guess. */
static gboolean
ranges_overlap (int s1, int e1,
                int s2, int e2)
{
  if (s1 == e1 && s2 == e2)
    return s1 == s2;
  if (s1 == e1)
    return s2 < s1 && s1 < e2;
  if (s2 == e2)
    return s1 < s2 && s2 < e1;
  return s1 < e2 && s2 < e1;
}

/* Edits that meet between two equal lines may be one edit aligned two
 * ways (which of two blank lines did each side delete?): merged as
 * neighbours they could drop or double a line and still look clean, so
 * they conflict. */
static gboolean
meets_between_equal_lines (const Merge *merge,
                           const Chunk *chunk,
                           const Hunk  *h)
{
  const Text *base = merge->base;
  int at = h->s == chunk->ce ? h->s : h->e == chunk->cs ? h->e : -1;

  return at > 0 && at < base->n && base->ids[at - 1] == base->ids[at];
}

static const Hunk *
next_hunk (Merge *merge,
           int    side)
{
  if (merge->next[side] >= merge->hunks[side]->len)
    return NULL;
  return &g_array_index (merge->hunks[side], Hunk, merge->next[side]);
}

static void
append_lines (Merge      *merge,
              const Text *text,
              int         from,
              int         to)
{
  for (int i = from; i < to; i++)
    g_string_append (merge->out, text->lines[i]);
}

/* Which side starts the next chunk: the earlier hunk, an insertion first
 * when both start at one line (it goes before the replaced lines). */
static int
first_side (const Hunk *l,
            const Hunk *r)
{
  if (l == NULL || r == NULL)
    return l != NULL ? 0 : 1;
  if (l->s != r->s)
    return l->s < r->s ? 0 : 1;
  return l->s == l->e ? 0 : 1;
}

static void
chunk_take (Merge *merge,
            Chunk *chunk,
            int    side)
{
  const Hunk *h = next_hunk (merge, side);

  if (chunk->count[0] + chunk->count[1] == 0)
    chunk->cs = h->s, chunk->ce = h->e;
  chunk->cs = MIN (chunk->cs, h->s);
  chunk->ce = MAX (chunk->ce, h->e);
  if (chunk->first[side] == NULL)
    chunk->first[side] = h;
  chunk->last[side] = h;
  chunk->count[side]++;
  merge->next[side]++;
}

/* Grow the chunk until no hunk of either side overlaps it any more. */
static void
chunk_collect (Merge *merge,
               Chunk *chunk,
               int    start)
{
  gboolean grew = TRUE;

  chunk_take (merge, chunk, start);
  while (grew)
    {
      grew = FALSE;
      for (int side = 0; side < 2; side++)
        {
          const Hunk *h = next_hunk (merge, side);

          if (h != NULL && (ranges_overlap (chunk->cs, chunk->ce, h->s, h->e) ||
                            meets_between_equal_lines (merge, chunk, h)))
            {
              chunk_take (merge, chunk, side);
              grew = TRUE;
            }
        }
    }
}

/* The lines of @side standing for the chunk's base lines: around its own
 * hunks the side still has the base lines. */
static Text
chunk_side (Merge       *merge,
            const Chunk *chunk,
            int          side)
{
  int from = chunk->first[side]->ss - (chunk->first[side]->s - chunk->cs);
  int to = chunk->last[side]->se + (chunk->ce - chunk->last[side]->e);

  return text_slice (merge->side[side], from, to);
}

static void
chunk_emit (Merge       *merge,
            const Chunk *chunk)
{
  Text lines[2];
  int pick;

  if (chunk->count[0] == 0 || chunk->count[1] == 0)
    pick = chunk->count[0] > 0 ? 0 : 1;
  else
    {
      lines[0] = chunk_side (merge, chunk, 0);
      lines[1] = chunk_side (merge, chunk, 1);
      if (!texts_equal (&lines[0], &lines[1]))
        merge->clean = FALSE;
      pick = merge->prefer_local ? 0 : 1;
    }

  lines[pick] = chunk_side (merge, chunk, pick);
  append_lines (merge, &lines[pick], 0, lines[pick].n);
}

/* diff3 of one region: unchanged base lines are copied, each chunk of
 * overlapping hunks is emitted once. */
static void
merge_region (Merge *merge)
{
  int pos = 0;

  merge->hunks[0] = diff_hunks (merge->base, merge->side[0], &merge->budget);
  merge->hunks[1] = diff_hunks (merge->base, merge->side[1], &merge->budget);
  if (merge->hunks[0] == NULL || merge->hunks[1] == NULL)
    {
      const Text *take = merge->side[merge->prefer_local ? 0 : 1];

      /* too costly to align: the whole region is one conflict */
      merge->clean = FALSE;
      append_lines (merge, take, 0, take->n);
      g_clear_pointer (&merge->hunks[0], g_array_unref);
      g_clear_pointer (&merge->hunks[1], g_array_unref);
      return;
    }
  merge->next[0] = merge->next[1] = 0;
  for (;;)
    {
      const Hunk *l = next_hunk (merge, 0), *r = next_hunk (merge, 1);
      Chunk chunk = { 0 };

      if (l == NULL && r == NULL)
        break;
      chunk_collect (merge, &chunk, first_side (l, r));
      g_assert (chunk.cs >= pos);
      append_lines (merge, merge->base, pos, chunk.cs);
      chunk_emit (merge, &chunk);
      pos = chunk.ce;
    }
  append_lines (merge, merge->base, pos, merge->base->n);
  g_clear_pointer (&merge->hunks[0], g_array_unref);
  g_clear_pointer (&merge->hunks[1], g_array_unref);
}

static void
merge_segment (Merge *merge,
               Text   base,
               Text   local,
               Text   remote)
{
  const Text *take = NULL;

  if (texts_equal (&local, &remote) || texts_equal (&base, &remote))
    take = &local;
  else if (texts_equal (&base, &local))
    take = &remote;
  if (take != NULL)
    {
      append_lines (merge, take, 0, take->n);
      return;
    }

  merge->base = &base;
  merge->side[0] = &local;
  merge->side[1] = &remote;
  merge_region (merge);
}

/* Lines unique in and kept by all three texts cut them into segments that
 * merge separately: an edit both sides made the same way stays one edit. */
static void
merge_texts (Merge      *merge,
             const Text  texts[3])
{
  g_autoptr(GArray) anchors = unique_anchors (texts, 3);
  int from[3] = { 0, 0, 0 };

  for (guint k = 0; k <= anchors->len; k++)
    {
      Text parts[3];
      int to[3];

      for (int t = 0; t < 3; t++)
        {
          to[t] = k < anchors->len ? g_array_index (anchors, Anchor, k).pos[t] : texts[t].n;
          parts[t] = text_slice (&texts[t], from[t], to[t]);
          from[t] = to[t] + 1;
        }
      merge_segment (merge, parts[0], parts[1], parts[2]);
      if (k < anchors->len)
        g_string_append (merge->out, texts[0].lines[to[0]]);
    }
}

char *
tether_merge_text (const char *base,
                   const char *local,
                   const char *remote,
                   gboolean    prefer_local,
                   gboolean   *clean)
{
  g_autoptr(GHashTable) intern = NULL;
  Text texts[3] = { { 0 } };
  Merge merge = { 0 };

  g_return_val_if_fail (local != NULL, NULL);
  g_return_val_if_fail (remote != NULL, NULL);

  if (base == NULL)
    base = "";
  if (clean != NULL)
    *clean = TRUE;
  if (strcmp (local, remote) == 0 || strcmp (base, remote) == 0)
    return g_strdup (local);
  if (strcmp (base, local) == 0)
    return g_strdup (remote);

  intern = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  text_split (&texts[0], base, intern);
  text_split (&texts[1], local, intern);
  text_split (&texts[2], remote, intern);

  merge.out = g_string_new (NULL);
  merge.prefer_local = prefer_local;
  merge.clean = TRUE;
  merge.budget = LCS_BUDGET_CELLS;
  merge_texts (&merge, texts);

  if (clean != NULL)
    *clean = merge.clean;
  for (int i = 0; i < 3; i++)
    text_clear (&texts[i]);
  return g_string_free (g_steal_pointer (&merge.out), FALSE);
}
