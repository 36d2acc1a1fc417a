#include "models/versions.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <hiredis/hiredis.h>
#include <yder.h>

#include "lib/ids.h"
#include "lib/stats.h"

#define STRIPES     4096 /* local counters; users share them by hash */
#define IDLE_MAX    32   /* Redis connections kept open while unused */
#define OPEN_MAX    64   /* Redis connections at once; more callers wait */
#define PENDING_MAX 1024 /* users whose shared bump waits for Redis */
#define EPOCH_KEY   "purchases:epoch"
#define USER_KEY    "purchases:version:"
/* A user's counter outlives any cached answer by far (the cache TTL is at
 * most a day), so one that expired and starts again from zero cannot
 * match an answer cached under its old value. */
#define USER_KEY_TTL_S 604800

struct versions {
  atomic_ullong stripes[STRIPES];
  bool shared;
  struct redis_address redis;
  struct timeval timeout;
  uint32_t timeout_ms;
  uint32_t retry_ms;

  pthread_mutex_t lock; /* everything below */
  pthread_cond_t freed;
  redisContext *idle[IDLE_MAX];
  size_t idle_count;
  size_t open_count;
  uint64_t retry_at_ms; /* while Redis is down: no attempt before this */
  bool down;
  char (*pending)[ID_MAX + 1];
  size_t pending_count;
  bool pending_overflow; /* more than PENDING_MAX: renew the epoch instead */

  atomic_ullong round_trips;
  atomic_ullong errors;
  atomic_ullong skipped;
  atomic_ullong bumps_failed;
  struct histogram latency;
};

