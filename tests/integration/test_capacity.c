/* Capacity on the default engine: the PostgreSQL indexes that FerretDB's
 * pushdown uses, a server that idle connections cannot starve, many clients
 * at once answered rather than reset, and load shedding when every database
 * slot is taken. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "../support/harness.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;

static void teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* Room for the test's own sockets: the soft open-file limit up to the hard. */
static rlim_t raise_fd_limit(void) {
  struct rlimit limit;
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &limit), 0);
  return limit.rlim_cur;
}

static void seed(const char *uri, int users, int per_user) {
  char users_arg[16];
  char per_user_arg[16];
  char command[512];
  snprintf(users_arg, sizeof(users_arg), "%d", users);
  snprintf(per_user_arg, sizeof(per_user_arg), "%d", per_user);
  snprintf(command, sizeof(command), "%s --quiet --uri '%s' --users %s --per-user %s >/dev/null",
           PURCHASES_SEED_BIN, uri, users_arg, per_user_arg);
  ck_assert_int_eq(system(command), 0);
}

/* ---- the indexes FerretDB's pushdown can use ----------------------------- */

/* What the launcher creates (deploy/ferretdb/postgresql-indexes.sql), one
 * row per equality the service pushes down, and a filter of that shape. */
static const struct {
  const char *collection;
  const char *index_suffix;
  const char *filter_json;
} PUSHDOWNS[] = {
    {"purchases", "_userid_gin", "{\"userId\": \"7\"}"},
    {"purchases", "_id_gin", "{\"id\": \"p-capacity-1\"}"},
    {"purchase_history", "_purchaseid_gin", "{\"purchaseId\": \"p-capacity-1\"}"},
    {"idempotency_keys", "_key_gin", "{\"client\": \"checkout\", \"key\": \"k-capacity\"}"},
    {"audit", "_userid_gin", "{\"userId\": \"7\"}"},
};
#define PUSHDOWN_COUNT (sizeof(PUSHDOWNS) / sizeof(PUSHDOWNS[0]))

/* Writes through the service so that every collection exists with a row of
 * each kind: a create with a key, a status change, an audited read. */
static void use_every_collection(void) {
  const char *post_headers[] = {"x-client-id: checkout", "x-user-id: chk",
                                "Content-Type: application/json", "Idempotency-Key: k-capacity",
                                NULL};
  const char *patch_headers[] = {"x-client-id: checkout", "x-user-id: chk",
                                 "Content-Type: application/json", NULL};
  const char *body =
      "{\"id\":\"p-capacity-1\",\"userId\":\"7\",\"status\":\"placed\",\"items\":[{\"id\":\"mug\","
      "\"title\":\"Mug\",\"brand\":\"Potter\",\"imgUrl\":\"https://img.shop.example/m.jpg\","
      "\"currency\":\"GBP\",\"pricePerUnitPence\":900,\"quantity\":1,\"priceTotalPence\":900}],"
      "\"pricePence\":900,\"currency\":\"GBP\",\"datePurchased\":\"2024-04-18T10:17:19.039Z\","
      "\"payment\":{\"method\":\"card\",\"lastDigits\":\"4242\",\"receiptUrl\":"
      "\"https://shop.example/receipts/r1\"},\"delivery\":{\"method\":\"standard\","
      "\"storeLocation\":null,\"dateDelivered\":null}}";
  struct http_response r;

  ck_assert(http_request_body(server.port, "POST", "/purchases", post_headers, body, &r));
  ck_assert_msg(r.status == 201, "create: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
  ck_assert(http_request_body(server.port, "PATCH", "/user/7/purchases/p-capacity-1", patch_headers,
                              "{\"status\":\"paid\"}", &r));
  ck_assert_msg(r.status == 200, "status change: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
  ck_assert(http_get_as(server.port, "/user/7", "customer-support", "agent-capacity", &r));
  ck_assert_msg(r.status == 200, "support read: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
}

/* The plan FerretDB's own explain gets from PostgreSQL for `filter` on
 * `collection`, as extended JSON (the caller frees), with whether FerretDB
 * pushed the filter down at all. */
static char *explain(const char *collection, const char *filter_json, bool *pushed_down) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  bson_error_t error;
  bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &error);
  bson_t *command = NULL;
  bson_t reply = BSON_INITIALIZER;
  bson_iter_t iter;
  char *plan = NULL;

  ck_assert_ptr_nonnull(client);
  ck_assert_ptr_nonnull(filter);
  command = BCON_NEW("explain", "{", "find", BCON_UTF8(collection), "filter", BCON_DOCUMENT(filter),
                     "}", "verbosity", BCON_UTF8("queryPlanner"));
  ck_assert_msg(mongoc_client_command_simple(client, "capacity", command, NULL, &reply, &error),
                "explain %s: %s", collection, error.message);
  *pushed_down = bson_iter_init_find(&iter, &reply, "filterPushdown") &&
                 BSON_ITER_HOLDS_BOOL(&iter) && bson_iter_bool(&iter);
  plan = bson_as_relaxed_extended_json(&reply, NULL);
  bson_destroy(&reply);
  bson_destroy(command);
  bson_destroy(filter);
  mongoc_client_destroy(client);
  return plan;
}

START_TEST(every_pushed_down_equality_is_served_by_an_index) {
  char *out = NULL;
  char sql[160];

  if (!harness_on_postgresql()) {
    /* Nothing to prove on SQLite: its handler pushes down _id only. */
    return;
  }
  ck_assert(ferretdb_start(&db, "capacity"));
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  seed(db.uri, 50, 4);
  use_every_collection();

  /* The launcher applies the index script every second; give it ten. A
   * missing index shows below, in its plan. */
  for (int i = 0, count = 0; count < (int)PUSHDOWN_COUNT && i < 100; i++) {
    out = ferretdb_sql(&db, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'capacity' AND "
                            "indexname LIKE '%\\_gin'");
    count = out != NULL ? atoi(out) : 0;
    free(out);
    usleep(100000);
  }

  /* Tables this small are cheaper to scan, so PostgreSQL would scan them
   * whatever the indexes: with sequential scans priced out, a plan that still
   * scans has no index to use. FerretDB's connections opened after this
   * take the setting. */
  snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET enable_seqscan = off",
           strrchr(db.pg_url, '/') + 1);
  out = ferretdb_sql(&db, sql);
  ck_assert_ptr_nonnull(out);
  free(out);
  server_stop(&server, 15);
  ferretdb_stop(&db, true);
  ck_assert(ferretdb_restart(&db));

  for (size_t i = 0; i < PUSHDOWN_COUNT; i++) {
    bool pushed_down = false;
    char *plan = explain(PUSHDOWNS[i].collection, PUSHDOWNS[i].filter_json, &pushed_down);
    ck_assert_msg(pushed_down, "%s %s is not pushed down: %s", PUSHDOWNS[i].collection,
                  PUSHDOWNS[i].filter_json, plan);
    ck_assert_msg(strstr(plan, "Seq Scan") == NULL && strstr(plan, PUSHDOWNS[i].index_suffix),
                  "%s %s is not served by *%s: %s", PUSHDOWNS[i].collection,
                  PUSHDOWNS[i].filter_json, PUSHDOWNS[i].index_suffix, plan);
    bson_free(plan);
  }
}
END_TEST

