#include "models/redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yder.h>

#include "lib/clock.h"
#include "lib/stats.h"

#define IDLE_MAX 32 /* connections kept open while unused */
#define OPEN_MAX 64 /* connections at once; more callers wait */

struct redis_pool {
  struct redis_address address;
  struct timeval timeout;
  unsigned int timeout_ms;
  unsigned int retry_ms;

  pthread_mutex_t lock; /* everything up to the counters */
  pthread_cond_t freed;
  redisContext *idle[IDLE_MAX];
  size_t idle_count;
  size_t open_count;
  uint64_t retry_at_ms; /* while Redis is down: no attempt before this */
  bool down;

  atomic_ullong round_trips;
  atomic_ullong errors;
  atomic_ullong skipped;
  struct histogram latency;
};

/* Copies src[0..len) into a buffer of cap bytes; false when it does not fit. */
static bool copy_part(char *out, size_t cap, const char *src, size_t len) {
  if (len >= cap) {
    return false;
  }
  memcpy(out, src, len);
  out[len] = '\0';
  return true;
}

/* "host", "host:port" or "[v6]:port" into out. */
static bool parse_host_port(const char *s, size_t len, struct redis_address *out, char *err,
                            size_t err_len) {
  const char *port = NULL;
  size_t host_len = len;

  if (len > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (close == NULL || (close + 1 < s + len && close[1] != ':')) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: a bracketed IPv6 host is not closed");
      return false;
    }
    if (!copy_part(out->host, sizeof(out->host), s + 1, (size_t)(close - s - 1))) {
      goto too_long;
    }
    port = close + 1 < s + len ? close + 2 : NULL;
  } else {
    const char *colon = memchr(s, ':', len);
    host_len = colon != NULL ? (size_t)(colon - s) : len;
    if (!copy_part(out->host, sizeof(out->host), s, host_len)) {
      goto too_long;
    }
    port = colon != NULL ? colon + 1 : NULL;
  }
  if (out->host[0] == '\0') {
    snprintf(err, err_len, "PURCHASES_REDIS_URL: the host is missing");
    return false;
  }
  out->port = 6379;
  if (port != NULL) {
    size_t port_len = (size_t)(s + len - port);
    long value = 0;
    if (port_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: the port must be a number from 1 to 65535");
      return false;
    }
    for (size_t i = 0; i < port_len; i++) {
      value = value * 10 + (port[i] - '0');
    }
    if (value < 1 || value > 65535) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: the port must be a number from 1 to 65535");
      return false;
    }
    out->port = (int)value;
  }
  return true;

too_long:
  snprintf(err, err_len, "PURCHASES_REDIS_URL: the host is too long");
  return false;
}

bool redis_address_parse(const char *url, struct redis_address *out, char *err, size_t err_len) {
  static const char SCHEME[] = "redis://";
  const char *authority;
  const char *path;
  const char *at;

  memset(out, 0, sizeof(*out));
  if (strncmp(url, SCHEME, sizeof(SCHEME) - 1) != 0) {
    snprintf(err, err_len,
             "PURCHASES_REDIS_URL must be redis://[[user]:password@]host[:port][/db] (TLS and "
             "Unix sockets are not supported)");
    return false;
  }
  if (strpbrk(url, "?#") != NULL) {
    snprintf(err, err_len, "PURCHASES_REDIS_URL takes no query string or fragment");
    return false;
  }
  authority = url + sizeof(SCHEME) - 1;
  path = strchr(authority, '/');
  if (path == NULL) {
    path = authority + strlen(authority);
  }
  /* The last '@' before the path ends the credentials: a password may hold '@'. */
  at = NULL;
  for (const char *p = authority; p < path; p++) {
    at = *p == '@' ? p : at;
  }
  if (at != NULL) {
    const char *colon = memchr(authority, ':', (size_t)(at - authority));
    if (colon == NULL) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: credentials are user:password@ or :password@");
      return false;
    }
    if (!copy_part(out->user, sizeof(out->user), authority, (size_t)(colon - authority)) ||
        !copy_part(out->password, sizeof(out->password), colon + 1, (size_t)(at - colon - 1))) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: the user or password is too long");
      return false;
    }
    authority = at + 1;
  }
  if (!parse_host_port(authority, (size_t)(path - authority), out, err, err_len)) {
    return false;
  }
  if (*path == '/' && path[1] != '\0') {
    size_t len = strlen(path + 1);
    if (len > 4 || strspn(path + 1, "0123456789") != len) {
      snprintf(err, err_len, "PURCHASES_REDIS_URL: the database must be a number (/0 to /9999)");
      return false;
    }
    out->db = atoi(path + 1);
  }
  return true;
}

