#include "models/shard_check.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/collections.h"

/* The commands allowed to reach a sharded collection untargeted, by their
 * `comment`, each with why. Entries are only ever removed. */
static const struct {
  const char *comment;
  const char *why;
} SHARD_CHECK_ALLOWED[] = {
    {"purchases: history of a database not yet migrated",
     "before purchases-migrate, history entries have no userId; the migration must finish "
     "before the collection is sharded (docs/scaling.md)"},
    {"purchases-migrate: entries without a customer",
     "the migration walks the whole history once, on a replica set, before sharding"},
    {"purchases: the relay's look for pending events",
     "the relay looks for purchases with events to publish across every customer: the one "
     "read that is cross-customer by nature (docs/scaling.md); eventPending is indexed"},
    {"purchases-migrate: customers of these purchases",
     "the migration looks up the customers of the ids it found, before sharding"},
    {"purchases-migrate: an entry given its customer",
     "the migration updates each entry by _id, the one way to name an entry without a userId, "
     "before sharding"},
};

#define ALLOWED_COUNT (sizeof(SHARD_CHECK_ALLOWED) / sizeof(SHARD_CHECK_ALLOWED[0]))

static struct {
  atomic_bool allowed_used[ALLOWED_COUNT]; /* said in the file once per process */
  char path[512];
  char program[32];
  atomic_ullong checked;
  atomic_ullong refused;
  bool installed;
} check;

/* Whether `doc` holds every field of `key` as a string: equality on the
 * whole shard key in a filter, the key itself in a document. */
static bool holds_key(const bson_t *doc, const struct shard_key *key) {
  for (size_t f = 0; key->fields[f] != NULL; f++) {
    bson_iter_t iter;
    if (doc == NULL || !bson_iter_init_find(&iter, doc, key->fields[f]) ||
        !BSON_ITER_HOLDS_UTF8(&iter)) {
      return false;
    }
  }
  return true;
}

/* The document member `name` of `doc`, in *out; false when absent. */
static bool document_of(const bson_t *doc, const char *name, bson_t *out) {
  bson_iter_t iter;
  const uint8_t *data;
  uint32_t len;

  if (!bson_iter_init_find(&iter, doc, name) || !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
    return false;
  }
  bson_iter_document(&iter, &len, &data);
  return bson_init_static(out, data, len);
}

/* Whether each document of array `name` has a filter (its member `field`,
 * or itself when field is NULL) that holds the key. */
static bool each_holds_key(const bson_t *command, const char *name, const char *field,
                           const struct shard_key *key) {
  bson_iter_t iter;
  bson_iter_t items;

  if (!bson_iter_init_find(&iter, command, name) || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &items)) {
    return true; /* nothing sent in the command itself */
  }
  while (bson_iter_next(&items)) {
    bson_t item;
    bson_t filter;
    const uint8_t *data;
    uint32_t len;
    if (!BSON_ITER_HOLDS_DOCUMENT(&items)) {
      return false;
    }
    bson_iter_document(&items, &len, &data);
    if (!bson_init_static(&item, data, len)) {
      return false;
    }
    if (field == NULL ? !holds_key(&item, key)
                      : !document_of(&item, field, &filter) || !holds_key(&filter, key)) {
      return false;
    }
  }
  return true;
}

/* Whether the first stage of the pipeline is a $match that holds the key. */
static bool pipeline_targets(const bson_t *command, const struct shard_key *key) {
  bson_iter_t iter;
  bson_iter_t stages;
  bson_t stage;
  bson_t match;
  const uint8_t *data;
  uint32_t len;

  if (!bson_iter_init_find(&iter, command, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &stages) || !bson_iter_next(&stages) ||
      !BSON_ITER_HOLDS_DOCUMENT(&stages)) {
    return false;
  }
  bson_iter_document(&stages, &len, &data);
  return bson_init_static(&stage, data, len) && document_of(&stage, "$match", &match) &&
         holds_key(&match, key);
}

/* Whether every unique index created begins with the shard key's fields. */
static bool unique_indexes_fit(const bson_t *command, const struct shard_key *key) {
  bson_iter_t iter;
  bson_iter_t indexes;

  if (!bson_iter_init_find(&iter, command, "indexes") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &indexes)) {
    return true;
  }
  while (bson_iter_next(&indexes)) {
    bson_t index;
    bson_t keys;
    bson_iter_t member;
    bson_iter_t field;
    const uint8_t *data;
    uint32_t len;
    if (!BSON_ITER_HOLDS_DOCUMENT(&indexes)) {
      return false;
    }
    bson_iter_document(&indexes, &len, &data);
    if (!bson_init_static(&index, data, len)) {
      return false;
    }
    if (!bson_iter_init_find(&member, &index, "unique") || !bson_iter_as_bool(&member)) {
      continue;
    }
    if (!document_of(&index, "key", &keys) || !bson_iter_init(&field, &keys)) {
      return false;
    }
    for (size_t f = 0; key->fields[f] != NULL; f++) {
      if (!bson_iter_next(&field) || strcmp(bson_iter_key(&field), key->fields[f]) != 0) {
        return false;
      }
    }
  }
  return true;
}

