/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-fuzz"
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "tether-merge.h"

/* The line merge of text fields (tether-merge-text.c): base, local and
 * remote come from the input, split at its first two NUL bytes. Any texts
 * merge to a text, with either side preferred; where only one side changed
 * (or both made the same change) that side is the result and it is clean. */

static void
merge_both_ways (const char *base,
                 const char *local,
                 const char *remote)
{
  for (int prefer_local = 0; prefer_local < 2; prefer_local++)
    {
      gboolean clean = FALSE;
      g_autofree char *merged = tether_merge_text (base, local, remote, prefer_local, &clean);

      fuzz_check (merged != NULL, "a merge gave no text");
      if (g_str_equal (local, base) || g_str_equal (local, remote))
        fuzz_check (clean && g_str_equal (merged, remote), "a change of one side only was not taken as it is");
      else if (g_str_equal (remote, base))
        fuzz_check (clean && g_str_equal (merged, local), "a change of one side only was not taken as it is");
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = fuzz_text (data, size);
  const char *end = text + size;
  const char *base = text;
  const char *local = base + strlen (base) + 1;
  const char *remote = local < end ? local + strlen (local) + 1 : end;

  if (local >= end || remote > end)
    return 0;
  merge_both_ways (base, local, remote);
  return 0;
}
