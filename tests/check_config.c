/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tokenmeter/config.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    tu_tmpdir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/t.conf", dir);
    unsetenv("INFLUXDB_URL");
    unsetenv("INFLUXDB_RETENTION_DAYS");
    unsetenv("INFLUXDB_BATCH_QUERY_TIMEOUT");
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

START_TEST(defaults)
{
    struct config *c = config_new();
    char err[ERR_MAX];
    ck_assert_int_eq(config_finish(c, err), 0);
    ck_assert_str_eq(c->ingest.measurement, "llm_usage");
    ck_assert_int_eq(c->ingest.dedup, CONFIG_DEDUP_TIMESTAMP);
    ck_assert_int_eq(c->ingest.dedup_cache, 1000000);
    ck_assert_int_eq(c->ingest.max_body_bytes, 8388608);
    ck_assert_str_eq(c->ingest.dead_letter, "/var/lib/tokenmeter/dead-letter.ndjson");
    ck_assert_int_eq(c->influxdb.timeout_s, 30);
    ck_assert_int_eq(c->influxdb.retention_days, 30);
    ck_assert_str_eq(c->process.body_field, "value");
    ck_assert_str_eq(c->aggregate.timezone, "UTC");
    ck_assert_int_eq(c->aggregate.lookback_days, 3);
    ck_assert(!c->ingest.tag_team && !c->ingest.tag_user);
    config_free(c);
    config_free(NULL);
}
END_TEST

START_TEST(precedence_file_env_flag)
{
    char err[ERR_MAX];
    tu_write_file(path, "; comment\n[influxdb]\nurl = http://file:8086\ntimeout = 10\n"
                        "retention_days = 7\n[ingest]\nmeasurement = \"from_file\"\n");
    setenv("INFLUXDB_URL", "http://env:8086", 1);
    setenv("INFLUXDB_RETENTION_DAYS", "14", 1);
    struct config *c = config_new();
    ck_assert_int_eq(config_load_file(c, path, true, err), 0);
    ck_assert_int_eq(config_load_env(c, err), 0);
    ck_assert_int_eq(config_set_assignment(c, "influxdb.retention_days=21", err), 0);
    ck_assert_int_eq(config_finish(c, err), 0);
    ck_assert_str_eq(c->influxdb.url, "http://env:8086"); /* env over file */
    ck_assert_int_eq(c->influxdb.timeout_s, 10);          /* file over default */
    ck_assert_int_eq(c->influxdb.retention_days, 21);     /* flag over env */
    ck_assert_str_eq(c->ingest.measurement, "from_file"); /* quotes removed */
    config_free(c);
}
END_TEST

START_TEST(timeout_units)
{
    char err[ERR_MAX];
    struct config *c = config_new();
    setenv("INFLUXDB_BATCH_QUERY_TIMEOUT", "2m", 1);
    ck_assert_int_eq(config_load_env(c, err), 0);
    ck_assert_int_eq(c->influxdb.timeout_s, 120);
    setenv("INFLUXDB_BATCH_QUERY_TIMEOUT", "soon", 1);
    ck_assert_int_eq(config_load_env(c, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "INFLUXDB_BATCH_QUERY_TIMEOUT"));
    config_free(c);
}
END_TEST

/* Every error names where it came from. */
static const struct {
    const char *text;
    const char *want;
} bad_files[] = {
    {"[ingest]\ndedupe = tag\n", ":2: unknown key \"dedupe\" in section [ingest]"},
    {"[ingest]\n\n\ndedup = sometimes\n", ":4: [ingest] dedup = \"sometimes\": expected timestamp"},
    {"[nosuch]\nx = 1\n", ":2: unknown section [nosuch]"},
    {"[ingest]\ndedup_cache = -1\n", "dedup_cache = \"-1\": expected an integer between 0"},
    {"[ingest]\nmax_body_bytes = 12abc\n", "max_body_bytes = \"12abc\""},
    {"[influxdb]\ninsecure_skip_verify = maybe\n", ":2: [influxdb] insecure_skip_verify"},
    {"[ingest]\nthis line has no equals sign\n", ":2: syntax error"},
    {"[influxdb]\npassword = \"abc ;def\"\n", ":2: [influxdb] password: the value opens a double"},
};

