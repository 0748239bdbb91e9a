/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether.h"

G_BEGIN_DECLS

/* A fresh temporary directory for one test, removed by tether_test_dir_free(). */
char           *tether_test_dir_new        (void);
void            tether_test_dir_free       (char *path);

/* Parse JSON text into an object; aborts the test on bad JSON. */
JsonObject     *tether_test_object         (const char *json);
JsonNode       *tether_test_node           (const char *json);
/* Schema from JSON text; aborts on error. */
TetherSchema   *tether_test_schema         (const char *json);
/* Open a database on :memory: (path NULL) or a file; aborts on error. */
TetherDatabase *tether_test_open           (const char *path,
                                            TetherSchema *schema);

/* Create a record from JSON text in @collection; aborts on error. */
TetherRecord   *tether_test_create         (TetherCollection   *collection,
                                            const char         *json);
/* Create each record of a NULL-terminated list, dropping the results. */
void            tether_test_create_all     (TetherCollection   *collection,
                                            const char * const *json);
/* Whether another process holds the WAL write lock of the database whose
 * -shm file is @shm (FALSE while there is no -shm file yet). */
gboolean        tether_test_sqlite_write_locked (const char *shm);

G_END_DECLS
