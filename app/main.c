/* purchases: the HTTP service. Reads its configuration from the
 * environment, serves until SIGINT or SIGTERM, then drains and exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yder.h>

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

static void usage(FILE *out) {
  fprintf(out, "Usage: purchases [--help | --version]\n"
               "\n"
               "Serves the purchases API over HTTP. Configuration comes from the\n"
               "environment; every variable is optional:\n\n");
  config_describe(out);
  fprintf(out, "\nSIGINT or SIGTERM stops the service after requests in flight finish.\n");
}

int main(int argc, char **argv) {
  int rc = EXIT_START_FAILED;
  struct config config;
  struct app *app = NULL;
  bool logging = false;
  bool db_initialised = false;
  char err[256] = "";
  sigset_t signals;
  int signal_number = 0;

  memset(&config, 0, sizeof(config));
  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    printf("purchases %s (%s)\n", PURCHASES_VERSION, PURCHASES_COMMIT);
    return 0;
  }
  if (argc != 1) {
    usage(stderr);
    return EXIT_BAD_CONFIG;
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
  struct logging_options log_options = {.level = config.log_level,
                                        .format = config.log_format,
                                        .target = config.log_target,
                                        .file = config.log_file};
  if (logging_init(&log_options) != 0) {
    fprintf(stderr, "purchases: cannot start logging (PURCHASES_LOG_TARGET, PURCHASES_LOG_FILE)\n");
    goto done;
  }
  logging = true;
  db_global_init();
  db_initialised = true;

  app = app_new(&config, err, sizeof(err));
  if (app == NULL) {
    fprintf(stderr, "purchases: %s\n", err);
    rc = EXIT_BAD_CONFIG;
    goto done;
  }
  if (!app_start(app, err, sizeof(err))) {
    y_log_message(Y_LOG_LEVEL_ERROR, "cannot start: %s", err);
    fprintf(stderr, "purchases: %s\n", err);
    goto done;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "purchases %s (%s) listening on %s:%u", PURCHASES_VERSION,
                PURCHASES_COMMIT, app->config.bind_address, app->config.port);

  if (sigwait(&signals, &signal_number) != 0) {
    y_log_message(Y_LOG_LEVEL_ERROR, "sigwait failed");
    goto done;
  }
  y_log_message(Y_LOG_LEVEL_INFO, "%s received: draining for up to %u s",
                signal_number == SIGINT ? "SIGINT" : "SIGTERM", app->config.shutdown_timeout_s);
  app_stop(app);
  y_log_message(Y_LOG_LEVEL_INFO, "stopped");
  rc = 0;

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
