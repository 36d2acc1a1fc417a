#include "app/config.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <yder.h>

#include "lib/words.h"
#include "models/redis.h"

/* One configuration variable: its name, default, bounds and the function
 * that parses and validates it into the config struct. The bounds are the
 * value's for parse_uint and the length's for parse_cursor_key; the rows of
 * other parsers leave them out. A row without an offset (PURCHASES_CLIENTS,
 * PURCHASES_CORS_ORIGINS) has a parser that fills its own field: a table. */
struct config_entry {
  const char *name;
  const char *default_value;
  uint32_t min;
  uint32_t max;
  size_t offset;
  bool (*parse)(const struct config_entry *entry, const char *value, struct config *config,
                char *err, size_t err_len);
  const char *help;
};

/* One word a choice variable takes, and the value it stands for. */
struct config_choice {
  const char *name;
  int value;
};

/* The fields parse_choice() writes are enums, stored as int. */
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum log_format is int-sized");
_Static_assert(sizeof(enum log_target) == sizeof(int), "enum log_target is int-sized");
_Static_assert(sizeof(enum auth_mode) == sizeof(int), "enum auth_mode is int-sized");

static const struct config_choice LOG_LEVELS[] = {{"error", Y_LOG_LEVEL_ERROR},
                                                  {"warning", Y_LOG_LEVEL_WARNING},
                                                  {"info", Y_LOG_LEVEL_INFO},
                                                  {"debug", Y_LOG_LEVEL_DEBUG},
                                                  {NULL, 0}};
static const struct config_choice LOG_FORMATS[] = {
    {"text", LOG_FORMAT_TEXT}, {"json", LOG_FORMAT_JSON}, {NULL, 0}};
static const struct config_choice LOG_TARGETS[] = {{"console", LOG_TARGET_CONSOLE},
                                                   {"file", LOG_TARGET_FILE},
                                                   {"syslog", LOG_TARGET_SYSLOG},
                                                   {"journald", LOG_TARGET_JOURNALD},
                                                   {NULL, 0}};
static const struct config_choice AUTH_MODES[] = {
    {"headers", AUTH_HEADERS}, {"jwt", AUTH_JWT}, {"both", AUTH_BOTH}, {NULL, 0}};

static const char *choice_name_at(const void *list, size_t i) {
  return ((const struct config_choice *)list)[i].name;
}

static bool parse_uint(const struct config_entry *entry, const char *value, struct config *config,
                       char *err, size_t err_len) {
  char *end = NULL;
  unsigned long long parsed;

  errno = 0;
  if (value[0] < '0' || value[0] > '9') {
    goto bad;
  }
  parsed = strtoull(value, &end, 10);
  if (errno != 0 || *end != '\0' || parsed < entry->min || parsed > entry->max) {
    goto bad;
  }
  *(uint32_t *)((char *)config + entry->offset) = (uint32_t)parsed;
  return true;

bad:
  snprintf(err, err_len, "%s must be a whole number from %u to %u", entry->name, entry->min,
           entry->max);
  return false;
}

/* The CPUs this process may run on: its affinity mask, lowered to a cgroup v2
 * CPU quota (cpu.max, "QUOTA PERIOD", rounded up) when the container has one;
 * at least 1. */
static uint32_t usable_cpus(void) {
  cpu_set_t set;
  long cpus = 1;
  FILE *quota = NULL;
  char max[32] = "";
  unsigned long long period = 0;

  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    cpus = CPU_COUNT(&set);
  }
  quota = fopen("/sys/fs/cgroup/cpu.max", "r");
  if (quota != NULL && fscanf(quota, "%31s %llu", max, &period) == 2 && period > 0 &&
      max[0] >= '0' && max[0] <= '9') {
    unsigned long long limit = (strtoull(max, NULL, 10) + period - 1) / period;
    if (limit < (unsigned long long)cpus) {
      cpus = (long)limit;
    }
  }
  if (quota != NULL) {
    fclose(quota);
  }
  return cpus < 1 ? 1u : (uint32_t)cpus;
}

/* PURCHASES_WORKERS: "auto" (one epoll worker for each usable CPU, within
 * the row's bounds), or a number as parse_uint takes it. */
