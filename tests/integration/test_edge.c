/* The HTTP edge over raw sockets: ambiguous framing answered and the
 * connection closed with nothing smuggled after it served, NUL bytes and
 * non-UTF-8 values in headers refused rather than dropped, bodies of
 * unauthenticated callers refused before they cost memory, and one escaped
 * access line for every request in both log formats. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../support/harness.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;
static char log_path[192];

static void edge_setup(void) {
  static char log_env[256];
  const char *env[] = {"PURCHASES_LOG_TARGET=file", log_env, NULL};
  snprintf(log_path, sizeof(log_path), "%s/purchases-edge-%d.log", harness_tmp(), (int)getpid());
  unlink(log_path);
  snprintf(log_env, sizeof(log_env), "PURCHASES_LOG_FILE=%s", log_path);
  ck_assert(ferretdb_start(&db, "edge"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void edge_teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
  unlink(log_path);
}

/* The service's log file as it is now (the caller frees). */
static char *read_log(void) {
  FILE *file = fopen(log_path, "rb");
  char *text = NULL;
  long size;
  ck_assert_ptr_nonnull(file);
  fseek(file, 0, SEEK_END);
  size = ftell(file);
  fseek(file, 0, SEEK_SET);
  text = calloc(1, (size_t)size + 1);
  ck_assert_ptr_nonnull(text);
  ck_assert_uint_eq(fread(text, 1, (size_t)size, file), (size_t)size);
  fclose(file);
  return text;
}

