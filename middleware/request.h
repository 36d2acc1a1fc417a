#ifndef PURCHASES_MIDDLEWARE_REQUEST_H
#define PURCHASES_MIDDLEWARE_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/ids.h"
#include <time.h>

#include <jansson.h>
#include <ulfius.h>

#include "middleware/client_id.h"

#define REQUEST_ID_MAX    ID_MAX
#define USER_ID_MAX       ID_MAX
#define ACCESS_REASON_MAX 200

/* Hard limits on what a request may carry (see check_limits; the header
 * lines' own are in middleware/framing.h). */
#define REQUEST_URL_MAX  4096          /* 414 */
#define REQUEST_BODY_MAX (1024 * 1024) /* 413; POST and PATCH only */

/* Requests in flight and whether the server is draining; owned by the app. */
struct request_tracker {
  atomic_uint in_flight;
  atomic_bool draining;
};

/* One URL pattern the server answers, with every method it answers there.
 * The first and last links of each chain get it as user_data. */
struct cors_table;

struct route_scope {
  const char *route; /* the pattern, e.g. "/user/:userId"; static */
  char allow[64];    /* "GET, HEAD" or "GET, HEAD, PATCH": the Allow header of a 405 */
  struct request_tracker *tracker;
  const struct cors_table *cors; /* the origins browsers may call from; NULL for none */
};

/* What the rate-limit link did with the request's token. */
enum rate_charge {
  RATE_NOT_CHARGED, /* no limiting, or not yet */
  RATE_CHARGED,     /* a token was taken */
  RATE_DEFERRED,    /* a conditional read with an empty bucket: decided by the controller */
  RATE_REFUSED,     /* answered 429, by the link or by rate_limit_settle(): nothing was read,
                     * so nothing is audited */
};

/* The Vary of every answer a caller may keep: what decides who is asking. */
#define REQUEST_VARY "Authorization, X-Client-Id, X-User-Id, Accept-Encoding"

/* What the links of one request's chain share (Ulfius shared data). Created
 * by the first link, freed by Ulfius after the response is queued. */
struct request_ctx {
  struct request_tracker *tracker;
  const struct cors_table *cors;
  const char *route;
  char request_id[REQUEST_ID_MAX + 1];
  struct timespec started;
  bool answered;                             /* a response has been written */
  const struct client *client;               /* set by the authentication link */
  bool authenticated_by_token;               /* a bearer token, not headers */
  char user_id[USER_ID_MAX + 1];             /* who asks: x-user-id or sub */
  char target_user_id[USER_ID_MAX + 1];      /* whose data: the :userId in the path */
  char access_reason[ACCESS_REASON_MAX + 1]; /* x-access-reason, "" when absent */
  bool revalidate;                           /* a 200 or 304 the caller may keep (below) */
  bool gzip_ok;                              /* Accept-Encoding allows gzip */
  uint32_t public_max_age_s;                 /* > 0: a 200 or 304 any cache may keep this long */
  enum rate_charge rate_charge;              /* set by the rate-limit link */
  uint32_t rate_retry_after_s;               /* RATE_DEFERRED: if refused after all */
};

/* The request's context, or NULL if the first link did not run. */
struct request_ctx *request_ctx_of(const struct _u_response *response);

/* True for 1 to REQUEST_ID_MAX characters of A-Z a-z 0-9 . _ - : the
 * incoming X-Request-Id values the service echoes rather than replaces. */
bool request_id_is_valid(const char *id);

/* True when every '%' in `url` starts an escape of two hexadecimal digits
 * and no escape encodes a NUL byte (which would cut a decoded value short). */
bool url_encoding_is_valid(const char *url);

/* Drops the white space (SP, HTAB) that ends each header value, in place:
 * RFC 9110 section 5.5 leaves it out of the value, and libmicrohttpd drops
 * only the white space before it. A value of white space alone becomes
 * empty, never absent; a trimmed header moves to the end of the keys.
 * False when out of memory (a header may then be lost: the request is to
 * be refused). The map keeps ownership of every value. */
bool request_headers_trim(struct _u_map *headers);

/* The trace id of a W3C traceparent header, copied into out, or NULL when
 * the value is absent or not a well-formed version-00 traceparent. (The
 * access line names it trace_id, with a span_id of the request's own, as
 * OpenTelemetry's log data model does.) */
const char *trace_id_of(const char *traceparent, char out[33]);

