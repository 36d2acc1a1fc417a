#include "tokens.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <rhonabwy.h>

enum key_index { KEY_RSA, KEY_EC, KEY_ED, KEY_COUNT };

/* What each key is, how it is made and how it signs. */
static const struct key_spec {
  const char *kid;
  const char *alg;
  int type; /* for r_jwk_generate_key_pair */
  unsigned int bits;
  gnutls_sign_algorithm_t sign;
} SPECS[KEY_COUNT] = {
    {TOKENS_KID_RSA, "RS256", R_KEY_TYPE_RSA, 2048, GNUTLS_SIGN_RSA_SHA256},
    {TOKENS_KID_EC, "ES256", R_KEY_TYPE_EC, 256, GNUTLS_SIGN_ECDSA_SHA256},
    {TOKENS_KID_ED, "EdDSA", R_KEY_TYPE_EDDSA, 256, GNUTLS_SIGN_EDDSA_ED25519},
};

/* The public members copied from a generated JWK into the JWKS. */
static const char *const PUBLIC_MEMBERS[] = {"kty", "crv", "n", "e", "x", "y"};

struct tokens_keys {
  gnutls_privkey_t privkey[KEY_COUNT];
  json_t *j_public[KEY_COUNT]; /* as written to the JWKS */
  char *rsa_public_pem;        /* SubjectPublicKeyInfo, PEM */
  char *rsa_public_jwk;        /* j_public[KEY_RSA], compact, sorted keys */
};

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *tokens_b64url(const void *data, size_t len) {
  const unsigned char *bytes = data;
  char *out = malloc(len / 3 * 4 + 4);
  size_t o = 0;

  if (out == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    return NULL;
  }
  for (size_t i = 0; i < len; i += 3) {
    size_t left = len - i;
    uint32_t v = (uint32_t)bytes[i] << 16;
    if (left > 1) {
      v |= (uint32_t)bytes[i + 1] << 8;
    }
    if (left > 2) {
      v |= bytes[i + 2];
    }
    out[o++] = B64URL[(v >> 18) & 63];
    out[o++] = B64URL[(v >> 12) & 63];
    if (left > 1) {
      out[o++] = B64URL[(v >> 6) & 63];
    }
    if (left > 2) {
      out[o++] = B64URL[v & 63];
    }
  }
  out[o] = '\0';
  return out;
}

/* Decodes len characters of base64url; NULL on a bad character. */
static unsigned char *b64url_decode(const char *text, size_t len, size_t *out_len) {
  unsigned char *out = malloc(len / 4 * 3 + 3);
  uint32_t acc = 0;
  unsigned int bits = 0;
  size_t n = 0;

  if (out == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    return NULL;
  }
  for (size_t i = 0; i < len; i++) {
    const char *p = text[i] != '\0' ? strchr(B64URL, text[i]) : NULL;
    if (p == NULL) {
      fprintf(stderr, "tokens: not base64url\n");
      free(out);
      return NULL;
    }
    acc = (acc << 6) | (uint32_t)(p - B64URL);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (unsigned char)(acc >> bits);
    }
  }
  *out_len = n;
  return out;
}

/* "a.b.c" from three parts, malloc'd. */
static char *join3(const char *a, const char *b, const char *c) {
  size_t len = strlen(a) + strlen(b) + strlen(c) + 3;
  char *out = malloc(len);
  if (out == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    return NULL;
  }
  snprintf(out, len, "%s.%s.%s", a, b, c);
  return out;
}

/* base64url of the compact, key-sorted JSON of j_value. */
static char *b64url_json(const json_t *j_value) {
  char *text = json_dumps(j_value, JSON_COMPACT | JSON_SORT_KEYS);
  char *out = NULL;

  if (text == NULL) {
    fprintf(stderr, "tokens: cannot serialise JSON\n");
    return NULL;
  }
  out = tokens_b64url(text, strlen(text));
  free(text);
  return out;
}

void tokens_keys_free(struct tokens_keys *keys) {
  if (keys == NULL) {
    return;
  }
  for (int i = 0; i < KEY_COUNT; i++) {
    if (keys->privkey[i] != NULL) {
      gnutls_privkey_deinit(keys->privkey[i]);
    }
    json_decref(keys->j_public[i]);
  }
  free(keys->rsa_public_pem);
  free(keys->rsa_public_jwk);
  free(keys);
}

/* Generates key i with rhonabwy, keeps its GnuTLS private key for signing
 * and its public JWK for the JWKS. */
