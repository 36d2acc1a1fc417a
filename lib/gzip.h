#ifndef PURCHASES_LIB_GZIP_H
#define PURCHASES_LIB_GZIP_H

/* gzip (RFC 1952) through zlib, for Content-Encoding: gzip. */

#include <stdbool.h>
#include <stddef.h>

/* Answers this long or longer are worth compressing; shorter ones are sent
 * as they are (the gzip header and trailer alone are 18 bytes). */
#define GZIP_MIN_LENGTH 1024

/* Compresses in[0..len) at zlib level `level` (1 fastest to 9 smallest)
 * into *out, malloc'd, the caller's. False (and *out NULL) when out of
 * memory. */
bool gzip_compress(const void *in, size_t len, int level, unsigned char **out, size_t *out_len);

/* Inflates one gzip stream into *out, malloc'd with a NUL after the
 * *out_len bytes, the caller's. False for a stream that is not gzip, is cut
 * short, or inflates past max_len bytes. */
bool gzip_decompress(const void *in, size_t len, size_t max_len, unsigned char **out,
                     size_t *out_len);

#endif
