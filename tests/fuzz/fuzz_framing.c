/* The framing checks of a request head (middleware/framing.c). The input
 * is a head as a client would send it: a request line, then "name:value"
 * lines; bytes such as NUL stay inside the pieces, as they would arrive.
 * The pieces are also handed to the gap check over the input itself. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "middleware/framing.h"

#define MAX_HEADERS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct framing_header headers[MAX_HEADERS];
  struct framing_piece pieces[3 + 2 * MAX_HEADERS];
  struct framing_verdict verdict;
  char *text = fuzz_text(data, size);
  char *line;
  char *end;
  char *method;
  char *url;
  char *version;
  size_t count = 0;
  size_t n = 0;

  if (text == NULL) {
    return 0;
  }
  end = memchr(text, '\n', size);
  if (end == NULL) {
    goto done;
  }
  *end = '\0';
  method = text;
  url = strchr(method, ' ');
  version = url != NULL ? strchr(url + 1, ' ') : NULL;
  if (version == NULL) {
    goto done;
  }
  *url++ = '\0';
  *version++ = '\0';
  for (line = end + 1; line < text + size && count < MAX_HEADERS;) {
    size_t left = (size_t)(text + size - line);
    char *next = memchr(line, '\n', left);
    size_t len = next != NULL ? (size_t)(next - line) : left;
    char *colon = memchr(line, ':', len);
    if (colon == NULL) {
      break;
    }
    headers[count++] = (struct framing_header){.name = line,
                                               .name_len = (size_t)(colon - line),
                                               .value = colon + 1,
                                               .value_len = len - (size_t)(colon + 1 - line)};
    if (next == NULL) {
      break;
    }
    *next = '\0';
    line = next + 1;
  }
  framing_check(&(struct framing_head){.method = method,
                                       .version = version,
                                       .url = url,
                                       .headers = headers,
                                       .header_count = count},
                &verdict);
  pieces[n++] = (struct framing_piece){method, strlen(method)};
  pieces[n++] = (struct framing_piece){url, strlen(url)};
  pieces[n++] = (struct framing_piece){version, strlen(version)};
  for (size_t i = 0; i < count; i++) {
    pieces[n++] = (struct framing_piece){headers[i].name, headers[i].name_len};
    pieces[n++] = (struct framing_piece){headers[i].value, headers[i].value_len};
  }
  framing_head_bytes(text, size, pieces, n);
  framing_is_utf8(text, size);

done:
  free(text);
  return 0;
}
