#include "app/edge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ulfius.h>
#include <yder.h>

#include "middleware/authn.h"
#include "middleware/framing.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"

/* Headers looked at per request; a head with more is refused (431). */
#define EDGE_HEADERS_MAX 100

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
};

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

void *edge_uri_logger(void *cls, const char *uri, struct MHD_Connection *connection) {
  struct edge_request *request = calloc(1, sizeof(*request));
  (void)connection;

  if (request == NULL) {
    return NULL;
  }
  clock_gettime(CLOCK_MONOTONIC, &request->started);
  request->uri = uri;
  request->uri_len = strlen(uri);
  request->ulfius = ulfius_uri_logger(cls, uri);
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
  free(request);
  *con_cls = NULL;
}

struct header_list {
  struct framing_header items[EDGE_HEADERS_MAX];
  size_t count;
  bool overflow;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size) {
  struct header_list *list = cls;
  (void)kind;
  if (list->count == EDGE_HEADERS_MAX) {
    list->overflow = true;
    return MHD_NO;
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

/* Whether the caller could be an ingest client, judged the way the chain
 * will judge it; PROBLEM_INTERNAL means yes. The chain checks everything
 * again (ids, repeats, the route's rules) once the body is in. A 401 or 403
 * here spends the address's budget of failed authentications like the
 * chain's do, and an address that has spent it gets 429 before any token
 * is verified. */
static enum problem_type upload_refusal(struct MHD_Connection *connection, const char **detail,
                                        uint32_t *retry_after_s) {
  const char *authorization = header_of(connection, "Authorization");
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
    return PROBLEM_TOO_MANY_REQUESTS;
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
    const char *client_id = header_of(connection, "x-client-id");
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
  if (refusal != PROBLEM_INTERNAL) {
    auth_failures_count(edge.auth_failures, key);
  }
  return refusal;
}

/* Whether the request line and headers that MHD parsed account for every
 * byte of the head it read: a NUL inside the target or a value makes MHD
 * cut it there, and the rest would be silently ignored. */
static bool head_is_whole(struct MHD_Connection *connection, const struct edge_request *request,
                          const char *method, const char *version,
                          const struct header_list *headers) {
  static _Thread_local struct framing_piece pieces[3 + 2 * EDGE_HEADERS_MAX];
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  size_t n = 0;

  if (info == NULL || request->uri == NULL) {
    return true;
  }
  pieces[n++] = (struct framing_piece){method, strlen(method)};
  pieces[n++] = (struct framing_piece){request->uri, request->uri_len};
  pieces[n++] = (struct framing_piece){version, strlen(version)};
  for (size_t i = 0; i < headers->count; i++) {
    pieces[n++] = (struct framing_piece){headers->items[i].name, headers->items[i].name_len};
    pieces[n++] = (struct framing_piece){headers->items[i].value, headers->items[i].value_len};
  }
  return framing_gaps_are_blank(method, info->header_size, pieces, n);
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
  headers.overflow = false;
  MHD_get_connection_values_n(connection, MHD_HEADER_KIND, collect_header, &headers);
  if (headers.overflow) {
    return refuse(connection, request, method, url, PROBLEM_HEADERS_TOO_LARGE,
                  "At most 100 headers are accepted.");
  }
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
  if (!head_is_whole(connection, request, method, version, &headers)) {
    return refuse(connection, request, method, url, PROBLEM_INVALID_REQUEST,
                  "The request head holds a NUL byte (in the target or a header).");
  }
  if (!verdict.has_body) {
    return MHD_YES;
  }
  switch (edge.body_rule(method, url)) {
    case ROUTE_NO_SUCH_PATH:
      return refuse(connection, request, method, url, PROBLEM_NOT_FOUND,
                    "No resource lives at this path.");
    case ROUTE_NO_BODY:
      return refuse(connection, request, method, url, PROBLEM_BODY_NOT_ALLOWED,
                    "This route takes no request body.");
    case ROUTE_INGEST_BODY:
      break;
  }
  if (!verdict.chunked && verdict.content_length > edge.body_max) {
    return refuse(connection, request, method, url, PROBLEM_BODY_TOO_LARGE,
                  "The request body is larger than this service accepts.");
  }
  refusal = upload_refusal(connection, &detail, &retry_after_s);
  if (refusal != PROBLEM_INTERNAL) {
    request->retry_after_s = retry_after_s;
    return refuse(connection, request, method, url, refusal, detail);
  }
  return MHD_YES;
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
  return ulfius_dispatcher(ulfius_dispatcher_cls, connection, url, method, version, upload_data,
                           upload_data_size, &request->ulfius);
}
