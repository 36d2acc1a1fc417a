#ifndef PURCHASES_ROUTES_ETAG_H
#define PURCHASES_ROUTES_ETAG_H

/* A purchase's ETag is its version, as the strong tag "v<version>": it
 * changes with every status change and with nothing else, since nothing
 * else about a purchase changes. */

#include <stdbool.h>
#include <stdint.h>

#define ETAG_MAX 16

/* Writes "\"v<version>\"" into out. */
void etag_format(int32_t version, char out[ETAG_MAX]);

/* Reads an If-Match value: "*" gives -1 (any version), one strong tag made
 * by etag_format gives its version. False for anything else (weak tags,
 * lists, tags this service never made). */
bool etag_parse_if_match(const char *value, int32_t *version);

#endif
