#include <stdio.h>
#include <string.h>

#include <check.h>

#include "middleware/client_id.h"
#include "suites.h"

#define DEFAULT_CLIENTS "shop:customer,customer-support:support,invoicing:service"

static struct client_table table;
static char err[256];

/* Fills the table with junk so that "left empty" is something a failed
 * parse has to do, and clears err. */
static void setup(void) {
  memset(&table, 0xa5, sizeof(table));
  table.count = 1;
  err[0] = '\0';
}

/* Asserts that `spec` is rejected with a reason and leaves the table empty. */
static void assert_rejected(const char *spec) {
  setup();
  ck_assert_msg(!client_table_parse(spec, &table, err, sizeof(err)), "accepted: %s", spec);
  ck_assert_uint_eq(table.count, 0);
  ck_assert_msg(strlen(err) > 0, "no reason given for: %s", spec);
  ck_assert_ptr_null(client_table_find(&table, "shop"));
}

START_TEST(parses_the_default_table) {
  ck_assert(client_table_parse(DEFAULT_CLIENTS, &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, 3);
  ck_assert_str_eq(table.entries[0].id, "shop");
  ck_assert_int_eq(table.entries[0].role, ROLE_CUSTOMER);
  ck_assert_str_eq(table.entries[1].id, "customer-support");
  ck_assert_int_eq(table.entries[1].role, ROLE_SUPPORT);
  ck_assert_str_eq(table.entries[2].id, "invoicing");
  ck_assert_int_eq(table.entries[2].role, ROLE_SERVICE);
}
END_TEST

START_TEST(parses_a_single_entry) {
  ck_assert(client_table_parse("a.b_C-9:service", &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, 1);
  ck_assert_str_eq(table.entries[0].id, "a.b_C-9");
  ck_assert_int_eq(table.entries[0].role, ROLE_SERVICE);
}
END_TEST

START_TEST(accepts_a_64_character_id) {
  char spec[128];
  char id[CLIENT_ID_MAX + 1];
  memset(id, 'c', CLIENT_ID_MAX);
  id[CLIENT_ID_MAX] = '\0';
  snprintf(spec, sizeof(spec), "%s:support", id);
  ck_assert(client_table_parse(spec, &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, 1);
  ck_assert_str_eq(table.entries[0].id, id);
}
END_TEST

START_TEST(accepts_exactly_the_maximum_entries) {
  char spec[1024] = "";
  size_t used = 0;
  for (int i = 0; i < CLIENT_TABLE_MAX; i++) {
    used +=
        (size_t)snprintf(spec + used, sizeof(spec) - used, "%sc%d:customer", i > 0 ? "," : "", i);
  }
  ck_assert(client_table_parse(spec, &table, err, sizeof(err)));
  ck_assert_uint_eq(table.count, CLIENT_TABLE_MAX);
  ck_assert_str_eq(table.entries[CLIENT_TABLE_MAX - 1].id, "c31");
}
END_TEST

START_TEST(role_name_names_each_role) {
  ck_assert_str_eq(role_name(ROLE_CUSTOMER), "customer");
  ck_assert_str_eq(role_name(ROLE_SUPPORT), "support");
  ck_assert_str_eq(role_name(ROLE_SERVICE), "service");
  ck_assert_str_eq(role_name(ROLE_INGEST), "ingest");
}
END_TEST

START_TEST(role_name_of_out_of_range_role_is_unknown) {
  ck_assert_str_eq(role_name((enum role)7), "unknown");
}
END_TEST

START_TEST(find_returns_the_matching_entry) {
  const struct client *client;
  ck_assert(client_table_parse(DEFAULT_CLIENTS, &table, err, sizeof(err)));
  client = client_table_find(&table, "customer-support");
  ck_assert_ptr_eq(client, &table.entries[1]);
  ck_assert_int_eq(client->role, ROLE_SUPPORT);
  ck_assert_ptr_eq(client_table_find(&table, "invoicing"), &table.entries[2]);
}
END_TEST

START_TEST(find_misses_unknown_and_partial_ids) {
  ck_assert(client_table_parse(DEFAULT_CLIENTS, &table, err, sizeof(err)));
  ck_assert_ptr_null(client_table_find(&table, "unknown"));
  ck_assert_ptr_null(client_table_find(&table, "sho"));
  ck_assert_ptr_null(client_table_find(&table, "shop2"));
  ck_assert_ptr_null(client_table_find(&table, "SHOP"));
  ck_assert_ptr_null(client_table_find(&table, ""));
}
END_TEST

START_TEST(find_with_null_id_misses) {
  ck_assert(client_table_parse(DEFAULT_CLIENTS, &table, err, sizeof(err)));
  ck_assert_ptr_null(client_table_find(&table, NULL));
}
END_TEST

START_TEST(rejects_empty_string) {
  assert_rejected("");
}
END_TEST

START_TEST(rejects_missing_colon) {
  assert_rejected("shop");
  assert_rejected("shop:customer,invoicing");
}
END_TEST

START_TEST(rejects_empty_id) {
  assert_rejected(":customer");
}
END_TEST

START_TEST(rejects_invalid_id_characters) {
  assert_rejected("sh op:customer");
  assert_rejected("shop/x:customer");
}
END_TEST

START_TEST(rejects_unknown_or_empty_role) {
  assert_rejected("shop:admin");
  assert_rejected("shop:");
  assert_rejected("shop:Customer");
  assert_rejected("shop:customers");
  assert_rejected("shop:custom");
}
END_TEST

START_TEST(rejects_duplicate_client) {
  assert_rejected("shop:customer,invoicing:service,shop:support");
  ck_assert_ptr_nonnull(strstr(err, "shop"));
}
END_TEST

START_TEST(rejects_id_over_64_characters) {
  char spec[128];
  char id[CLIENT_ID_MAX + 2];
  memset(id, 'c', CLIENT_ID_MAX + 1);
  id[CLIENT_ID_MAX + 1] = '\0';
  snprintf(spec, sizeof(spec), "%s:support", id);
  assert_rejected(spec);
}
END_TEST

START_TEST(rejects_trailing_comma) {
  assert_rejected("shop:customer,");
}
END_TEST

START_TEST(rejects_empty_entry_between_commas) {
  assert_rejected("shop:customer,,invoicing:service");
}
END_TEST

START_TEST(rejects_more_than_the_maximum_entries) {
  char spec[1024] = "";
  size_t used = 0;
  for (int i = 0; i <= CLIENT_TABLE_MAX; i++) {
    used +=
        (size_t)snprintf(spec + used, sizeof(spec) - used, "%sc%d:customer", i > 0 ? "," : "", i);
  }
  assert_rejected(spec);
}
END_TEST

START_TEST(failure_after_valid_entries_empties_the_table) {
  assert_rejected("shop:customer,customer-support:support,invoicing:nobody");
  ck_assert_ptr_null(client_table_find(&table, "customer-support"));
  ck_assert_str_eq(table.entries[0].id, "");
}
END_TEST

Suite *suite_client_table(void) {
  Suite *suite = suite_create("client_table");
  TCase *parse = tcase_create("parse");
  TCase *find = tcase_create("find");
  TCase *reject = tcase_create("reject");

  tcase_add_checked_fixture(parse, setup, NULL);
  tcase_add_test(parse, parses_the_default_table);
  tcase_add_test(parse, parses_a_single_entry);
  tcase_add_test(parse, accepts_a_64_character_id);
  tcase_add_test(parse, accepts_exactly_the_maximum_entries);
  tcase_add_test(parse, role_name_names_each_role);
  tcase_add_test(parse, role_name_of_out_of_range_role_is_unknown);
  suite_add_tcase(suite, parse);

  tcase_add_checked_fixture(find, setup, NULL);
  tcase_add_test(find, find_returns_the_matching_entry);
  tcase_add_test(find, find_misses_unknown_and_partial_ids);
  tcase_add_test(find, find_with_null_id_misses);
  suite_add_tcase(suite, find);

  tcase_add_checked_fixture(reject, setup, NULL);
  tcase_add_test(reject, rejects_empty_string);
  tcase_add_test(reject, rejects_missing_colon);
  tcase_add_test(reject, rejects_empty_id);
  tcase_add_test(reject, rejects_invalid_id_characters);
  tcase_add_test(reject, rejects_unknown_or_empty_role);
  tcase_add_test(reject, rejects_duplicate_client);
  tcase_add_test(reject, rejects_id_over_64_characters);
  tcase_add_test(reject, rejects_trailing_comma);
  tcase_add_test(reject, rejects_empty_entry_between_commas);
  tcase_add_test(reject, rejects_more_than_the_maximum_entries);
  tcase_add_test(reject, failure_after_valid_entries_empties_the_table);
  suite_add_tcase(suite, reject);
  return suite;
}
