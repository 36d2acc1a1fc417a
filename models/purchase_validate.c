#include "models/purchase_validate.h"

#include "lib/ids.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "models/dates.h"
#include "models/purchase.h"

#define POINTER_MAX     96
#define TITLE_MAX       200
#define BRAND_MAX       100
#define URL_MAX         2048
#define PRICE_MAX       1000000000000LL /* 10^12 minor units */
#define QUANTITY_MAX    10000
#define FUTURE_SLACK_MS (24LL * 3600 * 1000)

static const char *const PURCHASE_FIELDS[] = {"id",         "userId",   "status",        "items",
                                              "pricePence", "currency", "datePurchased", "payment",
                                              "delivery",   NULL};
static const char *const ITEM_FIELDS[] = {"id",       "title",           "brand",
                                          "imgUrl",   "currency",        "pricePerUnitPence",
                                          "quantity", "priceTotalPence", NULL};
static const char *const PAYMENT_FIELDS[] = {"method", "lastDigits", "receiptUrl", NULL};
static const char *const DELIVERY_FIELDS[] = {"method", "storeLocation", "dateDelivered", NULL};
static const char *const PAYMENT_METHODS[] = {"card",   "apple_pay",     "paypal", "gift_card",
                                              "klarna", "bank_transfer", NULL};
static const char *const DELIVERY_METHODS[] = {"standard", "express", "click_and_collect", NULL};

/* The errors found so far. */
struct checker {
  json_t *j_errors;
  int64_t now_ms;
};

static void fail(struct checker *c, const char *pointer, const char *detail) {
  if (json_array_size(c->j_errors) < PURCHASE_ERRORS_MAX) {
    json_array_append_new(c->j_errors, json_pack("{ss ss}", "pointer", pointer, "detail", detail));
  }
}

/* base + "/" + name as a JSON pointer ('~' and '/' escaped). A name that is
 * not plain ASCII (only unknown fields can be) shows '?' for those bytes. */
static void pointer_of(char out[POINTER_MAX], const char *base, const char *name) {
  size_t n = (size_t)snprintf(out, POINTER_MAX, "%s/", base);
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && n + 3 < POINTER_MAX;
       p++) {
    if (*p == '~' || *p == '/') {
      out[n++] = '~';
      out[n++] = *p == '~' ? '0' : '1';
    } else {
      out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
    }
  }
  out[n] = '\0';
}

static bool in_list(const char *value, const char *const *list) {
  for (size_t i = 0; list[i] != NULL; i++) {
    if (strcmp(value, list[i]) == 0) {
      return true;
    }
  }
  return false;
}

/* Every member of the object must be one of `known`. */
static void check_known_fields(struct checker *c, const json_t *j_object, const char *base,
                               const char *const *known) {
  const char *key;
  json_t *j_value;
  char pointer[POINTER_MAX];

  json_object_foreach((json_t *)j_object, key, j_value) {
    if (!in_list(key, known)) {
      pointer_of(pointer, base, key);
      fail(c, pointer, "is not a field of this object");
    }
  }
}

/* 1 to ID_MAX of A-Z a-z 0-9 _ - (and '.' when allowed). */
static bool is_id(const char *text, bool allow_dot) {
  return id_is_valid(text, allow_dot ? ID_DOTTED : ID_PLAIN);
}

/* Characters (code points) of valid UTF-8, as jansson guarantees. */
static size_t utf8_length(const char *text) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    n += (*p & 0xc0) != 0x80;
  }
  return n;
}

static bool has_control_characters(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    if (*p < 0x20 || *p == 0x7f) {
      return true;
    }
  }
  return false;
}

enum presence { REQUIRED, NULLABLE };

/* The member `name` of j_object, which must be a string (or null when
 * NULLABLE) of min to max characters without control characters. *out is
 * the string, NULL for null or on error. */
