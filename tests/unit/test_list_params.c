#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "middleware/query.h"
#include "models/purchase_query.h"
#include "routes/cursor.h"
#include "routes/list_params.h"
#include "suites.h"

/* Milliseconds since the epoch, each checked with `date -u -d ... +%s`. */
#define MS_2024_02_29        1709164800000LL   /* 2024-02-29 */
#define MS_2024_03_01        1709251200000LL   /* 2024-03-01 */
#define MS_2024_03_02        1709337600000LL   /* 2024-03-02 */
#define MS_2024_03_01_0930   1709285400000LL   /* 2024-03-01T09:30:00Z */
#define MS_2024_03_01_0930P1 1709281800000LL   /* 2024-03-01T09:30:00+01:00 */
#define MS_2024_03_01_0930M5 1709305200000LL   /* 2024-03-01T09:30:00-05:30 */
#define MS_2024_02_29_LAST   1709251199000LL   /* 2024-02-29T23:59:59Z */
#define MS_2000_02_29        951782400000LL    /* 2000-02-29 */
#define MS_1900_03_01        -2203891200000LL  /* 1900-03-01 */
#define MS_1969_07_20_2017   -14182940000LL    /* 1969-07-20T20:17:40Z */
#define MS_0001_01_01        -62135596800000LL /* 0001-01-01 */
#define MS_9999_12_31_LAST   253402300799000LL /* 9999-12-31T23:59:59Z */
#define MS_2024_01_01_0030P1 1704065400000LL   /* 2024-01-01T00:30:00+01:00 */
#define MS_2024_12_31_2300M1 1735689600000LL   /* 2024-12-31T23:00:00-01:00 */

/* --- parse_timestamp --------------------------------------------------- */

/* Asserts that `text` parses to exactly `expected`. */
static void assert_timestamp(const char *text, int64_t expected) {
  int64_t ms = 42;
  ck_assert_msg(parse_timestamp(text, &ms), "refused %s", text);
  ck_assert_msg(ms == expected, "%s gave %lld, not %lld", text, (long long)ms, (long long)expected);
}

static void assert_timestamp_refused(const char *text) {
  int64_t ms = 0;
  ck_assert_msg(!parse_timestamp(text, &ms), "accepted %s as %lld", text, (long long)ms);
}

START_TEST(timestamp_date_is_midnight_utc) {
  assert_timestamp("1970-01-01", 0);
  assert_timestamp("2024-02-29", MS_2024_02_29);
  assert_timestamp("2024-03-01", MS_2024_03_01);
  assert_timestamp("2000-02-29", MS_2000_02_29);
  assert_timestamp("1900-03-01", MS_1900_03_01);
}
END_TEST

START_TEST(timestamp_date_range_edges) {
  assert_timestamp("0001-01-01", MS_0001_01_01);
  assert_timestamp("9999-12-31T23:59:59Z", MS_9999_12_31_LAST);
}
END_TEST

START_TEST(timestamp_date_time_in_utc) {
  assert_timestamp("2024-03-01T09:30:00Z", MS_2024_03_01_0930);
  assert_timestamp("2024-02-29T23:59:59Z", MS_2024_02_29_LAST);
  assert_timestamp("1969-12-31T23:59:59Z", -1000);
  assert_timestamp("1969-07-20T20:17:40Z", MS_1969_07_20_2017);
}
END_TEST

START_TEST(timestamp_accepts_lowercase_t_and_z) {
  assert_timestamp("2024-03-01t09:30:00z", MS_2024_03_01_0930);
  assert_timestamp("2024-03-01T09:30:00z", MS_2024_03_01_0930);
  assert_timestamp("2024-03-01t09:30:00Z", MS_2024_03_01_0930);
}
END_TEST

START_TEST(timestamp_seconds_are_optional) {
  assert_timestamp("2024-03-01T09:30Z", MS_2024_03_01_0930);
  assert_timestamp("2024-03-01T09:30+01:00", MS_2024_03_01_0930P1);
}
END_TEST

START_TEST(timestamp_converts_offsets) {
  assert_timestamp("2024-03-01T09:30:00+01:00", MS_2024_03_01_0930P1);
  assert_timestamp("2024-03-01T09:30:00-05:30", MS_2024_03_01_0930M5);
  assert_timestamp("2024-03-01T09:30:00+00:00", MS_2024_03_01_0930);
  assert_timestamp("2024-03-01T09:30:00-00:00", MS_2024_03_01_0930);
}
END_TEST

