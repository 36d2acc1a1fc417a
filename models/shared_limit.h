#ifndef PURCHASES_MODELS_SHARED_LIMIT_H
#define PURCHASES_MODELS_SHARED_LIMIT_H

/* Token buckets kept in Redis, so that every instance draws on the same
 * budget: one atomic round trip a decision (a Lua script run with EVALSHA,
 * the clock Redis's own). A bucket is a hash "purchases:rate:<key>" with
 * the tokens in thousandths and the time of the last change, expiring once
 * it would be full again (a missing bucket is a full one). */

#include <stdbool.h>
#include <stdint.h>

struct redis_pool;

/* What to do with the bucket. */
enum shared_limit_op {
  SHARED_LIMIT_TAKE = 1,    /* take a token, if there is one */
  SHARED_LIMIT_PEEK = 0,    /* only look */
  SHARED_LIMIT_REFUND = -1, /* give one back */
};

struct shared_limit_state {
  bool allowed;          /* TAKE: a token was taken; PEEK: one is there */
  uint64_t milli_tokens; /* what is left, in thousandths of a token */
};

/* Applies `op` to the bucket of `key` (rps tokens a second flow into at
 * most burst). False when Redis did not answer (the caller decides alone). */
bool shared_limit_apply(struct redis_pool *pool, const char *key, uint32_t rps, uint32_t burst,
                        enum shared_limit_op op, struct shared_limit_state *out);

#endif
