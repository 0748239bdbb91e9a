/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-app"
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tether-application.h"
#include "tether-item-model.h"
#include "tether-item-row.h"
#include "tether-private.h"
#include "tether-renderer.h"
#include "bench-util.h"
#include "tether-window-private.h"

/* Measures the app on a database of 100,000 notes and a few thousand tasks:
 * the first frame of the main window with the list shown, search as you
 * type, SQL run while the list scrolls, and peak memory. The data is made
 * once; each run is a fresh process (this program again, with --child) so
 * its start-up and its peak RSS are the app's own. A benchmark: it prints
 * the figures beside their goals and never fails on time. */

#define YEAR_MS (G_GINT64_CONSTANT (365) * 24 * 3600 * 1000)
#define RARE_WORD "zeppelin"           /* in 1% of the notes */
#define SCROLL_PAGES 150               /* page by page from the top */
#define SCROLL_JUMPS 150               /* then the whole list in even jumps */
#define WAIT_MS 10000

static const char * const words[] = {
  "buy", "milk", "call", "review", "plan", "report", "fix", "meeting", "draft",
  "email", "garden", "budget", "travel", "book", "invoice", "team", "weekly",
  "project", "design", "client", "follow", "update", "release", "bug", "deploy",
  "paint", "kitchen", "doctor", "renew", "passport", "order", "parts", "clean",
  "garage", "read", "chapter", "write", "letter", "prepare", "slides", "check",
  "backup", "server", "water", "plants", "pay", "rent", "dentist", "music", "bike",
  "the", "a", "and", "to", "of", "for", "with", "on", "before", "after", "next",
  "sync", "system", "syntax", "symptom", "summer", "sunday", "schedule", "school",
  "notes", "idea", "question", "answer", "agenda", "minutes", "todo", "recipe",
  "flour", "sugar", "butter", "oven", "train", "ticket", "hotel", "museum",
};

static const char * const tag_names[] = {
  "work", "home", "errand", "urgent", "later", "ideas", "family", "money",
  "reading", "travel", "health", "recipes",
};

/* What is typed into the search entry, one keystroke at a time; "" clears. */
static const char * const keystrokes[] = {
  "s", "sy", "syn", "sync", "synce", "",
  "z", "ze", "zep", "zepp", "zeppe", "zeppel", "zeppeli", RARE_WORD, "",
};

/* Where the database lives; removed by cleanup() unless kept. */
static char *work_dir;
static gboolean own_dir;
static gboolean keep;

static const char * const db_suffixes[] = { "", "-wal", "-shm", "-journal" };

static void
cleanup (void)
{
  if (work_dir == NULL || keep)
    return;
  for (guint s = 0; s < G_N_ELEMENTS (db_suffixes); s++)
    {
      g_autofree char *name = g_strconcat ("app.db", db_suffixes[s], NULL);
      g_autofree char *path = g_build_filename (work_dir, name, NULL);

      g_unlink (path);
    }
  if (own_dir)
    g_rmdir (work_dir);
  g_clear_pointer (&work_dir, g_free);
}

G_GNUC_NORETURN static void
die (const char *what,
     const char *message)
{
  g_printerr ("bench-app: %s: %s\n", what, message);
  cleanup ();
  exit (EXIT_FAILURE);
}

static void
check (gboolean      ok,
       const char   *what,
       const GError *error)
{
  if (!ok)
    die (what, error ? error->message : "failed");
}

static double
ms_between (gint64 from,
            gint64 to)
{
  return (to - from) / 1000.0;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The median of @n values (sorted in place); the lower middle for even n. */
static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof (double), compare_double);
  return values[(n - 1) / 2];
}

/* VmHWM or VmRSS of this process, in MiB. */
static double
status_mib (const char *field)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL) ||
      (line = strstr (text, field)) == NULL)
    return -1;
  return g_ascii_strtod (line + strlen (field) + 1, NULL) / 1024.0;
}

/* Resident MiB of this process's mappings of the software GL stack: mesa's
 * drivers and the LLVM that llvmpipe compiles shaders with. Only the
 * libraries; llvmpipe's heap (compiled shaders, tiles) is not told apart. */
static double
software_gl_mib (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean gl = FALSE;
  double kib = 0;

  if (!g_file_get_contents ("/proc/self/smaps", &text, NULL, NULL))
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_ascii_isxdigit (lines[i][0]) && strchr (lines[i], '-') != NULL && strchr (lines[i], ' ') != NULL)
        gl = strstr (lines[i], "/libLLVM") != NULL || strstr (lines[i], "_dri.so") != NULL;
      else if (gl && g_str_has_prefix (lines[i], "Rss:"))
        kib += g_ascii_strtod (lines[i] + 4, NULL);
    }
  return kib / 1024.0;
}

/* ---- the data -------------------------------------------------------- */

