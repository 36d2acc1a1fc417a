#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <gnutls/abstract.h>
#include <jansson.h>
#include <rhonabwy.h>

#include "../support/tokens.h"
#include "middleware/jwt.h"
#include "suites.h"

#define ISSUER   "https://issuer.test"
#define AUDIENCE "purchases"
#define NOW      ((time_t)1700000000)

#define ALG_REFUSED "alg is not RS256, ES256 or EdDSA"

/* Made once per test case, before its tests fork: key generation is the
 * slow part, and every test only reads these. */
static struct tokens_keys *keys;
static struct jwt_verifier *verifier;
static char dir[64];
static char jwks_path[128];

static void keys_setup(void) {
  char err[256];

  snprintf(dir, sizeof(dir), "/tmp/test_jwt.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
  keys = tokens_keys_new();
  ck_assert_ptr_nonnull(keys);
  ck_assert(tokens_write_jwks(keys, jwks_path));
  verifier = jwt_verifier_new(jwks_path, ISSUER, AUDIENCE, err, sizeof(err));
  ck_assert_msg(verifier != NULL, "jwt_verifier_new: %s", err);
}

static void keys_teardown(void) {
  char command[128];

  jwt_verifier_free(verifier);
  verifier = NULL;
  tokens_keys_free(keys);
  keys = NULL;
  /* The folder holds only files the tests wrote. */
  snprintf(command, sizeof(command), "rm -rf '%s'", dir);
  if (system(command) != 0) {
    fprintf(stderr, "test_jwt: could not remove %s\n", dir);
  }
}

/* Default claims: sub user-1, client_id shop-web, valid for 5 minutes. */
static json_t *claims(void) {
  json_t *j_claims = tokens_claims_new(ISSUER, AUDIENCE, "user-1", "shop-web", NOW);
  ck_assert_ptr_nonnull(j_claims);
  return j_claims;
}

/* Signs and frees j_claims (stolen); the token is the caller's. */
static char *sign(const char *alg, const char *kid, json_t *j_claims) {
  char *token = tokens_sign(keys, alg, kid, j_claims);
  json_decref(j_claims);
  ck_assert_ptr_nonnull(token);
  return token;
}

/* j_claims with one member set (value stolen). */
static json_t *with(json_t *j_claims, const char *name, json_t *j_value) {
  ck_assert_int_eq(json_object_set_new(j_claims, name, j_value), 0);
  return j_claims;
}

static json_t *without(json_t *j_claims, const char *name) {
  ck_assert_int_eq(json_object_del(j_claims, name), 0);
  return j_claims;
}

static void assert_accepted_by(const struct jwt_verifier *v, const char *token, const char *user_id,
                               const char *client_id) {
  struct jwt_identity identity;
  char reason[256] = "unset";

  ck_assert_msg(jwt_verify(v, token, NOW, &identity, reason, sizeof(reason)), "refused: %s",
                reason);
  ck_assert_str_eq(reason, "");
  ck_assert_str_eq(identity.user_id, user_id);
  ck_assert_str_eq(identity.client_id, client_id);
}

static void assert_accepted(const char *token, const char *user_id, const char *client_id) {
  assert_accepted_by(verifier, token, user_id, client_id);
}

/* Refused, for a reason that contains `fragment`, with nothing of the
 * token in the reason and nothing left in the identity. */
static void assert_refused_by(const struct jwt_verifier *v, const char *token,
                              const char *fragment) {
  struct jwt_identity identity;
  char reason[256] = "";

  memset(&identity, 'x', sizeof(identity));
  ck_assert_msg(!jwt_verify(v, token, NOW, &identity, reason, sizeof(reason)), "accepted");
  ck_assert_msg(strstr(reason, fragment) != NULL, "reason \"%s\" does not say \"%s\"", reason,
                fragment);
  /* Every JSON header encodes to a segment starting "eyJ". */
  ck_assert_msg(strstr(reason, "eyJ") == NULL, "reason quotes the token: %s", reason);
  ck_assert_str_eq(identity.user_id, "");
  ck_assert_str_eq(identity.client_id, "");
}

static void assert_refused(const char *token, const char *fragment) {
  assert_refused_by(verifier, token, fragment);
}

/* The token with its header segment replaced by base64url(header_text). */
static char *with_raw_header(const char *token, const char *header_text) {
  char *header = tokens_b64url(header_text, strlen(header_text));
  const char *rest = strchr(token, '.');
  size_t len;
  char *out;

  ck_assert_ptr_nonnull(header);
  ck_assert_ptr_nonnull(rest);
  len = strlen(header) + strlen(rest) + 1;
  out = malloc(len);
  ck_assert_ptr_nonnull(out);
  snprintf(out, len, "%s%s", header, rest);
  free(header);
  return out;
}

/* Writes text to dir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text) {
  static char path[192];
  FILE *file;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  file = fopen(path, "w");
  ck_assert_ptr_nonnull(file);
  ck_assert_int_eq(fputs(text, file) >= 0, 1);
  ck_assert_int_eq(fclose(file), 0);
  return path;
}

/* Writes {"keys": j_keys} (stolen) to dir/name; returns the path. */
static const char *write_jwks(const char *name, json_t *j_keys) {
  json_t *j_jwks = json_pack("{so}", "keys", j_keys);
  char *text = json_dumps(j_jwks, JSON_COMPACT);
  const char *path;

  ck_assert_ptr_nonnull(text);
  path = write_file(name, text);
  free(text);
  json_decref(j_jwks);
  return path;
}

static json_t *public_jwk(const char *kid) {
  json_t *j_jwk = tokens_public_jwk(keys, kid);
  ck_assert_ptr_nonnull(j_jwk);
  return j_jwk;
}

/* A verifier over dir/name holding j_keys (stolen); it must load. */
static struct jwt_verifier *verifier_over(const char *name, json_t *j_keys) {
  char err[256];
  struct jwt_verifier *v =
      jwt_verifier_new(write_jwks(name, j_keys), ISSUER, AUDIENCE, err, sizeof(err));
  ck_assert_msg(v != NULL, "jwt_verifier_new: %s", err);
  return v;
}

/* jwt_verifier_new must fail on dir/name, with err naming the file and
 * saying `fragment`. */
static void assert_jwks_refused(const char *path, const char *fragment) {
  char err[256] = "";
  struct jwt_verifier *v = jwt_verifier_new(path, ISSUER, AUDIENCE, err, sizeof(err));

  jwt_verifier_free(v);
  ck_assert_msg(v == NULL, "loaded %s", path);
  ck_assert_msg(strstr(err, path) != NULL, "err \"%s\" does not name the file", err);
  ck_assert_msg(strstr(err, fragment) != NULL, "err \"%s\" does not say \"%s\"", err, fragment);
  ck_assert_ptr_null(strchr(err, '\n'));
}

/* Accepted tokens. */

START_TEST(rs256_verifies_and_maps_sub_and_client_id) {
  char *token = sign("RS256", TOKENS_KID_RSA, claims());
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(es256_verifies_and_maps_sub_and_client_id) {
  char *token = sign("ES256", TOKENS_KID_EC, claims());
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(eddsa_verifies_and_maps_sub_and_client_id) {
  char *token = sign("EdDSA", TOKENS_KID_ED, claims());
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(azp_maps_when_client_id_is_absent) {
  char *token = sign("ES256", TOKENS_KID_EC,
                     with(without(claims(), "client_id"), "azp", json_string("app.2")));
  assert_accepted(token, "user-1", "app.2");
  free(token);
}
END_TEST

START_TEST(client_id_wins_over_azp) {
  char *token = sign("RS256", TOKENS_KID_RSA, with(claims(), "azp", json_string("other")));
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(exp_30_seconds_ago_is_accepted_thanks_to_skew) {
  char *token = sign("RS256", TOKENS_KID_RSA, with(claims(), "exp", json_integer(NOW - 30)));
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(nbf_30_seconds_ahead_is_accepted_thanks_to_skew) {
  char *token = sign("RS256", TOKENS_KID_RSA, with(claims(), "nbf", json_integer(NOW + 30)));
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(aud_array_containing_the_audience_is_accepted) {
  char *token = sign("EdDSA", TOKENS_KID_ED,
                     with(claims(), "aud", json_pack("[sss]", "billing", AUDIENCE, "search")));
  assert_accepted(token, "user-1", "shop-web");
  free(token);
}
END_TEST

START_TEST(ids_of_64_characters_with_every_allowed_character_are_accepted) {
  const char *sub = "AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-AZaz09_-";
  const char *client = "AZaz09_-.Zaz09_-.Zaz09_-.Zaz09_-.Zaz09_-.Zaz09_-.Zaz09_-.Zaz09_-";
  char *token =
      sign("RS256", TOKENS_KID_RSA,
           with(with(claims(), "sub", json_string(sub)), "client_id", json_string(client)));
  ck_assert_uint_eq(strlen(sub), 64);
  ck_assert_uint_eq(strlen(client), 64);
  assert_accepted(token, sub, client);
  free(token);
}
END_TEST

START_TEST(reason_may_be_null) {
  struct jwt_identity identity;
  char *token = sign("RS256", TOKENS_KID_RSA, claims());
  ck_assert(jwt_verify(verifier, token, NOW, &identity, NULL, 0));
  ck_assert(!jwt_verify(verifier, "x", NOW, &identity, NULL, 0));
  free(token);
}
END_TEST

/* Refused for the header, the key or the signature. */

START_TEST(alg_none_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_ALG_NONE, j_claims);
  ck_assert_ptr_nonnull(token);
  ck_assert_int_eq(token[strlen(token) - 1], '.');
  assert_refused(token, ALG_REFUSED);
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(hs256_signed_with_the_public_key_pem_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_HS256_PUBLIC_PEM, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, ALG_REFUSED);
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(hs256_signed_with_the_public_jwk_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_HS256_PUBLIC_JWK, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, ALG_REFUSED);
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(hs512_is_refused) {
  char *token = sign("HS512", TOKENS_KID_RSA, claims());
  assert_refused(token, ALG_REFUSED);
  free(token);
}
END_TEST

START_TEST(other_asymmetric_algs_are_refused) {
  /* A good RS256 token whose header alone is changed: only the alg is off. */
  static const char *const HEADERS[] = {
      "{\"alg\":\"PS256\",\"kid\":\"rsa-1\"}",   "{\"alg\":\"RS512\",\"kid\":\"rsa-1\"}",
      "{\"alg\":\"rs256\",\"kid\":\"rsa-1\"}",   "{\"alg\":\"ES256K\",\"kid\":\"ec-1\"}",
      "{\"alg\":[\"RS256\"],\"kid\":\"rsa-1\"}", "{\"kid\":\"rsa-1\"}"};
  char *good = sign("RS256", TOKENS_KID_RSA, claims());
  for (size_t i = 0; i < sizeof(HEADERS) / sizeof(HEADERS[0]); i++) {
    char *token = with_raw_header(good, HEADERS[i]);
    assert_refused(token, ALG_REFUSED);
    free(token);
  }
  free(good);
}
END_TEST

START_TEST(unknown_kid_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_UNKNOWN_KID, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "kid names no key");
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(missing_kid_is_refused) {
  char *token = sign("RS256", NULL, claims());
  assert_refused(token, "no kid");
  free(token);
}
END_TEST

START_TEST(kid_of_the_rsa_key_with_alg_es256_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_KID_ALG_MISMATCH, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "does not fit its alg");
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(every_other_key_and_alg_pairing_is_refused) {
  static const char *const ALGS[] = {"RS256", "ES256", "EdDSA"};
  static const char *const KIDS[] = {TOKENS_KID_RSA, TOKENS_KID_EC, TOKENS_KID_ED};
  for (int a = 0; a < 3; a++) {
    for (int k = 0; k < 3; k++) {
      char *token;
      if (a == k) {
        continue;
      }
      token = sign(ALGS[a], KIDS[k], claims());
      assert_refused(token, "does not fit its alg");
      free(token);
    }
  }
}
END_TEST

START_TEST(jwk_alg_different_from_the_header_alg_is_refused) {
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  struct jwt_verifier *v;
  char *token = sign("RS256", TOKENS_KID_RSA, claims());

  json_object_set_new(j_rsa, "alg", json_string("PS256"));
  v = verifier_over("alg.json", json_pack("[oo]", j_rsa, public_jwk(TOKENS_KID_EC)));
  assert_refused_by(v, token, "alg differs");
  jwt_verifier_free(v);
  free(token);
}
END_TEST

START_TEST(jwk_without_alg_still_needs_a_fitting_type) {
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  struct jwt_verifier *v;
  char *good = sign("RS256", TOKENS_KID_RSA, claims());
  char *bad = sign("ES256", TOKENS_KID_RSA, claims());

  json_object_del(j_rsa, "alg");
  v = verifier_over("noalg.json", json_pack("[o]", j_rsa));
  assert_accepted_by(v, good, "user-1", "shop-web");
  assert_refused_by(v, bad, "does not fit its alg");
  jwt_verifier_free(v);
  free(good);
  free(bad);
}
END_TEST

START_TEST(key_whose_use_is_enc_is_refused) {
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  struct jwt_verifier *v;
  char *token = sign("RS256", TOKENS_KID_RSA, claims());

  json_object_set_new(j_rsa, "use", json_string("enc"));
  v = verifier_over("use.json", json_pack("[oo]", j_rsa, public_jwk(TOKENS_KID_EC)));
  assert_refused_by(v, token, "use");
  jwt_verifier_free(v);
  free(token);
}
END_TEST

START_TEST(changed_signature_byte_is_refused) {
  json_t *j_claims = claims();
  char *token = tokens_bad(keys, TOKENS_BAD_SIGNATURE_BYTE, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "signature does not verify");
  free(token);
  json_decref(j_claims);
}
END_TEST

START_TEST(changed_signature_byte_is_refused_for_es256_and_eddsa) {
  char *es = sign("ES256", TOKENS_KID_EC, claims());
  char *ed = sign("EdDSA", TOKENS_KID_ED, claims());
  char *bad_es = tokens_change_signature_byte(es);
  char *bad_ed = tokens_change_signature_byte(ed);
  assert_refused(bad_es, "signature does not verify");
  assert_refused(bad_ed, "signature does not verify");
  free(es);
  free(ed);
  free(bad_es);
  free(bad_ed);
}
END_TEST

START_TEST(changed_payload_byte_is_refused) {
  /* "user-1" becomes "user-2": one byte of the payload, as an attacker
   * would change it, with header and signature kept. */
  char *token = sign("RS256", TOKENS_KID_RSA, claims());
  json_t *j_forged = with(claims(), "sub", json_string("user-2"));
  char *forged = tokens_replace_claims(token, j_forged);
  ck_assert_ptr_nonnull(forged);
  ck_assert_str_ne(forged, token);
  assert_refused(forged, "signature does not verify");
  free(token);
  free(forged);
  json_decref(j_forged);
}
END_TEST

START_TEST(signature_of_a_key_outside_the_jwks_is_refused) {
  /* Same kid, same alg, a key the service never trusted; the attacker
   * even embeds its public key in the header, which must be ignored. */
  struct tokens_keys *other = tokens_keys_new();
  json_t *j_claims = claims();
  json_t *j_header;
  char *token;
  char *embedded;

  ck_assert_ptr_nonnull(other);
  j_header = json_pack("{ssssso}", "alg", "RS256", "kid", TOKENS_KID_RSA, "jwk",
                       tokens_public_jwk(other, TOKENS_KID_RSA));
  token = tokens_sign(other, "RS256", TOKENS_KID_RSA, j_claims);
  embedded = tokens_sign_header(other, j_header, j_claims);
  ck_assert_ptr_nonnull(token);
  ck_assert_ptr_nonnull(embedded);
  assert_refused(token, "signature does not verify");
  assert_refused(embedded, "signature does not verify");
  tokens_keys_free(other);
  json_decref(j_claims);
  json_decref(j_header);
  free(token);
  free(embedded);
}
END_TEST

START_TEST(token_without_signature_is_refused) {
  char *token = sign("RS256", TOKENS_KID_RSA, claims());
  strrchr(token, '.')[1] = '\0';
  assert_refused(token, "no signature");
  free(token);
}
END_TEST

START_TEST(remote_keys_named_in_the_header_are_never_fetched) {
  /* jku and x5u point at a socket of the test's own; a verifier that
   * fetched either would connect to it (or hang until the test times out). */
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof(addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct tokens_keys *attacker = tokens_keys_new();
  json_t *j_claims = claims();
  json_t *j_header;
  char jku[64];
  char x5u[64];
  char *token;
  struct pollfd pending;

  ck_assert_ptr_nonnull(attacker);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
  ck_assert_int_eq(listen(fd, 4), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &addr_len), 0);
  snprintf(jku, sizeof(jku), "http://127.0.0.1:%d/jwks.json", ntohs(addr.sin_port));
  snprintf(x5u, sizeof(x5u), "http://127.0.0.1:%d/cert.pem", ntohs(addr.sin_port));
  j_header = json_pack("{ssssssss}", "alg", "RS256", "kid", TOKENS_KID_RSA, "jku", jku, "x5u", x5u);
  token = tokens_sign_header(attacker, j_header, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "signature does not verify");
  pending = (struct pollfd){.fd = fd, .events = POLLIN};
  ck_assert_int_eq(poll(&pending, 1, 0), 0);
  close(fd);
  tokens_keys_free(attacker);
  json_decref(j_claims);
  json_decref(j_header);
  free(token);
}
END_TEST

START_TEST(crit_header_is_refused) {
  json_t *j_claims = claims();
  json_t *j_header =
      json_pack("{sssss[s]sb}", "alg", "RS256", "kid", TOKENS_KID_RSA, "crit", "b64", "b64", 1);
  char *token = tokens_sign_header(keys, j_header, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "crit");
  json_decref(j_header);
  json_decref(j_claims);
  free(token);
}
END_TEST

START_TEST(nested_jwt_is_refused) {
  json_t *j_claims = claims();
  json_t *j_header = json_pack("{ssssss}", "alg", "RS256", "kid", TOKENS_KID_RSA, "cty", "JWT");
  char *token = tokens_sign_header(keys, j_header, j_claims);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "nested");
  json_decref(j_header);
  json_decref(j_claims);
  free(token);
}
END_TEST

START_TEST(non_json_header_is_refused) {
  char *good = sign("RS256", TOKENS_KID_RSA, claims());
  char *not_json = with_raw_header(good, "not json");
  char *array = with_raw_header(good, "[\"RS256\"]");
  char *duplicate = with_raw_header(good, "{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"alg\":\"none\"}");
  assert_refused(not_json, "header is not a JSON object");
  assert_refused(array, "header is not a JSON object");
  assert_refused(duplicate, "header is not a JSON object");
  free(good);
  free(not_json);
  free(array);
  free(duplicate);
}
END_TEST

/* Refused for the claims. */

START_TEST(exp_beyond_skew_is_refused) {
  char *past = sign("RS256", TOKENS_KID_RSA, with(claims(), "exp", json_integer(NOW - 61)));
  char *edge =
      sign("RS256", TOKENS_KID_RSA, with(claims(), "exp", json_integer(NOW - JWT_CLOCK_SKEW_S)));
  char *inside = sign("RS256", TOKENS_KID_RSA,
                      with(claims(), "exp", json_integer(NOW - JWT_CLOCK_SKEW_S + 1)));
  assert_refused(past, "expired");
  assert_refused(edge, "expired");
  assert_accepted(inside, "user-1", "shop-web");
  free(past);
  free(edge);
  free(inside);
}
END_TEST

START_TEST(missing_or_non_numeric_exp_is_refused) {
  char *missing = sign("RS256", TOKENS_KID_RSA, without(claims(), "exp"));
  char *text = sign("RS256", TOKENS_KID_RSA, with(claims(), "exp", json_string("1700000300")));
  assert_refused(missing, "no numeric exp");
  assert_refused(text, "no numeric exp");
  free(missing);
  free(text);
}
END_TEST

START_TEST(nbf_beyond_skew_is_refused) {
  char *future = sign("RS256", TOKENS_KID_RSA, with(claims(), "nbf", json_integer(NOW + 61)));
  char *edge =
      sign("RS256", TOKENS_KID_RSA, with(claims(), "nbf", json_integer(NOW + JWT_CLOCK_SKEW_S)));
  char *text = sign("RS256", TOKENS_KID_RSA, with(claims(), "nbf", json_string("0")));
  assert_refused(future, "not valid yet");
  assert_accepted(edge, "user-1", "shop-web");
  assert_refused(text, "nbf claim is not a number");
  free(future);
  free(edge);
  free(text);
}
END_TEST

START_TEST(wrong_iss_is_refused) {
  char *other = sign("RS256", TOKENS_KID_RSA, with(claims(), "iss", json_string("https://evil")));
  char *missing = sign("RS256", TOKENS_KID_RSA, without(claims(), "iss"));
  /* Equal to the issuer as a C string, not as JSON. rhonabwy already
   * refuses any payload holding \u0000, before the claims are read. */
  char *nul = sign("RS256", TOKENS_KID_RSA,
                   with(claims(), "iss", json_stringn(ISSUER "\0.evil", strlen(ISSUER) + 6)));
  assert_refused(other, "iss");
  assert_refused(missing, "iss");
  assert_refused(nul, "");
  free(other);
  free(missing);
  free(nul);
}
END_TEST

START_TEST(wrong_aud_is_refused) {
  char *other = sign("RS256", TOKENS_KID_RSA, with(claims(), "aud", json_string("billing")));
  char *array = sign("RS256", TOKENS_KID_RSA,
                     with(claims(), "aud", json_pack("[ss]", "billing", "purchases-admin")));
  char *missing = sign("RS256", TOKENS_KID_RSA, without(claims(), "aud"));
  assert_refused(other, "aud");
  assert_refused(array, "aud");
  assert_refused(missing, "aud");
  free(other);
  free(array);
  free(missing);
}
END_TEST

START_TEST(missing_sub_is_refused) {
  char *token = sign("RS256", TOKENS_KID_RSA, without(claims(), "sub"));
  assert_refused(token, "sub");
  free(token);
}
END_TEST

START_TEST(sub_with_bad_characters_is_refused) {
  static const char *const BAD[] = {
      "",       "user 1",
      "user.1", "user/1",
      "us\"er", "\xc3\xa9",
      "user\n", "65xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
    char *token = sign("RS256", TOKENS_KID_RSA, with(claims(), "sub", json_string(BAD[i])));
    assert_refused(token, "sub");
    free(token);
  }
  char *number = sign("RS256", TOKENS_KID_RSA, with(claims(), "sub", json_integer(42)));
  assert_refused(number, "sub");
  free(number);
}
END_TEST

START_TEST(missing_client_id_and_azp_is_refused) {
  char *token = sign("RS256", TOKENS_KID_RSA, without(claims(), "client_id"));
  assert_refused(token, "client_id");
  free(token);
}
END_TEST

START_TEST(bad_client_id_is_refused_even_with_a_good_azp) {
  char *token = sign(
      "RS256", TOKENS_KID_RSA,
      with(with(claims(), "client_id", json_string("shop web")), "azp", json_string("shop-web")));
  char *bad_azp = sign("RS256", TOKENS_KID_RSA,
                       with(without(claims(), "client_id"), "azp", json_string("shop:web")));
  assert_refused(token, "client_id");
  assert_refused(bad_azp, "client_id");
  free(token);
  free(bad_azp);
}
END_TEST

/* Refused for the shape of the token. */

START_TEST(token_over_the_maximum_is_refused_and_one_at_it_accepted) {
  /* Grow a padding claim one byte at a time until the token passes the
   * limit: the last one under it must verify, the first one over must not. */
  size_t pad = 5500;
  char *under = NULL;
  char *over = NULL;

  while (over == NULL) {
    char *filler = malloc(pad + 1);
    char *token;
    ck_assert_ptr_nonnull(filler);
    memset(filler, 'a', pad);
    filler[pad] = '\0';
    token = sign("RS256", TOKENS_KID_RSA, with(claims(), "pad", json_string(filler)));
    free(filler);
    if (strlen(token) > JWT_TOKEN_MAX) {
      over = token;
    } else {
      free(under);
      under = token;
    }
    pad++;
  }
  ck_assert_ptr_nonnull(under);
  ck_assert_uint_ge(strlen(under), JWT_TOKEN_MAX - 4);
  assert_accepted(under, "user-1", "shop-web");
  assert_refused(over, "longer than 8192");
  free(under);
  free(over);
}
END_TEST

START_TEST(garbage_strings_are_refused) {
  static const char *const GARBAGE[] = {".", "..", "a.b", "a.b.c", "a.b.c.d.e", "abc", "...."};
  assert_refused(NULL, "empty");
  assert_refused("", "empty");
  for (size_t i = 0; i < sizeof(GARBAGE) / sizeof(GARBAGE[0]); i++) {
    assert_refused(GARBAGE[i], "not a compact JWS");
  }
}
END_TEST

START_TEST(jwe_shaped_token_is_refused) {
  const char *header = "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"kid\":\"rsa-1\"}";
  char *h = tokens_b64url(header, strlen(header));
  char jwe[512];
  snprintf(jwe, sizeof(jwe), "%s.AAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", h);
  assert_refused(jwe, "not a compact JWS");
  free(h);
}
END_TEST

START_TEST(whitespace_and_non_canonical_base64url_are_refused) {
  char *good = sign("RS256", TOKENS_KID_RSA, claims());
  size_t len = strlen(good);
  char *spaced = malloc(len + 2);
  char *padded = malloc(len + 3);
  char *stray = strdup(good);
  const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char *last;

  ck_assert_ptr_nonnull(spaced);
  ck_assert_ptr_nonnull(padded);
  ck_assert_ptr_nonnull(stray);
  /* A space in the middle: some libraries strip it, this one must not. */
  memcpy(spaced, good, 10);
  spaced[10] = ' ';
  memcpy(spaced + 11, good + 10, len - 10 + 1);
  assert_refused(spaced, "not a compact JWS");
  /* Padding is not base64url. */
  snprintf(padded, len + 3, "%s==", good);
  assert_refused(padded, "not a compact JWS");
  /* A 256-byte RSA signature is 342 characters, the last holding 4 unused
   * bits; setting one decodes to the same bytes but is a second spelling. */
  ck_assert_uint_eq(strlen(strrchr(good, '.') + 1) % 4, 2);
  last = strchr(alphabet, good[len - 1]);
  ck_assert_ptr_nonnull(last);
  stray[len - 1] = alphabet[(last - alphabet) ^ 1];
  assert_refused(stray, "not a compact JWS");
  free(good);
  free(spaced);
  free(padded);
  free(stray);
}
END_TEST

START_TEST(payload_that_is_not_an_object_is_refused) {
  /* Signed correctly, but the claims are a JSON array. */
  json_t *j_array = json_pack("[s]", "user-1");
  char *token = tokens_sign(keys, "RS256", TOKENS_KID_RSA, j_array);
  ck_assert_ptr_nonnull(token);
  assert_refused(token, "payload is not a JSON object");
  json_decref(j_array);
  free(token);
}
END_TEST

/* Loading the JWKS. */

START_TEST(missing_file_is_refused) {
  char path[192];
  snprintf(path, sizeof(path), "%s/no-such.json", dir);
  assert_jwks_refused(path, "cannot be opened");
}
END_TEST

START_TEST(non_json_file_is_refused) {
  assert_jwks_refused(write_file("garbage.json", "{\"keys\": [ not json"), "not JSON");
}
END_TEST

START_TEST(empty_keys_array_is_refused) {
  assert_jwks_refused(write_file("empty.json", "{\"keys\": []}"), "keys");
  assert_jwks_refused(write_file("nokeys.json", "{\"kty\": \"RSA\"}"), "keys");
  assert_jwks_refused(write_file("array.json", "[]"), "keys");
}
END_TEST

START_TEST(private_key_material_is_refused) {
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  json_object_set_new(j_rsa, "d", json_string("AQAB"));
  assert_jwks_refused(write_jwks("private.json", json_pack("[o]", j_rsa)), "private");
  assert_jwks_refused(
      write_jwks("oct.json", json_pack("[{ssssss}]", "kty", "oct", "kid", "hs-1", "k", "c2VjcmV0")),
      "private");
}
END_TEST

START_TEST(duplicate_or_missing_kid_is_refused) {
  json_t *j_nokid = public_jwk(TOKENS_KID_EC);
  json_object_del(j_nokid, "kid");
  assert_jwks_refused(write_jwks("dup.json", json_pack("[oo]", public_jwk(TOKENS_KID_RSA),
                                                       public_jwk(TOKENS_KID_RSA))),
                      "repeats the kid");
  assert_jwks_refused(write_jwks("nokid.json", json_pack("[o]", j_nokid)), "kid");
}
END_TEST

START_TEST(set_without_a_usable_signing_key_is_refused) {
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  json_object_set_new(j_rsa, "use", json_string("enc"));
  assert_jwks_refused(write_jwks("enc.json", json_pack("[o]", j_rsa)), "no RSA, EC P-256");
}
END_TEST

START_TEST(invalid_key_parameters_are_refused) {
  json_t *j_ec = public_jwk(TOKENS_KID_EC);
  json_object_set_new(j_ec, "x", json_string("AAAA"));
  assert_jwks_refused(write_jwks("badpoint.json", json_pack("[o]", j_ec)), "key 0");
}
END_TEST

/* The public JWK of a fresh key that tokens.c does not make: an EC key on
 * `curve` bits, or an RSA key of `bits` made by GnuTLS (rhonabwy will not
 * generate one under 2048). New reference. */
static json_t *extra_public_jwk(gnutls_pk_algorithm_t algorithm, unsigned int bits,
                                const char *kid) {
  gnutls_privkey_t privkey = NULL;
  gnutls_pubkey_t pubkey = NULL;
  jwk_t *jwk = NULL;
  json_t *j_jwk;

  ck_assert_int_eq(gnutls_privkey_init(&privkey), 0);
  ck_assert_int_eq(gnutls_privkey_generate(privkey, algorithm, bits, 0), 0);
  ck_assert_int_eq(gnutls_pubkey_init(&pubkey), 0);
  ck_assert_int_eq(gnutls_pubkey_import_privkey(pubkey, privkey, 0, 0), 0);
  ck_assert_int_eq(r_jwk_init(&jwk), RHN_OK);
  ck_assert_int_eq(r_jwk_import_from_gnutls_pubkey(jwk, pubkey), RHN_OK);
  j_jwk = r_jwk_export_to_json_t(jwk);
  ck_assert_ptr_nonnull(j_jwk);
  json_object_set_new(j_jwk, "kid", json_string(kid));
  r_jwk_free(jwk);
  gnutls_pubkey_deinit(pubkey);
  gnutls_privkey_deinit(privkey);
  return j_jwk;
}

START_TEST(rsa_key_under_2048_bits_is_refused) {
  json_t *j_small = extra_public_jwk(GNUTLS_PK_RSA, 1024, "rsa-small");
  assert_jwks_refused(
      write_jwks("small.json", json_pack("[oo]", public_jwk(TOKENS_KID_EC), j_small)), "1024 bits");
}
END_TEST

START_TEST(key_of_another_curve_loads_but_fits_no_token) {
  /* A P-384 key is a valid key the service has no alg for: it may sit in
   * the set, but an ES256 token naming it is refused. */
  json_t *j_p384 =
      extra_public_jwk(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1), "ec-384");
  struct jwt_verifier *v =
      verifier_over("p384.json", json_pack("[oo]", public_jwk(TOKENS_KID_EC), j_p384));
  char *token = sign("ES256", "ec-384", claims());
  assert_refused_by(v, token, "does not fit its alg");
  jwt_verifier_free(v);
  free(token);
}
END_TEST

START_TEST(issuer_and_audience_are_required) {
  char err[256];
  ck_assert_ptr_null(jwt_verifier_new(jwks_path, "", AUDIENCE, err, sizeof(err)));
  ck_assert_ptr_nonnull(strstr(err, "issuer"));
  ck_assert_ptr_null(jwt_verifier_new(jwks_path, ISSUER, NULL, err, sizeof(err)));
  ck_assert_ptr_nonnull(strstr(err, "audience"));
}
END_TEST

START_TEST(certificate_members_are_ignored) {
  /* An x5u would be fetched by a careless library; the key must load and
   * verify from its own parameters without any network. */
  json_t *j_rsa = public_jwk(TOKENS_KID_RSA);
  struct jwt_verifier *v;
  char *token = sign("RS256", TOKENS_KID_RSA, claims());

  json_object_set_new(j_rsa, "x5u", json_string("https://127.0.0.1:1/cert.pem"));
  v = verifier_over("x5u.json", json_pack("[o]", j_rsa));
  assert_accepted_by(v, token, "user-1", "shop-web");
  jwt_verifier_free(v);
  free(token);
}
END_TEST

/* Threads. */

struct thread_work {
  const char *tokens[3];
  atomic_int *failures;
};

static void *verify_many(void *data) {
  struct thread_work *work = data;
  for (int i = 0; i < 60; i++) {
    struct jwt_identity identity;
    char reason[128];
    if (!jwt_verify(verifier, work->tokens[i % 3], NOW, &identity, reason, sizeof(reason)) ||
        strcmp(identity.user_id, "user-1") != 0) {
      atomic_fetch_add(work->failures, 1);
    }
  }
  return NULL;
}

START_TEST(many_threads_verify_with_one_verifier) {
  char *rs = sign("RS256", TOKENS_KID_RSA, claims());
  char *es = sign("ES256", TOKENS_KID_EC, claims());
  char *ed = sign("EdDSA", TOKENS_KID_ED, claims());
  atomic_int failures = 0;
  struct thread_work work = {{rs, es, ed}, &failures};
  pthread_t threads[8];

  for (int i = 0; i < 8; i++) {
    ck_assert_int_eq(pthread_create(&threads[i], NULL, verify_many, &work), 0);
  }
  for (int i = 0; i < 8; i++) {
    ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
  }
  ck_assert_int_eq(atomic_load(&failures), 0);
  free(rs);
  free(es);
  free(ed);
}
END_TEST

Suite *suite_jwt(void) {
  Suite *suite = suite_create("jwt");
  TCase *accept = tcase_create("accepted");
  TCase *header = tcase_create("refused_header_key_signature");
  TCase *claim = tcase_create("refused_claims");
  TCase *shape = tcase_create("refused_shape");
  TCase *load = tcase_create("jwt_verifier_new");
  TCase *threads = tcase_create("threads");
  TCase *all[] = {accept, header, claim, shape, load, threads};

  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    tcase_add_unchecked_fixture(all[i], keys_setup, keys_teardown);
    tcase_set_timeout(all[i], 30);
  }

  tcase_add_test(accept, rs256_verifies_and_maps_sub_and_client_id);
  tcase_add_test(accept, es256_verifies_and_maps_sub_and_client_id);
  tcase_add_test(accept, eddsa_verifies_and_maps_sub_and_client_id);
  tcase_add_test(accept, azp_maps_when_client_id_is_absent);
  tcase_add_test(accept, client_id_wins_over_azp);
  tcase_add_test(accept, exp_30_seconds_ago_is_accepted_thanks_to_skew);
  tcase_add_test(accept, nbf_30_seconds_ahead_is_accepted_thanks_to_skew);
  tcase_add_test(accept, aud_array_containing_the_audience_is_accepted);
  tcase_add_test(accept, ids_of_64_characters_with_every_allowed_character_are_accepted);
  tcase_add_test(accept, reason_may_be_null);
  suite_add_tcase(suite, accept);

  tcase_add_test(header, alg_none_is_refused);
  tcase_add_test(header, hs256_signed_with_the_public_key_pem_is_refused);
  tcase_add_test(header, hs256_signed_with_the_public_jwk_is_refused);
  tcase_add_test(header, hs512_is_refused);
  tcase_add_test(header, other_asymmetric_algs_are_refused);
  tcase_add_test(header, unknown_kid_is_refused);
  tcase_add_test(header, missing_kid_is_refused);
  tcase_add_test(header, kid_of_the_rsa_key_with_alg_es256_is_refused);
  tcase_add_test(header, every_other_key_and_alg_pairing_is_refused);
  tcase_add_test(header, jwk_alg_different_from_the_header_alg_is_refused);
  tcase_add_test(header, jwk_without_alg_still_needs_a_fitting_type);
  tcase_add_test(header, key_whose_use_is_enc_is_refused);
  tcase_add_test(header, changed_signature_byte_is_refused);
  tcase_add_test(header, changed_signature_byte_is_refused_for_es256_and_eddsa);
  tcase_add_test(header, changed_payload_byte_is_refused);
  tcase_add_test(header, signature_of_a_key_outside_the_jwks_is_refused);
  tcase_add_test(header, token_without_signature_is_refused);
  tcase_add_test(header, remote_keys_named_in_the_header_are_never_fetched);
  tcase_add_test(header, crit_header_is_refused);
  tcase_add_test(header, nested_jwt_is_refused);
  tcase_add_test(header, non_json_header_is_refused);
  suite_add_tcase(suite, header);

  tcase_add_test(claim, exp_beyond_skew_is_refused);
  tcase_add_test(claim, missing_or_non_numeric_exp_is_refused);
  tcase_add_test(claim, nbf_beyond_skew_is_refused);
  tcase_add_test(claim, wrong_iss_is_refused);
  tcase_add_test(claim, wrong_aud_is_refused);
  tcase_add_test(claim, missing_sub_is_refused);
  tcase_add_test(claim, sub_with_bad_characters_is_refused);
  tcase_add_test(claim, missing_client_id_and_azp_is_refused);
  tcase_add_test(claim, bad_client_id_is_refused_even_with_a_good_azp);
  suite_add_tcase(suite, claim);

  tcase_add_test(shape, token_over_the_maximum_is_refused_and_one_at_it_accepted);
  tcase_add_test(shape, garbage_strings_are_refused);
  tcase_add_test(shape, jwe_shaped_token_is_refused);
  tcase_add_test(shape, whitespace_and_non_canonical_base64url_are_refused);
  tcase_add_test(shape, payload_that_is_not_an_object_is_refused);
  suite_add_tcase(suite, shape);

  tcase_add_test(load, missing_file_is_refused);
  tcase_add_test(load, non_json_file_is_refused);
  tcase_add_test(load, empty_keys_array_is_refused);
  tcase_add_test(load, private_key_material_is_refused);
  tcase_add_test(load, duplicate_or_missing_kid_is_refused);
  tcase_add_test(load, set_without_a_usable_signing_key_is_refused);
  tcase_add_test(load, invalid_key_parameters_are_refused);
  tcase_add_test(load, rsa_key_under_2048_bits_is_refused);
  tcase_add_test(load, key_of_another_curve_loads_but_fits_no_token);
  tcase_add_test(load, issuer_and_audience_are_required);
  tcase_add_test(load, certificate_members_are_ignored);
  suite_add_tcase(suite, load);

  tcase_add_test(threads, many_threads_verify_with_one_verifier);
  suite_add_tcase(suite, threads);
  return suite;
}
