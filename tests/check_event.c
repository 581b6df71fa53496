/* SPDX-License-Identifier: MIT */
/* The event schema on its own: the token rules every source's event obeys,
 * and the point an event becomes (docs/schema.md). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tokenmeter/event.h"
#include "tokenmeter/lineproto.h"

static const struct event_schema schema_field = {.measurement = "llm_usage"};

/* Formats ev with schema and checks the whole line. */
static void want_point(const struct event *ev, const struct event_schema *schema, int64_t ts,
                       const char *line)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    ck_assert_int_eq(event_format_point(ev, schema, ts, &b), 0);
    ck_assert_str_eq(b.data, line);
    buf_free(&b);
}

START_TEST(point_has_only_what_is_known)
{
    struct event ev;
    event_init(&ev, "anthropic");
    ev.event_id = "msg_1";
    ev.input_tokens = 12;
    ev.cost_source = EVENT_COST_UNPRICED;
    /* absent strings become "unknown" tags; absent numbers are not written */
    want_point(&ev, &schema_field, 7,
               "llm_usage,model=unknown,org=unknown,provider=unknown,source=anthropic,"
               "status=success input_tokens=12i,cost_source=\"unpriced\",event_id=\"msg_1\" 7\n");
}
END_TEST

START_TEST(point_names_and_types_in_order)
{
    struct event ev;
    event_init(&ev, "litellm");
    ev.event_id = "e1";
    ev.trace_id = "t1";
    ev.model = "gpt-4o";
    ev.org = "acme";
    ev.team = "search";
    ev.user = "u 1";
    ev.provider = "openai";
    ev.status = EVENT_STATUS_ERROR;
    ev.input_tokens = 100;
    ev.cached_input_tokens = 40;
    ev.cache_write_tokens = 10;
    ev.output_tokens = 20;
    ev.reasoning_tokens = 5;
    ev.total_tokens = 120;
    ev.cost_usd = 0.25;
    ev.cost_source = EVENT_COST_REPORTED;
    ev.latency_ms = 1500.5;
    ev.ttft_ms = 200;
    ev.finish_reason = "stop";
    ev.error_type = "http_500";
    const char *fields = "input_tokens=100i,cached_input_tokens=40i,cache_write_tokens=10i,"
                         "output_tokens=20i,reasoning_tokens=5i,total_tokens=120i,cost_usd=0.25,"
                         "latency_ms=1500.5,ttft_ms=200,cost_source=\"reported\"";
    char line[1024];
    /* event_id a field; team and user tags off */
    snprintf(line, sizeof(line),
             "llm_usage,model=gpt-4o,org=acme,provider=openai,source=litellm,status=error "
             "%s,event_id=\"e1\",trace_id=\"t1\",finish_reason=\"stop\",error_type=\"http_500\" "
             "1787666591000000000\n",
             fields);
    want_point(&ev, &schema_field, 1787666591000000000LL, line);
    /* event_id a tag (dedup = tag), team and user tags on, another measurement */
    struct event_schema tagged = {
        .measurement = "usage", .event_id_tag = true, .team_tag = true, .user_tag = true};
    snprintf(line, sizeof(line),
             "usage,event_id=e1,model=gpt-4o,org=acme,provider=openai,source=litellm,"
             "status=error,team=search,user=u\\ 1 "
             "%s,trace_id=\"t1\",finish_reason=\"stop\",error_type=\"http_500\" 5\n",
             fields);
    want_point(&ev, &tagged, 5, line);
}
END_TEST

START_TEST(point_reports_truncation)
{
    struct event ev;
    event_init(&ev, "openai");
    ev.event_id = "e";
    char longer[LINEPROTO_STRING_MAX + 10];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ev.finish_reason = longer;
    struct buf b;
    buf_init(&b, 1 << 16);
    ck_assert_int_eq(event_format_point(&ev, &schema_field, 1, &b), 1);
    buf_free(&b);
    /* a full buffer is an error, not a short line */
    buf_init(&b, 32);
    ck_assert_int_eq(event_format_point(&ev, &schema_field, 1, &b), -ENOSPC);
    buf_free(&b);
}
END_TEST

START_TEST(normalize_settles_provider_durations_and_total)
{
    char err[ERR_MAX];
    struct event ev;
    event_init(&ev, "litellm");
    ev.provider = "OpenAI";
    ev.latency_ms = 2424.999952316284;
    ev.ttft_ms = 0.0004;
    ev.input_tokens = 10;
    ev.output_tokens = 5;
    ev.cost_usd = 1.5;
    ev.cost_not_computed = true;
    ck_assert_int_eq(event_normalize(&ev, err), 0);
    ck_assert_str_eq(ev.provider, "openai");
    ck_assert_ptr_eq(ev.provider, ev.provider_buf);
    ck_assert(ev.latency_ms == 2425.0);
    ck_assert(ev.ttft_ms == 0.0);
    ck_assert_int_eq(ev.total_tokens, 15);
    ck_assert(isnan(ev.cost_usd));
    /* one side unknown: no total */
    event_init(&ev, "litellm");
    ev.input_tokens = 10;
    ck_assert_int_eq(event_normalize(&ev, err), 0);
    ck_assert_int_eq(ev.total_tokens, EVENT_ABSENT);
}
END_TEST

/* Events that break a token rule, and the words the reason must hold. */
static const struct {
    int64_t input, cached, writes, writes_1h, output, reasoning;
    const char *reason;
} broken[] = {
    {10, 11, -1, -1, -1, -1, "exceed input_tokens"},
    {10, 6, 5, -1, -1, -1, "exceed input_tokens"},
    {10, -1, 2, 3, -1, -1, "1-hour cache writes exceed"},
    {-1, -1, -1, -1, 4, 5, "reasoning_tokens 5 exceed output_tokens 4"},
    {INT64_MAX, -1, -1, -1, 1, -1, "out of range"},
};

START_TEST(normalize_refuses_broken_token_rules)
{
    char err[ERR_MAX] = "";
    struct event ev;
    event_init(&ev, "litellm");
    ev.input_tokens = broken[_i].input;
    ev.cached_input_tokens = broken[_i].cached;
    ev.cache_write_tokens = broken[_i].writes;
    ev.cache_write_1h_tokens = broken[_i].writes_1h;
    ev.output_tokens = broken[_i].output;
    ev.reasoning_tokens = broken[_i].reasoning;
    ck_assert_int_eq(event_normalize(&ev, err), -EINVAL);
    ck_assert_msg(strstr(err, broken[_i].reason) != NULL, "want \"%s\" in \"%s\"",
                  broken[_i].reason, err);
}
END_TEST

Suite *check_event_suite(void);
Suite *check_event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *t = tcase_create("event");
    tcase_add_test(t, point_has_only_what_is_known);
    tcase_add_test(t, point_names_and_types_in_order);
    tcase_add_test(t, point_reports_truncation);
    tcase_add_test(t, normalize_settles_provider_durations_and_total);
    tcase_add_loop_test(t, normalize_refuses_broken_token_rules, 0,
                        sizeof(broken) / sizeof(broken[0]));
    suite_add_tcase(s, t);
    return s;
}
