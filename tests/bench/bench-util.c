/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "bench-util.h"

void
bench_perf_control (const char *command)
{
  const char *fifo = g_getenv ("TETHER_BENCH_PERF_CTL");
  FILE *file;

  if (fifo == NULL || (file = fopen (fifo, "w")) == NULL)
    return;
  fprintf (file, "%s\n", command);
  fclose (file);
}

void
bench_perf_phase (const char *variable,
                  const char *phase,
                  const char *command)
{
  const char *only = g_getenv (variable);

  if (only == NULL || g_str_equal (only, phase))
    bench_perf_control (command);
}

gsize
bench_log_size (const char *path)
{
  g_autofree char *log = NULL;
  gsize length = 0;

  g_file_get_contents (path, &log, &length, NULL);
  return length;
}

double
bench_log_ms (const char *path,
              gsize       offset,
              const char *match)
{
  g_autofree char *log = NULL;
  g_auto(GStrv) lines = NULL;
  gsize length = 0;
  double ms = 0;

  if (!g_file_get_contents (path, &log, &length, NULL) || length < offset)
    return 0;
  lines = g_strsplit (log + offset, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *field = strstr (lines[i], " ms=");

      if (field != NULL && (match == NULL || strstr (lines[i], match) != NULL))
        ms += g_ascii_strtod (field + strlen (" ms="), NULL);
    }
  return ms;
}