/* The entry of SHARD_CHECK_ALLOWED that the command's comment names, or
 * -1. */
static int allowed_entry(const bson_t *command) {
  bson_iter_t iter;

  if (!bson_iter_init_find(&iter, command, "comment") || !BSON_ITER_HOLDS_UTF8(&iter)) {
    return -1;
  }
  for (size_t i = 0; i < ALLOWED_COUNT; i++) {
    if (strcmp(bson_iter_utf8(&iter, NULL), SHARD_CHECK_ALLOWED[i].comment) == 0) {
      return (int)i;
    }
  }
  return -1;
}

size_t shard_check_allowed_count(void) {
  return ALLOWED_COUNT;
}

const char *shard_check_command(const char *name, const bson_t *command) {
  bson_iter_t iter;
  const struct shard_key *key;
  bson_t filter;

  if (!bson_iter_init_find(&iter, command, name) || !BSON_ITER_HOLDS_UTF8(&iter)) {
    return NULL; /* not about one collection */
  }
  key = shard_key_of(bson_iter_utf8(&iter, NULL));
  if (!shard_key_is_sharded(key) || allowed_entry(command) >= 0) {
    return NULL;
  }
  if (strcmp(name, "find") == 0) {
    return document_of(command, "filter", &filter) && holds_key(&filter, key)
               ? NULL
               : "a find without equality on the shard key";
  }
  if (strcmp(name, "count") == 0 || strcmp(name, "distinct") == 0 ||
      strcmp(name, "findAndModify") == 0) {
    return document_of(command, "query", &filter) && holds_key(&filter, key)
               ? NULL
               : "a query without equality on the shard key";
  }
  if (strcmp(name, "aggregate") == 0) {
    return pipeline_targets(command, key) ? NULL
                                          : "a pipeline that does not begin with a $match on "
                                            "the shard key";
  }
  if (strcmp(name, "update") == 0) {
    return each_holds_key(command, "updates", "q", key)
               ? NULL
               : "an update without equality on the shard key";
  }
  if (strcmp(name, "delete") == 0) {
    return each_holds_key(command, "deletes", "q", key)
               ? NULL
               : "a delete without equality on the shard key";
  }
  if (strcmp(name, "insert") == 0) {
    return each_holds_key(command, "documents", NULL, key) ? NULL
                                                           : "a document without its shard key";
  }
  if (strcmp(name, "createIndexes") == 0) {
    return unique_indexes_fit(command, key) ? NULL
                                            : "a unique index that does not begin with the "
                                              "shard key";
  }
  return NULL;
}

/* Appends one line to the file (O_APPEND: lines of several processes do
 * not mix). */
static void write_line(const char *line) {
  FILE *file = fopen(check.path, "a");
  if (file != NULL) {
    fputs(line, file);
    fclose(file);
  }
}

static void command_started(const mongoc_apm_command_started_t *event) {
  const bson_t *command = mongoc_apm_command_started_get_command(event);
  const char *name = mongoc_apm_command_started_get_command_name(event);
  const char *fault = shard_check_command(name, command);
  int entry = allowed_entry(command);

  atomic_fetch_add(&check.checked, 1);
  if (entry >= 0 && !atomic_exchange(&check.allowed_used[entry], true)) {
    char line[256];
    snprintf(line, sizeof(line), "allowed %d of %zu: %s\n", entry, ALLOWED_COUNT,
             SHARD_CHECK_ALLOWED[entry].comment);
    write_line(line);
  }
  if (fault != NULL) {
    char *json = bson_as_relaxed_extended_json(command, NULL);
    char line[2048];
    atomic_fetch_add(&check.refused, 1);
    snprintf(line, sizeof(line), "violation %s[%d]: %s: %.1800s\n", check.program, (int)getpid(),
             fault, json != NULL ? json : "?");
    write_line(line);
    bson_free(json);
  }
}

void shard_check_install(mongoc_client_pool_t *pool, const char *program) {
#ifdef PURCHASES_SHARD_CHECK
  const char *path = getenv("PURCHASES_SHARD_CHECK_FILE");
  mongoc_apm_callbacks_t *callbacks;

  if (path == NULL || path[0] == '\0' || check.installed) {
    return;
  }
  snprintf(check.path, sizeof(check.path), "%s", path);
  snprintf(check.program, sizeof(check.program), "%s", program != NULL ? program : "?");
  callbacks = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_started_cb(callbacks, command_started);
  check.installed = mongoc_client_pool_set_apm_callbacks(pool, callbacks, NULL);
  mongoc_apm_callbacks_destroy(callbacks);
#else
  (void)pool;
  (void)program;
  (void)command_started;
#endif
}

void shard_check_finish(void) {
  char line[256];

  if (!check.installed) {
    return;
  }
  snprintf(line, sizeof(line), "checked %s[%d]: %llu commands, %llu untargeted\n", check.program,
           (int)getpid(), (unsigned long long)atomic_load(&check.checked),
           (unsigned long long)atomic_load(&check.refused));
  write_line(line);
}
