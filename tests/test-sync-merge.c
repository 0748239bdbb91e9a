/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-merge"
#include "config.h"

#include <string.h>

#include "tether-test-util.h"
#include "tether-sync-private.h"

#define EARLY "0000000001000-0000-a"
#define LATE  "0000000002000-0000-b"

/* Hybrid logical clock -------------------------------------------------------------- */

static gint64
fake_now (gpointer data)
{
  return *(gint64 *) data;
}

static TetherHlc *
hlc_at (const char *node,
        gint64     *now)
{
  TetherHlc *hlc = tether_hlc_new (node);

  tether_hlc_set_clock (hlc, fake_now, now);
  return hlc;
}

static void
assert_hlc (const char *text,
            gint64      ms,
            guint       counter,
            const char *node)
{
  gint64 got_ms;
  guint got_counter;
  const char *got_node;

  g_assert_true (tether_hlc_parse (text, &got_ms, &got_counter, &got_node));
  g_assert_cmpint (got_ms, ==, ms);
  g_assert_cmpuint (got_counter, ==, counter);
  g_assert_cmpstr (got_node, ==, node);
}

static void
test_hlc_monotonic (void)
{
  gint64 now = 5000;
  g_autoptr(TetherHlc) hlc = hlc_at ("node-a", &now);
  g_autofree char *first = tether_hlc_tick (hlc);
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  g_autofree char *fourth = NULL;

  assert_hlc (first, 5000, 0, "node-a");
  second = tether_hlc_tick (hlc);
  assert_hlc (second, 5000, 1, "node-a");

  /* The wall clock jumps back an hour: the clock keeps going forward. */
  now = 5000 - 3600 * 1000;
  third = tether_hlc_tick (hlc);
  assert_hlc (third, 5000, 2, "node-a");
  g_assert_cmpint (tether_hlc_compare (third, second), >, 0);

  now = 7000;
  fourth = tether_hlc_tick (hlc);
  assert_hlc (fourth, 7000, 0, "node-a");
  g_assert_cmpint (tether_hlc_compare (fourth, third), >, 0);
}

static void
test_hlc_counter_overflow (void)
{
  gint64 now = 1000;
  g_autoptr(TetherHlc) hlc = hlc_at ("n", &now);
  g_autofree char *prev = tether_hlc_tick (hlc);
  g_autofree char *next = NULL;

  /* A frozen clock: every tick must still be greater than the one before. */
  for (guint i = 1; i <= TETHER_HLC_MAX_COUNTER + 1; i++)
    {
      g_free (next);
      next = tether_hlc_tick (hlc);
      g_assert_cmpint (tether_hlc_compare (next, prev), >, 0);
      g_free (prev);
      prev = g_strdup (next);
    }
  assert_hlc (next, 1001, 0, "n");
}

static void
test_hlc_observe_ahead (void)
{
  gint64 now = 1000;
  g_autoptr(TetherHlc) hlc = hlc_at ("a", &now);
  g_autofree char *mine = tether_hlc_tick (hlc);
  g_autofree char *after = NULL;
  g_autofree char *last = NULL;
  g_autofree char *full = NULL;

  g_assert_true (tether_hlc_observe (hlc, "0000000009000-0007-z"));
  last = tether_hlc_dup_last (hlc);
  g_assert_cmpstr (last, ==, "0000000009000-0007-z");
  after = tether_hlc_tick (hlc);
  assert_hlc (after, 9000, 8, "a");
  g_assert_cmpint (tether_hlc_compare (after, "0000000009000-0007-z"), >, 0);

  /* An older remote does not move the clock back. */
  g_assert_true (tether_hlc_observe (hlc, EARLY));
  g_clear_pointer (&last, g_free);
  last = tether_hlc_dup_last (hlc);
  g_assert_cmpstr (last, ==, after);

  /* A remote with a full counter: the next tick borrows the next ms. */
  g_assert_true (tether_hlc_observe (hlc, "0000000010000-ffff-b"));
  full = tether_hlc_tick (hlc);
  assert_hlc (full, 10001, 0, "a");
}

/* A remote hlc at the end of the format (a forged one, or a clock gone
 * wild) made the next tick ask for a 14-digit ms: it failed, and every
 * local write, which needs an hlc, was refused from then on. The clock
 * moves at most an hour past its wall clock, as the server clamps. */
