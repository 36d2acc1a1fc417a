#include "models/audit.h"

#include <string.h>

#include <yder.h>

#include "models/purchase_json.h"

enum model_status audit_store_insert(struct db *db, const struct audit_record *record) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t doc = BSON_INITIALIZER;
  bson_error_t error;
  bson_oid_t oid;

  /* Our own _id: with the time it orders the trail, and unlike the
   * request id (which a caller may choose) it is unique. */
  bson_oid_init(&oid, NULL);
  bson_append_oid(&doc, "_id", -1, &oid);
  bson_append_date_time(&doc, "time", -1, record->time_ms);
  bson_append_utf8(&doc, "client", -1, record->client, -1);
  bson_append_utf8(&doc, "role", -1, record->role, -1);
  bson_append_utf8(&doc, "actor", -1, record->actor, -1);
  shard_filter_begin(&doc, AUDIT_COLLECTION, record->user_id);
  bson_append_utf8(&doc, "method", -1, record->method, -1);
  bson_append_utf8(&doc, "route", -1, record->route, -1);
  if (record->purchase_id != NULL) {
    bson_append_utf8(&doc, "purchaseId", -1, record->purchase_id, -1);
  } else {
    bson_append_null(&doc, "purchaseId", -1);
  }
  bson_append_int32(&doc, "status", -1, (int32_t)record->status);
  bson_append_utf8(&doc, "requestId", -1, record->request_id, -1);
  if (record->reason != NULL) {
    bson_append_utf8(&doc, "reason", -1, record->reason, -1);
  } else {
    bson_append_null(&doc, "reason", -1);
  }
  if (!db_call_begin(&call, db, DB_OP_AUDIT_INSERT, AUDIT_COLLECTION, &status)) {
    goto done;
  }
  if (db_insert_durable(db, call.collection, &doc, NULL, &error) != MODEL_OK) {
    y_log_message(Y_LOG_LEVEL_ERROR, "audit: record of request %s not written (code %u): %s",
                  record->request_id, error.code, error.message);
    /* Whatever the cause, the read is refused: report it as unavailable. */
    status = MODEL_UNAVAILABLE;
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(&doc);
  return status;
}

/* The public shape of one record. */
static json_t *record_to_json(const bson_t *doc) {
  static const char *const STRINGS[] = {"client", "role",       "actor",     "userId", "method",
                                        "route",  "purchaseId", "requestId", "reason"};
  json_t *j_record = json_object();
  bson_iter_t iter;
  char date[PURCHASE_DATE_LEN];

  if (j_record == NULL) {
    return NULL;
  }
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter) &&
      purchase_format_date(bson_iter_date_time(&iter), date)) {
    json_object_set_new(j_record, "time", json_string(date));
  } else {
    json_object_set_new(j_record, "time", json_null());
  }
  for (size_t i = 0; i < sizeof(STRINGS) / sizeof(STRINGS[0]); i++) {
    json_t *j_value = NULL;
    if (bson_iter_init_find(&iter, doc, STRINGS[i]) && BSON_ITER_HOLDS_UTF8(&iter)) {
      j_value = json_string(bson_iter_utf8(&iter, NULL));
    }
    json_object_set_new(j_record, STRINGS[i], j_value != NULL ? j_value : json_null());
  }
  if (bson_iter_init_find(&iter, doc, "status") && BSON_ITER_HOLDS_INT32(&iter)) {
    json_object_set_new(j_record, "status", json_integer(bson_iter_int32(&iter)));
  } else {
    json_object_set_new(j_record, "status", json_null());
  }
  return j_record;
}

/* Appends the keyset bound past `after` to `filter`, as for purchases
 * (page_walk_append_bound): on time, with the record's ObjectId to break
 * ties; down the trail for a next page (newest first), up for a previous
 * one (walked oldest first from the cursor). */
