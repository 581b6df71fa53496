/* SPDX-License-Identifier: MIT */
/* The aggregate engine without InfluxDB: raw points as `--input` reads them,
 * and buckets as InfluxDB's grouped answer gives them. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/aggregate.h"

#define S_NS(s) ((int64_t)(s)*1000000000LL)
/* First instants of days, UTC and America/Los_Angeles (by Python's zoneinfo). */
#define UTC_0824 1787529600LL
#define UTC_0825 1787616000LL
#define UTC_0826 1787702400LL
#define LA_1031  1793430000LL
#define LA_1101  1793516400LL /* 2026-11-01: 25 hours, DST ends */
#define LA_1102  1793606400LL
#define LA_1103  1793692800LL

static struct aggregate *engine(const char *tz, const char *first, const char *last, bool by_team)
{
    char err[ERR_MAX];
    struct aggregate_params p = {.measurement = "llm_usage", .tz = tz, .by_team = by_team};
    struct aggregate *a = NULL;
    ck_assert_int_eq(tzday_parse(first, &p.range.first), 0);
    ck_assert_int_eq(tzday_parse(last, &p.range.last), 0);
    p.range.ndays = tzday_diff(p.range.first, p.range.last) + 1;
    ck_assert_int_eq(aggregate_new(&p, &a, err), 0);
    ck_assert_ptr_nonnull(a);
    return a;
}

/* Parses one line-protocol line and adds it: the engine's answer. */
static int add(struct aggregate *a, const char *line)
{
    char err[ERR_MAX];
    struct lineproto_point pt;
    lineproto_point_init(&pt);
    ck_assert_int_eq(lineproto_parse(line, strlen(line), &pt, err), 0);
    int rc = aggregate_add_point(a, &pt, err);
    lineproto_point_free(&pt);
    return rc;
}

/* Adds a line with a timestamp in seconds after the tags and fields. */
static int addf(struct aggregate *a, const char *tags_fields, int64_t t_s, int64_t extra_ns)
{
    char line[1024];
    snprintf(line, sizeof(line), "llm_usage,%s %lld", tags_fields,
             (long long)(S_NS(t_s) + extra_ns));
    return add(a, line);
}

static const struct summary_rows *finish(struct aggregate *a)
{
    ck_assert_int_eq(aggregate_finish(a), 0);
    return aggregate_rows(a);
}

/* The row with this key, which must exist. */
static const struct summary_row *row(const struct summary_rows *rs, const char *day,
                                     const char *org, const char *model, const char *team)
{
    for (size_t i = 0; i < rs->len; i++) {
        const struct summary_row *r = &rs->items[i];
        if (strcmp(r->day, day) == 0 && strcmp(r->org, org) == 0 && strcmp(r->model, model) == 0 &&
            strcmp(r->team, team) == 0)
            return r;
    }
    ck_abort_msg("no row %s %s %s %s", day, org, model, team);
    return NULL;
}

#define TAGS(org, model, team, status)                                                             \
    "model=" model ",org=" org ",provider=openai,source=litellm,status=" status ",team=" team
#define FIELDS(in, out, cost_source)                                                               \
    " input_tokens=" #in "i,output_tokens=" #out "i,total_tokens=" #in "i,cost_"                   \
    "source=" cost_source