static void
test_hlc_far_ahead (void)
{
  gint64 now = 1000;
  g_autoptr(TetherHlc) hlc = hlc_at ("a", &now);
  g_autofree char *tick = NULL;
  gint64 ms;

  g_assert_true (tether_hlc_observe (hlc, "9999999999999-ffff-x"));
  tick = tether_hlc_tick (hlc);
  g_assert_nonnull (tick);
  g_assert_true (tether_hlc_parse (tick, &ms, NULL, NULL));
  g_assert_cmpint (ms, >=, now);
  g_assert_cmpint (ms, <=, now + TETHER_HLC_MAX_AHEAD_MS + 1);

  /* within the hour, a remote is taken as it is */
  g_clear_pointer (&tick, g_free);
  g_clear_pointer (&hlc, tether_hlc_free);
  hlc = hlc_at ("a", &now);
  g_assert_true (tether_hlc_observe (hlc, "0000003000000-0002-z"));
  tick = tether_hlc_tick (hlc);
  assert_hlc (tick, 3000000, 3, "a");
}

/* At the very end of the format the clock stays there rather than fail. */
static void
test_hlc_saturates (void)
{
  gint64 now = G_GINT64_CONSTANT (9999999999999);
  g_autoptr(TetherHlc) hlc = hlc_at ("a", &now);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  g_assert_true (tether_hlc_observe (hlc, "9999999999999-ffff-z"));
  first = tether_hlc_tick (hlc);
  second = tether_hlc_tick (hlc);
  g_assert_nonnull (first);
  g_assert_nonnull (second);
  assert_hlc (second, G_GINT64_CONSTANT (9999999999999), TETHER_HLC_MAX_COUNTER, "z");
}

static void
test_hlc_round_trip (void)
{
  g_autofree char *text = tether_hlc_format (1700000000123, 0xab, "client-1");
  g_autofree char *zero = tether_hlc_format (0, 0, "x");
  g_autoptr(TetherHlc) hlc = tether_hlc_new ("me");
  g_autofree char *last = tether_hlc_dup_last (hlc);
  g_autofree char *tick = tether_hlc_tick (hlc);

  g_assert_cmpstr (text, ==, "1700000000123-00ab-client-1");
  assert_hlc (text, 1700000000123, 0xab, "client-1");
  g_assert_cmpstr (zero, ==, "0000000000000-0000-x");
  g_assert_cmpstr (tether_hlc_get_node (hlc), ==, "me");

  /* Real time: a plausible ms value, and the last value is what was handed out. */
  g_assert_null (last);
  g_assert_true (tether_hlc_parse (tick, NULL, NULL, NULL));
  g_clear_pointer (&last, g_free);
  last = tether_hlc_dup_last (hlc);
  g_assert_cmpstr (last, ==, tick);

  g_assert_cmpint (tether_hlc_compare (NULL, NULL), ==, 0);
  g_assert_cmpint (tether_hlc_compare (NULL, EARLY), <, 0);
  g_assert_cmpint (tether_hlc_compare (LATE, NULL), >, 0);
  g_assert_cmpint (tether_hlc_compare (EARLY, LATE), <, 0);
  g_assert_cmpint (tether_hlc_compare ("0000000001000-0000-b", "0000000001000-0001-a"), <, 0);
}

