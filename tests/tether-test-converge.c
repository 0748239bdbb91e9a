/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-converge"
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tether-test-converge.h"

/* The convergence model: random writes that remember what they wrote and
 * what they saw, and the checks that account for every write at the end. */

/* ------------------------------------------------------------ failures */

void
converge_fail (const char *format,
               ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_error ("%s", message);
}

/* --------------------------------------------------------------- values */

static const char *
text_field (const char *collection)
{
  return g_str_equal (collection, "notes") ? "body" : "notes";
}

static TetherCollection *
collection_named (Client     *c,
                  const char *collection)
{
  return g_str_equal (collection, "notes") ? c->notes : c->tasks;
}

static char *
record_key (const char *collection,
            const char *id)
{
  return g_strdup_printf ("%s/%s", collection, id);
}

/* Tokens are unique, so a write is known by its record and token alone. */
static char *
mark_key (const char *key,
          const char *token)
{
  return g_strdup_printf ("%s|%s", key, token);
}

/* Line @line of a text field laid out as "L0\n~\nL1\n~\nL2\n": the
 * separators keep the writers' lines apart, so edits of neighbouring lines
 * do not conflict. The repeated "~" and "-" lines give a line merge several
 * equally good alignments, and a clean merge may then move or repeat a
 * line (docs/sync.md, "Details decided while building it"): a write is
 * looked for by its token wherever it is, and a writer sees every token of
 * the text it rewrites. */
static char *
text_line (const char *text,
           guint       line)
{
  g_auto(GStrv) lines = g_strsplit (text ? text : "", "\n", -1);

  if (g_strv_length (lines) <= 2 * line)
    return NULL;
  return g_strdup (lines[2 * line]);
}

static char *
text_with_line (guint       n_lines,
                const char *text,
                guint       line,
                const char *token)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < n_lines; i++)
    {
      g_autofree char *old = text_line (text, i);

      g_string_append_printf (out, "%s%s\n", i ? "~\n" : "",
                              i == line ? token : old ? old : "-");
    }
  return g_string_free (out, FALSE);
}

/* The tokens ("c<writer>w<n>") of @record's title, then of its text. */
static GPtrArray *
record_tokens (JsonObject *record,
               const char *collection)
{
  GPtrArray *tokens = g_ptr_array_new_with_free_func (g_free);
  const char *title = object_string (record, "title");
  g_auto(GStrv) lines = g_strsplit (object_string (record, text_field (collection)) ?: "", "\n", -1);

  if (record == NULL)
    return tokens;
  if (title != NULL && title[0] == 'c')
    g_ptr_array_add (tokens, g_strdup (title));
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] == 'c')
      g_ptr_array_add (tokens, g_strdup (lines[i]));
  return tokens;
}

static gboolean
holds_token (JsonObject *record,
             const char *collection,
             const char *token)
{
  g_autoptr(GPtrArray) tokens = record_tokens (record, collection);

  return g_ptr_array_find_with_equal_func (tokens, token, g_str_equal, NULL);
}

/* ---------------------------------------------------------------- model */

static void
write_free (gpointer data)
{
  ConvergeWrite *w = data;

  g_free (w->key);
  g_free (w->field);
  g_free (w->token);
  g_free (w);
}

ConvergeModel *
converge_model_new (guint       n_lines,
                    const char *journal)
{
  ConvergeModel *model = g_new0 (ConvergeModel, 1);

  model->n_lines = n_lines;
  model->writes = g_ptr_array_new_with_free_func (write_free);
  model->superseded = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  model->created = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  model->deleted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  model->history = g_ptr_array_new_with_free_func (g_free);
  if (journal != NULL && (model->journal = fopen (journal, "a")) == NULL)
    g_error ("cannot open the journal %s: %s", journal, g_strerror (errno));
  return model;
}

void
converge_model_free (ConvergeModel *model)
{
  g_ptr_array_unref (model->writes);
  g_hash_table_unref (model->superseded);
  g_hash_table_unref (model->created);
  g_hash_table_unref (model->deleted);
  g_ptr_array_unref (model->history);
  g_free (model->source);
  if (model->journal != NULL)
    fclose (model->journal);
  g_free (model);
}

/* One fact a line, written through before the next write begins: what is
 * in the journal was acknowledged by the database. */