static uint64_t monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static double monotonic_s(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static size_t stripe_of(const char *user_id) {
  uint64_t hash = 14695981039346656037ull;
  for (const unsigned char *p = (const unsigned char *)user_id; *p != '\0'; p++) {
    hash = (hash ^ *p) * 1099511628211ull;
  }
  return (size_t)(hash % STRIPES);
}

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

struct versions *versions_new(const struct versions_options *options) {
  struct versions *versions = calloc(1, sizeof(*versions));

  if (versions == NULL) {
    return NULL;
  }
  versions->pending = calloc(PENDING_MAX, sizeof(*versions->pending));
  if (versions->pending == NULL) {
    free(versions);
    return NULL;
  }
  for (size_t i = 0; i < STRIPES; i++) {
    atomic_init(&versions->stripes[i], 0);
  }
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* deadlines are monotonic */
  pthread_mutex_init(&versions->lock, NULL);
  pthread_cond_init(&versions->freed, &attr);
  pthread_condattr_destroy(&attr);
  if (options->redis != NULL) {
    versions->shared = true;
    versions->redis = *options->redis;
  }
  versions->timeout_ms = options->timeout_ms;
  versions->timeout.tv_sec = options->timeout_ms / 1000;
  versions->timeout.tv_usec = (suseconds_t)(options->timeout_ms % 1000) * 1000;
  versions->retry_ms = options->retry_ms;
  return versions;
}

void versions_free(struct versions *versions) {
  if (versions == NULL) {
    return;
  }
  for (size_t i = 0; i < versions->idle_count; i++) {
    redisFree(versions->idle[i]);
  }
  pthread_cond_destroy(&versions->freed);
  pthread_mutex_destroy(&versions->lock);
  free(versions->pending);
  free(versions);
}

bool versions_shared(const struct versions *versions) {
  return versions->shared;
}

bool versions_equal(const struct user_version *a, const struct user_version *b) {
  return a->local == b->local && a->epoch == b->epoch && a->remote == b->remote;
}

/* Whether `reply` is a simple or error reply that says OK-ish. */
static bool reply_ok(const redisReply *reply) {
  return reply != NULL && reply->type != REDIS_REPLY_ERROR;
}

/* A new connection, authenticated and on its database; NULL on failure. */
static redisContext *connect_redis(const struct versions *versions) {
  const struct redis_address *address = &versions->redis;
  redisContext *context = redisConnectWithTimeout(address->host, address->port, versions->timeout);
  redisReply *reply = NULL;

  if (context == NULL || context->err != 0 || redisSetTimeout(context, versions->timeout) != 0) {
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
static void note_state(struct versions *versions, bool up) {
  if (versions->down == !up) {
    return;
  }
  versions->down = !up;
  if (up) {
    y_log_message(Y_LOG_LEVEL_INFO, "versions: Redis at %s:%d answers again; the cache is used",
                  versions->redis.host, versions->redis.port);
  } else {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "versions: Redis at %s:%d does not answer; answers come from the database, "
                  "not the cache, until it does (next try in %u ms)",
                  versions->redis.host, versions->redis.port, versions->retry_ms);
  }
}

/* An open connection, or NULL while Redis is down or every connection is
 * busy past the timeout. */
static redisContext *acquire(struct versions *versions) {
  uint64_t now = monotonic_ms();
  uint64_t deadline_ms = now + versions->timeout_ms;
  redisContext *context = NULL;
  bool open_new = false;

  pthread_mutex_lock(&versions->lock);
  while (now >= versions->retry_at_ms) {
    if (versions->idle_count > 0) {
      context = versions->idle[--versions->idle_count];
      break;
    }
    if (versions->open_count < OPEN_MAX) {
      versions->open_count++;
      open_new = true;
      break;
    }
    if (now >= deadline_ms) {
      break;
    }
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&versions->freed, &versions->lock, &until);
    now = monotonic_ms();
  }
  pthread_mutex_unlock(&versions->lock);
  if (!open_new) {
    if (context == NULL) {
      atomic_fetch_add(&versions->skipped, 1);
    }
    return context;
  }
  context = connect_redis(versions);
  pthread_mutex_lock(&versions->lock);
  if (context == NULL) {
    versions->open_count--;
    versions->retry_at_ms = monotonic_ms() + versions->retry_ms;
    atomic_fetch_add(&versions->errors, 1);
    note_state(versions, false);
  } else {
    note_state(versions, true);
  }
  pthread_mutex_unlock(&versions->lock);
  return context;
}

/* Gives a connection back; a failed one is closed, and Redis counts as
 * down for retry_ms so that requests stop waiting on it. */
static void release(struct versions *versions, redisContext *context, bool healthy) {
  pthread_mutex_lock(&versions->lock);
  if (healthy && context->err == 0 && versions->idle_count < IDLE_MAX) {
    versions->idle[versions->idle_count++] = context;
    context = NULL;
  } else {
    versions->open_count--;
  }
  if (!healthy) {
    versions->retry_at_ms = monotonic_ms() + versions->retry_ms;
    atomic_fetch_add(&versions->errors, 1);
    note_state(versions, false);
  }
  pthread_cond_signal(&versions->freed);
  pthread_mutex_unlock(&versions->lock);
  if (context != NULL) {
    redisFree(context);
  }
}

static bool parse_u64(const redisReply *reply, uint64_t *out) {
  char *end = NULL;
  if (reply->type == REDIS_REPLY_NIL) {
    *out = 0;
    return true;
  }
  if (reply->type == REDIS_REPLY_INTEGER) {
    *out = (uint64_t)reply->integer;
    return reply->integer >= 0;
  }
  if (reply->type != REDIS_REPLY_STRING || reply->len == 0 || reply->len > 20) {
    return false;
  }
  *out = strtoull(reply->str, &end, 10);
  return end == reply->str + reply->len;
}

static uint64_t random_epoch(void) {
  uint64_t epoch = 0;
  while (epoch == 0) {
    if (gnutls_rnd(GNUTLS_RND_NONCE, &epoch, sizeof(epoch)) != 0) {
      epoch = (uint64_t)monotonic_ms();
    }
  }
  return epoch;
}

/* Sets a new epoch: only when there is none (a Redis that lost its data),
 * or always (the cache of every instance is to be dropped). */
static bool renew_epoch(redisContext *context, bool only_if_missing) {
  char value[24];
  snprintf(value, sizeof(value), "%llu", (unsigned long long)random_epoch());
  redisReply *reply = only_if_missing ? redisCommand(context, "SET %s %s NX", EPOCH_KEY, value)
                                      : redisCommand(context, "SET %s %s", EPOCH_KEY, value);
  bool ok = reply_ok(reply);
  freeReplyObject(reply);
  return ok;
}

/* INCR and EXPIRE of each user's counter, pipelined: one round trip. */
static bool send_bumps(redisContext *context, const char *const *user_ids, size_t count) {
  bool ok = true;
  for (size_t i = 0; i < count; i++) {
    if (redisAppendCommand(context, "INCR %s%s", USER_KEY, user_ids[i]) != REDIS_OK ||
        redisAppendCommand(context, "EXPIRE %s%s %d", USER_KEY, user_ids[i], USER_KEY_TTL_S) !=
            REDIS_OK) {
      return false;
    }
  }
  for (size_t i = 0; i < 2 * count; i++) {
    redisReply *reply = NULL;
    if (redisGetReply(context, (void **)&reply) != REDIS_OK) {
      return false; /* the connection is unusable; the caller closes it */
    }
    ok = ok && reply != NULL && reply->type == REDIS_REPLY_INTEGER;
    freeReplyObject(reply);
  }
  return ok;
}

/* Remembers users whose shared bump failed. Called with the lock held. */
static void pending_add_locked(struct versions *versions, const char *const *user_ids,
                               size_t count) {
  for (size_t i = 0; i < count; i++) {
    bool known = false;
    for (size_t j = 0; j < versions->pending_count && !known; j++) {
      known = strcmp(versions->pending[j], user_ids[i]) == 0;
    }
    if (known) {
      continue;
    }
    if (versions->pending_count == PENDING_MAX || strlen(user_ids[i]) > ID_MAX) {
      versions->pending_overflow = true;
      continue;
    }
    snprintf(versions->pending[versions->pending_count++], ID_MAX + 1, "%s", user_ids[i]);
  }
}

static void pending_add(struct versions *versions, const char *const *user_ids, size_t count) {
  pthread_mutex_lock(&versions->lock);
  pending_add_locked(versions, user_ids, count);
  pthread_mutex_unlock(&versions->lock);
}

/* Makes the bumps that failed earlier, on a connection that works now.
 * False when they failed again (they are kept). */
static bool flush_pending(struct versions *versions, redisContext *context) {
  char(*users)[ID_MAX + 1] = NULL;
  const char **names = NULL;
  size_t count;
  bool overflow;
  bool ok = false;

  pthread_mutex_lock(&versions->lock);
  count = versions->pending_count;
  overflow = versions->pending_overflow;
  if (count == 0 && !overflow) {
    pthread_mutex_unlock(&versions->lock);
    return true;
  }
  users = malloc((count > 0 ? count : 1) * sizeof(*users));
  names = malloc((count > 0 ? count : 1) * sizeof(*names));
  if (users == NULL || names == NULL) {
    pthread_mutex_unlock(&versions->lock);
    goto done;
  }
  memcpy(users, versions->pending, count * sizeof(*users));
  versions->pending_count = 0;
  versions->pending_overflow = false;
  pthread_mutex_unlock(&versions->lock);

  for (size_t i = 0; i < count; i++) {
    names[i] = users[i];
  }
  ok = send_bumps(context, names, count) && (!overflow || renew_epoch(context, false));
  pthread_mutex_lock(&versions->lock);
  if (!ok) {
    pending_add_locked(versions, names, count);
    versions->pending_overflow = versions->pending_overflow || overflow;
  }
  pthread_mutex_unlock(&versions->lock);
  if (ok) {
    y_log_message(Y_LOG_LEVEL_INFO, "versions: made %zu shared bump(s) that had waited for Redis%s",
                  count, overflow ? ", and renewed the epoch" : "");
  }

done:
  free(names);
  free(users);
  return ok;
}

/* MGET of the epoch and the user's counter; a missing epoch is made. */
static bool read_shared(redisContext *context, const char *user_id, struct user_version *out) {
  redisReply *reply = NULL;
  bool ok = false;

  for (int attempt = 0; attempt < 2 && !ok; attempt++) {
    reply = redisCommand(context, "MGET %s %s%s", EPOCH_KEY, USER_KEY, user_id);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        !parse_u64(reply->element[0], &out->epoch) || !parse_u64(reply->element[1], &out->remote)) {
      break;
    }
    ok = out->epoch != 0;
    freeReplyObject(reply);
    reply = NULL;
    if (!ok && !renew_epoch(context, true)) {
      break;
    }
  }
  freeReplyObject(reply);
  return ok;
}

