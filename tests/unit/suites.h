#ifndef PURCHASES_TESTS_UNIT_SUITES_H
#define PURCHASES_TESTS_UNIT_SUITES_H

#include <check.h>

/* One suite per module under test; unit_main.c runs them all. */
Suite *suite_authz(void);
Suite *suite_cache(void);
Suite *suite_client_table(void);
Suite *suite_config(void);
Suite *suite_cors(void);
Suite *suite_cursor(void);
Suite *suite_encoding(void);
Suite *suite_etag(void);
Suite *suite_framing(void);
Suite *suite_ids(void);
Suite *suite_jwt(void);
Suite *suite_lifecycle(void);
Suite *suite_list_params(void);
Suite *suite_page_walk(void);
Suite *suite_problem(void);
Suite *suite_purchase_json(void);
Suite *suite_purchase_query(void);
Suite *suite_purchase_validate(void);
Suite *suite_query(void);
Suite *suite_rate_limit(void);
Suite *suite_request_id(void);
Suite *suite_shard_check(void);

#endif
