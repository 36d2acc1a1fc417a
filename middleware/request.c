#include "middleware/request.h"

#include "lib/ids.h"
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <yder.h>

#include "lib/http_syntax.h"
#include "lib/words.h"
#include "middleware/metrics.h"
#include "middleware/cors.h"
#include "middleware/encoding.h"
#include "middleware/problem.h"
#include "middleware/query.h"

struct request_ctx *request_ctx_of(const struct _u_response *response) {
  return response != NULL ? (struct request_ctx *)response->shared_data : NULL;
}

bool request_id_is_valid(const char *id) {
  return id_is_valid(id, ID_DOTTED);
}

void request_id_generate(char out[REQUEST_ID_MAX + 1]) {
  unsigned char bytes[16];
  gnutls_datum_t datum = {bytes, sizeof(bytes)};
  size_t out_len = REQUEST_ID_MAX + 1;

  if (gnutls_rnd(GNUTLS_RND_NONCE, bytes, sizeof(bytes)) != 0 ||
      gnutls_hex_encode(&datum, out, &out_len) != 0) {
    /* Only without a random source; a clock-based id is still unique
     * enough for logs. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(out, REQUEST_ID_MAX + 1, "t%lx%09lx", (unsigned long)now.tv_sec,
             (unsigned long)now.tv_nsec);
  }
}

/* The pass of the request being dispatched on this thread (request_pass_begin). */
static _Thread_local struct {
  enum request_pass pass;
  bool timed; /* started holds the arrival of the head */
  struct timespec started;
  bool deferred;
} current_pass;

void request_pass_begin(enum request_pass pass, const struct timespec *started) {
  current_pass.pass = pass;
  current_pass.timed = started != NULL;
  if (started != NULL) {
    current_pass.started = *started;
  }
  current_pass.deferred = false;
}

bool request_pass_deferred(void) {
  return current_pass.deferred;
}

bool request_may_defer(void) {
  return current_pass.pass == REQUEST_PASS_WORKER;
}

bool request_defer(struct _u_response *response) {
  struct request_ctx *ctx = request_ctx_of(response);

  if (!request_may_defer() || ctx == NULL || ctx->answered) {
    return false;
  }
  ctx->answered = true;
  current_pass.deferred = true;
  return true;
}

static void request_ctx_free(void *data) {
  struct request_ctx *ctx = data;
  if (ctx == NULL) {
    return;
  }
  atomic_fetch_sub(&ctx->tracker->in_flight, 1);
  free(ctx);
}

/* How many keys of the header map spell `name`, in any case: copies spelt
 * alike arrive as one (joined), copies in another case apart. */
static size_t header_copies(const struct _u_map *headers, const char *name) {
  const char **keys = u_map_enum_keys(headers);
  size_t copies = 0;

  for (size_t k = 0; keys != NULL && keys[k] != NULL; k++) {
    copies += strcasecmp(keys[k], name) == 0;
  }
  return copies;
}

/* Creates the context and hands it to Ulfius; false when out of memory. */
static bool request_ctx_attach(const struct _u_request *request, struct _u_response *response,
                               const struct route_scope *scope) {
  struct request_ctx *ctx = calloc(1, sizeof(*ctx));
  const char *incoming;

  /* Every reader of a header value, from here to the controller, reads
   * it without the white space that ends it. */
  if (ctx == NULL || !request_headers_trim(request->map_header)) {
    free(ctx);
    return false;
  }
  if (current_pass.timed) {
    ctx->started = current_pass.started;
  } else {
    clock_gettime(CLOCK_MONOTONIC, &ctx->started);
  }
  ctx->tracker = scope->tracker;
  ctx->cors = scope->cors;
  ctx->route = scope->route;
  /* A second copy (which check_limits() refuses) makes neither one the
   * caller's id: the answer gets a fresh one. */
  incoming = u_map_get_case(request->map_header, "X-Request-Id");
  if (header_copies(request->map_header, "X-Request-Id") == 1 && request_id_is_valid(incoming)) {
    memcpy(ctx->request_id, incoming, strlen(incoming) + 1);
  } else {
    request_id_generate(ctx->request_id);
  }
  atomic_fetch_add(&ctx->tracker->in_flight, 1);
  if (ulfius_set_response_shared_data(response, ctx, request_ctx_free) != U_OK) {
    request_ctx_free(ctx);
    return false;
  }
  return true;
}

void request_answer_json(struct _u_response *response, unsigned int status, const json_t *j_body) {
  struct request_ctx *ctx = request_ctx_of(response);
  char *body = json_dumps(j_body, JSON_COMPACT);

  if (body == NULL) {
    y_log_message(Y_LOG_LEVEL_ERROR, "request: cannot serialise a response body");
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    return;
  }
  ulfius_set_string_body_response(response, status, body);
  u_map_put(response->map_header, "Content-Type", "application/json");
  if (ctx != NULL) {
    ctx->answered = true;
  }
  free(body);
}

static bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool url_encoding_is_valid(const char *url) {
  if (url == NULL) {
    return false;
  }
  for (const char *p = url; *p != '\0'; p++) {
    if (*p == '%') {
      if (!is_hex_digit(p[1]) || !is_hex_digit(p[2]) || (p[1] == '0' && p[2] == '0')) {
        return false;
      }
      p += 2;
    }
  }
  return true;
}

bool request_headers_trim(struct _u_map *headers) {
  size_t k = 0;
  bool ok = true;

  /* u_map_put() would keep the longer length of the value it replaces: a
   * trimmed value is removed and put again, at the end of the keys, where
   * this loop sees it once more, trimmed. */
  while (ok) {
    const char **keys = u_map_enum_keys(headers);
    const char **values = u_map_enum_values(headers);
    const char *value = NULL;
    char *key = NULL;
    char *trimmed = NULL;
    size_t len;
    size_t kept;

    if (keys == NULL || values == NULL || keys[k] == NULL) {
      break;
    }
    value = values[k]; /* beside its key: no lookup by name on every request */
    len = value != NULL ? strlen(value) : 0;
    kept = http_ows_trimmed_len(value, len);
    if (kept == len) {
      k++;
      continue;
    }
    key = o_strdup(keys[k]);
    trimmed = o_strndup(value, kept);
    ok = key != NULL && trimmed != NULL && u_map_remove_from_key(headers, key) == U_OK &&
         u_map_put(headers, key, trimmed) == U_OK;
    o_free(key);
    o_free(trimmed);
  }
  return ok;
}

/* Headers whose copies make one list (RFC 9110 section 5.3). Ulfius joins
 * copies spelt alike; copies in another case arrive as keys of their own,
 * and a look-up would see only the first. */
static const char *const LIST_HEADERS[] = {"if-none-match", "accept-encoding"};
#define LIST_HEADER_COUNT (sizeof(LIST_HEADERS) / sizeof(LIST_HEADERS[0]))

/* Joins the copies of each list header into its first key, so that every
 * reader sees the whole list (in the order of each spelling's first line:
 * Ulfius has joined the lines spelt alike already, which for these lists
 * changes nothing). False when out of memory. A header sent once, as
 * nearly every one is, costs a look at the keys and no allocation. */
static bool join_list_headers(struct _u_map *headers) {
  for (size_t l = 0; l < LIST_HEADER_COUNT; l++) {
    const char **keys = u_map_enum_keys(headers);
    char *first = NULL;
    char *joined = NULL;
    char *others[HTTP_HEADER_LINES_MAX];
    size_t other_count = 0;
    bool ok = true;

    if (header_copies(headers, LIST_HEADERS[l]) < 2) {
      continue;
    }
    for (size_t k = 0; keys != NULL && keys[k] != NULL && ok; k++) {
      if (strcasecmp(keys[k], LIST_HEADERS[l]) != 0) {
        continue;
      }
      const char *value = u_map_get(headers, keys[k]);
      if (first == NULL) {
        first = o_strdup(keys[k]);
        joined = o_strdup(value != NULL ? value : "");
        ok = first != NULL && joined != NULL;
      } else if (other_count < HTTP_HEADER_LINES_MAX) {
        char *longer = msprintf("%s, %s", joined, value != NULL ? value : "");
        o_free(joined);
        joined = longer;
        others[other_count] = o_strdup(keys[k]);
        ok = others[other_count++] != NULL && joined != NULL;
      }
    }
    if (ok && other_count > 0) {
      ok = u_map_put(headers, first, joined) == U_OK;
      for (size_t i = 0; i < other_count && ok; i++) {
        ok = u_map_remove_from_key(headers, others[i]) == U_OK;
      }
    }
    for (size_t i = 0; i < other_count; i++) {
      o_free(others[i]);
    }
    o_free(first);
    o_free(joined);
    if (!ok) {
      return false;
    }
  }
  return true;
}

/* The limits every request to a known route must keep, each with its own
 * status. MHD enforces the 32 KiB buffer for the request line and headers
 * itself (414/431 without a problem body), and the edge the limits on the
 * header lines as they were sent, their bytes and the headers sent twice
 * (middleware/framing.h); these are the URL's and the body's. */
static void check_limits(const struct _u_request *request, struct _u_response *response) {
  if (strlen(request->http_url) > REQUEST_URL_MAX) {
    problem_send(response, PROBLEM_URI_TOO_LONG, "The URL is longer than %d bytes.",
                 REQUEST_URL_MAX);
    return;
  }
  const char *length = u_map_get_case(request->map_header, "Content-Length");
  if (strcmp(request->http_verb, "POST") == 0 || strcmp(request->http_verb, "PATCH") == 0) {
    /* Ulfius keeps at most REQUEST_BODY_MAX + 1 bytes of a body and drops
     * the rest silently, so anything longer is refused here, not cut. */
    if ((length != NULL && strtoull(length, NULL, 10) > REQUEST_BODY_MAX) ||
        request->binary_body_length > REQUEST_BODY_MAX) {
      problem_send(response, PROBLEM_BODY_TOO_LARGE, "The request body may hold at most %d bytes.",
                   REQUEST_BODY_MAX);
    }
    return;
  }
  /* The other methods take no body; one is refused, not ignored, so a
   * request smuggled inside it cannot be mistaken for the next request.
   * The length is digits (the edge refused anything else): "00" is 0. */
  if (u_map_get_case(request->map_header, "Transfer-Encoding") != NULL ||
      (length != NULL && strtoull(length, NULL, 10) != 0) || request->binary_body_length > 0) {
    problem_send(response, PROBLEM_BODY_NOT_ALLOWED, "This route takes no request body.");
  }
}

void request_answer_json_text(struct _u_response *response, unsigned int status,
                              const char *json_text) {
  struct request_ctx *ctx = request_ctx_of(response);
  ulfius_set_string_body_response(response, status, json_text);
  u_map_put(response->map_header, "Content-Type", "application/json");
  if (ctx != NULL) {
    ctx->answered = true;
  }
}

void request_answer_json_bytes(struct _u_response *response, unsigned int status, const void *body,
                               size_t len, bool gzip) {
  struct request_ctx *ctx = request_ctx_of(response);
  ulfius_set_binary_body_response(response, status, body, len);
  u_map_put(response->map_header, "Content-Type", "application/json");
  if (gzip) {
    u_map_put(response->map_header, "Content-Encoding", "gzip");
  }
  if (ctx != NULL) {
    ctx->answered = true;
  }
}

void request_vary_add(struct _u_response *response, const char *token) {
  const char *vary = u_map_get_case(response->map_header, "Vary");
  char joined[256];

  if (vary == NULL || vary[0] == '\0') {
    u_map_put(response->map_header, "Vary", token);
    return;
  }
  if (strcasestr(vary, token) != NULL) {
    return;
  }
  snprintf(joined, sizeof(joined), "%s, %s", vary, token);
  u_map_put(response->map_header, "Vary", joined);
}

void request_answer_empty(struct _u_response *response, unsigned int status) {
  struct request_ctx *ctx = request_ctx_of(response);
  ulfius_set_empty_body_response(response, status);
  if (ctx != NULL) {
    ctx->answered = true;
  }
}

bool request_begin(const struct _u_request *request, struct _u_response *response,
                   const struct route_scope *scope) {
  if (!request_ctx_attach(request, response, scope)) {
    y_log_message(Y_LOG_LEVEL_ERROR, "request: out of memory starting a request");
    return false;
  }
  /* Ulfius decodes "%ZZ" into some byte rather than refusing it, and "%00"
   * into a NUL that silently cuts the value short; a URL is decoded once and
   * exactly, so either is the caller's error. */
  if (!url_encoding_is_valid(request->http_url)) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The URL has a malformed percent-encoding: '%%' must be followed by two "
                 "hexadecimal digits, and may not encode a NUL byte.");
    return true;
  }
  check_limits(request, response);
  if (!request_ctx_of(response)->answered && !join_list_headers(request->map_header)) {
    problem_send(response, PROBLEM_INTERNAL, "The request could not be read.");
  }
  if (!request_ctx_of(response)->answered) {
    enum accept_gzip gzip =
        accept_encoding_gzip(u_map_get_case(request->map_header, "Accept-Encoding"));
    if (gzip == ACCEPT_GZIP_MALFORMED) {
      problem_send_invalid(
          response, PROBLEM_ABOUT_HEADER, "Accept-Encoding",
          "The Accept-Encoding header must be a comma-separated list of codings, each "
          "with an optional ;q= weight from 0 to 1 (RFC 9110), such as 'gzip, "
          "br;q=0.5'.");
    }
    request_ctx_of(response)->gzip_ok = gzip == ACCEPT_GZIP_YES;
  }
  return true;
}

