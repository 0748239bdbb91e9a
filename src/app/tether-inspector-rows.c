/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-inspector"
#include "config.h"

#include <glib/gi18n.h>

#include "tether-conflict-text.h"
#include "tether-inspector-private.h"

/* What the inspector shows, as text and widgets: the header's state, one
 * change (its cells in the queue and the details pane), one conflict, one
 * sync event, and the question before a discard. Binding a cell reads only
 * the change in memory. */

/* Formatting ---------------------------------------------------------------- */

static char *
format_ms (gint64      ms,
           const char *format)
{
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (ms / 1000);

  return time != NULL ? g_date_time_format (time, format) : g_strdup ("");
}

/* HH:MM:SS today, a date before the time on other days. */
char *
_tether_inspector_format_when (gint64 ms)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autoptr(GDateTime) time = g_date_time_new_from_unix_local (ms / 1000);

  if (time == NULL)
    return g_strdup ("");
  if (g_date_time_get_year (now) == g_date_time_get_year (time) &&
      g_date_time_get_day_of_year (now) == g_date_time_get_day_of_year (time))
    return g_date_time_format (time, "%H:%M:%S");
  return g_date_time_format (time, "%x %H:%M:%S");
}

static const char *
type_label (TetherChangeType type)
{
  switch (type)
    {
    case TETHER_CHANGE_CREATE: return C_("change type", "Create");
    case TETHER_CHANGE_UPDATE: return C_("change type", "Update");
    case TETHER_CHANGE_DELETE: return C_("change type", "Delete");
    default: return "";
    }
}

static const char *
status_label (TetherChangeStatus status)
{
  switch (status)
    {
    case TETHER_CHANGE_PENDING: return C_("change status", "Pending");
    case TETHER_CHANGE_SYNCING: return C_("change status", "Syncing");
    case TETHER_CHANGE_COMMITTED: return C_("change status", "Committed");
    case TETHER_CHANGE_FAILED: return C_("change status", "Failed");
    default: return "";
    }
}

static const char *
status_style (TetherChangeStatus status)
{
  switch (status)
    {
    case TETHER_CHANGE_SYNCING: return "accent";
    case TETHER_CHANGE_COMMITTED: return "success";
    case TETHER_CHANGE_FAILED: return "error";
    default: return NULL;
    }
}

void
_tether_inspector_set_label_style (GtkWidget  *label,
                                   const char *base,
                                   const char *extra)
{
  const char *classes[] = { base, extra, NULL };

  if (base == NULL)
    classes[0] = extra, classes[1] = NULL;
  gtk_widget_set_css_classes (label, classes);
}

/* The header ---------------------------------------------------------------- */

static char *
describe_phase (TetherSyncPhase phase,
                guint           done,
                guint           total)
{
  switch (phase)
    {
    case TETHER_SYNC_PHASE_PUSH:
      return g_strdup_printf (_("Sent %u of %u"), done, total);
    case TETHER_SYNC_PHASE_PULL:
      return g_strdup_printf (ngettext ("Received %u change", "Received %u changes", done),
                              done);
    case TETHER_SYNC_PHASE_RESOLVE:
      return g_strdup (_("Resolving conflicts"));
    default:
      return g_strdup_printf (ngettext ("Starting with %u pending change", "Starting with %u pending changes",
                                        total), total);
    }
}

typedef struct {
  const char *icon;
  const char *title;
  const char *style;
} StateLook;

static const StateLook state_looks[] = {
  [TETHER_SYNC_STATE_IDLE] = { "emblem-ok-symbolic", N_("Idle"), "success" },
  [TETHER_SYNC_STATE_SYNCING] = { "emblem-synchronizing-symbolic", N_("Syncing…"), "accent" },
  [TETHER_SYNC_STATE_OFFLINE] = { "network-offline-symbolic", N_("Offline"), "warning" },
  [TETHER_SYNC_STATE_ERROR] = { "dialog-error-symbolic", N_("Sync Error"), "error" },
  [TETHER_SYNC_STATE_AUTH_REQUIRED] = { "auth-face-symbolic", N_("Sign-in Required"), "error" },
};
static const StateLook no_server_look = { "network-offline-symbolic", N_("No Server"), "dim-label" };

void
_tether_inspector_state_look (TetherSyncState   state,
                              gboolean          remote,
                              const char      **icon,
                              const char      **title,
                              const char      **style)
{
  const StateLook *look = !remote ? &no_server_look
                        : state < G_N_ELEMENTS (state_looks) ? &state_looks[state] : &state_looks[0];

  *icon = look->icon;
  *title = gettext (look->title);
  *style = look->style;
}