static void
test_hlc_malformed (void)
{
  static const char * const bad[] = {
    "", "1000-0000-a", "000000000100-0000-a", "000000000100a-0000-a",
    "0000000001000-000g-a", "0000000001000-00AB-a", "0000000001000-0000-",
    "0000000001000_0000-a", "0000000001000-0000_a", "0000000001000-00000-a",
    " 000000001000-0000-a",
  };
  g_autoptr(TetherHlc) hlc = tether_hlc_new ("me");
  g_autofree char *last = NULL;

  g_assert_false (tether_hlc_parse (NULL, NULL, NULL, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("malformed: '%s'", bad[i]);
      g_assert_false (tether_hlc_parse (bad[i], NULL, NULL, NULL));
      g_assert_false (tether_hlc_observe (hlc, bad[i]));
    }
  g_assert_false (tether_hlc_observe (hlc, NULL));
  last = tether_hlc_dup_last (hlc);
  g_assert_null (last);
}

/* Text merge ------------------------------------------------------------------------ */

static void
assert_text_merge (const char *base,
                   const char *local,
                   const char *remote,
                   gboolean    prefer_local,
                   const char *expected,
                   gboolean    expected_clean)
{
  gboolean clean = !expected_clean;
  g_autofree char *merged = tether_merge_text (base, local, remote, prefer_local, &clean);

  g_assert_cmpstr (merged, ==, expected);
  g_assert_cmpint (clean, ==, expected_clean);
}

static void
test_text_disjoint (void)
{
  const char *base = "one\ntwo\nthree\nfour\nfive\n";

  assert_text_merge (base, "ONE\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\n",
                     TRUE, "ONE\ntwo\nthree\nfour\nFIVE\n", TRUE);
  /* Neighbouring lines do not overlap. */
  assert_text_merge (base, "one\nTWO\nthree\nfour\nfive\n", "one\ntwo\nTHREE\nfour\nfive\n",
                     FALSE, "one\nTWO\nTHREE\nfour\nfive\n", TRUE);
  /* A deletion on one side, an insertion elsewhere on the other. */
  assert_text_merge (base, "one\nfour\nfive\n", "one\ntwo\nthree\nfour\nfour and a half\nfive\n",
                     TRUE, "one\nfour\nfour and a half\nfive\n", TRUE);
  /* One side only. */
  assert_text_merge (base, base, "zero\n", TRUE, "zero\n", TRUE);
}

static void
test_text_same_edit (void)
{
  const char *base = "a\nb\nc\nd\n";

  assert_text_merge (base, "a\nB\nc\nd\n", "a\nB\nc\nd\n", FALSE, "a\nB\nc\nd\n", TRUE);
  /* The same change plus a change of its own on one side. */
  assert_text_merge (base, "a\nB\nc\nD\n", "a\nB\nc\nd\n", FALSE, "a\nB\nc\nD\n", TRUE);
  /* Overlapping but not identical changes are a conflict, even where they agree. */
  assert_text_merge (base, "A\nB\nc\nd\n", "a\nB\nc\nD\n", TRUE, "A\nB\nc\nD\n", FALSE);
}

static void
test_text_conflict (void)
{
  const char *base = "a\nb\nc\nd\ne\n";
  const char *local = "A\nb\nlocal\nd\ne\n";
  const char *remote = "a\nb\nremote\nd\nE\n";

  /* Line c conflicts; a and e merge cleanly around it. */
  assert_text_merge (base, local, remote, TRUE, "A\nb\nlocal\nd\nE\n", FALSE);
  assert_text_merge (base, local, remote, FALSE, "A\nb\nremote\nd\nE\n", FALSE);
  /* Two insertions at one place: their order would be a guess. */
  assert_text_merge ("a\nc\n", "a\nb1\nc\n", "a\nb2\nc\n", TRUE, "a\nb1\nc\n", FALSE);
  /* A deletion against an edit of a line inside it. */
  assert_text_merge ("a\nb\nc\nd\n", "a\nd\n", "a\nb\nC\nd\n", FALSE, "a\nb\nC\nd\n", FALSE);
}

/* A changed region holding several lines found once in each text: the
 * diff aligns on each of them in turn. */
static void
test_text_anchors (void)
{
  assert_text_merge ("x\nA\n1\nB\n2\nC\ny\n", "x\nAL\n1\nB\n2\nC\ny\n",
                     "x\nA\n1R\nB\n2R\nC\nz\n", TRUE, "x\nAL\n1R\nB\n2R\nC\nz\n", TRUE);
  assert_text_merge ("h\n1\nP\n2\nQ\n3\nR\n4\nt\n", "H\n1\nP\n2\nQ\n3\nR\n4\nt\n",
                     "h\n1r\nP\n2r\nQ\n3r\nR\n4r\nT\n", FALSE,
                     "H\n1r\nP\n2r\nQ\n3r\nR\n4r\nT\n", TRUE);
  /* B and C are found once in base and remote only, so the three-way split
   * leaves them inside one region and the two-way diff aligns on them (it
   * wrote past its table here, found by ASan in a convergence soak). */
  assert_text_merge ("x\nA\n1\nB\n2\nC\ny\n", "x\nA\n1\nB\nB\n2\nC\nC\ny\n",
                     "x\nA\n1R\nB\n2R\nC\nz\n", FALSE, "x\nA\n1R\nB\nB\n2R\nC\nC\nz\n", TRUE);
  /* One side deletes one of two blank lines, the other replaces one: the
   * diffs pick different blank lines, so as neighbours they merged to no
   * blank line at all, clean. Between equal lines they conflict. */
  assert_text_merge ("p\n\n\nq\n", "p\n\nq\n", "p\nR\n\nq\n", FALSE, "p\nR\n\nq\n", FALSE);
  assert_text_merge ("p\n\n\nq\n", "p\n\nq\n", "p\nR\n\nq\n", TRUE, "p\n\nq\n", FALSE);
}

/* A long text of repeated lines would take the diff seconds: past its
 * budget the region conflicts instead, decided for the preferred side. */
static void
test_text_budget (void)
{
  g_autoptr(GString) base = g_string_new (NULL);
  g_autofree char *local = NULL, *remote = NULL, *merged = NULL;
  gboolean clean = TRUE;

  for (guint i = 0; i < 12000; i++)
    g_string_append (base, i % 2 ? "b\n" : "a\n");
  /* local changes both ends, so nothing trims its diff; remote one line
   * in the middle, which would merge cleanly with it */
  local = g_strconcat ("L\n", base->str + 2, NULL);
  local[strlen (local) - 2] = 'M';
  remote = g_strdup (base->str);
  remote[12000] = 'R';
  merged = tether_merge_text (base->str, local, remote, FALSE, &clean);
  g_assert_false (clean);
  g_assert_cmpstr (merged, ==, remote);
  g_clear_pointer (&merged, g_free);
  merged = tether_merge_text (base->str, local, remote, TRUE, &clean);
  g_assert_false (clean);
  g_assert_cmpstr (merged, ==, local);
}

static void
test_text_ends (void)
{
  const char *base = "b\nc\n";

  assert_text_merge (base, "a\nb\nc\n", "b\nc\nd\n", TRUE, "a\nb\nc\nd\n", TRUE);
  assert_text_merge (base, "b\nc\nd\n", "a\nb\nc\n", FALSE, "a\nb\nc\nd\n", TRUE);
  /* An insertion before a line the other side replaced goes first. */
  assert_text_merge (base, "a\nb\nc\n", "B\nc\n", TRUE, "a\nB\nc\n", TRUE);
  /* The same line added at the end by both. */
  assert_text_merge (base, "b\nc\nd\n", "b\nc\nd\n", TRUE, "b\nc\nd\n", TRUE);
}

static void
test_text_trailing_newline (void)
{
  /* No final newline anywhere. */
  assert_text_merge ("a\nb\nc", "A\nb\nc", "a\nb\nC", TRUE, "A\nb\nC", TRUE);
  /* One side drops the final newline, the other edits the first line. */
  assert_text_merge ("a\nb\n", "a\nb", "A\nb\n", TRUE, "A\nb", TRUE);
  /* One side adds a final newline, the other edits elsewhere. */
  assert_text_merge ("a\nb\nc", "a\nb\nc\n", "A\nb\nc", FALSE, "A\nb\nc\n", TRUE);
  /* Appending to a text without a final newline touches its last line. */
  assert_text_merge ("a\nb", "a\nb\nx", "a\nb\ny", TRUE, "a\nb\nx", FALSE);
  assert_text_merge ("a\nb", "a\nb\nx\n", "A\nb", TRUE, "A\nb\nx\n", TRUE);
}

static void
test_text_empty_base (void)
{
  assert_text_merge (NULL, "x\n", "x\n", TRUE, "x\n", TRUE);
  assert_text_merge ("", "", "new\n", TRUE, "new\n", TRUE);
  assert_text_merge (NULL, "mine\n", "", FALSE, "mine\n", TRUE);
  assert_text_merge (NULL, "mine\n", "theirs\n", FALSE, "theirs\n", FALSE);
  assert_text_merge (NULL, "mine\n", "theirs\n", TRUE, "mine\n", FALSE);
  /* Both emptied a text. */
  assert_text_merge ("a\n", "", "", TRUE, "", TRUE);
}

static void
test_text_large (void)
{
  g_autoptr(GString) base = g_string_new (NULL);
  g_autoptr(GString) local = NULL;
  g_autoptr(GString) remote = NULL;
  g_autofree char *merged = NULL;
  gboolean clean = FALSE;

  for (guint i = 0; i < 4000; i++)
    g_string_append_printf (base, "line %u\n", i);
  local = g_string_new (base->str);
  remote = g_string_new (base->str);
  g_string_prepend (local, "local head\n");
  g_string_replace (remote, "line 3999\n", "remote tail\n", 1);
  g_string_replace (remote, "line 2000\n", "", 1);

  merged = tether_merge_text (base->str, local->str, remote->str, TRUE, &clean);
  g_assert_true (clean);
  g_assert_true (g_str_has_prefix (merged, "local head\nline 0\n"));
  g_assert_true (g_str_has_suffix (merged, "line 3998\nremote tail\n"));
  g_assert_null (strstr (merged, "line 2000\n"));
  g_assert_nonnull (strstr (merged, "line 1999\nline 2001\n"));
}

/* Lines from two disjoint alphabets, so no line of one part can match a line
 * of the other and each side's edits stay in its own part. */
static void
mutate (GPtrArray  *lines,
        const char *alphabet)
{
  guint ops = g_test_rand_int_range (1, 5);

  for (guint i = 0; i < ops; i++)
    {
      guint at = g_test_rand_int_range (0, lines->len + 1);
      char *line = g_strdup_printf ("%c", alphabet[g_test_rand_int_range (0, strlen (alphabet))]);

      switch (lines->len > 0 && at < lines->len ? g_test_rand_int_range (0, 3) : 0)
        {
        case 0:
          g_ptr_array_insert (lines, at, line);
          break;
        case 1:
          g_ptr_array_remove_index (lines, at);
          g_free (line);
          break;
        default:
          g_free (g_ptr_array_steal_index (lines, at));
          g_ptr_array_insert (lines, at, line);
          break;
        }
    }
}

static GPtrArray *
random_lines (const char *alphabet,
              guint       n)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (lines, g_strdup_printf ("%c", alphabet[g_test_rand_int_range (0, strlen (alphabet))]));
  return lines;
}

