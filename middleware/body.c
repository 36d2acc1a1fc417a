#include "middleware/body.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "middleware/problem.h"

/* True for "application/json", any case, alone or followed by parameters,
 * of which only charset=utf-8 is allowed (JSON is UTF-8). */
static bool is_json_media_type(const char *value) {
  static const char JSON[] = "application/json";
  const char *rest;

  if (value == NULL || strncasecmp(value, JSON, sizeof(JSON) - 1) != 0) {
    return false;
  }
  rest = value + sizeof(JSON) - 1;
  while (*rest == ' ') {
    rest++;
  }
  if (*rest == '\0') {
    return true;
  }
  if (*rest != ';') {
    return false;
  }
  rest++;
  while (*rest == ' ') {
    rest++;
  }
  return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=\"utf-8\"") == 0;
}

json_t *request_json_body(const struct _u_request *request, struct _u_response *response) {
  const char *type = u_map_get_case(request->map_header, "Content-Type");
  json_error_t error;
  json_t *j_body;

  if (!is_json_media_type(type)) {
    problem_send(response, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                 "The body must be JSON, sent with Content-Type: application/json.");
    return NULL;
  }
  if (request->binary_body == NULL || request->binary_body_length == 0) {
    problem_send(response, PROBLEM_INVALID_REQUEST, "A JSON body is required.");
    return NULL;
  }
  j_body =
      json_loadb(request->binary_body, request->binary_body_length, JSON_REJECT_DUPLICATES, &error);
  if (j_body == NULL) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The body is not valid JSON (line %d, column %d): %s", error.line, error.column,
                 error.text);
  }
  return j_body;
}
