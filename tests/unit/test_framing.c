/* The head's bytes against the pieces a parser returned
 * (middleware/framing.c): what the edge refuses before any link runs. */
#include <stdbool.h>
#include <string.h>

#include <check.h>

#include "middleware/framing.h"
#include "suites.h"

/* A head parsed in place as libmicrohttpd does: the colon and the line
 * ends written over with NUL, the pieces pointing into it. */
struct parsed {
  char head[128];
  size_t size;
  struct framing_piece pieces[8];
  size_t count;
};

/* "GET /a HTTP/1.1\r\nX-A: one\r\nX-B:two\r\n\r\n", parsed. */
static void parse(struct parsed *p) {
  static const char TEXT[] = "GET /a HTTP/1.1\r\nX-A: one\r\nX-B:two\r\n\r\n";
  memcpy(p->head, TEXT, sizeof(TEXT));
  p->size = sizeof(TEXT) - 1;
  p->head[3] = p->head[6] = p->head[15] = p->head[20] = p->head[25] = p->head[30] = '\0';
  p->pieces[0] = (struct framing_piece){p->head, 3};      /* GET */
  p->pieces[1] = (struct framing_piece){p->head + 4, 2};  /* /a */
  p->pieces[2] = (struct framing_piece){p->head + 7, 8};  /* HTTP/1.1 */
  p->pieces[3] = (struct framing_piece){p->head + 17, 3}; /* X-A */
  p->pieces[4] = (struct framing_piece){p->head + 22, 3}; /* one */
  p->pieces[5] = (struct framing_piece){p->head + 27, 3}; /* X-B */
  p->pieces[6] = (struct framing_piece){p->head + 31, 3}; /* two */
  p->count = 7;
}

START_TEST(a_head_the_pieces_account_for_is_whole) {
  struct parsed p;
  parse(&p);
  ck_assert_int_eq(framing_head_bytes(p.head, p.size, p.pieces, p.count), FRAMING_BYTES_WHOLE);
}
END_TEST

START_TEST(a_nul_inside_a_value_hides_what_follows_it) {
  struct parsed p;
  parse(&p);
  p.pieces[4].len = 1; /* "one" read as "o": a NUL after it */
  p.head[23] = '\0';
  ck_assert_int_eq(framing_head_bytes(p.head, p.size, p.pieces, p.count), FRAMING_BYTES_HIDDEN);
}
END_TEST

/* libmicrohttpd 0.9.75 reads "X-A: one\r\n more" as a header "X-Amore",
 * built in a block of its own: the name no longer lies in the head. */
START_TEST(a_name_built_outside_the_head_is_a_folded_line) {
  struct parsed p;
  static const char REBUILT[] = "X-Amore";
  parse(&p);
  p.pieces[3] = (struct framing_piece){REBUILT, sizeof(REBUILT) - 1};
  ck_assert_int_eq(framing_head_bytes(p.head, p.size, p.pieces, p.count), FRAMING_BYTES_REBUILT);
  /* Out of order is the same: a piece cannot come before the one it follows. */
  parse(&p);
  p.pieces[5] = p.pieces[3];
  ck_assert_int_eq(framing_head_bytes(p.head, p.size, p.pieces, p.count), FRAMING_BYTES_REBUILT);
}
END_TEST

START_TEST(a_parser_that_copies_says_nothing) {
  struct parsed p;
  static const char COPY[] = "GET";
  parse(&p);
  p.pieces[0] = (struct framing_piece){COPY, 3};
  ck_assert_int_eq(framing_head_bytes(p.head, p.size, p.pieces, p.count), FRAMING_BYTES_UNKNOWN);
}
END_TEST

/* RFC 9112 section 3.2: a Host with an invalid value is a 400, like a
 * missing or repeated one. */
START_TEST(host_is_a_host_and_a_port) {
  static const struct {
    const char *value;
    bool valid;
  } CASES[] = {
      {"shop.example", true},
      {"shop.example:8080", true},
      {"127.0.0.1:8080", true},
      {"[::1]:8080", true},
      {"[::1]", true},
      {"", true},
      {"xn--bcher-kva.example", true},
      {"sh%6Fp.example", true},
      {"shop.example:", true},
      {"a b", false},
      {"a/b", false},
      {"a@b", false},
      {"shop.example:80a", false},
      {"[::1", false},
      {"[]", false},
      {"[::1]x", false},
      {"sh%6p.example", false},
      {"a:1:2", false},
  };
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    struct framing_header host = {"Host", 4, CASES[i].value, strlen(CASES[i].value)};
    struct framing_verdict verdict;
    framing_check(&(struct framing_head){.method = "GET",
                                         .version = "HTTP/1.1",
                                         .url = "/healthz",
                                         .headers = &host,
                                         .header_count = 1},
                  &verdict);
    ck_assert_msg(verdict.refuse == !CASES[i].valid, "Host '%s': refused %d", CASES[i].value,
                  verdict.refuse);
    if (verdict.refuse) {
      ck_assert_int_eq(verdict.type, PROBLEM_INVALID_REQUEST);
      ck_assert_ptr_nonnull(strstr(verdict.detail, "Host"));
    }
  }
}
END_TEST

