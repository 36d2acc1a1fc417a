#include "models/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "models/collections.h"
#include "models/purchase.h"
#include "models/purchase_json.h"

/* The relay's look for pending events: the one read that is cross-customer
 * by nature, allowed by the shard-key check (models/shard_check.c) and
 * named in docs/scaling.md. */
#define PENDING_COMMENT "purchases: the relay's look for pending events"

void event_id_of(const char *user_id, const char *purchase_id, int32_t version,
                 char out[EVENT_ID_LEN]) {
  unsigned char digest[32];
  char text[160];
  int len = snprintf(text, sizeof(text), "%s\x1f%s\x1f%d", user_id, purchase_id, version);

  memset(digest, 0, sizeof(digest));
  if (len > 0) {
    gnutls_hash_fast(GNUTLS_DIG_SHA256, text,
                     (size_t)len < sizeof(text) ? (size_t)len : sizeof(text) - 1, digest);
  }
  for (size_t i = 0; i < 16; i++) {
    snprintf(out + 2 * i, 3, "%02x", digest[i]);
  }
}

struct found {
  struct pending_event *events;
  size_t count;
  size_t max;
};

/* One pending entry into the list (a db_find_each() callback). */
static enum db_take take_pending(const bson_t *doc, void *arg) {
  struct found *found = arg;
  struct pending_event *event;
  bson_iter_t iter;
  bool first = false;

  if (found->count == found->max) {
    return DB_TAKE_ENOUGH;
  }
  event = &found->events[found->count];
  memset(event, 0, sizeof(*event));
  if (!bson_iter_init_find(&iter, doc, "userId") || !BSON_ITER_HOLDS_UTF8(&iter)) {
    return DB_TAKE_MORE;
  }
  snprintf(event->user_id, sizeof(event->user_id), "%s", bson_iter_utf8(&iter, NULL));
  if (!bson_iter_init_find(&iter, doc, "purchaseId") || !BSON_ITER_HOLDS_UTF8(&iter)) {
    return DB_TAKE_MORE;
  }
  snprintf(event->purchase_id, sizeof(event->purchase_id), "%s", bson_iter_utf8(&iter, NULL));
  if (!bson_iter_init_find(&iter, doc, "version") || !BSON_ITER_HOLDS_INT32(&iter)) {
    return DB_TAKE_MORE;
  }
  event->version = bson_iter_int32(&iter);
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    event->time_ms = bson_iter_date_time(&iter);
  }
  if (bson_iter_init_find(&iter, doc, "status") && BSON_ITER_HOLDS_UTF8(&iter)) {
    snprintf(event->status, sizeof(event->status), "%s", bson_iter_utf8(&iter, NULL));
  }
  first = !bson_iter_init_find(&iter, doc, "from") || BSON_ITER_HOLDS_NULL(&iter);
  snprintf(event->type, sizeof(event->type), "%s",
           first ? EVENT_TYPE_CREATED : EVENT_TYPE_STATUS_CHANGED);
  event_id_of(event->user_id, event->purchase_id, event->version, event->id);
  found->count++;
  return DB_TAKE_MORE;
}

static int by_purchase_and_version(const void *a, const void *b) {
  const struct pending_event *x = a;
  const struct pending_event *y = b;
  int order = strcmp(x->user_id, y->user_id);
  if (order == 0) {
    order = strcmp(x->purchase_id, y->purchase_id);
  }
  return order != 0 ? order : (x->version > y->version) - (x->version < y->version);
}

enum model_status events_find_pending(struct db *db, struct pending_event *events, size_t max,
                                      size_t *count) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW(HISTORY_EVENT_PENDING, BCON_BOOL(true));
  bson_t *opts = BCON_NEW("sort", "{", "userId", BCON_INT32(1), "purchaseId", BCON_INT32(1),
                          "version", BCON_INT32(1), "}", "limit", BCON_INT64((int64_t)max),
                          "comment", BCON_UTF8(PENDING_COMMENT), "maxTimeMS",
                          BCON_INT64((int64_t)db_query_timeout_ms(db)));
  struct found found = {.events = events, .max = max};

  if (db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    status = db_find_each(call.collection, filter, opts, take_pending, &found, "events", "pending");
  }
  db_call_end(&call);
  *count = status == MODEL_OK ? found.count : 0;
  qsort(events, *count, sizeof(*events), by_purchase_and_version);
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

/* The purchase as it was right after `version`: its history up to it, and
 * the status it reached (later changes may have moved the document on). */
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

/* The purchase's history up to `version`, as statusHistory shows it, and
 * whether an entry before it is still pending (a db_find_each() callback). */
struct history_upto {
  int32_t version;
  json_t *j_list;
  bool earlier_pending;
};

