#include "models/collections.h"
#include "models/purchase_query.h"

#include <string.h>

#include "models/page_walk.h"
#include "models/purchase.h"
#include "models/purchase_json.h"

/* One row per sort: its public name, the stored field, the direction, and
 * whether the key is a BSON date (else an integer). The parser, its error
 * message, the filter, the sort document, the projection and the cursor's
 * position all read this table. */
static const struct {
  const char *name;
  const char *field;
  bool descending;
  bool by_date;
} SORTS[PURCHASE_SORT_COUNT] = {
    [PURCHASE_SORT_DATE_DESC] = {"-datePurchased", "datePurchased", true, true},
    [PURCHASE_SORT_DATE_ASC] = {"datePurchased", "datePurchased", false, true},
    [PURCHASE_SORT_PRICE_DESC] = {"-pricePence", "pricePence", true, false},
    [PURCHASE_SORT_PRICE_ASC] = {"pricePence", "pricePence", false, false},
};

const char *purchase_sort_name(enum purchase_sort sort) {
  return SORTS[sort].name;
}

const char *purchase_sort_field(enum purchase_sort sort) {
  return SORTS[sort].field;
}

bool purchase_sort_descending(enum purchase_sort sort) {
  return SORTS[sort].descending;
}

bool purchase_sort_by_date(enum purchase_sort sort) {
  return SORTS[sort].by_date;
}

int purchase_status_index(const char *name) {
  return schema_choice_index(PURCHASE_STATUSES, name);
}

bool purchase_text_pattern(const char *text, char *out, size_t out_len) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
    bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == ' ' || *p >= 0x80;
    if (n + (plain ? 1 : 2) >= out_len) {
      return false;
    }
    if (!plain) {
      out[n++] = '\\';
    }
    out[n++] = (char)*p;
  }
  if (n >= out_len) {
    return false;
  }
  out[n] = '\0';
  return true;
}

/* True when the database walks downwards: a descending sort read forwards,
 * or an ascending one read backwards for a previous page. */
static bool walk_descending(const struct purchase_query *query) {
  bool desc = purchase_sort_descending(query->sort);
  return query->has_after && query->before ? !desc : desc;
}

/* The bound past the cursor's purchase (page_walk_append_bound): on the
 * sort key, right after userId in every index, with the id to break ties. */
static void append_keyset(const struct purchase_query *query, bson_t *and_array,
                          uint32_t *and_count) {
  struct keyset_value key = {.type = purchase_sort_by_date(query->sort) ? BSON_TYPE_DATE_TIME
                                                                        : BSON_TYPE_INT64,
                             .number = query->after.key};
  struct keyset_value tie = {.type = BSON_TYPE_UTF8, .text = query->after.id};

  page_walk_append_bound(and_array, and_count, purchase_sort_field(query->sort), &key, "id", &tie,
                         !walk_descending(query));
}

/* {$or: [{"items.title": /text/i}, {"items.brand": /text/i}]}, into the
 * element of $and that `doc` is. */
static void append_text(const struct purchase_query *query, bson_t *doc) {
  static const char *const FIELDS[] = {"items.title", "items.brand"};
  char pattern[PURCHASE_TEXT_MAX * 2 + 1];
  char index_key[16];
  const char *key;
  bson_t or_array;

  if (!purchase_text_pattern(query->text, pattern, sizeof(pattern))) {
    return; /* cannot happen: the buffer holds every character escaped */
  }
  bson_append_array_begin(doc, "$or", -1, &or_array);
  for (uint32_t i = 0; i < 2; i++) {
    bson_t branch;
    bson_t regex;
    bson_uint32_to_string(i, &key, index_key, sizeof(index_key));
    bson_append_document_begin(&or_array, key, -1, &branch);
    bson_append_document_begin(&branch, FIELDS[i], -1, &regex);
    bson_append_utf8(&regex, "$regex", -1, pattern, -1);
    bson_append_utf8(&regex, "$options", -1, "i", -1);
    bson_append_document_end(&branch, &regex);
    bson_append_document_end(&or_array, &branch);
  }
  bson_append_array_end(doc, &or_array);
}

static bool status_active(const struct purchase_query *query) {
  return query->statuses != 0;
}

/* status: one status as plain equality, which FerretDB also hands to its
 * storage (it pushes down top-level equality only), where $in stays in
 * memory; several as {$in: [...]}, in PURCHASE_STATUSES order. */
static void append_status(const struct purchase_query *query, bson_t *filter) {
  char index_key[16];
  const char *key;
  uint32_t n = 0;
  bson_t child;
  bson_t in;

  if ((query->statuses & (query->statuses - 1)) == 0) {
    for (uint32_t i = 0; PURCHASE_STATUSES[i] != NULL; i++) {
      if (query->statuses == (1u << i)) {
        bson_append_utf8(filter, "status", -1, PURCHASE_STATUSES[i], -1);
      }
    }
    return;
  }
  bson_append_document_begin(filter, "status", -1, &child);
  bson_append_array_begin(&child, "$in", -1, &in);
  for (uint32_t i = 0; PURCHASE_STATUSES[i] != NULL; i++) {
    if (query->statuses & (1u << i)) {
      bson_uint32_to_string(n++, &key, index_key, sizeof(index_key));
      bson_append_utf8(&in, key, -1, PURCHASE_STATUSES[i], -1);
    }
  }
  bson_append_array_end(&child, &in);
  bson_append_document_end(filter, &child);
}

