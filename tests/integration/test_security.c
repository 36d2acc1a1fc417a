/* Security as callers meet it: the real server over HTTP(S), FerretDB
 * behind it. Who may read what in each authentication mode, every kind of
 * bad token, TLS, rate limits, the audit trail and hostile requests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../support/harness.h"
#include "../support/problems.h"
#include "../support/tokens.h"
#include "suites.h"

#define ISSUER   "https://issuer.test"
#define AUDIENCE "purchases"
#define CLIENTS                                                                                    \
  "PURCHASES_CLIENTS=shop:customer,customer-support:support,invoicing:service,checkout:ingest"
#define DATE_MS 1700000000000LL

/* ---- shared helpers ---------------------------------------------------- */

static char dir[160];

static void make_dir(void) {
  snprintf(dir, sizeof(dir), "%s/purchases-sec.XXXXXX", harness_tmp());
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void) {
  char command[256];
  snprintf(command, sizeof(command), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(command), 0);
}

static void insert_purchase(const struct ferretdb *db, const char *user) {
  char id[64];
  snprintf(id, sizeof(id), "%s-p000", user);
  bson_t *doc = fixture_purchase(id, user, DATE_MS);
  const bson_t *docs[] = {doc};
  ck_assert(db_insert(db->uri, docs, 1));
  bson_destroy(doc);
}

/* Sends raw bytes and reads until the server closes or timeout_s passes.
 * Returns the status of the answer, 0 when the connection closed without
 * one, -1 when nothing happened before the timeout. */
static int raw_exchange(int port, const char *request, size_t request_len, int timeout_s) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval timeout = {.tv_sec = timeout_s};
  char reply[512] = "";
  size_t have = 0;
  int status = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ck_assert_int_ge(fd, 0);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ck_assert_int_eq(send(fd, request, request_len, MSG_NOSIGNAL), (ssize_t)request_len);
  for (;;) {
    ssize_t n = recv(fd, reply + have, sizeof(reply) - 1 - have, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      status = have == 0 ? -1 : status;
      break;
    }
    if (n <= 0) {
      break;
    }
    have += (size_t)n;
    reply[have] = '\0';
    if (have == sizeof(reply) - 1) {
      break; /* the status line is long since in */
    }
  }
  close(fd);
  if (have > 0 && sscanf(reply, "HTTP/1.%*d %d", &status) != 1) {
    status = 0;
  }
  return status;
}

/* ---- the authorization matrix in every mode ------------------------------ */

enum mode { MODE_HEADERS, MODE_JWT, MODE_BOTH, MODE_COUNT };
static const char *const MODE_NAMES[] = {"headers", "jwt", "both"};

static struct ferretdb matrix_db;
static struct server matrix_servers[MODE_COUNT];
static struct tokens_keys *keys;
static char jwks_env[256];

struct principal {
  const char *client;
  const char *role;
  const char *user;
};

static const struct principal PRINCIPALS[] = {
    {"shop", "customer", "alice"},
    {"customer-support", "support", "agent1"},
    {"invoicing", "service", "svc1"},
    {"checkout", "ingest", "chk1"},
};

static void matrix_setup(void) {
  char jwks[192];
  const char *users[] = {"alice", "bob", "agent1", "svc1"};

  make_dir();
  snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
  snprintf(jwks_env, sizeof(jwks_env), "PURCHASES_JWKS_FILE=%s", jwks);
  keys = tokens_keys_new();
  ck_assert_ptr_nonnull(keys);
  ck_assert(tokens_write_jwks(keys, jwks));
  ck_assert(ferretdb_start(&matrix_db, "security_matrix"));
  for (size_t i = 0; i < 4; i++) {
    insert_purchase(&matrix_db, users[i]);
  }
  for (int mode = 0; mode < MODE_COUNT; mode++) {
    char auth[32];
    snprintf(auth, sizeof(auth), "PURCHASES_AUTH=%s", MODE_NAMES[mode]);
    const char *env[] = {
        auth, CLIENTS, jwks_env, "PURCHASES_JWT_ISSUER=" ISSUER, "PURCHASES_JWT_AUDIENCE=" AUDIENCE,
        NULL};
    ck_assert(server_start(&matrix_servers[mode], matrix_db.uri, env));
    ck_assert(wait_for_status(matrix_servers[mode].port, "/readyz", 200, 15));
  }
}

static void matrix_teardown(void) {
  for (int mode = 0; mode < MODE_COUNT; mode++) {
    server_stop(&matrix_servers[mode], 15);
  }
  ferretdb_stop(&matrix_db, false);
  tokens_keys_free(keys);
  remove_dir();
}

/* A good ES256 token for sub and client_id (NULL: no client_id). */
static char *token_for(const char *sub, const char *client_id) {
  json_t *j_claims = tokens_claims_new(ISSUER, AUDIENCE, sub, client_id, time(NULL));
  char *token = tokens_sign(keys, "ES256", TOKENS_KID_EC, j_claims);
  json_decref(j_claims);
  ck_assert_ptr_nonnull(token);
  return token;
}

/* GET path with an optional bearer token and optional identity headers. */
static void get_with(int port, const char *path, const char *token, const char *client,
                     const char *user, struct http_response *out) {
  char authorization[8300];
  char client_header[128];
  char user_header[128];
  const char *headers[4] = {NULL, NULL, NULL, NULL};
  size_t n = 0;

  if (token != NULL) {
    snprintf(authorization, sizeof(authorization), "Authorization: Bearer %s", token);
    headers[n++] = authorization;
  }
  if (client != NULL) {
    snprintf(client_header, sizeof(client_header), "x-client-id: %s", client);
    headers[n++] = client_header;
  }
  if (user != NULL) {
    snprintf(user_header, sizeof(user_header), "x-user-id: %s", user);
    headers[n++] = user_header;
  }
  ck_assert(http_request(port, "GET", path, headers, out));
}

/* What the rules say a principal gets on a route for a target user. */
static long expected_status(const struct principal *who, int route, bool own) {
  bool customer = strcmp(who->role, "customer") == 0;
  bool support = strcmp(who->role, "support") == 0;
  if (strcmp(who->role, "ingest") == 0) {
    return 403; /* writers read nothing */
  }
  if (route == 2) { /* /audit/:userId is for support staff alone */
    return support ? 200 : 403;
  }
  return customer && !own ? 403 : 200;
}