static void
append_words (GString *out,
              GRand   *rand,
              guint    n)
{
  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (out, ' ');
      g_string_append (out, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    }
}

static char *
make_title (GRand *rand)
{
  g_autoptr(GString) title = g_string_new (NULL);

  append_words (title, rand, g_rand_int_range (rand, 2, 7));
  title->str[0] = g_ascii_toupper (title->str[0]);
  return g_string_free (g_steal_pointer (&title), FALSE);
}

/* Mostly short notes, some long ones, a few very long: lines of prose,
 * checklist items and blank lines. */
static char *
make_body (GRand    *rand,
           gboolean  rare)
{
  g_autoptr(GString) body = g_string_new (NULL);
  int roll = g_rand_int_range (rand, 0, 100);
  guint lines = roll < 70 ? g_rand_int_range (rand, 1, 6)
              : roll < 97 ? g_rand_int_range (rand, 6, 25)
              : g_rand_int_range (rand, 25, 150);
  guint rare_line = g_rand_int_range (rand, 0, lines);

  for (guint l = 0; l < lines; l++)
    {
      int kind = g_rand_int_range (rand, 0, 10);

      if (kind == 0 && l > 0)
        g_string_append_c (body, '\n');
      else if (kind < 3)
        g_string_append (body, "- [ ] ");
      append_words (body, rand, g_rand_int_range (rand, 3, 16));
      if (rare && l == rare_line)
        g_string_append (body, " " RARE_WORD);
      g_string_append (body, l + 1 < lines ? ".\n" : ".");
    }
  return g_string_free (g_steal_pointer (&body), FALSE);
}

static JsonArray *
make_tags (GRand *rand)
{
  JsonArray *tags = json_array_new ();
  guint n = g_rand_int_range (rand, 0, 4);
  guint first = g_rand_int_range (rand, 0, G_N_ELEMENTS (tag_names));

  for (guint i = 0; i < n; i++)
    json_array_add_string_element (tags, tag_names[(first + i * 5) % G_N_ELEMENTS (tag_names)]);
  return tags;
}

static void
create (TetherCollection *collection,
        JsonObject       *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = tether_collection_create (collection, data, &error);

  check (record != NULL, tether_collection_get_name (collection), error);
}

static void
create_note (TetherCollection *notes,
             GRand            *rand,
             guint             i)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autofree char *title = make_title (rand);
  g_autofree char *body = make_body (rand, i % 100 == 37);

  json_object_set_string_member (data, "title", title);
  json_object_set_string_member (data, "body", body);
  json_object_set_array_member (data, "tags", make_tags (rand));
  json_object_set_boolean_member (data, "pinned", g_rand_int_range (rand, 0, 100) < 2);
  create (notes, data);
}

static void
create_task (TetherCollection *tasks,
             GRand            *rand,
             gint64            now_ms)
{
  g_autoptr(JsonObject) data = json_object_new ();
  g_autofree char *title = make_title (rand);

  json_object_set_string_member (data, "title", title);
  if (g_rand_int_range (rand, 0, 3) == 0)
    {
      g_autofree char *notes = make_body (rand, FALSE);

      json_object_set_string_member (data, "notes", notes);
    }
  json_object_set_boolean_member (data, "done", g_rand_int_range (rand, 0, 10) < 4);
  json_object_set_int_member (data, "priority", g_rand_int_range (rand, 0, 4));
  json_object_set_array_member (data, "tags", make_tags (rand));
  if (g_rand_int_range (rand, 0, 10) < 6)
    {
      gint64 due_ms = now_ms + g_rand_double_range (rand, -0.15, 0.3) * YEAR_MS;
      g_autoptr(GDateTime) due = g_date_time_new_from_unix_utc (due_ms / 1000);
      g_autofree char *text = g_date_time_format_iso8601 (due);

      json_object_set_string_member (data, "due", text);
    }
  create (tasks, data);
}

