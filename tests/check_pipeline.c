/* SPDX-License-Identifier: MIT */
/* The normalizers, end to end through the pipeline: each source's token
 * rules, tenancy precedence, envelopes, arrays, identity modes, and that
 * every body is counted exactly once. */
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipeline_fixture.h"
#include "testutil.h"
#include "tokenmeter/config.h"
#include "tokenmeter/deadletter.h"
#include "tokenmeter/pipeline.h"

static char dir[64];
static char dlpath[128];

static void setup(void)
{
    tu_tmpdir(dir, sizeof(dir));
    snprintf(dlpath, sizeof(dlpath), "%s/dl.ndjson", dir);
}

static void teardown(void)
{
    unlink(dlpath);
    rmdir(dir);
}

/* Builds a pipeline with "section.key=value" overrides (NULL-terminated). */
static void fx_open(struct fixture *fx, const char *const *sets)
{
    char err[ERR_MAX];
    struct config *cfg = config_new();
    for (; sets && *sets; sets++)
        ck_assert_msg(config_set_assignment(cfg, *sets, err) == 0, "%s", err);
    fx_open_config(fx, cfg, dlpath);
}

START_TEST(anthropic_adds_cache_to_input)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx, "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\",\"stop_reason\":\"end_"
              "turn\","
              "\"usage\":{\"input_tokens\":312,\"cache_creation_input_tokens\":1850,"
              "\"cache_read_input_tokens\":10240,\"output_tokens\":486}}");
    want(&fx, "llm_usage,model=claude-x,org=unknown,provider=anthropic,source=anthropic,"
              "status=success input_tokens=12402i,cached_input_tokens=10240i,"
              "cache_write_tokens=1850i,output_tokens=486i,total_tokens=12888i,"
              "cost_source=\"unpriced\",operation=\"chat\",event_id=\"msg_1\",finish_reason=\"end_"
              "turn\" ");
    ck_assert_int_eq(fx.st.written, 1);
    fx_close(&fx);
}
END_TEST

START_TEST(gemini_adds_thoughts_and_tool_prompt)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx,
         "{\"responseId\":\"r1\",\"modelVersion\":\"gemini-x\",\"usageMetadata\":{"
         "\"promptTokenCount\":5234,\"toolUsePromptTokenCount\":6,\"candidatesTokenCount\":311,"
         "\"cachedContentTokenCount\":4096,\"thoughtsTokenCount\":744}}");
    want(&fx, "provider=gemini,source=gemini,status=success input_tokens=5240i,"
              "cached_input_tokens=4096i,output_tokens=1055i,reasoning_tokens=744i,"
              "total_tokens=6295i");
    fx_close(&fx);
}
END_TEST

START_TEST(openai_chat_and_responses_inclusive)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1787666592,"
              "\"model\":\"gpt-x\",\"choices\":[{\"finish_reason\":\"stop\"}],\"usage\":{"
              "\"prompt_tokens\":2150,\"completion_tokens\":212,\"prompt_tokens_details\":"
              "{\"cached_tokens\":1536},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}");
    want(&fx, "source=openai,status=success input_tokens=2150i,cached_input_tokens=1536i,"
              "output_tokens=212i,reasoning_tokens=0i,total_tokens=2362i");
    want(&fx, " 1787666592");
    buf_reset(&fx.out);
    feed(&fx,
         "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1787649302,\"status\":"
         "\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"},"
         "\"model\":\"o4\",\"metadata\":{\"org_id\":\"org_a\"},\"usage\":{\"input_tokens\":1320,"
         "\"input_tokens_details\":{\"cached_tokens\":1024},\"output_tokens\":890,"
         "\"output_tokens_details\":{\"reasoning_tokens\":640}}}");
    want(&fx, "org=org_a,provider=openai,source=openai,status=error input_tokens=1320i,"
              "cached_input_tokens=1024i,output_tokens=890i,reasoning_tokens=640i,"
              "total_tokens=2210i");
    want(&fx, "finish_reason=\"max_output_tokens\",error_type=\"incomplete\"");
    fx_close(&fx);
}
END_TEST

