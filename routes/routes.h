#ifndef PURCHASES_ROUTES_ROUTES_H
#define PURCHASES_ROUTES_ROUTES_H

#include <stddef.h>

#include <ulfius.h>

#include "middleware/request.h"

struct app;

/* One link of a route's chain: a middleware check or the controller. It
 * answers (problem_send, request_answer_json) or passes; it never needs to
 * ask whether an earlier link answered, because the dispatcher stops at the
 * first answer. data is what the chain registered with it. */
typedef int (*route_link)(const struct _u_request *request, struct _u_response *response,
                          void *data);

/* The most links before a controller, and the most routes. */
#define ROUTE_LINKS_MAX 6
#define ROUTES_MAX      32 /* chains: the routes, and a preflight per path with CORS on */

/* A route's chain, as routes_register builds it from the route table:
 * links[0..count) end with the controller; `after` (the audit) runs only
 * when the controller did. request_begin runs before all of them and
 * request_finish after, whatever happened. */
struct route_chain {
  const struct route_scope *scope;
  route_link links[ROUTE_LINKS_MAX];
  void *data[ROUTE_LINKS_MAX];
  size_t count;
  route_link after;
  void *after_data;
};

/* Ulfius runs the endpoints that match a request lowest priority first: a
 * route's dispatcher, then, for a method no route takes, the 405. */
#define PRIORITY_CHAIN              1
#define PRIORITY_METHOD_NOT_ALLOWED 9

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
