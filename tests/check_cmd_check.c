/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/cmd_check.h"

static const char fragment[] = "[agent]\n"
                               "  interval = \"10s\"\n"
                               "[[outputs.influxdb]]   # host metrics\n"
                               "  urls = [\"http://127.0.0.1:8086\"]\n"
                               "  namedrop = [\"llm_*\", \"tokenmeter_*\"]\n"
                               "[[outputs.influxdb]]\n"
                               "  urls = [\"http://127.0.0.1:8086\"]\n"
                               "  database = \"tokenmeter\"   # ours\n"
                               "  retention_policy = 'tm'\n"
                               "  namepass = [\n"
                               "    \"llm_usage\",  # the raw points\n"
                               "    \"tokenmeter_stats\",\n"
                               "  ]\n"
                               "  [outputs.influxdb.tagpass]\n"
                               "    database = [\"not-a-key-of-the-output\"]\n"
                               "[[outputs.influxdb_v2]]\n"
                               "  bucket = \"usage\"\n"
                               "  namepass = [\"tokenmeter_webhook\"]\n"
                               "[[outputs.file]]\n"
                               "  files = [\"stdout\"]\n";

/* Where Telegraf writes a measurement, as check compares it. */
START_TEST(telegraf_routes)
{
    struct cmd_check_route r[4];
    ck_assert_uint_eq(cmd_check_telegraf_routes(fragment, "llm_usage", r, 4), 1);
    ck_assert_str_eq(r[0].output, "influxdb");
    ck_assert_str_eq(r[0].database, "tokenmeter");
    ck_assert_str_eq(r[0].retention_policy, "tm");
    ck_assert_int_eq(r[0].line, 6);
    /* the host-metrics output takes everything else, in Telegraf's default database */
    ck_assert_uint_eq(cmd_check_telegraf_routes(fragment, "cpu", r, 4), 1);
    ck_assert_str_eq(r[0].database, "telegraf");
    ck_assert_str_eq(r[0].retention_policy, "");
    ck_assert_int_eq(r[0].line, 3);
    ck_assert_uint_eq(cmd_check_telegraf_routes(fragment, "tokenmeter_webhook", r, 4), 1);
    ck_assert_str_eq(r[0].output, "influxdb_v2");
    ck_assert_str_eq(r[0].database, "usage");
    /* more than fit: counted, not written past the end */
    ck_assert_uint_eq(
        cmd_check_telegraf_routes("[[outputs.influxdb]]\n[[outputs.influxdb]]\n", "m", r, 1), 2);
    ck_assert_uint_eq(cmd_check_telegraf_routes("", "llm_usage", r, 4), 0);
    ck_assert_uint_eq(cmd_check_telegraf_routes("[[outputs.influxdb]]", "llm_usage", r, 4), 1);
    ck_assert_uint_eq(
        cmd_check_telegraf_routes("[[outputs.influxdb]]\nnamepass = [\"x\"", "x", r, 4),
        1); /* an unterminated list ends with the text */

    /* the shipped fragments route llm_usage to some InfluxDB */
    const char *const shipped[] = {"tokenmeter-http.conf", "tokenmeter-spool.conf",
                                   "tokenmeter-http-influxdb-v2.conf"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/../../telegraf/%s", getenv("TESTDATA"), shipped[i]);
        char *text = tu_read_file(path);
        ck_assert_msg(text != NULL, "%s", path);
        ck_assert_msg(cmd_check_telegraf_routes(text, "llm_usage", r, 4) >= 1, "%s", path);
        free(text);
    }
}
END_TEST

Suite *check_cmd_check_suite(void);
Suite *check_cmd_check_suite(void)
{
    Suite *s = suite_create("cmd_check");
    TCase *t = tcase_create("cmd_check");
    tcase_add_test(t, telegraf_routes);
    suite_add_tcase(s, t);
    return s;
}
