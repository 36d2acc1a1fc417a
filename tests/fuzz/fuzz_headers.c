/* The small parsers of header and path values. The first byte picks one,
 * the rest is its input. */
#include <stdlib.h>

#include "fuzz.h"
#include "middleware/authn.h"
#include "middleware/authz.h"
#include "middleware/client_id.h"
#include "middleware/request.h"
#include "models/dates.h"
#include "routes/etag.h"
#include "routes/purchases.h"

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
  free(text);
  return 0;
}