START_TEST(timestamp_offsets_cross_days_and_years) {
  assert_timestamp("2024-01-01T00:30:00+01:00", MS_2024_01_01_0030P1);
  assert_timestamp("2024-12-31T23:00:00-01:00", MS_2024_12_31_2300M1);
  assert_timestamp("1970-01-01T00:00:00+23:59", -(23 * 60 + 59) * 60 * 1000LL);
}
END_TEST

START_TEST(timestamp_keeps_milliseconds_of_a_fraction) {
  assert_timestamp("2024-03-01T09:30:00.5Z", MS_2024_03_01_0930 + 500);
  assert_timestamp("2024-03-01T09:30:00.25Z", MS_2024_03_01_0930 + 250);
  assert_timestamp("2024-03-01T09:30:00.007Z", MS_2024_03_01_0930 + 7);
  assert_timestamp("2024-03-01T09:30:00.999Z", MS_2024_03_01_0930 + 999);
  assert_timestamp("2024-03-01T09:30:00.250+01:00", MS_2024_03_01_0930P1 + 250);
}
END_TEST

START_TEST(timestamp_truncates_below_a_millisecond) {
  assert_timestamp("2024-03-01T09:30:00.123456789Z", MS_2024_03_01_0930 + 123);
  assert_timestamp("2024-03-01T09:30:00.9999Z", MS_2024_03_01_0930 + 999);
  assert_timestamp("2024-03-01T09:30:00.0009Z", MS_2024_03_01_0930);
}
END_TEST

START_TEST(timestamp_fraction_before_1970) {
  /* 1969-12-31T23:59:59.5Z is half a second before the epoch. */
  assert_timestamp("1969-12-31T23:59:59.5Z", -500);
}
END_TEST

START_TEST(timestamp_refuses_impossible_dates) {
  assert_timestamp_refused("2023-02-29");
  assert_timestamp_refused("1900-02-29");
  assert_timestamp_refused("2024-02-30");
  assert_timestamp_refused("2024-04-31");
  assert_timestamp_refused("2024-06-31");
  assert_timestamp_refused("2024-09-31");
  assert_timestamp_refused("2024-11-31");
  assert_timestamp_refused("2024-01-32");
  assert_timestamp_refused("2024-13-01");
  assert_timestamp_refused("2024-00-10");
  assert_timestamp_refused("2024-01-00");
}
END_TEST

START_TEST(timestamp_refuses_impossible_times) {
  assert_timestamp_refused("2024-03-01T24:00:00Z");
  assert_timestamp_refused("2024-03-01T23:60:00Z");
  assert_timestamp_refused("2024-03-01T23:59:60Z");
  assert_timestamp_refused("2024-03-01T24:00Z");
}
END_TEST

START_TEST(timestamp_refuses_a_time_without_zone) {
  assert_timestamp_refused("2024-03-01T09:30:00");
  assert_timestamp_refused("2024-03-01T09:30");
  assert_timestamp_refused("2024-03-01T09:30:00.5");
}
END_TEST

START_TEST(timestamp_refuses_trailing_garbage) {
  assert_timestamp_refused("2024-03-01x");
  assert_timestamp_refused("2024-03-01 ");
  assert_timestamp_refused("2024-03-01Z");
  assert_timestamp_refused("2024-03-01T09:30:00Zx");
  assert_timestamp_refused("2024-03-01T09:30:00ZZ");
  assert_timestamp_refused("2024-03-01T09:30:00+01:00x");
  assert_timestamp_refused("2024-03-01T");
}
END_TEST

START_TEST(timestamp_refuses_malformed_forms) {
  assert_timestamp_refused("");
  assert_timestamp_refused("24-03-01");
  assert_timestamp_refused("2024");
  assert_timestamp_refused("2024-3-01");
  assert_timestamp_refused("2024-03-1");
  assert_timestamp_refused("2024/03/01");
  assert_timestamp_refused("20240301");
  assert_timestamp_refused("+2024-03-01");
  assert_timestamp_refused("12024-03-01");
  assert_timestamp_refused("2024-03-01 09:30:00Z");
  assert_timestamp_refused("2024-03-01T9:30:00Z");
  assert_timestamp_refused("2024-03-01T09:3Z");
  assert_timestamp_refused("2024-03-01T09:30:0Z");
  assert_timestamp_refused("2024-03-01T0930Z");
  assert_timestamp_refused("2024-03-01T09:30:00.Z");
  assert_timestamp_refused("2024-03-01T09:30:00+0100");
  assert_timestamp_refused("2024-03-01T09:30:00+01");
  assert_timestamp_refused("2024-03-01T09:30:00 01:00");
}
END_TEST

