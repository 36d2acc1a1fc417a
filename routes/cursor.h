#ifndef PURCHASES_ROUTES_CURSOR_H
#define PURCHASES_ROUTES_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/purchase_query.h"

/* Longest cursor the service makes or reads (base64url characters). */
#define CURSOR_MAX     160
#define CURSOR_KEY_MIN 32
#define CURSOR_KEY_MAX 256
/* Longest context a cursor is bound to. */
#define CURSOR_CONTEXT_MAX 512

/* The secret cursors are signed with: PURCHASES_CURSOR_KEY, or random bytes
 * made at start (then cursors do not outlive the process). */
struct cursor_key {
  unsigned char bytes[CURSOR_KEY_MAX];
  size_t len;
};

/* Fills `key` from `secret`, or with random bytes when secret is NULL. */
bool cursor_key_init(struct cursor_key *key, const char *secret);

/* Writes the cursor that resumes `query` after `position` into out
 * (CURSOR_MAX + 1 bytes): base64url of the position, signed with an HMAC
 * (SHA-256) over the position and everything the page depends on (user,
 * sort, filters), so it cannot be altered or replayed on another query. */
bool cursor_encode(const struct cursor_key *key, const struct purchase_query *query,
                   const struct purchase_position *position, char out[CURSOR_MAX + 1]);

/* Reads `token` back into *position. False for anything that is not a cursor
 * this key made for this same user, sort and filter set: altered, truncated,
 * padded, or made for another query. */
bool cursor_decode(const struct cursor_key *key, const struct purchase_query *query,
                   const char *token, struct purchase_position *position);

/* The same for any keyset list: the cursor is bound to `context` (every
 * input that decides the list's contents, e.g. "audit" and the user) and to
 * `order` (which order the position is in). */
bool cursor_encode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const struct purchase_position *position,
                           char out[CURSOR_MAX + 1]);
bool cursor_decode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const char *token, struct purchase_position *position);

#endif
