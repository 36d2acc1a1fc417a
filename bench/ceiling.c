/* purchases-ceiling: what the database alone gives for the service's reads.
 * The query of GET /user/:id with default parameters (models/purchase.c
 * purchase_store_list, models/purchase_query.c, routes/list_params.c): filter
 * {userId}, sort {datePurchased: -1, id: -1}, projection {_id: 0}, limit 21 (a
 * page of 20 and one more), maxTimeMS 60000 (bench.sh's query timeout); with
 * --purchase-id the one of GET /user/:id/purchases/:pid (purchase_store_find_doc):
 * filter {id, userId}, limit 1. N threads share one mongoc_client_pool_t and pop
 * a client per query, like the service. Each document returned becomes relaxed
 * extended JSON (bson_as_relaxed_extended_json), which walks all of it and
 * allocates text: an approximation of the service's BSON-to-jansson mapping and
 * serialisation. Prints one JSON object on stdout. */
#include <errno.h>
#include <inttypes.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 1024
#define MAX_SAMPLES (1u << 22) /* per thread: bounds memory */

struct options {
  const char *uri;
  const char *user;
  const char *purchase_id;
  uint32_t connections, pool_size, users;
  double duration;
};

struct worker {
  pthread_t thread;
  const struct options *options;
  mongoc_client_pool_t *pool;
  double deadline;
  uint64_t seed;
  uint64_t queries, errors;
  double *samples; /* milliseconds */
  size_t count, capacity;
};

/* FerretDB has no endSessions; the driver warns of it at every pool shutdown. */
static void log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                        void *data) {
  if (level <= MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") == NULL) {
    mongoc_log_default_handler(level, domain, message, data);
  }
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_random(uint64_t *state) {
  /* xorshift64*: enough for picking users uniformly. */
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * 2685821657736338717ull;
}

/* One query and the mapping of its documents; false on any error. */
static bool run_query(struct worker *w, const char *user) {
  bool ok = false;
  mongoc_client_t *client = NULL;
  mongoc_collection_t *collection = NULL;
  mongoc_cursor_t *cursor = NULL;
  bson_t *filter = NULL;
  bson_t *opts = NULL;
  const bson_t *doc = NULL;
  bson_error_t error;

  if (w->options->purchase_id != NULL) {
    filter = BCON_NEW("id", BCON_UTF8(w->options->purchase_id), "userId", BCON_UTF8(user));
    opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(0), "}",
                    "maxTimeMS", BCON_INT64(60000));
  } else {
    filter = BCON_NEW("userId", BCON_UTF8(user));
    opts = BCON_NEW("sort", "{", "datePurchased", BCON_INT32(-1), "id", BCON_INT32(-1), "}",
                    "projection", "{", "_id", BCON_INT32(0), "}", "limit", BCON_INT64(21),
                    "maxTimeMS", BCON_INT64(60000));
  }
  client = mongoc_client_pool_pop(w->pool);
  if (client == NULL) {
    goto done;
  }
  collection = mongoc_client_get_collection(client, "purchases", "purchases");
  cursor = mongoc_collection_find_with_opts(collection, filter, opts, NULL);
  while (mongoc_cursor_next(cursor, &doc)) {
    char *json = bson_as_relaxed_extended_json(doc, NULL);
    if (json == NULL) {
      goto done;
    }
    bson_free(json);
  }
  if (mongoc_cursor_error(cursor, &error)) {
    if (w->errors == 0) {
      fprintf(stderr, "ceiling: %s\n", error.message);
    }
    goto done;
  }
  ok = true;

done:
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(collection);
  if (client != NULL) {
    mongoc_client_pool_push(w->pool, client);
  }
  bson_destroy(opts);
  bson_destroy(filter);
  return ok;
}

static void *worker_main(void *arg) {
  struct worker *w = arg;
  char user[24];

  while (now_seconds() < w->deadline) {
    const char *id = w->options->user;
    if (id == NULL) {
      snprintf(user, sizeof(user), "%" PRIu64, next_random(&w->seed) % w->options->users + 1);
      id = user;
    }
    double started = now_seconds();
    bool ok = run_query(w, id);
    double ms = (now_seconds() - started) * 1000.0;
    w->queries++;
    if (!ok) {
      w->errors++;
    }
    if (w->count == w->capacity && w->capacity < MAX_SAMPLES) {
      double *grown = realloc(w->samples, 2 * w->capacity * sizeof(double));
      if (grown != NULL) {
        w->samples = grown;
        w->capacity *= 2;
      }
    }
    if (w->count < w->capacity) {
      w->samples[w->count++] = ms;
    }
  }
  return NULL;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p) {
  size_t i = n > 0 ? (size_t)(p * (double)(n - 1) + 0.5) : 0; /* nearest rank */
  return n > 0 ? sorted[i < n ? i : n - 1] : 0.0;
}

