#include "routes/user_purchases.h"

#include "app/app.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "models/purchase.h"

int callback_user_purchases_get(const struct _u_request *request, struct _u_response *response,
                                void *user_data) {
  struct app *app = user_data;
  struct request_ctx *ctx = request_ctx_of(response);
  json_t *j_list = NULL;
  json_t *j_body = NULL;
  enum model_status status;
  (void)request;

  if (ctx == NULL || ctx->answered) {
    goto done;
  }
  status = purchase_store_list_by_user(app->db, ctx->target_user_id, PURCHASE_LIST_MAX, &j_list);
  switch (status) {
    case MODEL_OK:
      j_body = json_pack("{sO}", "data", j_list);
      if (j_body == NULL) {
        problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
        goto done;
      }
      request_answer_json(response, 200, j_body);
      break;
    case MODEL_UNAVAILABLE:
      problem_send(response, PROBLEM_UNAVAILABLE,
                   "The purchase store cannot be reached. Try again shortly.");
      break;
    case MODEL_NOT_FOUND:
    case MODEL_INVALID:
    case MODEL_ERROR:
      problem_send(response, PROBLEM_INTERNAL,
                   "Something went wrong on our side. Quote the request id when you report it.");
      break;
  }

done:
  json_decref(j_body);
  json_decref(j_list);
  return U_CALLBACK_CONTINUE;
}
