/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <stdio.h>

#include <sqlite3.h>

#include "tether-cli-private.h"

/* The sync commands: one sync, and the devtools over the change log
 * (docs/sync.md). They print lines for people; inspect and conflicts print
 * JSON with --json. The remote is in tether-cli-remote.c. */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* Asked on a read-only connection of our own, as the engine offers no way
 * to ask: a sync engine would create the sync tables, switching change
 * tracking on for good and logging every record as a change to push. */
gboolean
_tether_cli_sync_is_set_up (TetherCli  *cli,
                            gboolean   *set_up,
                            GError    **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);
  g_autoptr(sqlite3) handle = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  const char *path;
  int rc;

  if (db == NULL)
    return FALSE;
  path = tether_database_get_path (db);
  *set_up = FALSE;
  if (g_str_equal (path, ":memory:"))
    return TRUE;
  rc = sqlite3_open_v2 (path, &handle, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout (handle, 5000);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (handle, "SELECT 1 FROM sqlite_master "
                                     "WHERE type = 'table' AND name = '_tether_changes'", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  *set_up = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW || rc == SQLITE_DONE)
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "%s: cannot tell whether sync is set up: %s", path,
               handle != NULL ? sqlite3_errmsg (handle) : sqlite3_errstr (rc));
  return FALSE;
}

TetherSyncEngine *
_tether_cli_open_sync (TetherCli  *cli,
                       GError    **error)
{
  gboolean set_up;

  if (!_tether_cli_sync_is_set_up (cli, &set_up, error))
    return NULL;
  if (set_up)
    return tether_sync_engine_new (cli->db, error);
  g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED, TETHER_CLI_NOT_SET_UP);
  return NULL;
}

TetherSyncEngine *
_tether_cli_set_up_sync (TetherCli  *cli,
                         GError    **error)
{
  TetherDatabase *db = _tether_cli_open (cli, error);

  return db != NULL ? tether_sync_engine_new (db, error) : NULL;
}

static gboolean
usage_error (GError     **error,
             const char  *message)
{
  g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_USAGE, message);
  return FALSE;
}

/* Remote ---------------------------------------------------------------------- */

gboolean
_tether_cli_load_remote (TetherSyncEngine  *engine,
                         char             **url,
                         char             **token,
                         GError           **error)
{
  tether_sync_engine_load_remote (engine, url, token);
  if (*url != NULL)
    return TRUE;
  g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED, TETHER_CLI_NO_REMOTE);
  return FALSE;
}

/* Sync ------------------------------------------------------------------------ */

static const char *
plural (guint       n,
        const char *one,
        const char *many)
{
  return n == 1 ? one : many;
}

char *
_tether_cli_describe_report (const TetherSyncReport *report)
{
  return g_strdup_printf ("pushed %u %s (%u accepted, %u %s, %u rejected), "
                          "pulled %u (%u applied, %u skipped, %u merged) in %" G_GINT64_FORMAT " ms",
                          report->pushed, plural (report->pushed, "change", "changes"),
                          report->accepted, report->conflicts,
                          plural (report->conflicts, "conflict", "conflicts"), report->rejected,
                          report->pulled, report->applied, report->skipped, report->merged,
                          report->duration_ms);
}

/* The changes that failed in this sync: refused by the server, or out of
 * retries (an answer that did not mention them, a conflict that kept
 * moving), which the report does not count as rejected. */
static gboolean
check_failed (const TetherSyncReport  *report,
              guint                    failed_before,
              guint                    failed_after,
              GError                 **error)
{
  guint failed_now = failed_after > failed_before ? failed_after - failed_before : 0;
  guint out_of_retries = failed_now > report->rejected ? failed_now - report->rejected : 0;
  guint total = report->rejected + out_of_retries;
  g_autofree char *what = NULL;

  if (total == 0)
    return TRUE;
  if (out_of_retries == 0)
    what = g_strdup_printf ("the server rejected %u %s", report->rejected,
                            plural (report->rejected, "change", "changes"));
  else if (report->rejected == 0)
    what = g_strdup_printf ("%u %s ran out of retries (the server never took %s)", out_of_retries,
                            plural (out_of_retries, "change", "changes"),
                            plural (out_of_retries, "it", "them"));
  else
    what = g_strdup_printf ("the server rejected %u %s and %u more ran out of retries", report->rejected,
                            plural (report->rejected, "change", "changes"), out_of_retries);
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "%s: see tether inspect; tether retry-failed sends %s again",
               what, plural (total, "it", "them"));
  return FALSE;
}

