#ifndef PURCHASES_APP_CONNECTIONS_H
#define PURCHASES_APP_CONNECTIONS_H

/* What an HTTP connection may cost, watched beside libmicrohttpd (MHD) by
 * one thread of our own, on every serving model:
 *
 *   - A peer that closes or resets is noticed at once. MHD's epoll workers
 *     are edge-triggered and stop reading after a short read, so a close
 *     that arrives with the last bytes of a half-sent head raises no new
 *     event, and the connection would hold its slot and descriptor for the
 *     whole idle timeout. The watch keeps the connections in an epoll set
 *     of its own, asking only for EPOLLRDHUP (a close, never plain data),
 *     which it looks at every 200 ms without ever waiting on it, so that
 *     neither a request nor a close costs a wake-up. A connection that
 *     closed and is still open then is shut for reading, which wakes MHD
 *     to read the end and free it.
 *   - A request head has a budget of its own (PURCHASES_HEADER_TIMEOUT_S),
 *     much shorter than the idle timeout and not renewed by each byte:
 *     from the accept on a new connection, from its request line on a
 *     kept-alive one (whose wait for that line is at most the idle timeout
 *     and the budget). Spent, the socket is shut both ways and MHD frees it.
 *   - Lingering close (nginx's lingering_close): when MHD closes a
 *     connection with request bytes still coming, which the service refused
 *     before reading them, closing at once would reset the connection and
 *     the client could lose the answer it was sent. The watch keeps the
 *     socket (a duplicate of MHD's descriptor, so MHD's close does not
 *     close it), already half-closed by MHD, and reads and drops what
 *     arrives until the peer closes, for at most PURCHASES_LINGER_TIME_S in
 *     all, PURCHASES_LINGER_TIMEOUT_S without a byte, and
 *     PURCHASES_LINGER_BYTES; at most `linger_max` sockets at once. Nothing
 *     read is kept.
 *
 * MHD calls conn_watch_notify() (MHD_OPTION_NOTIFY_CONNECTION) as each
 * connection starts and before it closes the socket; the edge (app/edge.c)
 * calls the request hooks below. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <microhttpd.h>

struct conn_watch_options {
  uint32_t header_timeout_ms; /* PURCHASES_HEADER_TIMEOUT_S */
  uint32_t idle_timeout_ms;   /* PURCHASES_CONNECTION_TIMEOUT_S, MHD's own */
  uint32_t linger_time_ms;    /* 0: close at once, never linger */
  uint32_t linger_timeout_ms; /* the longest wait for the next byte */
  uint64_t linger_bytes;      /* the most bytes read and dropped */
  unsigned int linger_max;    /* lingering sockets at once; beyond, close at once */
};

struct conn_watch;

/* Creates the watch and starts its thread. NULL and a reason in err when
 * the epoll set or the thread cannot be made. The caller owns it and frees
 * it with conn_watch_free() once MHD has stopped. */
struct conn_watch *conn_watch_new(const struct conn_watch_options *options, char *err,
                                  size_t err_len);

/* Stops the thread and closes every lingering socket. After MHD has
 * stopped (so no connection is left to watch). NULL is a no-op. */
void conn_watch_free(struct conn_watch *watch);

/* The MHD_OPTION_NOTIFY_CONNECTION callback, with the watch as its cls:
 * starts watching a connection, or stops (and may linger) before MHD
 * closes its socket. */
void conn_watch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);

/* The edge's hooks, on the thread that serves the connection; each a few
 * atomic operations. A connection the watch does not know (out of memory
 * at its start) is ignored. */

/* A request line was read: its head is due within the budget from now. */
void conn_watch_request_line(struct MHD_Connection *connection);

/* The head is whole. False when its budget ran out first: the connection
 * is being closed, and the request must not be served. */
bool conn_watch_head_done(struct MHD_Connection *connection);

/* A request ended; the connection may wait for the next one. */
void conn_watch_request_done(struct MHD_Connection *connection);

/* The answer was given before the body was read: linger when MHD closes. */
void conn_watch_linger_on_close(struct MHD_Connection *connection);

/* purchases_connections_* for /metrics. */
void conn_watch_write_metrics(struct conn_watch *watch, FILE *out);

#endif