static void
journal (ConvergeModel *model,
         const char    *kind,
         const char    *key,
         const char    *a,
         const char    *b)
{
  g_ptr_array_add (model->history, g_strdup_printf ("%s %s\t%s\t%s\t%s", model->source ? model->source : "here",
                                                    kind, key, a ? a : "", b ? b : ""));
  if (model->journal == NULL)
    return;
  fprintf (model->journal, "%s\t%s\t%s\t%s\n", kind, key, a ? a : "", b ? b : "");
  if (fflush (model->journal) != 0)
    g_error ("cannot write the journal: %s", g_strerror (errno));
}

static void
model_write (ConvergeModel *model,
             const char    *key,
             const char    *field,
             const char    *token)
{
  ConvergeWrite *entry = g_new0 (ConvergeWrite, 1);

  entry->key = g_strdup (key);
  entry->field = g_strdup (field);
  entry->token = g_strdup (token);
  g_ptr_array_add (model->writes, entry);
  journal (model, "write", key, field, token);
}

/* @seen was the value its writer saw when it wrote over it. */
static void
model_seen (ConvergeModel *model,
            const char    *key,
            const char    *field,
            const char    *seen)
{
  if (seen == NULL || seen[0] != 'c')
    return;
  g_hash_table_add (model->superseded, mark_key (key, seen));
  journal (model, "seen", key, field, seen);
}

static void
model_create (ConvergeModel *model,
              const char    *key,
              const char    *token)
{
  g_hash_table_insert (model->created, g_strdup (key), g_strdup (token));
  journal (model, "create", key, token, NULL);
  model_write (model, key, "title", token);
}

static void
model_delete (ConvergeModel *model,
              const char    *key)
{
  g_hash_table_add (model->deleted, g_strdup (key));
  journal (model, "delete", key, NULL, NULL);
}

static void
load_line (ConvergeModel *model,
           const char    *line)
{
  g_auto(GStrv) parts = g_strsplit (line, "\t", 4);

  if (g_strv_length (parts) != 4)
    converge_fail ("a journal line without four parts: %s", line);
  if (g_str_equal (parts[0], "write"))
    model_write (model, parts[1], parts[2], parts[3]);
  else if (g_str_equal (parts[0], "seen"))
    model_seen (model, parts[1], parts[2], parts[3]);
  else if (g_str_equal (parts[0], "create"))
    g_hash_table_insert (model->created, g_strdup (parts[1]), g_strdup (parts[2]));
  else if (g_str_equal (parts[0], "delete"))
    g_hash_table_add (model->deleted, g_strdup (parts[1]));
  else if (!g_str_equal (parts[0], "saw") && !g_str_equal (parts[0], "sync"))
    converge_fail ("an unknown journal line: %s", line);
  if (!g_str_equal (parts[0], "write") && !g_str_equal (parts[0], "seen"))
    g_ptr_array_add (model->history, g_strdup_printf ("%s %s", model->source, line));
}

void
converge_model_load (ConvergeModel *model,
                     const char    *path)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  guint n;

  g_assert_null (model->journal);
  if (!g_file_get_contents (path, &text, NULL, &error))
    converge_fail ("cannot read the journal: %s", error->message);
  lines = g_strsplit (text, "\n", -1);
  /* the last piece is "" after a complete line, or a torn one */
  n = g_strv_length (lines);
  g_free (model->source);
  model->source = g_path_get_basename (path);
  for (guint i = 0; i + 1 < n; i++)
    load_line (model, lines[i]);
  g_clear_pointer (&model->source, g_free);
}

/* What a writer saw before it wrote: the text on one line, for the story
 * of a lost write. */
static void
model_saw (ConvergeWriter *w,
           const char     *key,
           const char     *text)
{
  g_autofree char *flat = g_strdup (text ? text : "(none)");

  g_strdelimit (flat, "\n\t", ' ');
  journal (w->model, "saw", key, flat, NULL);
}

/* --------------------------------------------------------------- writes */

static char *
next_token (ConvergeWriter *w)
{
  return g_strdup_printf ("c%uw%u", w->index, ++w->counter);
}

static gboolean
pick_record (ConvergeWriter  *w,
             char           **collection,
             char           **id)
{
  const char *name = g_rand_boolean (w->rand) ? "notes" : "tasks";
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = tether_collection_get_all (collection_named (w->client, name), &error);
  TetherRecord *record;

  g_assert_no_error (error);
  if (all->len == 0)
    return FALSE;
  record = all->pdata[g_rand_int_range (w->rand, 0, all->len)];
  *collection = g_strdup (name);
  *id = g_strdup (tether_record_get_id (record));
  return TRUE;
}

