/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-sync-scheduler"
#include "config.h"

#include "tether-test-util.h"
#include "tether-sync-private.h"

/* The scheduler plans on a clock the test moves by hand, so what it plans
 * (_tether_sync_scheduler_get_next_delay) is checked exactly and never
 * against how long anything took; its timers still run in real time, so
 * what is planned also fires. */

#define BASE_MS    20
#define QUIET_MS   150     /* long enough for anything planned by mistake to show */
#define TIMEOUT_MS 10000   /* a wait that takes this long has failed */

/* A network monitor the test switches on and off ------------------------------------- */

#define FAKE_TYPE_MONITOR (fake_monitor_get_type ())
G_DECLARE_FINAL_TYPE (FakeMonitor, fake_monitor, FAKE, MONITOR, GObject)

struct _FakeMonitor
{
  GObject  parent_instance;
  gboolean available;
};

enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_METERED,
  PROP_CONNECTIVITY,
};

static gboolean
fake_monitor_init_sync (GInitable     *initable,
                        GCancellable  *cancellable,
                        GError       **error)
{
  return TRUE;
}

static void
fake_monitor_initable_init (GInitableIface *iface)
{
  iface->init = fake_monitor_init_sync;
}

static void
fake_monitor_iface_init (GNetworkMonitorInterface *iface)
{
}

G_DEFINE_FINAL_TYPE_WITH_CODE (FakeMonitor, fake_monitor, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, fake_monitor_initable_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_NETWORK_MONITOR, fake_monitor_iface_init))

