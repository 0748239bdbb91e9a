/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-application.h"

G_BEGIN_DECLS

#define TETHER_TYPE_CONFLICT_INBOX (tether_conflict_inbox_get_type ())
G_DECLARE_FINAL_TYPE (TetherConflictInbox, tether_conflict_inbox, TETHER, CONFLICT_INBOX, AdwWindow)

/* The conflict inbox (ui/tether-conflict-inbox.ui): open conflicts (manual
 * strategy) and versions that lost automatically, newest first. For the
 * selected one: mine and theirs side by side, field by field, with a choice
 * per field for open conflicts (then "Keep Mine", "Keep Theirs", "Keep
 * Selected" → tether_sync_engine_resolve_conflict) and "Restore" for decided
 * ones (tether_sync_engine_restore_conflict). Updates on the engine's
 * "conflict" and "queue-changed". */
TetherConflictInbox *tether_conflict_inbox_new (TetherApplication *app);

G_END_DECLS
