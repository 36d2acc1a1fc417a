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
  struct ferretdb db;
  struct server server;
  ck_assert(ferretdb_start(&db, "lifecycle_b"));
  ck_assert(server_start(&server, db.uri, NULL));
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
  ck_assert_str_eq(flight.body,
                   "{\"data\":[],\"page\":{\"limit\":20,\"hasMore\":false,\"nextCursor\":null}}");
  ck_assert_int_eq(server_stop(&server, 15), 0);
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

Suite *suite_lifecycle(void) {
  Suite *suite = suite_create("lifecycle");
  TCase *tc = tcase_create("database_and_signals");
  tcase_add_test(tc, starts_without_database_and_recovers);
  tcase_add_test(tc, database_lost_and_back_needs_no_restart);
  tcase_add_test(tc, sigterm_lets_the_request_in_flight_finish);
  tcase_add_test(tc, bad_configuration_exits_2_naming_the_variable);
  suite_add_tcase(suite, tc);
  return suite;
}
