#ifndef PURCHASES_ROUTES_ROUTES_H
#define PURCHASES_ROUTES_ROUTES_H

#include <stddef.h>

struct app;

/* Ulfius runs the callbacks that match a request lowest priority first.
 * Every request goes through these links, in this order: */
#define PRIORITY_REQUEST_BEGIN  0 /* request id, timer, hostile-input limits */
#define PRIORITY_AUTHENTICATION 1 /* headers or bearer token -> client, role, user */
#define PRIORITY_RATE_LIMIT     2 /* token bucket per client and user */
#define PRIORITY_AUTHORIZATION  3 /* :userId -> allowed or not */
#define PRIORITY_APPLICATION    4 /* the controller */
#define PRIORITY_AUDIT          5 /* support and service reads of others: recorded */
#define PRIORITY_REQUEST_END    9 /* 405 if unanswered, headers, access log */

/* The most distinct URL patterns the service answers. */
#define ROUTES_MAX_SCOPES 16

/* Registers every endpoint of the service on app->instance, and the default
 * endpoint (404). Returns 0, or -1 when Ulfius refused an endpoint. */
int routes_register(struct app *app);

/* The routes the service answers, for the contract test: how many, and
 * the method and pattern ("/user/:userId") of route i. */
size_t routes_count(void);
void routes_get(size_t i, const char **method, const char **pattern);

/* How the route table treats a request body on method and path (a decoded
 * path, no query), for the edge to decide before the body is read. */
enum route_body_rule {
  ROUTE_NO_SUCH_PATH, /* no route has this path: 404 */
  ROUTE_NO_BODY,      /* the route (or this method on it) takes no body: 413 */
  ROUTE_INGEST_BODY,  /* the route takes a body, from ingest clients only */
};
enum route_body_rule routes_body_rule(const char *method, const char *path);

#endif
