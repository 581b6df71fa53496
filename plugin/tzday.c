/* SPDX-License-Identifier: MIT */
#include "tokenmeter/tzday.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tokenmeter/timeutil.h"

static time_t tzday_utc_midnight(struct tzday_date d)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = d.y - 1900;
    tm.tm_mon = d.m - 1;
    tm.tm_mday = d.d;
    return timegm(&tm);
}

static struct tzday_date tzday_from_tm(const struct tm *tm)
{
    struct tzday_date d = {tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday};
    return d;
}

int tzday_parse(const char *s, struct tzday_date *out)
{
    int v[3] = {0, 0, 0};
    static const int width[3] = {4, 2, 2};
    const char *p = s;
    for (int f = 0; f < 3; f++) {
        for (int i = 0; i < width[f]; i++, p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            v[f] = v[f] * 10 + (*p - '0');
        }
        if (*p != (f < 2 ? '-' : '\0'))
            return -EINVAL;
        p++;
    }
    struct tzday_date d = {v[0], v[1], v[2]};
    if (d.y < 1970 || d.y > 2261 || d.m < 1 || d.m > 12 || d.d < 1 || d.d > 31)
        return -EINVAL;
    /* 2026-02-30 would normalise to March: not a real date. */
    struct tm tm;
    time_t t = tzday_utc_midnight(d);
    gmtime_r(&t, &tm);
    if (tzday_cmp(tzday_from_tm(&tm), d) != 0)
        return -EINVAL;
    *out = d;
    return 0;
}

void tzday_format(struct tzday_date d, char out[TZDAY_DATE_LEN])
{
    snprintf(out, TZDAY_DATE_LEN, "%04u-%02u-%02u", (unsigned)d.y % 10000u, (unsigned)d.m % 100u,
             (unsigned)d.d % 100u);
}

struct tzday_date tzday_add(struct tzday_date d, int n)
{
    struct tm tm;
    time_t t = tzday_utc_midnight(d) + (time_t)n * 86400;
    gmtime_r(&t, &tm);
    return tzday_from_tm(&tm);
}

int tzday_diff(struct tzday_date a, struct tzday_date b)
{
    return (int)((tzday_utc_midnight(b) - tzday_utc_midnight(a)) / 86400);
}

int tzday_cmp(struct tzday_date a, struct tzday_date b)
{
    long x = (long)a.y * 10000 + a.m * 100 + a.d;
    long y = (long)b.y * 10000 + b.m * 100 + b.d;
    return x < y ? -1 : x > y;
}

int tzday_zone_valid(const char *zone)
{
    if (!zone || !*zone || zone[0] == '/' || strstr(zone, "..") || strlen(zone) > 200)
        return -EINVAL;
    for (const char *p = zone; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return -EINVAL;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return strcmp(zone, "UTC") == 0 ? 0 : -EINVAL;
    return 0;
}

int tzday_use(const char *zone)
{
    char spec[256];
    /* The leading ':' makes glibc read the zone file, never parse the name
     * as a POSIX rule string ("EST5EDT"-like names). */
    snprintf(spec, sizeof(spec), ":%s", zone);
    if (setenv("TZ", spec, 1) < 0)
        return -ENOMEM;
    tzset();
    return 0;
}

int tzday_weekday_in(const char *zone, int64_t ns)
{
    const char *was = getenv("TZ");
    char *saved = was ? strdup(was) : NULL;
    int64_t s = ns / 1000000000LL - (ns % 1000000000LL < 0);
    time_t t = (time_t)s;
    struct tm tm;
    int wday = -1;
    /* Without a copy of TZ it could not be put back: the UTC weekday. */
    if ((!was || saved) && tzday_use(zone) == 0) {
        if (localtime_r(&t, &tm))
            wday = tm.tm_wday;
        if (saved)
            setenv("TZ", saved, 1);
        else
            unsetenv("TZ");
        tzset();
    }
    free(saved);
    return wday < 0 ? tzday_weekday_utc(ns) : wday == 0 ? 7 : wday;
}

int tzday_weekday_utc(int64_t ns)
{
    int64_t s = ns / 1000000000LL - (ns % 1000000000LL < 0);
    int64_t day = s / 86400 - (s % 86400 < 0);
    return (int)(((day % 7) + 7 + 3) % 7) + 1; /* 1970-01-01 was a Thursday */
}

struct tzday_date tzday_of(int64_t ns)
{
    time_t t = (time_t)(ns / TIMEUTIL_NS_PER_S - (ns % TIMEUTIL_NS_PER_S < 0));
    struct tm tm;
    localtime_r(&t, &tm);
    return tzday_from_tm(&tm);
}

int64_t tzday_start_ns(struct tzday_date d)
{
    /* Offsets lie within -15h..+15h, so the day starts in this window; the
     * local date only grows with time there, so bisect for its first second. */
    time_t mid = tzday_utc_midnight(d);
    time_t lo = mid - 15 * 3600, hi = mid + 15 * 3600;
    while (lo < hi) {
        time_t m = lo + (hi - lo) / 2;
        struct tm tm;
        localtime_r(&m, &tm);
        if (tzday_cmp(tzday_from_tm(&tm), d) >= 0)
            hi = m;
        else
            lo = m + 1;
    }
    return (int64_t)lo * TIMEUTIL_NS_PER_S;
}

int tzday_range_resolve(const char *day, const char *from, const char *to, const char *last,
                        struct tzday_range *out, char err[ERR_MAX])
{
    struct tzday_date today = tzday_of(timeutil_now_ns());
    struct tzday_range r;
    int given = (day != NULL) + (from != NULL || to != NULL) + (last != NULL);
    if (given == 0)
        return 1;
    if (given > 1)
        return err_set(err, -EINVAL, "use one of --day, --from/--to and --last");
    if (day || from || to) {
        const char *a = day ? day : from, *b = day ? day : to;
        if (!a)
            return err_set(err, -EINVAL, "--to needs --from");
        if (tzday_parse(a, &r.first) < 0 || (b && tzday_parse(b, &r.last) < 0))
            return err_set(err, -EINVAL, "\"%.40s\": expected a date YYYY-MM-DD",
                           tzday_parse(a, &r.first) < 0 ? a : b);
        if (!b)
            r.last = today;
    } else {
        char *end = NULL;
        errno = 0;
        long n = strtol(last, &end, 10);
        if (errno || end == last || *end || n < 1 || n > TZDAY_MAX_DAYS)
            return err_set(err, -EINVAL, "--last \"%.40s\": expected 1 to %d days", last,
                           TZDAY_MAX_DAYS);
        r.last = today;
        r.first = tzday_add(today, (int)-(n - 1));
    }
    if (tzday_cmp(r.first, r.last) > 0)
        return err_set(err, -EINVAL, "the first day is after the last day");
    r.ndays = tzday_diff(r.first, r.last) + 1;
    if (r.ndays > TZDAY_MAX_DAYS)
        return err_set(err, -EINVAL, "%d days: at most %d at once", r.ndays, TZDAY_MAX_DAYS);
    *out = r;
    return 0;
}