START_TEST(timestamp_refuses_year_zero) {
  assert_timestamp_refused("0000-01-01");
  assert_timestamp_refused("0000-12-31T23:59:59Z");
}
END_TEST

START_TEST(timestamp_refuses_a_ten_digit_fraction) {
  assert_timestamp("2024-03-01T09:30:00.123456789Z", MS_2024_03_01_0930 + 123);
  assert_timestamp_refused("2024-03-01T09:30:00.1234567890Z");
}
END_TEST

START_TEST(timestamp_refuses_impossible_offsets) {
  assert_timestamp_refused("2024-03-01T09:30:00+24:00");
  assert_timestamp_refused("2024-03-01T09:30:00-24:00");
  assert_timestamp_refused("2024-03-01T09:30:00+01:60");
}
END_TEST

/* --- list_params_read -------------------------------------------------- */

static struct query_params params;
static struct purchase_query query;
static const char *cursor;
static struct query_error error;

/* Parses `raw` (which must be a valid query string) and reads it into the
 * zeroed `query`. */
static bool read_list(const char *raw) {
  struct query_error parse_error;
  ck_assert_msg(query_params_parse(raw, &params, &parse_error), "%s: %s", raw, parse_error.detail);
  memset(&query, 0, sizeof(query));
  cursor = (const char *)&query; /* anything but NULL */
  memset(&error, 0, sizeof(error));
  return list_params_read(&params, &query, &cursor, &error);
}

/* Asserts that `raw` is refused as being about parameter `name`. */
static void read_refused_about(const char *raw, const char *name) {
  ck_assert_msg(!read_list(raw), "accepted %s", raw);
  ck_assert_msg(strcmp(error.name, name) == 0, "%s: about '%s', not '%s'", raw, error.name, name);
}

START_TEST(list_names_the_parameter_refused) {
  read_refused_about("colour=blue", "colour");
  read_refused_about("limit=0", "limit");
  read_refused_about("sort=price", "sort");
  read_refused_about("status=lost", "status");
  read_refused_about("to=2024-13-01", "to");
  read_refused_about("fields=secret", "fields");
  /* A range upside down is about its lower bound, as the sentence says. */
  read_refused_about("from=2024-03-01&to=2024-02-01", "from");
  ck_assert_str_eq(error.detail, "Query parameter 'from' must not be after 'to'.");
  read_refused_about("minPricePence=500&maxPricePence=100", "minPricePence");
  ck_assert_str_eq(error.detail,
                   "Query parameter 'minPricePence' must not be above 'maxPricePence'.");
}
END_TEST

static void read_ok(const char *raw) {
  ck_assert_msg(read_list(raw), "refused %s: %s", raw, error.detail);
}

/* Asserts that `raw` is refused with a reason that holds `fragment`. */
static void read_refused(const char *raw, const char *fragment) {
  ck_assert_msg(!read_list(raw), "accepted %s", raw);
  ck_assert_msg(strstr(error.detail, fragment) != NULL, "reason for %s lacks %s: %s", raw, fragment,
                error.detail);
}

START_TEST(list_defaults) {
  read_ok(NULL);
  ck_assert_uint_eq(query.limit, 20);
  ck_assert_int_eq(query.sort, PURCHASE_SORT_DATE_DESC);
  ck_assert_ptr_null(cursor);
  ck_assert_uint_eq(query.statuses, 0);
  ck_assert(!query.has_from);
  ck_assert(!query.has_to);
  ck_assert(!query.has_min_price);
  ck_assert(!query.has_max_price);
  ck_assert_str_eq(query.currency, "");
  ck_assert_str_eq(query.text, "");
  ck_assert_uint_eq(query.fields, 0);
  ck_assert(!query.with_total);
  ck_assert(!query.has_after);
}
END_TEST