static void check_text(struct checker *c, const json_t *j_object, const char *base,
                       const char *name, enum presence presence, size_t min, size_t max,
                       const char **out) {
  const json_t *j_value = json_object_get(j_object, name);
  char pointer[POINTER_MAX];
  char detail[128];
  size_t len;

  *out = NULL;
  pointer_of(pointer, base, name);
  if (j_value == NULL || (json_is_null(j_value) && presence == REQUIRED)) {
    fail(c, pointer, presence == REQUIRED ? "is required" : "is required (null if none)");
    return;
  }
  if (json_is_null(j_value)) {
    return;
  }
  if (!json_is_string(j_value)) {
    fail(c, pointer, presence == REQUIRED ? "must be a string" : "must be a string or null");
    return;
  }
  len = utf8_length(json_string_value(j_value));
  if (len < min || len > max || json_string_length(j_value) != strlen(json_string_value(j_value))) {
    snprintf(detail, sizeof(detail), "must be %zu to %zu characters", min, max);
    fail(c, pointer, detail);
    return;
  }
  if (has_control_characters(json_string_value(j_value))) {
    fail(c, pointer, "must not hold control characters");
    return;
  }
  *out = json_string_value(j_value);
}

/* A string from `list`. */
static const char *check_choice(struct checker *c, const json_t *j_object, const char *base,
                                const char *name, const char *const *list, const char *detail) {
  const char *value;
  char pointer[POINTER_MAX];

  check_text(c, j_object, base, name, REQUIRED, 1, 32, &value);
  if (value != NULL && !in_list(value, list)) {
    pointer_of(pointer, base, name);
    fail(c, pointer, detail);
    return NULL;
  }
  return value;
}

/* A JSON integer from min to max (a real such as 1.0 is not one). */
static bool check_integer(struct checker *c, const json_t *j_object, const char *base,
                          const char *name, int64_t min, int64_t max, int64_t *out) {
  const json_t *j_value = json_object_get(j_object, name);
  char pointer[POINTER_MAX];
  char detail[128];

  pointer_of(pointer, base, name);
  if (j_value == NULL || json_is_null(j_value)) {
    fail(c, pointer, "is required");
    return false;
  }
  if (!json_is_integer(j_value) || json_integer_value(j_value) < min ||
      json_integer_value(j_value) > max) {
    snprintf(detail, sizeof(detail), "must be a whole number from %lld to %lld", (long long)min,
             (long long)max);
    fail(c, pointer, detail);
    return false;
  }
  *out = json_integer_value(j_value);
  return true;
}

/* An http(s) URL of at most URL_MAX bytes, or null. */
static void check_url(struct checker *c, const json_t *j_object, const char *base,
                      const char *name) {
  const char *url;
  char pointer[POINTER_MAX];

  check_text(c, j_object, base, name, NULLABLE, 8, URL_MAX, &url);
  if (url != NULL && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) {
    pointer_of(pointer, base, name);
    fail(c, pointer, "must be an http or https URL, or null");
  }
}

/* An ISO-8601 date or date-time; *present says whether one was given. */
static bool check_date(struct checker *c, const json_t *j_object, const char *base,
                       const char *name, enum presence presence, int64_t *ms, bool *present) {
  const json_t *j_value = json_object_get(j_object, name);
  char pointer[POINTER_MAX];

  *present = false;
  pointer_of(pointer, base, name);
  if (j_value == NULL || (json_is_null(j_value) && presence == REQUIRED)) {
    fail(c, pointer, presence == REQUIRED ? "is required" : "is required (null if none)");
    return false;
  }
  if (json_is_null(j_value)) {
    return true;
  }
  if (!json_is_string(j_value) || !parse_timestamp(json_string_value(j_value), ms)) {
    fail(c, pointer, "must be an ISO-8601 date or date-time with a zone");
    return false;
  }
  *present = true;
  return true;
}

