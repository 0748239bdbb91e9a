/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-write-hook"
#include "config.h"

#include "tether-write-hook.h"

G_DEFINE_INTERFACE (TetherWriteHook, tether_write_hook, G_TYPE_OBJECT)

static void
tether_write_hook_default_init (TetherWriteHookInterface *iface)
{
}

gboolean
tether_write_hook_after_create (TetherWriteHook  *self,
                                TetherCollection *collection,
                                TetherRecord     *record,
                                GError          **error)
{
  TetherWriteHookInterface *iface;

  g_return_val_if_fail (TETHER_IS_WRITE_HOOK (self), FALSE);
  iface = TETHER_WRITE_HOOK_GET_IFACE (self);
  return iface->after_create ? iface->after_create (self, collection, record, error) : TRUE;
}

gboolean
tether_write_hook_after_update (TetherWriteHook  *self,
                                TetherCollection *collection,
                                TetherRecord     *old_record,
                                TetherRecord     *new_record,
                                GError          **error)
{
  TetherWriteHookInterface *iface;

  g_return_val_if_fail (TETHER_IS_WRITE_HOOK (self), FALSE);
  iface = TETHER_WRITE_HOOK_GET_IFACE (self);
  return iface->after_update
    ? iface->after_update (self, collection, old_record, new_record, error) : TRUE;
}

gboolean
tether_write_hook_after_delete (TetherWriteHook  *self,
                                TetherCollection *collection,
                                TetherRecord     *old_record,
                                GError          **error)
{
  TetherWriteHookInterface *iface;

  g_return_val_if_fail (TETHER_IS_WRITE_HOOK (self), FALSE);
  iface = TETHER_WRITE_HOOK_GET_IFACE (self);
  return iface->after_delete ? iface->after_delete (self, collection, old_record, error) : TRUE;
}
