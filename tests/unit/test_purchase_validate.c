#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "models/purchase_gen.h"
#include "models/purchase_json.h"
#include "models/purchase_validate.h"
#include "suites.h"

/* A valid purchase: two lines in GBP, delivered. */
static json_t *valid(void) {
  json_t *j = json_loads(
      "{\"id\": \"p-1\", \"userId\": \"u1\", \"status\": \"delivered\","
      " \"items\": ["
      "  {\"id\": \"kettle-blue\", \"title\": \"Blue Enamel Kettle\", \"brand\": \"Hearthware\","
      "   \"imgUrl\": \"https://img.example/k.jpg\", \"currency\": \"GBP\","
      "   \"pricePerUnitPence\": 3499, \"quantity\": 2, \"priceTotalPence\": 6998},"
      "  {\"id\": \"mug.set\", \"title\": \"Mug Set\", \"brand\": \"\", \"imgUrl\": null,"
      "   \"currency\": \"GBP\", \"pricePerUnitPence\": 2400, \"quantity\": 1,"
      "   \"priceTotalPence\": 2400}],"
      " \"pricePence\": 9398, \"currency\": \"GBP\","
      " \"datePurchased\": \"2024-04-18T10:17:19.039Z\","
      " \"payment\": {\"method\": \"card\", \"lastDigits\": \"4242\", \"receiptUrl\": null},"
      " \"delivery\": {\"method\": \"click_and_collect\", \"storeLocation\": \"Bristol\","
      "   \"dateDelivered\": \"2024-04-20\"}}",
      0, NULL);
  ck_assert_ptr_nonnull(j);
  return j;
}

/* Validates j (stolen) and asserts it fails with an error at `pointer`. */
static void assert_refused_at(json_t *j, const char *pointer) {
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  bool found = false;

  ck_assert(!purchase_validate(j, "made-1", &doc, &j_errors));
  ck_assert_ptr_nonnull(j_errors);
  for (size_t i = 0; i < json_array_size(j_errors); i++) {
    json_t *j_error = json_array_get(j_errors, i);
    const char *at = json_string_value(json_object_get(j_error, "pointer"));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j_error, "detail")));
    found = found || (at != NULL && strcmp(at, pointer) == 0);
  }
  ck_assert_msg(found, "no error at %s in %s", pointer, json_dumps(j_errors, 0));
  json_decref(j_errors);
  json_decref(j);
  bson_destroy(&doc);
}

START_TEST(a_valid_purchase_round_trips_to_the_same_json) {
  json_t *j = valid();
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  json_t *j_back;

  ck_assert(purchase_validate(j, "unused", &doc, &j_errors));
  ck_assert_ptr_null(j_errors);
  j_back = purchase_to_json(&doc);
  /* Dates come back in the one canonical form. */
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered",
                      json_string("2024-04-20T00:00:00.000Z"));
  ck_assert_msg(json_equal(j, j_back), "%s", json_dumps(j_back, 0));
  json_decref(j_back);
  json_decref(j);
  bson_destroy(&doc);
}
END_TEST

START_TEST(an_absent_id_is_the_one_given) {
  json_t *j = valid();
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  bson_iter_t iter;

  json_object_del(j, "id");
  ck_assert(purchase_validate(j, "k0123", &doc, &j_errors));
  ck_assert(bson_iter_init_find(&iter, &doc, "id"));
  ck_assert_str_eq(bson_iter_utf8(&iter, NULL), "k0123");
  json_decref(j);
  bson_destroy(&doc);
}
END_TEST

