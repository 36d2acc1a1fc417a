/* purchases-import: loads purchases from newline-delimited JSON, one
 * purchase a line, with the validation of POST /purchases. Lines without an
 * id get one derived from their content, and ids already stored are
 * skipped, so a re-run after a crash adds nothing twice. Bad lines are
 * reported and skipped; the rest goes on. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <yder.h>

#include "app/cli.h"
#include "app/logging.h"
#include "lib/words.h"
#include "models/db.h"
#include "models/history.h"
#include "models/purchase.h"
#include "models/purchase_validate.h"
#include "models/redis.h"
#include "models/versions.h"

#define IMPORT_LINE_MAX  (1024 * 1024)
#define IMPORT_BATCH_MAX 10000

struct import_options {
  uint32_t batch;
  bool quiet;
  const char *uri;
  const char *redis_url; /* PURCHASES_REDIS_URL, NULL when unset */
  bool events;           /* PURCHASES_NATS_URL set and no --no-events */
  const char *path;
};

/* What a run has done so far. */
struct import_counts {
  unsigned long long lines; /* not counting blank ones */
  unsigned long long added;
  unsigned long long present;
  unsigned long long rejected;
  unsigned long long bytes;
};

/* Valid documents waiting for the next insert, each with its line. */
struct batch {
  bson_t **docs;
  unsigned long long *lines;
  bool *named;     /* the line gave the id itself (else it was made from the content) */
  bool *duplicate; /* filled by the insert */
  size_t count;
  bool events; /* each purchase is version 1 with its first entry, its event */
};

static void usage(FILE *out) {
  fprintf(out,
          "Usage: purchases-import [options] FILE.ndjson\n"
          "Loads one purchase per line (the JSON of POST /purchases) into MONGODB_URI;\n"
          "FILE may be - for standard input. Running it twice adds nothing.\n\n"
          "  --batch N   purchases per insert, 1 to %d (default 500)\n"
          "  --quiet     no progress bar\n"
          "  --no-events with PURCHASES_NATS_URL set: record no purchase.created events (a first\n"
          "              backfill); the purchases are then loaded without a history\n"
          "  --uri URI   overrides MONGODB_URI (default mongodb://127.0.0.1:27017/purchases)\n"
          "  -h, --help  this text; -V, --version: the version and commit\n\n"
          "With PURCHASES_REDIS_URL set, the version of every user imported is bumped there,\n"
          "so that running services drop what they cached about them.\n\n"
          "Exit status: 0 every line imported or already there; 1 some lines rejected\n"
          "(each reported on stderr); 2 usage, file or database error.\n",
          IMPORT_BATCH_MAX);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Redraws the bar at most ten times a second; total 0 when unknown. */
static void draw_progress(const struct import_counts *counts, unsigned long long total,
                          double *last_drawn, bool final) {
  double now = now_s();
  char bar[31];

  if (!final && now - *last_drawn < 0.1) {
    return;
  }
  *last_drawn = now;
  if (total > 0) {
    size_t filled = (size_t)(30.0 * (double)counts->bytes / (double)total);
    memset(bar, '#', filled > 30 ? 30 : filled);
    memset(bar + (filled > 30 ? 30 : filled), '.', 30 - (filled > 30 ? 30 : filled));
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%% %llu lines   ", bar,
            100.0 * (double)counts->bytes / (double)total, counts->lines);
  } else {
    fprintf(stderr, "\r%llu lines   ", counts->lines);
  }
  if (final) {
    fprintf(stderr, "\n");
  }
}

/* One report line per error of a rejected line, pointers and rules only:
 * never the line's content, which holds personal data. */
static void report(unsigned long long line, const json_t *j_errors) {
  size_t i;
  json_t *j_error;
  json_array_foreach(j_errors, i, j_error) {
    fprintf(stderr, "line %llu: %s: %s\n", line,
            json_string_value(json_object_get(j_error, "pointer")),
            json_string_value(json_object_get(j_error, "detail")));
  }
}

/* The string member `name` of doc, or NULL. */
static const char *utf8_of(const bson_t *doc, const char *name) {
  bson_iter_t iter;
  return bson_iter_init_find(&iter, doc, name) && BSON_ITER_HOLDS_UTF8(&iter)
             ? bson_iter_utf8(&iter, NULL)
             : NULL;
}

