/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tokenmeter/retention.h"

/* What InfluxDB 1.x answers to SHOW RETENTION POLICIES ON "telegraf". */
static const char policies_doc[] =
    "{\"results\":[{\"statement_id\":0,\"series\":[{\"columns\":[\"name\",\"duration\","
    "\"shardGroupDuration\",\"replicaN\",\"default\"],\"values\":["
    "[\"autogen\",\"0s\",\"168h0m0s\",1,false],"
    "[\"tm rp\",\"24h0m0s\",\"1h0m0s\",1,false],"
    "[\"week\",\"168h0m0s\",\"24h0m0s\",1,true]]}]}]}";

static int from_policies(const char *doc, const char *want, struct retention *r, char *err)
{
    struct influx_query_result *resp = NULL;
    ck_assert_int_eq(influx_query_parse(doc, strlen(doc), &resp, err), 0);
    int rc = retention_from_policies(resp, want, r, err);
    influx_query_free(resp);
    return rc;
}

START_TEST(policies_pick_the_configured_or_default)
{
    char err[ERR_MAX];
    struct retention r;
    ck_assert_int_eq(from_policies(policies_doc, NULL, &r, err), 0); /* the default */
    ck_assert(r.exists);
    ck_assert_str_eq(r.name, "week");
    ck_assert_int_eq(r.seconds, 7 * 86400);
    ck_assert_int_eq(from_policies(policies_doc, "", &r, err), 0);
    ck_assert_str_eq(r.name, "week");
    ck_assert_int_eq(from_policies(policies_doc, "tm rp", &r, err), 0);
    ck_assert(r.exists);
    ck_assert_str_eq(r.name, "tm rp");
    ck_assert_int_eq(r.seconds, 86400);
    ck_assert_int_eq(from_policies(policies_doc, "autogen", &r, err), 0);
    ck_assert_int_eq(r.seconds, 0); /* forever */
    ck_assert_int_eq(from_policies(policies_doc, "nope", &r, err), 0);
    ck_assert(!r.exists);
    ck_assert_str_eq(r.name, "");
    /* a database without policies answers a result without series */
    ck_assert_int_eq(from_policies("{\"results\":[{\"statement_id\":0}]}", NULL, &r, err), 0);
    ck_assert(!r.exists);
}
END_TEST

START_TEST(policies_that_are_not_influxdbs)
{
    char err[ERR_MAX];
    struct retention r;
    const char *cols = "{\"results\":[{\"series\":[{\"columns\":[\"name\",\"duration\"],"
                       "\"values\":[[\"autogen\",\"0s\"]]}]}]}";
    ck_assert_int_eq(from_policies(cols, NULL, &r, err), -EBADMSG);
    ck_assert_str_eq(err, "InfluxDB: SHOW RETENTION POLICIES: unexpected columns");
    const char *dur = "{\"results\":[{\"series\":[{\"columns\":[\"name\",\"duration\",\"default\"],"
                      "\"values\":[[\"autogen\",\"30d\",true]]}]}]}";
    ck_assert_int_eq(from_policies(dur, NULL, &r, err), -EBADMSG);
    ck_assert_str_eq(err, "InfluxDB: retention policy \"autogen\": duration \"30d\"");
    /* rows with a missing name or duration are skipped, not trusted */
    const char *holes =
        "{\"results\":[{\"series\":[{\"columns\":[\"name\",\"duration\",\"default\"],"
        "\"values\":[[null,\"1h0m0s\",true],[\"x\",7,true]]}]}]}";
    ck_assert_int_eq(from_policies(holes, NULL, &r, err), 0);
    ck_assert(!r.exists);
}
END_TEST

/* What InfluxDB 2.x answers to GET /api/v2/buckets?name=metrics&org=acme. */
static const char buckets_doc[] =
    "{\"buckets\":[{\"id\":\"0a1b2c3d4e5f6789\",\"name\":\"other\",\"retentionRules\":[]},"
    "{\"id\":\"00112233aabbccdd\",\"name\":\"metrics\",\"orgID\":\"1111222233334444\","
    "\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":1209600,"
    "\"shardGroupDurationSeconds\":86400}]}]}";

