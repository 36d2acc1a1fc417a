/* The service around its database: down at start, lost and found again, and
 * a clean stop with a request in flight. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "suites.h"

static const char *const SHOP_USER[] = {"x-client-id: shop", "x-user-id: u1", NULL};

static long get_status(int port, const char *path, const char *const *headers) {
  struct http_response r;
  long status = -1;
  if (http_request(port, "GET", path, headers, &r)) {
    status = r.status;
  }
  http_response_cleanup(&r);
  return status;
}

static bool wait_for_user_status(int port, long status, int timeout_s) {
  for (int i = 0; i < timeout_s * 10; i++) {
    if (get_status(port, "/user/u1", SHOP_USER) == status) {
      return true;
    }
    usleep(100 * 1000);
  }
  return false;
}

static void expect_503(int port, const char *path, const char *const *headers) {
  struct http_response r;
  char buf[64];
  ck_assert(http_request(port, "GET", path, headers, &r));
  ck_assert_int_eq(r.status, 503);
  ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)), "application/problem+json");
  ck_assert_str_eq(http_header(&r, "Retry-After", buf, sizeof(buf)), "2");
  /* A 5xx shows no internals: no driver message, no host names. */
  ck_assert_ptr_null(strstr(r.body, "127.0.0.1"));
  ck_assert_ptr_null(strstr(r.body, "mongo"));
  http_response_cleanup(&r);
}

START_TEST(starts_without_database_and_recovers) {
  struct ferretdb db;
  struct server server;
  /* Reserve a folder and port, but do not start FerretDB yet. */
  ck_assert(ferretdb_start(&db, "lifecycle_a"));
  ferretdb_stop(&db, true);

  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert_int_eq(get_status(server.port, "/healthz", NULL), 200);
  expect_503(server.port, "/readyz", NULL);
  expect_503(server.port, "/user/u1", SHOP_USER);

  ck_assert(ferretdb_restart(&db));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 20));
  ck_assert(wait_for_user_status(server.port, 200, 10));

  ck_assert_int_eq(server_stop(&server, 15), 0);
  ferretdb_stop(&db, false);
}
END_TEST

