/* The write side over HTTP against the real server and FerretDB: creates
 * that retries, races and crashes can neither lose nor double, and status
 * changes of which only one can win. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "../support/harness.h"
#include "../support/problems.h"
#include "suites.h"

#define CLIENTS                                                                                    \
  "PURCHASES_CLIENTS=shop:customer,customer-support:support,invoicing:service,checkout:ingest,"    \
  "fulfilment:ingest"
#define DATABASE "writes"

static struct ferretdb db;
static struct server server;

/* These tests change documents behind the service's back, as a crash
 * would leave them, and read them back: without the response cache, which
 * by design sees such writes only after its TTL (suite "cache"). Every
 * start of the server below uses it. */
static const char *const env[] = {CLIENTS, "PURCHASES_CACHE_BYTES=0", NULL};

static void setup(void) {
  ck_assert(ferretdb_start(&db, DATABASE));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* A valid purchase of `user`: two lines in GBP, placed. id may be NULL. */
static json_t *purchase(const char *id, const char *user) {
  json_t *j = json_pack(
      "{ss ss s[{ss ss ss ss ss sI sI sI}, {ss ss ss sn ss sI sI sI}] sI ss ss"
      " s{ss ss ss} s{ss sn sn}}",
      "userId", user, "status", "placed", "items", "id", "kettle-blue", "title",
      "Blue Enamel Kettle 1.7L", "brand", "Hearthware", "imgUrl",
      "https://img.shop.example/products/kettle-blue.jpg", "currency", "GBP", "pricePerUnitPence",
      (json_int_t)3499, "quantity", (json_int_t)2, "priceTotalPence", (json_int_t)6998, "id",
      "mug-set", "title", "Stoneware Mug Set of 4", "brand", "Potter & Co", "imgUrl", "currency",
      "GBP", "pricePerUnitPence", (json_int_t)2400, "quantity", (json_int_t)1, "priceTotalPence",
      (json_int_t)2400, "pricePence", (json_int_t)9398, "currency", "GBP", "datePurchased",
      "2024-04-18T10:17:19.039Z", "payment", "method", "card", "lastDigits", "4242", "receiptUrl",
      "https://shop.example/receipts/r1", "delivery", "method", "standard", "storeLocation",
      "dateDelivered");
  ck_assert_ptr_nonnull(j);
  if (id != NULL) {
    json_object_set_new(j, "id", json_string(id));
  }
  return j;
}

/* Sends `method` `path` as `client` with a JSON body and optional extra
 * headers (NULL-terminated list, may be NULL). */
static void send_json(const char *method, const char *path, const char *client, const char *body,
                      const char *const *extra, struct http_response *out) {
  char client_header[96];
  const char *headers[12] = {client_header, "x-user-id: svc-writer",
                             "Content-Type: application/json"};
  size_t n = 3;

  snprintf(client_header, sizeof(client_header), "x-client-id: %s", client);
  for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 11; i++) {
    headers[n++] = extra[i];
  }
  headers[n] = NULL;
  ck_assert(http_request_body(server.port, method, path, headers, body, out));
}

static void post_purchase(const json_t *j_purchase, const char *key, struct http_response *out) {
  char key_header[192];
  const char *extra[] = {key_header, NULL};
  char *body = json_dumps(j_purchase, JSON_COMPACT);

  snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key != NULL ? key : "");
  send_json("POST", "/purchases", "checkout", body, key != NULL ? extra : NULL, out);
  free(body);
}

static void patch_status(const char *user, const char *id, const char *body, const char *if_match,
                         struct http_response *out) {
  char path[160];
  char match_header[64];
  const char *extra[] = {match_header, NULL};

  snprintf(path, sizeof(path), "/user/%s/purchases/%s", user, id);
  snprintf(match_header, sizeof(match_header), "If-Match: %s", if_match != NULL ? if_match : "");
  send_json("PATCH", path, "fulfilment", body, if_match != NULL ? extra : NULL, out);
}

/* How many documents of `collection` match the JSON filter. */
static int64_t count(const char *collection, const char *filter_json) {
  int64_t n = db_count(db.uri, collection, filter_json);
  ck_assert_int_ge(n, 0);
  return n;
}

static const char *header(const struct http_response *r, const char *name, char *buf, size_t len) {
  const char *value = http_header(r, name, buf, len);
  ck_assert_msg(value != NULL, "no %s header", name);
  return value;
}

START_TEST(create_answers_201_with_location_etag_and_history) {
  json_t *j_sent = purchase(NULL, "wanda");
  struct http_response r;
  char location[160];
  char etag[32];
  const char *id;

  post_purchase(j_sent, "create-1", &r);
  ck_assert_msg(r.status == 201, "%ld: %s", r.status, r.body);
  id = json_string_value(json_object_get(r.j_body, "id"));
  ck_assert_ptr_nonnull(id);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v1\"");
  snprintf(location, sizeof(location), "/user/wanda/purchases/%s", id);
  char got[160];
  ck_assert_str_eq(header(&r, "Location", got, sizeof(got)), location);
  /* What was sent is what is stored, plus the id. */
  json_object_set_new(j_sent, "id", json_string(id));
  ck_assert_msg(json_equal(j_sent, r.j_body), "stored %s", r.body);
  http_response_cleanup(&r);

  ck_assert(http_get_as(server.port, location, "shop", "wanda", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v1\"");
  json_t *j_history = json_object_get(r.j_body, "statusHistory");
  ck_assert_uint_eq(json_array_size(j_history), 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j_history, 0), "status")),
                   "placed");
  ck_assert_ptr_nonnull(json_string_value(json_object_get(json_array_get(j_history, 0), "time")));
  http_response_cleanup(&r);
  json_decref(j_sent);
}
END_TEST

