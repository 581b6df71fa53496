/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdint.h>

#include "tokenmeter/timeutil.h"

START_TEST(impossible_dates)
{
    int64_t ns = 0;
    /* before: carried over into the next month, the event on another day */
    ck_assert_int_eq(timeutil_parse_iso8601("2026-02-30T00:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-02-29T12:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-04-31T00:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("1900-02-29T00:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-00-10T00:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-01-00T00:00:00Z", &ns), -EINVAL);
    ck_assert_int_eq(timeutil_parse_iso8601("2024-02-29T00:00:00Z", &ns), 0);
    ck_assert_int_eq(ns, 1709164800LL * 1000000000LL);
    ck_assert_int_eq(timeutil_parse_iso8601("2000-02-29T00:00:00Z", &ns), 0);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-12-31T23:59:59Z", &ns), 0);
    ck_assert_int_eq(timeutil_parse_iso8601("2026-04-30T00:00:00Z", &ns), 0);
}
END_TEST

Suite *check_timeutil_suite(void);
Suite *check_timeutil_suite(void)
{
    Suite *s = suite_create("timeutil");
    TCase *t = tcase_create("timeutil");
    tcase_add_test(t, impossible_dates);
    suite_add_tcase(s, t);
    return s;
}
