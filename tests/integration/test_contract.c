/* The contract: GET /openapi.json against the running server. Every route
 * the server answers is documented, and every documented operation, called
 * as a caller would, answers with a documented status and content type
 * (and the documented required members); then the /docs page, rendered by
 * headless Chromium, lists the operations. */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/harness.h"
#include "lib/gzip.h"
#include "middleware/problem.h"
#include "routes/list_params.h"
#include "routes/routes.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;
static json_t *j_doc;

static void setup(void) {
  struct http_response r;
  bson_t *doc = fixture_purchase("contract-p1", "cora", 1700000000000LL);
  const bson_t *docs[] = {doc};

  ck_assert(ferretdb_start(&db, "contract"));
  ck_assert(db_insert(db.uri, docs, 1));
  bson_destroy(doc);
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  ck_assert(http_request(server.port, "GET", "/openapi.json", NULL, &r));
  ck_assert_int_eq(r.status, 200);
  j_doc = json_incref(r.j_body);
  ck_assert_ptr_nonnull(j_doc);
  http_response_cleanup(&r);
}

static void teardown(void) {
  json_decref(j_doc);
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* Follows a local "$ref" ("#/components/responses/X") once, if there is one. */
static json_t *resolve(json_t *j_value) {
  const char *ref = json_string_value(json_object_get(j_value, "$ref"));
  char path[256];
  json_t *j_at = j_doc;

  if (ref == NULL || strncmp(ref, "#/", 2) != 0) {
    return j_value;
  }
  snprintf(path, sizeof(path), "%s", ref + 2);
  for (char *part = strtok(path, "/"); part != NULL && j_at != NULL; part = strtok(NULL, "/")) {
    j_at = json_object_get(j_at, part);
  }
  ck_assert_msg(j_at != NULL, "dangling $ref %s", ref);
  return j_at;
}

/* "/user/:userId" as OpenAPI writes it: "/user/{userId}". */
static void openapi_path(const char *pattern, char *out, size_t len) {
  size_t n = 0;
  for (const char *p = pattern; *p != '\0' && n + 2 < len;) {
    if (*p == ':') {
      size_t name = strcspn(p + 1, "/");
      n += (size_t)snprintf(out + n, len - n, "{%.*s}", (int)name, p + 1);
      p += 1 + name;
    } else {
      out[n++] = *p++;
    }
  }
  out[n] = '\0';
}

START_TEST(every_route_the_server_answers_is_documented) {
  json_t *j_paths = json_object_get(j_doc, "paths");
  ck_assert_str_eq(json_string_value(json_object_get(j_doc, "openapi")), "3.1.0");
  for (size_t i = 0; i < routes_count(); i++) {
    const char *method;
    const char *pattern;
    char path[128];
    char lower[16];
    routes_get(i, &method, &pattern);
    openapi_path(pattern, path, sizeof(path));
    for (size_t c = 0; c < sizeof(lower) - 1; c++) {
      lower[c] = (char)tolower((unsigned char)method[c]);
      if (method[c] == '\0') {
        break;
      }
    }
    lower[sizeof(lower) - 1] = '\0';
    ck_assert_msg(json_object_get(json_object_get(j_paths, path), lower) != NULL,
                  "%s %s is served but not in the OpenAPI document", method, path);
  }
}
END_TEST

/* How a caller would call each documented operation: identity, body. */
struct call {
  const char *client;
  const char *user;
  const char *body;
};

static struct call call_for(const char *operation_id) {
  static const char PURCHASE[] =
      "{\"userId\": \"cora\", \"status\": \"placed\", \"items\": [{\"id\": \"kettle\", \"title\": "
      "\"Kettle\", \"brand\": \"Hearthware\", \"imgUrl\": null, \"currency\": \"GBP\", "
      "\"pricePerUnitPence\": 1500, \"quantity\": 1, \"priceTotalPence\": 1500}], "
      "\"pricePence\": 1500, \"currency\": \"GBP\", \"datePurchased\": \"2024-05-01\", "
      "\"payment\": {\"method\": \"card\", \"lastDigits\": \"1234\", \"receiptUrl\": null}, "
      "\"delivery\": {\"method\": \"standard\", \"storeLocation\": null, \"dateDelivered\": "
      "null}}";
  if (strcmp(operation_id, "listAuditRecords") == 0) {
    return (struct call){"customer-support", "agent", NULL};
  }
  if (strcmp(operation_id, "createPurchase") == 0) {
    return (struct call){"checkout", "svc", PURCHASE};
  }
  if (strcmp(operation_id, "changePurchaseStatus") == 0) {
    return (struct call){"checkout", "svc", "{\"status\": \"paid\"}"};
  }
  return (struct call){"shop", "cora", NULL};
}

/* How the operation is sent: as documented, without identity, or with a
 * fault of the caller's that every route answers alike. */
struct variant {
  bool with_identity;
  const char *query;  /* appended to the path, or NULL */
  const char *header; /* one more header, or NULL */
  long expect;        /* the status it must get, or 0 for any documented one */
};

/* Sends the operation as the variant says and checks the answer against
 * the contract: a status it documents, with the media type it documents. */
static void check_operation(const char *path, const char *method, json_t *j_operation,
                            const struct variant *variant) {
  bool with_identity = variant->with_identity;
  json_t *j_responses = json_object_get(j_operation, "responses");
  const char *operation_id = json_string_value(json_object_get(j_operation, "operationId"));
  struct call call = call_for(operation_id);
  bool secured = json_array_size(json_object_get(j_operation, "security")) > 0 ||
                 json_object_get(j_operation, "security") == NULL;
  char url[320];
  char upper[16];
  char client[96];
  char user[96];
  const char *headers[5] = {NULL, NULL, NULL, NULL, NULL};
  struct http_response r;
  char status[8];
  char type[96] = "";

  /* Path parameters: the seeded customer and purchase. */
  snprintf(url, sizeof(url), "%s", path);
  char *brace;
  while ((brace = strchr(url, '{')) != NULL) {
    char *close = strchr(brace, '}');
    char rest[256];
    const char *value = strncmp(brace, "{userId}", 8) == 0 ? "cora" : "contract-p1";
    snprintf(rest, sizeof(rest), "%s", close + 1);
    snprintf(brace, sizeof(url) - (size_t)(brace - url), "%s%s", value, rest);
  }
  if (variant->query != NULL) {
    strncat(url, variant->query, sizeof(url) - strlen(url) - 1);
  }
  for (size_t i = 0; i < sizeof(upper); i++) {
    upper[i] = (char)toupper((unsigned char)method[i]);
    if (method[i] == '\0') {
      break;
    }
  }
  if (secured && with_identity) {
    snprintf(client, sizeof(client), "x-client-id: %s", call.client);
    snprintf(user, sizeof(user), "x-user-id: %s", call.user);
    headers[0] = client;
    headers[1] = user;
    headers[2] = call.body != NULL ? "Content-Type: application/json" : NULL;
  }
  headers[headers[0] == NULL ? 0 : headers[2] == NULL ? 2 : 3] = variant->header;
  ck_assert(
      http_request_body(server.port, upper, url, headers, with_identity ? call.body : NULL, &r));
  snprintf(status, sizeof(status), "%ld", r.status);
  if (variant->expect != 0) {
    ck_assert_msg(r.status == variant->expect, "%s %s%s answered %ld, not %ld: %s", upper, url,
                  variant->header != NULL ? " (a header over 8 KiB)" : "", r.status,
                  variant->expect, r.body);
  }
  json_t *j_response = json_object_get(j_responses, status);
  ck_assert_msg(j_response != NULL, "%s %s%s answered %s, which is not documented: %s", upper, url,
                with_identity ? "" : " (no identity)", status, r.body);
  j_response = resolve(j_response);
  http_header(&r, "Content-Type", type, sizeof(type));
  type[strcspn(type, ";")] = '\0';
  json_t *j_content = json_object_get(j_response, "content");
  if (j_content != NULL) {
    json_t *j_media = json_object_get(j_content, type);
    ck_assert_msg(j_media != NULL, "%s %s: %s answered as %s, not as documented", upper, url,
                  status, type);
    json_t *j_schema = resolve(json_object_get(j_media, "schema"));
    size_t i;
    json_t *j_name;
    json_array_foreach(json_object_get(j_schema, "required"), i, j_name) {
      ck_assert_msg(json_object_get(r.j_body, json_string_value(j_name)) != NULL,
                    "%s %s: %s lacks the required member %s", upper, url, status,
                    json_string_value(j_name));
    }
  }
  http_response_cleanup(&r);
}

/* Every operation, probes and the service's own files too, sent as
 * documented, without identity, and with two faults of the caller's (a
 * malformed percent-encoding, a header over 8 KiB): each answer's status
 * and media type are in the contract, and the faults get 400 and 431
 * everywhere. */
START_TEST(every_documented_operation_answers_as_documented) {
  json_t *j_paths = json_object_get(j_doc, "paths");
  const char *path;
  json_t *j_item;
  int operations = 0;
  char *big = malloc(9 * 1024);
  ck_assert_ptr_nonnull(big);
  memset(big, 'a', 9 * 1024 - 1);
  memcpy(big, "X-Pad: ", 7);
  big[9 * 1024 - 1] = '\0';
  const struct variant variants[] = {
      {.with_identity = true},
      {.with_identity = false},
      {.with_identity = true, .query = "?a=%ZZ", .expect = 400},
      {.with_identity = true, .header = big, .expect = 431},
  };

  json_object_foreach(j_paths, path, j_item) {
    const char *method;
    json_t *j_operation;
    json_object_foreach(j_item, method, j_operation) {
      for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        check_operation(path, method, j_operation, &variants[v]);
      }
      operations++;
    }
  }
  free(big);
  ck_assert_int_ge(operations, 11);
}
END_TEST

