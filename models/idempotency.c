#include "models/idempotency.h"

#include <stdlib.h>
#include <string.h>

#include <yder.h>

/* Find, insert and delete race with other instances; each round settles
 * one of them, so a few rounds always suffice. */
#define CLAIM_ROUNDS 4

/* What is stored for a key, as far as a claim needs it. */
struct stored_key {
  bool found;
  int64_t expires_ms;
  bool same_body;
  bool finished;
  char *response_body;
};

static enum model_status find_key(mongoc_collection_t *collection, const struct db *db,
                                  const char *client, const char *key, const char *body_hash,
                                  struct stored_key *out) {
  enum model_status status;
  bson_t *filter = BCON_NEW("client", BCON_UTF8(client), "key", BCON_UTF8(key));
  bson_t *doc = NULL;
  bson_iter_t iter;

  memset(out, 0, sizeof(*out));
  status = db_find_one(db, collection, filter, NULL, &doc, "idempotency", "read");
  if (status != MODEL_OK) {
    /* No key is not an error: out->found says so. */
    status = status == MODEL_NOT_FOUND ? MODEL_OK : status;
    goto done;
  }
  out->found = true;
  if (bson_iter_init_find(&iter, doc, "expiresAt") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
    out->expires_ms = bson_iter_date_time(&iter);
  }
  out->same_body = bson_iter_init_find(&iter, doc, "requestHash") && BSON_ITER_HOLDS_UTF8(&iter) &&
                   strcmp(bson_iter_utf8(&iter, NULL), body_hash) == 0;
  if (bson_iter_init_find(&iter, doc, "responseStatus") && BSON_ITER_HOLDS_INT32(&iter) &&
      bson_iter_init_find(&iter, doc, "response") && BSON_ITER_HOLDS_UTF8(&iter)) {
    out->response_body = strdup(bson_iter_utf8(&iter, NULL));
    if (out->response_body == NULL) {
      status = MODEL_ERROR;
      goto done;
    }
    bson_iter_init_find(&iter, doc, "responseStatus");
    out->finished = bson_iter_int32(&iter) != 0;
  }

done:
  bson_destroy(doc);
  bson_destroy(filter);
  return status;
}

static enum model_status insert_key(mongoc_collection_t *collection, const struct db *db,
                                    const char *client, const char *key, const char *body_hash,
                                    int64_t now_ms) {
  bson_t *doc = BCON_NEW("client", BCON_UTF8(client), "key", BCON_UTF8(key), "requestHash",
                         BCON_UTF8(body_hash), "createdAt", BCON_DATE_TIME(now_ms), "expiresAt",
                         BCON_DATE_TIME(now_ms + (int64_t)IDEMPOTENCY_TTL_S * 1000));
  bson_error_t error;
  enum model_status status = db_insert_durable(db, collection, doc, "idempotency", &error);

  bson_destroy(doc);
  return status;
}

/* Deletes the key only if it is still the expired one that was read, so a
 * fresh claim made meanwhile by another instance survives. */
static enum model_status delete_expired(mongoc_collection_t *collection, const char *client,
                                        const char *key, int64_t expires_ms) {
  bson_t *filter = BCON_NEW("client", BCON_UTF8(client), "key", BCON_UTF8(key), "expiresAt",
                            BCON_DATE_TIME(expires_ms));
  bson_error_t error;
  enum model_status status = MODEL_OK;

  if (!mongoc_collection_delete_one(collection, filter, NULL, NULL, &error)) {
    status = db_call_failed("idempotency", "delete", &error);
  }
  bson_destroy(filter);
  return status;
}

