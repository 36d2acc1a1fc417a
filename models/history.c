#include "models/history.h"

#include <stdbool.h>
#include <string.h>

#include <yder.h>

#include "models/purchase_json.h"

#define HISTORY_LIST_MAX 100

/* The comment on history reads of a database of the earlier shape: the
 * one read that is not targeted at a shard, allowed by the shard-key check
 * (models/shard_check.c) because it runs only before purchases-migrate,
 * which must have finished before the collection is sharded. */
#define HISTORY_EARLIER_SHAPE "purchases: history of a database not yet migrated"

/* Whether an entry read is `user_id`'s: its userId, or none in a database
 * of the earlier shape, whose purchase ids were unique across customers. */
static bool entry_of_user(const bson_t *doc, const char *user_id) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, "userId")) {
    return true;
  }
  return BSON_ITER_HOLDS_UTF8(&iter) && strcmp(bson_iter_utf8(&iter, NULL), user_id) == 0;
}

/* The filter of a purchase's entries, and the options every read of them
 * takes. The user's shard key first; in a database of the earlier shape,
 * the purchase id alone (entries of another user are skipped as read). */
static bool history_query(struct db *db, const char *user_id, const char *purchase_id,
                          bson_t *filter, bson_t *opts) {
  bool earlier = db_earlier_shape(db);

  if (!earlier && !shard_filter_begin(filter, HISTORY_COLLECTION, user_id)) {
    return false;
  }
  BSON_APPEND_UTF8(filter, "purchaseId", purchase_id);
  BSON_APPEND_INT64(opts, "maxTimeMS", (int64_t)db_query_timeout_ms(db));
  if (earlier) {
    BSON_APPEND_UTF8(opts, "comment", HISTORY_EARLIER_SHAPE);
  }
  return true;
}

enum model_status history_store_append(struct db *db, const struct history_entry *entry) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t doc = BSON_INITIALIZER;
  bson_error_t error;

  if (!shard_filter_begin(&doc, HISTORY_COLLECTION, entry->user_id)) {
    goto done;
  }
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
  /* With events on, the entry is also the change's event, waiting for the
   * relay (models/events.h): one insert, the one that decides the change. */
  if (db_events(db)) {
    BSON_APPEND_BOOL(&doc, HISTORY_EVENT_PENDING, true);
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

/* Keeps the first entry that is the user's (a db_find_each() callback). */
struct user_entry {
  const char *user_id;
  bson_t *doc;
};

static enum db_take take_users_entry(const bson_t *doc, void *arg) {
  struct user_entry *found = arg;
  if (!entry_of_user(doc, found->user_id)) {
    return DB_TAKE_MORE;
  }
  found->doc = bson_copy(doc);
  return found->doc != NULL ? DB_TAKE_ENOUGH : DB_TAKE_FAILED;
}

enum model_status history_store_get(struct db *db, const char *user_id, const char *purchase_id,
                                    int32_t version, struct history_entry *entry,
                                    char status_buf[HISTORY_STATUS_MAX]) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  struct user_entry found = {.user_id = user_id};
  bson_iter_t iter;

  memset(entry, 0, sizeof(*entry));
  if (!history_query(db, user_id, purchase_id, &filter, &opts)) {
    goto done;
  }
  BSON_APPEND_INT32(&filter, "version", version);
  if (!db_call_begin(&call, db, DB_OP_HISTORY_GET, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  status =
      db_find_each(call.collection, &filter, &opts, take_users_entry, &found, "history", "read");
  if (status != MODEL_OK || found.doc == NULL) {
    status = status == MODEL_OK ? MODEL_NOT_FOUND : status;
    goto done;
  }
  status = MODEL_ERROR;
  if (!bson_iter_init_find(&iter, found.doc, "status") || !BSON_ITER_HOLDS_UTF8(&iter) ||
      strlen(bson_iter_utf8(&iter, NULL)) >= HISTORY_STATUS_MAX) {
    y_log_message(Y_LOG_LEVEL_ERROR, "history: entry %d of a purchase has no usable status",
                  version);
    goto done;
  }
  strcpy(status_buf, bson_iter_utf8(&iter, NULL));
  entry->user_id = user_id;
  entry->purchase_id = purchase_id;
  entry->version = version;
  entry->status = status_buf;
  if (bson_iter_init_find(&iter, found.doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    entry->time_ms = bson_iter_date_time(&iter);
  }
  if (bson_iter_init_find(&iter, found.doc, "dateDelivered") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    entry->has_date_delivered = true;
    entry->date_delivered_ms = bson_iter_date_time(&iter);
  }
  status = MODEL_OK;

done:
  bson_destroy(found.doc);
  db_call_end(&call);
  bson_destroy(&opts);
  bson_destroy(&filter);
  return status;
}

/* The list being built and whose entries go in it. */
struct entry_list {
  const char *user_id;
  json_t *j_list;
};

/* Appends one entry of the user's, {status, time}, to the list (a
 * db_find_each() callback). */
static enum db_take take_entry(const bson_t *doc, void *arg) {
  struct entry_list *list = arg;
  bson_iter_t iter;
  char date[PURCHASE_DATE_LEN] = "";
  const char *name = NULL;

  if (!entry_of_user(doc, list->user_id)) {
    return DB_TAKE_MORE;
  }
  if (bson_iter_init_find(&iter, doc, "status") && BSON_ITER_HOLDS_UTF8(&iter)) {
    name = bson_iter_utf8(&iter, NULL);
  }
  if (bson_iter_init_find(&iter, doc, "time") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    purchase_format_date(bson_iter_date_time(&iter), date);
  }
  return json_array_append_new(list->j_list, json_pack("{s:s?, s:s?}", "status", name, "time",
                                                       date[0] != '\0' ? date : NULL)) == 0
             ? DB_TAKE_MORE
             : DB_TAKE_FAILED;
}

enum model_status history_store_list(struct db *db, const char *user_id, const char *purchase_id,
                                     json_t **j_out) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  struct entry_list list = {.user_id = user_id, .j_list = json_array()};

  *j_out = NULL;
  if (list.j_list == NULL || !history_query(db, user_id, purchase_id, &filter, &opts)) {
    goto done;
  }
  BCON_APPEND(&opts, "sort", "{", "version", BCON_INT32(1), "}", "limit",
              BCON_INT64(HISTORY_LIST_MAX));
  if (!db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  status = db_find_each(call.collection, &filter, &opts, take_entry, &list, "history", "list");
  if (status != MODEL_OK) {
    goto done;
  }
  *j_out = list.j_list;
  list.j_list = NULL;

done:
  json_decref(list.j_list);
  db_call_end(&call);
  bson_destroy(&opts);
  bson_destroy(&filter);
  return status;
}

static const struct db_index HISTORY_INDEXES[] = {
    /* One entry per version of a purchase: the arbiter of concurrent
     * changes, and the order of the history. It begins with the shard key,
     * so a sharded cluster can enforce it. */
    {"userId_1_purchaseId_1_version_1",
     true,
     {"userId", "purchaseId", "version", NULL},
     {1, 1, 1},
     false},
};

enum model_status history_store_ensure_indexes(struct db *db) {
  return db_ensure_indexes(db, HISTORY_COLLECTION, HISTORY_INDEXES,
                           sizeof(HISTORY_INDEXES) / sizeof(HISTORY_INDEXES[0]));
}
