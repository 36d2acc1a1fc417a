#include "routes/bench.h"

#include "middleware/request.h"

int callback_bench_fixed_get(const struct _u_request *request, struct _u_response *response,
                             void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);

  (void)request;
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    request_answer_json_text(response, 200,
                             "{\"data\":[],\"page\":{\"limit\":20,\"hasMore\":false,"
                             "\"nextCursor\":null,\"prevCursor\":null}}");
  }
  return U_CALLBACK_CONTINUE;
}
