#include "app/edge.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ulfius.h>
#include <yder.h>

#include "app/connections.h"
#include "lib/http_syntax.h"
#include "middleware/authn.h"
#include "middleware/framing.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "models/db.h"

/* Header lines collected per request: one more than a head may hold, so
 * that the check of the lines sees a head with too many (431). */
#define EDGE_HEADERS_MAX (HTTP_HEADER_LINES_MAX + 1)

/* The edge's configuration and Ulfius's request dispatcher behind it. MHD
 * calls C functions with a cls of Ulfius's choosing, so these live here,
 * written once before the daemon starts and only read afterwards. */
static struct edge_config edge;
static MHD_AccessHandlerCallback ulfius_dispatcher;
static void *ulfius_dispatcher_cls;

/* One request as the edge sees it; MHD's per-request pointer holds this,
 * and this holds Ulfius's. */
struct edge_request {
  void *ulfius;
  bool checked;    /* the head has been looked at */
  bool refused;    /* the edge answered; Ulfius never sees the request */
  const char *uri; /* the request target as sent, inside MHD's buffer */
  size_t uri_len;
  uint32_t retry_after_s; /* for a 429 */
  struct timespec started;
  /* A request handed off (see hand_off()): what the hand-off thread needs
   * to call Ulfius again, inside MHD's buffers, and the answer it left. */
  bool handed_back;            /* the hand-off thread is done; answer is this pass's */
  bool expired;                /* its wait in the queue ran out; its worker runs it */
  struct edge_request *queued; /* the next in the hand-off queue */
  struct timespec queued_at;
  struct MHD_Connection *connection;
  const char *url;
  const char *method;
  const char *version;
  struct MHD_Response *answer; /* NULL: Ulfius queued nothing (out of memory) */
  unsigned int answer_status;
};

/* The hand-off threads: on epoll workers, a request that would wait on the
 * database is suspended and run again here (middleware/request.h). */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  pthread_cond_t watch;      /* the watcher's: the queue was empty, or is stopping */
  struct edge_request *head; /* first in, first out */
  struct edge_request *tail;
  unsigned int waiting; /* in the queue */
  unsigned int idle;    /* threads waiting for a request */
  uint32_t wait_ms;     /* PURCHASES_DB_WAIT_MS: the longest wait in the queue */
  bool stopping;        /* nothing more is queued; the threads end once it is empty */
  pthread_t *threads;
  unsigned int thread_count;
  pthread_t watcher;
  bool watching;       /* the watcher was started */
  atomic_bool running; /* workers may defer: the threads are there */
  atomic_uint in_hand; /* handed off and not yet given back */
  atomic_ullong handed_off;
  atomic_ullong overflowed;
  atomic_ullong expired;
} handoffs = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* On a hand-off thread, the request whose answer MHD_queue_response keeps;
 * on a worker, the connection whose pass is running (its answer is dropped
 * when the pass defers). */
static _Thread_local struct edge_request *capturing;
static _Thread_local struct MHD_Connection *passing;

/* libmicrohttpd's own MHD_queue_response and MHD_destroy_response, which
 * the definitions below stand in front of. */
static enum MHD_Result (*real_queue_response)(struct MHD_Connection *, unsigned int,
                                              struct MHD_Response *);
static void (*real_destroy_response)(struct MHD_Response *);
static pthread_once_t real_resolved = PTHREAD_ONCE_INIT;

static void resolve_real(void) {
  *(void **)&real_queue_response = dlsym(RTLD_NEXT, "MHD_queue_response");
  *(void **)&real_destroy_response = dlsym(RTLD_NEXT, "MHD_destroy_response");
}

void edge_install(const struct edge_config *config) {
  edge = *config;
}

/* Ulfius starts MHD with its own static dispatcher as the access handler
 * and offers no hook between the head and the body. This definition of
 * MHD_start_daemon, in the program itself, is the one the dynamic linker
 * binds Ulfius's call to: it keeps Ulfius's dispatcher and starts the real
 * daemon, through MHD_start_daemon_va, with edge_access in front of it.
 * Only Ulfius calls it (app.c starts the server through Ulfius). */
