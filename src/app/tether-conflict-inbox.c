/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-conflict-inbox"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-app-resources.h"
#include "tether-conflict-inbox-private.h"
#include "tether-conflict-text.h"
#include "tether-window.h"

/* How long an open conflict that changed in place must have been on
 * screen before a choice is taken as made from it (see show_update()). */
#define SEEN_DELAY_MS 1000


G_DEFINE_FINAL_TYPE (TetherConflictInbox, tether_conflict_inbox, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_SYNC_ENGINE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The list */

/* Whether @conflict holds what restoring another entry replaced (the
 * engine keeps that version as an entry of its own). */
static gboolean
is_replaced (TetherConflictInbox *self,
             TetherConflict      *conflict)
{
  GListModel *model = G_LIST_MODEL (self->conflicts);

  if (tether_conflict_get_strategy (conflict) != TETHER_CONFLICT_STRATEGY_MANUAL ||
      tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
    return FALSE;
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherConflict) other = g_list_model_get_item (model, i);

      if (_tether_conflict_replaced_by (conflict, other))
        return TRUE;
    }
  return FALSE;
}

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  TetherConflictInbox *self = user_data;
  TetherConflict *conflict = item;
  TetherConflictStatus status = tether_conflict_get_status (conflict);
  gint64 when = status == TETHER_CONFLICT_OPEN ? tether_conflict_get_created (conflict)
                                               : tether_conflict_get_resolved (conflict);
  g_autofree char *time = _tether_conflict_format_time (when);
  const char *kind = _tether_conflict_kind_label (tether_conflict_get_collection (conflict));
  g_autofree char *subtitle = NULL;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  GtkWidget *icon = gtk_image_new_from_icon_name (status == TETHER_CONFLICT_OPEN ? "dialog-warning-symbolic"
                                                  : status == TETHER_CONFLICT_RESTORED ? "edit-undo-symbolic"
                                                  : "emblem-ok-symbolic");
  GtkWidget *title = gtk_label_new (_tether_conflict_title (conflict));
  GtkWidget *line;

  if (status == TETHER_CONFLICT_RESOLVED && is_replaced (self, conflict))
    subtitle = g_strdup_printf ("%s · %s", kind, _("Replaced by a Restore"));
  else
    subtitle = g_strdup_printf ("%s · %s · %s", kind, _tether_conflict_status_label (status),
                                _tether_conflict_strategy_label (tether_conflict_get_strategy (conflict)));
  line = gtk_label_new (subtitle);
  GtkWidget *at = gtk_label_new (time);

  gtk_widget_add_css_class (icon, status == TETHER_CONFLICT_OPEN ? "warning" : "dim-label");
  gtk_widget_set_valign (icon, GTK_ALIGN_CENTER);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (title, "heading");
  gtk_label_set_xalign (GTK_LABEL (line), 0);
  gtk_label_set_ellipsize (GTK_LABEL (line), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (line, "caption");
  gtk_widget_add_css_class (line, "dim-label");
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_widget_add_css_class (at, "caption");
  gtk_widget_add_css_class (at, "dim-label");
  gtk_widget_set_valign (at, GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (texts), title);
  gtk_box_append (GTK_BOX (texts), line);
  gtk_box_append (GTK_BOX (box), icon);
  gtk_box_append (GTK_BOX (box), texts);
  gtk_box_append (GTK_BOX (box), at);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);
  return box;
}

static int
compare_conflicts (gconstpointer a,
                   gconstpointer b)
{
  TetherConflict *ca = *(TetherConflict **) a, *cb = *(TetherConflict **) b;
  gboolean open_a = tether_conflict_get_status (ca) == TETHER_CONFLICT_OPEN;
  gboolean open_b = tether_conflict_get_status (cb) == TETHER_CONFLICT_OPEN;
  gint64 at_a = open_a ? tether_conflict_get_created (ca) : tether_conflict_get_resolved (ca);
  gint64 at_b = open_b ? tether_conflict_get_created (cb) : tether_conflict_get_resolved (cb);

  if (open_a != open_b)
    return open_a ? -1 : 1;
  return at_a < at_b ? 1 : at_a > at_b ? -1 : 0;
}

static gboolean
same_object (JsonObject *a,
             JsonObject *b)
{
  return a == NULL || b == NULL ? a == b : json_object_equal (a, b);
}

