#include "middleware/authz.h"

#include <string.h>

#include "middleware/problem.h"
#include "middleware/request.h"

bool user_id_is_valid(const char *user_id) {
  size_t len = 0;
  if (user_id == NULL) {
    return false;
  }
  for (; user_id[len] != '\0'; len++) {
    char c = user_id[len];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok || len >= USER_ID_MAX) {
      return false;
    }
  }
  return len > 0;
}

bool authz_can_read_user(enum role role, const char *actor, const char *target) {
  switch (role) {
    case ROLE_SUPPORT:
    case ROLE_SERVICE:
      return true;
    case ROLE_CUSTOMER:
      return actor != NULL && target != NULL && strcmp(actor, target) == 0;
  }
  return false;
}

int callback_user_authz(const struct _u_request *request, struct _u_response *response,
                        void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  const char *actor = u_map_get_case(request->map_header, "x-user-id");
  const char *target = u_map_get(request->map_url, "userId");
  (void)user_data;

  if (ctx == NULL || ctx->answered) {
    return U_CALLBACK_CONTINUE;
  }
  if (actor == NULL || actor[0] == '\0') {
    problem_send(response, PROBLEM_UNAUTHENTICATED, "The x-user-id header is required.");
    return U_CALLBACK_CONTINUE;
  }
  if (!user_id_is_valid(actor)) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The x-user-id header must be 1 to 64 characters of A-Z a-z 0-9 _ - "
                 "and sent once.");
    return U_CALLBACK_CONTINUE;
  }
  if (!user_id_is_valid(target)) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The userId in the path must be 1 to 64 characters of A-Z a-z 0-9 _ -.");
    return U_CALLBACK_CONTINUE;
  }
  if (ctx->client == NULL || !authz_can_read_user(ctx->client->role, actor, target)) {
    problem_send(response, PROBLEM_FORBIDDEN, "You may not read this user's purchases.");
    return U_CALLBACK_CONTINUE;
  }
  memcpy(ctx->user_id, actor, strlen(actor) + 1);
  memcpy(ctx->target_user_id, target, strlen(target) + 1);
  return U_CALLBACK_CONTINUE;
}
