/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-query"
#include "config.h"

#include <string.h>

#include "tether-private.h"

struct _TetherQuery
{
  GObject           parent_instance;
  TetherCollection *collection;
  GPtrArray        *where;      /* TetherCondition* */
  GPtrArray        *or_groups;  /* GPtrArray* of TetherCondition* */
  GArray           *sorts;      /* TetherSort */
  gint64            limit;
  gint64            offset;
  char             *search;
  char             *match;      /* FTS5 expression built from search */
  GStrv             preview;    /* NULL: whole records */
  gboolean         *preview_cut; /* per field: a string, cut to preview_chars */
  guint             preview_chars;
  guint             rank_within; /* 0: rank every match */
  GError           *error;      /* first builder error */
};

G_DEFINE_FINAL_TYPE (TetherQuery, tether_query, G_TYPE_OBJECT)
G_DEFINE_QUARK (tether-query-error-quark, tether_query_error)

static const struct { const char *text; TetherOp op; } op_names[] = {
  { "==", TETHER_OP_EQ }, { "!=", TETHER_OP_NE }, { "<=", TETHER_OP_LE },
  { ">=", TETHER_OP_GE }, { "<", TETHER_OP_LT }, { ">", TETHER_OP_GT },
  { "in", TETHER_OP_IN }, { "contains", TETHER_OP_CONTAINS }, { "prefix", TETHER_OP_PREFIX },
};

gboolean
tether_op_from_string (const char *text,
                       TetherOp   *op)
{
  for (guint i = 0; i < G_N_ELEMENTS (op_names); i++)
    if (g_strcmp0 (text, op_names[i].text) == 0)
      {
        *op = op_names[i].op;
        return TRUE;
      }
  return FALSE;
}

const char *
tether_op_to_string (TetherOp op)
{
  for (guint i = 0; i < G_N_ELEMENTS (op_names); i++)
    if (op_names[i].op == op)
      return op_names[i].text;
  return "?";
}

static void
condition_free (gpointer data)
{
  TetherCondition *c = data;

  g_free (c->field);
  g_clear_pointer (&c->value, json_node_unref);
  g_free (c);
}

static void
sort_clear (gpointer data)
{
  g_free (((TetherSort *) data)->field);
}

static void
tether_query_finalize (GObject *object)
{
  TetherQuery *self = TETHER_QUERY (object);

  g_clear_object (&self->collection);
  g_ptr_array_unref (self->where);
  g_ptr_array_unref (self->or_groups);
  g_array_unref (self->sorts);
  g_free (self->search);
  g_free (self->match);
  g_strfreev (self->preview);
  g_free (self->preview_cut);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (tether_query_parent_class)->finalize (object);
}

static void
tether_query_class_init (TetherQueryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tether_query_finalize;
}

static void
tether_query_init (TetherQuery *self)
{
  self->where = g_ptr_array_new_with_free_func (condition_free);
  self->or_groups = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  self->sorts = g_array_new (FALSE, TRUE, sizeof (TetherSort));
  g_array_set_clear_func (self->sorts, sort_clear);
  self->limit = -1;
}

TetherQuery *
tether_query_new (TetherCollection *collection)
{
  TetherQuery *self;

  g_return_val_if_fail (TETHER_IS_COLLECTION (collection), NULL);

  self = g_object_new (TETHER_TYPE_QUERY, NULL);
  /* A query may outlive the caller's hold on the collection, not the database:
   * the collection is owned by the database. */
  self->collection = g_object_ref (collection);
  return self;
}

TetherCollection *
tether_query_get_collection (TetherQuery *self)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  return self->collection;
}

const GError *
tether_query_get_error (TetherQuery *self)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  return self->error;
}

static void
keep_error (TetherQuery *self,
            GError      *error)
{
  if (self->error == NULL)
    self->error = error;
  else
    g_error_free (error);
}

/* Conditions ---------------------------------------------------------------- */

static TetherQuery *
add_condition (TetherQuery *self,
               GPtrArray   *target,
               const char  *field,
               TetherOp     op,
               JsonNode    *value)
{
  GError *error = NULL;
  JsonNode *normalised = _tether_query_check_condition (self->collection, field, op, value, &error);
  TetherCondition *c;

  if (normalised == NULL)
    {
      keep_error (self, error);
      return self;
    }
  c = g_new0 (TetherCondition, 1);
  c->field = g_strdup (field);
  c->op = op;
  c->value = normalised;
  g_ptr_array_add (target, c);
  return self;
}

TetherQuery *
tether_query_where (TetherQuery *self,
                    const char  *field,
                    TetherOp     op,
                    JsonNode    *value)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  g_return_val_if_fail (field != NULL, self);

  return add_condition (self, self->where, field, op, value);
}