START_TEST(authorization_matrix_in_every_mode) {
  const char *routes[] = {"/user/%s", "/user/%s/purchases/%s-p000", "/audit/%s"};
  int checked = 0;

  for (int mode = 0; mode < MODE_COUNT; mode++) {
    int port = matrix_servers[mode].port;
    for (size_t p = 0; p < sizeof(PRINCIPALS) / sizeof(PRINCIPALS[0]); p++) {
      const struct principal *who = &PRINCIPALS[p];
      char *token = token_for(who->user, who->client);
      for (int own = 0; own < 2; own++) {
        const char *target = own ? who->user : "bob";
        for (int route = 0; route < 3; route++) {
          /* headers: headers only; jwt: the token only; both: each way. */
          for (int by_token = 0; by_token < 2; by_token++) {
            struct http_response r;
            char path[128];
            long want = expected_status(who, route, own);

            if ((mode == MODE_HEADERS && by_token) || (mode == MODE_JWT && !by_token)) {
              continue;
            }
            snprintf(path, sizeof(path), routes[route], target, target);
            get_with(port, path, by_token ? token : NULL, by_token ? NULL : who->client,
                     by_token ? NULL : who->user, &r);
            ck_assert_msg(r.status == want, "%s mode, %s by %s, %s: %ld, not %ld", MODE_NAMES[mode],
                          who->role, by_token ? "token" : "headers", path, r.status, want);
            if (want == 200 && route == 0) {
              /* The data is the target's and nobody else's. */
              json_t *j_first = json_array_get(json_object_get(r.j_body, "data"), 0);
              ck_assert_str_eq(json_string_value(json_object_get(j_first, "userId")), target);
            }
            http_response_cleanup(&r);
            checked++;
          }
        }
      }
      free(token);
    }
  }
  /* headers 24, jwt 24, both 48: nothing was skipped by mistake. */
  ck_assert_int_eq(checked, 96);
}
END_TEST

START_TEST(jwt_mode_ignores_identity_headers) {
  struct http_response r;
  char challenge[128] = "";

  get_with(matrix_servers[MODE_JWT].port, "/user/alice", NULL, "shop", "alice", &r);
  http_header(&r, "WWW-Authenticate", challenge, sizeof(challenge));
  ck_assert_str_eq(challenge, "Bearer realm=\"purchases\"");
  assert_problem(&r, 401, "headers in jwt mode");
  http_response_cleanup(&r);
}
END_TEST

START_TEST(in_both_mode_the_token_alone_decides) {
  struct http_response r;
  char *token = token_for("alice", "shop");

  /* Support headers beside a customer token: the token wins, so bob's data
   * stays hidden from alice. */
  get_with(matrix_servers[MODE_BOTH].port, "/user/bob", token, "customer-support", "agent1", &r);
  assert_problem(&r, 403, "customer token with support headers");
  http_response_cleanup(&r);
  free(token);
}
END_TEST

START_TEST(token_of_an_unknown_client_is_403) {
  struct http_response r;
  char *token = token_for("alice", "stranger");

  get_with(matrix_servers[MODE_JWT].port, "/user/alice", token, NULL, NULL, &r);
  assert_problem(&r, 403, "unknown client_id");
  http_response_cleanup(&r);
  free(token);
}
END_TEST

