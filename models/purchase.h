#ifndef PURCHASES_MODELS_PURCHASE_H
#define PURCHASES_MODELS_PURCHASE_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/collections.h"
#include "models/db.h"
#include "models/page_walk.h"
#include "models/purchase_query.h"
#include "models/purchase_schema.h"
#include "models/status.h"

/* The collection that holds one document per purchase. */

/* The field a status change sets on the purchase before it writes the
 * history entry, and clears when it moves the purchase: {version: v + 1,
 * since: date}. A purchase that carries it may have a change in its history
 * that it does not show yet (docs/writes.md). Never part of the API. */
#define PURCHASE_PENDING_FIELD "pendingChange"

/* The most purchases one list call returns. */
#define PURCHASE_LIST_MAX 100

/* One page of a list. */
struct purchase_page {
  json_t *j_data;          /* the purchases, a JSON array; owned */
  struct page_edges edges; /* its first and last purchase, what lies around */
  bool has_total;
  int64_t total;     /* matching purchases over all pages, when asked for */
  json_t *j_pending; /* ids of the page's purchases that carry a pending-change
                        hint (PURCHASE_PENDING_FIELD), a JSON array; NULL when
                        none does; owned */
};

/* Lists one page of `query`: the user's purchases matching its filters, in
 * its order, after its cursor position (or, for a previous page, just
 * before it), at most its limit; page->edges says whether pages follow
 * and come before it (models/page_walk.h). Every value goes
 * into the query as a typed value, never as an operator. On MODEL_OK the
 * page is filled and the caller releases it with purchase_page_cleanup(). */
enum model_status purchase_store_list(struct db *db, const struct purchase_query *query,
                                      struct purchase_page *page);

void purchase_page_cleanup(struct purchase_page *page);

/* Creates the indexes the queries rely on; safe to run any number of times
 * and from several instances at once. */
enum model_status purchase_store_ensure_indexes(struct db *db);

/* Inserts `count` purchase documents, unordered. A purchase whose `id` is
 * already stored is skipped, not an error, which makes re-runs idempotent.
 * *inserted receives how many were new; duplicate (count entries, or NULL)
 * which ones were skipped so. The documents stay the caller's. */
enum model_status purchase_store_insert_many(struct db *db, const bson_t *const *docs, size_t count,
                                             size_t *inserted, bool *duplicate);

/* The purchase's version: how many status changes its history holds (0
 * for a purchase stored without one). */
int32_t purchase_version_of(const bson_t *doc);

/* Inserts one purchase, durably (majority, journaled): MODEL_OK only once
 * the database confirmed it. MODEL_CONFLICT when its id is taken: by the
 * same customer, or, in a database of the earlier shape (ids unique across
 * customers), by anyone. */
enum model_status purchase_store_create(struct db *db, const bson_t *doc);

/* Reads the stored document of `user_id`'s purchase `purchase_id` (both
 * required: the user is the shard key). On MODEL_OK *doc_out is a copy the
 * caller bson_destroy()s. */
enum model_status purchase_store_find_doc(struct db *db, const char *user_id,
                                          const char *purchase_id, bson_t **doc_out);

/* Marks the purchase, while it is at version from_version, as about to
 * move to from_version + 1: sets PURCHASE_PENDING_FIELD to {version:
 * from_version + 1, since: now_ms}, durably. Does nothing if it is no
 * longer at from_version. Need not be atomic: it is only a hint. */
enum model_status purchase_store_mark_pending(struct db *db, const char *user_id,
                                              const char *purchase_id, int32_t from_version,
                                              int64_t now_ms);

/* Removes PURCHASE_PENDING_FIELD from the purchase if its version is still
 * pending_version (a newer hint is left alone); whatever it holds when
 * pending_version is 0. */
enum model_status purchase_store_clear_pending(struct db *db, const char *user_id,
                                               const char *purchase_id, int32_t pending_version);

/* The pending-change hint of a stored document: true, with its version and
 * time, when it has a usable one. */
bool purchase_pending_of(const bson_t *doc, int32_t *version, int64_t *since_ms);

/* Moves the purchase from version from_version to the next with
 * new_status (and delivery.dateDelivered when given) and removes its
 * pending-change hint, durably; does nothing if it is no longer at
 * from_version, or, with only_if_marked, if it carries no hint for the
 * next version (a history entry nobody marked the purchase for is not a
 * change of it). */
enum model_status purchase_store_apply(struct db *db, const char *user_id, const char *purchase_id,
                                       int32_t from_version, const char *new_status,
                                       const int64_t *date_delivered_ms, bool only_if_marked);

/* Sets *any to whether `user_id` has at least one purchase. */
enum model_status purchase_store_user_has_any(struct db *db, const char *user_id, bool *any);

#endif
