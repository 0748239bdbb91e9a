/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-item-model"
#include "config.h"

#include <string.h>

#include "tether-item-model.h"

/* Two live queries (notes, tasks) merged into one sorted list. Each source
 * keeps a mirror of its live query, so that on items-changed the records
 * that left are still at hand; each of them is found in the merged list by
 * binary search on cached keys, so a change costs O(log n) compares plus
 * one memmove, never a pass over the list. Replacing the queries (kind,
 * tag) rebuilds the list once and emits one items-changed.
 *
 * While a search text is set the model shows other lists: the best
 * SEARCH_LIMIT matches of each collection by relevance (bm25), taken in
 * turn, best first. Each keystroke is then one small ranked query per
 * collection and one items-changed; records that still match keep their
 * objects, so the list view keeps their rows. The whole list stays loaded
 * and current underneath, so clearing the search costs no query. */

/* A source change larger than this is cheaper to answer with one rebuild. */
#define REBUILD_THRESHOLD 256

/* Matches shown per collection while searching. */
#define SEARCH_LIMIT 200

/* Matches ranked per collection: the newest this many. The first letters
 * typed match most notes, and ranking every one of 100,000 took 150-250 ms a
 * keystroke; when more match, the best 200 of the latest 2,000 are what a
 * person is after until the next letters narrow it down. */
#define SEARCH_RANK_WITHIN 2000

/* The list's records hold what a row shows (tether-item-row.c), texts cut
 * to a line's worth: 100,000 notes then take a fraction of the memory. The
 * editor and the actions read whole records from the database. */
#define PREVIEW_CHARS 120
static const char * const note_preview[] = { "title", "body", "tags", "pinned", NULL };
static const char * const task_preview[] = { "title", "notes", "done", "due", "tags", NULL };

typedef struct {
  TetherRecord *record;
  gint64        updated_at;
  gboolean      pinned;
} Entry;

typedef struct {
  TetherItemModel *self;
  const char      *collection;
  TetherLiveQuery *live;     /* NULL when the kind filter leaves it out */
  GPtrArray       *mirror;   /* TetherRecord, as the live query last told us */
  gulong           handler;
  gboolean         ranked;   /* a search source */
} Source;

struct _TetherItemModel
{
  GObject         parent_instance;
  TetherDatabase *db;
  Source          sources[2];
  Source          found[2];   /* ranked searches, while searching */
  GArray         *entries;   /* Entry, merged and sorted */
  GPtrArray      *matches;   /* TetherRecord, the search results merged */
  char           *search;     /* NULL: no search */
  gboolean        searching;  /* the matches are shown, not the list */
  char           *tag;        /* NULL: every tag */
  TetherItemKind  kind;
  guint           busy;       /* inside our own items-changed */
  gboolean        needs_rebuild;
  gboolean        needs_matches;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherItemModel, tether_item_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

static GType
get_item_type (GListModel *model)
{
  return TETHER_TYPE_RECORD;
}

static guint
get_n_items (GListModel *model)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (model);

  return self->searching ? self->matches->len : self->entries->len;
}

static gpointer
get_item (GListModel *model,
          guint       position)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (model);

  if (self->searching)
    return position < self->matches->len ? g_object_ref (g_ptr_array_index (self->matches, position)) : NULL;
  if (position >= self->entries->len)
    return NULL;
  return g_object_ref (g_array_index (self->entries, Entry, position).record);
}

/* Changes to the whole list reach views only while it is shown. */
static void
list_changed (TetherItemModel *self,
              guint            position,
              guint            removed,
              guint            added)
{
  if (!self->searching)
    g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = get_item_type;
  iface->get_n_items = get_n_items;
  iface->get_item = get_item;
}

/* Entries -------------------------------------------------------------------- */

static Entry
entry_new_pinned (TetherRecord *record,
                  gboolean      pinned)
{
  Entry entry;

  entry.record = g_object_ref (record);
  entry.updated_at = tether_record_get_updated_at (record);
  entry.pinned = pinned;
  return entry;
}

/* Asking for "pinned" parses the record's JSON: fine for one record. */
static Entry
entry_new (TetherRecord *record)
{
  return entry_new_pinned (record, tether_record_get_boolean (record, "pinned", FALSE));
}

static void
entry_clear (gpointer data)
{
  Entry *entry = data;

  g_clear_object (&entry->record);
}

