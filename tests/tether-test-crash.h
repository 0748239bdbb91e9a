/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-test-sync.h"

G_BEGIN_DECLS

/* The pieces of test-reliability-crash: the writer process it kills
 * (tether-test-crash-writer.c) and the client-write test that checks the
 * file after each kill (tether-test-crash-writes.c). */

/* The run's seed and kill count, from its options (tether-test-seed.h). */
extern guint32 crash_seed;
extern guint   crash_kills;

/* "collection/id", the key of a record in the models. */
char        *crash_key_new        (const char     *collection,
                                   const char     *id);
/* Every record of @db's two collections, keyed "collection/id", as
 * canonical JSON text. */
GHashTable  *crash_file_records   (TetherDatabase *db);

/* Where a writer stops itself (SIGSTOP) for the test to kill it: inside
 * a write's transaction (record and change log entry written, not
 * committed), or once it committed, before the write call returns. */
typedef enum {
  CRASH_STOP_IN_TRANSACTION,
  CRASH_STOP_COMMITTED,
} CrashStop;

/* The writer's side (this binary with --writer --db PATH --seed N): random
 * writes on the file until killed; one "W op collection id mark" line
 * before each write and one "A data" line once it returned. With
 * @stop_at >= 0 it stops itself in write number @stop_at, at @stop_in. */
int          crash_writer_main    (const char     *path,
                                   guint32         seed,
                                   int             stop_at,
                                   CrashStop       stop_in);
/* The test's side: a writer on @path, printing to the file @out. */
GSubprocess *crash_writer_spawn   (const char     *path,
                                   guint32         seed,
                                   const char     *out,
                                   int             stop_at,
                                   CrashStop       stop_in);
/* Returns once the writer has opened the file and is about to write. */
void         crash_writer_wait_ready (GSubprocess *process,
                                      const char  *out);
/* Returns once a writer told to stop has stopped itself. */
void         crash_writer_wait_stopped (GSubprocess *process);

/* The first column of the first row of @sql (with @text bound to ?1) on
 * the SQLite file @path; opening it recovers the WAL a killed process left. */
char        *crash_sqlite_text    (const char     *path,
                                   const char     *sql,
                                   const char     *text);
gint64       crash_sqlite_integer (const char     *path,
                                   const char     *sql,
                                   const char     *text);

void         test_client_write    (Fixture        *f);

G_END_DECLS
