#include "middleware/authz.h"

#include <string.h>

#include "lib/ids.h"
#include "middleware/problem.h"
#include "middleware/query.h"
#include "middleware/request.h"

bool user_id_is_valid(const char *user_id) {
  return id_is_valid(user_id, ID_PLAIN);
}

bool authz_can_read_user(enum role role, const char *actor, const char *target) {
  switch (role) {
    case ROLE_SUPPORT:
    case ROLE_SERVICE:
      return true;
    case ROLE_CUSTOMER:
      return actor != NULL && target != NULL && strcmp(actor, target) == 0;
    case ROLE_INGEST:
      return false; /* writers need no reads: least privilege */
  }
  return false;
}

bool access_reason_is_valid(const char *reason) {
  size_t len = strlen(reason);
  if (len == 0 || len > ACCESS_REASON_MAX) {
    return false;
  }
  /* Printable ASCII and any UTF-8 text, but no control characters. A
   * repeated header arrives joined by ", " and is indistinguishable from one
   * reason with a comma; that is harmless here. */
  return text_is_clean_utf8(reason);
}

/* Answers 400 for a :userId that is not an id. Ulfius keeps path and query
 * parameters in one map and joins a query parameter `userId` to the path's
 * with a comma, so when the query string names one the fault is there:
 * say so, rather than blame a path that was fine. */
static void refuse_user_id(const struct _u_request *request, struct _u_response *response) {
  struct query_params params;
  struct query_error error;

  if (!query_params_parse(query_string_of(request->http_url), &params, &error)) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, error.name, "%s", error.detail);
  } else if (query_params_get(&params, "userId") != NULL) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, "userId",
                         "Unknown query parameter 'userId': the user is the one in the path.");
  } else {
    problem_send_invalid(response, PROBLEM_ABOUT_PATH, "userId",
                         "The userId in the path must be " ID_RULE ".");
  }
}

/* The links below share their first steps: nothing to do once answered,
 * then the :userId of the path, which must be well formed when the route
 * has one (400; Ulfius leaves it out when its escapes decode to invalid
 * UTF-8, which is as malformed). Returns false when the link has nothing
 * more to do; *target is NULL on routes without :userId. */
static bool begin_link(const struct _u_request *request, struct _u_response *response,
                       struct request_ctx **ctx, const char **target) {
  *ctx = request_ctx_of(response);
  *target = u_map_get(request->map_url, "userId");
  if (*ctx == NULL || (*ctx)->answered) {
    return false;
  }
  if (strstr((*ctx)->route, ":userId") != NULL && !user_id_is_valid(*target)) {
    refuse_user_id(request, response);
    return false;
  }
  return true;
}

/* Lets the request on to the controller, for user `target` (may be NULL). */
static void allow(struct request_ctx *ctx, const char *target) {
  if (target != NULL) {
    memcpy(ctx->target_user_id, target, strlen(target) + 1);
  }
}

int callback_user_authz(const struct _u_request *request, struct _u_response *response,
                        void *user_data) {
  struct request_ctx *ctx;
  const char *target;
  const char *reason;
  (void)user_data;

  if (!begin_link(request, response, &ctx, &target)) {
    return U_CALLBACK_CONTINUE;
  }
  if (target == NULL || ctx->client == NULL ||
      !authz_can_read_user(ctx->client->role, ctx->user_id, target)) {
    problem_send(response, PROBLEM_FORBIDDEN, "You may not read this user's purchases.");
    return U_CALLBACK_CONTINUE;
  }
  reason = u_map_get_case(request->map_header, "x-access-reason");
  if (reason != NULL && !access_reason_is_valid(reason)) {
    problem_send_invalid(
        response, PROBLEM_ABOUT_HEADER, "x-access-reason",
        "The x-access-reason header must be 1 to %d bytes of UTF-8 text without control "
        "characters.",
        ACCESS_REASON_MAX);
    return U_CALLBACK_CONTINUE;
  }
  if (reason != NULL) {
    memcpy(ctx->access_reason, reason, strlen(reason) + 1);
  }
  allow(ctx, target);
  return U_CALLBACK_CONTINUE;
}

const struct role_rule AUTHZ_SUPPORT_ONLY = {
    ROLE_SUPPORT, "Only customer-support staff may read the audit trail."};
const struct role_rule AUTHZ_INGEST_ONLY = {
    ROLE_INGEST, "Only ingest clients (checkout, fulfilment) may record purchases."};

int callback_role_only(const struct _u_request *request, struct _u_response *response,
                       void *user_data) {
  const struct role_rule *rule = user_data;
  struct request_ctx *ctx;
  const char *target;

  if (!begin_link(request, response, &ctx, &target)) {
    return U_CALLBACK_CONTINUE;
  }
  if (ctx->client == NULL || ctx->client->role != rule->role) {
    problem_send(response, PROBLEM_FORBIDDEN, "%s", rule->refusal);
    return U_CALLBACK_CONTINUE;
  }
  allow(ctx, target);
  return U_CALLBACK_CONTINUE;
}
