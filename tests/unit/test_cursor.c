#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <orcania.h>

#include "models/purchase_query.h"
#include "routes/cursor.h"
#include "suites.h"

#define SECRET       "0123456789abcdef0123456789abcdef"
#define OTHER_SECRET "fedcba9876543210fedcba9876543210"
#define ID_64        "p-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct cursor_key key;
static struct purchase_query query;
static struct purchase_position position;
static char token[CURSOR_MAX + 1];

/* A string of `len` copies of `c`, in a static buffer. */
static const char *repeat(char c, size_t len) {
  static char buf[512];
  ck_assert_uint_lt(len, sizeof(buf));
  memset(buf, c, len);
  buf[len] = '\0';
  return buf;
}

/* A key from SECRET, a query for alice with every filter set, and a token
 * made for it at a 64-character id. */
static void setup(void) {
  ck_assert(cursor_key_init(&key, SECRET));
  memset(&query, 0, sizeof(query));
  snprintf(query.user_id, sizeof(query.user_id), "alice");
  query.limit = 20;
  query.sort = PURCHASE_SORT_DATE_DESC;
  query.statuses = (1u << 1) | (1u << 2);
  query.has_from = true;
  query.from_ms = 1709251200000LL;
  query.has_to = true;
  query.to_ms = 1709337600000LL;
  query.has_min_price = true;
  query.min_price_pence = 100;
  query.has_max_price = true;
  query.max_price_pence = 5000;
  snprintf(query.currency, sizeof(query.currency), "GBP");
  snprintf(query.text, sizeof(query.text), "kettle");
  memset(&position, 0, sizeof(position));
  position.key = 1709285400123LL;
  snprintf(position.id, sizeof(position.id), "%s", ID_64);
  ck_assert(cursor_encode(&key, &query, false, &position, token));
}

/* True when `text` decodes under `key` and `query`; the position read must
 * then be the one encoded. */
static bool decodes(const struct cursor_key *k, const struct purchase_query *q, const char *text) {
  struct purchase_position read;
  bool before = true;
  memset(&read, 0, sizeof(read));
  if (!cursor_decode(k, q, text, &read, &before)) {
    return false;
  }
  ck_assert(!before);
  ck_assert_int_eq(read.key, position.key);
  ck_assert_str_eq(read.id, position.id);
  return true;
}

/* --- cursor_key_init --------------------------------------------------- */

START_TEST(key_from_a_secret) {
  struct cursor_key k;
  memset(&k, 0, sizeof(k));
  ck_assert(cursor_key_init(&k, SECRET));
  ck_assert_uint_eq(k.len, 32);
  ck_assert_mem_eq(k.bytes, SECRET, 32);
}
END_TEST

START_TEST(key_secret_length_bounds) {
  struct cursor_key k;
  ck_assert(!cursor_key_init(&k, ""));
  ck_assert(!cursor_key_init(&k, repeat('s', CURSOR_KEY_MIN - 1)));
  ck_assert(cursor_key_init(&k, repeat('s', CURSOR_KEY_MIN)));
  ck_assert_uint_eq(k.len, CURSOR_KEY_MIN);
  ck_assert(cursor_key_init(&k, repeat('t', CURSOR_KEY_MAX)));
  ck_assert_uint_eq(k.len, CURSOR_KEY_MAX);
  ck_assert_mem_eq(k.bytes, repeat('t', CURSOR_KEY_MAX), CURSOR_KEY_MAX);
  ck_assert(!cursor_key_init(&k, repeat('s', CURSOR_KEY_MAX + 1)));
}
END_TEST

START_TEST(key_random_when_no_secret) {
  struct cursor_key first;
  struct cursor_key second;
  static const unsigned char ZEROS[32];
  memset(&first, 0, sizeof(first));
  memset(&second, 0, sizeof(second));
  ck_assert(cursor_key_init(&first, NULL));
  ck_assert(cursor_key_init(&second, NULL));
  ck_assert_uint_eq(first.len, 32);
  ck_assert_uint_eq(second.len, 32);
  ck_assert_int_ne(memcmp(first.bytes, ZEROS, 32), 0);
  ck_assert_int_ne(memcmp(first.bytes, second.bytes, 32), 0);
}
END_TEST

