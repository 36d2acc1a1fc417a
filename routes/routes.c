#include "routes/routes.h"

#include <string.h>

#include <yder.h>

#include "middleware/audit.h"
#include "middleware/authn.h"
#include "middleware/authz.h"
#include "middleware/cors.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/rate_limit.h"
#include "middleware/request.h"
#include "routes/audit.h"
#include "routes/bench.h"
#include "routes/contract.h"
#include "routes/health.h"
#include "routes/metrics.h"
#include "routes/problems.h"
#include "routes/purchases.h"
#include "routes/user_purchases.h"

/* Which identity links a route needs before its controller. */
enum route_guard {
  GUARD_NONE,        /* probes: no identity */
  GUARD_USER_ACCESS, /* who calls, rate limit, may they read :userId, audit */
  GUARD_SUPPORT,     /* who calls, rate limit, support staff only */
  GUARD_INGEST,      /* who calls, rate limit, ingest clients only */
};

struct route {
  const char *method;
  const char *pattern;
  enum route_guard guard;
  int (*controller)(const struct _u_request *, struct _u_response *, void *);
};

/* Everything the service answers. Paths not here are 404; a method not
 * listed for a path here is 405. */
static const struct route ROUTES[] = {
    {"GET", "/user/:userId", GUARD_USER_ACCESS, callback_user_purchases_get},
    {"GET", "/user/:userId/purchases/:purchaseId", GUARD_USER_ACCESS, callback_user_purchase_get},
    {"PATCH", "/user/:userId/purchases/:purchaseId", GUARD_INGEST, callback_user_purchase_patch},
    {"POST", "/purchases", GUARD_INGEST, callback_purchases_post},
    {"GET", "/audit/:userId", GUARD_SUPPORT, callback_audit_get},
    {"GET", "/healthz", GUARD_NONE, callback_healthz_get},
    {"GET", "/readyz", GUARD_NONE, callback_readyz_get},
    {"GET", "/metrics", GUARD_NONE, callback_metrics_get},
    {"GET", "/openapi.json", GUARD_NONE, callback_openapi_get},
    {"GET", "/docs", GUARD_NONE, callback_docs_get},
    {"GET", "/docs/redoc.standalone.js", GUARD_NONE, callback_docs_script_get},
    {"GET", "/problems/:name", GUARD_NONE, callback_problem_get},
};

#define ROUTE_COUNT (sizeof(ROUTES) / sizeof(ROUTES[0]))

/* Only with PURCHASES_BENCH_ROUTES=1, for make bench: a customer's read
 * through the whole chain (identity, rate limit, authorization, audit),
 * ending in a fixed answer instead of the cache or the database. Not part
 * of the API or its contract. */
static const struct route BENCH_ROUTES[] = {
    {"GET", "/bench/fixed/:userId", GUARD_USER_ACCESS, callback_bench_fixed_get},
};

#define BENCH_ROUTE_COUNT (sizeof(BENCH_ROUTES) / sizeof(BENCH_ROUTES[0]))
/* A chain per route, and a preflight per path when CORS is on. */
_Static_assert(ROUTE_COUNT + BENCH_ROUTE_COUNT + ROUTES_MAX_SCOPES <= ROUTES_MAX,
               "raise ROUTES_MAX");

/* The next non-empty segment of *path, its length in *len, and *path moved
 * past it; NULL when none is left. Empty segments are skipped, as the
 * router does: "/user//123/" is "/user/123". */
static const char *next_segment(const char **path, size_t *len) {
  const char *segment = *path + strspn(*path, "/");

  *len = strcspn(segment, "/");
  *path = segment + *len;
  return *len > 0 ? segment : NULL;
}

/* Whether path has pattern's segments, ":name" matching any segment. */
static bool path_matches(const char *pattern, const char *path) {
  for (;;) {
    size_t p_len;
    size_t s_len;
    const char *p = next_segment(&pattern, &p_len);
    const char *segment = next_segment(&path, &s_len);
    if (p == NULL || segment == NULL) {
      return p == NULL && segment == NULL;
    }
    if (p[0] != ':' && (p_len != s_len || strncmp(p, segment, p_len) != 0)) {
      return false;
    }
  }
}

