/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a
 * temporary folder (as the "postgres" user when running as root, since
 * initdb refuses root), pg_ctl start on a free port on 127.0.0.1 only, and
 * stop + remove on tether_test_pg_stop(). The server binaries are found in
 * $TETHER_PG_BINDIR, else /usr/lib/postgresql/<N>/bin, else $PATH. */
typedef struct _TetherTestPg TetherTestPg;

/* NULL with an error naming what is missing when PostgreSQL cannot be
 * started. Without durability (fsync, synchronous_commit and
 * full_page_writes off): what tests want. */
TetherTestPg *tether_test_pg_start          (GError      **error);
/* With @durable, PostgreSQL's own defaults: every commit flushed to disk,
 * as in a deployment; what benchmarks want. */
TetherTestPg *tether_test_pg_start_full     (gboolean      durable,
                                             GError      **error);
/* A new, empty database in the cluster; returns its libpq conninfo
 * ("host=127.0.0.1 port=N dbname=D user=U"). */
char         *tether_test_pg_new_database   (TetherTestPg *self,
                                             GError      **error);
void          tether_test_pg_stop           (TetherTestPg *self);

G_END_DECLS