START_TEST(random_keys_do_not_read_each_others_cursors) {
  struct cursor_key first;
  struct cursor_key second;
  ck_assert(cursor_key_init(&first, NULL));
  ck_assert(cursor_key_init(&second, NULL));
  ck_assert(cursor_encode(&first, &query, false, &position, token));
  ck_assert(decodes(&first, &query, token));
  ck_assert(!decodes(&second, &query, token));
}
END_TEST

/* --- round trips ------------------------------------------------------- */

/* Encodes `key_value` and `id` under `sort` and decodes them back. */
static void assert_round_trip(enum purchase_sort sort, int64_t key_value, const char *id) {
  struct purchase_position read;
  query.sort = sort;
  position.key = key_value;
  snprintf(position.id, sizeof(position.id), "%s", id);
  ck_assert(cursor_encode(&key, &query, false, &position, token));
  ck_assert_uint_le(strlen(token), CURSOR_MAX);
  ck_assert_uint_eq(strspn(token, B64URL), strlen(token));
  memset(&read, 0, sizeof(read));
  ck_assert_msg(cursor_decode(&key, &query, token, &read, &(bool){false}), "sort %d key %lld id %s",
                (int)sort, (long long)key_value, id);
  ck_assert_int_eq(read.key, key_value);
  ck_assert_str_eq(read.id, id);
}

START_TEST(round_trip_every_sort) {
  for (int s = PURCHASE_SORT_DATE_DESC; s <= PURCHASE_SORT_PRICE_ASC; s++) {
    assert_round_trip((enum purchase_sort)s, 1709285400123LL, "p-1");
    assert_round_trip((enum purchase_sort)s, 0, "p-2");
    assert_round_trip((enum purchase_sort)s, 3998, ID_64);
  }
}
END_TEST

START_TEST(round_trip_negative_keys) {
  assert_round_trip(PURCHASE_SORT_DATE_DESC, -1, "p-1");
  assert_round_trip(PURCHASE_SORT_DATE_ASC, -14182940000LL, "moon");    /* 1969-07-20 */
  assert_round_trip(PURCHASE_SORT_DATE_DESC, -62135596800000LL, ID_64); /* 0001-01-01 */
  assert_round_trip(PURCHASE_SORT_PRICE_ASC, INT64_MIN, "min");
  assert_round_trip(PURCHASE_SORT_PRICE_DESC, INT64_MAX, "max");
}
END_TEST

START_TEST(round_trip_ids_of_every_length) {
  char id[PURCHASE_ID_MAX + 1];
  for (size_t len = 1; len <= PURCHASE_ID_MAX; len++) {
    memcpy(id, repeat('i', len), len + 1); /* len <= PURCHASE_ID_MAX */
    id[0] = (char)('a' + len % 26);
    assert_round_trip(PURCHASE_SORT_PRICE_DESC, (int64_t)len * 1000, id);
  }
}
END_TEST

START_TEST(round_trip_id_with_non_ascii_and_punctuation) {
  assert_round_trip(PURCHASE_SORT_DATE_DESC, 5, "caf\xc3\xa9-{\"$ne\":1}/..");
}
END_TEST

START_TEST(token_length_for_a_64_character_id) {
  /* 1 + 1 + 8 + 1 + 64 + 16 = 91 bytes: 30 groups of 4 and 2 characters. */
  ck_assert_uint_eq(strlen(token), 122);
  ck_assert_uint_eq(strspn(token, B64URL), 122);
}
END_TEST

START_TEST(encode_refuses_an_empty_id) {
  position.id[0] = '\0';
  ck_assert(!cursor_encode(&key, &query, false, &position, token));
}
END_TEST

START_TEST(tokens_differ_per_position) {
  char first[CURSOR_MAX + 1];
  memcpy(first, token, sizeof(first));
  position.key++;
  ck_assert(cursor_encode(&key, &query, false, &position, token));
  ck_assert_str_ne(first, token);
}
END_TEST

/* --- what decode refuses ----------------------------------------------- */

START_TEST(decode_accepts_the_untouched_token) {
  ck_assert(decodes(&key, &query, token));
}
END_TEST

