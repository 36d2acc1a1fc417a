/* A database written by the release before per-customer purchase ids:
 * served as it is, then brought to this release's shape by
 * purchases-migrate, which a kill at any point does not break, which a dry
 * run leaves untouched, and which a second run finds nothing to do for. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "../support/harness.h"
#include "suites.h"

#define DATABASE "migrate"
#define USERS    30
#define PER_USER 10
#define OLD_TIME 1700000000000

static struct ferretdb db;

static void setup(void) {
  ck_assert(ferretdb_start(&db, DATABASE));
}

static void teardown(void) {
  ferretdb_stop(&db, false);
}

static mongoc_collection_t *collection(mongoc_client_t *client, const char *name) {
  return mongoc_client_get_collection(client, DATABASE, name);
}

static int64_t count(const char *name, const char *filter_json) {
  int64_t n = db_count(db.uri, name, filter_json);
  ck_assert_int_ge(n, 0);
  return n;
}

static bool has_index(const char *name, const char *index) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  mongoc_collection_t *coll = collection(client, name);
  mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(coll, NULL);
  const bson_t *doc;
  bool found = false;

  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t iter;
    found = found || (bson_iter_init_find(&iter, doc, "name") && BSON_ITER_HOLDS_UTF8(&iter) &&
                      strcmp(bson_iter_utf8(&iter, NULL), index) == 0);
  }
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  return found;
}

static void create_index(mongoc_client_t *client, const char *name, const char *index,
                         const char *keys_json) {
  bson_error_t error;
  bson_t *keys = bson_new_from_json((const uint8_t *)keys_json, -1, &error);
  bson_t *command =
      BCON_NEW("createIndexes", BCON_UTF8(name), "indexes", "[", "{", "key", BCON_DOCUMENT(keys),
               "name", BCON_UTF8(index), "unique", BCON_BOOL(true), "}", "]");
  ck_assert_msg(mongoc_client_command_simple(client, DATABASE, command, NULL, NULL, &error),
                "createIndexes %s: %s", index, error.message);
  bson_destroy(command);
  bson_destroy(keys);
}

/* What the earlier release left: purchases with ids unique across
 * customers (its index {id: 1}), the seeder's without a version, and
 * history entries without userId (its index {purchaseId: 1, version: 1}),
 * two for each purchase the service changed. */
static void make_earlier_database(void) {
  mongoc_client_t *client = mongoc_client_new(db.uri);
  mongoc_collection_t *purchases = collection(client, "purchases");
  mongoc_collection_t *history = collection(client, "purchase_history");
  bson_error_t error;

  ck_assert_ptr_nonnull(client);
  create_index(client, "purchases", "id_1", "{\"id\": 1}");
  create_index(client, "purchase_history", "purchaseId_1_version_1",
               "{\"purchaseId\": 1, \"version\": 1}");
  for (int u = 0; u < USERS; u++) {
    char user[16];
    snprintf(user, sizeof(user), "m%d", u);
    for (int p = 0; p < PER_USER; p++) {
      char id[32];
      snprintf(id, sizeof(id), "old-%d-%d", u, p);
      bson_t *doc = fixture_purchase(id, user, OLD_TIME + p);
      if (p % 2 == 0) {
        BSON_APPEND_INT32(doc, "version", 2);
        for (int v = 1; v <= 2; v++) {
          bson_t *entry = BCON_NEW("purchaseId", BCON_UTF8(id), "version", BCON_INT32(v), "status",
                                   BCON_UTF8(v == 1 ? "placed" : "delivered"), "time",
                                   BCON_DATE_TIME(OLD_TIME + v));
          if (v == 1) {
            BSON_APPEND_NULL(entry, "from");
          } else {
            BSON_APPEND_UTF8(entry, "from", "placed");
          }
          ck_assert_msg(mongoc_collection_insert_one(history, entry, NULL, NULL, &error), "%s",
                        error.message);
          bson_destroy(entry);
        }
      }
      ck_assert_msg(mongoc_collection_insert_one(purchases, doc, NULL, NULL, &error), "%s",
                    error.message);
      bson_destroy(doc);
    }
  }
  mongoc_collection_destroy(history);
  mongoc_collection_destroy(purchases);
  mongoc_client_destroy(client);
}

/* Runs purchases-migrate with `args` ("" for none); returns its exit code,
 * or -1 when it was killed after kill_after_ms (0: never). Its output goes
 * to `out` (the caller frees) when not NULL. */