/* One access line: what every request, however malformed, leaves in the
 * log exactly once. Borrowed strings; method and path are the caller's
 * bytes and are escaped here (\xHH for anything but printable ASCII), in
 * both log formats. client and trace_id may be NULL. */
struct access_entry {
  const char *request_id;
  const char *method;
  const char *route;
  const char *path;
  long status;
  double duration_ms;
  const char *client;
  const char *trace_id;
  const char *span_id; /* 16 hex digits; NULL when trace_id is */
};

/* Writes the access line at INFO, as text or JSON (app/logging.h). */
void request_log_access(const struct access_entry *entry);

/* Whether access lines are JSON members (PURCHASES_LOG_FORMAT=json) or
 * key=value text, the default; set once at start, before any request. */
void request_log_as_json(bool json);

/* Writes a new random request id (32 hex digits) into out. */
void request_id_generate(char out[REQUEST_ID_MAX + 1]);

/* Writes `j_body` (borrowed) as the response with `status` and marks the
 * request answered. On failure to serialise, answers 500 instead. */
void request_answer_json(struct _u_response *response, unsigned int status, const json_t *j_body);

/* True when the request has no query string, for the routes that take
 * none; else answers 400 naming the first parameter (or the query
 * string's fault). */
bool request_takes_no_query(const struct _u_request *request, struct _u_response *response);

/* Appends `token` to the response's Vary unless it is there already. */
void request_vary_add(struct _u_response *response, const char *token);

/* Answers `status` (304) with no body and marks the request answered. */
void request_answer_empty(struct _u_response *response, unsigned int status);

/* The same with `len` bytes of JSON, or of its gzip when `gzip` (then
 * with Content-Encoding: gzip). */
void request_answer_json_bytes(struct _u_response *response, unsigned int status, const void *body,
                               size_t len, bool gzip);

/* The same with a body already serialised (valid JSON text). */
void request_answer_json_text(struct _u_response *response, unsigned int status,
                              const char *json_text);

/* The start of every request, run by the route dispatcher before any link:
 * creates the request context (request id, timer, in-flight count) and
 * answers 400/413/414/431 for a URL or headers over the limits. Returns
 * false only when out of memory (then nothing is answered). */
bool request_begin(const struct _u_request *request, struct _u_response *response,
                   const struct route_scope *scope);

/* Where the chain of the request now being dispatched runs: set by the
 * edge (app/edge.c) before each call into Ulfius, for the calling thread.
 * An epoll worker serves many connections, so a request that would wait on
 * the database there is handed off instead: the link that would wait calls
 * request_defer(), the chain stops without writing, counting or logging
 * anything, and the edge suspends the connection and runs the whole chain
 * again on a hand-off thread, where waiting is fine. See docs/caching.md. */
enum request_pass {
  REQUEST_PASS_INLINE, /* may wait: a thread per connection, or a hand-off thread */
  REQUEST_PASS_WORKER, /* an epoll worker with hand-off threads behind it */
};

/* Starts a pass on this thread; `started` (NULL: now) is when the
 * request's head arrived, so that a request run twice is timed from its
 * arrival. */
void request_pass_begin(enum request_pass pass, const struct timespec *started);

/* Whether a link of this thread's pass deferred the request. */
bool request_pass_deferred(void);

/* Whether request_defer() would defer the request on this pass. */
bool request_may_defer(void);

/* For a link about to wait on the database. On a worker's pass: marks the
 * request deferred (and answered, so that no later link runs) and returns
 * true; the caller returns at once, after giving back what it took (a
 * rate-limit token: the second pass takes it again). False anywhere else:
 * the caller goes on and waits. */
bool request_defer(struct _u_response *response);

/* The end of every request, however it was answered: X-Request-Id,
 * Cache-Control (private, no-cache and Vary for a 200 or 304 the
 * controller marked ctx->revalidate; public, max-age for one it gave a
 * public_max_age_s, the service's own files; no-store for everything else),
 * Connection: close while draining, metrics, the access line. */
void request_finish(const struct _u_request *request, struct _u_response *response);

/* The endpoint of every pattern for the methods no route takes: a 405 with
 * Allow (after the checks of request_begin). user_data is the struct
 * route_scope. */
int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data);

/* Ulfius's default endpoint: a 404 problem for any path the service does not
 * know, logged like every other request. user_data is the struct
 * route_scope for unknown paths. */
int callback_not_found(const struct _u_request *request, struct _u_response *response,
                       void *user_data);

#endif
