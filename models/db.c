#include "models/shard_check.h"
#include "models/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yder.h>

#include "lib/stats.h"
#include "models/versions.h"

static const char *const DB_OP_NAMES[DB_OP_COUNT] = {
    [DB_OP_PING] = "ping",
    [DB_OP_ENSURE_INDEX] = "ensure_index",
    [DB_OP_PURCHASE_LIST] = "purchase_list",
    [DB_OP_PURCHASE_FIND] = "purchase_find",
    [DB_OP_PURCHASE_INSERT_MANY] = "purchase_insert_many",
    [DB_OP_PURCHASE_CREATE] = "purchase_create",
    [DB_OP_PURCHASE_APPLY] = "purchase_apply",
    [DB_OP_PURCHASE_ANY] = "purchase_any",
    [DB_OP_HISTORY_APPEND] = "history_append",
    [DB_OP_HISTORY_GET] = "history_get",
    [DB_OP_HISTORY_LIST] = "history_list",
    [DB_OP_IDEMPOTENCY_CLAIM] = "idempotency_claim",
    [DB_OP_IDEMPOTENCY_COMPLETE] = "idempotency_complete",
    [DB_OP_IDEMPOTENCY_PURGE] = "idempotency_purge",
    [DB_OP_AUDIT_INSERT] = "audit_insert",
    [DB_OP_AUDIT_LIST] = "audit_list",
};

/* Error kinds counted for /metrics, as model statuses name them. */
enum { ERROR_UNAVAILABLE, ERROR_CONFLICT, ERROR_OTHER, ERROR_POOL_TIMEOUT, ERROR_KINDS };
static const char *const ERROR_NAMES[ERROR_KINDS] = {"unavailable", "conflict", "error",
                                                     "pool_timeout"};

/* A request operation waiting for a slot, in the queue of struct db_slots. */
struct slot_waiter {
  struct slot_waiter *prev;
  struct slot_waiter *next;
  pthread_cond_t granted_cond;
  bool granted; /* a finishing operation handed its slot over */
};

/* The bound on request operations in flight: a counting semaphore with a
 * FIFO queue of waiters, each woken alone when a finishing operation hands
 * it its slot, so that no newcomer overtakes a waiter and the longest wait
 * is the queue's length over the database's rate, not luck. Waits are
 * timed against CLOCK_MONOTONIC. */
struct db_slots {
  pthread_mutex_t lock;
  pthread_condattr_t clock; /* CLOCK_MONOTONIC, for each waiter's condition */
  struct slot_waiter *head;
  struct slot_waiter *tail;
  uint32_t limit; /* 0: no bound */
  uint32_t wait_ms;
  uint32_t taken;
  atomic_uint in_flight; /* = taken, readable without the lock */
  atomic_ullong shed;
  struct histogram wait;
};

struct db {
  mongoc_client_pool_t *pool;
  char *database;
  uint32_t timeout_ms;
  uint32_t query_timeout_ms;
  atomic_bool is_ferretdb;
  atomic_bool earlier_shape; /* see db_set_earlier_shape */
  bool events;               /* see db_set_events */
  struct db_slots slots;
  struct histogram operations[DB_OP_COUNT];
  struct histogram pool_wait;
  struct versions *versions; /* borrowed; NULL for none */
};

static bool slots_init(struct db_slots *slots, uint32_t limit, uint32_t wait_ms);

/* Process-wide, like the mongoc error codes they count. */
static atomic_ullong error_counts[ERROR_KINDS];

/* The operation this thread popped a client for, when, whether it holds a
 * slot for it, and why its last pop failed. */
static _Thread_local enum db_op current_op;
static _Thread_local struct timespec current_started;
static _Thread_local bool current_has_slot;
static _Thread_local enum model_status last_pop_failure = MODEL_UNAVAILABLE;
/* db_wait_began(): when this thread's request began to wait. */
static _Thread_local bool wait_began_set;
static _Thread_local struct timespec wait_began;
/* db_refuse_slots(). */
static _Thread_local bool refusing_slots;

static double seconds_since(const struct timespec *since) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

const char *model_status_name(enum model_status status) {
  switch (status) {
    case MODEL_OK:
      return "ok";
    case MODEL_NOT_FOUND:
      return "not_found";
    case MODEL_INVALID:
      return "invalid";
    case MODEL_CONFLICT:
      return "conflict";
    case MODEL_UNAVAILABLE:
      return "unavailable";
    case MODEL_BUSY:
      return "busy";
    case MODEL_ERROR:
      break;
  }
  return "error";
}

