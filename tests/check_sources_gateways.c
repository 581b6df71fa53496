/* SPDX-License-Identifier: MIT */
/* The gateway and observability sources through the pipeline: the rules the
 * golden cases do not isolate, and the cross-source consistency of one call
 * expressed as OpenAI, LiteLLM, Helicone, Langfuse, Kong and Cloudflare
 * payloads (tests/data/cross-source*). */
#include <check.h>
#include <string.h>

#include "pipeline_fixture.h"
#include "testutil.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/lineproto.h"
#include "tokenmeter/pipeline.h"

static char dir[64];

static const char *data_path(const char *rel)
{
    static char p[512];
    const char *td = getenv("TESTDATA");
    snprintf(p, sizeof(p), "%s/%s", td && *td ? td : "tests/data", rel);
    return p;
}

static void fx_open(struct fixture *fx, bool prices)
{
    char err[ERR_MAX];
    struct config *cfg = config_new();
    if (prices)
        ck_assert_int_eq(config_set(cfg, "ingest", "prices",
                                    data_path("../../examples/prices.json"), "test", err),
                         0);
    fx_open_tmp(fx, cfg, dir);
}

static void fx_close_dir(struct fixture *fx)
{
    fx_close_tmp(fx, dir);
}

#define SPAN(id, parent, svc_tokens)                                                               \
    "{\"traceId\":\"t1\",\"spanId\":\"" id "\"" parent ",\"attributes\":[" svc_tokens "]}"
#define USAGE "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"10\"}}"

START_TEST(otlp_one_event_per_generation)
{
    struct fixture fx;
    fx_open(&fx, false);
    /* parent with usage, two attempts repeating it, a grandchild too, and a
     * second root generation in the same trace: two events */
    feed(&fx,
         "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
         "\"value\":{\"stringValue\":\"openrouter\"}}]},\"scopeSpans\":[{\"spans\":["
         "" SPAN("a", "", USAGE) "," SPAN("b", ",\"parentSpanId\":\"a\"", USAGE) "," SPAN(
             "c", ",\"parentSpanId\":\"a\"",
             USAGE) "," SPAN("d", ",\"parentSpanId\":\"c\"",
                             USAGE) "," SPAN("e", "", USAGE) "]}]},"
                                                             "{\"resource\":{\"attributes\":[]},"
                                                             "\"scopeSpans\":[{\"spans\":[" SPAN(
                                                                 "f", ",\"parentSpanId\":\"zz\"",
                                                                 USAGE) "]}]}]}");
    ck_assert_uint_eq(fx.st.written, 3);
    ck_assert_int_eq(tu_count(fx.out.data, "source=openrouter"), 2);
    ck_assert_int_eq(tu_count(fx.out.data, "source=otel"), 1); /* a resource of its own */
    want(&fx, "event_id=\"t1:a\"");
    want(&fx, "event_id=\"t1:e\"");
    want(&fx, "event_id=\"t1:f\"");
    /* a bad count anywhere rejects the export whole: nothing of it is written */
    buf_reset(&fx.out);
    feed(&fx, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[" SPAN("a", "", USAGE) "," SPAN(
                  "b", "",
                  "{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":\"-3\"}}") "]}]}"
                                                                                              "]}");
    ck_assert_uint_eq(fx.st.rejected, 1);
    ck_assert_uint_eq(fx.out.len, 0);
    fx_close_dir(&fx);
}
END_TEST

/* Hundreds of usage spans in one export: the span index grows well past its
 * first size, and every attempt still finds its generation. */
START_TEST(otlp_large_export)
{
    struct fixture fx;
    fx_open(&fx, false);
    struct buf json;
    buf_init(&json, 1 << 20);
    buf_puts(&json, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (int i = 0; i < 300; i++)
        buf_printf(&json,
                   "%s" SPAN("g%d", "", USAGE) "," SPAN("a%d", ",\"parentSpanId\":\"g%d\"", USAGE),
                   i ? "," : "", i, i, i);
    buf_puts(&json, "]}]}]}");
    ck_assert_int_eq(buf_error(&json), 0);
    feed(&fx, json.data);
    ck_assert_uint_eq(fx.st.written, 300);
    want(&fx, "event_id=\"t1:g0\"");
    want(&fx, "event_id=\"t1:g299\"");
    want_not(&fx, "event_id=\"t1:a");
    buf_free(&json);
    fx_close_dir(&fx);
}
END_TEST

/* A joined id too long to keep (request id + plugin name) is compacted, not
 * dropped: the event keeps an id of its own. */
START_TEST(kong_long_joined_id)
{
    struct fixture fx;
    fx_open(&fx, false);
    char rid[301];
    memset(rid, 'r', 300);
    rid[300] = '\0';
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"request\":{\"id\":\"%s\"},\"started_at\":1787666591000,\"ai\":{"
             "\"ai-request-transformer\":{\"usage\":{\"prompt_tokens\":1,"
             "\"completion_tokens\":1},\"meta\":{\"response_model\":\"m\"}}}}",
             rid);
    feed(&fx, json);
    ck_assert_uint_eq(fx.st.written, 1);
    want(&fx, "event_id=\"rrrr");
    want(&fx, "~");
    want_not(&fx, "ai-request-transformer\"");
    fx_close_dir(&fx);
}
END_TEST