START_TEST(only_ingest_clients_write_and_they_read_nothing) {
  json_t *j_sent = purchase("role-1", "wanda");
  char *body = json_dumps(j_sent, JSON_COMPACT);
  const char *others[] = {"shop", "customer-support", "invoicing"};
  struct http_response r;

  for (size_t i = 0; i < 3; i++) {
    send_json("POST", "/purchases", others[i], body, NULL, &r);
    assert_problem(&r, 403, others[i]);
    http_response_cleanup(&r);
    send_json("PATCH", "/user/wanda/purchases/role-1", others[i], "{\"status\":\"paid\"}", NULL,
              &r);
    assert_problem(&r, 403, others[i]);
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(count("purchases", "{\"id\": \"role-1\"}"), 0);
  ck_assert(http_get_as(server.port, "/user/wanda", "checkout", "svc-writer", &r));
  assert_problem(&r, 403, "ingest reading");
  http_response_cleanup(&r);
  free(body);
  json_decref(j_sent);
}
END_TEST

START_TEST(same_key_replays_and_another_body_is_409) {
  json_t *j_sent = purchase(NULL, "xena");
  struct http_response first;
  struct http_response again;
  char replayed[16];

  post_purchase(j_sent, "replay-1", &first);
  ck_assert_int_eq(first.status, 201);
  ck_assert_ptr_null(http_header(&first, "Idempotent-Replayed", replayed, sizeof(replayed)));
  post_purchase(j_sent, "replay-1", &again);
  ck_assert_int_eq(again.status, 201);
  ck_assert_str_eq(again.body, first.body);
  ck_assert_str_eq(header(&again, "Idempotent-Replayed", replayed, sizeof(replayed)), "true");
  http_response_cleanup(&again);

  /* Key order and spacing are not a different body. */
  char *reordered = json_dumps(j_sent, JSON_SORT_KEYS | JSON_INDENT(2));
  const char *extra[] = {"Idempotency-Key: replay-1", NULL};
  send_json("POST", "/purchases", "checkout", reordered, extra, &again);
  ck_assert_int_eq(again.status, 201);
  ck_assert_str_eq(again.body, first.body);
  http_response_cleanup(&again);
  free(reordered);

  json_object_set_new(j_sent, "status", json_string("paid"));
  post_purchase(j_sent, "replay-1", &again);
  assert_problem(&again, 409, "same key, other body");
  http_response_cleanup(&again);
  /* The same key from another ingest client is that client's own. */
  ck_assert_int_eq(count("purchases", "{\"userId\": \"xena\"}"), 1);
  http_response_cleanup(&first);
  json_decref(j_sent);
}
END_TEST

START_TEST(a_caller_id_makes_retries_safe_without_a_key) {
  json_t *j_sent = purchase("yid-1", "yuri");
  struct http_response r;

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  json_object_set_new(j_sent, "status", json_string("paid"));
  post_purchase(j_sent, NULL, &r);
  assert_problem(&r, 409, "same id, other body");
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"id\": \"yid-1\"}"), 1);
  json_decref(j_sent);
}
END_TEST

/* Bodies refused for what they are, each with its status and what the
 * detail says (in its own words: never quoting the body, which may be
 * personal data, or the parser's flags). */
static const struct {
  const char *what;
  const char *header; /* one more header, or NULL */
  const char *body;
  long status;
  const char *says;  /* in the answer, or NULL */
  const char *never; /* not in it, or NULL */
} BAD_BODIES[] = {
    {"truncated JSON", NULL, "{\"userId\": ", 400, "ends before the value does", NULL},
    {"duplicate key", NULL, "{\"userId\": \"a\", \"userId\": \"b\"}", 400, "duplicate key", NULL},
    {"a NUL in a string", NULL, "{\"title\": \"Secret\\u0000Gift\"}", 400, "\\\\u0000", "Secret"},
    {"a number as the body", NULL, " 42", 400, "must be a JSON object", NULL},
    {"an array as the body", NULL, "[{\"userId\": \"w\"}]", 400, "must be a JSON object", NULL},
    {"Content-Encoding: gzip", "Content-Encoding: gzip", "{}", 415, "content-coded", NULL},
    {"Content-Encoding: identity", "Content-Encoding: identity ", "{}", 422, NULL, NULL},
    {"empty body", NULL, "", 400, NULL, NULL},
};

START_TEST(bad_bodies_get_their_own_status) {
  struct http_response r;
  const char *text[] = {"x-client-id: checkout", "x-user-id: w", "Content-Type: text/plain", NULL};
  const char *bad_key[] = {"Idempotency-Key: two words", NULL};
  json_t *j_bad = purchase("bad-1", "zoe");
  char *big = malloc(1024 * 1024 + 64);

  ck_assert(http_request_body(server.port, "POST", "/purchases", text, "{}", &r));
  assert_problem(&r, 415, "text/plain");
  http_response_cleanup(&r);
  for (size_t i = 0; i < sizeof(BAD_BODIES) / sizeof(BAD_BODIES[0]); i++) {
    const char *extra[] = {BAD_BODIES[i].header, NULL};
    char value[32];
    send_json("POST", "/purchases", "checkout", BAD_BODIES[i].body,
              BAD_BODIES[i].header != NULL ? extra : NULL, &r);
    assert_problem(&r, BAD_BODIES[i].status, BAD_BODIES[i].what);
    ck_assert_msg(BAD_BODIES[i].says == NULL || strstr(r.body, BAD_BODIES[i].says) != NULL,
                  "%s: %s", BAD_BODIES[i].what, r.body);
    ck_assert_msg(BAD_BODIES[i].never == NULL || strstr(r.body, BAD_BODIES[i].never) == NULL,
                  "%s: %s", BAD_BODIES[i].what, r.body);
    if (BAD_BODIES[i].status == 415) {
      ck_assert_str_eq(header(&r, "Accept-Encoding", value, sizeof(value)), "identity");
    }
    http_response_cleanup(&r);
  }
  /* An empty media-type parameter is allowed (RFC 9110 8.3.1): the body
   * is read, and here refused for what it holds. */
  const char *semicolon[] = {"x-client-id: checkout", "x-user-id: w",
                             "Content-Type: application/json;", NULL};
  ck_assert(http_request_body(server.port, "POST", "/purchases", semicolon, "{}", &r));
  assert_problem(&r, 422, "application/json;");
  http_response_cleanup(&r);
  send_json("POST", "/purchases", "checkout", "{}", bad_key, &r);
  assert_problem(&r, 400, "bad key");
  assert_invalid_about(&r, NULL, "Idempotency-Key");
  http_response_cleanup(&r);
  patch_status("zoe", "zoe-1", "{\"status\": \"paid\"}", "v2", &r);
  assert_problem(&r, 400, "If-Match without quotes");
  assert_invalid_about(&r, NULL, "If-Match");
  http_response_cleanup(&r);
  send_json("POST", "/purchases?dryRun=true", "checkout", "{}", NULL, &r);
  assert_problem(&r, 400, "a query parameter");
  assert_invalid_about(&r, "query", "dryRun");
  http_response_cleanup(&r);

  /* Over 1 MiB: refused whole, not cut and parsed. */
  ck_assert_ptr_nonnull(big);
  memset(big, ' ', 1024 * 1024 + 10);
  big[0] = '[';
  big[1024 * 1024 + 9] = ']';
  big[1024 * 1024 + 10] = '\0';
  send_json("POST", "/purchases", "checkout", big, NULL, &r);
  assert_problem(&r, 413, "1 MiB + 11 bytes");
  http_response_cleanup(&r);
  free(big);

  /* Parses, but breaks the rules: every bad field is listed. */
  json_object_set_new(j_bad, "pricePence", json_integer(1));
  json_object_set_new(j_bad, "status", json_string("lost"));
  post_purchase(j_bad, NULL, &r);
  assert_problem(&r, 422, "invalid purchase");
  json_t *j_errors = json_object_get(r.j_body, "errors");
  ck_assert_uint_ge(json_array_size(j_errors), 2);
  bool price = false;
  bool status = false;
  for (size_t i = 0; i < json_array_size(j_errors); i++) {
    const char *pointer =
        json_string_value(json_object_get(json_array_get(j_errors, i), "pointer"));
    ck_assert_ptr_nonnull(pointer);
    price = price || strcmp(pointer, "/pricePence") == 0;
    status = status || strcmp(pointer, "/status") == 0;
  }
  ck_assert(price && status);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"userId\": \"zoe\"}"), 0);
  json_decref(j_bad);
}
END_TEST

