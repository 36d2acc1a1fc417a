#ifndef PURCHASES_MODELS_PURCHASE_VALIDATE_H
#define PURCHASES_MODELS_PURCHASE_VALIDATE_H

/* The rules a purchase must keep to be stored, for POST /purchases and
 * purchases-import alike, from the schema (models/purchase_schema.h). The
 * rules are listed in docs/api.md. */

#include <stdbool.h>

#include <bson/bson.h>
#include <jansson.h>

#include "models/purchase_schema.h"

#define PURCHASE_ERRORS_MAX 50

/* Validates j_purchase against the purchase contract and, when valid,
 * appends the document to store to `doc` (initialised and empty, the
 * caller's): the contract's fields in its order and BSON types, the id
 * `id_if_absent` when the JSON has none. Returns true when valid. Else
 * returns false and sets *j_errors to a new array (the caller's) of
 * {"pointer": "/items/0/quantity", "detail": "..."}: an RFC 6901 pointer
 * and the rule broken, one per bad field, at most PURCHASE_ERRORS_MAX.
 * Details state rules and never repeat the caller's values, which may be
 * personal data or card digits. */
bool purchase_validate(const json_t *j_purchase, const char *id_if_absent, bson_t *doc,
                       json_t **j_errors);

/* Whether delivered_ms cannot stand as the dateDelivered of a purchase
 * made at purchased_ms, at now_ms; if so, the rule broken goes to detail
 * (len bytes). A new purchase (purchase_validate) and a change to
 * delivered, with a date or without one (then it is now), keep the same
 * rule: no further ahead than the schema allows, and not before the day
 * (UTC) of the purchase. */
bool purchase_delivery_date_fault(int64_t purchased_ms, int64_t delivered_ms, int64_t now_ms,
                                  char *detail, size_t len);

/* SHA-256, in hex, of the value serialised compactly with sorted keys: the
 * same for two bodies that differ only in key order or spacing. False when
 * out of memory. */
bool purchase_body_hash(const json_t *j_value, char out[65]);

#endif