static void
fake_monitor_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  FakeMonitor *self = FAKE_MONITOR (object);

  switch (prop_id)
    {
    case PROP_AVAILABLE:
      g_value_set_boolean (value, self->available);
      break;
    case PROP_METERED:
      g_value_set_boolean (value, FALSE);
      break;
    case PROP_CONNECTIVITY:
      g_value_set_enum (value, self->available ? G_NETWORK_CONNECTIVITY_FULL
                                               : G_NETWORK_CONNECTIVITY_LOCAL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fake_monitor_class_init (FakeMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = fake_monitor_get_property;
  g_object_class_override_property (object_class, PROP_AVAILABLE, "network-available");
  g_object_class_override_property (object_class, PROP_METERED, "network-metered");
  g_object_class_override_property (object_class, PROP_CONNECTIVITY, "connectivity");
}

static void
fake_monitor_init (FakeMonitor *self)
{
  self->available = TRUE;
}

static void
fake_monitor_set_available (FakeMonitor *self,
                            gboolean     available)
{
  self->available = available;
  g_signal_emit_by_name (self, "network-changed", available);
}

/* Fixture ------------------------------------------------------------------------------ */

typedef struct {
  GMainContext        *context;
  FakeMonitor         *monitor;
  TetherSyncScheduler *scheduler;
  guint                fires;
  gint64               now_us;     /* the scheduler's clock */
} Fixture;

static void
on_fire (TetherSyncScheduler *scheduler,
         Fixture             *f)
{
  g_assert_true (_tether_sync_scheduler_is_running (scheduler));
  f->fires++;
}

static gint64
fixture_clock (gpointer data)
{
  return ((Fixture *) data)->now_us;
}

static void
advance (Fixture *f,
         guint    ms)
{
  f->now_us += (gint64) ms * 1000;
}

static gint64
next_delay (Fixture *f)
{
  return _tether_sync_scheduler_get_next_delay (f->scheduler);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->monitor = g_object_new (FAKE_TYPE_MONITOR, NULL);
  f->scheduler = _tether_sync_scheduler_new ();
  f->now_us = 1000 * G_USEC_PER_SEC;
  _tether_sync_scheduler_set_clock (f->scheduler, fixture_clock, f);
  _tether_sync_scheduler_set_network_monitor (f->scheduler, G_NETWORK_MONITOR (f->monitor));
  _tether_sync_scheduler_set_debounce (f->scheduler, BASE_MS);
  _tether_sync_scheduler_set_backoff_base (f->scheduler, BASE_MS);
  _tether_sync_scheduler_set_interval (f->scheduler, 0);
  g_signal_connect (f->scheduler, "fire", G_CALLBACK (on_fire), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_finalize_object (f->scheduler);
  g_assert_finalize_object (f->monitor);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterate the private context until @fires is reached or @ms have passed. */
static gboolean
run_until (Fixture *f,
           guint    fires,
           guint    ms)
{
  g_autoptr(GSource) timeout = g_timeout_source_new (ms);
  gboolean expired = FALSE;

  g_source_set_callback (timeout, set_flag, &expired, NULL);
  g_source_attach (timeout, f->context);
  while (f->fires < fires && !expired)
    g_main_context_iteration (f->context, TRUE);
  g_source_destroy (timeout);
  return f->fires >= fires;
}

static void
wait_fires (Fixture *f,
            guint    fires)
{
  if (!run_until (f, fires, TIMEOUT_MS))
    g_error ("timed out waiting for fire %u (got %u)", fires, f->fires);
}

static void
assert_quiet (Fixture *f)
{
  guint before = f->fires;

  g_assert_false (run_until (f, before + 1, QUIET_MS));
  g_assert_cmpuint (f->fires, ==, before);
}

/* Fire by hand and end the sync with @outcome. */
static void
sync_once (Fixture           *f,
           TetherSyncOutcome  outcome,
           gint64             retry_after_ms)
{
  _tether_sync_scheduler_request_now (f->scheduler);
  wait_fires (f, f->fires + 1);
  _tether_sync_scheduler_done (f->scheduler, outcome, retry_after_ms);
}

/* Tests ---------------------------------------------------------------------------------- */

/* Each write starts the debounce again, but the sync comes at the latest
 * ten debounces after the first write: steady typing still syncs. */
static void
test_debounce (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  g_assert_cmpint (next_delay (f), ==, -1);
  for (guint i = 0; i < 5; i++)
    {
      _tether_sync_scheduler_local_write (f->scheduler);
      g_assert_cmpint (next_delay (f), ==, BASE_MS);
      advance (f, BASE_MS / 4);
    }
  /* 9.5 debounces after the first write: half a debounce is left */
  advance (f, 9 * BASE_MS + BASE_MS / 2 - 5 * (BASE_MS / 4));
  _tether_sync_scheduler_local_write (f->scheduler);
  g_assert_cmpint (next_delay (f), ==, BASE_MS / 2);

  wait_fires (f, 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
  g_assert_cmpint (next_delay (f), ==, -1);

  /* the ten debounces count from the first write after a sync */
  _tether_sync_scheduler_local_write (f->scheduler);
  advance (f, 9 * BASE_MS);
  _tether_sync_scheduler_local_write (f->scheduler);
  g_assert_cmpint (next_delay (f), ==, BASE_MS);
  wait_fires (f, 2);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
}

static void
test_running_queues (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_server_push (f->scheduler);
  wait_fires (f, 1);

  /* Whatever comes in while a sync runs waits for its end. */
  _tether_sync_scheduler_local_write (f->scheduler);
  _tether_sync_scheduler_server_push (f->scheduler);
  _tether_sync_scheduler_request_now (f->scheduler);
  assert_quiet (f);
  g_assert_true (_tether_sync_scheduler_is_running (f->scheduler));
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), ==, -1);

  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  g_assert_false (_tether_sync_scheduler_is_running (f->scheduler));
  wait_fires (f, 2);

  /* The three requests were served by that one sync. */
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
}

static void
test_backoff_grows (Fixture *f, gconstpointer data)
{
  gint64 high = 0;

  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_request_now (f->scheduler);
  wait_fires (f, 1);
  for (guint n = 1; n <= 4; n++)
    {
      gint64 delay;

      _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OFFLINE, 0);
      delay = next_delay (f);
      g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, n);
      g_assert_cmpint (delay, >=, 0);
      g_assert_cmpint (delay, <=, BASE_MS << (n - 1));

      /* The retry comes by itself. */
      wait_fires (f, f->fires + 1);
    }
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_FAILED, 0);

  /* Full jitter may pick a short delay, but not five times in a row when
   * the bound is 2^7..2^11 times the first one. */
  for (guint n = 6; n <= 12; n++)
    {
      sync_once (f, TETHER_SYNC_OUTCOME_FAILED, 0);
      g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, n);
      g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), <=, BASE_MS << (n - 1));
      if (n >= 8)
        high = MAX (high, _tether_sync_scheduler_get_next_delay (f->scheduler));
    }
  g_assert_cmpint (high, >, BASE_MS);

  /* The cap: 5 minutes whatever the count. */
  _tether_sync_scheduler_set_backoff_base (f->scheduler, 60 * 1000);
  sync_once (f, TETHER_SYNC_OUTCOME_FAILED, 0);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), <=, 5 * 60 * 1000);
}

