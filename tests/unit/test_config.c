#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <yder.h>

#include "app/config.h"
#include "suites.h"

#define FAKE_ENV_MAX 16

struct fake_var {
  const char *name;
  const char *value;
};

/* The environment config_load() sees through fake_getenv(). */
static struct fake_var fake_env[FAKE_ENV_MAX];
static size_t fake_env_count;

static struct config config;
static char err[256];

static const char *fake_getenv(const char *name) {
  for (size_t i = 0; i < fake_env_count; i++) {
    if (strcmp(fake_env[i].name, name) == 0) {
      return fake_env[i].value;
    }
  }
  return NULL;
}

static void set_env(const char *name, const char *value) {
  ck_assert_uint_lt(fake_env_count, FAKE_ENV_MAX);
  fake_env[fake_env_count].name = name;
  fake_env[fake_env_count].value = value;
  fake_env_count++;
}

static void setup(void) {
  memset(fake_env, 0, sizeof(fake_env));
  fake_env_count = 0;
  memset(&config, 0, sizeof(config));
  err[0] = '\0';
}

static void teardown(void) {
  config_cleanup(&config);
}

/* Loads with only `name`=`value` set; asserts that it fails with a message
 * naming the variable. */
static void assert_load_fails(const char *name, const char *value) {
  setup();
  set_env(name, value);
  ck_assert_msg(!config_load(&config, fake_getenv, err, sizeof(err)), "%s=\"%s\" was accepted",
                name, value);
  ck_assert_msg(strstr(err, name) != NULL, "err \"%s\" does not name %s", err, name);
  config_cleanup(&config);
}

START_TEST(defaults_apply_when_nothing_is_set) {
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_uint_eq(config.port, 8080);
  ck_assert_str_eq(config.bind_address, "127.0.0.1");
  ck_assert_str_eq(config.mongodb_uri, "mongodb://127.0.0.1:27017/purchases");
  ck_assert_uint_eq(config.clients.count, 4);
  ck_assert_str_eq(config.clients.entries[0].id, "shop");
  ck_assert_int_eq(config.clients.entries[0].role, ROLE_CUSTOMER);
  ck_assert_str_eq(config.clients.entries[1].id, "customer-support");
  ck_assert_int_eq(config.clients.entries[1].role, ROLE_SUPPORT);
  ck_assert_str_eq(config.clients.entries[2].id, "invoicing");
  ck_assert_int_eq(config.clients.entries[2].role, ROLE_SERVICE);
  ck_assert_str_eq(config.clients.entries[3].id, "checkout");
  ck_assert_int_eq(config.clients.entries[3].role, ROLE_INGEST);
  ck_assert_int_eq(config.log_level, Y_LOG_LEVEL_INFO);
}
END_TEST

START_TEST(numeric_defaults_apply_when_nothing_is_set) {
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_uint_eq(config.max_connections, 0); /* sized from the open-file limit */
  ck_assert_uint_eq(config.connection_timeout_s, 30);
  ck_assert_uint_eq(config.shutdown_timeout_s, 10);
  ck_assert_uint_eq(config.db_timeout_ms, 2000);
  ck_assert_uint_eq(config.db_query_timeout_ms, 5000);
  ck_assert_uint_eq(config.db_max_in_flight, 16);
  ck_assert_uint_eq(config.db_wait_ms, 2000);
  ck_assert_uint_ge(config.workers, 1); /* auto: one epoll worker a usable CPU */
}
END_TEST

