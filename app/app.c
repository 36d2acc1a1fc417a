#include "app/app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <yder.h>

#include "app/edge.h"
#include "app/logging.h"
#include "models/audit.h"
#include "models/history.h"
#include "models/idempotency.h"
#include "models/migrate.h"
#include "models/purchase.h"

/* Largest request line plus headers MHD buffers per connection; beyond it
 * MHD answers 414 or 431 itself. */
#define APP_CONNECTION_MEMORY (32 * 1024)
/* Ulfius keeps this much of a body and silently drops the rest; one byte
 * over the limit lets check_limits see that a body was too long. */
#define APP_MAX_BODY (REQUEST_BODY_MAX + 1)
/* Time for the last responses to leave the socket once none is in flight. */
#define APP_DRAIN_GRACE_MS 100
/* The most principals the rate limiter tracks at once; beyond it the least
 * recently seen are forgotten (they start again with a full bucket). */
#define APP_RATE_LIMIT_KEYS 100000
/* How often the watcher retries a database that does not answer. */
#define APP_WATCH_INTERVAL_S 1
/* How often expired idempotency keys are deleted on FerretDB. */
#define APP_PURGE_INTERVAL_S 600
/* Once ready, how often the watcher pings the database for
 * purchases_database_up. */
#define APP_HEALTH_INTERVAL_S 5
/* Descriptors kept back from HTTP connections: the listening socket, the
 * database pool, logs, the watcher. */
#define APP_RESERVED_FDS 128
/* The most sockets lingering at once (app/connections.h), each a
 * descriptor beside the connections: their room is kept back too. */
#define APP_LINGER_MAX 1024
/* The most connections sized automatically (PURCHASES_MAX_CONNECTIONS=0):
 * each is a thread, so this bounds threads and memory too. */
#define APP_AUTO_MAX_CONNECTIONS 16384
/* Connections the kernel queues before MHD accepts them: a burst of new
 * clients waits in the queue instead of being refused. */
#define APP_LISTEN_BACKLOG 4096
/* Stack of each connection's thread. A request needs far less (nothing
 * large lives on the stack); the sanitizers' redzones need more. */
#if defined(__SANITIZE_ADDRESS__)
#define APP_THREAD_STACK (1024 * 1024)
#else
#define APP_THREAD_STACK (256 * 1024)
#endif

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Reads a PEM file whole into *out (NUL-terminated; the caller frees). */
static bool read_pem(const char *path, const char *variable, char **out, char *err,
                     size_t err_len) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long size = -1;
  bool ok = false;

  if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
    size = ftell(f);
  }
  if (size <= 0 || size > 1024 * 1024 || fseek(f, 0, SEEK_SET) != 0) {
    snprintf(err, err_len, "%s: cannot read %s", variable, path);
    goto done;
  }
  text = malloc((size_t)size + 1);
  if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
    snprintf(err, err_len, "%s: cannot read %s", variable, path);
    goto done;
  }
  text[size] = '\0';
  if (strstr(text, "-----BEGIN ") == NULL) {
    snprintf(err, err_len, "%s: %s is not a PEM file", variable, path);
    goto done;
  }
  *out = text;
  text = NULL;
  ok = true;

done:
  if (f != NULL) {
    fclose(f);
  }
  free(text);
  return ok;
}

/* The per-user versions every write bumps (shared through Redis when
 * PURCHASES_REDIS_URL is set; needed even with this instance's cache off,
 * since others may cache) and the response cache. */
static bool caching_start(struct app *app, char *err, size_t err_len) {
  struct redis_address redis;
  struct redis_pool_options pool_options = {
      .address = &redis,
      .timeout_ms = app->config.redis_timeout_ms,
      .retry_ms = 1000,
  };
  struct versions_options options = {.redis = NULL};

  if (app->config.redis_url != NULL) {
    if (!redis_address_parse(app->config.redis_url, &redis, err, err_len)) {
      return false;
    }
    app->redis = redis_pool_new(&pool_options);
    if (app->redis == NULL) {
      snprintf(err, err_len, "out of memory for the Redis pool");
      return false;
    }
    options.redis = app->redis;
  }
  app->versions = versions_new(&options);
  if (app->versions == NULL) {
    snprintf(err, err_len, "out of memory for the cache versions");
    return false;
  }
  db_set_versions(app->db, app->versions);
  app->cache = cache_new(app->config.cache_bytes, app->config.cache_ttl_s);
  if (app->cache == NULL && app->config.cache_bytes > 0 && app->config.cache_ttl_s > 0) {
    snprintf(err, err_len, "out of memory for the response cache");
    return false;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "cache: %s%s",
                app->cache != NULL ? "on" : "off (PURCHASES_CACHE_BYTES or _TTL_S is 0)",
                options.redis != NULL ? "; versions shared through Redis"
                                      : "; versions of this instance only");
  return true;
}

