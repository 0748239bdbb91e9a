/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-cli"
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "tether-cli-private.h"
#include "tether-private.h"

/* Output ------------------------------------------------------------------- */

/* Everything goes through buffered stdio, untouched by the locale: the output
 * is JSON, so it is UTF-8 whatever the terminal claims. */

void
_tether_cli_print_text (const char *text)
{
  fputs (text, stdout);
  fputc ('\n', stdout);
}

void
_tether_cli_print_int (gint64 value)
{
  fprintf (stdout, "%" G_GINT64_FORMAT "\n", value);
}

void
_tether_cli_print_node (JsonNode *node)
{
  g_autofree char *text = tether_json_node_to_string (node);

  _tether_cli_print_text (text);
}

void
_tether_cli_print_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_alloc ();

  json_node_init_object (node, object);
  _tether_cli_print_node (node);
}

void
_tether_cli_print_record (TetherRecord *record)
{
  g_autofree char *text = tether_record_to_json (record);

  _tether_cli_print_text (text);
}

void
_tether_cli_print_records (GPtrArray *records)
{
  fputc ('[', stdout);
  for (guint i = 0; i < records->len; i++)
    {
      g_autofree char *text = tether_record_to_json (g_ptr_array_index (records, i));

      if (i > 0)
        fputc (',', stdout);
      fputs (text, stdout);
    }
  fputs ("]\n", stdout);
}

gboolean
_tether_cli_flush (GError **error)
{
  if (fflush (stdout) == 0 && !ferror (stdout))
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "writing the output failed: %s", g_strerror (errno));
  return FALSE;
}

/* @text quoted and escaped as a JSON string. */
char *
_tether_cli_json_string (const char *text)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, text);
  return tether_json_node_to_string (node);
}

/* Input -------------------------------------------------------------------- */

static const char *
describe_node (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return "an object";
    case JSON_NODE_ARRAY:
      return "an array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
    default:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "a number";
    }
}

/* Import and apply lines put a record inside one object of their own. */
#define MAX_INPUT_DEPTH (TETHER_MAX_RECORD_DEPTH + 1)

/* Before json-glib reads @text: it recurses once per level, and text
 * nested deeply enough overflows the stack. */
static gboolean
check_depth (const char  *text,
             gsize        length,
             GError     **error)
{
  if (!_tether_json_nested_deeper (text, length, MAX_INPUT_DEPTH))
    return TRUE;
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "the JSON is nested deeper than %d levels (a record may nest %d)",
               MAX_INPUT_DEPTH, TETHER_MAX_RECORD_DEPTH);
  return FALSE;
}

/* json-glib says "<data>:1:12: Parse error: unexpected …"; FALSE when
 * @message does not read so. */
static gboolean
read_location (const char  *message,
               guint64     *line,
               guint64     *column,
               const char **detail)
{
  char *end;

  if (!g_str_has_prefix (message, "<data>:"))
    return FALSE;
  *line = g_ascii_strtoull (message + strlen ("<data>:"), &end, 10);
  if (*end != ':')
    return FALSE;
  *column = g_ascii_strtoull (end + 1, &end, 10);
  if (!g_str_has_prefix (end, ": "))
    return FALSE;
  /* past "Parse error: " */
  *detail = strstr (end + 2, ": ") != NULL ? strstr (end + 2, ": ") + 2 : end + 2;
  return TRUE;
}

/* A reader knows no <data>, and an input line is line 1 of its own text:
 * "column 12: unexpected …", with "line L, " first when @text has lines. */
static void
set_syntax_error (GError      **error,
                  const GError *parse_error,
                  const char   *text,
                  gsize         length)
{
  const char *detail;
  guint64 line, column;

  if (!read_location (parse_error->message, &line, &column, &detail))
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED, parse_error->message);
  else if (memchr (text, '\n', length) != NULL)
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                 "line %" G_GUINT64_FORMAT ", column %" G_GUINT64_FORMAT ": %s", line, column, detail);
  else
    g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                 "column %" G_GUINT64_FORMAT ": %s", column, detail);
}

/* The root of @text, owned by @parser. */
static JsonNode *
parse_root (JsonParser  *parser,
            const char  *text,
            gssize       length,
            GError     **error)
{
  g_autoptr(GError) parse_error = NULL;
  JsonNode *root;

  if (length < 0)
    length = strlen (text);
  if (!g_utf8_validate (text, length, NULL))
    {
      g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                           "the text is not valid UTF-8");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, length, &parse_error))
    {
      set_syntax_error (error, parse_error, text, length);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    g_set_error_literal (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                         "the text is empty");
  return root;
}

