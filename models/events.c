#include "models/events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "models/collections.h"
#include "models/history.h"
#include "models/purchase.h"
#include "models/purchase_json.h"

/* The relay's look for pending events: the one read that is cross-customer
 * by nature, allowed by the shard-key check (models/shard_check.c) and
 * named in docs/scaling.md. */
#define PENDING_COMMENT "purchases: the relay's look for pending events"
/* A created event whose first history entry is not written yet is left
 * for a later round (its writer is between its two writes), unless it is
 * this old: then the writer died, and the retry of its caller, or nothing,
 * completes it. */
#define EVENT_HISTORY_GRACE_MS 60000

void event_id_of(const char *user_id, const char *purchase_id, int32_t version,
                 char out[EVENT_ID_LEN]) {
  unsigned char digest[32];
  char text[160];
  int len = snprintf(text, sizeof(text), "%s\x1f%s\x1f%d", user_id, purchase_id, version);

  memset(digest, 0, sizeof(digest));
  if (len > 0) {
    gnutls_hash_fast(GNUTLS_DIG_SHA256, text,
                     (size_t)len < sizeof(text) ? (size_t)len : sizeof(text), digest);
  }
  for (size_t i = 0; i < 16; i++) {
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  }
}

bool event_append_entry(bson_t *array, const char *key, const char *user_id,
                        const char *purchase_id, int32_t version, int64_t time_ms) {
  char id[EVENT_ID_LEN];
  bson_t entry;

  event_id_of(user_id, purchase_id, version, id);
  return BSON_APPEND_DOCUMENT_BEGIN(array, key, &entry) && BSON_APPEND_UTF8(&entry, "id", id) &&
         BSON_APPEND_UTF8(&entry, "type",
                          version == 1 ? EVENT_TYPE_CREATED : EVENT_TYPE_STATUS_CHANGED) &&
         BSON_APPEND_INT32(&entry, "version", version) &&
         BSON_APPEND_DATE_TIME(&entry, "time", time_ms) && bson_append_document_end(array, &entry);
}

bool event_append_created(bson_t *doc, const char *user_id, const char *purchase_id,
                          int64_t time_ms) {
  bson_t outbox;
  return BSON_APPEND_ARRAY_BEGIN(doc, OUTBOX_FIELD, &outbox) &&
         event_append_entry(&outbox, "0", user_id, purchase_id, 1, time_ms) &&
         bson_append_array_end(doc, &outbox) && BSON_APPEND_BOOL(doc, OUTBOX_PENDING_FIELD, true);
}

struct found {
  bson_t **docs;
  size_t count;
  size_t limit;
};

static enum db_take take_pending(const bson_t *doc, void *arg) {
  struct found *found = arg;
  if (found->count == found->limit) {
    return DB_TAKE_ENOUGH;
  }
  found->docs[found->count] = bson_copy(doc);
  return found->docs[found->count++] != NULL ? DB_TAKE_MORE : DB_TAKE_FAILED;
}

enum model_status events_find_pending(struct db *db, size_t limit, bson_t **docs, size_t *count) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW(OUTBOX_PENDING_FIELD, BCON_BOOL(true));
  bson_t *opts =
      BCON_NEW("limit", BCON_INT64((int64_t)limit), "comment", BCON_UTF8(PENDING_COMMENT),
               "maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));
  struct found found = {.docs = docs, .limit = limit};

  *count = 0;
  if (db_call_begin(&call, db, DB_OP_PURCHASE_LIST, PURCHASE_COLLECTION, &status)) {
    status = db_find_each(call.collection, filter, opts, take_pending, &found, "events", "pending");
  }
  db_call_end(&call);
  *count = found.count;
  if (status != MODEL_OK) {
    for (size_t i = 0; i < found.count; i++) {
      bson_destroy(docs[i]);
    }
    *count = 0;
  }
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

size_t events_of(const bson_t *doc, struct pending_event *events, size_t max) {
  bson_iter_t iter;
  bson_iter_t items;
  size_t n = 0;

  if (!bson_iter_init_find(&iter, doc, OUTBOX_FIELD) || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &items)) {
    return 0;
  }
  while (n < max && bson_iter_next(&items)) {
    bson_iter_t field;
    struct pending_event *event = &events[n];
    bool has_id = false;
    if (!BSON_ITER_HOLDS_DOCUMENT(&items) || !bson_iter_recurse(&items, &field)) {
      continue;
    }
    memset(event, 0, sizeof(*event));
    while (bson_iter_next(&field)) {
      const char *key = bson_iter_key(&field);
      if (strcmp(key, "id") == 0 && BSON_ITER_HOLDS_UTF8(&field)) {
        snprintf(event->id, sizeof(event->id), "%s", bson_iter_utf8(&field, NULL));
        has_id = true;
      } else if (strcmp(key, "type") == 0 && BSON_ITER_HOLDS_UTF8(&field)) {
        snprintf(event->type, sizeof(event->type), "%s", bson_iter_utf8(&field, NULL));
      } else if (strcmp(key, "version") == 0 && BSON_ITER_HOLDS_INT32(&field)) {
        event->version = bson_iter_int32(&field);
      } else if (strcmp(key, "time") == 0 && BSON_ITER_HOLDS_DATE_TIME(&field)) {
        event->time_ms = bson_iter_date_time(&field);
      }
    }
    n += has_id && event->version > 0 && event->type[0] != '\0';
  }
  return n;
}

