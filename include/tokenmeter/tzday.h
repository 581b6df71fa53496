/* SPDX-License-Identifier: MIT */
/*
 * tzday — calendar days in an IANA time zone (the [aggregate] time_zone
 * setting; docs/operations.md "Daily aggregation").
 *
 * A day is [its first instant, the next day's first instant) in the zone;
 * across a DST change a day is 23 or 25 hours long, which is why boundaries
 * come from the TZ database (the same one InfluxDB's tz() reads on Debian)
 * and are never computed as 86400-second steps.
 *
 * tzday_use() selects the zone for the whole process by setting TZ: the
 * commands that need days (aggregate, report) call it once after loading the
 * configuration and use no other local time.
 */
#ifndef TOKENMETER_TZDAY_H
#define TOKENMETER_TZDAY_H

#include <stdint.h>

#include "tokenmeter/err.h"

/* A proleptic Gregorian date; compare with tzday_cmp(). */
struct tzday_date {
    int y, m, d;
};

#define TZDAY_DATE_LEN 11 /* "YYYY-MM-DD" and its NUL */

/* Parses exactly "YYYY-MM-DD" (a real date, years 1970..2261; s is only
 * read). Returns 0 or -EINVAL. */
int tzday_parse(const char *s, struct tzday_date *out);

/* Writes "YYYY-MM-DD" into the caller's out. */
void tzday_format(struct tzday_date d, char out[TZDAY_DATE_LEN]);

/* The date n days after d (n may be negative). */
struct tzday_date tzday_add(struct tzday_date d, int n);

/* Days from a to b (b - a). */
int tzday_diff(struct tzday_date a, struct tzday_date b);

/* <0, 0, >0 as a is before, equal to or after b. */
int tzday_cmp(struct tzday_date a, struct tzday_date b);

/* Checks that zone (only read) names a zone of the TZ database ("UTC" included): a
 * relative name of letters, digits, '_', '-', '+' and '/', without "..",
 * whose file exists under $TZDIR (default /usr/share/zoneinfo). Returns 0 or
 * -EINVAL. */
int tzday_zone_valid(const char *zone);

/* Makes zone (already validated; copied, not kept) the process's local
 * time zone. Returns 0 or -ENOMEM. */
int tzday_use(const char *zone);

/* The first instant (ns since the epoch) of day d in the current zone. When
 * midnight does not exist (a DST jump at 00:00) it is the first instant that
 * is on day d. */
int64_t tzday_start_ns(struct tzday_date d);

/* The ISO weekday (1 = Monday .. 7 = Sunday) of instant ns in `zone` (a
 * zone tzday_zone_valid() accepted; only read), whatever the process's
 * zone: TZ is switched for the call and put back as it was, so only a
 * single-threaded program may call it (tokenmeter is: cmd_io.h). The UTC
 * weekday if the zone cannot be used. */
int tzday_weekday_in(const char *zone, int64_t ns);

/* The ISO weekday (1 = Monday .. 7 = Sunday) of instant ns in UTC. */
int tzday_weekday_utc(int64_t ns);

/* The date of instant ns in the current zone. */
struct tzday_date tzday_of(int64_t ns);

/* A range of days, both ends included. */
struct tzday_range {
    struct tzday_date first, last;
    int ndays;
};

#define TZDAY_MAX_DAYS 3660

/* Resolves the day options shared by aggregate and report: `day` alone,
 * `from` with or without `to` (default: today), or `last` (N days ending
 * today, in the current zone); the strings are only read, and out is the
 * caller's. Returns 0, 1 when none was given (out untouched), or -EINVAL
 * with a message in err (bad date, from after to, mixed options, more than
 * TZDAY_MAX_DAYS days). */
int tzday_range_resolve(const char *day, const char *from, const char *to, const char *last,
                        struct tzday_range *out, char err[ERR_MAX]);

#endif