/* ---- idle connections and many clients ----------------------------------- */

static void crowd_setup(void) {
  /* A long idle timeout: a server that lets half-requests hold its slots
   * would hold them for far longer than the test waits. */
  const char *env[] = {"PURCHASES_CONNECTION_TIMEOUT_S=120", "PURCHASES_HEADER_TIMEOUT_S=120",
                       NULL};
  ck_assert(ferretdb_start(&db, "crowd"));
  seed(db.uri, 300, 2);
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static int connect_to(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ck_assert_int_ge(fd, 0);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ck_assert_msg(connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0, "connect: %s",
                strerror(errno));
  return fd;
}

#define IDLE_CONNECTIONS 1000

START_TEST(a_thousand_idle_half_requests_do_not_starve_a_normal_one) {
  static int idle[IDLE_CONNECTIONS];
  const char half[] = "GET /user/3 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n";
  struct http_response r;
  int still_open = 0;

  ck_assert_msg(raise_fd_limit() > IDLE_CONNECTIONS + 200, "the open-file limit is too low");
  for (int i = 0; i < IDLE_CONNECTIONS; i++) {
    idle[i] = connect_to(server.port);
    ck_assert_int_eq(send(idle[i], half, sizeof(half) - 1, MSG_NOSIGNAL),
                     (ssize_t)sizeof(half) - 1);
  }
  /* The harness's client gives up after 20 s; the idle ones would hold
   * their slots for 120 s. */
  ck_assert(http_get_as(server.port, "/user/3", "shop", "3", &r));
  ck_assert_msg(r.status == 200, "beside 1,000 idle connections: %ld %s", r.status, r.body);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 2);
  http_response_cleanup(&r);
  /* ...and the idle ones were kept, not dropped to make room. */
  for (int i = 0; i < IDLE_CONNECTIONS; i++) {
    char byte;
    ssize_t n = recv(idle[i], &byte, 1, MSG_DONTWAIT);
    still_open += n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    close(idle[i]);
  }
  ck_assert_int_eq(still_open, IDLE_CONNECTIONS);
}
END_TEST

#define CLIENTS 256

struct client_result {
  int index;
  pthread_barrier_t *start;
  bool answered;
  long status;
  bool has_retry_after;
};

static void *one_client(void *data) {
  struct client_result *result = data;
  struct http_response r;
  char path[32];
  char user[16];
  char buf[32];

  snprintf(user, sizeof(user), "%d", 1 + result->index % 300);
  snprintf(path, sizeof(path), "/user/%s", user);
  pthread_barrier_wait(result->start);
  result->answered = http_get_as(server.port, path, "shop", user, &r);
  result->status = r.status;
  result->has_retry_after = result->answered && http_header(&r, "Retry-After", buf, sizeof(buf));
  http_response_cleanup(&r);
  return NULL;
}

