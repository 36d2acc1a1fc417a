#include "routes/problems.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/ids.h"
#include "middleware/problem.h"
#include "middleware/request.h"

int callback_problem_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  const char *name = u_map_get(request->map_url, "name");
  const char *title;
  const char *description;
  unsigned int status;
  char *page = NULL;
  int len;

  (void)user_data;
  if (ctx == NULL || ctx->answered) {
    return U_CALLBACK_CONTINUE;
  }
  /* A slug is ASCII letters and dashes: nothing of the caller's is echoed. */
  if (!id_is_valid(name, ID_PLAIN) || !problem_describe(name, &status, &title, &description)) {
    problem_send(response, PROBLEM_NOT_FOUND, "There is no problem type of that name.");
    return U_CALLBACK_CONTINUE;
  }
  len = asprintf(&page,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<title>%s (%u)</title>\n</head>\n<body>\n<h1>%s</h1>\n"
                 "<p>HTTP status %u. Type <code>/problems/%s</code>.</p>\n<p>%s</p>\n"
                 "<p>Every problem body also has <code>detail</code> (this occurrence, in "
                 "words) and <code>requestId</code> (quote it when reporting). See "
                 "<a href=\"/docs\">the API documentation</a>.</p>\n</body>\n</html>\n",
                 title, status, title, status, name, description);
  if (len < 0) {
    problem_send(response, PROBLEM_INTERNAL, "The page could not be written.");
    return U_CALLBACK_CONTINUE;
  }
  ulfius_set_binary_body_response(response, 200, page, (size_t)len);
  u_map_put(response->map_header, "Content-Type", "text/html; charset=utf-8");
  ctx->answered = true;
  ctx->public_max_age_s = 86400;
  free(page);
  return U_CALLBACK_CONTINUE;
}