static int connect_to(int port) {
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct timeval timeout = {.tv_sec = 10};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  ck_assert_int_ge(fd, 0);
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

/* Sends len raw bytes, reads until the server closes (or 10 s pass), and
 * returns everything read (the caller frees); *closed says whether the
 * server closed the connection. */
static char *exchange(const char *bytes, size_t len, bool *closed) {
  size_t have = 0;
  size_t size = 4096;
  char *reply = calloc(1, size);
  int fd = connect_to(server.port);

  ck_assert_ptr_nonnull(reply);
  ck_assert_int_eq(send(fd, bytes, len, MSG_NOSIGNAL), (ssize_t)len);
  *closed = false;
  for (;;) {
    ssize_t n;
    if (size - have < 1024) {
      size *= 2;
      reply = realloc(reply, size);
      ck_assert_ptr_nonnull(reply);
    }
    n = recv(fd, reply + have, size - have - 1, 0);
    if (n == 0) {
      *closed = true;
      break;
    }
    if (n < 0) {
      *closed = errno == ECONNRESET;
      break;
    }
    have += (size_t)n;
  }
  reply[have] = '\0';
  close(fd);
  return reply;
}

/* How many status lines ("HTTP/1.1 NNN ") the reply holds, anywhere (a
 * pipelined answer follows the last body without a line break); with
 * status, only those of that status. */
static int answers_in(const char *reply, int status) {
  int n = 0;
  for (const char *p = strstr(reply, "HTTP/1.1 "); p != NULL; p = strstr(p + 1, "HTTP/1.1 ")) {
    int seen = 0;
    char space = 0;
    if (sscanf(p, "HTTP/1.1 %3d%c", &seen, &space) == 2 && space == ' ' && seen >= 100 &&
        (status == 0 || seen == status)) {
      n++;
    }
  }
  return n;
}

/* A request the edge must refuse, followed on the same connection by a
 * request it must never serve. */
struct framing_case {
  const char *name;
  const char *head; /* up to and including the blank line, then a body */
  size_t len;
  int status;
  const char *detail; /* a part of the problem's detail; NULL: MHD answers by itself */
};

#define SMUGGLED                                                                                   \
  "GET /user/smuggled-31 HTTP/1.1\r\nHost: x\r\nx-client-id: customer-support\r\n"                 \
  "x-user-id: smuggled-agent\r\nConnection: close\r\n\r\n"
#define CASE(name, head, status, detail)                                                           \
  { name, head, sizeof(head) - 1, status, detail }

static const struct framing_case CASES[] = {
    CASE("two Content-Length",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 200\r\n\r\n"
         "{}" SMUGGLED,
         400, "Content-Length"),
    CASE("two Content-Length in two cases",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Content-Type: application/json\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n"
         "{}" SMUGGLED,
         400, "Content-Length"),
    CASE("Content-Length with Transfer-Encoding",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
         "\r\n0\r\n\r\n" SMUGGLED,
         400, "Transfer-Encoding"),
    CASE("white space before the colon",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" SMUGGLED,
         400, "Transfer-Encoding"),
    CASE("an unknown transfer coding",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" SMUGGLED,
         501, "chunked"),
    CASE("a Content-Length that is not a number",
         "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\nx-user-id: c1\r\n"
         "Content-Length: +2\r\n\r\n{}" SMUGGLED,
         400, NULL),
    CASE("HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n" SMUGGLED, 400, "Host"),
    CASE("a Host that is no host", "GET /healthz HTTP/1.1\r\nHost: a b/c@\r\n\r\n" SMUGGLED, 400,
         "Host"),
    CASE("a method in the wrong case", "GeT /healthz HTTP/1.1\r\nHost: x\r\n\r\n" SMUGGLED, 501,
         "GeT"),
    CASE("a NUL inside x-client-id",
         "GET /user/6 HTTP/1.1\r\nHost: x\r\nx-client-id: customer-support\0shop\r\n"
         "x-user-id: agent\r\n\r\n" SMUGGLED,
         400, "NUL"),
    CASE("a NUL inside the target", "GET /user/6\0 7 HTTP/1.1\r\nHost: x\r\n\r\n" SMUGGLED, 400,
         "NUL"),
    CASE("a control byte in a header name",
         "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A\x01: b\r\n\r\n" SMUGGLED, 400, "header name"),
    CASE("a header line without a name", "GET /healthz HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n" SMUGGLED,
         400, "without a name"),
    /* Ulfius would route "user/6" as "/user/6". */
    CASE("a target that is not a path from /",
         "GET user/6 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\nx-user-id: 6\r\n\r\n" SMUGGLED,
         400, "must be a path"),
    /* The authority of an absolute-form target is a host and a port, or
     * the target is refused: anything else is read one way here and
     * another way by the proxy in front. */
    CASE("a fragment after the authority",
         "GET http://x#/user/41 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
         "x-user-id: 41\r\n\r\n" SMUGGLED,
         400, "fragment"),
    CASE("userinfo in the authority",
         "GET http://u:p@x/user/42 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
         "x-user-id: 42\r\n\r\n" SMUGGLED,
         400, "userinfo"),
    CASE("a backslash before an @ in the authority",
         "GET http://x\\@evil/user/43 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
         "x-user-id: 43\r\n\r\n" SMUGGLED,
         400, "userinfo"),
    CASE("an authority that is no host",
         "GET http://x\\evil/user/44 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
         "x-user-id: 44\r\n\r\n" SMUGGLED,
         400, "host and an optional port"),
    CASE("an encoded space in the target", "GET /healthz%20 HTTP/1.1\r\nHost: x\r\n\r\n" SMUGGLED,
         400, "a space"),
    /* libmicrohttpd would hand these on as headers named "x-user-id7" and
     * "Authorizationcontinued": the identity would look absent (401), or
     * the headers would be trusted in place of the token. */
    CASE("x-user-id folded onto the next line",
         "GET /user/67 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\nx-user-id: 6\r\n "
         "7\r\n\r\n" SMUGGLED,
         400, "folded"),
    CASE("Authorization folded onto the next line",
         "GET /user/6 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n\tcontinued\r\n"
         "x-client-id: customer-support\r\nx-user-id: agent\r\n\r\n" SMUGGLED,
         400, "folded"),
    CASE("a folded header on the probe",
         "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n b\r\n\r\n" SMUGGLED, 400, "folded"),
};

START_TEST(ambiguous_framing_is_answered_and_the_connection_closed) {
  const struct framing_case *c = &CASES[_i];
  char status_line[32];
  bool closed = false;
  char *reply = exchange(c->head, c->len, &closed);
  char *log = NULL;

  snprintf(status_line, sizeof(status_line), "HTTP/1.1 %d ", c->status);
  ck_assert_msg(strncmp(reply, status_line, strlen(status_line)) == 0, "%s: %.200s", c->name,
                reply);
  if (c->detail != NULL) {
    ck_assert_msg(strstr(reply, "application/problem+json") != NULL, "%s: %.300s", c->name, reply);
    ck_assert_msg(strstr(reply, c->detail) != NULL, "%s: no '%s' in %.400s", c->name, c->detail,
                  reply);
  }
  ck_assert_msg(strstr(reply, "Connection: close") != NULL, "%s: %.300s", c->name, reply);
  ck_assert_msg(closed, "%s: the connection stayed open", c->name);
  /* Only the refusal (MHD repeats its own once in a while), never the
   * smuggled request's answer. */
  ck_assert_msg(answers_in(reply, 0) >= 1 && answers_in(reply, 0) == answers_in(reply, c->status),
                "%s: another answer: %s", c->name, reply);
  free(reply);
  /* The smuggled request never reached the service. */
  log = read_log();
  ck_assert_msg(strstr(log, "smuggled") == NULL, "%s: the smuggled request was served", c->name);
  free(log);
}
END_TEST

START_TEST(a_well_framed_pipeline_is_still_served) {
  const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  bool closed = false;
  char *reply = exchange(two, sizeof(two) - 1, &closed);
  ck_assert_msg(answers_in(reply, 200) == 2, "%s", reply);
  free(reply);
}
END_TEST

/* Probes go through the same dispatcher as every route: its checks answer
 * before any controller can. */
START_TEST(probes_keep_the_rules_of_every_route) {
  static const char *const PROBES[] = {"/healthz", "/readyz", "/metrics", "/openapi.json"};
  struct http_response r;
  char path[64];
  const char body[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
  bool closed = false;
  char *reply;

  for (size_t i = 0; i < sizeof(PROBES) / sizeof(PROBES[0]); i++) {
    snprintf(path, sizeof(path), "%s?a=%%ZZ", PROBES[i]);
    ck_assert(http_request(server.port, "GET", path, NULL, &r));
    ck_assert_msg(r.status == 400, "%s: %ld", path, r.status);
    http_response_cleanup(&r);
  }
  reply = exchange(body, sizeof(body) - 1, &closed);
  ck_assert_msg(strncmp(reply, "HTTP/1.1 413 ", 13) == 0, "%s", reply);
  free(reply);
}
END_TEST

/* ---- headers the service reads, with bytes it cannot accept -------------- */

static long raw_status(const char *bytes, size_t len, char **reply_out) {
  bool closed = false;
  char *reply = exchange(bytes, len, &closed);
  int status = 0;
  sscanf(reply, "HTTP/1.1 %d", &status);
  if (reply_out != NULL) {
    *reply_out = reply;
  } else {
    free(reply);
  }
  return status;
}

#define BODY                                                                                       \
  "{\"id\":\"p-edge-1\",\"userId\":\"e1\",\"status\":\"placed\",\"items\":[{\"id\":\"mug\","       \
  "\"title\":\"Mug\",\"brand\":\"Potter\",\"imgUrl\":\"https://img.shop.example/m.jpg\","          \
  "\"currency\":\"GBP\",\"pricePerUnitPence\":900,\"quantity\":1,\"priceTotalPence\":900}],"       \
  "\"pricePence\":900,\"currency\":\"GBP\",\"datePurchased\":\"2024-04-18T10:17:19.039Z\","        \
  "\"payment\":{\"method\":\"card\",\"lastDigits\":\"4242\",\"receiptUrl\":"                       \
  "\"https://shop.example/receipts/r1\"},\"delivery\":{\"method\":\"standard\","                   \
  "\"storeLocation\":null,\"dateDelivered\":null}}"

static long count_purchases(void) {
  struct http_response r;
  long n;
  ck_assert(http_get_as(server.port, "/user/e1", "customer-support", "agent-edge", &r));
  ck_assert_int_eq(r.status, 200);
  n = (long)json_array_size(json_object_get(r.j_body, "data"));
  http_response_cleanup(&r);
  return n;
}

/* RFC 9112 section 3.2.2: a server must accept a target in absolute-form
 * and read it as its path and query; a write sent so is read as one. */
START_TEST(a_target_in_absolute_form_is_its_path) {
  char request[2048];
  char *reply = NULL;
  const char page[] = "GET http://shop.example/user/e1?limit=1 HTTP/1.1\r\nHost: shop.example\r\n"
                      "x-client-id: customer-support\r\nx-user-id: agent-edge\r\n"
                      "Connection: close\r\n\r\n";
  const char probe[] = "GET HTTP://shop.example HTTP/1.1\r\nHost: shop.example\r\n"
                       "Connection: close\r\n\r\n";
  int len = snprintf(request, sizeof(request),
                     "POST https://shop.example/purchases HTTP/1.1\r\nHost: shop.example\r\n"
                     "x-client-id: checkout\r\nx-user-id: c1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(BODY) - 1, BODY);

  ck_assert_int_eq(raw_status(request, (size_t)len, &reply), 201);
  free(reply);
  ck_assert_int_eq(raw_status(page, sizeof(page) - 1, &reply), 200);
  ck_assert_msg(strstr(reply, "p-edge-1") != NULL, "%s", reply);
  free(reply);
  /* No path: "/", which is no route. */
  ck_assert_int_eq(raw_status(probe, sizeof(probe) - 1, &reply), 404);
  free(reply);
}
END_TEST

/* A list header sent on two lines, spelt in two cases, is one list (RFC
 * 9110 section 5.3): the ETag on the second line still matches, gzip on
 * the second line is still taken. A one-value header so sent is a 400. */
START_TEST(list_headers_on_two_lines_are_one_list) {
  struct http_response r;
  char etag[96];
  char request[512];
  char *reply = NULL;
  const char origin[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n"
                        "ORIGIN: https://b.example\r\nConnection: close\r\n\r\n";

  ck_assert(http_get_as(server.port, "/user/e1", "customer-support", "agent-edge", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
  http_response_cleanup(&r);
  snprintf(request, sizeof(request),
           "GET /user/e1 HTTP/1.1\r\nHost: x\r\nx-client-id: customer-support\r\n"
           "x-user-id: agent-edge\r\nIf-None-Match: \"l0\"\r\nIF-NONE-MATCH: %s\r\n"
           "Connection: close\r\n\r\n",
           etag);
  ck_assert_int_eq(raw_status(request, strlen(request), &reply), 304);
  free(reply);
  snprintf(request, sizeof(request),
           "GET /openapi.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br\r\n"
           "accept-encoding: gzip\r\nConnection: close\r\n\r\n");
  ck_assert_int_eq(raw_status(request, strlen(request), &reply), 200);
  ck_assert_msg(strstr(reply, "Content-Encoding: gzip") != NULL, "%.400s", reply);
  free(reply);
  ck_assert_int_eq(raw_status(origin, sizeof(origin) - 1, &reply), 400);
  ck_assert_msg(strstr(reply, "Header 'origin' may be sent only once") != NULL, "%.400s", reply);
  free(reply);
}
END_TEST

/* A head of `lines` header lines named `name` (each with `value_len`
 * bytes of value) after Host, on `path`; the caller frees it. */
static char *head_of_lines(const char *path, const char *name, int lines, size_t value_len) {
  size_t size = 256 + (size_t)lines * (strlen(name) + value_len + 4);
  char *head = malloc(size);
  size_t at;

  ck_assert_ptr_nonnull(head);
  at = (size_t)snprintf(head, size, "GET %s HTTP/1.1\r\nHost: x\r\n", path);
  for (int i = 0; i < lines; i++) {
    at += (size_t)snprintf(head + at, size - at, "%s: ", name);
    for (size_t k = 0; k < value_len; k++) {
      /* "c0, c0, ..." as long as asked: a list of codings nobody has. */
      head[at++] = "c0, "[k % 4];
      k % 4 == 3 ? ' ' : (k % 4 == 2 ? ',' : (k % 4 == 0 ? 'c' : (char)('0' + i % 10)));
    }
    at += (size_t)snprintf(head + at, size - at, "\r\n");
  }
  snprintf(head + at, size - at, "Connection: close\r\n\r\n");
  return head;
}

/* The header limits of docs/api.md count the lines the client sent: per
 * line (8 KiB of value), in all (16 KiB) and in number (64), not the value
 * that joins a list's lines. And a header that means one thing, sent on two
 * lines spelt alike, is a 400 like two spelt differently. */
START_TEST(header_limits_count_the_lines_sent) {
  static const struct {
    const char *what;
    const char *path;
    const char *name;
    int lines;
    size_t value_len;
    long status;
  } HEADS[] = {
      /* Forty lines of 248 bytes: each well within, 10 KiB in all. */
      {"forty Accept-Encoding lines", "/openapi.json", "Accept-Encoding", 40, 248, 200},
      {"62 lines besides Host and Connection", "/healthz", "x-note", 62, 8, 200},
      {"63 lines besides Host and Connection", "/healthz", "x-note", 63, 8, 431},
      {"seventy lines of one header", "/healthz", "x-note", 70, 8, 431},
      {"one line of 8192 bytes", "/healthz", "x-note", 1, 8192, 200},
      {"one line of 8193 bytes", "/healthz", "x-note", 1, 8193, 431},
      {"three lines of 6000 bytes", "/healthz", "x-note", 3, 6000, 431},
  };
  const char origins[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n"
                         "Origin: https://a.example\r\nConnection: close\r\n\r\n";
  char *reply = NULL;

  for (size_t i = 0; i < sizeof(HEADS) / sizeof(HEADS[0]); i++) {
    char *head = head_of_lines(HEADS[i].path, HEADS[i].name, HEADS[i].lines, HEADS[i].value_len);
    long status = raw_status(head, strlen(head), &reply);
    ck_assert_msg(status == HEADS[i].status, "%s: %ld, not %ld: %.300s", HEADS[i].what, status,
                  HEADS[i].status, reply);
    if (status == 431) {
      ck_assert_msg(strstr(reply, "application/problem+json") != NULL, "%.300s", reply);
    }
    free(reply);
    free(head);
  }
  ck_assert_int_eq(raw_status(origins, sizeof(origins) - 1, &reply), 400);
  ck_assert_msg(strstr(reply, "Header 'origin' may be sent only once") != NULL, "%.400s", reply);
  free(reply);
}
END_TEST

START_TEST(a_non_utf8_idempotency_key_is_refused_not_dropped) {
  char request[2048];
  char *reply = NULL;
  int len = snprintf(request, sizeof(request),
                     "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout\r\n"
                     "x-user-id: c1\r\nIdempotency-Key: k\xe9\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     sizeof(BODY) - 1, BODY);

  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(raw_status(request, (size_t)len, &reply), 400);
    ck_assert_msg(strstr(reply, "Idempotency-Key") != NULL, "%s", reply);
    free(reply);
  }
  ck_assert_int_eq(count_purchases(), 0);
}
END_TEST

/* A header the service reads whose value is not UTF-8, which Ulfius would
 * drop: refused naming it, never taken as absent (a change without its
 * If-Match, the identity headers in place of the token, an answer without
 * gzip or CORS). */
static const struct {
  const char *header;
  const char *request;
} NON_UTF8[] = {
    {"If-Match", "PATCH /user/e1/purchases/p-edge-1 HTTP/1.1\r\nHost: x\r\n"
                 "x-client-id: checkout\r\nx-user-id: c1\r\nIf-Match: \"v1\xe9\"\r\n"
                 "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                 "{\"status\":\"paid\"}"},
    {"Authorization", "GET /user/e1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\r\n"
                      "x-client-id: shop\r\nx-user-id: e1\r\nConnection: close\r\n\r\n"},
    {"x-user-id", "GET /user/e1 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
                  "x-user-id: e\xe9\r\nConnection: close\r\n\r\n"},
    {"Accept-Encoding", "GET /healthz HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gz\xe9ip\r\n"
                        "Connection: close\r\n\r\n"},
    {"Origin", "GET /healthz HTTP/1.1\r\nHost: x\r\nOrigin: https://sh\xe9p.example\r\n"
               "Connection: close\r\n\r\n"},
};

START_TEST(a_non_utf8_header_the_service_reads_is_refused_not_absent) {
  char *reply = NULL;
  ck_assert_int_eq(raw_status(NON_UTF8[_i].request, strlen(NON_UTF8[_i].request), &reply), 400);
  ck_assert_msg(strstr(reply, NON_UTF8[_i].header) != NULL, "%s: %s", NON_UTF8[_i].header, reply);
  free(reply);
}
END_TEST

/* RFC 9110 section 5.5: a field value excludes the white space around it,
 * trailing as well as leading. A value of white space alone is still a
 * header that was sent, empty: 401 as documented, never read as absent
 * on one path and present on another. */
START_TEST(white_space_after_a_header_value_is_not_part_of_it) {
  char *reply = NULL;
  const char trailing[] = "GET /user/123 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\t\r\n"
                          "x-user-id: 123 \t\r\nConnection: close\r\n\r\n";
  const char only_space[] = "GET /user/123 HTTP/1.1\r\nHost: x\r\nx-client-id: shop\r\n"
                            "x-user-id:  \t \r\nConnection: close\r\n\r\n";

  ck_assert_int_eq(raw_status(trailing, sizeof(trailing) - 1, &reply), 200);
  ck_assert_msg(strstr(reply, "\"data\"") != NULL, "%.400s", reply);
  free(reply);
  ck_assert_int_eq(raw_status(only_space, sizeof(only_space) - 1, &reply), 401);
  ck_assert_msg(strstr(reply, "x-user-id") != NULL, "%.400s", reply);
  free(reply);
  /* A body is let in by the edge's own reading of the same headers: an
   * ingest client with the same white space reaches the chain, whose 422
   * is about the body, not a 403 about who sent it. */
  const char upload[] = "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: checkout \t\r\n"
                        "x-user-id: c1\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
  ck_assert_int_eq(raw_status(upload, sizeof(upload) - 1, &reply), 422);
  free(reply);
}
END_TEST

/* ---- bodies before authentication ---------------------------------------- */

static long rss_kib(pid_t pid) {
  char path[64];
  char line[256];
  long kib = -1;
  FILE *file;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  file = fopen(path, "r");
  ck_assert_ptr_nonnull(file);
  while (fgets(line, sizeof(line), file) != NULL) {
    if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
      break;
    }
  }
  fclose(file);
  return kib;
}

#define UPLOADERS    1000
#define UPLOAD_CHUNK (64 * 1024)
#define LARGEST_BODY (1024 * 1024) /* REQUEST_BODY_MAX */

START_TEST(a_thousand_unauthenticated_uploads_cost_no_memory) {
  static int fds[UPLOADERS];
  static char chunk[UPLOAD_CHUNK];
  struct rlimit limit;
  char head[256];
  long before;
  long peak;
  int refused = 0;
  struct http_response r;
  int len = snprintf(head, sizeof(head),
                     "POST /purchases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\n\r\n",
                     LARGEST_BODY);

  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  memset(chunk, ' ', sizeof(chunk));
  before = rss_kib(server.pid);
  for (int i = 0; i < UPLOADERS; i++) {
    fds[i] = connect_to(server.port);
    ck_assert_int_eq(send(fds[i], head, (size_t)len, MSG_NOSIGNAL), len);
    /* As much of the body as the socket takes without waiting. */
    send(fds[i], chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  peak = rss_kib(server.pid);
  /* Others are still served meanwhile. */
  ck_assert(http_get_as(server.port, "/user/e1", "shop", "e1", &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);
  for (int i = 0; i < UPLOADERS; i++) {
    char reply[64] = "";
    if (recv(fds[i], reply, sizeof(reply) - 1, 0) > 0 && strncmp(reply, "HTTP/1.1 401", 12) == 0) {
      refused++;
    }
    close(fds[i]);
  }
  ck_assert_int_eq(refused, UPLOADERS);
  ck_assert_msg(peak - before <= 64 * 1024, "RSS grew by %ld KiB (from %ld KiB)", peak - before,
                before);
}
END_TEST

static void budget_setup(void) {
  static char log_env[256];
  const char *env[] = {"PURCHASES_LOG_TARGET=file", log_env, "PURCHASES_AUTH_FAILURES_RPS=1",
                       "PURCHASES_AUTH_FAILURES_BURST=3", NULL};
  snprintf(log_path, sizeof(log_path), "%s/purchases-edge-budget-%d.log", harness_tmp(),
           (int)getpid());
  unlink(log_path);
  snprintf(log_env, sizeof(log_env), "PURCHASES_LOG_FILE=%s", log_path);
  ck_assert(ferretdb_start(&db, "edge_budget"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

/* Refused uploads spend the address's budget of failed authentications
 * like the chain's refusals, and an address that spent it is a 429. */
START_TEST(refused_uploads_spend_the_failed_authentication_budget) {
  const char upload[] = "POST /purchases HTTP/1.1\r\nHost: x\r\nx-client-id: nobody\r\n"
                        "x-user-id: u\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}";
  int refused = 0;
  int limited = 0;
  for (int i = 0; i < 8; i++) {
    char *reply = NULL;
    long status = raw_status(upload, sizeof(upload) - 1, &reply);
    if (status == 403) {
      refused++;
    } else if (status == 429) {
      limited++;
      ck_assert_msg(strstr(reply, "Retry-After: ") != NULL, "%s", reply);
    } else {
      ck_abort_msg("upload %d: %ld %s", i, status, reply);
    }
    free(reply);
  }
  ck_assert_int_ge(refused, 3);
  ck_assert_int_ge(limited, 1);
}
END_TEST

/* ---- one escaped access line per request, in both formats ----------------- */

static int lines_with(const char *log, const char *what) {
  int n = 0;
  for (const char *line = log; line != NULL && *line != '\0';) {
    const char *end = strchr(line, '\n');
    size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
    char *copy = strndup(line, len);
    n += strstr(copy, what) != NULL;
    free(copy);
    line = end != NULL ? end + 1 : NULL;
  }
  return n;
}

static void send_malformed_methods(void) {
  const char escape[] = "G\x1b[2JET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const char latin1[] = "G\xe9T /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const char crlf[] = "GET\r /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_status(escape, sizeof(escape) - 1, NULL);
  raw_status(latin1, sizeof(latin1) - 1, NULL);
  raw_status(crlf, sizeof(crlf) - 1, NULL);
}

START_TEST(malformed_methods_get_one_escaped_line_each_in_text) {
  char *log = NULL;
  send_malformed_methods();
  ck_assert_int_eq(server_stop(&server, 15), 0);
  log = read_log();
  /* No raw escape or Latin-1 byte reaches the log. */
  ck_assert_ptr_null(strchr(log, '\x1b'));
  ck_assert_ptr_null(strchr(log, '\xe9'));
  ck_assert_int_eq(lines_with(log, "method=G\\x1b[2JET "), 1);
  ck_assert_int_eq(lines_with(log, "method=G\\xe9T "), 1);
  free(log);
}
END_TEST

static void json_setup(void) {
  static char log_env[256];
  const char *env[] = {"PURCHASES_LOG_FORMAT=json", "PURCHASES_LOG_TARGET=file", log_env, NULL};
  snprintf(log_path, sizeof(log_path), "%s/purchases-edge-json-%d.log", harness_tmp(),
           (int)getpid());
  unlink(log_path);
  snprintf(log_env, sizeof(log_env), "PURCHASES_LOG_FILE=%s", log_path);
  ck_assert(ferretdb_start(&db, "edge_json"));
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

START_TEST(malformed_methods_get_one_escaped_line_each_in_json) {
  FILE *file;
  char line[4096];
  int escape = 0;
  int latin1 = 0;

  send_malformed_methods();
  ck_assert_int_eq(server_stop(&server, 15), 0);
  file = fopen(log_path, "r");
  ck_assert_ptr_nonnull(file);
  while (fgets(line, sizeof(line), file) != NULL) {
    json_error_t error;
    json_t *j_line = json_loads(line, 0, &error);
    const char *method;
    ck_assert_msg(j_line != NULL, "not JSON: %s (%s)", line, error.text);
    method = json_string_value(json_object_get(j_line, "method"));
    escape += method != NULL && strcmp(method, "G\\x1b[2JET") == 0;
    latin1 += method != NULL && strcmp(method, "G\\xe9T") == 0;
    json_decref(j_line);
  }
  fclose(file);
  ck_assert_int_eq(escape, 1);
  ck_assert_int_eq(latin1, 1);
}
END_TEST

Suite *suite_edge(void) {
  Suite *suite = suite_create("edge");
  TCase *framing = tcase_create("framing");
  TCase *headers = tcase_create("headers");
  TCase *uploads = tcase_create("uploads");
  TCase *budget = tcase_create("upload_budget");
  TCase *text_log = tcase_create("text_log");
  TCase *json_log = tcase_create("json_log");

  tcase_add_checked_fixture(framing, edge_setup, edge_teardown);
  tcase_add_loop_test(framing, ambiguous_framing_is_answered_and_the_connection_closed, 0,
                      (int)(sizeof(CASES) / sizeof(CASES[0])));
  tcase_add_test(framing, a_well_framed_pipeline_is_still_served);
  tcase_add_test(framing, probes_keep_the_rules_of_every_route);
  tcase_add_checked_fixture(headers, edge_setup, edge_teardown);
  tcase_add_test(headers, a_non_utf8_idempotency_key_is_refused_not_dropped);
  tcase_add_test(headers, a_target_in_absolute_form_is_its_path);
  tcase_add_test(headers, list_headers_on_two_lines_are_one_list);
  tcase_add_test(headers, header_limits_count_the_lines_sent);
  tcase_add_test(headers, white_space_after_a_header_value_is_not_part_of_it);
  tcase_add_loop_test(headers, a_non_utf8_header_the_service_reads_is_refused_not_absent, 0,
                      (int)(sizeof(NON_UTF8) / sizeof(NON_UTF8[0])));
  tcase_add_checked_fixture(uploads, edge_setup, edge_teardown);
  tcase_add_test(uploads, a_thousand_unauthenticated_uploads_cost_no_memory);
  tcase_add_checked_fixture(budget, budget_setup, edge_teardown);
  tcase_add_test(budget, refused_uploads_spend_the_failed_authentication_budget);
  tcase_add_checked_fixture(text_log, edge_setup, edge_teardown);
  tcase_add_test(text_log, malformed_methods_get_one_escaped_line_each_in_text);
  tcase_add_checked_fixture(json_log, json_setup, edge_teardown);
  tcase_add_test(json_log, malformed_methods_get_one_escaped_line_each_in_json);
  tcase_set_timeout(framing, 60);
  tcase_set_timeout(uploads, 120);
  suite_add_tcase(suite, framing);
  suite_add_tcase(suite, headers);
  suite_add_tcase(suite, uploads);
  suite_add_tcase(suite, budget);
  suite_add_tcase(suite, text_log);
  suite_add_tcase(suite, json_log);
  return suite;
}