static enum MHD_Result edge_access(void *cls, struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls,
                                    ...) {
  struct MHD_Daemon *daemon;
  va_list options;

  ulfius_dispatcher = dh;
  ulfius_dispatcher_cls = dh_cls;
  va_start(options, dh_cls);
  daemon = MHD_start_daemon_va(flags, port, apc, apc_cls, edge_access, NULL, options);
  va_end(options);
  return daemon;
}

/* Ulfius queues its answer inside its dispatcher, which the edge cannot
 * change; so, like MHD_start_daemon above, these two stand in front of
 * libmicrohttpd's for the program. Anywhere but in a hand-off they pass
 * straight through. On a hand-off thread the answer is kept instead, for
 * the worker to queue when MHD calls the edge again on the resumed
 * connection (MHD queues only from there); on a worker whose pass deferred,
 * the empty answer of that pass is dropped. */
enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response) {
  struct edge_request *request = capturing;

  pthread_once(&real_resolved, resolve_real);
  if (request != NULL && request->connection == connection) {
    if (request->answer != NULL) {
      return MHD_NO; /* one answer a request, as MHD itself says */
    }
    request->answer = response;
    request->answer_status = status_code;
    return MHD_YES;
  }
  if (passing == connection && request_pass_deferred()) {
    return MHD_YES;
  }
  return real_queue_response(connection, status_code, response);
}

void MHD_destroy_response(struct MHD_Response *response) {
  struct edge_request *request = capturing;

  pthread_once(&real_resolved, resolve_real);
  if (response != NULL && request != NULL && request->answer == response) {
    return; /* kept for the worker, which destroys it once queued */
  }
  real_destroy_response(response);
}

/* Where the origin-form of a target starts. A server must accept the
 * absolute-form (RFC 9112 section 3.2.2: "http://shop.example/user/1?a=1"),
 * and Ulfius routes on the string its URI logger is given: that is the
 * path and query, "/" when there are neither, and the query alone, whose
 * "?" the caller puts "/" before (RFC 3986 section 6.2.3), when there is
 * no path. The Host header is not read, so the authority is simply left
 * out. Any other target as it is. */
static const char *origin_form(const char *uri) {
  size_t scheme = framing_absolute_scheme(uri);
  const char *rest;

  if (scheme == 0) {
    return uri;
  }
  rest = uri + scheme + strcspn(uri + scheme, "/?");
  return *rest != '\0' ? rest : "/";
}

void *edge_uri_logger(void *cls, const char *uri, struct MHD_Connection *connection) {
  struct edge_request *request = calloc(1, sizeof(*request));
  const char *target = origin_form(uri);
  char *rooted = NULL;

  conn_watch_request_line(connection);
  if (request == NULL) {
    return NULL;
  }
  clock_gettime(CLOCK_MONOTONIC, &request->started);
  request->uri = uri;
  request->uri_len = strlen(uri);
  if (target[0] == '?') {
    rooted = msprintf("/%s", target); /* on failure, Ulfius routes the query: a 404 */
  }
  request->ulfius = ulfius_uri_logger(cls, rooted != NULL ? rooted : target);
  o_free(rooted);
  if (request->ulfius == NULL) {
    free(request);
    return NULL;
  }
  return request;
}

static double seconds_since(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

void edge_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                            enum MHD_RequestTerminationCode toe) {
  struct edge_request *request = *con_cls;

  conn_watch_request_done(connection);
  if (request == NULL) {
    return;
  }
  if (!request->checked) {
    /* MHD answered the head itself (a line or header too long, a head it
     * could not parse) or the client left before the head was complete:
     * the service never saw it, yet it gets its line, with status 0. */
    char id[REQUEST_ID_MAX + 1];
    const char *uri = NULL;
    struct access_entry entry = {.request_id = id, .route = "-", .status = 0};
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);

    request_id_generate(id);
    (void)uri;
    entry.status = info != NULL ? (long)info->http_status : 0;
    entry.method = "-";
    entry.path = "-";
    entry.duration_ms = seconds_since(&request->started) * 1000;
    request_log_access(&entry);
  }
  mhd_request_completed(cls, connection, &request->ulfius, toe);
  if (request->answer != NULL) {
    /* Given back, but the connection ended before it was queued. */
    pthread_once(&real_resolved, resolve_real);
    real_destroy_response(request->answer);
  }
  free(request);
  *con_cls = NULL;
}

