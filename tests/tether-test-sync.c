/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-test-sync"
#include "config.h"

#include <string.h>

#include "tether-test-sync.h"
#include "tether-private.h"

/* Sync clients over a real tether-server, and what their tests compare. */

/* ---------------------------------------------------------------- clients */

static TetherTransport *
transport_new (Client *c)
{
  if (c->flags & CLIENT_WS)
    return TETHER_TRANSPORT (tether_ws_transport_new (c->url, c->token));
  return TETHER_TRANSPORT (tether_http_transport_new (c->url, c->token));
}

/* The engine's transport: the inner one, wrapped when faults are wanted. */
static void
client_attach (Client *c)
{
  if (c->flags & CLIENT_REMOTE)
    {
      tether_sync_engine_set_remote (c->engine, c->url, c->token);
      return;
    }
  if (c->inner == NULL)
    c->inner = transport_new (c);
  if ((c->flags & CLIENT_FAULTY) && c->faulty == NULL)
    c->faulty = tether_faulty_transport_new (c->inner, c->seed);
  tether_sync_engine_set_transport (c->engine,
                                    c->faulty ? TETHER_TRANSPORT (c->faulty) : c->inner);
}

static void
client_open_with (Client       *c,
                  TetherSchema *schema)
{
  g_autoptr(GError) error = NULL;

  c->db = tether_database_open (c->path, schema, &error);
  g_assert_no_error (error);
  c->engine = tether_sync_engine_new (c->db, &error);
  g_assert_no_error (error);
  g_assert_nonnull (c->engine);
  c->notes = tether_database_get_collection (c->db, "notes", &error);
  g_assert_no_error (error);
  c->tasks = tether_schema_has_collection (schema, "tasks")
    ? tether_database_get_collection (c->db, "tasks", &error) : NULL;
  g_assert_no_error (error);
  client_attach (c);
}

static void
client_open (Client *c)
{
  g_autoptr(TetherSchema) schema = tether_schema_new_default ();

  client_open_with (c, schema);
}

static void
client_close (Client *c)
{
  if (c->inner != NULL)
    tether_transport_disconnect (c->inner);
  g_clear_object (&c->faulty);
  g_clear_object (&c->inner);
  g_clear_object (&c->engine);
  if (c->db != NULL)
    tether_database_close (c->db);
  g_clear_object (&c->db);
  c->notes = c->tasks = NULL;
}

static void
client_free (gpointer data)
{
  Client *c = data;

  client_close (c);
  g_free (c->name);
  g_free (c->path);
  g_free (c->token);
  g_free (c->url);
  g_free (c);
}

Client *
client_new_full (Fixture     *f,
                 Server      *s,
                 const char  *name,
                 const char  *token,
                 ClientFlags  flags,
                 guint32      seed)
{
  g_autofree char *file = g_strdup_printf ("client-%s.db", name);
  Client *c = g_new0 (Client, 1);

  c->f = f;
  c->s = s;
  c->name = g_strdup (name);
  c->path = g_build_filename (f->dir, file, NULL);
  c->token = g_strdup (token);
  c->url = g_strdup (s->base);
  c->flags = flags;
  c->seed = seed;
  client_open (c);
  g_test_queue_destroy (client_free, c);
  return c;
}

Client *
client_new (Fixture    *f,
            Server     *s,
            const char *name,
            const char *token)
{
  return client_new_full (f, s, name, token, CLIENT_HTTP, 0);
}

void
client_reopen (Client *c)
{
  client_close (c);
  client_open (c);
}

void
client_reopen_schema (Client       *c,
                      TetherSchema *schema)
{
  client_close (c);
  client_open_with (c, schema);
}

void
client_retarget (Client *c)
{
  if (c->inner != NULL)
    tether_transport_disconnect (c->inner);
  g_clear_object (&c->faulty);
  g_clear_object (&c->inner);
  g_assert_nonnull (c->s->base);
  g_free (c->url);
  c->url = g_strdup (c->s->base);
  client_attach (c);
}

