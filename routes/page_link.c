#include "routes/page_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "middleware/query.h"
#include "routes/cursor.h"

/* Appends "<path?query-without-cursor&cursor=token>; rel=\"<rel>\"" to
 * link (cap bytes) at *n, after ", " when it is not the first. */
static void append_link(char *link, size_t cap, size_t *n, const char *url, const char *token,
                        const char *rel) {
  const char *query = query_string_of(url);
  size_t path_len = query != NULL ? (size_t)(query - 1 - url) : strlen(url);

  *n += (size_t)snprintf(link + *n, cap - *n, "%s<%.*s?", *n > 0 ? ", " : "", (int)path_len, url);
  for (const char *segment = query; segment != NULL && *segment != '\0';) {
    size_t len = strcspn(segment, "&");
    if (!(strncmp(segment, "cursor=", 7) == 0 && len >= 7)) {
      *n += (size_t)snprintf(link + *n, cap - *n, "%.*s&", (int)len, segment);
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
  /* Each link is at most the URL (less its cursor), a cursor of at most
   * CURSOR_MAX and 40 bytes of punctuation, so *n never passes cap. */
  size_t cap = 2 * (strlen(url) + CURSOR_MAX + 40);
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