/* The title it is born with is also its only tag: tags are never written
 * again, so two records with one tag would be one create applied twice. */
void
converge_create (ConvergeWriter *w)
{
  const char *collection = g_rand_boolean (w->rand) ? "notes" : "tasks";
  g_autofree char *title = next_token (w);
  g_autofree char *text = text_with_line (w->model->n_lines, NULL, w->model->n_lines, NULL);
  g_autoptr(JsonObject) data = json_object_new ();
  g_autoptr(JsonArray) tags = json_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *key = NULL;

  json_array_add_string_element (tags, title);
  json_object_set_string_member (data, "title", title);
  json_object_set_string_member (data, text_field (collection), text);
  json_object_set_array_member (data, "tags", json_array_ref (tags));
  record = tether_collection_create (collection_named (w->client, collection), data, &error);
  g_assert_no_error (error);
  key = record_key (collection, tether_record_get_id (record));
  model_create (w->model, key, title);
}

/* Called once the write returned: the value it replaced, then its own. */
static void
acknowledge (ConvergeWriter *w,
             const char     *collection,
             const char     *id,
             const char     *field,
             const char     *seen,
             const char     *token)
{
  g_autofree char *key = record_key (collection, id);

  model_seen (w->model, key, field, seen);
  model_write (w->model, key, field, token);
}

static void
write_title (ConvergeWriter *w)
{
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *patch = NULL;
  g_autofree char *seen = NULL;

  if (!pick_record (w, &collection, &id))
    return;
  token = next_token (w);
  seen = client_string (w->client, collection, id, "title");
  patch = g_strdup_printf ("{\"title\":\"%s\"}", token);
  client_update (w->client, collection, id, patch);
  acknowledge (w, collection, id, "title", seen, token);
}

static void
write_text (ConvergeWriter *w)
{
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *token = NULL;
  g_autofree char *field = g_strdup_printf ("text#%u", w->index);
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) patch = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) updated = NULL;
  g_autofree char *text = NULL;
  g_autofree char *key = NULL;
  g_autoptr(GPtrArray) before = NULL;

  if (!pick_record (w, &collection, &id))
    return;
  token = next_token (w);
  key = record_key (collection, id);
  record = client_get (w->client, collection, id);
  model_saw (w, key, object_string (record, text_field (collection)));
  text = text_with_line (w->model->n_lines, object_string (record, text_field (collection)), w->index, token);
  json_object_set_string_member (patch, text_field (collection), text);
  updated = tether_collection_update (collection_named (w->client, collection), id, patch, &error);
  g_assert_no_error (error);
  /* every token of the text that the rewrite drops, its own line's and
   * any a merge moved out of its place */
  before = record_tokens (record, collection);
  for (guint i = 0; i < before->len; i++)
    if (!holds_token (tether_record_get_data (updated), collection, before->pdata[i]))
      model_seen (w->model, key, field, before->pdata[i]);
  model_write (w->model, key, field, token);
}

/* Noise that merges field by field: not tracked (values repeat). */
static void
write_flag (ConvergeWriter *w)
{
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *patch = NULL;

  if (!pick_record (w, &collection, &id))
    return;
  if (g_str_equal (collection, "notes"))
    patch = g_strdup_printf ("{\"pinned\":%s}", g_rand_boolean (w->rand) ? "true" : "false");
  else
    patch = g_strdup_printf ("{\"priority\":%d}", g_rand_int_range (w->rand, 0, 4));
  client_update (w->client, collection, id, patch);
}

/* A delete knowingly drops every value its writer sees; if an edit brings
 * the record back, those values need not come back with it. */
static void
write_delete (ConvergeWriter *w)
{
  Client *c = w->client;
  g_autofree char *collection = NULL;
  g_autofree char *id = NULL;
  g_autofree char *key = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(GPtrArray) tokens = NULL;

  if (tether_collection_count (c->notes, NULL, NULL) + tether_collection_count (c->tasks, NULL, NULL) <= 4 ||
      !pick_record (w, &collection, &id))
    return;
  record = client_get (c, collection, id);
  client_delete (c, collection, id);
  key = record_key (collection, id);
  tokens = record_tokens (record, collection);
  for (guint i = 0; i < tokens->len; i++)
    model_seen (w->model, key, "record", tokens->pdata[i]);
  model_delete (w->model, key);
}