START_TEST(litellm_split_from_usage_object)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.extra_tags=team,user", NULL});
    feed(&fx,
         "{\"id\":\"c1\",\"call_type\":\"acompletion\",\"status\":\"success\",\"trace_id\":\"t1\","
         "\"custom_llm_provider\":\"Anthropic\",\"model\":\"claude-x\",\"prompt_tokens\":12402,"
         "\"completion_tokens\":486,\"response_cost\":0.01,\"startTime\":1787666591.5,"
         "\"endTime\":1787666593.0,\"metadata\":{\"user_api_key_org_id\":\"org_a\","
         "\"user_api_key_team_id\":\"team_b\",\"user_api_key_user_id\":\"u_c\",\"usage_object\":"
         "{\"cache_read_input_tokens\":10240,\"cache_creation_input_tokens\":1850}}}");
    want(&fx, "llm_usage,model=claude-x,org=org_a,provider=anthropic,source=litellm,"
              "status=success,team=team_b,user=u_c input_tokens=12402i,cached_input_tokens=10240i,"
              "cache_write_tokens=1850i,output_tokens=486i,total_tokens=12888i,cost_usd=0.01,"
              "latency_ms=1500,cost_source=\"reported\"");
    fx_close(&fx);
}
END_TEST

START_TEST(litellm_failure_and_unreliable_cost)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx,
         "{\"id\":\"c2\",\"call_type\":\"acompletion\",\"status\":\"failure\",\"model\":\"m\","
         "\"prompt_tokens\":0,\"completion_tokens\":0,\"response_cost\":0.0,\"startTime\":1.0e9,"
         "\"error_information\":{\"error_code\":\"429\",\"error_class\":\"RateLimitError\"}}");
    want(&fx, "status=error input_tokens=0i,output_tokens=0i,total_tokens=0i,cost_usd=0,");
    want(&fx, "error_type=\"RateLimitError\"");
    buf_reset(&fx.out);
    feed(&fx,
         "{\"id\":\"c3\",\"call_type\":\"acompletion\",\"status\":\"success\",\"model\":\"m\","
         "\"prompt_tokens\":5,\"completion_tokens\":1,\"response_cost\":0.0,\"startTime\":1.0e9,"
         "\"response_cost_failure_debug_info\":{\"error_str\":\"model not mapped\"}}");
    want(&fx, "cost_source=\"unpriced\"");
    want_not(&fx, "cost_usd=");
    fx_close(&fx);
}
END_TEST

START_TEST(openrouter_generation_wrapped_and_bare)
{
    const char *g =
        "{\"id\":\"gen-1\",\"request_id\":\"req-1\",\"total_cost\":0.0075048,"
        "\"created_at\":\"2026-08-25T14:03:11.482113+00:00\",\"model\":\"anthropic/c\","
        "\"provider_name\":\"Anthropic\",\"latency\":2210,\"native_tokens_prompt\":1874,"
        "\"native_tokens_completion\":402,\"native_tokens_reasoning\":0,"
        "\"native_tokens_cached\":1536,\"workspace_id\":\"ws-1\",\"finish_reason\":\"stop\"}";
    char wrapped[1024];
    snprintf(wrapped, sizeof(wrapped), "{\"data\":%s}", g);
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.dedup_cache=0", NULL});
    feed(&fx, g);
    feed(&fx, wrapped);
    ck_assert_int_eq(fx.st.written, 2);
    /* both shapes give the same point */
    char *nl = strchr(fx.out.data, '\n');
    ck_assert_int_eq(memcmp(fx.out.data, nl + 1, (size_t)(nl - fx.out.data)), 0);
    want(&fx, "model=anthropic/c,org=ws-1,provider=anthropic,source=openrouter,status=success "
              "input_tokens=1874i,cached_input_tokens=1536i,output_tokens=402i,"
              "reasoning_tokens=0i,total_tokens=2276i,cost_usd=0.0075048,latency_ms=2210,"
              "cost_source=\"reported\",event_id=\"gen-1\",trace_id=\"req-1\"");
    fx_close(&fx);
}
END_TEST

