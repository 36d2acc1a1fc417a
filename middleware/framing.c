#include "middleware/framing.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/http_syntax.h"

/* The methods of RFC 9110 and RFC 5789, spelt as they must be: a method is
 * case-sensitive, so "GeT" is not GET but a method this server does not
 * know (501). A known method that a route does not take is a 405, later. */
static const char *const KNOWN_METHODS[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                            "CONNECT", "OPTIONS", "TRACE", "PATCH"};

/* Headers the service reads. Their bytes must be UTF-8: the layer below
 * would otherwise drop them, and the service would act as if they were
 * never sent (a retried POST without its Idempotency-Key, a PATCH without
 * its If-Match). Any other header is passed on or dropped unread. */
static const char *const READ_HEADERS[] = {"host",
                                           "x-client-id",
                                           "x-user-id",
                                           "authorization",
                                           "x-access-reason",
                                           "x-request-id",
                                           "idempotency-key",
                                           "if-match",
                                           "if-none-match",
                                           "content-type",
                                           "content-length",
                                           "transfer-encoding",
                                           "traceparent",
                                           "accept-encoding",
                                           "origin",
                                           "access-control-request-method",
                                           "content-encoding"};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static bool is_token(const char *s, size_t len) {
  if (len == 0) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (!http_is_tchar((unsigned char)s[i])) {
      return false;
    }
  }
  return true;
}

bool framing_is_utf8(const char *bytes, size_t len) {
  const unsigned char *p = (const unsigned char *)bytes;
  size_t i = 0;

  while (i < len) {
    unsigned char c = p[i];
    size_t extra;
    uint32_t code;
    uint32_t least;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1, code = c & 0x1fu, least = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2, code = c & 0x0fu, least = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3, code = c & 0x07u, least = 0x10000;
    } else {
      return false;
    }
    if (len - i <= extra) {
      return false;
    }
    for (size_t k = 1; k <= extra; k++) {
      if ((p[i + k] & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (p[i + k] & 0x3fu);
    }
    if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

static void refuse(struct framing_verdict *verdict, enum problem_type type, const char *format,
                   const char *name, size_t name_len) {
  char shown[48];
  size_t n = 0;

  /* A name quoted in the detail is shown in printable ASCII only. */
  for (size_t i = 0; name != NULL && i < name_len && n + 1 < sizeof(shown); i++) {
    unsigned char c = (unsigned char)name[i];
    shown[n++] = c > 0x20 && c < 0x7f ? (char)c : '?';
  }
  shown[n] = '\0';
  verdict->refuse = true;
  verdict->type = type;
  snprintf(verdict->detail, sizeof(verdict->detail), format, shown);
  snprintf(verdict->header, sizeof(verdict->header), "%s", shown);
}

static bool name_is(const struct framing_header *h, const char *name) {
  return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Headers that mean one thing: a second line of one, in any case, is a 400,
 * where a parser would join the two or a look-up see only the first. (Host,
 * Content-Length and Transfer-Encoding have messages of their own.) */
static const char *const SINGLE_HEADERS[] = {
    "x-client-id",  "x-user-id",       "authorization",   "x-access-reason",
    "x-request-id", "idempotency-key", "if-match",        "content-type",
    "traceparent",  "origin",          "content-encoding"};

/* The limits on the header lines (431), then the headers sent twice. */
static bool check_lines(const struct framing_head *head, struct framing_verdict *verdict) {
  size_t seen[COUNT(SINGLE_HEADERS)] = {0};
  size_t total = 0;

  if (head->header_count > HTTP_HEADER_LINES_MAX) {
    verdict->refuse = true;
    verdict->type = PROBLEM_HEADERS_TOO_LARGE;
    snprintf(verdict->detail, sizeof(verdict->detail), "At most %d header lines are accepted.",
             HTTP_HEADER_LINES_MAX);
    return false;
  }
  for (size_t i = 0; i < head->header_count; i++) {
    const struct framing_header *h = &head->headers[i];
    if (h->value_len > HTTP_HEADER_VALUE_MAX) {
      _Static_assert(HTTP_HEADER_VALUE_MAX == 8192, "say the limit below");
      refuse(verdict, PROBLEM_HEADERS_TOO_LARGE, "Header '%s' is longer than 8192 bytes.", h->name,
             h->name_len);
      return false;
    }
    total += h->name_len + h->value_len;
  }
  if (total > HTTP_HEADER_BYTES_MAX) {
    verdict->refuse = true;
    verdict->type = PROBLEM_HEADERS_TOO_LARGE;
    snprintf(verdict->detail, sizeof(verdict->detail),
             "The header lines hold more than %d bytes in all.", HTTP_HEADER_BYTES_MAX);
    return false;
  }
  for (size_t i = 0; i < head->header_count; i++) {
    for (size_t s = 0; s < COUNT(SINGLE_HEADERS); s++) {
      if (name_is(&head->headers[i], SINGLE_HEADERS[s]) && ++seen[s] > 1) {
        refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' may be sent only once.",
               SINGLE_HEADERS[s], strlen(SINGLE_HEADERS[s]));
        return false;
      }
    }
  }
  return true;
}

static bool is_read_header(const struct framing_header *h) {
  for (size_t i = 0; i < COUNT(READ_HEADERS); i++) {
    if (name_is(h, READ_HEADERS[i])) {
      return true;
    }
  }
  return false;
}

/* One header's name and bytes; false (and the verdict filled) when refused. */
static bool check_header(const struct framing_header *h, struct framing_verdict *verdict) {
  if (h->name_len == 0) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, "A header line has no name before its colon.%s", "",
           0);
    return false;
  }
  if (!is_token(h->name, h->name_len)) {
    refuse(verdict, PROBLEM_INVALID_REQUEST,
           "Header name '%s' holds a byte a header name may not hold (white space before the "
           "colon, a control character).",
           h->name, h->name_len);
    return false;
  }
  if (h->value == NULL || strlen(h->value) != h->value_len) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' holds a NUL byte.", h->name, h->name_len);
    return false;
  }
  for (size_t i = 0; i < h->value_len; i++) {
    unsigned char c = (unsigned char)h->value[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' holds a control character.", h->name,
             h->name_len);
      return false;
    }
  }
  if (is_read_header(h) && !framing_is_utf8(h->value, h->value_len)) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' is not valid UTF-8.", h->name,
           h->name_len);
    return false;
  }
  return true;
}