/* A line that named an id already stored: "already present" when the
 * user has a purchase of that id. A purchase id is unique per customer, so
 * a duplicate is that user's own, except in a database of the earlier
 * shape, whose ids were unique across customers: there it may be another
 * user's, a conflict, as POST /purchases says with 409, and the line is
 * rejected. (A made id comes from the content, the user in it, so it
 * cannot be another's.) */
static bool counts_as_present(struct db *db, const bson_t *doc, unsigned long long line,
                              int32_t *version) {
  bson_t *stored = NULL;
  enum model_status status =
      purchase_store_find_doc(db, utf8_of(doc, "userId"), utf8_of(doc, "id"), &stored);

  *version = stored != NULL ? purchase_version_of(stored) : 0;
  bson_destroy(stored);
  if (status == MODEL_NOT_FOUND) {
    fprintf(stderr, "line %llu: /id: is another user's purchase already\n", line);
  } else if (status != MODEL_OK) {
    fprintf(stderr, "line %llu: the id is stored, but the purchase could not be read back\n", line);
  }
  return status == MODEL_OK;
}

/* The first history entry of an imported purchase, which with events on
 * is its purchase.created event (models/events.h); already there is fine
 * (a run cut short between the purchase and its entry, run again). */
static bool record_created(struct db *db, const bson_t *doc) {
  struct timespec now;
  struct history_entry first = {.user_id = utf8_of(doc, "userId"),
                                .purchase_id = utf8_of(doc, "id"),
                                .version = 1,
                                .status = utf8_of(doc, "status")};
  enum model_status status;

  clock_gettime(CLOCK_REALTIME, &now);
  first.time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
  status = history_store_append(db, &first);
  return status == MODEL_OK || status == MODEL_CONFLICT;
}

static bool flush(struct db *db, struct batch *batch, struct import_counts *counts) {
  size_t inserted = 0;
  bool ok = purchase_store_insert_many(db, (const bson_t *const *)batch->docs, batch->count,
                                       &inserted, batch->duplicate) == MODEL_OK;
  if (ok) {
    counts->added += inserted;
    for (size_t i = 0; i < batch->count && ok; i++) {
      int32_t version = 0;
      if (!batch->duplicate[i]) {
        ok = !batch->events || record_created(db, batch->docs[i]);
        continue;
      }
      if (!batch->named[i] || counts_as_present(db, batch->docs[i], batch->lines[i], &version)) {
        counts->present++;
        /* Imported with events before, perhaps cut short before its entry. */
        ok = !batch->events || version != 1 || record_created(db, batch->docs[i]);
      } else {
        counts->rejected++;
      }
    }
    if (!ok) {
      fprintf(stderr, "purchases-import: a first history entry (its event) was not written\n");
    }
  }
  for (size_t i = 0; i < batch->count; i++) {
    bson_destroy(batch->docs[i]);
    batch->docs[i] = NULL;
  }
  batch->count = 0;
  return ok;
}

/* Parses and validates one line; a valid purchase joins the batch. */
static void take_line(const char *line, size_t len, unsigned long long number, struct batch *batch,
                      struct import_counts *counts) {
  json_error_t error;
  json_t *j_purchase = json_loadb(line, len, JSON_REJECT_DUPLICATES, &error);
  json_t *j_errors = NULL;
  bson_t *doc = NULL;
  char hash[65];
  char id[32];

  if (j_purchase == NULL) {
    fprintf(stderr, "line %llu: not JSON (column %d): %s\n", number, error.column,
            words_json_fault(&error));
    counts->rejected++;
    goto done;
  }
  /* A line without an id is named by its content: the same line always
   * gets the same id, so importing it again finds it already there. */
  if (!purchase_body_hash(j_purchase, hash)) {
    fprintf(stderr, "line %llu: out of memory\n", number);
    counts->rejected++;
    goto done;
  }
  snprintf(id, sizeof(id), "i%.24s", hash);
  doc = bson_new();
  if (!purchase_validate(j_purchase, id, doc, &j_errors)) {
    report(number, j_errors);
    counts->rejected++;
    goto done;
  }
  /* With events, a purchase created as POST creates it: version 1, whose
   * history entry flush() writes. */
  if (batch->events) {
    BSON_APPEND_INT32(doc, "version", 1);
  }
  batch->lines[batch->count] = number;
  batch->named[batch->count] = json_object_get(j_purchase, "id") != NULL;
  batch->docs[batch->count++] = doc;
  doc = NULL;

done:
  bson_destroy(doc);
  json_decref(j_errors);
  json_decref(j_purchase);
}

