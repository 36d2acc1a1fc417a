#include "routes/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <sys/resource.h>

#include "routes/context.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "routes/cached_read.h"
#include "version.h"

/* Resident memory in bytes, from /proc/self/statm; 0 when unreadable. */
static unsigned long long resident_bytes(void) {
  unsigned long long size = 0;
  unsigned long long resident = 0;
  FILE *statm = fopen("/proc/self/statm", "r");

  if (statm != NULL) {
    if (fscanf(statm, "%llu %llu", &size, &resident) != 2) {
      resident = 0;
    }
    fclose(statm);
  }
  return resident * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Open file descriptors: the entries of /proc/self/fd, less the one the
 * count itself opens. */
static long open_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *entry;
  long count = 0;

  if (dir == NULL) {
    return 0;
  }
  while ((entry = readdir(dir)) != NULL) {
    count += entry->d_name[0] != '.';
  }
  closedir(dir);
  return count > 0 ? count - 1 : 0;
}

/* User plus system CPU time of the process. */
static double cpu_seconds(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) {
    return 0;
  }
  return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
         (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static unsigned long long max_fds(void) {
  struct rlimit limit;
  return getrlimit(RLIMIT_NOFILE, &limit) == 0 ? (unsigned long long)limit.rlim_cur : 0;
}

int callback_metrics_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data) {
  const struct probes_context *probes = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  char *text = NULL;
  size_t len = 0;
  FILE *out;

  (void)request;
  if (ctx == NULL || ctx->answered) {
    return U_CALLBACK_CONTINUE;
  }
  out = open_memstream(&text, &len);
  if (out == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The metrics could not be written.");
    return U_CALLBACK_CONTINUE;
  }
  metrics_write_http(out, atomic_load(&probes->tracker->in_flight));
  if (probes->write_serving_metrics != NULL) {
    probes->write_serving_metrics(probes->serving_metrics_arg, out);
  }
  db_write_metrics(probes->db, out);
  fprintf(out,
          "# HELP purchases_cache_enabled Whether the response cache is on.\n"
          "# TYPE purchases_cache_enabled gauge\npurchases_cache_enabled %d\n",
          probes->cache != NULL ? 1 : 0);
  if (probes->cache != NULL) {
    cache_write_metrics(probes->cache, out);
  }
  cached_read_write_metrics(out);
  versions_write_metrics(probes->versions, out);
  rate_limit_write_metrics(probes->rate_limit->limiter, probes->rate_limit->redis != NULL, out);
  fprintf(out,
          "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
          "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
          "# HELP process_open_fds Number of open file descriptors.\n"
          "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n"
          "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
          "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n"
          "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n"
          "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n"
          "# HELP process_max_fds The open-file limit (soft), as raised at start.\n"
          "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
          "# HELP purchases_database_up Whether the last check (every few seconds, and at "
          "every /readyz) reached the database.\n"
          "# TYPE purchases_database_up gauge\npurchases_database_up %d\n"
          "# HELP purchases_build_info The running build; always 1.\n"
          "# TYPE purchases_build_info gauge\n"
          "purchases_build_info{version=\"%s\",commit=\"%s\"} 1\n",
          resident_bytes(), open_fds(), (long long)probes->started_at, cpu_seconds(), max_fds(),
          atomic_load(probes->database_up) ? 1 : 0, PURCHASES_VERSION, PURCHASES_COMMIT);
  if (fclose(out) != 0 || text == NULL) {
    free(text);
    problem_send(response, PROBLEM_INTERNAL, "The metrics could not be written.");
    return U_CALLBACK_CONTINUE;
  }
  ulfius_set_binary_body_response(response, 200, text, len);
  u_map_put(response->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  ctx->answered = true;
  free(text);
  return U_CALLBACK_CONTINUE;
}
