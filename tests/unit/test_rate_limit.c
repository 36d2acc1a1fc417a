#include <pthread.h>
#include <stdio.h>

#include <check.h>

#include "middleware/rate_limit.h"
#include "suites.h"

START_TEST(refuses_arguments_of_zero) {
  ck_assert_ptr_null(rate_limiter_new(0, 10, 100));
  ck_assert_ptr_null(rate_limiter_new(10, 0, 100));
  ck_assert_ptr_null(rate_limiter_new(10, 10, 0));
}
END_TEST

START_TEST(burst_then_refusal_with_retry_after) {
  struct rate_limiter *limiter = rate_limiter_new(2, 5, 100);
  struct rate_decision decision;

  ck_assert_ptr_nonnull(limiter);
  for (uint32_t i = 0; i < 5; i++) {
    decision = rate_limiter_take(limiter, "a", 1000);
    ck_assert(decision.allowed);
    ck_assert_uint_eq(decision.limit, 5);
    ck_assert_uint_eq(decision.remaining, 4 - i);
  }
  /* Empty: 5 tokens at 2 a second refill in 2.5 s, reported as 3. */
  ck_assert_uint_eq(decision.reset_s, 3);
  decision = rate_limiter_take(limiter, "a", 1000);
  ck_assert(!decision.allowed);
  ck_assert_uint_eq(decision.remaining, 0);
  ck_assert_uint_eq(decision.retry_after_s, 1); /* one token in 0.5 s */
  rate_limiter_free(limiter);
}
END_TEST

START_TEST(peek_decides_like_take_without_taking) {
  struct rate_limiter *limiter = rate_limiter_new(2, 3, 100);
  struct rate_decision decision;

  ck_assert_ptr_nonnull(limiter);
  /* An unknown key: a full bucket, and none is created for it. */
  decision = rate_limiter_peek(limiter, "a", 1000);
  ck_assert(decision.allowed);
  ck_assert_uint_eq(decision.remaining, 3);
  ck_assert_uint_eq(rate_limiter_size(limiter), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert(rate_limiter_peek(limiter, "a", 1000).allowed);
    ck_assert(rate_limiter_take(limiter, "a", 1000).allowed);
  }
  decision = rate_limiter_peek(limiter, "a", 1000);
  ck_assert(!decision.allowed);
  ck_assert_uint_eq(decision.remaining, 0);
  ck_assert_uint_eq(decision.retry_after_s, 1);
  /* Peeking again takes nothing: 0.5 s later one token is back. */
  ck_assert(!rate_limiter_peek(limiter, "a", 1400).allowed);
  decision = rate_limiter_peek(limiter, "a", 1500);
  ck_assert(decision.allowed);
  ck_assert_uint_eq(decision.remaining, 1);
  ck_assert(rate_limiter_take(limiter, "a", 1500).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 1500).allowed);
  ck_assert_uint_eq(rate_limiter_size(limiter), 1);
  rate_limiter_free(limiter);
}
END_TEST

START_TEST(tokens_flow_back_at_the_rate) {
  struct rate_limiter *limiter = rate_limiter_new(2, 2, 100);

  ck_assert(rate_limiter_take(limiter, "a", 0).allowed);
  ck_assert(rate_limiter_take(limiter, "a", 0).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 0).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 499).allowed); /* 0.998 tokens */
  ck_assert(rate_limiter_take(limiter, "a", 500).allowed);  /* exactly one */
  ck_assert(!rate_limiter_take(limiter, "a", 500).allowed);
  /* A long pause fills the bucket no further than the burst. */
  ck_assert_uint_eq(rate_limiter_take(limiter, "a", 3600000).remaining, 1);
  ck_assert(rate_limiter_take(limiter, "a", 3600000).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 3600000).allowed);
  rate_limiter_free(limiter);
}
END_TEST

START_TEST(a_clock_going_backwards_adds_nothing) {
  struct rate_limiter *limiter = rate_limiter_new(1, 1, 100);

  ck_assert(rate_limiter_take(limiter, "a", 5000).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 1000).allowed);
  ck_assert(!rate_limiter_take(limiter, "a", 5999).allowed);
  ck_assert(rate_limiter_take(limiter, "a", 6000).allowed);
  rate_limiter_free(limiter);
}
END_TEST

START_TEST(keys_have_their_own_buckets) {
  struct rate_limiter *limiter = rate_limiter_new(1, 1, 100);

  ck_assert(rate_limiter_take(limiter, "shop\x1fu1", 0).allowed);
  ck_assert(!rate_limiter_take(limiter, "shop\x1fu1", 0).allowed);
  ck_assert(rate_limiter_take(limiter, "shop\x1fu2", 0).allowed);
  ck_assert(rate_limiter_take(limiter, "support\x1fu1", 0).allowed);
  ck_assert_uint_eq(rate_limiter_size(limiter), 3);
  rate_limiter_free(limiter);
}
END_TEST

START_TEST(table_stays_bounded_and_forgets_the_least_recent) {
  /* 16 shards of 2 buckets: at most 32 whatever the callers do. */
  struct rate_limiter *limiter = rate_limiter_new(1, 1, 16);
  char key[32];

  ck_assert(rate_limiter_take(limiter, "kept", 0).allowed);
  for (int i = 0; i < 10000; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    ck_assert(rate_limiter_take(limiter, key, 0).allowed);
    ck_assert_uint_le(rate_limiter_size(limiter), 32);
    /* "kept" is used all along, so it is never the one forgotten. */
    ck_assert(!rate_limiter_take(limiter, "kept", 0).allowed);
  }
  rate_limiter_free(limiter);
}
END_TEST

struct taker {
  struct rate_limiter *limiter;
  int allowed;
};

static void *take_many(void *arg) {
  struct taker *taker = arg;
  for (int i = 0; i < 1000; i++) {
    if (rate_limiter_take(taker->limiter, "shared", 0).allowed) {
      taker->allowed++;
    }
  }
  return NULL;
}

START_TEST(threads_share_one_bucket_exactly) {
  struct rate_limiter *limiter = rate_limiter_new(1, 100, 100);
  struct taker takers[4];
  pthread_t threads[4];
  int total = 0;

  for (int i = 0; i < 4; i++) {
    takers[i] = (struct taker){.limiter = limiter};
    ck_assert_int_eq(pthread_create(&threads[i], NULL, take_many, &takers[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    total += takers[i].allowed;
  }
  ck_assert_int_eq(total, 100);
  rate_limiter_free(limiter);
}
END_TEST

Suite *suite_rate_limit(void) {
  Suite *suite = suite_create("rate_limit");
  TCase *tc = tcase_create("bucket");

  tcase_add_test(tc, refuses_arguments_of_zero);
  tcase_add_test(tc, burst_then_refusal_with_retry_after);
  tcase_add_test(tc, peek_decides_like_take_without_taking);
  tcase_add_test(tc, tokens_flow_back_at_the_rate);
  tcase_add_test(tc, a_clock_going_backwards_adds_nothing);
  tcase_add_test(tc, keys_have_their_own_buckets);
  tcase_add_test(tc, table_stays_bounded_and_forgets_the_least_recent);
  tcase_add_test(tc, threads_share_one_bucket_exactly);
  suite_add_tcase(suite, tc);
  return suite;
}
