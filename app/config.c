#include "app/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <yder.h>

#include "lib/words.h"
#include "models/redis.h"

/* One configuration variable: its name, default, bounds (for numbers) and
 * the function that parses and validates it into the config struct. */
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
    {"PURCHASES_PORT", "8080", 1, 65535, FIELD(port), parse_uint, "TCP port to serve HTTP on"},
    {"PURCHASES_BIND_ADDRESS", "127.0.0.1", 0, 0, FIELD(bind_address), parse_ipv4,
     "IPv4 address to listen on; 0.0.0.0 for every interface"},
    {"MONGODB_URI", "mongodb://127.0.0.1:27017/purchases", 0, 0, FIELD(mongodb_uri),
     parse_mongodb_uri, "MongoDB connection string; its path names the database"},
    {"PURCHASES_CLIENTS",
     "shop:customer,customer-support:support,invoicing:service,checkout:ingest", 0, 0, 0,
     parse_clients, "calling applications and their roles (customer, support, service, ingest)"},
    {"PURCHASES_LOG_LEVEL", "info", 0, 0, FIELD(log_level), parse_log_level,
     "error, warning, info or debug"},
    {"PURCHASES_LOG_FORMAT", "text", 0, 0, FIELD(log_format), parse_log_format,
     "text, or json for one JSON object per line"},
    {"PURCHASES_LOG_TARGET", "console", 0, 0, FIELD(log_target), parse_log_target,
     "console, file (PURCHASES_LOG_FILE), syslog or journald"},
    {"PURCHASES_LOG_FILE", "", 0, 0, FIELD(log_file), parse_optional,
     "the file log lines are appended to, with PURCHASES_LOG_TARGET=file"},
    {"PURCHASES_MAX_CONNECTIONS", "0", 0, 1000000, FIELD(max_connections), parse_uint,
     "concurrent HTTP connections; more are refused. 0: as many as the open-file limit "
     "allows (raised to its hard limit at start), at most 16384"},
    {"PURCHASES_MAX_CONNECTIONS_PER_IP", "0", 0, 10000, FIELD(max_connections_per_ip), parse_uint,
     "concurrent connections from one address; 0: no limit (behind a gateway)"},
    {"PURCHASES_WORKERS", "0", 0, 256, FIELD(workers), parse_uint,
     "0: a thread per connection (the default); N: N threads, each serving its share of the "
     "connections from an epoll loop, handing what waits on the database to "
     "PURCHASES_HANDOFF_THREADS (faster when the cache answers most reads)"},
    {"PURCHASES_HANDOFF_THREADS", "16", 0, 1024, FIELD(handoff_threads), parse_uint,
     "with PURCHASES_WORKERS, threads that run the requests that wait on the database (a "
     "cache miss, a write, an audited read), so that a worker never waits; 0: the workers "
     "read the database themselves and a read holds up the other connections of its worker"},
    {"PURCHASES_CONNECTION_TIMEOUT_S", "30", 1, 3600, FIELD(connection_timeout_s), parse_uint,
     "seconds a connection with no traffic is kept"},
    {"PURCHASES_SHUTDOWN_TIMEOUT_S", "10", 0, 300, FIELD(shutdown_timeout_s), parse_uint,
     "seconds requests in flight get to finish after SIGTERM"},
    {"PURCHASES_DRAIN_DELAY_MS", "0", 0, 60000, FIELD(drain_delay_ms), parse_uint,
     "after SIGTERM, how long /readyz answers 503 while requests are still served, so a "
     "load balancer takes the instance out before it stops accepting"},
    {"PURCHASES_DB_TIMEOUT_MS", "2000", 100, 60000, FIELD(db_timeout_ms), parse_uint,
     "how long to wait for a database connection before answering 503"},
    {"PURCHASES_DB_MAX_IN_FLIGHT", "16", 1, 10000, FIELD(db_max_in_flight), parse_uint,
     "database operations of requests at once; the rest wait PURCHASES_DB_WAIT_MS for a slot"},
    {"PURCHASES_DB_WAIT_MS", "2000", 0, 60000, FIELD(db_wait_ms), parse_uint,
     "how long a request waits for a database slot before it is shed with 503 and "
     "Retry-After"},
    {"PURCHASES_DB_QUERY_TIMEOUT_MS", "5000", 100, 600000, FIELD(db_query_timeout_ms), parse_uint,
     "longest a query may run on the database (maxTimeMS)"},
    {"PURCHASES_CURSOR_KEY", "", 32, 256, FIELD(cursor_key), parse_cursor_key,
     "secret that signs pagination cursors; the same on every instance (unset: random "
     "per process)"},
    {"PURCHASES_AUTH", "headers", 0, 0, FIELD(auth_mode), parse_auth_mode,
     "headers (x-client-id and x-user-id from a trusted gateway), jwt (bearer tokens) or both"},
    {"PURCHASES_JWKS_FILE", "", 0, 0, FIELD(jwks_file), parse_file,
     "JSON Web Key Set with the keys that sign bearer tokens (jwt and both)"},
    {"PURCHASES_JWT_ISSUER", "", 0, 0, FIELD(jwt_issuer), parse_optional,
     "the iss every bearer token must carry (jwt and both)"},
    {"PURCHASES_JWT_AUDIENCE", "", 0, 0, FIELD(jwt_audience), parse_optional,
     "the aud every bearer token must carry (jwt and both)"},
    {"PURCHASES_TLS_CERT", "", 0, 0, FIELD(tls_cert), parse_file,
     "PEM certificate chain: with PURCHASES_TLS_KEY, serve HTTPS only"},
    {"PURCHASES_TLS_KEY", "", 0, 0, FIELD(tls_key), parse_file,
     "PEM private key of PURCHASES_TLS_CERT"},
    {"PURCHASES_RATE_LIMIT_RPS", "20", 0, 100000, FIELD(rate_limit_rps), parse_uint,
     "requests a second each principal (client and user) may make; 0 turns limiting off"},
    {"PURCHASES_RATE_LIMIT_BURST", "40", 1, 100000, FIELD(rate_limit_burst), parse_uint,
     "requests a principal may make at once before the rate applies"},
    {"PURCHASES_AUTH_FAILURES_RPS", "5", 0, 100000, FIELD(auth_failures_rps), parse_uint,
     "failed authentications (401, 403) a second one client address may have before it gets "
     "429; 0 turns this off"},
    {"PURCHASES_AUTH_FAILURES_BURST", "20", 1, 100000, FIELD(auth_failures_burst), parse_uint,
     "failed authentications one client address may have at once before the rate applies"},
    {"PURCHASES_CACHE_BYTES", "67108864", 0, 4000000000u, FIELD(cache_bytes), parse_uint,
     "bytes of answers (list pages, purchases) kept in memory, least recently used out first; "
     "0 turns the cache off"},
    {"PURCHASES_CACHE_TTL_S", "30", 0, 86400, FIELD(cache_ttl_s), parse_uint,
     "seconds a cached answer may be served: how long a write that bypassed the service "
     "(another writer, a restore) can stay unseen; 0 turns the cache off"},
    {"PURCHASES_REDIS_URL", "", 0, 0, FIELD(redis_url), parse_redis_url,
     "redis://[[user]:password@]host[:port][/db] shared by every instance: writes bump a "
     "per-user version there that each instance checks before it serves from its cache "
     "(unset: this instance only)"},
    {"PURCHASES_CORS_ORIGINS", "", 0, 0, 0, parse_cors_origins,
     "origins a browser may call the service from (the shop's front end in jwt mode), "
     "comma-separated, e.g. https://shop.example; unset: none"},
    {"PURCHASES_BENCH_ROUTES", "0", 0, 1, FIELD(bench_routes), parse_uint,
     "1 adds GET /bench/fixed/:userId, a fixed answer after the whole chain, for make bench "
     "only"},
    {"PURCHASES_REDIS_TIMEOUT_MS", "100", 1, 10000, FIELD(redis_timeout_ms), parse_uint,
     "longest wait for Redis to connect or answer; past it the answer comes from the "
     "database"},
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
