/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-hlc"
#include "config.h"

#include <string.h>

#include "tether-hlc.h"
#include "tether-uuid.h"

#define MS_DIGITS      13
#define COUNTER_DIGITS 4
#define MAX_MS         G_GINT64_CONSTANT (9999999999999)

struct _TetherHlc {
  char    *node;
  /* The greatest value handed out or observed; last == NULL before any. */
  char    *last;
  gint64   last_ms;
  guint    last_counter;
  gint64 (*now_ms) (gpointer data);
  gpointer now_data;
};

TetherHlc *
tether_hlc_new (const char *node)
{
  TetherHlc *self;

  g_return_val_if_fail (node != NULL && *node != '\0', NULL);

  self = g_new0 (TetherHlc, 1);
  self->node = g_strdup (node);
  return self;
}

void
tether_hlc_free (TetherHlc *self)
{
  if (self == NULL)
    return;
  g_free (self->node);
  g_free (self->last);
  g_free (self);
}

const char *
tether_hlc_get_node (TetherHlc *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->node;
}

void
tether_hlc_set_clock (TetherHlc *self,
                      gint64   (*now_ms) (gpointer data),
                      gpointer   data)
{
  g_return_if_fail (self != NULL);

  self->now_ms = now_ms;
  self->now_data = data;
}

static gint64
wall_ms (TetherHlc *self)
{
  if (self->now_ms != NULL)
    return self->now_ms (self->now_data);
  return tether_time_now_ms ();
}

static void
set_last (TetherHlc  *self,
          gint64      ms,
          guint       counter,
          const char *node)
{
  g_free (self->last);
  self->last = tether_hlc_format (ms, counter, node);
  self->last_ms = ms;
  self->last_counter = counter;
}

char *
tether_hlc_tick (TetherHlc *self)
{
  gint64 now;

  g_return_val_if_fail (self != NULL, NULL);

  now = CLAMP (wall_ms (self), 0, MAX_MS);
  if (self->last == NULL || now > self->last_ms)
    set_last (self, now, 0, self->node);
  else if (self->last_counter < TETHER_HLC_MAX_COUNTER)
    set_last (self, self->last_ms, self->last_counter + 1, self->node);
  else if (self->last_ms < MAX_MS)
    /* Borrow the next millisecond rather than wrap the counter. */
    set_last (self, self->last_ms + 1, 0, self->node);
  /* else the end of the format: stay there rather than fail every write */

  return g_strdup (self->last);
}

gboolean
tether_hlc_observe (TetherHlc  *self,
                    const char *remote)
{
  gint64 ms, limit;
  guint counter;
  const char *node;

  g_return_val_if_fail (self != NULL, FALSE);

  if (!tether_hlc_parse (remote, &ms, &counter, &node))
    return FALSE;
  limit = MIN (CLAMP (wall_ms (self), 0, MAX_MS) + TETHER_HLC_MAX_AHEAD_MS, MAX_MS);
  if (ms > limit)
    {
      /* A clock far ahead (or a forged hlc) would drag every later local
       * edit with it, up to the end of the format; an hour is as far as
       * the server lets one go. */
      if (self->last == NULL || limit > self->last_ms)
        set_last (self, limit, 0, self->node);
      return TRUE;
    }
  /* Keeping the remote's own text (with its node) makes the next tick
   * strictly greater than it, whatever the two nodes compare as. */
  if (tether_hlc_compare (remote, self->last) > 0)
    set_last (self, ms, counter, node);
  return TRUE;
}

char *
tether_hlc_dup_last (TetherHlc *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_strdup (self->last);
}

static gboolean
is_lower_xdigit (char c)
{
  return g_ascii_isdigit (c) || (c >= 'a' && c <= 'f');
}

/* Only the exact canonical form is accepted: anything else would not sort
 * in clock order with strcmp(). */
gboolean
tether_hlc_parse (const char  *text,
                  gint64      *ms,
                  guint       *counter,
                  const char **node)
{
  gint64 parsed_ms = 0;
  guint parsed_counter = 0;

  if (text == NULL || strlen (text) < MS_DIGITS + COUNTER_DIGITS + 3)
    return FALSE;
  for (int i = 0; i < MS_DIGITS; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      parsed_ms = parsed_ms * 10 + (text[i] - '0');
    }
  if (text[MS_DIGITS] != '-' || text[MS_DIGITS + COUNTER_DIGITS + 1] != '-')
    return FALSE;
  for (int i = MS_DIGITS + 1; i <= MS_DIGITS + COUNTER_DIGITS; i++)
    {
      if (!is_lower_xdigit (text[i]))
        return FALSE;
      parsed_counter = parsed_counter * 16 + g_ascii_xdigit_value (text[i]);
    }

  if (ms != NULL)
    *ms = parsed_ms;
  if (counter != NULL)
    *counter = parsed_counter;
  if (node != NULL)
    *node = text + MS_DIGITS + COUNTER_DIGITS + 2;
  return TRUE;
}

char *
tether_hlc_format (gint64      ms,
                   guint       counter,
                   const char *node)
{
  g_return_val_if_fail (ms >= 0 && ms <= MAX_MS, NULL);
  g_return_val_if_fail (counter <= TETHER_HLC_MAX_COUNTER, NULL);
  g_return_val_if_fail (node != NULL && *node != '\0', NULL);

  return g_strdup_printf ("%013" G_GINT64_FORMAT "-%04x-%s", ms, counter, node);
}

int
tether_hlc_compare (const char *a,
                    const char *b)
{
  if (a == NULL || b == NULL)
    return (a != NULL) - (b != NULL);
  return strcmp (a, b);
}
