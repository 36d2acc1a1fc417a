#include "middleware/rate_limit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/hash.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "models/shared_limit.h"

/* Tokens are counted in thousandths so refill needs no floating point: a
 * bucket gains `rps` milli-tokens every millisecond. */
#define MILLI 1000u

/* Independent locks, so that two callers rarely wait on each other. */
#define SHARDS 16u

struct bucket {
  uint64_t hash;
  uint64_t tokens_milli;
  uint64_t last_ms;
  struct bucket *chain;         /* next in the hash slot */
  struct bucket *newer, *older; /* the shard's use order */
  char key[];
};

struct shard {
  pthread_mutex_t lock;
  struct bucket **slots;
  size_t slot_count;
  size_t size;
  size_t max_size;
  struct bucket *newest, *oldest;
};

struct rate_limiter {
  uint32_t rps;
  uint32_t burst;
  struct shard shards[SHARDS];
  /* With Redis: whether the last decision was shared (-1 before the first),
   * and how many were made here alone because Redis did not answer. */
  atomic_int shared;
  atomic_ullong local_decisions;
};

struct rate_limiter *rate_limiter_new(uint32_t rps, uint32_t burst, size_t max_keys) {
  struct rate_limiter *limiter;
  size_t per_shard = max_keys / SHARDS + 1;

  if (rps == 0 || burst == 0 || max_keys == 0) {
    return NULL;
  }
  limiter = calloc(1, sizeof(*limiter));
  if (limiter == NULL) {
    return NULL;
  }
  limiter->rps = rps;
  limiter->burst = burst;
  atomic_init(&limiter->shared, -1);
  atomic_init(&limiter->local_decisions, 0);
  for (size_t i = 0; i < SHARDS; i++) {
    struct shard *shard = &limiter->shards[i];
    pthread_mutex_init(&shard->lock, NULL);
    shard->max_size = per_shard;
    shard->slot_count = per_shard; /* load factor at most 1 */
    shard->slots = calloc(shard->slot_count, sizeof(*shard->slots));
    if (shard->slots == NULL) {
      rate_limiter_free(limiter);
      return NULL;
    }
  }
  return limiter;
}

void rate_limiter_free(struct rate_limiter *limiter) {
  if (limiter == NULL) {
    return;
  }
  for (size_t i = 0; i < SHARDS; i++) {
    struct shard *shard = &limiter->shards[i];
    struct bucket *bucket = shard->newest;
    while (bucket != NULL) {
      struct bucket *older = bucket->older;
      free(bucket);
      bucket = older;
    }
    free(shard->slots);
    pthread_mutex_destroy(&shard->lock);
  }
  free(limiter);
}

static void unlink_use(struct shard *shard, struct bucket *bucket) {
  if (bucket->newer != NULL) {
    bucket->newer->older = bucket->older;
  } else {
    shard->newest = bucket->older;
  }
  if (bucket->older != NULL) {
    bucket->older->newer = bucket->newer;
  } else {
    shard->oldest = bucket->newer;
  }
  bucket->newer = bucket->older = NULL;
}

static void link_newest(struct shard *shard, struct bucket *bucket) {
  bucket->older = shard->newest;
  bucket->newer = NULL;
  if (shard->newest != NULL) {
    shard->newest->newer = bucket;
  }
  shard->newest = bucket;
  if (shard->oldest == NULL) {
    shard->oldest = bucket;
  }
}

static void forget_oldest(struct shard *shard) {
  struct bucket *victim = shard->oldest;
  struct bucket **link = &shard->slots[victim->hash % shard->slot_count];

  while (*link != victim) {
    link = &(*link)->chain;
  }
  *link = victim->chain;
  unlink_use(shard, victim);
  shard->size--;
  free(victim);
}