static gboolean
same_list (GListModel *model,
           GPtrArray  *conflicts)
{
  if (g_list_model_get_n_items (model) != conflicts->len)
    return FALSE;
  for (guint i = 0; i < conflicts->len; i++)
    {
      g_autoptr(TetherConflict) shown = g_list_model_get_item (model, i);

      if (!tether_conflict_equal (shown, conflicts->pdata[i]))
        return FALSE;
    }
  return TRUE;
}

/* The detail */

static GtkWidget *
value_label (const char *text,
             gboolean    selectable)
{
  GtkWidget *label = gtk_label_new (text ? text : _("Not set"));

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), selectable);
  gtk_widget_set_hexpand (label, TRUE);
  if (text == NULL)
    gtk_widget_add_css_class (label, "dim-label");
  return label;
}

static GtkWidget *
caption (const char *text,
         const char *style)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "caption-heading");
  gtk_widget_add_css_class (label, style);
  return label;
}

typedef enum { BADGE_NONE, BADGE_KEPT, BADGE_LOST } Badge;

/* Whether one side's value of a decided conflict was kept or lost. */
static Badge
side_badge (TetherConflict *conflict,
            const char     *field,
            gboolean        mine)
{
  JsonObject *side = mine ? tether_conflict_get_local (conflict) : tether_conflict_get_remote (conflict);
  JsonObject *result = tether_conflict_get_result (conflict);

  if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
    return BADGE_NONE;
  if (_tether_conflict_field_lost (conflict, field, mine))
    return BADGE_LOST;
  if (result != NULL && side != NULL && _tether_conflict_same_member (result, side, field))
    return BADGE_KEPT;
  return BADGE_NONE;
}

static void
on_card_pressed (GtkGestureClick *gesture,
                 int              n_press,
                 double           x,
                 double           y,
                 GtkCheckButton  *check)
{
  gtk_check_button_set_active (check, TRUE);
}

static GtkWidget *
card_new (void)
{
  GtkWidget *card = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);

  gtk_widget_add_css_class (card, "card");
  gtk_widget_set_hexpand (card, TRUE);
  return card;
}

static void
fill_card (GtkWidget *card,
           GtkWidget *header,
           GtkWidget *value)
{
  gtk_box_append (GTK_BOX (card), header);
  gtk_box_append (GTK_BOX (card), value);
  for (GtkWidget *child = gtk_widget_get_first_child (card); child; child = gtk_widget_get_next_sibling (child))
    {
      gtk_widget_set_margin_start (child, 12);
      gtk_widget_set_margin_end (child, 12);
    }
  gtk_widget_set_margin_top (header, 12);
  gtk_widget_set_margin_bottom (value, 12);
}

/* A decided field whose result is neither side (a line merge): the result. */
static GtkWidget *
result_card (TetherConflict *conflict,
             const char     *field)
{
  JsonObject *result = tether_conflict_get_result (conflict);
  g_autofree char *text = NULL;
  GtkWidget *card;

  if (result == NULL || tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN ||
      _tether_conflict_same_member (result, tether_conflict_get_local (conflict), field) ||
      _tether_conflict_same_member (result, tether_conflict_get_remote (conflict), field))
    return NULL;
  text = _tether_conflict_format_value (_tether_conflict_member (result, field));
  card = card_new ();
  fill_card (card, caption (_("Merged Result"), "accent"), value_label (text, TRUE));
  return card;
}

/* One side of a field that differs: a choice for an open conflict, the
 * value with "Kept" or "Lost" for a decided one. */
