/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Seeded runs that can be replayed: the seed, kill and soak options of the
 * reliability tests, taken out of argv before GTest sees it, and the line
 * that says how to replay a run when it dies on an assertion. Written for
 * the crash tests; the convergence tests' options (--rounds, --soak MIN,
 * --client N, --dir PATH) fit the same table. */

typedef enum {
  SEED_OPTION_FLAG,     /* gboolean *: TRUE when present */
  SEED_OPTION_UINT,     /* guint *: the next argument, in decimal */
  SEED_OPTION_INT,      /* int *: the same, signed */
  SEED_OPTION_STRING,   /* char **: the next argument itself (argv keeps it) */
} SeedOptionKind;

typedef struct {
  const char     *name;    /* "--seed"; NULL ends a table */
  SeedOptionKind  kind;
  gpointer        value;
  gboolean       *given;   /* set to TRUE when the option is present; may be NULL */
  const char     *env;     /* a variable that sets the value when the option is absent; may be NULL */
} SeedOption;

/* Takes the options of @options out of @argc/@argv, setting their values;
 * any other argument stays, in order. */
void seed_options_parse (int              *argc,
                         char           ***argv,
                         const SeedOption *options);

/* The crash tests' options: `--seed N` (or TETHER_SEED), `--kills N`, and
 * `--soak`, which makes the kills @soak_kills unless --kills says. @more:
 * options of the test's own (a NULL-ended table), or NULL. */
void seed_parse_kills   (int              *argc,
                         char           ***argv,
                         guint32          *seed,
                         guint            *kills,
                         guint             soak_kills,
                         const SeedOption *more);

/* From now on a SIGABRT or SIGTRAP (a failed assertion, g_error) first
 * writes this line (a newline is added) to stderr: the seed and the
 * command that replays the run, since the test log may not show them. */
void seed_replay_on_abort (const char *format,
                           ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
