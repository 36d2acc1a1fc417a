/* The response cache and conditional requests, as callers and operators
 * meet them: two real instances sharing a real Redis of the test's own,
 * FerretDB behind both. What is proved is correctness (no answer crosses
 * users, roles or field selections; every write is seen by the next read
 * on either instance; Redis down is correct, and recovers), never speed. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include <mongoc/mongoc.h>

#include "../support/harness.h"
#include "lib/gzip.h"
#include "suites.h"

#define DATABASE "cache"

static struct ferretdb db;
static struct redis redis;
static struct server a; /* two instances sharing db and redis */
static struct server b;
static char redis_env[96];

static void start_instance(struct server *server, const char *extra) {
  const char *env[] = {redis_env, extra, NULL};
  ck_assert(server_start(server, db.uri, env));
  ck_assert(wait_for_status(server->port, "/readyz", 200, 15));
}

static void setup(void) {
  ck_assert(ferretdb_start(&db, DATABASE));
  ck_assert(redis_start(&redis));
  snprintf(redis_env, sizeof(redis_env), "PURCHASES_REDIS_URL=%s", redis.url);
  start_instance(&a, NULL);
  start_instance(&b, NULL);
}

static void teardown(void) {
  server_stop(&a, 15);
  server_stop(&b, 15);
  redis_stop(&redis);
  ferretdb_stop(&db, false);
}

/* GET path as client/user with one more header (NULL for none). */
static void get(const struct server *server, const char *path, const char *client, const char *user,
                const char *extra, struct http_response *out) {
  char client_header[96];
  char user_header[96];
  const char *headers[] = {client_header, user_header, extra, NULL};
  snprintf(client_header, sizeof(client_header), "x-client-id: %s", client);
  snprintf(user_header, sizeof(user_header), "x-user-id: %s", user);
  ck_assert(http_request(server->port, "GET", path, headers, out));
}

/* The value of one series in /metrics; -1 when absent. */
static double metric(const struct server *server, const char *series) {
  struct http_response r;
  double value = -1;
  size_t len = strlen(series);
  ck_assert(http_request(server->port, "GET", "/metrics", NULL, &r));
  for (const char *line = r.body; line != NULL && *line != '\0';) {
    if (strncmp(line, series, len) == 0 && line[len] == ' ') {
      value = strtod(line + len + 1, NULL);
      break;
    }
    line = strchr(line, '\n');
    line = line != NULL ? line + 1 : NULL;
  }
  http_response_cleanup(&r);
  return value;
}

static double hits(const struct server *server) {
  return metric(server, "purchases_cache_hits_total");
}

static void insert(const char *id, const char *user, int64_t date_ms) {
  bson_t *doc = fixture_purchase(id, user, date_ms);
  const bson_t *docs[] = {doc};
  ck_assert(db_insert(db.uri, docs, 1));
  bson_destroy(doc);
}

/* Creates purchase `id` of `user` through `server` as checkout. */
static void create(const struct server *server, const char *id, const char *user) {
  char body[1024];
  struct http_response r;
  const char *headers[] = {"x-client-id: checkout", "x-user-id: svc",
                           "Content-Type: application/json", NULL};
  snprintf(body, sizeof(body),
           "{\"id\":\"%s\",\"userId\":\"%s\",\"status\":\"placed\",\"items\":[{\"id\":\"mug\","
           "\"title\":\"Mug\",\"brand\":\"Potter\",\"imgUrl\":null,\"currency\":\"GBP\","
           "\"pricePerUnitPence\":900,\"quantity\":1,\"priceTotalPence\":900}],\"pricePence\":900,"
           "\"currency\":\"GBP\",\"datePurchased\":\"2025-03-01T10:00:00.000Z\",\"payment\":{"
           "\"method\":\"card\",\"lastDigits\":\"4242\",\"receiptUrl\":null},\"delivery\":{"
           "\"method\":\"standard\",\"storeLocation\":null,\"dateDelivered\":null}}",
           id, user);
  ck_assert(http_request_body(server->port, "POST", "/purchases", headers, body, &r));
  ck_assert_msg(r.status == 201, "create %s: %ld %s", id, r.status, r.body);
  http_response_cleanup(&r);
}

static void change_status(const struct server *server, const char *user, const char *id,
                          const char *status) {
  char path[160];
  char body[64];
  struct http_response r;
  const char *headers[] = {"x-client-id: checkout", "x-user-id: svc",
                           "Content-Type: application/json", NULL};
  snprintf(path, sizeof(path), "/user/%s/purchases/%s", user, id);
  snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
  ck_assert(http_request_body(server->port, "PATCH", path, headers, body, &r));
  ck_assert_msg(r.status == 200, "change %s: %ld %s", id, r.status, r.body);
  http_response_cleanup(&r);
}

/* Whether the list of `user` read through `server` holds purchase `id`. */
static bool lists(const struct server *server, const char *user, const char *id) {
  char path[96];
  char needle[96];
  struct http_response r;
  bool found;
  snprintf(path, sizeof(path), "/user/%s", user);
  snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
  get(server, path, "shop", user, NULL, &r);
  ck_assert_int_eq(r.status, 200);
  found = strstr(r.body, needle) != NULL;
  http_response_cleanup(&r);
  return found;
}

/* The status of purchase `id` read through `server` (one purchase). */
static void expect_status(const struct server *server, const char *user, const char *id,
                          const char *status) {
  char path[160];
  struct http_response r;
  snprintf(path, sizeof(path), "/user/%s/purchases/%s", user, id);
  get(server, path, "shop", user, NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), status);
  http_response_cleanup(&r);
}

