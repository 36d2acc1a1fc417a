#include "middleware/body.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "lib/http_syntax.h"
#include "lib/words.h"
#include "middleware/problem.h"

/* OWS of RFC 9110: spaces and tabs. */
static const char *skip_ows(const char *p) {
  while (http_is_ows(*p)) {
    p++;
  }
  return p;
}

/* True for "application/json", any case, alone or with parameters
 * (RFC 9110 section 8.3.1: *( OWS ";" OWS [ parameter ] ), so an empty one
 * is allowed), of which only charset=utf-8 may be given (JSON is UTF-8). */
static bool is_json_media_type(const char *value) {
  static const char JSON[] = "application/json";
  static const char *const UTF8[] = {"charset=utf-8", "charset=\"utf-8\""};
  const char *rest;

  if (value == NULL || strncasecmp(value, JSON, sizeof(JSON) - 1) != 0) {
    return false;
  }
  rest = skip_ows(value + sizeof(JSON) - 1);
  while (*rest == ';') {
    size_t len;
    bool known = false;
    rest = skip_ows(rest + 1);
    len = strcspn(rest, " \t;");
    for (size_t i = 0; i < sizeof(UTF8) / sizeof(UTF8[0]); i++) {
      known = known || (len == strlen(UTF8[i]) && strncasecmp(rest, UTF8[i], len) == 0);
    }
    if (len > 0 && !known) {
      return false;
    }
    rest = skip_ows(rest + len);
  }
  return *rest == '\0';
}

/* True for no Content-Encoding, an empty list of codings, or "identity";
 * libmicrohttpd keeps a value's trailing white space. */
static bool is_identity_coding(const char *value) {
  const char *start = value != NULL ? skip_ows(value) : "";
  size_t len = strlen(start);

  while (len > 0 && http_is_ows(start[len - 1])) {
    len--;
  }
  return len == 0 || (len == 8 && strncasecmp(start, "identity", 8) == 0);
}

/* Whether the first byte after white space opens an object or an array. */
static bool starts_a_document(const void *body, size_t len) {
  const char *bytes = body;
  size_t i = 0;

  while (i < len && strchr(" \t\r\n", bytes[i]) != NULL && bytes[i] != '\0') {
    i++;
  }
  return i < len && (bytes[i] == '{' || bytes[i] == '[');
}

json_t *request_json_body(const struct _u_request *request, struct _u_response *response) {
  const char *type = u_map_get_case(request->map_header, "Content-Type");
  json_error_t error;
  json_t *j_body;

  const char *coding = u_map_get_case(request->map_header, "Content-Encoding");

  if (!is_json_media_type(type)) {
    problem_send(response, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                 "The body must be JSON, sent with Content-Type: application/json.");
    return NULL;
  }
  /* A coded body read as plain JSON would be read wrong, or a mislabelled
   * one right by luck: neither is what the caller said (RFC 9110 8.4). */
  if (!is_identity_coding(coding)) {
    problem_send(response, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                 "The body must not be content-coded: send the JSON without Content-Encoding.");
    u_map_put(response->map_header, "Accept-Encoding", "identity");
    return NULL;
  }
  if (request->binary_body == NULL || request->binary_body_length == 0) {
    problem_send(response, PROBLEM_INVALID_REQUEST, "A JSON body is required.");
    return NULL;
  }
  j_body =
      json_loadb(request->binary_body, request->binary_body_length, JSON_REJECT_DUPLICATES, &error);
  if (j_body == NULL && json_error_code(&error) == json_error_out_of_memory) {
    problem_send(response, PROBLEM_INTERNAL, "The body could not be read.");
  } else if (j_body == NULL &&
             !starts_a_document(request->binary_body, request->binary_body_length)) {
    /* jansson takes only an object or an array at the top; "42" is JSON. */
    problem_send(response, PROBLEM_INVALID_REQUEST, "The body must be a JSON object.");
  } else if (j_body == NULL) {
    problem_send(response, PROBLEM_INVALID_REQUEST,
                 "The body is not valid JSON (line %d, column %d): %s.", error.line, error.column,
                 words_json_fault(&error));
  } else if (!json_is_object(j_body)) {
    /* An array is refused as a number or a string is: every body is one
     * object. */
    problem_send(response, PROBLEM_INVALID_REQUEST, "The body must be a JSON object.");
    json_decref(j_body);
    j_body = NULL;
  }
  return j_body;
}
