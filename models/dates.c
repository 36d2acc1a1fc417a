#include "models/dates.h"

/* Reads exactly `n` decimal digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, int *out) {
  int value = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  *p += n;
  *out = value;
  return true;
}

static bool is_leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month) {
  static const int DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : DAYS[month - 1];
}

/* Days from 1970-01-01 to year-month-day in the proleptic Gregorian
 * calendar (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int year, int month, int day) {
  int64_t y = year - (month <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (month + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool parse_timestamp(const char *text, int64_t *ms) {
  const char *p = text;
  int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  int64_t offset_minutes = 0;

  if (!digits(&p, 4, &year) || *p++ != '-' || !digits(&p, 2, &month) || *p++ != '-' ||
      !digits(&p, 2, &day)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return false;
  }
  if (*p == 'T' || *p == 't') {
    p++;
    if (!digits(&p, 2, &hour) || *p++ != ':' || !digits(&p, 2, &minute)) {
      return false;
    }
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &second)) {
        return false;
      }
      if (*p == '.') {
        int scale = 100;
        p++;
        if (*p < '0' || *p > '9') {
          return false;
        }
        /* Up to nanoseconds; what lies below a millisecond is dropped. */
        for (int n = 0; *p >= '0' && *p <= '9'; n++, p++) {
          if (n == 9) {
            return false;
          }
          millis += (*p - '0') * scale;
          scale /= 10;
        }
      }
    }
    if (hour > 23 || minute > 59 || second > 59) {
      return false;
    }
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1;
      int oh, om;
      if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59) {
        return false;
      }
      offset_minutes = sign * (oh * 60 + om);
    } else {
      return false; /* a time needs its zone */
    }
  }
  if (*p != '\0') {
    return false;
  }
  int64_t minutes = (days_from_civil(year, month, day) * 24 + hour) * 60 + minute - offset_minutes;
  *ms = (minutes * 60 + second) * 1000 + millis;
  return true;
}
