#include "lib/http_syntax.h"

#include <string.h>

bool http_is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool http_is_ows(char c) {
  return c == ' ' || c == '\t';
}

size_t http_ows_trimmed_len(const char *value, size_t len) {
  while (len > 0 && http_is_ows(value[len - 1])) {
    len--;
  }
  return len;
}
