#ifndef PURCHASES_ROUTES_PROBLEMS_H
#define PURCHASES_ROUTES_PROBLEMS_H

#include <ulfius.h>

/* GET /problems/:name: the page a problem's `type` URI points at (its
 * title, status and what to do about it), so that every type resolves; 404
 * for a name that is no problem type. */
int callback_problem_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data);

#endif
