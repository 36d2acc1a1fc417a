/* GET /user/:userId with filters, sorts and cursors, and the single-purchase
 * route: the real server over HTTP, FerretDB behind it. Every expectation is
 * computed from the same generator that wrote the data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"
#include "../support/problems.h"
#include "suites.h"

static struct ferretdb db;
static struct server server;
static char user[32];   /* the user with varied purchases */
static char other[32];  /* another user, for cursors and 404s */
static char walker[32]; /* a user that gets purchases during a walk */

#define DAY_MS       86400000LL
#define BASE_DATE_MS 1700000000000LL /* 2023-11-14T22:13:20Z */
#define COUNT        60

static const char *const STATUSES[] = {"placed",    "paid",      "shipped",
                                       "delivered", "cancelled", "refunded"};

/* Purchase i of the varied user: pairs share a date and prices repeat, so
 * ties are everywhere and only the id breaks them. */
struct spec {
  char id[32];
  const char *status;
  int64_t price;
  const char *currency;
  const char *title;
  const char *brand;
  int64_t date_ms;
};

static struct spec spec_of(int i) {
  struct spec s;
  snprintf(s.id, sizeof(s.id), "q%03d", i);
  s.status = STATUSES[i % 6];
  s.price = 1000 + (i % 7) * 100;
  s.currency = i % 3 == 0 ? "EUR" : "GBP";
  s.title = i % 10 == 0 ? "Blue Kettle (1.5L) [special]" : "Toaster";
  s.brand = i % 5 == 1 ? "Kettle.Co" : "Crumbly";
  s.date_ms = BASE_DATE_MS + (i / 2) * DAY_MS;
  return s;
}

static bson_t *purchase_doc(const char *owner, const struct spec *s) {
  char id[64];
  struct fixture fixture = {.id = id,
                            .user_id = owner,
                            .date_ms = s->date_ms,
                            .status = s->status,
                            .unit_pence = s->price,
                            .quantity = 1,
                            .currency = s->currency,
                            .title = s->title,
                            .brand = s->brand};

  snprintf(id, sizeof(id), "%s-%s", owner, s->id);
  return fixture_document(&fixture);
}

static void insert_spec(const char *owner, const struct spec *s) {
  bson_t *doc = purchase_doc(owner, s);
  const bson_t *docs[] = {doc};
  ck_assert(db_insert(db.uri, docs, 1));
  bson_destroy(doc);
}

static void setup(void) {
  char database[64];
  snprintf(database, sizeof(database), "query_%d", (int)getpid());
  snprintf(user, sizeof(user), "varied%d", (int)getpid());
  snprintf(other, sizeof(other), "other%d", (int)getpid());
  snprintf(walker, sizeof(walker), "walker%d", (int)getpid());
  ck_assert(ferretdb_start(&db, database));
  bson_t *docs[COUNT];
  for (int i = 0; i < COUNT; i++) {
    struct spec s = spec_of(i);
    docs[i] = purchase_doc(user, &s);
  }
  ck_assert(db_insert(db.uri, (const bson_t *const *)docs, COUNT));
  for (int i = 0; i < COUNT; i++) {
    bson_destroy(docs[i]);
  }
  struct spec o = spec_of(3);
  insert_spec(other, &o);
  const char *env[] = {"PURCHASES_CURSOR_KEY=integration-tests-cursor-key-0123456789", NULL};
  ck_assert(server_start(&server, db.uri, env));
  ck_assert(wait_for_status(server.port, "/readyz", 200, 15));
}

static void teardown(void) {
  server_stop(&server, 15);
  ferretdb_stop(&db, false);
}

/* --- the expected answer, computed here ------------------------------- */

struct filter {
  const char *statuses[6]; /* NULL-terminated; empty for any */
  const char *currency;
  int64_t min_price, max_price; /* -1 for none */
  int64_t from_ms, to_ms;       /* -1 for none */
  int text;                     /* 0 none, 1 "kettle" (title or brand) */
};

static bool matches(const struct spec *s, const struct filter *f) {
  if (f->statuses[0] != NULL) {
    bool any = false;
    for (int i = 0; f->statuses[i] != NULL; i++) {
      any |= strcmp(f->statuses[i], s->status) == 0;
    }
    if (!any) {
      return false;
    }
  }
  if (f->currency != NULL && strcmp(f->currency, s->currency) != 0) {
    return false;
  }
  if ((f->min_price >= 0 && s->price < f->min_price) ||
      (f->max_price >= 0 && s->price > f->max_price)) {
    return false;
  }
  if ((f->from_ms >= 0 && s->date_ms < f->from_ms) || (f->to_ms >= 0 && s->date_ms >= f->to_ms)) {
    return false;
  }
  if (f->text == 1 && strstr(s->title, "Kettle") == NULL && strstr(s->brand, "Kettle") == NULL) {
    return false;
  }
  return true;
}

