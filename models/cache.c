#include "models/cache.h"
#include "lib/clock.h"
#include "lib/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHARDS      16
#define SLOTS_SHIFT 12 /* 4,096 hash slots a shard */

struct cache_entry;

/* An entry's place in one of its shard's two lists. */
struct link {
  struct cache_entry *prev; /* toward the head */
  struct cache_entry *next; /* toward the tail */
};

/* A list of entries through one of their links; added at the tail, taken
 * from the head. */
struct list {
  struct cache_entry *head;
  struct cache_entry *tail;
};

struct cache_entry {
  struct cache_entry *chain; /* next in the hash slot */
  struct link by_use;        /* in the shard's by_use list */
  struct link by_expiry;     /* in the shard's by_expiry list */
  uint64_t hash;
  uint64_t expires_ms;
  struct user_version version;
  size_t size;       /* what it counts against the budget */
  unsigned int refs; /* holders besides the table; guarded by the shard lock */
  bool linked;       /* still in the table */
  unsigned char shard;
  size_t key_len;
  size_t body_len;
  bool gzip;
  size_t etag_at; /* offsets into data of the ETag and the extra, each NUL-ended */
  size_t extra_at;
  unsigned char data[]; /* the packed key, the body and a NUL, the ETag, the extra */
};

/* A read of the database some caller owns for one key, and the callers
 * waiting for it. Guarded by the shard lock. */
struct flight {
  struct flight *next;
  uint64_t hash;
  size_t key_len;
  pthread_cond_t done;
  unsigned int waiters;
  bool ended;
  unsigned char key[]; /* key_len bytes */
};

struct shard {
  pthread_mutex_t lock;
  struct flight *flights;
  struct cache_entry *slots[1u << SLOTS_SHIFT];
  /* Every entry by its last use, the least recently used at the head. */
  struct list by_use;
  /* Every entry by expiry. The TTL is one for the whole cache and an entry
   * keeps the expiry it was stored with, so storing order is expiry order:
   * a store appends, and the expired are always at the head. */
  struct list by_expiry;
  size_t bytes;
  size_t entries;
};

struct cache {
  struct shard shards[SHARDS];
  size_t shard_budget;
  uint64_t ttl_ms;
  atomic_ullong hits;
  atomic_ullong misses_absent;
  atomic_ullong misses_stale;
  atomic_ullong misses_expired;
  atomic_ullong stores;
  atomic_ullong evictions;
  atomic_ullong reclaimed; /* expired entries freed before anyone asked for them */
  atomic_ullong too_large;
  atomic_ullong coalesced; /* misses that waited for another caller's read */
};

void cache_key_pack(struct cache_key *out, const void *key, size_t len) {
  const unsigned char *p = key;
  size_t n = 0;

  out->len = 0;
  out->hash = 0;
  if (len > CACHE_KEY_MAX) {
    return;
  }
  for (size_t i = 0; i < len;) {
    if (p[i] != 0) {
      out->bytes[n++] = p[i++];
      continue;
    }
    size_t run = 0;
    while (i < len && p[i] == 0 && run < 255) {
      run++;
      i++;
    }
    out->bytes[n++] = 0;
    out->bytes[n++] = (unsigned char)run;
  }
  out->len = n;
  out->hash = hash_bytes(out->bytes, n);
}

static struct shard *shard_of(struct cache *cache, const struct cache_key *key) {
  return &cache->shards[key->hash % SHARDS];
}

struct cache *cache_new(size_t max_bytes, uint32_t ttl_s) {
  struct cache *cache;

  if (max_bytes == 0 || ttl_s == 0) {
    return NULL;
  }
  cache = calloc(1, sizeof(*cache));
  if (cache == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < SHARDS; i++) {
    pthread_mutex_init(&cache->shards[i].lock, NULL);
  }
  cache->shard_budget = max_bytes / SHARDS;
  cache->ttl_ms = (uint64_t)ttl_s * 1000u;
  return cache;
}

void cache_free(struct cache *cache) {
  if (cache == NULL) {
    return;
  }
  for (size_t i = 0; i < SHARDS; i++) {
    struct cache_entry *entry = cache->shards[i].by_use.head;
    while (entry != NULL) {
      struct cache_entry *next = entry->by_use.next;
      free(entry);
      entry = next;
    }
    while (cache->shards[i].flights != NULL) {
      struct flight *flight = cache->shards[i].flights;
      cache->shards[i].flights = flight->next;
      pthread_cond_destroy(&flight->done);
      free(flight);
    }
    pthread_mutex_destroy(&cache->shards[i].lock);
  }
  free(cache);
}

