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

#include "lib/clock.h"
#include "lib/hash.h"
#include "lib/ids.h"
#include "models/redis.h"

#define STRIPES     4096 /* local counters; users share them by hash */
#define PENDING_MAX 1024 /* users whose shared bump waits for Redis */
#define EPOCH_KEY   "purchases:epoch"
#define USER_KEY    "purchases:version:"
/* A user's counter outlives any cached answer by far (the cache TTL is at
 * most a day), so one that expired and starts again from zero cannot
 * match an answer cached under its old value. */
#define USER_KEY_TTL_S 604800

struct versions {
  atomic_ullong stripes[STRIPES];
  struct redis_pool *redis; /* borrowed; NULL: this instance only */

  pthread_mutex_t lock; /* the pending bumps */
  char (*pending)[ID_MAX + 1];
  size_t pending_count;
  bool pending_overflow; /* more than PENDING_MAX: renew the epoch instead */

  atomic_ullong bumps_failed;
};

static size_t stripe_of(const char *user_id) {
  return (size_t)(hash_string(user_id) % STRIPES);
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
  pthread_mutex_init(&versions->lock, NULL);
  versions->redis = options->redis;
  return versions;
}

void versions_free(struct versions *versions) {
  if (versions == NULL) {
    return;
  }
  pthread_mutex_destroy(&versions->lock);
  free(versions->pending);
  free(versions);
}

bool versions_shared(const struct versions *versions) {
  return versions->redis != NULL;
}

bool versions_equal(const struct user_version *a, const struct user_version *b) {
  return a->local == b->local && a->epoch == b->epoch && a->remote == b->remote;
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
      epoch = (uint64_t)clock_monotonic_ms();
    }
  }
  return epoch;
}

/* Sets a new epoch: only when there is none (a Redis that lost its data),
 * or always (the cache of every instance is to be dropped). */
/* Whether `reply` is any reply but an error. */
static bool reply_ok(const redisReply *reply) {
  return reply != NULL && reply->type != REDIS_REPLY_ERROR;
}

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

/* What one round trip of a read or a bump works on. */
struct round_trip {
  struct versions *versions;
  const char *user_id; /* a read */
  struct user_version *out;
  const char *const *user_ids; /* a bump */
  size_t count;
};

static bool read_work(redisContext *context, void *data) {
  struct round_trip *trip = data;
  return flush_pending(trip->versions, context) && read_shared(context, trip->user_id, trip->out);
}

static bool bump_work(redisContext *context, void *data) {
  struct round_trip *trip = data;
  return flush_pending(trip->versions, context) && send_bumps(context, trip->user_ids, trip->count);
}

bool versions_read(struct versions *versions, const char *user_id, struct user_version *out) {
  struct round_trip trip = {.versions = versions, .user_id = user_id, .out = out};

  out->local = atomic_load(&versions->stripes[stripe_of(user_id)]);
  out->epoch = 0;
  out->remote = 0;
  if (versions->redis == NULL) {
    return true;
  }
  return redis_pool_run(versions->redis, read_work, &trip);
}

void versions_bump(struct versions *versions, const char *const *user_ids, size_t count) {
  struct round_trip trip = {.versions = versions, .user_ids = user_ids, .count = count};

  for (size_t i = 0; i < count; i++) {
    atomic_fetch_add(&versions->stripes[stripe_of(user_ids[i])], 1);
  }
  if (versions->redis == NULL || count == 0) {
    return;
  }
  if (!redis_pool_run(versions->redis, bump_work, &trip)) {
    pending_add(versions, user_ids, count);
    atomic_fetch_add(&versions->bumps_failed, count);
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "versions: the write is done, but the shared version of %zu user(s) could not "
                  "be bumped in Redis; other instances may serve their cached answers until it "
                  "is (retried when Redis answers) or PURCHASES_CACHE_TTL_S passes",
                  count);
  }
}

static bool flush_work(redisContext *context, void *data) {
  return flush_pending(data, context);
}

void versions_flush(struct versions *versions) {
  if (versions->redis != NULL && versions_pending(versions) > 0) {
    (void)redis_pool_run(versions->redis, flush_work, versions);
  }
}

size_t versions_pending(struct versions *versions) {
  size_t pending;
  pthread_mutex_lock(&versions->lock);
  pending = versions->pending_count + (versions->pending_overflow ? 1 : 0);
  pthread_mutex_unlock(&versions->lock);
  return pending;
}

void versions_write_metrics(struct versions *versions, FILE *out) {
  fprintf(out,
          "# HELP purchases_redis_configured Whether cache versions and rate limits are shared "
          "through Redis.\n"
          "# TYPE purchases_redis_configured gauge\n"
          "purchases_redis_configured %d\n",
          versions->redis != NULL ? 1 : 0);
  if (versions->redis == NULL) {
    return;
  }
  fprintf(out,
          "# HELP purchases_redis_bumps_failed_total User versions a write could not bump at "
          "once.\n"
          "# TYPE purchases_redis_bumps_failed_total counter\n"
          "purchases_redis_bumps_failed_total %llu\n"
          "# HELP purchases_redis_pending_bumps User versions waiting for Redis to be bumped.\n"
          "# TYPE purchases_redis_pending_bumps gauge\n"
          "purchases_redis_pending_bumps %zu\n",
          (unsigned long long)atomic_load(&versions->bumps_failed), versions_pending(versions));
  redis_pool_write_metrics(versions->redis, out);
}
