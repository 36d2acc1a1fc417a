#ifndef PURCHASES_MIDDLEWARE_CLIENT_ID_H
#define PURCHASES_MIDDLEWARE_CLIENT_ID_H

#include <stdbool.h>

#include "lib/ids.h"
#include <stddef.h>

/* What a calling application may do. */
enum role {
  ROLE_CUSTOMER, /* the shop: a customer reads only their own purchases */
  ROLE_SUPPORT,  /* customer-support staff: any customer's purchases */
  ROLE_SERVICE,  /* sibling services (invoicing, ...): any customer's purchases */
  ROLE_INGEST    /* checkout and fulfilment: create purchases and change statuses; no reads */
};

#define CLIENT_ID_MAX    ID_MAX
#define CLIENT_TABLE_MAX 32

struct client {
  char id[CLIENT_ID_MAX + 1];
  enum role role;
};

/* The known calling applications, from PURCHASES_CLIENTS. */
struct client_table {
  struct client entries[CLIENT_TABLE_MAX];
  size_t count;
};

/* "customer", "support", "service" or "ingest". */
const char *role_name(enum role role);

/* Parses "client:role,client:role,...". Client ids are 1 to CLIENT_ID_MAX
 * characters of A-Z a-z 0-9 _ - . and appear once; roles are customer,
 * support, service or ingest. Returns false and writes a reason into err otherwise;
 * `table` is then left empty. */
bool client_table_parse(const char *spec, struct client_table *table, char *err, size_t err_len);

/* The entry for `client_id`, or NULL. The pointer lives as long as table. */
const struct client *client_table_find(const struct client_table *table, const char *client_id);

/* True for 1 to CLIENT_ID_MAX characters of A-Z a-z 0-9 _ - . */
bool client_id_is_valid(const char *id);

#endif
