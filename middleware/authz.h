#ifndef PURCHASES_MIDDLEWARE_AUTHZ_H
#define PURCHASES_MIDDLEWARE_AUTHZ_H

#include <stdbool.h>

#include <ulfius.h>

#include "middleware/client_id.h"

/* True for a well-formed user id: 1 to 64 characters of A-Z a-z 0-9 _ -.
 * Anything else (operators, quotes, commas from repeated values) is not. */
bool user_id_is_valid(const char *user_id);

/* May a caller with `role`, acting as user `actor`, read the purchases of
 * user `target`? Customers only their own; support and service anyone's. */
bool authz_can_read_user(enum role role, const char *actor, const char *target);

/* Chain link 2, on routes under /user/:userId: reads x-user-id (401 when
 * missing or empty, 400 when malformed), validates :userId (400), and lets
 * the request through only when authz_can_read_user() says so (403).
 * On success the ids are in the request context. user_data is the app. */
int callback_user_authz(const struct _u_request *request, struct _u_response *response,
                        void *user_data);

#endif