TetherQuery *
tether_query_or_where (TetherQuery *self,
                       guint        group,
                       const char  *field,
                       TetherOp     op,
                       JsonNode    *value)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  g_return_val_if_fail (field != NULL, self);
  g_return_val_if_fail (group < 1000, self);

  while (self->or_groups->len <= group)
    g_ptr_array_add (self->or_groups, g_ptr_array_new_with_free_func (condition_free));
  return add_condition (self, g_ptr_array_index (self->or_groups, group), field, op, value);
}

TetherQuery *
tether_query_where_text (TetherQuery *self,
                         const char  *condition)
{
  return tether_query_or_where_text (self, G_MAXUINT, condition);
}

/* group G_MAXUINT means the AND list. */
TetherQuery *
tether_query_or_where_text (TetherQuery *self,
                            guint        group,
                            const char  *condition)
{
  g_autofree char *field = NULL;
  g_autoptr(JsonNode) value = NULL;
  GError *error = NULL;
  TetherOp op;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  g_return_val_if_fail (condition != NULL, self);

  if (!_tether_query_parse_condition (self->collection, condition, &field, &op, &value, &error))
    {
      keep_error (self, error);
      return self;
    }
  if (group == G_MAXUINT)
    return tether_query_where (self, field, op, value);
  return tether_query_or_where (self, group, field, op, value);
}

/* Sort, window, search ------------------------------------------------------ */

TetherQuery *
tether_query_sort (TetherQuery *self,
                   const char  *field,
                   gboolean     descending)
{
  GError *error = NULL;
  TetherSort sort;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  g_return_val_if_fail (field != NULL, self);

  if (!_tether_query_check_sort (self->collection, field, &error))
    {
      keep_error (self, error);
      return self;
    }
  sort.field = g_strdup (field);
  sort.descending = descending;
  g_array_append_val (self->sorts, sort);
  return self;
}

TetherQuery *
tether_query_preview (TetherQuery        *self,
                      const char * const *fields,
                      guint               max_chars)
{
  GError *error = NULL;
  TetherSchema *schema;
  const char *name;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);
  g_return_val_if_fail (fields != NULL, self);

  schema = tether_database_get_schema (tether_collection_get_database (self->collection));
  name = tether_collection_get_name (self->collection);

  for (guint i = 0; fields[i] != NULL; i++)
    if (!_tether_query_check_preview (self->collection, fields[i], &error))
      {
        keep_error (self, error);
        return self;
      }
  if (max_chars == 0)
    {
      keep_error (self, g_error_new (TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                                     "a preview must keep at least 1 character of each text"));
      return self;
    }
  g_strfreev (self->preview);
  g_free (self->preview_cut);
  self->preview = g_strdupv ((char **) fields);
  self->preview_cut = g_new0 (gboolean, g_strv_length (self->preview));
  for (guint i = 0; fields[i] != NULL; i++)
    self->preview_cut[i] = tether_schema_get_field_type (schema, name, fields[i]) == TETHER_FIELD_STRING;
  self->preview_chars = max_chars;
  return self;
}

/* A record from @text: the whole of it, or its preview. */
static TetherRecord *
record_new (TetherQuery *self,
            const char  *id,
            const char  *text,
            gsize        length,
            gint64       created_at,
            gint64       updated_at)
{
  g_autofree char *preview = NULL;
  const char *name = tether_collection_get_name (self->collection);

  if (self->preview != NULL &&
      (preview = _tether_json_preview (text, length, (const char * const *) self->preview,
                                       self->preview_cut, self->preview_chars)) != NULL)
    return _tether_record_new_from_text (name, id, preview, strlen (preview), created_at, updated_at);
  return _tether_record_new_from_text (name, id, text, length, created_at, updated_at);
}

TetherRecord *
_tether_query_record_from_row (TetherQuery  *self,
                               sqlite3_stmt *stmt)
{
  return record_new (self, (const char *) sqlite3_column_text (stmt, 0),
                     (const char *) sqlite3_column_text (stmt, 1), sqlite3_column_bytes (stmt, 1),
                     sqlite3_column_int64 (stmt, 2), sqlite3_column_int64 (stmt, 3));
}

TetherRecord *
_tether_query_shown_record (TetherQuery  *self,
                            TetherRecord *record)
{
  g_autofree char *text = NULL;

  if (self->preview == NULL)
    return g_object_ref (record);
  text = tether_record_to_json (record);
  return record_new (self, tether_record_get_id (record), text, strlen (text),
                     tether_record_get_created_at (record), tether_record_get_updated_at (record));
}

TetherQuery *
tether_query_limit (TetherQuery *self,
                    gint64       limit)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  if (limit < 0)
    keep_error (self, g_error_new (TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                                   "limit must be 0 or more, not %" G_GINT64_FORMAT, limit));
  else
    self->limit = limit;
  return self;
}

