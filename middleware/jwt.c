#include "middleware/jwt.h"

#include "lib/ids.h"
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/abstract.h>
#include <jansson.h>
#include <orcania.h>
#include <rhonabwy.h>

#define JWKS_FILE_MAX (1024 * 1024)
#define JWKS_KEYS_MAX 64
#define JWT_KID_MAX   128
#define RSA_BITS_MIN  2048

#define XSTR(x) STR(x)
#define STR(x)  #x

/* What a key can verify. KEY_OTHER is a valid public key of a type this
 * service accepts no alg for (EC P-384, Ed448, X25519, ...): it stays in the
 * set so its kid is known, but it never fits any token. */
enum key_kind { KEY_OTHER, KEY_RSA, KEY_EC_P256, KEY_ED25519 };

struct verifier_key {
  char *kid;
  char *alg; /* the JWK's own "alg", or NULL */
  enum key_kind kind;
  bool for_signing; /* no "use", or "use": "sig" */
  jwk_t *jwk;       /* public members only; after loading, only ever read by r_jwk_copy */
};

struct jwt_verifier {
  struct verifier_key *keys;
  size_t key_count;
  char *issuer;
  char *audience;
};

/* The only members a verification key needs. Everything else, x5c and x5u
 * above all, is left out, so no later call can prefer a certificate to the
 * key or go and fetch one. */
static const char *const PUBLIC_MEMBERS[] = {"kty", "kid", "use", "alg", "n", "e", "crv", "x", "y"};