START_TEST(no_answer_crosses_users_roles_or_fields) {
  struct http_response r;
  struct http_response again;
  double before;

  insert("x-u1-1", "x-u1", 1700000000000);
  insert("x-u2-1", "x-u2", 1700000000000);
  get(&a, "/user/x-u1", "shop", "x-u1", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(strstr(r.body, "x-u1-1"));
  before = hits(&a);
  get(&a, "/user/x-u1", "shop", "x-u1", NULL, &again);
  ck_assert_str_eq(again.body, r.body);
  ck_assert_double_eq(hits(&a), before + 1); /* the cache answered */
  http_response_cleanup(&again);
  http_response_cleanup(&r);

  /* Another user, the same query: their own purchases only. */
  get(&a, "/user/x-u2", "shop", "x-u2", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(strstr(r.body, "x-u2-1"));
  ck_assert_ptr_null(strstr(r.body, "x-u1-1"));
  http_response_cleanup(&r);
  /* Another customer asking for x-u1: refused, not served what is cached. */
  get(&a, "/user/x-u1", "shop", "x-u2", NULL, &r);
  ck_assert_int_eq(r.status, 403);
  ck_assert_ptr_null(strstr(r.body, "x-u1-1"));
  http_response_cleanup(&r);
  /* Support reads the same list: its own entry (and its audit record). */
  before = metric(&a, "purchases_cache_misses_total{reason=\"absent\"}");
  get(&a, "/user/x-u1", "customer-support", "agent-1", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(strstr(r.body, "x-u1-1"));
  ck_assert_double_eq(metric(&a, "purchases_cache_misses_total{reason=\"absent\"}"), before + 1);
  http_response_cleanup(&r);
  /* A field selection is another answer. */
  get(&a, "/user/x-u1?fields=id", "shop", "x-u1", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(strstr(r.body, "x-u1-1"));
  ck_assert_ptr_null(strstr(r.body, "datePurchased"));
  http_response_cleanup(&r);
  get(&a, "/user/x-u1", "shop", "x-u1", NULL, &r);
  ck_assert_ptr_nonnull(strstr(r.body, "datePurchased"));
  http_response_cleanup(&r);
}
END_TEST

START_TEST(every_write_is_seen_at_once_on_both_instances) {
  /* Both instances hold the user's list and the purchase. */
  create(&a, "w-1", "w-user");
  for (int i = 0; i < 2; i++) {
    ck_assert(lists(&a, "w-user", "w-1") && lists(&b, "w-user", "w-1"));
    expect_status(&a, "w-user", "w-1", "placed");
    expect_status(&b, "w-user", "w-1", "placed");
  }
  ck_assert_double_gt(hits(&a), 0);
  ck_assert_double_gt(hits(&b), 0);

  create(&a, "w-2", "w-user");
  ck_assert(lists(&a, "w-user", "w-2"));
  ck_assert(lists(&b, "w-user", "w-2"));

  change_status(&b, "w-user", "w-1", "paid");
  expect_status(&a, "w-user", "w-1", "paid");
  expect_status(&b, "w-user", "w-1", "paid");
  ck_assert_double_eq(metric(&a, "purchases_redis_bumps_failed_total"), 0);
}
END_TEST

START_TEST(an_import_is_seen_by_running_instances) {
  char path[192];
  char uri_env[256];
  int fd;

  snprintf(path, sizeof(path), "%s/purchases-cache-import-XXXXXX", harness_tmp());
  fd = mkstemp(path);
  int status = 0;
  pid_t pid;
  const char *line =
      "{\"id\":\"imp-1\",\"userId\":\"imp-user\",\"status\":\"placed\",\"items\":[{\"id\":\"mug\","
      "\"title\":\"Mug\",\"brand\":\"Potter\",\"imgUrl\":null,\"currency\":\"GBP\","
      "\"pricePerUnitPence\":900,\"quantity\":1,\"priceTotalPence\":900}],\"pricePence\":900,"
      "\"currency\":\"GBP\",\"datePurchased\":\"2025-03-01T10:00:00.000Z\",\"payment\":{"
      "\"method\":\"card\",\"lastDigits\":\"4242\",\"receiptUrl\":null},\"delivery\":{"
      "\"method\":\"standard\",\"storeLocation\":null,\"dateDelivered\":null}}\n";

  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
  close(fd);
  insert("imp-0", "imp-user", 1700000000000);
  ck_assert(!lists(&a, "imp-user", "imp-1"));
  ck_assert(!lists(&b, "imp-user", "imp-1")); /* both hold the list now */

  snprintf(uri_env, sizeof(uri_env), "MONGODB_URI=%s", db.uri);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    char *const argv[] = {PURCHASES_IMPORT_BIN, "--quiet", path, NULL};
    char *const envp[] = {uri_env, redis_env, "ASAN_OPTIONS=detect_leaks=1", NULL};
    execve(PURCHASES_IMPORT_BIN, argv, envp);
    _exit(127);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  unlink(path);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ck_assert(lists(&a, "imp-user", "imp-1"));
  ck_assert(lists(&b, "imp-user", "imp-1"));
}
END_TEST

START_TEST(redis_down_is_correct_and_recovers) {
  double before;

  create(&a, "r-1", "r-user");
  ck_assert(lists(&a, "r-user", "r-1") && lists(&a, "r-user", "r-1"));
  ck_assert_double_eq(metric(&a, "purchases_redis_up"), 1);

  redis_stop(&redis);
  /* B writes while it cannot bump the shared version: the write stands,
   * and A, which cannot check its cache, reads the database. */
  create(&b, "r-2", "r-user");
  ck_assert_double_ge(metric(&b, "purchases_redis_bumps_failed_total"), 1);
  ck_assert(lists(&a, "r-user", "r-2"));
  ck_assert_double_eq(metric(&a, "purchases_redis_up"), 0);
  change_status(&b, "r-user", "r-1", "paid");
  expect_status(&a, "r-user", "r-1", "paid");

  /* Back, and empty, as a Redis without persistence restarts. */
  ck_assert(redis_restart(&redis));
  sleep(2); /* past the instances' 1 s pause between attempts */
  ck_assert(lists(&a, "r-user", "r-2"));
  expect_status(&a, "r-user", "r-1", "paid");
  before = hits(&a);
  ck_assert(lists(&a, "r-user", "r-2"));
  ck_assert_double_eq(hits(&a), before + 1); /* the cache is in use again */
  ck_assert_double_eq(metric(&a, "purchases_redis_up"), 1);
  /* B's failed bumps were made once it could: nothing waits. */
  ck_assert(lists(&b, "r-user", "r-2"));
  ck_assert_double_eq(metric(&b, "purchases_redis_pending_bumps"), 0);
  change_status(&a, "r-user", "r-2", "paid");
  expect_status(&b, "r-user", "r-2", "paid");
}
END_TEST

/* Redis unreachable but keeping its data (a partition, a stopped VM; here
 * SIGSTOP): B's write cannot bump the shared version, and when Redis
 * answers again A would take its cached answer for current. B makes the
 * waiting bump by itself within its watcher's interval, with no traffic
 * of its own, and A's next read is fresh. */
START_TEST(bumps_that_waited_for_redis_are_made_without_traffic) {
  int waited_ms = 0;

  create(&a, "w-1", "w-user");
  ck_assert(lists(&a, "w-user", "w-1") && lists(&a, "w-user", "w-1")); /* cached on A */
  ck_assert_int_eq(kill(redis.pid, SIGSTOP), 0);
  create(&b, "w-2", "w-user");
  ck_assert_double_ge(metric(&b, "purchases_redis_pending_bumps"), 1);
  ck_assert_int_eq(kill(redis.pid, SIGCONT), 0);
  /* Only /metrics of B from here on: it makes no bump. */
  while (metric(&b, "purchases_redis_pending_bumps") != 0 && waited_ms < 30000) {
    usleep(200 * 1000);
    waited_ms += 200;
  }
  ck_assert_double_eq(metric(&b, "purchases_redis_pending_bumps"), 0);
  ck_assert(lists(&a, "w-user", "w-2"));
}
END_TEST

/* Redis restarted between two requests: the connections the instances
 * kept are dead, and neither has noticed. The next write and read go to a
 * new connection at once, not to "Redis is down". */
START_TEST(kept_connections_outlived_by_redis_are_replaced_at_once) {
  double before;

  create(&a, "k-1", "k-user");
  ck_assert(lists(&a, "k-user", "k-1") && lists(&b, "k-user", "k-1"));
  redis_stop(&redis);
  ck_assert(redis_restart(&redis));
  create(&b, "k-2", "k-user");
  ck_assert_double_eq(metric(&b, "purchases_redis_bumps_failed_total"), 0);
  ck_assert(lists(&a, "k-user", "k-2"));
  before = hits(&a);
  ck_assert(lists(&a, "k-user", "k-2"));
  ck_assert_double_eq(hits(&a), before + 1);
}
END_TEST

START_TEST(an_outside_write_is_seen_after_the_ttl) {
  struct server c;
  start_instance(&c, "PURCHASES_CACHE_TTL_S=1");
  insert("o-1", "o-user", 1700000000000);
  ck_assert(lists(&c, "o-user", "o-1"));
  insert("o-2", "o-user", 1700000001000); /* behind the service's back */
  sleep(2);
  ck_assert(lists(&c, "o-user", "o-2"));
  ck_assert_double_ge(metric(&c, "purchases_cache_misses_total{reason=\"expired\"}"), 1);
  server_stop(&c, 15);
}
END_TEST

/* "If-None-Match: <etag>" into buf. */
static const char *if_none_match(const char *etag, char *buf, size_t len) {
  snprintf(buf, len, "If-None-Match: %s", etag);
  return buf;
}

START_TEST(conditional_requests_follow_rfc_9110) {
  struct http_response r;
  char etag[64];
  char other[96];
  char header[96];
  char buf[96];

  create(&a, "c-1", "c-user");
  get(&a, "/user/c-user", "shop", "c-user", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
  ck_assert_int_eq(etag[0], '"');
  http_response_cleanup(&r);

  /* On both instances, from the cache or not: 304, no body, the same tag. */
  for (int i = 0; i < 2; i++) {
    get(i == 0 ? &a : &b, "/user/c-user", "shop", "c-user",
        if_none_match(etag, header, sizeof(header)), &r);
    ck_assert_int_eq(r.status, 304);
    ck_assert_str_eq(r.body, "");
    ck_assert_str_eq(http_header(&r, "ETag", buf, sizeof(buf)), etag);
    ck_assert_str_eq(http_header(&r, "Cache-Control", buf, sizeof(buf)), "private, no-cache");
    http_response_cleanup(&r);
  }
  snprintf(other, sizeof(other), "\"nope\", W/%s", etag); /* weak comparison */
  get(&a, "/user/c-user", "shop", "c-user", if_none_match(other, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);
  get(&a, "/user/c-user", "shop", "c-user", "If-None-Match: *", &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);
  get(&a, "/user/c-user", "shop", "c-user", "If-None-Match: \"other\"", &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "ETag", buf, sizeof(buf)), etag);
  http_response_cleanup(&r);
  /* A list may be empty (RFC 9110 section 5.6.1): it names no tag, so the
   * page comes as usual. "Name;" is how libcurl sends an empty value. */
  const char *empty[] = {"If-None-Match;", "If-None-Match: , ,"};
  for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
    get(&a, "/user/c-user", "shop", "c-user", empty[i], &r);
    ck_assert_msg(r.status == 200, "'%s' gave %ld", empty[i], (long)r.status);
    ck_assert_str_eq(http_header(&r, "ETag", buf, sizeof(buf)), etag);
    http_response_cleanup(&r);
  }
  /* Malformed is not absent. */
  get(&a, "/user/c-user", "shop", "c-user", "If-None-Match: abc", &r);
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)), "application/problem+json");
  http_response_cleanup(&r);
  /* Another user's tag is still another user's data: 403. */
  get(&a, "/user/c-user", "shop", "c-intruder", if_none_match(etag, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 403);
  http_response_cleanup(&r);

  /* One purchase: its version is its tag. */
  get(&a, "/user/c-user/purchases/c-1", "shop", "c-user", "If-None-Match: \"v1\"", &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);

  /* After a write the old tags no longer match, on either instance. */
  change_status(&b, "c-user", "c-1", "paid");
  get(&a, "/user/c-user", "shop", "c-user", if_none_match(etag, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_ne(http_header(&r, "ETag", buf, sizeof(buf)), etag);
  http_response_cleanup(&r);
  get(&a, "/user/c-user/purchases/c-1", "shop", "c-user", "If-None-Match: \"v1\"", &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "ETag", buf, sizeof(buf)), "\"v2\"");
  http_response_cleanup(&r);
}
END_TEST

static long remaining(const struct http_response *r) {
  char buf[32];
  const char *value = http_header(r, "RateLimit-Remaining", buf, sizeof(buf));
  ck_assert_ptr_nonnull(value);
  return strtol(value, NULL, 10);
}

START_TEST(a_304_from_the_cache_spares_the_rate_limit) {
  struct server c;
  struct http_response r;
  char etag[64];
  char header[96];
  long left;

  const char *env[] = {redis_env, "PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=3",
                       NULL};

  ck_assert(server_start(&c, db.uri, env));
  insert("rl-1", "rl-user", 1700000000000);
  get(&c, "/user/rl-user", "shop", "rl-user", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
  left = remaining(&r);
  http_response_cleanup(&r);
  for (int i = 0; i < 10; i++) {
    get(&c, "/user/rl-user", "shop", "rl-user", if_none_match(etag, header, sizeof(header)), &r);
    ck_assert_int_eq(r.status, 304);
    ck_assert_int_ge(remaining(&r), left);
    http_response_cleanup(&r);
  }
  /* Full answers do count: the bucket runs dry. */
  for (int i = 0; i < 10 && r.status != 429; i++) {
    get(&c, "/user/rl-user", "shop", "rl-user", NULL, &r);
    if (r.status != 429) {
      ck_assert_int_eq(r.status, 200);
      http_response_cleanup(&r);
    }
  }
  ck_assert_int_eq(r.status, 429);
  http_response_cleanup(&r);
  /* With nothing left, a revalidation the cache answers is still free... */
  get(&c, "/user/rl-user", "shop", "rl-user", if_none_match(etag, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);
  /* ...and one that needs the full answer is refused. */
  get(&c, "/user/rl-user", "shop", "rl-user", "If-None-Match: \"stale\"", &r);
  ck_assert_int_eq(r.status, 429);
  ck_assert_ptr_nonnull(http_header(&r, "Retry-After", header, sizeof(header)));
  http_response_cleanup(&r);
  server_stop(&c, 15);
}
END_TEST

/* Audit records of reads of `user`, from GET /audit/:userId. */
static size_t audited(const char *user) {
  char path[96];
  struct http_response r;
  size_t n;
  snprintf(path, sizeof(path), "/audit/%s", user);
  get(&a, path, "customer-support", "auditor", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  n = json_array_size(json_object_get(r.j_body, "data"));
  http_response_cleanup(&r);
  return n;
}

START_TEST(audited_reads_are_audited_on_a_cache_hit) {
  struct http_response r;
  char etag[64];
  char header[96];
  double before;
  double from_db;

  insert("au-1", "au-user", 1700000000000);
  get(&a, "/user/au-user", "customer-support", "agent-7", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
  http_response_cleanup(&r);
  before = hits(&a);
  get(&a, "/user/au-user", "customer-support", "agent-7", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  /* The service role has entries of its own: the same page, so the same
   * tag, but found by reading the database. */
  from_db = metric(&a, "purchases_not_modified_total{source=\"database\"}");
  get(&a, "/user/au-user", "invoicing", "billing", if_none_match(etag, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 304);
  ck_assert_double_eq(metric(&a, "purchases_not_modified_total{source=\"database\"}"), from_db + 1);
  http_response_cleanup(&r);
  get(&a, "/user/au-user", "customer-support", "agent-7",
      if_none_match(etag, header, sizeof(header)), &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);
  ck_assert_double_ge(hits(&a), before + 2);
  ck_assert_uint_eq(audited("au-user"), 4);
}
END_TEST

/* Audit records of reads of `user`, counted in the database itself. */
static int64_t audit_records(const char *user) {
  char filter[96];
  int64_t n;

  snprintf(filter, sizeof(filter), "{\"userId\": \"%s\"}", user);
  n = db_count(db.uri, "audit", filter);
  ck_assert_int_ge(n, 0);
  return n;
}

/* What a burst of conditional reads by a principal with an empty bucket
 * got: 429s, and the reads answered because a token came back meanwhile
 * (one a second; each takes it again). */
struct revalidations {
  int refused;
  int answered;
};

/* Reads `path` as client/user, without a condition, until the bucket is
 * empty (a 429). */
static void exhaust(const struct server *server, const char *path, const char *client,
                    const char *user) {
  struct http_response r;
  long status = 0;
  for (int i = 0; i < 10 && status != 429; i++) {
    get(server, path, client, user, NULL, &r);
    status = r.status;
    ck_assert_msg(status == 200 || status == 429, "%s: %ld", path, status);
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(status, 429);
}

/* `n` reads of `path` with If-None-Match `etag` as client/user, counted
 * into *seen; every refusal says when to retry. */
static void revalidate(const struct server *server, const char *path, const char *client,
                       const char *user, const char *etag, int n, struct revalidations *seen) {
  struct http_response r;
  char header[96];
  char retry[16];
  for (int i = 0; i < n; i++) {
    get(server, path, client, user, if_none_match(etag, header, sizeof(header)), &r);
    if (r.status == 429) {
      ck_assert_ptr_nonnull(http_header(&r, "Retry-After", retry, sizeof(retry)));
      ck_assert_ptr_nonnull(http_header(&r, "RateLimit-Remaining", retry, sizeof(retry)));
      seen->refused++;
    } else {
      ck_assert_msg(r.status == 304, "%s: %ld", path, r.status);
      seen->answered++;
    }
    http_response_cleanup(&r);
  }
}

/* Issue 35: a support or service reader out of budget had its conditional
 * reads refused 429 in the controller, and each refusal was audited as if
 * it had been a read. A refused request writes nothing, on either route,
 * for either role; the trail lists only the reads that were answered. */
START_TEST(a_rate_limited_conditional_read_is_not_audited) {
  static const char *const PATHS[] = {"/user/rf-user", "/user/rf-user/purchases/rf-1"};
  static const char *const READERS[][2] = {{"customer-support", "agent-rf"},
                                           {"invoicing", "billing-rf"}};
  struct server c;
  struct http_response r;
  char etags[2][64];
  const char *env[] = {redis_env, "PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=3",
                       NULL};

  ck_assert(server_start(&c, db.uri, env));
  insert("rf-1", "rf-user", 1700000000000);
  for (size_t who = 0; who < 2; who++) {
    const char *client = READERS[who][0];
    const char *user = READERS[who][1];
    struct revalidations seen = {0};
    int64_t before;

    for (size_t p = 0; p < 2; p++) {
      get(&c, PATHS[p], client, user, NULL, &r);
      ck_assert_int_eq(r.status, 200);
      ck_assert_ptr_nonnull(http_header(&r, "ETag", etags[p], sizeof(etags[p])));
      http_response_cleanup(&r);
    }
    exhaust(&c, PATHS[0], client, user);
    before = audit_records("rf-user");
    for (size_t p = 0; p < 2; p++) {
      revalidate(&c, PATHS[p], client, user, etags[p], 20, &seen);
    }
    ck_assert_msg(seen.refused >= 20, "%s: only %d of 40 refused", client, seen.refused);
    ck_assert_msg(audit_records("rf-user") == before + seen.answered,
                  "%s: %d refused and %d answered, but %lld records were added", client,
                  seen.refused, seen.answered, (long long)(audit_records("rf-user") - before));
  }
  server_stop(&c, 15);
}
END_TEST

/* GET as a customer with Accept-Encoding `coding` (NULL for none). */
static void get_coded(const struct server *server, const char *path, const char *user,
                      const char *coding, struct http_response *out) {
  char header[96];
  snprintf(header, sizeof(header), "Accept-Encoding: %s", coding != NULL ? coding : "");
  get(server, path, "shop", user, coding != NULL ? header : NULL, out);
}

START_TEST(answers_are_gzipped_when_asked_and_only_then) {
  struct http_response plain;
  struct http_response r;
  unsigned char *text = NULL;
  size_t text_len = 0;
  char etag[64];
  char buf[128];
  char header[160];

  for (int i = 0; i < 6; i++) {
    char id[32];
    snprintf(id, sizeof(id), "gz-%d", i);
    insert(id, "gz-user", 1700000000000 + i);
  }
  get_coded(&a, "/user/gz-user", "gz-user", NULL, &plain);
  ck_assert_int_eq(plain.status, 200);
  ck_assert_uint_ge(plain.body_len, 1024);
  ck_assert_ptr_null(http_header(&plain, "Content-Encoding", buf, sizeof(buf)));
  ck_assert_ptr_nonnull(strstr(http_header(&plain, "Vary", buf, sizeof(buf)), "Accept-Encoding"));
  ck_assert_ptr_nonnull(http_header(&plain, "ETag", etag, sizeof(etag)));

  /* From the database, then from the cache: the same bytes once inflated,
   * and a tag of their own that still revalidates the same content. */
  for (int i = 0; i < 2; i++) {
    get_coded(&a, "/user/gz-user", "gz-user", "gzip, deflate", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Encoding", buf, sizeof(buf)), "gzip");
    ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)), "application/json");
    ck_assert(gzip_decompress(r.body, r.body_len, 1 << 20, &text, &text_len));
    ck_assert_str_eq((char *)text, plain.body);
    free(text);
    ck_assert_uint_lt(r.body_len, plain.body_len / 2);
    ck_assert_str_ne(http_header(&r, "ETag", buf, sizeof(buf)), etag);
    snprintf(header, sizeof(header), "If-None-Match: %s", buf);
    http_response_cleanup(&r);
    get(&a, "/user/gz-user", "shop", "gz-user", header, &r); /* no gzip now */
    ck_assert_int_eq(r.status, 304);
    http_response_cleanup(&r);
  }
  /* Refused, or not named: never compressed. */
  const char *identity[] = {"gzip;q=0", "identity", "br"};
  for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++) {
    get_coded(&a, "/user/gz-user", "gz-user", identity[i], &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(http_header(&r, "Content-Encoding", buf, sizeof(buf)) == NULL, "%s", identity[i]);
    ck_assert_str_eq(r.body, plain.body);
    http_response_cleanup(&r);
  }
  /* Malformed is not absent. */
  get_coded(&a, "/user/gz-user", "gz-user", "gzip;q=2", &r);
  ck_assert_int_eq(r.status, 400);
  ck_assert_ptr_nonnull(strstr(r.body, "Accept-Encoding"));
  http_response_cleanup(&r);
  /* A short answer goes as it is. */
  get_coded(&a, "/user/gz-user", "gz-other", "gzip", &r);
  ck_assert_int_eq(r.status, 403);
  ck_assert_ptr_null(http_header(&r, "Content-Encoding", buf, sizeof(buf)));
  http_response_cleanup(&r);
  /* Any long answer is compressed on request: the contract. */
  ck_assert(http_request(a.port, "GET", "/openapi.json",
                         (const char *const[]){"Accept-Encoding: gzip", NULL}, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "Content-Encoding", buf, sizeof(buf)), "gzip");
  http_response_cleanup(&r);
  http_response_cleanup(&plain);
}
END_TEST

/* Sends GETs of `user`'s list alternately to `first` and `second` until
 * one is refused; returns how many were answered 200 before it (at most
 * max). */
static int served_before_429(const struct server *first, const struct server *second,
                             const char *user, int max) {
  char path[96];
  int served = 0;
  snprintf(path, sizeof(path), "/user/%s", user);
  for (int i = 0; i < max; i++) {
    struct http_response r;
    get(i % 2 == 0 ? first : second, path, "shop", user, NULL, &r);
    long status = r.status;
    http_response_cleanup(&r);
    if (status == 429) {
      break;
    }
    ck_assert_int_eq(status, 200);
    served++;
  }
  return served;
}

/* A read on a thread of its own, for a test that keeps one in flight while
 * it does something else. It lives on the heap and never asserts: Check
 * runs these suites in one process and fails a test by jumping out of its
 * frame, which from a reader's thread would land in the wrong thread, and
 * a reader still running when its test fails would write into a frame the
 * test has left. A reader its test failed to wait for is left allocated,
 * and ends writing into memory of its own. */
struct reader {
  pthread_t thread;
  int port;
  char path[64];
  char user[32];      /* empty: no identity headers (a probe) */
  atomic_long status; /* 0 until the answer; -1 when none came */
  bool retry_after;
  bool problem;
};

static void *reader_main(void *data) {
  struct reader *reader = data;
  struct http_response r;
  char client_header[32] = "x-client-id: shop";
  char user_header[96];
  const char *headers[] = {client_header, user_header, NULL};
  char value[64];

  snprintf(user_header, sizeof(user_header), "x-user-id: %s", reader->user);
  if (!http_request(reader->port, "GET", reader->path, reader->user[0] != '\0' ? headers : NULL,
                    &r)) {
    atomic_store(&reader->status, -1);
    return NULL;
  }
  reader->retry_after = http_header(&r, "Retry-After", value, sizeof(value)) != NULL;
  reader->problem = http_header(&r, "Content-Type", value, sizeof(value)) != NULL &&
                    strcmp(value, "application/problem+json") == 0;
  atomic_store(&reader->status, r.status);
  http_response_cleanup(&r);
  return NULL;
}

/* Starts GET `path` on `server`, as customer `user` through the shop (NULL:
 * with no identity, as a probe asks). */
static struct reader *reader_start(const struct server *server, const char *path,
                                   const char *user) {
  struct reader *reader = calloc(1, sizeof(*reader));

  ck_assert_ptr_nonnull(reader);
  reader->port = server->port;
  snprintf(reader->path, sizeof(reader->path), "%s", path);
  snprintf(reader->user, sizeof(reader->user), "%s", user != NULL ? user : "");
  ck_assert_int_eq(pthread_create(&reader->thread, NULL, reader_main, reader), 0);
  return reader;
}

/* When a wait that starts now ends, `seconds` later. */
static struct timespec deadline_in(int seconds) {
  struct timespec until;

  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  return until;
}

/* Waits for the reader's answer until `until`, and fails the test if it has
 * none by then. The caller frees the reader. */
static void reader_wait(struct reader *reader, const struct timespec *until) {
  ck_assert_msg(pthread_timedjoin_np(reader->thread, NULL, until) == 0,
                "GET %s had no answer in time", reader->path);
  ck_assert_msg(atomic_load(&reader->status) > 0, "GET %s failed", reader->path);
}

/* Eight customers' apps asking for the same page at the same moment, while
 * the database is slow: one query, and eight answers. */
START_TEST(concurrent_misses_of_one_page_send_one_query) {
  const char *series = "purchases_db_operation_duration_seconds_count{operation=\"purchase_list\"}";
  struct reader *readers[8];
  struct timespec until;
  double before;
  double coalesced;
  double hits;

  insert("co-1", "co-user", 1700000000000);
  before = metric(&a, series);
  coalesced = metric(&a, "purchases_cache_coalesced_total");
  hits = metric(&a, "purchases_cache_hits_total");
  ferretdb_pause(&db);
  for (int i = 0; i < 8; i++) {
    readers[i] = reader_start(&a, "/user/co-user", "co-user");
  }
  usleep(500 * 1000);
  ferretdb_resume(&db);
  until = deadline_in(30);
  for (int i = 0; i < 8; i++) {
    reader_wait(readers[i], &until);
    ck_assert_int_eq(readers[i]->status, 200);
    free(readers[i]);
  }
  ck_assert_double_eq(metric(&a, series), before + 1);
  coalesced = metric(&a, "purchases_cache_coalesced_total") - coalesced;
  hits = metric(&a, "purchases_cache_hits_total") - hits;
  if (getenv("PURCHASES_TEST_WORKERS") == NULL) {
    /* A thread per connection: the seven others all wait on the first. */
    ck_assert_double_ge(coalesced, 7);
  } else {
    /* Epoll workers: a reader queued behind the first in its worker's
     * loop comes after the answer and finds it cached. */
    ck_assert_double_ge(coalesced + hits, 7);
  }
}
END_TEST

/* Returns once `count` requests are in hand-off threads' hands (handed off
 * and not yet given back to their workers), or fails after five seconds.
 * The gauge drops just after a thread gives a connection back, and the
 * worker may send the answer first: a client can see its answer a moment
 * before the gauge does. */
static void wait_until_in_hand(const struct server *server, double count) {
  for (int i = 0; i < 250 && metric(server, "purchases_handoffs_in_hand") != count; i++) {
    usleep(20 * 1000);
  }
  ck_assert_double_eq(metric(server, "purchases_handoffs_in_hand"), count);
}

/* Starts `user`'s read of their own first page, through the shop. */
static struct reader *start_page_read(const struct server *server, const char *user) {
  char path[64];

  snprintf(path, sizeof(path), "/user/%s", user);
  return reader_start(server, path, user);
}

/* Stops the database, then starts `user`'s read of their first page:
 * returns it once it has been handed off and waits on the database. */
static struct reader *stop_database_under_a_read(const struct server *server, const char *user) {
  struct reader *reader;

  ferretdb_pause(&db);
  reader = start_page_read(server, user);
  wait_until_in_hand(server, 1);
  return reader;
}

/* `user` reads their own first page through the shop, and gets it. */
static void read_own_page(const struct server *server, const char *user) {
  struct http_response r;
  char path[64];

  snprintf(path, sizeof(path), "/user/%s", user);
  get(server, path, "shop", user, NULL, &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}

/* While `waiting` is handed off and waits on the stopped database, the
 * worker answers `user`'s cached page. */
static void hit_while_one_waits(const struct server *server, const char *user,
                                const struct reader *waiting) {
  read_own_page(server, user);
  wait_until_in_hand(server, 1);
  ck_assert_int_eq(atomic_load(&waiting->status), 0);
}

/* Starts the database again; `waiting` then gets its answer, `status`. */
static void resume_database_for(struct reader *waiting, long status) {
  struct timespec until;

  ferretdb_resume(&db);
  until = deadline_in(30);
  reader_wait(waiting, &until);
  ck_assert_int_eq(waiting->status, status);
  free(waiting);
}

/* On one epoll worker, a read that waits on the database is handed off:
 * while one waits on a paused database, the worker still answers a cached
 * page (without the hand-off that request would wait too, past curl's
 * timeout), and a handed-off read is charged one token, not two. */
START_TEST(a_worker_answers_hits_while_a_miss_waits) {
  const char *env[] = {"PURCHASES_WORKERS=1", "PURCHASES_HANDOFF_THREADS=2",
                       "PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=10", NULL};
  struct server c;
  struct reader *stuck;
  struct http_response r;
  char remaining[16];
  double handed;

  insert("ho-1", "ho-user", 1700000000000);
  insert("ho-2", "ho-other", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));
  handed = metric(&c, "purchases_handoffs_total");
  get(&c, "/user/ho-user", "shop", "ho-user", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "RateLimit-Remaining", remaining, sizeof(remaining)), "9");
  http_response_cleanup(&r);
  ck_assert_double_eq(metric(&c, "purchases_handoffs_total"), handed + 1);
  /* A hit is answered on the worker. */
  read_own_page(&c, "ho-user");
  ck_assert_double_eq(metric(&c, "purchases_handoffs_total"), handed + 1);

  stuck = stop_database_under_a_read(&c, "ho-other");
  hit_while_one_waits(&c, "ho-user", stuck);
  resume_database_for(stuck, 200);
  wait_until_in_hand(&c, 0);
  ck_assert_double_eq(metric(&c, "purchases_handoffs_total"), handed + 2);
  server_stop(&c, 15);
}
END_TEST

/* /readyz pings the database; on an epoll worker that ping is handed off
 * too: while it waits on a stopped database, the worker still answers a
 * cached page, and the probe answers 200 once the database is back. */
START_TEST(a_worker_answers_hits_while_a_readiness_probe_waits) {
  const char *env[] = {"PURCHASES_WORKERS=1", "PURCHASES_HANDOFF_THREADS=2", NULL};
  struct server c;
  struct reader *probe;
  double handed;

  insert("rz-1", "rz-user", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));
  read_own_page(&c, "rz-user");
  handed = metric(&c, "purchases_handoffs_total");

  ferretdb_pause(&db);
  probe = reader_start(&c, "/readyz", NULL);
  wait_until_in_hand(&c, 1);
  ck_assert_double_eq(metric(&c, "purchases_handoffs_total"), handed + 1);
  hit_while_one_waits(&c, "rz-user", probe);
  resume_database_for(probe, 200);
  ck_assert_int_eq(server_stop(&c, 15), 0);
}
END_TEST

/* A request that carries Basic credentials (which headers mode ignores) is
 * handed off like any other, so that no header makes a worker wait on the
 * database, and the credentials Ulfius reads on each pass are not leaked
 * (the server exits clean under LeakSanitizer). */
START_TEST(a_worker_hands_off_a_read_that_carries_basic_credentials) {
  const char *env[] = {"PURCHASES_WORKERS=1", "PURCHASES_HANDOFF_THREADS=2", NULL};
  struct server c;
  struct http_response r;
  double handed;

  insert("ba-1", "ba-user", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));
  handed = metric(&c, "purchases_handoffs_total");
  get(&c, "/user/ba-user", "shop", "ba-user", "Authorization: Basic YmE6c2VjcmV0", &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(strstr(r.body, "ba-1"));
  http_response_cleanup(&r);
  ck_assert_double_eq(metric(&c, "purchases_handoffs_total"), handed + 1);
  ck_assert_int_eq(server_stop(&c, 15), 0);
}
END_TEST

/* A read handed off waits at most PURCHASES_DB_WAIT_MS for the database in
 * all, in the hand-off queue and for a slot, and its worker never waits on
 * the database: with the one hand-off thread and the one slot held by a
 * read of a stopped database, six more reads (more than the queue once
 * held before a worker ran the rest itself) are each shed with 503 and
 * Retry-After once their budget is spent, while the first still waits.
 * Before, they waited in the queue for as long as the first did. */
#define SHED_READERS 6

/* The read ends by `until`, shed: 503, a problem, Retry-After. Frees it. */
static void assert_shed_by(struct reader *reader, const struct timespec *until) {
  reader_wait(reader, until);
  ck_assert_int_eq(reader->status, 503);
  ck_assert(reader->retry_after);
  ck_assert(reader->problem);
  free(reader);
}

START_TEST(a_handed_off_read_waits_at_most_the_db_wait_budget) {
  const char *env[] = {"PURCHASES_WORKERS=1", "PURCHASES_HANDOFF_THREADS=1",
                       "PURCHASES_DB_MAX_IN_FLIGHT=1", "PURCHASES_DB_WAIT_MS=300", NULL};
  struct server c;
  struct reader *first;
  struct reader *others[SHED_READERS];
  struct timespec until;
  double expired;
  double shed;
  double overflows;

  insert("hw-1", "hw-first", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));
  expired = metric(&c, "purchases_handoff_expired_total");
  shed = metric(&c, "purchases_db_shed_total");
  overflows = metric(&c, "purchases_handoff_overflows_total");
  ck_assert_double_ge(expired, 0);
  ck_assert_double_ge(overflows, 0);

  first = stop_database_under_a_read(&c, "hw-first");
  for (int i = 0; i < SHED_READERS; i++) {
    char user[16];
    snprintf(user, sizeof(user), "hw-other-%d", i);
    others[i] = start_page_read(&c, user);
  }
  /* Far longer than the budget, and the database stays stopped meanwhile. */
  until = deadline_in(20);
  for (int i = 0; i < SHED_READERS; i++) {
    assert_shed_by(others[i], &until);
  }
  ck_assert_double_eq(metric(&c, "purchases_handoff_expired_total"), expired + SHED_READERS);
  ck_assert_double_eq(metric(&c, "purchases_db_shed_total"), shed + SHED_READERS);
  ck_assert_double_eq(metric(&c, "purchases_handoff_overflows_total"), overflows);
  wait_until_in_hand(&c, 1);
  ck_assert_int_eq(atomic_load(&first->status), 0);

  resume_database_for(first, 200);
  wait_until_in_hand(&c, 0);
  server_stop(&c, 15);
}
END_TEST

/* A read whose budget ran out in the hand-off queue while another read of
 * the same page waits on the database: its worker answers it at once (503,
 * Retry-After) rather than wait for that other read to end, which here
 * would take as long as the database stays stopped (one minute of query
 * time), the worker's other connections waiting with it. */
START_TEST(an_expired_read_does_not_wait_for_another_read_of_its_page) {
  const char *env[] = {"PURCHASES_WORKERS=1", "PURCHASES_HANDOFF_THREADS=1",
                       "PURCHASES_DB_WAIT_MS=300", "PURCHASES_DB_QUERY_TIMEOUT_MS=60000", NULL};
  struct server c;
  struct reader *first;
  struct timespec until;
  double expired;

  insert("hx-1", "hx-user", 1700000000000);
  insert("hx-2", "hx-other", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));
  read_own_page(&c, "hx-other");
  expired = metric(&c, "purchases_handoff_expired_total");

  first = stop_database_under_a_read(&c, "hx-user");
  until = deadline_in(10);
  assert_shed_by(start_page_read(&c, "hx-user"), &until);
  ck_assert_double_eq(metric(&c, "purchases_handoff_expired_total"), expired + 1);
  /* The first read still waits, and the worker still answers hits. */
  hit_while_one_waits(&c, "hx-other", first);
  resume_database_for(first, 200);
  ck_assert_int_eq(server_stop(&c, 15), 0);
}
END_TEST

/* A read still queued for the hand-off thread when the drain ends keeps
 * its bound: with no time to drain, SIGTERM stops the hand-off at once,
 * and the queued read is shed with 503 when its budget is spent, while
 * the read ahead of it still waits on the stopped database. Before, the
 * queue's watcher ended with the drain and the queued read waited for the
 * thread, which here is as long as the database stays stopped. */
START_TEST(a_read_queued_at_shutdown_waits_at_most_the_db_wait_budget) {
  const char *env[] = {"PURCHASES_WORKERS=1",
                       "PURCHASES_HANDOFF_THREADS=1",
                       "PURCHASES_DB_MAX_IN_FLIGHT=1",
                       "PURCHASES_DB_WAIT_MS=1000",
                       "PURCHASES_DB_QUERY_TIMEOUT_MS=60000",
                       "PURCHASES_SHUTDOWN_TIMEOUT_S=0",
                       NULL};
  struct server c;
  struct reader *first;
  struct reader *second;
  struct timespec until;

  insert("hs-1", "hs-first", 1700000000000);
  ck_assert(server_start(&c, db.uri, env));
  ck_assert(wait_for_status(c.port, "/readyz", 200, 15));

  first = stop_database_under_a_read(&c, "hs-first");
  second = start_page_read(&c, "hs-second");
  wait_until_in_hand(&c, 2);
  kill(c.pid, SIGTERM);
  until = deadline_in(10);
  assert_shed_by(second, &until);
  ck_assert_int_eq(atomic_load(&first->status), 0);

  resume_database_for(first, 200);
  ck_assert_int_eq(server_stop(&c, 15), 0);
}
END_TEST

/* Two instances, one budget: a burst is limited once, not once each. With
 * Redis gone each limits on its own, and shares again once it is back. */
START_TEST(rate_limits_are_shared_by_every_instance) {
  const char *env[] = {redis_env, "PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=6",
                       NULL};
  struct server c;
  struct server d;
  int served;

  ck_assert(server_start(&c, db.uri, env));
  ck_assert(server_start(&d, db.uri, env));
  /* 6 tokens, at most a couple more while the loop runs: never 12. */
  served = served_before_429(&c, &d, "rl-shared", 20);
  ck_assert_int_ge(served, 6);
  ck_assert_int_le(served, 8);
  ck_assert_double_eq(metric(&c, "purchases_rate_limit_shared"), 1);

  redis_stop(&redis);
  /* Each instance on its own: a fresh budget of 6 in each, 12 in all. */
  served = served_before_429(&c, &d, "rl-alone", 40);
  ck_assert_int_ge(served, 12);
  ck_assert_int_le(served, 16);
  ck_assert_double_eq(metric(&c, "purchases_rate_limit_shared"), 0);
  ck_assert_double_ge(metric(&c, "purchases_rate_limit_local_decisions_total"), 6);

  ck_assert(redis_restart(&redis));
  sleep(2); /* past the 1 s pause after a failure */
  served = served_before_429(&c, &d, "rl-back", 20);
  ck_assert_int_ge(served, 6);
  ck_assert_int_le(served, 8);
  ck_assert_double_eq(metric(&c, "purchases_rate_limit_shared"), 1);
  server_stop(&c, 15);
  server_stop(&d, 15);
}
END_TEST

/* make bench's framework ceiling: off unless asked for, and behind the same
 * identity checks as a real read when on. */
START_TEST(the_bench_route_exists_only_when_asked_for) {
  struct server c;
  struct http_response r;
  get(&a, "/bench/fixed/bf-user", "shop", "bf-user", NULL, &r);
  ck_assert_int_eq(r.status, 404);
  http_response_cleanup(&r);
  start_instance(&c, "PURCHASES_BENCH_ROUTES=1");
  get(&c, "/bench/fixed/bf-user", "shop", "bf-user", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "{\"data\":[],\"page\":{\"limit\":20,\"hasMore\":false,"
                           "\"nextCursor\":null,\"prevCursor\":null}}");
  http_response_cleanup(&r);
  get(&c, "/bench/fixed/bf-user", "shop", "bf-other", NULL, &r);
  ck_assert_int_eq(r.status, 403);
  http_response_cleanup(&r);
  server_stop(&c, 15);
}
END_TEST

Suite *suite_cache(void) {
  Suite *s = suite_create("cache");
  TCase *tc = tcase_create("cache");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 90);
  tcase_add_test(tc, no_answer_crosses_users_roles_or_fields);
  tcase_add_test(tc, every_write_is_seen_at_once_on_both_instances);
  tcase_add_test(tc, an_import_is_seen_by_running_instances);
  tcase_add_test(tc, redis_down_is_correct_and_recovers);
  tcase_add_test(tc, bumps_that_waited_for_redis_are_made_without_traffic);
  tcase_add_test(tc, kept_connections_outlived_by_redis_are_replaced_at_once);
  tcase_add_test(tc, an_outside_write_is_seen_after_the_ttl);
  tcase_add_test(tc, conditional_requests_follow_rfc_9110);
  tcase_add_test(tc, a_304_from_the_cache_spares_the_rate_limit);
  tcase_add_test(tc, audited_reads_are_audited_on_a_cache_hit);
  tcase_add_test(tc, a_rate_limited_conditional_read_is_not_audited);
  tcase_add_test(tc, the_bench_route_exists_only_when_asked_for);
  tcase_add_test(tc, answers_are_gzipped_when_asked_and_only_then);
  tcase_add_test(tc, rate_limits_are_shared_by_every_instance);
  tcase_add_test(tc, concurrent_misses_of_one_page_send_one_query);
  tcase_add_test(tc, a_worker_answers_hits_while_a_miss_waits);
  tcase_add_test(tc, a_handed_off_read_waits_at_most_the_db_wait_budget);
  tcase_add_test(tc, an_expired_read_does_not_wait_for_another_read_of_its_page);
  tcase_add_test(tc, a_read_queued_at_shutdown_waits_at_most_the_db_wait_budget);
  tcase_add_test(tc, a_worker_hands_off_a_read_that_carries_basic_credentials);
  tcase_add_test(tc, a_worker_answers_hits_while_a_readiness_probe_waits);
  suite_add_tcase(s, tc);
  return s;
}
