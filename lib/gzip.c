#include "lib/gzip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* Deflate's memory is 4 << windowBits plus 512 << memLevel: 256 KiB at the
 * defaults, for every answer compressed at once. An answer of up to 64 KiB
 * (every page and purchase) gets the smallest window that still reaches
 * back over all of it (zlib keeps MIN_LOOKAHEAD, 262 bytes, out of reach),
 * so it compresses as in the largest window, in a fraction of the state: a
 * first page of about 9 KB takes 80 KiB and comes out 5 % smaller than in a
 * fixed 4 KiB window. Longer answers (the contract, the docs script) get
 * the defaults. */
#define GZIP_SMALL_INPUT  (64 * 1024)
#define GZIP_MIN_WINDOW   9 /* zlib's least for gzip */
#define GZIP_MAX_WINDOW   15
#define GZIP_LOOKAHEAD    262
#define GZIP_SMALL_MEMORY 5
/* windowBits plus 16: a gzip header and trailer, not zlib's. Inflating
 * takes the largest window, so any stream we or anyone made inflates. */
#define GZIP_WINDOW (GZIP_MAX_WINDOW + 16)

/* windowBits for `len` bytes of input. */
static int window_bits(size_t len) {
  int bits = GZIP_MIN_WINDOW;

  while (bits < GZIP_MAX_WINDOW && ((size_t)1 << bits) < len + GZIP_LOOKAHEAD) {
    bits++;
  }
  return bits;
}

bool gzip_compress(const void *in, size_t len, int level, unsigned char **out, size_t *out_len) {
  z_stream stream;
  unsigned char *buffer = NULL;
  uLong bound;
  bool ok = false;

  *out = NULL;
  *out_len = 0;
  memset(&stream, 0, sizeof(stream));
  bool small = len <= GZIP_SMALL_INPUT;
  if (len > UINT32_MAX ||
      deflateInit2(&stream, level, Z_DEFLATED, small ? window_bits(len) + 16 : GZIP_WINDOW,
                   small ? GZIP_SMALL_MEMORY : 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  bound = deflateBound(&stream, (uLong)len);
  buffer = malloc(bound);
  if (buffer == NULL) {
    goto done;
  }
  stream.next_in = (Bytef *)(uintptr_t)in;
  stream.avail_in = (uInt)len;
  stream.next_out = buffer;
  stream.avail_out = (uInt)bound;
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) {
    goto done;
  }
  *out = buffer;
  *out_len = stream.total_out;
  buffer = NULL;
  ok = true;

done:
  deflateEnd(&stream);
  free(buffer);
  return ok;
}

bool gzip_decompress(const void *in, size_t len, size_t max_len, unsigned char **out,
                     size_t *out_len) {
  z_stream stream;
  unsigned char *buffer = NULL;
  size_t cap = len * 8 + 64;
  int rc = Z_OK;
  bool ok = false;

  *out = NULL;
  *out_len = 0;
  memset(&stream, 0, sizeof(stream));
  if (len > UINT32_MAX || inflateInit2(&stream, GZIP_WINDOW) != Z_OK) {
    return false;
  }
  stream.next_in = (Bytef *)(uintptr_t)in;
  stream.avail_in = (uInt)len;
  while (rc != Z_STREAM_END) {
    size_t have = stream.total_out;
    if (have == cap || buffer == NULL) {
      if (buffer != NULL) {
        cap *= 2;
      }
      if (cap > max_len + 1) {
        cap = max_len + 1;
      }
      if (buffer != NULL && have >= cap) {
        goto done; /* past max_len */
      }
      unsigned char *grown = realloc(buffer, cap + 1);
      if (grown == NULL) {
        goto done;
      }
      buffer = grown;
    }
    stream.next_out = buffer + have;
    stream.avail_out = (uInt)(cap - have);
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      goto done; /* not gzip, corrupt, or cut short (Z_BUF_ERROR) */
    }
  }
  if (stream.total_out > max_len || stream.avail_in != 0) {
    goto done; /* too long, or bytes after the stream */
  }
  buffer[stream.total_out] = '\0';
  *out = buffer;
  *out_len = stream.total_out;
  buffer = NULL;
  ok = true;

done:
  inflateEnd(&stream);
  free(buffer);
  return ok;
}
