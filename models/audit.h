#ifndef PURCHASES_MODELS_AUDIT_H
#define PURCHASES_MODELS_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "models/collections.h"
#include "models/db.h"
#include "models/page_walk.h"
#include "models/purchase_query.h"
#include "models/status.h"

/* The collection that holds one record per audited read. */
#define AUDIT_REASON_MAX 200

/* Who read whose data, when, through which route, and with what result. */
struct audit_record {
  int64_t time_ms;
  const char *client;
  const char *role;
  const char *actor;       /* x-user-id or the token's sub */
  const char *user_id;     /* whose purchases were read */
  const char *route;       /* the pattern, e.g. "/user/:userId" */
  const char *purchase_id; /* the :purchaseId of a single-purchase read, or NULL */
  const char *method;
  long status; /* the HTTP status of the read */
  const char *request_id;
  const char *reason; /* x-access-reason, or NULL */
};

/* Writes one record, acknowledged by the server (write concern majority
 * with journaling on a replica set). Anything but MODEL_OK means it is not
 * known to be stored, and the read it describes must not be answered. */
enum model_status audit_store_insert(struct db *db, const struct audit_record *record);

/* One page of a user's audit trail, newest first (ties broken by the
 * record's _id), at most `limit`, after `after` when given. */
struct audit_page {
  json_t *j_data;          /* owned */
  struct page_edges edges; /* positions: time in ms and the record's _id, in hex */
};

/* One page of the user's audit trail, newest first: the `limit` records
 * after `after` (NULL for the first page) or, `before`, the ones just
 * before it. MODEL_INVALID when `after` names no record position (not an
 * ObjectId). */
enum model_status audit_store_list(struct db *db, const char *user_id, uint32_t limit,
                                   const struct purchase_position *after, bool before,
                                   struct audit_page *page);

void audit_page_cleanup(struct audit_page *page);

/* {userId: 1, time: -1, _id: -1}. */
enum model_status audit_store_ensure_indexes(struct db *db);

#endif