static const char *sort_name;
static int compare_specs(const void *a, const void *b) {
  const struct spec *x = a;
  const struct spec *y = b;
  bool desc = sort_name[0] == '-';
  bool by_price = strstr(sort_name, "price") != NULL;
  int64_t kx = by_price ? x->price : x->date_ms;
  int64_t ky = by_price ? y->price : y->date_ms;
  int c = kx < ky ? -1 : kx > ky ? 1 : strcmp(x->id, y->id);
  return desc ? -c : c;
}

/* The ids, in order, that `sort` and `f` should give for the varied user. */
static size_t expected_ids(const char *sort, const struct filter *f, char ids[COUNT][64]) {
  struct spec all[COUNT];
  size_t n = 0;
  for (int i = 0; i < COUNT; i++) {
    struct spec s = spec_of(i);
    if (matches(&s, f)) {
      all[n++] = s;
    }
  }
  sort_name = sort;
  qsort(all, n, sizeof(all[0]), compare_specs);
  for (size_t i = 0; i < n; i++) {
    snprintf(ids[i], 64, "%.31s-%.31s", user, all[i].id);
  }
  return n;
}

/* What a walk learns besides the ids: the first page's next cursor, and
 * the last page's previous cursor and size, for the walk back. */
struct walk_ends {
  char first_next[256];
  char last_prev[256];
  size_t last_count;
};

/* Checks the page object and the Link header of one page against each
 * other: a link for each cursor that is there and none for one that is
 * not, and the link keeps the rest of the query. */
static void check_links(const struct http_response *r, const char *query) {
  json_t *j_page = json_object_get(r->j_body, "page");
  json_t *next = json_object_get(j_page, "nextCursor");
  json_t *prev = json_object_get(j_page, "prevCursor");
  char link[4096];
  char want[512];
  bool has_link = http_header(r, "Link", link, sizeof(link)) != NULL;

  ck_assert(json_is_true(json_object_get(j_page, "hasMore")) == json_is_string(next));
  ck_assert(json_is_null(next) || json_is_string(next));
  ck_assert(json_is_null(prev) || json_is_string(prev));
  ck_assert(has_link == (json_is_string(next) || json_is_string(prev)));
  if (json_is_string(next)) {
    snprintf(want, sizeof(want), "cursor=%s>; rel=\"next\"", json_string_value(next));
    ck_assert_msg(strstr(link, want) != NULL, "Link %s lacks %s", link, want);
  } else if (has_link) {
    ck_assert_ptr_null(strstr(link, "rel=\"next\""));
  }
  if (json_is_string(prev)) {
    snprintf(want, sizeof(want), "cursor=%s>; rel=\"prev\"", json_string_value(prev));
    ck_assert_msg(strstr(link, want) != NULL, "Link %s lacks %s", link, want);
  } else if (has_link) {
    ck_assert_ptr_null(strstr(link, "rel=\"prev\""));
  }
  if (has_link && query[0] != '\0') {
    ck_assert_msg(strstr(link, query) != NULL, "Link %s lost %s", link, query);
  }
}

/* Walks every page of `query` (which must not hold a cursor) with `limit`
 * and appends the ids to ids; returns how many, following nextCursor and
 * checking the Link header agrees with the page. */
static size_t walk(const char *owner, const char *query, int limit, char ids[][64], size_t max,
                   struct walk_ends *ends) {
  char path[2048];
  char cursor[256] = "";
  size_t n = 0;
  for (int page = 0; page < 100; page++) {
    struct http_response r;
    snprintf(path, sizeof(path), "/user/%s?limit=%d%s%s%s%s", owner, limit, query[0] ? "&" : "",
             query, cursor[0] ? "&cursor=" : "", cursor);
    ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
    ck_assert_msg(r.status == 200, "%s answered %ld: %s", path, r.status, r.body);
    json_t *data = json_object_get(r.j_body, "data");
    json_t *j_page = json_object_get(r.j_body, "page");
    ck_assert_int_eq(json_integer_value(json_object_get(j_page, "limit")), limit);
    ck_assert_uint_le(json_array_size(data), (size_t)limit);
    for (size_t i = 0; i < json_array_size(data); i++) {
      ck_assert_uint_lt(n, max);
      snprintf(ids[n++], 64, "%s",
               json_string_value(json_object_get(json_array_get(data, i), "id")));
    }
    check_links(&r, query);
    bool more = json_is_true(json_object_get(j_page, "hasMore"));
    json_t *next = json_object_get(j_page, "nextCursor");
    json_t *prev = json_object_get(j_page, "prevCursor");
    /* Every page but the first has a way back. */
    ck_assert_msg(json_is_string(prev) == (page > 0), "%s: page %d prevCursor", path, page);
    if (page == 0) {
      snprintf(ends->first_next, sizeof(ends->first_next), "%s",
               more ? json_string_value(next) : "");
    }
    if (!more) {
      snprintf(ends->last_prev, sizeof(ends->last_prev), "%s",
               page > 0 ? json_string_value(prev) : "");
      ends->last_count = json_array_size(data);
      http_response_cleanup(&r);
      return n;
    }
    ck_assert_uint_eq(json_array_size(data), (size_t)limit);
    snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
    http_response_cleanup(&r);
  }
  ck_abort_msg("more than 100 pages");
  return n;
}

