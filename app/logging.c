#include "app/logging.h"

#include <yder.h>

int logging_init(unsigned long level) {
  if (y_init_logs("purchases", Y_LOG_MODE_CONSOLE, level, NULL, "logging started") != 1) {
    return -1;
  }
  return 0;
}

void logging_close(void) {
  y_close_logs();
}
