#ifndef PURCHASES_ROUTES_CONTRACT_H
#define PURCHASES_ROUTES_CONTRACT_H

#include <ulfius.h>

/* GET /openapi.json: the OpenAPI 3.1 document of this API (api/openapi.json,
 * compiled in, so it always matches the binary). */
int callback_openapi_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data);

/* GET /docs: the same as a web page, rendered by Redoc, whose script the
 * service serves itself at GET /docs/redoc.standalone.js (no CDN). */
int callback_docs_get(const struct _u_request *request, struct _u_response *response,
                      void *user_data);
int callback_docs_script_get(const struct _u_request *request, struct _u_response *response,
                             void *user_data);

#endif
