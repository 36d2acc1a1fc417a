/* The response cache's own rules (models/cache.c) and the Redis address
 * (models/versions.c), without Redis: versions of this instance only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "models/cache.h"
#include "models/redis.h"
#include "models/versions.h"
#include "suites.h"

static const struct user_version V1 = {.local = 1};
static const struct user_version V2 = {.local = 2};

/* A key packed for one call: a few at a time per thread are live. */
static const struct cache_key *K(const void *bytes, size_t len) {
  static _Thread_local struct cache_key ring[4];
  static _Thread_local unsigned next;
  struct cache_key *key = &ring[next++ % 4];

  cache_key_pack(key, bytes, len);
  return key;
}

static struct cache_value text(const char *body) {
  return (struct cache_value){.body = body, .body_len = strlen(body), .etag = "\"t\"", .extra = ""};
}

START_TEST(an_entry_is_served_only_under_its_version) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct cache_value value = text("{\"a\":1}");
  const struct cache_entry *entry;

  ck_assert_ptr_nonnull(cache);
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V1));
  ck_assert(cache_put(cache, K("k", 1), &V1, &value));
  entry = cache_get(cache, K("k", 1), &V1);
  ck_assert_ptr_nonnull(entry);
  ck_assert_str_eq(cache_entry_value(entry).body, "{\"a\":1}");
  ck_assert_str_eq(cache_entry_value(entry).etag, "\"t\"");
  cache_release(cache, entry);
  /* Another key of the same length, or the same key under a newer version. */
  ck_assert_ptr_null(cache_get(cache, K("j", 1), &V1));
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V2));
  /* A stale entry is dropped, not kept for the old version. */
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V1));
  cache_free(cache);
}
END_TEST

/* The value of `series` in the cache's /metrics lines; -1 when absent. */
static double counter(struct cache *cache, const char *series) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  double value = -1;
  const char *at;
  char pattern[128];

  ck_assert_ptr_nonnull(out);
  cache_write_metrics(cache, out);
  fclose(out);
  snprintf(pattern, sizeof(pattern), "\n%s ", series);
  at = strstr(text, pattern);
  if (at != NULL) {
    value = strtod(at + strlen(pattern), NULL);
  }
  free(text);
  return value;
}

/* A worker's lookup before a hand-off counts a hit only; its miss is left,
 * stale entry and all, for the second pass to count once. */
START_TEST(a_lookup_before_a_hand_off_counts_only_hits) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct cache_value value = text("{}");
  const struct cache_entry *entry;

  ck_assert_ptr_null(cache_get_hit(cache, K("k", 1), &V1));
  ck_assert_double_eq(counter(cache, "purchases_cache_misses_total{reason=\"absent\"}"), 0);
  ck_assert(cache_put(cache, K("k", 1), &V1, &value));
  entry = cache_get_hit(cache, K("k", 1), &V1);
  ck_assert_ptr_nonnull(entry);
  cache_release(cache, entry);
  ck_assert_double_eq(counter(cache, "purchases_cache_hits_total"), 1);
  ck_assert_ptr_null(cache_get_hit(cache, K("k", 1), &V2));
  ck_assert_double_eq(counter(cache, "purchases_cache_misses_total{reason=\"stale\"}"), 0);
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V2));
  ck_assert_double_eq(counter(cache, "purchases_cache_misses_total{reason=\"stale\"}"), 1);
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V2));
  ck_assert_double_eq(counter(cache, "purchases_cache_misses_total{reason=\"absent\"}"), 1);
  cache_free(cache);
}
END_TEST

