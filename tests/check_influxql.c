/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/influxql.h"

static void quoted(const char *in, char q, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influxql_quote(&b, in, q), 0);
    ck_assert_str_eq(b.data, want);
    buf_free(&b);
}

START_TEST(quote_identifiers_and_strings)
{
    quoted("llm_usage", '"', "\"llm_usage\"");
    quoted("telegraf", '\'', "'telegraf'");
    quoted("", '\'', "''");
    quoted("we\"ird db", '"', "\"we\\\"ird db\"");
    quoted("back\\slash", '"', "\"back\\\\slash\"");
    /* A value cannot leave its quotes, whichever quote surrounds it. */
    quoted("x' OR 1=1; DROP DATABASE \"telegraf\" --", '\'',
           "'x\\' OR 1=1; DROP DATABASE \\\"telegraf\\\" --'");
    quoted("a\\'b", '\'', "'a\\\\\\'b'");
    /* InfluxQL's scanner rejects a raw newline inside a literal. */
    quoted("two\nlines", '\'', "'two\\nlines'");
    quoted("Europe/Berlin", '\'', "'Europe/Berlin'");
}
END_TEST

START_TEST(quote_stops_at_the_cap)
{
    struct buf b;
    buf_init(&b, 8);
    ck_assert_int_eq(influxql_quote(&b, "a much longer name", '"'), -ENOSPC);
    ck_assert_int_eq(buf_error(&b), -ENOSPC);
    buf_free(&b);
}
END_TEST

static void url_is(const char *base, const char *path, const char *const *params, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influxql_url(&b, base, path, params), 0);
    ck_assert_str_eq(b.data, want);
    buf_free(&b);
}

START_TEST(url_building)
{
    const char *const q[] = {"db", "telegraf", "q", "SELECT 1; x=y&z", "epoch", "ns", NULL};
    url_is("http://127.0.0.1:8086", "/query", q,
           "http://127.0.0.1:8086/query?db=telegraf&q=SELECT%201%3B%20x%3Dy%26z&epoch=ns");
    /* A trailing slash is not doubled; a path prefix is kept. */
    url_is("https://h/influx/", "/ping", NULL, "https://h/influx/ping");
    url_is("http://h//", "/ping", NULL, "http://h/ping");
    /* NULL values drop their key; the first kept one gets '?'. */
    const char *const w[] = {"rp", NULL, "db", "d b", NULL};
    url_is("http://h", "/write", w, "http://h/write?db=d%20b");
    const char *const u[] = {"name", "m\xc3\xa9tr/ics~_.-", NULL};
    url_is("http://h", "/api/v2/buckets", u, "http://h/api/v2/buckets?name=m%C3%A9tr%2Fics~_.-");
}
END_TEST

START_TEST(percent_encoding)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influxql_percent_encode(&b, "SHOW DATABASES; a=b&c+d\n~_.-"), 0);
    ck_assert_str_eq(b.data, "SHOW%20DATABASES%3B%20a%3Db%26c%2Bd%0A~_.-");
    buf_free(&b);
    buf_init(&b, 4);
    ck_assert_int_eq(influxql_percent_encode(&b, "a b"), -ENOSPC);
    buf_free(&b);
}
END_TEST

START_TEST(go_durations)
{
    int64_t s = -1;
    ck_assert_int_eq(influxql_parse_duration("720h0m0s", &s), 0);
    ck_assert_int_eq(s, 30 * 86400);
    ck_assert_int_eq(influxql_parse_duration("0s", &s), 0);
    ck_assert_int_eq(s, 0);
    ck_assert_int_eq(influxql_parse_duration("1h30m0s", &s), 0);
    ck_assert_int_eq(s, 5400);
    ck_assert_int_eq(influxql_parse_duration("168h0m0s", &s), 0);
    ck_assert_int_eq(s, 7 * 86400);
    ck_assert_int_eq(influxql_parse_duration("", &s), -EINVAL);
    ck_assert_int_eq(influxql_parse_duration("30d", &s), -EINVAL);
    ck_assert_int_eq(influxql_parse_duration("1.5h", &s), -EINVAL);
    ck_assert_int_eq(influxql_parse_duration("5ms", &s), -EINVAL);
    ck_assert_int_eq(influxql_parse_duration("h", &s), -EINVAL);
    ck_assert_int_eq(influxql_parse_duration("99999999999999999999h", &s), -EINVAL);
}
END_TEST

START_TEST(duration_and_time_literals)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influxql_duration(&b, 30), 0);
    ck_assert_str_eq(b.data, "30d");
    buf_reset(&b);
    ck_assert_int_eq(influxql_duration(&b, 0), 0); /* keep forever */
    ck_assert_str_eq(b.data, "INF");
    buf_reset(&b);
    ck_assert_int_eq(influxql_time_range(&b, 1787616000000000000LL, 1787702400000000000LL), 0);
    ck_assert_str_eq(b.data, "time >= 1787616000000000000 AND time < 1787702400000000000");
    buf_reset(&b);
    ck_assert_int_eq(influxql_time_range(&b, -5, 0), 0); /* before 1970 */
    ck_assert_str_eq(b.data, "time >= -5 AND time < 0");
    buf_free(&b);
}
END_TEST

Suite *check_influxql_suite(void);
Suite *check_influxql_suite(void)
{
    Suite *s = suite_create("influxql");
    TCase *t = tcase_create("influxql");
    tcase_add_test(t, quote_identifiers_and_strings);
    tcase_add_test(t, quote_stops_at_the_cap);
    tcase_add_test(t, url_building);
    tcase_add_test(t, percent_encoding);
    tcase_add_test(t, go_durations);
    tcase_add_test(t, duration_and_time_literals);
    suite_add_tcase(s, t);
    return s;
}
