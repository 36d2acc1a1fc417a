#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "../support/harness.h"
#include "suites.h"

/* The harness talks to FerretDB directly; keep the driver's warnings but
 * drop the one about endSessions, which FerretDB does not implement. */
static void driver_log(mongoc_log_level_t level, const char *domain, const char *message,
                       void *data) {
  (void)data;
  if (level <= MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") == NULL) {
    mongoc_log_default_handler(level, domain, message, NULL);
  }
}

int main(void) {
  SRunner *runner;
  int failed;

  mongoc_init();
  mongoc_log_set_handler(driver_log, NULL);
  /* Every process the suites start (the server, the tools) records the
   * commands a sharded cluster could not target here, for scripts/test.sh
   * (models/shard_check.h). */
  /* libmongoc keeps debugging counters in a shared-memory file named after
   * the process id, which the processes these suites kill leave behind; a
   * later process given the same id then finds it taken and warns on
   * stderr, before any log handler exists, which the tests of the start-up
   * lines would read as a second line. Nothing reads those counters. */
  setenv("MONGOC_DISABLE_SHM", "1", 1);
  static char check_file[512];
  if (getenv("PURCHASES_SHARD_CHECK_FILE") == NULL) {
    snprintf(check_file, sizeof(check_file), "%s/shard-check.log", harness_tmp());
    setenv("PURCHASES_SHARD_CHECK_FILE", check_file, 0);
  }
  runner = srunner_create(suite_api());
  srunner_add_suite(runner, suite_query());
  srunner_add_suite(runner, suite_security());
  srunner_add_suite(runner, suite_writes());
  srunner_add_suite(runner, suite_import());
  srunner_add_suite(runner, suite_operations());
  srunner_add_suite(runner, suite_contract());
  srunner_add_suite(runner, suite_lifecycle());
  srunner_add_suite(runner, suite_migrate());
  srunner_add_suite(runner, suite_capacity());
  srunner_add_suite(runner, suite_edge());
  srunner_add_suite(runner, suite_connections());
  srunner_add_suite(runner, suite_events());
  srunner_add_suite(runner, suite_cache());
  /* The fixtures own child processes (FerretDB, the server) that only this
   * process can wait for, so tests run in-process, in order. Every wait in
   * the harness is bounded, so nothing can hang without a fork's timeout. */
  srunner_set_fork_status(runner, CK_NOFORK);
  srunner_run_all(runner, CK_NORMAL);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  mongoc_cleanup();
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
