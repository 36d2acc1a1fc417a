#ifndef PURCHASES_MIDDLEWARE_AUTHN_H
#define PURCHASES_MIDDLEWARE_AUTHN_H

#include <stdbool.h>

#include <ulfius.h>

/* Chain link: who is calling. By PURCHASES_AUTH:
 *   headers  x-client-id (the application, whose role PURCHASES_CLIENTS
 *            gives) and x-user-id (the person or job acting), trusted as
 *            sent: only behind a gateway that sets and strips them;
 *   jwt      Authorization: Bearer <JWT>: sub is the user, client_id (else
 *            azp) the application;
 *   both     the token when there is one, else the headers.
 * Sets the request context's client and user_id, or answers: 401 for a
 * missing identity or any bad token (with WWW-Authenticate), 400 for a
 * malformed header, 403 for an unknown client. user_data is the app. */
int callback_authenticate(const struct _u_request *request, struct _u_response *response,
                          void *user_data);

/* The token of an "Authorization: Bearer <token>" value (scheme matched
 * without regard to case, one or more spaces), or NULL when `value` is not
 * a bearer credential. Points into value. */
const char *bearer_token_of(const char *value);

#endif
