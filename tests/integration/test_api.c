/* The API as callers see it: the real server over HTTP, FerretDB behind it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;
/* Unique per run, so the data of one run never meets another's. */
static char alice[32];
static char bob[32];
static char nobody[32];
static char heavy[32];
static char mixed[32];

#define DAY_MS       86400000LL
#define BASE_DATE_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

static void insert_user(const char *user, int count, int64_t first_date_ms) {
  bson_t **docs = calloc((size_t)count, sizeof(bson_t *));
  char id[64];
  for (int i = 0; i < count; i++) {
    snprintf(id, sizeof(id), "%s-p%03d", user, i);
    docs[i] = fixture_purchase(id, user, first_date_ms + i * DAY_MS);
  }
  ck_assert(db_insert(db.uri, (const bson_t *const *)docs, (size_t)count));
  for (int i = 0; i < count; i++) {
    bson_destroy(docs[i]);
  }
  free(docs);
}

/* A purchase written by another client: 32-bit money, double quantity. */
static void insert_mixed_types(void) {
  bson_t *doc = BCON_NEW(
      "id", BCON_UTF8("mixed-1"), "userId", BCON_UTF8(mixed), "status", BCON_UTF8("paid"), "items",
      "[", "{", "id", BCON_UTF8("x"), "quantity", BCON_DOUBLE(3.0), "priceTotalPence",
      BCON_INT32(300), "}", "]", "pricePence", BCON_INT32(300), "currency", BCON_UTF8("EUR"),
      "datePurchased", BCON_DATE_TIME(BASE_DATE_MS), "extra", BCON_UTF8("internal"));
  const bson_t *docs[] = {doc};
  ck_assert(db_insert(db.uri, docs, 1));
  bson_destroy(doc);
}

static void setup(void) {
  char database[64];
  snprintf(database, sizeof(database), "api_%d", (int)getpid());
  snprintf(alice, sizeof(alice), "alice%d", (int)getpid());
  snprintf(bob, sizeof(bob), "bob%d", (int)getpid());
  snprintf(nobody, sizeof(nobody), "nobody%d", (int)getpid());
  snprintf(heavy, sizeof(heavy), "heavy%d", (int)getpid());
  snprintf(mixed, sizeof(mixed), "mixed%d", (int)getpid());
  ck_assert(ferretdb_start(&db, database));
  insert_user(alice, 3, BASE_DATE_MS);
  insert_user(bob, 2, BASE_DATE_MS);
  insert_user(heavy, 150, BASE_DATE_MS);
  insert_mixed_types();
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* GET `path` as client/user; asserts a problem+json response with `status`. */
static void expect_problem(const char *path, const char *client, const char *user, long status) {
  struct http_response r;
  char buf[128];
  ck_assert(http_get_as(server.port, path, client, user, &r));
  ck_assert_int_eq(r.status, status);
  ck_assert_ptr_nonnull(http_header(&r, "Content-Type", buf, sizeof(buf)));
  ck_assert_str_eq(buf, "application/problem+json");
  ck_assert_ptr_nonnull(r.j_body);
  ck_assert_int_eq(json_integer_value(json_object_get(r.j_body, "status")), status);
  ck_assert_ptr_nonnull(json_string_value(json_object_get(r.j_body, "type")));
  ck_assert_ptr_nonnull(json_string_value(json_object_get(r.j_body, "title")));
  ck_assert_ptr_nonnull(json_string_value(json_object_get(r.j_body, "detail")));
  ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", buf, sizeof(buf)));
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "requestId")), buf);
  http_response_cleanup(&r);
}

static char *user_path(const char *user) {
  static char path[128];
  snprintf(path, sizeof(path), "/user/%s", user);
  return path;
}

