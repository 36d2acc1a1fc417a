#include "models/purchase_write.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yder.h>

#include "models/idempotency.h"
#include "models/purchase.h"
#include "models/purchase_json.h"
#include "models/purchase_validate.h"

/* Each round either settles the request or sees another writer move the
 * purchase on; a few rounds are plenty for any real contention. */
#define CHANGE_ROUNDS 4

/* The lifecycle, one row per status: where a purchase in it may go next.
 * The main line placed, paid, shipped, delivered moves forward only (steps
 * may be skipped); cancelled branches off before shipping, refunded after
 * payment; both are final. docs/writes.md draws the same. */
static const struct {
  const char *from;
  const char *const to[5]; /* NULL-terminated */
} LIFECYCLE[] = {
    {"placed", {"paid", "shipped", "delivered", "cancelled", NULL}},
    {"paid", {"shipped", "delivered", "cancelled", "refunded", NULL}},
    {"shipped", {"delivered", "refunded", NULL}},
    {"delivered", {"refunded", NULL}},
    {"cancelled", {NULL}},
    {"refunded", {NULL}},
};

bool purchase_transition_allowed(const char *from, const char *to) {
  for (size_t i = 0; i < sizeof(LIFECYCLE) / sizeof(LIFECYCLE[0]); i++) {
    if (strcmp(LIFECYCLE[i].from, from) != 0) {
      continue;
    }
    for (size_t k = 0; LIFECYCLE[i].to[k] != NULL; k++) {
      if (strcmp(LIFECYCLE[i].to[k], to) == 0) {
        return true;
      }
    }
    return false;
  }
  return false;
}

static const char *string_field(const bson_t *doc, const char *name) {
  bson_iter_t iter;
  if (bson_iter_init_find(&iter, doc, name) && BSON_ITER_HOLDS_UTF8(&iter)) {
    return bson_iter_utf8(&iter, NULL);
  }
  return NULL;
}

/* Every write that may have changed a purchase ends here, so that no
 * cached answer about its user is served again. */
static void user_changed(struct db *db, const char *user_id) {
  if (user_id != NULL) {
    db_users_changed(db, &user_id, 1);
  }
}

/* If a change to version+1 was recorded in the history but the process died
 * before the purchase was moved, moves it now: only a purchase marked
 * pending for version+1 (purchase_change_status marks it before it writes
 * the entry), so that an entry no change wrote is never applied. doc is
 * the purchase as read, or NULL when the caller marked it itself; then the
 * database checks the mark. *finished says whether a change was applied. */
static enum model_status finish_pending_change(struct db *db, const char *user_id,
                                               const char *purchase_id, const bson_t *doc,
                                               int32_t version, bool *finished) {
  struct history_entry entry;
  char status_buf[HISTORY_STATUS_MAX];
  enum model_status status;
  int32_t marked = 0;
  int64_t since_ms;

  *finished = false;
  if (doc != NULL && !(purchase_pending_of(doc, &marked, &since_ms) && marked == version + 1)) {
    return MODEL_OK;
  }
  status = history_store_get(db, user_id, purchase_id, version + 1, &entry, status_buf);
  if (status == MODEL_NOT_FOUND) {
    return MODEL_OK;
  }
  if (status != MODEL_OK) {
    return status;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "purchase: finishing change %d of purchase %s", version + 1,
                purchase_id);
  *finished = true;
  status = purchase_store_apply(db, user_id, purchase_id, version, entry.status,
                                entry.has_date_delivered ? &entry.date_delivered_ms : NULL, true);
  user_changed(db, user_id);
  return status;
}

/* The purchase's current document, with any half-done change finished;
 * *changed (when not NULL) says whether one was. On MODEL_OK *doc_out is
 * the caller's. */
