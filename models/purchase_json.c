#include "models/purchase_json.h"

#include "models/purchase_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Integers beyond 2^53 do not survive a JavaScript client; we still emit
 * them exactly, since jansson writes 64-bit integers verbatim. */
#define PURCHASE_DOUBLE_INT_LIMIT 9007199254740992.0

bool purchase_format_date(int64_t ms, char buf[PURCHASE_DATE_LEN]) {
  /* Years 0000 to 9999, the range ISO-8601's four-digit year can show. */
  const int64_t min_ms = -62167219200000LL;
  const int64_t max_ms = 253402300799999LL;
  struct tm tm;
  int64_t seconds;
  int64_t millis;
  time_t t;

  buf[0] = '\0';
  if (ms < min_ms || ms > max_ms) {
    return false;
  }
  seconds = ms / 1000;
  millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  t = (time_t)seconds;
  if (gmtime_r(&t, &tm) == NULL) {
    return false;
  }
  /* The range check above bounds every field; the wider buffer only keeps
   * the compiler's truncation analysis quiet. */
  char wide[64];
  snprintf(wide, sizeof(wide), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
  memcpy(buf, wide, PURCHASE_DATE_LEN - 1);
  buf[PURCHASE_DATE_LEN - 1] = '\0';
  return true;
}

static json_t *map_object(bson_iter_t *doc_iter, const struct schema_field *fields, uint32_t mask);

/* The JSON for the value under `iter` as `spec` wants it; json_null() when
 * the stored type does not fit or a string is not valid UTF-8. NULL only
 * when out of memory. */
static json_t *map_value(const bson_iter_t *iter, const struct schema_field *spec) {
  bson_iter_t child;
  char date[PURCHASE_DATE_LEN];

  switch (spec->kind) {
    case SCHEMA_STRING:
      if (BSON_ITER_HOLDS_UTF8(iter)) {
        uint32_t len = 0;
        const char *s = bson_iter_utf8(iter, &len);
        json_t *j_string = json_stringn(s, len);
        /* jansson refuses invalid UTF-8 (another writer's bad data): such a
         * value becomes null rather than failing the whole page. */
        if (j_string != NULL) {
          return j_string;
        }
      }
      break;
    case SCHEMA_INTEGER:
      if (BSON_ITER_HOLDS_INT32(iter)) {
        return json_integer(bson_iter_int32(iter));
      }
      if (BSON_ITER_HOLDS_INT64(iter)) {
        return json_integer(bson_iter_int64(iter));
      }
      if (BSON_ITER_HOLDS_DOUBLE(iter)) {
        double d = bson_iter_double(iter);
        if (isfinite(d) && d == trunc(d) && fabs(d) <= PURCHASE_DOUBLE_INT_LIMIT) {
          return json_integer((json_int_t)d);
        }
      }
      break;
    case SCHEMA_DATE:
      if (BSON_ITER_HOLDS_DATE_TIME(iter) &&
          purchase_format_date(bson_iter_date_time(iter), date)) {
        return json_string(date);
      }
      break;
    case SCHEMA_OBJECT:
      if (BSON_ITER_HOLDS_DOCUMENT(iter) && bson_iter_recurse(iter, &child)) {
        return map_object(&child, spec->children, 0);
      }
      break;
    case SCHEMA_OBJECT_ARRAY:
      if (BSON_ITER_HOLDS_ARRAY(iter) && bson_iter_recurse(iter, &child)) {
        json_t *j_array = json_array();
        while (j_array != NULL && bson_iter_next(&child)) {
          bson_iter_t element;
          json_t *j_element = NULL;
          if (BSON_ITER_HOLDS_DOCUMENT(&child) && bson_iter_recurse(&child, &element)) {
            j_element = map_object(&element, spec->children, 0);
          } else {
            j_element = json_null();
          }
          if (j_element == NULL || json_array_append_new(j_array, j_element) != 0) {
            json_decref(j_array);
            j_array = NULL;
          }
        }
        return j_array;
      }
      break;
  }
  return json_null();
}

/* Builds the object described by `fields` from the document under doc_iter
 * (an iterator positioned before the document's first key); with a non-zero
 * `mask`, only the fields whose bit is set. */
static json_t *map_object(bson_iter_t *doc_iter, const struct schema_field *fields, uint32_t mask) {
  json_t *j_object = json_object();
  json_t *j_result = NULL;

  if (j_object == NULL) {
    goto done;
  }
  for (uint32_t i = 0; fields[i].name != NULL; i++) {
    const struct schema_field *spec = &fields[i];
    bson_iter_t iter = *doc_iter;
    json_t *j_value;
    if (mask != 0 && (mask & (1u << i)) == 0) {
      continue;
    }
    if (bson_iter_find(&iter, spec->name)) {
      j_value = map_value(&iter, spec);
    } else {
      j_value = json_null();
    }
    if (j_value == NULL || json_object_set_new(j_object, spec->name, j_value) != 0) {
      goto done;
    }
  }
  j_result = j_object;
  j_object = NULL;

done:
  json_decref(j_object);
  return j_result;
}

json_t *purchase_to_json(const bson_t *doc) {
  return purchase_to_json_fields(doc, 0);
}

json_t *purchase_to_json_fields(const bson_t *doc, uint32_t fields) {
  bson_iter_t iter;

  if (doc == NULL || !bson_iter_init(&iter, doc)) {
    return NULL;
  }
  return map_object(&iter, PURCHASE_SCHEMA, fields == 0 ? 0 : (fields | 1u));
}

const char *purchase_field_name(uint32_t i) {
  for (uint32_t k = 0; PURCHASE_SCHEMA[k].name != NULL; k++) {
    if (k == i) {
      return PURCHASE_SCHEMA[k].name;
    }
  }
  return NULL;
}

int purchase_field_index(const char *name) {
  const struct schema_field *field = schema_field_find(PURCHASE_SCHEMA, name);
  return field != NULL ? (int)(field - PURCHASE_SCHEMA) : -1;
}
