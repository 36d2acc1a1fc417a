#ifndef PURCHASES_MODELS_CACHE_H
#define PURCHASES_MODELS_CACHE_H

/* The response cache: answers already written (a list page, a purchase),
 * kept in memory under a key that holds everything that decides them (the
 * kind of answer, the caller's role, the user, the normalised query), each
 * tagged with the version of its user when the database was read for it.
 *
 * An entry is served only while the user's version is still the one it
 * was tagged with (models/versions.h) and its TTL has not passed; the TTL
 * bounds how long a write that bypassed the service stays unseen. Bounded
 * in bytes, least recently used first out. Sharded: a lookup locks one
 * shard of sixteen, and a hit copies nothing (the entry is counted in use
 * until released). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "models/versions.h"

#define CACHE_ETAG_MAX  48  /* with its quotes */
#define CACHE_EXTRA_MAX 328 /* e.g. the next and previous pages' cursors */

/* What a caller stores and gets back. */
struct cache_value {
  const char *body; /* JSON text, or its gzip when `gzip` */
  size_t body_len;
  bool gzip;
  const char *etag;  /* the strong ETag of the JSON text, quotes included */
  const char *extra; /* "" when unused */
};

struct cache;
struct cache_entry;

/* Keys are structs, mostly the zero bytes of unused fields: stored and
 * compared packed, every run of zeros as 0 and its length (1 to 255). The
 * packing is one to one, so packed keys are equal exactly when keys are.
 * A key over CACHE_KEY_MAX bytes packs to len 0, which is never cached.
 * A request packs its key once and hands the packed key to every call. */
#define CACHE_KEY_MAX 1024

struct cache_key {
  size_t len;
  uint64_t hash;
  unsigned char bytes[2 * CACHE_KEY_MAX];
};

void cache_key_pack(struct cache_key *out, const void *key, size_t len);

/* NULL when out of memory, or when max_bytes or ttl_s is 0 (no cache). */
struct cache *cache_new(size_t max_bytes, uint32_t ttl_s);
void cache_free(struct cache *cache);

/* The entry under `key` if it is there, its TTL has not passed and it was
 * stored under `version`; else NULL (a stale entry is dropped on the way).
 * The entry stays valid until cache_release(), whatever happens to the
 * cache meanwhile. Thread-safe. */
const struct cache_entry *cache_get(struct cache *cache, const struct cache_key *key,
                                    const struct user_version *version);
void cache_release(struct cache *cache, const struct cache_entry *entry);

/* The same for a hit; on a miss nothing is counted and a stale or expired
 * entry stays, for a cache_get() to come (a request that will look again
 * after a hand-off): each request is counted once. */
const struct cache_entry *cache_get_hit(struct cache *cache, const struct cache_key *key,
                                        const struct user_version *version);

/* The value of an entry cache_get() returned. */
struct cache_value cache_entry_value(const struct cache_entry *entry);

/* Stores a copy of `value` under `key`, tagged with `version` (read
 * before the database was), replacing what was there. False when the
 * value is larger than a shard holds or memory ran out. Thread-safe. */
bool cache_put(struct cache *cache, const struct cache_key *key, const struct user_version *version,
               const struct cache_value *value);

/* After a miss: so that many callers missing the same key at once (a
 * heavy user's page the moment it expires) send one read to the database,
 * not one each. Returns true when the caller is to read the database: it
 * owns the key's read and ends it with cache_claim_end() (after cache_put()
 * or on failure). Returns false when another caller was reading it: this
 * one waited until that read ended, or wait_ms passed, and may try
 * cache_get() again (and, on a miss, read the database itself without a
 * claim). Thread-safe. */
bool cache_claim(struct cache *cache, const struct cache_key *key, uint32_t wait_ms);
void cache_claim_end(struct cache *cache, const struct cache_key *key);

/* Hits, misses (by reason), evictions, bytes and entries held, in the
 * Prometheus text format. */
void cache_write_metrics(struct cache *cache, FILE *out);

#endif