static GtkWidget *
side_card (TetherConflictInbox *self,
           const char          *field,
           gboolean             mine,
           GtkCheckButton      *group)
{
  TetherConflict *conflict = self->shown;
  JsonObject *side = mine ? tether_conflict_get_local (conflict) : tether_conflict_get_remote (conflict);
  /* Against a delete there is no field to choose: one version is kept whole. */
  gboolean choosable = tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN &&
                       tether_conflict_get_local (conflict) != NULL && tether_conflict_get_remote (conflict) != NULL;
  g_autofree char *text = side == NULL ? g_strdup (_("Deleted")) : _tether_conflict_format_value (_tether_conflict_member (side, field));
  Badge badge = side_badge (conflict, field, mine);
  const char *name = self->shown_replaced ? (mine ? _("Replaced") : _("Restored")) : mine ? _("Mine") : _("Theirs");
  GtkWidget *card = card_new ();
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  if (choosable)
    {
      GtkWidget *check = gtk_check_button_new_with_label (name);
      g_autofree char *what = g_strdup_printf (mine ? _("Keep my %s") : _("Keep their %s"), _tether_conflict_field_label (field));
      GtkGesture *click = gtk_gesture_click_new ();

      gtk_check_button_set_group (GTK_CHECK_BUTTON (check), group);
      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), mine);
      gtk_widget_set_tooltip_text (check, what);
      gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, what, -1);
      /* The whole card chooses, not only the small radio. */
      g_signal_connect_object (click, "pressed", G_CALLBACK (on_card_pressed), check, 0);
      gtk_widget_add_controller (card, GTK_EVENT_CONTROLLER (click));
      if (mine)
        g_hash_table_insert (self->choices, g_strdup (field), check);
      else
        g_object_set_data (G_OBJECT (group), "theirs", check);
      gtk_box_append (GTK_BOX (header), check);
    }
  else
    gtk_box_append (GTK_BOX (header), caption (name, "dim-label"));
  if (badge != BADGE_NONE)
    {
      GtkWidget *label = badge == BADGE_LOST ? caption (_("Lost"), "error") : caption (_("Kept"), "success");

      gtk_widget_set_hexpand (label, TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 1);
      gtk_box_append (GTK_BOX (header), label);
    }
  fill_card (card, header, value_label (text, !choosable));
  return card;
}

static GtkWidget *
field_heading (const char *field,
               gboolean    both_changed)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *name = gtk_label_new (_tether_conflict_field_label (field));

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_widget_add_css_class (name, "heading");
  gtk_box_append (GTK_BOX (box), name);
  if (both_changed)
    gtk_box_append (GTK_BOX (box), caption (_("Changed on both sides"), "warning"));
  return box;
}

static void
add_field (TetherConflictInbox *self,
           const char          *field)
{
  TetherConflict *conflict = self->shown;
  GtkWidget *block = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *sides = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *mine, *merged;

  gtk_box_set_homogeneous (GTK_BOX (sides), TRUE);
  gtk_box_append (GTK_BOX (block), field_heading (field, _tether_conflict_strv_has (tether_conflict_get_fields (conflict), field)));
  mine = side_card (self, field, TRUE, NULL);
  gtk_box_append (GTK_BOX (sides), mine);
  gtk_box_append (GTK_BOX (sides), side_card (self, field, FALSE, g_hash_table_lookup (self->choices, field)));
  gtk_box_append (GTK_BOX (block), sides);
  if ((merged = result_card (conflict, field)) != NULL)
    gtk_box_append (GTK_BOX (block), merged);
  gtk_box_append (self->fields_box, block);
}

/* A field both sides agree on: its name and value, without a choice. */
static void
add_same_field (TetherConflictInbox *self,
                const char          *field,
                JsonObject          *side)
{
  g_autofree char *text = _tether_conflict_format_value (_tether_conflict_member (side, field));
  GtkWidget *block = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  GtkWidget *value = value_label (text, TRUE);

  gtk_box_append (GTK_BOX (block), caption (_tether_conflict_field_label (field), "dim-label"));
  gtk_label_set_lines (GTK_LABEL (value), 4);
  gtk_label_set_ellipsize (GTK_LABEL (value), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (block), value);
  gtk_box_append (self->fields_box, block);
}

static void
clear_detail (TetherConflictInbox *self)
{
  GtkWidget *child;

  g_hash_table_remove_all (self->choices);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->fields_box))) != NULL)
    gtk_box_remove (self->fields_box, child);
}

static void
update_actions (TetherConflictInbox *self)
{
  TetherConflict *conflict = self->shown;
  gboolean open = conflict != NULL && tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN;
  gboolean both_sides = conflict != NULL && tether_conflict_get_local (conflict) != NULL &&
                        tether_conflict_get_remote (conflict) != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inbox.keep-mine", open);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inbox.keep-theirs", open);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inbox.keep-selected", open && both_sides);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inbox.restore",
                                 conflict != NULL && tether_conflict_get_status (conflict) == TETHER_CONFLICT_RESOLVED);
  gtk_widget_set_visible (self->open_bar, open);
  gtk_widget_set_visible (self->decided_bar, conflict != NULL && !open);
}