START_TEST(every_bad_token_is_401_invalid_token) {
  time_t now = time(NULL);
  json_t *j_good = tokens_claims_new(ISSUER, AUDIENCE, "alice", "shop", now);
  json_t *j_expired = tokens_claims_new(ISSUER, AUDIENCE, "alice", "shop", now - 3600);
  json_t *j_early = tokens_claims_new(ISSUER, AUDIENCE, "alice", "shop", now);
  json_t *j_issuer = tokens_claims_new("https://evil.test", AUDIENCE, "alice", "shop", now);
  json_t *j_audience = tokens_claims_new(ISSUER, "billing", "alice", "shop", now);
  json_t *j_admin = tokens_claims_new(ISSUER, AUDIENCE, "bob", "shop", now);
  char *good;
  struct {
    const char *what;
    char *token;
  } cases[] = {
      {"alg none", tokens_bad(keys, TOKENS_BAD_ALG_NONE, j_good)},
      {"HS256 keyed with the public PEM", tokens_bad(keys, TOKENS_BAD_HS256_PUBLIC_PEM, j_good)},
      {"HS256 keyed with the public JWK", tokens_bad(keys, TOKENS_BAD_HS256_PUBLIC_JWK, j_good)},
      {"bad signature", tokens_bad(keys, TOKENS_BAD_SIGNATURE_BYTE, j_good)},
      {"unknown kid", tokens_bad(keys, TOKENS_BAD_UNKNOWN_KID, j_good)},
      {"kid of another key type", tokens_bad(keys, TOKENS_BAD_KID_ALG_MISMATCH, j_good)},
      {"expired", tokens_sign(keys, "RS256", TOKENS_KID_RSA, j_expired)},
      {"not yet valid", NULL},
      {"wrong issuer", tokens_sign(keys, "EdDSA", TOKENS_KID_ED, j_issuer)},
      {"wrong audience", tokens_sign(keys, "RS256", TOKENS_KID_RSA, j_audience)},
      {"claims edited after signing", NULL},
      {"not a JWT", strdup("not.a.jwt")},
  };
  size_t count = sizeof(cases) / sizeof(cases[0]);

  json_object_set_new(j_early, "nbf", json_integer((json_int_t)now + 3600));
  cases[7].token = tokens_sign(keys, "ES256", TOKENS_KID_EC, j_early);
  good = tokens_sign(keys, "RS256", TOKENS_KID_RSA, j_good);
  cases[10].token = tokens_replace_claims(good, j_admin);
  for (size_t i = 0; i < count; i++) {
    ck_assert_msg(cases[i].token != NULL, "%s: no token made", cases[i].what);
  }
  for (int mode = MODE_JWT; mode <= MODE_BOTH; mode++) {
    for (size_t i = 0; i < count; i++) {
      struct http_response r;
      char challenge[128] = "";
      char what[96];

      /* In both mode the headers say alice may read; the token must still
       * be judged alone. */
      get_with(matrix_servers[mode].port, "/user/alice", cases[i].token,
               mode == MODE_BOTH ? "shop" : NULL, mode == MODE_BOTH ? "alice" : NULL, &r);
      snprintf(what, sizeof(what), "%s mode, %s", MODE_NAMES[mode], cases[i].what);
      http_header(&r, "WWW-Authenticate", challenge, sizeof(challenge));
      ck_assert_msg(strstr(challenge, "error=\"invalid_token\"") != NULL, "%s: challenge '%s'",
                    what, challenge);
      assert_problem(&r, 401, what);
      http_response_cleanup(&r);
    }
  }
  /* The good token still works, and no token reached the log. */
  {
    struct http_response r;
    char *log;
    get_with(matrix_servers[MODE_JWT].port, "/user/alice", good, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    http_response_cleanup(&r);
    log = server_log(&matrix_servers[MODE_JWT]);
    ck_assert_ptr_nonnull(log);
    for (size_t i = 0; i < count; i++) {
      const char *signature = strrchr(cases[i].token, '.');
      if (signature != NULL && strlen(signature) > 16) {
        ck_assert_msg(strstr(log, signature + 1) == NULL, "%s: token in the log", cases[i].what);
      }
    }
    ck_assert(strstr(log, strrchr(good, '.') + 1) == NULL);
    /* A bad token is the caller's doing: INFO, never an ERROR to page on. */
    ck_assert_msg(strstr(log, " ERROR: ") == NULL, "bad tokens were logged as errors");
    ck_assert(strstr(log, "bearer token refused: The token has expired.") != NULL);
    free(log);
  }
  for (size_t i = 0; i < count; i++) {
    free(cases[i].token);
  }
  free(good);
  json_decref(j_good);
  json_decref(j_expired);
  json_decref(j_early);
  json_decref(j_issuer);
  json_decref(j_audience);
  json_decref(j_admin);
}
END_TEST

/* Last in its case: every mode's server exits 0 on SIGTERM, so under the
 * sanitizers none leaked or misbehaved in all of the above. */
START_TEST(every_mode_exits_cleanly) {
  for (int mode = 0; mode < MODE_COUNT; mode++) {
    ck_assert_msg(server_stop(&matrix_servers[mode], 15) == 0, "%s mode", MODE_NAMES[mode]);
  }
}
END_TEST

START_TEST(authorization_must_be_a_bearer_token) {
  const char *values[] = {"Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "bearer"};
  for (int mode = MODE_JWT; mode <= MODE_BOTH; mode++) {
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
      struct http_response r;
      char header[64];
      const char *headers[] = {header, "x-client-id: shop", "x-user-id: alice", NULL};
      snprintf(header, sizeof(header), "Authorization: %s", values[i]);
      ck_assert(http_request(matrix_servers[mode].port, "GET", "/user/alice", headers, &r));
      assert_problem(&r, 401, values[i]);
      http_response_cleanup(&r);
    }
  }
}
END_TEST

/* ---- the audit trail ----------------------------------------------------- */

static struct ferretdb audit_db;
static struct server audit_server;

static void audit_setup(void) {
  const char *env[] = {CLIENTS, NULL};
  ck_assert(ferretdb_start(&audit_db, "security_audit"));
  insert_purchase(&audit_db, "carol");
  insert_purchase(&audit_db, "dave");
  insert_purchase(&audit_db, "erin");
  insert_purchase(&audit_db, "agent1");
  ck_assert(server_start(&audit_server, audit_db.uri, env));
  ck_assert(wait_for_status(audit_server.port, "/readyz", 200, 15));
}

static void audit_teardown(void) {
  server_stop(&audit_server, 15);
  ferretdb_stop(&audit_db, false);
}

/* GET as client/user with extra headers; returns the response's request id. */
static long read_as(const char *path, const char *client, const char *user, const char *extra,
                    char request_id[65]) {
  struct http_response r;
  char client_header[96];
  char user_header[96];
  const char *headers[] = {client_header, user_header, extra, NULL};
  long status;

  snprintf(client_header, sizeof(client_header), "x-client-id: %s", client);
  snprintf(user_header, sizeof(user_header), "x-user-id: %s", user);
  ck_assert(http_request(audit_server.port, "GET", path, headers, &r));
  status = r.status;
  if (request_id != NULL) {
    ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", request_id, 65));
  }
  http_response_cleanup(&r);
  return status;
}

START_TEST(reads_of_others_are_audited_and_listed_newest_first) {
  char support_read[65];
  char service_read[65];
  struct http_response r;
  const char *cursor;
  char path[512];

  ck_assert_int_eq(read_as("/user/carol", "customer-support", "agent1",
                           "x-access-reason: ticket #4521, refund question", support_read),
                   200);
  ck_assert_int_eq(
      read_as("/user/carol/purchases/carol-p000", "invoicing", "svc1", NULL, service_read), 200);
  /* Not audited: carol herself. */
  ck_assert_int_eq(read_as("/user/carol", "shop", "carol", NULL, NULL), 200);

  ck_assert(
      http_get_as(audit_server.port, "/audit/carol?limit=1", "customer-support", "agent2", &r));
  ck_assert_int_eq(r.status, 200);
  json_t *j_data = json_object_get(r.j_body, "data");
  ck_assert_uint_eq(json_array_size(j_data), 1);
  json_t *j_newest = json_array_get(j_data, 0);
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "requestId")), service_read);
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "client")), "invoicing");
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "actor")), "svc1");
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "userId")), "carol");
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "route")),
                   "/user/:userId/purchases/:purchaseId");
  ck_assert_str_eq(json_string_value(json_object_get(j_newest, "purchaseId")), "carol-p000");
  ck_assert_int_eq(json_integer_value(json_object_get(j_newest, "status")), 200);
  ck_assert(json_is_null(json_object_get(j_newest, "reason")));
  ck_assert_ptr_nonnull(json_string_value(json_object_get(j_newest, "time")));
  json_t *j_page = json_object_get(r.j_body, "page");
  ck_assert(json_is_true(json_object_get(j_page, "hasMore")));
  cursor = json_string_value(json_object_get(j_page, "nextCursor"));
  ck_assert_ptr_nonnull(cursor);
  snprintf(path, sizeof(path), "/audit/carol?limit=1&cursor=%s", cursor);
  http_response_cleanup(&r);

  ck_assert(http_get_as(audit_server.port, path, "customer-support", "agent2", &r));
  ck_assert_int_eq(r.status, 200);
  j_data = json_object_get(r.j_body, "data");
  ck_assert_uint_eq(json_array_size(j_data), 1);
  json_t *j_older = json_array_get(j_data, 0);
  ck_assert_str_eq(json_string_value(json_object_get(j_older, "requestId")), support_read);
  ck_assert_str_eq(json_string_value(json_object_get(j_older, "actor")), "agent1");
  ck_assert_str_eq(json_string_value(json_object_get(j_older, "route")), "/user/:userId");
  ck_assert(json_is_null(json_object_get(j_older, "purchaseId")));
  ck_assert_str_eq(json_string_value(json_object_get(j_older, "reason")),
                   "ticket #4521, refund question");
  ck_assert(json_is_false(json_object_get(json_object_get(r.j_body, "page"), "hasMore")));
  http_response_cleanup(&r);

  /* Nobody read agent1's purchases. */
  ck_assert(http_get_as(audit_server.port, "/audit/agent1", "customer-support", "agent2", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 0);
  http_response_cleanup(&r);
}
END_TEST

