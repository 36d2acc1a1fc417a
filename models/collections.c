#include "models/collections.h"

#include <stdio.h>
#include <string.h>

#include <yder.h>

const struct shard_key SHARD_KEYS[] = {
    {PURCHASE_COLLECTION,
     {"userId", NULL},
     true,
     "every read and write is one customer's: a customer's purchases live on one shard"},
    {HISTORY_COLLECTION,
     {"userId", NULL},
     true,
     "beside its purchase: a purchase and its history are read and changed together"},
    {AUDIT_COLLECTION,
     {"userId", NULL},
     true,
     "records are written and listed by the customer whose data was read"},
    {IDEMPOTENCY_COLLECTION,
     {NULL},
     false,
     "unsharded: 24 hours of POSTs, each looked up by {client, key} once or twice; it stays "
     "on the primary shard, where its TTL index (and FerretDB's purge) need no key"},
};

const size_t SHARD_KEY_COUNT = sizeof(SHARD_KEYS) / sizeof(SHARD_KEYS[0]);

const struct shard_key *shard_key_of(const char *collection) {
  for (size_t i = 0; collection != NULL && i < SHARD_KEY_COUNT; i++) {
    if (strcmp(SHARD_KEYS[i].collection, collection) == 0) {
      return &SHARD_KEYS[i];
    }
  }
  return NULL;
}

bool shard_key_is_sharded(const struct shard_key *key) {
  return key != NULL && key->fields[0] != NULL;
}

bool shard_filter_begin(bson_t *filter, const char *collection, const char *user_id) {
  const struct shard_key *key = shard_key_of(collection);

  if (!shard_key_is_sharded(key) || key->fields[1] != NULL || user_id == NULL) {
    y_log_message(Y_LOG_LEVEL_ERROR, "shard keys: %s is not sharded on the user alone", collection);
    return false;
  }
  return bson_append_utf8(filter, key->fields[0], -1, user_id, -1);
}

char *shard_keys_to_json(void) {
  bson_t doc = BSON_INITIALIZER;
  bson_t rows;
  char *json = NULL;

  BSON_APPEND_ARRAY_BEGIN(&doc, "collections", &rows);
  for (size_t i = 0; i < SHARD_KEY_COUNT; i++) {
    const struct shard_key *key = &SHARD_KEYS[i];
    char index[24];
    bson_t row;
    bson_t fields;
    snprintf(index, sizeof(index), "%zu", i);
    BSON_APPEND_DOCUMENT_BEGIN(&rows, index, &row);
    BSON_APPEND_UTF8(&row, "collection", key->collection);
    if (shard_key_is_sharded(key)) {
      BSON_APPEND_DOCUMENT_BEGIN(&row, "key", &fields);
      for (size_t f = 0; key->fields[f] != NULL; f++) {
        if (f == 0 && key->hashed) {
          BSON_APPEND_UTF8(&fields, key->fields[f], "hashed");
        } else {
          BSON_APPEND_INT32(&fields, key->fields[f], 1);
        }
      }
      bson_append_document_end(&row, &fields);
    } else {
      BSON_APPEND_NULL(&row, "key");
    }
    BSON_APPEND_UTF8(&row, "why", key->why);
    bson_append_document_end(&rows, &row);
  }
  bson_append_array_end(&doc, &rows);
  json = bson_as_relaxed_extended_json(&doc, NULL);
  bson_destroy(&doc);
  return json;
}