static char *
make_database (guint n_notes,
               guint n_tasks)
{
  g_autofree char *path = g_build_filename (work_dir, "app.db", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (20250101);
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = tether_database_open (path, NULL, &error);
  TetherCollection *notes, *tasks;
  gint64 start = g_get_monotonic_time ();
  gint64 now_ms = g_get_real_time () / 1000;
  GStatBuf st;

  check (db != NULL, path, error);
  notes = tether_database_get_collection (db, "notes", &error);
  check (notes != NULL, "notes", error);
  tasks = tether_database_get_collection (db, "tasks", &error);
  check (tasks != NULL, "tasks", error);

  check (tether_database_begin (db, &error), "begin", error);
  for (guint i = 0; i < n_notes; i++)
    create_note (notes, rand, i);
  for (guint i = 0; i < n_tasks; i++)
    create_task (tasks, rand, now_ms);
  check (tether_database_commit (db, &error), "commit", error);
  tether_database_close (db);

  g_print ("  %-46s %u notes (%u with \"%s\"), %u tasks, one transaction, %.1f s\n",
           "data", n_notes, (n_notes + 62) / 100, RARE_WORD, n_tasks,
           ms_between (start, g_get_monotonic_time ()) / 1000.0);
  if (g_stat (path, &st) == 0)
    g_print ("  %-46s %.1f MiB\n", "database file", st.st_size / 1048576.0);
  return g_steal_pointer (&path);
}

/* ---- the child: one start of the app ----------------------------------- */

static struct {
  gint64             spawned_at;   /* by the parent, just before exec */
  gint64             main_at;
  gint64             startup_at;
  gint64             window_at;
  gint64             realize_at;
  gint64             first_paint_at;
  gint64             rows_paint_at;
  gint64             last_paint_at;
  guint              rows_on_screen;
  gboolean           gl_off;       /* tether_renderer_choose() turned GL off */
  TetherApplication *app;
  TetherWindow      *window;
  gint64             searched_at;  /* the window's search-changed ran */
  guint              binds;
  gboolean           counting;
  GHashTable        *statements;   /* SQL text → count */
} child;

/* One figure for the parent: label, value, unit, goal. */
static void
report (const char *label,
        double      value,
        const char *unit,
        const char *goal)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_print ("%s\t%s\t%s\t%s\n", label, g_ascii_dtostr (buf, sizeof buf, value), unit, goal ? goal : "");
}

static void
report_section (const char *title)
{
  g_print ("#\t%s\n", title);
}

static void
report_note (const char *text)
{
  g_print ("!\t%s\n", text);
}

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterate the main loop until the window paints a frame after @after. */
static gboolean
wait_for_paint (gint64 after)
{
  gboolean expired = FALSE;
  guint timer = g_timeout_add (WAIT_MS, timed_out, &expired);

  while (child.last_paint_at <= after && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (timer);
  return !expired;
}

/* Rows of the list that are on screen (mapped, with a size). */
static guint
count_rows_on_screen (GtkWidget *list_view)
{
  guint n = 0;

  if (!gtk_widget_is_drawable (list_view))
    return 0;
  for (GtkWidget *item = gtk_widget_get_first_child (list_view); item; item = gtk_widget_get_next_sibling (item))
    {
      GtkWidget *row = gtk_widget_get_first_child (item);

      if (row != NULL && TETHER_IS_ITEM_ROW (row) && gtk_widget_get_mapped (row) &&
          gtk_widget_get_height (row) > 0)
        n++;
    }
  return n;
}

static void
after_paint (GdkFrameClock *clock,
             gpointer       data)
{
  gint64 now = g_get_monotonic_time ();

  child.last_paint_at = now;
  if (child.first_paint_at == 0)
    child.first_paint_at = now;
  if (child.rows_paint_at == 0 &&
      g_list_model_get_n_items (G_LIST_MODEL (child.window->model)) > 0 &&
      (child.rows_on_screen = count_rows_on_screen (GTK_WIDGET (child.window->list_view))) > 0)
    child.rows_paint_at = now;
}

static void
window_realized (GtkWidget *window)
{
  child.realize_at = g_get_monotonic_time ();
  g_signal_connect (gtk_widget_get_frame_clock (window), "after-paint", G_CALLBACK (after_paint), NULL);
}

static void
window_added (GtkApplication *app,
              GtkWindow      *window)
{
  if (!TETHER_IS_WINDOW (window) || child.window != NULL)
    return;
  child.window_at = g_get_monotonic_time ();
  child.window = TETHER_WINDOW (window);
  g_signal_connect_after (window, "realize", G_CALLBACK (window_realized), NULL);
}

static void
app_started (GApplication *app)
{
  child.startup_at = g_get_monotonic_time ();
}

static int
on_statement (unsigned  type,
              void     *context,
              void     *stmt,
              void     *sql)
{
  const char *text;

  if (type != SQLITE_TRACE_STMT || !child.counting)
    return 0;
  text = sqlite3_sql (stmt);
  g_hash_table_replace (child.statements, g_strdup (text ? text : "?"),
                        GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (child.statements, text)) + 1));
  return 0;
}

static void
count_statements (gboolean on)
{
  if (on)
    g_hash_table_remove_all (child.statements);
  child.counting = on;
}

/* Statements counted, and of them the external-change poll (a 500 ms timer
 * running PRAGMA data_version, whatever the list does). */
static guint
statements_total (guint *poll)
{
  GHashTableIter iter;
  gpointer key, value;
  guint total = 0;

  *poll = 0;
  g_hash_table_iter_init (&iter, child.statements);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      total += GPOINTER_TO_UINT (value);
      if (g_str_equal (key, "PRAGMA data_version"))
        *poll += GPOINTER_TO_UINT (value);
    }
  return total;
}

