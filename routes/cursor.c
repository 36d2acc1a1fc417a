#include "routes/cursor.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <orcania.h>

#include "routes/list_params.h"

/* Layout of a cursor before base64url:
 *   version (1) | order (1) | key (8, big-endian) | id length (1) | id | tag (16)
 * The order byte is the list's order (the sort) with its top bit set for a
 * previous page's cursor (CURSOR_BEFORE), so the cursors of the first
 * version, which only ever went forwards, still read as they did. The tag
 * is the first 16 bytes of HMAC-SHA-256(secret, everything before it || the
 * query's fingerprint): the direction is signed with the rest. */
#define CURSOR_VERSION 1
#define CURSOR_BEFORE  0x80
#define CURSOR_TAG_LEN 16
#define CURSOR_RAW_MAX (11 + PURCHASE_ID_MAX + CURSOR_TAG_LEN)
/* orcania writes padded base64 (and a NUL) before it strips the padding,
 * and may write up to 2 bytes past what it decodes: room for both. */
#define CURSOR_TEXT_ROOM   ((CURSOR_RAW_MAX + 2) / 3 * 4 + 4)
#define CURSOR_DECODE_ROOM (CURSOR_MAX / 4 * 3 + 3)

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
  return gnutls_rnd(GNUTLS_RND_KEY, key->bytes, key->len) == 0;
}

/* Appends len bytes to buf at *n, if they fit; *n counts them anyway. */
static void put(unsigned char *buf, size_t cap, size_t *n, const void *data, size_t len) {
  if (*n + len <= cap) {
    memcpy(buf + *n, data, len);
  }
  *n += len;
}

void cursor_bind_string(struct cursor_binding *binding, const char *s) {
  size_t len = strlen(s);
  unsigned char prefix[2] = {(unsigned char)(len >> 8), (unsigned char)len};
  put(binding->buf, binding->cap, &binding->len, prefix, 2);
  put(binding->buf, binding->cap, &binding->len, s, len);
}

void cursor_bind_uint32(struct cursor_binding *binding, uint32_t value) {
  unsigned char bytes[4] = {(unsigned char)(value >> 24), (unsigned char)(value >> 16),
                            (unsigned char)(value >> 8), (unsigned char)value};
  put(binding->buf, binding->cap, &binding->len, bytes, sizeof(bytes));
}

void cursor_bind_int64(struct cursor_binding *binding, bool present, int64_t value) {
  unsigned char bytes[9];
  uint64_t u = (uint64_t)value;
  bytes[0] = present ? 1 : 0;
  for (int i = 0; i < 8; i++) {
    bytes[1 + i] = (unsigned char)(u >> (56 - 8 * i));
  }
  put(binding->buf, binding->cap, &binding->len, bytes, sizeof(bytes));
}

/* The fingerprint of a purchase list: every input that decides which
 * purchases a page holds. The rows of the list-parameter table say what
 * they add (a filter must add its value; limit, fields and withTotal add
 * nothing, a caller may change them between pages; the sort is the order
 * byte of the cursor itself), so walking the table forgets none. */
size_t cursor_fingerprint(const struct purchase_query *query, unsigned char *out, size_t cap) {
  struct cursor_binding binding = {out, cap, 0};
  const struct list_param *row;

  cursor_bind_string(&binding, "purchases");
  cursor_bind_string(&binding, query->user_id);
  for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
    if (row->bind != NULL) {
      row->bind(query, &binding);
    }
  }
  return binding.len <= cap ? binding.len : 0;
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
                           uint8_t order, bool before, const struct purchase_position *position,
                           char out[CURSOR_MAX + 1]) {
  unsigned char raw[CURSOR_RAW_MAX];
  size_t id_len = strlen(position->id);
  size_t n = 0;
  uint64_t k = (uint64_t)position->key;

  if (id_len == 0 || id_len > PURCHASE_ID_MAX || (order & CURSOR_BEFORE) != 0) {
    return false;
  }
  raw[n++] = CURSOR_VERSION;
  raw[n++] = (unsigned char)(order | (before ? CURSOR_BEFORE : 0));
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
  unsigned char text[CURSOR_TEXT_ROOM];
  size_t o = 0;
  if (!o_base64url_encode(raw, n, text, &o) || o > CURSOR_MAX) {
    return false;
  }
  memcpy(out, text, o);
  out[o] = '\0';
  return true;
}

static int b64_value(char c) {
  const char *p = c != '\0' ? strchr(B64URL, c) : NULL;
  return p != NULL ? (int)(p - B64URL) : -1;
}

/* True when text[0..len) is canonical unpadded base64url: only the 64
 * characters (no padding, no whitespace), a length some byte string has, and
 * no stray bits in the last character. orcania's decoder accepts all of
 * these, so this check comes first: a cursor has exactly one spelling. */
static bool b64url_is_canonical(const char *text, size_t len) {
  if (len % 4 == 1) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (b64_value(text[i]) < 0) {
      return false;
    }
  }
  if (len % 4 == 2) {
    return (b64_value(text[len - 1]) & 0x0f) == 0;
  }
  if (len % 4 == 3) {
    return (b64_value(text[len - 1]) & 0x03) == 0;
  }
  return true;
}

/* Strict base64url without padding, at most CURSOR_MAX characters, into
 * out (CURSOR_DECODE_ROOM bytes); false for anything not canonical. */
static bool b64url_decode(const char *text, unsigned char *out, size_t *out_len) {
  size_t len = strlen(text);
  if (len > CURSOR_MAX || !b64url_is_canonical(text, len)) {
    return false;
  }
  return len == 0 || o_base64url_decode((const unsigned char *)text, len, out, out_len) != 0;
}

bool cursor_decode_context(const struct cursor_key *key, const void *context, size_t context_len,
                           uint8_t order, const char *token, struct purchase_position *position,
                           bool *before) {
  unsigned char raw[CURSOR_DECODE_ROOM];
  unsigned char tag[CURSOR_TAG_LEN];
  size_t n = 0;

  if (token == NULL || !b64url_decode(token, raw, &n) || n > CURSOR_RAW_MAX) {
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
  if (gnutls_memcmp(tag, raw + 11 + id_len, CURSOR_TAG_LEN) != 0 ||
      (raw[1] & ~CURSOR_BEFORE) != order) {
    return false;
  }
  *before = (raw[1] & CURSOR_BEFORE) != 0;
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

bool cursor_encode(const struct cursor_key *key, const struct purchase_query *query, bool before,
                   const struct purchase_position *position, char out[CURSOR_MAX + 1]) {
  unsigned char context[CURSOR_CONTEXT_MAX];
  size_t len = cursor_fingerprint(query, context, sizeof(context));
  return len > 0 &&
         cursor_encode_context(key, context, len, (uint8_t)query->sort, before, position, out);
}

bool cursor_decode(const struct cursor_key *key, const struct purchase_query *query,
                   const char *token, struct purchase_position *position, bool *before) {
  unsigned char context[CURSOR_CONTEXT_MAX];
  size_t len = cursor_fingerprint(query, context, sizeof(context));
  return len > 0 &&
         cursor_decode_context(key, context, len, (uint8_t)query->sort, token, position, before);
}
