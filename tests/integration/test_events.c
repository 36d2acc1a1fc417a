/* Purchase events on a real NATS JetStream (docs/events.md): each create
 * and status change reaches the stream once, in version order, as a
 * CloudEvent; a refused or replayed request publishes nothing; a write
 * answered while NATS is away, or just before the process is killed, is
 * published once NATS and a relay are back; two relaying instances store
 * one copy of each event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "../support/harness.h"
#include "suites.h"

#define STREAM "PURCHASES"

static struct ferretdb db;
static struct nats nats;
static struct server server;
static char nats_env[96];

static void setup(void) {
  const char *env[] = {nats_env, NULL};
  ck_assert(ferretdb_start(&db, "events"));
  ck_assert(nats_start(&nats));
  snprintf(nats_env, sizeof(nats_env), "PURCHASES_NATS_URL=%s", nats.url);
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void teardown(void) {
  server_stop(&server, 15);
  nats_stop(&nats);
  nats_remove(&nats);
  ferretdb_stop(&db, false);
}

static void sleep_ms(long ms) {
  struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&pause, NULL);
}

/* Every message of the stream, in order, as JSON (an array the caller
 * owns), each with "_msgid" (its Nats-Msg-Id) and "_subject" added. */
static json_t *stream_messages(void) {
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsStreamInfo *info = NULL;
  jsErrCode code = 0;
  json_t *j_all = json_array();

  ck_assert_int_eq(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
  ck_assert_int_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
  if (js_GetStreamInfo(&info, js, STREAM, NULL, &code) == NATS_OK) {
    for (uint64_t seq = info->State.FirstSeq; seq > 0 && seq <= info->State.LastSeq; seq++) {
      natsMsg *msg = NULL;
      const char *id = NULL;
      json_error_t error;
      json_t *j_event;
      if (js_GetMsg(&msg, js, STREAM, seq, NULL, &code) != NATS_OK) {
        continue;
      }
      j_event = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, &error);
      ck_assert_msg(j_event != NULL, "message %llu is not JSON: %s", (unsigned long long)seq,
                    error.text);
      natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
      json_object_set_new(j_event, "_msgid", json_string(id != NULL ? id : ""));
      json_object_set_new(j_event, "_subject", json_string(natsMsg_GetSubject(msg)));
      json_array_append_new(j_all, j_event);
      natsMsg_Destroy(msg);
    }
  }
  jsStreamInfo_Destroy(info);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return j_all;
}

/* The stream's messages once it holds `count` (or 15 s have passed). */
static json_t *wait_for_messages(size_t count) {
  json_t *j_all = NULL;
  for (int i = 0; i < 150; i++) {
    json_decref(j_all);
    j_all = stream_messages();
    if (json_array_size(j_all) >= count) {
      break;
    }
    sleep_ms(100);
  }
  return j_all;
}

static char *purchase_body(const char *id, const char *user) {
  char *body = malloc(1024);
  ck_assert_ptr_nonnull(body);
  snprintf(body, 1024,
           "{\"id\":\"%s\",\"userId\":\"%s\",\"status\":\"placed\",\"items\":[{\"id\":\"mug\","
           "\"title\":\"Mug\",\"brand\":\"Potter\",\"imgUrl\":\"https://img.shop.example/m.jpg\","
           "\"currency\":\"GBP\",\"pricePerUnitPence\":900,\"quantity\":1,\"priceTotalPence\":900}"
           "],\"pricePence\":900,\"currency\":\"GBP\",\"datePurchased\":"
           "\"2024-04-18T10:17:19.039Z\",\"payment\":{\"method\":\"card\",\"lastDigits\":\"4242\","
           "\"receiptUrl\":\"https://shop.example/receipts/r1\"},\"delivery\":{\"method\":"
           "\"standard\",\"storeLocation\":null,\"dateDelivered\":null}}",
           id, user);
  return body;
}

static long post(const struct server *at, const char *body) {
  const char *headers[] = {"x-client-id: checkout", "x-user-id: chk",
                           "Content-Type: application/json", NULL};
  struct http_response r;
  long status;
  ck_assert(http_request_body(at->port, "POST", "/purchases", headers, body, &r));
  status = r.status;
  http_response_cleanup(&r);
  return status;
}

static long patch(const struct server *at, const char *user, const char *id, const char *status) {
  const char *headers[] = {"x-client-id: checkout", "x-user-id: chk",
                           "Content-Type: application/json", NULL};
  char path[128];
  char body[64];
  struct http_response r;
  long code;
  snprintf(path, sizeof(path), "/user/%s/purchases/%s", user, id);
  snprintf(body, sizeof(body), "{\"status\":\"%s\"}", status);
  ck_assert(http_request_body(at->port, "PATCH", path, headers, body, &r));
  code = r.status;
  http_response_cleanup(&r);
  return code;
}

