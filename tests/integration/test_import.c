/* purchases-import as an operator runs it: the real binary on an NDJSON
 * file, FerretDB behind it. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>
#include <sys/wait.h>

#include "../support/harness.h"
#include "suites.h"

#define DATABASE "imports"

static struct ferretdb db;
static char dir[160];

static void setup(void) {
  snprintf(dir, sizeof(dir), "%s/purchases-import.XXXXXX", harness_tmp());
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert(ferretdb_start(&db, DATABASE));
}

static void teardown(void) {
  char command[256];
  ferretdb_stop(&db, false);
  snprintf(command, sizeof(command), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(command), 0);
}

/* Runs purchases-import on `file` against `uri`; returns its exit code
 * (-1 if it ran past 60 s) and its stderr in *err (the caller frees). */
static int run_import(const char *uri, const char *file, char **err) {
  char err_path[256];
  char uri_env[256];
  long size;
  int status = 0;
  pid_t pid;

  snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
  snprintf(uri_env, sizeof(uri_env), "MONGODB_URI=%s", uri);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *const argv[] = {PURCHASES_IMPORT_BIN, "--quiet", (char *)file, NULL};
    char *const envp[] = {uri_env, "ASAN_OPTIONS=detect_leaks=1", NULL};
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    execve(PURCHASES_IMPORT_BIN, argv, envp);
    _exit(127);
  }
  for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
    if (waited == 6000) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return -1;
    }
    usleep(10000);
  }
  FILE *f = fopen(err_path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  *err = calloc(1, (size_t)size + 1);
  ck_assert_ptr_nonnull(*err);
  ck_assert_uint_eq(fread(*err, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fputs(text, f) >= 0, 1);
  fclose(f);
}

static int64_t count(const char *filter_json) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  bson_error_t error;
  bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &error);
  mongoc_collection_t *coll = mongoc_client_get_collection(client, DATABASE, "purchases");
  int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &error);
  ck_assert_msg(n >= 0, "count: %s", error.message);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  return n;
}

/* One valid line for `user`, with `id` unless NULL. */
static void valid_line(char *out, size_t len, const char *id, const char *user) {
  char id_member[64] = "";
  if (id != NULL) {
    snprintf(id_member, sizeof(id_member), "\"id\": \"%s\", ", id);
  }
  snprintf(out, len,
           "{%s\"userId\": \"%s\", \"status\": \"delivered\", \"items\": [{\"id\": \"kettle\", "
           "\"title\": \"Kettle\", \"brand\": \"Hearthware\", \"imgUrl\": null, \"currency\": "
           "\"EUR\", \"pricePerUnitPence\": 1500, \"quantity\": 2, \"priceTotalPence\": 3000}], "
           "\"pricePence\": 3000, \"currency\": \"EUR\", \"datePurchased\": "
           "\"2023-05-01T09:00:00Z\", \"payment\": {\"method\": \"paypal\", \"lastDigits\": "
           "null, \"receiptUrl\": null}, \"delivery\": {\"method\": \"standard\", "
           "\"storeLocation\": null, \"dateDelivered\": \"2023-05-03\"}}\n",
           id_member, user);
}

/* Writes <dir>/<name> holding one valid line of purchase ID of USER, into
 * PATH (for a run again), and imports it: the program's exit code. */
static int import_one_line(const char *name, const char *id, const char *user, char *path,
                           size_t path_len, char **err) {
  char line[1024];

  snprintf(path, path_len, "%s/%s", dir, name);
  valid_line(line, sizeof(line), id, user);
  write_file(path, line);
  return run_import(db.uri, path, err);
}

