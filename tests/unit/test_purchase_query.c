#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bson/bson.h>
#include <check.h>

#include "models/purchase_query.h"
#include "suites.h"

#define MS_2024_03_01      1709251200000LL /* 2024-03-01 */
#define MS_2024_03_02      1709337600000LL /* 2024-03-02 */
#define MS_2024_03_01_0930 1709285400000LL /* 2024-03-01T09:30:00Z */

/* Bit i of purchase_query.fields: purchase_field_name(i). */
#define FIELD_ID        (1u << 0)
#define FIELD_STATUS    (1u << 2)
#define FIELD_ITEMS     (1u << 3)
#define FIELD_PRICE     (1u << 4)
#define FIELD_CURRENCY  (1u << 5)
#define FIELD_DATE      (1u << 6)
#define FIELD_DELIVERY  (1u << 8)
#define STATUS_PAID     (1u << 1)
#define STATUS_SHIPPED  (1u << 2)
#define STATUS_REFUNDED (1u << 5)

static struct purchase_query query;

static void setup(void) {
  memset(&query, 0, sizeof(query));
  snprintf(query.user_id, sizeof(query.user_id), "alice");
  query.limit = 20;
  query.sort = PURCHASE_SORT_DATE_DESC;
}

/* `json` without the whitespace outside its strings. */
static char *compact(const char *json) {
  char *out = bson_malloc(strlen(json) + 1);
  bool in_string = false;
  size_t n = 0;
  for (const char *p = json; *p != '\0'; p++) {
    if (in_string) {
      out[n++] = *p;
      if (*p == '\\' && p[1] != '\0') {
        out[n++] = *++p;
      } else if (*p == '"') {
        in_string = false;
      }
    } else if (*p == '"') {
      in_string = true;
      out[n++] = *p;
    } else if (*p != ' ' && *p != '\n' && *p != '\t') {
      out[n++] = *p;
    }
  }
  out[n] = '\0';
  return out;
}

/* Asserts that `doc`, as canonical extended JSON without whitespace, is
 * exactly `expected`. Destroys nothing. */
static void assert_json(const bson_t *doc, const char *expected) {
  char *json = bson_as_canonical_extended_json(doc, NULL);
  char *got;
  ck_assert_ptr_nonnull(json);
  got = compact(json);
  bson_free(json);
  ck_assert_msg(strcmp(got, expected) == 0, "\n got:      %s\n expected: %s", got, expected);
  bson_free(got);
}

static void assert_filter(bool from_position, const char *expected) {
  bson_t filter = BSON_INITIALIZER;
  purchase_query_filter(&query, from_position, &filter);
  assert_json(&filter, expected);
  bson_destroy(&filter);
}

static void assert_sort(const char *expected) {
  bson_t sort = BSON_INITIALIZER;
  purchase_query_sort(&query, &sort);
  assert_json(&sort, expected);
  bson_destroy(&sort);
}

static void assert_projection(const char *expected) {
  bson_t projection = BSON_INITIALIZER;
  purchase_query_projection(&query, &projection);
  assert_json(&projection, expected);
  bson_destroy(&projection);
}

/* --- purchase_text_pattern --------------------------------------------- */

static void assert_pattern(const char *text, const char *expected) {
  char out[PURCHASE_TEXT_MAX * 2 + 1];
  memset(out, 'x', sizeof(out));
  ck_assert_msg(purchase_text_pattern(text, out, sizeof(out)), "refused %s", text);
  ck_assert_str_eq(out, expected);
}

START_TEST(pattern_keeps_letters_digits_and_spaces) {
  assert_pattern("Blue Kettle 2000", "Blue Kettle 2000");
  assert_pattern("azAZ09", "azAZ09");
  assert_pattern("", "");
}
END_TEST

