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

/* Where Redis is, from redis://[[user]:password@]host[:port][/db]. */
struct redis_address {
  char host[256];
  int port;
  int db;
  char user[128];     /* "" for none */
  char password[256]; /* "" for none */
};

/* Parses a Redis URL. False with a reason in err for anything else
 * (another scheme, a port out of range, a database that is not a number,
 * a query string, a Unix socket). */
bool redis_address_parse(const char *url, struct redis_address *out, char *err, size_t err_len);

struct versions_options {
  const struct redis_address *redis; /* NULL: this instance only */
  uint32_t timeout_ms;               /* connecting and each command */
  uint32_t retry_ms;                 /* after a failed connect, the wait before the next */
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

/* Redis round trips, failures and latency, in the Prometheus text format. */
void versions_write_metrics(struct versions *versions, FILE *out);

#endif
