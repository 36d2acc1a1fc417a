#include "middleware/cors.h"

#include <string.h>

#include "middleware/problem.h"
#include "middleware/request.h"

/* What a script in the shop may send, and read, beyond the simple ones. */
#define CORS_ALLOW_HEADERS                                                                         \
  "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id, "          \
  "X-Access-Reason, traceparent"
#define CORS_EXPOSE_HEADERS                                                                        \
  "ETag, Link, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "     \
  "X-Request-Id, Idempotent-Replayed"
#define CORS_MAX_AGE_S "600"

/* scheme://host[:port], lower case, as a browser serialises an origin. */
static bool origin_is_valid(const char *s, size_t len) {
  size_t i;
  size_t host_start;

  if (len > 7 && strncmp(s, "http://", 7) == 0) {
    host_start = 7;
  } else if (len > 8 && strncmp(s, "https://", 8) == 0) {
    host_start = 8;
  } else {
    return false;
  }
  for (i = host_start; i < len && s[i] != ':'; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return false;
    }
  }
  if (i == host_start) {
    return false;
  }
  if (i < len) {
    size_t digits = len - i - 1;
    if (digits == 0 || digits > 5 || strspn(s + i + 1, "0123456789") < digits) {
      return false;
    }
  }
  return true;
}

bool cors_parse(const char *value, struct cors_table *out, char *err, size_t err_len) {
  const char *p = value;

  memset(out, 0, sizeof(*out));
  while (*p != '\0') {
    size_t len = strcspn(p, ",");
    const char *origin = p;
    while (len > 0 && *origin == ' ') {
      origin++;
      len--;
    }
    while (len > 0 && origin[len - 1] == ' ') {
      len--;
    }
    if (len == 0 || len > CORS_ORIGIN_MAX || !origin_is_valid(origin, len)) {
      snprintf(err, err_len,
               "PURCHASES_CORS_ORIGINS must list origins such as https://shop.example or "
               "http://localhost:3000, comma-separated: lower case, no path, no '*'");
      return false;
    }
    if (out->count == CORS_ORIGINS_MAX) {
      snprintf(err, err_len, "PURCHASES_CORS_ORIGINS lists more than %d origins", CORS_ORIGINS_MAX);
      return false;
    }
    memcpy(out->origins[out->count], origin, len);
    out->origins[out->count][len] = '\0';
    out->count++;
    p += strcspn(p, ",");
    if (*p == ',') {
      p++;
    }
  }
  return true;
}

bool cors_allowed(const struct cors_table *table, const char *origin) {
  for (size_t i = 0; origin != NULL && i < table->count; i++) {
    if (strcmp(table->origins[i], origin) == 0) {
      return true;
    }
  }
  return false;
}

void cors_apply(const struct cors_table *table, const struct _u_request *request,
                struct _u_response *response) {
  const char *origin;

  if (table == NULL || table->count == 0) {
    return;
  }
  request_vary_add(response, "Origin");
  origin = u_map_get_case(request->map_header, "Origin");
  if (!cors_allowed(table, origin)) {
    return;
  }
  u_map_put(response->map_header, "Access-Control-Allow-Origin", origin);
  if (strcmp(request->http_verb, "OPTIONS") != 0) {
    u_map_put(response->map_header, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
  }
}

int callback_cors_preflight(const struct _u_request *request, struct _u_response *response,
                            void *user_data) {
  const struct route_scope *scope = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  const char *origin = u_map_get_case(request->map_header, "Origin");

  if (ctx == NULL || ctx->answered) {
    return U_CALLBACK_CONTINUE;
  }
  if (!cors_allowed(scope->cors, origin)) {
    problem_send(response, PROBLEM_FORBIDDEN,
                 "This origin may not call the service from a browser (PURCHASES_CORS_ORIGINS).");
    return U_CALLBACK_CONTINUE;
  }
  if (u_map_get_case(request->map_header, "Access-Control-Request-Method") == NULL) {
    problem_send_invalid(response, PROBLEM_ABOUT_HEADER, "Access-Control-Request-Method",
                         "OPTIONS here is a CORS preflight: send Access-Control-Request-Method.");
    return U_CALLBACK_CONTINUE;
  }
  request_answer_empty(response, 204);
  u_map_put(response->map_header, "Access-Control-Allow-Methods", scope->allow);
  u_map_put(response->map_header, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
  u_map_put(response->map_header, "Access-Control-Max-Age", CORS_MAX_AGE_S);
  request_vary_add(response, "Access-Control-Request-Method");
  request_vary_add(response, "Access-Control-Request-Headers");
  return U_CALLBACK_CONTINUE;
}
