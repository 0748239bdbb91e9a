/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-change-model.h"
#include "tether-inspector.h"
#include "tether-inspector-private.h"

/* The sync inspector. It reads the engine only when the engine says
 * something moved: the queue through a TetherChangeModel (which reloads
 * once per burst), the counters from that model, conflicts and events on
 * the signals that change them. */

G_DEFINE_FINAL_TYPE (TetherInspector, tether_inspector, GTK_TYPE_WIDGET)

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
      _tether_inspector_queue_refresh (self, REFRESH_QUEUE);
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
  TetherInspectorRefresh due = self->refresh_due;

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

void
_tether_inspector_queue_refresh (TetherInspector        *self,
                                 TetherInspectorRefresh  what)
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
    _tether_inspector_queue_refresh (self, REFRESH_EVENTS | REFRESH_CONFLICTS);
}

/* Another process (the CLI) committed: it may have synced, or settled or
 * restored a conflict, which this engine announces no other way. Our own
 * writes (every autosave) leave both logs alone. */
static void
on_external_change (TetherInspector *self)
{
  _tether_inspector_queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
on_items_changed (TetherInspector *self)
{
  _tether_inspector_queue_refresh (self, REFRESH_QUEUE);
}

static void
on_conflicts_moved (TetherInspector *self)
{
  _tether_inspector_queue_refresh (self, REFRESH_CONFLICTS);
}

/* What no signal announces (a restore here that replaced nothing) shows
 * when its page is shown: reading it again replaces only rows that moved. */
static void
on_page_changed (TetherInspector *self)
{
  if (self->engine != NULL)
    _tether_inspector_queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
}

static void
on_banner_close (TetherInspector *self)
{
  gtk_revealer_set_reveal_child (self->banner, FALSE);
}

void
_tether_inspector_show_error (TetherInspector *self,
                              const char      *what,
                              const GError    *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what, error->message);

  gtk_label_set_text (self->banner_label, text);
  gtk_revealer_set_reveal_child (self->banner, TRUE);
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
  _tether_inspector_queue_refresh (self, REFRESH_QUEUE);
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
    _tether_inspector_queue_refresh (self, 0);
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

  _tether_inspector_install_actions (widget_class);
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
  self->held_back = _tether_inspector_held_back_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
  _tether_inspector_add_row_menu (self);
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
  _tether_inspector_queue_refresh (self, REFRESH_CONFLICTS | REFRESH_EVENTS);
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
