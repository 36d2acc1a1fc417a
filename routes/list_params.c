#include "routes/list_params.h"

#include <stdio.h>
#include <string.h>

#include "lib/words.h"
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

/* --- parsers: one per row, each writing its own typed fields ----------- */

static bool parse_limit(const char *value, struct list_target *target, char *err, size_t err_len) {
  int64_t limit = 0;
  if (!parse_pence(value, &limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    snprintf(err, err_len, "Query parameter 'limit' must be a whole number from 1 to %d.",
             LIST_LIMIT_MAX);
    return false;
  }
  target->query->limit = (uint32_t)limit;
  return true;
}

/* The names each parameter accepts, for its message (lib/words.h), read
 * from the tables that define them. */
static const char *sort_at(const void *list, size_t i) {
  (void)list;
  return i < PURCHASE_SORT_COUNT ? purchase_sort_name((enum purchase_sort)i) : NULL;
}

/* A comma-separated list of names, each put into *set by `one`; else the
 * message naming the first that is not one of `names`. */
static bool parse_names(const char *param, const char *what, const char *value,
                        bool (*one)(const char *item, uint32_t *set), uint32_t *set,
                        words_at_fn names_at, const void *names_list, char *err, size_t err_len) {
  char bad[80];
  char names[200];

  if (each_in_list(value, one, set, bad, sizeof(bad))) {
    return true;
  }
  words_join(names_at, names_list, NULL, names, sizeof(names));
  snprintf(err, err_len,
           "Query parameter '%s' has '%s'; each comma-separated %s must be one of %s.", param, bad,
           what, names);
  return false;
}

static bool parse_sort(const char *value, struct list_target *target, char *err, size_t err_len) {
  char names[160];
  for (uint32_t s = 0; s < PURCHASE_SORT_COUNT; s++) {
    if (strcmp(value, purchase_sort_name((enum purchase_sort)s)) == 0) {
      target->query->sort = (enum purchase_sort)s;
      return true;
    }
  }
  words_join(sort_at, NULL, NULL, names, sizeof(names));
  snprintf(err, err_len, "Query parameter 'sort' must be one of %s.", names);
  return false;
}

static bool parse_status(const char *value, struct list_target *target, char *err, size_t err_len) {
  return parse_names("status", "status", value, add_status, &target->query->statuses,
                     words_of_array, PURCHASE_STATUSES, err, err_len);
}

/* A date or date-time for the parameter `name`. */
static bool parse_date(const char *name, const char *value, int64_t *ms, char *err,
                       size_t err_len) {
  if (!parse_timestamp(value, ms)) {
    snprintf(err, err_len,
             "Query parameter '%s' must be an ISO-8601 date (2024-03-01) or date-time with "
             "a zone (2024-03-01T09:30:00Z; encode '+' as %%2B).",
             name);
    return false;
  }
  return true;
}

static bool parse_from(const char *value, struct list_target *target, char *err, size_t err_len) {
  if (!parse_date("from", value, &target->query->from_ms, err, err_len)) {
    return false;
  }
  target->query->has_from = true;
  return true;
}

static bool parse_to(const char *value, struct list_target *target, char *err, size_t err_len) {
  struct purchase_query *query = target->query;
  if (!parse_date("to", value, &query->to_ms, err, err_len)) {
    return false;
  }
  query->has_to = true;
  return true;
}

/* A whole number of pence for the parameter `name`. */
static bool parse_price(const char *name, const char *value, int64_t *pence, char *err,
                        size_t err_len) {
  if (!parse_pence(value, pence)) {
    snprintf(err, err_len,
             "Query parameter '%s' must be a whole number of pence (0 to 999999999999999).", name);
    return false;
  }
  return true;
}

static bool parse_min_price(const char *value, struct list_target *target, char *err,
                            size_t err_len) {
  if (!parse_price("minPricePence", value, &target->query->min_price_pence, err, err_len)) {
    return false;
  }
  target->query->has_min_price = true;
  return true;
}

static bool parse_max_price(const char *value, struct list_target *target, char *err,
                            size_t err_len) {
  struct purchase_query *query = target->query;
  if (!parse_price("maxPricePence", value, &query->max_price_pence, err, err_len)) {
    return false;
  }
  query->has_max_price = true;
  return true;
}

static bool parse_currency(const char *value, struct list_target *target, char *err,
                           size_t err_len) {
  if (strlen(value) != 3 || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
    snprintf(err, err_len,
             "Query parameter 'currency' must be an ISO-4217 code of three capital letters "
             "(GBP, EUR, USD).");
    return false;
  }
  memcpy(target->query->currency, value, 4);
  return true;
}

static bool parse_text(const char *value, struct list_target *target, char *err, size_t err_len) {
  if (strlen(value) > PURCHASE_TEXT_MAX) {
    snprintf(err, err_len, "Query parameter 'q' must be at most %d bytes.", PURCHASE_TEXT_MAX);
    return false;
  }
  snprintf(target->query->text, sizeof(target->query->text), "%s", value);
  return true;
}

static bool parse_fields(const char *value, struct list_target *target, char *err, size_t err_len) {
  return parse_names("fields", "field", value, add_field, &target->query->fields,
                     schema_field_name_at, PURCHASE_SCHEMA, err, err_len);
}

/* Kept raw: cursor_decode() checks it once the rest of the query is known. */
static bool parse_cursor(const char *value, struct list_target *target, char *err, size_t err_len) {
  (void)err;
  (void)err_len;
  *target->cursor = value;
  return true;
}

static bool parse_with_total(const char *value, struct list_target *target, char *err,
                             size_t err_len) {
  if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
    snprintf(err, err_len, "Query parameter 'withTotal' must be true or false.");
    return false;
  }
  target->query->with_total = strcmp(value, "true") == 0;
  return true;
}

