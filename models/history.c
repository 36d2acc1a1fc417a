#include "models/history.h"

#include <string.h>

#include <yder.h>

#include "models/purchase_json.h"

#define HISTORY_LIST_MAX 100

enum model_status history_store_append(struct db *db, const struct history_entry *entry) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t doc = BSON_INITIALIZER;
  bson_error_t error;

  BSON_APPEND_UTF8(&doc, "purchaseId", entry->purchase_id);
  BSON_APPEND_INT32(&doc, "version", entry->version);
  BSON_APPEND_UTF8(&doc, "status", entry->status);
  if (entry->from != NULL) {
    BSON_APPEND_UTF8(&doc, "from", entry->from);
  } else {
    BSON_APPEND_NULL(&doc, "from");
  }
  BSON_APPEND_DATE_TIME(&doc, "time", entry->time_ms);
  if (entry->has_date_delivered) {
    BSON_APPEND_DATE_TIME(&doc, "dateDelivered", entry->date_delivered_ms);
  }
  if (!db_call_begin(&call, db, DB_OP_HISTORY_APPEND, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  status = db_insert_durable(db, call.collection, &doc, "history", &error);

done:
  db_call_end(&call);
  bson_destroy(&doc);
  return status;
}

enum model_status history_store_get(struct db *db, const char *purchase_id, int32_t version,
                                    struct history_entry *entry,
                                    char status_buf[HISTORY_STATUS_MAX]) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("purchaseId", BCON_UTF8(purchase_id), "version", BCON_INT32(version));
  bson_t *doc = NULL;
  bson_iter_t iter;

  memset(entry, 0, sizeof(*entry));
  if (!db_call_begin(&call, db, DB_OP_HISTORY_GET, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  status = db_find_one(db, call.collection, filter, NULL, &doc, "history", "read");
  if (status != MODEL_OK) {
    goto done;
  }
  status = MODEL_ERROR;
  if (!bson_iter_init_find(&iter, doc, "status") || !BSON_ITER_HOLDS_UTF8(&iter) ||
      strlen(bson_iter_utf8(&iter, NULL)) >= HISTORY_STATUS_MAX) {
    y_log_message(Y_LOG_LEVEL_ERROR, "history: entry %d of a purchase has no usable status",
                  version);
    goto done;
  }
  strcpy(status_buf, bson_iter_utf8(&iter, NULL));
  entry->purchase_id = purchase_id;
  entry->version = version;
  entry->status = status_buf;
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    entry->time_ms = bson_iter_date_time(&iter);
  }
  if (bson_iter_init_find(&iter, doc, "dateDelivered") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    entry->has_date_delivered = true;
    entry->date_delivered_ms = bson_iter_date_time(&iter);
  }
  status = MODEL_OK;

done:
  bson_destroy(doc);
  db_call_end(&call);
  bson_destroy(filter);
  return status;
}

/* Appends one entry, {status, time}, to the list (a db_find_each()
 * callback). */
static enum db_take take_entry(const bson_t *doc, void *arg) {
  json_t *j_list = arg;
  bson_iter_t iter;
  char date[PURCHASE_DATE_LEN] = "";
  const char *name = NULL;

  if (bson_iter_init_find(&iter, doc, "status") && BSON_ITER_HOLDS_UTF8(&iter)) {
    name = bson_iter_utf8(&iter, NULL);
  }
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    purchase_format_date(bson_iter_date_time(&iter), date);
  }
  return json_array_append_new(j_list, json_pack("{s:s?, s:s?}", "status", name, "time",
                                                 date[0] != '\0' ? date : NULL)) == 0
             ? DB_TAKE_MORE
             : DB_TAKE_FAILED;
}

enum model_status history_store_list(struct db *db, const char *purchase_id, json_t **j_out) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("purchaseId", BCON_UTF8(purchase_id));
  bson_t *opts =
      BCON_NEW("sort", "{", "version", BCON_INT32(1), "}", "limit", BCON_INT64(HISTORY_LIST_MAX),
               "maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));
  json_t *j_list = json_array();

  *j_out = NULL;
  if (j_list == NULL) {
    goto done;
  }
  if (!db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  status = db_find_each(call.collection, filter, opts, take_entry, j_list, "history", "list");
  if (status != MODEL_OK) {
    goto done;
  }
  *j_out = j_list;
  j_list = NULL;

done:
  json_decref(j_list);
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

static const struct db_index HISTORY_INDEXES[] = {
    /* One entry per version of a purchase: the arbiter of concurrent
     * changes, and the order of the history. */
    {"purchaseId_1_version_1", true, {"purchaseId", "version", NULL}, {1, 1}, false},
};

enum model_status history_store_ensure_indexes(struct db *db) {
  return db_ensure_indexes(db, HISTORY_COLLECTION, HISTORY_INDEXES,
                           sizeof(HISTORY_INDEXES) / sizeof(HISTORY_INDEXES[0]));
}
