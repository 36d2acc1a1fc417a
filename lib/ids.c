#include "lib/ids.h"

#include <string.h>

static bool id_char(char c, enum id_charset charset) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || (charset == ID_DOTTED && c == '.');
}

bool id_is_valid_n(const char *text, size_t len, enum id_charset charset) {
  if (text == NULL || len == 0 || len > ID_MAX) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (!id_char(text[i], charset)) {
      return false;
    }
  }
  return true;
}

bool id_is_valid(const char *text, enum id_charset charset) {
  return text != NULL && id_is_valid_n(text, strnlen(text, ID_MAX + 1), charset);
}
