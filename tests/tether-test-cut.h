/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An HTTP server on 127.0.0.1 that answers every request with @status and
 * headers that promise a whole JSON body, then closes the connection after
 * @sent bytes of it: what a tether-server killed mid-answer leaves behind. */
typedef struct _TetherTestCut TetherTestCut;

TetherTestCut *tether_test_cut_start (guint          status,
                                      gsize          sent);
const char    *tether_test_cut_url   (TetherTestCut *cut);
gsize          tether_test_cut_size  (TetherTestCut *cut);
void           tether_test_cut_stop  (TetherTestCut *cut);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherTestCut, tether_test_cut_stop)

G_END_DECLS
