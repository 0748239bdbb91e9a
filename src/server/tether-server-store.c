/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-server-store"
#include "config.h"

#include <string.h>

#include "tether-server-store.h"

G_DEFINE_QUARK (tether-server-store-error-quark, tether_server_store_error)

static inline guint64
mix (guint64 h,
     guint64 word)
{
  h = (h ^ word) * G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  return h ^ (h >> 32);
}

guint
_tether_server_str_hash (gconstpointer key)
{
  static gsize seed_once = 0;
  static guint64 seed;
  const char *p = key;
  gsize n = strlen (p);
  guint64 h, word = 0;

  if (g_once_init_enter (&seed_once))
    {
      seed = ((guint64) g_random_int () << 32) | g_random_int ();
      g_once_init_leave (&seed_once, 1);
    }
  h = seed ^ (n * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  for (; n >= 8; p += 8, n -= 8)
    {
      memcpy (&word, p, 8);
      h = mix (h, word);
    }
  if (n > 0)
    {
      word = 0;
      memcpy (&word, p, n);
      h = mix (h, word);
    }
  h ^= h >> 29;
  h *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  return (guint) (h ^ (h >> 32));
}

G_DEFINE_INTERFACE (TetherServerStore, tether_server_store, G_TYPE_OBJECT)

static void
tether_server_store_default_init (TetherServerStoreInterface *iface)
{
  /* Emitted on the main context when another process moved a user's feed
   * (PostgreSQL LISTEN/NOTIFY); the core forwards it to the WebSocket hub. */
  g_signal_new ("feed-changed",
                G_TYPE_FROM_INTERFACE (iface),
                G_SIGNAL_RUN_LAST,
                0, NULL, NULL, NULL,
                G_TYPE_NONE, 2, G_TYPE_INT64, G_TYPE_INT64);
}

#define IFACE(self) TETHER_SERVER_STORE_GET_IFACE (self)

gboolean
tether_server_store_begin (TetherServerStore  *self,
                           GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  return IFACE (self)->begin (self, error);
}

gboolean
tether_server_store_commit (TetherServerStore  *self,
                            GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  return IFACE (self)->commit (self, error);
}

void
tether_server_store_rollback (TetherServerStore *self)
{
  g_return_if_fail (TETHER_IS_SERVER_STORE (self));
  IFACE (self)->rollback (self);
}

gboolean
tether_server_store_user_add (TetherServerStore  *self,
                              const char         *name,
                              const guint8        token_hash[32],
                              GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL && token_hash != NULL, FALSE);
  return IFACE (self)->user_add (self, name, token_hash, error);
}

gboolean
tether_server_store_user_set_token (TetherServerStore  *self,
                                    const char         *name,
                                    const guint8        token_hash[32],
                                    GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL && token_hash != NULL, FALSE);
  return IFACE (self)->user_set_token (self, name, token_hash, error);
}

gboolean
tether_server_store_user_remove (TetherServerStore  *self,
                                 const char         *name,
                                 GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  return IFACE (self)->user_remove (self, name, error);
}

GPtrArray *
tether_server_store_user_list (TetherServerStore  *self,
                               GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), NULL);
  return IFACE (self)->user_list (self, error);
}

gboolean
tether_server_store_user_by_token (TetherServerStore  *self,
                                   const guint8        token_hash[32],
                                   TetherServerUser   *out,
                                   GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (token_hash != NULL && out != NULL, FALSE);
  return IFACE (self)->user_by_token (self, token_hash, out, error);
}

gint64
tether_server_store_lock_user (TetherServerStore  *self,
                               gint64              user_id,
                               GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), -1);
  return IFACE (self)->lock_user (self, user_id, error);
}

gboolean
tether_server_store_set_last_rev (TetherServerStore  *self,
                                  gint64              user_id,
                                  gint64              rev,
                                  GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  return IFACE (self)->set_last_rev (self, user_id, rev, error);
}

GHashTable *
tether_server_store_find_applied (TetherServerStore   *self,
                                  gint64               user_id,
                                  const char * const  *change_ids,
                                  guint                n,
                                  GError             **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (n == 0 || change_ids != NULL, NULL);
  return IFACE (self)->find_applied (self, user_id, change_ids, n, error);
}

