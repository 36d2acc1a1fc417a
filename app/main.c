/* purchases: the HTTP service. Reads its configuration from the
 * environment, serves until SIGINT or SIGTERM, then drains and exits 0. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <yder.h>

#include "lib/words.h"
#include "app/app.h"
#include "app/config.h"
#include "app/logging.h"
#include "version.h"

/* Exit codes: 0 after a clean stop, 1 when the service could not start,
 * 2 for a bad command line or configuration. */
#define EXIT_START_FAILED 1
#define EXIT_BAD_CONFIG   2

static const char *env_get(const char *name) {
  return getenv(name);
}

/* --healthcheck: GET /healthz on this host's own service, for container
 * HEALTHCHECKs in images without curl. Exit 0 when it answers 200. With TLS
 * on, a TCP connection that is accepted counts (no HTTPS client here). */
static int healthcheck(void) {
  const char *port_text = getenv("PURCHASES_PORT");
  const char *bind = getenv("PURCHASES_BIND_ADDRESS");
  const char *tls = getenv("PURCHASES_TLS_CERT");
  long port = port_text != NULL && port_text[0] != '\0' ? strtol(port_text, NULL, 10) : 8080;
  struct sockaddr_in address = {.sin_family = AF_INET};
  struct timeval timeout = {.tv_sec = 3};
  static const char REQUEST[] = "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n";
  char reply[64] = "";
  int fd;
  int rc = 1;
  ssize_t n;

  if (port < 1 || port > 65535) {
    return 1;
  }
  address.sin_port = htons((uint16_t)port);
  if (bind == NULL || bind[0] == '\0' || strcmp(bind, "0.0.0.0") == 0 ||
      inet_pton(AF_INET, bind, &address.sin_addr) != 1) {
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  }
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return 1;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    goto out;
  }
  if (tls != NULL && tls[0] != '\0') {
    rc = 0;
    goto out;
  }
  if (send(fd, REQUEST, sizeof(REQUEST) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(REQUEST) - 1)) {
    goto out;
  }
  n = recv(fd, reply, sizeof(reply) - 1, 0);
  if (n > 12 && strncmp(reply, "HTTP/1.", 7) == 0 && strncmp(reply + 8, " 200", 4) == 0) {
    rc = 0;
  }

out:
  close(fd);
  return rc;
}

static void usage(FILE *out) {
  fprintf(out, "Usage: purchases [-h | --help | -V | --version | --healthcheck]\n"
               "\n"
               "Serves the purchases API over HTTP. Configuration comes from the\n"
               "environment; every variable is optional:\n\n");
  config_describe(out);
  fprintf(out, "\nSIGINT or SIGTERM stops the service after requests in flight finish.\n"
               "--healthcheck asks the running service's /healthz (same PURCHASES_PORT) and\n"
               "exits 0 when it answers 200: for container health checks.\n");
}

/* The command-line options: each a whole run of its own. Returns the
 * exit code. */
static int run_option(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--healthcheck") == 0) {
    return healthcheck();
  }
  if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
    printf("purchases %s (%s)\n", PURCHASES_VERSION, PURCHASES_COMMIT);
    return 0;
  }
  /* Named, so that a typo is seen as one; escaped, so that whatever it
   * holds cannot reach the terminal as control bytes. */
  char named[WORDS_ESCAPED_ARG_MAX];
  words_escape(argv[argc > 2 ? 2 : 1], named, sizeof(named));
  fprintf(stderr, "purchases: %s '%s'; try --help\n",
          argc > 2 ? "one option at most, not" : "unknown option", named);
  return EXIT_BAD_CONFIG;
}

/* Starts logging as configured; false with a line on stderr and *rc set
 * (EXIT_BAD_CONFIG when the log file cannot be opened) when it cannot. */
