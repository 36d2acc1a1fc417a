#ifndef PURCHASES_MODELS_IDEMPOTENCY_H
#define PURCHASES_MODELS_IDEMPOTENCY_H

/* Idempotency keys of creates, kept in the database so that a retry is
 * recognised across restarts and across instances. A key belongs to one
 * client and lives IDEMPOTENCY_TTL_S; an expired key counts as absent.
 * MongoDB drops expired keys through a TTL index; FerretDB has none, so
 * idempotency_purge() does it there. */

#include <stdbool.h>
#include <stdint.h>

#include "models/collections.h"
#include "models/db.h"
#include "models/status.h"

#define IDEMPOTENCY_KEY_MAX 128
#define IDEMPOTENCY_TTL_S   (24 * 3600)
/* What a finished record's responseStatus holds. The member is a marker
 * for "finished" now (0 or absent: not yet); every record written so far,
 * by any version of the service, holds 201 there, so a new one does too
 * and instances of either version read each other's records. */
#define IDEMPOTENCY_FINISHED 201

enum idempotency_outcome {
  IDEMPOTENCY_NEW,     /* first use: the caller goes on and creates */
  IDEMPOTENCY_SAME,    /* used before with the same body: a retry */
  IDEMPOTENCY_MISMATCH /* used before with another body: refuse */
};

struct idempotency_claim {
  enum idempotency_outcome outcome;
  /* On IDEMPOTENCY_SAME, once the first request finished: its answer.
   * finished is false while it has not (in flight, or it died). */
  bool finished;
  char *response_body; /* malloc'd; see idempotency_claim_cleanup */
};

/* Claims `key` of `client` for a request whose body hashes to body_hash,
 * at now_ms. Safe under any number of concurrent claims: exactly one of
 * them is IDEMPOTENCY_NEW. */
enum model_status idempotency_claim(struct db *db, const char *client, const char *key,
                                    const char *body_hash, int64_t now_ms,
                                    struct idempotency_claim *out);

void idempotency_claim_cleanup(struct idempotency_claim *claim);

/* Records the answer given for the key (the created purchase), for
 * retries to get again. */
enum model_status idempotency_complete(struct db *db, const char *client, const char *key,
                                       const char *response_body);

/* Deletes keys expired by now_ms; *deleted gets how many. */
enum model_status idempotency_purge(struct db *db, int64_t now_ms, int64_t *deleted);

/* The unique (client, key) index and, on MongoDB, the TTL index. */
enum model_status idempotency_store_ensure_indexes(struct db *db);

#endif
