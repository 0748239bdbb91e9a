/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/* libFuzzer's entry points, declared for -Wmissing-prototypes. The
 * common library's LLVMFuzzerInitialize only calls fuzz_setup(). */
int   LLVMFuzzerInitialize   (int            *argc,
                              char         ***argv);
int   LLVMFuzzerTestOneInput (const uint8_t  *data,
                              size_t          size);

/* Makes criticals and warnings abort, so libFuzzer reports them as crashes:
 * hostile input must get a GError, never a failed precondition. */
void  fuzz_setup             (void);
/* The input as a NUL-terminated string (it may hold NULs of its own). */
char *fuzz_text              (const uint8_t  *data,
                              size_t          size);
/* Aborts with @what when @condition is false: a broken invariant is a crash. */
void  fuzz_check             (gboolean        condition,
                              const char     *what);

G_END_DECLS