static void
report_other_statements (void)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, child.statements);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_str_equal (key, "PRAGMA data_version"))
      {
        g_autofree char *line = g_strdup_printf ("%u x %.160s", GPOINTER_TO_UINT (value), (char *) key);

        report_note (line);
      }
}

static void
report_first_frame (void)
{
  report_section ("first frame of the main window with the list shown");
  report ("process exec -> main()", ms_between (child.spawned_at, child.main_at), "ms", NULL);
  report ("main() -> startup done (database, sync engine)", ms_between (child.main_at, child.startup_at), "ms", NULL);
  report ("startup -> window constructed (template)", ms_between (child.startup_at, child.window_at), "ms", NULL);
  report ("window -> realized (item model, list, present)", ms_between (child.window_at, child.realize_at), "ms", NULL);
  report ("realized -> first frame painted", ms_between (child.realize_at, child.first_paint_at), "ms", NULL);
  report ("first frame -> first frame with rows", ms_between (child.first_paint_at, child.rows_paint_at), "ms", NULL);
  report ("first frame with rows, from exec", ms_between (child.spawned_at, child.rows_paint_at), "ms", "< 1000");
  report ("first frame with rows, from main()", ms_between (child.main_at, child.rows_paint_at), "ms", "< 1000");
  report ("items in the list", g_list_model_get_n_items (G_LIST_MODEL (child.window->model)), "", NULL);
  report ("rows on screen", child.rows_on_screen, "", NULL);
  report ("GL off by the app, drawn with cairo (1: yes)", child.gl_off, "", NULL);
}

static void
searched (GtkSearchEntry *entry)
{
  child.searched_at = g_get_monotonic_time ();
}

/* As a person types: a character added at the end is one insertion
 * (gtk_editable_set_text would first empty the entry, a second search). */
static void
type_text (GtkEditable *entry,
           const char  *text)
{
  const char *old = gtk_editable_get_text (entry);
  gsize old_len = strlen (old);
  int position = (int) g_utf8_strlen (old, -1);

  if (old_len > 0 && g_str_has_prefix (text, old) && g_utf8_strlen (text + old_len, -1) == 1)
    gtk_editable_insert_text (entry, text + old_len, -1, &position);
  else
    gtk_editable_set_text (entry, text);
}

/* One keystroke: type it, wait for the window's search-changed (the
 * model has settled by then: it reloads synchronously) and the next frame. */
