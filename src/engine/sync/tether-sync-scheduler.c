/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-sync-scheduler"
#include "config.h"

#include "tether-sync-private.h"

#define DEFAULT_DEBOUNCE_MS     1000
#define DEFAULT_INTERVAL_S      60
#define DEFAULT_BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS          (5 * 60 * 1000)
#define BREAKER_THRESHOLD       5
/* Once open, the breaker stays open at least this many backoff bases
 * (30 s by default, at most the cap), whatever full jitter draws. */
#define BREAKER_OPEN_BASES      30
/* Steady writes (typing) must not postpone a sync forever. */
#define DEBOUNCE_MAX_FACTOR     10

/* All times are µs of the clock, g_get_monotonic_time() unless a test set
 * another; 0 stands for "not pending". */
struct _TetherSyncScheduler
{
  GObject          parent_instance;

  TetherSyncClock  clock;
  gpointer         clock_data;

  GMainContext    *context;
  GSource         *timer;
  gint64           timer_due;

  GNetworkMonitor *monitor;
  gulong           network_changed_id;
  gboolean         network_available;

  gboolean         enabled;
  guint            interval_s;
  guint            debounce_ms;
  guint            backoff_base_ms;

  gboolean         running;
  gboolean         auth_blocked;
  guint            failures;
  gint64           backoff_until;
  gint64           retry_until;     /* the server's Retry-After: outlives a backoff reset */

  /* Why a sync is wanted. One sync serves them all, so a fire clears them. */
  gboolean         forced;
  gint64           write_first;
  gint64           write_due;
  gint64           soon_due;
  gint64           interval_due;
};

G_DEFINE_FINAL_TYPE (TetherSyncScheduler, tether_sync_scheduler, G_TYPE_OBJECT)