static bool is_blank(const char *line, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n') {
      return false;
    }
  }
  return true;
}

/* With PURCHASES_REDIS_URL: the versions every insert bumps, so that
 * running services drop what they cached about those users. *pool and
 * *versions are the caller's (versions_end). False after saying why. */
static bool versions_start(const char *url, struct db *db, struct redis_pool **pool,
                           struct versions **versions) {
  struct redis_address redis;
  struct redis_pool_options pool_options = {.address = &redis, .timeout_ms = 2000, .retry_ms = 0};
  char err[256];

  if (!redis_address_parse(url, &redis, err, sizeof(err))) {
    fprintf(stderr, "purchases-import: %s\n", err);
    return false;
  }
  *pool = redis_pool_new(&pool_options);
  *versions = *pool != NULL ? versions_new(&(struct versions_options){.redis = *pool}) : NULL;
  if (*versions == NULL) {
    fprintf(stderr, "purchases-import: out of memory\n");
    return false;
  }
  db_set_versions(db, *versions);
  return true;
}

/* Says which bumps Redis did not take, then releases both (NULL is fine). */
static void versions_end(struct redis_pool *pool, struct versions *versions) {
  if (versions != NULL && versions_pending(versions) > 0) {
    fprintf(stderr,
            "purchases-import: Redis did not take the version bumps of %zu user(s): running "
            "services may serve what they cached about them for up to PURCHASES_CACHE_TTL_S\n",
            versions_pending(versions));
  }
  versions_free(versions);
  redis_pool_free(pool);
}

/* Reads every line of `file` into batches and inserts them, with the
 * progress bar when `progress` (total: the file's size, 0 if unknown).
 * False after saying why when a read or an insert failed. */
static bool import_file(FILE *file, const struct import_options *options, struct db *db,
                        struct batch *batch, struct import_counts *counts, unsigned long long total,
                        bool progress, double *last_drawn) {
  char *line = NULL;
  size_t capacity = 0;
  ssize_t len;
  unsigned long long number = 0; /* of the line in the file, blank ones included */
  bool ok = false;

  while ((len = getline(&line, &capacity, file)) != -1) {
    number++;
    counts->bytes += (unsigned long long)len;
    if (is_blank(line, (size_t)len)) {
      continue; /* not a purchase, not an error */
    }
    counts->lines++;
    if ((size_t)len > IMPORT_LINE_MAX) {
      fprintf(stderr, "line %llu: longer than %d bytes\n", number, IMPORT_LINE_MAX);
      counts->rejected++;
    } else {
      take_line(line, (size_t)len, number, batch, counts);
    }
    if (batch->count == options->batch && !flush(db, batch, counts)) {
      fprintf(stderr, "purchases-import: an insert failed near line %llu; re-run to resume\n",
              number);
      goto done;
    }
    if (progress) {
      draw_progress(counts, total, last_drawn, false);
    }
  }
  if (ferror(file)) {
    fprintf(stderr, "purchases-import: cannot read %s: %s\n", options->path, strerror(errno));
    goto done;
  }
  if (batch->count > 0 && !flush(db, batch, counts)) {
    fprintf(stderr, "purchases-import: the last insert failed; re-run to resume\n");
    goto done;
  }
  ok = true;

done:
  free(line);
  return ok;
}