static char *
join_parts (GPtrArray *head,
            GPtrArray *tail)
{
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < head->len; i++)
    g_string_append_printf (text, "%s\n", (char *) head->pdata[i]);
  g_string_append (text, "-- separator --\n");
  for (guint i = 0; i < tail->len; i++)
    g_string_append_printf (text, "%s\n", (char *) tail->pdata[i]);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static GPtrArray *
copy_lines (GPtrArray *lines)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < lines->len; i++)
    g_ptr_array_add (copy, g_strdup (lines->pdata[i]));
  return copy;
}

/* Each side edits its own part of a random text: every merge is clean.
 * Few letters make runs of equal lines; many make lines found once, which
 * the diff aligns first. */
static void
random_merges (const char *head_letters,
               const char *tail_letters)
{
  for (guint round = 0; round < 200; round++)
    {
      g_autoptr(GPtrArray) head = random_lines (head_letters, g_test_rand_int_range (0, 30));
      g_autoptr(GPtrArray) tail = random_lines (tail_letters, g_test_rand_int_range (0, 30));
      g_autoptr(GPtrArray) head2 = copy_lines (head);
      g_autoptr(GPtrArray) tail2 = copy_lines (tail);
      g_autofree char *base = join_parts (head, tail);
      g_autofree char *local = NULL, *remote = NULL, *expected = NULL;

      mutate (head2, head_letters);
      mutate (tail2, tail_letters);
      local = join_parts (head2, tail);
      remote = join_parts (head, tail2);
      expected = join_parts (head2, tail2);

      assert_text_merge (base, local, remote, round % 2, expected, TRUE);
      assert_text_merge (base, remote, local, round % 2, expected, TRUE);
      assert_text_merge (base, expected, remote, round % 2, expected, TRUE);
    }
}