static void
test_breaker (Fixture *f, gconstpointer data)
{
  gint64 delay;

  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  for (guint n = 1; n <= 5; n++)
    {
      g_assert_false (_tether_sync_scheduler_breaker_open (f->scheduler));
      sync_once (f, TETHER_SYNC_OUTCOME_FAILED, 0);
    }
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 5);
  g_assert_true (_tether_sync_scheduler_breaker_open (f->scheduler));

  /* Open, it waits at least 30 backoff bases, however short full jitter
   * drew: the bound for a fifth failure is 16 bases. Writes while open
   * wait for the delay, then make a single trial. */
  delay = next_delay (f);
  g_assert_cmpint (delay, ==, 30 * BASE_MS);
  advance (f, BASE_MS);
  for (guint i = 0; i < 3; i++)
    _tether_sync_scheduler_local_write (f->scheduler);
  /* Not before the backoff. The debounce does not add to it: the retry the
   * last failure planned carries the writes, and full jitter may make that
   * delay shorter than the debounce. */
  g_assert_cmpint (next_delay (f), ==, delay - BASE_MS);
  wait_fires (f, f->fires + 1);
  assert_quiet (f);

  /* A failed trial keeps it open; a success closes it. */
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OFFLINE, 0);
  g_assert_true (_tether_sync_scheduler_breaker_open (f->scheduler));
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 6);
  /* 30 bases at least; full jitter's bound is 32 now */
  g_assert_cmpint (next_delay (f), >=, 30 * BASE_MS);
  g_assert_cmpint (next_delay (f), <=, BASE_MS << 5);
  sync_once (f, TETHER_SYNC_OUTCOME_OK, 0);
  g_assert_false (_tether_sync_scheduler_breaker_open (f->scheduler));
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 0);
  assert_quiet (f);
}

static void
test_auth (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  sync_once (f, TETHER_SYNC_OUTCOME_AUTH, 0);

  _tether_sync_scheduler_local_write (f->scheduler);
  _tether_sync_scheduler_server_push (f->scheduler);
  fake_monitor_set_available (f->monitor, FALSE);
  fake_monitor_set_available (f->monitor, TRUE);
  assert_quiet (f);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), ==, -1);

  /* A sync asked for by hand still runs (and is refused again). */
  sync_once (f, TETHER_SYNC_OUTCOME_AUTH, 0);
  assert_quiet (f);

  _tether_sync_scheduler_credentials_changed (f->scheduler);
  wait_fires (f, f->fires + 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  _tether_sync_scheduler_local_write (f->scheduler);
  wait_fires (f, f->fires + 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
}

/* A sync started by hand: what comes in while it runs waits for its end,
 * its failure plans a retry and its success lifts an auth stop. */
static void
test_started_by_hand (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_local_write (f->scheduler);
  _tether_sync_scheduler_started (f->scheduler);
  g_assert_true (_tether_sync_scheduler_is_running (f->scheduler));
  _tether_sync_scheduler_server_push (f->scheduler);
  assert_quiet (f);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OFFLINE, 0);
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 1);
  wait_fires (f, 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_AUTH, 0);
  _tether_sync_scheduler_local_write (f->scheduler);
  assert_quiet (f);

  /* That sync served the write held back; the next one fires. */
  _tether_sync_scheduler_started (f->scheduler);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 0);
  assert_quiet (f);
  _tether_sync_scheduler_local_write (f->scheduler);
  wait_fires (f, 2);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
}

static void
test_rate_limited (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_request_now (f->scheduler);
  wait_fires (f, 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_RATE_LIMITED, 300);
  g_assert_cmpint (next_delay (f), ==, 300);

  /* New writes do not cut the wait short. */
  advance (f, 100);
  _tether_sync_scheduler_local_write (f->scheduler);
  g_assert_cmpint (next_delay (f), ==, 200);
  wait_fires (f, 2);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
}

/* A Retry-After past an hour counts as an hour; one past 64 bits of
 * microseconds does not wrap round to "now". */
static void
test_rate_limited_bounded (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  sync_once (f, TETHER_SYNC_OUTCOME_RATE_LIMITED, G_MAXINT64);
  g_assert_cmpint (next_delay (f), ==, 3600 * 1000);
  assert_quiet (f);
}

static void
test_disabled (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_interval (f->scheduler, 1);
  _tether_sync_scheduler_local_write (f->scheduler);
  _tether_sync_scheduler_server_push (f->scheduler);
  assert_quiet (f);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), ==, -1);

  /* Only a request by hand fires, and a failure brings no retry. */
  sync_once (f, TETHER_SYNC_OUTCOME_FAILED, 0);
  g_assert_cmpuint (f->fires, ==, 1);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), ==, -1);
  assert_quiet (f);

  /* Turning it off again after on drops the interval. */
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_set_enabled (f->scheduler, FALSE);
  assert_quiet (f);
}

