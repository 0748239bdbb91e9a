/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tether-http-transport.h"
#include "tether-transport-private.h"

G_BEGIN_DECLS

/* The HTTP transport's parts: the object, push, pull and info
 * (tether-http-transport.c), and its requests and their answers
 * (tether-http-requests.c). */

struct _TetherHttpTransport
{
  GObject      parent_instance;
  SoupSession *session;          /* keeps the timeout and the user agent */
  char        *base_url;         /* without a trailing slash */
  char        *token;
  GHashTable  *headers;          /* name → value, sent with every request */
  gint64       retry_after_ms;
  guint64      bytes_sent;
  guint64      bytes_received;   /* as on the wire: gzip bodies count compressed */
  gboolean     connected;
  gboolean     gzip_bodies;      /* the server said it takes gzip request bodies */
};

/* Sends <base><path> with @body (JSON text, may be NULL); the task answers
 * a JsonObject, or the refusal the answer stands for. @probe: GET base,
 * where any refusal but 401, 429 and 5xx means "not Tether". */
void _tether_http_request_start (TetherHttpTransport *self,
                                 const char          *method,
                                 const char          *path,
                                 GBytes              *body,
                                 gboolean             probe,
                                 GCancellable        *cancellable,
                                 gpointer             source_tag,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);

G_END_DECLS