static enum model_status read_current_changed(struct db *db, const char *user_id,
                                              const char *purchase_id, bson_t **doc_out,
                                              bool *changed) {
  enum model_status status = MODEL_ERROR;

  *doc_out = NULL;
  for (int round = 0; round < CHANGE_ROUNDS; round++) {
    bool finished;
    status = purchase_store_find_doc(db, user_id, purchase_id, doc_out);
    if (status != MODEL_OK) {
      goto done;
    }
    status = finish_pending_change(db, user_id, purchase_id, *doc_out,
                                   purchase_version_of(*doc_out), &finished);
    if (status != MODEL_OK || !finished) {
      goto done;
    }
    if (changed != NULL) {
      *changed = true;
    }
    bson_destroy(*doc_out);
    *doc_out = NULL;
  }
  status = MODEL_ERROR;

done:
  if (status != MODEL_OK) {
    bson_destroy(*doc_out);
    *doc_out = NULL;
  }
  return status;
}

static enum model_status read_current(struct db *db, const char *user_id, const char *purchase_id,
                                      bson_t **doc_out) {
  return read_current_changed(db, user_id, purchase_id, doc_out, NULL);
}

static int64_t wall_clock_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* A hint younger than this may belong to a change still in progress
 * (between its hint and its history entry), so it is left alone: at least
 * a minute, and twice the longest one write may take. */
static int64_t pending_grace_ms(const struct db *db) {
  uint64_t grace = 2 * db_operation_limit_ms(db);
  return grace < 60000 ? 60000 : (int64_t)grace;
}

/* What a list does for one purchase that carries a pending-change hint:
 * what purchase_read() does (finish the change the history holds ahead of
 * it), then drop the hint if nothing is ahead and it is stale. *changed
 * says whether the purchase moved. */
static enum model_status settle_pending(struct db *db, const char *user_id, const char *purchase_id,
                                        bool *changed) {
  enum model_status status;
  bson_t *doc = NULL;
  int32_t pending_version;
  int64_t since_ms;
  int32_t version;
  bool has_hint;

  status = read_current_changed(db, user_id, purchase_id, &doc, changed);
  if (status == MODEL_NOT_FOUND) {
    /* Gone (or moved to another user) since the list: nothing to show. */
    *changed = true;
    status = MODEL_OK;
    goto done;
  }
  if (status != MODEL_OK) {
    goto done;
  }
  version = purchase_version_of(doc);
  has_hint = purchase_pending_of(doc, &pending_version, &since_ms);
  if (bson_has_field(doc, PURCHASE_PENDING_FIELD) &&
      (!has_hint || pending_version <= version ||
       wall_clock_ms() - since_ms > pending_grace_ms(db))) {
    /* No entry version + 1 exists (read_current_changed looked): the
     * change was applied, or its writer gave up or died before writing its
     * history entry, or the hint is unusable. */
    status = purchase_store_clear_pending(db, user_id, purchase_id, has_hint ? pending_version : 0);
  }

done:
  bson_destroy(doc);
  return status;
}

enum model_status purchase_list(struct db *db, const struct purchase_query *query,
                                struct purchase_page *page) {
  enum model_status status;
  bool changed = false;
  size_t index;
  json_t *j_id;

  status = purchase_store_list(db, query, page);
  if (status != MODEL_OK || page->j_pending == NULL) {
    goto done;
  }
  json_array_foreach(page->j_pending, index, j_id) {
    status = settle_pending(db, query->user_id, json_string_value(j_id), &changed);
    if (status != MODEL_OK) {
      goto done;
    }
  }
  if (changed) {
    /* Statuses moved: the page may now hold other purchases (a status
     * filter) or others around them. Read it again, once; a hint seen now
     * belongs to a change in progress, which the page may show either way. */
    purchase_page_cleanup(page);
    status = purchase_store_list(db, query, page);
  }

done:
  if (status != MODEL_OK) {
    purchase_page_cleanup(page);
  }
  return status;
}

enum model_status purchase_read(struct db *db, const char *user_id, const char *purchase_id,
                                json_t **j_out, int32_t *version) {
  enum model_status status;
  bson_t *doc = NULL;
  json_t *j_purchase = NULL;
  json_t *j_history = NULL;

  *j_out = NULL;
  status = read_current(db, user_id, purchase_id, &doc);
  if (status != MODEL_OK) {
    goto done;
  }
  status = history_store_list(db, user_id, purchase_id, &j_history);
  if (status != MODEL_OK) {
    goto done;
  }
  j_purchase = purchase_to_json(doc);
  if (j_purchase == NULL || json_object_set(j_purchase, "statusHistory", j_history) != 0) {
    status = MODEL_ERROR;
    goto done;
  }
  *version = purchase_version_of(doc);
  *j_out = j_purchase;
  j_purchase = NULL;

done:
  json_decref(j_history);
  json_decref(j_purchase);
  bson_destroy(doc);
  return status;
}