struct header_list {
  struct framing_header items[EDGE_HEADERS_MAX];
  size_t count;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size) {
  struct header_list *list = cls;
  (void)kind;
  if (list->count == EDGE_HEADERS_MAX) {
    return MHD_NO; /* too many already: framing_check says so */
  }
  list->items[list->count++] = (struct framing_header){.name = key,
                                                       .name_len = key_size,
                                                       .value = value,
                                                       .value_len = value != NULL ? value_size : 0};
  return MHD_YES;
}

/* Answers with a problem and closes the connection afterwards; a 400
 * about `header` (NULL or "" for none) names it in `errors`. */
static enum MHD_Result refuse_about(struct MHD_Connection *connection, struct edge_request *request,
                                    const char *method, const char *url, enum problem_type type,
                                    const char *detail, const char *header) {
  char id[REQUEST_ID_MAX + 1];
  unsigned int status = problem_status(type);
  json_t *j_problem = NULL;
  char *body = NULL;
  struct MHD_Response *response = NULL;
  enum MHD_Result queued = MHD_NO;
  struct access_entry entry = {.request_id = id, .method = method, .route = "-", .path = url};

  request->refused = true;
  /* The connection closes after this answer, with whatever the client
   * still sends unread: it lingers, so that the client reads the answer. */
  conn_watch_linger_on_close(connection);
  request_id_generate(id);
  j_problem = problem_build(type, detail, id);
  if (j_problem != NULL && type == PROBLEM_INVALID_REQUEST && header != NULL && header[0] != '\0') {
    json_t *j_errors = json_pack("[o]", problem_error_entry(PROBLEM_ABOUT_HEADER, header, detail));
    if (j_errors == NULL || json_object_set_new(j_problem, "errors", j_errors) != 0) {
      json_decref(j_problem);
      j_problem = NULL;
    }
  }
  body = j_problem != NULL ? json_dumps(j_problem, JSON_COMPACT) : NULL;
  response =
      MHD_create_response_from_buffer(body != NULL ? strlen(body) : 0, body, MHD_RESPMEM_MUST_COPY);
  if (response == NULL) {
    goto done;
  }
  MHD_add_response_header(response, "Content-Type", "application/problem+json");
  MHD_add_response_header(response, "Cache-Control", "no-store");
  MHD_add_response_header(response, "X-Request-Id", id);
  /* Whatever follows on this connection is not trusted as a request. */
  MHD_add_response_header(response, "Connection", "close");
  if (type == PROBLEM_TOO_MANY_REQUESTS) {
    char seconds[16];
    snprintf(seconds, sizeof(seconds), "%u",
             request->retry_after_s > 0 ? request->retry_after_s : 1);
    MHD_add_response_header(response, "Retry-After", seconds);
  }
  if (type == PROBLEM_UNAUTHENTICATED) {
    MHD_add_response_header(response, "WWW-Authenticate",
                            edge.auth_mode == AUTH_HEADERS ? "Headers realm=\"purchases\""
                                                           : "Bearer realm=\"purchases\"");
  }
  queued = MHD_queue_response(connection, status, response);

done:
  entry.status = queued == MHD_YES ? (long)status : 0;
  entry.duration_ms = seconds_since(&request->started) * 1000;
  metrics_observe_request("-", method, entry.status, entry.duration_ms / 1000);
  request_log_access(&entry);
  MHD_destroy_response(response);
  free(body);
  json_decref(j_problem);
  return queued;
}

static enum MHD_Result refuse(struct MHD_Connection *connection, struct edge_request *request,
                              const char *method, const char *url, enum problem_type type,
                              const char *detail) {
  return refuse_about(connection, request, method, url, type, detail, NULL);
}

