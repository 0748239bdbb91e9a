/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-change-model.h"
#include "tether-inspector.h"
#include "tether-inspector-private.h"
#include "tether-window.h"

/* The sync inspector. It reads the engine only when the engine says
 * something moved: the queue through a TetherChangeModel (which reloads
 * once per burst), the counters from that model, conflicts and events on
 * the signals that change them. */

typedef enum {
  REFRESH_QUEUE     = 1 << 0,
  REFRESH_CONFLICTS = 1 << 1,
  REFRESH_EVENTS    = 1 << 2,
} Refresh;

struct _TetherInspector
{
  GtkWidget          parent_instance;

  TetherSyncEngine  *engine;
  TetherChangeModel *changes;
  GListStore        *conflicts;      /* TetherConflict, newest first */
  GCancellable      *cancellable;    /* Sync Now */
  guint              refresh_id;
  Refresh            refresh_due;
  gint64             newest_event_at; /* the event shown first, 0: none */
  guint              n_events;
  TetherSyncPhase    phase;
  guint              phase_done;
  guint              phase_total;
  char              *selected_id;     /* the change in the details pane */
  GHashTable        *held_back;       /* records Compact cannot squash */

  AdwToastOverlay   *toasts;
  GtkWidget         *row_menu;        /* the queue's context menu */

  GtkImage          *state_icon;
  GtkLabel          *state_label;
  GtkLabel          *state_detail;
  GtkSpinner        *spinner;
  GtkRevealer       *banner;
  GtkLabel          *banner_label;
  GtkLabel          *total_label;
  GtkLabel          *pending_label;
  GtkLabel          *syncing_label;
  GtkLabel          *committed_label;
  GtkLabel          *failed_label;
  AdwViewStack      *pages;
  AdwViewStackPage  *queue_page;
  AdwViewStackPage  *conflicts_page;
  AdwViewStackPage  *events_page;
  GtkStack          *queue_stack;
  GtkStack          *conflict_stack;
  GtkStack          *event_stack;
  AdwStatusPage     *queue_error;
  AdwStatusPage     *conflict_error;
  AdwStatusPage     *event_error;
  GtkColumnView     *queue_view;
  GtkRevealer       *details;
  GtkLabel          *details_title;
  GtkLabel          *details_meta;
  GtkLabel          *details_error;
  GtkLabel          *details_data;
  GtkListBox        *conflict_list;
  GtkListBox        *event_list;
};

G_DEFINE_FINAL_TYPE (TetherInspector, tether_inspector, GTK_TYPE_WIDGET)

static void queue_refresh (TetherInspector *self,
                           Refresh          what);

/* The details pane ---------------------------------------------------------- */

static void
show_details (TetherInspector  *self,
              TetherSyncChange *change)
{
  const char *title = tether_sync_change_get_title (change);
  const char *error = tether_sync_change_get_error (change);
  g_autofree char *meta = NULL;
  g_autofree char *data = NULL;

  _tether_inspector_describe_change (change, &meta, &data);
  gtk_label_set_text (self->details_title, *title != '\0' ? title : _("Untitled"));
  gtk_label_set_text (self->details_meta, meta);
  gtk_label_set_text (self->details_error, error != NULL ? error : "");
  gtk_widget_set_visible (GTK_WIDGET (self->details_error), error != NULL);
  gtk_label_set_text (self->details_data, data != NULL ? data : "");
  gtk_widget_set_visible (GTK_WIDGET (self->details_data), data != NULL);
  gtk_revealer_set_reveal_child (self->details, TRUE);
}

/* A change whose status moved is a new object in the model, so the
 * selection drops it: select it again by id, or close the pane when the
 * change left the queue. */
static void
restore_selection (TetherInspector *self)
{
  GtkSingleSelection *selection = GTK_SINGLE_SELECTION (gtk_column_view_get_model (self->queue_view));
  GListModel *model = G_LIST_MODEL (selection);

  if (gtk_single_selection_get_selected_item (selection) != NULL)
    return;
  for (guint i = 0; self->selected_id != NULL && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherSyncChange) change = g_list_model_get_item (model, i);

      if (g_str_equal (tether_sync_change_get_id (change), self->selected_id))
        {
          gtk_single_selection_set_selected (selection, i);
          return;
        }
    }
  g_clear_pointer (&self->selected_id, g_free);
  gtk_revealer_set_reveal_child (self->details, FALSE);
}

