/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-editor.h"

G_BEGIN_DECLS

/* The editor's parts: the widget, saving and outside changes
 * (tether-editor.c), and its fields: reading them from the widgets and
 * showing a record in them (tether-editor-fields.c). */

/* The fields the editor shows; a bit each in `dirty`. */
typedef enum {
  FIELD_TITLE    = 1 << 0,
  FIELD_BODY     = 1 << 1,
  FIELD_DONE     = 1 << 2,
  FIELD_DUE      = 1 << 3,
  FIELD_PRIORITY = 1 << 4,
  FIELD_TAGS     = 1 << 5,
  FIELD_PINNED   = 1 << 6,
} EditorField;

#define NOTE_FIELDS (FIELD_TITLE | FIELD_BODY | FIELD_TAGS | FIELD_PINNED)
#define TASK_FIELDS (FIELD_TITLE | FIELD_BODY | FIELD_DONE | FIELD_DUE | FIELD_PRIORITY | FIELD_TAGS)

struct _TetherEditor
{
  GtkWidget         parent_instance;

  GtkStack         *stack;
  GtkWidget        *deleted_bar;
  GtkLabel         *deleted_label;
  GtkWidget        *content;
  GtkText          *title_text;
  GtkLabel         *error_label;
  GtkWidget        *task_box;
  GtkCheckButton   *done_check;
  GtkMenuButton    *due_button;
  GtkLabel         *due_label;
  GtkPopover       *due_popover;
  GtkCalendar      *calendar;
  GtkDropDown      *priority_dropdown;
  GtkToggleButton  *pinned_toggle;
  GtkEntry         *tags_entry;
  GtkTextView      *body_view;

  TetherDatabase   *db;
  TetherCollection *collection;   /* owned by db */
  char             *id;
  TetherRecord     *record;       /* as last stored */
  char             *due;          /* the due date shown, normal form, or NULL */
  gboolean          is_task;
  guint             dirty;        /* EditorField bits edited and not yet stored */
  GError           *refused;      /* why the edit shown cannot be stored, until the next edit */
  guint             save_source;
  gulong            changed_handler;
  gulong            external_handler;
  gboolean          loading;      /* filling widgets: not an edit */
  gboolean          writing;      /* our own update: its "changed" is no news */
  gboolean          deleted;
};

/* tether-editor-fields.c */
const char *_tether_editor_field_name       (TetherEditor *self,
                                             EditorField   field);
guint       _tether_editor_shown_fields     (TetherEditor *self);
/* The value the widget of @field holds now, as the record would store it. */
JsonNode   *_tether_editor_read_field       (TetherEditor *self,
                                             EditorField   field);
gboolean    _tether_editor_same_value       (JsonNode     *stored,
                                             JsonNode     *shown);
void        _tether_editor_update_due_label (TetherEditor *self);
void        _tether_editor_set_title_text   (TetherEditor *self,
                                             const char   *text);
void        _tether_editor_set_body_text    (TetherEditor *self,
                                             const char   *text);
/* Shows @field of @record in its widget, leaving the cursor where it was. */
void        _tether_editor_load_field       (TetherEditor *self,
                                             EditorField   field,
                                             TetherRecord *record);
/* Edited and not stored, or in the user's hands right now. */
gboolean    _tether_editor_field_is_busy    (TetherEditor *self,
                                             EditorField   field);
void        _tether_editor_load_fields      (TetherEditor *self,
                                             gboolean      all);
/* Deleted elsewhere: the fields show their text but take no edits. */
void        _tether_editor_set_read_only    (TetherEditor *self,
                                             gboolean      read_only);
/* The record's data with each shown field as its widget holds it. */
JsonObject *_tether_editor_dup_shown_data   (TetherEditor *self);

G_END_DECLS
