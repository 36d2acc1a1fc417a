#ifndef PURCHASES_MODELS_REDIS_H
#define PURCHASES_MODELS_REDIS_H

/* The process's connections to Redis (hiredis, synchronous): a pool that
 * every user of Redis shares, the cache versions (models/versions.h) and
 * the shared rate limits (models/shared_limit.h). A Redis that does not
 * answer is left alone for retry_ms, during which every acquire fails at
 * once: callers fall back to what they do without Redis, and a request
 * never waits on a Redis known to be down. The log says once when Redis
 * goes away and once when it is back. */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <hiredis/hiredis.h>

/* Where Redis is, from redis://[[user]:password@]host[:port][/db]. */
struct redis_address {
  char host[256];
  int port;
  int db;
  char user[128];     /* "" for none */
  char password[256]; /* "" for none */
};

/* Parses a Redis URL. False with a reason naming PURCHASES_REDIS_URL in
 * err for anything else (another scheme, a port out of range, a database
 * that is not a number, a query string, a Unix socket). */
bool redis_address_parse(const char *url, struct redis_address *out, char *err, size_t err_len);

struct redis_pool_options {
  const struct redis_address *address;
  unsigned int timeout_ms; /* connecting and each command */
  unsigned int retry_ms;   /* after a failure, the pause before the next try */
};

struct redis_pool;

/* NULL when out of memory. Nothing connects yet. */
struct redis_pool *redis_pool_new(const struct redis_pool_options *options);
void redis_pool_free(struct redis_pool *pool);

/* Runs `work` (which sends its commands on the connection and says
 * whether they succeeded) on a pooled connection, and returns what it
 * returned; false at once while Redis is down (inside the pause) or every
 * connection stayed busy for timeout_ms. A kept connection can have died
 * since its last use (Redis restarted): when work fails on one, it runs
 * once more on a new connection before Redis counts as down. Thread-safe. */
bool redis_pool_run(struct redis_pool *pool, bool (*work)(redisContext *context, void *data),
                    void *data);

/* Whether Redis answered the last attempt; round trips, errors, skips and
 * latency; in the Prometheus text format. */
void redis_pool_write_metrics(struct redis_pool *pool, FILE *out);

#endif