/* The problem table (middleware/problem.c) and the contract's Problem
 * type name the same problem types: one the service can answer that the
 * contract lacks fails, and so does a documented one the table has not. */
START_TEST(the_problem_table_is_the_contract) {
  json_t *j_types = json_object_get(
      json_object_get(
          json_object_get(
              json_object_get(json_object_get(json_object_get(j_doc, "components"), "schemas"),
                              "Problem"),
              "properties"),
          "type"),
      "enum");
  size_t i;
  json_t *j_type;

  ck_assert_uint_gt(json_array_size(j_types), 0);
  for (int type = PROBLEM_INVALID_REQUEST; type <= PROBLEM_NOT_IMPLEMENTED; type++) {
    json_t *j_problem = problem_build((enum problem_type)type, "x", NULL);
    const char *uri = json_string_value(json_object_get(j_problem, "type"));
    bool documented = false;
    ck_assert_ptr_nonnull(uri);
    json_array_foreach(j_types, i, j_type) {
      documented = documented || strcmp(json_string_value(j_type), uri) == 0;
    }
    ck_assert_msg(documented, "problem type %s is not in the contract's Problem.type", uri);
    json_decref(j_problem);
  }
  json_array_foreach(j_types, i, j_type) {
    const char *uri = json_string_value(j_type);
    unsigned int status;
    const char *title;
    const char *description;
    ck_assert_msg(uri != NULL && strncmp(uri, "/problems/", 10) == 0 &&
                      problem_describe(uri + 10, &status, &title, &description),
                  "the contract's problem type %s is not in the problem table",
                  uri != NULL ? uri : "(not a string)");
  }
}
END_TEST

