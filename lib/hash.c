#include "lib/hash.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

uint64_t hash_bytes(const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t hash = FNV_OFFSET;
  for (size_t i = 0; i < len; i++) {
    hash = (hash ^ p[i]) * FNV_PRIME;
  }
  return hash;
}

uint64_t hash_string(const char *s) {
  uint64_t hash = FNV_OFFSET;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    hash = (hash ^ *p) * FNV_PRIME;
  }
  return hash;
}