START_TEST(list_limit) {
  read_ok("limit=1");
  ck_assert_uint_eq(query.limit, 1);
  read_ok("limit=100");
  ck_assert_uint_eq(query.limit, 100);
  read_ok("limit=37");
  ck_assert_uint_eq(query.limit, 37);
}
END_TEST

START_TEST(list_limit_refused) {
  read_refused("limit=0", "'limit'");
  read_refused("limit=101", "'limit'");
  read_refused("limit=-1", "'limit'");
  read_refused("limit=1.5", "'limit'");
  read_refused("limit=ten", "'limit'");
  read_refused("limit=+5", "'limit'"); /* "+" decodes to a space */
  read_refused("limit=%2B5", "'limit'");
  read_refused("limit=5x", "'limit'");
  read_refused("limit=99999999999999999999", "'limit'");
}
END_TEST

START_TEST(list_sort) {
  read_ok("sort=-datePurchased");
  ck_assert_int_eq(query.sort, PURCHASE_SORT_DATE_DESC);
  read_ok("sort=datePurchased");
  ck_assert_int_eq(query.sort, PURCHASE_SORT_DATE_ASC);
  read_ok("sort=-pricePence");
  ck_assert_int_eq(query.sort, PURCHASE_SORT_PRICE_DESC);
  read_ok("sort=pricePence");
  ck_assert_int_eq(query.sort, PURCHASE_SORT_PRICE_ASC);
}
END_TEST

START_TEST(list_sort_refused) {
  read_refused("sort=date", "'sort'");
  read_refused("sort=-pricepence", "'sort'");
  read_refused("sort=%2BdatePurchased", "'sort'");
  read_refused("sort=datePurchased,id", "'sort'");
  read_refused("sort=--datePurchased", "'sort'");
}
END_TEST

START_TEST(list_status) {
  read_ok("status=placed");
  ck_assert_uint_eq(query.statuses, 1u << 0);
  read_ok("status=paid");
  ck_assert_uint_eq(query.statuses, 1u << 1);
  read_ok("status=placed,refunded");
  ck_assert_uint_eq(query.statuses, (1u << 0) | (1u << 5));
  read_ok("status=refunded,cancelled,delivered,shipped,paid,placed");
  ck_assert_uint_eq(query.statuses, 0x3f);
  read_ok("status=paid,paid");
  ck_assert_uint_eq(query.statuses, 1u << 1);
}
END_TEST

START_TEST(list_status_refused) {
  read_refused("status=lost", "'status'");
  read_refused("status=paid,lost", "'lost'");
  read_refused("status=Paid", "'Paid'");
  read_refused("status=paid,,shipped", "'status'");
  read_refused("status=paid,", "'status'");
  read_refused("status=,paid", "'status'");
  read_refused("status=%2C", "'status'");
}
END_TEST

START_TEST(list_from_and_to) {
  read_ok("from=2024-03-01&to=2024-03-02");
  ck_assert(query.has_from);
  ck_assert(query.has_to);
  ck_assert_int_eq(query.from_ms, MS_2024_03_01);
  ck_assert_int_eq(query.to_ms, MS_2024_03_02);
}
END_TEST

START_TEST(list_from_alone_and_to_alone) {
  read_ok("from=2024-03-01T09:30:00Z");
  ck_assert(query.has_from);
  ck_assert(!query.has_to);
  ck_assert_int_eq(query.from_ms, MS_2024_03_01_0930);
  read_ok("to=2024-02-29");
  ck_assert(!query.has_from);
  ck_assert(query.has_to);
  ck_assert_int_eq(query.to_ms, MS_2024_02_29);
}
END_TEST

START_TEST(list_from_with_an_encoded_plus_offset) {
  read_ok("from=2024-03-01T09:30:00%2B01:00");
  ck_assert_int_eq(query.from_ms, MS_2024_03_01_0930P1);
}
END_TEST

START_TEST(list_from_with_an_unencoded_plus_refused) {
  /* '+' decodes to a space, so the zone is lost. */
  read_refused("from=2024-03-01T09:30:00+01:00", "'from'");
}
END_TEST

START_TEST(list_from_and_to_refused) {
  read_refused("from=2024-02-30", "'from'");
  read_refused("from=yesterday", "'from'");
  read_refused("to=2024-13-01", "'to'");
  read_refused("to=2024-03-01T09:30:00", "'to'");
}
END_TEST