static const char *header_of(struct MHD_Connection *connection, const char *name) {
  return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

/* A header's value as the chain reads it (request_headers_trim()): without
 * the white space that ends it. The value itself when nothing ends it, else
 * a copy in *copy, which the caller frees with o_free(); NULL when the
 * header is absent (or out of memory). */
static const char *trimmed_header_of(struct MHD_Connection *connection, const char *name,
                                     char **copy) {
  const char *value = header_of(connection, name);
  size_t len = value != NULL ? strlen(value) : 0;
  size_t kept = value != NULL ? http_ows_trimmed_len(value, len) : 0;

  *copy = NULL;
  if (value == NULL || kept == len) {
    return value;
  }
  *copy = o_strndup(value, kept);
  return *copy;
}

/* Whether the caller could be an ingest client, judged the way the chain
 * will judge it; PROBLEM_INTERNAL means yes. The chain checks everything
 * again (ids, repeats, the route's rules) once the body is in. A 401 or 403
 * here spends the address's budget of failed authentications like the
 * chain's do, and an address that has spent it gets 429 before any token
 * is verified. */
static enum problem_type upload_refusal(struct MHD_Connection *connection, const char **detail,
                                        uint32_t *retry_after_s) {
  char *authorization_copy = NULL;
  char *client_id_copy = NULL;
  const char *authorization = trimmed_header_of(connection, "Authorization", &authorization_copy);
  const char *token = bearer_token_of(authorization);
  const union MHD_ConnectionInfo *peer =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  const struct client *client = NULL;
  char key[AUTH_FAILURE_KEY_MAX] = "";
  enum problem_type refusal = PROBLEM_INTERNAL;

  if (peer != NULL) {
    auth_failure_key_of(peer->client_addr, key);
  }
  if (!auth_failures_allow(edge.auth_failures, key, retry_after_s)) {
    *detail = "Too many failed authentications from this address; try again later.";
    refusal = PROBLEM_TOO_MANY_REQUESTS;
    goto done;
  }
  if (edge.auth_mode != AUTH_HEADERS && (token != NULL || edge.auth_mode == AUTH_JWT)) {
    struct jwt_identity identity;
    char reason[160];
    if (token == NULL ||
        !jwt_verify(edge.jwt, token, time(NULL), &identity, reason, sizeof(reason))) {
      *detail = "Send a valid bearer token before a request body.";
      refusal = PROBLEM_UNAUTHENTICATED;
      goto done;
    }
    client = client_table_find(edge.clients, identity.client_id);
  } else {
    const char *client_id = trimmed_header_of(connection, "x-client-id", &client_id_copy);
    if (client_id == NULL || header_of(connection, "x-user-id") == NULL) {
      *detail = "Identify the caller (x-client-id and x-user-id) before a request body.";
      refusal = PROBLEM_UNAUTHENTICATED;
      goto done;
    }
    client = client_table_find(edge.clients, client_id);
  }
  if (client == NULL || client->role != ROLE_INGEST) {
    *detail = "Only ingest clients send request bodies here.";
    refusal = PROBLEM_FORBIDDEN;
  }

done:
  if (refusal != PROBLEM_INTERNAL && refusal != PROBLEM_TOO_MANY_REQUESTS) {
    auth_failures_count(edge.auth_failures, key);
  }
  o_free(authorization_copy);
  o_free(client_id_copy);
  return refusal;
}

/* Whether the request line and headers that MHD parsed account for every
 * byte of the head it read: a NUL inside the target or a value makes MHD
 * cut it there, and the rest would be silently ignored; a folded header
 * comes back renamed (middleware/framing.h), and the header it was looks
 * absent. */
static enum framing_bytes head_bytes(struct MHD_Connection *connection,
                                     const struct edge_request *request, const char *method,
                                     const char *version, const struct header_list *headers) {
  static _Thread_local struct framing_piece pieces[3 + 2 * EDGE_HEADERS_MAX];
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  size_t n = 0;

  if (info == NULL || request->uri == NULL) {
    return FRAMING_BYTES_UNKNOWN;
  }
  pieces[n++] = (struct framing_piece){method, strlen(method)};
  pieces[n++] = (struct framing_piece){request->uri, request->uri_len};
  pieces[n++] = (struct framing_piece){version, strlen(version)};
  for (size_t i = 0; i < headers->count; i++) {
    pieces[n++] = (struct framing_piece){headers->items[i].name, headers->items[i].name_len};
    pieces[n++] = (struct framing_piece){headers->items[i].value, headers->items[i].value_len};
  }
  return framing_head_bytes(method, info->header_size, pieces, n);
}

/* The head, checked before Ulfius reads anything; MHD_YES with nothing
 * queued lets the request through. */
static enum MHD_Result check_head(struct MHD_Connection *connection, struct edge_request *request,
                                  const char *url, const char *method, const char *version) {
  static _Thread_local struct header_list headers;
  struct framing_verdict verdict;
  const char *detail = NULL;
  uint32_t retry_after_s = 0;
  enum problem_type refusal;

  headers.count = 0;
  MHD_get_connection_values_n(connection, MHD_HEADER_KIND, collect_header, &headers);
  framing_check(&(struct framing_head){.method = method,
                                       .version = version,
                                       .url = url,
                                       .headers = headers.items,
                                       .header_count = headers.count},
                &verdict);
  if (verdict.refuse) {
    return refuse_about(connection, request, method, url, verdict.type, verdict.detail,
                        verdict.header);
  }
  switch (head_bytes(connection, request, method, version, &headers)) {
    case FRAMING_BYTES_HIDDEN:
      return refuse(connection, request, method, url, PROBLEM_INVALID_REQUEST,
                    "The request head holds bytes its parser could not place: a NUL byte "
                    "(in the target or a header), or a header line without a name.");
    case FRAMING_BYTES_REBUILT:
      return refuse(connection, request, method, url, PROBLEM_INVALID_REQUEST,
                    "A header is folded onto the next line (obs-fold, RFC 9112 section 5.2): "
                    "send every header on one line.");
    case FRAMING_BYTES_WHOLE:
    case FRAMING_BYTES_UNKNOWN:
      break;
  }
  if (!verdict.has_body) {
    return MHD_YES;
  }
  switch (edge.body_rule(method, origin_form(url))) {
    case ROUTE_NO_SUCH_PATH:
      return refuse(connection, request, method, url, PROBLEM_NOT_FOUND,
                    "No resource lives at this path.");
    case ROUTE_NO_BODY:
      return refuse(connection, request, method, url, PROBLEM_BODY_NOT_ALLOWED,
                    "This route takes no request body.");
    case ROUTE_INGEST_BODY:
      break;
  }
  /* Who sends it first: a caller who may not send a body at all hears
   * that (401, 403), whatever its size. */
  refusal = upload_refusal(connection, &detail, &retry_after_s);
  if (refusal != PROBLEM_INTERNAL) {
    request->retry_after_s = retry_after_s;
    return refuse(connection, request, method, url, refusal, detail);
  }
  if (!verdict.chunked && verdict.content_length > edge.body_max) {
    return refuse(connection, request, method, url, PROBLEM_BODY_TOO_LARGE,
                  "The request body is larger than this service accepts.");
  }
  return MHD_YES;
}

/* The second pass of a deferred request: Ulfius's dispatcher once more,
 * with no body left to hand it. Ulfius 2.7.13 reads Basic credentials
 * afresh on every call and drops the last call's copies unfreed: the first
 * pass's are freed here (as Ulfius frees them at the request's end), so
 * that a request carrying them may be deferred like any other. */
static enum MHD_Result dispatch_again(struct MHD_Connection *connection,
                                      struct edge_request *request, const char *url,
                                      const char *method, const char *version) {
  struct connection_info_struct *info = request->ulfius;
  size_t none = 0;

  if (info != NULL && info->request != NULL) {
    o_free(info->request->auth_basic_user);
    o_free(info->request->auth_basic_password);
    info->request->auth_basic_user = NULL;
    info->request->auth_basic_password = NULL;
  }
  return ulfius_dispatcher(ulfius_dispatcher_cls, connection, url, method, version, "", &none,
                           &request->ulfius);
}

/* Runs the request on a hand-off thread: the whole chain again, where it
 * may wait, keeping Ulfius's answer; then gives the connection back. */
static void run_handed_off(struct edge_request *request) {
  struct MHD_Connection *connection = request->connection;

  capturing = request;
  request_pass_begin(REQUEST_PASS_INLINE, &request->started);
  db_wait_began(&request->queued_at);
  (void)dispatch_again(connection, request, request->url, request->method, request->version);
  db_wait_began(NULL);
  capturing = NULL;
  request->handed_back = true;
  /* From here on the worker may queue the answer and free the request. */
  MHD_resume_connection(connection);
  atomic_fetch_sub(&handoffs.in_hand, 1);
}

static void *handoff_main(void *arg) {
  (void)arg;
  for (;;) {
    struct edge_request *request;
    pthread_mutex_lock(&handoffs.lock);
    handoffs.idle++;
    while (handoffs.head == NULL && !handoffs.stopping) {
      pthread_cond_wait(&handoffs.wake, &handoffs.lock);
    }
    handoffs.idle--;
    request = handoffs.head;
    if (request != NULL) {
      handoffs.head = request->queued;
      if (handoffs.head == NULL) {
        handoffs.tail = NULL;
      }
      handoffs.waiting--;
    }
    pthread_mutex_unlock(&handoffs.lock);
    if (request == NULL) {
      return NULL; /* stopping, and nothing is left to run */
    }
    run_handed_off(request);
  }
}

/* When a request queued at `queued_at` has waited as long as it may. */
static struct timespec queue_deadline(const struct timespec *queued_at) {
  struct timespec due = *queued_at;

  due.tv_sec += handoffs.wait_ms / 1000;
  due.tv_nsec += (long)(handoffs.wait_ms % 1000) * 1000000L;
  if (due.tv_nsec >= 1000000000L) {
    due.tv_sec++;
    due.tv_nsec -= 1000000000L;
  }
  return due;
}

static bool earlier(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Takes out of the queue, with its lock held, every request that has
 * waited its whole budget by `now`: the oldest ones, as all wait alike.
 * Returns them linked through ->queued. */
static struct edge_request *take_expired(const struct timespec *now) {
  struct edge_request *first = NULL;
  struct edge_request **last = &first;

  while (handoffs.head != NULL) {
    struct edge_request *request = handoffs.head;
    struct timespec due = queue_deadline(&request->queued_at);
    if (earlier(now, &due)) {
      break;
    }
    handoffs.head = request->queued;
    handoffs.waiting--;
    request->expired = true;
    request->queued = NULL;
    *last = request;
    last = &request->queued;
  }
  if (handoffs.head == NULL) {
    handoffs.tail = NULL;
  }
  return first;
}

/* The watcher: while every hand-off thread is busy (a slow or stopped
 * database, more requests than threads), a request in the queue would
 * wait for one however long that takes. At its deadline, unless a thread
 * is free to take it that moment, this gives it back to its worker, which
 * answers it without the database: a hit, or 503 (run_expired). */
static void *handoff_watch(void *arg) {
  (void)arg;
  pthread_mutex_lock(&handoffs.lock);
  /* Stopping, it stays until the queue is empty: what is still queued
   * when the drain ends keeps its bound. */
  while (!handoffs.stopping || handoffs.head != NULL) {
    struct timespec now;
    struct timespec due;
    struct edge_request *expired;

    if (handoffs.head == NULL) {
      pthread_cond_wait(&handoffs.watch, &handoffs.lock);
      continue;
    }
    due = queue_deadline(&handoffs.head->queued_at);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (earlier(&now, &due)) {
      pthread_cond_timedwait(&handoffs.watch, &handoffs.lock, &due);
      continue;
    }
    if (handoffs.idle > 0) {
      /* A thread was woken for it and is about to take it: look again in
       * a millisecond (a budget of 0 makes every request due at once). */
      due = now;
      due.tv_nsec += 1000000L;
      if (due.tv_nsec >= 1000000000L) {
        due.tv_sec++;
        due.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&handoffs.watch, &handoffs.lock, &due);
      continue;
    }
    expired = take_expired(&now);
    pthread_mutex_unlock(&handoffs.lock);
    while (expired != NULL) {
      struct edge_request *next = expired->queued;
      atomic_fetch_add_explicit(&handoffs.expired, 1, memory_order_relaxed);
      /* From here on the worker runs it and may free it. */
      MHD_resume_connection(expired->connection);
      atomic_fetch_sub(&handoffs.in_hand, 1);
      expired = next;
    }
    pthread_mutex_lock(&handoffs.lock);
  }
  pthread_mutex_unlock(&handoffs.lock);
  return NULL;
}

/* Suspends the connection and queues the request for a hand-off thread;
 * false when the threads are stopping (the worker then runs the request
 * itself). The queue is bounded in time, not in length: a request waits
 * there at most PURCHASES_DB_WAIT_MS (handoff_watch), and every request in
 * it is a connection MHD already holds. */
static bool hand_off(struct MHD_Connection *connection, struct edge_request *request,
                     const char *url, const char *method, const char *version) {
  bool queued = false;
  struct timespec now;

  clock_gettime(CLOCK_MONOTONIC, &now);
  pthread_mutex_lock(&handoffs.lock);
  if (!handoffs.stopping) {
    request->connection = connection;
    request->url = url;
    request->method = method;
    request->version = version;
    request->queued = NULL;
    request->queued_at = now;
    atomic_fetch_add(&handoffs.in_hand, 1);
    MHD_suspend_connection(connection);
    if (handoffs.tail != NULL) {
      handoffs.tail->queued = request;
    } else {
      handoffs.head = request;
      pthread_cond_signal(&handoffs.watch); /* it waits for a first request */
    }
    handoffs.tail = request;
    handoffs.waiting++;
    pthread_cond_signal(&handoffs.wake);
    queued = true;
  }
  pthread_mutex_unlock(&handoffs.lock);
  atomic_fetch_add_explicit(queued ? &handoffs.handed_off : &handoffs.overflowed, 1,
                            memory_order_relaxed);
  return queued;
}

/* The resumed call of a request handed off: queues what its thread left. */
static enum MHD_Result give_back(struct MHD_Connection *connection, struct edge_request *request) {
  struct MHD_Response *answer = request->answer;
  enum MHD_Result queued;

  request->handed_back = false;
  request->answer = NULL;
  if (answer == NULL) {
    return MHD_NO; /* nothing to send: MHD closes the connection */
  }
  pthread_once(&real_resolved, resolve_real);
  queued = real_queue_response(connection, request->answer_status, answer);
  real_destroy_response(answer);
  return queued;
}

/* The resumed call of a request whose wait in the queue ran out: its chain
 * runs here, on its worker, which must not wait on the database: a cached
 * answer is still served, anything that needs a slot is shed (503 with
 * Retry-After). */
static enum MHD_Result run_expired(struct MHD_Connection *connection, struct edge_request *request,
                                   const char *url, const char *method, const char *version) {
  enum MHD_Result result;

  request->expired = false;
  request_pass_begin(REQUEST_PASS_INLINE, &request->started);
  db_refuse_slots(true);
  result = dispatch_again(connection, request, url, method, version);
  db_refuse_slots(false);
  return result;
}

/* Ulfius's dispatcher, as a worker's pass when hand-off threads run: if a
 * link defers the request, it is handed off, or run again right here when
 * that cannot be. */
static enum MHD_Result dispatch(struct MHD_Connection *connection, struct edge_request *request,
                                const char *url, const char *method, const char *version,
                                const char *upload_data, size_t *upload_data_size) {
  enum MHD_Result result;

  passing = connection;
  request_pass_begin(atomic_load(&handoffs.running) ? REQUEST_PASS_WORKER : REQUEST_PASS_INLINE,
                     &request->started);
  result = ulfius_dispatcher(ulfius_dispatcher_cls, connection, url, method, version, upload_data,
                             upload_data_size, &request->ulfius);
  passing = NULL;
  if (!request_pass_deferred()) {
    return result;
  }
  if (hand_off(connection, request, url, method, version)) {
    return MHD_YES;
  }
  request_pass_begin(REQUEST_PASS_INLINE, &request->started);
  return dispatch_again(connection, request, url, method, version);
}

/* The watcher's condition, on the monotonic clock its deadlines are in,
 * and the watcher; false when either could not be made. */
static bool start_watcher(const pthread_attr_t *attr) {
  pthread_condattr_t clock;
  bool made = false;

  if (pthread_condattr_init(&clock) != 0) {
    return false;
  }
  if (pthread_condattr_setclock(&clock, CLOCK_MONOTONIC) == 0 &&
      pthread_cond_init(&handoffs.watch, &clock) == 0) {
    made = true;
    handoffs.watching = pthread_create(&handoffs.watcher, attr, handoff_watch, NULL) == 0;
    if (!handoffs.watching) {
      pthread_cond_destroy(&handoffs.watch);
    }
  }
  pthread_condattr_destroy(&clock);
  return made && handoffs.watching;
}

bool edge_start_handoffs(unsigned int threads, uint32_t wait_ms, size_t stack_bytes) {
  pthread_attr_t attr;
  bool started = true;

  if (threads == 0) {
    return true;
  }
  handoffs.threads = calloc(threads, sizeof(*handoffs.threads));
  if (handoffs.threads == NULL || pthread_attr_init(&attr) != 0) {
    free(handoffs.threads);
    handoffs.threads = NULL;
    return false;
  }
  pthread_attr_setstacksize(&attr, stack_bytes);
  handoffs.wait_ms = wait_ms;
  handoffs.stopping = false;
  started = start_watcher(&attr);
  while (started && handoffs.thread_count < threads) {
    started =
        pthread_create(&handoffs.threads[handoffs.thread_count], &attr, handoff_main, NULL) == 0;
    handoffs.thread_count += started ? 1 : 0;
  }
  pthread_attr_destroy(&attr);
  if (!started) {
    edge_stop_handoffs();
    return false;
  }
  atomic_store(&handoffs.running, true);
  return true;
}

unsigned int edge_handoffs_in_hand(void) {
  return atomic_load(&handoffs.in_hand);
}

void edge_stop_handoffs(void) {
  atomic_store(&handoffs.running, false);
  pthread_mutex_lock(&handoffs.lock);
  handoffs.stopping = true;
  pthread_cond_broadcast(&handoffs.wake);
  if (handoffs.watching) {
    pthread_cond_signal(&handoffs.watch);
  }
  pthread_mutex_unlock(&handoffs.lock);
  /* Each thread runs what is queued before it ends: every suspended
   * connection is resumed before MHD stops. */
  for (unsigned int i = 0; i < handoffs.thread_count; i++) {
    pthread_join(handoffs.threads[i], NULL);
  }
  if (handoffs.watching) {
    /* The queue is empty now; it may sleep until a deadline of a request
     * a thread took meanwhile. */
    pthread_mutex_lock(&handoffs.lock);
    pthread_cond_signal(&handoffs.watch);
    pthread_mutex_unlock(&handoffs.lock);
    pthread_join(handoffs.watcher, NULL);
    pthread_cond_destroy(&handoffs.watch);
    handoffs.watching = false;
  }
  free(handoffs.threads);
  handoffs.threads = NULL;
  handoffs.thread_count = 0;
}

void edge_write_metrics(FILE *out) {
  fprintf(out,
          "# HELP purchases_handoffs_total Requests an epoll worker handed to a hand-off thread "
          "rather than wait on the database.\n"
          "# TYPE purchases_handoffs_total counter\n"
          "purchases_handoffs_total %llu\n"
          "# HELP purchases_handoff_overflows_total Requests a worker ran itself because the "
          "hand-off threads were stopping.\n"
          "# TYPE purchases_handoff_overflows_total counter\n"
          "purchases_handoff_overflows_total %llu\n"
          "# HELP purchases_handoff_expired_total Requests that waited PURCHASES_DB_WAIT_MS in "
          "the hand-off queue, every thread busy: answered by their worker without the "
          "database (cached, or 503).\n"
          "# TYPE purchases_handoff_expired_total counter\n"
          "purchases_handoff_expired_total %llu\n"
          "# HELP purchases_handoffs_in_hand Requests handed off and not yet answered.\n"
          "# TYPE purchases_handoffs_in_hand gauge\n"
          "purchases_handoffs_in_hand %u\n",
          (unsigned long long)atomic_load(&handoffs.handed_off),
          (unsigned long long)atomic_load(&handoffs.overflowed),
          (unsigned long long)atomic_load(&handoffs.expired), atomic_load(&handoffs.in_hand));
}

static enum MHD_Result edge_access(void *cls, struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls) {
  struct edge_request *request = *con_cls;
  (void)cls;

  if (request == NULL) {
    return MHD_NO;
  }
  if (!request->checked) {
    enum MHD_Result result;
    request->checked = true;
    if (!conn_watch_head_done(connection)) {
      return MHD_NO; /* its budget ran out first: the connection is closing */
    }
    result = check_head(connection, request, url, method, version);
    if (request->refused || result != MHD_YES) {
      return result;
    }
  }
  if (request->refused) {
    /* Whatever of the body MHD still hands over is dropped unread. */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (request->handed_back) {
    return give_back(connection, request);
  }
  if (request->expired) {
    return run_expired(connection, request, url, method, version);
  }
  return dispatch(connection, request, url, method, version, upload_data, upload_data_size);
}