/* Streams and half-done snapshots hold no event; reused ids and failure
 * finish reasons are told apart (from review, with real payload shapes). */
START_TEST(stream_chunks_snapshots_and_reused_ids)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    /* LiteLLM: providers reuse short ids; LiteLLM's call id keeps two calls apart */
#define LITELLM_424(call, tokens)                                                                  \
    "{\"id\":\"chatcmpl-424\",\"litellm_call_id\":\"" call "\",\"call_type\":\"acompletion\","     \
    "\"status\":\"success\",\"model\":\"m\",\"prompt_tokens\":" tokens ",\"completion_tokens\":1," \
    "\"startTime\":1787666591.0}"
    feed(&fx, LITELLM_424("1111", "100"));
    feed(&fx, LITELLM_424("2222", "900"));
#undef LITELLM_424
    ck_assert_int_eq(fx.st.written, 2);
    want(&fx, "input_tokens=900i");
    want(&fx, "event_id=\"chatcmpl-424:2222\"");
    /* Gemini streamGenerateContent: only the chunk with a finishReason counts */
    feed(&fx, "[{\"responseId\":\"r-1\",\"modelVersion\":\"g\",\"candidates\":[{\"content\":{}}],"
              "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":3}},"
              "{\"responseId\":\"r-1\",\"modelVersion\":\"g\",\"candidates\":[{\"finishReason\":"
              "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":311,"
              "\"thoughtsTokenCount\":744}}]");
    want(&fx, "input_tokens=5i,output_tokens=1055i,reasoning_tokens=744i");
    want_not(&fx, "output_tokens=3i");
    /* a SAFETY stop is a failed call */
    feed(&fx,
         "{\"responseId\":\"v1\",\"modelVersion\":\"g\",\"candidates\":[{\"finishReason\":"
         "\"SAFETY\"}],\"usageMetadata\":{\"promptTokenCount\":10,\"candidatesTokenCount\":0}}");
    want(&fx, "status=error input_tokens=10i");
    want(&fx, "error_type=\"SAFETY\"");
    /* OpenAI: chunks without usage and unfinished Responses snapshots */
    feed(&fx, "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1787666591,"
              "\"model\":\"m\",\"choices\":[],\"usage\":null}");
    feed(&fx, "{\"id\":\"resp_2\",\"object\":\"response\",\"created_at\":1787666591,"
              "\"status\":\"in_progress\",\"model\":\"m\",\"usage\":null}");
    /* OTLP: the status enum's name means error too */
    feed(&fx, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"t\",\"spanId\":"
              "\"s\",\"startTimeUnixNano\":\"1787666591000000000\",\"status\":{\"code\":"
              "\"STATUS_CODE_ERROR\"},\"attributes\":[{\"key\":\"gen_ai.request.model\","
              "\"value\":{\"stringValue\":\"m\"}},{\"key\":\"gen_ai.usage.input_tokens\","
              "\"value\":{\"intValue\":\"7\"}}]}]}]}]}");
    want(&fx, "status=error input_tokens=7i");
    ck_assert_int_eq(fx.st.rejected, 0);
    ck_assert_int_eq(fx.st.ignored, 3); /* the early chunk, the usage-less chunk, the snapshot */
    ck_assert_int_eq(fx.st.written, 5);
    fx_close(&fx);
}
END_TEST

START_TEST(envelope_outranks_body_tenancy)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.extra_tags=team", NULL});
    feed(&fx,
         "{\"tokenmeter\":1,\"org\":\"org_env\",\"team\":\"t_env\",\"source\":\"openai\",\"body\":"
         "{\"id\":\"r1\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\","
         "\"model\":\"gpt-m\",\"metadata\":{\"org_id\":\"org_body\",\"team_id\":\"t_body\"},"
         "\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}");
    want(&fx, "org=org_env,provider=openai,source=openai,status=success,team=t_env ");
    fx_close(&fx);
}
END_TEST

