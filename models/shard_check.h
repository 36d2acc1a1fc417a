#ifndef PURCHASES_MODELS_SHARD_CHECK_H
#define PURCHASES_MODELS_SHARD_CHECK_H

/* The shard-key check of the test build: with PURCHASES_SHARD_CHECK_FILE
 * set in its environment, a process built with the tests records every
 * command it sends (libmongoc's command monitoring) and appends a line to
 * that file for each one that a sharded cluster could not target:
 *   - a find, count, distinct, aggregate (its first $match), update,
 *     delete or findAndModify on a sharded collection whose filter lacks
 *     equality on the whole shard key (models/collections.h);
 *   - an insert of a document without its shard key;
 *   - a unique index that does not begin with the collection's shard key.
 * A command whose `comment` is one of SHARD_CHECK_ALLOWED (shard_check.c),
 * each with its reason, is let through, and the first such command of each
 * entry is said in the file ("allowed I of N"). scripts/test.sh fails the
 * run on any violation, and on an entry no command of the run used: the
 * list can only shrink. */

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

/* What the check found wrong with one command, or NULL when nothing:
 * `collection` is the command's, `command` the whole of it. Pure, for the
 * unit tests. */
const char *shard_check_command(const char *name, const bson_t *command);

/* How many exceptions SHARD_CHECK_ALLOWED names. */
size_t shard_check_allowed_count(void);

/* Installs the check on a pool that has popped no client yet, when the
 * environment asks for it and this build has it; a no-op otherwise.
 * `program` names the process in the file's lines. */
void shard_check_install(mongoc_client_pool_t *pool, const char *program);

/* Writes the process's count of checked commands to the file; at exit. */
void shard_check_finish(void);

#endif