START_TEST(groups_by_org_team_model_provider_day)
{
    struct aggregate *a = engine("UTC", "2026-08-24", "2026-08-25", true);
    ck_assert_int_eq(
        addf(a, TAGS("acme", "m1", "red", "success") FIELDS(10, 1, "\"reported\"") ",cost_usd=0.25",
             UTC_0825 + 10, 0),
        0);
    ck_assert_int_eq(addf(a, TAGS("acme", "m1", "red", "failure") FIELDS(20, 2, "\"unpriced\""),
                          UTC_0825 + 20, 0),
                     0);
    ck_assert_int_eq(addf(a, TAGS("acme", "m1", "blue", "success") FIELDS(30, 3, "\"reported\""),
                          UTC_0825 + 30, 0),
                     0);
    ck_assert_int_eq(addf(a, TAGS("acme", "m2", "red", "success") FIELDS(40, 4, "\"reported\""),
                          UTC_0825 + 40, 0),
                     0);
    ck_assert_int_eq(addf(a, TAGS("globex", "m1", "red", "success") FIELDS(50, 5, "\"reported\""),
                          UTC_0825 + 50, 0),
                     0);
    ck_assert_int_eq(addf(a, TAGS("acme", "m1", "red", "success") FIELDS(60, 6, "\"reported\""),
                          UTC_0824 + 60, 0),
                     0);
    /* another provider is another row */
    ck_assert_int_eq(add(a, "llm_usage,model=m1,org=acme,provider=azure,status=success,team=red"
                            " input_tokens=70i,cost_source=\"reported\" 1787616070000000000"),
                     0);
    const struct summary_rows *rs = finish(a);
    ck_assert_uint_eq(rs->len, 6);
    /* sorted by day, org, team, model, provider */
    ck_assert_str_eq(rs->items[0].day, "2026-08-24");
    ck_assert_str_eq(rs->items[1].team, "blue");
    ck_assert_str_eq(rs->items[2].model, "m1");
    ck_assert_str_eq(rs->items[2].provider, "azure");
    ck_assert_str_eq(rs->items[3].provider, "openai");
    ck_assert_str_eq(rs->items[5].org, "globex");
    const struct summary_row *r = &rs->items[3];
    ck_assert_str_eq(r->team, "red");
    ck_assert_int_eq(r->counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(r->counts[SUMMARY_SUCCESSFUL], 1);
    ck_assert_int_eq(r->counts[SUMMARY_FAILED], 1);
    ck_assert_int_eq(r->counts[SUMMARY_UNPRICED_REQUESTS], 1);
    ck_assert_int_eq(r->counts[SUMMARY_INPUT_TOKENS], 30);
    ck_assert_int_eq(r->counts[SUMMARY_OUTPUT_TOKENS], 3);
    ck_assert_int_eq(r->counts[SUMMARY_TOTAL_TOKENS], 30);
    ck_assert(r->cost_usd == 0.25);
    aggregate_free(a);

    /* Without the team split the teams share a row. */
    a = engine("UTC", "2026-08-25", "2026-08-25", false);
    ck_assert_int_eq(
        addf(a, TAGS("acme", "m1", "red", "success") FIELDS(1, 0, "\"reported\""), UTC_0825, 0), 0);
    ck_assert_int_eq(
        addf(a, TAGS("acme", "m1", "blue", "success") FIELDS(2, 0, "\"reported\""), UTC_0825, 0),
        0);
    rs = finish(a);
    ck_assert_uint_eq(rs->len, 1);
    ck_assert_str_eq(rs->items[0].team, "");
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_INPUT_TOKENS], 3);
    aggregate_free(a);
}
END_TEST