static bool parse_workers(const struct config_entry *entry, const char *value,
                          struct config *config, char *err, size_t err_len) {
  uint32_t *field = (uint32_t *)((char *)config + entry->offset);

  if (strcmp(value, "auto") == 0) {
    uint32_t cpus = usable_cpus();
    *field = cpus > entry->max ? entry->max : cpus;
    return true;
  }
  if (parse_uint(entry, value, config, err, err_len)) {
    return true;
  }
  snprintf(err, err_len, "%s must be auto or a whole number from %u to %u", entry->name, entry->min,
           entry->max);
  return false;
}

static bool parse_string(const struct config_entry *entry, const char *value, struct config *config,
                         char *err, size_t err_len) {
  char **field = (char **)((char *)config + entry->offset);
  if (value[0] == '\0') {
    snprintf(err, err_len, "%s must not be empty", entry->name);
    return false;
  }
  free(*field);
  *field = strdup(value);
  if (*field == NULL) {
    snprintf(err, err_len, "%s: out of memory", entry->name);
    return false;
  }
  return true;
}

static bool parse_ipv4(const struct config_entry *entry, const char *value, struct config *config,
                       char *err, size_t err_len) {
  struct in_addr addr;
  if (inet_pton(AF_INET, value, &addr) != 1) {
    snprintf(err, err_len, "%s must be an IPv4 address such as 0.0.0.0 or 127.0.0.1", entry->name);
    return false;
  }
  return parse_string(entry, value, config, err, err_len);
}

static bool parse_mongodb_uri(const struct config_entry *entry, const char *value,
                              struct config *config, char *err, size_t err_len) {
  /* The full check is mongoc's, at pool creation; here only the scheme. */
  if (strncmp(value, "mongodb://", 10) != 0 && strncmp(value, "mongodb+srv://", 14) != 0) {
    snprintf(err, err_len, "%s must start with mongodb:// or mongodb+srv://", entry->name);
    return false;
  }
  return parse_string(entry, value, config, err, err_len);
}

static bool parse_clients(const struct config_entry *entry, const char *value,
                          struct config *config, char *err, size_t err_len) {
  char reason[160];
  if (!client_table_parse(value, &config->clients, reason, sizeof(reason))) {
    snprintf(err, err_len, "%s: %s", entry->name, reason);
    return false;
  }
  return true;
}

/* A variable that takes one of a few words: `choices` lists them with
 * their values (NULL-terminated), and the value goes into the int-sized
 * field at entry->offset. */
static bool parse_choice(const struct config_entry *entry, const char *value,
                         const struct config_choice *choices, struct config *config, char *err,
                         size_t err_len) {
  char names[160];

  for (size_t i = 0; choices[i].name != NULL; i++) {
    if (strcmp(value, choices[i].name) == 0) {
      *(int *)((char *)config + entry->offset) = choices[i].value;
      return true;
    }
  }
  words_join(choice_name_at, choices, "or", names, sizeof(names));
  snprintf(err, err_len, "%s must be %s", entry->name, names);
  return false;
}

/* The parser of each choice variable, with its words. */
#define CHOICE_PARSER(parser, choices)                                                             \
  static bool parser(const struct config_entry *entry, const char *value, struct config *config,   \
                     char *err, size_t err_len) {                                                  \
    return parse_choice(entry, value, choices, config, err, err_len);                              \
  }
CHOICE_PARSER(parse_log_level, LOG_LEVELS)
CHOICE_PARSER(parse_log_format, LOG_FORMATS)
CHOICE_PARSER(parse_log_target, LOG_TARGETS)
CHOICE_PARSER(parse_auth_mode, AUTH_MODES)

static bool parse_cursor_key(const struct config_entry *entry, const char *value,
                             struct config *config, char *err, size_t err_len) {
  size_t len = strlen(value);
  if (len == 0) {
    return true; /* unset: app_new makes a random one */
  }
  if (len < entry->min || len > entry->max) {
    snprintf(err, err_len, "%s must be %u to %u characters long (a random secret)", entry->name,
             entry->min, entry->max);
    return false;
  }
  return parse_string(entry, value, config, err, err_len);
}

/* An optional string: empty means unset (NULL). */
static bool parse_optional(const struct config_entry *entry, const char *value,
                           struct config *config, char *err, size_t err_len) {
  return value[0] == '\0' || parse_string(entry, value, config, err, err_len);
}

static bool parse_cors_origins(const struct config_entry *entry, const char *value,
                               struct config *config, char *err, size_t err_len) {
  (void)entry;
  return cors_parse(value, &config->cors, err, err_len);
}

