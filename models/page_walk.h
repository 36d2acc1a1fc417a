#ifndef PURCHASES_MODELS_PAGE_WALK_H
#define PURCHASES_MODELS_PAGE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/db.h"
#include "models/purchase_query.h"

/* One keyset page read from a database cursor, shared by every list
 * (purchases, the audit trail). The walk asks for one document more than
 * the page: whether it comes says if there is more beyond the page. A
 * previous page is walked backwards from its cursor, so the first document
 * met is the page's last. */
struct page_walk {
  uint32_t limit;
  bool from_cursor;              /* the page starts at a cursor */
  bool backwards;                /* ... and ends at it: a previous page */
  uint32_t seen;                 /* documents met so far */
  bool beyond;                   /* one more than the page was met */
  struct purchase_position near; /* the first document met */
  struct purchase_position far;  /* the last one, from the second on */
};

/* What one walk found, in the list's order. */
struct page_edges {
  struct purchase_position first;
  struct purchase_position last;
  bool has_more;     /* the list goes on after the page */
  bool has_previous; /* the list has purchases before it */
};

/* One side of a keyset bound: a value of the sort key or of the field that
 * breaks its ties. */
struct keyset_value {
  bson_type_t type; /* BSON_TYPE_DATE_TIME, _INT64, _UTF8 or _OID */
  int64_t number;   /* a date (ms) or an integer */
  const char *text;
  const bson_oid_t *oid;
};

/* Appends to `array`, as its element *count (then counted), the bound that
 * keeps what lies past (key, tie) in the walk's direction: going down,
 * {key_field: {$lte: key}, $or: [{key_field: {$lt: key}}, {tie_field:
 * {$lt: tie}}]}; going up, $gte and $gt. The first part is a range on the
 * index, so the database starts reading at the cursor; the $or only drops
 * the documents that tie with it on the key and lie on the other side. */
void page_walk_append_bound(bson_t *array, uint32_t *count, const char *key_field,
                            const struct keyset_value *key, const char *tie_field,
                            const struct keyset_value *tie, bool up);

/* A page being read from the database: the walk, and the list each
 * document met goes into. A list embeds it as the first member of what its
 * callback needs. */
struct page_read {
  struct page_walk walk;
  json_t *j_list; /* the page so far; page_walk_read()'s */
};

/* Reads one page: the find on `collection`, each document handed to take()
 * (db_find_each(); its arg is `read`, so the caller's struct that begins
 * with it), then the page's edges. On MODEL_OK *j_data is the page's list
 * (the caller's) and *edges are filled; else nothing is handed over. */
enum model_status page_walk_read(struct page_read *read, mongoc_collection_t *collection,
                                 const bson_t *filter, const bson_t *opts,
                                 enum db_take (*take)(const bson_t *doc, void *arg),
                                 const char *area, json_t **j_data, struct page_edges *edges);

/* Counts one more document met. Returns where its position goes, or NULL
 * when it is the one beyond the page (the walk then stops). */
struct purchase_position *page_walk_next(struct page_walk *walk);

/* The page's edges once the walk is over. A page after a cursor has one
 * before it and a page before a cursor one after it, when not empty; only
 * a delete of the cursor's document and all around it could make either
 * link lead to an empty page. */
void page_walk_edges(const struct page_walk *walk, struct page_edges *edges);

#endif
