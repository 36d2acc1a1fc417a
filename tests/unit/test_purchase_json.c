#include <math.h>
#include <string.h>

#include <bson/bson.h>
#include <check.h>
#include <jansson.h>

#include "models/purchase_json.h"
#include "suites.h"

#define DATE_2023_12_10 1702166400000LL

static const char *const PURCHASE_KEYS[] = {"id",         "userId",   "status",        "items",
                                            "pricePence", "currency", "datePurchased", "payment",
                                            "delivery",   NULL};
static const char *const ITEM_KEYS[] = {
    "id",       "title",    "brand",           "imgUrl", "pricePerUnitPence",
    "currency", "quantity", "priceTotalPence", NULL};
static const char *const PAYMENT_KEYS[] = {"method", "lastDigits", "receiptUrl", NULL};
static const char *const DELIVERY_KEYS[] = {"method", "storeLocation", "dateDelivered", NULL};

/* Asserts that `j_object` has exactly `keys`, in that order. */
static void assert_keys_in_order(const json_t *j_object, const char *const *keys) {
  void *iter;
  size_t i = 0;
  ck_assert(json_is_object(j_object));
  for (iter = json_object_iter((json_t *)j_object); iter != NULL;
       iter = json_object_iter_next((json_t *)j_object, iter), i++) {
    ck_assert_ptr_nonnull(keys[i]);
    ck_assert_str_eq(json_object_iter_key(iter), keys[i]);
  }
  ck_assert_ptr_null(keys[i]);
}

static const char *str_at(const json_t *j_object, const char *key) {
  const json_t *j_value = json_object_get(j_object, key);
  ck_assert_msg(json_is_string(j_value), "%s is not a string", key);
  return json_string_value(j_value);
}

static json_int_t int_at(const json_t *j_object, const char *key) {
  const json_t *j_value = json_object_get(j_object, key);
  ck_assert_msg(json_is_integer(j_value), "%s is not an integer", key);
  return json_integer_value(j_value);
}

static void assert_null_at(const json_t *j_object, const char *key) {
  const json_t *j_value = json_object_get(j_object, key);
  ck_assert_msg(j_value != NULL, "%s is missing", key);
  ck_assert_msg(json_is_null(j_value), "%s is not null", key);
}

/* A complete stored purchase, with an _id and a stray field as MongoDB
 * might hold them. The caller destroys it. */
static bson_t *full_purchase(void) {
  bson_oid_t oid;
  bson_oid_init_from_string(&oid, "65758a2f1c2d3e4f5a6b7c8d");
  return BCON_NEW("_id", BCON_OID(&oid), "id", BCON_UTF8("p-1"), "userId", BCON_UTF8("alice"),
                  "status", BCON_UTF8("delivered"), "items", "[", "{", "id", BCON_UTF8("i-1"),
                  "title", BCON_UTF8("Kettle"), "brand", BCON_UTF8("Acme"), "imgUrl",
                  BCON_UTF8("https://img.example.com/k.png"), "pricePerUnitPence", BCON_INT32(1999),
                  "currency", BCON_UTF8("GBP"), "quantity", BCON_INT32(2), "priceTotalPence",
                  BCON_INT64(3998), "}", "]", "pricePence", BCON_INT64(3998), "currency",
                  BCON_UTF8("GBP"), "datePurchased", BCON_DATE_TIME(DATE_2023_12_10),
                  "internalNote", BCON_UTF8("secret"), "payment", "{", "method", BCON_UTF8("card"),
                  "lastDigits", BCON_UTF8("4242"), "receiptUrl",
                  BCON_UTF8("https://r.example.com/1"), "}", "delivery", "{", "method",
                  BCON_UTF8("click-and-collect"), "storeLocation", BCON_UTF8("Leeds"),
                  "dateDelivered", BCON_DATE_TIME(DATE_2023_12_10 + 86400000LL), "}");
}

/* Maps a document holding only `pricePence` as built by the caller. */
static json_t *map_price(bson_t *doc) {
  json_t *j_purchase = purchase_to_json(doc);
  bson_destroy(doc);
  ck_assert_ptr_nonnull(j_purchase);
  return j_purchase;
}

