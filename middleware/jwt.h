#ifndef PURCHASES_MIDDLEWARE_JWT_H
#define PURCHASES_MIDDLEWARE_JWT_H

/* Verifies bearer tokens: compact JWS signed by keys from a local JWKS file.
 * Only RS256, ES256 and EdDSA (Ed25519) are accepted; the key is always the
 * one the JWKS names with the header's kid, and keys named or carried by the
 * token itself (jwk, jku, x5u, x5c) are never used or fetched. */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define JWT_TOKEN_MAX    8192
#define JWT_CLOCK_SKEW_S 60

/* The keys from the JWKS file plus the expected issuer and audience.
 * Read-only once made: any number of threads may verify with one verifier. */
struct jwt_verifier;

/* Who a verified token speaks for: its sub and its client_id (else azp). */
struct jwt_identity {
  char user_id[65];
  char client_id[65];
};

/* Loads the JWKS file at jwks_path ({"keys": [...]}, at most 1 MiB). Every
 * key needs a kid, kids are unique, and the file may hold no private or
 * symmetric key; RSA keys have at least 2048 bits. Keys of other types
 * (EC P-384, Ed448, ...) may be listed but never verify anything, and at
 * least one RSA, EC P-256 or Ed25519 signing key must be present. issuer and
 * audience are required and non-empty.
 * Returns the verifier, to be freed with jwt_verifier_free; on any problem
 * returns NULL and writes a one-line reason naming the file into err. */
struct jwt_verifier *jwt_verifier_new(const char *jwks_path, const char *issuer,
                                      const char *audience, char *err, size_t err_len);

/* Frees the verifier; NULL is allowed. */
void jwt_verifier_free(struct jwt_verifier *verifier);

/* Verifies a compact JWS and maps its claims. True only when all of this
 * holds: at most JWT_TOKEN_MAX bytes; a signed JWT (not JWE, not nested);
 * header alg exactly RS256, ES256 or EdDSA; no crit header; a kid that names
 * a key in the JWKS; the key's type fits the alg (RSA for RS256, EC P-256
 * for ES256, OKP Ed25519 for EdDSA), its "use", if any, is "sig", and its
 * "alg", if any, equals the header's; the signature verifies; exp present
 * and now < exp + JWT_CLOCK_SKEW_S; nbf, if present, <= now +
 * JWT_CLOCK_SKEW_S; iss equal to the issuer; aud equal to the audience or an
 * array containing it; sub an ID_PLAIN id; client_id (else azp)
 * an ID_DOTTED id (lib/ids.h); then fills `out`.
 * On false, `out` is zeroed and `reason` (may be NULL) gets one short
 * sentence for logs that never contains any part of the token. */
bool jwt_verify(const struct jwt_verifier *verifier, const char *token, time_t now,
                struct jwt_identity *out, char *reason, size_t reason_len);

#endif
