/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-collection.h"

G_BEGIN_DECLS

#define TETHER_TYPE_WRITE_HOOK (tether_write_hook_get_type ())
G_DECLARE_INTERFACE (TetherWriteHook, tether_write_hook, TETHER, WRITE_HOOK, GObject)

/* Called inside the write's transaction, after the row is written and before
 * commit. A hook may write to the database itself (its writes join the same
 * transaction) and may refuse the write by returning FALSE with an error:
 * the write and everything the hooks wrote for it are rolled back.
 * Unimplemented vfuncs are skipped. */
struct _TetherWriteHookInterface
{
  GTypeInterface parent_iface;

  gboolean (*after_create) (TetherWriteHook  *self,
                            TetherCollection *collection,
                            TetherRecord     *record,
                            GError          **error);
  gboolean (*after_update) (TetherWriteHook  *self,
                            TetherCollection *collection,
                            TetherRecord     *old_record,
                            TetherRecord     *new_record,
                            GError          **error);
  gboolean (*after_delete) (TetherWriteHook  *self,
                            TetherCollection *collection,
                            TetherRecord     *old_record,
                            GError          **error);
};

gboolean tether_write_hook_after_create (TetherWriteHook  *self,
                                         TetherCollection *collection,
                                         TetherRecord     *record,
                                         GError          **error);
gboolean tether_write_hook_after_update (TetherWriteHook  *self,
                                         TetherCollection *collection,
                                         TetherRecord     *old_record,
                                         TetherRecord     *new_record,
                                         GError          **error);
gboolean tether_write_hook_after_delete (TetherWriteHook  *self,
                                         TetherCollection *collection,
                                         TetherRecord     *old_record,
                                         GError          **error);

G_END_DECLS
