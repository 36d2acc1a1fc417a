#include "models/page_walk.h"

struct purchase_position *page_walk_next(struct page_walk *walk) {
  if (walk->seen >= walk->limit) {
    walk->beyond = true;
    return NULL;
  }
  return ++walk->seen == 1 ? &walk->near : &walk->far;
}

void page_walk_edges(const struct page_walk *walk, struct page_edges *edges) {
  const struct purchase_position *far = walk->seen > 1 ? &walk->far : &walk->near;
  bool any = walk->seen > 0;

  edges->first = walk->backwards ? *far : walk->near;
  edges->last = walk->backwards ? walk->near : *far;
  edges->has_more = walk->backwards ? any : walk->beyond;
  edges->has_previous = walk->backwards ? walk->beyond : walk->from_cursor && any;
}
