#include "routes/contract.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/gzip.h"
#include "middleware/encoding.h"
#include "middleware/problem.h"
#include "middleware/request.h"
#include "routes/etag.h"

/* The two files, placed in the binary by the assembler: no run-time path
 * to get wrong, and the contract served is the one the binary was built
 * with. Each is followed by a NUL so it can also be read as text. */
#define EMBED(symbol, path)                                                                        \
  __asm__(".section .rodata\n"                                                                     \
          ".global " #symbol "\n"                                                                  \
          ".balign 16\n" #symbol ":\n"                                                             \
          ".incbin \"" path "\"\n"                                                                 \
          ".global " #symbol "_end\n" #symbol "_end:\n"                                            \
          ".byte 0\n"                                                                              \
          ".previous\n")

EMBED(openapi_json, PURCHASES_OPENAPI_FILE);
EMBED(redoc_js, PURCHASES_REDOC_FILE);
extern const char openapi_json[];
extern const char openapi_json_end[];
extern const char redoc_js[];
extern const char redoc_js_end[];

static const char DOCS_PAGE[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <meta charset=\"utf-8\">\n"
    "  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "  <title>purchases API</title>\n"
    "</head>\n"
    "<body>\n"
    "  <redoc spec-url=\"/openapi.json\" hide-download-button></redoc>\n"
    "  <script src=\"/docs/redoc.standalone.js\"></script>\n"
    "</body>\n"
    "</html>\n";

/* A file the service serves as it was built: compressed once, tagged once,
 * kept by browsers and shared caches for max_age seconds and revalidated
 * with its ETag after that. */
struct asset {
  const char *bytes;
  size_t len;
  const char *type;
  uint32_t max_age_s;
  unsigned char *gzip; /* NULL when it could not be made: sent as it is */
  size_t gzip_len;
  char etag[LIST_ETAG_MAX];
};

enum { ASSET_OPENAPI, ASSET_DOCS, ASSET_SCRIPT, ASSET_COUNT };

static struct asset assets[ASSET_COUNT];
static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

static void assets_prepare(void) {
  assets[ASSET_OPENAPI] = (struct asset){openapi_json,
                                         (size_t)(openapi_json_end - openapi_json),
                                         "application/json",
                                         300,
                                         NULL,
                                         0,
                                         ""};
  assets[ASSET_DOCS] = (struct asset){
      DOCS_PAGE, sizeof(DOCS_PAGE) - 1, "text/html; charset=utf-8", 300, NULL, 0, ""};
  assets[ASSET_SCRIPT] = (struct asset){redoc_js,
                                        (size_t)(redoc_js_end - redoc_js),
                                        "application/javascript; charset=utf-8",
                                        86400,
                                        NULL,
                                        0,
                                        ""};
  for (size_t i = 0; i < ASSET_COUNT; i++) {
    struct asset *asset = &assets[i];
    if (!etag_of_body(asset->bytes, asset->len, asset->etag)) {
      asset->etag[0] = '\0';
    }
    if (asset->len >= GZIP_MIN_LENGTH &&
        !gzip_compress(asset->bytes, asset->len, 9, &asset->gzip, &asset->gzip_len)) {
      asset->gzip = NULL;
    }
  }
}

/* 200 with the asset (compressed for a caller that takes gzip), or 304
 * when If-None-Match names it; 400 for a malformed If-None-Match. */
static void serve_asset(const struct _u_request *request, struct _u_response *response,
                        size_t which) {
  struct request_ctx *ctx = request_ctx_of(response);
  const struct asset *asset;
  bool gzip;
  char etag[LIST_ETAG_MAX + sizeof(ETAG_GZIP_SUFFIX)];
  enum etag_condition condition;

  pthread_once(&assets_once, assets_prepare);
  asset = &assets[which];
  gzip = ctx->gzip_ok && asset->gzip != NULL;
  condition = etag_if_none_match(u_map_get_case(request->map_header, "If-None-Match"), asset->etag);
  if (condition == ETAG_MALFORMED) {
    problem_send_invalid(
        response, PROBLEM_ABOUT_HEADER, "If-None-Match",
        "The If-None-Match header must be * or a comma-separated list of entity tags.");
    return;
  }
  if (!gzip || !encoding_etag_variant(asset->etag, etag, sizeof(etag))) {
    snprintf(etag, sizeof(etag), "%s", asset->etag);
  }
  if (condition == ETAG_MATCH) {
    /* A 304 carries the Vary its 200 would (RFC 9110 section 15.4.5):
     * with no body, request_finish() would not add it. */
    request_answer_empty(response, 304);
    if (asset->gzip != NULL) {
      request_vary_add(response, "Accept-Encoding");
    }
  } else {
    ulfius_set_binary_body_response(response, 200, gzip ? (const char *)asset->gzip : asset->bytes,
                                    gzip ? asset->gzip_len : asset->len);
    u_map_put(response->map_header, "Content-Type", asset->type);
    if (gzip) {
      u_map_put(response->map_header, "Content-Encoding", "gzip");
    }
    ctx->answered = true;
  }
  if (etag[0] != '\0') {
    u_map_put(response->map_header, "ETag", etag);
  }
  ctx->public_max_age_s = asset->max_age_s;
}

int callback_openapi_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    serve_asset(request, response, ASSET_OPENAPI);
  }
  return U_CALLBACK_CONTINUE;
}

int callback_docs_get(const struct _u_request *request, struct _u_response *response,
                      void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    serve_asset(request, response, ASSET_DOCS);
    /* Everything from this origin: the page can load nothing from elsewhere.
     * Redoc needs inline styles and a worker made from a blob. */
    u_map_put(response->map_header, "Content-Security-Policy",
              "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "font-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'");
  }
  return U_CALLBACK_CONTINUE;
}

int callback_docs_script_get(const struct _u_request *request, struct _u_response *response,
                             void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    serve_asset(request, response, ASSET_SCRIPT);
  }
  return U_CALLBACK_CONTINUE;
}
