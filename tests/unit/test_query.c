#include <stdio.h>
#include <string.h>

#include <check.h>

#include "middleware/query.h"
#include "suites.h"

/* The parameters and the reason of the last parse, shared by the helpers. */
static struct query_params params;
static struct query_error error;

/* Parses `raw`, expecting success. */
static void parse_ok(const char *raw) {
  ck_assert_msg(query_params_parse(raw, &params, &error), "refused %s: %s", raw, error.detail);
}

/* Parses `raw`, expecting a refusal whose reason holds `fragment` (which
 * may be NULL when the reason need not name anything). */
static void parse_refused(const char *raw, const char *fragment) {
  ck_assert_msg(!query_params_parse(raw, &params, &error), "accepted %s", raw);
  ck_assert_msg(error.detail[0] != '\0', "no reason for %s", raw);
  if (fragment != NULL) {
    ck_assert_msg(strstr(error.detail, fragment) != NULL, "reason for %s lacks %s: %s", raw,
                  fragment, error.detail);
  }
}

/* Parses `raw`, expecting a refusal about parameter `name` ("" for the
 * query string as a whole). */
static void parse_refused_about(const char *raw, const char *name) {
  ck_assert_msg(!query_params_parse(raw, &params, &error), "accepted %s", raw);
  ck_assert_msg(strcmp(error.name, name) == 0, "%s: about '%s', not '%s'", raw, error.name, name);
}

START_TEST(parse_names_the_parameter_refused) {
  parse_refused_about("limit=5&limit=6", "limit");
  parse_refused_about("a=1&q=%ZZ", "q");
  parse_refused_about("q=%00", "q");
  parse_refused_about("sort=", "sort");
  parse_refused_about("sort", "sort");
  parse_refused_about("q=%01", "q");
  /* Not a name that reads as text, or no name at all: none. */
  parse_refused_about("%ZZ=1", "");
  parse_refused_about("%FF=1", "");
  parse_refused_about("&limit=1", "");
  parse_refused_about("=1", "");
  parse_refused_about("a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1", "");
}
END_TEST

/* A string of `len` copies of `c`, in a static buffer. */
static const char *repeat(char c, size_t len) {
  static char buf[2048];
  ck_assert_uint_lt(len, sizeof(buf));
  memset(buf, c, len);
  buf[len] = '\0';
  return buf;
}

/* --- query_params_parse: what it accepts ------------------------------ */

START_TEST(parse_null_and_empty_give_no_parameters) {
  params.count = 99;
  parse_ok(NULL);
  ck_assert_uint_eq(params.count, 0);
  params.count = 99;
  parse_ok("");
  ck_assert_uint_eq(params.count, 0);
}
END_TEST

START_TEST(parse_splits_on_ampersand) {
  parse_ok("limit=5&sort=-pricePence&q=kettle");
  ck_assert_uint_eq(params.count, 3);
  ck_assert_str_eq(params.params[0].name, "limit");
  ck_assert_str_eq(params.params[0].value, "5");
  ck_assert_str_eq(params.params[1].name, "sort");
  ck_assert_str_eq(params.params[1].value, "-pricePence");
  ck_assert_str_eq(params.params[2].name, "q");
  ck_assert_str_eq(params.params[2].value, "kettle");
}
END_TEST

START_TEST(parse_splits_on_the_first_equals_sign) {
  parse_ok("q=a=b=c");
  ck_assert_uint_eq(params.count, 1);
  ck_assert_str_eq(params.params[0].name, "q");
  ck_assert_str_eq(params.params[0].value, "a=b=c");
}
END_TEST

START_TEST(parse_decodes_escapes) {
  parse_ok("q=%41%62%2f%2B%26%3D");
  ck_assert_str_eq(params.params[0].value, "Ab/+&=");
}
END_TEST