char *
_tether_inspector_state_detail (TetherSyncEngine *engine,
                                TetherSyncPhase   phase,
                                guint             done,
                                guint             total)
{
  TetherSyncState state = tether_sync_engine_get_state (engine);
  const char *error = tether_sync_engine_get_last_error (engine);
  gint64 last = tether_sync_engine_get_last_sync_at (engine);
  g_autofree char *when = NULL;

  if (tether_sync_engine_get_transport (engine) == NULL)
    return g_strdup (_("Set a server in Preferences to sync"));
  if (state == TETHER_SYNC_STATE_SYNCING)
    return describe_phase (phase, done, total);
  if (state != TETHER_SYNC_STATE_IDLE && error != NULL)
    return g_strdup (error);
  if (last <= 0)
    return g_strdup (_("Never synced"));
  when = _tether_inspector_format_when (last);
  return g_strdup_printf (_("Last sync at %s"), when);
}

/* Dropping an edit from the queue means the server never hears of it. */
AdwMessageDialog *
_tether_inspector_discard_dialog_new (GtkWindow        *parent,
                                      TetherSyncChange *change)
{
  const char *title = change != NULL ? tether_sync_change_get_title (change) : "";
  g_autofree char *body = NULL;
  AdwMessageDialog *dialog;

  /* A change whose answer was lost may already be on the server: the
   * engine cannot take it back there, only stop sending it. */
  body = g_strdup_printf (_("The change to “%s” will be removed from the queue and not sent again. "
                            "The record keeps its data on this device. If an earlier attempt reached "
                            "the server, the server keeps that version."),
                          *title != '\0' ? title : _("Untitled"));
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent, _("Discard Change?"), body));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "discard", _("_Discard"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  return dialog;
}

GMenuModel *
_tether_inspector_row_menu_new (TetherSyncChange *change)
{
  GMenu *menu = g_menu_new ();
  g_autoptr(GMenuItem) discard = g_menu_item_new (_("_Discard Change…"), NULL);

  g_menu_item_set_action_and_target_value (discard, "inspector.discard",
                                           g_variant_new_string (tether_sync_change_get_id (change)));
  /* The queue's own shortcut (it discards the selected row): shown here,
   * where it is learnt. */
  g_menu_item_set_attribute (discard, "accel", "s", "Delete");
  g_menu_append_item (menu, discard);
  return G_MENU_MODEL (menu);
}

/* Queue cells --------------------------------------------------------------- */

static void
setup_text_cell (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  /* How a right click finds its row. */
  g_object_set_data (G_OBJECT (label), TETHER_INSPECTOR_LIST_ITEM, item);
  gtk_list_item_set_child (item, label);
}

static void
setup_wide_cell (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  setup_text_cell (factory, item, user_data);
  gtk_label_set_width_chars (GTK_LABEL (gtk_list_item_get_child (item)), 10);
}

static void
setup_numeric_cell (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    gpointer                  user_data)
{
  setup_text_cell (factory, item, user_data);
  gtk_widget_add_css_class (gtk_list_item_get_child (item), "numeric");
}

static void
set_cell (GtkListItem *item,
          const char  *text,
          const char  *tooltip)
{
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));

  gtk_label_set_text (label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (label), tooltip);
}

static void
bind_time_cell (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  TetherSyncChange *change = gtk_list_item_get_item (item);
  gint64 ms = tether_sync_change_get_timestamp (change);
  g_autofree char *time = format_ms (ms, "%H:%M:%S");
  g_autofree char *date = format_ms (ms, "%x %X");
  g_autofree char *tooltip = g_strdup_printf ("%s.%03d\n%s", date, (int) (ms % 1000),
                                              tether_sync_change_get_hlc (change));

  set_cell (item, time, tooltip);
}

static void
bind_collection_cell (GtkSignalListItemFactory *factory,
                      GtkListItem              *item,
                      gpointer                  user_data)
{
  set_cell (item, tether_sync_change_get_collection (gtk_list_item_get_item (item)), NULL);
}

static void
bind_title_cell (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  TetherSyncChange *change = gtk_list_item_get_item (item);
  const char *title = tether_sync_change_get_title (change);
  g_autofree char *tooltip = g_strdup_printf (_("Record %s\nChange %s"),
                                              tether_sync_change_get_record_id (change),
                                              tether_sync_change_get_id (change));

  set_cell (item, *title != '\0' ? title : _("Untitled"), tooltip);
  _tether_inspector_set_label_style (gtk_list_item_get_child (item), NULL, *title != '\0' ? NULL : "dim-label");
}