/* Each item; returns the sum of their totals, or -1 when any is wrong. */
static int64_t check_items(struct checker *c, const json_t *j_items, const char *currency) {
  int64_t sum = 0;
  bool ok = true;
  size_t i;
  json_t *j_item;
  char base[POINTER_MAX];
  char pointer[POINTER_MAX];
  char detail[96];

  if (j_items == NULL || !json_is_array(j_items) || json_array_size(j_items) == 0 ||
      json_array_size(j_items) > PURCHASE_ITEMS_MAX) {
    snprintf(detail, sizeof(detail), "must be an array of 1 to %d items", PURCHASE_ITEMS_MAX);
    fail(c, "/items", detail);
    return -1;
  }
  json_array_foreach(j_items, i, j_item) {
    const char *text;
    int64_t unit = 0;
    int64_t quantity = 0;
    int64_t total = 0;
    bool numbers;

    snprintf(base, sizeof(base), "/items/%zu", i);
    if (!json_is_object(j_item)) {
      fail(c, base, "must be an object");
      ok = false;
      continue;
    }
    check_known_fields(c, j_item, base, ITEM_FIELDS);
    check_text(c, j_item, base, "id", REQUIRED, 1, ID_MAX, &text);
    if (text != NULL && !is_id(text, true)) {
      pointer_of(pointer, base, "id");
      fail(c, pointer, "must be " ID_RULE_DOTTED);
    }
    check_text(c, j_item, base, "title", REQUIRED, 1, TITLE_MAX, &text);
    check_text(c, j_item, base, "brand", REQUIRED, 0, BRAND_MAX, &text);
    check_url(c, j_item, base, "imgUrl");
    check_text(c, j_item, base, "currency", REQUIRED, 3, 3, &text);
    if (text != NULL && currency != NULL && strcmp(text, currency) != 0) {
      pointer_of(pointer, base, "currency");
      fail(c, pointer, "must be the purchase's currency");
    }
    numbers = check_integer(c, j_item, base, "pricePerUnitPence", 0, PRICE_MAX, &unit);
    numbers = check_integer(c, j_item, base, "quantity", 1, QUANTITY_MAX, &quantity) && numbers;
    numbers =
        check_integer(c, j_item, base, "priceTotalPence", 0, PRICE_MAX * QUANTITY_MAX, &total) &&
        numbers;
    /* Within these ranges unit * quantity cannot overflow 64 bits. */
    if (numbers && unit * quantity != total) {
      pointer_of(pointer, base, "priceTotalPence");
      fail(c, pointer, "must equal pricePerUnitPence times quantity");
      numbers = false;
    }
    ok = ok && numbers;
    sum += total;
  }
  return ok ? sum : -1;
}

static bool is_currency_code(const char *text) {
  return strlen(text) == 3 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' &&
         text[1] <= 'Z' && text[2] >= 'A' && text[2] <= 'Z';
}

