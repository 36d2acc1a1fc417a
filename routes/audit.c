#include "routes/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes/context.h"
#include "middleware/problem.h"
#include "middleware/query.h"
#include "middleware/request.h"
#include "models/audit.h"
#include "routes/cursor.h"
#include "routes/list_params.h"
#include "routes/page_link.h"

/* Which list a cursor of this route belongs to: the audit trail of one user,
 * newest first (a previous page's cursor sets the top bit, routes/cursor.c). */
#define AUDIT_ORDER 0x41

static size_t audit_context(const char *user_id, char *out, size_t cap) {
  int n = snprintf(out, cap, "audit%c%s", '\0', user_id);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* What a request for an audit page asks: the page size and where it
 * starts (after a cursor's position, or just before it). */
struct audit_request {
  uint32_t limit;
  bool has_after;
  bool before;
  struct purchase_position after;
};

/* Reads the query string (limit, cursor) into *wanted; false after
 * answering 400. The cursor must be one of this user's trail. */
static bool read_audit_request(const struct purchases_context *app,
                               const struct _u_request *request, struct _u_response *response,
                               const char *context, size_t context_len,
                               struct audit_request *wanted) {
  struct query_params params;
  struct query_error error;
  const char *value;

  if (!query_params_parse(query_string_of(request->http_url), &params, &error)) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, error.name, "%s", error.detail);
    return false;
  }
  for (size_t i = 0; i < params.count; i++) {
    const char *name = params.params[i].name;
    if (strcmp(name, "limit") != 0 && strcmp(name, "cursor") != 0) {
      problem_send_invalid(response, PROBLEM_ABOUT_QUERY, name,
                           "Unknown query parameter '%s'. Known: limit, cursor.", name);
      return false;
    }
  }
  wanted->limit = LIST_LIMIT_DEFAULT;
  if ((value = query_params_get(&params, "limit")) != NULL) {
    char *end = NULL;
    unsigned long parsed = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || parsed < 1 || parsed > LIST_LIMIT_MAX) {
      problem_send_invalid(response, PROBLEM_ABOUT_QUERY, "limit",
                           "Query parameter 'limit' must be a whole number from 1 to %d.",
                           LIST_LIMIT_MAX);
      return false;
    }
    wanted->limit = (uint32_t)parsed;
  }
  wanted->has_after = false;
  wanted->before = false;
  if ((value = query_params_get(&params, "cursor")) != NULL) {
    if (!cursor_decode_context(app->cursor_key, context, context_len, AUDIT_ORDER, value,
                               &wanted->after, &wanted->before)) {
      problem_send_invalid(response, PROBLEM_ABOUT_QUERY, "cursor",
                           "Query parameter 'cursor' is not a cursor of this audit trail. Start "
                           "again without it.");
      return false;
    }
    wanted->has_after = true;
  }
  return true;
}

/* Answers the page: its records, its cursors both ways and their links. */
static void answer_audit_page(const struct purchases_context *app, const struct _u_request *request,
                              struct _u_response *response, const char *context, size_t context_len,
                              uint32_t limit, const struct audit_page *page) {
  char next[CURSOR_MAX + 1] = "";
  char prev[CURSOR_MAX + 1] = "";
  json_t *j_body = NULL;

  if ((page->edges.has_more &&
       !cursor_encode_context(app->cursor_key, context, context_len, AUDIT_ORDER, false,
                              &page->edges.last, next)) ||
      (page->edges.has_previous &&
       !cursor_encode_context(app->cursor_key, context, context_len, AUDIT_ORDER, true,
                              &page->edges.first, prev))) {
    problem_send(response, PROBLEM_INTERNAL, "A cursor of the page could not be made.");
    return;
  }
  j_body = json_pack("{sO s{sI sb so* so*}}", "data", page->j_data, "page", "limit",
                     (json_int_t)limit, "hasMore", page->edges.has_more, "nextCursor",
                     page->edges.has_more ? json_string(next) : json_null(), "prevCursor",
                     page->edges.has_previous ? json_string(prev) : json_null());
  if (j_body == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    return;
  }
  request_answer_json(response, 200, j_body);
  page_link_add(request, response, next, prev);
  json_decref(j_body);
}

int callback_audit_get(const struct _u_request *request, struct _u_response *response,
                       void *user_data) {
  const struct purchases_context *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct audit_request wanted;
  struct audit_page page = {0};
  char context[CURSOR_CONTEXT_MAX];
  size_t context_len;
  enum model_status status;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  context_len = audit_context(ctx->target_user_id, context, sizeof(context));
  if (!read_audit_request(app, request, response, context, context_len, &wanted)) {
    goto done;
  }
  status = audit_store_list(app->db, ctx->target_user_id, wanted.limit,
                            wanted.has_after ? &wanted.after : NULL, wanted.before, &page);
  if (status == MODEL_INVALID) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, "cursor",
                         "Query parameter 'cursor' is not a cursor of this list; start again "
                         "without it.");
    goto done;
  }
  if (status != MODEL_OK) {
    problem_send_store_failure(response, status);
    goto done;
  }
  answer_audit_page(app, request, response, context, context_len, wanted.limit, &page);

done:
  audit_page_cleanup(&page);
  return U_CALLBACK_CONTINUE;
}
