/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-item-slot"
#include "config.h"

#include "tether-item-slot.h"

struct _TetherItemSlot
{
  GObject       parent_instance;
  TetherRecord *record;
};

G_DEFINE_FINAL_TYPE (TetherItemSlot, tether_item_slot, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RECORD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
tether_item_slot_finalize (GObject *object)
{
  TetherItemSlot *self = TETHER_ITEM_SLOT (object);

  g_clear_object (&self->record);
  G_OBJECT_CLASS (tether_item_slot_parent_class)->finalize (object);
}

static void
tether_item_slot_get_property (GObject    *object,
                               guint       prop_id,
                               GValue     *value,
                               GParamSpec *pspec)
{
  TetherItemSlot *self = TETHER_ITEM_SLOT (object);

  switch (prop_id)
    {
    case PROP_RECORD:
      g_value_set_object (value, self->record);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_item_slot_class_init (TetherItemSlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_item_slot_finalize;
  object_class->get_property = tether_item_slot_get_property;
  properties[PROP_RECORD] =
    g_param_spec_object ("record", NULL, NULL, TETHER_TYPE_RECORD,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_item_slot_init (TetherItemSlot *self)
{
}

TetherItemSlot *
tether_item_slot_new (TetherRecord *record)
{
  TetherItemSlot *self = g_object_new (TETHER_TYPE_ITEM_SLOT, NULL);

  g_return_val_if_fail (TETHER_IS_RECORD (record), NULL);

  self->record = g_object_ref (record);
  return self;
}

TetherRecord *
tether_item_slot_get_record (TetherItemSlot *self)
{
  g_return_val_if_fail (TETHER_IS_ITEM_SLOT (self), NULL);

  return self->record;
}

void
tether_item_slot_set_record (TetherItemSlot *self,
                             TetherRecord   *record)
{
  g_return_if_fail (TETHER_IS_ITEM_SLOT (self));
  g_return_if_fail (TETHER_IS_RECORD (record));

  if (g_set_object (&self->record, record))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORD]);
}
