/* purchases-seed: writes deterministic synthetic purchases. Users are
 * numbered from --first-user; each gets --per-user purchases whose content
 * depends only on (--seed, user, index), so a re-run inserts nothing new. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yder.h>

#include "lib/words.h"
#include "app/cli.h"
#include "app/logging.h"
#include "models/db.h"
#include "models/purchase.h"
#include "models/purchase_gen.h"

#define SEED_MAX_BATCH 10000
#define SEED_MAX_JOBS  16

struct seed_options {
  uint32_t users;
  uint32_t first_user;
  uint32_t per_user;
  uint32_t seed;
  uint32_t batch;
  uint32_t jobs;
  bool if_empty;
  bool quiet;
  const char *uri;
};

/* One worker's share: users [first, first + count). */
struct seed_job {
  const struct seed_options *options;
  struct db *db;
  uint32_t first;
  uint32_t count;
  atomic_ullong *written; /* purchases generated so far, all jobs */
  atomic_ullong *inserted;
  atomic_bool *failed;
  pthread_t thread;
};

static void usage(FILE *out) {
  fprintf(out,
          "Usage: purchases-seed [options]\n"
          "Writes deterministic synthetic purchases to MONGODB_URI; running it twice adds "
          "nothing.\n\n"
          "  --users N       number of users (default 1000)\n"
          "  --first-user F  number of the first user (default 1); user ids are \"F\", "
          "\"F+1\", ...\n"
          "  --per-user M    purchases per user (default 8)\n"
          "  --seed S        seed, 0 to %u (default 1)\n"
          "  --batch B       documents per insert, 1 to %d (default 1000)\n"
          "  --jobs J        parallel writers, 1 to %d (default 2)\n"
          "  --if-empty      do nothing when the first user to seed has purchases already\n"
          "  --quiet         no progress on stderr\n"
          "  --uri URI       overrides MONGODB_URI (default mongodb://127.0.0.1:27017/purchases)\n"
          "  -h, --help      this text\n"
          "  -V, --version   the version and the commit it was built from\n",
          PURCHASE_GEN_MAX_SEED, SEED_MAX_BATCH, SEED_MAX_JOBS);
}

