#ifndef PURCHASES_MIDDLEWARE_QUERY_H
#define PURCHASES_MIDDLEWARE_QUERY_H

#include <stdbool.h>
#include <stddef.h>

/* Limits on a query string; beyond them a request is a 400. */
#define QUERY_PARAMS_MAX 16
#define QUERY_NAME_MAX   32
#define QUERY_VALUE_MAX  512

struct query_param {
  char name[QUERY_NAME_MAX + 1];
  char value[QUERY_VALUE_MAX + 1];
};

/* A query string, split and decoded exactly once. */
struct query_params {
  size_t count;
  struct query_param params[QUERY_PARAMS_MAX];
};

/* Why a query string was refused: the parameter it is about ("" when it
 * is the query string as a whole, e.g. an empty segment or too many
 * parameters) and one sentence naming it. The caller's. */
struct query_error {
  char name[QUERY_NAME_MAX + 1];
  char detail[320];
};

/* Parses the raw query string `raw` (the part after '?', still encoded;
 * NULL or "" for none): '&' separates parameters, the first '=' splits name
 * from value, "%XX" and '+' (a space) are decoded once. Refuses, with the
 * parameter and a one-sentence reason in *error: an empty segment, a
 * name without a value or with an empty one, a repeated name, a malformed
 * escape, a value that is not UTF-8 or holds control characters, and more
 * than QUERY_PARAMS_MAX parameters or longer names or values than allowed. */
bool query_params_parse(const char *raw, struct query_params *out, struct query_error *error);

/* The value of parameter `name`, or NULL when the query has none. */
const char *query_params_get(const struct query_params *params, const char *name);

/* The raw query string of `url` (after '?'), or NULL when it has none. */
const char *query_string_of(const char *url);

/* True when `s` is valid UTF-8 without control characters (C0, DEL, C1). */
bool text_is_clean_utf8(const char *s);

#endif
