#include "middleware/problem.h"

#include <stdarg.h>
#include <stdio.h>

#include <yder.h>

#include "middleware/request.h"

struct problem_spec {
  unsigned int status;
  const char *slug;
  const char *title;
};

/* Indexed by enum problem_type. The type URIs are relative references; they
 * are documented in docs/api.md. */
static const struct problem_spec PROBLEMS[] = {
    [PROBLEM_INVALID_REQUEST] = {400, "invalid-request", "Invalid request"},
    [PROBLEM_UNAUTHENTICATED] = {401, "unauthenticated", "Authentication required"},
    [PROBLEM_FORBIDDEN] = {403, "forbidden", "Access denied"},
    [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found"},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed"},
    [PROBLEM_UNAVAILABLE] = {503, "service-unavailable", "Service unavailable"},
    [PROBLEM_INTERNAL] = {500, "internal-error", "Internal server error"},
    [PROBLEM_TOO_MANY_REQUESTS] = {429, "too-many-requests", "Too many requests"},
    [PROBLEM_BODY_NOT_ALLOWED] = {413, "body-not-allowed", "Request body not allowed"},
    [PROBLEM_URI_TOO_LONG] = {414, "uri-too-long", "URI too long"},
    [PROBLEM_HEADERS_TOO_LARGE] = {431, "headers-too-large", "Request headers too large"},
    [PROBLEM_CONFLICT] = {409, "conflict", "Conflict"},
    [PROBLEM_PRECONDITION_FAILED] = {412, "precondition-failed", "Precondition failed"},
    [PROBLEM_BODY_TOO_LARGE] = {413, "body-too-large", "Request body too large"},
    [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported-media-type", "Unsupported media type"},
    [PROBLEM_INVALID_PURCHASE] = {422, "invalid-purchase", "Invalid purchase"},
    [PROBLEM_NOT_IMPLEMENTED] = {501, "not-implemented", "Not implemented"},
};

unsigned int problem_status(enum problem_type type) {
  return PROBLEMS[type].status;
}

json_t *problem_build(enum problem_type type, const char *detail, const char *request_id) {
  const struct problem_spec *spec = &PROBLEMS[type];
  char uri[64];
  json_t *j_problem;

  snprintf(uri, sizeof(uri), "/problems/%s", spec->slug);
  j_problem = json_pack("{ss ss si ss}", "type", uri, "title", spec->title, "status",
                        (int)spec->status, "detail", detail != NULL ? detail : spec->title);
  if (j_problem != NULL && request_id != NULL && request_id[0] != '\0') {
    if (json_object_set_new(j_problem, "requestId", json_string(request_id)) != 0) {
      json_decref(j_problem);
      j_problem = NULL;
    }
  }
  return j_problem;
}

/* The one writer of problem responses: detail from the format, then the
 * members of j_extra (may be NULL) copied in. */
static void send_problem(struct _u_response *response, enum problem_type type,
                         const json_t *j_extra, const char *detail_format, va_list args) {
  struct request_ctx *ctx = request_ctx_of(response);
  char detail[512];
  char *body = NULL;
  json_t *j_problem = NULL;

  vsnprintf(detail, sizeof(detail), detail_format, args);
  /* Details may quote what the caller sent: keep them printable ASCII, which
   * is always valid UTF-8 and cannot break the JSON encoder. */
  for (char *c = detail; *c != '\0'; c++) {
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
      *c = '?';
    }
  }

  j_problem = problem_build(type, detail, ctx != NULL ? ctx->request_id : NULL);
  if (j_problem != NULL && j_extra != NULL &&
      json_object_update(j_problem, (json_t *)j_extra) != 0) {
    json_decref(j_problem);
    j_problem = NULL;
  }
  body = j_problem != NULL ? json_dumps(j_problem, JSON_COMPACT) : NULL;
  if (body == NULL) {
    /* Out of memory: a fixed body still tells the truth. */
    y_log_message(Y_LOG_LEVEL_ERROR, "problem: cannot build a problem response");
    ulfius_set_string_body_response(response, 500, "{\"status\":500}");
  } else {
    ulfius_set_string_body_response(response, problem_status(type), body);
  }
  u_map_put(response->map_header, "Content-Type", "application/problem+json");
  if (type == PROBLEM_UNAVAILABLE) {
    u_map_put(response->map_header, "Retry-After", PROBLEM_RETRY_AFTER_S);
  }
  if (ctx != NULL) {
    ctx->answered = true;
  }
  free(body);
  json_decref(j_problem);
}

void problem_send(struct _u_response *response, enum problem_type type, const char *detail_format,
                  ...) {
  va_list args;
  va_start(args, detail_format);
  send_problem(response, type, NULL, detail_format, args);
  va_end(args);
}

void problem_send_extra(struct _u_response *response, enum problem_type type, const json_t *j_extra,
                        const char *detail_format, ...) {
  va_list args;
  va_start(args, detail_format);
  send_problem(response, type, j_extra, detail_format, args);
  va_end(args);
}

void problem_send_store_failure(struct _u_response *response, enum model_status status) {
  if (status == MODEL_BUSY) {
    problem_send(response, PROBLEM_UNAVAILABLE,
                 "The service is at capacity right now. Try again after Retry-After seconds.");
  } else if (status == MODEL_UNAVAILABLE) {
    problem_send(response, PROBLEM_UNAVAILABLE,
                 "The purchase store cannot be reached. Try again shortly.");
  } else {
    problem_send(response, PROBLEM_INTERNAL,
                 "Something went wrong on our side. Quote the request id when you report it.");
  }
}