/* /metrics' view of the serving model: hand-offs and connections. */
static void write_serving_metrics(void *arg, FILE *out) {
  struct app *app = arg;
  edge_write_metrics(out);
  conn_watch_write_metrics(app->connections, out);
  relay_write_metrics(app->relay, out);
}

/* The probes' way to app_wake_watcher, through struct probes_context. */
static void wake_watcher(void *arg) {
  app_wake_watcher(arg);
}

/* The token verifier and the two limiters the configuration asks for.
 * False (and err) when one cannot be made. */
static bool guards_start(struct app *app, char *err, size_t err_len) {
  if (app->config.auth_mode != AUTH_HEADERS) {
    app->jwt = jwt_verifier_new(app->config.jwks_file, app->config.jwt_issuer,
                                app->config.jwt_audience, err, err_len);
    if (app->jwt == NULL) {
      return false;
    }
  }
  if (app->config.rate_limit_rps > 0) {
    app->limiter = rate_limiter_new(app->config.rate_limit_rps, app->config.rate_limit_burst,
                                    APP_RATE_LIMIT_KEYS);
    if (app->limiter == NULL) {
      snprintf(err, err_len, "out of memory for the rate limiter");
      return false;
    }
  }
  if (app->config.auth_failures_rps > 0) {
    app->auth_failures = rate_limiter_new(app->config.auth_failures_rps,
                                          app->config.auth_failures_burst, APP_RATE_LIMIT_KEYS);
    if (app->auth_failures == NULL) {
      snprintf(err, err_len, "out of memory for the failed-authentication limiter");
      return false;
    }
  }
  return true;
}

/* What the links and controllers are given instead of the app (their
 * narrow contexts), once everything they point to exists: after
 * caching_start, which makes the Redis pool. */
static void contexts_fill(struct app *app) {
  app->authn = (struct authn_context){.mode = app->config.auth_mode,
                                      .jwt = app->jwt,
                                      .clients = &app->config.clients,
                                      .failures = app->auth_failures,
                                      .failures_burst = app->config.auth_failures_burst,
                                      .failures_rps = app->config.auth_failures_rps};
  app->rate_limit = (struct rate_limit_context){.limiter = app->limiter,
                                                .redis = app->redis,
                                                .burst = app->config.rate_limit_burst,
                                                .rps = app->config.rate_limit_rps};
  app->purchases = (struct purchases_context){.db = app->db,
                                              .cursor_key = &app->cursor_key,
                                              .cache = app->cache,
                                              .versions = app->versions,
                                              .rate_limit = &app->rate_limit,
                                              .coalesce_wait_ms = app->config.db_wait_ms +
                                                                  app->config.db_query_timeout_ms};
  app->probes = (struct probes_context){.db = app->db,
                                        .tracker = &app->tracker,
                                        .indexes_ready = &app->indexes_ready,
                                        .database_up = &app->database_up,
                                        .wake = wake_watcher,
                                        .wake_arg = app,
                                        .cache = app->cache,
                                        .versions = app->versions,
                                        .rate_limit = &app->rate_limit,
                                        .write_serving_metrics = write_serving_metrics,
                                        .serving_metrics_arg = app,
                                        .started_at = app->started_at};
  app->routes = (struct routes){.instance = &app->instance,
                                .tracker = &app->tracker,
                                .cors = &app->config.cors,
                                .bench_routes = app->config.bench_routes != 0,
                                .authn = &app->authn,
                                .rate_limit = &app->rate_limit,
                                .audit_db = app->db,
                                .purchases = &app->purchases,
                                .probes = &app->probes};
}

struct app *app_new(struct config *config, char *err, size_t err_len) {
  struct app *app = calloc(1, sizeof(*app));
  struct app *result = NULL;
  struct db_options options = {0};

