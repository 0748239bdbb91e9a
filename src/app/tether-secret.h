/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The server token in the user's keyring (libsecret, schema
 * "app.tether.Tether.Token" with attribute "server" = the server URL). */
void     tether_secret_store_async   (const char          *server_url,
                                      const char          *token,   /* NULL or "": clear */
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
gboolean tether_secret_store_finish  (GAsyncResult        *result,
                                      GError             **error);
void     tether_secret_lookup_async  (const char          *server_url,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
/* The token, or NULL (no error) when none is stored. */
char    *tether_secret_lookup_finish (GAsyncResult        *result,
                                      GError             **error);

G_END_DECLS
