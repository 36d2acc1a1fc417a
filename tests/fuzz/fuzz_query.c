/* The query string of GET /user/:userId, from raw text to the MongoDB
 * filter, sort and projection it becomes. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "middleware/query.h"
#include "models/purchase_query.h"
#include "routes/list_params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *raw = fuzz_text(data, size);
  struct query_params params;
  struct purchase_query query = {0};
  const char *cursor = NULL;
  struct query_error error;

  if (raw == NULL) {
    return 0;
  }
  if (query_params_parse(raw, &params, &error) &&
      list_params_read(&params, &query, &cursor, &error)) {
    bson_t filter = BSON_INITIALIZER;
    bson_t sort = BSON_INITIALIZER;
    bson_t projection = BSON_INITIALIZER;
    snprintf(query.user_id, sizeof(query.user_id), "%s", "fuzz-user");
    purchase_query_filter(&query, false, &filter);
    purchase_query_sort(&query, &sort);
    purchase_query_projection(&query, &projection);
    bson_destroy(&projection);
    bson_destroy(&sort);
    bson_destroy(&filter);
  }
  free(raw);
  return 0;
}
