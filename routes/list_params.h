#ifndef PURCHASES_ROUTES_LIST_PARAMS_H
#define PURCHASES_ROUTES_LIST_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "middleware/query.h"
#include "models/dates.h"
#include "models/purchase_query.h"
#include "routes/cursor.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX     100

/* Where list_params_read() puts what a parameter says: the typed query, and
 * the raw cursor (which cursor_decode() reads later). Both the caller's. */
struct list_target {
  struct purchase_query *query;
  const char **cursor;
};

/* How a parameter binds a cursor made while it was given. */
enum list_binding {
  LIST_BIND_NONE,        /* may change between pages (limit, fields, withTotal) */
  LIST_BIND_ORDER,       /* the cursor's order byte (sort) */
  LIST_BIND_FINGERPRINT, /* `bind` adds its value to the fingerprint (every filter) */
  LIST_BIND_SELF,        /* the cursor itself */
};

/* One query parameter of GET /user/:userId: the one place it is declared.
 * `parse` reads a present, non-empty value into the target, or writes one
 * sentence naming the parameter into err and returns false. A row whose
 * `filter` is not PURCHASE_FILTER_NONE must bind by fingerprint; the unit
 * tests walk the table and check that each such row's `example` changes the
 * filter and the fingerprint, and the contract test checks the names
 * against api/openapi.json both ways. */
struct list_param {
  const char *name;
  bool (*parse)(const char *value, struct list_target *target, char *err, size_t err_len);
  enum purchase_filter filter; /* the clause it feeds, or PURCHASE_FILTER_NONE */
  enum list_binding binding;
  void (*bind)(const struct purchase_query *query, struct cursor_binding *binding);
  const char *example;     /* a valid value other than the default, for the tests */
  const char *description; /* one line, for a reader of the table */
};

/* The rows of the table in order (the order of parsing, of the "Known: ..."
 * list and of the fingerprint): row i, or NULL past the last. The rows are
 * static; nobody frees them. */
const struct list_param *list_params_at(size_t i);

/* The name of row i, or NULL past the last (static storage). */
const char *list_params_name(size_t i);

/* The row named exactly `name`, or NULL (static storage). */
const struct list_param *list_params_find(const char *name);

/* Reads the query parameters of GET /user/:userId into `query` (whose
 * user_id the caller sets) and points *cursor at the raw cursor value, or
 * NULL. Everything is checked before any database work: an unknown
 * parameter, an empty or malformed value, a limit outside 1 to 100, an
 * impossible date, `from` after `to`, `minPricePence` above `maxPricePence`,
 * an unknown sort, status or field. On failure fills *error with the
 * parameter (for a range upside down, its lower bound: `from`,
 * `minPricePence`) and one sentence naming it, and returns false. *cursor
 * points into `params`. */
bool list_params_read(const struct query_params *params, struct purchase_query *query,
                      const char **cursor, struct query_error *error);

#endif