static void
type_keystroke (const char *text,
                double     *model_ms,
                double     *frame_ms)
{
  GtkEditable *entry = GTK_EDITABLE (child.window->search_entry);
  gint64 start = g_get_monotonic_time ();
  gboolean expired = FALSE;
  guint timer;

  child.searched_at = 0;
  type_text (entry, text);
  timer = g_timeout_add (WAIT_MS, timed_out, &expired);
  while (child.searched_at == 0 && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (timer);
  if (expired || !wait_for_paint (child.searched_at))
    die ("search", "no frame after the keystroke");
  *model_ms = ms_between (start, child.searched_at);
  *frame_ms = ms_between (start, child.last_paint_at);
}

static void
measure_search (void)
{
  GtkSearchEntry *entry = child.window->search_entry;
  double model[G_N_ELEMENTS (keystrokes)], frame[G_N_ELEMENTS (keystrokes)];
  guint poll, total;

  report_section ("search as you type (the entry's 150 ms debounce set to 0: the app's own time)");
  g_action_group_activate_action (G_ACTION_GROUP (child.window), "search", NULL);
  wait_for_paint (g_get_monotonic_time ());
  gtk_search_entry_set_search_delay (entry, 0);
  g_signal_connect_after (entry, "search-changed", G_CALLBACK (searched), NULL);

  count_statements (TRUE);
  bench_perf_control ("enable");
  for (guint i = 0; i < G_N_ELEMENTS (keystrokes); i++)
    {
      g_autofree char *label = NULL;

      type_keystroke (keystrokes[i], &model[i], &frame[i]);
      label = g_strdup_printf ("%2u. \"%s\" -> frame (%u items)", i + 1, keystrokes[i],
                               g_list_model_get_n_items (G_LIST_MODEL (child.window->model)));
      report (label, frame[i], "ms", NULL);
    }
  bench_perf_control ("disable");
  count_statements (FALSE);
  total = statements_total (&poll);
  report ("keystroke -> frame, median", median (frame, G_N_ELEMENTS (keystrokes)), "ms", "< 50");
  report ("keystroke -> frame, max", frame[G_N_ELEMENTS (keystrokes) - 1], "ms", "< 50");
  report ("keystroke -> model settled, median", median (model, G_N_ELEMENTS (keystrokes)), "ms", NULL);
  report ("keystroke -> model settled, max", model[G_N_ELEMENTS (keystrokes) - 1], "ms", NULL);
  report ("SQL statements per keystroke", (double) (total - poll) / G_N_ELEMENTS (keystrokes), "", NULL);
}

static void
bound (GtkSignalListItemFactory *factory,
       GtkListItem              *item)
{
  child.binds++;
}

static gboolean
scroll_to (GtkAdjustment *adj,
           double         value,
           double        *frame_ms)
{
  gint64 start = g_get_monotonic_time ();

  value = CLAMP (value, 0, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  if (value == gtk_adjustment_get_value (adj))
    return FALSE;
  gtk_adjustment_set_value (adj, value);
  if (!wait_for_paint (start))
    die ("scroll", "no frame after scrolling");
  *frame_ms = ms_between (start, child.last_paint_at);
  return TRUE;
}

/* Through the list: page by page from the top, then the whole list in even
 * jumps (each a screen of rows never shown before), counting SQL. */
static void
measure_scroll (void)
{
  GtkGridView *list_view = child.window->list_view;
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (list_view));
  GtkListItemFactory *factory = gtk_grid_view_get_factory (list_view);
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (child.window->model));
  g_autoptr(GArray) frames = g_array_new (FALSE, FALSE, sizeof (double));
  gulong handler = g_signal_connect_after (factory, "bind", G_CALLBACK (bound), NULL);
  guint poll, total;
  double ms, last_row;

  report_section ("scrolling the list: SQL in row binding");
  child.binds = 0;
  count_statements (TRUE);
  for (guint i = 1; i <= SCROLL_PAGES; i++)
    if (scroll_to (adj, i * gtk_adjustment_get_page_size (adj), &ms))
      g_array_append_val (frames, ms);
  for (guint i = 1; i <= SCROLL_JUMPS; i++)
    {
      double end = gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj);

      if (scroll_to (adj, end * i / SCROLL_JUMPS, &ms))
        g_array_append_val (frames, ms);
    }
  count_statements (FALSE);
  g_signal_handler_disconnect (factory, handler);

  total = statements_total (&poll);
  last_row = (gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj)) /
             gtk_adjustment_get_upper (adj) * n_items;
  report ("scroll steps (each waits for its frame)", frames->len, "", NULL);
  report ("rows bound while scrolling", child.binds, "", NULL);
  report ("last row reached", last_row, "", NULL);
  report ("SQL statements, all", total, "", NULL);
  report ("  of them the external-change poll (500 ms)", poll, "", NULL);
  report ("  the rest: SQL while binding rows", total - poll, "", "0");
  report ("scroll step -> frame, median", median ((double *) frames->data, frames->len), "ms", NULL);
  report ("scroll step -> frame, max", g_array_index (frames, double, frames->len - 1), "ms", NULL);
  report_other_statements ();
}

static gboolean
run_measurements (gpointer data)
{
  TetherDatabase *db = tether_application_get_database (child.app);

  report_first_frame ();
  report_section ("memory");
  report ("peak RSS after the first frame (VmHWM)", status_mib ("VmHWM:"), "MiB", "< 150");

  child.statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sqlite3_trace_v2 (_tether_database_get_handle (db), SQLITE_TRACE_STMT, on_statement, NULL);
  measure_search ();
  report_section ("memory");
  report ("peak RSS after the searches (VmHWM)", status_mib ("VmHWM:"), "MiB", "< 150");
  measure_scroll ();
  report_section ("memory");
  report ("peak RSS at the end (VmHWM)", status_mib ("VmHWM:"), "MiB", "< 150");
  report ("RSS at the end (VmRSS)", status_mib ("VmRSS:"), "MiB", NULL);
  report ("  of it the software GL libraries (libLLVM, mesa)", software_gl_mib (), "MiB", NULL);

  sqlite3_trace_v2 (_tether_database_get_handle (db), 0, NULL, NULL);
  g_clear_pointer (&child.statements, g_hash_table_unref);
  g_application_quit (G_APPLICATION (child.app));
  return G_SOURCE_REMOVE;
}