static void
bind_type_cell (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  set_cell (item, type_label (tether_sync_change_get_change_type (gtk_list_item_get_item (item))), NULL);
}

static void
bind_status_cell (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  TetherSyncChange *change = gtk_list_item_get_item (item);
  TetherChangeStatus status = tether_sync_change_get_status (change);

  set_cell (item, status_label (status), tether_sync_change_get_error (change));
  _tether_inspector_set_label_style (gtk_list_item_get_child (item), status == TETHER_CHANGE_FAILED ? "heading" : NULL,
                   status_style (status));
}

static void
bind_retries_cell (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  guint retries = tether_sync_change_get_retries (gtk_list_item_get_item (item));
  g_autofree char *text = g_strdup_printf ("%u", retries);

  set_cell (item, text, NULL);
  _tether_inspector_set_label_style (gtk_list_item_get_child (item), "numeric", retries == 0 ? "dim-label" : NULL);
}

static void
bind_error_cell (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  const char *error = tether_sync_change_get_error (gtk_list_item_get_item (item));

  set_cell (item, error != NULL ? error : "", error);
}

void
_tether_inspector_bind_cell_callbacks (GtkWidgetClass *widget_class)
{
#define CALLBACK(name) gtk_widget_class_bind_template_callback (widget_class, name)
  CALLBACK (setup_text_cell); CALLBACK (setup_wide_cell); CALLBACK (setup_numeric_cell);
  CALLBACK (bind_time_cell); CALLBACK (bind_collection_cell); CALLBACK (bind_title_cell);
  CALLBACK (bind_type_cell); CALLBACK (bind_status_cell); CALLBACK (bind_retries_cell);
  CALLBACK (bind_error_cell);
#undef CALLBACK
}

static char *
pretty_json (const char *text)
{
  g_autoptr(JsonNode) node = text != NULL ? json_from_string (text, NULL) : NULL;
  g_autofree char *pretty = node != NULL ? json_to_string (node, TRUE) : g_strdup (text);

  /* A long body would make a label of megabytes: the start says enough. */
  if (pretty != NULL && strlen (pretty) > 4000)
    {
      const char *end = g_utf8_find_prev_char (pretty, pretty + 4000);

      return g_strdup_printf ("%.*s…", (int) (end - pretty), pretty);
    }
  return g_steal_pointer (&pretty);
}

void
_tether_inspector_describe_change (TetherSyncChange  *change,
                                   char             **meta,
                                   char             **data)
{
  g_autofree char *created = format_ms (tether_sync_change_get_timestamp (change), "%x %X");
  g_autofree char *updated = format_ms (tether_sync_change_get_updated (change), "%X");
  g_autofree char *base_rev = g_strdup_printf ("%" G_GINT64_FORMAT, tether_sync_change_get_base_rev (change));
  const char *after = tether_sync_change_get_data (change);

  *meta = g_strdup_printf (_("Change %s\nRecord %s in %s\nWritten %s · updated %s\nBase rev %s · HLC %s"),
                           tether_sync_change_get_id (change), tether_sync_change_get_record_id (change),
                           tether_sync_change_get_collection (change), created, updated, base_rev,
                           tether_sync_change_get_hlc (change));
  *data = pretty_json (after != NULL ? after : tether_sync_change_get_prev_data (change));
}

/* Conflict and event rows --------------------------------------------------- */

static GtkWidget *
row_label (const char *text,
           const char *style,
           const char *extra_style)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  if (style != NULL)
    gtk_widget_add_css_class (label, style);
  if (extra_style != NULL)
    gtk_widget_add_css_class (label, extra_style);
  return label;
}

/* A row: a heading line with a right-aligned tag, then lines below. */
static GtkWidget *
row_new (const char *heading,
         const char *aside,
         const char *tag,
         const char *tag_style,
         GtkWidget **body)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  GtkWidget *top = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *title = row_label (heading, "heading", NULL);
  GtkWidget *row = gtk_list_box_row_new ();

  gtk_label_set_wrap (GTK_LABEL (title), FALSE);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  gtk_box_append (GTK_BOX (top), title);
  if (aside != NULL)
    gtk_box_append (GTK_BOX (top), row_label (aside, "caption", "dim-label"));
  gtk_widget_set_hexpand (gtk_widget_get_last_child (top), TRUE);
  gtk_box_append (GTK_BOX (top), row_label (tag, "caption-heading", tag_style));
  gtk_box_append (GTK_BOX (box), top);
  g_object_set (box, "margin-start", 12, "margin-end", 12, "margin-top", 8, "margin-bottom", 8, NULL);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  *body = box;
  return row;
}

