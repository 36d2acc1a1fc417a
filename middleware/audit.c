#include "middleware/audit.h"

#include <string.h>
#include <sys/time.h>

#include "middleware/authz.h"
#include "middleware/metrics.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "models/audit.h"

/* Only reads that passed authorization have a target. Every read by a
 * support or service principal is recorded, even of the user id it claims
 * itself: staff and customer ids share one namespace, so an agent whose id
 * is "u42" reading /user/u42 is reading customer u42. Not recorded:
 * customers reading their own purchases (the one thing they may read), and
 * requests the rate limit refused, even in the controller (a conditional
 * read it settled): nothing was read. */
bool audit_is_required(const struct request_ctx *ctx) {
  return ctx != NULL && ctx->client != NULL && ctx->target_user_id[0] != '\0' &&
         ctx->client->role != ROLE_CUSTOMER && ctx->rate_charge != RATE_REFUSED;
}

int callback_audit(const struct _u_request *request, struct _u_response *response,
                   void *user_data) {
  struct db *db = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  struct audit_record record;
  struct timeval now;

  if (!audit_is_required(ctx)) {
    return U_CALLBACK_CONTINUE;
  }
  gettimeofday(&now, NULL);
  record.time_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
  record.client = ctx->client->id;
  record.role = role_name(ctx->client->role);
  record.actor = ctx->user_id;
  record.user_id = ctx->target_user_id;
  record.route = ctx->route;
  /* A malformed one was refused with 400 and read nothing: not worth
   * storing what the caller typed. */
  record.purchase_id = u_map_get(request->map_url, "purchaseId");
  if (record.purchase_id != NULL && !user_id_is_valid(record.purchase_id)) {
    record.purchase_id = NULL;
  }
  record.method = request->http_verb != NULL ? request->http_verb : "-";
  record.status = response->status;
  record.request_id = ctx->request_id;
  record.reason = ctx->access_reason[0] != '\0' ? ctx->access_reason : NULL;
  bool written = audit_store_insert(db, &record) == MODEL_OK;
  metrics_count_audit(written);
  if (!written) {
    /* Replace whatever the controller answered, purchases included. */
    u_map_remove_from_key(response->map_header, "Link");
    u_map_remove_from_key(response->map_header, "ETag");
    problem_send(response, PROBLEM_UNAVAILABLE,
                 "This read could not be recorded in the audit trail, so it is refused. Try "
                 "again shortly.");
  }
  return U_CALLBACK_CONTINUE;
}
