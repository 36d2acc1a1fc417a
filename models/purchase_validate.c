#include "models/purchase_validate.h"

#include "lib/ids.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "models/dates.h"
#include "lib/words.h"
#include "models/purchase_schema.h"

#define POINTER_MAX 96
#define DETAIL_MAX  192
#define NAMES_MAX   160
#define DAY_MS      (24LL * 3600 * 1000)

/* The errors found so far. A quiet checker only notes that one was found:
 * sound() uses one to ask whether a field kept its own rules. */
struct checker {
  json_t *j_errors;
  int64_t now_ms;
  bool quiet;
  bool failed;
};

static void fail(struct checker *c, const char *pointer, const char *detail) {
  c->failed = true;
  if (!c->quiet && json_array_size(c->j_errors) < PURCHASE_ERRORS_MAX) {
    json_array_append_new(c->j_errors, json_pack("{ss ss}", "pointer", pointer, "detail", detail));
  }
}

/* Every member of the object must be a field of `fields`. */
static void check_known_fields(struct checker *c, const json_t *j_object, const char *base,
                               const struct schema_field *fields) {
  const char *key;
  json_t *j_value;
  char pointer[POINTER_MAX];

  json_object_foreach((json_t *)j_object, key, j_value) {
    if (schema_field_find(fields, key) == NULL) {
      words_json_pointer(base, key, pointer, sizeof(pointer));
      fail(c, pointer, "is not a field of this object");
    }
  }
}

/* Characters (code points) of valid UTF-8, as jansson guarantees. */
static size_t utf8_length(const char *text) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    n += (*p & 0xc0) != 0x80;
  }
  return n;
}

/* C0, DEL and C1 (U+0080 to U+009F, in UTF-8 0xc2 0x80 to 0xc2 0x9f: a
 * terminal reads U+009B as the start of an escape sequence, as it does
 * ESC). text is valid UTF-8, as jansson guarantees. */
static bool has_control_characters(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
      return true;
    }
  }
  return false;
}

static bool is_currency_code(const char *text) {
  return strlen(text) == 3 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' &&
         text[1] <= 'Z' && text[2] >= 'A' && text[2] <= 'Z';
}

/* True when every byte of text is one RFC 3986 (section 2) lets a URI
 * hold: unreserved, reserved (gen-delims and sub-delims), or a '%' that
 * starts an escape of two hexadecimal digits. */
