/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-seed"
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tether-test-seed.h"

/* Written by the signal handler, so it is formatted beforehand. */
static char replay_line[512];

static void
set_value (const SeedOption *option,
           const char       *text)
{
  switch (option->kind)
    {
    case SEED_OPTION_FLAG:
      *(gboolean *) option->value = TRUE;
      break;
    case SEED_OPTION_UINT:
      *(guint *) option->value = (guint) g_ascii_strtoull (text, NULL, 10);
      break;
    case SEED_OPTION_INT:
      *(int *) option->value = (int) g_ascii_strtoll (text, NULL, 10);
      break;
    case SEED_OPTION_STRING:
      *(const char **) option->value = text;
      break;
    default:
      g_assert_not_reached ();
    }
  if (option->given != NULL)
    *option->given = TRUE;
}

/* The option named @arg; NULL when there is none, or when it wants a value
 * and @arg is the last argument. */
static const SeedOption *
find_option (const SeedOption *options,
             const char       *arg,
             gboolean          last)
{
  for (const SeedOption *option = options; option->name != NULL; option++)
    if (g_str_equal (option->name, arg))
      return option->kind != SEED_OPTION_FLAG && last ? NULL : option;
  return NULL;
}

void
seed_options_parse (int              *argc,
                    char           ***argv,
                    const SeedOption *options)
{
  int out = 1;

  for (const SeedOption *option = options; option->name != NULL; option++)
    if (option->env != NULL && g_getenv (option->env) != NULL)
      set_value (option, g_getenv (option->env));
  for (int i = 1; i < *argc; i++)
    {
      const SeedOption *option = find_option (options, (*argv)[i], i + 1 == *argc);

      if (option == NULL)
        (*argv)[out++] = (*argv)[i];
      else if (option->kind == SEED_OPTION_FLAG)
        set_value (option, NULL);
      else
        set_value (option, (*argv)[++i]);
    }
  (*argv)[out] = NULL;
  *argc = out;
}

void
seed_parse_kills (int              *argc,
                  char           ***argv,
                  guint32          *seed,
                  guint            *kills,
                  guint             soak_kills,
                  const SeedOption *more)
{
  gboolean soak = FALSE, counted = FALSE;
  const SeedOption options[] = {
    { "--seed", SEED_OPTION_UINT, seed, NULL, "TETHER_SEED" },
    { "--kills", SEED_OPTION_UINT, kills, &counted, NULL },
    { "--soak", SEED_OPTION_FLAG, &soak, NULL, NULL },
    { NULL, },
  };

  G_STATIC_ASSERT (sizeof (guint32) == sizeof (guint));
  if (more != NULL)
    seed_options_parse (argc, argv, more);
  seed_options_parse (argc, argv, options);
  if (soak && !counted)
    *kills = soak_kills;
}

static void
print_replay (int signum)
{
  /* only write(2) is safe here */
  ssize_t ignored = write (STDERR_FILENO, replay_line, strlen (replay_line));

  (void) ignored;
  signal (signum, SIG_DFL);
  raise (signum);
}

void
seed_replay_on_abort (const char *format,
                      ...)
{
  g_autofree char *line = NULL;
  va_list ap;

  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_snprintf (replay_line, sizeof replay_line, "%s\n", line);
  signal (SIGABRT, print_replay);
  signal (SIGTRAP, print_replay);
}