bool versions_read(struct versions *versions, const char *user_id, struct user_version *out) {
  redisContext *context;
  double started;
  bool ok;

  out->local = atomic_load(&versions->stripes[stripe_of(user_id)]);
  out->epoch = 0;
  out->remote = 0;
  if (!versions->shared) {
    return true;
  }
  context = acquire(versions);
  if (context == NULL) {
    return false;
  }
  started = monotonic_s();
  ok = flush_pending(versions, context) && read_shared(context, user_id, out);
  histogram_observe(&versions->latency, monotonic_s() - started);
  atomic_fetch_add(&versions->round_trips, 1);
  release(versions, context, ok);
  return ok;
}

void versions_bump(struct versions *versions, const char *const *user_ids, size_t count) {
  redisContext *context;
  double started;
  bool ok = false;

  for (size_t i = 0; i < count; i++) {
    atomic_fetch_add(&versions->stripes[stripe_of(user_ids[i])], 1);
  }
  if (!versions->shared || count == 0) {
    return;
  }
  context = acquire(versions);
  if (context != NULL) {
    started = monotonic_s();
    ok = flush_pending(versions, context) && send_bumps(context, user_ids, count);
    histogram_observe(&versions->latency, monotonic_s() - started);
    atomic_fetch_add(&versions->round_trips, 1);
    release(versions, context, ok);
  }
  if (!ok) {
    pending_add(versions, user_ids, count);
    atomic_fetch_add(&versions->bumps_failed, count);
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "versions: the write is done, but the shared version of %zu user(s) could not "
                  "be bumped in Redis; other instances may serve their cached answers until it "
                  "is (retried when Redis answers) or PURCHASES_CACHE_TTL_S passes",
                  count);
  }
}