START_TEST(database_lost_and_back_needs_no_restart) {
  /* About the database path: the cache would answer a read it holds. */
  const char *env[] = {"PURCHASES_CACHE_BYTES=0", NULL};
  struct ferretdb db;
  struct server server;
  ck_assert(ferretdb_start(&db, "lifecycle_b"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  ck_assert_int_eq(get_status(server.port, "/user/u1", SHOP_USER), 200);

  ferretdb_stop(&db, true);
  ck_assert(wait_for_user_status(server.port, 503, 15));
  expect_503(server.port, "/user/u1", SHOP_USER);
  expect_503(server.port, "/readyz", NULL);

  ck_assert(ferretdb_restart(&db));
  ck_assert(wait_for_user_status(server.port, 200, 20));
  ck_assert_int_eq(get_status(server.port, "/readyz", NULL), 200);

  ck_assert_int_eq(server_stop(&server, 15), 0);
  ferretdb_stop(&db, false);
}
END_TEST

struct in_flight {
  int port;
  long status;
  char body[128];
};

static void *request_thread(void *data) {
  struct in_flight *flight = data;
  struct http_response r;
  if (http_request(flight->port, "GET", "/user/u1", SHOP_USER, &r)) {
    flight->status = r.status;
    snprintf(flight->body, sizeof(flight->body), "%s", r.body);
  }
  http_response_cleanup(&r);
  return NULL;
}

START_TEST(sigterm_lets_the_request_in_flight_finish) {
  struct ferretdb db;
  struct server server;
  struct in_flight flight = {0, -1, ""};
  pthread_t thread;

  ck_assert(ferretdb_start(&db, "lifecycle_c"));
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  ck_assert_int_eq(get_status(server.port, "/user/u1", SHOP_USER), 200);

  /* Freeze the database so the next request is stuck inside the server. */
  ferretdb_pause(&db);
  flight.port = server.port;
  ck_assert_int_eq(pthread_create(&thread, NULL, request_thread, &flight), 0);
  usleep(300 * 1000);
  kill(server.pid, SIGTERM);
  usleep(300 * 1000);
  /* Draining: the listening socket is closed to new connections. */
  ck_assert_int_eq(get_status(server.port, "/healthz", NULL), -1);
  ferretdb_resume(&db);

  ck_assert_int_eq(pthread_join(thread, NULL), 0);
  ck_assert_int_eq(flight.status, 200);
  ck_assert_str_eq(flight.body, "{\"data\":[],\"page\":{\"limit\":20,\"hasMore\":false,"
                                "\"nextCursor\":null,\"prevCursor\":null}}");
  ck_assert_int_eq(server_stop(&server, 15), 0);
  ferretdb_stop(&db, false);
}
END_TEST

/* With a drain delay, SIGTERM first makes the instance not ready while it
 * still answers, so that a balancer takes it out before it stops accepting. */
START_TEST(a_drain_delay_keeps_serving_while_not_ready) {
  const char *env[] = {"PURCHASES_DRAIN_DELAY_MS=5000", NULL};
  struct ferretdb db;
  struct server server;

  ck_assert(ferretdb_start(&db, "lifecycle_d"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  kill(server.pid, SIGTERM);
  ck_assert(wait_for_status(server.port, "/readyz", 503, 3));
  ck_assert_int_eq(get_status(server.port, "/user/u1", SHOP_USER), 200);
  ck_assert_int_eq(get_status(server.port, "/healthz", NULL), 200);
  ck_assert_int_eq(server_stop(&server, 20), 0);
  ferretdb_stop(&db, false);
}
END_TEST

START_TEST(bad_configuration_exits_2_naming_the_variable) {
  struct server server;
  const char *env[] = {"PURCHASES_LOG_LEVEL=loud", NULL};
  ck_assert(!server_start(&server, "mongodb://127.0.0.1:1/x", env));
  ck_assert_int_eq(server_stop(&server, 5), 2);
  char *log = server_log(&server);
  ck_assert_ptr_nonnull(strstr(log, "PURCHASES_LOG_LEVEL"));
  free(log);
}
END_TEST

/* Starts the server with one bad setting and asserts what the operator
 * sees: exit code 2 and exactly one line, on stdout and stderr together,
 * naming `variable`. */
static void assert_one_line_exit_2(const char *const *env, const char *variable) {
  struct server server;
  char *log;
  char *newline;

  ck_assert_msg(!server_start(&server, "mongodb://127.0.0.1:1/x", env), "%s: it started", variable);
  ck_assert_int_eq(server_stop(&server, 5), 2);
  log = server_log(&server);
  ck_assert_ptr_nonnull(log);
  newline = strchr(log, '\n');
  ck_assert_msg(newline != NULL && newline[1] == '\0', "%s: not exactly one line:\n%s", variable,
                log);
  ck_assert_msg(strncmp(log, "purchases: ", 11) == 0, "%s: %s", variable, log);
  ck_assert_msg(strstr(log, variable) != NULL, "%s not named: %s", variable, log);
  free(log);
  unlink(server.log_path);
}

START_TEST(every_bad_value_is_one_line_naming_it_and_exit_2) {
  char dir[192];
  char bad_file[256];
  char jwks_env[320];
  char cert_env[320];
  char key_env[320];
  char log_file_env[320];
  FILE *file;

  snprintf(dir, sizeof(dir), "%s/purchases-lc.XXXXXX", harness_tmp());
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(bad_file, sizeof(bad_file), "%s/bad", dir);
  file = fopen(bad_file, "w");
  ck_assert_ptr_nonnull(file);
  fputs("{\"keys\": []}\n", file);
  fclose(file);
  snprintf(jwks_env, sizeof(jwks_env), "PURCHASES_JWKS_FILE=%s", bad_file);
  snprintf(cert_env, sizeof(cert_env), "PURCHASES_TLS_CERT=%s", bad_file);
  snprintf(key_env, sizeof(key_env), "PURCHASES_TLS_KEY=%s", bad_file);
  snprintf(log_file_env, sizeof(log_file_env), "PURCHASES_LOG_FILE=%s/missing/x.log", dir);

  /* The driver used to add its own three lines to ours. */
  const char *uri_empty_host[] = {"MONGODB_URI=mongodb://", NULL};
  assert_one_line_exit_2(uri_empty_host, "MONGODB_URI");
  const char *uri_scheme[] = {"MONGODB_URI=postgres://x", NULL};
  assert_one_line_exit_2(uri_scheme, "MONGODB_URI");
  const char *uri_option[] = {"MONGODB_URI=mongodb://127.0.0.1/?replicaSet=", NULL};
  assert_one_line_exit_2(uri_option, "MONGODB_URI");
  const char *uri_ca_file[] = {"MONGODB_URI=mongodb://127.0.0.1/?tls=true&tlsCAFile=/nonexistent",
                               NULL};
  assert_one_line_exit_2(uri_ca_file, "MONGODB_URI");
  const char *port[] = {"PURCHASES_PORT=0", NULL};
  assert_one_line_exit_2(port, "PURCHASES_PORT");
  const char *failures[] = {"PURCHASES_AUTH_FAILURES_BURST=0", NULL};
  assert_one_line_exit_2(failures, "PURCHASES_AUTH_FAILURES_BURST");
  const char *clients[] = {"PURCHASES_CLIENTS=shop:king", NULL};
  assert_one_line_exit_2(clients, "PURCHASES_CLIENTS");
  /* Values that are well formed but name a file that cannot be used:
   * found after the configuration loaded, reported the same way. */
  const char *jwks[] = {"PURCHASES_AUTH=jwt", jwks_env, "PURCHASES_JWT_ISSUER=i",
                        "PURCHASES_JWT_AUDIENCE=a", NULL};
  assert_one_line_exit_2(jwks, "PURCHASES_JWKS_FILE");
  const char *tls[] = {cert_env, key_env, NULL};
  assert_one_line_exit_2(tls, "PURCHASES_TLS_CERT");
  const char *log_file[] = {"PURCHASES_LOG_TARGET=file", log_file_env, NULL};
  assert_one_line_exit_2(log_file, "PURCHASES_LOG_FILE");

  unlink(bad_file);
  ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

Suite *suite_lifecycle(void) {
  Suite *suite = suite_create("lifecycle");
  TCase *tc = tcase_create("database_and_signals");
  tcase_add_test(tc, starts_without_database_and_recovers);
  tcase_add_test(tc, database_lost_and_back_needs_no_restart);
  tcase_add_test(tc, sigterm_lets_the_request_in_flight_finish);
  tcase_add_test(tc, a_drain_delay_keeps_serving_while_not_ready);
  tcase_add_test(tc, bad_configuration_exits_2_naming_the_variable);
  tcase_add_test(tc, every_bad_value_is_one_line_naming_it_and_exit_2);
  suite_add_tcase(suite, tc);
  return suite;
}