/* RFC 9112 section 3.2: a target is a path from "/", an absolute URI, or
 * "*" for OPTIONS; anything else is a 400, however Ulfius would route it.
 * A space (libmicrohttpd hands the target over %-decoded) is refused as
 * what it is. */
START_TEST(the_target_is_one_of_its_forms) {
  static const struct {
    const char *method;
    const char *url;
    const char *refused_for; /* NULL: accepted */
  } CASES[] = {
      {"GET", "/user/2", NULL},
      {"GET", "/", NULL},
      {"GET", "http://shop.example/user/2", NULL},
      {"GET", "HTTPS://shop.example", NULL},
      {"OPTIONS", "*", NULL},
      {"GET", "user/2", "must be a path"},
      {"GET", "*", "must be a path"},
      {"GET", "?limit=1", "must be a path"},
      {"GET", "ftp://shop.example/user/2", "must be a path"},
      {"GET", "shop.example:443", "must be a path"},
      {"GET", "/user/2 ", "a space or a control byte"},
      {"GET", "/user/\x7f", "a space or a control byte"},
      /* The authority of an absolute-form target: host[:port] (RFC 3986
       * section 3.2), no userinfo (RFC 9110 section 4.2.4). */
      {"GET", "http://shop.example:8080/user/2", NULL},
      {"GET", "http://127.0.0.1/user/2", NULL},
      {"GET", "http://[::1]:80/user/2", NULL},
      {"GET", "http://x#/user/1", "fragment"},
      {"GET", "http://x/user/1#top", "fragment"},
      {"GET", "http://u:p@x/user/1", "userinfo"},
      {"GET", "http://u@x/user/1", "userinfo"},
      {"GET", "https://x\\@evil/user/1", "userinfo"},
      {"GET", "http://x\\evil/user/1", "host and an optional port"},
      {"GET", "http://x:8o/user/1", "host and an optional port"},
      {"GET", "http://[::1/user/1", "host and an optional port"},
      {"GET", "http:///user/1", "no host"},
      {"GET", "http://", "no host"},
  };
  struct framing_header host = {"Host", 4, "x", 1};

  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    struct framing_verdict verdict;
    framing_check(&(struct framing_head){.method = CASES[i].method,
                                         .version = "HTTP/1.1",
                                         .url = CASES[i].url,
                                         .headers = &host,
                                         .header_count = 1},
                  &verdict);
    ck_assert_msg(verdict.refuse == (CASES[i].refused_for != NULL), "%s '%s': refused %d",
                  CASES[i].method, CASES[i].url, verdict.refuse);
    if (verdict.refuse) {
      ck_assert_int_eq(verdict.type, PROBLEM_INVALID_REQUEST);
      ck_assert_msg(strstr(verdict.detail, CASES[i].refused_for) != NULL, "'%s': %s", CASES[i].url,
                    verdict.detail);
    }
  }
}
END_TEST

/* RFC 9110 section 5.5 leaves the white space after a value out of it,
 * and the service reads every value so. The two that frame the body stay
 * exact: libmicrohttpd frames it from the value as sent, and takes
 * "chunked " for a coding it does not decode, "5 " for no number. */
START_TEST(the_values_that_frame_a_body_are_read_as_sent) {
  static const struct {
    const char *name;
    const char *value;
  } CASES[] = {
      {"Content-Length", "5 "},
      {"Content-Length", "5\t"},
      {"Transfer-Encoding", "chunked "},
      {"Transfer-Encoding", "chunked\t"},
  };

  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    struct framing_header headers[] = {
        {"Host", 4, "x ", 2},
        {CASES[i].name, strlen(CASES[i].name), CASES[i].value, strlen(CASES[i].value)}};
    struct framing_verdict verdict;
    framing_check(&(struct framing_head){.method = "POST",
                                         .version = "HTTP/1.1",
                                         .url = "/purchases",
                                         .headers = headers,
                                         .header_count = 2},
                  &verdict);
    ck_assert_msg(verdict.refuse, "%s '%s' was taken", CASES[i].name, CASES[i].value);
    ck_assert_ptr_nonnull(strstr(verdict.detail, CASES[i].name));
  }
}
END_TEST