START_TEST(two_hundred_and_fifty_six_clients_at_once_all_get_answers) {
  static struct client_result results[CLIENTS];
  static pthread_t threads[CLIENTS];
  pthread_barrier_t start;
  int ok = 0;

  raise_fd_limit();
  ck_assert_int_eq(pthread_barrier_init(&start, NULL, CLIENTS), 0);
  for (int i = 0; i < CLIENTS; i++) {
    results[i] = (struct client_result){.index = i, .start = &start};
    ck_assert_int_eq(pthread_create(&threads[i], NULL, one_client, &results[i]), 0);
  }
  for (int i = 0; i < CLIENTS; i++) {
    pthread_join(threads[i], NULL);
  }
  pthread_barrier_destroy(&start);
  for (int i = 0; i < CLIENTS; i++) {
    const struct client_result *c = &results[i];
    ck_assert_msg(c->answered, "client %d got no HTTP answer (reset or timeout)", i);
    ck_assert_msg(
        c->status == 200 || ((c->status == 429 || c->status == 503) && c->has_retry_after),
        "client %d: %ld%s", i, c->status, c->has_retry_after ? "" : " without Retry-After");
    ok += c->status == 200;
  }
  /* Shedding is for overload, not for a burst the slots absorb: most pass. */
  ck_assert_msg(ok > 0, "not one of %d clients was served", CLIENTS);
}
END_TEST

/* ---- load shedding ------------------------------------------------------- */

static void shed_setup(void) {
  /* One slot, no wait: the second request in flight is shed. */
  const char *env[] = {"PURCHASES_DB_MAX_IN_FLIGHT=1", "PURCHASES_DB_WAIT_MS=0", NULL};
  ck_assert(ferretdb_start(&db, "shed"));
  seed(db.uri, 5, 2);
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

struct held_request {
  atomic_bool done;
  long status;
};

static void *slow_read(void *data) {
  struct held_request *held = data;
  struct http_response r;
  http_get_as(server.port, "/user/1", "shop", "1", &r);
  held->status = r.status;
  http_response_cleanup(&r);
  atomic_store(&held->done, true);
  return NULL;
}

/* A metric of the server's /metrics, or -1. */
static long metric(const char *name) {
  return http_metric(server.port, name);
}

START_TEST(an_exhausted_slot_budget_is_a_503_at_once) {
  struct held_request held = {.done = false};
  struct http_response r;
  pthread_t thread;
  char buf[64];

  ck_assert_int_eq(metric("purchases_db_in_flight_limit"), 1);
  ck_assert_int_eq(metric("purchases_db_shed_total"), 0);
  /* A database that stops answering: the first read takes the only slot
   * and waits on it. */
  ferretdb_pause(&db);
  ck_assert_int_eq(pthread_create(&thread, NULL, slow_read, &held), 0);
  for (int i = 0; metric("purchases_db_in_flight") != 1; i++) {
    ck_assert_msg(i < 100, "the first read never took the slot");
    usleep(50000);
  }
  /* The second is answered while the first still waits. */
  ck_assert(http_get_as(server.port, "/user/2", "shop", "2", &r));
  ck_assert_msg(!atomic_load(&held.done), "the second read waited for the first");
  ck_assert_int_eq(r.status, 503);
  ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)), "application/problem+json");
  ck_assert_ptr_nonnull(http_header(&r, "Retry-After", buf, sizeof(buf)));
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.j_body, "detail")), "capacity"));
  http_response_cleanup(&r);
  ck_assert_int_eq(metric("purchases_db_shed_total"), 1);
  /* Probes take no slot: the service still says it is alive. */
  ck_assert(wait_for_status(server.port, "/healthz", 200, 0));

  ferretdb_resume(&db);
  pthread_join(thread, NULL);
  ck_assert_msg(held.status == 200 || held.status == 503, "the held read: %ld", held.status);
  ck_assert_int_eq(metric("purchases_db_in_flight"), 0);
  ck_assert(http_get_as(server.port, "/user/2", "shop", "2", &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

Suite *suite_capacity(void) {
  Suite *suite = suite_create("capacity");
  TCase *engine = tcase_create("engine");
  TCase *crowd = tcase_create("crowd");
  TCase *shed = tcase_create("shed");

  tcase_add_checked_fixture(engine, NULL, teardown);
  tcase_add_test(engine, every_pushed_down_equality_is_served_by_an_index);
  tcase_add_checked_fixture(crowd, crowd_setup, teardown);
  tcase_add_test(crowd, a_thousand_idle_half_requests_do_not_starve_a_normal_one);
  tcase_add_test(crowd, two_hundred_and_fifty_six_clients_at_once_all_get_answers);
  tcase_add_checked_fixture(shed, shed_setup, teardown);
  tcase_add_test(shed, an_exhausted_slot_budget_is_a_503_at_once);
  tcase_set_timeout(engine, 120);
  tcase_set_timeout(crowd, 120);
  tcase_set_timeout(shed, 60);
  suite_add_tcase(suite, engine);
  suite_add_tcase(suite, crowd);
  suite_add_tcase(suite, shed);
  return suite;
}