/* An optional redis:// URL, checked now rather than at the first read. */
static bool parse_redis_url(const struct config_entry *entry, const char *value,
                            struct config *config, char *err, size_t err_len) {
  struct redis_address address;
  if (value[0] != '\0' && !redis_address_parse(value, &address, err, err_len)) {
    return false;
  }
  return parse_optional(entry, value, config, err, err_len);
}

/* An optional nats:// (or tls://) URL, checked for its scheme now. */
static bool parse_nats_url(const struct config_entry *entry, const char *value,
                           struct config *config, char *err, size_t err_len) {
  if (value[0] != '\0' && strncmp(value, "nats://", 7) != 0 && strncmp(value, "tls://", 6) != 0) {
    snprintf(err, err_len, "%s must be a nats:// or tls:// URL", entry->name);
    return false;
  }
  return parse_optional(entry, value, config, err, err_len);
}

/* A JetStream stream name: letters, digits, _ and -. */
static bool parse_stream_name(const struct config_entry *entry, const char *value,
                              struct config *config, char *err, size_t err_len) {
  size_t len = strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
  if (len == 0 || value[len] != '\0' || len > 64) {
    snprintf(err, err_len, "%s must be 1 to 64 letters, digits, _ or -", entry->name);
    return false;
  }
  return parse_string(entry, value, config, err, err_len);
}

/* An optional path to a file that must be readable now, not at first use. */
static bool parse_file(const struct config_entry *entry, const char *value, struct config *config,
                       char *err, size_t err_len) {
  if (value[0] != '\0' && access(value, R_OK) != 0) {
    snprintf(err, err_len, "%s: cannot read %s", entry->name, value);
    return false;
  }
  return parse_optional(entry, value, config, err, err_len);
}

#define FIELD(name) offsetof(struct config, name)