void
converge_random_op (ConvergeWriter *w)
{
  guint dice = g_rand_int_range (w->rand, 0, 100);

  if (dice < 15)
    converge_create (w);
  else if (dice < 57)
    write_title (w);
  else if (dice < 85)
    write_text (w);
  else if (dice < 95)
    write_flag (w);
  else
    write_delete (w);
}

/* ----------------------------------------------------------------- sync */

static gboolean
expected_failure (const GError *error)
{
  return g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_NETWORK) ||
         g_error_matches (error, TETHER_SYNC_ERROR, TETHER_SYNC_ERROR_SERVER);
}

static void
try_sync (ConvergeWriter *w)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report = { 0, };

  if (client_try_sync (w->client, &report, &error))
    {
      g_autofree char *what = g_strdup_printf ("pushed=%u applied=%u merged=%u conflicts=%u", report.pushed,
                                               report.applied, report.merged, report.conflicts);

      w->syncs_ok++;
      journal (w->model, "sync", "", "ok", what);
    }
  else if (expected_failure (error))
    {
      g_autofree char *message = g_strdup (error->message);

      w->syncs_failed++;
      g_strdelimit (message, "\n\t", ' ');
      journal (w->model, "sync", "", "failed", message);
    }
  else
    converge_fail ("client %s: unexpected sync error: %s", w->client->name, error->message);
}

/* drop, lose, duplicate every nth request; the longest delay in ms */
static const guint faults[][4] = {
  { 7, 11, 13, 3 },
  { 9, 5, 0, 5 },
  { 0, 7, 4, 2 },
  { 5, 0, 9, 4 },
  { 11, 6, 7, 1 },
};

void
converge_faults_on (ConvergeWriter *w)
{
  const guint *row = faults[w->index % G_N_ELEMENTS (faults)];

  client_set_faults (w->client, row[0], row[1], row[2], row[3]);
  /* Batches of one to three changes: a sync of a few writes then has two
   * batches in flight at once, and the faults hit one while the other is
   * still out. */
  tether_sync_engine_set_batch_size (w->client->engine, 1 + w->index % 3);
}

void
converge_assert_faults (const ConvergeFaults *seen)
{
  const guint *row = faults[seen->index % G_N_ELEMENTS (faults)];
  const struct {
    const char *what;
    guint       every;
    guint       count;
  } kinds[] = {
    { "dropped", row[0], seen->dropped },
    { "lost", row[1], seen->lost },
    { "duplicated", row[2], seen->duplicated },
  };

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      if (kinds[i].every > 0 && kinds[i].count == 0)
        converge_fail ("client c%u: no request was %s, though one in %u should have been", seen->index,
                       kinds[i].what, kinds[i].every);
      if (kinds[i].every == 0 && kinds[i].count > 0)
        converge_fail ("client c%u: %u requests %s with that fault off", seen->index, kinds[i].count,
                       kinds[i].what);
    }
  if (seen->offline_spells == 0)
    converge_fail ("client c%u was never offline", seen->index);
  if (seen->syncs_failed == 0)
    converge_fail ("client c%u: no sync failed, despite its faults and the server's deaths", seen->index);
  if (seen->syncs_ok == 0)
    converge_fail ("client c%u: no sync went through: its faults leave nothing to converge", seen->index);
}

static void
offline_spell (ConvergeWriter *w,
               guint           round)
{
  if (round >= w->offline_until && g_rand_int_range (w->rand, 0, 10) == 0)
    {
      w->offline_until = round + g_rand_int_range (w->rand, 1, 5);
      w->offline_spells++;
    }
  client_set_offline (w->client, round < w->offline_until);
}

void
converge_round (ConvergeWriter *w,
                guint           round)
{
  guint ops = g_rand_int_range (w->rand, 1, 4);

  offline_spell (w, round);
  for (guint op = 0; op < ops; op++)
    converge_random_op (w);
  if (g_rand_int_range (w->rand, 0, 4) != 0)
    try_sync (w);
}

/* A change out of retries is a record that kept moving under its client
 * (docs/sync.md: "retry it when the record is quiet"), as records do when
 * five writers share a few of them; settling is that quiet time, so it
 * retries them. A change the server refused is a bug. */