START_TEST(format_date_epoch) {
  char buf[PURCHASE_DATE_LEN];
  ck_assert(purchase_format_date(0, buf));
  ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(format_date_known_day) {
  char buf[PURCHASE_DATE_LEN];
  ck_assert(purchase_format_date(DATE_2023_12_10, buf));
  ck_assert_str_eq(buf, "2023-12-10T00:00:00.000Z");
}
END_TEST

START_TEST(format_date_keeps_milliseconds) {
  char buf[PURCHASE_DATE_LEN];
  ck_assert(purchase_format_date(DATE_2023_12_10 + 3723045LL, buf));
  ck_assert_str_eq(buf, "2023-12-10T01:02:03.045Z");
}
END_TEST

START_TEST(format_date_negative_millisecond) {
  char buf[PURCHASE_DATE_LEN];
  ck_assert(purchase_format_date(-1, buf));
  ck_assert_str_eq(buf, "1969-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(format_date_range_edges) {
  char buf[PURCHASE_DATE_LEN];
  ck_assert(purchase_format_date(-62167219200000LL, buf));
  ck_assert_str_eq(buf, "0000-01-01T00:00:00.000Z");
  ck_assert(purchase_format_date(253402300799999LL, buf));
  ck_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(format_date_year_10000_is_out_of_range) {
  char buf[PURCHASE_DATE_LEN];
  memset(buf, 'x', sizeof(buf));
  ck_assert(!purchase_format_date(253402300800000LL, buf));
  ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(format_date_before_year_0_is_out_of_range) {
  char buf[PURCHASE_DATE_LEN];
  memset(buf, 'x', sizeof(buf));
  ck_assert(!purchase_format_date(-62167219200001LL, buf));
  ck_assert_str_eq(buf, "");
  ck_assert(!purchase_format_date(INT64_MIN, buf));
  ck_assert(!purchase_format_date(INT64_MAX, buf));
}
END_TEST

START_TEST(null_document_gives_null) {
  ck_assert_ptr_null(purchase_to_json(NULL));
}
END_TEST

START_TEST(full_purchase_has_contract_keys_in_order) {
  bson_t *doc = full_purchase();
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_ptr_nonnull(j_purchase);
  assert_keys_in_order(j_purchase, PURCHASE_KEYS);
  assert_keys_in_order(json_array_get(json_object_get(j_purchase, "items"), 0), ITEM_KEYS);
  assert_keys_in_order(json_object_get(j_purchase, "payment"), PAYMENT_KEYS);
  assert_keys_in_order(json_object_get(j_purchase, "delivery"), DELIVERY_KEYS);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(full_purchase_values) {
  bson_t *doc = full_purchase();
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_ptr_nonnull(j_purchase);
  ck_assert_str_eq(str_at(j_purchase, "id"), "p-1");
  ck_assert_str_eq(str_at(j_purchase, "userId"), "alice");
  ck_assert_str_eq(str_at(j_purchase, "status"), "delivered");
  ck_assert_int_eq(int_at(j_purchase, "pricePence"), 3998);
  ck_assert_str_eq(str_at(j_purchase, "currency"), "GBP");
  ck_assert_str_eq(str_at(j_purchase, "datePurchased"), "2023-12-10T00:00:00.000Z");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(full_purchase_item_values) {
  bson_t *doc = full_purchase();
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_items = json_object_get(j_purchase, "items");
  json_t *j_item = json_array_get(j_items, 0);
  ck_assert(json_is_array(j_items));
  ck_assert_uint_eq(json_array_size(j_items), 1);
  ck_assert_str_eq(str_at(j_item, "id"), "i-1");
  ck_assert_str_eq(str_at(j_item, "title"), "Kettle");
  ck_assert_str_eq(str_at(j_item, "brand"), "Acme");
  ck_assert_str_eq(str_at(j_item, "imgUrl"), "https://img.example.com/k.png");
  ck_assert_int_eq(int_at(j_item, "pricePerUnitPence"), 1999);
  ck_assert_str_eq(str_at(j_item, "currency"), "GBP");
  ck_assert_int_eq(int_at(j_item, "quantity"), 2);
  ck_assert_int_eq(int_at(j_item, "priceTotalPence"), 3998);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(full_purchase_nested_objects) {
  bson_t *doc = full_purchase();
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_payment = json_object_get(j_purchase, "payment");
  json_t *j_delivery = json_object_get(j_purchase, "delivery");
  ck_assert_str_eq(str_at(j_payment, "method"), "card");
  ck_assert_str_eq(str_at(j_payment, "lastDigits"), "4242");
  ck_assert_str_eq(str_at(j_payment, "receiptUrl"), "https://r.example.com/1");
  ck_assert_str_eq(str_at(j_delivery, "method"), "click-and-collect");
  ck_assert_str_eq(str_at(j_delivery, "storeLocation"), "Leeds");
  ck_assert_str_eq(str_at(j_delivery, "dateDelivered"), "2023-12-11T00:00:00.000Z");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(id_and_unknown_fields_are_dropped) {
  bson_t *doc = full_purchase();
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_ptr_null(json_object_get(j_purchase, "_id"));
  ck_assert_ptr_null(json_object_get(j_purchase, "internalNote"));
  ck_assert_uint_eq(json_object_size(j_purchase), 9);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(unknown_nested_fields_are_dropped) {
  bson_t *doc = BCON_NEW("payment", "{", "method", BCON_UTF8("card"), "cardNumber",
                         BCON_UTF8("4242424242424242"), "}", "items", "[", "{", "id",
                         BCON_UTF8("i"), "cost", BCON_INT32(1), "}", "]");
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_payment = json_object_get(j_purchase, "payment");
  ck_assert_ptr_null(json_object_get(j_payment, "cardNumber"));
  ck_assert_uint_eq(json_object_size(j_payment), 3);
  ck_assert_ptr_null(
      json_object_get(json_array_get(json_object_get(j_purchase, "items"), 0), "cost"));
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(int32_is_read_as_integer) {
  json_t *j_purchase = map_price(BCON_NEW("pricePence", BCON_INT32(-7)));
  ck_assert_int_eq(int_at(j_purchase, "pricePence"), -7);
  json_decref(j_purchase);
}
END_TEST

START_TEST(int64_is_read_as_integer) {
  json_t *j_purchase = map_price(BCON_NEW("pricePence", BCON_INT64(5000000000LL)));
  ck_assert_int_eq(int_at(j_purchase, "pricePence"), 5000000000LL);
  json_decref(j_purchase);
}
END_TEST

START_TEST(integral_double_is_read_as_integer) {
  json_t *j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(1299.0)));
  ck_assert_int_eq(int_at(j_purchase, "pricePence"), 1299);
  json_decref(j_purchase);
  j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(9007199254740992.0)));
  ck_assert_int_eq(int_at(j_purchase, "pricePence"), 9007199254740992LL);
  json_decref(j_purchase);
}
END_TEST

START_TEST(non_integral_double_is_null) {
  json_t *j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(12.5)));
  assert_null_at(j_purchase, "pricePence");
  json_decref(j_purchase);
}
END_TEST

START_TEST(non_finite_or_huge_double_is_null) {
  json_t *j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(NAN)));
  assert_null_at(j_purchase, "pricePence");
  json_decref(j_purchase);
  j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(INFINITY)));
  assert_null_at(j_purchase, "pricePence");
  json_decref(j_purchase);
  j_purchase = map_price(BCON_NEW("pricePence", BCON_DOUBLE(1e300)));
  assert_null_at(j_purchase, "pricePence");
  json_decref(j_purchase);
}
END_TEST