START_TEST(customer_sees_own_purchases_newest_first) {
  struct http_response r;
  char buf[128];
  ck_assert(http_get_as(server.port, user_path(alice), "shop", alice, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)), "application/json");
  json_t *data = json_object_get(r.j_body, "data");
  ck_assert_uint_eq(json_array_size(data), 3);
  const char *previous = NULL;
  size_t i;
  json_t *p;
  json_array_foreach(data, i, p) {
    ck_assert_str_eq(json_string_value(json_object_get(p, "userId")), alice);
    ck_assert_ptr_null(json_object_get(p, "_id"));
    const char *date = json_string_value(json_object_get(p, "datePurchased"));
    if (previous != NULL) {
      ck_assert_int_gt(strcmp(previous, date), 0);
    }
    previous = date;
  }
  char newest[64];
  snprintf(newest, sizeof(newest), "%s-p002", alice);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "id")), newest);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(purchase_has_the_contract_shape) {
  struct http_response r;
  ck_assert(http_get_as(server.port, user_path(bob), "shop", bob, &r));
  ck_assert_int_eq(r.status, 200);
  json_t *p = json_array_get(json_object_get(r.j_body, "data"), 0);
  char expected_id[64];
  snprintf(expected_id, sizeof(expected_id), "%s-p001", bob);
  ck_assert_str_eq(json_string_value(json_object_get(p, "id")), expected_id);
  ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "delivered");
  ck_assert_int_eq(json_integer_value(json_object_get(p, "pricePence")), 6998);
  ck_assert_str_eq(json_string_value(json_object_get(p, "currency")), "GBP");
  ck_assert_str_eq(json_string_value(json_object_get(p, "datePurchased")),
                   "2023-11-15T22:13:20.000Z");
  json_t *item = json_array_get(json_object_get(p, "items"), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(item, "pricePerUnitPence")), 3499);
  ck_assert_int_eq(json_integer_value(json_object_get(item, "quantity")), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(item, "priceTotalPence")), 6998);
  json_t *payment = json_object_get(p, "payment");
  ck_assert_str_eq(json_string_value(json_object_get(payment, "lastDigits")), "4242");
  json_t *delivery = json_object_get(p, "delivery");
  ck_assert(json_is_null(json_object_get(delivery, "storeLocation")));
  ck_assert_str_eq(json_string_value(json_object_get(delivery, "dateDelivered")),
                   "2023-11-16T22:13:20.000Z");
  http_response_cleanup(&r);
}
END_TEST

START_TEST(customer_cannot_see_someone_else) {
  expect_problem(user_path(bob), "shop", alice, 403);
}
END_TEST

START_TEST(support_sees_any_customer) {
  struct http_response r;
  ck_assert(http_get_as(server.port, user_path(alice), "customer-support", "agent-7", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 3);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(service_sees_any_customer) {
  struct http_response r;
  ck_assert(http_get_as(server.port, user_path(bob), "invoicing", "invoicing-batch", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 2);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(no_purchases_is_an_empty_list) {
  struct http_response r;
  ck_assert(http_get_as(server.port, user_path(nobody), "shop", nobody, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "{\"data\":[],\"page\":{\"limit\":20,\"hasMore\":false,\"nextCursor\":"
                           "null,\"prevCursor\":null}}");
  http_response_cleanup(&r);
}
END_TEST

START_TEST(list_is_capped_at_100_newest) {
  struct http_response r;
  char newest[64];
  char oldest_kept[64];
  char path[160];
  snprintf(path, sizeof(path), "%s?limit=100", user_path(heavy));
  ck_assert(http_get_as(server.port, path, "customer-support", "agent-7", &r));
  ck_assert_int_eq(r.status, 200);
  json_t *data = json_object_get(r.j_body, "data");
  ck_assert_uint_eq(json_array_size(data), 100);
  snprintf(newest, sizeof(newest), "%s-p149", heavy);
  snprintf(oldest_kept, sizeof(oldest_kept), "%s-p050", heavy);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 0), "id")), newest);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(data, 99), "id")), oldest_kept);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(integers_of_any_width_are_read) {
  struct http_response r;
  ck_assert(http_get_as(server.port, user_path(mixed), "shop", mixed, &r));
  ck_assert_int_eq(r.status, 200);
  json_t *p = json_array_get(json_object_get(r.j_body, "data"), 0);
  ck_assert_int_eq(json_integer_value(json_object_get(p, "pricePence")), 300);
  json_t *item = json_array_get(json_object_get(p, "items"), 0);
  ck_assert(json_is_integer(json_object_get(item, "quantity")));
  ck_assert_int_eq(json_integer_value(json_object_get(item, "quantity")), 3);
  ck_assert_ptr_null(json_object_get(p, "extra"));
  ck_assert(json_is_null(json_object_get(p, "payment")));
  http_response_cleanup(&r);
}
END_TEST

START_TEST(missing_or_empty_identity_is_401) {
  expect_problem(user_path(alice), NULL, alice, 401);
  expect_problem(user_path(alice), "", alice, 401);
  expect_problem(user_path(alice), "shop", NULL, 401);
  expect_problem(user_path(alice), "shop", "", 401);
  expect_problem(user_path(alice), NULL, NULL, 401);
}
END_TEST

