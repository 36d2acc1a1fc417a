#include <string.h>

#include <check.h>

#include "middleware/encoding.h"
#include "routes/etag.h"
#include "routes/purchases.h"
#include "suites.h"

START_TEST(format_then_parse_gives_the_version) {
  const int32_t versions[] = {0, 1, 9, 10, 123456789, INT32_MAX};
  for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
    char etag[ETAG_MAX];
    int32_t parsed = -7;
    etag_format(versions[i], etag);
    ck_assert_msg(etag_parse_if_match(etag, &parsed), "%s", etag);
    ck_assert_int_eq(parsed, versions[i]);
  }
}
END_TEST

START_TEST(star_matches_any_version) {
  int32_t parsed = 5;
  ck_assert(etag_parse_if_match("*", &parsed));
  ck_assert_int_eq(parsed, -1);
}
END_TEST

START_TEST(anything_else_is_refused) {
  const char *bad[] = {"",        "v1",      "\"1\"",           "W/\"v1\"",         "\"v\"",
                       "\"v01\"", "\"v1\" ", " \"v1\"",         "\"v1\", \"v2\"",   "\"v-1\"",
                       "\"v1x\"", "\"V1\"",  "\"v2147483648\"", "\"v99999999999\"", "**"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int32_t parsed = 42;
    ck_assert_msg(!etag_parse_if_match(bad[i], &parsed), "accepted '%s'", bad[i]);
    ck_assert_int_eq(parsed, 42);
  }
  ck_assert(!etag_parse_if_match(NULL, NULL));
}
END_TEST

START_TEST(idempotency_keys_are_visible_ascii_without_commas) {
  char longest[129];
  memset(longest, 'k', 128);
  longest[128] = '\0';
  ck_assert(idempotency_key_is_valid("3f1c2a9e-7d4b-4c1e-9a57-0b2f6d8e4c11"));
  ck_assert(idempotency_key_is_valid("order:1234/attempt#1"));
  ck_assert(idempotency_key_is_valid(longest));
  longest[127] = '\0';
  ck_assert(idempotency_key_is_valid(longest));
  ck_assert(!idempotency_key_is_valid(""));
  ck_assert(!idempotency_key_is_valid("a b"));
  ck_assert(!idempotency_key_is_valid("k1, k2"));
  ck_assert(!idempotency_key_is_valid("k\t1"));
  ck_assert(!idempotency_key_is_valid("caf\xc3\xa9"));
  char too_long[130];
  memset(too_long, 'k', 129);
  too_long[129] = '\0';
  ck_assert(!idempotency_key_is_valid(too_long));
}
END_TEST

START_TEST(if_none_match_compares_weakly_and_refuses_what_is_not_a_list) {
  const char *tag = "\"l0123\"";
  const struct {
    const char *value;
    enum etag_condition expected;
  } CASES[] = {
      {"\"l0123\"", ETAG_MATCH},
      {"W/\"l0123\"", ETAG_MATCH},
      {"\"x\", \"l0123\"", ETAG_MATCH},
      {"\"x\",\"l0123\"", ETAG_MATCH},
      {" \"x\" ,, W/\"l0123\" ", ETAG_MATCH}, /* empty list elements are allowed */
      {"*", ETAG_MATCH},
      {"  *  ", ETAG_MATCH},
      {"\"l0124\"", ETAG_NO_MATCH},
      {"\"L0123\"", ETAG_NO_MATCH},
      {"\"\"", ETAG_NO_MATCH},
      {"W/\"v1\"", ETAG_NO_MATCH},
      {"", ETAG_NO_MATCH}, /* a list may be empty: it names no tag */
      {",", ETAG_NO_MATCH},
      {" , ,", ETAG_NO_MATCH},
      {"l0123", ETAG_MALFORMED},
      {"\"l0123", ETAG_MALFORMED},
      {"\"l01 23\"", ETAG_MALFORMED},
      {"\"l0123\"x", ETAG_MALFORMED},
      {"\"a\" \"b\"", ETAG_MALFORMED},
      {"w/\"l0123\"", ETAG_MALFORMED},
      {"*, \"l0123\"", ETAG_MALFORMED},
      {"**", ETAG_MALFORMED},
      {"\"a\"b\"", ETAG_MALFORMED},
  };
  ck_assert_int_eq(etag_if_none_match(NULL, tag), ETAG_ABSENT);
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    ck_assert_msg(etag_if_none_match(CASES[i].value, tag) == CASES[i].expected, "'%s' gave %d",
                  CASES[i].value, (int)etag_if_none_match(CASES[i].value, tag));
  }
}
END_TEST

START_TEST(a_list_tag_is_the_same_for_the_same_bytes_only) {
  char one[LIST_ETAG_MAX];
  char two[LIST_ETAG_MAX];
  char three[LIST_ETAG_MAX];
  ck_assert(etag_of_body("{\"data\":[]}", 11, one));
  ck_assert(etag_of_body("{\"data\":[]}", 11, two));
  ck_assert(etag_of_body("{\"data\":[1]}", 12, three));
  ck_assert_str_eq(one, two);
  ck_assert_str_ne(one, three);
  ck_assert_uint_eq(strlen(one), 35);
  ck_assert_int_eq(one[0], '"');
  ck_assert_int_eq(one[1], 'l');
  ck_assert_int_eq(etag_if_none_match(one, one), ETAG_MATCH);
}
END_TEST

START_TEST(the_gzip_variant_of_a_tag_names_the_same_representation) {
  char variant[64];
  int32_t version = -7;
  ck_assert(encoding_etag_variant("\"v3\"", variant, sizeof(variant)));
  ck_assert_str_eq(variant, "\"v3-gz\"");
  ck_assert(!encoding_etag_variant("v3", variant, sizeof(variant)));
  ck_assert(!encoding_etag_variant("\"v3\"", variant, 6));
  ck_assert_int_eq(etag_if_none_match("\"v3-gz\"", "\"v3\""), ETAG_MATCH);
  ck_assert_int_eq(etag_if_none_match("W/\"v3-gz\"", "\"v3\""), ETAG_MATCH);
  ck_assert_int_eq(etag_if_none_match("\"v3-gz-gz\"", "\"v3\""), ETAG_NO_MATCH);
  ck_assert_int_eq(etag_if_none_match("\"v3-g\"", "\"v3\""), ETAG_NO_MATCH);
  ck_assert_int_eq(etag_if_none_match("\"v33\"", "\"v3\""), ETAG_NO_MATCH);
  ck_assert(etag_parse_if_match("\"v3-gz\"", &version));
  ck_assert_int_eq(version, 3);
  ck_assert(!etag_parse_if_match("\"v3-gz-gz\"", &version));
  ck_assert(!etag_parse_if_match("\"-gz\"", &version));
  ck_assert(!etag_parse_if_match("*-gz\"", &version));
}
END_TEST

Suite *suite_etag(void) {
  Suite *suite = suite_create("etag");
  TCase *tc = tcase_create("etag");
  tcase_add_test(tc, format_then_parse_gives_the_version);
  tcase_add_test(tc, star_matches_any_version);
  tcase_add_test(tc, anything_else_is_refused);
  tcase_add_test(tc, idempotency_keys_are_visible_ascii_without_commas);
  tcase_add_test(tc, if_none_match_compares_weakly_and_refuses_what_is_not_a_list);
  tcase_add_test(tc, a_list_tag_is_the_same_for_the_same_bytes_only);
  tcase_add_test(tc, the_gzip_variant_of_a_tag_names_the_same_representation);
  suite_add_tcase(suite, tc);
  return suite;
}
