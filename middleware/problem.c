#include "middleware/problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <yder.h>

#include "middleware/request.h"

struct problem_spec {
  unsigned int status;
  const char *slug;
  const char *title;
  const char *description; /* what /problems/<slug> says of it */
};

/* Indexed by enum problem_type. The type URIs are relative references to
 * GET /problems/<slug>, which describes each (routes/problems.c). */
static const struct problem_spec PROBLEMS[] = {
    [PROBLEM_INVALID_REQUEST] = {400, "invalid-request", "Invalid request",
                                 "A part of the request is malformed: a path segment, a query "
                                 "parameter, a header or the body. The detail names it; fix the "
                                 "request before sending it again."},
    [PROBLEM_UNAUTHENTICATED] = {401, "unauthenticated", "Authentication required",
                                 "The request did not say who is calling (x-client-id and "
                                 "x-user-id, or a bearer token), or the token was refused. "
                                 "WWW-Authenticate says which."},
    [PROBLEM_FORBIDDEN] = {403, "forbidden", "Access denied",
                           "The caller is known but may not do this: a customer reading another "
                           "user's purchases, a client that is not registered, a role without "
                           "the right, an origin not allowed."},
    [PROBLEM_NOT_FOUND] = {404, "not-found", "Not found",
                           "Nothing lives at this path, or this user has no purchase with that "
                           "id."},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed",
                                    "The path exists but does not take this method; Allow lists "
                                    "those it takes."},
    [PROBLEM_UNAVAILABLE] = {503, "service-unavailable", "Service unavailable",
                             "The database could not be reached or is at capacity, or an audit "
                             "record could not be written. Nothing was changed; try again after "
                             "Retry-After seconds."},
    [PROBLEM_INTERNAL] = {500, "internal-error", "Internal server error",
                          "A fault of the service. Quote the requestId when reporting it."},
    [PROBLEM_TOO_MANY_REQUESTS] = {429, "too-many-requests", "Too many requests",
                                   "The caller used its budget of requests (RateLimit-* headers), "
                                   "or its address failed to authenticate too often. Retry after "
                                   "Retry-After seconds."},
    [PROBLEM_BODY_NOT_ALLOWED] = {413, "body-not-allowed", "Request body not allowed",
                                  "This route takes no request body, and one was sent."},
    [PROBLEM_URI_TOO_LONG] = {414, "uri-too-long", "URI too long",
                              "The URL is longer than 4,096 bytes."},
    [PROBLEM_HEADERS_TOO_LARGE] = {431, "headers-too-large", "Request headers too large",
                                   "More than 64 headers, one over 8 KiB, or over 16 KiB in "
                                   "all."},
    [PROBLEM_CONFLICT] = {409, "conflict", "Conflict",
                          "The Idempotency-Key was used before with another body, or another "
                          "purchase has this id."},
    [PROBLEM_PRECONDITION_FAILED] = {412, "precondition-failed", "Precondition failed",
                                     "If-Match names an older version of the purchase; "
                                     "currentETag and currentStatus say what it is now."},
    [PROBLEM_BODY_TOO_LARGE] = {413, "body-too-large", "Request body too large",
                                "A write body may hold at most 1 MiB."},
    [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported-media-type", "Unsupported media type",
                                        "A write body must be application/json."},
    [PROBLEM_INVALID_PURCHASE] = {422, "invalid-purchase", "Invalid purchase",
                                  "The body is JSON but breaks a rule of a purchase or a status "
                                  "change; errors lists each field at fault as a JSON pointer."},
    [PROBLEM_NOT_IMPLEMENTED] = {501, "not-implemented", "Not implemented",
                                 "The method is not one the service knows."},
};

#define PROBLEM_COUNT (sizeof(PROBLEMS) / sizeof(PROBLEMS[0]))

bool problem_describe(const char *slug, unsigned int *status, const char **title,
                      const char **description) {
  for (size_t i = 0; slug != NULL && i < PROBLEM_COUNT; i++) {
    if (PROBLEMS[i].slug != NULL && strcmp(PROBLEMS[i].slug, slug) == 0) {
      *status = PROBLEMS[i].status;
      *title = PROBLEMS[i].title;
      *description = PROBLEMS[i].description;
      return true;
    }
  }
  return false;
}

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

/* Keeps `text` printable ASCII, which is always valid UTF-8 and cannot
 * break the JSON encoder: details and names may quote what the caller
 * sent. */
static void keep_printable(char *text) {
  for (char *c = text; *c != '\0'; c++) {
    if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
      *c = '?';
    }
  }
}

json_t *problem_error_entry(enum problem_subject subject, const char *name, const char *detail) {
  char shown[65];
  json_t *j_entry = json_object();

  if (j_entry == NULL) {
    return NULL;
  }
  if (name != NULL && name[0] != '\0') {
    snprintf(shown, sizeof(shown), "%s", name);
    keep_printable(shown);
    json_object_set_new(j_entry, subject == PROBLEM_ABOUT_HEADER ? "header" : "parameter",
                        json_string(shown));
  }
  if (subject != PROBLEM_ABOUT_HEADER) {
    json_object_set_new(j_entry, "in",
                        json_string(subject == PROBLEM_ABOUT_PATH ? "path" : "query"));
  }
  json_object_set_new(j_entry, "detail", json_string(detail));
  return j_entry;
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
  keep_printable(detail);

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

void problem_send_invalid(struct _u_response *response, enum problem_subject subject,
                          const char *name, const char *detail_format, ...) {
  char detail[512];
  va_list args;
  json_t *j_extra;

  va_start(args, detail_format);
  vsnprintf(detail, sizeof(detail), detail_format, args);
  va_end(args);
  keep_printable(detail);
  j_extra = json_pack("{s[o]}", "errors", problem_error_entry(subject, name, detail));
  /* Out of memory: the 400 still goes out, without its errors. */
  problem_send_extra(response, PROBLEM_INVALID_REQUEST, j_extra, "%s", detail);
  json_decref(j_extra);
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