enum route_body_rule routes_body_rule(const char *method, const char *path) {
  enum route_body_rule rule = ROUTE_NO_SUCH_PATH;
  for (size_t i = 0; i < ROUTE_COUNT; i++) {
    if (!path_matches(ROUTES[i].pattern, path)) {
      continue;
    }
    if (strcmp(ROUTES[i].method, method) == 0 && ROUTES[i].guard == GUARD_INGEST) {
      return ROUTE_INGEST_BODY;
    }
    rule = ROUTE_NO_BODY;
  }
  return rule;
}

size_t routes_count(void) {
  return ROUTE_COUNT;
}

void routes_get(size_t i, const char **method, const char **pattern) {
  *method = ROUTES[i].method;
  *pattern = ROUTES[i].pattern;
}

/* The scope of `pattern`, created on first use; NULL when the table is full. */
static struct route_scope *scope_for(struct routes *routes, const char *pattern) {
  for (size_t i = 0; i < routes->scope_count; i++) {
    if (strcmp(routes->scopes[i].route, pattern) == 0) {
      return &routes->scopes[i];
    }
  }
  if (routes->scope_count == ROUTES_MAX_SCOPES) {
    return NULL;
  }
  struct route_scope *scope = &routes->scopes[routes->scope_count++];
  scope->route = pattern;
  scope->allow[0] = '\0';
  scope->tracker = routes->tracker;
  scope->cors = routes->cors;
  return scope;
}

static int add(struct routes *routes, const char *method, const char *pattern,
               unsigned int priority,
               int (*callback)(const struct _u_request *, struct _u_response *, void *),
               void *user_data) {
  if (ulfius_add_endpoint_by_val(routes->instance, method, NULL, pattern, priority, callback,
                                 user_data) != U_OK) {
    y_log_message(Y_LOG_LEVEL_ERROR, "routes: cannot register %s %s", method, pattern);
    return -1;
  }
  return 0;
}

/* The one function every route's request runs through: the start, each
 * link until one answers, the audit once the controller ran, the finish. */
static int dispatch(const struct _u_request *request, struct _u_response *response,
                    void *user_data) {
  const struct route_chain *chain = user_data;
  struct request_ctx *ctx;
  size_t i = 0;

  if (!request_begin(request, response, chain->scope)) {
    return U_CALLBACK_ERROR;
  }
  ctx = request_ctx_of(response);
  for (; i < chain->count && !ctx->answered; i++) {
    chain->links[i](request, response, chain->data[i]);
  }
  if (request_pass_deferred()) {
    /* Handed off: the whole chain runs again where it may wait, and
     * that pass finishes the request (request_defer). */
    return U_CALLBACK_COMPLETE;
  }
  if (i == chain->count && chain->after != NULL) {
    chain->after(request, response, chain->after_data);
  }
  if (!ctx->answered) {
    y_log_message(Y_LOG_LEVEL_ERROR, "routes: %s %s left the request unanswered",
                  request->http_verb, chain->scope->route);
    problem_send(response, PROBLEM_INTERNAL, "The request was not answered.");
  }
  request_finish(request, response);
  return U_CALLBACK_COMPLETE;
}

/* Before the controller of a route that always uses the database: on an
 * epoll worker, hands the request off rather than wait there. */
static int hand_off(const struct _u_request *request, struct _u_response *response,
                    void *user_data) {
  (void)rate_limit_defer(request, response, user_data);
  return U_CALLBACK_CONTINUE;
}

static void chain_add(struct route_chain *chain, route_link link, void *data) {
  chain->links[chain->count] = link;
  chain->data[chain->count] = data;
  chain->count++;
}

