#include "models/migrate.h"

#include <stdlib.h>
#include <string.h>

#include <yder.h>

#include "models/collections.h"
#include "models/history.h"
#include "models/purchase.h"

/* The comments of the migration's two untargeted reads, which the
 * shard-key check of the test build lets through (models/shard_check.c),
 * and of its updates, by _id: the migration runs once, on a replica set,
 * before sharding. */
#define WALK_COMMENT   "purchases-migrate: entries without a customer"
#define LOOKUP_COMMENT "purchases-migrate: customers of these purchases"
#define GIVE_COMMENT   "purchases-migrate: an entry given its customer"

/* Whether `collection` has an index named `name`. */
static enum model_status index_exists(struct db *db, const char *collection, const char *name,
                                      bool *exists) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  mongoc_cursor_t *cursor = NULL;
  const bson_t *doc;
  bson_error_t error;

  *exists = false;
  if (!db_call_begin(&call, db, DB_OP_ENSURE_INDEX, collection, &status)) {
    goto done;
  }
  cursor = mongoc_collection_find_indexes_with_opts(call.collection, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "name") && BSON_ITER_HOLDS_UTF8(&iter) &&
        strcmp(bson_iter_utf8(&iter, NULL), name) == 0) {
      *exists = true;
    }
  }
  /* A collection that does not exist yet has no index: not an error. */
  if (mongoc_cursor_error(cursor, &error) && error.code != 26) {
    status = db_call_failed("migrate", "list indexes", &error);
    goto done;
  }
  status = MODEL_OK;

done:
  mongoc_cursor_destroy(cursor);
  db_call_end(&call);
  return status;
}

enum model_status migrate_detect_earlier(struct db *db, bool *earlier) {
  bool purchases = false;
  bool history = false;
  enum model_status status =
      index_exists(db, PURCHASE_COLLECTION, MIGRATE_EARLIER_PURCHASE_INDEX, &purchases);

  if (status == MODEL_OK) {
    status = index_exists(db, HISTORY_COLLECTION, MIGRATE_EARLIER_HISTORY_INDEX, &history);
  }
  *earlier = purchases || history;
  return status;
}

static enum model_status drop_index(struct db *db, const char *collection, const char *name) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_error_t error;

  if (!db_call_begin(&call, db, DB_OP_ENSURE_INDEX, collection, &status)) {
    goto done;
  }
  if (!mongoc_collection_drop_index_with_opts(call.collection, name, NULL, &error)) {
    status = db_call_failed("migrate", "drop index", &error);
    goto done;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "migrate: dropped the earlier index %s of %s", name, collection);
  status = MODEL_OK;

done:
  db_call_end(&call);
  return status;
}

