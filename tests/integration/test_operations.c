/* What operators see: /metrics, checked by Prometheus's own parser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/harness.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;

static void setup(void) {
  const char *env[] = {"PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=2", NULL};
  ck_assert(ferretdb_start(&db, "operations"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* The value of the sample line that starts with `series` ("name{labels}"),
 * or -1 when there is none. */
static double sample(const char *text, const char *series) {
  size_t len = strlen(series);
  for (const char *line = text; line != NULL && *line != '\0';) {
    if (strncmp(line, series, len) == 0 && line[len] == ' ') {
      return strtod(line + len + 1, NULL);
    }
    line = strchr(line, '\n');
    line = line != NULL ? line + 1 : NULL;
  }
  return -1;
}

/* Runs `promtool check metrics` on the text; returns its exit code and
 * its complaints in out. */
static int promtool_check(const char *text, char *out, size_t out_len) {
  char path[64];
  char command[160];
  FILE *file;
  FILE *pipe;
  size_t n;
  int status;

  snprintf(path, sizeof(path), "/tmp/purchases-metrics-%d.txt", (int)getpid());
  file = fopen(path, "w");
  ck_assert_ptr_nonnull(file);
  fputs(text, file);
  fclose(file);
  snprintf(command, sizeof(command), "promtool check metrics < %s 2>&1", path);
  pipe = popen(command, "r");
  ck_assert_ptr_nonnull(pipe);
  n = fread(out, 1, out_len - 1, pipe);
  out[n] = '\0';
  status = pclose(pipe);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(metrics_count_requests_by_route_pattern_and_pass_promtool) {
  struct http_response r;
  char complaints[4096];

  /* Two answered reads, one 403, one 404, then over the limit (1 a second,
   * bursts of 2, for shop/olga): at least one 429. */
  for (int i = 0; i < 2; i++) {
    ck_assert(http_get_as(server.port, "/user/olga", "shop", "olga", &r));
    http_response_cleanup(&r);
  }
  ck_assert(http_get_as(server.port, "/user/someone-else", "shop", "pavel", &r));
  ck_assert_int_eq(r.status, 403);
  http_response_cleanup(&r);
  ck_assert(http_request(server.port, "GET", "/nowhere", NULL, &r));
  http_response_cleanup(&r);
  for (long status = 0, i = 0; status != 429 && i < 50; i++) {
    ck_assert(http_get_as(server.port, "/user/olga", "shop", "olga", &r));
    status = r.status;
    http_response_cleanup(&r);
  }

  ck_assert(http_request(server.port, "GET", "/metrics", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  char type[64];
  ck_assert_str_eq(http_header(&r, "Content-Type", type, sizeof(type)),
                   "text/plain; version=0.0.4; charset=utf-8");
  ck_assert_double_ge(
      sample(r.body, "http_requests_total{method=\"GET\",route=\"/user/:userId\",status=\"200\"}"),
      2);
  ck_assert_double_eq(
      sample(r.body, "http_requests_total{method=\"GET\",route=\"/user/:userId\",status=\"403\"}"),
      1);
  ck_assert_double_eq(
      sample(r.body, "http_requests_total{method=\"GET\",route=\"-\",status=\"404\"}"), 1);
  ck_assert_double_ge(
      sample(r.body, "http_requests_total{method=\"GET\",route=\"/user/:userId\",status=\"429\"}"),
      1);
  ck_assert_double_ge(sample(r.body, "purchases_rate_limited_total"), 1);
  /* Route labels are patterns: raw paths never become series. */
  ck_assert_ptr_null(strstr(r.body, "olga"));
  ck_assert_ptr_null(strstr(r.body, "/nowhere"));
  ck_assert_double_ge(
      sample(r.body, "http_request_duration_seconds_count{route=\"/user/:userId\"}"), 4);
  ck_assert_double_ge(
      sample(r.body, "purchases_db_operation_duration_seconds_count{operation=\"purchase_list\"}"),
      2);
  ck_assert_double_ge(sample(r.body, "purchases_db_pool_wait_seconds_count"), 2);
  ck_assert_double_eq(sample(r.body, "purchases_db_errors_total{kind=\"unavailable\"}"), 0);
  ck_assert_double_ge(sample(r.body, "http_requests_in_flight"), 1); /* this very request */
  ck_assert_double_gt(sample(r.body, "process_resident_memory_bytes"), 1e6);
  ck_assert_double_gt(sample(r.body, "process_open_fds"), 3);
  ck_assert_double_gt(sample(r.body, "process_start_time_seconds"), 1.7e9);
  ck_assert_ptr_nonnull(strstr(r.body, "purchases_build_info{version=\""));

  ck_assert_msg(promtool_check(r.body, complaints, sizeof(complaints)) == 0, "promtool: %s",
                complaints);
  http_response_cleanup(&r);
}
END_TEST

Suite *suite_operations(void) {
  Suite *suite = suite_create("operations");
  TCase *tc = tcase_create("metrics");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_add_test(tc, metrics_count_requests_by_route_pattern_and_pass_promtool);
  suite_add_tcase(suite, tc);
  return suite;
}
