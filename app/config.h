#ifndef PURCHASES_APP_CONFIG_H
#define PURCHASES_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/logging.h"
#include <stdio.h>

#include "middleware/authn.h"
#include "middleware/client_id.h"
#include "middleware/cors.h"

/* Everything the service can be told, read once at start from environment
 * variables (see config_describe() for the list). Immutable afterwards. */
struct config {
  uint32_t port;
  char *bind_address;
  char *mongodb_uri;
  struct client_table clients;
  int log_level; /* a Y_LOG_LEVEL_* value */
  enum log_format log_format;
  enum log_target log_target;
  char *log_file;                  /* NULL unless the target is a file */
  uint32_t max_connections;        /* 0: sized from the open-file limit at start */
  uint32_t max_connections_per_ip; /* 0: no limit */
  uint32_t workers;                /* 0: a thread per connection; else that many epoll workers */
  uint32_t handoff_threads;        /* with workers: where what waits on the database runs */
  uint32_t connection_timeout_s;
  uint32_t header_timeout_s; /* a request head must arrive whole within it */
  uint32_t linger_time_s;    /* lingering close: at most this long in all; 0: off */
  uint32_t linger_timeout_s; /* ...this long without a byte */
  uint32_t linger_bytes;     /* ...and this many bytes read and dropped */
  uint32_t shutdown_timeout_s;
  uint32_t drain_delay_ms; /* after SIGTERM, not ready but serving, before closing */
  uint32_t db_timeout_ms;
  uint32_t db_max_in_flight; /* database operations of requests at once */
  uint32_t db_wait_ms;       /* how long one waits for a slot before a 503 */
  uint32_t db_query_timeout_ms;
  char *cursor_key; /* NULL: a random key per process */
  enum auth_mode auth_mode;
  char *jwks_file;
  char *jwt_issuer;
  char *jwt_audience;
  char *tls_cert; /* PEM file paths; both or neither */
  char *tls_key;
  uint32_t rate_limit_rps; /* 0: no rate limiting */
  uint32_t rate_limit_burst;
  uint32_t auth_failures_rps; /* failed authentications a second per address; 0: no limit */
  uint32_t auth_failures_burst;
  uint32_t cache_bytes; /* 0: no response cache */
  uint32_t cache_ttl_s; /* 0: no response cache */
  char *redis_url;      /* NULL: versions are this instance's own */
  uint32_t redis_timeout_ms;
  char *nats_url;      /* NULL: events are off */
  char *events_stream; /* the JetStream stream */
  uint32_t events_max_age_s;
  uint32_t events_replicas;
  uint32_t events_duplicate_window_s;
  uint32_t bench_routes;  /* 1: the routes make bench measures the framework with */
  struct cors_table cors; /* empty: no cross-origin calls from browsers */
};

/* Fills `config` from the environment through `getenv_fn` (getenv in the
 * server, a fake in tests), using each variable's default when it is unset.
 * Returns false at the first bad value and writes a one-line message that
 * names the variable into err. Either way config_cleanup() releases what was
 * allocated. */
bool config_load(struct config *config, const char *(*getenv_fn)(const char *name), char *err,
                 size_t err_len);

/* Frees the strings config_load() allocated; config can be loaded again. */
void config_cleanup(struct config *config);

/* Prints every variable with its default and meaning, for --help. */
void config_describe(FILE *out);

#endif