START_TEST(unknown_client_is_403) {
  expect_problem(user_path(alice), "mallory-app", alice, 403);
}
END_TEST

START_TEST(malformed_user_ids_are_400) {
  expect_problem("/user/123'", "invoicing", "svc", 400);
  expect_problem("/user/%7B%22%24ne%22%3Anull%7D", "invoicing", "svc", 400);
  expect_problem("/user/a%20b", "invoicing", "svc", 400);
  expect_problem("/user/a%2Fb", "invoicing", "svc", 400);
  expect_problem("/user/%00", "invoicing", "svc", 400);
  expect_problem("/user/"
                 "12345678901234567890123456789012345678901234567890123456789012345",
                 "invoicing", "svc", 400);
  /* A query parameter of the same name must not smuggle in another user. */
  char path[128];
  snprintf(path, sizeof(path), "/user/%s?userId=%s", alice, bob);
  expect_problem(path, "shop", alice, 400);
}
END_TEST

START_TEST(malformed_identity_headers_are_400) {
  expect_problem(user_path(alice), "shop", "a b", 400);
  expect_problem(user_path(alice), "sh op", alice, 400);
  expect_problem(user_path(alice), "shop", "{\"$ne\":null}", 400);
}
END_TEST

START_TEST(repeated_identity_headers_are_400) {
  struct http_response r;
  char user_header[64];
  snprintf(user_header, sizeof(user_header), "x-user-id: %s", alice);
  const char *headers[] = {"x-client-id: shop", user_header, user_header, NULL};
  ck_assert(http_request(server.port, "GET", user_path(alice), headers, &r));
  ck_assert_int_eq(r.status, 400);
  http_response_cleanup(&r);
  const char *clients[] = {"x-client-id: shop", "x-client-id: customer-support", user_header, NULL};
  ck_assert(http_request(server.port, "GET", user_path(bob), clients, &r));
  ck_assert_int_eq(r.status, 400);
  http_response_cleanup(&r);
  /* Spelt in another case, a repeat must not let either copy win. */
  char other_case[64];
  snprintf(other_case, sizeof(other_case), "X-User-Id: %s", bob);
  const char *mixed_users[] = {"x-client-id: shop", user_header, other_case, NULL};
  ck_assert(http_request(server.port, "GET", user_path(bob), mixed_users, &r));
  ck_assert_int_eq(r.status, 400);
  http_response_cleanup(&r);
  const char *mixed_clients[] = {"X-Client-Id: customer-support", "x-client-id: shop", user_header,
                                 NULL};
  ck_assert(http_request(server.port, "GET", user_path(bob), mixed_clients, &r));
  ck_assert_int_eq(r.status, 400);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(unknown_paths_are_404) {
  expect_problem("/nope", NULL, NULL, 404);
  expect_problem("/user", "shop", alice, 404);
  expect_problem("/user/1/2/3", "shop", "1", 404);
  expect_problem("/", NULL, NULL, 404);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow) {
  const char *methods[] = {"POST", "PUT", "DELETE", "PATCH"};
  for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
    struct http_response r;
    char allow[64];
    ck_assert(http_request(server.port, methods[i], user_path(alice), NULL, &r));
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD");
    ck_assert_int_eq(json_integer_value(json_object_get(r.j_body, "status")), 405);
    http_response_cleanup(&r);
  }
  struct http_response r;
  ck_assert(http_request(server.port, "DELETE", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 405);
  http_response_cleanup(&r);
}
END_TEST

/* HEAD answers as GET would, headers and all, without the body. */
START_TEST(head_answers_as_get_without_a_body) {
  const char *headers[] = {"x-client-id: shop", NULL, NULL};
  char user_header[64];
  char get_etag[64];
  char head_etag[64];
  char length[32];
  struct http_response get;
  struct http_response head;

  snprintf(user_header, sizeof(user_header), "x-user-id: %s", alice);
  headers[1] = user_header;
  ck_assert(http_request(server.port, "GET", user_path(alice), headers, &get));
  ck_assert(http_request(server.port, "HEAD", user_path(alice), headers, &head));
  ck_assert_int_eq(head.status, 200);
  ck_assert_uint_eq(head.body_len, 0);
  ck_assert_str_eq(http_header(&head, "ETag", head_etag, sizeof(head_etag)),
                   http_header(&get, "ETag", get_etag, sizeof(get_etag)));
  snprintf(get_etag, sizeof(get_etag), "%zu", get.body_len);
  ck_assert_str_eq(http_header(&head, "Content-Length", length, sizeof(length)), get_etag);
  http_response_cleanup(&head);
  http_response_cleanup(&get);
  /* Refusals too: another user's list is 403 to HEAD as to GET. */
  ck_assert(http_request(server.port, "HEAD", user_path(bob), headers, &head));
  ck_assert_int_eq(head.status, 403);
  http_response_cleanup(&head);
  ck_assert(http_request(server.port, "HEAD", "/healthz", NULL, &head));
  ck_assert_int_eq(head.status, 200);
  http_response_cleanup(&head);
}
END_TEST

/* Browsers of listed origins may call; others get no CORS header. */
START_TEST(cors_lets_listed_origins_in_and_no_other) {
  const char *env[] = {"PURCHASES_CORS_ORIGINS=https://shop.example,http://localhost:3000", NULL};
  const char *preflight[] = {"Origin: https://shop.example", "Access-Control-Request-Method: GET",
                             "Access-Control-Request-Headers: authorization", NULL};
  const char *stranger[] = {"Origin: https://evil.example", "Access-Control-Request-Method: GET",
                            NULL};
  char user_header[64];
  const char *read[] = {"Origin: https://shop.example", "x-client-id: shop", user_header, NULL};
  const char *strange_read[] = {"Origin: https://evil.example", "x-client-id: shop", user_header,
                                NULL};
  struct server cors;
  struct http_response r;
  char buf[256];

  snprintf(user_header, sizeof(user_header), "x-user-id: %s", alice);
  /* Off by default: OPTIONS is not a method of the API. */
  ck_assert(http_request(server.port, "OPTIONS", user_path(alice), preflight, &r));
  ck_assert_int_eq(r.status, 405);
  ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)));
  http_response_cleanup(&r);

  ck_assert(server_start(&cors, db.uri, env));
  ck_assert(http_request(cors.port, "OPTIONS", user_path(alice), preflight, &r));
  ck_assert_int_eq(r.status, 204);
  ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)),
                   "https://shop.example");
  ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Methods", buf, sizeof(buf)), "GET, HEAD");
  ck_assert_ptr_nonnull(
      strstr(http_header(&r, "Access-Control-Allow-Headers", buf, sizeof(buf)), "Authorization"));
  ck_assert_ptr_nonnull(strstr(http_header(&r, "Vary", buf, sizeof(buf)), "Origin"));
  http_response_cleanup(&r);
  ck_assert(http_request(cors.port, "OPTIONS", "/purchases", preflight, &r));
  ck_assert_int_eq(r.status, 204);
  ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Methods", buf, sizeof(buf)), "POST");
  http_response_cleanup(&r);

  ck_assert(http_request(cors.port, "OPTIONS", user_path(alice), stranger, &r));
  ck_assert_int_eq(r.status, 403);
  ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)));
  http_response_cleanup(&r);
  ck_assert(http_request(cors.port, "OPTIONS", user_path(alice),
                         (const char *const[]){"Origin: https://shop.example", NULL}, &r));
  ck_assert_int_eq(r.status, 400);
  http_response_cleanup(&r);

  ck_assert(http_request(cors.port, "GET", user_path(alice), read, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)),
                   "https://shop.example");
  ck_assert_ptr_nonnull(
      strstr(http_header(&r, "Access-Control-Expose-Headers", buf, sizeof(buf)), "ETag"));
  ck_assert_ptr_nonnull(strstr(http_header(&r, "Vary", buf, sizeof(buf)), "Origin"));
  http_response_cleanup(&r);
  ck_assert(http_request(cors.port, "GET", user_path(alice), strange_read, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin", buf, sizeof(buf)));
  http_response_cleanup(&r);
  server_stop(&cors, 15);
}
END_TEST

/* A problem's type is a URL that resolves to its description. */
START_TEST(problem_types_resolve_to_their_description) {
  struct http_response r;
  struct http_response page;
  char buf[96];
  const char *types[] = {"invalid-request",   "unauthenticated",     "forbidden",
                         "not-found",         "method-not-allowed",  "service-unavailable",
                         "too-many-requests", "precondition-failed", "invalid-purchase",
                         "not-implemented"};

  ck_assert(http_get_as(server.port, user_path(bob), "shop", alice, &r));
  ck_assert_int_eq(r.status, 403);
  const char *type = json_string_value(json_object_get(r.j_body, "type"));
  ck_assert_str_eq(type, "/problems/forbidden");
  ck_assert(http_request(server.port, "GET", type, NULL, &page));
  ck_assert_int_eq(page.status, 200);
  ck_assert_str_eq(http_header(&page, "Content-Type", buf, sizeof(buf)),
                   "text/html; charset=utf-8");
  ck_assert_ptr_nonnull(strstr(page.body, "Access denied"));
  ck_assert_ptr_nonnull(strstr(page.body, "403"));
  http_response_cleanup(&page);
  http_response_cleanup(&r);
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    char path[64];
    snprintf(path, sizeof(path), "/problems/%s", types[i]);
    ck_assert(http_request(server.port, "GET", path, NULL, &page));
    ck_assert_msg(page.status == 200, "%s: %ld", path, page.status);
    http_response_cleanup(&page);
  }
  ck_assert(http_request(server.port, "GET", "/problems/no-such-thing", NULL, &page));
  ck_assert_int_eq(page.status, 404);
  http_response_cleanup(&page);
}
END_TEST

