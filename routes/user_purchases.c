#include "routes/user_purchases.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yder.h>

#include "routes/context.h"
#include "lib/ids.h"
#include "lib/words.h"
#include "middleware/authz.h"
#include "middleware/problem.h"
#include "middleware/query.h"
#include "middleware/request.h"
#include "middleware/body.h"
#include "models/purchase.h"
#include "models/purchase_write.h"
#include "routes/cached_read.h"
#include "routes/etag.h"
#include "routes/cursor.h"
#include "routes/list_params.h"
#include "routes/page_link.h"

/* The two cursors of a page, as a cache entry keeps them in its extra:
 * "<next> <prev>", either empty when there is no such page (cursors are
 * base64url, so the space cannot be part of one). */
struct page_cursors {
  char next[CURSOR_MAX + 1];
  char prev[CURSOR_MAX + 1];
};

static void page_cursors_join(const struct page_cursors *cursors, char out[CACHE_EXTRA_MAX]) {
  snprintf(out, CACHE_EXTRA_MAX, "%s %s", cursors->next, cursors->prev);
}

static void page_cursors_split(const char *extra, struct page_cursors *cursors) {
  size_t next_len = strcspn(extra, " ");
  snprintf(cursors->next, sizeof(cursors->next), "%.*s", (int)next_len, extra);
  snprintf(cursors->prev, sizeof(cursors->prev), "%s",
           extra[next_len] == ' ' ? extra + next_len + 1 : "");
}

/* The Link header of a page, from the cursors its cache entry keeps. */
static void add_link(const struct _u_request *request, struct _u_response *response,
                     const char *extra) {
  struct page_cursors cursors;
  page_cursors_split(extra, &cursors);
  page_link_add(request, response, cursors.next, cursors.prev);
}

/* The cache key of a list page: the kind of answer, the caller's role and
 * the parsed query itself. The key is zeroed before the query is parsed
 * into it, so requests that mean the same (parameters in another order,
 * defaults spelt out) have the same bytes, and whatever a new list
 * parameter adds to struct purchase_query joins the key by itself. */
struct list_key {
  char kind; /* 'l' */
  unsigned char role;
  struct purchase_query query;
};

_Static_assert(2 * CURSOR_MAX + 1 < CACHE_EXTRA_MAX, "a page's two cursors must fit a cache entry");

/* The page's cursors: to the page after it and to the one before it, for
 * the pages there are. False when one cannot be made. */
static bool make_cursors(const struct purchases_context *app, const struct purchase_query *query,
                         const struct purchase_page *page, struct page_cursors *cursors) {
  cursors->next[0] = '\0';
  cursors->prev[0] = '\0';
  return (!page->edges.has_more ||
          cursor_encode(app->cursor_key, query, false, &page->edges.last, cursors->next)) &&
         (!page->edges.has_previous ||
          cursor_encode(app->cursor_key, query, true, &page->edges.first, cursors->prev));
}

/* Reads the query string into `query` (whose user the caller set),
 * cursor included; false after answering 400. */
static bool read_list_query(const struct purchases_context *app, const struct _u_request *request,
                            struct _u_response *response, struct purchase_query *query) {
  struct query_params params;
  struct query_error error;
  const char *cursor = NULL;

  if (!query_params_parse(query_string_of(request->http_url), &params, &error) ||
      !list_params_read(&params, query, &cursor, &error)) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, error.name, "%s", error.detail);
    return false;
  }
  if (cursor != NULL) {
    if (!cursor_decode(app->cursor_key, query, cursor, &query->after, &query->before)) {
      problem_send_invalid(
          response, PROBLEM_ABOUT_QUERY, "cursor",
          "Query parameter 'cursor' is not a cursor of this list: it was altered, cut "
          "short, or made for another user, sort or filter. Start again without it.");
      return false;
    }
    query->has_after = true;
  }
  return true;
}

/* The body of a page, compact JSON (the caller frees it), and its cursors;
 * NULL when it cannot be written. */