/* mongoc logs through a global handler: send it to yder at a matching level.
 * mongoc's messages describe the driver, never documents. */
/* Set while db_uri_check() parses a URI whose errors it reports itself. */
static atomic_bool log_muted;

static void db_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                           void *user_data) {
  (void)user_data;
  unsigned long y_level;
  if (atomic_load(&log_muted)) {
    return;
  }
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
      y_level = Y_LOG_LEVEL_ERROR;
      break;
    case MONGOC_LOG_LEVEL_WARNING:
      y_level = Y_LOG_LEVEL_WARNING;
      break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
      y_level = Y_LOG_LEVEL_INFO;
      break;
    case MONGOC_LOG_LEVEL_DEBUG:
    case MONGOC_LOG_LEVEL_TRACE:
    default:
      return;
  }
  /* FerretDB does not implement endSessions; the driver warns about it on
   * every pool shutdown. It is harmless there and absent on MongoDB. */
  if (strstr(message, "endSessions") != NULL) {
    return;
  }
  y_log_message(y_level, "mongoc %s: %s", domain, message);
}

void db_global_init(void) {
  mongoc_init();
  mongoc_log_set_handler(db_log_handler, NULL);
}

void db_global_cleanup(void) {
  mongoc_cleanup();
}

/* Sets an integer URI option unless the operator already put it in the URI. */
static void db_uri_default_int32(mongoc_uri_t *uri, const char *option, int32_t value) {
  if (!mongoc_uri_has_option(uri, option)) {
    mongoc_uri_set_option_as_int32(uri, option, value);
  }
}

/* URI options that name files (the names mongoc keeps them under). */
static const char *const TLS_FILE_OPTIONS[] = {MONGOC_URI_TLSCAFILE,
                                               MONGOC_URI_TLSCERTIFICATEKEYFILE};

bool db_uri_check(const char *uri_string, char *err, size_t err_len) {
  mongoc_uri_t *uri = NULL;
  mongoc_client_pool_t *pool = NULL;
  bson_error_t error;
  bool ok = false;

  /* The driver logs its own complaint before returning the error; the
   * caller prints the error, once, naming the variable. */
  atomic_store(&log_muted, true);
  uri = mongoc_uri_new_with_error(uri_string, &error);
  if (uri == NULL) {
    snprintf(err, err_len, "MONGODB_URI is not a valid MongoDB URI: %s", error.message);
    goto done;
  }
  /* The driver opens these only when it first connects; a typo would
   * otherwise show as a database that never answers. */
  for (size_t i = 0; i < sizeof(TLS_FILE_OPTIONS) / sizeof(TLS_FILE_OPTIONS[0]); i++) {
    const char *path = mongoc_uri_get_option_as_utf8(uri, TLS_FILE_OPTIONS[i], NULL);
    if (path != NULL && access(path, R_OK) != 0) {
      snprintf(err, err_len, "MONGODB_URI: %s file %s cannot be read: %s", TLS_FILE_OPTIONS[i],
               path, strerror(errno));
      goto done;
    }
  }
  pool = mongoc_client_pool_new_with_error(uri, &error);
  if (pool == NULL) {
    snprintf(err, err_len, "MONGODB_URI cannot be used: %s", error.message);
    goto done;
  }
  ok = true;

done:
  mongoc_client_pool_destroy(pool);
  mongoc_uri_destroy(uri);
  atomic_store(&log_muted, false);
  return ok;
}

struct db *db_new(const struct db_options *options, char *err, size_t err_len) {
  struct db *db = NULL;
  struct db *result = NULL;
  mongoc_uri_t *uri = NULL;
  bson_error_t error;
  const char *database;
  int32_t timeout = (int32_t)options->timeout_ms;

  uri = mongoc_uri_new_with_error(options->uri, &error);
  if (uri == NULL) {
    snprintf(err, err_len, "MONGODB_URI is not a valid MongoDB URI: %s", error.message);
    goto done;
  }
  database = mongoc_uri_get_database(uri);
  if (database == NULL || database[0] == '\0') {
    database = "purchases";
  }