/* A change naming a field it has no rule for is refused, whatever the
 * name: the error's pointer escapes it as RFC 6901 says and shows '?' for
 * bytes that are not printable ASCII, and a name cut short in the middle
 * of a character still refuses the change. */
static const struct {
  const char *key; /* as JSON text */
  const char *pointer;
} UNKNOWN_CHANGE_FIELDS[] = {
    {"note", "/note"}, {"a/b", "/a~1b"},      {"a~b", "/a~0b"},         {"~1", "/~01"},
    {"", "/"},         {"a\\u0001b", "/a?b"}, {"caf\\u00e9", "/caf??"},
};

START_TEST(a_change_with_an_unknown_field_is_refused_whatever_its_name) {
  json_t *j_sent = purchase("odd-1", "yan");
  struct http_response r;
  char body[512];
  char etag[32];

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  for (size_t i = 0; i < sizeof(UNKNOWN_CHANGE_FIELDS) / sizeof(UNKNOWN_CHANGE_FIELDS[0]); i++) {
    snprintf(body, sizeof(body), "{\"status\": \"paid\", \"%s\": 1}", UNKNOWN_CHANGE_FIELDS[i].key);
    patch_status("yan", "odd-1", body, NULL, &r);
    assert_problem(&r, 422, UNKNOWN_CHANGE_FIELDS[i].key);
    json_t *j_errors = json_object_get(r.j_body, "errors");
    ck_assert_uint_eq(json_array_size(j_errors), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j_errors, 0), "pointer")),
                     UNKNOWN_CHANGE_FIELDS[i].pointer);
    http_response_cleanup(&r);
  }
  /* Names long enough to be cut, at every byte of a two-byte character. */
  for (size_t len = 60; len < 200; len++) {
    char key[256];
    memset(key, 'a', len);
    memcpy(key + len, "\\u00e9", 7);
    snprintf(body, sizeof(body), "{\"%s\": 1, \"status\": \"paid\"}", key);
    patch_status("yan", "odd-1", body, NULL, &r);
    ck_assert_msg(r.status == 422, "a name of %zu bytes and an e-acute: %ld %s", len, r.status,
                  r.body);
    const char *pointer = json_string_value(
        json_object_get(json_array_get(json_object_get(r.j_body, "errors"), 0), "pointer"));
    ck_assert_ptr_nonnull(pointer);
    ck_assert_int_eq(
        strncmp(pointer, "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 57), 0);
    http_response_cleanup(&r);
  }
  /* None of it changed the purchase. */
  patch_status("yan", "odd-1", "{\"status\": \"placed\"}", "\"v1\"", &r);
  ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v1\"");
  http_response_cleanup(&r);
  json_decref(j_sent);
}
END_TEST

/* Empty segments of a path are ignored (docs/api.md) for a request with a
 * body as for one without: the check of a body before the chain matches
 * routes as the router does. */
START_TEST(a_path_with_empty_segments_takes_its_routes_body) {
  json_t *j_sent = purchase("slash-1", "xia");
  char *body = json_dumps(j_sent, JSON_COMPACT);
  const char *shop[] = {"x-client-id: shop", "x-user-id: xia", "Content-Type: application/json",
                        NULL};
  struct http_response r;

  send_json("POST", "/purchases/", "checkout", body, NULL, &r);
  ck_assert_msg(r.status == 201, "POST /purchases/: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
  patch_status("/xia/", "slash-1//", "{\"status\": \"paid\"}", NULL, &r);
  ck_assert_msg(r.status == 200, "PATCH //xia//purchases/slash-1//: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
  ck_assert(http_request_body(server.port, "GET", "/user/xia/", shop, "{}", &r));
  assert_problem(&r, 413, "a body on GET /user/xia/");
  http_response_cleanup(&r);
  ck_assert(http_request_body(server.port, "POST", "/purchase/", shop, "{}", &r));
  assert_problem(&r, 404, "a body for no route");
  http_response_cleanup(&r);
  free(body);
  json_decref(j_sent);
}
END_TEST

/* If-None-Match on a change (RFC 9110 13.1.2): a tag of the purchase as
 * it is now, its gzip variant, or "*", refuses the change with 412; any
 * other tag lets it go on; a malformed header is a 400. */
START_TEST(if_none_match_guards_a_change_too) {
  json_t *j_sent = purchase("inm-1", "ines");
  struct http_response r;
  char path[] = "/user/ines/purchases/inm-1";
  const char *star[] = {"If-None-Match: *", NULL};
  const char *current[] = {"If-None-Match: \"v9\", \"v1\"", NULL};
  const char *variant[] = {"If-None-Match: W/\"v1-gz\"", NULL};
  const char *other[] = {"If-None-Match: \"v7\"", NULL};
  const char *broken[] = {"If-None-Match: v1", NULL};
  char etag[32];

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  const char *const *refused[] = {star, current, variant};
  for (size_t i = 0; i < 3; i++) {
    send_json("PATCH", path, "fulfilment", "{\"status\": \"paid\"}", refused[i], &r);
    assert_problem(&r, 412, refused[i][0]);
    ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v1\"");
    http_response_cleanup(&r);
  }
  send_json("PATCH", path, "fulfilment", "{\"status\": \"paid\"}", broken, &r);
  assert_problem(&r, 400, "If-None-Match: v1");
  http_response_cleanup(&r);
  send_json("PATCH", path, "fulfilment", "{\"status\": \"paid\"}", other, &r);
  ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v2\"");
  http_response_cleanup(&r);
  json_decref(j_sent);
}
END_TEST

