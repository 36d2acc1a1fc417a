#ifndef PURCHASES_LIB_HTTP_SYNTAX_H
#define PURCHASES_LIB_HTTP_SYNTAX_H

/* The character classes of RFC 9110's grammar that the parsers of header
 * values (framing, Accept-Encoding, If-None-Match) share. */

#include <stdbool.h>
#include <stddef.h>

/* tchar (section 5.6.2): the characters of a token. */
bool http_is_tchar(unsigned char c);

/* OWS (section 5.6.3): a space or a tab. */
bool http_is_ows(char c);

/* The length of the first len bytes of a field value without the OWS that
 * ends them (RFC 9110 section 5.5: a field value excludes it); 0 when they
 * are all OWS. */
size_t http_ows_trimmed_len(const char *value, size_t len);

#endif