START_TEST(missing_fields_are_null) {
  bson_t *doc = bson_new();
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_ptr_nonnull(j_purchase);
  assert_keys_in_order(j_purchase, PURCHASE_KEYS);
  for (size_t i = 0; PURCHASE_KEYS[i] != NULL; i++) {
    assert_null_at(j_purchase, PURCHASE_KEYS[i]);
  }
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(missing_nested_fields_are_null) {
  bson_t *doc = BCON_NEW("payment", "{", "}", "delivery", "{", "method", BCON_UTF8("post"), "}");
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_delivery = json_object_get(j_purchase, "delivery");
  assert_keys_in_order(json_object_get(j_purchase, "payment"), PAYMENT_KEYS);
  assert_null_at(json_object_get(j_purchase, "payment"), "method");
  assert_keys_in_order(j_delivery, DELIVERY_KEYS);
  ck_assert_str_eq(str_at(j_delivery, "method"), "post");
  assert_null_at(j_delivery, "storeLocation");
  assert_null_at(j_delivery, "dateDelivered");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(wrong_types_are_null) {
  bson_t *doc = BCON_NEW("id", BCON_INT32(1), "userId", BCON_NULL, "status", BCON_BOOL(true),
                         "items", "{", "0", "{", "id", BCON_UTF8("i"), "}", "}", "pricePence",
                         BCON_UTF8("1299"), "currency", "[", BCON_UTF8("GBP"), "]", "datePurchased",
                         BCON_UTF8("2023-12-10T00:00:00.000Z"), "payment", BCON_UTF8("card"),
                         "delivery", "[", "{", "method", BCON_UTF8("post"), "}", "]");
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_ptr_nonnull(j_purchase);
  for (size_t i = 0; PURCHASE_KEYS[i] != NULL; i++) {
    assert_null_at(j_purchase, PURCHASE_KEYS[i]);
  }
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(integer_and_date_stored_as_other_numbers_are_null) {
  bson_t *doc =
      BCON_NEW("pricePence", BCON_BOOL(true), "datePurchased", BCON_INT64(DATE_2023_12_10));
  json_t *j_purchase = purchase_to_json(doc);
  assert_null_at(j_purchase, "pricePence");
  assert_null_at(j_purchase, "datePurchased");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(date_out_of_range_is_null) {
  bson_t *doc = BCON_NEW("datePurchased", BCON_DATE_TIME(253402300800000LL));
  json_t *j_purchase = purchase_to_json(doc);
  assert_null_at(j_purchase, "datePurchased");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(date_before_epoch_is_an_iso_string) {
  bson_t *doc = BCON_NEW("datePurchased", BCON_DATE_TIME(-1));
  json_t *j_purchase = purchase_to_json(doc);
  ck_assert_str_eq(str_at(j_purchase, "datePurchased"), "1969-12-31T23:59:59.999Z");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(null_date_delivered_is_null) {
  bson_t *doc = BCON_NEW("delivery", "{", "method", BCON_UTF8("post"), "storeLocation", BCON_NULL,
                         "dateDelivered", BCON_NULL, "}");
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_delivery = json_object_get(j_purchase, "delivery");
  ck_assert(json_is_object(j_delivery));
  assert_null_at(j_delivery, "dateDelivered");
  assert_null_at(j_delivery, "storeLocation");
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(empty_items_array_is_empty_array) {
  bson_t *doc = BCON_NEW("items", "[", "]");
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_items = json_object_get(j_purchase, "items");
  ck_assert(json_is_array(j_items));
  ck_assert_uint_eq(json_array_size(j_items), 0);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(items_keep_order_and_non_documents_become_null) {
  bson_t *doc =
      BCON_NEW("items", "[", "{", "id", BCON_UTF8("first"), "}", BCON_UTF8("junk"), BCON_INT32(3),
               "[", "]", "{", "id", BCON_UTF8("last"), "quantity", BCON_DOUBLE(2.0), "}", "]");
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_items = json_object_get(j_purchase, "items");
  ck_assert_uint_eq(json_array_size(j_items), 5);
  ck_assert_str_eq(str_at(json_array_get(j_items, 0), "id"), "first");
  assert_null_at(json_array_get(j_items, 0), "quantity");
  ck_assert(json_is_null(json_array_get(j_items, 1)));
  ck_assert(json_is_null(json_array_get(j_items, 2)));
  ck_assert(json_is_null(json_array_get(j_items, 3)));
  assert_keys_in_order(json_array_get(j_items, 4), ITEM_KEYS);
  ck_assert_str_eq(str_at(json_array_get(j_items, 4), "id"), "last");
  ck_assert_int_eq(int_at(json_array_get(j_items, 4), "quantity"), 2);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(string_with_embedded_nul_is_kept_whole) {
  bson_t *doc = bson_new();
  json_t *j_purchase;
  ck_assert(bson_append_utf8(doc, "id", -1, "a\0b", 3));
  j_purchase = purchase_to_json(doc);
  ck_assert_ptr_nonnull(j_purchase);
  ck_assert_uint_eq(json_string_length(json_object_get(j_purchase, "id")), 3);
  json_decref(j_purchase);
  bson_destroy(doc);
}
END_TEST

START_TEST(invalid_utf8_string_is_null_not_a_failure) {
  /* The contract: a value of the wrong shape comes out as null, and NULL
   * means out of memory. A stored string that is not UTF-8 is the former. */
  bson_t *doc = bson_new();
  json_t *j_purchase;
  ck_assert(bson_append_utf8(doc, "id", -1, "p-1", -1));
  ck_assert(bson_append_utf8(doc, "status", -1, "\xff\xfe", 2));
  j_purchase = purchase_to_json(doc);
  bson_destroy(doc);
  ck_assert_ptr_nonnull(j_purchase);
  ck_assert_str_eq(str_at(j_purchase, "id"), "p-1");
  assert_null_at(j_purchase, "status");
  json_decref(j_purchase);
}
END_TEST

Suite *suite_purchase_json(void) {
  Suite *suite = suite_create("purchase_json");
  TCase *date = tcase_create("format_date");
  TCase *shape = tcase_create("shape");
  TCase *types = tcase_create("types");

  tcase_add_test(date, format_date_epoch);
  tcase_add_test(date, format_date_known_day);
  tcase_add_test(date, format_date_keeps_milliseconds);
  tcase_add_test(date, format_date_negative_millisecond);
  tcase_add_test(date, format_date_range_edges);
  tcase_add_test(date, format_date_year_10000_is_out_of_range);
  tcase_add_test(date, format_date_before_year_0_is_out_of_range);
  suite_add_tcase(suite, date);

  tcase_add_test(shape, null_document_gives_null);
  tcase_add_test(shape, full_purchase_has_contract_keys_in_order);
  tcase_add_test(shape, full_purchase_values);
  tcase_add_test(shape, full_purchase_item_values);
  tcase_add_test(shape, full_purchase_nested_objects);
  tcase_add_test(shape, id_and_unknown_fields_are_dropped);
  tcase_add_test(shape, unknown_nested_fields_are_dropped);
  tcase_add_test(shape, missing_fields_are_null);
  tcase_add_test(shape, missing_nested_fields_are_null);
  tcase_add_test(shape, empty_items_array_is_empty_array);
  tcase_add_test(shape, items_keep_order_and_non_documents_become_null);
  suite_add_tcase(suite, shape);

  tcase_add_test(types, int32_is_read_as_integer);
  tcase_add_test(types, int64_is_read_as_integer);
  tcase_add_test(types, integral_double_is_read_as_integer);
  tcase_add_test(types, non_integral_double_is_null);
  tcase_add_test(types, non_finite_or_huge_double_is_null);
  tcase_add_test(types, wrong_types_are_null);
  tcase_add_test(types, integer_and_date_stored_as_other_numbers_are_null);
  tcase_add_test(types, date_out_of_range_is_null);
  tcase_add_test(types, date_before_epoch_is_an_iso_string);
  tcase_add_test(types, null_date_delivered_is_null);
  tcase_add_test(types, string_with_embedded_nul_is_kept_whole);
  tcase_add_test(types, invalid_utf8_string_is_null_not_a_failure);
  suite_add_tcase(suite, types);
  return suite;
}