START_TEST(decode_refuses_every_single_character_change) {
  char altered[CURSOR_MAX + 1];
  size_t len = strlen(token);
  for (size_t i = 0; i < len; i++) {
    for (size_t c = 0; c < sizeof(B64URL) - 1; c++) {
      if (B64URL[c] == token[i]) {
        continue;
      }
      memcpy(altered, token, len + 1);
      altered[i] = B64URL[c];
      ck_assert_msg(!decodes(&key, &query, altered), "accepted %c at %zu: %s", B64URL[c], i,
                    altered);
    }
  }
}
END_TEST

START_TEST(decode_refuses_every_truncation) {
  char cut[CURSOR_MAX + 1];
  size_t len = strlen(token);
  for (size_t n = 0; n < len; n++) {
    memcpy(cut, token, n);
    cut[n] = '\0';
    ck_assert_msg(!decodes(&key, &query, cut), "accepted the first %zu characters", n);
  }
}
END_TEST

START_TEST(decode_refuses_appended_characters) {
  char longer[CURSOR_MAX + 8];
  size_t len = strlen(token);
  for (size_t c = 0; c < sizeof(B64URL) - 1; c++) {
    snprintf(longer, sizeof(longer), "%s%c", token, B64URL[c]);
    ck_assert_msg(!decodes(&key, &query, longer), "accepted %s", longer);
    snprintf(longer, sizeof(longer), "%s%c%c", token, B64URL[c], B64URL[c]);
    ck_assert_msg(!decodes(&key, &query, longer), "accepted %s", longer);
  }
  snprintf(longer, sizeof(longer), "%sAAAA", token);
  ck_assert(!decodes(&key, &query, longer));
  snprintf(longer, sizeof(longer), "%s ", token);
  ck_assert(!decodes(&key, &query, longer));
  ck_assert_uint_eq(strlen(token), len);
}
END_TEST

START_TEST(decode_refuses_padding) {
  char padded[CURSOR_MAX + 8];
  /* 91 bytes: standard base64 would end in "==". */
  snprintf(padded, sizeof(padded), "%s==", token);
  ck_assert(!decodes(&key, &query, padded));
  snprintf(padded, sizeof(padded), "%s=", token);
  ck_assert(!decodes(&key, &query, padded));
}
END_TEST

START_TEST(decode_refuses_padding_on_every_id_length) {
  char padded[CURSOR_MAX + 8];
  for (size_t len = 1; len <= 3; len++) {
    memcpy(position.id, repeat('x', len), len + 1); /* len <= 3 */
    ck_assert(cursor_encode(&key, &query, false, &position, token));
    ck_assert(decodes(&key, &query, token));
    snprintf(padded, sizeof(padded), "%s=", token);
    ck_assert_msg(!decodes(&key, &query, padded), "accepted %s", padded);
    snprintf(padded, sizeof(padded), "%s==", token);
    ck_assert_msg(!decodes(&key, &query, padded), "accepted %s", padded);
  }
}
END_TEST

START_TEST(decode_refuses_characters_outside_base64url) {
  static const char OUTSIDE[] = "+/=. !*~%\"\\\x80\xc3";
  char altered[CURSOR_MAX + 1];
  size_t len = strlen(token);
  for (size_t i = 0; i < len; i += 7) {
    for (size_t c = 0; c < sizeof(OUTSIDE) - 1; c++) {
      memcpy(altered, token, len + 1);
      altered[i] = OUTSIDE[c];
      ck_assert_msg(!decodes(&key, &query, altered), "accepted 0x%02x at %zu",
                    (unsigned char)OUTSIDE[c], i);
    }
  }
}
END_TEST

START_TEST(decode_refuses_standard_base64) {
  /* Find a position whose token holds '-' or '_', and write it the way
   * standard base64 would. */
  char altered[CURSOR_MAX + 1];
  bool tried = false;
  for (int64_t k = 0; k < 64 && !tried; k++) {
    position.key = k;
    ck_assert(cursor_encode(&key, &query, false, &position, token));
    memcpy(altered, token, sizeof(altered));
    for (char *p = altered; *p != '\0'; p++) {
      if (*p == '-' || *p == '_') {
        *p = *p == '-' ? '+' : '/';
        tried = true;
      }
    }
  }
  ck_assert(tried);
  ck_assert(decodes(&key, &query, token));
  ck_assert(!decodes(&key, &query, altered));
}
END_TEST

START_TEST(decode_refuses_empty_and_null) {
  struct purchase_position read;
  ck_assert(!cursor_decode(&key, &query, "", &read, &(bool){false}));
  ck_assert(!cursor_decode(&key, &query, NULL, &read, &(bool){false}));
}
END_TEST

