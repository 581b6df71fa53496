/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "testutil.h"
#include "tokenmeter/influx.h"

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

static const char *const test_secrets[] = {"tok-SECRET-123", "pw-SECRET-456", NULL};

static void redacts_to(const char *in, const char *want)
{
    char t[ERR_MAX];
    snprintf(t, sizeof(t), "%s", in);
    influx_redact(t, sizeof(t), test_secrets);
    ck_assert_str_eq(t, want);
}

/* A server's error text echoing credentials never reaches a message. */
START_TEST(redaction)
{
    redacts_to("HTTP 401: request had Authorization: Token tok-SECRET-123, rejected",
               "HTTP 401: request had Authorization: Token [redacted], rejected");
    /* an Authorization value that is not configured here (a proxy's) */
    redacts_to("{\"headers\":{\"Authorization\":\"Bearer abc.def\"}}",
               "{\"headers\":{\"Authorization\":\"Bearer [redacted]\"}}");
    redacts_to("map[authorization:[Basic YWRtaW46cHc=]]", "map[authorization:[Basic [redacted]]]");
    /* the secrets themselves, anywhere, every time */
    redacts_to("user admin p=pw-SECRET-456&x pw-SECRET-456",
               "user admin p=[redacted]&x [redacted]");
    /* InfluxDB's own words stay */
    redacts_to("HTTP 401: authorization failed", "HTTP 401: authorization failed");

    /* a short secret is not used (it would blank ordinary words); the cap holds */
    const char *const tiny[] = {"a", NULL};
    char t[ERR_MAX];
    snprintf(t, sizeof(t), "a database");
    influx_redact(t, sizeof(t), tiny);
    ck_assert_str_eq(t, "a database");
    char small[24];
    snprintf(small, sizeof(small), "Authorization: Token ab");
    influx_redact(small, sizeof(small), test_secrets);
    ck_assert_str_eq(small, "Authorization: Token "); /* no room for the mark: cut before it */
}
END_TEST

/* Each request's deadline is the timeout times the attempts. */
START_TEST(deadline)
{
    struct config_influxdb cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.timeout_s = 2;
    ck_assert_int_eq(influx_command_seconds(&cfg), 2 * INFLUX_ATTEMPTS);
    cfg.url = "http://127.0.0.1:1";
    struct influx *c = NULL;
    char err[ERR_MAX];
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    ck_assert_uint_eq(influx_response_max(c), INFLUX_RESPONSE_MAX); /* 0: the default */
    influx_free(c);
    cfg.max_response_bytes = 70000;
    ck_assert_int_eq(influx_new(&cfg, &c, err), 0);
    ck_assert_uint_eq(influx_response_max(c), 70000);
    influx_free(c);
}
END_TEST

Suite *check_influx_suite(void);
Suite *check_influx_suite(void)
{
    Suite *s = suite_create("influx");
    TCase *t = tcase_create("influx");
    tcase_add_test(t, exit_codes);
    tcase_add_test(t, client_config);
    tcase_add_test(t, redaction);
    tcase_add_test(t, deadline);
    suite_add_tcase(s, t);
    return s;
}