START_TEST(statuses_move_forward_only_and_if_match_guards_them) {
  json_t *j_sent = purchase("flow-1", "vera");
  struct http_response r;
  char etag[32];

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);

  patch_status("vera", "flow-1", "{\"status\": \"paid\"}", "\"v1\"", &r);
  ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v2\"");
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "paid");
  http_response_cleanup(&r);

  /* Backwards: 409 naming where it is. */
  patch_status("vera", "flow-1", "{\"status\": \"placed\"}", NULL, &r);
  assert_problem(&r, 409, "paid to placed");
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "currentStatus")), "paid");
  http_response_cleanup(&r);

  /* A stale ETag: 412, and the current one to try again with. */
  patch_status("vera", "flow-1", "{\"status\": \"shipped\"}", "\"v1\"", &r);
  assert_problem(&r, 412, "stale If-Match");
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v2\"");
  http_response_cleanup(&r);

  patch_status("vera", "flow-1", "{\"status\": \"shipped\"}", "\"v2\"", &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  /* A delivery before the purchase was made (2024-04-18T10:17), or far
   * ahead of now, cannot stand: 422 naming the field, nothing changed. */
  patch_status("vera", "flow-1", "{\"status\": \"delivered\", \"dateDelivered\": \"2024-04-17\"}",
               "*", &r);
  assert_problem(&r, 422, "delivered before the purchase");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r.j_body, "errors"), 0), "pointer")),
                   "/dateDelivered");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r.j_body, "errors"), 0), "detail")),
                   "must not be before the day of datePurchased");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"delivered\", \"dateDelivered\": \"2999-01-01\"}",
               "*", &r);
  assert_problem(&r, 422, "delivered in 2999");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1",
               "{\"status\": \"delivered\", \"dateDelivered\": \"2024-04-20T09:30:00Z\"}", "*", &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v4\"");
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(r.j_body, "delivery"), "dateDelivered")),
      "2024-04-20T09:30:00.000Z");
  json_t *j_history = json_object_get(r.j_body, "statusHistory");
  ck_assert_uint_eq(json_array_size(j_history), 4);
  const char *expected[] = {"placed", "paid", "shipped", "delivered"};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j_history, i), "status")),
                     expected[i]);
  }
  http_response_cleanup(&r);

  /* The same status again changes nothing, with a date or without one;
   * a date that could never stand is still refused, not dropped. */
  patch_status("vera", "flow-1", "{\"status\": \"delivered\"}", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v4\"");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"delivered\", \"dateDelivered\": \"2024-04-21\"}",
               NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v4\"");
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(r.j_body, "delivery"), "dateDelivered")),
      "2024-04-20T09:30:00.000Z");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"delivered\", \"dateDelivered\": \"2999-01-01\"}",
               NULL, &r);
  assert_problem(&r, 422, "delivered again, in 2999");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"refunded\"}", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"cancelled\"}", NULL, &r);
  assert_problem(&r, 409, "refunded to cancelled");
  http_response_cleanup(&r);

  /* Bad requests. */
  patch_status("vera", "flow-1", "{\"status\": \"paid\", \"note\": 1}", NULL, &r);
  assert_problem(&r, 422, "unknown field");
  http_response_cleanup(&r);
  patch_status("vera", "flow-1", "{\"status\": \"paid\"}", "W/\"v1\"", &r);
  assert_problem(&r, 400, "weak If-Match");
  http_response_cleanup(&r);
  patch_status("vera", "nope-1", "{\"status\": \"paid\"}", NULL, &r);
  assert_problem(&r, 404, "unknown purchase");
  http_response_cleanup(&r);
  patch_status("walt", "flow-1", "{\"status\": \"paid\"}", NULL, &r);
  assert_problem(&r, 404, "another user's path");
  http_response_cleanup(&r);
  json_decref(j_sent);
}
END_TEST

/* ---- concurrency: real threads, real server ---------------------------- */

#define RACERS 12

struct racer {
  const char *method;
  const char *path;
  const char *body;
  const char *const *extra;
  long status;
  char *response;
  atomic_int *start;
};

static void *race(void *arg) {
  struct racer *racer = arg;
  struct http_response r;
  const char *headers[8] = {"x-client-id: checkout", "x-user-id: svc",
                            "Content-Type: application/json"};
  size_t n = 3;

  for (size_t i = 0; racer->extra != NULL && racer->extra[i] != NULL; i++) {
    headers[n++] = racer->extra[i];
  }
  headers[n] = NULL;
  /* Everyone waits at the line so the requests really overlap. */
  while (atomic_load(racer->start) == 0) {
    usleep(100);
  }
  if (http_request_body(server.port, racer->method, racer->path, headers, racer->body, &r)) {
    racer->status = r.status;
    racer->response = strdup(r.body);
    http_response_cleanup(&r);
  }
  return NULL;
}