/* What the purchase as stored says of `change`. */
enum judgement {
  JUDGE_REFUSE,    /* out->outcome says why: stale, or not a move its status allows */
  JUDGE_UNCHANGED, /* it has that status already */
  JUDGE_MOVE,      /* a move to make, from out->version */
};

/* Judges `change` against `doc` at now_ms, filling out's version, current
 * status and, unless it is a move, outcome. */
static enum judgement judge_change(const bson_t *doc, const struct status_change *change,
                                   int64_t now_ms, struct change_result *out) {
  const char *current = string_field(doc, "status");
  bool unchanged = current != NULL && strcmp(current, change->status) == 0;
  bson_iter_t purchased;

  out->version = purchase_version_of(doc);
  snprintf(out->current_status, sizeof(out->current_status), "%s", current != NULL ? current : "");
  if ((change->expected_version >= 0 && change->expected_version != out->version) ||
      (change->version_allowed != NULL &&
       !change->version_allowed(out->version, change->version_allowed_arg))) {
    out->outcome = WRITE_STALE;
    return JUDGE_REFUSE;
  }
  if (!unchanged && (current == NULL || !purchase_transition_allowed(current, change->status))) {
    out->outcome = WRITE_BAD_TRANSITION;
    return JUDGE_REFUSE;
  }
  /* A date given with the status it has already is judged too, though
   * not stored: a caller's mistake is answered, not dropped. */
  if (strcmp(change->status, "delivered") == 0 && (change->has_date_delivered || !unchanged) &&
      bson_iter_init_find(&purchased, doc, "datePurchased") &&
      BSON_ITER_HOLDS_DATE_TIME(&purchased) &&
      purchase_delivery_date_fault(bson_iter_date_time(&purchased),
                                   change->has_date_delivered ? change->date_delivered_ms : now_ms,
                                   now_ms, out->fault, sizeof(out->fault))) {
    out->outcome = WRITE_BAD_DATE;
    return JUDGE_REFUSE;
  }
  if (unchanged) {
    out->outcome = WRITE_UNCHANGED;
    return JUDGE_UNCHANGED;
  }
  return JUDGE_MOVE;
}

/* The history entry of the move of `user_id`'s `purchase_id` from version
 * `version` (status `from`) by `change` at now_ms; delivered gets its date. */
static struct history_entry next_entry(const char *user_id, const char *purchase_id,
                                       int32_t version, const char *from,
                                       const struct status_change *change, int64_t now_ms) {
  struct history_entry entry = {
      .user_id = user_id,
      .purchase_id = purchase_id,
      .version = version + 1,
      .status = change->status,
      .from = from,
      .time_ms = now_ms,
  };
  if (strcmp(change->status, "delivered") == 0) {
    entry.has_date_delivered = true;
    entry.date_delivered_ms = change->has_date_delivered ? change->date_delivered_ms : now_ms;
  }
  return entry;
}

/* Another writer's entry took version+1 first. FerretDB applies an update
 * by reading the document and writing it back whole, so our hint may have
 * landed on top of the winner's move and undone it: finish the winner's
 * change (a no-op when it stands); the hint we left makes lists do the
 * same should we die first. */
static void yield_to_winner(struct db *db, const char *user_id, const char *purchase_id,
                            int32_t version) {
  bool finished;
  if (finish_pending_change(db, user_id, purchase_id, NULL, version, &finished) != MODEL_OK) {
    y_log_message(Y_LOG_LEVEL_WARNING,
                  "purchase: could not finish the change that won over this one");
  }
}

