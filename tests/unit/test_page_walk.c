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
  return suite;
}
