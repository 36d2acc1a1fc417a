#ifndef PURCHASES_MODELS_MIGRATE_H
#define PURCHASES_MODELS_MIGRATE_H

/* From the shape of the release before per-customer purchase ids to this
 * one's (docs/scaling.md, "Upgrading a database"):
 *   1. the unique indexes that begin with the shard key are built,
 *      {userId, id} on purchases and {userId, purchaseId, version} on the
 *      history (the service builds them at start too);
 *   2. every history entry without a userId gets its purchase's, in
 *      batches, walking the entries by _id;
 *   3. the earlier unique indexes, {id} and {purchaseId, version}, are
 *      dropped, once no entry is left without its userId.
 * Every step is safe to repeat, so a run killed anywhere is finished by
 * the next; a database already migrated costs three look-ups. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/db.h"
#include "models/status.h"

/* The earlier release's unique indexes, whose presence says the database
 * has its shape. */
#define MIGRATE_EARLIER_PURCHASE_INDEX "id_1"
#define MIGRATE_EARLIER_HISTORY_INDEX  "purchaseId_1_version_1"

struct migrate_report {
  bool earlier_purchase_index; /* found (dry run) or dropped */
  bool earlier_history_index;
  int64_t entries_without_user; /* at the start */
  int64_t entries_given_user;   /* by this run */
  int64_t orphans;              /* entries whose purchase does not exist: left as they are */
};

/* Called after each batch with the entries looked at so far and how many
 * there were at the start. */
typedef void (*migrate_progress)(int64_t done, int64_t total, void *arg);

/* Whether the database still has the earlier shape: either earlier
 * unique index exists. Two listIndexes; for the app's watcher. */
enum model_status migrate_detect_earlier(struct db *db, bool *earlier);

/* Runs the migration, `batch` entries at a time (memory is bounded by it),
 * or, with dry_run, only counts what it would do. Fills *report. A failed
 * run leaves the database as good as before and is finished by the next. */
enum model_status migrate_run(struct db *db, uint32_t batch, bool dry_run,
                              migrate_progress progress, void *progress_arg,
                              struct migrate_report *report);

#endif
