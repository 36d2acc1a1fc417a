#ifndef PURCHASES_ROUTES_ETAG_H
#define PURCHASES_ROUTES_ETAG_H

/* A purchase's ETag is its version, as the strong tag "v<version>": it
 * changes with every status change and with nothing else, since nothing
 * else about a purchase changes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETAG_MAX 16

/* Writes "\"v<version>\"" into out. */
void etag_format(int32_t version, char out[ETAG_MAX]);

/* A list page's ETag: "l" and 32 hex digits of the SHA-256 of its body,
 * between quotes. The same bytes always get the same tag. */
#define LIST_ETAG_MAX 40
bool etag_of_body(const char *body, size_t len, char out[LIST_ETAG_MAX]);

/* What an If-None-Match header says about a representation. */
enum etag_condition {
  ETAG_ABSENT,    /* no header: answer as usual */
  ETAG_MATCH,     /* "*" or a tag that matches (weak comparison): 304 */
  ETAG_NO_MATCH,  /* a well-formed list without it (or empty): answer as usual */
  ETAG_MALFORMED, /* not "*" nor a list of entity-tags (RFC 9110): 400 */
};

/* Compares If-None-Match `value` (NULL when absent; repeated headers come
 * joined by commas) with the representation's strong tag `etag`. */
enum etag_condition etag_if_none_match(const char *value, const char *etag);

/* Reads an If-Match value: "*" gives -1 (any version), one strong tag made
 * by etag_format gives its version. False for anything else (weak tags,
 * lists, tags this service never made). */
bool etag_parse_if_match(const char *value, int32_t *version);

#endif