/* The query parameters the contract gives GET /user/{userId} (after
 * following each $ref): a borrowed array of parameter objects. */
static json_t *list_query_parameters(void) {
  json_t *j_operation =
      json_object_get(json_object_get(json_object_get(j_doc, "paths"), "/user/{userId}"), "get");
  json_t *j_query = json_array();
  size_t i;
  json_t *j_param;
  ck_assert_ptr_nonnull(j_operation);
  json_array_foreach(json_object_get(j_operation, "parameters"), i, j_param) {
    json_t *j_resolved = resolve(j_param);
    const char *in = json_string_value(json_object_get(j_resolved, "in"));
    if (in != NULL && strcmp(in, "query") == 0) {
      json_array_append(j_query, j_resolved);
    }
  }
  return j_query;
}

/* The list-parameter table (routes/list_params.c) and the contract name the
 * same parameters: a row the contract lacks fails, and so does a contract
 * parameter no row reads. */
START_TEST(the_list_parameter_table_is_the_contract) {
  json_t *j_query = list_query_parameters();
  const char *name;
  size_t i;
  json_t *j_param;

  for (size_t row = 0; (name = list_params_name(row)) != NULL; row++) {
    bool found = false;
    json_array_foreach(j_query, i, j_param) {
      found = found || strcmp(json_string_value(json_object_get(j_param, "name")), name) == 0;
    }
    ck_assert_msg(found, "list parameter %s is read but not in api/openapi.json", name);
  }
  json_array_foreach(j_query, i, j_param) {
    const char *documented = json_string_value(json_object_get(j_param, "name"));
    ck_assert_ptr_nonnull(documented);
    ck_assert_msg(list_params_find(documented) != NULL,
                  "api/openapi.json documents ?%s, which GET /user/:userId does not read",
                  documented);
  }
  ck_assert_uint_gt(json_array_size(j_query), 0);
  json_decref(j_query);
}
END_TEST

/* Loads /docs in headless Chromium and returns the rendered DOM (the caller
 * frees it), or NULL when Chromium did not run. */
static char *render_docs(const char *screenshot) {
  char url[64];
  char out_path[192];
  char shot_arg[160];
  int status = 0;
  pid_t pid;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d/docs", server.port);
  snprintf(out_path, sizeof(out_path), "%s/purchases-docs-%d.html", harness_tmp(), (int)getpid());
  snprintf(shot_arg, sizeof(shot_arg), "--screenshot=%s", screenshot != NULL ? screenshot : "");
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null_fd = open("/dev/null", O_WRONLY);
    char *argv[] = {"chromium",
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-dev-shm-usage",
                    "--virtual-time-budget=15000",
                    "--window-size=1280,900",
                    screenshot != NULL ? shot_arg : "--dump-dom",
                    url,
                    NULL};
    if (fd < 0 || null_fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(null_fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    execvp("chromium", argv);
    _exit(127);
  }
  for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
    if (waited == 900) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      unlink(out_path);
      return NULL;
    }
    usleep(100000);
  }
  FILE *file = fopen(out_path, "rb");
  char *text = NULL;
  if (file != NULL) {
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, file) != (size_t)size) {
      free(text);
      text = NULL;
    }
    fclose(file);
  }
  unlink(out_path);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? text : (free(text), NULL);
}

