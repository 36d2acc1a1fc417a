/* Cursors come back from callers, who may have changed every byte. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "routes/cursor.h"

static const char SECRET[] = "fuzzing-secret-fuzzing-secret-fuzzing-secret";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char CONTEXT[] = "audit\0fuzz-user";
  char *token = fuzz_text(data, size);
  struct cursor_key key;
  struct purchase_query query = {0};
  struct purchase_position position;
  bool before;

  if (token == NULL || !cursor_key_init(&key, SECRET)) {
    free(token);
    return 0;
  }
  strcpy(query.user_id, "fuzz-user");
  cursor_decode(&key, &query, token, &position, &before);
  cursor_decode_context(&key, CONTEXT, sizeof(CONTEXT), 0x41, token, &position, &before);
  free(token);
  return 0;
}
