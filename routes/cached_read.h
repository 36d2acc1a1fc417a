#ifndef PURCHASES_ROUTES_CACHED_READ_H
#define PURCHASES_ROUTES_CACHED_READ_H

/* What the two reads the response cache serves (a list page, one
 * purchase) share: If-None-Match, the lookup, the answer with its ETag,
 * and storing what the database gave. See docs/caching.md.
 *
 *   struct cached_read read = {0};           // at the top: cached_read_end() is in done:
 *   read.key = &key; read.key_len = sizeof(key); read.user_id = ...;
 *   if (cached_read_begin(app, request, response, &read, decorate)) goto done;  // answered
 *   ... read the database, write the body ...
 *   if (cached_read_answer(app, response, &read, &value)) decorate(...);
 * done:
 *   cached_read_end(app, &read);
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <ulfius.h>

#include "models/cache.h"

struct purchases_context;

struct cached_read {
  const void *key; /* every byte that decides the answer, the role included */
  size_t key_len;
  const char *user_id; /* whose purchases: the version that tags the entry */
  /* Filled by cached_read_begin(). */
  struct cache_key packed;     /* the key packed once, for every cache call */
  const char *if_none_match;   /* the header; NULL when absent */
  bool usable;                 /* the cache is on and the user's version is known */
  bool claimed;                /* this request reads the key for everyone waiting */
  struct user_version version; /* read before the database, when usable */
};

/* Adds what a 200 carries besides its body (a list's Link header), from
 * the value's `extra`. */
typedef void (*cached_read_decorate)(const struct _u_request *request, struct _u_response *response,
                                     const char *extra);

/* Answers from the cache when it can (200, or 304 when If-None-Match
 * matches), 400 for a malformed If-None-Match, 429 for a deferred request
 * whose bucket is empty after all. True when the request is answered;
 * false when the caller must read the database. decorate may be NULL. */
bool cached_read_begin(const struct purchases_context *app, const struct _u_request *request,
                       struct _u_response *response, struct cached_read *read,
                       cached_read_decorate decorate);

/* Answers what the database gave (`value`: body, strong ETag, extra): 200,
 * or 304 when If-None-Match matches, and keeps a copy in the cache when
 * read->usable. True when the body was sent (the caller decorates). */
bool cached_read_answer(const struct purchases_context *app, struct _u_response *response,
                        struct cached_read *read, const struct cache_value *value);

/* Ends the request's claim on its key, if it still holds one (the
 * database read failed): a caller waiting for it goes on. Idempotent. */
void cached_read_end(const struct purchases_context *app, struct cached_read *read);

/* 304 answers, from the cache and after a database read. */
void cached_read_write_metrics(FILE *out);

#endif