START_TEST(request_id_is_echoed_or_generated) {
  struct http_response r;
  char buf[128];
  const char *good[] = {"X-Request-Id: checkout-42.a_b", NULL};
  ck_assert(http_request(server.port, "GET", "/healthz", good, &r));
  ck_assert_str_eq(http_header(&r, "X-Request-Id", buf, sizeof(buf)), "checkout-42.a_b");
  http_response_cleanup(&r);

  const char *bad[] = {"X-Request-Id: <script>", NULL};
  ck_assert(http_request(server.port, "GET", "/healthz", bad, &r));
  ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", buf, sizeof(buf)));
  ck_assert_uint_eq(strlen(buf), 32);
  ck_assert_uint_eq(strspn(buf, "0123456789abcdef"), 32);
  http_response_cleanup(&r);

  /* Two copies in two spellings: a 400, under an id of its own, not the
   * first copy's. */
  const char *twice[] = {"X-Request-Id: first-copy", "x-request-id: second-copy", NULL};
  ck_assert(http_request(server.port, "GET", "/healthz", twice, &r));
  ck_assert_int_eq(r.status, 400);
  ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", buf, sizeof(buf)));
  ck_assert_uint_eq(strlen(buf), 32);
  ck_assert_uint_eq(strspn(buf, "0123456789abcdef"), 32);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(probes_answer) {
  struct http_response r;
  ck_assert(http_request(server.port, "GET", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
  http_response_cleanup(&r);
  ck_assert(http_request(server.port, "GET", "/readyz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
  http_response_cleanup(&r);
}
END_TEST

/* The shop app may keep a page and revalidate it; no shared cache may keep
 * it, and nothing else (errors, probes) is kept by anyone. */
START_TEST(lists_are_kept_only_privately_and_errors_not_at_all) {
  struct http_response r;
  char buf[64];
  ck_assert(http_get_as(server.port, user_path(alice), "shop", alice, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(http_header(&r, "Cache-Control", buf, sizeof(buf)), "private, no-cache");
  ck_assert_str_eq(http_header(&r, "Vary", buf, sizeof(buf)),
                   "Authorization, X-Client-Id, X-User-Id, Accept-Encoding");
  ck_assert_ptr_nonnull(http_header(&r, "ETag", buf, sizeof(buf)));
  http_response_cleanup(&r);
  ck_assert(http_get_as(server.port, user_path(bob), "shop", alice, &r));
  ck_assert_int_eq(r.status, 403);
  ck_assert_str_eq(http_header(&r, "Cache-Control", buf, sizeof(buf)), "no-store");
  ck_assert_ptr_null(http_header(&r, "Vary", buf, sizeof(buf)));
  ck_assert_ptr_null(http_header(&r, "ETag", buf, sizeof(buf)));
  http_response_cleanup(&r);
  ck_assert(http_request(server.port, "GET", "/healthz", NULL, &r));
  ck_assert_str_eq(http_header(&r, "Cache-Control", buf, sizeof(buf)), "no-store");
  http_response_cleanup(&r);
}
END_TEST

START_TEST(every_request_is_logged_without_contents) {
  struct http_response r;
  const char *id[] = {"X-Request-Id: log-check-1", "x-client-id: shop", NULL};
  char user_header[64];
  snprintf(user_header, sizeof(user_header), "x-user-id: %s", alice);
  const char *headers[] = {id[0], id[1], user_header, NULL};
  ck_assert(http_request(server.port, "GET", user_path(alice), headers, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  /* Give the line a moment to reach the file. */
  usleep(100 * 1000);
  char *log = server_log(&server);
  char *line = strstr(log, "request_id=log-check-1 ");
  ck_assert_ptr_nonnull(line);
  char *end = strchr(line, '\n');
  ck_assert_ptr_nonnull(end);
  *end = '\0';
  ck_assert_ptr_nonnull(strstr(line, "method=GET"));
  ck_assert_ptr_nonnull(strstr(line, "route=/user/:userId"));
  ck_assert_ptr_nonnull(strstr(line, "status=200"));
  ck_assert_ptr_nonnull(strstr(line, "duration_ms="));
  ck_assert_ptr_nonnull(strstr(line, "client=shop"));
  *end = '\n';
  ck_assert_ptr_null(strstr(log, "Secret Blue Kettle"));
  ck_assert_ptr_null(strstr(log, "receipts/"));
  ck_assert_ptr_null(strstr(log, "lastDigits"));
  free(log);
}
END_TEST

START_TEST(hostile_input_does_not_break_the_server) {
  /* Each path is decoded once, exactly: "%ZZ" must not become some byte
   * that happens to be a valid user id. */
  const struct {
    const char *path;
    long status;
  } cases[] = {
      {"/user/%ZZ", 400},    {"/user/%", 400},
      {"/user/%4", 400},     {"/user/..%2F..%2Fetc", 400},
      {"/user/%C0%AF", 400}, {"/user/\xff\xfe", 400},
      {"/%00/%00", 404},     {"/user/%25%25%25", 400},
      {"/user/u1%00x", 400},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct http_response r;
    ck_assert(http_get_as(server.port, cases[i].path, "invoicing", "svc", &r));
    long status = r.status;
    char type[32] = "";
    http_header(&r, "Content-Type", type, sizeof(type));
    http_response_cleanup(&r);
    ck_assert_msg(status == cases[i].status, "case #%zu answered %ld, not %ld", i, status,
                  cases[i].status);
    ck_assert_str_eq(type, "application/problem+json");
  }
  struct http_response r;
  ck_assert(http_request(server.port, "GET", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

/* Last: SIGTERM gives exit code 0, and under the sanitizers any leak or
 * undefined behaviour in the server would have made it non-zero. */
START_TEST(sigterm_exits_zero_without_leaks) {
  ck_assert_int_eq(server_stop(&server, 15), 0);
  char *log = server_log(&server);
  ck_assert_ptr_null(strstr(log, "AddressSanitizer"));
  ck_assert_ptr_null(strstr(log, "runtime error"));
  free(log);
}
END_TEST

Suite *suite_api(void) {
  Suite *suite = suite_create("api");
  TCase *tc = tcase_create("get_user_purchases");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_add_test(tc, customer_sees_own_purchases_newest_first);
  tcase_add_test(tc, purchase_has_the_contract_shape);
  tcase_add_test(tc, customer_cannot_see_someone_else);
  tcase_add_test(tc, support_sees_any_customer);
  tcase_add_test(tc, service_sees_any_customer);
  tcase_add_test(tc, no_purchases_is_an_empty_list);
  tcase_add_test(tc, list_is_capped_at_100_newest);
  tcase_add_test(tc, integers_of_any_width_are_read);
  tcase_add_test(tc, missing_or_empty_identity_is_401);
  tcase_add_test(tc, unknown_client_is_403);
  tcase_add_test(tc, malformed_user_ids_are_400);
  tcase_add_test(tc, malformed_identity_headers_are_400);
  tcase_add_test(tc, repeated_identity_headers_are_400);
  tcase_add_test(tc, unknown_paths_are_404);
  tcase_add_test(tc, wrong_method_is_405_with_allow);
  tcase_add_test(tc, head_answers_as_get_without_a_body);
  tcase_add_test(tc, cors_lets_listed_origins_in_and_no_other);
  tcase_add_test(tc, problem_types_resolve_to_their_description);
  tcase_add_test(tc, request_id_is_echoed_or_generated);
  tcase_add_test(tc, probes_answer);
  tcase_add_test(tc, lists_are_kept_only_privately_and_errors_not_at_all);
  tcase_add_test(tc, every_request_is_logged_without_contents);
  tcase_add_test(tc, hostile_input_does_not_break_the_server);
  tcase_add_test(tc, sigterm_exits_zero_without_leaks);
  suite_add_tcase(suite, tc);
  return suite;
}