/* From the last page of a walk back to the first by prevCursor: the pages
 * come in reverse, each in the list's order, and together hold every id
 * before the last page once. Fills ids[0..before) from the back; the page
 * reached first must be the first page (same next cursor). */
static void walk_back(const char *owner, const char *query, int limit, const struct walk_ends *ends,
                      size_t before, char ids[][64]) {
  char path[2048];
  char cursor[256];
  size_t at = before;
  snprintf(cursor, sizeof(cursor), "%s", ends->last_prev);
  for (int page = 0; cursor[0] != '\0' && page < 100; page++) {
    struct http_response r;
    snprintf(path, sizeof(path), "/user/%s?limit=%d%s%s&cursor=%s", owner, limit,
             query[0] ? "&" : "", query, cursor);
    ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
    ck_assert_msg(r.status == 200, "%s answered %ld: %s", path, r.status, r.body);
    json_t *data = json_object_get(r.j_body, "data");
    json_t *j_page = json_object_get(r.j_body, "page");
    json_t *prev = json_object_get(j_page, "prevCursor");
    size_t count = json_array_size(data);
    check_links(&r, query);
    /* A page before another always has a next one, and is a full page. */
    ck_assert(json_is_true(json_object_get(j_page, "hasMore")));
    ck_assert_uint_eq(count, (size_t)limit);
    ck_assert_uint_ge(at, count);
    at -= count;
    for (size_t i = 0; i < count; i++) {
      snprintf(ids[at + i], 64, "%s",
               json_string_value(json_object_get(json_array_get(data, i), "id")));
    }
    if (!json_is_string(prev)) {
      ck_assert_str_eq(json_string_value(json_object_get(j_page, "nextCursor")), ends->first_next);
    }
    snprintf(cursor, sizeof(cursor), "%s", json_is_string(prev) ? json_string_value(prev) : "");
    http_response_cleanup(&r);
  }
  ck_assert_msg(at == 0, "%s: the walk back stopped %zu purchases short of the first", query, at);
}

static void check_walk(const char *sort, const char *query, const struct filter *f, int limit) {
  char expected[COUNT][64];
  char got[COUNT + 1][64];
  char back[COUNT][64];
  char full[1024];
  struct walk_ends ends;
  size_t want = expected_ids(sort, f, expected);
  snprintf(full, sizeof(full), "sort=%s%s%s", sort, query[0] ? "&" : "", query);
  size_t n = walk(user, full, limit, got, COUNT + 1, &ends);
  ck_assert_msg(n == want, "%s: %zu purchases, expected %zu", full, n, want);
  for (size_t i = 0; i < n; i++) {
    ck_assert_msg(strcmp(got[i], expected[i]) == 0, "%s: #%zu is %s, expected %s", full, i, got[i],
                  expected[i]);
  }
  walk_back(user, full, limit, &ends, n - ends.last_count, back);
  for (size_t i = 0; i + ends.last_count < n; i++) {
    ck_assert_msg(strcmp(back[i], expected[i]) == 0, "%s back: #%zu is %s, expected %s", full, i,
                  back[i], expected[i]);
  }
}

#define NO_FILTER                                                                                  \
  { {NULL}, NULL, -1, -1, -1, -1, 0 }

START_TEST(every_sort_walks_every_purchase_once_in_order) {
  const struct filter none = NO_FILTER;
  const char *sorts[] = {"-datePurchased", "datePurchased", "-pricePence", "pricePence"};
  for (size_t i = 0; i < 4; i++) {
    check_walk(sorts[i], "", &none, 7);
  }
  /* Default sort and limit: the newest 20. */
  check_walk("-datePurchased", "", &none, 20);
}
END_TEST

