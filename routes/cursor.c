#include "routes/cursor.h"

#include <string.h>
#include <sys/random.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* Layout of a cursor before base64url:
 *   version (1) | sort (1) | key (8, big-endian) | id length (1) | id | tag (16)
 * The tag is the first 16 bytes of HMAC-SHA-256(secret, everything before it
 * || the query's fingerprint). */
#define CURSOR_VERSION 1
#define CURSOR_TAG_LEN 16
#define CURSOR_RAW_MAX (11 + PURCHASE_ID_MAX + CURSOR_TAG_LEN)

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool cursor_key_init(struct cursor_key *key, const char *secret) {
  if (secret != NULL) {
    size_t len = strlen(secret);
    if (len < CURSOR_KEY_MIN || len > CURSOR_KEY_MAX) {
      return false;
    }
    memcpy(key->bytes, secret, len);
    key->len = len;
    return true;
  }
  key->len = 32;
  size_t got = 0;
  while (got < key->len) {
    ssize_t n = getrandom(key->bytes + got, key->len - got, 0);
    if (n <= 0) {
      return false;
    }
    got += (size_t)n;
  }
  return true;
}

/* Appends len bytes to buf at *n, if they fit. */
static void put(unsigned char *buf, size_t cap, size_t *n, const void *data, size_t len) {
  if (*n + len <= cap) {
    memcpy(buf + *n, data, len);
  }
  *n += len;
}

static void put_string(unsigned char *buf, size_t cap, size_t *n, const char *s) {
  size_t len = strlen(s);
  unsigned char prefix[2] = {(unsigned char)(len >> 8), (unsigned char)len};
  put(buf, cap, n, prefix, 2);
  put(buf, cap, n, s, len);
}

static void put_int64(unsigned char *buf, size_t cap, size_t *n, bool present, int64_t v) {
  unsigned char bytes[9];
  uint64_t u = (uint64_t)v;
  bytes[0] = present ? 1 : 0;
  for (int i = 0; i < 8; i++) {
    bytes[1 + i] = (unsigned char)(u >> (56 - 8 * i));
  }
  put(buf, cap, n, bytes, sizeof(bytes));
}

/* The fingerprint of a purchase list: every input that decides which
 * purchases a page holds, each length-prefixed or fixed-width so no two
 * queries share one. Limit and fields are left out: a caller may change them
 * between pages. Returns its length, or 0 when it does not fit. */
static size_t purchase_fingerprint(const struct purchase_query *query, unsigned char *out,
                                   size_t cap) {
  size_t n = 0;
  unsigned char statuses[4] = {
      (unsigned char)(query->statuses >> 24), (unsigned char)(query->statuses >> 16),
      (unsigned char)(query->statuses >> 8), (unsigned char)query->statuses};

  put_string(out, cap, &n, "purchases");
  put_string(out, cap, &n, query->user_id);
  put(out, cap, &n, statuses, sizeof(statuses));
  put_int64(out, cap, &n, query->has_from, query->from_ms);
  put_int64(out, cap, &n, query->has_to, query->to_ms);
  put_int64(out, cap, &n, query->has_min_price, query->min_price_pence);
  put_int64(out, cap, &n, query->has_max_price, query->max_price_pence);
  put_string(out, cap, &n, query->currency);
  put_string(out, cap, &n, query->text);
  return n <= cap ? n : 0;
}

/* tag = HMAC-SHA-256(secret, raw || context), cut to CURSOR_TAG_LEN. */
static bool make_tag(const struct cursor_key *key, const unsigned char *context, size_t context_len,
                     const unsigned char *raw, size_t raw_len, unsigned char tag[CURSOR_TAG_LEN]) {
  unsigned char message[CURSOR_RAW_MAX + CURSOR_CONTEXT_MAX];
  unsigned char digest[32];
  size_t n = 0;

  put(message, sizeof(message), &n, raw, raw_len);
  put(message, sizeof(message), &n, context, context_len);
  if (n > sizeof(message) ||
      gnutls_hmac_fast(GNUTLS_MAC_SHA256, key->bytes, key->len, message, n, digest) != 0) {
    return false;
  }
  memcpy(tag, digest, CURSOR_TAG_LEN);
  return true;
}

bool cursor_encode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const struct purchase_position *position,
                           char out[CURSOR_MAX + 1]) {
  unsigned char raw[CURSOR_RAW_MAX];
  size_t id_len = strlen(position->id);
  size_t n = 0;
  uint64_t k = (uint64_t)position->key;

  if (id_len == 0 || id_len > PURCHASE_ID_MAX) {
    return false;
  }
  raw[n++] = CURSOR_VERSION;
  raw[n++] = order;
  for (int i = 0; i < 8; i++) {
    raw[n++] = (unsigned char)(k >> (56 - 8 * i));
  }
  raw[n++] = (unsigned char)id_len;
  memcpy(raw + n, position->id, id_len);
  n += id_len;
  if (!make_tag(key, context, context_len, raw, n, raw + n)) {
    return false;
  }
  n += CURSOR_TAG_LEN;

  /* base64url without padding. */
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16;
    size_t left = n - i;
    if (left > 1) {
      v |= (uint32_t)raw[i + 1] << 8;
    }
    if (left > 2) {
      v |= raw[i + 2];
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
  return o <= CURSOR_MAX;
}

static int b64_value(char c) {
  const char *p = c != '\0' ? strchr(B64URL, c) : NULL;
  return p != NULL ? (int)(p - B64URL) : -1;
}

/* Strict base64url without padding; false for any other character, a length
 * that no byte string has, or stray bits in the last character. */
static bool b64url_decode(const char *text, unsigned char *out, size_t cap, size_t *out_len) {
  size_t len = strlen(text);
  size_t n = 0;
  if (len % 4 == 1) {
    return false;
  }
  for (size_t i = 0; i < len; i += 4) {
    uint32_t v = 0;
    size_t chunk = len - i < 4 ? len - i : 4;
    for (size_t j = 0; j < 4; j++) {
      int d = j < chunk ? b64_value(text[i + j]) : 0;
      if (d < 0) {
        return false;
      }
      v = (v << 6) | (uint32_t)d;
    }
    size_t bytes = chunk - 1;
    if ((chunk == 2 && (v & 0xffff)) || (chunk == 3 && (v & 0xff))) {
      return false;
    }
    if (n + bytes > cap) {
      return false;
    }
    for (size_t j = 0; j < bytes; j++) {
      out[n++] = (unsigned char)(v >> (16 - 8 * j));
    }
  }
  *out_len = n;
  return true;
}

bool cursor_decode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const char *token, struct purchase_position *position) {
  unsigned char raw[CURSOR_RAW_MAX];
  unsigned char tag[CURSOR_TAG_LEN];
  size_t n = 0;

  if (token == NULL || strlen(token) > CURSOR_MAX || !b64url_decode(token, raw, sizeof(raw), &n)) {
    return false;
  }
  if (n < 11 + 1 + CURSOR_TAG_LEN || raw[0] != CURSOR_VERSION) {
    return false;
  }
  size_t id_len = raw[10];
  if (id_len == 0 || id_len > PURCHASE_ID_MAX || n != 11 + id_len + CURSOR_TAG_LEN) {
    return false;
  }
  if (!make_tag(key, context, context_len, raw, 11 + id_len, tag)) {
    return false;
  }
  /* Constant time, so the tag cannot be guessed byte by byte. */
  unsigned char diff = 0;
  for (size_t i = 0; i < CURSOR_TAG_LEN; i++) {
    diff |= (unsigned char)(tag[i] ^ raw[11 + id_len + i]);
  }
  if (diff != 0 || raw[1] != order) {
    return false;
  }
  uint64_t k = 0;
  for (int i = 0; i < 8; i++) {
    k = (k << 8) | raw[2 + i];
  }
  position->key = (int64_t)k;
  memcpy(position->id, raw + 11, id_len);
  position->id[id_len] = '\0';
  /* An id is plain text; a NUL inside would cut it short. */
  return strlen(position->id) == id_len;
}

bool cursor_encode(const struct cursor_key *key, const struct purchase_query *query,
                   const struct purchase_position *position, char out[CURSOR_MAX + 1]) {
  unsigned char context[CURSOR_CONTEXT_MAX];
  size_t len = purchase_fingerprint(query, context, sizeof(context));
  return len > 0 && cursor_encode_context(key, context, len, (uint8_t)query->sort, position, out);
}

bool cursor_decode(const struct cursor_key *key, const struct purchase_query *query,
                   const char *token, struct purchase_position *position) {
  unsigned char context[CURSOR_CONTEXT_MAX];
  size_t len = purchase_fingerprint(query, context, sizeof(context));
  return len > 0 && cursor_decode_context(key, context, len, (uint8_t)query->sort, token, position);
}
