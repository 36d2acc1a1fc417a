#ifndef PURCHASES_MIDDLEWARE_AUTHN_H
#define PURCHASES_MIDDLEWARE_AUTHN_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#include <ulfius.h>

#include "middleware/rate_limit.h"

/* Room for the text of an IPv6 address (INET6_ADDRSTRLEN) and its NUL. */
#define AUTH_FAILURE_KEY_MAX 46

struct jwt_verifier;
struct client_table;

/* How callers prove who they are (PURCHASES_AUTH). */
enum auth_mode {
  AUTH_HEADERS, /* x-client-id and x-user-id, trusted from a gateway */
  AUTH_JWT,     /* Authorization: Bearer <JWT> only */
  AUTH_BOTH,    /* a bearer token if there is one, else the headers */
};

/* What callback_authenticate needs, and no more: the app fills one at
 * start and hands it to the link as its user_data. Everything it points
 * to is the app's and outlives every request. */
struct authn_context {
  enum auth_mode mode;
  const struct jwt_verifier *jwt;     /* NULL in headers mode */
  const struct client_table *clients; /* PURCHASES_CLIENTS */
  struct rate_limiter *failures;      /* failed authentications per address; NULL: off */
  uint32_t failures_burst;            /* for the 429's detail */
  uint32_t failures_rps;
};

/* Chain link: who is calling. First, when app->auth_failures is set, the
 * client address's budget of failed authentications
 * (PURCHASES_AUTH_FAILURES_RPS and _BURST): an address that has spent it is
 * answered 429 with Retry-After before its identity is looked at (no
 * token is verified). Then, by PURCHASES_AUTH:
 *   headers  x-client-id (the application, whose role PURCHASES_CLIENTS
 *            gives) and x-user-id (the person or job acting), trusted as
 *            sent: only behind a gateway that sets and strips them;
 *   jwt      Authorization: Bearer <JWT>: sub is the user, client_id (else
 *            azp) the application;
 *   both     the token when there is one, else the headers.
 * Sets the request context's client and user_id, or answers: 401 for a
 * missing identity or any bad token (with WWW-Authenticate), 400 for a
 * malformed header, 403 for an unknown client. Each 401 and 403 takes one
 * from the address's budget (a 400 does not: it is a malformed request, not
 * a guess). user_data is the struct authn_context. */
int callback_authenticate(const struct _u_request *request, struct _u_response *response,
                          void *user_data);

/* The token of an "Authorization: Bearer <token>" value (scheme matched
 * without regard to case, one or more spaces), or NULL when `value` is not
 * a bearer credential. Points into value. */
const char *bearer_token_of(const char *value);

/* The key of `address` in the failed-authentication budget: its numeric
 * text (an IPv4-mapped IPv6 address as plain IPv4). Writes into key, which
 * the caller owns; false (key empty) for NULL or another family. */
bool auth_failure_key_of(const struct sockaddr *address, char key[AUTH_FAILURE_KEY_MAX]);

/* Whether the address `key` may try to authenticate now: true when its
 * budget holds at least one failure, or when limiter is NULL (off) or the
 * key empty. Takes nothing. When false, *retry_after_s says when it may
 * try again. Thread-safe; app/edge.c may call it before verifying a token
 * of its own. */
bool auth_failures_allow(struct rate_limiter *limiter, const char *key, uint32_t *retry_after_s);

/* Counts one failed authentication of the address `key`; nothing when
 * limiter is NULL or the key empty. Thread-safe. */
void auth_failures_count(struct rate_limiter *limiter, const char *key);

#endif