START_TEST(filters_select_exactly_the_matching_purchases) {
  struct filter f = NO_FILTER;
  f.statuses[0] = "delivered";
  check_walk("-datePurchased", "status=delivered", &f, 4);
  f.statuses[1] = "refunded";
  check_walk("pricePence", "status=delivered,refunded", &f, 3);

  struct filter c = NO_FILTER;
  c.currency = "EUR";
  check_walk("-pricePence", "currency=EUR", &c, 5);

  struct filter p = NO_FILTER;
  p.min_price = 1200;
  p.max_price = 1400;
  check_walk("-datePurchased", "minPricePence=1200&maxPricePence=1400", &p, 6);

  /* from inclusive, to exclusive; a date-time with an offset is converted. */
  struct filter d = NO_FILTER;
  d.from_ms = BASE_DATE_MS + 5 * DAY_MS;
  d.to_ms = BASE_DATE_MS + 12 * DAY_MS;
  check_walk("datePurchased", "from=2023-11-19T22:13:20Z&to=2023-11-26T23%3A13%3A20%2B01%3A00", &d,
             4);
  struct filter day = NO_FILTER;
  day.from_ms = 1700870400000LL; /* 2023-11-25 */
  check_walk("-datePurchased", "from=2023-11-25", &day, 9);

  struct filter all = NO_FILTER;
  all.statuses[0] = "paid";
  all.statuses[1] = "shipped";
  all.currency = "GBP";
  all.min_price = 1100;
  all.from_ms = BASE_DATE_MS;
  all.to_ms = BASE_DATE_MS + 25 * DAY_MS;
  check_walk("-pricePence",
             "status=paid,shipped&currency=GBP&minPricePence=1100&from=2023-11-14T22:13:20Z&"
             "to=2023-12-09T22:13:20.000Z",
             &all, 2);
}
END_TEST

START_TEST(text_search_is_literal_and_case_insensitive) {
  struct filter k = NO_FILTER;
  k.text = 1;
  /* "kettle" matches titles ("Blue Kettle ...") and brands ("Kettle.Co"). */
  check_walk("-datePurchased", "q=kEtTlE", &k, 5);

  char ids[COUNT + 1][64];
  struct walk_ends ends;
  /* Regular-expression characters are plain text: "." is a dot... */
  ck_assert_uint_eq(walk(user, "q=Kettle.C.", 50, ids, COUNT + 1, &ends), 0);
  ck_assert_uint_eq(walk(user, "q=kettle.co", 50, ids, COUNT + 1, &ends), 12);
  /* ...and brackets, parentheses and '+' (as %2B) too. */
  ck_assert_uint_eq(walk(user, "q=(1.5L)+%5Bspecial%5D", 50, ids, COUNT + 1, &ends), 6);
  ck_assert_uint_eq(walk(user, "q=.*", 50, ids, COUNT + 1, &ends), 0);
  ck_assert_uint_eq(walk(user, "q=%5E", 50, ids, COUNT + 1, &ends), 0);
}
END_TEST

/* The Link header repeats the caller's query; a byte a URI may not hold
 * raw ('[' and ']' outside a host, '<', '>', '"') goes percent-encoded, or
 * a reader of the header would take '>' for the end of the link. */
