#include "app/cli.h"

#include <getopt.h>
#include <stdlib.h>

#include <yder.h>

#include "app/logging.h"
#include "lib/words.h"
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

int cli_common_option(int opt, const char *program, char *const argv[], void (*usage)(FILE *out)) {
  char named[WORDS_ESCAPED_ARG_MAX];

  switch (opt) {
    case 'h':
      usage(stdout);
      return 0;
    case 'V':
      printf("%s %s (%s)\n", program, PURCHASES_VERSION, PURCHASES_COMMIT);
      return 0;
    default:
      /* After a '?' or ':', optind is past the option getopt refused. */
      words_escape(optind > 0 ? argv[optind - 1] : "", named, sizeof(named));
      fprintf(stderr, "%s: %s '%s'\n", program,
              opt == ':' ? "a value is missing after" : "unknown option", named);
      usage(stderr);
      return 2;
  }
}

bool cli_parse_count(const char *text, uint32_t max, uint32_t *out) {
  char *end = NULL;
  unsigned long value;

  if (text[0] < '0' || text[0] > '9') {
    return false;
  }
  value = strtoul(text, &end, 10);
  if (*end != '\0' || value < 1 || value > max) {
    return false;
  }
  *out = (uint32_t)value;
  return true;
}
