/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-core"
#include "config.h"

#include <string.h>

#include "tether-server-core-private.h"

struct _TetherServerCore
{
  GObject            parent_instance;
  TetherServerStore *store;
  TetherSchema      *schema;
  guint              max_changes;
  gint64             retention_ms;
};

G_DEFINE_FINAL_TYPE (TetherServerCore, tether_server_core, G_TYPE_OBJECT)

G_DEFINE_QUARK (tether-server-error-quark, tether_server_error)

enum { FEED_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const struct {
  guint       status;
  const char *code;
} error_table[] = {
  [TETHER_SERVER_ERROR_BAD_REQUEST] = { 400, "bad-request" },
  [TETHER_SERVER_ERROR_TOO_DEEP] = { 400, "too-deep" },
  [TETHER_SERVER_ERROR_BAD_CURSOR] = { 400, "bad-cursor" },
  [TETHER_SERVER_ERROR_UNAUTHORIZED] = { 401, "unauthorized" },
  [TETHER_SERVER_ERROR_SCHEMA_TOO_NEW] = { 409, "schema-too-new" },
  [TETHER_SERVER_ERROR_SCHEMA_TOO_OLD] = { 409, "schema-too-old" },
  [TETHER_SERVER_ERROR_CURSOR_EXPIRED] = { 410, "cursor-expired" },
  [TETHER_SERVER_ERROR_TOO_LARGE] = { 413, "too-large" },
  [TETHER_SERVER_ERROR_TOO_MANY] = { 413, "too-many-changes" },
  [TETHER_SERVER_ERROR_RATE_LIMITED] = { 429, "rate-limited" },
  [TETHER_SERVER_ERROR_UNAVAILABLE] = { 503, "unavailable" },
  [TETHER_SERVER_ERROR_INTERNAL] = { 500, "internal" },
};

static gboolean
is_server_error (const GError *error)
{
  return error != NULL && error->domain == TETHER_SERVER_ERROR &&
         error->code >= 0 && (gsize) error->code < G_N_ELEMENTS (error_table);
}

guint
tether_server_error_status (const GError *error)
{
  return is_server_error (error) ? error_table[error->code].status : 500;
}

const char *
tether_server_error_code (const GError *error)
{
  return is_server_error (error) ? error_table[error->code].code : "internal";
}

JsonNode *
tether_server_error_to_json (const GError *error)
{
  JsonObject *object = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  g_return_val_if_fail (error != NULL, NULL);

  json_object_set_string_member (object, "error", error->message);
  json_object_set_string_member (object, "code", tether_server_error_code (error));
  json_node_take_object (node, object);
  return node;
}

gboolean
_tether_server_fail (GError     **error,
                     int          code,
                     const char  *format,
                     ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TETHER_SERVER_ERROR, code, message);
  return FALSE;
}

void
_tether_server_store_failed (GError **error,
                             GError  *store_error)
{
  g_autoptr(GError) owned = store_error;

  if (g_error_matches (owned, TETHER_SERVER_STORE_ERROR, TETHER_SERVER_STORE_ERROR_NOT_FOUND))
    g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED,
                 "This user no longer exists: %s", owned->message);
  else
    g_set_error (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAVAILABLE,
                 "The server's storage is unavailable, try again later (%s)",
                 owned->message);
}

TetherSchema *
_tether_server_core_get_schema (TetherServerCore *self)
{
  return self->schema;
}

guint
_tether_server_core_get_max_changes (TetherServerCore *self)
{
  return self->max_changes;
}

void
_tether_server_core_feed_changed (TetherServerCore *self,
                                  gint64            user_id,
                                  gint64            rev)
{
  tether_server_store_notify (self->store, user_id, rev);
  g_signal_emit (self, signals[FEED_CHANGED], 0, user_id, rev);
}

/* Writes seen by other server processes (PostgreSQL NOTIFY). */
static void
on_store_feed_changed (TetherServerStore *store,
                       gint64             user_id,
                       gint64             rev,
                       TetherServerCore  *self)
{
  g_signal_emit (self, signals[FEED_CHANGED], 0, user_id, rev);
}