START_TEST(parse_decodes_only_once) {
  parse_ok("q=%2541&r=%252B");
  ck_assert_str_eq(params.params[0].value, "%41");
  ck_assert_str_eq(params.params[1].value, "%2B");
}
END_TEST

START_TEST(parse_decodes_plus_as_space) {
  parse_ok("q=blue+kettle+&r=a%2Bb");
  ck_assert_str_eq(params.params[0].value, "blue kettle ");
  ck_assert_str_eq(params.params[1].value, "a+b");
}
END_TEST

START_TEST(parse_decodes_names_too) {
  parse_ok("li%6Dit=5&a+b=1");
  ck_assert_uint_eq(params.count, 2);
  ck_assert_str_eq(params.params[0].name, "limit");
  ck_assert_str_eq(params.params[1].name, "a b");
}
END_TEST

START_TEST(parse_decodes_multibyte_utf8) {
  parse_ok("q=%C3%A9t%C3%A9&r=%E2%82%AC&s=%F0%9F%98%80&t=caf\xc3\xa9");
  ck_assert_str_eq(params.params[0].value, "\xc3\xa9t\xc3\xa9");
  ck_assert_str_eq(params.params[1].value, "\xe2\x82\xac");
  ck_assert_str_eq(params.params[2].value, "\xf0\x9f\x98\x80");
  ck_assert_str_eq(params.params[3].value, "caf\xc3\xa9");
}
END_TEST

START_TEST(parse_accepts_the_most_parameters) {
  char raw[512];
  size_t n = 0;
  for (int i = 0; i < QUERY_PARAMS_MAX; i++) {
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%sp%d=%d", i == 0 ? "" : "&", i, i);
  }
  parse_ok(raw);
  ck_assert_uint_eq(params.count, QUERY_PARAMS_MAX);
  ck_assert_str_eq(params.params[15].name, "p15");
  ck_assert_str_eq(params.params[15].value, "15");
}
END_TEST

START_TEST(parse_accepts_the_longest_name) {
  char raw[128];
  snprintf(raw, sizeof(raw), "%s=1", repeat('n', QUERY_NAME_MAX));
  parse_ok(raw);
  ck_assert_uint_eq(strlen(params.params[0].name), QUERY_NAME_MAX);
}
END_TEST

START_TEST(parse_accepts_the_longest_value) {
  char raw[QUERY_VALUE_MAX + 8];
  snprintf(raw, sizeof(raw), "q=%s", repeat('v', QUERY_VALUE_MAX));
  parse_ok(raw);
  ck_assert_uint_eq(strlen(params.params[0].value), QUERY_VALUE_MAX);
}
END_TEST

START_TEST(parse_counts_the_value_length_after_decoding) {
  char raw[3 * QUERY_VALUE_MAX + 8];
  size_t n = (size_t)snprintf(raw, sizeof(raw), "q=");
  for (int i = 0; i < QUERY_VALUE_MAX; i++) {
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%%41");
  }
  parse_ok(raw);
  ck_assert_str_eq(params.params[0].value, repeat('A', QUERY_VALUE_MAX));
}
END_TEST

/* --- query_params_parse: what it refuses ------------------------------ */

START_TEST(parse_refuses_empty_segments) {
  parse_refused("a=1&&b=2", NULL);
  parse_refused("&a=1", NULL);
  parse_refused("a=1&", NULL);
  parse_refused("&", NULL);
  parse_refused("&&", NULL);
}
END_TEST

START_TEST(parse_refuses_a_value_without_a_name) {
  parse_refused("=1", NULL);
  parse_refused("a=1&=2", NULL);
  parse_refused("=", NULL);
}
END_TEST

START_TEST(parse_refuses_a_missing_value) {
  parse_refused("limit", "'limit'");
  parse_refused("a=1&withTotal", "'withTotal'");
}
END_TEST

START_TEST(parse_refuses_an_empty_value) {
  parse_refused("limit=", "'limit'");
  parse_refused("limit=&a=1", "'limit'");
}
END_TEST