START_TEST(file_errors_name_file_line_key)
{
    char err[ERR_MAX];
    tu_write_file(path, bad_files[_i].text);
    struct config *c = config_new();
    ck_assert_int_eq(config_load_file(c, path, true, err), -EINVAL);
    ck_assert_msg(strstr(err, path) != NULL, "no path in: %s", err);
    ck_assert_msg(strstr(err, bad_files[_i].want) != NULL, "want \"%s\" in: %s", bad_files[_i].want,
                  err);
    config_free(c);
}
END_TEST

START_TEST(long_line_rejected)
{
    char err[ERR_MAX];
    char text[400];
    snprintf(text, sizeof(text), "[influxdb]\ntoken = %0250d\n", 7);
    tu_write_file(path, text);
    struct config *c = config_new();
    ck_assert_int_eq(config_load_file(c, path, true, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":2: line longer than"));
    ck_assert_ptr_nonnull(strstr(err, "token_file"));
    /* the secret itself is not echoed */
    ck_assert_ptr_null(strstr(err, "0000000007"));
    config_free(c);
}
END_TEST

START_TEST(missing_files)
{
    char err[ERR_MAX];
    struct config *c = config_new();
    ck_assert_int_eq(config_load_file(c, "/nonexistent/tm.conf", false, err), 0);
    ck_assert_int_eq(config_load_file(c, "/nonexistent/tm.conf", true, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/tm.conf: cannot open config"));
    /* a directory opens for reading on Linux, then fails to read */
    ck_assert_int_eq(config_load_file(c, dir, true, err), -EISDIR);
    ck_assert_ptr_nonnull(strstr(err, "cannot read config"));
    config_free(c);
}
END_TEST

START_TEST(kv_sections_keep_origin)
{
    char err[ERR_MAX];
    tu_write_file(path, "[prices]\n\ngpt-x = input:1e-6\n[mapping]\nid = /request/id\n");
    struct config *c = config_new();
    ck_assert_int_eq(config_load_file(c, path, true, err), 0);
    ck_assert_int_eq(c->prices.len, 1);
    ck_assert_str_eq(c->prices.items[0].key, "gpt-x");
    ck_assert_str_eq(c->prices.items[0].value, "input:1e-6");
    char want[200];
    snprintf(want, sizeof(want), "%s:3", path);
    ck_assert_str_eq(c->prices.items[0].origin, want);
    ck_assert_int_eq(c->mapping.len, 1);
    ck_assert_str_eq(c->mapping.items[0].value, "/request/id");
    config_free(c);
}
END_TEST

START_TEST(extra_tags_and_assignments)
{
    char err[ERR_MAX];
    struct config *c = config_new();
    ck_assert_int_eq(config_set_assignment(c, "ingest.extra_tags=team, user", err), 0);
    ck_assert_int_eq(config_finish(c, err), 0);
    ck_assert(c->ingest.tag_team && c->ingest.tag_user);
    ck_assert_int_eq(config_set_assignment(c, "ingest.extra_tags=team,host", err), 0);
    ck_assert_int_eq(config_finish(c, err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown tag \"host\""));
    ck_assert_int_eq(config_set_assignment(c, "noequals", err), -EINVAL);
    /* a colon for '=': the value would be echoed, and it is a password */
    ck_assert_int_eq(config_set_assignment(c, "influxdb.password:SECRET", err), -EINVAL);
    ck_assert_ptr_null(strstr(err, "SECRET"));
    ck_assert_ptr_nonnull(strstr(err, "influxdb.password..."));
    ck_assert_int_eq(config_set_assignment(c, "ingest.nokey=1", err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "flag --set ingest.nokey"));
    config_free(c);
}
END_TEST

Suite *check_config_suite(void);
Suite *check_config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *t = tcase_create("config");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, defaults);
    tcase_add_test(t, precedence_file_env_flag);
    tcase_add_test(t, timeout_units);
    tcase_add_loop_test(t, file_errors_name_file_line_key, 0,
                        sizeof(bad_files) / sizeof(bad_files[0]));
    tcase_add_test(t, long_line_rejected);
    tcase_add_test(t, missing_files);
    tcase_add_test(t, kv_sections_keep_origin);
    tcase_add_test(t, extra_tags_and_assignments);
    suite_add_tcase(s, t);
    return s;
}
