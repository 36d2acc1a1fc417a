#include "models/purchase.h"

#include "models/purchase_json.h"

#include <yder.h>

const char *const PURCHASE_STATUSES[] = {"placed",    "paid",     "shipped", "delivered",
                                         "cancelled", "refunded", NULL};

/* MongoDB's duplicate key error. */
#define DB_DUPLICATE_KEY 11000

enum model_status purchase_store_list_by_user(struct db *db, const char *user_id, uint32_t limit,
                                              json_t **j_out) {
  enum model_status status = MODEL_ERROR;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;
  mongoc_cursor_t *cursor = NULL;
  bson_t *filter = NULL;
  bson_t *opts = NULL;
  json_t *j_list = NULL;
  const bson_t *doc;
  bson_error_t error;

  *j_out = NULL;
  if (user_id == NULL || limit == 0 || limit > PURCHASE_LIST_MAX) {
    status = MODEL_INVALID;
    goto done;
  }
  /* BCON_UTF8 makes the id a string value: no operator can ride in on it. */
  filter = BCON_NEW("userId", BCON_UTF8(user_id));
  /* Served by the index {userId: 1, datePurchased: -1, id: -1}. */
  opts = BCON_NEW("sort", "{", "datePurchased", BCON_INT32(-1), "id", BCON_INT32(-1), "}", "limit",
                  BCON_INT64((int64_t)limit), "projection", "{", "_id", BCON_INT32(0), "}",
                  "maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));
  j_list = json_array();
  if (j_list == NULL) {
    goto done;
  }

  client = db_client_pop(db);
  if (client == NULL) {
    status = MODEL_UNAVAILABLE;
    goto done;
  }
  collection = db_collection(db, client, PURCHASE_COLLECTION);
  cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    json_t *j_purchase = purchase_to_json(doc);
    if (j_purchase == NULL || json_array_append_new(j_list, j_purchase) != 0) {
      y_log_message(Y_LOG_LEVEL_ERROR, "purchase: out of memory mapping a purchase");
      goto done;
    }
  }
  if (mongoc_cursor_error(cursor, &error)) {
    status = db_status_from_error(&error);
    y_log_message(status == MODEL_UNAVAILABLE ? Y_LOG_LEVEL_WARNING : Y_LOG_LEVEL_ERROR,
                  "purchase: list failed (domain %u, code %u): %s", error.domain, error.code,
                  error.message);
    goto done;
  }
  *j_out = j_list;
  j_list = NULL;
  status = MODEL_OK;

done:
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(collection);
  db_client_push(db, client);
  bson_destroy(opts);
  bson_destroy(filter);
  json_decref(j_list);
  return status;
}

/* One index the queries rely on. */
struct index_spec {
  const char *name;
  bool unique;
  const char *keys[4]; /* field names, NULL-terminated */
  int32_t orders[4];   /* 1 or -1 per field */
};

static const struct index_spec PURCHASE_INDEXES[] = {
    /* The list query: equality on userId, then the sort, with id as the
     * tie-breaker, so the server walks the index in order and stops. */
    {"userId_1_datePurchased_-1_id_-1",
     false,
     {"userId", "datePurchased", "id", NULL},
     {1, -1, -1}},
    /* The public id is unique: it makes seeding and imports idempotent. */
    {"id_1", true, {"id", NULL}, {1}},
};

#define PURCHASE_INDEX_COUNT (sizeof(PURCHASE_INDEXES) / sizeof(PURCHASE_INDEXES[0]))

/* Creates one index. Creating one that exists with the same keys and name is
 * a no-op on MongoDB and FerretDB alike. */