gboolean
tether_server_store_remember_applied (TetherServerStore          *self,
                                      gint64                      user_id,
                                      const char * const         *change_ids,
                                      TetherServerApplied * const *applied,
                                      guint                       n,
                                      GError                    **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (n == 0 || (change_ids != NULL && applied != NULL), FALSE);
  return IFACE (self)->remember_applied (self, user_id, change_ids, applied, n, error);
}

gboolean
tether_server_store_prepare (TetherServerStore  *self,
                             GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  return IFACE (self)->prepare == NULL || IFACE (self)->prepare (self, error);
}

GHashTable *
tether_server_store_get_records (TetherServerStore   *self,
                                 gint64               user_id,
                                 const char * const  *collections,
                                 const char * const  *keys,
                                 guint                n,
                                 gboolean             with_data,
                                 GError             **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (n == 0 || (collections != NULL && keys != NULL), NULL);
  return IFACE (self)->get_records (self, user_id, collections, keys, n, with_data, error);
}

gboolean
tether_server_store_put_records (TetherServerStore          *self,
                                 gint64                      user_id,
                                 TetherServerRecord * const *records,
                                 guint                       n,
                                 GError                    **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), FALSE);
  g_return_val_if_fail (n == 0 || records != NULL, FALSE);
  return IFACE (self)->put_records (self, user_id, records, n, error);
}

GPtrArray *
tether_server_store_pull (TetherServerStore   *self,
                          gint64               user_id,
                          gint64               after_rev,
                          const char * const  *collections,
                          const char          *skip_client,
                          guint                limit,
                          gint64              *last_rev,
                          gint64              *purged_rev,
                          GError             **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), NULL);
  g_return_val_if_fail (last_rev != NULL && purged_rev != NULL, NULL);
  return IFACE (self)->pull (self, user_id, after_rev, collections, skip_client, limit,
                             last_rev, purged_rev, error);
}

gint64
tether_server_store_purge (TetherServerStore  *self,
                           gint64              before_ms,
                           GError            **error)
{
  g_return_val_if_fail (TETHER_IS_SERVER_STORE (self), -1);
  return IFACE (self)->purge (self, before_ms, error);
}

void
tether_server_store_notify (TetherServerStore *self,
                            gint64             user_id,
                            gint64             rev)
{
  g_return_if_fail (TETHER_IS_SERVER_STORE (self));
  if (IFACE (self)->notify != NULL)
    IFACE (self)->notify (self, user_id, rev);
}

char *
tether_server_record_ref (const char *collection,
                          const char *key)
{
  return g_strconcat (collection, "\x1f", key, NULL);
}

#define WRITER_TIME_LENGTH 19   /* 13 digits, "-0000-" */

char *
tether_server_writer_time_new (gint64 ms)
{
  g_return_val_if_fail (ms >= 0 && ms <= G_GINT64_CONSTANT (9999999999999), NULL);

  return g_strdup_printf ("%013" G_GINT64_FORMAT "-0000-", ms);
}

const char *
tether_server_hlc_public (const char *hlc)
{
  return hlc != NULL && strlen (hlc) > WRITER_TIME_LENGTH ? hlc : NULL;
}

gint64
tether_server_hlc_writer_ms (const char *hlc,
                             gint64      server_ms)
{
  gint64 ms = 0;

  if (hlc == NULL || strlen (hlc) < 13)
    return server_ms;
  for (guint i = 0; i < 13; i++)
    {
      if (!g_ascii_isdigit (hlc[i]))
        return server_ms;
      ms = ms * 10 + (hlc[i] - '0');
    }
  return ms;
}

void
tether_server_user_clear (TetherServerUser *user)
{
  g_clear_pointer (&user->name, g_free);
  memset (user, 0, sizeof *user);
}

void
tether_server_record_clear (TetherServerRecord *record)
{
  g_clear_pointer (&record->collection, g_free);
  g_clear_pointer (&record->key, g_free);
  g_clear_pointer (&record->data, g_free);
  g_clear_pointer (&record->hlc, g_free);
  g_clear_pointer (&record->change_id, g_free);
  g_clear_pointer (&record->client_id, g_free);
}

void
tether_server_record_free (TetherServerRecord *record)
{
  if (record == NULL)
    return;
  tether_server_record_clear (record);
  g_free (record);
}

void
tether_server_applied_clear (TetherServerApplied *applied)
{
  g_clear_pointer (&applied->hlc, g_free);
}

void
tether_server_applied_free (TetherServerApplied *applied)
{
  if (applied == NULL)
    return;
  tether_server_applied_clear (applied);
  g_free (applied);
}
