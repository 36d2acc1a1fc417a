#include "routes/list_params.h"

#include <stdio.h>
#include <string.h>

#include "models/purchase.h"
#include "models/purchase_json.h"

/* A whole number of pence: 1 to 15 digits, nothing else. */
static bool parse_pence(const char *text, int64_t *out) {
  int64_t value = 0;
  size_t len = strlen(text);
  if (len == 0 || len > 15) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

/* Calls `one` for every element of a comma-separated list; false at the
 * first empty or refused element, whose text is copied into bad. */
static bool each_in_list(const char *list, bool (*one)(const char *item, uint32_t *set),
                         uint32_t *set, char *bad, size_t bad_len) {
  const char *item = list;
  for (;;) {
    size_t len = strcspn(item, ",");
    char buf[64];
    snprintf(bad, bad_len, "%.*s", (int)len, item);
    if (len == 0 || len >= sizeof(buf)) {
      return false;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    if (!one(buf, set)) {
      return false;
    }
    if (item[len] == '\0') {
      return true;
    }
    item += len + 1;
  }
}

static bool add_status(const char *name, uint32_t *set) {
  int index = purchase_status_index(name);
  if (index < 0) {
    return false;
  }
  *set |= 1u << index;
  return true;
}

static bool add_field(const char *name, uint32_t *set) {
  int index = purchase_field_index(name);
  if (index < 0) {
    return false;
  }
  *set |= 1u << index;
  return true;
}

/* The parameters GET /user/:userId knows, in the order errors list them. */
static const char *const KNOWN[] = {"limit",         "sort",          "status",   "from", "to",
                                    "minPricePence", "maxPricePence", "currency", "q",    "fields",
                                    "cursor",        "withTotal",     NULL};

static bool is_known(const char *name) {
  for (size_t i = 0; KNOWN[i] != NULL; i++) {
    if (strcmp(KNOWN[i], name) == 0) {
      return true;
    }
  }
  return false;
}

bool list_params_read(const struct query_params *params, struct purchase_query *query,
                      const char **cursor, char *err, size_t err_len) {
  const char *value;
  char bad[80];

  query->limit = LIST_LIMIT_DEFAULT;
  query->sort = PURCHASE_SORT_DATE_DESC;
  *cursor = NULL;

  for (size_t i = 0; i < params->count; i++) {
    if (!is_known(params->params[i].name)) {
      snprintf(err, err_len,
               "Unknown query parameter '%s'. Known: limit, sort, status, from, to, "
               "minPricePence, maxPricePence, currency, q, fields, cursor, withTotal.",
               params->params[i].name);
      return false;
    }
  }

  if ((value = query_params_get(params, "limit")) != NULL) {
    int64_t limit = 0;
    if (!parse_pence(value, &limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
      snprintf(err, err_len, "Query parameter 'limit' must be a whole number from 1 to %d.",
               LIST_LIMIT_MAX);
      return false;
    }
    query->limit = (uint32_t)limit;
  }

  if ((value = query_params_get(params, "sort")) != NULL) {
    bool found = false;
    for (int s = PURCHASE_SORT_DATE_DESC; s <= PURCHASE_SORT_PRICE_ASC; s++) {
      if (strcmp(value, purchase_sort_name((enum purchase_sort)s)) == 0) {
        query->sort = (enum purchase_sort)s;
        found = true;
      }
    }
    if (!found) {
      snprintf(err, err_len,
               "Query parameter 'sort' must be one of -datePurchased, datePurchased, "
               "-pricePence, pricePence.");
      return false;
    }
  }

  if ((value = query_params_get(params, "status")) != NULL &&
      !each_in_list(value, add_status, &query->statuses, bad, sizeof(bad))) {
    snprintf(err, err_len,
             "Query parameter 'status' has '%s'; each comma-separated status must be one of "
             "placed, paid, shipped, delivered, cancelled, refunded.",
             bad);
    return false;
  }

  if ((value = query_params_get(params, "from")) != NULL) {
    if (!parse_timestamp(value, &query->from_ms)) {
      snprintf(err, err_len,
               "Query parameter 'from' must be an ISO-8601 date (2024-03-01) or date-time with "
               "a zone (2024-03-01T09:30:00Z; encode '+' as %%2B).");
      return false;
    }
    query->has_from = true;
  }
  if ((value = query_params_get(params, "to")) != NULL) {
    if (!parse_timestamp(value, &query->to_ms)) {
      snprintf(err, err_len,
               "Query parameter 'to' must be an ISO-8601 date (2024-03-01) or date-time with "
               "a zone (2024-03-01T09:30:00Z; encode '+' as %%2B).");
      return false;
    }
    query->has_to = true;
  }
  if (query->has_from && query->has_to && query->from_ms > query->to_ms) {
    snprintf(err, err_len, "Query parameter 'from' must not be after 'to'.");
    return false;
  }

  if ((value = query_params_get(params, "minPricePence")) != NULL) {
    if (!parse_pence(value, &query->min_price_pence)) {
      snprintf(err, err_len,
               "Query parameter 'minPricePence' must be a whole number of pence (0 to "
               "999999999999999).");
      return false;
    }
    query->has_min_price = true;
  }
  if ((value = query_params_get(params, "maxPricePence")) != NULL) {
    if (!parse_pence(value, &query->max_price_pence)) {
      snprintf(err, err_len,
               "Query parameter 'maxPricePence' must be a whole number of pence (0 to "
               "999999999999999).");
      return false;
    }
    query->has_max_price = true;
  }
  if (query->has_min_price && query->has_max_price &&
      query->min_price_pence > query->max_price_pence) {
    snprintf(err, err_len, "Query parameter 'minPricePence' must not be above 'maxPricePence'.");
    return false;
  }

  if ((value = query_params_get(params, "currency")) != NULL) {
    if (strlen(value) != 3 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
      snprintf(err, err_len,
               "Query parameter 'currency' must be an ISO-4217 code of three capital letters "
               "(GBP, EUR, USD).");
      return false;
    }
    memcpy(query->currency, value, 4);
  }

  if ((value = query_params_get(params, "q")) != NULL) {
    if (strlen(value) > PURCHASE_TEXT_MAX) {
      snprintf(err, err_len, "Query parameter 'q' must be at most %d bytes.", PURCHASE_TEXT_MAX);
      return false;
    }
    snprintf(query->text, sizeof(query->text), "%s", value);
  }

  if ((value = query_params_get(params, "fields")) != NULL &&
      !each_in_list(value, add_field, &query->fields, bad, sizeof(bad))) {
    snprintf(err, err_len,
             "Query parameter 'fields' has '%s'; each comma-separated field must be one of id, "
             "userId, status, items, pricePence, currency, datePurchased, payment, delivery.",
             bad);
    return false;
  }

  if ((value = query_params_get(params, "withTotal")) != NULL) {
    if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
      snprintf(err, err_len, "Query parameter 'withTotal' must be true or false.");
      return false;
    }
    query->with_total = strcmp(value, "true") == 0;
  }

  *cursor = query_params_get(params, "cursor");
  return true;
}
