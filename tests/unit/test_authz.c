#include <string.h>

#include <check.h>

#include "middleware/authz.h"
#include "suites.h"

/* A string of `len` copies of `c`, in a static buffer. */
static const char *repeat(char c, size_t len) {
  static char buf[256];
  ck_assert_uint_lt(len, sizeof(buf));
  memset(buf, c, len);
  buf[len] = '\0';
  return buf;
}

START_TEST(user_id_accepts_every_allowed_character) {
  ck_assert(user_id_is_valid("abcxyzABCXYZ0189_-"));
  ck_assert(user_id_is_valid("u"));
  ck_assert(user_id_is_valid("user-42_x"));
}
END_TEST

START_TEST(user_id_accepts_exactly_64_characters) {
  ck_assert(user_id_is_valid(repeat('a', 64)));
}
END_TEST

START_TEST(user_id_rejects_65_characters) {
  ck_assert(!user_id_is_valid(repeat('a', 65)));
}
END_TEST

START_TEST(user_id_rejects_null_and_empty) {
  ck_assert(!user_id_is_valid(NULL));
  ck_assert(!user_id_is_valid(""));
}
END_TEST

START_TEST(user_id_rejects_injection_attempts) {
  ck_assert(!user_id_is_valid("123'"));
  ck_assert(!user_id_is_valid("{\"$ne\":null}"));
  ck_assert(!user_id_is_valid("../x"));
  ck_assert(!user_id_is_valid("a.b"));
}
END_TEST

START_TEST(user_id_rejects_repeated_header_values) {
  ck_assert(!user_id_is_valid("a,b"));
  ck_assert(!user_id_is_valid("a, b"));
}
END_TEST

START_TEST(user_id_rejects_whitespace) {
  ck_assert(!user_id_is_valid(" "));
  ck_assert(!user_id_is_valid("a b"));
  ck_assert(!user_id_is_valid(" ab"));
  ck_assert(!user_id_is_valid("ab "));
  ck_assert(!user_id_is_valid("a\tb"));
  ck_assert(!user_id_is_valid("ab\n"));
}
END_TEST

START_TEST(user_id_rejects_non_ascii_bytes) {
  ck_assert(!user_id_is_valid("caf\xc3\xa9"));
  ck_assert(!user_id_is_valid("\xff"));
  ck_assert(!user_id_is_valid("a\x80"));
}
END_TEST

START_TEST(customer_reads_own_purchases) {
  ck_assert(authz_can_read_user(ROLE_CUSTOMER, "alice", "alice"));
}
END_TEST

START_TEST(customer_cannot_read_other_user) {
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, "alice", "bob"));
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, "alice", "alice2"));
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, "alice", "Alice"));
}
END_TEST

START_TEST(customer_without_actor_or_target_is_denied) {
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, NULL, "alice"));
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, "alice", NULL));
  ck_assert(!authz_can_read_user(ROLE_CUSTOMER, NULL, NULL));
}
END_TEST

START_TEST(support_reads_own_and_other_users) {
  ck_assert(authz_can_read_user(ROLE_SUPPORT, "agent", "agent"));
  ck_assert(authz_can_read_user(ROLE_SUPPORT, "agent", "bob"));
}
END_TEST

START_TEST(service_reads_own_and_other_users) {
  ck_assert(authz_can_read_user(ROLE_SERVICE, "invoicer", "invoicer"));
  ck_assert(authz_can_read_user(ROLE_SERVICE, "invoicer", "bob"));
}
END_TEST

START_TEST(ingest_reads_nobody) {
  ck_assert(!authz_can_read_user(ROLE_INGEST, "checkout", "checkout"));
  ck_assert(!authz_can_read_user(ROLE_INGEST, "checkout", "bob"));
}
END_TEST

START_TEST(unknown_role_is_denied) {
  ck_assert(!authz_can_read_user((enum role)99, "alice", "alice"));
}
END_TEST

Suite *suite_authz(void) {
  Suite *suite = suite_create("authz");
  TCase *user_id = tcase_create("user_id_is_valid");
  TCase *can_read = tcase_create("authz_can_read_user");

  tcase_add_test(user_id, user_id_accepts_every_allowed_character);
  tcase_add_test(user_id, user_id_accepts_exactly_64_characters);
  tcase_add_test(user_id, user_id_rejects_65_characters);
  tcase_add_test(user_id, user_id_rejects_null_and_empty);
  tcase_add_test(user_id, user_id_rejects_injection_attempts);
  tcase_add_test(user_id, user_id_rejects_repeated_header_values);
  tcase_add_test(user_id, user_id_rejects_whitespace);
  tcase_add_test(user_id, user_id_rejects_non_ascii_bytes);
  suite_add_tcase(suite, user_id);

  tcase_add_test(can_read, customer_reads_own_purchases);
  tcase_add_test(can_read, customer_cannot_read_other_user);
  tcase_add_test(can_read, customer_without_actor_or_target_is_denied);
  tcase_add_test(can_read, support_reads_own_and_other_users);
  tcase_add_test(can_read, service_reads_own_and_other_users);
  tcase_add_test(can_read, ingest_reads_nobody);
  tcase_add_test(can_read, unknown_role_is_denied);
  suite_add_tcase(suite, can_read);
  return suite;
}
