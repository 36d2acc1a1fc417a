#ifndef PURCHASES_LIB_HASH_H
#define PURCHASES_LIB_HASH_H

/* FNV-1a, 64 bits: the hash of every in-memory table (rate-limit buckets,
 * cache entries, version stripes). Not for anything an attacker may aim
 * collisions at beyond a slower probe: keys are compared whole. */

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *data, size_t len);
uint64_t hash_string(const char *s);

#endif
