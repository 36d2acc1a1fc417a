#ifndef PURCHASES_LIB_IDS_H
#define PURCHASES_LIB_IDS_H

/* The one rule for the ids the service reads and writes: user, client,
 * purchase and request ids, token claims. Below every layer: app, routes,
 * middleware and models all use it, and it uses nothing of theirs. */

#include <stdbool.h>
#include <stddef.h>

/* The longest id, in bytes; every buffer and message says this number. */
#define ID_MAX 64

#define ID_STR_(x) #x
#define ID_STR(x)  ID_STR_(x)

/* What messages say of an id, e.g. "must be " ID_RULE "." */
#define ID_RULE        "1 to " ID_STR(ID_MAX) " characters of A-Z a-z 0-9 _ -"
#define ID_RULE_DOTTED "1 to " ID_STR(ID_MAX) " characters of A-Z a-z 0-9 _ - ."

/* Which characters an id may hold besides A-Z a-z 0-9 _ -. */
enum id_charset {
  ID_PLAIN,  /* user ids, purchase ids */
  ID_DOTTED, /* also '.': client ids, request ids, purchase ids that allow it */
};

/* True for 1 to ID_MAX characters of the charset; false for NULL. */
bool id_is_valid(const char *text, enum id_charset charset);

/* The same for the first len bytes of text (which need not end there). */
bool id_is_valid_n(const char *text, size_t len, enum id_charset charset);

#endif
