#ifndef PURCHASES_MIDDLEWARE_RATE_LIMIT_H
#define PURCHASES_MIDDLEWARE_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <ulfius.h>

/* A token bucket per caller: `rps` tokens a second flow into a bucket that
 * holds at most `burst`; each request takes one. Keys are bounded: when the
 * table is full the bucket unused for longest is forgotten (a forgotten
 * caller starts again with a full bucket, which errs towards serving). */
struct rate_limiter;

/* What one request was told. */
struct rate_decision {
  bool allowed;
  uint32_t limit;         /* the burst: RateLimit-Limit */
  uint32_t remaining;     /* whole tokens left after this request */
  uint32_t reset_s;       /* seconds until the bucket is full again */
  uint32_t retry_after_s; /* when refused: seconds until one token is back */
};

/* NULL when out of memory or when rps, burst or max_keys is 0. */
struct rate_limiter *rate_limiter_new(uint32_t rps, uint32_t burst, size_t max_keys);
void rate_limiter_free(struct rate_limiter *limiter);

/* Takes a token from `key`'s bucket at time now_ms (any monotonic clock,
 * in milliseconds) and says whether the request may go on. Thread-safe. */
struct rate_decision rate_limiter_take(struct rate_limiter *limiter, const char *key,
                                       uint64_t now_ms);

/* What rate_limiter_take() would decide for `key` at now_ms, without
 * taking a token, creating a bucket or changing the use order (a key with
 * no bucket has a full one). Thread-safe. */
struct rate_decision rate_limiter_peek(struct rate_limiter *limiter, const char *key,
                                       uint64_t now_ms);

/* Gives back the token a request took from `key` (at most up to the
 * burst). Thread-safe. */
void rate_limiter_refund(struct rate_limiter *limiter, const char *key, uint64_t now_ms);

/* With Redis, the shared-bucket gauge and the count of decisions made
 * alone, in the Prometheus text format; nothing otherwise. */
void rate_limit_write_metrics(struct rate_limiter *limiter, bool with_redis, FILE *out);

/* How many buckets are held. */
size_t rate_limiter_size(struct rate_limiter *limiter);

struct redis_pool;

/* What the link needs, and no more: the app fills one at start and hands
 * it to the link and to the controllers that spare or settle a token.
 * Everything it points to is the app's and outlives every request. */
struct rate_limit_context {
  struct rate_limiter *limiter; /* NULL when rate limiting is off */
  struct redis_pool *redis;     /* shared budgets; NULL: this instance's own */
  uint32_t burst;               /* for the 429's detail */
  uint32_t rps;
};

/* Chain link after authentication: one bucket per client and user. Adds
 * RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset to every answer
 * and refuses with 429 and Retry-After when the bucket is empty. user_data
 * is the struct rate_limit_context; does nothing when rate limiting is off.
 *
 * A conditional read (GET with If-None-Match) answered 304 from the cache
 * costs nothing, as it costs the service nothing: with an empty bucket the
 * link leaves the decision to the controller (RATE_DEFERRED), which calls
 * rate_limit_spare() when it answers so, and rate_limit_settle() before
 * any other answer. */
int callback_rate_limit(const struct _u_request *request, struct _u_response *response,
                        void *user_data);

/* The request is answered 304 without database work: gives its token
 * back, if one was taken. */
void rate_limit_spare(const struct _u_request *request, struct _u_response *response,
                      const struct rate_limit_context *limits);

/* Before anything but a free 304: a deferred request takes its token now,
 * or is answered 429. False when it was. */
bool rate_limit_settle(const struct _u_request *request, struct _u_response *response,
                       const struct rate_limit_context *limits);

/* request_defer() for a link about to wait on the database: on an epoll
 * worker the request is handed off and its token given back (the second
 * pass takes it again, so the request costs one). True when deferred: the
 * link returns at once. */
bool rate_limit_defer(const struct _u_request *request, struct _u_response *response,
                      const struct rate_limit_context *limits);

#endif