  /* The driver's defaults (30 s server selection, 5 min socket timeout)
   * would hold a request for minutes when the database is gone. */
  db_uri_default_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout);
  db_uri_default_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout);
  db_uri_default_int32(uri, MONGOC_URI_WAITQUEUETIMEOUTMS, timeout);
  db_uri_default_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
                       (int32_t)options->query_timeout_ms + timeout);
  if (options->app_name != NULL && !mongoc_uri_has_option(uri, MONGOC_URI_APPNAME)) {
    mongoc_uri_set_appname(uri, options->app_name);
  }
  if (options->max_in_flight > 0) {
    db_uri_default_int32(uri, MONGOC_URI_MAXPOOLSIZE,
                         (int32_t)(options->max_in_flight + DB_RESERVED_CLIENTS));
  }

  db = bson_malloc0(sizeof(*db));
  db->database = bson_strdup(database);
  db->timeout_ms = options->timeout_ms;
  db->query_timeout_ms = options->query_timeout_ms;
  atomic_init(&db->is_ferretdb, false);
  atomic_init(&db->earlier_shape, false);
  if (!slots_init(&db->slots, options->max_in_flight, options->wait_ms)) {
    snprintf(err, err_len, "cannot create the database slots");
    goto done;
  }
  db->pool = mongoc_client_pool_new_with_error(uri, &error);
  if (db->pool == NULL) {
    snprintf(err, err_len, "MONGODB_URI cannot be used: %s", error.message);
    goto done;
  }
  mongoc_client_pool_set_error_api(db->pool, MONGOC_ERROR_API_VERSION_2);
  /* Before the first pop: the test build's shard-key check. */
  shard_check_install(db->pool, options->app_name);
  result = db;
  db = NULL;

done:
  db_destroy(db);
  mongoc_uri_destroy(uri);
  return result;
}

void db_set_versions(struct db *db, struct versions *versions) {
  db->versions = versions;
}

void db_users_changed(struct db *db, const char *const *user_ids, size_t count) {
  if (db->versions != NULL) {
    versions_bump(db->versions, user_ids, count);
  }
}

void db_destroy(struct db *db) {
  if (db == NULL) {
    return;
  }
  if (db->pool != NULL) {
    mongoc_client_pool_destroy(db->pool);
    shard_check_finish();
  }
  if (db->slots.wait_ms != UINT32_MAX) {
    pthread_condattr_destroy(&db->slots.clock);
    pthread_mutex_destroy(&db->slots.lock);
  }
  bson_free(db->database);
  bson_free(db);
}

/* wait_ms is UINT32_MAX until the lock and condition exist, so that
 * db_destroy knows whether to destroy them. */
static bool slots_init(struct db_slots *slots, uint32_t limit, uint32_t wait_ms) {
  slots->wait_ms = UINT32_MAX;
  if (pthread_condattr_init(&slots->clock) != 0) {
    return false;
  }
  if (pthread_condattr_setclock(&slots->clock, CLOCK_MONOTONIC) != 0 ||
      pthread_mutex_init(&slots->lock, NULL) != 0) {
    pthread_condattr_destroy(&slots->clock);
    return false;
  }
  slots->head = NULL;
  slots->tail = NULL;
  slots->limit = limit;
  slots->wait_ms = wait_ms;
  atomic_init(&slots->in_flight, 0);
  atomic_init(&slots->shed, 0);
  return true;
}

/* Operations a request waits on take a slot; probes and housekeeping do
 * not, so that readiness still answers while requests are being shed. */
static bool op_takes_slot(enum db_op op) {
  return op != DB_OP_PING && op != DB_OP_ENSURE_INDEX && op != DB_OP_IDEMPOTENCY_PURGE;
}

static void waiter_unlink(struct db_slots *slots, struct slot_waiter *waiter) {
  if (waiter->prev != NULL) {
    waiter->prev->next = waiter->next;
  } else {
    slots->head = waiter->next;
  }
  if (waiter->next != NULL) {
    waiter->next->prev = waiter->prev;
  } else {
    slots->tail = waiter->prev;
  }
}

/* Waits in the queue for a slot until `until`; true when one was handed
 * over. Called and returns with the lock held. */