START_TEST(zero_event_bodies_are_ignored)
{
    struct fixture fx;
    fx_open(&fx, false);
    feed(&fx, "{\"resourceSpans\":[]}");
    feed(&fx, "{\"batch\":[]}");
    feed(&fx,
         "{\"batch\":[{\"id\":\"e\",\"type\":\"trace-create\",\"body\":{\"id\":\"t\"}},"
         "{\"id\":\"g\",\"type\":\"generation-create\",\"body\":{\"id\":\"o\",\"model\":\"m\"}}]}");
    ck_assert_uint_eq(fx.st.ignored, 3);
    ck_assert_uint_eq(fx.st.rejected, 0);
    ck_assert_uint_eq(fx.st.written, 0);
    fx_close_dir(&fx);
}
END_TEST

START_TEST(langfuse_cache_split_without_total)
{
    struct fixture fx;
    fx_open(&fx, false);
    feed(&fx, "{\"batch\":[{\"id\":\"e\",\"type\":\"generation-create\",\"body\":{\"id\":\"o\","
              "\"model\":\"m\",\"usageDetails\":{\"input\":100,\"input_cache_creation_5m\":20,"
              "\"input_cache_creation_1h\":30,\"input_audio_tokens\":5,\"output\":7,"
              "\"output_reasoning\":3,\"total\":165,\"my_custom_unit\":99}}}]}");
    want(&fx, "input_tokens=155i,cache_write_tokens=50i,output_tokens=10i,reasoning_tokens=3i,"
              "total_tokens=165i");
    fx_close_dir(&fx);
}
END_TEST

/* A create and its update in one batch are one generation: the update's
 * cost joins the create's model and time (Langfuse upserts). */
START_TEST(langfuse_create_and_update_merge)
{
    struct fixture fx;
    fx_open(&fx, false);
    feed(&fx, "{\"batch\":[{\"id\":\"e1\",\"type\":\"generation-create\",\"timestamp\":"
              "\"2026-08-25T14:03:11Z\",\"body\":{\"id\":\"obs\",\"model\":\"gpt-4o-mini\","
              "\"startTime\":\"2026-08-25T14:03:10Z\",\"usageDetails\":{\"input\":10,"
              "\"output\":5}}},{\"id\":\"e2\",\"type\":\"generation-update\",\"timestamp\":"
              "\"2026-08-25T14:03:12Z\",\"body\":{\"id\":\"obs\",\"endTime\":"
              "\"2026-08-25T14:03:12Z\",\"usageDetails\":{\"input\":10,\"output\":5},"
              "\"costDetails\":{\"total\":0.25}}},{\"id\":\"e3\",\"type\":"
              "\"generation-create\",\"body\":{\"id\":\"other\",\"model\":\"m2\","
              "\"startTime\":\"2026-08-25T14:03:10Z\",\"usageDetails\":{\"input\":1,"
              "\"output\":1}}}]}");
    ck_assert_int_eq(fx.st.written, 2);
    want(&fx, "model=gpt-4o-mini,org=unknown,provider=unknown,source=langfuse,status=success "
              "input_tokens=10i,output_tokens=5i,total_tokens=15i,cost_usd=0.25,latency_ms=2000,"
              "cost_source=\"reported\",event_id=\"obs\"");
    want(&fx, "model=m2,");
    ck_assert_ptr_null(strstr(fx.out.data, "model=unknown"));
    fx_close_dir(&fx);
}
END_TEST

START_TEST(helicone_reads_the_provider_body)
{
    struct fixture fx;
    fx_open(&fx, false);
    /* response_body wins over Helicone's own counts (which may exclude cache) */
    feed(&fx, "{\"request_id\":\"r\",\"response_body\":\"{\\\"type\\\":\\\"message\\\","
              "\\\"usage\\\":{\\\"input_tokens\\\":3,\\\"cache_read_input_tokens\\\":40,"
              "\\\"output_tokens\\\":2}}\",\"model\":\"claude\",\"provider\":\"ANTHROPIC\","
              "\"metadata\":{\"promptTokens\":3,\"completionTokens\":2}}");
    want(&fx, "provider=anthropic,source=helicone");
    want(&fx, "input_tokens=43i,cached_input_tokens=40i,output_tokens=2i");
    fx_close_dir(&fx);
}
END_TEST