static void
test_interval (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_interval (f->scheduler, 1);
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  g_assert_cmpint (next_delay (f), ==, 1000);
  wait_fires (f, 1);

  /* The next one counts from the end of the sync. */
  advance (f, 1000 + 250);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  g_assert_cmpint (next_delay (f), ==, 1000);
  _tether_sync_scheduler_set_enabled (f->scheduler, FALSE);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (f->scheduler), ==, -1);
}

static void
test_network_back (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);

  /* A healthy link that changes routes does not sync. */
  fake_monitor_set_available (f->monitor, TRUE);
  assert_quiet (f);

  /* Long delays: no retry of these failures comes within the test. */
  _tether_sync_scheduler_set_backoff_base (f->scheduler, 60 * 1000);
  for (guint n = 0; n < 5; n++)
    sync_once (f, TETHER_SYNC_OUTCOME_OFFLINE, 0);
  g_assert_true (_tether_sync_scheduler_breaker_open (f->scheduler));

  fake_monitor_set_available (f->monitor, FALSE);
  fake_monitor_set_available (f->monitor, TRUE);
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 0);
  g_assert_false (_tether_sync_scheduler_breaker_open (f->scheduler));
  g_assert_cmpint (next_delay (f), ==, 0);
  wait_fires (f, 6);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
}

/* Route churn on a link that works says nothing of why syncs failed: the
 * backoff stays. A network that comes back resets it, but not the
 * server's Retry-After. */
static void
test_network_churn (Fixture *f, gconstpointer data)
{
  _tether_sync_scheduler_set_enabled (f->scheduler, TRUE);
  _tether_sync_scheduler_set_backoff_base (f->scheduler, 60 * 1000);
  sync_once (f, TETHER_SYNC_OUTCOME_OFFLINE, 0);
  sync_once (f, TETHER_SYNC_OUTCOME_OFFLINE, 0);
  fake_monitor_set_available (f->monitor, TRUE);
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 2);

  _tether_sync_scheduler_set_backoff_base (f->scheduler, BASE_MS);
  _tether_sync_scheduler_request_now (f->scheduler);
  wait_fires (f, f->fires + 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_RATE_LIMITED, 400);
  advance (f, 100);
  fake_monitor_set_available (f->monitor, FALSE);
  fake_monitor_set_available (f->monitor, TRUE);
  g_assert_cmpuint (_tether_sync_scheduler_get_failures (f->scheduler), ==, 0);
  g_assert_cmpint (next_delay (f), ==, 300);
  wait_fires (f, f->fires + 1);
  _tether_sync_scheduler_done (f->scheduler, TETHER_SYNC_OUTCOME_OK, 0);
  assert_quiet (f);
}

static void
count_fire (TetherSyncScheduler *scheduler,
            guint               *fires)
{
  (*fires)++;
}

static void
test_dispose (Fixture *f, gconstpointer data)
{
  TetherSyncScheduler *scheduler = _tether_sync_scheduler_new ();
  guint fires = 0;

  _tether_sync_scheduler_set_network_monitor (scheduler, G_NETWORK_MONITOR (f->monitor));
  _tether_sync_scheduler_set_debounce (scheduler, 1);
  _tether_sync_scheduler_set_enabled (scheduler, TRUE);
  g_signal_connect (scheduler, "fire", G_CALLBACK (count_fire), &fires);
  _tether_sync_scheduler_local_write (scheduler);
  _tether_sync_scheduler_request_now (scheduler);
  g_assert_cmpint (_tether_sync_scheduler_get_next_delay (scheduler), >=, 0);

  /* Its timer and its monitor handler go with it. */
  g_assert_finalize_object (scheduler);
  fake_monitor_set_available (f->monitor, FALSE);
  fake_monitor_set_available (f->monitor, TRUE);
  assert_quiet (f);
  g_assert_cmpuint (fires, ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/tether/sync/scheduler/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("debounce", test_debounce);
  ADD ("running-queues", test_running_queues);
  ADD ("backoff-grows", test_backoff_grows);
  ADD ("breaker", test_breaker);
  ADD ("auth", test_auth);
  ADD ("started-by-hand", test_started_by_hand);
  ADD ("rate-limited", test_rate_limited);
  ADD ("rate-limited-bounded", test_rate_limited_bounded);
  ADD ("disabled", test_disabled);
  ADD ("interval", test_interval);
  ADD ("network-back", test_network_back);
  ADD ("network-churn", test_network_churn);
  ADD ("dispose", test_dispose);

#undef ADD

  return g_test_run ();
}
