#ifndef PURCHASES_TESTS_TOKENS_H
#define PURCHASES_TESTS_TOKENS_H

/* Signing keys and bearer tokens for tests, all made while the tests run:
 * no key is ever committed. One call makes an RSA-2048, an EC P-256 and an
 * Ed25519 key pair; another writes their public halves as a JWKS file for
 * the service to trust; the rest sign tokens, good and deliberately bad.
 * Signing is done here with GnuTLS directly, not with the JWT library the
 * service verifies with, so a bug there cannot hide itself in the tests.
 * Every function that can fail returns NULL (or false) and prints why on
 * stderr; the tests assert on that. Strings returned are malloc'd and freed
 * by the caller with free(). */

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

/* The kids of the three keys, in the JWKS and in the tokens they sign. */
#define TOKENS_KID_RSA "rsa-1"
#define TOKENS_KID_EC  "ec-1"
#define TOKENS_KID_ED  "ed-1"

/* The three key pairs (opaque). */
struct tokens_keys;

/* Generates the three key pairs (about 0.1 s, RSA being the slow one).
 * Free with tokens_keys_free. */
struct tokens_keys *tokens_keys_new(void);

/* Frees the keys; NULL is allowed. */
void tokens_keys_free(struct tokens_keys *keys);

/* Writes {"keys": [...]} with the three public keys to path: kty, kid, use
 * "sig", alg (RS256, ES256, EdDSA) and the public parameters only. */
bool tokens_write_jwks(const struct tokens_keys *keys, const char *path);

/* The public JWK of the key whose kid is given, as written to the JWKS.
 * New reference; NULL for an unknown kid. Lets a test write a JWKS of its
 * own (another alg, a duplicate kid, ...). */
json_t *tokens_public_jwk(const struct tokens_keys *keys, const char *kid);

/* {"iss", "aud", "sub", "client_id", "iat": now, "exp": now + 300}, without
 * client_id when it is NULL. New reference. */
json_t *tokens_claims_new(const char *issuer, const char *audience, const char *sub,
                          const char *client_id, time_t now);

/* Signs j_claims (borrowed, serialised with sorted keys) as a compact JWS
 * with the header {"alg": alg, "kid": kid, "typ": "JWT"} (no kid when NULL).
 * The alg picks the signing key, whatever the kid says: RS256 the RSA key,
 * ES256 the EC key, EdDSA the Ed25519 key; HS256, HS384 and HS512 use the
 * RSA public key's PEM text as the HMAC secret (the key-confusion attack);
 * "none" gives an empty signature. Any other alg fails. */
char *tokens_sign(const struct tokens_keys *keys, const char *alg, const char *kid,
                  const json_t *j_claims);

/* The same with a header of the caller's (borrowed, any members); its "alg"
 * picks the key as above. */
char *tokens_sign_header(const struct tokens_keys *keys, const json_t *j_header,
                         const json_t *j_claims);

/* The deliberately bad tokens every verifier must refuse. */
enum tokens_bad {
  TOKENS_BAD_ALG_NONE,         /* alg "none", kid rsa-1, empty signature */
  TOKENS_BAD_HS256_PUBLIC_PEM, /* HS256, kid rsa-1, secret: the RSA public key's PEM */
  TOKENS_BAD_HS256_PUBLIC_JWK, /* HS256, kid rsa-1, secret: the RSA public JWK's JSON */
  TOKENS_BAD_SIGNATURE_BYTE,   /* a good RS256 token with one signature byte changed */
  TOKENS_BAD_UNKNOWN_KID,      /* RS256 signed by the RSA key, kid "unknown-1" */
  TOKENS_BAD_KID_ALG_MISMATCH  /* kid rsa-1 but alg ES256, signed by the EC key */
};

/* A bad token of the given kind carrying j_claims (borrowed). */
char *tokens_bad(const struct tokens_keys *keys, enum tokens_bad kind, const json_t *j_claims);

/* The token with the middle byte of its decoded signature changed. */
char *tokens_change_signature_byte(const char *token);

/* The token with its payload replaced by j_claims (borrowed, sorted keys),
 * header and signature kept: what an attacker who edits claims sends. */
char *tokens_replace_claims(const char *token, const json_t *j_claims);

/* data as unpadded base64url, for hand-made segments. */
char *tokens_b64url(const void *data, size_t len);

#endif
