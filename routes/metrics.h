#ifndef PURCHASES_ROUTES_METRICS_H
#define PURCHASES_ROUTES_METRICS_H

#include <ulfius.h>

/* GET /metrics: every metric in the Prometheus text exposition format
 * (version 0.0.4): HTTP requests and durations, database operations, pool
 * waits and errors, rate-limit refusals, audit writes, process memory, file
 * descriptors, start time and build. No identity needed, like the probes:
 * keep the port off the internet or filter /metrics at the gateway.
 * user_data is the app. */
int callback_metrics_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data);

#endif
