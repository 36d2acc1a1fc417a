#ifndef PURCHASES_MIDDLEWARE_PROBLEM_H
#define PURCHASES_MIDDLEWARE_PROBLEM_H

#include <stdbool.h>

#include <jansson.h>
#include <ulfius.h>

#include "models/status.h"

/* Every error the service answers, as an RFC 9457 problem type. */
enum problem_type {
  PROBLEM_INVALID_REQUEST,        /* 400 */
  PROBLEM_UNAUTHENTICATED,        /* 401 */
  PROBLEM_FORBIDDEN,              /* 403 */
  PROBLEM_NOT_FOUND,              /* 404 */
  PROBLEM_METHOD_NOT_ALLOWED,     /* 405 */
  PROBLEM_UNAVAILABLE,            /* 503, with Retry-After */
  PROBLEM_INTERNAL,               /* 500; the detail never shows internals */
  PROBLEM_TOO_MANY_REQUESTS,      /* 429, with Retry-After */
  PROBLEM_BODY_NOT_ALLOWED,       /* 413: these routes take no body */
  PROBLEM_URI_TOO_LONG,           /* 414 */
  PROBLEM_HEADERS_TOO_LARGE,      /* 431 */
  PROBLEM_CONFLICT,               /* 409: the change clashes with the current state */
  PROBLEM_PRECONDITION_FAILED,    /* 412: If-Match no longer matches */
  PROBLEM_BODY_TOO_LARGE,         /* 413: a body over REQUEST_BODY_MAX */
  PROBLEM_UNSUPPORTED_MEDIA_TYPE, /* 415: a body that is not JSON */
  PROBLEM_INVALID_PURCHASE,       /* 422: parses, but breaks the rules; lists each field */
  PROBLEM_NOT_IMPLEMENTED         /* 501: a method or transfer coding this server does not know */
};

/* Seconds a client is told to wait after a 503. */
#define PROBLEM_RETRY_AFTER_S "2"

/* The HTTP status of a problem type. */
unsigned int problem_status(enum problem_type type);

/* The status, title and description of the problem type whose URI is
 * /problems/<slug>; false for a slug that names none. */
bool problem_describe(const char *slug, unsigned int *status, const char **title,
                      const char **description);

/* Builds the problem document: type, title, status, detail and, when given,
 * requestId. Returns a new reference the caller owns, NULL when out of
 * memory. */
json_t *problem_build(enum problem_type type, const char *detail, const char *request_id);

/* Answers the request with a problem+json body whose detail is the
 * printf-style message (cut at 512 bytes), and marks it answered. The only
 * place error responses are written. */
void problem_send(struct _u_response *response, enum problem_type type, const char *detail_format,
                  ...) __attribute__((format(printf, 3, 4)));

/* The same with the members of j_extra (an object, borrowed) added to the
 * problem document, e.g. the "errors" of a 422. */
void problem_send_extra(struct _u_response *response, enum problem_type type, const json_t *j_extra,
                        const char *detail_format, ...) __attribute__((format(printf, 4, 5)));

/* What a 400 is about, for the `errors` member a program can act on (as a
 * 422 lists JSON pointers): a query or path parameter, or a header. */
enum problem_subject {
  PROBLEM_ABOUT_QUERY,  /* {"parameter": NAME, "in": "query", "detail": ...} */
  PROBLEM_ABOUT_PATH,   /* {"parameter": NAME, "in": "path", "detail": ...} */
  PROBLEM_ABOUT_HEADER, /* {"header": NAME, "detail": ...} */
};

/* One entry of `errors`: the subject, `name` (shown in printable ASCII, at
 * most 64 bytes; left out when NULL or empty, e.g. for a query string that
 * is wrong as a whole) and `detail`. A new reference, NULL when out of
 * memory. */
json_t *problem_error_entry(enum problem_subject subject, const char *name, const char *detail);

/* Answers 400 with the printf-style detail and an `errors` array of one
 * entry about `name`, whose detail is the same sentence. */
void problem_send_invalid(struct _u_response *response, enum problem_subject subject,
                          const char *name, const char *detail_format, ...)
    __attribute__((format(printf, 4, 5)));

/* The answer when a store call failed: 503 with Retry-After when the
 * database cannot be reached, else 500. */
void problem_send_store_failure(struct _u_response *response, enum model_status status);

#endif
