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

/* An open connection, or NULL while Redis is down (inside the pause) or
 * every connection stayed busy for timeout_ms. Give it back with
 * redis_pool_release(): healthy false when a command on it failed (it is
 * closed, and the pause starts). `started` is when the caller began, for
 * the latency histogram. Thread-safe. */
redisContext *redis_pool_acquire(struct redis_pool *pool);
void redis_pool_release(struct redis_pool *pool, redisContext *context, bool healthy,
                        double started);

/* CLOCK_MONOTONIC in seconds, for `started`. */
double redis_pool_now(void);

/* Whether Redis answered the last attempt. */
bool redis_pool_up(struct redis_pool *pool);

/* Round trips, errors, skips and latency in the Prometheus text format. */
void redis_pool_write_metrics(struct redis_pool *pool, FILE *out);

#endif
