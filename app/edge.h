#ifndef PURCHASES_APP_EDGE_H
#define PURCHASES_APP_EDGE_H

/* The HTTP edge: what runs between libmicrohttpd parsing a request head and
 * Ulfius reading its body. Ulfius gives no hook there, so app.c starts MHD
 * with the three callbacks below in front of Ulfius's own, and edge.c puts
 * its access handler in front of Ulfius's request dispatcher (see edge.c
 * for how). At that point the edge
 *   - refuses ambiguous framing and bytes the layers above would hide
 *     (middleware/framing.c), answering 400 or 501 and closing the
 *     connection so that nothing smuggled after it is served;
 *   - refuses a body the route does not take (413, or 404 for no route) and
 *     a body from a caller who could not send one (401, 403), before a byte
 *     of it is read, so that unauthenticated uploads cost no memory;
 *   - writes one access line for every request, including the ones it
 *     refuses and the ones MHD answers by itself. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <microhttpd.h>

#include "app/config.h"
#include "middleware/client_id.h"
#include "middleware/jwt.h"
#include "middleware/rate_limit.h"
#include "routes/routes.h"

/* What the edge needs, borrowed for the server's lifetime. */
struct edge_config {
  enum route_body_rule (*body_rule)(const char *method, const char *path);
  enum auth_mode auth_mode;
  const struct client_table *clients;
  const struct jwt_verifier *jwt;     /* NULL in headers mode */
  struct rate_limiter *auth_failures; /* failed authentications per address; NULL: off */
  uint64_t body_max;                  /* larger announced bodies are a 413 at once */
};

/* Sets the configuration the edge reads; before edge_start_daemon, once. */
void edge_install(const struct edge_config *config);

/* The hand-off threads, for epoll workers (PURCHASES_HANDOFF_THREADS): a
 * request that would wait on the database there is suspended, run again
 * on one of these, and answered on its worker when it is done (see
 * middleware/request.h, request_defer). Started before the daemon, with
 * MHD_ALLOW_SUSPEND_RESUME in its flags; false when a thread could not be
 * started (none then runs). 0 threads: none, and nothing is deferred.
 * A request waits in their queue at most wait_ms (PURCHASES_DB_WAIT_MS),
 * and that wait counts against its wait for a database slot. */
bool edge_start_handoffs(unsigned int threads, uint32_t wait_ms, size_t stack_bytes);

/* Requests handed off and not yet given back to their worker. */
unsigned int edge_handoffs_in_hand(void);

/* Runs what is queued, then ends the threads: before MHD stops, so that no
 * connection is left suspended. Idempotent. */
void edge_stop_handoffs(void);

/* purchases_handoffs_total, purchases_handoff_overflows_total,
 * purchases_handoff_expired_total and purchases_handoffs_in_hand, for
 * /metrics. */
void edge_write_metrics(FILE *out);

/* MHD callbacks to pass in the options of ulfius_start_framework_with_mhd_options
 * instead of Ulfius's own, which they wrap. */
void *edge_uri_logger(void *cls, const char *uri, struct MHD_Connection *connection);
void edge_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                            enum MHD_RequestTerminationCode toe);

#endif
