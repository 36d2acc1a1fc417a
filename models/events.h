#ifndef PURCHASES_MODELS_EVENTS_H
#define PURCHASES_MODELS_EVENTS_H

/* The transactional outbox of purchase events (docs/events.md). With events
 * on (db_set_events()), every change sibling services must hear of records
 * its event in the same single-document write as the change: a create
 * inserts the purchase with its first event, a status change moves it and
 * pushes the event in one update. The relay (app/relay.c) finds purchases
 * with pending events, publishes each (CloudEvents 1.0, JSON) to NATS
 * JetStream, and takes it out of the outbox once JetStream has it.
 *
 * A pending event in the purchase document:
 *   outbox: [{id, type, version, time}, ...]   in version order
 *   outboxPending: true                        while outbox is not empty
 * The id is derived from (userId, purchaseId, version), so the same change
 * always has the same id, which JetStream de-duplicates (Nats-Msg-Id). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/db.h"
#include "models/status.h"

#define EVENT_TYPE_CREATED        "purchase.created"
#define EVENT_TYPE_STATUS_CHANGED "purchase.status_changed"
#define EVENT_ID_LEN              33 /* 32 hex digits and the NUL */
#define OUTBOX_FIELD              "outbox"
#define OUTBOX_PENDING_FIELD      "outboxPending"

/* The id of the event of `user_id`'s purchase reaching `version`. */
void event_id_of(const char *user_id, const char *purchase_id, int32_t version,
                 char out[EVENT_ID_LEN]);

/* Appends the outbox entry of that event, {id, type, version, time}, as
 * element `key` of an array being built. False when out of memory. */
bool event_append_entry(bson_t *array, const char *key, const char *user_id,
                        const char *purchase_id, int32_t version, int64_t time_ms);

/* Adds to a purchase document being inserted its first event: outbox with
 * the entry of version 1, and outboxPending. */
bool event_append_created(bson_t *doc, const char *user_id, const char *purchase_id,
                          int64_t time_ms);

/* One pending event, as the relay takes it. */
struct pending_event {
  char id[EVENT_ID_LEN];
  char type[32];
  int32_t version;
  int64_t time_ms;
};

/* Up to `limit` purchases that have pending events (the one read that is
 * cross-customer by nature: docs/scaling.md), each a copy the caller
 * destroys; *count says how many. */
enum model_status events_find_pending(struct db *db, size_t limit, bson_t **docs, size_t *count);

/* The pending events of a purchase document, in version order, at most
 * `max`; returns how many. */
size_t events_of(const bson_t *doc, struct pending_event *events, size_t max);

/* The CloudEvent of `event` of the purchase `doc`: `data` is the purchase
 * as GET /user/:userId/purchases/:purchaseId answered it right after that
 * change (status and history up to its version). A new reference, or NULL
 * with *status set. */
json_t *event_cloudevent(struct db *db, const bson_t *doc, const struct pending_event *event,
                         const char *source, enum model_status *status);

/* Takes a published event out of its purchase's outbox (and clears
 * outboxPending once nothing is left), durably. */
enum model_status events_mark_published(struct db *db, const char *user_id, const char *purchase_id,
                                        const struct pending_event *event);

#endif