START_TEST(overrides_replace_defaults) {
  set_env("PURCHASES_PORT", "9090");
  set_env("PURCHASES_BIND_ADDRESS", "127.0.0.1");
  set_env("MONGODB_URI", "mongodb+srv://db.example.com/shop");
  set_env("PURCHASES_CLIENTS", "web:customer");
  set_env("PURCHASES_LOG_LEVEL", "debug");
  set_env("PURCHASES_DB_TIMEOUT_MS", "100");
  set_env("PURCHASES_SHUTDOWN_TIMEOUT_S", "0");
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  ck_assert_uint_eq(config.port, 9090);
  ck_assert_str_eq(config.bind_address, "127.0.0.1");
  ck_assert_str_eq(config.mongodb_uri, "mongodb+srv://db.example.com/shop");
  ck_assert_uint_eq(config.clients.count, 1);
  ck_assert_str_eq(config.clients.entries[0].id, "web");
  ck_assert_ptr_null(client_table_find(&config.clients, "shop"));
  ck_assert_int_eq(config.log_level, Y_LOG_LEVEL_DEBUG);
  ck_assert_uint_eq(config.db_timeout_ms, 100);
  ck_assert_uint_eq(config.shutdown_timeout_s, 0);
}
END_TEST

START_TEST(port_bounds_are_inclusive) {
  set_env("PURCHASES_PORT", "1");
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_uint_eq(config.port, 1);
  config_cleanup(&config);
  fake_env[0].value = "65535";
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_uint_eq(config.port, 65535);
}
END_TEST

START_TEST(each_log_level_is_recognised) {
  static const struct {
    const char *name;
    int level;
  } LEVELS[] = {{"error", Y_LOG_LEVEL_ERROR},
                {"warning", Y_LOG_LEVEL_WARNING},
                {"info", Y_LOG_LEVEL_INFO},
                {"debug", Y_LOG_LEVEL_DEBUG}};
  set_env("PURCHASES_LOG_LEVEL", NULL);
  for (size_t i = 0; i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++) {
    fake_env[0].value = LEVELS[i].name;
    ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(config.log_level, LEVELS[i].level);
    config_cleanup(&config);
  }
}
END_TEST

START_TEST(config_can_be_loaded_again_after_cleanup) {
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  config_cleanup(&config);
  ck_assert_ptr_null(config.bind_address);
  ck_assert_ptr_null(config.mongodb_uri);
  set_env("PURCHASES_BIND_ADDRESS", "10.0.0.1");
  ck_assert(config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_str_eq(config.bind_address, "10.0.0.1");
}
END_TEST

START_TEST(port_zero_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "0");
}
END_TEST

START_TEST(port_65536_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "65536");
}
END_TEST

START_TEST(port_with_trailing_garbage_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "80x");
  assert_load_fails("PURCHASES_PORT", "80 ");
}
END_TEST

START_TEST(empty_port_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "");
}
END_TEST

START_TEST(signed_port_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "-1");
  assert_load_fails("PURCHASES_PORT", "+80");
  assert_load_fails("PURCHASES_PORT", " 80");
}
END_TEST

START_TEST(huge_port_is_rejected) {
  assert_load_fails("PURCHASES_PORT", "4294969376");
  assert_load_fails("PURCHASES_PORT", "99999999999999999999999");
}
END_TEST

START_TEST(unknown_log_level_is_rejected) {
  assert_load_fails("PURCHASES_LOG_LEVEL", "verbose");
  assert_load_fails("PURCHASES_LOG_LEVEL", "INFO");
  assert_load_fails("PURCHASES_LOG_LEVEL", "");
}
END_TEST

/* Every word of the choice variables is stored as its value, and a word
 * they do not take is refused with a message that lists those they do. */