static int migrate(const char *args, long kill_after_ms, char **out) {
  char path[256];
  char command[768];
  int status;
  pid_t pid;

  snprintf(path, sizeof(path), "%s/purchases-migrate-%d.out", harness_tmp(), (int)getpid());
  snprintf(command, sizeof(command), "exec %s --uri '%s' %s >'%s' 2>&1", PURCHASES_MIGRATE_BIN,
           db.uri, args, path);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  if (kill_after_ms > 0) {
    struct timespec pause = {.tv_sec = kill_after_ms / 1000,
                             .tv_nsec = (kill_after_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    kill(pid, SIGKILL);
  }
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  if (out != NULL) {
    FILE *file = fopen(path, "rb");
    size_t len;
    *out = calloc(1, 65536);
    ck_assert_ptr_nonnull(file);
    ck_assert_ptr_nonnull(*out);
    len = fread(*out, 1, 65535, file);
    (*out)[len] = '\0';
    fclose(file);
  }
  unlink(path);
  if (WIFSIGNALED(status)) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The service reads a purchase's history, whatever the database's shape. */
static void assert_history_served(const struct server *server, const char *user, const char *id,
                                  size_t entries) {
  char path[96];
  struct http_response r;
  snprintf(path, sizeof(path), "/user/%s/purchases/%s", user, id);
  ck_assert(http_get_as(server->port, path, "shop", user, &r));
  ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "statusHistory")), entries);
  http_response_cleanup(&r);
}

START_TEST(an_earlier_database_is_served_then_migrated_through_kills) {
  const int64_t entries = USERS * (PER_USER / 2) * 2;
  struct server server;
  char *out = NULL;
  char *log = NULL;
  int killed = 0;

  make_earlier_database();
  ck_assert_int_eq(count("purchase_history", "{\"userId\": {\"$exists\": false}}"), entries);

  /* The dry run says what it would do and does nothing. */
  ck_assert_int_eq(migrate("--dry-run", 0, &out), 0);
  ck_assert_msg(strstr(out, "would give 300 history entries their userId") != NULL, "%s", out);
  ck_assert_msg(strstr(out, "purchases.id_1") != NULL, "%s", out);
  free(out);
  ck_assert_int_eq(count("purchase_history", "{\"userId\": {\"$exists\": false}}"), entries);
  ck_assert(has_index("purchases", "id_1"));

  /* The service, started on it, serves it and says what to run. */
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  assert_history_served(&server, "m3", "old-3-2", 2);
  assert_history_served(&server, "m3", "old-3-1", 0);
  log = server_log(&server);
  ck_assert_msg(strstr(log, "run purchases-migrate") != NULL, "%s", log);
  free(log);
  server_stop(&server, 15);

  /* Killed at several points, then run to its end. */
  for (long after_ms = 150; after_ms <= 1350; after_ms += 400) {
    killed += migrate("--batch 7 --quiet", after_ms, NULL) == -1;
  }
  ck_assert_int_eq(migrate("--batch 7", 0, &out), 0);
  free(out);
  ck_assert_int_eq(count("purchase_history", "{\"userId\": {\"$exists\": false}}"), 0);
  for (int u = 0; u < USERS; u += 7) {
    char filter[128];
    snprintf(filter, sizeof(filter), "{\"userId\": \"m%d\", \"purchaseId\": \"old-%d-4\"}", u, u);
    ck_assert_int_eq(count("purchase_history", filter), 2);
  }
  ck_assert(!has_index("purchases", "id_1"));
  ck_assert(!has_index("purchase_history", "purchaseId_1_version_1"));
  ck_assert(has_index("purchases", "userId_1_id_1"));
  ck_assert(has_index("purchase_history", "userId_1_purchaseId_1_version_1"));
  fprintf(stderr, "migrate: %d of 4 runs were killed before their end\n", killed);

  /* Again: nothing to do. */
  ck_assert_int_eq(migrate("", 0, &out), 0);
  ck_assert_msg(strstr(out, "0 history entries given their userId") != NULL, "%s", out);
  ck_assert_msg(strstr(out, "none were left") != NULL, "%s", out);
  free(out);

  /* Served again, by customer; and ids are now each customer's own. */
  ck_assert(server_start(&server, db.uri, NULL));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
  assert_history_served(&server, "m3", "old-3-2", 2);
  log = server_log(&server);
  ck_assert_msg(strstr(log, "run purchases-migrate") == NULL, "%s", log);
  free(log);
  server_stop(&server, 15);
}
END_TEST

Suite *suite_migrate(void) {
  Suite *suite = suite_create("migrate");
  TCase *tc = tcase_create("migrate");

  tcase_set_timeout(tc, 300);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, an_earlier_database_is_served_then_migrated_through_kills);
  suite_add_tcase(suite, tc);
  return suite;
}