  if (app == NULL) {
    snprintf(err, err_len, "out of memory");
    goto done;
  }
  app->config = *config;
  memset(config, 0, sizeof(*config));
  app->started_at = time(NULL);
  atomic_init(&app->tracker.in_flight, 0);
  atomic_init(&app->tracker.draining, false);
  atomic_init(&app->database_up, false);
  atomic_init(&app->indexes_ready, false);
  pthread_mutex_init(&app->watcher_lock, NULL);
  pthread_cond_init(&app->watcher_wake, NULL);

  if (app->config.tls_cert != NULL) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      snprintf(err, err_len, "PURCHASES_TLS_CERT: this libmicrohttpd has no TLS support");
      goto done;
    }
    if (!read_pem(app->config.tls_cert, "PURCHASES_TLS_CERT", &app->tls_cert_pem, err, err_len) ||
        !read_pem(app->config.tls_key, "PURCHASES_TLS_KEY", &app->tls_key_pem, err, err_len)) {
      goto done;
    }
  }
  if (!guards_start(app, err, err_len)) {
    goto done;
  }
  if (!cursor_key_init(&app->cursor_key, app->config.cursor_key)) {
    snprintf(err, err_len, "cannot make a cursor key: no random bytes");
    goto done;
  }
  if (app->config.cursor_key == NULL) {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "PURCHASES_CURSOR_KEY is not set: cursors are signed with a random key and "
                  "stop working when this process restarts or on another instance");
  }

  options.uri = app->config.mongodb_uri;
  options.timeout_ms = app->config.db_timeout_ms;
  options.query_timeout_ms = app->config.db_query_timeout_ms;
  options.app_name = "purchases";
  options.max_in_flight = app->config.db_max_in_flight;
  options.wait_ms = app->config.db_wait_ms;
  app->db = db_new(&options, err, err_len);
  if (app->db == NULL || !caching_start(app, err, err_len)) {
    goto done;
  }
  /* Writes record their events from the first one on (models/events.h). */
  db_set_events(app->db, app->config.nats_url != NULL);
  contexts_fill(app);
  result = app;
  app = NULL;

done:
  app_destroy(app);
  return result;
}

/* Whether the database still has the shape of the release before
 * per-customer ids; said in the log once each time it changes. History is
 * read by purchase id until purchases-migrate has run (models/history.h). */
static void check_shape(struct app *app) {
  bool earlier = false;
  bool was = db_earlier_shape(app->db);

  if (migrate_detect_earlier(app->db, &earlier) != MODEL_OK || earlier == was) {
    return;
  }
  db_set_earlier_shape(app->db, earlier);
  if (earlier) {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "database: it has the shape of the release before per-customer purchase ids; "
                  "served as it is, but not shardable: run purchases-migrate once every "
                  "instance runs this release (docs/scaling.md)");
  } else {
    y_log_message(Y_LOG_LEVEL_INFO, "database: migrated; history is read by customer");
  }
}

enum model_status app_check_database(struct app *app) {
  enum model_status status = db_ping(app->db);
  atomic_store(&app->database_up, status == MODEL_OK);
  if (status == MODEL_OK) {
    check_shape(app);
  }
  if (status == MODEL_OK && !atomic_load(&app->indexes_ready)) {
    if (purchase_store_ensure_indexes(app->db) == MODEL_OK &&
        history_store_ensure_indexes(app->db) == MODEL_OK &&
        idempotency_store_ensure_indexes(app->db) == MODEL_OK &&
        audit_store_ensure_indexes(app->db) == MODEL_OK &&
        !atomic_exchange(&app->indexes_ready, true)) {
      y_log_message(Y_LOG_LEVEL_INFO, "database answers%s; indexes ensured",
                    db_is_ferretdb(app->db) ? " (FerretDB)" : "");
    }
  }
  return status;
}

void app_wake_watcher(struct app *app) {
  pthread_mutex_lock(&app->watcher_lock);
  pthread_cond_signal(&app->watcher_wake);
  pthread_mutex_unlock(&app->watcher_lock);
}

/* Deletes expired idempotency keys. MongoDB does it through a TTL index;
 * FerretDB v1 has none, so there this thread does it. */
static void purge_expired_keys(struct app *app) {
  struct timespec now;
  int64_t deleted = 0;

  clock_gettime(CLOCK_REALTIME, &now);
  if (idempotency_purge(app->db, (int64_t)now.tv_sec * 1000, &deleted) == MODEL_OK && deleted > 0) {
    y_log_message(Y_LOG_LEVEL_INFO, "deleted %lld expired idempotency keys", (long long)deleted);
  }
}