static char *
replaced_text (TetherConflict *conflict)
{
  g_autofree char *when = _tether_conflict_format_time (tether_conflict_get_resolved (conflict));

  return g_strdup_printf (_("Replaced at %s by restoring the version that lost of an earlier conflict. "
                            "Restore this one to undo that."), when);
}

static void
build_detail (TetherConflictInbox *self,
              TetherConflict      *conflict)
{
  g_autoptr(GPtrArray) fields = NULL;
  g_autoptr(GPtrArray) same = g_ptr_array_new ();
  g_autofree char *summary = NULL;
  JsonObject *local, *remote;

  clear_detail (self);
  g_set_object (&self->shown, conflict);
  update_actions (self);
  if (conflict == NULL)
    return;

  local = tether_conflict_get_local (conflict);
  remote = tether_conflict_get_remote (conflict);
  self->shown_replaced = is_replaced (self, conflict);
  summary = self->shown_replaced && tether_conflict_get_status (conflict) == TETHER_CONFLICT_RESOLVED
    ? replaced_text (conflict) : _tether_conflict_summary_text (conflict);
  gtk_label_set_label (self->detail_title, _tether_conflict_title (conflict));
  gtk_label_set_label (self->detail_summary, summary);
  fields = _tether_conflict_list_fields (conflict);
  for (guint i = 0; i < fields->len; i++)
    {
      const char *field = fields->pdata[i];

      if (local != NULL && remote != NULL && _tether_conflict_same_member (local, remote, field))
        g_ptr_array_add (same, fields->pdata[i]);
      else if (_tether_conflict_member (local, field) != NULL || _tether_conflict_member (remote, field) != NULL)
        add_field (self, field);
    }
  if (same->len > 0)
    gtk_box_append (self->fields_box, caption (_("Same on Both Sides"), "dim-label"));
  for (guint i = 0; i < same->len; i++)
    add_same_field (self, same->pdata[i], local);
}

static void
cancel_seen (TetherConflictInbox *self)
{
  if (self->seen_tick != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->seen_tick);
  self->seen_tick = 0;
  g_clear_handle_id (&self->seen_timeout, g_source_remove);
}

static gboolean
seen_elapsed (gpointer data)
{
  TetherConflictInbox *self = data;

  self->seen_timeout = 0;
  g_set_object (&self->seen, self->shown);
  return G_SOURCE_REMOVE;
}

static gboolean
seen_drawn (GtkWidget     *widget,
            GdkFrameClock *clock,
            gpointer       data)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (widget);

  self->seen_tick = 0;
  self->seen_timeout = g_timeout_add (SEEN_DELAY_MS, seen_elapsed, self);
  return G_SOURCE_REMOVE;
}

/* field → whether "Mine" is chosen, for each field that offers a choice */
static GHashTable *
take_choices (TetherConflictInbox *self)
{
  GHashTable *taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer field, check;

  g_hash_table_iter_init (&iter, self->choices);
  while (g_hash_table_iter_next (&iter, &field, &check))
    g_hash_table_insert (taken, g_strdup (field), GINT_TO_POINTER (gtk_check_button_get_active (check)));
  return taken;
}

static void
put_back_choices (TetherConflictInbox *self,
                  GHashTable          *taken)
{
  GHashTableIter iter;
  gpointer field, mine;

  g_hash_table_iter_init (&iter, self->choices);
  while (g_hash_table_iter_next (&iter, &field, &mine))
    if (g_hash_table_contains (taken, field))
      gtk_check_button_set_active (GPOINTER_TO_INT (g_hash_table_lookup (taken, field))
                                   ? mine : g_object_get_data (mine, "theirs"), TRUE);
}

/* The open conflict shown changed in place: a pull brought a newer server
 * version, or the note was edited here. The detail shows it as it is now,
 * with the choices made so far for the fields that still differ, and says
 * so. A click can be on its way from the old detail, so choices are still
 * made from the old version (which the engine refuses as CHANGED) until
 * the new one has been on screen for a moment. */