enum {
  FIRE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void reschedule (TetherSyncScheduler *self);

static gint64
now_us (TetherSyncScheduler *self)
{
  return self->clock != NULL ? self->clock (self->clock_data) : g_get_monotonic_time ();
}

static gint64
earliest (gint64 a,
          gint64 b)
{
  if (a == 0 || b == 0)
    return a != 0 ? a : b;
  return MIN (a, b);
}

/* The next attempt, or 0 when none is planned. */
static gint64
next_due (TetherSyncScheduler *self)
{
  gint64 due;

  if (self->running)
    return 0;
  if (self->forced)
    return now_us (self);
  if (!self->enabled || self->auth_blocked)
    return 0;

  due = earliest (earliest (self->write_due, self->soon_due), self->interval_due);
  return due != 0 ? MAX (MAX (due, self->backoff_until), self->retry_until) : 0;
}

static void
clear_timer (TetherSyncScheduler *self)
{
  if (self->timer != NULL)
    g_source_destroy (self->timer);
  g_clear_pointer (&self->timer, g_source_unref);
  self->timer_due = 0;
}

/* One sync serves every reason waiting when it starts. */
static void
clear_reasons (TetherSyncScheduler *self)
{
  self->forced = FALSE;
  self->write_first = self->write_due = 0;
  self->soon_due = self->interval_due = 0;
}

static void
fire (TetherSyncScheduler *self)
{
  clear_reasons (self);
  self->running = TRUE;

  g_debug ("firing (failures: %u)", self->failures);
  g_signal_emit (self, signals[FIRE], 0);
}

static gboolean
on_timer (gpointer data)
{
  g_autoptr(TetherSyncScheduler) self = g_object_ref (data);

  /* The source is destroyed once this returns; a handler of "fire" that
   * calls _done() at once may plan the next one meanwhile. */
  g_clear_pointer (&self->timer, g_source_unref);
  self->timer_due = 0;
  fire (self);
  return G_SOURCE_REMOVE;
}

static void
reschedule (TetherSyncScheduler *self)
{
  gint64 due = next_due (self);
  gint64 delay_ms;

  if (self->timer != NULL && due == self->timer_due)
    return;
  clear_timer (self);
  if (due == 0)
    return;

  delay_ms = MAX (0, (due - now_us (self) + 999) / 1000);
  self->timer = g_timeout_source_new ((guint) MIN (delay_ms, G_MAXUINT));
  self->timer_due = due;
  g_source_set_static_name (self->timer, "[tether] sync scheduler");
  g_source_set_callback (self->timer, on_timer, self, NULL);
  g_source_attach (self->timer, self->context);
}

static void
arm_interval (TetherSyncScheduler *self)
{
  if (self->enabled && self->interval_s > 0)
    self->interval_due = now_us (self) + (gint64) self->interval_s * G_USEC_PER_SEC;
  else
    self->interval_due = 0;
}

static void
reset_backoff (TetherSyncScheduler *self)
{
  self->failures = 0;
  self->backoff_until = 0;
}

/* Full jitter: uniform in [0, base * 2^(n-1)], the bound capped. It may
 * draw next to nothing after any number of failures, so once the breaker
 * is open the wait has a floor: a server that keeps failing is left alone
 * for a while. */
static gint64
backoff_delay_ms (TetherSyncScheduler *self)
{
  guint shift = MIN (self->failures - 1, 30);
  gint64 bound = MIN ((gint64) self->backoff_base_ms << shift, BACKOFF_CAP_MS);
  gint64 delay = g_random_int_range (0, (gint32) bound + 1);

  if (self->failures >= BREAKER_THRESHOLD)
    delay = MAX (delay, MIN ((gint64) self->backoff_base_ms * BREAKER_OPEN_BASES, BACKOFF_CAP_MS));
  return delay;
}

static void
on_network_changed (GNetworkMonitor     *monitor,
                    gboolean             available,
                    TetherSyncScheduler *self)
{
  gboolean was_available = self->network_available;

  self->network_available = available;
  /* Only a network that was gone and is back is news: route churn and
   * address changes on a working link say nothing of why syncs failed.
   * The server's Retry-After stands either way (next_due). */
  if (!available || was_available)
    return;

  g_debug ("network is back, retrying");
  reset_backoff (self);
  self->soon_due = now_us (self);
  reschedule (self);
}

static void
connect_monitor (TetherSyncScheduler *self,
                 GNetworkMonitor     *monitor)
{
  if (self->monitor != NULL)
    g_clear_signal_handler (&self->network_changed_id, self->monitor);
  g_set_object (&self->monitor, monitor);
  if (monitor == NULL)
    return;

  self->network_available = g_network_monitor_get_network_available (monitor);
  self->network_changed_id = g_signal_connect (monitor, "network-changed",
                                               G_CALLBACK (on_network_changed), self);
}

/* The system's monitor is taken only once auto-sync is on, so a scheduler
 * that never fires on its own never talks to it. */
static void
ensure_monitor (TetherSyncScheduler *self)
{
  if (self->monitor == NULL)
    connect_monitor (self, g_network_monitor_get_default ());
}

static void
tether_sync_scheduler_dispose (GObject *object)
{
  TetherSyncScheduler *self = TETHER_SYNC_SCHEDULER (object);

  clear_timer (self);
  connect_monitor (self, NULL);

  G_OBJECT_CLASS (tether_sync_scheduler_parent_class)->dispose (object);
}

static void
tether_sync_scheduler_finalize (GObject *object)
{
  TetherSyncScheduler *self = TETHER_SYNC_SCHEDULER (object);

  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (tether_sync_scheduler_parent_class)->finalize (object);
}

static void
tether_sync_scheduler_class_init (TetherSyncSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_sync_scheduler_dispose;
  object_class->finalize = tether_sync_scheduler_finalize;

  signals[FIRE] = g_signal_new ("fire", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
tether_sync_scheduler_init (TetherSyncScheduler *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->interval_s = DEFAULT_INTERVAL_S;
  self->debounce_ms = DEFAULT_DEBOUNCE_MS;
  self->backoff_base_ms = DEFAULT_BACKOFF_BASE_MS;
  self->network_available = TRUE;
}

TetherSyncScheduler *
_tether_sync_scheduler_new (void)
{
  return g_object_new (TETHER_TYPE_SYNC_SCHEDULER, NULL);
}

void
_tether_sync_scheduler_set_enabled (TetherSyncScheduler *self,
                                    gboolean             enabled)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  enabled = !!enabled;
  if (self->enabled == enabled)
    return;
  self->enabled = enabled;
  if (enabled)
    ensure_monitor (self);
  arm_interval (self);
  reschedule (self);
}

void
_tether_sync_scheduler_set_interval (TetherSyncScheduler *self,
                                     guint                seconds)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->interval_s = seconds;
  if (!self->running)
    arm_interval (self);
  reschedule (self);
}

void
_tether_sync_scheduler_set_debounce (TetherSyncScheduler *self,
                                     guint                ms)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->debounce_ms = ms;
}

void
_tether_sync_scheduler_set_backoff_base (TetherSyncScheduler *self,
                                         guint                ms)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));
  g_return_if_fail (ms > 0);

  self->backoff_base_ms = ms;
}

void
_tether_sync_scheduler_set_clock (TetherSyncScheduler *self,
                                  TetherSyncClock      clock,
                                  gpointer             data)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->clock = clock;
  self->clock_data = data;
}

void
_tether_sync_scheduler_set_network_monitor (TetherSyncScheduler *self,
                                            GNetworkMonitor     *monitor)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));
  g_return_if_fail (monitor == NULL || G_IS_NETWORK_MONITOR (monitor));

  connect_monitor (self, monitor);
  if (monitor == NULL && self->enabled)
    ensure_monitor (self);
}