/* Content-Length = 1*DIGIT, nothing else (no sign, list or space). */
static bool parse_length(const char *value, size_t len, uint64_t *out) {
  uint64_t n = 0;
  if (len == 0 || len > 19) {
    return false;
  }
  for (size_t i = 0; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') {
      return false;
    }
    n = n * 10 + (uint64_t)(value[i] - '0');
  }
  *out = n;
  return true;
}

/* Host = uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986 section
 * 3.2.2): an IP literal in brackets, or a reg-name or IPv4 address of
 * unreserved, sub-delims and %XX escapes; the port, digits. Empty is valid
 * (a target with no authority). */
static bool host_is_valid(const char *value, size_t len) {
  static const char NAME_BYTES[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                   "-._~!$&'()*+,;=";
  size_t i = 0;

  len = http_ows_trimmed_len(value, len);
  if (len > 0 && value[0] == '[') {
    for (i = 1; i < len && value[i] != ']'; i++) {
      if (value[i] == '\0' || (value[i] != ':' && strchr(NAME_BYTES, value[i]) == NULL)) {
        return false;
      }
    }
    if (i == len || i == 1) {
      return false;
    }
    i++;
  } else {
    for (; i < len && value[i] != ':'; i++) {
      bool escape = value[i] == '%' && i + 2 < len && isxdigit((unsigned char)value[i + 1]) &&
                    isxdigit((unsigned char)value[i + 2]);
      if (escape) {
        i += 2;
      } else if (value[i] == '\0' || strchr(NAME_BYTES, value[i]) == NULL) {
        return false;
      }
    }
  }
  if (i < len && value[i++] != ':') {
    return false;
  }
  for (; i < len; i++) {
    if (value[i] < '0' || value[i] > '9') {
      return false;
    }
  }
  return true;
}

size_t framing_absolute_scheme(const char *target) {
  return strncasecmp(target, "http://", 7) == 0    ? 7
         : strncasecmp(target, "https://", 8) == 0 ? 8
                                                   : 0;
}

/* RFC 9112 section 3.2: the origin-form ("/user/1"), the absolute-form
 * ("http://shop.example/user/1"), and "*" for OPTIONS alone (the
 * authority-form is CONNECT's, which this server does not implement). */
static bool target_form_is_valid(const char *method, const char *url) {
  return url[0] == '/' || framing_absolute_scheme(url) > 0 ||
         (strcmp(url, "*") == 0 && strcmp(method, "OPTIONS") == 0);
}

/* What is wrong with the authority of an absolute-form target, or NULL
 * when nothing is: RFC 3986 section 3.2 makes it host[:port] after an
 * optional "userinfo@", which RFC 9110 section 4.2.4 has a recipient treat
 * as an error in an http(s) URI; section 4.2.1 refuses an empty host. A
 * request target has no fragment (RFC 9112 section 3.2). libmicrohttpd
 * hands the target over %-decoded and without its query, so "%40" is an
 * '@' here, refused as one. */
static const char *absolute_target_problem(const char *url) {
  const char *authority = url + framing_absolute_scheme(url);
  size_t len = strcspn(authority, "/?#");
  const char *problem = NULL;

  if (memchr(authority, '@', len) != NULL) {
    problem = "The request target's authority holds userinfo (an '@'), which an http(s) URI "
              "may not carry (RFC 9110 section 4.2.4).%s";
  } else if (len == 0) {
    problem = "The request target has no host after its scheme (RFC 9110 section 4.2.1).%s";
  } else if (!host_is_valid(authority, len)) {
    problem = "The request target's authority must be a host and an optional port (RFC 3986 "
              "section 3.2).%s";
  } else if (strchr(authority, '#') != NULL) {
    problem = "The request target holds a fragment ('#'), which a request never sends (RFC "
              "9112 section 3.2).%s";
  }
  return problem;
}

static bool check_method_and_target(const struct framing_head *head,
                                    struct framing_verdict *verdict) {
  const char *problem = NULL;
  bool known = false;

  for (size_t i = 0; i < COUNT(KNOWN_METHODS); i++) {
    known = known || strcmp(head->method, KNOWN_METHODS[i]) == 0;
  }
  if (!known) {
    refuse(verdict, PROBLEM_NOT_IMPLEMENTED,
           "The method '%s' is not one this server implements (methods are case-sensitive).",
           head->method, strlen(head->method));
    return false;
  }
  for (const unsigned char *p = (const unsigned char *)head->url; *p != '\0'; p++) {
    if (*p <= 0x20 || *p == 0x7f) {
      refuse(verdict, PROBLEM_INVALID_REQUEST,
             "The request target holds a space or a control byte (sent as such or %%-encoded).%s",
             "", 0);
      return false;
    }
  }
  if (!target_form_is_valid(head->method, head->url)) {
    refuse(verdict, PROBLEM_INVALID_REQUEST,
           "The request target must be a path that starts with '/' or an absolute http(s) URI "
           "(RFC 9112 section 3.2).%s",
           "", 0);
    return false;
  }
  problem = framing_absolute_scheme(head->url) > 0 ? absolute_target_problem(head->url) : NULL;
  if (problem != NULL) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, problem, "", 0);
    return false;
  }
  return true;
}