/* The chain of one route, in the order the guard prescribes. */
static void chain_build(struct route_chain *chain, const struct route *route,
                        const struct route_scope *scope, const struct routes *routes) {
  memset(chain, 0, sizeof(*chain));
  chain->scope = scope;
  if (route->guard != GUARD_NONE) {
    chain_add(chain, callback_authenticate, routes->authn);
    chain_add(chain, callback_rate_limit, routes->rate_limit);
  }
  switch (route->guard) {
    case GUARD_USER_ACCESS:
      chain_add(chain, callback_user_authz, NULL);
      chain->after = callback_audit;
      chain->after_data = routes->audit_db;
      break;
    case GUARD_SUPPORT:
      chain_add(chain, callback_role_only, (void *)&AUTHZ_SUPPORT_ONLY);
      chain_add(chain, hand_off, routes->rate_limit);
      break;
    case GUARD_INGEST:
      chain_add(chain, callback_role_only, (void *)&AUTHZ_INGEST_ONLY);
      chain_add(chain, hand_off, routes->rate_limit);
      break;
    case GUARD_NONE:
      break;
  }
  /* Each controller sees what it uses: the guarded routes the purchases'
   * context, the probes, the metrics and the docs the process's state. */
  chain_add(chain, route->controller,
            route->guard != GUARD_NONE ? (void *)routes->purchases : (void *)routes->probes);
}

/* Registers one row: its 405 catch-all the first time its pattern comes,
 * then its method with its chain. A GET answers HEAD too, through the same
 * chain (RFC 9110: the same headers, and libmicrohttpd sends no body). */
static int register_route(struct routes *routes, const struct route *route) {
  struct route_scope *scope = scope_for(routes, route->pattern);
  struct route_chain *chain = &routes->chains[routes->chain_count++];
  int rc = 0;

  if (scope == NULL) {
    y_log_message(Y_LOG_LEVEL_ERROR, "routes: more than %d patterns", ROUTES_MAX_SCOPES);
    return -1;
  }
  metrics_register_route(route->pattern);
  if (scope->allow[0] == '\0') {
    rc |= add(routes, "*", route->pattern, PRIORITY_METHOD_NOT_ALLOWED, callback_method_not_allowed,
              scope);
    /* With CORS on, OPTIONS on each path is a browser's preflight. */
    if (routes->cors->count > 0) {
      struct route_chain *preflight = &routes->chains[routes->chain_count++];
      memset(preflight, 0, sizeof(*preflight));
      preflight->scope = scope;
      chain_add(preflight, callback_cors_preflight, scope);
      rc |= add(routes, "OPTIONS", route->pattern, PRIORITY_CHAIN, dispatch, preflight);
    }
  } else {
    strncat(scope->allow, ", ", sizeof(scope->allow) - strlen(scope->allow) - 1);
  }
  strncat(scope->allow, route->method, sizeof(scope->allow) - strlen(scope->allow) - 1);
  chain_build(chain, route, scope, routes);
  rc |= add(routes, route->method, route->pattern, PRIORITY_CHAIN, dispatch, chain);
  if (strcmp(route->method, "GET") == 0) {
    strncat(scope->allow, ", HEAD", sizeof(scope->allow) - strlen(scope->allow) - 1);
    rc |= add(routes, "HEAD", route->pattern, PRIORITY_CHAIN, dispatch, chain);
  }
  return rc != 0 ? -1 : 0;
}

int routes_register(struct routes *routes) {
  routes->scope_count = 0;
  routes->chain_count = 0;
  for (size_t i = 0; i < ROUTE_COUNT; i++) {
    if (register_route(routes, &ROUTES[i]) != 0) {
      return -1;
    }
  }
  for (size_t i = 0; routes->bench_routes && i < BENCH_ROUTE_COUNT; i++) {
    if (register_route(routes, &BENCH_ROUTES[i]) != 0) {
      return -1;
    }
  }

  metrics_register_route("-");
  routes->unknown_scope.route = "-";
  strcpy(routes->unknown_scope.allow, "");
  routes->unknown_scope.tracker = routes->tracker;
  routes->unknown_scope.cors = routes->cors;
  if (ulfius_set_default_endpoint(routes->instance, callback_not_found, &routes->unknown_scope) !=
      U_OK) {
    return -1;
  }
  return 0;
}
