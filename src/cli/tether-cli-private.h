/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether.h"

G_BEGIN_DECLS

#define TETHER_CLI_ERROR (_tether_cli_error_quark ())

typedef enum {
  TETHER_CLI_ERROR_USAGE,  /* the command line is wrong: exit status 2 */
  TETHER_CLI_ERROR_FAILED, /* the operation failed after running: exit status 1 */
} TetherCliError;

/* What the global options chose; the database is opened on first use so a
 * usage error never creates a database file. */
typedef struct {
  char           *db_path;
  char           *schema_path;
  TetherDatabase *db;
} TetherCli;

/* Which command options a command accepts. */
typedef enum {
  TETHER_CLI_OPT_FILTER             = 1 << 0, /* --where, --or */
  TETHER_CLI_OPT_SORT               = 1 << 1, /* --sort */
  TETHER_CLI_OPT_PAGE               = 1 << 2, /* --limit, --offset */
  TETHER_CLI_OPT_FIRST              = 1 << 3, /* --first */
  TETHER_CLI_OPT_SINGLE_TRANSACTION = 1 << 4, /* --single-transaction */
  TETHER_CLI_OPT_TOKEN              = 1 << 5, /* --token, --token-file, --no-token */
  TETHER_CLI_OPT_JSON               = 1 << 6, /* --json */
} TetherCliOptions;

/* A command's arguments after option parsing. Strings point into argv. */
typedef struct {
  GPtrArray *positional;
  GPtrArray *where;
  GPtrArray *or_where;
  GPtrArray *sort;
  gint64     limit;  /* -1: not given */
  gint64     offset; /* -1: not given */
  gboolean   first;
  gboolean   single_transaction;
  const char *token;      /* NULL: not given */
  const char *token_file; /* NULL: not given; "-": standard input */
  gboolean   no_token;
  gboolean   json;
} TetherCliArgs;

#define ARG(args, i) ((const char *) g_ptr_array_index ((args)->positional, (i)))

typedef gboolean (*TetherCliCommandFunc) (TetherCli      *cli,
                                          TetherCliArgs  *args,
                                          GError        **error);

typedef struct {
  const char           *name;
  const char           *synopsis;
  const char           *summary;
  guint                 min_args;
  guint                 max_args;
  TetherCliOptions      options;
  TetherCliCommandFunc  func;
  guint                 json_arg;  /* the 1-based position of a record given as JSON; 0: none */
} TetherCliCommand;

/* tether-cli.c */
GQuark                  _tether_cli_error_quark        (void);
TetherDatabase         *_tether_cli_open               (TetherCli      *cli,
                                                        GError        **error);
TetherCollection       *_tether_cli_get_collection     (TetherCli      *cli,
                                                        const char     *name,
                                                        GError        **error);

/* tether-cli-commands.c */
const TetherCliCommand *_tether_cli_get_commands       (guint          *n_commands);
gboolean                _tether_cli_summary            (TetherCli      *cli,
                                                        GError        **error);

/* tether-cli-transfer.c */
gboolean                _tether_cli_export             (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
gboolean                _tether_cli_import             (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);

/* tether-cli-apply.c */
gboolean                _tether_cli_apply              (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);

/* tether-cli-sync.c: the sync client (remote, sync, the queue, conflicts) */
/* What to run when there is no remote; --token-file keeps the token out of
 * the process list and the shell history. */
#define TETHER_CLI_SET_REMOTE "run `tether remote set URL --token-file FILE` first " \
                              "(safer than --token TOKEN, which ps and the shell history can see)"
#define TETHER_CLI_NOT_SET_UP "sync is not set up for this database: " TETHER_CLI_SET_REMOTE
#define TETHER_CLI_NO_REMOTE  "no remote is stored in this database: " TETHER_CLI_SET_REMOTE

/* Whether the database has the sync tables, found without creating them. */
gboolean                _tether_cli_sync_is_set_up     (TetherCli      *cli,
                                                        gboolean       *set_up,
                                                        GError        **error);
/* The sync engine of a database set up for sync; otherwise NULL with
 * TETHER_CLI_NOT_SET_UP, and the database stays as it was. */
TetherSyncEngine       *_tether_cli_open_sync          (TetherCli      *cli,
                                                        GError        **error);
/* The database's sync engine, setting sync up (the sync tables, change
 * tracking from now on, every record logged as a change) if it was not. */
TetherSyncEngine       *_tether_cli_set_up_sync        (TetherCli      *cli,
                                                        GError        **error);
/* The stored remote; FALSE with TETHER_CLI_NO_REMOTE when there is none. */
gboolean                _tether_cli_load_remote        (TetherSyncEngine *engine,
                                                        char          **url,
                                                        char          **token,
                                                        GError        **error);
/* "pushed 3 changes (3 accepted, …) in 42 ms" */
char                   *_tether_cli_describe_report    (const TetherSyncReport *report);
gboolean                _tether_cli_sync               (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
gboolean                _tether_cli_retry_failed       (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
gboolean                _tether_cli_discard            (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
gboolean                _tether_cli_compact            (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
gboolean                _tether_cli_conflicts          (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);

/* tether-cli-remote.c */
gboolean                _tether_cli_remote             (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);

/* tether-cli-inspect.c */
gboolean                _tether_cli_inspect            (TetherCli      *cli,
                                                        TetherCliArgs  *args,
                                                        GError        **error);
/* Lines for people, or one JSON array with @json. */
void                    _tether_cli_print_conflicts    (GPtrArray      *conflicts,
                                                        gboolean        json);

/* tether-cli-io.c: output (always UTF-8, buffered stdio) */
void                    _tether_cli_print_text         (const char     *text);
void                    _tether_cli_print_int          (gint64          value);
void                    _tether_cli_print_node         (JsonNode       *node);
void                    _tether_cli_print_object       (JsonObject     *object);
void                    _tether_cli_print_record       (TetherRecord   *record);
void                    _tether_cli_print_records      (GPtrArray      *records);
gboolean                _tether_cli_flush              (GError        **error);
char                   *_tether_cli_json_string        (const char     *text);

/* tether-cli-io.c: input */
JsonObject             *_tether_cli_parse_object       (JsonParser     *parser,
                                                        const char     *text,
                                                        gssize          length,
                                                        GError        **error);
JsonObject             *_tether_cli_parse_argument     (const char     *command,
                                                        const char     *text,
                                                        GError        **error);

/* "line N: " before @error's message ("line N, column C: " for a JSON
 * syntax error). */
void                    _tether_cli_prefix_line        (GError        **error,
                                                        guint           number);

/* Non-blank lines of standard input, streamed, with their line numbers. */
typedef struct _TetherCliLines TetherCliLines;

TetherCliLines         *_tether_cli_lines_new_stdin    (void);
void                    _tether_cli_lines_free         (TetherCliLines *self);
/* The next non-blank line, whitespace-trimmed, or NULL at the end (error unset)
 * or on an error: reading failed, or a line is longer than 2 MiB (the
 * message names it). */
const char             *_tether_cli_lines_next         (TetherCliLines *self,
                                                        gsize          *length,
                                                        GError        **error);
guint                   _tether_cli_lines_get_number   (TetherCliLines *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherCliLines, _tether_cli_lines_free)

G_END_DECLS
