#include <stdio.h>
#include <string.h>

#include <check.h>

#include "models/page_walk.h"
#include "suites.h"

/* Walks `count` documents whose keys are 1, 2, 3, ... in the order the
 * database gives them, as a list model does, and returns the edges. */
static struct page_edges walk_over(struct page_walk walk, int count) {
  struct page_edges edges;
  struct purchase_position *position;
  for (int i = 1; i <= count && (position = page_walk_next(&walk)) != NULL; i++) {
    position->key = i;
    snprintf(position->id, sizeof(position->id), "p%d", i);
  }
  page_walk_edges(&walk, &edges);
  return edges;
}

START_TEST(first_page_of_a_longer_list) {
  struct page_edges edges = walk_over((struct page_walk){.limit = 3}, 4);
  ck_assert_int_eq(edges.first.key, 1);
  ck_assert_int_eq(edges.last.key, 3);
  ck_assert(edges.has_more);
  ck_assert(!edges.has_previous);
}
END_TEST

START_TEST(only_page) {
  struct page_edges edges = walk_over((struct page_walk){.limit = 3}, 3);
  ck_assert_int_eq(edges.last.key, 3);
  ck_assert(!edges.has_more);
  ck_assert(!edges.has_previous);
}
END_TEST

START_TEST(page_after_a_cursor_has_one_before) {
  struct page_edges edges = walk_over((struct page_walk){.limit = 3, .from_cursor = true}, 2);
  ck_assert_int_eq(edges.first.key, 1);
  ck_assert_int_eq(edges.last.key, 2);
  ck_assert(!edges.has_more);
  ck_assert(edges.has_previous);
}
END_TEST

/* Walked backwards, the first document met is the page's last. */
START_TEST(previous_page_in_the_middle) {
  struct page_edges edges =
      walk_over((struct page_walk){.limit = 3, .from_cursor = true, .backwards = true}, 4);
  ck_assert_int_eq(edges.first.key, 3);
  ck_assert_int_eq(edges.last.key, 1);
  ck_assert(edges.has_more);
  ck_assert(edges.has_previous);
}
END_TEST

START_TEST(previous_page_that_is_the_first) {
  struct page_edges edges =
      walk_over((struct page_walk){.limit = 3, .from_cursor = true, .backwards = true}, 3);
  ck_assert_int_eq(edges.first.key, 3);
  ck_assert(edges.has_more);
  ck_assert(!edges.has_previous);
}
END_TEST

/* A page of one: first and last are the same document, on either walk. */
START_TEST(page_of_one) {
  struct page_edges edges = walk_over((struct page_walk){.limit = 1}, 2);
  ck_assert_str_eq(edges.first.id, "p1");
  ck_assert_str_eq(edges.last.id, "p1");
  ck_assert(edges.has_more);
  edges = walk_over((struct page_walk){.limit = 1, .from_cursor = true, .backwards = true}, 2);
  ck_assert_str_eq(edges.first.id, "p1");
  ck_assert_str_eq(edges.last.id, "p1");
  ck_assert(edges.has_previous);
  ck_assert(edges.has_more);
}
END_TEST

/* Nothing on the other side of the cursor: no link either way. */
START_TEST(empty_pages_link_nowhere) {
  struct page_edges edges = walk_over((struct page_walk){.limit = 3, .from_cursor = true}, 0);
  ck_assert(!edges.has_more);
  ck_assert(!edges.has_previous);
  edges = walk_over((struct page_walk){.limit = 3, .from_cursor = true, .backwards = true}, 0);
  ck_assert(!edges.has_more);
  ck_assert(!edges.has_previous);
}
END_TEST

/* The bound built into `array` equals `expected` (stolen), with the
 * element count moved on by one. */
static void assert_bound(bson_t *array, uint32_t count, bson_t *expected) {
  char *got = bson_as_relaxed_extended_json(array, NULL);
  char *want = bson_as_relaxed_extended_json(expected, NULL);

  ck_assert_uint_eq(count, 1);
  ck_assert_msg(bson_equal(array, expected), "got %s, want %s", got, want);
  bson_free(got);
  bson_free(want);
  bson_destroy(expected);
}

START_TEST(a_bound_going_down_keeps_what_lies_below) {
  bson_t array = BSON_INITIALIZER;
  struct keyset_value key = {.type = BSON_TYPE_DATE_TIME, .number = 1000};
  struct keyset_value tie = {.type = BSON_TYPE_UTF8, .text = "p1"};
  uint32_t count = 0;

  page_walk_append_bound(&array, &count, "date", &key, "id", &tie, false);
  assert_bound(&array, count,
               BCON_NEW("0", "{", "date", "{", "$lte", BCON_DATE_TIME(1000), "}", "$or", "[", "{",
                        "date", "{", "$lt", BCON_DATE_TIME(1000), "}", "}", "{", "id", "{", "$lt",
                        BCON_UTF8("p1"), "}", "}", "]", "}"));
  bson_destroy(&array);
}
END_TEST

START_TEST(a_bound_going_up_keeps_what_lies_above) {
  bson_t array = BSON_INITIALIZER;
  bson_oid_t oid;
  struct keyset_value key = {.type = BSON_TYPE_INT64, .number = 250};
  struct keyset_value tie = {.type = BSON_TYPE_OID, .oid = &oid};
  uint32_t count = 0;

  bson_oid_init_from_string(&oid, "65f0c0ffee0000000000abcd");
  page_walk_append_bound(&array, &count, "price", &key, "_id", &tie, true);
  assert_bound(&array, count,
               BCON_NEW("0", "{", "price", "{", "$gte", BCON_INT64(250), "}", "$or", "[", "{",
                        "price", "{", "$gt", BCON_INT64(250), "}", "}", "{", "_id", "{", "$gt",
                        BCON_OID(&oid), "}", "}", "]", "}"));
  bson_destroy(&array);
}
END_TEST

Suite *suite_page_walk(void) {
  Suite *suite = suite_create("page_walk");
  TCase *edges = tcase_create("edges");

  tcase_add_test(edges, first_page_of_a_longer_list);
  tcase_add_test(edges, only_page);
  tcase_add_test(edges, page_after_a_cursor_has_one_before);
  tcase_add_test(edges, previous_page_in_the_middle);
  tcase_add_test(edges, previous_page_that_is_the_first);
  tcase_add_test(edges, page_of_one);
  tcase_add_test(edges, empty_pages_link_nowhere);
  suite_add_tcase(suite, edges);

  TCase *bounds = tcase_create("bounds");
  tcase_add_test(bounds, a_bound_going_down_keeps_what_lies_below);
  tcase_add_test(bounds, a_bound_going_up_keeps_what_lies_above);
  suite_add_tcase(suite, bounds);
  return suite;
}
