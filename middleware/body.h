#ifndef PURCHASES_MIDDLEWARE_BODY_H
#define PURCHASES_MIDDLEWARE_BODY_H

#include <jansson.h>
#include <ulfius.h>

/* The request body as one JSON value. Answers the request itself and
 * returns NULL when the Content-Type is not application/json (415; a
 * charset parameter of utf-8 is fine) or the body is empty or not JSON
 * (400, with line and column); duplicate keys in an object count as not
 * JSON, since which one wins would be a guess. The size was checked by the
 * first link (413). Returns a new reference the caller owns. */
json_t *request_json_body(const struct _u_request *request, struct _u_response *response);

#endif