static void run_race(struct racer *racers) {
  pthread_t threads[RACERS];
  atomic_int start = 0;
  for (int i = 0; i < RACERS; i++) {
    racers[i].start = &start;
    ck_assert_int_eq(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
  }
  atomic_store(&start, 1);
  for (int i = 0; i < RACERS; i++) {
    pthread_join(threads[i], NULL);
  }
}

START_TEST(a_retry_storm_creates_exactly_one_purchase) {
  json_t *j_sent = purchase(NULL, "storm");
  char *body = json_dumps(j_sent, JSON_COMPACT);
  const char *extra[] = {"Idempotency-Key: storm-key", NULL};
  struct racer racers[RACERS];

  for (int i = 0; i < RACERS; i++) {
    racers[i] =
        (struct racer){.method = "POST", .path = "/purchases", .body = body, .extra = extra};
  }
  run_race(racers);
  for (int i = 0; i < RACERS; i++) {
    ck_assert_msg(racers[i].status == 201, "racer %d: %ld %s", i, racers[i].status,
                  racers[i].response);
    ck_assert_str_eq(racers[i].response, racers[0].response);
  }
  ck_assert_int_eq(count("purchases", "{\"userId\": \"storm\"}"), 1);
  for (int i = 0; i < RACERS; i++) {
    free(racers[i].response);
  }
  free(body);
  json_decref(j_sent);
}
END_TEST

START_TEST(racing_changes_with_one_etag_let_exactly_one_win) {
  json_t *j_sent = purchase("race-1", "rita");
  struct http_response r;
  const char *extra[] = {"If-Match: \"v1\"", NULL};
  struct racer racers[RACERS];
  int won = 0;

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  for (int i = 0; i < RACERS; i++) {
    /* Half want paid, half cancelled: either may win, but only one. */
    racers[i] =
        (struct racer){.method = "PATCH",
                       .path = "/user/rita/purchases/race-1",
                       .body = i % 2 ? "{\"status\": \"paid\"}" : "{\"status\": \"cancelled\"}",
                       .extra = extra};
  }
  run_race(racers);
  for (int i = 0; i < RACERS; i++) {
    ck_assert_msg(racers[i].status == 200 || racers[i].status == 412, "racer %d: %ld %s", i,
                  racers[i].status, racers[i].response);
    won += racers[i].status == 200;
    free(racers[i].response);
  }
  ck_assert_int_eq(won, 1);
  ck_assert_int_eq(count("purchase_history", "{\"purchaseId\": \"race-1\"}"), 2);
  ck_assert_int_eq(count("purchases", "{\"id\": \"race-1\", \"version\": 2}"), 1);
  json_decref(j_sent);
}
END_TEST

/* ---- a crash in the middle of a stream of creates ---------------------- */

#define CRASH_CREATES 400

struct stream {
  atomic_int sent; /* creates attempted */
  atomic_bool stop;
  bool acknowledged[CRASH_CREATES];
};

static void *stream_creates(void *arg) {
  struct stream *stream = arg;
  for (int i = 0; i < CRASH_CREATES && !atomic_load(&stream->stop); i++) {
    char id[32];
    struct http_response r;
    snprintf(id, sizeof(id), "crash-%03d", i);
    json_t *j_sent = purchase(id, "casey");
    char *body = json_dumps(j_sent, JSON_COMPACT);
    const char *headers[] = {"x-client-id: checkout", "x-user-id: svc",
                             "Content-Type: application/json", NULL};
    atomic_store(&stream->sent, i + 1);
    if (http_request_body(server.port, "POST", "/purchases", headers, body, &r)) {
      stream->acknowledged[i] = r.status == 201;
      http_response_cleanup(&r);
    }
    free(body);
    json_decref(j_sent);
  }
  return NULL;
}

START_TEST(a_crash_loses_no_acknowledged_create_and_resending_adds_nothing) {
  static struct stream stream;
  pthread_t thread;
  int acknowledged = 0;
  int sent;

  memset(&stream, 0, sizeof(stream));
  ck_assert_int_eq(pthread_create(&thread, NULL, stream_creates, &stream), 0);
  /* Kill once a good number of creates went through, mid-stream. */
  for (int waited = 0; atomic_load(&stream.sent) < 40 && waited < 3000; waited++) {
    usleep(10000);
  }
  server_kill(&server);
  usleep(200000);
  atomic_store(&stream.stop, true);
  pthread_join(thread, NULL);
  sent = atomic_load(&stream.sent);
  ck_assert_int_ge(sent, 40);

  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  for (int i = 0; i < sent; i++) {
    char filter[64];
    snprintf(filter, sizeof(filter), "{\"id\": \"crash-%03d\"}", i);
    if (stream.acknowledged[i]) {
      acknowledged++;
      ck_assert_msg(count("purchases", filter) == 1, "acknowledged create %d is not there once", i);
    }
  }
  ck_assert_int_gt(acknowledged, 0);

  /* Send every create again, answered or not: all are there exactly once. */
  for (int i = 0; i < sent; i++) {
    char id[32];
    struct http_response r;
    snprintf(id, sizeof(id), "crash-%03d", i);
    json_t *j_sent = purchase(id, "casey");
    post_purchase(j_sent, NULL, &r);
    ck_assert_msg(r.status == 201, "resend %d: %ld %s", i, r.status, r.body);
    http_response_cleanup(&r);
    json_decref(j_sent);
  }
  ck_assert_int_eq(count("purchases", "{\"userId\": \"casey\"}"), sent);
}
END_TEST

/* Inserts one document, given as JSON, into `collection`. */
static void insert_json(const char *collection, const char *json) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  mongoc_collection_t *coll = mongoc_client_get_collection(client, DATABASE, collection);
  bson_error_t error;
  bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);

  ck_assert_msg(doc != NULL, "%s", error.message);
  ck_assert_msg(mongoc_collection_insert_one(coll, doc, NULL, NULL, &error), "%s", error.message);
  bson_destroy(doc);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
}

/* Applies one update, both given as JSON, to the first match in `collection`. */
static void update_json(const char *collection, const char *filter_json, const char *update_json) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  mongoc_collection_t *coll = mongoc_client_get_collection(client, DATABASE, collection);
  bson_error_t error;
  bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &error);
  bson_t *update;

  ck_assert_msg(filter != NULL, "%s", error.message);
  update = bson_new_from_json((const uint8_t *)update_json, -1, &error);
  ck_assert_msg(update != NULL, "%s", error.message);
  ck_assert_msg(mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error), "%s",
                error.message);
  bson_destroy(update);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
}

/* The purchase `id` in a list answer, or NULL; asserts that no internal
 * field (the pending-change hint, the version) shows in any of them. */
static json_t *listed(const struct http_response *r, const char *id) {
  json_t *j_found = NULL;
  json_t *j_item;
  size_t i;

  ck_assert_ptr_nonnull(json_object_get(r->j_body, "data"));
  json_array_foreach(json_object_get(r->j_body, "data"), i, j_item) {
    ck_assert_ptr_null(json_object_get(j_item, "pendingChange"));
    ck_assert_ptr_null(json_object_get(j_item, "version"));
    if (strcmp(json_string_value(json_object_get(j_item, "id")), id) == 0) {
      j_found = j_item;
    }
  }
  return j_found;
}