void
client_set_faults (Client *c,
                   guint   drop_every,
                   guint   lose_every,
                   guint   duplicate_every,
                   guint   max_delay_ms)
{
  g_assert_nonnull (c->faulty);
  tether_faulty_transport_set_drop_every (c->faulty, drop_every);
  tether_faulty_transport_set_lose_every (c->faulty, lose_every);
  tether_faulty_transport_set_duplicate_every (c->faulty, duplicate_every);
  tether_faulty_transport_set_max_delay (c->faulty, max_delay_ms);
}

void
client_set_offline (Client   *c,
                    gboolean  offline)
{
  g_assert_nonnull (c->faulty);
  tether_faulty_transport_set_offline (c->faulty, offline);
}

/* ------------------------------------------------------------------- sync */

typedef struct {
  gboolean          done;
  gboolean          ok;
  TetherSyncReport  report;
  GError           *error;
} SyncCall;

static void
sync_done (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  SyncCall *call = data;

  call->ok = tether_sync_engine_sync_finish (TETHER_SYNC_ENGINE (source), result,
                                             &call->report, &call->error);
  call->done = TRUE;
}

gboolean
client_try_sync (Client           *c,
                 TetherSyncReport *report,
                 GError          **error)
{
  SyncCall *call = g_new0 (SyncCall, 1);
  gboolean ok;

  tether_sync_engine_sync_async (c->engine, NULL, sync_done, call);
  if (!wait_until (c->f, flag_ready, &call->done, SYNC_TIMEOUT_MS))
    g_error ("client %s: the sync did not end within %d ms", c->name, SYNC_TIMEOUT_MS);
  ok = call->ok;
  if (report != NULL)
    *report = call->report;
  g_assert_true (ok == (call->error == NULL));
  if (call->error != NULL)
    g_propagate_error (error, call->error);
  g_free (call);
  return ok;
}

TetherSyncReport
client_sync (Client *c)
{
  TetherSyncReport report = { 0, };
  g_autoptr(GError) error = NULL;

  if (!client_try_sync (c, &report, &error))
    g_error ("client %s: sync failed: %s (%s %d)", c->name, error->message,
             g_quark_to_string (error->domain), error->code);
  return report;
}

static gboolean
sending (gpointer data)
{
  Client *c = data;
  TetherSyncStats stats = { 0, };
  g_autoptr(GError) error = NULL;

  if (!tether_sync_engine_get_stats (c->engine, &stats, &error))
    g_error ("client %s: stats: %s", c->name, error->message);
  return stats.syncing > 0;
}

TetherSyncReport
client_sync_writing (Client      *c,
                     ClientWrite  write,
                     gpointer     data)
{
  g_autofree SyncCall *call = g_new0 (SyncCall, 1);
  g_autoptr(GError) error = NULL;

  tether_sync_engine_sync_async (c->engine, NULL, sync_done, call);
  /* the answer is stored on this context, so it cannot land in between */
  if (!wait_until (c->f, sending, c, SYNC_TIMEOUT_MS))
    g_error ("client %s: nothing was sent within %d ms", c->name, SYNC_TIMEOUT_MS);
  g_assert_false (call->done);
  write (c, data);
  if (!wait_until (c->f, flag_ready, &call->done, SYNC_TIMEOUT_MS))
    g_error ("client %s: the sync did not end within %d ms", c->name, SYNC_TIMEOUT_MS);
  error = call->error;
  if (!call->ok)
    g_error ("client %s: sync failed: %s", c->name, error->message);
  return call->report;
}

TetherSyncReport
client_sync_blocking (Client *c)
{
  TetherSyncReport report = { 0, };
  g_autoptr(GError) error = NULL;

  if (!tether_sync_engine_sync (c->engine, &report, &error))
    g_error ("client %s: blocking sync failed: %s", c->name, error->message);
  return report;
}

void
client_sync_error (Client *c,
                   int     code)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (client_try_sync (c, NULL, &error));
  g_assert_error (error, TETHER_SYNC_ERROR, code);
}

/* ----------------------------------------------------------------- writes */

static TetherCollection *
collection_of (Client     *c,
               const char *name)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *collection = tether_database_get_collection (c->db, name, &error);

  g_assert_no_error (error);
  return collection;
}

