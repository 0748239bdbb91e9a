/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-slot-model"
#include "config.h"

#include <string.h>

#include "tether-slot-model.h"

/* GTK 4.8's list widgets give an item they have not seen a new row from
 * the factory (a list view keeps 200 rows around its anchor, our one-column
 * grid view about 30): a keystroke that swapped the search results made and
 * styled them all again (120-200 ms with the list view). Slots stay at their
 * positions and take the new records in place, so the rows stay too and
 * only bind new text (README.md, "The app").
 *
 * Slots are made when the list view first asks for a position; a position
 * nobody asked for holds NULL, so a list of 100,000 records costs an array
 * of pointers, not 100,000 objects. */

struct _TetherSlotModel
{
  GObject     parent_instance;
  GListModel *source;
  GPtrArray  *slots;   /* TetherItemSlot or NULL, one per position of source */
  gulong      handler;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherSlotModel, tether_slot_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return TETHER_TYPE_ITEM_SLOT;
}

static guint
get_n_items (GListModel *model)
{
  return TETHER_SLOT_MODEL (model)->slots->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  TetherSlotModel *self = TETHER_SLOT_MODEL (model);
  g_autoptr(TetherRecord) record = NULL;

  if (position >= self->slots->len)
    return NULL;
  if (g_ptr_array_index (self->slots, position) == NULL)
    {
      record = g_list_model_get_item (self->source, position);
      if (record == NULL)
        return NULL;
      g_ptr_array_index (self->slots, position) = tether_item_slot_new (record);
    }
  return g_object_ref (g_ptr_array_index (self->slots, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* Positions that were replaced keep their slots (those made) with the new
 * records; what was added or removed beyond them is the items-changed. */
static void
source_changed (GListModel      *source,
                guint            position,
                guint            removed,
                guint            added,
                TetherSlotModel *self)
{
  guint kept = MIN (removed, added);

  for (guint i = position; i < position + kept; i++)
    {
      TetherItemSlot *slot = g_ptr_array_index (self->slots, i);
      g_autoptr(TetherRecord) record = NULL;

      if (slot != NULL && (record = g_list_model_get_item (source, i)) != NULL)
        tether_item_slot_set_record (slot, record);
    }
  if (removed > kept)
    g_ptr_array_remove_range (self->slots, position + kept, removed - kept);
  else if (added > kept)
    {
      /* g_ptr_array_insert adds one at a time: open the gap at once */
      guint old_len = self->slots->len;
      guint gap = added - kept;

      g_ptr_array_set_size (self->slots, old_len + gap);
      memmove (&self->slots->pdata[position + kept + gap], &self->slots->pdata[position + kept],
               (old_len - position - kept) * sizeof (gpointer));
      memset (&self->slots->pdata[position + kept], 0, gap * sizeof (gpointer));
    }
  if (removed != added)
    g_list_model_items_changed (G_LIST_MODEL (self), position + kept, removed - kept, added - kept);
}

static void
tether_slot_model_dispose (GObject *object)
{
  TetherSlotModel *self = TETHER_SLOT_MODEL (object);

  if (self->source != NULL)
    g_clear_signal_handler (&self->handler, self->source);
  g_clear_object (&self->source);
  G_OBJECT_CLASS (tether_slot_model_parent_class)->dispose (object);
}

static void
tether_slot_model_finalize (GObject *object)
{
  TetherSlotModel *self = TETHER_SLOT_MODEL (object);

  g_ptr_array_unref (self->slots);
  G_OBJECT_CLASS (tether_slot_model_parent_class)->finalize (object);
}

static void
tether_slot_model_class_init (TetherSlotModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_slot_model_dispose;
  object_class->finalize = tether_slot_model_finalize;
}

/* g_object_unref would not take the NULL of a slot never made. */
static void
slot_free (gpointer slot)
{
  if (slot != NULL)
    g_object_unref (slot);
}

static void
tether_slot_model_init (TetherSlotModel *self)
{
  self->slots = g_ptr_array_new_with_free_func (slot_free);
}

TetherSlotModel *
tether_slot_model_new (GListModel *source)
{
  TetherSlotModel *self;

  g_return_val_if_fail (G_IS_LIST_MODEL (source), NULL);

  self = g_object_new (TETHER_TYPE_SLOT_MODEL, NULL);
  self->source = g_object_ref (source);
  g_ptr_array_set_size (self->slots, g_list_model_get_n_items (source));
  self->handler = g_signal_connect (source, "items-changed", G_CALLBACK (source_changed), self);
  return self;
}
