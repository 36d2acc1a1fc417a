#ifndef PURCHASES_ROUTES_USER_PURCHASES_H
#define PURCHASES_ROUTES_USER_PURCHASES_H

#include <ulfius.h>

/* GET /user/:userId: the user's purchases, newest first, as
 * {"data": [...]}; an empty list for a user with none. Runs after the
 * client-id and authorization links. user_data is the app. */
int callback_user_purchases_get(const struct _u_request *request, struct _u_response *response,
                                void *user_data);

#endif