/* Pinned first, newest first; collection and id make the order total. */
static int
entry_compare (const Entry *a,
               const Entry *b)
{
  int c;

  if (a->pinned != b->pinned)
    return a->pinned ? -1 : 1;
  if (a->updated_at != b->updated_at)
    return a->updated_at > b->updated_at ? -1 : 1;
  c = strcmp (tether_record_get_collection (a->record), tether_record_get_collection (b->record));
  if (c != 0)
    return c;
  return -strcmp (tether_record_get_id (a->record), tether_record_get_id (b->record));
}

static int
entry_compare_func (gconstpointer a,
                    gconstpointer b)
{
  return entry_compare (a, b);
}

/* Where @entry is, or would go. */
static guint
entries_search (TetherItemModel *self,
                const Entry     *entry)
{
  guint lo = 0, hi = self->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (entry_compare (&g_array_index (self->entries, Entry, mid), entry) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Position of @record (the very object, so with its old keys), or -1. */
static gint
entries_find (TetherItemModel *self,
              TetherRecord    *record)
{
  Entry key = { record, tether_record_get_updated_at (record),
                tether_record_get_boolean (record, "pinned", FALSE) };
  guint pos = entries_search (self, &key);

  if (pos < self->entries->len && g_array_index (self->entries, Entry, pos).record == record)
    return pos;
  return -1;
}

/* Sources -------------------------------------------------------------------- */

static gboolean
source_included (TetherItemModel *self,
                 guint            index)
{
  return self->kind == TETHER_ITEM_KIND_ALL ||
         (self->kind == TETHER_ITEM_KIND_NOTES && index == 0) ||
         (self->kind == TETHER_ITEM_KIND_TASKS && index == 1);
}

/* How many records of @source are pinned. Its query puts pinned notes
 * first, so a binary search finds out parsing a few records' JSON, not all
 * 100,000 (which took a second and 250 MB). Tasks are never pinned. */
static guint
source_n_pinned (Source *source)
{
  guint lo = 0, hi = source->mirror->len;

  if (!g_str_equal (source->collection, "notes"))
    return 0;
  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (tether_record_get_boolean (g_ptr_array_index (source->mirror, mid), "pinned", FALSE))
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* The whole list again from the mirrors, as one items-changed trimmed to
 * the part that differs. */
static void
rebuild (TetherItemModel *self)
{
  g_autoptr(GArray) old = g_steal_pointer (&self->entries);
  guint prefix = 0, suffix = 0;

  self->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (self->entries, entry_clear);
  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      guint n_pinned = source_n_pinned (&self->sources[s]);

      for (guint i = 0; i < self->sources[s].mirror->len; i++)
        {
          Entry entry = entry_new_pinned (g_ptr_array_index (self->sources[s].mirror, i), i < n_pinned);
          g_array_append_val (self->entries, entry);
        }
    }
  g_array_sort (self->entries, entry_compare_func);

  while (prefix < old->len && prefix < self->entries->len &&
         g_array_index (old, Entry, prefix).record == g_array_index (self->entries, Entry, prefix).record)
    prefix++;
  while (suffix < old->len - prefix && suffix < self->entries->len - prefix &&
         g_array_index (old, Entry, old->len - 1 - suffix).record ==
         g_array_index (self->entries, Entry, self->entries->len - 1 - suffix).record)
    suffix++;
  if (old->len != prefix + suffix || self->entries->len != prefix + suffix)
    list_changed (self, prefix, old->len - prefix - suffix, self->entries->len - prefix - suffix);
}

/* The search results again from the found mirrors, the best of each
 * collection in turn, as one items-changed trimmed to the part that differs. */
static void
rebuild_matches (TetherItemModel *self)
{
  g_autoptr(GPtrArray) old = g_steal_pointer (&self->matches);
  GPtrArray *notes = self->found[0].mirror, *tasks = self->found[1].mirror;
  guint prefix = 0, suffix = 0;

  self->matches = g_ptr_array_new_full (notes->len + tasks->len, g_object_unref);
  for (guint i = 0; i < MAX (notes->len, tasks->len); i++)
    {
      if (i < notes->len)
        g_ptr_array_add (self->matches, g_object_ref (g_ptr_array_index (notes, i)));
      if (i < tasks->len)
        g_ptr_array_add (self->matches, g_object_ref (g_ptr_array_index (tasks, i)));
    }
  if (!self->searching)
    return;
  while (prefix < old->len && prefix < self->matches->len &&
         g_ptr_array_index (old, prefix) == g_ptr_array_index (self->matches, prefix))
    prefix++;
  while (suffix < old->len - prefix && suffix < self->matches->len - prefix &&
         g_ptr_array_index (old, old->len - 1 - suffix) ==
         g_ptr_array_index (self->matches, self->matches->len - 1 - suffix))
    suffix++;
  if (old->len != prefix + suffix || self->matches->len != prefix + suffix)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix, old->len - prefix - suffix,
                                self->matches->len - prefix - suffix);
}

static void
remove_record (TetherItemModel *self,
               TetherRecord    *record)
{
  gint pos = entries_find (self, record);

  g_return_if_fail (pos >= 0);
  g_array_remove_index (self->entries, pos);
  list_changed (self, pos, 1, 0);
}

static void
insert_record (TetherItemModel *self,
               TetherRecord    *record)
{
  Entry entry = entry_new (record);
  guint pos = entries_search (self, &entry);

  g_array_insert_val (self->entries, pos, entry);
  list_changed (self, pos, 0, 1);
}

/* One record replaced by its new version: (i,1,1) when it stays put,
 * otherwise a remove and an insert. */
static void
replace_record (TetherItemModel *self,
                TetherRecord    *old_record,
                TetherRecord    *new_record)
{
  gint old_pos = entries_find (self, old_record);
  Entry entry = entry_new (new_record);
  guint new_pos;

  if (old_pos < 0)
    {
      entry_clear (&entry);
      g_return_if_reached ();
    }
  g_array_remove_index (self->entries, old_pos);
  new_pos = entries_search (self, &entry);
  if ((guint) old_pos != new_pos)
    list_changed (self, old_pos, 1, 0);
  g_array_insert_val (self->entries, new_pos, entry);
  if ((guint) old_pos == new_pos)
    list_changed (self, new_pos, 1, 1);
  else
    list_changed (self, new_pos, 0, 1);
}

/* Rebuild until no handler of ours wrote to the database meanwhile. */
static void
settle (TetherItemModel *self)
{
  while ((self->needs_rebuild || self->needs_matches) && self->busy == 0)
    {
      self->busy++;
      if (self->needs_rebuild)
        {
          self->needs_rebuild = FALSE;
          rebuild (self);
        }
      else
        {
          self->needs_matches = FALSE;
          rebuild_matches (self);
        }
      self->busy--;
    }
}

static void
source_items_changed (GListModel *live,
                      guint       position,
                      guint       removed,
                      guint       added,
                      Source     *source)
{
  TetherItemModel *self = source->self;
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) came = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < removed; i++)
    g_ptr_array_add (gone, g_object_ref (g_ptr_array_index (source->mirror, position + i)));
  g_ptr_array_remove_range (source->mirror, position, removed);
  for (guint i = 0; i < added; i++)
    {
      TetherRecord *record = g_list_model_get_item (live, position + i);

      g_ptr_array_insert (source->mirror, position + i, g_object_ref (record));
      g_ptr_array_add (came, record);
    }

  /* At most SEARCH_LIMIT records: merging them again is cheap. */
  if (source->ranked)
    {
      self->needs_matches = TRUE;
      settle (self);
      return;
    }

  /* A handler of our own items-changed wrote to the database: the list is
   * half updated, so settle it with a rebuild once the outer change is done. */
  if (self->busy > 0 || removed + added > REBUILD_THRESHOLD)
    {
      self->needs_rebuild = TRUE;
      if (self->busy > 0)
        return;
    }

  self->busy++;
  if (self->needs_rebuild)
    ;
  else if (removed == 1 && added == 1)
    replace_record (self, g_ptr_array_index (gone, 0), g_ptr_array_index (came, 0));
  else
    {
      for (guint i = 0; i < gone->len; i++)
        remove_record (self, g_ptr_array_index (gone, i));
      for (guint i = 0; i < came->len; i++)
        insert_record (self, g_ptr_array_index (came, i));
    }
  self->busy--;
  settle (self);
}