static const struct config_entry ENTRIES[] = {
    {.name = "PURCHASES_PORT",
     .default_value = "8080",
     .min = 1,
     .max = 65535,
     .offset = FIELD(port),
     .parse = parse_uint,
     .help = "TCP port to serve HTTP on"},
    {.name = "PURCHASES_BIND_ADDRESS",
     .default_value = "127.0.0.1",
     .offset = FIELD(bind_address),
     .parse = parse_ipv4,
     .help = "IPv4 address to listen on; 0.0.0.0 for every interface"},
    {.name = "MONGODB_URI",
     .default_value = "mongodb://127.0.0.1:27017/purchases",
     .offset = FIELD(mongodb_uri),
     .parse = parse_mongodb_uri,
     .help = "MongoDB connection string; its path names the database"},
    {.name = "PURCHASES_CLIENTS",
     .default_value = "shop:customer,customer-support:support,invoicing:service,checkout:ingest",
     .parse = parse_clients,
     .help = "calling applications and their roles (customer, support, service, ingest)"},
    {.name = "PURCHASES_LOG_LEVEL",
     .default_value = "info",
     .offset = FIELD(log_level),
     .parse = parse_log_level,
     .help = "error, warning, info or debug"},
    {.name = "PURCHASES_LOG_FORMAT",
     .default_value = "text",
     .offset = FIELD(log_format),
     .parse = parse_log_format,
     .help = "text, or json for one JSON object per line"},
    {.name = "PURCHASES_LOG_TARGET",
     .default_value = "console",
     .offset = FIELD(log_target),
     .parse = parse_log_target,
     .help = "console, file (PURCHASES_LOG_FILE), syslog or journald"},
    {.name = "PURCHASES_LOG_FILE",
     .default_value = "",
     .offset = FIELD(log_file),
     .parse = parse_optional,
     .help = "the file log lines are appended to, with PURCHASES_LOG_TARGET=file"},
    {.name = "PURCHASES_MAX_CONNECTIONS",
     .default_value = "0",
     .min = 0,
     .max = 1000000,
     .offset = FIELD(max_connections),
     .parse = parse_uint,
     .help = "concurrent HTTP connections; more are refused. 0: as many as the open-file limit "
             "allows (raised to its hard limit at start), at most 16384"},
    {.name = "PURCHASES_MAX_CONNECTIONS_PER_IP",
     .default_value = "0",
     .min = 0,
     .max = 10000,
     .offset = FIELD(max_connections_per_ip),
     .parse = parse_uint,
     .help = "concurrent connections from one address; 0: no limit (behind a gateway)"},
    {.name = "PURCHASES_WORKERS",
     .default_value = "auto",
     .min = 0,
     .max = 256,
     .offset = FIELD(workers),
     .parse = parse_workers,
     .help = "auto (the default): one epoll worker for each CPU the process may use (its "
             "affinity, and a cgroup v2 quota); N: N threads, each serving its share of the "
             "connections from an epoll loop, handing what waits on the database to "
             "PURCHASES_HANDOFF_THREADS; 0: a thread per connection instead"},
    {.name = "PURCHASES_HANDOFF_THREADS",
     .default_value = "16",
     .min = 0,
     .max = 1024,
     .offset = FIELD(handoff_threads),
     .parse = parse_uint,
     .help =
         "with PURCHASES_WORKERS, threads that run the requests that wait on the database (a "
         "cache miss, a write, an audited read), so that a worker never waits; 0: the workers "
         "read the database themselves and a read holds up the other connections of its worker"},
    {.name = "PURCHASES_CONNECTION_TIMEOUT_S",
     .default_value = "30",
     .min = 1,
     .max = 3600,
     .offset = FIELD(connection_timeout_s),
     .parse = parse_uint,
     .help = "seconds a connection with no traffic is kept"},
    {.name = "PURCHASES_HEADER_TIMEOUT_S",
     .default_value = "10",
     .min = 1,
     .max = 3600,
     .offset = FIELD(header_timeout_s),
     .parse = parse_uint,
     .help = "seconds a request head (line and headers) has to arrive whole, from the accept "
             "or, on a kept-alive connection, from its request line; not renewed by each byte. "
             "Then the connection is closed"},
    {.name = "PURCHASES_LINGER_TIME_S",
     .default_value = "30",
     .min = 0,
     .max = 600,
     .offset = FIELD(linger_time_s),
     .parse = parse_uint,
     .help = "after answering a request whose body it did not read, the service half-closes "
             "and reads and drops what the client still sends, so that the client reads its "
             "answer instead of a reset: for at most this many seconds; 0: close at once"},
    {.name = "PURCHASES_LINGER_TIMEOUT_S",
     .default_value = "5",
     .min = 1,
     .max = 600,
     .offset = FIELD(linger_timeout_s),
     .parse = parse_uint,
     .help = "lingering ends when the client sends nothing for this many seconds"},
    {.name = "PURCHASES_LINGER_BYTES",
     .default_value = "16777216",
     .min = 0,
     .max = 1073741824,
     .offset = FIELD(linger_bytes),
     .parse = parse_uint,
     .help = "lingering ends after reading and dropping this many bytes"},
    {.name = "PURCHASES_SHUTDOWN_TIMEOUT_S",
     .default_value = "10",
     .min = 0,
     .max = 300,
     .offset = FIELD(shutdown_timeout_s),
     .parse = parse_uint,
     .help = "seconds requests in flight get to finish after SIGTERM"},
    {.name = "PURCHASES_DRAIN_DELAY_MS",
     .default_value = "0",
     .min = 0,
     .max = 60000,
     .offset = FIELD(drain_delay_ms),
     .parse = parse_uint,
     .help = "after SIGTERM, how long /readyz answers 503 while requests are still served, so a "
             "load balancer takes the instance out before it stops accepting"},
    {.name = "PURCHASES_DB_TIMEOUT_MS",
     .default_value = "2000",
     .min = 100,
     .max = 60000,
     .offset = FIELD(db_timeout_ms),
     .parse = parse_uint,
     .help = "how long to wait for a database connection before answering 503"},
    {.name = "PURCHASES_DB_MAX_IN_FLIGHT",
     .default_value = "16",
     .min = 1,
     .max = 10000,
     .offset = FIELD(db_max_in_flight),
     .parse = parse_uint,
     .help =
         "database operations of requests at once; the rest wait PURCHASES_DB_WAIT_MS for a slot"},
    {.name = "PURCHASES_DB_WAIT_MS",
     .default_value = "2000",
     .min = 0,
     .max = 60000,
     .offset = FIELD(db_wait_ms),
     .parse = parse_uint,
     .help = "how long a request waits for a database slot (on epoll workers, with its wait for "
             "a hand-off thread) before it is shed with 503 and Retry-After"},
    {.name = "PURCHASES_DB_QUERY_TIMEOUT_MS",
     .default_value = "5000",
     .min = 100,
     .max = 600000,
     .offset = FIELD(db_query_timeout_ms),
     .parse = parse_uint,
     .help = "longest a query may run on the database (maxTimeMS)"},
    {.name = "PURCHASES_CURSOR_KEY",
     .default_value = "",
     .min = 32,
     .max = 256,
     .offset = FIELD(cursor_key),
     .parse = parse_cursor_key,
     .help = "secret that signs pagination cursors; the same on every instance (unset: random "
             "per process)"},
    {.name = "PURCHASES_AUTH",
     .default_value = "headers",
     .offset = FIELD(auth_mode),
     .parse = parse_auth_mode,
     .help =
         "headers (x-client-id and x-user-id from a trusted gateway), jwt (bearer tokens) or both"},
    {.name = "PURCHASES_JWKS_FILE",
     .default_value = "",
     .offset = FIELD(jwks_file),
     .parse = parse_file,
     .help = "JSON Web Key Set with the keys that sign bearer tokens (jwt and both)"},
    {.name = "PURCHASES_JWT_ISSUER",
     .default_value = "",
     .offset = FIELD(jwt_issuer),
     .parse = parse_optional,
     .help = "the iss every bearer token must carry (jwt and both)"},
    {.name = "PURCHASES_JWT_AUDIENCE",
     .default_value = "",
     .offset = FIELD(jwt_audience),
     .parse = parse_optional,
     .help = "the aud every bearer token must carry (jwt and both)"},
    {.name = "PURCHASES_TLS_CERT",
     .default_value = "",
     .offset = FIELD(tls_cert),
     .parse = parse_file,
     .help = "PEM certificate chain: with PURCHASES_TLS_KEY, serve HTTPS only"},
    {.name = "PURCHASES_TLS_KEY",
     .default_value = "",
     .offset = FIELD(tls_key),
     .parse = parse_file,
     .help = "PEM private key of PURCHASES_TLS_CERT"},
    {.name = "PURCHASES_RATE_LIMIT_RPS",
     .default_value = "20",
     .min = 0,
     .max = 100000,
     .offset = FIELD(rate_limit_rps),
     .parse = parse_uint,
     .help = "requests a second each principal (client and user) may make; 0 turns limiting off"},
    {.name = "PURCHASES_RATE_LIMIT_BURST",
     .default_value = "40",
     .min = 1,
     .max = 100000,
     .offset = FIELD(rate_limit_burst),
     .parse = parse_uint,
     .help = "requests a principal may make at once before the rate applies"},
    {.name = "PURCHASES_AUTH_FAILURES_RPS",
     .default_value = "5",
     .min = 0,
     .max = 100000,
     .offset = FIELD(auth_failures_rps),
     .parse = parse_uint,
     .help =
         "failed authentications (401, 403) a second one client address may have before it gets "
         "429; 0 turns this off"},
    {.name = "PURCHASES_AUTH_FAILURES_BURST",
     .default_value = "20",
     .min = 1,
     .max = 100000,
     .offset = FIELD(auth_failures_burst),
     .parse = parse_uint,
     .help = "failed authentications one client address may have at once before the rate applies"},
    {.name = "PURCHASES_CACHE_BYTES",
     .default_value = "67108864",
     .min = 0,
     .max = 4000000000u,
     .offset = FIELD(cache_bytes),
     .parse = parse_uint,
     .help =
         "bytes of answers (list pages, purchases) kept in memory, least recently used out first; "
         "0 turns the cache off"},
    {.name = "PURCHASES_CACHE_TTL_S",
     .default_value = "30",
     .min = 0,
     .max = 86400,
     .offset = FIELD(cache_ttl_s),
     .parse = parse_uint,
     .help = "seconds a cached answer may be served: how long a write that bypassed the service "
             "(another writer, a restore) can stay unseen; 0 turns the cache off"},
    {.name = "PURCHASES_REDIS_URL",
     .default_value = "",
     .offset = FIELD(redis_url),
     .parse = parse_redis_url,
     .help = "redis://[[user]:password@]host[:port][/db] shared by every instance: writes bump a "
             "per-user version there that each instance checks before it serves from its cache "
             "(unset: this instance only)"},
    {.name = "PURCHASES_CORS_ORIGINS",
     .default_value = "",
     .parse = parse_cors_origins,
     .help = "origins a browser may call the service from (the shop's front end in jwt mode), "
             "comma-separated, e.g. https://shop.example; unset: none"},
    {.name = "PURCHASES_BENCH_ROUTES",
     .default_value = "0",
     .min = 0,
     .max = 1,
     .offset = FIELD(bench_routes),
     .parse = parse_uint,
     .help =
         "1 adds GET /bench/fixed/:userId, a fixed answer after the whole chain, for make bench "
         "only"},
    {.name = "PURCHASES_REDIS_TIMEOUT_MS",
     .default_value = "100",
     .min = 1,
     .max = 10000,
     .offset = FIELD(redis_timeout_ms),
     .parse = parse_uint,
     .help = "longest wait for Redis to connect or answer; past it the answer comes from the "
             "database"},
    {.name = "PURCHASES_NATS_URL",
     .default_value = "",
     .offset = FIELD(nats_url),
     .parse = parse_nats_url,
     .help = "nats://host:port of NATS with JetStream: every create and status change records "
             "its event beside the change and a relay publishes it there (docs/events.md); "
             "unset: events are off"},
    {.name = "PURCHASES_EVENTS_STREAM",
     .default_value = "PURCHASES",
     .offset = FIELD(events_stream),
     .parse = parse_stream_name,
     .help = "the JetStream stream of the events (subjects purchases.events.>), created or "
             "updated at start"},
    {.name = "PURCHASES_EVENTS_MAX_AGE_S",
     .default_value = "2592000",
     .min = 60,
     .max = 315360000,
     .offset = FIELD(events_max_age_s),
     .parse = parse_uint,
     .help = "how long the stream keeps an event (30 days)"},
    {.name = "PURCHASES_EVENTS_REPLICAS",
     .default_value = "1",
     .min = 1,
     .max = 5,
     .offset = FIELD(events_replicas),
     .parse = parse_uint,
     .help = "the stream's replicas: 1 on one server, 3 on a production cluster"},
    {.name = "PURCHASES_EVENTS_DUPLICATE_WINDOW_S",
     .default_value = "120",
     .min = 1,
     .max = 86400,
     .offset = FIELD(events_duplicate_window_s),
     .parse = parse_uint,
     .help = "JetStream drops a second copy of an event id published within this many seconds"},
};