static bool key_generate(struct tokens_keys *keys, enum key_index i) {
  const struct key_spec *spec = &SPECS[i];
  jwk_t *jwk_private = NULL;
  jwk_t *jwk_public = NULL;
  bool ok = false;

  if (r_jwk_init(&jwk_private) != RHN_OK || r_jwk_init(&jwk_public) != RHN_OK ||
      r_jwk_generate_key_pair(jwk_private, jwk_public, spec->type, spec->bits, spec->kid) !=
          RHN_OK) {
    fprintf(stderr, "tokens: cannot generate the %s key\n", spec->kid);
    goto done;
  }
  keys->privkey[i] = r_jwk_export_to_gnutls_privkey(jwk_private);
  keys->j_public[i] = json_pack("{ssssss}", "kid", spec->kid, "alg", spec->alg, "use", "sig");
  if (keys->privkey[i] == NULL || keys->j_public[i] == NULL) {
    fprintf(stderr, "tokens: cannot export the %s key\n", spec->kid);
    goto done;
  }
  for (size_t m = 0; m < sizeof(PUBLIC_MEMBERS) / sizeof(PUBLIC_MEMBERS[0]); m++) {
    const char *value = r_jwk_get_property_str(jwk_public, PUBLIC_MEMBERS[m]);
    if (value != NULL &&
        json_object_set_new(keys->j_public[i], PUBLIC_MEMBERS[m], json_string(value)) != 0) {
      fprintf(stderr, "tokens: out of memory\n");
      goto done;
    }
  }
  ok = true;
done:
  r_jwk_free(jwk_private);
  r_jwk_free(jwk_public);
  return ok;
}

/* The RSA public key as PEM and as JWK text: the two secrets a key-confusion
 * attacker tries, since both are public. */
static bool rsa_public_texts(struct tokens_keys *keys) {
  gnutls_pubkey_t pubkey = NULL;
  gnutls_datum_t pem = {NULL, 0};
  bool ok = false;

  if (gnutls_pubkey_init(&pubkey) != 0 ||
      gnutls_pubkey_import_privkey(pubkey, keys->privkey[KEY_RSA], 0, 0) != 0 ||
      gnutls_pubkey_export2(pubkey, GNUTLS_X509_FMT_PEM, &pem) != 0) {
    fprintf(stderr, "tokens: cannot export the RSA public key as PEM\n");
    goto done;
  }
  keys->rsa_public_pem = strndup((const char *)pem.data, pem.size);
  keys->rsa_public_jwk = json_dumps(keys->j_public[KEY_RSA], JSON_COMPACT | JSON_SORT_KEYS);
  if (keys->rsa_public_pem == NULL || keys->rsa_public_jwk == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    goto done;
  }
  ok = true;
done:
  gnutls_free(pem.data);
  if (pubkey != NULL) {
    gnutls_pubkey_deinit(pubkey);
  }
  return ok;
}

struct tokens_keys *tokens_keys_new(void) {
  struct tokens_keys *keys = calloc(1, sizeof(*keys));
  bool ok = false;

  if (keys == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    goto done;
  }
  for (int i = 0; i < KEY_COUNT; i++) {
    if (!key_generate(keys, (enum key_index)i)) {
      goto done;
    }
  }
  ok = rsa_public_texts(keys);
done:
  if (!ok) {
    tokens_keys_free(keys);
    keys = NULL;
  }
  return keys;
}

