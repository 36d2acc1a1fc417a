#include "routes/list_params.h"

#include <stdio.h>
#include <string.h>

#include "models/purchase.h"
#include "models/purchase_json.h"

/* Reads exactly `n` decimal digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, int *out) {
  int value = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  *p += n;
  *out = value;
  return true;
}

static bool is_leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month) {
  static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : DAYS[month - 1];
}

/* Days from 1970-01-01 to year-month-day in the proleptic Gregorian
 * calendar (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int year, int month, int day) {
  int64_t y = year - (month <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (month + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool parse_timestamp(const char *text, int64_t *ms) {
  const char *p = text;
  int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  int64_t offset_minutes = 0;

  if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &month) || *p++ != '-' ||
      !digits(&p, 2, &day)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return false;
  }
  if (*p == 'T' || *p == 't') {
    p++;
    if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &minute)) {
      return false;
    }
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &second)) {
        return false;
      }
      if (*p == '.') {
        int scale = 100;
        p++;
        if (*p < '0' || *p > '9') {
          return false;
        }
        /* Up to nanoseconds; what lies below a millisecond is dropped. */
        for (int n = 0; *p >= '0' && *p <= '9'; n++, p++) {
          if (n == 9) {
            return false;
          }
          millis += (*p - '0') * scale;
          scale /= 10;
        }
      }
    }
    if (hour > 23 || minute > 59 || second > 59) {
      return false;
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1;
      int oh, om;
      if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59) {
        return false;
      }
      offset_minutes = sign * (oh * 60 + om);
    } else {
      return false; /* a time needs its zone */
    }
  }
  if (*p != '\0') {
    return false;
  }
  int64_t minutes = (days_from_civil(year, month, day) * 24 + hour) * 60 + minute - offset_minutes;
  *ms = (minutes * 60 + second) * 1000 + millis;
  return true;
}

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
