#ifndef PURCHASES_LIB_HTTP_SYNTAX_H
#define PURCHASES_LIB_HTTP_SYNTAX_H

/* The character classes of RFC 9110's grammar that the parsers of header
 * values (framing, Accept-Encoding, If-None-Match) share. */

#include <stdbool.h>
#include <stddef.h>

/* The service's limits on the header lines as a client sent them (a header
 * on two lines is two), each a 431; checked by middleware/framing.c. */
#define HTTP_HEADER_LINES_MAX 64    /* lines */
#define HTTP_HEADER_VALUE_MAX 8192  /* bytes of one line's value; a JWT fits */
#define HTTP_HEADER_BYTES_MAX 16384 /* bytes of every name and value */

/* tchar (section 5.6.2): the characters of a token. */
bool http_is_tchar(unsigned char c);

/* OWS (section 5.6.3): a space or a tab. */
bool http_is_ows(char c);

/* The length of the first len bytes of a field value without the OWS that
 * ends them (RFC 9110 section 5.5: a field value excludes it); 0 when they
 * are all OWS. */
size_t http_ows_trimmed_len(const char *value, size_t len);

#endif
