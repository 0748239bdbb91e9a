/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-uuid"
#include "config.h"

#include <sys/random.h>

#include "tether-uuid.h"

static void
fill_random (guint8 *buf,
             gsize   len)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = getrandom (buf + done, len - done, 0);

      if (n < 0)
        g_error ("getrandom failed: %s", g_strerror (errno));
      done += n;
    }
}

static char *
format_uuid (const guint8 b[16])
{
  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                          "%02x%02x%02x%02x%02x%02x",
                          b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                          b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

gint64
tether_time_now_ms (void)
{
  return g_get_real_time () / 1000;
}

/* The 12-bit rand_a field holds a counter seeded randomly each millisecond
 * (RFC 9562 method 1), so ids from one process are strictly increasing. */
char *
tether_uuid_v7_new (void)
{
  static GMutex lock;
  static gint64 last_ms;
  static guint counter;
  guint8 b[16];
  gint64 ms = tether_time_now_ms ();

  fill_random (b, sizeof b);

  g_mutex_lock (&lock);
  if (ms <= last_ms)
    {
      counter++;
      if (counter > 0x7ff)
        {
          last_ms++;   /* borrow the next millisecond rather than repeat */
          counter = 0;
        }
      ms = last_ms;
    }
  else
    {
      last_ms = ms;
      counter = ((guint) b[6] << 8 | b[7]) & 0x3ff;
    }
  b[6] = 0x70 | ((counter >> 8) & 0x0f);
  b[7] = counter & 0xff;
  g_mutex_unlock (&lock);

  for (int i = 0; i < 6; i++)
    b[i] = (ms >> (8 * (5 - i))) & 0xff;
  b[8] = 0x80 | (b[8] & 0x3f);
  return format_uuid (b);
}

char *
tether_uuid_v4_new (void)
{
  guint8 b[16];

  fill_random (b, sizeof b);
  b[6] = 0x40 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  return format_uuid (b);
}

gboolean
tether_uuid_is_valid (const char *text)
{
  if (text == NULL)
    return FALSE;
  for (int i = 0; i < 36; i++)
    {
      if (i == 8 || i == 13 || i == 18 || i == 23)
        {
          if (text[i] != '-')
            return FALSE;
        }
      else if (!g_ascii_isxdigit (text[i]))
        return FALSE;
    }
  return text[36] == '\0';
}

char *
tether_time_format_ms (gint64 ms)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (ms / 1000);

  if (utc == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          g_date_time_get_year (utc), g_date_time_get_month (utc),
                          g_date_time_get_day_of_month (utc), g_date_time_get_hour (utc),
                          g_date_time_get_minute (utc), g_date_time_get_second (utc),
                          (int) (((ms % 1000) + 1000) % 1000));
}
