#ifndef PURCHASES_MODELS_PURCHASE_GEN_H
#define PURCHASES_MODELS_PURCHASE_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

/* Limits that keep generated ids unique: the id is a bijective mix of
 * (seed, user, index) packed into 64 bits. */
#define PURCHASE_GEN_MAX_SEED     ((1u << 20) - 1)
#define PURCHASE_GEN_MAX_USER     ((1u << 24) - 1)
#define PURCHASE_GEN_MAX_PER_USER (1u << 20)

/* Length of a generated purchase id ("p" and 16 hex digits) with its NUL. */
#define PURCHASE_GEN_ID_LEN 18

/* Writes the id of purchase `index` of `user` for `seed` into buf. The same
 * arguments always give the same id, and different ones never collide. */
void purchase_gen_id(uint32_t seed, uint32_t user, uint32_t index, char buf[PURCHASE_GEN_ID_LEN]);

/* Writes the user id of synthetic user number `user` ("1", "2", ...). */
void purchase_gen_user_id(uint32_t user, char *buf, size_t len);

/* Fills `doc` (initialised by the caller, appended to here) with purchase
 * `index` of `user`: a deterministic, realistic purchase with one to four
 * items in one currency (GBP, EUR or USD), integer minor units that add up,
 * a status, payment and delivery, dated 2019 to 2025. The caller owns doc. */
void purchase_gen_document(uint32_t seed, uint32_t user, uint32_t index, bson_t *doc);

#endif