char *
client_create (Client     *c,
               const char *collection,
               const char *json)
{
  g_autoptr(JsonObject) data = tether_test_object (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_create (collection_of (c, collection), data, &error);

  g_assert_no_error (error);
  return g_strdup (tether_record_get_id (record));
}

/* As a file saved before local writes were checked as they are now (a
 * record nested deeper than the server takes): its change is logged and
 * pushed like any other. */
char *
client_create_unchecked (Client     *c,
                         const char *collection,
                         const char *json)
{
  g_autoptr(JsonObject) data = tether_test_object (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  TetherCollection *target = collection_of (c, collection);
  TetherWriteScope scope;

  g_assert_true (_tether_write_scope_begin (target, TETHER_WRITE_NO_VALIDATE, &scope, &error));
  record = _tether_collection_insert (target, data, TETHER_WRITE_NO_VALIDATE, &error);
  g_assert_true (_tether_write_scope_end (&scope, record != NULL, &error));
  g_assert_no_error (error);
  return g_strdup (tether_record_get_id (record));
}

void
client_put (Client     *c,
            const char *collection,
            const char *json)
{
  g_autoptr(JsonObject) data = tether_test_object (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_put (collection_of (c, collection), data, &error);

  g_assert_no_error (error);
}

void
client_update (Client     *c,
               const char *collection,
               const char *id,
               const char *patch)
{
  g_autoptr(JsonObject) data = tether_test_object (patch);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_update (collection_of (c, collection), id, data, &error);

  g_assert_no_error (error);
}

void
client_delete (Client     *c,
               const char *collection,
               const char *id)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_collection_delete (collection_of (c, collection), id, &error));
  g_assert_no_error (error);
}

JsonObject *
client_get (Client     *c,
            const char *collection,
            const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_get (collection_of (c, collection), id, &error);

  if (record == NULL)
    {
      g_assert_error (error, TETHER_DATABASE_ERROR, TETHER_DATABASE_ERROR_NOT_FOUND);
      return NULL;
    }
  return json_object_ref (tether_record_get_data (record));
}

const char *
object_string (JsonObject *object,
               const char *member)
{
  JsonNode *node;

  if (object == NULL || (node = json_object_get_member (object, member)) == NULL ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

char *
client_string (Client     *c,
               const char *collection,
               const char *id,
               const char *field)
{
  g_autoptr(JsonObject) data = client_get (c, collection, id);

  return g_strdup (object_string (data, field));
}

/* ------------------------------------------------------------------ dumps */

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static JsonNode *
sorted_copy (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(JsonObject) copy = json_object_new ();
      g_autoptr(GList) members = json_object_get_members (object);
      g_autoptr(GPtrArray) names = g_ptr_array_new ();

      for (GList *l = members; l != NULL; l = l->next)
        g_ptr_array_add (names, l->data);
      g_ptr_array_sort (names, compare_strings);
      for (guint i = 0; i < names->len; i++)
        json_object_set_member (copy, names->pdata[i],
                                sorted_copy (json_object_get_member (object, names->pdata[i])));
      return json_node_init_object (json_node_alloc (), copy);
    }
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      g_autoptr(JsonArray) copy = json_array_new ();

      for (guint i = 0; i < json_array_get_length (array); i++)
        json_array_add_element (copy, sorted_copy (json_array_get_element (array, i)));
      return json_node_init_array (json_node_alloc (), copy);
    }
  return json_node_copy (node);
}

char *
canonical_node (JsonNode *node)
{
  g_autoptr(JsonNode) sorted = NULL;

  if (node == NULL)
    return g_strdup ("null");
  sorted = sorted_copy (node);
  return json_to_string (sorted, FALSE);
}

char *
canonical_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = NULL;

  if (object == NULL)
    return g_strdup ("null");
  node = json_node_init_object (json_node_alloc (), object);
  return canonical_node (node);
}

/* Canonical record texts by collection, then by id: the common dump form. */
static char *
dump_text (GHashTable *by_collection)
{
  static const char * const collections[] = { "notes", "tasks" };
  GString *text = g_string_new ("{");

  for (guint i = 0; i < G_N_ELEMENTS (collections); i++)
    {
      GTree *records = g_hash_table_lookup (by_collection, collections[i]);
      gboolean first = TRUE;

      g_string_append_printf (text, "%s\"%s\":[", i ? "," : "", collections[i]);
      for (GTreeNode *n = records ? g_tree_node_first (records) : NULL; n; n = g_tree_node_next (n))
        {
          g_string_append_printf (text, "%s\n%s", first ? "" : ",", (char *) g_tree_node_value (n));
          first = FALSE;
        }
      g_string_append (text, "]");
    }
  g_string_append (text, "}");
  return g_string_free (text, FALSE);
}

