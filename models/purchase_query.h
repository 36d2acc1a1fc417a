#ifndef PURCHASES_MODELS_PURCHASE_QUERY_H
#define PURCHASES_MODELS_PURCHASE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>

/* Longest user id and purchase id the service accepts or stores. */
#define PURCHASE_ID_MAX 64
/* Longest text search, in bytes of UTF-8. */
#define PURCHASE_TEXT_MAX 200

/* The orders a list can come in. Ties are always broken by `id` in the same
 * direction, so every order is total and keyset pagination is exact. */
enum purchase_sort {
  PURCHASE_SORT_DATE_DESC = 0, /* -datePurchased, the default */
  PURCHASE_SORT_DATE_ASC,      /* datePurchased */
  PURCHASE_SORT_PRICE_DESC,    /* -pricePence */
  PURCHASE_SORT_PRICE_ASC,     /* pricePence */
  PURCHASE_SORT_COUNT          /* not a sort: how many there are */
};

/* Where the previous page ended: the last purchase's sort key (milliseconds
 * for a date sort, pence for a price sort) and id. */
struct purchase_position {
  int64_t key;
  char id[PURCHASE_ID_MAX + 1];
};

/* One list request, validated. Filters that are off leave their field at its
 * zero value; `statuses` and `fields` are bit sets (0 means "all"). */
struct purchase_query {
  char user_id[PURCHASE_ID_MAX + 1];
  uint32_t limit;
  enum purchase_sort sort;
  uint32_t statuses; /* bit i: PURCHASE_STATUSES[i] */
  bool has_from;
  int64_t from_ms; /* inclusive */
  bool has_to;
  int64_t to_ms; /* exclusive */
  bool has_min_price;
  int64_t min_price_pence;
  bool has_max_price;
  int64_t max_price_pence;
  char currency[4];                 /* "" for any */
  char text[PURCHASE_TEXT_MAX + 1]; /* "" for none; literal, case-insensitive */
  uint32_t fields;                  /* bit i: purchase_field_name(i); id always */
  bool with_total;
  bool has_after;
  struct purchase_position after; /* the cursor's position, when has_after */
  bool before;                    /* with has_after: the page is the `limit` purchases just
                                     before `after` in the list's order (a previous page),
                                     not the ones just after it */
};

/* The clauses of a list filter besides the user, in the order
 * purchase_query_filter() appends them. Every list parameter that filters
 * names the clause it feeds (LIST_PARAMS[] in routes/list_params.c); a
 * clause no parameter names is a bug the unit tests catch. */
enum purchase_filter {
  PURCHASE_FILTER_NONE = 0, /* the parameter does not filter */
  PURCHASE_FILTER_STATUS,   /* statuses */
  PURCHASE_FILTER_DATE,     /* from_ms, to_ms */
  PURCHASE_FILTER_PRICE,    /* min_price_pence, max_price_pence */
  PURCHASE_FILTER_CURRENCY, /* currency */
  PURCHASE_FILTER_TEXT,     /* text */
  PURCHASE_FILTER_COUNT
};

/* True when `query` sets the clause `filter` (false for
 * PURCHASE_FILTER_NONE or any value out of range). */
bool purchase_filter_active(const struct purchase_query *query, enum purchase_filter filter);

/* The sort's public name ("-datePurchased", ...) and its stored field. */
const char *purchase_sort_name(enum purchase_sort sort);
const char *purchase_sort_field(enum purchase_sort sort);
bool purchase_sort_descending(enum purchase_sort sort);
/* True when the sort key is stored as a BSON date (its position is in
 * milliseconds); false for an integer (pence). */
bool purchase_sort_by_date(enum purchase_sort sort);

/* Index of `name` in PURCHASE_STATUSES, or -1. */
int purchase_status_index(const char *name);

/* Appends the MongoDB filter of `query` to `filter` (owned by the caller):
 * the user, then every active clause of enum purchase_filter in its order,
 * and, with `from_position`, the keyset bound past `query->after`. Every
 * value is appended as a typed value, never parsed as a query. */
void purchase_query_filter(const struct purchase_query *query, bool from_position, bson_t *filter);

/* Appends the sort document of `query` ({key: ±1, id: ±1}) to `sort`: the
 * order the database walks in, which for a previous page (`before`) is the
 * list's order reversed, so the walk starts next to the cursor. */
void purchase_query_sort(const struct purchase_query *query, bson_t *sort);

/* Appends the projection of `query` to `projection`: `_id` left out, and only
 * the chosen fields (plus `id` and the sort key, which the next cursor needs,
 * and the pending-change hint, which the list needs) when `fields` is set. */
void purchase_query_projection(const struct purchase_query *query, bson_t *projection);

/* Writes into `out` the regular expression that matches `text` literally:
 * every character that is not a letter, digit, space or non-ASCII byte is
 * escaped. Returns false when `out_len` is too small. */
bool purchase_text_pattern(const char *text, char *out, size_t out_len);

#endif