START_TEST(pattern_keeps_non_ascii) {
  assert_pattern("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}
END_TEST

START_TEST(pattern_escapes_every_ascii_punctuation) {
  static const char PUNCTUATION[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  for (size_t i = 0; i < sizeof(PUNCTUATION) - 1; i++) {
    char text[2] = {PUNCTUATION[i], '\0'};
    char expected[3] = {'\\', PUNCTUATION[i], '\0'};
    assert_pattern(text, expected);
  }
  ck_assert_uint_eq(sizeof(PUNCTUATION) - 1, 32);
}
END_TEST

START_TEST(pattern_escapes_within_text) {
  assert_pattern("a.b*c", "a\\.b\\*c");
  assert_pattern("(50% off) $5", "\\(50\\% off\\) \\$5");
  assert_pattern("^.*$", "\\^\\.\\*\\$");
  assert_pattern("a\\b", "a\\\\b");
}
END_TEST

START_TEST(pattern_false_when_out_too_small) {
  char out[8];
  ck_assert(purchase_text_pattern("abc", out, 4));
  ck_assert_str_eq(out, "abc");
  ck_assert(!purchase_text_pattern("abc", out, 3));
  ck_assert(purchase_text_pattern("a.", out, 4));
  ck_assert_str_eq(out, "a\\.");
  ck_assert(!purchase_text_pattern("a.", out, 3));
  ck_assert(purchase_text_pattern("", out, 1));
  ck_assert_str_eq(out, "");
  ck_assert(!purchase_text_pattern("", out, 0));
}
END_TEST

START_TEST(pattern_longest_text_all_escaped_fits) {
  char text[PURCHASE_TEXT_MAX + 1];
  char out[PURCHASE_TEXT_MAX * 2 + 1];
  memset(text, '.', PURCHASE_TEXT_MAX);
  text[PURCHASE_TEXT_MAX] = '\0';
  ck_assert(purchase_text_pattern(text, out, sizeof(out)));
  ck_assert_uint_eq(strlen(out), PURCHASE_TEXT_MAX * 2);
  ck_assert(!purchase_text_pattern(text, out, sizeof(out) - 1));
}
END_TEST

/* --- names ------------------------------------------------------------- */

START_TEST(status_index_of_every_status) {
  ck_assert_int_eq(purchase_status_index("placed"), 0);
  ck_assert_int_eq(purchase_status_index("paid"), 1);
  ck_assert_int_eq(purchase_status_index("shipped"), 2);
  ck_assert_int_eq(purchase_status_index("delivered"), 3);
  ck_assert_int_eq(purchase_status_index("cancelled"), 4);
  ck_assert_int_eq(purchase_status_index("refunded"), 5);
}
END_TEST

START_TEST(status_index_of_unknown_names) {
  ck_assert_int_eq(purchase_status_index(""), -1);
  ck_assert_int_eq(purchase_status_index("Paid"), -1);
  ck_assert_int_eq(purchase_status_index("pai"), -1);
  ck_assert_int_eq(purchase_status_index("paid "), -1);
  ck_assert_int_eq(purchase_status_index("canceled"), -1);
}
END_TEST

START_TEST(sort_names_fields_and_directions) {
  ck_assert_str_eq(purchase_sort_name(PURCHASE_SORT_DATE_DESC), "-datePurchased");
  ck_assert_str_eq(purchase_sort_name(PURCHASE_SORT_DATE_ASC), "datePurchased");
  ck_assert_str_eq(purchase_sort_name(PURCHASE_SORT_PRICE_DESC), "-pricePence");
  ck_assert_str_eq(purchase_sort_name(PURCHASE_SORT_PRICE_ASC), "pricePence");
  ck_assert_str_eq(purchase_sort_field(PURCHASE_SORT_DATE_DESC), "datePurchased");
  ck_assert_str_eq(purchase_sort_field(PURCHASE_SORT_DATE_ASC), "datePurchased");
  ck_assert_str_eq(purchase_sort_field(PURCHASE_SORT_PRICE_DESC), "pricePence");
  ck_assert_str_eq(purchase_sort_field(PURCHASE_SORT_PRICE_ASC), "pricePence");
  ck_assert(purchase_sort_descending(PURCHASE_SORT_DATE_DESC));
  ck_assert(!purchase_sort_descending(PURCHASE_SORT_DATE_ASC));
  ck_assert(purchase_sort_descending(PURCHASE_SORT_PRICE_DESC));
  ck_assert(!purchase_sort_descending(PURCHASE_SORT_PRICE_ASC));
}
END_TEST

/* --- purchase_query_filter --------------------------------------------- */

START_TEST(filter_bare_user) {
  assert_filter(false, "{\"userId\":\"alice\"}");
  assert_filter(true, "{\"userId\":\"alice\"}");
}
END_TEST

START_TEST(filter_user_id_stays_a_string) {
  bson_t filter = BSON_INITIALIZER;
  bson_iter_t iter;
  snprintf(query.user_id, sizeof(query.user_id), "{\"$ne\": null}");
  purchase_query_filter(&query, false, &filter);
  ck_assert_uint_eq(bson_count_keys(&filter), 1);
  ck_assert(bson_iter_init_find(&iter, &filter, "userId"));
  ck_assert(BSON_ITER_HOLDS_UTF8(&iter));
  ck_assert_str_eq(bson_iter_utf8(&iter, NULL), "{\"$ne\": null}");
  assert_json(&filter, "{\"userId\":\"{\\\"$ne\\\": null}\"}");
  bson_destroy(&filter);
}
END_TEST

START_TEST(filter_one_status_is_equality) {
  query.statuses = STATUS_PAID;
  assert_filter(false, "{\"userId\":\"alice\",\"status\":\"paid\"}");
  query.statuses = STATUS_REFUNDED;
  assert_filter(false, "{\"userId\":\"alice\",\"status\":\"refunded\"}");
  query.statuses = 1u << 0;
  assert_filter(false, "{\"userId\":\"alice\",\"status\":\"placed\"}");
}
END_TEST

START_TEST(filter_several_statuses_are_in) {
  query.statuses = STATUS_REFUNDED | STATUS_PAID;
  assert_filter(false, "{\"userId\":\"alice\",\"status\":{\"$in\":[\"paid\",\"refunded\"]}}");
  query.statuses = 0x3f;
  assert_filter(false, "{\"userId\":\"alice\",\"status\":{\"$in\":[\"placed\",\"paid\",\"shipped\","
                       "\"delivered\",\"cancelled\",\"refunded\"]}}");
}
END_TEST

START_TEST(filter_date_range) {
  query.has_from = true;
  query.from_ms = MS_2024_03_01;
  query.has_to = true;
  query.to_ms = MS_2024_03_02;
  assert_filter(false, "{\"userId\":\"alice\",\"datePurchased\":{"
                       "\"$gte\":{\"$date\":{\"$numberLong\":\"1709251200000\"}},"
                       "\"$lt\":{\"$date\":{\"$numberLong\":\"1709337600000\"}}}}");
}
END_TEST

START_TEST(filter_date_from_or_to_alone) {
  query.has_from = true;
  query.from_ms = -1;
  assert_filter(false, "{\"userId\":\"alice\",\"datePurchased\":{"
                       "\"$gte\":{\"$date\":{\"$numberLong\":\"-1\"}}}}");
  query.has_from = false;
  query.has_to = true;
  query.to_ms = MS_2024_03_02;
  assert_filter(false, "{\"userId\":\"alice\",\"datePurchased\":{"
                       "\"$lt\":{\"$date\":{\"$numberLong\":\"1709337600000\"}}}}");
}
END_TEST

START_TEST(filter_price_range_is_int64) {
  query.has_min_price = true;
  query.min_price_pence = 100;
  query.has_max_price = true;
  query.max_price_pence = 5000;
  assert_filter(false, "{\"userId\":\"alice\",\"pricePence\":{"
                       "\"$gte\":{\"$numberLong\":\"100\"},\"$lte\":{\"$numberLong\":\"5000\"}}}");
}
END_TEST

START_TEST(filter_price_min_or_max_alone) {
  query.has_min_price = true;
  query.min_price_pence = 0;
  assert_filter(false, "{\"userId\":\"alice\",\"pricePence\":{\"$gte\":{\"$numberLong\":\"0\"}}}");
  query.has_min_price = false;
  query.has_max_price = true;
  query.max_price_pence = 999999999999999LL;
  assert_filter(false, "{\"userId\":\"alice\",\"pricePence\":{"
                       "\"$lte\":{\"$numberLong\":\"999999999999999\"}}}");
}
END_TEST

START_TEST(filter_currency) {
  snprintf(query.currency, sizeof(query.currency), "GBP");
  assert_filter(false, "{\"userId\":\"alice\",\"currency\":\"GBP\"}");
}
END_TEST

START_TEST(filter_text) {
  snprintf(query.text, sizeof(query.text), "blue kettle.");
  assert_filter(false, "{\"userId\":\"alice\",\"$and\":[{\"$or\":["
                       "{\"items.title\":{\"$regex\":\"blue kettle\\\\.\",\"$options\":\"i\"}},"
                       "{\"items.brand\":{\"$regex\":\"blue kettle\\\\.\",\"$options\":\"i\"}}"
                       "]}]}");
}
END_TEST

START_TEST(filter_text_operator_stays_literal) {
  snprintf(query.text, sizeof(query.text), "{\"$where\":1}");
  assert_filter(false,
                "{\"userId\":\"alice\",\"$and\":[{\"$or\":["
                "{\"items.title\":{\"$regex\":\"\\\\{\\\\\\\"\\\\$where\\\\\\\"\\\\:1\\\\}\","
                "\"$options\":\"i\"}},"
                "{\"items.brand\":{\"$regex\":\"\\\\{\\\\\\\"\\\\$where\\\\\\\"\\\\:1\\\\}\","
                "\"$options\":\"i\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_date_descending) {
  query.has_after = true;
  query.after.key = MS_2024_03_01_0930;
  snprintf(query.after.id, sizeof(query.after.id), "p-42");
  assert_filter(true,
                "{\"userId\":\"alice\",\"$and\":[{"
                "\"datePurchased\":{\"$lte\":{\"$date\":{\"$numberLong\":\"1709285400000\"}}},"
                "\"$or\":[{\"datePurchased\":{\"$lt\":{\"$date\":{\"$numberLong\":"
                "\"1709285400000\"}}}},{\"id\":{\"$lt\":\"p-42\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_date_ascending) {
  query.sort = PURCHASE_SORT_DATE_ASC;
  query.has_after = true;
  query.after.key = -14182940000LL;
  snprintf(query.after.id, sizeof(query.after.id), "moon");
  assert_filter(true, "{\"userId\":\"alice\",\"$and\":[{"
                      "\"datePurchased\":{\"$gte\":{\"$date\":{\"$numberLong\":\"-14182940000\"}}},"
                      "\"$or\":[{\"datePurchased\":{\"$gt\":{\"$date\":{\"$numberLong\":"
                      "\"-14182940000\"}}}},{\"id\":{\"$gt\":\"moon\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_price_descending) {
  query.sort = PURCHASE_SORT_PRICE_DESC;
  query.has_after = true;
  query.after.key = 3998;
  snprintf(query.after.id, sizeof(query.after.id), "p-7");
  assert_filter(true, "{\"userId\":\"alice\",\"$and\":[{"
                      "\"pricePence\":{\"$lte\":{\"$numberLong\":\"3998\"}},"
                      "\"$or\":[{\"pricePence\":{\"$lt\":{\"$numberLong\":\"3998\"}}},"
                      "{\"id\":{\"$lt\":\"p-7\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_price_ascending) {
  query.sort = PURCHASE_SORT_PRICE_ASC;
  query.has_after = true;
  query.after.key = 0;
  snprintf(query.after.id, sizeof(query.after.id), "p-0");
  assert_filter(true, "{\"userId\":\"alice\",\"$and\":[{"
                      "\"pricePence\":{\"$gte\":{\"$numberLong\":\"0\"}},"
                      "\"$or\":[{\"pricePence\":{\"$gt\":{\"$numberLong\":\"0\"}}},"
                      "{\"id\":{\"$gt\":\"p-0\"}}]}]}");
}
END_TEST

/* A previous page walks from the cursor the other way: every bound turns
 * round, and so does the sort the database walks in. */
START_TEST(filter_keyset_before_turns_every_bound_round) {
  query.has_after = true;
  query.before = true;
  query.after.key = MS_2024_03_01_0930;
  snprintf(query.after.id, sizeof(query.after.id), "p-42");
  assert_filter(true,
                "{\"userId\":\"alice\",\"$and\":[{"
                "\"datePurchased\":{\"$gte\":{\"$date\":{\"$numberLong\":\"1709285400000\"}}},"
                "\"$or\":[{\"datePurchased\":{\"$gt\":{\"$date\":{\"$numberLong\":"
                "\"1709285400000\"}}}},{\"id\":{\"$gt\":\"p-42\"}}]}]}");
  query.sort = PURCHASE_SORT_PRICE_ASC;
  query.after.key = 3998;
  assert_filter(true, "{\"userId\":\"alice\",\"$and\":[{"
                      "\"pricePence\":{\"$lte\":{\"$numberLong\":\"3998\"}},"
                      "\"$or\":[{\"pricePence\":{\"$lt\":{\"$numberLong\":\"3998\"}}},"
                      "{\"id\":{\"$lt\":\"p-42\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_left_out_without_from_position) {
  query.has_after = true;
  query.after.key = MS_2024_03_01_0930;
  snprintf(query.after.id, sizeof(query.after.id), "p-42");
  assert_filter(false, "{\"userId\":\"alice\"}");
}
END_TEST

START_TEST(filter_keyset_left_out_without_a_position) {
  query.has_after = false;
  query.after.key = MS_2024_03_01_0930;
  snprintf(query.after.id, sizeof(query.after.id), "p-42");
  assert_filter(true, "{\"userId\":\"alice\"}");
}
END_TEST

START_TEST(filter_keyset_id_stays_a_string) {
  query.sort = PURCHASE_SORT_PRICE_ASC;
  query.has_after = true;
  query.after.key = 1;
  snprintf(query.after.id, sizeof(query.after.id), "{\"$gt\":\"\"}");
  assert_filter(true, "{\"userId\":\"alice\",\"$and\":[{"
                      "\"pricePence\":{\"$gte\":{\"$numberLong\":\"1\"}},"
                      "\"$or\":[{\"pricePence\":{\"$gt\":{\"$numberLong\":\"1\"}}},"
                      "{\"id\":{\"$gt\":\"{\\\"$gt\\\":\\\"\\\"}\"}}]}]}");
}
END_TEST

START_TEST(filter_keyset_and_text_together) {
  query.has_after = true;
  query.after.key = MS_2024_03_01_0930;
  snprintf(query.after.id, sizeof(query.after.id), "p-42");
  snprintf(query.text, sizeof(query.text), "mug");
  assert_filter(true,
                "{\"userId\":\"alice\",\"$and\":[{"
                "\"datePurchased\":{\"$lte\":{\"$date\":{\"$numberLong\":\"1709285400000\"}}},"
                "\"$or\":[{\"datePurchased\":{\"$lt\":{\"$date\":{\"$numberLong\":"
                "\"1709285400000\"}}}},{\"id\":{\"$lt\":\"p-42\"}}]},"
                "{\"$or\":[{\"items.title\":{\"$regex\":\"mug\",\"$options\":\"i\"}},"
                "{\"items.brand\":{\"$regex\":\"mug\",\"$options\":\"i\"}}]}]}");
  assert_filter(false, "{\"userId\":\"alice\",\"$and\":["
                       "{\"$or\":[{\"items.title\":{\"$regex\":\"mug\",\"$options\":\"i\"}},"
                       "{\"items.brand\":{\"$regex\":\"mug\",\"$options\":\"i\"}}]}]}");
}
END_TEST

START_TEST(filter_everything_at_once) {
  query.sort = PURCHASE_SORT_PRICE_DESC;
  query.statuses = STATUS_PAID | STATUS_SHIPPED;
  query.has_from = true;
  query.from_ms = MS_2024_03_01;
  query.has_to = true;
  query.to_ms = MS_2024_03_02;
  query.has_min_price = true;
  query.min_price_pence = 100;
  query.has_max_price = true;
  query.max_price_pence = 5000;
  snprintf(query.currency, sizeof(query.currency), "EUR");
  snprintf(query.text, sizeof(query.text), "a+b");
  query.has_after = true;
  query.after.key = 2500;
  snprintf(query.after.id, sizeof(query.after.id), "p-9");
  assert_filter(true, "{\"userId\":\"alice\","
                      "\"status\":{\"$in\":[\"paid\",\"shipped\"]},"
                      "\"datePurchased\":{\"$gte\":{\"$date\":{\"$numberLong\":\"1709251200000\"}},"
                      "\"$lt\":{\"$date\":{\"$numberLong\":\"1709337600000\"}}},"
                      "\"pricePence\":{\"$gte\":{\"$numberLong\":\"100\"},"
                      "\"$lte\":{\"$numberLong\":\"5000\"}},"
                      "\"currency\":\"EUR\","
                      "\"$and\":[{\"pricePence\":{\"$lte\":{\"$numberLong\":\"2500\"}},"
                      "\"$or\":[{\"pricePence\":{\"$lt\":{\"$numberLong\":\"2500\"}}},"
                      "{\"id\":{\"$lt\":\"p-9\"}}]},"
                      "{\"$or\":[{\"items.title\":{\"$regex\":\"a\\\\+b\",\"$options\":\"i\"}},"
                      "{\"items.brand\":{\"$regex\":\"a\\\\+b\",\"$options\":\"i\"}}]}]}");
}
END_TEST

/* --- purchase_query_sort ----------------------------------------------- */

START_TEST(sort_documents) {
  query.sort = PURCHASE_SORT_DATE_DESC;
  assert_sort("{\"datePurchased\":{\"$numberInt\":\"-1\"},\"id\":{\"$numberInt\":\"-1\"}}");
  query.sort = PURCHASE_SORT_DATE_ASC;
  assert_sort("{\"datePurchased\":{\"$numberInt\":\"1\"},\"id\":{\"$numberInt\":\"1\"}}");
  query.sort = PURCHASE_SORT_PRICE_DESC;
  assert_sort("{\"pricePence\":{\"$numberInt\":\"-1\"},\"id\":{\"$numberInt\":\"-1\"}}");
  query.sort = PURCHASE_SORT_PRICE_ASC;
  assert_sort("{\"pricePence\":{\"$numberInt\":\"1\"},\"id\":{\"$numberInt\":\"1\"}}");
}
END_TEST

START_TEST(sort_documents_of_a_previous_page_walk_backwards) {
  query.has_after = true;
  query.before = true;
  snprintf(query.after.id, sizeof(query.after.id), "p-1");
  query.sort = PURCHASE_SORT_DATE_DESC;
  assert_sort("{\"datePurchased\":{\"$numberInt\":\"1\"},\"id\":{\"$numberInt\":\"1\"}}");
  query.sort = PURCHASE_SORT_PRICE_ASC;
  assert_sort("{\"pricePence\":{\"$numberInt\":\"-1\"},\"id\":{\"$numberInt\":\"-1\"}}");
  /* `before` means nothing without a cursor: a first page walks forwards. */
  query.has_after = false;
  assert_sort("{\"pricePence\":{\"$numberInt\":\"1\"},\"id\":{\"$numberInt\":\"1\"}}");
}
END_TEST

/* --- purchase_query_projection ----------------------------------------- */

START_TEST(projection_without_fields_drops_only_the_object_id) {
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"}}");
  query.sort = PURCHASE_SORT_PRICE_ASC;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"}}");
}
END_TEST

START_TEST(projection_adds_id_and_the_sort_key) {
  query.fields = FIELD_STATUS;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"status\":{\"$numberInt\":\"1\"},\"datePurchased\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
  query.sort = PURCHASE_SORT_PRICE_ASC;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"status\":{\"$numberInt\":\"1\"},\"pricePence\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
}
END_TEST

START_TEST(projection_does_not_repeat_the_sort_key_or_id) {
  query.sort = PURCHASE_SORT_PRICE_DESC;
  query.fields = FIELD_ID | FIELD_PRICE;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"pricePence\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
  query.sort = PURCHASE_SORT_DATE_ASC;
  query.fields = FIELD_DATE;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"datePurchased\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
}
END_TEST

START_TEST(projection_keeps_the_contract_order) {
  query.sort = PURCHASE_SORT_PRICE_ASC;
  query.fields = FIELD_DELIVERY | FIELD_CURRENCY | FIELD_ITEMS;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"items\":{\"$numberInt\":\"1\"},\"pricePence\":{\"$numberInt\":\"1\"},"
                    "\"currency\":{\"$numberInt\":\"1\"},\"delivery\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
}
END_TEST

START_TEST(projection_of_every_field) {
  query.fields = 0x1ff;
  assert_projection("{\"_id\":{\"$numberInt\":\"0\"},\"id\":{\"$numberInt\":\"1\"},"
                    "\"userId\":{\"$numberInt\":\"1\"},\"status\":{\"$numberInt\":\"1\"},"
                    "\"items\":{\"$numberInt\":\"1\"},\"pricePence\":{\"$numberInt\":\"1\"},"
                    "\"currency\":{\"$numberInt\":\"1\"},\"datePurchased\":{\"$numberInt\":\"1\"},"
                    "\"payment\":{\"$numberInt\":\"1\"},\"delivery\":{\"$numberInt\":\"1\"},"
                    "\"pendingChange\":{\"$numberInt\":\"1\"}}");
}
END_TEST

START_TEST(filter_clauses_are_off_by_default) {
  for (int f = PURCHASE_FILTER_NONE; f <= PURCHASE_FILTER_COUNT; f++) {
    ck_assert_msg(!purchase_filter_active(&query, (enum purchase_filter)f), "clause %d on", f);
  }
  assert_filter(true, "{\"userId\":\"alice\"}");
}
END_TEST

START_TEST(filter_clause_active_per_field) {
  query.statuses = STATUS_PAID;
  ck_assert(purchase_filter_active(&query, PURCHASE_FILTER_STATUS));
  query.has_to = true;
  ck_assert(purchase_filter_active(&query, PURCHASE_FILTER_DATE));
  query.has_min_price = true;
  ck_assert(purchase_filter_active(&query, PURCHASE_FILTER_PRICE));
  snprintf(query.currency, sizeof(query.currency), "GBP");
  ck_assert(purchase_filter_active(&query, PURCHASE_FILTER_CURRENCY));
  snprintf(query.text, sizeof(query.text), "mug");
  ck_assert(purchase_filter_active(&query, PURCHASE_FILTER_TEXT));
  ck_assert(!purchase_filter_active(&query, PURCHASE_FILTER_NONE));
  ck_assert(!purchase_filter_active(&query, PURCHASE_FILTER_COUNT));
}
END_TEST

Suite *suite_purchase_query(void) {
  Suite *suite = suite_create("purchase_query");
  TCase *pattern = tcase_create("purchase_text_pattern");
  TCase *names = tcase_create("names");
  TCase *filter = tcase_create("purchase_query_filter");
  TCase *sort = tcase_create("purchase_query_sort");
  TCase *projection = tcase_create("purchase_query_projection");

  tcase_add_test(pattern, pattern_keeps_letters_digits_and_spaces);
  tcase_add_test(pattern, pattern_keeps_non_ascii);
  tcase_add_test(pattern, pattern_escapes_every_ascii_punctuation);
  tcase_add_test(pattern, pattern_escapes_within_text);
  tcase_add_test(pattern, pattern_false_when_out_too_small);
  tcase_add_test(pattern, pattern_longest_text_all_escaped_fits);
  suite_add_tcase(suite, pattern);

  tcase_add_test(names, status_index_of_every_status);
  tcase_add_test(names, status_index_of_unknown_names);
  tcase_add_test(names, sort_names_fields_and_directions);
  suite_add_tcase(suite, names);

  tcase_add_checked_fixture(filter, setup, NULL);
  tcase_add_test(filter, filter_bare_user);
  tcase_add_test(filter, filter_user_id_stays_a_string);
  tcase_add_test(filter, filter_one_status_is_equality);
  tcase_add_test(filter, filter_several_statuses_are_in);
  tcase_add_test(filter, filter_date_range);
  tcase_add_test(filter, filter_date_from_or_to_alone);
  tcase_add_test(filter, filter_price_range_is_int64);
  tcase_add_test(filter, filter_price_min_or_max_alone);
  tcase_add_test(filter, filter_currency);
  tcase_add_test(filter, filter_text);
  tcase_add_test(filter, filter_text_operator_stays_literal);
  tcase_add_test(filter, filter_keyset_date_descending);
  tcase_add_test(filter, filter_keyset_date_ascending);
  tcase_add_test(filter, filter_keyset_price_descending);
  tcase_add_test(filter, filter_keyset_before_turns_every_bound_round);
  tcase_add_test(filter, filter_keyset_price_ascending);
  tcase_add_test(filter, filter_keyset_left_out_without_from_position);
  tcase_add_test(filter, filter_keyset_left_out_without_a_position);
  tcase_add_test(filter, filter_keyset_id_stays_a_string);
  tcase_add_test(filter, filter_keyset_and_text_together);
  tcase_add_test(filter, filter_everything_at_once);
  tcase_add_test(filter, filter_clauses_are_off_by_default);
  tcase_add_test(filter, filter_clause_active_per_field);
  suite_add_tcase(suite, filter);

  tcase_add_checked_fixture(sort, setup, NULL);
  tcase_add_test(sort, sort_documents);
  tcase_add_test(sort, sort_documents_of_a_previous_page_walk_backwards);
  suite_add_tcase(suite, sort);

  tcase_add_checked_fixture(projection, setup, NULL);
  tcase_add_test(projection, projection_without_fields_drops_only_the_object_id);
  tcase_add_test(projection, projection_adds_id_and_the_sort_key);
  tcase_add_test(projection, projection_does_not_repeat_the_sort_key_or_id);
  tcase_add_test(projection, projection_keeps_the_contract_order);
  tcase_add_test(projection, projection_of_every_field);
  suite_add_tcase(suite, projection);
  return suite;
}