enum model_status purchase_change_status(struct db *db, const char *user_id,
                                         const char *purchase_id,
                                         const struct status_change *change, int64_t now_ms,
                                         struct change_result *out) {
  enum model_status status = MODEL_ERROR;
  bson_t *doc = NULL;
  bool settled = false;

  memset(out, 0, sizeof(*out));
  for (int round = 0; round < CHANGE_ROUNDS && !settled; round++) {
    int32_t version;
    struct history_entry entry;

    bson_destroy(doc);
    status = read_current(db, user_id, purchase_id, &doc);
    if (status == MODEL_NOT_FOUND) {
      out->outcome = WRITE_NOT_FOUND;
      status = MODEL_OK;
      goto done;
    }
    if (status != MODEL_OK) {
      goto done;
    }
    switch (judge_change(doc, change, now_ms, out)) {
      case JUDGE_REFUSE:
        goto done;
      case JUDGE_UNCHANGED:
        settled = true;
        continue;
      case JUDGE_MOVE:
        break;
    }
    version = out->version;
    entry = next_entry(user_id, purchase_id, version, string_field(doc, "status"), change, now_ms);
    /* Lists do not look at the history: the hint tells them this purchase
     * may soon be behind it, should the process die after the entry. */
    status = purchase_store_mark_pending(db, user_id, purchase_id, version, now_ms);
    if (status != MODEL_OK) {
      goto done;
    }
    /* The unique (purchaseId, version) index lets one writer through. */
    status = history_store_append(db, &entry);
    if (status == MODEL_CONFLICT) {
      if (change->expected_version >= 0) {
        /* Without If-Match the next round does this. */
        yield_to_winner(db, user_id, purchase_id, version);
        out->outcome = WRITE_STALE;
        status = MODEL_OK;
        goto done;
      }
      continue; /* someone else moved it on: judge again from there */
    }
    if (status != MODEL_OK) {
      goto done;
    }
    status =
        purchase_store_apply(db, user_id, purchase_id, version, entry.status,
                             entry.has_date_delivered ? &entry.date_delivered_ms : NULL, false);
    /* Even a failed apply may have landed: drop what was cached either way. */
    user_changed(db, user_id);
    if (status != MODEL_OK) {
      /* The entry stands; the next read of this purchase finishes it. */
      goto done;
    }
    out->outcome = WRITE_DONE;
    settled = true;
  }
  if (!settled) {
    /* Every round lost to another writer. */
    out->outcome = WRITE_STALE;
    status = MODEL_OK;
    goto done;
  }
  status = purchase_read(db, user_id, purchase_id, &out->j_purchase, &out->version);

done:
  bson_destroy(doc);
  return status;
}

void change_result_cleanup(struct change_result *result) {
  json_decref(result->j_purchase);
  result->j_purchase = NULL;
}

/* The answer to a create: the stored purchase as compact JSON. */
static char *purchase_body(const bson_t *doc) {
  json_t *j_purchase = purchase_to_json(doc);
  char *body = j_purchase != NULL ? json_dumps(j_purchase, JSON_COMPACT) : NULL;
  json_decref(j_purchase);
  return body;
}

/* The id is taken: by this same purchase (a retry whose key expired, or a
 * race without a key), or by another one of the customer's. In a database
 * of the earlier shape, whose ids are unique across customers, it may be
 * another customer's: the customer's own then is not there, and the id is
 * taken all the same. *version is the stored one's. */
static enum model_status compare_existing(struct db *db, const char *user_id,
                                          const char *purchase_id, const bson_t *doc,
                                          struct create_result *out, int32_t *version) {
  enum model_status status;
  bson_t *existing = NULL;
  json_t *j_existing = NULL;
  json_t *j_new = NULL;

  status = purchase_store_find_doc(db, user_id, purchase_id, &existing);
  if (status == MODEL_NOT_FOUND) {
    out->outcome = WRITE_ID_TAKEN;
    status = MODEL_OK;
    goto done;
  }
  if (status != MODEL_OK) {
    goto done;
  }
  *version = purchase_version_of(existing);
  j_existing = purchase_to_json(existing);
  j_new = purchase_to_json(doc);
  if (j_existing == NULL || j_new == NULL) {
    status = MODEL_ERROR;
    goto done;
  }
  if (!json_equal(j_existing, j_new)) {
    out->outcome = WRITE_ID_TAKEN;
    goto done;
  }
  out->outcome = WRITE_REPLAYED;
  out->body = json_dumps(j_existing, JSON_COMPACT);
  status = out->body != NULL ? MODEL_OK : MODEL_ERROR;

done:
  json_decref(j_new);
  json_decref(j_existing);
  bson_destroy(existing);
  return status;
}

