#include "models/purchase_schema.h"

#include <stdio.h>
#include <string.h>

#include "lib/ids.h"

#define TITLE_MAX 200
#define BRAND_MAX 100
#define URL_MAX   2048
#define PRICE_MAX 1000000000000LL /* 10^12 minor units */
/* An item's total and the purchase's: 15 digits, below 2^53, so exact in
 * every JSON reader (a JavaScript one included), and within the list's
 * price filters. */
#define TOTAL_MAX        999999999999999LL
#define QUANTITY_MAX     10000
#define FUTURE_SLACK_MS  (24LL * 3600 * 1000)
#define CHOICE_CHARS_MAX 32

const char *const PURCHASE_STATUSES[] = {"placed",    "paid",     "shipped", "delivered",
                                         "cancelled", "refunded", NULL};
const char *const PAYMENT_METHODS[] = {"card",   "apple_pay",     "paypal", "gift_card",
                                       "klarna", "bank_transfer", NULL};
const char *const DELIVERY_METHODS[] = {"standard", "express", "click_and_collect", NULL};

/* One row a field. A row leaves out what does not apply (zero: no bound,
 * not nullable, no choices). */
static const struct schema_field ITEM_SCHEMA[] = {
    {.name = "id", .kind = SCHEMA_STRING, .rule = RULE_DOTTED_ID, .min = 1, .max = ID_MAX},
    {.name = "title", .kind = SCHEMA_STRING, .rule = RULE_TEXT, .min = 1, .max = TITLE_MAX},
    {.name = "brand", .kind = SCHEMA_STRING, .rule = RULE_TEXT, .min = 0, .max = BRAND_MAX},
    {.name = "imgUrl",
     .kind = SCHEMA_STRING,
     .rule = RULE_URL,
     .nullable = true,
     .min = 8,
     .max = URL_MAX},
    {.name = "pricePerUnitPence",
     .kind = SCHEMA_INTEGER,
     .stored = BSON_TYPE_INT64,
     .rule = RULE_RANGE,
     .min = 0,
     .max = PRICE_MAX},
    /* The purchase's currency: a rule between fields (purchase_validate.c). */
    {.name = "currency", .kind = SCHEMA_STRING, .rule = RULE_TEXT, .min = 3, .max = 3},
    {.name = "quantity",
     .kind = SCHEMA_INTEGER,
     .stored = BSON_TYPE_INT32,
     .rule = RULE_RANGE,
     .min = 1,
     .max = QUANTITY_MAX},
    {.name = "priceTotalPence",
     .kind = SCHEMA_INTEGER,
     .stored = BSON_TYPE_INT64,
     .rule = RULE_RANGE,
     .min = 0,
     .max = TOTAL_MAX},
    {.name = NULL},
};

static const struct schema_field PAYMENT_SCHEMA[] = {
    {.name = "method",
     .kind = SCHEMA_STRING,
     .rule = RULE_CHOICE,
     .min = 1,
     .max = CHOICE_CHARS_MAX,
     .choices = PAYMENT_METHODS},
    {.name = "lastDigits", .kind = SCHEMA_STRING, .rule = RULE_LAST_DIGITS, .nullable = true},
    {.name = "receiptUrl",
     .kind = SCHEMA_STRING,
     .rule = RULE_URL,
     .nullable = true,
     .min = 8,
     .max = URL_MAX},
    {.name = NULL},
};

static const struct schema_field DELIVERY_SCHEMA[] = {
    {.name = "method",
     .kind = SCHEMA_STRING,
     .rule = RULE_CHOICE,
     .min = 1,
     .max = CHOICE_CHARS_MAX,
     .choices = DELIVERY_METHODS},
    {.name = "storeLocation",
     .kind = SCHEMA_STRING,
     .rule = RULE_TEXT,
     .nullable = true,
     .min = 1,
     .max = TITLE_MAX},
    /* Not before datePurchased: a rule between fields (purchase_validate.c). */
    {.name = "dateDelivered",
     .kind = SCHEMA_DATE,
     .rule = RULE_TIMESTAMP,
     .nullable = true,
     .max = FUTURE_SLACK_MS},
    {.name = NULL},
};

const struct schema_field PURCHASE_SCHEMA[] = {
    {.name = "id",
     .kind = SCHEMA_STRING,
     .rule = RULE_ID,
     .generated = true,
     .min = 1,
     .max = ID_MAX},
    {.name = "userId", .kind = SCHEMA_STRING, .rule = RULE_ID, .min = 1, .max = ID_MAX},
    {.name = "status",
     .kind = SCHEMA_STRING,
     .rule = RULE_CHOICE,
     .min = 1,
     .max = CHOICE_CHARS_MAX,
     .choices = PURCHASE_STATUSES},
    {.name = "items",
     .kind = SCHEMA_OBJECT_ARRAY,
     .rule = RULE_FIELDS,
     .min = 1,
     .max = PURCHASE_ITEMS_MAX,
     .children = ITEM_SCHEMA},
    {.name = "pricePence",
     .kind = SCHEMA_INTEGER,
     .stored = BSON_TYPE_INT64,
     .rule = RULE_RANGE,
     .min = 0,
     .max = TOTAL_MAX},
    {.name = "currency", .kind = SCHEMA_STRING, .rule = RULE_CURRENCY, .min = 3, .max = 3},
    {.name = "datePurchased", .kind = SCHEMA_DATE, .rule = RULE_TIMESTAMP, .max = FUTURE_SLACK_MS},
    {.name = "payment", .kind = SCHEMA_OBJECT, .rule = RULE_FIELDS, .children = PAYMENT_SCHEMA},
    {.name = "delivery", .kind = SCHEMA_OBJECT, .rule = RULE_FIELDS, .children = DELIVERY_SCHEMA},
    {.name = NULL},
};

const struct schema_field *schema_field_find(const struct schema_field *fields, const char *name) {
  for (size_t i = 0; fields[i].name != NULL; i++) {
    if (strcmp(fields[i].name, name) == 0) {
      return &fields[i];
    }
  }
  return NULL;
}

int schema_choice_index(const char *const *choices, const char *value) {
  for (int i = 0; choices[i] != NULL; i++) {
    if (strcmp(choices[i], value) == 0) {
      return i;
    }
  }
  return -1;
}

const char *schema_field_name_at(const void *fields, size_t i) {
  return ((const struct schema_field *)fields)[i].name;
}
