#include "models/purchase.h"

#include "models/purchase_json.h"

#include <stdlib.h>
#include <string.h>

#include <yder.h>

/* MongoDB's duplicate key error. */

/* Reads the sort key of `doc` for `sort` into *key: a date in milliseconds,
 * or a price in pence (32- or 64-bit integer, or an integral double). */
static bool read_sort_key(const bson_t *doc, enum purchase_sort sort, int64_t *key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, purchase_sort_field(sort))) {
    return false;
  }
  if (purchase_sort_by_date(sort)) {
    if (!BSON_ITER_HOLDS_DATE_TIME(&iter)) {
      return false;
    }
    *key = bson_iter_date_time(&iter);
    return true;
  }
  if (BSON_ITER_HOLDS_INT32(&iter) || BSON_ITER_HOLDS_INT64(&iter)) {
    *key = bson_iter_as_int64(&iter);
    return true;
  }
  if (BSON_ITER_HOLDS_DOUBLE(&iter)) {
    double d = bson_iter_double(&iter);
    if (d == (double)(int64_t)d) {
      *key = (int64_t)d;
      return true;
    }
  }
  return false;
}

/* Where `doc` sits in the order of `sort`. */
static bool read_position(const bson_t *doc, enum purchase_sort sort,
                          struct purchase_position *position) {
  bson_iter_t iter;
  uint32_t len = 0;
  const char *id;
  if (!read_sort_key(doc, sort, &position->key) || !bson_iter_init_find(&iter, doc, "id") ||
      !BSON_ITER_HOLDS_UTF8(&iter)) {
    return false;
  }
  id = bson_iter_utf8(&iter, &len);
  if (len == 0 || len > PURCHASE_ID_MAX || strlen(id) != len) {
    return false;
  }
  memcpy(position->id, id, len + 1);
  return true;
}

/* Adds the id of a purchase that carries a pending-change hint to the
 * page's list of them. */
static bool note_pending(struct purchase_page *page, json_t *j_id) {
  if (!json_is_string(j_id)) {
    return true; /* read_position() refuses the page anyway */
  }
  if (page->j_pending == NULL) {
    page->j_pending = json_array();
  }
  return page->j_pending != NULL && json_array_append(page->j_pending, j_id) == 0;
}

/* A page of purchases being read. */
struct list_read {
  struct page_read base; /* first: page_walk_read() hands it to take_document */
  const struct purchase_query *query;
  struct purchase_page *page;
};

/* Adds one stored purchase to the page (a db_find_each() callback): its
 * JSON (at the front for a previous page, which the database walks
 * backwards), a note when it carries a pending-change hint, and its
 * position. Fails (logged) when out of memory or when it has no usable id
 * or sort key; enough once the walk met one beyond the page. */
static enum db_take take_document(const bson_t *doc, void *arg) {
  struct list_read *read = arg;
  const struct purchase_query *query = read->query;
  struct purchase_position *position = page_walk_next(&read->base.walk);
  bool backwards = query->has_after && query->before;
  json_t *j_purchase;

  if (position == NULL) {
    return DB_TAKE_ENOUGH;
  }
  j_purchase = purchase_to_json_fields(doc, query->fields);
  if (j_purchase == NULL ||
      (backwards ? json_array_insert_new(read->base.j_list, 0, j_purchase)
                 : json_array_append_new(read->base.j_list, j_purchase)) != 0) {
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: out of memory mapping a purchase");
    return DB_TAKE_FAILED;
  }
  if (bson_has_field(doc, PURCHASE_PENDING_FIELD) &&
      !note_pending(read->page, json_object_get(j_purchase, "id"))) {
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: out of memory noting a pending change");
    return DB_TAKE_FAILED;
  }
  if (!read_position(doc, query->sort, position)) {
    /* Another writer stored a purchase without a usable id or sort key:
     * no cursor can point past it, so say so rather than end the walk. */
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: a stored purchase of the user has no usable "
                                     "id or sort key; cannot paginate past it");
    return DB_TAKE_FAILED;
  }
  return DB_TAKE_MORE;
}

/* The find options of a page: its order, the fields it shows, one more
 * than the page (whether it comes back says if there is a next), and the
 * time limit. */
static void list_options(const struct db *db, const struct purchase_query *query, bson_t *opts) {
  bson_t child;
  bson_append_document_begin(opts, "sort", -1, &child);
  purchase_query_sort(query, &child);
  bson_append_document_end(opts, &child);
  bson_append_document_begin(opts, "projection", -1, &child);
  purchase_query_projection(query, &child);
  bson_append_document_end(opts, &child);
  bson_append_int64(opts, "limit", -1, (int64_t)query->limit + 1);
  bson_append_int64(opts, "maxTimeMS", -1, (int64_t)db_query_timeout_ms(db));
}