static void
show_update (TetherConflictInbox *self,
             TetherConflict      *conflict)
{
  g_autoptr(GHashTable) taken = take_choices (self);
  gboolean remote_moved = tether_conflict_get_remote_rev (conflict) != tether_conflict_get_remote_rev (self->shown) ||
                          !same_object (tether_conflict_get_remote (conflict), tether_conflict_get_remote (self->shown));
  gboolean local_moved = !same_object (tether_conflict_get_local (conflict), tether_conflict_get_local (self->shown));

  build_detail (self, conflict);
  put_back_choices (self, taken);
  if (!remote_moved && !local_moved)
    {
      g_set_object (&self->seen, conflict);
      return;
    }
  adw_toast_overlay_add_toast (self->toasts, tether_toast_new_plain (remote_moved
    ? _("The server sent a newer version of this conflict: look at it again before choosing")
    : _("Your version changed meanwhile: look at it again before choosing")));
  cancel_seen (self);
  self->seen_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self), seen_drawn, NULL, NULL);
}

static void
show_conflict (TetherConflictInbox *self,
               TetherConflict      *conflict)
{
  /* The same conflict in the same state: keep the choices made so far. */
  if (conflict != NULL && self->shown != NULL && tether_conflict_equal (conflict, self->shown))
    return;
  if (conflict != NULL && self->shown != NULL &&
      g_str_equal (tether_conflict_get_id (conflict), tether_conflict_get_id (self->shown)) &&
      tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN &&
      tether_conflict_get_status (self->shown) == TETHER_CONFLICT_OPEN)
    {
      show_update (self, conflict);
      return;
    }
  /* Another conflict, picked by the user, or one decided meanwhile. */
  cancel_seen (self);
  g_set_object (&self->seen, conflict);
  build_detail (self, conflict);
}

static void
on_row_selected (TetherConflictInbox *self,
                 GtkListBoxRow       *row)
{
  g_autoptr(TetherConflict) conflict = NULL;

  if (self->reloading)
    return;
  if (row != NULL)
    conflict = g_list_model_get_item (G_LIST_MODEL (self->conflicts), gtk_list_box_row_get_index (row));
  show_conflict (self, conflict);
}

static void
select_conflict (TetherConflictInbox *self,
                 const char          *id)
{
  GListModel *model = G_LIST_MODEL (self->conflicts);
  guint position = 0;

  for (guint i = 0; id != NULL && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherConflict) conflict = g_list_model_get_item (model, i);

      if (g_str_equal (tether_conflict_get_id (conflict), id))
        position = i;
    }
  gtk_list_box_select_row (self->list, gtk_list_box_get_row_at_index (self->list, position));
}

/* The empty page would say that nothing is lost: say what failed instead.
 * Conflicts read before stay listed, with a toast (once, not at every
 * signal while the log cannot be read). */
static void
read_failed (TetherConflictInbox *self,
             GError              *error)
{
  g_autofree char *text = g_strdup_printf (_("The conflict log could not be read: %s. "
                                             "It is read again after the next sync."), error->message);

  g_debug ("cannot list conflicts: %s", error->message);
  if (g_list_model_get_n_items (G_LIST_MODEL (self->conflicts)) == 0)
    {
      adw_status_page_set_description (self->error_page, text);
      gtk_stack_set_visible_child_name (self->stack, "error");
    }
  else if (!self->read_failed)
    adw_toast_overlay_add_toast (self->toasts, tether_toast_new_plain (text));
  self->read_failed = TRUE;
}

void
_tether_conflict_inbox_reload (TetherConflictInbox *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = NULL;
  g_autofree char *selected = self->shown ? g_strdup (tether_conflict_get_id (self->shown)) : NULL;
  g_autofree char *subtitle = NULL;
  guint open = 0;

  conflicts = self->engine ? tether_sync_engine_list_conflicts (self->engine, FALSE, &error) : g_ptr_array_new ();
  if (conflicts == NULL)
    {
      read_failed (self, error);
      return;
    }
  self->read_failed = FALSE;
  g_ptr_array_sort (conflicts, compare_conflicts);
  for (guint i = 0; i < conflicts->len; i++)
    open += tether_conflict_get_status (conflicts->pdata[i]) == TETHER_CONFLICT_OPEN;
  subtitle = open ? g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u open", "%u open", open), open) : NULL;
  adw_window_title_set_subtitle (self->window_title, subtitle ? subtitle : "");
  gtk_stack_set_visible_child_name (self->stack, conflicts->len ? "conflicts" : "empty");
  if (same_list (G_LIST_MODEL (self->conflicts), conflicts))
    return;

  self->reloading = TRUE;
  g_list_store_splice (self->conflicts, 0, g_list_model_get_n_items (G_LIST_MODEL (self->conflicts)),
                       conflicts->pdata, conflicts->len);
  select_conflict (self, selected);
  self->reloading = FALSE;
  on_row_selected (self, gtk_list_box_get_selected_row (self->list));
}

