/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-limiter"
#include "config.h"

#include "tether-server-private.h"

/* Token buckets keyed by a string (a user id, a remote address). A bucket
 * holds at most `burst` tokens and gains `rate` tokens a second; a request
 * takes one. Full buckets carry no information, so they are dropped when the
 * table grows: its size stays bounded by the keys active in the last
 * burst/rate seconds. */

#define PRUNE_ABOVE 4096

typedef struct {
  double tokens;
  gint64 updated_us;
} Bucket;

struct _TetherServerLimiter
{
  double      rate;     /* tokens per second; 0: no limit */
  double      burst;
  GHashTable *buckets;  /* key → Bucket* */
  gint64      pruned_us;
};

TetherServerLimiter *
_tether_server_limiter_new (double rate,
                            double burst)
{
  TetherServerLimiter *self = g_new0 (TetherServerLimiter, 1);

  g_return_val_if_fail (rate >= 0 && burst >= 1, NULL);

  self->rate = rate;
  self->burst = burst;
  self->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
_tether_server_limiter_free (TetherServerLimiter *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->buckets);
  g_free (self);
}

static void
refill (TetherServerLimiter *self,
        Bucket              *bucket,
        gint64               now_us)
{
  double gained = (double) (now_us - bucket->updated_us) / G_USEC_PER_SEC * self->rate;

  bucket->tokens = MIN (self->burst, bucket->tokens + MAX (gained, 0));
  bucket->updated_us = now_us;
}

static void
prune (TetherServerLimiter *self,
       gint64               now_us)
{
  GHashTableIter iter;
  Bucket *bucket;

  /* At most once a second, so a table full of busy keys costs little. */
  if (g_hash_table_size (self->buckets) <= PRUNE_ABOVE || now_us - self->pruned_us < G_USEC_PER_SEC)
    return;
  self->pruned_us = now_us;
  g_hash_table_iter_init (&iter, self->buckets);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &bucket))
    {
      refill (self, bucket, now_us);
      if (bucket->tokens >= self->burst)
        g_hash_table_iter_remove (&iter);
    }
}

static Bucket *
lookup (TetherServerLimiter *self,
        const char          *key,
        gint64               now_us)
{
  Bucket *bucket = g_hash_table_lookup (self->buckets, key);

  if (bucket != NULL)
    {
      refill (self, bucket, now_us);
      return bucket;
    }
  prune (self, now_us);
  bucket = g_new (Bucket, 1);
  bucket->tokens = self->burst;
  bucket->updated_us = now_us;
  g_hash_table_insert (self->buckets, g_strdup (key), bucket);
  return bucket;
}

/* Whole seconds until the bucket holds a token again. */
static guint
wait_seconds (TetherServerLimiter *self,
              const Bucket        *bucket)
{
  double seconds = MIN ((1.0 - bucket->tokens) / self->rate, (double) G_MAXINT32);
  guint whole = (guint) seconds;

  if (whole < seconds)
    whole++;   /* rounded up: coming back after Retry-After must succeed */
  return MAX (whole, 1);
}

static guint
check (TetherServerLimiter *self,
       const char          *key,
       gboolean             take)
{
  Bucket *bucket;

  g_return_val_if_fail (self != NULL && key != NULL, 0);

  if (self->rate <= 0)
    return 0;
  bucket = lookup (self, key, g_get_monotonic_time ());
  if (bucket->tokens < 1.0)
    return wait_seconds (self, bucket);
  if (take)
    bucket->tokens -= 1.0;
  return 0;
}

guint
_tether_server_limiter_take (TetherServerLimiter *self,
                             const char          *key)
{
  return check (self, key, TRUE);
}

guint
_tether_server_limiter_peek (TetherServerLimiter *self,
                             const char          *key)
{
  return check (self, key, FALSE);
}