gboolean
_tether_cli_sync (TetherCli      *cli,
                  TetherCliArgs  *args,
                  GError        **error)
{
  g_autoptr(TetherSyncEngine) engine = _tether_cli_open_sync (cli, error);
  g_autofree char *url = NULL;
  g_autofree char *token = NULL;
  g_autofree char *line = NULL;
  TetherSyncReport report = { 0 };
  guint failed_before, failed;

  if (engine == NULL || !_tether_cli_load_remote (engine, &url, &token, error))
    return FALSE;
  tether_sync_engine_set_remote (engine, url, token);
  failed_before = tether_sync_engine_get_failed_count (engine);
  if (!tether_sync_engine_sync (engine, &report, error))
    {
      g_prefix_error (error, "sync with %s failed: ", url);
      return FALSE;
    }
  line = _tether_cli_describe_report (&report);
  _tether_cli_print_text (line);
  /* A change that failed in this sync fails the command, so a script can
   * tell; one that failed earlier and is still in the queue is only
   * mentioned. */
  failed = tether_sync_engine_get_failed_count (engine);
  if (!check_failed (&report, failed_before, failed, error))
    return FALSE;
  if (failed > 0)
    fprintf (stdout, "%u %s failed in an earlier sync: see tether inspect; tether retry-failed sends %s again\n",
             failed, plural (failed, "change", "changes"), plural (failed, "it", "them"));
  return TRUE;
}

/* The queue ------------------------------------------------------------------- */

typedef gint (*CountFunc) (TetherSyncEngine  *engine,
                           GError           **error);

/* What @func returns on the database's engine; -1 on error. */
static gint
count_with (TetherCli  *cli,
            CountFunc   func,
            GError    **error)
{
  g_autoptr(TetherSyncEngine) engine = _tether_cli_open_sync (cli, error);

  return engine != NULL ? func (engine, error) : -1;
}

gboolean
_tether_cli_retry_failed (TetherCli      *cli,
                          TetherCliArgs  *args,
                          GError        **error)
{
  gint count = count_with (cli, tether_sync_engine_retry_failed, error);

  if (count >= 0)
    fprintf (stdout, "%d failed %s back to pending\n", count, plural (count, "change", "changes"));
  return count >= 0;
}

gboolean
_tether_cli_compact (TetherCli      *cli,
                     TetherCliArgs  *args,
                     GError        **error)
{
  gint removed = count_with (cli, tether_sync_engine_compact, error);

  if (removed >= 0)
    fprintf (stdout, "removed %d %s from the queue\n", removed, plural (removed, "change", "changes"));
  return removed >= 0;
}

gboolean
_tether_cli_discard (TetherCli      *cli,
                     TetherCliArgs  *args,
                     GError        **error)
{
  g_autoptr(TetherSyncEngine) engine = _tether_cli_open_sync (cli, error);

  if (engine == NULL || !tether_sync_engine_discard (engine, ARG (args, 0), error))
    return FALSE;
  fprintf (stdout, "discarded change %s\n", ARG (args, 0));
  return TRUE;
}

/* Conflicts ----------------------------------------------------------------------- */

static gboolean
conflicts_restore (TetherSyncEngine  *engine,
                   const char        *id,
                   GError           **error)
{
  g_autoptr(TetherConflict) conflict = tether_sync_engine_get_conflict (engine, id, error);

  if (conflict == NULL || !tether_sync_engine_restore_conflict (engine, id, error))
    return FALSE;
  fprintf (stdout, "conflict %s: restored the version that lost; %s/%s is a pending change\n",
           id, tether_conflict_get_collection (conflict), tether_conflict_get_record_id (conflict));
  return TRUE;
}

gboolean
_tether_cli_conflicts (TetherCli      *cli,
                       TetherCliArgs  *args,
                       GError        **error)
{
  g_autoptr(TetherSyncEngine) engine = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;

  if (args->positional->len == 1 || (args->positional->len == 2 && !g_str_equal (ARG (args, 0), "restore")))
    return usage_error (error, "conflicts: give no argument to list them, or restore ID");
  if (args->positional->len == 2 && args->json)
    return usage_error (error, "conflicts restore: --json is for the list");
  if ((engine = _tether_cli_open_sync (cli, error)) == NULL)
    return FALSE;
  if (args->positional->len == 2)
    return conflicts_restore (engine, ARG (args, 1), error);
  if ((conflicts = tether_sync_engine_list_conflicts (engine, FALSE, error)) == NULL)
    return FALSE;
  _tether_cli_print_conflicts (conflicts, args->json);
  return TRUE;
}
