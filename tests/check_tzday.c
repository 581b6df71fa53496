/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "tokenmeter/timeutil.h"
#include "tokenmeter/tzday.h"

#define HOUR_NS (3600LL * 1000000000LL)

static struct tzday_date D(const char *s) {
    struct tzday_date d;
    ck_assert_int_eq(tzday_parse(s, &d), 0);
    return d;
}

START_TEST(dates)
{
    struct tzday_date d;
    char out[TZDAY_DATE_LEN];
    ck_assert_int_eq(tzday_parse("2026-08-25", &d), 0);
    ck_assert_int_eq(d.y, 2026);
    ck_assert_int_eq(d.m, 8);
    ck_assert_int_eq(d.d, 25);
    ck_assert_int_eq(tzday_parse("2024-02-29", &d), 0);
    ck_assert_int_eq(tzday_parse("2026-02-29", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("2026-02-30", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("2026-13-01", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("2026-1-01", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("2026-01-01x", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("2026-01-01T00:00:00Z", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("1969-12-31", &d), -EINVAL);
    ck_assert_int_eq(tzday_parse("", &d), -EINVAL);
    tzday_format(tzday_add(D("2026-12-31"), 1), out);
    ck_assert_str_eq(out, "2027-01-01");
    tzday_format(tzday_add(D("2024-03-01"), -1), out);
    ck_assert_str_eq(out, "2024-02-29");
    ck_assert_int_eq(tzday_diff(D("2026-01-01"), D("2027-01-01")), 365);
    ck_assert_int_eq(tzday_cmp(D("2026-01-02"), D("2026-01-10")), -1);
    ck_assert_int_eq(tzday_cmp(D("2026-01-02"), D("2026-01-02")), 0);
}
END_TEST

START_TEST(zones)
{
    ck_assert_int_eq(tzday_zone_valid("UTC"), 0);
    ck_assert_int_eq(tzday_zone_valid("America/Los_Angeles"), 0);
    ck_assert_int_eq(tzday_zone_valid("Etc/GMT+5"), 0);
    ck_assert_int_eq(tzday_zone_valid(""), -EINVAL);
    ck_assert_int_eq(tzday_zone_valid("Nowhere/Atlantis"), -EINVAL);
    ck_assert_int_eq(tzday_zone_valid("/etc/passwd"), -EINVAL);
    ck_assert_int_eq(tzday_zone_valid("../../etc/passwd"), -EINVAL);
    ck_assert_int_eq(tzday_zone_valid("UTC'); DROP"), -EINVAL);
    ck_assert_int_eq(tzday_zone_valid("America"), -EINVAL); /* a directory */
}
END_TEST

START_TEST(day_boundaries_dst)
{
    ck_assert_int_eq(tzday_use("UTC"), 0);
    ck_assert_int_eq(tzday_start_ns(D("2026-08-25")), 1787616000LL * 1000000000LL);
    ck_assert_int_eq(tzday_use("America/Los_Angeles"), 0);
    /* PDT: local midnight is 07:00Z */
    ck_assert_int_eq(tzday_start_ns(D("2026-08-25")), 1787616000LL * 1000000000LL + 7 * HOUR_NS);
    /* 2026-03-08 is 23 hours long, 2026-11-01 25 hours. */
    int64_t a = tzday_start_ns(D("2026-03-08")), b = tzday_start_ns(D("2026-03-09"));
    ck_assert_int_eq(a, 1772956800LL * 1000000000LL); /* 08:00Z, still PST */
    ck_assert_int_eq(b - a, 23 * HOUR_NS);
    a = tzday_start_ns(D("2026-11-01"));
    b = tzday_start_ns(D("2026-11-02"));
    ck_assert_int_eq(b - a, 25 * HOUR_NS);
    /* An event at 2026-08-26T06:30Z is still the 25th in Los Angeles. */
    int64_t t = 1787702400LL * 1000000000LL + 6 * HOUR_NS + HOUR_NS / 2;
    char out[TZDAY_DATE_LEN];
    tzday_format(tzday_of(t), out);
    ck_assert_str_eq(out, "2026-08-25");
    tzday_format(tzday_of(a - 1), out);
    ck_assert_str_eq(out, "2026-10-31");
    tzday_format(tzday_of(a), out);
    ck_assert_str_eq(out, "2026-11-01");
    ck_assert_int_eq(tzday_use("UTC"), 0);
    tzday_format(tzday_of(t), out);
    ck_assert_str_eq(out, "2026-08-26");
    /* A zone whose DST starts at midnight: the day begins at 01:00 local. */
    ck_assert_int_eq(tzday_use("America/Santiago"), 0);
    int64_t s = tzday_start_ns(D("2026-09-06"));
    tzday_format(tzday_of(s), out);
    ck_assert_str_eq(out, "2026-09-06");
    tzday_format(tzday_of(s - 1000000000LL), out);
    ck_assert_str_eq(out, "2026-09-05");
    tzday_use("UTC");
}
END_TEST

START_TEST(ranges)
{
    struct tzday_range r;
    char err[ERR_MAX], out[TZDAY_DATE_LEN];
    tzday_use("UTC");
    ck_assert_int_eq(tzday_range_resolve(NULL, NULL, NULL, NULL, &r, err), 1);
    ck_assert_int_eq(tzday_range_resolve("2026-08-25", NULL, NULL, NULL, &r, err), 0);
    ck_assert_int_eq(r.ndays, 1);
    ck_assert_int_eq(tzday_range_resolve(NULL, "2026-08-25", "2026-09-03", NULL, &r, err), 0);
    ck_assert_int_eq(r.ndays, 10);
    tzday_format(r.last, out);
    ck_assert_str_eq(out, "2026-09-03");
    ck_assert_int_eq(tzday_range_resolve(NULL, NULL, NULL, "3", &r, err), 0);
    ck_assert_int_eq(r.ndays, 3);
    ck_assert_int_eq(tzday_diff(r.first, r.last), 2);
    ck_assert_int_eq(tzday_range_resolve(NULL, "2026-09-03", "2026-08-25", NULL, &r, err), -EINVAL);
    ck_assert_int_eq(tzday_range_resolve("2026-08-25", NULL, NULL, "3", &r, err), -EINVAL);
    ck_assert_int_eq(tzday_range_resolve(NULL, NULL, "2026-08-25", NULL, &r, err), -EINVAL);
    ck_assert_int_eq(tzday_range_resolve(NULL, NULL, NULL, "0", &r, err), -EINVAL);
    ck_assert_int_eq(tzday_range_resolve(NULL, NULL, NULL, "3x", &r, err), -EINVAL);
    ck_assert_int_eq(tzday_range_resolve("yesterday", NULL, NULL, NULL, &r, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "YYYY-MM-DD"));
    ck_assert_int_eq(tzday_range_resolve(NULL, "2000-01-01", "2026-01-01", NULL, &r, err), -EINVAL);
}
END_TEST

/* The weekday on another calendar than the process's, which stays as it was. */
START_TEST(weekday_in_a_zone)
{
    int64_t ns;
    /* Friday 20:00 UTC is Saturday 04:00 in Shanghai (UTC+8, no DST) */
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-28T20:00:00Z", &ns), 0);
    setenv("TZ", ":America/Los_Angeles", 1);
    ck_assert_int_eq(tzday_weekday_in("Asia/Shanghai", ns), 6);
    ck_assert_str_eq(getenv("TZ"), ":America/Los_Angeles");
    /* Saturday 03:00 UTC is Friday 20:00 in Los Angeles (PDT, UTC-7) */
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-29T03:00:00Z", &ns), 0);
    unsetenv("TZ");
    ck_assert_int_eq(tzday_weekday_in("America/Los_Angeles", ns), 5);
    ck_assert_ptr_null(getenv("TZ"));
    ck_assert_int_eq(tzday_weekday_in("UTC", ns), 6);
    /* a TZ of any length is put back */
    char longtz[400];
    memset(longtz, 'A', sizeof(longtz) - 1);
    longtz[sizeof(longtz) - 1] = '\0';
    setenv("TZ", longtz, 1);
    ck_assert_int_eq(tzday_weekday_in("America/Los_Angeles", ns), 5);
    ck_assert_str_eq(getenv("TZ"), longtz);
    unsetenv("TZ");
    /* Sunday is 7, as ISO 8601 numbers it */
    ck_assert_int_eq(timeutil_parse_iso8601("2026-08-30T12:00:00Z", &ns), 0);
    ck_assert_int_eq(tzday_weekday_in("Asia/Shanghai", ns), 7);
}
END_TEST

Suite *check_tzday_suite(void);
Suite *check_tzday_suite(void)
{
    Suite *s = suite_create("tzday");
    TCase *t = tcase_create("tzday");
    tcase_add_test(t, dates);
    tcase_add_test(t, zones);
    tcase_add_test(t, day_boundaries_dst);
    tcase_add_test(t, ranges);
    tcase_add_test(t, weekday_in_a_zone);
    suite_add_tcase(s, t);
    return s;
}