static bool date_active(const struct purchase_query *query) {
  return query->has_from || query->has_to;
}

/* datePurchased: {$gte: from, $lt: to}, either bound alone. */
static void append_date(const struct purchase_query *query, bson_t *filter) {
  bson_t child;
  bson_append_document_begin(filter, "datePurchased", -1, &child);
  if (query->has_from) {
    bson_append_date_time(&child, "$gte", -1, query->from_ms);
  }
  if (query->has_to) {
    bson_append_date_time(&child, "$lt", -1, query->to_ms);
  }
  bson_append_document_end(filter, &child);
}

static bool price_active(const struct purchase_query *query) {
  return query->has_min_price || query->has_max_price;
}

/* pricePence: {$gte: min, $lte: max} as int64, either bound alone. */
static void append_price(const struct purchase_query *query, bson_t *filter) {
  bson_t child;
  bson_append_document_begin(filter, "pricePence", -1, &child);
  if (query->has_min_price) {
    bson_append_int64(&child, "$gte", -1, query->min_price_pence);
  }
  if (query->has_max_price) {
    bson_append_int64(&child, "$lte", -1, query->max_price_pence);
  }
  bson_append_document_end(filter, &child);
}

static bool currency_active(const struct purchase_query *query) {
  return query->currency[0] != '\0';
}

static void append_currency(const struct purchase_query *query, bson_t *filter) {
  bson_append_utf8(filter, "currency", -1, query->currency, -1);
}

static bool text_active(const struct purchase_query *query) {
  return query->text[0] != '\0';
}

/* One clause of the filter: whether the query sets it, and how it is
 * appended. A clause `in_and` needs an $or of its own, so it goes into the
 * $and array (after the keyset bound) as a document of its own; the others
 * are top-level keys of the filter. */
static const struct {
  bool (*active)(const struct purchase_query *query);
  void (*append)(const struct purchase_query *query, bson_t *doc);
  bool in_and;
} CLAUSES[PURCHASE_FILTER_COUNT] = {
    [PURCHASE_FILTER_NONE] = {NULL, NULL, false},
    [PURCHASE_FILTER_STATUS] = {status_active, append_status, false},
    [PURCHASE_FILTER_DATE] = {date_active, append_date, false},
    [PURCHASE_FILTER_PRICE] = {price_active, append_price, false},
    [PURCHASE_FILTER_CURRENCY] = {currency_active, append_currency, false},
    [PURCHASE_FILTER_TEXT] = {text_active, append_text, true},
};

bool purchase_filter_active(const struct purchase_query *query, enum purchase_filter filter) {
  if ((int)filter <= PURCHASE_FILTER_NONE || filter >= PURCHASE_FILTER_COUNT) {
    return false;
  }
  return CLAUSES[filter].active(query);
}

void purchase_query_filter(const struct purchase_query *query, bool from_position, bson_t *filter) {
  bool keyset = from_position && query->has_after;
  bool any_in_and = false;
  char index_key[16];
  const char *key;
  bson_t and_array;
  uint32_t and_count = 0;

  /* Equality on the user first: the shard key, and every index we keep
   * starts with it. */
  shard_filter_begin(filter, PURCHASE_COLLECTION, query->user_id);
  for (int f = PURCHASE_FILTER_NONE + 1; f < PURCHASE_FILTER_COUNT; f++) {
    if (!CLAUSES[f].active(query)) {
      continue;
    }
    if (CLAUSES[f].in_and) {
      any_in_and = true;
    } else {
      CLAUSES[f].append(query, filter);
    }
  }

  /* The text search and the keyset bound each need an $or: $and keeps them
   * apart, and keeps the bound on the sort key out of the date or price
   * range above (a document may not repeat a key). */
  if (!keyset && !any_in_and) {
    return;
  }
  bson_append_array_begin(filter, "$and", -1, &and_array);
  if (keyset) {
    append_keyset(query, &and_array, &and_count);
  }
  for (int f = PURCHASE_FILTER_NONE + 1; f < PURCHASE_FILTER_COUNT; f++) {
    bson_t element;
    if (!CLAUSES[f].in_and || !CLAUSES[f].active(query)) {
      continue;
    }
    bson_uint32_to_string(and_count++, &key, index_key, sizeof(index_key));
    bson_append_document_begin(&and_array, key, -1, &element);
    CLAUSES[f].append(query, &element);
    bson_append_document_end(&and_array, &element);
  }
  bson_append_array_end(filter, &and_array);
}

void purchase_query_sort(const struct purchase_query *query, bson_t *sort) {
  int32_t direction = walk_descending(query) ? -1 : 1;
  bson_append_int32(sort, purchase_sort_field(query->sort), -1, direction);
  bson_append_int32(sort, "id", -1, direction);
}

void purchase_query_projection(const struct purchase_query *query, bson_t *projection) {
  bson_append_int32(projection, "_id", -1, 0);
  if (query->fields == 0) {
    return;
  }
  /* The sort key is read even when not shown: the next cursor needs it. */
  for (uint32_t i = 0; purchase_field_name(i) != NULL; i++) {
    const char *name = purchase_field_name(i);
    if (i == 0 || (query->fields & (1u << i)) ||
        strcmp(name, purchase_sort_field(query->sort)) == 0) {
      bson_append_int32(projection, name, -1, 1);
    }
  }
  /* Never shown, but the list must know which purchases may be behind
   * their history (models/purchase_write.c). */
  bson_append_int32(projection, PURCHASE_PENDING_FIELD, -1, 1);
}