static const char *
conflict_title (TetherConflict *conflict)
{
  JsonObject *sides[] = { tether_conflict_get_local (conflict), tether_conflict_get_remote (conflict),
                          tether_conflict_get_base (conflict) };

  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    if (_tether_conflict_side_title (sides[i]) != NULL)
      return _tether_conflict_side_title (sides[i]);
  return _("Untitled");
}

static const char *
winner_label (TetherConflictWinner winner)
{
  switch (winner)
    {
    case TETHER_CONFLICT_WINNER_LOCAL: return _("Kept this device’s version");
    case TETHER_CONFLICT_WINNER_REMOTE: return _("Kept the server’s version");
    case TETHER_CONFLICT_WINNER_MERGED: return _("Kept a merge of both");
    default: return "";
    }
}

GtkWidget *
_tether_inspector_conflict_row_new (gpointer item,
                                    gpointer user_data)
{
  TetherConflict *conflict = item;
  TetherConflictStatus status = tether_conflict_get_status (conflict);
  const char *tags[] = { C_("conflict status", "Open"), C_("conflict status", "Resolved"),
                         C_("conflict status", "Restored") };
  const char *styles[] = { "warning", "success", "accent" };
  const char * const *fields = tether_conflict_get_fields (conflict);
  g_autofree char *when = _tether_inspector_format_when (tether_conflict_get_created (conflict));
  g_autofree char *fields_text = fields != NULL && fields[0] != NULL ? g_strjoinv (", ", (char **) fields) : NULL;
  g_autofree char *where = NULL;
  g_autofree char *changed = NULL;
  GtkWidget *box;
  GtkWidget *row = row_new (conflict_title (conflict), NULL, status <= TETHER_CONFLICT_RESTORED ? tags[status] : "",
                            status <= TETHER_CONFLICT_RESTORED ? styles[status] : NULL, &box);

  /* Translators: collection · strategy · time, e.g. "notes · merge · 10:04:05" */
  where = g_strdup_printf (_("%s · %s · %s"), tether_conflict_get_collection (conflict),
                           tether_conflict_strategy_to_string (tether_conflict_get_strategy (conflict)), when);
  gtk_box_append (GTK_BOX (box), row_label (where, "caption", "dim-label"));
  changed = fields_text != NULL ? g_strdup_printf (_("Changed on both sides: %s"), fields_text)
                                : g_strdup (_("No field changed on both sides"));
  gtk_box_append (GTK_BOX (box), row_label (changed, "caption", NULL));
  if (status != TETHER_CONFLICT_OPEN)
    gtk_box_append (GTK_BOX (box), row_label (winner_label (tether_conflict_get_winner (conflict)), "caption", "dim-label"));
  gtk_widget_set_tooltip_text (row, tether_conflict_get_record_id (conflict));
  return row;
}

GtkWidget *
_tether_inspector_event_row_new (const TetherSyncEvent *event)
{
  const TetherSyncReport *r = &event->report;
  gboolean failed = event->phase == TETHER_SYNC_PHASE_FAILED;
  g_autofree char *when = _tether_inspector_format_when (event->at_ms);
  g_autofree char *pushed = NULL;
  g_autofree char *pulled = NULL;
  g_autofree char *took = NULL;
  GtkWidget *box;
  GtkWidget *row;

  took = g_strdup_printf (_("%d ms"), (int) MIN (r->duration_ms, G_MAXINT));
  row = row_new (when, took, failed ? _("FAILED") : _("DONE"), failed ? "error" : "success", &box);
  pushed = g_strdup_printf (_("↑ Pushed %u · Accepted %u · Conflicts %u · Rejected %u"),
                            r->pushed, r->accepted, r->conflicts, r->rejected);
  pulled = g_strdup_printf (_("↓ Pulled %u · Applied %u"), r->pulled, r->applied);
  gtk_box_append (GTK_BOX (box), row_label (pushed, "caption", NULL));
  gtk_box_append (GTK_BOX (box), row_label (pulled, "caption", NULL));
  if (event->error != NULL)
    gtk_box_append (GTK_BOX (box), row_label (event->error, "caption", "error"));
  return row;
}
