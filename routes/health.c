#include "routes/health.h"

#include "middleware/problem.h"
#include "middleware/request.h"
#include "routes/context.h"

int callback_healthz_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data) {
  json_t *j_body = json_pack("{ss}", "status", "ok");
  (void)request;
  (void)user_data;

  if (j_body == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
  } else {
    request_answer_json(response, 200, j_body);
  }
  json_decref(j_body);
  return U_CALLBACK_CONTINUE;
}

int callback_readyz_get(const struct _u_request *request, struct _u_response *response,
                        void *user_data) {
  const struct probes_context *probes = user_data;
  json_t *j_body = NULL;
  (void)request;

  if (atomic_load(&probes->tracker->draining)) {
    problem_send(response, PROBLEM_UNAVAILABLE, "The service is shutting down.");
    goto done;
  }
  if (!atomic_load(probes->indexes_ready)) {
    /* The watcher ensures them (unique indexes arbitrate races, so no
     * traffic before); the probe only reports, and asks it to hurry. */
    probes->wake(probes->wake_arg);
    problem_send(response, PROBLEM_UNAVAILABLE,
                 "The purchase store cannot be reached, or its indexes are not ensured yet.");
    goto done;
  }
  /* On an epoll worker the ping runs on a hand-off thread: a worker never
   * waits on the database, whoever asks how it is. */
  if (request_defer(response)) {
    goto done;
  }
  switch (db_ping(probes->db)) {
    case MODEL_OK:
      break;
    case MODEL_BUSY:
      problem_send(response, PROBLEM_UNAVAILABLE,
                   "The service is at capacity: this probe waited its whole budget for the "
                   "database.");
      goto done;
    default:
      problem_send(response, PROBLEM_UNAVAILABLE, "The purchase store cannot be reached.");
      goto done;
  }
  j_body = json_pack("{ss}", "status", "ready");
  if (j_body == NULL) {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    goto done;
  }
  request_answer_json(response, 200, j_body);

done:
  json_decref(j_body);
  return U_CALLBACK_CONTINUE;
}
