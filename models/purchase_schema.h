#ifndef PURCHASES_MODELS_PURCHASE_SCHEMA_H
#define PURCHASES_MODELS_PURCHASE_SCHEMA_H

/* The purchase's shape, once: every field of the contract with its JSON
 * kind, its stored BSON type, the rule a written value keeps and the values
 * it may take. The JSON mapping (purchase_json.c), the validation and the
 * stored document (purchase_validate.c) and the demo generator's conformance
 * test all walk these tables; docs/extending.md says how to add a row. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

/* How a field reads and writes in JSON. */
enum schema_kind {
  SCHEMA_STRING,
  SCHEMA_INTEGER,
  SCHEMA_DATE,        /* ISO-8601 in JSON, a BSON date stored */
  SCHEMA_OBJECT,      /* `children` are its fields */
  SCHEMA_OBJECT_ARRAY /* each element an object of `children` */
};

/* What a written value must be, beyond its kind. */
enum schema_rule {
  RULE_TEXT,        /* min to max characters, no control characters */
  RULE_ID,          /* lib/ids.h: ID_RULE */
  RULE_DOTTED_ID,   /* lib/ids.h: ID_RULE_DOTTED */
  RULE_CHOICE,      /* one of `choices` */
  RULE_URL,         /* http or https, min to max characters */
  RULE_CURRENCY,    /* ISO 4217: three capital letters */
  RULE_LAST_DIGITS, /* exactly four digits: never more of a card number */
  RULE_RANGE,       /* a whole number from min to max */
  RULE_TIMESTAMP,   /* a date or date-time with a zone; with max > 0, at
                       most max milliseconds after now */
  RULE_FIELDS       /* an object (or array of min to max objects) of
                       exactly its children */
};

struct schema_field {
  const char *name;
  enum schema_kind kind;
  bson_type_t stored; /* BSON_TYPE_INT32 or _INT64 for an integer */
  enum schema_rule rule;
  bool nullable;  /* null is a value (it must still be given) */
  bool generated; /* may be left out: the service writes it (the id) */
  bool optional;  /* may be left out: stored as null */
  int64_t min;
  int64_t max;
  const char *const *choices;          /* RULE_CHOICE; NULL-terminated */
  const struct schema_field *children; /* RULE_FIELDS; ends with a NULL name */
};

/* The fields of a purchase, in the contract's order; ends with a NULL name.
 * A field's index is its bit in `fields=` (purchase_json.h), so a new
 * field is appended, never inserted. */
extern const struct schema_field PURCHASE_SCHEMA[];

/* The values of the choice fields; NULL-terminated. PURCHASE_STATUSES is in
 * lifecycle order (purchase_write.c holds the lifecycle). */
extern const char *const PURCHASE_STATUSES[];
extern const char *const PAYMENT_METHODS[];
extern const char *const DELIVERY_METHODS[];

#define PURCHASE_ITEMS_MAX 500

/* The field `name` of `fields`, or NULL. */
const struct schema_field *schema_field_find(const struct schema_field *fields, const char *name);

/* Index of `value` in `choices`, or -1. */
int schema_choice_index(const char *const *choices, const char *value);

/* The name of field i of a table (NULL at its end): a words_at_fn, so that
 * words_join() (lib/words.h) writes a table's names into a message, as it
 * writes a choice list through words_of_array. */
const char *schema_field_name_at(const void *fields, size_t i);

#endif