START_TEST(parse_refuses_a_repeated_name) {
  parse_refused("limit=1&limit=2", "'limit'");
  parse_refused("status=paid&q=x&status=paid", "'status'");
  /* The same name once decoded. */
  parse_refused("limit=1&li%6Dit=2", "'limit'");
}
END_TEST

START_TEST(parse_refuses_malformed_escapes) {
  parse_refused("q=%ZZ", "'q'");
  parse_refused("q=50%", "'q'");
  parse_refused("q=%4", "'q'");
  parse_refused("q=%4g", "'q'");
  parse_refused("q=%g4", "'q'");
  parse_refused("q=%%41", "'q'");
  parse_refused("q=%&r=1", "'q'");
  parse_refused("q=a%4&r=1", "'q'");
}
END_TEST

START_TEST(parse_refuses_a_malformed_escape_in_a_name) {
  parse_refused("li%ZZmit=5", NULL);
  parse_refused("limit%=5", NULL);
  parse_refused("%00=5", NULL);
}
END_TEST

START_TEST(parse_refuses_an_encoded_nul) {
  parse_refused("q=a%00b", "'q'");
  parse_refused("q=%00", "'q'");
}
END_TEST

START_TEST(parse_refuses_invalid_utf8) {
  parse_refused("q=%C0%AF", "'q'");       /* overlong '/' */
  parse_refused("q=%E0%80%AF", "'q'");    /* overlong '/', three bytes */
  parse_refused("q=%ED%A0%80", "'q'");    /* surrogate U+D800 */
  parse_refused("q=%ED%BF%BF", "'q'");    /* surrogate U+DFFF */
  parse_refused("q=%F4%90%80%80", "'q'"); /* U+110000 */
  parse_refused("q=%80", "'q'");          /* lone continuation byte */
  parse_refused("q=a%BFb", "'q'");        /* lone continuation byte */
  parse_refused("q=%C3", "'q'");          /* truncated sequence */
  parse_refused("q=%E2%82", "'q'");       /* truncated sequence */
  parse_refused("q=%FF", "'q'");          /* never in UTF-8 */
  parse_refused("q=caf\xc3", "'q'");      /* raw, not escaped */
  parse_refused("q=\xed\xa0\x80", "'q'"); /* raw surrogate */
}
END_TEST

START_TEST(parse_refuses_invalid_utf8_in_a_name) {
  parse_refused("%C0%AF=1", NULL);
  parse_refused("%80=1", NULL);
}
END_TEST

START_TEST(parse_refuses_control_characters) {
  parse_refused("q=%01", "'q'");
  parse_refused("q=a%09b", "'q'");
  parse_refused("q=a%0Ab", "'q'");
  parse_refused("q=a%0Db", "'q'");
  parse_refused("q=%1F", "'q'");
  parse_refused("q=%7F", "'q'");    /* DEL */
  parse_refused("q=%C2%80", "'q'"); /* C1, first */
  parse_refused("q=%C2%85", "'q'"); /* C1, next line */
  parse_refused("q=%C2%9F", "'q'"); /* C1, last */
  parse_refused("q=a\tb", "'q'");   /* raw tab */
  parse_refused("q=a\x7f", "'q'");  /* raw DEL */
}
END_TEST

START_TEST(parse_accepts_the_characters_next_to_controls) {
  parse_ok("q=%20%7E%C2%A0");
  ck_assert_str_eq(params.params[0].value, " ~\xc2\xa0");
}
END_TEST

START_TEST(parse_refuses_too_many_parameters) {
  char raw[512];
  size_t n = 0;
  for (int i = 0; i <= QUERY_PARAMS_MAX; i++) {
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%sp%d=%d", i == 0 ? "" : "&", i, i);
  }
  parse_refused(raw, "16");
}
END_TEST