START_TEST(links_escape_what_a_uri_may_not_hold_raw) {
  char path[128];
  char link[2048];
  struct http_response r;

  snprintf(path, sizeof(path), "/user/%s?limit=1&q=[special]", user);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
  ck_assert_msg(json_array_size(json_object_get(r.j_body, "data")) == 1, "%s", r.body);
  ck_assert_ptr_nonnull(http_header(&r, "Link", link, sizeof(link)));
  ck_assert_msg(strstr(link, "q=%5Bspecial%5D&cursor=") != NULL, "%s", link);
  ck_assert_msg(strchr(link, '[') == NULL && strchr(link, ']') == NULL, "%s", link);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(fields_trim_each_purchase_but_keep_id) {
  struct http_response r;
  char path[128];
  snprintf(path, sizeof(path), "/user/%s?fields=status,pricePence&limit=3", user);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_int_eq(r.status, 200);
  json_t *first = json_array_get(json_object_get(r.j_body, "data"), 0);
  ck_assert_uint_eq(json_object_size(first), 3);
  ck_assert_ptr_nonnull(json_object_get(first, "id"));
  ck_assert_ptr_nonnull(json_object_get(first, "status"));
  ck_assert_ptr_nonnull(json_object_get(first, "pricePence"));
  /* The cursor still works though datePurchased is not shown. */
  ck_assert(json_is_string(json_object_get(json_object_get(r.j_body, "page"), "nextCursor")));
  http_response_cleanup(&r);
  char ids[COUNT + 1][64];
  struct walk_ends ends;
  ck_assert_uint_eq(walk(user, "fields=id", 8, ids, COUNT + 1, &ends), COUNT);
}
END_TEST

START_TEST(with_total_counts_every_page) {
  struct http_response r;
  char path[128];
  snprintf(path, sizeof(path), "/user/%s?status=paid&limit=2&withTotal=true", user);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_int_eq(r.status, 200);
  json_t *page = json_object_get(r.j_body, "page");
  ck_assert_int_eq(json_integer_value(json_object_get(page, "total")), COUNT / 6);
  http_response_cleanup(&r);
  snprintf(path, sizeof(path), "/user/%s?limit=2", user);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_ptr_null(json_object_get(json_object_get(r.j_body, "page"), "total"));
  http_response_cleanup(&r);
}
END_TEST

START_TEST(walk_under_concurrent_inserts_sees_each_purchase_once) {
  const char *sorts[] = {"-datePurchased", "datePurchased", "-pricePence", "pricePence"};
  for (size_t s = 0; s < 4; s++) {
    char owner[48];
    snprintf(owner, sizeof(owner), "%s-%zu", walker, s);
    for (int i = 0; i < 30; i++) {
      struct spec sp = spec_of(i);
      insert_spec(owner, &sp);
    }
    char path[512];
    char cursor[256] = "";
    char seen[200][64];
    size_t n = 0;
    char previous_key[64] = "";
    char previous_id[64] = "";
    bool by_price = strstr(sorts[s], "price") != NULL;
    bool desc = sorts[s][0] == '-';
    for (int page = 0; page < 60; page++) {
      struct http_response r;
      snprintf(path, sizeof(path), "/user/%s?limit=4&sort=%s%s%s&fields=datePurchased,pricePence",
               owner, sorts[s], cursor[0] ? "&cursor=" : "", cursor);
      ck_assert(http_get_as(server.port, path, "invoicing", "batch", &r));
      ck_assert_int_eq(r.status, 200);
      json_t *data = json_object_get(r.j_body, "data");
      for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *p = json_array_get(data, i);
        const char *id = json_string_value(json_object_get(p, "id"));
        for (size_t j = 0; j < n; j++) {
          ck_assert_msg(strcmp(seen[j], id) != 0, "%s seen twice (sort %s)", id, sorts[s]);
        }
        ck_assert_uint_lt(n, 200);
        snprintf(seen[n++], 64, "%s", id);
        /* The walk stays in order: zero-padded prices and ISO dates both
         * compare as strings. */
        char key[64];
        if (by_price) {
          snprintf(key, sizeof(key), "%012lld",
                   (long long)json_integer_value(json_object_get(p, "pricePence")));
        } else {
          snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(p, "datePurchased")));
        }
        if (previous_id[0] != '\0') {
          int c = strcmp(previous_key, key);
          if (c == 0) {
            c = strcmp(previous_id, id);
          }
          ck_assert_msg(desc ? c > 0 : c < 0, "%s out of order after %s (sort %s)", id, previous_id,
                        sorts[s]);
        }
        snprintf(previous_key, sizeof(previous_key), "%s", key);
        snprintf(previous_id, sizeof(previous_id), "%s", id);
      }
      json_t *next = json_object_get(json_object_get(r.j_body, "page"), "nextCursor");
      if (!json_is_string(next)) {
        http_response_cleanup(&r);
        break;
      }
      snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
      http_response_cleanup(&r);
      /* Between pages: a new purchase lands somewhere in the order (before,
       * inside and after the walk's position, by turns). */
      struct spec extra = spec_of((page * 17) % COUNT);
      snprintf(extra.id, sizeof(extra.id), "new%02d", page);
      extra.date_ms += (page % 3 - 1) * 7 * DAY_MS;
      extra.price += (page % 3 - 1) * 250;
      insert_spec(owner, &extra);
    }
    /* Every purchase there from the start came back exactly once. */
    for (int i = 0; i < 30; i++) {
      char id[96];
      struct spec sp = spec_of(i);
      snprintf(id, sizeof(id), "%s-%s", owner, sp.id);
      size_t found = 0;
      for (size_t j = 0; j < n; j++) {
        found += strcmp(seen[j], id) == 0;
      }
      ck_assert_msg(found == 1, "%s came back %zu times (sort %s)", id, found, sorts[s]);
    }
  }
}
END_TEST

/* The first page's cursor for `query` on `owner`. */
static void first_cursor(const char *owner, const char *query, char *out, size_t len) {
  struct http_response r;
  char path[256];
  snprintf(path, sizeof(path), "/user/%s?limit=2%s%s", owner, query[0] ? "&" : "", query);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  const char *cursor =
      json_string_value(json_object_get(json_object_get(r.j_body, "page"), "nextCursor"));
  ck_assert_ptr_nonnull(cursor);
  snprintf(out, len, "%s", cursor);
  http_response_cleanup(&r);
}

