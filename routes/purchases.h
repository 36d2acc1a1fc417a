#ifndef PURCHASES_ROUTES_PURCHASES_H
#define PURCHASES_ROUTES_PURCHASES_H

#include <stdbool.h>

#include <ulfius.h>

/* True for an Idempotency-Key value: 1 to IDEMPOTENCY_KEY_MAX visible ASCII
 * characters, no comma. */
bool idempotency_key_is_valid(const char *key);

/* POST /purchases, for ingest principals: validates the JSON purchase
 * (422 listing each bad field), stores it durably and answers 201 with the
 * purchase, Location and ETag. Idempotent by the Idempotency-Key header,
 * else by the purchase's own id: a retry gets the first answer again, the
 * same key with another body a 409. user_data is the app. */
int callback_purchases_post(const struct _u_request *request, struct _u_response *response,
                            void *user_data);

#endif