static enum model_status count_without_user(struct db *db, int64_t *count) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("userId", "{", "$exists", BCON_BOOL(false), "}");
  bson_t *opts = BCON_NEW("comment", BCON_UTF8(WALK_COMMENT), "maxTimeMS",
                          BCON_INT64((int64_t)db_operation_limit_ms(db) * 10));
  bson_error_t error;

  if (!db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  *count = mongoc_collection_count_documents(call.collection, filter, opts, NULL, NULL, &error);
  if (*count < 0) {
    status = db_call_failed("migrate", "count", &error);
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

/* One batch of entries without a userId: their _id and purchaseId. */
struct batch {
  bson_oid_t *ids;
  char **purchase_ids;
  char **user_ids; /* found for each; NULL for an orphan */
  size_t count;
  size_t size;
};

static void batch_clear(struct batch *batch) {
  for (size_t i = 0; i < batch->count; i++) {
    free(batch->purchase_ids[i]);
    free(batch->user_ids[i]);
    batch->purchase_ids[i] = NULL;
    batch->user_ids[i] = NULL;
  }
  batch->count = 0;
}

static enum db_take take_entry(const bson_t *doc, void *arg) {
  struct batch *batch = arg;
  bson_iter_t id;
  bson_iter_t purchase;

  if (batch->count == batch->size) {
    return DB_TAKE_ENOUGH;
  }
  if (!bson_iter_init_find(&id, doc, "_id") || !BSON_ITER_HOLDS_OID(&id) ||
      !bson_iter_init_find(&purchase, doc, "purchaseId") || !BSON_ITER_HOLDS_UTF8(&purchase)) {
    return DB_TAKE_MORE; /* not an entry this service wrote: left alone */
  }
  bson_oid_copy(bson_iter_oid(&id), &batch->ids[batch->count]);
  batch->purchase_ids[batch->count] = strdup(bson_iter_utf8(&purchase, NULL));
  batch->user_ids[batch->count] = NULL;
  return batch->purchase_ids[batch->count++] != NULL ? DB_TAKE_MORE : DB_TAKE_FAILED;
}

/* The next batch after `after` (NULL: from the start), by _id. */
static enum model_status read_batch(struct db *db, const bson_oid_t *after, struct batch *batch) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("userId", "{", "$exists", BCON_BOOL(false), "}");
  bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit",
                          BCON_INT64((int64_t)batch->size), "projection", "{", "_id", BCON_INT32(1),
                          "purchaseId", BCON_INT32(1), "}", "comment", BCON_UTF8(WALK_COMMENT),
                          "maxTimeMS", BCON_INT64((int64_t)db_operation_limit_ms(db) * 10));

  if (after != NULL) {
    BCON_APPEND(filter, "_id", "{", "$gt", BCON_OID(after), "}");
  }
  if (db_call_begin(&call, db, DB_OP_HISTORY_LIST, HISTORY_COLLECTION, &status)) {
    status = db_find_each(call.collection, filter, opts, take_entry, batch, "migrate", "walk");
  }
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

/* Fills each entry's user from its purchase (the earlier shape's ids are
 * unique across customers). */
static enum db_take take_owner(const bson_t *doc, void *arg) {
  struct batch *batch = arg;
  bson_iter_t id;
  bson_iter_t user;

  if (!bson_iter_init_find(&id, doc, "id") || !BSON_ITER_HOLDS_UTF8(&id) ||
      !bson_iter_init_find(&user, doc, "userId") || !BSON_ITER_HOLDS_UTF8(&user)) {
    return DB_TAKE_MORE;
  }
  for (size_t i = 0; i < batch->count; i++) {
    if (batch->user_ids[i] == NULL &&
        strcmp(batch->purchase_ids[i], bson_iter_utf8(&id, NULL)) == 0) {
      batch->user_ids[i] = strdup(bson_iter_utf8(&user, NULL));
      if (batch->user_ids[i] == NULL) {
        return DB_TAKE_FAILED;
      }
    }
  }
  return DB_TAKE_MORE;
}

static enum model_status find_owners(struct db *db, struct batch *batch) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t clause;
  bson_t ids;
  bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(0), "id", BCON_INT32(1), "userId",
                          BCON_INT32(1), "}", "comment", BCON_UTF8(LOOKUP_COMMENT), "maxTimeMS",
                          BCON_INT64((int64_t)db_operation_limit_ms(db) * 10));

  BSON_APPEND_DOCUMENT_BEGIN(&filter, "id", &clause);
  BSON_APPEND_ARRAY_BEGIN(&clause, "$in", &ids);
  for (size_t i = 0; i < batch->count; i++) {
    char key[24];
    snprintf(key, sizeof(key), "%zu", i);
    BSON_APPEND_UTF8(&ids, key, batch->purchase_ids[i]);
  }
  bson_append_array_end(&clause, &ids);
  bson_append_document_end(&filter, &clause);
  if (db_call_begin(&call, db, DB_OP_PURCHASE_FIND, PURCHASE_COLLECTION, &status)) {
    status = db_find_each(call.collection, &filter, opts, take_owner, batch, "migrate", "owners");
  }
  db_call_end(&call);
  bson_destroy(opts);
  bson_destroy(&filter);
  return status;
}

/* Gives each entry of the batch its user, durably; an entry that has one
 * by now (another run) is left as it is. */