/* Life cycle */

TetherConflictInbox *
tether_conflict_inbox_new (TetherApplication *app)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (app), NULL);
  /* "application" is set after constructed(): hand the engine over as a
   * construct property. */
  return g_object_new (TETHER_TYPE_CONFLICT_INBOX,
                       "application", app,
                       "sync-engine", tether_application_get_sync_engine (app),
                       NULL);
}

static void
tether_conflict_inbox_constructed (GObject *object)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (object);

  G_OBJECT_CLASS (tether_conflict_inbox_parent_class)->constructed (object);

  if (self->engine != NULL)
    {
      g_signal_connect_object (self->engine, "conflict", G_CALLBACK (_tether_conflict_inbox_reload), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->engine, "queue-changed", G_CALLBACK (_tether_conflict_inbox_reload), self, G_CONNECT_SWAPPED);
    }
  _tether_conflict_inbox_reload (self);
  update_actions (self);
}

static void
tether_conflict_inbox_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (object);

  switch (prop_id)
    {
    case PROP_SYNC_ENGINE:
      g_set_object (&self->engine, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_conflict_inbox_get_property (GObject    *object,
                                    guint       prop_id,
                                    GValue     *value,
                                    GParamSpec *pspec)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (object);

  switch (prop_id)
    {
    case PROP_SYNC_ENGINE:
      g_value_set_object (value, self->engine);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_conflict_inbox_dispose (GObject *object)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (object);

  /* Nothing reacts any more while the widgets go. */
  self->reloading = TRUE;
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  cancel_seen (self);
  g_hash_table_remove_all (self->choices);
  g_clear_object (&self->shown);
  g_clear_object (&self->seen);
  g_clear_object (&self->engine);
  G_OBJECT_CLASS (tether_conflict_inbox_parent_class)->dispose (object);
}

static void
tether_conflict_inbox_finalize (GObject *object)
{
  TetherConflictInbox *self = TETHER_CONFLICT_INBOX (object);

  g_clear_pointer (&self->choices, g_hash_table_unref);
  g_clear_object (&self->conflicts);
  G_OBJECT_CLASS (tether_conflict_inbox_parent_class)->finalize (object);
}

static void
tether_conflict_inbox_class_init (TetherConflictInboxClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = tether_conflict_inbox_constructed;
  object_class->set_property = tether_conflict_inbox_set_property;
  object_class->get_property = tether_conflict_inbox_get_property;
  object_class->dispose = tether_conflict_inbox_dispose;
  object_class->finalize = tether_conflict_inbox_finalize;

  /* The engine whose conflict log is shown: the application's, or one a
   * test gives without an application. */
  properties[PROP_SYNC_ENGINE] =
    g_param_spec_object ("sync-engine", NULL, NULL, TETHER_TYPE_SYNC_ENGINE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Asking for the bundle links it in from the static library (it
   * registers itself when loaded). */
  if (tether_app_get_resource () == NULL)
    g_error ("the app's resources are missing");
  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-conflict-inbox.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, toasts);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, window_title);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, stack);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, error_page);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, list);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, detail_title);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, detail_summary);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, fields_box);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, open_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherConflictInbox, decided_bar);
  gtk_widget_class_bind_template_callback (widget_class, on_row_selected);

  _tether_conflict_inbox_install_actions (widget_class);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
tether_conflict_inbox_init (TetherConflictInbox *self)
{
  self->conflicts = g_list_store_new (TETHER_TYPE_CONFLICT);
  self->choices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_list_box_bind_model (self->list, G_LIST_MODEL (self->conflicts), create_row, self, NULL);
}
