#ifndef PURCHASES_ROUTES_PAGE_LINK_H
#define PURCHASES_ROUTES_PAGE_LINK_H

#include <ulfius.h>

/* Sets the Link header (RFC 8288) of a list page: rel="next" with `next`
 * and rel="prev" with `prev`, each the request's own URL with its cursor
 * replaced, so the other page keeps every other parameter exactly. An
 * empty cursor adds no link; with neither, no header. */
void page_link_add(const struct _u_request *request, struct _u_response *response, const char *next,
                   const char *prev);

#endif
