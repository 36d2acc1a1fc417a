#include "routes/etag.h"

#include <stdio.h>
#include <string.h>

void etag_format(int32_t version, char out[ETAG_MAX]) {
  snprintf(out, ETAG_MAX, "\"v%d\"", (int)version);
}

bool etag_parse_if_match(const char *value, int32_t *version) {
  int64_t parsed = 0;
  size_t len;

  if (value == NULL) {
    return false;
  }
  if (strcmp(value, "*") == 0) {
    *version = -1;
    return true;
  }
  len = strlen(value);
  /* "v" and 1 to 10 digits between quotes, no leading zero. */
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
