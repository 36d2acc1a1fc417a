#ifndef PURCHASES_MODELS_EVENTS_H
#define PURCHASES_MODELS_EVENTS_H

/* Purchase events (docs/events.md). With events on (db_set_events()), the
 * history entry that every create and status change writes is also its
 * event, marked HISTORY_EVENT_PENDING in that same insert: the one write
 * that decides the change (the history's unique index arbitrates it, and a
 * change whose entry exists is applied, on a later read if its writer
 * died: docs/writes.md). So there is no change without its event, and no
 * event without its change. History entries are never changed by the
 * writers once inserted, so the relay (app/relay.c), which publishes each
 * pending event and then clears its mark, is the only writer of the mark:
 * it can never undo a change, even on FerretDB, whose updates read and
 * write back whole documents.
 *
 * An event's id is derived from (userId, purchaseId, version), so the same
 * change always has the same id, which JetStream de-duplicates
 * (Nats-Msg-Id). Its type is purchase.created for the first entry of a
 * created purchase (no "from"), purchase.status_changed otherwise. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/db.h"
#include "models/history.h"
#include "models/status.h"

#define EVENT_TYPE_CREATED        "purchase.created"
#define EVENT_TYPE_STATUS_CHANGED "purchase.status_changed"
#define EVENT_ID_LEN              33 /* 32 hex digits and the NUL */

/* The id of the event of `user_id`'s purchase reaching `version`. */
void event_id_of(const char *user_id, const char *purchase_id, int32_t version,
                 char out[EVENT_ID_LEN]);

/* One pending event, as the relay takes it from its history entry. */
struct pending_event {
  char id[EVENT_ID_LEN];
  char type[32];
  char user_id[72];
  char purchase_id[72];
  int32_t version;
  int64_t time_ms;
  char status[HISTORY_STATUS_MAX]; /* the status the change reached */
};

/* Up to `max` pending events (the one read that is cross-customer by
 * nature: docs/scaling.md), ordered here by customer, purchase and version
 * (the database is not asked to sort: FerretDB would read every pending
 * entry to do it). *count says how many. The batch may lack an earlier
 * pending event of a purchase: event_cloudevent() says so. */
enum model_status events_find_pending(struct db *db, struct pending_event *events, size_t max,
                                      size_t *count);

/* The CloudEvent of `event`: `data` is the purchase as
 * GET /user/:userId/purchases/:purchaseId answered it right after that
 * change (its status then, its history up to that version). A new
 * reference, or NULL with *status set: MODEL_NOT_FOUND when the purchase
 * is not there (a create whose writer died between its two inserts),
 * MODEL_BUSY when an earlier event of the purchase is still pending (it
 * goes first). */
json_t *event_cloudevent(struct db *db, const struct pending_event *event, const char *source,
                         enum model_status *status);

/* Clears the event's mark on its history entry, durably. */
enum model_status events_mark_published(struct db *db, const struct pending_event *event);

#endif
