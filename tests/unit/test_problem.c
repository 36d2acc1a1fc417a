#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "middleware/problem.h"
#include "suites.h"

/* The string member `key` of `j_object`, or NULL when absent or not a string. */
static const char *member_string(const json_t *j_object, const char *key) {
  return json_string_value(json_object_get(j_object, key));
}

START_TEST(status_of_each_problem_type) {
  ck_assert_uint_eq(problem_status(PROBLEM_INVALID_REQUEST), 400);
  ck_assert_uint_eq(problem_status(PROBLEM_UNAUTHENTICATED), 401);
  ck_assert_uint_eq(problem_status(PROBLEM_FORBIDDEN), 403);
  ck_assert_uint_eq(problem_status(PROBLEM_NOT_FOUND), 404);
  ck_assert_uint_eq(problem_status(PROBLEM_METHOD_NOT_ALLOWED), 405);
  ck_assert_uint_eq(problem_status(PROBLEM_UNAVAILABLE), 503);
  ck_assert_uint_eq(problem_status(PROBLEM_INTERNAL), 500);
}
END_TEST

START_TEST(build_fills_every_member) {
  json_t *j_problem = problem_build(PROBLEM_FORBIDDEN, "Not yours.", "req-1");
  ck_assert_ptr_nonnull(j_problem);
  ck_assert(json_is_object(j_problem));
  ck_assert_str_eq(member_string(j_problem, "type"), "/problems/forbidden");
  ck_assert_str_eq(member_string(j_problem, "title"), "Access denied");
  ck_assert(json_is_integer(json_object_get(j_problem, "status")));
  ck_assert_int_eq(json_integer_value(json_object_get(j_problem, "status")), 403);
  ck_assert_str_eq(member_string(j_problem, "detail"), "Not yours.");
  ck_assert_str_eq(member_string(j_problem, "requestId"), "req-1");
  ck_assert_uint_eq(json_object_size(j_problem), 5);
  json_decref(j_problem);
}
END_TEST

START_TEST(build_type_uri_and_status_match_each_type) {
  static const struct {
    enum problem_type type;
    const char *uri;
    json_int_t status;
  } CASES[] = {
      {PROBLEM_INVALID_REQUEST, "/problems/invalid-request", 400},
      {PROBLEM_UNAUTHENTICATED, "/problems/unauthenticated", 401},
      {PROBLEM_FORBIDDEN, "/problems/forbidden", 403},
      {PROBLEM_NOT_FOUND, "/problems/not-found", 404},
      {PROBLEM_METHOD_NOT_ALLOWED, "/problems/method-not-allowed", 405},
      {PROBLEM_UNAVAILABLE, "/problems/service-unavailable", 503},
      {PROBLEM_INTERNAL, "/problems/internal-error", 500},
  };
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    json_t *j_problem = problem_build(CASES[i].type, "d", NULL);
    ck_assert_ptr_nonnull(j_problem);
    ck_assert_str_eq(member_string(j_problem, "type"), CASES[i].uri);
    ck_assert_int_eq(json_integer_value(json_object_get(j_problem, "status")), CASES[i].status);
    ck_assert_ptr_nonnull(member_string(j_problem, "title"));
    ck_assert_uint_gt(strlen(member_string(j_problem, "title")), 0);
    json_decref(j_problem);
  }
}
END_TEST

START_TEST(build_without_request_id_omits_it) {
  json_t *j_problem = problem_build(PROBLEM_NOT_FOUND, "Nothing here.", NULL);
  ck_assert_ptr_nonnull(j_problem);
  ck_assert_ptr_null(json_object_get(j_problem, "requestId"));
  ck_assert_uint_eq(json_object_size(j_problem), 4);
  json_decref(j_problem);
}
END_TEST

START_TEST(build_with_empty_request_id_omits_it) {
  json_t *j_problem = problem_build(PROBLEM_NOT_FOUND, "Nothing here.", "");
  ck_assert_ptr_nonnull(j_problem);
  ck_assert_ptr_null(json_object_get(j_problem, "requestId"));
  json_decref(j_problem);
}
END_TEST