START_TEST(kong_cost_zero_is_not_a_price)
{
    struct fixture fx;
    fx_open(&fx, true);
    feed(&fx, "{\"request\":{\"id\":\"k1\"},\"started_at\":1787666591000,\"ai\":{\"proxy\":"
              "{\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"cost\":0},"
              "\"meta\":{\"response_model\":\"gpt-4o-mini\"}}}}");
    want(&fx, "cost_usd=0,cost_source=\"reported\"");
    buf_reset(&fx.out);
    feed(&fx, "{\"request\":{\"id\":\"k2\"},\"started_at\":1787666591000,\"ai\":{\"proxy\":"
              "{\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":0,\"cost\":0},"
              "\"meta\":{\"response_model\":\"gpt-4o-mini\"}}}}");
    want(&fx, "cost_usd=0.00015,cost_source=\"computed\"");
    fx_close_dir(&fx);
}
END_TEST

/* The token and cost fields of every point in a golden case's output,
 * checked equal across its lines. */
static void consistent(const char *case_dir, const char *cost_source)
{
    struct fixture fx;
    fx_open(&fx, true);
    char rel[128];
    snprintf(rel, sizeof(rel), "%s/input.ndjson", case_dir);
    char *in = tu_read_file(data_path(rel));
    ck_assert_ptr_nonnull(in);
    size_t n = 0;
    for (char *p = in; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        ck_assert_int_eq(pipeline_feed(fx.p, p, len, "t", NULL, &fx.out), 0);
        n++;
        p += len + (nl ? 1 : 0);
    }
    free(in);
    ck_assert_uint_eq(n, 6);
    ck_assert_uint_eq(fx.st.written, 6);
    static const char *const same[] = {"input_tokens", "output_tokens", "total_tokens"};
    const char *src[6] = {0};
    size_t i = 0;
    for (const char *p = fx.out.data; *p && i < 6; i++) {
        const char *nl = strchr(p, '\n');
        struct lineproto_point pt;
        char err[ERR_MAX];
        lineproto_point_init(&pt);
        ck_assert_msg(lineproto_parse(p, (size_t)(nl - p), &pt, err) == 0, "%s", err);
        src[i] = lineproto_point_tag(&pt, "source");
        for (size_t k = 0; k < 3; k++) {
            const struct lineproto_field *f = lineproto_point_field(&pt, same[k]);
            ck_assert_ptr_nonnull(f);
            ck_assert_int_eq(f->i, k == 0 ? 2150 : k == 1 ? 212 : 2362);
        }
        /* Cloudflare logs no cache split: its input is all uncached, so only
         * its computed cost may differ. */
        bool has_split = strcmp(src[i], "cloudflare") != 0;
        const struct lineproto_field *cached = lineproto_point_field(&pt, "cached_input_tokens");
        ck_assert(has_split ? cached && cached->i == 1536 : cached == NULL);
        const struct lineproto_field *cost = lineproto_point_field(&pt, "cost_usd");
        const struct lineproto_field *cs = lineproto_point_field(&pt, "cost_source");
        ck_assert_ptr_nonnull(cost);
        if (has_split || strcmp(cost_source, "reported") == 0)
            ck_assert_double_eq(cost->f, 0.0003345);
        else
            ck_assert_double_eq(cost->f, 2150 * 1.5e-07 + 212 * 6e-07);
        /* OpenAI reports no cost: priced from the table in both runs */
        ck_assert_str_eq(cs->s, strcmp(src[i], "openai") == 0 ? "computed" : cost_source);
        lineproto_point_free(&pt);
        p = nl + 1;
    }
    ck_assert_uint_eq(i, 6);
    fx_close_dir(&fx);
}

START_TEST(cross_source_reported)
{
    consistent("cross-source", "reported");
}
END_TEST

START_TEST(cross_source_computed)
{
    consistent("cross-source-computed", "computed");
}
END_TEST

Suite *check_sources_gateways_suite(void);
Suite *check_sources_gateways_suite(void)
{
    Suite *s = suite_create("sources_gateways");
    TCase *tc = tcase_create("sources_gateways");
    tcase_add_test(tc, otlp_one_event_per_generation);
    tcase_add_test(tc, otlp_large_export);
    tcase_add_test(tc, kong_long_joined_id);
    tcase_add_test(tc, zero_event_bodies_are_ignored);
    tcase_add_test(tc, langfuse_cache_split_without_total);
    tcase_add_test(tc, langfuse_create_and_update_merge);
    tcase_add_test(tc, helicone_reads_the_provider_body);
    tcase_add_test(tc, kong_cost_zero_is_not_a_price);
    tcase_add_test(tc, cross_source_reported);
    tcase_add_test(tc, cross_source_computed);
    suite_add_tcase(s, tc);
    return s;
}