/* What a process killed between the two writes of a change leaves now: the
 * hint set first, then the history entry of version 2, the purchase still
 * at version 1. */
static void cut_short_after_history(const char *user, const char *id, const char *since) {
  char filter[128];
  char update[256];
  char entry[256];

  snprintf(filter, sizeof(filter), "{\"id\": \"%s\"}", id);
  snprintf(update, sizeof(update),
           "{\"$set\": {\"pendingChange\": {\"version\": 2, \"since\": {\"$date\": \"%s\"}}}}",
           since);
  update_json("purchases", filter, update);
  snprintf(entry, sizeof(entry),
           "{\"userId\": \"%s\", \"purchaseId\": \"%s\", \"version\": 2, \"status\": "
           "\"paid\", \"from\": \"placed\", \"time\": {\"$date\": \"2024-04-18T11:00:00Z\"}}",
           user, id);
  insert_json("purchase_history", entry);
}

static void iso_now(char out[32]) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

START_TEST(a_change_cut_short_by_a_crash_is_finished_by_the_next_read) {
  struct http_response r;
  char etag[32];
  char now[32];

  iso_now(now);
  for (int i = 0; i < 2; i++) {
    json_t *j_sent = purchase(i == 0 ? "half-1" : "stray-1", "hana");
    post_purchase(j_sent, NULL, &r);
    ck_assert_int_eq(r.status, 201);
    http_response_cleanup(&r);
    json_decref(j_sent);
  }
  /* What a process killed between the two writes of a change leaves: the
   * purchase marked pending for version 2, the history entry of version 2,
   * the purchase still at version 1. */
  cut_short_after_history("hana", "half-1", now);
  ck_assert_int_eq(count("purchases", "{\"id\": \"half-1\", \"status\": \"placed\"}"), 1);
  /* An entry no change marked its purchase for is not a change of it:
   * older builds left one under a taken id on a refused create. */
  insert_json("purchase_history",
              "{\"userId\": \"hana\", \"purchaseId\": \"stray-1\", \"version\": 2, \"status\": "
              "\"paid\", \"from\": \"placed\", \"time\": {\"$date\": \"2024-04-18T11:00:00Z\"}}");

  ck_assert(http_get_as(server.port, "/user/hana/purchases/half-1", "shop", "hana", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "paid");
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v2\"");
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), 2);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"id\": \"half-1\", \"status\": \"paid\", \"version\": 2}"),
                   1);
  ck_assert(http_get_as(server.port, "/user/hana/purchases/stray-1", "shop", "hana", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "placed");
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v1\"");
  http_response_cleanup(&r);

  /* And the next change goes on from there. */
  patch_status("hana", "half-1", "{\"status\": \"shipped\"}", "\"v2\"", &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v3\"");
  http_response_cleanup(&r);
}
END_TEST

/* A purchase id is unique per customer: a create of an id another
 * customer holds is a purchase of its own, and writes nothing of the
 * other's: not its history, not a change of it, whose owner's cached
 * answer stays right. A loaded purchase (no version, no history, as
 * purchases-seed and purchases-import store them) is the case where a
 * stray first entry was once taken for a change cut short. */
START_TEST(a_create_of_an_id_another_customer_holds_leaves_theirs_alone) {
  struct http_response r;
  char etag[32];
  json_t *j_sent = purchase("loaded-1", "intruder");

  insert_json("purchases",
              "{\"id\": \"loaded-1\", \"userId\": \"owner\", \"status\": \"delivered\", "
              "\"items\": [], \"pricePence\": 0, \"currency\": \"GBP\", \"datePurchased\": "
              "{\"$date\": \"2024-04-18T10:17:19.039Z\"}, \"payment\": {\"method\": \"card\", "
              "\"lastDigits\": null, \"receiptUrl\": null}, \"delivery\": {\"method\": "
              "\"standard\", \"storeLocation\": null, \"dateDelivered\": {\"$date\": "
              "\"2024-04-20T00:00:00Z\"}}}");
  ck_assert(http_get_as(server.port, "/user/owner/purchases/loaded-1", "shop", "owner", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v0\"");
  http_response_cleanup(&r);

  post_purchase(j_sent, NULL, &r);
  ck_assert_msg(r.status == 201, "an id another customer's purchase has: %ld %s", r.status, r.body);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "userId")), "intruder");
  http_response_cleanup(&r);
  ck_assert_int_eq(
      count("purchase_history", "{\"userId\": \"owner\", \"purchaseId\": \"loaded-1\"}"), 0);
  ck_assert_int_eq(
      count("purchase_history", "{\"userId\": \"intruder\", \"purchaseId\": \"loaded-1\"}"), 1);
  /* The owner's cached answer, and a service's read (another role: not
   * cached yet, so from the database, finishing any change it finds). */
  const char *readers[][2] = {{"shop", "owner"}, {"invoicing", "job-1"}};
  for (int i = 0; i < 2; i++) {
    ck_assert(http_get_as(server.port, "/user/owner/purchases/loaded-1", readers[i][0],
                          readers[i][1], &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "delivered");
    ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v0\"");
    ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), 0);
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(count("purchases", "{\"id\": \"loaded-1\", \"status\": \"delivered\"}"), 1);
  json_decref(j_sent);
}
END_TEST