static void
on_selection_changed (TetherInspector *self)
{
  GtkSingleSelection *selection = GTK_SINGLE_SELECTION (gtk_column_view_get_model (self->queue_view));
  TetherSyncChange *change = gtk_single_selection_get_selected_item (selection);

  if (change == NULL)
    {
      queue_refresh (self, REFRESH_QUEUE);
      return;
    }
  g_free (self->selected_id);
  self->selected_id = g_strdup (tether_sync_change_get_id (change));
  show_details (self, change);
}

static void
on_details_close (TetherInspector *self)
{
  g_clear_pointer (&self->selected_id, g_free);
  gtk_single_selection_set_selected (GTK_SINGLE_SELECTION (gtk_column_view_get_model (self->queue_view)),
                                     GTK_INVALID_LIST_POSITION);
}

/* Refreshing ---------------------------------------------------------------- */

static void
set_count (GtkLabel *label,
           guint     count)
{
  char text[16];

  g_snprintf (text, sizeof text, "%u", count);
  gtk_label_set_text (label, text);
}

/* A log that could not be read says so where its list or its empty state
 * would show: either would claim something about the log. */
static void
show_read_error (GtkStack         *stack,
                 AdwStatusPage    *status,
                 AdwViewStackPage *page,
                 const GError     *error)
{
  g_autofree char *markup = g_markup_escape_text (error->message, -1);

  adw_status_page_set_description (status, markup);
  gtk_stack_set_visible_child_name (stack, "error");
  adw_view_stack_page_set_badge_number (page, 0);
  adw_view_stack_page_set_needs_attention (page, TRUE);
}

/* The queue could not be read: no count is known, no button can help. */
static void
show_queue_error (TetherInspector *self,
                  const GError    *error)
{
  GtkLabel *counters[] = { self->total_label, self->pending_label, self->syncing_label,
                           self->committed_label, self->failed_label };

  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    gtk_label_set_text (counters[i], "–");
  gtk_widget_remove_css_class (GTK_WIDGET (self->failed_label), "error");
  show_read_error (self->queue_stack, self->queue_error, self->queue_page, error);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.retry-failed", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.compact", FALSE);
}

/* The counters, the queue page and the buttons that depend on the queue. */
static void
refresh_queue (TetherInspector *self)
{
  GListModel *model = G_LIST_MODEL (self->changes);
  guint counts[TETHER_CHANGE_FAILED + 1] = { 0 };
  g_autoptr(GHashTable) records = NULL;
  guint n = g_list_model_get_n_items (model);
  guint failed;

  if (tether_change_model_get_error (self->changes) != NULL)
    {
      show_queue_error (self, tether_change_model_get_error (self->changes));
      return;
    }
  records = _tether_inspector_count_queue (model, counts);
  failed = counts[TETHER_CHANGE_FAILED];
  set_count (self->total_label, n);
  set_count (self->pending_label, counts[TETHER_CHANGE_PENDING]);
  set_count (self->syncing_label, counts[TETHER_CHANGE_SYNCING]);
  set_count (self->committed_label, counts[TETHER_CHANGE_COMMITTED]);
  set_count (self->failed_label, failed);
  if (failed > 0)
    gtk_widget_add_css_class (GTK_WIDGET (self->failed_label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->failed_label), "error");
  gtk_stack_set_visible_child_name (self->queue_stack, n > 0 ? "list" : "empty");
  adw_view_stack_page_set_badge_number (self->queue_page, counts[TETHER_CHANGE_PENDING] + counts[TETHER_CHANGE_SYNCING]);
  adw_view_stack_page_set_needs_attention (self->queue_page, failed > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.retry-failed", failed > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.compact",
                                 _tether_inspector_find_compactable (self->held_back, records));
  restore_selection (self);
}

static void
refresh_conflicts (TetherInspector *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) conflicts = tether_sync_engine_list_conflicts (self->engine, FALSE, &error);
  guint open;

  if (conflicts == NULL)
    {
      show_read_error (self->conflict_stack, self->conflict_error, self->conflicts_page, error);
      return;
    }
  open = _tether_inspector_update_conflicts (self->conflicts, conflicts);
  gtk_stack_set_visible_child_name (self->conflict_stack, conflicts->len > 0 ? "list" : "empty");
  adw_view_stack_page_set_badge_number (self->conflicts_page, open);
  adw_view_stack_page_set_needs_attention (self->conflicts_page, open > 0);
}