static struct cache_entry **slot_of(struct shard *shard, uint64_t hash) {
  return &shard->slots[hash & ((1u << SLOTS_SHIFT) - 1)];
}

/* The link of `entry` at `at`: offsetof(struct cache_entry, by_use) or
 * offsetof(struct cache_entry, by_expiry). */
static struct link *link_at(struct cache_entry *entry, size_t at) {
  return (struct link *)((char *)entry + at);
}

static void list_unlink(struct list *list, struct cache_entry *entry, size_t at) {
  struct link *link = link_at(entry, at);

  if (link->prev != NULL) {
    link_at(link->prev, at)->next = link->next;
  } else {
    list->head = link->next;
  }
  if (link->next != NULL) {
    link_at(link->next, at)->prev = link->prev;
  } else {
    list->tail = link->prev;
  }
  link->prev = NULL;
  link->next = NULL;
}

static void list_append(struct list *list, struct cache_entry *entry, size_t at) {
  struct link *link = link_at(entry, at);

  link->prev = list->tail;
  link->next = NULL;
  if (list->tail != NULL) {
    link_at(list->tail, at)->next = entry;
  }
  list->tail = entry;
  if (list->head == NULL) {
    list->head = entry;
  }
}

#define BY_USE    offsetof(struct cache_entry, by_use)
#define BY_EXPIRY offsetof(struct cache_entry, by_expiry)

/* Takes `entry` out of the table; it is freed now, or by the last
 * cache_release() of a holder. Called with the shard lock held. */
static void drop(struct shard *shard, struct cache_entry *entry) {
  struct cache_entry **link = slot_of(shard, entry->hash);
  while (*link != entry) {
    link = &(*link)->chain;
  }
  *link = entry->chain;
  list_unlink(&shard->by_use, entry, BY_USE);
  list_unlink(&shard->by_expiry, entry, BY_EXPIRY);
  entry->linked = false;
  shard->bytes -= entry->size;
  shard->entries--;
  if (entry->refs == 0) {
    free(entry);
  }
}

static struct cache_entry *find(struct shard *shard, const struct cache_key *key) {
  for (struct cache_entry *entry = *slot_of(shard, key->hash); entry != NULL;
       entry = entry->chain) {
    if (entry->hash == key->hash && entry->key_len == key->len &&
        memcmp(entry->data, key->bytes, key->len) == 0) {
      return entry;
    }
  }
  return NULL;
}

/* cache_get(), or cache_get_hit() when !settle. */
static const struct cache_entry *look_up(struct cache *cache, const struct cache_key *key,
                                         const struct user_version *version, bool settle) {
  struct shard *shard = shard_of(cache, key);
  struct cache_entry *entry;
  atomic_ullong *missed = NULL; /* the reason of a miss */

  pthread_mutex_lock(&shard->lock);
  entry = key->len > 0 ? find(shard, key) : NULL;
  if (entry == NULL) {
    missed = &cache->misses_absent;
  } else if (!versions_equal(&entry->version, version)) {
    missed = &cache->misses_stale;
  } else if (clock_monotonic_ms() >= entry->expires_ms) {
    missed = &cache->misses_expired;
  }
  if (missed == NULL) {
    atomic_fetch_add_explicit(&cache->hits, 1, memory_order_relaxed);
    entry->refs++;
    list_unlink(&shard->by_use, entry, BY_USE);
    list_append(&shard->by_use, entry, BY_USE);
  } else if (settle) {
    atomic_fetch_add_explicit(missed, 1, memory_order_relaxed);
    if (entry != NULL) {
      drop(shard, entry);
    }
    entry = NULL;
  } else {
    entry = NULL; /* left as it is for the lookup that settles it */
  }
  pthread_mutex_unlock(&shard->lock);
  return entry;
}

const struct cache_entry *cache_get(struct cache *cache, const struct cache_key *key,
                                    const struct user_version *version) {
  return look_up(cache, key, version, true);
}

const struct cache_entry *cache_get_hit(struct cache *cache, const struct cache_key *key,
                                        const struct user_version *version) {
  return look_up(cache, key, version, false);
}

void cache_release(struct cache *cache, const struct cache_entry *held) {
  struct cache_entry *entry = (struct cache_entry *)held;
  struct shard *shard;
  bool orphan;

  if (entry == NULL) {
    return;
  }
  shard = &cache->shards[entry->shard];
  pthread_mutex_lock(&shard->lock);
  entry->refs--;
  orphan = entry->refs == 0 && !entry->linked;
  pthread_mutex_unlock(&shard->lock);
  if (orphan) {
    free(entry);
  }
}

