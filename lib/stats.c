#include "lib/stats.h"

const double STATS_BUCKETS[STATS_BUCKET_COUNT] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void histogram_observe(struct histogram *histogram, double seconds) {
  size_t i = 0;
  while (i < STATS_BUCKET_COUNT && seconds > STATS_BUCKETS[i]) {
    i++;
  }
  atomic_fetch_add_explicit(&histogram->buckets[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&histogram->sum_us,
                            seconds > 0 ? (unsigned long long)(seconds * 1e6 + 0.5) : 0,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&histogram->count, 1, memory_order_relaxed);
}

void histogram_write(FILE *out, const char *name, const char *labels,
                     const struct histogram *histogram) {
  unsigned long long cumulative = 0;
  const char *comma = labels[0] != '\0' ? "," : "";

  for (size_t i = 0; i <= STATS_BUCKET_COUNT; i++) {
    cumulative += atomic_load_explicit(&histogram->buckets[i], memory_order_relaxed);
    if (i < STATS_BUCKET_COUNT) {
      fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, comma, STATS_BUCKETS[i],
              cumulative);
    } else {
      fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, comma, cumulative);
    }
  }
  /* The count is the +Inf bucket as read above, so the two always agree
   * even while requests are being recorded. */
  if (labels[0] != '\0') {
    fprintf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels,
            (double)atomic_load_explicit(&histogram->sum_us, memory_order_relaxed) / 1e6, name,
            labels, cumulative);
  } else {
    fprintf(out, "%s_sum %.6f\n%s_count %llu\n", name,
            (double)atomic_load_explicit(&histogram->sum_us, memory_order_relaxed) / 1e6, name,
            cumulative);
  }
}
