#ifndef PURCHASES_LIB_HTTP_SYNTAX_H
#define PURCHASES_LIB_HTTP_SYNTAX_H

/* The character classes of RFC 9110's grammar that the parsers of header
 * values (framing, Accept-Encoding, If-None-Match) share. */

#include <stdbool.h>

/* tchar (section 5.6.2): the characters of a token. */
bool http_is_tchar(unsigned char c);

/* OWS (section 5.6.3): a space or a tab. */
bool http_is_ows(char c);

#endif