START_TEST(zone_day_boundaries)
{
    /* Los Angeles, across the end of DST: 2026-11-01 lasts 25 hours. */
    struct aggregate *a = engine("America/Los_Angeles", "2026-10-31", "2026-11-02", false);
    int64_t from, to;
    aggregate_span(a, &from, &to);
    ck_assert_int_eq(from, S_NS(LA_1031));
    ck_assert_int_eq(to, S_NS(LA_1103));
    const char *p = "model=m,org=acme,provider=openai,status=success "
                    "input_tokens=1i,cost_source=\"reported\"";
    ck_assert_int_eq(addf(a, p, LA_1031, -1), 1); /* the last ns before the run */
    ck_assert_int_eq(addf(a, p, LA_1031, 0), 0);
    ck_assert_int_eq(addf(a, p, LA_1101, -1), 0);            /* still 10-31 */
    ck_assert_int_eq(addf(a, p, LA_1101, 0), 0);             /* 11-01 00:00 PDT */
    ck_assert_int_eq(addf(a, p, LA_1101 + 24 * 3600, 0), 0); /* 23:00 PST: still 11-01 */
    ck_assert_int_eq(addf(a, p, LA_1102, -1), 0);            /* 23:59:59.999999999 */
    ck_assert_int_eq(addf(a, p, LA_1102, 0), 0);
    ck_assert_int_eq(addf(a, p, LA_1103, -1), 0);
    ck_assert_int_eq(addf(a, p, LA_1103, 0), 1); /* the day after the run */
    const struct summary_rows *rs = finish(a);
    ck_assert_uint_eq(rs->len, 3);
    ck_assert_int_eq(row(rs, "2026-10-31", "acme", "m", "")->counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(row(rs, "2026-11-01", "acme", "m", "")->counts[SUMMARY_REQUESTS], 3);
    ck_assert_int_eq(row(rs, "2026-11-02", "acme", "m", "")->counts[SUMMARY_REQUESTS], 2);

    /* Rows go back to InfluxDB stamped with their day's first instant. */
    struct buf out;
    buf_init(&out, 1u << 20);
    ck_assert_int_eq(aggregate_format_points(a, "llm_usage_daily", &out), 0);
    ck_assert_ptr_nonnull(strstr(out.data, "llm_usage_daily,model=m,org=acme,provider=openai,"
                                           "timezone=America/Los_Angeles requests=3i,"));
    ck_assert_ptr_nonnull(strstr(out.data, ",cost_usd=0 1793516400000000000\n"));
    ck_assert_ptr_nonnull(strstr(out.data, " 1793606400000000000\n"));
    buf_free(&out);
    aggregate_free(a);

    /* The same instants cut in UTC. */
    a = engine("UTC", "2026-08-24", "2026-08-25", false);
    ck_assert_int_eq(addf(a, p, UTC_0825, -1), 0);
    ck_assert_int_eq(addf(a, p, UTC_0825, 0), 0);
    ck_assert_int_eq(addf(a, p, UTC_0826, 0), 1);
    rs = finish(a);
    ck_assert_int_eq(row(rs, "2026-08-24", "acme", "m", "")->counts[SUMMARY_REQUESTS], 1);
    ck_assert_int_eq(row(rs, "2026-08-25", "acme", "m", "")->counts[SUMMARY_REQUESTS], 1);
    aggregate_free(a);
}
END_TEST

START_TEST(resent_points_overwrite)
{
    struct aggregate *a = engine("UTC", "2026-08-25", "2026-08-25", false);
    const char *t = "1787616000000000123";
    char line[512];
    snprintf(line, sizeof(line),
             "llm_usage,model=m,org=acme,provider=openai,status=success "
             "input_tokens=10i,output_tokens=5i,cost_usd=0.5,cost_source=\"reported\" %s",
             t);
    ck_assert_int_eq(add(a, line), 0);
    ck_assert_int_eq(add(a, line), 0); /* re-sent as is: still one point */
    /* Re-sent with the tags in another order and other values: the same
     * point, whose fields the last write replaces; output_tokens, which
     * it does not carry, keeps its earlier value. */
    snprintf(line, sizeof(line),
             "llm_usage,status=success,provider=openai,org=acme,model=m "
             "input_tokens=7i,cost_usd=0.25,cost_source=\"unpriced\" %s",
             t);
    ck_assert_int_eq(add(a, line), 0);
    /* Another measurement is not ours, even with the same tags and time. */
    snprintf(line, sizeof(line),
             "other,model=m,org=acme,provider=openai,status=success input_tokens=1000i,"
             "cost_source=\"reported\" %s",
             t);
    ck_assert_int_eq(add(a, line), 1);
    /* One ns later is another point. */
    ck_assert_int_eq(add(a, "llm_usage,model=m,org=acme,provider=openai,status=success "
                            "input_tokens=1i,cost_source=\"reported\" 1787616000000000124"),
                     0);
    const struct summary_rows *rs = finish(a);
    ck_assert_uint_eq(rs->len, 1);
    const struct summary_row *r = &rs->items[0];
    ck_assert_int_eq(r->counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(r->counts[SUMMARY_INPUT_TOKENS], 8);
    ck_assert_int_eq(r->counts[SUMMARY_OUTPUT_TOKENS], 5);
    ck_assert_int_eq(r->counts[SUMMARY_UNPRICED_REQUESTS], 1);
    ck_assert(r->cost_usd == 0.25);
    aggregate_free(a);
}
END_TEST

START_TEST(dedup_modes)
{
    /* dedup = tag: event_id is a tag, so two events in the same ns with the
     * same other tags are two points. */
    struct aggregate *a = engine("UTC", "2026-08-25", "2026-08-25", false);
    ck_assert_int_eq(add(a, "llm_usage,event_id=e1,model=m,org=acme,provider=openai,status=success"
                            " input_tokens=10i,cost_source=\"reported\" 1787616000000000000"),
                     0);
    ck_assert_int_eq(add(a, "llm_usage,event_id=e2,model=m,org=acme,provider=openai,status=success"
                            " input_tokens=20i,cost_source=\"reported\" 1787616000000000000"),
                     0);
    ck_assert_int_eq(add(a, "llm_usage,event_id=e1,model=m,org=acme,provider=openai,status=success"
                            " input_tokens=10i,cost_source=\"reported\" 1787616000000000000"),
                     0); /* the re-send of e1 */
    const struct summary_rows *rs = finish(a);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_INPUT_TOKENS], 30);
    aggregate_free(a);

    /* event_id as a field: the same identity, so InfluxDB keeps the last. */
    a = engine("UTC", "2026-08-25", "2026-08-25", false);
    ck_assert_int_eq(add(a, "llm_usage,model=m,org=acme,provider=openai,status=success"
                            " input_tokens=10i,cost_source=\"reported\",event_id=\"e1\""
                            " 1787616000000000000"),
                     0);
    ck_assert_int_eq(add(a, "llm_usage,model=m,org=acme,provider=openai,status=success"
                            " input_tokens=20i,cost_source=\"reported\",event_id=\"e2\""
                            " 1787616000000000000"),
                     0);
    rs = finish(a);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_REQUESTS], 1);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_INPUT_TOKENS], 20);
    aggregate_free(a);
}
END_TEST