JsonObject *
_tether_cli_parse_object (JsonParser  *parser,
                          const char  *text,
                          gssize       length,
                          GError     **error)
{
  JsonNode *root;

  if (!check_depth (text, length < 0 ? strlen (text) : (gsize) length, error) ||
      (root = parse_root (parser, text, length, error)) == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                   "expected a JSON object, found %s", describe_node (root));
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* A record given on the command line, for @command's error messages. */
JsonObject *
_tether_cli_parse_argument (const char  *command,
                            const char  *text,
                            GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!check_depth (text, strlen (text), error))
    {
      g_prefix_error (error, "%s: ", command);
      return NULL;
    }
  root = parse_root (parser, text, -1, error);
  if (root == NULL)
    {
      g_prefix_error (error, "%s: the record is not valid JSON: ", command);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
                   "%s: the record must be a JSON object: found %s",
                   command, describe_node (root));
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

/* "line N: " before @error's message, or "line N, " before a column. */
void
_tether_cli_prefix_line (GError **error,
                         guint    number)
{
  if (error != NULL && *error != NULL && g_str_has_prefix ((*error)->message, "column "))
    g_prefix_error (error, "line %u, ", number);
  else
    g_prefix_error (error, "line %u: ", number);
}

/* Lines of standard input -------------------------------------------------- */

/* A record is at most TETHER_MAX_RECORD_BYTES; a line around one may be
 * longer (escapes, an operation around it), but not without end: a stream
 * with no newline would otherwise be read into memory whole. */
#define MAX_LINE_BYTES (2 * 1024 * 1024)

struct _TetherCliLines {
  GBufferedInputStream *in;
  GString              *line;
  guint                 number;
};

TetherCliLines *
_tether_cli_lines_new_stdin (void)
{
  g_autoptr(GInputStream) base = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  TetherCliLines *self = g_new0 (TetherCliLines, 1);

  /* Large imports are read in big gulps rather than the default 4 KiB. */
  self->in = G_BUFFERED_INPUT_STREAM (g_buffered_input_stream_new_sized (base, 256 * 1024));
  self->line = g_string_new (NULL);
  return self;
}

void
_tether_cli_lines_free (TetherCliLines *self)
{
  g_clear_object (&self->in);
  g_string_free (self->line, TRUE);
  g_free (self);
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static gboolean
line_too_long (TetherCliLines  *self,
               GError         **error)
{
  g_set_error (error, TETHER_CLI_ERROR, TETHER_CLI_ERROR_FAILED,
               "line %u: longer than %d MiB (a record may take at most %d MiB): split it, or leave "
               "out what makes it so large", self->number, MAX_LINE_BYTES / (1024 * 1024),
               TETHER_MAX_RECORD_BYTES / (1024 * 1024));
  return FALSE;
}

/* More of standard input into the buffer; 0 at its end, -1 on an error. */
static gssize
fill (TetherCliLines  *self,
      GError         **error)
{
  gssize n = g_buffered_input_stream_fill (self->in, -1, NULL, error);

  if (n < 0)
    g_prefix_error (error, "reading standard input: ");
  return n;
}

/* The next line into self->line, without its newline; FALSE at the end
 * (error unset) or on an error. */
static gboolean
read_line (TetherCliLines  *self,
           GError         **error)
{
  gboolean started = FALSE;

  g_string_truncate (self->line, 0);
  for (;;)
    {
      gsize available, take;
      const char *buffer = g_buffered_input_stream_peek_buffer (self->in, &available);
      const char *newline = memchr (buffer, '\n', available);

      if (available == 0)
        {
          gssize n = fill (self, error);

          if (n > 0)
            continue;
          return n == 0 && started;   /* the last line may end without a newline */
        }
      if (!started)
        {
          started = TRUE;
          self->number++;
        }
      take = newline != NULL ? (gsize) (newline - buffer) : available;
      if (self->line->len + take > MAX_LINE_BYTES)
        return line_too_long (self, error);
      g_string_append_len (self->line, buffer, take);
      g_input_stream_skip (G_INPUT_STREAM (self->in), take + (newline != NULL), NULL, NULL);
      if (newline != NULL)
        return TRUE;
    }
}

const char *
_tether_cli_lines_next (TetherCliLines  *self,
                        gsize           *length,
                        GError         **error)
{
  while (read_line (self, error))
    {
      char *start = self->line->str;
      gsize len = self->line->len;

      while (len > 0 && is_blank (start[len - 1]))
        start[--len] = '\0';
      while (len > 0 && is_blank (*start))
        start++, len--;
      if (len == 0)
        continue;
      *length = len;
      return start;
    }
  return NULL;
}

guint
_tether_cli_lines_get_number (TetherCliLines *self)
{
  return self->number;
}