START_TEST(decode_refuses_garbage) {
  ck_assert(!decodes(&key, &query, "A"));
  ck_assert(!decodes(&key, &query, "AAAA"));
  ck_assert(!decodes(&key, &query, repeat('A', 122)));
  ck_assert(!decodes(&key, &query, repeat('A', CURSOR_MAX + 1)));
  ck_assert(!decodes(&key, &query, repeat('_', CURSOR_MAX)));
}
END_TEST

START_TEST(decode_refuses_another_key) {
  struct cursor_key other;
  ck_assert(cursor_key_init(&other, OTHER_SECRET));
  ck_assert(!decodes(&other, &query, token));
}
END_TEST

START_TEST(decode_refuses_a_key_one_byte_longer) {
  struct cursor_key other;
  ck_assert(cursor_key_init(&other, SECRET "0"));
  ck_assert(!decodes(&other, &query, token));
}
END_TEST

START_TEST(decode_refuses_another_user) {
  struct purchase_query other = query;
  snprintf(other.user_id, sizeof(other.user_id), "bob");
  ck_assert(!decodes(&key, &other, token));
  snprintf(other.user_id, sizeof(other.user_id), "alicE");
  ck_assert(!decodes(&key, &other, token));
  snprintf(other.user_id, sizeof(other.user_id), "alice ");
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_another_sort) {
  for (int s = PURCHASE_SORT_DATE_DESC; s <= PURCHASE_SORT_PRICE_ASC; s++) {
    struct purchase_query other = query;
    query.sort = (enum purchase_sort)s;
    ck_assert(cursor_encode(&key, &query, false, &position, token));
    ck_assert(decodes(&key, &query, token));
    for (int t = PURCHASE_SORT_DATE_DESC; t <= PURCHASE_SORT_PRICE_ASC; t++) {
      other.sort = (enum purchase_sort)t;
      if (t != s) {
        ck_assert_msg(!decodes(&key, &other, token), "sort %d read as %d", s, t);
      }
    }
  }
}
END_TEST

