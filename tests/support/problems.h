#ifndef PURCHASES_TESTS_SUPPORT_PROBLEMS_H
#define PURCHASES_TESTS_SUPPORT_PROBLEMS_H

#include "harness.h"

/* Asserts that `r` is a problem+json answer (RFC 9457) with `status`, in
 * its status line and in its body; `what` names the case in a failure.
 * `r` stays the caller's, as with every assertion here. */
void assert_problem(const struct http_response *r, long status, const char *what);

/* Asserts that `r` is a 400 problem+json whose `errors` holds exactly one
 * entry about `name`: a parameter `in` "query" or "path", or, with `in`
 * NULL, a header; its detail is the problem's detail. `r` stays the
 * caller's. */
void assert_invalid_about(const struct http_response *r, const char *in, const char *name);

#endif