START_TEST(a_list_read_first_sees_a_change_cut_short_like_the_single_read) {
  const char *ids[] = {"half-2", "half-3"};
  struct http_response r;
  char etag[32];
  char now[32];
  json_t *j_item;

  iso_now(now);
  for (size_t i = 0; i < 2; i++) {
    json_t *j_sent = purchase(ids[i], "hugo");
    post_purchase(j_sent, NULL, &r);
    ck_assert_int_eq(r.status, 201);
    http_response_cleanup(&r);
    json_decref(j_sent);
    cut_short_after_history("hugo", ids[i], now);
  }
  ck_assert_int_eq(count("purchases", "{\"userId\": \"hugo\", \"status\": \"placed\"}"), 2);

  /* A list filtered on the old status, first: half-3 is paid, so it is not
   * there, even though its document still said placed. */
  ck_assert(http_get_as(server.port, "/user/hugo?status=placed&fields=status", "shop", "hugo", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 0);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"userId\": \"hugo\", \"status\": \"paid\", \"version\": "
                                      "2, \"pendingChange\": {\"$exists\": false}}"),
                   2);

  /* Then the plain list and each single read: all say paid, version 2. */
  ck_assert(http_get_as(server.port, "/user/hugo", "shop", "hugo", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 2);
  for (size_t i = 0; i < 2; i++) {
    j_item = listed(&r, ids[i]);
    ck_assert_ptr_nonnull(j_item);
    ck_assert_str_eq(json_string_value(json_object_get(j_item, "status")), "paid");
  }
  http_response_cleanup(&r);
  for (size_t i = 0; i < 2; i++) {
    char path[96];
    snprintf(path, sizeof(path), "/user/hugo/purchases/%s", ids[i]);
    ck_assert(http_get_as(server.port, path, "shop", "hugo", &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "paid");
    ck_assert_ptr_null(json_object_get(r.j_body, "pendingChange"));
    ck_assert_str_eq(header(&r, "ETag", etag, sizeof(etag)), "\"v2\"");
    ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), 2);
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(count("purchase_history", "{\"purchaseId\": \"half-2\"}"), 2);
}
END_TEST

START_TEST(a_hint_with_nothing_ahead_is_kept_while_fresh_and_dropped_when_stale) {
  struct http_response r;
  char now[32];
  char update[160];
  json_t *j_sent = purchase("half-4", "hedda");
  json_t *j_item;

  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  json_decref(j_sent);
  j_sent = purchase("half-5", "hedda");
  post_purchase(j_sent, NULL, &r);
  ck_assert_int_eq(r.status, 201);
  http_response_cleanup(&r);
  json_decref(j_sent);
  /* A change is always marked first: a normal one leaves no hint behind. */
  patch_status("hedda", "half-5", "{\"status\": \"paid\"}", "\"v1\"", &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"id\": \"half-5\", \"status\": \"paid\", "
                                      "\"pendingChange\": {\"$exists\": false}}"),
                   1);

  /* A writer that marked half-4 and is (as far as anyone can tell) still
   * on its way to the history: its hint stays, and the list says placed. */
  iso_now(now);
  snprintf(update, sizeof(update),
           "{\"$set\": {\"pendingChange\": {\"version\": 2, \"since\": {\"$date\": \"%s\"}}}}",
           now);
  update_json("purchases", "{\"id\": \"half-4\"}", update);
  ck_assert(http_get_as(server.port, "/user/hedda", "shop", "hedda", &r));
  ck_assert_int_eq(r.status, 200);
  j_item = listed(&r, "half-4");
  ck_assert_ptr_nonnull(j_item);
  ck_assert_str_eq(json_string_value(json_object_get(j_item, "status")), "placed");
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"id\": \"half-4\", \"pendingChange.version\": 2}"), 1);

  /* One that died before writing history long ago: the list drops it. */
  update_json("purchases", "{\"id\": \"half-4\"}",
              "{\"$set\": {\"pendingChange\": {\"version\": 2, \"since\": {\"$date\": "
              "\"2024-01-01T00:00:00Z\"}}}}");
  ck_assert(http_get_as(server.port, "/user/hedda", "shop", "hedda", &r));
  ck_assert_int_eq(r.status, 200);
  j_item = listed(&r, "half-4");
  ck_assert_ptr_nonnull(j_item);
  ck_assert_str_eq(json_string_value(json_object_get(j_item, "status")), "placed");
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchases", "{\"id\": \"half-4\", \"status\": \"placed\", \"version\": "
                                      "1, \"pendingChange\": {\"$exists\": false}}"),
                   1);
  ck_assert_int_eq(count("purchase_history", "{\"purchaseId\": \"half-4\"}"), 1);

  /* A hint left on a purchase that has moved past it goes too. */
  update_json("purchases", "{\"id\": \"half-5\"}",
              "{\"$set\": {\"pendingChange\": {\"version\": 2, \"since\": {\"$date\": "
              "\"2030-01-01T00:00:00Z\"}}}}");
  ck_assert(http_get_as(server.port, "/user/hedda?fields=status", "shop", "hedda", &r));
  ck_assert_int_eq(r.status, 200);
  j_item = listed(&r, "half-5");
  ck_assert_ptr_nonnull(j_item);
  ck_assert_str_eq(json_string_value(json_object_get(j_item, "status")), "paid");
  http_response_cleanup(&r);
  ck_assert_int_eq(
      count("purchases", "{\"userId\": \"hedda\", \"pendingChange\": {\"$exists\": true}}"), 0);
}
END_TEST

START_TEST(an_expired_key_counts_as_absent_and_is_purged) {
  json_t *j_sent = purchase(NULL, "ivan");
  struct http_response r;

  /* A key used a day ago with another body: expired, so free to use. */
  insert_json("idempotency_keys",
              "{\"client\": \"checkout\", \"key\": \"key:old-key\", \"requestHash\": \"0\", "
              "\"createdAt\": {\"$date\": \"2020-01-01T00:00:00Z\"}, \"expiresAt\": {\"$date\": "
              "\"2020-01-02T00:00:00Z\"}}");
  post_purchase(j_sent, "old-key", &r);
  ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("idempotency_keys", "{\"key\": \"key:old-key\", \"requestHash\": \"0\"}"),
                   0);

  /* FerretDB has no TTL index: the service purges expired keys itself,
   * first as soon as the database is ready. */
  insert_json("idempotency_keys",
              "{\"client\": \"checkout\", \"key\": \"key:stale\", \"requestHash\": \"0\", "
              "\"createdAt\": {\"$date\": \"2020-01-01T00:00:00Z\"}, \"expiresAt\": {\"$date\": "
              "\"2020-01-02T00:00:00Z\"}}");
  ck_assert_int_eq(server_stop(&server, 15), 0);
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  for (int waited = 0; count("idempotency_keys", "{\"key\": \"key:stale\"}") > 0; waited++) {
    ck_assert_msg(waited < 100, "the expired key was not purged");
    usleep(100000);
  }
  /* Live keys stay. */
  ck_assert_int_eq(count("idempotency_keys", "{\"key\": \"key:old-key\"}"), 1);
  json_decref(j_sent);
}
END_TEST

/* Last: SIGTERM gives exit code 0, which under the sanitizers also means
 * no leak and no undefined behaviour in any write path above. */
