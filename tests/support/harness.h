#ifndef PURCHASES_TESTS_HARNESS_H
#define PURCHASES_TESTS_HARNESS_H

/* Test harness for integration tests: a FerretDB of the test's own (own
 * port, own data folder and, on PostgreSQL, its own database), the real
 * build/purchases binary on a free port, and an HTTP client. Every function
 * that can fail returns false and prints why on stderr; the tests assert on
 * that.
 *
 * The storage engine comes from the environment, as scripts/test.sh sets it:
 * PURCHASES_TEST_PG_URL (a PostgreSQL base URL, postgres://user@host:port)
 * selects FerretDB's postgresql handler, the default engine; without it, or
 * with FERRETDB_HANDLER=sqlite, the SQLite handler. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <bson/bson.h>
#include <jansson.h>

struct ferretdb {
  pid_t pid;
  int port;
  char dir[128];    /* temporary folder: data and log */
  char uri[160];    /* mongodb://127.0.0.1:<port>/<database> */
  char pg_url[256]; /* the PostgreSQL database behind it; "" on SQLite */
};

struct server {
  pid_t pid;
  int port;
  int exit_code; /* set when it exited on its own during server_start */
  char log_path[192];
};

struct http_response {
  long status;
  char *body;      /* NUL-terminated */
  size_t body_len; /* bytes of body (a gzip body may hold NULs) */
  char *headers;   /* raw header block */
  json_t *j_body;  /* parsed body, or NULL when it is not JSON */
};

/* The folder for every file a test makes: PURCHASES_TEST_TMP, which
 * scripts/test.sh creates for the run and removes when it is green, else
 * /tmp. */
const char *harness_tmp(void);

/* A TCP port that was free a moment ago on 127.0.0.1. */
int harness_free_port(void);

/* Starts FerretDB in a new temporary folder on a free port, on a new
 * PostgreSQL database of its own (or SQLite, see above), and waits until it
 * accepts connections. `database` names the database in db->uri. */
bool ferretdb_start(struct ferretdb *db, const char *database);

/* Starts it again on the same port and folder (after ferretdb_stop with
 * keep_data). */
bool ferretdb_restart(struct ferretdb *db);

/* Stops it (SIGTERM, then SIGKILL after 5 s). Removes the folder and drops
 * its PostgreSQL database unless keep_data. */
void ferretdb_stop(struct ferretdb *db, bool keep_data);

/* Whether FerretDB runs on PostgreSQL in this test run. */
bool harness_on_postgresql(void);

/* Runs one SQL statement on db's PostgreSQL database with psql and returns
 * its output (rows as text, one a line; the caller frees), or NULL when
 * psql failed. */
char *ferretdb_sql(const struct ferretdb *db, const char *sql);

/* Freezes or thaws the FerretDB process (SIGSTOP / SIGCONT). */
void ferretdb_pause(struct ferretdb *db);
void ferretdb_resume(struct ferretdb *db);

/* A Redis of the test's own: redis-server from Debian on a free port,
 * keeping nothing on disk. */
struct redis {
  pid_t pid;
  int port;
  char url[64]; /* redis://127.0.0.1:<port> */
  char log_path[128];
};

/* Starts it and waits until it answers PING. */
bool redis_start(struct redis *redis);

/* Starts it again on the same port (after redis_stop): empty, as a Redis
 * without persistence comes back. */
bool redis_restart(struct redis *redis);

/* Stops it (SIGTERM, then SIGKILL after 5 s). */
void redis_stop(struct redis *redis);

/* A NATS server with JetStream of the test's own: nats-server from Debian
 * on a free port, its store in a folder of the run. */
struct nats {
  pid_t pid;
  int port;
  char url[64]; /* nats://127.0.0.1:<port> */
  char dir[192];
  char log_path[224];
};

/* Starts it (an empty store) and waits until it accepts connections. */
bool nats_start(struct nats *nats);