START_TEST(each_rule_names_its_field) {
  json_t *j;

  j = valid(), json_object_set_new(j, "colour", json_string("blue"));
  assert_refused_at(j, "/colour");
  j = valid(), json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "title",
                                   json_string("Fig\xc2\x9b"
                                               "31m"));
  assert_refused_at(j, "/items/0/title");
  j = valid(), json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "brand",
                                   json_string("G\xc2\x80"));
  assert_refused_at(j, "/items/0/brand");
  j = valid(), json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "brand",
                                   json_string("Caf\xc3\xa9 \xc2\xa0"
                                               "Co"));
  {
    /* Past C1, U+00A0 (no-break space) and the rest are text. */
    bson_t doc = BSON_INITIALIZER;
    json_t *j_errors = NULL;
    ck_assert(purchase_validate(j, "made-1", &doc, &j_errors));
    bson_destroy(&doc);
    json_decref(j);
  }
  j = valid(), json_object_set_new(j, "a/b~c", json_true());
  assert_refused_at(j, "/a~1b~0c");
  j = valid(), json_object_set_new(j, "caf\xc3\xa9", json_true());
  assert_refused_at(j, "/caf??");
  j = valid(), json_object_set_new(json_object_get(j, "payment"), "", json_true());
  assert_refused_at(j, "/payment/");
  j = valid(), json_object_set_new(j, "id", json_string("p.1"));
  assert_refused_at(j, "/id");
  j = valid(), json_object_del(j, "userId");
  assert_refused_at(j, "/userId");
  j = valid(), json_object_set_new(j, "userId", json_string("$ne"));
  assert_refused_at(j, "/userId");
  j = valid(), json_object_set_new(j, "status", json_string("lost"));
  assert_refused_at(j, "/status");
  j = valid(), json_object_set_new(j, "currency", json_string("gbp"));
  assert_refused_at(j, "/currency");
  j = valid(), json_object_set_new(j, "pricePence", json_integer(9399));
  assert_refused_at(j, "/pricePence");
  j = valid(), json_object_set_new(j, "pricePence", json_real(9398.0));
  assert_refused_at(j, "/pricePence");
  j = valid(), json_object_set_new(j, "datePurchased", json_string("2024-02-30"));
  assert_refused_at(j, "/datePurchased");
  j = valid(), json_object_set_new(j, "datePurchased", json_string("9999-01-01"));
  assert_refused_at(j, "/datePurchased");
  j = valid(), json_object_set_new(j, "items", json_array());
  assert_refused_at(j, "/items");
  j = valid(), json_object_set_new(j, "payment", json_string("card"));
  assert_refused_at(j, "/payment");
  j = valid(), json_object_set_new(json_object_get(j, "payment"), "method", json_string("iou"));
  assert_refused_at(j, "/payment/method");
  j = valid(), json_object_set_new(json_object_get(j, "delivery"), "storeLocation", json_null());
  assert_refused_at(j, "/delivery/storeLocation");
  j = valid(), json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_null());
  assert_refused_at(j, "/delivery/dateDelivered");
  j = valid(), json_object_set_new(json_object_get(j, "payment"), "receiptUrl",
                                   json_string("javascript:alert(1)"));
  assert_refused_at(j, "/payment/receiptUrl");
}
END_TEST

/* RFC 3986 section 2: a URI holds unreserved and reserved characters and
 * %XX escapes, nothing else; a space, a quote, a backslash or a byte
 * beyond ASCII is refused, as the other URL rules are (422). */
START_TEST(a_url_holds_only_the_characters_rfc_3986_allows) {
  static const struct {
    const char *url;
    bool valid;
  } CASES[] = {
      {"https://img.example/k.jpg", true},
      {"http://img.example/a-b_c.~d/e?f=g&h=i;j#k", true},
      {"https://u@img.example:8443/[x]/!$'()*+,=:@", true},
      {"https://img.example/a%20b%2Fc%e9", true},
      {"http://a b", false},
      {"https://img.example/a b.jpg", false},
      {"https://img.example/a\tb", false},
      {"https://img.example/\"k\".jpg", false},
      {"https://img.example/<k>.jpg", false},
      {"https://img.example\\evil/k.jpg", false},
      {"https://img.example/{k}|^`.jpg", false},
      {"https://img.example/caf\u00e9.jpg", false},
      {"https://img.example/%zz.jpg", false},
      {"https://img.example/%2", false},
      {"https://img.example/100%", false},
  };

  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    json_t *j = valid();
    json_t *j_item = json_array_get(json_object_get(j, "items"), 0);
    bson_t doc = BSON_INITIALIZER;
    json_t *j_errors = NULL;

    json_object_set_new(j_item, "imgUrl", json_string(CASES[i].url));
    if (!CASES[i].valid) {
      assert_refused_at(j, "/items/0/imgUrl");
      continue;
    }
    ck_assert_msg(purchase_validate(j, "made-1", &doc, &j_errors), "'%s' refused: %s", CASES[i].url,
                  j_errors != NULL ? json_dumps(j_errors, 0) : "");
    json_decref(j);
    bson_destroy(&doc);
  }
  /* The rule is the one of every URL field. */
  {
    json_t *j = valid();
    json_object_set_new(json_object_get(j, "payment"), "receiptUrl",
                        json_string("https://shop.example/receipts/r 1"));
    assert_refused_at(j, "/payment/receiptUrl");
  }
}
END_TEST

