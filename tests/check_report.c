/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "runbin.h"
#include "testutil.h"
#include "tokenmeter/report.h"
#include "tokenmeter/summary_store.h"

static char tmp[64], db[128], lock[140], out[140], conf[140];

static void setup(void)
{
    tu_tmpdir(tmp, sizeof(tmp));
    snprintf(db, sizeof(db), "%s/s.sqlite", tmp);
    snprintf(lock, sizeof(lock), "%s.lock", db);
    snprintf(out, sizeof(out), "%s/out", tmp);
    snprintf(conf, sizeof(conf), "%s/t.conf", tmp);
}

static void teardown(void)
{
    unlink(db);
    unlink(lock);
    unlink(out);
    unlink(conf);
    rmdir(tmp);
}

static void add(struct summary_rows *rs, const char *day, const char *org, const char *model,
                const char *provider, int64_t requests, int64_t unpriced, double cost)
{
    struct summary_row *r = NULL;
    ck_assert_int_eq(summary_store_rows_get(rs, day, org, model, provider, "", &r), 0);
    r->counts[SUMMARY_REQUESTS] += requests;
    r->counts[SUMMARY_SUCCESSFUL] += requests - 1;
    r->counts[SUMMARY_FAILED] += 1;
    r->counts[SUMMARY_INPUT_TOKENS] += 100 * requests;
    r->counts[SUMMARY_UNPRICED_REQUESTS] += unpriced;
    r->cost_usd += cost;
}

START_TEST(keys_parse)
{
    char err[ERR_MAX];
    unsigned keys = 0;
    ck_assert_int_eq(report_keys_parse("org,model", &keys, err), 0);
    ck_assert_uint_eq(keys, REPORT_BY(REPORT_KEY_ORG) | REPORT_BY(REPORT_KEY_MODEL));
    ck_assert_int_eq(report_keys_parse("month", &keys, err), 0); /* repeated options add up */
    ck_assert(keys & REPORT_BY(REPORT_KEY_MONTH));
    ck_assert_int_eq(report_keys_parse("day", &keys, err), -EINVAL);
    ck_assert_msg(strstr(err, "day and month"), "%s", err);
    keys = 0;
    ck_assert_int_eq(report_keys_parse("org,", &keys, err), -EINVAL);
    ck_assert_int_eq(report_keys_parse("orgs", &keys, err), -EINVAL);
    ck_assert_msg(strstr(err, "\"orgs\""), "%s", err);
    ck_assert_int_eq(report_keys_parse("", &keys, err), -EINVAL);
    keys = 0;
    ck_assert_int_eq(report_keys_parse("provider,team,day", &keys, err), 0);
    ck_assert_uint_eq(keys, REPORT_BY(REPORT_KEY_PROVIDER) | REPORT_BY(REPORT_KEY_TEAM) |
                                REPORT_BY(REPORT_KEY_DAY));
}
END_TEST

