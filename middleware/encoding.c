#include "middleware/encoding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yder.h>

#include "lib/gzip.h"
#include "lib/http_syntax.h"
#include "middleware/request.h"

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. *p moves past it. */
static int read_qvalue(const char **p) {
  const char *s = *p;
  int value;
  int digits = 0;

  if (*s != '0' && *s != '1') {
    return -1;
  }
  value = (*s - '0') * 1000;
  s++;
  if (*s == '.') {
    int scale = 100;
    for (s++; *s >= '0' && *s <= '9' && digits < 3; s++, digits++) {
      value += (*s - '0') * scale;
      scale /= 10;
    }
    if (*s >= '0' && *s <= '9') {
      return -1; /* more than three decimals */
    }
  }
  if (value > 1000) {
    return -1;
  }
  *p = s;
  return value;
}

enum accept_gzip accept_encoding_gzip(const char *value) {
  const char *p = value;
  int gzip_q = -1; /* not listed */
  int star_q = -1;

  if (value == NULL) {
    return ACCEPT_GZIP_NO;
  }
  for (;;) {
    const char *name;
    size_t name_len;
    int q = 1000;

    while (http_is_ows(*p) || *p == ',') {
      p++;
    }
    if (*p == '\0') {
      break;
    }
    name = p;
    while (http_is_tchar((unsigned char)*p)) {
      p++;
    }
    name_len = (size_t)(p - name);
    if (name_len == 0) {
      return ACCEPT_GZIP_MALFORMED;
    }
    while (http_is_ows(*p)) {
      p++;
    }
    if (*p == ';') {
      for (p++; http_is_ows(*p); p++) {
      }
      if ((p[0] != 'q' && p[0] != 'Q') || p[1] != '=') {
        return ACCEPT_GZIP_MALFORMED;
      }
      p += 2;
      q = read_qvalue(&p);
      if (q < 0) {
        return ACCEPT_GZIP_MALFORMED;
      }
      while (http_is_ows(*p)) {
        p++;
      }
    }
    if (*p != ',' && *p != '\0') {
      return ACCEPT_GZIP_MALFORMED;
    }
    /* A coding listed more than once takes the lowest of its weights:
     * "gzip;q=0, gzip" refuses gzip as "gzip, gzip;q=0" does, whatever
     * order a proxy joined the lines in. */
    if ((name_len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
        (name_len == 6 && strncasecmp(name, "x-gzip", 6) == 0)) {
      gzip_q = gzip_q < 0 || q < gzip_q ? q : gzip_q;
    } else if (name_len == 1 && name[0] == '*') {
      star_q = star_q < 0 || q < star_q ? q : star_q;
    }
  }
  if (gzip_q >= 0) {
    return gzip_q > 0 ? ACCEPT_GZIP_YES : ACCEPT_GZIP_NO;
  }
  return star_q > 0 ? ACCEPT_GZIP_YES : ACCEPT_GZIP_NO;
}

bool encoding_etag_variant(const char *etag, char *out, size_t cap) {
  size_t len = strlen(etag);
  if (len < 2 || etag[0] != '"' || etag[len - 1] != '"' || len + sizeof(ETAG_GZIP_SUFFIX) > cap) {
    return false;
  }
  snprintf(out, cap, "%.*s" ETAG_GZIP_SUFFIX "\"", (int)(len - 1), etag);
  return true;
}

void encoding_apply(struct _u_response *response, bool gzip_ok) {
  unsigned char *packed = NULL;
  size_t packed_len = 0;

  if (response->binary_body == NULL || response->binary_body_length < GZIP_MIN_LENGTH) {
    return;
  }
  request_vary_add(response, "Accept-Encoding");
  if (!gzip_ok || u_map_has_key_case(response->map_header, "Content-Encoding")) {
    return;
  }
  if (!gzip_compress(response->binary_body, response->binary_body_length, 6, &packed,
                     &packed_len)) {
    y_log_message(Y_LOG_LEVEL_WARNING, "encoding: out of memory; the answer goes uncompressed");
    return;
  }
  ulfius_set_binary_body_response(response, (unsigned int)response->status, (const char *)packed,
                                  packed_len);
  u_map_put(response->map_header, "Content-Encoding", "gzip");
  free(packed);
  const char *etag = u_map_get_case(response->map_header, "ETag");
  char variant[96];
  if (etag != NULL && encoding_etag_variant(etag, variant, sizeof(variant))) {
    u_map_put(response->map_header, "ETag", variant);
  }
}