/* Start measuring once the list is on screen. */
static gboolean
wait_for_rows (gpointer data)
{
  if (child.rows_paint_at == 0)
    return G_SOURCE_CONTINUE;
  g_idle_add (run_measurements, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
give_up (gpointer data)
{
  die ("child", "the main window never showed its list (5 minutes)");
}

static int
run_child (const char *db_path,
           gint64      spawned_at)
{
  g_autoptr(TetherApplication) app = NULL;
  char *argv[] = { (char *) "tether-app", (char *) "--db", (char *) db_path, NULL };

  child.main_at = g_get_monotonic_time ();
  child.spawned_at = spawned_at;
  child.gl_off = tether_renderer_choose ();
  setlocale (LC_ALL, "");

  /* As main.c does, with hooks to see the first frame. */
  app = child.app = tether_application_new ();
  g_signal_connect_after (app, "startup", G_CALLBACK (app_started), NULL);
  g_signal_connect (app, "window-added", G_CALLBACK (window_added), NULL);
  g_timeout_add (5, wait_for_rows, NULL);
  g_timeout_add_seconds (300, give_up, NULL);
  return g_application_run (G_APPLICATION (app), G_N_ELEMENTS (argv) - 1, argv);
}

/* ---- the parent: data, the model alone, and the runs ------------------ */

static TetherLiveQuery *
live_query (TetherDatabase *db,
            const char     *name)
{
  g_autoptr(GError) error = NULL;
  TetherCollection *collection = tether_database_get_collection (db, name, &error);
  g_autoptr(TetherQuery) query = NULL;
  TetherLiveQuery *live;

  check (collection != NULL, name, error);
  query = tether_query_new (collection);
  if (g_str_equal (name, "notes"))
    tether_query_sort (query, "pinned", TRUE);
  tether_query_sort (query, "updatedAt", TRUE);
  live = tether_live_query_new (query, &error);
  check (live != NULL, "live query", error);
  return live;
}

/* Where the first-frame time goes, without GTK: open, the two live queries,
 * and the item model over them (which runs both again and merges). */
/* The keystrokes on the item model alone, in a fresh process's first
 * database connection: what the search costs before GTK draws anything. */
static void
measure_search_alone (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherDatabase) db = tether_database_open (path, NULL, &error);
  g_autoptr(TetherItemModel) item_model = NULL;
  double rss_before;

  check (db != NULL, path, error);
  rss_before = status_mib ("VmRSS:");
  item_model = tether_item_model_new (db, &error);
  check (item_model != NULL, "item model", error);
  g_print ("  %-46s %9.1f MiB\n", "memory of the item model (VmRSS growth)", status_mib ("VmRSS:") - rss_before);
  g_print ("  search, model alone (no GTK), per keystroke:\n");
  for (guint i = 0; i < G_N_ELEMENTS (keystrokes); i++)
    {
      gint64 start = g_get_monotonic_time ();

      tether_item_model_set_search (item_model, keystrokes[i]);
      g_print ("    %2u. %-12s %9.1f ms  (%u items)\n", i + 1, keystrokes[i],
               ms_between (start, g_get_monotonic_time ()),
               g_list_model_get_n_items (G_LIST_MODEL (item_model)));
    }
  g_clear_object (&item_model);
  tether_database_close (db);
}

static void
measure_model_alone (const char *path,
                     guint       runs)
{
  g_autofree double *open = g_new (double, runs);
  g_autofree double *notes = g_new (double, runs);
  g_autofree double *tasks = g_new (double, runs);
  g_autofree double *model = g_new (double, runs);
  g_autoptr(GError) error = NULL;

  for (guint r = 0; r < runs; r++)
    {
      gint64 t0 = g_get_monotonic_time (), t1, t2, t3, t4;
      g_autoptr(TetherDatabase) db = tether_database_open (path, NULL, &error);
      g_autoptr(TetherLiveQuery) live_notes = NULL;
      g_autoptr(TetherLiveQuery) live_tasks = NULL;
      g_autoptr(TetherItemModel) item_model = NULL;

      check (db != NULL, path, error);
      t1 = g_get_monotonic_time ();
      live_notes = live_query (db, "notes");
      t2 = g_get_monotonic_time ();
      live_tasks = live_query (db, "tasks");
      t3 = g_get_monotonic_time ();
      item_model = tether_item_model_new (db, &error);
      check (item_model != NULL, "item model", error);
      t4 = g_get_monotonic_time ();
      open[r] = ms_between (t0, t1);
      notes[r] = ms_between (t1, t2);
      tasks[r] = ms_between (t2, t3);
      model[r] = ms_between (t3, t4);
      tether_database_close (db);
    }
  g_print ("\nThe database and the list model alone (no GTK), median of %u\n", runs);
  g_print ("  %-46s %9.1f ms\n", "open the database", median (open, runs));
  g_print ("  %-46s %9.1f ms\n", "live query: notes, pinned then newest", median (notes, runs));
  g_print ("  %-46s %9.1f ms\n", "live query: tasks, newest", median (tasks, runs));
  g_print ("  %-46s %9.1f ms\n", "TetherItemModel (both queries, merged)", median (model, runs));
}

typedef struct {
  GPtrArray  *labels;    /* in the order of the first run */
  GHashTable *units;     /* label → unit */
  GHashTable *goals;     /* label → goal */
  GHashTable *values;    /* label → GArray of double, one per run */
  GPtrArray  *notes;     /* "run N: text" */
} Results;

static void
results_add_line (Results    *results,
                  guint       run,
                  const char *line)
{
  g_auto(GStrv) fields = g_strsplit (line, "\t", 4);
  GArray *values;
  double value;

  if (fields[0] == NULL || fields[1] == NULL)
    return;
  if (g_str_equal (fields[0], "!"))
    {
      g_ptr_array_add (results->notes, g_strdup_printf ("run %u: %s", run + 1, fields[1]));
      return;
    }
  if (g_str_equal (fields[0], "#"))
    {
      if (run == 0)
        g_ptr_array_add (results->labels, g_strconcat ("#", fields[1], NULL));
      return;
    }
  if (fields[2] == NULL || fields[3] == NULL)
    return;
  value = g_ascii_strtod (fields[1], NULL);
  if ((values = g_hash_table_lookup (results->values, fields[0])) == NULL)
    {
      values = g_array_new (FALSE, TRUE, sizeof (double));
      g_hash_table_insert (results->values, g_strdup (fields[0]), values);
      g_hash_table_insert (results->units, g_strdup (fields[0]), g_strdup (fields[2]));
      g_hash_table_insert (results->goals, g_strdup (fields[0]), g_strdup (fields[3]));
      g_ptr_array_add (results->labels, g_strdup (fields[0]));
    }
  g_array_set_size (values, MAX (values->len, run + 1));
  g_array_index (values, double, run) = value;
}

static void
spawn_run (const char *db_path,
           guint       run,
           char      **envp,
           Results    *results)
{
  g_autofree char *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *spawned_at = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  int status;

  spawned_at = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_monotonic_time ());
  {
    char *argv[] = { self_path, (char *) "--child", (char *) db_path,
                     (char *) "--spawned-at", spawned_at, NULL };

    if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error) ||
        !g_spawn_check_wait_status (status, &error))
      die ("run", error->message);
  }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    results_add_line (results, run, lines[i]);
}