START_TEST(month_range)
{
    char err[ERR_MAX], first[SUMMARY_DAY_LEN], last[SUMMARY_DAY_LEN];
    ck_assert_int_eq(report_month_range("2026-11", first, last, err), 0);
    ck_assert_str_eq(first, "2026-11-01");
    ck_assert_str_eq(last, "2026-11-30");
    ck_assert_int_eq(report_month_range("2026-02", first, last, err), 0);
    ck_assert_str_eq(last, "2026-02-28");
    ck_assert_int_eq(report_month_range("2028-02", first, last, err), 0);
    ck_assert_str_eq(last, "2028-02-29");
    ck_assert_int_eq(report_month_range("2026-12", first, last, err), 0);
    ck_assert_str_eq(first, "2026-12-01");
    ck_assert_str_eq(last, "2026-12-31");
    static const char *const bad[] = {"2026-13", "2026-1", "2026-11-01", "26-11", "", "2026-00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(report_month_range(bad[i], first, last, err) == -EINVAL, "%s", bad[i]);
}
END_TEST

/* Aliases merge models at report time; --group-by rolls up; totals are
 * the same whatever the grouping. */
START_TEST(build_rollup)
{
    char err[ERR_MAX];
    struct summary_rows stored;
    struct config_kv alias = {"gpt-4o-mini-2024-07-18", "gpt-4o-mini", "t.conf:3"};
    struct config_kv_list aliases = {&alias, 1, 1};
    summary_store_rows_init(&stored);
    add(&stored, "2026-11-01", "acme", "gpt-4o-mini", "openai", 2, 0, 0.1);
    add(&stored, "2026-11-01", "acme", "gpt-4o-mini-2024-07-18", "openai", 3, 0, 0.2);
    add(&stored, "2026-11-02", "globex", "gpt-4o-mini-2024-07-18", "openai", 4, 1, 0.4);
    add(&stored, "2026-12-01", "acme", "claude", "anthropic", 5, 0, 1.0);

    struct report rep;
    report_init(&rep);
    ck_assert_int_eq(report_build(&rep, &stored, &aliases, REPORT_KEYS_DEFAULT, err), 0);
    ck_assert_uint_eq(rep.detail.len, 3); /* the two names of one model are one row */
    ck_assert_uint_eq(rep.rows.len, 3);
    ck_assert_str_eq(rep.rows.items[0].model, "gpt-4o-mini");
    ck_assert_int_eq(rep.rows.items[0].counts[SUMMARY_REQUESTS], 5);
    ck_assert(rep.rows.items[0].cost_usd == 0.3); /* rounded, not 0.30000000000000004 */
    ck_assert_int_eq(rep.total.counts[SUMMARY_REQUESTS], 14);
    ck_assert_int_eq(rep.total.counts[SUMMARY_UNPRICED_REQUESTS], 1);
    ck_assert(!report_shows(&rep, REPORT_KEY_TEAM)); /* no row has a team */
    report_free(&rep);

    report_init(&rep);
    ck_assert_int_eq(report_build(&rep, &stored, &aliases,
                                  REPORT_BY(REPORT_KEY_MONTH) | REPORT_BY(REPORT_KEY_ORG), err),
                     0);
    ck_assert_uint_eq(rep.rows.len, 3);
    ck_assert_str_eq(rep.rows.items[0].day, "2026-11");
    ck_assert_str_eq(rep.rows.items[0].org, "acme");
    ck_assert_str_eq(rep.rows.items[0].model, "");
    ck_assert_int_eq(rep.rows.items[0].counts[SUMMARY_REQUESTS], 5);
    ck_assert_str_eq(rep.rows.items[1].org, "globex");
    ck_assert_str_eq(rep.rows.items[2].day, "2026-12");
    ck_assert_str_eq(report_key_text(&rep.rows.items[2], REPORT_KEY_MONTH), "2026-12");
    ck_assert_int_eq(rep.total.counts[SUMMARY_REQUESTS], 14);
    report_free(&rep);

    /* Asked for, the team column is shown even when no row has a team. */
    report_init(&rep);
    ck_assert_int_eq(report_build(&rep, &stored, NULL, REPORT_BY(REPORT_KEY_TEAM), err), 0);
    ck_assert(report_shows(&rep, REPORT_KEY_TEAM));
    ck_assert_uint_eq(rep.rows.len, 1);
    ck_assert_int_eq(rep.rows.items[0].counts[SUMMARY_REQUESTS], 14);
    report_free(&rep);

    /* Without aliases the names stay apart. */
    report_init(&rep);
    ck_assert_int_eq(report_build(&rep, &stored, NULL, REPORT_BY(REPORT_KEY_MODEL), err), 0);
    ck_assert_uint_eq(rep.rows.len, 3);
    ck_assert_str_eq(rep.rows.items[2].model, "gpt-4o-mini-2024-07-18");
    ck_assert_int_eq(rep.rows.items[2].counts[SUMMARY_REQUESTS], 7);
    report_free(&rep);

    /* An alias to nothing is a configuration error naming its line. */
    alias.value = (char *)"";
    report_init(&rep);
    ck_assert_int_eq(report_build(&rep, &stored, &aliases, REPORT_KEYS_DEFAULT, err), -EINVAL);
    ck_assert_msg(strstr(err, "t.conf:3") && strstr(err, "gpt-4o-mini-2024-07-18"), "%s", err);
    report_free(&rep);
    summary_store_rows_free(&stored);
}
END_TEST

static void store_rows(void)
{
    char err[ERR_MAX];
    struct summary_store *s = NULL;
    struct summary_rows in;
    summary_store_rows_init(&in);
    add(&in, "2026-11-01", "<script>alert(1)</script>", "gpt-4o-mini", "openai", 2, 0, 0.25);
    add(&in, "2026-11-01", "</svg><b>\"x'&", "gpt-4o-mini-2024-07-18", "openai", 3, 0, 0.5);
    add(&in, "2026-11-02", "acme", "m<i>", "p&q", 4, 4, 0);
    add(&in, "2026-11-30", "acme", "gpt-4o-mini", "openai", 1, 0, 1.0);
    add(&in, "2026-12-01", "acme", "gpt-4o-mini", "openai", 7, 0, 2.0);
    add(&in, "2026-11-03", "bad\xff utf-8", "gpt-4o-mini", "openai", 1, 0, 0.125);
    ck_assert_int_eq(summary_store_open(db, false, &s, err), 0);
    struct summary_replace r = {"UTC", "2026-11-01", "2026-12-01", false, 0};
    int64_t gen = 0;
    ck_assert_int_eq(summary_store_replace(s, &r, &in, &gen, err), 0);
    summary_store_close(s);
    summary_store_rows_free(&in);
    tu_write_file(conf, "[aliases]\ngpt-4o-mini-2024-07-18 = gpt-4o-mini\n");
}

/* --month and --group-by in the csv and json formats, with aliases. */
START_TEST(cli_rollups)
{
    store_rows();
    const char *csv[] = {"-c",      conf,         "report", "--sqlite", db,    "--month",
                         "2026-11", "--group-by", "model",  "--format", "csv", NULL};
    ck_assert_int_eq(rb_run(csv, NULL, out, NULL), 0);
    char *text = tu_read_file(out);
    ck_assert_str_eq(text, "model,requests,successful,failed,input_tokens,cached_input_tokens,"
                           "cache_write_tokens,output_tokens,reasoning_tokens,total_tokens,"
                           "unpriced_requests,cost_usd\n"
                           "gpt-4o-mini,7,3,4,700,0,0,0,0,0,0,1.875\n"
                           "m<i>,4,3,1,400,0,0,0,0,0,4,0\n"
                           "total,11,6,5,1100,0,0,0,0,0,4,1.875\n");
    free(text);

    const char *json[] = {"-c",         conf,     "report",     "--sqlite", db,
                          "--group-by", "month",  "--group-by", "org",      "--format",
                          "json",       "--from", "2026-11-02", NULL};
    ck_assert_int_eq(rb_run(json, NULL, out, NULL), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out, 0, &jerr);
    ck_assert_ptr_nonnull(doc);
    json_t *rows = json_object_get(doc, "rows");
    ck_assert_uint_eq(json_array_size(rows), 3);
    json_t *r0 = json_array_get(rows, 0);
    ck_assert_str_eq(json_string_value(json_object_get(r0, "month")), "2026-11");
    ck_assert_str_eq(json_string_value(json_object_get(r0, "org")), "acme");
    ck_assert_ptr_null(json_object_get(r0, "model"));
    ck_assert_ptr_null(json_object_get(r0, "day"));
    ck_assert_int_eq(json_integer_value(json_object_get(r0, "requests")), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 2), "month")),
                     "2026-12");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), "2026-11-02");
    json_t *by = json_object_get(doc, "group_by");
    ck_assert_uint_eq(json_array_size(by), 2);
    ck_assert_str_eq(json_string_value(json_array_get(by, 0)), "month");
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(doc, "totals"), "requests")), 13);
    json_decref(doc);

    const char *table[] = {"report",  "--sqlite",   db,         "--month",
                           "2026-12", "--group-by", "provider", NULL};
    ck_assert_int_eq(rb_run(table, NULL, out, NULL), 0);
    text = tu_read_file(out);
    ck_assert_msg(strncmp(text, "provider  requests", 18) == 0, "%s", text);
    ck_assert_msg(strstr(text, "\nopenai           7"), "%s", text);
    ck_assert_msg(strstr(text, "\ntotal            7"), "%s", text);
    free(text);

    static const char *const bad[][8] = {
        {"report", "--sqlite", db, "--group-by", "orgs", NULL},
        {"report", "--sqlite", db, "--group-by", "day,month", NULL},
        {"report", "--sqlite", db, "--month", "2026-11", "--day", "2026-11-01", NULL},
        {"report", "--sqlite", db, "--month", "2026-1", NULL},
        {"report", "--sqlite", db, "--format", "pdf", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_int_eq(rb_run(bad[i], NULL, out, NULL), 64);
    tu_write_file(conf, "[aliases]\ngpt-4o-mini-2024-07-18 =\n");
    const char *empty_alias[] = {"-c", conf, "report", "--sqlite", db, NULL};
    ck_assert_int_eq(rb_run(empty_alias, NULL, out, NULL), 78);
}
END_TEST

/* The page is self-contained, escapes every name, and draws one segment
 * per org and day. */
START_TEST(cli_html)
{
    store_rows();
    const char *args[] = {"-c",      conf,      "report",   "--sqlite", db,
                          "--month", "2026-11", "--format", "html",     NULL};
    ck_assert_int_eq(rb_run(args, NULL, out, NULL), 0);
    char *page = tu_read_file(out);
    ck_assert_msg(strncmp(page, "<!DOCTYPE html>", 15) == 0, "%.100s", page);
    /* nothing from a sender reaches the page as markup */
    ck_assert_ptr_null(strstr(page, "<script"));
    ck_assert_ptr_null(strstr(page, "</svg><b>"));
    ck_assert_ptr_null(strstr(page, "<i>"));
    ck_assert_ptr_nonnull(strstr(page, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    ck_assert_ptr_nonnull(strstr(page, "&lt;/svg&gt;&lt;b&gt;&quot;x&#39;&amp;"));
    ck_assert_ptr_nonnull(strstr(page, "p&amp;q"));
    ck_assert_ptr_nonnull(strstr(page, "bad? utf-8")); /* not UTF-8: '?' as in JSON */
    /* self-contained: no fetch of any kind */
    ck_assert_ptr_null(strstr(page, "src="));
    ck_assert_ptr_null(strstr(page, "href="));
    ck_assert_ptr_null(strstr(page, "url("));
    ck_assert_ptr_null(strstr(page, "@import"));
    /* 2026-11-01: two orgs, 11-02, 11-03 and 11-30 one each; 12-01 is outside */
    ck_assert_int_eq(tu_count(page, "class=\"seg\""), 5);
    ck_assert_int_eq(tu_count(page, "data-day=\"2026-12-01\""), 0);
    /* the error-rate line joins 11-01..11-03 and leaves the gap to 11-30 */
    ck_assert_int_eq(tu_count(page, "<polyline class=\"rate\""), 2);
    /* the unpriced requests are called out, and m<i> gets no bar */
    ck_assert_ptr_nonnull(strstr(page, "id=\"unpriced-callout\""));
    ck_assert_ptr_nonnull(strstr(page, "data-day=\"2026-11-02\" data-unpriced=\"4\""));
    ck_assert_int_eq(tu_count(page, "class=\"model\""), 1); /* gpt-4o-mini, aliased */
    /* every chart has a title and a description */
    ck_assert_int_eq(tu_count(page, "<svg role=\"img\""), 4);
    ck_assert_int_eq(tu_count(page, "<desc id="), 4);
    ck_assert_ptr_nonnull(strstr(page, "data-col=\"cost_usd\" data-value=\"1.875\">"));
    free(page);

    /* An empty period is a page too. */
    const char *none[] = {"report", "--sqlite", db, "--month", "2025-01", "--format", "html", NULL};
    ck_assert_int_eq(rb_run(none, NULL, out, NULL), 0);
    page = tu_read_file(out);
    ck_assert_ptr_nonnull(strstr(page, "id=\"no-data\""));
    ck_assert_ptr_nonnull(strstr(page, "</html>"));
    free(page);
}
END_TEST

Suite *check_report_suite(void);
Suite *check_report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *t = tcase_create("report");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, keys_parse);
    tcase_add_test(t, month_range);
    tcase_add_test(t, build_rollup);
    tcase_add_test(t, cli_rollups);
    tcase_add_test(t, cli_html);
    suite_add_tcase(s, t);
    return s;
}