bool tokens_write_jwks(const struct tokens_keys *keys, const char *path) {
  json_t *j_jwks = json_pack("{s[OOO]}", "keys", keys->j_public[KEY_RSA], keys->j_public[KEY_EC],
                             keys->j_public[KEY_ED]);
  bool ok = false;

  if (j_jwks == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    goto done;
  }
  if (json_dump_file(j_jwks, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
    fprintf(stderr, "tokens: cannot write %s\n", path);
    goto done;
  }
  ok = true;
done:
  json_decref(j_jwks);
  return ok;
}

json_t *tokens_public_jwk(const struct tokens_keys *keys, const char *kid) {
  for (int i = 0; i < KEY_COUNT; i++) {
    if (kid != NULL && strcmp(kid, SPECS[i].kid) == 0) {
      return json_deep_copy(keys->j_public[i]);
    }
  }
  fprintf(stderr, "tokens: no key has kid %s\n", kid != NULL ? kid : "(null)");
  return NULL;
}

json_t *tokens_claims_new(const char *issuer, const char *audience, const char *sub,
                          const char *client_id, time_t now) {
  json_t *j_claims = json_pack("{sssssssIsI}", "iss", issuer, "aud", audience, "sub", sub, "iat",
                               (json_int_t)now, "exp", (json_int_t)now + 300);
  if (j_claims != NULL && client_id != NULL &&
      json_object_set_new(j_claims, "client_id", json_string(client_id)) != 0) {
    json_decref(j_claims);
    j_claims = NULL;
  }
  if (j_claims == NULL) {
    fprintf(stderr, "tokens: cannot build the claims\n");
  }
  return j_claims;
}

/* ECDSA signatures come from GnuTLS as DER; JWS wants r || s, each exactly
 * 32 bytes for P-256, left-padded with zeros. */
static bool ecdsa_der_to_raw(const gnutls_datum_t *der, unsigned char raw[64]) {
  gnutls_datum_t r = {NULL, 0};
  gnutls_datum_t s = {NULL, 0};
  const gnutls_datum_t *parts[2] = {&r, &s};
  bool ok = false;

  if (gnutls_decode_rs_value(der, &r, &s) != 0) {
    goto done;
  }
  memset(raw, 0, 64);
  for (int i = 0; i < 2; i++) {
    const unsigned char *data = parts[i]->data;
    size_t size = parts[i]->size;
    while (size > 32 && *data == 0) {
      data++;
      size--;
    }
    if (size > 32) {
      goto done;
    }
    memcpy(raw + 32 * i + (32 - size), data, size);
  }
  ok = true;
done:
  gnutls_free(r.data);
  gnutls_free(s.data);
  return ok;
}

/* Signs `input` as alg says; the signature goes to *sig (malloc'd, possibly
 * empty for "none"). hmac_secret is the HS* secret. */
static bool sign_input(const struct tokens_keys *keys, const char *alg, const char *hmac_secret,
                       const char *input, unsigned char **sig, size_t *sig_len) {
  static const struct {
    const char *alg;
    gnutls_mac_algorithm_t mac;
    size_t len;
  } HMACS[] = {{"HS256", GNUTLS_MAC_SHA256, 32},
               {"HS384", GNUTLS_MAC_SHA384, 48},
               {"HS512", GNUTLS_MAC_SHA512, 64}};
  gnutls_datum_t data = {(unsigned char *)input, (unsigned int)strlen(input)};
  gnutls_datum_t out = {NULL, 0};
  bool ok = false;

  *sig = malloc(512);
  *sig_len = 0;
  if (*sig == NULL) {
    fprintf(stderr, "tokens: out of memory\n");
    goto done;
  }
  if (strcmp(alg, "none") == 0) {
    ok = true;
    goto done;
  }
  for (size_t i = 0; i < sizeof(HMACS) / sizeof(HMACS[0]); i++) {
    if (strcmp(alg, HMACS[i].alg) == 0) {
      ok = gnutls_hmac_fast(HMACS[i].mac, hmac_secret, strlen(hmac_secret), input, strlen(input),
                            *sig) == 0;
      *sig_len = HMACS[i].len;
      goto done;
    }
  }
  for (int i = 0; i < KEY_COUNT; i++) {
    if (strcmp(alg, SPECS[i].alg) != 0) {
      continue;
    }
    if (gnutls_privkey_sign_data2(keys->privkey[i], SPECS[i].sign, 0, &data, &out) != 0) {
      goto done;
    }
    if (i == KEY_EC) {
      ok = ecdsa_der_to_raw(&out, *sig);
      *sig_len = 64;
    } else if (out.size <= 512) {
      memcpy(*sig, out.data, out.size);
      *sig_len = out.size;
      ok = true;
    }
    goto done;
  }
  fprintf(stderr, "tokens: cannot sign with alg %s\n", alg);
done:
  gnutls_free(out.data);
  if (!ok) {
    fprintf(stderr, "tokens: signing with %s failed\n", alg);
  }
  return ok;
}

/* The whole token for a header and claims; HS* use hmac_secret. */
static char *sign_token(const struct tokens_keys *keys, const json_t *j_header,
                        const json_t *j_claims, const char *hmac_secret) {
  const char *alg = json_string_value(json_object_get(j_header, "alg"));
  char *header = b64url_json(j_header);
  char *payload = b64url_json(j_claims);
  char *input = NULL;
  char *signature = NULL;
  char *token = NULL;
  unsigned char *sig = NULL;
  size_t sig_len = 0;
  size_t input_len;

  if (alg == NULL || header == NULL || payload == NULL) {
    fprintf(stderr, "tokens: the header needs an alg\n");
    goto done;
  }
  input_len = strlen(header) + strlen(payload) + 2;
  input = malloc(input_len);
  if (input == NULL) {
    goto done;
  }
  snprintf(input, input_len, "%s.%s", header, payload);
  if (!sign_input(keys, alg, hmac_secret, input, &sig, &sig_len)) {
    goto done;
  }
  signature = tokens_b64url(sig, sig_len);
  if (signature != NULL) {
    token = join3(header, payload, signature);
  }
done:
  free(header);
  free(payload);
  free(input);
  free(sig);
  free(signature);
  return token;
}

char *tokens_sign_header(const struct tokens_keys *keys, const json_t *j_header,
                         const json_t *j_claims) {
  return sign_token(keys, j_header, j_claims, keys->rsa_public_pem);
}

/* {"alg", "kid", "typ": "JWT"}, without kid when NULL. */
static json_t *header_new(const char *alg, const char *kid) {
  json_t *j_header = json_pack("{ssss}", "alg", alg, "typ", "JWT");
  if (j_header != NULL && kid != NULL && json_object_set_new(j_header, "kid", json_string(kid))) {
    json_decref(j_header);
    j_header = NULL;
  }
  return j_header;
}

char *tokens_sign(const struct tokens_keys *keys, const char *alg, const char *kid,
                  const json_t *j_claims) {
  json_t *j_header = header_new(alg, kid);
  char *token = j_header != NULL ? tokens_sign_header(keys, j_header, j_claims) : NULL;
  json_decref(j_header);
  return token;
}

char *tokens_bad(const struct tokens_keys *keys, enum tokens_bad kind, const json_t *j_claims) {
  json_t *j_header = NULL;
  char *good = NULL;
  char *token = NULL;

  switch (kind) {
    case TOKENS_BAD_ALG_NONE:
      token = tokens_sign(keys, "none", TOKENS_KID_RSA, j_claims);
      break;
    case TOKENS_BAD_HS256_PUBLIC_PEM:
      token = tokens_sign(keys, "HS256", TOKENS_KID_RSA, j_claims);
      break;
    case TOKENS_BAD_HS256_PUBLIC_JWK:
      j_header = header_new("HS256", TOKENS_KID_RSA);
      token = j_header != NULL ? sign_token(keys, j_header, j_claims, keys->rsa_public_jwk) : NULL;
      break;
    case TOKENS_BAD_SIGNATURE_BYTE:
      good = tokens_sign(keys, "RS256", TOKENS_KID_RSA, j_claims);
      token = good != NULL ? tokens_change_signature_byte(good) : NULL;
      break;
    case TOKENS_BAD_UNKNOWN_KID:
      token = tokens_sign(keys, "RS256", "unknown-1", j_claims);
      break;
    case TOKENS_BAD_KID_ALG_MISMATCH:
      token = tokens_sign(keys, "ES256", TOKENS_KID_RSA, j_claims);
      break;
  }
  json_decref(j_header);
  free(good);
  return token;
}

char *tokens_change_signature_byte(const char *token) {
  const char *dot = strrchr(token, '.');
  unsigned char *sig = NULL;
  size_t sig_len = 0;
  char *signature = NULL;
  char *out = NULL;

  if (dot == NULL || (sig = b64url_decode(dot + 1, strlen(dot + 1), &sig_len)) == NULL ||
      sig_len == 0) {
    fprintf(stderr, "tokens: the token has no signature to change\n");
    goto done;
  }
  sig[sig_len / 2] ^= 0x01;
  signature = tokens_b64url(sig, sig_len);
  if (signature == NULL) {
    goto done;
  }
  out = malloc((size_t)(dot + 1 - token) + strlen(signature) + 1);
  if (out != NULL) {
    memcpy(out, token, (size_t)(dot + 1 - token));
    memcpy(out + (dot + 1 - token), signature, strlen(signature) + 1);
  }
done:
  free(sig);
  free(signature);
  return out;
}

char *tokens_replace_claims(const char *token, const json_t *j_claims) {
  const char *first = strchr(token, '.');
  const char *last = strrchr(token, '.');
  char *payload = NULL;
  char *header = NULL;
  char *out = NULL;

  if (first == NULL || first == last) {
    fprintf(stderr, "tokens: not a compact JWS\n");
    goto done;
  }
  header = strndup(token, (size_t)(first - token));
  payload = b64url_json(j_claims);
  if (header != NULL && payload != NULL) {
    out = join3(header, payload, last + 1);
  }
done:
  free(header);
  free(payload);
  return out;
}