static bool slot_wait(struct db_slots *slots, const struct timespec *until) {
  struct slot_waiter waiter = {.prev = slots->tail};

  if (pthread_cond_init(&waiter.granted_cond, &slots->clock) != 0) {
    return false;
  }
  if (slots->tail != NULL) {
    slots->tail->next = &waiter;
  } else {
    slots->head = &waiter;
  }
  slots->tail = &waiter;
  while (!waiter.granted) {
    if (pthread_cond_timedwait(&waiter.granted_cond, &slots->lock, until) == ETIMEDOUT) {
      break;
    }
  }
  if (!waiter.granted) {
    waiter_unlink(slots, &waiter);
  }
  pthread_cond_destroy(&waiter.granted_cond);
  return waiter.granted;
}

/* Takes a slot: a free one at once if nobody waits, else a place in the
 * queue for at most the wait budget. False: shed. */
static bool slot_take(struct db_slots *slots) {
  struct timespec asked;
  struct timespec until;
  bool taken = false;

  clock_gettime(CLOCK_MONOTONIC, &asked);
  until = wait_began_set ? wait_began : asked;
  wait_began_set = false;
  until.tv_sec += slots->wait_ms / 1000;
  until.tv_nsec += (long)(slots->wait_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&slots->lock);
  if (slots->taken < slots->limit && slots->head == NULL) {
    slots->taken++;
    atomic_store_explicit(&slots->in_flight, slots->taken, memory_order_relaxed);
    taken = true;
  } else if (slots->wait_ms > 0) {
    taken = slot_wait(slots, &until); /* a slot handed over stays counted */
  }
  pthread_mutex_unlock(&slots->lock);
  histogram_observe(&slots->wait, seconds_since(&asked));
  if (!taken) {
    atomic_fetch_add_explicit(&slots->shed, 1, memory_order_relaxed);
  }
  return taken;
}

/* Gives a slot back: to the first waiter if there is one, else free. */
static void slot_give(struct db_slots *slots) {
  pthread_mutex_lock(&slots->lock);
  if (slots->head != NULL) {
    struct slot_waiter *first = slots->head;
    waiter_unlink(slots, first);
    first->granted = true;
    pthread_cond_signal(&first->granted_cond);
  } else {
    slots->taken--;
    atomic_store_explicit(&slots->in_flight, slots->taken, memory_order_relaxed);
  }
  pthread_mutex_unlock(&slots->lock);
}

void db_wait_began(const struct timespec *at) {
  wait_began_set = at != NULL;
  if (at != NULL) {
    wait_began = *at;
  }
}

void db_refuse_slots(bool refuse) {
  refusing_slots = refuse;
}

bool db_refusing_slots(void) {
  return refusing_slots;
}

mongoc_client_t *db_client_pop(struct db *db, enum db_op op) {
  mongoc_client_t *client;
  struct timespec asked;
  bool takes_slot = db->slots.limit > 0 && op_takes_slot(op);
  bool has_slot = false;

  if (refusing_slots) {
    if (takes_slot) {
      atomic_fetch_add_explicit(&db->slots.shed, 1, memory_order_relaxed);
    }
    last_pop_failure = MODEL_BUSY;
    return NULL;
  }
  if (takes_slot) {
    if (!slot_take(&db->slots)) {
      last_pop_failure = MODEL_BUSY;
      return NULL;
    }
    has_slot = true;
  }
  clock_gettime(CLOCK_MONOTONIC, &asked);
  /* With waitQueueTimeoutMS set this returns NULL after that long instead of
   * blocking for ever when the pool is exhausted. */
  client = mongoc_client_pool_pop(db->pool);
  histogram_observe(&db->pool_wait, seconds_since(&asked));
  if (client == NULL) {
    atomic_fetch_add_explicit(&error_counts[ERROR_POOL_TIMEOUT], 1, memory_order_relaxed);
    if (has_slot) {
      slot_give(&db->slots);
    }
    last_pop_failure = MODEL_UNAVAILABLE;
    return NULL;
  }
  current_op = op;
  current_has_slot = has_slot;
  clock_gettime(CLOCK_MONOTONIC, &current_started);
  return client;
}

void db_client_push(struct db *db, mongoc_client_t *client) {
  if (client != NULL) {
    histogram_observe(&db->operations[current_op], seconds_since(&current_started));
    mongoc_client_pool_push(db->pool, client);
    if (current_has_slot) {
      current_has_slot = false;
      slot_give(&db->slots);
    }
  }
}

enum model_status db_client_pop_failure(void) {
  return last_pop_failure;
}