START_TEST(buckets_find_the_configured_one)
{
    char err[ERR_MAX];
    struct retention r;
    ck_assert_int_eq(retention_from_buckets(buckets_doc, strlen(buckets_doc), "metrics", &r, err),
                     0);
    ck_assert(r.exists);
    ck_assert_str_eq(r.id, "00112233aabbccdd");
    ck_assert_str_eq(r.name, "metrics");
    ck_assert_int_eq(r.seconds, 14 * 86400);
    ck_assert_int_eq(retention_from_buckets(buckets_doc, strlen(buckets_doc), "other", &r, err), 0);
    ck_assert_str_eq(r.id, "0a1b2c3d4e5f6789");
    ck_assert_int_eq(r.seconds, 0); /* no expire rule: forever */
    ck_assert_int_eq(retention_from_buckets(buckets_doc, strlen(buckets_doc), "gone", &r, err), 0);
    ck_assert(!r.exists);
    const char *none = "{\"buckets\":[]}";
    ck_assert_int_eq(retention_from_buckets(none, strlen(none), "metrics", &r, err), 0);
    ck_assert(!r.exists);
}
END_TEST

START_TEST(buckets_that_are_not_influxdbs)
{
    char err[ERR_MAX];
    struct retention r;
    ck_assert_int_eq(retention_from_buckets("<html>", 6, "metrics", &r, err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "InfluxDB GET /api/v2/buckets: not JSON: "));
    ck_assert_int_eq(retention_from_buckets("{}", 2, "metrics", &r, err), -EBADMSG);
    ck_assert_str_eq(err, "InfluxDB GET /api/v2/buckets: no \"buckets\" array");
    /* the id goes into a path: anything but lowercase hex is refused */
    const char *path = "{\"buckets\":[{\"id\":\"../orgs\",\"name\":\"metrics\"}]}";
    ck_assert_int_eq(retention_from_buckets(path, strlen(path), "metrics", &r, err), -EBADMSG);
    ck_assert_str_eq(err, "InfluxDB GET /api/v2/buckets: unexpected bucket id");
    const char *longid = "{\"buckets\":[{\"id\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
                         "0123456789abcdef\",\"name\":\"metrics\"}]}";
    ck_assert_int_eq(retention_from_buckets(longid, strlen(longid), "metrics", &r, err), -EBADMSG);
}
END_TEST

static void statement_is(const struct retention *cur, const char *want_rp, int64_t days,
                         const char *want)
{
    char err[ERR_MAX];
    struct buf q;
    buf_init(&q, 4096);
    ck_assert_int_eq(retention_policy_statement(&q, "tele\"graf", want_rp, cur, days, err), 0);
    ck_assert_str_eq(q.data, want);
    buf_free(&q);
}

START_TEST(policy_statements)
{
    struct retention cur = {.exists = true, .name = "autogen", .seconds = 0};
    statement_is(
        &cur, NULL, 30,
        "ALTER RETENTION POLICY \"autogen\" ON \"tele\\\"graf\" DURATION 30d REPLICATION 1");
    statement_is(
        &cur, NULL, 0,
        "ALTER RETENTION POLICY \"autogen\" ON \"tele\\\"graf\" DURATION INF REPLICATION 1");
    /* short durations get a shard duration InfluxDB accepts */
    statement_is(&cur, NULL, 1,
                 "ALTER RETENTION POLICY \"autogen\" ON \"tele\\\"graf\" DURATION 1d REPLICATION 1"
                 " SHARD DURATION 1h");
    statement_is(&cur, NULL, 6,
                 "ALTER RETENTION POLICY \"autogen\" ON \"tele\\\"graf\" DURATION 6d REPLICATION 1"
                 " SHARD DURATION 1d");
    statement_is(
        &cur, NULL, 7,
        "ALTER RETENTION POLICY \"autogen\" ON \"tele\\\"graf\" DURATION 7d REPLICATION 1");
    struct retention none = {.exists = false};
    statement_is(&none, "tm rp", 1,
                 "CREATE RETENTION POLICY \"tm rp\" ON \"tele\\\"graf\" DURATION 1d REPLICATION 1"
                 " SHARD DURATION 1h");

    char err[ERR_MAX];
    struct buf q;
    buf_init(&q, 4096);
    ck_assert_int_eq(retention_policy_statement(&q, "db", NULL, &none, 7, err), -EREMOTEIO);
    ck_assert_str_eq(err, "InfluxDB: database \"db\" has no default retention policy; set "
                          "[influxdb] retention_policy");
    ck_assert_int_eq(retention_policy_statement(&q, "db", "", &none, 7, err), -EREMOTEIO);
    buf_free(&q);
    buf_init(&q, 16);
    ck_assert_int_eq(retention_policy_statement(&q, "db", NULL, &cur, 7, err), -EINVAL);
    ck_assert_str_eq(err, "retention statement too long");
    buf_free(&q);
}
END_TEST