/* --- cursor bindings: what each filter adds to the fingerprint --------- */

static void bind_status(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_uint32(binding, query->statuses);
}

static void bind_from(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_int64(binding, query->has_from, query->from_ms);
}

static void bind_to(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_int64(binding, query->has_to, query->to_ms);
}

static void bind_min_price(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_int64(binding, query->has_min_price, query->min_price_pence);
}

static void bind_max_price(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_int64(binding, query->has_max_price, query->max_price_pence);
}

static void bind_currency(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_string(binding, query->currency);
}

static void bind_text(const struct purchase_query *query, struct cursor_binding *binding) {
  cursor_bind_string(binding, query->text);
}

/* --- the table ---------------------------------------------------------- */

#define NO_FILTER PURCHASE_FILTER_NONE
#define FILTER(f) PURCHASE_FILTER_##f
#define BY_PRINT  LIST_BIND_FINGERPRINT

/* The parameters of GET /user/:userId, in the order they are parsed, listed
 * in the "Known: ..." message and bound into the cursor's fingerprint (the
 * fingerprint's bytes follow this order, so reordering rows invalidates
 * outstanding cursors). Adding one: docs/extending.md. */
static const struct list_param LIST_PARAMS[] = {
    {.name = "limit",
     .parse = parse_limit,
     .example = "5",
     .description = "purchases per page, 1 to 100"},
    {.name = "sort",
     .parse = parse_sort,
     .binding = LIST_BIND_ORDER,
     .example = "pricePence",
     .description = "order: -datePurchased (default), datePurchased, -pricePence, pricePence"},
    {.name = "status",
     .parse = parse_status,
     .filter = FILTER(STATUS),
     .binding = BY_PRINT,
     .bind = bind_status,
     .example = "paid,shipped",
     .description = "any of these comma-separated statuses"},
    {.name = "from",
     .parse = parse_from,
     .filter = FILTER(DATE),
     .binding = BY_PRINT,
     .bind = bind_from,
     .example = "2024-03-01",
     .description = "datePurchased at or after this date or date-time"},
    {.name = "to",
     .parse = parse_to,
     .filter = FILTER(DATE),
     .binding = BY_PRINT,
     .bind = bind_to,
     .example = "2024-03-01",
     .description = "datePurchased before this date or date-time"},
    {.name = "minPricePence",
     .parse = parse_min_price,
     .filter = FILTER(PRICE),
     .binding = BY_PRINT,
     .bind = bind_min_price,
     .example = "100",
     .description = "pricePence at least this"},
    {.name = "maxPricePence",
     .parse = parse_max_price,
     .filter = FILTER(PRICE),
     .binding = BY_PRINT,
     .bind = bind_max_price,
     .example = "5000",
     .description = "pricePence at most this"},
    {.name = "currency",
     .parse = parse_currency,
     .filter = FILTER(CURRENCY),
     .binding = BY_PRINT,
     .bind = bind_currency,
     .example = "EUR",
     .description = "the purchase's currency, three capital letters"},
    {.name = "q",
     .parse = parse_text,
     .filter = FILTER(TEXT),
     .binding = BY_PRINT,
     .bind = bind_text,
     .example = "mug",
     .description = "literal, case-insensitive text in any item's title or brand"},
    {.name = "fields",
     .parse = parse_fields,
     .example = "items",
     .description = "only these top-level fields; id always"},
    {.name = "cursor",
     .parse = parse_cursor,
     .binding = LIST_BIND_SELF,
     .example = "AQAA",
     .description = "page.nextCursor or page.prevCursor of an earlier page"},
    {.name = "withTotal",
     .parse = parse_with_total,
     .example = "true",
     .description = "true adds page.total"},
};

