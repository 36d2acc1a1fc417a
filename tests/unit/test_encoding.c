/* gzip (lib/gzip.c) and Accept-Encoding (middleware/encoding.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "lib/gzip.h"
#include "middleware/encoding.h"
#include "suites.h"

START_TEST(gzip_round_trips_and_refuses_what_is_not_one_whole_stream) {
  char text[4096];
  unsigned char *packed = NULL;
  unsigned char *back = NULL;
  size_t packed_len = 0;
  size_t back_len = 0;

  for (size_t i = 0; i < sizeof(text) - 1; i++) {
    text[i] = "{\"id\":\"p1\",\"title\":\"Mug\"}"[i % 25];
  }
  text[sizeof(text) - 1] = '\0';
  ck_assert(gzip_compress(text, strlen(text), 6, &packed, &packed_len));
  ck_assert_uint_lt(packed_len, strlen(text) / 4);
  ck_assert_int_eq(packed[0], 0x1f); /* the gzip magic */
  ck_assert_int_eq(packed[1], 0x8b);
  ck_assert(gzip_decompress(packed, packed_len, 1 << 20, &back, &back_len));
  ck_assert_uint_eq(back_len, strlen(text));
  ck_assert_str_eq((char *)back, text);
  free(back);
  /* Cut short, past the bound, with bytes after it, or not gzip at all. */
  ck_assert(!gzip_decompress(packed, packed_len - 5, 1 << 20, &back, &back_len));
  ck_assert_ptr_null(back);
  ck_assert(!gzip_decompress(packed, packed_len, 100, &back, &back_len));
  unsigned char *longer = malloc(packed_len + 1);
  memcpy(longer, packed, packed_len);
  longer[packed_len] = 'x';
  ck_assert(!gzip_decompress(longer, packed_len + 1, 1 << 20, &back, &back_len));
  ck_assert(!gzip_decompress("not gzip at all", 15, 1 << 20, &back, &back_len));
  free(longer);
  free(packed);
}
END_TEST

/* A page of about 9 KB repeats itself across more than 4 KiB (the same
 * brands, titles and keys item after item): the window must reach back
 * over the whole answer. 6 KiB that do not compress, twice over, pack to
 * little more than 6 KiB only if the second copy can point at the first. */
START_TEST(gzip_reaches_back_over_the_whole_of_a_page) {
  enum { HALF = 6 * 1024 };
  unsigned char *text = malloc(2 * HALF);
  unsigned char *packed = NULL;
  unsigned char *back = NULL;
  size_t packed_len = 0;
  size_t back_len = 0;
  uint32_t state = 12345;

  ck_assert_ptr_nonnull(text);
  for (size_t i = 0; i < HALF; i++) {
    state = state * 1103515245u + 12345u;
    text[i] = (unsigned char)(state >> 24);
  }
  memcpy(text + HALF, text, HALF);
  ck_assert(gzip_compress(text, 2 * HALF, 6, &packed, &packed_len));
  ck_assert_uint_lt(packed_len, HALF + HALF / 8);
  ck_assert(gzip_decompress(packed, packed_len, 2 * HALF, &back, &back_len));
  ck_assert_uint_eq(back_len, 2 * HALF);
  ck_assert_mem_eq(back, text, 2 * HALF);
  free(back);
  free(packed);
  free(text);
}
END_TEST

START_TEST(accept_encoding_follows_rfc_9110) {
  const struct {
    const char *value;
    enum accept_gzip expected;
  } CASES[] = {
      {NULL, ACCEPT_GZIP_NO},
      {"", ACCEPT_GZIP_NO},
      {"identity", ACCEPT_GZIP_NO},
      {"br, deflate", ACCEPT_GZIP_NO},
      {"gzip", ACCEPT_GZIP_YES},
      {"GZip", ACCEPT_GZIP_YES},
      {"x-gzip", ACCEPT_GZIP_YES},
      {"gzip, deflate, br", ACCEPT_GZIP_YES},
      {"br;q=1.0, gzip;q=0.8, *;q=0.1", ACCEPT_GZIP_YES},
      {"*", ACCEPT_GZIP_YES},
      {"gzip;q=0", ACCEPT_GZIP_NO},
      {"gzip; q=0.000", ACCEPT_GZIP_NO},
      {"*;q=0.5, gzip;q=0", ACCEPT_GZIP_NO},
      {"gzip;q=0, *", ACCEPT_GZIP_NO}, /* named beats the wildcard */
      {"*;q=0", ACCEPT_GZIP_NO},
      {" , gzip ,", ACCEPT_GZIP_YES},
      {"gzip;q=1.000", ACCEPT_GZIP_YES},
      {"gzip;q=2", ACCEPT_GZIP_MALFORMED},
      {"gzip;q=1.5", ACCEPT_GZIP_MALFORMED},
      {"gzip;q=0.1234", ACCEPT_GZIP_MALFORMED},
      {"gzip;q=", ACCEPT_GZIP_MALFORMED},
      {"gzip;level=1", ACCEPT_GZIP_MALFORMED},
      {"gzip deflate", ACCEPT_GZIP_MALFORMED},
      {"gz(ip)", ACCEPT_GZIP_MALFORMED},
      {";q=1", ACCEPT_GZIP_MALFORMED},
      /* A coding listed twice takes its lowest weight, whatever the order. */
      {"gzip;q=0, gzip", ACCEPT_GZIP_NO},
      {"gzip, gzip;q=0", ACCEPT_GZIP_NO},
      {"gzip, br, GZIP;q=0", ACCEPT_GZIP_NO},
      {"gzip, x-gzip;q=0", ACCEPT_GZIP_NO}, /* x-gzip is gzip (RFC 9110 section 8.4.1.3) */
      {"x-gzip;q=0, gzip", ACCEPT_GZIP_NO},
      {"gzip;q=0.5, gzip;q=0.2", ACCEPT_GZIP_YES},
      {"*;q=0, *", ACCEPT_GZIP_NO},
      {"*, *;q=0", ACCEPT_GZIP_NO},
      {"*;q=0, gzip, gzip;q=0.1", ACCEPT_GZIP_YES},
  };
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    ck_assert_msg(accept_encoding_gzip(CASES[i].value) == CASES[i].expected, "'%s' gave %d",
                  CASES[i].value != NULL ? CASES[i].value : "(absent)",
                  (int)accept_encoding_gzip(CASES[i].value));
  }
}
END_TEST

Suite *suite_encoding(void) {
  Suite *suite = suite_create("encoding");
  TCase *tc = tcase_create("encoding");
  tcase_add_test(tc, gzip_round_trips_and_refuses_what_is_not_one_whole_stream);
  tcase_add_test(tc, gzip_reaches_back_over_the_whole_of_a_page);
  tcase_add_test(tc, accept_encoding_follows_rfc_9110);
  suite_add_tcase(suite, tc);
  return suite;
}
