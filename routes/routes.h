#ifndef PURCHASES_ROUTES_ROUTES_H
#define PURCHASES_ROUTES_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <ulfius.h>

#include "middleware/request.h"

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

struct authn_context;
struct cors_table;
struct db;
struct probes_context;
struct purchases_context;
struct rate_limit_context;

/* The route table at work: what it is given, each link and controller
 * seeing only its own context, and the scopes and chains it builds, which
 * live as long as the instance serves. The app fills the first part. */
struct routes {
  struct _u_instance *instance;
  struct request_tracker *tracker;
  const struct cors_table *cors; /* no origins: no preflight routes */
  bool bench_routes;             /* PURCHASES_BENCH_ROUTES: /bench/fixed/... */
  struct authn_context *authn;
  struct rate_limit_context *rate_limit;
  struct db *audit_db; /* where the audit link writes */
  struct purchases_context *purchases;
  struct probes_context *probes;
  /* Built by routes_register(). */
  struct route_scope scopes[ROUTES_MAX_SCOPES];
  size_t scope_count;
  struct route_scope unknown_scope;
  struct route_chain chains[ROUTES_MAX]; /* one per route, run by its dispatcher */
  size_t chain_count;
};

/* Registers every endpoint of the service on routes->instance, and the
 * default endpoint (404). Returns 0, or -1 when Ulfius refused one. */
int routes_register(struct routes *routes);

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
