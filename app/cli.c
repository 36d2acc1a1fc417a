#include "app/cli.h"

#include <yder.h>

#include "app/logging.h"
#include "version.h"

void cli_begin(void) {
  struct logging_options options = {.level = Y_LOG_LEVEL_WARNING};
  logging_init(&options);
  db_global_init();
}

void cli_end(void) {
  db_global_cleanup();
  logging_close();
}

struct db *cli_db_open(const char *uri, const char *program, uint32_t timeout_ms, char *err,
                       size_t err_len) {
  struct db_options options = {
      .uri = uri, .timeout_ms = timeout_ms, .query_timeout_ms = 600000, .app_name = program};
  return db_new(&options, err, err_len);
}

int cli_common_option(int opt, const char *program, void (*usage)(FILE *out)) {
  switch (opt) {
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("%s %s (%s)\n", program, PURCHASES_VERSION, PURCHASES_COMMIT);
      return 0;
    default:
      usage(stderr);
      return 2;
  }
}
