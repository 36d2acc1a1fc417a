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
  /* The database's own metrics count every read: no response cache. */
  const char *env[] = {"PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=2",
                       "PURCHASES_CACHE_BYTES=0", NULL};
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
  char path[192];
  char command[256];
  FILE *file;
  FILE *pipe;
  size_t n;
  int status;

  snprintf(path, sizeof(path), "%s/purchases-metrics-%d.txt", harness_tmp(), (int)getpid());
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
  ck_assert_double_ge(sample(r.body,
                             "http_request_duration_seconds_count{method=\"GET\",route=\"/user/"
                             ":userId\",status_class=\"2xx\"}"),
                      2);
  /* Refusals apart from answers: the 403 and the 429 above. */
  ck_assert_double_ge(sample(r.body,
                             "http_request_duration_seconds_count{method=\"GET\",route=\"/user/"
                             ":userId\",status_class=\"4xx\"}"),
                      2);
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

START_TEST(json_logs_to_a_file_one_object_per_line_with_the_trace_id) {
  struct ferretdb log_db;
  struct server log_server;
  char log_path[192];
  char log_env[256];
  struct http_response r;
  const char *headers[] = {"x-client-id: shop", "x-user-id: quinn",
                           "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                           NULL};
  bool access_line = false;
  int lines = 0;

  snprintf(log_path, sizeof(log_path), "%s/purchases-json-%d.log", harness_tmp(), (int)getpid());
  unlink(log_path);
  snprintf(log_env, sizeof(log_env), "PURCHASES_LOG_FILE=%s", log_path);
  const char *env[] = {"PURCHASES_LOG_FORMAT=json", "PURCHASES_LOG_TARGET=file", log_env, NULL};
  ck_assert(ferretdb_start(&log_db, "json_logs"));
  ck_assert(server_start(&log_server, log_db.uri, env));
  ck_assert(wait_for_status(log_server.port, "/readyz", 200, 15));
  ck_assert(http_request(log_server.port, "GET", "/user/quinn", headers, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  ck_assert_int_eq(server_stop(&log_server, 15), 0);
  ferretdb_stop(&log_db, false);

  FILE *file = fopen(log_path, "r");
  char line[4096];
  ck_assert_ptr_nonnull(file);
  while (fgets(line, sizeof(line), file) != NULL) {
    json_error_t error;
    json_t *j_line = json_loads(line, 0, &error);
    ck_assert_msg(j_line != NULL, "not JSON: %s (%s)", line, error.text);
    const char *time = json_string_value(json_object_get(j_line, "time"));
    ck_assert_ptr_nonnull(time);
    /* 2026-12-02T04:30:00.123Z: milliseconds. */
    ck_assert_uint_eq(strlen(time), 24);
    ck_assert_int_eq(time[19], '.');
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j_line, "level")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j_line, "message")));
    const char *route = json_string_value(json_object_get(j_line, "route"));
    if (route != NULL && strcmp(route, "/user/:userId") == 0) {
      access_line = true;
      ck_assert_str_eq(json_string_value(json_object_get(j_line, "method")), "GET");
      ck_assert_int_eq(json_integer_value(json_object_get(j_line, "status")), 200);
      ck_assert_str_eq(json_string_value(json_object_get(j_line, "client")), "shop");
      /* OpenTelemetry's names: the caller's trace, a span of our own. */
      ck_assert_str_eq(json_string_value(json_object_get(j_line, "trace_id")),
                       "4bf92f3577b34da6a3ce929d0e0e4736");
      const char *span = json_string_value(json_object_get(j_line, "span_id"));
      ck_assert_ptr_nonnull(span);
      ck_assert_uint_eq(strlen(span), 16);
      ck_assert_uint_eq(strspn(span, "0123456789abcdef"), 16);
      ck_assert_ptr_nonnull(json_string_value(json_object_get(j_line, "requestId")));
      ck_assert_str_eq(json_string_value(json_object_get(j_line, "message")),
                       "GET /user/:userId 200");
      /* To the microsecond: at most three decimals. */
      ck_assert(json_is_real(json_object_get(j_line, "durationMs")));
      const char *duration = strstr(line, "\"durationMs\":");
      ck_assert_ptr_nonnull(duration);
      const char *dot = strchr(duration, '.');
      ck_assert_ptr_nonnull(dot);
      ck_assert_uint_le(strspn(dot + 1, "0123456789"), 3);
    }
    json_decref(j_line);
    lines++;
  }
  fclose(file);
  unlink(log_path);
  ck_assert_int_ge(lines, 4);
  ck_assert(access_line);
}
END_TEST

/* Runs build/purchases --healthcheck against `port`; returns its exit code. */
static int run_healthcheck(int port) {
  char port_env[32];
  int status = 0;
  pid_t pid;

  snprintf(port_env, sizeof(port_env), "PURCHASES_PORT=%d", port);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char *const argv[] = {PURCHASES_BIN, "--healthcheck", NULL};
    char *const envp[] = {port_env, NULL};
    execve(PURCHASES_BIN, argv, envp);
    _exit(127);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(healthcheck_says_whether_the_service_answers) {
  ck_assert_int_eq(run_healthcheck(server.port), 0);
  ck_assert_int_eq(run_healthcheck(harness_free_port()), 1);
}
END_TEST

Suite *suite_operations(void) {
  Suite *suite = suite_create("operations");
  TCase *tc = tcase_create("metrics");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_add_test(tc, metrics_count_requests_by_route_pattern_and_pass_promtool);
  tcase_add_test(tc, json_logs_to_a_file_one_object_per_line_with_the_trace_id);
  tcase_add_test(tc, healthcheck_says_whether_the_service_answers);
  suite_add_tcase(suite, tc);
  return suite;
}
