#ifndef PURCHASES_MODELS_DATES_H
#define PURCHASES_MODELS_DATES_H

#include <stdbool.h>
#include <stdint.h>

/* Parses an ISO-8601 date ("2024-02-29", midnight UTC) or date-time with a
 * zone ("2024-02-29T13:05:00Z", "...T13:05:00.250+01:00", seconds and
 * fraction optional) into milliseconds since the epoch. Rejects impossible
 * dates and times, and years outside 0001 to 9999. */
bool parse_timestamp(const char *text, int64_t *ms);

#endif