/* withTotal: how many purchases the filter matches, wherever the page is. */
static enum model_status count_total(struct db *db, mongoc_collection_t *collection,
                                     const struct purchase_query *query,
                                     struct purchase_page *page) {
  enum model_status status = MODEL_OK;
  bson_t count_filter = BSON_INITIALIZER;
  bson_t *count_opts = BCON_NEW("maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));
  bson_error_t error;

  purchase_query_filter(query, false, &count_filter);
  page->total =
      mongoc_collection_count_documents(collection, &count_filter, count_opts, NULL, NULL, &error);
  if (page->total < 0) {
    status = db_call_failed("purchase", "count", &error);
  } else {
    page->has_total = true;
  }
  bson_destroy(count_opts);
  bson_destroy(&count_filter);
  return status;
}

enum model_status purchase_store_list(struct db *db, const struct purchase_query *query,
                                      struct purchase_page *page) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  struct list_read read = {.base.walk = {.limit = query->limit,
                                         .from_cursor = query->has_after,
                                         .backwards = query->has_after && query->before},
                           .query = query,
                           .page = page};

  memset(page, 0, sizeof(*page));
  if (query->limit == 0 || query->limit > PURCHASE_LIST_MAX) {
    status = MODEL_INVALID;
    goto done;
  }
  purchase_query_filter(query, true, &filter);
  list_options(db, query, &opts);
  if (!db_call_begin(&call, db, DB_OP_PURCHASE_LIST, PURCHASE_COLLECTION, &status)) {
    goto done;
  }
  status = page_walk_read(&read.base, call.collection, &filter, &opts, take_document, "purchase",
                          &page->j_data, &page->edges);
  if (status == MODEL_OK && query->with_total) {
    status = count_total(db, call.collection, query, page);
  }

done:
  db_call_end(&call);
  bson_destroy(&opts);
  bson_destroy(&filter);
  if (status != MODEL_OK) {
    purchase_page_cleanup(page);
  }
  return status;
}

void purchase_page_cleanup(struct purchase_page *page) {
  json_decref(page->j_data);
  page->j_data = NULL;
  json_decref(page->j_pending);
  page->j_pending = NULL;
}

static const struct db_index PURCHASE_INDEXES[] = {
    /* The list query: equality on userId, then the sort, with id as the
     * tie-breaker, so the server walks the index in order and stops. */
    {"userId_1_datePurchased_-1_id_-1",
     false,
     {"userId", "datePurchased", "id", NULL},
     {1, -1, -1},
     false},
    /* sort=pricePence and -pricePence, the same way. */
    {"userId_1_pricePence_-1_id_-1",
     false,
     {"userId", "pricePence", "id", NULL},
     {1, -1, -1},
     false},
    /* status filters with the default date order (the invoicing walk of
     * delivered purchases in a period): equality, then the sort. */
    {"userId_1_status_1_datePurchased_-1_id_-1",
     false,
     {"userId", "status", "datePurchased", "id"},
     {1, 1, -1, -1},
     false},
    /* A purchase id is unique per customer: it makes seeding and imports
     * idempotent, and serves the one-purchase read. It begins with the
     * shard key, so that a sharded cluster can enforce it. */
    {"userId_1_id_1", true, {"userId", "id", NULL}, {1, 1}, false},
};

enum model_status purchase_store_ensure_indexes(struct db *db) {
  return db_ensure_indexes(db, PURCHASE_COLLECTION, PURCHASE_INDEXES,
                           sizeof(PURCHASE_INDEXES) / sizeof(PURCHASE_INDEXES[0]));
}

/* True when every write error in an insert reply is a duplicate key, i.e. the
 * purchases were already there; each one's index is marked in duplicate
 * (count entries), when given. */
static bool only_duplicate_keys(const bson_t *reply, bool *duplicate, size_t count) {
  bson_iter_t iter;
  bson_iter_t errors;
  bool any = false;

  if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &errors)) {
    return false;
  }
  while (bson_iter_next(&errors)) {
    bson_iter_t code;
    bson_iter_t index;
    if (!BSON_ITER_HOLDS_DOCUMENT(&errors) || !bson_iter_recurse(&errors, &code) ||
        !bson_iter_find(&code, "code") || bson_iter_as_int64(&code) != DB_DUPLICATE_KEY) {
      return false;
    }
    if (duplicate != NULL && bson_iter_recurse(&errors, &index) &&
        bson_iter_find(&index, "index") && bson_iter_as_int64(&index) >= 0 &&
        (size_t)bson_iter_as_int64(&index) < count) {
      duplicate[bson_iter_as_int64(&index)] = true;
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

/* Bumps the version of every user in docs (repeats are cheap: one
 * pipelined round trip), whether or not each document was new. */
static void users_changed(struct db *db, const bson_t *const *docs, size_t count) {
  const char **users = malloc(count * sizeof(*users));
  size_t n = 0;

  if (users == NULL) {
    y_log_message(Y_LOG_LEVEL_ERROR, "purchase: out of memory: cached answers not invalidated");
    return;
  }
  for (size_t i = 0; i < count; i++) {
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, docs[i], "userId") && BSON_ITER_HOLDS_UTF8(&iter)) {
      users[n++] = bson_iter_utf8(&iter, NULL);
    }
  }
  db_users_changed(db, users, n);
  free(users);
}

