#include "app/logging.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <yder.h>

/* The level logging was started at; messages below it never reach us. */
static unsigned long log_level;

static const char *level_name(unsigned long level) {
  switch (level) {
    case Y_LOG_LEVEL_ERROR:
      return "ERROR";
    case Y_LOG_LEVEL_WARNING:
      return "WARNING";
    case Y_LOG_LEVEL_INFO:
      return "INFO";
    default:
      return "DEBUG";
  }
}

/* rhonabwy (JWT verification) logs at ERROR whenever a token fails, e.g.
 * "r_jws_verify_sig_rsa - Error invalid signature". A bad token is the
 * caller's doing, already logged at INFO with its reason by the
 * authentication link; at ERROR it would let anyone flood the error log. */
static bool is_jwt_library_message(const char *message) {
  return strncmp(message, "r_jw", 4) == 0;
}

/* One line per message, the same shape yder's console mode writes:
 * "2026-11-24T21:46:18Z - purchases INFO: ...". Warnings and errors go to
 * stderr, the rest to stdout; each line is flushed at once, so a log
 * shipper reading a pipe sees it without delay. */
static void write_line(void *cls, const char *app_name, const time_t date,
                       const unsigned long level, const char *message) {
  unsigned long effective = level;
  struct tm tm;
  char stamp[32];
  FILE *stream;

  (void)cls;
  if (is_jwt_library_message(message)) {
    if (log_level < Y_LOG_LEVEL_DEBUG) {
      return;
    }
    effective = Y_LOG_LEVEL_DEBUG;
  }
  gmtime_r(&date, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  stream = effective <= Y_LOG_LEVEL_WARNING ? stderr : stdout;
  fprintf(stream, "%s - %s %s: %s\n", stamp, app_name, level_name(effective), message);
  fflush(stream);
}

int logging_init(unsigned long level) {
  log_level = level;
  if (y_init_logs("purchases", Y_LOG_MODE_CALLBACK, level, NULL, NULL) != 1 ||
      y_set_logs_callback(write_line, NULL, "logging started") != 1) {
    return -1;
  }
  return 0;
}

void logging_close(void) {
  y_close_logs();
}
