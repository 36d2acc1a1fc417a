#include "routes/purchases.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "routes/context.h"
#include "middleware/body.h"
#include "middleware/problem.h"
#include "middleware/query.h"
#include "middleware/request.h"
#include "lib/ids.h"
#include "models/idempotency.h"
#include "models/purchase_validate.h"
#include "models/purchase_write.h"
#include "routes/etag.h"

/* Room for "key:" and the longest key, or "id:", a user id, "/" and a
 * purchase id. */
#define SCOPED_KEY_MAX (IDEMPOTENCY_KEY_MAX + 8)
_Static_assert(3 + ID_MAX + 1 + ID_MAX < SCOPED_KEY_MAX, "an id-scoped key fits");
/* "p" or "k" and 24 hexadecimal digits. */
#define MADE_ID_LEN 26

bool idempotency_key_is_valid(const char *key) {
  size_t len = 0;
  for (; key[len] != '\0'; len++) {
    unsigned char c = (unsigned char)key[len];
    /* Visible ASCII; no comma, since a repeated header arrives joined by
     * one and two keys must not pass as one. */
    if (c < 0x21 || c > 0x7e || c == ',' || len >= IDEMPOTENCY_KEY_MAX) {
      return false;
    }
  }
  return len > 0;
}

/* An id for a purchase the caller sent without one. With an idempotency
 * key it is derived from the client and the key, so every retry of the
 * request names the same purchase; without, it is random. */
static bool make_id(const char *client, const char *key, char out[MADE_ID_LEN]) {
  char hash[65];

  if (key != NULL) {
    json_t *j_scope = json_pack("[ss]", client, key);
    bool ok = j_scope != NULL && purchase_body_hash(j_scope, hash);
    json_decref(j_scope);
    if (!ok) {
      return false;
    }
    snprintf(out, MADE_ID_LEN, "k%.24s", hash);
    return true;
  }
  unsigned char bytes[12];
  gnutls_datum_t datum = {bytes, sizeof(bytes)};
  size_t hex_len = MADE_ID_LEN - 1;

  /* No id is better than one that could repeat. */
  if (gnutls_rnd(GNUTLS_RND_NONCE, bytes, sizeof(bytes)) != 0) {
    return false;
  }
  out[0] = 'p';
  return gnutls_hex_encode(&datum, out + 1, &hex_len) == 0;
}

/* 201 with the purchase, its Location and ETag; a replay answers the same,
 * marked Idempotent-Replayed. */
static void answer_created(struct _u_response *response, const struct create_result *result,
                           const char *user_id, const char *purchase_id) {
  char location[160];
  char etag[ETAG_MAX];

  request_answer_json_text(response, 201, result->body);
  snprintf(location, sizeof(location), "/user/%s/purchases/%s", user_id, purchase_id);
  u_map_put(response->map_header, "Location", location);
  /* The answer is the purchase as first created: version 1. */
  etag_format(1, etag);
  u_map_put(response->map_header, "ETag", etag);
  if (result->outcome == WRITE_REPLAYED) {
    u_map_put(response->map_header, "Idempotent-Replayed", "true");
  }
}

/* Answers what the create came to: 201 (or the replay of one), or 409. */
static void answer_outcome(struct _u_response *response, const struct create_result *result,
                           const char *user_id, const char *purchase_id) {
  switch (result->outcome) {
    case WRITE_KEY_MISMATCH:
      problem_send(response, PROBLEM_CONFLICT,
                   "This idempotency key (or id) was first used with a different body; a new "
                   "purchase needs a new key.");
      break;
    case WRITE_ID_TAKEN:
      problem_send(response, PROBLEM_CONFLICT, "Another purchase already has this id.");
      break;
    case WRITE_DONE:
    case WRITE_REPLAYED:
      answer_created(response, result, user_id, purchase_id);
      break;
    default:
      problem_send_store_failure(response, MODEL_ERROR);
      break;
  }
}

int callback_purchases_post(const struct _u_request *request, struct _u_response *response,
                            void *user_data) {
  const struct purchases_context *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  const char *key_header = u_map_get_case(request->map_header, "Idempotency-Key");
  struct create_result result = {0};
  bson_t doc = BSON_INITIALIZER;
  json_t *j_body = NULL;
  json_t *j_errors = NULL;
  json_t *j_extra = NULL;
  const char *given_id;
  char made_id[MADE_ID_LEN];
  char scoped_key[SCOPED_KEY_MAX];
  char body_hash[65];
  const char *key = NULL;
  struct timespec now;
  enum model_status status;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  if (!request_takes_no_query(request, response)) {
    goto done;
  }
  if (key_header != NULL && !idempotency_key_is_valid(key_header)) {
    problem_send_invalid(
        response, PROBLEM_ABOUT_HEADER, "Idempotency-Key",
        "The Idempotency-Key header must be 1 to %d visible ASCII characters without "
        "commas, sent once.",
        IDEMPOTENCY_KEY_MAX);
    goto done;
  }
  j_body = request_json_body(request, response);
  if (j_body == NULL) {
    goto done;
  }
  if (!purchase_body_hash(j_body, body_hash) || !make_id(ctx->client->id, key_header, made_id)) {
    problem_send_store_failure(response, MODEL_ERROR);
    goto done;
  }
  if (!purchase_validate(j_body, made_id, &doc, &j_errors)) {
    j_extra = json_pack("{sO}", "errors", j_errors);
    problem_send_extra(response, PROBLEM_INVALID_PURCHASE, j_extra,
                       "The purchase breaks %zu rule(s); each is listed in errors.",
                       json_array_size(j_errors));
    goto done;
  }

  /* Retries are recognised by the caller's key, else by the caller's id,
   * which is the customer's (ids are unique per customer: "/" is in
   * neither); a purchase with neither is simply created. */
  given_id = json_string_value(json_object_get(j_body, "id"));
  if (key_header != NULL) {
    snprintf(scoped_key, sizeof(scoped_key), "key:%s", key_header);
    key = scoped_key;
  } else if (given_id != NULL) {
    snprintf(scoped_key, sizeof(scoped_key), "id:%s/%s",
             json_string_value(json_object_get(j_body, "userId")), given_id);
    key = scoped_key;
  }
  clock_gettime(CLOCK_REALTIME, &now);
  status = purchase_create(app->db, ctx->client->id, key, body_hash, &doc,
                           (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &result);
  if (status != MODEL_OK) {
    problem_send_store_failure(response, status);
    goto done;
  }
  answer_outcome(response, &result, json_string_value(json_object_get(j_body, "userId")),
                 given_id != NULL ? given_id : made_id);

done:
  create_result_cleanup(&result);
  json_decref(j_extra);
  json_decref(j_errors);
  json_decref(j_body);
  bson_destroy(&doc);
  return U_CALLBACK_CONTINUE;
}