/* Until the database is ready: checks it every APP_WATCH_INTERVAL_S. Then
 * pings it every APP_HEALTH_INTERVAL_S (purchases_database_up), makes the
 * shared cache bumps that waited for Redis, and, on FerretDB only, purges
 * expired keys every APP_PURGE_INTERVAL_S. */
static void *watcher_main(void *data) {
  struct app *app = data;
  bool warned = false;
  time_t purged_at = 0;

  pthread_mutex_lock(&app->watcher_lock);
  while (!app->watcher_stop) {
    int interval_s = APP_WATCH_INTERVAL_S;
    pthread_mutex_unlock(&app->watcher_lock);
    if (atomic_load(&app->indexes_ready)) {
      time_t now = time(NULL);
      app_check_database(app);
      /* A write made while Redis was away reaches the other instances
       * within this interval of its return, with or without traffic here. */
      versions_flush(app->versions);
      if (db_is_ferretdb(app->db) && now - purged_at >= APP_PURGE_INTERVAL_S) {
        purge_expired_keys(app);
        purged_at = now;
      }
      interval_s = APP_HEALTH_INTERVAL_S;
    } else {
      enum model_status status = app_check_database(app);
      if (status == MODEL_OK && atomic_load(&app->indexes_ready)) {
        pthread_mutex_lock(&app->watcher_lock);
        continue; /* ready: on to housekeeping at once */
      }
      if (!warned) {
        y_log_message(Y_LOG_LEVEL_WARNING, "database not ready (%s); retrying every %d s",
                      model_status_name(status), APP_WATCH_INTERVAL_S);
        warned = true;
      }
    }
    pthread_mutex_lock(&app->watcher_lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += interval_s;
    /* Until the interval passes, a stop, or app_wake_watcher (a spurious
     * wake-up only means one more check). */
    if (!app->watcher_stop) {
      pthread_cond_timedwait(&app->watcher_wake, &app->watcher_lock, &until);
    }
  }
  pthread_mutex_unlock(&app->watcher_lock);
  return NULL;
}

/* libmicrohttpd's own messages (bad requests, resource limits) into yder. */
static void mhd_log(void *cls, const char *format, va_list args) {
  char message[256];
  (void)cls;
  vsnprintf(message, sizeof(message), format, args);
  message[strcspn(message, "\r\n")] = '\0';
  y_log_message(Y_LOG_LEVEL_WARNING, "http: %s", message);
}

/* Raises the soft open-file limit to the hard one and returns how many
 * connections that leaves room for. */
static unsigned int connection_capacity(void) {
  struct rlimit limit;
  rlim_t usable;

  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 1024 - APP_RESERVED_FDS;
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      limit.rlim_cur = was;
    }
  }
  usable = limit.rlim_cur > (APP_RESERVED_FDS + APP_LINGER_MAX) * 2
               ? limit.rlim_cur - APP_RESERVED_FDS - APP_LINGER_MAX
               : limit.rlim_cur / 2;
  return usable > UINT32_MAX ? UINT32_MAX : (unsigned int)usable;
}

/* The connection limit: the configured one when it fits the descriptors,
 * else as many as fit (with a warning), or sized automatically. */
static unsigned int connection_limit(const struct config *config) {
  unsigned int capacity = connection_capacity();
  unsigned int limit = config->max_connections;

  if (limit == 0) {
    limit = capacity < APP_AUTO_MAX_CONNECTIONS ? capacity : APP_AUTO_MAX_CONNECTIONS;
  } else if (limit > capacity) {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "PURCHASES_MAX_CONNECTIONS=%u does not fit the open-file limit; serving at most "
                  "%u connections (raise the hard limit, e.g. LimitNOFILE=)",
                  limit, capacity);
    limit = capacity;
  }
  return limit;
}

/* Starts libmicrohttpd under Ulfius with the serving model, limits and TLS
 * of the configuration. False (and err) when it cannot listen. */
