#ifndef PURCHASES_MODELS_DB_H
#define PURCHASES_MODELS_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "models/status.h"

/* The process's one connection to MongoDB: a mongoc_client_pool_t plus the
 * database name taken from the URI. Threads pop a client for one operation
 * and push it back at once (db_client_pop / db_client_push). */
struct db;

struct db_options {
  const char *uri;           /* mongodb:// URI; the database comes from its path */
  uint32_t timeout_ms;       /* server selection, connect and pool wait */
  uint32_t query_timeout_ms; /* maxTimeMS of each query; socket timeout above it */
  const char *app_name;      /* shown in the server's logs and currentOp */
  /* Load shedding: at most max_in_flight request operations at once (0: no
   * bound, for the command-line tools); one that finds every slot taken
   * waits at most wait_ms, then fails with MODEL_BUSY. Probes and
   * housekeeping (ping, index creation, key purge) take no slot. Unless the
   * URI sets maxPoolSize, the pool holds max_in_flight + DB_RESERVED_CLIENTS
   * clients. */
  uint32_t max_in_flight;
  uint32_t wait_ms;
};

/* Pool clients beyond the slots, for the probes and housekeeping. */
#define DB_RESERVED_CLIENTS 4

/* Calls mongoc_init() once per process; db_global_cleanup() undoes it and
 * must run after every db is destroyed. Mongo's own log lines are sent to
 * yder. */
void db_global_init(void);
void db_global_cleanup(void);

/* Whether `uri` can be used: it parses, and a pool can be made from it
 * (nothing connects). Call after db_global_init(); the driver's own log
 * lines about it are dropped. Returns false and writes a one-line reason
 * naming MONGODB_URI into err (the caller's buffer). */
bool db_uri_check(const char *uri, char *err, size_t err_len);

/* Parses the URI and creates the pool. It does not connect: the first
 * operation does, so the service starts while the database is down.
 * Returns NULL and writes a one-line reason into err on a bad URI.
 * The caller owns the result and frees it with db_destroy(). */
struct db *db_new(const struct db_options *options, char *err, size_t err_len);

/* Destroys the pool. Every popped client must have been pushed back. */
void db_destroy(struct db *db);

struct versions;

/* The per-user versions (models/versions.h) every write of a purchase
 * bumps, so that no cache serves what the write changed. Borrowed; NULL
 * (the default) for none. Set before the first operation. */
void db_set_versions(struct db *db, struct versions *versions);

/* Says that the purchases of these users changed: bumps their versions,
 * if any are set. The writes of the models call it once they are done. */
void db_users_changed(struct db *db, const char *const *user_ids, size_t count);

/* What a client is popped for, as /metrics names it. */
enum db_op {
  DB_OP_PING,
  DB_OP_ENSURE_INDEX,
  DB_OP_PURCHASE_LIST,
  DB_OP_PURCHASE_FIND,
  DB_OP_PURCHASE_INSERT_MANY,
  DB_OP_PURCHASE_CREATE,
  DB_OP_PURCHASE_APPLY,
  DB_OP_PURCHASE_ANY,
  DB_OP_HISTORY_APPEND,
  DB_OP_HISTORY_GET,
  DB_OP_HISTORY_LIST,
  DB_OP_IDEMPOTENCY_CLAIM,
  DB_OP_IDEMPOTENCY_COMPLETE,
  DB_OP_IDEMPOTENCY_PURGE,
  DB_OP_AUDIT_INSERT,
  DB_OP_AUDIT_LIST,
  DB_OP_COUNT
};

/* A client from the pool for operation `op`: first a slot (request
 * operations only, waiting at most the wait budget), then a pooled client
 * (waiting at most timeout_ms). NULL if either did not come; then
 * db_client_pop_failure() says which. Give the client back with
 * db_client_push() as soon as the operation is done: the time between the
 * two is the operation's duration in /metrics. A thread holds one client
 * at a time. */
mongoc_client_t *db_client_pop(struct db *db, enum db_op op);
void db_client_push(struct db *db, mongoc_client_t *client);

/* Why this thread's last db_client_pop() returned NULL: MODEL_BUSY when it
 * was shed (no slot within the wait budget), MODEL_UNAVAILABLE when the
 * pool gave no client. */
enum model_status db_client_pop_failure(void);

/* The moment this thread's request began to wait for the database, when
 * that was before its first db_client_pop(): a request an epoll worker
 * handed off waited in the hand-off queue first (app/edge.c). Its first
 * wait for a slot then ends at `at` plus the wait budget rather than a
 * whole budget after it asks, so that the two waits together stay within
 * it; past that, a free slot is still taken at once. Used by that one
 * wait, then forgotten; NULL forgets it sooner. */
void db_wait_began(const struct timespec *at);

/* While `refuse` holds, this thread does no database work: every
 * db_client_pop() fails with MODEL_BUSY, and a request operation is
 * counted shed (purchases_db_shed_total), as when no slot came within the
 * budget. For an epoll worker answering a request whose whole wait passed
 * in the hand-off queue: it must not wait on the database itself. */
void db_refuse_slots(bool refuse);
/* Whether this thread is refusing, so that a caller does not wait on
 * database work of another request's either (a cache flight). */
bool db_refusing_slots(void);

/* Writes the database metrics (operation durations, pool waits, errors by
 * kind) in the Prometheus text format. */
void db_write_metrics(struct db *db, FILE *out);

/* The collection `name` in the service's database, from `client`. The caller
 * destroys it (before pushing the client back). */