START_TEST(list_from_after_to_refused) {
  read_refused("from=2024-03-02&to=2024-03-01", "'from'");
  read_refused("from=2024-03-01T00:00:00.001Z&to=2024-03-01", "'from'");
}
END_TEST

START_TEST(list_from_equal_to_accepted) {
  read_ok("from=2024-03-01&to=2024-03-01T00:00:00Z");
  ck_assert_int_eq(query.from_ms, MS_2024_03_01);
  ck_assert_int_eq(query.to_ms, MS_2024_03_01);
}
END_TEST

START_TEST(list_prices) {
  read_ok("minPricePence=0&maxPricePence=999999999999999");
  ck_assert(query.has_min_price);
  ck_assert(query.has_max_price);
  ck_assert_int_eq(query.min_price_pence, 0);
  ck_assert_int_eq(query.max_price_pence, 999999999999999LL);
  read_ok("minPricePence=1999");
  ck_assert(query.has_min_price);
  ck_assert(!query.has_max_price);
  ck_assert_int_eq(query.min_price_pence, 1999);
  read_ok("maxPricePence=500");
  ck_assert(!query.has_min_price);
  ck_assert(query.has_max_price);
  ck_assert_int_eq(query.max_price_pence, 500);
}
END_TEST

START_TEST(list_prices_equal_accepted) {
  read_ok("minPricePence=500&maxPricePence=500");
  ck_assert_int_eq(query.min_price_pence, 500);
  ck_assert_int_eq(query.max_price_pence, 500);
}
END_TEST

START_TEST(list_prices_refused) {
  read_refused("minPricePence=-1", "'minPricePence'");
  read_refused("minPricePence=1.50", "'minPricePence'");
  read_refused("minPricePence=1e3", "'minPricePence'");
  read_refused("minPricePence=1000000000000000", "'minPricePence'");
  read_refused("maxPricePence=abc", "'maxPricePence'");
  read_refused("maxPricePence=1000000000000000", "'maxPricePence'");
  read_refused("maxPricePence=+5", "'maxPricePence'");
}
END_TEST

START_TEST(list_min_above_max_refused) {
  read_refused("minPricePence=501&maxPricePence=500", "'minPricePence'");
}
END_TEST

START_TEST(list_currency) {
  read_ok("currency=GBP");
  ck_assert_str_eq(query.currency, "GBP");
  read_ok("currency=EUR");
  ck_assert_str_eq(query.currency, "EUR");
}
END_TEST

START_TEST(list_currency_refused) {
  read_refused("currency=gbp", "'currency'");
  read_refused("currency=GB", "'currency'");
  read_refused("currency=GBPX", "'currency'");
  read_refused("currency=G1P", "'currency'");
  read_refused("currency=G%C3%89P", "'currency'");
}
END_TEST

START_TEST(list_text) {
  read_ok("q=blue+kettle%2E");
  ck_assert_str_eq(query.text, "blue kettle.");
}
END_TEST

START_TEST(list_text_length) {
  char raw[PURCHASE_TEXT_MAX + 8];
  memset(raw, 'k', sizeof(raw));
  memcpy(raw, "q=", 2);
  raw[2 + PURCHASE_TEXT_MAX] = '\0';
  read_ok(raw);
  ck_assert_uint_eq(strlen(query.text), PURCHASE_TEXT_MAX);
  raw[2 + PURCHASE_TEXT_MAX] = 'k';
  raw[3 + PURCHASE_TEXT_MAX] = '\0';
  read_refused(raw, "'q'");
}
END_TEST

START_TEST(list_fields) {
  read_ok("fields=id,pricePence");
  ck_assert_uint_eq(query.fields, (1u << 0) | (1u << 4));
  read_ok("fields=status,delivery");
  ck_assert_uint_eq(query.fields, (1u << 2) | (1u << 8));
  read_ok("fields=id,userId,status,items,pricePence,currency,datePurchased,payment,delivery");
  ck_assert_uint_eq(query.fields, 0x1ff);
}
END_TEST

START_TEST(list_fields_refused) {
  read_refused("fields=price", "'fields'");
  read_refused("fields=id,price", "'price'");
  read_refused("fields=id,,status", "'fields'");
  read_refused("fields=id,", "'fields'");
  read_refused("fields=_id", "'fields'");
  read_refused("fields=items.title", "'fields'");
}
END_TEST