static void
tether_server_core_dispose (GObject *object)
{
  TetherServerCore *self = TETHER_SERVER_CORE (object);

  g_clear_object (&self->store);
  g_clear_object (&self->schema);
  G_OBJECT_CLASS (tether_server_core_parent_class)->dispose (object);
}

static void
tether_server_core_class_init (TetherServerCoreClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = tether_server_core_dispose;

  signals[FEED_CHANGED] = g_signal_new ("feed-changed", G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_INT64);
}

static void
tether_server_core_init (TetherServerCore *self)
{
}

TetherServerCore *
tether_server_core_new (TetherServerStore *store,
                        TetherSchema      *schema,
                        guint              max_changes,
                        gint64             tombstone_retention_ms)
{
  TetherServerCore *self;

  g_return_val_if_fail (TETHER_IS_SERVER_STORE (store), NULL);
  g_return_val_if_fail (schema == NULL || TETHER_IS_SCHEMA (schema), NULL);

  self = g_object_new (TETHER_TYPE_SERVER_CORE, NULL);
  self->store = g_object_ref (store);
  self->schema = schema != NULL ? g_object_ref (schema) : NULL;
  self->max_changes = max_changes > 0 ? max_changes : TETHER_SERVER_DEFAULT_MAX_CHANGES;
  self->retention_ms = tombstone_retention_ms;
  g_signal_connect_object (store, "feed-changed", G_CALLBACK (on_store_feed_changed), self, 0);
  return self;
}

TetherServerStore *
tether_server_core_get_store (TetherServerCore *self)
{
  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);
  return self->store;
}

JsonNode *
tether_server_core_info (TetherServerCore *self)
{
  static const char * const features[] = {
    "baseRev", "hlc", "idempotency", "tombstones", "fieldConflicts", "websocket",
  };
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), NULL);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "server");
  json_builder_add_string_value (builder, "tether-server");
  json_builder_set_member_name (builder, "protocol");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "schemaVersion");
  if (self->schema != NULL)
    json_builder_add_int_value (builder, tether_schema_get_version (self->schema));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "features");
  json_builder_begin_array (builder);
  for (guint i = 0; i < G_N_ELEMENTS (features); i++)
    json_builder_add_string_value (builder, features[i]);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

gint64
tether_server_core_purge (TetherServerCore  *self,
                          GError           **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), -1);

  return tether_server_store_purge (self->store, tether_time_now_ms () - self->retention_ms, error);
}

static gboolean
unauthorized (GError     **error,
              const char  *message)
{
  g_set_error_literal (error, TETHER_SERVER_ERROR, TETHER_SERVER_ERROR_UNAUTHORIZED, message);
  return FALSE;
}

/* The lookup is by hash; the final compare of the hashes takes the same time
 * wherever they differ, so timing tells nothing about a token. */
gboolean
tether_server_core_authenticate (TetherServerCore  *self,
                                 const char        *authorization,
                                 TetherServerUser  *out,
                                 GError           **error)
{
  g_auto(TetherServerUser) user = { 0 };
  g_autoptr(GError) local_error = NULL;
  const char *token;
  guint8 hash[32];
  guint8 diff = 0;

  g_return_val_if_fail (TETHER_IS_SERVER_CORE (self), FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0)
    return unauthorized (error, "Send an “Authorization: Bearer <token>” header "
                                "with a token from “tether-server user add”");
  token = authorization + 7;
  while (*token == ' ')
    token++;
  if (*token == '\0')
    return unauthorized (error, "The bearer token is empty");
  _tether_server_token_hash (token, strlen (token), hash);
  if (!tether_server_store_user_by_token (self->store, hash, &user, &local_error))
    {
      if (local_error != NULL)
        return _tether_server_store_failed (error, g_steal_pointer (&local_error)), FALSE;
      return unauthorized (error, "Unknown token: ask the server's owner for a new one");
    }
  for (guint i = 0; i < 32; i++)
    diff |= hash[i] ^ user.token_hash[i];
  if (diff != 0)
    return unauthorized (error, "Unknown token: ask the server's owner for a new one");
  *out = user;
  memset (&user, 0, sizeof user);
  return TRUE;
}
