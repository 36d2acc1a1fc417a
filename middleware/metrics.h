#ifndef PURCHASES_MIDDLEWARE_METRICS_H
#define PURCHASES_MIDDLEWARE_METRICS_H

/* What the HTTP side records for /metrics: requests by route pattern,
 * method and status, their duration by route, rate-limit refusals and
 * audit writes. One registry per process; routes are registered before the
 * server starts, and recording is lock-free from then on. */

#include <stdbool.h>
#include <stdio.h>

#define METRICS_ROUTES_MAX 24

/* Adds a route pattern ("/user/:userId", or "-" for unknown paths); calls
 * for a known one do nothing. Not thread-safe: call before serving. */
void metrics_register_route(const char *pattern);

/* One finished request. An unregistered route is counted as "-". */
void metrics_observe_request(const char *route, const char *method, long status, double seconds);

void metrics_count_rate_limited(void);
/* One request refused with 429 because its address had too many failed
 * authentications (middleware/authn.c). */
void metrics_count_auth_failures_limited(void);
void metrics_count_audit(bool written);

/* Writes every HTTP metric in the Prometheus text format; in_flight is the
 * number of requests being served now. */
void metrics_write_http(FILE *out, unsigned int in_flight);

#endif
