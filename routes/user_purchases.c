#include "routes/user_purchases.h"

#include <stdlib.h>
#include <string.h>

#include <yder.h>

#include "app/app.h"
#include "middleware/authz.h"
#include "middleware/problem.h"
#include "middleware/query.h"
#include "middleware/request.h"
#include "models/purchase.h"
#include "routes/cursor.h"
#include "routes/list_params.h"

/* The answer for a model status other than MODEL_OK. */
static void send_model_failure(struct _u_response *response, enum model_status status) {
  if (status == MODEL_UNAVAILABLE) {
    problem_send(response, PROBLEM_UNAVAILABLE,
                 "The purchase store cannot be reached. Try again shortly.");
  } else {
    problem_send(response, PROBLEM_INTERNAL,
                 "Something went wrong on our side. Quote the request id when you report it.");
  }
}

/* "<path?query-without-cursor&cursor=token>; rel=\"next\"", from the URL as
 * the caller sent it, so the next page keeps every other parameter exactly.
 * NULL when out of memory; the caller frees it. */
static char *next_link(const char *url, const char *token) {
  const char *query = query_string_of(url);
  size_t path_len = query != NULL ? (size_t)(query - 1 - url) : strlen(url);
  size_t cap = strlen(url) + strlen(token) + 32;
  char *link = malloc(cap);
  size_t n = 0;

  if (link == NULL) {
    return NULL;
  }
  n += (size_t)snprintf(link, cap, "<%.*s?", (int)path_len, url);
  for (const char *segment = query; segment != NULL && *segment != '\0';) {
    size_t len = strcspn(segment, "&");
    if (!(strncmp(segment, "cursor=", 7) == 0 && len >= 7)) {
      n += (size_t)snprintf(link + n, cap - n, "%.*s&", (int)len, segment);
    }
    segment += len;
    if (*segment == '&') {
      segment++;
    }
  }
  snprintf(link + n, cap - n, "cursor=%s>; rel=\"next\"", token);
  return link;
}

int callback_user_purchases_get(const struct _u_request *request, struct _u_response *response,
                                void *user_data) {
  struct app *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct query_params params;
  struct purchase_query query;
  struct purchase_page page = {0};
  const char *cursor = NULL;
  char next[CURSOR_MAX + 1] = "";
  char *link = NULL;
  char err[300];
  json_t *j_body = NULL;
  enum model_status status;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  memset(&query, 0, sizeof(query));
  snprintf(query.user_id, sizeof(query.user_id), "%s", ctx->target_user_id);
  if (!query_params_parse(query_string_of(request->http_url), &params, err, sizeof(err)) ||
      !list_params_read(&params, &query, &cursor, err, sizeof(err))) {
    problem_send(response, PROBLEM_INVALID_REQUEST, "%s", err);
    goto done;
  }
  if (cursor != NULL) {
    if (!cursor_decode(&app->cursor_key, &query, cursor, &query.after)) {
      problem_send(response, PROBLEM_INVALID_REQUEST,
                   "Query parameter 'cursor' is not a cursor of this list: it was altered, cut "
                   "short, or made for another user, sort or filter. Start again without it.");
      goto done;
    }
    query.has_after = true;
  }

  status = purchase_store_list(app->db, &query, &page);
  if (status != MODEL_OK) {
    send_model_failure(response, status);
    goto done;
  }
  if (page.has_more && !cursor_encode(&app->cursor_key, &query, &page.last, next)) {
    problem_send(response, PROBLEM_INTERNAL, "The next page's cursor could not be made.");
    goto done;
  }
  j_body = json_pack("{sO s{sI sb so*}}", "data", page.j_data, "page", "limit",
                     (json_int_t)query.limit, "hasMore", page.has_more, "nextCursor",
                     page.has_more ? json_string(next) : json_null());
  if (j_body != NULL && page.has_total) {
    json_object_set_new(json_object_get(j_body, "page"), "total", json_integer(page.total));
  }
  if (j_body == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    goto done;
  }
  if (page.has_more) {
    link = next_link(request->http_url, next);
    if (link != NULL) {
      u_map_put(response->map_header, "Link", link);
    }
  }
  request_answer_json(response, 200, j_body);

done:
  free(link);
  json_decref(j_body);
  purchase_page_cleanup(&page);
  return U_CALLBACK_CONTINUE;
}

int callback_user_purchase_get(const struct _u_request *request, struct _u_response *response,
                               void *user_data) {
  struct app *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct query_params params;
  const char *purchase_id = u_map_get(request->map_url, "purchaseId");
  char err[300];
  json_t *j_purchase = NULL;
  enum model_status status;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  if (!query_params_parse(query_string_of(request->http_url), &params, err, sizeof(err))) {
    problem_send(response, PROBLEM_INVALID_REQUEST, "%s", err);
    goto done;
  }
  if (params.count > 0) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "Unknown query parameter '%s': this route takes none.", params.params[0].name);
    goto done;
  }
  /* Purchase ids follow the rule of user ids; a query string riding along in
   * the decoded path ("p1,x") fails it too. */
  if (!user_id_is_valid(purchase_id)) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The purchase id in the path must be 1 to 64 of A-Z a-z 0-9 _ -.");
    goto done;
  }
  status = purchase_store_get(app->db, ctx->target_user_id, purchase_id, &j_purchase);
  if (status == MODEL_NOT_FOUND) {
    problem_send(response, PROBLEM_NOT_FOUND, "This user has no purchase with that id.");
    goto done;
  }
  if (status != MODEL_OK) {
    send_model_failure(response, status);
    goto done;
  }
  request_answer_json(response, 200, j_purchase);

done:
  json_decref(j_purchase);
  return U_CALLBACK_CONTINUE;
}