/* Staff and customer ids share one namespace: a support or service client
 * whose own x-user-id is u42 reading /user/u42 is reading customer u42, and
 * is audited like any other read. Only the customer u42 is not. */
START_TEST(staff_reading_their_own_id_are_audited) {
  /* Each user id is read by one actor only: the last test of this case
   * makes (userId, actor) unique in the trail. */
  static const struct {
    const char *path;
    const char *client;
    const char *user;
    long status;
    const char *route;
  } READS[] = {
      {"/user/u42", "customer-support", "u42", 200, "/user/:userId"},
      {"/user/u43/purchases/u43-p000", "customer-support", "u43", 404,
       "/user/:userId/purchases/:purchaseId"},
      {"/user/u44", "invoicing", "u44", 200, "/user/:userId"},
      {"/user/agent1", "customer-support", "agent1", 200, "/user/:userId"},
  };
  struct http_response r;
  char path[64];

  /* The customer u42 reading its own purchases is not audited. */
  ck_assert_int_eq(read_as("/user/u42", "shop", "u42", NULL, NULL), 200);
  ck_assert(http_get_as(audit_server.port, "/audit/u42", "customer-support", "agent2", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 0);
  http_response_cleanup(&r);

  for (size_t i = 0; i < sizeof(READS) / sizeof(READS[0]); i++) {
    char request_id[65];
    json_t *j_data;
    json_t *j_record;

    ck_assert_int_eq(read_as(READS[i].path, READS[i].client, READS[i].user, NULL, request_id),
                     READS[i].status);
    snprintf(path, sizeof(path), "/audit/%s", READS[i].user);
    ck_assert(http_get_as(audit_server.port, path, "customer-support", "agent2", &r));
    ck_assert_int_eq(r.status, 200);
    j_data = json_object_get(r.j_body, "data");
    ck_assert_msg(json_array_size(j_data) == 1, "%s: %s", READS[i].path, r.body);
    j_record = json_array_get(j_data, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j_record, "requestId")), request_id);
    ck_assert_str_eq(json_string_value(json_object_get(j_record, "client")), READS[i].client);
    ck_assert_str_eq(json_string_value(json_object_get(j_record, "actor")), READS[i].user);
    ck_assert_str_eq(json_string_value(json_object_get(j_record, "userId")), READS[i].user);
    ck_assert_str_eq(json_string_value(json_object_get(j_record, "route")), READS[i].route);
    ck_assert_int_eq(json_integer_value(json_object_get(j_record, "status")), READS[i].status);
    http_response_cleanup(&r);
  }
}
END_TEST

START_TEST(records_with_one_request_id_are_each_listed_once) {
  struct http_response r;
  char path[512] = "/audit/erin?limit=1";
  char order[3][16];
  int seen = 0;

  /* A caller may send one X-Request-Id with several reads, and two reads
   * can land in one millisecond: three records alike in time and request
   * id, as the service writes them (each with its own _id), must all be
   * paged through, none skipped or repeated. */
  mongoc_client_t *client = mongoc_client_new(audit_db.uri);
  mongoc_collection_t *audit = mongoc_client_get_collection(client, "security_audit", "audit");
  const char *agents[] = {"agent-a", "agent-b", "agent-c"};
  bson_error_t error;
  ck_assert_ptr_nonnull(client);
  for (int i = 0; i < 3; i++) {
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_t *record =
        BCON_NEW("_id", BCON_OID(&oid), "time", BCON_DATE_TIME(1700000000000LL), "client",
                 BCON_UTF8("customer-support"), "role", BCON_UTF8("support"), "actor",
                 BCON_UTF8(agents[i]), "userId", BCON_UTF8("erin"), "method", BCON_UTF8("GET"),
                 "route", BCON_UTF8("/user/:userId"), "purchaseId", BCON_NULL, "status",
                 BCON_INT32(200), "requestId", BCON_UTF8("same-id-each-time"), "reason", BCON_NULL);
    ck_assert_msg(mongoc_collection_insert_one(audit, record, NULL, NULL, &error), "%s",
                  error.message);
    bson_destroy(record);
  }
  mongoc_collection_destroy(audit);
  mongoc_client_destroy(client);
  for (;;) {
    ck_assert(http_get_as(audit_server.port, path, "customer-support", "agent2", &r));
    ck_assert_int_eq(r.status, 200);
    json_t *j_data = json_object_get(r.j_body, "data");
    json_t *j_page = json_object_get(r.j_body, "page");
    ck_assert_uint_eq(json_array_size(j_data), 1);
    ck_assert_int_lt(seen, 3);
    snprintf(order[seen++], sizeof(order[0]), "%s",
             json_string_value(json_object_get(json_array_get(j_data, 0), "actor")));
    /* Every page but the first has a way back. */
    ck_assert(json_is_string(json_object_get(j_page, "prevCursor")) == (seen > 1));
    const char *next = json_string_value(json_object_get(j_page, "nextCursor"));
    if (next == NULL) {
      snprintf(path, sizeof(path), "/audit/erin?limit=1&cursor=%s",
               json_string_value(json_object_get(j_page, "prevCursor")));
      http_response_cleanup(&r);
      break;
    }
    snprintf(path, sizeof(path), "/audit/erin?limit=1&cursor=%s", next);
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(seen, 3);

  /* And back from the last page to the first, by prevCursor: the same
   * records in the same order, though all three tie on time. */
  for (int back = seen - 2; back >= 0; back--) {
    ck_assert(http_get_as(audit_server.port, path, "customer-support", "agent2", &r));
    ck_assert_int_eq(r.status, 200);
    json_t *j_data = json_object_get(r.j_body, "data");
    json_t *j_page = json_object_get(r.j_body, "page");
    ck_assert_uint_eq(json_array_size(j_data), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j_data, 0), "actor")),
                     order[back]);
    ck_assert(json_is_true(json_object_get(j_page, "hasMore")));
    const char *prev = json_string_value(json_object_get(j_page, "prevCursor"));
    ck_assert((prev != NULL) == (back > 0));
    char link[1024];
    ck_assert_ptr_nonnull(http_header(&r, "Link", link, sizeof(link)));
    ck_assert_ptr_nonnull(strstr(link, "rel=\"next\""));
    ck_assert((strstr(link, "rel=\"prev\"") != NULL) == (prev != NULL));
    snprintf(path, sizeof(path), "/audit/erin?limit=1&cursor=%s", prev != NULL ? prev : "");
    http_response_cleanup(&r);
  }
}
END_TEST

