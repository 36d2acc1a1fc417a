/* A write body: parsed as the service parses it, validated, hashed, and
 * when valid mapped back to the public JSON. */
#include <stdlib.h>

#include <jansson.h>

#include "fuzz.h"
#include "models/purchase_json.h"
#include "models/purchase_validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j_body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  json_t *j_errors = NULL;
  bson_t doc = BSON_INITIALIZER;
  char hash[65];

  if (j_body == NULL) {
    return 0;
  }
  purchase_body_hash(j_body, hash);
  if (purchase_validate(j_body, "fuzz-id", &doc, &j_errors)) {
    json_t *j_back = purchase_to_json(&doc);
    if (j_back == NULL) {
      abort(); /* a valid purchase always maps back */
    }
    json_decref(j_back);
  }
  json_decref(j_errors);
  json_decref(j_body);
  bson_destroy(&doc);
  return 0;
}