mongoc_collection_t *db_collection(const struct db *db, mongoc_client_t *client, const char *name);

/* One operation on one collection with a pooled client, the way every
 * store function runs one:
 *
 *   struct db_call call = {0};
 *   if (!db_call_begin(&call, db, DB_OP_..., COLLECTION, &status)) goto done;
 *   ... mongoc_collection_...(call.collection, ...) ...
 *   if (failed) { status = db_call_failed("area", "what", &error); goto done; }
 * done:
 *   db_call_end(&call);
 */
struct db_call {
  struct db *db;
  mongoc_client_t *client;
  mongoc_collection_t *collection;
};

/* Pops a client for `op` (db_client_pop: a slot first for request
 * operations, timed for /metrics) and opens `collection`. False when no
 * client came, with *status MODEL_BUSY or MODEL_UNAVAILABLE; *status is
 * left as it was otherwise. */
bool db_call_begin(struct db_call *call, struct db *db, enum db_op op, const char *collection,
                   enum model_status *status);

/* Closes the collection and gives the client back; nothing for a call that
 * never began or did not get a client (zeroed). */
void db_call_end(struct db_call *call);

/* The model status of a failed driver call, logged once as "<area>: <what>
 * failed (domain, code): message": a warning when the database cannot be
 * reached (it recovers by itself), an error otherwise. */
enum model_status db_call_failed(const char *area, const char *what, const bson_error_t *error);

/* What a db_find_each() callback says of the document it was handed. */
enum db_take { DB_TAKE_MORE, DB_TAKE_ENOUGH, DB_TAKE_FAILED };

/* Runs one find on `collection` and hands each document (valid during the
 * call only) to take(), until it says enough or the cursor ends: MODEL_OK.
 * MODEL_ERROR when take() failed (it logs what it must); when the cursor
 * fails, its status, logged by db_call_failed(area, what). */
enum model_status db_find_each(mongoc_collection_t *collection, const bson_t *filter,
                               const bson_t *opts,
                               enum db_take (*take)(const bson_t *doc, void *arg), void *arg,
                               const char *area, const char *what);

/* The first document `filter` matches, with the fields of `projection`
 * (all when NULL), copied into *doc_out (the caller's); MODEL_NOT_FOUND with
 * *doc_out NULL when none does. The query runs with maxTimeMS; errors as
 * db_find_each(). */
enum model_status db_find_one(const struct db *db, mongoc_collection_t *collection,
                              const bson_t *filter, const bson_t *projection, bson_t **doc_out,
                              const char *area, const char *what);

/* Inserts `doc` with the durable write concern (db_append_durable_write).
 * MODEL_CONFLICT for a duplicate key, not logged; another failure logged by
 * db_call_failed(area, "insert"), unless area is NULL (the caller logs from
 * *error, which is filled on every failure). */
enum model_status db_insert_durable(const struct db *db, mongoc_collection_t *collection,
                                    const bson_t *doc, const char *area, bson_error_t *error);

/* maxTimeMS for queries, from the options. */
uint32_t db_query_timeout_ms(const struct db *db);

/* The longest one operation can take before the driver gives up on it:
 * waiting for a pooled client plus the socket timeout (timeout_ms plus
 * query_timeout_ms each), in milliseconds. */
uint64_t db_operation_limit_ms(const struct db *db);

/* Runs `ping`. MODEL_OK when the database answered, MODEL_UNAVAILABLE when
 * it could not be reached. */
enum model_status db_ping(struct db *db);

/* Whether purchase writes mark their history entries as pending events
 * (models/events.h): on with PURCHASES_NATS_URL. Set before the first
 * operation; off by default. */
void db_set_events(struct db *db, bool on);
bool db_events(const struct db *db);

/* Whether the database still has the shape of the release before
 * per-customer purchase ids (history entries without userId, ids unique
 * across customers): until purchases-migrate has run, history is read by
 * purchase id alone (models/history.h). Set by the app's watcher from the
 * indexes it finds; false by default. */
void db_set_earlier_shape(struct db *db, bool earlier);
bool db_earlier_shape(const struct db *db);

/* True when the server said it is FerretDB (buildInfo has ferretdbVersion).
 * Only meaningful after a successful db_ping(). */
bool db_is_ferretdb(const struct db *db);

/* Maps a mongoc error to a model status: network, server selection, pool
 * and shutdown errors are MODEL_UNAVAILABLE, the rest MODEL_ERROR. */
enum model_status db_status_from_error(const bson_error_t *error);

/* MongoDB's error code for a write a unique index refused. */
#define DB_DUPLICATE_KEY 11000

/* Appends the write concern of every write that must not be lost
 * (majority, journaled, with a timeout) to a command's options. False when
 * out of memory. */
bool db_append_durable_write(const struct db *db, bson_t *opts);

/* One index a collection's queries rely on. */
struct db_index {
  const char *name;
  bool unique;
  const char *keys[5]; /* field names, NULL-terminated */
  int32_t orders[5];   /* 1 or -1 per field */
  bool expire_at_date; /* a TTL index: documents go at the date in keys[0]
                        * (MongoDB only: FerretDB v1 has no TTL indexes) */
};

/* Creates `indexes` on `collection_name`, one command each; creating one
 * that exists with the same keys and name is a no-op on MongoDB and FerretDB
 * alike, so this is safe at every start and from several instances. */
enum model_status db_ensure_indexes(struct db *db, const char *collection_name,
                                    const struct db_index *indexes, size_t count);

#endif
