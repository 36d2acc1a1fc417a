#ifndef PURCHASES_MIDDLEWARE_FRAMING_H
#define PURCHASES_MIDDLEWARE_FRAMING_H

/* The request head as it came off the wire, checked before anything else
 * reads it: method, version, the headers that frame the body, and every
 * header's name and bytes. Pure functions over the head; app/edge.c feeds
 * them from libmicrohttpd and answers what they refuse, then closes the
 * connection, so that nothing after an ambiguous message is ever served
 * (RFC 9112 sections 3, 5, 6 and 11.2). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/http_syntax.h"
#include "middleware/problem.h"

/* One header as received: the name and value with their lengths, which
 * reveal a NUL that a C string would hide. */
struct framing_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
};

struct framing_head {
  const char *method;
  const char *version; /* "HTTP/1.1" */
  const char *url;     /* as sent, before decoding */
  const struct framing_header *headers;
  size_t header_count;
};

/* What the check found. When refuse is true, status/type/detail describe
 * the answer (the detail names the header when one is to blame) and the
 * connection must be closed after it. Otherwise has_body says whether a
 * body follows, content_length its announced size (chunked: unknown). */
struct framing_verdict {
  bool refuse;
  enum problem_type type;
  char detail[160];
  char header[48]; /* the header a 400 is about, printable ASCII; "" for none */
  bool has_body;
  bool chunked;
  uint64_t content_length;
};

/* Checks the head; fills *verdict. Never fails otherwise. The header lines
 * are checked against HTTP_HEADER_* (lib/http_syntax.h), and a header that means one thing
 * (x-client-id, Origin, ...: see SINGLE_HEADERS in framing.c) sent on two
 * lines, spelt alike or not, is a 400 naming it. */
void framing_check(const struct framing_head *head, struct framing_verdict *verdict);

/* One string that the parser of the head points at inside the buffer it
 * read the head into. */
struct framing_piece {
  const char *at;
  size_t len;
};

/* What the pieces a parser returned say about the head it parsed. */
enum framing_bytes {
  FRAMING_BYTES_WHOLE,   /* every byte between the pieces is one the syntax puts there */
  FRAMING_BYTES_HIDDEN,  /* a piece hides bytes: a NUL inside it cut it short */
  FRAMING_BYTES_REBUILT, /* a piece was built elsewhere, from more than one line */
  FRAMING_BYTES_UNKNOWN  /* the parser does not point into the head: nothing can be said */
};

/* libmicrohttpd parses the head in place and hands out C strings, so a NUL
 * inside a header value or the request target cuts it short, and the bytes
 * after the NUL are never seen by anyone above it. Given the head's buffer
 * (start, size bytes) and the pieces the parser returned, in order, this
 * says whether every byte between them is one the syntax puts there: white
 * space, CR, LF, the colon, or the NUL the parser itself writes.
 *
 * A header folded onto the next line (obs-fold, RFC 9112 section 5.2) is
 * the one piece libmicrohttpd 0.9.75 builds outside the buffer: it appends
 * the continuation to the header's *name* in a block of its own, so that
 * "x-user-id: 1\r\n 2" reads as a header "x-user-id2" and x-user-id looks
 * absent. A piece outside the buffer or out of order, when the first lies
 * inside it, is that: FRAMING_BYTES_REBUILT. A first piece outside the
 * buffer means a parser that copies: FRAMING_BYTES_UNKNOWN. */
enum framing_bytes framing_head_bytes(const char *start, size_t size,
                                      const struct framing_piece *pieces, size_t count);

/* True when the first len bytes are well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool framing_is_utf8(const char *bytes, size_t len);

/* The length of the "http://" or "https://" (any case) that starts an
 * absolute-form target (RFC 9112 section 3.2.2); 0 for any other target. */
size_t framing_absolute_scheme(const char *target);

#endif