#define ENTRY_COUNT (sizeof(ENTRIES) / sizeof(ENTRIES[0]))

bool config_load(struct config *config, const char *(*getenv_fn)(const char *name), char *err,
                 size_t err_len) {
  memset(config, 0, sizeof(*config));
  for (size_t i = 0; i < ENTRY_COUNT; i++) {
    const struct config_entry *entry = &ENTRIES[i];
    const char *value = getenv_fn(entry->name);
    if (value == NULL) {
      value = entry->default_value;
    }
    if (!entry->parse(entry, value, config, err, err_len)) {
      return false;
    }
  }
  /* Rules across variables. */
  if (config->auth_mode != AUTH_HEADERS &&
      (config->jwks_file == NULL || config->jwt_issuer == NULL || config->jwt_audience == NULL)) {
    snprintf(err, err_len,
             "PURCHASES_AUTH=jwt or both needs PURCHASES_JWKS_FILE, PURCHASES_JWT_ISSUER and "
             "PURCHASES_JWT_AUDIENCE");
    return false;
  }
  if ((config->log_target == LOG_TARGET_FILE) != (config->log_file != NULL)) {
    snprintf(err, err_len,
             "PURCHASES_LOG_FILE goes with PURCHASES_LOG_TARGET=file: set both or neither");
    return false;
  }
  if ((config->tls_cert == NULL) != (config->tls_key == NULL)) {
    snprintf(err, err_len,
             "PURCHASES_TLS_CERT and PURCHASES_TLS_KEY go together: set both or neither");
    return false;
  }
  return true;
}

void config_cleanup(struct config *config) {
  free(config->bind_address);
  free(config->mongodb_uri);
  free(config->cursor_key);
  free(config->jwks_file);
  free(config->jwt_issuer);
  free(config->jwt_audience);
  free(config->tls_cert);
  free(config->tls_key);
  free(config->log_file);
  free(config->redis_url);
  config->redis_url = NULL;
  free(config->nats_url);
  config->nats_url = NULL;
  free(config->events_stream);
  config->events_stream = NULL;
  config->bind_address = NULL;
  config->mongodb_uri = NULL;
  config->cursor_key = NULL;
  config->jwks_file = NULL;
  config->jwt_issuer = NULL;
  config->jwt_audience = NULL;
  config->tls_cert = NULL;
  config->tls_key = NULL;
  config->log_file = NULL;
}

void config_describe(FILE *out) {
  for (size_t i = 0; i < ENTRY_COUNT; i++) {
    const char *value = ENTRIES[i].default_value;
    fprintf(out, "  %-31s %s\n  %-31s default: %s\n", ENTRIES[i].name, ENTRIES[i].help, "",
            value[0] != '\0' ? value : "(unset)");
  }
}
