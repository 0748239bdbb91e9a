/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_TYPE_EDITOR (tether_editor_get_type ())
G_DECLARE_FINAL_TYPE (TetherEditor, tether_editor, TETHER, EDITOR, GtkWidget)

/* The editor of one note or task (ui/tether-editor.ui): title, body (notes)
 * or notes, done, due date and priority (tasks), tags, pinned (notes).
 * Saves as you type, 500 ms after the last keystroke, with
 * tether_collection_update() of the changed fields only; saves at once on
 * set_record(), on unmap and on dispose, so closing never loses text. A
 * write to the same record from elsewhere (sync, another process) updates
 * the fields that are not being edited, keeping the cursor; a delete from
 * elsewhere leaves the text readable, with a banner that can restore the
 * record as shown (editor.restore). */
GtkWidget *tether_editor_new        (void);
/* @id NULL: nothing open. Saves the open record first; when that fails
 * (too large, database busy or read-only, a refused field, deleted
 * elsewhere with unsaved text) it stays open with its text, and FALSE
 * comes back with the reason. */
gboolean   tether_editor_set_record (TetherEditor    *self,
                                     TetherDatabase  *db,
                                     const char      *collection,
                                     const char      *id,
                                     GError         **error);
const char *tether_editor_get_record_id (TetherEditor *self);
/* Save now what is waiting for the debounce; FALSE with an error naming the
 * field when the record is refused (e.g. "notes.title: required"), and
 * TETHER_DATABASE_ERROR_NOT_FOUND when it was deleted elsewhere with text
 * shown that was never stored. */
gboolean   tether_editor_save_now   (TetherEditor   *self,
                                     GError        **error);
/* The open record as last stored (still there once deleted elsewhere), or NULL. */
TetherRecord *tether_editor_get_record (TetherEditor *self);
/* Forget the edits not stored yet: the fields show the stored record (the
 * last stored one, when it was deleted elsewhere). */
void       tether_editor_discard_changes (TetherEditor *self);
/* Put the keyboard focus on the title. */
void       tether_editor_focus_title (TetherEditor  *self);

G_END_DECLS
