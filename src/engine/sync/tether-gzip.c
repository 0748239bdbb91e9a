/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tether-gzip"
#include "config.h"

#include <string.h>

#include "tether-gzip-private.h"

#if HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#define CHUNK 65536

/* Level 1: on JSON of words it keeps most of level 6's gain at a fraction
 * of the time, and the two ends are often close. */
#define LEVEL 1

static GBytes *
convert (GConverter  *converter,
         const void  *data,
         gsize        length,
         gsize        max_length,
         GError     **error)
{
  g_autoptr(GByteArray) out = g_byte_array_sized_new (CHUNK);
  g_autoptr(GBytes) all = NULL;
  const guint8 *in = data;
  GConverterResult result;

  do
    {
      gsize read = 0, written = 0, used = out->len;

      g_byte_array_set_size (out, used + CHUNK);
      result = g_converter_convert (converter, in, length, out->data + used, CHUNK,
                                    G_CONVERTER_INPUT_AT_END, &read, &written, error);
      g_byte_array_set_size (out, used + written);
      if (result == G_CONVERTER_ERROR)
        return NULL;
      in += read;
      length -= read;
      if (out->len > max_length)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "the decoded body is over %" G_GSIZE_FORMAT " bytes", max_length);
          return NULL;
        }
    }
  while (result != G_CONVERTER_FINISHED);
  g_byte_array_append (out, (const guint8 *) "", 1);
  all = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  return g_bytes_new_from_bytes (all, 0, g_bytes_get_size (all) - 1);
}

#if HAVE_LIBDEFLATE
/* libdeflate compresses a whole buffer at once: at level 1 a pull page of
 * 900 KB took 2.9 ms against zlib's 5.9 ms, and came out 7% smaller. A
 * compressor is a few hundred KB of tables, made per body: a fraction of
 * the time, and nothing kept between requests. */
GBytes *
_tether_gzip (const void *data,
              gsize       length)
{
  struct libdeflate_compressor *compressor = libdeflate_alloc_compressor (LEVEL);
  gsize bound, size;
  guint8 *out;

  if (compressor == NULL)
    g_error ("libdeflate: out of memory for a compressor");
  bound = libdeflate_gzip_compress_bound (compressor, length);
  out = g_malloc (bound);
  size = libdeflate_gzip_compress (compressor, data, length, out, bound);
  libdeflate_free_compressor (compressor);
  g_assert (size > 0);   /* the bound always fits */
  return g_bytes_new_take (g_realloc (out, size), size);
}
#else
GBytes *
_tether_gzip (const void *data,
              gsize       length)
{
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, LEVEL);

  return convert (G_CONVERTER (compressor), data, length, G_MAXSIZE, NULL);
}
#endif

#if HAVE_LIBDEFLATE
/* A gzip body of one member, whose trailer's size (ISIZE, RFC 1952) is
 * within @max_length, decoded at once into a buffer of that size: three
 * times as fast as GLib's zlib converter, which was a tenth of
 * tether-server's time in bench-sync's push. The trailer only sizes the
 * buffer: a body that is anything else, or whose trailer lies, takes the
 * converter's path, with its limit and its messages. NULL then. */
static GBytes *
gunzip_at_once (const guint8 *data,
                gsize         length,
                gsize         max_length)
{
  struct libdeflate_decompressor *decompressor;
  enum libdeflate_result result;
  gsize isize, in_used = 0, out_size = 0;
  guint8 *out;

  if (length < 18)
    return NULL;
  isize = (gsize) data[length - 4] | (gsize) data[length - 3] << 8 |
          (gsize) data[length - 2] << 16 | (gsize) data[length - 1] << 24;
  if (isize > max_length || (decompressor = libdeflate_alloc_decompressor ()) == NULL)
    return NULL;
  out = g_malloc (isize + 1);
  result = libdeflate_gzip_decompress_ex (decompressor, data, length, out, isize, &in_used, &out_size);
  libdeflate_free_decompressor (decompressor);
  if (result != LIBDEFLATE_SUCCESS || in_used != length || out_size != isize)
    {
      g_free (out);
      return NULL;
    }
  out[isize] = '\0';   /* as convert() leaves it: the text can be parsed in place */
  return g_bytes_new_take (out, isize);
}
#endif

GBytes *
_tether_gunzip (const void  *data,
                gsize        length,
                gsize        max_length,
                GError     **error)
{
  g_autoptr(GZlibDecompressor) decompressor = NULL;
  g_autoptr(GError) local_error = NULL;
  GBytes *bytes = NULL;

#if HAVE_LIBDEFLATE
  if ((bytes = gunzip_at_once (data, length, max_length)) != NULL)
    return bytes;
#endif
  decompressor = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  bytes = convert (G_CONVERTER (decompressor), data, length, max_length, &local_error);
  if (bytes == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the body is not valid gzip: %s",
                   local_error->message);
      return NULL;
    }
  if (bytes == NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return bytes;
}

/* The weight of one coding's parameters ("q=0.5"), RFC 9110 12.4.2:
 * 1 without one, -1 when it is not a qvalue. */
static double
weight (const char *params)
{
  g_auto(GStrv) parts = params != NULL ? g_strsplit (params, ";", -1) : NULL;

  for (guint i = 0; parts != NULL && parts[i] != NULL; i++)
    {
      char *param = g_strstrip (parts[i]);
      const char *value;
      double q;

      if (g_ascii_strncasecmp (param, "q", 1) != 0 || *g_strchug (param + 1) != '=')
        continue;
      value = g_strstrip (strchr (param, '=') + 1);
      /* "0" or "1", then at most three decimals */
      if ((value[0] != '0' && value[0] != '1') || strlen (value) > 5 ||
          (value[1] != '\0' && (value[1] != '.' || strspn (value + 2, "0123456789") != strlen (value + 2))))
        return -1;
      q = g_ascii_strtod (value, NULL);
      return q <= 1 ? q : -1;
    }
  return 1;
}

/* Whether an Accept-Encoding (or Content-Encoding) value names gzip with
 * a weight above 0. ("*" is not taken for gzip: the server reads
 * Content-Encoding with this too.) */
gboolean
_tether_gzip_listed (const char *header)
{
  g_auto(GStrv) codings = header != NULL ? g_strsplit (header, ",", -1) : NULL;

  for (guint i = 0; codings != NULL && codings[i] != NULL; i++)
    {
      g_autofree char *name = g_strstrip (g_strdup (codings[i]));
      char *params = strchr (name, ';');

      if (params != NULL)
        *params++ = '\0';
      g_strstrip (name);
      if (g_ascii_strcasecmp (name, "gzip") == 0 || g_ascii_strcasecmp (name, "x-gzip") == 0)
        return weight (params) > 0;
    }
  return FALSE;
}