START_TEST(list_with_total) {
  read_ok("withTotal=true");
  ck_assert(query.with_total);
  read_ok("withTotal=false");
  ck_assert(!query.with_total);
}
END_TEST

START_TEST(list_with_total_refused) {
  read_refused("withTotal=1", "'withTotal'");
  read_refused("withTotal=TRUE", "'withTotal'");
  read_refused("withTotal=yes", "'withTotal'");
}
END_TEST

START_TEST(list_cursor_points_into_the_parameters) {
  read_ok("limit=5&cursor=AbC-_9");
  ck_assert_ptr_eq(cursor, params.params[1].value);
  ck_assert_str_eq(cursor, "AbC-_9");
}
END_TEST

START_TEST(list_unknown_parameter_refused) {
  read_refused("page=2", "'page'");
  read_refused("limit=5&Limit=5", "'Limit'");
  read_refused("limit=5&offset=10", "'offset'");
}
END_TEST

START_TEST(list_every_parameter_at_once) {
  read_ok("limit=50&sort=pricePence&status=paid,shipped&from=2024-02-29&to=2024-03-01&"
          "minPricePence=100&maxPricePence=5000&currency=USD&q=mug&fields=items&"
          "cursor=xyz&withTotal=true");
  ck_assert_uint_eq(query.limit, 50);
  ck_assert_int_eq(query.sort, PURCHASE_SORT_PRICE_ASC);
  ck_assert_uint_eq(query.statuses, (1u << 1) | (1u << 2));
  ck_assert(query.has_from);
  ck_assert_int_eq(query.from_ms, MS_2024_02_29);
  ck_assert(query.has_to);
  ck_assert_int_eq(query.to_ms, MS_2024_03_01);
  ck_assert(query.has_min_price);
  ck_assert_int_eq(query.min_price_pence, 100);
  ck_assert(query.has_max_price);
  ck_assert_int_eq(query.max_price_pence, 5000);
  ck_assert_str_eq(query.currency, "USD");
  ck_assert_str_eq(query.text, "mug");
  ck_assert_uint_eq(query.fields, 1u << 3);
  ck_assert(query.with_total);
  ck_assert_str_eq(cursor, "xyz");
}
END_TEST

START_TEST(list_unknown_parameter_message_lists_every_row) {
  read_refused("page=2", "");
  ck_assert_str_eq(error.detail,
                   "Unknown query parameter 'page'. Known: limit, sort, status, from, to, "
                   "minPricePence, maxPricePence, currency, q, fields, cursor, withTotal.");
}
END_TEST

/* --- the table ----------------------------------------------------------- */

#define SECRET "0123456789abcdef0123456789abcdef"

/* The query list_params_read() makes of no parameters, for alice. */
static struct purchase_query default_query(void) {
  struct purchase_query q;
  struct query_params none;
  const char *c = NULL;
  struct query_error e;
  memset(&q, 0, sizeof(q));
  ck_assert(query_params_parse(NULL, &none, &e));
  ck_assert(list_params_read(&none, &q, &c, &e));
  snprintf(q.user_id, sizeof(q.user_id), "alice");
  return q;
}

/* Reads "<row name>=<row example>" into `query`, for alice. */
static void read_example(const struct list_param *row) {
  char raw[256];
  snprintf(raw, sizeof(raw), "%s=%s", row->name, row->example);
  read_ok(raw);
  snprintf(query.user_id, sizeof(query.user_id), "alice");
}

/* True when the fingerprints of a and b are the same bytes. */
static bool same_fingerprint(const struct purchase_query *a, const struct purchase_query *b) {
  unsigned char fa[CURSOR_CONTEXT_MAX];
  unsigned char fb[CURSOR_CONTEXT_MAX];
  size_t la = cursor_fingerprint(a, fa, sizeof(fa));
  size_t lb = cursor_fingerprint(b, fb, sizeof(fb));
  ck_assert_uint_gt(la, 0);
  ck_assert_uint_gt(lb, 0);
  return la == lb && memcmp(fa, fb, la) == 0;
}

/* True when the filter documents of a and b are the same. */
static bool same_filter(const struct purchase_query *a, const struct purchase_query *b) {
  bson_t fa = BSON_INITIALIZER;
  bson_t fb = BSON_INITIALIZER;
  bool same;
  purchase_query_filter(a, true, &fa);
  purchase_query_filter(b, true, &fb);
  same = bson_equal(&fa, &fb);
  bson_destroy(&fa);
  bson_destroy(&fb);
  return same;
}