static int run(const struct import_options *options) {
  int rc = 2;
  struct db *db = NULL;
  struct import_counts counts = {0};
  struct batch batch = {0};
  FILE *file = NULL;
  unsigned long long total = 0;
  bool progress = !options->quiet && isatty(STDERR_FILENO);
  double last_drawn = 0;
  struct stat st;
  struct redis_pool *pool = NULL;
  struct versions *versions = NULL;
  char err[256];

  if (strcmp(options->path, "-") == 0) {
    file = stdin;
  } else {
    file = fopen(options->path, "r");
    if (file == NULL) {
      fprintf(stderr, "purchases-import: cannot open %s: %s\n", options->path, strerror(errno));
      goto done;
    }
  }
  if (fstat(fileno(file), &st) == 0 && S_ISREG(st.st_mode)) {
    total = (unsigned long long)st.st_size;
  }
  batch.docs = calloc(options->batch, sizeof(bson_t *));
  batch.lines = calloc(options->batch, sizeof(*batch.lines));
  batch.named = calloc(options->batch, sizeof(*batch.named));
  batch.duplicate = calloc(options->batch, sizeof(*batch.duplicate));
  batch.events = options->events;
  db = cli_db_open(options->uri, "purchases-import", 5000, err, sizeof(err));
  if (batch.docs == NULL || batch.lines == NULL || batch.named == NULL || batch.duplicate == NULL ||
      db == NULL) {
    fprintf(stderr, "purchases-import: %s\n", db == NULL ? err : "out of memory");
    goto done;
  }
  if (options->redis_url != NULL && !versions_start(options->redis_url, db, &pool, &versions)) {
    goto done;
  }
  if (purchase_store_ensure_indexes(db) != MODEL_OK ||
      history_store_ensure_indexes(db) != MODEL_OK) {
    fprintf(stderr, "purchases-import: cannot reach the database or create its indexes\n");
    goto done;
  }
  /* The relay of a running service publishes what this records. */
  db_set_events(db, options->events);

  if (!import_file(file, options, db, &batch, &counts, total, progress, &last_drawn)) {
    goto done;
  }
  if (progress) {
    draw_progress(&counts, total, &last_drawn, true);
  }
  fprintf(stderr, "purchases-import: %llu lines, %llu added, %llu already present, %llu rejected\n",
          counts.lines, counts.added, counts.present, counts.rejected);
  rc = counts.rejected > 0 ? 1 : 0;

done:
  for (size_t i = 0; batch.docs != NULL && i < batch.count; i++) {
    bson_destroy(batch.docs[i]);
  }
  free(batch.docs);
  free(batch.lines);
  free(batch.named);
  free(batch.duplicate);
  if (file != NULL && file != stdin) {
    fclose(file);
  }
  db_destroy(db);
  versions_end(pool, versions);
  return rc;
}

int main(int argc, char **argv) {
  static const struct option LONG_OPTIONS[] = {
      {"batch", required_argument, NULL, 'b'},
      {"quiet", no_argument, NULL, 'q'},
      {"no-events", no_argument, NULL, 'n'},
      {"uri", required_argument, NULL, 'U'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  struct import_options options = {
      .batch = 500, .uri = getenv("MONGODB_URI"), .redis_url = getenv("PURCHASES_REDIS_URL")};
  int opt;
  int rc;

  if (options.uri == NULL || options.uri[0] == '\0') {
    options.uri = "mongodb://127.0.0.1:27017/purchases";
  }
  /* Events as the service records them, unless --no-events says not. */
  options.events = getenv("PURCHASES_NATS_URL") != NULL && getenv("PURCHASES_NATS_URL")[0] != '\0';
  if (options.redis_url != NULL && options.redis_url[0] == '\0') {
    options.redis_url = NULL;
  }
  opterr = 0; /* cli_common_option() names a refused option, escaped */
  while ((opt = getopt_long(argc, argv, ":hV", LONG_OPTIONS, NULL)) != -1) {
    switch (opt) {
      case 'b':
        if (!cli_parse_count(optarg, IMPORT_BATCH_MAX, &options.batch)) {
          fprintf(stderr, "purchases-import: --batch takes 1 to %d\n", IMPORT_BATCH_MAX);
          return 2;
        }
        break;
      case 'n':
        options.events = false;
        break;
      case 'q':
        options.quiet = true;
        break;
      case 'U':
        options.uri = optarg;
        break;
      default:
        return cli_common_option(opt, "purchases-import", argv, usage);
    }
  }
  if (optind + 1 != argc) {
    usage(stderr);
    return 2;
  }
  options.path = argv[optind];

  cli_begin();
  rc = run(&options);
  cli_end();
  return rc;
}