/* The bucket for `key`, created full when new; NULL when out of memory. */
static struct bucket *find_or_add(const struct rate_limiter *limiter, struct shard *shard,
                                  const char *key, uint64_t hash, uint64_t now_ms) {
  struct bucket **slot = &shard->slots[hash % shard->slot_count];
  struct bucket *bucket;
  size_t key_len;

  for (bucket = *slot; bucket != NULL; bucket = bucket->chain) {
    if (bucket->hash == hash && strcmp(bucket->key, key) == 0) {
      unlink_use(shard, bucket);
      link_newest(shard, bucket);
      return bucket;
    }
  }
  if (shard->size == shard->max_size) {
    forget_oldest(shard);
  }
  key_len = strlen(key);
  bucket = malloc(sizeof(*bucket) + key_len + 1);
  if (bucket == NULL) {
    return NULL;
  }
  memcpy(bucket->key, key, key_len + 1);
  bucket->hash = hash;
  bucket->tokens_milli = (uint64_t)limiter->burst * MILLI;
  bucket->last_ms = now_ms;
  bucket->chain = *slot;
  *slot = bucket;
  link_newest(shard, bucket);
  shard->size++;
  return bucket;
}

static uint32_t ceil_seconds(uint64_t milli_tokens, uint32_t rps) {
  /* milli_tokens / rps is milliseconds; round up to whole seconds. */
  uint64_t ms = (milli_tokens + rps - 1) / rps;
  uint64_t s = (ms + 999) / 1000;
  return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

struct rate_decision rate_limiter_take(struct rate_limiter *limiter, const char *key,
                                       uint64_t now_ms) {
  struct rate_decision decision = {.allowed = true, .limit = limiter->burst};
  uint64_t hash = hash_string(key);
  struct shard *shard = &limiter->shards[(hash >> 32) % SHARDS];
  uint64_t full = (uint64_t)limiter->burst * MILLI;
  struct bucket *bucket;

  pthread_mutex_lock(&shard->lock);
  bucket = find_or_add(limiter, shard, key, hash, now_ms);
  if (bucket == NULL) {
    /* Out of memory: serving is better than refusing everybody. */
    decision.remaining = limiter->burst;
    goto out;
  }
  if (now_ms > bucket->last_ms) {
    uint64_t gained = (now_ms - bucket->last_ms) * limiter->rps;
    bucket->tokens_milli =
        gained >= full - bucket->tokens_milli ? full : bucket->tokens_milli + gained;
    bucket->last_ms = now_ms;
  }
  if (bucket->tokens_milli >= MILLI) {
    bucket->tokens_milli -= MILLI;
  } else {
    decision.allowed = false;
    decision.retry_after_s = ceil_seconds(MILLI - bucket->tokens_milli, limiter->rps);
  }
  decision.remaining = (uint32_t)(bucket->tokens_milli / MILLI);
  decision.reset_s = ceil_seconds(full - bucket->tokens_milli, limiter->rps);

out:
  pthread_mutex_unlock(&shard->lock);
  return decision;
}

struct rate_decision rate_limiter_peek(struct rate_limiter *limiter, const char *key,
                                       uint64_t now_ms) {
  struct rate_decision decision = {.allowed = true, .limit = limiter->burst};
  uint64_t hash = hash_string(key);
  struct shard *shard = &limiter->shards[(hash >> 32) % SHARDS];
  uint64_t full = (uint64_t)limiter->burst * MILLI;
  uint64_t tokens = full;
  struct bucket *bucket;

  pthread_mutex_lock(&shard->lock);
  for (bucket = shard->slots[hash % shard->slot_count]; bucket != NULL; bucket = bucket->chain) {
    if (bucket->hash == hash && strcmp(bucket->key, key) == 0) {
      break;
    }
  }
  if (bucket != NULL) {
    uint64_t gained = now_ms > bucket->last_ms ? (now_ms - bucket->last_ms) * limiter->rps : 0;
    tokens = gained >= full - bucket->tokens_milli ? full : bucket->tokens_milli + gained;
  }
  pthread_mutex_unlock(&shard->lock);
  if (tokens < MILLI) {
    decision.allowed = false;
    decision.retry_after_s = ceil_seconds(MILLI - tokens, limiter->rps);
  }
  decision.remaining = (uint32_t)(tokens / MILLI);
  decision.reset_s = ceil_seconds(full - tokens, limiter->rps);
  return decision;
}

void rate_limiter_refund(struct rate_limiter *limiter, const char *key, uint64_t now_ms) {
  uint64_t hash = hash_string(key);
  struct shard *shard = &limiter->shards[(hash >> 32) % SHARDS];
  uint64_t full = (uint64_t)limiter->burst * MILLI;
  struct bucket *bucket;

  (void)now_ms;
  pthread_mutex_lock(&shard->lock);
  for (bucket = shard->slots[hash % shard->slot_count]; bucket != NULL; bucket = bucket->chain) {
    if (bucket->hash == hash && strcmp(bucket->key, key) == 0) {
      bucket->tokens_milli =
          bucket->tokens_milli + MILLI >= full ? full : bucket->tokens_milli + MILLI;
      break;
    }
  }
  pthread_mutex_unlock(&shard->lock);
}

size_t rate_limiter_size(struct rate_limiter *limiter) {
  size_t size = 0;
  for (size_t i = 0; i < SHARDS; i++) {
    pthread_mutex_lock(&limiter->shards[i].lock);
    size += limiter->shards[i].size;
    pthread_mutex_unlock(&limiter->shards[i].lock);
  }
  return size;
}

/* The bucket of the request's principal: client and user. The unit
 * separator cannot occur in either id. */
static void principal_key(const struct request_ctx *ctx,
                          char key[CLIENT_ID_MAX + USER_ID_MAX + 2]) {
  snprintf(key, CLIENT_ID_MAX + USER_ID_MAX + 2, "%s\x1f%s", ctx->client->id, ctx->user_id);
}

/* Logs the moments decisions move between Redis and this instance. */
static void note_shared(struct rate_limiter *limiter, bool shared) {
  int before = atomic_exchange(&limiter->shared, shared ? 1 : 0);
  if (before == (shared ? 1 : 0)) {
    return;
  }
  if (shared) {
    y_log_message(Y_LOG_LEVEL_INFO, "rate limit: budgets are shared through Redis");
  } else {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "rate limit: Redis does not answer; each instance keeps budgets of its own "
                  "until it does");
  }
}