static bool start_listening(struct app *app, char *err, size_t err_len) {
  struct sockaddr_in *bind_address = &app->bind_address;

  /* PURCHASES_WORKERS epoll workers share the connections (by default one
   * a CPU), handing what waits on the database to the hand-off threads
   * (app/edge.h). With 0, a thread per connection instead, with small
   * stacks so thousands of them fit, and poll() rather than select() so
   * descriptors above 1024 work (docs/performance.md compares the two).
   * Either way an inter-thread channel, so we can quiesce. */
  unsigned int flags = app->config.workers > 0
                           ? MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG
                           : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  app->connection_limit = connection_limit(&app->config);
  struct MHD_OptionItem options[] = {
      /* MHD wants its logger first, or earlier options log elsewhere. */
      {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
      /* The edge's wrappers of Ulfius's own two (app/edge.h). */
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)edge_request_completed, NULL},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)edge_uri_logger, NULL},
      /* Peer closes, head budgets and lingering (app/connections.h). */
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conn_watch_notify, app->connections},
      {MHD_OPTION_SOCK_ADDR, 0, bind_address},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)app->config.connection_timeout_s, NULL},
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)app->connection_limit, NULL},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, (intptr_t)APP_LISTEN_BACKLOG, NULL},
      {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)APP_THREAD_STACK, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)APP_CONNECTION_MEMORY, NULL},
      /* A client that drips bytes just inside the timeout holds a thread
       * for as long as it likes; this bounds how many one address holds. */
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)app->config.max_connections_per_ip, NULL},
      /* The pool of epoll workers and HTTPS, only when configured; these
       * stay END markers otherwise. */
      {MHD_OPTION_END, 0, NULL},
      {MHD_OPTION_END, 0, NULL},
      {MHD_OPTION_END, 0, NULL},
      {MHD_OPTION_END, 0, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  size_t n = 11;
  if (app->config.workers > 0) {
    options[n++] =
        (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)app->config.workers, NULL};
    /* A worker suspends what it hands off (app/edge.h). */
    if (app->config.handoff_threads > 0) {
      flags |= MHD_ALLOW_SUSPEND_RESUME;
    }
  }
  if (app->tls_cert_pem != NULL) {
    flags |= MHD_USE_TLS;
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, app->tls_cert_pem};
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, app->tls_key_pem};
    /* TLS 1.2 and 1.3 only. */
    options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                           (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
  }
  if (ulfius_start_framework_with_mhd_options(&app->instance, flags, options) != U_OK) {
    snprintf(err, err_len, "cannot listen on %s:%u (is the port in use?)", app->config.bind_address,
             app->config.port);
    return false;
  }
  return true;
}

bool app_start(struct app *app, char *err, size_t err_len) {
  struct sockaddr_in *bind_address = &app->bind_address;

  memset(bind_address, 0, sizeof(*bind_address));
  bind_address->sin_family = AF_INET;
  bind_address->sin_port = htons((uint16_t)app->config.port);
  inet_pton(AF_INET, app->config.bind_address, &bind_address->sin_addr);

  if (ulfius_init_instance(&app->instance, app->config.port, bind_address, NULL) != U_OK) {
    snprintf(err, err_len, "cannot initialise the HTTP server");
    return false;
  }
  app->instance_ready = true;
  app->instance.max_post_body_size = APP_MAX_BODY;
  edge_install(&(struct edge_config){.body_rule = routes_body_rule,
                                     .auth_mode = app->config.auth_mode,
                                     .clients = &app->config.clients,
                                     .jwt = app->jwt,
                                     .auth_failures = app->auth_failures,
                                     .body_max = REQUEST_BODY_MAX});
  if (routes_register(&app->routes) != 0) {
    snprintf(err, err_len, "cannot register the routes");
    return false;
  }

  if (app->config.nats_url != NULL) {
    app->relay = relay_new(
        &(struct relay_options){.url = app->config.nats_url,
                                .stream = app->config.events_stream,
                                .source = "/purchases",
                                .max_age_s = app->config.events_max_age_s,
                                .replicas = app->config.events_replicas,
                                .duplicate_window_s = app->config.events_duplicate_window_s,
                                .db = app->db},
        err, err_len);
    if (app->relay == NULL) {
      return false;
    }
  } else {
    y_log_message(Y_LOG_LEVEL_INFO, "events: off (PURCHASES_NATS_URL is not set)");
  }
  app->connections = conn_watch_new(
      &(struct conn_watch_options){.header_timeout_ms = app->config.header_timeout_s * 1000,
                                   .idle_timeout_ms = app->config.connection_timeout_s * 1000,
                                   .linger_time_ms = app->config.linger_time_s * 1000,
                                   .linger_timeout_ms = app->config.linger_timeout_s * 1000,
                                   .linger_bytes = app->config.linger_bytes,
                                   .linger_max = APP_LINGER_MAX},
      err, err_len);
  if (app->connections == NULL) {
    return false;
  }
  if (app->config.workers > 0 &&
      !edge_start_handoffs(app->config.handoff_threads, app->config.db_wait_ms, APP_THREAD_STACK)) {
    snprintf(err, err_len, "cannot start the hand-off threads");
    return false;
  }
  if (!start_listening(app, err, err_len)) {
    edge_stop_handoffs();
    return false;
  }
  app->serving = true;

  if (pthread_create(&app->watcher, NULL, watcher_main, app) != 0) {
    snprintf(err, err_len, "cannot start the database watcher");
    return false;
  }
  app->watcher_running = true;
  return true;
}