static enum model_status ensure_index(mongoc_collection_t *collection,
                                      const struct index_spec *spec) {
  enum model_status status = MODEL_OK;
  bson_t command = BSON_INITIALIZER;
  bson_t indexes;
  bson_t index;
  bson_t keys;
  bson_t reply = BSON_INITIALIZER;
  bson_error_t error;

  BSON_APPEND_UTF8(&command, "createIndexes", PURCHASE_COLLECTION);
  BSON_APPEND_ARRAY_BEGIN(&command, "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
  BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
  for (size_t k = 0; spec->keys[k] != NULL; k++) {
    BSON_APPEND_INT32(&keys, spec->keys[k], spec->orders[k]);
  }
  bson_append_document_end(&index, &keys);
  BSON_APPEND_UTF8(&index, "name", spec->name);
  if (spec->unique) {
    BSON_APPEND_BOOL(&index, "unique", true);
  }
  bson_append_document_end(&indexes, &index);
  bson_append_array_end(&command, &indexes);

  if (!mongoc_collection_write_command_with_opts(collection, &command, NULL, &reply, &error)) {
    status = db_status_from_error(&error);
    y_log_message(status == MODEL_UNAVAILABLE ? Y_LOG_LEVEL_WARNING : Y_LOG_LEVEL_ERROR,
                  "purchase: cannot create index %s: %s", spec->name, error.message);
  }
  bson_destroy(&reply);
  bson_destroy(&command);
  return status;
}

enum model_status purchase_store_ensure_indexes(struct db *db) {
  enum model_status status = MODEL_OK;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;

  client = db_client_pop(db);
  if (client == NULL) {
    status = MODEL_UNAVAILABLE;
    goto done;
  }
  collection = db_collection(db, client, PURCHASE_COLLECTION);
  /* One index per command: FerretDB v1.24 panics when a single
   * createIndexes names several indexes that already exist. */
  for (size_t i = 0; i < PURCHASE_INDEX_COUNT && status == MODEL_OK; i++) {
    status = ensure_index(collection, &PURCHASE_INDEXES[i]);
  }

done:
  mongoc_collection_destroy(collection);
  db_client_push(db, client);
  return status;
}

/* True when every write error in an insert reply is a duplicate key, i.e. the
 * purchases were already there. */
static bool only_duplicate_keys(const bson_t *reply) {
  bson_iter_t iter;
  bson_iter_t errors;
  bool any = false;

  if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &errors)) {
    return false;
  }
  while (bson_iter_next(&errors)) {
    bson_iter_t code;
    if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &code) ||
        !bson_iter_find(&code, "code") || bson_iter_as_int64(&code) != DB_DUPLICATE_KEY) {
      return false;
    }
    any = true;
  }
  /* A write concern error is not a duplicate, whatever else happened. */
  if (bson_iter_init_find(&iter, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&iter) &&
      bson_iter_recurse(&iter, &errors) && bson_iter_next(&errors)) {
    return false;
  }
  return any;
}

enum model_status purchase_store_insert_many(struct db *db, const bson_t *const *docs, size_t count,
                                             size_t *inserted) {
  enum model_status status = MODEL_ERROR;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;
  bson_t reply = BSON_INITIALIZER;
  bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
  bson_iter_t iter;
  bson_error_t error;

  *inserted = 0;
  if (count == 0) {
    status = MODEL_OK;
    goto done;
  }
  client = db_client_pop(db);
  if (client == NULL) {
    status = MODEL_UNAVAILABLE;
    goto done;
  }
  collection = db_collection(db, client, PURCHASE_COLLECTION);
  bool ok =
      mongoc_collection_insert_many(collection, (const bson_t **)docs, count, opts, &reply, &error);
  if (bson_iter_init_find(&iter, &reply, "insertedCount")) {
    *inserted = (size_t)bson_iter_as_int64(&iter);
  }
  if (!ok && !only_duplicate_keys(&reply)) {
    status = db_status_from_error(&error);
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: insert failed: %s", error.message);
    goto done;
  }
  status = MODEL_OK;

done:
  mongoc_collection_destroy(collection);
  db_client_push(db, client);
  bson_destroy(&reply);
  bson_destroy(opts);
  return status;
}

enum model_status purchase_store_any(struct db *db, bool *any) {
  enum model_status status = MODEL_ERROR;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;
  mongoc_cursor_t *cursor = NULL;
  bson_t filter = BSON_INITIALIZER;
  bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
  const bson_t *doc;
  bson_error_t error;

  *any = false;
  client = db_client_pop(db);
  if (client == NULL) {
    status = MODEL_UNAVAILABLE;
    goto done;
  }
  collection = db_collection(db, client, PURCHASE_COLLECTION);
  cursor = mongoc_collection_find_with_opts(collection, &filter, opts, NULL);
  if (mongoc_cursor_next(cursor, &doc)) {
    *any = true;
  }
  if (mongoc_cursor_error(cursor, &error)) {
    status = db_status_from_error(&error);
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: lookup failed: %s", error.message);
    goto done;
  }
  status = MODEL_OK;

done:
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(collection);
  db_client_push(db, client);
  bson_destroy(opts);
  bson_destroy(&filter);
  return status;
}