static const char *utf8_of(const bson_t *doc, const char *name) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, doc, name) && BSON_ITER_HOLDS_UTF8(&iter)
             ? bson_iter_utf8(&iter, NULL)
             : NULL;
}

/* The purchase as it was right after `version`: its history up to it, and
 * the status it reached (a later change moved the document on). */
static json_t *purchase_at(const bson_t *doc, json_t *j_history, int32_t version) {
  json_t *j_purchase = purchase_to_json(doc);
  json_t *j_upto = json_array();
  bool delivered = false;

  if (j_purchase == NULL || j_upto == NULL) {
    json_decref(j_upto);
    json_decref(j_purchase);
    return NULL;
  }
  for (size_t i = 0; i < json_array_size(j_history) && i < (size_t)version; i++) {
    json_t *j_entry = json_array_get(j_history, i);
    const char *name = json_string_value(json_object_get(j_entry, "status"));
    json_array_append(j_upto, j_entry);
    delivered = delivered || (name != NULL && strcmp(name, "delivered") == 0);
    if (i + 1 == (size_t)version && name != NULL) {
      json_object_set_new(j_purchase, "status", json_string(name));
    }
  }
  if (purchase_version_of(doc) > version && !delivered) {
    json_t *j_delivery = json_object_get(j_purchase, "delivery");
    if (json_is_object(j_delivery)) {
      json_object_set_new(j_delivery, "dateDelivered", json_null());
    }
  }
  json_object_set_new(j_purchase, "statusHistory", j_upto);
  return j_purchase;
}

json_t *event_cloudevent(struct db *db, const bson_t *doc, const struct pending_event *event,
                         const char *source, enum model_status *status) {
  const char *user_id = utf8_of(doc, "userId");
  const char *purchase_id = utf8_of(doc, "id");
  json_t *j_history = NULL;
  json_t *j_data = NULL;
  json_t *j_event = NULL;
  char time[PURCHASE_DATE_LEN] = "";

  *status = MODEL_ERROR;
  if (user_id == NULL || purchase_id == NULL) {
    goto done;
  }
  *status = history_store_list(db, user_id, purchase_id, &j_history);
  if (*status != MODEL_OK) {
    goto done;
  }
  if (json_array_size(j_history) < (size_t)event->version) {
    /* Its history entry is not written yet (a create between its two
     * writes): later, unless its writer died long ago. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if ((int64_t)now.tv_sec * 1000 - event->time_ms < EVENT_HISTORY_GRACE_MS) {
      *status = MODEL_BUSY;
      goto done;
    }
  }
  j_data = purchase_at(doc, j_history, event->version);
  purchase_format_date(event->time_ms, time);
  j_event = json_pack("{ss ss ss ss ss ss ss ss si sO}", "specversion", "1.0", "id", event->id,
                      "source", source, "type", event->type, "subject", purchase_id, "time", time,
                      "datacontenttype", "application/json", "userid", user_id, "purchaseversion",
                      (int)event->version, "data", j_data);
  *status = j_event != NULL ? MODEL_OK : MODEL_ERROR;

done:
  json_decref(j_data);
  json_decref(j_history);
  return j_event;
}

enum model_status events_mark_published(struct db *db, const char *user_id, const char *purchase_id,
                                        const struct pending_event *event) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t empty = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  /* The whole entry, as event_append_entry() wrote it: FerretDB pulls an
   * element equal to the value given, not one that matches it. */
  bson_t *pull = BCON_NEW("$pull", "{", OUTBOX_FIELD, "{", "id", BCON_UTF8(event->id), "type",
                          BCON_UTF8(event->type), "version", BCON_INT32(event->version), "time",
                          BCON_DATE_TIME(event->time_ms), "}", "}");
  bson_t *unset = BCON_NEW("$unset", "{", OUTBOX_PENDING_FIELD, BCON_UTF8(""), "}");
  bson_error_t error;

  BCON_APPEND(&empty, OUTBOX_FIELD, "{", "$size", BCON_INT32(0), "}");
  if (!shard_filter_begin(&filter, PURCHASE_COLLECTION, user_id) ||
      !BSON_APPEND_UTF8(&filter, "id", purchase_id) ||
      !shard_filter_begin(&empty, PURCHASE_COLLECTION, user_id) ||
      !BSON_APPEND_UTF8(&empty, "id", purchase_id) || !db_append_durable_write(db, &opts) ||
      !db_call_begin(&call, db, DB_OP_PURCHASE_APPLY, PURCHASE_COLLECTION, &status)) {
    goto done;
  }
  /* Out of the outbox, then the flag off only if nothing is left: an event
   * pushed in between keeps it. */
  if (!mongoc_collection_update_one(call.collection, &filter, pull, &opts, NULL, &error) ||
      !mongoc_collection_update_one(call.collection, &empty, unset, &opts, NULL, &error)) {
    status = db_call_failed("events", "mark published", &error);
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(unset);
  bson_destroy(pull);
  bson_destroy(&opts);
  bson_destroy(&empty);
  bson_destroy(&filter);
  return status;
}