static void
source_clear (Source *source)
{
  if (source->live != NULL)
    g_clear_signal_handler (&source->handler, source->live);
  g_clear_object (&source->live);
  g_ptr_array_set_size (source->mirror, 0);
}

/* The whole list is sorted, pinned notes first; a search shows the best
 * SEARCH_LIMIT matches, ranked by bm25 (no sort). */
static TetherQuery *
build_query (TetherItemModel  *self,
             Source           *source,
             GError          **error)
{
  TetherCollection *collection = tether_database_get_collection (self->db, source->collection, error);
  g_autoptr(TetherQuery) query = NULL;

  if (collection == NULL)
    return NULL;
  query = tether_query_new (collection);
  tether_query_preview (query, g_str_equal (source->collection, "notes") ? note_preview : task_preview,
                        PREVIEW_CHARS);
  if (self->tag != NULL)
    {
      g_autoptr(JsonNode) tag = json_node_init_string (json_node_alloc (), self->tag);

      tether_query_where (query, "tags", TETHER_OP_CONTAINS, tag);
    }
  if (source->ranked)
    {
      tether_query_search (query, self->search);
      tether_query_rank_within (query, SEARCH_RANK_WITHIN);
      tether_query_limit (query, SEARCH_LIMIT);
      return g_steal_pointer (&query);
    }
  if (g_str_equal (source->collection, "notes"))
    tether_query_sort (query, "pinned", TRUE);
  tether_query_sort (query, "updatedAt", TRUE);
  return g_steal_pointer (&query);
}

