#ifndef PURCHASES_MODELS_PURCHASE_WRITE_H
#define PURCHASES_MODELS_PURCHASE_WRITE_H

/* The write side: creating a purchase exactly once however often it is
 * retried, and moving it through its statuses so that of two concurrent
 * changes only one wins. Built from the stores in purchase.h, history.h and
 * idempotency.h; knows nothing of HTTP. See docs/writes.md. */

#include <stdbool.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/db.h"
#include "models/history.h"
#include "models/purchase.h"
#include "models/status.h"

enum write_outcome {
  WRITE_DONE,           /* created, or changed */
  WRITE_REPLAYED,       /* create: the same request as before; its answer again */
  WRITE_KEY_MISMATCH,   /* create: the idempotency key came with another body */
  WRITE_ID_TAKEN,       /* create: another purchase has this id */
  WRITE_NOT_FOUND,      /* change: no such purchase for this user */
  WRITE_STALE,          /* change: not at the version the caller expected */
  WRITE_BAD_TRANSITION, /* change: not allowed from the current status */
  WRITE_BAD_DATE,       /* change: its dateDelivered, given or now, cannot stand (fault says why) */
  WRITE_UNCHANGED       /* change: it has that status already */
};

/* What a create answers. */
struct create_result {
  enum write_outcome outcome;
  char *body; /* WRITE_DONE and WRITE_REPLAYED: the purchase as JSON text; malloc'd */
};

/* Creates the purchase `doc` (validated; it gets version 1 and the first
 * history entry). `key` (may be NULL: no protection against retries) is
 * the caller's idempotency key, scoped to `client`; body_hash identifies
 * the request body. A repeat of a finished create gets the first answer
 * again, a concurrent or interrupted one converges on the same purchase. */
enum model_status purchase_create(struct db *db, const char *client, const char *key,
                                  const char *body_hash, const bson_t *doc, int64_t now_ms,
                                  struct create_result *out);

void create_result_cleanup(struct create_result *result);

/* A requested status change. */
struct status_change {
  const char *status;
  bool has_date_delivered; /* else delivered means now */
  int64_t date_delivered_ms;
  int32_t expected_version; /* from If-Match; -1 for none */
  /* A further precondition of the caller's on the current version (the
   * route's If-None-Match), or NULL: false refuses the change as stale. */
  bool (*version_allowed)(int32_t version, const void *arg);
  const void *version_allowed_arg;
};

struct change_result {
  enum write_outcome outcome;
  char current_status[HISTORY_STATUS_MAX]; /* WRITE_STALE, _BAD_TRANSITION */
  int32_t version;                         /* the purchase's version now */
  json_t *j_purchase;                      /* WRITE_DONE, _UNCHANGED; owned */
  char fault[96];                          /* WRITE_BAD_DATE: the rule broken */
};

/* True when a purchase may go from status `from` to status `to`. */
bool purchase_transition_allowed(const char *from, const char *to);

/* Applies `change` to purchase `purchase_id` of `user_id` at now_ms. */
enum model_status purchase_change_status(struct db *db, const char *user_id,
                                         const char *purchase_id,
                                         const struct status_change *change, int64_t now_ms,
                                         struct change_result *out);

void change_result_cleanup(struct change_result *result);

/* Lists one page of `query` (purchase_store_list()) so that it agrees with
 * purchase_read(): a purchase on the page that carries a pending-change
 * hint has any change a crash left half done finished first (only those;
 * a page without hints costs nothing more), and then the page is read
 * again. A hint with no history entry ahead of the purchase is removed once
 * older than any write could take. On MODEL_OK the caller releases the page
 * with purchase_page_cleanup(); otherwise it holds nothing. */
enum model_status purchase_list(struct db *db, const struct purchase_query *query,
                                struct purchase_page *page);

/* Reads one purchase with its status history (statusHistory) and version,
 * first finishing any change a crash left half done. MODEL_NOT_FOUND when
 * the user has no purchase with that id (whether another user has or not).
 * On MODEL_OK *j_out is the caller's. */
enum model_status purchase_read(struct db *db, const char *user_id, const char *purchase_id,
                                json_t **j_out, int32_t *version);

#endif