/* One decision on the principal's bucket: in Redis, shared by every
 * instance, when the service has one that answers; else this instance's. */
static struct rate_decision decide(const struct rate_limit_context *limits, const char *key,
                                   enum shared_limit_op op) {
  struct rate_limiter *limiter = limits->limiter;
  uint64_t full = (uint64_t)limiter->burst * MILLI;
  struct rate_decision decision = {.allowed = true, .limit = limiter->burst};
  struct shared_limit_state state;

  if (limits->redis != NULL) {
    if (shared_limit_apply(limits->redis, key, limiter->rps, limiter->burst, op, &state)) {
      note_shared(limiter, true);
      uint64_t tokens = state.milli_tokens < full ? state.milli_tokens : full;
      decision.allowed = state.allowed;
      decision.remaining = (uint32_t)(tokens / MILLI);
      decision.reset_s = ceil_seconds(full - tokens, limiter->rps);
      if (!decision.allowed) {
        decision.retry_after_s = ceil_seconds(MILLI - tokens % MILLI, limiter->rps);
      }
      return decision;
    }
    note_shared(limiter, false);
    atomic_fetch_add(&limiter->local_decisions, 1);
  }
  switch (op) {
    case SHARED_LIMIT_TAKE:
      return rate_limiter_take(limiter, key, clock_monotonic_ms());
    case SHARED_LIMIT_REFUND:
      rate_limiter_refund(limiter, key, clock_monotonic_ms());
      break;
    case SHARED_LIMIT_PEEK:
      break;
  }
  return rate_limiter_peek(limiter, key, clock_monotonic_ms());
}

static void put_headers(struct _u_response *response, const struct rate_decision *decision) {
  char number[16];
  snprintf(number, sizeof(number), "%u", decision->limit);
  u_map_put(response->map_header, "RateLimit-Limit", number);
  snprintf(number, sizeof(number), "%u", decision->remaining);
  u_map_put(response->map_header, "RateLimit-Remaining", number);
  snprintf(number, sizeof(number), "%u", decision->reset_s);
  u_map_put(response->map_header, "RateLimit-Reset", number);
}

/* The 429, from the link or from rate_limit_settle(). The request is marked
 * RATE_REFUSED, so that the audit link, which runs after a controller that
 * settled, records no read that never happened. */