static void
clear_events (TetherInspector *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->event_list))) != NULL)
    gtk_list_box_remove (self->event_list, child);
  self->newest_event_at = 0;
  self->n_events = 0;
}

/* The log only grows at its end (and forgets its oldest entries), so new
 * events are the ones after the newest shown: they go on top. */
static void
refresh_events (TetherInspector *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) events = tether_sync_engine_list_events (self->engine, &error);
  guint first_new = 0;
  GtkWidget *child;

  if (events == NULL)
    {
      show_read_error (self->event_stack, self->event_error, self->events_page, error);
      return;
    }
  for (guint i = events->len; self->n_events > 0 && i > 0; i--)
    if (((TetherSyncEvent *) g_ptr_array_index (events, i - 1))->at_ms == self->newest_event_at)
      {
        first_new = i;
        break;
      }
  if (first_new == 0 && self->n_events > 0)
    clear_events (self);
  for (guint i = first_new; i < events->len; i++)
    {
      TetherSyncEvent *event = g_ptr_array_index (events, i);

      gtk_list_box_prepend (self->event_list, _tether_inspector_event_row_new (event));
      self->newest_event_at = event->at_ms;
      self->n_events++;
    }
  while (self->n_events > events->len && (child = gtk_widget_get_last_child (GTK_WIDGET (self->event_list))) != NULL)
    {
      gtk_list_box_remove (self->event_list, child);
      self->n_events--;
    }
  gtk_stack_set_visible_child_name (self->event_stack, self->n_events > 0 ? "list" : "empty");
  adw_view_stack_page_set_needs_attention (self->events_page, FALSE);
}

static gboolean
refresh_idle (gpointer data)
{
  TetherInspector *self = data;
  Refresh due = self->refresh_due;

  self->refresh_id = 0;
  /* Hidden: the work waits for map. */
  if (self->engine == NULL || !gtk_widget_get_mapped (GTK_WIDGET (self)))
    return G_SOURCE_REMOVE;
  self->refresh_due = 0;
  if ((due & REFRESH_QUEUE) && self->changes != NULL)
    refresh_queue (self);
  if (due & REFRESH_CONFLICTS)
    refresh_conflicts (self);
  if (due & REFRESH_EVENTS)
    refresh_events (self);
  return G_SOURCE_REMOVE;
}

static void
queue_refresh (TetherInspector *self,
               Refresh          what)
{
  self->refresh_due |= what;
  if (self->refresh_id == 0)
    self->refresh_id = g_idle_add (refresh_idle, self);
}

/* The header ---------------------------------------------------------------- */

static void
update_state (TetherInspector *self)
{
  TetherSyncState state;
  gboolean remote;
  const char *icon, *title, *style;
  g_autofree char *detail = NULL;

  if (self->engine == NULL)
    return;
  state = tether_sync_engine_get_state (self->engine);
  remote = tether_sync_engine_get_transport (self->engine) != NULL;
  _tether_inspector_state_look (state, remote, &icon, &title, &style);
  detail = _tether_inspector_state_detail (self->engine, self->phase, self->phase_done, self->phase_total);
  gtk_image_set_from_icon_name (self->state_icon, icon);
  _tether_inspector_set_label_style (GTK_WIDGET (self->state_icon), NULL, style);
  gtk_label_set_text (self->state_label, title);
  gtk_label_set_text (self->state_detail, detail);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_detail), detail);
  gtk_spinner_set_spinning (self->spinner, state == TETHER_SYNC_STATE_SYNCING);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.sync-now",
                                 remote && state != TETHER_SYNC_STATE_SYNCING);
}

static void
on_phase (TetherSyncEngine *engine,
          TetherSyncPhase   phase,
          guint             done,
          guint             total,
          TetherInspector  *self)
{
  self->phase = phase;
  self->phase_done = done;
  self->phase_total = total;
  update_state (self);
  if (phase == TETHER_SYNC_PHASE_DONE || phase == TETHER_SYNC_PHASE_FAILED)
    queue_refresh (self, REFRESH_EVENTS | REFRESH_CONFLICTS);
}

/* Another process (the CLI) committed: it may have synced, or settled or
 * restored a conflict, which this engine announces no other way. Our own
 * writes (every autosave) leave both logs alone. */