static void expect_bad_cursor(const char *owner, const char *query, const char *cursor) {
  struct http_response r;
  char path[512];
  snprintf(path, sizeof(path), "/user/%s?limit=2&%s%scursor=%s", owner, query, query[0] ? "&" : "",
           cursor);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_msg(r.status == 400, "%s answered %ld", path, r.status);
  ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.j_body, "detail")), "cursor"));
  assert_invalid_about(&r, "query", "cursor");
  http_response_cleanup(&r);
}

START_TEST(tampered_or_foreign_cursors_are_400) {
  char good[256];
  char bad[300];
  first_cursor(user, "", good, sizeof(good));

  /* It works as given. */
  struct http_response r;
  char path[512];
  snprintf(path, sizeof(path), "/user/%s?limit=2&cursor=%s", user, good);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  http_response_cleanup(&r);

  /* Every single changed character is caught. */
  size_t len = strlen(good);
  for (size_t i = 0; i < len; i++) {
    snprintf(bad, sizeof(bad), "%s", good);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    expect_bad_cursor(user, "", bad);
  }
  /* Truncated, extended, garbage. */
  snprintf(bad, sizeof(bad), "%.*s", (int)len - 1, good);
  expect_bad_cursor(user, "", bad);
  snprintf(bad, sizeof(bad), "%.*s", (int)len / 2, good);
  expect_bad_cursor(user, "", bad);
  snprintf(bad, sizeof(bad), "%sA", good);
  expect_bad_cursor(user, "", bad);
  snprintf(bad, sizeof(bad), "%s%%3D%%3D", good);
  expect_bad_cursor(user, "", bad);
  expect_bad_cursor(user, "", "not-a-cursor");
  expect_bad_cursor(user, "", "%21%21%21%21");

  /* Made for another user, sort or filter. */
  expect_bad_cursor(other, "", good);
  expect_bad_cursor(user, "sort=datePurchased", good);
  expect_bad_cursor(user, "status=paid", good);
  expect_bad_cursor(user, "q=kettle", good);
  expect_bad_cursor(user, "from=2020-01-01", good);
  char filtered[256];
  first_cursor(user, "currency=GBP", filtered, sizeof(filtered));
  expect_bad_cursor(user, "currency=EUR", filtered);
  expect_bad_cursor(user, "", filtered);
}
END_TEST

/* The page two a cursor leads to, and its prevCursor into out. */
static void second_page_prev(const char *query, char *out, size_t len) {
  struct http_response r;
  char next[256];
  char path[512];
  first_cursor(user, query, next, sizeof(next));
  snprintf(path, sizeof(path), "/user/%s?limit=2%s%s&cursor=%s", user, query[0] ? "&" : "", query,
           next);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  const char *prev =
      json_string_value(json_object_get(json_object_get(r.j_body, "page"), "prevCursor"));
  ck_assert_ptr_nonnull(prev);
  ck_assert_str_ne(prev, next);
  snprintf(out, len, "%s", prev);
  http_response_cleanup(&r);
}

/* A previous page's cursor is signed and bound as a next one is. */
START_TEST(previous_cursors_are_bound_like_next_ones) {
  char prev[256];
  char bad[300];
  struct http_response r;
  char path[512];

  second_page_prev("currency=GBP", prev, sizeof(prev));
  /* Back from page two is page one: the first two GBP purchases, and no
   * way further back. */
  snprintf(path, sizeof(path), "/user/%s?limit=2&currency=GBP&cursor=%s", user, prev);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 2);
  ck_assert(json_is_null(json_object_get(json_object_get(r.j_body, "page"), "prevCursor")));
  http_response_cleanup(&r);
  /* Another limit may be chosen on the way back, as on the way forward:
   * one page of one, just before page two. */
  snprintf(path, sizeof(path), "/user/%s?limit=1&currency=GBP&cursor=%s", user, prev);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.j_body, "data")), 1);
  ck_assert(json_is_string(json_object_get(json_object_get(r.j_body, "page"), "prevCursor")));
  http_response_cleanup(&r);

  expect_bad_cursor(user, "currency=EUR", prev);
  expect_bad_cursor(user, "", prev);
  expect_bad_cursor(other, "currency=GBP", prev);
  expect_bad_cursor(user, "currency=GBP&sort=pricePence", prev);
  for (size_t i = 0; i < strlen(prev); i++) {
    snprintf(bad, sizeof(bad), "%s", prev);
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    expect_bad_cursor(user, "currency=GBP", bad);
  }
}
END_TEST

