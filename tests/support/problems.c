#include "problems.h"

#include <string.h>

#include <check.h>

void assert_problem(const struct http_response *r, long status, const char *what) {
  char type[64] = "";

  ck_assert_msg(r->status == status, "%s: answered %ld, not %ld: %s", what, r->status, status,
                r->body);
  http_header(r, "Content-Type", type, sizeof(type));
  ck_assert_msg(strcmp(type, "application/problem+json") == 0, "%s: Content-Type %s", what, type);
  ck_assert_ptr_nonnull(r->j_body);
  ck_assert_int_eq(json_integer_value(json_object_get(r->j_body, "status")), status);
}

void assert_invalid_about(const struct http_response *r, const char *in, const char *name) {
  char type[64] = "";
  json_t *j_errors;
  json_t *j_entry;

  ck_assert_msg(r->status == 400, "answered %ld, not 400: %s", r->status, r->body);
  ck_assert_str_eq(http_header(r, "Content-Type", type, sizeof(type)), "application/problem+json");
  j_errors = json_object_get(r->j_body, "errors");
  ck_assert_msg(json_array_size(j_errors) == 1, "errors of %s", r->body);
  j_entry = json_array_get(j_errors, 0);
  if (in != NULL) {
    ck_assert_msg(json_is_string(json_object_get(j_entry, "parameter")) &&
                      strcmp(json_string_value(json_object_get(j_entry, "parameter")), name) == 0,
                  "errors[0] is not about parameter %s: %s", name, r->body);
    ck_assert_str_eq(json_string_value(json_object_get(j_entry, "in")), in);
    ck_assert_ptr_null(json_object_get(j_entry, "header"));
  } else {
    ck_assert_msg(json_is_string(json_object_get(j_entry, "header")) &&
                      strcasecmp(json_string_value(json_object_get(j_entry, "header")), name) == 0,
                  "errors[0] is not about header %s: %s", name, r->body);
    ck_assert_ptr_null(json_object_get(j_entry, "parameter"));
  }
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "detail")),
                   json_string_value(json_object_get(r->j_body, "detail")));
}