static void
on_external_change (TetherInspector *self)
{
  queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
on_items_changed (TetherInspector *self)
{
  queue_refresh (self, REFRESH_QUEUE);
}

static void
on_conflicts_moved (TetherInspector *self)
{
  queue_refresh (self, REFRESH_CONFLICTS);
}

/* What no signal announces (a restore here that replaced nothing) shows
 * when its page is shown: reading it again replaces only rows that moved. */
static void
on_page_changed (TetherInspector *self)
{
  if (self->engine != NULL)
    queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
on_banner_close (TetherInspector *self)
{
  gtk_revealer_set_reveal_child (self->banner, FALSE);
}

static void
show_error (TetherInspector *self,
            const char      *what,
            const GError    *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);

  gtk_label_set_text (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, TRUE);
}

/* Actions ------------------------------------------------------------------- */

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(TetherInspector) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result, NULL, &error))
    {
      if (self->banner != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, _("Sync failed"), error);
      return;
    }
  if (self->banner != NULL)
    gtk_revealer_set_reveal_child (self->banner, FALSE);
}

static void
sync_now_activated (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  /* In the window, its Sync Now first saves the edit waiting in the
   * editor, and says how the sync went; alone, the inspector syncs. */
  if (gtk_widget_activate_action (widget, "win.sync-now", NULL))
    return;
  tether_sync_engine_sync_async (self->engine, self->cancellable, sync_done, g_object_ref (self));
}

static void
retry_failed_activated (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  g_autoptr(GError) error = NULL;

  if (tether_sync_engine_retry_failed (self->engine, &error) < 0)
    show_error (self, _("Could not retry failed changes"), error);
}

static void
compact_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  guint counts[TETHER_CHANGE_FAILED + 1] = { 0 };
  g_autoptr(GHashTable) records = NULL;
  g_autoptr(GError) error = NULL;
  gint removed = tether_sync_engine_compact (self->engine, &error);

  if (removed < 0)
    show_error (self, _("Could not compact the queue"), error);
  if (removed != 0 || self->changes == NULL)
    return;
  records = _tether_inspector_count_queue (G_LIST_MODEL (self->changes), counts);
  _tether_inspector_hold_back (self->held_back, records);
  /* Short: the toast is as wide as the inspector. */
  adw_toast_overlay_add_toast (self->toasts, tether_toast_new_plain (_("Nothing to compact: already sent")));
  queue_refresh (self, REFRESH_QUEUE);
}

/* Try Again, after a log could not be read. */
static void
reload_activated (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  if (self->changes != NULL)
    tether_change_model_reload (self->changes);
  queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
discard_response (AdwMessageDialog *dialog,
                  const char       *response,
                  TetherInspector  *self)
{
  const char *change_id = g_object_get_data (G_OBJECT (dialog), "change-id");
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "discard") != 0 || self->engine == NULL)
    return;
  if (!tether_sync_engine_discard (self->engine, change_id, &error))
    show_error (self, _("Could not discard the change"), error);
}

static TetherSyncChange *
find_change (TetherInspector *self,
             const char      *change_id)
{
  GListModel *model = G_LIST_MODEL (self->changes);

  for (guint i = 0; model != NULL && i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherSyncChange) change = g_list_model_get_item (model, i);

      if (g_str_equal (tether_sync_change_get_id (change), change_id))
        return g_steal_pointer (&change);
    }
  return NULL;
}

/* Dropping an edit from the queue means the server never hears of it:
 * ask first. */
static void
discard_activated (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);
  const char *change_id = g_variant_get_string (parameter, NULL);
  g_autoptr(TetherSyncChange) change = find_change (self, change_id);
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog;

  if (change != NULL && tether_sync_change_get_status (change) == TETHER_CHANGE_SYNCING)
    {
      gtk_label_set_text (self->banner_label, _("This change is being sent; it can be discarded once the server has answered"));
      gtk_revealer_set_reveal_child (self->banner, TRUE);
      return;
    }
  dialog = _tether_inspector_discard_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, change);
  g_object_set_data_full (G_OBJECT (dialog), "change-id", g_strdup (change_id), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (discard_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The row menu: for @item, pointing at @at (in the inspector's
 * coordinates); it offers to discard the change. */
static gboolean
popup_row_menu (TetherInspector    *self,
                GtkListItem        *item,
                const GdkRectangle *at)
{
  TetherSyncChange *change = gtk_list_item_get_item (item);
  g_autoptr(GMenuModel) menu = NULL;

  if (change == NULL)
    return FALSE;
  gtk_selection_model_select_item (gtk_column_view_get_model (self->queue_view),
                                   gtk_list_item_get_position (item), TRUE);
  menu = _tether_inspector_row_menu_new (change);
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->row_menu), menu);
  gtk_popover_set_pointing_to (GTK_POPOVER (self->row_menu), at);
  gtk_popover_popup (GTK_POPOVER (self->row_menu));
  return TRUE;
}