/* ": v" is a header line without a name, and is refused as one. */
START_TEST(a_header_without_a_name_is_refused_as_one) {
  struct framing_header headers[] = {{"Host", 4, "x", 1}, {"", 0, "v", 1}};
  struct framing_verdict verdict;

  framing_check(&(struct framing_head){.method = "GET",
                                       .version = "HTTP/1.1",
                                       .url = "/healthz",
                                       .headers = headers,
                                       .header_count = 2},
                &verdict);
  ck_assert(verdict.refuse);
  ck_assert_int_eq(verdict.type, PROBLEM_INVALID_REQUEST);
  ck_assert_ptr_nonnull(strstr(verdict.detail, "no name"));
}
END_TEST

/* What framing_check says of `count` lines named `name` with values of
 * `value_len` bytes after Host. */
static struct framing_verdict check_lines_of(const char *name, size_t count, size_t value_len) {
  static struct framing_header headers[HTTP_HEADER_LINES_MAX + 2];
  static char value[HTTP_HEADER_BYTES_MAX];
  struct framing_verdict verdict;

  ck_assert_uint_le(count + 1, sizeof(headers) / sizeof(headers[0]));
  ck_assert_uint_lt(value_len, sizeof(value));
  memset(value, 'v', value_len);
  value[value_len] = '\0';
  headers[0] = (struct framing_header){"Host", 4, "x", 1};
  for (size_t i = 1; i <= count; i++) {
    headers[i] = (struct framing_header){name, strlen(name), value, value_len};
  }
  framing_check(&(struct framing_head){.method = "GET",
                                       .version = "HTTP/1.1",
                                       .url = "/healthz",
                                       .headers = headers,
                                       .header_count = count + 1},
                &verdict);
  return verdict;
}

/* The limits are on the lines as sent: their number, each value, their
 * sum; each at its edge. */
START_TEST(header_lines_are_counted_and_measured_as_sent) {
  static const struct {
    size_t lines; /* besides Host */
    size_t value_len;
    bool refused;
  } CASES[] = {
      {HTTP_HEADER_LINES_MAX - 1, 8, false},
      {HTTP_HEADER_LINES_MAX, 8, true},
      {1, HTTP_HEADER_VALUE_MAX, false},
      {1, HTTP_HEADER_VALUE_MAX + 1, true},
      {2, 8000, false},
      {3, 6000, true},
  };

  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    struct framing_verdict verdict = check_lines_of("x-note", CASES[i].lines, CASES[i].value_len);
    ck_assert_msg(verdict.refuse == CASES[i].refused, "%zu lines of %zu bytes: %s", CASES[i].lines,
                  CASES[i].value_len, verdict.refuse ? verdict.detail : "taken");
    if (verdict.refuse) {
      ck_assert_int_eq(verdict.type, PROBLEM_HEADERS_TOO_LARGE);
    }
  }
}
END_TEST

/* A header that means one thing, on two lines: a 400 naming it, spelt
 * alike or not; a list header may come on as many lines as fit. */
START_TEST(a_one_value_header_on_two_lines_is_refused) {
  static const char *const ONE_VALUE[] = {"Origin", "x-client-id", "AUTHORIZATION",
                                          "Idempotency-Key"};
  struct framing_verdict verdict;

  for (size_t i = 0; i < sizeof(ONE_VALUE) / sizeof(ONE_VALUE[0]); i++) {
    verdict = check_lines_of(ONE_VALUE[i], 2, 4);
    ck_assert_msg(verdict.refuse, "%s twice was taken", ONE_VALUE[i]);
    ck_assert_int_eq(verdict.type, PROBLEM_INVALID_REQUEST);
    ck_assert_ptr_nonnull(strstr(verdict.detail, "may be sent only once"));
    ck_assert_str_ne(verdict.header, "");
  }
  verdict = check_lines_of("Accept-Encoding", 40, 248);
  ck_assert_msg(!verdict.refuse, "%s", verdict.detail);
}
END_TEST

Suite *suite_framing(void) {
  Suite *suite = suite_create("framing");
  TCase *tc = tcase_create("head bytes");
  tcase_add_test(tc, a_head_the_pieces_account_for_is_whole);
  tcase_add_test(tc, a_nul_inside_a_value_hides_what_follows_it);
  tcase_add_test(tc, a_name_built_outside_the_head_is_a_folded_line);
  tcase_add_test(tc, a_parser_that_copies_says_nothing);
  tcase_add_test(tc, host_is_a_host_and_a_port);
  tcase_add_test(tc, the_target_is_one_of_its_forms);
  tcase_add_test(tc, a_header_without_a_name_is_refused_as_one);
  tcase_add_test(tc, the_values_that_frame_a_body_are_read_as_sent);
  tcase_add_test(tc, header_lines_are_counted_and_measured_as_sent);
  tcase_add_test(tc, a_one_value_header_on_two_lines_is_refused);
  suite_add_tcase(suite, tc);
  return suite;
}
