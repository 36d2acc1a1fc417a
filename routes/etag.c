#include "routes/etag.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "lib/http_syntax.h"
#include "middleware/encoding.h"

bool etag_of_body(const char *body, size_t len, char out[LIST_ETAG_MAX]) {
  unsigned char digest[32];
  gnutls_datum_t half = {digest, 16};
  char hex[33];
  size_t hex_len = sizeof(hex);

  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, body, len, digest) != 0 ||
      gnutls_hex_encode(&half, hex, &hex_len) != 0) {
    return false;
  }
  snprintf(out, LIST_ETAG_MAX, "\"l%s\"", hex);
  return true;
}

/* etagc: %x21 / %x23-7E / obs-text. */
static bool is_etagc(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* Whether quoted tag[0..len) is `etag` or its gzip variant: either names
 * the same content, and the caller may hold it in either coding. */
static bool same_representation(const char *tag, size_t len, const char *etag, size_t etag_len) {
  size_t suffix = sizeof(ETAG_GZIP_SUFFIX) - 1;
  if (len == etag_len) {
    return memcmp(tag, etag, etag_len) == 0;
  }
  return len == etag_len + suffix && etag_len >= 2 && memcmp(tag, etag, etag_len - 1) == 0 &&
         memcmp(tag + etag_len - 1, ETAG_GZIP_SUFFIX, suffix) == 0 && tag[len - 1] == '"';
}

enum etag_condition etag_if_none_match(const char *value, const char *etag) {
  const char *p = value;
  size_t etag_len = strlen(etag);
  bool matched = false;

  if (value == NULL) {
    return ETAG_ABSENT;
  }
  while (http_is_ows(*p)) {
    p++;
  }
  if (*p == '*') {
    for (p++; http_is_ows(*p); p++) {
    }
    return *p == '\0' ? ETAG_MATCH : ETAG_MALFORMED;
  }
  /* #entity-tag: elements between commas, empty ones allowed (RFC 9110
   * section 5.6.1), so an empty value or commas alone is a list that names
   * no tag, which nothing matches. */
  for (;;) {
    while (http_is_ows(*p) || *p == ',') {
      p++;
    }
    if (*p == '\0') {
      break;
    }
    const char *tag = p;
    if (p[0] == 'W' && p[1] == '/') {
      tag = p += 2; /* weak comparison: the opaque tags alone */
    }
    if (*p != '"') {
      return ETAG_MALFORMED;
    }
    for (p++; is_etagc((unsigned char)*p); p++) {
    }
    if (*p != '"') {
      return ETAG_MALFORMED;
    }
    p++;
    matched = matched || same_representation(tag, (size_t)(p - tag), etag, etag_len);
    while (http_is_ows(*p)) {
      p++;
    }
    if (*p != ',' && *p != '\0') {
      return ETAG_MALFORMED;
    }
  }
  return matched ? ETAG_MATCH : ETAG_NO_MATCH;
}

void etag_format(int32_t version, char out[ETAG_MAX]) {
  snprintf(out, ETAG_MAX, "\"v%d\"", (int)version);
}

/* value[0..len): "v" and 1 to 10 digits between quotes, no leading zero. */
static bool parse_version_tag(const char *value, size_t len, int32_t *version) {
  int64_t parsed = 0;

  if (len < 4 || len > 13 || value[0] != '"' || value[1] != 'v' || value[len - 1] != '"' ||
      (value[2] == '0' && len > 4)) {
    return false;
  }
  for (size_t i = 2; i < len - 1; i++) {
    if (value[i] < '0' || value[i] > '9') {
      return false;
    }
    parsed = parsed * 10 + (value[i] - '0');
  }
  if (parsed > INT32_MAX) {
    return false;
  }
  *version = (int32_t)parsed;
  return true;
}

bool etag_parse_if_match(const char *value, int32_t *version) {
  static const char GZIP_END[] = ETAG_GZIP_SUFFIX "\"";
  size_t suffix = sizeof(GZIP_END) - 1;
  char identity[16];
  size_t len;

  if (value == NULL) {
    return false;
  }
  if (strcmp(value, "*") == 0) {
    *version = -1;
    return true;
  }
  len = strlen(value);
  /* The gzip representation's tag ("v3-gz") names the same version. */
  if (len > suffix && len - suffix + 1 < sizeof(identity) &&
      memcmp(value + len - suffix, GZIP_END, suffix) == 0) {
    memcpy(identity, value, len - suffix);
    identity[len - suffix] = '"';
    return parse_version_tag(identity, len - suffix + 1, version);
  }
  return parse_version_tag(value, len, version);
}
