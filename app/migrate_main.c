/* purchases-migrate: brings a database written by the release before
 * per-customer purchase ids to this release's shape (models/migrate.h), so
 * that it can be sharded on userId. Idempotent, resumable after a kill at
 * any point, bounded in memory by --batch; --dry-run says what it would do.
 * --shard-keys prints the collections' shard keys as JSON (the deploy lint
 * compares deploy/mongodb/shard.js with it). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bson/bson.h>

#include "app/cli.h"
#include "models/collections.h"
#include "models/db.h"
#include "models/migrate.h"

#define MIGRATE_BATCH_MAX 10000

struct migrate_options {
  uint32_t batch;
  bool dry_run;
  bool quiet;
  bool shard_keys;
  const char *uri;
};

static void usage(FILE *out) {
  fprintf(out,
          "Usage: purchases-migrate [options]\n"
          "Brings the database of MONGODB_URI from the shape of the release before\n"
          "per-customer purchase ids to this one's: every history entry gets its\n"
          "customer's userId, the unique indexes that begin with userId are built and\n"
          "the earlier ones dropped. Run it once every instance runs this release.\n"
          "Running it again does nothing; a run killed anywhere is finished by the next.\n\n"
          "  --dry-run       say what would change, change nothing\n"
          "  --batch B       history entries per round, 1 to %d (default 500)\n"
          "  --quiet         no progress on stderr\n"
          "  --shard-keys    print each collection's shard key as JSON, and exit\n"
          "  --uri URI       overrides MONGODB_URI (default mongodb://127.0.0.1:27017/purchases)\n"
          "  -h, --help      this text\n"
          "  -V, --version   the version\n",
          MIGRATE_BATCH_MAX);
}

/* A line on a terminal, redrawn in place. */
static void draw_progress(int64_t done, int64_t total, void *arg) {
  (void)arg;
  fprintf(stderr, "\rpurchases-migrate: history entries %" PRId64 " of %" PRId64, done, total);
  fflush(stderr);
}

static int run(const struct migrate_options *options) {
  struct db *db = NULL;
  struct migrate_report report;
  bool progress = !options->quiet && isatty(STDERR_FILENO);
  char err[256];
  int rc = 1;

  db = cli_db_open(options->uri, "purchases-migrate", 5000, err, sizeof(err));
  if (db == NULL) {
    fprintf(stderr, "purchases-migrate: %s\n", err);
    rc = 2;
    goto done;
  }
  if (migrate_run(db, options->batch, options->dry_run, progress ? draw_progress : NULL, NULL,
                  &report) != MODEL_OK) {
    fprintf(stderr, "%spurchases-migrate: failed (see above); run it again to finish\n",
            progress ? "\n" : "");
    goto done;
  }
  if (progress && report.entries_without_user > 0 && !options->dry_run) {
    fputc('\n', stderr);
  }
  if (options->dry_run) {
    fprintf(stderr,
            "purchases-migrate: would give %" PRId64 " history entries their userId, build "
            "the unique indexes userId_1_id_1 and userId_1_purchaseId_1_version_1, and drop "
            "%s%s%s\n",
            report.entries_without_user,
            report.earlier_purchase_index ? "purchases." MIGRATE_EARLIER_PURCHASE_INDEX : "",
            report.earlier_purchase_index && report.earlier_history_index ? " and " : "",
            report.earlier_history_index    ? HISTORY_COLLECTION "." MIGRATE_EARLIER_HISTORY_INDEX
            : report.earlier_purchase_index ? ""
                                            : "nothing");
  } else {
    fprintf(stderr,
            "purchases-migrate: %" PRId64 " history entries given their userId, %" PRId64
            " without a purchase left as they are; earlier indexes dropped: %s\n",
            report.entries_given_user, report.orphans,
            report.earlier_purchase_index || report.earlier_history_index ? "yes"
                                                                          : "none were left");
  }
  rc = 0;

done:
  db_destroy(db);
  return rc;
}

int main(int argc, char **argv) {
  static const struct option LONG_OPTIONS[] = {
      {"batch", required_argument, NULL, 'b'}, {"dry-run", no_argument, NULL, 'n'},
      {"quiet", no_argument, NULL, 'q'},       {"shard-keys", no_argument, NULL, 'k'},
      {"uri", required_argument, NULL, 'U'},   {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},     {NULL, 0, NULL, 0},
  };
  struct migrate_options options = {.batch = 500, .uri = getenv("MONGODB_URI")};
  int opt;
  int rc;

  if (options.uri == NULL || options.uri[0] == '\0') {
    options.uri = "mongodb://127.0.0.1:27017/purchases";
  }
  opterr = 0; /* cli_common_option() names a refused option, escaped */
  while ((opt = getopt_long(argc, argv, ":hV", LONG_OPTIONS, NULL)) != -1) {
    switch (opt) {
      case 'b':
        if (!cli_parse_count(optarg, MIGRATE_BATCH_MAX, &options.batch)) {
          fprintf(stderr, "purchases-migrate: --batch takes 1 to %d\n", MIGRATE_BATCH_MAX);
          return 2;
        }
        break;
      case 'n':
        options.dry_run = true;
        break;
      case 'q':
        options.quiet = true;
        break;
      case 'k':
        options.shard_keys = true;
        break;
      case 'U':
        options.uri = optarg;
        break;
      default:
        return cli_common_option(opt, "purchases-migrate", argv, usage);
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }
  if (options.shard_keys) {
    char *json = shard_keys_to_json();
    if (json == NULL) {
      return 1;
    }
    printf("%s\n", json);
    bson_free(json);
    return 0;
  }
  cli_begin();
  rc = run(&options);
  cli_end();
  return rc;
}