static void
source_copy_live (Source *source)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (source->live));

  g_ptr_array_set_size (source->mirror, 0);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (source->mirror, g_list_model_get_item (G_LIST_MODEL (source->live), i));
}

/* A search source already running takes the new query in place (so the
 * records that still match keep their objects); its own items-changed is
 * blocked: the caller merges both sources once. */
static gboolean
source_load (TetherItemModel  *self,
             Source           *source,
             GError          **error)
{
  g_autoptr(TetherQuery) query = NULL;
  guint index = source->ranked ? source - self->found : source - self->sources;

  if (!source_included (self, index))
    {
      source_clear (source);
      return TRUE;
    }
  if ((query = build_query (self, source, error)) == NULL)
    return FALSE;
  if (source->ranked && source->live != NULL)
    {
      gboolean ok;

      g_signal_handler_block (source->live, source->handler);
      ok = tether_live_query_set_query (source->live, query, error);
      g_signal_handler_unblock (source->live, source->handler);
      source_copy_live (source);
      return ok;
    }
  source_clear (source);
  if ((source->live = tether_live_query_new (query, error)) == NULL)
    return FALSE;
  source_copy_live (source);
  source->handler = g_signal_connect (source->live, "items-changed",
                                      G_CALLBACK (source_items_changed), source);
  return TRUE;
}

/* New queries for both sources of @sources, then one items-changed. */
static gboolean
reload_sources (TetherItemModel  *self,
                Source           *sources,
                GError          **error)
{
  gboolean ok = TRUE;

  for (guint s = 0; s < 2 && ok; s++)
    ok = source_load (self, &sources[s], error);
  if (!ok)
    for (guint s = 0; s < 2; s++)
      source_clear (&sources[s]);
  if (sources == self->found)
    self->needs_matches = TRUE;
  else
    self->needs_rebuild = TRUE;
  settle (self);
  return ok;
}

/* The whole list, and the search results when searching. */
static gboolean
reload (TetherItemModel  *self,
        GError          **error)
{
  if (!reload_sources (self, self->sources, error))
    return FALSE;
  return self->search == NULL || reload_sources (self, self->found, error);
}

static void
reload_or_log (TetherItemModel *self)
{
  g_autoptr(GError) error = NULL;

  if (!reload (self, &error))
    g_message ("Could not list the notes and tasks: %s", error->message);
}

/* Public --------------------------------------------------------------------- */

static void
tether_item_model_dispose (GObject *object)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (object);

  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      source_clear (&self->sources[s]);
      source_clear (&self->found[s]);
    }
  g_clear_object (&self->db);
  G_OBJECT_CLASS (tether_item_model_parent_class)->dispose (object);
}

static void
tether_item_model_finalize (GObject *object)
{
  TetherItemModel *self = TETHER_ITEM_MODEL (object);

  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      g_ptr_array_unref (self->sources[s].mirror);
      g_ptr_array_unref (self->found[s].mirror);
    }
  g_array_unref (self->entries);
  g_ptr_array_unref (self->matches);
  g_free (self->search);
  g_free (self->tag);
  G_OBJECT_CLASS (tether_item_model_parent_class)->finalize (object);
}

static void
tether_item_model_class_init (TetherItemModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_item_model_dispose;
  object_class->finalize = tether_item_model_finalize;
}

