#include "middleware/query.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* Decodes raw[0..len) into out (out_max bytes plus NUL). Returns the decoded
 * length, -1 for a malformed escape or a NUL, -2 when it does not fit. */
static long decode(const char *raw, size_t len, char *out, size_t out_max) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= len) {
        return -1;
      }
      int high = hex_value(raw[i + 1]);
      int low = high < 0 ? -1 : hex_value(raw[i + 2]);
      if (low < 0 || (high == 0 && low == 0)) {
        return -1;
      }
      c = (char)(high * 16 + low);
      i += 2;
    } else if (c == '+') {
      c = ' ';
    }
    if (n == out_max) {
      out[n] = '\0';
      return -2;
    }
    out[n++] = c;
  }
  out[n] = '\0';
  return (long)n;
}

bool text_is_clean_utf8(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p != '\0') {
    uint32_t cp;
    int extra;
    if (*p < 0x80) {
      if (*p < 0x20 || *p == 0x7f) {
        return false;
      }
      p++;
      continue;
    }
    if ((*p & 0xe0) == 0xc0) {
      cp = *p & 0x1f;
      extra = 1;
    } else if ((*p & 0xf0) == 0xe0) {
      cp = *p & 0x0f;
      extra = 2;
    } else if ((*p & 0xf8) == 0xf0) {
      cp = *p & 0x07;
      extra = 3;
    } else {
      return false;
    }
    p++;
    for (int i = 0; i < extra; i++, p++) {
      if ((*p & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (*p & 0x3f);
    }
    /* Overlong forms, surrogates, beyond Unicode, and C1 controls. */
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || (cp >= 0x80 && cp <= 0x9f)) {
      return false;
    }
  }
  return true;
}

const char *query_string_of(const char *url) {
  const char *mark = url != NULL ? strchr(url, '?') : NULL;
  return mark != NULL ? mark + 1 : NULL;
}

const char *query_params_get(const struct query_params *params, const char *name) {
  for (size_t i = 0; i < params->count; i++) {
    if (strcmp(params->params[i].name, name) == 0) {
      return params->params[i].value;
    }
  }
  return NULL;
}

bool query_params_parse(const char *raw, struct query_params *out, struct query_error *error) {
  char *err = error->detail;
  size_t err_len = sizeof(error->detail);

  out->count = 0;
  error->name[0] = '\0';
  err[0] = '\0';
  if (raw == NULL || raw[0] == '\0') {
    return true;
  }
  const char *segment = raw;
  for (;;) {
    size_t len = strcspn(segment, "&");
    const char *eq = memchr(segment, '=', len);
    size_t name_len = eq != NULL ? (size_t)(eq - segment) : len;
    struct query_param *param;

    error->name[0] = '\0';
    if (len == 0 || name_len == 0) {
      snprintf(err, err_len, "The query string has an empty parameter or a value without a name.");
      return false;
    }
    if (out->count == QUERY_PARAMS_MAX) {
      snprintf(err, err_len, "The query string has more than %d parameters.", QUERY_PARAMS_MAX);
      return false;
    }
    param = &out->params[out->count];
    long n = decode(segment, name_len, param->name, QUERY_NAME_MAX);
    /* What the error is about, once the name reads as text. */
    if (n != -1 && text_is_clean_utf8(param->name)) {
      memcpy(error->name, param->name, strlen(param->name) + 1);
    }
    if (n == -2) {
      snprintf(err, err_len, "Unknown query parameter '%.32s...'.", param->name);
      return false;
    }
    if (n < 0 || !text_is_clean_utf8(param->name)) {
      snprintf(err, err_len, "A query parameter name is not valid percent-encoded UTF-8 text.");
      return false;
    }
    if (eq == NULL || name_len + 1 == len) {
      snprintf(err, err_len, "Query parameter '%s' must not be empty.", param->name);
      return false;
    }
    n = decode(eq + 1, len - name_len - 1, param->value, QUERY_VALUE_MAX);
    if (n == -2) {
      snprintf(err, err_len, "Query parameter '%s' is longer than %d bytes.", param->name,
               QUERY_VALUE_MAX);
      return false;
    }
    if (n < 0 || !text_is_clean_utf8(param->value)) {
      snprintf(err, err_len,
               "Query parameter '%s' is not valid percent-encoded UTF-8 text without control "
               "characters.",
               param->name);
      return false;
    }
    if (query_params_get(out, param->name) != NULL) {
      snprintf(err, err_len, "Query parameter '%s' is given more than once.", param->name);
      return false;
    }
    out->count++;
    if (segment[len] == '\0') {
      return true;
    }
    segment += len + 1;
  }
}
