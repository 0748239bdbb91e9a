/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* tether-server's request log (one line per request, "... ms=F"), as the
 * benchmarks read it: its own time, without the client or the loopback. */
gsize  bench_log_size (const char *path);
/* Milliseconds the server logged after @offset, on lines that contain
 * @match (NULL: every line). */
double bench_log_ms   (const char *path,
                       gsize       offset,
                       const char *match);

/* With TETHER_BENCH_PERF_CTL naming the control fifo of
 * `perf record --control fifo:FILE -D -1`, sends it @command ("enable",
 * "disable"), so that only the measured part is sampled. */
void   bench_perf_control (const char *command);
/* bench_perf_control() for one phase: with $@variable naming a phase,
 * only that one is sampled; unset, every phase is. */
void   bench_perf_phase   (const char *variable,
                           const char *phase,
                           const char *command);

G_END_DECLS