static enum db_take take_upto(const bson_t *doc, void *arg) {
  struct history_upto *upto = arg;
  bson_iter_t iter;
  char date[PURCHASE_DATE_LEN] = "";
  const char *name = NULL;
  int32_t version = 0;

  if (bson_iter_init_find(&iter, doc, "version") && BSON_ITER_HOLDS_INT32(&iter)) {
    version = bson_iter_int32(&iter);
  }
  if (version < 1 || version > upto->version) {
    return DB_TAKE_MORE;
  }
  if (version < upto->version && bson_iter_init_find(&iter, doc, HISTORY_EVENT_PENDING)) {
    upto->earlier_pending = true;
  }
  if (bson_iter_init_find(&iter, doc, "status") && BSON_ITER_HOLDS_UTF8(&iter)) {
    name = bson_iter_utf8(&iter, NULL);
  }
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    purchase_format_date(bson_iter_date_time(&iter), date);
  }
  return json_array_append_new(upto->j_list, json_pack("{s:s?, s:s?}", "status", name, "time",
                                                       date[0] != '\0' ? date : NULL)) == 0
             ? DB_TAKE_MORE
             : DB_TAKE_FAILED;
}

/* The history of `event`'s purchase up to its version, oldest first. The
 * first event of a created purchase needs no read: it is its own history. */
static enum model_status history_upto(struct db *db, const struct pending_event *event,
                                      struct history_upto *upto) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t *opts = NULL;
  char date[PURCHASE_DATE_LEN] = "";

  upto->version = event->version;
  upto->earlier_pending = false;
  upto->j_list = json_array();
  if (upto->j_list == NULL) {
    return MODEL_ERROR;
  }
  if (event->version == 1) {
    purchase_format_date(event->time_ms, date);
    return json_array_append_new(upto->j_list,
                                 json_pack("{ss ss}", "status", event->status, "time", date)) == 0
               ? MODEL_OK
               : MODEL_ERROR;
  }
  opts = BCON_NEW("sort", "{", "version", BCON_INT32(1), "}", "maxTimeMS",
                  BCON_INT64((int64_t)db_query_timeout_ms(db)));
  if (shard_filter_begin(&filter, HISTORY_COLLECTION, event->user_id) &&
      BSON_APPEND_UTF8(&filter, "purchaseId", event->purchase_id) &&
      db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    status = db_find_each(call.collection, &filter, opts, take_upto, upto, "events", "history");
  }
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(&filter);
  return status;
}

json_t *event_cloudevent(struct db *db, const struct pending_event *event, const char *source,
                         enum model_status *status) {
  bson_t *doc = NULL;
  struct history_upto upto = {0};
  json_t *j_data = NULL;
  json_t *j_event = NULL;
  char time[PURCHASE_DATE_LEN] = "";

  *status = history_upto(db, event, &upto);
  if (*status != MODEL_OK) {
    goto done;
  }
  if (upto.earlier_pending) {
    *status = MODEL_BUSY;
    goto done;
  }
  *status = purchase_store_find_doc(db, event->user_id, event->purchase_id, &doc);
  if (*status != MODEL_OK) {
    goto done;
  }
  j_data = purchase_at(doc, upto.j_list, event->version);
  purchase_format_date(event->time_ms, time);
  j_event = json_pack("{ss ss ss ss ss ss ss ss si sO}", "specversion", "1.0", "id", event->id,
                      "source", source, "type", event->type, "subject", event->purchase_id, "time",
                      time, "datacontenttype", "application/json", "userid", event->user_id,
                      "purchaseversion", (int)event->version, "data", j_data);
  *status = j_event != NULL ? MODEL_OK : MODEL_ERROR;

done:
  json_decref(j_data);
  json_decref(upto.j_list);
  bson_destroy(doc);
  return j_event;
}

enum model_status events_mark_published(struct db *db, const struct pending_event *event) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  bson_t *unset = BCON_NEW("$unset", "{", HISTORY_EVENT_PENDING, BCON_UTF8(""), "}");
  bson_error_t error;

  if (!shard_filter_begin(&filter, HISTORY_COLLECTION, event->user_id) ||
      !BSON_APPEND_UTF8(&filter, "purchaseId", event->purchase_id) ||
      !BSON_APPEND_INT32(&filter, "version", event->version) ||
      !db_append_durable_write(db, &opts) ||
      !db_call_begin(&call, db, DB_OP_HISTORY_APPEND, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  if (!mongoc_collection_update_one(call.collection, &filter, unset, &opts, NULL, &error)) {
    status = db_call_failed("events", "mark published", &error);
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(unset);
  bson_destroy(&opts);
  bson_destroy(&filter);
  return status;
}