START_TEST(transport_tenancy_and_default_org)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.default_org=org_default", NULL});
    const char *body = "{\"id\":\"m1\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
                       "{\"input_tokens\":1,\"output_tokens\":2}}";
    feed(&fx, body);
    want(&fx, "org=org_default,");
    buf_reset(&fx.out);
    struct pipeline_tenancy tags = {.org = "org_tag"};
    const char *body2 = "{\"id\":\"m2\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
                        "{\"input_tokens\":1,\"output_tokens\":2}}";
    ck_assert_int_eq(pipeline_feed(fx.p, body2, strlen(body2), "t", &tags, &fx.out), 0);
    want(&fx, "org=org_tag,");
    fx_close(&fx);
}
END_TEST

/* Bodies that must be rejected, each with the words its reason must hold. */
static const struct {
    const char *body;
    const char *reason;
} rejects[] = {
    {"{\"tokenmeter\":2,\"body\":{}}", "must be 1"},
    {"{\"tokenmeter\":1,\"source\":\"nosuch\",\"body\":{}}", "unknown source"},
    {"{\"tokenmeter\":1,\"org\":5,\"body\":{}}", "\\\"org\\\" must be a string"},
    {"{\"tokenmeter\":1}", "\\\"body\\\" must be"},
    {"{\"hello\":\"world\"}", "unrecognised shape"},
    {"{\"object\":\"chat.completion\",\"id\":\"x\"}", "without a usage object"},
    {"{\"type\":\"message\",\"usage\":{\"input_tokens\":-1}}", "out of range"},
    {"{\"type\":\"message\",\"usage\":{\"input_tokens\":\"lots\"}}", "not a non-negative integer"},
    {"{\"type\":\"message\",\"usage\":{\"input_tokens\":1.5}}", "not a non-negative integer"},
    /* counts read below a parent found once are still named by their whole pointer */
    {"{\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":10,\"prompt_tokens_details\":"
     "{\"cached_tokens\":\"x\"}}}",
     "openai: /usage/prompt_tokens_details/cached_tokens: not a non-negative integer"},
    {"{\"type\":\"message\",\"usage\":{\"input_tokens\":1,\"cache_creation_input_tokens\":-2}}",
     "anthropic: /usage/cache_creation_input_tokens: token count out of range"},
    {"{\"call_type\":\"completion\",\"status\":\"success\",\"startTime\":1787666591,"
     "\"prompt_tokens\":1,\"metadata\":{\"usage_object\":{\"completion_tokens_details\":"
     "{\"reasoning_tokens\":-1}}}}",
     "litellm: /metadata/usage_object/completion_tokens_details/reasoning_tokens: token count out "
     "of range"},
    {"{\"call_type\":\"completion\",\"status\":\"success\",\"startTime\":\"soon\"}",
     "litellm: /startTime: not a valid time"},
    {"{\"object\":\"chat.completion\",\"usage\":{\"prompt_tokens\":10,\"prompt_tokens_details\":"
     "{\"cached_tokens\":11}}}",
     "exceed input_tokens"},
    {"{\"object\":\"response\",\"usage\":{\"output_tokens\":1,\"output_tokens_details\":"
     "{\"reasoning_tokens\":2}}}",
     "exceed output_tokens"},
    {"{\"type\":\"message\",\"usage\":{\"input_tokens\":9223372036854775807,"
     "\"cache_read_input_tokens\":1}}",
     "out of range"},
    {"{\"object\":\"chat.completion\",\"created\":\"yesterday\",\"usage\":{}}", "not a valid time"},
    {"{\"object\":\"chat.completion\",\"created\":99999999999999,\"usage\":{}}", "1970..2262"},
    {"{\"object\":\"chat.completion\",\"usageMetadata\":{},\"usage\":{}}", "ambiguous shape"},
    {"[1,2", "invalid JSON"},
};

START_TEST(rejections_are_dead_lettered_with_reason)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx, rejects[_i].body);
    ck_assert_int_eq(fx.st.rejected, 1);
    ck_assert_int_eq(fx.st.written, 0);
    ck_assert_uint_eq(fx.out.len, 0);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_ptr_nonnull(dl);
    ck_assert_msg(strstr(dl, rejects[_i].reason) != NULL, "want \"%s\" in %s", rejects[_i].reason,
                  dl);
    free(dl);
}
END_TEST

