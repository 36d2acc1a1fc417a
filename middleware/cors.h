#ifndef PURCHASES_MIDDLEWARE_CORS_H
#define PURCHASES_MIDDLEWARE_CORS_H

/* Cross-origin calls from browsers (the shop's front end in jwt mode), off
 * unless PURCHASES_CORS_ORIGINS lists origins. Only those get
 * Access-Control-Allow-Origin, on preflights (OPTIONS, 204) and on every
 * answer; every other origin gets none, and its preflight a 403. */

#include <stdbool.h>
#include <stddef.h>

#include <ulfius.h>

#define CORS_ORIGINS_MAX 16
#define CORS_ORIGIN_MAX  255

struct cors_table {
  size_t count;
  char origins[CORS_ORIGINS_MAX][CORS_ORIGIN_MAX + 1];
};

/* Parses "https://shop.example,https://m.shop.example": each an origin as
 * browsers send it (scheme http or https in lower case, a lower-case host,
 * an optional port; no path, no trailing slash, no "*"). False with a
 * reason naming PURCHASES_CORS_ORIGINS in err. "" is an empty table. */
bool cors_parse(const char *value, struct cors_table *out, char *err, size_t err_len);

/* Whether `origin` (the Origin header, NULL when absent) is listed. */
bool cors_allowed(const struct cors_table *table, const char *origin);

/* Every answer: Vary: Origin when CORS is on, and for a listed Origin,
 * Access-Control-Allow-Origin and the headers a script may read. */
void cors_apply(const struct cors_table *table, const struct _u_request *request,
                struct _u_response *response);

/* OPTIONS on a path, when CORS is on: 204 with the methods the path takes
 * (Allow) and the headers a caller may send, for a listed origin; 403 for
 * another; 400 for a preflight without Access-Control-Request-Method.
 * user_data is the struct route_scope. */
int callback_cors_preflight(const struct _u_request *request, struct _u_response *response,
                            void *user_data);

#endif