START_TEST(item_rules_point_into_the_item) {
  json_t *j;
  json_t *j_item;

  j = valid(), j_item = json_array_get(json_object_get(j, "items"), 1);
  json_object_set_new(j_item, "quantity", json_integer(0));
  assert_refused_at(j, "/items/1/quantity");
  j = valid(), j_item = json_array_get(json_object_get(j, "items"), 0);
  json_object_set_new(j_item, "priceTotalPence", json_integer(6999));
  assert_refused_at(j, "/items/0/priceTotalPence");
  j = valid(), j_item = json_array_get(json_object_get(j, "items"), 0);
  json_object_set_new(j_item, "currency", json_string("EUR"));
  assert_refused_at(j, "/items/0/currency");
  j = valid(), j_item = json_array_get(json_object_get(j, "items"), 0);
  json_object_set_new(j_item, "title", json_string("tab\there"));
  assert_refused_at(j, "/items/0/title");
  j = valid(), j_item = json_array_get(json_object_get(j, "items"), 0);
  json_object_set_new(j_item, "a/b~c", json_true());
  assert_refused_at(j, "/items/0/a~1b~0c");
  j = valid();
  json_array_append_new(json_object_get(j, "items"), json_integer(3));
  assert_refused_at(j, "/items/2");
}
END_TEST

START_TEST(card_numbers_are_refused_without_being_repeated) {
  json_t *j = valid();
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  char *text;

  json_object_set_new(json_object_get(j, "payment"), "lastDigits", json_string("4111111111111111"));
  ck_assert(!purchase_validate(j, "x", &doc, &j_errors));
  text = json_dumps(j_errors, 0);
  ck_assert_ptr_null(strstr(text, "4111"));
  ck_assert_ptr_nonnull(strstr(text, "/payment/lastDigits"));
  free(text);
  json_decref(j_errors);
  json_decref(j);
  bson_destroy(&doc);
}
END_TEST

START_TEST(every_error_is_reported_up_to_the_cap) {
  json_t *j = json_object();
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  json_t *j_items = json_array();

  for (int i = 0; i < 200; i++) {
    json_array_append_new(j_items, json_object());
  }
  json_object_set_new(j, "items", j_items);
  ck_assert(!purchase_validate(j, "x", &doc, &j_errors));
  ck_assert_uint_eq(json_array_size(j_errors), PURCHASE_ERRORS_MAX);
  json_decref(j_errors);
  json_decref(j);
  bson_destroy(&doc);

  j = json_array();
  bson_init(&doc);
  ck_assert(!purchase_validate(j, "x", &doc, &j_errors));
  ck_assert_uint_eq(json_array_size(j_errors), 1);
  json_decref(j_errors);
  json_decref(j);
  bson_destroy(&doc);
}
END_TEST

START_TEST(body_hash_ignores_key_order_and_spacing) {
  json_t *a = json_loads("{\"a\": 1, \"b\": [1, 2, {\"c\": \"d\"}]}", 0, NULL);
  json_t *b = json_loads("{ \"b\":[1,2,{\"c\":\"d\"}],\n\"a\":1 }", 0, NULL);
  json_t *c = json_loads("{\"a\": 2, \"b\": [1, 2, {\"c\": \"d\"}]}", 0, NULL);
  char ha[65];
  char hb[65];
  char hc[65];

  ck_assert(purchase_body_hash(a, ha));
  ck_assert(purchase_body_hash(b, hb));
  ck_assert(purchase_body_hash(c, hc));
  ck_assert_uint_eq(strlen(ha), 64);
  ck_assert_str_eq(ha, hb);
  ck_assert_str_ne(ha, hc);
  json_decref(a);
  json_decref(b);
  json_decref(c);
}
END_TEST

/* Validates j (stolen), which must fail, and returns how many errors it
 * gave; *detail (when not NULL) gets a copy of the detail at `pointer`, or
 * NULL when there is none. */
static size_t refuse(json_t *j, const char *pointer, char **detail) {
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  size_t count;

  ck_assert(!purchase_validate(j, "made-1", &doc, &j_errors));
  count = json_array_size(j_errors);
  if (detail != NULL) {
    *detail = NULL;
    for (size_t i = 0; i < count; i++) {
      json_t *j_error = json_array_get(j_errors, i);
      const char *at = json_string_value(json_object_get(j_error, "pointer"));
      if (at != NULL && strcmp(at, pointer) == 0 && *detail == NULL) {
        *detail = strdup(json_string_value(json_object_get(j_error, "detail")));
      }
    }
  }
  json_decref(j_errors);
  json_decref(j);
  bson_destroy(&doc);
  return count;
}