START_TEST(bucket_patch)
{
    struct retention cur = {.exists = true, .id = "00112233aabbccdd"};
    struct buf path, json;
    buf_init(&path, 256);
    buf_init(&json, 256);
    ck_assert_int_eq(retention_bucket_patch(&path, &json, &cur, 14), 0);
    ck_assert_str_eq(path.data, "/api/v2/buckets/00112233aabbccdd");
    ck_assert_str_eq(json.data,
                     "{\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":1209600}]}");
    buf_reset(&path);
    buf_reset(&json);
    ck_assert_int_eq(retention_bucket_patch(&path, &json, &cur, 0), 0);
    ck_assert_str_eq(json.data, "{\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":0}]}");
    buf_free(&path);
    buf_free(&json);
}
END_TEST

START_TEST(describe_against_the_configuration)
{
    char line[1024];
    struct config_influxdb cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.database = "telegraf";
    cfg.retention_days = 7;
    struct retention r = {.exists = true, .name = "autogen", .seconds = 7 * 86400};
    ck_assert_int_eq(retention_describe(&cfg, &r, line, sizeof(line)), 0);
    ck_assert_str_eq(line,
                     "retention policy \"autogen\" on \"telegraf\" keeps 7 days, as configured");
    r.seconds = 0;
    ck_assert_int_eq(retention_describe(&cfg, &r, line, sizeof(line)), 1);
    ck_assert_str_eq(line, "retention policy \"autogen\" on \"telegraf\" keeps forever, configured "
                           "7 days (run 'tokenmeter retention apply')");
    r.seconds = 36 * 3600 + 30 * 60;
    ck_assert_int_eq(retention_describe(&cfg, &r, line, sizeof(line)), 1);
    ck_assert_ptr_nonnull(strstr(line, "keeps 36h30m, configured 7 days"));
    r.exists = false;
    ck_assert_int_eq(retention_describe(&cfg, &r, line, sizeof(line)), 1);
    ck_assert_str_eq(line, "database \"telegraf\" does not exist; retention_days = 7 (7 days)");
    cfg.retention_policy = "tm rp";
    cfg.retention_days = 0;
    ck_assert_int_eq(retention_describe(&cfg, &r, line, sizeof(line)), 1);
    ck_assert_str_eq(line, "retention policy \"tm rp\" on \"telegraf\" does not exist; "
                           "retention_days = 0 (forever)");
    cfg.bucket = "metrics";
    cfg.retention_days = 14;
    struct retention b = {.exists = true, .name = "metrics", .seconds = 14 * 86400};
    ck_assert_int_eq(retention_describe(&cfg, &b, line, sizeof(line)), 0);
    ck_assert_str_eq(line, "bucket \"metrics\" keeps 14 days, as configured");
}
END_TEST

/* The mistake of issue 14: the shipped database's 90-day default policy
 * cut to 30 days with only "ok" printed. */