void db_write_metrics(struct db *db, FILE *out) {
  char labels[64];

  fputs("# HELP purchases_db_operation_duration_seconds Time a database operation held its "
        "pooled connection, by operation.\n"
        "# TYPE purchases_db_operation_duration_seconds histogram\n",
        out);
  for (size_t i = 0; i < DB_OP_COUNT; i++) {
    snprintf(labels, sizeof(labels), "operation=\"%s\"", DB_OP_NAMES[i]);
    histogram_write(out, "purchases_db_operation_duration_seconds", labels, &db->operations[i]);
  }
  fputs("# HELP purchases_db_pool_wait_seconds Time spent waiting for a pooled connection.\n"
        "# TYPE purchases_db_pool_wait_seconds histogram\n",
        out);
  histogram_write(out, "purchases_db_pool_wait_seconds", "", &db->pool_wait);
  fprintf(out,
          "# HELP purchases_db_in_flight Request operations holding a database slot now.\n"
          "# TYPE purchases_db_in_flight gauge\n"
          "purchases_db_in_flight %u\n"
          "# HELP purchases_db_in_flight_limit Database slots (PURCHASES_DB_MAX_IN_FLIGHT).\n"
          "# TYPE purchases_db_in_flight_limit gauge\n"
          "purchases_db_in_flight_limit %u\n",
          atomic_load_explicit(&db->slots.in_flight, memory_order_relaxed), db->slots.limit);
  fputs("# HELP purchases_db_slot_wait_seconds Time a request operation waited for a database "
        "slot.\n"
        "# TYPE purchases_db_slot_wait_seconds histogram\n",
        out);
  histogram_write(out, "purchases_db_slot_wait_seconds", "", &db->slots.wait);
  fprintf(out,
          "# HELP purchases_db_shed_total Request operations refused (503) because no database "
          "slot came within PURCHASES_DB_WAIT_MS.\n"
          "# TYPE purchases_db_shed_total counter\n"
          "purchases_db_shed_total %llu\n",
          atomic_load_explicit(&db->slots.shed, memory_order_relaxed));
  fputs("# HELP purchases_db_errors_total Failed database operations, by kind.\n"
        "# TYPE purchases_db_errors_total counter\n",
        out);
  for (size_t i = 0; i < ERROR_KINDS; i++) {
    fprintf(out, "purchases_db_errors_total{kind=\"%s\"} %llu\n", ERROR_NAMES[i],
            atomic_load_explicit(&error_counts[i], memory_order_relaxed));
  }
}

mongoc_collection_t *db_collection(const struct db *db, mongoc_client_t *client, const char *name) {
  return mongoc_client_get_collection(client, db->database, name);
}

bool db_call_begin(struct db_call *call, struct db *db, enum db_op op, const char *collection,
                   enum model_status *status) {
  call->db = db;
  call->collection = NULL;
  call->client = db_client_pop(db, op);
  if (call->client == NULL) {
    *status = db_client_pop_failure();
    return false;
  }
  call->collection = db_collection(db, call->client, collection);
  return true;
}

void db_call_end(struct db_call *call) {
  mongoc_collection_destroy(call->collection);
  call->collection = NULL;
  if (call->db != NULL) {
    db_client_push(call->db, call->client);
  }
  call->client = NULL;
}

static enum model_status classify(const bson_error_t *error) {
  switch (error->domain) {
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_CLIENT:
    case MONGOC_ERROR_PROTOCOL:
      return MODEL_UNAVAILABLE;
    case MONGOC_ERROR_SERVER:
      switch (error->code) {
        case 6:     /* HostUnreachable */
        case 7:     /* HostNotFound */
        case 50:    /* MaxTimeMSExpired */
        case 89:    /* NetworkTimeout */
        case 91:    /* ShutdownInProgress */
        case 189:   /* PrimarySteppedDown */
        case 262:   /* ExceededTimeLimit */
        case 9001:  /* SocketException */
        case 10107: /* NotWritablePrimary */
        case 11600: /* InterruptedAtShutdown */
        case 11602: /* InterruptedDueToReplStateChange */
        case 13435: /* NotPrimaryNoSecondaryOk */
        case 13436: /* NotPrimaryOrSecondary */
          return MODEL_UNAVAILABLE;
        case DB_DUPLICATE_KEY:
          return MODEL_CONFLICT;
        default:
          return MODEL_ERROR;
      }
    default:
      return MODEL_ERROR;
  }
}