enum model_status purchase_store_insert_many(struct db *db, const bson_t *const *docs, size_t count,
                                             size_t *inserted, bool *duplicate) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t reply = BSON_INITIALIZER;
  bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
  bson_iter_t iter;
  bson_error_t error;

  *inserted = 0;
  if (duplicate != NULL) {
    memset(duplicate, 0, count * sizeof(*duplicate));
  }
  if (count == 0) {
    status = MODEL_OK;
    goto done;
  }
  if (!db_call_begin(&call, db, DB_OP_PURCHASE_INSERT_MANY, PURCHASE_COLLECTION, &status)) {
    goto done;
  }
  bool ok = mongoc_collection_insert_many(call.collection, (const bson_t **)docs, count, opts,
                                          &reply, &error);
  if (bson_iter_init_find(&iter, &reply, "insertedCount")) {
    *inserted = (size_t)bson_iter_as_int64(&iter);
  }
  if (!ok && !only_duplicate_keys(&reply, duplicate, count)) {
    status = db_call_failed("purchase", "insert", &error);
    goto done;
  }
  status = MODEL_OK;
  users_changed(db, docs, count);

done:
  db_call_end(&call);
  bson_destroy(&reply);
  bson_destroy(opts);
  return status;
}

enum model_status purchase_store_user_has_any(struct db *db, const char *user_id, bool *any) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t *projection = BCON_NEW("_id", BCON_INT32(1));
  bson_t *doc = NULL;

  *any = false;
  if (shard_filter_begin(&filter, PURCHASE_COLLECTION, user_id) &&
      db_call_begin(&call, db, DB_OP_PURCHASE_ANY, PURCHASE_COLLECTION, &status)) {
    status = db_find_one(db, call.collection, &filter, projection, &doc, "purchase", "lookup");
  }
  if (status == MODEL_NOT_FOUND || status == MODEL_OK) {
    *any = status == MODEL_OK;
    status = MODEL_OK;
  }
  db_call_end(&call);
  bson_destroy(doc);
  bson_destroy(projection);
  bson_destroy(&filter);
  return status;
}

int32_t purchase_version_of(const bson_t *doc) {
  bson_iter_t iter;
  if (bson_iter_init_find(&iter, doc, "version") && BSON_ITER_HOLDS_INT32(&iter)) {
    return bson_iter_int32(&iter);
  }
  return 0;
}

enum model_status purchase_store_create(struct db *db, const bson_t *doc) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_error_t error;

  if (db_call_begin(&call, db, DB_OP_PURCHASE_CREATE, PURCHASE_COLLECTION, &status)) {
    status = db_insert_durable(db, call.collection, doc, "purchase", &error);
  }
  db_call_end(&call);
  return status;
}

enum model_status purchase_store_find_doc(struct db *db, const char *user_id,
                                          const char *purchase_id, bson_t **doc_out) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t filter = BSON_INITIALIZER;
  bson_t *projection = BCON_NEW("_id", BCON_INT32(0));

  *doc_out = NULL;
  if (shard_filter_begin(&filter, PURCHASE_COLLECTION, user_id) &&
      BSON_APPEND_UTF8(&filter, "id", purchase_id) &&
      db_call_begin(&call, db, DB_OP_PURCHASE_FIND, PURCHASE_COLLECTION, &status)) {
    status = db_find_one(db, call.collection, &filter, projection, doc_out, "purchase", "find");
  }
  db_call_end(&call);
  bson_destroy(projection);
  bson_destroy(&filter);
  return status;
}

/* One durable update_one of the purchases collection; matching nothing is
 * not an error. */
static enum model_status update_purchase(struct db *db, enum db_op op, const char *what,
                                         const bson_t *filter, const bson_t *update) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t opts = BSON_INITIALIZER;
  bson_error_t error;

  if (!db_append_durable_write(db, &opts)) {
    goto done;
  }
  if (!db_call_begin(&call, db, op, PURCHASE_COLLECTION, &status)) {
    goto done;
  }
  if (!mongoc_collection_update_one(call.collection, filter, update, &opts, NULL, &error)) {
    status = db_call_failed("purchase", what, &error);
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(&opts);
  return status;
}