START_TEST(a_bad_access_reason_is_400) {
  char too_long[260];
  char header[300];

  memset(too_long, 'r', 201);
  too_long[201] = '\0';
  snprintf(header, sizeof(header), "x-access-reason: %s", too_long);
  ck_assert_int_eq(read_as("/user/dave", "customer-support", "agent1", header, NULL), 400);
  ck_assert_int_eq(
      read_as("/user/dave", "customer-support", "agent1", "x-access-reason: a\tb", NULL), 400);
}
END_TEST

START_TEST(audit_list_rejects_bad_parameters) {
  struct http_response r;
  ck_assert(http_get_as(audit_server.port, "/audit/carol?limit=0", "customer-support", "a", &r));
  assert_problem(&r, 400, "limit=0");
  http_response_cleanup(&r);
  ck_assert(http_get_as(audit_server.port, "/audit/carol?cursor=abc", "customer-support", "a", &r));
  assert_problem(&r, 400, "bad cursor");
  http_response_cleanup(&r);
  ck_assert(http_get_as(audit_server.port, "/audit/carol?sort=time", "customer-support", "a", &r));
  assert_problem(&r, 400, "unknown parameter");
  http_response_cleanup(&r);
}
END_TEST

/* Last in its case: it breaks audit writes for dave on purpose. */
START_TEST(a_failed_audit_write_withholds_the_data) {
  mongoc_client_t *client = mongoc_client_new(audit_db.uri);
  bson_error_t error;
  struct http_response r;

  /* One audit record per reader of a user may exist from now on: the
   * second read of dave by agent1 cannot be recorded, deterministically. */
  bson_t *command = BCON_NEW("createIndexes", BCON_UTF8("audit"), "indexes", "[", "{", "key", "{",
                             "userId", BCON_INT32(1), "actor", BCON_INT32(1), "}", "name",
                             BCON_UTF8("test_one_per_reader"), "unique", BCON_BOOL(true), "}", "]");
  ck_assert_ptr_nonnull(client);
  ck_assert_msg(mongoc_client_command_simple(client, "security_audit", command, NULL, NULL, &error),
                "createIndexes: %s", error.message);
  bson_destroy(command);
  mongoc_client_destroy(client);

  ck_assert_int_eq(read_as("/user/dave", "customer-support", "agent1", NULL, NULL), 200);
  ck_assert(http_get_as(audit_server.port, "/user/dave", "customer-support", "agent1", &r));
  ck_assert(strstr(r.body, "dave-p000") == NULL);
  ck_assert(strstr(r.headers, "Link:") == NULL);
  assert_problem(&r, 503, "audit write failed");
  http_response_cleanup(&r);
  /* A single purchase is withheld the same way, its ETag too. */
  ck_assert(http_get_as(audit_server.port, "/user/dave/purchases/dave-p000", "customer-support",
                        "agent1", &r));
  ck_assert(strstr(r.body, "dave-p000") == NULL);
  ck_assert(strstr(r.headers, "ETag:") == NULL);
  assert_problem(&r, 503, "audit write failed, single purchase");
  http_response_cleanup(&r);
  /* The customer's own reads need no audit and go on. */
  ck_assert_int_eq(read_as("/user/dave", "shop", "dave", NULL, NULL), 200);
}
END_TEST

/* ---- rate limiting ------------------------------------------------------- */

static struct ferretdb limit_db;
static struct server limit_server;

static void limit_setup(void) {
  const char *env[] = {CLIENTS, "PURCHASES_RATE_LIMIT_RPS=1", "PURCHASES_RATE_LIMIT_BURST=3", NULL};
  ck_assert(ferretdb_start(&limit_db, "security_limit"));
  ck_assert(server_start(&limit_server, limit_db.uri, env));
  ck_assert(wait_for_status(limit_server.port, "/readyz", 200, 15));
}

static void limit_teardown(void) {
  server_stop(&limit_server, 15);
  ferretdb_stop(&limit_db, false);
}

static long header_number(const struct http_response *r, const char *name) {
  char value[32];
  ck_assert_msg(http_header(r, name, value, sizeof(value)) != NULL, "no %s header", name);
  return strtol(value, NULL, 10);
}

