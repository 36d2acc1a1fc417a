#ifndef PURCHASES_MIDDLEWARE_AUTHZ_H
#define PURCHASES_MIDDLEWARE_AUTHZ_H

#include <stdbool.h>

#include <ulfius.h>

#include "middleware/client_id.h"

/* True for a well-formed user id: ID_RULE (lib/ids.h).
 * Anything else (operators, quotes, commas from repeated values) is not. */
bool user_id_is_valid(const char *user_id);

/* True for an x-access-reason value: 1 to ACCESS_REASON_MAX bytes of UTF-8
 * text without control characters. */
bool access_reason_is_valid(const char *reason);

/* May a caller with `role`, acting as user `actor`, read the purchases of
 * user `target`? Customers only their own; support and service anyone's;
 * ingest nobody's. */
bool authz_can_read_user(enum role role, const char *actor, const char *target);

/* Chain link after authentication, on routes under /user/:userId:
 * validates :userId (400) and lets the request through only when
 * authz_can_read_user() says so (403). On success the target is in the
 * request context. */
int callback_user_authz(const struct _u_request *request, struct _u_response *response,
                        void *user_data);

/* Who alone may use a route, and what the others are told (403). */
struct role_rule {
  enum role role;
  const char *refusal;
};

/* /audit/:userId: `support` principals only. */
extern const struct role_rule AUTHZ_SUPPORT_ONLY;
/* The write routes: `ingest` principals only. */
extern const struct role_rule AUTHZ_INGEST_ONLY;

/* Chain link with a `const struct role_rule *` as user_data: validates
 * :userId where the route has one (400), then lets only the rule's role
 * through (403). */
int callback_role_only(const struct _u_request *request, struct _u_response *response,
                       void *user_data);

#endif
