#include <stdlib.h>

#include "suites.h"

int main(void) {
  SRunner *runner = srunner_create(suite_authz());
  int failed;

  srunner_add_suite(runner, suite_cache());
  srunner_add_suite(runner, suite_client_table());
  srunner_add_suite(runner, suite_config());
  srunner_add_suite(runner, suite_cors());
  srunner_add_suite(runner, suite_cursor());
  srunner_add_suite(runner, suite_encoding());
  srunner_add_suite(runner, suite_etag());
  srunner_add_suite(runner, suite_framing());
  srunner_add_suite(runner, suite_shard_check());
  srunner_add_suite(runner, suite_ids());
  srunner_add_suite(runner, suite_jwt());
  srunner_add_suite(runner, suite_lifecycle());
  srunner_add_suite(runner, suite_list_params());
  srunner_add_suite(runner, suite_page_walk());
  srunner_add_suite(runner, suite_problem());
  srunner_add_suite(runner, suite_purchase_json());
  srunner_add_suite(runner, suite_purchase_query());
  srunner_add_suite(runner, suite_purchase_validate());
  srunner_add_suite(runner, suite_query());
  srunner_add_suite(runner, suite_rate_limit());
  srunner_add_suite(runner, suite_request_id());
  srunner_run_all(runner, CK_NORMAL);
  failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