/* The filter of one purchase of a user: the shard key, then the id. */
static bool one_purchase(bson_t *filter, const char *user_id, const char *purchase_id) {
  return shard_filter_begin(filter, PURCHASE_COLLECTION, user_id) &&
         BSON_APPEND_UTF8(filter, "id", purchase_id);
}

enum model_status purchase_store_apply(struct db *db, const char *user_id, const char *purchase_id,
                                       int32_t from_version, const char *new_status,
                                       const int64_t *date_delivered_ms, bool only_if_marked) {
  enum model_status status = MODEL_ERROR;
  bson_t filter = BSON_INITIALIZER;
  bson_t update = BSON_INITIALIZER;
  bson_t set;

  if (!one_purchase(&filter, user_id, purchase_id)) {
    goto done;
  }
  if (from_version == 0) {
    /* Purchases loaded before histories existed have no version yet. */
    BCON_APPEND(&filter, "version", "{", "$exists", BCON_BOOL(false), "}");
  } else {
    BSON_APPEND_INT32(&filter, "version", from_version);
  }
  if (only_if_marked) {
    BSON_APPEND_INT32(&filter, PURCHASE_PENDING_FIELD ".version", from_version + 1);
  }
  BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
  BSON_APPEND_UTF8(&set, "status", new_status);
  BSON_APPEND_INT32(&set, "version", from_version + 1);
  if (date_delivered_ms != NULL) {
    BSON_APPEND_DATE_TIME(&set, "delivery.dateDelivered", *date_delivered_ms);
  }
  bson_append_document_end(&update, &set);
  /* Whoever else marked this purchase pending wanted version
   * from_version + 1 too, which is now taken: no hint is left worth
   * keeping. */
  BCON_APPEND(&update, "$unset", "{", PURCHASE_PENDING_FIELD, BCON_UTF8(""), "}");
  /* Matching nothing is fine: whoever moved it on applied this same
   * history entry, since only one writer can hold each version. */
  status = update_purchase(db, DB_OP_PURCHASE_APPLY, "apply", &filter, &update);

done:
  bson_destroy(&update);
  bson_destroy(&filter);
  return status;
}

enum model_status purchase_store_mark_pending(struct db *db, const char *user_id,
                                              const char *purchase_id, int32_t from_version,
                                              int64_t now_ms) {
  enum model_status status = MODEL_ERROR;
  bson_t filter = BSON_INITIALIZER;
  bson_t *update =
      BCON_NEW("$set", "{", PURCHASE_PENDING_FIELD, "{", "version", BCON_INT32(from_version + 1),
               "since", BCON_DATE_TIME(now_ms), "}", "}");

  if (!one_purchase(&filter, user_id, purchase_id)) {
    goto done;
  }
  if (from_version == 0) {
    BCON_APPEND(&filter, "version", "{", "$exists", BCON_BOOL(false), "}");
  } else {
    BSON_APPEND_INT32(&filter, "version", from_version);
  }
  status = update_purchase(db, DB_OP_PURCHASE_APPLY, "mark", &filter, update);

done:
  bson_destroy(update);
  bson_destroy(&filter);
  return status;
}

enum model_status purchase_store_clear_pending(struct db *db, const char *user_id,
                                               const char *purchase_id, int32_t pending_version) {
  enum model_status status = MODEL_ERROR;
  bson_t filter = BSON_INITIALIZER;
  bson_t *update = BCON_NEW("$unset", "{", PURCHASE_PENDING_FIELD, BCON_UTF8(""), "}");

  if (!one_purchase(&filter, user_id, purchase_id)) {
    goto done;
  }
  if (pending_version > 0) {
    BSON_APPEND_INT32(&filter, PURCHASE_PENDING_FIELD ".version", pending_version);
  }
  status = update_purchase(db, DB_OP_PURCHASE_APPLY, "clear", &filter, update);

done:
  bson_destroy(update);
  bson_destroy(&filter);
  return status;
}

bool purchase_pending_of(const bson_t *doc, int32_t *version, int64_t *since_ms) {
  bson_iter_t iter;
  bson_iter_t child;

  *version = 0;
  *since_ms = 0;
  if (!bson_iter_init_find(&iter, doc, PURCHASE_PENDING_FIELD) ||
      !BSON_ITER_HOLDS_DOCUMENT(&iter) || !bson_iter_recurse(&iter, &child)) {
    return false;
  }
  while (bson_iter_next(&child)) {
    if (strcmp(bson_iter_key(&child), "version") == 0 && BSON_ITER_HOLDS_INT32(&child)) {
      *version = bson_iter_int32(&child);
    } else if (strcmp(bson_iter_key(&child), "since") == 0 && BSON_ITER_HOLDS_DATE_TIME(&child)) {
      *since_ms = bson_iter_date_time(&child);
    }
  }
  return *version > 0;
}
