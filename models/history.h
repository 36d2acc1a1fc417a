#ifndef PURCHASES_MODELS_HISTORY_H
#define PURCHASES_MODELS_HISTORY_H

/* The status history of each purchase: one document per change, numbered
 * from 1 by purchase, each carrying its customer's userId, the shard key it
 * shares with its purchase (models/collections.h). A unique index on
 * (userId, purchaseId, version) is what makes a status change safe under
 * concurrency on MongoDB and FerretDB alike: of two writers that read
 * version v, only one can insert entry v + 1, and only the one that did may
 * move the purchase to it.
 *
 * A database of the earlier shape (db_earlier_shape(): entries without
 * userId, purchase ids unique across customers) is read by purchase id,
 * keeping the entries without a userId and the user's own, until
 * purchases-migrate has given every entry its userId. */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "models/collections.h"
#include "models/db.h"
#include "models/status.h"

/* Set on an entry while its event waits for the relay (models/events.h). */
#define HISTORY_EVENT_PENDING "eventPending"

/* The longest status name, plus its NUL. */
#define HISTORY_STATUS_MAX 16

/* One change: the purchase went to `status` at `time_ms`. */
struct history_entry {
  const char *user_id;
  const char *purchase_id;
  int32_t version;
  const char *status;
  const char *from; /* the status before, NULL for the first entry */
  int64_t time_ms;
  bool has_date_delivered; /* the change set dateDelivered */
  int64_t date_delivered_ms;
};

/* Inserts the entry, durably. MODEL_CONFLICT when entry `version` of the
 * purchase exists already: another writer won. */
enum model_status history_store_append(struct db *db, const struct history_entry *entry);

/* Reads entry `version` of a purchase into *entry, whose status is copied
 * into status_buf. MODEL_NOT_FOUND when there is none. */
enum model_status history_store_get(struct db *db, const char *user_id, const char *purchase_id,
                                    int32_t version, struct history_entry *entry,
                                    char status_buf[HISTORY_STATUS_MAX]);

/* The purchase's changes, oldest first, as [{"status": ..., "time": ...}],
 * at most 100. On MODEL_OK *j_out is a new reference the caller owns. */
enum model_status history_store_list(struct db *db, const char *user_id, const char *purchase_id,
                                     json_t **j_out);

/* The unique (userId, purchaseId, version) index; idempotent. */
enum model_status history_store_ensure_indexes(struct db *db);

#endif