START_TEST(keys_are_told_apart_byte_for_byte) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct cache_value one = text("one");
  struct cache_value two = text("two");
  unsigned char long_zeros[600] = {0};
  unsigned char longer_zeros[601] = {0};
  const struct cache_entry *entry;

  /* Runs of zeros of other lengths, and zeros at either end. */
  ck_assert(cache_put(cache, K("a\0\0b", 4), &V1, &one));
  ck_assert(cache_put(cache, K("a\0b", 3), &V1, &two));
  ck_assert_ptr_null(cache_get(cache, K("a\0\0\0b", 5), &V1));
  entry = cache_get(cache, K("a\0\0b", 4), &V1);
  ck_assert_str_eq(cache_entry_value(entry).body, "one");
  cache_release(cache, entry);
  entry = cache_get(cache, K("a\0b", 3), &V1);
  ck_assert_str_eq(cache_entry_value(entry).body, "two");
  cache_release(cache, entry);
  ck_assert(cache_put(cache, K(long_zeros, sizeof(long_zeros)), &V1, &one));
  ck_assert_ptr_null(cache_get(cache, K(longer_zeros, sizeof(longer_zeros)), &V1));
  entry = cache_get(cache, K(long_zeros, sizeof(long_zeros)), &V1);
  ck_assert_ptr_nonnull(entry);
  cache_release(cache, entry);
  cache_free(cache);
}
END_TEST

START_TEST(a_key_past_the_limit_is_never_cached) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct cache_value value = text("x");
  unsigned char longest[CACHE_KEY_MAX];
  unsigned char too_long[CACHE_KEY_MAX + 1];
  const struct cache_entry *entry;

  /* The worst packing (a zero, a byte, a zero...) still fits. */
  for (size_t i = 0; i < sizeof(longest); i++) {
    longest[i] = i % 2 == 0 ? 0 : 'k';
  }
  memset(too_long, 'k', sizeof(too_long));
  ck_assert(cache_put(cache, K(longest, sizeof(longest)), &V1, &value));
  entry = cache_get(cache, K(longest, sizeof(longest)), &V1);
  ck_assert_ptr_nonnull(entry);
  cache_release(cache, entry);
  ck_assert(!cache_put(cache, K(too_long, sizeof(too_long)), &V1, &value));
  ck_assert_ptr_null(cache_get(cache, K(too_long, sizeof(too_long)), &V1));
  /* Nothing to coalesce on either: every caller reads. */
  ck_assert(cache_claim(cache, K(too_long, sizeof(too_long)), 10));
  ck_assert(cache_claim(cache, K(too_long, sizeof(too_long)), 10));
  cache_free(cache);
}
END_TEST

START_TEST(an_entry_outlives_nothing_past_its_ttl) {
  struct cache *cache = cache_new(1 << 20, 1);
  struct cache_value value = text("x");
  ck_assert(cache_put(cache, K("k", 1), &V1, &value));
  sleep(2);
  ck_assert_ptr_null(cache_get(cache, K("k", 1), &V1));
  cache_free(cache);
}
END_TEST

/* An expired entry is freed by the next store to its shard, before the
 * budget needs its room: a cache far from full does not keep dead pages. */
START_TEST(expired_entries_are_freed_by_later_stores) {
  struct cache *cache = cache_new(1 << 20, 1);
  struct cache_value value = text("a page that can no longer be served");
  char key[16];

  for (int i = 0; i < 64; i++) {
    snprintf(key, sizeof(key), "old-%d", i);
    ck_assert(cache_put(cache, K(key, strlen(key)), &V1, &value));
  }
  ck_assert_double_eq(counter(cache, "purchases_cache_entries"), 64);
  sleep(2);
  /* Enough stores that every shard of sixteen gets one. */
  for (int i = 0; i < 256; i++) {
    snprintf(key, sizeof(key), "new-%d", i);
    ck_assert(cache_put(cache, K(key, strlen(key)), &V1, &value));
  }
  ck_assert_double_eq(counter(cache, "purchases_cache_entries"), 256);
  ck_assert_double_eq(counter(cache, "purchases_cache_reclaimed_total"), 64);
  ck_assert_double_eq(counter(cache, "purchases_cache_evictions_total"), 0);
  /* The new entries are all there, in expiry order behind the freed ones. */
  for (int i = 0; i < 256; i++) {
    snprintf(key, sizeof(key), "new-%d", i);
    const struct cache_entry *entry = cache_get(cache, K(key, strlen(key)), &V1);
    ck_assert_ptr_nonnull(entry);
    cache_release(cache, entry);
  }
  cache_free(cache);
}
END_TEST