static void expect_param_error(const char *query, const char *param) {
  struct http_response r;
  char path[1400];
  snprintf(path, sizeof(path), "/user/%s?%s", user, query);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_msg(r.status == 400, "?%s answered %ld", query, r.status);
  const char *detail = json_string_value(json_object_get(r.j_body, "detail"));
  ck_assert_ptr_nonnull(detail);
  ck_assert_msg(strstr(detail, param) != NULL, "?%s: detail '%s' does not name '%s'", query, detail,
                param);
  /* A program reads the parameter from errors, not from the sentence. */
  assert_invalid_about(&r, "query", param);
  http_response_cleanup(&r);
}

START_TEST(bad_parameters_are_400_naming_the_parameter) {
  expect_param_error("colour=blue", "colour");
  expect_param_error("limit=5&limit=6", "limit");
  expect_param_error("limit=", "limit");
  expect_param_error("limit", "limit");
  expect_param_error("limit=0", "limit");
  expect_param_error("limit=101", "limit");
  expect_param_error("limit=-1", "limit");
  expect_param_error("limit=1e1", "limit");
  expect_param_error("limit=%2010", "limit");
  expect_param_error("sort=price", "sort");
  expect_param_error("sort=-id", "sort");
  expect_param_error("status=lost", "status");
  expect_param_error("status=paid,,shipped", "status");
  expect_param_error("status=paid,", "status");
  expect_param_error("status=PAID", "status");
  expect_param_error("from=2024-02-30", "from");
  expect_param_error("from=2023-02-29", "from");
  expect_param_error("to=2024-13-01", "to");
  expect_param_error("to=2024-01-01T24:00:00Z", "to");
  expect_param_error("to=2024-01-01T10:00:00", "to");
  expect_param_error("from=yesterday", "from");
  expect_param_error("from=2024-01-01T10:00:00+01:00", "from"); /* '+' decodes to a space */
  expect_param_error("from=2024-03-01&to=2024-02-01", "from");
  expect_param_error("minPricePence=ten", "minPricePence");
  expect_param_error("minPricePence=-5", "minPricePence");
  expect_param_error("maxPricePence=1.5", "maxPricePence");
  expect_param_error("minPricePence=500&maxPricePence=100", "minPricePence");
  expect_param_error("currency=gbp", "currency");
  expect_param_error("currency=POUND", "currency");
  expect_param_error("fields=id,secret", "fields");
  expect_param_error("fields=_id", "fields");
  expect_param_error("withTotal=yes", "withTotal");
  expect_param_error("cursor=", "cursor");
  expect_param_error("q=%01", "q");
  expect_param_error("q=%FF", "q");
  expect_param_error("userId=someone-else", "userId");
  char long_q[1300] = "q=";
  memset(long_q + 2, 'a', 1200);
  long_q[1202] = '\0';
  expect_param_error(long_q, "q");

  /* A query string wrong as a whole names no parameter, but says where. */
  struct http_response r;
  char path[128];
  snprintf(path, sizeof(path), "/user/%s?&limit=2", user);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_int_eq(r.status, 400);
  json_t *j_entry = json_array_get(json_object_get(r.j_body, "errors"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(j_entry, "in")), "query");
  ck_assert_ptr_null(json_object_get(j_entry, "parameter"));
  http_response_cleanup(&r);
  /* A path parameter says so. */
  ck_assert(http_get_as(server.port, "/user/not.an.id", "customer-support", "agent", &r));
  assert_invalid_about(&r, "path", "userId");
  http_response_cleanup(&r);
}
END_TEST

/* from=2024-02-29 is midnight UTC of a leap day; to=...-05:00 is
 * 2024-03-01T04:59:59.999Z, exclusive. Purchases on each side of both
 * bounds, one millisecond apart, so that a leap day read as March 1st, an
 * offset ignored or its sign turned round each changes the answer. */
START_TEST(leap_day_and_offsets_bound_the_range_exactly) {
  static const struct {
    const char *id;
    int64_t date_ms;
    bool inside;
  } AT[] = {
      {"before-from", 1709164799999LL, false}, /* 2024-02-28T23:59:59.999Z */
      {"at-from", 1709164800000LL, true},      /* 2024-02-29T00:00:00.000Z */
      {"night", 1709262000000LL, true},        /* 2024-03-01T03:00:00.000Z */
      {"before-to", 1709269199998LL, true},    /* 2024-03-01T04:59:59.998Z */
      {"at-to", 1709269199999LL, false},       /* 2024-03-01T04:59:59.999Z */
  };
  char owner[48];
  char path[256];
  struct http_response r;
  size_t inside = 0;

  snprintf(owner, sizeof(owner), "leap%d", (int)getpid());
  for (size_t i = 0; i < sizeof(AT) / sizeof(AT[0]); i++) {
    struct spec s = spec_of(0);
    snprintf(s.id, sizeof(s.id), "%s", AT[i].id);
    s.date_ms = AT[i].date_ms;
    insert_spec(owner, &s);
  }
  snprintf(path, sizeof(path),
           "/user/%s?from=2024-02-29&to=2024-02-29T23:59:59.999-05:00&sort=datePurchased", owner);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &r));
  ck_assert_int_eq(r.status, 200);
  json_t *j_data = json_object_get(r.j_body, "data");
  for (size_t i = 0; i < sizeof(AT) / sizeof(AT[0]); i++) {
    char id[96];
    if (!AT[i].inside) {
      continue;
    }
    snprintf(id, sizeof(id), "%s-%s", owner, AT[i].id);
    ck_assert_msg(inside < json_array_size(j_data), "%s missing from %s", id, r.body);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(j_data, inside), "id")), id);
    inside++;
  }
  ck_assert_uint_eq(json_array_size(j_data), inside);
  http_response_cleanup(&r);
}
END_TEST

