#include "middleware/metrics.h"

#include <string.h>

#include "lib/stats.h"

enum method { METHOD_GET, METHOD_HEAD, METHOD_POST, METHOD_PATCH, METHOD_OTHER, METHOD_COUNT };
static const char *const METHOD_NAMES[METHOD_COUNT] = {"GET", "HEAD", "POST", "PATCH", "other"};

/* Every status the service answers; anything else is counted as "other". */
static const long STATUSES[] = {200, 201, 304, 400, 401, 403, 404, 405, 409, 412,
                                413, 414, 415, 422, 429, 431, 500, 501, 503};
#define STATUS_COUNT (sizeof(STATUSES) / sizeof(STATUSES[0]) + 1)

/* Durations are kept by status class, so that fast refusals and slow
 * successes of one route are told apart: 2xx, 3xx, 4xx, 5xx. */
#define CLASS_COUNT 4
static const char *const CLASS_NAMES[CLASS_COUNT] = {"2xx", "3xx", "4xx", "5xx"};

struct route_metrics {
  const char *route;
  atomic_ullong requests[METHOD_COUNT][STATUS_COUNT];
  struct histogram duration[METHOD_COUNT][CLASS_COUNT];
};

static struct route_metrics routes[METRICS_ROUTES_MAX];
static size_t route_count;
static atomic_ullong rate_limited;
static atomic_ullong auth_failures_limited;
static atomic_ullong audit_written;
static atomic_ullong audit_failed;

void metrics_register_route(const char *pattern) {
  for (size_t i = 0; i < route_count; i++) {
    if (strcmp(routes[i].route, pattern) == 0) {
      return;
    }
  }
  if (route_count < METRICS_ROUTES_MAX) {
    routes[route_count++].route = pattern;
  }
}

static struct route_metrics *route_of(const char *route) {
  struct route_metrics *unknown = NULL;
  for (size_t i = 0; i < route_count; i++) {
    if (strcmp(routes[i].route, route) == 0) {
      return &routes[i];
    }
    if (strcmp(routes[i].route, "-") == 0) {
      unknown = &routes[i];
    }
  }
  return unknown;
}

static size_t method_index(const char *method) {
  for (size_t i = 0; i < METHOD_OTHER; i++) {
    if (method != NULL && strcmp(method, METHOD_NAMES[i]) == 0) {
      return i;
    }
  }
  return METHOD_OTHER;
}

static size_t status_index(long status) {
  for (size_t i = 0; i < STATUS_COUNT - 1; i++) {
    if (STATUSES[i] == status) {
      return i;
    }
  }
  return STATUS_COUNT - 1;
}

void metrics_observe_request(const char *route, const char *method, long status, double seconds) {
  struct route_metrics *metrics = route_of(route);
  if (metrics == NULL) {
    return;
  }
  size_t m = method_index(method);
  size_t class = status >= 200 && status < 600 ? (size_t)(status / 100 - 2) : CLASS_COUNT - 1;
  atomic_fetch_add_explicit(&metrics->requests[m][status_index(status)], 1, memory_order_relaxed);
  histogram_observe(&metrics->duration[m][class], seconds);
}

void metrics_count_rate_limited(void) {
  atomic_fetch_add_explicit(&rate_limited, 1, memory_order_relaxed);
}

void metrics_count_auth_failures_limited(void) {
  atomic_fetch_add_explicit(&auth_failures_limited, 1, memory_order_relaxed);
}

void metrics_count_audit(bool written) {
  atomic_fetch_add_explicit(written ? &audit_written : &audit_failed, 1, memory_order_relaxed);
}

void metrics_write_http(FILE *out, unsigned int in_flight) {
  char labels[128];

  fputs("# HELP http_requests_total HTTP requests answered, by route pattern, method and "
        "status.\n# TYPE http_requests_total counter\n",
        out);
  for (size_t r = 0; r < route_count; r++) {
    for (size_t m = 0; m < METHOD_COUNT; m++) {
      for (size_t s = 0; s < STATUS_COUNT; s++) {
        unsigned long long n =
            atomic_load_explicit(&routes[r].requests[m][s], memory_order_relaxed);
        if (n == 0) {
          continue; /* series appear once they happen */
        }
        if (s < STATUS_COUNT - 1) {
          fprintf(out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"%ld\"} %llu\n",
                  METHOD_NAMES[m], routes[r].route, STATUSES[s], n);
        } else {
          fprintf(out, "http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} %llu\n",
                  METHOD_NAMES[m], routes[r].route, n);
        }
      }
    }
  }
  fputs("# HELP http_request_duration_seconds Time from the first link of a request to its "
        "answer, by route pattern, method and status class.\n"
        "# TYPE http_request_duration_seconds histogram\n",
        out);
  for (size_t r = 0; r < route_count; r++) {
    for (size_t m = 0; m < METHOD_COUNT; m++) {
      for (size_t c = 0; c < CLASS_COUNT; c++) {
        if (atomic_load_explicit(&routes[r].duration[m][c].count, memory_order_relaxed) == 0) {
          continue; /* series appear once they happen */
        }
        snprintf(labels, sizeof(labels), "method=\"%s\",route=\"%s\",status_class=\"%s\"",
                 METHOD_NAMES[m], routes[r].route, CLASS_NAMES[c]);
        histogram_write(out, "http_request_duration_seconds", labels, &routes[r].duration[m][c]);
      }
    }
  }
  fprintf(out,
          "# HELP http_requests_in_flight Requests being served now.\n"
          "# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight %u\n"
          "# HELP purchases_rate_limited_total Requests refused with 429.\n"
          "# TYPE purchases_rate_limited_total counter\npurchases_rate_limited_total %llu\n"
          "# HELP purchases_auth_failures_limited_total Requests refused with 429, before "
          "authentication, because their client address had too many failed "
          "authentications.\n"
          "# TYPE purchases_auth_failures_limited_total counter\n"
          "purchases_auth_failures_limited_total %llu\n"
          "# HELP purchases_audit_records_total Audit records of support and service reads, "
          "by outcome.\n# TYPE purchases_audit_records_total counter\n"
          "purchases_audit_records_total{outcome=\"written\"} %llu\n"
          "purchases_audit_records_total{outcome=\"failed\"} %llu\n",
          in_flight, atomic_load_explicit(&rate_limited, memory_order_relaxed),
          atomic_load_explicit(&auth_failures_limited, memory_order_relaxed),
          atomic_load_explicit(&audit_written, memory_order_relaxed),
          atomic_load_explicit(&audit_failed, memory_order_relaxed));
}