/* The detail at `pointer` when j (stolen) is refused equals `expected`. */
static void assert_detail(json_t *j, const char *pointer, const char *expected) {
  char *detail = NULL;

  refuse(j, pointer, &detail);
  ck_assert_msg(detail != NULL, "no error at %s", pointer);
  ck_assert_str_eq(detail, expected);
  free(detail);
}

START_TEST(messages_are_written_from_the_schema) {
  json_t *j;

  j = valid(), json_object_set_new(j, "status", json_string("lost"));
  assert_detail(j, "/status", "must be placed, paid, shipped, delivered, cancelled or refunded");
  j = valid(), json_object_set_new(j, "payment", json_string("card"));
  assert_detail(j, "/payment", "must be an object with method, lastDigits and receiptUrl");
  j = valid(), json_object_del(j, "delivery");
  assert_detail(j, "/delivery", "must be an object with method, storeLocation and dateDelivered");
  j = valid(), json_object_set_new(json_object_get(j, "delivery"), "method", json_string("drone"));
  assert_detail(j, "/delivery/method", "must be standard, express or click_and_collect");
  j = valid(), json_object_set_new(json_object_get(j, "payment"), "method", json_string("iou"));
  assert_detail(j, "/payment/method",
                "must be card, apple_pay, paypal, gift_card, klarna or bank_transfer");
  j = valid(), json_object_set_new(j, "items", json_array());
  assert_detail(j, "/items", "must be an array of 1 to 500 items");
  j = valid();
  json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "title", json_string(""));
  assert_detail(j, "/items/0/title", "must be 1 to 200 characters");
  j = valid();
  json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "quantity",
                      json_integer(10001));
  assert_detail(j, "/items/0/quantity", "must be a whole number from 1 to 10000");
  j = valid(), json_object_set_new(j, "userId", json_null());
  assert_detail(j, "/userId", "is required");
  j = valid(), json_object_del(json_object_get(j, "delivery"), "storeLocation");
  assert_detail(j, "/delivery/storeLocation", "is required (null if none)");
}
END_TEST

START_TEST(a_rule_between_fields_waits_for_the_fields_it_compares) {
  json_t *j;
  char *detail;

  /* A quantity out of range is one error: neither the item's total nor the
   * purchase's price is blamed for it. */
  j = valid();
  json_object_set_new(json_array_get(json_object_get(j, "items"), 1), "quantity", json_integer(0));
  ck_assert_uint_eq(refuse(j, "/items/1/quantity", NULL), 1);
  /* A currency that is no code is not compared with the items'. */
  j = valid(), json_object_set_new(j, "currency", json_string("gbp"));
  ck_assert_uint_eq(refuse(j, "/currency", NULL), 1);
  /* A status that is no status asks for no delivery date. */
  j = valid(), json_object_set_new(j, "status", json_string("lost"));
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_null());
  ck_assert_uint_eq(refuse(j, "/status", NULL), 1);
  /* An unknown delivery method asks for no store. */
  j = valid(), json_object_set_new(json_object_get(j, "delivery"), "method", json_string("x"));
  json_object_set_new(json_object_get(j, "delivery"), "storeLocation", json_null());
  ck_assert_uint_eq(refuse(j, "/delivery/method", NULL), 1);
  /* Sound fields that disagree: the rule between them speaks. */
  j = valid();
  json_object_set_new(json_array_get(json_object_get(j, "items"), 0), "currency",
                      json_string("EUR"));
  ck_assert_uint_eq(refuse(j, "/items/0/currency", &detail), 1);
  ck_assert_str_eq(detail, "must be the purchase's currency");
  free(detail);
  j = valid(), json_object_set_new(j, "status", json_string("delivered"));
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_null());
  ck_assert_uint_eq(refuse(j, "/delivery/dateDelivered", &detail), 1);
  ck_assert_str_eq(detail, "is required when the status is delivered");
  free(detail);
}
END_TEST

/* The generator writes what the schema describes, in its order and BSON
 * types: every generated purchase, read as JSON and validated, builds the
 * same bytes again. */
/* The date a purchase was delivered: not before it was made, not ahead of
 * now by more than the slack; the same rule for a change to delivered. */