/* A backfill older than the retention window is dead-lettered with the
 * reason, never handed to InfluxDB to drop in silence. */
START_TEST(events_beyond_the_retention_window)
{
    static const char *const sets[] = {"influxdb.retention_days=30",
                                       "ingest.max_event_age=retention", NULL};
    /* 2026-08-25T14:03:12Z and 31 days later */
    const char *body = "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":"
                       "1787666592,\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,"
                       "\"completion_tokens\":1}}";
    struct fixture fx;
    fx_open(&fx, sets);
    ck_assert_int_eq(fx.cfg->ingest.max_event_age_s, 30 * 86400 - 3600);
    pipeline_set_clock(fx.p, FX_RECEIVE_NS + 29LL * 86400 * 1000000000);
    feed(&fx, body);
    ck_assert_int_eq(fx.st.written, 1);
    pipeline_set_clock(fx.p, FX_RECEIVE_NS + 31LL * 86400 * 1000000000);
    feed(&fx, body);
    ck_assert_int_eq(fx.st.rejected, 1);
    /* a body without a time of its own is judged by its receive time */
    feed(&fx, "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
              "{\"input_tokens\":2}}");
    ck_assert_int_eq(fx.st.rejected, 2);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_ptr_nonnull(dl);
    ck_assert_ptr_nonnull(strstr(dl, "event time 2026-08-25T14:03:12.000Z is older than [ingest] "
                                     "max_event_age (719 h)"));
    free(dl);

    /* off (the default) and explicit durations */
    struct config *cfg = config_new();
    char err[ERR_MAX];
    ck_assert_int_eq(config_finish(cfg, err), 0);
    ck_assert_int_eq(cfg->ingest.max_event_age_s, 0);
    ck_assert_int_eq(config_set_assignment(cfg, "ingest.max_event_age=36h", err), 0);
    ck_assert_int_eq(config_finish(cfg, err), 0);
    ck_assert_int_eq(cfg->ingest.max_event_age_s, 36 * 3600);
    ck_assert_int_eq(config_set_assignment(cfg, "ingest.max_event_age=7d", err), 0);
    ck_assert_int_eq(config_finish(cfg, err), 0);
    ck_assert_int_eq(cfg->ingest.max_event_age_s, 7 * 86400);
    ck_assert_int_eq(config_set_assignment(cfg, "influxdb.retention_days=0", err), 0);
    ck_assert_int_eq(config_set_assignment(cfg, "ingest.max_event_age=retention", err), 0);
    ck_assert_int_eq(config_finish(cfg, err), 0);
    ck_assert_int_eq(cfg->ingest.max_event_age_s, 0); /* kept forever */
    ck_assert_int_eq(config_set_assignment(cfg, "ingest.max_event_age=a week", err), 0);
    ck_assert_int_eq(config_finish(cfg, err), -EINVAL);
    config_free(cfg);
}
END_TEST

START_TEST(array_elements_stand_alone)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    feed(&fx, "[{\"id\":\"a\",\"type\":\"message\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}},"
              "7,{\"bad\":true},{\"id\":\"b\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
              "{\"input_tokens\":2}}]");
    ck_assert_int_eq(fx.st.lines, 1);
    ck_assert_int_eq(fx.st.written, 2);
    ck_assert_int_eq(fx.st.rejected, 2);
    feed(&fx, "[]");
    ck_assert_int_eq(fx.st.ignored, 1);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_ptr_nonnull(strstr(dl, "\"origin\":\"test:1[1]\",\"raw\":\"7\""));
    ck_assert_ptr_nonnull(strstr(dl, "\"origin\":\"test:1[2]\",\"raw\":\"{\\\"bad\\\":true}\""));
    free(dl);
}
END_TEST