START_TEST(parse_refuses_a_name_too_long) {
  char raw[128];
  char name[QUERY_NAME_MAX + 1];
  snprintf(name, sizeof(name), "%s", repeat('n', QUERY_NAME_MAX));
  snprintf(raw, sizeof(raw), "%s=1", repeat('n', QUERY_NAME_MAX + 1));
  parse_refused(raw, name);
}
END_TEST

START_TEST(parse_refuses_a_value_too_long) {
  char raw[QUERY_VALUE_MAX + 8];
  snprintf(raw, sizeof(raw), "q=%s", repeat('v', QUERY_VALUE_MAX + 1));
  parse_refused(raw, "'q'");
}
END_TEST

START_TEST(parse_refuses_a_value_too_long_once_decoded) {
  char raw[3 * QUERY_VALUE_MAX + 16];
  size_t n = (size_t)snprintf(raw, sizeof(raw), "q=");
  for (int i = 0; i <= QUERY_VALUE_MAX; i++) {
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%%41");
  }
  parse_refused(raw, "'q'");
}
END_TEST

START_TEST(parse_refusal_names_the_bad_parameter_not_another) {
  parse_refused("limit=5&sort=%ZZ", "'sort'");
  ck_assert_ptr_null(strstr(error.detail, "'limit'"));
}
END_TEST

/* --- query_params_get -------------------------------------------------- */

START_TEST(get_returns_the_value_of_a_name) {
  parse_ok("limit=5&sort=-pricePence");
  ck_assert_str_eq(query_params_get(&params, "limit"), "5");
  ck_assert_str_eq(query_params_get(&params, "sort"), "-pricePence");
  ck_assert_ptr_eq(query_params_get(&params, "sort"), params.params[1].value);
}
END_TEST

START_TEST(get_returns_null_for_an_absent_name) {
  parse_ok("limit=5");
  ck_assert_ptr_null(query_params_get(&params, "sort"));
  ck_assert_ptr_null(query_params_get(&params, "lim"));
  ck_assert_ptr_null(query_params_get(&params, "limits"));
  ck_assert_ptr_null(query_params_get(&params, "Limit"));
  ck_assert_ptr_null(query_params_get(&params, "5"));
}
END_TEST

START_TEST(get_on_no_parameters_returns_null) {
  parse_ok(NULL);
  ck_assert_ptr_null(query_params_get(&params, "limit"));
}
END_TEST

/* --- query_string_of --------------------------------------------------- */

START_TEST(query_string_is_after_the_question_mark) {
  const char *url = "/user/alice?limit=5&q=x";
  ck_assert_ptr_eq(query_string_of(url), url + 12);
  ck_assert_str_eq(query_string_of(url), "limit=5&q=x");
}
END_TEST

START_TEST(query_string_is_after_the_first_question_mark) {
  ck_assert_str_eq(query_string_of("/user/a?q=b?c"), "q=b?c");
}
END_TEST

START_TEST(query_string_empty_after_a_bare_question_mark) {
  ck_assert_str_eq(query_string_of("/user/alice?"), "");
}
END_TEST

START_TEST(query_string_null_without_question_mark) {
  ck_assert_ptr_null(query_string_of("/user/alice"));
  ck_assert_ptr_null(query_string_of(""));
  ck_assert_ptr_null(query_string_of(NULL));
}
END_TEST

/* --- text_is_clean_utf8 ------------------------------------------------ */

START_TEST(clean_accepts_ascii_and_empty) {
  ck_assert(text_is_clean_utf8(""));
  ck_assert(text_is_clean_utf8("Blue kettle, 2L ~ 50% off!"));
}
END_TEST