#define LIST_PARAMS_COUNT (sizeof(LIST_PARAMS) / sizeof(LIST_PARAMS[0]))

const struct list_param *list_params_at(size_t i) {
  return i < LIST_PARAMS_COUNT ? &LIST_PARAMS[i] : NULL;
}

const char *list_params_name(size_t i) {
  return i < LIST_PARAMS_COUNT ? LIST_PARAMS[i].name : NULL;
}

const struct list_param *list_params_find(const char *name) {
  for (size_t i = 0; i < LIST_PARAMS_COUNT; i++) {
    if (strcmp(LIST_PARAMS[i].name, name) == 0) {
      return &LIST_PARAMS[i];
    }
  }
  return NULL;
}

/* "Unknown query parameter 'x'. Known: limit, sort, ..., withTotal." */
static const char *param_at(const void *list, size_t i) {
  (void)list;
  return list_params_name(i);
}

static void unknown_parameter(const char *name, char *err, size_t err_len) {
  char known[256];
  words_join(param_at, NULL, NULL, known, sizeof(known));
  snprintf(err, err_len, "Unknown query parameter '%s'. Known: %s.", name, known);
}

/* The rules between two parameters, once every row is read: a range
 * whose lower bound is above its upper one. The error names the lower. */
static bool bounds_hold(const struct purchase_query *query, struct query_error *error) {
  const char *lower = NULL;
  const char *upper = NULL;

  if (query->has_from && query->has_to && query->from_ms > query->to_ms) {
    lower = "from";
    upper = "to";
  } else if (query->has_min_price && query->has_max_price &&
             query->min_price_pence > query->max_price_pence) {
    lower = "minPricePence";
    upper = "maxPricePence";
  }
  if (lower == NULL) {
    return true;
  }
  snprintf(error->name, sizeof(error->name), "%s", lower);
  snprintf(error->detail, sizeof(error->detail), "Query parameter '%s' must not be %s '%s'.", lower,
           strcmp(lower, "from") == 0 ? "after" : "above", upper);
  return false;
}

bool list_params_read(const struct query_params *params, struct purchase_query *query,
                      const char **cursor, struct query_error *error) {
  struct list_target target = {query, cursor};
  const char *name;

  query->limit = LIST_LIMIT_DEFAULT;
  query->sort = PURCHASE_SORT_DATE_DESC;
  *cursor = NULL;

  for (size_t i = 0; i < params->count; i++) {
    name = params->params[i].name;
    if (list_params_find(name) == NULL) {
      snprintf(error->name, sizeof(error->name), "%s", name);
      unknown_parameter(name, error->detail, sizeof(error->detail));
      return false;
    }
  }
  for (size_t i = 0; i < LIST_PARAMS_COUNT; i++) {
    const char *value = query_params_get(params, LIST_PARAMS[i].name);
    if (value != NULL &&
        !LIST_PARAMS[i].parse(value, &target, error->detail, sizeof(error->detail))) {
      snprintf(error->name, sizeof(error->name), "%s", LIST_PARAMS[i].name);
      return false;
    }
  }
  return bounds_hold(query, error);
}