static int
compare_keys (gconstpointer a,
              gconstpointer b,
              gpointer      data)
{
  return strcmp (a, b);
}

static GTree *
dump_collection (GHashTable *by_collection,
                 const char *collection)
{
  GTree *records = g_hash_table_lookup (by_collection, collection);

  if (records == NULL)
    {
      records = g_tree_new_full (compare_keys, NULL, g_free, g_free);
      g_hash_table_insert (by_collection, g_strdup (collection), records);
    }
  return records;
}

static GHashTable *
dump_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_tree_unref);
}

char *
client_dump (Client *c)
{
  g_autoptr(GHashTable) by_collection = dump_new ();
  static const char * const collections[] = { "notes", "tasks" };

  for (guint i = 0; i < G_N_ELEMENTS (collections); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) all = tether_collection_get_all (collection_of (c, collections[i]), &error);
      GTree *records = dump_collection (by_collection, collections[i]);

      g_assert_no_error (error);
      for (guint r = 0; r < all->len; r++)
        g_tree_insert (records, g_strdup (tether_record_get_id (all->pdata[r])),
                       canonical_object (tether_record_get_data (all->pdata[r])));
    }
  return dump_text (by_collection);
}

/* Every record appears once in a pull from null (the server keeps its
 * latest state); a second entry for one id would be a duplicate. */
char *
server_dump (Fixture    *f,
             Server     *s,
             const char *token,
             gint64     *feed_end)
{
  g_autoptr(GHashTable) by_collection = dump_new ();
  g_autofree char *cursor = NULL;
  g_autoptr(JsonArray) changes = pull_all (f, s, token, NULL, &cursor);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < json_array_get_length (changes); i++)
    {
      JsonObject *change = json_array_get_object_element (changes, i);
      const char *collection = json_object_get_string_member (change, "collection");
      g_autofree char *id = node_text (json_object_get_member (change, "recordId"));
      char *key = g_strdup_printf ("%s/%s", collection, id);
      JsonNode *data = json_object_get_member (change, "data");

      if (!g_hash_table_add (seen, key))
        g_error ("the server's feed holds %s twice", key);
      if (g_str_equal (json_object_get_string_member (change, "type"), "delete") ||
          data == NULL || JSON_NODE_HOLDS_NULL (data))
        continue;
      g_tree_insert (dump_collection (by_collection, collection),
                     g_strdup (object_string (json_node_get_object (data), "id")),
                     canonical_node (data));
    }
  if (feed_end != NULL)
    *feed_end = cursor ? g_ascii_strtoll (cursor, NULL, 10) : 0;
  return dump_text (by_collection);
}

void
assert_converged (Fixture     *f,
                  Server      *s,
                  const char  *token,
                  Client     **clients,
                  guint        n_clients)
{
  g_autofree char *server = server_dump (f, s, token, NULL);

  for (guint i = 0; i < n_clients; i++)
    {
      g_autofree char *client = client_dump (clients[i]);

      if (!g_str_equal (client, server))
        g_test_message ("client %s differs from the server", clients[i]->name);
      g_assert_cmpstr (client, ==, server);
    }
}

GPtrArray *
client_changes (Client *c,
                int     status)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *changes = tether_sync_engine_list_changes (c->engine, status, &error);

  g_assert_no_error (error);
  g_assert_nonnull (changes);
  return changes;
}

GPtrArray *
client_conflicts (Client   *c,
                  gboolean  open_only)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *conflicts = tether_sync_engine_list_conflicts (c->engine, open_only, &error);

  g_assert_no_error (error);
  g_assert_nonnull (conflicts);
  return conflicts;
}

/* ---------------------------------------------------------------- servers */

static char *
base_port (const char *base)
{
  g_autoptr(GUri) uri = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (uri);
  return g_strdup_printf ("127.0.0.1:%d", g_uri_get_port (uri));
}