START_TEST(the_least_recently_used_go_first_and_bytes_stay_bounded) {
  /* Sixteen shards of 4 KiB: each holds a handful of 1 KiB bodies. */
  struct cache *cache = cache_new(16 * 4096, 30);
  char body[1024];
  char key[16];
  size_t present = 0;

  memset(body, 'b', sizeof(body) - 1);
  body[sizeof(body) - 1] = '\0';
  struct cache_value value = text(body);
  for (int i = 0; i < 400; i++) {
    snprintf(key, sizeof(key), "key-%d", i);
    ck_assert(cache_put(cache, K(key, strlen(key)), &V1, &value));
  }
  for (int i = 0; i < 400; i++) {
    snprintf(key, sizeof(key), "key-%d", i);
    const struct cache_entry *entry = cache_get(cache, K(key, strlen(key)), &V1);
    present += entry != NULL;
    cache_release(cache, entry);
  }
  ck_assert_uint_gt(present, 0);
  ck_assert_uint_le(present, 16 * 4); /* at most what 64 KiB holds */
  /* The newest is there; the first ones were evicted. */
  ck_assert_ptr_null(cache_get(cache, K("key-0", 5), &V1));
  const struct cache_entry *newest = cache_get(cache, K("key-399", 7), &V1);
  ck_assert_ptr_nonnull(newest);
  cache_release(cache, newest);
  /* Too large for a shard: refused, not stored past the bound. */
  char big[8192];
  memset(big, 'b', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  value = text(big);
  ck_assert(!cache_put(cache, K("big", 3), &V1, &value));
  cache_free(cache);
}
END_TEST

START_TEST(a_held_entry_survives_its_replacement) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct cache_value first = text("first");
  struct cache_value second = text("second");
  const struct cache_entry *held;
  const struct cache_entry *now;

  ck_assert(cache_put(cache, K("k", 1), &V1, &first));
  held = cache_get(cache, K("k", 1), &V1);
  ck_assert(cache_put(cache, K("k", 1), &V1, &second));
  ck_assert_str_eq(cache_entry_value(held).body, "first"); /* still readable */
  now = cache_get(cache, K("k", 1), &V1);
  ck_assert_str_eq(cache_entry_value(now).body, "second");
  cache_release(cache, held);
  cache_release(cache, now);
  cache_free(cache);
}
END_TEST

START_TEST(zero_bytes_or_ttl_is_no_cache) {
  ck_assert_ptr_null(cache_new(0, 30));
  ck_assert_ptr_null(cache_new(1 << 20, 0));
}
END_TEST

START_TEST(a_local_bump_changes_only_that_users_version) {
  struct versions_options options = {.redis = NULL};
  struct versions *versions = versions_new(&options);
  struct user_version before;
  struct user_version after;
  struct user_version other_before;
  struct user_version other_after;
  const char *user = "u-1";

  ck_assert_ptr_nonnull(versions);
  ck_assert(!versions_shared(versions));
  ck_assert(versions_read(versions, user, &before));
  ck_assert(versions_read(versions, "u-2", &other_before));
  versions_bump(versions, &user, 1);
  ck_assert(versions_read(versions, user, &after));
  ck_assert(versions_read(versions, "u-2", &other_after));
  ck_assert(!versions_equal(&before, &after));
  ck_assert(versions_equal(&other_before, &other_after));
  versions_free(versions);
}
END_TEST