TetherQuery *
tether_query_offset (TetherQuery *self,
                     gint64       offset)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  if (offset < 0)
    keep_error (self, g_error_new (TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                                   "offset must be 0 or more, not %" G_GINT64_FORMAT, offset));
  else
    self->offset = offset;
  return self;
}

/* Letters, digits, and combining marks: a decomposed "e\u0301" is one letter
 * of the word, not a word break. */
static gboolean
is_word_char (const char *p)
{
  gunichar c = g_utf8_get_char (p);

  return g_unichar_isalnum (c) || g_unichar_ismark (c);
}

/* Every term is one more pass of tether_bm25 and of FTS5 over its
 * matches: text pasted into search as you type must not stall the app. */
#define MAX_SEARCH_TERMS 32

/* A word as the tokenizer sees it (no case, no diacritics), to drop the
 * same word typed twice. */
static char *
word_key (const char *word,
          gsize       length)
{
  g_autofree char *folded = g_utf8_casefold (word, length);
  g_autofree char *decomposed = g_utf8_normalize (folded, -1, G_NORMALIZE_DEFAULT);
  GString *key = g_string_new (NULL);

  for (const char *p = decomposed; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_ismark (g_utf8_get_char (p)))
      g_string_append_unichar (key, g_utf8_get_char (p));
  return g_string_free (key, FALSE);
}

/* Each word becomes a quoted prefix term, so nothing a user types can be
 * read as FTS5 syntax (NEAR, column filters, quotes). The text is composed
 * first (NFC) so the tokenizer folds its accents as it does the records'.
 * A word typed again adds nothing; words past the first MAX_SEARCH_TERMS
 * different ones are left out. */
static char *
build_match (const char *text)
{
  g_autoptr(GString) match = g_string_new (NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *composed = g_utf8_normalize (text, -1, G_NORMALIZE_NFC);
  const char *p = composed;

  while (*p != '\0' && g_hash_table_size (seen) < MAX_SEARCH_TERMS)
    {
      const char *start;

      while (*p != '\0' && !is_word_char (p))
        p = g_utf8_next_char (p);
      start = p;
      while (*p != '\0' && is_word_char (p))
        p = g_utf8_next_char (p);
      if (p > start && g_hash_table_add (seen, word_key (start, p - start)))
        g_string_append_printf (match, "%s\"%.*s\"*", match->len ? " " : "", (int) (p - start), start);
    }
  return match->len ? g_string_free (g_steal_pointer (&match), FALSE) : NULL;
}

TetherQuery *
tether_query_search (TetherQuery *self,
                     const char  *text)
{
  TetherSchema *schema;
  const char *name;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  schema = tether_database_get_schema (tether_collection_get_database (self->collection));
  name = tether_collection_get_name (self->collection);
  g_clear_pointer (&self->search, g_free);
  g_clear_pointer (&self->match, g_free);
  if (text == NULL)
    return self;
  if (!g_utf8_validate (text, -1, NULL))
    {
      keep_error (self, g_error_new (TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_VALUE,
                                     "%s: the search text is not valid UTF-8", name));
      return self;
    }
  if (tether_schema_get_searchable (schema, name)[0] == NULL)
    {
      keep_error (self, g_error_new (TETHER_QUERY_ERROR, TETHER_QUERY_ERROR_BAD_OPERATOR,
                                     "%s: the schema declares no searchable fields", name));
      return self;
    }
  self->search = g_strdup (text);
  self->match = build_match (text);
  return self;
}

TetherQuery *
tether_query_rank_within (TetherQuery *self,
                          guint        newest)
{
  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  self->rank_within = newest;
  return self;
}

/* Accessors for the compiler and the live query ----------------------------- */

guint _tether_query_get_rank_within (TetherQuery *self) { return self->rank_within; }
GPtrArray *_tether_query_get_where (TetherQuery *self) { return self->where; }
GPtrArray *_tether_query_get_or_groups (TetherQuery *self) { return self->or_groups; }
GArray *_tether_query_get_sorts (TetherQuery *self) { return self->sorts; }
gint64 _tether_query_get_limit (TetherQuery *self) { return self->limit; }
gint64 _tether_query_get_offset (TetherQuery *self) { return self->offset; }
const char *_tether_query_get_match (TetherQuery *self) { return self->match; }

static void
copy_conditions (GPtrArray *from,
                 GPtrArray *to)
{
  for (guint i = 0; i < from->len; i++)
    {
      TetherCondition *c = g_ptr_array_index (from, i);
      TetherCondition *copy = g_new0 (TetherCondition, 1);

      copy->field = g_strdup (c->field);
      copy->op = c->op;
      copy->value = json_node_copy (c->value);
      g_ptr_array_add (to, copy);
    }
}

TetherQuery *
_tether_query_copy (TetherQuery *self)
{
  TetherQuery *copy = tether_query_new (self->collection);

  copy_conditions (self->where, copy->where);
  for (guint g = 0; g < self->or_groups->len; g++)
    {
      GPtrArray *group = g_ptr_array_new_with_free_func (condition_free);

      copy_conditions (g_ptr_array_index (self->or_groups, g), group);
      g_ptr_array_add (copy->or_groups, group);
    }
  for (guint i = 0; i < self->sorts->len; i++)
    {
      TetherSort sort = g_array_index (self->sorts, TetherSort, i);

      sort.field = g_strdup (sort.field);
      g_array_append_val (copy->sorts, sort);
    }
  copy->limit = self->limit;
  copy->offset = self->offset;
  copy->search = g_strdup (self->search);
  copy->match = g_strdup (self->match);
  copy->preview = g_strdupv (self->preview);
  copy->preview_cut = self->preview ? g_memdup2 (self->preview_cut, g_strv_length (self->preview) * sizeof (gboolean)) : NULL;
  copy->preview_chars = self->preview_chars;
  copy->rank_within = self->rank_within;
  copy->error = self->error ? g_error_copy (self->error) : NULL;
  return copy;
}

/* The same query returning whole records, previews or not. */
TetherQuery *
_tether_query_copy_whole (TetherQuery *self)
{
  TetherQuery *copy = _tether_query_copy (self);

  g_clear_pointer (&copy->preview, g_strfreev);
  g_clear_pointer (&copy->preview_cut, g_free);
  return copy;
}

/* Running --------------------------------------------------------------------- */

static sqlite3_stmt *
prepare (TetherQuery        *self,
         TetherCompileMode   mode,
         GError            **error)
{
  TetherDatabase *db = tether_collection_get_database (self->collection);
  g_autoptr(TetherCompiledQuery) compiled = NULL;
  sqlite3_stmt *stmt;

  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return NULL;
    }
  compiled = _tether_query_compile (self, mode, error);
  if (compiled == NULL)
    return NULL;
  /* Owned, not cached: results may be iterated while handlers run queries. */
  stmt = _tether_database_prepare (db, compiled->sql->str, error);
  if (stmt != NULL && !_tether_compiled_query_bind (compiled, stmt, error))
    g_clear_pointer (&stmt, sqlite3_finalize);
  return stmt;
}

