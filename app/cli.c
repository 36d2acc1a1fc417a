#include "app/cli.h"

#include "version.h"

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
