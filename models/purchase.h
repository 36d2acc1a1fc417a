#ifndef PURCHASES_MODELS_PURCHASE_H
#define PURCHASES_MODELS_PURCHASE_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/db.h"
#include "models/status.h"

/* The collection that holds one document per purchase. */
#define PURCHASE_COLLECTION "purchases"

/* The most purchases one list call returns. */
#define PURCHASE_LIST_MAX 100

/* The statuses a purchase can have, in lifecycle order; NULL-terminated. */
extern const char *const PURCHASE_STATUSES[];

/* Lists the purchases of `user_id`, newest first (ties broken by id, so the
 * order is total), at most `limit` (1 to PURCHASE_LIST_MAX). On MODEL_OK,
 * *j_out is a new JSON array (possibly empty) that the caller owns; on any
 * other status *j_out is NULL. `user_id` is used as a plain string value,
 * never as a query operator. */
enum model_status purchase_store_list_by_user(struct db *db, const char *user_id, uint32_t limit,
                                              json_t **j_out);

/* Creates the indexes the queries rely on; safe to run any number of times
 * and from several instances at once. */
enum model_status purchase_store_ensure_indexes(struct db *db);

/* Inserts `count` purchase documents, unordered. A purchase whose `id` is
 * already stored is skipped, not an error, which makes re-runs idempotent.
 * *inserted receives how many were new. The documents stay the caller's. */
enum model_status purchase_store_insert_many(struct db *db, const bson_t *const *docs, size_t count,
                                             size_t *inserted);

/* Sets *any to whether the collection holds at least one purchase. */
enum model_status purchase_store_any(struct db *db, bool *any);

#endif