static void
extra_replace (Server             *s,
               const char * const *extra,
               const char         *listen)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
    if (g_str_equal (extra[i], "--listen") && extra[i + 1] != NULL)
      i++;
    else
      g_strv_builder_add (builder, extra[i]);
  if (listen != NULL)
    {
      /* serve takes the last --listen, and server_spawn puts ours after its own */
      g_strv_builder_add (builder, "--listen");
      g_strv_builder_add (builder, listen);
    }
  g_strfreev (s->extra);
  s->extra = g_strv_builder_end (builder);
}

static char *
pinned_listen (Server *s)
{
  for (guint i = 0; s->extra[i] != NULL; i++)
    if (g_str_equal (s->extra[i], "--listen") && s->extra[i + 1] != NULL)
      return g_strdup (s->extra[i + 1]);
  return NULL;
}

void
server_pin_port (Server *s)
{
  g_autofree char *listen = base_port (s->base);
  g_auto(GStrv) extra = g_strdupv (s->extra);

  extra_replace (s, (const char * const *) extra, listen);
}

void
server_set_extra (Server             *s,
                  const char * const *extra)
{
  g_autofree char *listen = pinned_listen (s);

  extra_replace (s, extra, listen);
}

void
server_revive (Fixture *f,
               Server  *s)
{
  g_assert_null (s->process);
  server_spawn (f, s);
}

/* -------------------------------------------------------------------- CLI */

const char *
cli_path (void)
{
  const char *path = g_getenv ("TETHER_CLI");

  if (path == NULL)
    g_error ("TETHER_CLI is not set; run the tests with meson test");
  return path;
}

struct _CliRun {
  GSubprocess *process;
  gboolean     done;
  char        *out;
  char        *err;
  GError      *error;
};

static void
cli_done (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  CliRun *run = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result,
                                        &run->out, &run->err, &run->error);
  run->done = TRUE;
}

CliRun *
cli_start (Fixture            *f,
           const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  CliRun *run = g_new0 (CliRun, 1);

  g_ptr_array_add (argv, (gpointer) cli_path ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  run->process = g_subprocess_newv ((const char * const *) argv->pdata,
                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (run->process, NULL, NULL, cli_done, run);
  return run;
}

Command *
cli_wait (Fixture *f,
          CliRun  *run)
{
  Command *command = g_new0 (Command, 1);

  if (!wait_until (f, flag_ready, &run->done, REQUEST_TIMEOUT_MS))
    g_error ("the CLI did not finish within %d ms", REQUEST_TIMEOUT_MS);
  g_assert_no_error (run->error);
  g_subprocess_wait (run->process, NULL, NULL);
  command->status = g_subprocess_get_if_exited (run->process) ? g_subprocess_get_exit_status (run->process) : -1;
  command->out = run->out;
  command->err = run->err;
  g_object_unref (run->process);
  g_free (run);
  return command;
}

Command *
cli_run (Fixture            *f,
         const char * const *args)
{
  return cli_wait (f, cli_start (f, args));
}

gboolean
cli_has_command (Fixture    *f,
                 const char *command)
{
  static const char * const args[] = { "--help", NULL };
  g_autoptr(Command) help = cli_run (f, args);
  g_autofree char *pattern = g_strdup_printf ("(?m)^\\s+%s(\\s|$)", command);

  return g_regex_match_simple (pattern, help->out ? help->out : "", 0, 0);
}

/* ----------------------------------------------------------------- schema */

char *
schema_file_new (const char  *dir,
                 void       (*edit) (JsonObject *schema))
{
  const char *root = g_getenv ("TETHER_SOURCE_ROOT");
  g_autofree char *source = NULL;
  g_autofree char *text = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  char *path;

  if (root == NULL)
    g_error ("TETHER_SOURCE_ROOT is not set; run the tests with meson test");
  source = g_build_filename (root, "data", "tether-schema.json", NULL);
  g_file_get_contents (source, &text, NULL, &error);
  g_assert_no_error (error);
  node = tether_test_node (text);
  if (edit != NULL)
    edit (json_node_get_object (node));
  out = json_to_string (node, TRUE);
  path = g_build_filename (dir, "schema.json", NULL);
  g_file_set_contents (path, out, -1, &error);
  g_assert_no_error (error);
  return path;
}