static bool parse_number(const char *text, double min, double max, double *out) {
  char *end = NULL;
  errno = 0;
  double value = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

static bool parse_args(int argc, char **argv, struct options *o) {
  double value = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--empty") == 0) {
      o->user = "999999999";
      continue;
    }
    if (++i >= argc) {
      return false;
    }
    const char *next = argv[i];
    if (strcmp(arg, "--uri") == 0) {
      o->uri = next;
    } else if (strcmp(arg, "--user") == 0) {
      o->user = next;
    } else if (strcmp(arg, "--purchase-id") == 0) {
      o->purchase_id = next;
    } else if (strcmp(arg, "--duration") == 0 && parse_number(next, 0.1, 3600, &value)) {
      o->duration = value;
    } else if (strcmp(arg, "--connections") == 0 && parse_number(next, 1, MAX_THREADS, &value)) {
      o->connections = (uint32_t)value;
    } else if (strcmp(arg, "--pool-size") == 0 && parse_number(next, 1, MAX_THREADS, &value)) {
      o->pool_size = (uint32_t)value;
    } else if (strcmp(arg, "--users") == 0 && parse_number(next, 1, 1e9, &value)) {
      o->users = (uint32_t)value;
    } else {
      return false;
    }
  }
  return o->purchase_id == NULL || o->user != NULL;
}

int main(int argc, char **argv) {
  int rc = 1;
  struct options o = {"mongodb://127.0.0.1:27090/purchases", NULL, NULL, 1, 0, 100000, 10};
  mongoc_uri_t *uri = NULL;
  mongoc_client_pool_t *pool = NULL;
  struct worker *workers = NULL;
  double *all = NULL;
  uint32_t started = 0;
  double begin = 0;
  bson_error_t error;

  mongoc_init();
  mongoc_log_set_handler(log_handler, NULL);
  if (!parse_args(argc, argv, &o)) {
    fprintf(stderr, "usage: purchases-ceiling [--uri URI] [--connections N] [--pool-size P]\n"
                    "  [--duration S] [--users N | --user ID | --empty] [--purchase-id PID]\n"
                    "  (--purchase-id needs --user; --pool-size defaults to N)\n");
    rc = 2;
    goto done;
  }
  if (o.pool_size == 0) {
    o.pool_size = o.connections;
  }
  uri = mongoc_uri_new_with_error(o.uri, &error);
  if (uri == NULL) {
    fprintf(stderr, "ceiling: %s\n", error.message);
    goto done;
  }
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, (int32_t)o.pool_size);
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) { /* the service's */
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
  }
  pool = mongoc_client_pool_new_with_error(uri, &error);
  if (pool == NULL) {
    fprintf(stderr, "ceiling: %s\n", error.message);
    goto done;
  }
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  workers = calloc(o.connections, sizeof(*workers));
  if (workers == NULL) {
    goto done;
  }
  begin = now_seconds();
  for (uint32_t i = 0; i < o.connections; i++) {
    struct worker *w = &workers[i];
    *w = (struct worker){.options = &o, .pool = pool, .deadline = begin + o.duration};
    w->seed = 0x9e3779b97f4a7c15ull * (i + 1);
    w->capacity = 4096;
    w->samples = malloc(w->capacity * sizeof(double));
    if (w->samples == NULL || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
      goto done;
    }
    started++;
  }

done:
  for (uint32_t i = 0; i < started; i++) {
    pthread_join(workers[i].thread, NULL);
  }
  if (workers != NULL && started == o.connections) {
    double elapsed = now_seconds() - begin;
    uint64_t queries = 0, errors = 0;
    size_t n = 0;
    for (uint32_t i = 0; i < started; i++) {
      queries += workers[i].queries;
      errors += workers[i].errors;
      n += workers[i].count;
    }
    all = malloc((n > 0 ? n : 1) * sizeof(double));
    if (all != NULL) {
      size_t k = 0;
      for (uint32_t i = 0; i < started; i++) {
        memcpy(all + k, workers[i].samples, workers[i].count * sizeof(double));
        k += workers[i].count;
      }
      qsort(all, n, sizeof(double), compare_double);
      printf("{\"requestsPerSecond\": %.2f, \"latencyMs\": {\"p50\": %.3f, \"p90\": %.3f, "
             "\"p99\": %.3f, \"max\": %.3f}, \"errors\": %" PRIu64 ", \"queries\": %" PRIu64
             ", \"connections\": %u, \"poolSize\": %u, \"durationSeconds\": %.2f}\n",
             (double)(queries - errors) / elapsed, percentile(all, n, 0.50),
             percentile(all, n, 0.90), percentile(all, n, 0.99), n > 0 ? all[n - 1] : 0.0, errors,
             queries, o.connections, o.pool_size, elapsed);
      rc = errors == 0 ? 0 : 3;
    }
  }
  for (uint32_t i = 0; workers != NULL && i < o.connections; i++) {
    free(workers[i].samples);
  }
  free(all);
  free(workers);
  if (pool != NULL) {
    mongoc_client_pool_destroy(pool);
  }
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return rc;
}