/* Requests still to answer: those in the chain, and those waiting for or
 * running on a hand-off thread. */
static unsigned int requests_running(struct app *app) {
  return atomic_load(&app->tracker.in_flight) + edge_handoffs_in_hand();
}

void app_stop(struct app *app) {
  if (app == NULL) {
    return;
  }
  if (app->serving) {
    MHD_socket listen_fd;
    long waited_ms = 0;
    long limit_ms = (long)app->config.shutdown_timeout_s * 1000;

    atomic_store(&app->tracker.draining, true);
    /* Readiness says 503 from now on; a balancer that checks it takes this
     * instance out within the delay, while it still answers what comes. */
    if (app->config.drain_delay_ms > 0) {
      y_log_message(Y_LOG_LEVEL_INFO, "shutdown: not ready; serving %u ms more before closing",
                    app->config.drain_delay_ms);
      sleep_ms((long)app->config.drain_delay_ms);
    }
    listen_fd = MHD_quiesce_daemon(app->instance.mhd_daemon);
    /* Refuse new connections at once (a load balancer retries elsewhere)
     * rather than leave them queued unanswered; the descriptor itself is
     * closed only after MHD has stopped, so its number cannot be reused. */
    if (listen_fd != MHD_INVALID_SOCKET) {
      shutdown(listen_fd, SHUT_RDWR);
    }
    unsigned int left = requests_running(app);
    while (left > 0 && waited_ms < limit_ms) {
      sleep_ms(10);
      waited_ms += 10;
      left = requests_running(app);
    }
    if (left > 0) {
      y_log_message(Y_LOG_LEVEL_WARNING, "shutdown: %u request(s) still running after %u s", left,
                    app->config.shutdown_timeout_s);
    } else {
      sleep_ms(APP_DRAIN_GRACE_MS);
    }
    /* Waits for what is handed off (each bounded by the database's
     * timeouts): MHD must not stop with a connection suspended. A thread
     * gives its answer back to the worker, which sends it: the same grace
     * lets those answers out before MHD closes their connections. */
    bool handed_off = edge_handoffs_in_hand() > 0;
    edge_stop_handoffs();
    if (handed_off) {
      sleep_ms(APP_DRAIN_GRACE_MS);
    }
    ulfius_stop_framework(&app->instance);
    if (listen_fd != MHD_INVALID_SOCKET) {
      close(listen_fd);
    }
    app->serving = false;
  }
  /* MHD has closed every connection; what lingers is closed now. */
  conn_watch_free(app->connections);
  app->connections = NULL;
  if (app->watcher_running) {
    pthread_mutex_lock(&app->watcher_lock);
    app->watcher_stop = true;
    pthread_cond_signal(&app->watcher_wake);
    pthread_mutex_unlock(&app->watcher_lock);
    pthread_join(app->watcher, NULL);
    app->watcher_running = false;
  }
}

void app_destroy(struct app *app) {
  if (app == NULL) {
    return;
  }
  app_stop(app);
  if (app->instance_ready) {
    ulfius_clean_instance(&app->instance);
  }
  /* The relay reads and writes the database: it goes first. */
  relay_free(app->relay);
  db_destroy(app->db);
  cache_free(app->cache);
  versions_free(app->versions);
  redis_pool_free(app->redis);
  jwt_verifier_free(app->jwt);
  rate_limiter_free(app->limiter);
  rate_limiter_free(app->auth_failures);
  pthread_cond_destroy(&app->watcher_wake);
  pthread_mutex_destroy(&app->watcher_lock);
  config_cleanup(&app->config);
  free(app->tls_cert_pem);
  if (app->tls_key_pem != NULL) {
    /* The private key should not linger in freed memory. */
    explicit_bzero(app->tls_key_pem, strlen(app->tls_key_pem));
    free(app->tls_key_pem);
  }
  free(app);
}
