/* PURCHASES_CORS_ORIGINS (middleware/cors.c). */
#include <string.h>

#include <check.h>

#include "middleware/cors.h"
#include "suites.h"

START_TEST(origins_are_parsed_as_browsers_send_them) {
  struct cors_table table;
  char err[200];

  ck_assert(cors_parse("", &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, 0);
  ck_assert(!cors_allowed(&table, "https://shop.example"));
  ck_assert(cors_parse("https://shop.example, http://localhost:3000", &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, 2);
  ck_assert(cors_allowed(&table, "https://shop.example"));
  ck_assert(cors_allowed(&table, "http://localhost:3000"));
  ck_assert(!cors_allowed(&table, "https://shop.example:443"));
  ck_assert(!cors_allowed(&table, "http://shop.example"));
  ck_assert(!cors_allowed(&table, "https://shop.example.evil"));
  ck_assert(!cors_allowed(&table, NULL));

  const char *bad[] = {"*",
                       "shop.example",
                       "https://shop.example/",
                       "https://Shop.example",
                       "ftp://shop.example",
                       "https://",
                       "https://shop.example:",
                       "https://a:123456",
                       "https://shop.example,,https://b.example",
                       "https://sh op.example"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    ck_assert_msg(!cors_parse(bad[i], &table, err, sizeof(err)), "accepted %s", bad[i]);
    ck_assert_ptr_nonnull(strstr(err, "PURCHASES_CORS_ORIGINS"));
  }
}
END_TEST

Suite *suite_cors(void) {
  Suite *suite = suite_create("cors");
  TCase *tc = tcase_create("cors");
  tcase_add_test(tc, origins_are_parsed_as_browsers_send_them);
  suite_add_tcase(suite, tc);
  return suite;
}
