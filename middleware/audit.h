#ifndef PURCHASES_MIDDLEWARE_AUDIT_H
#define PURCHASES_MIDDLEWARE_AUDIT_H

#include <stdbool.h>

#include <ulfius.h>

/* Chain link after the controller on routes under /user/:userId: when a
 * support or service principal read a user (any user, its own id included:
 * staff and customer ids share one namespace), writes the
 * audit record (models/audit.h) with the response's status; none for a
 * request the rate limit refused, in the controller too. When the record
 * cannot be written, the response is replaced by a 503: no read of someone
 * else's data leaves without its record. Customers reading their own data
 * are not audited. user_data is the `struct db` the record goes to. */
int callback_audit(const struct _u_request *request, struct _u_response *response, void *user_data);

struct request_ctx;

/* Whether callback_audit will write a record for this request: the
 * request costs a database write however it is answered, unless the rate
 * limit refuses it (RATE_REFUSED), which makes this false. */
bool audit_is_required(const struct request_ctx *ctx);

#endif