/* A right click: the menu of the row under the pointer, where it is. */
static void
on_queue_pressed (GtkGestureClick *gesture,
                  int              n_press,
                  double           x,
                  double           y,
                  TetherInspector *self)
{
  GtkWidget *view = GTK_WIDGET (self->queue_view);
  GtkWidget *target = gtk_widget_pick (view, x, y, GTK_PICK_DEFAULT);
  GtkListItem *item = NULL;
  graphene_point_t at;

  for (; target != NULL && target != view && item == NULL; target = gtk_widget_get_parent (target))
    item = g_object_get_data (G_OBJECT (target), TETHER_INSPECTOR_LIST_ITEM);
  if (item == NULL || !gtk_widget_compute_point (view, GTK_WIDGET (self), &GRAPHENE_POINT_INIT (x, y), &at))
    return;
  if (popup_row_menu (self, item, &(GdkRectangle) { at.x, at.y, 1, 1 }))
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

/* The list item shown by @row, a row of the queue: its cells carry it. */
static GtkListItem *
row_list_item (GtkWidget *row)
{
  GtkListItem *item = g_object_get_data (G_OBJECT (row), TETHER_INSPECTOR_LIST_ITEM);

  for (GtkWidget *c = gtk_widget_get_first_child (row); c != NULL && item == NULL; c = gtk_widget_get_next_sibling (c))
    item = row_list_item (c);
  return item;
}

/* Menu or Shift+F10: the menu of the focused row, under its start, as a
 * right click would open it (the keyboard has no pointer to point at). */
static gboolean
popup_focused_row_menu (GtkWidget *widget,
                        GVariant  *args,
                        gpointer   user_data)
{
  TetherInspector *self = user_data;
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *row = root != NULL ? gtk_root_get_focus (root) : NULL;
  GtkListItem *item;
  graphene_rect_t bounds;

  if (row == NULL || !gtk_widget_is_ancestor (row, widget) ||
      (item = row_list_item (row)) == NULL ||
      !gtk_widget_compute_bounds (row, GTK_WIDGET (self), &bounds))
    return FALSE;
  return popup_row_menu (self, item, &(GdkRectangle) { bounds.origin.x + 12, bounds.origin.y,
                                                      1, bounds.size.height });
}

/* Delete in the queue: discard the selected change (after asking). */
static gboolean
discard_selected (GtkWidget *widget,
                  GVariant  *args,
                  gpointer   user_data)
{
  TetherInspector *self = user_data;
  GtkSelectionModel *selection = gtk_column_view_get_model (self->queue_view);
  TetherSyncChange *change = NULL;

  if (GTK_IS_SINGLE_SELECTION (selection))
    change = gtk_single_selection_get_selected_item (GTK_SINGLE_SELECTION (selection));
  if (change == NULL)
    return FALSE;
  return gtk_widget_activate_action (GTK_WIDGET (self), "inspector.discard", "s", tether_sync_change_get_id (change));
}

/* Layout: the template's box fills the widget; the row menu floats. */
static void
tether_inspector_measure (GtkWidget      *widget,
                          GtkOrientation  orientation,
                          int             for_size,
                          int            *minimum,
                          int            *natural,
                          int            *minimum_baseline,
                          int            *natural_baseline)
{
  gtk_widget_measure (GTK_WIDGET (TETHER_INSPECTOR (widget)->toasts), orientation, for_size,
                      minimum, natural, minimum_baseline, natural_baseline);
}

static void
tether_inspector_size_allocate (GtkWidget *widget,
                                int        width,
                                int        height,
                                int        baseline)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  gtk_widget_allocate (GTK_WIDGET (self->toasts), width, height, baseline, NULL);
  gtk_popover_present (GTK_POPOVER (self->row_menu));
}

/* Life ---------------------------------------------------------------------- */

/* The queue is read (the whole change log, on every burst of writes) only
 * while the inspector is on screen. */
