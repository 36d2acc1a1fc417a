#ifndef PURCHASES_TESTS_FUZZ_H
#define PURCHASES_TESTS_FUZZ_H

/* Every harness defines LLVMFuzzerTestOneInput; libFuzzer drives it under
 * `make fuzz`, and replay_main.c runs the saved corpus through it in
 * `make test`. */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated heap copy, so that reading one byte past
 * the end is an error AddressSanitizer sees. NULL when out of memory. */
char *fuzz_text(const uint8_t *data, size_t size);

#endif