static void
print_results (Results *results,
               guint    runs)
{
  g_print ("\nThe app, each run a new process (median of %u runs beside the goal)\n", runs);
  for (guint i = 0; i < results->labels->len; i++)
    {
      const char *label = g_ptr_array_index (results->labels, i);
      GArray *values;
      g_autofree double *sorted = NULL;
      const char *goal;

      if (label[0] == '#')
        {
          g_print ("\n%s\n  %-50s", label + 1, "");
          for (guint r = 0; r < runs; r++)
            g_print ("  %7s%u", "run ", r + 1);
          g_print ("    median\n");
          continue;
        }
      values = g_hash_table_lookup (results->values, label);
      g_print ("  %-50.50s", label);
      for (guint r = 0; r < runs; r++)
        g_print ("  %8.1f", r < values->len ? g_array_index (values, double, r) : 0.0);
      sorted = g_memdup2 (values->data, values->len * sizeof (double));
      g_print ("  %8.1f %-4s", median (sorted, values->len), (char *) g_hash_table_lookup (results->units, label));
      goal = g_hash_table_lookup (results->goals, label);
      g_print ("%s%s\n", *goal ? "  goal " : "", goal);
    }
  for (guint i = 0; i < results->notes->len; i++)
    g_print ("  SQL %s\n", (char *) g_ptr_array_index (results->notes, i));
}

static Results *
results_new (void)
{
  Results *results = g_new0 (Results, 1);

  results->labels = g_ptr_array_new_with_free_func (g_free);
  results->units = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  results->goals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  results->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref);
  results->notes = g_ptr_array_new_with_free_func (g_free);
  return results;
}

static void
results_free (Results *results)
{
  g_ptr_array_unref (results->labels);
  g_hash_table_unref (results->units);
  g_hash_table_unref (results->goals);
  g_hash_table_unref (results->values);
  g_ptr_array_unref (results->notes);
  g_free (results);
}

/* Where there is no GPU the app draws with cairo and GL off, as main()
 * does (tether-renderer.c); one more run with GTK's GL renderer forced on
 * (llvmpipe, under Xvfb) shows what that choice saves. */
static void
measure_with_gl (const char *db_path)
{
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "GSK_RENDERER", "gl", TRUE);
  Results *results;

  if (g_getenv ("GSK_RENDERER") != NULL || g_getenv ("GDK_DEBUG") != NULL)
    {
      g_print ("\nNo run with GL for comparison: GSK_RENDERER or GDK_DEBUG chose already\n");
      return;
    }
  if (!tether_renderer_is_software_only ("/dev"))
    {
      g_print ("\nNo run with GL for comparison: this machine has a GPU device, the runs above used GL\n");
      return;
    }
  results = results_new ();
  spawn_run (db_path, 0, envp, results);
  g_print ("\nOne more run with GTK's GL renderer on llvmpipe (GSK_RENDERER=gl)\n");
  for (guint i = 0; i < results->labels->len; i++)
    {
      const char *label = g_ptr_array_index (results->labels, i);
      GArray *values = g_hash_table_lookup (results->values, label);
      const char *goal;

      if (label[0] == '#' || (strstr (label, "RSS") == NULL && strstr (label, "GL") == NULL &&
                              strstr (label, "first frame with rows") == NULL && strstr (label, "-> frame,") == NULL))
        continue;
      goal = g_hash_table_lookup (results->goals, label);
      g_print ("  %-50.50s  %8.1f %-4s%s%s\n", label, g_array_index (values, double, 0),
               (char *) g_hash_table_lookup (results->units, label), *goal ? "  goal " : "", goal);
    }
  results_free (results);
}