static double elapsed_ms(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

/* The trace id of a W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>",
 * lower case, ids not all zero) copied into out, or NULL when the header is
 * absent or malformed. */
const char *trace_id_of(const char *traceparent, char out[33]) {
  static const char HEX[] = "0123456789abcdef";
  bool trace_zero = true;
  bool parent_zero = true;

  if (traceparent == NULL || strlen(traceparent) != 55 || strncmp(traceparent, "00-", 3) != 0 ||
      traceparent[35] != '-' || traceparent[52] != '-') {
    return NULL;
  }
  for (size_t i = 3; i < 55; i++) {
    if (i == 35 || i == 52) {
      continue;
    }
    if (traceparent[i] == '\0' || strchr(HEX, traceparent[i]) == NULL) {
      return NULL;
    }
    if (i < 35 && traceparent[i] != '0') {
      trace_zero = false;
    }
    if (i > 35 && i < 52 && traceparent[i] != '0') {
      parent_zero = false;
    }
  }
  if (trace_zero || parent_zero) {
    return NULL;
  }
  memcpy(out, traceparent + 3, 32);
  out[32] = '\0';
  return out;
}

/* Set once at start by request_log_as_json(), read by every request. */
static atomic_bool access_json;

void request_log_as_json(bool json) {
  atomic_store(&access_json, json);
}

void request_log_access(const struct access_entry *entry) {
  char method[48];
  char path[256];

  words_escape(entry->method != NULL ? entry->method : "-", method, sizeof(method));
  words_escape(entry->path != NULL ? entry->path : "-", path, sizeof(path));
  if (atomic_load(&access_json)) {
    char message[96];
    /* Every line has a message; durations to the microsecond. */
    snprintf(message, sizeof(message), "%s %s %ld", method, entry->route, entry->status);
    json_t *j_line =
        json_pack("{ss ss ss ss ss sI sf ss}", "message", message, "requestId", entry->request_id,
                  "method", method, "route", entry->route, "path", path, "status",
                  (json_int_t)entry->status, "durationMs", round(entry->duration_ms * 1000) / 1000,
                  "client", entry->client != NULL ? entry->client : "-");
    char *text = NULL;

    if (j_line != NULL && entry->trace_id != NULL) {
      json_object_set_new(j_line, "trace_id", json_string(entry->trace_id));
      json_object_set_new(j_line, "span_id", json_string(entry->span_id));
    }
    text = j_line != NULL ? json_dumps(j_line, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    if (text != NULL) {
      y_log_message(Y_LOG_LEVEL_INFO, "%s", text);
    } else {
      y_log_message(Y_LOG_LEVEL_ERROR, "request_id=%s access line could not be encoded",
                    entry->request_id);
    }
    free(text);
    json_decref(j_line);
    return;
  }
  y_log_message(Y_LOG_LEVEL_INFO,
                "request_id=%s method=%s route=%s path=\"%s\" status=%ld duration_ms=%.3f "
                "client=%s%s%s%s%s",
                entry->request_id, method, entry->route, path, entry->status, entry->duration_ms,
                entry->client != NULL ? entry->client : "-",
                entry->trace_id != NULL ? " trace_id=" : "",
                entry->trace_id != NULL ? entry->trace_id : "",
                entry->trace_id != NULL && entry->span_id != NULL ? " span_id=" : "",
                entry->trace_id != NULL && entry->span_id != NULL ? entry->span_id : "");
}

/* Headers every response carries, then the access log line. */
void request_finish(const struct _u_request *request, struct _u_response *response) {
  struct request_ctx *ctx = request_ctx_of(response);
  if (ctx == NULL) {
    return;
  }
  {

    char trace[33];
    char span[17];
    struct access_entry entry = {
        .request_id = ctx->request_id,
        .method = request->http_verb != NULL ? request->http_verb : "-",
        .route = ctx->route,
        .path = request->url_path,
        .status = response->status,
        .client = ctx->client != NULL ? ctx->client->id : NULL,
    };

    u_map_put(response->map_header, "X-Request-Id", ctx->request_id);
    /* Purchases are personal data: no shared cache may keep them. The
     * shop app may keep a purchase or a page it was given and ask again
     * with If-None-Match; every other answer is kept by no one. */
    bool kept = response->status == 200 || response->status == 304;
    if (ctx->revalidate && kept) {
      u_map_put(response->map_header, "Cache-Control", "private, no-cache");
      u_map_put(response->map_header, "Vary", REQUEST_VARY);
    } else if (ctx->public_max_age_s > 0 && kept) {
      char value[48];
      snprintf(value, sizeof(value), "public, max-age=%u", ctx->public_max_age_s);
      u_map_put(response->map_header, "Cache-Control", value);
    } else {
      u_map_put(response->map_header, "Cache-Control", "no-store");
    }
    encoding_apply(response, ctx->gzip_ok);
    cors_apply(ctx->cors, request, response);
    if (atomic_load(&ctx->tracker->draining)) {
      u_map_put(response->map_header, "Connection", "close");
    }
    entry.duration_ms = elapsed_ms(&ctx->started);
    metrics_observe_request(ctx->route, entry.method, response->status, entry.duration_ms / 1000);
    entry.trace_id = trace_id_of(u_map_get_case(request->map_header, "traceparent"), trace);
    if (entry.trace_id != NULL) {
      /* This request's own span in the caller's trace. */
      unsigned char bytes[8] = {0};
      gnutls_datum_t datum = {bytes, sizeof(bytes)};
      size_t span_len = sizeof(span);
      if (gnutls_rnd(GNUTLS_RND_NONCE, bytes, sizeof(bytes)) != 0 ||
          gnutls_hex_encode(&datum, span, &span_len) != 0) {
        snprintf(span, sizeof(span), "%s", "0000000000000001");
      }
      entry.span_id = span;
    }
    request_log_access(&entry);
  }
}

int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data) {
  const struct route_scope *scope = user_data;
  struct request_ctx *ctx;

  if (!request_begin(request, response, scope)) {
    return U_CALLBACK_ERROR;
  }
  ctx = request_ctx_of(response);
  if (!ctx->answered) {
    problem_send(response, PROBLEM_METHOD_NOT_ALLOWED, "%s is not allowed on %s; use %s.",
                 request->http_verb, scope->route, scope->allow);
    u_map_put(response->map_header, "Allow", scope->allow);
  }
  request_finish(request, response);
  return U_CALLBACK_COMPLETE;
}

int callback_not_found(const struct _u_request *request, struct _u_response *response,
                       void *user_data) {
  if (!request_ctx_attach(request, response, user_data)) {
    return U_CALLBACK_ERROR;
  }
  problem_send(response, PROBLEM_NOT_FOUND, "No resource lives at this path.");
  request_finish(request, response);
  return U_CALLBACK_COMPLETE;
}

/* The one check of the routes that take no query string (request.h). */
bool request_takes_no_query(const struct _u_request *request, struct _u_response *response) {
  struct query_params params;
  struct query_error error;

  if (!query_params_parse(query_string_of(request->http_url), &params, &error)) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, error.name, "%s", error.detail);
    return false;
  }
  if (params.count > 0) {
    problem_send_invalid(response, PROBLEM_ABOUT_QUERY, params.params[0].name,
                         "Unknown query parameter '%s': this route takes none.",
                         params.params[0].name);
    return false;
  }
  return true;
}