static bool is_uri_characters(const char *text) {
  static const char ALLOWED[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                "-._~:/?#[]@!$&'()*+,;=";
  static const char HEX[] = "0123456789ABCDEFabcdef";

  for (const char *p = text; *p != '\0'; p++) {
    if (*p == '%') {
      if (p[1] == '\0' || strchr(HEX, p[1]) == NULL || p[2] == '\0' || strchr(HEX, p[2]) == NULL) {
        return false;
      }
      p += 2;
    } else if (strchr(ALLOWED, *p) == NULL) {
      return false;
    }
  }
  return true;
}

/* A string of the field's length, without control characters, then its
 * rule. */
static void check_string(struct checker *c, const json_t *j_value, const char *pointer,
                         const struct schema_field *field) {
  const char *text = json_string_value(j_value);
  char names[NAMES_MAX];
  char detail[DETAIL_MAX];
  size_t len;

  if (text == NULL) {
    fail(c, pointer, field->nullable ? "must be a string or null" : "must be a string");
    return;
  }
  len = utf8_length(text);
  if ((int64_t)len < field->min || (int64_t)len > field->max ||
      json_string_length(j_value) != strlen(text)) {
    snprintf(detail, sizeof(detail), "must be %lld to %lld characters", (long long)field->min,
             (long long)field->max);
    fail(c, pointer, detail);
    return;
  }
  if (has_control_characters(text)) {
    fail(c, pointer, "must not hold control characters");
    return;
  }
  switch (field->rule) {
    case RULE_ID:
      if (!id_is_valid(text, ID_PLAIN)) {
        fail(c, pointer, "must be " ID_RULE);
      }
      break;
    case RULE_DOTTED_ID:
      if (!id_is_valid(text, ID_DOTTED)) {
        fail(c, pointer, "must be " ID_RULE_DOTTED);
      }
      break;
    case RULE_CHOICE:
      if (schema_choice_index(field->choices, text) < 0) {
        words_join(words_of_array, field->choices, "or", names, sizeof(names));
        snprintf(detail, sizeof(detail), "must be %s", names);
        fail(c, pointer, detail);
      }
      break;
    case RULE_URL:
      if (strncmp(text, "https://", 8) != 0 && strncmp(text, "http://", 7) != 0) {
        fail(c, pointer, "must be an http or https URL, or null");
      } else if (!is_uri_characters(text)) {
        fail(c, pointer,
             "must hold only the characters a URL may (RFC 3986): a space or any other "
             "byte %-encoded as %XX");
      }
      break;
    case RULE_CURRENCY:
      if (!is_currency_code(text)) {
        fail(c, pointer, "must be an ISO 4217 code: three capital letters");
      }
      break;
    default:
      break;
  }
}

/* A JSON integer from min to max (a real such as 1.0 is not one). */
static void check_integer(struct checker *c, const json_t *j_value, const char *pointer,
                          const struct schema_field *field) {
  char detail[DETAIL_MAX];

  if (!json_is_integer(j_value) || json_integer_value(j_value) < field->min ||
      json_integer_value(j_value) > field->max) {
    snprintf(detail, sizeof(detail), "must be a whole number from %lld to %lld",
             (long long)field->min, (long long)field->max);
    fail(c, pointer, detail);
  }
}

/* An ISO-8601 date or date-time; with a max, not further ahead than it. */
/* The detail of a date further ahead than its field's limit, max_ms. */
static void future_detail(int64_t max_ms, char *detail, size_t len) {
  if (max_ms == DAY_MS) {
    snprintf(detail, len, "must not be more than a day in the future");
  } else {
    snprintf(detail, len, "must not be more than %lld seconds in the future",
             (long long)(max_ms / 1000));
  }
}

static void check_date(struct checker *c, const json_t *j_value, const char *pointer,
                       const struct schema_field *field) {
  char detail[DETAIL_MAX];
  int64_t ms;

  if (!json_is_string(j_value) || !parse_timestamp(json_string_value(j_value), &ms)) {
    fail(c, pointer, "must be an ISO-8601 date or date-time with a zone");
    return;
  }
  if (field->max > 0 && ms > c->now_ms + field->max) {
    future_detail(field->max, detail, sizeof(detail));
    fail(c, pointer, detail);
  }
}

/* Exactly four digits, or null: a longer value could be a whole card
 * number, which must never be stored. */
static void check_last_digits(struct checker *c, const json_t *j_value, const char *pointer) {
  const char *digits = json_string_value(j_value);

  if (j_value == NULL || (!json_is_null(j_value) && (digits == NULL || strlen(digits) != 4 ||
                                                     strspn(digits, "0123456789") != 4))) {
    fail(c, pointer, "must be the last 4 digits of the card, or null; never more of the number");
  }
}

static void check_fields(struct checker *c, const json_t *j_object, const char *base,
                         const struct schema_field *fields);

/* An array of min to max elements, as an array field wants. */
static bool array_fits(const json_t *j_value, const struct schema_field *field) {
  return json_is_array(j_value) && (int64_t)json_array_size(j_value) >= field->min &&
         (int64_t)json_array_size(j_value) <= field->max;
}

/* An object of the field's children, or an array of min to max of them. */
static void check_nested(struct checker *c, const json_t *j_value, const char *pointer,
                         const struct schema_field *field) {
  char names[NAMES_MAX];
  char detail[DETAIL_MAX];
  char base[POINTER_MAX];
  size_t i;
  json_t *j_element;

  if (field->kind == SCHEMA_OBJECT) {
    if (!json_is_object(j_value)) {
      words_join(schema_field_name_at, field->children, "and", names, sizeof(names));
      snprintf(detail, sizeof(detail), "must be an object with %s", names);
      fail(c, pointer, detail);
      return;
    }
    check_fields(c, j_value, pointer, field->children);
    return;
  }
  if (!array_fits(j_value, field)) {
    snprintf(detail, sizeof(detail), "must be an array of %lld to %lld items",
             (long long)field->min, (long long)field->max);
    fail(c, pointer, detail);
    return;
  }
  json_array_foreach(j_value, i, j_element) {
    int wrote = snprintf(base, sizeof(base), "%s/%zu", pointer, i);
    if (wrote < 0 || (size_t)wrote >= sizeof(base)) {
      continue; /* cannot happen: pointers are short and items few */
    }
    if (!json_is_object(j_element)) {
      fail(c, base, "must be an object");
      continue;
    }
    check_fields(c, j_element, base, field->children);
  }
}

/* The member of j_object that `field` describes, by its own rules. */
static void check_field(struct checker *c, const json_t *j_object, const char *base,
                        const struct schema_field *field) {
  const json_t *j_value = json_object_get(j_object, field->name);
  char pointer[POINTER_MAX];

  words_json_pointer(base, field->name, pointer, sizeof(pointer));
  if (j_value == NULL && (field->generated || field->optional)) {
    return;
  }
  if (field->kind == SCHEMA_OBJECT || field->kind == SCHEMA_OBJECT_ARRAY) {
    check_nested(c, j_value, pointer, field);
    return;
  }
  if (field->rule == RULE_LAST_DIGITS) {
    check_last_digits(c, j_value, pointer);
    return;
  }
  if (j_value == NULL || (json_is_null(j_value) && !field->nullable)) {
    fail(c, pointer,
         j_value == NULL && field->nullable ? "is required (null if none)" : "is required");
    return;
  }
  if (json_is_null(j_value)) {
    return;
  }
  switch (field->kind) {
    case SCHEMA_STRING:
      check_string(c, j_value, pointer, field);
      break;
    case SCHEMA_INTEGER:
      check_integer(c, j_value, pointer, field);
      break;
    default:
      check_date(c, j_value, pointer, field);
      break;
  }
}

static void check_fields(struct checker *c, const json_t *j_object, const char *base,
                         const struct schema_field *fields) {
  check_known_fields(c, j_object, base, fields);
  for (size_t i = 0; fields[i].name != NULL; i++) {
    check_field(c, j_object, base, &fields[i]);
  }
}

/* The member `name` of j_object when it is given and keeps its own rules,
 * else NULL: a rule between fields waits for the fields it compares. */
static const json_t *sound(const struct checker *c, const json_t *j_object, const char *base,
                           const struct schema_field *fields, const char *name) {
  const struct schema_field *field = schema_field_find(fields, name);
  struct checker quiet = {.now_ms = c->now_ms, .quiet = true};
  const json_t *j_value = json_object_get(j_object, name);

  if (field == NULL || j_value == NULL) {
    return NULL;
  }
  check_field(&quiet, j_object, base, field);
  return quiet.failed ? NULL : j_value;
}

/* Each item's currency is the purchase's, and its total is its unit price
 * times its quantity. Returns the sum of the totals, or -1 when any item
 * is not an object or any total is unsound. */
static int64_t check_item_totals(struct checker *c, const json_t *j_items, const char *currency) {
  const struct schema_field *items = schema_field_find(PURCHASE_SCHEMA, "items");
  const struct schema_field *fields = items->children;
  char base[POINTER_MAX];
  char pointer[POINTER_MAX];
  int64_t sum = 0;
  bool ok = true;
  size_t i;
  json_t *j_item;

  if (!array_fits(j_items, items)) {
    return -1;
  }
  json_array_foreach(j_items, i, j_item) {
    snprintf(base, sizeof(base), "/items/%zu", i);
    const json_t *j_currency = sound(c, j_item, base, fields, "currency");
    const json_t *j_unit = sound(c, j_item, base, fields, "pricePerUnitPence");
    const json_t *j_quantity = sound(c, j_item, base, fields, "quantity");
    const json_t *j_total = sound(c, j_item, base, fields, "priceTotalPence");
    if (j_currency != NULL && currency != NULL &&
        strcmp(json_string_value(j_currency), currency) != 0) {
      words_json_pointer(base, "currency", pointer, sizeof(pointer));
      fail(c, pointer, "must be the purchase's currency");
    }
    if (j_unit == NULL || j_quantity == NULL || j_total == NULL) {
      ok = false;
      continue;
    }
    /* Within the schema's ranges unit * quantity cannot overflow 64 bits. */
    if (json_integer_value(j_unit) * json_integer_value(j_quantity) !=
        json_integer_value(j_total)) {
      words_json_pointer(base, "priceTotalPence", pointer, sizeof(pointer));
      fail(c, pointer, "must equal pricePerUnitPence times quantity");
      ok = false;
      continue;
    }
    sum += json_integer_value(j_total);
  }
  return ok ? sum : -1;
}

/* The day (UTC) a time falls on, counted from 1970 (before it, below 0). */
static int64_t day_of(int64_t ms) {
  return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

bool purchase_delivery_date_fault(int64_t purchased_ms, int64_t delivered_ms, int64_t now_ms,
                                  char *detail, size_t len) {
  const struct schema_field *field =
      schema_field_find(schema_field_find(PURCHASE_SCHEMA, "delivery")->children, "dateDelivered");

  if (field->max > 0 && delivered_ms > now_ms + field->max) {
    future_detail(field->max, detail, len);
    return true;
  }
  /* By the day: a date without a time is that day's midnight, and a
   * purchase delivered on the day it was made is not delivered before it. */
  if (day_of(delivered_ms) < day_of(purchased_ms)) {
    snprintf(detail, len, "must not be before the day of datePurchased");
    return true;
  }
  return false;
}

/* The value of a date that keeps its own rules. */
static int64_t ms_of(const json_t *j_date) {
  int64_t ms = 0;
  parse_timestamp(json_string_value(j_date), &ms);
  return ms;
}

/* The rules that compare fields; each waits for the fields it compares to
 * keep their own rules (sound()), so that one mistake gives one error. */
static void check_between_fields(struct checker *c, const json_t *j_purchase) {
  const struct schema_field *delivery_fields =
      schema_field_find(PURCHASE_SCHEMA, "delivery")->children;
  const json_t *j_currency = sound(c, j_purchase, "", PURCHASE_SCHEMA, "currency");
  const json_t *j_price = sound(c, j_purchase, "", PURCHASE_SCHEMA, "pricePence");
  const json_t *j_status = sound(c, j_purchase, "", PURCHASE_SCHEMA, "status");
  const json_t *j_delivery = json_object_get(j_purchase, "delivery");
  const json_t *j_method = sound(c, j_delivery, "/delivery", delivery_fields, "method");
  const json_t *j_delivered = sound(c, j_delivery, "/delivery", delivery_fields, "dateDelivered");
  const json_t *j_purchased = sound(c, j_purchase, "", PURCHASE_SCHEMA, "datePurchased");
  int64_t sum =
      check_item_totals(c, json_object_get(j_purchase, "items"), json_string_value(j_currency));

  if (j_price != NULL && sum >= 0 && sum != json_integer_value(j_price)) {
    fail(c, "/pricePence", "must equal the sum of the items' priceTotalPence");
  }
  if (j_method != NULL && strcmp(json_string_value(j_method), "click_and_collect") == 0 &&
      json_is_null(json_object_get(j_delivery, "storeLocation"))) {
    fail(c, "/delivery/storeLocation", "is required for click_and_collect");
  }
  if (j_status != NULL && strcmp(json_string_value(j_status), "delivered") == 0 &&
      json_is_null(j_delivered)) {
    fail(c, "/delivery/dateDelivered", "is required when the status is delivered");
  }
  if (j_purchased != NULL && j_delivered != NULL && !json_is_null(j_delivered)) {
    char detail[DETAIL_MAX];
    if (purchase_delivery_date_fault(ms_of(j_purchased), ms_of(j_delivered), c->now_ms, detail,
                                     sizeof(detail))) {
      fail(c, "/delivery/dateDelivered", detail);
    }
  }
}

static void build_fields(const json_t *j_object, const struct schema_field *fields,
                         const char *id_if_absent, bson_t *doc);

/* Appends the valid value of `field` to doc in its stored type. */
static void build_field(const json_t *j_value, const struct schema_field *field,
                        const char *id_if_absent, bson_t *doc) {
  bson_t child;
  bson_t element;
  char key[16];
  size_t i;
  json_t *j_element;
  int64_t ms = 0;

  if (j_value == NULL && field->generated) {
    BSON_APPEND_UTF8(doc, field->name, id_if_absent);
    return;
  }
  if (j_value == NULL || json_is_null(j_value)) {
    BSON_APPEND_NULL(doc, field->name);
    return;
  }
  switch (field->kind) {
    case SCHEMA_STRING:
      BSON_APPEND_UTF8(doc, field->name, json_string_value(j_value));
      break;
    case SCHEMA_INTEGER:
      if (field->stored == BSON_TYPE_INT32) {
        BSON_APPEND_INT32(doc, field->name, (int32_t)json_integer_value(j_value));
      } else {
        BSON_APPEND_INT64(doc, field->name, json_integer_value(j_value));
      }
      break;
    case SCHEMA_DATE:
      (void)parse_timestamp(json_string_value(j_value), &ms); /* valid: parsed before */
      BSON_APPEND_DATE_TIME(doc, field->name, ms);
      break;
    case SCHEMA_OBJECT:
      BSON_APPEND_DOCUMENT_BEGIN(doc, field->name, &child);
      build_fields(j_value, field->children, id_if_absent, &child);
      bson_append_document_end(doc, &child);
      break;
    case SCHEMA_OBJECT_ARRAY:
      BSON_APPEND_ARRAY_BEGIN(doc, field->name, &child);
      json_array_foreach(j_value, i, j_element) {
        snprintf(key, sizeof(key), "%u", (unsigned)i); /* i < PURCHASE_ITEMS_MAX */
        BSON_APPEND_DOCUMENT_BEGIN(&child, key, &element);
        build_fields(j_element, field->children, id_if_absent, &element);
        bson_append_document_end(&child, &element);
      }
      bson_append_array_end(doc, &child);
      break;
  }
}

/* Appends the valid object to doc: the schema's fields, in its order. */
static void build_fields(const json_t *j_object, const struct schema_field *fields,
                         const char *id_if_absent, bson_t *doc) {
  for (size_t i = 0; fields[i].name != NULL; i++) {
    build_field(json_object_get(j_object, fields[i].name), &fields[i], id_if_absent, doc);
  }
}

bool purchase_validate(const json_t *j_purchase, const char *id_if_absent, bson_t *doc,
                       json_t **j_errors) {
  struct checker c = {.j_errors = json_array()};
  struct timespec now;

  *j_errors = NULL;
  if (c.j_errors == NULL) {
    return false;
  }
  clock_gettime(CLOCK_REALTIME, &now);
  c.now_ms = (int64_t)now.tv_sec * 1000;
  if (!json_is_object(j_purchase)) {
    fail(&c, "", "must be a JSON object");
  } else {
    check_fields(&c, j_purchase, "", PURCHASE_SCHEMA);
    check_between_fields(&c, j_purchase);
  }
  if (json_array_size(c.j_errors) > 0) {
    *j_errors = c.j_errors;
    return false;
  }
  json_decref(c.j_errors);
  build_fields(j_purchase, PURCHASE_SCHEMA, id_if_absent, doc);
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