START_TEST(sums_saturate)
{
    struct aggregate *a = engine("UTC", "2026-08-25", "2026-08-25", false);
    const char *p = "model=m,org=acme,provider=openai,status=success "
                    "input_tokens=9223372036854775000i,output_tokens=1i,cost_source=\"reported\"";
    ck_assert_int_eq(addf(a, p, UTC_0825 + 1, 0), 0);
    ck_assert_int_eq(addf(a, p, UTC_0825 + 2, 0), 0);
    ck_assert_int_eq(addf(a, p, UTC_0825 + 3, 0), 0);
    const struct summary_rows *rs = finish(a);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_INPUT_TOKENS], INT64_MAX);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_OUTPUT_TOKENS], 3);
    aggregate_free(a);

    /* The same from InfluxDB's buckets. */
    char err[ERR_MAX];
    a = engine("UTC", "2026-08-25", "2026-08-25", false);
    struct aggregate_bucket b = {.start_ns = S_NS(UTC_0825),
                                 .org = "acme",
                                 .model = "m",
                                 .provider = "openai",
                                 .team = "",
                                 .status = "success",
                                 .requests = INT64_MAX - 1};
    b.sums[0] = INT64_MAX;
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), 0);
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), 0);
    rs = finish(a);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_REQUESTS], INT64_MAX);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_SUCCESSFUL], INT64_MAX);
    ck_assert_int_eq(rs->items[0].counts[SUMMARY_INPUT_TOKENS], INT64_MAX);
    aggregate_free(a);
}
END_TEST

START_TEST(tokenless_requests_count)
{
    struct aggregate *a = engine("UTC", "2026-08-25", "2026-08-25", false);
    /* a request that used no tokens (a failed call, or a source that sends
     * none) is still a request */
    ck_assert_int_eq(addf(a,
                          "model=m,org=acme,provider=openai,status=failure "
                          "cost_source=\"unpriced\"",
                          UTC_0825 + 1, 0),
                     0);
    ck_assert_int_eq(addf(a,
                          "model=m,org=acme,provider=openai,status=success "
                          "cost_source=\"reported\",cost_usd=0.125",
                          UTC_0825 + 2, 0),
                     0);
    /* a point with none of the counted fields adds nothing, not even a row */
    ck_assert_int_eq(addf(a,
                          "model=m,org=other,provider=openai,status=success "
                          "latency_ms=5i",
                          UTC_0825 + 3, 0),
                     0);
    const struct summary_rows *rs = finish(a);
    ck_assert_uint_eq(rs->len, 1);
    const struct summary_row *r = row(rs, "2026-08-25", "acme", "m", "");
    ck_assert_int_eq(r->counts[SUMMARY_REQUESTS], 2);
    ck_assert_int_eq(r->counts[SUMMARY_FAILED], 1);
    ck_assert_int_eq(r->counts[SUMMARY_SUCCESSFUL], 1);
    ck_assert_int_eq(r->counts[SUMMARY_UNPRICED_REQUESTS], 1);
    ck_assert_int_eq(r->counts[SUMMARY_TOTAL_TOKENS], 0);
    ck_assert(r->cost_usd == 0.125);
    aggregate_free(a);
}
END_TEST