static void
test_text_random (void)
{
  random_merges ("abcde", "vwxyz");
  random_merges ("abcdefghijklmnopqrstu", "ABCDEFGHIJKLMNOPQRSTU");
}

/* Lines changed in place stay in place, among repeated lines too: the
 * first of several equally long alignments read "Shopping" and "TODO" as
 * deleted above and "Bread" as inserted below, and the other side's "Call
 * Ann" then took the place of the first line, in a merge that said it was
 * clean (found by the convergence soak). */
static void
test_text_in_place (void)
{
  assert_text_merge ("Shopping\n\nTODO\n\nTODO\n\nPlan\n\nEnd\n",
                     "TODO\n\nTODO\n\nBread\n\nPlan\n\nEnd\n",
                     "Shopping\n\nCall Ann\n\nTODO\n\nPlan\n\nEnd\n", FALSE,
                     "TODO\n\nCall Ann\n\nBread\n\nPlan\n\nEnd\n", TRUE);
}

/* Whether every line of @part is somewhere in @whole. */
static gboolean
holds_lines (const char *whole,
             const char *part)
{
  g_auto(GStrv) lines = g_strsplit (part, "\n", -1);
  g_autofree char *framed = g_strdup_printf ("\n%s", whole);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *line = g_strdup_printf ("\n%s\n", lines[i]);

      if (lines[i][0] != '\0' && strstr (framed, line) == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Paragraphs between blank lines, of few distinct words, each replaced in
 * place by one side or the other. Where repeated lines make several
 * alignments as good, diff3 cannot tell which of the equal lines an edit
 * kept: a clean merge may then place or repeat a line elsewhere than the
 * edits had it, but it never drops a line that either side's version of
 * the text has (a conflict is logged with both sides). */
static void
test_text_in_place_random (void)
{
  static const char * const words[] = { "TODO", "done", "milk", "", "bread" };
  const guint n = 6;

  for (guint round = 0; round < 2000; round++)
    {
      g_autoptr(GString) base = g_string_new (NULL), local = g_string_new (NULL);
      g_autoptr(GString) remote = g_string_new (NULL), expected = g_string_new (NULL);
      gboolean clean = FALSE;
      g_autofree char *merged = NULL;

      for (guint i = 0; i < n; i++)
        {
          const char *was = words[g_test_rand_int_range (0, G_N_ELEMENTS (words))];
          const char *now = words[g_test_rand_int_range (0, G_N_ELEMENTS (words))];
          guint who = g_test_rand_int_range (0, 3);   /* nobody, local, remote */
          const char *sep = i > 0 ? "\n" : "";

          g_string_append_printf (base, "%s%s\n", sep, was);
          g_string_append_printf (local, "%s%s\n", sep, who == 1 ? now : was);
          g_string_append_printf (remote, "%s%s\n", sep, who == 2 ? now : was);
          g_string_append_printf (expected, "%s%s\n", sep, who > 0 ? now : was);
        }
      merged = tether_merge_text (base->str, local->str, remote->str, round % 2, &clean);
      if (clean && !holds_lines (merged, expected->str))
        g_error ("the clean merge of %s, %s and %s lost a line: %s", g_strescape (base->str, NULL),
                 g_strescape (local->str, NULL), g_strescape (remote->str, NULL), g_strescape (merged, NULL));
    }
}

/* Record merge ---------------------------------------------------------------------- */

/* JSON with ' for " to keep the cases readable; NULL stays NULL. */
static JsonObject *
object_or_null (const char *json)
{
  g_autofree char *text = g_strdup (json);

  if (json == NULL)
    return NULL;
  return tether_test_object (g_strdelimit (text, "'", '"'));
}

static TetherMergeResult *
merge_notes (const char *base,
             const char *local,
             const char *local_hlc,
             const char *remote,
             const char *remote_hlc)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(JsonObject) b = object_or_null (base);
  g_autoptr(JsonObject) l = object_or_null (local);
  g_autoptr(JsonObject) r = object_or_null (remote);

  return tether_merge_records (schema, "notes", b, l, local_hlc, r, remote_hlc);
}

static void
assert_fields (GPtrArray  *fields,
               const char *expected)
{
  g_auto(GStrv) names = *expected != '\0' ? g_strsplit (expected, ",", -1) : g_new0 (char *, 1);

  g_assert_cmpuint (fields->len, ==, g_strv_length (names));
  for (guint i = 0; i < fields->len; i++)
    g_assert_cmpstr (fields->pdata[i], ==, names[i]);
}

static void
assert_result (TetherMergeResult *result,
               const char        *expected_json)
{
  g_autoptr(JsonObject) expected = object_or_null (expected_json);
  g_autoptr(JsonNode) a = json_node_init_object (json_node_alloc (), result->result);
  g_autoptr(JsonNode) b = json_node_init_object (json_node_alloc (), expected);
  g_autofree char *text = json_to_string (a, FALSE);

  g_test_message ("merged: %s", text);
  g_assert_true (_tether_json_equal (a, b));
}

static void
assert_lost (TetherMergeResult *result,
             const char        *both,
             const char        *local_lost,
             const char        *remote_lost)
{
  assert_fields (result->both_changed, both);
  assert_fields (result->local_lost, local_lost);
  assert_fields (result->remote_lost, remote_lost);
}

#define NOTE_BASE "{'id':'n1','title':'T','body':'a\\nb\\nc\\n','tags':['x'],'pinned':false}"

static void
test_records_seed (void)
{
  g_autoptr(TetherMergeResult) result = merge_notes (
    NOTE_BASE,
    "{'id':'n1','title':'Local title','body':'a\\nb\\nc\\n','tags':['x'],'pinned':false}", EARLY,
    "{'id':'n1','title':'T','body':'remote body\\n','tags':['x'],'pinned':false}", LATE);

  assert_result (result, "{'id':'n1','title':'Local title','body':'remote body\\n',"
                         "'tags':['x'],'pinned':false}");
  assert_lost (result, "", "", "");
  g_assert_false (result->local_lost_record);
  g_assert_false (result->remote_lost_record);
}

static void
test_records_hlc_decides (void)
{
  const char *local = "{'id':'n1','title':'L','body':'a\\nb\\nc\\n','tags':['l'],'pinned':false}";
  const char *remote = "{'id':'n1','title':'R','body':'a\\nb\\nc\\n','tags':['r'],'pinned':false}";
  g_autoptr(TetherMergeResult) local_wins = merge_notes (NOTE_BASE, local, LATE, remote, EARLY);
  g_autoptr(TetherMergeResult) remote_wins = merge_notes (NOTE_BASE, local, EARLY, remote, LATE);

  assert_result (local_wins, local);
  assert_lost (local_wins, "tags,title", "", "tags,title");
  assert_result (remote_wins, remote);
  assert_lost (remote_wins, "tags,title", "tags,title", "");
}

static void
test_records_text_field (void)
{
  g_autoptr(TetherMergeResult) clean = merge_notes (
    NOTE_BASE,
    "{'id':'n1','title':'T','body':'A\\nb\\nc\\n','tags':['x'],'pinned':false}", EARLY,
    "{'id':'n1','title':'T','body':'a\\nb\\nC\\n','tags':['x'],'pinned':false}", LATE);
  g_autoptr(TetherMergeResult) conflict = merge_notes (
    NOTE_BASE,
    "{'id':'n1','title':'T','body':'a\\nmine\\nc\\n','tags':['x'],'pinned':false}", LATE,
    "{'id':'n1','title':'T','body':'a\\ntheirs\\nc\\n','tags':['x'],'pinned':false}", EARLY);
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(JsonObject) base = object_or_null ("{'id':'t1','title':'T','notes':'1\\n2\\n'}");
  g_autoptr(JsonObject) local = object_or_null ("{'id':'t1','title':'T','notes':'0\\n1\\n2\\n'}");
  g_autoptr(JsonObject) remote = object_or_null ("{'id':'t1','title':'T','notes':'1\\n2\\n3\\n'}");
  g_autoptr(TetherMergeResult) task = tether_merge_records (schema, "tasks", base, local, EARLY,
                                                            remote, LATE);
  g_autoptr(TetherMergeResult) no_schema = tether_merge_records (NULL, "tasks", base, local, EARLY,
                                                                 remote, LATE);

  assert_result (clean, "{'id':'n1','title':'T','body':'A\\nb\\nC\\n','tags':['x'],'pinned':false}");
  assert_lost (clean, "body", "", "");
  /* Conflicting lines: the whole field goes by hlc, never half-merged. */
  assert_result (conflict, "{'id':'n1','title':'T','body':'a\\nmine\\nc\\n','tags':['x'],'pinned':false}");
  assert_lost (conflict, "body", "", "body");
  assert_result (task, "{'id':'t1','title':'T','notes':'0\\n1\\n2\\n3\\n'}");
  assert_lost (task, "notes", "", "");
  assert_result (no_schema, "{'id':'t1','title':'T','notes':'1\\n2\\n3\\n'}");
  assert_lost (no_schema, "notes", "notes", "");
}

static void
test_records_delete_edit (void)
{
  const char *edited = "{'id':'n1','title':'Edited','body':'a\\nb\\nc\\n','tags':['x'],'pinned':false}";
  g_autoptr(TetherMergeResult) local_deleted = merge_notes (NOTE_BASE, NULL, LATE, edited, EARLY);
  g_autoptr(TetherMergeResult) remote_deleted = merge_notes (NOTE_BASE, edited, EARLY, NULL, LATE);
  g_autoptr(TetherMergeResult) unchanged = merge_notes (NOTE_BASE, NULL, EARLY, NOTE_BASE, LATE);

  /* The edit survives whatever the clocks say. */
  assert_result (local_deleted, edited);
  g_assert_true (local_deleted->local_lost_record);
  g_assert_false (local_deleted->remote_lost_record);
  assert_lost (local_deleted, "", "", "");

  assert_result (remote_deleted, edited);
  g_assert_false (remote_deleted->local_lost_record);
  g_assert_true (remote_deleted->remote_lost_record);

  /* Against a record the other side did not touch the delete stands. */
  g_assert_null (unchanged->result);
  g_assert_false (unchanged->local_lost_record);
  g_assert_false (unchanged->remote_lost_record);
}

static void
test_records_delete_delete (void)
{
  g_autoptr(TetherMergeResult) result = merge_notes (NOTE_BASE, NULL, EARLY, NULL, LATE);

  g_assert_null (result->result);
  g_assert_false (result->local_lost_record);
  g_assert_false (result->remote_lost_record);
  assert_lost (result, "", "", "");
}

static void
test_records_no_base (void)
{
  g_autoptr(TetherMergeResult) result = merge_notes (
    NULL,
    "{'id':'n1','title':'Mine','body':'same\\n','pinned':true}", LATE,
    "{'id':'n1','title':'Theirs','body':'same\\n','tags':['t']}", EARLY);
  g_autoptr(TetherMergeResult) remote_wins = merge_notes (
    NULL,
    "{'id':'n1','title':'Mine','body':'mine\\n'}", EARLY,
    "{'id':'n1','title':'Theirs','body':'theirs\\n'}", LATE);

  /* Every differing field is changed on both sides, absent ones included. */
  assert_result (result, "{'id':'n1','title':'Mine','body':'same\\n','pinned':true}");
  assert_lost (result, "pinned,tags,title", "", "pinned,tags,title");
  assert_result (remote_wins, "{'id':'n1','title':'Theirs','body':'theirs\\n'}");
  assert_lost (remote_wins, "body,title", "body,title", "");
}

static void
test_records_field_removal (void)
{
  g_autoptr(TetherMergeResult) one_side = merge_notes (
    NOTE_BASE,
    "{'id':'n1','title':'T','body':'a\\nb\\nc\\n','tags':['x']}", EARLY,
    "{'id':'n1','title':'New','body':'a\\nb\\nc\\n','tags':['x'],'pinned':false}", LATE);
  g_autoptr(TetherMergeResult) both = merge_notes (
    NOTE_BASE,
    "{'id':'n1','title':'T','body':'a\\nb\\nc\\n','tags':['x']}", LATE,
    "{'id':'n1','title':'T','body':'a\\nb\\nc\\n','tags':['x'],'pinned':true}", EARLY);

  assert_result (one_side, "{'id':'n1','title':'New','body':'a\\nb\\nc\\n','tags':['x']}");
  assert_lost (one_side, "", "", "");
  /* A removal against a change is a change on both sides. */
  assert_result (both, "{'id':'n1','title':'T','body':'a\\nb\\nc\\n','tags':['x']}");
  assert_lost (both, "pinned", "", "pinned");
}

static void
test_records_id_and_copies (void)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();
  g_autoptr(JsonObject) base = object_or_null ("{'id':'n1','title':'T','tags':['x']}");
  g_autoptr(JsonObject) local = object_or_null ("{'id':'n1','title':'T','tags':['x','y']}");
  g_autoptr(JsonObject) remote = object_or_null ("{'title':'R','tags':['x']}");
  g_autoptr(TetherMergeResult) result = tether_merge_records (schema, "notes", base, local, EARLY,
                                                              remote, LATE);
  JsonArray *tags;

  /* The id is kept even though one side's copy lacks it. */
  assert_result (result, "{'id':'n1','title':'R','tags':['x','y']}");
  assert_lost (result, "", "", "");

  /* The result shares nothing with the inputs. */
  tags = json_object_get_array_member (result->result, "tags");
  g_assert_true (tags != json_object_get_array_member (local, "tags"));
  json_array_add_string_element (tags, "z");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (local, "tags")), ==, 2);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tether/sync/hlc/monotonic", test_hlc_monotonic);
  g_test_add_func ("/tether/sync/hlc/counter-overflow", test_hlc_counter_overflow);
  g_test_add_func ("/tether/sync/hlc/observe-ahead", test_hlc_observe_ahead);
  g_test_add_func ("/tether/sync/hlc/far-ahead", test_hlc_far_ahead);
  g_test_add_func ("/tether/sync/hlc/saturates", test_hlc_saturates);
  g_test_add_func ("/tether/sync/hlc/round-trip", test_hlc_round_trip);
  g_test_add_func ("/tether/sync/hlc/malformed", test_hlc_malformed);
  g_test_add_func ("/tether/sync/merge/text/disjoint", test_text_disjoint);
  g_test_add_func ("/tether/sync/merge/text/same-edit", test_text_same_edit);
  g_test_add_func ("/tether/sync/merge/text/conflict", test_text_conflict);
  g_test_add_func ("/tether/sync/merge/text/ends", test_text_ends);
  g_test_add_func ("/tether/sync/merge/text/anchors", test_text_anchors);
  g_test_add_func ("/tether/sync/merge/text/in-place", test_text_in_place);
  g_test_add_func ("/tether/sync/merge/text/in-place-random", test_text_in_place_random);
  g_test_add_func ("/tether/sync/merge/text/budget", test_text_budget);
  g_test_add_func ("/tether/sync/merge/text/trailing-newline", test_text_trailing_newline);
  g_test_add_func ("/tether/sync/merge/text/empty-base", test_text_empty_base);
  g_test_add_func ("/tether/sync/merge/text/large", test_text_large);
  g_test_add_func ("/tether/sync/merge/text/random", test_text_random);
  g_test_add_func ("/tether/sync/merge/records/seed", test_records_seed);
  g_test_add_func ("/tether/sync/merge/records/hlc-decides", test_records_hlc_decides);
  g_test_add_func ("/tether/sync/merge/records/text-field", test_records_text_field);
  g_test_add_func ("/tether/sync/merge/records/delete-edit", test_records_delete_edit);
  g_test_add_func ("/tether/sync/merge/records/delete-delete", test_records_delete_delete);
  g_test_add_func ("/tether/sync/merge/records/no-base", test_records_no_base);
  g_test_add_func ("/tether/sync/merge/records/field-removal", test_records_field_removal);
  g_test_add_func ("/tether/sync/merge/records/id-and-copies", test_records_id_and_copies);

  return g_test_run ();
}
