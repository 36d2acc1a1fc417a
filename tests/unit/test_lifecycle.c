/* Every one of the 36 moves between the six statuses, allowed or refused,
 * against the rules as docs/writes.md states them (not against the table in
 * models/purchase_write.c, which they check). */
#include <stdbool.h>
#include <string.h>

#include "models/purchase.h"
#include "models/purchase_write.h"
#include "suites.h"

/* The main line, in order; -1 for the two final branches. */
static int main_line_position(const char *status) {
  static const char *const MAIN_LINE[] = {"placed", "paid", "shipped", "delivered"};
  for (int i = 0; i < 4; i++) {
    if (strcmp(status, MAIN_LINE[i]) == 0) {
      return i;
    }
  }
  return -1;
}

static bool is(const char *status, const char *name) {
  return strcmp(status, name) == 0;
}

/* docs/writes.md: forward only on the main line, steps may be skipped;
 * cancelled from placed or paid; refunded from paid, shipped or delivered;
 * nothing leaves cancelled or refunded; nothing moves to itself. */
static bool rules_allow(const char *from, const char *to) {
  int from_position = main_line_position(from);
  int to_position = main_line_position(to);
  if (from_position >= 0 && to_position >= 0) {
    return to_position > from_position;
  }
  if (is(to, "cancelled")) {
    return is(from, "placed") || is(from, "paid");
  }
  if (is(to, "refunded")) {
    return is(from, "paid") || is(from, "shipped") || is(from, "delivered");
  }
  return false;
}

START_TEST(every_move_between_two_statuses_follows_the_rules) {
  int moves = 0;
  int allowed = 0;
  for (int f = 0; PURCHASE_STATUSES[f] != NULL; f++) {
    for (int t = 0; PURCHASE_STATUSES[t] != NULL; t++) {
      const char *from = PURCHASE_STATUSES[f];
      const char *to = PURCHASE_STATUSES[t];
      bool expected = rules_allow(from, to);
      ck_assert_msg(purchase_transition_allowed(from, to) == expected, "%s -> %s should be %s",
                    from, to, expected ? "allowed" : "refused");
      moves++;
      allowed += expected;
    }
  }
  ck_assert_int_eq(moves, 36);
  /* placed 4, paid 4, shipped 2, delivered 1, the final two none. */
  ck_assert_int_eq(allowed, 11);
}
END_TEST

START_TEST(unknown_statuses_move_nowhere) {
  ck_assert(!purchase_transition_allowed("placed", "lost"));
  ck_assert(!purchase_transition_allowed("lost", "paid"));
  ck_assert(!purchase_transition_allowed("Placed", "paid"));
  ck_assert(!purchase_transition_allowed("", ""));
}
END_TEST

Suite *suite_lifecycle(void) {
  Suite *suite = suite_create("lifecycle");
  TCase *tc = tcase_create("transitions");
  tcase_add_test(tc, every_move_between_two_statuses_follows_the_rules);
  tcase_add_test(tc, unknown_statuses_move_nowhere);
  suite_add_tcase(suite, tc);
  return suite;
}