void framing_check(const struct framing_head *head, struct framing_verdict *verdict) {
  const struct framing_header *length = NULL;
  const struct framing_header *coding = NULL;
  size_t hosts = 0;

  memset(verdict, 0, sizeof(*verdict));
  if (!check_method_and_target(head, verdict)) {
    return;
  }
  for (size_t i = 0; i < head->header_count; i++) {
    const struct framing_header *h = &head->headers[i];
    if (!check_header(h, verdict)) {
      return;
    }
    if (name_is(h, "host")) {
      if (!host_is_valid(h->value, h->value_len)) {
        refuse(verdict, PROBLEM_INVALID_REQUEST,
               "Header '%s' must be a host name or address, and a port if any (RFC 9112 "
               "section 3.2).",
               h->name, h->name_len);
        return;
      }
      hosts++;
    } else if (name_is(h, "content-length")) {
      if (length != NULL) {
        refuse(verdict, PROBLEM_INVALID_REQUEST,
               "Header '%s' may be sent only once: two lengths make the body's end ambiguous.",
               h->name, h->name_len);
        return;
      }
      length = h;
    } else if (name_is(h, "transfer-encoding")) {
      if (coding != NULL) {
        refuse(verdict, PROBLEM_NOT_IMPLEMENTED,
               "Header '%s' may be sent only once, as 'chunked': no other coding is implemented.",
               h->name, h->name_len);
        return;
      }
      coding = h;
    }
  }
  if (strcmp(head->version, "HTTP/1.1") == 0 && hosts == 0) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, "An HTTP/1.1 request needs a %s header.", "Host", 4);
    return;
  }
  if (hosts > 1) {
    refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' may be sent only once.", "Host", 4);
    return;
  }
  if (!check_lines(head, verdict)) {
    return;
  }
  if (length != NULL && coding != NULL) {
    refuse(verdict, PROBLEM_INVALID_REQUEST,
           "Content-Length and %s together make the body's end ambiguous; send one.",
           "Transfer-Encoding", 17);
    return;
  }
  if (coding != NULL) {
    if (strcmp(head->version, "HTTP/1.1") != 0 || coding->value_len != 7 ||
        strncasecmp(coding->value, "chunked", 7) != 0) {
      refuse(verdict, PROBLEM_NOT_IMPLEMENTED,
             "Header '%s' must be 'chunked' (on HTTP/1.1): no other transfer coding is "
             "implemented.",
             coding->name, coding->name_len);
      return;
    }
    verdict->has_body = true;
    verdict->chunked = true;
    return;
  }
  if (length != NULL) {
    if (!parse_length(length->value, length->value_len, &verdict->content_length)) {
      refuse(verdict, PROBLEM_INVALID_REQUEST, "Header '%s' must be a decimal number of bytes.",
             length->name, length->name_len);
      return;
    }
    verdict->has_body = verdict->content_length > 0;
  }
}

enum framing_bytes framing_head_bytes(const char *start, size_t size,
                                      const struct framing_piece *pieces, size_t count) {
  uintptr_t begin = (uintptr_t)start;
  uintptr_t end = begin + size;
  uintptr_t at = begin;

  /* First: do the pieces lie in order inside the buffer? */
  for (size_t i = 0; i < count; i++) {
    uintptr_t piece = (uintptr_t)pieces[i].at;
    if (pieces[i].at == NULL || piece < at || piece + pieces[i].len > end) {
      return i == 0 ? FRAMING_BYTES_UNKNOWN : FRAMING_BYTES_REBUILT;
    }
    at = piece + pieces[i].len;
  }
  at = begin;
  for (size_t i = 0; i <= count; i++) {
    uintptr_t next = i < count ? (uintptr_t)pieces[i].at : end;
    for (const char *c = (const char *)at; (uintptr_t)c < next; c++) {
      if (*c != '\0' && *c != ' ' && *c != '\t' && *c != '\r' && *c != '\n' && *c != ':') {
        return FRAMING_BYTES_HIDDEN;
      }
    }
    if (i < count) {
      at = next + pieces[i].len;
    }
  }
  return FRAMING_BYTES_WHOLE;
}