static void
setup_dir (const char *dir,
           gboolean    reuse)
{
  g_autoptr(GError) error = NULL;

  if (dir == NULL)
    {
      work_dir = g_dir_make_tmp ("tether-bench-app-XXXXXX", &error);
      check (work_dir != NULL, "temporary directory", error);
      own_dir = TRUE;
      return;
    }
  if (g_mkdir_with_parents (dir, 0700) != 0)
    die (dir, g_strerror (errno));
  work_dir = g_strdup (dir);
  if (!reuse)
    {
      gboolean kept = keep;

      /* A fresh database, even where one was kept. */
      keep = FALSE;
      cleanup ();
      keep = kept;
      work_dir = g_strdup (dir);
    }
}

/* GtkApplication wants a session bus: a private one keeps runs apart from
 * the desktop's. It unsets DISPLAY (against X11 autolaunch); we want it. */
static GTestDBus *
start_bus (void)
{
  g_autofree char *display = g_strdup (g_getenv ("DISPLAY"));
  GTestDBus *bus = g_test_dbus_new (G_TEST_DBUS_NONE);

  g_test_dbus_up (bus);
  if (display != NULL)
    g_setenv ("DISPLAY", display, TRUE);
  return bus;
}

static void
check_environment (void)
{
  g_autoptr(GSettingsSchema) schema = NULL;
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();

  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    die ("display", "none: run under xvfb-run -a -s \"-screen 0 1280x800x24\"");
  if (source == NULL || (schema = g_settings_schema_source_lookup (source, TETHER_APP_ID, TRUE)) == NULL)
    die ("settings", "no schema " TETHER_APP_ID ": set GSETTINGS_SCHEMA_DIR=<build>/data");
}

int
main (int   argc,
      char *argv[])
{
  int n_notes = 100000, n_tasks = 3000, runs = 3;
  gboolean reuse = FALSE;
  gint64 spawned_at = 0;
  g_autofree char *dir = NULL;
  g_autofree char *child_db = NULL;
  GOptionEntry entries[] = {
    { "notes", 0, 0, G_OPTION_ARG_INT, &n_notes, "Notes (default 100000)", "N" },
    { "tasks", 0, 0, G_OPTION_ARG_INT, &n_tasks, "Tasks (default 3000)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Starts of the app (default 3)", "N" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Directory for the database (default: a temporary one)", "DIR" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Leave the database in --dir", NULL },
    { "reuse", 0, 0, G_OPTION_ARG_NONE, &reuse, "Use the database a --keep run left in --dir", NULL },
    { "child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &child_db, NULL, NULL },
    { "spawned-at", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT64, &spawned_at, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- benchmark the Tether app");
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  Results *results;
  GTestDBus *bus;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die ("options", error->message);
  if (child_db != NULL)
    return run_child (child_db, spawned_at);
  if (n_notes < 1 || n_tasks < 0 || runs < 1)
    die ("options", "--notes and --runs must be at least 1");
  if ((keep || reuse) && dir == NULL)
    die ("options", "--keep and --reuse need --dir");

  /* The user's settings stay untouched; widgets are not read over AT-SPI. */
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_setenv ("GTK_A11Y", "none", TRUE);
  check_environment ();
  keep = keep || reuse;
  setup_dir (dir, reuse);

  g_print ("Tether app benchmark\n");
  g_print ("  %-46s %s\n", "directory", work_dir);
  g_print ("  %-46s GTK %u.%u.%u, libadwaita %u.%u.%u, SQLite %s\n", "libraries",
           gtk_get_major_version (), gtk_get_minor_version (), gtk_get_micro_version (),
           adw_get_major_version (), adw_get_minor_version (), adw_get_micro_version (),
           sqlite3_libversion ());
  if (reuse)
    path = g_build_filename (work_dir, "app.db", NULL);
  else
    path = make_database (n_notes, n_tasks);
  /* first: its memory figure wants a process that has allocated nothing */
  measure_search_alone (path);
  measure_model_alone (path, runs);

  bus = start_bus ();
  results = results_new ();
  for (int r = 0; r < runs; r++)
    spawn_run (path, r, NULL, results);
  print_results (results, runs);
  measure_with_gl (path);

  g_test_dbus_down (bus);
  g_object_unref (bus);
  results_free (results);
  cleanup ();
  return EXIT_SUCCESS;
}
