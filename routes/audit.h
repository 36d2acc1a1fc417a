#ifndef PURCHASES_ROUTES_AUDIT_H
#define PURCHASES_ROUTES_AUDIT_H

#include <ulfius.h>

/* GET /audit/:userId, for support principals only: who read this user's
 * purchases, newest first, as {"data": [...], "page": {...}}, paginated by
 * `limit` (1 to 100, default 20) and `cursor`. user_data is the app. */
int callback_audit_get(const struct _u_request *request, struct _u_response *response,
                       void *user_data);

#endif