static void
tether_item_model_init (TetherItemModel *self)
{
  static const char *names[] = { "notes", "tasks" };

  self->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (self->entries, entry_clear);
  self->matches = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      self->sources[s].self = self->found[s].self = self;
      self->sources[s].collection = self->found[s].collection = names[s];
      self->sources[s].mirror = g_ptr_array_new_with_free_func (g_object_unref);
      self->found[s].mirror = g_ptr_array_new_with_free_func (g_object_unref);
      self->found[s].ranked = TRUE;
    }
}

TetherItemModel *
tether_item_model_new (TetherDatabase  *db,
                       GError         **error)
{
  g_autoptr(TetherItemModel) self = NULL;

  g_return_val_if_fail (TETHER_IS_DATABASE (db), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (TETHER_TYPE_ITEM_MODEL, NULL);
  self->db = g_object_ref (db);
  if (!reload (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/* NULL for blank text, otherwise the text stripped. */
static char *
normalize (const char *text)
{
  g_autofree char *copy = g_strstrip (g_strdup (text != NULL ? text : ""));

  return *copy != '\0' ? g_steal_pointer (&copy) : NULL;
}

/* Whether @text has a word to search for (the engine searches letters and
 * digits; text without any is no search). */
static gboolean
has_words (const char *text)
{
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_isalnum (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

/* Show the matches or the whole list, as one items-changed. */
static void
show_matches (TetherItemModel *self,
              gboolean         searching)
{
  guint removed = get_n_items (G_LIST_MODEL (self));

  if (self->searching == searching)
    return;
  self->searching = searching;
  self->busy++;
  g_list_model_items_changed (G_LIST_MODEL (self), 0, removed, get_n_items (G_LIST_MODEL (self)));
  self->busy--;
  settle (self);
}

void
tether_item_model_set_search (TetherItemModel *self,
                              const char      *text)
{
  g_autofree char *search = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));

  search = normalize (text);
  if (search != NULL && !has_words (search))
    g_clear_pointer (&search, g_free);
  if (g_strcmp0 (search, self->search) == 0)
    return;
  g_free (self->search);
  self->search = g_steal_pointer (&search);
  if (self->search == NULL)
    {
      show_matches (self, FALSE);
      for (guint s = 0; s < G_N_ELEMENTS (self->found); s++)
        source_clear (&self->found[s]);
      g_ptr_array_set_size (self->matches, 0);
      return;
    }
  if (!reload_sources (self, self->found, &error))
    g_message ("Could not search the notes and tasks: %s", error->message);
  show_matches (self, TRUE);
}

void
tether_item_model_set_kind (TetherItemModel *self,
                            TetherItemKind   kind)
{
  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));
  g_return_if_fail (kind <= TETHER_ITEM_KIND_TASKS);

  if (kind == self->kind)
    return;
  self->kind = kind;
  reload_or_log (self);
}

void
tether_item_model_set_tag (TetherItemModel *self,
                           const char      *tag)
{
  g_autofree char *normal = NULL;

  g_return_if_fail (TETHER_IS_ITEM_MODEL (self));

  normal = normalize (tag);
  if (g_strcmp0 (normal, self->tag) == 0)
    return;
  g_free (self->tag);
  self->tag = g_steal_pointer (&normal);
  reload_or_log (self);
}

gint
tether_item_model_find (TetherItemModel *self,
                        const char      *collection,
                        const char      *id)
{
  g_return_val_if_fail (TETHER_IS_ITEM_MODEL (self), -1);
  g_return_val_if_fail (collection != NULL, -1);
  g_return_val_if_fail (id != NULL, -1);

  if (self->searching)
    {
      for (guint i = 0; i < self->matches->len; i++)
        {
          TetherRecord *record = g_ptr_array_index (self->matches, i);

          if (g_str_equal (tether_record_get_collection (record), collection) &&
              g_str_equal (tether_record_get_id (record), id))
            return i;
        }
      return -1;
    }
  for (guint s = 0; s < G_N_ELEMENTS (self->sources); s++)
    {
      Source *source = &self->sources[s];
      gint pos;

      if (source->live == NULL || !g_str_equal (source->collection, collection))
        continue;
      pos = tether_live_query_find (source->live, id);
      return pos < 0 ? -1 : entries_find (self, g_ptr_array_index (source->mirror, pos));
    }
  return -1;
}