START_TEST(build_with_null_detail_uses_title) {
  json_t *j_problem = problem_build(PROBLEM_UNAVAILABLE, NULL, "r");
  ck_assert_ptr_nonnull(j_problem);
  ck_assert_str_eq(member_string(j_problem, "title"), "Service unavailable");
  ck_assert_str_eq(member_string(j_problem, "detail"), "Service unavailable");
  json_decref(j_problem);
}
END_TEST

START_TEST(build_keeps_detail_verbatim) {
  const char *detail = "quote \" backslash \\ and 100% of it";
  json_t *j_problem = problem_build(PROBLEM_INVALID_REQUEST, detail, NULL);
  ck_assert_ptr_nonnull(j_problem);
  ck_assert_str_eq(member_string(j_problem, "detail"), detail);
  json_decref(j_problem);
}
END_TEST

/* --- problem_error_entry ------------------------------------------------ */

START_TEST(entry_about_a_query_parameter) {
  json_t *j_entry = problem_error_entry(PROBLEM_ABOUT_QUERY, "limit", "too big");
  char *text = json_dumps(j_entry, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(text, "{\"detail\":\"too big\",\"in\":\"query\",\"parameter\":\"limit\"}");
  free(text);
  json_decref(j_entry);
}
END_TEST

START_TEST(entry_about_a_path_parameter) {
  json_t *j_entry = problem_error_entry(PROBLEM_ABOUT_PATH, "userId", "bad");
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "in")), "path");
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "parameter")), "userId");
  json_decref(j_entry);
}
END_TEST

START_TEST(entry_about_a_header_has_no_in) {
  json_t *j_entry = problem_error_entry(PROBLEM_ABOUT_HEADER, "If-Match", "bad");
  char *text = json_dumps(j_entry, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(text, "{\"detail\":\"bad\",\"header\":\"If-Match\"}");
  free(text);
  json_decref(j_entry);
}
END_TEST

/* A name is the caller's bytes: shown in printable ASCII, cut at 64. */
START_TEST(entry_name_is_printable_and_bounded) {
  char long_name[100];
  memset(long_name, 'n', sizeof(long_name) - 1);
  long_name[sizeof(long_name) - 1] = '\0';
  json_t *j_entry = problem_error_entry(PROBLEM_ABOUT_QUERY, "a\x01\xc3\xa9z", "d");
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "parameter")), "a???z");
  json_decref(j_entry);
  j_entry = problem_error_entry(PROBLEM_ABOUT_HEADER, long_name, "d");
  ck_assert_uint_eq(strlen(json_string_value(json_object_get(j_entry, "header"))), 64);
  json_decref(j_entry);
}
END_TEST

/* The query string as a whole: where, but no name. */
START_TEST(entry_without_a_name_leaves_it_out) {
  json_t *j_entry = problem_error_entry(PROBLEM_ABOUT_QUERY, "", "empty segment");
  ck_assert_ptr_null(json_object_get(j_entry, "parameter"));
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "in")), "query");
  json_decref(j_entry);
  j_entry = problem_error_entry(PROBLEM_ABOUT_QUERY, NULL, "d");
  ck_assert_ptr_null(json_object_get(j_entry, "parameter"));
  json_decref(j_entry);
}
END_TEST

Suite *suite_problem(void) {
  Suite *suite = suite_create("problem");
  TCase *status = tcase_create("status");
  TCase *build = tcase_create("build");

  tcase_add_test(status, status_of_each_problem_type);
  suite_add_tcase(suite, status);

  tcase_add_test(build, build_fills_every_member);
  tcase_add_test(build, build_type_uri_and_status_match_each_type);
  tcase_add_test(build, build_without_request_id_omits_it);
  tcase_add_test(build, build_with_empty_request_id_omits_it);
  tcase_add_test(build, build_with_null_detail_uses_title);
  tcase_add_test(build, build_keeps_detail_verbatim);
  tcase_add_test(build, entry_about_a_query_parameter);
  tcase_add_test(build, entry_about_a_path_parameter);
  tcase_add_test(build, entry_about_a_header_has_no_in);
  tcase_add_test(build, entry_name_is_printable_and_bounded);
  tcase_add_test(build, entry_without_a_name_leaves_it_out);
  suite_add_tcase(suite, build);
  return suite;
}
