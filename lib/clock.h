#ifndef PURCHASES_LIB_CLOCK_H
#define PURCHASES_LIB_CLOCK_H

/* CLOCK_MONOTONIC: for every deadline, bucket and TTL (never wall time). */

#include <stdint.h>

uint64_t clock_monotonic_ms(void);
double clock_monotonic_s(void);

#endif