START_TEST(one_purchase_is_found_only_under_its_owner) {
  struct http_response r;
  char path[256];
  snprintf(path, sizeof(path), "/user/%s/purchases/%s-q007", user, user);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_int_eq(r.status, 200);
  char id[64];
  snprintf(id, sizeof(id), "%s-q007", user);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "id")), id);
  ck_assert_str_eq(json_string_value(json_object_get(r.j_body, "status")), "paid");
  ck_assert_ptr_null(json_object_get(r.j_body, "_id"));
  http_response_cleanup(&r);

  /* Another user's purchase under this user: the same 404 as no purchase. */
  struct http_response foreign;
  struct http_response missing;
  snprintf(path, sizeof(path), "/user/%s/purchases/%s-q003", user, other);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &foreign));
  snprintf(path, sizeof(path), "/user/%s/purchases/%s-q999", user, user);
  ck_assert(http_get_as(server.port, path, "customer-support", "agent", &missing));
  ck_assert_int_eq(foreign.status, 404);
  ck_assert_int_eq(missing.status, 404);
  ck_assert_str_eq(json_string_value(json_object_get(foreign.j_body, "detail")),
                   json_string_value(json_object_get(missing.j_body, "detail")));
  http_response_cleanup(&foreign);
  http_response_cleanup(&missing);

  /* The list's authorization: a customer may not look under another user. */
  snprintf(path, sizeof(path), "/user/%s/purchases/%s-q003", other, other);
  ck_assert(http_get_as(server.port, path, "shop", user, &r));
  ck_assert_int_eq(r.status, 403);
  http_response_cleanup(&r);
  ck_assert(http_get_as(server.port, path, "shop", NULL, &r));
  ck_assert_int_eq(r.status, 401);
  http_response_cleanup(&r);

  /* Malformed ids and any query parameter are 400. */
  const char *bad[] = {"/purchases/%7B%22%24ne%22%3Anull%7D", "/purchases/a%2Fb",
                       "/purchases/q001?fields=id", "/purchases/q001?purchaseId=q002"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(path, sizeof(path), "/user/%s%s", user, bad[i]);
    ck_assert(http_get_as(server.port, path, "shop", user, &r));
    ck_assert_msg(r.status == 400, "%s answered %ld", path, r.status);
    http_response_cleanup(&r);
  }
  /* Other methods are 405 with Allow. */
  snprintf(path, sizeof(path), "/user/%s/purchases/%s-q007", user, user);
  const char *headers[] = {"x-client-id: shop", NULL};
  ck_assert(http_request(server.port, "DELETE", path, headers, &r));
  ck_assert_int_eq(r.status, 405);
  char allow[32];
  ck_assert_str_eq(http_header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD, PATCH");
  http_response_cleanup(&r);
}
END_TEST

Suite *suite_query(void) {
  Suite *suite = suite_create("query");
  TCase *tc = tcase_create("filters_sorts_cursors");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, every_sort_walks_every_purchase_once_in_order);
  tcase_add_test(tc, filters_select_exactly_the_matching_purchases);
  tcase_add_test(tc, text_search_is_literal_and_case_insensitive);
  tcase_add_test(tc, links_escape_what_a_uri_may_not_hold_raw);
  tcase_add_test(tc, fields_trim_each_purchase_but_keep_id);
  tcase_add_test(tc, with_total_counts_every_page);
  tcase_add_test(tc, walk_under_concurrent_inserts_sees_each_purchase_once);
  tcase_add_test(tc, tampered_or_foreign_cursors_are_400);
  tcase_add_test(tc, previous_cursors_are_bound_like_next_ones);
  tcase_add_test(tc, bad_parameters_are_400_naming_the_parameter);
  tcase_add_test(tc, leap_day_and_offsets_bound_the_range_exactly);
  tcase_add_test(tc, one_purchase_is_found_only_under_its_owner);
  suite_add_tcase(suite, tc);
  return suite;
}