/* Starts it again on the same port and store (after nats_stop). */
bool nats_restart(struct nats *nats);

/* Stops it (SIGTERM, then SIGKILL after 5 s); the store is kept until
 * nats_remove(). */
void nats_stop(struct nats *nats);

/* Removes its store. */
void nats_remove(struct nats *nats);

/* Starts build/purchases on a free port with MONGODB_URI=mongodb_uri and the
 * extra "NAME=value" entries of `env` (NULL-terminated, may be NULL), output
 * to a log file, and waits until /healthz answers 200. */
bool server_start(struct server *server, const char *mongodb_uri, const char *const *env);

/* Sends SIGTERM and waits up to timeout_s for the exit. Returns the exit code,
 * 128+signal if it died of a signal, or -1 if it had to be killed. For a
 * server that already exited during server_start, returns that exit code. */
int server_stop(struct server *server, int timeout_s);

/* Kills the server with SIGKILL, as a crash would, and reaps it. */
void server_kill(struct server *server);

/* Contents of the server's log so far; the caller frees it. */
char *server_log(const struct server *server);

/* With a PEM file, every request the harness sends (server_start's wait
 * included) is HTTPS to 127.0.0.1, trusting only that certificate; NULL goes
 * back to plain HTTP. */
void harness_set_tls(const char *ca_file);

/* Writes a new self-signed ECDSA P-256 certificate for 127.0.0.1 and
 * localhost, valid for a day, and its private key, both PEM. */
bool tls_write_self_signed(const char *cert_path, const char *key_path);

/* Sends `method` `path` to 127.0.0.1:port with `headers` ("Name: value",
 * NULL-terminated, may be NULL). Returns false only when no HTTP response
 * came back. */
bool http_request(int port, const char *method, const char *path, const char *const *headers,
                  struct http_response *out);

/* The same with a request body (NUL-terminated; NULL for none). */
bool http_request_body(int port, const char *method, const char *path, const char *const *headers,
                       const char *request_body, struct http_response *out);

/* GET with the x-client-id and x-user-id headers (each omitted when NULL). */
bool http_get_as(int port, const char *path, const char *client_id, const char *user_id,
                 struct http_response *out);

/* The value of the unlabelled metric `name` of the server on `port`'s
 * /metrics, as a whole number; -1 when it is not there (or no answer). */
long http_metric(int port, const char *name);

/* Value of response header `name` (case-insensitive) copied into buf, or
 * NULL when absent. */
const char *http_header(const struct http_response *response, const char *name, char *buf,
                        size_t len);

void http_response_cleanup(struct http_response *response);

/* How many documents of `collection` of the database at `uri` match the
 * JSON filter; -1 (and why, on stderr) when the count fails. */
int64_t db_count(const char *uri, const char *collection, const char *filter_json);

/* Inserts documents straight into the purchases collection at `uri`. */
bool db_insert(const char *uri, const bson_t *const *docs, size_t count);

/* What a test purchase varies. A field left zero (or NULL) takes the value
 * in its comment. */
struct fixture {
  const char *id;
  const char *user_id;
  int64_t date_ms;      /* datePurchased; delivered a day later */
  const char *status;   /* "delivered" */
  int64_t unit_pence;   /* 3499 */
  int32_t quantity;     /* 2 */
  const char *currency; /* "GBP" */
  const char *title;    /* "Secret Blue Kettle" */
  const char *brand;    /* "Hearthware" */
};

/* The stored document of one purchase with one item, as the service
 * writes it (every field of the schema, in its order and BSON types); the
 * caller destroys it. The one way the suites build a purchase to insert. */
bson_t *fixture_document(const struct fixture *fixture);

/* fixture_document() with the defaults: `id` of `user_id` at `date_ms`. */
bson_t *fixture_purchase(const char *id, const char *user_id, int64_t date_ms);

/* Polls GET path until it answers `status` or timeout_s passes. */
bool wait_for_status(int port, const char *path, long status, int timeout_s);

#endif