/* True when a cursor made under `made` is read under `read`. */
static bool cursor_carries_over(const struct purchase_query *made,
                                const struct purchase_query *read) {
  struct cursor_key key;
  struct purchase_position at = {1709285400123LL, "p1"};
  struct purchase_position back;
  char token[CURSOR_MAX + 1];
  ck_assert(cursor_key_init(&key, SECRET));
  ck_assert(cursor_encode(&key, made, false, &at, token));
  return cursor_decode(&key, read, token, &back, &(bool){false});
}

START_TEST(table_rows_are_complete_and_unique) {
  const struct list_param *row;
  size_t i;
  for (i = 0; (row = list_params_at(i)) != NULL; i++) {
    ck_assert_ptr_nonnull(row->name);
    ck_assert_ptr_nonnull(row->parse);
    ck_assert_msg(row->example != NULL && row->example[0] != '\0', "%s: no example", row->name);
    ck_assert_msg(row->description != NULL && row->description[0] != '\0', "%s: no description",
                  row->name);
    ck_assert_ptr_eq(list_params_find(row->name), row);
    ck_assert_str_eq(list_params_name(i), row->name);
    /* A filter must bind the cursor by fingerprint, and only such a row
     * has a bind function. */
    ck_assert_msg(row->filter == PURCHASE_FILTER_NONE || row->binding == LIST_BIND_FINGERPRINT,
                  "%s filters but does not bind the cursor", row->name);
    ck_assert_msg((row->binding == LIST_BIND_FINGERPRINT) == (row->bind != NULL),
                  "%s: binding and bind disagree", row->name);
  }
  ck_assert_uint_eq(i, 12);
  ck_assert_ptr_null(list_params_name(i));
  ck_assert_ptr_null(list_params_find("Limit"));
  ck_assert_ptr_null(list_params_find(""));
}
END_TEST

START_TEST(table_every_example_is_accepted) {
  const struct list_param *row;
  for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
    read_example(row);
  }
}
END_TEST

/* The heart of it: a filter whose fingerprint line is forgotten fails here,
 * whoever adds it. */
START_TEST(table_every_filtering_parameter_changes_the_fingerprint) {
  struct purchase_query plain = default_query();
  const struct list_param *row;
  int filtering = 0;
  for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
    if (row->filter == PURCHASE_FILTER_NONE) {
      continue;
    }
    filtering++;
    read_example(row);
    ck_assert_msg(purchase_filter_active(&query, row->filter), "%s=%s sets no clause", row->name,
                  row->example);
    ck_assert_msg(!purchase_filter_active(&plain, row->filter), "%s: clause on by default",
                  row->name);
    ck_assert_msg(!same_filter(&plain, &query), "%s=%s leaves the filter as it was", row->name,
                  row->example);
    ck_assert_msg(!same_fingerprint(&plain, &query), "%s=%s leaves the fingerprint as it was",
                  row->name, row->example);
    ck_assert_msg(!cursor_carries_over(&plain, &query), "a cursor replays under %s=%s", row->name,
                  row->example);
    ck_assert_msg(!cursor_carries_over(&query, &plain), "a %s=%s cursor replays without it",
                  row->name, row->example);
  }
  ck_assert_int_eq(filtering, 7);
}
END_TEST

START_TEST(table_unbound_parameters_keep_the_cursor) {
  struct purchase_query plain = default_query();
  const struct list_param *row;
  for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
    if (row->binding != LIST_BIND_NONE) {
      continue;
    }
    read_example(row);
    ck_assert_msg(same_fingerprint(&plain, &query), "%s changes the fingerprint", row->name);
    ck_assert_msg(cursor_carries_over(&plain, &query), "%s refuses a cursor", row->name);
  }
}
END_TEST

START_TEST(table_order_parameters_bind_the_cursor) {
  struct purchase_query plain = default_query();
  const struct list_param *row;
  int order = 0;
  for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
    if (row->binding != LIST_BIND_ORDER) {
      continue;
    }
    order++;
    read_example(row);
    ck_assert_msg(!cursor_carries_over(&plain, &query), "a cursor replays under %s=%s", row->name,
                  row->example);
  }
  ck_assert_int_eq(order, 1);
}
END_TEST