START_TEST(the_server_exits_cleanly_after_all_of_it) {
  ck_assert_int_eq(server_stop(&server, 15), 0);
}
END_TEST

/* What GET `path` answers `client` (as user "sam-agent" for staff), with
 * an optional If-None-Match; the caller cleans up. */
static void read_as(const struct server *at, const char *path, const char *client, const char *user,
                    const char *if_none_match, struct http_response *out) {
  char client_header[64];
  char user_header[64];
  char match_header[64];
  const char *headers[] = {client_header, user_header, match_header, NULL};

  snprintf(client_header, sizeof(client_header), "x-client-id: %s", client);
  snprintf(user_header, sizeof(user_header), "x-user-id: %s", user);
  snprintf(match_header, sizeof(match_header), "If-None-Match: %s",
           if_none_match != NULL ? if_none_match : "\"none\"");
  ck_assert(http_request(at->port, "GET", path, headers, out));
}

/* A purchase id is unique per customer (docs/api.md): two customers may
 * hold the same id, and never share its history, a change, a cached
 * answer, a 304 or an audit record. The same customer reusing an id with
 * another purchase is still a 409. */
START_TEST(two_customers_may_hold_the_same_purchase_id) {
  const char *cached_env[] = {CLIENTS, NULL};
  struct server cached;
  struct http_response r;
  json_t *j_ann = purchase("same-1", "ann");
  json_t *j_bob = purchase("same-1", "bob");
  char ann_etag[32];
  char bob_etag[32];

  json_object_set_new(json_object_get(j_bob, "payment"), "lastDigits", json_string("1111"));
  ck_assert(server_start(&cached, db.uri, cached_env));
  ck_assert(wait_for_status(cached.port, "/readyz", 200, 15));
  post_purchase(j_ann, NULL, &r);
  ck_assert_msg(r.status == 201, "ann: %ld %s", r.status, r.body);
  http_response_cleanup(&r);
  post_purchase(j_bob, NULL, &r);
  ck_assert_msg(r.status == 201, "bob, the same id: %ld %s", r.status, r.body);
  http_response_cleanup(&r);

  /* Each reads their own, through the cache too. */
  for (int pass = 0; pass < 2; pass++) {
    read_as(&cached, "/user/bob/purchases/same-1", "shop", "bob", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.j_body, "payment"), "lastDigits")),
        "1111");
    header(&r, "ETag", bob_etag, sizeof(bob_etag));
    http_response_cleanup(&r);
    read_as(&cached, "/user/bob", "shop", "bob", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 1);
    http_response_cleanup(&r);
  }

  /* Ann's purchase moves on; Bob's does not. */
  patch_status("ann", "same-1", "{\"status\": \"paid\"}", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  header(&r, "ETag", ann_etag, sizeof(ann_etag));
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), 2);
  http_response_cleanup(&r);
  read_as(&cached, "/user/bob/purchases/same-1", "shop", "bob", ann_etag, &r);
  ck_assert_msg(r.status == 200, "Ann's ETag on Bob's purchase: %ld", r.status);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "placed");
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), 1);
  http_response_cleanup(&r);
  read_as(&cached, "/user/bob/purchases/same-1", "shop", "bob", bob_etag, &r);
  ck_assert_int_eq(r.status, 304);
  http_response_cleanup(&r);
  read_as(&cached, "/user/ann/purchases/same-1", "shop", "ann", bob_etag, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "paid");
  http_response_cleanup(&r);
  ck_assert_int_eq(count("purchase_history", "{\"userId\": \"ann\", \"purchaseId\": \"same-1\"}"),
                   2);
  ck_assert_int_eq(count("purchase_history", "{\"userId\": \"bob\", \"purchaseId\": \"same-1\"}"),
                   1);

  /* Support reads Bob's: one record, his. */
  read_as(&cached, "/user/bob/purchases/same-1", "customer-support", "sam-agent", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  ck_assert_int_eq(count("audit", "{\"userId\": \"bob\", \"purchaseId\": \"same-1\"}"), 1);
  ck_assert_int_eq(count("audit", "{\"userId\": \"ann\", \"purchaseId\": \"same-1\"}"), 0);

  /* Ann reusing her own id for another purchase: 409. */
  json_object_set_new(json_object_get(j_ann, "payment"), "lastDigits", json_string("9999"));
  post_purchase(j_ann, NULL, &r);
  ck_assert_int_eq(r.status, 409);
  http_response_cleanup(&r);
  server_stop(&cached, 15);
  json_decref(j_ann);
  json_decref(j_bob);
}
END_TEST

Suite *suite_writes(void) {
  Suite *suite = suite_create("writes");
  TCase *tc = tcase_create("writes");

  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, create_answers_201_with_location_etag_and_history);
  tcase_add_test(tc, only_ingest_clients_write_and_they_read_nothing);
  tcase_add_test(tc, same_key_replays_and_another_body_is_409);
  tcase_add_test(tc, a_caller_id_makes_retries_safe_without_a_key);
  tcase_add_test(tc, bad_bodies_get_their_own_status);
  tcase_add_test(tc, statuses_move_forward_only_and_if_match_guards_them);
  tcase_add_test(tc, a_change_with_an_unknown_field_is_refused_whatever_its_name);
  tcase_add_test(tc, a_path_with_empty_segments_takes_its_routes_body);
  tcase_add_test(tc, if_none_match_guards_a_change_too);
  tcase_add_test(tc, a_retry_storm_creates_exactly_one_purchase);
  tcase_add_test(tc, racing_changes_with_one_etag_let_exactly_one_win);
  tcase_add_test(tc, a_crash_loses_no_acknowledged_create_and_resending_adds_nothing);
  tcase_add_test(tc, a_change_cut_short_by_a_crash_is_finished_by_the_next_read);
  tcase_add_test(tc, a_create_of_an_id_another_customer_holds_leaves_theirs_alone);
  tcase_add_test(tc, two_customers_may_hold_the_same_purchase_id);
  tcase_add_test(tc, a_list_read_first_sees_a_change_cut_short_like_the_single_read);
  tcase_add_test(tc, a_hint_with_nothing_ahead_is_kept_while_fresh_and_dropped_when_stale);
  tcase_add_test(tc, an_expired_key_counts_as_absent_and_is_purged);
  tcase_add_test(tc, the_server_exits_cleanly_after_all_of_it);
  suite_add_tcase(suite, tc);
  return suite;
}