static guint
retry_hot (Client *c)
{
  g_autoptr(GPtrArray) failed = client_changes (c, TETHER_CHANGE_FAILED);
  g_autoptr(GError) error = NULL;
  guint max_retries = 0;

  g_object_get (c->engine, "max-retries", &max_retries, NULL);
  for (guint i = 0; i < failed->len; i++)
    if (tether_sync_change_get_retries (failed->pdata[i]) < max_retries)
      converge_fail ("client %s: the change %s on %s/%s failed: %s", c->name,
                     tether_sync_change_get_id (failed->pdata[i]),
                     tether_sync_change_get_collection (failed->pdata[i]),
                     tether_sync_change_get_record_id (failed->pdata[i]),
                     tether_sync_change_get_error (failed->pdata[i]));
  if (failed->len > 0 && tether_sync_engine_retry_failed (c->engine, &error) < 0)
    converge_fail ("client %s: cannot retry its failed changes: %s", c->name, error->message);
  return failed->len;
}

guint
converge_settle (Client **clients,
                 guint    n_clients,
                 guint   *retried)
{
  *retried = 0;
  for (guint i = 0; i < n_clients; i++)
    if (clients[i]->faulty != NULL)
      {
        client_set_faults (clients[i], 0, 0, 0, 0);
        client_set_offline (clients[i], FALSE);
      }
  for (guint pass = 0; pass < CONVERGE_MAX_QUIET_PASSES; pass++)
    {
      gboolean quiet = TRUE;

      for (guint i = 0; i < n_clients; i++)
        {
          g_autoptr(GError) error = NULL;
          TetherSyncReport report = { 0, };
          guint hot = retry_hot (clients[i]);

          if (!client_try_sync (clients[i], &report, &error))
            converge_fail ("client %s: sync failed with a healthy link: %s", clients[i]->name, error->message);
          *retried += hot;
          quiet &= hot == 0 && report.pushed == 0 && report.applied == 0 && report.merged == 0 &&
                   report.conflicts == 0;
        }
      if (quiet)
        return pass + 1;
    }
  converge_fail ("still not quiet after %d passes of syncs", CONVERGE_MAX_QUIET_PASSES);
}

/* --------------------------------------------------------------- checks */

static GHashTable *
all_conflicts (Client **clients,
               guint    n_clients,
               guint   *n_conflicts)
{
  GHashTable *by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);

  for (guint i = 0; i < n_clients; i++)
    {
      g_autoptr(GPtrArray) conflicts = client_conflicts (clients[i], FALSE);

      for (guint c = 0; c < conflicts->len; c++)
        {
          TetherConflict *conflict = conflicts->pdata[c];
          g_autofree char *key = record_key (tether_conflict_get_collection (conflict),
                                             tether_conflict_get_record_id (conflict));
          GPtrArray *list = g_hash_table_lookup (by_key, key);

          if (tether_conflict_get_status (conflict) == TETHER_CONFLICT_OPEN)
            converge_fail ("client %s has an open conflict on %s under an automatic strategy",
                           clients[i]->name, key);
          if (list == NULL)
            {
              list = g_ptr_array_new_with_free_func (g_object_unref);
              g_hash_table_insert (by_key, g_strdup (key), list);
            }
          g_ptr_array_add (list, g_object_ref (conflict));
          (*n_conflicts)++;
        }
    }
  return by_key;
}

static gboolean
kept_in_conflicts (GPtrArray  *conflicts,
                   const char *collection,
                   const char *token)
{
  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    {
      TetherConflict *conflict = conflicts->pdata[i];
      JsonObject *sides[] = { tether_conflict_get_local (conflict), tether_conflict_get_remote (conflict),
                              tether_conflict_get_loser (conflict) };

      for (guint s = 0; s < G_N_ELEMENTS (sides); s++)
        if (sides[s] != NULL && holds_token (sides[s], collection, token))
          return TRUE;
    }
  return FALSE;
}

static gboolean
delete_lost (GPtrArray *conflicts)
{
  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    if (tether_conflict_get_local_deleted (conflicts->pdata[i]) ||
        tether_conflict_get_remote_deleted (conflicts->pdata[i]))
      return TRUE;
  return FALSE;
}

static JsonObject *
final_record (Client     *c,
              const char *key)
{
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);

  return client_get (c, parts[0], parts[1]);
}

