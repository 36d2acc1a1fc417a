#ifndef PURCHASES_APP_LOGGING_H
#define PURCHASES_APP_LOGGING_H

#include <stdbool.h>

/* How each log line is written. */
enum log_format {
  LOG_FORMAT_TEXT, /* "2026-11-24T21:46:18Z - purchases INFO: request_id=... status=200" */
  LOG_FORMAT_JSON  /* {"time": ..., "level": "info", ...}: one object per line */
};

/* Where log lines go. */
enum log_target {
  LOG_TARGET_CONSOLE, /* INFO and DEBUG on stdout, WARNING and ERROR on stderr */
  LOG_TARGET_FILE,    /* appended to a file */
  LOG_TARGET_SYSLOG,  /* syslog(3), facility daemon */
  LOG_TARGET_JOURNALD /* systemd's journal, through yder's own journald mode */
};

struct logging_options {
  unsigned long level; /* a Y_LOG_LEVEL_* value */
  enum log_format format;
  enum log_target target;
  const char *file; /* LOG_TARGET_FILE only */
};

/* Starts yder under the name "purchases". Returns 0, or -1 when the target
 * cannot be opened or yder refused. */
int logging_init(const struct logging_options *options);

/* The format in force, for code that builds structured lines itself. A
 * message that is a JSON object ("{...}") is merged into the line's own
 * object in JSON format; in text format every message is written as is. */
enum log_format logging_format(void);

/* Stops yder and closes the target. */
void logging_close(void);

#endif