/* Appends the valid purchase to doc in the contract's order and types. */
static void build_document(const json_t *j_purchase, const char *id, int64_t date_purchased_ms,
                           bool delivered, int64_t date_delivered_ms, bson_t *doc) {
  const json_t *j_items = json_object_get(j_purchase, "items");
  const json_t *j_payment = json_object_get(j_purchase, "payment");
  const json_t *j_delivery = json_object_get(j_purchase, "delivery");
  bson_t items;
  bson_t item;
  bson_t payment;
  bson_t delivery;
  size_t i;
  json_t *j_item;
  char key[16];

  BSON_APPEND_UTF8(doc, "id", id);
  BSON_APPEND_UTF8(doc, "userId", json_string_value(json_object_get(j_purchase, "userId")));
  BSON_APPEND_UTF8(doc, "status", json_string_value(json_object_get(j_purchase, "status")));
  BSON_APPEND_ARRAY_BEGIN(doc, "items", &items);
  json_array_foreach(j_items, i, j_item) {
    const char *img = json_string_value(json_object_get(j_item, "imgUrl"));
    snprintf(key, sizeof(key), "%u", (unsigned)i); /* i < PURCHASE_ITEMS_MAX */
    BSON_APPEND_DOCUMENT_BEGIN(&items, key, &item);
    BSON_APPEND_UTF8(&item, "id", json_string_value(json_object_get(j_item, "id")));
    BSON_APPEND_UTF8(&item, "title", json_string_value(json_object_get(j_item, "title")));
    BSON_APPEND_UTF8(&item, "brand", json_string_value(json_object_get(j_item, "brand")));
    if (img != NULL) {
      BSON_APPEND_UTF8(&item, "imgUrl", img);
    } else {
      BSON_APPEND_NULL(&item, "imgUrl");
    }
    BSON_APPEND_INT64(&item, "pricePerUnitPence",
                      json_integer_value(json_object_get(j_item, "pricePerUnitPence")));
    BSON_APPEND_UTF8(&item, "currency", json_string_value(json_object_get(j_item, "currency")));
    BSON_APPEND_INT32(&item, "quantity",
                      (int32_t)json_integer_value(json_object_get(j_item, "quantity")));
    BSON_APPEND_INT64(&item, "priceTotalPence",
                      json_integer_value(json_object_get(j_item, "priceTotalPence")));
    bson_append_document_end(&items, &item);
  }
  bson_append_array_end(doc, &items);
  BSON_APPEND_INT64(doc, "pricePence",
                    json_integer_value(json_object_get(j_purchase, "pricePence")));
  BSON_APPEND_UTF8(doc, "currency", json_string_value(json_object_get(j_purchase, "currency")));
  BSON_APPEND_DATE_TIME(doc, "datePurchased", date_purchased_ms);

  BSON_APPEND_DOCUMENT_BEGIN(doc, "payment", &payment);
  BSON_APPEND_UTF8(&payment, "method", json_string_value(json_object_get(j_payment, "method")));
  const char *digits = json_string_value(json_object_get(j_payment, "lastDigits"));
  const char *receipt = json_string_value(json_object_get(j_payment, "receiptUrl"));
  if (digits != NULL) {
    BSON_APPEND_UTF8(&payment, "lastDigits", digits);
  } else {
    BSON_APPEND_NULL(&payment, "lastDigits");
  }
  if (receipt != NULL) {
    BSON_APPEND_UTF8(&payment, "receiptUrl", receipt);
  } else {
    BSON_APPEND_NULL(&payment, "receiptUrl");
  }
  bson_append_document_end(doc, &payment);

  BSON_APPEND_DOCUMENT_BEGIN(doc, "delivery", &delivery);
  BSON_APPEND_UTF8(&delivery, "method", json_string_value(json_object_get(j_delivery, "method")));
  const char *store = json_string_value(json_object_get(j_delivery, "storeLocation"));
  if (store != NULL) {
    BSON_APPEND_UTF8(&delivery, "storeLocation", store);
  } else {
    BSON_APPEND_NULL(&delivery, "storeLocation");
  }
  if (delivered) {
    BSON_APPEND_DATE_TIME(&delivery, "dateDelivered", date_delivered_ms);
  } else {
    BSON_APPEND_NULL(&delivery, "dateDelivered");
  }
  bson_append_document_end(doc, &delivery);
}

/* payment: method, lastDigits and receiptUrl. */
static void check_payment(struct checker *c, const json_t *j_payment) {
  if (!json_is_object(j_payment)) {
    fail(c, "/payment", "must be an object with method, lastDigits and receiptUrl");
    return;
  }
  check_known_fields(c, j_payment, "/payment", PAYMENT_FIELDS);
  check_choice(c, j_payment, "/payment", "method", PAYMENT_METHODS,
               "must be card, apple_pay, paypal, gift_card, klarna or bank_transfer");
  const json_t *j_digits = json_object_get(j_payment, "lastDigits");
  const char *digits = json_string_value(j_digits);
  /* Exactly four digits: a longer value could be a whole card number,
   * which must never be stored. */
  if (j_digits == NULL || (!json_is_null(j_digits) && (digits == NULL || strlen(digits) != 4 ||
                                                       strspn(digits, "0123456789") != 4))) {
    fail(c, "/payment/lastDigits",
         "must be the last 4 digits of the card, or null; never more of the number");
  }
  check_url(c, j_payment, "/payment", "receiptUrl");
}

/* delivery: method, storeLocation (required for click_and_collect) and
 * dateDelivered (required when `status`, if valid, is delivered), read
 * into *date_delivered_ms and *delivered. */
