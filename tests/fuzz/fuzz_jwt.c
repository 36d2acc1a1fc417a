/* Bearer tokens: the Authorization header's value, through the same
 * verifier the service uses, against keys made at start (so no fuzz input
 * can carry a valid signature: what is exercised is everything before and
 * around the signature check, where a hostile token meets parsers). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../support/tokens.h"
#include "fuzz.h"
#include "middleware/authn.h"
#include "middleware/jwt.h"

#define ISSUER   "https://issuer.fuzz"
#define AUDIENCE "purchases"

static struct jwt_verifier *verifier;

/* Made once per process and kept: libFuzzer runs every input in it. */
static struct jwt_verifier *verifier_once(void) {
  struct tokens_keys *keys;
  char path[64];
  char err[256];
  int fd;

  if (verifier != NULL) {
    return verifier;
  }
  snprintf(path, sizeof(path), "/tmp/purchases-fuzz-jwks.XXXXXX");
  fd = mkstemp(path);
  keys = tokens_keys_new();
  if (fd < 0 || keys == NULL || !tokens_write_jwks(keys, path)) {
    fprintf(stderr, "fuzz_jwt: cannot make the keys\n");
    abort();
  }
  close(fd);
  verifier = jwt_verifier_new(path, ISSUER, AUDIENCE, err, sizeof(err));
  unlink(path);
  tokens_keys_free(keys);
  if (verifier == NULL) {
    fprintf(stderr, "fuzz_jwt: %s\n", err);
    abort();
  }
  return verifier;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *header = fuzz_text(data, size);
  struct jwt_identity identity;
  char reason[160];
  const char *token;

  if (header == NULL) {
    return 0;
  }
  token = bearer_token_of(header);
  jwt_verify(verifier_once(), token != NULL ? token : header, 1700000000, &identity, reason,
             sizeof(reason));
  free(header);
  return 0;
}