START_TEST(identity_modes)
{
    const char *body =
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1787666592,"
        "\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}";
    struct fixture fx;
    /* timestamp mode: re-send dropped in-process, same second, hashed ns */
    fx_open(&fx, NULL);
    feed(&fx, body);
    feed(&fx, body);
    ck_assert_int_eq(fx.st.written, 1);
    ck_assert_int_eq(fx.st.duplicates, 1);
    ck_assert_int_eq(fx.st.events, 2);
    want(&fx, " 1787666592");
    want_not(&fx, " 1787666592000000000\n");
    fx_close(&fx);
    /* tag mode: event_id is the first tag and not a field */
    fx_open(&fx, (const char *const[]){"ingest.dedup=tag", NULL});
    feed(&fx, body);
    want(&fx, "llm_usage,event_id=chatcmpl-9,model=m,");
    want_not(&fx, "event_id=\"");
    want(&fx, " 1787666592000000000\n");
    fx_close(&fx);
    /* off: time as is, nothing dropped */
    fx_open(&fx, (const char *const[]){"ingest.dedup=off", NULL});
    feed(&fx, body);
    feed(&fx, body);
    ck_assert_int_eq(fx.st.written, 2);
    ck_assert_int_eq(fx.st.duplicates, 0);
    fx_close(&fx);
}
END_TEST

START_TEST(body_without_id_gets_stable_hash)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.dedup_cache=0", NULL});
    feed(&fx, "{\"type\":\"message\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_"
              "tokens\":2}}");
    feed(&fx, "{\"model\":\"c\",\"type\":\"message\",\"usage\":{\"output_tokens\":2,\"input_"
              "tokens\":1}}");
    char *first = strstr(fx.out.data, "event_id=\"body-");
    ck_assert_ptr_nonnull(first);
    char *second = strstr(first + 1, "event_id=\"body-");
    ck_assert_ptr_nonnull(second);
    ck_assert_int_eq(strncmp(first, second, 36), 0); /* key order does not matter */
    fx_close(&fx);
}
END_TEST

/* Long ids that share a prefix are still distinct events (the written id
 * is a prefix plus the hash of the whole id). */
START_TEST(long_ids_stay_distinct)
{
    struct fixture fx;
    fx_open(&fx, NULL);
    char body[1024], id[400];
    memset(id, 'q', 300);
    for (int i = 0; i < 2; i++) {
        snprintf(id + 300, sizeof(id) - 300, "-%d", i);
        snprintf(body, sizeof(body),
                 "{\"id\":\"%s\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
                 "{\"input_tokens\":1,\"output_tokens\":2}}",
                 id);
        feed(&fx, body);
    }
    ck_assert_int_eq(fx.st.written, 2);
    ck_assert_int_eq(fx.st.duplicates, 0);
    ck_assert_int_eq(tu_count(fx.out.data, "qqqq~"), 2);
    fx_close(&fx);
}
END_TEST

START_TEST(bom_and_oversize)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.max_body_bytes=1024", NULL});
    feed(&fx, "\xEF\xBB\xBF{\"id\":\"m\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
              "{\"input_tokens\":1}}");
    ck_assert_int_eq(fx.st.written, 1);
    char big[2048];
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    feed(&fx, big);
    ck_assert_int_eq(fx.st.rejected, 1);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_ptr_nonnull(strstr(dl, "exceeds max_body_bytes (1024)"));
    free(dl);
}
END_TEST

START_TEST(forced_source)
{
    struct fixture fx;
    fx_open(&fx, (const char *const[]){"ingest.source=gemini", NULL});
    feed(&fx, "{\"type\":\"message\",\"usage\":{\"input_tokens\":1}}");
    ck_assert_int_eq(fx.st.rejected, 1);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_ptr_nonnull(strstr(dl, "not a gemini body"));
    free(dl);
    char err[ERR_MAX];
    struct config *c = config_new();
    config_set_assignment(c, "ingest.source=nosuch", err);
    config_finish(c, err);
    struct stats st;
    memset(&st, 0, sizeof(st));
    struct pipeline *p = (struct pipeline *)&st; /* must be reset to NULL */
    ck_assert_int_eq(pipeline_new(c, NULL, &st, &p, err), -EINVAL);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err, "unknown source"));
    config_free(c);
}
END_TEST

