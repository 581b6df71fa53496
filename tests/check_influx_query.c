/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/influx_query.h"

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
    struct influx_query_result *r = NULL;
    ck_assert_int_eq(influx_query_parse(good_doc, strlen(good_doc), &r, err), 0);
    ck_assert_uint_eq(influx_query_statements(r), 2);
    struct influx_query_series s;
    ck_assert_int_eq(influx_query_series_at(r, 0, 0, &s), 0);
    ck_assert_str_eq(s.name, "llm_usage");
    ck_assert_str_eq(influx_query_tag(&s, "org"), "acme");
    ck_assert_str_eq(influx_query_tag(&s, "team"), ""); /* absent tag */
    ck_assert_uint_eq(influx_query_rows(&s), 2);
    ck_assert_int_eq(influx_query_column(&s, "requests"), 1);
    ck_assert_int_eq(influx_query_column(&s, "nope"), -1);
    int64_t t = 0, n = 0;
    double cost = 0;
    ck_assert_int_eq(body_int(influx_query_value(&s, 0, 0), "", &t), 0);
    ck_assert_int_eq(t, 1787616000000000000LL);
    ck_assert_int_eq(body_int(influx_query_value(&s, 0, 1), "", &n), 0);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(body_num(influx_query_value(&s, 0, 2), "", &cost), 0);
    ck_assert(cost == 0.25);
    ck_assert_int_eq(body_num(influx_query_value(&s, 1, 2), "", &cost), -ENOENT); /* null */
    ck_assert_ptr_null(influx_query_value(&s, 5, 0));
    ck_assert_ptr_null(influx_query_value(&s, 0, -1));
    ck_assert_int_eq(influx_query_series_at(r, 0, 1, &s), 0);
    ck_assert_int_eq(influx_query_series_at(r, 0, 2, &s), -ENOENT);
    ck_assert_int_eq(influx_query_series_at(r, 1, 0, &s), -ENOENT); /* no "series" key */
    ck_assert_int_eq(influx_query_series_at(r, 7, 0, &s), -ENOENT);
    influx_query_free(r);
}
END_TEST

START_TEST(response_errors)
{
    char err[ERR_MAX];
    struct influx_query_result *r = NULL;
    /* Statement errors come back as HTTP 200 with results[i].error. */
    const char *stmt = "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,"
                       "\"error\":\"database not found: nodb\"}]}";
    ck_assert_int_eq(influx_query_parse(stmt, strlen(stmt), &r, err), -EREMOTEIO);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(err, "statement 2: database not found: nodb"));
    const char *skipped = "{\"results\":[{\"statement_id\":0,\"error\":\"not executed\"},"
                          "{\"statement_id\":1,\"error\":\"bad thing\"}]}";
    ck_assert_int_eq(influx_query_parse(skipped, strlen(skipped), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "statement 2: bad thing"));
    const char *top = "{\"error\":\"error parsing query: found EOF\"}";
    ck_assert_int_eq(influx_query_parse(top, strlen(top), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "error parsing query"));
    ck_assert_int_eq(influx_query_parse("<html>", 6, &r, err), -EBADMSG);
    /* a result cut at max-row-limit is not a result to store */
    const char *cut_series = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\","
                             "\"columns\":[\"time\"],\"values\":[[1]],\"partial\":true}]}]}";
    ck_assert_int_eq(influx_query_parse(cut_series, strlen(cut_series), &r, err), -EREMOTEIO);
    ck_assert_ptr_nonnull(strstr(err, "max-row-limit"));
    const char *cut_result = "{\"results\":[{\"statement_id\":0,\"partial\":true}]}";
    ck_assert_int_eq(influx_query_parse(cut_result, strlen(cut_result), &r, err), -EREMOTEIO);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(influx_query_parse("{}", 2, &r, err), -EBADMSG);
    ck_assert_int_eq(influx_query_parse("{\"results\":{}}", 14, &r, err), -EBADMSG);
    ck_assert_int_eq(influx_query_parse("", 0, &r, err), -EBADMSG);
    const char *empty = "{\"results\":[]}";
    ck_assert_int_eq(influx_query_parse(empty, strlen(empty), &r, err), 0);
    ck_assert_uint_eq(influx_query_statements(r), 0);
    influx_query_free(r);
    influx_query_free(NULL);
}
END_TEST

START_TEST(response_series_edges)
{
    char err[ERR_MAX];
    struct influx_query_result *r = NULL;
    /* a series without name, tags or values still reads as empty */
    const char *bare = "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[1,\"x\"]}]}]}";
    ck_assert_int_eq(influx_query_parse(bare, strlen(bare), &r, err), 0);
    struct influx_query_series s;
    ck_assert_int_eq(influx_query_series_at(r, 0, 0, &s), 0);
    ck_assert_str_eq(s.name, "");
    ck_assert_str_eq(influx_query_tag(&s, "org"), "");
    ck_assert_uint_eq(influx_query_rows(&s), 0);
    ck_assert_int_eq(influx_query_column(&s, "x"), 1); /* a non-string column is skipped */
    ck_assert_ptr_null(influx_query_value(&s, 0, 1));
    influx_query_free(r);
    /* the first statement with a reason is reported, not "not executed" */
    const char *only_skipped = "{\"results\":[{\"statement_id\":0,\"error\":\"not executed\"}]}";
    ck_assert_int_eq(influx_query_parse(only_skipped, strlen(only_skipped), &r, err), -EREMOTEIO);
    ck_assert_str_eq(err, "InfluxDB /query: statement 1: not executed");
}
END_TEST

Suite *check_influx_query_suite(void);
Suite *check_influx_query_suite(void)
{
    Suite *s = suite_create("influx_query");
    TCase *t = tcase_create("influx_query");
    tcase_add_test(t, response_series);
    tcase_add_test(t, response_errors);
    tcase_add_test(t, response_series_edges);
    suite_add_tcase(s, t);
    return s;
}