struct cache_value cache_entry_value(const struct cache_entry *entry) {
  struct cache_value value = {
      .body = (const char *)entry->data + entry->key_len,
      .body_len = entry->body_len,
      .gzip = entry->gzip,
      .etag = (const char *)entry->data + entry->etag_at,
      .extra = (const char *)entry->data + entry->extra_at,
  };
  return value;
}

bool cache_put(struct cache *cache, const struct cache_key *key, const struct user_version *version,
               const struct cache_value *value) {
  struct shard *shard = shard_of(cache, key);
  size_t etag_len = strlen(value->etag);
  size_t extra_len = strlen(value->extra);
  size_t size =
      sizeof(struct cache_entry) + key->len + value->body_len + 1 + etag_len + 1 + extra_len + 1;
  struct cache_entry *entry;
  struct cache_entry *old;
  uint64_t now_ms;

  if (key->len == 0 || size > cache->shard_budget || etag_len >= CACHE_ETAG_MAX ||
      extra_len >= CACHE_EXTRA_MAX) {
    atomic_fetch_add_explicit(&cache->too_large, 1, memory_order_relaxed);
    return false;
  }
  entry = malloc(size);
  if (entry == NULL) {
    return false;
  }
  memset(entry, 0, sizeof(*entry));
  entry->hash = key->hash;
  entry->version = *version;
  entry->size = size;
  entry->linked = true;
  entry->shard = (unsigned char)(key->hash % SHARDS);
  entry->key_len = key->len;
  entry->body_len = value->body_len;
  entry->gzip = value->gzip;
  memcpy(entry->data, key->bytes, key->len);
  memcpy(entry->data + key->len, value->body, value->body_len);
  entry->data[key->len + value->body_len] = '\0';
  entry->etag_at = key->len + value->body_len + 1;
  memcpy(entry->data + entry->etag_at, value->etag, etag_len + 1);
  entry->extra_at = entry->etag_at + etag_len + 1;
  memcpy(entry->data + entry->extra_at, value->extra, extra_len + 1);

  pthread_mutex_lock(&shard->lock);
  /* Read under the lock, so that the shard's stores are in expiry order. */
  now_ms = clock_monotonic_ms();
  entry->expires_ms = now_ms + cache->ttl_ms;
  old = find(shard, key);
  if (old != NULL) {
    drop(shard, old);
  }
  /* What can no longer be served goes before anything still good: without
   * this, expired pages would stay until the budget pushed them out, and a
   * long-running instance would hold PURCHASES_CACHE_BYTES whatever its
   * traffic. Their memory goes to the entries stored after them. */
  while (shard->by_expiry.head != NULL && shard->by_expiry.head->expires_ms <= now_ms) {
    drop(shard, shard->by_expiry.head);
    atomic_fetch_add_explicit(&cache->reclaimed, 1, memory_order_relaxed);
  }
  while (shard->bytes + size > cache->shard_budget && shard->by_use.head != NULL) {
    drop(shard, shard->by_use.head);
    atomic_fetch_add_explicit(&cache->evictions, 1, memory_order_relaxed);
  }
  entry->chain = *slot_of(shard, key->hash);
  *slot_of(shard, key->hash) = entry;
  list_append(&shard->by_use, entry, BY_USE);
  list_append(&shard->by_expiry, entry, BY_EXPIRY);
  shard->bytes += size;
  shard->entries++;
  pthread_mutex_unlock(&shard->lock);
  atomic_fetch_add_explicit(&cache->stores, 1, memory_order_relaxed);
  return true;
}

/* The link that points at the key's flight, or the list's NULL end. */
static struct flight **flight_link(struct shard *shard, const struct cache_key *key) {
  struct flight **link = &shard->flights;

  while (*link != NULL && !((*link)->hash == key->hash && (*link)->key_len == key->len &&
                            memcmp((*link)->key, key->bytes, key->len) == 0)) {
    link = &(*link)->next;
  }
  return link;
}

bool cache_claim(struct cache *cache, const struct cache_key *key, uint32_t wait_ms) {
  struct shard *shard = shard_of(cache, key);
  struct flight *flight;
  bool owner = false;

  if (key->len == 0) {
    return true; /* never cached: nothing to wait for */
  }
  pthread_mutex_lock(&shard->lock);
  flight = *flight_link(shard, key);
  if (flight == NULL) {
    flight = malloc(sizeof(*flight) + key->len);
    if (flight != NULL) {
      pthread_condattr_t attr;
      pthread_condattr_init(&attr);
      pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
      pthread_cond_init(&flight->done, &attr);
      pthread_condattr_destroy(&attr);
      flight->hash = key->hash;
      flight->key_len = key->len;
      flight->waiters = 0;
      flight->ended = false;
      memcpy(flight->key, key->bytes, key->len);
      flight->next = shard->flights;
      shard->flights = flight;
    }
    /* Out of memory: read without a claim, as before there were any. */
    owner = true;
  } else {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    atomic_fetch_add_explicit(&cache->coalesced, 1, memory_order_relaxed);
    flight->waiters++;
    while (!flight->ended &&
           pthread_cond_timedwait(&flight->done, &shard->lock, &until) != ETIMEDOUT) {
    }
    /* The last waiter out of an ended flight frees it. */
    if (--flight->waiters == 0 && flight->ended) {
      pthread_cond_destroy(&flight->done);
      free(flight);
    }
  }
  pthread_mutex_unlock(&shard->lock);
  return owner;
}