/* The allocation-failure test replaces the C library's malloc behaviour
 * with an address-space limit; ASan and valgrind bring their own allocator
 * and die rather than return NULL, so it is skipped under them. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define OOM_TESTABLE 0
#else
#define OOM_TESTABLE 1
#endif

static bool under_valgrind(void)
{
    const char *pre = getenv("LD_PRELOAD");
    return pre && strstr(pre, "vgpreload");
}

/* Bytes of address space in use (VmSize). */
static size_t vm_size(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(fp);
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, "VmSize:", 7) == 0)
            kb = strtoull(line + 7, NULL, 10);
    fclose(fp);
    ck_assert_uint_gt(kb, 0);
    return (size_t)kb * 1024;
}

/* In a child: caps the address space at what is mapped now, takes every
 * free block malloc still has, feeds `body`, and exits 0 when the pipeline
 * returned -ENOMEM without counting or dead-lettering the body. */
static void oom_child(struct fixture *fx, const char *body)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) < 0)
        _exit(10);
    rl.rlim_cur = vm_size();
    if (setrlimit(RLIMIT_AS, &rl) < 0)
        _exit(11);
    size_t taken = 0;
    while (malloc(1))
        if (++taken > (size_t)1 << 28)
            _exit(12); /* the limit did not hold */
    int rc = pipeline_feed(fx->p, body, strlen(body), "oom:1", NULL, &fx->out);
    if (rc != -ENOMEM)
        _exit(rc == 0 ? 2 : 3);
    if (fx->st.rejected != 0 || fx->st.written != 0 || fx->st.ignored != 0)
        _exit(4);
    _exit(0);
}

START_TEST(out_of_memory_is_fatal_not_a_rejection)
{
    if (!OOM_TESTABLE || under_valgrind()) {
        fprintf(stderr, "I! out_of_memory_is_fatal_not_a_rejection: skipped under ASan/valgrind\n");
        return;
    }
    struct fixture fx;
    fx_open(&fx, NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        oom_child(&fx, "{\"id\":\"m\",\"type\":\"message\",\"model\":\"c\",\"usage\":"
                       "{\"input_tokens\":1}}");
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st), "the child died of signal %d", WTERMSIG(st));
    /* 2: not an error; 3: another error; 4: counted; 1x: no limit */
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    fx_close(&fx);
    char *dl = tu_read_file(dlpath);
    ck_assert_msg(!dl || !*dl, "dead-lettered: %s", dl);
    free(dl);
}
END_TEST

Suite *check_pipeline_suite(void);
Suite *check_pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *src = tcase_create("sources");
    tcase_add_checked_fixture(src, setup, teardown);
    tcase_add_test(src, anthropic_adds_cache_to_input);
    tcase_add_test(src, gemini_adds_thoughts_and_tool_prompt);
    tcase_add_test(src, openai_chat_and_responses_inclusive);
    tcase_add_test(src, litellm_split_from_usage_object);
    tcase_add_test(src, litellm_failure_and_unreliable_cost);
    tcase_add_test(src, openrouter_generation_wrapped_and_bare);
    tcase_add_test(src, stream_chunks_snapshots_and_reused_ids);
    suite_add_tcase(s, src);
    TCase *p = tcase_create("pipeline");
    tcase_add_checked_fixture(p, setup, teardown);
    tcase_add_test(p, envelope_outranks_body_tenancy);
    tcase_add_test(p, transport_tenancy_and_default_org);
    tcase_add_loop_test(p, rejections_are_dead_lettered_with_reason, 0,
                        sizeof(rejects) / sizeof(rejects[0]));
    tcase_add_test(p, array_elements_stand_alone);
    tcase_add_test(p, events_beyond_the_retention_window);
    tcase_add_test(p, identity_modes);
    tcase_add_test(p, body_without_id_gets_stable_hash);
    tcase_add_test(p, long_ids_stay_distinct);
    tcase_add_test(p, bom_and_oversize);
    tcase_add_test(p, forced_source);
    tcase_add_test(p, out_of_memory_is_fatal_not_a_rejection);
    suite_add_tcase(s, p);
    return s;
}