START_TEST(redis_urls_are_parsed_or_refused) {
  struct redis_address address;
  char err[200];

  ck_assert(redis_address_parse("redis://127.0.0.1", &address, err, sizeof(err)));
  ck_assert_str_eq(address.host, "127.0.0.1");
  ck_assert_int_eq(address.port, 6379);
  ck_assert_int_eq(address.db, 0);
  ck_assert(redis_address_parse("redis://cache.internal:6380/3", &address, err, sizeof(err)));
  ck_assert_str_eq(address.host, "cache.internal");
  ck_assert_int_eq(address.port, 6380);
  ck_assert_int_eq(address.db, 3);
  ck_assert(redis_address_parse("redis://:s3cr@t@[::1]:7000/", &address, err, sizeof(err)));
  ck_assert_str_eq(address.host, "::1");
  ck_assert_int_eq(address.port, 7000);
  ck_assert_str_eq(address.user, "");
  ck_assert_str_eq(address.password, "s3cr@t");
  ck_assert(redis_address_parse("redis://app:pw@h", &address, err, sizeof(err)));
  ck_assert_str_eq(address.user, "app");
  ck_assert_str_eq(address.password, "pw");

  const char *bad[] = {"",
                       "127.0.0.1:6379",
                       "rediss://h",
                       "unix:///run/redis.sock",
                       "redis://",
                       "redis://:6379",
                       "redis://h:0",
                       "redis://h:65536",
                       "redis://h:63x",
                       "redis://h:",
                       "redis://h/x",
                       "redis://h/12345",
                       "redis://h?db=1",
                       "redis://pw@h",
                       "redis://[::1",
                       "redis://[::1]x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    ck_assert_msg(!redis_address_parse(bad[i], &address, err, sizeof(err)), "accepted %s", bad[i]);
    ck_assert_msg(strstr(err, "PURCHASES_REDIS_URL") != NULL, "%s: %s", bad[i], err);
  }
}
END_TEST

struct claimer {
  struct cache *cache;
  bool owner;
};

static void *claim_thread(void *data) {
  struct claimer *claimer = data;
  claimer->owner = cache_claim(claimer->cache, K("k", 1), 10000);
  return NULL;
}

START_TEST(one_caller_reads_what_many_miss_at_once) {
  struct cache *cache = cache_new(1 << 20, 30);
  struct claimer waiters[4];
  pthread_t threads[4];

  ck_assert(cache_claim(cache, K("k", 1), 1000)); /* the first one reads */
  for (int i = 0; i < 4; i++) {
    waiters[i] = (struct claimer){cache, true};
    ck_assert_int_eq(pthread_create(&threads[i], NULL, claim_thread, &waiters[i]), 0);
  }
  usleep(200 * 1000);
  cache_claim_end(cache, K("k", 1));
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    ck_assert(!waiters[i].owner); /* they waited, and read nothing */
  }
  /* Ended: the next miss reads again; another key never waits. */
  ck_assert(cache_claim(cache, K("k", 1), 1000));
  ck_assert(cache_claim(cache, K("j", 1), 1000));
  /* A claim held too long: the waiter gives up after its budget. */
  ck_assert(!cache_claim(cache, K("k", 1), 50));
  cache_claim_end(cache, K("k", 1));
  cache_claim_end(cache, K("j", 1));
  cache_free(cache);
}
END_TEST

Suite *suite_cache(void) {
  Suite *suite = suite_create("cache");
  TCase *tc = tcase_create("cache");
  tcase_add_test(tc, an_entry_is_served_only_under_its_version);
  tcase_add_test(tc, keys_are_told_apart_byte_for_byte);
  tcase_add_test(tc, a_lookup_before_a_hand_off_counts_only_hits);
  tcase_add_test(tc, a_key_past_the_limit_is_never_cached);
  tcase_add_test(tc, an_entry_outlives_nothing_past_its_ttl);
  tcase_add_test(tc, expired_entries_are_freed_by_later_stores);
  tcase_add_test(tc, the_least_recently_used_go_first_and_bytes_stay_bounded);
  tcase_add_test(tc, a_held_entry_survives_its_replacement);
  tcase_add_test(tc, zero_bytes_or_ttl_is_no_cache);
  tcase_add_test(tc, a_local_bump_changes_only_that_users_version);
  tcase_add_test(tc, redis_urls_are_parsed_or_refused);
  tcase_add_test(tc, one_caller_reads_what_many_miss_at_once);
  suite_add_tcase(suite, tc);
  return suite;
}
