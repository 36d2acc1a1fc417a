#ifndef PURCHASES_ROUTES_USER_PURCHASES_H
#define PURCHASES_ROUTES_USER_PURCHASES_H

#include <ulfius.h>

/* GET /user/:userId: one page of the user's purchases, filtered and sorted
 * by the query parameters (routes/list_params.h), as
 * {"data": [...], "page": {...}} with a Link header to the next page; an
 * empty list for a user with none. Runs after the client-id and
 * authorization links. user_data is the app. */
int callback_user_purchases_get(const struct _u_request *request, struct _u_response *response,
                                void *user_data);

/* GET /user/:userId/purchases/:purchaseId: one purchase with its
 * statusHistory and an ETag, or 404 when the user has none with that id
 * (whether it exists for another user or not). */
int callback_user_purchase_get(const struct _u_request *request, struct _u_response *response,
                               void *user_data);

/* PATCH /user/:userId/purchases/:purchaseId, for ingest principals:
 * {"status": ..., "dateDelivered": ...} moves the purchase forward (409
 * naming the current status otherwise); with If-Match, only from that
 * version (412 otherwise). Answers the purchase as GET does. */
int callback_user_purchase_patch(const struct _u_request *request, struct _u_response *response,
                                 void *user_data);

#endif
