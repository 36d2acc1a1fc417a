#ifndef PURCHASES_LIB_WORDS_H
#define PURCHASES_LIB_WORDS_H

/* Lists of names written out for messages, so that no message spells a
 * list out by hand: the table it comes from writes it. */

#include <stddef.h>

#include <jansson.h>

/* Copies bytes someone else chose (a caller's, an operator's argument) for
 * a log line or a terminal: printable ASCII as it is, every other byte (and
 * '"', '\\') as \xHH; cut with "..." to fit out_len (at least 8). */
void words_escape(const char *bytes, char *out, size_t out_len);

/* base + "/" + name as an RFC 6901 JSON pointer for a problem's errors
 * ('~' and '/' escaped as "~0" and "~1") into out (len bytes, always
 * terminated, cut to fit). name is the caller's own text: a byte that is
 * not printable ASCII shows as '?', so the pointer is always valid UTF-8
 * however the name was cut. */
void words_json_pointer(const char *base, const char *name, char *out, size_t len);

/* Room for a command-line argument in a message, escaped and cut to fit:
 * enough of it to recognise a typo, not a terminal's worth. */
#define WORDS_ESCAPED_ARG_MAX 80

/* What a JSON parser's error means, in words that repeat nothing of the
 * text parsed (jansson's own message quotes it near the fault, which may
 * be personal data or a terminal's escape sequence, and names its flags):
 * "it ends before the value does", "an object has a duplicate key", ... */
const char *words_json_fault(const json_error_t *error);

/* The name at index i of `list`, or NULL past the last one. */
typedef const char *(*words_at_fn)(const void *list, size_t i);

/* Writes the names of `list` into out (len bytes, always terminated,
 * truncated to fit): "a, b, c" when `last` is NULL, "a, b or c" with last
 * "or", "a and b" with "and". */
void words_join(words_at_fn word_at, const void *list, const char *last, char *out, size_t len);

/* A words_at_fn for a NULL-terminated array of strings. */
const char *words_of_array(const void *list, size_t i);

#endif