START_TEST(table_every_clause_is_fed_by_a_row) {
  for (int f = PURCHASE_FILTER_NONE + 1; f < PURCHASE_FILTER_COUNT; f++) {
    const struct list_param *row;
    bool fed = false;
    for (size_t i = 0; (row = list_params_at(i)) != NULL; i++) {
      fed = fed || row->filter == (enum purchase_filter)f;
    }
    ck_assert_msg(fed, "filter clause %d has no parameter", f);
  }
}
END_TEST

Suite *suite_list_params(void) {
  Suite *suite = suite_create("list_params");
  TCase *timestamp = tcase_create("parse_timestamp");
  TCase *list = tcase_create("list_params_read");

  tcase_add_test(timestamp, timestamp_date_is_midnight_utc);
  tcase_add_test(timestamp, timestamp_date_range_edges);
  tcase_add_test(timestamp, timestamp_date_time_in_utc);
  tcase_add_test(timestamp, timestamp_accepts_lowercase_t_and_z);
  tcase_add_test(timestamp, timestamp_seconds_are_optional);
  tcase_add_test(timestamp, timestamp_converts_offsets);
  tcase_add_test(timestamp, timestamp_offsets_cross_days_and_years);
  tcase_add_test(timestamp, timestamp_keeps_milliseconds_of_a_fraction);
  tcase_add_test(timestamp, timestamp_truncates_below_a_millisecond);
  tcase_add_test(timestamp, timestamp_fraction_before_1970);
  tcase_add_test(timestamp, timestamp_refuses_impossible_dates);
  tcase_add_test(timestamp, timestamp_refuses_impossible_times);
  tcase_add_test(timestamp, timestamp_refuses_a_time_without_zone);
  tcase_add_test(timestamp, timestamp_refuses_trailing_garbage);
  tcase_add_test(timestamp, timestamp_refuses_malformed_forms);
  tcase_add_test(timestamp, timestamp_refuses_year_zero);
  tcase_add_test(timestamp, timestamp_refuses_a_ten_digit_fraction);
  tcase_add_test(timestamp, timestamp_refuses_impossible_offsets);
  suite_add_tcase(suite, timestamp);

  tcase_add_test(list, list_defaults);
  tcase_add_test(list, list_limit);
  tcase_add_test(list, list_limit_refused);
  tcase_add_test(list, list_names_the_parameter_refused);
  tcase_add_test(list, list_sort);
  tcase_add_test(list, list_sort_refused);
  tcase_add_test(list, list_status);
  tcase_add_test(list, list_status_refused);
  tcase_add_test(list, list_from_and_to);
  tcase_add_test(list, list_from_alone_and_to_alone);
  tcase_add_test(list, list_from_with_an_encoded_plus_offset);
  tcase_add_test(list, list_from_with_an_unencoded_plus_refused);
  tcase_add_test(list, list_from_and_to_refused);
  tcase_add_test(list, list_from_after_to_refused);
  tcase_add_test(list, list_from_equal_to_accepted);
  tcase_add_test(list, list_prices);
  tcase_add_test(list, list_prices_equal_accepted);
  tcase_add_test(list, list_prices_refused);
  tcase_add_test(list, list_min_above_max_refused);
  tcase_add_test(list, list_currency);
  tcase_add_test(list, list_currency_refused);
  tcase_add_test(list, list_text);
  tcase_add_test(list, list_text_length);
  tcase_add_test(list, list_fields);
  tcase_add_test(list, list_fields_refused);
  tcase_add_test(list, list_with_total);
  tcase_add_test(list, list_with_total_refused);
  tcase_add_test(list, list_cursor_points_into_the_parameters);
  tcase_add_test(list, list_unknown_parameter_refused);
  tcase_add_test(list, list_every_parameter_at_once);
  tcase_add_test(list, list_unknown_parameter_message_lists_every_row);
  tcase_add_test(list, table_rows_are_complete_and_unique);
  tcase_add_test(list, table_every_example_is_accepted);
  tcase_add_test(list, table_every_filtering_parameter_changes_the_fingerprint);
  tcase_add_test(list, table_unbound_parameters_keep_the_cursor);
  tcase_add_test(list, table_order_parameters_bind_the_cursor);
  tcase_add_test(list, table_every_clause_is_fed_by_a_row);
  suite_add_tcase(suite, list);
  return suite;
}