/* Each record created is alive, or deleted by someone; alive despite a
 * delete only when a conflict log shows the edit that beat it. */
static void
check_created (ConvergeModel *model,
               Client        *c,
               GHashTable    *conflicts)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, model->created);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(JsonObject) record = final_record (c, key);
      gboolean deleted = g_hash_table_contains (model->deleted, key);

      if (record == NULL && !deleted)
        converge_fail ("%s vanished: nobody deleted it", (char *) key);
      if (record != NULL && deleted && !delete_lost (g_hash_table_lookup (conflicts, key)))
        converge_fail ("%s was deleted, yet lives on without a conflict recording the delete's loss",
                       (char *) key);
    }
}

/* Every record alive was created once by a journaled write: its tag is
 * the token of that create and no other record carries it. */
static guint
check_births (ConvergeModel *model,
              Client        *c)
{
  static const char * const collections[] = { "notes", "tasks" };
  g_autoptr(GHashTable) owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint records = 0;

  for (guint i = 0; i < G_N_ELEMENTS (collections); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) all = tether_collection_get_all (collection_named (c, collections[i]), &error);

      g_assert_no_error (error);
      for (guint r = 0; r < all->len; r++, records++)
        {
          JsonObject *data = tether_record_get_data (all->pdata[r]);
          JsonArray *tags = json_object_get_array_member (data, "tags");
          g_autofree char *key = record_key (collections[i], tether_record_get_id (all->pdata[r]));
          const char *born = g_hash_table_lookup (model->created, key);
          const char *tag = json_array_get_length (tags) == 1 ? json_array_get_string_element (tags, 0) : NULL;

          if (born == NULL || g_strcmp0 (tag, born) != 0)
            converge_fail ("%s (tag %s) is not the record any acknowledged create made", key, tag ? tag : "none");
          if (!g_hash_table_insert (owners, g_strdup (tag), g_strdup (key)))
            converge_fail ("the create %s was applied twice: %s and %s", tag,
                           (char *) g_hash_table_lookup (owners, tag), key);
        }
    }
  return records;
}

static char *
side_text (JsonObject *side,
           const char *collection)
{
  g_autofree char *text = NULL;

  if (side == NULL)
    return g_strdup ("(none)");
  text = g_strdup (object_string (side, text_field (collection)));
  if (text != NULL)
    g_strdelimit (text, "\n", ' ');
  return g_strdup_printf ("title %s, text %s", object_string (side, "title"), text);
}

static void
describe_conflict (TetherConflict *conflict,
                   const char     *collection)
{
  JsonObject *sides[] = { tether_conflict_get_base (conflict), tether_conflict_get_local (conflict),
                          tether_conflict_get_remote (conflict), tether_conflict_get_result (conflict),
                          tether_conflict_get_loser (conflict) };
  static const char * const names[] = { "base", "local", "remote", "result", "loser" };

  g_test_message ("conflict %s: %s, status %d, winner %d, local deleted %d, remote deleted %d, remote rev %"
                  G_GINT64_FORMAT ", created %" G_GINT64_FORMAT ", resolved %" G_GINT64_FORMAT,
                  tether_conflict_get_id (conflict),
                  tether_conflict_strategy_to_string (tether_conflict_get_strategy (conflict)),
                  tether_conflict_get_status (conflict), tether_conflict_get_winner (conflict),
                  tether_conflict_get_local_deleted (conflict), tether_conflict_get_remote_deleted (conflict),
                  tether_conflict_get_remote_rev (conflict), tether_conflict_get_created (conflict),
                  tether_conflict_get_resolved (conflict));
  for (guint i = 0; i < G_N_ELEMENTS (sides); i++)
    {
      g_autofree char *text = side_text (sides[i], collection);

      g_test_message ("  %s: %s", names[i], text);
    }
}

/* The story of a record whose write went missing: every journal line on
 * it (after how many syncs of its writer), its conflicts, its end. */