static void log_call_failed(const char *area, const char *what, const bson_error_t *error,
                            enum model_status status) {
  y_log_message(status == MODEL_UNAVAILABLE ? Y_LOG_LEVEL_WARNING : Y_LOG_LEVEL_ERROR,
                "%s: %s failed (domain %u, code %u): %s", area, what, error->domain, error->code,
                error->message);
}

enum model_status db_call_failed(const char *area, const char *what, const bson_error_t *error) {
  enum model_status status = db_status_from_error(error);
  log_call_failed(area, what, error, status);
  return status;
}

enum model_status db_find_each(mongoc_collection_t *collection, const bson_t *filter,
                               const bson_t *opts,
                               enum db_take (*take)(const bson_t *doc, void *arg), void *arg,
                               const char *area, const char *what) {
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
  enum model_status status = MODEL_OK;
  enum db_take said = DB_TAKE_MORE;
  const bson_t *doc;
  bson_error_t error;

  while (said == DB_TAKE_MORE && mongoc_cursor_next(cursor, &doc)) {
    said = take(doc, arg);
  }
  if (said == DB_TAKE_FAILED) {
    status = MODEL_ERROR;
  } else if (mongoc_cursor_error(cursor, &error)) {
    status = db_call_failed(area, what, &error);
  }
  mongoc_cursor_destroy(cursor);
  return status;
}

static enum db_take take_copy(const bson_t *doc, void *arg) {
  bson_t **copy = arg;
  *copy = bson_copy(doc);
  return *copy != NULL ? DB_TAKE_ENOUGH : DB_TAKE_FAILED;
}

enum model_status db_find_one(const struct db *db, mongoc_collection_t *collection,
                              const bson_t *filter, const bson_t *projection, bson_t **doc_out,
                              const char *area, const char *what) {
  enum model_status status;
  bson_t *opts =
      BCON_NEW("limit", BCON_INT64(1), "maxTimeMS", BCON_INT64((int64_t)db_query_timeout_ms(db)));

  if (projection != NULL) {
    BSON_APPEND_DOCUMENT(opts, "projection", projection);
  }
  *doc_out = NULL;
  status = db_find_each(collection, filter, opts, take_copy, doc_out, area, what);
  if (status == MODEL_OK && *doc_out == NULL) {
    status = MODEL_NOT_FOUND;
  }
  bson_destroy(opts);
  return status;
}

enum model_status db_insert_durable(const struct db *db, mongoc_collection_t *collection,
                                    const bson_t *doc, const char *area, bson_error_t *error) {
  enum model_status status = MODEL_ERROR;
  bson_t opts = BSON_INITIALIZER;

  memset(error, 0, sizeof(*error));
  if (!db_append_durable_write(db, &opts)) {
    bson_set_error(error, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID, "out of memory");
    goto done;
  }
  if (!mongoc_collection_insert_one(collection, doc, &opts, NULL, error)) {
    /* Counted once in the error metrics; a duplicate key is the caller's
     * to explain, so it is not logged as a failure here. */
    status = db_status_from_error(error);
    if (area != NULL && status != MODEL_CONFLICT) {
      log_call_failed(area, "insert", error, status);
    }
    goto done;
  }
  status = MODEL_OK;

done:
  bson_destroy(&opts);
  return status;
}

uint32_t db_query_timeout_ms(const struct db *db) {
  return db->query_timeout_ms;
}

uint64_t db_operation_limit_ms(const struct db *db) {
  return (uint64_t)db->timeout_ms + ((uint64_t)db->query_timeout_ms + db->timeout_ms);
}

enum model_status db_ping(struct db *db) {
  enum model_status status = MODEL_ERROR;
  mongoc_client_t *client = NULL;
  bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
  bson_t *build_info = BCON_NEW("buildInfo", BCON_INT32(1));
  bson_t reply = BSON_INITIALIZER;
  bson_t info = BSON_INITIALIZER;
  bson_error_t error;

  client = db_client_pop(db, DB_OP_PING);
  if (client == NULL) {
    status = db_client_pop_failure();
    goto done;
  }
  if (!mongoc_client_command_simple(client, "admin", ping, NULL, &reply, &error)) {
    status = db_status_from_error(&error);
    y_log_message(Y_LOG_LEVEL_DEBUG, "db: ping failed: %s", error.message);
    goto done;
  }
  if (mongoc_client_command_simple(client, "admin", build_info, NULL, &info, &error)) {
    atomic_store(&db->is_ferretdb, bson_has_field(&info, "ferretdbVersion"));
  }
  status = MODEL_OK;

done:
  db_client_push(db, client);
  bson_destroy(&info);
  bson_destroy(&reply);
  bson_destroy(build_info);
  bson_destroy(ping);
  return status;
}