static char *page_body(const struct purchases_context *app, const struct purchase_query *query,
                       const struct purchase_page *page, struct page_cursors *cursors) {
  json_t *j_body;
  char *text;

  if (!make_cursors(app, query, page, cursors)) {
    return NULL;
  }
  j_body = json_pack("{sO s{sI sb so* so*}}", "data", page->j_data, "page", "limit",
                     (json_int_t)query->limit, "hasMore", page->edges.has_more, "nextCursor",
                     page->edges.has_more ? json_string(cursors->next) : json_null(), "prevCursor",
                     page->edges.has_previous ? json_string(cursors->prev) : json_null());
  if (j_body != NULL && page->has_total) {
    json_object_set_new(json_object_get(j_body, "page"), "total", json_integer(page->total));
  }
  text = j_body != NULL ? json_dumps(j_body, JSON_COMPACT) : NULL;
  json_decref(j_body);
  return text;
}

int callback_user_purchases_get(const struct _u_request *request, struct _u_response *response,
                                void *user_data) {
  const struct purchases_context *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct list_key key;
  struct purchase_query *query = &key.query;
  struct purchase_page page = {0};
  struct cached_read read = {0};
  struct cache_value value;
  struct page_cursors cursors;
  char extra[CACHE_EXTRA_MAX];
  char etag[LIST_ETAG_MAX];
  char *text = NULL;
  enum model_status status;

  if (ctx == NULL || ctx->answered || ctx->client == NULL) {
    goto done;
  }
  memset(&key, 0, sizeof(key));
  key.kind = 'l';
  key.role = (unsigned char)ctx->client->role;
  snprintf(query->user_id, sizeof(query->user_id), "%s", ctx->target_user_id);
  if (!read_list_query(app, request, response, query)) {
    goto done;
  }
  read.key = &key;
  read.key_len = sizeof(key);
  read.user_id = query->user_id;
  if (cached_read_begin(app, request, response, &read, add_link)) {
    goto done;
  }

  status = purchase_list(app->db, query, &page);
  if (status != MODEL_OK) {
    problem_send_store_failure(response, status);
    goto done;
  }
  text = page_body(app, query, &page, &cursors);
  if (text == NULL || !etag_of_body(text, strlen(text), etag)) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    goto done;
  }
  page_cursors_join(&cursors, extra);
  value =
      (struct cache_value){.body = text, .body_len = strlen(text), .etag = etag, .extra = extra};
  if (cached_read_answer(app, response, &read, &value)) {
    add_link(request, response, extra);
  }

done:
  cached_read_end(app, &read);
  free(text);
  purchase_page_cleanup(&page);
  return U_CALLBACK_CONTINUE;
}

/* The :purchaseId of the path, or NULL after answering 400. Purchase ids
 * follow the rule of user ids; a query string riding along in the decoded
 * path ("p1,x") fails it too. */
static const char *purchase_id_of(const struct _u_request *request, struct _u_response *response) {
  const char *purchase_id = u_map_get(request->map_url, "purchaseId");
  if (!user_id_is_valid(purchase_id)) {
    problem_send_invalid(response, PROBLEM_ABOUT_PATH, "purchaseId",
                         "The purchase id in the path must be " ID_RULE ".");
    return NULL;
  }
  return purchase_id;
}

static void answer_purchase(struct _u_response *response, const json_t *j_purchase,
                            int32_t version) {
  char etag[ETAG_MAX];
  request_answer_json(response, 200, j_purchase);
  etag_format(version, etag);
  u_map_put(response->map_header, "ETag", etag);
}

/* The cache key of one purchase: kind, role, user and purchase, zeroed
 * first so that equal requests have equal bytes. */
struct purchase_key {
  char kind; /* 'p' */
  unsigned char role;
  char user_id[ID_MAX + 1];
  char purchase_id[ID_MAX + 1];
};