static void
describe_record (ConvergeModel *model,
                 Client        *c,
                 GPtrArray     *conflicts,
                 const char    *key)
{
  g_autoptr(GHashTable) syncs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) parts = g_strsplit (key, "/", 2);
  g_autoptr(JsonObject) record = final_record (c, key);
  g_autofree char *end = side_text (record, parts[0]);

  for (guint i = 0; i < model->history->len; i++)
    {
      const char *line = model->history->pdata[i];
      g_autofree char *source = g_strndup (line, strcspn (line, " "));
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (syncs, source));

      if (strstr (line, " sync\t") != NULL)
        g_hash_table_insert (syncs, g_strdup (source), GUINT_TO_POINTER (n + 1));
      else if (strstr (line, key) != NULL)
        g_test_message ("%s (after %u syncs)", line, n);
    }
  for (guint i = 0; conflicts != NULL && i < conflicts->len; i++)
    describe_conflict (conflicts->pdata[i], parts[0]);
  g_test_message ("in the end: %s", end);
}

static void
check_writes (ConvergeModel   *model,
              Client          *c,
              GHashTable      *conflicts,
              ConvergeFigures *figures)
{
  for (guint i = 0; i < model->writes->len; i++)
    {
      ConvergeWrite *entry = model->writes->pdata[i];
      g_autoptr(JsonObject) record = final_record (c, entry->key);
      g_auto(GStrv) parts = g_strsplit (entry->key, "/", 2);
      g_autofree char *mark = mark_key (entry->key, entry->token);

      if (record == NULL)
        figures->gone++;
      else if (holds_token (record, parts[0], entry->token))
        figures->present++;
      else if (g_hash_table_contains (model->superseded, mark))
        figures->overwritten++;
      else if (kept_in_conflicts (g_hash_table_lookup (conflicts, entry->key), parts[0], entry->token))
        figures->lost_logged++;
      else
        {
          g_autofree char *end = side_text (record, parts[0]);

          describe_record (model, c, g_hash_table_lookup (conflicts, entry->key), entry->key);
          converge_fail ("the write %s = %s on %s is neither in the final record (%s), nor seen and written "
                         "over by a later write, nor in any conflict log", entry->field, entry->token,
                         entry->key, end);
        }
    }
  figures->writes = model->writes->len;
}

/* Why each failed change failed: what a report of the bug needs. */
static void
describe_failed (Client *c)
{
  g_autoptr(GPtrArray) failed = client_changes (c, TETHER_CHANGE_FAILED);

  for (guint i = 0; i < failed->len; i++)
    {
      TetherSyncChange *change = failed->pdata[i];

      g_test_message ("client %s: failed change %s on %s/%s after %u retries: %s", c->name,
                      tether_sync_change_get_id (change), tether_sync_change_get_collection (change),
                      tether_sync_change_get_record_id (change), tether_sync_change_get_retries (change),
                      tether_sync_change_get_error (change));
    }
}

static void
check_clients (Fixture     *f,
               Server      *s,
               const char  *token,
               Client     **clients,
               guint        n_clients)
{
  for (guint i = 0; i < n_clients; i++)
    {
      guint failed = tether_sync_engine_get_failed_count (clients[i]->engine);

      if (failed != 0)
        describe_failed (clients[i]);
      if (failed != 0)
        converge_fail ("client %s has %u failed changes", clients[i]->name, failed);
    }
  assert_converged (f, s, token, clients, n_clients);
}

void
converge_assert_eventful (const ConvergeFigures  *figures,
                          TetherConflictStrategy  strategy)
{
  if (figures->conflicts == 0)
    converge_fail ("no conflict was logged: the world never made two writers meet");
  if (strategy == TETHER_CONFLICT_STRATEGY_LWW && figures->lost_logged == 0)
    converge_fail ("no write was kept only as a conflict's loser, under last writer wins");
}

void
converge_check (ConvergeModel    *model,
                Fixture          *f,
                Server           *s,
                const char       *token,
                Client          **clients,
                guint             n_clients,
                ConvergeFigures  *figures)
{
  g_autoptr(GHashTable) conflicts = NULL;

  memset (figures, 0, sizeof *figures);
  check_clients (f, s, token, clients, n_clients);
  conflicts = all_conflicts (clients, n_clients, &figures->conflicts);
  check_created (model, clients[0], conflicts);
  figures->records = check_births (model, clients[0]);
  check_writes (model, clients[0], conflicts, figures);
  g_test_message ("%u writes: %u present, %u overwritten, %u kept in a conflict log, %u on deleted "
                  "records; %u records, %u conflicts logged", figures->writes, figures->present,
                  figures->overwritten, figures->lost_logged, figures->gone, figures->records,
                  figures->conflicts);
}