static void append_keyset(const struct purchase_position *after, const bson_oid_t *oid, bool up,
                          bson_t *filter) {
  struct keyset_value key = {.type = BSON_TYPE_DATE_TIME, .number = after->key};
  struct keyset_value tie = {.type = BSON_TYPE_OID, .oid = oid};
  uint32_t count = 0;
  bson_t and_array;

  bson_append_array_begin(filter, "$and", -1, &and_array);
  page_walk_append_bound(&and_array, &count, "time", &key, "_id", &tie, up);
  bson_append_array_end(filter, &and_array);
}

/* A page of the trail being read. */
struct trail_read {
  struct page_read base; /* first: page_walk_read() hands it to take_record */
  bool up;
};

/* Adds one record to the page (a db_find_each() callback; at the front when
 * the walk goes up) and reads its position. Fails when out of memory or
 * when the record has no time or ObjectId. */
static enum db_take take_record(const bson_t *doc, void *arg) {
  struct trail_read *read = arg;
  struct purchase_position *position = page_walk_next(&read->base.walk);
  json_t *j_record;
  bson_iter_t iter;

  if (position == NULL) {
    return DB_TAKE_ENOUGH;
  }
  j_record = record_to_json(doc);
  if (j_record == NULL || (read->up ? json_array_insert_new(read->base.j_list, 0, j_record)
                                    : json_array_append_new(read->base.j_list, j_record)) != 0) {
    return DB_TAKE_FAILED;
  }
  if (!bson_iter_init_find(&iter, doc, "time") || !BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    return DB_TAKE_FAILED;
  }
  position->key = bson_iter_date_time(&iter);
  if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
    return DB_TAKE_FAILED;
  }
  bson_oid_to_string(bson_iter_oid(&iter), position->id);
  return DB_TAKE_MORE;
}

enum model_status audit_store_list(struct db *db, const char *user_id, uint32_t limit,
                                   const struct purchase_position *after, bool before,
                                   struct audit_page *page) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t *opts = NULL;
  bson_oid_t oid;
  bool up = after != NULL && before;
  struct trail_read read = {
      .base.walk = {.limit = limit, .from_cursor = after != NULL, .backwards = up}, .up = up};

  memset(page, 0, sizeof(*page));
  /* A cursor of the time when the trail was ordered by request id. */
  if (after != NULL && !bson_oid_is_valid(after->id, strlen(after->id))) {
    status = MODEL_INVALID;
    goto done;
  }
  shard_filter_begin(&filter, AUDIT_COLLECTION, user_id);
  if (after != NULL) {
    bson_oid_init_from_string(&oid, after->id);
    append_keyset(after, &oid, up, &filter);
  }
  opts = BCON_NEW("sort", "{", "time", BCON_INT32(up ? 1 : -1), "_id", BCON_INT32(up ? 1 : -1), "}",
                  "limit", BCON_INT64((int64_t)limit + 1), "maxTimeMS",
                  BCON_INT64((int64_t)db_query_timeout_ms(db)));
  if (db_call_begin(&call, db, DB_OP_AUDIT_LIST, AUDIT_COLLECTION, &status)) {
    status = page_walk_read(&read.base, call.collection, &filter, opts, take_record, "audit",
                            &page->j_data, &page->edges);
  }

done:
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(&filter);
  return status;
}

void audit_page_cleanup(struct audit_page *page) {
  json_decref(page->j_data);
  page->j_data = NULL;
}

static const struct db_index AUDIT_INDEXES[] = {
    /* GET /audit/:userId: equality on the user, then newest first. */
    {"userId_1_time_-1__id_-1", false, {"userId", "time", "_id", NULL}, {1, -1, -1}, false},
};

enum model_status audit_store_ensure_indexes(struct db *db) {
  return db_ensure_indexes(db, AUDIT_COLLECTION, AUDIT_INDEXES,
                           sizeof(AUDIT_INDEXES) / sizeof(AUDIT_INDEXES[0]));
}