int callback_user_purchase_get(const struct _u_request *request, struct _u_response *response,
                               void *user_data) {
  const struct purchases_context *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  const char *purchase_id;
  struct purchase_key key;
  struct cached_read read = {0};
  struct cache_value value;
  json_t *j_purchase = NULL;
  char *text = NULL;
  char etag[ETAG_MAX];
  int32_t version = 0;
  enum model_status status;

  if (ctx == NULL || ctx->answered || ctx->client == NULL ||
      !request_takes_no_query(request, response)) {
    goto done;
  }
  purchase_id = purchase_id_of(request, response);
  if (purchase_id == NULL) {
    goto done;
  }
  memset(&key, 0, sizeof(key));
  key.kind = 'p';
  key.role = (unsigned char)ctx->client->role;
  snprintf(key.user_id, sizeof(key.user_id), "%s", ctx->target_user_id);
  snprintf(key.purchase_id, sizeof(key.purchase_id), "%s", purchase_id);
  read.key = &key;
  read.key_len = sizeof(key);
  read.user_id = key.user_id;
  if (cached_read_begin(app, request, response, &read, NULL)) {
    goto done;
  }
  status = purchase_read(app->db, ctx->target_user_id, purchase_id, &j_purchase, &version);
  if (status == MODEL_NOT_FOUND) {
    problem_send(response, PROBLEM_NOT_FOUND, "This user has no purchase with that id.");
    goto done;
  }
  if (status != MODEL_OK) {
    problem_send_store_failure(response, status);
    goto done;
  }
  text = json_dumps(j_purchase, JSON_COMPACT);
  if (text == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    goto done;
  }
  etag_format(version, etag);
  value = (struct cache_value){.body = text, .body_len = strlen(text), .etag = etag, .extra = ""};
  cached_read_answer(app, response, &read, &value);

done:
  cached_read_end(app, &read);
  free(text);
  json_decref(j_purchase);
  return U_CALLBACK_CONTINUE;
}

/* Adds {"pointer", "detail"} to a change's errors; always false, the
 * answer of the rule that found it. pointer is plain ASCII. */
static bool change_fault(json_t *j_errors, const char *pointer, const char *detail) {
  json_array_append_new(j_errors, json_pack("{ss ss}", "pointer", pointer, "detail", detail));
  return false;
}

/* Reads {"status": ..., "dateDelivered": ...} into *change. On a bad body
 * returns false with *j_errors as purchase_validate() gives them. The
 * answer is decided by the rules broken, never by how many errors could be
 * listed. */
static bool read_change(const json_t *j_body, struct status_change *change, json_t **j_errors) {
  const char *key;
  json_t *j_value;
  const char *status = NULL;
  bool valid = true;

  *j_errors = json_array();
  if (*j_errors == NULL) {
    return false;
  }
  if (!json_is_object(j_body)) {
    change_fault(*j_errors, "", "must be an object");
    return false;
  }
  json_object_foreach((json_t *)j_body, key, j_value) {
    if (strcmp(key, "status") != 0 && strcmp(key, "dateDelivered") != 0) {
      /* The pointer names the field; its name is the caller's own text. */
      char pointer[80];
      words_json_pointer("", key, pointer, sizeof(pointer));
      valid = change_fault(*j_errors, pointer,
                           "is not a field of a status change (status, dateDelivered)");
    }
  }
  status = json_string_value(json_object_get(j_body, "status"));
  if (status == NULL || purchase_status_index(status) < 0) {
    char names[128];
    char detail[160];
    words_join(words_of_array, PURCHASE_STATUSES, "or", names, sizeof(names));
    snprintf(detail, sizeof(detail), "is required: %s", names);
    valid = change_fault(*j_errors, "/status", detail);
  }
  change->status = status;
  j_value = json_object_get(j_body, "dateDelivered");
  if (j_value != NULL && !json_is_null(j_value)) {
    if (!json_is_string(j_value) ||
        !parse_timestamp(json_string_value(j_value), &change->date_delivered_ms)) {
      valid = change_fault(*j_errors, "/dateDelivered", "must be an ISO-8601 date or date-time");
    } else if (status != NULL && strcmp(status, "delivered") != 0) {
      valid = change_fault(*j_errors, "/dateDelivered", "is only for a change to delivered");
    } else {
      change->has_date_delivered = true;
    }
  }
  return valid;
}

/* If-None-Match on a change (RFC 9110 section 13.1.2): the change goes on
 * only while the purchase's tag, plain or its gzip variant (which
 * etag_if_none_match() takes for it), is not one the header lists; "*"
 * lists them all. arg is the header's value. */
static bool none_match(int32_t version, const void *arg) {
  char etag[ETAG_MAX];

  etag_format(version, etag);
  return etag_if_none_match(arg, etag) != ETAG_MATCH;
}

/* If-Match and If-None-Match of a change, into change (the header values
 * stay the request's). False when one is malformed: answered with 400. */
