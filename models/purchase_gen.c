#include "models/purchase_gen.h"

#include <stdio.h>
#include <string.h>

#include "models/purchase.h"

/* splitmix64's finaliser: a bijection on 64-bit integers, so distinct inputs
 * always give distinct outputs (and so distinct ids). */
static uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct rng {
  uint64_t state;
};

static uint64_t rng_next(struct rng *rng) {
  rng->state += 0x9e3779b97f4a7c15ULL;
  return mix64(rng->state);
}

/* A number in [0, bound). The tiny modulo bias does not matter for demo data. */
static uint32_t rng_below(struct rng *rng, uint32_t bound) {
  return (uint32_t)(rng_next(rng) % bound);
}

static uint64_t pack_key(uint32_t seed, uint32_t user, uint32_t index) {
  return ((uint64_t)(seed & PURCHASE_GEN_MAX_SEED) << 44) |
         ((uint64_t)(user & PURCHASE_GEN_MAX_USER) << 20) |
         (uint64_t)(index & (PURCHASE_GEN_MAX_PER_USER - 1));
}

void purchase_gen_id(uint32_t seed, uint32_t user, uint32_t index, char buf[PURCHASE_GEN_ID_LEN]) {
  snprintf(buf, PURCHASE_GEN_ID_LEN, "p%016llx",
           (unsigned long long)mix64(pack_key(seed, user, index)));
}

void purchase_gen_user_id(uint32_t user, char *buf, size_t len) {
  snprintf(buf, len, "%u", user);
}

struct product {
  const char *id;
  const char *title;
  const char *brand;
  int64_t price_gbp; /* pence; EUR and USD prices are derived */
};

static const struct product PRODUCTS[] = {
    {"kettle-blue", "Blue Enamel Kettle 1.7L", "Hearthware", 3499},
    {"kettle-steel", "Brushed Steel Kettle", "Hearthware", 2999},
    {"toaster-4", "Four-Slice Toaster", "Crumbly", 4999},
    {"mug-set", "Stoneware Mug Set of 4", "Potter & Co", 2400},
    {"teapot", "Cast Iron Teapot", "Potter & Co", 3900},
    {"pan-28", "Non-Stick Frying Pan 28cm", "Ironside", 3250},
    {"knife-chef", "Chef's Knife 20cm", "Ironside", 5900},
    {"board-oak", "Oak Chopping Board", "Timberline", 2750},
    {"lamp-desk", "Adjustable Desk Lamp", "Lumen", 4500},
    {"bulb-4", "LED Bulbs, Pack of 4", "Lumen", 999},
    {"towel-bath", "Cotton Bath Towel", "Softloom", 1800},
    {"duvet-dbl", "All-Season Duvet, Double", "Softloom", 6900},
    {"pillow-2", "Pillow Pair", "Softloom", 2500},
    {"backpack", "Commuter Backpack 20L", "Trailhead", 6500},
    {"bottle", "Insulated Water Bottle", "Trailhead", 1900},
    {"headphones", "Wireless Headphones", "Sonora", 12900},
    {"speaker", "Portable Speaker", "Sonora", 7900},
    {"charger", "USB-C Charger 65W", "Voltway", 3499},
    {"cable-2m", "USB-C Cable 2m", "Voltway", 899},
    {"notebook", "Dotted Notebook A5", "Paperkind", 1250},
    {"pen-set", "Fineliner Pens, Set of 10", "Paperkind", 1499},
    {"plant-pot", "Ceramic Plant Pot", "Greenroom", 1650},
    {"candle", "Fig Scented Candle", "Greenroom", 2200},
    {"yoga-mat", "Yoga Mat 6mm", "Flexa", 2999},
    {"dumbbells", "Adjustable Dumbbells", "Flexa", 8999},
};

#define PRODUCT_COUNT (sizeof(PRODUCTS) / sizeof(PRODUCTS[0]))

static const char *const CURRENCIES[] = {"GBP", "EUR", "USD"};

static const char *const STORES[] = {"London Oxford Street", "Manchester Arndale",
                                     "Edinburgh Princes Street", "Bristol Cabot Circus"};

/* The payment methods a draw picks from, as indexes into the schema's
 * PAYMENT_METHODS: half by card, then paypal, apple_pay and gift_card. The
 * draws keep their order, so that a seed gives the same data as before. */
static const unsigned PAYMENT_DRAWS[] = {0, 0, 0, 2, 1, 3};

/* Weights for the status of a purchase: mostly delivered, as in a shop's
 * history, with some in flight, cancelled and refunded. */
static const char *pick_status(struct rng *rng) {
  uint32_t r = rng_below(rng, 100);
  if (r < 68) {
    return "delivered";
  }
  if (r < 76) {
    return "shipped";
  }
  if (r < 82) {
    return "paid";
  }
  if (r < 86) {
    return "placed";
  }
  if (r < 94) {
    return "cancelled";
  }
  return "refunded";
}

/* 2019-01-01T00:00:00Z and the length of the range, seven years, in ms. */
#define GEN_DATE_START_MS 1546300800000LL
#define GEN_DATE_SPAN_MS  (7LL * 365 * 24 * 3600 * 1000)
#define GEN_DAY_MS        (24LL * 3600 * 1000)

/* Price of a product in a currency: EUR and USD are rounded conversions. */
static int64_t price_in(const struct product *product, const char *currency) {
  if (strcmp(currency, "EUR") == 0) {
    return (product->price_gbp * 117 / 100 / 10) * 10 + 9;
  }
  if (strcmp(currency, "USD") == 0) {
    return (product->price_gbp * 127 / 100 / 10) * 10 + 9;
  }
  return product->price_gbp;
}