static void
watch_queue (TetherInspector *self)
{
  GtkSorter *sorter = gtk_column_view_get_sorter (self->queue_view);
  GtkSortListModel *sorted;
  g_autoptr(GtkSingleSelection) selection = NULL;

  self->changes = tether_change_model_new (self->engine);
  g_signal_connect_swapped (self->changes, "items-changed", G_CALLBACK (on_items_changed), self);
  g_signal_connect_swapped (self->changes, "notify::error", G_CALLBACK (on_items_changed), self);
  sorted = gtk_sort_list_model_new (g_object_ref (G_LIST_MODEL (self->changes)), g_object_ref (sorter));
  selection = gtk_single_selection_new (G_LIST_MODEL (sorted));
  gtk_single_selection_set_autoselect (selection, FALSE);
  g_signal_connect_swapped (selection, "notify::selected-item", G_CALLBACK (on_selection_changed), self);
  gtk_column_view_set_model (self->queue_view, GTK_SELECTION_MODEL (selection));
  queue_refresh (self, REFRESH_QUEUE);
}

static void
unwatch_queue (TetherInspector *self)
{
  GtkSelectionModel *selection = self->queue_view != NULL ? gtk_column_view_get_model (self->queue_view) : NULL;

  if (selection != NULL)
    {
      g_signal_handlers_disconnect_by_data (selection, self);
      gtk_column_view_set_model (self->queue_view, NULL);
    }
  if (self->changes != NULL)
    g_signal_handlers_disconnect_by_data (self->changes, self);
  g_clear_object (&self->changes);
  g_clear_pointer (&self->selected_id, g_free);
  if (self->details != NULL)
    gtk_revealer_set_reveal_child (self->details, FALSE);
}

static void
tether_inspector_map (GtkWidget *widget)
{
  TetherInspector *self = TETHER_INSPECTOR (widget);

  GTK_WIDGET_CLASS (tether_inspector_parent_class)->map (widget);
  if (self->engine != NULL && self->changes == NULL)
    watch_queue (self);
  if (self->refresh_due != 0)
    queue_refresh (self, 0);
}

static void
tether_inspector_unmap (GtkWidget *widget)
{
  unwatch_queue (TETHER_INSPECTOR (widget));
  GTK_WIDGET_CLASS (tether_inspector_parent_class)->unmap (widget);
}

static void
disconnect_engine (TetherInspector *self)
{
  unwatch_queue (self);
  if (self->engine != NULL && tether_sync_engine_get_database (self->engine) != NULL)
    g_signal_handlers_disconnect_by_data (tether_sync_engine_get_database (self->engine), self);
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->refresh_id, g_source_remove);
  self->refresh_due = 0;
  g_hash_table_remove_all (self->held_back);
  g_clear_object (&self->engine);
}

static void
tether_inspector_dispose (GObject *object)
{
  TetherInspector *self = TETHER_INSPECTOR (object);
  GtkWidget *child;

  disconnect_engine (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_INSPECTOR);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);
  self->row_menu = NULL;
  g_clear_object (&self->conflicts);
  G_OBJECT_CLASS (tether_inspector_parent_class)->dispose (object);
}

static void
tether_inspector_finalize (GObject *object)
{
  TetherInspector *self = TETHER_INSPECTOR (object);

  g_hash_table_unref (self->held_back);
  G_OBJECT_CLASS (tether_inspector_parent_class)->finalize (object);
}

static void
tether_inspector_class_init (TetherInspectorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_inspector_dispose;
  object_class->finalize = tether_inspector_finalize;

  g_type_ensure (TETHER_TYPE_SYNC_CHANGE);
  gtk_widget_class_set_template_from_resource (widget_class, "/app/tether/Tether/tether-inspector.ui");
  widget_class->map = tether_inspector_map;
  widget_class->unmap = tether_inspector_unmap;
  widget_class->measure = tether_inspector_measure;
  widget_class->size_allocate = tether_inspector_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "inspector");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, TetherInspector, name)
  CHILD (toasts);
  CHILD (state_icon); CHILD (state_label); CHILD (state_detail); CHILD (spinner);
  CHILD (banner); CHILD (banner_label);
  CHILD (total_label); CHILD (pending_label); CHILD (syncing_label); CHILD (committed_label); CHILD (failed_label);
  CHILD (pages); CHILD (queue_page); CHILD (conflicts_page); CHILD (events_page);
  CHILD (queue_stack); CHILD (conflict_stack); CHILD (event_stack);
  CHILD (queue_error); CHILD (conflict_error); CHILD (event_error);
  CHILD (queue_view); CHILD (conflict_list); CHILD (event_list);
  CHILD (details); CHILD (details_title); CHILD (details_meta); CHILD (details_error); CHILD (details_data);