START_TEST(a_delivery_date_follows_the_purchase_and_not_far_ahead_of_now) {
  json_t *j = valid();
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_string("2024-04-17"));
  assert_refused_at(j, "/delivery/dateDelivered");
  j = valid();
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_string("2999-01-01"));
  assert_refused_at(j, "/delivery/dateDelivered");
  /* The day of the purchase as a plain date (its midnight, before the
   * purchase's 10:17): delivered that day, which may stand. */
  j = valid();
  json_object_set_new(json_object_get(j, "delivery"), "dateDelivered", json_string("2024-04-18"));
  bson_t doc = BSON_INITIALIZER;
  json_t *j_errors = NULL;
  ck_assert_msg(purchase_validate(j, "made-1", &doc, &j_errors), "%s", json_dumps(j_errors, 0));
  bson_destroy(&doc);
  json_decref(j);

  /* 2024-04-18T10:17:19.039Z; the day before ends at 1713398400000 - 1. */
  const int64_t made = 1713435439039;
  char detail[96];
  ck_assert(!purchase_delivery_date_fault(made, made - 36000000, made, detail, sizeof(detail)));
  ck_assert(purchase_delivery_date_fault(made, 1713398399999, made, detail, sizeof(detail)));
  ck_assert_str_eq(detail, "must not be before the day of datePurchased");
  ck_assert(
      purchase_delivery_date_fault(0, made + 25LL * 3600 * 1000, made, detail, sizeof(detail)));
  ck_assert_str_eq(detail, "must not be more than a day in the future");
  ck_assert(
      !purchase_delivery_date_fault(0, made + 23LL * 3600 * 1000, made, detail, sizeof(detail)));
  /* Before 1970 the days count down: 1969-12-31 is before 1970-01-01. */
  ck_assert(purchase_delivery_date_fault(0, -1, made, detail, sizeof(detail)));
  ck_assert(!purchase_delivery_date_fault(-1, -86400000, made, detail, sizeof(detail)));
}
END_TEST

/* Totals stay below 2^53 (and within 15 digits, what the price filters
 * read): 10^12 pence times 10,000 would not. */
START_TEST(totals_are_exact_in_any_json_reader) {
  json_t *j = valid();
  json_t *j_item = json_array_get(json_object_get(j, "items"), 0);
  json_array_remove(json_object_get(j, "items"), 1);
  json_object_set_new(j_item, "pricePerUnitPence", json_integer(1000000000000));
  json_object_set_new(j_item, "quantity", json_integer(1000));
  json_object_set_new(j_item, "priceTotalPence", json_integer(1000000000000000));
  json_object_set_new(j, "pricePence", json_integer(1000000000000000));
  assert_refused_at(j, "/items/0/priceTotalPence");
  j = valid();
  json_object_set_new(j, "pricePence", json_integer(1000000000000000));
  assert_refused_at(j, "/pricePence");
}
END_TEST

START_TEST(every_generated_purchase_keeps_the_schema) {
  for (uint32_t user = 0; user < 300; user++) {
    for (uint32_t index = 0; index < 3; index++) {
      bson_t generated = BSON_INITIALIZER;
      bson_t built = BSON_INITIALIZER;
      json_t *j_errors = NULL;
      json_t *j;

      purchase_gen_document(7, user, index, &generated);
      j = purchase_to_json(&generated);
      ck_assert_ptr_nonnull(j);
      ck_assert_msg(purchase_validate(j, "unused", &built, &j_errors), "user %u #%u: %s", user,
                    index, j_errors != NULL ? json_dumps(j_errors, 0) : "");
      ck_assert_msg(bson_equal(&generated, &built), "user %u #%u is stored differently", user,
                    index);
      json_decref(j);
      bson_destroy(&generated);
      bson_destroy(&built);
    }
  }
}
END_TEST

Suite *suite_purchase_validate(void) {
  Suite *suite = suite_create("purchase_validate");
  TCase *tc = tcase_create("purchase_validate");

  tcase_add_test(tc, a_valid_purchase_round_trips_to_the_same_json);
  tcase_add_test(tc, an_absent_id_is_the_one_given);
  tcase_add_test(tc, each_rule_names_its_field);
  tcase_add_test(tc, item_rules_point_into_the_item);
  tcase_add_test(tc, a_url_holds_only_the_characters_rfc_3986_allows);
  tcase_add_test(tc, card_numbers_are_refused_without_being_repeated);
  tcase_add_test(tc, every_error_is_reported_up_to_the_cap);
  tcase_add_test(tc, body_hash_ignores_key_order_and_spacing);
  tcase_add_test(tc, messages_are_written_from_the_schema);
  tcase_add_test(tc, a_rule_between_fields_waits_for_the_fields_it_compares);
  tcase_add_test(tc, a_delivery_date_follows_the_purchase_and_not_far_ahead_of_now);
  tcase_add_test(tc, totals_are_exact_in_any_json_reader);
  tcase_add_test(tc, every_generated_purchase_keeps_the_schema);
  suite_add_tcase(suite, tc);
  return suite;
}
