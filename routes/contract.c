#include "routes/contract.h"

#include "middleware/request.h"

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

/* Answers `len` bytes of `body` as `type`. */
static void answer(struct _u_response *response, const char *type, const char *body, size_t len) {
  struct request_ctx *ctx = request_ctx_of(response);
  ulfius_set_binary_body_response(response, 200, body, len);
  u_map_put(response->map_header, "Content-Type", type);
  if (ctx != NULL) {
    ctx->answered = true;
  }
}

int callback_openapi_get(const struct _u_request *request, struct _u_response *response,
                         void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  (void)request;
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    answer(response, "application/json", openapi_json, (size_t)(openapi_json_end - openapi_json));
  }
  return U_CALLBACK_CONTINUE;
}

int callback_docs_get(const struct _u_request *request, struct _u_response *response,
                      void *user_data) {
  struct request_ctx *ctx = request_ctx_of(response);
  (void)request;
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    answer(response, "text/html; charset=utf-8", DOCS_PAGE, sizeof(DOCS_PAGE) - 1);
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
  (void)request;
  (void)user_data;
  if (ctx != NULL && !ctx->answered) {
    answer(response, "application/javascript; charset=utf-8", redoc_js,
           (size_t)(redoc_js_end - redoc_js));
  }
  return U_CALLBACK_CONTINUE;
}
