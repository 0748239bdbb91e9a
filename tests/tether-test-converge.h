/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdio.h>

#include "tether-test-sync.h"

G_BEGIN_DECLS

/* The model of the convergence suites (test-sync-converge, in one process,
 * and test-reliability-converge, with client processes): writers make
 * random writes and remember each acknowledged one; at the end every write
 * must be in the final state, knowingly overwritten by its writer's later
 * view, or kept as a loser in some conflict log. A model can also append
 * what it learns to a journal, one line a fact, which another process
 * replays with converge_model_load(). */

#define CONVERGE_MAX_QUIET_PASSES 15

typedef struct {
  char *key;      /* "collection/id" */
  char *field;    /* "title" or "text#<line>" */
  char *token;    /* unique value written */
} ConvergeWrite;

typedef struct {
  guint       n_lines;      /* lines of the text fields: writer i owns line i */
  GPtrArray  *writes;       /* ConvergeWrite */
  GHashTable *superseded;   /* "key|token": seen and written over by a writer */
  GHashTable *created;      /* key → its create token (the title it was born with) */
  GHashTable *deleted;      /* key: some writer deleted it */
  GPtrArray  *history;      /* every journal line, "<journal> <line>": told when a write is lost */
  char       *source;       /* whose journal is being loaded */
  FILE       *journal;      /* NULL: in memory only */
} ConvergeModel;

/* One client's random writes, syncs and offline spells. */
typedef struct {
  ConvergeModel *model;
  Client        *client;
  guint          index;          /* the text line it owns; tokens "c<index>w<n>" */
  GRand         *rand;           /* borrowed */
  guint          counter;        /* tokens made */
  guint          offline_until;  /* round */
  guint          offline_spells;
  guint          syncs_ok;
  guint          syncs_failed;
} ConvergeWriter;

/* What one writer's faults came to (from its writer, or reported by a
 * client process). */
typedef struct {
  guint index;
  guint dropped;
  guint lost;
  guint duplicated;
  guint offline_spells;
  guint syncs_ok;
  guint syncs_failed;
} ConvergeFaults;

/* Figures of a settled world, for the tests' messages. */
typedef struct {
  guint writes;
  guint present;
  guint overwritten;
  guint lost_logged;
  guint gone;
  guint conflicts;
  guint records;
} ConvergeFigures;

ConvergeModel *converge_model_new    (guint          n_lines,
                                      const char    *journal);
void           converge_model_free   (ConvergeModel *model);
/* Replay a journal another process wrote; a torn last line is ignored. */
void           converge_model_load   (ConvergeModel *model,
                                      const char    *journal);

/* A failed world: g_error with the message. The replay line is set with
 * seed_replay_on_abort() (tether-test-seed.h). */
void           converge_fail         (const char    *format,
                                      ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

void           converge_create       (ConvergeWriter *w);
void           converge_random_op    (ConvergeWriter *w);
/* Different fault periods per writer, so faults hit different requests. */
void           converge_faults_on    (ConvergeWriter *w);
/* For the fixed worlds of CI, which must show what they test: each fault
 * converge_faults_on() gave the writer happened (and none it did not
 * give), it was offline at least once, and some of its syncs failed
 * while some went through; converge_fail() otherwise. */
void           converge_assert_faults (const ConvergeFaults *seen);
/* The same for a settled world: conflicts were logged, and under last
 * writer wins some write survives only as a loser in a conflict log. */
void           converge_assert_eventful (const ConvergeFigures  *figures,
                                         TetherConflictStrategy  strategy);
/* One round: maybe an offline spell, one to three writes, usually a sync. */
void           converge_round        (ConvergeWriter *w,
                                      guint           round);

/* Everyone online without faults, syncing in passes until a whole pass
 * changes nothing; the number of passes. Changes out of retries (records
 * that kept moving) are retried; @retried: how many. */
guint          converge_settle       (Client        **clients,
                                      guint           n_clients,
                                      guint          *retried);
/* Clients equal the server, nothing failed or open, each created record is
 * alive or deleted once, and every write is accounted for. */
void           converge_check        (ConvergeModel  *model,
                                      Fixture        *f,
                                      Server         *s,
                                      const char     *token,
                                      Client        **clients,
                                      guint           n_clients,
                                      ConvergeFigures *figures);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvergeModel, converge_model_free)

G_END_DECLS