static const char *str(json_t *j, const char *key) {
  return json_string_value(json_object_get(j, key));
}

START_TEST(a_create_and_its_changes_reach_the_stream_in_order) {
  char *body = purchase_body("ev-1", "eve");
  json_t *j_all;

  ck_assert_int_eq(post(&server, body), 201);
  ck_assert_int_eq(patch(&server, "eve", "ev-1", "paid"), 200);
  ck_assert_int_eq(patch(&server, "eve", "ev-1", "shipped"), 200);
  j_all = wait_for_messages(3);
  ck_assert_uint_eq(json_array_size(j_all), 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *j = json_array_get(j_all, i);
    json_t *j_data = json_object_get(j, "data");
    const char *want = i == 0 ? "placed" : i == 1 ? "paid" : "shipped";
    ck_assert_str_eq(str(j, "specversion"), "1.0");
    ck_assert_str_eq(str(j, "type"), i == 0 ? "purchase.created" : "purchase.status_changed");
    ck_assert_str_eq(str(j, "_subject"), i == 0 ? "purchases.events.purchase.created"
                                                : "purchases.events.purchase.status_changed");
    ck_assert_str_eq(str(j, "subject"), "ev-1");
    ck_assert_str_eq(str(j, "userid"), "eve");
    ck_assert_str_eq(str(j, "datacontenttype"), "application/json");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "purchaseversion")), (json_int_t)i + 1);
    ck_assert_str_eq(str(j, "_msgid"), str(j, "id"));
    ck_assert_str_eq(str(j_data, "status"), want);
    ck_assert_uint_eq(json_array_size(json_object_get(j_data, "statusHistory")), i + 1);
    ck_assert_str_eq(str(j_data, "userId"), "eve");
  }
  ck_assert_str_ne(str(json_array_get(j_all, 0), "id"), str(json_array_get(j_all, 1), "id"));
  /* Each unmarked once published. */
  for (int i = 0; i < 50 && db_count(db.uri, "purchase_history", "{\"eventPending\": true}") != 0;
       i++) {
    sleep_ms(100);
  }
  ck_assert_int_eq(db_count(db.uri, "purchase_history", "{\"eventPending\": true}"), 0);
  json_decref(j_all);
  free(body);
}
END_TEST

START_TEST(no_event_without_its_write) {
  char *body = purchase_body("ev-2", "finn");
  json_t *j_all;

  ck_assert_int_eq(post(&server, body), 201);
  ck_assert_int_eq(post(&server, body), 201);                 /* a replay: the first answer again */
  ck_assert_int_eq(post(&server, "{\"id\": \"ev-3\"}"), 422); /* refused */
  ck_assert_int_eq(patch(&server, "finn", "ev-2", "refunded"), 409);
  ck_assert_int_eq(patch(&server, "finn", "ev-2", "placed"), 200); /* unchanged */
  j_all = wait_for_messages(1);
  sleep_ms(1000); /* several relay rounds: nothing else may come */
  json_decref(j_all);
  j_all = stream_messages();
  ck_assert_uint_eq(json_array_size(j_all), 1);
  ck_assert_str_eq(str(json_array_get(j_all, 0), "type"), "purchase.created");
  json_decref(j_all);
  free(body);
}
END_TEST

/* Answered while NATS was away, then the process killed: the events wait in
 * the outboxes and the next relay publishes each once, in order. */
START_TEST(events_answered_before_a_kill_with_nats_away_are_published_once) {
  const char *env[] = {nats_env, NULL};
  char *body = purchase_body("ev-4", "gus");
  json_t *j_all;

  nats_stop(&nats);
  ck_assert_int_eq(post(&server, body), 201);
  ck_assert_int_eq(patch(&server, "gus", "ev-4", "paid"), 200);
  server_kill(&server);
  ck_assert(nats_restart(&nats));
  ck_assert(server_start(&server, db.uri, env));
  j_all = wait_for_messages(2);
  sleep_ms(600);
  json_decref(j_all);
  j_all = stream_messages();
  ck_assert_uint_eq(json_array_size(j_all), 2);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(j_all, 0), "purchaseversion")),
                   1);
  ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(j_all, 1), "purchaseversion")),
                   2);
  json_decref(j_all);
  free(body);
  /* It stops clean, NATS connection and all (the sanitizers would say). */
  ck_assert_int_eq(server_stop(&server, 15), 0);
}
END_TEST