/* Members that only a private or symmetric key has. */
static const char *const SECRET_MEMBERS[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

static void set_text(char *buf, size_t len, const char *text) {
  if (buf != NULL && len > 0) {
    snprintf(buf, len, "%s", text);
  }
}

static void set_error(char *err, size_t err_len, const char *path, const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* "PURCHASES_JWKS_FILE <path>: <message>", cut to fit: names the variable. */
static void set_error(char *err, size_t err_len, const char *path, const char *format, ...) {
  char message[256];
  va_list args;

  if (err == NULL || err_len == 0) {
    return;
  }
  va_start(args, format);
  vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  snprintf(err, err_len, "PURCHASES_JWKS_FILE %s: %s", path != NULL ? path : "(none)", message);
}

/* True when j is a string of exactly the bytes of s. Comparing lengths too
 * matters: a claim "issuer\u0000anything" is a different string whose C
 * form would strcmp equal. */
static bool json_string_equals(const json_t *j, const char *s) {
  size_t len = strlen(s);
  return json_is_string(j) && json_string_length(j) == len &&
         memcmp(json_string_value(j), s, len) == 0;
}

/* A string without embedded NULs, of 1 to max bytes; else NULL. */
static const char *plain_string(const json_t *j, size_t max) {
  if (!json_is_string(j)) {
    return NULL;
  }
  size_t len = json_string_length(j);
  const char *s = json_string_value(j);
  return len > 0 && len <= max && strlen(s) == len ? s : NULL;
}

static int b64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

/* True when text[0..len) is canonical unpadded base64url: only the 64
 * characters, a length some byte string has, and no stray bits in the last
 * character. Canonical only, so a token has exactly one spelling. */
static bool b64url_is_canonical(const char *text, size_t len) {
  if (len % 4 == 1) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (b64url_value((unsigned char)text[i]) < 0) {
      return false;
    }
  }
  if (len % 4 == 2) {
    return (b64url_value((unsigned char)text[len - 1]) & 0x0f) == 0;
  }
  if (len % 4 == 3) {
    return (b64url_value((unsigned char)text[len - 1]) & 0x03) == 0;
  }
  return true;
}

/* Decodes canonical base64url (checked by b64url_is_canonical) into a new
 * buffer the caller frees, with orcania; NULL when out of memory. */
static unsigned char *b64url_decode(const char *text, size_t len, size_t *out_len) {
  unsigned char *out = malloc(len / 4 * 3 + 3);

  if (out != NULL && !o_base64url_decode((const unsigned char *)text, len, out, out_len)) {
    free(out);
    out = NULL;
  }
  return out;
}

/* Where the three segments of a compact JWS lie in the token. */
struct segments {
  const char *header;
  size_t header_len;
  const char *payload;
  size_t payload_len;
  const char *signature;
  size_t signature_len;
};

/* Splits "header.payload.signature": exactly two dots, header and payload
 * non-empty, each segment canonical base64url. The signature may be empty
 * here so that an unsigned token is refused for its alg, which is what a
 * log reader wants to see. */
static bool split_compact(const char *token, size_t len, struct segments *seg) {
  const char *first = memchr(token, '.', len);
  const char *second;

  if (first == NULL) {
    return false;
  }
  second = memchr(first + 1, '.', len - (size_t)(first + 1 - token));
  if (second == NULL || memchr(second + 1, '.', len - (size_t)(second + 1 - token)) != NULL) {
    return false;
  }
  seg->header = token;
  seg->header_len = (size_t)(first - token);
  seg->payload = first + 1;
  seg->payload_len = (size_t)(second - seg->payload);
  seg->signature = second + 1;
  seg->signature_len = len - (size_t)(seg->signature - token);
  return seg->header_len > 0 && seg->payload_len > 0 &&
         b64url_is_canonical(seg->header, seg->header_len) &&
         b64url_is_canonical(seg->payload, seg->payload_len) &&
         b64url_is_canonical(seg->signature, seg->signature_len);
}

/* The JSON a segment encodes, or NULL when it is not JSON (or repeats a
 * member name, which two parsers might read differently). New reference. */
static json_t *decode_json_segment(const char *text, size_t len) {
  size_t raw_len = 0;
  unsigned char *raw = b64url_decode(text, len, &raw_len);
  json_t *j_value = NULL;

  if (raw == NULL) {
    goto done;
  }
  j_value = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
done:
  free(raw);
  return j_value;
}

/* The rhonabwy alg for a header alg this service accepts, or
 * R_JWA_ALG_UNKNOWN. Exact, case-sensitive match: "none", every HS*, PS*,
 * ES384 and the rest are refused. */
static jwa_alg accepted_alg(const json_t *j_alg) {
  if (json_string_equals(j_alg, "RS256")) {
    return R_JWA_ALG_RS256;
  }
  if (json_string_equals(j_alg, "ES256")) {
    return R_JWA_ALG_ES256;
  }
  if (json_string_equals(j_alg, "EdDSA")) {
    return R_JWA_ALG_EDDSA;
  }
  return R_JWA_ALG_UNKNOWN;
}

static bool kind_fits(enum key_kind kind, jwa_alg alg) {
  return (kind == KEY_RSA && alg == R_JWA_ALG_RS256) ||
         (kind == KEY_EC_P256 && alg == R_JWA_ALG_ES256) ||
         (kind == KEY_ED25519 && alg == R_JWA_ALG_EDDSA);
}

static const struct verifier_key *find_key(const struct jwt_verifier *verifier, const char *kid) {
  for (size_t i = 0; i < verifier->key_count; i++) {
    if (strcmp(verifier->keys[i].kid, kid) == 0) {
      return &verifier->keys[i];
    }
  }
  return NULL;
}

static void key_cleanup(struct verifier_key *key) {
  free(key->kid);
  free(key->alg);
  r_jwk_free(key->jwk);
  memset(key, 0, sizeof(*key));
}

/* Classifies a key rhonabwy has accepted, and makes sure GnuTLS can import
 * it, so a bad point or modulus is found at start-up rather than at the
 * first request. False with a reason in why. */
static bool key_classify(struct verifier_key *key, const json_t *j_key, char *why, size_t why_len) {
  unsigned int bits = 0;
  int type = r_jwk_key_type(key->jwk, &bits, R_FLAG_IGNORE_REMOTE);
  const json_t *j_crv = json_object_get(j_key, "crv");
  gnutls_pubkey_t pubkey = NULL;

  if (!(type & R_KEY_TYPE_PUBLIC)) {
    set_text(why, why_len, "is not a public key");
    return false;
  }
  if (type & R_KEY_TYPE_RSA) {
    if (bits < RSA_BITS_MIN) {
      snprintf(why, why_len,
               "is an RSA key of %u bits; at least " XSTR(RSA_BITS_MIN) " are required", bits);
      return false;
    }
    key->kind = KEY_RSA;
  } else if ((type & R_KEY_TYPE_EC) && json_string_equals(j_crv, "P-256")) {
    key->kind = KEY_EC_P256;
  } else if ((type & R_KEY_TYPE_EDDSA) && json_string_equals(j_crv, "Ed25519")) {
    key->kind = KEY_ED25519;
  } else {
    key->kind = KEY_OTHER;
    return true;
  }
  pubkey = r_jwk_export_to_gnutls_pubkey(key->jwk, R_FLAG_IGNORE_REMOTE);
  if (pubkey == NULL) {
    set_text(why, why_len, "has key parameters GnuTLS cannot import");
    return false;
  }
  gnutls_pubkey_deinit(pubkey);
  return true;
}

/* Loads one entry of "keys" into key. False with a reason in why; key is
 * then cleaned up. */
static bool key_load(const json_t *j_key, struct verifier_key *key, char *why, size_t why_len) {
  json_t *j_public = NULL;
  const char *kid;
  const json_t *j_use;
  const json_t *j_alg;
  bool ok = false;

  memset(key, 0, sizeof(*key));
  if (!json_is_object(j_key)) {
    set_text(why, why_len, "is not a JSON object");
    goto done;
  }
  kid = plain_string(json_object_get(j_key, "kid"), JWT_KID_MAX);
  if (kid == NULL) {
    set_text(why, why_len, "has no kid of 1 to " XSTR(JWT_KID_MAX) " characters");
    goto done;
  }
  if (!json_is_string(json_object_get(j_key, "kty"))) {
    set_text(why, why_len, "has no kty");
    goto done;
  }
  for (size_t i = 0; i < sizeof(SECRET_MEMBERS) / sizeof(SECRET_MEMBERS[0]); i++) {
    if (json_object_get(j_key, SECRET_MEMBERS[i]) != NULL) {
      /* A key set the service reads is public by nature; a private or
       * shared key in it means the wrong file was deployed. */
      set_text(why, why_len, "holds private or symmetric key material; publish public keys only");
      goto done;
    }
  }
  j_use = json_object_get(j_key, "use");
  j_alg = json_object_get(j_key, "alg");
  if ((j_use != NULL && !json_is_string(j_use)) || (j_alg != NULL && !json_is_string(j_alg))) {
    set_text(why, why_len, "has a use or alg that is not a string");
    goto done;
  }
  key->for_signing = j_use == NULL || json_string_equals(j_use, "sig");
  key->kid = strdup(kid);
  key->alg = j_alg != NULL ? strdup(json_string_value(j_alg)) : NULL;
  j_public = json_object();
  if (key->kid == NULL || (j_alg != NULL && key->alg == NULL) || j_public == NULL ||
      r_jwk_init(&key->jwk) != RHN_OK) {
    set_text(why, why_len, "could not be loaded: out of memory");
    goto done;
  }
  for (size_t i = 0; i < sizeof(PUBLIC_MEMBERS) / sizeof(PUBLIC_MEMBERS[0]); i++) {
    const json_t *j_member = json_object_get(j_key, PUBLIC_MEMBERS[i]);
    if (j_member != NULL &&
        json_object_set_new(j_public, PUBLIC_MEMBERS[i], json_deep_copy(j_member)) != 0) {
      set_text(why, why_len, "could not be loaded: out of memory");
      goto done;
    }
  }
  if (r_jwk_import_from_json_t(key->jwk, j_public) != RHN_OK) {
    set_text(why, why_len, "is not a valid JWK");
    goto done;
  }
  ok = key_classify(key, j_key, why, why_len);
done:
  json_decref(j_public);
  if (!ok) {
    key_cleanup(key);
  }
  return ok;
}

/* Reads at most JWKS_FILE_MAX bytes of the file and parses them. NULL with
 * the reason in err. */
static json_t *jwks_read(const char *path, char *err, size_t err_len) {
  FILE *file = fopen(path, "rb");
  char *text = NULL;
  size_t len = 0;
  json_t *j_jwks = NULL;
  json_error_t error;

  if (file == NULL) {
    set_error(err, err_len, path, "cannot be opened: %s", strerror(errno));
    goto done;
  }
  text = malloc(JWKS_FILE_MAX + 1);
  if (text == NULL) {
    set_error(err, err_len, path, "out of memory");
    goto done;
  }
  len = fread(text, 1, JWKS_FILE_MAX + 1, file);
  if (ferror(file)) {
    set_error(err, err_len, path, "cannot be read");
    goto done;
  }
  if (len > JWKS_FILE_MAX) {
    set_error(err, err_len, path, "is larger than 1 MiB");
    goto done;
  }
  j_jwks = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
  if (j_jwks == NULL) {
    set_error(err, err_len, path, "is not JSON (line %d: %s)", error.line, error.text);
  }
done:
  if (file != NULL) {
    fclose(file);
  }
  free(text);
  return j_jwks;
}

void jwt_verifier_free(struct jwt_verifier *verifier) {
  if (verifier == NULL) {
    return;
  }
  for (size_t i = 0; i < verifier->key_count; i++) {
    key_cleanup(&verifier->keys[i]);
  }
  free(verifier->keys);
  free(verifier->issuer);
  free(verifier->audience);
  free(verifier);
}

struct jwt_verifier *jwt_verifier_new(const char *jwks_path, const char *issuer,
                                      const char *audience, char *err, size_t err_len) {
  struct jwt_verifier *verifier = NULL;
  json_t *j_jwks = NULL;
  const json_t *j_keys;
  size_t usable = 0;
  bool ok = false;

  set_text(err, err_len, "");
  if (jwks_path == NULL || jwks_path[0] == '\0') {
    set_error(err, err_len, jwks_path, "no path given");
    goto done;
  }
  if (issuer == NULL || issuer[0] == '\0' || audience == NULL || audience[0] == '\0') {
    set_error(err, err_len, jwks_path, "an issuer and an audience are required");
    goto done;
  }
  j_jwks = jwks_read(jwks_path, err, err_len);
  if (j_jwks == NULL) {
    goto done;
  }
  j_keys = json_object_get(j_jwks, "keys");
  if (!json_is_array(j_keys) || json_array_size(j_keys) == 0) {
    set_error(err, err_len, jwks_path, "has no non-empty \"keys\" array");
    goto done;
  }
  if (json_array_size(j_keys) > JWKS_KEYS_MAX) {
    set_error(err, err_len, jwks_path, "has more than " XSTR(JWKS_KEYS_MAX) " keys");
    goto done;
  }
  verifier = calloc(1, sizeof(*verifier));
  if (verifier == NULL ||
      (verifier->keys = calloc(json_array_size(j_keys), sizeof(*verifier->keys))) == NULL ||
      (verifier->issuer = strdup(issuer)) == NULL ||
      (verifier->audience = strdup(audience)) == NULL) {
    set_error(err, err_len, jwks_path, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < json_array_size(j_keys); i++) {
    struct verifier_key *key = &verifier->keys[verifier->key_count];
    char why[128];

    if (!key_load(json_array_get(j_keys, i), key, why, sizeof(why))) {
      set_error(err, err_len, jwks_path, "key %zu %s", i, why);
      goto done;
    }
    verifier->key_count++;
    if (find_key(verifier, key->kid) != key) {
      set_error(err, err_len, jwks_path, "key %zu repeats the kid of an earlier key", i);
      goto done;
    }
    if (key->kind != KEY_OTHER && key->for_signing) {
      usable++;
    }
  }
  if (usable == 0) {
    set_error(err, err_len, jwks_path, "has no RSA, EC P-256 or Ed25519 signing key");
    goto done;
  }
  ok = true;
done:
  json_decref(j_jwks);
  if (!ok) {
    jwt_verifier_free(verifier);
    verifier = NULL;
  }
  return verifier;
}

/* Copies an id claim when it is a string of 1 to ID_MAX characters of
 * A-Z a-z 0-9 _ - (and '.' when dot_allowed). */
static bool claim_id(const json_t *j_claim, bool dot_allowed, char out[ID_MAX + 1]) {
  const char *s = plain_string(j_claim, ID_MAX);
  if (s == NULL || !id_is_valid(s, dot_allowed ? ID_DOTTED : ID_PLAIN)) {
    return false;
  }
  memcpy(out, s, strlen(s) + 1);
  return true;
}

static bool audience_matches(const json_t *j_aud, const char *audience) {
  size_t i;
  const json_t *j_item;

  if (json_is_array(j_aud)) {
    json_array_foreach(j_aud, i, j_item) {
      if (json_string_equals(j_item, audience)) {
        return true;
      }
    }
    return false;
  }
  return json_string_equals(j_aud, audience);
}

/* Checks the registered claims and maps sub and client_id (else azp).
 * Returns NULL when all hold, else the reason. */
static const char *claims_check(const struct jwt_verifier *verifier, const json_t *j_claims,
                                time_t now, struct jwt_identity *identity) {
  const json_t *j_exp = json_object_get(j_claims, "exp");
  const json_t *j_nbf = json_object_get(j_claims, "nbf");
  const json_t *j_client = json_object_get(j_claims, "client_id");
  /* NumericDate may be fractional; a double holds today's seconds exactly
   * and cannot overflow when the skew is added. */
  double now_s = (double)now;
  double skew_s = (double)JWT_CLOCK_SKEW_S;

  if (!json_is_number(j_exp)) {
    return "The token has no numeric exp claim.";
  }
  if (!(now_s < json_number_value(j_exp) + skew_s)) {
    return "The token has expired.";
  }
  if (j_nbf != NULL && !json_is_number(j_nbf)) {
    return "The token's nbf claim is not a number.";
  }
  if (j_nbf != NULL && !(json_number_value(j_nbf) <= now_s + skew_s)) {
    return "The token is not valid yet (nbf).";
  }
  if (!json_string_equals(json_object_get(j_claims, "iss"), verifier->issuer)) {
    return "The token's iss is not the expected issuer.";
  }
  if (!audience_matches(json_object_get(j_claims, "aud"), verifier->audience)) {
    return "The token's aud does not name this service.";
  }
  if (!claim_id(json_object_get(j_claims, "sub"), false, identity->user_id)) {
    return "The token's sub is missing or not " ID_RULE ".";
  }
  /* client_id is the claim for this (RFC 9068); azp is its older OIDC
   * spelling, used only when client_id is absent, never when it is bad. */
  if (j_client == NULL) {
    j_client = json_object_get(j_claims, "azp");
  }
  if (!claim_id(j_client, true, identity->client_id)) {
    return "The token's client_id (or azp) is missing or not " ID_RULE_DOTTED ".";
  }
  return NULL;
}

/* Hands the token to rhonabwy and verifies its signature with a private copy
 * of the key. R_PARSE_NONE: no key the token names or carries (jwk, jku,
 * x5u, x5c) is ever loaded, and unsigned tokens do not parse; with
 * R_FLAG_IGNORE_REMOTE nothing is ever fetched. Returns NULL when the
 * signature verifies, else the reason. */
static const char *signature_check(const struct verifier_key *key, jwa_alg alg, const char *token,
                                   size_t len) {
  jwt_t *jwt = NULL;
  jwk_t *jwk = NULL;
  const char *why = NULL;

  if (r_jwt_init(&jwt) != RHN_OK) {
    why = "The token could not be checked: out of memory.";
    goto done;
  }
  if (r_jwt_advanced_parsen(jwt, token, len, R_PARSE_NONE, R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    why = "The token is not a well-formed signed JWT.";
    goto done;
  }
  if (r_jwt_get_type(jwt) != R_JWT_TYPE_SIGN) {
    why = "The token is a nested JWT, which is not accepted.";
    goto done;
  }
  /* Both parsers must read the same alg, or the checks above were made on
   * a different header than the one rhonabwy verifies. */
  if (r_jwt_get_sign_alg(jwt) != alg) {
    why = "The token's alg is read differently by the JWT library.";
    goto done;
  }
  /* rhonabwy takes keys as non-const json_t and, inside, adds them to the
   * token's own key sets (reference counts) and reads them; a copy per
   * call keeps the shared key strictly read-only (json_deep_copy only
   * reads its source), so any number of threads can verify at once. */
  jwk = r_jwk_copy(key->jwk);
  if (jwk == NULL) {
    why = "The token could not be checked: out of memory.";
    goto done;
  }
  if (r_jwt_verify_signature(jwt, jwk, R_FLAG_IGNORE_REMOTE) != RHN_OK) {
    why = "The token's signature does not verify.";
  }
done:
  r_jwk_free(jwk);
  r_jwt_free(jwt);
  return why;
}

/* The header's checks, and the key it names, before any signature work:
 * an accepted alg, a signature there, no crit, not nested, a kid naming a
 * signing key that fits the alg. NULL when they hold, else why not. */
static const char *header_check(const struct jwt_verifier *verifier, const json_t *j_header,
                                const struct segments *seg, jwa_alg *alg,
                                const struct verifier_key **key) {
  const json_t *j_cty;
  const char *kid;

  *alg = accepted_alg(json_object_get(j_header, "alg"));
  if (*alg == R_JWA_ALG_UNKNOWN) {
    return "The token's alg is not RS256, ES256 or EdDSA.";
  }
  if (seg->signature_len == 0) {
    return "The token has no signature.";
  }
  /* RFC 7515 4.1.11: a token may only be accepted if every extension it
   * marks critical is understood; this service understands none. */
  if (json_object_get(j_header, "crit") != NULL) {
    return "The token header has a crit member.";
  }
  j_cty = json_object_get(j_header, "cty");
  if (json_is_string(j_cty) && strcasecmp(json_string_value(j_cty), "JWT") == 0) {
    return "The token is a nested JWT, which is not accepted.";
  }
  kid = plain_string(json_object_get(j_header, "kid"), JWT_KID_MAX);
  if (kid == NULL) {
    return "The token header has no kid.";
  }
  *key = find_key(verifier, kid);
  if (*key == NULL) {
    return "The token's kid names no key in the JWKS.";
  }
  if (!(*key)->for_signing) {
    return "The token's kid names a key whose use is not sig.";
  }
  if (!kind_fits((*key)->kind, *alg)) {
    return "The token's kid names a key whose type does not fit its alg.";
  }
  if ((*key)->alg != NULL && !json_string_equals(json_object_get(j_header, "alg"), (*key)->alg)) {
    return "The token's kid names a key whose alg differs from the token's.";
  }
  return NULL;
}

bool jwt_verify(const struct jwt_verifier *verifier, const char *token, time_t now,
                struct jwt_identity *out, char *reason, size_t reason_len) {
  struct jwt_identity identity;
  struct segments seg;
  json_t *j_header = NULL;
  json_t *j_claims = NULL;
  const struct verifier_key *key = NULL;
  const char *why = NULL;
  size_t len;
  jwa_alg alg;

  memset(&identity, 0, sizeof(identity));
  if (out != NULL) {
    memset(out, 0, sizeof(*out));
  }
  if (verifier == NULL || out == NULL) {
    why = "The verifier is not set up.";
    goto done;
  }
  if (token == NULL || token[0] == '\0') {
    why = "The token is empty.";
    goto done;
  }
  len = strnlen(token, JWT_TOKEN_MAX + 1);
  if (len > JWT_TOKEN_MAX) {
    why = "The token is longer than " XSTR(JWT_TOKEN_MAX) " bytes.";
    goto done;
  }
  if (!split_compact(token, len, &seg)) {
    why = "The token is not a compact JWS (three base64url segments).";
    goto done;
  }
  j_header = decode_json_segment(seg.header, seg.header_len);
  if (!json_is_object(j_header)) {
    why = "The token header is not a JSON object.";
    goto done;
  }
  why = header_check(verifier, j_header, &seg, &alg, &key);
  if (why == NULL) {
    why = signature_check(key, alg, token, len);
  }
  if (why != NULL) {
    goto done;
  }
  /* The payload rhonabwy has just verified, decoded again under the same
   * strict rules as the header. */
  j_claims = decode_json_segment(seg.payload, seg.payload_len);
  if (!json_is_object(j_claims)) {
    why = "The token payload is not a JSON object.";
    goto done;
  }
  why = claims_check(verifier, j_claims, now, &identity);
  if (why == NULL) {
    *out = identity;
  }
done:
  json_decref(j_header);
  json_decref(j_claims);
  set_text(reason, reason_len, why != NULL ? why : "");
  return why == NULL;
}