static void refuse(const struct rate_limit_context *limits, struct request_ctx *ctx,
                   struct _u_response *response, uint32_t retry_after_s) {
  char number[16];
  ctx->rate_charge = RATE_REFUSED;
  metrics_count_rate_limited();
  snprintf(number, sizeof(number), "%u", retry_after_s);
  problem_send(response, PROBLEM_TOO_MANY_REQUESTS,
               "More than %u requests in a burst, or %u a second sustained; retry after %u s.",
               limits->burst, limits->rps, retry_after_s);
  u_map_put(response->map_header, "Retry-After", number);
}

int callback_rate_limit(const struct _u_request *request, struct _u_response *response,
                        void *user_data) {
  const struct rate_limit_context *limits = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct rate_decision decision;
  char key[CLIENT_ID_MAX + USER_ID_MAX + 2];
  bool conditional;

  if (ctx == NULL || ctx->answered || limits->limiter == NULL || ctx->client == NULL) {
    return U_CALLBACK_CONTINUE;
  }
  principal_key(ctx, key);
  conditional =
      request->http_verb != NULL &&
      (strcmp(request->http_verb, "GET") == 0 || strcmp(request->http_verb, "HEAD") == 0) &&
      u_map_get_case(request->map_header, "If-None-Match") != NULL;
  if (conditional) {
    decision = decide(limits, key, SHARED_LIMIT_PEEK);
    if (!decision.allowed) {
      ctx->rate_charge = RATE_DEFERRED;
      ctx->rate_retry_after_s = decision.retry_after_s;
      put_headers(response, &decision);
      return U_CALLBACK_CONTINUE;
    }
  }
  decision = decide(limits, key, SHARED_LIMIT_TAKE);
  put_headers(response, &decision);
  if (!decision.allowed) {
    refuse(limits, ctx, response, decision.retry_after_s);
  } else {
    ctx->rate_charge = RATE_CHARGED;
  }
  return U_CALLBACK_CONTINUE;
}

void rate_limit_spare(const struct _u_request *request, struct _u_response *response,
                      const struct rate_limit_context *limits) {
  struct request_ctx *ctx = request_ctx_of(response);
  char key[CLIENT_ID_MAX + USER_ID_MAX + 2];
  struct rate_decision decision;

  (void)request;
  if (ctx == NULL || limits->limiter == NULL || ctx->rate_charge != RATE_CHARGED) {
    return;
  }
  principal_key(ctx, key);
  decision = decide(limits, key, SHARED_LIMIT_REFUND);
  ctx->rate_charge = RATE_NOT_CHARGED;
  put_headers(response, &decision);
}

bool rate_limit_settle(const struct _u_request *request, struct _u_response *response,
                       const struct rate_limit_context *limits) {
  struct request_ctx *ctx = request_ctx_of(response);
  char key[CLIENT_ID_MAX + USER_ID_MAX + 2];
  struct rate_decision decision;

  (void)request;
  if (ctx == NULL || limits->limiter == NULL || ctx->rate_charge != RATE_DEFERRED) {
    return true;
  }
  principal_key(ctx, key);
  decision = decide(limits, key, SHARED_LIMIT_TAKE);
  put_headers(response, &decision);
  if (!decision.allowed) {
    refuse(limits, ctx, response, decision.retry_after_s);
    return false;
  }
  ctx->rate_charge = RATE_CHARGED;
  return true;
}

bool rate_limit_defer(const struct _u_request *request, struct _u_response *response,
                      const struct rate_limit_context *limits) {
  if (!request_defer(response)) {
    return false;
  }
  rate_limit_spare(request, response, limits);
  return true;
}

void rate_limit_write_metrics(struct rate_limiter *limiter, bool with_redis, FILE *out) {
  if (limiter == NULL || !with_redis) {
    return;
  }
  fprintf(out,
          "# HELP purchases_rate_limit_shared Whether the last rate-limit decision was made in "
          "Redis, for every instance at once.\n"
          "# TYPE purchases_rate_limit_shared gauge\n"
          "purchases_rate_limit_shared %d\n"
          "# HELP purchases_rate_limit_local_decisions_total Decisions made by this instance "
          "alone because Redis did not answer.\n"
          "# TYPE purchases_rate_limit_local_decisions_total counter\n"
          "purchases_rate_limit_local_decisions_total %llu\n",
          atomic_load(&limiter->shared) == 1 ? 1 : 0,
          (unsigned long long)atomic_load(&limiter->local_decisions));
}
