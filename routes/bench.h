#ifndef PURCHASES_ROUTES_BENCH_H
#define PURCHASES_ROUTES_BENCH_H

#include <ulfius.h>

/* GET /bench/fixed/:userId, registered only with PURCHASES_BENCH_ROUTES=1:
 * an empty first page, always the same bytes, after the same links as
 * GET /user/:userId. make bench measures it as the framework's ceiling. */
int callback_bench_fixed_get(const struct _u_request *request, struct _u_response *response,
                             void *user_data);

#endif
