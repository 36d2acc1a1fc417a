#ifndef PURCHASES_MIDDLEWARE_ENCODING_H
#define PURCHASES_MIDDLEWARE_ENCODING_H

/* Content negotiation of the one coding the service offers: gzip. */

#include <stdbool.h>
#include <stddef.h>

#include <ulfius.h>

/* What an Accept-Encoding header (RFC 9110, section 12.5.3) says of gzip. */
enum accept_gzip {
  ACCEPT_GZIP_NO,        /* absent, empty, or gzip not acceptable (q=0, not listed) */
  ACCEPT_GZIP_YES,       /* gzip, x-gzip or * with a weight above 0 */
  ACCEPT_GZIP_MALFORMED, /* not a list of codings with optional ;q= weights: 400 */
};

/* Reads `value` (NULL when the header is absent). */
enum accept_gzip accept_encoding_gzip(const char *value);

/* A strong ETag names one representation, so the gzip one has its own:
 * the identity tag with this before its closing quote ("v3" is "v3-gz"). */
#define ETAG_GZIP_SUFFIX "-gz"

/* Writes the gzip representation's tag of strong tag `etag` into out
 * (cap bytes); false when it does not fit or etag is not "...". */
bool encoding_etag_variant(const char *etag, char *out, size_t cap);

/* Compresses the response body when the request accepts gzip and the body
 * is GZIP_MIN_LENGTH bytes or more, unless it has a Content-Encoding
 * already, and gives its ETag the gzip variant; adds Vary: Accept-Encoding
 * to every answer whose body is that long, compressed or not. Run by
 * request_finish(). */
void encoding_apply(struct _u_response *response, bool gzip_ok);

#endif