struct redis_pool *redis_pool_new(const struct redis_pool_options *options) {
  struct redis_pool *pool = calloc(1, sizeof(*pool));
  pthread_condattr_t attr;

  if (pool == NULL) {
    return NULL;
  }
  pool->address = *options->address;
  pool->timeout_ms = options->timeout_ms;
  pool->timeout.tv_sec = options->timeout_ms / 1000;
  pool->timeout.tv_usec = (suseconds_t)(options->timeout_ms % 1000) * 1000;
  pool->retry_ms = options->retry_ms;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* deadlines are monotonic */
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->freed, &attr);
  pthread_condattr_destroy(&attr);
  return pool;
}

void redis_pool_free(struct redis_pool *pool) {
  if (pool == NULL) {
    return;
  }
  for (size_t i = 0; i < pool->idle_count; i++) {
    redisFree(pool->idle[i]);
  }
  pthread_cond_destroy(&pool->freed);
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}

/* Whether `reply` is a simple or error reply that says OK-ish. */
static bool reply_ok(const redisReply *reply) {
  return reply != NULL && reply->type != REDIS_REPLY_ERROR;
}

/* A new connection, authenticated and on its database; NULL on failure. */
static redisContext *connect_redis(const struct redis_pool *pool) {
  const struct redis_address *address = &pool->address;
  redisContext *context = redisConnectWithTimeout(address->host, address->port, pool->timeout);
  redisReply *reply = NULL;

  if (context == NULL || context->err != 0 || redisSetTimeout(context, pool->timeout) != 0) {
    goto fail;
  }
  if (address->password[0] != '\0') {
    reply = address->user[0] != '\0'
                ? redisCommand(context, "AUTH %s %s", address->user, address->password)
                : redisCommand(context, "AUTH %s", address->password);
    if (!reply_ok(reply)) {
      goto fail;
    }
    freeReplyObject(reply);
    reply = NULL;
  }
  if (address->db != 0) {
    reply = redisCommand(context, "SELECT %d", address->db);
    if (!reply_ok(reply)) {
      goto fail;
    }
    freeReplyObject(reply);
  }
  return context;

fail:
  freeReplyObject(reply);
  if (context != NULL) {
    redisFree(context);
  }
  return NULL;
}

/* Logs the moments Redis goes away and comes back, not every failure.
 * Called with the lock held. */
static void note_state(struct redis_pool *pool, bool up) {
  if (pool->down == !up) {
    return;
  }
  pool->down = !up;
  if (up) {
    y_log_message(Y_LOG_LEVEL_INFO, "redis: %s:%d answers again", pool->address.host,
                  pool->address.port);
  } else {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "redis: %s:%d does not answer; reads come from the database and rate limits "
                  "are this instance's own until it does (next try in %u ms)",
                  pool->address.host, pool->address.port, pool->retry_ms);
  }
}

/* An open connection (*fresh when just made), or NULL while Redis is down
 * or every connection stayed busy for timeout_ms. */
