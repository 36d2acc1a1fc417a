#include "models/page_walk.h"

struct purchase_position *page_walk_next(struct page_walk *walk) {
  if (walk->seen >= walk->limit) {
    walk->beyond = true;
    return NULL;
  }
  return ++walk->seen == 1 ? &walk->near : &walk->far;
}

enum model_status page_walk_read(struct page_read *read, mongoc_collection_t *collection,
                                 const bson_t *filter, const bson_t *opts,
                                 enum db_take (*take)(const bson_t *doc, void *arg),
                                 const char *area, json_t **j_data, struct page_edges *edges) {
  enum model_status status = MODEL_ERROR;

  read->j_list = json_array();
  if (read->j_list != NULL) {
    status = db_find_each(collection, filter, opts, take, read, area, "list");
  }
  if (status == MODEL_OK) {
    page_walk_edges(&read->walk, edges);
    *j_data = read->j_list;
    read->j_list = NULL;
  }
  json_decref(read->j_list);
  read->j_list = NULL;
  return status;
}

void page_walk_edges(const struct page_walk *walk, struct page_edges *edges) {
  const struct purchase_position *far = walk->seen > 1 ? &walk->far : &walk->near;
  bool any = walk->seen > 0;

  edges->first = walk->backwards ? *far : walk->near;
  edges->last = walk->backwards ? walk->near : *far;
  edges->has_more = walk->backwards ? any : walk->beyond;
  edges->has_previous = walk->backwards ? walk->beyond : walk->from_cursor && any;
}

static void append_value(bson_t *doc, const char *op, const struct keyset_value *value) {
  switch (value->type) {
    case BSON_TYPE_DATE_TIME:
      bson_append_date_time(doc, op, -1, value->number);
      break;
    case BSON_TYPE_UTF8:
      bson_append_utf8(doc, op, -1, value->text, -1);
      break;
    case BSON_TYPE_OID:
      bson_append_oid(doc, op, -1, value->oid);
      break;
    default:
      bson_append_int64(doc, op, -1, value->number);
      break;
  }
}

/* {field: {op: value}} as element `key` of `array`. */
static void append_comparison(bson_t *array, const char *key, const char *field, const char *op,
                              const struct keyset_value *value) {
  bson_t branch;
  bson_t cmp;

  bson_append_document_begin(array, key, -1, &branch);
  bson_append_document_begin(&branch, field, -1, &cmp);
  append_value(&cmp, op, value);
  bson_append_document_end(&branch, &cmp);
  bson_append_document_end(array, &branch);
}

void page_walk_append_bound(bson_t *array, uint32_t *count, const char *key_field,
                            const struct keyset_value *key, const char *tie_field,
                            const struct keyset_value *tie, bool up) {
  char index_key[16];
  const char *element;
  bson_t clause;
  bson_t range;
  bson_t or_array;

  bson_uint32_to_string((*count)++, &element, index_key, sizeof(index_key));
  bson_append_document_begin(array, element, -1, &clause);
  bson_append_document_begin(&clause, key_field, -1, &range);
  append_value(&range, up ? "$gte" : "$lte", key);
  bson_append_document_end(&clause, &range);
  bson_append_array_begin(&clause, "$or", -1, &or_array);
  append_comparison(&or_array, "0", key_field, up ? "$gt" : "$lt", key);
  append_comparison(&or_array, "1", tie_field, up ? "$gt" : "$lt", tie);
  bson_append_array_end(&clause, &or_array);
  bson_append_document_end(array, &clause);
}