void cache_claim_end(struct cache *cache, const struct cache_key *key) {
  struct shard *shard = shard_of(cache, key);
  struct flight **link;
  struct flight *flight;

  pthread_mutex_lock(&shard->lock);
  link = flight_link(shard, key);
  flight = *link;
  if (flight != NULL) {
    *link = flight->next;
    flight->ended = true;
    if (flight->waiters == 0) {
      pthread_cond_destroy(&flight->done);
      free(flight);
    } else {
      pthread_cond_broadcast(&flight->done);
    }
  }
  pthread_mutex_unlock(&shard->lock);
}

void cache_write_metrics(struct cache *cache, FILE *out) {
  size_t bytes = 0;
  size_t entries = 0;

  for (size_t i = 0; i < SHARDS; i++) {
    pthread_mutex_lock(&cache->shards[i].lock);
    bytes += cache->shards[i].bytes;
    entries += cache->shards[i].entries;
    pthread_mutex_unlock(&cache->shards[i].lock);
  }
  fprintf(out,
          "# HELP purchases_cache_hits_total Answers served from the response cache.\n"
          "# TYPE purchases_cache_hits_total counter\n"
          "purchases_cache_hits_total %llu\n"
          "# HELP purchases_cache_misses_total Lookups that went to the database, by reason.\n"
          "# TYPE purchases_cache_misses_total counter\n"
          "purchases_cache_misses_total{reason=\"absent\"} %llu\n"
          "purchases_cache_misses_total{reason=\"stale\"} %llu\n"
          "purchases_cache_misses_total{reason=\"expired\"} %llu\n"
          "# HELP purchases_cache_stores_total Answers stored in the cache.\n"
          "# TYPE purchases_cache_stores_total counter\n"
          "purchases_cache_stores_total %llu\n"
          "# HELP purchases_cache_evictions_total Entries dropped to stay within "
          "PURCHASES_CACHE_BYTES.\n"
          "# TYPE purchases_cache_evictions_total counter\n"
          "purchases_cache_evictions_total %llu\n"
          "# HELP purchases_cache_reclaimed_total Expired entries freed when a store came to "
          "their shard, before the budget needed their room.\n"
          "# TYPE purchases_cache_reclaimed_total counter\n"
          "purchases_cache_reclaimed_total %llu\n"
          "# HELP purchases_cache_too_large_total Answers too large to cache.\n"
          "# TYPE purchases_cache_too_large_total counter\n"
          "purchases_cache_too_large_total %llu\n"
          "# HELP purchases_cache_coalesced_total Misses that waited for the same read by "
          "another request instead of reading the database too.\n"
          "# TYPE purchases_cache_coalesced_total counter\n"
          "purchases_cache_coalesced_total %llu\n"
          "# HELP purchases_cache_bytes Bytes the cache holds.\n"
          "# TYPE purchases_cache_bytes gauge\n"
          "purchases_cache_bytes %zu\n"
          "# HELP purchases_cache_bytes_limit PURCHASES_CACHE_BYTES.\n"
          "# TYPE purchases_cache_bytes_limit gauge\n"
          "purchases_cache_bytes_limit %zu\n"
          "# HELP purchases_cache_entries Answers the cache holds.\n"
          "# TYPE purchases_cache_entries gauge\n"
          "purchases_cache_entries %zu\n",
          (unsigned long long)atomic_load(&cache->hits),
          (unsigned long long)atomic_load(&cache->misses_absent),
          (unsigned long long)atomic_load(&cache->misses_stale),
          (unsigned long long)atomic_load(&cache->misses_expired),
          (unsigned long long)atomic_load(&cache->stores),
          (unsigned long long)atomic_load(&cache->evictions),
          (unsigned long long)atomic_load(&cache->reclaimed),
          (unsigned long long)atomic_load(&cache->too_large),
          (unsigned long long)atomic_load(&cache->coalesced), bytes, cache->shard_budget * SHARDS,
          entries);
}
