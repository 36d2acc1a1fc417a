#ifndef PURCHASES_ROUTES_CONTEXT_H
#define PURCHASES_ROUTES_CONTEXT_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "middleware/rate_limit.h"
#include "middleware/request.h"
#include "models/cache.h"
#include "models/db.h"
#include "models/versions.h"
#include "routes/cursor.h"

/* What the controllers of the guarded routes (the purchase reads and
 * writes, the audit trail) need, and no more: the app fills it once at
 * start and hands it to them as their user_data, so they never see struct
 * app. Everything it points to is the app's and outlives every request. */
struct purchases_context {
  struct db *db;
  const struct cursor_key *cursor_key;
  struct cache *cache; /* NULL when the response cache is off */
  struct versions *versions;
  const struct rate_limit_context *rate_limit;
  uint32_t coalesce_wait_ms; /* how long a miss waits for another's read of its page */
};

/* What the probes and /metrics read: the state of the process, read-only
 * but for `wake`, which asks the app's watcher to retry the database now. */
struct probes_context {
  struct db *db;
  const struct request_tracker *tracker; /* in flight, draining */
  const atomic_bool *indexes_ready;
  const atomic_bool *database_up; /* the watcher's last ping answered */
  void (*wake)(void *arg);
  void *wake_arg;
  struct cache *cache; /* NULL when off */
  struct versions *versions;
  const struct rate_limit_context *rate_limit; /* its limiter and Redis pool */
  /* The app's own, such as hand-offs and connections; NULL: none. */
  void (*write_serving_metrics)(void *arg, FILE *out);
  void *serving_metrics_arg;
  time_t started_at;
};

#endif