enum model_status idempotency_claim(struct db *db, const char *client, const char *key,
                                    const char *body_hash, int64_t now_ms,
                                    struct idempotency_claim *out) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  struct stored_key stored = {0};

  memset(out, 0, sizeof(*out));
  if (!db_call_begin(&call, db, DB_OP_IDEMPOTENCY_CLAIM, IDEMPOTENCY_COLLECTION, &status)) {
    goto done;
  }
  for (int round = 0; round < CLAIM_ROUNDS; round++) {
    free(stored.response_body);
    status = find_key(call.collection, db, client, key, body_hash, &stored);
    if (status != MODEL_OK) {
      goto done;
    }
    if (stored.found && stored.expires_ms > now_ms) {
      out->outcome = stored.same_body ? IDEMPOTENCY_SAME : IDEMPOTENCY_MISMATCH;
      if (stored.same_body) {
        out->finished = stored.finished;
        out->response_body = stored.response_body;
        stored.response_body = NULL;
      }
      goto done;
    }
    if (stored.found) {
      status = delete_expired(call.collection, client, key, stored.expires_ms);
      if (status != MODEL_OK) {
        goto done;
      }
    }
    status = insert_key(call.collection, db, client, key, body_hash, now_ms);
    if (status == MODEL_OK) {
      out->outcome = IDEMPOTENCY_NEW;
      goto done;
    }
    if (status != MODEL_CONFLICT) {
      goto done;
    }
    /* Another request claimed it between our find and insert: read it. */
  }
  y_log_message(Y_LOG_LEVEL_ERROR, "idempotency: no claim settled after %d rounds", CLAIM_ROUNDS);
  status = MODEL_ERROR;

done:
  free(stored.response_body);
  db_call_end(&call);
  return status;
}

void idempotency_claim_cleanup(struct idempotency_claim *claim) {
  free(claim->response_body);
  claim->response_body = NULL;
}

enum model_status idempotency_complete(struct db *db, const char *client, const char *key,
                                       const char *response_body) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("client", BCON_UTF8(client), "key", BCON_UTF8(key));
  bson_t *update = BCON_NEW("$set", "{", "responseStatus", BCON_INT32(IDEMPOTENCY_FINISHED),
                            "response", BCON_UTF8(response_body), "}");
  bson_t opts = BSON_INITIALIZER;
  bson_error_t error;

  if (!db_append_durable_write(db, &opts)) {
    goto done;
  }
  if (!db_call_begin(&call, db, DB_OP_IDEMPOTENCY_COMPLETE, IDEMPOTENCY_COLLECTION, &status)) {
    goto done;
  }
  if (!mongoc_collection_update_one(call.collection, filter, update, &opts, NULL, &error)) {
    status = db_call_failed("idempotency", "update", &error);
    goto done;
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(&opts);
  bson_destroy(update);
  bson_destroy(filter);
  return status;
}

enum model_status idempotency_purge(struct db *db, int64_t now_ms, int64_t *deleted) {
  enum model_status status = MODEL_ERROR;
  struct db_call call = {0};
  bson_t *filter = BCON_NEW("expiresAt", "{", "$lte", BCON_DATE_TIME(now_ms), "}");
  /* Bounded like every other operation; a purge cut short is finished by
   * the next one. */
  bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));
  bson_t reply = BSON_INITIALIZER;
  bson_iter_t iter;
  bson_error_t error;

  *deleted = 0;
  if (!db_call_begin(&call, db, DB_OP_IDEMPOTENCY_PURGE, IDEMPOTENCY_COLLECTION, &status)) {
    goto done;
  }
  if (!mongoc_collection_delete_many(call.collection, filter, opts, &reply, &error)) {
    status = db_call_failed("idempotency", "purge", &error);
    goto done;
  }
  if (bson_iter_init_find(&iter, &reply, "deletedCount")) {
    *deleted = bson_iter_as_int64(&iter);
  }
  status = MODEL_OK;

done:
  db_call_end(&call);
  bson_destroy(&reply);
  bson_destroy(opts);
  bson_destroy(filter);
  return status;
}

static const struct db_index KEY_INDEX = {
    "client_1_key_1", true, {"client", "key", NULL}, {1, 1}, false};
static const struct db_index EXPIRY_INDEX = {
    "expiresAt_1_ttl", false, {"expiresAt", NULL}, {1}, true};

enum model_status idempotency_store_ensure_indexes(struct db *db) {
  enum model_status status = db_ensure_indexes(db, IDEMPOTENCY_COLLECTION, &KEY_INDEX, 1);
  if (status != MODEL_OK || db_is_ferretdb(db)) {
    return status;
  }
  return db_ensure_indexes(db, IDEMPOTENCY_COLLECTION, &EXPIRY_INDEX, 1);
}
