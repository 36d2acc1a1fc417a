#ifndef PURCHASES_LIB_STATS_H
#define PURCHASES_LIB_STATS_H

/* Counters and latency histograms for /metrics. Recording is a few relaxed
 * atomic additions: no lock on the request path. */

#include <stdatomic.h>
#include <stdio.h>

/* Upper bounds of the histogram buckets, in seconds (Prometheus's "le"). */
#define STATS_BUCKET_COUNT 14
extern const double STATS_BUCKETS[STATS_BUCKET_COUNT];

struct histogram {
  atomic_ullong buckets[STATS_BUCKET_COUNT + 1]; /* per bucket, the last is +Inf */
  atomic_ullong sum_us;                          /* microseconds, summed */
  atomic_ullong count;
};

void histogram_observe(struct histogram *histogram, double seconds);

/* Writes the _bucket (cumulative), _sum and _count lines of `name` with the
 * label text `labels` (e.g. "route=\"/user/:userId\"", or "" for none). */
void histogram_write(FILE *out, const char *name, const char *labels,
                     const struct histogram *histogram);

#endif