START_TEST(decode_refuses_other_statuses) {
  struct purchase_query other = query;
  other.statuses = 1u << 1;
  ck_assert(!decodes(&key, &other, token));
  other.statuses = 0;
  ck_assert(!decodes(&key, &other, token));
  other.statuses = (1u << 1) | (1u << 2) | (1u << 3);
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_other_dates) {
  struct purchase_query other = query;
  other.has_from = false;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.from_ms++;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.has_to = false;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.to_ms--;
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_other_prices) {
  struct purchase_query other = query;
  other.has_min_price = false;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.min_price_pence = 101;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.has_max_price = false;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.max_price_pence = 4999;
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_swapped_filters) {
  /* The same numbers in other fields: each is fixed-width and in place. */
  struct purchase_query other = query;
  other.from_ms = query.to_ms;
  other.to_ms = query.from_ms;
  ck_assert(!decodes(&key, &other, token));
  other = query;
  other.min_price_pence = query.max_price_pence;
  other.max_price_pence = query.min_price_pence;
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_another_currency) {
  struct purchase_query other = query;
  snprintf(other.currency, sizeof(other.currency), "EUR");
  ck_assert(!decodes(&key, &other, token));
  other.currency[0] = '\0';
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_another_text) {
  struct purchase_query other = query;
  snprintf(other.text, sizeof(other.text), "Kettle");
  ck_assert(!decodes(&key, &other, token));
  snprintf(other.text, sizeof(other.text), "kettles");
  ck_assert(!decodes(&key, &other, token));
  other.text[0] = '\0';
  ck_assert(!decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_refuses_text_moved_into_currency) {
  /* Length prefixes keep "currency|text" splits apart. */
  struct purchase_query first = query;
  struct purchase_query second = query;
  snprintf(first.currency, sizeof(first.currency), "GB");
  snprintf(first.text, sizeof(first.text), "Pkettle");
  snprintf(second.currency, sizeof(second.currency), "GBP");
  snprintf(second.text, sizeof(second.text), "kettle");
  ck_assert(cursor_encode(&key, &first, false, &position, token));
  ck_assert(decodes(&key, &first, token));
  ck_assert(!decodes(&key, &second, token));
}
END_TEST

START_TEST(decode_accepts_another_limit_fields_or_total) {
  struct purchase_query other = query;
  other.limit = 100;
  ck_assert(decodes(&key, &other, token));
  other = query;
  other.fields = (1u << 0) | (1u << 4);
  ck_assert(decodes(&key, &other, token));
  other = query;
  other.with_total = true;
  ck_assert(decodes(&key, &other, token));
  other.limit = 1;
  other.fields = 1u << 8;
  ck_assert(decodes(&key, &other, token));
}
END_TEST

START_TEST(decode_with_a_random_key_round_trips) {
  struct cursor_key fresh;
  ck_assert(cursor_key_init(&fresh, NULL));
  ck_assert(cursor_encode(&fresh, &query, false, &position, token));
  ck_assert(decodes(&fresh, &query, token));
  ck_assert(!decodes(&key, &query, token));
}
END_TEST

/* The bytes of a cursor did not change when the fingerprint came to be
 * written by walking the list-parameter table, nor with orcania's encoder:
 * cursors handed out before still read. */
START_TEST(tokens_are_the_bytes_they_always_were) {
  struct purchase_query plain;
  struct purchase_position at = {42, "p1"};
  ck_assert_str_eq(token, "AQAAAAGN-VleO0BwLTAxMjM0NTY3ODlhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFCQ0RF"
                          "RkdISUpLTE1OT1BRUlNUVVZXWFlaptdJGZmzUJT9b0SXpdBbqw");
  memset(&plain, 0, sizeof(plain));
  snprintf(plain.user_id, sizeof(plain.user_id), "bob");
  plain.sort = PURCHASE_SORT_PRICE_ASC;
  ck_assert(cursor_encode(&key, &plain, false, &at, token));
  ck_assert_str_eq(token, "AQMAAAAAAAAAKgJwMXp20aV4aPm-zTkzx7NGYRw");
}
END_TEST

/* orcania's decoder skips whitespace; a cursor must not. */
START_TEST(decode_refuses_whitespace_anywhere) {
  static const char SPACES[] = " \t\n\r";
  char altered[CURSOR_MAX + 8];
  size_t len = strlen(token);
  for (size_t i = 0; i <= len; i += 5) {
    for (size_t c = 0; c < sizeof(SPACES) - 1; c++) {
      snprintf(altered, sizeof(altered), "%.*s%c%s", (int)i, token, SPACES[c], token + i);
      ck_assert_msg(!decodes(&key, &query, altered), "accepted 0x%02x at %zu",
                    (unsigned char)SPACES[c], i);
    }
  }
}
END_TEST

/* orcania's decoder ignores the unused low bits of the last character; a
 * cursor has one spelling only. */
START_TEST(decode_refuses_stray_bits_in_the_last_character) {
  char altered[CURSOR_MAX + 1];
  size_t len = strlen(token);
  const char *at = strchr(B64URL, token[len - 1]);
  int unused = len % 4 == 2 ? 0x0f : 0x03;
  ck_assert(len % 4 == 2 || len % 4 == 3);
  ck_assert_ptr_nonnull(at);
  for (int bits = 1; bits <= unused; bits++) {
    memcpy(altered, token, len + 1);
    altered[len - 1] = B64URL[(at - B64URL) | bits];
    ck_assert_msg(!decodes(&key, &query, altered), "accepted %s", altered);
  }
}
END_TEST

/* --- direction --------------------------------------------------------- */

START_TEST(round_trip_a_previous_page_cursor) {
  struct purchase_position read;
  bool before = false;
  char back[CURSOR_MAX + 1];
  ck_assert(cursor_encode(&key, &query, true, &position, back));
  ck_assert_str_ne(back, token);
  ck_assert(cursor_decode(&key, &query, back, &read, &before));
  ck_assert(before);
  ck_assert_int_eq(read.key, position.key);
  ck_assert_str_eq(read.id, position.id);
  /* The direction is signed: a next cursor does not read as a previous one. */
  ck_assert(cursor_decode(&key, &query, token, &read, &before));
  ck_assert(!before);
}
END_TEST

/* Turning the direction bit of a cursor round (its second byte, in the
 * second and third base64url characters) without the key breaks the tag. */
START_TEST(decode_refuses_a_direction_turned_round) {
  unsigned char raw[CURSOR_MAX];
  size_t n = 0;
  size_t o = 0;
  unsigned char text[CURSOR_MAX * 2];
  char turned[CURSOR_MAX + 1];
  ck_assert(o_base64url_decode((const unsigned char *)token, strlen(token), raw, &n));
  raw[1] ^= 0x80;
  ck_assert(o_base64url_encode(raw, n, text, &o));
  ck_assert_uint_le(o, CURSOR_MAX);
  memcpy(turned, text, o);
  turned[o] = '\0';
  ck_assert_str_ne(turned, token);
  ck_assert(!cursor_decode(&key, &query, turned, &position, &(bool){false}));
}
END_TEST

START_TEST(encode_refuses_an_order_with_the_direction_bit) {
  ck_assert(!cursor_encode_context(&key, "x", 1, 0x80, false, &position, token));
  ck_assert(cursor_encode_context(&key, "x", 1, 0x7f, true, &position, token));
}
END_TEST

Suite *suite_cursor(void) {
  Suite *suite = suite_create("cursor");
  TCase *keys = tcase_create("cursor_key_init");
  TCase *trips = tcase_create("round trip");
  TCase *refuses = tcase_create("cursor_decode refuses");

  tcase_add_checked_fixture(keys, setup, NULL);
  tcase_add_test(keys, key_from_a_secret);
  tcase_add_test(keys, key_secret_length_bounds);
  tcase_add_test(keys, key_random_when_no_secret);
  tcase_add_test(keys, random_keys_do_not_read_each_others_cursors);
  suite_add_tcase(suite, keys);

  tcase_add_checked_fixture(trips, setup, NULL);
  tcase_add_test(trips, round_trip_every_sort);
  tcase_add_test(trips, round_trip_negative_keys);
  tcase_add_test(trips, round_trip_ids_of_every_length);
  tcase_add_test(trips, round_trip_id_with_non_ascii_and_punctuation);
  tcase_add_test(trips, token_length_for_a_64_character_id);
  tcase_add_test(trips, encode_refuses_an_empty_id);
  tcase_add_test(trips, tokens_differ_per_position);
  tcase_add_test(trips, decode_accepts_the_untouched_token);
  tcase_add_test(trips, decode_accepts_another_limit_fields_or_total);
  tcase_add_test(trips, decode_with_a_random_key_round_trips);
  tcase_add_test(trips, tokens_are_the_bytes_they_always_were);
  tcase_add_test(trips, round_trip_a_previous_page_cursor);
  tcase_add_test(trips, encode_refuses_an_order_with_the_direction_bit);
  suite_add_tcase(suite, trips);

  tcase_add_checked_fixture(refuses, setup, NULL);
  tcase_add_test(refuses, decode_refuses_every_single_character_change);
  tcase_add_test(refuses, decode_refuses_a_direction_turned_round);
  tcase_add_test(refuses, decode_refuses_every_truncation);
  tcase_add_test(refuses, decode_refuses_appended_characters);
  tcase_add_test(refuses, decode_refuses_padding);
  tcase_add_test(refuses, decode_refuses_padding_on_every_id_length);
  tcase_add_test(refuses, decode_refuses_characters_outside_base64url);
  tcase_add_test(refuses, decode_refuses_standard_base64);
  tcase_add_test(refuses, decode_refuses_empty_and_null);
  tcase_add_test(refuses, decode_refuses_garbage);
  tcase_add_test(refuses, decode_refuses_whitespace_anywhere);
  tcase_add_test(refuses, decode_refuses_stray_bits_in_the_last_character);
  tcase_add_test(refuses, decode_refuses_another_key);
  tcase_add_test(refuses, decode_refuses_a_key_one_byte_longer);
  tcase_add_test(refuses, decode_refuses_another_user);
  tcase_add_test(refuses, decode_refuses_another_sort);
  tcase_add_test(refuses, decode_refuses_other_statuses);
  tcase_add_test(refuses, decode_refuses_other_dates);
  tcase_add_test(refuses, decode_refuses_other_prices);
  tcase_add_test(refuses, decode_refuses_swapped_filters);
  tcase_add_test(refuses, decode_refuses_another_currency);
  tcase_add_test(refuses, decode_refuses_another_text);
  tcase_add_test(refuses, decode_refuses_text_moved_into_currency);
  suite_add_tcase(suite, refuses);
  return suite;
}