/* Two instances relay the same outboxes: one copy of each event. */
START_TEST(two_relaying_instances_store_one_copy_of_each_event) {
  const char *env[] = {nats_env, NULL};
  struct server other;
  json_t *j_all;

  ck_assert(server_start(&other, db.uri, env));
  for (int i = 0; i < 10; i++) {
    char id[16];
    char *body;
    snprintf(id, sizeof(id), "two-%d", i);
    body = purchase_body(id, "hal");
    ck_assert_int_eq(post(i % 2 == 0 ? &server : &other, body), 201);
    ck_assert_int_eq(patch(i % 2 == 0 ? &other : &server, "hal", id, "paid"), 200);
    free(body);
  }
  j_all = wait_for_messages(20);
  sleep_ms(1000);
  json_decref(j_all);
  j_all = stream_messages();
  ck_assert_uint_eq(json_array_size(j_all), 20);
  json_decref(j_all);
  /* Stopped with NATS still there, and with NATS gone first: clean. */
  ck_assert_int_eq(server_stop(&other, 15), 0);
  nats_stop(&nats);
  ck_assert_int_eq(server_stop(&server, 15), 0);
}
END_TEST

/* The lines `purchases-events tail ARGS` prints (it stops after --limit),
 * as a JSON array the caller owns. */
static json_t *tail(const char *args) {
  char command[512];
  char line[8192];
  json_t *j_lines = json_array();
  FILE *out;

  snprintf(command, sizeof(command), "timeout 20 %s tail --url %s %s 2>/dev/null",
           PURCHASES_EVENTS_BIN, nats.url, args);
  out = popen(command, "r");
  ck_assert_ptr_nonnull(out);
  while (fgets(line, sizeof(line), out) != NULL) {
    json_error_t error;
    json_t *j = json_loads(line, 0, &error);
    ck_assert_msg(j != NULL, "not JSON: %s", line);
    json_array_append_new(j_lines, j);
  }
  ck_assert_int_eq(pclose(out), 0);
  return j_lines;
}

static json_int_t version_at(json_t *j_lines, size_t i) {
  return json_integer_value(json_object_get(json_array_get(j_lines, i), "purchaseversion"));
}

/* Replay from the start, a sequence, a time; by type and by customer. */
START_TEST(the_cli_replays_from_a_sequence_or_a_time) {
  char *first = purchase_body("re-1", "ida");
  char *second = purchase_body("re-2", "jo");
  char since[64];
  char args[128];
  json_t *j_all;
  json_t *j;
  time_t now;

  ck_assert_int_eq(post(&server, first), 201);
  ck_assert_int_eq(patch(&server, "ida", "re-1", "paid"), 200);
  j_all = wait_for_messages(2);
  json_decref(j_all);
  sleep_ms(1100);
  now = time(NULL);
  strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  ck_assert_int_eq(post(&server, second), 201);
  j_all = wait_for_messages(3);
  json_decref(j_all);

  j = tail("--limit 3");
  ck_assert_uint_eq(json_array_size(j), 3);
  ck_assert_str_eq(str(json_array_get(j, 0), "subject"), "re-1");
  ck_assert_int_eq(version_at(j, 1), 2);
  json_decref(j);
  j = tail("--from-seq 2 --limit 2");
  ck_assert_int_eq(version_at(j, 0), 2);
  ck_assert_str_eq(str(json_array_get(j, 1), "subject"), "re-2");
  json_decref(j);
  snprintf(args, sizeof(args), "--since %s --limit 1", since);
  j = tail(args);
  ck_assert_str_eq(str(json_array_get(j, 0), "subject"), "re-2");
  json_decref(j);
  j = tail("--type purchase.status_changed --limit 1");
  ck_assert_str_eq(str(json_array_get(j, 0), "type"), "purchase.status_changed");
  json_decref(j);
  j = tail("--user jo --limit 1");
  ck_assert_str_eq(str(json_array_get(j, 0), "userid"), "jo");
  json_decref(j);
  free(first);
  free(second);
}
END_TEST

/* Rapid changes of one purchase reach the stream in version order. */
START_TEST(rapid_changes_of_one_purchase_arrive_in_version_order) {
  static const char *const MOVES[] = {"paid", "shipped", "delivered", "refunded"};
  char *body = purchase_body("fast-1", "kim");
  json_t *j_all;

  ck_assert_int_eq(post(&server, body), 201);
  for (size_t i = 0; i < sizeof(MOVES) / sizeof(MOVES[0]); i++) {
    ck_assert_int_eq(patch(&server, "kim", "fast-1", MOVES[i]), 200);
  }
  j_all = wait_for_messages(5);
  ck_assert_uint_eq(json_array_size(j_all), 5);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_int_eq(version_at(j_all, i), (json_int_t)i + 1);
    if (i > 0) {
      ck_assert_str_eq(str(json_object_get(json_array_get(j_all, i), "data"), "status"),
                       MOVES[i - 1]);
    }
  }
  json_decref(j_all);
  free(body);
}
END_TEST