void
_tether_sync_scheduler_local_write (TetherSyncScheduler *self)
{
  gint64 now = now_us (self);
  gint64 debounce;

  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  debounce = (gint64) self->debounce_ms * 1000;
  if (self->write_first == 0)
    self->write_first = now;
  self->write_due = MIN (now + debounce, self->write_first + DEBOUNCE_MAX_FACTOR * debounce);
  reschedule (self);
}

void
_tether_sync_scheduler_server_push (TetherSyncScheduler *self)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->soon_due = earliest (self->soon_due, now_us (self));
  reschedule (self);
}

void
_tether_sync_scheduler_request_now (TetherSyncScheduler *self)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->forced = TRUE;
  reschedule (self);
}

/* The server's wish, kept apart from the backoff. Bounded here too: a
 * transport of someone else's may pass any figure. */
static gint64
keep_retry_after (TetherSyncScheduler *self,
                  gint64               retry_after_ms)
{
  retry_after_ms = CLAMP (retry_after_ms, 0, TETHER_RETRY_AFTER_MAX_MS);
  if (retry_after_ms > 0)
    self->retry_until = MAX (self->retry_until, now_us (self) + retry_after_ms * 1000);
  return retry_after_ms;
}

static void
record_failure (TetherSyncScheduler *self,
                gint64               retry_after_ms)
{
  gint64 delay_ms;

  self->failures++;
  delay_ms = backoff_delay_ms (self);
  self->backoff_until = now_us (self) + delay_ms * 1000;
  delay_ms = MAX (delay_ms, keep_retry_after (self, retry_after_ms));
  /* The sync did not finish: try again once the backoff has passed. */
  self->soon_due = earliest (self->soon_due, now_us (self));

  g_debug ("sync failed %u time(s) in a row, next attempt in %" G_GINT64_FORMAT " ms",
           self->failures, delay_ms);
}

/* A sync started elsewhere (by hand) serves every reason waiting now, and
 * whatever comes in while it runs waits for its end, as after a fire. */
void
_tether_sync_scheduler_started (TetherSyncScheduler *self)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  if (self->running)
    return;
  clear_reasons (self);
  self->running = TRUE;
  reschedule (self);
}

void
_tether_sync_scheduler_done (TetherSyncScheduler *self,
                             TetherSyncOutcome    outcome,
                             gint64               retry_after_ms)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->running = FALSE;
  switch (outcome)
    {
    case TETHER_SYNC_OUTCOME_OK:
      reset_backoff (self);
      self->retry_until = 0;
      self->auth_blocked = FALSE;
      break;
    case TETHER_SYNC_OUTCOME_OFFLINE:
    case TETHER_SYNC_OUTCOME_FAILED:
      record_failure (self, 0);
      break;
    case TETHER_SYNC_OUTCOME_RATE_LIMITED:
      record_failure (self, retry_after_ms);
      break;
    case TETHER_SYNC_OUTCOME_AUTH:
      self->auth_blocked = TRUE;
      break;
    case TETHER_SYNC_OUTCOME_CANCELLED:
      /* A window closed on it, or new credentials cut it short: nothing
       * to count, and what it did not do is still to do. A rate limit
       * met on the way still stands. */
      keep_retry_after (self, retry_after_ms);
      self->soon_due = earliest (self->soon_due, now_us (self));
      break;
    default:
      g_return_if_reached ();
    }

  arm_interval (self);
  reschedule (self);
}

void
_tether_sync_scheduler_credentials_changed (TetherSyncScheduler *self)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->auth_blocked = FALSE;
  reset_backoff (self);
  self->soon_due = earliest (self->soon_due, now_us (self));
  reschedule (self);
}

/* A Retry-After is the server's that sent it: pointed at another, auto-sync
 * does not wait it out (an hour from an old server would hold the new
 * one's first sync as long). A new token for the same server keeps it. */
void
_tether_sync_scheduler_server_changed (TetherSyncScheduler *self)
{
  g_return_if_fail (TETHER_IS_SYNC_SCHEDULER (self));

  self->retry_until = 0;
  reschedule (self);
}

gboolean
_tether_sync_scheduler_is_running (TetherSyncScheduler *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_SCHEDULER (self), FALSE);

  return self->running;
}

guint
_tether_sync_scheduler_get_failures (TetherSyncScheduler *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_SCHEDULER (self), 0);

  return self->failures;
}

gboolean
_tether_sync_scheduler_breaker_open (TetherSyncScheduler *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_SCHEDULER (self), FALSE);

  return self->failures >= BREAKER_THRESHOLD;
}

gint64
_tether_sync_scheduler_get_next_delay (TetherSyncScheduler *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC_SCHEDULER (self), -1);

  if (self->timer == NULL)
    return -1;
  return MAX (0, (self->timer_due - now_us (self) + 999) / 1000);
}
