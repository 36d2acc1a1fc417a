#include "lib/words.h"

#include <stdbool.h>
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
