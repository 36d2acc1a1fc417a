#include "app/logging.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>
#include <yder.h>

/* Set once by logging_init, before any other thread starts. */
static struct logging_options options;
static FILE *log_file;

enum log_format logging_format(void) {
  return options.format;
}

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

static const char *json_level_name(unsigned long level) {
  switch (level) {
    case Y_LOG_LEVEL_ERROR:
      return "error";
    case Y_LOG_LEVEL_WARNING:
      return "warning";
    case Y_LOG_LEVEL_INFO:
      return "info";
    default:
      return "debug";
  }
}

/* rhonabwy (JWT verification) logs at ERROR whenever a token fails, e.g.
 * "r_jws_verify_sig_rsa - Error invalid signature". A bad token is the
 * caller's doing, already logged at INFO with its reason by the
 * authentication link; at ERROR it would let anyone flood the error log. */
static bool is_jwt_library_message(const char *message) {
  return strncmp(message, "r_jw", 4) == 0;
}

/* Writes one JSON line: the message's own members when it is a JSON
 * object, else {"message": ...}. */
static void write_json(FILE *stream, const char *stamp, unsigned long level, const char *message) {
  if (message[0] == '{') {
    fprintf(stream, "{\"time\":\"%s\",\"level\":\"%s\",%s\n", stamp, json_level_name(level),
            message + 1);
    return;
  }
  json_t *j_line =
      json_pack("{ss ss ss}", "time", stamp, "level", json_level_name(level), "message", message);
  if (j_line == NULL) {
    /* Not UTF-8 (a library quoting raw bytes): keep the line, as ASCII. */
    char ascii[1024];
    size_t n = 0;
    for (; message[n] != '\0' && n < sizeof(ascii) - 1; n++) {
      unsigned char c = (unsigned char)message[n];
      ascii[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    ascii[n] = '\0';
    j_line =
        json_pack("{ss ss ss}", "time", stamp, "level", json_level_name(level), "message", ascii);
  }
  char *text = j_line != NULL ? json_dumps(j_line, JSON_COMPACT) : NULL;
  if (text != NULL) {
    fprintf(stream, "%s\n", text);
  }
  free(text);
  json_decref(j_line);
}

/* yder's callback: one line per message on the configured target. */
static void write_line(void *cls, const char *app_name, const time_t date,
                       const unsigned long level, const char *message) {
  unsigned long effective = level;
  struct tm tm;
  char stamp[32];
  FILE *stream;

  (void)cls;
  if (is_jwt_library_message(message)) {
    if (options.level < Y_LOG_LEVEL_DEBUG) {
      return;
    }
    effective = Y_LOG_LEVEL_DEBUG;
  }
  if (options.target == LOG_TARGET_SYSLOG) {
    int priority = effective == Y_LOG_LEVEL_ERROR     ? LOG_ERR
                   : effective == Y_LOG_LEVEL_WARNING ? LOG_WARNING
                   : effective == Y_LOG_LEVEL_INFO    ? LOG_INFO
                                                      : LOG_DEBUG;
    syslog(priority, "%s", message); /* syslog adds the time and the name */
    return;
  }
  /* yder gives whole seconds; a line's own moment, to the millisecond,
   * orders the lines of one request. */
  struct timespec now;
  char seconds[24];
  (void)date;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(stamp, sizeof(stamp), "%.20s.%03dZ", seconds, (int)(now.tv_nsec / 1000000) % 1000);
  if (log_file != NULL) {
    stream = log_file;
  } else {
    stream = effective <= Y_LOG_LEVEL_WARNING ? stderr : stdout;
  }
  if (options.format == LOG_FORMAT_JSON) {
    write_json(stream, stamp, effective, message);
  } else {
    fprintf(stream, "%s - %s %s: %s\n", stamp, app_name, level_name(effective), message);
  }
  /* Each line at once, so a shipper reading a pipe or a file sees it. */
  fflush(stream);
}

int logging_init(const struct logging_options *init) {
  options = *init;
  if (options.target == LOG_TARGET_JOURNALD) {
    /* The journal keeps level and time itself; yder writes to it directly. */
    return y_init_logs("purchases", Y_LOG_MODE_JOURNALD, options.level, NULL, "logging started") ==
                   1
               ? 0
               : -1;
  }
  if (options.target == LOG_TARGET_FILE) {
    log_file = fopen(options.file, "a");
    if (log_file == NULL) {
      return -1;
    }
  }
  if (options.target == LOG_TARGET_SYSLOG) {
    openlog("purchases", LOG_PID, LOG_DAEMON);
  }
  /* No line of its own: a start refused for a bad value must print that
   * one line and nothing else; the first line is the start line. */
  if (y_init_logs("purchases", Y_LOG_MODE_CALLBACK, options.level, NULL, NULL) != 1 ||
      y_set_logs_callback(write_line, NULL, NULL) != 1) {
    return -1;
  }
  return 0;
}

void logging_close(void) {
  y_close_logs();
  if (log_file != NULL) {
    fclose(log_file);
    log_file = NULL;
  }
  if (options.target == LOG_TARGET_SYSLOG) {
    closelog();
  }
}
