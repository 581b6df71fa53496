/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "testutil.h"
#include "tokenmeter/influx.h"

static void quoted(const char *in, char q, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influx_quote(&b, in, q), 0);
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

static void url_is(const char *base, const char *path, const char *const *params, const char *want)
{
    struct buf b;
    buf_init(&b, 4096);
    ck_assert_int_eq(influx_url(&b, base, path, params), 0);
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

START_TEST(go_durations)
{
    int64_t s = -1;
    ck_assert_int_eq(influx_parse_duration("720h0m0s", &s), 0);
    ck_assert_int_eq(s, 30 * 86400);
    ck_assert_int_eq(influx_parse_duration("0s", &s), 0);
    ck_assert_int_eq(s, 0);
    ck_assert_int_eq(influx_parse_duration("1h30m0s", &s), 0);
    ck_assert_int_eq(s, 5400);
    ck_assert_int_eq(influx_parse_duration("168h0m0s", &s), 0);
    ck_assert_int_eq(s, 7 * 86400);
    ck_assert_int_eq(influx_parse_duration("", &s), -EINVAL);
    ck_assert_int_eq(influx_parse_duration("30d", &s), -EINVAL);
    ck_assert_int_eq(influx_parse_duration("1.5h", &s), -EINVAL);
    ck_assert_int_eq(influx_parse_duration("5ms", &s), -EINVAL);
    ck_assert_int_eq(influx_parse_duration("h", &s), -EINVAL);
    ck_assert_int_eq(influx_parse_duration("99999999999999999999h", &s), -EINVAL);
}
END_TEST

static const char good_doc[] =
    "{\"results\":[{\"statement_id\":0,\"series\":["
    "{\"name\":\"llm_usage\",\"tags\":{\"model\":\"m1\",\"org\":\"acme\",\"status\":\"success\"},"
    "\"columns\":[\"time\",\"requests\",\"cost_usd\"],"
    "\"values\":[[1787616000000000000,3,0.25],[1787702400000000000,1,null]]},"
    "{\"name\":\"llm_usage\",\"tags\":{\"org\":\"\"},\"columns\":[\"time\",\"requests\"],"
    "\"values\":[[1787616000000000000,7]]}]},{\"statement_id\":1}]}";

START_TEST(response_series)
{
    char err[ERR_MAX];
    struct influx_response *r = NULL;
    ck_assert_int_eq(influx_response_parse(good_doc, strlen(good_doc), &r, err), 0);
    ck_assert_uint_eq(influx_response_statements(r), 2);
    struct influx_series s;
    ck_assert_int_eq(influx_response_series(r, 0, 0, &s), 0);
    ck_assert_str_eq(s.name, "llm_usage");
    ck_assert_str_eq(influx_series_tag(&s, "org"), "acme");
    ck_assert_str_eq(influx_series_tag(&s, "team"), ""); /* absent tag */
    ck_assert_uint_eq(influx_series_rows(&s), 2);
    ck_assert_int_eq(influx_series_column(&s, "requests"), 1);
    ck_assert_int_eq(influx_series_column(&s, "nope"), -1);
    int64_t t = 0, n = 0;
    double cost = 0;
    ck_assert_int_eq(body_int(influx_series_value(&s, 0, 0), "", &t), 0);
    ck_assert_int_eq(t, 1787616000000000000LL);
    ck_assert_int_eq(body_int(influx_series_value(&s, 0, 1), "", &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(body_num(influx_series_value(&s, 0, 2), "", &cost), 0);
    ck_assert(cost == 0.25);
    ck_assert_int_eq(body_num(influx_series_value(&s, 1, 2), "", &cost), -ENOENT); /* null */
    ck_assert_ptr_null(influx_series_value(&s, 5, 0));
    ck_assert_ptr_null(influx_series_value(&s, 0, -1));
    ck_assert_int_eq(influx_response_series(r, 0, 1, &s), 0);
    ck_assert_int_eq(influx_response_series(r, 0, 2, &s), -ENOENT);
    ck_assert_int_eq(influx_response_series(r, 1, 0, &s), -ENOENT); /* no "series" key */
    ck_assert_int_eq(influx_response_series(r, 7, 0, &s), -ENOENT);
    influx_response_free(r);
}
END_TEST

START_TEST(response_errors)
{
    char err[ERR_MAX];
    struct influx_response *r = NULL;
    /* Statement errors come back as HTTP 200 with results[i].error. */
    const char *stmt = "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,"
                       "\"error\":\"database not found: nodb\"}]}";
    ck_assert_int_eq(influx_response_parse(stmt, strlen(stmt), &r, err), -EREMOTEIO);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "statement 2: database not found: nodb"));
    const char *skipped = "{\"results\":[{\"statement_id\":0,\"error\":\"not executed\"},"
                          "{\"statement_id\":1,\"error\":\"bad thing\"}]}";
    ck_assert_int_eq(influx_response_parse(skipped, strlen(skipped), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "statement 2: bad thing"));
    const char *top = "{\"error\":\"error parsing query: found EOF\"}";
    ck_assert_int_eq(influx_response_parse(top, strlen(top), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "error parsing query"));
    ck_assert_int_eq(influx_response_parse("<html>", 6, &r, err), -EBADMSG);
    /* a result cut at max-row-limit is not a result to store */
    const char *cut_series = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
                             "\"columns\":[\"time\"],\"values\":[[1]],\"partial\":true}]}]}";
    ck_assert_int_eq(influx_response_parse(cut_series, strlen(cut_series), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "max-row-limit"));
    const char *cut_result = "{\"results\":[{\"statement_id\":0,\"partial\":true}]}";
    ck_assert_int_eq(influx_response_parse(cut_result, strlen(cut_result), &r, err), -EREMOTEIO);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(influx_response_parse("{}", 2, &r, err), -EBADMSG);
    ck_assert_int_eq(influx_response_parse("{\"results\":{}}", 14, &r, err), -EBADMSG);
    ck_assert_int_eq(influx_response_parse("", 0, &r, err), -EBADMSG);
    const char *empty = "{\"results\":[]}";
    ck_assert_int_eq(influx_response_parse(empty, strlen(empty), &r, err), 0);
    ck_assert_uint_eq(influx_response_statements(r), 0);
    influx_response_free(r);
    influx_response_free(NULL);
}
END_TEST

START_TEST(exit_codes)
{
    ck_assert_int_eq(influx_exit_code(0), EX_OK);
    ck_assert_int_eq(influx_exit_code(-EAGAIN), EX_TEMPFAIL);
    ck_assert_int_eq(influx_exit_code(-ETIMEDOUT), EX_TEMPFAIL);
    ck_assert_int_eq(influx_exit_code(-EACCES), EX_NOPERM);
    ck_assert_int_eq(influx_exit_code(-ENOENT), EX_UNAVAILABLE);
    ck_assert_int_eq(influx_exit_code(-EREMOTEIO), EX_UNAVAILABLE);
    ck_assert_int_eq(influx_exit_code(-EBADMSG), EX_DATAERR);
    ck_assert_int_eq(influx_exit_code(-EINVAL), EX_CONFIG);
    ck_assert_int_eq(influx_exit_code(-ENOMEM), EX_OSERR);
}
END_TEST

START_TEST(client_config)
{
    char err[ERR_MAX], dir[64], path[128];
    struct influx *c = NULL;
    struct config_influxdb cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.url = "http://127.0.0.1:8086";
    cfg.database = "telegraf";
    cfg.timeout_s = 1;
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    ck_assert(!influx_is_v2(c));
    ck_assert_str_eq(influx_query_db(c), "telegraf");
    influx_free(c);
    cfg.bucket = "metrics";
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    ck_assert(influx_is_v2(c));
    ck_assert_str_eq(influx_query_db(c), "metrics");
    influx_free(c);
    influx_free(NULL);

    /* Secrets are never part of a message. */
    cfg.token = "tok-SECRET-123";
    cfg.username = "admin";
    cfg.password = "pw-SECRET-456";
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_ptr_null(strstr(err, "SECRET"));
    cfg.token = NULL;
    cfg.username = NULL;
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL); /* password without user */
    ck_assert_ptr_null(strstr(err, "SECRET"));
    cfg.password = NULL;

    cfg.url = "ftp://user:SECRET@h";
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL);
    ck_assert_ptr_null(strstr(err, "SECRET"));
    /* credentials in the url would be echoed in messages: refused */
    cfg.url = "http://admin:SECRET@h:8086/";
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "must not hold credentials"));
    ck_assert_ptr_null(strstr(err, "SECRET"));
    cfg.url = "http://h:8086/path@with-at"; /* an @ after the host is no credential */
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    influx_free(c);
    cfg.url = "http://h";

    tu_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/token", dir);
    cfg.token_file = path;
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL); /* missing */
    ck_assert_ptr_nonnull(strstr(err, "token_file"));
    tu_write_file(path, "\n");
    ck_assert_int_eq(influx_new(&cfg, &c, err), -EINVAL); /* empty first line */
    tu_write_file(path, "tok-SECRET-789\n");
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    influx_free(c);
    unlink(path);
    rmdir(dir);
}
END_TEST

Suite *check_influx_suite(void);
Suite *check_influx_suite(void)
{
    Suite *s = suite_create("influx");
    TCase *t = tcase_create("influx");
    tcase_add_test(t, quote_identifiers_and_strings);
    tcase_add_test(t, url_building);
    tcase_add_test(t, go_durations);
    tcase_add_test(t, response_series);
    tcase_add_test(t, response_errors);
    tcase_add_test(t, exit_codes);
    tcase_add_test(t, client_config);
    suite_add_tcase(s, t);
    return s;
}
