/* SPDX-License-Identifier: MIT */
#include "tokenmeter/timeutil.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 2262-04-11T23:47:16Z is the last whole second int64 ns can hold. */
#define TIMEUTIL_MAX_S 9223372036LL

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -EINVAL;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
 * algorithm): no dependence on the process time zone, unlike mktime. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int timeutil_parse_iso8601(const char *s, int64_t *ns)
{
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -EINVAL;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -EINVAL;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -EINVAL;
    /* "2026-02-30" is refused, not carried into March: a webhook's
     * impossible date must not land its event on another day unseen. */
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    int64_t frac = 0;
    if (*p == '.' || *p == ',') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0)
            return -EINVAL;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om = 0;
        p++;
        if (digits(&p, 2, &oh))
            return -EINVAL;
        if (*p == ':')
            p++;
        if (*p && digits(&p, 2, &om))
            return -EINVAL;
        if (oh > 23 || om > 59)
            return -EINVAL;
        offset = sign * (oh * 3600 + om * 60);
    }
    if (*p)
        return -EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if (secs < 0 || secs > TIMEUTIL_MAX_S - 1)
        return -ERANGE;
    *ns = secs * TIMEUTIL_NS_PER_S + frac;
    return 0;
}

int timeutil_from_seconds(double seconds, int64_t *ns)
{
    if (!isfinite(seconds) || seconds < 0 || seconds >= (double)(TIMEUTIL_MAX_S - 1))
        return -ERANGE;
    double whole = floor(seconds);
    int64_t us = (int64_t)llround((seconds - whole) * 1e6);
    *ns = (int64_t)whole * TIMEUTIL_NS_PER_S + us * 1000;
    return 0;
}

int timeutil_from_units(int64_t value, int64_t unit_ns, int64_t *ns)
{
    /* The same ceiling as the other parsers, so the identity timestamp
     * (the second plus up to 1e9 - 1 ns) cannot overflow either. */
    if (value < 0 || value > (TIMEUTIL_MAX_S - 1) * (TIMEUTIL_NS_PER_S / unit_ns))
        return -ERANGE;
    *ns = value * unit_ns;
    return 0;
}

int64_t timeutil_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * TIMEUTIL_NS_PER_S + ts.tv_nsec;
}

void timeutil_format_rfc3339(int64_t ns, char *out, size_t cap)
{
    time_t secs = (time_t)(ns / TIMEUTIL_NS_PER_S);
    int ms = (int)((ns % TIMEUTIL_NS_PER_S) / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", date, ms);
}
