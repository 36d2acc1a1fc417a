#include "routes/cached_read.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "routes/context.h"
#include "lib/gzip.h"
#include "middleware/audit.h"
#include "middleware/encoding.h"
#include "middleware/problem.h"
#include "middleware/rate_limit.h"
#include "middleware/request.h"
#include "models/db.h"
#include "routes/etag.h"

/* The longest answer a cached gzip body may inflate to: a page of 100
 * purchases is well under it. */
#define CACHED_BODY_MAX (8 * 1024 * 1024)

/* 304s: [0] after a database read, [1] from the cache alone. */
static atomic_ullong not_modified[2];

/* 200 with the body, or 304 without it; the ETag of the representation
 * sent (its gzip variant when the body goes, or would go, compressed) and
 * the revalidation headers either way (request_finish() writes
 * Cache-Control and Vary). A gzip value goes as it is to a caller that
 * takes gzip, inflated to one that does not. */
static void answer_value(struct _u_response *response, const struct cache_value *value,
                         bool not_modified_answer) {
  struct request_ctx *ctx = request_ctx_of(response);
  bool gzip_ok = ctx != NULL && ctx->gzip_ok;
  bool coded = gzip_ok && (value->gzip || value->body_len >= GZIP_MIN_LENGTH);
  char etag[CACHE_ETAG_MAX + sizeof(ETAG_GZIP_SUFFIX)];
  unsigned char *text = NULL;
  size_t text_len = 0;

  /* An identity body that request_finish() compresses gets its variant
   * there; the tag set here is the one of what is sent, or would be. */
  if (!(coded && (not_modified_answer || value->gzip)) ||
      !encoding_etag_variant(value->etag, etag, sizeof(etag))) {
    snprintf(etag, sizeof(etag), "%s", value->etag);
  }
  if (not_modified_answer) {
    request_answer_empty(response, 304);
  } else if (!value->gzip || gzip_ok) {
    request_answer_json_bytes(response, 200, value->body, value->body_len, value->gzip);
  } else if (gzip_decompress(value->body, value->body_len, CACHED_BODY_MAX, &text, &text_len)) {
    request_answer_json_bytes(response, 200, text, text_len, false);
    free(text);
  } else {
    problem_send(response, PROBLEM_INTERNAL, "The response could not be written.");
    return;
  }
  u_map_put(response->map_header, "ETag", etag);
  if (ctx != NULL) {
    ctx->revalidate = true;
  }
}

/* The cached answer of read's key, if there is one. A worker that will
 * hand a miss off leaves it to the second pass to count and wait for. */
static const struct cache_entry *look_up(const struct purchases_context *app,
                                         struct cached_read *read) {
  const struct cache_entry *entry;

  cache_key_pack(&read->packed, read->key, read->key_len);
  if (request_may_defer()) {
    return cache_get_hit(app->cache, &read->packed, &read->version);
  }
  entry = cache_get(app->cache, &read->packed, &read->version);
  /* Another request may be reading this very answer: wait for it rather
   * than send the database the same query again. Not on a worker answering
   * a hand-off that expired: it waits on no database read, its own or
   * another's, and sheds the miss. */
  if (entry == NULL && !db_refusing_slots()) {
    read->claimed = cache_claim(app->cache, &read->packed, app->coalesce_wait_ms);
    if (!read->claimed) {
      entry = cache_get(app->cache, &read->packed, &read->version);
    }
  }
  return entry;
}

bool cached_read_begin(const struct purchases_context *app, const struct _u_request *request,
                       struct _u_response *response, struct cached_read *read,
                       cached_read_decorate decorate) {
  struct request_ctx *ctx = request_ctx_of(response);
  const struct cache_entry *entry = NULL;
  struct cache_value value;
  bool match;

  read->if_none_match = u_map_get_case(request->map_header, "If-None-Match");
  if (etag_if_none_match(read->if_none_match, "\"\"") == ETAG_MALFORMED) {
    problem_send_invalid(
        response, PROBLEM_ABOUT_HEADER, "If-None-Match",
        "The If-None-Match header must be * or a comma-separated list of entity tags "
        "such as \"l0f3a...\" or W/\"v2\" (RFC 9110).");
    return true;
  }
  /* On an epoll worker, what waits on the database (an audit record to
   * write, a miss) is handed off. */
  if (audit_is_required(ctx) && rate_limit_defer(request, response, app->rate_limit)) {
    return true;
  }
  read->usable = app->cache != NULL && versions_read(app->versions, read->user_id, &read->version);
  if (read->usable) {
    entry = look_up(app, read);
  }
  /* A miss, the cache off or the user's version unknown: the database. */
  if (entry == NULL && rate_limit_defer(request, response, app->rate_limit)) {
    return true;
  }
  if (entry == NULL) {
    return !rate_limit_settle(request, response, app->rate_limit);
  }
  value = cache_entry_value(entry);
  match = etag_if_none_match(read->if_none_match, value.etag) == ETAG_MATCH;
  if (match && !audit_is_required(ctx)) {
    /* Nothing read, nothing written: free for the caller too. */
    rate_limit_spare(request, response, app->rate_limit);
    answer_value(response, &value, true);
    atomic_fetch_add_explicit(&not_modified[1], 1, memory_order_relaxed);
  } else if (rate_limit_settle(request, response, app->rate_limit)) {
    answer_value(response, &value, match);
    if (match) {
      atomic_fetch_add_explicit(&not_modified[1], 1, memory_order_relaxed);
    } else if (decorate != NULL) {
      decorate(request, response, value.extra);
    }
  }
  cache_release(app->cache, entry);
  return true;
}

bool cached_read_answer(const struct purchases_context *app, struct _u_response *response,
                        struct cached_read *read, const struct cache_value *value) {
  struct request_ctx *ctx = request_ctx_of(response);
  bool match = etag_if_none_match(read->if_none_match, value->etag) == ETAG_MATCH;
  struct cache_value stored = *value;
  unsigned char *compressed = NULL;
  size_t compressed_len = 0;

  /* Kept compressed: most callers take gzip, and it holds several times
   * more answers in the same bytes. */
  if (read->usable) {
    if (value->body_len >= GZIP_MIN_LENGTH &&
        gzip_compress(value->body, value->body_len, 6, &compressed, &compressed_len)) {
      stored.body = (const char *)compressed;
      stored.body_len = compressed_len;
      stored.gzip = true;
    }
    cache_put(app->cache, &read->packed, &read->version, &stored);
    cached_read_end(app, read);
  }
  answer_value(response, ctx != NULL && ctx->gzip_ok ? &stored : value, match);
  free(compressed);
  if (match) {
    atomic_fetch_add_explicit(&not_modified[0], 1, memory_order_relaxed);
  }
  return !match;
}

void cached_read_end(const struct purchases_context *app, struct cached_read *read) {
  if (read->claimed) {
    cache_claim_end(app->cache, &read->packed);
    read->claimed = false;
  }
}

void cached_read_write_metrics(FILE *out) {
  fprintf(out,
          "# HELP purchases_not_modified_total 304 answers to If-None-Match, by where the "
          "answer came from.\n"
          "# TYPE purchases_not_modified_total counter\n"
          "purchases_not_modified_total{source=\"cache\"} %llu\n"
          "purchases_not_modified_total{source=\"database\"} %llu\n",
          (unsigned long long)atomic_load(&not_modified[1]),
          (unsigned long long)atomic_load(&not_modified[0]));
}