START_TEST(choice_variables_take_their_words_only) {
  set_env("PURCHASES_LOG_FORMAT", "json");
  set_env("PURCHASES_LOG_TARGET", "syslog");
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  ck_assert_int_eq(config.log_format, LOG_FORMAT_JSON);
  ck_assert_int_eq(config.log_target, LOG_TARGET_SYSLOG);
  ck_assert_int_eq(config.auth_mode, AUTH_HEADERS);
  config_cleanup(&config);

  setup();
  set_env("PURCHASES_AUTH", "JWT");
  ck_assert(!config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_str_eq(err, "PURCHASES_AUTH must be headers, jwt or both");
  config_cleanup(&config);
  setup();
  set_env("PURCHASES_LOG_TARGET", "stdout");
  ck_assert(!config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_str_eq(err, "PURCHASES_LOG_TARGET must be console, file, syslog or journald");
  config_cleanup(&config);
  setup();
  set_env("PURCHASES_LOG_FORMAT", "xml");
  ck_assert(!config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_str_eq(err, "PURCHASES_LOG_FORMAT must be text or json");
}
END_TEST

START_TEST(non_mongodb_uri_is_rejected) {
  assert_load_fails("MONGODB_URI", "http://x");
  assert_load_fails("MONGODB_URI", "");
}
END_TEST

START_TEST(hostname_bind_address_is_rejected) {
  assert_load_fails("PURCHASES_BIND_ADDRESS", "localhost");
  assert_load_fails("PURCHASES_BIND_ADDRESS", "::1");
  assert_load_fails("PURCHASES_BIND_ADDRESS", "");
}
END_TEST

START_TEST(malformed_clients_are_rejected) {
  assert_load_fails("PURCHASES_CLIENTS", "bad");
  assert_load_fails("PURCHASES_CLIENTS", "");
}
END_TEST

/* config.workers after loading with PURCHASES_WORKERS=value (NULL: unset). */
static uint32_t workers_loaded(const char *value) {
  uint32_t workers;

  setup();
  if (value != NULL) {
    set_env("PURCHASES_WORKERS", value);
  }
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  workers = config.workers;
  config_cleanup(&config);
  return workers;
}

START_TEST(workers_default_to_one_per_usable_cpu) {
  cpu_set_t set;
  uint32_t cpus;

  CPU_ZERO(&set);
  ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
  cpus = (uint32_t)CPU_COUNT(&set);
  /* A cgroup quota may lower it, never raise it; never below one. */
  ck_assert_uint_ge(workers_loaded(NULL), 1);
  ck_assert_uint_le(workers_loaded(NULL), cpus);
  ck_assert_uint_eq(workers_loaded("auto"), workers_loaded(NULL));
  ck_assert_uint_eq(workers_loaded("0"), 0);
  assert_load_fails("PURCHASES_WORKERS", "Auto");
  assert_load_fails("PURCHASES_WORKERS", "auto ");
  assert_load_fails("PURCHASES_WORKERS", "");
}
END_TEST

START_TEST(workers_within_bounds) {
  set_env("PURCHASES_WORKERS", "2");
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  ck_assert_uint_eq(config.workers, 2);
  config_cleanup(&config);
  assert_load_fails("PURCHASES_WORKERS", "257");
  assert_load_fails("PURCHASES_WORKERS", "-1");
  assert_load_fails("PURCHASES_WORKERS", "two");
}
END_TEST

START_TEST(handoff_threads_default_and_bounds) {
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  ck_assert_uint_eq(config.handoff_threads, 16);
  config_cleanup(&config);
  set_env("PURCHASES_HANDOFF_THREADS", "0");
  ck_assert_msg(config_load(&config, fake_getenv, err, sizeof(err)), "%s", err);
  ck_assert_uint_eq(config.handoff_threads, 0);
  config_cleanup(&config);
  assert_load_fails("PURCHASES_HANDOFF_THREADS", "1025");
  assert_load_fails("PURCHASES_HANDOFF_THREADS", "-1");
}
END_TEST

START_TEST(db_timeout_below_minimum_is_rejected) {
  assert_load_fails("PURCHASES_DB_TIMEOUT_MS", "50");
  assert_load_fails("PURCHASES_DB_TIMEOUT_MS", "60001");
}
END_TEST

START_TEST(failure_after_allocations_does_not_leak) {
  /* The strings are allocated before the bad value is reached; teardown's
   * config_cleanup() must release them (checked by LeakSanitizer). */
  set_env("MONGODB_URI", "mongodb://db/x");
  set_env("PURCHASES_DB_QUERY_TIMEOUT_MS", "1");
  ck_assert(!config_load(&config, fake_getenv, err, sizeof(err)));
  ck_assert_ptr_nonnull(strstr(err, "PURCHASES_DB_QUERY_TIMEOUT_MS"));
  ck_assert_str_eq(config.mongodb_uri, "mongodb://db/x");
}
END_TEST

/* Every variable --help lists is documented for operators, in the man page,
 * the README and docs/operations.md: adding one without them fails. */
START_TEST(every_variable_is_in_the_man_page_and_the_readme) {
  const char *documents[] = {PURCHASES_SOURCE_DIR "/docs/purchases.8",
                             PURCHASES_SOURCE_DIR "/README.md",
                             PURCHASES_SOURCE_DIR "/docs/operations.md"};
  char *described = NULL;
  size_t described_len = 0;
  FILE *out = open_memstream(&described, &described_len);
  int checked = 0;

  ck_assert_ptr_nonnull(out);
  config_describe(out);
  fclose(out);
  for (size_t d = 0; d < sizeof(documents) / sizeof(documents[0]); d++) {
    FILE *file = fopen(documents[d], "rb");
    char *text;
    long size;
    ck_assert_ptr_nonnull(file);
    fseek(file, 0, SEEK_END);
    size = ftell(file);
    fseek(file, 0, SEEK_SET);
    text = calloc(1, (size_t)size + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    /* Each variable starts a line of --help, after two spaces. */
    for (const char *line = described; line != NULL && *line != '\0';) {
      char name[64];
      if (sscanf(line, "  %63[A-Z_]", name) == 1 && strlen(name) > 4) {
        ck_assert_msg(strstr(text, name) != NULL, "%s is not in %s", name, documents[d]);
        checked++;
      }
      line = strchr(line, '\n');
      line = line != NULL ? line + 1 : NULL;
    }
    free(text);
  }
  free(described);
  ck_assert_int_ge(checked, 3 * 23); /* 23 variables today */
}
END_TEST

Suite *suite_config(void) {
  Suite *suite = suite_create("config");
  TCase *load = tcase_create("load");
  TCase *reject = tcase_create("reject");

  tcase_add_checked_fixture(load, setup, teardown);
  tcase_add_test(load, defaults_apply_when_nothing_is_set);
  tcase_add_test(load, numeric_defaults_apply_when_nothing_is_set);
  tcase_add_test(load, overrides_replace_defaults);
  tcase_add_test(load, port_bounds_are_inclusive);
  tcase_add_test(load, each_log_level_is_recognised);
  tcase_add_test(load, config_can_be_loaded_again_after_cleanup);
  suite_add_tcase(suite, load);

  tcase_add_checked_fixture(reject, setup, teardown);
  tcase_add_test(reject, port_zero_is_rejected);
  tcase_add_test(reject, port_65536_is_rejected);
  tcase_add_test(reject, port_with_trailing_garbage_is_rejected);
  tcase_add_test(reject, empty_port_is_rejected);
  tcase_add_test(reject, signed_port_is_rejected);
  tcase_add_test(reject, huge_port_is_rejected);
  tcase_add_test(reject, unknown_log_level_is_rejected);
  tcase_add_test(reject, choice_variables_take_their_words_only);
  tcase_add_test(reject, non_mongodb_uri_is_rejected);
  tcase_add_test(reject, hostname_bind_address_is_rejected);
  tcase_add_test(reject, malformed_clients_are_rejected);
  tcase_add_test(reject, db_timeout_below_minimum_is_rejected);
  tcase_add_test(reject, workers_default_to_one_per_usable_cpu);
  tcase_add_test(reject, workers_within_bounds);
  tcase_add_test(reject, handoff_threads_default_and_bounds);
  tcase_add_test(reject, failure_after_allocations_does_not_leak);
  tcase_add_test(reject, every_variable_is_in_the_man_page_and_the_readme);
  suite_add_tcase(suite, reject);
  return suite;
}