/* A stream that exists with other settings is not silently used: the
 * service refuses to start and says which variables. */
START_TEST(a_stream_with_other_settings_refuses_the_start) {
  const char *env[] = {nats_env, "PURCHASES_EVENTS_STREAM=OTHER", NULL};
  const char *subjects[] = {"purchases.events.>"};
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsStreamConfig config;
  jsErrCode code = 0;
  struct server refused;
  char *log;

  /* The fixture's server has PURCHASES; this one is on memory. */
  server_stop(&server, 15);
  ck_assert_int_eq(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
  ck_assert_int_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
  ck_assert_int_eq(js_DeleteStream(js, STREAM, NULL, &code), NATS_OK);
  jsStreamConfig_Init(&config);
  config.Name = "OTHER";
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_MemoryStorage;
  ck_assert_int_eq(js_AddStream(NULL, js, &config, NULL, &code), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);

  ck_assert(!server_start(&refused, db.uri, env));
  ck_assert_int_ne(refused.exit_code, 0);
  log = server_log(&refused);
  ck_assert_msg(strstr(log, "exists with other settings") != NULL &&
                    strstr(log, "PURCHASES_EVENTS_") != NULL,
                "%s", log);
  free(log);
  server_stop(&refused, 5);
}
END_TEST

/* Runs purchases-import on `lines` (NDJSON) with events as given. */
static int import_lines(const char *lines, const char *args) {
  char path[256];
  char command[1024];
  FILE *file;

  snprintf(path, sizeof(path), "%s/events-import-%d.ndjson", harness_tmp(), (int)getpid());
  file = fopen(path, "w");
  ck_assert_ptr_nonnull(file);
  fputs(lines, file);
  fclose(file);
  snprintf(command, sizeof(command),
           "PURCHASES_NATS_URL=%s %s --quiet --uri '%s' %s '%s' >/dev/null 2>&1", nats.url,
           PURCHASES_IMPORT_BIN, db.uri, args, path);
  return system(command);
}

/* purchases-import records a purchase.created event for each purchase it
 * adds, as a create does; --no-events none; a second run nothing new. */
START_TEST(an_import_records_its_events_unless_told_not_to) {
  char *a = purchase_body("imp-ev-1", "lou");
  char *b = purchase_body("imp-ev-2", "lou");
  char *c = purchase_body("imp-ev-3", "mia");
  char lines[4096];
  json_t *j_all;

  snprintf(lines, sizeof(lines), "%s\n%s\n", a, b);
  ck_assert_int_eq(import_lines(lines, ""), 0);
  j_all = wait_for_messages(2);
  ck_assert_uint_eq(json_array_size(j_all), 2);
  ck_assert_str_eq(str(json_array_get(j_all, 0), "type"), "purchase.created");
  ck_assert_uint_eq(json_array_size(json_object_get(
                        json_object_get(json_array_get(j_all, 0), "data"), "statusHistory")),
                    1);
  json_decref(j_all);
  ck_assert_int_eq(import_lines(lines, ""), 0); /* again: nothing new */
  snprintf(lines, sizeof(lines), "%s\n", c);
  ck_assert_int_eq(import_lines(lines, "--no-events"), 0);
  sleep_ms(1000);
  j_all = stream_messages();
  ck_assert_uint_eq(json_array_size(j_all), 2);
  json_decref(j_all);
  ck_assert_int_eq(db_count(db.uri, "purchases", "{\"userId\": \"mia\"}"), 1);
  free(a);
  free(b);
  free(c);
}
END_TEST

Suite *suite_events(void) {
  Suite *suite = suite_create("events");
  TCase *tc = tcase_create("events");

  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, a_create_and_its_changes_reach_the_stream_in_order);
  tcase_add_test(tc, no_event_without_its_write);
  tcase_add_test(tc, events_answered_before_a_kill_with_nats_away_are_published_once);
  tcase_add_test(tc, two_relaying_instances_store_one_copy_of_each_event);
  tcase_add_test(tc, the_cli_replays_from_a_sequence_or_a_time);
  tcase_add_test(tc, rapid_changes_of_one_purchase_arrive_in_version_order);
  tcase_add_test(tc, a_stream_with_other_settings_refuses_the_start);
  tcase_add_test(tc, an_import_records_its_events_unless_told_not_to);
  suite_add_tcase(suite, tc);
  return suite;
}