static bool read_preconditions(const struct _u_request *request, struct _u_response *response,
                               struct status_change *change) {
  const char *if_match = u_map_get_case(request->map_header, "If-Match");
  const char *if_none_match = u_map_get_case(request->map_header, "If-None-Match");

  if (if_match != NULL && !etag_parse_if_match(if_match, &change->expected_version)) {
    problem_send_invalid(response, PROBLEM_ABOUT_HEADER, "If-Match",
                         "If-Match must be * or one ETag this service sent, such as \"v2\".");
    return false;
  }
  if (if_none_match != NULL) {
    if (etag_if_none_match(if_none_match, "\"v0\"") == ETAG_MALFORMED) {
      problem_send_invalid(
          response, PROBLEM_ABOUT_HEADER, "If-None-Match",
          "The If-None-Match header must be * or a comma-separated list of entity tags.");
      return false;
    }
    change->version_allowed = none_match;
    change->version_allowed_arg = if_none_match;
  }
  return true;
}

/* The answer to what the model made of `change`. */
static void answer_change(struct _u_response *response, const struct status_change *change,
                          const struct change_result *result) {
  json_t *j_extra = NULL;
  char etag[ETAG_MAX];

  etag_format(result->version, etag);
  switch (result->outcome) {
    case WRITE_NOT_FOUND:
      problem_send(response, PROBLEM_NOT_FOUND, "This user has no purchase with that id.");
      break;
    case WRITE_STALE:
      j_extra = json_pack("{ss ss}", "currentStatus", result->current_status, "currentETag", etag);
      if (change->version_allowed != NULL &&
          !change->version_allowed(result->version, change->version_allowed_arg)) {
        problem_send_extra(response, PROBLEM_PRECONDITION_FAILED, j_extra,
                           "If-None-Match names the purchase as it is now (%s, %s); nothing "
                           "was changed.",
                           etag, result->current_status);
      } else {
        problem_send_extra(response, PROBLEM_PRECONDITION_FAILED, j_extra,
                           "The purchase has changed since that ETag; it is now %s, %s. Read it "
                           "again and decide anew.",
                           etag, result->current_status);
      }
      u_map_put(response->map_header, "ETag", etag);
      break;
    case WRITE_BAD_DATE:
      j_extra =
          json_pack("{s[{ss ss}]}", "errors", "pointer", "/dateDelivered", "detail", result->fault);
      problem_send_extra(response, PROBLEM_INVALID_PURCHASE, j_extra,
                         "The status change breaks 1 rule(s); each is listed in errors.");
      break;
    case WRITE_BAD_TRANSITION:
      j_extra = json_pack("{ss}", "currentStatus", result->current_status);
      problem_send_extra(response, PROBLEM_CONFLICT, j_extra,
                         "A purchase that is %s cannot become %s.", result->current_status,
                         change->status);
      break;
    case WRITE_DONE:
    case WRITE_UNCHANGED:
      answer_purchase(response, result->j_purchase, result->version);
      break;
    default:
      problem_send_store_failure(response, MODEL_ERROR);
      break;
  }
  json_decref(j_extra);
}

int callback_user_purchase_patch(const struct _u_request *request, struct _u_response *response,
                                 void *user_data) {
  const struct purchases_context *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct status_change change = {.expected_version = -1};
  struct change_result result = {0};
  const char *purchase_id;
  json_t *j_body = NULL;
  json_t *j_errors = NULL;
  json_t *j_extra = NULL;
  struct timespec now;
  enum model_status status;

  if (ctx == NULL || ctx->answered || !request_takes_no_query(request, response)) {
    goto done;
  }
  purchase_id = purchase_id_of(request, response);
  if (purchase_id == NULL || !read_preconditions(request, response, &change)) {
    goto done;
  }
  j_body = request_json_body(request, response);
  if (j_body == NULL) {
    goto done;
  }
  if (!read_change(j_body, &change, &j_errors)) {
    j_extra = json_pack("{sO}", "errors", j_errors);
    problem_send_extra(response, PROBLEM_INVALID_PURCHASE, j_extra,
                       "The status change breaks %zu rule(s); each is listed in errors.",
                       json_array_size(j_errors));
    goto done;
  }
  clock_gettime(CLOCK_REALTIME, &now);
  status = purchase_change_status(app->db, ctx->target_user_id, purchase_id, &change,
                                  (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &result);
  if (status != MODEL_OK) {
    problem_send_store_failure(response, status);
    goto done;
  }
  answer_change(response, &change, &result);

done:
  change_result_cleanup(&result);
  json_decref(j_extra);
  json_decref(j_errors);
  json_decref(j_body);
  return U_CALLBACK_CONTINUE;
}