static bool start_logging(const struct config *config, int *rc) {
  struct logging_options log_options = {.level = (unsigned long)config->log_level,
                                        .format = config->log_format,
                                        .target = config->log_target,
                                        .file = config->log_file};
  if (logging_init(&log_options) == 0) {
    request_log_as_json(config->log_format == LOG_FORMAT_JSON);
    return true;
  }
  if (config->log_target == LOG_TARGET_FILE) {
    /* The one way a file target fails: the file cannot be opened. */
    fprintf(stderr, "purchases: PURCHASES_LOG_FILE: cannot open %s for appending: %s\n",
            config->log_file, strerror(errno));
    *rc = EXIT_BAD_CONFIG;
  } else {
    fprintf(stderr, "purchases: cannot start logging (PURCHASES_LOG_TARGET)\n");
  }
  return false;
}

/* Serves until SIGINT or SIGTERM (blocked in `signals`), then stops in
 * order. Returns the exit code. */
static int serve(struct app *app, sigset_t *signals) {
  char err[256] = "";
  int signal_number = 0;

  if (!app_start(app, err, sizeof(err))) {
    y_log_message(Y_LOG_LEVEL_ERROR, "cannot start: %s", err);
    fprintf(stderr, "purchases: %s\n", err);
    return EXIT_START_FAILED;
  }
  char serving[48] = "a thread per connection";
  if (app->config.workers > 0) {
    snprintf(serving, sizeof(serving), "%u epoll worker%s", app->config.workers,
             app->config.workers == 1 ? "" : "s");
  }
  y_log_message(Y_LOG_LEVEL_INFO,
                "purchases %s (%s) listening on %s:%u; at most %u connections (%s), %u database "
                "operations at once",
                PURCHASES_VERSION, PURCHASES_COMMIT, app->config.bind_address, app->config.port,
                app->connection_limit, serving, app->config.db_max_in_flight);
  if (sigwait(signals, &signal_number) != 0) {
    y_log_message(Y_LOG_LEVEL_ERROR, "sigwait failed");
    return EXIT_START_FAILED;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "%s received: draining for up to %u s",
                signal_number == SIGINT ? "SIGINT" : "SIGTERM", app->config.shutdown_timeout_s);
  app_stop(app);
  y_log_message(Y_LOG_LEVEL_INFO, "stopped");
  return 0;
}

int main(int argc, char **argv) {
  int rc = EXIT_START_FAILED;
  struct config config;
  struct app *app = NULL;
  bool logging = false;
  bool db_initialised = false;
  char err[256] = "";
  sigset_t signals;

  memset(&config, 0, sizeof(config));
  /* glibc raises its mmap threshold after each large free, up to 32 MiB, so
   * the buffers of a burst of large answers stay in the heap for good. A
   * fixed threshold gives them back to the system when they are freed. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  if (argc > 1) {
    return run_option(argc, argv);
  }

  /* Block the stop signals before any thread starts, so every thread
   * inherits the mask and only sigwait() below receives them. */
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (!config_load(&config, env_get, err, sizeof(err))) {
    fprintf(stderr, "purchases: %s\n", err);
    rc = EXIT_BAD_CONFIG;
    goto done;
  }
  /* Before logging starts: a bad URI is one line on stderr, like every
   * other bad value, not the driver's lines and ours. */
  db_global_init();
  db_initialised = true;
  if (!db_uri_check(config.mongodb_uri, err, sizeof(err))) {
    fprintf(stderr, "purchases: %s\n", err);
    rc = EXIT_BAD_CONFIG;
    goto done;
  }
  if (!start_logging(&config, &rc)) {
    goto done;
  }
  logging = true;

  app = app_new(&config, err, sizeof(err));
  if (app == NULL) {
    fprintf(stderr, "purchases: %s\n", err);
    rc = EXIT_BAD_CONFIG;
    goto done;
  }
  rc = serve(app, &signals);

done:
  app_destroy(app);
  config_cleanup(&config);
  if (db_initialised) {
    db_global_cleanup();
  }
  if (logging) {
    logging_close();
  }
  return rc;
}
