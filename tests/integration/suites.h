#ifndef PURCHASES_TESTS_INTEGRATION_SUITES_H
#define PURCHASES_TESTS_INTEGRATION_SUITES_H

#include <check.h>

Suite *suite_api(void);
Suite *suite_cache(void);
Suite *suite_capacity(void);
Suite *suite_connections(void);
Suite *suite_contract(void);
Suite *suite_edge(void);
Suite *suite_events(void);
Suite *suite_import(void);
Suite *suite_lifecycle(void);
Suite *suite_migrate(void);
Suite *suite_operations(void);
Suite *suite_query(void);
Suite *suite_security(void);
Suite *suite_writes(void);

#endif