bool db_is_ferretdb(const struct db *db) {
  return atomic_load(&db->is_ferretdb);
}

void db_set_events(struct db *db, bool on) {
  db->events = on;
}

bool db_events(const struct db *db) {
  return db->events;
}

void db_set_earlier_shape(struct db *db, bool earlier) {
  atomic_store(&db->earlier_shape, earlier);
}

bool db_earlier_shape(const struct db *db) {
  return atomic_load(&db->earlier_shape);
}

/* Creates one index. Creating one that exists with the same keys and name is
 * a no-op on MongoDB and FerretDB alike. */
static enum model_status ensure_index(mongoc_collection_t *collection, const char *collection_name,
                                      const struct db_index *spec) {
  enum model_status status = MODEL_OK;
  bson_t command = BSON_INITIALIZER;
  bson_t indexes;
  bson_t index;
  bson_t keys;
  bson_t reply = BSON_INITIALIZER;
  bson_error_t error;

  BSON_APPEND_UTF8(&command, "createIndexes", collection_name);
  BSON_APPEND_ARRAY_BEGIN(&command, "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
  BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
  for (size_t k = 0; spec->keys[k] != NULL; k++) {
    BSON_APPEND_INT32(&keys, spec->keys[k], spec->orders[k]);
  }
  bson_append_document_end(&index, &keys);
  BSON_APPEND_UTF8(&index, "name", spec->name);
  if (spec->unique) {
    BSON_APPEND_BOOL(&index, "unique", true);
  }
  if (spec->expire_at_date) {
    BSON_APPEND_INT32(&index, "expireAfterSeconds", 0);
  }
  bson_append_document_end(&indexes, &index);
  bson_append_array_end(&command, &indexes);

  if (!mongoc_collection_write_command_with_opts(collection, &command, NULL, &reply, &error)) {
    status = db_status_from_error(&error);
    y_log_message(status == MODEL_UNAVAILABLE ? Y_LOG_LEVEL_WARNING : Y_LOG_LEVEL_ERROR,
                  "db: cannot create index %s on %s: %s", spec->name, collection_name,
                  error.message);
  }
  bson_destroy(&reply);
  bson_destroy(&command);
  return status;
}

enum model_status db_ensure_indexes(struct db *db, const char *collection_name,
                                    const struct db_index *indexes, size_t count) {
  enum model_status status = MODEL_OK;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;

  client = db_client_pop(db, DB_OP_ENSURE_INDEX);
  if (client == NULL) {
    status = db_client_pop_failure();
    goto done;
  }
  collection = db_collection(db, client, collection_name);
  /* One index per command: FerretDB v1.24 panics when a single
   * createIndexes names several indexes that already exist. */
  for (size_t i = 0; i < count && status == MODEL_OK; i++) {
    status = ensure_index(collection, collection_name, &indexes[i]);
  }

done:
  mongoc_collection_destroy(collection);
  db_client_push(db, client);
  return status;
}

enum model_status db_status_from_error(const bson_error_t *error) {
  enum model_status status = classify(error);
  size_t kind = status == MODEL_UNAVAILABLE ? ERROR_UNAVAILABLE
                : status == MODEL_CONFLICT  ? ERROR_CONFLICT
                                            : ERROR_OTHER;
  atomic_fetch_add_explicit(&error_counts[kind], 1, memory_order_relaxed);
  return status;
}

bool db_append_durable_write(const struct db *db, bson_t *opts) {
  mongoc_write_concern_t *concern = mongoc_write_concern_new();
  bool ok;

  /* Acknowledged by a majority and on disk: a write that could still be
   * rolled back does not count as done. On a single server (FerretDB,
   * tests) the majority is that server. */
  mongoc_write_concern_set_w(concern, MONGOC_WRITE_CONCERN_W_MAJORITY);
  mongoc_write_concern_set_journal(concern, true);
  mongoc_write_concern_set_wtimeout_int64(concern, (int64_t)db_query_timeout_ms(db));
  ok = mongoc_write_concern_append(concern, opts);
  mongoc_write_concern_destroy(concern);
  return ok;
}