/* Stores `doc` as version 1 with its first history entry, filling out's
 * outcome (done, replayed, id taken) and body.
 *
 * The purchase first, then its first history entry: an id that is taken
 * writes nothing at all, not even a history entry under another
 * purchase's id. A process that dies between the two leaves a purchase
 * with no history yet; the caller's retry (a replay of version 1) writes
 * the entry, which a replay may always do since it is the same one. */
static enum model_status store_new(struct db *db, const bson_t *doc, int64_t now_ms,
                                   struct create_result *out) {
  enum model_status status;
  bson_t stored = BSON_INITIALIZER;
  const char *purchase_id = string_field(doc, "id");
  const char *user_id = string_field(doc, "userId");
  struct history_entry first = {.user_id = user_id,
                                .purchase_id = purchase_id,
                                .version = 1,
                                .status = string_field(doc, "status"),
                                .time_ms = now_ms};
  int32_t existing_version = 0;

  bson_concat(&stored, doc);
  BSON_APPEND_INT32(&stored, "version", 1);
  status = purchase_store_create(db, &stored);
  if (status == MODEL_CONFLICT) {
    status = compare_existing(db, user_id, purchase_id, &stored, out, &existing_version);
    if (status != MODEL_OK || out->outcome == WRITE_ID_TAKEN) {
      goto done;
    }
  } else if (status != MODEL_OK) {
    goto done;
  } else {
    user_changed(db, user_id);
    out->outcome = WRITE_DONE;
    out->body = purchase_body(&stored);
    if (out->body == NULL) {
      status = MODEL_ERROR;
      goto done;
    }
  }
  if (out->outcome == WRITE_DONE || existing_version == 1) {
    status = history_store_append(db, &first);
    status = status == MODEL_CONFLICT ? MODEL_OK : status;
  }

done:
  bson_destroy(&stored);
  return status;
}

enum model_status purchase_create(struct db *db, const char *client, const char *key,
                                  const char *body_hash, const bson_t *doc, int64_t now_ms,
                                  struct create_result *out) {
  enum model_status status = MODEL_ERROR;
  struct idempotency_claim claim = {0};

  memset(out, 0, sizeof(*out));
  if (string_field(doc, "id") == NULL || string_field(doc, "userId") == NULL ||
      string_field(doc, "status") == NULL) {
    goto done;
  }
  if (key != NULL) {
    status = idempotency_claim(db, client, key, body_hash, now_ms, &claim);
    if (status != MODEL_OK) {
      goto done;
    }
    if (claim.outcome == IDEMPOTENCY_MISMATCH) {
      out->outcome = WRITE_KEY_MISMATCH;
      goto done;
    }
    if (claim.outcome == IDEMPOTENCY_SAME && claim.finished) {
      out->outcome = WRITE_REPLAYED;
      out->body = claim.response_body;
      claim.response_body = NULL;
      goto done;
    }
    /* New, or a first attempt that never finished: (re)do the work below,
     * every step of which is safe to repeat. */
  }

  status = store_new(db, doc, now_ms, out);
  if (status != MODEL_OK || out->outcome == WRITE_ID_TAKEN) {
    goto done;
  }
  if (key != NULL && idempotency_complete(db, client, key, out->body) != MODEL_OK) {
    /* The purchase is stored; a retry finds it by id and gets the same
     * answer, so this is worth a log line, not a failed request. */
    y_log_message(Y_LOG_LEVEL_WARNING, "purchase: answer for an idempotency key not recorded");
  }
  status = MODEL_OK;

done:
  if (status != MODEL_OK) {
    free(out->body);
    out->body = NULL;
  }
  idempotency_claim_cleanup(&claim);
  return status;
}

void create_result_cleanup(struct create_result *result) {
  free(result->body);
  result->body = NULL;
}