static void check_delivery(struct checker *c, const json_t *j_delivery, const char *status,
                           int64_t *date_delivered_ms, bool *delivered) {
  const char *method;
  const char *text;

  if (!json_is_object(j_delivery)) {
    fail(c, "/delivery", "must be an object with method, storeLocation and dateDelivered");
    return;
  }
  check_known_fields(c, j_delivery, "/delivery", DELIVERY_FIELDS);
  method = check_choice(c, j_delivery, "/delivery", "method", DELIVERY_METHODS,
                        "must be standard, express or click_and_collect");
  check_text(c, j_delivery, "/delivery", "storeLocation", NULLABLE, 1, TITLE_MAX, &text);
  if (text == NULL && method != NULL && strcmp(method, "click_and_collect") == 0 &&
      json_is_null(json_object_get(j_delivery, "storeLocation"))) {
    fail(c, "/delivery/storeLocation", "is required for click_and_collect");
  }
  if (check_date(c, j_delivery, "/delivery", "dateDelivered", NULLABLE, date_delivered_ms,
                 delivered) &&
      !*delivered && status != NULL && strcmp(status, "delivered") == 0) {
    fail(c, "/delivery/dateDelivered", "is required when the status is delivered");
  }
}

bool purchase_validate(const json_t *j_purchase, const char *id_if_absent, bson_t *doc,
                       json_t **j_errors) {
  struct checker c = {.j_errors = json_array()};
  const char *id = id_if_absent;
  const char *text;
  const char *currency = NULL;
  const char *status;
  int64_t price = 0;
  int64_t sum;
  int64_t date_purchased_ms = 0;
  int64_t date_delivered_ms = 0;
  bool has_price;
  bool present = false;
  bool delivered = false;
  struct timespec now;

  *j_errors = NULL;
  if (c.j_errors == NULL) {
    return false;
  }
  clock_gettime(CLOCK_REALTIME, &now);
  c.now_ms = (int64_t)now.tv_sec * 1000;
  if (!json_is_object(j_purchase)) {
    fail(&c, "", "must be a JSON object");
    goto out;
  }
  check_known_fields(&c, j_purchase, "", PURCHASE_FIELDS);

  if (json_object_get(j_purchase, "id") != NULL) {
    check_text(&c, j_purchase, "", "id", REQUIRED, 1, ID_MAX, &id);
    if (id != NULL && !is_id(id, false)) {
      fail(&c, "/id", "must be " ID_RULE);
    }
  }
  check_text(&c, j_purchase, "", "userId", REQUIRED, 1, ID_MAX, &text);
  if (text != NULL && !is_id(text, false)) {
    fail(&c, "/userId", "must be " ID_RULE);
  }
  status = check_choice(&c, j_purchase, "", "status", PURCHASE_STATUSES,
                        "must be placed, paid, shipped, delivered, cancelled or refunded");
  check_text(&c, j_purchase, "", "currency", REQUIRED, 3, 3, &currency);
  if (currency != NULL && !is_currency_code(currency)) {
    fail(&c, "/currency", "must be an ISO 4217 code: three capital letters");
    currency = NULL;
  }
  sum = check_items(&c, json_object_get(j_purchase, "items"), currency);
  has_price = check_integer(&c, j_purchase, "", "pricePence", 0, PRICE_MAX * QUANTITY_MAX, &price);
  if (has_price && sum >= 0 && sum != price) {
    fail(&c, "/pricePence", "must equal the sum of the items' priceTotalPence");
  }
  if (check_date(&c, j_purchase, "", "datePurchased", REQUIRED, &date_purchased_ms, &present) &&
      date_purchased_ms > c.now_ms + FUTURE_SLACK_MS) {
    fail(&c, "/datePurchased", "must not be more than a day in the future");
  }

  check_payment(&c, json_object_get(j_purchase, "payment"));
  check_delivery(&c, json_object_get(j_purchase, "delivery"), status, &date_delivered_ms,
                 &delivered);

out:
  if (json_array_size(c.j_errors) > 0) {
    *j_errors = c.j_errors;
    return false;
  }
  json_decref(c.j_errors);
  build_document(j_purchase, id, date_purchased_ms, delivered, date_delivered_ms, doc);
  return true;
}

bool purchase_body_hash(const json_t *j_value, char out[65]) {
  unsigned char digest[32];
  gnutls_datum_t datum = {digest, sizeof(digest)};
  size_t out_len = 65;
  char *text = json_dumps(j_value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  bool ok = text != NULL &&
            gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), digest) == GNUTLS_E_SUCCESS &&
            gnutls_hex_encode(&datum, out, &out_len) == 0;

  free(text);
  return ok;
}
