#ifndef PURCHASES_MODELS_PURCHASE_JSON_H
#define PURCHASES_MODELS_PURCHASE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <jansson.h>

/* Length of "2023-12-10T00:00:00.000Z" plus its terminating NUL. */
#define PURCHASE_DATE_LEN 25

/* Writes `ms` (milliseconds since the Unix epoch, UTC) as ISO-8601 with
 * milliseconds into buf. Returns false (and writes "") for a date outside
 * years 0000 to 9999. */
bool purchase_format_date(int64_t ms, char buf[PURCHASE_DATE_LEN]);

/* Maps a stored purchase document to its public JSON shape. Only the fields
 * of the contract are read, in the contract's order; `_id` and anything else
 * stored are left out. A field that is missing or of the wrong type comes out
 * as null (32- and 64-bit integers and integral doubles are all read as
 * integers). Returns a new reference the caller owns, or NULL when out of
 * memory. */
json_t *purchase_to_json(const bson_t *doc);

/* The same, with only the top-level fields whose bit is set in `fields`
 * (bit i: purchase_field_name(i)); `id` always, and every field when
 * `fields` is 0. */
json_t *purchase_to_json_fields(const bson_t *doc, uint32_t fields);

/* The name of top-level field i of the contract ("id", "userId", ...), or
 * NULL past the last one. */
const char *purchase_field_name(uint32_t i);

/* Index of the top-level field `name`, or -1 when the contract has none. */
int purchase_field_index(const char *name);

#endif
