#ifndef PURCHASES_APP_APP_H
#define PURCHASES_APP_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <stddef.h>

#include <netinet/in.h>
#include <ulfius.h>

#include "app/config.h"
#include "app/connections.h"
#include "app/relay.h"
#include "middleware/jwt.h"
#include "middleware/rate_limit.h"
#include "middleware/request.h"
#include "models/cache.h"
#include "models/db.h"
#include "models/redis.h"
#include "models/versions.h"
#include "routes/context.h"
#include "routes/cursor.h"
#include "routes/routes.h"

/* The service: created once in main, passed as user_data to every endpoint,
 * destroyed once. Nothing else in the process is mutable and global. */
struct app {
  struct config config;
  struct db *db;
  struct request_tracker tracker;
  struct _u_instance instance;
  struct sockaddr_in bind_address; /* Ulfius keeps a pointer to it */
  unsigned int connection_limit;   /* HTTP connections at once, sized at start */
  bool instance_ready;             /* ulfius_init_instance succeeded */
  bool serving;                    /* the HTTP daemon runs */
  struct conn_watch *connections;  /* peer closes, head budgets, lingering; NULL until start */
  struct relay *relay;             /* events to NATS; NULL when events are off */
  struct cursor_key cursor_key;
  struct jwt_verifier *jwt;     /* NULL in headers mode */
  struct rate_limiter *limiter; /* NULL when rate limiting is off */
  struct redis_pool *redis;     /* NULL without PURCHASES_REDIS_URL */
  struct versions *versions;    /* per-user versions every write bumps */
  struct cache *cache;          /* NULL when the response cache is off */
  time_t started_at;            /* for process_start_time_seconds */
  char *tls_cert_pem;           /* PEM texts, kept while MHD runs; NULL without TLS */
  char *tls_key_pem;
  /* Failed authentications per client address; NULL when not limited. */
  struct rate_limiter *auth_failures;
  /* What the identity and rate-limit links are given, filled at start
   * from the members above: they see these, not the app. */
  struct authn_context authn;
  struct rate_limit_context rate_limit;
  /* What the controllers of the guarded routes, and the probes and
   * /metrics, are given. */
  struct purchases_context purchases;
  struct probes_context probes;
  /* The route table's inputs (the contexts above) and the chains it
   * builds: Ulfius keeps pointers into it while the instance runs. */
  struct routes routes;

  /* The watcher thread retries the database until it answers, then ensures
   * the indexes, so a database that is down at start needs no restart. */
  pthread_t watcher;
  bool watcher_running;
  pthread_mutex_t watcher_lock;
  pthread_cond_t watcher_wake;
  bool watcher_stop;
  atomic_bool indexes_ready;
  atomic_bool database_up; /* the last ping answered (purchases_database_up) */
};

/* Creates the app from a loaded config, whose contents it takes over (the
 * caller's struct is zeroed). Nothing listens or connects yet. Returns NULL
 * and a one-line reason in err when the config cannot be used (a bad
 * MONGODB_URI). The caller owns the app and frees it with app_destroy(). */
struct app *app_new(struct config *config, char *err, size_t err_len);

/* Registers the routes, starts listening, and starts the database watcher.
 * Returns false with a reason in err (port taken, ...). */
bool app_start(struct app *app, char *err, size_t err_len);

/* Ordered stop: refuse new connections, let requests in flight finish for up
 * to PURCHASES_SHUTDOWN_TIMEOUT_S, stop the HTTP daemon, stop the watcher.
 * Safe to call on an app that never started. */
void app_stop(struct app *app);

/* Releases everything app_new() and app_start() created. Calls app_stop()
 * first if needed. NULL is ignored. */
void app_destroy(struct app *app);

/* Asks the database watcher to try again now rather than at its next tick
 * (readiness calls it while the indexes are not ensured). Thread-safe. */
void app_wake_watcher(struct app *app);

/* Pings the database and, the first time it answers, ensures the indexes.
 * Returns the ping's status: MODEL_OK or MODEL_UNAVAILABLE. Thread-safe. */
enum model_status app_check_database(struct app *app);

#endif