START_TEST(points_influxdb_would_not_store)
{
    struct aggregate *a = engine("UTC", "2026-08-25", "2026-08-25", false);
    ck_assert_int_eq(add(a, "llm_usage,org=acme input_tokens=1i,cost_source=\"reported\""),
                     -EINVAL); /* no timestamp */
    ck_assert_int_eq(addf(a, "org=acme input_tokens=1.5,cost_source=\"reported\"", UTC_0825, 0),
                     -EINVAL);
    ck_assert_int_eq(addf(a, "org=acme cost_usd=1i,cost_source=\"reported\"", UTC_0825, 0),
                     -EINVAL);
    ck_assert_uint_eq(finish(a)->len, 0);
    aggregate_free(a);
}
END_TEST

START_TEST(buckets)
{
    char err[ERR_MAX];
    struct aggregate *a = engine("America/Los_Angeles", "2026-10-31", "2026-11-02", true);
    struct aggregate_bucket b = {.start_ns = S_NS(LA_1101),
                                 .org = "acme",
                                 .model = "m",
                                 .provider = "openai",
                                 .team = "red",
                                 .status = "success",
                                 .requests = 3,
                                 .cost_usd = 0.5};
    b.sums[0] = 100;
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), 0);
    b.status = "failure";
    b.requests = 2;
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), 0);
    /* the second statement: only the unpriced count */
    struct aggregate_bucket u = b;
    memset(u.sums, 0, sizeof(u.sums));
    u.requests = 0;
    u.cost_usd = 0;
    u.unpriced = 4;
    ck_assert_int_eq(aggregate_add_bucket(a, &u, err), 0);
    /* a bucket that does not start a local day: InfluxDB cut days otherwise */
    b.start_ns = S_NS(LA_1101 + 3600);
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(err, "not a local midnight in America/Los_Angeles"));
    b.start_ns = S_NS(LA_1103); /* the day after the run */
    ck_assert_int_eq(aggregate_add_bucket(a, &b, err), -EBADMSG);
    const struct summary_rows *rs = finish(a);
    ck_assert_uint_eq(rs->len, 1);
    const struct summary_row *r = row(rs, "2026-11-01", "acme", "m", "red");
    ck_assert_int_eq(r->counts[SUMMARY_REQUESTS], 5);
    ck_assert_int_eq(r->counts[SUMMARY_SUCCESSFUL], 3);
    ck_assert_int_eq(r->counts[SUMMARY_FAILED], 2);
    ck_assert_int_eq(r->counts[SUMMARY_UNPRICED_REQUESTS], 4);
    ck_assert_int_eq(r->counts[SUMMARY_INPUT_TOKENS], 200);
    ck_assert(r->cost_usd == 1.0);
    aggregate_free(a);
}
END_TEST

START_TEST(bad_params)
{
    char err[ERR_MAX];
    struct aggregate *a = NULL;
    struct aggregate_params p = {.measurement = "llm_usage", .tz = "Mars/Olympus"};
    ck_assert_int_eq(tzday_parse("2026-08-25", &p.range.first), 0);
    p.range.last = p.range.first;
    p.range.ndays = 1;
    ck_assert_int_eq(aggregate_new(&p, &a, err), -EINVAL);
    ck_assert_ptr_null(a);
    p.tz = "UTC";
    p.range.ndays = 0;
    ck_assert_int_eq(aggregate_new(&p, &a, err), -EINVAL);
    ck_assert_ptr_null(a);
    aggregate_free(NULL);
}
END_TEST

Suite *check_aggregate_suite(void);
Suite *check_aggregate_suite(void)
{
    Suite *s = suite_create("aggregate");
    TCase *t = tcase_create("aggregate");
    tcase_add_test(t, groups_by_org_team_model_provider_day);
    tcase_add_test(t, zone_day_boundaries);
    tcase_add_test(t, resent_points_overwrite);
    tcase_add_test(t, dedup_modes);
    tcase_add_test(t, sums_saturate);
    tcase_add_test(t, tokenless_requests_count);
    tcase_add_test(t, points_influxdb_would_not_store);
    tcase_add_test(t, buckets);
    tcase_add_test(t, bad_params);
    suite_add_tcase(s, t);
    return s;
}
