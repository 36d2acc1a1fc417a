#include "middleware/client_id.h"

#include "lib/ids.h"
#include <stdio.h>
#include <string.h>

static const char *const ROLE_NAMES[] = {
    [ROLE_CUSTOMER] = "customer",
    [ROLE_SUPPORT] = "support",
    [ROLE_SERVICE] = "service",
    [ROLE_INGEST] = "ingest",
};

#define ROLE_COUNT (sizeof(ROLE_NAMES) / sizeof(ROLE_NAMES[0]))

const char *role_name(enum role role) {
  return (size_t)role < ROLE_COUNT ? ROLE_NAMES[role] : "unknown";
}

static bool client_id_is_valid_n(const char *id, size_t len) {
  return id_is_valid_n(id, len, ID_DOTTED);
}

bool client_table_parse(const char *spec, struct client_table *table, char *err, size_t err_len) {
  const char *entry = spec;

  memset(table, 0, sizeof(*table));
  while (entry != NULL) {
    const char *end = strchr(entry, ',');
    size_t entry_len = end != NULL ? (size_t)(end - entry) : strlen(entry);
    const char *colon = memchr(entry, ':', entry_len);
    size_t id_len = colon != NULL ? (size_t)(colon - entry) : 0;
    size_t role_len = colon != NULL ? entry_len - id_len - 1 : 0;
    size_t role = 0;

    if (colon == NULL || !client_id_is_valid_n(entry, id_len)) {
      snprintf(err, err_len,
               "entry %zu must be client:role with a client id of 1 to %d characters of "
               "A-Z a-z 0-9 _ - .",
               table->count + 1, CLIENT_ID_MAX);
      goto fail;
    }
    for (role = 0; role < ROLE_COUNT; role++) {
      if (strlen(ROLE_NAMES[role]) == role_len &&
          strncmp(colon + 1, ROLE_NAMES[role], role_len) == 0) {
        break;
      }
    }
    if (role == ROLE_COUNT) {
      snprintf(err, err_len, "entry %zu: the role must be customer, support, service or ingest",
               table->count + 1);
      goto fail;
    }
    if (table->count == CLIENT_TABLE_MAX) {
      snprintf(err, err_len, "at most %d clients", CLIENT_TABLE_MAX);
      goto fail;
    }
    struct client *client = &table->entries[table->count];
    memcpy(client->id, entry, id_len);
    client->id[id_len] = '\0';
    client->role = (enum role)role;
    if (client_table_find(table, client->id) != NULL) {
      snprintf(err, err_len, "client %s is listed twice", client->id);
      goto fail;
    }
    table->count++;
    entry = end != NULL ? end + 1 : NULL;
  }
  return true;

fail:
  memset(table, 0, sizeof(*table));
  return false;
}

bool client_id_is_valid(const char *id) {
  return id != NULL && client_id_is_valid_n(id, strlen(id));
}

const struct client *client_table_find(const struct client_table *table, const char *client_id) {
  if (client_id == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < table->count; i++) {
    if (strcmp(table->entries[i].id, client_id) == 0) {
      return &table->entries[i];
    }
  }
  return NULL;
}