static bool parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out) {
  char *end = NULL;
  unsigned long long value;
  if (text == NULL || text[0] < '0' || text[0] > '9') {
    return false;
  }
  value = strtoull(text, &end, 10);
  if (*end != '\0' || value < min || value > max) {
    return false;
  }
  *out = (uint32_t)value;
  return true;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *seed_job_main(void *data) {
  struct seed_job *job = data;
  const struct seed_options *options = job->options;
  bson_t **docs = calloc(options->batch, sizeof(bson_t *));
  size_t filled = 0;

  if (docs == NULL) {
    atomic_store(job->failed, true);
    goto done;
  }
  for (uint32_t u = 0; u < job->count && !atomic_load(job->failed); u++) {
    for (uint32_t i = 0; i < options->per_user; i++) {
      docs[filled] = bson_new();
      purchase_gen_document(options->seed, job->first + u, i, docs[filled]);
      filled++;
      bool last = u + 1 == job->count && i + 1 == options->per_user;
      if (filled == options->batch || last) {
        size_t inserted = 0;
        if (purchase_store_insert_many(job->db, (const bson_t *const *)docs, filled, &inserted,
                                       NULL) != MODEL_OK) {
          atomic_store(job->failed, true);
        }
        atomic_fetch_add(job->inserted, inserted);
        atomic_fetch_add(job->written, filled);
        for (size_t d = 0; d < filled; d++) {
          bson_destroy(docs[d]);
          docs[d] = NULL;
        }
        filled = 0;
        if (atomic_load(job->failed)) {
          goto done;
        }
      }
    }
  }

done:
  for (size_t d = 0; d < filled; d++) {
    bson_destroy(docs[d]);
  }
  free(docs);
  return NULL;
}

/* Prints progress every two seconds until every job has finished. */
static void report_progress(const struct seed_options *options, struct seed_job *jobs,
                            uint32_t job_count, atomic_ullong *written, double started) {
  unsigned long long total = (unsigned long long)options->users * options->per_user;
  double last = 0;
  for (uint32_t j = 0; j < job_count; j++) {
    while (!options->quiet && pthread_tryjoin_np(jobs[j].thread, NULL) != 0) {
      usleep(200 * 1000);
      double now = now_s();
      if (now - last >= 2.0) {
        unsigned long long done = atomic_load(written);
        fprintf(stderr, "\rseeded %llu/%llu purchases (%.0f%%), %.0f/s   ", done, total,
                total > 0 ? 100.0 * (double)done / (double)total : 100.0,
                (double)done / (now - started));
        last = now;
      }
    }
    if (options->quiet) {
      pthread_join(jobs[j].thread, NULL);
    }
  }
}

static int run(const struct seed_options *options) {
  int rc = 1;
  struct db *db = NULL;
  struct seed_job jobs[SEED_MAX_JOBS];
  uint32_t started_jobs = 0;
  atomic_ullong written = 0;
  atomic_ullong inserted = 0;
  atomic_bool failed = false;
  char err[256];
  bool any = false;
  double started = now_s();

  db = cli_db_open(options->uri, "purchases-seed", 10000, err, sizeof(err));
  if (db == NULL) {
    fprintf(stderr, "purchases-seed: %s\n", err);
    rc = 2;
    goto done;
  }
  if (purchase_store_ensure_indexes(db) != MODEL_OK) {
    fprintf(stderr, "purchases-seed: cannot reach the database or create its indexes\n");
    goto done;
  }
  if (options->if_empty) {
    /* Asked of the first user this run would seed, not of the whole
     * collection: a read targeted at one shard, which says the same for a
     * database this seeder filled. */
    char first[16];
    purchase_gen_user_id(options->first_user, first, sizeof(first));
    if (purchase_store_user_has_any(db, first, &any) != MODEL_OK) {
      fprintf(stderr, "purchases-seed: cannot read the purchases collection\n");
      goto done;
    }
    if (any) {
      fprintf(stderr, "purchases-seed: user %s has purchases already; nothing to do\n", first);
      rc = 0;
      goto done;
    }
  }

  uint32_t job_count = options->jobs < options->users ? options->jobs : options->users;
  uint32_t share = job_count > 0 ? options->users / job_count : 0;
  for (uint32_t j = 0; j < job_count; j++) {
    struct seed_job *job = &jobs[j];
    job->options = options;
    job->db = db;
    job->first = options->first_user + j * share;
    job->count = j + 1 == job_count ? options->users - j * share : share;
    job->written = &written;
    job->inserted = &inserted;
    job->failed = &failed;
    if (pthread_create(&job->thread, NULL, seed_job_main, job) != 0) {
      atomic_store(&failed, true);
      break;
    }
    started_jobs++;
  }
  report_progress(options, jobs, started_jobs, &written, started);

  double elapsed = now_s() - started;
  if (!options->quiet) {
    fprintf(stderr, "\n");
  }
  if (atomic_load(&failed)) {
    fprintf(stderr, "purchases-seed: stopped after an insert failed; re-run to resume\n");
    goto done;
  }
  fprintf(stderr, "purchases-seed: %llu purchases for %u users, %llu new, in %.1f s (%.0f/s)\n",
          (unsigned long long)atomic_load(&written), options->users,
          (unsigned long long)atomic_load(&inserted), elapsed,
          elapsed > 0 ? (double)atomic_load(&written) / elapsed : 0.0);
  rc = 0;

done:
  db_destroy(db);
  return rc;
}

/* The long name of option `opt` in `options`, for a message. */
static const char *long_name(const struct option *options, int opt) {
  for (size_t i = 0; options[i].name != NULL; i++) {
    if (options[i].val == opt) {
      return options[i].name;
    }
  }
  return "?";
}

/* Reads the command line into *options. Returns -1 to go on, or the exit
 * status: 0 after --help or --version, 2 for a bad option or value. */
static int parse_options(int argc, char **argv, struct seed_options *options) {
  static const struct option LONG_OPTIONS[] = {
      {"users", required_argument, NULL, 'u'},    {"first-user", required_argument, NULL, 'f'},
      {"per-user", required_argument, NULL, 'm'}, {"seed", required_argument, NULL, 's'},
      {"batch", required_argument, NULL, 'b'},    {"jobs", required_argument, NULL, 'j'},
      {"if-empty", no_argument, NULL, 'e'},       {"quiet", no_argument, NULL, 'q'},
      {"uri", required_argument, NULL, 'U'},      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0},
  };
  int opt;

  opterr = 0; /* cli_common_option() names a refused option, escaped */
  while ((opt = getopt_long(argc, argv, ":hV", LONG_OPTIONS, NULL)) != -1) {
    bool ok = true;
    switch (opt) {
      case 'u':
        ok = parse_u32(optarg, 1, PURCHASE_GEN_MAX_USER, &options->users);
        break;
      case 'f':
        ok = parse_u32(optarg, 1, PURCHASE_GEN_MAX_USER, &options->first_user);
        break;
      case 'm':
        ok = parse_u32(optarg, 0, PURCHASE_GEN_MAX_PER_USER, &options->per_user);
        break;
      case 's':
        ok = parse_u32(optarg, 0, PURCHASE_GEN_MAX_SEED, &options->seed);
        break;
      case 'b':
        ok = parse_u32(optarg, 1, SEED_MAX_BATCH, &options->batch);
        break;
      case 'j':
        ok = parse_u32(optarg, 1, SEED_MAX_JOBS, &options->jobs);
        break;
      case 'e':
        options->if_empty = true;
        break;
      case 'q':
        options->quiet = true;
        break;
      case 'U':
        options->uri = optarg;
        break;
      default:
        return cli_common_option(opt, "purchases-seed", argv, usage);
    }
    if (!ok) {
      char value[WORDS_ESCAPED_ARG_MAX];
      words_escape(optarg, value, sizeof(value));
      fprintf(stderr, "purchases-seed: bad value for --%s: %s\n", long_name(LONG_OPTIONS, opt),
              value);
      usage(stderr);
      return 2;
    }
  }
  if (optind != argc ||
      (uint64_t)options->first_user + options->users - 1 > PURCHASE_GEN_MAX_USER) {
    usage(stderr);
    return 2;
  }
  return -1;
}

int main(int argc, char **argv) {
  struct seed_options options = {.users = 1000,
                                 .first_user = 1,
                                 .per_user = 8,
                                 .seed = 1,
                                 .batch = 1000,
                                 .jobs = 2,
                                 .uri = getenv("MONGODB_URI")};
  int rc;

  if (options.uri == NULL || options.uri[0] == '\0') {
    options.uri = "mongodb://127.0.0.1:27017/purchases";
  }
  rc = parse_options(argc, argv, &options);
  if (rc >= 0) {
    return rc;
  }
  cli_begin();
  rc = run(&options);
  cli_end();
  return rc;
}
