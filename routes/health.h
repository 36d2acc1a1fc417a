#ifndef PURCHASES_ROUTES_HEALTH_H
#define PURCHASES_ROUTES_HEALTH_H

#include <ulfius.h>

/* GET /healthz: 200 {"status":"ok"} while the process serves requests. */
int callback_healthz_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data);

/* GET /readyz: 200 {"status":"ready"} when the database answers a ping
 * (ensuring the indexes first if that has not happened yet), else a 503
 * problem with Retry-After. user_data is the app. */
int callback_readyz_get(const struct _u_request *request, struct _u_response *response,
                        void *user_data);

#endif
