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

/* What a cursor is bound to, being written: bytes appended to buf (cap
 * bytes, owned by the caller) at len. A value that does not fit still
 * counts in len, so the writer can tell it overflowed (len > cap). */
struct cursor_binding {
  unsigned char *buf;
  size_t cap;
  size_t len;
};

/* Append one value to `binding`, each fixed-width or length-prefixed so no
 * two different sequences of values give the same bytes: a string as two
 * bytes of length then its bytes; a 32-bit value as 4 bytes big-endian; an
 * optional 64-bit value as a presence byte then 8 bytes big-endian. */
void cursor_bind_string(struct cursor_binding *binding, const char *s);
void cursor_bind_uint32(struct cursor_binding *binding, uint32_t value);
void cursor_bind_int64(struct cursor_binding *binding, bool present, int64_t value);

/* Writes the fingerprint of a purchase list into out (cap bytes, owned by
 * the caller): "purchases", the user, then the binding of every row of the
 * list-parameter table (routes/list_params.h) in table order. Returns its
 * length, or 0 when it does not fit. Exposed for the tests. */
size_t cursor_fingerprint(const struct purchase_query *query, unsigned char *out, size_t cap);

/* Fills `key` from `secret`, or with random bytes (GnuTLS, key level) when
 * secret is NULL. False for a secret of the wrong length or when no random
 * bytes could be had. */
bool cursor_key_init(struct cursor_key *key, const char *secret);

/* Writes the cursor that resumes `query` after `position` (or, `before`,
 * the one that goes back to the page ending just before it) into out
 * (CURSOR_MAX + 1 bytes, the caller's): base64url of the position and the
 * direction, signed with an HMAC (SHA-256) over them and everything the
 * page depends on (user, sort, filters), so it cannot be altered, turned
 * round or replayed on another query. False when it cannot be made (empty
 * id, no HMAC). */
bool cursor_encode(const struct cursor_key *key, const struct purchase_query *query, bool before,
                   const struct purchase_position *position, char out[CURSOR_MAX + 1]);

/* Reads `token` back into *position and *before (the caller's). False for
 * anything that is not a cursor this key made for this same user, sort and
 * filter set: altered, truncated, padded, not canonical base64url, or made
 * for another query. */
bool cursor_decode(const struct cursor_key *key, const struct purchase_query *query,
                   const char *token, struct purchase_position *position, bool *before);

/* The same for any keyset list: the cursor is bound to `context` (every
 * input that decides the list's contents, e.g. "audit" and the user) and to
 * `order` (which order the position is in, below 0x80). Same returns; the
 * caller owns every buffer. */
bool cursor_encode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, bool before, const struct purchase_position *position,
                           char out[CURSOR_MAX + 1]);
bool cursor_decode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const char *token, struct purchase_position *position,
                           bool *before);

#endif
