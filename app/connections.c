#include "app/connections.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <yder.h>

#include "lib/clock.h"

/* How often budgets and lingering deadlines are looked at. */
#define WATCH_TICK_MS 200
/* Events taken from the epoll set at once. */
#define WATCH_EVENTS 64
/* Bytes a lingering socket gives up per event: one socket sending fast
 * cannot keep the others waiting. */
#define LINGER_CHUNK (64 * 1024)

/* A head deadline that is no deadline: the connection is not waiting for a
 * head (one is being served), or its budget was spent. */
#define HEAD_NOT_DUE UINT64_C(0)
#define HEAD_EXPIRED UINT64_MAX

enum watch_kind {
  WATCH_CONNECTION, /* MHD's, between its start and close notifications */
  WATCH_LINGERING,  /* ours alone: a duplicate of a closed connection's socket */
};

struct watch_entry {
  enum watch_kind kind;
  int fd;
  const struct conn_watch *watch;
  LIST_ENTRY(watch_entry) link; /* in live, retired or lingering */
  /* WATCH_CONNECTION: written by MHD's thread for the connection, read by
   * the watcher. */
  _Atomic uint64_t head_due_ms; /* monotonic; HEAD_NOT_DUE or HEAD_EXPIRED */
  atomic_bool linger;           /* answered before its body was read */
  /* Under the watch's lock. */
  bool peer_left; /* a close or reset was seen and MHD woken */
  bool closed;    /* MHD closed it: no longer in the epoll set */
  /* WATCH_LINGERING, the watcher's only. */
  uint64_t linger_until_ms;
  uint64_t quiet_until_ms;
  uint64_t dropped_bytes;
};

LIST_HEAD(watch_list, watch_entry);

struct conn_watch {
  struct conn_watch_options options;
  /* The connections, asking for EPOLLRDHUP: looked at once a tick, never
   * waited on, so that a close costs no wake-up of its own. */
  int epoll_fd;
  /* The lingering sockets and stop_fd: what the thread waits on. */
  int linger_fd;
  int stop_fd; /* an eventfd: written once to end the thread */
  pthread_t thread;
  bool running;
  pthread_mutex_t lock;
  struct watch_list live;      /* every open connection */
  struct watch_list retired;   /* closed, freed once no event can name them */
  struct watch_list lingering; /* the watcher's */
  unsigned int lingering_count;
  atomic_uint open;
  atomic_ullong peer_closes;
  atomic_ullong head_timeouts;
  atomic_ullong lingered;
  atomic_ullong linger_refused;
  atomic_ullong linger_cut; /* ended by a limit, not by the peer */
  atomic_uint lingering_now;
  char scratch[LINGER_CHUNK]; /* what lingering sockets send, dropped */
};

/* The entry MHD keeps for a connection, or NULL. */
static struct watch_entry *entry_of(struct MHD_Connection *connection) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info != NULL ? info->socket_context : NULL;
}

/* When a head that starts now is due. */
static uint64_t head_due_from(const struct conn_watch *watch, uint64_t now_ms) {
  return now_ms + watch->options.header_timeout_ms;
}

/* ---- the edge's hooks ------------------------------------------------------ */

