#include "middleware/authn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <yder.h>

#include "lib/clock.h"
#include "lib/ids.h"
#include "middleware/authz.h"
#include "middleware/client_id.h"
#include "middleware/jwt.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"

const char *bearer_token_of(const char *value) {
  if (value == NULL || strncasecmp(value, "Bearer ", 7) != 0) {
    return NULL;
  }
  value += 7;
  while (*value == ' ') {
    value++;
  }
  return *value != '\0' ? value : NULL;
}

/* A 401 for a bearer token, with the challenge RFC 6750 asks for. */
static void reject_token(struct _u_response *response, const char *detail) {
  problem_send(response, PROBLEM_UNAUTHENTICATED, "%s", detail);
  u_map_put(response->map_header, "WWW-Authenticate",
            "Bearer realm=\"purchases\", error=\"invalid_token\"");
}

static void from_token(const struct authn_context *auth, const char *token, struct request_ctx *ctx,
                       struct _u_response *response) {
  struct jwt_identity identity;
  char reason[160];
  const struct client *client;

  if (!jwt_verify(auth->jwt, token, time(NULL), &identity, reason, sizeof(reason))) {
    /* The reason is for operators; the caller learns only that the token is
     * not accepted, which is all RFC 6750 promises and all an attacker
     * should get. */
    y_log_message(Y_LOG_LEVEL_INFO, "request_id=%s bearer token refused: %s", ctx->request_id,
                  reason);
    reject_token(response, "The bearer token is invalid, expired or not meant for this service.");
    return;
  }
  client = client_table_find(auth->clients, identity.client_id);
  if (client == NULL) {
    problem_send(response, PROBLEM_FORBIDDEN, "This client is not allowed to call the service.");
    return;
  }
  ctx->client = client;
  ctx->authenticated_by_token = true;
  memcpy(ctx->user_id, identity.user_id, sizeof(ctx->user_id));
}

static void from_headers(const struct authn_context *auth, const struct _u_request *request,
                         struct request_ctx *ctx, struct _u_response *response) {
  const char *client_id = u_map_get_case(request->map_header, "x-client-id");
  const char *user_id = u_map_get_case(request->map_header, "x-user-id");
  const struct client *client;

  if (client_id == NULL || client_id[0] == '\0') {
    problem_send(response, PROBLEM_UNAUTHENTICATED, "The x-client-id header is required.");
    return;
  }
  if (!client_id_is_valid(client_id)) {
    /* A header sent twice arrives joined with a comma, which no id holds. */
    problem_send_invalid(response, PROBLEM_ABOUT_HEADER, "x-client-id",
                         "The x-client-id header must be 1 to %d characters of A-Z a-z 0-9 _ - . "
                         "and sent once.",
                         CLIENT_ID_MAX);
    return;
  }
  client = client_table_find(auth->clients, client_id);
  if (client == NULL) {
    problem_send(response, PROBLEM_FORBIDDEN, "This client is not allowed to call the service.");
    return;
  }
  if (user_id == NULL || user_id[0] == '\0') {
    problem_send(response, PROBLEM_UNAUTHENTICATED, "The x-user-id header is required.");
    return;
  }
  if (!user_id_is_valid(user_id)) {
    problem_send_invalid(response, PROBLEM_ABOUT_HEADER, "x-user-id",
                         "The x-user-id header must be " ID_RULE " and sent once.");
    return;
  }
  ctx->client = client;
  memcpy(ctx->user_id, user_id, strlen(user_id) + 1);
}

bool auth_failure_key_of(const struct sockaddr *address, char key[AUTH_FAILURE_KEY_MAX]) {
  const void *bytes;
  int family;

  key[0] = '\0';
  if (address == NULL) {
    return false;
  }
  if (address->sa_family == AF_INET) {
    family = AF_INET;
    bytes = &((const struct sockaddr_in *)(const void *)address)->sin_addr;
  } else if (address->sa_family == AF_INET6) {
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(v6)) {
      /* ::ffff:a.b.c.d is a.b.c.d: one budget, however it arrives. */
      family = AF_INET;
      bytes = &v6->s6_addr[12];
    } else {
      family = AF_INET6;
      bytes = v6;
    }
  } else {
    return false;
  }
  return inet_ntop(family, bytes, key, AUTH_FAILURE_KEY_MAX) != NULL;
}

bool auth_failures_allow(struct rate_limiter *limiter, const char *key, uint32_t *retry_after_s) {
  struct rate_decision decision;

  *retry_after_s = 0;
  if (limiter == NULL || key == NULL || key[0] == '\0') {
    return true;
  }
  decision = rate_limiter_peek(limiter, key, clock_monotonic_ms());
  *retry_after_s = decision.retry_after_s;
  return decision.allowed;
}

void auth_failures_count(struct rate_limiter *limiter, const char *key) {
  if (limiter != NULL && key != NULL && key[0] != '\0') {
    (void)rate_limiter_take(limiter, key, clock_monotonic_ms());
  }
}

static void identify(const struct authn_context *auth, const struct _u_request *request,
                     struct request_ctx *ctx, struct _u_response *response) {
  const char *authorization;
  const char *token;

  if (auth->mode == AUTH_HEADERS) {
    from_headers(auth, request, ctx, response);
    return;
  }
  authorization = u_map_get_case(request->map_header, "Authorization");
  token = bearer_token_of(authorization);
  if (token != NULL) {
    from_token(auth, token, ctx, response);
  } else if (authorization != NULL && auth->mode == AUTH_JWT) {
    reject_token(response, "The Authorization header must be \"Bearer <token>\", sent once.");
  } else if (auth->mode == AUTH_JWT) {
    problem_send(response, PROBLEM_UNAUTHENTICATED, "A bearer token is required.");
    u_map_put(response->map_header, "WWW-Authenticate", "Bearer realm=\"purchases\"");
  } else if (authorization != NULL) {
    /* both: an Authorization header that is not a bearer token is neither
     * identity; silently falling back to the headers would hide a mistake. */
    reject_token(response, "The Authorization header must be \"Bearer <token>\", sent once.");
  } else {
    from_headers(auth, request, ctx, response);
  }
}

int callback_authenticate(const struct _u_request *request, struct _u_response *response,
                          void *user_data) {
  const struct authn_context *auth = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  char key[AUTH_FAILURE_KEY_MAX] = "";
  uint32_t retry_after_s;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  if (auth->failures != NULL) {
    (void)auth_failure_key_of(request->client_address, key);
  }
  /* An address that keeps failing is refused before anything it sent is
   * looked at: no signature check, no client lookup. */
  if (!auth_failures_allow(auth->failures, key, &retry_after_s)) {
    char number[16];
    metrics_count_auth_failures_limited();
    snprintf(number, sizeof(number), "%u", retry_after_s);
    problem_send(response, PROBLEM_TOO_MANY_REQUESTS,
                 "Too many failed authentications from this address: more than %u in a burst, "
                 "or %u a second sustained; retry after %u s.",
                 auth->failures_burst, auth->failures_rps, retry_after_s);
    u_map_put(response->map_header, "Retry-After", number);
    goto done;
  }
  identify(auth, request, ctx, response);
  if (ctx->answered && (response->status == 401 || response->status == 403)) {
    auth_failures_count(auth->failures, key);
  }

done:
  return U_CALLBACK_CONTINUE;
}
