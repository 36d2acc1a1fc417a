/* The small parsers of header and path values. The first byte picks one,
 * the rest is its input. Every input is also a header value that
 * request_headers_trim() must cut to its prefix without the white space
 * that ends it, leaving the other headers as they were. */
#include <stdlib.h>
#include <string.h>

#include <ulfius.h>

#include "fuzz.h"
#include "lib/http_syntax.h"
#include "middleware/authn.h"
#include "middleware/authz.h"
#include "middleware/client_id.h"
#include "middleware/request.h"
#include "models/dates.h"
#include "routes/etag.h"
#include "routes/purchases.h"

/* request_headers_trim() on a map of the input and one value it must cut
 * to "v"; abort() when either comes out otherwise. */
static void check_trim(const char *text) {
  struct _u_map headers;
  const char *value;
  size_t len;

  if (u_map_init(&headers) != U_OK) {
    return;
  }
  if (u_map_put(&headers, "x-fuzz", text) == U_OK &&
      u_map_put(&headers, "x-other", "v \t") == U_OK && request_headers_trim(&headers)) {
    value = u_map_get(&headers, "x-fuzz");
    len = value != NULL ? strlen(value) : 0;
    if (value == NULL || (len > 0 && http_is_ows(value[len - 1])) ||
        strncmp(value, text, len) != 0 ||
        (text[len] != '\0' && text[len + strspn(text + len, " \t")] != '\0')) {
      abort();
    }
    value = u_map_get(&headers, "x-other");
    if (value == NULL || strcmp(value, "v") != 0) {
      abort();
    }
  }
  u_map_clean(&headers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text;
  int64_t ms;
  int32_t version;

  if (size == 0) {
    return 0;
  }
  text = fuzz_text(data + 1, size - 1);
  if (text == NULL) {
    return 0;
  }
  switch (data[0] % 9) {
    case 0:
      request_id_is_valid(text);
      break;
    case 1:
      url_encoding_is_valid(text);
      break;
    case 2:
      user_id_is_valid(text);
      break;
    case 3:
      client_id_is_valid(text);
      break;
    case 4:
      access_reason_is_valid(text);
      break;
    case 5:
      idempotency_key_is_valid(text);
      break;
    case 6:
      etag_parse_if_match(text, &version);
      break;
    case 7:
      parse_timestamp(text, &ms);
      break;
    default:
      bearer_token_of(text);
      break;
  }
  check_trim(text);
  free(text);
  return 0;
}