START_TEST(imports_valid_lines_reports_bad_ones_and_reruns_add_nothing) {
  char path[256];
  char a[1024];
  char b[1024];
  char c[1024];
  char text[4096];
  char *err = NULL;

  valid_line(a, sizeof(a), "imp-1", "ines");
  valid_line(b, sizeof(b), NULL, "ines");
  valid_line(c, sizeof(c), NULL, "jon");
  snprintf(text, sizeof(text),
           "%s%s\n{\"userId\": \"ines\", \"status\": \"delivered\"\n"
           "{\"userId\": \"bad user\", \"status\": \"lost\", \"items\": [], \"pricePence\": 1.5,"
           " \"currency\": \"EUR\", \"datePurchased\": \"2023-05-01\", \"payment\": {\"method\":"
           " \"card\", \"lastDigits\": \"4111111111111111\", \"receiptUrl\": null}, \"delivery\":"
           " {\"method\": \"standard\", \"storeLocation\": null, \"dateDelivered\": null}}\n"
           "%s",
           a, b, c);
  snprintf(path, sizeof(path), "%s/purchases.ndjson", dir);
  write_file(path, text);

  ck_assert_int_eq(run_import(db.uri, path, &err), 1);
  /* Line 3 is blank; 4 is cut short; 5 breaks rules, each reported. */
  ck_assert_msg(strstr(err, "line 4: not JSON") != NULL, "%s", err);
  ck_assert_msg(strstr(err, "line 5: /userId: ") != NULL, "%s", err);
  ck_assert(strstr(err, "line 5: /status: ") != NULL);
  ck_assert(strstr(err, "line 5: /items: ") != NULL);
  ck_assert(strstr(err, "line 5: /pricePence: ") != NULL);
  ck_assert(strstr(err, "line 5: /payment/lastDigits: ") != NULL);
  ck_assert_msg(strstr(err, "4111") == NULL, "card digits echoed: %s", err);
  ck_assert_msg(strstr(err, "purchases-import: 5 lines, 3 added, 0 already present, 2 rejected") !=
                    NULL,
                "%s", err);
  free(err);
  ck_assert_int_eq(count("{\"userId\": \"ines\"}"), 2);
  ck_assert_int_eq(count("{\"userId\": \"jon\"}"), 1);
  ck_assert_int_eq(count("{\"id\": \"imp-1\", \"pricePence\": 3000, \"currency\": \"EUR\"}"), 1);

  /* Again: lines without an id are named by their content, so nothing is
   * added twice. */
  ck_assert_int_eq(run_import(db.uri, path, &err), 1);
  ck_assert_msg(strstr(err, "5 lines, 0 added, 3 already present, 2 rejected") != NULL, "%s", err);
  free(err);
  ck_assert_int_eq(count("{}"), 3);
}
END_TEST

/* A purchase id is unique per customer: an id the line names that another
 * user holds is a purchase of the line's user, added beside the other's,
 * which stays as it is. Under the same user it is already present, as a
 * re-run finds it. */
START_TEST(an_id_another_user_holds_is_added_for_the_lines_user) {
  char path[256];
  char *err = NULL;

  ck_assert_int_eq(import_one_line("owner.ndjson", "own-1", "lee", path, sizeof(path), &err), 0);
  free(err);
  ck_assert_int_eq(run_import(db.uri, path, &err), 0);
  ck_assert_msg(strstr(err, "1 lines, 0 added, 1 already present, 0 rejected") != NULL, "%s", err);
  free(err);

  ck_assert_int_eq(import_one_line("other.ndjson", "own-1", "mo", path, sizeof(path), &err), 0);
  ck_assert_msg(strstr(err, "1 lines, 1 added, 0 already present, 0 rejected") != NULL, "%s", err);
  free(err);
  ck_assert_int_eq(count("{\"id\": \"own-1\", \"userId\": \"lee\"}"), 1);
  ck_assert_int_eq(count("{\"id\": \"own-1\", \"userId\": \"mo\"}"), 1);
  ck_assert_int_eq(run_import(db.uri, path, &err), 0);
  ck_assert_msg(strstr(err, "1 lines, 0 added, 1 already present, 0 rejected") != NULL, "%s", err);
  free(err);
}
END_TEST

START_TEST(a_clean_file_exits_0_and_problems_exit_2) {
  char path[256];
  char *err = NULL;

  ck_assert_int_eq(import_one_line("clean.ndjson", "clean-1", "kim", path, sizeof(path), &err), 0);
  ck_assert(strstr(err, "1 lines, 1 added, 0 already present, 0 rejected") != NULL);
  free(err);

  snprintf(path, sizeof(path), "%s/missing.ndjson", dir);
  ck_assert_int_eq(run_import(db.uri, path, &err), 2);
  ck_assert(strstr(err, "cannot open") != NULL);
  free(err);

  /* Nobody listens on this port: a clear failure, not a hang. */
  snprintf(path, sizeof(path), "%s/clean.ndjson", dir);
  char uri[64];
  snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/imports", harness_free_port());
  ck_assert_int_eq(run_import(uri, path, &err), 2);
  ck_assert_msg(strstr(err, "cannot reach the database") != NULL, "%s", err);
  free(err);
}
END_TEST

Suite *suite_import(void) {
  Suite *suite = suite_create("import");
  TCase *tc = tcase_create("import");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, imports_valid_lines_reports_bad_ones_and_reruns_add_nothing);
  tcase_add_test(tc, a_clean_file_exits_0_and_problems_exit_2);
  tcase_add_test(tc, an_id_another_user_holds_is_added_for_the_lines_user);
  suite_add_tcase(suite, tc);
  return suite;
}
