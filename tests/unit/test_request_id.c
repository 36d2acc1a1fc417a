#include <string.h>

#include <check.h>

#include "middleware/request.h"
#include "suites.h"

/* A string of `len` copies of `c`, in a static buffer. */
static const char *repeat(char c, size_t len) {
  static char buf[256];
  ck_assert_uint_lt(len, sizeof(buf));
  memset(buf, c, len);
  buf[len] = '\0';
  return buf;
}

START_TEST(valid_rejects_null_and_empty) {
  ck_assert(!request_id_is_valid(NULL));
  ck_assert(!request_id_is_valid(""));
}
END_TEST

START_TEST(valid_accepts_64_characters) {
  ck_assert(request_id_is_valid(repeat('x', 64)));
}
END_TEST

START_TEST(valid_rejects_65_characters) {
  ck_assert(!request_id_is_valid(repeat('x', 65)));
}
END_TEST

START_TEST(valid_accepts_every_allowed_character) {
  ck_assert(request_id_is_valid("abc-DEF_1.2"));
  ck_assert(request_id_is_valid("azAZ09-_."));
  ck_assert(request_id_is_valid("."));
}
END_TEST

START_TEST(valid_rejects_whitespace_and_control_characters) {
  ck_assert(!request_id_is_valid("a b"));
  ck_assert(!request_id_is_valid("a\nb"));
  ck_assert(!request_id_is_valid("a\rb"));
  ck_assert(!request_id_is_valid("ab\t"));
}
END_TEST

START_TEST(valid_rejects_separators_and_non_ascii) {
  ck_assert(!request_id_is_valid("a/b"));
  ck_assert(!request_id_is_valid("a,b"));
  ck_assert(!request_id_is_valid("a\"b"));
  ck_assert(!request_id_is_valid("a=b"));
  ck_assert(!request_id_is_valid("\xc3\xa9"));
}
END_TEST

START_TEST(generate_gives_32_lowercase_hex_digits) {
  char id[REQUEST_ID_MAX + 1];
  memset(id, 'Z', sizeof(id));
  request_id_generate(id);
  ck_assert_uint_eq(strlen(id), 32);
  for (size_t i = 0; i < 32; i++) {
    ck_assert_msg((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'),
                  "not lowercase hex: %s", id);
  }
}
END_TEST

START_TEST(generated_id_is_valid) {
  char id[REQUEST_ID_MAX + 1];
  request_id_generate(id);
  ck_assert(request_id_is_valid(id));
}
END_TEST

START_TEST(two_generated_ids_differ) {
  char first[REQUEST_ID_MAX + 1];
  char second[REQUEST_ID_MAX + 1];
  request_id_generate(first);
  request_id_generate(second);
  ck_assert_str_ne(first, second);
}
END_TEST

START_TEST(url_encoding_accepts_well_formed_escapes) {
  ck_assert(url_encoding_is_valid("/user/123"));
  ck_assert(url_encoding_is_valid("/user/a%2Fb?q=%e2%82%AC"));
  ck_assert(url_encoding_is_valid("/user/%25%25"));
}
END_TEST

START_TEST(url_encoding_rejects_malformed_escapes) {
  ck_assert(!url_encoding_is_valid(NULL));
  ck_assert(!url_encoding_is_valid("/user/%ZZ"));
  ck_assert(!url_encoding_is_valid("/user/%"));
  ck_assert(!url_encoding_is_valid("/user/%4"));
  ck_assert(!url_encoding_is_valid("/user/%4g"));
  ck_assert(!url_encoding_is_valid("/user/1?q=50%"));
  ck_assert(!url_encoding_is_valid("/user/u1%00x"));
  ck_assert(!url_encoding_is_valid("/user/u1?q=a%00"));
}
END_TEST

START_TEST(trace_id_is_read_from_a_well_formed_traceparent) {
  char out[33];
  ck_assert_str_eq(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", out),
                   "4bf92f3577b34da6a3ce929d0e0e4736");
  const char *bad[] = {
      NULL,
      "",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* unknown version */
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero parent */
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper case */
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* too long */
      "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  /* dash moved */
      "00-4bf92f3577b34da6a3ce929d0e0e47\"6-00f067aa0ba902b7-01", /* a quote */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_msg(trace_id_of(bad[i], out) == NULL, "accepted #%zu", i);
  }
}
END_TEST

/* RFC 9110 section 5.5: a field value excludes its trailing white space,
 * as libmicrohttpd already drops the leading one. A value of white space
 * alone stays a header, empty, and inner white space stays. */
START_TEST(header_values_lose_their_trailing_white_space) {
  static const struct {
    const char *sent;
    const char *read;
  } CASES[] = {
      {"123 ", "123"}, {"123\t", "123"}, {"123 \t \t", "123"},
      {"a b", "a b"},  {"a b ", "a b"},  {" ", ""},
      {"\t \t", ""},   {"", ""},         {"123", "123"},
  };
  struct _u_map headers;

  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    ck_assert_int_eq(u_map_init(&headers), U_OK);
    ck_assert_int_eq(u_map_put(&headers, "x-user-id", CASES[i].sent), U_OK);
    ck_assert_int_eq(u_map_put(&headers, "Host", "x"), U_OK);
    ck_assert(request_headers_trim(&headers));
    ck_assert_msg(u_map_get(&headers, "x-user-id") != NULL, "'%s' made the header absent",
                  CASES[i].sent);
    ck_assert_str_eq(u_map_get(&headers, "x-user-id"), CASES[i].read);
    ck_assert_int_eq(u_map_get_length(&headers, "x-user-id"), (ssize_t)strlen(CASES[i].read) + 1);
    ck_assert_str_eq(u_map_get(&headers, "Host"), "x");
    ck_assert_int_eq(u_map_count(&headers), 2);
    u_map_clean(&headers);
  }
}
END_TEST

Suite *suite_request_id(void) {
  Suite *suite = suite_create("request_id");
  TCase *valid = tcase_create("request_id_is_valid");
  TCase *generate = tcase_create("request_id_generate");

  tcase_add_test(valid, valid_rejects_null_and_empty);
  tcase_add_test(valid, valid_accepts_64_characters);
  tcase_add_test(valid, valid_rejects_65_characters);
  tcase_add_test(valid, valid_accepts_every_allowed_character);
  tcase_add_test(valid, valid_rejects_whitespace_and_control_characters);
  tcase_add_test(valid, valid_rejects_separators_and_non_ascii);
  suite_add_tcase(suite, valid);

  tcase_add_test(generate, generate_gives_32_lowercase_hex_digits);
  tcase_add_test(generate, generated_id_is_valid);
  tcase_add_test(generate, two_generated_ids_differ);
  tcase_add_test(generate, trace_id_is_read_from_a_well_formed_traceparent);
  suite_add_tcase(suite, generate);

  TCase *url = tcase_create("url_encoding_is_valid");
  tcase_add_test(url, url_encoding_accepts_well_formed_escapes);
  tcase_add_test(url, url_encoding_rejects_malformed_escapes);
  tcase_add_test(url, header_values_lose_their_trailing_white_space);
  suite_add_tcase(suite, url);
  return suite;
}
