#ifndef PURCHASES_ROUTES_LIST_PARAMS_H
#define PURCHASES_ROUTES_LIST_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "middleware/query.h"
#include "models/dates.h"
#include "models/purchase_query.h"

#define LIST_LIMIT_DEFAULT 20
#define LIST_LIMIT_MAX     100

/* Reads the query parameters of GET /user/:userId into `query` (whose
 * user_id the caller sets) and points *cursor at the raw cursor value, or
 * NULL. Everything is checked before any database work: an unknown
 * parameter, an empty or malformed value, a limit outside 1 to 100, an
 * impossible date, `from` after `to`, `minPricePence` above `maxPricePence`,
 * an unknown sort, status or field. On failure writes one sentence naming
 * the parameter into err and returns false. *cursor points into `params`. */
bool list_params_read(const struct query_params *params, struct purchase_query *query,
                      const char **cursor, char *err, size_t err_len);

#endif
