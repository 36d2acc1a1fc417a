#ifndef PURCHASES_MODELS_VERSIONS_H
#define PURCHASES_MODELS_VERSIONS_H

/* Per-user versions: what tells a cached answer about a user from a stale
 * one. Every write through the service bumps its user's version; an answer
 * cached under an older version is never served again.
 *
 * Two parts make a version. The local part lives in this process (a
 * counter per stripe of users, so it costs no memory per user) and changes
 * the moment this instance writes. The shared part, with PURCHASES_REDIS_URL,
 * lives in Redis: a counter per user that every instance reads before it
 * serves from its cache, and an epoch that a Redis which lost its data
 * (restarted without persistence, flushed) gets anew, so counters that
 * start again from zero never match what was cached before. See
 * docs/caching.md. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct versions;

/* A user's version at one moment. Two are equal only when every part is. */
struct user_version {
  uint64_t local;
  uint64_t epoch;  /* 0 without Redis */
  uint64_t remote; /* 0 without Redis, or for a user never written */
};

struct redis_pool;

struct versions_options {
  struct redis_pool *redis; /* borrowed, outlives the versions; NULL: this instance only */
};

/* NULL when out of memory. Nothing connects yet. */
struct versions *versions_new(const struct versions_options *options);
void versions_free(struct versions *versions);

/* Whether versions are shared through Redis. */
bool versions_shared(const struct versions *versions);

/* The version of `user_id` now. False when it cannot be known: Redis is
 * configured and did not answer in time (or is known to be down); then
 * nothing cached about anyone may be served or stored. Thread-safe. */
bool versions_read(struct versions *versions, const char *user_id, struct user_version *out);

bool versions_equal(const struct user_version *a, const struct user_version *b);

/* Marks `count` users as changed: their local part at once, then their
 * shared part in one round trip. A shared bump that fails is counted,
 * logged and kept (up to a bound) to be made as soon as Redis answers
 * again; past the bound the epoch is renewed instead, which invalidates
 * every instance's cache. Never fails the caller's write. Thread-safe. */
void versions_bump(struct versions *versions, const char *const *user_ids, size_t count);

/* Users whose shared bump waits for Redis (one more when the epoch is to
 * be renewed). */
size_t versions_pending(struct versions *versions);

/* Makes the bumps that wait, if any and if Redis answers now: what the
 * next read or write would do first, for an instance that gets neither.
 * Thread-safe. */
void versions_flush(struct versions *versions);

/* Failed and waiting bumps and the Redis pool's own figures, in the
 * Prometheus text format. */
void versions_write_metrics(struct versions *versions, FILE *out);

#endif
