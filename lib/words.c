#include "lib/words.h"

#include <stdbool.h>
#include <string.h>
#include <stdio.h>

void words_join(words_at_fn word_at, const void *list, const char *last, char *out, size_t len) {
  size_t count = 0;
  size_t n = 0;

  while (word_at(list, count) != NULL) {
    count++;
  }
  out[0] = '\0';
  for (size_t i = 0; i < count && n < len; i++) {
    bool final = i > 0 && i + 1 == count && last != NULL;
    int wrote = snprintf(out + n, len - n, "%s%s%s%s",
                         i == 0  ? ""
                         : final ? " "
                                 : ", ",
                         final ? last : "", final ? " " : "", word_at(list, i));
    if (wrote < 0) {
      break;
    }
    n += (size_t)wrote;
  }
}

const char *words_of_array(const void *list, size_t i) {
  return ((const char *const *)list)[i];
}

/* Escaped so that no caller can forge a log line, reach the terminal or
 * break the JSON encoder of the log. */
void words_escape(const char *bytes, char *out, size_t out_len) {
  static const char HEX[] = "0123456789abcdef";
  size_t n = 0;
  size_t i = 0;

  for (; bytes != NULL && bytes[i] != '\0'; i++) {
    unsigned char c = (unsigned char)bytes[i];
    bool plain = c >= 0x21 && c < 0x7f && c != '"' && c != '\\';
    size_t need = plain ? 1 : 4;
    if (n + need + 4 > out_len) {
      break;
    }
    if (plain) {
      out[n++] = (char)c;
    } else {
      out[n++] = '\\';
      out[n++] = 'x';
      out[n++] = HEX[c >> 4];
      out[n++] = HEX[c & 0x0f];
    }
  }
  if (bytes != NULL && bytes[i] != '\0') {
    memcpy(out + n, "...", 3);
    n += 3;
  }
  out[n] = '\0';
}

void words_json_pointer(const char *base, const char *name, char *out, size_t len) {
  size_t n = (size_t)snprintf(out, len, "%s/", base);

  if (n >= len) {
    n = len - 1;
  }
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && n + 3 < len; p++) {
    if (*p == '~' || *p == '/') {
      out[n++] = '~';
      out[n++] = *p == '~' ? '0' : '1';
    } else {
      out[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
    }
  }
  out[n] = '\0';
}

const char *words_json_fault(const json_error_t *error) {
  switch (json_error_code(error)) {
    case json_error_invalid_utf8:
      return "it is not valid UTF-8";
    case json_error_premature_end_of_input:
      return "it ends before the value does";
    case json_error_end_of_input_expected:
      return "something follows the value";
    case json_error_null_character:
    case json_error_null_byte_in_key:
      return "a string holds \\u0000";
    case json_error_duplicate_key:
      return "an object has a duplicate key";
    case json_error_numeric_overflow:
      return "a number is too large";
    case json_error_stack_overflow:
      return "it is nested too deeply";
    default:
      return "it breaks the JSON syntax";
  }
}