/* The items array: `count` products at the prices of `currency`, drawn
 * from `rng` in order. Returns their total. */
static int64_t append_items(struct rng *rng, const char *currency, uint32_t count, bson_t *doc) {
  char url[128];
  char key[16];
  bson_t items;
  bson_t item;
  int64_t total = 0;

  BSON_APPEND_ARRAY_BEGIN(doc, "items", &items);
  for (uint32_t i = 0; i < count; i++) {
    const struct product *product = &PRODUCTS[rng_below(rng, PRODUCT_COUNT)];
    int64_t unit = price_in(product, currency);
    int32_t quantity = 1 + (int32_t)(rng_below(rng, 10) < 8 ? 0 : rng_below(rng, 3));
    int64_t line_total = unit * quantity;
    snprintf(key, sizeof(key), "%u", i);
    snprintf(url, sizeof(url), "https://img.shop.example/products/%s.jpg", product->id);
    BSON_APPEND_DOCUMENT_BEGIN(&items, key, &item);
    BSON_APPEND_UTF8(&item, "id", product->id);
    BSON_APPEND_UTF8(&item, "title", product->title);
    BSON_APPEND_UTF8(&item, "brand", product->brand);
    BSON_APPEND_UTF8(&item, "imgUrl", url);
    BSON_APPEND_INT64(&item, "pricePerUnitPence", unit);
    BSON_APPEND_UTF8(&item, "currency", currency);
    BSON_APPEND_INT32(&item, "quantity", quantity);
    BSON_APPEND_INT64(&item, "priceTotalPence", line_total);
    bson_append_document_end(&items, &item);
    total += line_total;
  }
  bson_append_array_end(doc, &items);
  return total;
}

/* The payment: a method, the last digits for cards, the receipt. */
static void append_payment(struct rng *rng, const char *id, bson_t *doc) {
  char url[128];
  char digits[8];
  bson_t payment;

  const char *method = PAYMENT_METHODS[PAYMENT_DRAWS[rng_below(rng, 6)]];
  BSON_APPEND_DOCUMENT_BEGIN(doc, "payment", &payment);
  BSON_APPEND_UTF8(&payment, "method", method);
  if (strcmp(method, "card") == 0 || strcmp(method, "apple_pay") == 0) {
    snprintf(digits, sizeof(digits), "%04u", rng_below(rng, 10000));
    BSON_APPEND_UTF8(&payment, "lastDigits", digits);
  } else {
    BSON_APPEND_NULL(&payment, "lastDigits");
  }
  snprintf(url, sizeof(url), "https://shop.example/receipts/%s", id);
  BSON_APPEND_UTF8(&payment, "receiptUrl", url);
  bson_append_document_end(doc, &payment);
}

void purchase_gen_document(uint32_t seed, uint32_t user, uint32_t index, bson_t *doc) {
  struct rng rng = {.state = pack_key(seed, user, index) ^ 0x5bd1e995ULL};
  char id[PURCHASE_GEN_ID_LEN];
  char user_id[16];
  bson_t delivery;
  int64_t total;

  purchase_gen_id(seed, user, index, id);
  purchase_gen_user_id(user, user_id, sizeof(user_id));
  const char *currency = CURRENCIES[rng_below(&rng, 10) < 6 ? 0 : 1 + rng_below(&rng, 2)];
  const char *status = pick_status(&rng);
  int64_t date = GEN_DATE_START_MS + (int64_t)(rng_next(&rng) % (uint64_t)GEN_DATE_SPAN_MS);
  uint32_t item_count = 1 + rng_below(&rng, 4);

  BSON_APPEND_UTF8(doc, "id", id);
  BSON_APPEND_UTF8(doc, "userId", user_id);
  BSON_APPEND_UTF8(doc, "status", status);
  total = append_items(&rng, currency, item_count, doc);
  BSON_APPEND_INT64(doc, "pricePence", total);
  BSON_APPEND_UTF8(doc, "currency", currency);
  BSON_APPEND_DATE_TIME(doc, "datePurchased", date);

  append_payment(&rng, id, doc);

  /* libbson's BSON_APPEND_* macros evaluate their value more than once:
   * draw random values into locals first, never inside the macro call. */
  uint32_t delivery_kind = rng_below(&rng, 10);
  const char *store = STORES[rng_below(&rng, 4)];
  int64_t delivered_at = date + (int64_t)(1 + rng_below(&rng, 6)) * GEN_DAY_MS;
  BSON_APPEND_DOCUMENT_BEGIN(doc, "delivery", &delivery);
  if (delivery_kind < 2) {
    BSON_APPEND_UTF8(&delivery, "method", "click_and_collect");
    BSON_APPEND_UTF8(&delivery, "storeLocation", store);
  } else {
    BSON_APPEND_UTF8(&delivery, "method", DELIVERY_METHODS[delivery_kind < 8 ? 0 : 1]);
    BSON_APPEND_NULL(&delivery, "storeLocation");
  }
  if (strcmp(status, "delivered") == 0 || strcmp(status, "refunded") == 0) {
    BSON_APPEND_DATE_TIME(&delivery, "dateDelivered", delivered_at);
  } else {
    BSON_APPEND_NULL(&delivery, "dateDelivered");
  }
  bson_append_document_end(doc, &delivery);
}