/* The service's own files: compressed once, kept by any cache for a while,
 * revalidated with their ETag. */
START_TEST(the_docs_files_are_cached_and_compressed) {
  const char *paths[] = {"/docs/redoc.standalone.js", "/openapi.json", "/docs"};
  const char *ages[] = {"public, max-age=86400", "public, max-age=300", "public, max-age=300"};
  for (size_t i = 0; i < 3; i++) {
    struct http_response plain;
    struct http_response packed;
    struct http_response again;
    char etag[96];
    char header[128];
    char buf[96];
    unsigned char *text = NULL;
    size_t text_len = 0;
    const char *gzip[] = {"Accept-Encoding: gzip", NULL};

    ck_assert(http_request(server.port, "GET", paths[i], NULL, &plain));
    ck_assert_int_eq(plain.status, 200);
    ck_assert_str_eq(http_header(&plain, "Cache-Control", buf, sizeof(buf)), ages[i]);
    ck_assert_ptr_null(http_header(&plain, "Content-Encoding", buf, sizeof(buf)));
    ck_assert(http_request(server.port, "GET", paths[i], gzip, &packed));
    if (plain.body_len >= 1024) {
      ck_assert_str_eq(http_header(&packed, "Content-Encoding", buf, sizeof(buf)), "gzip");
      ck_assert(gzip_decompress(packed.body, packed.body_len, 8 << 20, &text, &text_len));
      ck_assert_uint_eq(text_len, plain.body_len);
      ck_assert_int_eq(memcmp(text, plain.body, text_len), 0);
      free(text);
    } else {
      /* The page itself is shorter than a gzip is worth. */
      ck_assert_ptr_null(http_header(&packed, "Content-Encoding", buf, sizeof(buf)));
    }
    ck_assert_ptr_nonnull(http_header(&packed, "ETag", etag, sizeof(etag)));
    snprintf(header, sizeof(header), "If-None-Match: %s", etag);
    const char *revalidate[] = {header, NULL};
    ck_assert(http_request(server.port, "GET", paths[i], revalidate, &again));
    ck_assert_int_eq(again.status, 304);
    ck_assert_str_eq(http_header(&again, "Cache-Control", buf, sizeof(buf)), ages[i]);
    /* The 304 says what the 200 said about who may share it: a cache
     * that kept the gzip variant must not hand it to the plain caller. */
    if (http_header(&packed, "Vary", buf, sizeof(buf)) != NULL) {
      char vary[96];
      ck_assert_ptr_nonnull(http_header(&again, "Vary", vary, sizeof(vary)));
      ck_assert_str_eq(vary, buf);
    }
    http_response_cleanup(&again);
    http_response_cleanup(&packed);
    http_response_cleanup(&plain);
  }
}
END_TEST

START_TEST(the_docs_page_lists_every_operation_in_a_real_browser) {
  char *dom = render_docs(NULL);
  json_t *j_paths = json_object_get(j_doc, "paths");
  const char *path;
  json_t *j_item;

  ck_assert_msg(dom != NULL, "headless Chromium did not render /docs");
  /* Redoc rendered (not just the empty page we serve), with each summary. */
  ck_assert_msg(strstr(dom, "redoc-wrap") != NULL, "Redoc did not render");
  json_object_foreach(j_paths, path, j_item) {
    const char *method;
    json_t *j_operation;
    json_object_foreach(j_item, method, j_operation) {
      const char *summary = json_string_value(json_object_get(j_operation, "summary"));
      ck_assert_msg(strstr(dom, summary) != NULL, "/docs does not list \"%s\"", summary);
    }
  }
  free(dom);
}
END_TEST

Suite *suite_contract(void) {
  Suite *suite = suite_create("contract");
  TCase *tc = tcase_create("openapi");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 180);
  tcase_add_test(tc, every_route_the_server_answers_is_documented);
  tcase_add_test(tc, every_documented_operation_answers_as_documented);
  tcase_add_test(tc, the_list_parameter_table_is_the_contract);
  tcase_add_test(tc, the_problem_table_is_the_contract);
  tcase_add_test(tc, the_docs_files_are_cached_and_compressed);
  tcase_add_test(tc, the_docs_page_lists_every_operation_in_a_real_browser);
  suite_add_tcase(suite, tc);
  return suite;
}