START_TEST(rate_limit_is_reached_and_recovers) {
  struct http_response r;
  long retry_after = 0;
  int allowed = 0;

  /* A bucket of 3 refilling at 1 a second: a quick run of requests meets a
   * 429 within a few, however slow the machine, since each 200 costs a
   * token and at most one comes back a second. */
  for (int i = 0; i < 50 && retry_after == 0; i++) {
    ck_assert(http_get_as(limit_server.port, "/user/erin", "shop", "erin", &r));
    ck_assert_int_eq(header_number(&r, "RateLimit-Limit"), 3);
    if (r.status == 200) {
      allowed++;
      ck_assert_int_lt(header_number(&r, "RateLimit-Remaining"), 3);
      http_response_cleanup(&r);
      continue;
    }
    ck_assert_int_eq(header_number(&r, "RateLimit-Remaining"), 0);
    ck_assert_int_ge(header_number(&r, "RateLimit-Reset"), 1);
    retry_after = header_number(&r, "Retry-After");
    assert_problem(&r, 429, "over the limit");
    http_response_cleanup(&r);
  }
  ck_assert_int_ge(allowed, 3);
  ck_assert_int_ge(retry_after, 1);
  ck_assert_int_le(retry_after, 1);

  /* Another user of the same client has a bucket of its own. */
  ck_assert(http_get_as(limit_server.port, "/user/frank", "shop", "frank", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_int_eq(header_number(&r, "RateLimit-Remaining"), 2);
  http_response_cleanup(&r);

  /* Probes are never limited. */
  ck_assert(http_request(limit_server.port, "GET", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert(strstr(r.headers, "RateLimit-") == NULL);
  http_response_cleanup(&r);

  /* After Retry-After, erin is served again. */
  sleep((unsigned int)retry_after + 1);
  ck_assert(http_get_as(limit_server.port, "/user/erin", "shop", "erin", &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

/* ---- TLS ----------------------------------------------------------------- */

static struct ferretdb tls_db;
static struct server tls_server;
static char cert_path[192];

static void tls_setup(void) {
  char key_path[192];
  char cert_env[256];
  char key_env[256];

  make_dir();
  snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
  snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
  snprintf(cert_env, sizeof(cert_env), "PURCHASES_TLS_CERT=%s", cert_path);
  snprintf(key_env, sizeof(key_env), "PURCHASES_TLS_KEY=%s", key_path);
  ck_assert(tls_write_self_signed(cert_path, key_path));
  const char *env[] = {CLIENTS, cert_env, key_env, NULL};
  ck_assert(ferretdb_start(&tls_db, "security_tls"));
  insert_purchase(&tls_db, "gina");
  harness_set_tls(cert_path);
  ck_assert(server_start(&tls_server, tls_db.uri, env));
  ck_assert(wait_for_status(tls_server.port, "/readyz", 200, 15));
}

static void tls_teardown(void) {
  harness_set_tls(NULL);
  server_stop(&tls_server, 15);
  ferretdb_stop(&tls_db, false);
  remove_dir();
}

START_TEST(tls_serves_https_and_nothing_else) {
  struct http_response r;

  harness_set_tls(cert_path);
  ck_assert(http_get_as(tls_server.port, "/user/gina", "shop", "gina", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 1);
  http_response_cleanup(&r);

  /* Plain HTTP on the same port gets no HTTP answer at all. */
  harness_set_tls(NULL);
  ck_assert(!http_get_as(tls_server.port, "/user/gina", "shop", "gina", &r));
  harness_set_tls(cert_path);
}
END_TEST

/* ---- hostile requests ---------------------------------------------------- */

static struct ferretdb hostile_db;
static struct server hostile_server;

static void hostile_setup(void) {
  const char *env[] = {CLIENTS, "PURCHASES_CONNECTION_TIMEOUT_S=2", NULL};
  ck_assert(ferretdb_start(&hostile_db, "security_hostile"));
  ck_assert(server_start(&hostile_server, hostile_db.uri, env));
  ck_assert(wait_for_status(hostile_server.port, "/readyz", 200, 15));
}

static void hostile_teardown(void) {
  server_stop(&hostile_server, 15);
  ferretdb_stop(&hostile_db, false);
}

START_TEST(a_url_too_long_is_414) {
  char path[5200] = "/user/";
  struct http_response r;

  memset(path + 6, 'a', 5000);
  path[5006] = '\0';
  ck_assert(http_get_as(hostile_server.port, path, "shop", "hank", &r));
  assert_problem(&r, 414, "5000-byte user id");
  http_response_cleanup(&r);
}
END_TEST

START_TEST(too_many_or_too_large_headers_are_431) {
  char names[80][32];
  const char *headers[82];
  char *large = malloc(9100);
  struct http_response r;

  for (int i = 0; i < 80; i++) {
    snprintf(names[i], sizeof(names[i]), "x-extra-%d: %d", i, i);
    headers[i] = names[i];
  }
  headers[80] = "x-client-id: shop";
  headers[81] = NULL;
  ck_assert(http_request(hostile_server.port, "GET", "/user/hank", headers, &r));
  assert_problem(&r, 431, "80 headers");
  http_response_cleanup(&r);

  ck_assert_ptr_nonnull(large);
  strcpy(large, "x-extra: ");
  memset(large + 9, 'v', 9000);
  large[9009] = '\0';
  const char *one[] = {large, "x-client-id: shop", "x-user-id: hank", NULL};
  ck_assert(http_request(hostile_server.port, "GET", "/user/hank", one, &r));
  assert_problem(&r, 431, "a 9000-byte header");
  http_response_cleanup(&r);
  free(large);
}
END_TEST

START_TEST(a_request_body_is_413) {
  const char request[] = "GET /user/hank HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
                         "x-user-id: hank\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
  const char chunked[] = "GET /user/hank HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
                         "x-user-id: hank\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                         "\r\n5\r\nhello\r\n0\r\n\r\n";
  ck_assert_int_eq(raw_exchange(hostile_server.port, request, sizeof(request) - 1, 10), 413);
  ck_assert_int_eq(raw_exchange(hostile_server.port, chunked, sizeof(chunked) - 1, 10), 413);
  /* A length of zero however it is written is no body. */
  const char zeros[] = "GET /user/hank HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
                       "x-user-id: hank\r\nContent-Length: 00\r\nConnection: close\r\n\r\n";
  ck_assert_int_eq(raw_exchange(hostile_server.port, zeros, sizeof(zeros) - 1, 10), 200);
}
END_TEST

START_TEST(control_characters_in_headers_are_400) {
  const char *values[] = {"x-note: a\x01z", "x-user-id: ha\x7fnk", "x-note: a\x1b[31mred"};
  const char *names[] = {"x-note", "x-user-id", "x-note"};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
    struct http_response r;
    const char *headers[] = {"x-client-id: shop", values[i], "x-user-id: hank", NULL};
    ck_assert(http_request(hostile_server.port, "GET", "/user/hank", headers, &r));
    assert_invalid_about(&r, NULL, names[i]);
    assert_problem(&r, 400, values[i]);
    http_response_cleanup(&r);
  }
}
END_TEST

/* Every 400 about a header names it in errors, for a program to act on. */
START_TEST(a_bad_header_is_named_in_errors) {
  static const struct {
    const char *header;
    const char *name;
  } CASES[] = {
      {"x-user-id: not an id", "x-user-id"},
      {"x-client-id: sh op", "x-client-id"},
      {"Accept-Encoding: gzip;q=2", "Accept-Encoding"},
      {"If-None-Match: l0f3a", "If-None-Match"},
      {"x-access-reason: a\tb", "x-access-reason"},
  };
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    struct http_response r;
    bool client_given = strncmp(CASES[i].header, "x-client-id", 11) == 0;
    bool user_given = strncmp(CASES[i].header, "x-user-id", 9) == 0;
    const char *headers[4] = {NULL};
    size_t n = 0;
    headers[n++] = CASES[i].header;
    if (!client_given) {
      headers[n++] = "x-client-id: customer-support";
    }
    if (!user_given) {
      headers[n++] = "x-user-id: agent1";
    }
    ck_assert(http_request(hostile_server.port, "GET", "/user/hank", headers, &r));
    assert_invalid_about(&r, NULL, CASES[i].name);
    assert_problem(&r, 400, CASES[i].header);
    http_response_cleanup(&r);
  }
}
END_TEST

START_TEST(header_names_are_case_insensitive) {
  struct http_response r;
  const char *headers[] = {"X-CLIENT-ID: shop", "X-User-Id: hank", NULL};
  ck_assert(http_request(hostile_server.port, "GET", "/user/hank", headers, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(a_silent_client_is_disconnected) {
  /* Half a request, then nothing: the server must hang up after its
   * 2-second connection timeout rather than keep a thread forever. The
   * bound here is generous; what matters is that the connection ends. */
  const char partial[] = "GET /user/hank HTTP/1.1\r\nHost: x\r\nx-client-id: sh";
  struct http_response r;

  ck_assert_int_eq(raw_exchange(hostile_server.port, partial, sizeof(partial) - 1, 30), 0);
  ck_assert(http_request(hostile_server.port, "GET", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

static struct ferretdb per_ip_db;
static struct server per_ip_server;

/* Slow connections are kept a minute here, far longer than the test. */
static void per_ip_setup(void) {
  const char *env[] = {CLIENTS, "PURCHASES_CONNECTION_TIMEOUT_S=60",
                       "PURCHASES_HEADER_TIMEOUT_S=60", "PURCHASES_MAX_CONNECTIONS_PER_IP=3", NULL};
  ck_assert(ferretdb_start(&per_ip_db, "security_per_ip"));
  ck_assert(server_start(&per_ip_server, per_ip_db.uri, env));
}

static void per_ip_teardown(void) {
  server_stop(&per_ip_server, 15);
  ferretdb_stop(&per_ip_db, false);
}

/* A connection that sent half a request and stays open. */
static int open_partial(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ck_assert_int_ge(fd, 0);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
  ck_assert_int_eq(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL),
                   (ssize_t)(sizeof(partial) - 1));
  return fd;
}

START_TEST(one_address_holds_at_most_its_share_of_connections) {
  struct http_response r;
  int held[3];

  /* Three slow connections from 127.0.0.1 use up its share. The server may
   * still count connections of server_start's readiness polls for a moment
   * and refuse one of ours; one it refused is closed, so it is replaced
   * until three are held. */
  for (int i = 0; i < 3; i++) {
    held[i] = open_partial(per_ip_server.port);
  }
  for (int round = 0;; round++) {
    bool all_held = true;
    usleep(200000);
    for (int i = 0; i < 3; i++) {
      char byte;
      ssize_t n = recv(held[i], &byte, 1, MSG_DONTWAIT);
      /* Refused: closed, or reset. Held: nothing to read yet. */
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        close(held[i]);
        held[i] = open_partial(per_ip_server.port);
        all_held = false;
      }
    }
    if (all_held) {
      break;
    }
    ck_assert_msg(round < 50, "the server kept refusing the slow connections");
  }
  /* ...so a fourth is closed unanswered instead of taking a thread. */
  ck_assert_msg(!http_request(per_ip_server.port, "GET", "/healthz", NULL, &r),
                "a fourth connection was answered %ld: %s", r.status, r.body);
  for (int i = 0; i < 3; i++) {
    close(held[i]);
  }
  /* Once they are gone, the address is served again. */
  ck_assert(wait_for_status(per_ip_server.port, "/healthz", 200, 10));
}
END_TEST

/* ---- failed authentications per client address -------------------------- */

static struct ferretdb failures_db;
static struct server failures_jwt;
static struct server failures_headers;

/* Budgets small enough that a quick run of failures meets them on any
 * machine: 10 at once, 2 a second back. */
#define FAILURES_ENV "PURCHASES_AUTH_FAILURES_RPS=2", "PURCHASES_AUTH_FAILURES_BURST=10"

static void failures_setup(void) {
  char jwks[192];

  make_dir();
  snprintf(jwks, sizeof(jwks), "%s/jwks.json", dir);
  snprintf(jwks_env, sizeof(jwks_env), "PURCHASES_JWKS_FILE=%s", jwks);
  keys = tokens_keys_new();
  ck_assert_ptr_nonnull(keys);
  ck_assert(tokens_write_jwks(keys, jwks));
  ck_assert(ferretdb_start(&failures_db, "security_failures"));
  insert_purchase(&failures_db, "fay");
  const char *jwt_env[] = {"PURCHASES_AUTH=jwt",
                           CLIENTS,
                           jwks_env,
                           "PURCHASES_JWT_ISSUER=" ISSUER,
                           "PURCHASES_JWT_AUDIENCE=" AUDIENCE,
                           FAILURES_ENV,
                           NULL};
  const char *headers_env[] = {CLIENTS, FAILURES_ENV, NULL};
  ck_assert(server_start(&failures_jwt, failures_db.uri, jwt_env));
  ck_assert(server_start(&failures_headers, failures_db.uri, headers_env));
  ck_assert(wait_for_status(failures_jwt.port, "/readyz", 200, 15));
  ck_assert(wait_for_status(failures_headers.port, "/readyz", 200, 15));
}

static void failures_teardown(void) {
  server_stop(&failures_jwt, 15);
  server_stop(&failures_headers, 15);
  ferretdb_stop(&failures_db, false);
  tokens_keys_free(keys);
  keys = NULL;
  remove_dir();
}

/* How many lines of the server's log hold `text`. */
static int log_lines_with(const struct server *server, const char *text) {
  FILE *log = fopen(server->log_path, "r");
  char line[4096];
  int n = 0;

  ck_assert_ptr_nonnull(log);
  while (fgets(line, sizeof(line), log) != NULL) {
    n += strstr(line, text) != NULL;
  }
  fclose(log);
  return n;
}

/* The value of an unlabelled sample on /metrics. */
static double metric(int port, const char *name) {
  struct http_response r;
  char prefix[128];
  const char *at;
  double value;

  ck_assert(http_request(port, "GET", "/metrics", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  snprintf(prefix, sizeof(prefix), "\n%s ", name);
  at = strstr(r.body, prefix);
  ck_assert_msg(at != NULL, "no %s on /metrics", name);
  value = strtod(at + strlen(prefix), NULL);
  http_response_cleanup(&r);
  return value;
}

START_TEST(refused_tokens_from_one_address_meet_429_before_verification) {
  char *good = token_for("fay", "shop");
  char *bad = tokens_change_signature_byte(good);
  struct http_response r;
  int refused = 0;
  int limited = 0;
  long retry_after = 0;

  ck_assert_ptr_nonnull(bad);
  for (int i = 0; i < 30; i++) {
    get_with(failures_jwt.port, "/user/fay", bad, NULL, NULL, &r);
    if (r.status == 401) {
      refused++;
    } else {
      char type[64] = "";
      ck_assert_msg(r.status == 429, "request %d: %ld %s", i, r.status, r.body);
      limited++;
      retry_after = header_number(&r, "Retry-After");
      ck_assert_int_ge(retry_after, 1);
      ck_assert_ptr_nonnull(http_header(&r, "Content-Type", type, sizeof(type)));
      ck_assert_str_eq(type, "application/problem+json");
      ck_assert_int_eq(json_integer_value(json_object_get(r.j_body, "status")), 429);
      ck_assert_ptr_nonnull(strstr(r.body, "failed authentications"));
      ck_assert(http_header(&r, "WWW-Authenticate", type, sizeof(type)) == NULL);
    }
    http_response_cleanup(&r);
  }
  /* The burst, plus what came back at 2 a second while they ran. */
  ck_assert_int_ge(refused, 10);
  ck_assert_int_ge(limited, 1);
  /* Each 401 verified the token and logged why; no 429 looked at it. */
  ck_assert_int_eq(log_lines_with(&failures_jwt, "bearer token refused"), refused);
  ck_assert_double_eq(metric(failures_jwt.port, "purchases_auth_failures_limited_total"),
                      (double)limited);

  /* While the budget is spent, the address is refused whatever it sends. */
  get_with(failures_jwt.port, "/user/fay", good, NULL, NULL, &r);
  ck_assert_int_eq(r.status, 429);
  retry_after = header_number(&r, "Retry-After");
  http_response_cleanup(&r);
  /* After Retry-After, a good token is served. */
  sleep((unsigned)retry_after);
  get_with(failures_jwt.port, "/user/fay", good, NULL, NULL, &r);
  ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 1);
  http_response_cleanup(&r);
  /* A success costs nothing: a few more are served at once. */
  for (int i = 0; i < 5; i++) {
    get_with(failures_jwt.port, "/user/fay", good, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    http_response_cleanup(&r);
  }
  /* Probes carry no identity and are never limited. */
  ck_assert(http_request(failures_jwt.port, "GET", "/healthz", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  free(bad);
  free(good);
}
END_TEST

START_TEST(unknown_clients_and_missing_identities_spend_the_budget_too) {
  struct http_response r;
  int limited = 0;

  /* A malformed header is a 400, a mistake rather than a guess: free. */
  for (int i = 0; i < 15; i++) {
    get_with(failures_headers.port, "/user/fay", NULL, "bad client!", "fay", &r);
    ck_assert_int_eq(r.status, 400);
    http_response_cleanup(&r);
  }
  /* Unknown clients (403) and a missing user (401) are failures. */
  for (int i = 0; i < 30 && limited == 0; i++) {
    get_with(failures_headers.port, "/user/fay", NULL, i % 2 == 0 ? "nobody" : "shop",
             i % 2 == 0 ? "fay" : NULL, &r);
    if (r.status == 429) {
      limited++;
      ck_assert_int_ge(header_number(&r, "Retry-After"), 1);
    } else {
      ck_assert_msg(r.status == (i % 2 == 0 ? 403 : 401), "request %d: %ld", i, r.status);
    }
    http_response_cleanup(&r);
  }
  ck_assert_int_eq(limited, 1);
  /* The known client is refused too while the address is over budget... */
  get_with(failures_headers.port, "/user/fay", NULL, "shop", "fay", &r);
  ck_assert_int_eq(r.status, 429);
  long retry_after = header_number(&r, "Retry-After");
  http_response_cleanup(&r);
  /* ...and served once it has waited. */
  sleep((unsigned)retry_after);
  get_with(failures_headers.port, "/user/fay", NULL, "shop", "fay", &r);
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
}
END_TEST

Suite *suite_security(void) {
  Suite *suite = suite_create("security");
  TCase *matrix = tcase_create("matrix");
  TCase *audit = tcase_create("audit");
  TCase *limit = tcase_create("rate_limit");
  TCase *failures = tcase_create("auth_failures");
  TCase *tls = tcase_create("tls");
  TCase *hostile = tcase_create("hostile");
  TCase *per_ip = tcase_create("per_ip");

  tcase_add_unchecked_fixture(matrix, matrix_setup, matrix_teardown);
  tcase_add_test(matrix, authorization_matrix_in_every_mode);
  tcase_add_test(matrix, jwt_mode_ignores_identity_headers);
  tcase_add_test(matrix, in_both_mode_the_token_alone_decides);
  tcase_add_test(matrix, token_of_an_unknown_client_is_403);
  tcase_add_test(matrix, every_bad_token_is_401_invalid_token);
  tcase_add_test(matrix, authorization_must_be_a_bearer_token);
  tcase_add_test(matrix, every_mode_exits_cleanly);
  suite_add_tcase(suite, matrix);

  tcase_add_unchecked_fixture(audit, audit_setup, audit_teardown);
  tcase_add_test(audit, reads_of_others_are_audited_and_listed_newest_first);
  tcase_add_test(audit, staff_reading_their_own_id_are_audited);
  tcase_add_test(audit, records_with_one_request_id_are_each_listed_once);
  tcase_add_test(audit, a_bad_access_reason_is_400);
  tcase_add_test(audit, audit_list_rejects_bad_parameters);
  tcase_add_test(audit, a_failed_audit_write_withholds_the_data);
  suite_add_tcase(suite, audit);

  tcase_add_unchecked_fixture(limit, limit_setup, limit_teardown);
  tcase_add_test(limit, rate_limit_is_reached_and_recovers);
  suite_add_tcase(suite, limit);

  tcase_add_unchecked_fixture(failures, failures_setup, failures_teardown);
  tcase_add_test(failures, refused_tokens_from_one_address_meet_429_before_verification);
  tcase_add_test(failures, unknown_clients_and_missing_identities_spend_the_budget_too);
  suite_add_tcase(suite, failures);

  tcase_add_unchecked_fixture(tls, tls_setup, tls_teardown);
  tcase_add_test(tls, tls_serves_https_and_nothing_else);
  suite_add_tcase(suite, tls);

  tcase_add_unchecked_fixture(hostile, hostile_setup, hostile_teardown);
  tcase_add_test(hostile, a_url_too_long_is_414);
  tcase_add_test(hostile, too_many_or_too_large_headers_are_431);
  tcase_add_test(hostile, a_request_body_is_413);
  tcase_add_test(hostile, control_characters_in_headers_are_400);
  tcase_add_test(hostile, a_bad_header_is_named_in_errors);
  tcase_add_test(hostile, header_names_are_case_insensitive);
  tcase_add_test(hostile, a_silent_client_is_disconnected);
  suite_add_tcase(suite, hostile);

  tcase_add_unchecked_fixture(per_ip, per_ip_setup, per_ip_teardown);
  tcase_add_test(per_ip, one_address_holds_at_most_its_share_of_connections);
  suite_add_tcase(suite, per_ip);
  return suite;
}
