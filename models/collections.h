#ifndef PURCHASES_MODELS_COLLECTIONS_H
#define PURCHASES_MODELS_COLLECTIONS_H

/* The collections, each with its shard key, written down once
 * (docs/scaling.md): the
 * filters the models build start from it, the unique indexes begin with it,
 * the shard-key check of the test build (models/shard_check.h) enforces it,
 * and deploy/mongodb/shard.js must shard on exactly these keys (the deploy
 * lint compares them with `purchases-migrate --shard-keys`). */

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#define PURCHASE_COLLECTION    "purchases"
#define HISTORY_COLLECTION     "purchase_history"
#define AUDIT_COLLECTION       "audit"
#define IDEMPOTENCY_COLLECTION "idempotency_keys"

#define SHARD_KEY_FIELDS_MAX 2

struct shard_key {
  const char *collection;
  /* The key's fields, in order; none for a collection left unsharded. */
  const char *fields[SHARD_KEY_FIELDS_MAX + 1];
  bool hashed; /* the first field is hashed */
  const char *why;
};

/* Every collection the service, its tools and its tests' checks know. */
extern const struct shard_key SHARD_KEYS[];
extern const size_t SHARD_KEY_COUNT;

/* The row of `collection`, or NULL for a collection not in the table. */
const struct shard_key *shard_key_of(const char *collection);

/* Whether the collection is sharded (its row names fields). */
bool shard_key_is_sharded(const struct shard_key *key);

/* Starts `filter` (an empty document) with equality on the shard key of a
 * collection sharded on the user alone: {userId: user_id}. Every filter
 * of purchases, purchase_history and audit begins here. False (nothing
 * appended) for another collection: a programming error, logged. */
bool shard_filter_begin(bson_t *filter, const char *collection, const char *user_id);

/* The table as JSON, one object per collection ({"collection", "key":
 * {field: "hashed" | 1, ...} or null, "why"}), for the deploy lint; the
 * caller frees it with bson_free(). NULL when out of memory. */
char *shard_keys_to_json(void);

#endif