START_TEST(clean_accepts_multibyte_characters) {
  ck_assert(text_is_clean_utf8("\xc3\xa9"));         /* é */
  ck_assert(text_is_clean_utf8("\xe2\x82\xac"));     /* € */
  ck_assert(text_is_clean_utf8("\xf0\x9f\x98\x80")); /* 😀 */
  ck_assert(text_is_clean_utf8("caf\xc3\xa9 \xe2\x82\xac"
                               "5"));                /* mixed */
  ck_assert(text_is_clean_utf8("\xc2\xa0"));         /* U+00A0 */
  ck_assert(text_is_clean_utf8("\xdf\xbf"));         /* U+07FF */
  ck_assert(text_is_clean_utf8("\xe0\xa0\x80"));     /* U+0800 */
  ck_assert(text_is_clean_utf8("\xed\x9f\xbf"));     /* U+D7FF */
  ck_assert(text_is_clean_utf8("\xee\x80\x80"));     /* U+E000 */
  ck_assert(text_is_clean_utf8("\xef\xbf\xbd"));     /* U+FFFD */
  ck_assert(text_is_clean_utf8("\xf0\x90\x80\x80")); /* U+10000 */
  ck_assert(text_is_clean_utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
}
END_TEST

START_TEST(clean_refuses_overlong_forms) {
  ck_assert(!text_is_clean_utf8("\xc0\xaf"));
  ck_assert(!text_is_clean_utf8("\xc1\xbf"));
  ck_assert(!text_is_clean_utf8("\xe0\x80\xaf"));
  ck_assert(!text_is_clean_utf8("\xe0\x9f\xbf"));
  ck_assert(!text_is_clean_utf8("\xf0\x80\x80\xaf"));
  ck_assert(!text_is_clean_utf8("\xf0\x8f\xbf\xbf"));
}
END_TEST

START_TEST(clean_refuses_surrogates) {
  ck_assert(!text_is_clean_utf8("\xed\xa0\x80"));
  ck_assert(!text_is_clean_utf8("\xed\xaf\xbf"));
  ck_assert(!text_is_clean_utf8("\xed\xb0\x80"));
  ck_assert(!text_is_clean_utf8("\xed\xbf\xbf"));
}
END_TEST

START_TEST(clean_refuses_beyond_unicode) {
  ck_assert(!text_is_clean_utf8("\xf4\x90\x80\x80"));
  ck_assert(!text_is_clean_utf8("\xf7\xbf\xbf\xbf"));
  ck_assert(!text_is_clean_utf8("\xf8\x88\x80\x80\x80"));
  ck_assert(!text_is_clean_utf8("\xfe"));
  ck_assert(!text_is_clean_utf8("\xff"));
}
END_TEST

START_TEST(clean_refuses_lone_and_missing_continuation_bytes) {
  ck_assert(!text_is_clean_utf8("\x80"));
  ck_assert(!text_is_clean_utf8("a\xbf"));
  ck_assert(!text_is_clean_utf8("\xc3\xa9\xa9"));
  ck_assert(!text_is_clean_utf8("\xc3"));
  ck_assert(!text_is_clean_utf8("\xc3x"));
  ck_assert(!text_is_clean_utf8("\xe2\x82"));
  ck_assert(!text_is_clean_utf8("\xf0\x9f\x98"));
}
END_TEST

START_TEST(clean_refuses_c0_controls_and_del) {
  char text[4] = {'a', 0, 'b', 0};
  for (int c = 1; c < 0x20; c++) {
    text[1] = (char)c;
    ck_assert_msg(!text_is_clean_utf8(text), "accepted 0x%02x", c);
  }
  ck_assert(!text_is_clean_utf8("\x7f"));
  ck_assert(text_is_clean_utf8(" "));
}
END_TEST

START_TEST(clean_refuses_c1_controls) {
  char text[3] = {(char)0xc2, 0, 0};
  for (int c = 0x80; c <= 0x9f; c++) {
    text[1] = (char)c;
    ck_assert_msg(!text_is_clean_utf8(text), "accepted U+%04X", c);
  }
}
END_TEST

Suite *suite_query(void) {
  Suite *suite = suite_create("query");
  TCase *accepts = tcase_create("query_params_parse accepts");
  TCase *refuses = tcase_create("query_params_parse refuses");
  TCase *get = tcase_create("query_params_get");
  TCase *string = tcase_create("query_string_of");
  TCase *clean = tcase_create("text_is_clean_utf8");

  tcase_add_test(accepts, parse_null_and_empty_give_no_parameters);
  tcase_add_test(accepts, parse_splits_on_ampersand);
  tcase_add_test(accepts, parse_splits_on_the_first_equals_sign);
  tcase_add_test(accepts, parse_decodes_escapes);
  tcase_add_test(accepts, parse_decodes_only_once);
  tcase_add_test(accepts, parse_decodes_plus_as_space);
  tcase_add_test(accepts, parse_decodes_names_too);
  tcase_add_test(accepts, parse_decodes_multibyte_utf8);
  tcase_add_test(accepts, parse_accepts_the_most_parameters);
  tcase_add_test(accepts, parse_accepts_the_longest_name);
  tcase_add_test(accepts, parse_accepts_the_longest_value);
  tcase_add_test(accepts, parse_counts_the_value_length_after_decoding);
  tcase_add_test(accepts, parse_accepts_the_characters_next_to_controls);
  suite_add_tcase(suite, accepts);

  tcase_add_test(refuses, parse_refuses_empty_segments);
  tcase_add_test(refuses, parse_names_the_parameter_refused);
  tcase_add_test(refuses, parse_refuses_a_value_without_a_name);
  tcase_add_test(refuses, parse_refuses_a_missing_value);
  tcase_add_test(refuses, parse_refuses_an_empty_value);
  tcase_add_test(refuses, parse_refuses_a_repeated_name);
  tcase_add_test(refuses, parse_refuses_malformed_escapes);
  tcase_add_test(refuses, parse_refuses_a_malformed_escape_in_a_name);
  tcase_add_test(refuses, parse_refuses_an_encoded_nul);
  tcase_add_test(refuses, parse_refuses_invalid_utf8);
  tcase_add_test(refuses, parse_refuses_invalid_utf8_in_a_name);
  tcase_add_test(refuses, parse_refuses_control_characters);
  tcase_add_test(refuses, parse_refuses_too_many_parameters);
  tcase_add_test(refuses, parse_refuses_a_name_too_long);
  tcase_add_test(refuses, parse_refuses_a_value_too_long);
  tcase_add_test(refuses, parse_refuses_a_value_too_long_once_decoded);
  tcase_add_test(refuses, parse_refusal_names_the_bad_parameter_not_another);
  suite_add_tcase(suite, refuses);

  tcase_add_test(get, get_returns_the_value_of_a_name);
  tcase_add_test(get, get_returns_null_for_an_absent_name);
  tcase_add_test(get, get_on_no_parameters_returns_null);
  suite_add_tcase(suite, get);

  tcase_add_test(string, query_string_is_after_the_question_mark);
  tcase_add_test(string, query_string_is_after_the_first_question_mark);
  tcase_add_test(string, query_string_empty_after_a_bare_question_mark);
  tcase_add_test(string, query_string_null_without_question_mark);
  suite_add_tcase(suite, string);

  tcase_add_test(clean, clean_accepts_ascii_and_empty);
  tcase_add_test(clean, clean_accepts_multibyte_characters);
  tcase_add_test(clean, clean_refuses_overlong_forms);
  tcase_add_test(clean, clean_refuses_surrogates);
  tcase_add_test(clean, clean_refuses_beyond_unicode);
  tcase_add_test(clean, clean_refuses_lone_and_missing_continuation_bytes);
  tcase_add_test(clean, clean_refuses_c0_controls_and_del);
  tcase_add_test(clean, clean_refuses_c1_controls);
  suite_add_tcase(suite, clean);
  return suite;
}