START_TEST(plan_refuses_what_cannot_be_undone)
{
    char err[ERR_MAX];
    struct retention_plan p;
    struct config_influxdb cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.database = "telegraf";
    struct retention dflt = {.exists = true, .is_default = true, .name = "autogen"};
    dflt.seconds = 90 * 86400;
    ck_assert_int_eq(retention_plan(&cfg, false, &dflt, 30, &p, err), 0);
    ck_assert_int_eq(p.action, RETENTION_ALTER);
    ck_assert(p.needs_force);
    ck_assert_str_eq(p.current, "retention policy \"autogen\" on \"telegraf\" (the database's "
                                "default policy) keeps 90 days");
    ck_assert_str_eq(p.intended, "30 days");
    ck_assert_str_eq(
        p.change, "ALTER RETENTION POLICY \"autogen\" ON \"telegraf\" DURATION 30d REPLICATION 1");
    ck_assert_ptr_nonnull(strstr(p.why_force, "shortens"));
    /* longer, but still the default policy everyone shares */
    ck_assert_int_eq(retention_plan(&cfg, false, &dflt, 120, &p, err), 0);
    ck_assert(p.needs_force);
    ck_assert_ptr_nonnull(strstr(p.why_force, "default policy of database \"telegraf\""));
    /* forever to anything is shorter */
    struct retention own = {.exists = true, .name = "tm"};
    ck_assert_int_eq(retention_plan(&cfg, false, &own, 30, &p, err), 0);
    ck_assert(p.needs_force);
    /* tokenmeter's own policy, made longer or kept forever: no force */
    own.seconds = 30 * 86400;
    ck_assert_int_eq(retention_plan(&cfg, false, &own, 60, &p, err), 0);
    ck_assert(!p.needs_force);
    ck_assert_int_eq(retention_plan(&cfg, false, &own, 0, &p, err), 0);
    ck_assert(!p.needs_force);
    ck_assert_str_eq(p.intended, "forever");
    /* as intended: nothing to do */
    ck_assert_int_eq(retention_plan(&cfg, false, &own, 30, &p, err), 0);
    ck_assert_int_eq(p.action, RETENTION_NONE);
    ck_assert_str_eq(p.change, "");
    /* a missing database is created with the policy as its default */
    struct retention none = {.db_missing = true};
    cfg.database = "tokenmeter";
    ck_assert_int_eq(retention_plan(&cfg, false, &none, 30, &p, err), 0);
    ck_assert_int_eq(p.action, RETENTION_CREATE_DATABASE);
    ck_assert(!p.needs_force);
    ck_assert_str_eq(p.change, "CREATE DATABASE \"tokenmeter\" WITH DURATION 30d REPLICATION 1 "
                               "NAME \"autogen\"");
    cfg.retention_policy = "tm";
    ck_assert_int_eq(retention_plan(&cfg, false, &none, 3, &p, err), 0);
    ck_assert_str_eq(p.change, "CREATE DATABASE \"tokenmeter\" WITH DURATION 3d REPLICATION 1 "
                               "SHARD DURATION 1d NAME \"tm\"");
    /* a missing policy in an existing database: created, not made default */
    struct retention missing = {.exists = false};
    ck_assert_int_eq(retention_plan(&cfg, false, &missing, 30, &p, err), 0);
    ck_assert_int_eq(p.action, RETENTION_CREATE_POLICY);
    ck_assert(!p.needs_force);
    /* 2.x: a shorter bucket needs force, a missing one is an error */
    cfg.bucket = "metrics";
    struct retention b = {.exists = true, .name = "metrics", .id = "00aa", .seconds = 90 * 86400};
    ck_assert_int_eq(retention_plan(&cfg, true, &b, 30, &p, err), 0);
    ck_assert_int_eq(p.action, RETENTION_PATCH_BUCKET);
    ck_assert(p.needs_force);
    ck_assert_str_eq(p.change,
                     "PATCH /api/v2/buckets/00aa "
                     "{\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":2592000}]}");
    ck_assert_int_eq(retention_plan(&cfg, true, &b, 365, &p, err), 0);
    ck_assert(!p.needs_force);
    b.exists = false;
    ck_assert_int_eq(retention_plan(&cfg, true, &b, 30, &p, err), -ENOENT);
}
END_TEST

Suite *check_retention_suite(void);
Suite *check_retention_suite(void)
{
    Suite *s = suite_create("retention");
    TCase *t = tcase_create("retention");
    tcase_add_test(t, policies_pick_the_configured_or_default);
    tcase_add_test(t, policies_that_are_not_influxdbs);
    tcase_add_test(t, buckets_find_the_configured_one);
    tcase_add_test(t, buckets_that_are_not_influxdbs);
    tcase_add_test(t, policy_statements);
    tcase_add_test(t, bucket_patch);
    tcase_add_test(t, describe_against_the_configuration);
    tcase_add_test(t, plan_refuses_what_cannot_be_undone);
    suite_add_tcase(s, t);
    return s;
}