#undef CHILD
  gtk_widget_class_bind_template_callback (widget_class, on_banner_close);
  gtk_widget_class_bind_template_callback (widget_class, on_page_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_details_close);
  _tether_inspector_bind_cell_callbacks (widget_class);

  gtk_widget_class_install_action (widget_class, "inspector.sync-now", NULL, sync_now_activated);
  gtk_widget_class_install_action (widget_class, "inspector.retry-failed", NULL, retry_failed_activated);
  gtk_widget_class_install_action (widget_class, "inspector.compact", NULL, compact_activated);
  gtk_widget_class_install_action (widget_class, "inspector.discard", "s", discard_activated);
  gtk_widget_class_install_action (widget_class, "inspector.reload", NULL, reload_activated);
}

/* Until the engine's state and queue are read, no button can do anything. */
static void
disable_actions (TetherInspector *self)
{
  const char *actions[] = { "inspector.sync-now", "inspector.retry-failed", "inspector.compact", "inspector.discard",
                            "inspector.reload" };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), actions[i], FALSE);
}

static void
tether_inspector_init (TetherInspector *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  GtkEventController *keys = gtk_shortcut_controller_new ();

  self->held_back = _tether_inspector_held_back_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  self->row_menu = gtk_popover_menu_new_from_model (NULL);
  gtk_popover_set_has_arrow (GTK_POPOVER (self->row_menu), FALSE);
  gtk_widget_set_halign (self->row_menu, GTK_ALIGN_START);
  gtk_widget_set_parent (self->row_menu, GTK_WIDGET (self));
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_SECONDARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_queue_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self->queue_view), GTK_EVENT_CONTROLLER (click));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_Delete, 0),
                      gtk_callback_action_new (discard_selected, self, NULL)));
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (keys),
    gtk_shortcut_new (gtk_shortcut_trigger_parse_string ("Menu|<Shift>F10"),
                      gtk_callback_action_new (popup_focused_row_menu, self, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self->queue_view), keys);
  self->conflicts = g_list_store_new (TETHER_TYPE_CONFLICT);
  gtk_list_box_bind_model (self->conflict_list, G_LIST_MODEL (self->conflicts),
                           _tether_inspector_conflict_row_new, NULL, NULL);
  disable_actions (self);
}

GtkWidget *
tether_inspector_new (void)
{
  return g_object_new (TETHER_TYPE_INSPECTOR, NULL);
}

static void
connect_engine (TetherInspector  *self,
                TetherSyncEngine *engine)
{
  const char *notify[] = { "notify::state", "notify::last-sync-at", "notify::last-error", "notify::transport" };

  self->engine = g_object_ref (engine);
  self->cancellable = g_cancellable_new ();
  self->phase = TETHER_SYNC_PHASE_DONE;
  g_signal_connect_swapped (tether_sync_engine_get_database (engine), "external-change",
                            G_CALLBACK (on_external_change), self);
  g_signal_connect (engine, "phase", G_CALLBACK (on_phase), self);
  g_signal_connect_swapped (engine, "conflict", G_CALLBACK (on_conflicts_moved), self);
  g_signal_connect_swapped (engine, "notify::conflict-count", G_CALLBACK (on_conflicts_moved), self);
  for (guint i = 0; i < G_N_ELEMENTS (notify); i++)
    g_signal_connect_swapped (engine, notify[i], G_CALLBACK (update_state), self);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.discard", TRUE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "inspector.reload", TRUE);
  update_state (self);
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    watch_queue (self);
  queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

/**
 * tether_inspector_set_engine:
 * @engine: (nullable): the engine to show, or %NULL for none
 */
void
tether_inspector_set_engine (TetherInspector  *self,
                             TetherSyncEngine *engine)
{
  g_return_if_fail (TETHER_IS_INSPECTOR (self));
  g_return_if_fail (engine == NULL || TETHER_IS_SYNC_ENGINE (engine));

  if (self->engine == engine)
    return;
  disconnect_engine (self);
  g_list_store_remove_all (self->conflicts);
  clear_events (self);
  disable_actions (self);
  if (engine != NULL)
    connect_engine (self, engine);
}