static enum model_status give_users(struct db *db, struct batch *batch, int64_t *given,
                                    int64_t *orphans) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t opts = BSON_INITIALIZER;
  bson_error_t error;

  if (!db_append_durable_write(db, &opts) || !BSON_APPEND_UTF8(&opts, "comment", GIVE_COMMENT) ||
      !db_call_begin(&call, db, DB_OP_HISTORY_APPEND, HISTORY_COLLECTION, &status)) {
    goto done;
  }
  for (size_t i = 0; i < batch->count; i++) {
    bson_t *filter;
    bson_t *update;
    bool ok;
    if (batch->user_ids[i] == NULL) {
      (*orphans)++;
      continue;
    }
    /* By _id, a single document, before the collection is sharded. */
    filter =
        BCON_NEW("_id", BCON_OID(&batch->ids[i]), "userId", "{", "$exists", BCON_BOOL(false), "}");
    update = BCON_NEW("$set", "{", "userId", BCON_UTF8(batch->user_ids[i]), "}");
    ok = mongoc_collection_update_one(call.collection, filter, update, &opts, NULL, &error);
    bson_destroy(update);
    bson_destroy(filter);
    if (!ok) {
      status = db_call_failed("migrate", "give a user", &error);
      goto done;
    }
    (*given)++;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(&opts);
  return status;
}

static enum model_status backfill(struct db *db, uint32_t batch_size, migrate_progress progress,
                                  void *progress_arg, struct migrate_report *report) {
  enum model_status status = MODEL_ERROR;
  struct batch batch = {.size = batch_size};
  bson_oid_t last;
  bool started = false;
  int64_t seen = 0;

  batch.ids = calloc(batch_size, sizeof(*batch.ids));
  batch.purchase_ids = calloc(batch_size, sizeof(*batch.purchase_ids));
  batch.user_ids = calloc(batch_size, sizeof(*batch.user_ids));
  if (batch.ids == NULL || batch.purchase_ids == NULL || batch.user_ids == NULL) {
    goto done;
  }
  for (;;) {
    status = read_batch(db, started ? &last : NULL, &batch);
    if (status != MODEL_OK || batch.count == 0) {
      goto done;
    }
    status = find_owners(db, &batch);
    if (status == MODEL_OK) {
      status = give_users(db, &batch, &report->entries_given_user, &report->orphans);
    }
    if (status != MODEL_OK) {
      goto done;
    }
    bson_oid_copy(&batch.ids[batch.count - 1], &last);
    started = true;
    seen += (int64_t)batch.count;
    batch_clear(&batch);
    if (progress != NULL) {
      progress(seen, report->entries_without_user, progress_arg);
    }
  }

done:
  batch_clear(&batch);
  free(batch.ids);
  free(batch.purchase_ids);
  free(batch.user_ids);
  return status;
}

enum model_status migrate_run(struct db *db, uint32_t batch, bool dry_run,
                              migrate_progress progress, void *progress_arg,
                              struct migrate_report *report) {
  enum model_status status;

  memset(report, 0, sizeof(*report));
  status = index_exists(db, PURCHASE_COLLECTION, MIGRATE_EARLIER_PURCHASE_INDEX,
                        &report->earlier_purchase_index);
  if (status == MODEL_OK) {
    status = index_exists(db, HISTORY_COLLECTION, MIGRATE_EARLIER_HISTORY_INDEX,
                          &report->earlier_history_index);
  }
  if (status == MODEL_OK) {
    status = count_without_user(db, &report->entries_without_user);
  }
  if (status != MODEL_OK || dry_run) {
    return status;
  }
  /* 1. The new unique indexes first: the earlier ones still arbitrate
   * what the earlier release's instances write meanwhile. */
  status = purchase_store_ensure_indexes(db);
  if (status == MODEL_OK) {
    status = history_store_ensure_indexes(db);
  }
  /* 2. Every entry its user. */
  if (status == MODEL_OK && report->entries_without_user > 0) {
    status = backfill(db, batch, progress, progress_arg, report);
  }
  /* 3. The earlier indexes, once nothing depends on them. */
  if (status == MODEL_OK && report->earlier_history_index) {
    status = drop_index(db, HISTORY_COLLECTION, MIGRATE_EARLIER_HISTORY_INDEX);
  }
  if (status == MODEL_OK && report->earlier_purchase_index) {
    status = drop_index(db, PURCHASE_COLLECTION, MIGRATE_EARLIER_PURCHASE_INDEX);
  }
  return status;
}