void versions_write_metrics(struct versions *versions, FILE *out) {
  size_t pending;
  bool down;

  pthread_mutex_lock(&versions->lock);
  pending = versions->pending_count;
  down = versions->down;
  pthread_mutex_unlock(&versions->lock);
  fprintf(out,
          "# HELP purchases_redis_configured Whether cache versions are shared through Redis.\n"
          "# TYPE purchases_redis_configured gauge\n"
          "purchases_redis_configured %d\n",
          versions->shared ? 1 : 0);
  if (!versions->shared) {
    return;
  }
  fprintf(out,
          "# HELP purchases_redis_up Whether Redis answered the last attempt.\n"
          "# TYPE purchases_redis_up gauge\n"
          "purchases_redis_up %d\n"
          "# HELP purchases_redis_round_trips_total Round trips to Redis (reads and bumps).\n"
          "# TYPE purchases_redis_round_trips_total counter\n"
          "purchases_redis_round_trips_total %llu\n"
          "# HELP purchases_redis_errors_total Failed connects and round trips.\n"
          "# TYPE purchases_redis_errors_total counter\n"
          "purchases_redis_errors_total %llu\n"
          "# HELP purchases_redis_skipped_total Reads and bumps not tried while Redis was "
          "down.\n"
          "# TYPE purchases_redis_skipped_total counter\n"
          "purchases_redis_skipped_total %llu\n"
          "# HELP purchases_redis_bumps_failed_total User versions a write could not bump at "
          "once.\n"
          "# TYPE purchases_redis_bumps_failed_total counter\n"
          "purchases_redis_bumps_failed_total %llu\n"
          "# HELP purchases_redis_pending_bumps User versions waiting for Redis to be bumped.\n"
          "# TYPE purchases_redis_pending_bumps gauge\n"
          "purchases_redis_pending_bumps %zu\n"
          "# HELP purchases_redis_latency_seconds Time of one round trip to Redis.\n"
          "# TYPE purchases_redis_latency_seconds histogram\n",
          down ? 0 : 1, (unsigned long long)atomic_load(&versions->round_trips),
          (unsigned long long)atomic_load(&versions->errors),
          (unsigned long long)atomic_load(&versions->skipped),
          (unsigned long long)atomic_load(&versions->bumps_failed), pending);
  histogram_write(out, "purchases_redis_latency_seconds", "", &versions->latency);
}