static redisContext *acquire(struct redis_pool *pool, bool *fresh) {
  uint64_t now = clock_monotonic_ms();
  uint64_t deadline_ms = now + pool->timeout_ms;
  redisContext *context = NULL;
  bool open_new = false;

  pthread_mutex_lock(&pool->lock);
  while (now >= pool->retry_at_ms) {
    if (pool->idle_count > 0) {
      context = pool->idle[--pool->idle_count];
      break;
    }
    if (pool->open_count < OPEN_MAX) {
      pool->open_count++;
      open_new = true;
      break;
    }
    if (now >= deadline_ms) {
      break;
    }
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&pool->freed, &pool->lock, &until);
    now = clock_monotonic_ms();
  }
  pthread_mutex_unlock(&pool->lock);
  *fresh = open_new;
  if (!open_new) {
    if (context == NULL) {
      atomic_fetch_add(&pool->skipped, 1);
    }
    return context;
  }
  context = connect_redis(pool);
  pthread_mutex_lock(&pool->lock);
  if (context == NULL) {
    pool->open_count--;
    pool->retry_at_ms = clock_monotonic_ms() + pool->retry_ms;
    atomic_fetch_add(&pool->errors, 1);
    note_state(pool, false);
  } else {
    note_state(pool, true);
  }
  pthread_mutex_unlock(&pool->lock);
  return context;
}

/* Gives a connection back; a failed one is closed, and unless `retrying`,
 * Redis counts as down for retry_ms so that requests stop waiting on it. */
static void release(struct redis_pool *pool, redisContext *context, bool healthy, bool retrying) {
  pthread_mutex_lock(&pool->lock);
  if (healthy && context->err == 0 && pool->idle_count < IDLE_MAX) {
    pool->idle[pool->idle_count++] = context;
    context = NULL;
  } else {
    pool->open_count--;
  }
  if (!healthy && !retrying) {
    pool->retry_at_ms = clock_monotonic_ms() + pool->retry_ms;
    atomic_fetch_add(&pool->errors, 1);
    note_state(pool, false);
  }
  pthread_cond_signal(&pool->freed);
  pthread_mutex_unlock(&pool->lock);
  if (context != NULL) {
    redisFree(context);
  }
}

bool redis_pool_run(struct redis_pool *pool, bool (*work)(redisContext *context, void *data),
                    void *data) {
  double started = clock_monotonic_s();
  bool ok = false;

  for (int attempt = 0; attempt < 2; attempt++) {
    bool fresh = false;
    redisContext *context = acquire(pool, &fresh);
    if (context == NULL) {
      break;
    }
    ok = work(context, data);
    /* A kept connection that failed may only have outlived its Redis. */
    bool retry = !ok && !fresh && attempt == 0;
    release(pool, context, ok, retry);
    if (!retry) {
      break;
    }
  }
  histogram_observe(&pool->latency, clock_monotonic_s() - started);
  atomic_fetch_add(&pool->round_trips, 1);
  return ok;
}

void redis_pool_write_metrics(struct redis_pool *pool, FILE *out) {
  bool up;

  pthread_mutex_lock(&pool->lock);
  up = !pool->down;
  pthread_mutex_unlock(&pool->lock);
  fprintf(out,
          "# HELP purchases_redis_up Whether Redis answered the last attempt.\n"
          "# TYPE purchases_redis_up gauge\n"
          "purchases_redis_up %d\n"
          "# HELP purchases_redis_round_trips_total Round trips to Redis.\n"
          "# TYPE purchases_redis_round_trips_total counter\n"
          "purchases_redis_round_trips_total %llu\n"
          "# HELP purchases_redis_errors_total Failed connects and round trips.\n"
          "# TYPE purchases_redis_errors_total counter\n"
          "purchases_redis_errors_total %llu\n"
          "# HELP purchases_redis_skipped_total Round trips not tried while Redis was down.\n"
          "# TYPE purchases_redis_skipped_total counter\n"
          "purchases_redis_skipped_total %llu\n"
          "# HELP purchases_redis_latency_seconds Time of one round trip to Redis.\n"
          "# TYPE purchases_redis_latency_seconds histogram\n",
          up ? 1 : 0, (unsigned long long)atomic_load(&pool->round_trips),
          (unsigned long long)atomic_load(&pool->errors),
          (unsigned long long)atomic_load(&pool->skipped));
  histogram_write(out, "purchases_redis_latency_seconds", "", &pool->latency);
}