void conn_watch_request_line(struct MHD_Connection *connection) {
  struct watch_entry *entry = entry_of(connection);
  uint64_t due;
  uint64_t sooner;

  if (entry == NULL) {
    return;
  }
  /* A kept-alive connection's wait for this line was bounded loosely (see
   * conn_watch_request_done); the head itself has the budget from now. A
   * new connection's budget runs from its accept, which is sooner. */
  sooner = head_due_from(entry->watch, clock_monotonic_ms());
  due = atomic_load_explicit(&entry->head_due_ms, memory_order_relaxed);
  while (due != HEAD_NOT_DUE && due != HEAD_EXPIRED && sooner < due &&
         !atomic_compare_exchange_weak_explicit(&entry->head_due_ms, &due, sooner,
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

bool conn_watch_head_done(struct MHD_Connection *connection) {
  struct watch_entry *entry = entry_of(connection);

  if (entry == NULL) {
    return true;
  }
  return atomic_exchange_explicit(&entry->head_due_ms, HEAD_NOT_DUE, memory_order_relaxed) !=
         HEAD_EXPIRED;
}

void conn_watch_request_done(struct MHD_Connection *connection) {
  struct watch_entry *entry = entry_of(connection);
  uint64_t due;
  uint64_t next;

  if (entry == NULL) {
    return;
  }
  /* MHD closes a connection idle for its timeout; one that trickles the
   * next request line slower than that still meets this. */
  next = head_due_from(entry->watch, clock_monotonic_ms()) + entry->watch->options.idle_timeout_ms;
  due = atomic_load_explicit(&entry->head_due_ms, memory_order_relaxed);
  while (due != HEAD_EXPIRED &&
         !atomic_compare_exchange_weak_explicit(&entry->head_due_ms, &due, next,
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

void conn_watch_linger_on_close(struct MHD_Connection *connection) {
  struct watch_entry *entry = entry_of(connection);

  if (entry != NULL) {
    atomic_store_explicit(&entry->linger, true, memory_order_relaxed);
  }
}

/* ---- MHD's notifications ---------------------------------------------------- */

static void watch_start(struct conn_watch *watch, struct MHD_Connection *connection,
                        void **socket_context) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  struct watch_entry *entry = NULL;
  struct epoll_event event = {.events = EPOLLRDHUP | EPOLLET};

  *socket_context = NULL;
  if (info == NULL) {
    return;
  }
  entry = calloc(1, sizeof(*entry));
  if (entry == NULL) {
    return; /* unwatched: MHD's own timeout still ends it */
  }
  entry->kind = WATCH_CONNECTION;
  entry->fd = info->connect_fd;
  entry->watch = watch;
  atomic_init(&entry->head_due_ms, head_due_from(watch, clock_monotonic_ms()));
  atomic_init(&entry->linger, false);
  event.data.ptr = entry;
  pthread_mutex_lock(&watch->lock);
  /* A peer that has closed already is reported at once. */
  if (epoll_ctl(watch->epoll_fd, EPOLL_CTL_ADD, entry->fd, &event) != 0) {
    pthread_mutex_unlock(&watch->lock);
    free(entry);
    return;
  }
  LIST_INSERT_HEAD(&watch->live, entry, link);
  pthread_mutex_unlock(&watch->lock);
  atomic_fetch_add_explicit(&watch->open, 1, memory_order_relaxed);
  *socket_context = entry;
}

/* Whether request bytes may still be on their way when MHD closes: the
 * edge answered before the body, or some are waiting unread. */
static bool bytes_unread(struct watch_entry *entry) {
  int waiting = 0;

  if (entry->peer_left ||
      atomic_load_explicit(&entry->head_due_ms, memory_order_relaxed) == HEAD_EXPIRED) {
    return false;
  }
  return atomic_load_explicit(&entry->linger, memory_order_relaxed) ||
         (ioctl(entry->fd, FIONREAD, &waiting) == 0 && waiting > 0);
}

/* Keeps a duplicate of a closing connection's socket to read and drop what
 * still comes (the lock held). False when it cannot: too many linger
 * already, no descriptor, lingering off. */
static bool linger_start(struct conn_watch *watch, int fd) {
  struct watch_entry *entry = NULL;
  struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP};
  uint64_t now_ms = clock_monotonic_ms();
  int copy = -1;
  bool started = false;

  if (watch->options.linger_time_ms == 0 || watch->lingering_count >= watch->options.linger_max) {
    goto done;
  }
  copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  entry = calloc(1, sizeof(*entry));
  if (copy < 0 || entry == NULL) {
    goto done;
  }
  /* The socket is MHD's, which made it non-blocking; the flag belongs to
   * the socket, not the descriptor, so this only makes sure. */
  fcntl(copy, F_SETFL, fcntl(copy, F_GETFL) | O_NONBLOCK);
  entry->kind = WATCH_LINGERING;
  entry->fd = copy;
  entry->watch = watch;
  entry->linger_until_ms = now_ms + watch->options.linger_time_ms;
  entry->quiet_until_ms = now_ms + watch->options.linger_timeout_ms;
  event.data.ptr = entry;
  if (epoll_ctl(watch->linger_fd, EPOLL_CTL_ADD, copy, &event) != 0) {
    goto done;
  }
  LIST_INSERT_HEAD(&watch->lingering, entry, link);
  watch->lingering_count++;
  atomic_store_explicit(&watch->lingering_now, watch->lingering_count, memory_order_relaxed);
  atomic_fetch_add_explicit(&watch->lingered, 1, memory_order_relaxed);
  entry = NULL;
  copy = -1;
  started = true;

done:
  if (copy >= 0) {
    close(copy);
  }
  free(entry);
  return started;
}

/* MHD is about to close the socket: out of the epoll set now, freed by the
 * watcher once no event it took can name it. */
static void watch_stop(struct conn_watch *watch, void **socket_context) {
  struct watch_entry *entry = *socket_context;

  if (entry == NULL) {
    return;
  }
  *socket_context = NULL;
  pthread_mutex_lock(&watch->lock);
  epoll_ctl(watch->epoll_fd, EPOLL_CTL_DEL, entry->fd, NULL);
  if (bytes_unread(entry) && !linger_start(watch, entry->fd)) {
    atomic_fetch_add_explicit(&watch->linger_refused, 1, memory_order_relaxed);
  }
  entry->closed = true;
  LIST_REMOVE(entry, link);
  LIST_INSERT_HEAD(&watch->retired, entry, link);
  pthread_mutex_unlock(&watch->lock);
  atomic_fetch_sub_explicit(&watch->open, 1, memory_order_relaxed);
}

void conn_watch_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                       enum MHD_ConnectionNotificationCode code) {
  struct conn_watch *watch = cls;

  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    watch_start(watch, connection, socket_context);
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    watch_stop(watch, socket_context);
  }
}

/* ---- the watcher ------------------------------------------------------------- */

/* Wakes MHD to read the end of a connection whose peer left (the lock
 * held): shut for reading, a read returns 0 once the bytes before it are
 * read, and the change of state is an event on MHD's own epoll set too.
 * The peer sent all it will, so nothing is lost; what MHD still has to
 * send is not affected. A close can come before MHD's first read of the
 * connection, and the wake-up with it: tick() shuts it again until MHD has
 * closed it. */
static void peer_left(struct conn_watch *watch, struct watch_entry *entry) {
  if (entry->closed || entry->peer_left) {
    return;
  }
  entry->peer_left = true;
  shutdown(entry->fd, SHUT_RD);
  atomic_fetch_add_explicit(&watch->peer_closes, 1, memory_order_relaxed);
}

static void linger_end(struct conn_watch *watch, struct watch_entry *entry, bool cut) {
  epoll_ctl(watch->linger_fd, EPOLL_CTL_DEL, entry->fd, NULL);
  close(entry->fd);
  LIST_REMOVE(entry, link);
  watch->lingering_count--;
  atomic_store_explicit(&watch->lingering_now, watch->lingering_count, memory_order_relaxed);
  if (cut) {
    atomic_fetch_add_explicit(&watch->linger_cut, 1, memory_order_relaxed);
  }
  free(entry);
}

/* Reads and drops what a lingering socket has (the lock held). */
static void linger_read(struct conn_watch *watch, struct watch_entry *entry) {
  ssize_t n = recv(entry->fd, watch->scratch, sizeof(watch->scratch), MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return;
  }
  if (n <= 0) {
    linger_end(watch, entry, false); /* the peer closed (or reset): done */
    return;
  }
  entry->dropped_bytes += (uint64_t)n;
  entry->quiet_until_ms = clock_monotonic_ms() + watch->options.linger_timeout_ms;
  if (entry->dropped_bytes >= watch->options.linger_bytes) {
    linger_end(watch, entry, true);
  }
}

/* Wakes MHD again for the connections whose peer left, spends the head
 * budgets due by now and ends lingering past its limits
 * (the lock held). A spent head is shut both ways: a read returns 0, and a
 * byte the peer still sends resets the connection, so MHD frees it at its
 * next read; until then it is shut again each tick. */
static void tick(struct conn_watch *watch, uint64_t now_ms) {
  struct watch_entry *entry;
  struct watch_entry *next;

  LIST_FOREACH(entry, &watch->live, link) {
    uint64_t due = atomic_load_explicit(&entry->head_due_ms, memory_order_relaxed);
    if (entry->peer_left) {
      shutdown(entry->fd, SHUT_RD);
    } else if (due == HEAD_EXPIRED) {
      shutdown(entry->fd, SHUT_RDWR);
    } else if (due != HEAD_NOT_DUE && due <= now_ms &&
               atomic_compare_exchange_strong_explicit(&entry->head_due_ms, &due, HEAD_EXPIRED,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed)) {
      atomic_fetch_add_explicit(&watch->head_timeouts, 1, memory_order_relaxed);
      shutdown(entry->fd, SHUT_RDWR);
    }
  }
  for (entry = LIST_FIRST(&watch->lingering); entry != NULL; entry = next) {
    next = LIST_NEXT(entry, link);
    if (now_ms >= entry->linger_until_ms || now_ms >= entry->quiet_until_ms) {
      linger_end(watch, entry, true);
    }
  }
}

static void free_list(struct watch_list *list) {
  struct watch_entry *entry;

  while ((entry = LIST_FIRST(list)) != NULL) {
    LIST_REMOVE(entry, link);
    free(entry);
  }
}

/* The closes and resets reported since the last look (the lock held). */
static void look_for_departures(struct conn_watch *watch) {
  struct epoll_event events[WATCH_EVENTS];
  int n;

  do {
    n = epoll_wait(watch->epoll_fd, events, WATCH_EVENTS, 0);
    for (int i = 0; i < n; i++) {
      peer_left(watch, events[i].data.ptr);
    }
  } while (n == WATCH_EVENTS);
}

static void *watcher_main(void *arg) {
  struct conn_watch *watch = arg;
  struct epoll_event events[WATCH_EVENTS];
  uint64_t next_tick_ms = clock_monotonic_ms() + WATCH_TICK_MS;
  bool stopping = false;

  while (!stopping) {
    struct watch_list freeable = LIST_HEAD_INITIALIZER(freeable);
    struct watch_entry *entry;
    uint64_t now_ms = clock_monotonic_ms();
    int n;

    /* Entries retired before this look cannot be among its events. */
    pthread_mutex_lock(&watch->lock);
    while ((entry = LIST_FIRST(&watch->retired)) != NULL) {
      LIST_REMOVE(entry, link);
      LIST_INSERT_HEAD(&freeable, entry, link);
    }
    pthread_mutex_unlock(&watch->lock);
    n = epoll_wait(watch->linger_fd, events, WATCH_EVENTS,
                   now_ms >= next_tick_ms ? 0 : (int)(next_tick_ms - now_ms));
    pthread_mutex_lock(&watch->lock);
    for (int i = 0; i < n; i++) {
      entry = events[i].data.ptr;
      if (entry == NULL) {
        stopping = true; /* the stop_fd */
      } else {
        linger_read(watch, entry);
      }
    }
    now_ms = clock_monotonic_ms();
    if (now_ms >= next_tick_ms) {
      look_for_departures(watch);
      tick(watch, now_ms);
      next_tick_ms = now_ms + WATCH_TICK_MS;
    }
    pthread_mutex_unlock(&watch->lock);
    free_list(&freeable);
  }
  return NULL;
}

/* ---- life ------------------------------------------------------------------- */

struct conn_watch *conn_watch_new(const struct conn_watch_options *options, char *err,
                                  size_t err_len) {
  struct conn_watch *watch = calloc(1, sizeof(*watch));
  struct conn_watch *result = NULL;
  struct epoll_event stop = {.events = EPOLLIN, .data.ptr = NULL};

  if (watch == NULL) {
    snprintf(err, err_len, "out of memory for the connection watch");
    goto done;
  }
  watch->options = *options;
  watch->epoll_fd = -1;
  watch->linger_fd = -1;
  watch->stop_fd = -1;
  pthread_mutex_init(&watch->lock, NULL);
  LIST_INIT(&watch->live);
  LIST_INIT(&watch->retired);
  LIST_INIT(&watch->lingering);
  watch->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  watch->linger_fd = epoll_create1(EPOLL_CLOEXEC);
  watch->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (watch->epoll_fd < 0 || watch->linger_fd < 0 || watch->stop_fd < 0 ||
      epoll_ctl(watch->linger_fd, EPOLL_CTL_ADD, watch->stop_fd, &stop) != 0) {
    snprintf(err, err_len, "cannot make the connection watch's epoll set: %s", strerror(errno));
    goto done;
  }
  if (pthread_create(&watch->thread, NULL, watcher_main, watch) != 0) {
    snprintf(err, err_len, "cannot start the connection watch");
    goto done;
  }
  watch->running = true;
  result = watch;
  watch = NULL;

done:
  conn_watch_free(watch);
  return result;
}

void conn_watch_free(struct conn_watch *watch) {
  struct watch_entry *entry;

  if (watch == NULL) {
    return;
  }
  if (watch->running) {
    uint64_t one = 1;
    if (write(watch->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
      y_log_message(Y_LOG_LEVEL_ERROR, "connections: cannot stop the watch");
    }
    pthread_join(watch->thread, NULL);
  }
  while ((entry = LIST_FIRST(&watch->lingering)) != NULL) {
    linger_end(watch, entry, true);
  }
  /* MHD has closed every connection: the live list is empty. */
  free_list(&watch->live);
  free_list(&watch->retired);
  if (watch->stop_fd >= 0) {
    close(watch->stop_fd);
  }
  if (watch->epoll_fd >= 0) {
    close(watch->epoll_fd);
  }
  if (watch->linger_fd >= 0) {
    close(watch->linger_fd);
  }
  pthread_mutex_destroy(&watch->lock);
  free(watch);
}

void conn_watch_write_metrics(struct conn_watch *watch, FILE *out) {
  if (watch == NULL) {
    return;
  }
  fprintf(out,
          "# HELP purchases_connections_open HTTP connections open now.\n"
          "# TYPE purchases_connections_open gauge\n"
          "purchases_connections_open %u\n"
          "# HELP purchases_connections_peer_closed_total Connections whose client closed or "
          "reset them, freed at once.\n"
          "# TYPE purchases_connections_peer_closed_total counter\n"
          "purchases_connections_peer_closed_total %llu\n"
          "# HELP purchases_connections_header_timeouts_total Connections closed because a "
          "request head did not arrive whole within PURCHASES_HEADER_TIMEOUT_S.\n"
          "# TYPE purchases_connections_header_timeouts_total counter\n"
          "purchases_connections_header_timeouts_total %llu\n"
          "# HELP purchases_connections_lingering Closed connections still reading and "
          "dropping what their client sends, so that it reads its answer.\n"
          "# TYPE purchases_connections_lingering gauge\n"
          "purchases_connections_lingering %u\n"
          "# HELP purchases_connections_lingered_total Connections closed by lingering.\n"
          "# TYPE purchases_connections_lingered_total counter\n"
          "purchases_connections_lingered_total %llu\n"
          "# HELP purchases_connections_linger_cut_total Lingering ended by a limit (time, "
          "silence or bytes) before the client closed.\n"
          "# TYPE purchases_connections_linger_cut_total counter\n"
          "purchases_connections_linger_cut_total %llu\n"
          "# HELP purchases_connections_linger_refused_total Connections closed at once with "
          "bytes unread, because too many were lingering already.\n"
          "# TYPE purchases_connections_linger_refused_total counter\n"
          "purchases_connections_linger_refused_total %llu\n",
          atomic_load(&watch->open), (unsigned long long)atomic_load(&watch->peer_closes),
          (unsigned long long)atomic_load(&watch->head_timeouts),
          atomic_load(&watch->lingering_now), (unsigned long long)atomic_load(&watch->lingered),
          (unsigned long long)atomic_load(&watch->linger_cut),
          (unsigned long long)atomic_load(&watch->linger_refused));
}
