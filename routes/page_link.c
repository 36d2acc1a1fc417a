#include "routes/page_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "middleware/query.h"
#include "routes/cursor.h"

/* Bytes a URI may hold as they are (RFC 3986: unreserved, sub-delims,
 * ':', '@', '/', '?' and '%' of an escape); any other byte the caller sent
 * raw, such as '<', '>' or '"', would end or break the Link value. */
static const char URI_BYTES[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "-._~!$&'()*+,;=:@/?%";

/* Appends len bytes of a URI to link at *n, each byte a URI may not hold
 * raw written as %XX: at most three bytes for each. */
static void append_uri(char *link, size_t *n, const char *bytes, size_t len) {
  static const char HEX[] = "0123456789ABCDEF";

  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)bytes[i];
    if (c != '\0' && strchr(URI_BYTES, c) != NULL) {
      link[(*n)++] = (char)c;
    } else {
      link[(*n)++] = '%';
      link[(*n)++] = HEX[c >> 4];
      link[(*n)++] = HEX[c & 0x0f];
    }
  }
  link[*n] = '\0';
}

/* Appends "<path?query-without-cursor&cursor=token>; rel=\"<rel>\"" to
 * link (cap bytes) at *n, after ", " when it is not the first. */
static void append_link(char *link, size_t cap, size_t *n, const char *url, const char *token,
                        const char *rel) {
  const char *query = query_string_of(url);
  size_t path_len = query != NULL ? (size_t)(query - 1 - url) : strlen(url);

  *n += (size_t)snprintf(link + *n, cap - *n, "%s<", *n > 0 ? ", " : "");
  append_uri(link, n, url, path_len);
  link[(*n)++] = '?';
  for (const char *segment = query; segment != NULL && *segment != '\0';) {
    size_t len = strcspn(segment, "&");
    if (!(strncmp(segment, "cursor=", 7) == 0 && len >= 7)) {
      append_uri(link, n, segment, len);
      link[(*n)++] = '&';
    }
    segment += len;
    if (*segment == '&') {
      segment++;
    }
  }
  *n += (size_t)snprintf(link + *n, cap - *n, "cursor=%s>; rel=\"%s\"", token, rel);
}

void page_link_add(const struct _u_request *request, struct _u_response *response, const char *next,
                   const char *prev) {
  const char *url = request->http_url;
  /* Each link is at most the URL (less its cursor) with every byte
   * escaped, a cursor of at most CURSOR_MAX and 40 bytes of punctuation,
   * so *n never passes cap. */
  size_t cap = 2 * (3 * strlen(url) + CURSOR_MAX + 40);
  size_t n = 0;
  char *link;

  if (next[0] == '\0' && prev[0] == '\0') {
    return;
  }
  if (strlen(next) > CURSOR_MAX || strlen(prev) > CURSOR_MAX || (link = malloc(cap)) == NULL) {
    return;
  }
  if (next[0] != '\0') {
    append_link(link, cap, &n, url, next, "next");
  }
  if (prev[0] != '\0') {
    append_link(link, cap, &n, url, prev, "prev");
  }
  u_map_put(response->map_header, "Link", link);
  free(link);
}