GPtrArray *
tether_query_run (TetherQuery  *self,
                  GError      **error)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  if ((stmt = prepare (self, TETHER_COMPILE_SELECT, error)) == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_ptr_array_add (records, _tether_query_record_from_row (self, stmt));
    }
  if (rc != SQLITE_DONE)
    {
      _tether_database_set_error (tether_collection_get_database (self->collection), rc, error,
                                  tether_collection_get_name (self->collection));
      return NULL;
    }
  return g_steal_pointer (&records);
}

TetherRecord *
tether_query_first (TetherQuery  *self,
                    GError      **error)
{
  g_autoptr(TetherQuery) one = NULL;
  g_autoptr(GPtrArray) records = NULL;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  one = _tether_query_copy (self);
  one->limit = 1;
  records = tether_query_run (one, error);
  if (records == NULL || records->len == 0)
    return NULL;
  return g_object_ref (g_ptr_array_index (records, 0));
}

gint64
tether_query_count (TetherQuery  *self,
                    GError      **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (TETHER_IS_QUERY (self), -1);

  if ((stmt = prepare (self, TETHER_COMPILE_COUNT, error)) == NULL)
    return -1;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      _tether_database_set_error (tether_collection_get_database (self->collection), rc, error,
                                  tether_collection_get_name (self->collection));
      return -1;
    }
  return sqlite3_column_int64 (stmt, 0);
}

char *
tether_query_explain (TetherQuery  *self,
                      GError      **error)
{
  g_autoptr(TetherCompiledQuery) compiled = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autoptr(GString) plan = g_string_new (NULL);
  g_autofree char *sql = NULL;

  g_return_val_if_fail (TETHER_IS_QUERY (self), NULL);

  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return NULL;
    }
  if ((compiled = _tether_query_compile (self, TETHER_COMPILE_SELECT, error)) == NULL)
    return NULL;
  sql = g_strconcat ("EXPLAIN QUERY PLAN ", compiled->sql->str, NULL);
  stmt = _tether_database_prepare (tether_collection_get_database (self->collection), sql, error);
  if (stmt == NULL || !_tether_compiled_query_bind (compiled, stmt, error))
    return NULL;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_string_append_printf (plan, "%s\n", (const char *) sqlite3_column_text (stmt, 3));
  return g_string_free (g_steal_pointer (&plan), FALSE);
}
